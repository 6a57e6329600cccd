#include "xgrad/autograd/tools/functional.hpp"

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/forward_ad.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tensor/generator.hpp"

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

// Zeros of like's shape and dtype with a 1 at flat position k: one direction of a Jacobian.
Tensor basis(const Tensor& like, int64_t k) {
  Tensor e = zeros(like.shape(), {.dtype = like.dtype()});
  if (like.dtype() == Dtype::float64)
    e.data<double>()[k] = 1;
  else
    e.data<float>()[k] = 1;
  return e;
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
    TransformResult r = jvp(f, x, basis(x, k), create_graph);
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
    Tensor g = grad({y}, {xi}, {basis(y, k)}, true, create_graph, true)[0];
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

// ---- functions of several tensors ----

namespace {

std::vector<Tensor> inputs_for(const std::vector<Tensor>& xs, bool create_graph, const char* op) {
  std::vector<Tensor> out;
  out.reserve(xs.size());
  for (const Tensor& x : xs) out.push_back(input_for(x, create_graph, op));
  return out;
}

std::vector<Tensor> evaluate_all(const TensorsFunction& f, const std::vector<Tensor>& xs, const char* op) {
  AutoGradMode on(true);
  std::vector<Tensor> ys = f(xs);
  for (std::size_t i = 0; i < ys.size(); ++i)
    if (!ys[i].defined())
      throw ValueError(std::string(op) + ": the function's output " + std::to_string(i) + " is undefined");
  return ys;
}

void check_shapes(const std::vector<Tensor>& vs, const std::vector<Tensor>& like, const char* op,
                  const char* what) {
  if (vs.size() != like.size())
    throw ValueError(std::string(op) + ": " + std::to_string(vs.size()) + " vectors for " +
                     std::to_string(like.size()) + " " + what);
  for (std::size_t i = 0; i < vs.size(); ++i)
    if (!vs[i].defined() || !(vs[i].shape() == like[i].shape()))
      throw ShapeError(std::string(op) + ": v " + std::to_string(i) + " must have the shape of " + what +
                       " " + std::to_string(i) + " " + like[i].shape().str() + ", got " +
                       (vs[i].defined() ? vs[i].shape().str() : std::string("undefined")));
}

std::vector<Tensor> results(const std::vector<Tensor>& ts, bool create_graph) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(result(t, create_graph));
  return out;
}

Shape joined(const Shape& a, const Shape& b) {
  Shape s = a;
  for (int64_t d : b) s.push_back(d);
  return s;
}

}  // namespace

TransformResults vjp(const TensorsFunction& f, const std::vector<Tensor>& xs, const std::vector<Tensor>& vs,
                     bool create_graph) {
  std::vector<Tensor> xi = inputs_for(xs, create_graph, "vjp");
  std::vector<Tensor> ys = evaluate_all(f, xi, "vjp");
  check_shapes(vs, ys, "vjp", "output");
  std::vector<Tensor> outs, cot;
  for (std::size_t i = 0; i < ys.size(); ++i)
    if (ys[i].requires_grad()) {
      outs.push_back(ys[i]);
      cot.push_back(vs[i]);
    }
  std::vector<Tensor> g(xs.size());
  if (!outs.empty()) g = grad(outs, xi, cot, create_graph, create_graph, true);
  for (std::size_t j = 0; j < xs.size(); ++j) g[j] = result(or_zeros(g[j], xs[j]), create_graph);
  return {results(ys, create_graph), g};
}

TransformResults jvp(const TensorsFunction& f, const std::vector<Tensor>& xs, const std::vector<Tensor>& vs,
                     bool create_graph) {
  check_shapes(vs, xs, "jvp", "input");
  forward_ad::DualLevel level;
  AutoGradMode on(true);
  std::vector<Tensor> xd;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    if (!xs[j].is_floating_point())
      throw TypeError("jvp: input " + std::to_string(j) + " must be a float tensor");
    xd.push_back(
        forward_ad::make_dual(create_graph ? xs[j] : xs[j].detach(), create_graph ? vs[j] : vs[j].detach()));
  }
  std::vector<Tensor> ys = evaluate_all(f, xd, "jvp");
  std::vector<Tensor> outs, jv;
  for (const Tensor& y : ys) {
    forward_ad::UnpackedDual u = forward_ad::unpack_dual(y);
    outs.push_back(result(u.primal, create_graph));
    jv.push_back(result(u.tangent.defined() ? u.tangent : zeros_like(y), create_graph));
  }
  return {outs, jv};
}

