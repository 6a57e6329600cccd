// Diagonals and distances: diagonal, diag and trace (composites of permute, reshape,
// index_select / index_add), cosine_similarity, pairwise_distance and normalize (composites of
// norms), and cdist, a primitive: one kernel over the row pairs (for p = 2 above 25 rows a gemm,
// with the pairs it would cancel in summed directly), so that no [P, R, M] difference is stored.
// Each op's kernel, backward and samples sit together.
#include <algorithm>
#include <cmath>
#include <limits>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::Domain;
using detail::sample_tensor;
using detail::wrap_axis;

namespace {
void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw ValueError(std::string(op) + ": an operand is undefined");
}
void check_float(const Tensor& t, const char* op) {
  if (!t.is_floating_point())
    throw TypeError(std::string(op) + ": expected a float tensor, got int64 of shape " + t.shape().str());
}
void check_p(double p, const char* op) {
  if (!(p >= 0))  // NaN fails too
    throw ValueError(std::string(op) + ": p must be non-negative, got " + std::to_string(p));
}
void check_not_nan(double p, const char* op) {
  if (std::isnan(p)) throw ValueError(std::string(op) + ": p is NaN");
}
std::string str(double v) {
  if (std::isinf(v)) return "float('inf')";
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s += '0';
  return s;
}
OpSample sample1(const char* label, Tensor x, std::function<Tensor(const Tensor&)> f,
                 std::string torch = "") {
  return {label, {std::move(x)}, [f](std::span<const Tensor> in) { return f(in[0]); }, 0, std::move(torch)};
}
OpSample sample2(const char* label, Tensor a, Tensor b, std::function<Tensor(const Tensor&, const Tensor&)> f,
                 std::string torch = "") {
  return {label,
          {std::move(a), std::move(b)},
          [f](std::span<const Tensor> in) { return f(in[0], in[1]); },
          0,
          std::move(torch)};
}

// ||x||_p over `dim` with PyTorch's conventions: p = 0 counts the nonzero elements (gradient 0),
// p = inf is the largest |x| (ties share the gradient), -inf the smallest, and for 0 < p the
// gradient is 0, not NaN, for a zero vector and (p < 1) at a zero element. The double where keeps
// every order finite there.
Tensor vector_norm(const Tensor& x, double p, int64_t dim, bool keepdim) {
  const Axes ax{dim};
  if (p == 2.0) return norm(x, 2.0, ax, keepdim);
  if (p == 1.0) return sum(abs(x), ax, keepdim);
  // max of an empty axis has no value; the norm of an empty vector is 0
  if (x.shape()[wrap_axis(dim, x.dim(), "norm")] == 0) return sum(x, ax, keepdim);
  if (std::isinf(p)) return p > 0 ? max(abs(x), ax, keepdim) : min(abs(x), ax, keepdim);
  // p < 0 (as torch.norm allows): a zero element makes the sum inf and the norm 0.
  if (p < 0) return pow(sum(pow(abs(x), p), ax, keepdim), 1.0 / p);
  if (p == 0.0) {
    const Tensor count = sum(ne(x, 0.0), ax, keepdim);
    // The count is not differentiable; the where never picks the sum, so its gradient is 0 (as
    // PyTorch's) and NaN or inf in x cannot leak into it.
    return where(ones_like(count), count, sum(x, ax, keepdim));
  }
  const Tensor zero = eq(x, 0.0);
  const Tensor powered = where(zero, zeros_like(x), pow(where(zero, ones_like(x), abs(x)), p));
  const Tensor s = sum(powered, ax, keepdim);
  const Tensor empty = eq(s, 0.0);
  return where(empty, zeros_like(s), pow(where(empty, ones_like(s), s), 1.0 / p));
}
}  // namespace

