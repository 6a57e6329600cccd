#pragma once
/// @file lbfgs.hpp
/// @brief L-BFGS as torch.optim.LBFGS (itself after minFunc): each step(closure) runs up to
/// max_iter quasi-Newton iterations on all parameters flattened into one vector, re-evaluating
/// the loss through the closure. The direction comes from the two-loop recursion over the last
/// history_size pairs (s = t d, y = Δ gradient, kept when yᵀs > 1e-10), with the initial
/// Hessian scaled by yᵀs / yᵀy. The step length is lr (the first iteration ever:
/// min(1, 1 / ‖g‖₁) lr), or found by a strong-Wolfe line search (c1 = 1e-4, c2 = 0.9, at most 25
/// evaluations, cubic interpolation) when line_search_fn = strong_wolfe. An iteration loop stops
/// at max_iter, at max_eval closure calls, when max |g| <= tolerance_grad, when the step
/// max |t d| or the loss change is below tolerance_change, or when the directional derivative
/// gᵀd > −tolerance_change.
///
/// @code
/// xg::optim::LBFGS opt(params, {.line_search_fn = xg::optim::LineSearch::strong_wolfe});
/// for (int i = 0; i < 10; ++i)
///   opt.step([&] { opt.zero_grad(); xg::Tensor loss = f(params); loss.backward(); return loss; });
/// @endcode
///
/// One parameter group only (as PyTorch). The history is kept in float64 whatever the
/// parameters' dtype; it costs (2 history_size + 3) × (number of parameter elements) doubles.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

enum class LineSearch { none, strong_wolfe };
std::string option_to_string(LineSearch v);  ///< "none" / "strong_wolfe"
void option_from_string(const std::string& s, LineSearch& v, const std::string& what);

template <template <class> class Field>
struct LBFGSOptionsT {
  Field<double> lr = detail::def(1.0);
  Field<int64_t> max_iter = detail::def<int64_t>(20);  ///< iterations per step()
  Field<std::optional<int64_t>> max_eval = detail::def<std::optional<int64_t>>(
      std::nullopt);  ///< closure calls per step(); default max_iter * 5 / 4
  Field<double> tolerance_grad = detail::def(1e-7);
  Field<double> tolerance_change = detail::def(1e-9);
  Field<int64_t> history_size = detail::def<int64_t>(100);
  Field<LineSearch> line_search_fn = detail::def(LineSearch::none);

  /// A parameter group's LBFGS options: the fields it states.
  using Group = LBFGSOptionsT<Maybe>;
  void check() const;  ///< ValueError "LBFGS: invalid <option> = <value> (<rule>)"
  int64_t max_evals() const { return max_eval ? *max_eval : max_iter * 5 / 4; }
  template <class F>
  void fields(F&& f) {
    f("lr", lr);
    f("max_iter", max_iter);
    f("max_eval", max_eval);
    f("tolerance_grad", tolerance_grad);
    f("tolerance_change", tolerance_change);
    f("history_size", history_size);
    f("line_search_fn", line_search_fn);
  }
};
/// LBFGS's options (every field set).
using LBFGSOptions = LBFGSOptionsT<Given>;

/// LBFGS keeps no per-parameter state; its history is global (see LBFGS::History).
struct LBFGSParamState {
  template <class F>
  void fields(F&&) {}
};

class LBFGS : public TypedOptimizer<LBFGSOptions, LBFGSParamState> {
 public:
  explicit LBFGS(std::vector<Tensor> params, LBFGSOptions options = {});

  /// Throws ValueError: L-BFGS re-evaluates the loss, so it needs step(closure).
  void step() override;
  /// Runs the iterations; returns the loss of the closure's first evaluation.
  Tensor step(const Closure& closure) override;

  /// Throws ValueError: one parameter group only.
  void add_param_group(std::vector<Tensor> params, const LBFGSOptions::Group& options) override;
  using TypedOptimizer::add_param_group;

  /// What persists between steps (and is saved by state_dict as lbfgs.* entries).
  struct History {
    int64_t func_evals = 0;                 ///< closure calls over all steps
    int64_t n_iter = 0;                     ///< iterations over all steps
    std::vector<double> d, prev_flat_grad;  ///< last direction and gradient (empty before the first step)
    double t = 0.0, H_diag = 1.0, prev_loss = 0.0;
    std::deque<std::vector<double>> old_dirs, old_stps;  ///< y and s pairs, oldest first
    std::deque<double> ro;                               ///< 1 / yᵀs
  };
  const History& history() const { return h_; }

 protected:
  void save_extra(StateDict& sd) const override;
  void load_extra(const StateDict& sd, const detail::TensorLookup& lookup) override;
  bool extra_entry(const std::string& name) const override;

 private:
  std::vector<double> gather_flat_grad() const;
  void add_grad(double t, const std::vector<double>& d);
  std::vector<double> clone_param() const;
  void set_param(const std::vector<double>& x);
  double evaluate(const Closure& closure, Tensor* keep = nullptr);

  History h_;
  int64_t numel_ = 0;
};

}  // namespace xg::optim
