// Matrix products through BLAS gemm (kernels/gemm.hpp). Transposes are gemm flags, never copies:
// the backward of matmul_t is matmul_t with other flags.
#include <algorithm>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/gemm.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/ops/explain.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {
using detail::tangent_sum;

using detail::Domain;
using detail::gemm;
using detail::sample_tensor;

namespace {

std::string operands(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  return a.shape().str() + (ta ? "^T" : "") + " @ " + b.shape().str() + (tb ? "^T" : "");
}

Dtype common_float(const Tensor& a, const Tensor& b, const char* op) {
  if (!a.defined() || !b.defined()) throw ValueError(std::string(op) + ": an operand is undefined");
  if (!a.is_floating_point() || !b.is_floating_point())
    throw TypeError(std::string(op) + ": expected float tensors, got " + dtype_name(a.dtype()) + " and " +
                    dtype_name(b.dtype()));
  return (a.dtype() == Dtype::float64 || b.dtype() == Dtype::float64) ? Dtype::float64 : Dtype::float32;
}

// The replayed matmul_t and linear (capture.hpp): the same gemm calls on the plan's buffers.
// n[]: ta, tb, n, m, k, batch.
template <class T>
void matmul_exec(const T* a, const T* b, T* c, bool ta, bool tb, int64_t n, int64_t m, int64_t k,
                 int64_t batch) {
  if (k == 0) {
    std::fill(c, c + batch * n * m, T(0));
    return;
  }
  if (n == 0 || m == 0) return;
  for (int64_t i = 0; i < batch; ++i) gemm(ta, tb, n, m, k, a + i * n * k, b + i * k * m, c + i * n * m);
}
template <class T>
void matmul_replay(const capture_detail::Kernel& q) {
  matmul_exec(static_cast<const T*>(q.buf[0]), static_cast<const T*>(q.buf[1]), static_cast<T*>(q.buf[2]),
              q.n[0] != 0, q.n[1] != 0, q.n[2], q.n[3], q.n[4], q.n[5]);
}
// n[]: rows, out, in.
template <class T>
void linear_exec(const T* x, const T* w, const T* bias, T* c, int64_t n, int64_t out, int64_t in) {
  for (int64_t r = 0; r < n; ++r) std::copy(bias, bias + out, c + r * out);
  if (n > 0 && out > 0 && in > 0) gemm(false, true, n, out, in, x, w, c, true);
}
template <class T>
void linear_replay(const capture_detail::Kernel& q) {
  linear_exec(static_cast<const T*>(q.buf[0]), static_cast<const T*>(q.buf[1]),
              static_cast<const T*>(q.buf[2]), static_cast<T*>(q.buf[3]), q.n[0], q.n[1], q.n[2]);
}

}  // namespace

// ---- matmul_t: the primitive ----
XG_OP(matmul_t,
      {.formula = "C = op(A) op(B): dA' = dC op(B)^T, dB' = op(A)^T dC (as gemm flags)",
       .kind = OpKind::primitive,
       .explain = [](const ChainRuleContext& c) -> std::optional<ChainRuleLine> {
         // C = op(A) op(B); the gradient of each side as the backward forms it (see above).
         const bool ta = c.attr(0) != 0, tb = c.attr(1) != 0;
         auto t = [](const std::string& s, bool on) { return on ? s + "^T" : s; };
         const Tensor a = c.value(0), b = c.value(1), &g = c.grad_output;
         const std::string &la = c.label(0), &lb = c.label(1), fa = c.fmt(a), fb = c.fmt(b), fg = c.fmt(g);
         if (c.k == 0 && !ta)
           return c.line(c.up + " @ " + t(lb, !tb), fg + " @ " + t(fb, !tb), matmul_t(g, b, false, !tb));
         if (c.k == 0)
           return c.line(t(lb, tb) + " @ " + c.up + "^T", t(fb, tb) + " @ " + fg + "^T",
                         matmul_t(b, g, tb, true));
         if (!tb)
           return c.line(t(la, !ta) + " @ " + c.up, t(fa, !ta) + " @ " + fg, matmul_t(a, g, !ta, false));
         return c.line(c.up + "^T @ " + t(la, ta), fg + "^T @ " + t(fa, ta), matmul_t(g, a, true, ta));
       },
       .samples =
           [] {
             auto mk = [](bool ta, bool tb) {
               return [ta, tb](std::span<const Tensor> in) { return matmul_t(in[0], in[1], ta, tb); };
             };
             return std::vector<OpSample>{
                 {"[3, 4] @ [4, 2]",
                  {sample_tensor({3, 4}, Domain::real, 1), sample_tensor({4, 2}, Domain::real, 2)},
                  mk(false, false),
                  0,
                  "OP(x0, x1)"},
                 {"[4, 3]^T @ [4, 2]",
                  {sample_tensor({4, 3}, Domain::real, 3), sample_tensor({4, 2}, Domain::real, 4)},
                  mk(true, false),
                  0,
                  "OP(x0.transpose(-2, -1), x1)"},
                 {"[3, 4] @ [2, 4]^T",
                  {sample_tensor({3, 4}, Domain::real, 5), sample_tensor({2, 4}, Domain::real, 6)},
                  mk(false, true),
                  0,
                  "OP(x0, x1.transpose(-2, -1))"},
                 {"[4, 3]^T @ [2, 4]^T",
                  {sample_tensor({4, 3}, Domain::real, 7), sample_tensor({2, 4}, Domain::real, 8)},
                  mk(true, true),
                  0,
                  "OP(x0.transpose(-2, -1), x1.transpose(-2, -1))"},
                 {"batched [2, 3, 4] @ [2, 4, 2]",
                  {sample_tensor({2, 3, 4}, Domain::real, 9), sample_tensor({2, 4, 2}, Domain::real, 10)},
                  mk(false, false),
                  0,
                  "OP(x0, x1)"},
                 {"inner 0: [2, 0] @ [0, 3]",
                  {sample_tensor({2, 0}, Domain::real, 11), sample_tensor({0, 3}, Domain::real, 12)},
                  mk(false, false),
                  0,
                  "OP(x0, x1)"},
             };
           },
       .torch = "torch.matmul"});
