// The ops of autograd/ops/elementwise_more.cpp against PyTorch 1.13 (float64) numbers, their
// edge cases (NaN, signs, ties) and their errors. Gradients are gradchecked by the registry sweep.
#include <doctest/doctest.h>

#include <cmath>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/functional.hpp"

using xg_test::check_values;

namespace {
xg::Tensor f64(const std::vector<double>& v) {
  return xg::tensor(v, {.dtype = xg::Dtype::float64});
}
const xg::Tensor kA = f64({-3.5, -2.0, 0.0, 1.5, 7.25});
const xg::Tensor kB = f64({2.0, -1.5, 1.0, -0.5, 3.0});
const xg::Tensor kZ = f64({-5, -2, -0.5, 0, 1, 2.5, 4, 30});
}  // namespace

TEST_CASE("binary math matches PyTorch") {
  check_values(xg::atan2(kA, kB),
               {-1.0516502125483738, -2.214297435588181, 0.0, 1.892546881191539, 1.178456182579381});
  check_values(xg::logaddexp(kA, kB), {2.0040784432705707, -1.0259230158198933, 1.3132616875182228,
                                       1.6269280110429727, 7.264163456931505});
  check_values(xg::logaddexp(f64({1000, -1000}), f64({1000, -1000})),
               {1000.6931471805599, -999.3068528194401});
  check_values(xg::hypot(kA, kB), {4.031128874149275, 2.5, 1.0, 1.5811388300841898, 7.846177413237608});
  // broadcasting and promotion as add: float32 [2, 1] with float64 [3] gives float64 [2, 3]
  xg::Tensor p = xg::atan2(xg::tensor({1.0, -1.0}, {2, 1}), f64({1, 2, 3}));
  CHECK(p.dtype() == xg::Dtype::float64);
  CHECK(p.shape() == xg::Shape{2, 3});
}

TEST_CASE("xlogy is 0 where x is 0, NaN where y is NaN") {
  const std::vector<double> v = xg::xlogy(f64({0, 0, 2, 0}), f64({0, NAN, 3, -1})).to_vector<double>();
  CHECK(v[0] == 0.0);
  CHECK(std::isnan(v[1]));
  CHECK(v[2] == doctest::Approx(2.1972245773362196).epsilon(1e-12));
  CHECK(v[3] == 0.0);
}

TEST_CASE("fmod takes the dividend's sign, remainder the divisor's") {
  check_values(xg::fmod(kA, kB), {-1.5, -0.5, 0.0, 0.0, 1.25});
  check_values(xg::remainder(kA, kB), {0.5, -0.5, 0.0, 0.0, 1.25});
  const xg::Tensor a = xg_test::i64({-7, 7, -7, 7}), b = xg_test::i64({3, -3, -3, 3});
  CHECK(xg::fmod(a, b).to_vector<int64_t>() == std::vector<int64_t>{-1, 1, -1, 1});
  CHECK(xg::remainder(a, b).to_vector<int64_t>() == std::vector<int64_t>{2, -2, -1, 1});
  CHECK_ERROR(xg::fmod(a, xg_test::i64({1, 0, 1, 1})), xg::ValueError, "fmod", "division by zero");
  CHECK_ERROR(xg::remainder(a, xg_test::i64({0, 1, 1, 1})), xg::ValueError, "remainder", "division by zero");
  // gradients as PyTorch: 1 for a; -trunc(a / b) and -floor(a / b) for b
  xg::Tensor a1 = kA.clone().detach().requires_grad_(), b1 = kB.clone().detach().requires_grad_();
  auto g = xg::grad({xg::sum(xg::fmod(a1, b1))}, {a1, b1});
  check_values(g[0], {1, 1, 1, 1, 1});
  check_values(g[1], {1, -1, 0, 3, -2});
  g = xg::grad({xg::sum(xg::remainder(a1, b1))}, {a1, b1});
  check_values(g[1], {2, -1, 0, 3, -2});
}

