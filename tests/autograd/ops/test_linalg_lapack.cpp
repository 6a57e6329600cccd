// torch.linalg on LAPACK (autograd/ops/linalg_lapack.cpp): values and gradients against PyTorch 1.13
// (the torch call is named above each expectation), batched and float32 cases, and the errors:
// singular, non-square and not positive definite matrices name the op and the batch element.
// (Every sample is also gradchecked and gradgradchecked by the registry sweep, and compared with
// PyTorch by the parity suite.)
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "xgrad/autograd.hpp"

using xg::Tensor;
using xg_test::check_values;
namespace la = xg::linalg;

namespace {
Tensor f64(const std::vector<double>& v, const xg::Shape& s, bool requires_grad = false) {
  return xg::tensor(v, s, {.dtype = xg::Dtype::float64, .requires_grad = requires_grad});
}
// A = [[4, 1, 2], [1, 5, 3], [2, 3, 6]] (symmetric positive definite)
Tensor spd3(bool requires_grad = false) {
  return f64({4, 1, 2, 1, 5, 3, 2, 3, 6}, {3, 3}, requires_grad);
}
// B = [[1, 2], [3, 4], [5, 6]]
Tensor b32(bool requires_grad = false) {
  return f64({1, 2, 3, 4, 5, 6}, {3, 2}, requires_grad);
}
// W = [[1, 2, 3], [0.5, -1, 2], [1, 0, -2]], weights that tell the elements apart
Tensor w33() {
  return f64({1, 2, 3, 0.5, -1, 2, 1, 0, -2}, {3, 3});
}
Tensor w32() {
  return f64({1, 2, 0.5, -1, 1, 0}, {3, 2});
}
// The gradient of sum(y * g) with respect to x.
Tensor grad_of(const Tensor& y, const Tensor& x, const Tensor& g) {
  return xg::grad({y}, {x}, {g})[0];
}
}  // namespace

TEST_CASE("solve and inv: values and gradients") {
  Tensor A = spd3(true), B = b32(true);
  Tensor X = la::solve(A, B);
  // torch.linalg.solve(A, B)
  check_values(X, {-0.19999999999999996, 2.7755575615628914e-17, 0.14285714285714302, 0.2857142857142857,
                   0.8285714285714284, 0.8571428571428571});
  // (torch.linalg.solve(A, B) * W2).sum().backward()
  auto g = xg::grad({X}, {A, B}, {w32()});
  check_values(g[0], {0.03999999999999998, -0.2, -0.6799999999999999, 0, 0.08163265306122448,
                      0.24489795918367344, 0.019999999999999997, 0.002040816326530596, -0.03387755102040815});
  check_values(g[1], {0.2, 0.6, 0.0, -0.2857142857142857, 0.1, -0.05714285714285715});
  // torch.linalg.inv(A)
  check_values(la::inv(A), {0.3, 0.0, -0.09999999999999999, 0.0, 0.2857142857142857, -0.14285714285714285,
                            -0.1, -0.14285714285714285, 0.2714285714285714});
  // (torch.linalg.inv(A) * W).sum().backward()
  check_values(grad_of(la::inv(A), A, w33()),
               {0.049999999999999996, -0.014285714285714278, -0.19285714285714284, 0.0857142857142857,
                0.2040816326530612, -0.273469387755102, -0.14285714285714285, -0.14489795918367346,
                0.3081632653061224});
}

TEST_CASE("solve: vector right-hand side, broadcast batch axes, float32") {
  Tensor A = spd3();
  Tensor b = f64({1, 3, 5}, {3});
  Tensor x = la::solve(A, b);
  CHECK(x.shape() == xg::Shape{3});
  check_values(x, {-0.19999999999999996, 0.14285714285714302, 0.8285714285714284});
  // A batch of two A's against one B: the batch axis broadcasts.
  Tensor A2 = xg::stack({A, A * 2.0});
  Tensor X2 = la::solve(A2, b32());
  CHECK(X2.shape() == xg::Shape{2, 3, 2});
  check_values(xg::slice(X2, 0, 1, 2),
               {-0.1, 0, 0.0714285714285715, 0.14285714285714285, 0.4142857142857142, 0.42857142857142855});
  // torch.linalg.solve(A.float(), B.float())
  Tensor X32 = la::solve(A.to(xg::Dtype::float32), b32().to(xg::Dtype::float32));
  CHECK(X32.dtype() == xg::Dtype::float32);
  check_values(X32.to(xg::Dtype::float64), {-0.2, 0, 0.142857, 0.285714, 0.828571, 0.857143}, 1e-6);
  // mixed dtypes promote to float64
  CHECK(la::solve(A.to(xg::Dtype::float32), b32()).dtype() == xg::Dtype::float64);
}

