// The inspection tools: the printed tape, the backward trace, DOT export and anomaly mode. All of
// it hangs off the core's one hook, detail::tape_observer, installed while a guard or a trace is on.
#include "xgrad/autograd/tools/inspect.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "xgrad/autograd/ops/explain.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/node.hpp"
#include "xgrad/autograd/ops/ops.hpp"

namespace xg {

namespace {

// What InspectGuard keeps per recorded op: the inputs (strongly: they are printed, and a
// temporary input would otherwise be gone) and the output (weakly: it owns the node).
struct InspectAnnotation final : NodeAnnotation {
  std::vector<std::shared_ptr<TensorImpl>> inputs;
  std::weak_ptr<TensorImpl> output;
};

const InspectAnnotation* annotation_of(const Node& n) { return dynamic_cast<const InspectAnnotation*>(n.annotation()); }

void annotate(Node& node, std::span<const Tensor> inputs, const Tensor& output) {
  auto a = std::make_unique<InspectAnnotation>();
  a->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) a->inputs.push_back(t.impl());
  a->output = output.impl();
  node.annotation() = std::move(a);
}

// ---------------------------------------------------------------- formatting

std::string number(double v, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v == 0 ? 0.0 : v);  // no "-0"
  return buf;
}

void nested(std::string& out, const std::vector<double>& v, const Shape& s, int axis, int64_t& pos, int precision,
            bool integral) {
  if (axis == s.rank()) {
    const double x = v[static_cast<std::size_t>(pos++)];
    out += integral ? std::to_string(static_cast<int64_t>(x)) : number(x, precision);
    return;
  }
  out += '[';
  for (int64_t i = 0; i < s[axis]; ++i) {
    if (i) out += ", ";
    nested(out, v, s, axis + 1, pos, precision, integral);
  }
  out += ']';
}

// prefix + n, written so that GCC 12 does not warn (-Wrestrict false positive on "lit" + string).
std::string tag(const char* prefix, std::size_t n) {
  std::string r = prefix;
  r += std::to_string(n);
  return r;
}

std::string shape_dtype(const Tensor& t) { return "<" + t.shape().str() + " " + dtype_name(t.dtype()) + ">"; }

// Index of the first NaN or Inf element, or -1.
int64_t first_non_finite(const Tensor& t) {
  if (!t.defined() || !t.is_floating_point()) return -1;
  const int64_t n = t.numel();
  auto scan = [n](const auto* p) -> int64_t {
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) return i;
    return -1;
  };
  return t.dtype() == Dtype::float32 ? scan(t.data<float>()) : scan(t.data<double>());
}

std::string unravel(int64_t flat, const Shape& s) {
  std::vector<int64_t> idx(static_cast<std::size_t>(s.rank()));
  for (int i = s.rank() - 1; i >= 0; --i) {
    idx[static_cast<std::size_t>(i)] = s[i] ? flat % s[i] : 0;
    flat = s[i] ? flat / s[i] : 0;
  }
  std::string r = "[";
  for (std::size_t i = 0; i < idx.size(); ++i) r += (i ? ", " : "") + std::to_string(idx[i]);
  return r + "]";
}

double element(const Tensor& t, int64_t i) {
  return t.dtype() == Dtype::float32 ? static_cast<double>(t.data<float>()[i]) : t.data<double>()[i];
}

// ---------------------------------------------------------------- a tape with labels

// The nodes of a tape in recording order, with the label of every tensor on it.
class TapeView {
 public:
  // root_is_loss: label the root "L" when it has no name (not for a tensor that is just the
  // latest output, as in anomaly messages).
  explicit TapeView(const Tensor& root, bool root_is_loss = true) : root_(root), root_is_loss_(root_is_loss) {
    init(tape_of(root));
  }
  // A backward pass's nodes (decreasing sequence number), for labels when there is no root tensor.
  explicit TapeView(std::span<Node* const> pass) {
    std::vector<std::shared_ptr<Node>> nodes;
    for (auto it = pass.rbegin(); it != pass.rend(); ++it) nodes.push_back((*it)->shared_from_this());
    init(std::move(nodes));
  }

