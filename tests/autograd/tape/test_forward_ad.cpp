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
  xg::CustomOp cube{"cube", "3 x^2", [](const std::vector<xg::Tensor>& in) { return in[0] * in[0] * in[0]; },
                    [](const xg::CustomOpContext& c, const xg::Tensor& g) {
                      return std::vector<xg::Tensor>{g * 3.0 * c.input(0) * c.input(0)};
                    }};
  CHECK_ERROR(cube({x}), xg::ValueError, "forward-mode AD: op 'cube' has no JVP rule");
  // without a dual input, the op runs as before
  check_close(cube({f64({1, 2, 3}, {3})}), {1, 8, 27});
  cube.set_jvp(
      [](const std::vector<xg::Tensor>& in, const std::vector<xg::Tensor>&,
         const std::vector<xg::Tensor>& t) { return std::vector<xg::Tensor>{t[0] * 3.0 * in[0] * in[0]}; });
  check_close(fw::unpack_dual(cube({x})).tangent, {3, 12, 27});
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

// ---------------------------------------------------------------- the decompositions' JVP rules
namespace {
namespace la = xg::linalg;
// The tangents of f's outputs for duals (inputs[i], tangents[i]), by one forward pass.
std::vector<xg::Tensor> tangents_of(
    const std::function<std::vector<xg::Tensor>(const std::vector<xg::Tensor>&)>& f,
    const std::vector<xg::Tensor>& inputs, const std::vector<xg::Tensor>& tangents,
    std::vector<xg::Tensor>* primals = nullptr) {
  fw::DualLevel level;
  std::vector<xg::Tensor> in;
  for (std::size_t i = 0; i < inputs.size(); ++i) in.push_back(fw::make_dual(inputs[i], tangents[i]));
  std::vector<xg::Tensor> out;
  for (const xg::Tensor& y : f(in)) {
    fw::UnpackedDual u = fw::unpack_dual(y);
    if (primals) primals->push_back(u.primal.detach());
    out.push_back(u.tangent.defined() ? u.tangent.detach() : xg::zeros_like(y));
  }
  return out;
}
const xg::Tensor A3 = f64({2.0, 0.5, -0.3, 0.1, 3.0, 0.4, -0.2, 0.6, 4.0}, {3, 3});
const xg::Tensor V3 = f64({0.3, -0.1, 0.2, 0.5, 0.4, -0.6, 0.1, 0.7, -0.2}, {3, 3});
const xg::Tensor A43 = f64({2.0, 0.5, -0.3, 0.1, 3.0, 0.4, -0.2, 0.6, 4.0, 1.0, -0.5, 0.2}, {4, 3});
const xg::Tensor V43 = f64({0.3, -0.1, 0.2, 0.5, 0.4, -0.6, 0.1, 0.7, -0.2, -0.4, 0.2, 0.3}, {4, 3});
const xg::Tensor A24 = f64({2.0, 0.5, -0.3, 1.0, 0.1, 3.0, 0.4, -0.5}, {2, 4});
const xg::Tensor V24 = f64({0.3, -0.1, 0.2, 0.5, 0.4, -0.6, 0.1, 0.7}, {2, 4});
xg::Tensor mT(const xg::Tensor& t) {
  return xg::transpose(t, -2, -1);
}
}  // namespace

