// Element-wise ops: each op's forward kernel, backward formula, formula text and test samples
// sit together. Backward formulas use xg ops, so create_graph records them (higher order).
#include <cmath>
#include <numbers>
#include <sstream>
#include <tuple>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/kernels/simd_math.hpp"
#include "xgrad/autograd/ops/elementwise_kernels.hpp"
#include "xgrad/autograd/ops/explain.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::Domain;
using detail::visit_dtype;
using detail::visit_float;

using detail::binary_map;
using detail::check_defined;
using detail::promoted;
using detail::scalar_like;
using detail::tangent_sum;
using detail::tmul;
using detail::unary_any;
using detail::unary_float;
using detail::unary_vec;

// ================================================================ two operands
// ---- add ----
XG_OP(add, {.formula = "d/da (a + b) = 1, d/db (a + b) = 1",
            .kind = OpKind::primitive,
            .explain = [](const ChainRuleContext& c) { return c.pass(); },
            .samples =
                [] {
                  return detail::binary_samples([](auto& a, auto& b) { return add(a, b); }, Domain::real,
                                                Domain::real);
                },
            .torch = "torch.add"});
Tensor add(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = promoted(a0, b0, "add");
  Tensor y = binary_map<false>(a, b, "add", [](auto x, auto z) { return detail::add_wrap(x, z); });
  return record(
      opdefs::add_op, y, {a, b},
      [sa = a.shape(), sb = b.shape()](const Node&, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = sum_to(g, sa);
        gx[1] = sum_to(g, sb);
      },
      [&](std::span<const Tensor> t) { return tangent_sum(t[0], t[1]); });
}

// ---- sub ----
XG_OP(sub, {.formula = "d/da (a - b) = 1, d/db (a - b) = -1",
            .kind = OpKind::primitive,
            .explain = [](const ChainRuleContext& c) { return c.pass(c.k == 1); },
            .samples =
                [] {
                  return detail::binary_samples([](auto& a, auto& b) { return sub(a, b); }, Domain::real,
                                                Domain::real);
                },
            .torch = "torch.sub"});
Tensor sub(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = promoted(a0, b0, "sub");
  Tensor y = binary_map<false>(a, b, "sub", [](auto x, auto z) { return detail::sub_wrap(x, z); });
  return record(
      opdefs::sub_op, y, {a, b},
      [sa = a.shape(), sb = b.shape()](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = sum_to(g, sa);
        if (n.needs_input_grad(1)) gx[1] = sum_to(neg(g), sb);
      },
      [&](std::span<const Tensor> t) { return t[1].defined() ? tangent_sum(t[0], neg(t[1])) : t[0]; });
}

// ---- mul ----
XG_OP(mul, {.formula = "d/da (a * b) = b, d/db (a * b) = a",
            .kind = OpKind::primitive,
            .explain = [](const ChainRuleContext& c) { return c.times(c.label(1 - c.k), c.value(1 - c.k)); },
            .samples =
                [] {
                  return detail::binary_samples([](auto& a, auto& b) { return mul(a, b); }, Domain::real,
                                                Domain::real);
                },
            .torch = "torch.mul"});
Tensor mul(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = promoted(a0, b0, "mul");
  Tensor y = binary_map<false>(a, b, "mul", [](auto x, auto z) { return detail::mul_wrap(x, z); });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::mul_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor a = sa.unpack(n), b = sb.unpack(n);
        if (n.needs_input_grad(0)) gx[0] = sum_to(g * b, a.shape());
        if (n.needs_input_grad(1)) gx[1] = sum_to(g * a, b.shape());
      },
      [&](std::span<const Tensor> t) { return tangent_sum(tmul(t[0], b), tmul(t[1], a)); });
}

// ---- div ----
XG_OP(div, {.formula = "d/da (a / b) = 1 / b, d/db (a / b) = -a / b^2",
            .kind = OpKind::primitive,
            .explain =
                [](const ChainRuleContext& c) {
                  const Tensor a = c.value(0), b = c.value(1);
                  if (c.k == 0) return c.over(c.label(1), b);
                  return c.times("(-" + c.label(0) + " / " + c.label(1) + "^2)", neg(a / (b * b)));
                },
            .samples =
                [] {
                  return detail::binary_samples([](auto& a, auto& b) { return div(a, b); }, Domain::real,
                                                Domain::nonzero);
                },
            .torch = "torch.div"});
Tensor div(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = promoted(a0, b0, "div");
  Tensor y = binary_map<true>(a, b, "div", [](auto x, auto z) { return x / z; });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::div_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor a = sa.unpack(n), b = sb.unpack(n);
        if (n.needs_input_grad(0)) gx[0] = sum_to(g / b, a.shape());
        // (a / b) / b, not a / b^2: b^2 underflows to 0 for |b| < 1e-23 in float32 (then 0 / 0)
        if (n.needs_input_grad(1)) gx[1] = sum_to(neg(g * (a / b) / b), b.shape());
      },
      [&](std::span<const Tensor> t) {
        return tangent_sum(t[0].defined() ? t[0] / b : Tensor(),
                           t[1].defined() ? neg(t[1] * (y / b)) : Tensor());
      });
}

// ---- pow (tensor ^ tensor) ----
XG_OP(pow, {.formula = "d/da a^b = b a^(b-1), d/db a^b = a^b log(a)",
            .kind = OpKind::primitive,
            .samples =
                [] {
                  return detail::binary_samples([](auto& a, auto& b) { return pow(a, b); }, Domain::positive,
                                                Domain::real);
                },
            .torch = "torch.pow"});
Tensor pow(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = promoted(a0, b0, "pow");
  Tensor y = binary_map<true>(a, b, "pow", [](auto x, auto z) { return std::pow(x, z); });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::pow_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b), sy = save_output(y)](const Node& n, const Tensor& g,
                                                                    std::span<Tensor> gx) {
        // As PyTorch: 0 for a where b = 0 (a^0 = 1 even at a = 0), 0 for b where a = 0 and
        // b >= 0 (not 0 * log 0).
        Tensor a = sa.unpack(n), b = sb.unpack(n), zero = scalar_tensor(0.0, {.dtype = g.dtype()});
        if (n.needs_input_grad(0))
          gx[0] = sum_to(where(eq(b, 0.0), zero, g * b * pow(a, b - 1.0)), a.shape());
        if (n.needs_input_grad(1))
          gx[1] = sum_to(where(eq(a, 0.0) * ge(b, 0.0), zero, g * sy.unpack(n) * log(a)), b.shape());
      },
      [&](std::span<const Tensor> t) {
        Tensor zero = scalar_tensor(0.0, {.dtype = y.dtype()});
        return tangent_sum(tmul(t[0], where(eq(b, 0.0), zero, b * pow(a, b - 1.0))),
                           tmul(t[1], where(eq(a, 0.0) * ge(b, 0.0), zero, y * log(a))));
      });
}

