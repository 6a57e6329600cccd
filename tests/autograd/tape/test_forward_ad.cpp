// Forward-mode AD (autograd/tape/forward_ad.hpp): dual tensors, their errors and scope, JVP rules
// through primitives and composites, in-place updates, custom ops, and the transforms built on
// them (jvp, jacfwd, forward-over-reverse hvp). Reference numbers from PyTorch 1.13's
// torch.autograd.forward_ad and torch.autograd.functional, float64.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

namespace fw = xg::forward_ad;

namespace {
xg::Tensor f64(std::vector<double> v, xg::Shape s, bool rg = false) {
  return xg::tensor(v, s, {.dtype = xg::Dtype::float64, .requires_grad = rg});
}
void check_close(const xg::Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(t.defined());
  const std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol).scale(1.0));
  }
}
}  // namespace

TEST_CASE("make_dual and unpack_dual: the primal aliases the values, the tangent is the one given") {
  fw::DualLevel level;
  xg::Tensor x = f64({0.5, -1.0, 2.0}, {3}), v = f64({1, 2, 3}, {3});
  xg::Tensor xd = fw::make_dual(x, v);
  fw::UnpackedDual u = fw::unpack_dual(xd);
  CHECK(u.primal.raw_data() == x.raw_data());  // shares the values
  CHECK(u.tangent.impl() == v.impl());         // kept as given
  CHECK_FALSE(fw::unpack_dual(u.primal).tangent.defined());
  CHECK_FALSE(fw::unpack_dual(x).tangent.defined());  // x itself is not made dual
  // torch: unpack_dual(tanh(x) * x).tangent with x dual (x, v)
  check_close(fw::unpack_dual(xg::tanh(xd) * xd).tangent,
              {0.8553410237429735, -2.363136995139582, 3.3159876893464375});
}

TEST_CASE("make_dual errors: shapes, dtypes, no level, nested levels") {
  xg::Tensor x = f64({1, 2, 3}, {3});
  CHECK_ERROR(fw::make_dual(x, x), xg::ValueError, "make_dual", "no forward_ad::DualLevel");
  fw::DualLevel level;
  CHECK_ERROR(fw::make_dual(x, f64({1, 2}, {2})), xg::ShapeError, "make_dual", "[2]", "[3]");
  CHECK_ERROR(fw::make_dual(x.to(xg::Dtype::int64), x), xg::TypeError, "make_dual", "int64");
  CHECK_ERROR(fw::DualLevel(), xg::ValueError, "DualLevel", "already active");
}

TEST_CASE("an op without a JVP rule reached by a dual throws, naming it") {
  fw::DualLevel level;
  xg::Tensor x = fw::make_dual(f64({1, 2, 3}, {3}), f64({1, 1, 1}, {3}));
  xg::Tensor m = fw::make_dual(f64({1, 2, 3, 4}, {2, 2}), f64({1, 1, 1, 1}, {2, 2}));
  CHECK_ERROR(xg::cdist(m, m, 2.0), xg::ValueError, "forward-mode AD: op 'cdist' has no JVP rule");
  xg::CustomOp cube{"cube", "3 x^2", [](const std::vector<xg::Tensor>& in) { return in[0] * in[0] * in[0]; },
                    [](const xg::CustomOpContext& c, const xg::Tensor& g) {
                      return std::vector<xg::Tensor>{g * 3.0 * c.input(0) * c.input(0)};
                    }};
  CHECK_ERROR(cube({x}), xg::ValueError, "forward-mode AD: op 'cube' has no JVP rule");
  cube.set_jvp(
      [](const std::vector<xg::Tensor>& in, const std::vector<xg::Tensor>&,
         const std::vector<xg::Tensor>& t) { return std::vector<xg::Tensor>{t[0] * 3.0 * in[0] * in[0]}; });
  check_close(fw::unpack_dual(cube({x})).tangent, {3, 12, 27});
  // without a dual input, the op runs as before
  CHECK_NOTHROW(xg::cdist(f64({1, 2, 3, 4}, {2, 2}), f64({1, 2, 3, 4}, {2, 2}), 2.0));
}

