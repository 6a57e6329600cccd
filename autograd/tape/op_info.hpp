#pragma once
/// @file op_info.hpp
/// @brief What xgrad knows about each op, all of it written in the op's one definition block:
/// its name, its derivative as text (printed by the teaching tools), its kind, the sample inputs
/// on which the test sweep gradchecks it, and how the step-by-step backward explains its local
/// derivative with numbers.
///
/// An op is defined with XG_OP next to its kernel, in one block:
/// @code
/// XG_OP(tanh, {.formula = "d/dx tanh(x) = 1 - tanh(x)^2",
///              .kind = OpKind::primitive,
///              .samples = [] { return detail::unary_samples(...); },
///              .explain = [](const ChainRuleContext& c) { return c.times(...); }});
/// Tensor tanh(const Tensor& x) { ... return record(opdefs::tanh_op, y, {x}, backward); }
/// @endcode
/// XG_OP registers the op by construction: the registry (all_ops()) is the set of XG_OP blocks
/// linked into the program, collected by the linker from one section of constant data, so there
/// is no list to forget and no static-initialisation order (nothing runs before main). OpInfo
/// is made only by XG_OP (and by CustomOp for user ops, which are not in the registry); a public
/// op function without an XG_OP block fails the sweep's check of ops.hpp.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

/// One way to call an op on concrete inputs. Inputs that require grad are the ones gradchecked.
struct OpSample {
  std::string label;
  std::vector<Tensor> inputs;
  std::function<Tensor(std::span<const Tensor>)> call;
  /// Finite-difference step for this sample (0: gradcheck's default). Ops that round through
  /// float32 need a larger step than float64 ops.
  double eps = 0;
  /// This sample in PyTorch, for the parity suite (tests/parity): a Python expression over the
  /// inputs x0, x1, ... (as torch tensors), in which `OP` stands for the op's OpSpec::torch, e.g.
  /// "OP(x0, -1)" or "torch.tril(x0, diagonal=-1)". Empty: "OP(x0, x1, ...)".
  std::string torch = {};
};

enum class OpKind : uint8_t {
  primitive,          ///< has its own forward kernel and backward formula (a Node on the tape)
  composite,          ///< composed of other ops: records no node of its own, its gradient is derived
  non_differentiable  ///< returns masks or indices; its output never requires grad
};

/// One chain-rule line of the step-by-step backward, for one input of one recorded op:
/// `dL/dz = dL/dh * h (1 - h) = [..] * [..]`. The inspection tools print it only when
/// `predicted` equals the gradient the op's backward really sent.
struct ChainRuleLine {
  std::string expr;     ///< "dL/dh * h (1 - h)"
  std::string numbers;  ///< "[0.5] * [0.25]" (empty: the line shows no numbers of its own)
  Tensor predicted;     ///< what expr evaluates to
  /// The local derivative when the line is `up * local` (or `up / d`: 1 / d; a pass: 1 or -1),
  /// broadcast against the upstream gradient; undefined for other lines (a matrix product).
  Tensor local = {};
};
/// What an explanation may read: the step's labels and values (autograd/ops/explain.hpp).
class ChainRuleContext;
using ExplainFn = std::optional<ChainRuleLine> (*)(const ChainRuleContext&);

/// The scalar arguments an op keeps on its node for its explanation (pow's exponent, a slope),
/// read there as ChainRuleContext::attr(i); the backward keeps what it needs in its captures.
struct OpAttrs {
  std::array<double, 2> values{};
  uint8_t size = 0;
};

/// The fields of an op's definition block, in XG_OP's designated initialiser.
struct OpSpec {
  const char* formula = nullptr;  ///< the derivative as text, e.g. "d/dx tanh(x) = 1 - tanh(x)^2"
  OpKind kind = OpKind::primitive;
  ExplainFn explain = nullptr;  ///< nullptr: the step-by-step backward prints the gradient alone
  std::vector<OpSample> (*samples)() = nullptr;  ///< nullptr fails the sweep
  /// The op in PyTorch, a Python callable such as "torch.tanh" or "torch.nn.functional.gelu"
  /// (the parity suite calls it on each sample's inputs, see OpSample::torch). nullptr: the op
  /// has no PyTorch counterpart and must be on the parity suite's explained exception list.
  const char* torch = nullptr;
};

namespace detail {
struct OpDefinition;
}

class OpInfo : public OpSpec {
 public:
  const char* name;

 private:
  constexpr OpInfo(const char* n, const OpSpec& s) : OpSpec(s), name(n) {}
  friend struct detail::OpDefinition;
};

namespace detail {
/// The one way to make an OpInfo: XG_OP (registered) and CustomOp (a user's op, not registered).
struct OpDefinition {
  static constexpr OpInfo make(const char* name, const OpSpec& spec) { return OpInfo(name, spec); }
};
}  // namespace detail

/// Every op of xgrad linked into this program, in link order (the sweep does not rely on it).
const std::vector<const OpInfo*>& all_ops();
/// The op of that name, or nullptr.
const OpInfo* find_op(std::string_view name);

}  // namespace xg

/// Defines op `n` (an `xg::opdefs::n_op`) and registers it: the address goes into the linker
/// section xg_op_registry, which all_ops() reads. Use inside namespace xg, followed by `;`.
/// The object has external linkage, so two definitions of one name fail to link.
#define XG_OP(n, ...)                                                                                    \
  namespace opdefs {                                                                                     \
  extern const ::xg::OpInfo n##_op;                                                                      \
  [[gnu::used, gnu::section("xg_op_registry")]] constinit const ::xg::OpInfo* const n##_entry = &n##_op; \
  }                                                                                                      \
  constinit const ::xg::OpInfo opdefs::n##_op = ::xg::detail::OpDefinition::make(#n, ::xg::OpSpec __VA_ARGS__)
