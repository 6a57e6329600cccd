// The ctc_loss primitive (autograd/ops/ctc.cpp): the per-sequence losses and the gradient with
// respect to log_probs as PyTorch 1.13 returns them (numbers from torch.nn.functional.ctc_loss in
// float64), including impossible alignments (inf loss, NaN gradient up to the input length, 0
// after it) and zero_infinity (0 loss and 0 gradient); gradcheck through a log_softmax; the second
// backward raising; float32; the argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;
using xg_test::check_values;
using xg_test::i64;

constexpr xg::TensorOptions f64{.dtype = Dtype::float64};
constexpr xg::TensorOptions f64g{.dtype = Dtype::float64, .requires_grad = true};

// torch.manual_seed(0); x = torch.randn(4, 2, 3, dtype=torch.float64)
Tensor logits(xg::TensorOptions o = f64) {
  return xg::tensor({-2.310411800234176,  -0.3732508612577643, -1.0608166785462863, 0.9995093547811761,
                     -0.8840250045832653, -1.2755469302148053, -0.623224579866079,  -0.8664416019125772,
                     0.23871805816817063, 0.7335283685272841,  -1.3218818291421377, 1.3148113651971234,
                     -1.4874956356507338, -0.7135753396468577, 0.519998663178938,   -0.9528856397032842,
                     0.6748575435940039,  1.0468653769814655,  0.15429517864658948, -0.7498915228391941,
                     -0.7233897004977882, 0.08636989238234997, -1.746404903728242,  1.041012457033509},
                    {4, 2, 3}, o);
}
// As check_values, with NaN expected where `expected` holds NaN.
void check_values_nan(const Tensor& t, const std::vector<double>& expected) {
  const std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    if (std::isnan(expected[i]))
      CHECK(std::isnan(got[i]));
    else
      CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}
Tensor scalar64(int64_t v) {
  return xg::scalar_tensor(static_cast<double>(v), {.dtype = Dtype::int64});
}

}  // namespace

TEST_CASE("ctc_loss: the gradient PyTorch returns, an impossible alignment, zero_infinity") {
  // lp = x.log_softmax(2).requires_grad_(); l = F.ctc_loss(lp, [[1, 2, 1], [1, 1, 0]], [4, 2], [3, 2],
  // reduction='none'); l.sum().backward(): sequence 1 cannot fit [1, 1] in 2 frames.
  const Tensor tg = i64({1, 2, 1, 1, 1, 0}, {2, 3}), il = i64({4, 2}), tl = i64({3, 2});
  Tensor lp = xg::log_softmax(logits(), 2).detach().requires_grad_(true);
  const Tensor l = xg::ctc_loss(lp, tg, il, tl);
  const std::vector<double> lv = l.to_vector<double>();
  CHECK(lv[0] == doctest::Approx(1.837947504245882).epsilon(1e-12));
  CHECK(std::isinf(lv[1]));
  xg::sum(l).backward();
  const double nan = NAN;
  // exp(lp) - exp(log(sum alpha beta) + nll - lp) below the input length, 0 after it; NaN where
  // the loss is inf (-inf + inf), as PyTorch's
  check_values_nan(lp.grad(), {0.07130602984030288, -0.3766039389072803,  0.3052979090669779,  nan, nan, nan,
                               0.097503168843526,   0.06025365699957819,  -0.1577568258431037, nan, nan, nan,
                               0.04863188264303146, -0.13872393749459247, 0.09009205485156124, 0,   0,   0,
                               0.3050948398880706,  -0.5334485673760849,  0.22835372748801439, 0,   0,   0});
  // zero_infinity: loss 0 and gradient 0 for the impossible sequence, the other unchanged
  Tensor lp2 = xg::log_softmax(logits(), 2).detach().requires_grad_(true);
  const Tensor l2 = xg::ctc_loss(lp2, tg, il, tl, 0, true);
  check_values(l2, {1.837947504245882, 0.0});
  xg::sum(l2).backward();
  check_values(lp2.grad(), {0.07130602984030288, -0.3766039389072803,  0.3052979090669779,  0, 0, 0,
                            0.097503168843526,   0.06025365699957819,  -0.1577568258431037, 0, 0, 0,
                            0.04863188264303146, -0.13872393749459247, 0.09009205485156124, 0, 0, 0,
                            0.3050948398880706,  -0.5334485673760849,  0.22835372748801439, 0, 0, 0});
  // a target longer than the input is no error: inf
  CHECK(std::isinf(xg::ctc_loss(xg::log_softmax(logits(), 2), tg, i64({2, 4}), tl).to_vector<double>()[0]));
  // empty input and empty target: the empty alignment, loss 0; empty input, non-empty target: inf
  CHECK(xg::ctc_loss(xg::log_softmax(logits(), 2), tg, i64({0, 4}), i64({0, 2})).to_vector<double>()[0] ==
        0.0);
  CHECK(std::isinf(xg::ctc_loss(xg::log_softmax(logits(), 2), tg, i64({0, 4}), tl).to_vector<double>()[0]));
}

