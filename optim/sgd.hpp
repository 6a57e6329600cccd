#pragma once
/// @file sgd.hpp
/// @brief Stochastic gradient descent with momentum, dampening, Nesterov momentum, L2 weight
/// decay and maximize, as torch.optim.SGD. For each parameter θ with gradient ∇ (γ = lr,
/// λ = weight_decay, μ = momentum, τ = dampening):
///
///     g ← ∇  (−∇ when maximize)
///     if λ ≠ 0:  g ← g + λ θ
///     if μ ≠ 0:  b ← g on the first step, else b ← μ b + (1 − τ) g
///                g ← g + μ b (nesterov)  or  g ← b
///     θ ← θ − γ g
///
/// maximize negates the gradient first, as PyTorch's implementation (since 2.1) and its Adam,
/// RMSprop and Adagrad documentation do; the SGD pseudo-code in PyTorch's documentation instead
/// flips the sign of the final update, which differs only when weight decay is on (it would
/// then grow the weights) and in the sign of the momentum buffer.
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

template <template <class> class Field>
struct SGDOptionsT {
  Field<double> lr = detail::def(1e-3);
  Field<double> momentum = detail::def(0.0);
  Field<double> dampening = detail::def(0.0);
  Field<double> weight_decay = detail::def(0.0);
  Field<bool> nesterov = detail::def(false);  ///< needs momentum > 0 and dampening = 0
  Field<bool> maximize = detail::def(false);

  /// A parameter group's SGD options: the fields it states.
  using Group = SGDOptionsT<Maybe>;
  void check() const;  ///< ValueError "SGD: invalid <option> = <value> (<rule>)"
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("momentum", momentum);
    f("dampening", dampening);
    f("weight_decay", weight_decay);
    f("nesterov", nesterov);
    f("maximize", maximize);
  }
};
/// SGD's options (every field set).
using SGDOptions = SGDOptionsT<Given>;

/// Per-parameter state: the momentum buffer b (undefined until the first step with momentum).
struct SGDState {
  Tensor momentum_buffer;
  template <class F>
  void fields(F&& f) {
    f("momentum_buffer", momentum_buffer);
  }
};

class SGD : public TypedOptimizer<SGDOptions, SGDState> {
 public:
  explicit SGD(std::vector<Tensor> params, SGDOptions options = {});
  /// Groups with their own options; `defaults` serve later add_param_group(params) calls.
  explicit SGD(std::vector<ParamGroup> groups, SGDOptions defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace xg::optim
