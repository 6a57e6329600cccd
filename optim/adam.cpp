#include "xgrad/optim/adam.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

namespace {

struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;
};

template <class T>
void adam_kernel(T* p, const T* grad, T* m, T* v, T* vmax, int64_t n, const AdamStep& o, int64_t step) {
  using B = xsimd::batch<T>;
  const double t = static_cast<double>(step);
  const double bias1 = 1.0 - std::pow(o.beta1, t), bias2 = 1.0 - std::pow(o.beta2, t);
  const B step_size(static_cast<T>(o.lr / bias1)), bias2_sqrt(static_cast<T>(std::sqrt(bias2)));
  const B b1(static_cast<T>(o.beta1)), b2(static_cast<T>(o.beta2));
  const B c1(static_cast<T>(1.0 - o.beta1)), c2(static_cast<T>(1.0 - o.beta2));
  const B eps(static_cast<T>(o.eps)), wd(static_cast<T>(o.weight_decay)), sign(o.maximize ? T(-1) : T(1));
  const B shrink(static_cast<T>(1.0 - o.lr * o.weight_decay));
  const bool l2 = !o.decoupled && o.weight_decay != 0.0, decay = o.decoupled && o.weight_decay != 0.0;
  const bool ams = vmax != nullptr;
  detail::simd_for_each(
      n,
      [&](B& p, const B& grad, B& m, B& v, B& vmax) {
        B g = sign * grad;
        if (l2) g = g + wd * p;
        if (decay) p = p * shrink;
        m = b1 * m + c1 * g;
        v = b2 * v + c2 * g * g;
        B second = v;
        if (ams) second = vmax = xsimd::max(vmax, v);
        const B denom = xsimd::sqrt(second) / bias2_sqrt + eps;
        p = p - step_size * (m / denom);
      },
      p, grad, m, v, vmax);
}

void adam_update(const std::string& who, const Tensor& p, const Tensor& g, AdamState& s, const AdamStep& o) {
  detail::ensure_buffer(s.exp_avg, p);
  detail::ensure_buffer(s.exp_avg_sq, p);
  if (o.amsgrad) detail::ensure_buffer(s.max_exp_avg_sq, p);
  ++s.step;
  Tensor unused;  // max_exp_avg_sq without amsgrad (it may hold an earlier amsgrad run's values)
  detail::update_in_place(
      who, p, g,
      [&](auto* param, const auto* grad, auto* m, auto* v, auto* vmax) {
        adam_kernel(param, grad, m, v, vmax, p.numel(), o, s.step);
      },
      s.exp_avg, s.exp_avg_sq, o.amsgrad ? s.max_exp_avg_sq : unused);
}

}  // namespace

template <bool Decoupled, template <class> class Field>
void detail::AdamOptionsOf<Decoupled, Field>::check() const {
  const detail::OptionCheck c{Decoupled ? "AdamW" : "Adam"};
  c.at_least_zero("lr", lr);
  c.at_least_zero("eps", eps);
  c.betas(betas);
  c.at_least_zero("weight_decay", weight_decay);
}

template <bool Decoupled>
void detail::AdamBase<Decoupled>::step() {
  this->for_each_with_grad(
      [&](const Tensor& p, const Tensor& g, AdamState& s, const AdamOptionsOf<Decoupled>& o) {
        adam_update(this->name(), p, g, s,
                    {o.lr, o.betas[0], o.betas[1], o.eps, o.weight_decay, o.amsgrad, o.maximize, Decoupled});
      });
}

template struct detail::AdamOptionsOf<false>;
template struct detail::AdamOptionsOf<true>;
template class detail::AdamBase<false>;
template class detail::AdamBase<true>;

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : AdamBase("Adam", {{std::move(params)}}, options) {}
Adam::Adam(std::vector<ParamGroup> groups, AdamOptions defaults)
    : AdamBase("Adam", std::move(groups), defaults) {}
AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : AdamBase("AdamW", {{std::move(params)}}, options) {}
AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions defaults)
    : AdamBase("AdamW", std::move(groups), defaults) {}

}  // namespace xg::optim