  const std::vector<std::shared_ptr<Node>>& nodes() const { return nodes_; }
  int step(const Node* n) const {
    auto it = step_.find(n);
    return it == step_.end() ? 0 : it->second;
  }
  std::string root_label() const {
    if (root_.defined() && !root_.name().empty()) return root_.name();
    if (!root_is_loss_ && root_.defined() && root_.grad_fn()) return tag("t", static_cast<std::size_t>(step(root_.grad_fn().get())));
    return "L";
  }

  std::string output_label(const Node& n) const {
    if (root_.defined() && root_.grad_fn().get() == &n) return root_label();
    if (const auto* a = annotation_of(n))
      if (auto o = a->output.lock(); o && !o->name.empty()) return o->name;
    return tag("t", static_cast<std::size_t>(step(&n)));
  }
  Tensor output_value(const Node& n) const {
    if (root_.defined() && root_.grad_fn().get() == &n) return root_;
    if (const auto* a = annotation_of(n))
      if (auto o = a->output.lock()) return Tensor(std::move(o));
    return Tensor();
  }

  std::string leaf_label(const TensorImpl* impl) const {
    if (!impl->name.empty()) return impl->name;
    auto it = leaf_labels_.find(impl);
    return it != leaf_labels_.end() ? it->second : std::string("?");
  }

  TapeInput input(const Node& n, std::size_t k) const {
    TapeInput in;
    const Edge& e = n.edges()[k];
    const auto* a = annotation_of(n);
    const std::shared_ptr<TensorImpl>* impl = a && k < a->inputs.size() ? &a->inputs[k] : nullptr;
    if (e.fn) {
      in.producer_step = step(e.fn.get());
      in.producer_op = e.fn->name();
      in.label = impl && !(*impl)->name.empty() ? (*impl)->name : output_label(*e.fn);
      in.shape = e.fn->output_shape();
      in.requires_grad = true;
      in.value = impl ? Tensor(*impl) : output_value(*e.fn);
    } else if (e.leaf) {
      in.label = leaf_label(e.leaf.get());
      in.shape = e.leaf->shape;
      in.requires_grad = true;
      in.is_leaf = true;
      in.value = Tensor(e.leaf);
    } else if (impl) {
      in.label = leaf_label(impl->get());
      in.shape = (*impl)->shape;
      in.value = Tensor(*impl);
    } else {
      in.label = "?";
      in.shape_known = false;
    }
    return in;
  }

  TapeEntry entry(std::size_t i) const {
    const Node& n = *nodes_[i];
    TapeEntry e;
    e.step = static_cast<int>(i) + 1;
    e.sequence_nr = n.sequence_nr();
    e.op = n.name();
    e.formula = n.info().formula ? n.info().formula : "";
    e.output = output_label(n);
    e.shape = n.output_shape();
    e.dtype = n.output_dtype();
    e.value = output_value(n);
    for (std::size_t k = 0; k < n.num_inputs(); ++k) e.inputs.push_back(input(n, k));
    e.node = nodes_[i];
    return e;
  }

 private:
  void init(std::vector<std::shared_ptr<Node>> nodes) {
    nodes_ = std::move(nodes);
    for (std::size_t i = 0; i < nodes_.size(); ++i) step_[nodes_[i].get()] = static_cast<int>(i) + 1;
    // Unnamed leaves and constants are numbered in order of first use.
    int leaves = 0, consts = 0;
    for (const auto& n : nodes_) {
      const auto* a = annotation_of(*n);
      for (std::size_t k = 0; k < n->num_inputs(); ++k) {
        const Edge& e = n->edges()[k];
        if (e.fn) continue;
        if (e.leaf) assign(e.leaf, leaves, consts);
        else if (a && k < a->inputs.size()) assign(a->inputs[k], leaves, consts);
      }
    }
  }
  void assign(const std::shared_ptr<TensorImpl>& impl, int& leaves, int& consts) {
    if (!impl || !impl->name.empty() || leaf_labels_.count(impl.get())) return;
    if (impl->requires_grad) leaf_labels_[impl.get()] = tag("leaf", static_cast<std::size_t>(++leaves));
    else if (impl->shape.numel() == 1) leaf_labels_[impl.get()] = format_values(Tensor(impl), 4, 1);
    else leaf_labels_[impl.get()] = tag("const", static_cast<std::size_t>(++consts));
  }