TEST_CASE("det and slogdet: values, sign, batches, singular matrices") {
  Tensor N = f64({1, 2, 3, 4}, {2, 2});
  check_values(la::det(N), {-2.0});  // torch.linalg.det
  auto [s, l] = la::slogdet(N);
  check_values(s, {-1.0});
  check_values(l, {0.6931471805599453});
  CHECK_FALSE(s.requires_grad());
  // torch.linalg.det(torch.stack([A, [[1, 2, 3], [4, 5, 6], [7, 8, 10]]]))
  Tensor Ab = xg::stack({spd3(), f64({1, 2, 3, 4, 5, 6, 7, 8, 10}, {3, 3})});
  check_values(la::det(Ab), {70.0, -3.0});
  // A singular matrix: det 0 and slogdet (0, -inf), as PyTorch (no error, no NaN)
  Tensor S = f64({1, 2, 2, 4}, {2, 2});
  check_values(la::det(S), {0.0});
  auto [s0, l0] = la::slogdet(S);
  check_values(s0, {0.0});
  CHECK(l0.item() == -std::numeric_limits<double>::infinity());
  // torch.linalg.det(A).backward(): det(A) A^-T
  Tensor A = spd3(true);
  check_values(grad_of(la::det(A), A, xg::scalar_tensor(1.0, {.dtype = xg::Dtype::float64})),
               {21, 0, -7, 0, 20, -10, -7, -10, 19}, 1e-11);
  // at a singular matrix the gradient is the adjugate's transpose (PyTorch 1.13 gives 0 there, and
  // fails its own gradcheck; these are the gradients of the Leibniz formula in PyTorch)
  Tensor S2 = f64({1, 2, 2, 4}, {2, 2}, true);
  check_values(grad_of(la::det(S2), S2, xg::scalar_tensor(1.0, {.dtype = xg::Dtype::float64})),
               {4, -2, -2, 1});
  Tensor S3 = f64({1, 2, 3, 2, 4, 6, 1, 0, 1}, {3, 3}, true);
  check_values(grad_of(la::det(S3), S3, xg::scalar_tensor(2.0, {.dtype = xg::Dtype::float64})),
               {8, 8, -8, -4, -4, 4, 0, 0, 0});
  // the 0 x 0 determinant is 1
  check_values(la::det(xg::zeros({0, 0}, {.dtype = xg::Dtype::float64})), {1.0});
}

TEST_CASE("cholesky and cholesky_solve") {
  Tensor A = spd3(true);
  Tensor L = la::cholesky(A);
  // torch.linalg.cholesky(A)
  check_values(L, {2.0, 0.0, 0.0, 0.5, 2.179449471770337, 0.0, 1.0, 1.1470786693528088, 1.9194297398747862});
  check_values(la::cholesky(A, true),
               {2.0, 0.5, 1.0, 0.0, 2.179449471770337, 1.1470786693528088, 0.0, 0.0, 1.9194297398747862});
  // (torch.linalg.cholesky(A) * W).sum().backward(): symmetric
  check_values(grad_of(L, A, w33()), {0.008695684111387218, 0.08133131557949379, 0.44194297398747867,
                                      0.08133131557949383, -0.37373375942505693, 0.27420424855354086,
                                      0.4419429739874786, 0.27420424855354086, -0.5209880722517277});
  // torch.cholesky_solve(B, torch.linalg.cholesky(A)) = solve(A, B)
  check_values(xg::cholesky_solve(b32(), L),
               {-0.2, 0, 0.14285714285714268, 0.28571428571428553, 0.8285714285714287, 0.8571428571428573});
  check_values(xg::cholesky_solve(b32(), la::cholesky(A, true), true),
               {-0.2, 0, 0.14285714285714268, 0.28571428571428553, 0.8285714285714287, 0.8571428571428573});
}

