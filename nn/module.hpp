#pragma once
/// @file module.hpp
/// @brief The base of every layer and model. Parameters, buffers and sub-modules are registered
/// by name and in order (as LibTorch's register_parameter/register_module); named_parameters()
/// yields dotted names ("encoder.fc1.weight") that state dicts and files use. Also here: the
/// containers (Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict, all usable in
/// range-for), traversal (children, modules, apply), freezing (requires_grad_), forward and
/// backward hooks run by operator(), non-persistent buffers and deep copies (clone).
///
/// @code
/// struct Net : xg::nn::Module {
///   std::shared_ptr<xg::nn::Linear> fc1, fc2;
///   Net() {
///     fc1 = register_module("fc1", std::make_shared<xg::nn::Linear>(784, 128));
///     fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(128, 10));
///   }
///   xg::Tensor forward(const xg::Tensor& x) override { return fc2->forward(xg::relu(fc1->forward(x))); }
/// };
/// @endcode
///
/// Scopes: every op recorded while a module runs carries the module's path in its model
/// ("blocks.0.attn", see autograd/tape/scope.hpp), so that the inspection tools say which module
/// an op belongs to and name the parameters ("blocks.0.attn.in_proj_weight"). operator() and the
/// built-in modules' forward() push it; a user module's own forward(x) pushes it when called
/// through operator(), or with `xg::nn::ModuleScope scope(*this);` at its top.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/tape/scope.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"
#include "xgrad/autograd/tools/serialize.hpp"

namespace xg::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedModules = std::vector<std::pair<std::string, ModulePtr>>;

/// What a load matched: entries of the model absent from the state, and entries of the state
/// the model does not have (both empty after a strict load, which throws otherwise).
struct LoadResult {
  std::vector<std::string> missing, unexpected;
};

/// What a buffer's values must be for the model to make sense: load_state_dict() refuses a state
/// that breaks it (a negative running variance loads in PyTorch and is NaN in eval mode later).
enum class BufferValues : uint8_t {
  any,
  finite,              ///< no NaN or inf (running means)
  finite_non_negative  ///< finite and >= 0 (running variances, counts)
};

/// Runs before forward on the module's input; a defined result replaces the input (as PyTorch's
/// register_forward_pre_hook).
using ForwardPreHook = std::function<Tensor(Module& module, const Tensor& input)>;
/// Runs after forward; a defined result replaces the output (register_forward_hook).
using ForwardHook = std::function<Tensor(Module& module, const Tensor& input, const Tensor& output)>;
/// Runs in backward with the gradient of the module's input (undefined when the input does not
/// require grad) and of its output; a defined result replaces the input's gradient
/// (register_full_backward_hook).
using BackwardHook =
    std::function<Tensor(Module& module, const Tensor& grad_input, const Tensor& grad_output)>;

