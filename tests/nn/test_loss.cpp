// Losses of xg::nn: values against hand computations of PyTorch's documented formulas for every
// reduction, class weights, ignore_index, label smoothing, probability targets, pos_weight and
// batchmean; stability at logits of +-100; float64 gradcheck (and gradgradcheck) of every loss
// w.r.t. its inputs and float targets; the modules; error cases.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/loss.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;
using xg::nn::Reduction;
namespace F = xg::nn::functional;

constexpr xg::TensorOptions f64{.dtype = Dtype::float64};
constexpr xg::TensorOptions f64g{.dtype = Dtype::float64, .requires_grad = true};

using xg_test::check_values;
using xg_test::i64;

void check_scalar(const Tensor& t, double expected, double eps = 1e-10) {
  REQUIRE(t.defined());
  CHECK(t.dim() == 0);
  CHECK(t.item() == doctest::Approx(expected).epsilon(eps));
}

bool all_finite(const Tensor& t) {
  for (double v : t.to_vector<double>())
    if (!std::isfinite(v)) return false;
  return true;
}

// gradcheck and gradgradcheck of f w.r.t. every input that requires grad.
template <class Fn>
void check_grads(Fn f, const std::vector<Tensor>& inputs, bool second = true) {
  const auto r = xg::gradcheck(f, inputs);
  INFO(r.str());
  CHECK(r.passed);
  if (second) {
    const auto r2 = xg::gradgradcheck(f, inputs);
    INFO(r2.str());
    CHECK(r2.passed);
  }
}

// Logits [[1, 2, 3], [1, 1, 1]] with targets [2, 0]: per-sample losses
// logsumexp(1, 2, 3) - 3 and log 3.
const double kCe0 = 0.4076059644443806, kCe1 = 1.09861228866811;
Tensor logits23(xg::TensorOptions o = f64) {
  return xg::tensor({1, 2, 3, 1, 1, 1}, {2, 3}, o);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// regression losses
// ---------------------------------------------------------------------------------------------

TEST_CASE("mse_loss and l1_loss: none, mean, sum") {
  Tensor x = xg::tensor({1, 2, 3}, f64), y = xg::tensor({1.5, 2, 5}, f64);
  check_values(F::mse_loss(x, y, {.reduction = Reduction::none}), {0.25, 0, 4});
  check_scalar(F::mse_loss(x, y), 4.25 / 3);
  check_scalar(F::mse_loss(x, y, {.reduction = Reduction::sum}), 4.25);
  check_values(F::l1_loss(x, y, {.reduction = Reduction::none}), {0.5, 0, 2});
  check_scalar(F::l1_loss(x, y), 2.5 / 3);
  check_scalar(F::l1_loss(x, y, {.reduction = Reduction::sum}), 2.5);

  // d mean((x - y)^2) / dx = 2 (x - y) / n; the target gets the negative
  Tensor xg_ = xg::tensor({1, 2, 3}, f64g), yg = xg::tensor({1.5, 2, 5}, f64g);
  F::mse_loss(xg_, yg).backward();
  check_values(xg_.grad(), {-1.0 / 3, 0, -4.0 / 3});
  check_values(yg.grad(), {1.0 / 3, 0, 4.0 / 3});

  // float32 input with a float64 target: the loss keeps the input's dtype
  Tensor l32 = F::mse_loss(xg::tensor({1, 2}), xg::tensor({0, 0}, f64));
  CHECK(l32.dtype() == Dtype::float32);
  CHECK(l32.item() == doctest::Approx(2.5));
}

TEST_CASE("smooth_l1_loss and huber_loss: both branches, beta/delta, beta = 0 is L1") {
  Tensor x = xg::tensor({1, 2, 3, 0}, f64), y = xg::tensor({1.5, 2, 5, 3}, f64);  // d = -0.5, 0, -2, -3
  check_values(F::smooth_l1_loss(x, y, {.reduction = Reduction::none}), {0.125, 0, 1.5, 2.5});
  check_scalar(F::smooth_l1_loss(x, y), 4.125 / 4);
  check_scalar(F::smooth_l1_loss(x, y, {.reduction = Reduction::sum}), 4.125);
  // beta 0.5: |d| = 0.5 is not < beta, so the linear branch |d| - 0.25
  check_values(F::smooth_l1_loss(x, y, {.reduction = Reduction::none, .beta = 0.5}), {0.25, 0, 1.75, 2.75});
  // beta 4: all quadratic, 0.5 d^2 / 4
  check_values(F::smooth_l1_loss(x, y, {.reduction = Reduction::none, .beta = 4}), {0.03125, 0, 0.5, 1.125});
  check_values(F::smooth_l1_loss(x, y, {.reduction = Reduction::none, .beta = 0}), {0.5, 0, 2, 3});

  check_values(F::huber_loss(x, y, {.reduction = Reduction::none}), {0.125, 0, 1.5, 2.5});
  // delta 1.5: 0.5 d^2 inside, 1.5 (|d| - 0.75) outside
  check_values(F::huber_loss(x, y, {.reduction = Reduction::none, .delta = 1.5}), {0.125, 0, 1.875, 3.375});
  check_scalar(F::huber_loss(x, y, {.reduction = Reduction::sum, .delta = 1.5}), 5.375);
  // huber(delta) = delta * smooth_l1(beta = delta)
  check_scalar(F::huber_loss(x, y, {.delta = 2.5}), 2.5 * F::smooth_l1_loss(x, y, {.beta = 2.5}).item());
}

TEST_CASE("regression losses: gradcheck and gradgradcheck w.r.t. input and target") {
  // differences kept away from the kinks at 0 and +-beta
  Tensor x = xg::tensor({0.3, -1.2, 2.5, 0.9, -0.4, 1.7}, {2, 3}, f64g);
  Tensor y = xg::tensor({-0.1, 0.5, 0.2, 1.6, 0.35, 1.1}, {2, 3}, f64g);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    CAPTURE(xg::nn::reduction_name(r));
    check_grads([r](const std::vector<Tensor>& in) { return F::mse_loss(in[0], in[1], {.reduction = r}); },
                {x, y});
    check_grads([r](const std::vector<Tensor>& in) { return F::l1_loss(in[0], in[1], {.reduction = r}); },
                {x, y});
    check_grads(
        [r](const std::vector<Tensor>& in) {
          return F::smooth_l1_loss(in[0], in[1], {.reduction = r, .beta = 1.0});
        },
        {x, y});
    check_grads(
        [r](const std::vector<Tensor>& in) {
          return F::huber_loss(in[0], in[1], {.reduction = r, .delta = 0.5});
        },
        {x, y});
  }
}

// ---------------------------------------------------------------------------------------------
// cross_entropy and nll_loss
// ---------------------------------------------------------------------------------------------

TEST_CASE("cross_entropy with class indices: values for every reduction") {
  Tensor t = i64({2, 0});
  check_values(F::cross_entropy(logits23(), t, {.reduction = Reduction::none}), {kCe0, kCe1});
  check_scalar(F::cross_entropy(logits23(), t), (kCe0 + kCe1) / 2);
  check_scalar(F::cross_entropy(logits23(), t, {.reduction = Reduction::sum}), kCe0 + kCe1);
  // float32 gives the same to float precision
  Tensor l32 = F::cross_entropy(logits23({}), t);
  CHECK(l32.dtype() == Dtype::float32);
  CHECK(l32.item() == doctest::Approx((kCe0 + kCe1) / 2).epsilon(1e-6));
  // the gradient is (softmax - one_hot) / N
  Tensor x = logits23(f64g);
  F::cross_entropy(x, t).backward();
  Tensor expect = (xg::softmax(logits23(), 1) - xg::one_hot(t, 3, Dtype::float64)) / 2.0;
  check_values(x.grad(), expect.to_vector<double>());
}

TEST_CASE("cross_entropy with class weights: the mean divides by the weights of the targets") {
  Tensor w = xg::tensor({0.2, 0.3, 0.5}, f64), t = i64({2, 0});
  check_values(F::cross_entropy(logits23(), t, {.weight = w, .reduction = Reduction::none}),
               {0.5 * kCe0, 0.2 * kCe1});
  check_scalar(F::cross_entropy(logits23(), t, {.weight = w, .reduction = Reduction::sum}),
               0.5 * kCe0 + 0.2 * kCe1);
  check_scalar(F::cross_entropy(logits23(), t, {.weight = w}), (0.5 * kCe0 + 0.2 * kCe1) / 0.7);
  check_scalar(F::cross_entropy(logits23(), t, {.weight = w}), 0.6050363427940175);
}

