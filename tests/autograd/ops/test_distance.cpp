// diagonal, diag, trace, cosine_similarity, pairwise_distance, cdist and normalize
// (autograd/ops/distance.cpp): values and gradients against PyTorch 1.13, the gradients at zero
// vectors and zero distances (numbers, not NaN), cdist's product path against the direct sums,
// errors naming the op and the shapes. (Every sample is also gradchecked and gradgradchecked by the
// registry sweep.)
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "xgrad/autograd.hpp"
#include "xgrad/nn/functional.hpp"

using xg::Tensor;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor t64(const std::vector<double>& v, const xg::Shape& s, bool grad = false) {
  return xg::tensor(v, s, {.dtype = xg::Dtype::float64, .requires_grad = grad});
}
Tensor seq(double n, const xg::Shape& s) {
  return xg::reshape(xg::arange(0, n, 1, {.dtype = xg::Dtype::float64}), s);
}
// Every element within tol (relative to max(1, |expected|)) of the expected values.
void check_close(const Tensor& y, const std::vector<double>& want, double tol = 1e-12) {
  const std::vector<double> got = y.to_vector<double>();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CAPTURE(got[i]);
    CAPTURE(want[i]);
    CHECK(std::abs(got[i] - want[i]) <= tol * std::max(1.0, std::abs(want[i])));
  }
}
// The gradient of sum(y * w) with respect to each input.
std::vector<Tensor> grads(const Tensor& y, const std::vector<Tensor>& inputs, const Tensor& w = Tensor()) {
  return xg::grad({xg::sum(w.defined() ? y * w : y)}, inputs);
}
}  // namespace