TEST_CASE("qr: reduced, tall and wide, and its gradient") {
  Tensor B = b32(true);
  auto [Q, R] = la::qr(B);
  CHECK(Q.shape() == xg::Shape{3, 2});
  CHECK(R.shape() == xg::Shape{2, 2});
  // torch.linalg.qr(B)
  check_values(Q, {-0.16903085094570325, 0.8970852271450607, -0.50709255283711, 0.27602622373694136,
                   -0.8451542547285166, -0.34503277967117696});
  check_values(R, {-5.916079783099616, -7.437357441610946, 0.0, 0.828078671210825});
  // ((Q * B).sum() + (R * [[1, 2], [3, 4]]).sum()).backward()
  Tensor loss = xg::sum(Q * b32()) + xg::sum(R * f64({1, 2, 3, 4}, {2, 2}));
  check_values(xg::grad({loss}, {B})[0], {-6.0589838286911295, 3.2502792066888366, -2.319385776758777,
                                          0.08991978927354535, 1.4202122751735706, -3.0704396281417425});
  // wide: [[1, 2, 3], [4, 5, 7]]
  Tensor Wd = f64({1, 2, 3, 4, 5, 7}, {2, 3}, true);
  auto [Qw, Rw] = la::qr(Wd);
  check_values(Rw, {-4.123105625617661, -5.335783750799326, -7.518604376126323, 0.0, -0.7276068751089992,
                    -1.2126781251816663});
  Tensor lw = xg::sum(Qw * f64({1, 2, 3, 4}, {2, 2})) + xg::sum(Rw * f64({1, 2, 3, 3, 4, 5}, {2, 3}));
  check_values(xg::grad({lw}, {Wd})[0], {13.396526582889216, -4.365641250653994, -5.578319375835659,
                                         -4.379908052126717, -0.9701425001453325, -1.6977493752543318});
}

TEST_CASE("eigh: values, gauge-invariant vectors, gradients") {
  Tensor A = spd3(true);
  auto [L, V] = la::eigh(A);
  // torch.linalg.eigh(A)
  check_values(L, {2.1943971674224096, 3.3867701566075494, 9.418832675970037});
  check_values(V * V, {0.19467923313108043, 0.6651763138199527, 0.14014445304896678, 0.33333333333333315,
                       0.33333333333333354, 0.33333333333333304, 0.4719874335355862, 0.0014903528467138105,
                       0.5265222136176997});
  // (eigh(A)[0] * [1, 2, 3]).sum().backward()
  check_values(
      grad_of(L, A, f64({1, 2, 3}, {3})),
      {1.9454652199178861, -0.038605088352623114, 0.5747689023379124, -0.03860508835262315,
       1.9999999999999993, 0.8155834192894995, 0.5747689023379124, 0.8155834192894995, 2.054534780082113});
  // ((V * V) * W).sum().backward()
  auto [L2, V2] = la::eigh(A);
  check_values(grad_of(V2 * V2, A, w33()), {0.5653738093709835, 0.2805638745770517, -0.45903843523811655,
                                            0.2805638745770516, -0.19798270988235803, 0.3679651501096619,
                                            -0.45903843523811655, 0.3679651501096619, -0.3673910994886255});
  // only the lower triangle is read (UPLO = "L")
  Tensor upper_garbage = f64({4, 100, -7, 1, 5, 9, 2, 3, 6}, {3, 3});
  check_values(la::eigh(upper_garbage).first, {2.1943971674224096, 3.3867701566075494, 9.418832675970037});
}

