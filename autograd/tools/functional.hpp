#pragma once
/// @file functional.hpp
/// @brief Function transforms over functions of tensors (PyTorch's torch.autograd.functional,
/// in C++): vjp, jvp, jacobian, hessian, hvp. Each evaluates f on inputs cut from the caller's
/// graph (unless create_graph, which keeps the result differentiable).
#include <functional>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

using TensorFunction = std::function<Tensor(const Tensor&)>;

struct TransformResult {
  Tensor output;  ///< f(x)
  Tensor value;   ///< the vjp, jvp or hvp
};

/// v^T J: the vector-Jacobian product (v has f(x)'s shape; result has x's shape).
TransformResult vjp(const TensorFunction& f, const Tensor& x, const Tensor& v, bool create_graph = false);
/// J v: the Jacobian-vector product (v has x's shape; result has f(x)'s shape), computed with
/// two reverse passes (the vjp is linear in its cotangent, so differentiating it gives J v).
TransformResult jvp(const TensorFunction& f, const Tensor& x, const Tensor& v, bool create_graph = false);
/// The Jacobian of f at x, of shape f(x).shape + x.shape.
Tensor jacobian(const TensorFunction& f, const Tensor& x, bool create_graph = false);
/// The Hessian of a scalar f at x, of shape x.shape + x.shape.
Tensor hessian(const TensorFunction& f, const Tensor& x, bool create_graph = false);
/// H v for a scalar f: the Hessian-vector product, without forming H.
TransformResult hvp(const TensorFunction& f, const Tensor& x, const Tensor& v, bool create_graph = false);

}  // namespace xg
