#pragma once
/// @file node.hpp
/// @brief The tape. Every op applied in grad mode to an input that requires grad records a Node:
/// the op, edges to the nodes (or leaves) its inputs came from, what backward needs, and a
/// sequence number that grows in recording order. Nodes are owned by the tensors they produced,
/// so a graph lives exactly as long as something refers to it and graphs never interfere.
/// Replaying nodes in decreasing sequence number is a valid reverse topological order.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/tape/forward_ad.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/op_info.hpp"
#include "xgrad/autograd/tape/scope.hpp"
#include "xgrad/autograd/tensor/object_pool.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

/// Where the gradient for one input goes: the node that produced it, or the leaf itself.
/// Both empty: that input does not require grad.
struct Edge {
  std::shared_ptr<Node> fn;
  std::shared_ptr<TensorImpl> leaf;
  uint32_t output_nr = 0;  ///< which of fn's outputs the input is (multi-output nodes)
  bool requires_grad() const { return fn || leaf; }
};

/// The edges of a node: up to two inline (most ops), more on the heap (concat, custom ops).
class EdgeList {
 public:
  EdgeList() = default;
  explicit EdgeList(std::size_t n) : n_(n) {
    if (n > kInline) heap_ = std::make_unique<Edge[]>(n);
  }
  EdgeList(EdgeList&&) noexcept = default;
  EdgeList& operator=(EdgeList&&) noexcept = default;
  std::size_t size() const { return n_; }
  Edge* begin() { return heap_ ? heap_.get() : inline_; }
  Edge* end() { return begin() + n_; }
  const Edge* begin() const { return heap_ ? heap_.get() : inline_; }
  const Edge* end() const { return begin() + n_; }
  Edge& operator[](std::size_t i) { return begin()[i]; }
  const Edge& operator[](std::size_t i) const { return begin()[i]; }

 private:
  static constexpr std::size_t kInline = 2;
  Edge inline_[kInline];
  std::unique_ptr<Edge[]> heap_;
  std::size_t n_ = 0;
};

/// A tensor kept for backward. It remembers the storage version at save time, so that an in-place
/// write before backward is caught. A node's own output is kept without its grad_fn (no cycle)
/// and re-attached to the node on unpack, so that create_graph can differentiate through it.
class SavedTensor {
 public:
  SavedTensor() = default;
  /// `output_nr`: for an output, which of the saving node's outputs it is.
  SavedTensor(const Tensor& t, bool is_output, uint32_t output_nr = 0);
  /// The tensor, checked against in-place modification; `owner` is the node that saved it.
  Tensor unpack(const Node& owner) const;
  bool defined() const { return impl_ || storage_; }

 private:
  std::shared_ptr<TensorImpl> impl_;  // inputs: the tensor itself (with its grad_fn)
  std::shared_ptr<Storage> storage_;  // outputs: just the values, re-wrapped on unpack
  Shape shape_;
  uint64_t saved_version_ = 0;
  Dtype dtype_ = Dtype::float32;
  uint32_t output_nr_ = 0;
  bool is_output_ = false;
};
inline SavedTensor save_input(const Tensor& t) {
  return SavedTensor(t, false);
}
inline SavedTensor save_output(const Tensor& t) {
  return SavedTensor(t, true);
}

/// Extra data the inspection tools (autograd/tools/inspect.hpp) attach to a node while they are on
/// (input and output tensors, for printing). The core never reads it.
struct NodeAnnotation {
  virtual ~NodeAnnotation() = default;
};

/// Watches recording and backward for the inspection tools (autograd/tools/inspect.hpp): the printed
/// tape's names and values, the step-by-step backward trace, anomaly mode. Installed per thread
/// in detail::tape_observer; while none is (the default), each op pays one predictable branch.
class TapeObserver {
 public:
  virtual ~TapeObserver() = default;
  /// `node` was just recorded as the producer of `output` from `inputs`.
  virtual void on_record(Node& node, std::span<const Tensor> inputs, const Tensor& output) = 0;
  /// The engine ran node pass[i] of a backward pass (`pass`: the nodes replayed, in decreasing
  /// sequence number, so pass[i] is tape step pass.size() - i): it received `grad_output` and
  /// sent grad_inputs[k] to input k (undefined: no gradient).
  virtual void on_backward_node(std::span<Node* const> pass, std::size_t i, const Tensor& grad_output,
                                std::span<const Tensor> grad_inputs) = 0;
  /// The pass's total gradient `grad` for `leaf` was accumulated into leaf.grad (backward) or
  /// returned (xg::grad).
  virtual void on_leaf_grad(const TensorImpl& leaf, const Tensor& grad) = 0;
};
namespace detail {
// initial-exec: a plain %fs-relative load in the shared library too, no __tls_get_addr call per op.
[[gnu::tls_model("initial-exec")]] extern constinit thread_local TapeObserver* tape_observer;
}  // namespace detail