TEST_CASE("cross_entropy ignore_index: ignored targets add nothing and do not count") {
  Tensor t = i64({2, -100});
  check_values(F::cross_entropy(logits23(), t, {.reduction = Reduction::none}), {kCe0, 0});
  check_scalar(F::cross_entropy(logits23(), t), kCe0);
  check_scalar(F::cross_entropy(logits23(), t, {.reduction = Reduction::sum}), kCe0);
  // a custom ignore_index, with weights: the mean's denominator is the weight of target 2 only
  Tensor w = xg::tensor({0.2, 0.3, 0.5}, f64);
  check_scalar(F::cross_entropy(logits23(), i64({2, 0}), {.weight = w, .ignore_index = 0}), kCe0);
  // the ignored row gets no gradient
  Tensor x = logits23(f64g);
  F::cross_entropy(x, t).backward();
  check_values(xg::slice(x.grad(), 0, 1, 2), {0, 0, 0});
  // every target ignored: the mean is 0 / 0 = NaN, as PyTorch's; the sum is 0
  CHECK(std::isnan(F::cross_entropy(logits23(), i64({-100, -100})).item()));
  check_scalar(F::cross_entropy(logits23(), i64({-100, -100}), {.reduction = Reduction::sum}), 0.0);
}

TEST_CASE("cross_entropy label smoothing 0.1: PyTorch's (1 - s) nll + s / C smoothing term") {
  // per sample (1 - s) nll + s / C * (-sum_c log_softmax)
  Tensor t = i64({2, 0});
  check_values(F::cross_entropy(logits23(), t, {.reduction = Reduction::none, .label_smoothing = 0.1}),
               {0.5076059644443807, 1.09861228866811});
  check_scalar(F::cross_entropy(logits23(), t, {.label_smoothing = 0.1}), 0.8031091265562453);
  check_scalar(F::cross_entropy(logits23(), t, {.reduction = Reduction::sum, .label_smoothing = 0.1}),
               0.5076059644443807 + 1.09861228866811);
  // with weights: both terms are divided by the weights of the targets (0.5 + 0.2)
  Tensor w = xg::tensor({0.2, 0.3, 0.5}, f64);
  check_scalar(F::cross_entropy(logits23(), t, {.weight = w, .label_smoothing = 0.1}), 0.6495907205675915);
  // with an ignored target: its smoothing term is 0 and it does not count
  check_scalar(F::cross_entropy(logits23(), i64({2, -100}), {.label_smoothing = 0.1}), 0.5076059644443807);
  // smoothing 1: the loss is the uniform-target cross entropy
  check_scalar(F::cross_entropy(logits23(), t, {.label_smoothing = 1.0}),
               F::cross_entropy(logits23(), xg::full({2, 3}, 1.0 / 3, f64)).item());
}

TEST_CASE("cross_entropy with probability targets") {
  Tensor p = xg::tensor({0.1, 0.2, 0.7, 0.5, 0.25, 0.25}, {2, 3}, f64);
  check_values(F::cross_entropy(logits23(), p, {.reduction = Reduction::none}),
               {0.8076059644443805, 1.09861228866811});
  check_scalar(F::cross_entropy(logits23(), p), 0.9531091265562452);
  check_scalar(F::cross_entropy(logits23(), p, {.reduction = Reduction::sum}),
               0.8076059644443805 + 1.09861228866811);
  // one-hot probabilities give the class-index loss
  check_scalar(F::cross_entropy(logits23(), xg::one_hot(i64({2, 0}), 3, Dtype::float64)), (kCe0 + kCe1) / 2);
  // weights and smoothing: the mean divides by N (not by the weights)
  Tensor w = xg::tensor({0.2, 0.3, 0.5}, f64);
  check_scalar(F::cross_entropy(logits23(), p, {.weight = w, .label_smoothing = 0.1}), 0.30895471730872404);
}

TEST_CASE("cross_entropy on [N, C, d] and on an unbatched [C] input") {
  // [N=2, C=3, d=2] equals the [4, 3] loss of the permuted rows
  Tensor x = xg::tensor({0.1, -1, 2, 0.5, 0.3, 1.2, 1, 2, -0.5, 0, 0.7, 0.7}, {2, 3, 2}, f64);
  Tensor t = i64({2, 0, -100, 1}, {2, 2});
  Tensor w = xg::tensor({0.5, 1, 2}, f64);
  Tensor rows = xg::reshape(xg::permute(x, {0, 2, 1}), {4, 3});
  Tensor trows = i64({2, 0, -100, 1});
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum})
    for (double s : {0.0, 0.2}) {
      CAPTURE(xg::nn::reduction_name(r));
      CAPTURE(s);
      Tensor a = F::cross_entropy(x, t, {.weight = w, .reduction = r, .label_smoothing = s});
      Tensor b = F::cross_entropy(rows, trows, {.weight = w, .reduction = r, .label_smoothing = s});
      if (r == Reduction::none) CHECK(a.shape() == xg::Shape{2, 2});
      check_values(a, b.to_vector<double>());
    }
  // probabilities of the input's shape
  Tensor p = xg::softmax(xg::tensor({1, 0, 0, 1, 2, -1, 0.5, 0.5, 0, 0, 1, 3}, {2, 3, 2}, f64), 1);
  Tensor prows = xg::reshape(xg::permute(p, {0, 2, 1}), {4, 3});
  check_values(F::cross_entropy(x, p, {.reduction = Reduction::none}),
               F::cross_entropy(rows, prows, {.reduction = Reduction::none}).to_vector<double>());
  check_scalar(F::cross_entropy(x, p), F::cross_entropy(rows, prows).item());

  // unbatched: [C] logits with a 0-D target
  Tensor u = F::cross_entropy(xg::tensor({1, 2, 3}, f64), i64({2}, xg::Shape{}));
  check_scalar(u, kCe0);
  check_scalar(F::cross_entropy(xg::tensor({1, 2, 3}, f64), xg::tensor({0, 0, 1}, f64)), kCe0);
}

TEST_CASE("nll_loss: weighted mean, ignore_index, and cross_entropy = nll_loss(log_softmax)") {
  Tensor lp = xg::tensor({-1, -2, -3, -0.5, -1.5, -2.5}, {2, 3}, f64);
  Tensor t = i64({1, 2});
  check_values(F::nll_loss(lp, t, {.reduction = Reduction::none}), {2, 2.5});
  check_scalar(F::nll_loss(lp, t), 2.25);
  Tensor w = xg::tensor({1, 2, 3}, f64);
  check_values(F::nll_loss(lp, t, {.weight = w, .reduction = Reduction::none}), {4, 7.5});
  check_scalar(F::nll_loss(lp, t, {.weight = w}), 11.5 / 5);
  check_scalar(F::nll_loss(lp, t, {.weight = w, .reduction = Reduction::sum}), 11.5);
  check_scalar(F::nll_loss(lp, t, {.weight = w, .ignore_index = 1}), 2.5);
  check_scalar(F::nll_loss(xg::log_softmax(logits23(), 1), i64({2, 0})), (kCe0 + kCe1) / 2);
  // an ignored row may hold -inf at any class: it still adds nothing
  Tensor lpinf = xg::tensor({-INFINITY, -1, -1, -0.5, -1.5, -2.5}, {2, 3}, f64);
  check_scalar(F::nll_loss(lpinf, i64({-100, 2})), 2.5);
}

TEST_CASE("cross_entropy and nll_loss: gradcheck and gradgradcheck") {
  Tensor x = xg::tensor({0.3, -1.2, 2.5, 0.9, -0.4, 1.7, 0.2, 0.1, -2.0, 1.0, 0.5, -0.3}, {4, 3}, f64g);
  Tensor t = i64({2, 0, -100, 1});
  Tensor w = xg::tensor({0.5, 1.5, 2.0}, f64);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    CAPTURE(xg::nn::reduction_name(r));
    check_grads([&](const std::vector<Tensor>& in) { return F::cross_entropy(in[0], t, {.reduction = r}); },
                {x});
    check_grads(
        [&](const std::vector<Tensor>& in) {
          return F::cross_entropy(in[0], t, {.weight = w, .reduction = r, .label_smoothing = 0.1});
        },
        {x});
    check_grads(
        [&](const std::vector<Tensor>& in) { return F::nll_loss(in[0], t, {.weight = w, .reduction = r}); },
        {x});
  }
  // probability targets: w.r.t. the logits and the probabilities; [N, C, d]
  Tensor p = xg::tensor({0.1, 0.2, 0.7, 0.5, 0.25, 0.25, 0.3, 0.3, 0.4, 0.9, 0.05, 0.05}, {4, 3}, f64g);
  check_grads(
      [&](const std::vector<Tensor>& in) {
        return F::cross_entropy(in[0], in[1], {.weight = w, .label_smoothing = 0.2});
      },
      {x, p});
  Tensor x3 = xg::reshape(x.detach(), {2, 3, 2}).clone().requires_grad_();
  check_grads(
      [&](const std::vector<Tensor>& in) {
        return F::cross_entropy(in[0], i64({2, 0, -100, 1}, {2, 2}), {.weight = w});
      },
      {x3});
  // the class weight gets a gradient too
  Tensor wg = xg::tensor({0.5, 1.5, 2.0}, f64g);
  check_grads(
      [&](const std::vector<Tensor>& in) {
        return F::cross_entropy(in[0], t, {.weight = in[1], .label_smoothing = 0.1});
      },
      {x, wg}, false);
}