  Tensor root_;
  bool root_is_loss_ = true;
  std::vector<std::shared_ptr<Node>> nodes_;
  std::unordered_map<const Node*, int> step_;
  std::unordered_map<const TensorImpl*, std::string> leaf_labels_;
};

std::string with_shape(const TapeInput& in) {
  if (!in.shape_known) return "? (a constant)";
  if (!in.requires_grad && in.value.defined() && in.value.numel() == 1 && in.label == format_values(in.value, 4, 1))
    return in.label;  // a scalar constant: its value says it all
  return in.label + " " + in.shape.str();
}

// "t2 [2] from 'sub' (step 2)", "W1 [2, 2] (a leaf)", "0.5 (a constant)"
std::string provenance(const TapeInput& in) {
  if (in.producer_step) return with_shape(in) + " from '" + in.producer_op + "' (step " + std::to_string(in.producer_step) + ")";
  if (in.is_leaf) return with_shape(in) + " (a leaf)";
  return with_shape(in) + " (a constant)";
}

// ---------------------------------------------------------------- the observer

class TraceCollector;

struct ThreadState {
  bool inspect = false;
  bool anomaly = false;
  TraceCollector* trace = nullptr;
};
thread_local ThreadState state;

[[noreturn]] void forward_anomaly(Node& node, std::span<const Tensor> inputs, const Tensor& output, int64_t bad) {
  annotate(node, inputs, output);  // for the labels below
  const TapeView view(output, false);
  const int step = view.step(&node);
  std::ostringstream m;
  m << "anomaly: '" << node.name() << "' (tape step " << step << ") produced " << number(element(output, bad), 4)
    << " at element " << unravel(bad, output.shape()) << " of its output " << view.output_label(node) << " "
    << output.shape().str() << "; its inputs:";
  for (std::size_t k = 0; k < node.num_inputs(); ++k) {
    const TapeInput in = view.input(node, k);
    m << (k ? "," : "") << " " << provenance(in);
    if (in.value.defined() && in.value.numel() <= 16) m << " = " << format_values(in.value, 4, 16);
  }
  throw ValueError(m.str());
}

[[noreturn]] void backward_anomaly(std::span<Node* const> pass, std::size_t i, const Tensor& grad_output, std::size_t k,
                                   const Tensor& gk, int64_t bad) {
  const Node& node = *pass[i];
  const TapeView view(pass);
  const TapeInput in = view.input(node, k);
  std::ostringstream m;
  m << "anomaly: the backward of '" << node.name() << "' (tape step " << pass.size() - i << ", "
    << (node.info().formula ? node.info().formula : "") << ") sent " << number(element(gk, bad), 4) << " at element "
    << unravel(bad, gk.shape()) << " of the gradient for input " << k << ", " << provenance(in) << "; the gradient of its output "
    << view.output_label(node) << " was " << (first_non_finite(grad_output) >= 0 ? "already non-finite" : "finite");
  throw ValueError(m.str());
}

class Inspector final : public TapeObserver {
 public:
  void on_record(Node& node, std::span<const Tensor> inputs, const Tensor& output) override;
  void on_backward_node(std::span<Node* const> pass, std::size_t i, const Tensor& grad_output,
                        std::span<const Tensor> grad_inputs) override;
  void on_leaf_grad(const TensorImpl& leaf, const Tensor& grad) override;
};
Inspector inspector;

void update_observer() {
  detail::tape_observer = state.inspect || state.anomaly || state.trace ? &inspector : nullptr;
}

