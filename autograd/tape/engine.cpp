#include "xgrad/autograd/tape/engine.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <unordered_map>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/ops/elementwise_kernels.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

// ---------------------------------------------------------------- grad mode
namespace {
thread_local bool grad_mode_enabled = true;
std::atomic<uint64_t> next_sequence_nr{1};
std::atomic<uint64_t> next_visit_mark{1};
}  // namespace
bool GradMode::is_enabled() {
  return grad_mode_enabled;
}
void GradMode::set_enabled(bool on) {
  grad_mode_enabled = on;
}

namespace detail {
[[gnu::tls_model("initial-exec")]] constinit thread_local TapeObserver* tape_observer = nullptr;
}

// ---------------------------------------------------------------- nodes
Node::Node(const OpInfo& info, EdgeList edges, const Tensor& output)
    : info_(&info),
      edges_(std::move(edges)),
      out_shape_(output.shape()),
      seq_(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)),
      out_dtype_(output.dtype()),
      scope_(detail::current_scope) {}

// Destroying the last reference to a long chain would recurse once per node (each node owns the
// next through its edges and saved tensors). Instead, a dying node hands the nodes it solely
// owns to a thread-local list, which the outermost destructor drains in a loop.
namespace {
thread_local std::vector<std::shared_ptr<Node>> dying_nodes;
thread_local bool draining = false;

void adopt_if_sole_owner(std::shared_ptr<Node>& n) {
  if (n && n.use_count() == 1) dying_nodes.push_back(std::move(n));
}
void adopt_from_impl(std::shared_ptr<TensorImpl>& impl) {
  if (impl && impl.use_count() == 1) {
    adopt_if_sole_owner(impl->grad_fn);
    if (impl->grad) adopt_from_impl(impl->grad);
  }
}
}  // namespace

Node::~Node() {
  // The inspection tools' annotation may hold this node's inputs: drop it first, so that the
  // nodes the edges solely own are handed over below rather than freed recursively.
  annotation_.reset();
  for (Edge& e : edges_) {
    adopt_if_sole_owner(e.fn);
    adopt_from_impl(e.leaf);
  }
  grad_accum_ = Tensor();
  extra_.reset();
  if (draining) return;
  draining = true;
  while (!dying_nodes.empty()) {
    std::shared_ptr<Node> n = std::move(dying_nodes.back());
    dying_nodes.pop_back();
    n->release();  // saved tensors go first, handing over what they solely own
    n.reset();
  }
  draining = false;
}

void Node::apply(const Tensor& grad_output, std::span<Tensor> grads) {
  if (released_)
    throw ValueError("backward: trying to backward through the graph a second time: the tensors saved by '" +
                     std::string(name()) + "' (step " + std::to_string(seq_) +
                     ") were freed after the first backward; pass retain_graph=true to the first one");
  backward(grad_output, grads);
}

void Node::apply_outputs(std::span<Tensor> grad_outputs, std::span<Tensor> grads) {
  if (released_) apply(Tensor(), grads);  // throws the message above
  backward_outputs(grad_outputs, grads);
}

uint32_t Node::add_output(const Tensor& output) {
  if (!extra_) extra_ = std::make_unique<std::vector<ExtraOutput>>();
  extra_->push_back({output.shape(), output.dtype(), {}, {}, {}, 0});
  return static_cast<uint32_t>(extra_->size());
}

Tensor Node::output_tangent(uint32_t k) const {
  const auto& t = k == 0 ? fw_tangent_ : (*extra_)[k - 1].fw_tangent;
  const uint64_t level = k == 0 ? fw_level_ : (*extra_)[k - 1].fw_level;
  return t && level == detail::fw_level ? Tensor(t) : Tensor();
}
void Node::set_output_tangent(uint32_t k, std::shared_ptr<TensorImpl> tangent, uint64_t level) {
  if (k == 0) {
    fw_tangent_ = std::move(tangent);
    fw_level_ = level;
  } else {
    (*extra_)[k - 1].fw_tangent = std::move(tangent);
    (*extra_)[k - 1].fw_level = level;
  }
  detail::register_tangent_node(*this);
}
void Node::clear_output_tangents() {
  fw_tangent_.reset();
  if (extra_)
    for (auto& x : *extra_) x.fw_tangent.reset();
}

