#include "xgrad/autograd/tools/functional.hpp"

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/forward_ad.hpp"
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
  if (!x.is_floating_point()) throw TypeError("jvp: the input must be a float tensor, got int64");
  // One forward pass on the dual (x, v). create_graph keeps x's and v's graphs (make_dual is
  // differentiable in both); otherwise nothing is recorded.
  forward_ad::DualLevel level;
  AutoGradMode on(true);  // as the other transforms evaluate f
  Tensor xd = forward_ad::make_dual(create_graph ? x : x.detach(), create_graph ? v : v.detach());
  Tensor y = f(xd);
  if (!y.defined()) throw ValueError("jvp: the function returned an undefined tensor");
  forward_ad::UnpackedDual u = forward_ad::unpack_dual(y);
  Tensor jv = u.tangent.defined() ? u.tangent : zeros_like(y);
  return {result(u.primal, create_graph), result(jv, create_graph)};
}

Tensor jacfwd(const TensorFunction& f, const Tensor& x, bool create_graph) {
  if (!x.defined()) throw ValueError("jacfwd: the input is undefined");
  if (!x.is_floating_point()) throw TypeError("jacfwd: the input must be a float tensor, got int64");
  // One forward pass per input basis direction e_k: column k of J is J e_k.
  std::vector<Tensor> cols;
  Shape ys;
  for (int64_t k = 0; k < x.numel(); ++k) {
    Tensor e = zeros(x.shape(), {.dtype = x.dtype()});
    if (x.dtype() == Dtype::float64)
      e.data<double>()[k] = 1;
    else
      e.data<float>()[k] = 1;
    TransformResult r = jvp(f, x, e, create_graph);
    ys = r.value.shape();
    cols.push_back(r.value);
  }
  if (cols.empty()) {  // x has no elements: f(x) once for the output's shape
    NoGradGuard off;
    ys = f(x.detach()).shape();
  }
  Shape js = ys;
  for (int64_t d : x.shape()) js.push_back(d);
  if (cols.empty() || ys.numel() == 0) return zeros(js, {.dtype = x.dtype()});
  return result(reshape(stack(cols, ys.rank()), js), create_graph);
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
  // Forward over reverse: the gradient of f computed on the dual (x, v) carries the tangent H v,
  // since the backward formulas are themselves xgrad ops with JVP rules. create_graph for the
  // gradient, so that those formulas run as (differentiable) ops rather than fused kernels.
  Tensor xi = input_for(x, create_graph, "hvp");
  forward_ad::DualLevel level;
  AutoGradMode on(true);  // the dual must be on xi's graph, even under NoGradGuard
  Tensor xd = forward_ad::make_dual(xi, create_graph ? v : v.detach());
  Tensor y = evaluate(f, xd, "hvp");
  if (y.numel() != 1) throw ShapeError("hvp: f must return a one-element tensor, got " + y.shape().str());
  Tensor out = forward_ad::unpack_dual(y).primal;
  if (!y.requires_grad()) return {result(out, create_graph), zeros_like(x)};
  Tensor g = grad({y}, {xi}, {}, true, true, true)[0];
  Tensor hv = g.defined() ? forward_ad::unpack_dual(g).tangent : Tensor();
  return {result(out, create_graph), result(or_zeros(hv, x), create_graph)};
}

}  // namespace xg