// Collects the steps of one backward_trace call.
class TraceCollector {
 public:
  TraceCollector(const Tensor& root, BackwardTrace& trace, const BackwardStepCallback& cb)
      : view_(root), trace_(trace), cb_(cb) {
    trace_.root = view_.root_label();
    for (const auto& n : view_.nodes())  // the leaves that already hold a .grad
      for (const Edge& e : n->edges())
        if (e.leaf && e.leaf->grad) had_grad_.insert(e.leaf.get());
  }

  void on_node(std::span<Node* const> pass, std::size_t i, const Tensor& g, std::span<const Tensor> grads) {
    if (busy_) return;  // a backward started from inside the callback is not this trace
    const Node& n = *pass[i];
    BackwardStep s;
    s.step = view_.step(&n);
    if (!s.step) s.step = static_cast<int>(pass.size() - i);
    s.node = const_cast<Node&>(n).shared_from_this();
    s.op = n.name();
    s.formula = n.info().formula ? n.info().formula : "";
    s.root = trace_.root;
    s.output = view_.output_label(n);
    s.output_value = view_.output_value(n);
    s.grad_output = g;
    for (std::size_t k = 0; k < n.num_inputs(); ++k) s.inputs.push_back(view_.input(n, k));
    // (a backward formula may compute a gradient for an input that does not require grad: the
    // engine drops it, and so does the trace)
    for (std::size_t k = 0; k < n.num_inputs(); ++k)
      s.grad_inputs.push_back(n.edges()[k].requires_grad() ? grads[k] : Tensor());
    trace_.steps.push_back(std::move(s));
    if (cb_) {
      busy_ = true;
      try {
        cb_(trace_.steps.back());
      } catch (...) {
        busy_ = false;
        throw;
      }
      busy_ = false;
    }
  }

  void on_leaf(const TensorImpl& leaf, const Tensor& grad) {
    if (busy_) return;
    LeafGradient l;
    l.label = view_.leaf_label(&leaf);
    l.grad = grad;
    l.accumulated_onto_earlier = had_grad_.count(&leaf) > 0;
    if (leaf.grad) {
      NoGradGuard no_grad;
      l.accumulated = Tensor(leaf.grad).detach().clone();  // a snapshot: .grad changes later
    }
    trace_.leaves.push_back(std::move(l));
  }

 private:
  TapeView view_;
  BackwardTrace& trace_;
  const BackwardStepCallback& cb_;
  std::unordered_set<const TensorImpl*> had_grad_;
  bool busy_ = false;
};

void Inspector::on_record(Node& node, std::span<const Tensor> inputs, const Tensor& output) {
  if (state.inspect) {
    annotate(node, inputs, output);
  } else if (state.anomaly) {  // just the output (weakly), so that error messages can use names
    auto a = std::make_unique<InspectAnnotation>();
    a->output = output.impl();
    node.annotation() = std::move(a);
  }
  if (state.anomaly)
    if (const int64_t bad = first_non_finite(output); bad >= 0) forward_anomaly(node, inputs, output, bad);
}

void Inspector::on_backward_node(std::span<Node* const> pass, std::size_t i, const Tensor& grad_output,
                                 std::span<const Tensor> grad_inputs) {
  if (state.anomaly)
    for (std::size_t k = 0; k < grad_inputs.size(); ++k)
      if (const int64_t bad = pass[i]->edges()[k].requires_grad() ? first_non_finite(grad_inputs[k]) : -1; bad >= 0)
        backward_anomaly(pass, i, grad_output, k, grad_inputs[k], bad);
  if (state.trace) state.trace->on_node(pass, i, grad_output, grad_inputs);
}

void Inspector::on_leaf_grad(const TensorImpl& leaf, const Tensor& grad) {
  if (state.trace) state.trace->on_leaf(leaf, grad);
}

// ---------------------------------------------------------------- chain-rule lines

