#pragma once
/// @file optimizer.hpp
/// @brief The base of every optimizer: parameter groups, each with its own options; per-parameter
/// state keyed by the parameter's identity (its TensorImpl) and created lazily on its first
/// step; updates in place under no-grad (bumping the version counter, so a graph that saved a
/// parameter before the step refuses to backward through it); and a state dict (named tensors
/// plus string metadata) that save_tensors writes and from which a run resumes exactly.
///
/// @code
/// xg::optim::Adam opt(model->parameters(), {.lr = 1e-3});
/// for (...) {
///   opt.zero_grad();
///   loss_fn(model->forward(x), y).backward();
///   opt.step();
/// }
/// opt.save("opt.safetensors");  // later, on an optimizer over the same parameters: opt.load(...)
/// @endcode
///
/// Options are plain structs with defaults (written with designated initialisers). A parameter
/// group states only the options that differ (`{params, {.weight_decay = 0}}`); the others come
/// from the optimizer's options, as in PyTorch. Each group then holds a full copy. State dict layout
/// (metadata values are text, doubles in shortest exact form):
///   metadata  format = "xgrad-optimizer", optimizer = "Adam", param_groups = "2",
///             group.<g>.params = "<count>", group.<g>.<option> = "<value>" for every option
///   tensors   state.<k>.<field> for parameter k (numbered across groups in order), e.g.
///             state.0.step (int64 scalar), state.0.exp_avg (the parameter's shape and dtype)
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tensor/error.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"
#include "xgrad/autograd/tools/serialize.hpp"

namespace xg::optim {

/// Re-evaluates the model for step(closure): clears the gradients, runs forward and backward,
/// and returns the loss. It is called with grad mode on.
using Closure = std::function<Tensor()>;

/// An optimizer's (or scheduler's) state as a tensor file holds it.
struct StateDict {
  NamedTensors tensors;
  std::map<std::string, std::string> metadata;
};

/// @brief What every optimizer offers, whatever its options: stepping, zero_grad, the learning
/// rate of each group (for schedulers) and the state dict.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// "SGD", "Adam", ...: the first word of every error message.
  const std::string& name() const { return name_; }

  /// One update of every parameter that has a gradient, in place under NoGradGuard.
  virtual void step() = 0;
  /// Calls closure (with grad mode on), then step(); returns the closure's loss.
  virtual Tensor step(const Closure& closure);

  /// Clears every parameter's gradient: undefined (the default, as PyTorch) or zeros.
  void zero_grad(bool set_to_none = true);

  virtual std::size_t num_param_groups() const = 0;
  virtual const std::vector<Tensor>& group_params(std::size_t group) const = 0;
  /// Every parameter, group by group.
  std::vector<Tensor> parameters() const;

  /// Learning rate of a group (what schedulers read and write).
  virtual double lr(std::size_t group = 0) const = 0;
  virtual void set_lr(double lr, std::size_t group) = 0;
  /// Sets the learning rate of every group.
  void set_lr(double lr);

  /// A group's numeric option by name (one value, or two for betas), for schedulers that cycle
  /// momentum; empty when the optimizer has no such option (or it is not numeric).
  virtual std::vector<double> option_values(std::string_view option, std::size_t group) const;
  /// Sets it (checked as set_options checks); ValueError when there is no such option.
  virtual void set_option_values(std::string_view option, const std::vector<double>& values,
                                 std::size_t group);
  /// Whether the optimizer's options have a numeric field of that name ("momentum", "betas").
  bool has_option(std::string_view option) const { return !option_values(option, 0).empty(); }

  /// The lr of a group when the first scheduler was attached to it (a group property, as the
  /// initial lr that schedulers share): later schedulers over the group take it as base lr.
  /// Not in the optimizer's state: a scheduler's state holds them and restores them on load.
  std::optional<double> initial_lr(std::size_t group) const;
  void set_initial_lr(double lr, std::size_t group);

