// torch.linalg on LAPACK through xtensor-blas (xt::lapack). This translation unit is the only one
// that includes xtensor-blas: its headers declare the BLAS symbols again and clash with OpenBLAS's
// <cblas.h>, which only kernels/gemm.cpp includes (its header, used here by matrix_exp, does not).
// The LAPACK routines are libopenblas's own exports. Each batch element is copied into a column-major matrix,
// factored, and copied back; every backward is written with xgrad ops (matmul, solve, ...), so gradients of
// every order come out of the same formulas.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include "xgrad/autograd/kernels/gemm.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::Domain;
using detail::sample_tensor;

namespace {

template <class T>
using CMat = xt::xtensor<T, 2, xt::layout_type::column_major>;

// The matrices of a (*, m, n) tensor: their count and size, and the batch shape.
struct Mats {
  Shape batch;
  int64_t count = 1, m = 0, n = 0;
};

Mats mats_of(const Tensor& a, const char* op, bool square) {
  if (!a.defined()) throw ValueError(std::string(op) + ": the input is undefined");
  if (!a.is_floating_point())
    throw TypeError(std::string(op) + ": expected a float32 or float64 tensor, got " + dtype_name(a.dtype()));
  if (a.dim() < 2)
    throw ShapeError(std::string(op) + ": expected a matrix or a batch of matrices (*, m, n), got shape " +
                     a.shape().str());
  Mats r;
  r.m = a.shape()[a.dim() - 2];
  r.n = a.shape()[a.dim() - 1];
  for (int i = 0; i < a.dim() - 2; ++i) {
    r.batch.push_back(a.shape()[i]);
    r.count *= a.shape()[i];
  }
  if (square && r.m != r.n)
    throw ShapeError(std::string(op) + ": expected square matrices (*, n, n), got shape " + a.shape().str());
  return r;
}

Shape with_tail(Shape s, std::initializer_list<int64_t> tail) {
  for (int64_t d : tail) s.push_back(d);
  return s;
}

// "batch element 3" (its index in the flattened batch), or "the matrix" for an unbatched input.
std::string which(const Mats& b, int64_t i) {
  return b.batch.rank() == 0 ? std::string("the matrix") : "batch element " + std::to_string(i);
}

Dtype promoted(const Tensor& a, const Tensor& b, const char* op) {
  if (!a.defined() || !b.defined()) throw ValueError(std::string(op) + ": an operand is undefined");
  if (!a.is_floating_point() || !b.is_floating_point())
    throw TypeError(std::string(op) + ": expected float tensors, got " + dtype_name(a.dtype()) + " and " +
                    dtype_name(b.dtype()));
  return a.dtype() == Dtype::float64 || b.dtype() == Dtype::float64 ? Dtype::float64 : Dtype::float32;
}

// eigh and svd iterate: on NaN or inf LAPACK reports no convergence or returns NaN, so they are
// refused up front with the reason.
template <class T>
void check_finite(const T* p, int64_t len, const Mats& b, int64_t i, const char* op) {
  for (int64_t j = 0; j < len; ++j)
    if (!std::isfinite(p[j]))
      throw LinAlgError(std::string(op) + ": " + which(b, i) + " has non-finite entries (NaN or inf)");
}

template <class T>
CMat<T> load(const T* p, int64_t m, int64_t n) {
  CMat<T> a;
  a.resize({static_cast<std::size_t>(m), static_cast<std::size_t>(n)});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) a(i, j) = p[i * n + j];
  return a;
}
template <class T>
void store(const CMat<T>& a, T* p, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) p[i * n + j] = a(i, j);
}

Tensor mT(const Tensor& x) {
  return transpose(x, -2, -1);
}
Tensor eye_as(int64_t n, const Tensor& like) {
  return eye(n, -1, {.dtype = like.dtype()});
}

// A node with several differentiable outputs (qr, eigh, svd); F gets one gradient per output,
// undefined where none arrived.
template <class F>
class MultiOutputNode final : public Node {
 public:
  MultiOutputNode(const OpInfo& info, EdgeList edges, const std::vector<Tensor>& outs, F fn)
      : Node(info, std::move(edges), outs[0]), fn_(std::move(fn)) {
    for (std::size_t k = 1; k < outs.size(); ++k) add_output(outs[k]);
  }

 protected:
  void backward(const Tensor& g, std::span<Tensor> grads) override {
    std::vector<Tensor> gs(num_outputs());
    gs[0] = g;
    (*fn_)(*this, std::span<Tensor>(gs), grads);
  }
  void backward_outputs(std::span<Tensor> g, std::span<Tensor> grads) override { (*fn_)(*this, g, grads); }
  void release_saved() override { fn_.reset(); }

 private:
  std::optional<F> fn_;
};

// Records outs as the outputs of one node of op `info`, when grad mode is on and an input
// requires grad. The backward's saved outputs are made with SavedTensor(outs[k], true, k).
// Forward mode: when an input carries a tangent, jvp(t) gets one tangent per input (undefined:
// zero) and returns one per output (undefined: zero), as record's rule does for one output; it
// runs after the node is recorded, so that each output's tangent is also kept on the node.
template <class F, class J>
void record_outputs(const OpInfo& info, const std::vector<Tensor>& outs, std::span<const Tensor> inputs,
                    F&& fn, J&& jvp) {
  if (GradMode::is_enabled() && any_requires_grad(inputs)) {
    auto node = std::make_shared<MultiOutputNode<std::decay_t<F>>>(info, collect_edges(inputs), outs,
                                                                   std::forward<F>(fn));
    Node& recorded = *node;
    for (std::size_t k = 0; k < outs.size(); ++k) {
      outs[k].impl()->grad_fn = node;
      outs[k].impl()->output_nr = static_cast<uint32_t>(k);
      outs[k].impl()->requires_grad = true;
    }
    if (detail::tape_observer) [[unlikely]]
      detail::tape_observer->on_record(recorded, inputs, outs[0]);
  }
  if (!detail::fw_level || !detail::any_tangent(inputs)) [[likely]]
    return;
  std::vector<Tensor> t(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) t[i] = detail::tangent_of(inputs[i]);
  std::vector<Tensor> r;
  {
    detail::JvpRuleGuard off;
    r = jvp(std::span<const Tensor>(t));
  }
  for (std::size_t k = 0; k < outs.size() && k < r.size(); ++k) detail::set_tangent(outs[k], r[k]);
}

// ---- kernels (one LAPACK call per batch element) ----

// X with A X = B: A (count, n, n), B (count, n, k), same dtype.
Tensor solve_kernel(const Tensor& A, const Tensor& B, const Mats& b, int64_t k, const char* op) {
  const int64_t n = b.n;
  Tensor X = detail::new_tensor(with_tail(b.batch, {n, k}), A.dtype());
  detail::visit_float(A.dtype(), op, [&]<class T>() {
    const T* pa = A.data<T>();
    const T* pb = B.data<T>();
    T* px = X.data<T>();
    for (int64_t i = 0; i < b.count; ++i) {
      if (n == 0) continue;
      CMat<T> a = load(pa + i * n * n, n, n);
      CMat<T> rhs = load(pb + i * n * k, n, std::max<int64_t>(k, 1));
      const int info = xt::lapack::gesv(a, rhs);
      if (info > 0)
        throw LinAlgError(std::string(op) + ": " + which(b, i) + " is singular (U[" +
                          std::to_string(info - 1) + ", " + std::to_string(info - 1) +
                          "] of its LU factorisation is zero)");
      if (k > 0) store(rhs, px + i * n * k, n, k);
    }
  });
  return X;
}

// LU determinants: det, or (sign, log |det|). det is the product of U's diagonal times the sign of
// the row permutation; an exactly zero pivot (a singular matrix) makes it 0, as PyTorch.
template <class T>
void lu_det(const T* pa, const Mats& b, T* det, T* sign, T* logabs) {
  const int64_t n = b.n;
  for (int64_t i = 0; i < b.count; ++i) {
    double s = 1, la = 0, d = 1;
    if (n > 0) {
      CMat<T> a = load(pa + i * n * n, n, n);
      xt::uvector<xt::blas_index_t> piv(static_cast<std::size_t>(n));
      xt::lapack::getrf(a, piv);  // info > 0 only reports the zero pivot
      for (int64_t j = 0; j < n; ++j) {
        const double u = a(j, j);
        if (piv[static_cast<std::size_t>(j)] != j + 1) s = -s;
        d *= u;
        la += std::log(std::abs(u));
        s *= u > 0 ? 1 : u < 0 ? -1 : u == 0 ? 0 : u;  // NaN stays NaN
      }
      // d's sign is the pivots' product; the permutation flips it when s says so
      d = s == 0 ? 0 : std::copysign(d, s);
    }
    if (det) det[i] = static_cast<T>(d);
    if (sign) sign[i] = static_cast<T>(s);
    if (logabs) logabs[i] = static_cast<T>(la);
  }
}

