#include "xgrad/optim/adagrad.hpp"

#include <cmath>

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

template <>
void AdagradOptions::check() const {
  detail::check_option(lr >= 0.0, "Adagrad", "lr", lr, "must be >= 0");
  detail::check_option(lr_decay >= 0.0, "Adagrad", "lr_decay", lr_decay, "must be >= 0");
  detail::check_option(weight_decay >= 0.0, "Adagrad", "weight_decay", weight_decay, "must be >= 0");
  detail::check_option(initial_accumulator_value >= 0.0, "Adagrad", "initial_accumulator_value",
                       initial_accumulator_value, "must be >= 0");
  detail::check_option(eps >= 0.0, "Adagrad", "eps", eps, "must be >= 0");
}

Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions options)
    : TypedOptimizer("Adagrad", {{std::move(params)}}, options) {}
Adagrad::Adagrad(std::vector<ParamGroup> groups, AdagradOptions defaults)
    : TypedOptimizer("Adagrad", std::move(groups), defaults) {}

namespace {
template <class T>
void adagrad_kernel(T* p, const T* grad, T* sum, int64_t n, const AdagradOptions& o, int64_t step) {
  using B = xsimd::batch<T>;
  const B clr(static_cast<T>(o.lr / (1.0 + static_cast<double>(step - 1) * o.lr_decay)));
  const B eps(static_cast<T>(o.eps)), wd(static_cast<T>(o.weight_decay)), sign(o.maximize ? T(-1) : T(1));
  const bool decay = o.weight_decay != 0.0;
  detail::simd_for_each(
      n,
      [&](B& p, const B& grad, B& sum) {
        B g = sign * grad;
        if (decay) g = g + wd * p;
        sum = sum + g * g;
        p = p - clr * (g / (xsimd::sqrt(sum) + eps));
      },
      p, grad, sum);
}
}  // namespace

void Adagrad::step() {
  for_each_with_grad([&](const Tensor& p, const Tensor& g, AdagradState& s, const AdagradOptions& o) {
    detail::ensure_buffer(s.sum, p, o.initial_accumulator_value);
    ++s.step;
    Tensor param = p;
    detail::visit_float(p, name(), [&]<class T>() {
      adagrad_kernel<T>(param.data<T>(), g.data<T>(), s.sum.data<T>(), p.numel(), o, s.step);
    });
    detail::bump_version(p);
    detail::bump_version(s.sum);
  });
}

}  // namespace xg::optim
