// Scans (cumsum, cumprod, logcumsumexp), rolls and repetitions, and sorting (sort, argsort,
// topk), with PyTorch 1.13's names and semantics. The scans are primitives whose backward is
// made of xgrad ops (a scan running the other way), so create_graph records it; roll, repeat,
// repeat_interleave, sort and topk are composites of index_select, expand and gather, whose
// backward (index_add, sum_to, scatter_add) is differentiable again.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::Domain;
using detail::sample_tensor;
using detail::visit_dtype;
using detail::visit_float;

namespace {

void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw ValueError(std::string(op) + ": the operand is undefined");
}

// A possibly negative dim of x, checked (a 0-d tensor accepts 0 and -1, as PyTorch).
int wrap_dim(int64_t dim, const Shape& s, const char* op) {
  const int64_t r = s.rank() == 0 ? 1 : s.rank();
  if (dim < -r || dim >= r)
    throw IndexError(std::string(op) + ": dim " + std::to_string(dim) + " is out of range for shape " +
                     s.str() + " (valid dims are " + std::to_string(-r) + " to " + std::to_string(r - 1) +
                     ")");
  return static_cast<int>(dim < 0 ? dim + r : dim);
}

// x seen as [outer, n, inner] around dim a: element (o, k, i) is at (o * n + k) * inner + i.
struct Lanes {
  int64_t outer = 1, n = 1, inner = 1;
};
Lanes lanes_of(const Shape& s, int a) {
  Lanes l;
  if (s.rank() == 0) return l;
  for (int d = 0; d < a; ++d) l.outer *= s[d];
  l.n = s[a];
  for (int d = a + 1; d < s.rank(); ++d) l.inner *= s[d];
  return l;
}

// out[k] = step(out[k -/+ 1], in[k]) along dim (forward, or from the end when reverse); rows of
// `inner` contiguous elements are combined at once, so the loop runs along memory.
template <class T, class F>
void scan_kernel(const T* in, T* out, const Lanes& l, bool reverse, F step) {
  const int64_t n = l.n, inner = l.inner;
  detail::parallel_for(l.outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n * inner)),
                       [&](int64_t lo, int64_t hi) {
                         for (int64_t o = lo; o < hi; ++o) {
                           const T* src = in + o * n * inner;
                           T* dst = out + o * n * inner;
                           if (inner == 1 && n > 0) {  // one lane: a plain running loop
                             const int64_t first = reverse ? n - 1 : 0, step_k = reverse ? -1 : 1;
                             T acc = src[first];
                             dst[first] = acc;
                             for (int64_t kk = 1, k = first + step_k; kk < n; ++kk, k += step_k)
                               dst[k] = acc = step(acc, src[k]);
                             continue;
                           }
                           for (int64_t kk = 0; kk < n; ++kk) {
                             const int64_t k = reverse ? n - 1 - kk : kk;
                             const T* row = src + k * inner;
                             T* orow = dst + k * inner;
                             if (kk == 0) {
                               std::copy(row, row + inner, orow);
                               continue;
                             }
                             const T* prev = dst + (reverse ? k + 1 : k - 1) * inner;
                             for (int64_t i = 0; i < inner; ++i) orow[i] = step(prev[i], row[i]);
                           }
                         }
                       });
}

// log(e^a + e^b) without overflow; -inf with -inf stays -inf, NaN propagates.
template <class T>
T log_add_exp(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
  const T m = std::max(a, b);
  if (std::isinf(m)) return m;  // both -inf, or one +inf
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

// The scans with a direction: a forward scan's gradient is the same scan run from the end.
Tensor cumsum_dir(const Tensor& x, int a, bool reverse);
Tensor logcumsumexp_dir(const Tensor& x, int a, bool reverse);

OpSample sample1(std::string label, Tensor x, std::function<Tensor(const Tensor&)> f, std::string torch) {
  return {std::move(label),
          {std::move(x)},
          [f](std::span<const Tensor> in) { return f(in[0]); },
          0,
          std::move(torch)};
}
Tensor f64(std::initializer_list<double> v, const Shape& s) {
  return tensor(v, s, {.dtype = Dtype::float64, .requires_grad = true});
}

}  // namespace

// ---- cumsum ----
XG_OP(cumsum, {.formula = "d/dx cumsum(x) = the gradient summed from the end (a reversed cumsum)",
               .kind = OpKind::primitive,
               .samples =
                   [] {
                     return std::vector<OpSample>{
                         sample1(
                             "[5] dim 0", sample_tensor({5}, Domain::real, 1),
                             [](auto& x) { return cumsum(x, 0); }, "OP(x0, 0)"),
                         sample1(
                             "[3, 4] dim 1", sample_tensor({3, 4}, Domain::real, 2),
                             [](auto& x) { return cumsum(x, 1); }, "OP(x0, 1)"),
                         sample1(
                             "[2, 3, 2] dim -2", sample_tensor({2, 3, 2}, Domain::real, 3),
                             [](auto& x) { return cumsum(x, -2); }, "OP(x0, -2)"),
                         sample1(
                             "[2, 3, 2] dim 0", sample_tensor({2, 3, 2}, Domain::real, 4),
                             [](auto& x) { return cumsum(x, 0); }, "OP(x0, 0)"),
                         sample1(
                             "scalar dim -1", sample_tensor({}, Domain::real, 5),
                             [](auto& x) { return cumsum(x, -1); }, "OP(x0, -1)"),
                         sample1(
                             "empty [0, 3] dim 0", sample_tensor({0, 3}, Domain::real, 6),
                             [](auto& x) { return cumsum(x, 0); }, "OP(x0, 0)"),
                     };
                   },
               .torch = "torch.cumsum"});