// exp(A) of one n x n matrix: the Taylor polynomial of degree 18 of X = A / 2^s with ||X||_1 <= 1/2
// (truncation error below 1e-22), evaluated as Paterson and Stockmeyer do (X^2, X^3, X^4, then
// Horner in X^4: 7 products instead of 18), then s squarings; in double for both dtypes, on gemm.
void expm_one(const double* a, double* out, int64_t n) {
  if (n == 0) return;
  const auto nn = static_cast<std::size_t>(n * n);
  double norm1 = 0;
  for (int64_t j = 0; j < n; ++j) {
    double c = 0;
    for (int64_t i = 0; i < n; ++i) c += std::abs(a[i * n + j]);
    norm1 = std::max(norm1, c);
  }
  if (!std::isfinite(norm1)) {  // NaN or inf in A: NaN out, as PyTorch
    std::fill(out, out + nn, std::numeric_limits<double>::quiet_NaN());
    return;
  }
  const int s = norm1 > 0.5 ? static_cast<int>(std::ceil(std::log2(norm1 / 0.5))) : 0;
  const double scale = std::ldexp(1.0, -s);
  auto mm = [n](const std::vector<double>& l, const std::vector<double>& r, std::vector<double>& o) {
    detail::gemm(false, false, n, n, n, l.data(), r.data(), o.data());
  };
  std::vector<std::vector<double>> pw(5, std::vector<double>(nn, 0.0));  // X^0 .. X^4
  for (int64_t i = 0; i < n; ++i) pw[0][i * n + i] = 1;
  for (std::size_t i = 0; i < nn; ++i) pw[1][i] = a[i] * scale;
  for (int k = 2; k <= 4; ++k) mm(pw[k - 1], pw[1], pw[k]);
  double c[19];  // 1 / k!
  c[0] = 1;
  for (int k = 1; k <= 18; ++k) c[k] = c[k - 1] / k;
  std::vector<double> r(nn), t(nn);
  auto add_block = [&](int j, std::vector<double>& into) {  // += sum_i c[4j + i] X^i, i < 4
    for (int i = 0; i < 4 && 4 * j + i <= 18; ++i) {
      const double ck = c[4 * j + i];
      for (std::size_t e = 0; e < nn; ++e) into[e] += ck * pw[static_cast<std::size_t>(i)][e];
    }
  };
  std::fill(r.begin(), r.end(), 0.0);
  add_block(4, r);
  for (int j = 3; j >= 0; --j) {
    mm(r, pw[4], t);
    r.swap(t);
    add_block(j, r);
  }
  for (int q = 0; q < s; ++q) {
    mm(r, r, t);
    r.swap(t);
  }
  std::copy(r.begin(), r.end(), out);
}

// ---- samples ----
OpSample one(const char* label, Tensor x, std::function<Tensor(const Tensor&)> f, std::string torch = {}) {
  return {label, {std::move(x)}, [f](std::span<const Tensor> in) { return f(in[0]); }, 0, std::move(torch)};
}
OpSample two(const char* label, Tensor a, Tensor b, std::function<Tensor(const Tensor&, const Tensor&)> f,
             std::string torch = {}) {
  return {label,
          {std::move(a), std::move(b)},
          [f](std::span<const Tensor> in) { return f(in[0], in[1]); },
          0,
          std::move(torch)};
}
Tensor leaf(Tensor t) {
  t = t.detach().clone();
  t.requires_grad_(true);
  return t;
}
// N(0, 1) entries plus (max(m, n) + 1) on the diagonal: far from singular (or rank deficient).
Tensor well_conditioned(const Shape& s, unsigned salt) {
  NoGradGuard g;
  const int64_t m = s[s.rank() - 2], n = s[s.rank() - 1];
  return leaf(sample_tensor(s, Domain::real, salt) +
              eye(m, n, {.dtype = Dtype::float64}) * static_cast<double>(std::max(m, n) + 1));
}
// M with M + M^T = X X^T + n I, symmetric positive definite (the samples symmetrise their input, so
// that the gradient of an op that reads one triangle is the symmetric one that PyTorch gives).
Tensor spd_half(const Shape& s, unsigned salt) {
  NoGradGuard g;
  const int64_t n = s[s.rank() - 1];
  Tensor x = sample_tensor(s, Domain::real, salt);
  return leaf((matmul(x, mT(x)) + eye(n, -1, {.dtype = Dtype::float64}) * double(n)) * 0.5);
}

}  // namespace

namespace linalg {

// ---- solve ----
XG_OP(solve,
      {.formula = "X = A^-1 B: dB = A^-T dX, dA = -dB X^T (Giles 2008, Collected matrix derivative results)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             return std::vector<OpSample>{
                 two("[3, 3] [3, 2]", well_conditioned({3, 3}, 1), sample_tensor({3, 2}, Domain::real, 2),
                     [](auto& a, auto& b) { return solve(a, b); }),
                 two("vector rhs [3, 3] [3]", well_conditioned({3, 3}, 3),
                     sample_tensor({3}, Domain::real, 4), [](auto& a, auto& b) { return solve(a, b); }),
                 two("batched [2, 3, 3] [2, 3, 1]", well_conditioned({2, 3, 3}, 5),
                     sample_tensor({2, 3, 1}, Domain::real, 6), [](auto& a, auto& b) { return solve(a, b); }),
                 two("broadcast [2, 2, 2] [2, 3]", well_conditioned({2, 2, 2}, 7),
                     sample_tensor({2, 3}, Domain::real, 8), [](auto& a, auto& b) { return solve(a, b); }),
             };
           },
       .torch = "torch.linalg.solve"});
Tensor solve(const Tensor& A0, const Tensor& B0) {
  const Dtype d = promoted(A0, B0, "solve");
  const Tensor A = A0.to(d), B = B0.to(d);
  const Mats ma = mats_of(A, "solve", true);
  const int64_t n = ma.n;
  // A vector right-hand side: B (n) or B (*, n) with the batch shape of A.
  bool vec = B.dim() == 1;
  if (B.dim() == A.dim() - 1) {
    vec = true;
    for (int i = 0; i < B.dim(); ++i) vec = vec && B.shape()[i] == A.shape()[i];
  }
  const Tensor Bm = vec ? unsqueeze(B, -1) : B;
  if (Bm.dim() < 2 || Bm.shape()[Bm.dim() - 2] != n)
    throw ShapeError("solve: B must be (*, n, k) or (*, n) with A's n, got A " + A.shape().str() + " and B " +
                     B.shape().str());
  const int64_t k = Bm.shape()[Bm.dim() - 1];
  Shape bb;
  for (int i = 0; i < Bm.dim() - 2; ++i) bb.push_back(Bm.shape()[i]);
  const Shape batch = detail::broadcast_shapes(ma.batch, bb, "solve");
  const Tensor Ae = ma.batch == batch ? A : expand(A, with_tail(batch, {n, n}));
  const Tensor Be = bb == batch ? Bm : expand(Bm, with_tail(batch, {n, k}));
  const Mats m = mats_of(Ae, "solve", true);
  Tensor X = solve_kernel(Ae, Be, m, k, "solve");
  if (will_record({Ae, Be}))
    record(
        opdefs::solve_op, X, {Ae, Be},
        [sa = save_input(Ae), sx = save_output(X)](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
          const Tensor A = sa.unpack(nd), X = sx.unpack(nd);
          const Tensor gB = solve(mT(A), g);
          if (nd.needs_input_grad(0)) gx[0] = -matmul(gB, mT(X));
          if (nd.needs_input_grad(1)) gx[1] = gB;
        },
        [&](std::span<const Tensor> t) {
          // dX = A^-1 (dB - dA X)
          Tensor rhs = t[1];
          if (t[0].defined()) rhs = rhs.defined() ? rhs - matmul(t[0], X) : -matmul(t[0], X);
          return solve(Ae, rhs);
        });
  return vec ? squeeze(X, -1) : X;
}

