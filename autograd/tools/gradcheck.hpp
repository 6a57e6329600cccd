#pragma once
/// @file gradcheck.hpp
/// @brief Numerical gradient checking. gradcheck compares the analytic Jacobian (one backward per
/// output element) with central differences (f(x + eps) - f(x - eps)) / 2 eps, in float64, for
/// every input that requires grad and every output. gradgradcheck does the same for the
/// vector-Jacobian product, i.e. it checks second derivatives. On failure the report names the
/// input, the element, the output element, both values and the worst relative error.
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step
  double atol = 1e-5;  ///< passes when |analytic - numerical| <= atol + rtol |numerical|
  double rtol = 1e-3;
  int max_failures = 5;  ///< how many failing elements the report lists
};

/// One element where the analytic and numerical derivative disagree.
struct GradcheckMismatch {
  int input = 0;                     ///< which input (0-based)
  std::vector<int64_t> input_index;  ///< multi-index of the element in that input
  int output = 0;                    ///< which output
  std::vector<int64_t> output_index;
  double analytic = 0, numerical = 0, abs_error = 0, rel_error = 0;
};

struct GradcheckReport {
  bool passed = true;
  std::string check = "gradcheck";  ///< or "gradgradcheck"
  int inputs_checked = 0;
  int64_t entries_checked = 0;  ///< Jacobian entries compared
  double max_abs_error = 0, max_rel_error = 0;
  std::vector<GradcheckMismatch> mismatches;  ///< worst first, at most max_failures
  int64_t mismatch_count = 0;
  std::string error;  ///< set when the function itself threw
  explicit operator bool() const { return passed; }
  /// A readable summary; on failure one line per listed mismatch.
  std::string str() const;
};

using MultiFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

GradcheckReport gradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& o = {});
/// Checks second derivatives: gradcheck of (inputs, v) -> vjp(f, inputs, v) with create_graph,
/// for fixed pseudo-random v (or the given grad_outputs).
GradcheckReport gradgradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& o = {}, const std::vector<Tensor>& grad_outputs = {});

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

}  // namespace xg