TEST_CASE("cross_entropy is stable for logits of +-100") {
  for (Dtype d : {Dtype::float32, Dtype::float64}) {
    CAPTURE(xg::dtype_name(d));
    Tensor x = xg::tensor({100, -100, 0, -100, 100, 100}, {2, 3}, {.dtype = d, .requires_grad = true});
    Tensor l = F::cross_entropy(x, i64({1, 0}), {.label_smoothing = 0.1});
    REQUIRE(all_finite(l));
    l.backward();
    CHECK(all_finite(x.grad()));
    // the target of row 0 is 200 below the largest logit: nll = 200; row 1: 100 + log 2
    Tensor none = F::cross_entropy(x.detach(), i64({1, 0}), {.reduction = Reduction::none});
    check_values(none, {200, 200 + std::log(2.0)}, 1e-6);
    Tensor x2 = xg::tensor({100, -100, 0, -100, 100, 100}, {2, 3}, {.dtype = d, .requires_grad = true});
    Tensor lp = F::cross_entropy(x2, xg::tensor({0, 1, 0, 0.5, 0, 0.5}, {2, 3}, {.dtype = d}));
    REQUIRE(all_finite(lp));
    lp.backward();
    CHECK(all_finite(x2.grad()));
  }
}

// ---------------------------------------------------------------------------------------------
// binary cross entropy
// ---------------------------------------------------------------------------------------------

TEST_CASE("binary_cross_entropy: values, weight, the log clamped to -100") {
  Tensor x = xg::tensor({0.2, 0.9, 0.5}, f64), y = xg::tensor({0, 1, 1}, f64);
  const double a = -std::log(0.8), b = -std::log(0.9), c = std::log(2.0);
  check_values(F::binary_cross_entropy(x, y, {.reduction = Reduction::none}), {a, b, c});
  check_scalar(F::binary_cross_entropy(x, y), (a + b + c) / 3);
  check_scalar(F::binary_cross_entropy(x, y, {.reduction = Reduction::sum}), a + b + c);
  Tensor w = xg::tensor({1, 2, 3}, f64);
  check_scalar(F::binary_cross_entropy(x, y, {.weight = w, .reduction = Reduction::sum}), a + 2 * b + 3 * c);
  // soft targets: -(t log x + (1 - t) log(1 - x))
  check_scalar(
      F::binary_cross_entropy(xg::tensor({0.3}, f64), xg::tensor({0.25}, f64), {.reduction = Reduction::sum}),
      -(0.25 * std::log(0.3) + 0.75 * std::log(0.7)));
  // x = 0 or 1: the log is clamped to -100, as PyTorch's; the gradient stays finite
  // (ordered so that the expected values are not {a, a, 0, 0}: GCC 12.2 with -march=native on
  // AVX-512 miscompiles `std::vector<double>{100, 100, 0, 0}` into four 100s)
  Tensor e = xg::tensor({0, 0, 1, 1}, f64g);
  Tensor le = F::binary_cross_entropy(e, xg::tensor({1, 0, 0, 1}, f64), {.reduction = Reduction::none});
  check_values(le, {100, 0, 100, 0});
  xg::sum(le).backward();
  CHECK(all_finite(e.grad()));
  // float32 tiny probabilities: log underflows past -100 and is clamped
  Tensor tiny = F::binary_cross_entropy(xg::tensor({1e-45}), xg::tensor({1}), {.reduction = Reduction::sum});
  CHECK(tiny.item() == doctest::Approx(100.0));
}

TEST_CASE("binary_cross_entropy_with_logits: no cancellation far from 0, in value and gradient") {
  // The loss at x = -30, t = 0 and x = 30, t = 1 is log1p(e^-30) = 9.3576229688397368e-14, the
  // gradient sigmoid(x) - t = +-9.3576229688392990e-14 (mpmath). Written as x + softplus(-x) the
  // gradient at x = -30, t = 0 was 1 - sigmoid(30): 0 in float32, 2e-4 off in float64.
  for (Dtype d : {Dtype::float32, Dtype::float64}) {
    INFO(xg::dtype_name(d));
    const double tol = d == Dtype::float32 ? 1e-6 : 1e-13;
    Tensor x = xg::tensor({-30, 30, 0}, {.dtype = d, .requires_grad = true});
    Tensor t = xg::tensor({0, 1, 0.3}, {.dtype = d});
    Tensor l = F::binary_cross_entropy_with_logits(x, t, {.reduction = Reduction::none});
    xg::sum(l).backward();
    const std::vector<double> lv = l.to(Dtype::float64).to_vector<double>(),
                              gv = x.grad().to(Dtype::float64).to_vector<double>();
    CHECK(lv[0] == doctest::Approx(9.3576229688397368e-14).epsilon(tol));
    CHECK(lv[1] == doctest::Approx(9.3576229688397368e-14).epsilon(tol));
    CHECK(lv[2] == doctest::Approx(0.6931471805599453).epsilon(tol));
    CHECK(gv[0] == doctest::Approx(9.3576229688392990e-14).epsilon(tol));
    CHECK(gv[1] == doctest::Approx(-9.3576229688392990e-14).epsilon(tol));
    CHECK(gv[2] == doctest::Approx(0.2).epsilon(tol));
    // with pos_weight 2: gradient (1 + t) sigmoid(x) - 2 t (PyTorch: 9.357622968839299e-14 at -30)
    Tensor x2 = xg::tensor({-30, 30}, {.dtype = d, .requires_grad = true});
    xg::sum(F::binary_cross_entropy_with_logits(x2, xg::tensor({0, 1}, {.dtype = d}),
                                                {.pos_weight = xg::tensor({2}, {.dtype = d})}))
        .backward();
    const std::vector<double> g2 = x2.grad().to(Dtype::float64).to_vector<double>();
    CHECK(g2[0] == doctest::Approx(9.3576229688392990e-14 / 2).epsilon(tol));  // mean over 2
    CHECK(g2[1] == doctest::Approx(-2 * 9.3576229688392990e-14 / 2).epsilon(tol));
  }
}

TEST_CASE("binary_cross_entropy_with_logits: stable form, pos_weight, weight") {
  Tensor x = xg::tensor({0.5, -1, 2}, f64), y = xg::tensor({1, 0, 0.5}, f64);
  const std::vector<double> plain{0.4740769841801067, 0.31326168751822286, 1.1269280110429725};
  check_values(F::binary_cross_entropy_with_logits(x, y, {.reduction = Reduction::none}), plain);
  check_scalar(F::binary_cross_entropy_with_logits(x, y), 0.6380888942471007);
  check_scalar(F::binary_cross_entropy_with_logits(x, y, {.reduction = Reduction::sum}),
               3 * 0.6380888942471007);
  // equals binary_cross_entropy of sigmoid(x)
  check_scalar(F::binary_cross_entropy_with_logits(x, y), F::binary_cross_entropy(xg::sigmoid(x), y).item());
  // pos_weight p: (1 - t) x + (1 + (p - 1) t) softplus(-x), broadcast from [3]
  Tensor pw = xg::tensor({3, 0.5, 2}, f64);
  check_values(F::binary_cross_entropy_with_logits(x, y, {.reduction = Reduction::none, .pos_weight = pw}),
               {1.42223095254032, 0.3132616875182228, 1.1903920165644588});
  check_scalar(F::binary_cross_entropy_with_logits(x, y, {.pos_weight = pw}), 0.9752948855410005);
  // pos_weight over the class axis of a [2, 3] batch, and a per-sample weight [2, 1]
  Tensor x2 = xg::stack({x, -x}), y2 = xg::stack({y, 1.0 - y});
  Tensor w = xg::tensor({2, 0.5}, {2, 1}, f64);
  Tensor l2 = F::binary_cross_entropy_with_logits(
      x2, y2, {.weight = w, .reduction = Reduction::none, .pos_weight = pw});
  CHECK(l2.shape() == xg::Shape{2, 3});
  check_values(xg::slice(l2, 0, 0, 1),
               {2 * 1.42223095254032, 2 * 0.3132616875182228, 2 * 1.1903920165644588});
}

TEST_CASE("binary_cross_entropy_with_logits is stable for logits of +-100") {
  for (Dtype d : {Dtype::float32, Dtype::float64}) {
    CAPTURE(xg::dtype_name(d));
    Tensor x = xg::tensor({100, -100, 100, -100}, {.dtype = d, .requires_grad = true});
    Tensor y = xg::tensor({0, 1, 1, 0}, {.dtype = d});
    Tensor l = F::binary_cross_entropy_with_logits(
        x, y, {.reduction = Reduction::none, .pos_weight = xg::tensor({2}, {.dtype = d})});
    check_values(l, {100, 200, 0, 0}, 1e-6);
    xg::sum(l).backward();
    // d/dx = sigmoid(x) (1 + (p - 1) t) - p t ... here: 1, -2, 0, 0
    check_values(x.grad(), {1, -2, 0, 0}, 1e-6);
  }
}