TEST_CASE("svd, svdvals, pinv, lstsq") {
  Tensor B = b32(true);
  auto [U, S, Vh] = la::svd(B);
  CHECK(U.shape() == xg::Shape{3, 2});
  CHECK(Vh.shape() == xg::Shape{2, 2});
  check_values(S, {9.525518091565107, 0.5143005806586443});  // torch.linalg.svdvals(B)
  check_values(la::svdvals(B), {9.525518091565107, 0.5143005806586443});
  // U diag(S) Vh reproduces B
  check_values(xg::matmul(U * S, Vh), {1, 2, 3, 4, 5, 6});
  // ((U * [1, 3]) @ Vh * W2).sum().backward()
  check_values(grad_of(xg::matmul(U * f64({1, 3}, {2}), Vh), B, w32()),
               {-0.8891093733848089, 1.3152731490287872, 2.8129545309470148, -2.2439360054338495,
                -0.9945645900676535, 0.6280444090933089},
               1e-11);
  // torch.linalg.pinv(B), and (pinv(B) * W2^T).sum().backward()
  Tensor P = la::pinv(B);
  check_values(P, {-1.3333333333333337, -0.3333333333333328, 0.6666666666666665, 1.0833333333333337,
                   0.333333333333333, -0.4166666666666666});
  check_values(grad_of(P, B, xg::transpose(w32(), 0, 1)),
               {0.5833333333333344, -0.2083333333333348, 2.1666666666666643, -1.666666666666665,
                -1.250000000000007, 0.8750000000000062},
               1e-11);
  // torch.linalg.lstsq(B, b).solution and its gradients with weights [[1], [2]]
  Tensor b = f64({1, 0, 2}, {3, 1}, true);
  Tensor X = la::lstsq(B, b);
  check_values(X, {0, 0.25000000000000006});
  auto g = xg::grad({X}, {B, b}, {f64({1, 2}, {2, 1})});
  check_values(g[0], {-0.6666666666666659, 0.33333333333333226, 1.3333333333333346, -1.1666666666666679,
                      -0.6666666666666671, 0.5833333333333336});
  check_values(g[1], {0.8333333333333337, 0.33333333333333315, -0.16666666666666663});
  // a rank-1 matrix: pinv drops the zero singular value instead of dividing by it
  Tensor R1 = f64({1, 2, 2, 4}, {2, 2});
  check_values(la::pinv(R1), {0.04, 0.08, 0.08, 0.16});
}

TEST_CASE("matrix_norm and vector_norm") {
  Tensor B = b32(true);
  // torch.linalg.matrix_norm(B), (B, 'nuc'), (B, 2)
  check_values(la::matrix_norm(B), {9.539392014169456});
  check_values(la::matrix_norm(B, "nuc"), {10.039818672223753});
  check_values(la::matrix_norm(B, 2.0), {9.525518091565107});
  check_values(la::matrix_norm(B, 1.0), {12});
  check_values(la::matrix_norm(B, -INFINITY), {3});
  // torch.linalg.matrix_norm(B, 'nuc').backward(): U Vh
  check_values(grad_of(la::matrix_norm(B, "nuc"), B, xg::scalar_tensor(1.0, {.dtype = xg::Dtype::float64})),
               {-0.5510032429894987, 0.7278246763805066, 0.1361585186719082, 0.5610652289408111,
                0.8233202803333143, 0.3943057815011163});
  CHECK(la::matrix_norm(xg::stack({B, B}), "fro", {-2, -1}, true).shape() == xg::Shape{2, 1, 1});
  Tensor x = f64({3, -4, 1}, {3});
  // torch.linalg.vector_norm(x), (x, 1), (x, inf), (x, 3)
  check_values(la::vector_norm(x), {5.0990195135927845});
  check_values(la::vector_norm(x, 1.0), {8.0});
  check_values(la::vector_norm(x, INFINITY), {4.0});
  check_values(la::vector_norm(x, 3.0), {4.514357435474001});
  check_values(la::vector_norm(x, 0.0), {3.0});
  CHECK(la::vector_norm(b32(), 2.0, {0}, true).shape() == xg::Shape{1, 2});
}

TEST_CASE("matrix_exp, matrix_power, cross") {
  Tensor M = f64({0.1, 0.5, -0.3, 0.2}, {2, 2}, true);
  // torch.linalg.matrix_exp(M) and (M * 10), the latter through squarings
  check_values(la::matrix_exp(M),
               {1.020522898031927, 0.5667411944926546, -0.3400447166955927, 1.1338711369304577});
  check_values(la::matrix_exp(M * 10.0),
               {-3.0553034026248644, -3.754239766481077, 2.2525438598886462, -3.806151355921081});
  // (torch.linalg.matrix_exp(M) * [[1, 2], [3, 4]]).sum().backward()
  check_values(grad_of(la::matrix_exp(M), M, f64({1, 2, 3, 4}, {2, 2})),
               {0.9903839868561993, 1.4025431460187245, 4.841149886875746, 4.678971697796085});
  check_values(la::matrix_exp(xg::zeros({2, 3, 3}, {.dtype = xg::Dtype::float64})),
               {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1});
  // torch.linalg.matrix_power(N, -1), (N, 3), (N, 0)
  Tensor N = f64({1, 2, 3, 4}, {2, 2});
  check_values(la::matrix_power(N, -1), {-2.0, 1.0, 1.5, -0.5});
  check_values(la::matrix_power(N, 3), {37, 54, 81, 118});
  check_values(la::matrix_power(N, 0), {1, 0, 0, 1});
  // torch.linalg.cross([1, 2, 3], [4, 5, 6])
  check_values(la::cross(f64({1, 2, 3}, {3}), f64({4, 5, 6}, {3})), {-3, 6, -3});
}

