#include "xgrad/nn/module.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <set>
#include <sstream>
#include <typeinfo>
#include <unordered_set>
#include <utility>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/custom_op.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tensor/generator.hpp"

namespace xg::nn {

namespace detail {
std::atomic<uint64_t> module_tree_generation{1};
}  // namespace detail

namespace {
void tree_changed() {
  detail::module_tree_generation.fetch_add(1, std::memory_order_acq_rel);
}
}  // namespace

Module::~Module() {
  for (const auto& [n, c] : children_)
    if (c && c->parent_ == this) c->parent_ = nullptr;
  if (!children_.empty()) tree_changed();
}

void Module::adopt(Module& child) {
  if (!child.parent_) child.parent_ = this;
  tree_changed();
}

void Module::disown(Module& child) {
  if (child.parent_ == this) {
    child.parent_ = nullptr;
    for (const auto& [n, c] : children_)  // still registered here under another name
      if (c.get() == &child) child.parent_ = this;
  }
  tree_changed();
}

// The path through the parents (the names they registered each module under) from the topmost
// one, interned in the scope table; and, once per tree change, the topmost module's parameter and
// buffer names registered for the tools. A lone layer (no parent, no children) names nothing: two
// of them would show the same "weight".
ScopeId Module::compute_scope() const {
  const uint64_t gen = detail::module_tree_generation.load(std::memory_order_acquire);
  std::vector<const Module*> chain{this};
  while (chain.back()->parent_ && chain.size() < 1024) chain.push_back(chain.back()->parent_);
  const Module* top = chain.back();
  if (top->names_generation_.load(std::memory_order_acquire) != gen) {
    if (!top->children_.empty()) {
      for (const auto& [n, t] : top->named_parameters()) set_display_name(t, n);
      for (const auto& [n, t] : top->named_buffers()) set_display_name(t, n);
    }
    top->names_generation_.store(gen, std::memory_order_release);
  }
  ScopeId id = scope_child(0, "", top->type_name_);
  for (std::size_t i = chain.size() - 1; i-- > 0;) {
    const Module* parent = chain[i + 1];
    std::string name = "?";
    for (const auto& [n, c] : parent->children_)
      if (c.get() == chain[i]) {
        name = n;
        break;
      }
    id = scope_child(id, name, chain[i]->type_name_);
  }
  scope_id_.store(id, std::memory_order_relaxed);
  scope_generation_.store(gen, std::memory_order_release);
  return id;
}

Tensor Module::forward(const Tensor&) {
  throw ValueError(type_name_ + ": this module has no single-input forward(x)");
}

void Module::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(type_name_ + ": invalid name '" + name + "' (names are non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    for (const auto& [n, v] : list)
      if (n == name) return true;
    return false;
  };
  if (taken(params_) || taken(buffers_) || taken(children_))
    throw ValueError(type_name_ + ": the name '" + name + "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name(name);
  if (!t.defined()) throw ValueError(type_name_ + ": parameter '" + name + "' is undefined");
  if (!t.is_leaf()) t = t.detach();
  if (requires_grad) t.requires_grad_(true);
  params_.emplace_back(name, t);
  tree_changed();
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t, bool persistent, BufferValues values) {
  check_new_name(name);
  if (!t.defined()) throw ValueError(type_name_ + ": buffer '" + name + "' is undefined");
  buffers_.emplace_back(name, t.detach());
  tree_changed();
  if (!persistent) non_persistent_.insert(name);
  if (values != BufferValues::any) buffer_values_[name] = values;
  return buffers_.back().second;
}

void Module::set_buffer(const std::string& name, const Tensor& value) {
  for (auto& [n, t] : buffers_)
    if (n == name) {
      NoGradGuard guard;
      t.copy_(value);
      return;
    }
  throw ValueError(type_name_ + ": no buffer named '" + name + "'");
}

void Module::add_child(const std::string& name, ModulePtr m) {
  check_new_name(name);
  if (!m) throw ValueError(type_name_ + ": sub-module '" + name + "' is null");
  if (m.get() == this)
    throw ValueError(type_name_ + ": a module cannot be its own sub-module ('" + name + "')");
  children_.emplace_back(name, m);
  adopt(*m);
}

namespace {
template <class List>
auto find_entry(List& list, const std::string& name) {
  return std::find_if(list.begin(), list.end(), [&](const auto& e) { return e.first == name; });
}
}  // namespace

void Module::replace_module(const std::string& name, ModulePtr m) {
  if (!m) throw ValueError(type_name_ + ": sub-module '" + name + "' is null");
  if (m.get() == this)
    throw ValueError(type_name_ + ": a module cannot be its own sub-module ('" + name + "')");
  auto it = find_entry(children_, name);
  if (it == children_.end()) throw IndexError(type_name_ + ": no sub-module named '" + name + "'");
  ModulePtr old = std::exchange(it->second, m);
  if (old) disown(*old);
  adopt(*m);
}

ModulePtr Module::unregister_module(const std::string& name) {
  auto it = find_entry(children_, name);
  if (it == children_.end()) throw IndexError(type_name_ + ": no sub-module named '" + name + "'");
  ModulePtr m = std::move(it->second);
  children_.erase(it);
  if (m) disown(*m);
  return m;
}

void Module::replace_parameter(const std::string& name, Tensor t) {
  if (!t.defined()) throw ValueError(type_name_ + ": parameter '" + name + "' is undefined");
  auto it = find_entry(params_, name);
  if (it == params_.end()) throw IndexError(type_name_ + ": no parameter named '" + name + "'");
  if (!t.is_leaf()) t = t.detach();
  if (t.is_floating_point()) t.requires_grad_(true);
  it->second = std::move(t);
  tree_changed();
}

Tensor Module::unregister_parameter(const std::string& name) {
  auto it = find_entry(params_, name);
  if (it == params_.end()) throw IndexError(type_name_ + ": no parameter named '" + name + "'");
  Tensor t = std::move(it->second);
  params_.erase(it);
  tree_changed();
  return t;
}

// Pre-order over the modules (each once), each module's own entries (each tensor once): the
// order and the deduplication of PyTorch's named_parameters / named_buffers.
void Module::collect(bool params, bool recurse, NamedTensors& out) const {
  std::unordered_set<const TensorImpl*> seen;
  std::unordered_set<const Module*> visited{this};
  auto visit = [&](auto& self, const Module& m, const std::string& prefix) -> void {
    for (const auto& [n, t] : params ? m.params_ : m.buffers_)
      if (seen.insert(t.get()).second) out.emplace_back(prefix + n, t);
    if (!recurse) return;
    for (const auto& [n, c] : m.children_)
      if (visited.insert(c.get()).second) self(self, *c, prefix + n + ".");
  };
  visit(visit, *this, "");
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect(true, recurse, out);
  return out;
}
std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}
NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect(false, recurse, out);
  return out;
}
std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

