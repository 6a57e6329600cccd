// The backward pass, step by step: the engine's own loop reports each node it runs (the
// TraceCollector), and each step's chain-rule lines come from the op's explain function,
// printed only when their numbers reproduce the gradient that ran.
#include <algorithm>
#include <iostream>
#include <sstream>

#include "xgrad/autograd/ops/explain.hpp"
#include "xgrad/autograd/tools/inspect_internal.hpp"

namespace xg {

using namespace inspect_detail;

std::optional<ChainRuleLine> BackwardStep::explanation(std::size_t k, const InspectOptions& o) const {
  if (k >= grad_inputs.size() || !grad_inputs[k].defined() || !node || !node->info().explain)
    return std::nullopt;
  ChainRuleContext c;
  c.k = k;
  c.up = "d" + root + "/d" + output;
  c.grad_output = grad_output;
  c.output_label = output;
  c.output = output_value;
  for (const TapeInput& in : inputs) {
    c.labels.push_back(in.label);
    c.values.push_back(in.value);
  }
  c.input_shape = inputs[k].shape;
  c.input_dtype = grad_inputs[k].dtype();
  c.attrs = node->attrs();
  c.show_values = o.values;
  c.precision = o.precision;
  c.max_values = o.max_values;
  try {
    NoGradGuard no_grad;
    std::optional<ChainRuleLine> line = node->info().explain(c);
    // Never print a product that is not what ran.
    if (line && close_to(line->predicted, grad_inputs[k])) return line;
  } catch (const Error&) {  // a value the explanation needs is unknown (recorded without InspectGuard)
  }
  return std::nullopt;
}

std::string BackwardStep::chain_rule(std::size_t k, const InspectOptions& o) const {
  if (k >= grad_inputs.size() || !grad_inputs[k].defined()) return "";
  auto fmt = [&](const Tensor& t) { return format_values(t, o.precision, o.values ? o.max_values : -1); };
  const Tensor& gk = grad_inputs[k];
  const std::string lhs = "d" + root + "/d" + inputs[k].label;
  const std::optional<ChainRuleLine> r = explanation(k, o);
  if (!r) return lhs + " = " + op + "'s backward of d" + root + "/d" + output + " = " + fmt(gk);
  std::string line = lhs + " = " + r->expr;
  if (!r->numbers.empty()) line += " = " + r->numbers;
  return line + " = " + fmt(gk);
}

std::string BackwardStep::str(const InspectOptions& o) const {
  std::string s = tag("step ", static_cast<std::size_t>(step)) + "  " + output + " = " + op + "(";
  for (std::size_t k = 0; k < inputs.size(); ++k) s += (k ? ", " : "") + inputs[k].label;
  s += ")";
  if (o.formulas && !formula.empty()) {
    s.resize(std::max<std::size_t>(s.size() + 2, 32), ' ');  // line the formulas up
    s += "local derivative: " + formula;
  }
  s += "\n";
  if (!note.empty()) s += "        " + note + "\n";
  for (std::size_t k = 0; k < inputs.size(); ++k)
    if (std::string line = chain_rule(k, o); !line.empty()) s += "        " + line + "\n";
  return s;
}

const BackwardStep* BackwardTrace::find(int step) const {
  for (const BackwardStep& s : steps)
    if (s.step == step) return &s;
  return nullptr;
}

void BackwardTrace::print(std::ostream& os, const InspectOptions& o) const {
  os << "backward from " << root << ": " << steps.size() << " step" << (steps.size() == 1 ? "" : "s")
     << ", from the last op recorded to the first";
  if (!steps.empty() && steps.front().grad_output.defined())
    os << "; d" << root << "/d" << root << " = "
       << format_values(steps.front().grad_output, o.precision, o.max_values);
  os << "\n";
  for (const BackwardStep& s : steps) os << s.str(o);
  if (!leaves.empty()) os << "leaf gradients (.grad after this backward):\n";
  for (const LeafGradient& l : leaves) {
    os << "  " << l.label << ".grad = "
       << format_values(l.accumulated.defined() ? l.accumulated : l.grad, o.precision, o.max_values);
    if (l.accumulated_onto_earlier)
      os << "  (this pass: " << format_values(l.grad, o.precision, o.max_values)
         << ", added to the earlier .grad)";
    os << "\n";
  }
}

std::string BackwardTrace::str(const InspectOptions& o) const {
  std::ostringstream s;
  print(s, o);
  return s.str();
}

BackwardTrace backward_trace(const Tensor& root, const Tensor& grad, bool retain_graph,
                             const BackwardStepCallback& on_step) {
  if (!root.defined()) throw ValueError("backward_trace: the tensor is undefined");
  BackwardTrace trace;
  TraceCollector collector(root, trace, on_step);
  TraceCollector* const prev = state.trace;
  state.trace = &collector;
  update_observer();
  try {
    backward({root}, {grad}, retain_graph);
  } catch (...) {
    state.trace = prev;
    update_observer();
    throw;
  }
  state.trace = prev;
  update_observer();
  return trace;
}

void dump_backward(const Tensor& root) {
  backward_trace(root, Tensor(), true).print(std::cerr);
}

}  // namespace xg
