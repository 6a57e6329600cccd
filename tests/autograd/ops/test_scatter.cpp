// Masks and index writes (autograd/ops/scatter.cpp): masked_fill, scatter, scatter_reduce,
// index_put, slice_scatter, select_scatter and the in-place members, with values and gradients
// from PyTorch 1.13 (the torch call is named above each check); the deterministic choices where
// PyTorch leaves duplicates undefined; the version counter; errors naming the op, index and shape.
// (Every registered sample is also gradchecked and gradgradchecked by the registry sweep.)
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "xgrad/autograd.hpp"

using xg::Dtype;
using xg::Tensor;
using xg_test::check_values;

namespace {
Tensor f64(const std::vector<double>& v, const xg::Shape& s, bool rg = false) {
  return xg::tensor(v, s, {.dtype = Dtype::float64, .requires_grad = rg});
}
Tensor i64(const std::vector<double>& v, const xg::Shape& s) {
  return xg::tensor(v, s, {.dtype = Dtype::int64});
}
Tensor seq(const xg::Shape& s, bool rg = false, double from = 0) {
  Tensor t =
      xg::reshape(xg::arange(from, from + static_cast<double>(s.numel()), 1, {.dtype = Dtype::float64}), s);
  return rg ? t.detach().requires_grad_() : t;
}
}  // namespace
#define CHECK_PASSED(report)            \
  do {                                  \
    const auto r_ = (report);           \
    CHECK_MESSAGE(r_.passed, r_.str()); \
  } while (0)

TEST_CASE("masked_fill: a 0/1 float mask from a comparison, broadcast, with a number or a 0-d tensor") {
  Tensor x = f64({0.5, -1.0, 2.0, -0.25, 3.0, -4.0}, {2, 3}, true);
  Tensor g = seq({2, 3}, false, 1);
  // torch.masked_fill(x, torch.tensor([1., 0., 1.]) != 0, 7.5), backward with g = 1..6
  Tensor y = xg::masked_fill(x, f64({1, 0, 1}, {3}), 7.5);
  check_values(y, {7.5, -1.0, 7.5, 7.5, 3.0, 7.5});
  y.backward(g);
  check_values(x.grad(), {0, 2, 0, 0, 5, 0});
  // torch.masked_fill(x, x > 0, v) with v = tensor(-2.) requiring grad
  x.zero_grad();
  Tensor v = xg::scalar_tensor(-2.0, {.dtype = Dtype::float64, .requires_grad = true});
  y = xg::masked_fill(x, xg::gt(x, 0.0), v);
  check_values(y, {-2.0, -1.0, -2.0, -0.25, -2.0, -4.0});
  y.backward(g);
  check_values(x.grad(), {0, 2, 0, 4, 0, 6});
  CHECK(v.grad().item() == 9.0);
  // where takes the same masks: torch.where(x > 0, a [3], b [2, 1])
  check_values(xg::where(xg::gt(x, 0.0), f64({1, 2, 3}, {3}), f64({10, 20}, {2, 1})), {1, 10, 3, 20, 2, 20});
  // Any nonzero is true, NaN included; an int64 mask works as well.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  check_values(xg::masked_fill(f64({1, 2, 3}, {3}), f64({nan, 0, -3}, {3}), 0.0), {0, 2, 0});
  check_values(xg::masked_fill(f64({1, 2, 3}, {3}), i64({0, 1, 0}, {3}), -1.0), {1, -1, 3});
  // torch.masked_fill(x [3], mask [2, 3], 0.5): x is broadcast with the mask
  Tensor x3 = f64({1, 2, 3}, {3}, true);
  y = xg::masked_fill(x3, f64({1, 0, 0, 0, 1, 1}, {2, 3}), 0.5);
  CHECK(y.shape() == xg::Shape{2, 3});
  check_values(y, {0.5, 2, 3, 1, 0.5, 0.5});
  y.backward(seq({2, 3}, false, 1));
  check_values(x3.grad(), {4, 2, 3});
  // A NaN in x stays where the mask is false and is replaced where it is true.
  check_values(xg::masked_fill(f64({nan, 1}, {2}), f64({1, 0}, {2}), 5.0), {5, 1});
}