TEST_CASE("logit, erfinv, lgamma, digamma, polygamma match PyTorch") {
  const xg::Tensor x = f64({0.1, 0.5, 0.95, 0.02});
  check_values(xg::logit(x), {-2.197224577336219, 0.0, 2.9444389791664394, -3.8918202981106265});
  check_values(xg::logit(x, 0.05), {-2.197224577336219, 0.0, 2.9444389791664394, -2.9444389791664403});
  check_values(xg::erfinv(f64({-0.99, -0.3, 0.0, 0.5, 0.999999})),
               {-1.8213863677184483, -0.2724627147267544, 0.0, 0.4769362762044699, 3.458910737283175}, 1e-10);
  const std::vector<double> e = xg::erfinv(f64({1, -1, 1.5})).to_vector<double>();
  CHECK(e[0] == INFINITY);
  CHECK(e[1] == -INFINITY);
  CHECK(std::isnan(e[2]));
  const xg::Tensor y = f64({0.25, 1.0, 2.5, 10.0, -1.5});
  check_values(xg::lgamma(y),
               {1.2880225246980774, 0.0, 0.2846828704729192, 12.801827480081469, 0.860047015376481});
  check_values(xg::digamma(y), {-4.2274535333762655, -0.5772156649015328, 0.7031566406452431,
                                2.251752589066721, 0.7031566406452433});
  const std::vector<double> d = xg::digamma(f64({0, -2, NAN})).to_vector<double>();
  CHECK(d[0] == -INFINITY);
  CHECK(std::isnan(d[1]));
  CHECK(std::isnan(d[2]));
  check_values(
      xg::polygamma(1, y),
      {17.19732915341456, 1.6449340676383375, 0.4903577562398206, 0.10516633568216657, 9.37924664484954},
      1e-9);
  // PyTorch 1.13's trigamma is off by ~1e-9 there; the exact value at 1 is pi^2 / 6
  CHECK(xg::polygamma(1, f64({1.0})).item() == doctest::Approx(M_PI * M_PI / 6).epsilon(1e-15));
  check_values(xg::polygamma(2, y),
               {-129.32773993753688, -2.404113806319188, -0.23620405164172736, -0.011049834970802069,
                -0.23620405164172825},
               1e-11);
  CHECK_ERROR(xg::polygamma(-1, y), xg::ValueError, "polygamma", "-1");
}

TEST_CASE("rounding: halves to even, zero gradient, int64 passes through") {
  const xg::Tensor r = f64({-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 1.2});
  check_values(xg::floor(r), {-3, -2, -1, 0, 1, 2, -2, 1});
  check_values(xg::ceil(r), {-2, -1, -0.0, 1, 2, 3, -1, 2});
  check_values(xg::round(r), {-2, -2, -0.0, 0, 2, 2, -2, 1});
  CHECK(std::signbit(xg::round(r).to_vector<double>()[2]));  // -0.5 rounds to -0, as PyTorch
  check_values(xg::trunc(r), {-2, -1, -0.0, 0, 1, 2, -1, 1});
  check_values(xg::frac(r), {-0.5, -0.5, -0.5, 0.5, 0.5, 0.5, -0.7, 0.19999999999999996});
  CHECK(xg::floor(xg_test::i64({3, -4})).to_vector<int64_t>() == std::vector<int64_t>{3, -4});
  CHECK(std::isnan(xg::floor(f64({NAN})).item()));
  xg::Tensor x = r.clone().detach().requires_grad_();
  check_values(xg::grad({xg::sum(xg::round(x) + xg::frac(x))}, {x})[0], {1, 1, 1, 1, 1, 1, 1, 1});
}

TEST_CASE("any and all reduce to masks; NaN counts as true") {
  const xg::Tensor m = xg::tensor({0, 2, 0, 0, 0, 0, 1, 1, NAN}, {3, 3}, {.dtype = xg::Dtype::float64});
  check_values(xg::any(m, {1}), {1, 0, 1});
  check_values(xg::all(m, {1}), {0, 0, 1});
  check_values(xg::any(m), {1});
  check_values(xg::all(m), {0});
  const xg::Tensor k = xg::all(m, {0}, true);
  CHECK(k.shape() == xg::Shape{1, 3});
  check_values(xg::all(xg::zeros({2, 0}, {.dtype = xg::Dtype::float64}), {1}), {1, 1});
  check_values(xg::any(xg::zeros({2, 0}, {.dtype = xg::Dtype::float64}), {1}), {0, 0});
  const xg::Tensor i = xg::any(xg_test::i64({0, 3, 0, 0}, {2, 2}), {1});
  CHECK(i.dtype() == xg::Dtype::int64);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{1, 0});
}