std::vector<std::vector<Tensor>> jacobian(const TensorsFunction& f, const std::vector<Tensor>& xs,
                                          bool create_graph, JacobianMode mode) {
  std::vector<Tensor> xi = inputs_for(xs, create_graph, "jacobian");
  std::vector<Tensor> ys = evaluate_all(f, xi, "jacobian");
  int64_t in_count = 0, out_count = 0;
  for (const Tensor& x : xs) in_count += x.numel();
  for (const Tensor& y : ys) out_count += y.numel();
  if (mode == JacobianMode::automatic)
    mode = in_count < out_count ? JacobianMode::forward : JacobianMode::reverse;
  std::vector<std::vector<Tensor>> J(ys.size(), std::vector<Tensor>(xs.size()));
  auto zero_block = [&](std::size_t i, std::size_t j) {
    return zeros(joined(ys[i].shape(), xs[j].shape()), {.dtype = xs[j].dtype()});
  };
  if (mode == JacobianMode::reverse) {
    // one backward pass per output element gives row k of J[i][j] for every input j
    for (std::size_t i = 0; i < ys.size(); ++i) {
      if (!ys[i].requires_grad() || ys[i].numel() == 0) {
        for (std::size_t j = 0; j < xs.size(); ++j) J[i][j] = zero_block(i, j);
        continue;
      }
      std::vector<std::vector<Tensor>> rows(xs.size());
      for (int64_t k = 0; k < ys[i].numel(); ++k) {
        std::vector<Tensor> g = grad({ys[i]}, xi, {basis(ys[i], k)}, true, create_graph, true);
        for (std::size_t j = 0; j < xs.size(); ++j) rows[j].push_back(or_zeros(g[j], xs[j]));
      }
      for (std::size_t j = 0; j < xs.size(); ++j)
        J[i][j] = result(reshape(stack(rows[j], 0), joined(ys[i].shape(), xs[j].shape())), create_graph);
    }
    return J;
  }
  // one forward pass per input element (only input j dual) gives column k of J[i][j] for every output i
  for (std::size_t j = 0; j < xs.size(); ++j) {
    if (!xs[j].is_floating_point())
      throw TypeError("jacobian: input " + std::to_string(j) + " must be a float tensor");
    std::vector<std::vector<Tensor>> cols(ys.size());
    for (int64_t k = 0; k < xs[j].numel(); ++k) {
      forward_ad::DualLevel level;
      AutoGradMode on(true);
      std::vector<Tensor> xd;
      for (std::size_t m = 0; m < xs.size(); ++m) {
        const Tensor base = create_graph ? xi[m] : xs[m].detach();
        xd.push_back(m == j ? forward_ad::make_dual(base, basis(xs[j], k)) : base);
      }
      std::vector<Tensor> yk = evaluate_all(f, xd, "jacobian");
      for (std::size_t i = 0; i < ys.size(); ++i) {
        const Tensor t = forward_ad::unpack_dual(yk[i]).tangent;
        cols[i].push_back(t.defined() ? t : zeros_like(ys[i]));
      }
    }
    for (std::size_t i = 0; i < ys.size(); ++i) {
      if (cols[i].empty() || ys[i].numel() == 0) {
        J[i][j] = zero_block(i, j);
        continue;
      }
      J[i][j] =
          result(reshape(stack(cols[i], ys[i].dim()), joined(ys[i].shape(), xs[j].shape())), create_graph);
    }
  }
  return J;
}

// ---- per-sample Jacobians ----

