#pragma once
/// @file radam.hpp
/// @brief RAdam (rectified Adam) as torch.optim.RAdam (PyTorch 1.13). For each parameter θ with
/// gradient ∇ at its step t = 1, 2, ... (γ = lr, β₁, β₂ = betas, ε = eps, λ = weight_decay;
/// m, v start at 0):
///
///     g ← ∇;  if λ ≠ 0:  g ← g + λ θ
///     m ← β₁ m + (1 − β₁) g
///     v ← β₂ v + (1 − β₂) g²
///     m̂ ← m / (1 − β₁ᵗ)
///     ρ∞ ← 2 / (1 − β₂) − 1,   ρ ← ρ∞ − 2 t β₂ᵗ / (1 − β₂ᵗ)
///     if ρ > 5:  r ← √((ρ − 4)(ρ − 2) ρ∞ / ((ρ∞ − 4)(ρ∞ − 2) ρ))
///                θ ← θ − γ m̂ r √(1 − β₂ᵗ) / (√v + ε)
///     else:      θ ← θ − γ m̂
///
/// The adaptive factor is √(1 − β₂ᵗ) / (√v + ε) as PyTorch's implementation computes it (its
/// documentation writes √((1 − β₂ᵗ) / (v + ε))). With the default β₂ = 0.999 the first five
/// steps are plain momentum steps (ρ ≤ 5).
#include <array>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

template <template <class> class Field>
struct RAdamOptionsT {
  Field<double> lr = detail::def(1e-3);
  Field<std::array<double, 2>> betas = detail::def(std::array<double, 2>{0.9, 0.999});  ///< each in [0, 1)
  Field<double> eps = detail::def(1e-8);
  Field<double> weight_decay = detail::def(0.0);

  /// A parameter group's RAdam options: the fields it states.
  using Group = RAdamOptionsT<Maybe>;
  void check() const;  ///< ValueError "RAdam: invalid <option> = <value> (<rule>)"
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("betas", betas);
    f("eps", eps);
    f("weight_decay", weight_decay);
  }
};
/// RAdam's options (every field set).
using RAdamOptions = RAdamOptionsT<Given>;

/// Per-parameter state, PyTorch's names: step count t, m (exp_avg), v (exp_avg_sq).
struct RAdamState {
  int64_t step = 0;
  Tensor exp_avg, exp_avg_sq;
  template <class F>
  void fields(F&& f) {
    f("step", step);
    f("exp_avg", exp_avg);
    f("exp_avg_sq", exp_avg_sq);
  }
  /// What a loaded state must satisfy beyond being finite (see detail::StateCheck).
  void check(const detail::StateCheck& c) const { c.at_least_zero("exp_avg_sq", exp_avg_sq); }
};

class RAdam : public TypedOptimizer<RAdamOptions, RAdamState> {
 public:
  explicit RAdam(std::vector<Tensor> params, RAdamOptions options = {});
  explicit RAdam(std::vector<ParamGroup> groups, RAdamOptions defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace xg::optim