namespace {
Tensor cumsum_dir(const Tensor& x, int a, bool reverse) {
  const Lanes l = lanes_of(x.shape(), a);
  Tensor y = detail::new_tensor(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    scan_kernel(x.data<T>(), y.data<T>(), l, reverse, [](T acc, T v) { return detail::add_wrap(acc, v); });
  });
  return record(
      opdefs::cumsum_op, y, {x},
      [a, reverse](const Node&, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = cumsum_dir(g, a, !reverse);
      },
      [&](std::span<const Tensor> t) { return cumsum_dir(t[0], a, reverse); });
}
}  // namespace
Tensor cumsum(const Tensor& x, int64_t dim) {
  check_defined(x, "cumsum");
  return cumsum_dir(x, wrap_dim(dim, x.shape(), "cumsum"), false);
}

// ---- cumprod ----
namespace {
// Per lane along dim a, the first zero z of x (n when there is none): masks of x's dtype that
// are 1 where k < z (before) and where k == z (at); `any` tells whether some lane has a zero.
struct FirstZero {
  Tensor before, at;
  bool any = false;
};
FirstZero first_zero(const Tensor& x, int a) {
  const Lanes l = lanes_of(x.shape(), a);
  FirstZero f{zeros(x.shape(), {.dtype = x.dtype()}), zeros(x.shape(), {.dtype = x.dtype()})};
  visit_float(x.dtype(), "cumprod", [&]<class T>() {
    const T* xv = x.data<T>();
    T *bv = f.before.data<T>(), *av = f.at.data<T>();
    for (int64_t o = 0; o < l.outer; ++o)
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t base = o * l.n * l.inner + i;
        for (int64_t k = 0; k < l.n; ++k) {
          const int64_t p = base + k * l.inner;
          if (xv[p] == T(0)) {
            av[p] = T(1);
            f.any = true;
            break;
          }
          bv[p] = T(1);
        }
      }
  });
  return f;
}

// The gradient of y = cumprod(x) for upstream g, as xgrad ops (create_graph), exact with zeros:
// grad_k = sum_{j >= k} g_j prod_{i <= j, i != k} x_i. With z a lane's first zero:
//   k < z: (sum_{j >= k} g_j y_j) / x_k                     (x_k != 0 there)
//   k = z: the same gradient of cumprod(x1), x1 = x with x_z replaced by 1
//   k > z: x_z times that gradient of cumprod(x1)           (every product holds x_z once)
// Each piece is an identity in a neighbourhood of x, so its own derivatives are right too;
// x1 has one zero less per lane, so the recursion ends.
Tensor cumprod_grad_graph(const Tensor& x, const Tensor& y, const Tensor& g, int a) {
  FirstZero fz;
  {
    NoGradGuard no_grad;
    fz = first_zero(x, a);
  }
  const Tensor weighted = cumsum_dir(g * y, a, true);
  if (!fz.any) return weighted / x;
  const Tensor one = scalar_tensor(1.0, {.dtype = x.dtype()});
  const Tensor before_part = weighted / where(fz.before, x, one);  // 1 where x_k may be 0: unused
  const Tensor x1 = where(fz.at, one, x);
  const Tensor rest = cumprod_grad_graph(x1, cumprod(x1, a), g, a);
  const Tensor x_at_zero = sum(where(fz.at, x, scalar_tensor(0.0, {.dtype = x.dtype()})), {a}, true);
  return where(fz.before, before_part, rest * where(fz.at, one, x_at_zero));
}

// The same gradient as one O(n) loop per lane, for a first-order backward.
Tensor cumprod_grad_kernel(const Tensor& x, const Tensor& y, const Tensor& g0, int a) {
  const Tensor g = g0.to(x.dtype());
  const Lanes l = lanes_of(x.shape(), a);
  Tensor gx = detail::new_tensor(x.shape(), x.dtype());
  visit_float(x.dtype(), "cumprod", [&]<class T>() {
    const T *xv = x.data<T>(), *yv = y.data<T>(), *gv = g.data<T>();
    T* out = gx.data<T>();
    const int64_t n = l.n, st = l.inner;
    for (int64_t o = 0; o < l.outer; ++o)
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t base = o * n * st + i;
        auto at = [&](int64_t k) { return base + k * st; };
        int64_t z = n;
        for (int64_t k = 0; k < n; ++k)
          if (xv[at(k)] == T(0)) {
            z = k;
            break;
          }
        T acc = 0;
        for (int64_t k = n - 1; k >= 0; --k) {
          acc += gv[at(k)] * yv[at(k)];
          if (k < z) out[at(k)] = acc / xv[at(k)];
        }
        if (z == n) continue;
        // grad_z = sum_{j >= z} g_j (prod_{i < z} x_i) (prod_{z < i <= j} x_i); after z: 0.
        T run = z > 0 ? yv[at(z - 1)] : T(1), sum = 0;
        for (int64_t j = z; j < n; ++j) {
          if (j > z) run *= xv[at(j)];
          sum += gv[at(j)] * run;
        }
        out[at(z)] = sum;
        for (int64_t k = z + 1; k < n; ++k) out[at(k)] = T(0);
      }
  });
  return gx;
}
}  // namespace

