#pragma once
/// @file rmsprop.hpp
/// @brief RMSprop as torch.optim.RMSprop. For each parameter θ with gradient ∇ (γ = lr,
/// α = alpha, ε = eps, λ = weight_decay, μ = momentum; v, b, g_ave start at 0):
///
///     g ← ∇  (−∇ when maximize)
///     if λ ≠ 0:  g ← g + λ θ
///     v ← α v + (1 − α) g²
///     ṽ ← v;  if centered: g_ave ← α g_ave + (1 − α) g;  ṽ ← ṽ − g_ave²
///     if μ > 0:  b ← μ b + g / (√ṽ + ε);  θ ← θ − γ b
///     else:      θ ← θ − γ g / (√ṽ + ε)
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;  ///< smoothing constant of the squared-gradient average
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;  ///< normalise by an estimate of the gradient's variance
  bool maximize = false;

  void check() const;  ///< ValueError "RMSprop: invalid <option> = <value> (<rule>)"
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("alpha", alpha);
    f("eps", eps);
    f("weight_decay", weight_decay);
    f("momentum", momentum);
    f("centered", centered);
    f("maximize", maximize);
  }
};

/// Per-parameter state: step count, v (square_avg), b (momentum_buffer, with momentum > 0),
/// g_ave (grad_avg, when centered).
struct RMSpropState {
  int64_t step = 0;
  Tensor square_avg, momentum_buffer, grad_avg;
  template <class F>
  void fields(F&& f) {
    f("step", step);
    f("square_avg", square_avg);
    f("momentum_buffer", momentum_buffer);
    f("grad_avg", grad_avg);
  }
};

class RMSprop : public TypedOptimizer<RMSpropOptions, RMSpropState> {
 public:
  explicit RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
  explicit RMSprop(std::vector<ParamGroup> groups, RMSpropOptions defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace xg::optim
