// Extreme values: every element-wise op and its gradient on {0, -0, +-1e-30, +-subnormal, +-0.5,
// +-1, +-20, +-88.8, +-89, +-710, +-1e20, +-inf, NaN} (binary ops: every pair), in float32 and
// float64, against a long-double reference computed here (<cmath>'s long double functions and
// the derivative formula in long double). The error is measured in ulps of the tested dtype at
// the reference rounded to it; NaN must be NaN, an infinite (or overflowing) reference must be
// matched exactly, and a zero result must carry the reference's sign where PyTorch keeps it.
// The worst error per op, dtype and value / gradient is recorded below as a bound
// (docs/accuracy.md has the table and how it was measured): a regression beyond it fails.
//
// XG_EXTREME_DUMP=FILE writes every point (op dtype x [y] value grad [grad_y]) to FILE, for a
// comparison with PyTorch by hand; XG_EXTREME_TABLE=1 prints the measured worst errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "xgrad/autograd.hpp"

namespace {
using xg::Dtype;
using xg::Tensor;
using LD = long double;

constexpr LD kPi = 3.141592653589793238462643383279502884L;
constexpr LD kInf = std::numeric_limits<LD>::infinity();
constexpr LD kNaN = std::numeric_limits<LD>::quiet_NaN();

// The grid in the tested dtype (1e-40 and 1e-310 are the subnormals of float32 and float64).
template <class T>
std::vector<T> grid() {
  const T sub = sizeof(T) == 4 ? T(1e-40f) : T(1e-310);
  std::vector<T> v{T(0), -T(0), T(1e-30), T(-1e-30), sub, -sub};
  for (double a : {0.5, 1.0, 20.0, 88.8, 89.0, 710.0, 1e20}) {
    v.push_back(static_cast<T>(a));
    v.push_back(static_cast<T>(-a));
  }
  v.push_back(std::numeric_limits<T>::infinity());
  v.push_back(-std::numeric_limits<T>::infinity());
  v.push_back(std::numeric_limits<T>::quiet_NaN());
  return v;
}

// ---- long-double special functions that <cmath> lacks ----
LD digamma_ref(LD x) {
  if (std::isnan(x)) return x;
  if (x == 0) return std::signbit(x) ? kInf : -kInf;  // PyTorch: -inf at +0, +inf at -0
  if (x < 0) {
    if (x == std::floor(x)) return kNaN;
    if (x < -1e18L) return kNaN;  // every such value is an integer in the tested dtypes
    return digamma_ref(1 - x) - kPi / std::tan(kPi * x);
  }
  if (std::isinf(x)) return kInf;
  LD r = 0;
  while (x < 30) r -= 1 / x, x += 1;
  const LD f = 1 / (x * x);
  const LD t = f * (-1.0L / 12 + f * (1.0L / 120 + f * (-1.0L / 252 + f * (1.0L / 240 + f * (-1.0L / 132)))));
  return r + std::log(x) - 0.5L / x + t;
}
LD trigamma_ref(LD x) {
  if (std::isnan(x)) return x;
  if (x == -kInf) return kNaN;
  if (x <= 0 && x == std::floor(x)) return kInf;  // the poles (PyTorch 1.13: inf at 0)
  if (x < 0) {
    const LD s = std::sin(kPi * x);
    return -trigamma_ref(1 - x) + kPi * kPi / (s * s);
  }
  if (std::isinf(x)) return 0;
  LD r = 0;
  while (x < 30) r += 1 / (x * x), x += 1;
  const LD f = 1 / (x * x);
  return r + 1 / x + f / 2 + f / x * (1.0L / 6 + f * (-1.0L / 30 + f * (1.0L / 42 + f * (-1.0L / 30))));
}
LD erfinv_ref(LD y) {
  if (std::isnan(y) || y < -1 || y > 1) return kNaN;
  if (y == 1 || y == -1) return std::copysign(kInf, y);
  if (y == 0) return y;
  LD x = y * std::sqrt(kPi) / 2;  // the grid's values are within [-0.5, 0.5]: Newton converges
  for (int i = 0; i < 30; ++i) x -= (std::erf(x) - y) / (2 / std::sqrt(kPi) * std::exp(-x * x));
  return x;
}
LD sigmoid_ref(LD x) {
  return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
}
LD softplus_nothreshold(LD x) {
  return std::max(x, LD(0)) + std::log1p(std::exp(-std::fabs(x)));
}
LD softplus_ref(LD x) {  // PyTorch's threshold 20: linear above
  return x > 20 ? x : softplus_nothreshold(x);
}
LD logaddexp_ref(LD a, LD b) {
  if (std::isinf(a) && a == b) return a;
  return std::max(a, b) + std::log1p(std::exp(-std::fabs(a - b)));
}
LD remainder_ref(LD a, LD b) {
  const LD m = std::fmod(a, b);
  return m != 0 && ((b < 0) != (m < 0)) ? m + b : m;
}
constexpr LD kSeluAlpha = 1.6732632423543772848170429916717L, kSeluScale = 1.0507009873554804934193349852946L;

// ---- the error of one result in ulps of T ----
struct Err {
  double ulps = 0;   // finite error
  bool bad = false;  // wrong NaN, inf or zero sign
};
template <class T>
Err error_of(T got, LD ref, bool zero_sign) {
  if (std::isnan(ref)) return {0, !std::isnan(got)};
  if (std::isnan(got)) return {0, true};
  const T r = static_cast<T>(ref);  // the correctly rounded value (inf where ref overflows T)
  if (std::isinf(r)) return {0, got != r};
  if (std::isinf(got)) return {0, true};
  // The zero's sign is checked where the reference is an exact zero (sin(-0) = -0); a reference
  // that underflows may round to either zero.
  if (r == 0 && got == 0) return {0, zero_sign && ref == 0 && std::signbit(ref) != std::signbit(got)};
  T a = std::fabs(r), up = std::nextafter(a, std::numeric_limits<T>::infinity());
  const LD u = std::isinf(up) ? LD(a) - LD(std::nextafter(a, T(0))) : LD(up) - LD(a);
  return {static_cast<double>(std::fabs(LD(got) - ref) / u), false};
}

struct Worst {
  double v = 0, g = 0;
  int bad = 0;
  std::string first;             // the first bad point
  std::string worst_v, worst_g;  // where v and g were measured
};

FILE* dump_file() {
  static FILE* f = [] {
    const char* p = std::getenv("XG_EXTREME_DUMP");
    return p ? std::fopen(p, "w") : nullptr;
  }();
  return f;
}

template <class T>
std::vector<T> values_of(const Tensor& t) {
  return t.to_vector<T>();
}

template <class T>
void note(Worst& w, const Err& e, bool grad, const char* what, const std::string& at) {
  double& worst = grad ? w.g : w.v;
  if (e.ulps > worst) {
    worst = e.ulps;
    (grad ? w.worst_g : w.worst_v) = at;
  }
  if (e.bad && w.bad++ == 0) {
    w.first = what;
    w.first += " at ";
    w.first += at;
  }
}

std::string str(LD v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6Lg", v);
  return b;
}

struct Unary {
  const char* name;
  Tensor (*f)(const Tensor&);
  LD (*ref)(LD);
  LD (*dref)(LD);
  bool zero_sign = true;  // the value's zero sign is checked
};

template <class T>
Worst measure(const Unary& op) {
  const Dtype d = sizeof(T) == 4 ? Dtype::float32 : Dtype::float64;
  const std::vector<T> x = grid<T>();
  Tensor xt = xg::from_vector(x, {static_cast<int64_t>(x.size())}).to(d).requires_grad_(true);
  Tensor y = op.f(xt);
  std::vector<T> gv(x.size(), T(0));
  if (y.requires_grad()) {
    const Tensor g = xg::grad({y}, {xt}, {xg::ones_like(y)}, false, false, true)[0];
    if (g.defined()) gv = values_of<T>(g);
  }
  const std::vector<T> yv = values_of<T>(y.detach());
  Worst w;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const LD xi = x[i];
    note<T>(w, error_of(yv[i], op.ref(xi), op.zero_sign), false, "value", str(xi));
    note<T>(w, error_of(gv[i], op.dref(xi), false), true, "gradient", str(xi));
    if (FILE* f = dump_file())
      std::fprintf(f, "%s %s %.17Lg %.17Lg %.17Lg\n", op.name, sizeof(T) == 4 ? "f32" : "f64", xi, LD(yv[i]),
                   LD(gv[i]));
  }
  return w;
}