// Reference numbers: PyTorch 1.13's torch.autograd.forward_ad on the same duals, float64. An
// eigenvector or singular vector is defined up to its sign, so the vectors are compared through
// V * dV (both change sign together).
TEST_CASE("eigh's JVP rule against PyTorch's forward mode, symmetric part of the tangent") {
  const xg::Tensor S = A3 + mT(A3);
  std::vector<xg::Tensor> p;
  auto eigh = [](const std::vector<xg::Tensor>& in) {
    auto [L, V] = la::eigh(in[0]);
    return std::vector<xg::Tensor>{L, V};
  };
  std::vector<xg::Tensor> t = tangents_of(eigh, {S}, {V3 + mT(V3)}, &p);
  check_close(t[0], {0.4386836542200058, 0.7733718687918889, -0.21205552301189523}, 1e-10);
  check_close(
      p[1] * t[1],
      {-0.03475754811852263, 0.0412656916875396, -0.006508143569017, 0.034910149501246, -0.10310961976747544,
       0.06819947026622945, -0.0001526013827234276, 0.061843928079935884, -0.06169132669721243},
      1e-9);
  // a non-symmetric tangent counts by its symmetric part (eigh reads a symmetric matrix), as
  // the backward's symmetric gradient does: torch's numbers for the tangent sym(V3)
  std::vector<xg::Tensor> ts = tangents_of(eigh, {S}, {V3}, &p);
  check_close(ts[0], {0.2193418271100029, 0.38668593439594445, -0.10602776150594762}, 1e-10);
  check_close(p[3] * ts[1],
              {-0.017378774059261314, 0.0206328458437698, -0.0032540717845085, 0.017455074750623,
               -0.05155480988373772, 0.03409973513311473, -7.63006913617138e-05, 0.030921964039967942,
               -0.030845663348606216},
              1e-9);
  // batched over a leading axis
  const xg::Tensor Ab = xg::stack({A3, mT(A3) * 0.5 + xg::eye(3, -1, {.dtype = xg::Dtype::float64})});
  std::vector<xg::Tensor> tb = tangents_of(
      [](const std::vector<xg::Tensor>& in) {
        return std::vector<xg::Tensor>{la::eigh(in[0] + mT(in[0])).first};
      },
      {Ab}, {xg::stack({V3, -V3})});
  check_close(tb[0],
              {0.4386836542200058, 0.773371868791889, -0.21205552301189523, -0.43868365422000566,
               -0.7733718687918888, 0.21205552301189506},
              1e-10);
}

TEST_CASE("qr's JVP rule against PyTorch's forward mode: tall, square and wide") {
  auto qr = [](const std::vector<xg::Tensor>& in) {
    auto [Q, R] = la::qr(in[0]);
    return std::vector<xg::Tensor>{Q, R};
  };
  std::vector<xg::Tensor> p;
  std::vector<xg::Tensor> t = tangents_of(qr, {A43}, {V43}, &p);
  check_close(p[0] * t[0],
              {0.08273698656994412, -0.02035136148117468, 0.00042462587375300786, 0.009810802862464463,
               -0.023887042366757667, 0.034943787697029084, -0.004321144985785707, 0.04343621862880292,
               -0.03878420919654652, -0.08822664444662287, 0.0008021852191294361, 0.0034157956257644386},
              1e-9);
  check_close(p[1] * t[1],
              {0.2299999999999999, 0.23955251445936662, -0.26710589157925685, 0.0, 1.2304474855406333,
               0.3124220816144786, 0.0, 0.0, -1.0853161900352215},
              1e-9);
  p.clear();
  t = tangents_of(qr, {A3}, {V3}, &p);
  check_close(p[1] * t[1],
              {0.6300000000000001, 0.3573344307270233, -0.3699050754458163, 0.0, 1.2126655692729766,
               0.3144417872287028, 0.0, 0.0, -1.044536711782887},
              1e-9);
  p.clear();
  t = tangents_of(qr, {A24}, {V24}, &p);
  check_close(p[0] * t[0],
              {-0.00957705486906176, 0.00957705486906176, 0.009577054869061758, -0.009577054869061758}, 1e-9);
  check_close(p[1] * t[1],
              {0.64, 0.2861033202529835, -0.07951393337106114, 0.4176102760554972, 0.0, -2.136103320252983,
               0.05951393337106113, -0.2676102760554971},
              1e-9);
}