NamedModules Module::named_children() const {
  NamedModules out;
  std::unordered_set<const Module*> seen;
  for (const auto& [n, c] : children_)
    if (seen.insert(c.get()).second) out.emplace_back(n, c);
  return out;
}
std::vector<ModulePtr> Module::children() const {
  std::vector<ModulePtr> out;
  for (auto& [n, c] : named_children()) out.push_back(c);
  return out;
}

NamedModules Module::named_modules(const std::string& prefix) {
  // shared_from_this() would throw bad_weak_ptr for a module that no shared_ptr owns (one on the
  // stack, or a member held by value): such a root gets a non-owning pointer instead.
  ModulePtr self = weak_from_this().lock();
  if (!self) self = ModulePtr(ModulePtr(), this);
  NamedModules out{{prefix, self}};
  std::unordered_set<const Module*> seen{this};
  auto visit = [&](auto& visit_children, const Module& m, const std::string& at) -> void {
    for (const auto& [n, c] : m.children_) {
      if (!seen.insert(c.get()).second) continue;
      const std::string name = at.empty() ? n : at + "." + n;
      out.emplace_back(name, c);
      visit_children(visit_children, *c, name);
    }
  };
  visit(visit, *this, prefix);
  return out;
}
std::vector<ModulePtr> Module::modules() {
  std::vector<ModulePtr> out;
  for (auto& [n, m] : named_modules()) out.push_back(m);
  return out;
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  for (const ModulePtr& c : children()) c->apply(fn);
  fn(*this);
  return *this;
}