TEST_CASE("activations match PyTorch") {
  check_values(xg::mish(kZ), {-0.033576237730161704, -0.2525014826957089, -0.22074377465173, 0.0,
                              0.8650983882673103, 2.471392304557881, 3.9974128069762385, 30.0});
  check_values(xg::hardswish(kZ),
               {0.0, -1.0 / 3, -0.20833333333333334, 0.0, 2.0 / 3, 2.2916666666666665, 4, 30});
  check_values(xg::hardsigmoid(kZ), {0, 1.0 / 6, 0.4166666666666667, 0.5, 2.0 / 3, 0.9166666666666666, 1, 1});
  check_values(xg::selu(kZ), {-1.7462533606696198, -1.5201664685956948, -0.6917581878028713, 0.0,
                              1.0507009873554805, 2.626752468388701, 4.202803949421922, 31.521029620664414});
  check_values(xg::celu(kZ, 0.5),
               {-0.49997730003511875, -0.4908421805556329, -0.31606027941427883, 0.0, 1.0, 2.5, 4.0, 30.0});
  check_values(xg::logsigmoid(kZ),
               {-5.006715348489118, -2.1269280110429727, -0.9740769841801067, -0.6931471805599453,
                -0.31326168751822286, -0.07888973429254963, -0.018149927917809738, -9.357622968839737e-14});
  check_values(xg::logsigmoid(f64({-800, 800})), {-800, 0});
  check_values(xg::softsign(kZ),
               {-5.0 / 6, -2.0 / 3, -1.0 / 3, 0.0, 0.5, 0.7142857142857143, 0.8, 0.967741935483871});
  check_values(xg::tanhshrink(kZ), {-4.000090795737405, -1.035972419924183, -0.03788284273999026, 0.0,
                                    0.23840584404423515, 1.5133857018485697, 3.000670700260933, 29.0});
  check_values(xg::hardtanh(kZ, -1, 2), {-1, -1, -0.5, 0, 1, 2, 2, 2});
  check_values(xg::softmin(f64({1, 2, 3}), 0), {0.6652409557748218, 0.2447284710547976, 0.09003057317038045});
  check_values(xg::glu(xg::tensor({1.0, 2, 3, 4}, {1, 4}, {.dtype = xg::Dtype::float64})),
               {0.9525741268224334, 1.964027580075817});
  CHECK(std::isnan(xg::mish(f64({NAN})).item()));
  CHECK(std::isnan(xg::hardswish(f64({NAN})).item()));
}

TEST_CASE("hardswish and prelu gradients match PyTorch") {
  xg::Tensor z = kZ.clone().detach().requires_grad_();
  check_values(xg::grad({xg::sum(xg::hardswish(z))}, {z})[0],
               {0.0, -1.0 / 6, 1.0 / 3, 0.5, 0.8333333333333333, 1.3333333333333335, 1.0, 1.0});
  xg::Tensor x = xg::tensor({-1.0, 2, 3, -4}, {2, 2}, {.dtype = xg::Dtype::float64}).requires_grad_();
  xg::Tensor w = f64({0.25, 0.5}).requires_grad_();
  check_values(xg::prelu(x, w), {-0.25, 2, 3, -2});
  check_values(xg::prelu(x, f64({0.1})), {-0.1, 2, 3, -0.4});
  auto g = xg::grad({xg::sum(xg::prelu(x, w))}, {x, w});
  check_values(g[0], {0.25, 1, 1, 0.5});
  check_values(g[1], {-1, -4});
}

TEST_CASE("errors name the op") {
  const xg::Tensor i = xg_test::i64({1, 2});
  CHECK_ERROR(xg::atan2(i, i), xg::TypeError, "atan2");
  CHECK_ERROR(xg::xlogy(i, i), xg::TypeError, "xlogy");
  CHECK_ERROR(xg::logit(i), xg::TypeError, "logit");
  CHECK_ERROR(xg::digamma(i), xg::TypeError, "digamma");
  CHECK_ERROR(xg::frac(i), xg::TypeError, "frac");
  CHECK_ERROR(xg::mish(i), xg::TypeError, "mish");
  CHECK_ERROR(xg::glu(f64({1, 2, 3}), 0), xg::ShapeError, "glu", "[3]", "even");
  CHECK_ERROR(xg::prelu(xg::zeros({2, 3}), xg::zeros({2})), xg::ShapeError, "prelu", "[2, 3]");
  CHECK_ERROR(xg::celu(kZ, 0.0), xg::ValueError, "celu");
  CHECK_ERROR(xg::hardtanh(kZ, 1.0, -1.0), xg::ValueError, "hardtanh");
  CHECK_ERROR(xg::hypot(f64({1, 2}), f64({1, 2, 3})), xg::ShapeError, "hypot");
}

