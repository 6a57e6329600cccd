#include "xgrad/optim/adadelta.hpp"

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

template <>
void AdadeltaOptions::check() const {
  const detail::OptionCheck c{"Adadelta"};
  c.at_least_zero("lr", lr);
  c.unit_interval("rho", rho, /*closed=*/true);
  c.at_least_zero("eps", eps);
  c.at_least_zero("weight_decay", weight_decay);
}

Adadelta::Adadelta(std::vector<Tensor> params, AdadeltaOptions options)
    : TypedOptimizer("Adadelta", {{std::move(params)}}, options) {}
Adadelta::Adadelta(std::vector<ParamGroup> groups, AdadeltaOptions defaults)
    : TypedOptimizer("Adadelta", std::move(groups), defaults) {}

namespace {
template <class T>
void adadelta_kernel(T* p, const T* grad, T* v, T* u, int64_t n, const AdadeltaOptions& o) {
  using B = xsimd::batch<T>;
  const B lr(static_cast<T>(o.lr)), rho(static_cast<T>(o.rho)), c(static_cast<T>(1.0 - o.rho));
  const B eps(static_cast<T>(o.eps)), wd(static_cast<T>(o.weight_decay)), sign(o.maximize ? T(-1) : T(1));
  const bool decay = o.weight_decay != 0.0;
  detail::simd_for_each(
      n,
      [&](B& p, const B& grad, B& v, B& u) {
        B g = sign * grad;
        if (decay) g = g + wd * p;
        v = rho * v + c * g * g;
        const B delta = xsimd::sqrt(u + eps) / xsimd::sqrt(v + eps) * g;
        u = rho * u + c * delta * delta;
        p = p - lr * delta;
      },
      p, grad, v, u);
}
}  // namespace

void Adadelta::step() {
  for_each_with_grad([&](const Tensor& p, const Tensor& g, AdadeltaState& s, const AdadeltaOptions& o) {
    detail::ensure_buffer(s.square_avg, p);
    detail::ensure_buffer(s.acc_delta, p);
    ++s.step;
    detail::update_in_place(
        name(), p, g,
        [&](auto* param, const auto* grad, auto* v, auto* u) {
          adadelta_kernel(param, grad, v, u, p.numel(), o);
        },
        s.square_avg, s.acc_delta);
  });
}

}  // namespace xg::optim