namespace detail {
template <class Fn>
struct HookEntry {
  uint64_t id;
  Fn fn;
};
// Bumped whenever a module tree changes (a module, parameter or buffer registered or removed):
// a module's cached scope, and the parameter names its model registered, are recomputed then.
extern std::atomic<uint64_t> module_tree_generation;
struct ModuleHooks {
  std::vector<HookEntry<ForwardPreHook>> pre;
  std::vector<HookEntry<ForwardHook>> forward;
  std::vector<HookEntry<BackwardHook>> backward;
  bool empty() const { return pre.empty() && forward.empty() && backward.empty(); }
};
}  // namespace detail

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The single-input forward used by Sequential and operator(). Modules with other inputs
  /// (Bilinear, MultiheadAttention, RNNs) add their own overloads; this one throws for them.
  virtual Tensor forward(const Tensor& x);
  /// forward(x) through the module's hooks (as calling a PyTorch module); calling forward()
  /// directly skips them. Without hooks this is forward(x) after one null check.
  Tensor operator()(const Tensor& x) {
    const ScopeGuard scope(scope_id());
    if (!hooks_) [[likely]]
      return forward(x);
    return call_with_hooks(x);
  }

  /// The scope of this module's ops (autograd/tape/scope.hpp): its path from the topmost module
  /// it is registered in, through the names it was registered under ("blocks.0.attn"; a module
  /// registered twice: under its first name, as named_modules()). The topmost module's own scope
  /// has the empty path. Computing it (once per change of the module tree) also registers that
  /// topmost module's named_parameters() and named_buffers() as the names the tools show.
  ScopeId scope_id() const {
    if (scope_generation_.load(std::memory_order_acquire) !=
        detail::module_tree_generation.load(std::memory_order_relaxed)) [[unlikely]]
      return compute_scope();
    return scope_id_.load(std::memory_order_relaxed);
  }
  /// The module this one was first registered in, or nullptr (cleared when that one dies).
  const Module* parent() const { return parent_; }

  /// Parameters of this module and (recurse) its sub-modules, in registration order. A tensor
  /// reachable twice (a shared module, a tied weight) is listed once, under its first name, as
  /// PyTorch's.
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_parameters(bool recurse = true) const;
  /// Buffers, persistent or not, listed as parameters() lists parameters.
  std::vector<Tensor> buffers(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  /// The direct sub-modules in registration order; a module registered twice here is listed
  /// once, under its first name (as PyTorch's).
  NamedModules named_children() const;
  std::vector<ModulePtr> children() const;
  /// This module ("") and every descendant, depth first in registration order, with dotted
  /// names ("layer1", "layer1.0"), as PyTorch's: a module registered twice is listed once, under
  /// its first name. Works on any module, on the heap or not (`Net model; model.named_modules()`):
  /// the root's pointer owns it when a shared_ptr does, and otherwise only points to it (valid
  /// while the module lives); the descendants' are their parents' own shared_ptrs. `prefix`
  /// names the root and is put before every name ("model" gives "model", "model.layer1", ...).
  NamedModules named_modules(const std::string& prefix = "");
  std::vector<ModulePtr> modules();
  /// Calls fn on every sub-module (each child's apply, recursively) and then on this module, as
  /// PyTorch's apply: children first. Returns *this.
  Module& apply(const std::function<void(Module&)>& fn);

  /// Sets requires_grad on every parameter (recursively): false freezes them (backward computes
  /// no gradient for them, so optimizers, which skip parameters without a gradient, leave them
  /// as they are), true unfreezes. A gradient accumulated before stays until zero_grad().
  Module& requires_grad_(bool on = true);

  /// Training mode (dropout active, batch norm updates its running statistics) or evaluation.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Clears the gradients of every parameter (undefined by default, as PyTorch; or zeros).
  void zero_grad(bool set_to_none = true);
  /// Converts every float parameter and buffer to dtype, in place (the handles stay valid).
  void to(Dtype dtype);

  /// Parameters and persistent buffers by dotted name, in PyTorch's order (each module's own
  /// parameters, then its buffers, then its children's entries). Unlike named_parameters(), a
  /// shared module or tied weight appears under each of its names, as in PyTorch's state_dict.
  NamedTensors state_dict() const;
  /// Copies values in by name. Shapes and dtypes must match (ShapeError / TypeError naming the
  /// entry). strict: no entry may be missing or unexpected (ValueError listing them); non-strict:
  /// the result lists them; a name given twice is a ValueError. Everything is checked before
  /// anything is copied.
  LoadResult load_state_dict(const NamedTensors& state, bool strict = true);
  /// state_dict() to a safetensors file (atomically: a temporary file renamed into place).
  void save(const std::string& path) const;
  /// load_state_dict() from a safetensors file; a file of another model raises an error naming
  /// the first mismatching entry.
  LoadResult load(const std::string& path, bool strict = true);

  /// A deep copy: the same type and configuration, the parameters and buffers copied (values,
  /// dtype, requires_grad; not gradients), sub-modules cloned, the training flag kept; nothing is
  /// shared with this module. Hooks are not copied. A module shared inside this one is shared in
  /// the clone too; a weight tied between two modules is not (each clone gets its own copy).
  /// The random generator's state is left as it was. Each module type supplies clone_empty();
  /// every built-in one does, a user module overrides it (see there).
  ModulePtr clone() const;
  /// clone() as the concrete type.
  template <class M>
  std::shared_ptr<M> clone_as() const {
    return std::dynamic_pointer_cast<M>(clone());
  }

  /// Hooks run by operator() (see the hook types above), in registration order. Each returns a
  /// handle whose remove() unregisters the hook.
  RemovableHandle register_forward_pre_hook(ForwardPreHook hook);
  RemovableHandle register_forward_hook(ForwardHook hook);
  RemovableHandle register_full_backward_hook(BackwardHook hook);
  bool has_hooks() const { return hooks_ != nullptr; }

  const std::string& type_name() const { return type_name_; }
  /// A readable tree: "Net(\n  (fc1): Linear(in_features=784, out_features=128, bias=true)\n ...)".
  virtual std::string extra_repr() const { return ""; }
  std::string repr(int indent = 0) const;

 protected:
  /// Registers a parameter (a leaf that requires grad) under `name` and returns its handle.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  /// Registers a buffer: state that is not trained (running mean, ...). A persistent buffer is
  /// in state_dict() and saved files; a non-persistent one only in buffers().
  /// `values`: what a loaded state must hold in it (see BufferValues).
  Tensor register_buffer(const std::string& name, Tensor t, bool persistent = true,
                         BufferValues values = BufferValues::any);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  /// Replaces the value of a registered buffer (e.g. BatchNorm's counter) keeping its handle.
  void set_buffer(const std::string& name, const Tensor& value);

  /// A new module of the same type and configuration, for clone(), which then copies every
  /// parameter, buffer and training flag into it by name and clones each sub-module the new one
  /// lacks (so a container returns itself empty). A user module whose constructor builds it
  /// overrides it as `return std::make_shared<Net>(/* its constructor's arguments */);`.
  virtual ModulePtr clone_empty() const;

  /// For multi-input call operators (Bilinear(x1, x2), losses): hooks only run through
  /// operator()(x), so a module with hooks refuses to be called otherwise rather than skip them.
  void check_no_hooks(const char* call) const {
    if (hooks_) [[unlikely]]
      throw_hooks_unsupported(call);
  }

  // For the containers: the entries as registered (a module registered twice appears twice),
  // replacing one in place, removing one.
  const NamedModules& child_entries() const { return children_; }
  const NamedTensors& own_parameters() const { return params_; }
  void replace_module(const std::string& name, ModulePtr m);
  ModulePtr unregister_module(const std::string& name);
  void replace_parameter(const std::string& name, Tensor t);
  Tensor unregister_parameter(const std::string& name);

 private:
  void add_child(const std::string& name, ModulePtr m);
  void check_new_name(const std::string& name) const;
  void collect(bool params, bool recurse, NamedTensors& out) const;
  void collect_state(const std::string& prefix, NamedTensors& out) const;
  void collect_buffer_values(const std::string& prefix, std::map<std::string, BufferValues>& out) const;
  Tensor call_with_hooks(const Tensor& x);
  [[noreturn]] void throw_hooks_unsupported(const char* call) const;
  template <class Fn>
  RemovableHandle add_hook(std::vector<detail::HookEntry<Fn>> detail::ModuleHooks::*list, Fn fn);
  ModulePtr clone_into(std::map<const Module*, ModulePtr>& memo) const;
  ScopeId compute_scope() const;
  void adopt(Module& child);
  void disown(Module& child);
  void copy_state_into(Module& dst, std::map<const Module*, ModulePtr>& memo) const;

  std::string type_name_;
  NamedTensors params_, buffers_;
  std::set<std::string> non_persistent_;               ///< names of this module's non-persistent buffers
  std::map<std::string, BufferValues> buffer_values_;  ///< this module's checked buffers
  NamedModules children_;
  std::shared_ptr<detail::ModuleHooks> hooks_;  ///< null while no hook is registered
  Module* parent_ = nullptr;                    ///< see parent()
  mutable std::atomic<uint64_t> scope_generation_{0}, names_generation_{0};
  mutable std::atomic<ScopeId> scope_id_{0};
  bool training_ = true;
};

