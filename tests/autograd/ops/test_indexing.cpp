// Tensor::index (autograd/ops/indexing.cpp): values and shapes against PyTorch 1.13 on
// arange(60.).reshape(4, 5, 3); gradients of a read; errors naming the index, axis and size.
// (The registered samples are also gradchecked and gradgradchecked by the registry sweep.)
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <vector>

#include "xgrad/autograd.hpp"

using xg::Tensor;
using namespace xg::indexing;

namespace {
Tensor seq() {
  return xg::reshape(xg::arange(0, 60, 1, {.dtype = xg::Dtype::float64}), {4, 5, 3});
}
Tensor ints(std::vector<int64_t> v, xg::Shape s) {
  return xg::from_vector(v, s);
}
using V = std::vector<double>;
}  // namespace

TEST_CASE("integers, slices, None and Ellipsis index as in PyTorch") {
  const Tensor x = seq();
  Tensor y = x.index({Slice(1), None, 0});  // x[1:, None, 0]
  CHECK(y.shape() == xg::Shape{3, 1, 3});
  CHECK(y.to_vector<double>() == V{15, 16, 17, 30, 31, 32, 45, 46, 47});
  // x[::2, ..., -1]
  CHECK(x.index({Slice(None, None, 2), Ellipsis, -1}).to_vector<double>() ==
        V{2, 5, 8, 11, 14, 32, 35, 38, 41, 44});
  CHECK(x.index({0, Slice(1, 4, 2)}).to_vector<double>() == V{3, 4, 5, 9, 10, 11});  // x[0, 1:4:2]
  CHECK(x.index({-1, Slice(-2)}).to_vector<double>() == V{54, 55, 56, 57, 58, 59});  // x[-1, -2:]
  CHECK(x.index({Ellipsis, None}).shape() == xg::Shape{4, 5, 3, 1});                 // x[..., None]
  CHECK(x.index({None, 2, Ellipsis, Slice(1)}).shape() == xg::Shape{1, 5, 2});       // x[None, 2, ..., 1:]
  CHECK(x.index({Slice(2, 100)}).shape() == xg::Shape{2, 5, 3});  // out-of-range bounds clamp
  CHECK(x.index({Slice(3, 1)}).shape() == xg::Shape{0, 5, 3});
}

TEST_CASE("index tensors and masks pick positions as PyTorch's advanced indexing") {
  const Tensor x = seq();
  CHECK(x.index({ints({3, -1, 0}, {3})}).shape() == xg::Shape{3, 5, 3});
  // x[:, [1, 4, 0], 1]
  CHECK(x.index({Slice(), ints({1, 4, 0}, {3}), 1}).to_vector<double>() ==
        V{4, 13, 1, 19, 28, 16, 34, 43, 31, 49, 58, 46});
  // x[[3, -1, 0], :, [2, 0, -2]]: not adjacent, so the indexed axis goes first -> [3, 5]
  const Tensor na = x.index({ints({3, -1, 0}, {3}), Slice(), ints({2, 0, -2}, {3})});
  CHECK(na.shape() == xg::Shape{3, 5});
  CHECK(na.to_vector<double>() == V{47, 50, 53, 56, 59, 45, 48, 51, 54, 57, 1, 4, 7, 10, 13});
  // x[:, [1, 4, 0], [2, 0, -2]]: adjacent, in place -> [4, 3]
  CHECK(x.index({Slice(), ints({1, 4, 0}, {3}), ints({2, 0, -2}, {3})}).to_vector<double>() ==
        V{5, 12, 1, 20, 27, 16, 35, 42, 31, 50, 57, 46});
  // A 2-D index: x[[[0, 1], [2, 3]]] and x[1, [[0, 1], [2, 3]], 2]
  CHECK(x.index({ints({0, 1, 2, 3}, {2, 2})}).shape() == xg::Shape{2, 2, 5, 3});
  CHECK(x.index({1, ints({0, 1, 2, 3}, {2, 2}), 2}).to_vector<double>() == V{17, 20, 23, 26});
  // Masks: a float 0/1 tensor (what comparisons return) over one axis, and over two.
  const Tensor m = xg::tensor({1, 0, 1, 1, 0}, {.dtype = xg::Dtype::float64});
  const Tensor picked = x.index({Slice(), m});
  CHECK(picked.shape() == xg::Shape{4, 3, 3});
  CHECK(xg::slice(picked, 0, 1, 2).to_vector<double>() == V{15, 16, 17, 21, 22, 23, 24, 25, 26});
  const Tensor big = x.index({xg::gt(x.index({Ellipsis, 0}), 20.0)});  // x[x[..., 0] > 20]
  CHECK(big.shape() == xg::Shape{13, 3});
  CHECK(big.index({Slice(), 1}).to_vector<double>() == V{22, 25, 28, 31, 34, 37, 40, 43, 46, 49, 52, 55, 58});
  // Mask() makes an int64 0/1 tensor a mask rather than positions.
  CHECK(x.index({0, Mask(ints({0, 1, 0, 0, 1}, {5}))}).to_vector<double>() == V{3, 4, 5, 12, 13, 14});
  CHECK(x.index({0, ints({0, 1, 0, 0, 1}, {5})}).shape() == xg::Shape{5, 3});
}

