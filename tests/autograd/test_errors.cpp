// Bad inputs: every case checks the exception type (ShapeError, TypeError, IndexError, ValueError,
// all derived from xg::Error) and that what() names the op and the shapes, axes or dtypes involved.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

using xg::Dtype;
using xg::Tensor;

namespace {
using xg_test::i64;
}  // namespace

// ================================================================ broadcasting
TEST_CASE("broadcast: add of [2, 3] and [4] is a ShapeError naming the op, both shapes and the axis") {
  Tensor a = xg::zeros({2, 3}), b = xg::zeros({4});
  CHECK_ERROR_EQ(xg::add(a, b), xg::ShapeError,
                 "add: shapes [2, 3] and [4] cannot be broadcast (axis -1: 3 vs 4)");
  CHECK_ERROR(a + b, xg::ShapeError, "add:", "[2, 3]", "[4]");
  CHECK_ERROR(xg::mul(a, b), xg::ShapeError, "mul:", "[2, 3]", "[4]");
  CHECK_ERROR(a - b, xg::ShapeError, "sub:", "[2, 3]", "[4]");
  CHECK_ERROR(xg::maximum(a, b), xg::ShapeError, "maximum:", "[2, 3]", "[4]");
  CHECK_ERROR(xg::eq(a, b), xg::ShapeError, "eq:", "[2, 3]", "[4]");
  CHECK_ERROR(xg::where(xg::ones({2, 3}), a, b), xg::ShapeError, "where:", "[2, 3]", "[4]");
  // a middle axis: [2, 3, 4] with [5, 1]
  CHECK_ERROR_EQ(xg::add(xg::zeros({2, 3, 4}), xg::zeros({5, 1})), xg::ShapeError,
                 "add: shapes [2, 3, 4] and [5, 1] cannot be broadcast (axis -2: 3 vs 5)");
}

TEST_CASE("broadcast: an in-place update cannot grow its target") {
  Tensor a = xg::zeros({3});
  CHECK_ERROR(a.add_(xg::zeros({2, 3})), xg::ShapeError, "add_", "[3]", "[2, 3]");
  CHECK_ERROR(a.copy_(xg::zeros({4})), xg::ShapeError, "copy_", "[3]", "[4]");
  CHECK_ERROR(a.mul_(xg::zeros({2})), xg::ShapeError, "mul_", "[3]", "[2]");
}

// ================================================================ matmul
TEST_CASE("matmul: inner dimensions differ") {
  Tensor a = xg::zeros({3, 4}), b = xg::zeros({5, 2});
  CHECK_ERROR_EQ(xg::matmul(a, b), xg::ShapeError, "matmul: inner dimensions differ: [3, 4] @ [5, 2]");
  CHECK_ERROR_EQ(xg::matmul(xg::zeros({3}), xg::zeros({4})), xg::ShapeError,
                 "matmul: inner dimensions differ: [3] @ [4]");
  CHECK_ERROR_EQ(xg::matmul(xg::zeros({2, 3, 4}), xg::zeros({2, 5, 2})), xg::ShapeError,
                 "matmul: inner dimensions differ: [2, 3, 4] @ [2, 5, 2]");
  // matmul_t names the transposed operands
  CHECK_ERROR_EQ(xg::matmul_t(xg::zeros({4, 3}), xg::zeros({2, 5}), true, true), xg::ShapeError,
                 "matmul: inner dimensions differ: [4, 3]^T @ [2, 5]^T");
}

TEST_CASE("matmul: batch axes that do not broadcast, 0-d operands, dot and outer") {
  CHECK_ERROR_EQ(xg::matmul(xg::zeros({2, 3, 4}), xg::zeros({3, 4, 2})), xg::ShapeError,
                 "matmul: batch axes cannot be broadcast: [2, 3, 4] @ [3, 4, 2]");
  CHECK_ERROR_EQ(xg::matmul(xg::scalar_tensor(1), xg::zeros({2})), xg::ShapeError,
                 "matmul: both operands need at least 1 axis, got [] @ [2]");
  CHECK_ERROR(xg::dot(xg::zeros({3}), xg::zeros({4})), xg::ShapeError, "dot", "[3]", "[4]");
  CHECK_ERROR(xg::outer(xg::zeros({2, 2}), xg::zeros({4})), xg::ShapeError, "outer", "[2, 2]", "[4]");
  CHECK_ERROR(xg::t(xg::zeros({2, 3, 4})), xg::ShapeError, "t:", "[2, 3, 4]");
}

// ================================================================ axes
TEST_CASE("axis out of range: reductions") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::sum(x, {2}), xg::IndexError,
                 "sum: axis 2 is out of range for a tensor of rank 2 (valid axes are -2 to 1)");
  CHECK_ERROR(xg::sum(x, {-3}), xg::IndexError, "sum:", "axis -3", "rank 2");
  CHECK_ERROR(xg::mean(x, {5}), xg::IndexError, "mean:", "axis 5", "rank 2");
  CHECK_ERROR(xg::max(x, {2}, true), xg::IndexError, "max:", "axis 2", "rank 2");
  CHECK_ERROR(xg::var(x, {7}), xg::IndexError, "var:", "axis 7");
  CHECK_ERROR(xg::logsumexp(x, {-4}), xg::IndexError, "logsumexp:", "axis -4");
  CHECK_ERROR(xg::argmax(x, 2), xg::IndexError, "argmax:", "axis 2", "rank 2");
  CHECK_ERROR(xg::argmin(x, -3), xg::IndexError, "argmin:", "axis -3", "rank 2");
  CHECK_ERROR_EQ(xg::sum(x, {1, -1}), xg::IndexError, "sum: axis -1 is listed twice");
}

