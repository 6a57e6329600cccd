#pragma once
/// @file forward_ad.hpp
/// @brief Forward-mode AD: dual tensors (a primal and a tangent), as torch.autograd.forward_ad.
/// Inside a DualLevel, make_dual(x, v) gives x carrying the tangent v; every op applied to it
/// computes the tangent of its output by its JVP rule (J v, written next to the op's backward),
/// so that unpack_dual(f(x)).tangent is J_f(x) v after one forward pass.
/// @code
/// xg::forward_ad::DualLevel level;
/// xg::Tensor x = xg::forward_ad::make_dual(x0, v);
/// xg::Tensor jv = xg::forward_ad::unpack_dual(xg::tanh(x)).tangent;  // (1 - tanh(x0)^2) v
/// @endcode
/// - A tangent lives on its tensor and belongs to the level it was made in; once that level
///   exits it is ignored (unpack_dual returns no tangent) and no op propagates it.
/// - Tangents propagate whether grad mode is on or off and whether anything requires grad. With
///   grad mode on, the tangent computation is itself recorded when its inputs require grad, so
///   reverse mode can differentiate a tangent (reverse-over-forward), and the backward formulas
///   being xgrad ops, a gradient computed on duals carries its own tangent (forward-over-reverse:
///   xg::hvp).
/// - An op with no JVP rule reached by a dual throws xg::ValueError "forward-mode AD: op 'X' has no
///   JVP rule"; a custom op needs CustomOp::set_jvp.
#include <cstdint>
#include <memory>
#include <span>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {
class OpInfo;
class Node;

namespace forward_ad {

/// The scope in which duals live (one at a time: a DualLevel inside another throws ValueError).
class DualLevel {
 public:
  DualLevel();
  ~DualLevel();
  DualLevel(const DualLevel&) = delete;
  DualLevel& operator=(const DualLevel&) = delete;
  /// This level's id (ids grow, never reused).
  uint64_t id() const { return id_; }

 private:
  uint64_t id_;
};

/// A tensor with the values of `primal` (sharing them, and its graph: gradients flow back to
/// primal) carrying `tangent` at the current level. The tangent must have the primal's shape
/// and be of a float dtype (converted to the primal's); it is kept as given, not copied. Throws
/// outside a DualLevel, on an int64 primal, and on a shape mismatch (ShapeError naming both).
Tensor make_dual(const Tensor& primal, const Tensor& tangent);

struct UnpackedDual {
  Tensor primal;   ///< the values (an alias, differentiable back to the dual), without tangent
  Tensor tangent;  ///< undefined when the tensor has no tangent at the current level
};
UnpackedDual unpack_dual(const Tensor& t);

/// True while a DualLevel is active on this thread.
bool is_active();

}  // namespace forward_ad

namespace detail {
/// The current dual level on this thread, 0 when none is active or while a JVP rule runs (so that
/// the rule's own ops on primals propagate nothing): the one branch every op pays.
[[gnu::tls_model("initial-exec")]] extern constinit thread_local uint64_t fw_level;
/// The tangent of t at the current level (undefined if none). Call only when fw_level != 0.
Tensor tangent_of(const Tensor& t);
/// True when one of the inputs has a tangent at the current level. Call only when fw_level != 0.
bool any_tangent(std::span<const Tensor> inputs);
/// Sets out's tangent at the current level (broadcast to out's shape and converted to its dtype
/// when needed; undefined: none).
void set_tangent(const Tensor& out, const Tensor& tangent);
[[noreturn]] void throw_no_jvp(const char* op);
/// A node now holds an output tangent: the level drops it at exit (its graph may hold the node).
void register_tangent_node(Node& node);
/// A tensor now holds a tangent of the open level: the level drops it at exit (the tangent's graph
/// may hold, through a saved input, the tensor itself: a cycle otherwise).
void register_tangent_tensor(const std::shared_ptr<TensorImpl>& impl);

/// Runs a JVP rule with tangent propagation off (grad mode unchanged).
class JvpRuleGuard {
 public:
  JvpRuleGuard() : prev_(fw_level) { fw_level = 0; }
  ~JvpRuleGuard() { fw_level = prev_; }
  JvpRuleGuard(const JvpRuleGuard&) = delete;
  JvpRuleGuard& operator=(const JvpRuleGuard&) = delete;
  uint64_t level() const { return prev_; }

 private:
  uint64_t prev_;
};

/// For in-place ops whose tangent update is not supported: throws ValueError naming `op` when
/// self or other (may be undefined) carries a tangent at the current level.
void check_no_tangent_inplace(const Tensor& self, const Tensor& other, const char* op);

/// a + b where an undefined tensor is a zero tangent (both undefined: undefined).
Tensor tangent_sum(const Tensor& a, const Tensor& b);
/// t * d, undefined (a zero tangent) when t is; for one term of a JVP rule: J_i t_i.
Tensor tmul(const Tensor& t, const Tensor& d);
}  // namespace detail

}  // namespace xg