TEST_CASE("a read's gradient lands on the picked elements, duplicates summed") {
  Tensor y = xg::reshape(xg::arange(0, 12, 1, {.dtype = xg::Dtype::float64}), {3, 4}).requires_grad_();
  Tensor z = y.index({ints({0, 0, 2}, {3}), Slice(1, 3)});  // y[[0, 0, 2], 1:3]
  z.backward(xg::tensor({1, 2, 3, 4, 5, 6}, {3, 2}, {.dtype = xg::Dtype::float64}));
  CHECK(y.grad().to_vector<double>() == V{0, 4, 6, 0, 0, 0, 0, 0, 0, 5, 6, 0});  // PyTorch 1.13
  const Tensor p = xg::index_positions({3, 4}, {Slice(), 1});
  CHECK(p.dtype() == xg::Dtype::int64);
  CHECK(p.to_vector<int64_t>() == std::vector<int64_t>{1, 5, 9});
}

TEST_CASE("bad indices raise IndexError naming the index, the axis and the size") {
  const Tensor x = seq();
  CHECK_ERROR(x.index({4}), xg::IndexError, "index 4 is out of bounds for dimension 0 with size 4");
  CHECK_ERROR(x.index({Slice(), ints({5}, {1})}), xg::IndexError, "index 5", "dimension 1", "size 5");
  CHECK_ERROR(x.index({0, 0, 0, 0}), xg::IndexError, "too many indices", "[4, 5, 3]");
  CHECK_ERROR(x.index({Ellipsis, 0, Ellipsis}), xg::IndexError, "single ellipsis");
  CHECK_ERROR(x.index({xg::ones({3})}), xg::IndexError, "mask [3]", "[4, 5, 3]");
  CHECK_ERROR(x.index({Slice(None, None, 0)}), xg::ValueError, "step must be positive");
}

TEST_CASE("index_put_ writes through the same indices as index reads") {
  // x = torch.zeros(3, 4); x[1:, 0] = torch.tensor([5., 6.]); x[0, [1, 3]] = 7; x[x == 7] += 1
  Tensor x = xg::zeros({3, 4}, {.dtype = xg::Dtype::float64});
  const uint64_t v0 = x.version();
  x.index_put_({Slice(1), 0}, xg::tensor({5, 6}, {.dtype = xg::Dtype::float64}));
  x.index_put_({0, ints({1, 3}, {2})}, 7.0);
  CHECK(x.version() > v0);
  CHECK(x.to_vector<double>() == V{0, 7, 0, 7, 5, 0, 0, 0, 6, 0, 0, 0});
  x.index_put_({xg::eq(x, 7.0)}, xg::scalar_tensor(1.0, {.dtype = xg::Dtype::float64}), true);
  CHECK(x.to_vector<double>() == V{0, 8, 0, 8, 5, 0, 0, 0, 6, 0, 0, 0});
  // accumulate with duplicate positions sums them (x.index_put_((idx,), v, accumulate=True))
  Tensor y = xg::zeros({4}, {.dtype = xg::Dtype::float64});
  y.index_put_({ints({1, 1, 3}, {3})}, xg::tensor({1, 2, 3}, {.dtype = xg::Dtype::float64}), true);
  CHECK(y.to_vector<double>() == V{0, 3, 0, 3});
  // A whole row from a broadcast value; a failed write leaves x unchanged.
  x.index_put_({2}, 9.0);
  CHECK(x.index({2}).to_vector<double>() == V{9, 9, 9, 9});
  const std::vector<double> before = x.to_vector<double>();
  CHECK_ERROR(x.index_put_({Slice(), 0}, xg::ones({2}, {.dtype = xg::Dtype::float64})), xg::ShapeError,
              "index_put_", "[2]", "[3]");
  CHECK_ERROR(x.index_put_({5}, 1.0), xg::IndexError, "index 5");
  CHECK(x.to_vector<double>() == before);
  // Member forms of masked_fill and where with a comparison's mask.
  const Tensor m = xg::gt(x, 5.0);
  CHECK(x.masked_fill(m, -1.0).to_vector<double>() == V{0, -1, 0, -1, 5, 0, 0, 0, -1, -1, -1, -1});
  CHECK(x.where(m, xg::zeros_like(x)).to_vector<double>() == V{0, 8, 0, 8, 0, 0, 0, 0, 9, 9, 9, 9});
}

TEST_CASE("method forms call the free functions") {
  const Tensor x = seq();
  CHECK(x.sum(1).shape() == xg::Shape{4, 3});
  CHECK(x.sum({0, 2}, true).shape() == xg::Shape{1, 5, 1});
  CHECK(x.sum(-1).to_vector<double>() == xg::sum(x, {-1}).to_vector<double>());
  CHECK(x.mean(0).at({0, 0}) == doctest::Approx(22.5));
  CHECK(x.argmax(1).to_vector<int64_t>() == std::vector<int64_t>(12, 4));
  CHECK(x.index({0}).t().shape() == xg::Shape{3, 5});
  CHECK(x.transpose(0, 2).shape() == xg::Shape{3, 5, 4});
  CHECK(x.permute({2, 0, 1}).shape() == xg::Shape{3, 4, 5});
  CHECK(x.view({12, 5}).unsqueeze(0).squeeze(0).shape() == xg::Shape{12, 5});
  CHECK(x.flatten(1).shape() == xg::Shape{4, 15});
  CHECK(x.amax(2).to_vector<double>() == xg::max(x, {2}).to_vector<double>());
  CHECK(x.index({0}).mm(x.index({0}).t()).shape() == xg::Shape{5, 5});
  CHECK_ERROR(x.mm(x), xg::ShapeError, "mm", "[4, 5, 3]");
  CHECK(x.pow(2.0).sqrt().to_vector<double>() == x.to_vector<double>());
  CHECK(x.contiguous().get() == x.get());
}
