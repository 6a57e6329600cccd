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
#include <array>
#include <string_view>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

template <template <class> class Field>
struct RMSpropOptionsT {
  Field<double> lr = detail::def(1e-2);
  Field<double> alpha = detail::def(0.99);  ///< smoothing constant of the squared-gradient average
  Field<double> eps = detail::def(1e-8);
  Field<double> weight_decay = detail::def(0.0);
  Field<double> momentum = detail::def(0.0);
  Field<bool> centered = detail::def(false);  ///< normalise by an estimate of the gradient's variance
  Field<bool> maximize = detail::def(false);

  /// A parameter group's RMSprop options: the fields it states.
  using Group = RMSpropOptionsT<Maybe>;
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
/// RMSprop's options (every field set).
using RMSpropOptions = RMSpropOptionsT<Given>;

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
  /// Made only with momentum > 0 and with centered.
  static constexpr std::array<std::string_view, 2> optional_fields = {"momentum_buffer", "grad_avg"};
  /// What a loaded state must satisfy beyond being finite (see detail::StateCheck).
  void check(const detail::StateCheck& c) const {
    c.at_least_zero("square_avg", square_avg);
    c.at_least_square_of("square_avg", square_avg, "grad_avg", grad_avg);
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
