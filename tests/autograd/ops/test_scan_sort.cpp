// Scans, rolls, repetitions and sorting (autograd/ops/scan_sort.cpp): values and gradients against
// PyTorch 1.13 (the torch call is named above each expectation), cumprod's first and second
// derivatives where x has zeros, logcumsumexp on large and -inf entries, NaN and ties in sorting,
// and errors naming the op, the shape and the dim. (Every sample is also gradchecked and
// gradgradchecked by the registry sweep.)
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "xgrad/autograd.hpp"

using xg::Tensor;
using xg_test::check_values;
using xg_test::i64;

namespace {
const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

Tensor f64(const std::vector<double>& v, const xg::Shape& s, bool requires_grad = false) {
  return xg::tensor(v, s, {.dtype = xg::Dtype::float64, .requires_grad = requires_grad});
}
Tensor f64(const std::vector<double>& v, bool requires_grad = false) {
  return f64(v, {static_cast<int64_t>(v.size())}, requires_grad);
}
// arange(6.).reshape(2, 3) - 2
Tensor m23() {
  return f64({-2, -1, 0, 1, 2, 3}, {2, 3});
}
// The gradient of sum(y * g) with respect to x.
Tensor grad_of(const Tensor& y, const Tensor& x, const Tensor& g) {
  return xg::grad({y}, {x}, {g})[0];
}
// Equal as vectors, NaN equal to NaN.
void check_with_nan(const Tensor& t, const std::vector<double>& expected, double eps = 1e-12) {
  const std::vector<double> v = t.to(xg::Dtype::float64).to_vector<double>();
  REQUIRE(v.size() == expected.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    CAPTURE(i);
    if (std::isnan(expected[i]))
      CHECK(std::isnan(v[i]));
    else if (std::isinf(expected[i]))
      CHECK(v[i] == expected[i]);
    else
      CHECK(std::abs(v[i] - expected[i]) <= eps * std::max(1.0, std::abs(expected[i])));
  }
}
std::vector<int64_t> ints(const Tensor& t) {
  REQUIRE(t.dtype() == xg::Dtype::int64);
  return t.to_vector<int64_t>();
}
}  // namespace

TEST_CASE("cumsum runs along the dim as torch.cumsum, and its gradient is the reversed cumsum") {
  // torch.cumsum(arange(6.).reshape(2, 3) - 2, 1) and (.., 0)
  check_values(xg::cumsum(m23(), 1), {-2, -3, -3, 1, 3, 6});
  check_values(xg::cumsum(m23(), -2), {-2, -1, 0, -1, 1, 3});
  // torch.cumsum(tensor([[1, 2, 3], [4, 5, 6]]), -1) stays int64
  const Tensor c = xg::cumsum(i64({1, 2, 3, 4, 5, 6}, {2, 3}), -1);
  CHECK(ints(c) == std::vector<int64_t>{1, 3, 6, 4, 9, 15});
  // d/dx_i sum_k g_k cumsum(x)_k = sum_{k >= i} g_k
  Tensor x = f64({1, 2, 3, 4}, true);
  check_values(grad_of(xg::cumsum(x, 0), x, f64({1, 10, 100, 1000})), {1111, 1110, 1100, 1000});
  CHECK(xg::cumsum(xg::zeros({0, 3}), 1).shape() == xg::Shape{0, 3});
  CHECK_ERROR(xg::cumsum(m23(), 2), xg::IndexError, "cumsum", "dim 2", "[2, 3]");
  CHECK_ERROR(xg::cumsum(m23(), -3), xg::IndexError, "cumsum", "dim -3", "[2, 3]");
}