bool close_to(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || !(a.shape() == b.shape())) return false;
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  const double rtol = a.dtype() == Dtype::float64 && b.dtype() == Dtype::float64 ? 1e-9 : 1e-4;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::fabs(x[i] - y[i]) <= rtol * (1.0 + std::fabs(y[i])))) return false;
  return true;
}

}  // namespace

// ---------------------------------------------------------------- modes

InspectGuard::InspectGuard(bool on) : prev_(state.inspect) {
  state.inspect = on;
  update_observer();
}
InspectGuard::~InspectGuard() {
  state.inspect = prev_;
  update_observer();
}
bool inspect_enabled() { return state.inspect; }

AnomalyGuard::AnomalyGuard(bool on) : prev_(state.anomaly) {
  state.anomaly = on;
  update_observer();
}
AnomalyGuard::~AnomalyGuard() {
  state.anomaly = prev_;
  update_observer();
}
bool anomaly_enabled() { return state.anomaly; }

// ---------------------------------------------------------------- values

std::string format_values(const Tensor& t, int precision, int64_t max_values) {
  if (!t.defined()) return "<undefined>";
  if (t.numel() > max_values) return shape_dtype(t);
  const std::vector<double> v = t.to_vector<double>();
  std::string out;
  int64_t pos = 0;
  nested(out, v, t.shape(), 0, pos, precision, t.dtype() == Dtype::int64);
  return out;
}

// ---------------------------------------------------------------- the tape

std::vector<TapeEntry> describe_tape(const Tensor& root) {
  if (!root.defined()) throw ValueError("describe_tape: the tensor is undefined");
  const TapeView view(root);
  std::vector<TapeEntry> out;
  for (std::size_t i = 0; i < view.nodes().size(); ++i) out.push_back(view.entry(i));
  return out;
}

void print_tape(const Tensor& root, std::ostream& os, const InspectOptions& o) {
  if (!root.defined()) throw ValueError("print_tape: the tensor is undefined");
  const TapeView view(root);
  const auto& nodes = view.nodes();
  const std::string name = view.root_label();
  if (nodes.empty()) {
    os << "tape of " << name << ": empty (" << (root.requires_grad() ? "a leaf" : "no op was recorded: nothing requires grad")
       << ")\n";
    return;
  }
  std::vector<TapeEntry> entries;
  for (std::size_t i = 0; i < nodes.size(); ++i) entries.push_back(view.entry(i));
  os << "tape of " << name << ": " << nodes.size() << " op" << (nodes.size() == 1 ? "" : "s") << " in recording order\n";
  // The leaves and constants first, once each, in order of first use.
  std::vector<std::string> seen;
  bool header = false;
  for (const TapeEntry& e : entries)
    for (const TapeInput& in : e.inputs) {
      if (in.producer_step || !in.shape_known || with_shape(in) == in.label) continue;
      if (std::find(seen.begin(), seen.end(), in.label) != seen.end()) continue;
      seen.push_back(in.label);
      if (!header) os << "leaves and constants:\n";
      header = true;
      os << "  " << in.label << " " << in.shape.str() << (in.is_leaf ? " requires grad" : " constant");
      if (o.values && in.value.defined() && in.value.numel() <= o.max_values)
        os << " = " << format_values(in.value, o.precision, o.max_values);
      os << "\n";
    }
  const std::size_t width = std::to_string(entries.size()).size();
  for (const TapeEntry& e : entries) {
    const std::string step = std::to_string(e.step);
    os << "step " << std::string(width - step.size(), ' ') << step << "  " << e.op << "(";
    for (std::size_t k = 0; k < e.inputs.size(); ++k) os << (k ? ", " : "") << with_shape(e.inputs[k]);
    os << ") -> " << e.output << " " << e.shape.str();
    if (o.values && e.value.defined() && e.value.numel() <= o.max_values)
      os << " = " << format_values(e.value, o.precision, o.max_values);
    os << "\n";
    if (o.formulas && !e.formula.empty()) os << std::string(width + 7, ' ') << e.formula << "\n";
  }
}

std::string tape_string(const Tensor& root, const InspectOptions& o) {
  std::ostringstream s;
  print_tape(root, s, o);
  return s.str();
}