TEST_CASE("axis out of range: softmax and log_softmax") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::softmax(x, 5), xg::IndexError,
                 "softmax: axis 5 is out of range for a tensor of rank 2 (valid axes are -2 to 1)");
  CHECK_ERROR(xg::softmax(x, -3), xg::IndexError, "softmax:", "axis -3");
  CHECK_ERROR(xg::log_softmax(x, 2), xg::IndexError, "log_softmax:", "axis 2", "rank 2");
}

TEST_CASE("axis out of range: unsqueeze and stack take a new axis, -(rank+1) to rank") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(
      xg::unsqueeze(x, 3), xg::IndexError,
      "unsqueeze: axis 3 is out of range for a new axis of a tensor of rank 2 (valid axes are -3 to 2)");
  CHECK_ERROR(xg::unsqueeze(x, -4), xg::IndexError, "unsqueeze:", "axis -4", "rank 2");
  CHECK(xg::unsqueeze(x, 2).shape() == xg::Shape{2, 3, 1});  // the edges are fine
  CHECK(xg::unsqueeze(x, -3).shape() == xg::Shape{1, 2, 3});
  CHECK_ERROR(xg::stack({x, x}, 3), xg::IndexError, "stack:", "axis 3", "rank 2");
}

TEST_CASE("axis out of range: squeeze, transpose, permute, flatten, concat, size") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR(xg::squeeze(x, -3), xg::IndexError, "squeeze:", "axis -3", "rank 2");
  CHECK_ERROR(xg::squeeze(x, 2), xg::IndexError, "squeeze:", "axis 2", "rank 2");
  CHECK_ERROR_EQ(xg::transpose(x, 0, 2), xg::IndexError,
                 "transpose: axis 2 is out of range for a tensor of rank 2 (valid axes are -2 to 1)");
  CHECK_ERROR(xg::transpose(x, -3, 0), xg::IndexError, "transpose:", "axis -3");
  CHECK_ERROR(xg::transpose(xg::scalar_tensor(1), 0, 1), xg::IndexError, "transpose:", "axis 1", "rank 0");
  CHECK_ERROR(xg::permute(x, {0, 2}), xg::IndexError, "permute:", "axis 2", "rank 2");
  CHECK_ERROR_EQ(xg::permute(x, {1, -1}), xg::IndexError, "permute: axis -1 appears twice");
  CHECK_ERROR_EQ(xg::permute(x, {0}), xg::ShapeError,
                 "permute: 1 axes given for a tensor of rank 2 (shape [2, 3])");
  CHECK_ERROR(xg::flatten(x, 0, 2), xg::IndexError, "flatten:", "axis 2");
  CHECK_ERROR(xg::flatten(xg::zeros({2, 3, 4}), 2, 1), xg::IndexError, "flatten:", "start axis 2",
              "end axis 1");
  CHECK_ERROR(xg::concat({x, x}, 2), xg::IndexError, "concat:", "axis 2", "rank 2");
  CHECK_ERROR(xg::split(x, 1, 2), xg::IndexError, "split:", "axis 2");
  CHECK_ERROR(x.size(2), xg::IndexError, "size:", "axis 2", "rank 2");
  CHECK_ERROR(xg::scalar_tensor(1).size(0), xg::IndexError, "size:", "0-d");
}

// ================================================================ reshape and friends
TEST_CASE("reshape to a different number of elements") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::reshape(x, {4, 2}), xg::ShapeError,
                 "reshape: cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)");
  CHECK_ERROR_EQ(x.reshape({4, -1}), xg::ShapeError,
                 "reshape: cannot reshape [2, 3] (6 elements) to [4, -1]");
  CHECK_ERROR_EQ(xg::view(x, {-1, -1}), xg::ShapeError, "reshape: more than one -1 in [-1, -1]");
  CHECK_ERROR(x.view({7}), xg::ShapeError, "reshape:", "[2, 3]", "[7]");
}

TEST_CASE("expand to an incompatible shape") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::expand(x, {4, 3, 3}), xg::ShapeError,
                 "expand: cannot expand [2, 3] to [4, 3, 3] (axis 1: 2 vs 3)");
  CHECK_ERROR_EQ(xg::expand(x, {3}), xg::ShapeError, "expand: cannot expand [2, 3] to fewer axes [3]");
  CHECK_ERROR(xg::expand(x, {-1, 2, 3}), xg::ShapeError, "expand:", "-1", "[-1, 2, 3]");
  CHECK_ERROR(xg::sum_to(x, {2}), xg::ShapeError, "sum_to:", "[2, 3]", "[2]");
}

