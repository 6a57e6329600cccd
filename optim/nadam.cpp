#include "xgrad/optim/nadam.hpp"

#include <cmath>

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

template <>
void NAdamOptions::check() const {
  const detail::OptionCheck c{"NAdam"};
  c.at_least_zero("lr", lr);
  c.at_least_zero("eps", eps);
  c.betas(betas);
  c.at_least_zero("weight_decay", weight_decay);
  c.at_least_zero("momentum_decay", momentum_decay);
}

NAdam::NAdam(std::vector<Tensor> params, NAdamOptions options)
    : TypedOptimizer("NAdam", {{std::move(params)}}, options) {}
NAdam::NAdam(std::vector<ParamGroup> groups, NAdamOptions defaults)
    : TypedOptimizer("NAdam", std::move(groups), defaults) {}

namespace {
/// The step's scalars, computed in double as PyTorch computes them.
struct NAdamStep {
  double bias2, grad_coef, avg_coef;
};

template <class T>
void nadam_kernel(T* p, const T* grad, T* m, T* v, int64_t n, const NAdamOptions& o, const NAdamStep& s) {
  using B = xsimd::batch<T>;
  const B b1(static_cast<T>(o.betas[0])), b2(static_cast<T>(o.betas[1]));
  const B c1(static_cast<T>(1.0 - o.betas[0])), c2(static_cast<T>(1.0 - o.betas[1]));
  const B eps(static_cast<T>(o.eps)), wd(static_cast<T>(o.weight_decay)), bias2(static_cast<T>(s.bias2));
  const B grad_coef(static_cast<T>(s.grad_coef)), avg_coef(static_cast<T>(s.avg_coef));
  const bool decay = o.weight_decay != 0.0;
  detail::simd_for_each(
      n,
      [&](B& p, const B& grad, B& m, B& v) {
        B g = grad;
        if (decay) g = g + wd * p;
        m = b1 * m + c1 * g;
        v = b2 * v + c2 * g * g;
        const B denom = xsimd::sqrt(v / bias2) + eps;
        p = p + grad_coef * (g / denom);
        p = p + avg_coef * (m / denom);
      },
      p, grad, m, v);
}
}  // namespace

void NAdam::step() {
  for_each_with_grad([&](const Tensor& p, const Tensor& g, NAdamState& s, const NAdamOptions& o) {
    detail::ensure_buffer(s.exp_avg, p);
    detail::ensure_buffer(s.exp_avg_sq, p);
    ++s.step;
    const double t = static_cast<double>(s.step), beta1 = o.betas[0];
    const double mu = beta1 * (1.0 - 0.5 * std::pow(0.96, t * o.momentum_decay));
    const double mu_next = beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1.0) * o.momentum_decay));
    s.mu_product *= mu;
    const double mu_product_next = s.mu_product * mu * mu_next;  // μ twice: see the header
    const NAdamStep k{1.0 - std::pow(o.betas[1], t), -o.lr * (1.0 - mu) / (1.0 - s.mu_product),
                      -o.lr * mu_next / (1.0 - mu_product_next)};
    detail::update_in_place(
        name(), p, g,
        [&](auto* param, const auto* grad, auto* m, auto* v) {
          nadam_kernel(param, grad, m, v, p.numel(), o, k);
        },
        s.exp_avg, s.exp_avg_sq);
  });
}

}  // namespace xg::optim