Module& Module::requires_grad_(bool on) {
  const NamedTensors params = named_parameters();
  if (on)  // checked first, so that a refusal changes nothing
    for (const auto& [n, p] : params)
      if (!p.is_floating_point())
        throw TypeError(type_name_ + ".requires_grad_: parameter '" + n + "' is " + dtype_name(p.dtype()) +
                        "; only float tensors can require gradients");
  for (auto [n, p] : params) p.requires_grad_(on);
  return *this;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) p.zero_grad(set_to_none);
}

void Module::to(Dtype dtype) {
  if (!is_floating(dtype)) throw TypeError(type_name_ + ".to: modules convert to float32 or float64 only");
  NoGradGuard guard;
  auto convert = [&](Tensor& t) {
    if (!t.is_floating_point() || t.dtype() == dtype) return;
    Tensor c = t.to(dtype);
    // Swap the values into the existing handle, so that optimizers and user code holding the
    // parameter keep a valid reference.
    t.impl()->storage = c.impl()->storage;
    t.impl()->dtype = dtype;
    t.impl()->grad.reset();
  };
  for (auto& [n, t] : params_) convert(t);
  for (auto& [n, t] : buffers_) convert(t);
  for (auto& [n, c] : children_) c->to(dtype);
}

void Module::collect_state(const std::string& prefix, NamedTensors& out) const {
  for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  for (const auto& [n, t] : buffers_)
    if (!non_persistent_.count(n)) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect_state(prefix + n + ".", out);
}

void Module::collect_buffer_values(const std::string& prefix,
                                   std::map<std::string, BufferValues>& out) const {
  for (const auto& [n, v] : buffer_values_) out.emplace(prefix + n, v);
  for (const auto& [n, c] : children_) c->collect_buffer_values(prefix + n + ".", out);
}

namespace {
// The first element breaking `values` (-1: none).
int64_t first_outside(const Tensor& t, BufferValues values) {
  NoGradGuard guard;
  const Tensor c = t.to(Dtype::float64).contiguous();
  const double* x = c.data<double>();
  for (int64_t i = 0; i < c.numel(); ++i)
    if (!std::isfinite(x[i]) || (values == BufferValues::finite_non_negative && x[i] < 0.0)) return i;
  return -1;
}
}  // namespace

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect_state("", out);
  return out;
}

LoadResult Module::load_state_dict(const NamedTensors& state, bool strict) {
  NamedTensors mine = state_dict();
  std::map<std::string, BufferValues> checked;
  collect_buffer_values("", checked);
  std::set<std::string> used;
  LoadResult r;
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  // Check everything first: a load that fails leaves the model as it was.
  {
    std::set<std::string> seen;
    for (const auto& [n, v] : state)
      if (!seen.insert(n).second)
        throw ValueError(type_name_ + ".load_state_dict: the state has two entries '" + n + "'");
  }
  for (auto& [name, t] : mine) {
    const Tensor* src = nullptr;
    for (const auto& [n, v] : state)
      if (n == name) src = &v;
    if (!src) {
      r.missing.push_back(name);
      continue;
    }
    used.insert(name);
    if (!(src->shape() == t.shape()))
      throw ShapeError(type_name_ + ".load_state_dict: '" + name + "' has shape " + src->shape().str() +
                       " in the state, " + t.shape().str() + " in the model");
    if (src->dtype() != t.dtype())
      throw TypeError(type_name_ + ".load_state_dict: '" + name + "' is " + dtype_name(src->dtype()) +
                      " in the state, " + dtype_name(t.dtype()) +
                      " in the model (convert the model with to() first)");
    if (auto it = checked.find(name); it != checked.end())
      if (const int64_t i = first_outside(*src, it->second); i >= 0) {
        NoGradGuard guard;
        std::ostringstream value;
        value << src->to(Dtype::float64).contiguous().data<double>()[i];
        throw ValueError(type_name_ + ".load_state_dict: '" + name + "' holds " + value.str() +
                         " at element " + std::to_string(i) + " (must be finite" +
                         (it->second == BufferValues::finite_non_negative ? " and >= 0)" : ")"));
      }
    copies.emplace_back(t, src);
  }
  for (const auto& [n, v] : state)
    if (!used.count(n)) r.unexpected.push_back(n);
  if (strict && (!r.missing.empty() || !r.unexpected.empty())) {
    std::string msg = type_name_ + ".load_state_dict: the state does not match the model;";
    if (!r.missing.empty())
      msg += " missing: " + r.missing.front() +
             (r.missing.size() > 1 ? " (+" + std::to_string(r.missing.size() - 1) + " more)" : "") + ";";
    if (!r.unexpected.empty())
      msg += " unexpected: " + r.unexpected.front() +
             (r.unexpected.size() > 1 ? " (+" + std::to_string(r.unexpected.size() - 1) + " more)" : "") +
             ";";
    throw ValueError(msg);
  }
  NoGradGuard guard;
  for (auto& [t, src] : copies) t.copy_(*src);
  return r;
}