// ---- diagonal, diag, trace ----
XG_OP(diagonal,
      {.formula = "diagonal(x, k, d1, d2) = index_select of the flattened (d1, d2) plane (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 sample1("[3, 4]", sample_tensor({3, 4}, Domain::real, 1),
                         [](auto& x) { return diagonal(x); }),
                 sample1(
                     "[2, 3, 4] offset 1 dims (2, 0)", sample_tensor({2, 3, 4}, Domain::real, 2),
                     [](auto& x) { return diagonal(x, 1, 2, 0); }, "OP(x0, 1, 2, 0)"),
                 sample1(
                     "[4, 3] offset -2", sample_tensor({4, 3}, Domain::real, 3),
                     [](auto& x) { return diagonal(x, -2); }, "OP(x0, -2)"),
                 sample1(
                     "[2, 3, 3] dims (-1, -2)", sample_tensor({2, 3, 3}, Domain::real, 4),
                     [](auto& x) { return diagonal(x, 0, -1, -2); }, "OP(x0, 0, -1, -2)"),
             };
           },
       .torch = "torch.diagonal"});
Tensor diagonal(const Tensor& x, int64_t offset, int64_t dim1, int64_t dim2) {
  XG_COMPOSITE_SCOPE(diagonal);
  check_defined(x, "diagonal");
  if (x.dim() < 2)
    throw ShapeError("diagonal: expected a tensor of at least 2 dimensions, got shape " + x.shape().str());
  const int a = wrap_axis(dim1, x.dim(), "diagonal"), b = wrap_axis(dim2, x.dim(), "diagonal");
  if (a == b)
    throw ValueError("diagonal: dim1 and dim2 are both axis " + std::to_string(a) + " of shape " +
                     x.shape().str());
  const int64_t n1 = x.shape()[a], n2 = x.shape()[b];
  // Out-of-range offsets give an empty diagonal (compared without overflow for any int64).
  int64_t len = 0;
  if (offset >= 0 && offset < n2) len = std::min(n1, n2 - offset);
  if (offset < 0 && offset > -n1) len = std::min(n1 + offset, n2);
  std::vector<int64_t> idx(static_cast<std::size_t>(len));
  for (int64_t i = 0; i < len; ++i) idx[i] = offset >= 0 ? i * n2 + i + offset : (i - offset) * n2 + i;
  Axes order;
  Shape flat;
  for (int d = 0; d < x.dim(); ++d)
    if (d != a && d != b) {
      order.push_back(d);
      flat.push_back(x.shape()[d]);
    }
  order.push_back(a);
  order.push_back(b);
  flat.push_back(n1 * n2);
  const Tensor plane = reshape(permute(x, order), flat);
  return index_select(plane, -1, from_vector(idx, {len}));
}

XG_OP(diag, {.formula = "diag(v, k) = index_add of v into a zero square matrix; diag(m, k) = diagonal(m, k) "
                        "(composite)",
             .kind = OpKind::composite,
             .samples =
                 [] {
                   return std::vector<OpSample>{
                       sample1("[3]", sample_tensor({3}, Domain::real, 1), [](auto& x) { return diag(x); }),
                       sample1(
                           "[3] diagonal -1", sample_tensor({3}, Domain::real, 2),
                           [](auto& x) { return diag(x, -1); }, "OP(x0, -1)"),
                       sample1(
                           "[3, 4] diagonal 1", sample_tensor({3, 4}, Domain::real, 3),
                           [](auto& x) { return diag(x, 1); }, "OP(x0, 1)"),
                   };
                 },
             .torch = "torch.diag"});