TEST_CASE("svd's JVP rule against PyTorch's forward mode: tall and wide") {
  auto svd = [](const std::vector<xg::Tensor>& in) {
    auto [U, S, Vh] = la::svd(in[0]);
    return std::vector<xg::Tensor>{U, S, Vh};
  };
  std::vector<xg::Tensor> p;
  std::vector<xg::Tensor> t = tangents_of(svd, {A43}, {V43}, &p);
  check_close(p[0] * t[0],
              {-0.0069545586532125505, 0.035247732168217055, 0.03451707744751796, 0.031070064801183885,
               -0.060081477260230186, 0.049878960651782114, -0.022592618297942346, 0.032639404407171016,
               -0.009715921662757972, -0.001522887850028955, -0.007805659315157993, -0.07468011643654206},
              1e-9);
  check_close(t[1], {-0.09421563449205217, 0.3595146250060523, -0.002690047619173715}, 1e-10);
  check_close(p[2] * t[2],
              {-0.009631177018006436, 0.10065052320904655, -0.09101934619104007, 0.06958675458938318,
               -0.15696299438526476, 0.08737623979588147, -0.05995557757137675, 0.05631247117621819,
               0.003643106395158605},
              1e-9);
  p.clear();
  t = tangents_of(svd, {A24}, {V24}, &p);
  check_close(p[0] * t[0],
              {0.10524839206497914, -0.10524839206497914, -0.10524839206497917, 0.10524839206497917}, 1e-9);
  check_close(t[1], {-0.5530487042036887, 0.2848138058804417}, 1e-10);
  check_close(p[2] * t[2],
              {0.08523449157175922, -0.054674929651110316, 0.0008811372405876449, -0.03144069916123659,
               -0.11650663293578233, 0.06034184293890881, -0.005876450655379619, 0.06204124065225318},
              1e-9);
}

TEST_CASE("composites of the decompositions get their tangents: pinv, lstsq, svdvals, matrix_norm") {
  auto one = [](xg::Tensor (*f)(const xg::Tensor&)) {
    return [f](const std::vector<xg::Tensor>& in) { return std::vector<xg::Tensor>{f(in[0])}; };
  };
  auto pinv = [](const xg::Tensor& a) { return la::pinv(a); };
  check_close(tangents_of(one(pinv), {A43}, {V43})[0],
              {0.028509339573612638, -0.013369413937112199, -0.03270264659693195, -0.07825710466550713,
               -0.0935473172186146, -0.024093816424793392, 0.04718373831636568, 0.001925514309196099,
               0.0059245611991164, -0.05707418651905898, 0.00816385183451101, 0.008468394674335848},
              1e-9);
  check_close(tangents_of(one(pinv), {A24}, {V24})[0],
              {-0.08222770262820071, 0.0078039256034775645, -0.08961655968797601, 0.08271953852185131,
               0.048686901554222596, 0.032175041553181634, 0.024404593283705214, 0.022262638841554376},
              1e-9);
  const xg::Tensor B41 = f64({1.0, -2.0, 0.5, 3.0}, {4, 1});
  check_close(
      tangents_of(
          [](const std::vector<xg::Tensor>& in) { return std::vector<xg::Tensor>{la::lstsq(in[0], in[1])}; },
          {A43, B41}, {V43, f64({0.1, 0.2, -0.3, 0.4}, {4, 1})})[0],
      {-0.0820940852646722, 0.026046289067852106, 0.08333287509152201}, 1e-9);
  check_close(tangents_of(
                  [](const std::vector<xg::Tensor>& in) {
                    return std::vector<xg::Tensor>{la::lstsq(in[0], f64({1.0, 2.0}, {2, 1}))};
                  },
                  {A24}, {V24})[0],
              {-0.06661985142124559, 0.0758225173557266, 0.11303698466058587, 0.06892987096681397}, 1e-9);
  check_close(tangents_of(one([](const xg::Tensor& a) { return la::svdvals(a); }), {A24}, {V24})[0],
              {-0.5530487042036887, 0.2848138058804417}, 1e-10);
  const xg::Tensor Ab = xg::stack({A3, mT(A3) * 0.5 + xg::eye(3, -1, {.dtype = xg::Dtype::float64})});
  check_close(tangents_of(one([](const xg::Tensor& a) { return la::matrix_norm(a, "nuc"); }), {Ab},
                          {xg::stack({V3, -V3})})[0],
              {0.48443685492579935, -0.5030506364271268}, 1e-10);
}