void Module::save(const std::string& path) const {
  save_tensors(path, state_dict(), {{"format", "xgrad-state-dict"}});
}

LoadResult Module::load(const std::string& path, bool strict) {
  TensorFile f = load_tensors(path);
  try {
    return load_state_dict(f.tensors, strict);
  } catch (const Error& e) {
    throw ValueError("loading '" + path + "': " + e.what());
  }
}

// ---------------------------------------------------------------- clone

ModulePtr Module::clone_empty() const {
  throw ValueError(type_name_ + ".clone: this module type does not say how to build a new one; override " +
                   "`xg::nn::ModulePtr clone_empty() const` to return std::make_shared<" + type_name_ +
                   ">(its constructor's arguments)");
}

ModulePtr Module::clone() const {
  // Building the new module draws initial values (then overwritten by the copy): from a scratch
  // generator, so that a clone changes no later random number, and does not race on the default
  // generator with other threads.
  Generator scratch;
  const xg::detail::DefaultGeneratorOverride use_scratch(scratch);
  std::map<const Module*, ModulePtr> memo;
  return clone_into(memo);
}

ModulePtr Module::clone_into(std::map<const Module*, ModulePtr>& memo) const {
  if (auto it = memo.find(this); it != memo.end()) return it->second;  // shared in the original: shared here
  ModulePtr c = clone_empty();
  if (!c || typeid(*c) != typeid(*this))
    throw ValueError(type_name_ + ".clone: clone_empty() built " + (c ? "a " + c->type_name_ : "nothing") +
                     ", not a module of this one's own type (a class derived from a built-in module "
                     "overrides clone_empty() too)");
  memo.emplace(this, c);
  copy_state_into(*c, memo);
  return c;
}

void Module::copy_state_into(Module& dst, std::map<const Module*, ModulePtr>& memo) const {
  dst.training_ = training_;
  dst.non_persistent_ = non_persistent_;
  dst.buffer_values_ = buffer_values_;
  auto copy_entries = [&](const NamedTensors& src, NamedTensors& to, const char* what) {
    for (const auto& [n, t] : src) {
      Tensor copy;
      {
        NoGradGuard guard;
        copy = t.detach().clone();
      }
      auto it = find_entry(to, n);
      if (it == to.end()) {  // a container's entry: registered as is
        dst.check_new_name(n);
        copy.impl()->requires_grad = t.requires_grad();
        copy.impl()->name = t.name();
        to.emplace_back(n, copy);
        continue;
      }
      Tensor& target = it->second;
      if (!(target.shape() == t.shape()))
        throw ShapeError(type_name_ + ".clone: " + what + " '" + n + "' has shape " + t.shape().str() +
                         " but clone_empty() built it " + target.shape().str());
      // The new module's own handle (its members refer to it) takes the copied values.
      TensorImpl& impl = *target.impl();
      impl.storage = copy.impl()->storage;
      impl.dtype = t.dtype();
      impl.grad.reset();
      impl.requires_grad = t.requires_grad();
      impl.name = t.name();
    }
    for (const auto& [n, t] : to)
      if (find_entry(src, n) == src.end())
        throw ValueError(type_name_ + ".clone: clone_empty() built a " + what + " '" + n +
                         "' that this module does not have");
  };
  copy_entries(params_, dst.params_, "parameter");
  copy_entries(buffers_, dst.buffers_, "buffer");
  for (const auto& [n, c] : children_) {
    auto it = find_entry(dst.children_, n);
    if (it == dst.children_.end()) {
      dst.children_.emplace_back(n, c->clone_into(memo));
      continue;
    }
    // A sub-module the new module's constructor built: it takes the original's state.
    if (typeid(*it->second) != typeid(*c))
      throw ValueError(type_name_ + ".clone: sub-module '" + n + "' is a " + c->type_name_ +
                       " but clone_empty() built a " + it->second->type_name_);
    memo.emplace(c.get(), it->second);
    c->copy_state_into(*it->second, memo);
  }
  for (const auto& [n, c] : dst.children_)
    if (find_entry(children_, n) == children_.end())
      throw ValueError(type_name_ + ".clone: clone_empty() built a sub-module '" + n +
                       "' that this module does not have");
}

