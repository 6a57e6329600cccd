// More element-wise math and activations (PyTorch 1.13 names and semantics): binary math that
// broadcasts and promotes as add does, the gamma family, rounding, any/all and activations.
// Backward formulas are xg ops, so create_graph records them (higher order).
#include <cmath>
#include <numbers>
#include <sstream>
#include <tuple>
#include <vector>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/ops/elementwise_kernels.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::tangent_sum;
using detail::tmul;

using detail::Domain;
using detail::unary_any;
using detail::unary_float;
using detail::visit_dtype;
using detail::visit_float;

namespace {

Tensor scalar_of(const Tensor& t, double v) {
  return scalar_tensor(v, {.dtype = t.dtype()});
}

// ---- special functions, in double ----
double digamma_d(double x) {
  if (std::isnan(x)) return x;
  if (x == 0) return std::copysign(INFINITY, -x);  // as PyTorch: -inf at +0
  if (x < 0) {
    if (x == std::floor(x)) return NAN;
    // reflection: psi(x) = psi(1 - x) - pi / tan(pi x); tan has period pi, so x is first reduced
    // to [-1/2, 1/2] exactly (pi x itself would lose the digits of a large x)
    return digamma_d(1 - x) - std::numbers::pi / std::tan(std::numbers::pi * (x - std::round(x)));
  }
  double r = 0;
  while (x < 12) {
    r -= 1 / x;
    x += 1;
  }
  const double f = 1 / (x * x);
  const double t = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 + f * (-1.0 / 132)))));
  return r + std::log(x) - 0.5 / x + t;
}

// psi^(n)(x) for n >= 1: (-1)^(n+1) n! sum_k 1 / (x + k)^(n+1), shifted up to x >= 20, then the
// asymptotic series with Bernoulli numbers B_2 .. B_16.
double polygamma_d(int64_t n, double x) {
  if (n == 0) return digamma_d(x);
  if (std::isnan(x) || x == -INFINITY) return NAN;
  const double nd = static_cast<double>(n), fact = std::tgamma(nd + 1);
  // psi^(n)(x) ~ (-1)^(n+1) n! / x^(n+1) near 0, taken from x's side (as digamma's -inf at +0)
  if (x == 0) return n % 2 == 1 || std::signbit(x) ? INFINITY : -INFINITY;
  if (x < 0) {
    // A pole at each negative integer: psi^(n) ~ (-1)^(n+1) n! / (x - k)^(n+1) changes sign there
    // for even n (NaN) and not for odd n (inf).
    if (x == std::floor(x)) return n % 2 == 1 ? INFINITY : NAN;
    // Next to the pole at 0 (where cot(pi x) overflows): the pole's term alone.
    if (x > -1e-100) return (n % 2 == 1 ? 1 : -1) * fact / std::pow(x, nd + 1);
    // Reflection, differentiated n times: psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi D^n cot(pi x).
    // D^k cot(pi x) is a polynomial P_k in c = cot(pi x): P_0 = c, P_(k+1) = -pi (1 + c^2) P_k'(c).
    // (x is reduced to [-1/2, 1/2] first: cot has period 1 in x; no upward recurrence from a large
    // negative x, which would take |x| steps.)
    std::vector<double> p{0, 1};
    for (int64_t k = 0; k < n; ++k) {
      std::vector<double> q(p.size() + 1, 0.0);
      for (std::size_t j = 1; j < p.size(); ++j) {
        const double d = static_cast<double>(j) * p[j] * -std::numbers::pi;  // (c^j)' (-pi)(1 + c^2)
        q[j - 1] += d;
        q[j + 1] += d;
      }
      p = std::move(q);
    }
    const double c = 1 / std::tan(std::numbers::pi * (x - std::round(x)));
    double dn = 0;
    for (std::size_t j = p.size(); j-- > 0;) dn = dn * c + p[j];
    return (n % 2 == 0 ? 1 : -1) * polygamma_d(n, 1 - x) - std::numbers::pi * dn;
  }
  double s = 0;
  while (x < 20) {
    s += fact / std::pow(x, nd + 1);
    x += 1;
  }
  static constexpr double kB[] = {1.0 / 6,  -1.0 / 30,     1.0 / 42, -1.0 / 30,
                                  5.0 / 66, -691.0 / 2730, 7.0 / 6,  -3617.0 / 510};
  double asym = std::tgamma(nd) / std::pow(x, nd) + fact / (2 * std::pow(x, nd + 1));
  for (int k = 1; k <= 8; ++k)
    asym +=
        kB[k - 1] * std::exp(std::lgamma(2 * k + nd) - std::lgamma(2 * k + 1.0)) / std::pow(x, 2 * k + nd);
  return (n % 2 == 1 ? 1 : -1) * (s + asym);
}

