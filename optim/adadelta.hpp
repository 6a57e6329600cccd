#pragma once
/// @file adadelta.hpp
/// @brief Adadelta as torch.optim.Adadelta (PyTorch 1.13). For each parameter θ with gradient ∇
/// (γ = lr, ρ = rho, ε = eps, λ = weight_decay; v, u start at 0):
///
///     g ← ∇  (−∇ when maximize)
///     if λ ≠ 0:  g ← g + λ θ
///     v ← ρ v + (1 − ρ) g²
///     Δ ← √(u + ε) / √(v + ε) · g
///     u ← ρ u + (1 − ρ) Δ²
///     θ ← θ − γ Δ
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

template <template <class> class Field>
struct AdadeltaOptionsT {
  Field<double> lr = detail::def(1.0);   ///< scales Δ before it is applied
  Field<double> rho = detail::def(0.9);  ///< in [0, 1]: the running averages' decay
  Field<double> eps = detail::def(1e-6);
  Field<double> weight_decay = detail::def(0.0);
  Field<bool> maximize = detail::def(false);

  /// A parameter group's Adadelta options: the fields it states.
  using Group = AdadeltaOptionsT<Maybe>;
  void check() const;  ///< ValueError "Adadelta: invalid <option> = <value> (<rule>)"
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("rho", rho);
    f("eps", eps);
    f("weight_decay", weight_decay);
    f("maximize", maximize);
  }
};
/// Adadelta's options (every field set).
using AdadeltaOptions = AdadeltaOptionsT<Given>;

/// Per-parameter state, PyTorch's names: step count (not used by the update), v (square_avg),
/// u (acc_delta).
struct AdadeltaState {
  int64_t step = 0;
  Tensor square_avg, acc_delta;
  template <class F>
  void fields(F&& f) {
    f("step", step);
    f("square_avg", square_avg);
    f("acc_delta", acc_delta);
  }
  /// What a loaded state must satisfy beyond being finite (see detail::StateCheck).
  void check(const detail::StateCheck& c) const {
    c.at_least_zero("square_avg", square_avg);
    c.at_least_zero("acc_delta", acc_delta);
  }
};

class Adadelta : public TypedOptimizer<AdadeltaOptions, AdadeltaState> {
 public:
  explicit Adadelta(std::vector<Tensor> params, AdadeltaOptions options = {});
  explicit Adadelta(std::vector<ParamGroup> groups, AdadeltaOptions defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace xg::optim