/// RAII: records ops in module m's scope while alive (the built-in modules' forward() do this;
/// a user module's forward may too, for its own ops when it is called as m.forward(x)).
class ModuleScope : public ScopeGuard {
 public:
  explicit ModuleScope(const Module& m) : ScopeGuard(m.scope_id()) {}
};

std::ostream& operator<<(std::ostream& os, const Module& m);

namespace detail {
// Iterates (name, value) entries yielding the values: range-for over ModuleList and Sequential.
template <class It>
class ValueIterator {
 public:
  using value_type = typename std::iterator_traits<It>::value_type::second_type;
  using difference_type = std::ptrdiff_t;
  ValueIterator() = default;
  explicit ValueIterator(It it) : it_(it) {}
  const value_type& operator*() const { return it_->second; }
  const value_type* operator->() const { return &it_->second; }
  ValueIterator& operator++() {
    ++it_;
    return *this;
  }
  ValueIterator operator++(int) {
    ValueIterator r = *this;
    ++it_;
    return r;
  }
  bool operator==(const ValueIterator& o) const { return it_ == o.it_; }

 private:
  It it_{};
};
using ModuleIterator = ValueIterator<NamedModules::const_iterator>;
using ParameterIterator = ValueIterator<NamedTensors::const_iterator>;
}  // namespace detail

/// Applies sub-modules in order, each through its operator() (so their hooks run).
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::vector<ModulePtr> modules);
  /// Appends a module, named by its position ("0", "1", ...).
  Sequential& push_back(ModulePtr m);
  Sequential& push_back(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  std::size_t size() const { return child_entries().size(); }
  ModulePtr operator[](std::size_t i) const;
  /// `for (const xg::nn::ModulePtr& m : seq)`, in order.
  detail::ModuleIterator begin() const { return detail::ModuleIterator(child_entries().begin()); }
  detail::ModuleIterator end() const { return detail::ModuleIterator(child_entries().end()); }

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Sequential>(); }
};