TEST_CASE("cumprod's gradient is exact where x has zeros, to second order, as torch.cumprod's") {
  const Tensor g = f64({0.5, -1.0, 2.0, 1.5, -0.25, 0.75});
  const Tensor w = f64({1.0, -2.0, 0.5, 0.25, 1.5, -1.0});
  struct Case {
    const char* name;
    std::vector<double> x, y, grad, gradgrad;
  };
  // y = torch.cumprod(x, 0); gx = grad(y, x, g, create_graph=True); grad((gx * w).sum(), x)
  const std::vector<Case> cases = {
      {"no zero",
       {1.5, -0.8, 0.4, 1.2, -0.7, 2.0},
       {1.5, -1.2, -0.48, -0.576, 0.4032, 0.8064},
       {0.42, 0.15, -3.3, -0.3, -0.72, 0.3024},
       {-2.2716, 3.98425, -14.0935, -2.477, -2.898, 0.7506}},
      {"one zero",
       {1.5, -0.8, 0.0, 1.2, -0.7, 2.0},
       {1.5, -1.2, 0, 0, 0, 0},
       {1.3, -1.5, -3.3, 0, 0, 0},
       {0.9, 1.0625, -14.0935, -0.375, -0.9, 0.378}},
      {"zeros in a row",
       {0.9, 0.0, 0.0, 1.3, 0.0, -1.1},
       {0.9, 0, 0, 0, 0, 0},
       {0.5, -0.9, 0, 0, 0, 0},
       {2.0, 0.7775, -7.11, 0, 0, 0}},
      {"leading zero",
       {0.0, 2.0, -1.5, 0.5, 3.0, 1.25},
       {0, 0, 0, 0, 0, 0},
       {-12.84375, 0, 0, 0, 0, 0},
       {16.28125, -6.671875, 7.5625, -10.6875, -1.03125, -3.375}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Tensor x = f64(c.x, true);
    const Tensor y = xg::cumprod(x, 0);
    check_values(y, c.y, 1e-15);
    // First order without a graph (the loop) and with one (the differentiable formula).
    check_values(grad_of(xg::cumprod(x, 0), x, g), c.grad, 1e-13);
    const Tensor gx = xg::grad({y}, {x}, {g}, true, true)[0];
    check_values(gx, c.grad, 1e-13);
    check_values(xg::grad({xg::sum(gx * w)}, {x})[0], c.gradgrad, 1e-13);
    // And every order checked numerically.
    auto f = [](const std::vector<Tensor>& in) { return xg::cumprod(in[0], 0); };
    CHECK(xg::gradcheck(f, {x}).passed);
    CHECK(xg::gradgradcheck(f, {x}).passed);
  }
  // Zeros in some lanes of a matrix, along dim 0:
  // torch.cumprod(x, 0) for x = [[0, 2, 0], [1.5, 0, -2], [0.5, 3, 0]], upstream [[1, 2, 3], ...]
  Tensor x = f64({0.0, 2.0, 0.0, 1.5, 0.0, -2.0, 0.5, 3.0, 0.0}, {3, 3}, true);
  const Tensor up = f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3});
  check_values(grad_of(xg::cumprod(x, 0), x, up), {12.25, 2, -9, 0, 58, 0, 0, 0, 0});
  check_values(xg::grad({xg::cumprod(x, 0)}, {x}, {up}, true, true)[0], {12.25, 2, -9, 0, 58, 0, 0, 0, 0});
  // A NaN upstream times a zero product is NaN, for the loop and the formula alike (PyTorch 1.13
  // returns [1, nan, 0] for torch.cumprod(tensor([0.1, 0, 0.3]), 0) and upstream [1, nan, 1]).
  Tensor xn = f64({0.1, 0.0, 0.3}, true);
  check_with_nan(grad_of(xg::cumprod(xn, 0), xn, f64({1, kNaN, 1})), {kNaN, kNaN, 0});
  check_with_nan(xg::grad({xg::cumprod(xn, 0)}, {xn}, {f64({1, kNaN, 1})}, true, true)[0], {kNaN, kNaN, 0});
  CHECK(ints(xg::cumprod(i64({1, 2, 3}), 0)) == std::vector<int64_t>{1, 2, 6});
  CHECK_ERROR(xg::cumprod(m23(), 5), xg::IndexError, "cumprod", "dim 5", "[2, 3]");
}