// Giles' approximation refined by two Newton steps on erf.
double erfinv_d(double y) {
  if (std::isnan(y) || y < -1 || y > 1) return NAN;
  if (y == 1 || y == -1) return std::copysign(INFINITY, y);
  double w = -std::log((1 - y) * (1 + y)), x;
  if (w < 5) {
    w -= 2.5;
    x = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                     -0.00417768164, 0.246640727, 1.50140941})
      x = c + x * w;
  } else {
    w = std::sqrt(w) - 3;
    x = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                     0.00943887047, 1.00167406, 2.83297682})
      x = c + x * w;
  }
  x *= y;
  for (int i = 0; i < 2; ++i) x -= (std::erf(x) - y) / (std::numbers::inv_sqrtpi * 2 * std::exp(-x * x));
  return x;
}

template <class T>
T fmod_of(T a, T b, const char* op) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) throw ValueError(std::string(op) + ": integer division by zero");
    if (b == -1) return 0;  // INT64_MIN % -1 overflows in C++; the remainder is 0
    return a % b;
  } else {
    return std::fmod(a, b);
  }
}

}  // namespace

// ================================================================ two operands
XG_OP(atan2, {.formula = "d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)",
              .kind = OpKind::primitive,
              .samples =
                  [] {
                    return detail::binary_samples([](auto& a, auto& b) { return atan2(a, b); }, Domain::real,
                                                  Domain::nonzero);
                  },
              .torch = "torch.atan2"});
Tensor atan2(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = detail::promoted(a0, b0, "atan2");
  Tensor y = detail::binary_map<true>(a, b, "atan2", [](auto x, auto z) { return std::atan2(x, z); });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::atan2_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        // b / (a^2 + b^2) as (b / h) / h, h = hypot(a, b): a^2 + b^2 underflows to 0 for
        // |a|, |b| < 1e-23 in float32 (then b / 0 = inf for a finite 1 / b).
        Tensor a = sa.unpack(n), b = sb.unpack(n), h = hypot(a, b);
        if (n.needs_input_grad(0)) gx[0] = sum_to(g * (b / h) / h, a.shape());
        if (n.needs_input_grad(1)) gx[1] = sum_to(neg(g * (a / h) / h), b.shape());
      },
      [&](std::span<const Tensor> t) {
        Tensor h = hypot(a, b);
        return tangent_sum(tmul(t[0], (b / h) / h), t[1].defined() ? neg(t[1] * (a / h) / h) : Tensor());
      });
}

XG_OP(logaddexp, {.formula = "d/da log(e^a + e^b) = sigmoid(a - b), d/db = sigmoid(b - a)",
                  .kind = OpKind::primitive,
                  .samples =
                      [] {
                        return detail::binary_samples([](auto& a, auto& b) { return logaddexp(a, b); },
                                                      Domain::real, Domain::real);
                      },
                  .torch = "torch.logaddexp"});
Tensor logaddexp(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = detail::promoted(a0, b0, "logaddexp");
  Tensor y = detail::binary_map<true>(a, b, "logaddexp", [](auto x, auto z) {
    using T = decltype(x);
    if (std::isinf(x) && x == z) return x;  // -inf + -inf, inf + inf: no inf - inf
    return std::max(x, z) + std::log1p(std::exp(-std::fabs(x - z))) * T(1);
  });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::logaddexp_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor a = sa.unpack(n), b = sb.unpack(n);
        if (n.needs_input_grad(0)) gx[0] = sum_to(g * sigmoid(a - b), a.shape());
        if (n.needs_input_grad(1)) gx[1] = sum_to(g * sigmoid(b - a), b.shape());
      },
      [&](std::span<const Tensor> t) {
        return tangent_sum(tmul(t[0], sigmoid(a - b)), tmul(t[1], sigmoid(b - a)));
      });
}

XG_OP(hypot, {.formula = "d/da sqrt(a^2 + b^2) = a / hypot, d/db = b / hypot",
              .kind = OpKind::primitive,
              .samples =
                  [] {
                    return detail::binary_samples([](auto& a, auto& b) { return hypot(a, b); },
                                                  Domain::nonzero, Domain::nonzero);
                  },
              .torch = "torch.hypot"});
