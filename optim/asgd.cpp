#include "xgrad/optim/asgd.hpp"

#include <algorithm>
#include <cmath>

#include "xgrad/optim/kernels.hpp"

namespace xg::optim {

template <>
void ASGDOptions::check() const {
  // PyTorch checks lr and weight_decay only; NaN in the others would silently poison θ or θ̄.
  const detail::OptionCheck c{"ASGD"};
  c.at_least_zero("lr", lr);
  c.number("lambd", lambd);
  c.number("alpha", alpha);
  c.number("t0", t0);
  c.at_least_zero("weight_decay", weight_decay);
}

ASGD::ASGD(std::vector<Tensor> params, ASGDOptions options)
    : TypedOptimizer("ASGD", {{std::move(params)}}, options) {}
ASGD::ASGD(std::vector<ParamGroup> groups, ASGDOptions defaults)
    : TypedOptimizer("ASGD", std::move(groups), defaults) {}

namespace {
template <class T>
void asgd_kernel(T* p, const T* grad, T* ax, int64_t n, const ASGDOptions& o, double eta, double mu) {
  using B = xsimd::batch<T>;
  const B shrink(static_cast<T>(1.0 - o.lambd * eta)), step(static_cast<T>(eta)), m(static_cast<T>(mu));
  const B wd(static_cast<T>(o.weight_decay)), sign(o.maximize ? T(-1) : T(1));
  const bool decay = o.weight_decay != 0.0, average = mu != 1.0;
  detail::simd_for_each(
      n,
      [&](B& p, const B& grad, B& ax) {
        B g = sign * grad;
        if (decay) g = g + wd * p;
        p = p * shrink;
        p = p - step * g;
        ax = average ? ax + (p - ax) * m : p;
      },
      p, grad, ax);
}
}  // namespace

void ASGD::step() {
  for_each_with_grad([&](const Tensor& p, const Tensor& g, ASGDState& s, const ASGDOptions& o) {
    if (s.step == 0) s.eta = o.lr, s.mu = 1.0;
    detail::ensure_buffer(s.ax, p);
    ++s.step;
    detail::update_in_place(
        name(), p, g,
        [&](auto* param, const auto* grad, auto* ax) {
          asgd_kernel(param, grad, ax, p.numel(), o, s.eta, s.mu);
        },
        s.ax);
    const double t = static_cast<double>(s.step);
    s.eta = o.lr / std::pow(1.0 + o.lambd * o.lr * t, o.alpha);
    s.mu = 1.0 / std::max(1.0, t - o.t0);
  });
}

}  // namespace xg::optim