TEST_CASE("ctc_loss: layouts agree, blank, unbatched, float32") {
  const Tensor lp = xg::log_softmax(logits(), 2);
  const Tensor il = i64({4, 3}), tl = i64({3, 2});
  // F.ctc_loss(lp, targets, [4, 3], [3, 2], reduction='none') and with blank=2
  const Tensor padded = xg::ctc_loss(lp, i64({1, 2, 1, 1, 1, 0}, {2, 3}), il, tl);
  check_values(padded, {1.837947504245882, 4.154318185544599});
  check_values(xg::ctc_loss(lp, i64({1, 2, 1, 1, 1}), il, tl), {1.837947504245882, 4.154318185544599});
  // padding beyond a target's length is never read, even out of range
  check_values(xg::ctc_loss(lp, i64({1, 2, 1, 1, 1, 99}, {2, 3}), il, tl),
               {1.837947504245882, 4.154318185544599});
  check_values(xg::ctc_loss(lp, i64({1, 2, 1, 1, 1, 0}, {2, 3}), il, tl, 2),
               {1.5103985255384245, 3.5730351888747602});
  const Tensor un = xg::ctc_loss(xg::log_softmax(xg::reshape(xg::narrow(logits(), 1, 0, 1), {4, 3}), 1),
                                 i64({1, 2, 1}), scalar64(4), scalar64(3));
  CHECK(un.dim() == 0);
  CHECK(un.item() == doctest::Approx(1.837947504245882).epsilon(1e-12));
  const Tensor f =
      xg::ctc_loss(xg::log_softmax(logits().to(Dtype::float32), 2), i64({1, 2, 1, 1, 1, 0}, {2, 3}), il, tl);
  CHECK(f.dtype() == Dtype::float32);
  check_values(f.to(Dtype::float64), {1.837947504245882, 4.154318185544599}, 1e-5);
}

TEST_CASE("ctc_loss: gradcheck through log_softmax, repeats, a blank in the middle of the classes") {
  const Tensor x = xg::randn({7, 3, 5}, {.dtype = Dtype::float64, .requires_grad = true});
  const Tensor tg = i64({1, 1, 3, 4, 2, 2, 2, 0, 4, 4, 1, 3}, {3, 4}), il = i64({7, 6, 7}),
               tl = i64({4, 2, 3});
  for (int64_t blank : {0, 2, 4}) {
    CAPTURE(blank);
    const auto r = xg::gradcheck(
        [&](const std::vector<Tensor>& in) {
          return xg::ctc_loss(xg::log_softmax(in[0], 2), tg, il, tl, blank);
        },
        {x});
    INFO(r.str());
    CHECK(r.passed);
  }
}

TEST_CASE("ctc_loss: differentiable once; the second backward raises") {
  const Tensor x = logits(f64g);
  const Tensor tg = i64({1, 2, 1, 1, 1, 0}, {2, 3}), il = i64({4, 3}), tl = i64({3, 2});
  const Tensor l = xg::sum(xg::ctc_loss(xg::log_softmax(x, 2), tg, il, tl));
  const auto g = xg::grad({l}, {x}, {}, true, true);
  REQUIRE(g[0].requires_grad());
  CHECK_ERROR(xg::grad({xg::sum(g[0] * g[0])}, {x}), xg::ValueError, "ctc_loss:", "not differentiable again");
}

TEST_CASE("ctc_loss: errors name the op and the shapes") {
  const Tensor lp = xg::zeros({4, 2, 3});
  const Tensor tg = i64({1, 1, 1, 1}, {2, 2}), il = i64({4, 4}), tl = i64({2, 2});
  CHECK_ERROR(xg::ctc_loss(xg::zeros({4}), tg, il, tl), xg::ShapeError, "ctc_loss: log_probs", "[4]");
  CHECK_ERROR(xg::ctc_loss(i64({1, 2}, {1, 1, 2}), tg, il, tl), xg::TypeError, "ctc_loss: log_probs",
              "int64");
  CHECK_ERROR(xg::ctc_loss(lp, xg::ones({2, 2}), il, tl), xg::TypeError, "ctc_loss: targets must be int64");
  CHECK_ERROR(xg::ctc_loss(lp, tg, i64({4, 4, 4}), tl), xg::ShapeError, "ctc_loss: input_lengths", "[2]",
              "[3]");
  CHECK_ERROR(xg::ctc_loss(lp, tg, il, xg::ones({2})), xg::TypeError,
              "ctc_loss: target_lengths must be int64");
  CHECK_ERROR(xg::ctc_loss(lp, tg, i64({-1, 4}), tl), xg::ValueError, "ctc_loss: input_lengths[0] = -1",
              "[0, 4]");
  CHECK_ERROR(xg::ctc_loss(lp, tg, il, i64({2, -1})), xg::ValueError, "ctc_loss: target_lengths[1] = -1");
  CHECK_ERROR(xg::ctc_loss(lp, tg, il, tl, -1), xg::IndexError, "ctc_loss: blank -1", "3 classes");
  CHECK_ERROR(xg::ctc_loss(lp, i64({1, 3, 1, 1}, {2, 2}), il, tl), xg::IndexError, "ctc_loss: target 3",
              "sequence 0", "3 classes");
  CHECK_ERROR(xg::ctc_loss(lp, i64({1, 1, 1}), il, tl), xg::ShapeError, "ctc_loss: concatenated targets [3]",
              "4 labels");
  CHECK_ERROR(xg::ctc_loss(lp, i64({1, 1, 1, 1, 1, 1}, {3, 2}), il, tl), xg::ShapeError, "ctc_loss: padded",
              "[3, 2]", "2 rows");
  CHECK_ERROR(xg::ctc_loss(lp, i64({1, 1, 1, 1}, {1, 2, 2}), il, tl), xg::ShapeError, "ctc_loss: targets",
              "[1, 2, 2]");
  CHECK_ERROR(xg::ctc_loss(xg::zeros({4, 3}), i64({1, 1}), il, tl), xg::ShapeError, "ctc_loss: input_lengths",
              "shape []");
}