Tensor hypot(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = detail::promoted(a0, b0, "hypot");
  Tensor y = detail::binary_map<true>(a, b, "hypot", [](auto x, auto z) { return std::hypot(x, z); });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::hypot_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b), sy = save_output(y)](const Node& n, const Tensor& g,
                                                                    std::span<Tensor> gx) {
        // g a / h, not (g / h) a: g / h overflows for a tiny h (then inf * 0 = NaN)
        Tensor a = sa.unpack(n), b = sb.unpack(n), h = sy.unpack(n);
        if (n.needs_input_grad(0)) gx[0] = sum_to(g * a / h, a.shape());
        if (n.needs_input_grad(1)) gx[1] = sum_to(g * b / h, b.shape());
      },
      [&](std::span<const Tensor> t) {
        return tangent_sum(t[0].defined() ? t[0] * a / y : Tensor(),
                           t[1].defined() ? t[1] * b / y : Tensor());
      });
}

XG_OP(xlogy, {.formula = "d/dx x log(y) = log(y) (0 where x = 0), d/dy = x / y",
              .kind = OpKind::primitive,
              .samples =
                  [] {
                    return detail::binary_samples([](auto& a, auto& b) { return xlogy(a, b); }, Domain::real,
                                                  Domain::positive);
                  },
              .torch = "torch.xlogy"});
Tensor xlogy(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = detail::promoted(a0, b0, "xlogy");
  Tensor y = detail::binary_map<true>(a, b, "xlogy", [](auto x, auto z) {
    using T = decltype(x);
    if (std::isnan(z)) return z;
    return x == T(0) ? T(0) : x * std::log(z);
  });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::xlogy_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor a = sa.unpack(n), b = sb.unpack(n);
        if (n.needs_input_grad(0)) gx[0] = sum_to(g * xlogy(ne(a, 0.0), b), a.shape());
        if (n.needs_input_grad(1)) gx[1] = sum_to(g * a / b, b.shape());
      },
      [&](std::span<const Tensor> t) {
        return tangent_sum(tmul(t[0], xlogy(ne(a, 0.0), b)), t[1].defined() ? t[1] * a / b : Tensor());
      });
}

XG_OP(fmod, {.formula = "d/da fmod(a, b) = 1, d/db = -trunc(a / b)",
             .kind = OpKind::primitive,
             .samples =
                 [] {
                   return detail::with_torch(
                       detail::binary_samples([](auto& a, auto& b) { return fmod(a * 3.0, b); }, Domain::real,
                                              Domain::nonzero),
                       "OP(x0 * 3.0, x1)");
                 },
             .torch = "torch.fmod"});
Tensor fmod(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = detail::promoted(a0, b0, "fmod");
  Tensor y = detail::binary_map<false>(a, b, "fmod", [](auto x, auto z) { return fmod_of(x, z, "fmod"); });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::fmod_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor a = sa.unpack(n), b = sb.unpack(n);
        if (n.needs_input_grad(0)) gx[0] = sum_to(g, a.shape());
        if (n.needs_input_grad(1)) gx[1] = sum_to(neg(g * trunc(a / b)), b.shape());
      },
      [&](std::span<const Tensor> t) {
        return t[1].defined() ? tangent_sum(t[0], neg(t[1] * trunc(a / b))) : t[0];
      });
}

XG_OP(remainder, {.formula = "d/da remainder(a, b) = 1, d/db = -floor(a / b)",
                  .kind = OpKind::primitive,
                  .samples =
                      [] {
                        return detail::with_torch(
                            detail::binary_samples([](auto& a, auto& b) { return remainder(a * 3.0, b); },
                                                   Domain::real, Domain::nonzero),
                            "OP(x0 * 3.0, x1)");
                      },
                  .torch = "torch.remainder"});
Tensor remainder(const Tensor& a0, const Tensor& b0) {
  Tensor a, b;  // not a structured binding: the JVP rule captures them (clang 14)
  std::tie(a, b) = detail::promoted(a0, b0, "remainder");
  // The result takes the divisor's sign (Python's %), as PyTorch.
  Tensor y = detail::binary_map<false>(a, b, "remainder", [](auto x, auto z) {
    auto m = fmod_of(x, z, "remainder");
    using T = decltype(m);
    return m != T(0) && ((z < T(0)) != (m < T(0))) ? m + z : m;
  });
  if (!will_record({a, b})) return y;
  return record(
      opdefs::remainder_op, y, {a, b},
      [sa = save_input(a), sb = save_input(b)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor a = sa.unpack(n), b = sb.unpack(n);
        if (n.needs_input_grad(0)) gx[0] = sum_to(g, a.shape());
        if (n.needs_input_grad(1)) gx[1] = sum_to(neg(g * floor(a / b)), b.shape());
      },
      [&](std::span<const Tensor> t) {
        return t[1].defined() ? tangent_sum(t[0], neg(t[1] * floor(a / b))) : t[0];
      });
}