XG_OP(cumprod,
      {.formula = "d/dx_k cumprod(x)_j = prod_{i <= j, i != k} x_i (exact with zeros; no division there)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             return std::vector<OpSample>{
                 sample1(
                     "[5] dim 0", sample_tensor({5}, Domain::nonzero, 1),
                     [](auto& x) { return cumprod(x, 0); }, "OP(x0, 0)"),
                 sample1(
                     "[3, 4] dim -1", sample_tensor({3, 4}, Domain::nonzero, 2),
                     [](auto& x) { return cumprod(x, -1); }, "OP(x0, -1)"),
                 sample1(
                     "[2, 3, 2] dim 1", sample_tensor({2, 3, 2}, Domain::nonzero, 3),
                     [](auto& x) { return cumprod(x, 1); }, "OP(x0, 1)"),
                 sample1(
                     "[5] one zero", f64({1.5, -0.8, 0.0, 1.2, -0.7}, {5}),
                     [](auto& x) { return cumprod(x, 0); }, "OP(x0, 0)"),
                 sample1(
                     "[6] zeros in a row", f64({0.9, 0.0, 0.0, 1.3, 0.0, -1.1}, {6}),
                     [](auto& x) { return cumprod(x, 0); }, "OP(x0, 0)"),
                 sample1(
                     "[3, 3] leading zeros, dim 0",
                     f64({0.0, 1.2, -0.5, 0.7, 0.0, 1.4, -1.3, 0.8, 0.0}, {3, 3}),
                     [](auto& x) { return cumprod(x, 0); }, "OP(x0, 0)"),
                 sample1(
                     "[2, 4] zeros in some lanes, dim -1",
                     f64({1.1, 0.0, -0.6, 1.9, 0.5, -1.2, 0.8, 1.3}, {2, 4}),
                     [](auto& x) { return cumprod(x, -1); }, "OP(x0, -1)"),
                 sample1(
                     "scalar dim 0", sample_tensor({}, Domain::nonzero, 4),
                     [](auto& x) { return cumprod(x, 0); }, "OP(x0, 0)"),
                 sample1(
                     "empty [0, 3] dim 0", sample_tensor({0, 3}, Domain::nonzero, 5),
                     [](auto& x) { return cumprod(x, 0); }, "OP(x0, 0)"),
             };
           },
       .torch = "torch.cumprod"});
Tensor cumprod(const Tensor& x, int64_t dim) {
  check_defined(x, "cumprod");
  const int a = wrap_dim(dim, x.shape(), "cumprod");
  Tensor y = detail::new_tensor(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    scan_kernel(x.data<T>(), y.data<T>(), lanes_of(x.shape(), a), false,
                [](T acc, T v) { return detail::mul_wrap(acc, v); });
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::cumprod_op, y, {x},
      [sx = save_input(x), sy = save_output(y), a](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
        const Tensor x = sx.unpack(nd), y = sy.unpack(nd);
        // A 0-d x: the identity, gradient g also at NaN, as PyTorch (the general formulas divide
        // by x)
        if (x.dim() == 0) return void(gx[0] = g);
        gx[0] = GradMode::is_enabled() ? cumprod_grad_graph(x, y, g, a) : cumprod_grad_kernel(x, y, g, a);
      },
      [&](std::span<const Tensor> t) {
        if (x.dim() == 0) return t[0];
        bool has_zero;
        {
          NoGradGuard guard;
          has_zero = x.numel() > 0 && sum(eq(x, 0.0)).item() > 0;
        }
        if (has_zero) {
          // y_k' = sum_{i <= k} t_i prod_{j <= k, j != i} x_j with no division: cumprod is linear
          // in each x_i, so term i is cumprod(x, x_i -> t_i) - cumprod(x, x_i -> 0). One pass
          // per position along the axis, only when x has zeros.
          const int64_t n = x.shape()[a];
          Shape ms = x.shape();
          for (int d = 0; d < ms.rank(); ++d) ms[d] = d == a ? n : 1;
          const Tensor pos = reshape(arange(static_cast<double>(n), {.dtype = x.dtype()}), ms);
          const Tensor zero = scalar_tensor(0.0, {.dtype = x.dtype()});
          Tensor r = zeros_like(y);
          for (int64_t i = 0; i < n; ++i) {
            const Tensor m = eq(pos, static_cast<double>(i));
            r = r + (cumprod(where(m, t[0], x), a) - cumprod(where(m, zero, x), a));
          }
          return r;
        }
        return y * cumsum(t[0] / x, a);  // y_k sum_{i <= k} t_i / x_i
      });
}