TEST_CASE("binary cross entropy: gradcheck and gradgradcheck w.r.t. input, target and weights") {
  Tensor p = xg::tensor({0.2, 0.9, 0.5, 0.35, 0.6, 0.05}, {2, 3}, f64g);
  Tensor t = xg::tensor({0, 1, 0.3, 1, 0.8, 0}, {2, 3}, f64g);
  Tensor w = xg::tensor({0.5, 2, 1}, f64g);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    CAPTURE(xg::nn::reduction_name(r));
    check_grads(
        [r](const std::vector<Tensor>& in) {
          return F::binary_cross_entropy(in[0], in[1], {.weight = in[2], .reduction = r});
        },
        {p, t, w});
  }
  Tensor x = xg::tensor({0.5, -1, 2, 0, -3, 0.1}, {2, 3}, f64g);  // includes x = 0 (where |x| has a kink)
  Tensor pw = xg::tensor({3, 0.5, 2}, f64g);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    CAPTURE(xg::nn::reduction_name(r));
    check_grads(
        [r](const std::vector<Tensor>& in) {
          return F::binary_cross_entropy_with_logits(in[0], in[1],
                                                     {.weight = in[2], .reduction = r, .pos_weight = in[3]});
        },
        {x, t, w, pw});
  }
}

// ---------------------------------------------------------------------------------------------
// kl_div
// ---------------------------------------------------------------------------------------------

TEST_CASE("kl_div: values, batchmean, zero targets, log_target") {
  Tensor q = xg::tensor({0.2, 0.3, 0.5, 0.1, 0.6, 0.3}, {2, 3}, f64);
  Tensor p = xg::tensor({0.5, 0.5, 0.0, 0.2, 0.2, 0.6}, {2, 3}, f64);
  Tensor lq = xg::log(q);
  check_values(F::kl_div(lq, p, {.reduction = Reduction::none}),
               {0.4581453659370775, 0.2554128118829954, 0, 0.13862943611198905, -0.21972245773362192,
                0.41588830833596724});
  const double total = 1.0483534645344073;
  check_scalar(F::kl_div(lq, p, {.reduction = Reduction::sum}), total);
  check_scalar(F::kl_div(lq, p), total / 6);
  check_scalar(F::kl_div(lq, p, {.reduction = Reduction::batchmean}), total / 2);
  // log_target: the target given as log-probabilities (p = 0 becomes -inf)
  Tensor pp = xg::tensor({0.5, 0.5, 0.1, 0.2, 0.2, 0.6}, {2, 3}, f64);
  check_scalar(F::kl_div(lq, xg::log(pp), {.reduction = Reduction::batchmean, .log_target = true}),
               F::kl_div(lq, pp, {.reduction = Reduction::batchmean}).item());
  // as PyTorch's: a log target of -inf (p = 0) gives exp(-inf) (-inf - x) = NaN, not 0
  CHECK(std::isnan(F::kl_div(lq, xg::log(p), {.reduction = Reduction::sum, .log_target = true}).item()));
  // a 0-D input: batchmean is the sum
  check_scalar(F::kl_div(xg::scalar_tensor(std::log(0.25), f64), xg::scalar_tensor(0.5, f64),
                         {.reduction = Reduction::batchmean}),
               0.5 * std::log(2.0));
}

TEST_CASE("kl_div: gradcheck and gradgradcheck w.r.t. input and target") {
  Tensor lq = xg::tensor({-1.6, -1.2, -0.7, -2.3, -0.5, -1.2}, {2, 3}, f64g);
  Tensor p = xg::tensor({0.5, 0.4, 0.1, 0.2, 0.2, 0.6}, {2, 3}, f64g);
  Tensor lp = xg::tensor({-0.7, -0.9, -2.3, -1.6, -1.6, -0.5}, {2, 3}, f64g);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum, Reduction::batchmean}) {
    CAPTURE(xg::nn::reduction_name(r));
    check_grads([r](const std::vector<Tensor>& in) { return F::kl_div(in[0], in[1], {.reduction = r}); },
                {lq, p});
    check_grads(
        [r](const std::vector<Tensor>& in) {
          return F::kl_div(in[0], in[1], {.reduction = r, .log_target = true});
        },
        {lq, lp});
  }
  // a zero target: finite gradients (0 for the t log t term)
  Tensor z = xg::tensor({0.0, 1.0}, f64g);
  Tensor lz = xg::tensor({-1.0, -0.5}, f64g);
  F::kl_div(lz, z, {.reduction = Reduction::sum}).backward();
  CHECK(all_finite(z.grad()));
  check_values(lz.grad(), {0, -1});
}

// ---------------------------------------------------------------------------------------------
// cosine_embedding_loss and margin_ranking_loss
// ---------------------------------------------------------------------------------------------

TEST_CASE("cosine_embedding_loss: 1 - cos for similar pairs, max(0, cos - margin) for dissimilar") {
  Tensor a = xg::tensor({1, 0, 1, 1, 3, 4}, {3, 2}, f64), b = xg::tensor({0, 1, 2, 2, 4, 3}, {3, 2}, f64);
  // cos = 0, 1, 24/25
  Tensor y = xg::tensor({1, -1, -1}, f64);
  check_values(F::cosine_embedding_loss(a, b, y, {.reduction = Reduction::none}), {1, 1, 0.96}, 1e-9);
  check_values(F::cosine_embedding_loss(a, b, y, {.margin = 0.5, .reduction = Reduction::none}),
               {1, 0.5, 0.46}, 1e-9);
  check_scalar(F::cosine_embedding_loss(a, b, y, {.margin = 0.5}), 1.96 / 3, 1e-9);
  check_scalar(F::cosine_embedding_loss(a, b, i64({1, 1, 1}), {.reduction = Reduction::sum}), 1 + 0 + 0.04,
               1e-9);
  // the margin clips: cos 0 with margin 0.5 gives 0
  check_scalar(F::cosine_embedding_loss(a, b, i64({-1, 1, 1}), {.margin = 0.5, .reduction = Reduction::sum}),
               0.04, 1e-9);
  // 1-D inputs with a 0-D target
  check_scalar(
      F::cosine_embedding_loss(xg::tensor({3, 4}, f64), xg::tensor({4, 3}, f64), xg::scalar_tensor(1, f64)),
      0.04, 1e-9);
  // zero vectors: cos = 0 thanks to the 1e-12 in the norms, finite gradients
  Tensor z = xg::zeros({1, 2}, f64g);
  Tensor lz = F::cosine_embedding_loss(z, xg::tensor({1, 1}, {1, 2}, f64), i64({1}));
  check_scalar(lz, 1.0);
  lz.backward();
  CHECK(all_finite(z.grad()));

  Tensor ag = xg::tensor({1, 0.2, 1, 1.5, 3, 4, -1, 0.5}, {4, 2}, f64g),
         bg = xg::tensor({0.3, 1, 2, 1, -4, 3, 2, 2}, {4, 2}, f64g);
  Tensor yg = xg::tensor({1, -1, -1, 1}, f64);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    CAPTURE(xg::nn::reduction_name(r));
    check_grads(
        [&](const std::vector<Tensor>& in) {
          return F::cosine_embedding_loss(in[0], in[1], yg, {.margin = 0.1, .reduction = r});
        },
        {ag, bg});
  }
}

TEST_CASE("margin_ranking_loss: max(0, -y (x1 - x2) + margin)") {
  Tensor x1 = xg::tensor({1, 2, 3}, f64), x2 = xg::tensor({2, 2, 1}, f64), y = xg::tensor({1, -1, 1}, f64);
  check_values(F::margin_ranking_loss(x1, x2, y, {.reduction = Reduction::none}), {1, 0, 0});
  check_values(F::margin_ranking_loss(x1, x2, y, {.margin = 0.5, .reduction = Reduction::none}),
               {1.5, 0.5, 0});
  check_scalar(F::margin_ranking_loss(x1, x2, y, {.margin = 0.5}), 2.0 / 3);
  check_scalar(F::margin_ranking_loss(x1, x2, i64({1, -1, 1}), {.margin = 0.5, .reduction = Reduction::sum}),
               2.0);
  // same rank, broadcasting: x2 [1] against x1 [3]
  check_values(F::margin_ranking_loss(x1, xg::tensor({2}, f64), y, {.reduction = Reduction::none}),
               {1, 0, 0});

  // (the +-1 labels are validated, so they are not perturbed by gradcheck)
  Tensor a = xg::tensor({1, 2.5, 3, -1}, f64g), b = xg::tensor({2, 2, 1, 0.4}, f64g),
         t = xg::tensor({1, -1, 1, -1}, f64);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    CAPTURE(xg::nn::reduction_name(r));
    check_grads(
        [&](const std::vector<Tensor>& in) {
          return F::margin_ranking_loss(in[0], in[1], t, {.margin = 0.3, .reduction = r});
        },
        {a, b});
  }
}

// ---------------------------------------------------------------------------------------------
// modules
// ---------------------------------------------------------------------------------------------