  /// Options of every group and the state of every parameter; tensors are copies.
  virtual StateDict state_dict() const = 0;
  /// Restores options and state from state_dict() of an optimizer of the same kind over
  /// parameters of the same groups and shapes (matched by position). Metadata keys it does not
  /// know (a scheduler's) are ignored. Everything is checked before anything changes (a failed
  /// load leaves the optimizer exactly as it was): options finite and in their ranges; step
  /// counts whole and >= 0; state finite, second moments and accumulators >= 0; no partial
  /// per-parameter state; no tensor outside the layout (ValueError naming the entry; a shape
  /// that differs from the parameter's is a ShapeError).
  virtual void load_state_dict(const StateDict& state) = 0;
  /// state_dict() to a safetensors file (atomically).
  void save(const std::string& path) const;
  /// load_state_dict() from a safetensors file; errors name the file.
  void load(const std::string& path);

 protected:
  explicit Optimizer(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
  std::vector<std::optional<double>> initial_lrs_;
};

// ---- option values as metadata text (exact round trip); found by ADL for option enums ----
std::string option_to_string(double v);
std::string option_to_string(bool v);
std::string option_to_string(int64_t v);
std::string option_to_string(const std::array<double, 2>& v);
std::string option_to_string(const std::optional<int64_t>& v);
/// Parsers; `what` names the entry in the ValueError a malformed value raises.
void option_from_string(const std::string& s, double& v, const std::string& what);
void option_from_string(const std::string& s, bool& v, const std::string& what);
void option_from_string(const std::string& s, int64_t& v, const std::string& what);
void option_from_string(const std::string& s, std::array<double, 2>& v, const std::string& what);
void option_from_string(const std::string& s, std::optional<int64_t>& v, const std::string& what);

namespace detail {

/// Runs f.template operator()<T>() with T = float or double, the dtype of p.
template <class F>
void visit_float(const Tensor& p, const std::string& who, F&& f) {
  switch (p.dtype()) {
    case Dtype::float32:
      f.template operator()<float>();
      return;
    case Dtype::float64:
      f.template operator()<double>();
      return;
    default:
      throw TypeError(who + ": cannot optimize a tensor of dtype " + std::string(dtype_name(p.dtype())));
  }
}

/// Marks an in-place write done through raw data.
inline void bump_version(const Tensor& t) {
  ++t.get()->storage->version;
}

/// p's gradient after checking that it has p's dtype and shape; undefined when p has none.
Tensor checked_grad(const std::string& optimizer, const Tensor& p);

/// A state buffer ready for p: zeros (or `fill`) of p's shape and dtype when undefined,
/// converted when p's dtype changed (Module::to) since it was made.
void ensure_buffer(Tensor& buffer, const Tensor& p, double fill = 0.0);

/// Throws ValueError "<optimizer>: invalid <option> = <value> (<rule>)" unless ok.
void check_option(bool ok, const std::string& optimizer, const std::string& option, double value,
                  const char* rule);

/// The checks of one optimizer's options; each throws ValueError
/// "<optimizer>: invalid <option> = <value> (<rule>)", and NaN fails every one.
struct OptionCheck {
  const char* optimizer;
  void at_least_zero(const char* option, double v) const;  ///< v >= 0
  /// v in [0, 1), or in [0, 1] when closed
  void unit_interval(const char* option, double v, bool closed = false) const;
  void betas(const std::array<double, 2>& b) const;  ///< betas[0] and betas[1] in [0, 1)
  void number(const char* option, double v) const;   ///< not NaN
};

/// Runs kernel(p's data, g's data, each buffer's data...) as T* / const T* for p's dtype T (an
/// undefined buffer passes nullptr), then bumps the version of p and of every defined buffer:
/// the common frame of the element-wise optimizers' updates.
template <class Kernel, class... Buffers>
void update_in_place(const std::string& optimizer, const Tensor& p, const Tensor& g, Kernel&& kernel,
                     Buffers&... buffers) {
  static_assert((std::is_same_v<Buffers, Tensor> && ...), "update_in_place: buffers are Tensors");
  Tensor param = p;
  visit_float(p, optimizer, [&]<class T>() {
    kernel(param.data<T>(), g.data<T>(), (buffers.defined() ? buffers.template data<T>() : nullptr)...);
  });
  bump_version(p);
  ((buffers.defined() ? bump_version(buffers) : void()), ...);
}

/// Validates a new group's parameters against those already held: defined, float, leaves,
/// no duplicates. Adds them to `seen`.
void check_new_params(const std::string& optimizer, const std::vector<Tensor>& params,
                      std::unordered_set<const TensorImpl*>& seen);

// state dict helpers
void put_state(StateDict& sd, const std::string& key, const Tensor& t);
void put_state(StateDict& sd, const std::string& key, int64_t v);
void put_state(StateDict& sd, const std::string& key, double v);
using TensorLookup = std::unordered_map<std::string, const Tensor*>;
/// Each returns whether the entry was present; tensors must have p's shape and become p's dtype.
/// What a file may not poison is checked (ValueError naming the entry): tensors and doubles
/// finite; int64 entries are counts, integral (an integral float is accepted) and >= 0.
bool get_state(const TensorLookup& in, const std::string& key, const Tensor& p, Tensor& out,
               const std::string& who);
bool get_state(const TensorLookup& in, const std::string& key, const Tensor& p, int64_t& out,
               const std::string& who);
bool get_state(const TensorLookup& in, const std::string& key, const Tensor& p, double& out,
               const std::string& who);
/// The metadata value at key; ValueError naming `who` when absent.
const std::string& get_meta(const StateDict& sd, const std::string& key, const std::string& who);
/// Checks format and optimizer name; returns the lookup of the tensors by name.
TensorLookup begin_load(const StateDict& sd, const std::string& optimizer);
/// Checks that every tensor of the state is state.<k>.<field> with k < count and a field for
/// which `known(field)` holds, or an entry `extra(name)` accepts (ValueError naming it).
void check_state_names(const StateDict& sd, std::size_t count,
                       const std::function<bool(const std::string&)>& known,
                       const std::function<bool(const std::string&)>& extra, const std::string& who);

/// Checks of one parameter's loaded state that its type knows (a State's optional
/// `void check(const detail::StateCheck&) const`), run before anything changes; each throws
/// ValueError "<who>: '<prefix><field>' ..." naming the entry.
struct StateCheck {
  std::string who, prefix;  ///< "Adam.load_state_dict", "state.3."
  /// Every element >= 0 (second moments, accumulators); an undefined t passes.
  void at_least_zero(const char* field, const Tensor& t) const;
  /// Every element of `sq` >= the square of `avg`'s (a running E[g^2] and E[g] of the same
  /// gradients, as centered RMSprop's): otherwise the variance is negative and its root NaN.
  /// A few ulps of rounding are allowed. Undefined tensors pass.
  void at_least_square_of(const char* sq_field, const Tensor& sq, const char* avg_field,
                          const Tensor& avg) const;
  /// lo <= v <= hi.
  void in_range(const char* field, double v, double lo, double hi) const;
};

/// Whether a State's field may be absent from a saved state that has others (a State lists
/// them in `static constexpr std::array optional_fields`): buffers made only with some option.
template <class State>
bool state_field_optional(std::string_view field) {
  if constexpr (requires { State::optional_fields; }) {
    for (std::string_view f : State::optional_fields)
      if (f == field) return true;
  }
  return false;
}

/// ValueError unless every double option is finite (the options' own check() sees the ranges).
template <class Options>
void check_finite_options(Options o, const std::string& who, const std::string& prefix) {
  o.fields([&](const char* key, auto& v) {
    using V = std::remove_cvref_t<decltype(v)>;
    if constexpr (std::is_same_v<V, double>) {
      check_option(std::isfinite(v), who, prefix + key, v, "must be finite");
    } else if constexpr (std::is_same_v<V, std::array<double, 2>>) {
      check_option(std::isfinite(v[0]), who, prefix + key + "[0]", v[0], "must be finite");
      check_option(std::isfinite(v[1]), who, prefix + key + "[1]", v[1], "must be finite");
    }
  });
}

}  // namespace detail

// ---- a parameter group's options: what it states; the rest from the optimizer's defaults ----
namespace detail {
/// A field's default value in an options template (see Maybe).
template <class T>
struct Default {
  T value;
  constexpr operator T() const { return value; }
};
template <class T>
constexpr Default<T> def(T v) {
  return {v};
}
}  // namespace detail

/// Field types of the options templates: Given<T> is the value itself (an optimizer's options,
/// every field set, defaults as documented); Maybe<T> is a value a parameter group states or
/// leaves out, to be taken from the optimizer's options, as in PyTorch:
/// `Adam({{a, {.weight_decay = 0.05}}, {b}}, {.lr = 3e-3})` trains both groups at lr 3e-3.
template <class T>
using Given = T;
template <class T>
class Maybe {
 public:
  Maybe() = default;
  Maybe(detail::Default<T>) {}  // a default member initialiser: not stated
  template <class U>
  requires std::convertible_to<U, T> Maybe(U&& v) : value_(T(std::forward<U>(v))) {}
  template <class... A>
  requires(sizeof...(A) > 1) && requires(A&&... a) { T{std::forward<A>(a)...}; }
  Maybe(A&&... a) : value_(T{std::forward<A>(a)...}) {}
  bool stated() const { return value_.has_value(); }
  const T& value() const { return *value_; }