TEST_CASE("concat with mismatched shapes") {
  CHECK_ERROR_EQ(xg::concat({xg::zeros({2, 3}), xg::zeros({3, 2})}, 0), xg::ShapeError,
                 "concat: tensor 1 has shape [3, 2], which does not match [2, 3] outside axis 0");
  CHECK_ERROR(xg::concat({xg::zeros({2, 3}), xg::zeros({2, 3, 1})}, 1), xg::ShapeError,
              "concat:", "[2, 3, 1]", "[2, 3]");
  CHECK_ERROR(xg::cat({xg::zeros({2, 3}), xg::zeros({2, 2}), xg::zeros({1, 3})}, -1), xg::ShapeError,
              "concat:", "tensor 2", "[1, 3]");
  CHECK_ERROR_EQ(xg::concat({xg::scalar_tensor(1), xg::scalar_tensor(2)}), xg::ShapeError,
                 "concat: cannot concatenate 0-d tensors (use stack)");
  CHECK_ERROR_EQ(xg::concat({}), xg::ValueError, "concat: no tensors given");
}

TEST_CASE("stack of different shapes") {
  CHECK_ERROR_EQ(xg::stack({xg::zeros({2, 3}), xg::zeros({3, 2})}), xg::ShapeError,
                 "stack: tensor 1 has shape [3, 2], tensor 0 has [2, 3]");
  CHECK_ERROR(xg::stack({xg::zeros({2}), xg::zeros({2}), xg::zeros({3})}, 1), xg::ShapeError,
              "stack:", "tensor 2", "[3]", "[2]");
  CHECK_ERROR_EQ(xg::stack({}), xg::ValueError, "stack: no tensors given");
}

TEST_CASE("split and chunk with bad sizes") {
  Tensor x = xg::zeros({5, 2});
  CHECK_ERROR_EQ(xg::split(x, std::vector<int64_t>{2, 2}, 0), xg::ShapeError,
                 "split: sizes add up to 4 but axis 0 of [5, 2] has 5");
  CHECK_ERROR_EQ(xg::split(x, 0), xg::ValueError, "split: size must be positive, got 0");
  CHECK_ERROR_EQ(xg::split(x, std::vector<int64_t>{6, -1}), xg::ValueError, "split: negative size -1");
  CHECK_ERROR_EQ(xg::chunk(x, 0), xg::ValueError, "chunk: number of chunks must be positive, got 0");
}

TEST_CASE("pad with too many values, an odd count or a negative amount") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(
      xg::pad(x, {1, 1, 1, 1, 1, 1}), xg::ShapeError,
      "pad: 6 pad values for a tensor of shape [2, 3] (need (before, after) pairs for at most 2 axes)");
  CHECK_ERROR(xg::pad(x, {1, 1, 1}), xg::ShapeError, "pad:", "3 pad values", "[2, 3]");
  CHECK_ERROR_EQ(xg::pad(x, {0, 0, -1, 0}), xg::ValueError, "pad: negative padding for axis 0");
}

TEST_CASE("rank above 8 is a ShapeError") {
  CHECK_ERROR_EQ((xg::Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), xg::ShapeError,
                 "shape: 9 axes requested; xgrad tensors have at most 8");
  CHECK_ERROR(xg::Shape(std::vector<int64_t>(12, 1)), xg::ShapeError, "12 axes", "at most 8");
  xg::Shape eight{1, 1, 1, 1, 1, 1, 1, 1};
  CHECK(eight.rank() == 8);
  CHECK_ERROR(eight.push_back(1), xg::ShapeError, "9 axes", "at most 8");
  Tensor x = xg::zeros(eight);
  CHECK_ERROR_EQ(xg::unsqueeze(x, 0), xg::ShapeError,
                 "unsqueeze: cannot add an axis to a tensor of rank 8 (at most 8 axes)");
  CHECK_ERROR(xg::stack({x, x}), xg::ShapeError, "stack:", "rank 8");
  CHECK_ERROR(xg::one_hot(xg::zeros(eight, {.dtype = Dtype::int64}), 2), xg::ShapeError, "one_hot:", "rank 8",
              "exceed 8 axes");
  CHECK_ERROR((xg::Shape{2, -3}), xg::ShapeError, "shape:", "negative extent -3", "axis 1");
}

TEST_CASE("tensor(values, shape) with a count that does not fill the shape") {
  CHECK_ERROR_EQ(xg::tensor({1, 2, 3}, {2, 2}), xg::ShapeError,
                 "tensor: 3 values do not fill shape [2, 2] (4 elements)");
  CHECK_ERROR(xg::from_vector(std::vector<float>{1, 2, 3}, {4}), xg::ShapeError, "from_vector:", "3 values",
              "[4]");
  CHECK_ERROR(xg::from_vector(std::vector<int64_t>{1, 2}, {1}), xg::ShapeError, "from_vector:", "2 values",
              "[1]");
  CHECK_ERROR(xg::zeros({2, -1}), xg::ShapeError, "shape [2, -1] has a negative extent");
}