TEST_CASE("loss modules: designated-initialiser options, buffers, to(), repr") {
  xg::nn::CrossEntropyLoss ce({.reduction = Reduction::sum, .label_smoothing = 0.1});
  check_scalar(ce(logits23(), i64({2, 0})), 0.5076059644443807 + 1.09861228866811);
  CHECK(ce.buffers().empty());
  CHECK(ce.parameters().empty());
  CHECK(ce.repr() == "CrossEntropyLoss(reduction=sum, label_smoothing=0.1)");

  xg::nn::CrossEntropyLoss cew({.weight = xg::tensor({0.2, 0.3, 0.5}), .ignore_index = 1});
  REQUIRE(cew.named_buffers().size() == 1);
  CHECK(cew.named_buffers()[0].first == "weight");
  cew.to(Dtype::float64);
  CHECK(cew.options.weight.dtype() == Dtype::float64);
  check_scalar(cew.forward(logits23(), i64({2, 0})), 0.6050363427940175, 1e-6);  // float32 weights

  xg::nn::BCEWithLogitsLoss bce({.pos_weight = xg::tensor({3, 0.5, 2}, f64)});
  CHECK(bce.named_buffers().size() == 1);
  check_scalar(bce(xg::tensor({0.5, -1, 2}, f64), xg::tensor({1, 0, 0.5}, f64)), 0.9752948855410005);

  xg::nn::MSELoss mse;
  check_scalar(mse(xg::tensor({1, 2, 3}, f64), xg::tensor({1.5, 2, 5}, f64)), 4.25 / 3);
  CHECK(mse.repr() == "MSELoss(reduction=mean)");
  xg::nn::L1Loss l1({.reduction = Reduction::sum});
  check_scalar(l1(xg::tensor({1, 2, 3}, f64), xg::tensor({1.5, 2, 5}, f64)), 2.5);
  xg::nn::SmoothL1Loss sl1({.beta = 0.5});
  CHECK(sl1.repr() == "SmoothL1Loss(reduction=mean, beta=0.5)");
  xg::nn::HuberLoss hub({.reduction = Reduction::sum, .delta = 1.5});
  check_scalar(hub(xg::tensor({1, 2, 3, 0}, f64), xg::tensor({1.5, 2, 5, 3}, f64)), 5.375);
  xg::nn::NLLLoss nll({.weight = xg::tensor({1, 2, 3}, f64)});
  check_scalar(nll(xg::tensor({-1, -2, -3, -0.5, -1.5, -2.5}, {2, 3}, f64), i64({1, 2})), 2.3);
  xg::nn::BCELoss bcel;
  check_scalar(bcel(xg::tensor({0.5}, f64), xg::tensor({1}, f64)), std::log(2.0));
  xg::nn::KLDivLoss kl({.reduction = Reduction::batchmean, .log_target = true});
  CHECK(kl.repr() == "KLDivLoss(reduction=batchmean, log_target=true)");
  xg::nn::CosineEmbeddingLoss cel({.margin = 0.5});
  check_scalar(cel(xg::tensor({1, 0}, {1, 2}, f64), xg::tensor({1, 0}, {1, 2}, f64), i64({-1})), 0.5, 1e-9);
  xg::nn::MarginRankingLoss mrl({.margin = 0.5});
  check_scalar(mrl(xg::tensor({1}, f64), xg::tensor({2}, f64), xg::tensor({1}, f64)), 1.5);
  // the single-input forward of the Module base is not a loss's
  CHECK_ERROR(mse.forward(xg::tensor({1}, f64)), xg::ValueError,
              "MSELoss: this module has no single-input forward(x)");

  // a loss used polymorphically through the Loss base
  std::shared_ptr<xg::nn::Loss> base = std::make_shared<xg::nn::L1Loss>();
  check_scalar((*base)(xg::tensor({1}, f64), xg::tensor({3}, f64)), 2.0);
}

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

TEST_CASE("loss errors name the loss, the shapes and the values") {
  Tensor x = logits23();
  // class index out of range: names the value and the number of classes
  CHECK_ERROR(F::cross_entropy(x, i64({2, 3})), xg::IndexError, "cross_entropy", "target 3", "3 classes");
  CHECK_ERROR(F::nll_loss(x, i64({-1, 0})), xg::IndexError, "nll_loss", "target -1");
  // float targets where int64 class indices are needed
  CHECK_ERROR(F::cross_entropy(x, xg::tensor({2, 0}, f64)), xg::TypeError, "cross_entropy", "int64",
              "float64");
  CHECK_ERROR(F::nll_loss(x, xg::tensor({2, 0}, f64)), xg::TypeError, "nll_loss:", "int64", "float64");
  // int64 targets of the input's shape (probabilities must be float)
  CHECK_ERROR(F::cross_entropy(x, i64({0, 0, 1, 1, 0, 0}, {2, 3})), xg::TypeError,
              "cross_entropy:", "must be a float tensor, got int64");
  // shapes
  CHECK_ERROR(F::cross_entropy(x, i64({2, 0, 1})), xg::ShapeError, "cross_entropy", "[3]", "[2, 3]");
  CHECK_ERROR(F::cross_entropy(xg::scalar_tensor(1.0, f64), i64({0}, xg::Shape{})), xg::ShapeError,
              "cross_entropy:", "0-D");
  CHECK_ERROR(F::cross_entropy(x, i64({2, 0}), {.weight = xg::ones({4}, f64)}), xg::ShapeError, "weight",
              "[4]");
  CHECK_ERROR(F::mse_loss(xg::ones({3}, f64), xg::ones({3, 1}, f64)), xg::ShapeError, "mse_loss", "[3, 1]");
  CHECK_ERROR(F::l1_loss(xg::ones({2}), xg::ones({3})), xg::ShapeError, "l1_loss:", "[3]", "[2]");
  CHECK_ERROR(F::kl_div(xg::ones({2}), xg::ones({3})), xg::ShapeError, "kl_div:", "[3]", "[2]");
  CHECK_ERROR(
      F::binary_cross_entropy_with_logits(xg::ones({2, 3}), xg::ones({2, 3}), {.pos_weight = xg::ones({2})}),
      xg::ShapeError, "binary_cross_entropy_with_logits:", "pos_weight of shape [2]");
  CHECK_ERROR(
      F::binary_cross_entropy(xg::full({2, 3}, 0.5), xg::ones({2, 3}), {.weight = xg::ones({2, 2, 3})}),
      xg::ShapeError, "binary_cross_entropy:", "weight of shape [2, 2, 3]");
  CHECK_ERROR(F::cosine_embedding_loss(xg::ones({2, 3}), xg::ones({2, 3}), xg::ones({3})), xg::ShapeError,
              "cosine_embedding_loss:", "target [3]");
  CHECK_ERROR(F::cosine_embedding_loss(xg::ones({2, 3}), xg::ones({2, 4}), xg::ones({2})), xg::ShapeError,
              "cosine_embedding_loss:", "[2, 4]", "[2, 3]");
  CHECK_ERROR(F::margin_ranking_loss(xg::ones({3}), xg::ones({3, 1}), xg::ones({3})), xg::ShapeError,
              "margin_ranking_loss:", "same rank");
  CHECK_ERROR(F::margin_ranking_loss(xg::ones({3}), xg::ones({2}), xg::ones({3})), xg::ShapeError,
              "margin_ranking_loss:", "do not broadcast", "input2 [2]");
  // dtypes
  CHECK_ERROR(F::mse_loss(i64({1, 2}), xg::ones({2})), xg::TypeError, "mse_loss:", "int64");
  CHECK_ERROR(F::cross_entropy(i64({1, 2}, {1, 2}), i64({0})), xg::TypeError,
              "cross_entropy: input must be a float tensor, got int64");
  CHECK_ERROR(F::binary_cross_entropy_with_logits(xg::ones({2}), i64({1, 0})), xg::TypeError,
              "binary_cross_entropy_with_logits: target must be a float tensor, got int64");
  // values
  CHECK_ERROR(F::binary_cross_entropy(xg::tensor({0.5, 1.5}), xg::ones({2})), xg::ValueError,
              "binary_cross_entropy:", "found 1.5");
  CHECK_ERROR(F::binary_cross_entropy(xg::tensor({NAN}), xg::ones({1})), xg::ValueError,
              "binary_cross_entropy:", "found nan");
  CHECK_ERROR(F::cross_entropy(x, i64({2, 0}), {.label_smoothing = 1.5}), xg::ValueError,
              "cross_entropy:", "label_smoothing", "got 1.5");
  CHECK_ERROR(F::mse_loss(xg::ones({2}), xg::ones({2}), {.reduction = Reduction::batchmean}), xg::ValueError,
              "mse_loss:", "batchmean");
  CHECK_ERROR(F::smooth_l1_loss(xg::ones({2}), xg::ones({2}), {.beta = -1}), xg::ValueError,
              "smooth_l1_loss: beta must be >= 0, got -1");
  CHECK_ERROR(F::huber_loss(xg::ones({2}), xg::ones({2}), {.delta = 0}), xg::ValueError,
              "huber_loss: delta must be > 0, got 0");
  CHECK_ERROR(F::cosine_embedding_loss(xg::ones({2, 3}), xg::ones({2, 3}), i64({1, 0})), xg::ValueError,
              "cosine_embedding_loss:", "found 0");
  CHECK_ERROR(F::margin_ranking_loss(xg::ones({2}), xg::ones({2}), xg::tensor({1, 2})), xg::ValueError,
              "margin_ranking_loss:", "found 2");
  CHECK_ERROR(F::mse_loss(Tensor(), xg::ones({2})), xg::ValueError, "mse_loss: input is undefined");
  // module constructors validate their options
  CHECK_ERROR(xg::nn::CrossEntropyLoss({.label_smoothing = -0.1}), xg::ValueError,
              "CrossEntropyLoss: label_smoothing", "-0.1");
  CHECK_ERROR(xg::nn::CrossEntropyLoss({.weight = xg::ones({2, 2})}), xg::ShapeError,
              "CrossEntropyLoss: weight must be 1-D", "[2, 2]");
  CHECK_ERROR(xg::nn::NLLLoss({.weight = i64({1, 2})}), xg::TypeError,
              "NLLLoss: weight must be a float tensor", "int64");
  CHECK_ERROR(xg::nn::MSELoss({.reduction = Reduction::batchmean}), xg::ValueError, "MSELoss:", "batchmean");
  CHECK_ERROR(xg::nn::HuberLoss({.delta = -1}), xg::ValueError, "HuberLoss: delta must be > 0, got -1");
}