// ---- pow (tensor ^ scalar) ----
XG_OP(pow_scalar,
      {.formula = "d/dx x^p = p x^(p-1)",
       .kind = OpKind::primitive,
       .explain =
           [](const ChainRuleContext& c) {
             const double p = c.attr(0), q = p - 1;
             std::string text = c.number(p);  // "2 x" or "(3 x^2)" (appended: GCC 12 warns on "(" + s)
             text += ' ';
             text += c.label(0);
             if (q != 1) {
               text += '^';
               text += c.number(q);
               text.insert(0, 1, '(');
               text += ')';
             }
             return c.times(text, p * pow(c.value(0), q));
           },
       .samples =
           [] {
             auto s = detail::with_torch(
                 detail::unary_samples([](auto& x) { return pow(x, 3.0); }, Domain::real), "OP(x0, 3.0)");
             auto s2 = detail::with_torch(
                 detail::unary_samples([](auto& x) { return pow(x, -1.5); }, Domain::positive, false),
                 "OP(x0, -1.5)");
             auto s3 = detail::with_torch(
                 detail::unary_samples([](auto& x) { return pow(x, 2.0); }, Domain::real, false),
                 "OP(x0, 2.0)");
             s.insert(s.end(), s2.begin(), s2.end());
             s.insert(s.end(), s3.begin(), s3.end());
             return s;
           },
       .torch = "torch.pow"});
Tensor pow(const Tensor& x, double p) {
  Tensor y = p == 2.0 ? unary_float(x, "pow", [](auto v) { return v * v; })
             : p == 0.5
                 ? unary_float(x, "pow", [](auto v) { return std::sqrt(v); })
                 : unary_float(x, "pow", [p](auto v) { return static_cast<decltype(v)>(std::pow(v, p)); });
  if (!will_record({x})) return y;
  return record(
      opdefs::pow_scalar_op, y, {x},
      [sx = save_input(x), p](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        if (p == 0.0) {
          gx[0] = zeros_like(g);
          return;
        }
        Tensor x = sx.unpack(n);
        gx[0] = p == 1.0 ? g : p == 2.0 ? g * (2.0 * x) : g * (p * pow(x, p - 1.0));
      },
      [&](std::span<const Tensor> t) {
        return p == 0.0 ? Tensor() : p == 1.0 ? t[0] : t[0] * (p * pow(x, p - 1.0));
      },
      OpAttrs{{p, 0}, 1});
}

// ---- maximum / minimum ----
namespace {
// The share of the gradient that goes to a where a is not beaten by b: 1, 0.5 on ties, 0 where
// it loses. Where either is NaN (no winner, the result NaN), both get the whole gradient, as in
// PyTorch.
Tensor winner_mask(const Tensor& a, const Tensor& b, bool larger) {
  NoGradGuard guard;
  Tensor loses = larger ? lt(a, b) : gt(a, b);
  return 1.0 - loses - 0.5 * eq(a, b);
}
template <bool Larger>
Tensor extremum(const Tensor& a0, const Tensor& b0, const OpInfo& info) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = promoted(a0, b0, info.name);
  Tensor y = binary_map<false>(a, b, info.name, [](auto x, auto z) {
    // x != x: a NaN x wins (a NaN z wins by failing x > z), as PyTorch
    return (Larger ? x > z : x < z) || x != x ? x : z;
  });
  if (!will_record({a, b})) return y;
  return record(
      info, y, {a, b},
      [sa = save_input(a), sb = save_input(b)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor a = sa.unpack(n), b = sb.unpack(n);
        Tensor wa = winner_mask(a, b, Larger);
        if (n.needs_input_grad(0)) gx[0] = sum_to(g * wa, a.shape());
        if (n.needs_input_grad(1)) gx[1] = sum_to(g * winner_mask(b, a, Larger), b.shape());
      },
      [&](std::span<const Tensor> t) {
        return tangent_sum(tmul(t[0], winner_mask(a, b, Larger)), tmul(t[1], winner_mask(b, a, Larger)));
      });
}
}  // namespace
XG_OP(maximum, {.formula = "d/da max(a, b) = [a > b] + 0.5 [a = b], d/db = [b > a] + 0.5 [a = b]",
                .kind = OpKind::primitive,
                .samples =
                    [] {
                      return detail::binary_samples([](auto& a, auto& b) { return maximum(a, b); },
                                                    Domain::real, Domain::real);
                    },
                .torch = "torch.maximum"});
XG_OP(minimum, {.formula = "d/da min(a, b) = [a < b] + 0.5 [a = b], d/db = [b < a] + 0.5 [a = b]",
                .kind = OpKind::primitive,
                .samples =
                    [] {
                      return detail::binary_samples([](auto& a, auto& b) { return minimum(a, b); },
                                                    Domain::real, Domain::real);
                    },
                .torch = "torch.minimum"});
Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum<true>(a, b, opdefs::maximum_op);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum<false>(a, b, opdefs::minimum_op);
}

// ---- where ----
XG_OP(where, {.formula = "d/da where(m, a, b) = m, d/db where(m, a, b) = 1 - m",
              .kind = OpKind::primitive,
              .samples =
                  [] {
                    auto call = [](std::span<const Tensor> in) {
                      return where(gt(in[0], 0.0), in[1], in[2]);
                    };
                    auto m = [](Shape s, unsigned k) {
                      Tensor t = detail::sample_tensor(s, Domain::nonzero, k);
                      return t.detach();
                    };
                    return std::vector<OpSample>{
                        {"equal shapes [3, 4]",
                         {m({3, 4}, 1), detail::sample_tensor({3, 4}, Domain::real, 2),
                          detail::sample_tensor({3, 4}, Domain::real, 3)},
                         call,
                         0,
                         "OP(x0 > 0, x1, x2)"},
                        {"broadcast mask [4], a [3, 1], b scalar",
                         {m({4}, 4), detail::sample_tensor({3, 1}, Domain::real, 5),
                          detail::sample_tensor({}, Domain::real, 6)},
                         call,
                         0,
                         "OP(x0 > 0, x1, x2)"},
                        {"empty [0, 2]",
                         {m({0, 2}, 7), detail::sample_tensor({0, 2}, Domain::real, 8),
                          detail::sample_tensor({2}, Domain::real, 9)},
                         call,
                         0,
                         "OP(x0 > 0, x1, x2)"},
                    };
                  },
              .torch = "torch.where"});