TEST_CASE("tangents do not outlive their level") {
  xg::Tensor x = f64({0.5, -1.0}, {2}), y, xd;
  {
    fw::DualLevel level;
    xd = fw::make_dual(x, f64({1, 1}, {2}));
    y = xg::exp(xd);
    CHECK(fw::unpack_dual(y).tangent.defined());
  }
  CHECK_FALSE(fw::is_active());
  fw::DualLevel next;
  CHECK_FALSE(fw::unpack_dual(y).tangent.defined());
  CHECK_FALSE(fw::unpack_dual(xg::sin(xd)).tangent.defined());  // an old dual is a plain tensor
  CHECK_NOTHROW(xg::cdist(xg::reshape(xd, {1, 2}), xg::reshape(xd, {1, 2}), 2.0));  // needs no rule
}

TEST_CASE("tangents propagate with grad mode off and without requires_grad") {
  fw::DualLevel level;
  xg::NoGradGuard off;
  xg::Tensor x = fw::make_dual(f64({0.5, -1.0, 2.0}, {3}), f64({1, 2, 3}, {3}));
  xg::Tensor y = xg::log_softmax(x, 0);
  CHECK_FALSE(y.requires_grad());
  // torch: log_softmax(x, 0) tangent
  check_close(fw::unpack_dual(y).tangent, {-1.6103066424492392, -0.6103066424492392, 0.38969335755076084});
}

TEST_CASE("a composite gets its tangent from the primitives it calls") {
  fw::DualLevel level;
  xg::Tensor x = fw::make_dual(f64({0.5, -1.0, 2.0}, {3}), f64({1, 2, 3}, {3}));
  // std over all elements, correction 1: sum((x - mean) v) / ((n - 1) std) = 0.5 (torch: 0.5)
  xg::Tensor s = xg::std(x, {}, 1, false);
  check_close(fw::unpack_dual(s).tangent, {0.5});
  // gelu (composite of erf, mul, add) against its closed form Phi(x) + x phi(x)
  xg::Tensor g = fw::unpack_dual(xg::gelu(x)).tangent;
  const std::vector<double> xv = {0.5, -1.0, 2.0}, vv = {1, 2, 3};
  std::vector<double> want;
  for (std::size_t i = 0; i < 3; ++i) {
    const double z = xv[i];
    const double d =
        0.5 * (1 + std::erf(z / std::sqrt(2.0))) + z * std::exp(-z * z / 2) / std::sqrt(2 * M_PI);
    want.push_back(d * vv[i]);
  }
  check_close(g, want);
}

TEST_CASE("views and shape ops: the tangent of a view is the same view of the tangent") {
  fw::DualLevel level;
  xg::Tensor x = fw::make_dual(f64({1, 2, 3, 4, 5, 6}, {2, 3}), f64({10, 20, 30, 40, 50, 60}, {2, 3}));
  check_close(fw::unpack_dual(x.reshape({3, 2})).tangent, {10, 20, 30, 40, 50, 60});
  check_close(fw::unpack_dual(x.t()).tangent, {10, 40, 20, 50, 30, 60});
  check_close(fw::unpack_dual(xg::slice(x, 1, 1, 3)).tangent, {20, 30, 50, 60});
  xg::Tensor c = xg::concat({x, f64({7, 8, 9}, {1, 3})}, 0);  // the constant's tangent is zero
  check_close(fw::unpack_dual(c).tangent, {10, 20, 30, 40, 50, 60, 0, 0, 0});
  CHECK(fw::unpack_dual(c).tangent.shape() == xg::Shape{3, 3});
}

TEST_CASE("in-place updates of a dual update its tangent, or refuse") {
  fw::DualLevel level;
  xg::Tensor a = fw::make_dual(f64({1, 2}, {2}), f64({1, 1}, {2}).clone());
  xg::Tensor b = fw::make_dual(f64({3, 4}, {2}), f64({0.5, -1}, {2}));
  a.add_(b, 2.0);  // a' = 1 + 2 b'
  check_close(fw::unpack_dual(a).tangent, {2, -1});
  a.mul_(b);  // (a b)' = a' b + a b', a = [7, 10]
  check_close(fw::unpack_dual(a).tangent, {2 * 3 + 7 * 0.5, -1 * 4 + 10 * -1.0});
  a.mul_(2.0);
  check_close(fw::unpack_dual(a).tangent, {19, -28});
  xg::Tensor c = f64({0, 0}, {2});
  c.copy_(b);  // a plain tensor takes the source's tangent
  check_close(fw::unpack_dual(c).tangent, {0.5, -1});
  c.fill_(1.0);
  check_close(fw::unpack_dual(c).tangent, {0, 0});
  CHECK_ERROR(a.scatter_(0, xg::tensor({0.0}, {1}).to(xg::Dtype::int64), 1.0), xg::ValueError,
              "forward-mode AD", "scatter_");
}

