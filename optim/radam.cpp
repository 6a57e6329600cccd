#include "xgrad/optim/radam.hpp"

#include <cmath>

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

template <>
void RAdamOptions::check() const {
  const detail::OptionCheck c{"RAdam"};
  c.at_least_zero("lr", lr);
  c.at_least_zero("eps", eps);
  c.betas(betas);
  c.at_least_zero("weight_decay", weight_decay);
}

RAdam::RAdam(std::vector<Tensor> params, RAdamOptions options)
    : TypedOptimizer("RAdam", {{std::move(params)}}, options) {}
RAdam::RAdam(std::vector<ParamGroup> groups, RAdamOptions defaults)
    : TypedOptimizer("RAdam", std::move(groups), defaults) {}

namespace {
/// The step's scalars, computed in double as PyTorch computes them; rect = 0 for an unrectified
/// (plain momentum) step.
struct RAdamStep {
  double bias1, bias2_sqrt, rect;
};

template <class T>
void radam_kernel(T* p, const T* grad, T* m, T* v, int64_t n, const RAdamOptions& o, const RAdamStep& s) {
  using B = xsimd::batch<T>;
  const B b1(static_cast<T>(o.betas[0])), b2(static_cast<T>(o.betas[1]));
  const B c1(static_cast<T>(1.0 - o.betas[0])), c2(static_cast<T>(1.0 - o.betas[1]));
  const B eps(static_cast<T>(o.eps)), wd(static_cast<T>(o.weight_decay)), lr(static_cast<T>(o.lr));
  const B bias1(static_cast<T>(s.bias1)), bias2_sqrt(static_cast<T>(s.bias2_sqrt)),
      rect(static_cast<T>(s.rect));
  const bool decay = o.weight_decay != 0.0, rectified = s.rect != 0.0;
  detail::simd_for_each(
      n,
      [&](B& p, const B& grad, B& m, B& v) {
        B g = grad;
        if (decay) g = g + wd * p;
        m = b1 * m + c1 * g;
        v = b2 * v + c2 * g * g;
        const B m_hat = m / bias1;
        if (rectified)
          p = p - m_hat * lr * (bias2_sqrt / (xsimd::sqrt(v) + eps)) * rect;
        else
          p = p - m_hat * lr;
      },
      p, grad, m, v);
}
}  // namespace

void RAdam::step() {
  for_each_with_grad([&](const Tensor& p, const Tensor& g, RAdamState& s, const RAdamOptions& o) {
    detail::ensure_buffer(s.exp_avg, p);
    detail::ensure_buffer(s.exp_avg_sq, p);
    ++s.step;
    const double t = static_cast<double>(s.step), beta2 = o.betas[1];
    const double bias2 = 1.0 - std::pow(beta2, t);
    const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    const double rho = rho_inf - 2.0 * t * std::pow(beta2, t) / bias2;
    // rho > 5 implies rho_inf > 5: no division by zero below
    const double rect =
        rho > 5.0 ? std::sqrt((rho - 4.0) * (rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho))
                  : 0.0;
    const RAdamStep k{1.0 - std::pow(o.betas[0], t), std::sqrt(bias2), rect};
    detail::update_in_place(
        name(), p, g,
        [&](auto* param, const auto* grad, auto* m, auto* v) {
          radam_kernel(param, grad, m, v, p.numel(), o, k);
        },
        s.exp_avg, s.exp_avg_sq);
  });
}

}  // namespace xg::optim