// ================================================================ one operand
#define XG_MORE_SAMPLES(fn, domain) \
  [] { return detail::unary_samples([](auto& x) { return fn(x); }, domain); }

XG_OP(logit, {.formula = "d/dx log(x / (1 - x)) = 1 / (x (1 - x)) (0 outside [eps, 1 - eps])",
              .kind = OpKind::primitive,
              .samples =
                  [] {
                    auto s = detail::with_torch(
                        detail::unary_samples([](auto& x) { return logit(x * 0.4 + 0.5); }, Domain::unit),
                        "OP(x0 * 0.4 + 0.5)");
                    auto s2 = detail::with_torch(
                        detail::unary_samples([](auto& x) { return logit(x * 0.5 + 0.5, 0.1); }, Domain::unit,
                                              false),
                        "OP(x0 * 0.5 + 0.5, 0.1)");
                    s.insert(s.end(), s2.begin(), s2.end());
                    return s;
                  },
              .torch = "torch.logit"});
Tensor logit(const Tensor& x, std::optional<double> eps) {
  const double lo = eps.value_or(-INFINITY), hi = eps ? 1 - *eps : INFINITY;
  Tensor y = unary_float(x, "logit", [lo, hi](auto v) {
    using T = decltype(v);
    const double z = v < lo ? lo : v > hi ? hi : static_cast<double>(v);  // NaN passes through
    return static_cast<T>(std::log(z / (1 - z)));
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::logit_op, y, {x},
      [sx = save_input(x), eps, lo, hi](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor x = sx.unpack(n), d = g / (x * (1.0 - x));
        // with eps: 0 outside [eps, 1 - eps] and at NaN (as PyTorch)
        if (eps) return void(gx[0] = where(ge(x, lo) * le(x, hi), d, scalar_of(d, 0.0)));
        // NaN outside [0, 1], where logit itself is NaN (as PyTorch)
        gx[0] = where(lt(x, 0.0) + gt(x, 1.0), scalar_of(d, NAN), d);
      },
      [&](std::span<const Tensor> t) {
        Tensor d = t[0] / (x * (1.0 - x));
        if (eps) return where(ge(x, lo) * le(x, hi), d, scalar_of(d, 0.0));
        return where(lt(x, 0.0) + gt(x, 1.0), scalar_of(d, NAN), d);
      });
}

XG_OP(erfinv, {.formula = "d/dx erfinv(x) = sqrt(pi) / 2 exp(erfinv(x)^2)",
               .kind = OpKind::primitive,
               .samples = XG_MORE_SAMPLES(erfinv, Domain::unit),
               .torch = "torch.erfinv"});
Tensor erfinv(const Tensor& x) {
  Tensor y = unary_float(x, "erfinv", [](auto v) { return static_cast<decltype(v)>(erfinv_d(v)); });
  if (!will_record({x})) return y;
  return record(
      opdefs::erfinv_op, y, {x},
      [sy = save_output(y)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor y = sy.unpack(n);
        gx[0] = g * (0.5 / std::numbers::inv_sqrtpi) * exp(y * y);
      },
      [&](std::span<const Tensor> t) { return t[0] * (0.5 / std::numbers::inv_sqrtpi) * exp(y * y); });
}

XG_OP(lgamma, {.formula = "d/dx log|Gamma(x)| = digamma(x)",
               .kind = OpKind::primitive,
               .samples = XG_MORE_SAMPLES(lgamma, Domain::positive),
               .torch = "torch.lgamma"});
Tensor lgamma(const Tensor& x) {
  Tensor y = unary_float(x, "lgamma", [](auto v) { return std::lgamma(v); });
  if (!will_record({x})) return y;
  return record(
      opdefs::lgamma_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g * digamma(sx.unpack(n));
      },
      [&](std::span<const Tensor> t) { return t[0] * digamma(x); });
}

XG_OP(digamma, {.formula = "d/dx digamma(x) = polygamma(1, x)",
                .kind = OpKind::primitive,
                .samples = XG_MORE_SAMPLES(digamma, Domain::positive),
                .torch = "torch.digamma"});