// ---- inv ----
XG_OP(inv, {.formula = "X = A^-1: dA = -X^T dX X^T (Giles 2008)",
            .kind = OpKind::primitive,
            .samples =
                [] {
                  return std::vector<OpSample>{
                      one("[3, 3]", well_conditioned({3, 3}, 11), [](auto& a) { return inv(a); }),
                      one("[1, 1]", well_conditioned({1, 1}, 12), [](auto& a) { return inv(a); }),
                      one("batched [2, 2, 3, 3]", well_conditioned({2, 2, 3, 3}, 13),
                          [](auto& a) { return inv(a); }),
                  };
                },
            .torch = "torch.linalg.inv"});
Tensor inv(const Tensor& A) {
  const Mats m = mats_of(A, "inv", true);
  Tensor I = expand(eye_as(m.n, A), with_tail(m.batch, {m.n, m.n}));
  Tensor X = solve_kernel(A, I.clone(), m, m.n, "inv");
  if (!will_record({A})) return X;
  return record(
      opdefs::inv_op, X, {A},
      [sx = save_output(X)](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
        const Tensor Xt = mT(sx.unpack(nd));
        gx[0] = -matmul(matmul(Xt, g), Xt);
      },
      [&](std::span<const Tensor> t) { return -matmul(matmul(X, t[0]), X); });  // dX = -X dA X
}

// ---- det, slogdet ----
namespace {
// g times the gradient of det at a singular A, the adjugate's transpose, from A = U diag(s) Vh:
// det(U) det(Vh) U diag(prod_{j != i} s_j) Vh (the det(A) A^-T of Giles 2008 is undefined there).
// The products of the other singular values come from exclusive running products, so no division by
// the zero singular value; second order goes through svd's backward (distinct singular values).
Tensor det_adjugate_grad(const Tensor& A, const Tensor& g) {
  auto [U, S, Vh] = svd(A);
  const int64_t n = S.size(-1);
  Tensor sign;
  {
    NoGradGuard ng;  // +-1, constant under small changes of A
    sign = det(U.detach()) * det(Vh.detach());
  }
  Shape one = S.shape();
  one[one.rank() - 1] = 1;
  const Tensor ones1 = ones(one, {.dtype = S.dtype()});
  const Tensor before = cat({ones1, narrow(cumprod(S, -1), -1, 0, n - 1)}, -1);
  const Tensor after = flip(cat({ones1, narrow(cumprod(flip(S, {-1}), -1), -1, 0, n - 1)}, -1), {-1});
  const Tensor others = before * after;
  return unsqueeze(unsqueeze(g * sign, -1), -1) * matmul(U * unsqueeze(others, -2), Vh);
}
}  // namespace

XG_OP(det,
      {.formula = "d det(A) / dA = det(A) A^-T (Giles 2008); at det(A) = 0 the adjugate^T, from the SVD",
       .kind = OpKind::primitive,
       .samples =
           [] {
             return std::vector<OpSample>{
                 one("[3, 3]", well_conditioned({3, 3}, 21), [](auto& a) { return det(a); }),
                 one("[1, 1]", well_conditioned({1, 1}, 22), [](auto& a) { return det(a); }),
                 one("batched [2, 3, 3]", well_conditioned({2, 3, 3}, 23), [](auto& a) { return det(a); }),
                 one("negative det [2, 2]",
                     leaf(tensor({1.0, 2.0, 3.0, 1.5}, {2, 2}, {.dtype = Dtype::float64})),
                     [](auto& a) { return det(a); }),
                 one(
                     "singular (rank 2) [3, 3]",
                     leaf(tensor({1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 1.0, 0.0, 1.0}, {3, 3},
                                 {.dtype = Dtype::float64})),
                     [](auto& a) { return det(a); },
                     // PyTorch 1.13's det gradient is 0 at an exactly singular matrix (its own gradcheck
                     // fails there): compared with the Leibniz formula, whose gradient is the adjugate.
                     "x0[0, 0] * (x0[1, 1] * x0[2, 2] - x0[1, 2] * x0[2, 1]) - x0[0, 1] * (x0[1, 0] * x0[2, "
                     "2] - "
                     "x0[1, 2] * x0[2, 0]) + x0[0, 2] * (x0[1, 0] * x0[2, 1] - x0[1, 1] * x0[2, 0])"),
             };
           },
       .torch = "torch.linalg.det"});
Tensor det(const Tensor& A) {
  const Mats m = mats_of(A, "det", true);
  Tensor y = detail::new_tensor(m.batch, A.dtype());
  detail::visit_float(A.dtype(), "det",
                      [&]<class T>() { lu_det<T>(A.data<T>(), m, y.data<T>(), nullptr, nullptr); });
  if (!will_record({A})) return y;
  return record(
      opdefs::det_op, y, {A},
      [sa = save_input(A), sy = save_output(y)](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
        const Tensor A = sa.unpack(nd), y = sy.unpack(nd);
        bool singular;
        {
          NoGradGuard ng;
          singular = any(eq(y.detach(), 0.0)).item() != 0;
        }
        if (!singular) {
          gx[0] = unsqueeze(unsqueeze(g * y, -1), -1) * mT(inv(A));
          return;
        }
        gx[0] = det_adjugate_grad(A, g);
      },
      [&](std::span<const Tensor> t) {
        // d det = det(A) tr(A^-1 dA); at a singular A, <adj(A)^T, dA>
        bool singular;
        {
          NoGradGuard ng;
          singular = any(eq(y.detach(), 0.0)).item() != 0;
        }
        if (singular) return sum(det_adjugate_grad(A, ones_like(y)) * t[0], {-2, -1});
        return y * sum(diagonal(solve(A, t[0]), 0, -2, -1), {-1});
      });
}

XG_OP(slogdet, {.formula = "d log|det A| / dA = A^-T; the sign has no gradient (Giles 2008)",
                .kind = OpKind::primitive,
                .samples =
                    [] {
                      return std::vector<OpSample>{
                          one(
                              "[3, 3]", well_conditioned({3, 3}, 31),
                              [](auto& a) { return slogdet(a).second; }, "OP(x0).logabsdet"),
                          one(
                              "batched [2, 3, 3]", well_conditioned({2, 3, 3}, 32),
                              [](auto& a) { return slogdet(a).second; }, "OP(x0).logabsdet"),
                          one(
                              "sign exp(logabsdet), negative det",
                              leaf(tensor({1.0, 2.0, 3.0, 1.5}, {2, 2}, {.dtype = Dtype::float64})),
                              [](auto& a) {
                                auto [s, l] = slogdet(a);
                                return s * exp(l);
                              },
                              "(lambda r: r.sign * r.logabsdet.exp())(OP(x0))"),
                      };
                    },
                .torch = "torch.linalg.slogdet"});
std::pair<Tensor, Tensor> slogdet(const Tensor& A) {
  const Mats m = mats_of(A, "slogdet", true);
  Tensor s = detail::new_tensor(m.batch, A.dtype()), l = detail::new_tensor(m.batch, A.dtype());
  detail::visit_float(A.dtype(), "slogdet",
                      [&]<class T>() { lu_det<T>(A.data<T>(), m, nullptr, s.data<T>(), l.data<T>()); });
  if (will_record({A}))
    record(
        opdefs::slogdet_op, l, {A},
        [sa = save_input(A)](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
          // log |det| is -inf at a singular matrix: inv's LinAlgError says so
          gx[0] = unsqueeze(unsqueeze(g, -1), -1) * mT(inv(sa.unpack(nd)));
        },
        // d log|det A| = tr(A^-1 dA); the sign is constant
        [&](std::span<const Tensor> t) { return sum(diagonal(solve(A, t[0]), 0, -2, -1), {-1}); });
  return {s, l};
}

// ---- cholesky ----
XG_OP(cholesky,
      {.formula = "A = L L^T: dA = sym(L^-T Phi(L^T dL) L^-1), Phi = lower triangle with the diagonal halved "
                  "(Murray 2016, Differentiation of the Cholesky decomposition)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             return std::vector<OpSample>{
                 one(
                     "[3, 3]", spd_half({3, 3}, 41), [](auto& a) { return cholesky(a + mT(a)); },
                     "OP(x0 + x0.mT)"),
                 one(
                     "upper [3, 3]", spd_half({3, 3}, 42), [](auto& a) { return cholesky(a + mT(a), true); },
                     "OP(x0 + x0.mT, upper=True)"),
                 one(
                     "batched [2, 4, 4]", spd_half({2, 4, 4}, 43),
                     [](auto& a) { return cholesky(a + mT(a)); }, "OP(x0 + x0.mT)"),
             };
           },
       .torch = "torch.linalg.cholesky"});
