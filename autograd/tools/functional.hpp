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

// ---- functions of several tensors (PyTorch's transforms over tuples of inputs and outputs) ----

using TensorsFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

struct TransformResults {
  std::vector<Tensor> outputs;  ///< f(xs)
  std::vector<Tensor> values;   ///< the vjp (one per input), jvp (one per output) or hvp (per input)
};

/// sum_i v_i^T J_i: one gradient per input for cotangents vs (one per output, its shape).
TransformResults vjp(const TensorsFunction& f, const std::vector<Tensor>& xs, const std::vector<Tensor>& vs,
                     bool create_graph = false);
/// sum_j J_ij v_j per output i, for tangents vs (one per input, its shape): one forward pass with
/// every input dual.
TransformResults jvp(const TensorsFunction& f, const std::vector<Tensor>& xs, const std::vector<Tensor>& vs,
                     bool create_graph = false);

/// How a Jacobian is computed: one backward pass per output element, one forward pass per input
/// element, or whichever takes fewer passes.
enum class JacobianMode { reverse, forward, automatic };
/// J[i][j] = d outputs[i] / d xs[j], of shape outputs[i].shape + xs[j].shape.
std::vector<std::vector<Tensor>> jacobian(const TensorsFunction& f, const std::vector<Tensor>& xs,
                                          bool create_graph = false,
                                          JacobianMode mode = JacobianMode::automatic);
inline std::vector<std::vector<Tensor>> jacrev(const TensorsFunction& f, const std::vector<Tensor>& xs,
                                               bool create_graph = false) {
  return jacobian(f, xs, create_graph, JacobianMode::reverse);
}
inline std::vector<std::vector<Tensor>> jacfwd(const TensorsFunction& f, const std::vector<Tensor>& xs,
                                               bool create_graph = false) {
  return jacobian(f, xs, create_graph, JacobianMode::forward);
}
// ---- per-sample Jacobians of a function applied row by row ----

struct BatchJacobianOptions {
  /// reverse: one backward pass per output element of a row (m of them); forward: one forward
  /// pass per input element of a row (n); automatic: forward when n < m, else reverse.
  JacobianMode mode = JacobianMode::automatic;
  bool create_graph = false;
  /// Also checks the independence assumption, by one more pass along a random direction (J v in
  /// forward mode, u^T J in reverse): a function mixing rows throws ValueError.
  bool check_independence = false;
};
/// The Jacobian of each row of f(x) with respect to the same row of x, for a function applied
/// independently to each row of a batch (x [B, n...] -> f(x) [B, m...], row b of f(x) depending
/// on row b of x alone, as a model's per-sample output without batch statistics): a tensor
/// [B, m..., n...] whose block b is d f(x)[b] / d x[b]. One pass per direction of a row serves
/// every row at once (the tangent e_j set in every row, or the cotangent e_i), so it takes
/// min(n, m) passes where jacobian takes B times as many, and never forms the [B, m, B, n]
/// cross blocks. A function that mixes rows (batch norm in training, a loss averaged over the
/// batch) gives wrong blocks, the sum over rows of the cross terms: check_independence says so.
/// Throws ShapeError when x or f(x) has no batch axis or f(x)'s batch size differs from x's.
Tensor batch_jacobian(const TensorFunction& f, const Tensor& x, const BatchJacobianOptions& options = {});

/// The Hessian blocks of a scalar f: H[i][j] = d^2 f / dxs[i] dxs[j], of shape xs[i].shape + xs[j].shape.
std::vector<std::vector<Tensor>> hessian(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                         const std::vector<Tensor>& xs, bool create_graph = false);
/// sum_j H_ij v_j per input i for a scalar f, by forward over reverse (one backward pass on duals).
TransformResults hvp(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                     const std::vector<Tensor>& xs, const std::vector<Tensor>& vs, bool create_graph = false);

}  // namespace xg