// ---------------------------------------------------------------------------------------------
// triplet, hinge, multi-margin, multi-label, soft margin, Poisson, Gaussian, CTC
// (numbers from PyTorch 1.13 in float64, the torch call named at each)
// ---------------------------------------------------------------------------------------------

namespace {
Tensor anchor23(xg::TensorOptions o = f64) {
  return xg::tensor({1, 2, 0, -1}, {2, 2}, o);
}
Tensor positive23(xg::TensorOptions o = f64) {
  return xg::tensor({1.5, 1, 0.2, 0}, {2, 2}, o);
}
Tensor negative23(xg::TensorOptions o = f64) {
  return xg::tensor({0, 2, 3, 1}, {2, 2}, o);
}
// torch.manual_seed(0); x = torch.randn(4, 2, 3, dtype=torch.float64); log_probs = x.log_softmax(2)
Tensor ctc_logits(xg::TensorOptions o = f64) {
  return xg::tensor({-2.310411800234176,  -0.3732508612577643, -1.0608166785462863, 0.9995093547811761,
                     -0.8840250045832653, -1.2755469302148053, -0.623224579866079,  -0.8664416019125772,
                     0.23871805816817063, 0.7335283685272841,  -1.3218818291421377, 1.3148113651971234,
                     -1.4874956356507338, -0.7135753396468577, 0.519998663178938,   -0.9528856397032842,
                     0.6748575435940039,  1.0468653769814655,  0.15429517864658948, -0.7498915228391941,
                     -0.7233897004977882, 0.08636989238234997, -1.746404903728242,  1.041012457033509},
                    {4, 2, 3}, o);
}
}  // namespace

TEST_CASE("triplet_margin_loss: reductions, p, margin, swap, gradients") {
  const Tensor a = anchor23(), p = positive23(), n = negative23();
  // F.triplet_margin_loss(a, p, n, reduction=...)
  check_values(F::triplet_margin_loss(a, p, n, {.reduction = Reduction::none}), {1.1180334359637956, 0.0});
  check_scalar(F::triplet_margin_loss(a, p, n), 0.5590167179818978);
  check_scalar(F::triplet_margin_loss(a, p, n, {.reduction = Reduction::sum}), 1.1180334359637956);
  // p=1, margin=0.5; swap=True; margin=3
  check_values(F::triplet_margin_loss(a, p, n, {.margin = 0.5, .p = 1, .reduction = Reduction::none}),
               {0.9999980000000002, 0.0});
  check_values(F::triplet_margin_loss(a, p, n, {.swap = true, .reduction = Reduction::none}),
               {1.1180334359637956, 0.0});
  check_values(F::triplet_margin_loss(a, p, n, {.margin = 3, .reduction = Reduction::none}),
               {3.1180334359637953, 0.4142528373085388});
  // F.triplet_margin_loss(A, P, N, margin=3.).backward()
  Tensor ag = anchor23(f64g), pg = positive23(f64g), ng = negative23(f64g);
  F::triplet_margin_loss(ag, pg, ng, {.margin = 3}).backward();
  check_values(ag.grad(),
               {-0.723606261093468, 0.4472133638281859, 0.31796747808133763, -0.21294034716401772});
  check_values(pg.grad(),
               {0.22360626109371806, -0.4472138638276859, 0.09805769042221411, 0.49029041327468476});
  check_values(ng.grad(),
               {0.49999999999975, 4.999995000002499e-07, -0.41602516850355176, -0.27735006611066704});
  // (p = 1: a[0, 1] - n[0, 1] + eps is 1e-6, at the kink of |.| within the finite-difference
  // step, so only the first derivative is checked there)
  for (bool swap : {false, true})
    for (double pn : {1.0, 2.0, 3.0})
      check_grads(
          [=](const std::vector<Tensor>& in) {
            return F::triplet_margin_loss(in[0], in[1], in[2], {.margin = 3, .p = pn, .swap = swap});
          },
          {anchor23(f64g), positive23(f64g), negative23(f64g)}, pn != 1.0);
  // 1-D inputs give a 0-D loss
  CHECK(F::triplet_margin_loss(xg::ones({3}), xg::zeros({3}), xg::ones({3}), {.reduction = Reduction::none})
            .dim() == 0);
}

TEST_CASE("hinge_embedding_loss: both terms, margin, labels other than +-1 as PyTorch") {
  const Tensor x = xg::tensor({0.3, -0.5, 2, 0.7}, f64), y = xg::tensor({1, -1, -1, 1}, f64);
  // F.hinge_embedding_loss(x, y, ...)
  check_values(F::hinge_embedding_loss(x, y, {.reduction = Reduction::none}), {0.3, 1.5, 0.0, 0.7});
  check_scalar(F::hinge_embedding_loss(x, y), 0.625);
  check_scalar(F::hinge_embedding_loss(x, y, {.margin = 0.5, .reduction = Reduction::sum}), 2.0);
  // y = [0, 1, 2, -1]: neither 1 nor -1 adds both terms
  check_values(F::hinge_embedding_loss(x, xg::tensor({0, 1, 2, -1}, f64), {.reduction = Reduction::none}),
               {1.0, -0.5, 2.0, 0.30000000000000004});
  // an int64 target works too
  check_scalar(F::hinge_embedding_loss(x, i64({1, -1, -1, 1})), 0.625);
  check_grads([&](const std::vector<Tensor>& in) { return F::hinge_embedding_loss(in[0], y); },
              {xg::tensor({0.3, -0.5, 2, 0.7}, f64g)});
}

TEST_CASE("multi_margin_loss: p 1 and 2, margin, weight, 1-D input") {
  const Tensor x = xg::tensor({0.1, 0.2, 0.4, 0.8, 0.5, -0.3, 0.2, 0.1}, {2, 4}, f64);
  const Tensor y = i64({3, 1});
  // F.multi_margin_loss(x, y, ...)
  check_values(F::multi_margin_loss(x, y, {.reduction = Reduction::none}), {0.32499999999999996, 1.175});
  check_scalar(F::multi_margin_loss(x, y), 0.75);
  check_values(F::multi_margin_loss(x, y, {.p = 2, .margin = 0.9, .reduction = Reduction::none}),
               {0.095, 1.635});
  check_scalar(
      F::multi_margin_loss(x, y, {.weight = xg::tensor({1, 2, 3, 4}, f64), .reduction = Reduction::sum}),
      3.65);
  const Tensor x1 = xg::tensor({0.5, -0.3, 0.2, 0.1}, f64);
  const Tensor l1 = F::multi_margin_loss(x1, xg::scalar_tensor(1.0, {.dtype = Dtype::int64}),
                                         {.reduction = Reduction::none});
  CHECK(l1.dim() == 0);
  check_scalar(l1, 1.175);
  // F.multi_margin_loss(X, Y, p=2, margin=0.9).backward()
  Tensor xg_ = xg::tensor({0.1, 0.2, 0.4, 0.8, 0.5, -0.3, 0.2, 0.1}, {2, 4}, f64g);
  F::multi_margin_loss(xg_, y, {.p = 2, .margin = 0.9}).backward();
  check_values(xg_.grad(), {0.05, 0.075, 0.125, -0.25, 0.425, -1.1, 0.35, 0.325});
  for (int64_t p : {1, 2})
    check_grads(
        [=](const std::vector<Tensor>& in) {
          return F::multi_margin_loss(in[0], y, {.p = p, .margin = 0.9, .weight = in[1]});
        },
        {xg::tensor({0.1, 0.2, 0.4, 0.8, 0.5, -0.3, 0.2, 0.1}, {2, 4}, f64g),
         xg::tensor({1, 2, 3, 4}, f64g)});
}