Tensor cholesky(const Tensor& A, bool upper) {
  const Mats m = mats_of(A, "cholesky", true);
  const int64_t n = m.n;
  Tensor L = detail::new_tensor(A.shape(), A.dtype());
  detail::visit_float(A.dtype(), "cholesky", [&]<class T>() {
    for (int64_t i = 0; i < m.count; ++i) {
      if (n == 0) continue;
      CMat<T> a = load(A.data<T>() + i * n * n, n, n);
      const int info = xt::lapack::potr(a, 'L');
      if (info > 0)
        throw LinAlgError("cholesky: " + which(m, i) + " is not positive definite (leading minor " +
                          std::to_string(info) + ")");
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = r + 1; c < n; ++c) a(r, c) = 0;
      store(a, L.data<T>() + i * n * n, n, n);
    }
  });
  if (will_record({A}))
    record(
        opdefs::cholesky_op, L, {A},
        [sl = save_output(L)](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
          const Tensor L = sl.unpack(nd);
          const Tensor I = eye_as(L.size(-1), L);
          Tensor P = matmul(mT(L), g);
          P = tril(P) - 0.5 * (P * I);                             // Phi(L^T dL)
          const Tensor S = mT(solve(mT(L), mT(solve(mT(L), P))));  // L^-T P L^-1
          gx[0] = 0.5 * (S + mT(S));
        },
        [&](std::span<const Tensor> t) {
          // dL = L Phi(L^-1 dA L^-T) (Murray 2016)
          const Tensor I = eye_as(L.size(-1), L);
          const Tensor M = mT(solve(L, mT(solve(L, t[0]))));
          return matmul(L, tril(M) - 0.5 * (M * I));
        });
  return upper ? mT(L) : L;
}

// ---- qr ----
XG_OP(qr, {.formula =
               "A = QR (reduced), m >= n: dA = (dQ + Q copyltu(M)) R^-T, M = R dR^T - dQ^T Q; m < n: A = "
               "[X | Y] with X = Q U square (Liao, Liu, Wang, Xiang 2019, Differentiable programming tensor "
               "networks)",
           .kind = OpKind::primitive,
           .samples =
               [] {
                 auto q = [](auto& a) { return qr(a).first; };
                 auto r = [](auto& a) { return qr(a).second; };
                 return std::vector<OpSample>{
                     one("Q of [4, 3]", well_conditioned({4, 3}, 51), q, "OP(x0).Q"),
                     one("R of [4, 3]", well_conditioned({4, 3}, 52), r, "OP(x0).R"),
                     one("Q of [3, 3]", well_conditioned({3, 3}, 53), q, "OP(x0).Q"),
                     one("R of wide [2, 4]", well_conditioned({2, 4}, 54), r, "OP(x0).R"),
                     one("Q of wide [2, 4]", well_conditioned({2, 4}, 55), q, "OP(x0).Q"),
                     one(
                         "Q R batched [2, 3, 2]", well_conditioned({2, 3, 2}, 56),
                         [](auto& a) {
                           auto [Q, R] = qr(a);
                           return Q * 2.0 + matmul(Q, R);
                         },
                         "(lambda r: r.Q * 2.0 + r.Q @ r.R)(OP(x0))"),
                 };
               },
           .torch = "torch.linalg.qr"});
namespace {
// The backward of A = QR for m >= n (R square): (gQ + Q copyltu(M)) R^-T.
Tensor qr_backward_tall(const Tensor& gQ, const Tensor& gR, const Tensor& Q, const Tensor& R) {
  Tensor M = matmul(R, mT(gR)) - matmul(mT(gQ), Q);
  M = tril(M) + mT(tril(M, -1));  // copyltu: the lower triangle copied onto the upper one
  const Tensor b = gQ + matmul(Q, M);
  return mT(solve(R, mT(b)));  // b R^-T
}
// The tangents (dQ, dR) of A = QR for m >= n (Walter and Lehmann 2018, Algorithmic differentiation
// of linear algebra functions; Seeger et al. 2017, Auto-differentiating linear algebra): with
// C = Q^T dA R^-1 and Omega = Q^T dQ, the skew matrix whose strict lower triangle is C's,
// dR = (C - Omega) R (upper triangular) and dQ = Q Omega + (I - Q Q^T) dA R^-1.
std::pair<Tensor, Tensor> qr_jvp_tall(const Tensor& dA, const Tensor& Q, const Tensor& R) {
  const Tensor B = mT(solve(mT(R), mT(dA)));  // dA R^-1
  const Tensor C = matmul(mT(Q), B);
  const Tensor low = tril(C, -1);
  const Tensor omega = low - mT(low);
  return {matmul(Q, omega) + B - matmul(Q, C), matmul(C - omega, R)};
}
}  // namespace
std::pair<Tensor, Tensor> qr(const Tensor& A) {
  const Mats mm = mats_of(A, "qr", false);
  const int64_t m = mm.m, n = mm.n, k = std::min(m, n);
  Tensor Q = detail::new_tensor(with_tail(mm.batch, {m, k}), A.dtype());
  Tensor R = detail::new_tensor(with_tail(mm.batch, {k, n}), A.dtype());
  detail::visit_float(A.dtype(), "qr", [&]<class T>() {
    for (int64_t i = 0; i < mm.count; ++i) {
      if (k == 0) continue;
      CMat<T> a = load(A.data<T>() + i * m * n, m, n);
      std::vector<T> tau(static_cast<std::size_t>(k));
      xt::lapack::geqrf(a, tau);
      T* pr = R.data<T>() + i * k * n;
      for (int64_t r = 0; r < k; ++r)
        for (int64_t c = 0; c < n; ++c) pr[r * n + c] = c >= r ? a(r, c) : T(0);
      CMat<T> q;
      q.resize({static_cast<std::size_t>(m), static_cast<std::size_t>(k)});
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < k; ++c) q(r, c) = a(r, c);
      xt::lapack::orgqr(q, tau);
      store(q, Q.data<T>() + i * m * k, m, k);
    }
  });
  record_outputs(
      opdefs::qr_op, {Q, R}, std::span<const Tensor>(&A, 1),
      [sq = SavedTensor(Q, true, 0), sr = SavedTensor(R, true, 1), m, n](const Node& nd, std::span<Tensor> g,
                                                                         std::span<Tensor> gx) {
        const Tensor Q = sq.unpack(nd), R = sr.unpack(nd);
        const Tensor gQ = g[0].defined() ? g[0] : zeros_like(Q);
        const Tensor gR = g[1].defined() ? g[1] : zeros_like(R);
        if (m >= n) {
          gx[0] = qr_backward_tall(gQ, gR, Q, R);
          return;
        }
        // A = [X | Y], R = [U | V]: X = Q U is a square QR and Y = Q V.
        const Tensor U = narrow(R, -1, 0, m), V = narrow(R, -1, m, n - m);
        const Tensor gU = narrow(gR, -1, 0, m), gV = narrow(gR, -1, m, n - m);
        const Tensor Y = matmul(Q, V);
        const Tensor gX = qr_backward_tall(gQ + matmul(Y, mT(gV)), gU, Q, U);
        gx[0] = cat({gX, matmul(Q, gV)}, -1);
      },
      [&](std::span<const Tensor> t) -> std::vector<Tensor> {
        if (m >= n) {
          auto [dQ, dR] = qr_jvp_tall(t[0], Q, R);
          return {dQ, dR};
        }
        // A = [X | Y], R = [U | V]: (dQ, dU) from the square QR X = Q U, and V = Q^T Y
        // gives dV = dQ^T Y + Q^T dY.
        auto [dQ, dU] = qr_jvp_tall(narrow(t[0], -1, 0, m), Q, narrow(R, -1, 0, m));
        const Tensor dV = matmul(mT(dQ), narrow(A, -1, m, n - m)) + matmul(mT(Q), narrow(t[0], -1, m, n - m));
        return {dQ, cat({dU, dV}, -1)};
      });
  return {Q, R};
}