TEST_CASE("diagonal, diag and trace take the diagonals torch takes") {
  const Tensor x = seq(24, {2, 3, 4}), m = seq(12, {3, 4});
  // torch.diagonal(arange(24.).reshape(2, 3, 4), 1, 2, 0): remaining axis first, diagonal last
  const Tensor d = xg::diagonal(x, 1, 2, 0);
  CHECK(d.shape() == xg::Shape{3, 1});
  CHECK(d.to_vector<double>() == std::vector<double>{12, 16, 20});
  CHECK(xg::diagonal(m).to_vector<double>() == std::vector<double>{0, 5, 10});
  CHECK(xg::diagonal(m, -1).to_vector<double>() == std::vector<double>{4, 9});
  CHECK(xg::diagonal(m, 5).shape() == xg::Shape{0});
  CHECK(xg::diagonal(m, std::numeric_limits<int64_t>::min()).shape() == xg::Shape{0});
  // torch.diagonal(x, 0, -1, -2)
  const Tensor d2 = xg::diagonal(x, 0, -1, -2);
  CHECK(d2.shape() == xg::Shape{2, 3});
  CHECK(d2.to_vector<double>() == std::vector<double>{0, 5, 10, 12, 17, 22});
  // torch.diag(tensor([1., 2, 3]), -1) and torch.diag(m, 1)
  const Tensor sq = xg::diag(t64({1, 2, 3}, {3}), -1);
  CHECK(sq.shape() == xg::Shape{4, 4});
  CHECK(sq.to_vector<double>() == std::vector<double>{0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0});
  CHECK(xg::diag(t64({1, 2}, {2}), 1).to_vector<double>() == std::vector<double>{0, 1, 0, 0, 0, 2, 0, 0, 0});
  CHECK(xg::diag(m, 1).to_vector<double>() == std::vector<double>{1, 6, 11});
  const Tensor di = xg::diag(xg::arange(1, 3, 1, {.dtype = xg::Dtype::int64}));  // int64 stays int64
  CHECK(di.dtype() == xg::Dtype::int64);
  CHECK(di.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 2});
  CHECK(xg::diag(xg::zeros({0}, {.dtype = xg::Dtype::float64}), 2).shape() == xg::Shape{2, 2});
  // torch.trace: 15. on [3, 4], 15 (int64) and 12 on [4, 3]
  CHECK(xg::trace(m).item<double>() == 15);
  const Tensor ti = xg::trace(xg::reshape(xg::arange(0, 12, 1, {.dtype = xg::Dtype::int64}), {3, 4}));
  CHECK(ti.dtype() == xg::Dtype::int64);
  CHECK(ti.item<int64_t>() == 15);
  CHECK(xg::trace(seq(12, {4, 3})).item<double>() == 12);
  // The gradients put ones on the diagonal.
  const Tensor mg = t64(std::vector<double>(12, 1.0), {3, 4}, true);
  CHECK(grads(xg::trace(mg), {mg})[0].to_vector<double>() ==
        std::vector<double>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0});
  // A tall matrix: the gradient is 1 at (0, 0) and (1, 1) only. (torch.trace(x).backward() on a
  // [4, 2] x in PyTorch 1.13 also gives 1 at (3, 0), off the diagonal: a wrong gradient that xgrad
  // does not copy; the value, 3 here, agrees.)
  const Tensor tall = t64(std::vector<double>(8, 1.0), {4, 2}, true);
  CHECK(xg::trace(seq(8, {4, 2})).item<double>() == 3);
  CHECK(grads(xg::trace(tall), {tall})[0].to_vector<double>() == std::vector<double>{1, 0, 0, 1, 0, 0, 0, 0});
  const Tensor v = t64({1, 2, 3}, {3}, true);
  CHECK(grads(xg::diag(v, 1), {v}, seq(16, {4, 4}))[0].to_vector<double>() == std::vector<double>{1, 6, 11});

  CHECK_ERROR(xg::diagonal(x, 0, 1, -2), xg::ValueError, "diagonal", "[2, 3, 4]", "axis 1");
  CHECK_ERROR(xg::diagonal(t64({1, 2}, {2})), xg::ShapeError, "diagonal", "[2]");
  CHECK_ERROR(xg::diagonal(x, 0, 0, 3), xg::IndexError, "diagonal");
  CHECK_ERROR(xg::diag(x), xg::ShapeError, "diag", "[2, 3, 4]");
  CHECK_ERROR(xg::trace(t64({1, 2, 3}, {3})), xg::ShapeError, "trace", "[3]");
  CHECK_ERROR(xg::trace(x), xg::ShapeError, "trace", "[2, 3, 4]");
}

