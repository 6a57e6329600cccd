#pragma once
/// @file gradcheck.hpp
/// @brief Numerical gradient checking. gradcheck compares the analytic Jacobian (one backward per
/// output element) with central differences (f(x + eps) - f(x - eps)) / 2 eps, in float64, for
/// every input that requires grad and every output. gradgradcheck does the same for the
/// vector-Jacobian product, i.e. it checks second derivatives. On failure the report names the
/// input (by name: GradcheckOptions::names, else the tensor's name, else "input i"), the element,
/// the output element, both values and the worst relative error, and localises the mistake on
/// the tape: the first recorded op whose own backward disagrees with finite differences of that
/// op alone (check_nodes).
///
/// Fast mode (GradcheckOptions::fast) compares random projections instead of whole Jacobians:
/// for each input x_c, u^T J_c v_c from one pair of evaluations of f along a random unit direction
/// v_c against the analytic vector-Jacobian product J_c^T u dotted with v_c. It costs one backward
/// and two evaluations of f per input, so a whole model can be checked; once an input's
/// projection disagrees, its elements are checked one by one (the dense check of that input)
/// until the wrong elements are named.
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

struct BackwardTrace;

struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step
  double atol = 1e-5;  ///< passes when |analytic - numerical| <= atol + rtol |numerical|
  double rtol = 1e-3;
  int max_failures = 5;  ///< how many failing elements the report lists
  /// Names of the inputs, for the report ("fc1.weight[3, 2]"); a missing or empty entry: the
  /// tensor's own name, else "input i".
  std::vector<std::string> names = {};
  bool fast = false;     ///< random projections instead of whole Jacobians (see the file comment)
  bool localise = true;  ///< on failure, find the first recorded op whose backward is wrong
  bool float32 = false;  ///< accept float32 inputs (use float32_options() for its tolerances)
  uint64_t seed = 0;     ///< varies the random directions of fast mode and of localisation
};

/// Tolerances for float32 inputs: eps 1e-3 (near the cube root of float32's epsilon, where
/// central differences are most accurate), atol 1e-3, rtol 1e-2.
GradcheckOptions float32_options(GradcheckOptions o = {});

/// One element where the analytic and numerical derivative disagree.
struct GradcheckMismatch {
  int input = 0;                     ///< which input (0-based)
  std::string input_name;            ///< its name ("" when it has none)
  std::vector<int64_t> input_index;  ///< multi-index of the element in that input
  int output = 0;                    ///< which output; -1: the projection u^T y of all outputs
  std::vector<int64_t> output_index;
  double analytic = 0, numerical = 0, abs_error = 0, rel_error = 0;
  /// "fc1.weight[3, 2]" for a named input, "input 1 element [3, 2]" otherwise.
  std::string where() const;
};

/// Fast mode: the projection u^T J_c v_c of one input.
struct GradcheckProjection {
  int input = 0;
  std::string input_name;
  double analytic = 0, numerical = 0, abs_error = 0, rel_error = 0;
  bool passed = true;
};

/// One recorded op checked alone (check_nodes): its backward J^T u dotted with the change of its
/// inputs, against u dotted with the change of its output, when f's inputs move by eps along a
/// random direction (so the op runs its real forward on its recorded, perturbed inputs).
struct NodeCheck {
  int step = 0;  ///< tape step, as print_tape and backward_trace number them
  std::string op;
  std::string output;               ///< the output's label ("t3", a name, or "L")
  std::vector<std::string> inputs;  ///< the inputs' labels (names, "x", "t2", constants' values)
  bool checked = false;             ///< false: it could not be checked alone (see why_not)
  std::string why_not;
  bool passed = true;
  double analytic = 0, numerical = 0, abs_error = 0, rel_error = 0;
  /// "step 3 'scale'(t2, W) -> t3".
  std::string str() const;
};

