#pragma once
/// @file inspect_internal.hpp
/// @brief Internal to the inspection tools (tools/*.cpp): the per-node annotation InspectGuard
/// keeps, the per-thread switches, the labelled view of a tape every printer uses, and the
/// collector of one backward_trace. Not installed.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/node.hpp"
#include "xgrad/autograd/tools/inspect.hpp"

namespace xg::inspect_detail {

// What InspectGuard keeps per recorded op: the inputs (strongly: they are printed, and a
// temporary input would otherwise be gone) and the output (weakly: it owns the node).
struct InspectAnnotation final : NodeAnnotation {
  std::vector<std::shared_ptr<TensorImpl>> inputs;
  std::weak_ptr<TensorImpl> output;
};

inline const InspectAnnotation* annotation_of(const Node& n) {
  return dynamic_cast<const InspectAnnotation*>(n.annotation());
}
void annotate(Node& node, std::span<const Tensor> inputs, const Tensor& output);

// Formatting (tape_view.cpp).
std::string number(double v, int precision);
void nested(std::string& out, const std::vector<double>& v, const Shape& s, int axis, int64_t& pos,
            int precision, bool integral);
std::string tag(const char* prefix, std::size_t n);
/// "{min -3.1, max 2.9, mean 0.01, std 1, norm 224}" (std as torch.std: with n - 1).
std::string summary_stats(const Tensor& t, int precision);
/// Index of the first NaN or Inf element, or -1.
int64_t first_non_finite(const Tensor& t);
std::string unravel(int64_t flat, const Shape& s);
double element(const Tensor& t, int64_t i);
/// Equal shapes and values within 1e-9 (float64) or 1e-4 relative.
bool close_to(const Tensor& a, const Tensor& b);

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
    if (!root_is_loss_ && root_.defined() && root_.grad_fn())
      return tag("t", static_cast<std::size_t>(step(root_.grad_fn().get())));
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

  TapeInput input(const Node& n, std::size_t k) const;  // (tape_view.cpp)

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
    e.scope = n.scope();
    if (e.scope) e.scope_path = scope_info(e.scope).path;
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
        if (e.leaf)
          assign(e.leaf, leaves, consts);
        else if (a && k < a->inputs.size())
          assign(a->inputs[k], leaves, consts);
      }
    }
  }
  void assign(const std::shared_ptr<TensorImpl>& impl, int& leaves, int& consts) {
    if (!impl || !impl->name.empty() || leaf_labels_.count(impl.get())) return;
    if (std::string n = display_name(impl.get()); !n.empty())  // a parameter or buffer of a model
      leaf_labels_[impl.get()] = std::move(n);
    else if (impl->requires_grad)
      leaf_labels_[impl.get()] = tag("leaf", static_cast<std::size_t>(++leaves));
    else if (impl->shape.numel() == 1)
      leaf_labels_[impl.get()] = format_values(Tensor(impl), 4, 1);
    else
      leaf_labels_[impl.get()] = tag("const", static_cast<std::size_t>(++consts));
  }

  Tensor root_;
  bool root_is_loss_ = true;
  std::vector<std::shared_ptr<Node>> nodes_;
  std::unordered_map<const Node*, int> step_;
  std::unordered_map<const TensorImpl*, std::string> leaf_labels_;
};

std::string with_shape(const TapeInput& in);

// ---------------------------------------------------------------- module calls, collapsed

// A run of consecutive tape steps recorded inside one module call (collapse_depth): steps
// first..last (1-based), the module's scope, the tensors that enter it from outside (without its
// parameters, which are counted) and those it hands on (used by a later step outside it, or the
// root). A step outside any module deep enough is a group of its own with scope 0.
struct StepGroup {
  int first = 0, last = 0;
  ScopeId scope = 0;
  std::string path, type;
  std::vector<TapeInput> inputs;
  int parameters = 0;
  std::vector<std::size_t> outputs;  // indices into the entries: steps whose output leaves the group
  bool collapsed() const { return scope != 0; }
};
std::vector<StepGroup> group_steps(const std::vector<TapeEntry>& entries, int depth, bool composites);
/// The call a step recorded in `scope` is collapsed into (0: none): its module at most `depth`
/// deep (depth > 0; a composite's ops count as its module's), or, with `composites`, the outermost composite
/// op call it lies in when that is not inside the former (a composite is collapsed whole or not at all).
ScopeId group_key(ScopeId scope, int depth, bool composites);
/// "t2 [2] from 'sub' (step 2)", "W1 [2, 2] (a leaf)", "0.5 (a constant)"
std::string provenance(const TapeInput& in);

// The graph (dot.cpp): to_dot's text; tensor_ids (optional) receives the DOT node id of each
// leaf and constant ("v1", ...; an op is "op<step>", its output "t<step>").
std::string dot_graph(const Tensor& root, const DotOptions& o,
                      std::unordered_map<const TensorImpl*, std::string>* tensor_ids);
/// True when prog is an executable on the PATH.
bool find_in_path(const std::string& prog);
/// Runs argv without a shell; true when it exits with status 0.
bool run(const std::vector<std::string>& args);

class TraceCollector;

// What is on, on this thread (inspect.cpp).
struct ThreadState {
  bool inspect = false;
  bool anomaly = false;
  TraceCollector* trace = nullptr;
};
extern thread_local ThreadState state;
/// Installs the observer while anything is on, removes it otherwise.
void update_observer();

// Anomaly mode's errors (anomaly.cpp).
[[noreturn]] void forward_anomaly(Node& node, std::span<const Tensor> inputs, const Tensor& output,
                                  int64_t bad);
[[noreturn]] void backward_anomaly(std::span<Node* const> pass, std::size_t i, const Tensor& grad_output,
                                   std::size_t k, const Tensor& gk, int64_t bad);

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
    if (n.scope()) s.scope_path = scope_info(n.scope()).path;
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

}  // namespace xg::inspect_detail