TEST_CASE("jvp is one forward pass: a small MLP against PyTorch, the double-VJP and finite differences") {
  const xg::Tensor W1 = f64({0.3, -0.2, 0.5, 0.1, 0.4, -0.6}, {2, 3}), b1 = f64({0.05, -0.1}, {2});
  const xg::Tensor W2 = f64({0.7, -0.3, 0.2, 0.9}, {2, 2}), b2 = f64({0.0, 0.2}, {2});
  auto mlp = [&](const xg::Tensor& in) {
    xg::Tensor h = xg::tanh(xg::linear(in, W1, b1));
    return xg::sigmoid(xg::matmul(h, W2.t()) + b2);
  };
  const xg::Tensor X = f64({1.0, 2.0, -1.0, 0.5, -0.5, 0.25}, {2, 3});
  const xg::Tensor V = f64({0.1, -0.2, 0.3, 0.4, 0.5, -0.6}, {2, 3});
  xg::TransformResult r = xg::jvp(mlp, X, V);
  // torch.autograd.functional.jvp(mlp, X, V)
  const std::vector<double> torch_jv = {0.029973641158044132, -0.0032220190831607712, -0.07659588560379778,
                                        0.10366517924726641};
  check_close(r.value, torch_jv);
  check_close(r.output, mlp(X).to_vector<double>());
  // the double-VJP trick: d/du <J^T u, v> = J v
  xg::Tensor xi = X.detach().requires_grad_(true);
  xg::Tensor y = mlp(xi);
  xg::Tensor u = xg::zeros_like(y).requires_grad_(true);
  xg::Tensor g = xg::grad({y}, {xi}, {u}, true, true)[0];
  xg::Tensor jv2 = xg::grad({g}, {u}, {V})[0];
  check_close(jv2, torch_jv, 1e-10);
  // central differences
  const double eps = 1e-6;
  xg::Tensor fd = (mlp(X + eps * V) - mlp(X - eps * V)) / (2 * eps);
  CHECK(xg_test::max_abs(fd - r.value) < 1e-8);
}

TEST_CASE("jacfwd equals jacobian (reverse mode)") {
  auto f = [](const xg::Tensor& x) { return xg::sin(x) * xg::sum(x * x); };
  const xg::Tensor x = f64({0.3, -0.7, 1.1}, {3});
  xg::Tensor jf = xg::jacfwd(f, x), jr = xg::jacrev(f, x);
  CHECK(jf.shape() == xg::Shape{3, 3});
  CHECK(xg_test::max_abs(jf - jr) < 1e-13);
}

TEST_CASE("hvp is forward over reverse and equals the reverse-over-reverse product") {
  auto f = [](const xg::Tensor& z) {
    return xg::sum(xg::sin(z) * xg::pow(z, 2.0)) + xg::prod(xg::exp(z), {});
  };
  const xg::Tensor x = f64({0.3, -0.7, 1.1}, {3}), v = f64({1.0, -1.0, 0.5}, {3});
  xg::TransformResult r = xg::hvp(f, x, v);
  // torch.autograd.functional.hvp(f, x, v)
  check_close(r.value, {2.717723735409124, 4.121203185860719, 2.356814728095775});
  // reverse over reverse: the Hessian times v
  xg::Tensor H = xg::hessian(f, x);
  xg::Tensor hv = xg::matmul(H, v);
  CHECK(xg_test::max_abs(hv - r.value) < 1e-12);
  CHECK_FALSE(fw::is_active());
}

TEST_CASE("reverse over forward: the tangent is differentiable when its inputs require grad") {
  // t = d/de tanh(x + e v) = (1 - tanh(x)^2) v; d(sum t)/dx = -2 tanh(x) (1 - tanh(x)^2) v
  xg::Tensor x = f64({0.5, -1.0}, {2}, true);
  const xg::Tensor v = f64({1.0, 2.0}, {2});
  xg::Tensor gx;
  {
    fw::DualLevel level;
    xg::Tensor t = fw::unpack_dual(xg::tanh(fw::make_dual(x, v))).tangent;
    REQUIRE(t.requires_grad());
    gx = xg::grad({xg::sum(t)}, {x})[0];
  }
  std::vector<double> want;
  for (int i = 0; i < 2; ++i) {
    const double th = std::tanh(x.to_vector<double>()[i]);
    want.push_back(-2 * th * (1 - th * th) * v.to_vector<double>()[i]);
  }
  check_close(gx, want);
}