Tensor matmul_t(const Tensor& a0, const Tensor& b0, bool ta, bool tb) {
  const Dtype d = common_float(a0, b0, "matmul");
  const Tensor a = a0.to(d), b = b0.to(d);
  if (a.dim() < 2 || b.dim() < 2)
    throw ShapeError("matmul: matmul_t needs at least 2 axes on both sides, got " + operands(a, b, ta, tb));
  const int ra = a.dim(), rb = b.dim();
  const int64_t n = a.shape()[ta ? ra - 1 : ra - 2], k = a.shape()[ta ? ra - 2 : ra - 1];
  const int64_t kb = b.shape()[tb ? rb - 1 : rb - 2], m = b.shape()[tb ? rb - 2 : rb - 1];
  if (k != kb) throw ShapeError("matmul: inner dimensions differ: " + operands(a, b, ta, tb));
  if (ra != rb) throw ShapeError("matmul: batch axes differ: " + operands(a, b, ta, tb));
  Shape os;
  int64_t batch = 1;
  for (int i = 0; i < ra - 2; ++i) {
    if (a.shape()[i] != b.shape()[i])
      throw ShapeError("matmul: batch axes differ: " + operands(a, b, ta, tb));
    os.push_back(a.shape()[i]);
    batch *= a.shape()[i];
  }
  os.push_back(n);
  os.push_back(m);
  Tensor y = detail::new_tensor(os, d);
  detail::visit_float(d, "matmul", [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit("matmul", matmul_replay<T>,
                           {capture_detail::R(a), capture_detail::R(b), capture_detail::W(y)},
                           {ta, tb, n, m, k, batch});
    matmul_exec(a.data<T>(), b.data<T>(), y.data<T>(), ta, tb, n, m, k, batch);
  });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::matmul_t_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b), ta, tb](const Node& nd, const Tensor& g,
                                                       std::span<Tensor> gx) {
        if (nd.needs_input_grad(0)) {
          Tensor b = sb.unpack(nd);
          gx[0] = ta ? matmul_t(b, g, tb, true) : matmul_t(g, b, false, !tb);
        }
        if (nd.needs_input_grad(1)) {
          Tensor a = sa.unpack(nd);
          gx[1] = tb ? matmul_t(g, a, true, ta) : matmul_t(a, g, !ta, false);
        }
      },
      [&](std::span<const Tensor> t) {
        return tangent_sum(t[0].defined() ? matmul_t(t[0], b, ta, tb) : Tensor(),
                           t[1].defined() ? matmul_t(a, t[1], ta, tb) : Tensor());
      },
      OpAttrs{{ta ? 1.0 : 0.0, tb ? 1.0 : 0.0}, 2});
}