TEST_CASE("multilabel_soft_margin_loss: per-sample mean over classes, weight") {
  const Tensor x = xg::tensor({0.5, -1, 2, 0, 1, -0.5}, {2, 3}, f64),
               t = xg::tensor({1, 0, 1, 0, 1, 1}, {2, 3}, f64);
  // F.multilabel_soft_margin_loss(x, t, ...)
  check_values(F::multilabel_soft_margin_loss(x, t, {.reduction = Reduction::none}),
               {0.3047555609137673, 0.6601619507527583});
  check_scalar(F::multilabel_soft_margin_loss(x, t), 0.4824587558332628);
  check_scalar(F::multilabel_soft_margin_loss(
                   x, t, {.weight = xg::tensor({1, 2, 0.5}, f64), .reduction = Reduction::sum}),
               0.9902578041414944);
  check_grads(
      [](const std::vector<Tensor>& in) {
        return F::multilabel_soft_margin_loss(in[0], in[1], {.weight = in[2]});
      },
      {xg::tensor({0.5, -1, 2, 0, 1, -0.5}, {2, 3}, f64g), xg::tensor({1, 0, 1, 0, 0.3, 1}, {2, 3}, f64g),
       xg::tensor({1, 2, 0.5}, f64g)});
}

TEST_CASE("soft_margin_loss: values, gradient, no overflow at large margins") {
  const Tensor x = xg::tensor({0.5, -1, 2, -3}, f64), y = xg::tensor({1, 1, -1, -1}, f64);
  // F.soft_margin_loss(x, y, ...)
  check_values(F::soft_margin_loss(x, y, {.reduction = Reduction::none}),
               {0.4740769841801067, 1.3132616875182228, 2.1269280110429727, 0.048587351573741965});
  check_scalar(F::soft_margin_loss(x, y), 0.9907135085787611);
  check_scalar(F::soft_margin_loss(x, y, {.reduction = Reduction::sum}), 3.9628540343150442);
  Tensor xg_ = xg::tensor({0.5, -1, 2, -3}, f64g);
  F::soft_margin_loss(xg_, y).backward();
  check_values(xg_.grad(),
               {-0.09438516719953637, -0.18276464465750122, 0.2201992694944706, 0.011856468294391697});
  // log(1 + e^800) is 800 here (PyTorch's log1p(exp(800)) overflows to inf); e^-800 underflows to 0
  check_values(F::soft_margin_loss(xg::tensor({800, 800, 0}, f64), xg::tensor({-1, 1, 1}, f64),
                                   {.reduction = Reduction::none}),
               {800.0, 0.0, std::log(2.0)});
  check_grads([](const std::vector<Tensor>& in) { return F::soft_margin_loss(in[0], in[1]); },
              {xg::tensor({0.5, -1, 2, -3, 0}, f64g), xg::tensor({1, 1, -1, -1, 1}, f64g)});
}

TEST_CASE("poisson_nll_loss: log_input, full (Stirling term where t > 1), eps") {
  const Tensor x = xg::tensor({0.5, 1.2, 2, 0.1}, f64), t = xg::tensor({0, 1, 3, 2.5}, f64);
  // F.poisson_nll_loss(x, t, ...)
  check_values(F::poisson_nll_loss(x, t, {.reduction = Reduction::none}),
               {1.6487212707001282, 2.120116922736547, 1.3890560989306504, 0.8551709180756477});
  check_scalar(F::poisson_nll_loss(x, t), 1.5032663026107433);
  check_values(F::poisson_nll_loss(x, t, {.log_input = false, .reduction = Reduction::none}),
               {0.5, 1.0176784348727121, -0.07944155667983566, 5.856462482485126});
  check_values(F::poisson_nll_loss(x, t, {.full = true, .reduction = Reduction::none}),
               {1.6487212707001282, 2.120116922736547, 3.153137642473707, 2.0229816469027857});
  check_scalar(F::poisson_nll_loss(x, t, {.log_input = false, .full = true, .reduction = Reduction::sum}),
               10.226591633048198);
  // F.poisson_nll_loss(x, t, full=True, log_input=False).backward(): PyTorch's target gradient at
  // t = 0 is NaN (0 times the -inf of log 0 inside the masked Stirling term); here the Stirling
  // term adds 0 there, leaving -log(x + eps) / 4 of the first term.
  Tensor xg_ = xg::tensor({0.5, 1.2, 2, 0.1}, f64g), tg = xg::tensor({0, 1, 3, 2.5}, f64g);
  F::poisson_nll_loss(xg_, tg, {.log_input = false, .full = true}).backward();
  check_values(xg_.grad(), {0.25, 0.041666668402777746, -0.12499999812500001, -5.999999375000063});
  check_values(tg.grad(),
               {0.17328679013998635, -0.04558039128182196, 0.14303294244370782, 0.8547189312170513});
  for (bool log_input : {true, false})
    check_grads(
        [=](const std::vector<Tensor>& in) {
          return F::poisson_nll_loss(in[0], in[1], {.log_input = log_input, .full = true});
        },
        {xg::tensor({0.5, 1.2, 2, 0.1}, f64g), xg::tensor({0.5, 1.5, 3, 2.5}, f64g)});
}

TEST_CASE("gaussian_nll_loss: var shapes, the eps clamp, full") {
  const Tensor x = xg::tensor({1, 2, 3, 4}, {2, 2}, f64), t = xg::tensor({1.5, 1, 2, 5}, {2, 2}, f64);
  const Tensor v = xg::tensor({0.5, 1, 2, 1e-8}, {2, 2}, f64);
  // F.gaussian_nll_loss(x, t, var, ...)
  check_values(F::gaussian_nll_loss(x, t, v, {.reduction = Reduction::none}),
               {-0.09657359027997264, 0.5, 0.5965735902799727, 499993.092244721});
  check_scalar(F::gaussian_nll_loss(x, t, v), 124998.52306118025);
  // var [2] (the input's shape without its last axis) and [2, 1]
  check_values(F::gaussian_nll_loss(x, t, xg::tensor({0.5, 2}, f64), {.reduction = Reduction::none}),
               {-0.09657359027997264, 0.6534264097200273, 0.5965735902799727, 0.5965735902799727});
  check_scalar(F::gaussian_nll_loss(x, t, xg::tensor({0.5, 2}, {2, 1}, f64),
                                    {.full = true, .reduction = Reduction::sum}),
               5.425754132818691);
  check_values(F::gaussian_nll_loss(x, t, xg::tensor({0.5, 1, 2, 0}, {2, 2}, f64),
                                    {.eps = 1e-3, .reduction = Reduction::none}),
               {-0.09657359027997264, 0.5, 0.5965735902799727, 496.54612236050895});
  // the clamped var still gets the gradient at the clamped value (PyTorch clamps in place without grad)
  Tensor vg = xg::tensor({0.5, 1, 2, 1e-8}, {2, 2}, f64g), xg_ = xg::tensor({1, 2, 3, 4}, {2, 2}, f64g);
  F::gaussian_nll_loss(xg_, t, vg).backward();
  check_values(vg.grad(), {0.125, 0.0, 0.03125, -124999875000.0});
  check_values(xg_.grad(), {-0.25, 0.25, 0.125, -250000.0});
  check_grads(
      [](const std::vector<Tensor>& in) { return F::gaussian_nll_loss(in[0], in[1], in[2], {.full = true}); },
      {xg::tensor({1, 2, 3, 4}, {2, 2}, f64g), xg::tensor({1.5, 1, 2, 5}, {2, 2}, f64g),
       xg::tensor({0.5, 2}, f64g)});
}