// ---------------------------------------------------------------- hooks

template <class Fn>
RemovableHandle Module::add_hook(std::vector<detail::HookEntry<Fn>> detail::ModuleHooks::*list, Fn fn) {
  if (!fn) throw ValueError(type_name_ + ": cannot register an empty hook");
  if (!hooks_) hooks_ = std::make_shared<detail::ModuleHooks>();
  const uint64_t id = next_hook_id();
  ((*hooks_).*list).push_back({id, std::move(fn)});
  // The hook list lives exactly as long as the module (and its calls in progress): while it can
  // be locked, `this` is alive.
  return RemovableHandle([this, state = std::weak_ptr<detail::ModuleHooks>(hooks_), list, id] {
    const std::shared_ptr<detail::ModuleHooks> h = state.lock();
    if (!h) return;
    std::erase_if((*h).*list, [id](const auto& e) { return e.id == id; });
    if (h->empty() && hooks_ == h) hooks_.reset();  // back to the hook-free path of operator()
  });
}

RemovableHandle Module::register_forward_pre_hook(ForwardPreHook hook) {
  return add_hook(&detail::ModuleHooks::pre, std::move(hook));
}
RemovableHandle Module::register_forward_hook(ForwardHook hook) {
  return add_hook(&detail::ModuleHooks::forward, std::move(hook));
}
RemovableHandle Module::register_full_backward_hook(BackwardHook hook) {
  return add_hook(&detail::ModuleHooks::backward, std::move(hook));
}

void Module::throw_hooks_unsupported(const char* call) const {
  throw ValueError(type_name_ + ": " + call + " does not run the module's hooks, and this module has some; " +
                   "hooks run through the single-input call module(x) (remove them, or call forward)");
}

namespace {

// An identity op with a node of its own: the gradients of a module's output and input pass
// through its nodes, where the backward hooks read them.
const CustomOp& hook_identity() {
  static const CustomOp op{"module_hook",
                           "identity: the gradient passes unchanged (where a module's backward hooks run)",
                           [](const std::vector<Tensor>& in) { return in[0]; },
                           [](const CustomOpContext&, const Tensor& g) { return std::vector<Tensor>{g}; }};
  return op;
}

// One call of a module with backward hooks: the hooks (as registered at the call) and the
// gradient of the output, kept until the input's gradient arrives.
struct BackwardCall {
  Module* module = nullptr;
  std::weak_ptr<Module> owner;  // expired: the module is gone and the hooks are not called
  bool owned = false;
  bool input_hooked = false;
  std::vector<detail::HookEntry<BackwardHook>> hooks;
  Tensor grad_output;

  Tensor run(const Tensor& grad_input) {
    Tensor go = std::move(grad_output);
    grad_output = Tensor();  // not kept: with create_graph it could hold the graph that holds this
    if (owned && owner.expired()) return Tensor();
    Tensor gi = grad_input;
    bool replaced = false;
    for (const auto& e : hooks) {
      Tensor r = e.fn(*module, gi, go);
      if (r.defined()) {
        gi = r;
        replaced = true;
      }
    }
    return replaced ? gi : Tensor();
  }
};

// A hook that calls its own module (module(x), not forward(x)) runs again at every call, until
// the stack overflows: module calls nested inside hooks deeper than this on one thread raise
// ValueError instead, naming the module and the hook.
constexpr int kMaxNestedHookCalls = 64;
thread_local int nested_hook_calls = 0;
thread_local const char* running_hook_kind = nullptr;
thread_local const Module* running_hook_module = nullptr;

struct InHook {
  const char* kind = running_hook_kind;
  const Module* module = running_hook_module;
  InHook(const char* k, const Module* m) {
    ++nested_hook_calls;
    running_hook_kind = k;
    running_hook_module = m;
  }
  ~InHook() {
    --nested_hook_calls;
    running_hook_kind = kind;
    running_hook_module = module;
  }
  InHook(const InHook&) = delete;
  InHook& operator=(const InHook&) = delete;
};

}  // namespace

