// Function transforms: vjp, jvp, jacobian, hessian, hvp against closed forms; create_graph makes
// the results differentiable; shape and type errors.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;

constexpr xg::TensorOptions f64{.dtype = Dtype::float64};

using xg_test::check_values;

// A = [[1, 2, 3], [-1, 0.5, 4]] (2x3)
const std::vector<double> kA{1, 2, 3, -1, 0.5, 4};
Tensor A() {
  return xg::tensor(kA, {2, 3}, f64);
}
Tensor linear(const Tensor& x) {
  return xg::matmul(A(), x);
}

std::vector<double> diag(const std::vector<double>& d) {
  const std::size_t n = d.size();
  std::vector<double> m(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) m[i * n + i] = d[i];
  return m;
}

}  // namespace

TEST_CASE("jacobian of x^2 element-wise is diag(2x)") {
  Tensor x = xg::tensor({1, -2, 0.5}, f64);
  Tensor J = xg::jacobian([](const Tensor& t) { return t * t; }, x);
  CHECK(J.shape() == xg::Shape{3, 3});
  CHECK(J.dtype() == Dtype::float64);
  check_values(J, diag({2, -4, 1}));
  CHECK_FALSE(J.requires_grad());
}

TEST_CASE("jacobian shapes: f(x).shape + x.shape") {
  Tensor x = xg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, f64);
  // f(x) = sum over rows -> [3]; d f_j / d x_ik = [j == k]
  Tensor J = xg::jacobian([](const Tensor& t) { return xg::sum(t, {0}); }, x);
  CHECK(J.shape() == xg::Shape{3, 2, 3});
  std::vector<double> e(18, 0.0);
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 2; ++i) e[j * 6 + i * 3 + j] = 1;
  check_values(J, e);
  // scalar output: J has x's shape
  Tensor Js = xg::jacobian([](const Tensor& t) { return xg::sum(t * t); }, x);
  CHECK(Js.shape() == xg::Shape{2, 3});
  check_values(Js, {2, 4, 6, 8, 10, 12});
}

TEST_CASE("a linear map A x: jacobian A, jvp A v, vjp A^T u") {
  Tensor x = xg::tensor({0.5, -1, 2}, f64);
  const std::vector<double> xv{0.5, -1, 2};
  std::vector<double> Ax(2, 0.0);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) Ax[i] += kA[i * 3 + j] * xv[j];

  Tensor J = xg::jacobian(linear, x);
  CHECK(J.shape() == xg::Shape{2, 3});
  check_values(J, kA);

  const std::vector<double> vv{1, 0.25, -3};
  Tensor v = xg::tensor(vv, f64);
  xg::TransformResult jv = xg::jvp(linear, x, v);
  check_values(jv.output, Ax);
  std::vector<double> Av(2, 0.0);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) Av[i] += kA[i * 3 + j] * vv[j];
  CHECK(jv.value.shape() == xg::Shape{2});
  check_values(jv.value, Av);

  const std::vector<double> uv{2, -0.5};
  Tensor u = xg::tensor(uv, f64);
  xg::TransformResult vj = xg::vjp(linear, x, u);
  check_values(vj.output, Ax);
  std::vector<double> Atu(3, 0.0);
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 2; ++i) Atu[j] += kA[i * 3 + j] * uv[i];
  CHECK(vj.value.shape() == xg::Shape{3});
  check_values(vj.value, Atu);
  CHECK_FALSE(vj.value.requires_grad());
  CHECK_FALSE(jv.value.requires_grad());
}