TEST_CASE("logcumsumexp is stable for large values and skips -inf, as torch.logcumsumexp") {
  // torch.logcumsumexp(x, 0) and its gradient for upstream [1, -2, 0.5, 3]
  Tensor big = f64({300.0, 301.5, -200.0, 302.0}, true);
  const Tensor y = xg::logcumsumexp(big, 0);
  check_values(y, {300.0, 301.70141327798274, 301.70141327798274, 302.554956919642});
  check_values(grad_of(y, big, f64({1.0, -2.0, 0.5, 3.0})),
               {0.9594484517361901, -0.18173943063929654, 2.310496561779099e-218, 1.7222909789030718});
  // -inf entries add nothing; their gradient is 0.
  Tensor x = f64({0.3, -kInf, 1.2, -kInf, -0.5}, true);
  const Tensor yi = xg::logcumsumexp(x, 0);
  check_values(yi, {0.3, 0.3, 1.5411538747320879, 1.5411538747320879, 1.6632642101630863});
  check_values(grad_of(yi, x, f64({1.0, -2.0, 0.5, 3.0, -1.0})),
               {-0.24414760730690688, 0.0, 1.859096896643357, 0.0, -0.11494928933645022});
  // A leading -inf: the running sum starts at 0, and the gradient there is NaN, as PyTorch's.
  Tensor lead = f64({-kInf, 0.0, 1.0}, true);
  const Tensor yl = xg::logcumsumexp(lead, 0);
  check_with_nan(yl, {-kInf, 0.0, 1.3132616875182228});
  check_with_nan(grad_of(yl, lead, f64({1.0, 2.0, 3.0})), {kNaN, 2.8068242641099856, 2.193175735890015});
  // A NaN upstream gradient reaches every input it depends on. (PyTorch 1.13 drops it here and
  // returns [1.3006096053557272, 0.3322249935333472, 0.3671654011109255]; only the last is right.)
  Tensor x3 = f64({0.1, 0.2, 0.3}, true);
  check_with_nan(grad_of(xg::logcumsumexp(x3, 0), x3, f64({1, kNaN, 1})), {kNaN, kNaN, 0.3671654011109255});
  // NaN propagates: torch.logcumsumexp(tensor([1, nan, 2]), 0)
  check_with_nan(xg::logcumsumexp(f64({1, kNaN, 2}), 0), {1, kNaN, kNaN});
  // Along either dim of a matrix.
  const Tensor m = f64({0.1, -0.4, 2.0, 1.0, 0.5, -3.0}, {2, 3});
  check_values(xg::logcumsumexp(m, -1),
               {0.1, 0.5740769841801067, 2.2153424597804223, 1.0, 1.4740769841801067, 1.485413225832131});
  check_values(xg::logcumsumexp(m, 0),
               {0.1, -0.4, 2.0, 1.341153874732088, 0.8411538747320878, 2.0067153484891183});
  CHECK_ERROR(xg::logcumsumexp(i64({1, 2}), 0), xg::TypeError, "logcumsumexp", "int64");
  CHECK_ERROR(xg::logcumsumexp(m, 2), xg::IndexError, "logcumsumexp", "dim 2", "[2, 3]");
}

TEST_CASE("roll rotates along dims, or the flattened tensor, as torch.roll") {
  const Tensor a = xg::reshape(xg::arange(12, {.dtype = xg::Dtype::float64}), {3, 4});
  // torch.roll(arange(12).reshape(3, 4), 5)
  check_values(xg::roll(a, {5}), {7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6});
  CHECK(xg::roll(a, {5}).shape() == xg::Shape{3, 4});
  // torch.roll(a, (1, -3), (0, -1)) and torch.roll(a, -1, 1)
  check_values(xg::roll(a, {1, -3}, {0, -1}), {11, 8, 9, 10, 3, 0, 1, 2, 7, 4, 5, 6});
  check_values(xg::roll(a, {-1}, {1}), {1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8});
  // Whole turns: a copy with the same values.
  const Tensor same = xg::roll(a, {3, 8}, {0, 1});
  check_values(same, a.to_vector<double>());
  CHECK(same.get() != a.get());
  CHECK(xg::roll(xg::zeros({0, 3}), {1}, {0}).shape() == xg::Shape{0, 3});
  // The gradient rolls back.
  Tensor x = f64({1, 2, 3}, true);
  check_values(grad_of(xg::roll(x, {1}, {0}), x, f64({10, 20, 30})), {20, 30, 10});
  CHECK_ERROR(xg::roll(a, {1, 2}, {0}), xg::ShapeError, "roll", "2 shifts", "1 dims", "[3, 4]");
  CHECK_ERROR(xg::roll(a, {1, 2}), xg::ShapeError, "roll", "2 shifts", "[3, 4]");
  CHECK_ERROR(xg::roll(a, {1}, {2}), xg::IndexError, "roll", "dim 2", "[3, 4]");
  CHECK_ERROR(xg::roll(f64({5}, xg::Shape{}), {1}, {0}), xg::IndexError, "roll", "dim 0", "[]");
}

