#include "xgrad/optim/adamax.hpp"

#include <algorithm>
#include <cmath>

namespace xg::optim {

template <>
void AdamaxOptions::check() const {
  detail::check_option(lr >= 0.0, "Adamax", "lr", lr, "must be >= 0");
  detail::check_option(eps >= 0.0, "Adamax", "eps", eps, "must be >= 0");
  detail::check_option(betas[0] >= 0.0 && betas[0] < 1.0, "Adamax", "betas[0]", betas[0],
                       "must be in [0, 1)");
  detail::check_option(betas[1] >= 0.0 && betas[1] < 1.0, "Adamax", "betas[1]", betas[1],
                       "must be in [0, 1)");
  detail::check_option(weight_decay >= 0.0, "Adamax", "weight_decay", weight_decay, "must be >= 0");
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
    Tensor param = p;
    detail::visit_float(p, name(), [&]<class T>() {
      adamax_kernel<T>(param.data<T>(), g.data<T>(), s.exp_avg.data<T>(), s.exp_inf.data<T>(), p.numel(), o,
                       s.step);
    });
    detail::bump_version(p);
    detail::bump_version(s.exp_avg);
    detail::bump_version(s.exp_inf);
  });
}

}  // namespace xg::optim