TEST_CASE("jvp and vjp of a nonlinear function") {
  // f(x) = sin(x) * x: J = diag(cos(x) x + sin(x))
  Tensor x = xg::tensor({0.3, -1.2, 2}, f64);
  Tensor v = xg::tensor({1, 2, -0.5}, f64);
  auto f = [](const Tensor& t) { return xg::sin(t) * t; };
  std::vector<double> jvp_e, out_e;
  const std::vector<double> xv{0.3, -1.2, 2}, vv{1, 2, -0.5};
  for (int i = 0; i < 3; ++i) {
    jvp_e.push_back((std::cos(xv[i]) * xv[i] + std::sin(xv[i])) * vv[i]);
    out_e.push_back(std::sin(xv[i]) * xv[i]);
  }
  xg::TransformResult a = xg::jvp(f, x, v), b = xg::vjp(f, x, v);
  check_values(a.output, out_e);
  check_values(a.value, jvp_e);
  check_values(b.value, jvp_e);  // J is diagonal, so J v = J^T v
}

TEST_CASE("hessian of sum(x^3) is diag(6x)") {
  Tensor x = xg::tensor({1, -0.5, 2, 3}, f64);
  Tensor H = xg::hessian([](const Tensor& t) { return xg::sum(t * t * t); }, x);
  CHECK(H.shape() == xg::Shape{4, 4});
  check_values(H, diag({6, -3, 12, 18}));
  CHECK_FALSE(H.requires_grad());
}

TEST_CASE("hessian of a quadratic form x^T B x is B + B^T; hvp equals hessian @ v") {
  const std::vector<double> b{2, 1, 0, -1, 3, 0.5, 4, 0, 1};
  Tensor B = xg::tensor(b, {3, 3}, f64);
  // add a cubic term so that the Hessian depends on x: f = x^T B x + sum(x^3)
  auto f = [B](const Tensor& t) { return xg::dot(t, xg::matmul(B, t)) + xg::sum(t * t * t); };
  const std::vector<double> xv{0.5, -1, 2}, vv{1, -2, 0.25};
  Tensor x = xg::tensor(xv, f64);
  Tensor v = xg::tensor(vv, f64);
  std::vector<double> He(9), Hv(3, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) He[i * 3 + j] = b[i * 3 + j] + b[j * 3 + i] + (i == j ? 6 * xv[i] : 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) Hv[i] += He[i * 3 + j] * vv[j];
  Tensor H = xg::hessian(f, x);
  check_values(H, He);
  xg::TransformResult r = xg::hvp(f, x, v);
  double fx = 0;
  for (int i = 0; i < 3; ++i) {
    fx += xv[i] * xv[i] * xv[i];
    for (int j = 0; j < 3; ++j) fx += xv[i] * b[i * 3 + j] * xv[j];
  }
  CHECK(r.output.item() == doctest::Approx(fx));
  check_values(r.value, Hv);
  check_values(xg::matmul(H, v), r.value.to_vector<double>());
}

