#pragma once
/// @file scope.hpp
/// @brief Where on the model an op was recorded: every node carries the id of the scope that was
/// current when it was recorded (a module's path such as "blocks.0.attn", an RNN's time step
/// "lstm.t3"), so that the inspection tools can say which module an op belongs to, group a
/// module's ops into one step and cluster the graph by module. A scope is a 32-bit id into a
/// process-wide table that only grows; id 0 is "no scope" (an op recorded outside any module).
/// Modules push their scope themselves (nn/module.hpp); `xg::NamedScope` pushes a named one.
///
/// The same file keeps the names the tools show for tensors without a name of their own: the
/// modules register their parameters' and buffers' dotted names ("blocks.0.attn.in_proj_weight")
/// here, weakly (a dead tensor's entry is ignored and dropped).
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
  std::string name;  ///< the last segment ("attn", "t3"; "" for a model's root)
  std::string path;  ///< the dotted path from the root ("blocks.0.attn"; "" for the root itself)
  std::string type;  ///< the module's type ("MultiheadAttention"), "" for a time step or a named scope
  int depth = 0;     ///< number of segments of path (0: no scope or a root)
};

/// The id of child `name` of `parent`, created on first use (thread-safe).
ScopeId scope_child(ScopeId parent, std::string_view name, std::string_view type = {});
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

/// Registers `name` as the name the inspection tools show for `t` when it has no name of its own
/// (t.name()); the modules do so for their parameters and buffers. Weak: the entry dies with t.
void set_display_name(const Tensor& t, std::string name);
/// The registered name of `impl`, or "" when none (or its tensor died).
std::string display_name(const TensorImpl* impl);

}  // namespace xg