struct Binary {
  const char* name;
  Tensor (*f)(const Tensor&, const Tensor&);
  LD (*ref)(LD, LD);
  LD (*da)(LD, LD);
  LD (*db)(LD, LD);
  bool zero_sign = true;
};

template <class T>
Worst measure(const Binary& op) {
  const Dtype d = sizeof(T) == 4 ? Dtype::float32 : Dtype::float64;
  const std::vector<T> g1 = grid<T>();
  std::vector<T> a, b;
  for (T u : g1)
    for (T v : g1) a.push_back(u), b.push_back(v);
  const int64_t n = static_cast<int64_t>(a.size());
  Tensor at = xg::from_vector(a, {n}).to(d).requires_grad_(true);
  Tensor bt = xg::from_vector(b, {n}).to(d).requires_grad_(true);
  Tensor y = op.f(at, bt);
  const std::vector<Tensor> g = xg::grad({y}, {at, bt}, {xg::ones_like(y)}, false, false, true);
  std::vector<T> ga(a.size(), T(0)), gb(a.size(), T(0));
  if (g[0].defined()) ga = values_of<T>(g[0]);
  if (g[1].defined()) gb = values_of<T>(g[1]);
  const std::vector<T> yv = values_of<T>(y.detach());
  Worst w;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const LD ai = a[i], bi = b[i];
    std::string at_s = str(ai);  // (appended: GCC 12 warns on "(" + s)
    at_s += ", ";
    at_s += str(bi);
    note<T>(w, error_of(yv[i], op.ref(ai, bi), op.zero_sign), false, "value", at_s);
    note<T>(w, error_of(ga[i], op.da(ai, bi), false), true, "gradient a", at_s);
    note<T>(w, error_of(gb[i], op.db(ai, bi), false), true, "gradient b", at_s);
    if (FILE* f = dump_file())
      std::fprintf(f, "%s %s %.17Lg %.17Lg %.17Lg %.17Lg %.17Lg\n", op.name, sizeof(T) == 4 ? "f32" : "f64",
                   ai, bi, LD(yv[i]), LD(ga[i]), LD(gb[i]));
  }
  return w;
}