TEST_CASE("masked_fill errors: value not 0-d, mask not broadcastable") {
  Tensor x = seq({2, 3});
  CHECK_ERROR(xg::masked_fill(x, f64({1, 0}, {2}), 1.0), xg::ShapeError, "masked_fill", "[2, 3]", "[2]");
  CHECK_ERROR(xg::masked_fill(x, f64({1, 0, 1}, {3}), f64({1, 2}, {2})), xg::ShapeError, "masked_fill", "0-d",
              "[2]");
  CHECK_ERROR(x.masked_fill_(f64({1, 0, 1, 0, 1, 1}, {2, 1, 3}), 0.0), xg::ShapeError, "masked_fill_",
              "[2, 1, 3]", "[2, 3]");
}

TEST_CASE("scatter writes src or a value along dim; gradients zero at written positions / gathered") {
  // torch.scatter(arange(12.).reshape(3, 4), 1, idx, src), backward with g = 1..12
  Tensor x = seq({3, 4}, true);
  Tensor idx = i64({3, 0, 1, 1, 2, 0}, {3, 2});
  Tensor src = f64({10, 11, 12, 13, 14, 15}, {3, 2}, true);
  Tensor y = xg::scatter(x, 1, idx, src);
  check_values(y, {11, 1, 2, 10, 4, 13, 6, 7, 15, 9, 14, 11});
  y.backward(seq({3, 4}, false, 1));
  check_values(x.grad(), {0, 2, 3, 0, 5, 0, 7, 8, 0, 10, 0, 12});
  // PyTorch gives src [1][0] the gradient 6 too; xgrad's scatter keeps the last write (13), so
  // only that element's gradient is nonzero.
  check_values(src.grad(), {4, 1, 0, 6, 11, 9});
  // torch.scatter(x, 0, tensor([[2, 0, 1, 2]]), -1.0)
  check_values(xg::scatter(seq({3, 4}), 0, i64({2, 0, 1, 2}, {1, 4}), -1.0),
               {0, -1, 2, 3, 4, 5, -1, 7, -1, 9, 10, -1});
  // A larger src: only its leading index-shaped block is read (torch.scatter(x, 1, idx, src [3, 3]));
  // its other elements get a zero gradient.
  Tensor big = seq({3, 3}, true, 100);
  y = xg::scatter(seq({3, 4}), 1, i64({3, 0, 1, 2, 2, 0}, {3, 2}), big);
  check_values(y, {101, 1, 2, 100, 4, 103, 104, 7, 107, 9, 106, 11});
  y.backward(seq({3, 4}, false, 1));
  check_values(big.grad(), {4, 1, 0, 6, 7, 0, 11, 9, 0});
}

TEST_CASE("scatter errors: index out of range, shapes, dtypes") {
  Tensor x = seq({2, 3});
  CHECK_ERROR(xg::scatter(x, 1, i64({0, 3, 1}, {1, 3}), seq({2, 3})), xg::IndexError, "scatter", "index 3",
              "axis 1", "[2, 3]");
  CHECK_ERROR(xg::scatter(x, 1, i64({0, -1, 1}, {1, 3}), 1.0), xg::IndexError, "scatter", "index -1",
              "axis 1");
  CHECK_ERROR(xg::scatter(x, 1, i64({0, 1, 1, 0}, {1, 4}), seq({2, 3})), xg::ShapeError, "scatter", "[1, 4]",
              "[2, 3]");
  CHECK_ERROR(xg::scatter(x, 1, i64({0, 1, 1, 0, 1, 1}, {2, 3}), seq({2, 2})), xg::ShapeError, "scatter",
              "[2, 3]", "[2, 2]");
  CHECK_ERROR(xg::scatter(x, 1, i64({0, 1}, {2}), seq({2})), xg::ShapeError, "scatter", "rank");
  CHECK_ERROR(xg::scatter(x, 1, f64({0, 1}, {1, 2}), 1.0), xg::TypeError, "scatter", "int64");
  CHECK_ERROR(xg::scatter(x, 2, i64({0}, {1, 1}), 1.0), xg::IndexError, "scatter");
  // The in-place form checks every index before writing: x is unchanged after the error.
  Tensor z = seq({2, 3});
  CHECK_ERROR(z.scatter_(1, i64({0, 1, 7}, {1, 3}), 9.0), xg::IndexError, "scatter_", "index 7", "axis 1");
  check_values(z, {0, 1, 2, 3, 4, 5});
  CHECK(z.version() == 0);
}

