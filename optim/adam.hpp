#pragma once
/// @file adam.hpp
/// @brief Adam (torch.optim.Adam) and AdamW (torch.optim.AdamW, decoupled weight decay).
/// For each parameter θ with gradient ∇, at its step t = 1, 2, ... (γ = lr, β1, β2 = betas,
/// λ = weight_decay, ε = eps; m, v, v_max start at 0):
///
///     g ← ∇  (−∇ when maximize)
///     Adam:  if λ ≠ 0: g ← g + λ θ          AdamW:  θ ← θ − γ λ θ
///     m ← β1 m + (1 − β1) g
///     v ← β2 v + (1 − β2) g²
///     if amsgrad: v_max ← max(v_max, v);  v̂ ← v_max / (1 − β2^t)
///     else:                               v̂ ← v / (1 − β2^t)
///     θ ← θ − γ (m / (1 − β1^t)) / (√v̂ + ε)
///
/// The kernel evaluates the last line as PyTorch does, θ − (γ / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε),
/// the same value up to rounding. amsgrad keeps the maximum of the uncorrected v and corrects it
/// with the current step's factor, as PyTorch's implementation and its current documentation do
/// (older PyTorch documentation wrote the maximum of the corrected v̂).
#include <array>
#include <string_view>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

namespace detail {

/// The options of Adam (Decoupled = false) and of AdamW (true): the same fields and checks;
/// weight decay is an L2 penalty added to the gradient for Adam, 0 by default, and for AdamW
/// decoupled from it, θ ← θ (1 − γ λ) before the Adam update, 1e-2 by default.
template <bool Decoupled, template <class> class Field = Given>
struct AdamOptionsOf {
  Field<double> lr = detail::def(1e-3);
  Field<std::array<double, 2>> betas = detail::def(std::array<double, 2>{0.9, 0.999});  ///< each in [0, 1)
  Field<double> eps = detail::def(1e-8);
  Field<double> weight_decay = detail::def(Decoupled ? 1e-2 : 0.0);
  Field<bool> amsgrad = detail::def(false);
  Field<bool> maximize = detail::def(false);

  /// A parameter group's options: the fields it states.
  using Group = AdamOptionsOf<Decoupled, Maybe>;
  void check() const;  ///< ValueError "Adam: invalid <option> = <value> (<rule>)" ("AdamW: ..." for AdamW)
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("betas", betas);
    f("eps", eps);
    f("weight_decay", weight_decay);
    f("amsgrad", amsgrad);
    f("maximize", maximize);
  }
};

}  // namespace detail

using AdamOptions = detail::AdamOptionsOf<false>;
using AdamWOptions = detail::AdamOptionsOf<true>;

/// Per-parameter state: step count t and the moment buffers (max_exp_avg_sq only with amsgrad).
struct AdamState {
  int64_t step = 0;
  Tensor exp_avg, exp_avg_sq, max_exp_avg_sq;
  template <class F>
  void fields(F&& f) {
    f("step", step);
    f("exp_avg", exp_avg);
    f("exp_avg_sq", exp_avg_sq);
    f("max_exp_avg_sq", max_exp_avg_sq);
  }
  /// Made only with amsgrad.
  static constexpr std::array<std::string_view, 1> optional_fields = {"max_exp_avg_sq"};
  /// What a loaded state must satisfy beyond being finite (see detail::StateCheck).
  void check(const detail::StateCheck& c) const {
    c.at_least_zero("exp_avg_sq", exp_avg_sq);
    c.at_least_zero("max_exp_avg_sq", max_exp_avg_sq);
  }
};

namespace detail {

/// Adam and AdamW: one step, the weight decay coupled or decoupled.
template <bool Decoupled>
class AdamBase : public TypedOptimizer<AdamOptionsOf<Decoupled>, AdamState> {
 public:
  using Optimizer::step;
  void step() override;

 protected:
  using TypedOptimizer<AdamOptionsOf<Decoupled>, AdamState>::TypedOptimizer;
};

extern template struct AdamOptionsOf<false>;
extern template struct AdamOptionsOf<true>;
extern template class AdamBase<false>;
extern template class AdamBase<true>;

}  // namespace detail

class Adam : public detail::AdamBase<false> {
 public:
  explicit Adam(std::vector<Tensor> params, AdamOptions options = {});
  explicit Adam(std::vector<ParamGroup> groups, AdamOptions defaults = {});
};

class AdamW : public detail::AdamBase<true> {
 public:
  explicit AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  explicit AdamW(std::vector<ParamGroup> groups, AdamWOptions defaults = {});
};

}  // namespace xg::optim