Tensor diag(const Tensor& x, int64_t k) {
  XG_COMPOSITE_SCOPE(diag);
  check_defined(x, "diag");
  if (x.dim() == 2) return diagonal(x, k, 0, 1);
  if (x.dim() != 1) throw ShapeError("diag: expected a 1-D or 2-D tensor, got shape " + x.shape().str());
  const int64_t n = x.numel();
  // A diagonal this far out would need a matrix of more than 2^62 elements.
  constexpr int64_t kLimit = int64_t{1} << 31;
  if (k > kLimit || k < -kLimit || n > kLimit)
    throw ShapeError("diag: diagonal " + std::to_string(k) + " of a vector of shape " + x.shape().str() +
                     " gives a matrix too large to allocate");
  const int64_t m = n + (k < 0 ? -k : k);
  std::vector<int64_t> idx(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = k >= 0 ? i * m + i + k : (i - k) * m + i;
  const Tensor y = index_add(zeros({m * m}, {.dtype = x.dtype()}), 0, from_vector(idx, {n}), x);
  return reshape(y, {m, m});
}

XG_OP(trace,
      {.formula = "trace(x) = sum(diagonal(x)) (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 sample1("[3, 4]", sample_tensor({3, 4}, Domain::real, 1), [](auto& x) { return trace(x); }),
                 // wide, not tall: PyTorch 1.13's gradient of a tall trace is wrong (see test_distance.cpp)
                 sample1("[2, 4]", sample_tensor({2, 4}, Domain::real, 2), [](auto& x) { return trace(x); }),
             };
           },
       .torch = "torch.trace"});
Tensor trace(const Tensor& x) {
  XG_COMPOSITE_SCOPE(trace);
  check_defined(x, "trace");
  if (x.dim() != 2) throw ShapeError("trace: expected a matrix (2-D), got shape " + x.shape().str());
  return sum(diagonal(x));
}

// ---- cosine_similarity, pairwise_distance, normalize ----
XG_OP(cosine_similarity,
      {.formula = "cos(x1, x2) = sum((x1 / max(||x1||, eps)) (x2 / max(||x2||, eps)), dim) (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 sample2("[3, 4] dim 1", sample_tensor({3, 4}, Domain::real, 1),
                         sample_tensor({3, 4}, Domain::real, 2),
                         [](auto& a, auto& b) { return cosine_similarity(a, b); }),
                 sample2(
                     "[2, 3, 4] with [3, 1] dim -1", sample_tensor({2, 3, 4}, Domain::real, 3),
                     sample_tensor({3, 1}, Domain::nonzero, 4),
                     [](auto& a, auto& b) { return cosine_similarity(a, b, -1); }, "OP(x0, x1, dim=-1)"),
                 sample2(
                     "[4] with [4] dim 0", sample_tensor({4}, Domain::real, 5),
                     sample_tensor({4}, Domain::real, 6),
                     [](auto& a, auto& b) { return cosine_similarity(a, b, 0); }, "OP(x0, x1, dim=0)"),
             };
           },
       .torch = "torch.nn.functional.cosine_similarity"});
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, int64_t dim, double eps) {
  XG_COMPOSITE_SCOPE(cosine_similarity);
  check_defined(x1, "cosine_similarity");
  check_defined(x2, "cosine_similarity");
  // The common dtype must be a float one (an int64 operand takes the other's dtype).
  if (!x1.is_floating_point() && !x2.is_floating_point())
    throw TypeError("cosine_similarity: expected a float operand, got int64 of shapes " + x1.shape().str() +
                    " and " + x2.shape().str());
  const Dtype t =
      x1.dtype() == Dtype::float64 || x2.dtype() == Dtype::float64 ? Dtype::float64 : Dtype::float32;
  const Shape s = detail::broadcast_shapes(x1.shape(), x2.shape(), "cosine_similarity");
  auto as = [&](const Tensor& x) { return x.shape() == s ? x.to(t) : expand(x.to(t), s); };
  const Tensor a = as(x1), b = as(x2);
  const int d = wrap_axis(dim, s.rank(), "cosine_similarity");
  // Each norm is raised to eps on its own. Below eps its value is eps and its gradient x / eps
  // (not 0 as a clamp's would be): the gradients PyTorch 1.13 gives, measured in test_distance.cpp.
  auto clamped = [eps, d](const Tensor& x) {
    const Tensor n = norm(x, 2.0, {d}, true);
    const Tensor fixed = n.detach();
    return where(lt(fixed, eps), eps + (n - fixed) * (fixed / eps), n);
  };
  return sum((a / clamped(a)) * (b / clamped(b)), {d});
}

