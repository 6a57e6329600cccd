#pragma once
/// @file nadam.hpp
/// @brief NAdam (Adam with Nesterov momentum) as torch.optim.NAdam (PyTorch 1.13). For each
/// parameter θ with gradient ∇ at its step t = 1, 2, ... (γ = lr, β₁, β₂ = betas, ε = eps,
/// λ = weight_decay, ψ = momentum_decay; m, v start at 0, the product Π at 1):
///
///     g ← ∇;  if λ ≠ 0:  g ← g + λ θ
///     μ ← β₁ (1 − ½ 0.96^(t ψ)),   μ' ← β₁ (1 − ½ 0.96^((t + 1) ψ))
///     Π ← Π μ,                     Π' ← Π μ μ'
///     m ← β₁ m + (1 − β₁) g
///     v ← β₂ v + (1 − β₂) g²
///     d ← √(v / (1 − β₂ᵗ)) + ε
///     θ ← θ − γ (1 − μ) / (1 − Π) · g / d − γ μ' / (1 − Π') · m / d
///
/// Π' is what PyTorch 1.13's default (single-tensor, foreach=False) implementation computes: μ
/// enters it twice. Its documentation, its foreach=True path and PyTorch >= 2.0 use
/// Π' = Π μ' (the product of μ up to t + 1); the two differ from the second step on.
#include <array>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

template <template <class> class Field>
struct NAdamOptionsT {
  Field<double> lr = detail::def(2e-3);
  Field<std::array<double, 2>> betas = detail::def(std::array<double, 2>{0.9, 0.999});  ///< each in [0, 1)
  Field<double> eps = detail::def(1e-8);
  Field<double> weight_decay = detail::def(0.0);
  Field<double> momentum_decay =
      detail::def(4e-3);  ///< ψ: μ grows from β₁ / 2 towards β₁ as 0.96^(t ψ) decays

  /// A parameter group's NAdam options: the fields it states.
  using Group = NAdamOptionsT<Maybe>;
  void check() const;  ///< ValueError "NAdam: invalid <option> = <value> (<rule>)"
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("betas", betas);
    f("eps", eps);
    f("weight_decay", weight_decay);
    f("momentum_decay", momentum_decay);
  }
};
/// NAdam's options (every field set).
using NAdamOptions = NAdamOptionsT<Given>;

/// Per-parameter state, PyTorch's names: step count t, the product Π of the μ (mu_product, kept
/// in double whatever the parameter's dtype), m (exp_avg) and v (exp_avg_sq).
struct NAdamState {
  int64_t step = 0;
  double mu_product = 1.0;
  Tensor exp_avg, exp_avg_sq;
  template <class F>
  void fields(F&& f) {
    f("step", step);
    f("mu_product", mu_product);
    f("exp_avg", exp_avg);
    f("exp_avg_sq", exp_avg_sq);
  }
  /// What a loaded state must satisfy beyond being finite (see detail::StateCheck).
  void check(const detail::StateCheck& c) const {
    c.in_range("mu_product", mu_product, 0.0, 1.0);  // a product of factors in (0, 1)
    c.at_least_zero("exp_avg_sq", exp_avg_sq);
  }
};

class NAdam : public TypedOptimizer<NAdamOptions, NAdamState> {
 public:
  explicit NAdam(std::vector<Tensor> params, NAdamOptions options = {});
  explicit NAdam(std::vector<ParamGroup> groups, NAdamOptions defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace xg::optim