// The recorded worst errors (ulps, rounded up to two digits): value and gradient in float32, value
// and gradient in float64, and the points allowed to be wrong in NaN / inf / zero sign (each one
// explained in docs/accuracy.md, as the errors far above 1 ulp are).
struct Recorded {
  const char* name;
  double f32v, f32g, f64v, f64g;
  int bad32 = 0, bad64 = 0;
};
const Recorded kRecorded[] = {
    {"exp", 0.56, 0.56, 0.68, 0.68},
    {"expm1", 0.7, 0.56, 0.66, 0.68},
    {"exp2", 0.27, 0.61, 0.44, 0.45},
    {"log", 0.44, 0.43, 0.32, 0.49},
    {"log1p", 0.4, 0.5, 0.3, 0.43},
    {"log2", 0.32, 0.6, 0.34, 0.61},
    {"log10", 0.49, 0.73, 0.47, 1.3},
    {"sqrt", 0.4, 0.42, 0.45, 0.77},
    {"rsqrt", 0.42, 1.4, 0.77, 1.8},
    {"reciprocal", 0.43, 0.77, 0.49, 1.2},
    {"square", 0.24, 0, 0.43, 0},
    {"neg", 0, 0, 0, 0},
    {"abs", 0, 0, 0, 0},
    // float64 sin (and cos's gradient, -sin): 0.55 ulp with GCC, 0.98 with clang 14 (the sanitizer
    // build of CI): still faithfully rounded.
    {"sin", 0.61, 0.5, 1.0, 0.69},
    {"cos", 0.5, 0.61, 0.69, 1.0},
    {"tan", 0.47, 0.87, 0.41, 0.55},
    {"asin", 0.37, 0.18, 0.49, 0.7},
    {"acos", 0.37, 0.18, 0.49, 0.7},
    {"atan", 0.43, 7.2e+04, 0.5, 0.41},
    {"sinh", 0.98, 0.98, 0.72, 0.72},
    {"cosh", 0.98, 0.98, 0.72, 0.72},
    {"asinh", 0.72, 0.61, 0.5, 0.57},
    {"acosh", 0.72, 0.58, 0.45, 0.97},
    {"atanh", 0.17, 7.2e+04, 0.6, 0.35},
    {"tanh", 0.35, 1.1e+07, 0.4, 5.6e+15},
    {"sigmoid", 0.46, 9.3e+06, 0.67, 8.4e+15},
    {"logsigmoid", 0.51, 0.46, 0.55, 0.67},
    {"softplus", 0.51, 0.46, 0.55, 0.67},
    {"erf", 0.88, 0.86, 2.3, 0.33},
    {"erfc", 0.62, 0.86, 0.65, 0.33},
    {"erfinv", 0.16, 1.1, 0.24, 0.35},
    {"lgamma", 0.69, 0.36, 1.5, 2.5e+02},
    {"digamma", 0.36, 0.5, 2.5e+02, 1.3},
    {"relu", 0, 0, 0, 0},
    {"leaky_relu", 0.81, 0.25, 0.61, 0.13},
    {"elu", 0.23, 0.46, 0.38, 0.23},
    {"selu", 0.67, 0.72, 1.1, 1.1},
    {"celu", 0.28, 0.31, 0.12, 0.38},
    {"gelu", 2.2, 1.2, 5e+15, 1.6e+13},
    {"silu", 2.1, 1.8, 0.78, 6.8},
    {"mish", 2.1, 1.8, 0.82, 7.5},
    {"hardtanh", 0, 0, 0, 0},
    {"hardsigmoid", 0.67, 0.34, 0.67, 0.34},
    {"hardswish", 0.34, 0.67, 0.51, 0.67},
    {"softsign", 0.49, 7.2e+04, 0.49, 5e+15},
    {"tanhshrink", 2.2, 2, 3.2, 7.3e+15},
    {"logit", 0.039, 0.25, 0.17, 0.27},
    {"clamp", 0.21, 0, 0.41, 0},
    {"sign", 0, 0, 0, 0},
    {"floor", 0, 0, 0, 0},
    {"ceil", 0, 0, 0, 0},
    {"round", 0, 0, 0, 0},
    {"trunc", 0, 0, 0, 0},
    {"frac", 0, 0, 0, 0},
    {"add", 0.26, 0, 0.51, 0},
    {"sub", 0.26, 0, 0.51, 0},
    {"mul", 0.51, 0, 0.51, 0},
    {"div", 0.5, 0.73, 0.49, 1.3},
    {"pow", 0.43, 7.4, 0.49, 1.1, 8, 8},
    {"atan2", 0.93, 1.5, 0.5, 1.7},
    {"hypot", 0.5, 13, 0.5, 55},
    {"logaddexp", 1.2, 1.2, 1.6, 3.4e+02},
    {"xlogy", 0.9, 0.5, 0.88, 0.49},
    {"fmod", 0, 0.48, 0, 0.48},
    {"remainder", 0.26, 8.4e+06, 0.38, 4.6e+15},
    {"maximum", 0, 0, 0, 0},
    {"minimum", 0, 0, 0, 0},
};