XG_OP(pairwise_distance,
      {.formula = "pairwise_distance(x1, x2) = ||x1 - x2 + eps||_p over the last axis (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 sample2("[3, 4] p 2", sample_tensor({3, 4}, Domain::real, 1),
                         sample_tensor({3, 4}, Domain::real, 2),
                         [](auto& a, auto& b) { return pairwise_distance(a, b); }),
                 sample2(
                     "[3, 4] p 1 keepdim", sample_tensor({3, 4}, Domain::real, 3),
                     sample_tensor({3, 4}, Domain::real, 4),
                     [](auto& a, auto& b) { return pairwise_distance(a, b, 1.0, 1e-6, true); },
                     "OP(x0, x1, p=1.0, keepdim=True)"),
                 sample2(
                     "[4] with [2, 4] p 3", sample_tensor({4}, Domain::real, 5),
                     sample_tensor({2, 4}, Domain::real, 6),
                     [](auto& a, auto& b) { return pairwise_distance(a, b, 3.0); }, "OP(x0, x1, p=3.0)"),
                 sample2(
                     "[2, 3] p inf eps 0.1", sample_tensor({2, 3}, Domain::real, 7),
                     sample_tensor({2, 3}, Domain::real, 8),
                     [](auto& a, auto& b) { return pairwise_distance(a, b, INFINITY, 0.1); },
                     "OP(x0, x1, p=float('inf'), eps=0.1)"),
                 sample2(
                     "[2, 3] p -1", sample_tensor({2, 3}, Domain::real, 9),
                     sample_tensor({2, 3}, Domain::real, 10),
                     [](auto& a, auto& b) { return pairwise_distance(a, b, -1.0); }, "OP(x0, x1, p=-1.0)"),
             };
           },
       .torch = "torch.nn.functional.pairwise_distance"});
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p, double eps, bool keepdim) {
  XG_COMPOSITE_SCOPE(pairwise_distance);
  check_defined(x1, "pairwise_distance");
  check_defined(x2, "pairwise_distance");
  check_not_nan(p, "pairwise_distance");  // a negative p is allowed, as PyTorch
  detail::broadcast_shapes(x1.shape(), x2.shape(), "pairwise_distance");
  Tensor diff = x1 - x2;
  // Adding the float eps makes an int64 difference float32 (PyTorch's default float dtype).
  if (!diff.is_floating_point()) diff = diff.to(Dtype::float32);
  diff = diff + eps;
  // A 0-D difference is a vector of one element, as PyTorch reads it.
  if (diff.dim() == 0) {
    const Tensor n = vector_norm(reshape(diff, {1}), p, 0, keepdim);
    return keepdim ? n : reshape(n, {});
  }
  return vector_norm(diff, p, diff.dim() - 1, keepdim);
}

XG_OP(normalize, {.formula = "normalize(x) = x / max(||x||_p over dim, eps) (composite)",
                  .kind = OpKind::composite,
                  .samples =
                      [] {
                        return std::vector<OpSample>{
                            sample1("[3, 4]", sample_tensor({3, 4}, Domain::real, 1),
                                    [](auto& x) { return normalize(x); }),
                            sample1(
                                "[3, 2] p 1 dim 0", sample_tensor({3, 2}, Domain::nonzero, 2),
                                [](auto& x) { return normalize(x, 1.0, 0); }, "OP(x0, p=1.0, dim=0)"),
                            sample1(
                                "[2, 3, 2] p 3 dim -1", sample_tensor({2, 3, 2}, Domain::real, 3),
                                [](auto& x) { return normalize(x, 3.0, -1); }, "OP(x0, p=3.0, dim=-1)"),
                        };
                      },
                  .torch = "torch.nn.functional.normalize"});