TEST_CASE("transforms leave the caller's tensors and their .grad() alone") {
  Tensor x = xg::tensor({1, 2}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor J = xg::jacobian([](const Tensor& t) { return t * t; }, x);
  check_values(J, diag({2, 4}));
  Tensor H = xg::hessian([](const Tensor& t) { return xg::sum(t * t * t); }, x);
  check_values(H, diag({6, 12}));
  xg::TransformResult r = xg::vjp([](const Tensor& t) { return t * 3.0; }, x, xg::ones({2}, f64));
  check_values(r.value, {3, 3});
  CHECK_FALSE(x.grad().defined());
  CHECK(x.is_leaf());
  CHECK_FALSE(J.requires_grad());
  CHECK_FALSE(r.value.requires_grad());
  CHECK_FALSE(r.output.requires_grad());
}

TEST_CASE("create_graph=true results are differentiable") {
  const std::vector<double> xv{0.5, -1, 2}, vv{1, 3, -0.5};
  Tensor x = xg::tensor(xv, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor v = xg::tensor(vv, f64);
  auto cube = [](const Tensor& t) { return t * t * t; };
  auto sum_cube = [](const Tensor& t) { return xg::sum(t * t * t); };

  SUBCASE("vjp: d/dx sum(3 x^2 v) = 6 x v") {
    xg::TransformResult r = xg::vjp(cube, x, v, true);
    CHECK(r.value.requires_grad());
    CHECK(r.output.requires_grad());
    check_values(r.value, {3 * 0.25 * 1, 3 * 1 * 3.0, 3 * 4 * -0.5});
    xg::sum(r.value).backward();
    check_values(x.grad(), {6 * 0.5 * 1, 6 * -1 * 3.0, 6 * 2 * -0.5});
  }
  SUBCASE("jvp: d/dx sum(3 x^2 v) = 6 x v") {
    xg::TransformResult r = xg::jvp(cube, x, v, true);
    CHECK(r.value.requires_grad());
    check_values(r.value, {0.75, 9, -6});
    xg::sum(r.value).backward();
    check_values(x.grad(), {3, -18, -6});
  }
  SUBCASE("jacobian: d/dx sum(diag(3 x^2)) = 6 x") {
    Tensor J = xg::jacobian(cube, x, true);
    CHECK(J.requires_grad());
    check_values(J, diag({0.75, 3, 12}));
    xg::sum(J).backward();
    check_values(x.grad(), {3, -6, 12});
  }
  SUBCASE("hessian: d/dx sum(diag(6 x)) = 6") {
    Tensor H = xg::hessian(sum_cube, x, true);
    CHECK(H.requires_grad());
    check_values(H, diag({3, -6, 12}));
    xg::sum(H).backward();
    check_values(x.grad(), {6, 6, 6});
  }
  SUBCASE("hvp: d/dx sum(6 x v) = 6 v") {
    xg::TransformResult r = xg::hvp(sum_cube, x, v, true);
    CHECK(r.value.requires_grad());
    check_values(r.value, {3, -18, -6});
    xg::sum(r.value).backward();
    check_values(x.grad(), {6, 18, -3});
  }
  SUBCASE("the output of vjp with create_graph is differentiable too") {
    xg::TransformResult r = xg::vjp(cube, x, v, true);
    xg::sum(r.output).backward();  // d/dx sum(x^3) = 3 x^2
    check_values(x.grad(), {0.75, 3, 12});
  }
}

TEST_CASE("float32 inputs give float32 results") {
  Tensor x = xg::tensor({1, 2}, {.dtype = Dtype::float32});
  Tensor J = xg::jacobian([](const Tensor& t) { return t * t; }, x);
  CHECK(J.dtype() == Dtype::float32);
  check_values(J, diag({2, 4}), 1e-6);
  xg::TransformResult r = xg::hvp([](const Tensor& t) { return xg::sum(t * t * t); }, x, xg::ones({2}));
  CHECK(r.value.dtype() == Dtype::float32);
  check_values(r.value, {6, 12}, 1e-6);
}

TEST_CASE("functions that do not depend on x give zero derivatives") {
  Tensor x = xg::tensor({1, 2}, f64);
  auto constant = [](const Tensor&) { return xg::ones({3}, f64); };
  Tensor J = xg::jacobian(constant, x);
  CHECK(J.shape() == xg::Shape{3, 2});
  check_values(J, std::vector<double>(6, 0.0));
  xg::TransformResult r = xg::vjp(constant, x, xg::ones({3}, f64));
  check_values(r.value, {0, 0});
  check_values(r.output, {1, 1, 1});
  xg::TransformResult j = xg::jvp(constant, x, xg::ones({2}, f64));
  check_values(j.value, {0, 0, 0});
  // linear in x: the Hessian is zero
  Tensor H = xg::hessian([](const Tensor& t) { return xg::sum(t * 3.0); }, x);
  check_values(H, std::vector<double>(4, 0.0));
  xg::TransformResult h = xg::hvp([](const Tensor& t) { return xg::sum(t * 3.0); }, x, xg::ones({2}, f64));
  check_values(h.value, {0, 0});
}

TEST_CASE("shape and type errors") {
  Tensor x = xg::tensor({1, 2, 3}, f64);
  auto sq = [](const Tensor& t) { return t * t; };
  auto s = [](const Tensor& t) { return xg::sum(t * t); };
  CHECK_ERROR(xg::vjp(s, x, xg::ones({3}, f64)), xg::ShapeError, "vjp:", "shape of f(x) []",
              "got [3]");  // v must be f(x)'s shape: []
  CHECK_ERROR(xg::vjp(sq, x, Tensor()), xg::ShapeError, "vjp:", "got undefined");
  CHECK_ERROR(xg::jvp(sq, x, xg::ones({3, 1}, f64)), xg::ShapeError, "jvp:", "[3]", "got [3, 1]");
  CHECK_ERROR(xg::hvp(s, x, xg::ones({4}, f64)), xg::ShapeError, "hvp:", "[3]", "got [4]");
  CHECK_ERROR(xg::hvp(sq, x, xg::ones({3}, f64)), xg::ShapeError,
              "hvp: f must return a one-element tensor, got [3]");  // f must be scalar
  CHECK_ERROR(xg::hessian(sq, x), xg::ShapeError, "hessian: f must return a one-element tensor");
  CHECK_ERROR(xg::vjp(sq, x, xg::ones({2}, f64)), xg::ShapeError, "vjp:", "[3]", "[2]");
  Tensor i = xg::arange(3.0, {.dtype = Dtype::int64});
  CHECK_ERROR(xg::jacobian(sq, i), xg::TypeError, "jacobian:", "float", "int64");
  CHECK_ERROR(xg::vjp(sq, Tensor(), x), xg::ValueError, "vjp: the input is undefined");
  CHECK_ERROR(xg::jacobian([](const Tensor&) { return Tensor(); }, x), xg::ValueError,
              "jacobian: the function returned an undefined tensor");
}

TEST_CASE("transforms work under NoGradGuard") {
  xg::NoGradGuard guard;
  Tensor x = xg::tensor({1, 2}, f64);
  Tensor J = xg::jacobian([](const Tensor& t) { return t * t; }, x);
  check_values(J, diag({2, 4}));
  xg::TransformResult r = xg::hvp([](const Tensor& t) { return xg::sum(t * t * t); }, x, xg::ones({2}, f64));
  check_values(r.value, {6, 12});
  CHECK_FALSE(xg::GradMode::is_enabled());
}

// f(x, W) = (tanh(W x), sum(x^2) W) and g = sum(tanh(W x)^2): numbers from PyTorch 1.13's
// torch.autograd.functional (jacobian, vjp, jvp, hessian, hvp over the tuple (x, W)).
TEST_CASE("transforms over several inputs and outputs agree with PyTorch") {
  const Tensor x = xg::tensor({0.5, -1.2, 2.0}, f64);
  const Tensor W = xg::tensor({0.3, -0.7, 1.1, 0.9, 0.2, -0.4}, {2, 3}, f64);
  const xg::TensorsFunction f = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{xg::tanh(xg::matmul(in[1], in[0])), xg::sum(in[0] * in[0]) * in[1]};
  };
  const std::vector<double> J00 = {0.0020272687830023115, -0.004730293827005394, 0.007433318871008477,
                                   0.6472895806107274,    0.1438421290246061,    -0.2876842580492122};
  const std::vector<double> J01 = {
      0.003378781305003853, -0.008109075132009246, 0.013515125220015412, 0, 0, 0, 0, 0, 0,
      0.35960532256151523,  -0.8630527741476365,   1.438421290246061};
  for (xg::JacobianMode mode :
       {xg::JacobianMode::reverse, xg::JacobianMode::forward, xg::JacobianMode::automatic}) {
    CAPTURE(static_cast<int>(mode));
    const auto J = xg::jacobian(f, {x, W}, false, mode);
    REQUIRE(J.size() == 2);
    REQUIRE(J[0].size() == 2);
    CHECK(J[0][0].shape() == xg::Shape{2, 3});
    CHECK(J[0][1].shape() == xg::Shape{2, 2, 3});
    CHECK(J[1][0].shape() == xg::Shape{2, 3, 3});
    CHECK(J[1][1].shape() == xg::Shape{2, 3, 2, 3});
    check_values(J[0][0], J00);
    check_values(J[0][1], J01);
    // d (|x|^2 W) / dx = 2 W x^T
    check_values(xg::narrow(xg::reshape(J[1][0], {6, 3}), 0, 0, 2), {0.3, -0.72, 1.2, -0.7, 1.68, -2.8});
    CHECK_FALSE(J[0][0].requires_grad());
  }
  // jacfwd and jacrev: the same blocks
  check_values(xg::jacfwd(f, {x, W})[1][1], xg::jacrev(f, {x, W})[1][1].to_vector<double>());

  const xg::TransformResults v = xg::vjp(f, {x, W}, {xg::tensor({1.0, 2.0}, f64), xg::ones({2, 3}, f64)});
  check_values(v.values[0], {2.696606430004457, -3.0770460357777933, 5.0320648027725845});
  check_values(v.values[1], {5.693378781305003, 5.68189092486799, 5.703515125220015, 6.40921064512303,
                             3.9638944517047268, 8.566842580492121});
  const Tensor tx = xg::tensor({0.1, 0.2, 0.3}, f64), tW = xg::full({2, 3}, 0.5, f64);
  const xg::TransformResults j = xg::jvp(f, {x, W}, {tx, tW});
  check_values(j.values[0], {0.005879079470706705, 0.47467902578120014});
  check_values(j.values[1], {3.091, 2.271, 3.747, 3.583, 3.009, 2.517});
  check_values(j.outputs[1], (xg::sum(x * x) * W).to_vector<double>());

  const auto g = [](const std::vector<Tensor>& in) {
    const Tensor h = xg::tanh(xg::matmul(in[1], in[0]));
    return xg::sum(h * h);
  };
  const auto H = xg::hessian(g, {x, W});
  check_values(H[0][0], {0.18125225317735788, 0.04643221886471352, -0.09045637410213547, 0.046432218864713534,
                         -0.004040923363172591, 0.00246303159599821, -0.0904563741021355, 0.00246303159599821,
                         0.003903503441405963});
  CHECK(H[0][1].shape() == xg::Shape{3, 2, 3});
  check_values(xg::narrow(xg::reshape(H[0][1], {18}), 0, 0, 6),
               {0.009455943781567333, 0.009632254509166239, -0.016053757515277066, -0.660179614139553,
                -0.24488042240619926, 0.40813403734366543});
  // H[1][0] is H[0][1] transposed
  check_values(xg::permute(H[1][0], {2, 0, 1}), H[0][1].to_vector<double>());
  const xg::TransformResults hv = xg::hvp(g, {x, W}, {tx, tW});
  check_values(hv.values[0], {-0.2466710223532772, -0.328147476874333, -0.4598372722048126});
  check_values(hv.values[1], {-0.010292035882537217, 0.03062741470865942, -0.042515081846187526,
                              -0.0013967388345415693, -0.33202160112630674, 0.07063435700938067});
}

TEST_CASE("transforms over several inputs: errors name the transform and the index") {
  const Tensor x = xg::tensor({1, 2}, f64);
  const xg::TensorsFunction f = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] * in[1]};
  };
  CHECK_ERROR(xg::vjp(f, {x, x}, {}), xg::ValueError, "vjp: 0 vectors for 1 output");
  CHECK_ERROR(xg::jvp(f, {x, x}, {x, xg::ones({3}, f64)}), xg::ShapeError, "jvp: v 1", "input 1 [2]",
              "got [3]");
  CHECK_ERROR(xg::hvp([](const std::vector<Tensor>& in) { return in[0] * in[1]; }, {x, x}, {x, x}),
              xg::ShapeError, "hvp: f must return a one-element tensor, got [2]");
  const Tensor i = xg::arange(2.0, {.dtype = Dtype::int64});
  CHECK_ERROR(xg::jacobian(f, {x, i}), xg::TypeError, "jacobian:", "int64");
  // an input the function does not use has a zero block
  const auto J = xg::jacobian(f, {x, x, xg::ones({3}, f64)});
  CHECK(J[0][2].shape() == xg::Shape{2, 3});
  check_values(J[0][2], std::vector<double>(6, 0.0));
}