namespace {
// The replayed where (capture.hpp): a selection, so any loop gives eager's values; operands are
// the output's shape or one element (the cases the losses and backward formulas use).
template <class T, class M>
void where_replay(const capture_detail::Kernel& k) {
  const M* m = static_cast<const M*>(k.buf[0]);
  const T *a = static_cast<const T*>(k.buf[1]), *b = static_cast<const T*>(k.buf[2]);
  T* out = static_cast<T*>(k.buf[3]);
  const int64_t sm = k.n[1], sa = k.n[2], sb = k.n[3];
  for (int64_t i = 0, n = k.n[0]; i < n; ++i) out[i] = m[i * sm] != M(0) ? a[i * sa] : b[i * sb];
}
void capture_where(const Tensor& mask, const Tensor& a, const Tensor& b, const Tensor& y) {
  const int64_t n = y.numel();
  auto step = [&](const Tensor& t) -> int64_t {
    if (t.numel() == n && t.shape() == y.shape()) return 1;
    if (t.numel() == 1) return 0;
    capture_detail::refuse("where", "operands broadcast other than from one element");
  };
  const int64_t sm = step(mask), sa = step(a), sb = step(b);
  visit_dtype(a.dtype(), [&]<class T>() {
    visit_dtype(mask.dtype(), [&]<class M>() {
      capture_detail::emit(
          "where", where_replay<T, M>,
          {capture_detail::R(mask), capture_detail::R(a), capture_detail::R(b), capture_detail::W(y)},
          {n, sm, sa, sb});
    });
  });
}
}  // namespace
Tensor where(const Tensor& mask, const Tensor& a0, const Tensor& b0) {
  check_defined(mask, "where");
  // Not a structured binding: clang 14 (the fuzzing and sanitizer builds) cannot capture one.
  Tensor a, b;
  std::tie(a, b) = promoted(a0, b0, "where");
  const Shape os = detail::broadcast_shapes(detail::broadcast_shapes(mask.shape(), a.shape(), "where"),
                                            b.shape(), "where");
  // Broadcast all three to the output shape, then select element by element.
  Tensor y = detail::new_tensor(os, a.dtype());
  if (capture_detail::recorder) [[unlikely]]
    capture_where(mask, a, b, y);
  visit_dtype(a.dtype(), [&]<class T>() {
    std::vector<T> av(static_cast<std::size_t>(os.numel())), bv(av.size());
    detail::broadcast_copy(a.data<T>(), a.shape(), av.data(), os);
    detail::broadcast_copy(b.data<T>(), b.shape(), bv.data(), os);
    visit_dtype(mask.dtype(), [&]<class M>() {
      std::vector<M> mv(av.size());
      detail::broadcast_copy(mask.data<M>(), mask.shape(), mv.data(), os);
      T* out = y.data<T>();
      for (std::size_t i = 0; i < av.size(); ++i) out[i] = mv[i] != M(0) ? av[i] : bv[i];
    });
  });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::where_op, y, {a, b},
      [m = mask.detach(), sa = a.shape(), sb = b.shape()](const Node& n, const Tensor& g,
                                                          std::span<Tensor> gx) {
        Tensor zero = scalar_tensor(0.0, {.dtype = g.dtype()});
        if (n.needs_input_grad(0)) gx[0] = sum_to(where(m, g, zero), sa);
        if (n.needs_input_grad(1)) gx[1] = sum_to(where(m, zero, g), sb);
      },
      [&](std::span<const Tensor> t) {
        Tensor zero = scalar_tensor(0.0, {.dtype = y.dtype()});
        return where(mask, t[0].defined() ? t[0] : zero, t[1].defined() ? t[1] : zero);
      });
}

// ---- operators ----
Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
Tensor operator+(const Tensor& a, double b) {
  return add(a, scalar_like(a, b));
}
Tensor operator-(const Tensor& a, double b) {
  return sub(a, scalar_like(a, b));
}
Tensor operator*(const Tensor& a, double b) {
  return mul(a, scalar_like(a, b));
}
Tensor operator/(const Tensor& a, double b) {
  return div(a, scalar_like(a, b));
}
Tensor operator+(double a, const Tensor& b) {
  return add(scalar_like(b, a), b);
}
Tensor operator-(double a, const Tensor& b) {
  return sub(scalar_like(b, a), b);
}
Tensor operator*(double a, const Tensor& b) {
  return mul(scalar_like(b, a), b);
}
Tensor operator/(double a, const Tensor& b) {
  return div(scalar_like(b, a), b);
}
Tensor operator-(const Tensor& x) {
  return neg(x);
}

// ================================================================ one operand
// Each: the kernel, then the backward as xg ops on saved input x or output y.
#define XG_UNARY_SAMPLES(fn, domain) \
  [] { return detail::unary_samples([](auto& x) { return fn(x); }, domain); }

XG_OP(neg, {.formula = "d/dx (-x) = -1",
            .kind = OpKind::primitive,
            .explain = [](const ChainRuleContext& c) { return c.pass(true); },
            .samples = XG_UNARY_SAMPLES(neg, Domain::real),
            .torch = "torch.neg"});
Tensor neg(const Tensor& x) {
  Tensor y = unary_any(x, "neg", [](auto v) { return detail::neg_wrap(v); });
  return record(
      opdefs::neg_op, y, {x}, [](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = neg(g); },
      [&](std::span<const Tensor> t) { return neg(t[0]); });
}

XG_OP(exp, {.formula = "d/dx exp(x) = exp(x)",
            .kind = OpKind::primitive,
            .explain = [](const ChainRuleContext& c) { return c.times(c.output_label, c.output); },
            .samples = XG_UNARY_SAMPLES(exp, Domain::real),
            .torch = "torch.exp"});
Tensor exp(const Tensor& x) {
  Tensor y = unary_vec(x, "exp", [](const auto* in, auto* out, int64_t n) { simd::exp(in, out, n); });
  if (!will_record({x})) return y;
  return record(
      opdefs::exp_op, y, {x},
      [sy = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g * sy.unpack(n);
      },
      [&](std::span<const Tensor> t) { return t[0] * y; });
}

XG_OP(expm1,
      {.formula = "d/dx (exp(x) - 1) = exp(x)",
       .kind = OpKind::primitive,
       .explain =
           [](const ChainRuleContext& c) { return c.times("(" + c.output_label + " + 1)", c.output + 1.0); },
       .samples = XG_UNARY_SAMPLES(expm1, Domain::real),
       .torch = "torch.expm1"});
Tensor expm1(const Tensor& x) {
  Tensor y = unary_float(x, "expm1", [](auto v) { return std::expm1(v); });
  if (!will_record({x})) return y;
  // exp(x), not y + 1: that cancels for x << 0 (float32 at x = -20: -1 + 1 = 0, for 2.06e-9)
  return record(
      opdefs::expm1_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g * exp(sx.unpack(n));
      },
      [&](std::span<const Tensor> t) { return t[0] * exp(x); });
}