TEST_CASE("repeat tiles as torch.Tensor.repeat, with extra leading repeats adding dims") {
  const Tensor a = xg::reshape(xg::arange(6, {.dtype = xg::Dtype::float64}), {2, 3});
  // torch.arange(3).repeat(2, 2): shape [2, 6]
  const Tensor r = xg::repeat(xg::arange(3, {.dtype = xg::Dtype::float64}), {2, 2});
  CHECK(r.shape() == xg::Shape{2, 6});
  check_values(r, {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2});
  // a.repeat(2, 1) and a.repeat(1, 2)
  check_values(xg::repeat(a, {2, 1}), {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5});
  check_values(xg::repeat(a, {1, 2}), {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5});
  CHECK(xg::repeat(xg::arange(3), {2, 0, 2}).shape() == xg::Shape{2, 0, 6});
  CHECK(xg::repeat(f64({5}, xg::Shape{}), {2, 3}).to_vector<double>() == std::vector<double>(6, 5.0));
  // A copy even when nothing repeats, as PyTorch's.
  CHECK(xg::repeat(a, {1, 1}).get() != a.get());
  // x.repeat(2, 1, 2) for x [[1, 2, 3], [4, 5, 6]], upstream arange(24.).reshape(2, 2, 6)
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3}, true);
  const Tensor up = xg::reshape(xg::arange(24, {.dtype = xg::Dtype::float64}), {2, 2, 6});
  check_values(grad_of(xg::repeat(x, {2, 1, 2}), x, up), {30, 34, 38, 54, 58, 62});
  CHECK_ERROR(xg::repeat(a, {2}), xg::ShapeError, "repeat", "[2]", "[2, 3]");
  CHECK_ERROR(xg::repeat(a, {2, -1}), xg::ValueError, "repeat", "-1", "dim 1", "[2, 3]");
}

TEST_CASE("repeat_interleave repeats each element, by one count or a tensor of counts") {
  const Tensor a = xg::reshape(xg::arange(6, {.dtype = xg::Dtype::float64}), {2, 3});
  // torch.repeat_interleave(a, 2): flattened
  check_values(xg::repeat_interleave(a, 2), {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5});
  CHECK(xg::repeat_interleave(a, 2).shape() == xg::Shape{12});
  // torch.repeat_interleave(a, 2, 1): shape [2, 6]
  const Tensor r1 = xg::repeat_interleave(a, 2, 1);
  CHECK(r1.shape() == xg::Shape{2, 6});
  check_values(r1, {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5});
  // torch.repeat_interleave(a, tensor([0, 3]), 0)
  check_values(xg::repeat_interleave(a, i64({0, 3}), 0), {3, 4, 5, 3, 4, 5, 3, 4, 5});
  // torch.repeat_interleave(tensor(5.), 3)
  check_values(xg::repeat_interleave(f64({5}, xg::Shape{}), 3), {5, 5, 5});
  // torch.repeat_interleave(x, tensor([2, 0, 1]), 1) and its gradient for arange(6.).reshape(2, 3)
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3}, true);
  const Tensor y = xg::repeat_interleave(x, i64({2, 0, 1}), 1);
  check_values(y, {1, 1, 3, 4, 4, 6});
  check_values(grad_of(y, x, xg::reshape(xg::arange(6, {.dtype = xg::Dtype::float64}), {2, 3})),
               {1, 0, 2, 7, 0, 5});
  CHECK_ERROR(xg::repeat_interleave(a, -1), xg::ValueError, "repeat_interleave", "-1", "[2, 3]");
  CHECK_ERROR(xg::repeat_interleave(a, i64({1, -2, 1}), 1), xg::ValueError, "repeat_interleave", "-2",
              "[2, 3]");
  CHECK_ERROR(xg::repeat_interleave(a, i64({1, 2}), 1), xg::ShapeError, "repeat_interleave", "[2]", "dim 1",
              "[2, 3]");
  CHECK_ERROR(xg::repeat_interleave(a, f64({1, 2, 1}), 1), xg::TypeError, "repeat_interleave", "int64");
  CHECK_ERROR(xg::repeat_interleave(a, 2, 2), xg::IndexError, "repeat_interleave", "dim 2", "[2, 3]");
  CHECK_ERROR(xg::repeat_interleave(f64({5}, xg::Shape{}), 2, 0), xg::IndexError, "repeat_interleave", "[]");
}