/// @brief One recorded op: any number of inputs, one output (almost all ops) or several (custom
/// ops). Output 0 is described inline; outputs 1.. of a multi-output node live in `extra_`, so a
/// single-output node pays one pointer and the engine one predictable branch for them.
class Node : public std::enable_shared_from_this<Node> {
 public:
  Node(const OpInfo& info, EdgeList edges, const Tensor& output);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const OpInfo& info() const { return *info_; }
  const char* name() const { return info_->name; }
  uint64_t sequence_nr() const { return seq_; }
  std::span<const Edge> edges() const { return {edges_.begin(), edges_.size()}; }
  std::size_t num_inputs() const { return edges_.size(); }
  bool needs_input_grad(std::size_t i) const { return edges_[i].requires_grad(); }
  std::size_t num_outputs() const { return extra_ ? 1 + extra_->size() : 1; }
  const Shape& output_shape(std::size_t k = 0) const { return k == 0 ? out_shape_ : (*extra_)[k - 1].shape; }
  Dtype output_dtype(std::size_t k = 0) const { return k == 0 ? out_dtype_ : (*extra_)[k - 1].dtype; }
  bool released() const { return released_; }
  /// The scalar arguments recorded for the op's explanation (OpAttrs).
  const OpAttrs& attrs() const { return attrs_; }
  void set_attrs(const OpAttrs& a) { attrs_ = a; }
  /// The scope the op was recorded in (scope.hpp: the module, the time step; 0 for none).
  ScopeId scope() const { return scope_; }

  /// Computes the gradient for each input from the gradient of the output. grads has
  /// num_inputs() slots; a slot left undefined means "no gradient". Throws after release.
  void apply(const Tensor& grad_output, std::span<Tensor> grads);
  /// The same for a multi-output node: one gradient per output (undefined: none reached it).
  void apply_outputs(std::span<Tensor> grad_outputs, std::span<Tensor> grads);
  /// Frees what backward needed (saved tensors); called after a backward without retain_graph.
  void release();

  /// Hooks on the gradient of output k (the hooks of the non-leaf tensor it produced).
  std::vector<TensorHookEntry>& pre_hooks(std::size_t k = 0) {
    return k == 0 ? pre_hooks_ : (*extra_)[k - 1].pre_hooks;
  }
  /// Slot for the inspection tools' per-node data (empty unless they were on at recording).
  std::unique_ptr<NodeAnnotation>& annotation() { return annotation_; }
  const NodeAnnotation* annotation() const { return annotation_.get(); }

  /// Forward mode: the tangent of output k at the current dual level (undefined if none), kept so
  /// that an output saved for backward is unpacked with it (forward-over-reverse, xg::hvp).
  Tensor output_tangent(uint32_t k) const;
  void set_output_tangent(uint32_t k, std::shared_ptr<TensorImpl> tangent, uint64_t level);
  void clear_output_tangents();

 protected:
  virtual void backward(const Tensor& grad_output, std::span<Tensor> grads) = 0;
  /// Multi-output nodes override this; the default serves output 0 only.
  virtual void backward_outputs(std::span<Tensor> grad_outputs, std::span<Tensor> grads) {
    backward(grad_outputs[0], grads);
  }
  virtual void release_saved() = 0;
  /// Declares the node's next output (output 0 is the constructor's); returns its index.
  uint32_t add_output(const Tensor& output);
  const OpInfo* info_;

 private:
  friend class Engine;
  struct ExtraOutput {
    Shape shape;
    Dtype dtype;
    std::vector<TensorHookEntry> pre_hooks;
    Tensor grad_accum;  // engine scratch, as grad_accum_
    std::shared_ptr<TensorImpl> fw_tangent;
    uint64_t fw_level = 0;
  };
  Tensor& grad_accum(uint32_t k) { return k == 0 ? grad_accum_ : (*extra_)[k - 1].grad_accum; }
  std::unique_ptr<std::vector<ExtraOutput>> extra_;
  EdgeList edges_;
  std::vector<TensorHookEntry> pre_hooks_;
  std::unique_ptr<NodeAnnotation> annotation_;
  Shape out_shape_;
  OpAttrs attrs_;
  std::shared_ptr<TensorImpl> fw_tangent_;  // output 0's tangent (forward mode), dropped at level exit
  uint64_t fw_level_ = 0;
  uint64_t seq_;
  Dtype out_dtype_;
  bool released_ = false;
  ScopeId scope_;  // (in the padding before visit_mark_: the node does not grow)
  // engine scratch, valid during one backward pass
  uint64_t visit_mark_ = 0;
  Tensor grad_accum_;
};