Tensor normalize(const Tensor& x, double p, int64_t dim, double eps) {
  XG_COMPOSITE_SCOPE(normalize);
  check_defined(x, "normalize");
  check_float(x, "normalize");
  check_not_nan(p, "normalize");
  const int d = wrap_axis(dim, x.dim(), "normalize");
  // clamp's gradient is 1 at the bound itself, as PyTorch's clamp_min.
  return x / clamp(vector_norm(x, p, d, true), eps, std::nullopt);
}

// ---- cdist ----
namespace {
// PyTorch's default compute mode takes the matrix-product form above this many rows.
constexpr int64_t kMatmulRows = 25;
// Where the product form's d^2 is below this fraction of ||a||^2 + ||b||^2, its cancellation could
// cost more than 1e-13 relative error, and the pair is summed directly instead.
constexpr double kCancellation = 1e-2;

// x^e for e > 0, by repeated multiplication when e is a small integer (p = 3, 4: no pow per element).
template <class T>
T power(T x, double e) {
  if (e == std::floor(e) && e <= 8) {
    T r = x;
    for (int i = 1; i < static_cast<int>(e); ++i) r *= x;
    return r;
  }
  return std::pow(x, static_cast<T>(e));
}

// The p-norm of one difference vector u - v of length M.
template <class T>
T pair_distance(const T* u, const T* v, int64_t M, double p) {
  T s = 0;
  if (p == 2.0) {
    for (int64_t k = 0; k < M; ++k) s += (u[k] - v[k]) * (u[k] - v[k]);
    return std::sqrt(s);
  }
  if (p == 1.0) {
    for (int64_t k = 0; k < M; ++k) s += std::abs(u[k] - v[k]);
    return s;
  }
  if (p == 0.0) {
    for (int64_t k = 0; k < M; ++k) {
      const T e = u[k] - v[k];
      if (std::isnan(e)) return e;
      s += e != 0;
    }
    return s;
  }
  if (std::isinf(p)) {
    for (int64_t k = 0; k < M; ++k) {
      const T e = std::abs(u[k] - v[k]);
      if (std::isnan(e)) return e;  // NaN wins (torch.cdist skips it here, torch.norm does not)
      if (e > s) s = e;
    }
    return s;
  }
  for (int64_t k = 0; k < M; ++k) s += power(std::abs(u[k] - v[k]), p);
  return std::pow(s, T(1) / static_cast<T>(p));
}

// Distances of a [B, P, M] and b [B, R, M] -> [B, P, R] (contiguous, one dtype). For p = 2 above
// kMatmulRows rows, one gemm gives every dot product and d^2 = |a|^2 + |b|^2 - 2 a.b; the pairs it
// would cancel badly in are summed directly.
Tensor distances(const Tensor& a, const Tensor& b, double p) {
  const int64_t B = a.shape()[0], P = a.shape()[1], M = a.shape()[2], R = b.shape()[1];
  Tensor y = detail::new_tensor({B, P, R}, a.dtype());
  if (y.numel() == 0) return y;
  const bool product = p == 2.0 && (P > kMatmulRows || R > kMatmulRows) && M > 0;
  Tensor ab, na, nb;
  if (product) {
    NoGradGuard guard;
    ab = matmul_t(a, b, false, true);
    na = sum(a * a, {-1});
    nb = sum(b * b, {-1});
  }
  detail::visit_float(a.dtype(), "cdist", [&]<class T>() {
    const T *pa = a.data<T>(), *pb = b.data<T>();
    T* out = y.data<T>();
    const T* dot = product ? ab.data<T>() : nullptr;
    const T* sa = product ? na.data<T>() : nullptr;
    const T* sb = product ? nb.data<T>() : nullptr;
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, R * std::max<int64_t>(M, 1)));
    detail::parallel_for(B * P, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t row = lo; row < hi; ++row) {
        const int64_t bi = row / P;
        T* o = out + row * R;
        for (int64_t j = 0; j < R; ++j) {
          if (product) {
            const T scale = sa[row] + sb[bi * R + j];
            const T d2 = scale - 2 * dot[row * R + j];
            if (std::isfinite(d2) && d2 >= T(kCancellation) * scale) {  // else inf, NaN or cancelled
              o[j] = std::sqrt(d2);
              continue;
            }
          }
          o[j] = pair_distance(pa + row * M, pb + (bi * R + j) * M, M, p);
        }
      }
    });
  });
  return y;
}