 private:
  std::optional<T> value_;
};

namespace detail {
/// The defaults with every field the group states replaced by the group's value.
template <class Options, class GroupOptions>
Options resolve_options(const Options& defaults, GroupOptions group) {
  Options out = defaults;
  group.fields([&out](const char* name, const auto& stated) {
    out.fields([&](const char* field, auto& value) {
      using V = std::remove_cvref_t<decltype(value)>;
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(stated)>, Maybe<V>>)
        if (std::string_view(name) == field && stated.stated()) value = stated.value();
    });
  });
  return out;
}
}  // namespace detail

/// @brief The shared machinery of the optimizers, typed by their options and per-parameter
/// state. Options needs `lr`, `check()` (throws ValueError naming the optimizer and option) and
/// `fields(f)` (calls f(name, member) for each option); State needs `fields(f)` (f(name, member)
/// for each Tensor / int64_t / double member).
template <class Options, class State>
class TypedOptimizer : public Optimizer {
 public:
  /// A parameter group's options: the fields it states (the rest: the optimizer's defaults).
  using GroupOptions = typename Options::Group;
  /// A group of parameters as given: `{params}` or `{params, {.lr = 0.1}}`.
  struct ParamGroup {
    std::vector<Tensor> params;
    GroupOptions options = {};
  };
  /// A group as the optimizer holds it: its parameters and its full options.
  struct Group {
    std::vector<Tensor> params;
    Options options;
  };