/// A node whose backward is a lambda; the lambda's captures are exactly what is saved.
/// Signature of F: void(const Node& self, const Tensor& grad_output, std::span<Tensor> grads).
template <class F>
class LambdaNode final : public Node {
 public:
  LambdaNode(const OpInfo& info, EdgeList edges, const Tensor& output, F fn)
      : Node(info, std::move(edges), output), fn_(std::move(fn)) {}

 protected:
  void backward(const Tensor& g, std::span<Tensor> grads) override { (*fn_)(*this, g, grads); }
  void release_saved() override { fn_.reset(); }

 private:
  std::optional<F> fn_;
};

/// True when an op on these inputs must be recorded: grad mode is on and one of them requires grad.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(std::span<const Tensor> inputs);
EdgeList collect_edges(std::span<const Tensor> inputs);

namespace detail {
template <class F>
void record_node(const OpInfo& info, const Tensor& output, std::span<const Tensor> inputs, F&& backward,
                 const OpAttrs& attrs) {
  if (!GradMode::is_enabled() || !any_requires_grad(inputs)) return;
  auto node = make_pooled<LambdaNode<std::decay_t<F>>>(info, collect_edges(inputs), output,
                                                       std::forward<F>(backward));
  Node& recorded = *node;
  if (attrs.size) recorded.set_attrs(attrs);
  output.impl()->grad_fn = std::move(node);
  output.impl()->output_nr = 0;
  output.impl()->requires_grad = true;
  if (detail::tape_observer) [[unlikely]]
    detail::tape_observer->on_record(recorded, inputs, output);
  if (capture_detail::recorder) [[unlikely]]
    capture_detail::check_output(info.name, output);
}
// Calls the JVP rule on the inputs' tangents (undefined: none) and sets the output's tangent.
template <class J>
void apply_jvp(const Tensor& output, std::span<const Tensor> inputs, J& jvp) {
  if (!any_tangent(inputs)) return;
  std::vector<Tensor> t(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) t[i] = tangent_of(inputs[i]);
  Tensor r;
  {
    JvpRuleGuard off;
    r = jvp(std::span<const Tensor>(t));
  }
  set_tangent(output, r);
}
}  // namespace detail

/// Records `output` as produced by op `info` from `inputs` with the given backward lambda,
/// when grad mode is on and an input requires grad; otherwise does nothing. Returns output.
/// `attrs`: the op's scalar arguments, for its explanation (see OpAttrs). Without a JVP rule, an
/// input carrying a tangent (forward_ad.hpp) throws "op has no JVP rule".
template <class F>
Tensor record(const OpInfo& info, const Tensor& output, std::span<const Tensor> inputs, F&& backward,
              const OpAttrs& attrs = {}) {
  if (detail::fw_level) [[unlikely]]
    if (detail::any_tangent(inputs)) detail::throw_no_jvp(info.name);
  detail::record_node(info, output, inputs, std::forward<F>(backward), attrs);
  return output;
}
template <class F>
Tensor record(const OpInfo& info, const Tensor& output, std::initializer_list<Tensor> inputs, F&& backward,
              const OpAttrs& attrs = {}) {
  return record(info, output, std::span<const Tensor>(inputs.begin(), inputs.size()),
                std::forward<F>(backward), attrs);
}
/// The same with the op's JVP rule: `jvp(t)` gets one tangent per input (undefined: that input
/// has none, a zero tangent) and returns the output's tangent J t (undefined: zero). It runs
/// synchronously, after the node is recorded, only when an input has a tangent at the current
/// dual level, with tangent propagation off inside and grad mode as it is.
template <class F, class J>
requires std::is_invocable_r_v<Tensor, J&, std::span<const Tensor>> Tensor
record(const OpInfo& info, const Tensor& output, std::span<const Tensor> inputs, F&& backward, J&& jvp,
       const OpAttrs& attrs = {}) {
  detail::record_node(info, output, inputs, std::forward<F>(backward), attrs);
  if (detail::fw_level) [[unlikely]]
    detail::apply_jvp(output, inputs, jvp);
  return output;
}
template <class F, class J>
requires std::is_invocable_r_v<Tensor, J&, std::span<const Tensor>> Tensor
record(const OpInfo& info, const Tensor& output, std::initializer_list<Tensor> inputs, F&& backward, J&& jvp,
       const OpAttrs& attrs = {}) {
  return record(info, output, std::span<const Tensor>(inputs.begin(), inputs.size()),
                std::forward<F>(backward), std::forward<J>(jvp), attrs);
}
/// True when recording would happen for these inputs (lets an op skip saving work).
/// (An input carrying a tangent at the current dual level counts: the JVP rule may need the saved values.)
/// (The inputs are taken by reference: no handle copied, no reference count touched.)
inline bool will_record(std::initializer_list<std::reference_wrapper<const Tensor>> inputs) {
  if (detail::fw_level) [[unlikely]]
    for (const Tensor& t : inputs)
      if (detail::any_tangent({&t, 1})) return true;
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

}  // namespace xg