// ================================================================ indices
TEST_CASE("slice start / stop out of range") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::slice(x, 1, 0, 5), xg::IndexError,
                 "slice: stop 5 is out of range for axis 1 of extent 3 (shape [2, 3])");
  CHECK_ERROR_EQ(xg::slice(x, -1, -5), xg::IndexError,
                 "slice: start -5 is out of range for axis -1 of extent 3 (shape [2, 3])");
  CHECK_ERROR(xg::slice(x, 0, 3), xg::IndexError, "slice:", "start 3", "extent 2");
  CHECK_ERROR(xg::slice(x, 2, 0), xg::IndexError, "slice:", "axis 2", "rank 2");
  CHECK_ERROR_EQ(xg::slice(x, 0, 0, 2, 0), xg::ValueError, "slice: step must be positive, got 0");
  CHECK_ERROR_EQ(xg::slice(xg::scalar_tensor(1), 0, 0), xg::IndexError, "slice: cannot slice a 0-d tensor");
}

TEST_CASE("narrow out of range") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::narrow(x, 1, 2, 2), xg::IndexError,
                 "narrow: range [2, 4) is out of range for axis 1 of extent 3 (shape [2, 3])");
  CHECK_ERROR(xg::narrow(x, 0, -3, 1), xg::IndexError, "narrow:", "axis 0", "extent 2");
  CHECK_ERROR_EQ(xg::narrow(x, 0, 0, -1), xg::ValueError, "narrow: negative length -1");
}

TEST_CASE("index_select / index_add index out of range") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::index_select(x, 0, i64({0, 2})), xg::IndexError,
                 "index_select: index 2 is out of range for axis 0 of extent 2 (shape [2, 3])");
  CHECK_ERROR(xg::index_select(x, -1, i64({-1})), xg::IndexError, "index_select:", "index -1", "axis 1",
              "extent 3");
  CHECK_ERROR(xg::index_add(x, 1, i64({3}), xg::zeros({2, 1})), xg::IndexError, "index_add:", "index 3",
              "axis 1", "[2, 3]");
  CHECK_ERROR_EQ(xg::index_add(x, 0, i64({0}), xg::zeros({2, 3})), xg::ShapeError,
                 "index_add: source has shape [2, 3], expected [1, 3]");
  CHECK_ERROR_EQ(xg::index_select(x, 0, i64({0, 1}, {1, 2})), xg::ShapeError,
                 "index_select: index must be 1-D, got shape [1, 2]");
  CHECK_ERROR_EQ(xg::index_select(x, 0, xg::tensor({0.0})), xg::TypeError,
                 "index_select: index must be int64, got float32");
  CHECK_ERROR_EQ(xg::index_select(xg::scalar_tensor(1), 0, i64({})), xg::IndexError,
                 "index_select: cannot index a 0-d tensor along an axis");
}

TEST_CASE("gather / scatter_add index out of range") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::gather(x, 1, i64({0, 3}, {2, 1})), xg::IndexError,
                 "gather: index 3 is out of range for axis 1 of extent 3 (shape [2, 3])");
  CHECK_ERROR(xg::gather(x, 0, i64({-1, 0, 0}, {1, 3})), xg::IndexError, "gather:", "index -1", "axis 0");
  CHECK_ERROR(xg::scatter_add(x, 0, i64({2}, {1, 1}), xg::ones({1, 1})), xg::IndexError,
              "scatter_add:", "index 2", "axis 0", "extent 2");
  CHECK_ERROR(xg::gather(x, 0, i64({0, 1}, {2})), xg::ShapeError, "gather:", "[2]", "rank 2");
  CHECK_ERROR(xg::gather(x, 1, i64({0, 0, 0, 0, 0, 0}, {3, 2})), xg::ShapeError, "gather:", "[3, 2]",
              "[2, 3]", "axis 0");
  CHECK_ERROR_EQ(xg::scatter_add(x, 1, i64({0, 1}, {2, 1}), xg::ones({2, 2})), xg::ShapeError,
                 "scatter_add: source shape [2, 2] must equal index shape [2, 1]");
  CHECK_ERROR(xg::gather(x, 1, xg::zeros({2, 1}, {.dtype = Dtype::float64})), xg::TypeError,
              "gather:", "int64", "float64");
}

TEST_CASE("one_hot index out of range") {
  CHECK_ERROR_EQ(xg::one_hot(i64({0, 3}), 3), xg::IndexError,
                 "one_hot: class index 3 is out of range for num_classes 3 (index shape [2])");
  CHECK_ERROR(xg::one_hot(i64({-1}), 3), xg::IndexError, "one_hot:", "class index -1", "num_classes 3");
  CHECK_ERROR_EQ(xg::one_hot(i64({0}), 0), xg::ValueError, "one_hot: num_classes must be positive, got 0");
  CHECK_ERROR_EQ(xg::one_hot(xg::tensor({0.0, 1.0}), 2), xg::TypeError,
                 "one_hot: index must be int64, got float32");
}