// PyTorch 1.13 has no forward-mode rule for cdist (nor a tangent for scatter_reduce's prod): the
// references are its reverse-mode Jacobians (torch.autograd.functional.jacobian) times the tangents.
TEST_CASE("cdist's JVP rule against PyTorch's Jacobian, for p = 2, 1, 1.5 and inf") {
  const xg::Tensor X1 = f64({0.5, -1.0, 2.0, 0.3, -0.7, 1.1}, {3, 2});
  const xg::Tensor X2 = f64({1.0, 0.0, -0.5, 0.5, 0.2, -0.8, 1.5, 1.5}, {4, 2});
  const xg::Tensor D1 = f64({0.1, 0.2, -0.3, 0.4, 0.5, -0.6}, {3, 2});
  const xg::Tensor D2 = f64({0.7, -0.1, 0.2, 0.3, -0.4, 0.1, 0.0, 0.6}, {4, 2});
  auto at = [&](double p) {
    return tangents_of(
        [p](const std::vector<xg::Tensor>& in) {
          return std::vector<xg::Tensor>{xg::cdist(in[0], in[1], p)};
        },
        {X1, X2}, {D1, D2})[0];
  };
  check_close(at(2.0),
              {0.0, 0.02773500981126141, 0.360555127546399, 0.3342516087186933, -0.8141523424379786,
               -0.5063821614963515, 0.24176318620138848, 0.06923076923076915, -0.10371160764820697,
               -0.9486832980505138, -1.0178941974906175, -0.2772724292099741},
              1e-12);
  check_close(at(1.0), {0.3, 0.0, 0.4, 0.3, -0.5, -0.6, 0.4, -0.1, -0.3, -1.2, -1.6, 0.7}, 1e-12);
  check_close(at(1.5),
              {0.11233638368320298, 0.015875619901661364, 0.36193173115937394, 0.31236692137117983,
               -0.6902332539281973, -0.5243587704919747, 0.2936916885919796, 0.005866084970368224,
               -0.17584063047706244, -1.0120515860877788, -1.200977155625078, 0.011394553344290237},
              1e-12);
  check_close(at(INFINITY), {-0.3, 0.1, 0.5, 0.4, -1.0, -0.5, 0.1, 0.2, 0.2, -0.9, -0.7, -0.5}, 1e-12);
  // above 25 rows (the matrix-product forward): the same rule as the direct pairs
  const xg::Tensor big = xg::randn({27, 2}, {.dtype = xg::Dtype::float64});
  const xg::Tensor dbig = xg::randn({27, 2}, {.dtype = xg::Dtype::float64});
  const xg::Tensor jv = tangents_of(
      [](const std::vector<xg::Tensor>& in) { return std::vector<xg::Tensor>{xg::cdist(in[0], in[1])}; },
      {big, X2}, {dbig, D2})[0];
  const xg::Tensor jv1 = tangents_of(
      [](const std::vector<xg::Tensor>& in) { return std::vector<xg::Tensor>{xg::cdist(in[0], in[1], 1.5)}; },
      {big, X2}, {dbig, D2})[0];
  const double eps = 1e-6;
  const xg::Tensor fd =
      (xg::cdist(big + eps * dbig, X2 + eps * D2) - xg::cdist(big - eps * dbig, X2 - eps * D2)) / (2 * eps);
  CHECK(xg_test::max_abs(fd - jv) < 1e-8);
  CHECK(jv1.shape() == xg::Shape{27, 4});
}