// d ||t||_p / dt_k for one difference t (= x1_i - x2_j) at distance d, times the pair's g: sign(t)
// |t|^(p-1) g / d^(p-1); 0 at d = 0 and at t_k = 0 (p < 1); every tie at d for p = inf gets sign(t) g.
template <class T>
T pair_grad(T t, T d, T g, double p) {
  if (t == 0 || d == 0) return 0;
  const T s = t > 0 ? T(1) : T(-1);
  if (p == 1.0) return s * g;
  if (std::isinf(p)) return std::abs(t) == d ? s * g : T(0);
  if (p == 2.0) return t * g / d;
  return s * power(std::abs(t) / d, p - 1) * g;
}

// The first-order backward as one kernel: [B, P, R] g and d -> [B, P, M] and [B, R, M], without
// the [B, P, R, M] differences (p != 2; p = 2 uses two gemms).
std::pair<Tensor, Tensor> distance_grads(const Tensor& g0, const Tensor& a, const Tensor& b, const Tensor& d,
                                         double p) {
  const int64_t B = a.shape()[0], P = a.shape()[1], M = a.shape()[2], R = b.shape()[1];
  const Tensor g = g0.to(a.dtype());
  Tensor ga = zeros(a.shape(), {.dtype = a.dtype()}), gb = zeros(b.shape(), {.dtype = b.dtype()});
  if (p == 0.0 || g.numel() == 0) return {ga, gb};
  detail::visit_float(a.dtype(), "cdist", [&]<class T>() {
    const T *pa = a.data<T>(), *pb = b.data<T>(), *pg = g.data<T>(), *pd = d.data<T>();
    T *oa = ga.data<T>(), *ob = gb.data<T>();
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, R * std::max<int64_t>(M, 1)));
    // Rows of x1, then rows of x2, each written by one chunk only.
    detail::parallel_for(B * P, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t row = lo; row < hi; ++row) {
        const int64_t bi = row / P;
        const T* u = pa + row * M;
        for (int64_t j = 0; j < R; ++j) {
          const T* v = pb + (bi * R + j) * M;
          const T dist = pd[row * R + j], gj = pg[row * R + j];
          for (int64_t k = 0; k < M; ++k) oa[row * M + k] += pair_grad(u[k] - v[k], dist, gj, p);
        }
      }
    });
    detail::parallel_for(B * R, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t col = lo; col < hi; ++col) {
        const int64_t bi = col / R, j = col % R;
        const T* v = pb + col * M;
        for (int64_t i = 0; i < P; ++i) {
          const T* u = pa + (bi * P + i) * M;
          const int64_t at = (bi * P + i) * R + j;
          for (int64_t k = 0; k < M; ++k) ob[col * M + k] -= pair_grad(u[k] - v[k], pd[at], pg[at], p);
        }
      }
    });
  });
  return {ga, gb};
}

// g d ||t||_p / dt for every pair's difference t = a_i - b_j, [B, P, R, M], as differentiable ops
// (pair_grad's cases); gd and dd are g and d with a trailing axis of 1.
Tensor pair_grads_graph(const Tensor& t, const Tensor& gd, const Tensor& dd, double p) {
  if (p == 1.0) return gd * sign(t);
  if (std::isinf(p)) return where(eq(abs(t), dd) * ne(dd, 0.0), gd * sign(t), zeros_like(t));
  const Tensor zt = eq(t, 0.0) + eq(dd, 0.0) * ones_like(t), keep = eq(zt, 0.0);
  // |t| / d with 1 where t or d is 0, so that no pow sees 0 (gradient 0 there, as the kernel)
  const Tensor ratio = where(keep, abs(t), ones_like(t)) / where(keep, dd, ones_like(t));
  return where(keep, gd * sign(t) * (p == 2.0 ? ratio : pow(ratio, p - 1.0)), zeros_like(t));
}