// ---------------------------------------------------------------- batch_jacobian
namespace {
// t's element i along axis, without that axis
Tensor pick(const Tensor& t, int64_t axis, int64_t i) {
  return xg::squeeze(xg::narrow(t, axis, i, 1), axis);
}
// A 2-layer MLP applied to each row of x [B, 3] -> [B, 2]
Tensor mlp(const Tensor& x) {
  const Tensor W1 = xg::tensor({0.2, -0.5, 0.1, 0.4, 0.3, -0.2, -0.6, 0.1, 0.5, 0.3, 0.3, 0.3}, {4, 3}, f64);
  const Tensor b1 = xg::tensor({0.1, -0.2, 0.05, 0.0}, {4}, f64);
  const Tensor W2 = xg::tensor({0.5, -0.4, 0.3, 0.2, -0.1, 0.6, 0.2, -0.3}, {2, 4}, f64);
  const Tensor b2 = xg::tensor({0.01, -0.02}, {2}, f64);
  return xg::linear(xg::tanh(xg::linear(x, W1, b1)), W2, b2);
}
Tensor mlp_batch() {
  return xg::tensor({0.5, -1.0, 2.0, 1.5, 0.3, -0.7, 0.0, 0.2, 0.4, -1.2, 0.8, 0.1, 0.9, -0.3, -0.5}, {5, 3},
                    f64);
}
// torch.autograd.functional.jacobian(mlp, X, vectorize=True)[b, :, b, :] for each b
const std::vector<double> kMlpJ = {
    -0.12472134549793937, -0.12838221382654996, 0.22542412649959315,   -0.012164170255540504,
    0.0780827526085696,   -0.0876986900649692,  -0.017134614687628783, -0.26117119551082807,
    0.20549955745822612,  0.026554856816552234, 0.09790085213084856,   -0.14112366641042984,
    -0.16205213617288136, -0.2779625271175183,  0.3238422037627857,    0.009974666937318225,
    0.15294586301003613,  -0.11845406232160854, -0.0820924042902285,   -0.2147804745139263,
    0.2359766821092442,   0.032613511182245765, 0.10538865125864112,   -0.14603054299327714,
    -0.11334010157003713, -0.25631806107973615, 0.2683223658256227,    0.05612968884132652,
    0.14002937000641358,  -0.1570529916967195};
}  // namespace