TEST_CASE("ctc_loss: reductions (mean over target lengths), blank, layouts, zero_infinity, module") {
  const Tensor lp = xg::log_softmax(ctc_logits(), 2);
  const Tensor padded = i64({1, 2, 1, 1, 1, 0}, {2, 3}), concat = i64({1, 2, 1, 1, 1});
  const Tensor il = i64({4, 3}), tl = i64({3, 2});
  // F.ctc_loss(lp, targets, [4, 3], [3, 2], ...)
  check_values(F::ctc_loss(lp, padded, il, tl, {.reduction = Reduction::none}),
               {1.837947504245882, 4.154318185544599});
  check_values(F::ctc_loss(lp, concat, il, tl, {.reduction = Reduction::none}),
               {1.837947504245882, 4.154318185544599});
  check_scalar(F::ctc_loss(lp, padded, il, tl), 1.34490413042713);
  check_scalar(F::ctc_loss(lp, padded, il, tl, {.reduction = Reduction::sum}), 5.992265689790481);
  check_values(F::ctc_loss(lp, padded, il, tl, {.blank = 2, .reduction = Reduction::none}),
               {1.5103985255384245, 3.5730351888747602});
  // a target length 0 divides by 1 in the mean: F.ctc_loss(lp, targets, [4, 3], [0, 2])
  check_scalar(F::ctc_loss(lp, padded, il, i64({0, 2})), 4.449010508041826);
  // input length 2 cannot hold [1, 1] (a blank must separate the repeats): inf, or 0 with zero_infinity
  const Tensor none = F::ctc_loss(lp, padded, i64({4, 2}), tl, {.reduction = Reduction::none});
  check_scalar(xg::reshape(xg::narrow(none, 0, 0, 1), xg::Shape{}), 1.837947504245882);
  CHECK(std::isinf(none.to_vector<double>()[1]));
  check_scalar(F::ctc_loss(lp, padded, i64({4, 2}), tl, {.zero_infinity = true}), 0.30632458404098034);
  // unbatched: F.ctc_loss(lp[:, 0], targets[0], 4, 3, reduction='none')
  const Tensor un =
      F::ctc_loss(xg::log_softmax(xg::reshape(xg::narrow(ctc_logits(), 1, 0, 1), {4, 3}), 1), i64({1, 2, 1}),
                  xg::scalar_tensor(4.0, {.dtype = Dtype::int64}),
                  xg::scalar_tensor(3.0, {.dtype = Dtype::int64}), {.reduction = Reduction::none});
  CHECK(un.dim() == 0);
  check_scalar(un, 1.837947504245882);
  // the gradient of the mean, blank 2: F.ctc_loss(lp, targets, [4, 3], [3, 2], blank=2).backward()
  Tensor lpg = xg::log_softmax(ctc_logits(), 2).detach().requires_grad_(true);
  xg::nn::CTCLoss crit({.blank = 2});
  crit(lpg, padded, il, tl).backward();
  check_values(lpg.grad(), {0.01458412283634972,
                            -0.058678688430196226,
                            0.0440945655938465,
                            0.19922813091539887,
                            -0.21970701416054217,
                            0.020478883245143183,
                            0.04014267751715606,
                            0.011186235190351723,
                            -0.051328912707507814,
                            0.08572295541983085,
                            0.010975993183440802,
                            -0.09669894860327169,
                            0.015704174003113885,
                            0.009983238528300076,
                            -0.02568741253141395,
                            0.01854656398290102,
                            -0.15555404887007818,
                            0.13700748488717718,
                            0.09154414115841315,
                            -0.11740998125580344,
                            0.02586584009739031,
                            0.0,
                            0.0,
                            0.0});
  CHECK(crit.extra_repr() == "blank=2, reduction=mean, zero_infinity=false");
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum})
    check_grads(
        [&](const std::vector<Tensor>& in) {
          return F::ctc_loss(xg::log_softmax(in[0], 2), padded, il, tl, {.reduction = r});
        },
        {ctc_logits(f64g)}, false);
}

TEST_CASE("the new losses as modules") {
  xg::nn::TripletMarginLoss triplet({.margin = 3});
  check_scalar(triplet(anchor23(), positive23(), negative23()),
               (3.1180334359637953 + 0.4142528373085388) / 2);
  CHECK(triplet.extra_repr() == "margin=3, p=2, eps=1e-06, swap=false, reduction=mean");
  xg::nn::HingeEmbeddingLoss hinge;
  check_scalar(hinge(xg::tensor({0.3, -0.5, 2, 0.7}, f64), xg::tensor({1, -1, -1, 1}, f64)), 0.625);
  xg::nn::MultiMarginLoss mm({.weight = xg::tensor({1, 2, 3, 4}, f64), .reduction = Reduction::sum});
  CHECK(mm.buffers().size() == 1);
  check_scalar(mm(xg::tensor({0.1, 0.2, 0.4, 0.8, 0.5, -0.3, 0.2, 0.1}, {2, 4}, f64), i64({3, 1})), 3.65);
  xg::nn::MultiLabelSoftMarginLoss mlsm(
      {.weight = xg::tensor({1, 2, 0.5}, f64), .reduction = Reduction::sum});
  CHECK(mlsm.buffers().size() == 1);
  check_scalar(
      mlsm(xg::tensor({0.5, -1, 2, 0, 1, -0.5}, {2, 3}, f64), xg::tensor({1, 0, 1, 0, 1, 1}, {2, 3}, f64)),
      0.9902578041414944);
  xg::nn::SoftMarginLoss sm;
  check_scalar(sm(xg::tensor({0.5, -1, 2, -3}, f64), xg::tensor({1, 1, -1, -1}, f64)), 0.9907135085787611);
  xg::nn::PoissonNLLLoss pois({.log_input = false, .full = true, .reduction = Reduction::sum});
  check_scalar(pois(xg::tensor({0.5, 1.2, 2, 0.1}, f64), xg::tensor({0, 1, 3, 2.5}, f64)),
               10.226591633048198);
  xg::nn::GaussianNLLLoss gnll({.full = true, .reduction = Reduction::sum});
  check_scalar(gnll(xg::tensor({1, 2, 3, 4}, {2, 2}, f64), xg::tensor({1.5, 1, 2, 5}, {2, 2}, f64),
                    xg::tensor({0.5, 2}, {2, 1}, f64)),
               5.425754132818691);
  CHECK_ERROR(xg::nn::MultiMarginLoss({.p = 3}), xg::ValueError, "MultiMarginLoss:", "p = 1 and p = 2",
              "got 3");
  CHECK_ERROR(xg::nn::TripletMarginLoss({.p = 0}), xg::ValueError, "TripletMarginLoss: p must be > 0");
  CHECK_ERROR(xg::nn::GaussianNLLLoss({.eps = 0}), xg::ValueError, "GaussianNLLLoss: eps must be > 0");
  CHECK_ERROR(xg::nn::CTCLoss({.reduction = Reduction::batchmean}), xg::ValueError, "CTCLoss:", "batchmean");
}

TEST_CASE("the new losses: errors name the loss and the shapes") {
  CHECK_ERROR(F::triplet_margin_loss(xg::ones({2, 3}), xg::ones({2, 3}), xg::ones({2, 4})), xg::ShapeError,
              "triplet_margin_loss:", "[2, 4]", "[2, 3]");
  CHECK_ERROR(F::triplet_margin_loss(xg::ones({2, 3, 1}), xg::ones({2, 3, 1}), xg::ones({2, 3, 1})),
              xg::ShapeError, "triplet_margin_loss:", "[2, 3, 1]");
  CHECK_ERROR(F::hinge_embedding_loss(xg::ones({3}), xg::ones({2})), xg::ShapeError,
              "hinge_embedding_loss:", "[2]", "[3]");
  CHECK_ERROR(F::multi_margin_loss(xg::ones({2, 4}), i64({4, 0})), xg::IndexError,
              "multi_margin_loss:", "target 4", "4 classes");
  CHECK_ERROR(F::multi_margin_loss(xg::ones({2, 4}), i64({1, 0, 0})), xg::ShapeError,
              "multi_margin_loss:", "[3]", "[2, 4]");
  CHECK_ERROR(F::multi_margin_loss(xg::ones({2, 4}), xg::ones({2})), xg::TypeError,
              "multi_margin_loss:", "int64");
  CHECK_ERROR(F::multi_margin_loss(xg::ones({2, 4}), i64({1, 0}), {.weight = xg::ones({3})}), xg::ShapeError,
              "multi_margin_loss:", "[4]", "[3]");
  CHECK_ERROR(F::multilabel_soft_margin_loss(xg::ones({2, 3}), xg::ones({2, 3}), {.weight = xg::ones({2})}),
              xg::ShapeError, "multilabel_soft_margin_loss:", "[2]", "[2, 3]");
  CHECK_ERROR(F::soft_margin_loss(xg::ones({2}), i64({1, -1})), xg::TypeError, "soft_margin_loss:", "int64");
  CHECK_ERROR(F::poisson_nll_loss(xg::ones({2, 2}), xg::ones({4})), xg::ShapeError,
              "poisson_nll_loss:", "[4]");
  CHECK_ERROR(F::gaussian_nll_loss(xg::ones({2, 3}), xg::ones({2, 3}), xg::ones({3})), xg::ShapeError,
              "gaussian_nll_loss: var of shape [3]", "[2, 3]");
  CHECK_ERROR(F::gaussian_nll_loss(xg::ones({2, 3}), xg::ones({2, 3}), xg::ones({2, 2})), xg::ShapeError,
              "gaussian_nll_loss: var of shape [2, 2]", "[2, 3]");
  CHECK_ERROR(F::gaussian_nll_loss(xg::ones({2}), xg::ones({2}), xg::tensor({1, -0.5})), xg::ValueError,
              "gaussian_nll_loss: var has a negative entry -0.5");
  const Tensor lp = xg::zeros({4, 2, 3});
  CHECK_ERROR(F::ctc_loss(lp, i64({1, 1, 1, 1}, {2, 2}), i64({5, 4}), i64({2, 2})), xg::ValueError,
              "ctc_loss: input_lengths[0] = 5", "[0, 4]", "[4, 2, 3]");
  CHECK_ERROR(F::ctc_loss(lp, i64({1, 1, 1, 1}, {2, 2}), i64({4, 4}), i64({3, 2})), xg::ValueError,
              "ctc_loss: target_lengths[0] = 3", "[2, 2]");
  CHECK_ERROR(F::ctc_loss(lp, i64({1, 1, 1, 1}, {2, 2}), i64({4, 4}), i64({2, 2}), {.blank = 3}),
              xg::IndexError, "ctc_loss: blank 3", "3 classes");
  CHECK_ERROR(F::ctc_loss(lp, i64({1, 1, 1, 1}, {2, 2}), xg::ones({2}), i64({2, 2})), xg::TypeError,
              "ctc_loss: input_lengths must be int64");
}
