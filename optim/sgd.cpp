#include "xgrad/optim/sgd.hpp"

#include <cmath>

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

template <>
void SGDOptions::check() const {
  detail::check_option(lr >= 0.0, "SGD", "lr", lr, "must be >= 0");
  detail::check_option(momentum >= 0.0, "SGD", "momentum", momentum, "must be >= 0");
  detail::check_option(!std::isnan(dampening), "SGD", "dampening", dampening, "must be a number");
  detail::check_option(weight_decay >= 0.0, "SGD", "weight_decay", weight_decay, "must be >= 0");
  if (nesterov && !(momentum > 0.0 && dampening == 0.0))
    throw ValueError("SGD: invalid nesterov = true with momentum = " + option_to_string(momentum) +
                     " and dampening = " + option_to_string(dampening) +
                     " (Nesterov momentum needs momentum > 0 and dampening = 0)");
}

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : TypedOptimizer("SGD", {{std::move(params)}}, options) {}
SGD::SGD(std::vector<ParamGroup> groups, SGDOptions defaults)
    : TypedOptimizer("SGD", std::move(groups), defaults) {}

namespace {
template <class T>
void sgd_kernel(T* p, const T* grad, T* buf, int64_t n, const SGDOptions& o, bool first) {
  using B = xsimd::batch<T>;
  const B lr(static_cast<T>(o.lr)), wd(static_cast<T>(o.weight_decay)), mu(static_cast<T>(o.momentum));
  const B keep(static_cast<T>(1.0 - o.dampening)), sign(o.maximize ? T(-1) : T(1));
  const bool decay = o.weight_decay != 0.0, momentum = buf != nullptr;
  detail::simd_for_each(
      n,
      [&](B& p, const B& grad, B& buf) {
        B g = sign * grad;
        if (decay) g = g + wd * p;
        if (momentum) {
          buf = first ? g : mu * buf + keep * g;
          g = o.nesterov ? g + mu * buf : buf;
        }
        p = p - lr * g;
      },
      p, grad, buf);
}
}  // namespace

void SGD::step() {
  for_each_with_grad([&](const Tensor& p, const Tensor& g, SGDState& s, const SGDOptions& o) {
    bool first = false;
    if (o.momentum != 0.0) {
      first = !s.momentum_buffer.defined();
      detail::ensure_buffer(s.momentum_buffer, p);
    }
    Tensor param = p;
    detail::visit_float(p, name(), [&]<class T>() {
      T* buf = o.momentum != 0.0 ? s.momentum_buffer.data<T>() : nullptr;
      sgd_kernel<T>(param.data<T>(), g.data<T>(), buf, p.numel(), o, first);
    });
    detail::bump_version(p);
    if (o.momentum != 0.0) detail::bump_version(s.momentum_buffer);
  });
}

}  // namespace xg::optim