Tensor digamma(const Tensor& x) {
  Tensor y = unary_float(x, "digamma", [](auto v) { return static_cast<decltype(v)>(digamma_d(v)); });
  if (!will_record({x})) return y;
  return record(
      opdefs::digamma_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g * polygamma(1, sx.unpack(n));
      },
      [&](std::span<const Tensor> t) { return t[0] * polygamma(1, x); });
}

XG_OP(polygamma,
      {.formula = "d/dx polygamma(n, x) = polygamma(n + 1, x)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto s = detail::with_torch(
                 detail::unary_samples([](auto& x) { return polygamma(1, x); }, Domain::positive),
                 "OP(1, x0)");
             auto s2 = detail::with_torch(
                 detail::unary_samples([](auto& x) { return polygamma(2, x); }, Domain::positive, false),
                 "OP(2, x0)");
             s.insert(s.end(), s2.begin(), s2.end());
             return s;
           },
       .torch = "torch.polygamma"});
Tensor polygamma(int64_t n, const Tensor& x) {
  if (n < 0) throw ValueError("polygamma: order n must be non-negative, got " + std::to_string(n));
  Tensor y = unary_float(x, "polygamma", [n](auto v) { return static_cast<decltype(v)>(polygamma_d(n, v)); });
  if (!will_record({x})) return y;
  return record(
      opdefs::polygamma_op, y, {x},
      [sx = save_input(x), n](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g * polygamma(n + 1, sx.unpack(nd));
      },
      [&](std::span<const Tensor> t) { return t[0] * polygamma(n + 1, x); },
      OpAttrs{{static_cast<double>(n), 0}, 1});
}

// Rounding: piecewise constant, so the gradient is zero (as PyTorch); int64 passes through.
namespace {
template <class F>
Tensor rounding(const Tensor& x, const OpInfo& info, F f) {
  Tensor y = unary_any(x, info.name, [f](auto v) {
    if constexpr (std::is_integral_v<decltype(v)>)
      return v;
    else
      return f(v);
  });
  if (!is_floating(x.dtype())) return y;
  return record(
      info, y, {x}, [](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = zeros_like(g); },
      [](std::span<const Tensor>) { return Tensor(); });  // piecewise constant: a zero tangent
}
}  // namespace
XG_OP(floor, {.formula = "d/dx floor(x) = 0",
              .kind = OpKind::primitive,
              .samples = XG_MORE_SAMPLES(floor, Domain::nonzero),
              .torch = "torch.floor"});
XG_OP(ceil, {.formula = "d/dx ceil(x) = 0",
             .kind = OpKind::primitive,
             .samples = XG_MORE_SAMPLES(ceil, Domain::nonzero),
             .torch = "torch.ceil"});
XG_OP(round, {.formula = "d/dx round(x) = 0 (halves to even)",
              .kind = OpKind::primitive,
              .samples = XG_MORE_SAMPLES(round, Domain::nonzero),
              .torch = "torch.round"});
XG_OP(trunc, {.formula = "d/dx trunc(x) = 0",
              .kind = OpKind::primitive,
              .samples = XG_MORE_SAMPLES(trunc, Domain::nonzero),
              .torch = "torch.trunc"});
Tensor floor(const Tensor& x) {
  return rounding(x, opdefs::floor_op, [](auto v) { return std::floor(v); });
}
Tensor ceil(const Tensor& x) {
  return rounding(x, opdefs::ceil_op, [](auto v) { return std::ceil(v); });
}
Tensor round(const Tensor& x) {
  return rounding(x, opdefs::round_op, [](auto v) { return std::nearbyint(v); });  // default mode: to even
}
Tensor trunc(const Tensor& x) {
  return rounding(x, opdefs::trunc_op, [](auto v) { return std::trunc(v); });
}

XG_OP(frac, {.formula = "d/dx (x - trunc(x)) = 1",
             .kind = OpKind::primitive,
             .samples = XG_MORE_SAMPLES(frac, Domain::nonzero),
             .torch = "torch.frac"});
Tensor frac(const Tensor& x) {
  Tensor y = unary_float(x, "frac", [](auto v) { return v - std::trunc(v); });
  return record(
      opdefs::frac_op, y, {x}, [](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = g; },
      [&](std::span<const Tensor> t) { return t[0]; });
}