TEST_CASE("Tensor::at index out of range or of the wrong count") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(x.at({1, 3}), xg::IndexError,
                 "at: index 3 is out of range for axis 1 of extent 3 (shape [2, 3])");
  CHECK_ERROR(x.at({-3, 0}), xg::IndexError, "at:", "index -3", "axis 0", "extent 2");
  CHECK_ERROR_EQ(x.at({1}), xg::IndexError, "at: 1 indices for a tensor of shape [2, 3]");
  CHECK(x.at({-2, -3}) == 0.0);  // the most negative valid indices
}

// ================================================================ dtypes
TEST_CASE("int64 where a float is needed is a TypeError naming the op and the dtype") {
  Tensor n = xg::tensor({1, 2, 3}, {.dtype = Dtype::int64});
  CHECK_ERROR_EQ(xg::exp(n), xg::TypeError, "exp: expected a float32 or float64 tensor, got int64");
  CHECK_ERROR_EQ(xg::log(n), xg::TypeError, "log: expected a float32 or float64 tensor, got int64");
  CHECK_ERROR_EQ(xg::div(n, n), xg::TypeError, "div: expected a float32 or float64 tensor, got int64");
  CHECK_ERROR(n / 2.0, xg::TypeError, "div:", "int64");  // a whole scalar takes the tensor's dtype
  CHECK_ERROR(xg::tanh(n), xg::TypeError, "tanh:", "int64");
  CHECK_ERROR(xg::sqrt(n), xg::TypeError, "sqrt:", "int64");
  CHECK_ERROR(xg::pow(n, 2.0), xg::TypeError, "pow:", "int64");
  CHECK_ERROR_EQ(xg::softmax(n), xg::TypeError, "softmax: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::log_softmax(n, 0), xg::TypeError, "log_softmax: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::logsumexp(n), xg::TypeError, "logsumexp: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::mean(n), xg::TypeError, "mean: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::norm(n), xg::TypeError, "norm: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::matmul(xg::zeros({2, 2}, {.dtype = Dtype::int64}), xg::zeros({2, 2})), xg::TypeError,
                 "matmul: expected float tensors, got int64 and float32");
  CHECK_ERROR(
      xg::matmul(xg::zeros({2, 2}, {.dtype = Dtype::float64}), xg::zeros({2, 2}, {.dtype = Dtype::int64})),
      xg::TypeError, "matmul:", "float64 and int64");
  CHECK_ERROR_EQ(xg::uniform({2}, 0, 1, {.dtype = Dtype::int64}), xg::TypeError,
                 "uniform: needs a float dtype, got int64");
  CHECK_ERROR_EQ(xg::randn({2}, {.dtype = Dtype::int64}), xg::TypeError,
                 "normal: needs a float dtype, got int64");
  CHECK_ERROR_EQ(n.data<float>(), xg::TypeError, "data: requested float32 from a int64 tensor");
}

TEST_CASE("requires_grad_ on int64 is a TypeError; on a non-leaf a ValueError") {
  Tensor n = xg::tensor({1, 2, 3}, {.dtype = Dtype::int64});
  CHECK_ERROR_EQ(n.requires_grad_(), xg::TypeError,
                 "requires_grad_: only float tensors can require gradients, got int64");
  CHECK_FALSE(n.requires_grad());
  CHECK_NOTHROW(n.requires_grad_(false));
  CHECK_ERROR(xg::zeros({2}, {.dtype = Dtype::int64, .requires_grad = true}), xg::TypeError, "requires_grad_",
              "int64");
  Tensor x = xg::ones({2}, {.requires_grad = true});
  Tensor y = xg::exp(x);
  CHECK_ERROR(y.requires_grad_(false), xg::ValueError, "requires_grad_:", "only leaves", "'exp'");
}

TEST_CASE("mixed dtypes are not an error: they promote as PyTorch (int64 < float32 < float64)") {
  // float32 + float64 -> float64
  Tensor f = xg::tensor({1.5, 2.5}), d = xg::tensor({0.25, 0.5}, {.dtype = Dtype::float64});
  Tensor s = f + d;
  CHECK(s.dtype() == Dtype::float64);
  CHECK(s.to_vector<double>() == std::vector<double>{1.75, 3.0});
  // int64 + float32 -> float32
  Tensor n = xg::tensor({1, 2}, {.dtype = Dtype::int64});
  Tensor t = n + f;
  CHECK(t.dtype() == Dtype::float32);
  CHECK(t.to_vector<double>() == std::vector<double>{2.5, 4.5});
  // int64 with int64 stays int64; int64 * float64 -> float64; comparisons promote too
  CHECK((n + n).dtype() == Dtype::int64);
  CHECK((n * d).dtype() == Dtype::float64);
  CHECK(xg::lt(n, f).dtype() == Dtype::float32);
  CHECK(xg::concat({n, f}).dtype() == Dtype::float32);
  CHECK(xg::matmul(xg::ones({1, 2}), xg::ones({2, 1}, {.dtype = Dtype::float64})).dtype() == Dtype::float64);

  SUBCASE("gradients flow back in each input's own dtype") {
    Tensor a = xg::tensor({1, 2, 3}, {.requires_grad = true});                           // float32
    Tensor b = xg::tensor({4, 5, 6}, {.dtype = Dtype::float64, .requires_grad = true});  // float64
    Tensor y = a * b;
    CHECK(y.dtype() == Dtype::float64);
    y.sum().backward();
    REQUIRE(a.grad().defined());
    REQUIRE(b.grad().defined());
    CHECK(a.grad().dtype() == Dtype::float32);
    CHECK(b.grad().dtype() == Dtype::float64);
    CHECK(a.grad().to_vector<double>() == std::vector<double>{4, 5, 6});
    CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 2, 3});
  }
  SUBCASE("an int64 operand gets no gradient, the float32 one gets float32") {
    Tensor idx = xg::tensor({1, 2, 3}, {.dtype = Dtype::int64});
    Tensor a = xg::tensor({0.5, 0.5, 0.5}, {.requires_grad = true});
    Tensor y = xg::sum(idx * a);
    CHECK(y.dtype() == Dtype::float32);
    CHECK(y.item() == 3.0);
    y.backward();
    CHECK(a.grad().dtype() == Dtype::float32);
    CHECK(a.grad().to_vector<double>() == std::vector<double>{1, 2, 3});
    CHECK_FALSE(idx.grad().defined());
  }
}

