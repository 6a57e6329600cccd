#pragma once
/// @file adamax.hpp
/// @brief Adamax as torch.optim.Adamax (PyTorch 1.13). For each parameter θ with gradient ∇
/// (γ = lr, β₁, β₂ = betas, ε = eps, λ = weight_decay; m, u start at 0; t counts steps from 1):
///
///     g ← ∇  (−∇ when maximize)
///     if λ ≠ 0:  g ← g + λ θ
///     m ← β₁ m + (1 − β₁) g
///     u ← max(β₂ u, |g| + ε)
///     θ ← θ − γ / (1 − β₁ᵗ) · m / u
#include <array>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

template <template <class> class Field>
struct AdamaxOptionsT {
  Field<double> lr = detail::def(2e-3);
  Field<std::array<double, 2>> betas = detail::def(std::array<double, 2>{0.9, 0.999});
  Field<double> eps = detail::def(1e-8);
  Field<double> weight_decay = detail::def(0.0);
  Field<bool> maximize = detail::def(false);

  /// A parameter group's Adamax options: the fields it states.
  using Group = AdamaxOptionsT<Maybe>;
  void check() const;  ///< ValueError "Adamax: invalid <option> = <value> (<rule>)"
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("betas", betas);
    f("eps", eps);
    f("weight_decay", weight_decay);
    f("maximize", maximize);
  }
};
/// Adamax's options (every field set).
using AdamaxOptions = AdamaxOptionsT<Given>;

/// Per-parameter state: step count, m (exp_avg), u (exp_inf), PyTorch's names.
struct AdamaxState {
  int64_t step = 0;
  Tensor exp_avg, exp_inf;
  template <class F>
  void fields(F&& f) {
    f("step", step);
    f("exp_avg", exp_avg);
    f("exp_inf", exp_inf);
  }
  /// What a loaded state must satisfy beyond being finite (see detail::StateCheck).
  void check(const detail::StateCheck& c) const { c.at_least_zero("exp_inf", exp_inf); }
};

class Adamax : public TypedOptimizer<AdamaxOptions, AdamaxState> {
 public:
  explicit Adamax(std::vector<Tensor> params, AdamaxOptions options = {});
  explicit Adamax(std::vector<ParamGroup> groups, AdamaxOptions defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace xg::optim
