#pragma once
/// @file adagrad.hpp
/// @brief Adagrad as torch.optim.Adagrad. For each parameter θ with gradient ∇, at its step
/// t = 1, 2, ... (γ = lr, η = lr_decay, λ = weight_decay, τ = initial_accumulator_value, ε = eps;
/// the sum starts at τ):
///
///     g ← ∇  (−∇ when maximize)
///     γ̃ ← γ / (1 + (t − 1) η)
///     if λ ≠ 0:  g ← g + λ θ
///     sum ← sum + g²
///     θ ← θ − γ̃ g / (√sum + ε)
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

template <template <class> class Field>
struct AdagradOptionsT {
  Field<double> lr = detail::def(1e-2);
  Field<double> lr_decay = detail::def(0.0);
  Field<double> weight_decay = detail::def(0.0);
  Field<double> initial_accumulator_value = detail::def(0.0);
  Field<double> eps = detail::def(1e-10);
  Field<bool> maximize = detail::def(false);

  /// A parameter group's Adagrad options: the fields it states.
  using Group = AdagradOptionsT<Maybe>;
  void check() const;  ///< ValueError "Adagrad: invalid <option> = <value> (<rule>)"
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("lr_decay", lr_decay);
    f("weight_decay", weight_decay);
    f("initial_accumulator_value", initial_accumulator_value);
    f("eps", eps);
    f("maximize", maximize);
  }
};
/// Adagrad's options (every field set).
using AdagradOptions = AdagradOptionsT<Given>;

/// Per-parameter state: step count and the running sum of squared gradients.
struct AdagradState {
  int64_t step = 0;
  Tensor sum;
  template <class F>
  void fields(F&& f) {
    f("step", step);
    f("sum", sum);
  }
  /// What a loaded state must satisfy beyond being finite (see detail::StateCheck).
  void check(const detail::StateCheck& c) const { c.at_least_zero("sum", sum); }
};

class Adagrad : public TypedOptimizer<AdagradOptions, AdagradState> {
 public:
  explicit Adagrad(std::vector<Tensor> params, AdagradOptions options = {});
  explicit Adagrad(std::vector<ParamGroup> groups, AdagradOptions defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace xg::optim