  std::size_t num_param_groups() const override { return groups_.size(); }
  const std::vector<Tensor>& group_params(std::size_t g) const override { return group(g).params; }
  double lr(std::size_t g = 0) const override { return group(g).options.lr; }
  void set_lr(double lr, std::size_t g) override {
    detail::check_option(lr >= 0.0, name(), "lr", lr, "must be >= 0");
    group_mut(g).options.lr = lr;
  }
  using Optimizer::set_lr;

  std::vector<double> option_values(std::string_view option, std::size_t g) const override {
    std::vector<double> out;
    Options o = group(g).options;
    o.fields([&](const char* key, auto& v) {
      using V = std::remove_cvref_t<decltype(v)>;
      if (option != key) return;
      if constexpr (std::is_same_v<V, double>)
        out = {v};
      else if constexpr (std::is_same_v<V, std::array<double, 2>>)
        out = {v[0], v[1]};
    });
    return out;
  }
  void set_option_values(std::string_view option, const std::vector<double>& values, std::size_t g) override {
    Options o = group(g).options;
    bool found = false;
    o.fields([&](const char* key, auto& v) {
      using V = std::remove_cvref_t<decltype(v)>;
      if (option != key) return;
      if constexpr (std::is_same_v<V, double>) {
        found = values.size() == 1;
        if (found) v = values[0];
      } else if constexpr (std::is_same_v<V, std::array<double, 2>>) {
        found = values.size() == 2;
        if (found) v = {values[0], values[1]};
      }
    });
    if (!found)
      throw ValueError(name() + ": no numeric option '" + std::string(option) + "' of " +
                       std::to_string(values.size()) + " value(s)");
    set_options(o, g);
  }