namespace {

// Zeros of like's shape [B, r...] with a 1 at flat position k of every row: one direction for
// every row at once.
Tensor row_basis(const Tensor& like, int64_t k) {
  Tensor e = zeros(like.shape(), {.dtype = like.dtype()});
  const int64_t B = like.shape()[0], r = B ? like.numel() / B : 0;
  for (int64_t b = 0; b < B; ++b) {
    if (like.dtype() == Dtype::float64)
      e.data<double>()[b * r + k] = 1;
    else
      e.data<float>()[b * r + k] = 1;
  }
  return e;
}

Shape row_shape(const Shape& shape) {
  Shape s;
  for (int d = 1; d < shape.rank(); ++d) s.push_back(shape[d]);
  return s;
}

// The independence check: `actual` (one pass along a random direction) against `predicted` (the
// same product from the per-row Jacobians).
void check_rows_independent(const Tensor& actual, const Tensor& predicted, const char* product) {
  NoGradGuard off;
  const Tensor a = actual.detach().to(Dtype::float64), p = predicted.detach().to(Dtype::float64);
  const double scale = a.numel() ? max(abs(a)).item() : 0.0;
  const double diff = a.numel() ? max(abs(a - p)).item() : 0.0;
  const double tol = actual.dtype() == Dtype::float64 ? 1e-8 : 1e-4;
  if (!(diff <= tol * (1 + scale)))
    throw ValueError("batch_jacobian: f mixes the rows of its batch: along a random direction, " +
                     std::string(product) + " differs from the per-row Jacobians' product by " +
                     std::to_string(diff) + " (largest entry " + std::to_string(scale) +
                     "); batch_jacobian needs row b of f(x) to depend on row b of x alone");
}

}  // namespace

Tensor batch_jacobian(const TensorFunction& f, const Tensor& x, const BatchJacobianOptions& options) {
  const char* op = "batch_jacobian";
  if (!x.defined()) throw ValueError("batch_jacobian: the input is undefined");
  if (!x.is_floating_point()) throw TypeError("batch_jacobian: the input must be a float tensor, got int64");
  if (x.dim() < 1) throw ShapeError("batch_jacobian: x must have a batch axis, [B, n...], got a 0-d tensor");
  const bool cg = options.create_graph;
  const int64_t B = x.shape()[0];
  const Shape in_row = row_shape(x.shape());
  const int64_t n = in_row.numel();
  Tensor xi = input_for(x, cg, op);
  auto check_output = [&](const Tensor& y) {
    if (!y.defined()) throw ValueError("batch_jacobian: the function returned an undefined tensor");
    if (y.dim() < 1 || y.shape()[0] != B)
      throw ShapeError("batch_jacobian: f(x) must have x's batch size " + std::to_string(B) +
                       " on its first axis, [B, m...], got shape " + y.shape().str() + " for x of shape " +
                       x.shape().str());
  };
  JacobianMode mode = options.mode;
  Tensor y;  // f(x), evaluated on the graph for reverse mode (and to choose the mode)
  if (mode != JacobianMode::forward) {
    y = evaluate(f, xi, op);
    check_output(y);
    if (mode == JacobianMode::automatic)
      mode = n < row_shape(y.shape()).numel() ? JacobianMode::forward : JacobianMode::reverse;
  }
  // f on the dual (x, v): its output and tangent
  auto tangent_pass = [&](const Tensor& v) {
    forward_ad::DualLevel level;
    AutoGradMode on(true);
    Tensor yd = f(forward_ad::make_dual(cg ? xi : x.detach(), v));
    check_output(yd);
    forward_ad::UnpackedDual u = forward_ad::unpack_dual(yd);
    return std::make_pair(u.primal, u.tangent.defined() ? u.tangent : zeros_like(yd));
  };
  Tensor J;  // [B, m, n]
  Shape out_shape;
  if (mode == JacobianMode::reverse) {
    out_shape = y.shape();
    const int64_t m = row_shape(y.shape()).numel();
    if (!y.requires_grad() || B == 0 || m == 0 || n == 0) {
      J = zeros({B, m, n}, {.dtype = x.dtype()});
    } else {
      // one backward pass per output element i of a row: row i of every block
      std::vector<Tensor> rows;
      for (int64_t i = 0; i < m; ++i) {
        const Tensor g = grad({y}, {xi}, {row_basis(y, i)}, true, cg, true)[0];
        rows.push_back(reshape(or_zeros(g, x), {B, n}));
      }
      J = stack(rows, 1);
      if (options.check_independence) {
        Generator gen(0x5eed);
        const Tensor u = randn(y.shape(), {.dtype = y.dtype()}, &gen);
        const Tensor g = or_zeros(grad({y}, {xi}, {u}, true, false, true)[0], x);
        NoGradGuard off;
        check_rows_independent(reshape(g, {B, 1, n}), matmul(reshape(u, {B, 1, m}), J.detach()), "u^T J");
      }
    }
  } else {
    // one forward pass per input element j of a row: column j of every block
    std::vector<Tensor> cols;
    for (int64_t j = 0; j < n && B > 0; ++j) {
      auto [yj, tj] = tangent_pass(row_basis(x, j));
      out_shape = yj.shape();
      cols.push_back(reshape(tj, {B, row_shape(yj.shape()).numel()}));
    }
    if (cols.empty()) {  // no direction: f(x) once for the output's shape
      NoGradGuard off;
      Tensor y0 = f(x.detach());
      check_output(y0);
      out_shape = y0.shape();
    }
    const int64_t m = row_shape(out_shape).numel();
    J = cols.empty() || m == 0 ? zeros({B, m, n}, {.dtype = x.dtype()}) : stack(cols, 2);
    if (options.check_independence && !cols.empty() && m > 0) {
      Generator gen(0x5eed);
      const Tensor v = randn(x.shape(), {.dtype = x.dtype()}, &gen);
      const Tensor jv = tangent_pass(v).second;
      NoGradGuard off;
      check_rows_independent(reshape(jv, {B, m, 1}), matmul(J.detach(), reshape(v, {B, n, 1})), "J v");
    }
  }
  Shape js = out_shape;
  for (int64_t d : in_row) js.push_back(d);
  return result(reshape(J, js), cg);
}

