// The helpers that write chain-rule lines (ops/explain.hpp). They run under no-grad inside the
// inspection tools, on values the tape kept.
#include "xgrad/autograd/ops/explain.hpp"

#include <cmath>
#include <cstdio>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tools/inspect.hpp"

namespace xg {

std::string ChainRuleContext::fmt(const Tensor& t) const {
  // format_values shows a tensor above max_values elements as `<[2, 3] float64>`.
  return format_values(t, precision, show_values ? max_values : -1);
}

std::string ChainRuleContext::number(double v) const {
  // format_values of a 0-d tensor is the bare number, formatted as every other value.
  return format_values(scalar_tensor(v, {.dtype = Dtype::float64}), precision, 1);
}

std::optional<ChainRuleLine> ChainRuleContext::to_input_shape(ChainRuleLine l) const {
  if (l.predicted.defined() && !(l.predicted.shape() == input_shape)) {
    l.predicted = sum_to(l.predicted, input_shape);
    l.expr = "sum_to(" + l.expr + ", " + input_shape.str() + ")";
  }
  return l;
}

std::optional<ChainRuleLine> ChainRuleContext::times(const std::string& text, const Tensor& local) const {
  if (!local.defined()) return std::nullopt;
  return to_input_shape(
      {up + " * " + text, fmt(grad_output) + " * " + fmt(local), grad_output * local, local});
}

std::optional<ChainRuleLine> ChainRuleContext::over(const std::string& text,
                                                    const Tensor& denominator) const {
  if (!denominator.defined()) return std::nullopt;
  return to_input_shape({up + " / " + text, fmt(grad_output) + " / " + fmt(denominator),
                         grad_output / denominator, reciprocal(denominator)});
}

std::optional<ChainRuleLine> ChainRuleContext::pass(bool negate) const {
  return to_input_shape({(negate ? "-" : "") + up, "", negate ? neg(grad_output) : grad_output,
                         scalar_tensor(negate ? -1.0 : 1.0, {.dtype = grad_output.dtype()})});
}

std::optional<ChainRuleLine> ChainRuleContext::note(const std::string& expr, const Tensor& predicted) const {
  return line(expr, "", predicted);
}

std::optional<ChainRuleLine> ChainRuleContext::line(const std::string& expr, const std::string& numbers,
                                                    const Tensor& predicted) const {
  return ChainRuleLine{expr, numbers, predicted};
}

}  // namespace xg
