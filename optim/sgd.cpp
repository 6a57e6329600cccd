#include "xgrad/optim/sgd.hpp"

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

template <>
void SGDOptions::check() const {
  const detail::OptionCheck c{"SGD"};
  c.at_least_zero("lr", lr);
  c.at_least_zero("momentum", momentum);
  c.number("dampening", dampening);
  c.at_least_zero("weight_decay", weight_decay);
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
    Tensor unused;  // the momentum buffer without momentum (it may hold an earlier run's values)
    detail::update_in_place(
        name(), p, g,
        [&](auto* param, const auto* grad, auto* buf) { sgd_kernel(param, grad, buf, p.numel(), o, first); },
        o.momentum != 0.0 ? s.momentum_buffer : unused);
  });
}

}  // namespace xg::optim