// ---- logcumsumexp ----
XG_OP(logcumsumexp,
      {.formula = "d/dx_i logcumsumexp(x)_k = exp(x_i - y_k) for i <= k (summed stably, by the sign of the "
                  "gradient, as a reversed logcumsumexp)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             const double inf = std::numeric_limits<double>::infinity();
             return std::vector<OpSample>{
                 sample1(
                     "[5] dim 0", sample_tensor({5}, Domain::real, 1),
                     [](auto& x) { return logcumsumexp(x, 0); }, "OP(x0, 0)"),
                 sample1(
                     "[3, 4] dim -1", sample_tensor({3, 4}, Domain::real, 2),
                     [](auto& x) { return logcumsumexp(x, -1); }, "OP(x0, -1)"),
                 sample1(
                     "[2, 3, 2] dim 1", sample_tensor({2, 3, 2}, Domain::real, 3),
                     [](auto& x) { return logcumsumexp(x, 1); }, "OP(x0, 1)"),
                 sample1(
                     "[4] large values", f64({300.0, 301.5, -200.0, 302.0}, {4}),
                     [](auto& x) { return logcumsumexp(x, 0); }, "OP(x0, 0)"),
                 sample1(
                     "[4] -inf after a finite value", f64({0.3, -inf, 1.2, -0.5}, {4}),
                     [](auto& x) { return logcumsumexp(x, 0); }, "OP(x0, 0)"),
                 sample1(
                     "scalar dim -1", sample_tensor({}, Domain::real, 4),
                     [](auto& x) { return logcumsumexp(x, -1); }, "OP(x0, -1)"),
                 sample1(
                     "empty [0, 3] dim 0", sample_tensor({0, 3}, Domain::real, 5),
                     [](auto& x) { return logcumsumexp(x, 0); }, "OP(x0, 0)"),
             };
           },
       .torch = "torch.logcumsumexp"});