// ================================================================ backward
TEST_CASE("backward on a tensor that does not require grad") {
  Tensor x = xg::ones({2, 2});
  Tensor y = xg::sum(x * 2.0);
  CHECK_ERROR_EQ(y.backward(), xg::ValueError,
                 "backward: output 0 of shape [] does not require grad (no input of it requires grad, or it "
                 "was made under "
                 "NoGradGuard)");
  Tensor w = xg::ones({3}, {.requires_grad = true});
  Tensor z;
  {
    xg::NoGradGuard guard;
    z = xg::sum(w * w);
  }
  CHECK_ERROR(z.backward(), xg::ValueError, "backward:", "does not require grad", "NoGradGuard");
}

TEST_CASE("backward on a non-scalar without a gradient") {
  Tensor x = xg::ones({2}, {.requires_grad = true});
  Tensor y = x * 2.0;
  CHECK_ERROR_EQ(y.backward(), xg::ValueError,
                 "backward: output 0 has shape [2]; a gradient can be implied only for a one-element output, "
                 "pass grad explicitly");
  CHECK_ERROR(xg::backward({y}), xg::ValueError, "backward:", "[2]", "pass grad explicitly");
  // A one-element tensor of any rank is fine.
  Tensor one = xg::reshape(xg::sum(x), {1, 1});
  CHECK_NOTHROW(one.backward());
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1});
}

TEST_CASE("backward(grad) with a wrongly shaped grad") {
  Tensor x = xg::ones({2}, {.requires_grad = true});
  Tensor y = x * 2.0;
  CHECK_ERROR_EQ(y.backward(xg::ones({3})), xg::ShapeError,
                 "backward: gradient of shape [3] for output 0 of shape [2]");
  CHECK_ERROR(y.backward(xg::ones({2, 1})), xg::ShapeError, "backward:", "[2, 1]", "[2]");
  CHECK_ERROR_EQ(xg::backward({y, y}, {xg::ones({2})}), xg::ValueError,
                 "backward: 1 gradients for 2 outputs");
  // the failed calls left the graph usable
  y.backward(xg::tensor({1, 3}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 6});
}

TEST_CASE("a second backward through a freed graph names the op and 'second time'") {
  Tensor x = xg::tensor({0.5, -0.5}, {.requires_grad = true});
  Tensor y = xg::tanh(x);
  y.sum().backward();
  CHECK_ERROR(y.sum().backward(), xg::ValueError, "backward:", "second time", "'tanh'", "retain_graph=true");
  // with retain_graph the second pass works and accumulates
  Tensor a = xg::tensor({2.0}, {.requires_grad = true});
  Tensor b = xg::exp(a);
  b.backward(Tensor(), /*retain_graph=*/true);
  b.backward();
  CHECK(a.grad().item() == doctest::Approx(2 * std::exp(2.0)));
  CHECK_ERROR(b.backward(), xg::ValueError, "second time", "'exp'");
}

TEST_CASE("a tensor saved for backward and modified in place before backward") {
  Tensor x = xg::tensor({1, 2, 3}, {.requires_grad = true});
  Tensor w = xg::tensor({4, 5, 6}, {.requires_grad = true});
  Tensor y = xg::sum(x * w);  // mul saves x and w
  {
    xg::NoGradGuard guard;
    w.add_(xg::ones({3}));
  }
  CHECK_ERROR(y.backward(), xg::ValueError, "backward:", "saved by 'mul'", "modified in place",
              "version 1, saved at version 0");

  SUBCASE("through an alias: the version counter is shared") {
    // an output saved for backward (exp saves exp(p)) is checked the same way
    Tensor p = xg::tensor({1, 2}, {.requires_grad = true});
    Tensor e = xg::exp(p);
    Tensor q = xg::sum(e);
    {
      xg::NoGradGuard guard;
      e.mul_(2.0);
    }
    CHECK_ERROR(q.backward(), xg::ValueError, "'exp'", "modified in place");
    Tensor a = xg::tensor({1, 2, 3, 4}, {.requires_grad = true});
    Tensor r = xg::sum(xg::sin(a));  // sin saves its input a
    Tensor alias = a.detach().reshape({2, 2});
    alias.fill_(0.0);  // alias does not require grad: allowed, but bumps a's version
    CHECK_ERROR(r.backward(), xg::ValueError, "'sin'", "modified in place");
  }
}