std::vector<std::vector<Tensor>> hessian(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                         const std::vector<Tensor>& xs, bool create_graph) {
  // the Jacobian (reverse mode) of the gradient, which is itself computed with create_graph
  auto gradient = [&f](const std::vector<Tensor>& xi) {
    Tensor y = f(xi);
    if (!y.defined() || y.numel() != 1)
      throw ShapeError("hessian: f must return a one-element tensor, got " +
                       (y.defined() ? y.shape().str() : std::string("undefined")));
    std::vector<Tensor> g(xi.size());
    if (y.requires_grad()) g = grad({y}, xi, {}, true, true, true);
    for (std::size_t j = 0; j < xi.size(); ++j) g[j] = or_zeros(g[j], xi[j]);
    return g;
  };
  return jacobian(gradient, xs, create_graph, JacobianMode::reverse);
}

TransformResults hvp(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                     const std::vector<Tensor>& xs, const std::vector<Tensor>& vs, bool create_graph) {
  check_shapes(vs, xs, "hvp", "input");
  std::vector<Tensor> xi = inputs_for(xs, create_graph, "hvp");
  forward_ad::DualLevel level;
  AutoGradMode on(true);
  std::vector<Tensor> xd;
  for (std::size_t j = 0; j < xs.size(); ++j)
    xd.push_back(forward_ad::make_dual(xi[j], create_graph ? vs[j] : vs[j].detach()));
  Tensor y = f(xd);
  if (!y.defined() || y.numel() != 1)
    throw ShapeError("hvp: f must return a one-element tensor, got " +
                     (y.defined() ? y.shape().str() : std::string("undefined")));
  Tensor out = result(forward_ad::unpack_dual(y).primal, create_graph);
  std::vector<Tensor> hv(xs.size());
  if (y.requires_grad()) {
    std::vector<Tensor> g = grad({y}, xi, {}, true, true, true);
    for (std::size_t j = 0; j < xs.size(); ++j)
      if (g[j].defined()) hv[j] = forward_ad::unpack_dual(g[j]).tangent;
  }
  for (std::size_t j = 0; j < xs.size(); ++j) hv[j] = result(or_zeros(hv[j], xs[j]), create_graph);
  return {{out}, hv};
}

}  // namespace xg
