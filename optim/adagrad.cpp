#include "xgrad/optim/adagrad.hpp"

#include <cmath>

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

template <>
void AdagradOptions::check() const {
  const detail::OptionCheck c{"Adagrad"};
  c.at_least_zero("lr", lr);
  c.at_least_zero("lr_decay", lr_decay);
  c.at_least_zero("weight_decay", weight_decay);
  c.at_least_zero("initial_accumulator_value", initial_accumulator_value);
  c.at_least_zero("eps", eps);
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
    detail::update_in_place(
        name(), p, g,
        [&](auto* param, const auto* grad, auto* sum) {
          adagrad_kernel(param, grad, sum, p.numel(), o, s.step);
        },
        s.sum);
  });
}

}  // namespace xg::optim