// The order of PyTorch's module call: pre-hooks, the input's backward hook, forward, forward
// hooks, the output's backward hook.
Tensor Module::call_with_hooks(const Tensor& input) {
  if (nested_hook_calls >= kMaxNestedHookCalls) [[unlikely]]
    throw ValueError(type_name_ + ": " + std::to_string(kMaxNestedHookCalls) +
                     " module calls nested inside module hooks on one thread: a " + running_hook_kind +
                     " of " + running_hook_module->type_name() +
                     " calls a module whose hooks call it again, without end; inside a hook, call "
                     "forward(x) (which runs no hooks) or guard the hook against re-entry");
  const std::shared_ptr<detail::ModuleHooks> h = hooks_;  // hooks may be removed while they run
  Tensor x = input;
  if (!h->pre.empty()) {
    const auto pre = h->pre;
    for (const auto& e : pre) {
      const InHook in("forward pre-hook", this);
      if (Tensor r = e.fn(*this, x); r.defined()) x = r;
    }
  }
  std::shared_ptr<BackwardCall> bw;
  if (!h->backward.empty() && GradMode::is_enabled()) {
    bw = std::make_shared<BackwardCall>();
    bw->module = this;
    bw->owner = weak_from_this();
    bw->owned = !bw->owner.expired();
    bw->hooks = h->backward;
    if (x.defined() && x.requires_grad()) {
      x = hook_identity()({x});
      bw->input_hooked = true;
      x.register_hook([bw](const Tensor& g) { return bw->run(g); });
    }
  }
  Tensor y = forward(x);
  if (!h->forward.empty()) {
    const auto fwd = h->forward;
    for (const auto& e : fwd) {
      const InHook in("forward hook", this);
      if (Tensor r = e.fn(*this, x, y); r.defined()) y = r;
    }
  }
  if (bw && y.defined() && y.requires_grad()) {
    y = hook_identity()({y});
    y.register_hook([bw](const Tensor& g) {
      bw->grad_output = g;
      if (!bw->input_hooked) bw->run(Tensor());  // no gradient will reach the input: the hooks run now
      return Tensor();
    });
  }
  return y;
}

std::string Module::repr(int indent) const {
  std::ostringstream s;
  s << type_name_ << '(' << extra_repr();
  if (!children_.empty()) {
    s << '\n';
    for (const auto& [n, c] : children_)
      s << std::string(static_cast<std::size_t>(indent + 2), ' ') << '(' << n << "): " << c->repr(indent + 2)
        << '\n';
    s << std::string(static_cast<std::size_t>(indent), ' ');
  }
  s << ')';
  return s.str();
}

std::ostream& operator<<(std::ostream& os, const Module& m) {
  return os << m.repr();
}

// ---------------------------------------------------------------- containers

namespace {
[[noreturn]] void throw_index(const std::string& type, std::size_t i, std::size_t size) {
  throw IndexError(type + ": index " + std::to_string(i) + " out of range (size " + std::to_string(size) +
                   ")");
}
[[noreturn]] void throw_key(const std::string& type, const std::string& key) {
  throw IndexError(type + ": no entry under the key '" + key + "'");
}
std::string tensor_summary(const Tensor& t) {
  std::string s = std::string("Parameter containing: [") + dtype_name(t.dtype()) + " of size ";
  const auto sizes = t.sizes();
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (i) s += 'x';  // appended piece by piece: GCC 12 warns (-Wrestrict) on "x" + to_string(..)
    s += std::to_string(sizes[i]);
  }
  return s + "]";
}
}  // namespace

Sequential::Sequential(std::vector<ModulePtr> modules) : Module("Sequential") {
  for (auto& m : modules) push_back(std::move(m));
}
Sequential& Sequential::push_back(ModulePtr m) {
  return push_back(std::to_string(size()), std::move(m));
}
Sequential& Sequential::push_back(const std::string& name, ModulePtr m) {
  register_module(name, std::move(m));
  return *this;
}
Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [n, m] : child_entries()) y = (*m)(y);
  return y;
}
ModulePtr Sequential::operator[](std::size_t i) const {
  if (i >= size()) throw_index(type_name(), i, size());
  return child_entries()[i].second;
}