TEST_CASE("cosine_similarity matches torch.nn.functional.cosine_similarity, tiny norms included") {
  const Tensor a = t64({1, 2, -1, 0.5, -0.3, 2}, {2, 3}, true), b = t64({2, -1, 0.5, 1, 1, 1}, {2, 3}, true);
  const Tensor c = xg::cosine_similarity(a, b);
  check_close(c, {-0.08908708063747481, 0.6097013950210627});
  // (c * [1, 2]).sum().backward()
  const auto g = grads(c, {a, b}, t64({1, 2}, {2}));
  check_close(g[0], {0.3711961693228117, -0.14847846772912468, 0.07423923386456234, 0.4137898030725269,
                     0.6385645109143933, -0.007662774130972605});
  check_close(g[1], {0.2121120967558924, 0.3393793548094278, -0.1696896774047139, -0.12933059894386179,
                     -0.5727497953228164, 0.7020803942666781});
  // Broadcasting [2, 3] with [3] along dim -1, and dim 0 of [3, 2] with [1, 2].
  check_close(xg::cosine_similarity(a, t64({2, -1, 0.5}, {3}), -1),
              {-0.08908708063747481, 0.4818405207844465});
  check_close(xg::cosine_similarity(t64({1, 2, 0.5, -0.3, 3, 4}, {3, 2}), t64({2, -1}, {1, 2}), 0),
              {0.8115026712006892, -0.7342167025149092});

  // A zero vector: value 0, and the gradient PyTorch gives (x2 / ||x2|| / eps), not NaN.
  Tensor z = t64({0, 0, 0}, {1, 3}, true), w = t64({1, 2, 2}, {1, 3}, true);
  auto gz = grads(xg::cosine_similarity(z, w), {z, w});
  CHECK(xg::cosine_similarity(z, w).item<double>() == 0);
  check_close(gz[0], {33333333.333333332, 66666666.666666664, 66666666.666666664});
  check_close(gz[1], {0, 0, 0});
  // ||x1|| = 1e-10 < eps: the norm is eps, and its gradient is x1 / eps (PyTorch 1.13's numbers).
  z = t64({1e-10, 0, 0}, {1, 3}, true);
  gz = grads(xg::cosine_similarity(z, w), {z, w});
  check_close(xg::cosine_similarity(z, w), {0.003333333333333333});
  check_close(gz[0], {33330000.0, 66666666.666666664, 66666666.666666664});
  check_close(gz[1], {0.0029629629629629632, -0.0007407407407407407, -0.0007407407407407407});
  z = t64({3e-9, 4e-9}, {1, 2}, true);
  w = t64({1, 0}, {1, 2}, true);
  gz = grads(xg::cosine_similarity(z, w), {z, w});
  check_close(xg::cosine_similarity(z, w), {0.3});
  check_close(gz[0], {91000000.0, -12000000.0});
  check_close(gz[1], {0, 0.4});
  // Each norm is clamped on its own: ||x1|| ||x2|| = 1.4e-9 < eps, yet no clamping happens.
  z = t64({1e-3, 0}, {1, 2}, true);
  w = t64({1e-6, 1e-6}, {1, 2}, true);
  gz = grads(xg::cosine_similarity(z, w), {z, w});
  check_close(xg::cosine_similarity(z, w), {0.7071067811865476});
  check_close(gz[0], {0.0, 707.1067811865476});
  check_close(gz[1], {353553.3905932738, -353553.3905932738});

  // An int64 operand takes the other's float dtype; two int64 operands are refused (as PyTorch):
  // F.cosine_similarity(tensor([[1, 2, -1], [0, 0, 2]]), b)
  check_close(xg::cosine_similarity(xg::tensor({1, 2, -1, 0, 0, 2}, {2, 3}, {.dtype = xg::Dtype::int64}), b),
              {-0.08908708063747481, 0.5773502691896258});
  CHECK_ERROR(xg::cosine_similarity(xg::zeros({2, 3}, {.dtype = xg::Dtype::int64}),
                                    xg::zeros({2, 3}, {.dtype = xg::Dtype::int64})),
              xg::TypeError, "cosine_similarity", "[2, 3]");
  CHECK_ERROR(xg::cosine_similarity(t64({1, 2}, {2}), t64({1, 2, 3}, {3}), 0), xg::ShapeError,
              "cosine_similarity", "[2]", "[3]");
  CHECK_ERROR(xg::cosine_similarity(t64({1, 2}, {2}), t64({1, 2}, {2})), xg::IndexError, "cosine_similarity");
}