// ---- linear: x @ w^T + b as one gemm onto rows pre-filled with the bias ----
// One pass fewer than matmul_t + add (no separate bias sweep, and gemm's own zeroing of C is
// replaced by the bias copy); the backward is matmul_t and sum_to, so it differentiates again.
XG_OP(linear, {.formula = "y = x w^T + b: dx = g w, dw = g^T x, db = sum over rows of g",
               .kind = OpKind::primitive,
               .explain = [](const ChainRuleContext& c) -> std::optional<ChainRuleLine> {
                 const Tensor& g = c.grad_output;
                 if (c.k == 0)
                   return c.line(c.up + " @ " + c.label(1), c.fmt(g) + " @ " + c.fmt(c.value(1)),
                                 matmul(g, c.value(1)));
                 if (c.k == 1)
                   return c.line(c.up + "^T @ " + c.label(0), c.fmt(g) + "^T @ " + c.fmt(c.value(0)),
                                 matmul_t(g, c.value(0), true, false));
                 return c.note("the sum of " + c.up + " over its rows", sum_to(g, c.input_shape));
               },
               .samples =
                   [] {
                     auto call = [](std::span<const Tensor> in) { return linear(in[0], in[1], in[2]); };
                     return std::vector<OpSample>{
                         {"[3, 4] w [2, 4] b [2]",
                          {sample_tensor({3, 4}, Domain::real, 1), sample_tensor({2, 4}, Domain::real, 2),
                           sample_tensor({2}, Domain::real, 3)},
                          call},
                         {"[1, 5] w [3, 5] b [3]",
                          {sample_tensor({1, 5}, Domain::real, 4), sample_tensor({3, 5}, Domain::real, 5),
                           sample_tensor({3}, Domain::real, 6)},
                          call},
                         {"[0, 2] w [3, 2] b [3] (no rows)",
                          {sample_tensor({0, 2}, Domain::real, 7), sample_tensor({3, 2}, Domain::real, 8),
                           sample_tensor({3}, Domain::real, 9)},
                          call},
                         {"[2, 0] w [3, 0] b [3] (no inputs)",
                          {sample_tensor({2, 0}, Domain::real, 10), sample_tensor({3, 0}, Domain::real, 11),
                           sample_tensor({3}, Domain::real, 12)},
                          call},
                     };
                   },
               .torch = "torch.nn.functional.linear"});
Tensor linear(const Tensor& x0, const Tensor& w0, const Tensor& b0) {
  if (!b0.defined()) return matmul_t(x0, w0, false, true);
  Dtype d = common_float(x0, w0, "linear");
  if (!b0.is_floating_point())
    throw TypeError(std::string("linear: expected a float bias, got ") + dtype_name(b0.dtype()));
  if (b0.dtype() == Dtype::float64) d = Dtype::float64;
  const Tensor x = x0.to(d), w = w0.to(d), b = b0.to(d);
  if (x.dim() != 2 || w.dim() != 2 || b.dim() != 1 || x.size(1) != w.size(1) || b.size(0) != w.size(0))
    throw ShapeError("linear: expected x [n, in], w [out, in], b [out], got x " + x.shape().str() + ", w " +
                     w.shape().str() + ", b " + b.shape().str());
  const int64_t n = x.size(0), in = x.size(1), out = w.size(0);
  Tensor y = detail::new_tensor({n, out}, d);
  detail::visit_float(d, "linear", [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit(
          "linear", linear_replay<T>,
          {capture_detail::R(x), capture_detail::R(w), capture_detail::R(b), capture_detail::W(y)},
          {n, out, in});
    linear_exec(x.data<T>(), w.data<T>(), b.data<T>(), y.data<T>(), n, out, in);
  });
  if (!will_record({x, w, b})) return y;
  return record(
      opdefs::linear_op, y, {x, w, b},
      [sx = save_input(x), sw = save_input(w)](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
        if (nd.needs_input_grad(0)) gx[0] = matmul_t(g, sw.unpack(nd), false, false);
        if (nd.needs_input_grad(1)) gx[1] = matmul_t(g, sx.unpack(nd), true, false);
        if (nd.needs_input_grad(2)) gx[2] = sum(g, {0});
      },
      [&](std::span<const Tensor> t) {
        Tensor r = tangent_sum(t[0].defined() ? matmul_t(t[0], w, false, true) : Tensor(),
                               t[1].defined() ? matmul_t(x, t[1], false, true) : Tensor());
        return tangent_sum(r, t[2]);
      });
}