TEST_CASE("scatter_reduce: every reduce, include_self or not, values and gradients as PyTorch 1.13") {
  // x, src and index as below; torch.scatter_reduce(x, 1, idx, src, reduce, include_self=...),
  // backward with g = [[1, 2, 3], [4, 5, 6]]. The data has zeros (prod) and ties (amax, amin).
  struct Case {
    const char* reduce;
    bool self;
    std::vector<double> y, gx, gsrc;
  };
  const double t3 = 1.0 / 3, f3 = 5.0 / 3;
  const std::vector<Case> cases = {
      {"sum", true, {4, 4, 3.5, 3, 15, 6}, {1, 2, 3, 4, 5, 6}, {1, 2, 1, 3, 5, 5, 5, 4}},
      {"sum", false, {2, 4, 0.5, 2, 10, 6}, {0, 0, 0, 0, 0, 6}, {1, 2, 1, 3, 5, 5, 5, 4}},
      {"prod", true, {0, 0, 1.5, 2, 0, 6}, {0, 8, 1.5, 8, 0, 6}, {4, 0, 0, 9, 0, 0, 625, 4}},
      {"prod", false, {0, 4, 0.5, 2, 0, 6}, {0, 0, 0, 0, 0, 6}, {2, 2, 0, 3, 0, 0, 125, 4}},
      {"mean",
       true,
       {4.0 / 3, 2, 1.75, 1.5, 3.75, 6},
       {t3, 1, 1.5, 2, 1.25, 6},
       {t3, 1, t3, 1.5, 1.25, 1.25, 1.25, 2}},
      {"mean", false, {1, 4, 0.5, 2, 10.0 / 3, 6}, {0, 0, 0, 0, 0, 6}, {0.5, 2, 0.5, 3, f3, f3, f3, 4}},
      {"amax", true, {2, 4, 3, 2, 5, 6}, {0.5, 0, 3, 0, f3, 6}, {0, 2, 0.5, 0, f3, f3, 0, 4}},
      {"amax", false, {2, 4, 0.5, 2, 5, 6}, {0, 0, 0, 0, 0, 6}, {0, 2, 0.5, 3, 2.5, 2.5, 0, 4}},
      {"amin", true, {0, 0, 0.5, 1, 0, 6}, {0, 2, 0, 4, 0, 6}, {1, 0, 0, 3, 0, 0, 5, 0}},
      {"amin", false, {0, 4, 0.5, 2, 0, 6}, {0, 0, 0, 0, 0, 6}, {1, 2, 0, 3, 0, 0, 5, 4}},
  };
  const Tensor idx = i64({0, 1, 0, 2, 1, 1, 1, 0}, {2, 4});
  for (const Case& c : cases) {
    CAPTURE(c.reduce);
    CAPTURE(c.self);
    Tensor x = f64({2, 0, 3, 1, 5, 6}, {2, 3}, true);
    Tensor src = f64({0, 4, 2, 0.5, 5, 5, 0, 2}, {2, 4}, true);
    Tensor y = xg::scatter_reduce(x, 1, idx, src, c.reduce, c.self);
    check_values(y, c.y);
    y.backward(f64({1, 2, 3, 4, 5, 6}, {2, 3}));
    if (std::string(c.reduce) == "amax" && !c.self) {
      // PyTorch counts x's own value among the ties where it equals the result although
      // include_self is false (x [0][0] = 2 at position [0][0], x [1][1] = 5 at [1][1]) and splits
      // the gradient with it (0.5, and 5/3 three ways); xgrad shares it among the sources only.
      check_values(src.grad(), {0, 2, 1, 3, 2.5, 2.5, 0, 4});
    } else {
      check_values(src.grad(), c.gsrc);
    }
    check_values(x.grad(), c.gx);
  }
}