/// Holds sub-modules in a list (registered "0", "1", ...) without calling them in order.
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  explicit ModuleList(std::vector<ModulePtr> modules);
  ModuleList& push_back(ModulePtr m);
  /// Appends every module of `modules`.
  ModuleList& extend(const std::vector<ModulePtr>& modules);
  std::size_t size() const { return child_entries().size(); }
  bool empty() const { return child_entries().empty(); }
  ModulePtr operator[](std::size_t i) const;
  template <class M>
  std::shared_ptr<M> at(std::size_t i) const {
    return std::dynamic_pointer_cast<M>((*this)[i]);
  }
  /// `for (const xg::nn::ModulePtr& m : list)`, in order.
  detail::ModuleIterator begin() const { return detail::ModuleIterator(child_entries().begin()); }
  detail::ModuleIterator end() const { return detail::ModuleIterator(child_entries().end()); }

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<ModuleList>(); }
};

/// Sub-modules by string key, in insertion order (as torch.nn.ModuleDict); each is registered
/// under its key, so parameter names are "key.weight". Keys are non-empty and contain no '.'.
class ModuleDict : public Module {
 public:
  ModuleDict() : Module("ModuleDict") {}
  explicit ModuleDict(const NamedModules& items);
  /// Adds `m` under `key`; an existing key keeps its place and gets the new module (PyTorch's
  /// `d[key] = m`).
  ModuleDict& insert(const std::string& key, ModulePtr m);
  /// insert() of every item, in order.
  ModuleDict& update(const NamedModules& items);
  /// The module under key; IndexError naming the key when there is none.
  ModulePtr operator[](const std::string& key) const;
  template <class M>
  std::shared_ptr<M> at(const std::string& key) const {
    return std::dynamic_pointer_cast<M>((*this)[key]);
  }
  bool contains(const std::string& key) const;
  /// Removes the module under key and returns it (IndexError when absent).
  ModulePtr pop(const std::string& key);
  void clear();
  std::size_t size() const { return child_entries().size(); }
  bool empty() const { return child_entries().empty(); }
  std::vector<std::string> keys() const;
  std::vector<ModulePtr> values() const;
  const NamedModules& items() const { return child_entries(); }
  /// `for (const auto& [key, module] : dict)`, in insertion order.
  NamedModules::const_iterator begin() const { return child_entries().begin(); }
  NamedModules::const_iterator end() const { return child_entries().end(); }

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<ModuleDict>(); }
};

/// Parameters in a list, registered "0", "1", ... (as torch.nn.ParameterList): each is a leaf
/// that requires grad (a tensor that is not a leaf is detached first).
class ParameterList : public Module {
 public:
  ParameterList() : Module("ParameterList") {}
  explicit ParameterList(const std::vector<Tensor>& params);
  /// Appends t as a parameter; returns *this.
  ParameterList& append(const Tensor& t);
  ParameterList& extend(const std::vector<Tensor>& params);
  /// The i-th parameter (IndexError naming i and the size when out of range).
  Tensor operator[](std::size_t i) const;
  std::size_t size() const { return own_parameters().size(); }
  bool empty() const { return own_parameters().empty(); }
  /// `for (const xg::Tensor& p : list)`, in order.
  detail::ParameterIterator begin() const { return detail::ParameterIterator(own_parameters().begin()); }
  detail::ParameterIterator end() const { return detail::ParameterIterator(own_parameters().end()); }
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<ParameterList>(); }
};

/// Parameters by string key, in insertion order (as torch.nn.ParameterDict).
class ParameterDict : public Module {
 public:
  ParameterDict() : Module("ParameterDict") {}
  explicit ParameterDict(const NamedTensors& items);
  /// Adds t as a parameter under key; an existing key keeps its place and gets the new tensor.
  ParameterDict& insert(const std::string& key, const Tensor& t);
  ParameterDict& update(const NamedTensors& items);
  /// The parameter under key; IndexError naming the key when there is none.
  Tensor operator[](const std::string& key) const;
  bool contains(const std::string& key) const;
  /// Removes the parameter under key and returns it (IndexError when absent).
  Tensor pop(const std::string& key);
  void clear();
  std::size_t size() const { return own_parameters().size(); }
  bool empty() const { return own_parameters().empty(); }
  std::vector<std::string> keys() const;
  std::vector<Tensor> values() const;
  const NamedTensors& items() const { return own_parameters(); }
  /// `for (const auto& [key, p] : dict)`, in insertion order.
  NamedTensors::const_iterator begin() const { return own_parameters().begin(); }
  NamedTensors::const_iterator end() const { return own_parameters().end(); }
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<ParameterDict>(); }
};

}  // namespace xg::nn