namespace {
// log |g| where g > 0 (positive) or g < 0 (negative), NaN where g is NaN, and elsewhere the
// lowest finite value: a weight of 0 that, unlike -inf, keeps this formula's own derivatives
// finite (-inf - -inf would be NaN). The inner where keeps log's gradient finite where unused.
Tensor log_of_part(const Tensor& g, bool positive) {
  const Tensor mask = positive ? eq(le(g, 0.0), 0.0) : eq(ge(g, 0.0), 0.0);  // NaN is in both
  const double lowest = g.dtype() == Dtype::float32 ? std::numeric_limits<float>::lowest()
                                                    : std::numeric_limits<double>::lowest();
  return where(mask, log(where(mask, positive ? g : -g, scalar_tensor(1.0, {.dtype = g.dtype()}))),
               scalar_tensor(lowest, {.dtype = g.dtype()}));
}
Tensor logcumsumexp_dir(const Tensor& x, int a, bool reverse) {
  Tensor y = detail::new_tensor(x.shape(), x.dtype());
  visit_float(x.dtype(), "logcumsumexp", [&]<class T>() {
    scan_kernel(x.data<T>(), y.data<T>(), lanes_of(x.shape(), a), reverse, log_add_exp<T>);
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::logcumsumexp_op, y, {x},
      [sx = save_input(x), sy = save_output(y), a, reverse](const Node& nd, const Tensor& g0,
                                                            std::span<Tensor> gx) {
        // grad_i = sum_{k >= i} g_k exp(x_i - y_k): positive and negative parts of g
        // each summed in log space, so nothing overflows.
        const Tensor x = sx.unpack(nd), y = sy.unpack(nd), g = g0.to(x.dtype());
        // a 0-d x: the identity, gradient g also at NaN, as PyTorch (exp(x - y) is NaN)
        if (x.dim() == 0) return void(gx[0] = g);
        const Tensor pos = logcumsumexp_dir(log_of_part(g, true) - y, a, !reverse);
        const Tensor neg = logcumsumexp_dir(log_of_part(g, false) - y, a, !reverse);
        gx[0] = exp(x + pos) - exp(x + neg);
      },
      [&](std::span<const Tensor> t) {
        // sum_{i <= k} t_i exp(x_i - y_k), shifted by the lane's max c (a constant) against overflow
        if (x.dim() == 0) return t[0];
        if (x.numel() == 0) return Tensor();
        Tensor c;
        {
          NoGradGuard guard;
          c = max(x.detach(), {a}, true);
          c = where(eq(c, -INFINITY), zeros_like(c), c);
        }
        return cumsum_dir(t[0] * exp(x - c), a, reverse) * exp(c - y);
      });
}
}  // namespace
Tensor logcumsumexp(const Tensor& x, int64_t dim) {
  check_defined(x, "logcumsumexp");
  return logcumsumexp_dir(x, wrap_dim(dim, x.shape(), "logcumsumexp"), false);
}

// ---- roll ----
namespace {
// x rolled by `shift` along dim a: y[k] = x[(k - shift) mod n], one index_select.
Tensor roll_one(const Tensor& x, int64_t shift, int a) {
  const int64_t n = x.shape()[a];
  if (n == 0) return x;
  const int64_t s = ((shift % n) + n) % n;
  if (s == 0) return x;
  std::vector<int64_t> idx(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) idx[k] = (k - s + n) % n;
  return index_select(x, a, from_vector(idx, {n}));
}
}  // namespace
XG_OP(roll, {.formula = "roll(x) = index_select with a rotated index on each dim (composite)",
             .kind = OpKind::composite,
             .samples =
                 [] {
                   return std::vector<OpSample>{
                       sample1(
                           "[5] shift 2", sample_tensor({5}, Domain::real, 1),
                           [](auto& x) { return roll(x, {2}, {0}); }, "OP(x0, 2, 0)"),
                       sample1(
                           "[3, 4] shifts (1, -3) dims (0, -1)", sample_tensor({3, 4}, Domain::real, 2),
                           [](auto& x) {
                             return roll(x, {1, -3}, {0, -1});
                           },
                           "OP(x0, shifts=(1, -3), dims=(0, -1))"),
                       sample1(
                           "[2, 3, 2] flattened, shift -7", sample_tensor({2, 3, 2}, Domain::real, 3),
                           [](auto& x) { return roll(x, {-7}); }, "OP(x0, -7)"),
                       sample1(
                           "[2, 3, 2] dim 1 twice", sample_tensor({2, 3, 2}, Domain::real, 4),
                           [](auto& x) {
                             return roll(x, {1, 4}, {1, 1});
                           },
                           "OP(x0, shifts=(1, 4), dims=(1, 1))"),
                       sample1(
                           "empty [0, 3] dim 1", sample_tensor({0, 3}, Domain::real, 5),
                           [](auto& x) { return roll(x, {1}, {1}); }, "OP(x0, 1, 1)"),
                   };
                 },
             .torch = "torch.roll"});
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const Axes& dims) {
  XG_COMPOSITE_SCOPE(roll);
  check_defined(x, "roll");
  if (dims.empty()) {
    if (shifts.size() != 1)
      throw ShapeError("roll: " + std::to_string(shifts.size()) + " shifts given without dims for shape " +
                       x.shape().str() + " (a flattened roll takes one shift)");
    const Tensor flat = flatten(x), y = roll_one(flat, shifts[0], 0);
    return y.get() == flat.get() ? x.clone() : reshape(y, x.shape());
  }
  if (shifts.size() != dims.size())
    throw ShapeError("roll: " + std::to_string(shifts.size()) + " shifts and " + std::to_string(dims.size()) +
                     " dims given for shape " + x.shape().str() + " (they must pair up)");
  if (x.dim() == 0)
    throw IndexError("roll: dim " + std::to_string(dims[0]) + " given for a 0-d tensor (shape [])");
  Tensor y = x;
  for (std::size_t k = 0; k < dims.size(); ++k)
    y = roll_one(y, shifts[k], wrap_dim(dims[k], x.shape(), "roll"));
  // A roll by whole turns is still a copy, as PyTorch's.
  return y.get() == x.get() ? x.clone() : y;
}