TEST_CASE("pairwise_distance matches torch.nn.functional.pairwise_distance for each p") {
  const Tensor x1 = t64({0, 1, 2, 1, -1, 0.5}, {2, 3}, true), x2 = t64({0.5, 0.5, 0.5, 1, 1, 1}, {2, 3});
  const Tensor w = t64({1, 2}, {2});
  struct Case {
    double p;
    std::vector<double> value, grad;
  };
  // F.pairwise_distance(x1, x2, p=p) and the gradient of (y * [1, 2]).sum()
  const std::vector<Case> cases = {
      {2,
       {1.6583132997123915, 2.061551600131076},
       {-0.3015105770946401, 0.30151178313936056, 0.9045341433733611, 9.70143070817552e-07,
        -1.940285171492033, -0.4850705652657052}},
      {1, {2.500001, 2.499999}, {-1, 1, 1, 2, -2, -2}},
      {3,
       {1.5361593663210267, 2.0103618277201685},
       {-0.10594140422542167, 0.1059422517600456, 0.9534777232331483, 4.948590726018215e-13,
        -1.979434310971491, -0.12371427329187766}},
      {0.5,
       {6.9641037698343675, 4.504239138565236},
       {-3.7320551169750327, 3.7320476528722626, 2.154700153478687, 4244.638565798146, -3.00141346391527,
        -6.002831429958052}},
      {kInf, {1.500001, 1.999999}, {0, 0, 1, 0, -2, 0}},
      {0, {3, 3}, {0, 0, 0, 0, 0, 0}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.p);
    const Tensor y = xg::pairwise_distance(x1, x2, c.p);
    check_close(y, c.value);
    check_close(grads(y, {x1}, w)[0], c.grad, 1e-11);
  }
  const Tensor k = xg::pairwise_distance(x1, x2, 2, 1e-6, true);
  CHECK(k.shape() == xg::Shape{2, 1});
  check_close(k, {1.6583132997123915, 2.061551600131076});
  // [3] against [2, 3] broadcast, p = 3
  check_close(xg::pairwise_distance(t64({1, 2, 3}, {3}), t64({0, 0, 0, 1, 1, 1}, {2, 3}), 3),
              {3.3019285329774966, 2.0800849786540794});
  // x1 - x2 + eps exactly 0: distance 0 and gradient 0 for every p, as PyTorch (no NaN).
  for (double p : {2.0, 1.0, 3.0, 0.5, kInf}) {
    CAPTURE(p);
    const Tensor z1 = t64({0, 0}, {1, 2}, true), z2 = t64({1e-6, 1e-6}, {1, 2}, true);
    const Tensor y = xg::pairwise_distance(z1, z2, p);
    CHECK(y.item<double>() == 0);
    const auto g = grads(y, {z1, z2});
    CHECK(g[0].to_vector<double>() == std::vector<double>{0, 0});
    CHECK(g[1].to_vector<double>() == std::vector<double>{0, 0});
  }
  // Ties at the largest |x1 - x2 + eps| share the inf-norm's gradient, as torch.norm's do: [0.5, -0.5, 0]
  const Tensor tie = t64({1, -1, 0.5}, {1, 3}, true);
  check_close(
      grads(xg::pairwise_distance(tie, xg::zeros({1, 3}, {.dtype = xg::Dtype::float64}), kInf, 0), {tie})[0],
      {0.5, -0.5, 0});
  // int64 inputs give float32, as in PyTorch: F.pairwise_distance(ones(2, 3).long(), ...) = 1.7321e-06
  const Tensor ones_i = xg::ones({2, 3}, {.dtype = xg::Dtype::int64});
  const Tensor pi = xg::pairwise_distance(ones_i, ones_i);
  CHECK(pi.dtype() == xg::Dtype::float32);
  CHECK(pi.to_vector<float>()[0] == doctest::Approx(1.7321e-06).epsilon(1e-4));
  // A negative p, as torch.norm allows: F.pairwise_distance(x1, x2, p=-1.) and p=-inf
  const Tensor yn = xg::pairwise_distance(x1, x2, -1);
  check_close(yn, {0.2142857346931312, 9.99997500002e-07});
  check_close(grads(yn, {x1})[0], {-0.1836742390681216, 0.18367276968008664, 0.020408139941571018,
                                   0.99999500001025, -2.499990000015e-13, -3.999996000009e-12});
  check_close(xg::pairwise_distance(x1, x2, -kInf), {0.499999, 1e-06});
  CHECK_ERROR(xg::pairwise_distance(x1, x2, std::nan("")), xg::ValueError, "pairwise_distance", "p");
  CHECK_ERROR(xg::pairwise_distance(x1, t64({1, 2}, {2})), xg::ShapeError, "pairwise_distance", "[2, 3]",
              "[2]");
}