TEST_CASE("scatter_reduce: NaN propagates through amax and amin, int64 mean floors") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = f64({1, nan, 3, 4, 5, 6}, {2, 3});
  Tensor src = f64({3, 1, 7, 2, nan, 0.5}, {2, 3});
  Tensor idx = i64({0, 0, 2, 1, 1, 1}, {2, 3});
  // torch.scatter_reduce(x, 1, idx, src, 'amax') -> [[3, nan, 7], [4, nan, 6]]
  Tensor y = xg::scatter_reduce(x, 1, idx, src, "amax");
  std::vector<double> v = y.to_vector<double>();
  CHECK(v[0] == 3);
  CHECK(std::isnan(v[1]));
  CHECK(v[2] == 7);
  CHECK(v[3] == 4);
  CHECK(std::isnan(v[4]));
  // torch.scatter_reduce(x, 1, idx, src, 'amin', include_self=False) -> [[1, nan, 7], [4, nan, 6]]
  v = xg::scatter_reduce(x, 1, idx, src, "amin", false).to_vector<double>();
  CHECK(v[0] == 1);
  CHECK(std::isnan(v[1]));
  CHECK(v[2] == 7);
  CHECK(std::isnan(v[4]));
  // int64: torch.scatter_reduce(xi, 1, idx, si, 'mean') floors as PyTorch's integer mean
  Tensor xi = i64({1, 2, 3, 4, 5, 6}, {2, 3}), si = i64({3, 1, 8, 2, 5, 1}, {2, 3});
  CHECK(xg::scatter_reduce(xi, 1, idx, si, "mean").to_vector<int64_t>() ==
        std::vector<int64_t>{1, 2, 5, 4, 3, 6});
  CHECK(xg::scatter_reduce(xi, 1, idx, si, "mean", false).to_vector<int64_t>() ==
        std::vector<int64_t>{2, 2, 8, 4, 2, 6});
}

TEST_CASE("scatter_reduce errors: bad reduce name, shapes, index range, prod's second derivative") {
  Tensor x = seq({2, 3});
  CHECK_ERROR(xg::scatter_reduce(x, 1, i64({0}, {1, 1}), seq({1, 1}), "max"), xg::ValueError,
              "scatter_reduce", "\"max\"", "amax");
  CHECK_ERROR(xg::scatter_reduce(x, 1, i64({0, 4}, {1, 2}), seq({1, 2}), "sum"), xg::IndexError,
              "scatter_reduce", "index 4", "axis 1", "[2, 3]");
  CHECK_ERROR(xg::scatter_reduce(x, 1, i64({0, 1, 1, 0, 1, 1}, {2, 3}), seq({2, 2}), "sum"), xg::ShapeError,
              "scatter_reduce", "[2, 2]");
  // Two zeros written to one position: the first derivative is right (0 for both), the second
  // raises rather than be wrong.
  Tensor xs = f64({2, 3}, {1, 2}, true), s = f64({0, 0}, {1, 2}, true);
  Tensor y = xg::scatter_reduce(xs, 1, i64({0, 0}, {1, 2}), s, "prod");
  auto gr = xg::grad({y}, {s}, {f64({1, 1}, {1, 2})});
  check_values(gr[0], {0, 0});
  Tensor y2 = xg::scatter_reduce(xs, 1, i64({0, 0}, {1, 2}), s, "prod");
  CHECK_ERROR(xg::grad({y2}, {s}, {f64({1, 1}, {1, 2})}, true, true), xg::ValueError, "scatter_reduce",
              "second derivative");
}