struct GradcheckReport {
  bool passed = true;
  std::string check = "gradcheck";  ///< or "gradgradcheck"
  int inputs_checked = 0;
  int64_t entries_checked = 0;  ///< Jacobian entries compared (fast mode: elements checked densely)
  double max_abs_error = 0, max_rel_error = 0;
  std::vector<GradcheckMismatch> mismatches;  ///< at most max_failures: worst first; check_backward lists the
                                              ///< first wrong tensor's elements in index order
  int64_t mismatch_count = 0;
  std::vector<GradcheckProjection> projections;  ///< fast mode: one per checked input
  /// On failure with localise: the first recorded op whose backward is wrong, if one is.
  bool localised = false;
  NodeCheck culprit;
  std::vector<NodeCheck> nodes;  ///< every recorded op, as check_nodes returns them
  std::string localisation;      ///< what localisation found, in a sentence
  std::string error;             ///< set when the function itself threw
  explicit operator bool() const { return passed; }
  /// A readable summary; on failure one line per listed mismatch, and the culprit op.
  std::string str() const;
};

using MultiFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

GradcheckReport gradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& o = {});
/// Checks second derivatives: gradcheck of (inputs, v) -> vjp(f, inputs, v) with create_graph,
/// for fixed pseudo-random v (or the given grad_outputs).
GradcheckReport gradgradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& o = {}, const std::vector<Tensor>& grad_outputs = {});

/// Runs f once with recording and checks each recorded op's backward (built-in or CustomOp)
/// against finite differences of that op alone, in tape order. An op with several outputs, or
/// with float32 values, is listed with checked = false and the reason.
std::vector<NodeCheck> check_nodes(const MultiFunction& f, const std::vector<Tensor>& inputs,
                                   const GradcheckOptions& o = {});

/// Marks the culprit of a failed report in a backward_trace of the same function: its step
/// prints "<- gradcheck: this op's backward disagrees with finite differences ...".
void mark_culprit(BackwardTrace& trace, const GradcheckReport& report);

/// A hand-written backward: given the inputs and one gradient per output of f, the gradient
/// for each input (undefined: none).
using HandBackward = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs,
                                                       const std::vector<Tensor>& grad_outputs)>;

/// Compares a hand-written backward with autograd's, for a fixed pseudo-random gradient of each
/// output: every element of every input's gradient. The report's mismatches name the first wrong
/// tensor and its wrong elements (analytic = the hand-written value, numerical = autograd's).
GradcheckReport check_backward(const MultiFunction& f, const HandBackward& backward,
                               const std::vector<Tensor>& inputs, const GradcheckOptions& o = {});

/// Single-output forms: f returns one Tensor.
template <class F>
requires std::is_invocable_r_v < Tensor, F, const std::vector<Tensor>
& > GradcheckReport gradcheck(F f, const std::vector<Tensor>& inputs, const GradcheckOptions& o = {}) {
  return gradcheck(MultiFunction([f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in)}; }),
                   inputs, o);
}
template <class F>
requires std::is_invocable_r_v < Tensor, F, const std::vector<Tensor>
& > GradcheckReport gradgradcheck(F f, const std::vector<Tensor>& inputs, const GradcheckOptions& o = {}) {
  return gradgradcheck(
      MultiFunction([f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in)}; }), inputs, o);
}
template <class F>
requires std::is_invocable_r_v < Tensor, F, const std::vector<Tensor>
& > std::vector<NodeCheck> check_nodes(F f, const std::vector<Tensor>& inputs,
                                       const GradcheckOptions& o = {}) {
  return check_nodes(MultiFunction([f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in)}; }),
                     inputs, o);
}
template <class F>
requires std::is_invocable_r_v < Tensor, F, const std::vector<Tensor>
& > GradcheckReport check_backward(F f, const HandBackward& backward, const std::vector<Tensor>& inputs,
                                   const GradcheckOptions& o = {}) {
  return check_backward(
      MultiFunction([f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in)}; }), backward,
      inputs, o);
}

}  // namespace xg
