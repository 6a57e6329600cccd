#pragma once
/// @file asgd.hpp
/// @brief Averaged stochastic gradient descent as torch.optim.ASGD (PyTorch 1.13). For each
/// parameter θ with gradient ∇ at its step t = 1, 2, ... (γ = lr, λ = lambd, α = alpha,
/// t₀ = t0, w = weight_decay; η starts at γ, μ at 1, the average θ̄ at 0):
///
///     g ← ∇  (−∇ when maximize)
///     if w ≠ 0:  g ← g + w θ
///     θ ← θ (1 − λ η) − η g
///     θ̄ ← θ̄ + μ (θ − θ̄)  (θ̄ ← θ while μ = 1)
///     η ← γ / (1 + λ γ t)^α
///     μ ← 1 / max(1, t − t₀)
///
/// The optimizer trains θ; the average θ̄ (state ax) is what ASGD offers besides, read with
/// state(p)->ax. η and μ are per parameter and kept in double whatever the parameter's dtype
/// (PyTorch 1.13 keeps them as tensors of its default dtype, float32 unless changed).
#include <cmath>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

template <template <class> class Field>
struct ASGDOptionsT {
  Field<double> lr = detail::def(1e-2);
  Field<double> lambd = detail::def(1e-4);  ///< decay term λ
  Field<double> alpha = detail::def(0.75);  ///< power α of the η schedule
  Field<double> t0 = detail::def(1e6);      ///< the step after which averaging starts
  Field<double> weight_decay = detail::def(0.0);
  Field<bool> maximize = detail::def(false);

  /// A parameter group's ASGD options: the fields it states.
  using Group = ASGDOptionsT<Maybe>;
  void check() const;  ///< ValueError "ASGD: invalid <option> = <value> (<rule>)"
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("lambd", lambd);
    f("alpha", alpha);
    f("t0", t0);
    f("weight_decay", weight_decay);
    f("maximize", maximize);
  }
};
/// ASGD's options (every field set).
using ASGDOptions = ASGDOptionsT<Given>;

/// Per-parameter state, PyTorch's names: step count t, the step size η (eta), the averaging
/// factor μ (mu) and the average θ̄ (ax).
struct ASGDState {
  int64_t step = 0;
  double eta = 0.0, mu = 1.0;  // eta is set to the group's lr on the first step
  Tensor ax;
  template <class F>
  void fields(F&& f) {
    f("step", step);
    f("eta", eta);
    f("mu", mu);
    f("ax", ax);
  }
  /// What a loaded state must satisfy beyond being finite (see detail::StateCheck).
  void check(const detail::StateCheck& c) const {
    c.in_range("eta", eta, 0.0, INFINITY);  // lr / (1 + lambd lr t)^alpha
    c.in_range("mu", mu, 0.0, 1.0);         // 1 / max(1, t - t0)
  }
};

class ASGD : public TypedOptimizer<ASGDOptions, ASGDState> {
 public:
  explicit ASGD(std::vector<Tensor> params, ASGDOptions options = {});
  explicit ASGD(std::vector<ParamGroup> groups, ASGDOptions defaults = {});
  using Optimizer::step;
  void step() override;
};

}  // namespace xg::optim