// ---- repeat ----
XG_OP(repeat, {.formula = "repeat(x) = x expanded along new axes and reshaped (composite; grad sums back)",
               .kind = OpKind::composite,
               .samples =
                   [] {
                     return std::vector<OpSample>{
                         sample1(
                             "[3] x (2)", sample_tensor({3}, Domain::real, 1),
                             [](auto& x) { return repeat(x, {2}); }, "OP(x0, 2)"),
                         sample1(
                             "[2, 3] x (2, 1, 3): a new leading dim", sample_tensor({2, 3}, Domain::real, 2),
                             [](auto& x) {
                               return repeat(x, {2, 1, 3});
                             },
                             "OP(x0, 2, 1, 3)"),
                         sample1(
                             "[2, 1, 2] x (1, 3, 2)", sample_tensor({2, 1, 2}, Domain::real, 3),
                             [](auto& x) {
                               return repeat(x, {1, 3, 2});
                             },
                             "OP(x0, 1, 3, 2)"),
                         sample1(
                             "scalar x (2, 3)", sample_tensor({}, Domain::real, 4),
                             [](auto& x) {
                               return repeat(x, {2, 3});
                             },
                             "OP(x0, 2, 3)"),
                         sample1(
                             "[2, 3] x (0, 2): empty", sample_tensor({2, 3}, Domain::real, 5),
                             [](auto& x) {
                               return repeat(x, {0, 2});
                             },
                             "OP(x0, 0, 2)"),
                     };
                   },
               .torch = "torch.Tensor.repeat"});
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  XG_COMPOSITE_SCOPE(repeat);
  check_defined(x, "repeat");
  const int r = static_cast<int>(repeats.size());
  auto reps_str = [&] {
    std::string s = "[";
    for (int i = 0; i < r; ++i) s += (i ? ", " : "") + std::to_string(repeats[i]);
    return s + "]";
  };
  if (r < x.dim())
    throw ShapeError("repeat: " + std::to_string(r) + " repeats " + reps_str() + " for shape " +
                     x.shape().str() + " (need at least one per dim, " + std::to_string(x.dim()) + ")");
  if (r > kMaxRank)
    throw ShapeError("repeat: " + std::to_string(r) + " repeats " + reps_str() + " exceed " +
                     std::to_string(kMaxRank) + " dims");
  for (int i = 0; i < r; ++i)
    if (repeats[i] < 0)
      throw ValueError("repeat: negative repeat " + std::to_string(repeats[i]) + " for dim " +
                       std::to_string(i) + " in " + reps_str() + " (shape " + x.shape().str() + ")");
  // Leading 1s for the new dims, then each repeated dim d becomes [before, r_d, s_d, after]
  // expanded from [before, 1, s_d, after] and merged to r_d * s_d.
  Shape cur;
  for (int i = 0; i < r - x.dim(); ++i) cur.push_back(1);
  for (int64_t s : x.shape()) cur.push_back(s);
  Tensor y = reshape(x, cur);
  bool copied = false;  // by an expand; otherwise y is still a view of x
  for (int d = 0; d < r; ++d) {
    if (repeats[d] == 1) continue;
    copied = true;
    int64_t before = 1, after = 1;
    for (int i = 0; i < d; ++i) before *= cur[i];
    for (int i = d + 1; i < r; ++i) after *= cur[i];
    y = expand(reshape(y, {before, 1, cur[d], after}), {before, repeats[d], cur[d], after});
    int64_t merged;
    if (__builtin_mul_overflow(repeats[d], cur[d], &merged))
      throw ShapeError("repeat: repeating dim " + std::to_string(d) + " of " + x.shape().str() + " " +
                       std::to_string(repeats[d]) + " times overflows its extent");
    cur[d] = merged;
    y = reshape(y, cur);
  }
  return copied ? y : y.clone();  // a copy, as PyTorch's, even when nothing repeats
}

// ---- repeat_interleave ----
namespace {
// index_select with each position k of dim a repeated counts[k] times.
Tensor interleave(const Tensor& x, int a, const std::vector<int64_t>& counts) {
  std::vector<int64_t> idx;
  for (std::size_t k = 0; k < counts.size(); ++k)
    idx.insert(idx.end(), static_cast<std::size_t>(counts[k]), static_cast<int64_t>(k));
  const auto m = static_cast<int64_t>(idx.size());
  return index_select(x, a, from_vector(idx, {m}));
}
// The input and dim repeat_interleave works on: the flattened input when dim is absent.
std::pair<Tensor, int> interleave_target(const Tensor& x, std::optional<int64_t> dim) {
  check_defined(x, "repeat_interleave");
  if (!dim) return {flatten(x), 0};
  if (x.dim() == 0)
    throw IndexError("repeat_interleave: dim " + std::to_string(*dim) +
                     " given for a 0-d tensor (shape []); leave dim out to repeat its one element");
  return {x, wrap_dim(*dim, x.shape(), "repeat_interleave")};
}
}  // namespace
XG_OP(
    repeat_interleave,
    {.formula = "repeat_interleave(x) = index_select with each index repeated (composite; grad is index_add)",
     .kind = OpKind::composite,
     .samples =
         [] {
           Tensor reps = from_vector(std::vector<int64_t>{1, 0, 2}, {3});
           Tensor one = from_vector(std::vector<int64_t>{2}, {1});
           return std::vector<OpSample>{
               sample1(
                   "[2, 3] flattened, 2", sample_tensor({2, 3}, Domain::real, 1),
                   [](auto& x) { return repeat_interleave(x, 2); }, "OP(x0, 2)"),
               sample1(
                   "[2, 3] 3 along dim -1", sample_tensor({2, 3}, Domain::real, 2),
                   [](auto& x) { return repeat_interleave(x, 3, -1); }, "OP(x0, 3, dim=-1)"),
               sample1(
                   "[5] 2 along dim 0", sample_tensor({5}, Domain::real, 3),
                   [](auto& x) { return repeat_interleave(x, 2, 0); }, "OP(x0, 2, dim=0)"),
               sample1(
                   "[3, 2, 2] tensor (1, 0, 2) along dim 0", sample_tensor({3, 2, 2}, Domain::real, 4),
                   [reps](auto& x) { return repeat_interleave(x, reps, 0); },
                   "OP(x0, torch.tensor([1, 0, 2]), dim=0)"),
               sample1(
                   "[2, 3] tensor (2) along dim 1", sample_tensor({2, 3}, Domain::real, 5),
                   [one](auto& x) { return repeat_interleave(x, one, 1); },
                   "OP(x0, torch.tensor([2]), dim=1)"),
               sample1(
                   "scalar, 3", sample_tensor({}, Domain::real, 6),
                   [](auto& x) { return repeat_interleave(x, 3); }, "OP(x0, 3)"),
               sample1(
                   "empty [0, 2] 2 along dim 0", sample_tensor({0, 2}, Domain::real, 7),
                   [](auto& x) { return repeat_interleave(x, 2, 0); }, "OP(x0, 2, dim=0)"),
           };
         },
     .torch = "torch.repeat_interleave"});