TEST_CASE("errors: singular, non-square, not positive definite, wrong dtype") {
  // batch element 1 of two is singular
  Tensor A = xg::stack({spd3(), f64({1, 2, 3, 2, 4, 6, 1, 1, 1}, {3, 3})});
  CHECK_ERROR(la::solve(A, xg::stack({b32(), b32()})), xg::LinAlgError, "solve: batch element 1 is singular");
  CHECK_ERROR(la::inv(A), xg::LinAlgError, "inv: batch element 1 is singular");
  CHECK_ERROR(la::inv(f64({1, 2, 2, 4}, {2, 2})), xg::LinAlgError, "inv: the matrix is singular");
  // not positive definite in its leading minor of order 2, as PyTorch's message says
  Tensor C = xg::stack({spd3(), f64({1, 2, 0, 2, 1, 0, 0, 0, 1}, {3, 3}), spd3()});
  CHECK_ERROR(la::cholesky(C), xg::LinAlgError, "cholesky: batch element 1 is not positive definite",
              "(leading minor 2)");
  // in a [2, 2] batch the element is counted in the flattened batch: [1, 1] is element 3
  Tensor bad = f64({1, 2, 0, 2, 1, 0, 0, 0, 1}, {3, 3});
  Tensor C4 = xg::reshape(xg::stack({spd3(), spd3(), spd3(), bad}), {2, 2, 3, 3});
  CHECK_ERROR(la::cholesky(C4), xg::LinAlgError,
              "cholesky: batch element 3 is not positive definite (leading minor 2)");
  CHECK_ERROR(la::cholesky(bad), xg::LinAlgError,
              "cholesky: the matrix is not positive definite (leading minor 2)");
  // non-square where a square matrix is needed
  for (auto f :
       {+[](const Tensor& t) { return la::inv(t); }, +[](const Tensor& t) { return la::det(t); },
        +[](const Tensor& t) { return la::cholesky(t); }, +[](const Tensor& t) { return la::eigh(t).first; },
        +[](const Tensor& t) { return la::matrix_exp(t); }})
    CHECK_ERROR(f(b32()), xg::ShapeError, "expected square matrices", "[3, 2]");
  CHECK_ERROR(la::solve(spd3(), f64({1, 2}, {2})), xg::ShapeError, "solve:", "[3, 3]", "[2]");
  CHECK_ERROR(la::det(f64({1, 2}, {2})), xg::ShapeError, "det: expected a matrix", "[2]");
  CHECK_ERROR(la::cross(f64({1, 2}, {2}), f64({1, 2}, {2})), xg::ShapeError, "cross:", "size 3");
  CHECK_ERROR(la::matrix_norm(b32(), "spectral"), xg::ValueError, "matrix_norm:", "spectral");
  CHECK_ERROR(la::inv(xg::ones({2, 2}, {.dtype = xg::Dtype::int64})), xg::TypeError, "inv:", "int64");
  CHECK_ERROR(la::lstsq(b32(), f64({1, 2}, {2, 1})), xg::ShapeError, "lstsq:", "[3, 2]", "[2, 1]");
  Tensor R2 = f64({1, 2, 2, 4, 3, 6}, {3, 2});
  CHECK_ERROR(la::lstsq(R2, b32()), xg::LinAlgError, "lstsq: the matrix is rank deficient (R[1, 1]");
  // a LinAlgError is a ValueError
  CHECK_THROWS_AS(la::inv(f64({0, 0, 0, 0}, {2, 2})), xg::ValueError);
}