// ---- eigh ----
XG_OP(
    eigh,
    {.formula = "A = V diag(L) V^T: dA = V (diag(dL) + skew(V^T dV) / (L_j - L_i)) V^T (Giles 2008, "
                "for symmetric A)",
     .kind = OpKind::primitive,
     .samples =
         [] {
           return std::vector<OpSample>{
               one(
                   "values [3, 3]", well_conditioned({3, 3}, 61),
                   [](auto& a) { return eigh(a + mT(a)).first; }, "OP(x0 + x0.mT).eigenvalues"),
               one(
                   "vectors squared [3, 3]", well_conditioned({3, 3}, 62),
                   [](auto& a) {
                     const Tensor V = eigh(a + mT(a)).second;
                     return V * V;
                   },
                   "OP(x0 + x0.mT).eigenvectors ** 2"),
               one(
                   "V diag(c) V^T [3, 3]", well_conditioned({3, 3}, 63),
                   [](auto& a) {
                     const Tensor V = eigh(a + mT(a)).second;
                     return matmul(V * tensor({1.0, 2.0, 4.0}, {.dtype = Dtype::float64}), mT(V));
                   },
                   "(lambda r: (r.eigenvectors * torch.tensor([1.0, 2.0, 4.0])) @ r.eigenvectors.mT)(OP(x0 + "
                   "x0.mT))"),
               one(
                   "values and vectors batched [2, 3, 3]", spd_half({2, 3, 3}, 64),
                   [](auto& a) {
                     auto [L, V] = eigh(a + mT(a));
                     return unsqueeze(L, -1) * (V * V);
                   },
                   "(lambda r: r.eigenvalues.unsqueeze(-1) * r.eigenvectors ** 2)(OP(x0 + x0.mT))"),
           };
         },
     .torch = "torch.linalg.eigh"});
std::pair<Tensor, Tensor> eigh(const Tensor& A) {
  const Mats m = mats_of(A, "eigh", true);
  const int64_t n = m.n;
  Tensor L = detail::new_tensor(with_tail(m.batch, {n}), A.dtype());
  Tensor V = detail::new_tensor(A.shape(), A.dtype());
  detail::visit_float(A.dtype(), "eigh", [&]<class T>() {
    for (int64_t i = 0; i < m.count; ++i) {
      if (n == 0) continue;
      check_finite(A.data<T>() + i * n * n, n * n, m, i, "eigh");
      CMat<T> a = load(A.data<T>() + i * n * n, n, n);
      std::vector<T> w(static_cast<std::size_t>(n));
      if (xt::lapack::syevd(a, 'V', 'L', w) > 0)
        throw LinAlgError("eigh: the eigenvalue algorithm did not converge on " + which(m, i));
      std::copy(w.begin(), w.end(), L.data<T>() + i * n);
      store(a, V.data<T>() + i * n * n, n, n);
    }
  });
  record_outputs(
      opdefs::eigh_op, {L, V}, std::span<const Tensor>(&A, 1),
      [sl = SavedTensor(L, true, 0), sv = SavedTensor(V, true, 1)](const Node& nd, std::span<Tensor> g,
                                                                   std::span<Tensor> gx) {
        const Tensor L = sl.unpack(nd), V = sv.unpack(nd);
        Tensor inner;
        if (g[1].defined()) {
          Tensor W = matmul(mT(V), g[1]);
          W = 0.5 * (W - mT(W));  // the skew part: eigenvectors stay orthonormal
          // E_ij = L_j - L_i off the diagonal, 1 on it (where W is 0)
          const Tensor E = unsqueeze(L, -2) - unsqueeze(L, -1) + eye_as(L.size(-1), L);
          inner = W / E;
        }
        if (g[0].defined()) {
          const Tensor D = unsqueeze(g[0], -1) * eye_as(L.size(-1), L);
          inner = inner.defined() ? inner + D : D;
        }
        gx[0] = matmul(matmul(V, inner), mT(V));
      },
      [&](std::span<const Tensor> t) -> std::vector<Tensor> {
        // dL = diag(V^T dA V), dV = V (F o (V^T dA V)), F_ij = 1 / (L_j - L_i) off the
        // diagonal, 0 on it (Giles 2008, 3.1; Magnus 1985, On differentiating eigenvalues
        // and eigenvectors). dA is taken symmetric, sym(dA), as the backward's gradient is:
        // both treat A as the symmetric matrix eigh reads.
        const Tensor P = matmul(matmul(mT(V), 0.5 * (t[0] + mT(t[0]))), V);
        const Tensor I = eye_as(n, L);
        const Tensor F = (1.0 - I) / (unsqueeze(L, -2) - unsqueeze(L, -1) + I);
        return {diagonal(P, 0, -2, -1), matmul(V, F * P)};
      });
  return {L, V};
}

// ---- svd, svdvals ----
XG_OP(svd,
      {.formula =
           "A = U diag(S) Vh: dA = U [(F o (U^T dU - dU^T U)) S + diag(dS) + S (F o (V^T dV - dV^T V))] V^T "
           "+ (I - U U^T) dU S^-1 V^T + U S^-1 dV^T (I - V V^T), F_ij = 1 / (s_j^2 - s_i^2) (Townsend "
           "2016, Differentiating the singular value decomposition)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto usv = [](const Tensor& a, std::vector<double> c) {
               auto [U, S, Vh] = svd(a);
               return matmul(U * tensor(c, {.dtype = Dtype::float64}), Vh);
             };
             return std::vector<OpSample>{
                 one(
                     "S of [4, 3]", well_conditioned({4, 3}, 71), [](auto& a) { return std::get<1>(svd(a)); },
                     "OP(x0, full_matrices=False).S"),
                 one(
                     "U diag(c) Vh of [4, 3]", well_conditioned({4, 3}, 72),
                     [usv](auto& a) {
                       return usv(a, {1.0, 2.0, 4.0});
                     },
                     "(lambda r: (r.U * torch.tensor([1.0, 2.0, 4.0])) @ r.Vh)(OP(x0, full_matrices=False))"),
                 one(
                     "U diag(c) Vh of wide [2, 4]", well_conditioned({2, 4}, 73),
                     [usv](auto& a) {
                       return usv(a, {1.0, 3.0});
                     },
                     "(lambda r: (r.U * torch.tensor([1.0, 3.0])) @ r.Vh)(OP(x0, full_matrices=False))"),
                 one(
                     "U^2, S, Vh^2 batched [2, 3, 3]", well_conditioned({2, 3, 3}, 74),
                     [](auto& a) {
                       auto [U, S, Vh] = svd(a);
                       return U * U + unsqueeze(S, -1) * (Vh * Vh);
                     },
                     "(lambda r: r.U ** 2 + r.S.unsqueeze(-1) * r.Vh ** 2)(OP(x0, full_matrices=False))"),
             };
           },
       .torch = "torch.linalg.svd"});