// The same gradients as differentiable ops (create_graph), through the [B, P, R, M] differences.
std::pair<Tensor, Tensor> distance_grads_graph(const Tensor& g, const Tensor& a, const Tensor& b,
                                               const Tensor& d, double p) {
  if (p == 0.0) return {zeros_like(a), zeros_like(b)};
  const Tensor t = unsqueeze(a, -2) - unsqueeze(b, -3);
  const Tensor G = pair_grads_graph(t, unsqueeze(g, -1), unsqueeze(d, -1), p);
  return {sum(G, {-2}), -sum(G, {-3})};
}

// The tangent of the distances for tangents da of a and db of b (undefined: zero): d_ij changes
// by sum_k d d_ij / dt_k (da_ik - db_jk). For p = 2 that is (t . dt) / d (0 where d = 0), whose
// dot products are two gemms as in the backward; otherwise through the [B, P, R, M] differences.
Tensor distance_jvp(const Tensor& da, const Tensor& db, const Tensor& a, const Tensor& b, const Tensor& d,
                    double p) {
  if (p == 0.0) return Tensor();  // piecewise constant
  if (p == 2.0) {
    Tensor num;
    if (da.defined()) num = unsqueeze(sum(a * da, {-1}), -1) - matmul_t(da, b, false, true);
    if (db.defined()) {
      const Tensor nb = unsqueeze(sum(b * db, {-1}), -2) - matmul_t(a, db, false, true);
      num = num.defined() ? num + nb : nb;
    }
    const Tensor zero = eq(d, 0.0);
    return where(zero, zeros_like(d), num / where(zero, ones_like(d), d));
  }
  const Tensor t = unsqueeze(a, -2) - unsqueeze(b, -3);
  const Tensor G = pair_grads_graph(t, ones_like(unsqueeze(d, -1)), unsqueeze(d, -1), p);
  Tensor dt;
  if (da.defined()) dt = unsqueeze(da, -2);
  if (db.defined()) dt = dt.defined() ? dt - unsqueeze(db, -3) : -unsqueeze(db, -3);
  return sum(G * dt, {-1});
}
}  // namespace

XG_OP(cdist,
      {.formula = "d/dx1_i ||x1_i - x2_j||_p = sign(t) |t|^(p-1) / d_ij^(p-1), t = x1_i - x2_j (0 where "
                  "d_ij = 0); p = 2: rowsum(w) x1 - w x2 with w = grad / d (two gemms)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto make = [](const char* label, Shape sa, Shape sb, double p, unsigned salt) {
               return sample2(
                   label, sample_tensor(sa, Domain::real, salt), sample_tensor(sb, Domain::real, salt + 1),
                   [p](auto& a, auto& b) { return cdist(a, b, p); },
                   p == 2.0 ? std::string() : "OP(x0, x1, p=" + str(p) + ")");
             };
             return std::vector<OpSample>{
                 make("[3, 4] with [5, 4]", {3, 4}, {5, 4}, 2.0, 1),
                 make("[2, 3, 2] with [2, 1, 2]", {2, 3, 2}, {2, 1, 2}, 2.0, 3),
                 make("[2, 1, 2, 3] with [3, 2, 3] (batch broadcast)", {2, 1, 2, 3}, {3, 2, 3}, 2.0, 5),
                 // above 25 rows: the matrix-product path
                 make("[27, 2] with [2, 2]", {27, 2}, {2, 2}, 2.0, 7),
                 make("[3, 2] with [4, 2] p 1", {3, 2}, {4, 2}, 1.0, 9),
                 make("[2, 3, 2] with [2, 2, 2] p 3", {2, 3, 2}, {2, 2, 2}, 3.0, 11),
                 make("[3, 2] with [2, 2] p inf", {3, 2}, {2, 2}, INFINITY, 13),
                 make("[2, 3] with [3, 3] p 0.5", {2, 3}, {3, 3}, 0.5, 15),
                 make("[2, 3] with [2, 3] p 1.5", {2, 3}, {2, 3}, 1.5, 17),
                 make("[2, 3] with [2, 3] p 0", {2, 3}, {2, 3}, 0.0, 19),
             };
           },
       .torch = "torch.cdist"});