TEST_CASE("sort puts NaN last, keeps ties in order, and scatters the gradient back") {
  const Tensor v = f64({3, kNaN, 1, kNaN, -kInf, 2, 1});
  // torch.sort(v)
  auto [sv, si] = xg::sort(v);
  check_with_nan(sv, {-kInf, 1, 1, 2, 3, kNaN, kNaN});
  CHECK(ints(si) == std::vector<int64_t>{4, 2, 6, 5, 0, 1, 3});
  // torch.sort(v, descending=True, stable=True)
  auto [dv, di] = xg::sort(v, -1, true, true);
  check_with_nan(dv, {kNaN, kNaN, 3, 2, 1, 1, -kInf});
  CHECK(ints(di) == std::vector<int64_t>{1, 3, 0, 5, 2, 6, 4});
  // torch.sort(m, dim=0, descending=True, stable=True) and its gradient for arange(12.).reshape(3, 4)
  Tensor m = f64({0.5, -1.0, 2.0, 0.5, 3.0, 1.0, -2.0, 0.0, 1.0, 1.0, -1.0, 4.0}, {3, 4}, true);
  auto [mv, mi] = xg::sort(m, 0, true);
  check_values(mv, {3.0, 1.0, 2.0, 4.0, 1.0, 1.0, -1.0, 0.5, 0.5, -1.0, -2.0, 0.0});
  CHECK(ints(mi) == std::vector<int64_t>{1, 1, 0, 2, 2, 2, 2, 0, 0, 0, 1, 1});
  const Tensor up = xg::reshape(xg::arange(12, {.dtype = xg::Dtype::float64}), {3, 4});
  check_values(grad_of(mv, m, up), {8, 9, 2, 7, 0, 1, 10, 11, 4, 5, 6, 3});
  // Second order (on distinct values: finite differences must not cross a tie).
  auto f = [](const std::vector<Tensor>& in) { return xg::sort(in[0], 1).first; };
  const Tensor distinct = f64({0.5, -1.0, 2.0, 0.7, 3.0, 1.0, -2.0, 0.0, 1.1, 1.3, -1.0, 4.0}, {3, 4}, true);
  CHECK(xg::gradcheck(f, {distinct}).passed);
  CHECK(xg::gradgradcheck(f, {distinct}).passed);
  // torch.sort(tensor(3.)): (tensor(3.), tensor(0))
  auto [s0, i0] = xg::sort(f64({3}, xg::Shape{}));
  CHECK(s0.shape() == xg::Shape{});
  CHECK(s0.item() == 3.0);
  CHECK(ints(i0) == std::vector<int64_t>{0});
  // int64 values sort too: torch.sort(tensor([[1, 3, 2]]), 1)
  auto [iv, ii] = xg::sort(i64({1, 3, 2}, {1, 3}), 1);
  CHECK(ints(iv) == std::vector<int64_t>{1, 2, 3});
  CHECK(ints(ii) == std::vector<int64_t>{0, 2, 1});
  CHECK_ERROR(xg::sort(m, 2), xg::IndexError, "sort", "dim 2", "[3, 4]");
}