std::tuple<Tensor, Tensor, Tensor> svd(const Tensor& A) {
  const Mats mm = mats_of(A, "svd", false);
  const int64_t m = mm.m, n = mm.n, k = std::min(m, n);
  Tensor U = detail::new_tensor(with_tail(mm.batch, {m, k}), A.dtype());
  Tensor S = detail::new_tensor(with_tail(mm.batch, {k}), A.dtype());
  Tensor Vh = detail::new_tensor(with_tail(mm.batch, {k, n}), A.dtype());
  detail::visit_float(A.dtype(), "svd", [&]<class T>() {
    for (int64_t i = 0; i < mm.count; ++i) {
      if (k == 0) continue;
      check_finite(A.data<T>() + i * m * n, m * n, mm, i, "svd");
      CMat<T> a = load(A.data<T>() + i * m * n, m, n);
      auto [info, u, s, vt] = xt::lapack::gesdd(a, 'S');
      if (info != 0) throw LinAlgError("svd: the SVD algorithm did not converge on " + which(mm, i));
      store(u, U.data<T>() + i * m * k, m, k);
      std::copy(s.begin(), s.begin() + k, S.data<T>() + i * k);
      store(vt, Vh.data<T>() + i * k * n, k, n);
    }
  });
  record_outputs(
      opdefs::svd_op, {U, S, Vh}, std::span<const Tensor>(&A, 1),
      [su = SavedTensor(U, true, 0), ss = SavedTensor(S, true, 1), sv = SavedTensor(Vh, true, 2), m, n](
          const Node& nd, std::span<Tensor> g, std::span<Tensor> gx) {
        const Tensor U = su.unpack(nd), S = ss.unpack(nd), V = mT(sv.unpack(nd));
        const Tensor &gU = g[0], &gS = g[1];
        const Tensor gV = g[2].defined() ? mT(g[2]) : Tensor();
        const int64_t k = S.size(-1);
        const Tensor I = eye_as(k, S);
        const Tensor Srow = unsqueeze(S, -2);  // s_j along the columns
        Tensor inner = gS.defined() ? unsqueeze(gS, -1) * I : Tensor();
        auto add = [&inner](const Tensor& t) { inner = inner.defined() ? inner + t : t; };
        Tensor F;
        if (gU.defined() || gV.defined()) {
          const Tensor S2 = S * S;
          F = (1.0 - I) /
              (unsqueeze(S2, -2) - unsqueeze(S2, -1) + I);  // 1 / (s_j^2 - s_i^2), 0 on the diagonal
        }
        Tensor extra;  // the parts outside span(U) and span(V)
        if (gU.defined()) {
          const Tensor UtgU = matmul(mT(U), gU);
          add((F * (UtgU - mT(UtgU))) * Srow);  // J S
          if (m > k) extra = matmul((gU - matmul(U, UtgU)) / Srow, mT(V));
        }
        if (gV.defined()) {
          const Tensor VtgV = matmul(mT(V), gV);
          add(mT(Srow) * (F * (VtgV - mT(VtgV))));  // S K
          if (n > k) {
            const Tensor t = matmul(U / Srow, mT(gV - matmul(V, VtgV)));
            extra = extra.defined() ? extra + t : t;
          }
        }
        Tensor gA = matmul(matmul(U, inner), mT(V));
        gx[0] = extra.defined() ? gA + extra : gA;
      },
      [&](std::span<const Tensor> t) -> std::vector<Tensor> {
        // Townsend 2016 in forward form: with dP = U^T dA V and F as above,
        // dS = diag(dP), U^T dU = F o (dP S + S dP^T), V^T dV = F o (S dP + dP^T S), and the
        // parts outside span(U), span(V): (I - U U^T) dA V S^-1, (I - V V^T) dA^T U S^-1.
        const Tensor& dA = t[0];
        const Tensor V = mT(Vh);
        const Tensor AV = matmul(dA, V);
        const Tensor dP = matmul(mT(U), AV);
        const Tensor I = eye_as(k, S);
        const Tensor S2 = S * S;
        const Tensor F = (1.0 - I) / (unsqueeze(S2, -2) - unsqueeze(S2, -1) + I);
        const Tensor Srow = unsqueeze(S, -2), Scol = unsqueeze(S, -1);
        Tensor dU = matmul(U, F * (dP * Srow + Scol * mT(dP)));
        Tensor dV = matmul(V, F * (Scol * dP + mT(dP) * Srow));
        if (m > k) dU = dU + (AV - matmul(U, dP)) / Srow;
        if (n > k) dV = dV + (matmul(mT(dA), U) - matmul(V, mT(dP))) / Srow;
        return {dU, diagonal(dP, 0, -2, -1), mT(dV)};
      });
  return {U, S, Vh};
}

XG_OP(svdvals, {.formula = "the S of svd(A) (composite: its gradient is U diag(dS) V^T)",
                .kind = OpKind::composite,
                .samples =
                    [] {
                      return std::vector<OpSample>{
                          one("[3, 3]", well_conditioned({3, 3}, 81), [](auto& a) { return svdvals(a); }),
                          one("[2, 4]", well_conditioned({2, 4}, 82), [](auto& a) { return svdvals(a); }),
                          one("batched [2, 4, 3]", well_conditioned({2, 4, 3}, 83),
                              [](auto& a) { return svdvals(a); }),
                      };
                    },
                .torch = "torch.linalg.svdvals"});
Tensor svdvals(const Tensor& A) {
  XG_COMPOSITE_SCOPE(svdvals);
  return std::get<1>(svd(A));
}

// ---- pinv, lstsq ----
XG_OP(pinv,
      {.formula = "A+ = V diag(1 / s) U^T over s > rtol max(s) (composite of svd)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 one("[4, 3]", well_conditioned({4, 3}, 91), [](auto& a) { return pinv(a); }),
                 one("[2, 3]", well_conditioned({2, 3}, 92), [](auto& a) { return pinv(a); }),
                 one("batched [2, 3, 3]", well_conditioned({2, 3, 3}, 93), [](auto& a) { return pinv(a); }),
             };
           },
       .torch = "torch.linalg.pinv"});
Tensor pinv(const Tensor& A, std::optional<double> rtol) {
  XG_COMPOSITE_SCOPE(pinv);
  const Mats mm = mats_of(A, "pinv", false);
  const int64_t k = std::min(mm.m, mm.n);
  if (k == 0) return zeros(with_tail(mm.batch, {mm.n, mm.m}), {.dtype = A.dtype()});
  auto [U, S, Vh] = svd(A);
  const double eps = A.dtype() == Dtype::float64 ? std::numeric_limits<double>::epsilon()
                                                 : std::numeric_limits<float>::epsilon();
  const double r = rtol ? *rtol : eps * static_cast<double>(std::max(mm.m, mm.n));
  Tensor keep;
  {
    NoGradGuard g;  // which singular values count: no gradient
    const Tensor Sd = S.detach();
    keep = gt(Sd, max(Sd, {-1}, true) * r);
  }
  const Tensor Sinv = where(keep, 1.0 / where(keep, S, ones_like(S)), zeros_like(S));
  return matmul(mT(Vh) * unsqueeze(Sinv, -2), mT(U));
}

XG_OP(lstsq,
      {.formula = "X = argmin ||A X - B||: R^-1 Q^T B (m >= n), Q R^-T B from A^T = QR (m < n); "
                  "composite of qr and solve",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 two(
                     "[4, 3] [4, 2]", well_conditioned({4, 3}, 101), sample_tensor({4, 2}, Domain::real, 102),
                     [](auto& a, auto& b) { return lstsq(a, b); }, "OP(x0, x1).solution"),
                 two(
                     "square [3, 3] [3, 1]", well_conditioned({3, 3}, 103),
                     sample_tensor({3, 1}, Domain::real, 104), [](auto& a, auto& b) { return lstsq(a, b); },
                     "OP(x0, x1).solution"),
                 two(
                     "minimum norm [2, 4] [2, 2]", well_conditioned({2, 4}, 105),
                     sample_tensor({2, 2}, Domain::real, 106), [](auto& a, auto& b) { return lstsq(a, b); },
                     "OP(x0, x1).solution"),
                 two(
                     "batched [2, 4, 2] [2, 4, 1]", well_conditioned({2, 4, 2}, 107),
                     sample_tensor({2, 4, 1}, Domain::real, 108),
                     [](auto& a, auto& b) { return lstsq(a, b); }, "OP(x0, x1).solution"),
             };
           },
       .torch = "torch.linalg.lstsq"});
Tensor lstsq(const Tensor& A0, const Tensor& B0) {
  XG_COMPOSITE_SCOPE(lstsq);
  const Dtype d = promoted(A0, B0, "lstsq");
  const Tensor A = A0.to(d), B = B0.to(d);
  const Mats ma = mats_of(A, "lstsq", false);
  if (B.dim() < 2 || B.size(-2) != ma.m)
    throw ShapeError("lstsq: B must be (*, m, k) with A's m, got A " + A.shape().str() + " and B " +
                     B.shape().str());
  const bool tall = ma.m >= ma.n;
  auto [Q, R] = qr(tall ? A : mT(A));
  {
    // Full rank: every |R_ii| above eps max(m, n) max_j |R_jj| (the rank test of a pivoted QR,
    // here without pivoting); otherwise the triangular solve would amplify rounding without bound.
    NoGradGuard g;
    const int64_t k = std::min(ma.m, ma.n);
    const std::vector<double> diag =
        abs(diagonal(R.detach(), 0, -2, -1)).to(Dtype::float64).to_vector<double>();
    const double eps = A.dtype() == Dtype::float64 ? std::numeric_limits<double>::epsilon()
                                                   : std::numeric_limits<float>::epsilon();
    for (int64_t i = 0; i < ma.count && k > 0; ++i) {
      // A NaN in the input makes R's diagonal NaN: no rank to test, the NaN propagates to the
      // solution, as PyTorch's.
      if (std::any_of(diag.begin() + i * k, diag.begin() + (i + 1) * k,
                      [](double v) { return std::isnan(v); }))
        continue;
      const double top = *std::max_element(diag.begin() + i * k, diag.begin() + (i + 1) * k);
      for (int64_t j = 0; j < k; ++j)
        if (!(diag[i * k + j] > eps * static_cast<double>(std::max(ma.m, ma.n)) * top))
          throw LinAlgError("lstsq: " + which(ma, i) + " is rank deficient (R[" + std::to_string(j) + ", " +
                            std::to_string(j) + "] of its QR is " + std::to_string(diag[i * k + j]) +
                            "); xgrad's lstsq needs full rank");
    }
  }
  return tall ? solve(R, matmul(mT(Q), B)) : matmul(Q, solve(mT(R), B));
}