  const std::vector<Group>& param_groups() const { return groups_; }
  /// Options given at construction; add_param_group(params) uses them.
  const Options& defaults() const { return defaults_; }
  const Options& options(std::size_t g = 0) const { return group(g).options; }
  /// Replaces a group's options (checked).
  void set_options(const Options& o, std::size_t g = 0) {
    o.check();
    group_mut(g).options = o;
  }

  /// Adds a group with the construction defaults, or with the options it states (the rest: the
  /// construction defaults).
  void add_param_group(std::vector<Tensor> params) { add_param_group(std::move(params), GroupOptions{}); }
  virtual void add_param_group(std::vector<Tensor> params, const GroupOptions& stated) {
    const Options options = detail::resolve_options(defaults_, stated);
    options.check();
    detail::check_new_params(name(), params, seen_);
    groups_.push_back({std::move(params), options});
  }

  /// The state of p, or nullptr before its first step.
  const State* state(const Tensor& p) const {
    auto it = state_.find(p.get());
    return it == state_.end() ? nullptr : &it->second;
  }

  StateDict state_dict() const override;
  void load_state_dict(const StateDict& sd) override;

 protected:
  TypedOptimizer(std::string name, std::vector<ParamGroup> groups, const Options& defaults)
      : Optimizer(std::move(name)), defaults_(defaults) {
    defaults_.check();
    for (auto& g : groups) add_param_group(std::move(g.params), g.options);
  }

  /// The state of p, value-initialised on first use (the kernels fill its buffers lazily).
  State& state_of(const Tensor& p) { return state_[p.get()]; }

  /// The loop of an element-wise step(): under NoGradGuard, group by group, calls
  /// update(p, its gradient, its state, the group's options) for each parameter p with a gradient.
  template <class Update>
  void for_each_with_grad(Update&& update) {
    if (capture_detail::recorder) [[unlikely]] {
      // Captured as a host step: a replay calls step() again, which reads the group's options (a
      // schedule's lr) and the state (step counts, first-step branches) as eager would.
      for (const Group& group : groups_)
        for (const Tensor& p : group.params) capture_detail::pin(p, p.grad());
      const capture_detail::HostStep host((name() + ".step").c_str(), [this] { this->step(); });
      for_each_with_grad(std::forward<Update>(update));
      return;
    }
    NoGradGuard no_grad;
    for (const Group& group : groups_)
      for (const Tensor& p : group.params) {
        const Tensor g = detail::checked_grad(name(), p);
        if (g.defined()) update(p, g, state_of(p), group.options);
      }
  }

  const Group& group(std::size_t g) const {
    if (g >= groups_.size())
      throw IndexError(name() + ": parameter group " + std::to_string(g) + " out of range (" +
                       std::to_string(groups_.size()) + " groups)");
    return groups_[g];
  }
  Group& group_mut(std::size_t g) { return const_cast<Group&>(group(g)); }

  /// Hooks for state that is not per parameter (LBFGS): load_extra checks everything it reads
  /// and throws before changing anything; extra_entry says which tensors of the state are its.
  virtual void save_extra(StateDict&) const {}
  virtual void load_extra(const StateDict&, const detail::TensorLookup&) {}
  virtual bool extra_entry(const std::string&) const { return false; }