void Node::release() {
  if (released_) return;
  released_ = true;
  release_saved();
}

bool any_requires_grad(std::span<const Tensor> inputs) {
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}
bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  for (const Tensor* t : inputs)
    if (t->requires_grad()) return true;
  return false;
}

EdgeList collect_edges(std::span<const Tensor> inputs) {
  EdgeList edges(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& impl = inputs[i].impl();
    if (!impl || !impl->requires_grad) continue;
    if (impl->grad_fn) {
      edges[i].fn = impl->grad_fn;
      edges[i].output_nr = impl->output_nr;
    } else
      edges[i].leaf = impl;
  }
  return edges;
}

// ---------------------------------------------------------------- saved tensors
SavedTensor::SavedTensor(const Tensor& t, bool is_output, uint32_t output_nr)
    : output_nr_(output_nr), is_output_(is_output) {
  if (!t.defined()) return;
  saved_version_ = t.impl()->storage->version;
  if (is_output) {  // keep the values only: the output's grad_fn is the saving node itself
    storage_ = t.impl()->storage;
    shape_ = t.shape();
    dtype_ = t.dtype();
  } else {
    impl_ = t.impl();
  }
}

Tensor SavedTensor::unpack(const Node& owner) const {
  const auto& storage = is_output_ ? storage_ : impl_->storage;
  if (storage->version != saved_version_)
    throw ValueError(
        "backward: a tensor saved by '" + std::string(owner.name()) + "' (step " +
        std::to_string(owner.sequence_nr()) + ") was modified in place after it was saved (version " +
        std::to_string(storage->version) + ", saved at version " + std::to_string(saved_version_) +
        "), e.g. by an optimizer step between forward and backward");
  if (!is_output_) return Tensor(impl_);
  auto impl = detail::make_pooled<TensorImpl>();
  impl->storage = storage_;
  impl->shape = shape_;
  impl->dtype = dtype_;
  if (GradMode::is_enabled()) {  // create_graph: differentiate through the output too
    impl->grad_fn = const_cast<Node&>(owner).shared_from_this();
    impl->output_nr = output_nr_;
    impl->requires_grad = true;
  }
  if (detail::fw_level) [[unlikely]] {  // forward-over-reverse: the output's tangent too
    if (Tensor t = owner.output_tangent(output_nr_); t.defined()) {
      impl->fw_tangent = t.impl();
      impl->fw_level = detail::fw_level;
      detail::register_tangent_tensor(impl);
    }
  }
  return Tensor(std::move(impl));
}

// ---------------------------------------------------------------- re-entrant passes
// A hook (or a custom backward) may run a backward pass of its own, even on the graph being run;
// but one that does so on every call recurses until the stack overflows. Passes nested deeper
// than this on one thread raise ValueError naming the hook that started them.
namespace {
constexpr int kMaxNestedPasses = 64;
thread_local int nested_passes = 0;

// The hook running on this thread (a leaf's, or one on an output of a node), for that message.
struct HookSite {
  const TensorImpl* leaf = nullptr;
  const Node* node = nullptr;
  uint32_t output_nr = 0;
};
thread_local HookSite running_hook;

std::string describe(const HookSite& h) {
  if (h.leaf)
    return "a hook on the leaf tensor " + (h.leaf->name.empty() ? std::string() : "'" + h.leaf->name + "' ") +
           "of shape " + h.leaf->shape.str();
  if (h.node)
    return "a hook on " +
           (h.node->num_outputs() > 1 ? "output " + std::to_string(h.output_nr) + " of " : std::string("")) +
           "the result of '" + h.node->name() + "' (step " + std::to_string(h.node->sequence_nr()) +
           ") of shape " + h.node->output_shape(h.output_nr).str();
  return "a custom op's backward";
}

struct PassDepth {
  PassDepth() {
    if (nested_passes >= kMaxNestedPasses)
      throw ValueError("backward: " + std::to_string(kMaxNestedPasses) +
                       " backward passes nested on one thread: " + describe(running_hook) +
                       " calls backward or grad, and the pass it starts runs it again, without end; let the "
                       "hook start a pass only once (e.g. behind a flag), or call backward after the pass");
    ++nested_passes;
  }
  ~PassDepth() { --nested_passes; }
  PassDepth(const PassDepth&) = delete;
  PassDepth& operator=(const PassDepth&) = delete;
};

struct HookScope {
  HookSite saved = running_hook;
  explicit HookScope(HookSite site) { running_hook = site; }
  ~HookScope() { running_hook = saved; }
  HookScope(const HookScope&) = delete;
  HookScope& operator=(const HookScope&) = delete;
};
}  // namespace