TEST_CASE("batch_jacobian: per-sample Jacobians of an MLP against PyTorch, in both modes") {
  const Tensor X = mlp_batch();
  for (xg::JacobianMode mode :
       {xg::JacobianMode::reverse, xg::JacobianMode::forward, xg::JacobianMode::automatic}) {
    CAPTURE(static_cast<int>(mode));
    const Tensor J = xg::batch_jacobian(mlp, X, {.mode = mode, .check_independence = true});
    CHECK(J.shape() == xg::Shape{5, 2, 3});
    check_values(J, kMlpJ, 1e-12);
    CHECK_FALSE(J.requires_grad());
  }
  // the diagonal blocks of the full Jacobian
  const Tensor full = xg::jacobian(mlp, X);  // [5, 2, 5, 3]
  std::vector<Tensor> blocks;
  for (int64_t b = 0; b < 5; ++b) blocks.push_back(pick(pick(full, 2, b), 0, b));
  CHECK(xg_test::max_abs(xg::stack(blocks, 0) - xg::batch_jacobian(mlp, X)) < 1e-15);
}

TEST_CASE("batch_jacobian: rows of any shape, [B, 2, 2] -> [B, 3]") {
  // torch: jacobian(g, X3, vectorize=True)[b, :, b]
  auto g = [](const Tensor& x) {
    const Tensor a = pick(pick(x, 1, 0), 1, 0), d = pick(pick(x, 1, 1), 1, 1);
    const Tensor c = pick(pick(x, 1, 0), 1, 1);
    return xg::stack({a * d, xg::sin(c), xg::sum(x * x, {1, 2})}, 1);
  };
  const Tensor X = xg::tensor({0.5, -1.0, 2.0, 0.3, 1.5, 0.3, -0.7, 0.2}, {2, 2, 2}, f64);
  const std::vector<double> want = {
      0.3, 0.0, 0.0, 0.5, 0.0, 0.5403023058681398, 0.0, 0.0, 1.0, -2.0, 4.0,  0.6,
      0.2, 0.0, 0.0, 1.5, 0.0, 0.955336489125606,  0.0, 0.0, 3.0, 0.6,  -1.4, 0.4};
  for (xg::JacobianMode mode : {xg::JacobianMode::reverse, xg::JacobianMode::forward}) {
    const Tensor J = xg::batch_jacobian(g, X, {.mode = mode});
    CHECK(J.shape() == xg::Shape{2, 3, 2, 2});
    check_values(J, want, 1e-12);
  }
}