  std::vector<Group> groups_;
  Options defaults_;
  std::unordered_map<const TensorImpl*, State> state_;

 private:
  std::unordered_set<const TensorImpl*> seen_;
};

template <class Options, class State>
StateDict TypedOptimizer<Options, State>::state_dict() const {
  StateDict sd;
  sd.metadata["format"] = "xgrad-optimizer";
  sd.metadata["optimizer"] = name();
  sd.metadata["param_groups"] = std::to_string(groups_.size());
  std::size_t k = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "group." + std::to_string(g) + ".";
    sd.metadata[prefix + "params"] = std::to_string(groups_[g].params.size());
    Options o = groups_[g].options;
    o.fields([&](const char* key, auto& v) { sd.metadata[prefix + key] = option_to_string(v); });
    for (const Tensor& p : groups_[g].params) {
      auto it = state_.find(p.get());
      if (it != state_.end()) {
        State s = it->second;
        const std::string sp = "state." + std::to_string(k) + ".";
        s.fields([&](const char* key, auto& v) { detail::put_state(sd, sp + key, v); });
      }
      ++k;
    }
  }
  save_extra(sd);
  return sd;
}

template <class Options, class State>
void TypedOptimizer<Options, State>::load_state_dict(const StateDict& sd) {
  const std::string who = name() + ".load_state_dict";
  const detail::TensorLookup lookup = detail::begin_load(sd, name());
  const std::string& ngroups = detail::get_meta(sd, "param_groups", who);
  if (ngroups != std::to_string(groups_.size()))
    throw ValueError(who + ": the state has " + ngroups + " parameter groups, the optimizer has " +
                     std::to_string(groups_.size()));
  // Parse everything first: a failed load leaves the optimizer as it was.
  std::vector<Options> options;
  std::unordered_map<const TensorImpl*, State> state;
  std::size_t k = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "group." + std::to_string(g) + ".";
    const std::string& count = detail::get_meta(sd, prefix + "params", who);
    if (count != std::to_string(groups_[g].params.size()))
      throw ValueError(who + ": group " + std::to_string(g) + " has " + count + " parameters in the state, " +
                       std::to_string(groups_[g].params.size()) + " in the optimizer");
    Options o = groups_[g].options;
    o.fields([&](const char* key, auto& v) {
      option_from_string(detail::get_meta(sd, prefix + key, who), v, who + ": " + prefix + key);
    });
    detail::check_finite_options(o, who, prefix);
    try {
      o.check();
    } catch (const ValueError& e) {
      throw ValueError(who + ": group " + std::to_string(g) + ": " + e.what());
    }
    options.push_back(o);
    for (const Tensor& p : groups_[g].params) {
      State s{};
      std::vector<std::string> missing;
      bool any = false;
      const std::string sp = "state." + std::to_string(k) + ".";
      s.fields([&](const char* key, auto& v) {
        if (detail::get_state(lookup, sp + key, p, v, who))
          any = true;
        else if (!detail::state_field_optional<State>(key))
          missing.push_back(sp + key);
      });
      if (any) {
        // A partial state would resume from zeros where the run had values.
        if (!missing.empty())
          throw ValueError(who + ": the state of parameter " + std::to_string(k) + " has no entry '" +
                           missing.front() + "'");
        if constexpr (requires { s.check(detail::StateCheck{}); }) s.check(detail::StateCheck{who, sp});
        state.emplace(p.get(), std::move(s));
      }
      ++k;
    }
  }
  detail::check_state_names(
      sd, k,
      [](const std::string& field) {
        bool found = false;
        State probe{};
        probe.fields([&](const char* key, auto&) { found = found || field == key; });
        return found;
      },
      [this](const std::string& name) { return extra_entry(name); }, who);
  load_extra(sd, lookup);
  for (std::size_t g = 0; g < groups_.size(); ++g) groups_[g].options = options[g];
  state_ = std::move(state);
}

}  // namespace xg::optim
