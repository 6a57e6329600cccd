#include "xgrad/optim/adamax.hpp"

#include <algorithm>
#include <cmath>

namespace xg::optim {

template <>
void AdamaxOptions::check() const {
  const detail::OptionCheck c{"Adamax"};
  c.at_least_zero("lr", lr);
  c.at_least_zero("eps", eps);
  c.betas(betas);
  c.at_least_zero("weight_decay", weight_decay);
}

Adamax::Adamax(std::vector<Tensor> params, AdamaxOptions options)
    : TypedOptimizer("Adamax", {{std::move(params)}}, options) {}
Adamax::Adamax(std::vector<ParamGroup> groups, AdamaxOptions defaults)
    : TypedOptimizer("Adamax", std::move(groups), defaults) {}

namespace {
// A plain loop: max has no vectorised form worth the kernel machinery here, and the scalar
// order of operations is PyTorch's.
template <class T>
void adamax_kernel(T* p, const T* grad, T* m, T* u, int64_t n, const AdamaxOptions& o, int64_t step) {
  const T b1 = static_cast<T>(o.betas[0]), b2 = static_cast<T>(o.betas[1]);
  const T eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay);
  const T clr = static_cast<T>(o.lr / (1.0 - std::pow(o.betas[0], static_cast<double>(step))));
  for (int64_t i = 0; i < n; ++i) {
    T g = o.maximize ? -grad[i] : grad[i];
    if (o.weight_decay != 0.0) g = g + wd * p[i];
    m[i] = m[i] * b1 + g * (T(1) - b1);
    u[i] = std::max(u[i] * b2, std::abs(g) + eps);
    p[i] = p[i] - clr * (m[i] / u[i]);
  }
}
}  // namespace

void Adamax::step() {
  for_each_with_grad([&](const Tensor& p, const Tensor& g, AdamaxState& s, const AdamaxOptions& o) {
    detail::ensure_buffer(s.exp_avg, p);
    detail::ensure_buffer(s.exp_inf, p);
    ++s.step;
    detail::update_in_place(
        name(), p, g,
        [&](auto* param, const auto* grad, auto* m, auto* u) {
          adamax_kernel(param, grad, m, u, p.numel(), o, s.step);
        },
        s.exp_avg, s.exp_inf);
  });
}

}  // namespace xg::optim