TEST_CASE("scatter_reduce's JVP rule against PyTorch's Jacobian, every reduction") {
  const xg::Tensor x = f64({0.5, -1.0, 2.0, 1.5, 0.3, -0.7}, {2, 3});
  const xg::Tensor idx = xg::tensor({0.0, 0, 2, 0, 1, 1, 1, 0}, {2, 4}).to(xg::Dtype::int64);
  const xg::Tensor s = f64({1.1, -0.4, 0.8, 2.0, -1.3, 0.6, 0.9, -0.2}, {2, 4});
  const xg::Tensor dx = f64({0.1, 0.2, 0.3, -0.4, 0.5, -0.6}, {2, 3});
  const xg::Tensor ds = f64({0.7, -0.8, 0.9, 0.15, 0.25, -0.35, 0.45, -0.55}, {2, 4});
  struct Case {
    const char* reduce;
    bool include_self;
    std::vector<double> want;
  };
  const std::vector<Case> cases = {
      {"sum", true, {0.15, 0.2, 1.2, -0.95, 0.85, -0.6}},
      {"sum", false, {0.05, 0.2, 0.9, -0.55, 0.35, -0.6}},
      {"prod", true, {-1.281, 0.2, 2.04, -0.745, -0.29295, -0.6}},
      {"prod", false, {-2.386, 0.2, 0.9, -0.55, 0.1935, -0.6}},
      {"mean", true, {0.0375, 0.2, 0.6, -0.475, 0.2125, -0.6}},
      {"mean", false, {0.016666666666666642, 0.2, 0.9, -0.55, 0.11666666666666667, -0.6}},
      {"amax", true, {0.15, 0.2, 0.3, -0.4, 0.45, -0.6}},
      {"amax", false, {0.15, 0.2, 0.9, -0.55, 0.45, -0.6}},
      {"amin", true, {-0.8, 0.2, 0.9, -0.55, 0.25, -0.6}},
      {"amin", false, {-0.8, 0.2, 0.9, -0.55, 0.25, -0.6}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.reduce);
    CAPTURE(c.include_self);
    const std::string r = c.reduce;
    const bool self = c.include_self;
    check_close(tangents_of(
                    [&](const std::vector<xg::Tensor>& in) {
                      return std::vector<xg::Tensor>{xg::scatter_reduce(in[0], 1, idx, in[1], r, self)};
                    },
                    {x, s}, {dx, ds})[0],
                c.want, 1e-12);
  }
  // a source larger than the index: only its leading block is read, and so its tangent
  const xg::Tensor s5 = xg::cat({s, f64({9.0, 9.0}, {2, 1})}, 1),
                   ds5 = xg::cat({ds, f64({5.0, 5.0}, {2, 1})}, 1);
  for (const char* r : {"sum", "prod", "amax"}) {
    CAPTURE(r);
    auto f = [r, &idx](const std::vector<xg::Tensor>& in) {
      return std::vector<xg::Tensor>{xg::scatter_reduce(in[0], 1, idx, in[1], r)};
    };
    CHECK(xg_test::max_abs(tangents_of(f, {x, s5}, {dx, ds5})[0] - tangents_of(f, {x, s}, {dx, ds})[0]) <
          1e-15);
    xg::Tensor xl = x.detach().requires_grad_(true), sl = s5.detach().requires_grad_(true);
    CHECK(xg::gradcheck(f, {xl, sl}).passed);
  }
}

TEST_CASE("reverse over forward through the new JVP rules passes gradcheck") {
  // x -> J_f(x) v for fixed v, differentiated by reverse mode: the JVP rules' own ops recorded
  auto jv_of = [](std::function<xg::Tensor(const xg::Tensor&)> f, xg::Tensor v) {
    return [f, v](const std::vector<xg::Tensor>& in) {
      fw::DualLevel level;
      return std::vector<xg::Tensor>{fw::unpack_dual(f(fw::make_dual(in[0], v))).tangent};
    };
  };
  auto leaf = [](const xg::Tensor& t) { return t.detach().clone().requires_grad_(true); };
  CHECK(xg::gradcheck(jv_of([](const xg::Tensor& a) { return la::eigh(a + mT(a)).first; }, V3), {leaf(A3)})
            .passed);
  CHECK(xg::gradcheck(jv_of(
                          [](const xg::Tensor& a) {
                            const xg::Tensor V = la::eigh(a + mT(a)).second;
                            return V * V;
                          },
                          V3),
                      {leaf(A3)})
            .passed);
  CHECK(xg::gradcheck(jv_of([](const xg::Tensor& a) { return la::qr(a).second; }, V43), {leaf(A43)}).passed);
  CHECK(xg::gradcheck(jv_of([](const xg::Tensor& a) { return la::qr(a).first; }, V24), {leaf(A24)}).passed);
  CHECK(xg::gradcheck(jv_of(
                          [](const xg::Tensor& a) {
                            auto [U, S, Vh] = la::svd(a);
                            return xg::matmul(U * f64({1.0, 2.0, 4.0}, {3}), Vh);
                          },
                          V43),
                      {leaf(A43)})
            .passed);
  CHECK(xg::gradcheck(jv_of([](const xg::Tensor& a) { return la::pinv(a); }, V24), {leaf(A24)}).passed);
  const xg::Tensor X2 = f64({1.0, 0.0, -0.5, 0.5, 0.2, -0.8, 1.5, 1.5}, {4, 2});
  CHECK(xg::gradcheck(jv_of([X2](const xg::Tensor& a) { return xg::cdist(a, X2, 1.5); },
                            f64({0.1, 0.2, -0.3, 0.4, 0.5, -0.6}, {3, 2})),
                      {leaf(f64({0.5, -1.0, 2.0, 0.3, -0.7, 1.1}, {3, 2}))})
            .passed);
}