ModuleList::ModuleList(std::vector<ModulePtr> modules) : Module("ModuleList") {
  for (auto& m : modules) push_back(std::move(m));
}
ModuleList& ModuleList::push_back(ModulePtr m) {
  register_module(std::to_string(size()), std::move(m));
  return *this;
}
ModuleList& ModuleList::extend(const std::vector<ModulePtr>& modules) {
  for (const auto& m : modules) push_back(m);
  return *this;
}
ModulePtr ModuleList::operator[](std::size_t i) const {
  if (i >= size()) throw_index(type_name(), i, size());
  return child_entries()[i].second;
}

ModuleDict::ModuleDict(const NamedModules& items) : Module("ModuleDict") {
  update(items);
}
ModuleDict& ModuleDict::insert(const std::string& key, ModulePtr m) {
  if (contains(key))
    replace_module(key, std::move(m));
  else
    register_module(key, std::move(m));
  return *this;
}
ModuleDict& ModuleDict::update(const NamedModules& items) {
  for (const auto& [k, m] : items) insert(k, m);
  return *this;
}
ModulePtr ModuleDict::operator[](const std::string& key) const {
  for (const auto& [k, m] : child_entries())
    if (k == key) return m;
  throw_key(type_name(), key);
}
bool ModuleDict::contains(const std::string& key) const {
  for (const auto& [k, m] : child_entries())
    if (k == key) return true;
  return false;
}
ModulePtr ModuleDict::pop(const std::string& key) {
  if (!contains(key)) throw_key(type_name(), key);
  return unregister_module(key);
}
void ModuleDict::clear() {
  for (const std::string& k : keys()) unregister_module(k);
}
std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, m] : child_entries()) out.push_back(k);
  return out;
}
std::vector<ModulePtr> ModuleDict::values() const {
  std::vector<ModulePtr> out;
  for (const auto& [k, m] : child_entries()) out.push_back(m);
  return out;
}

ParameterList::ParameterList(const std::vector<Tensor>& params) : Module("ParameterList") {
  extend(params);
}
ParameterList& ParameterList::append(const Tensor& t) {
  register_parameter(std::to_string(size()), t, t.defined() && t.is_floating_point());
  return *this;
}
ParameterList& ParameterList::extend(const std::vector<Tensor>& params) {
  for (const Tensor& t : params) append(t);
  return *this;
}
Tensor ParameterList::operator[](std::size_t i) const {
  if (i >= size()) throw_index(type_name(), i, size());
  return own_parameters()[i].second;
}
std::string ParameterList::extra_repr() const {
  std::string s;
  for (const auto& [n, t] : own_parameters()) s += "\n  (" + n + "): " + tensor_summary(t);
  return s.empty() ? s : s + "\n";
}

ParameterDict::ParameterDict(const NamedTensors& items) : Module("ParameterDict") {
  update(items);
}
ParameterDict& ParameterDict::insert(const std::string& key, const Tensor& t) {
  if (contains(key))
    replace_parameter(key, t);
  else
    register_parameter(key, t, t.defined() && t.is_floating_point());
  return *this;
}
ParameterDict& ParameterDict::update(const NamedTensors& items) {
  for (const auto& [k, t] : items) insert(k, t);
  return *this;
}
Tensor ParameterDict::operator[](const std::string& key) const {
  for (const auto& [k, t] : own_parameters())
    if (k == key) return t;
  throw_key(type_name(), key);
}
bool ParameterDict::contains(const std::string& key) const {
  for (const auto& [k, t] : own_parameters())
    if (k == key) return true;
  return false;
}
Tensor ParameterDict::pop(const std::string& key) {
  if (!contains(key)) throw_key(type_name(), key);
  return unregister_parameter(key);
}
void ParameterDict::clear() {
  for (const std::string& k : keys()) unregister_parameter(k);
}
std::vector<std::string> ParameterDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, t] : own_parameters()) out.push_back(k);
  return out;
}
std::vector<Tensor> ParameterDict::values() const {
  std::vector<Tensor> out;
  for (const auto& [k, t] : own_parameters()) out.push_back(t);
  return out;
}
std::string ParameterDict::extra_repr() const {
  std::string s;
  for (const auto& [n, t] : own_parameters()) s += "\n  (" + n + "): " + tensor_summary(t);
  return s.empty() ? s : s + "\n";
}

}  // namespace xg::nn