TEST_CASE("in-place update of a tensor requiring grad while grad mode is on") {
  Tensor w = xg::ones({2}, {.requires_grad = true});
  CHECK_ERROR_EQ(w.add_(xg::ones({2})), xg::ValueError,
                 "add_: in-place update of a tensor of shape [2] that requires grad while grad mode is on; "
                 "wrap the update "
                 "in xg::NoGradGuard");
  w.name("weight");
  CHECK_ERROR_EQ(w.sub_(xg::ones({2})), xg::ValueError,
                 "sub_: in-place update of a tensor of shape [2] that requires grad ('weight') while grad "
                 "mode is on; wrap "
                 "the update in xg::NoGradGuard");
  CHECK_ERROR(w.mul_(2.0), xg::ValueError, "mul_:", "[2]", "requires grad");
  CHECK_ERROR(w.mul_(xg::ones({2})), xg::ValueError, "mul_:");
  CHECK_ERROR(w.copy_(xg::ones({2})), xg::ValueError, "copy_:");
  CHECK_ERROR(w.fill_(3.0), xg::ValueError, "fill_:");
  CHECK_ERROR(w.zero_(), xg::ValueError, "fill_:");
  CHECK(w.to_vector<double>() == std::vector<double>{1, 1});  // nothing was written
  CHECK(w.version() == 0);
  {
    xg::NoGradGuard guard;
    w.add_(xg::ones({2}), 0.5);
  }
  CHECK(w.to_vector<double>() == std::vector<double>{1.5, 1.5});
  // a non-leaf that requires grad is refused as well
  Tensor y = w * 2.0;
  CHECK_ERROR(y.fill_(0.0), xg::ValueError, "fill_:", "requires grad");
}

TEST_CASE("item() on a multi-element tensor") {
  CHECK_ERROR_EQ(xg::zeros({2}).item(), xg::ValueError,
                 "item: the tensor has 2 elements [2]; item() needs exactly one");
  CHECK_ERROR(xg::zeros({2, 3}).item(), xg::ValueError, "item:", "6 elements", "[2, 3]");
  CHECK_ERROR(xg::zeros({0}).item(), xg::ValueError, "item:", "0 elements", "[0]");
  CHECK(xg::full({1, 1, 1}, 4.0).item() == 4.0);
}

// ================================================================ values
TEST_CASE("clamp with lo > hi") {
  CHECK_ERROR_EQ(xg::clamp(xg::zeros({2}), 1.0, 0.0), xg::ValueError,
                 "clamp: lower bound 1 is above upper bound 0");
  CHECK_ERROR(xg::clamp(xg::zeros({2}), 0.5, -0.25), xg::ValueError, "clamp:", "0.5", "-0.25");
  CHECK_NOTHROW(xg::clamp(xg::zeros({2}), 1.0, 1.0));
}

TEST_CASE("creation functions with bad arguments") {
  CHECK_ERROR_EQ(xg::arange(0, 5, 0), xg::ValueError,
                 "arange: step must be nonzero and bounds finite (start 0, stop 5, step 0)");
  CHECK_ERROR(xg::arange(0, INFINITY), xg::ValueError, "arange:", "inf");
  CHECK_ERROR_EQ(xg::linspace(0, 1, -2), xg::ValueError, "linspace: steps must be non-negative, got -2");
  CHECK_ERROR_EQ(xg::eye(-1), xg::ValueError, "eye: negative size -1");
  CHECK_ERROR_EQ(xg::randint(3, 3, {2}), xg::ValueError, "randint: empty range [3, 3)");
  CHECK_ERROR(xg::normal({2}, 0, -1), xg::ValueError, "normal:", "stddev");
}