TEST_CASE("batch_jacobian: a function mixing rows is caught on request") {
  auto centred = [](const Tensor& x) { return xg::tanh(x - xg::mean(x, {0}, true)); };
  const Tensor X = mlp_batch();
  for (xg::JacobianMode mode : {xg::JacobianMode::reverse, xg::JacobianMode::forward}) {
    CHECK_ERROR(xg::batch_jacobian(centred, X, {.mode = mode, .check_independence = true}), xg::ValueError,
                "batch_jacobian: f mixes the rows of its batch");
    CHECK_NOTHROW(xg::batch_jacobian(centred, X, {.mode = mode}));  // unchecked: the caller's assumption
  }
}

TEST_CASE("batch_jacobian: create_graph results are differentiable (gradcheck)") {
  auto f = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{
        xg::batch_jacobian(mlp, in[0], {.mode = xg::JacobianMode::reverse, .create_graph = true}),
        xg::batch_jacobian(mlp, in[0], {.mode = xg::JacobianMode::forward, .create_graph = true})};
  };
  Tensor X = mlp_batch().requires_grad_(true);
  const std::vector<Tensor> J = f({X});
  CHECK(J[0].requires_grad());
  CHECK(J[1].requires_grad());
  CHECK(xg::gradcheck(f, {X}).passed);
}