// ---------------------------------------------------------------- the trace

std::optional<ChainRuleLine> BackwardStep::explanation(std::size_t k, const InspectOptions& o) const {
  if (k >= grad_inputs.size() || !grad_inputs[k].defined() || !node || !node->info().explain) return std::nullopt;
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
  auto fmt = [&](const Tensor& t) { return o.values ? format_values(t, o.precision, o.max_values) : shape_dtype(t); };
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
    os << "; d" << root << "/d" << root << " = " << format_values(steps.front().grad_output, o.precision, o.max_values);
  os << "\n";
  for (const BackwardStep& s : steps) os << s.str(o);
  if (!leaves.empty()) os << "leaf gradients (.grad after this backward):\n";
  for (const LeafGradient& l : leaves) {
    os << "  " << l.label << ".grad = " << format_values(l.accumulated.defined() ? l.accumulated : l.grad, o.precision, o.max_values);
    if (l.accumulated_onto_earlier)
      os << "  (this pass: " << format_values(l.grad, o.precision, o.max_values) << ", added to the earlier .grad)";
    os << "\n";
  }
}

std::string BackwardTrace::str(const InspectOptions& o) const {
  std::ostringstream s;
  print(s, o);
  return s.str();
}

BackwardTrace backward_trace(const Tensor& root, const Tensor& grad, bool retain_graph, const BackwardStepCallback& on_step) {
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

void dump_tape(const Tensor& root) { print_tape(root, std::cerr); }
void dump_backward(const Tensor& root) { backward_trace(root, Tensor(), true).print(std::cerr); }

// ---------------------------------------------------------------- DOT

namespace {
std::string escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    if (c == '\n') {
      r += "\\n";
      continue;
    }
    r += c;
  }
  return r;
}
}  // namespace

std::string to_dot(const Tensor& root, const DotOptions& o) {
  if (!root.defined()) throw ValueError("to_dot: the tensor is undefined");
  const TapeView view(root);
  std::unordered_map<const Node*, const BackwardStep*> grad_of;  // node -> the step that received dL/d(its output)
  if (o.trace)
    for (const BackwardStep& s : o.trace->steps) grad_of[s.node.get()] = &s;
  auto fmt = [&](const Tensor& t) { return format_values(t, o.precision, o.max_values); };
  std::ostringstream d;
  d << "digraph xgrad {\n"
    << "  graph [rankdir=" << (o.rankdir == "LR" ? "LR" : "TB") << ", fontname=\"Helvetica\", fontsize=11, nodesep=0.3, ranksep=0.4";
  if (!o.title.empty()) d << ", label=\"" << escape(o.title) << "\", labelloc=t";
  d << "];\n"
    << "  node [fontname=\"Helvetica\", fontsize=10];\n"
    << "  edge [arrowsize=0.7];\n";
  std::unordered_map<const TensorImpl*, std::string> leaf_ids;
  int next_leaf = 0;
  auto tensor_label = [&](const std::string& label, const Shape& s, const Tensor& value, const Tensor& grad) {
    std::string l = label + "\n" + s.str();
    if (o.values && value.defined()) l += "\nvalue " + fmt(value);
    if (o.grads && grad.defined()) l += "\ngrad " + fmt(grad);
    return l;
  };
  for (std::size_t i = 0; i < view.nodes().size(); ++i) {
    const Node& n = *view.nodes()[i];
    const std::string op_id = tag("op", static_cast<std::size_t>(i + 1));
    d << "  " << op_id << " [shape=ellipse, style=filled, fillcolor=\"#fff2cc\", label=\"step " << i + 1 << "\\n"
      << escape(n.name()) << "\"];\n";
    for (std::size_t k = 0; k < n.num_inputs(); ++k) {
      const TapeInput in = view.input(n, k);
      std::string id;
      if (in.producer_step) {
        id = tag("t", static_cast<std::size_t>(in.producer_step));
      } else {
        const Edge& e = n.edges()[k];
        const auto* a = annotation_of(n);
        const TensorImpl* impl = e.leaf ? e.leaf.get() : a && k < a->inputs.size() ? a->inputs[k].get() : nullptr;
        auto it = impl ? leaf_ids.find(impl) : leaf_ids.end();
        if (it != leaf_ids.end()) {
          id = it->second;
        } else {
          id = tag("v", static_cast<std::size_t>(++next_leaf));
          if (impl) leaf_ids[impl] = id;
          const Tensor grad = in.is_leaf && impl && impl->grad ? Tensor(impl->grad) : Tensor();
          const std::string style = in.is_leaf ? "shape=box, style=\"filled,bold\", fillcolor=\"#cfe2ff\""
                                               : "shape=box, style=\"dashed\", color=\"#888888\", fontcolor=\"#555555\"";
          const std::string label = in.shape_known ? tensor_label(in.label, in.shape, in.is_leaf ? in.value : in.value, grad)
                                                   : std::string("constant\n(shape unknown)");
          d << "  " << id << " [" << style << ", label=\"" << escape(label) << "\"];\n";
        }
      }
      d << "  " << id << " -> " << op_id << ";\n";
    }
    const bool is_root = root.grad_fn().get() == &n;
    const std::string out_id = tag("t", static_cast<std::size_t>(i + 1));
    auto g = grad_of.find(&n);
    const Tensor grad = g != grad_of.end() ? g->second->grad_output : Tensor();
    d << "  " << out_id << " [shape=box, "
      << (is_root ? "style=\"filled,bold\", fillcolor=\"#ffe699\"" : "style=\"rounded\"") << ", label=\""
      << escape(tensor_label(view.output_label(n), n.output_shape(), view.output_value(n), grad)) << "\"];\n";
    d << "  " << op_id << " -> " << out_id << ";\n";
  }
  if (view.nodes().empty())
    d << "  v0 [shape=box, label=\"" << escape(tensor_label(view.root_label(), root.shape(), root, root.grad())) << "\"];\n";
  d << "}\n";
  return d.str();
}