TEST_CASE("cdist matches torch.cdist for p = 0, 0.5, 1, 1.5, 2, 3, inf, zero distances included") {
  const Tensor x1 = t64({0, 1, 2, 1, 1, 1}, {2, 3}, true),
               x2 = t64({0, 1, 2, 3, -1, 0.5, 1, 1, 1}, {3, 3}, true);
  struct Case {
    double p;
    std::vector<double> value, g1, g2;
  };
  // torch.cdist(x1, x2, p=p) and the gradients of its sum; x1[0] = x2[0] and x1[1] = x2[2] are at
  // distance 0, where PyTorch's gradient is 0.
  const std::vector<Case> cases = {
      {0, {0, 3, 2, 2, 3, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 0}},
      {0.5,
       {0, 19.10572178782340202, 4, 4, 12.50000000000000178, 0},
       {-4.52360336211427416, 3.09077027517602776, 5.56891410075234639, -0.5, 2.5, 3},
       {-2, 0, 2, 5.02360336211427416, -5.59077027517602776, -8.56891410075234639, 2, 0, -2}},
      {1, {0, 6.5, 2, 2, 4.5, 0}, {-2, 1, 2, 0, 1, 0}, {-1, 0, 1, 2, -2, -2, 1, 0, -1}},
      {1.5,
       {0, 4.59869315193327477, 1.58740105196819936, 1.58740105196819936, 3.30574450922897256, 0},
       {-1.60138811819602478, 0.65947415749878435, 1.36482189951738686, 0.01587828851845896,
        0.77782223746564072, -0.40478940725127938},
       {-0.79370052598409968, 0, 0.79370052598409968, 1.58550982967756582, -1.43729639496442507,
        -0.96003249226610743, 0.79370052598409968, 0, -0.79370052598409968}},
      {2,
       {0, 3.90512483795332699, 1.41421356237309515, 1.41421356237309515, 2.87228132326901431, 0},
       {-1.47532806078392342, 0.51214751973158390, 1.09121742098523544, 0.01079615736375605,
        0.69631062382279141, -0.53302912523084967},
       {-0.70710678118654746, 0, 0.70710678118654746, 1.46453190342016715, -1.20845814355437531,
        -0.55818829575438578, 0.70710678118654746, 0, -0.70710678118654746}},
      {3,
       {0, 3.37299835585271213, 1.25992104989487319, 1.25992104989487319, 2.52638717360428045, 0},
       {-1.42102202860019000, 0.35158289051233493, 0.82772590086062492, 0.00325983072001812,
        0.62670069422741836, -0.59079173155822284},
       {-0.62996052494743648, 0, 0.62996052494743648, 1.41776219788017199, -0.97828358473975330,
        -0.23693416930240205, 0.62996052494743648, 0, -0.62996052494743648}},
      {kInf, {0, 3, 1, 1, 2, 0}, {-2, 0, 1, 0, 1, -1}, {-1, 0, 1, 2, -1, 0, 1, 0, -1}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.p);
    const Tensor y = xg::cdist(x1, x2, c.p);
    CHECK(y.shape() == xg::Shape{2, 3});
    check_close(y, c.value);
    const auto g = grads(y, {x1, x2});
    check_close(g[0], c.g1);
    check_close(g[1], c.g2);
  }
  // With p = inf, each element tied at the largest |x1 - x2| gets the whole gradient (torch.cdist's
  // convention, unlike torch.norm's): [1, -1, 0]
  const Tensor tie = t64({1, -1, 0.5}, {1, 3}, true);
  check_close(grads(xg::cdist(tie, xg::zeros({1, 3}, {.dtype = xg::Dtype::float64}), kInf), {tie})[0],
              {1, -1, 0});
  // Batch axes broadcast: [2, 1, 2, 2] with [1, 3, 2] -> [2, 1, 2, 3]
  const Tensor yb = xg::cdist(seq(8, {2, 1, 2, 2}) * 0.5, t64({1, 0, 0, 1, 2, 2}, {1, 3, 2}));
  CHECK(yb.shape() == xg::Shape{2, 1, 2, 3});
  check_close(yb, {1.118033988749895, 0.5, 2.5, 1.5, 1.118033988749895, 1.118033988749895, 2.692582403567252,
                   2.5, 0.5, 4.031128874149275, 3.905124837953327, 1.8027756377319946});
  // No columns: every distance is 0.
  CHECK(xg::cdist(xg::zeros({2, 0}, {.dtype = xg::Dtype::float64}),
                  xg::zeros({3, 0}, {.dtype = xg::Dtype::float64}))
            .to_vector<double>() == std::vector<double>(6, 0.0));

  // NaN propagates to the distances of its row only, for every p and on the product path, as
  // torch.cdist's does for p = 0, 1, 2, 3. (For p = inf torch.cdist 1.13 skips the NaN and gives
  // [0, 2, 4] here; xgrad keeps the NaN, as torch.norm(x, inf) does.)
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double p : {2.0, 0.0, 1.0, 3.0, kInf}) {
    CAPTURE(p);
    const std::vector<double> d =
        xg::cdist(t64({nan, 0, 1, 1}, {2, 2}), t64({0, 0, 1, 2, 3, 4}, {3, 2}), p).to_vector<double>();
    CHECK((std::isnan(d[0]) && std::isnan(d[1]) && std::isnan(d[2])));
    CHECK((!std::isnan(d[3]) && !std::isnan(d[4]) && !std::isnan(d[5])));
  }
  std::vector<double> many(60, 1.0);
  many[7] = nan;
  const std::vector<double> dn = xg::cdist(t64(many, {30, 2}), t64({0, 0}, {1, 2})).to_vector<double>();
  CHECK(std::isnan(dn[3]));
  CHECK(dn[4] == doctest::Approx(std::sqrt(2.0)));
  // float32 stays float32; the dtypes must agree (as torch.cdist), ints are refused.
  CHECK(xg::cdist(x1.to(xg::Dtype::float32), x2.to(xg::Dtype::float32)).dtype() == xg::Dtype::float32);
  CHECK_ERROR(xg::cdist(x1.to(xg::Dtype::float32), x2), xg::TypeError, "cdist", "float32", "float64");
  CHECK_ERROR(xg::cdist(xg::zeros({2, 3}, {.dtype = xg::Dtype::int64}), x2), xg::TypeError, "cdist",
              "[2, 3]");
  CHECK_ERROR(xg::cdist(x1, t64({1, 2, 3, 4}, {2, 2})), xg::ShapeError, "cdist", "[2, 3]", "[2, 2]");
  CHECK_ERROR(xg::cdist(t64({1, 2, 3}, {3}), x2), xg::ShapeError, "cdist", "[3]");
  CHECK_ERROR(xg::cdist(x1, x2, -1), xg::ValueError, "cdist", "p");
  CHECK_ERROR(xg::cdist(seq(12, {2, 2, 3}), seq(18, {3, 2, 3})), xg::ShapeError, "cdist", "[2]", "[3]");
}