// ---- norms ----
namespace {
// A with the axes d0, d1 moved to the end; `undo` puts keepdim's two axes of 1 back.
struct MatrixAxes {
  int d0, d1;
  Tensor moved;
  Tensor undo(Tensor r, bool keepdim) const {
    if (!keepdim) return r;
    r = unsqueeze(r, std::min(d0, d1));
    return unsqueeze(r, std::max(d0, d1));
  }
};
MatrixAxes matrix_axes(const Tensor& A, const Axes& dim, const char* op) {
  if (!A.defined()) throw ValueError(std::string(op) + ": the input is undefined");
  if (!A.is_floating_point())
    throw TypeError(std::string(op) + ": expected a float32 or float64 tensor, got " + dtype_name(A.dtype()));
  if (dim.size() != 2)
    throw ValueError(std::string(op) + ": dim must name two axes, got " + std::to_string(dim.size()));
  if (A.dim() < 2)
    throw ShapeError(std::string(op) + ": expected at least 2 axes, got shape " + A.shape().str());
  const int d0 = detail::wrap_axis(dim[0], A.dim(), op), d1 = detail::wrap_axis(dim[1], A.dim(), op);
  if (d0 == d1) throw ValueError(std::string(op) + ": dim names axis " + std::to_string(d0) + " twice");
  Axes perm;
  for (int i = 0; i < A.dim(); ++i)
    if (i != d0 && i != d1) perm.push_back(i);
  perm.push_back(d0);
  perm.push_back(d1);
  const bool same = d0 == A.dim() - 2 && d1 == A.dim() - 1;
  return {d0, d1, same ? A : permute(A, perm)};
}
}  // namespace

XG_OP(matrix_norm,
      {.formula =
           "fro: sqrt(sum a^2); nuc: sum of the singular values; 2 / -2: largest / smallest one; 1, inf: "
           "max column / row sum of |a| (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 one("fro [3, 4]", sample_tensor({3, 4}, Domain::real, 111),
                     [](auto& a) { return matrix_norm(a); }),
                 one(
                     "nuc [3, 4]", well_conditioned({3, 4}, 112),
                     [](auto& a) { return matrix_norm(a, "nuc"); }, "OP(x0, 'nuc')"),
                 one(
                     "nuc keepdim batched [2, 3, 3]", well_conditioned({2, 3, 3}, 113),
                     [](auto& a) {
                       return matrix_norm(a, "nuc", {-2, -1}, true);
                     },
                     "OP(x0, 'nuc', keepdim=True)"),
                 one(
                     "fro dim (0, 2) [3, 2, 4]", sample_tensor({3, 2, 4}, Domain::real, 114),
                     [](auto& a) {
                       return matrix_norm(a, "fro", {0, 2});
                     },
                     "OP(x0, 'fro', dim=(0, 2))"),
                 one(
                     "2 [3, 3]", well_conditioned({3, 3}, 115), [](auto& a) { return matrix_norm(a, 2.0); },
                     "OP(x0, 2)"),
                 one(
                     "-2 [3, 4]", well_conditioned({3, 4}, 116), [](auto& a) { return matrix_norm(a, -2.0); },
                     "OP(x0, -2)"),
                 one(
                     "1 [3, 4]", sample_tensor({3, 4}, Domain::nonzero, 117),
                     [](auto& a) { return matrix_norm(a, 1.0); }, "OP(x0, 1)"),
                 one(
                     "inf dim (1, 0) [2, 3, 4]", sample_tensor({2, 3, 4}, Domain::nonzero, 118),
                     [](auto& a) {
                       return matrix_norm(a, INFINITY, {1, 0});
                     },
                     "OP(x0, float('inf'), dim=(1, 0))"),
             };
           },
       .torch = "torch.linalg.matrix_norm"});
Tensor matrix_norm(const Tensor& A, const std::string& ord, const Axes& dim, bool keepdim) {
  XG_COMPOSITE_SCOPE(matrix_norm);
  const MatrixAxes ax = matrix_axes(A, dim, "matrix_norm");
  if (ord == "fro") return norm(A, 2.0, {ax.d0, ax.d1}, keepdim);
  if (ord == "nuc") return ax.undo(sum(svdvals(ax.moved), {-1}), keepdim);
  throw ValueError("matrix_norm: ord must be 'fro' or 'nuc' (or a number: 2, -2, 1, -1, inf, -inf), got '" +
                   ord + "'");
}
Tensor matrix_norm(const Tensor& A, double ord, const Axes& dim, bool keepdim) {
  XG_COMPOSITE_SCOPE(matrix_norm);
  const MatrixAxes ax = matrix_axes(A, dim, "matrix_norm");
  const Tensor& M = ax.moved;
  Tensor r;
  if (ord == 2.0 || ord == -2.0) {
    const Tensor s = svdvals(M);
    r = ord > 0 ? max(s, {-1}) : min(s, {-1});
  } else if (ord == 1.0 || ord == -1.0) {
    const Tensor c = sum(abs(M), {-2});
    r = ord > 0 ? max(c, {-1}) : min(c, {-1});
  } else if (std::isinf(ord)) {
    const Tensor c = sum(abs(M), {-1});
    r = ord > 0 ? max(c, {-1}) : min(c, {-1});
  } else {
    throw ValueError("matrix_norm: ord must be 2, -2, 1, -1, inf or -inf (or 'fro', 'nuc'), got " +
                     std::to_string(ord));
  }
  return ax.undo(r, keepdim);
}

XG_OP(vector_norm,
      {.formula =
           "(sum |x|^p)^(1/p); inf: max |x|, -inf: min |x| (ties share), 0: count of nonzeros (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 one("2 [3, 4]", sample_tensor({3, 4}, Domain::real, 121),
                     [](auto& x) { return vector_norm(x); }),
                 one(
                     "1 [5]", sample_tensor({5}, Domain::nonzero, 122),
                     [](auto& x) { return vector_norm(x, 1.0); }, "OP(x0, 1)"),
                 one(
                     "inf [2, 3]", sample_tensor({2, 3}, Domain::real, 123),
                     [](auto& x) { return vector_norm(x, INFINITY); }, "OP(x0, float('inf'))"),
                 one(
                     "-inf dim 1 [2, 3]", sample_tensor({2, 3}, Domain::nonzero, 124),
                     [](auto& x) { return vector_norm(x, -INFINITY, {1}); },
                     "OP(x0, float('-inf'), dim=(1,))"),
                 one(
                     "3 dim 1 [2, 3, 2]", sample_tensor({2, 3, 2}, Domain::nonzero, 125),
                     [](auto& x) { return vector_norm(x, 3.0, {1}); }, "OP(x0, 3.0, dim=(1,))"),
                 one(
                     "0.5 dim (0, 2) keepdim [2, 3, 2]", sample_tensor({2, 3, 2}, Domain::nonzero, 126),
                     [](auto& x) {
                       return vector_norm(x, 0.5, {0, 2}, true);
                     },
                     "OP(x0, 0.5, dim=(0, 2), keepdim=True)"),
                 one(
                     "2 dim 0 keepdim [3, 2]", sample_tensor({3, 2}, Domain::real, 127),
                     [](auto& x) { return vector_norm(x, 2.0, {0}, true); },
                     "OP(x0, 2, dim=(0,), keepdim=True)"),
             };
           },
       .torch = "torch.linalg.vector_norm"});
Tensor vector_norm(const Tensor& x, double ord, const Axes& dim, bool keepdim) {
  XG_COMPOSITE_SCOPE(vector_norm);
  if (!x.defined()) throw ValueError("vector_norm: the input is undefined");
  if (!x.is_floating_point())
    throw TypeError(std::string("vector_norm: expected a float32 or float64 tensor, got ") +
                    dtype_name(x.dtype()));
  if (std::isnan(ord)) throw ValueError("vector_norm: ord is NaN");
  if (std::isinf(ord)) return ord > 0 ? max(abs(x), dim, keepdim) : min(abs(x), dim, keepdim);
  if (ord == 0) {
    NoGradGuard g;
    return sum(ne(x, 0.0), dim, keepdim);
  }
  if (ord > 0) return norm(x, ord, dim, keepdim);
  return pow(sum(pow(abs(x), ord), dim, keepdim), 1.0 / ord);
}

