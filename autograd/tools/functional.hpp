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
/// J v: the Jacobian-vector product (v has x's shape; result has f(x)'s shape), computed by one
/// forward pass on the dual (x, v) (forward mode, autograd/tape/forward_ad.hpp). Every op f uses
/// needs a JVP rule (else ValueError naming the op). Opens a DualLevel: not callable inside one.
TransformResult jvp(const TensorFunction& f, const Tensor& x, const Tensor& v, bool create_graph = false);
/// The Jacobian of f at x, of shape f(x).shape + x.shape, by reverse mode: one backward pass per
/// output element (jacrev).
Tensor jacobian(const TensorFunction& f, const Tensor& x, bool create_graph = false);
/// The same Jacobian by forward mode: one forward pass per input element (cheaper than jacobian
/// when x has fewer elements than f(x)).
Tensor jacfwd(const TensorFunction& f, const Tensor& x, bool create_graph = false);
/// jacobian under the name that says how it is computed (reverse mode), beside jacfwd.
inline Tensor jacrev(const TensorFunction& f, const Tensor& x, bool create_graph = false) {
  return jacobian(f, x, create_graph);
}
/// The Hessian of a scalar f at x, of shape x.shape + x.shape.
Tensor hessian(const TensorFunction& f, const Tensor& x, bool create_graph = false);
/// H v for a scalar f: the Hessian-vector product, without forming H, by forward over reverse
/// (one backward pass on the dual (x, v)).
TransformResult hvp(const TensorFunction& f, const Tensor& x, const Tensor& v, bool create_graph = false);

}  // namespace xg