// A recorded bound is the measured worst error rounded up; a measured error above it fails.
template <class Op>
void check_op(const Op& op) {
  const Worst w32 = measure<float>(op), w64 = measure<double>(op);
  const std::string name = op.name;
  INFO(name);
  if (std::getenv("XG_EXTREME_TABLE"))  // the measured table, for docs/accuracy.md
    std::printf("| %-12s | %8.3g | %8.3g | %8.3g | %8.3g | %s / %s ; %s / %s | bad %d %d\n", op.name, w32.v,
                w32.g, w64.v, w64.g, w32.worst_v.c_str(), w32.worst_g.c_str(), w64.worst_v.c_str(),
                w64.worst_g.c_str(), w32.bad, w64.bad);
  const Recorded* rec = nullptr;
  for (const Recorded& r : kRecorded)
    if (name == r.name) rec = &r;
  REQUIRE_MESSAGE(rec != nullptr, name << " has no recorded bound");
  CHECK_MESSAGE(w32.bad <= rec->bad32,
                name << " float32: " << w32.bad << " wrong NaN / inf / zero sign, first " << w32.first);
  CHECK_MESSAGE(w64.bad <= rec->bad64,
                name << " float64: " << w64.bad << " wrong NaN / inf / zero sign, first " << w64.first);
  CHECK(w32.v <= rec->f32v);
  CHECK(w32.g <= rec->f32g);
  CHECK(w64.v <= rec->f64v);
  CHECK(w64.g <= rec->f64g);
}