TEST_CASE("cdist above 25 rows: the product path, with near-coincident points summed directly") {
  // 40 and 30 points of size ~10, x2_j = x1_j + ~1e-7: torch.cdist's default product form gives 0
  // for those pairs (its relative error there is 1.0); the direct values
  // (compute_mode='donot_use_mm_for_euclid_dist') are 1.2104151238133816e-07, ... .
  std::vector<double> va, vb;
  for (int i = 0; i < 40; ++i)
    for (int k = 0; k < 3; ++k) va.push_back(std::sin(3 * i + k) * 10);
  for (int j = 0; j < 30; ++j)
    for (int k = 0; k < 3; ++k) vb.push_back(std::sin(3 * j + k) * 10 + 1e-7 * std::cos(j + k));
  const Tensor a = t64(va, {40, 3}), b = t64(vb, {30, 3});
  const Tensor y = xg::cdist(a, b);
  check_close(xg::slice(xg::diagonal(y), 0, 0, 3),
              {1.2104151238133816e-07, 1.2021605179903193e-07, 1.2571846826803965e-07});
  CHECK(std::abs(y.to_vector<double>()[5 * 30 + 7] - 3.547798479672979) <= 1e-14 * 3.547798479672979);
  // Every entry within 1e-13 (relative) of the direct sums, taken here with element-wise ops.
  const Tensor direct = xg::sqrt(xg::sum(xg::square(xg::unsqueeze(a, 1) - xg::unsqueeze(b, 0)), {-1}));
  CHECK(xg_test::max_abs((y - direct) / direct) <= 1e-13);
}

