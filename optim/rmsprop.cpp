#include "xgrad/optim/rmsprop.hpp"

#include <cmath>

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

template <>
void RMSpropOptions::check() const {
  const detail::OptionCheck c{"RMSprop"};
  c.at_least_zero("lr", lr);
  c.at_least_zero("alpha", alpha);
  c.at_least_zero("eps", eps);
  c.at_least_zero("weight_decay", weight_decay);
  c.at_least_zero("momentum", momentum);
}

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : TypedOptimizer("RMSprop", {{std::move(params)}}, options) {}
RMSprop::RMSprop(std::vector<ParamGroup> groups, RMSpropOptions defaults)
    : TypedOptimizer("RMSprop", std::move(groups), defaults) {}

namespace {
template <class T>
void rmsprop_kernel(T* p, const T* grad, T* v, T* buf, T* gave, int64_t n, const RMSpropOptions& o) {
  using B = xsimd::batch<T>;
  const B lr(static_cast<T>(o.lr)), a(static_cast<T>(o.alpha)), c(static_cast<T>(1.0 - o.alpha));
  const B eps(static_cast<T>(o.eps)), wd(static_cast<T>(o.weight_decay)), mu(static_cast<T>(o.momentum));
  const B sign(o.maximize ? T(-1) : T(1));
  const bool decay = o.weight_decay != 0.0, momentum = buf != nullptr, centered = gave != nullptr;
  detail::simd_for_each(
      n,
      [&](B& p, const B& grad, B& v, B& buf, B& gave) {
        B g = sign * grad;
        if (decay) g = g + wd * p;
        v = a * v + c * g * g;
        B var = v;
        if (centered) {
          gave = a * gave + c * g;
          var = var - gave * gave;
        }
        const B avg = xsimd::sqrt(var) + eps;
        if (momentum) {
          buf = mu * buf + g / avg;
          p = p - lr * buf;
        } else {
          p = p - lr * (g / avg);
        }
      },
      p, grad, v, buf, gave);
}
}  // namespace

void RMSprop::step() {
  for_each_with_grad([&](const Tensor& p, const Tensor& g, RMSpropState& s, const RMSpropOptions& o) {
    detail::ensure_buffer(s.square_avg, p);
    if (o.momentum > 0.0) detail::ensure_buffer(s.momentum_buffer, p);
    if (o.centered) detail::ensure_buffer(s.grad_avg, p);
    ++s.step;
    Tensor no_buf, no_gave;  // buffers of options now off (they may hold an earlier run's values)
    detail::update_in_place(
        name(), p, g,
        [&](auto* param, const auto* grad, auto* v, auto* buf, auto* gave) {
          rmsprop_kernel(param, grad, v, buf, gave, p.numel(), o);
        },
        s.square_avg, o.momentum > 0.0 ? s.momentum_buffer : no_buf, o.centered ? s.grad_avg : no_gave);
  });
}

}  // namespace xg::optim