Tensor cdist(const Tensor& x1, const Tensor& x2, double p) {
  check_defined(x1, "cdist");
  check_defined(x2, "cdist");
  check_float(x1, "cdist");
  check_float(x2, "cdist");
  if (x1.dim() < 2 || x2.dim() < 2)
    throw ShapeError("cdist: expected inputs of at least 2 dimensions, got shapes " + x1.shape().str() +
                     " and " + x2.shape().str());
  const int64_t M = x1.shape()[x1.dim() - 1];
  if (x2.shape()[x2.dim() - 1] != M)
    throw ShapeError("cdist: x1 and x2 must have the same last extent (columns), got shapes " +
                     x1.shape().str() + " and " + x2.shape().str());
  check_p(p, "cdist");
  if (x1.dtype() != x2.dtype())  // PyTorch does not promote here either
    throw TypeError(std::string("cdist: x1 and x2 must have the same dtype, got ") + dtype_name(x1.dtype()) +
                    " and " + dtype_name(x2.dtype()) + " (shapes " + x1.shape().str() + " and " +
                    x2.shape().str() + ")");
  const int64_t P = x1.shape()[x1.dim() - 2], R = x2.shape()[x2.dim() - 2];
  // The batch axes broadcast.
  Shape b1, b2;
  for (int d = 0; d < x1.dim() - 2; ++d) b1.push_back(x1.shape()[d]);
  for (int d = 0; d < x2.dim() - 2; ++d) b2.push_back(x2.shape()[d]);
  const Shape batch = detail::broadcast_shapes(b1, b2, "cdist");
  Shape s1 = batch, s2 = batch, out = batch;
  s1.push_back(P);
  s1.push_back(M);
  s2.push_back(R);
  s2.push_back(M);
  out.push_back(P);
  out.push_back(R);
  const int64_t B = batch.numel();
  const Tensor a = reshape(x1.shape() == s1 ? x1 : expand(x1, s1), {B, P, M});
  const Tensor b = reshape(x2.shape() == s2 ? x2 : expand(x2, s2), {B, R, M});
  Tensor y = distances(a, b, p);
  if (will_record({a, b}))
    y = record(
        opdefs::cdist_op, y, {a, b},
        [p, sa = save_input(a), sb = save_input(b), sy = save_output(y)](const Node& n, const Tensor& g,
                                                                         std::span<Tensor> gx) {
          const Tensor a = sa.unpack(n), b = sb.unpack(n), d = sy.unpack(n);
          if (p == 2.0) {
            // Each pair sends g (x1_i - x2_j) / d_ij; the sums over pairs are two gemms.
            const Tensor zero = eq(d, 0.0);
            const Tensor w = where(zero, zeros_like(d), g / where(zero, ones_like(d), d));
            if (n.needs_input_grad(0)) gx[0] = sum(w, {-1}, true) * a - matmul(w, b);
            if (n.needs_input_grad(1)) gx[1] = unsqueeze(sum(w, {-2}), -1) * b - matmul_t(w, a, true, false);
            return;
          }
          auto [ga, gb] =
              GradMode::is_enabled() ? distance_grads_graph(g, a, b, d, p) : distance_grads(g, a, b, d, p);
          gx[0] = ga;
          gx[1] = gb;
        },
        [&](std::span<const Tensor> t) { return distance_jvp(t[0], t[1], a, b, y, p); });
  return reshape(y, out);
}

}  // namespace xg