namespace {
bool find_in_path(const std::string& prog) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream ss(path);
  for (std::string dir; std::getline(ss, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + prog).c_str(), X_OK) == 0) return true;
  return false;
}

// Runs argv without a shell; true when it exits with status 0.
bool run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
}  // namespace

RenderResult render_graph(const Tensor& root, const std::string& path, const DotOptions& o) {
  RenderResult r;
  const std::size_t dot_pos = path.find_last_of('.');
  const std::size_t slash = path.find_last_of('/');
  const bool has_ext = dot_pos != std::string::npos && (slash == std::string::npos || dot_pos > slash);
  const std::string base = has_ext ? path.substr(0, dot_pos) : path;
  const std::string ext = has_ext ? path.substr(dot_pos + 1) : "";
  r.dot_path = base + ".dot";
  {
    std::ofstream f(r.dot_path);
    if (!f) throw IOError("render_graph: cannot write " + r.dot_path);
    f << to_dot(root, o);
    if (!f) throw IOError("render_graph: error writing " + r.dot_path);
  }
  if (ext.empty() || ext == "dot") {
    r.message = "wrote " + r.dot_path;
    return r;
  }
  const std::string how = "dot -T" + ext + " " + r.dot_path + " -o " + path;
  if (!find_in_path("dot")) {
    r.message = "wrote " + r.dot_path + "; graphviz's `dot` is not installed, so render it with `" + how +
                "` once it is (Debian: apt-get install graphviz)";
    std::cerr << r.message << "\n";
    return r;
  }
  if (!run({"dot", "-T" + ext, r.dot_path, "-o", path})) {
    r.message = "wrote " + r.dot_path + "; `" + how + "` failed";
    std::cerr << r.message << "\n";
    return r;
  }
  r.rendered = true;
  r.image_path = path;
  r.message = "wrote " + r.dot_path + " and rendered " + path;
  return r;
}

}  // namespace xg