// ---- any / all: masks, built from comparisons and a count ----
namespace {
std::vector<OpSample> any_all_samples(Tensor (*f)(const Tensor&, const Axes&, bool)) {
  Tensor x = tensor({0, 2, 0, 0, 0, 0, 1, 1, NAN}, {3, 3}, {.dtype = Dtype::float64});
  return {{"[3, 3] axis 1",
           {x},
           [f](std::span<const Tensor> in) { return f(in[0], {1}, false); },
           0,
           "OP(x0, 1)"},
          {"[3, 3] all axes", {x}, [f](std::span<const Tensor> in) { return f(in[0], {}, false); }},
          {"int64 axis 0 keepdim",
           {tensor({0, 3, 0, 0, -1, 0}, {3, 2})},
           [f](std::span<const Tensor> in) { return f(in[0], {0}, true); },
           0,
           "OP(x0, 0, keepdim=True)"}};
}
}  // namespace
XG_OP(any, {.formula = "masks carry no gradient",
            .kind = OpKind::non_differentiable,
            .samples = [] { return any_all_samples(any); },
            .torch = "torch.any"});
XG_OP(all, {.formula = "masks carry no gradient",
            .kind = OpKind::non_differentiable,
            .samples = [] { return any_all_samples(all); },
            .torch = "torch.all"});
Tensor any(const Tensor& x, const Axes& axes, bool keepdim) {
  if (!x.defined()) throw ValueError("any: the operand is undefined");
  NoGradGuard guard;
  return gt(sum(ne(x, 0.0), axes, keepdim), 0.0);  // NaN is nonzero: true
}
Tensor all(const Tensor& x, const Axes& axes, bool keepdim) {
  if (!x.defined()) throw ValueError("all: the operand is undefined");
  NoGradGuard guard;
  return eq(sum(eq(x, 0.0), axes, keepdim), 0.0);  // over an empty axis: 1, as PyTorch
}

// ================================================================ activations
XG_OP(mish, {.formula = "d/dx x tanh(softplus(x)) = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))",
             .kind = OpKind::primitive,
             .samples = XG_MORE_SAMPLES(mish, Domain::real),
             .torch = "torch.nn.functional.mish"});
Tensor mish(const Tensor& x) {
  Tensor y = unary_float(x, "mish", [](auto v) {
    using T = decltype(v);
    const T sp = v > T(20) ? v : std::log1p(std::exp(v));  // softplus with PyTorch's threshold
    return v * std::tanh(sp);
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::mish_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor x = sx.unpack(n), t = tanh(softplus(x));
        gx[0] = g * (t + x * sigmoid(x) * (1.0 - t * t));
      },
      [&](std::span<const Tensor> t) {
        Tensor th = tanh(softplus(x));
        return t[0] * (th + x * sigmoid(x) * (1.0 - th * th));
      });
}

XG_OP(hardswish, {.formula = "d/dx x relu6(x + 3) / 6 = 0 below -3, x / 3 + 1/2 up to 3, 1 above",
                  .kind = OpKind::primitive,
                  .samples =
                      [] {
                        return detail::with_torch(
                            detail::unary_samples([](auto& x) { return hardswish(x * 4.0); }, Domain::real),
                            "OP(x0 * 4.0)");
                      },
                  .torch = "torch.nn.functional.hardswish"});
Tensor hardswish(const Tensor& x) {
  Tensor y = unary_float(x, "hardswish", [](auto v) {
    using T = decltype(v);
    return v <= T(-3) ? T(0) : v >= T(3) ? v : v * (v + T(3)) / T(6);
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::hardswish_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor x = sx.unpack(n), zero = scalar_of(g, 0.0);
        // NaN gives NaN (x / 3 + 1/2), as PyTorch's vectorised kernel
        gx[0] = where(gt(x, 3.0), g, where(lt(x, -3.0), zero, g * (x / 3.0 + 0.5)));
      },
      [&](std::span<const Tensor> t) {
        Tensor zero = scalar_of(t[0], 0.0);
        return where(gt(x, 3.0), t[0], where(lt(x, -3.0), zero, t[0] * (x / 3.0 + 0.5)));
      });
}

XG_OP(hardsigmoid,
      {.formula = "d/dx relu6(x + 3) / 6 = 1/6 on (-3, 3), else 0",
       .kind = OpKind::primitive,
       .samples =
           [] {
             return detail::with_torch(
                 detail::unary_samples([](auto& x) { return hardsigmoid(x * 4.0); }, Domain::real),
                 "OP(x0 * 4.0)");
           },
       .torch = "torch.nn.functional.hardsigmoid"});
Tensor hardsigmoid(const Tensor& x) {
  Tensor y = unary_float(x, "hardsigmoid", [](auto v) {
    using T = decltype(v);
    return v <= T(-3) ? T(0) : v >= T(3) ? T(1) : v / T(6) + T(0.5);
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::hardsigmoid_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor x = sx.unpack(n);
        gx[0] = g * (gt(x, -3.0) * lt(x, 3.0) * (1.0 / 6.0));
      },
      [&](std::span<const Tensor> t) { return t[0] * (gt(x, -3.0) * lt(x, 3.0) * (1.0 / 6.0)); });
}