TEST_CASE("normalize matches torch.nn.functional.normalize, the zero row included") {
  const Tensor x = t64({0, 0, 1, -2, 3, 4}, {3, 2}, true), w = t64({1, 2, 3, 4, 5, 6}, {3, 2});
  struct Case {
    double p;
    std::vector<double> value, grad;
  };
  // F.normalize(x, p=p) and the gradient of (y * w).sum(): 1 / eps = 1e12 on the zero row.
  const std::vector<Case> cases = {
      {2,
       {0, 0, 0.4472135954999579, -0.8944271909999159, 0.6, 0.8},
       {1e12, 2e12, 1.7888543819998317, 0.894427190999916, 0.06400000000000006, -0.048000000000000265}},
      {1,
       {0, 0, 0.3333333333333333, -0.6666666666666666, 0.42857142857142855, 0.5714285714285714},
       {1e12, 2e12, 1.5555555555555556, 0.7777777777777777, -0.08163265306122447, 0.061224489795918324}},
      {3,
       {0, 0, 0.4807498567691361, -0.9614997135382722, 0.6669717773118556, 0.8892957030824742},
       {1e12, 2e12, 1.7093328240680394, 0.8546664120340197, 0.2540844865949925, -0.1905633649462446}},
      {kInf, {0, 0, 0.5, -1, 0.75, 1}, {1e12, 2e12, 1.5, 0.75, 1.25, -0.9375}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.p);
    const Tensor y = xg::nn::functional::normalize(x, c.p);
    check_close(y, c.value);
    check_close(grads(y, {x}, w)[0], c.grad, 1e-11);
  }
  // F.normalize(tensor([[1., -1, 0.5]]), p=inf).sum().backward(): the tie shares
  const Tensor tie = t64({1, -1, 0.5}, {1, 3}, true);
  check_close(grads(xg::normalize(tie, kInf), {tie})[0], {0.75, 1.25, 1.0});
  // F.normalize(tensor([[1., 2], [3, 4]]), dim=0)
  check_close(xg::normalize(t64({1, 2, 3, 4}, {2, 2}), 2, 0),
              {0.31622776601683794, 0.4472135954999579, 0.9486832980505138, 0.8944271909999159});
  CHECK_ERROR(xg::normalize(t64({1, 2}, {2})), xg::IndexError, "normalize");
  // F.normalize(tensor([[1., 2], [0, 3]]), p=-1.): the zero makes the second norm 0, then eps
  check_close(xg::normalize(t64({1, 2, 0, 3}, {2, 2}), -1), {1.5, 3.0, 0.0, 3e12});
  CHECK_ERROR(xg::normalize(x, std::nan("")), xg::ValueError, "normalize", "p");
  CHECK_ERROR(xg::normalize(xg::zeros({2, 2}, {.dtype = xg::Dtype::int64})), xg::TypeError, "normalize",
              "[2, 2]");
}