Tensor repeat_interleave(const Tensor& x0, int64_t repeats, std::optional<int64_t> dim) {
  XG_COMPOSITE_SCOPE(repeat_interleave);
  auto [x, a] = interleave_target(x0, dim);
  if (repeats < 0)
    throw ValueError("repeat_interleave: repeats must be non-negative, got " + std::to_string(repeats) +
                     " (shape " + x0.shape().str() + ")");
  return interleave(x, a, std::vector<int64_t>(static_cast<std::size_t>(x.shape()[a]), repeats));
}
Tensor repeat_interleave(const Tensor& x0, const Tensor& repeats, std::optional<int64_t> dim) {
  XG_COMPOSITE_SCOPE(repeat_interleave);
  auto [x, a] = interleave_target(x0, dim);
  check_defined(repeats, "repeat_interleave");
  if (repeats.dtype() != Dtype::int64)
    throw TypeError(std::string("repeat_interleave: repeats must be an int64 tensor, got ") +
                    dtype_name(repeats.dtype()));
  if (repeats.dim() > 1)
    throw ShapeError("repeat_interleave: repeats must be 0-d or 1-D, got shape " + repeats.shape().str());
  const int64_t n = x.shape()[a];
  if (repeats.numel() != 1 && repeats.numel() != n)
    throw ShapeError("repeat_interleave: repeats has shape " + repeats.shape().str() + " but dim " +
                     std::to_string(a) + " of shape " + x.shape().str() + " has size " + std::to_string(n) +
                     " (give one count per element, or one for all)");
  const int64_t* r = repeats.data<int64_t>();
  std::vector<int64_t> counts(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    counts[k] = r[repeats.numel() == 1 ? 0 : k];
    if (counts[k] < 0)
      throw ValueError("repeat_interleave: repeats must be non-negative, got " + std::to_string(counts[k]) +
                       " for index " + std::to_string(k) + " of dim " + std::to_string(a) + " (shape " +
                       x.shape().str() + ")");
  }
  return interleave(x, a, counts);
}

// ---- sort, argsort, topk ----
namespace {
// The positions of the first k elements of each lane along dim a in sorted order (ascending, or
// descending), as an int64 tensor of x's shape with extent k along a. NaN is the largest value;
// ties keep their input order (the index breaks them), so the result is what a stable sort gives.
Tensor sorted_positions(const Tensor& x, int a, bool descending, int64_t k) {
  const Lanes l = lanes_of(x.shape(), a);
  Shape os = x.shape();
  if (os.rank() > 0) os[a] = k;
  Tensor idx = detail::new_tensor(os, Dtype::int64);
  int64_t* out = idx.data<int64_t>();
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* xv = x.data<T>();
    auto lt = [](T u, T v) {
      if constexpr (std::is_floating_point_v<T>)
        return !std::isnan(u) && (std::isnan(v) || u < v);
      else
        return u < v;
    };
    const int64_t lanes = l.outer * l.inner;
    detail::parallel_for(
        lanes, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, l.n)), [&](int64_t lo, int64_t hi) {
          std::vector<T> vals(static_cast<std::size_t>(l.n));
          std::vector<int64_t> perm(static_cast<std::size_t>(l.n));
          for (int64_t lane = lo; lane < hi; ++lane) {
            const int64_t o = lane / l.inner, i = lane % l.inner;
            for (int64_t j = 0; j < l.n; ++j) vals[j] = xv[(o * l.n + j) * l.inner + i];
            std::iota(perm.begin(), perm.end(), int64_t{0});
            auto before = [&](int64_t p, int64_t q) {
              const T u = vals[p], v = vals[q];
              const bool first = descending ? lt(v, u) : lt(u, v), second = descending ? lt(u, v) : lt(v, u);
              return first || (!second && p < q);
            };
            if (k == l.n)
              std::sort(perm.begin(), perm.end(), before);
            else
              std::partial_sort(perm.begin(), perm.begin() + k, perm.end(), before);
            for (int64_t j = 0; j < k; ++j) out[(o * k + j) * l.inner + i] = perm[j];
          }
        });
  });
  return idx;
}
// values = gather(x, dim, indices): its gradient scatters back through the indices.
std::pair<Tensor, Tensor> take_sorted(const Tensor& x, int a, bool descending, int64_t k) {
  if (x.dim() == 0) {  // as a one-element vector, then back (topk with k 0 too, as PyTorch)
    auto [v, i] = take_sorted(reshape(x, {1}), 0, descending, 1);
    return {reshape(v, {}), reshape(i, {})};
  }
  Tensor idx = sorted_positions(x, a, descending, k);
  return {gather(x, a, idx), idx};
}
}  // namespace