XG_OP(hardtanh,
      {.formula = "d/dx hardtanh(x) = [min_val < x < max_val]",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto s = detail::with_torch(
                 detail::unary_samples([](auto& x) { return hardtanh(x * 2.0); }, Domain::real),
                 "OP(x0 * 2.0)");
             auto s2 = detail::with_torch(
                 detail::unary_samples([](auto& x) { return hardtanh(x, -0.5, 0.3); }, Domain::real, false),
                 "OP(x0, -0.5, 0.3)");
             s.insert(s.end(), s2.begin(), s2.end());
             return s;
           },
       .torch = "torch.nn.functional.hardtanh"});
Tensor hardtanh(const Tensor& x, double min_val, double max_val) {
  if (min_val > max_val) {
    std::ostringstream msg;
    msg << "hardtanh: min_val " << min_val << " is above max_val " << max_val;
    throw ValueError(msg.str());
  }
  Tensor y = unary_float(x, "hardtanh", [min_val, max_val](auto v) {
    using T = decltype(v);
    return v < T(min_val) ? T(min_val) : v > T(max_val) ? T(max_val) : v;
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::hardtanh_op, y, {x},
      [sx = save_input(x), min_val, max_val](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        Tensor x = sx.unpack(n);
        // 0 on the bounds and outside, and 0 at NaN, as PyTorch's vectorised kernel (its
        // scalar tail passes the gradient at NaN: PyTorch is itself inconsistent there)
        gx[0] = g * (gt(x, min_val) * lt(x, max_val));
      },
      [&](std::span<const Tensor> t) { return t[0] * (gt(x, min_val) * lt(x, max_val)); });
}

XG_OP(logsigmoid, {.formula = "d/dx log(sigmoid(x)) = sigmoid(-x)",
                   .kind = OpKind::primitive,
                   .samples = XG_MORE_SAMPLES(logsigmoid, Domain::real),
                   .torch = "torch.nn.functional.logsigmoid"});
Tensor logsigmoid(const Tensor& x) {
  // min(x, 0) - log1p(exp(-|x|)): exp's argument stays non-positive, no overflow.
  Tensor y = unary_float(x, "logsigmoid", [](auto v) {
    using T = decltype(v);
    return std::min(v, T(0)) - std::log1p(std::exp(-std::fabs(v)));
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::logsigmoid_op, y, {x},
      [sx = save_input(x)](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g * sigmoid(neg(sx.unpack(n)));
      },
      [&](std::span<const Tensor> t) { return t[0] * sigmoid(neg(x)); });
}

// Composites: simple formulas of existing ops.
XG_OP(selu, {.formula = "selu(x) = scale elu(x, alpha) (composite)",
             .kind = OpKind::composite,
             .samples = XG_MORE_SAMPLES(selu, Domain::nonzero),
             .torch = "torch.nn.functional.selu"});
Tensor selu(const Tensor& x) {
  XG_COMPOSITE_SCOPE(selu);
  constexpr double kAlpha = 1.6732632423543772848170429916717, kScale = 1.0507009873554804934193349852946;
  return kScale * elu(x, kAlpha);
}
XG_OP(celu, {.formula = "celu(x) = alpha elu(x / alpha, 1) (composite)",
             .kind = OpKind::composite,
             .samples =
                 [] {
                   return detail::with_torch(
                       detail::unary_samples([](auto& x) { return celu(x, 0.6); }, Domain::nonzero),
                       "OP(x0, 0.6)");
                 },
             .torch = "torch.nn.functional.celu"});
Tensor celu(const Tensor& x, double alpha) {
  XG_COMPOSITE_SCOPE(celu);
  if (alpha == 0) throw ValueError("celu: alpha must not be 0 (it divides x)");
  return alpha * elu(x / alpha, 1.0);
}
XG_OP(prelu, {.formula = "prelu(x, w) = where(x > 0, x, w x), w per channel on axis 1 (composite)",
              .kind = OpKind::composite,
              .samples =
                  [] {
                    auto call = [](std::span<const Tensor> in) { return prelu(in[0], in[1]); };
                    return std::vector<OpSample>{
                        {"[2, 3, 4] per channel",
                         {detail::sample_tensor({2, 3, 4}, Domain::nonzero, 1),
                          detail::sample_tensor({3}, Domain::real, 2)},
                         call},
                        {"[3, 2] one weight",
                         {detail::sample_tensor({3, 2}, Domain::nonzero, 3),
                          detail::sample_tensor({1}, Domain::real, 4)},
                         call},
                    };
                  },
              .torch = "torch.nn.functional.prelu"});
Tensor prelu(const Tensor& x, const Tensor& weight) {
  XG_COMPOSITE_SCOPE(prelu);
  if (!x.defined() || !weight.defined()) throw ValueError("prelu: an operand is undefined");
  const int64_t c = weight.numel();
  if (weight.dim() > 1)
    throw ShapeError("prelu: weight must be 0-D or 1-D, got shape " + weight.shape().str());
  Tensor w = weight;
  if (c != 1) {
    if (x.dim() < 2 || x.shape()[1] != c)
      throw ShapeError("prelu: " + std::to_string(c) + " weights do not match axis 1 of input shape " +
                       x.shape().str());
    Shape s{c};
    for (int i = 2; i < x.dim(); ++i) s.push_back(1);
    w = reshape(weight, s);
  } else {
    w = reshape(weight, Shape{});
  }
  return where(gt(x, 0.0), x, w * x);
}
XG_OP(glu, {.formula = "glu(x) = a sigmoid(b), a and b the halves of x along dim (composite)",
            .kind = OpKind::composite,
            .samples =
                [] {
                  std::vector<OpSample> out;
                  out.push_back({"[3, 4] dim -1",
                                 {detail::sample_tensor({3, 4}, Domain::real, 1)},
                                 [](std::span<const Tensor> in) { return glu(in[0], -1); },
                                 0,
                                 "OP(x0, -1)"});
                  out.push_back({"[4, 2, 3] dim 0",
                                 {detail::sample_tensor({4, 2, 3}, Domain::real, 2)},
                                 [](std::span<const Tensor> in) { return glu(in[0], 0); },
                                 0,
                                 "OP(x0, 0)"});
                  return out;
                },
            .torch = "torch.nn.functional.glu"});
Tensor glu(const Tensor& x, int64_t dim) {
  XG_COMPOSITE_SCOPE(glu);
  if (!x.defined()) throw ValueError("glu: the operand is undefined");
  if (x.dim() == 0) throw ShapeError("glu: does not support 0-D input");
  const int a = detail::wrap_axis(dim, x.dim(), "glu");
  if (x.shape()[a] % 2 != 0)
    throw ShapeError("glu: halving axis " + std::to_string(dim) + " of shape " + x.shape().str() +
                     " needs an even size");
  const int64_t h = x.shape()[a] / 2;
  return narrow(x, a, 0, h) * sigmoid(narrow(x, a, h, h));
}
XG_OP(softsign, {.formula = "softsign(x) = x / (1 + |x|) (composite)",
                 .kind = OpKind::composite,
                 .samples = XG_MORE_SAMPLES(softsign, Domain::nonzero),
                 .torch = "torch.nn.functional.softsign"});
Tensor softsign(const Tensor& x) {
  XG_COMPOSITE_SCOPE(softsign);
  return x / (1.0 + abs(x));
}
XG_OP(tanhshrink, {.formula = "tanhshrink(x) = x - tanh(x) (composite)",
                   .kind = OpKind::composite,
                   .samples = XG_MORE_SAMPLES(tanhshrink, Domain::real),
                   .torch = "torch.nn.functional.tanhshrink"});
Tensor tanhshrink(const Tensor& x) {
  XG_COMPOSITE_SCOPE(tanhshrink);
  return x - tanh(x);
}
XG_OP(softmin, {.formula = "softmin(x, dim) = softmax(-x, dim) (composite)",
                .kind = OpKind::composite,
                .samples =
                    [] {
                      return std::vector<OpSample>{
                          {"[3, 4] dim 1",
                           {detail::sample_tensor({3, 4}, Domain::real, 1)},
                           [](std::span<const Tensor> in) { return softmin(in[0], 1); },
                           0,
                           "OP(x0, 1)"},
                          {"[3, 4] dim 0",
                           {detail::sample_tensor({3, 4}, Domain::real, 2)},
                           [](std::span<const Tensor> in) { return softmin(in[0], 0); },
                           0,
                           "OP(x0, 0)"}};
                    },
                .torch = "torch.nn.functional.softmin"});
Tensor softmin(const Tensor& x, int64_t dim) {
  XG_COMPOSITE_SCOPE(softmin);
  return softmax(neg(x), dim);
}

}  // namespace xg
