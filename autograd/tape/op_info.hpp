#pragma once
/// @file op_info.hpp
/// @brief What the registry knows about each op: its name, its derivative as text (printed by the
/// teaching tools), and the sample inputs on which the test sweep gradchecks it.
#include <functional>
#include <span>
#include <string>
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
};

enum class OpKind : uint8_t {
  primitive,          ///< has its own forward kernel and backward formula (a Node on the tape)
  composite,          ///< composed of other ops: its gradient is derived, never written
  non_differentiable  ///< returns masks or indices; its output never requires grad
};

struct OpInfo {
  const char* name;
  const char* formula;  ///< the derivative as text, e.g. "d/dx tanh(x) = 1 - tanh(x)^2"
  OpKind kind;
  std::vector<OpSample> (*samples)();  ///< nullptr: registered without samples (fails the suite)
};

/// Every op of xgrad, in one explicit list (autograd/registry.cpp).
const std::vector<const OpInfo*>& all_ops();
/// The op of that name, or nullptr.
const OpInfo* find_op(std::string_view name);

}  // namespace xg
