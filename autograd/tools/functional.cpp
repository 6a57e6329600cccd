#include "xgrad/autograd/tools/functional.hpp"

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"

namespace xg {

namespace {

// The point at which f is evaluated: a fresh leaf, or (create_graph) a differentiable alias of x.
Tensor input_for(const Tensor& x, bool create_graph, const char* op) {
  if (!x.defined()) throw ValueError(std::string(op) + ": the input is undefined");
  if (!x.is_floating_point())
    throw TypeError(std::string(op) + ": the input must be a float tensor, got int64");
  if (create_graph && x.requires_grad()) return reshape(x, x.shape());
  Tensor leaf = x.detach();
  leaf.requires_grad_(true);
  return leaf;
}

Tensor evaluate(const TensorFunction& f, const Tensor& x, const char* op) {
  AutoGradMode on(true);
  Tensor y = f(x);
  if (!y.defined()) throw ValueError(std::string(op) + ": the function returned an undefined tensor");
  return y;
}

Tensor or_zeros(const Tensor& g, const Tensor& like) {
  return g.defined() ? g : zeros_like(like);
}

void check_same_shape(const Tensor& v, const Tensor& like, const char* op, const char* what) {
  if (!v.defined() || !(v.shape() == like.shape()))
    throw ShapeError(std::string(op) + ": v must have the shape of " + what + " " + like.shape().str() +
                     ", got " + (v.defined() ? v.shape().str() : std::string("undefined")));
}

Tensor result(const Tensor& t, bool create_graph) {
  return create_graph ? t : t.detach();
}

}  // namespace

TransformResult vjp(const TensorFunction& f, const Tensor& x, const Tensor& v, bool create_graph) {
  Tensor xi = input_for(x, create_graph, "vjp");
  Tensor y = evaluate(f, xi, "vjp");
  check_same_shape(v, y, "vjp", "f(x)");
  if (!y.requires_grad()) return {result(y, create_graph), zeros_like(x)};
  Tensor g = grad({y}, {xi}, {v}, create_graph, create_graph, true)[0];
  return {result(y, create_graph), result(or_zeros(g, x), create_graph)};
}

TransformResult jvp(const TensorFunction& f, const Tensor& x, const Tensor& v, bool create_graph) {
  check_same_shape(v, x, "jvp", "x");
  Tensor xi = input_for(x, create_graph, "jvp");
  Tensor y = evaluate(f, xi, "jvp");
  if (!y.requires_grad()) return {result(y, create_graph), zeros_like(y)};
  Tensor u = zeros_like(y).requires_grad_(true);
  Tensor g = grad({y}, {xi}, {u}, true, true, true)[0];  // J^T u, linear in u
  if (!g.defined() || !g.requires_grad()) return {result(y, create_graph), zeros_like(y)};
  Tensor jv = grad({g}, {u}, {v.to(g.dtype())}, create_graph, create_graph, true)[0];
  return {result(y, create_graph), result(or_zeros(jv, y), create_graph)};
}

Tensor jacobian(const TensorFunction& f, const Tensor& x, bool create_graph) {
  Tensor xi = input_for(x, create_graph, "jacobian");
  Tensor y = evaluate(f, xi, "jacobian");
  Shape js = y.shape();
  for (int64_t d : x.shape()) js.push_back(d);
  if (!y.requires_grad() || y.numel() == 0) return zeros(js, {.dtype = x.dtype()});
  std::vector<Tensor> rows;
  for (int64_t k = 0; k < y.numel(); ++k) {
    Tensor onehot = zeros(y.shape(), {.dtype = y.dtype()});
    if (y.dtype() == Dtype::float64)
      onehot.data<double>()[k] = 1;
    else
      onehot.data<float>()[k] = 1;
    Tensor g = grad({y}, {xi}, {onehot}, true, create_graph, true)[0];
    rows.push_back(or_zeros(g, x));
  }
  return result(reshape(stack(rows, 0), js), create_graph);
}

Tensor hessian(const TensorFunction& f, const Tensor& x, bool create_graph) {
  auto gradient = [&f](const Tensor& xi) {
    Tensor y = f(xi);
    if (!y.defined() || y.numel() != 1)
      throw ShapeError("hessian: f must return a one-element tensor, got " +
                       (y.defined() ? y.shape().str() : std::string("undefined")));
    if (!y.requires_grad()) return zeros_like(xi);
    return or_zeros(grad({y}, {xi}, {}, true, true, true)[0], xi);
  };
  return jacobian(gradient, x, create_graph);
}

TransformResult hvp(const TensorFunction& f, const Tensor& x, const Tensor& v, bool create_graph) {
  check_same_shape(v, x, "hvp", "x");
  Tensor xi = input_for(x, create_graph, "hvp");
  Tensor y = evaluate(f, xi, "hvp");
  if (y.numel() != 1) throw ShapeError("hvp: f must return a one-element tensor, got " + y.shape().str());
  if (!y.requires_grad()) return {result(y, create_graph), zeros_like(x)};
  Tensor g = grad({y}, {xi}, {}, true, true, true)[0];
  if (!g.defined() || !g.requires_grad()) return {result(y, create_graph), zeros_like(x)};
  Tensor hv = grad({g}, {xi}, {v.to(g.dtype())}, create_graph, create_graph, true)[0];
  return {result(y, create_graph), result(or_zeros(hv, x), create_graph)};
}

}  // namespace xg
