#include "xgrad/optim/adam.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

namespace {

template <class O>
void check_adam(const O& o, const char* who) {
  detail::check_option(o.lr >= 0.0, who, "lr", o.lr, "must be >= 0");
  detail::check_option(o.eps >= 0.0, who, "eps", o.eps, "must be >= 0");
  detail::check_option(o.betas[0] >= 0.0 && o.betas[0] < 1.0, who, "betas[0]", o.betas[0], "must be in [0, 1)");
  detail::check_option(o.betas[1] >= 0.0 && o.betas[1] < 1.0, who, "betas[1]", o.betas[1], "must be in [0, 1)");
  detail::check_option(o.weight_decay >= 0.0, who, "weight_decay", o.weight_decay, "must be >= 0");
}

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

template <class Opt, class StateOf>
void adam_step(Opt& opt, const AdamStep& o, const std::vector<Tensor>& params, StateOf state_of) {
  for (const Tensor& p : params) {
    const Tensor g = detail::checked_grad(opt.name(), p);
    if (!g.defined()) continue;
    AdamState& s = state_of(p);
    detail::ensure_buffer(s.exp_avg, p);
    detail::ensure_buffer(s.exp_avg_sq, p);
    if (o.amsgrad) detail::ensure_buffer(s.max_exp_avg_sq, p);
    ++s.step;
    Tensor param = p;
    detail::visit_float(p, opt.name(), [&]<class T>() {
      adam_kernel<T>(param.data<T>(), g.data<T>(), s.exp_avg.template data<T>(), s.exp_avg_sq.template data<T>(),
                     o.amsgrad ? s.max_exp_avg_sq.template data<T>() : nullptr, p.numel(), o, s.step);
    });
    detail::bump_version(p);
    detail::bump_version(s.exp_avg);
    detail::bump_version(s.exp_avg_sq);
    if (o.amsgrad) detail::bump_version(s.max_exp_avg_sq);
  }
}

template <class O>
AdamStep step_options(const O& o, bool decoupled) {
  return {o.lr, o.betas[0], o.betas[1], o.eps, o.weight_decay, o.amsgrad, o.maximize, decoupled};
}

}  // namespace

void AdamOptions::check() const { check_adam(*this, "Adam"); }
void AdamWOptions::check() const { check_adam(*this, "AdamW"); }

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : TypedOptimizer("Adam", {{std::move(params), options}}, options) {}
Adam::Adam(std::vector<ParamGroup> groups, AdamOptions defaults) : TypedOptimizer("Adam", std::move(groups), defaults) {}
AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : TypedOptimizer("AdamW", {{std::move(params), options}}, options) {}
AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions defaults)
    : TypedOptimizer("AdamW", std::move(groups), defaults) {}

void Adam::step() {
  NoGradGuard no_grad;
  for (ParamGroup& group : groups_)
    adam_step(*this, step_options(group.options, false), group.params,
              [this](const Tensor& p) -> AdamState& { return state_of(p); });
}

void AdamW::step() {
  NoGradGuard no_grad;
  for (ParamGroup& group : groups_)
    adam_step(*this, step_options(group.options, true), group.params,
              [this](const Tensor& p) -> AdamState& { return state_of(p); });
}

}  // namespace xg::optim
