#pragma once
/// @file scope.hpp
/// @brief Where on the model an op was recorded: every node carries the id of the scope that was
/// current when it was recorded (a module's path such as "blocks.0.attn", an RNN's time step
/// "lstm.t3"), so that the inspection tools can say which module an op belongs to, group a
/// module's ops into one step and cluster the graph by module. A scope is a 32-bit id into a
/// process-wide table that only grows; id 0 is "no scope" (an op recorded outside any module).
/// Modules push their scope themselves (nn/module.hpp); `xg::NamedScope` pushes a named one.
///
/// A composite op (OpKind::composite: made of other ops) records its ops in a scope of its own,
/// the op's name under the current scope ("blocks.0.ln1/mean", "mean" outside any module), so
/// that the tools can show its expansion as one step. The ops of autograd/ops/ do so by
/// XG_COMPOSITE_SCOPE at their top (the op sweep fails a composite that forgets it); a user's own
/// composite function with `xg::CompositeScope scope("layer_norm");`.
///
/// The same file keeps the names the tools show for tensors without a name of their own: the
/// modules register their parameters' and buffers' dotted names ("blocks.0.attn.in_proj_weight")
/// here, weakly (a dead tensor's entry is ignored and dropped).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace xg {

class Tensor;
struct TensorImpl;

using ScopeId = uint32_t;

/// One entry of the scope table.
struct ScopeInfo {
  ScopeId parent = 0;
  std::string name;        ///< the last segment ("attn", "t3"; "" for a model's root)
  std::string path;        ///< the dotted path from the root ("blocks.0.attn"; "" for the root itself)
  std::string type;        ///< the module's type ("MultiheadAttention"), "" for a time step or a named
                           ///< scope, "composite" for a composite op's call
  int depth = 0;           ///< number of segments of path (0: no scope or a root)
  bool composite = false;  ///< a composite op's call (scope_composite)
};

/// The id of child `name` of `parent`, created on first use (thread-safe).
ScopeId scope_child(ScopeId parent, std::string_view name, std::string_view type = {});
/// The scope of a call of composite op `name` inside `parent`: path "parent/name" (a segment
/// after '/' names an op, not a module), type "composite". `twin`: a second id with the same
/// path, which consecutive calls alternate with, so that two calls in a row stay two steps.
ScopeId scope_composite(ScopeId parent, std::string_view name, bool twin = false);
/// The entry of `id` (a copy: the table may grow meanwhile). Unknown ids give the empty entry.
ScopeInfo scope_info(ScopeId id);
/// True when `id` is `ancestor` or lies below it.
bool scope_within(ScopeId id, ScopeId ancestor);
/// The ancestor of `id` (or id itself) at `depth` segments; id when it is not deeper.
ScopeId scope_at_depth(ScopeId id, int depth);

namespace detail {
// The scope new nodes are recorded in, on this thread (initial-exec: one %fs-relative load).
[[gnu::tls_model("initial-exec")]] extern constinit thread_local ScopeId current_scope;
}  // namespace detail
inline ScopeId current_scope() {
  return detail::current_scope;
}

/// RAII: records ops in scope `id` while alive, then restores the previous scope.
class ScopeGuard {
 public:
  explicit ScopeGuard(ScopeId id) : prev_(detail::current_scope) { detail::current_scope = id; }
  ~ScopeGuard() { detail::current_scope = prev_; }
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;

 private:
  ScopeId prev_;
};

/// RAII: records ops in the child `name` of the current scope ("t3" inside "lstm": "lstm.t3").
class NamedScope : public ScopeGuard {
 public:
  explicit NamedScope(std::string_view name) : ScopeGuard(scope_child(current_scope(), name)) {}
};

namespace detail {
// The last composite call scope that ended on this thread: a call that would get the same id
// takes its twin instead (scope_composite).
[[gnu::tls_model("initial-exec")]] extern constinit thread_local ScopeId last_composite;
// The name (its address) of the composite running on this thread, nullptr outside any.
[[gnu::tls_model("initial-exec")]] extern constinit thread_local const char* composite_name;
// A per-thread cache of (parent scope, name) -> the call's two ids, so that a composite's scope
// costs a few loads and stores and no lock (scope.cpp). `name` views the table's own copy.
struct CompositeCacheEntry {
  ScopeId parent = 0;
  const char* key = nullptr;
  std::string_view name;
  ScopeId ids[2] = {0, 0};
};
inline constexpr std::size_t composite_cache_size = 64;
[[gnu::tls_model(
    "initial-exec")]] extern constinit thread_local CompositeCacheEntry composite_cache[composite_cache_size];
ScopeId composite_scope_miss(ScopeId parent, std::string_view name, CompositeCacheEntry& e);

inline ScopeId composite_call_scope(ScopeId parent, std::string_view name) {
  const auto h =
      (reinterpret_cast<std::uintptr_t>(name.data()) >> 3) ^ (std::uintptr_t{parent} * 0x9E3779B1u);
  CompositeCacheEntry& e = composite_cache[(h ^ (h >> 9)) % composite_cache_size];
  const bool hit = e.key == name.data() && e.parent == parent && e.ids[0] && e.name == name;
  const ScopeId id = hit ? e.ids[0] : composite_scope_miss(parent, name, e);
  return id == last_composite ? e.ids[1] : id;
}
}  // namespace detail

/// RAII: records ops in a call scope of composite op `name` (scope_composite) while alive. The
/// composite ops of autograd/ops/ open one by XG_COMPOSITE_SCOPE; a function of one's own made of
/// several ops does the same with `xg::CompositeScope scope("layer_norm");` at its top, and the
/// tools show its ops as one collapsible step. A call of the same name (the same string) from
/// inside it, an overload or a recursion, is part of the same call. Costs a few ns.
class CompositeScope {
 public:
  explicit CompositeScope(std::string_view name)
      : prev_(detail::current_scope), prev_name_(detail::composite_name) {
    if (name.data() == prev_name_) return;
    detail::composite_name = name.data();
    detail::current_scope = detail::composite_call_scope(prev_, name);
  }
  ~CompositeScope() {
    if (detail::composite_name == prev_name_) return;  // (nothing pushed)
    detail::last_composite = detail::current_scope;
    detail::current_scope = prev_;
    detail::composite_name = prev_name_;
  }
  CompositeScope(const CompositeScope&) = delete;
  CompositeScope& operator=(const CompositeScope&) = delete;

 private:
  ScopeId prev_;
  const char* prev_name_;
};

/// Registers `name` as the name the inspection tools show for `t` when it has no name of its own
/// (t.name()); the modules do so for their parameters and buffers. Weak: the entry dies with t.
void set_display_name(const Tensor& t, std::string name);
/// The registered name of `impl`, or "" when none (or its tensor died).
std::string display_name(const TensorImpl* impl);

}  // namespace xg

/// At the top of a composite op's function (an XG_OP of OpKind::composite): its ops are recorded
/// in the op's call scope (scope_composite), e.g. `Tensor gelu(const Tensor& x) {
/// XG_COMPOSITE_SCOPE(gelu); ... }`. Use where the op's XG_OP block is visible (its opdefs).
#define XG_COMPOSITE_SCOPE(n) const ::xg::CompositeScope xg_composite_scope_(opdefs::n##_op.name)