// ---- matmul: torch.matmul semantics, composed of reshape/expand and matmul_t ----
XG_OP(matmul, {.formula = "matmul = matmul_t after 1-D promotion and batch broadcasting (composite)",
               .kind = OpKind::composite,
               .samples =
                   [] {
                     auto call = [](std::span<const Tensor> in) { return matmul(in[0], in[1]); };
                     auto pair = [&](const char* label, Shape a, Shape b, unsigned salt) {
                       return OpSample{
                           label,
                           {sample_tensor(a, Domain::real, salt), sample_tensor(b, Domain::real, salt + 50)},
                           call};
                     };
                     return std::vector<OpSample>{
                         pair("[4] @ [4]", {4}, {4}, 1),
                         pair("[4] @ [4, 3]", {4}, {4, 3}, 2),
                         pair("[3, 4] @ [4]", {3, 4}, {4}, 3),
                         pair("[2, 3, 4] @ [4, 2] (folded)", {2, 3, 4}, {4, 2}, 4),
                         pair("[3, 4] @ [2, 4, 2] (broadcast)", {3, 4}, {2, 4, 2}, 5),
                         pair("[2, 1, 3, 2] @ [3, 2, 2] (batch broadcast)", {2, 1, 3, 2}, {3, 2, 2}, 6),
                     };
                   },
               .torch = "torch.matmul"});
XG_OP(outer, {.formula = "outer(a, b) = a[:, None] * b[None, :] (composite)",
              .kind = OpKind::composite,
              .samples =
                  [] {
                    return std::vector<OpSample>{
                        {"[3] x [4]",
                         {sample_tensor({3}, Domain::real, 1), sample_tensor({4}, Domain::real, 2)},
                         [](std::span<const Tensor> in) { return outer(in[0], in[1]); }}};
                  },
              .torch = "torch.outer"});
XG_OP(dot, {.formula = "dot(a, b) = sum(a * b) via gemm (composite)",
            .kind = OpKind::composite,
            .samples =
                [] {
                  return std::vector<OpSample>{
                      {"[5] . [5]",
                       {sample_tensor({5}, Domain::real, 1), sample_tensor({5}, Domain::real, 2)},
                       [](std::span<const Tensor> in) { return dot(in[0], in[1]); }}};
                },
            .torch = "torch.dot"});

Tensor matmul(const Tensor& a, const Tensor& b) {
  XG_COMPOSITE_SCOPE(matmul);
  common_float(a, b, "matmul");
  if (a.dim() == 0 || b.dim() == 0)
    throw ShapeError("matmul: both operands need at least 1 axis, got " + a.shape().str() + " @ " +
                     b.shape().str());
  const int64_t ka = a.shape()[a.dim() - 1], kb = b.shape()[b.dim() == 1 ? 0 : b.dim() - 2];
  if (ka != kb)
    throw ShapeError("matmul: inner dimensions differ: " + a.shape().str() + " @ " + b.shape().str());
  if (a.dim() == 1 && b.dim() == 1)
    return reshape(matmul_t(reshape(a, {1, ka}), reshape(b, {kb, 1}), false, false), Shape{});
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, -1)), -1);
  if (a.dim() == 2 && b.dim() == 2) return matmul_t(a, b, false, false);
  if (b.dim() == 2) {  // [..., n, k] @ [k, m]: one gemm over all rows
    Shape os = a.shape();
    os[os.rank() - 1] = b.shape()[1];
    return reshape(matmul_t(reshape(a, {-1, ka}), b, false, false), os);
  }
  // Broadcast the batch axes, then one gemm per batch element.
  Shape ba, bb;
  for (int i = 0; i < a.dim() - 2; ++i) ba.push_back(a.shape()[i]);
  for (int i = 0; i < b.dim() - 2; ++i) bb.push_back(b.shape()[i]);
  Shape batch;
  try {
    batch = detail::broadcast_shapes(ba, bb, "matmul");
  } catch (const ShapeError&) {
    throw ShapeError("matmul: batch axes cannot be broadcast: " + a.shape().str() + " @ " + b.shape().str());
  }
  Shape sa = batch, sb = batch;
  sa.push_back(a.shape()[a.dim() - 2]);
  sa.push_back(ka);
  sb.push_back(kb);
  sb.push_back(b.shape()[b.dim() - 1]);
  return matmul_t(expand(a, sa), expand(b, sb), false, false);
}

Tensor outer(const Tensor& a, const Tensor& b) {
  XG_COMPOSITE_SCOPE(outer);
  if (!a.defined() || !b.defined()) throw ValueError("outer: an operand is undefined");
  if (a.dim() != 1 || b.dim() != 1)
    throw ShapeError("outer: expects two 1-D tensors, got " + a.shape().str() + " and " + b.shape().str());
  return reshape(a, {a.numel(), 1}) * reshape(b, {1, b.numel()});
}

Tensor dot(const Tensor& a, const Tensor& b) {
  XG_COMPOSITE_SCOPE(dot);
  if (!a.defined() || !b.defined()) throw ValueError("dot: an operand is undefined");
  if (a.dim() != 1 || b.dim() != 1 || a.numel() != b.numel())
    throw ShapeError("dot: expects two 1-D tensors of equal length, got " + a.shape().str() + " and " +
                     b.shape().str());
  return matmul(a, b);
}

}  // namespace xg