TEST_CASE("nn::functional re-exports the activations") {
  namespace F = xg::nn::functional;
  check_values(F::hardswish(f64({1.0})), {2.0 / 3});
  check_values(F::softmin(f64({1, 2, 3}), 0), {0.6652409557748218, 0.2447284710547976, 0.09003057317038045});
}

TEST_CASE("polygamma and digamma at negative and extreme arguments: finite time, reflection") {
  // mpmath 1.2: polygamma(1, -1.5) 9.379246644989124, polygamma(1, -88.8) 28.55565325165412,
  // polygamma(2, -88.8) -247.0480458019414, polygamma(4, -2.5) -0.06799599950673137,
  // polygamma(1, -100000.5) 9.869594401189358, digamma(-88.8) 0.16797538287636454,
  // digamma(-100000.5) 11.512935464924395. The upward recurrence took |x| steps from a negative
  // x: polygamma(1, -1e20) and polygamma(1, -inf) never returned.
  check_values(xg::polygamma(1, f64({-1.5, -88.8, -100000.5})),
               {9.379246644989124, 28.55565325165412, 9.869594401189358}, 1e-12);
  check_values(xg::polygamma(2, f64({-88.8})), {-247.0480458019414}, 1e-12);
  check_values(xg::polygamma(4, f64({-2.5})), {-0.06799599950673137}, 1e-11);
  check_values(xg::digamma(f64({-88.8, -100000.5})), {0.16797538287636454, 11.512935464924395}, 1e-12);
  const std::vector<double> p1 =
      xg::polygamma(1, f64({-1e20, -INFINITY, -2, -1e-310, 0})).to_vector<double>();
  CHECK(p1[0] == INFINITY);  // a pole: every double this large is an integer
  CHECK(std::isnan(p1[1]));
  CHECK(p1[2] == INFINITY);
  CHECK(p1[3] == INFINITY);  // next to the pole at 0 (cot(pi x) overflows there)
  CHECK(p1[4] == INFINITY);
  const std::vector<double> p2 = xg::polygamma(2, f64({-2, 0})).to_vector<double>();
  CHECK(std::isnan(p2[0]));   // even order: the sign flips across the pole
  CHECK(p2[1] == -INFINITY);  // from the right, as PyTorch
}

TEST_CASE("NaN in hardtanh, logit, atan2 and hypot gradients as PyTorch; no underflow to inf") {
  // hardtanh's gradient at NaN is 0, as PyTorch's vectorised backward (its scalar tail, for the
  // last elements of a tensor, gives 1 instead); torch.logit's gradient is NaN outside [0, 1].
  xg::Tensor x = f64({NAN, -2, 0.5, 1}).requires_grad_();
  check_values(xg::grad({xg::sum(xg::hardtanh(x))}, {x})[0], {0, 0, 1, 0});
  xg::Tensor p = f64({-0.5, 1.5, 0.5}).requires_grad_();
  const std::vector<double> gl = xg::grad({xg::sum(xg::logit(p))}, {p})[0].to_vector<double>();
  CHECK(std::isnan(gl[0]));
  CHECK(std::isnan(gl[1]));
  CHECK(gl[2] == doctest::Approx(4.0));
  // float32 a = b = 1e-30: a^2 + b^2 underflows to 0. d/da atan2 = b / (a^2 + b^2) = 5e29, and
  // hypot's a / hypot = 0.70710678 (PyTorch 1.13: inf and -inf for atan2, 0.7071 for hypot).
  xg::Tensor a = xg::tensor({1e-30f}).requires_grad_(), b = xg::tensor({1e-30f}).requires_grad_();
  std::vector<xg::Tensor> g = xg::grad({xg::atan2(a, b)}, {a, b});
  CHECK(g[0].item() == doctest::Approx(5e29).epsilon(1e-6));
  CHECK(g[1].item() == doctest::Approx(-5e29).epsilon(1e-6));
  g = xg::grad({xg::hypot(a, b)}, {a, b});
  CHECK(g[0].item() == doctest::Approx(0.70710678).epsilon(1e-6));
  xg::Tensor z = xg::tensor({0.0f}).requires_grad_(), t = xg::tensor({1e-40f}).requires_grad_();
  g = xg::grad({xg::hypot(z, t)}, {z, t});  // (g / h) a was inf * 0 = NaN
  CHECK(g[0].item() == 0.0);
  CHECK(g[1].item() == doctest::Approx(1.0));
}