// Derivatives at kinks follow PyTorch: relu, leaky_relu, elu take the left side at 0 (x > 0 is
// the linear branch), hardtanh and the clamps have gradient 0 on their bounds, abs has 0 at 0.
LD zero(LD) {
  return 0;
}
LD one(LD) {
  return 1;
}

// (clang-format reads the reference macros below as declarations and writes "x* x")
// clang-format off
#define U(name, f, ref, dref) \
  { name, f, ref, dref }
#define W(call) [](const Tensor& x) { return call; }
#define R(expr) []([[maybe_unused]] LD x) -> LD { return expr; }
const Unary kUnary[] = {
    U("exp", xg::exp, R(std::exp(x)), R(std::exp(x))),
    U("expm1", xg::expm1, R(std::expm1(x)), R(std::exp(x))),
    U("exp2", xg::exp2, R(std::exp2(x)), R(std::exp2(x) * std::numbers::ln2_v<LD>)),
    U("log", xg::log, R(std::log(x)), R(1 / x)),
    U("log1p", xg::log1p, R(std::log1p(x)), R(1 / (1 + x))),
    U("log2", xg::log2, R(std::log2(x)), R(1 / (x * std::numbers::ln2_v<LD>))),
    U("log10", xg::log10, R(std::log10(x)), R(1 / (x * std::numbers::ln10_v<LD>))),
    U("sqrt", xg::sqrt, R(std::sqrt(x)), R(1 / (2 * std::sqrt(x)))),
    U("rsqrt", xg::rsqrt, R(1 / std::sqrt(x)), R(-0.5L / (std::sqrt(x) * std::sqrt(x) * std::sqrt(x)))),
    U("reciprocal", xg::reciprocal, R(1 / x), R(-1 / (x * x))),
    U("square", xg::square, R(x * x), R(2 * x)),
    U("neg", xg::neg, R(-x), R(-1)),
    U("abs", xg::abs, R(std::fabs(x)),
      R(x > 0   ? 1
        : x < 0 ? -1
                : 0)),
    U("sin", xg::sin, R(std::sin(x)), R(std::cos(x))),
    U("cos", xg::cos, R(std::cos(x)), R(-std::sin(x))),
    U("tan", xg::tan, R(std::tan(x)), R(1 + std::tan(x) * std::tan(x))),
    U("asin", xg::asin, R(std::asin(x)), R(1 / std::sqrt(1 - x * x))),
    U("acos", xg::acos, R(std::acos(x)), R(-1 / std::sqrt(1 - x * x))),
    U("atan", xg::atan, R(std::atan(x)), R(1 / (1 + x * x))),
    U("sinh", xg::sinh, R(std::sinh(x)), R(std::cosh(x))),
    U("cosh", xg::cosh, R(std::cosh(x)), R(std::sinh(x))),
    U("asinh", xg::asinh, R(std::asinh(x)), R(1 / std::sqrt(x * x + 1))),
    U("acosh", xg::acosh, R(std::acosh(x)), R(1 / std::sqrt(x * x - 1))),
    U("atanh", xg::atanh, R(std::atanh(x)), R(1 / (1 - x * x))),
    U("tanh", xg::tanh, R(std::tanh(x)), R(1 - std::tanh(x) * std::tanh(x))),
    U("sigmoid", xg::sigmoid, R(sigmoid_ref(x)), R(sigmoid_ref(x) * sigmoid_ref(-x))),
    U("logsigmoid", xg::logsigmoid, R(std::min(x, LD(0)) - std::log1p(std::exp(-std::fabs(x)))),
      R(sigmoid_ref(-x))),
    U("softplus", W(xg::softplus(x)), R(softplus_ref(x)), R(x > 20 ? 1 : sigmoid_ref(x))),
    U("erf", xg::erf, R(std::erf(x)), R(2 / std::sqrt(kPi) * std::exp(-x * x))),
    U("erfc", xg::erfc, R(std::erfc(x)), R(-2 / std::sqrt(kPi) * std::exp(-x * x))),
    U("erfinv", xg::erfinv, R(erfinv_ref(x)),
      R(std::sqrt(kPi) / 2 * std::exp(erfinv_ref(x) * erfinv_ref(x)))),
    U("lgamma", xg::lgamma, R(std::lgamma(x)), R(digamma_ref(x))),
    U("digamma", xg::digamma, R(digamma_ref(x)), R(trigamma_ref(x))),
    U("relu", xg::relu,
      R(x > 0    ? x
        : x <= 0 ? 0
                 : x),
      R(x <= 0 ? 0 : 1)),
    U("leaky_relu", W(xg::leaky_relu(x)), R(x > 0 ? x : 0.01L * x), R(x > 0 ? 1 : 0.01L)),
    U("elu", W(xg::elu(x)), R(x > 0 ? x : std::expm1(x)), R(x > 0 ? 1 : std::exp(x))),
    U("selu", xg::selu, R(kSeluScale * (x > 0 ? x : kSeluAlpha * std::expm1(x))),
      R(kSeluScale * (x > 0 ? 1 : kSeluAlpha * std::exp(x)))),
    U("celu", W(xg::celu(x, 0.5)), R(x > 0 ? x : 0.5L * std::expm1(x / 0.5L)),
      R(x > 0 ? 1 : std::exp(x / 0.5L))),
    U("gelu", xg::gelu, R(x / 2 * std::erfc(-x / std::sqrt(2.0L))),
      R(std::erfc(-x / std::sqrt(2.0L)) / 2 + x * std::exp(-x * x / 2) / std::sqrt(2 * kPi))),
    U("silu", xg::silu, R(x * sigmoid_ref(x)), R(sigmoid_ref(x) * (1 + x * sigmoid_ref(-x)))),
    U("mish", xg::mish, R(x * std::tanh(softplus_ref(x))),
      R(std::tanh(softplus_ref(x)) +
        x * sigmoid_ref(x) * (1 - std::tanh(softplus_ref(x)) * std::tanh(softplus_ref(x))))),
    U("hardtanh", W(xg::hardtanh(x)), R(x < -1 ? -1 : x > 1 ? 1 : x), R(x > -1 && x < 1 ? 1 : 0)),
    U("hardsigmoid", xg::hardsigmoid,
      R(x <= -3  ? 0
        : x >= 3 ? 1
                 : x / 6 + 0.5L),
      R(x > -3 && x < 3 ? 1.0L / 6 : 0)),
    U("hardswish", xg::hardswish,
      R(x <= -3  ? 0
        : x >= 3 ? x
                 : x * (x + 3) / 6),
      R(x > 3    ? 1
        : x < -3 ? 0
                 : x / 3 + 0.5L)),
    U("softsign", xg::softsign, R(x / (1 + std::fabs(x))),
      R(std::isinf(x) ? kNaN : 1 / ((1 + std::fabs(x)) * (1 + std::fabs(x))))),
    U("tanhshrink", xg::tanhshrink, R(x - std::tanh(x)), R(std::tanh(x) * std::tanh(x))),
    U("logit", W(xg::logit(x)), R(std::log(x / (1 - x))), R(x < 0 || x > 1 ? kNaN : 1 / (x * (1 - x)))),
    U("clamp", W(xg::clamp(x, -0.5, 0.7)), R(x < -0.5L ? -0.5L : x > 0.7L ? 0.7L : x),
      R(x >= -0.5L && x <= 0.7L ? 1 : 0)),
    U("sign", xg::sign,
      R(x > 0   ? 1
        : x < 0 ? -1
                : 0),
      zero),
    U("floor", xg::floor, R(std::floor(x)), zero),
    U("ceil", xg::ceil, R(std::ceil(x)), zero),
    U("round", xg::round, R(std::nearbyint(x)), zero),
    U("trunc", xg::trunc, R(std::trunc(x)), zero),
    U("frac", xg::frac, R(x - std::trunc(x)), one),
};
#undef U
#undef W
#undef R