// ---- matrix_exp, matrix_power ----
XG_OP(matrix_exp,
      {.formula = "dA = the upper right block of exp([[A^T, dE], [0, A^T]]) (the adjoint Frechet derivative; "
                  "Najfeld and Havel 1995, Mathias 1996)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto scaled = [](const Shape& s, unsigned salt, double f) {
               NoGradGuard g;
               return leaf(sample_tensor(s, Domain::real, salt) * f);
             };
             return std::vector<OpSample>{
                 one("[3, 3]", scaled({3, 3}, 131, 0.5), [](auto& a) { return matrix_exp(a); }),
                 one("norm > 1/2: squarings [3, 3]", scaled({3, 3}, 132, 2.0),
                     [](auto& a) { return matrix_exp(a); }),
                 one("batched [2, 2, 2]", scaled({2, 2, 2}, 133, 1.0), [](auto& a) { return matrix_exp(a); }),
             };
           },
       .torch = "torch.linalg.matrix_exp"});
Tensor matrix_exp(const Tensor& A) {
  const Mats m = mats_of(A, "matrix_exp", true);
  const int64_t n = m.n;
  Tensor E = detail::new_tensor(A.shape(), A.dtype());
  detail::visit_float(A.dtype(), "matrix_exp", [&]<class T>() {
    std::vector<double> a(static_cast<std::size_t>(n * n)), e(a.size());
    for (int64_t i = 0; i < m.count; ++i) {
      const T* pa = A.data<T>() + i * n * n;
      std::copy(pa, pa + n * n, a.begin());
      expm_one(a.data(), e.data(), n);
      std::transform(e.begin(), e.end(), E.data<T>() + i * n * n, [](double v) { return static_cast<T>(v); });
    }
  });
  if (!will_record({A})) return E;
  return record(
      opdefs::matrix_exp_op, E, {A},
      [sa = save_input(A)](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
        const Tensor At = mT(sa.unpack(nd));
        const int64_t n = At.size(-1);
        const Tensor block = cat({cat({At, g}, -1), cat({zeros_like(At), At}, -1)}, -2);
        gx[0] = narrow(narrow(matrix_exp(block), -2, 0, n), -1, n, n);
      },
      [&](std::span<const Tensor> t) {
        // dE is the upper right block of exp([[A, dA], [0, A]]) (Higham 2008, Functions of
        // Matrices, 3.2), the backward's block with A for A^T
        const Tensor block = cat({cat({A, t[0]}, -1), cat({zeros_like(A), A}, -1)}, -2);
        return narrow(narrow(matrix_exp(block), -2, 0, n), -1, n, n);
      });
}

XG_OP(matrix_power, {.formula = "A^n by repeated squaring (composite of matmul; inv for n < 0)",
                     .kind = OpKind::composite,
                     .samples =
                         [] {
                           return std::vector<OpSample>{
                               one(
                                   "n 3 [3, 3]", sample_tensor({3, 3}, Domain::real, 141),
                                   [](auto& a) { return matrix_power(a, 3); }, "OP(x0, 3)"),
                               one(
                                   "n 1 [2, 2]", sample_tensor({2, 2}, Domain::real, 142),
                                   [](auto& a) { return matrix_power(a, 1); }, "OP(x0, 1)"),
                               one(
                                   "n 0 [2, 2]", sample_tensor({2, 2}, Domain::real, 143),
                                   [](auto& a) { return matrix_power(a, 0); }, "OP(x0, 0)"),
                               one(
                                   "n -2 [3, 3]", well_conditioned({3, 3}, 144),
                                   [](auto& a) { return matrix_power(a, -2); }, "OP(x0, -2)"),
                               one(
                                   "n 6 batched [2, 2, 2]", sample_tensor({2, 2, 2}, Domain::unit, 145),
                                   [](auto& a) { return matrix_power(a, 6); }, "OP(x0, 6)"),
                           };
                         },
                     .torch = "torch.linalg.matrix_power"});
Tensor matrix_power(const Tensor& A, int64_t n) {
  XG_COMPOSITE_SCOPE(matrix_power);
  const Mats m = mats_of(A, "matrix_power", true);
  // n = 0: the identity for every A, NaN included (as pow(NaN, 0) = 1), kept on A's graph with
  // gradient 0: A * 0 with its NaN (from NaN or inf in A) filled by 0.
  if (n == 0) {
    const Tensor zero = A * 0.0;
    return masked_fill(zero, ne(zero.detach(), zero.detach()), 0.0) + eye_as(m.n, A);
  }
  Tensor base = n < 0 ? inv(A) : A;
  uint64_t e = n < 0 ? static_cast<uint64_t>(-(n + 1)) + 1 : static_cast<uint64_t>(n);
  Tensor result;
  while (true) {
    if (e & 1) result = result.defined() ? matmul(result, base) : base;
    e >>= 1;
    if (!e) break;
    base = matmul(base, base);
  }
  return result;
}

// ---- cross ----
XG_OP(cross, {.formula = "a x b = (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0) (composite)",
              .kind = OpKind::composite,
              .samples =
                  [] {
                    auto c = [](int64_t d) { return [d](auto& a, auto& b) { return cross(a, b, d); }; };
                    return std::vector<OpSample>{
                        two("[3]", sample_tensor({3}, Domain::real, 151),
                            sample_tensor({3}, Domain::real, 152), c(-1)),
                        two("dim 0 [3, 2]", sample_tensor({3, 2}, Domain::real, 153),
                            sample_tensor({3, 2}, Domain::real, 154), c(0), "OP(x0, x1, dim=0)"),
                        two("broadcast [2, 4, 3] [1, 4, 3]", sample_tensor({2, 4, 3}, Domain::real, 155),
                            sample_tensor({1, 4, 3}, Domain::real, 156), c(-1)),
                    };
                  },
              .torch = "torch.linalg.cross"});
Tensor cross(const Tensor& a0, const Tensor& b0, int64_t dim) {
  XG_COMPOSITE_SCOPE(cross);
  if (!a0.defined() || !b0.defined()) throw ValueError("cross: an operand is undefined");
  const int r = std::max(a0.dim(), b0.dim());
  auto lift = [r](const Tensor& t) {
    Shape s;
    for (int i = t.dim(); i < r; ++i) s.push_back(1);
    for (int64_t e : t.shape()) s.push_back(e);
    return t.dim() == r ? t : reshape(t, s);
  };
  const Tensor a = lift(a0), b = lift(b0);
  detail::broadcast_shapes(a.shape(), b.shape(), "cross");
  const int d = detail::wrap_axis(dim, r, "cross");
  if (a.shape()[d] != 3 || b.shape()[d] != 3)
    throw ShapeError("cross: dim " + std::to_string(dim) + " must have size 3 in both operands, got " +
                     a0.shape().str() + " and " + b0.shape().str());
  auto at = [d](const Tensor& t, int64_t i) { return narrow(t, d, i, 1); };
  return cat({at(a, 1) * at(b, 2) - at(a, 2) * at(b, 1), at(a, 2) * at(b, 0) - at(a, 0) * at(b, 2),
              at(a, 0) * at(b, 1) - at(a, 1) * at(b, 0)},
             d);
}

}  // namespace linalg

// ---- cholesky_solve (torch.cholesky_solve, outside torch.linalg) ----
XG_OP(cholesky_solve,
      {.formula =
           "X = (L L^T)^-1 B = L^-T (L^-1 B) (composite of solve: the gradient treats L as a full matrix, "
           "as PyTorch's)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 two(
                     "[3, 2] L of [3, 3]", sample_tensor({3, 2}, Domain::real, 161), spd_half({3, 3}, 162),
                     [](auto& b, auto& a) { return cholesky_solve(b, linalg::cholesky(a + mT(a))); },
                     "OP(x0, torch.linalg.cholesky(x1 + x1.mT))"),
                 two(
                     "upper, batched [2, 3, 1]", sample_tensor({2, 3, 1}, Domain::real, 163),
                     spd_half({2, 3, 3}, 164),
                     [](auto& b, auto& a) {
                       return cholesky_solve(b, linalg::cholesky(a + mT(a), true), true);
                     },
                     "OP(x0, torch.linalg.cholesky(x1 + x1.mT, upper=True), upper=True)"),
             };
           },
       .torch = "torch.cholesky_solve"});
Tensor cholesky_solve(const Tensor& B, const Tensor& L, bool upper) {
  XG_COMPOSITE_SCOPE(cholesky_solve);
  mats_of(L, "cholesky_solve", true);
  if (!B.defined() || B.dim() < 2)
    throw ShapeError("cholesky_solve: B must be (*, n, k), got " +
                     (B.defined() ? B.shape().str() : std::string("undefined")));
  const Tensor low = upper ? mT(L) : L;
  return linalg::solve(mT(low), linalg::solve(low, B));
}

}  // namespace xg
