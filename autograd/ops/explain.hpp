#pragma once
/// @file explain.hpp
/// @brief Internal: what an op's `explain` reads to write its chain-rule line, and the helpers
/// that write the common shapes of line. The inspection tools build one context per input of a
/// backward step (tools/inspect) and print the line only when its `predicted` value equals the
/// gradient the op's backward sent, so an explanation can never show numbers that did not run.
///
/// A line reads `dL/dx = <expr> = <numbers> = <gradient>`, e.g. for tanh
/// `dL/dz = dL/dh * (1 - h^2) = [0.5] * [0.42] = [0.21]`.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "xgrad/autograd/tape/op_info.hpp"

namespace xg {

class ChainRuleContext {
 public:
  std::size_t k = 0;                   ///< the input whose line is written
  std::string up;                      ///< "dL/dy": the upstream gradient's name
  Tensor grad_output;                  ///< its value
  std::string output_label;            ///< y's label
  Tensor output;                       ///< y's values (undefined when unknown)
  std::vector<std::string> labels;     ///< the inputs' labels
  std::vector<Tensor> values;          ///< the inputs' values (undefined when unknown)
  Shape input_shape;                   ///< the shape of input k
  Dtype input_dtype = Dtype::float32;  ///< and its dtype
  OpAttrs attrs;                       ///< the node's recorded scalars (pow's exponent...)
  bool show_values = true;             ///< numbers as values (else as shapes)
  int precision = 4;
  int64_t max_values = 16;

  /// Input j's value (undefined when unknown or out of range) and label.
  Tensor value(std::size_t j) const { return j < values.size() ? values[j] : Tensor(); }
  const std::string& label(std::size_t j) const { return labels.at(j); }
  double attr(std::size_t i) const { return attrs.values.at(i); }
  /// A tensor as the line shows it: its values, or `<[2, 3] float64>`.
  std::string fmt(const Tensor& t) const;
  /// A number with `precision` significant digits.
  std::string number(double v) const;

  /// `up * text` with numbers `g * local`; nullopt when local is unknown.
  std::optional<ChainRuleLine> times(const std::string& text, const Tensor& local) const;
  /// `up / text` with numbers `g / denominator`.
  std::optional<ChainRuleLine> over(const std::string& text, const Tensor& denominator) const;
  /// `up` (or `-up`): the gradient passes through unchanged (negated).
  std::optional<ChainRuleLine> pass(bool negate = false) const;
  /// A line without numbers of its own: `expr`, whose value is `predicted`.
  std::optional<ChainRuleLine> note(const std::string& expr, const Tensor& predicted) const;
  /// Any line: `expr = numbers`, evaluating to `predicted`.
  std::optional<ChainRuleLine> line(const std::string& expr, const std::string& numbers,
                                    const Tensor& predicted) const;

 private:
  // Reduces a broadcast product back to input k's shape, saying so in the text.
  std::optional<ChainRuleLine> to_input_shape(ChainRuleLine l) const;
};

}  // namespace xg