// ---------------------------------------------------------------- the engine
class Engine {
 public:
  struct Capture {
    TensorImpl* leaf = nullptr;  // capture at a leaf ...
    Node* node = nullptr;        // ... or at the node that produced a non-leaf
    uint32_t output_nr = 0;      // (which of its outputs)
    Tensor grad;
  };

  // Collects the nodes reachable from the roots, deepest first never recursing.
  static std::vector<Node*> reachable(const std::vector<Node*>& roots) {
    const uint64_t mark = next_visit_mark.fetch_add(1, std::memory_order_relaxed);
    std::vector<Node*> order, stack;
    for (Node* r : roots)
      if (r && r->visit_mark_ != mark) {
        r->visit_mark_ = mark;
        stack.push_back(r);
      }
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      order.push_back(n);
      for (const Edge& e : n->edges_)
        if (e.fn && e.fn->visit_mark_ != mark) {
          e.fn->visit_mark_ = mark;
          stack.push_back(e.fn.get());
        }
    }
    // A chain (and many graphs) comes out of the walk already in order: checked in one pass.
    const auto later = [](Node* a, Node* b) { return a->seq_ > b->seq_; };
    if (!std::is_sorted(order.begin(), order.end(), later)) std::sort(order.begin(), order.end(), later);
    return order;
  }

  static Tensor run_hooks(std::vector<TensorHookEntry>& hooks, Tensor g, HookSite site) {
    if (hooks.empty()) return g;
    HookScope scope(site);
    // A snapshot: a hook may remove itself (or another) while it runs.
    const std::vector<TensorHookEntry> snapshot = hooks;
    for (const auto& h : snapshot) {
      Tensor r = h.fn(g);
      if (r.defined()) {
        if (!(r.shape() == g.shape()))
          throw ShapeError("hook: returned a gradient of shape " + r.shape().str() + " for one of shape " +
                           g.shape().str());
        g = r;
      }
    }
    return g;
  }

  static Tensor accumulate(const Tensor& acc, const Tensor& g) { return acc.defined() ? acc + g : g; }

  // acc += g for a running total the pass owns: in place when nothing else holds acc or its
  // storage and no graph is being built (create_graph), so that a leaf or node reached by many
  // paths (a weight used at every time step) costs one loop per contribution, not a new tensor.
  // The same additions in the same order as accumulate, so the same bits.
  static void accumulate_into(Tensor& acc, Tensor g) {
    if (!acc.defined()) {
      acc = std::move(g);
      return;
    }
    // While a step is captured, the total is formed by the add op, whose kernel the plan records
    // (this raw loop has no capture form).
    if (GradMode::is_enabled() || capture_detail::recorder || acc.impl().use_count() != 1 ||
        acc.impl()->storage.use_count() != 1 || acc.dtype() != g.dtype() || !(acc.shape() == g.shape()) ||
        acc.requires_grad()) {
      acc = acc + g;
      return;
    }
    detail::visit_float(acc.dtype(), "backward", [&]<class T>() {
      T* p = acc.data<T>();
      const T* q = g.data<T>();
      detail::parallel_for(acc.numel(), detail::kGrainArith, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) p[i] += q[i];
      });
    });
    ++acc.impl()->storage->version;
  }

  static void accumulate_into_leaf(TensorImpl& leaf, Tensor g, bool create_graph) {
    g = run_hooks(leaf.hooks, std::move(g), {&leaf, nullptr, 0});
    if (!leaf.grad) {
      // Take the buffer when nothing else refers to it; otherwise copy, so that later in-place
      // accumulation never writes into a tensor someone else holds.
      const bool sole = g.impl().use_count() == 1 && g.impl()->storage.use_count() == 1 && !g.grad_fn();
      // A gradient with a graph (create_graph) is kept as is: later accumulation is out of place.
      if (create_graph && g.requires_grad())
        leaf.grad = g.impl();
      else if (sole)
        leaf.grad = g.impl();
      else
        leaf.grad = g.clone().impl();
      return;
    }
    if (create_graph || Tensor(leaf.grad).requires_grad()) {
      leaf.grad = (Tensor(leaf.grad) + g).impl();
    } else {
      Tensor(leaf.grad).add_(g);
    }
  }

  // One backward pass: the nodes it replays and the gradients it has summed for leaves so far.
  struct Pass {
    std::vector<Capture>* captures;  // grad(): the gradients to return; backward(): none
    TapeObserver* obs;               // the inspection tools, usually none
    std::vector<Node*> order;        // the nodes reachable from the outputs, latest recorded first
    // A leaf's contributions are summed over the whole pass first, so that its hooks run once, on
    // its total gradient (as PyTorch's AccumulateGrad), not once per path into the leaf.
    std::vector<std::pair<TensorImpl*, Tensor>> leaf_grads;
    std::unordered_map<TensorImpl*, std::size_t> leaf_slot;
    std::vector<Tensor> grads;  // what the node being run sends to each of its inputs
    // Leaves with hooks are finished as soon as the last node with an edge to them has run (as
    // PyTorch's AccumulateGrad runs when ready), not at the end of the pass: a hook that starts
    // work on the gradient (a data-parallel allreduce) overlaps the rest of backward. Sorted by
    // position in order; next_early is the first not yet finished.
    std::vector<std::pair<std::size_t, TensorImpl*>> early;
    std::size_t next_early = 0;
  };

  // The one backward loop: used by backward() (captures empty) and grad() (captures given).
  static void run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                  bool retain_graph, bool create_graph, std::vector<Capture>* captures) {
    const PassDepth depth;
    check_grad_count(outputs, grad_outputs);
    AutoGradMode mode(create_graph);
    std::vector<Node*> roots;
    const std::vector<Tensor> seeds = seed_gradients(outputs, grad_outputs, roots);
    Pass pass{captures, detail::tape_observer, reachable(roots), {}, {}, {}, {}, 0};
    plan_early_leaves(pass);
    seed_roots(pass, outputs, seeds);
    try {
      for (std::size_t i = 0; i < pass.order.size(); ++i) {
        run_node(pass, i);
        while (pass.next_early < pass.early.size() && pass.early[pass.next_early].first == i)
          [[unlikely]] finish_leaf(pass, pass.early[pass.next_early++].second, create_graph);
      }
    } catch (...) {
      for (Node* n : pass.order) {
        n->grad_accum_ = Tensor();
        if (n->extra_)
          for (auto& x : *n->extra_) x.grad_accum = Tensor();
      }
      throw;
    }
    pass.grads.clear();
    finish_leaves(pass, create_graph);
    if (!retain_graph)
      for (Node* n : pass.order) n->release();
  }

  static void check_grad_count(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs) {
    if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
      throw ValueError("backward: " + std::to_string(grad_outputs.size()) + " gradients for " +
                       std::to_string(outputs.size()) + " outputs");
  }

  // The gradient each output starts from (given, or 1 for a one-element output), checked against
  // the output; the outputs' nodes are appended to roots.
  static std::vector<Tensor> seed_gradients(const std::vector<Tensor>& outputs,
                                            const std::vector<Tensor>& grad_outputs,
                                            std::vector<Node*>& roots) {
    std::vector<Tensor> seeds(outputs.size());
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const Tensor& out = outputs[i];
      if (!out.defined()) throw ValueError("backward: output " + std::to_string(i) + " is undefined");
      if (!out.requires_grad())
        throw ValueError(
            "backward: output " + std::to_string(i) + " of shape " + out.shape().str() +
            " does not require grad (no input of it requires grad, or it was made under NoGradGuard)");
      Tensor seed = grad_outputs.empty() ? Tensor() : grad_outputs[i];
      if (!seed.defined()) {
        if (out.numel() != 1)
          throw ValueError("backward: output " + std::to_string(i) + " has shape " + out.shape().str() +
                           "; a gradient can be implied only for a one-element output, pass grad explicitly");
        seed = ones_like(out);
      } else if (!(seed.shape() == out.shape())) {
        throw ShapeError("backward: gradient of shape " + seed.shape().str() + " for output " +
                         std::to_string(i) + " of shape " + out.shape().str());
      } else if (seed.dtype() != out.dtype()) {
        seed = seed.to(out.dtype());
      }
      seeds[i] = seed;
      roots.push_back(out.grad_fn().get());
    }
    return seeds;
  }

  // Seeds go to the roots' nodes, or straight to leaf outputs.
  static void seed_roots(Pass& pass, const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds) {
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const auto& impl = outputs[i].impl();
      if (impl->grad_fn) {
        Tensor& acc = impl->grad_fn->grad_accum(impl->output_nr);
        acc = accumulate(acc, seeds[i]);
      } else {
        add_to_leaf(pass, impl.get(), seeds[i]);
      }
    }
  }

  // Runs node pass.order[i] on the gradient summed for its output, if any, and delivers what it
  // computes for its inputs. This and deliver are the steps of run's loop, inlined into it (as
  // calls, they cost a pass of 25 small nodes 5% more instructions in the engine).
  [[gnu::always_inline]] static void run_node(Pass& pass, std::size_t i) {
    Node* n = pass.order[i];
    if (n->extra_) [[unlikely]] {
      run_multi_output_node(pass, i);
      return;
    }
    Tensor g = std::move(n->grad_accum_);
    n->grad_accum_ = Tensor();
    if (!g.defined()) return;
    if (!n->pre_hooks_.empty()) g = run_hooks(n->pre_hooks_, std::move(g), {nullptr, n, 0});
    if (pass.captures)
      for (auto& c : *pass.captures)
        if (c.node == n && c.output_nr == 0) c.grad = accumulate(c.grad, g);
    pass.grads.assign(n->edges_.size(), Tensor());
    n->apply(g, pass.grads);
    deliver(pass, *n);
    if (pass.obs) [[unlikely]]
      pass.obs->on_backward_node(pass.order, i, g, pass.grads);
  }

  // run_node for a node with several outputs: each output's gradient goes through that output's
  // hooks and captures; the node runs once, on all of them, if any output got one.
  static void run_multi_output_node(Pass& pass, std::size_t i) {
    Node* n = pass.order[i];
    std::vector<Tensor> gs(n->num_outputs());
    Tensor first;
    for (uint32_t k = 0; k < gs.size(); ++k) {
      Tensor& acc = n->grad_accum(k);
      gs[k] = std::move(acc);
      acc = Tensor();
      if (!gs[k].defined()) continue;
      if (!n->pre_hooks(k).empty()) gs[k] = run_hooks(n->pre_hooks(k), std::move(gs[k]), {nullptr, n, k});
      if (pass.captures)
        for (auto& c : *pass.captures)
          if (c.node == n && c.output_nr == k) c.grad = accumulate(c.grad, gs[k]);
      if (!first.defined()) first = gs[k];
    }
    if (!first.defined()) return;
    pass.grads.assign(n->edges_.size(), Tensor());
    n->apply_outputs(gs, pass.grads);
    deliver(pass, *n);
    if (pass.obs) [[unlikely]]
      pass.obs->on_backward_node(pass.order, i, first, pass.grads);
  }

  // Checks each gradient n computed for an input (shape, dtype) and adds it to that input's node,
  // or to its leaf's total.
  [[gnu::always_inline]] static void deliver(Pass& pass, const Node& n) {
    for (std::size_t k = 0; k < n.edges_.size(); ++k) {
      const Edge& e = n.edges_[k];
      Tensor& gk = pass.grads[k];
      if (!gk.defined() || !e.requires_grad()) continue;
      const Shape& want = e.fn ? e.fn->output_shape(e.output_nr) : e.leaf->shape;
      if (!(gk.shape() == want))
        throw ValueError("backward: '" + std::string(n.name()) + "' (step " + std::to_string(n.seq_) +
                         ") produced a gradient of shape " + gk.shape().str() + " for input " +
                         std::to_string(k) + " of shape " + want.str());
      const Dtype want_dtype = e.fn ? e.fn->output_dtype(e.output_nr) : e.leaf->dtype;
      if (gk.dtype() != want_dtype) gk = gk.to(want_dtype);
      if (e.fn) {
        accumulate_into(e.fn->grad_accum(e.output_nr), pass.obs ? gk : std::move(gk));
      } else if (pass.obs) {
        add_to_leaf(pass, e.leaf.get(), gk);  // the observer reads grads[k] after the node
      } else {
        add_to_leaf(pass, e.leaf.get(), std::move(gk));
      }
    }
  }

  // Adds g to leaf's total (grad() sums only the leaves it returns).
  static void add_to_leaf(Pass& pass, TensorImpl* leaf, Tensor g) {
    if (pass.captures && std::none_of(pass.captures->begin(), pass.captures->end(),
                                      [&](const Capture& c) { return c.leaf == leaf; }))
      return;
    auto [it, fresh] = pass.leaf_slot.try_emplace(leaf, pass.leaf_grads.size());
    if (fresh)
      pass.leaf_grads.emplace_back(leaf, std::move(g));
    else
      accumulate_into(pass.leaf_grads[it->second].second, std::move(g));
  }

  // For each leaf with hooks, the position of the last node in the pass with an edge to it.
  static void plan_early_leaves(Pass& pass) {
    std::unordered_map<TensorImpl*, std::size_t> last;
    for (std::size_t i = 0; i < pass.order.size(); ++i)
      for (const Edge& e : pass.order[i]->edges_)
        if (e.leaf && !e.leaf->hooks.empty()) [[unlikely]]
          last[e.leaf.get()] = i;
    if (last.empty()) return;
    for (const auto& [leaf, i] : last) pass.early.emplace_back(i, leaf);
    std::sort(pass.early.begin(), pass.early.end());
  }

  // The leaf's total so far (all of it: no node left in the pass reaches it), finished now.
  static void finish_leaf(Pass& pass, TensorImpl* leaf, bool create_graph) {
    auto it = pass.leaf_slot.find(leaf);
    if (it == pass.leaf_slot.end()) return;  // no gradient reached it
    auto& entry = pass.leaf_grads[it->second];
    finish_one(pass, entry.first, std::move(entry.second), create_graph);
    entry.first = nullptr;  // finish_leaves skips it
  }

  // Each leaf's total, through its hooks: returned (grad()) or accumulated into leaf.grad
  // (backward()).
  static void finish_leaves(Pass& pass, bool create_graph) {
    for (auto& [leaf, g] : pass.leaf_grads)
      if (leaf) finish_one(pass, leaf, std::move(g), create_graph);
  }
  static void finish_one(Pass& pass, TensorImpl* leaf, Tensor g, bool create_graph) {
    {
      if (pass.captures) {
        const Tensor h = run_hooks(leaf->hooks, std::move(g), {leaf, nullptr, 0});
        for (auto& c : *pass.captures)
          if (c.leaf == leaf) c.grad = accumulate(c.grad, h);
        if (pass.obs) [[unlikely]]
          pass.obs->on_leaf_grad(*leaf, h);
      } else if (pass.obs) [[unlikely]] {
        const Tensor total = g;
        accumulate_into_leaf(*leaf, std::move(g), create_graph);
        pass.obs->on_leaf_grad(*leaf, total);
      } else {
        accumulate_into_leaf(*leaf, std::move(g), create_graph);
      }
    }
  }
};

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              bool create_graph) {
  Engine::run(outputs, grad_outputs, retain_graph || create_graph, create_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph,
                         bool create_graph, bool allow_unused) {
  std::vector<Engine::Capture> captures(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    if (!in.defined() || !in.requires_grad())
      throw ValueError("grad: input " + std::to_string(i) + " does not require grad");
    if (in.grad_fn()) {
      captures[i].node = in.grad_fn().get();
      captures[i].output_nr = in.impl()->output_nr;
    } else
      captures[i].leaf = in.get();
  }
  Engine::run(outputs, grad_outputs, retain_graph.value_or(create_graph), create_graph, &captures);
  std::vector<Tensor> result(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!captures[i].grad.defined() && !allow_unused)
      throw ValueError(
          "grad: input " + std::to_string(i) + " of shape " + inputs[i].shape().str() +
          " is not used to compute the outputs; pass allow_unused=true to get an undefined gradient");
    result[i] = captures[i].grad;
  }
  return result;
}

std::vector<std::shared_ptr<Node>> tape_of(const Tensor& root) {
  std::vector<Node*> order = Engine::reachable({root.grad_fn().get()});
  std::vector<std::shared_ptr<Node>> out;
  out.reserve(order.size());
  for (auto it = order.rbegin(); it != order.rend(); ++it) out.push_back((*it)->shared_from_this());
  return out;
}

}  // namespace xg