TEST_CASE("argsort gives sort's indices, as torch.argsort") {
  const Tensor m = f64({0.5, -1.0, 2.0, 0.5, 3.0, 1.0, -2.0, 0.0, 1.0, 1.0, -1.0, 4.0}, {3, 4});
  // torch.argsort(m, dim=1) and torch.argsort(m, dim=0, descending=True)
  CHECK(ints(xg::argsort(m, 1)) == std::vector<int64_t>{1, 0, 3, 2, 2, 3, 1, 0, 2, 0, 1, 3});
  CHECK(ints(xg::argsort(m, 0, true)) == std::vector<int64_t>{1, 1, 0, 2, 2, 2, 2, 0, 0, 0, 1, 1});
  CHECK_FALSE(xg::argsort(f64({2, 1}, true)).requires_grad());
  CHECK_ERROR(xg::argsort(m, -3), xg::IndexError, "argsort", "dim -3", "[3, 4]");
}

TEST_CASE("topk picks the k largest or smallest, NaN counting as largest") {
  const Tensor v = f64({3, kNaN, 1, kNaN, -kInf, 2, 1});
  // torch.topk(v, 3) and torch.topk(v, 3, largest=False)
  auto [tv, ti] = xg::topk(v, 3);
  check_with_nan(tv, {kNaN, kNaN, 3});
  CHECK(ints(ti) == std::vector<int64_t>{1, 3, 0});
  auto [sv, si] = xg::topk(v, 3, -1, false);
  check_with_nan(sv, {-kInf, 1, 1});
  CHECK(ints(si) == std::vector<int64_t>{4, 2, 6});
  // torch.topk(m, 2, dim=1): values [[2, 0.5], [3, 1], [4, 1]], indices [[2, 3], [0, 1], [3, 1]].
  // Rows 0 and 2 have a tie for second place: xgrad takes the lower index (documented), PyTorch
  // here the higher one, so the indices differ there: [[2, 0], [0, 1], [3, 0]].
  Tensor m = f64({0.5, -1.0, 2.0, 0.5, 3.0, 1.0, -2.0, 0.0, 1.0, 1.0, -1.0, 4.0}, {3, 4}, true);
  auto [mv, mi] = xg::topk(m, 2, 1);
  check_values(mv, {2.0, 0.5, 3.0, 1.0, 4.0, 1.0});
  CHECK(ints(mi) == std::vector<int64_t>{2, 0, 0, 1, 3, 0});
  // The gradient goes where the indices point (PyTorch's lands on its indices instead).
  check_values(grad_of(mv, m, f64({1, 2, 3, 4, 5, 6}, {3, 2})), {2, 0, 1, 0, 3, 4, 0, 0, 6, 0, 0, 5});
  // Same values whether sorted or not; k = 0 gives an empty result.
  CHECK(xg::topk(m, 3, 0, true, false).first.to_vector<double>() ==
        xg::topk(m, 3, 0).first.to_vector<double>());
  CHECK(xg::topk(xg::zeros({2, 0}), 0).first.shape() == xg::Shape{2, 0});
  CHECK_ERROR(xg::topk(xg::zeros({2, 3}), 4), xg::IndexError, "topk", "k 4", "dim -1", "[2, 3]");
  CHECK_ERROR(xg::topk(xg::zeros({2, 3}), -1, 0), xg::IndexError, "topk", "k -1", "dim 0", "[2, 3]");
  CHECK_ERROR(xg::topk(xg::zeros({2, 3}), 1, 2), xg::IndexError, "topk", "dim 2", "[2, 3]");
}

TEST_CASE("cumprod and logcumsumexp of a 0-d NaN have gradient 1, as PyTorch") {
  // torch.cumprod(tensor(nan), 0) and torch.logcumsumexp(tensor(nan), 0) backward: 1 (the
  // identity); their general formulas (y / x, exp(x - y)) gave NaN
  xg::Tensor s = xg::scalar_tensor(NAN, {.dtype = xg::Dtype::float64}).requires_grad_();
  CHECK(xg::grad({xg::cumprod(s, 0)}, {s})[0].item() == 1.0);
  CHECK(xg::grad({xg::logcumsumexp(s, 0)}, {s})[0].item() == 1.0);
}