TEST_CASE("index_put: advanced indices broadcast together, values broadcast, accumulate sums duplicates") {
  Tensor g = seq({3, 4}, false, 1);
  // torch.index_put(zeros(3, 4), (tensor([0, 2, -1]), tensor([1, 3, 0])), tensor([1., 2., 3.]))
  // position (2, 3) then (2, 0): -1 is the last row
  Tensor x = xg::zeros({3, 4}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor vals = f64({1, 2, 3}, {3}, true);
  Tensor y = xg::index_put(x, {i64({0, 2, -1}, {3}), i64({1, 3, 0}, {3})}, vals);
  check_values(y, {0, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 2});
  y.backward(g);
  check_values(x.grad(), {1, 0, 3, 4, 5, 6, 7, 8, 0, 10, 11, 0});
  check_values(vals.grad(), {2, 12, 9});
  // torch.index_put(zeros(3, 4), (tensor([0, 2, 0]),), tensor([1., 2., 3., 4.]), accumulate=True)
  x.zero_grad();
  vals = f64({1, 2, 3, 4}, {4}, true);
  y = xg::index_put(x, {i64({0, 2, 0}, {3})}, vals, true);
  check_values(y, {2, 4, 6, 8, 0, 0, 0, 0, 1, 2, 3, 4});
  y.backward(g);
  check_values(x.grad(), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  check_values(vals.grad(), {11, 14, 17, 20});
  // torch.index_put(zeros(3, 4), (tensor([[0], [2]]), tensor([1, 3])), tensor([[5.], [6.]]))
  x.zero_grad();
  vals = f64({5, 6}, {2, 1}, true);
  y = xg::index_put(x, {i64({0, 2}, {2, 1}), i64({1, 3}, {2})}, vals);
  check_values(y, {0, 5, 0, 5, 0, 0, 0, 0, 0, 6, 0, 6});
  y.backward(g);
  check_values(x.grad(), {1, 0, 3, 0, 5, 6, 7, 8, 9, 0, 11, 0});
  check_values(vals.grad(), {6, 22});
  // Without accumulate, a duplicate row keeps the last write (PyTorch leaves it undefined), and
  // only the last write receives the gradient.
  Tensor v2 = f64({1, 2, 3}, {3, 1}, true);
  y = xg::index_put(xg::zeros({2, 2}, {.dtype = Dtype::float64}), {i64({1, 0, 1}, {3})}, v2);
  check_values(y, {2, 2, 3, 3});
  y.backward(f64({1, 2, 3, 4}, {2, 2}));
  check_values(v2.grad(), {0, 3, 7});
}

TEST_CASE("index_put errors: index out of range, unbroadcastable indices or values, too many indices") {
  Tensor a = xg::zeros({3, 4}, {.dtype = Dtype::float64});
  Tensor one = xg::scalar_tensor(1.0, {.dtype = Dtype::float64});
  CHECK_ERROR(xg::index_put(a, {i64({0, 3}, {2})}, one), xg::IndexError, "index_put", "index 3", "axis 0",
              "[3, 4]");
  CHECK_ERROR(xg::index_put(a, {i64({0}, {1}), i64({-5}, {1})}, one), xg::IndexError, "index_put", "index -5",
              "axis 1");
  CHECK_ERROR(xg::index_put(a, {i64({0, 1}, {2}), i64({0, 1, 2}, {3})}, one), xg::ShapeError, "index_put",
              "[2]", "[3]");
  CHECK_ERROR(xg::index_put(a, {i64({0, 1}, {2})}, xg::ones({3}, {.dtype = Dtype::float64})), xg::ShapeError,
              "index_put", "[3]", "[2, 4]");
  CHECK_ERROR(xg::index_put(a, {i64({0}, {1}), i64({0}, {1}), i64({0}, {1})}, one), xg::IndexError,
              "index_put", "3 index tensors", "[3, 4]");
  CHECK_ERROR(xg::index_put(a, {f64({0}, {1})}, one), xg::TypeError, "index_put", "int64");
  CHECK_ERROR(xg::index_put(a, {}, one), xg::ValueError, "index_put");
}

TEST_CASE("slice_scatter and select_scatter: values and gradients to both operands") {
  Tensor g = seq({3, 5}, false, 1);
  // torch.slice_scatter(arange(15.).reshape(3, 5), s, 1, 0, 5, 2), s = [[-1, -2, -3]] * 3
  Tensor x = seq({3, 5}, true);
  Tensor s = f64({-1, -2, -3, -1, -2, -3, -1, -2, -3}, {3, 3}, true);
  Tensor y = xg::slice_scatter(x, s, 1, 0, 5, 2);
  check_values(y, {-1, 1, -2, 3, -3, -1, 6, -2, 8, -3, -1, 11, -2, 13, -3});
  y.backward(g);
  check_values(x.grad(), {0, 2, 0, 4, 0, 0, 7, 0, 9, 0, 0, 12, 0, 14, 0});
  check_values(s.grad(), {1, 3, 5, 6, 8, 10, 11, 13, 15});
  // torch.select_scatter(x, tensor([-1., -2., -3.]), 1, -2)
  x.zero_grad();
  Tensor r = f64({-1, -2, -3}, {3}, true);
  y = xg::select_scatter(x, r, 1, -2);
  check_values(y, {0, 1, 2, -1, 4, 5, 6, 7, -2, 9, 10, 11, 12, -3, 14});
  y.backward(g);
  check_values(x.grad(), {1, 2, 3, 0, 5, 6, 7, 8, 0, 10, 11, 12, 13, 0, 15});
  check_values(r.grad(), {4, 9, 14});
  // Negative start counts from the end (as slice): columns 3 and 4.
  check_values(xg::slice_scatter(seq({1, 5}), f64({8, 9}, {1, 2}), 1, -2), {0, 1, 2, 8, 9});
  // errors: torch's "expected src to have a size equal to the slice of self", select's range
  Tensor a = xg::zeros({3, 4}, {.dtype = Dtype::float64});
  CHECK_ERROR(xg::slice_scatter(a, xg::ones({3, 1}, {.dtype = Dtype::float64}), 1, 0, 4, 2), xg::ShapeError,
              "slice_scatter", "[3, 1]", "[3, 2]");
  CHECK_ERROR(xg::slice_scatter(a, a, 1, 0, 9), xg::IndexError, "slice_scatter", "stop 9", "axis 1");
  CHECK_ERROR(xg::slice_scatter(a, a, 1, 0, 4, 0), xg::ValueError, "slice_scatter", "step");
  CHECK_ERROR(xg::select_scatter(a, xg::ones({4}, {.dtype = Dtype::float64}), 0, 3), xg::IndexError,
              "select_scatter", "index 3", "axis 0", "[3, 4]");
  CHECK_ERROR(xg::select_scatter(a, xg::ones({3}, {.dtype = Dtype::float64}), 0, 1), xg::ShapeError,
              "select_scatter", "[3]", "[4]");
}

TEST_CASE("in-place masked_fill_, scatter_, index_put_: values, version bumps, aliasing") {
  Tensor x = seq({2, 3});
  const uint64_t v0 = x.version();
  x.masked_fill_(xg::gt(x, 3.0), -1.0);  // the mask is computed from x itself
  check_values(x, {0, 1, 2, 3, -1, -1});
  CHECK(x.version() == v0 + 1);
  x.masked_fill_(f64({1, 0, 0}, {3}), xg::scalar_tensor(9.0, {.dtype = Dtype::float64}));
  check_values(x, {9, 1, 2, 9, -1, -1});
  x.scatter_(1, i64({2, 0}, {2, 1}), f64({7, 8}, {2, 1}));
  check_values(x, {9, 1, 7, 8, -1, -1});
  x.scatter_(0, i64({1, 1, 1}, {1, 3}), 0.0);
  check_values(x, {9, 1, 7, 0, 0, 0});
  x.index_put_({i64({0, 0}, {2}), i64({1, 1}, {2})}, f64({5, 6}, {2}), true);
  check_values(x, {9, 12, 7, 0, 0, 0});
  CHECK(x.version() == v0 + 5);
  // A source sharing x's storage is read before any write.
  Tensor w = seq({1, 3});
  w.scatter_(1, i64({2, 1, 0}, {1, 3}), w);  // torch gives [2, 1, 0]
  check_values(w, {2, 1, 0});
  // int64 tensors too
  Tensor k = i64({1, 2, 3}, {3});
  k.index_put_({i64({-1}, {1})}, i64({9}, {1}));
  CHECK(k.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 9});
}

TEST_CASE("in-place updates respect autograd: leaves requiring grad refuse, saved tensors are caught") {
  // A leaf that requires grad: refused while grad mode is on (torch: "a leaf Variable that requires
  // grad is being used in an in-place operation"), allowed under NoGradGuard.
  Tensor p = f64({1, 2, 3}, {3}, true);
  CHECK_ERROR(p.masked_fill_(f64({1, 0, 0}, {3}), 0.0), xg::ValueError, "masked_fill_", "leaf",
              "requires grad");
  CHECK_ERROR(p.scatter_(0, i64({0}, {1}), 0.0), xg::ValueError, "scatter_", "requires grad");
  CHECK_ERROR(p.index_put_({i64({0}, {1})}, f64({0}, {1})), xg::ValueError, "index_put_", "requires grad");
  check_values(p, {1, 2, 3});
  {
    xg::NoGradGuard guard;
    p.masked_fill_(f64({1, 0, 0}, {3}), 0.0);
  }
  check_values(p, {0, 2, 3});
  // A value requiring grad cannot be written in place (nothing could record it).
  Tensor plain = f64({1, 2, 3}, {3});
  CHECK_ERROR(plain.masked_fill_(f64({1, 0, 0}, {3}),
                                 xg::scalar_tensor(1.0, {.dtype = Dtype::float64, .requires_grad = true})),
              xg::ValueError, "masked_fill_", "value requires grad");
  // A tensor saved by mul's backward, modified afterwards: backward raises the version error.
  Tensor a = f64({1, 2, 3}, {3});
  Tensor w = f64({4, 5, 6}, {3}, true);
  Tensor y = xg::sum(a * w);
  a.masked_fill_(f64({0, 1, 0}, {3}), 0.0);
  CHECK_ERROR(y.backward(), xg::ValueError, "modified in place", "version 1, saved at version 0");
  Tensor b = f64({1, 2, 3}, {3});
  y = xg::sum(b * w);
  b.index_put_({i64({0}, {1})}, f64({7}, {1}));
  CHECK_ERROR(y.backward(), xg::ValueError, "modified in place");
  Tensor c = f64({1, 2, 3}, {1, 3});
  y = xg::sum(c * w);
  c.scatter_(1, i64({0}, {1, 1}), 7.0);
  CHECK_ERROR(y.backward(), xg::ValueError, "modified in place");
  // The masks and index tensors an op keeps for backward are checked the same way.
  Tensor m = xg::gt(w, 4.5);
  y = xg::sum(xg::masked_fill(w, m, 0.0));
  m.masked_fill_(m, 0.0);
  CHECK_ERROR(y.backward(), xg::ValueError, "masked_fill", "modified in place");
  Tensor idx = i64({2, 0}, {2});
  y = xg::sum(xg::scatter(w, 0, idx, f64({1, 2}, {2}, true)));
  idx.index_put_({i64({0}, {1})}, i64({1}, {1}));
  CHECK_ERROR(y.backward(), xg::ValueError, "scatter", "modified in place");
  Tensor rows = i64({0, 2}, {2});
  y = xg::sum(xg::index_put(w, {rows}, f64({1}, {1})));
  rows.scatter_(0, i64({1}, {1}), 1.0);
  CHECK_ERROR(y.backward(), xg::ValueError, "index_put", "modified in place");
  // Left alone, the same graph runs.
  Tensor d = f64({1, 2, 3}, {3});
  y = xg::sum(d * w);
  y.backward();
  check_values(w.grad(), {1, 2, 3});
}

TEST_CASE("masks and index writes gradcheck and gradgradcheck where duplicates are resolved") {
  // Duplicated positions: xgrad's last-write-wins rule has a well-defined derivative.
  Tensor x = f64({0.1, 0.2, 0.3, 0.4}, {2, 2}, true);
  Tensor s = f64({1.5, -0.5, 2.5}, {1, 3}, true);
  Tensor idx = i64({1, 0, 1}, {1, 3});
  auto f = [&](const std::vector<Tensor>& in) { return xg::scatter(in[0], 1, idx, in[1]); };
  CHECK_PASSED(xg::gradcheck(f, {x, s}));
  CHECK_PASSED(xg::gradgradcheck(f, {x, s}));
  Tensor v = f64({1, 2, 3, 4, 5, 6}, {3, 2}, true);
  auto h = [](const std::vector<Tensor>& in) { return xg::index_put(in[0], {i64({1, 0, 1}, {3})}, in[1]); };
  CHECK_PASSED(xg::gradcheck(h, {x, v}));
  CHECK_PASSED(xg::gradgradcheck(h, {x, v}));
  // prod with a single zero source and a zero x: first and second derivatives.
  Tensor xp = f64({0.0, 1.5, -2.0}, {1, 3}, true);
  Tensor sp = f64({0.0, 0.5, 3.0, 1.25}, {1, 4}, true);
  auto pr = [](const std::vector<Tensor>& in) {
    return xg::scatter_reduce(in[0], 1, i64({0, 1, 1, 2}, {1, 4}), in[1], "prod");
  };
  CHECK_PASSED(xg::gradcheck(pr, {xp, sp}));
  CHECK_PASSED(xg::gradgradcheck(pr, {xp, sp}));
}

TEST_CASE("edge cases: empty index, empty slice, 0-d index tensors, a mask that is the tensor itself") {
  // Nothing written: the copy of x comes back, and gradients are x's own.
  Tensor x = seq({2, 3}, true);
  Tensor e = xg::zeros({2, 0}, {.dtype = Dtype::int64});
  Tensor y = xg::scatter(x, 1, e, xg::zeros({2, 0}, {.dtype = Dtype::float64, .requires_grad = true}));
  check_values(y, {0, 1, 2, 3, 4, 5});
  check_values(xg::scatter_reduce(x, 1, e, xg::zeros({2, 0}, {.dtype = Dtype::float64}), "amax"),
               {0, 1, 2, 3, 4, 5});
  y = xg::index_put(x, {xg::zeros({0}, {.dtype = Dtype::int64})},
                    xg::scalar_tensor(1.0, {.dtype = Dtype::float64}));
  check_values(y, {0, 1, 2, 3, 4, 5});
  y.backward(seq({2, 3}, false, 1));
  check_values(x.grad(), {1, 2, 3, 4, 5, 6});
  check_values(xg::slice_scatter(seq({2, 3}), xg::zeros({2, 0}, {.dtype = Dtype::float64}), 1, 2, 2),
               {0, 1, 2, 3, 4, 5});
  // 0-d index tensors pick one element: torch.index_put(x, (tensor(1), tensor(-1)), tensor(9.))
  check_values(xg::index_put(seq({2, 3}), {i64({1}, {}), i64({-1}, {})}, f64({9}, {})), {0, 1, 2, 3, 4, 9});
  // One index tensor for a [2, 3] tensor writes whole rows: torch.index_put(x, (tensor([1]),),
  // tensor([7., 8., 9.]))
  check_values(xg::index_put(seq({2, 3}), {i64({1}, {1})}, f64({7, 8, 9}, {3})), {0, 1, 2, 7, 8, 9});
  // The mask may be the tensor itself: it is read before the first write.
  Tensor z = f64({0, 2, 0, -1}, {4});
  z.masked_fill_(z, 5.0);
  check_values(z, {0, 5, 0, 5});
  // A 0-d tensor cannot be scattered into (axis 0 does not exist).
  CHECK_ERROR(xg::scatter(f64({1}, {}), 0, i64({0}, {}), 2.0), xg::IndexError, "scatter", "0-d");
  CHECK_ERROR(xg::select_scatter(f64({1}, {}), f64({1}, {}), 0, 0), xg::IndexError, "select_scatter", "0-d");
}

TEST_CASE("in-place on a non-leaf that requires grad is refused too (as add_ and copy_ are)") {
  // xgrad does not rewrite a tensor's history in place: the out-of-place op records it instead.
  Tensor w = f64({1, 2, 3}, {3}, true);
  Tensor h = w * 2.0;
  CHECK_ERROR(h.masked_fill_(f64({1, 0, 0}, {3}), 0.0), xg::ValueError, "masked_fill_", "requires grad",
              "out-of-place");
  Tensor h2 = xg::masked_fill(h, f64({1, 0, 0}, {3}), 0.0);
  xg::sum(h2).backward();
  check_values(w.grad(), {0, 2, 2});
}
