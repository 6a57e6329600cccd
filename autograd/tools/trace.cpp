// The backward pass, step by step: the engine's own loop reports each node it runs (the
// TraceCollector), and each step's chain-rule lines come from the op's explain function,
// printed only when their numbers reproduce the gradient that ran.
#include <algorithm>
#include <iostream>
#include <sstream>

#include "xgrad/autograd/ops/explain.hpp"
#include "xgrad/autograd/ops/ops.hpp"
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
  std::string s = tag("step ", static_cast<std::size_t>(step)) + "  ";
  if (o.scopes && !scope_path.empty()) s += "[" + scope_path + "] ";
  s += output + " = " + op + "(";
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
  // Collapsed: a run of consecutive steps inside one module call (at most collapse_depth deep)
  // or one composite op's call (collapse_composites) is one line: the gradient that entered it and those it
  // sent out of it.
  auto key_of = [&](const BackwardStep& s) -> ScopeId {
    return s.node ? group_key(s.node->scope(), o.collapse_depth, o.collapse_composites) : 0;
  };
  auto grad_text = [&](const Tensor& g) {
    if (!g.defined()) return std::string("?");
    if (g.numel() <= o.max_values) return format_values(g, o.precision, o.max_values);
    return o.summaries ? summarize_values(g, o.precision) : format_values(g, o.precision, o.max_values);
  };
  for (std::size_t i = 0; i < steps.size();) {
    const ScopeId key = key_of(steps[i]);
    std::size_t j = i + 1;
    while (key && j < steps.size() && key_of(steps[j]) == key) ++j;
    if (j - i < 2) {
      os << steps[i].str(o);
      i = j;
      continue;
    }
    const ScopeInfo info = scope_info(key);
    int lo = steps[i].step, hi = steps[i].step;
    for (std::size_t k = i; k < j; ++k) {
      lo = std::min(lo, steps[k].step);
      hi = std::max(hi, steps[k].step);
    }
    os << "steps " << hi << "-" << lo << "  " << info.path
       << (info.type.empty() ? "" : " (" + info.type + ")") << ": " << j - i << " steps; in: d" << root
       << "/d" << steps[i].output << " = " << grad_text(steps[i].grad_output);
    int parameters = 0;
    // what left the call, per tensor (summed over the steps that used it)
    std::vector<std::pair<std::string, Tensor>> sent;
    for (std::size_t k = i; k < j; ++k)
      for (std::size_t m = 0; m < steps[k].inputs.size(); ++m) {
        const TapeInput& in = steps[k].inputs[m];
        if (!steps[k].grad_inputs[m].defined() || (in.producer_step >= lo && in.producer_step <= hi))
          continue;
        if (in.is_leaf && in.label.rfind(info.path + ".", 0) == 0) {
          ++parameters;
          continue;
        }
        auto it = std::find_if(sent.begin(), sent.end(), [&](const auto& p) { return p.first == in.label; });
        NoGradGuard no_grad;
        if (it == sent.end())
          sent.emplace_back(in.label, steps[k].grad_inputs[m]);
        else
          it->second = it->second + steps[k].grad_inputs[m];
      }
    std::string out;
    for (const auto& [label, g] : sent)
      out += (out.empty() ? "" : ", ") + ("d" + root + "/d" + label) + " = " + grad_text(g);
    if (!out.empty()) os << "; out: " << out;
    if (parameters) os << "; and to " << parameters << " parameter gradient" << (parameters == 1 ? "" : "s");
    os << "\n";
    i = j;
  }
  if (!leaves.empty()) os << "leaf gradients (.grad after this backward):\n";
  for (const LeafGradient& l : leaves) {
    os << "  " << l.label << ".grad = " << grad_text(l.accumulated.defined() ? l.accumulated : l.grad);
    if (l.accumulated_onto_earlier)
      os << "  (this pass: " << grad_text(l.grad) << ", added to the earlier .grad)";
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
