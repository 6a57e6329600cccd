#pragma once
/// @file samples.hpp
/// @brief Internal helpers that build the sample inputs each op registers for the test sweep:
/// float64 tensors requiring grad, drawn deterministically from a domain the op is smooth on.
#include <functional>
#include <string>
#include <vector>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/op_info.hpp"

namespace xg::detail {

enum class Domain {
  real,      ///< N(0, 1)
  positive,  ///< [0.5, 2]
  nonzero,   ///< |x| in [0.2, 2], either sign (away from kinks at 0)
  unit       ///< (-0.9, 0.9)
};

/// A float64 tensor requiring grad with values from the domain; `salt` varies the draw.
Tensor sample_tensor(const Shape& shape, Domain d, unsigned salt = 0);
/// Samples for a one-operand op: a scalar, a vector, a matrix, a 3-D tensor, an empty tensor.
std::vector<OpSample> unary_samples(std::function<Tensor(const Tensor&)> f, Domain d, bool with_empty = true);
/// Samples for a two-operand op: equal shapes, broadcasting pairs, a scalar operand, size-1
/// axes, an empty pair.
std::vector<OpSample> binary_samples(std::function<Tensor(const Tensor&, const Tensor&)> f, Domain da,
                                     Domain db);
/// Samples for a reduction over `axes` (each case: shape, axes, keepdim), including negative axes.
std::vector<OpSample> reduce_samples(std::function<Tensor(const Tensor&, const Axes&, bool)> f, Domain d);

/// The samples with their PyTorch form (OpSample::torch) set to `expr`, for an op called with the
/// same non-tensor arguments in every sample: with_torch(unary_samples(...), "OP(x0, 0.1)").
std::vector<OpSample> with_torch(std::vector<OpSample> s, const std::string& expr);
/// The samples with keyword arguments added to each PyTorch call (the default "OP(x0, ...)" when
/// empty): "OP(x0, dim=(0,))" with "correction=0" gives "OP(x0, dim=(0,), correction=0)".
std::vector<OpSample> with_torch_kwargs(std::vector<OpSample> s, const std::string& kwargs);

}  // namespace xg::detail