XG_OP(sort,
      {.formula = "sort(x) = gather(x, dim, indices) (composite; grad scatters back through them)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 sample1(
                     "[5]", sample_tensor({5}, Domain::real, 1), [](auto& x) { return sort(x).first; },
                     "OP(x0).values"),
                 sample1(
                     "[3, 4] dim 0 descending", sample_tensor({3, 4}, Domain::real, 2),
                     [](auto& x) { return sort(x, 0, true).first; }, "OP(x0, dim=0, descending=True).values"),
                 sample1(
                     "[2, 3, 2] dim -2", sample_tensor({2, 3, 2}, Domain::real, 3),
                     [](auto& x) { return sort(x, -2).first; }, "OP(x0, dim=-2).values"),
                 sample1(
                     "[2, 4] stable", sample_tensor({2, 4}, Domain::real, 4),
                     [](auto& x) { return sort(x, -1, false, true).first; },
                     "OP(x0, dim=-1, stable=True).values"),
                 sample1(
                     "scalar", sample_tensor({}, Domain::real, 5), [](auto& x) { return sort(x).first; },
                     "OP(x0).values"),
                 sample1(
                     "empty [0, 3] dim 0", sample_tensor({0, 3}, Domain::real, 6),
                     [](auto& x) { return sort(x, 0).first; }, "OP(x0, dim=0).values"),
             };
           },
       .torch = "torch.sort"});
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending, bool /*stable: always*/) {
  XG_COMPOSITE_SCOPE(sort);
  check_defined(x, "sort");
  const int a = wrap_dim(dim, x.shape(), "sort");
  return take_sorted(x, a, descending, x.dim() ? x.shape()[a] : 1);
}

XG_OP(argsort, {.formula = "indices carry no gradient",
                .kind = OpKind::non_differentiable,
                .samples =
                    [] {
                      return std::vector<OpSample>{
                          sample1(
                              "[5]", sample_tensor({5}, Domain::real, 1).detach(),
                              [](auto& x) { return argsort(x); }, "OP(x0)"),
                          sample1(
                              "[3, 4] dim 0 descending", sample_tensor({3, 4}, Domain::real, 2).detach(),
                              [](auto& x) { return argsort(x, 0, true); }, "OP(x0, dim=0, descending=True)"),
                          sample1(
                              "[2, 3, 2] dim -2", sample_tensor({2, 3, 2}, Domain::real, 3).detach(),
                              [](auto& x) { return argsort(x, -2); }, "OP(x0, dim=-2)"),
                          sample1(
                              "empty [0, 3]", sample_tensor({0, 3}, Domain::real, 4).detach(),
                              [](auto& x) { return argsort(x); }, "OP(x0)"),
                      };
                    },
                .torch = "torch.argsort"});
Tensor argsort(const Tensor& x, int64_t dim, bool descending) {
  check_defined(x, "argsort");
  const int a = wrap_dim(dim, x.shape(), "argsort");
  if (x.dim() == 0) return zeros({}, {.dtype = Dtype::int64});
  return sorted_positions(x, a, descending, x.shape()[a]);
}

XG_OP(topk,
      {.formula = "topk(x) = gather(x, dim, indices) (composite; grad scatters back through them)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 sample1(
                     "[6] k 3", sample_tensor({6}, Domain::real, 1), [](auto& x) { return topk(x, 3).first; },
                     "OP(x0, 3).values"),
                 sample1(
                     "[3, 4] k 2 dim 0 smallest", sample_tensor({3, 4}, Domain::real, 2),
                     [](auto& x) { return topk(x, 2, 0, false).first; },
                     "OP(x0, 2, dim=0, largest=False).values"),
                 sample1(
                     "[2, 5, 2] k 4 dim -2", sample_tensor({2, 5, 2}, Domain::real, 3),
                     [](auto& x) { return topk(x, 4, -2).first; }, "OP(x0, 4, dim=-2).values"),
                 sample1(
                     "[2, 4] k 2 unsorted", sample_tensor({2, 4}, Domain::real, 4),
                     [](auto& x) { return topk(x, 2, -1, true, false).first; },
                     "torch.sort(OP(x0, 2, dim=-1, sorted=False).values, dim=-1, descending=True).values"),
                 sample1(
                     "scalar k 1", sample_tensor({}, Domain::real, 5),
                     [](auto& x) { return topk(x, 1).first; }, "OP(x0, 1).values"),
                 sample1(
                     "[3, 0] k 0", sample_tensor({3, 0}, Domain::real, 6),
                     [](auto& x) { return topk(x, 0).first; }, "OP(x0, 0).values"),
             };
           },
       .torch = "torch.topk"});
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest,
                               bool /*sorted: always*/) {
  XG_COMPOSITE_SCOPE(topk);
  check_defined(x, "topk");
  const int a = wrap_dim(dim, x.shape(), "topk");
  const int64_t n = x.dim() ? x.shape()[a] : 1;
  if (k < 0 || k > n)
    throw IndexError("topk: k " + std::to_string(k) + " is out of range for dim " + std::to_string(dim) +
                     " of shape " + x.shape().str() + " (size " + std::to_string(n) + ")");
  return take_sorted(x, a, largest, k);
}

}  // namespace xg