TEST_CASE("float32 and batches agree with float64 and one matrix at a time") {
  Tensor A = spd3();
  Tensor A2 = xg::stack({A, A + xg::eye(3, -1, {.dtype = xg::Dtype::float64})});
  auto [L, V] = la::eigh(A2);
  check_values(xg::slice(L, 0, 0, 1), {2.1943971674224096, 3.3867701566075494, 9.418832675970037});
  auto [L32, V32] = la::eigh(A2.to(xg::Dtype::float32));
  CHECK(L32.dtype() == xg::Dtype::float32);
  CHECK(xg_test::max_abs(L32.to(xg::Dtype::float64) - L) < 1e-5);
  CHECK(xg_test::max_abs(xg::abs(V32.to(xg::Dtype::float64)) - xg::abs(V)) < 1e-5);
  CHECK(xg_test::max_abs(la::cholesky(A2.to(xg::Dtype::float32)).to(xg::Dtype::float64) - la::cholesky(A2)) <
        1e-5);
  CHECK(xg_test::max_abs(la::det(A2.to(xg::Dtype::float32)).to(xg::Dtype::float64) - la::det(A2)) < 1e-3);
  CHECK(xg_test::max_abs(la::matrix_exp(A2.to(xg::Dtype::float32) * 0.1).to(xg::Dtype::float64) -
                         la::matrix_exp(A2 * 0.1)) < 1e-5);
  auto [U, S, Vh] = la::svd(xg::stack({b32(), b32() * 2.0}));
  check_values(S, {9.525518091565107, 0.5143005806586443, 19.051036183130214, 1.0286011613172886});
  // batches with a zero-sized batch axis are empty, not an error
  CHECK(la::inv(xg::zeros({0, 3, 3}, {.dtype = xg::Dtype::float64})).shape() == xg::Shape{0, 3, 3});
}

TEST_CASE("NaN and inf: propagated by the direct factorisations, an error for the iterative ones") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor A = f64({4, 1, 2, 1, nan, 3, 2, 3, 6}, {3, 3});
  CHECK(std::isnan(la::det(A).item()));
  CHECK(std::isnan(xg::sum(la::solve(A, b32())).item()));
  CHECK(std::isnan(xg::sum(la::matrix_exp(A)).item()));
  // eigh and svd iterate; LAPACK would report no convergence (or give NaN for inf): xgrad says why
  Tensor batch = xg::stack({spd3(), f64({1, 0, 0, 0, INFINITY, 0, 0, 0, 1}, {3, 3})});
  CHECK_ERROR(la::eigh(batch), xg::LinAlgError, "eigh: batch element 1 has non-finite entries");
  CHECK_ERROR(la::svdvals(A), xg::LinAlgError, "svd: the matrix has non-finite entries");
  CHECK_ERROR(la::pinv(batch), xg::LinAlgError, "svd: batch element 1 has non-finite entries");
  // torch.linalg.matrix_power(A, 0) is the identity even with NaN in A (as pow(NaN, 0) = 1)
  const Tensor I = la::matrix_power(A, 0);
  CHECK(I.to_vector<double>() == std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  // torch.linalg.lstsq of a matrix holding NaN: a NaN solution, not a rank-deficiency error
  const Tensor X = la::lstsq(f64({1, 2, nan, 4, 5, 7}, {3, 2}), f64({1, 2, 3}, {3, 1}));
  CHECK(std::isnan(X.to_vector<double>()[0]));
  CHECK(std::isnan(X.to_vector<double>()[1]));
}

TEST_CASE("a Gaussian log-likelihood through cholesky, cholesky_solve and slogdet passes gradcheck") {
  // -1/2 (x^T S^-1 x + log det S) with S = M + M^T from a positive-definite M, batched over 2
  Tensor M = xg::stack({spd3() * 0.5, (spd3() + xg::eye(3, -1, {.dtype = xg::Dtype::float64})) * 0.5});
  M.requires_grad_(true);
  Tensor x = f64({0.5, -1, 2, 1, 0, -0.5}, {2, 3, 1}, true);
  auto nll = [](const std::vector<Tensor>& in) {
    const Tensor S = in[0] + xg::transpose(in[0], -2, -1);
    const Tensor L = la::cholesky(S);
    const Tensor quad = xg::sum(in[1] * xg::cholesky_solve(in[1], L));
    return 0.5 * (quad + xg::sum(la::slogdet(S).second));
  };
  CHECK(xg::gradcheck(nll, {M, x}).passed);
  CHECK(xg::gradgradcheck(nll, {M, x}).passed);
  // log det S from the Cholesky factor equals slogdet's
  const Tensor S = M + xg::transpose(M, -2, -1);
  const Tensor L = la::cholesky(S);
  const Tensor from_l = 2.0 * xg::sum(xg::log(xg::diagonal(L, 0, -2, -1)), {-1});
  CHECK(xg_test::max_abs(from_l - la::slogdet(S).second) < 1e-12);
}