TEST_CASE("batch_jacobian: edge cases and errors") {
  // zero rows, functions not depending on x, float32
  CHECK(xg::batch_jacobian(mlp, xg::zeros({0, 3}, f64)).shape() == xg::Shape{0, 2, 3});
  const Tensor z = xg::batch_jacobian(
      [](const Tensor& x) {
        return xg::zeros({x.size(0), 4}, f64);
      },
      mlp_batch());
  CHECK(z.shape() == xg::Shape{5, 4, 3});
  CHECK(xg_test::max_abs(z) == 0);
  const Tensor J32 =
      xg::batch_jacobian([](const Tensor& x) { return x * x; }, xg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2}));
  CHECK(J32.dtype() == Dtype::float32);
  check_values(J32, {2, 0, 0, 4, 6, 0, 0, 8});
  CHECK_ERROR(xg::batch_jacobian(mlp, xg::tensor({1.0}, {}, f64)), xg::ShapeError, "batch_jacobian",
              "batch axis");
  CHECK_ERROR(xg::batch_jacobian([](const Tensor& x) { return xg::sum(x, {0}); }, mlp_batch()),
              xg::ShapeError, "batch_jacobian", "batch size 5", "[3]");
  CHECK_ERROR(xg::batch_jacobian(mlp, xg::tensor({1.0}, {1}).to(Dtype::int64)), xg::TypeError,
              "batch_jacobian");
}