// ---- trigonometric, hyperbolic, other bases and powers (PyTorch's names and domains) ----
XG_OP(tan, {.formula = "d/dx tan(x) = 1 + tan(x)^2",
            .kind = OpKind::primitive,
            .samples = XG_UNARY_SAMPLES(tan, Domain::unit),
            .torch = "torch.tan"});
Tensor tan(const Tensor& x) {
  Tensor y = unary_float(x, "tan", [](auto v) { return std::tan(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::tan_op, y, {x},
      [s = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor y = s.unpack(n);
        gx[0] = g * (1.0 + y * y);
      },
      [&](std::span<const Tensor> t) { return t[0] * (1.0 + y * y); });
}

XG_OP(asin, {.formula = "d/dx asin(x) = 1 / sqrt(1 - x^2)",
             .kind = OpKind::primitive,
             .samples = XG_UNARY_SAMPLES(asin, Domain::unit),
             .torch = "torch.asin"});
Tensor asin(const Tensor& x) {
  Tensor y = unary_float(x, "asin", [](auto v) { return std::asin(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::asin_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = g * rsqrt(1.0 - x * x);
      },
      [&](std::span<const Tensor> t) { return t[0] * rsqrt(1.0 - x * x); });
}

XG_OP(acos, {.formula = "d/dx acos(x) = -1 / sqrt(1 - x^2)",
             .kind = OpKind::primitive,
             .samples = XG_UNARY_SAMPLES(acos, Domain::unit),
             .torch = "torch.acos"});
Tensor acos(const Tensor& x) {
  Tensor y = unary_float(x, "acos", [](auto v) { return std::acos(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::acos_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = neg(g * rsqrt(1.0 - x * x));
      },
      [&](std::span<const Tensor> t) { return neg(t[0] * rsqrt(1.0 - x * x)); });
}

XG_OP(atan, {.formula = "d/dx atan(x) = 1 / (1 + x^2)",
             .kind = OpKind::primitive,
             .samples = XG_UNARY_SAMPLES(atan, Domain::real),
             .torch = "torch.atan"});
Tensor atan(const Tensor& x) {
  Tensor y = unary_float(x, "atan", [](auto v) { return std::atan(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::atan_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = g / (1.0 + x * x);
      },
      [&](std::span<const Tensor> t) { return t[0] / (1.0 + x * x); });
}

XG_OP(sinh, {.formula = "d/dx sinh(x) = cosh(x)",
             .kind = OpKind::primitive,
             .samples = XG_UNARY_SAMPLES(sinh, Domain::real),
             .torch = "torch.sinh"});
Tensor sinh(const Tensor& x) {
  Tensor y = unary_float(x, "sinh", [](auto v) { return std::sinh(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::sinh_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = g * cosh(x);
      },
      [&](std::span<const Tensor> t) { return t[0] * cosh(x); });
}

XG_OP(cosh, {.formula = "d/dx cosh(x) = sinh(x)",
             .kind = OpKind::primitive,
             .samples = XG_UNARY_SAMPLES(cosh, Domain::real),
             .torch = "torch.cosh"});
Tensor cosh(const Tensor& x) {
  Tensor y = unary_float(x, "cosh", [](auto v) { return std::cosh(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::cosh_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = g * sinh(x);
      },
      [&](std::span<const Tensor> t) { return t[0] * sinh(x); });
}

XG_OP(asinh, {.formula = "d/dx asinh(x) = 1 / sqrt(x^2 + 1)",
              .kind = OpKind::primitive,
              .samples = XG_UNARY_SAMPLES(asinh, Domain::real),
              .torch = "torch.asinh"});
Tensor asinh(const Tensor& x) {
  Tensor y = unary_float(x, "asinh", [](auto v) { return std::asinh(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::asinh_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = g / hypot(x, scalar_like(x, 1.0));  // x^2 + 1 overflows float32 from 1.9e19
      },
      [&](std::span<const Tensor> t) { return t[0] / hypot(x, scalar_like(x, 1.0)); });
}

XG_OP(acosh, {.formula = "d/dx acosh(x) = 1 / sqrt(x^2 - 1) (x > 1)",
              .kind = OpKind::primitive,
              .samples =
                  [] {
                    return detail::with_torch(
                        detail::unary_samples([](auto& x) { return acosh(x + 1.5); }, Domain::positive),
                        "OP(x0 + 1.5)");
                  },
              .torch = "torch.acosh"});
Tensor acosh(const Tensor& x) {
  Tensor y = unary_float(x, "acosh", [](auto v) { return std::acosh(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::acosh_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        // |x| sqrt(1 - 1 / x^2): x^2 - 1 overflows float32 from 1.9e19 (NaN on (-1, 1) and
        // finite below -1, as the rsqrt(x^2 - 1) of PyTorch)
        gx[0] = g / (abs(x) * sqrt(1.0 - 1.0 / (x * x)));
      },
      [&](std::span<const Tensor> t) { return t[0] / (abs(x) * sqrt(1.0 - 1.0 / (x * x))); });
}

XG_OP(atanh, {.formula = "d/dx atanh(x) = 1 / (1 - x^2)",
              .kind = OpKind::primitive,
              .samples = XG_UNARY_SAMPLES(atanh, Domain::unit),
              .torch = "torch.atanh"});
Tensor atanh(const Tensor& x) {
  Tensor y = unary_float(x, "atanh", [](auto v) { return std::atanh(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::atanh_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = g / (1.0 - x * x);
      },
      [&](std::span<const Tensor> t) { return t[0] / (1.0 - x * x); });
}

XG_OP(log2, {.formula = "d/dx log2(x) = 1 / (x ln 2)",
             .kind = OpKind::primitive,
             .samples = XG_UNARY_SAMPLES(log2, Domain::positive),
             .torch = "torch.log2"});
Tensor log2(const Tensor& x) {
  Tensor y = unary_float(x, "log2", [](auto v) { return std::log2(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::log2_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = g / (x * std::numbers::ln2);
      },
      [&](std::span<const Tensor> t) { return t[0] / (x * std::numbers::ln2); });
}

XG_OP(log10, {.formula = "d/dx log10(x) = 1 / (x ln 10)",
              .kind = OpKind::primitive,
              .samples = XG_UNARY_SAMPLES(log10, Domain::positive),
              .torch = "torch.log10"});
Tensor log10(const Tensor& x) {
  Tensor y = unary_float(x, "log10", [](auto v) { return std::log10(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::log10_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = g / (x * std::numbers::ln10);
      },
      [&](std::span<const Tensor> t) { return t[0] / (x * std::numbers::ln10); });
}

XG_OP(exp2, {.formula = "d/dx 2^x = 2^x ln 2",
             .kind = OpKind::primitive,
             .samples = XG_UNARY_SAMPLES(exp2, Domain::real),
             .torch = "torch.exp2"});
Tensor exp2(const Tensor& x) {
  Tensor y = unary_float(x, "exp2", [](auto v) { return std::exp2(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::exp2_op, y, {x},
      [s = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor y = s.unpack(n);
        gx[0] = g * (y * std::numbers::ln2);
      },
      [&](std::span<const Tensor> t) { return t[0] * (y * std::numbers::ln2); });
}

XG_OP(reciprocal, {.formula = "d/dx (1 / x) = -1 / x^2 = -y^2",
                   .kind = OpKind::primitive,
                   .samples = XG_UNARY_SAMPLES(reciprocal, Domain::nonzero),
                   .torch = "torch.reciprocal"});
Tensor reciprocal(const Tensor& x) {
  Tensor y = unary_float(x, "reciprocal", [](auto v) { return decltype(v)(1) / v; });
  if (!will_record({x})) return y;
  return record(
      opdefs::reciprocal_op, y, {x},
      [s = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor y = s.unpack(n);
        gx[0] = neg(g * (y * y));
      },
      [&](std::span<const Tensor> t) { return neg(t[0] * (y * y)); });
}

XG_OP(square, {.formula = "d/dx x^2 = 2 x",
               .kind = OpKind::primitive,
               .samples = XG_UNARY_SAMPLES(square, Domain::real),
               .torch = "torch.square"});
Tensor square(const Tensor& x) {
  Tensor y = unary_float(x, "square", [](auto v) { return v * v; });
  if (!will_record({x})) return y;
  return record(
      opdefs::square_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = g * (2.0 * x);
      },
      [&](std::span<const Tensor> t) { return t[0] * (2.0 * x); });
}

XG_OP(erfc, {.formula = "d/dx erfc(x) = -2 / sqrt(pi) exp(-x^2)",
             .kind = OpKind::primitive,
             .samples = XG_UNARY_SAMPLES(erfc, Domain::real),
             .torch = "torch.erfc"});
Tensor erfc(const Tensor& x) {
  Tensor y = unary_float(x, "erfc", [](auto v) { return std::erfc(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::erfc_op, y, {x},
      [s = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = s.unpack(n);
        gx[0] = neg(g * (2.0 / std::sqrt(std::numbers::pi) * exp(neg(x * x))));
      },
      [&](std::span<const Tensor> t) {
        return neg(t[0] * (2.0 / std::sqrt(std::numbers::pi) * exp(neg(x * x))));
      });
}

XG_OP(log, {.formula = "d/dx log(x) = 1 / x",
            .kind = OpKind::primitive,
            .explain = [](const ChainRuleContext& c) { return c.over(c.label(0), c.value(0)); },
            .samples = XG_UNARY_SAMPLES(log, Domain::positive),
            .torch = "torch.log"});
Tensor log(const Tensor& x) {
  Tensor y = unary_vec(x, "log", [](const auto* in, auto* out, int64_t n) { simd::log(in, out, n); });
  if (!will_record({x})) return y;
  return record(
      opdefs::log_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g / sx.unpack(n);
      },
      [&](std::span<const Tensor> t) { return t[0] / x; });
}

XG_OP(log1p,
      {.formula = "d/dx log(1 + x) = 1 / (1 + x)",
       .kind = OpKind::primitive,
       .explain =
           [](const ChainRuleContext& c) { return c.over("(1 + " + c.label(0) + ")", 1.0 + c.value(0)); },
       .samples = XG_UNARY_SAMPLES(log1p, Domain::positive),
       .torch = "torch.log1p"});
Tensor log1p(const Tensor& x) {
  Tensor y = unary_vec(x, "log1p", [](const auto* in, auto* out, int64_t n) { simd::log1p(in, out, n); });
  if (!will_record({x})) return y;
  return record(
      opdefs::log1p_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g / (sx.unpack(n) + 1.0);
      },
      [&](std::span<const Tensor> t) { return t[0] / (x + 1.0); });
}

XG_OP(sqrt, {.formula = "d/dx sqrt(x) = 1 / (2 sqrt(x))",
             .kind = OpKind::primitive,
             .explain =
                 [](const ChainRuleContext& c) {
                   return c.times("1 / (2 " + c.output_label + ")", 0.5 / c.output);
                 },
             .samples = XG_UNARY_SAMPLES(sqrt, Domain::positive),
             .torch = "torch.sqrt"});
Tensor sqrt(const Tensor& x) {
  Tensor y = unary_float(x, "sqrt", [](auto v) { return std::sqrt(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::sqrt_op, y, {x},
      [sy = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g * 0.5 / sy.unpack(n);
      },
      [&](std::span<const Tensor> t) { return t[0] * 0.5 / y; });
}

XG_OP(rsqrt, {.formula = "d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 rsqrt(x)^3",
              .kind = OpKind::primitive,
              .explain =
                  [](const ChainRuleContext& c) {
                    return c.times("(-1/2 " + c.output_label + "^3)", -0.5 * c.output * c.output * c.output);
                  },
              .samples = XG_UNARY_SAMPLES(rsqrt, Domain::positive),
              .torch = "torch.rsqrt"});
Tensor rsqrt(const Tensor& x) {
  Tensor y = unary_float(x, "rsqrt", [](auto v) { return decltype(v)(1) / std::sqrt(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::rsqrt_op, y, {x},
      [sy = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor y = sy.unpack(n);
        gx[0] = g * -0.5 * y * y * y;
      },
      [&](std::span<const Tensor> t) { return t[0] * -0.5 * y * y * y; });
}

XG_OP(abs,
      {.formula = "d/dx |x| = sign(x)",
       .kind = OpKind::primitive,
       .explain =
           [](const ChainRuleContext& c) { return c.times("sign(" + c.label(0) + ")", sign(c.value(0))); },
       .samples = XG_UNARY_SAMPLES(abs, Domain::nonzero),
       .torch = "torch.abs"});
Tensor abs(const Tensor& x) {
  Tensor y = unary_any(x, "abs", [](auto v) {
    if constexpr (std::is_floating_point_v<decltype(v)>)
      return std::fabs(v);  // +0 for -0, as PyTorch
    else
      return v < 0 ? detail::neg_wrap(v) : v;
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::abs_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g * sign(sx.unpack(n));
      },
      [&](std::span<const Tensor> t) { return t[0] * sign(x); });
}

XG_OP(sign, {.formula = "sign(x) is piecewise constant: no gradient",
             .kind = OpKind::non_differentiable,
             .samples = XG_UNARY_SAMPLES(sign, Domain::nonzero),
             .torch = "torch.sign"});
Tensor sign(const Tensor& x) {
  return unary_any(x, "sign", [](auto v) { return static_cast<decltype(v)>((v > 0) - (v < 0)); });
}

XG_OP(sin, {.formula = "d/dx sin(x) = cos(x)",
            .kind = OpKind::primitive,
            .explain =
                [](const ChainRuleContext& c) { return c.times("cos(" + c.label(0) + ")", cos(c.value(0))); },
            .samples = XG_UNARY_SAMPLES(sin, Domain::real),
            .torch = "torch.sin"});
Tensor sin(const Tensor& x) {
  Tensor y = unary_vec(x, "sin", [](const auto* in, auto* out, int64_t n) { simd::sin(in, out, n); });
  if (!will_record({x})) return y;
  return record(
      opdefs::sin_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g * cos(sx.unpack(n));
      },
      [&](std::span<const Tensor> t) { return t[0] * cos(x); });
}

XG_OP(cos, {.formula = "d/dx cos(x) = -sin(x)",
            .kind = OpKind::primitive,
            .explain =
                [](const ChainRuleContext& c) {
                  return c.times("(-sin(" + c.label(0) + "))", neg(sin(c.value(0))));
                },
            .samples = XG_UNARY_SAMPLES(cos, Domain::real),
            .torch = "torch.cos"});
Tensor cos(const Tensor& x) {
  Tensor y = unary_vec(x, "cos", [](const auto* in, auto* out, int64_t n) { simd::cos(in, out, n); });
  if (!will_record({x})) return y;
  return record(
      opdefs::cos_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = neg(g * sin(sx.unpack(n)));
      },
      [&](std::span<const Tensor> t) { return neg(t[0] * sin(x)); });
}

XG_OP(tanh, {.formula = "d/dx tanh(x) = 1 - tanh(x)^2",
             .kind = OpKind::primitive,
             .explain =
                 [](const ChainRuleContext& c) {
                   return c.times("(1 - " + c.output_label + "^2)", 1.0 - c.output * c.output);
                 },
             .samples = XG_UNARY_SAMPLES(tanh, Domain::real),
             .torch = "torch.tanh"});
Tensor tanh(const Tensor& x) {
  Tensor y = unary_vec(x, "tanh", [](const auto* in, auto* out, int64_t n) { simd::tanh(in, out, n); });
  if (!will_record({x})) return y;
  return record(
      opdefs::tanh_op, y, {x},
      [sy = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor y = sy.unpack(n);
        if (GradMode::is_enabled() || g.dtype() != y.dtype() || !(g.shape() == y.shape())) {
          gx[0] = g * (1.0 - y * y);  // differentiable form (create_graph)
          return;
        }
        // First order: one loop instead of four tensors (the same operations in the same order).
        gx[0] =
            binary_map<true>(g, y, "tanh", [](auto gv, auto yv) { return gv * (decltype(yv)(1) - yv * yv); });
      },
      [&](std::span<const Tensor> t) { return t[0] * (1.0 - y * y); });
}

XG_OP(sigmoid, {.formula = "d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x))",
                .kind = OpKind::primitive,
                .explain =
                    [](const ChainRuleContext& c) {
                      return c.times(c.output_label + " (1 - " + c.output_label + ")",
                                     c.output * (1.0 - c.output));
                    },
                .samples = XG_UNARY_SAMPLES(sigmoid, Domain::real),
                .torch = "torch.sigmoid"});
Tensor sigmoid(const Tensor& x) {
  // Two branches keep exp's argument non-positive: no overflow for large |x|.
  Tensor y = unary_vec(x, "sigmoid", [](const auto* in, auto* out, int64_t n) { simd::sigmoid(in, out, n); });
  if (!will_record({x})) return y;
  return record(
      opdefs::sigmoid_op, y, {x},
      [sy = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor y = sy.unpack(n);
        if (GradMode::is_enabled() || g.dtype() != y.dtype() || !(g.shape() == y.shape())) {
          gx[0] = g * y * (1.0 - y);  // differentiable form (create_graph)
          return;
        }
        // First order: one loop instead of four tensors (the same operations in the same order).
        gx[0] = binary_map<true>(g, y, "sigmoid",
                                 [](auto gv, auto yv) { return gv * yv * (decltype(yv)(1) - yv); });
      },
      [&](std::span<const Tensor> t) { return t[0] * y * (1.0 - y); });
}

XG_OP(erf, {.formula = "d/dx erf(x) = 2 / sqrt(pi) exp(-x^2)",
            .kind = OpKind::primitive,
            .samples = XG_UNARY_SAMPLES(erf, Domain::real),
            .torch = "torch.erf"});
Tensor erf(const Tensor& x) {
  Tensor y = unary_vec(x, "erf", [](const auto* in, auto* out, int64_t n) { simd::erf(in, out, n); });
  if (!will_record({x})) return y;
  return record(
      opdefs::erf_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor x = sx.unpack(n);
        gx[0] = g * (M_2_SQRTPI * exp(neg(x * x)));
      },
      [&](std::span<const Tensor> t) { return t[0] * (M_2_SQRTPI * exp(neg(x * x))); });
}

XG_OP(relu,
      {.formula = "d/dx relu(x) = [x > 0]",
       .kind = OpKind::primitive,
       .explain =
           [](const ChainRuleContext& c) { return c.times("[" + c.label(0) + " > 0]", gt(c.value(0), 0.0)); },
       .samples = XG_UNARY_SAMPLES(relu, Domain::nonzero),
       .torch = "torch.relu"});
Tensor relu(const Tensor& x) {
  // v <= 0, not v > 0: NaN fails both tests and must come out as NaN, as in PyTorch.
  Tensor y = unary_float(x, "relu", [](auto v) { return v <= 0 ? decltype(v)(0) : v; });
  if (!will_record({x})) return y;
  return record(
      opdefs::relu_op, y, {x},
      [sy = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor y = sy.unpack(n);
        if (GradMode::is_enabled() || g.dtype() != y.dtype() ||
            !(g.shape() == y.shape())) {   // differentiable form
          gx[0] = g * (1.0 - le(y, 0.0));  // not y <= 0: NaN passes the gradient, as PyTorch
          return;
        }
        // First order: one masked copy instead of a mask tensor and a product.
        gx[0] =
            binary_map<true>(g, y, "relu", [](auto gv, auto yv) { return yv <= 0 ? decltype(gv)(0) : gv; });
      },
      [&](std::span<const Tensor> t) { return t[0] * (1.0 - le(y, 0.0)); });
}

XG_OP(leaky_relu,
      {.formula = "d/dx leaky_relu(x) = 1 if x > 0 else negative_slope",
       .kind = OpKind::primitive,
       .explain =
           [](const ChainRuleContext& c) {
             const double slope = c.attr(0);
             return c.times("([" + c.label(0) + " > 0] + " + c.number(slope) + " [" + c.label(0) + " <= 0])",
                            gt(c.value(0), 0.0) + slope * le(c.value(0), 0.0));
           },
       .samples =
           [] {
             return detail::with_torch(
                 detail::unary_samples([](auto& x) { return leaky_relu(x, 0.1); }, Domain::nonzero),
                 "OP(x0, 0.1)");
           },
       .torch = "torch.nn.functional.leaky_relu"});
Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor y = unary_float(x, "leaky_relu",
                         [slope](auto v) { return v > 0 ? v : static_cast<decltype(v)>(slope) * v; });
  if (!will_record({x})) return y;
  return record(
      opdefs::leaky_relu_op, y, {x},
      [sx = save_input(x), slope](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = where(gt(sx.unpack(n), 0.0), g, g * slope);
      },
      [&](std::span<const Tensor> t) { return where(gt(x, 0.0), t[0], t[0] * slope); },
      OpAttrs{{slope, 0}, 1});
}

XG_OP(elu, {.formula = "d/dx elu(x) = 1 if x > 0 else alpha exp(x)",
            .kind = OpKind::primitive,
            .samples =
                [] {
                  return detail::with_torch(
                      detail::unary_samples([](auto& x) { return elu(x, 0.7); }, Domain::nonzero),
                      "OP(x0, 0.7)");
                },
            .torch = "torch.nn.functional.elu"});
Tensor elu(const Tensor& x, double alpha) {
  Tensor y = unary_float(x, "elu", [alpha](auto v) {
    using T = decltype(v);
    return v > 0 ? v : static_cast<T>(alpha) * std::expm1(v);
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::elu_op, y, {x},
      [sx = save_input(x), alpha](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        // alpha e^x on the negative side, not elu(x) + alpha: that cancels (float32 at x = -20:
        // -1 + 1 = 0, for 2.06e-9). e^min(x, 0): no inf on the unselected side.
        const Tensor x = sx.unpack(n);
        // (NaN takes the negative side: a NaN gradient, as PyTorch's vectorised kernel)
        gx[0] = where(gt(x, 0.0), g, g * (alpha * exp(clamp(x, std::nullopt, 0.0))));
      },
      [&](std::span<const Tensor> t) {
        return where(gt(x, 0.0), t[0], t[0] * (alpha * exp(clamp(x, std::nullopt, 0.0))));
      });
}

// gelu and silu are composites: their gradients are derived from erf, sigmoid, mul.
XG_OP(gelu, {.formula = "gelu(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (composite)",
             .kind = OpKind::composite,
             .samples = XG_UNARY_SAMPLES(gelu, Domain::real),
             .torch = "torch.nn.functional.gelu"});
XG_OP(silu, {.formula = "silu(x) = x sigmoid(x) (composite)",
             .kind = OpKind::composite,
             .samples = XG_UNARY_SAMPLES(silu, Domain::real),
             .torch = "torch.nn.functional.silu"});
Tensor gelu(const Tensor& x) {
  XG_COMPOSITE_SCOPE(gelu);
  return 0.5 * x * (1.0 + erf(x * M_SQRT1_2));
}
Tensor silu(const Tensor& x) {
  XG_COMPOSITE_SCOPE(silu);
  return x * sigmoid(x);
}

XG_OP(softplus, {.formula = "d/dx softplus(x) = sigmoid(beta x) (1 above the threshold)",
                 .kind = OpKind::primitive,
                 .samples =
                     [] {
                       auto s = detail::unary_samples([](auto& x) { return softplus(x); }, Domain::real);
                       auto s2 = detail::with_torch(
                           detail::unary_samples([](auto& x) { return softplus(x * 30.0, 0.5, 10.0); },
                                                 Domain::nonzero, false),
                           "OP(x0 * 30.0, 0.5, 10.0)");
                       s.insert(s.end(), s2.begin(), s2.end());
                       return s;
                     },
                 .torch = "torch.nn.functional.softplus"});
Tensor softplus(const Tensor& x, double beta, double threshold) {
  Tensor y = unary_float(x, "softplus", [beta, threshold](auto v) {
    using T = decltype(v);
    const T bx = static_cast<T>(beta) * v;
    if (bx > static_cast<T>(threshold)) return v;
    // log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|): no overflow, no cancellation
    return (std::max(bx, T(0)) + std::log1p(std::exp(-std::fabs(bx)))) / static_cast<T>(beta);
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::softplus_op, y, {x},
      [sx = save_input(x), beta, threshold](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor bx = sx.unpack(n) * beta;
        gx[0] = where(gt(bx, threshold), g, g * sigmoid(bx));
      },
      [&](std::span<const Tensor> t) {
        Tensor bx = x * beta;
        return where(gt(bx, threshold), t[0], t[0] * sigmoid(bx));
      });
}

XG_OP(clamp, {.formula = "d/dx clamp(x, lo, hi) = [lo <= x <= hi]",
              .kind = OpKind::primitive,
              .samples =
                  [] {
                    auto s = detail::with_torch(
                        detail::unary_samples([](auto& x) { return clamp(x, -0.5, 0.7); }, Domain::real),
                        "OP(x0, -0.5, 0.7)");
                    auto s2 = detail::with_torch(
                        detail::unary_samples([](auto& x) { return clamp(x, std::nullopt, 0.3); },
                                              Domain::real, false),
                        "OP(x0, None, 0.3)");
                    auto s3 = detail::with_torch(
                        detail::unary_samples([](auto& x) { return clamp(x, 0.1, std::nullopt); },
                                              Domain::real, false),
                        "OP(x0, 0.1, None)");
                    s.insert(s.end(), s2.begin(), s2.end());
                    s.insert(s.end(), s3.begin(), s3.end());
                    return s;
                  },
              .torch = "torch.clamp"});
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  if (lo && hi && *lo > *hi) {
    std::ostringstream msg;
    msg << "clamp: lower bound " << *lo << " is above upper bound " << *hi;
    throw ValueError(msg.str());
  }
  const double l = lo.value_or(-INFINITY), h = hi.value_or(INFINITY);
  Tensor y = unary_any(x, "clamp", [l, h](auto v) {
    using T = decltype(v);
    const double d = static_cast<double>(v);
    return d < l ? detail::checked_cast<T>(l, "clamp") : d > h ? detail::checked_cast<T>(h, "clamp") : v;
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::clamp_op, y, {x},
      [sx = save_input(x), l, h](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor x = sx.unpack(n);
        gx[0] = g * (ge(x, l) * le(x, h));
      },
      [&](std::span<const Tensor> t) { return t[0] * (ge(x, l) * le(x, h)); });
}

XG_OP(to, {.formula = "d/dx to(x, dtype) = 1 (the gradient converted back to x's dtype)",
           .kind = OpKind::primitive,
           .explain =
               [](const ChainRuleContext& c) {
                 return c.note(c.up + " converted back", c.grad_output.to(c.input_dtype));
               },
           .samples =
               [] {
                 auto round_trip = [](std::span<const Tensor> in) {
                   return in[0].to(Dtype::float32).to(Dtype::float64);
                 };
                 return std::vector<OpSample>{
                     {"float64 -> float32 -> float64 [3, 2]",
                      {detail::sample_tensor({3, 2}, Domain::real, 1)},
                      round_trip,
                      1e-2,
                      "x0.to(torch.float32).to(torch.float64)"},
                 };
               },
           .torch = "torch.Tensor.to"});
namespace {
template <class S, class T>
void convert_exec(const S* in, T* out, int64_t n) {
  detail::map_unary(in, out, n, [](S v) { return static_cast<T>(v); });
}
template <class S, class T>
void convert_replay(const capture_detail::Kernel& k) {
  convert_exec(static_cast<const S*>(k.buf[0]), static_cast<T*>(k.buf[1]), k.n[0]);
}
void copy_replay(const capture_detail::Kernel& k) {
  if (k.n[0]) std::memcpy(k.buf[1], k.buf[0], static_cast<std::size_t>(k.n[0]));
}
}  // namespace
Tensor Tensor::to(Dtype d) const {
  check_defined("to");
  if (dtype() == d) return *this;
  Tensor y = detail::new_tensor(shape(), d);
  visit_dtype(dtype(), [&]<class S>() {
    visit_dtype(d, [&]<class T>() {
      detail::check_castable<T>(data<S>(), numel(), "to");  // float -> int64 of NaN, inf, or beyond int64
      if (capture_detail::recorder) [[unlikely]] {
        // (to int64 checks each value: a replay could not)
        if (std::is_integral_v<T> && !std::is_integral_v<S>) capture_detail::refuse("to(int64)");
        capture_detail::emit("to", convert_replay<S, T>, {capture_detail::R(*this), capture_detail::W(y)},
                             {numel()});
      }
      convert_exec(data<S>(), y.data<T>(), numel());
    });
  });
  if (!is_floating(d)) return y;  // int64 results carry no gradient
  const Dtype src = dtype();
  return record(
      opdefs::to_op, y, {*this},
      [src](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = g.to(src); },
      [&](std::span<const Tensor> t) { return t[0].to(d); });
}

XG_OP(clone,
      {.formula = "d/dx clone(x) = 1",
       .kind = OpKind::primitive,
       .explain = [](const ChainRuleContext& c) { return c.note(c.up, c.grad_output); },
       .samples = [] { return detail::unary_samples([](auto& x) { return x.clone(); }, Domain::real); },
       .torch = "torch.clone"});
Tensor Tensor::clone() const {
  check_defined("clone");
  Tensor y = detail::new_tensor(shape(), dtype());
  if (capture_detail::recorder) [[unlikely]]
    capture_detail::emit("clone", copy_replay, {capture_detail::R(*this), capture_detail::W(y)},
                         {numel() * static_cast<int64_t>(dtype_size(dtype()))});
  if (numel()) std::memcpy(y.raw_data(), raw_data(), static_cast<std::size_t>(numel()) * dtype_size(dtype()));
  return record(
      opdefs::clone_op, y, {*this}, [](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = g; },
      [&](std::span<const Tensor> t) { return t[0].clone(); });
}

// ================================================================ comparisons (no gradient)
namespace {
template <class F>
Tensor compare(const Tensor& a0, const Tensor& b0, const char* op, F f) {
  auto [a, b] = promoted(a0, b0, op);
  NoGradGuard guard;  // masks never require grad
  return binary_map<false>(a, b, op,
                           [f](auto x, auto z) { return static_cast<decltype(x)>(f(x, z) ? 1 : 0); });
}
std::vector<OpSample> compare_samples(Tensor (*f)(const Tensor&, const Tensor&)) {
  auto call = [f](std::span<const Tensor> in) { return f(in[0], in[1]); };
  Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, {.dtype = Dtype::float64});
  Tensor b = tensor({3, 2, 1}, {.dtype = Dtype::float64});
  return {{"[2, 3] with [3]", {a, b}, call},
          {"int64 with float32", {a.to(Dtype::int64), b.to(Dtype::float32)}, call}};
}
}  // namespace
XG_OP(eq,
      {.formula = "masks carry no gradient",
       .kind = OpKind::non_differentiable,
       .samples = [] { return compare_samples(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(eq)); },
       .torch = "torch.eq"});
XG_OP(ne,
      {.formula = "masks carry no gradient",
       .kind = OpKind::non_differentiable,
       .samples = [] { return compare_samples(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(ne)); },
       .torch = "torch.ne"});
XG_OP(lt,
      {.formula = "masks carry no gradient",
       .kind = OpKind::non_differentiable,
       .samples = [] { return compare_samples(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(lt)); },
       .torch = "torch.lt"});
XG_OP(le,
      {.formula = "masks carry no gradient",
       .kind = OpKind::non_differentiable,
       .samples = [] { return compare_samples(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(le)); },
       .torch = "torch.le"});
XG_OP(gt,
      {.formula = "masks carry no gradient",
       .kind = OpKind::non_differentiable,
       .samples = [] { return compare_samples(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(gt)); },
       .torch = "torch.gt"});
XG_OP(ge,
      {.formula = "masks carry no gradient",
       .kind = OpKind::non_differentiable,
       .samples = [] { return compare_samples(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(ge)); },
       .torch = "torch.ge"});
Tensor eq(const Tensor& a, const Tensor& b) {
  return compare(a, b, "eq", [](auto x, auto z) { return x == z; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare(a, b, "ne", [](auto x, auto z) { return x != z; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare(a, b, "lt", [](auto x, auto z) { return x < z; });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare(a, b, "le", [](auto x, auto z) { return x <= z; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare(a, b, "gt", [](auto x, auto z) { return x > z; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare(a, b, "ge", [](auto x, auto z) { return x >= z; });
}
Tensor eq(const Tensor& a, double b) {
  return eq(a, scalar_like(a, b));
}
Tensor ne(const Tensor& a, double b) {
  return ne(a, scalar_like(a, b));
}
Tensor lt(const Tensor& a, double b) {
  return lt(a, scalar_like(a, b));
}
Tensor le(const Tensor& a, double b) {
  return le(a, scalar_like(a, b));
}
Tensor gt(const Tensor& a, double b) {
  return gt(a, scalar_like(a, b));
}
Tensor ge(const Tensor& a, double b) {
  return ge(a, scalar_like(a, b));
}

}  // namespace xg