TEST_CASE("undefined tensor operands") {
  Tensor u, x = xg::ones({2});
  CHECK_ERROR_EQ(xg::add(u, x), xg::ValueError, "add: an operand is undefined");
  CHECK_ERROR_EQ(x * u, xg::ValueError, "mul: an operand is undefined");
  CHECK_ERROR_EQ(xg::exp(u), xg::ValueError, "exp: an operand is undefined");
  CHECK_ERROR_EQ(xg::sum(u), xg::ValueError, "sum: the operand is undefined");
  CHECK_ERROR_EQ(xg::softmax(u), xg::ValueError, "softmax: the operand is undefined");
  CHECK_ERROR_EQ(xg::matmul(u, x), xg::ValueError, "matmul: an operand is undefined");
  CHECK_ERROR_EQ(xg::reshape(u, {2}), xg::ValueError, "reshape: an operand is undefined");
  CHECK_ERROR_EQ(xg::concat({x, u}), xg::ValueError, "concat: an operand is undefined");
  CHECK_ERROR_EQ(xg::where(u, x, x), xg::ValueError, "where: an operand is undefined");
  CHECK_ERROR_EQ(xg::index_select(x, 0, u), xg::ValueError, "index_select: an operand is undefined");
  CHECK_ERROR_EQ(u.shape(), xg::ValueError, "shape: the tensor is undefined");
  CHECK_ERROR_EQ(u.dtype(), xg::ValueError, "dtype: the tensor is undefined");
  CHECK_ERROR_EQ(u.item(), xg::ValueError, "item: the tensor is undefined");
  CHECK_ERROR_EQ(u.to(Dtype::float64), xg::ValueError, "to: the tensor is undefined");
  CHECK_ERROR_EQ(u.backward(), xg::ValueError, "backward: the tensor is undefined");
  Tensor w = xg::ones({2}, {.requires_grad = true});
  CHECK_ERROR_EQ(xg::backward({xg::sum(w), u}), xg::ValueError, "backward: output 1 is undefined");
  CHECK_ERROR_EQ(u.add_(x), xg::ValueError, "add_: the tensor is undefined");
  CHECK_ERROR_EQ(u.sub_(x), xg::ValueError, "sub_: the tensor is undefined");
  CHECK_ERROR_EQ(u.mul_(x), xg::ValueError, "mul_: the tensor is undefined");
  CHECK_ERROR_EQ(u.fill_(1), xg::ValueError, "fill_: the tensor is undefined");
  CHECK_ERROR_EQ(x.add_(u), xg::ValueError, "add_: the other tensor is undefined");
  CHECK_FALSE(u.requires_grad());
  CHECK_FALSE(u.grad().defined());
  CHECK(xg::to_string(u) == "tensor(undefined)");
}

TEST_CASE("misuse of the autograd API") {
  Tensor x = xg::ones({2}, {.requires_grad = true});
  CHECK_ERROR_EQ(x.set_grad(xg::ones({3})), xg::ShapeError,
                 "set_grad: gradient of shape [3] for a tensor of shape [2]");
  Tensor c = xg::ones({2});
  CHECK_ERROR(c.register_hook([](const Tensor& g) { return g; }), xg::ValueError,
              "register_hook:", "does not require grad");
  Tensor unused = xg::ones({3}, {.requires_grad = true});
  CHECK_ERROR(xg::grad({xg::sum(x * x)}, {unused}), xg::ValueError, "grad: input 0", "[3]", "allow_unused");
  CHECK_ERROR_EQ(xg::grad({xg::sum(x * x)}, {c}), xg::ValueError, "grad: input 0 does not require grad");
  x.register_hook([](const Tensor&) { return xg::ones({5}); });
  CHECK_ERROR(xg::sum(x * 3.0).backward(), xg::ShapeError, "hook:", "[5]", "[2]");
}

TEST_CASE("linear and the fused LSTM cell ops with mismatched shapes or dtypes") {
  const Tensor x = xg::zeros({3, 4}), w = xg::zeros({2, 4}), b = xg::zeros({2});
  CHECK_ERROR(xg::linear(x, xg::zeros({2, 5}), b), xg::ShapeError, "linear", "[3, 4]", "[2, 5]");
  CHECK_ERROR(xg::linear(x, w, xg::zeros({3})), xg::ShapeError, "linear", "b [3]");
  CHECK_ERROR(xg::linear(xg::zeros({4}), w, b), xg::ShapeError, "linear", "x [4]");
  CHECK_ERROR(xg::linear(x, w, i64({1, 2})), xg::TypeError, "linear", "int64");
  // The result of a valid call: rows of x w^T + b.
  const Tensor y = xg::linear(xg::tensor({1, 2}, {1, 2}), xg::tensor({1, 0, 0, 1, 1, 1}, {3, 2}),
                              xg::tensor({10, 20, 30}));
  CHECK(y.to_vector<float>() == std::vector<float>{11, 22, 33});

  const Tensor gates = xg::zeros({3, 8}), c = xg::zeros({3, 2});
  CHECK_ERROR(xg::lstm_cell_c(gates, xg::zeros({3, 3})), xg::ShapeError, "lstm_cell_c", "[3, 8]", "[3, 3]");
  CHECK_ERROR(xg::lstm_cell_h(gates, xg::zeros({2, 2})), xg::ShapeError, "lstm_cell_h", "[3, 8]", "[2, 2]");
  CHECK_ERROR(xg::lstm_cell_c(gates, c.to(Dtype::float64)), xg::TypeError, "lstm_cell_c", "float32",
              "float64");
  // sigmoid(0) = 0.5, tanh(0) = 0: c' = 0.5 c, h' = 0.5 tanh(c').
  const Tensor c_next = xg::lstm_cell_c(gates, xg::full({3, 2}, 2.0));
  CHECK(c_next.to_vector<float>() == std::vector<float>(6, 1.0f));
  const Tensor h_next = xg::lstm_cell_h(gates, c_next);
  for (float v : h_next.to_vector<float>()) CHECK(v == doctest::Approx(0.5 * std::tanh(1.0)).epsilon(1e-6));
}