#define B(name, f, ref, da, db, ...) \
  { name, f, ref, da, db __VA_OPT__(, ) __VA_ARGS__ }
#define R2(expr) []([[maybe_unused]] LD a, [[maybe_unused]] LD b) -> LD { return expr; }
const Binary kBinary[] = {
    B("add", xg::add, R2(a + b), R2(1), R2(1)),
    B("sub", xg::sub, R2(a - b), R2(1), R2(-1)),
    B("mul", xg::mul, R2(a * b), R2(b), R2(a)),
    B("div", xg::div, R2(a / b), R2(1 / b), R2(-a / (b * b))),
    B("pow", static_cast<Tensor (*)(const Tensor&, const Tensor&)>(xg::pow), R2(std::pow(a, b)),
      R2(b == 0 ? 0 : b * std::pow(a, b - 1)), R2(a == 0 && b >= 0 ? 0 : std::pow(a, b) * std::log(a))),
    B("atan2", xg::atan2, R2(std::atan2(a, b)), R2(b / (a * a + b * b)), R2(-a / (a * a + b * b))),
    B("hypot", xg::hypot, R2(std::hypot(a, b)), R2(a / std::hypot(a, b)), R2(b / std::hypot(a, b))),
    B("logaddexp", xg::logaddexp, R2(logaddexp_ref(a, b)), R2(1 / (1 + std::exp(b - a))),
      R2(1 / (1 + std::exp(a - b)))),
    B("xlogy", xg::xlogy,
      R2(std::isnan(b) ? b
         : a == 0      ? 0
                       : a * std::log(b)),
      R2(std::isnan(b) ? b
         : a == 0      ? 0
                       : std::log(b)),
      R2(a / b)),
    B("fmod", xg::fmod, R2(std::fmod(a, b)), R2(1), R2(-std::trunc(a / b))),
    B("remainder", xg::remainder, R2(remainder_ref(a, b)), R2(1), R2(-std::floor(a / b))),
    B("maximum", xg::maximum, R2(std::isnan(a) || std::isnan(b) ? a + b : std::max(a, b)),
      R2(a > b    ? 1
         : a == b ? 0.5L
         : a < b  ? 0
                  : 1),
      R2(b > a    ? 1
         : a == b ? 0.5L
         : a > b  ? 0
                  : 1),
      false),
    B("minimum", xg::minimum, R2(std::isnan(a) || std::isnan(b) ? a + b : std::min(a, b)),
      R2(a<b          ? 1
             : a == b ? 0.5L
                      : a>
                 b
             ? 0
             : 1),
      R2(b < a    ? 1
         : a == b ? 0.5L
         : a < b  ? 0
                  : 1),
      false),
};
#undef B
#undef R2
// clang-format on

}  // namespace

TEST_CASE("element-wise ops on extreme values stay within their recorded ulp bounds") {
  for (const Unary& op : kUnary) check_op(op);
  for (const Binary& op : kBinary) check_op(op);
}
