// Bad inputs: every case checks the exception type (ShapeError, TypeError, IndexError, ValueError,
// all derived from xg::Error) and that what() names the op and the shapes, axes or dtypes involved.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <type_traits>

#include "xgrad/autograd.hpp"

using xg::Dtype;
using xg::Tensor;

namespace {

// The message of the `E` that f throws; a marker string when it throws something else or nothing.
template <class E, class F>
std::string what_of(F&& f) {
  static_assert(std::is_base_of_v<xg::Error, E>, "xgrad errors derive from xg::Error");
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<another exception: ") + e.what() + ">";
  }
  return "<no exception>";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

Tensor i64(std::initializer_list<double> v) { return xg::tensor(v, {.dtype = Dtype::int64}); }
Tensor i64(std::initializer_list<double> v, const xg::Shape& s) { return xg::tensor(v, s, {.dtype = Dtype::int64}); }

}  // namespace

// Checks the exception type with CHECK_THROWS_AS, that it is an xg::Error, and that what()
// contains each of the given substrings.
#define CHECK_ERROR(Type, expr, ...)                                                        \
  do {                                                                                      \
    CHECK_THROWS_AS((void)(expr), Type);                                                    \
    CHECK_THROWS_AS((void)(expr), xg::Error);                                               \
    const std::string xg_msg_ = what_of<Type>([&] { (void)(expr); });                       \
    INFO("what(): " << xg_msg_);                                                            \
    for (const char* xg_part_ : {__VA_ARGS__})                                              \
      CHECK_MESSAGE(contains(xg_msg_, xg_part_), "missing \"" << std::string(xg_part_) << "\""); \
  } while (0)

// Checks the type and the whole message.
#define CHECK_ERROR_EQ(Type, expr, text)                                                    \
  do {                                                                                      \
    CHECK_THROWS_AS((void)(expr), Type);                                                    \
    CHECK(what_of<Type>([&] { (void)(expr); }) == std::string(text));                       \
  } while (0)

// ================================================================ broadcasting
TEST_CASE("broadcast: add of [2, 3] and [4] is a ShapeError naming the op, both shapes and the axis") {
  Tensor a = xg::zeros({2, 3}), b = xg::zeros({4});
  CHECK_ERROR_EQ(xg::ShapeError, xg::add(a, b), "add: shapes [2, 3] and [4] cannot be broadcast (axis -1: 3 vs 4)");
  CHECK_ERROR(xg::ShapeError, a + b, "add:", "[2, 3]", "[4]");
  CHECK_ERROR(xg::ShapeError, xg::mul(a, b), "mul:", "[2, 3]", "[4]");
  CHECK_ERROR(xg::ShapeError, a - b, "sub:", "[2, 3]", "[4]");
  CHECK_ERROR(xg::ShapeError, xg::maximum(a, b), "maximum:", "[2, 3]", "[4]");
  CHECK_ERROR(xg::ShapeError, xg::eq(a, b), "eq:", "[2, 3]", "[4]");
  CHECK_ERROR(xg::ShapeError, xg::where(xg::ones({2, 3}), a, b), "where:", "[2, 3]", "[4]");
  // a middle axis: [2, 3, 4] with [5, 1]
  CHECK_ERROR_EQ(xg::ShapeError, xg::add(xg::zeros({2, 3, 4}), xg::zeros({5, 1})),
                 "add: shapes [2, 3, 4] and [5, 1] cannot be broadcast (axis -2: 3 vs 5)");
}

TEST_CASE("broadcast: an in-place update cannot grow its target") {
  Tensor a = xg::zeros({3});
  CHECK_ERROR(xg::ShapeError, a.add_(xg::zeros({2, 3})), "add_", "[3]", "[2, 3]");
  CHECK_ERROR(xg::ShapeError, a.copy_(xg::zeros({4})), "copy_", "[3]", "[4]");
  CHECK_ERROR(xg::ShapeError, a.mul_(xg::zeros({2})), "mul_", "[3]", "[2]");
}

// ================================================================ matmul
TEST_CASE("matmul: inner dimensions differ") {
  Tensor a = xg::zeros({3, 4}), b = xg::zeros({5, 2});
  CHECK_ERROR_EQ(xg::ShapeError, xg::matmul(a, b), "matmul: inner dimensions differ: [3, 4] @ [5, 2]");
  CHECK_ERROR_EQ(xg::ShapeError, xg::matmul(xg::zeros({3}), xg::zeros({4})), "matmul: inner dimensions differ: [3] @ [4]");
  CHECK_ERROR_EQ(xg::ShapeError, xg::matmul(xg::zeros({2, 3, 4}), xg::zeros({2, 5, 2})),
                 "matmul: inner dimensions differ: [2, 3, 4] @ [2, 5, 2]");
  // matmul_t names the transposed operands
  CHECK_ERROR_EQ(xg::ShapeError, xg::matmul_t(xg::zeros({4, 3}), xg::zeros({2, 5}), true, true),
                 "matmul: inner dimensions differ: [4, 3]^T @ [2, 5]^T");
}

TEST_CASE("matmul: batch axes that do not broadcast, 0-d operands, dot and outer") {
  CHECK_ERROR_EQ(xg::ShapeError, xg::matmul(xg::zeros({2, 3, 4}), xg::zeros({3, 4, 2})),
                 "matmul: batch axes cannot be broadcast: [2, 3, 4] @ [3, 4, 2]");
  CHECK_ERROR_EQ(xg::ShapeError, xg::matmul(xg::scalar_tensor(1), xg::zeros({2})),
                 "matmul: both operands need at least 1 axis, got [] @ [2]");
  CHECK_ERROR(xg::ShapeError, xg::dot(xg::zeros({3}), xg::zeros({4})), "dot", "[3]", "[4]");
  CHECK_ERROR(xg::ShapeError, xg::outer(xg::zeros({2, 2}), xg::zeros({4})), "outer", "[2, 2]", "[4]");
  CHECK_ERROR(xg::ShapeError, xg::t(xg::zeros({2, 3, 4})), "t:", "[2, 3, 4]");
}

// ================================================================ axes
TEST_CASE("axis out of range: reductions") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::IndexError, xg::sum(x, {2}), "sum: axis 2 is out of range for a tensor of rank 2 (valid axes are -2 to 1)");
  CHECK_ERROR(xg::IndexError, xg::sum(x, {-3}), "sum:", "axis -3", "rank 2");
  CHECK_ERROR(xg::IndexError, xg::mean(x, {5}), "mean:", "axis 5", "rank 2");
  CHECK_ERROR(xg::IndexError, xg::max(x, {2}, true), "max:", "axis 2", "rank 2");
  CHECK_ERROR(xg::IndexError, xg::var(x, {7}), "var:", "axis 7");
  CHECK_ERROR(xg::IndexError, xg::logsumexp(x, {-4}), "logsumexp:", "axis -4");
  CHECK_ERROR(xg::IndexError, xg::argmax(x, 2), "argmax:", "axis 2", "rank 2");
  CHECK_ERROR(xg::IndexError, xg::argmin(x, -3), "argmin:", "axis -3", "rank 2");
  CHECK_ERROR_EQ(xg::IndexError, xg::sum(x, {1, -1}), "sum: axis -1 is listed twice");
}

TEST_CASE("axis out of range: softmax and log_softmax") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::IndexError, xg::softmax(x, 5), "softmax: axis 5 is out of range for a tensor of rank 2 (valid axes are -2 to 1)");
  CHECK_ERROR(xg::IndexError, xg::softmax(x, -3), "softmax:", "axis -3");
  CHECK_ERROR(xg::IndexError, xg::log_softmax(x, 2), "log_softmax:", "axis 2", "rank 2");
}

TEST_CASE("axis out of range: unsqueeze and stack take a new axis, -(rank+1) to rank") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::IndexError, xg::unsqueeze(x, 3),
                 "unsqueeze: axis 3 is out of range for a new axis of a tensor of rank 2 (valid axes are -3 to 2)");
  CHECK_ERROR(xg::IndexError, xg::unsqueeze(x, -4), "unsqueeze:", "axis -4", "rank 2");
  CHECK(xg::unsqueeze(x, 2).shape() == xg::Shape{2, 3, 1});  // the edges are fine
  CHECK(xg::unsqueeze(x, -3).shape() == xg::Shape{1, 2, 3});
  CHECK_ERROR(xg::IndexError, xg::stack({x, x}, 3), "stack:", "axis 3", "rank 2");
}

TEST_CASE("axis out of range: squeeze, transpose, permute, flatten, concat, size") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR(xg::IndexError, xg::squeeze(x, -3), "squeeze:", "axis -3", "rank 2");
  CHECK_ERROR(xg::IndexError, xg::squeeze(x, 2), "squeeze:", "axis 2", "rank 2");
  CHECK_ERROR_EQ(xg::IndexError, xg::transpose(x, 0, 2),
                 "transpose: axis 2 is out of range for a tensor of rank 2 (valid axes are -2 to 1)");
  CHECK_ERROR(xg::IndexError, xg::transpose(x, -3, 0), "transpose:", "axis -3");
  CHECK_ERROR(xg::IndexError, xg::transpose(xg::scalar_tensor(1), 0, 1), "transpose:", "axis 1", "rank 0");
  CHECK_ERROR(xg::IndexError, xg::permute(x, {0, 2}), "permute:", "axis 2", "rank 2");
  CHECK_ERROR_EQ(xg::IndexError, xg::permute(x, {1, -1}), "permute: axis -1 appears twice");
  CHECK_ERROR_EQ(xg::ShapeError, xg::permute(x, {0}), "permute: 1 axes given for a tensor of rank 2 (shape [2, 3])");
  CHECK_ERROR(xg::IndexError, xg::flatten(x, 0, 2), "flatten:", "axis 2");
  CHECK_ERROR(xg::IndexError, xg::flatten(xg::zeros({2, 3, 4}), 2, 1), "flatten:", "start axis 2", "end axis 1");
  CHECK_ERROR(xg::IndexError, xg::concat({x, x}, 2), "concat:", "axis 2", "rank 2");
  CHECK_ERROR(xg::IndexError, xg::split(x, 1, 2), "split:", "axis 2");
  CHECK_ERROR(xg::IndexError, x.size(2), "size:", "axis 2", "rank 2");
  CHECK_ERROR(xg::IndexError, xg::scalar_tensor(1).size(0), "size:", "0-d");
}

// ================================================================ reshape and friends
TEST_CASE("reshape to a different number of elements") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::ShapeError, xg::reshape(x, {4, 2}), "reshape: cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)");
  CHECK_ERROR_EQ(xg::ShapeError, x.reshape({4, -1}), "reshape: cannot reshape [2, 3] (6 elements) to [4, -1]");
  CHECK_ERROR_EQ(xg::ShapeError, xg::view(x, {-1, -1}), "reshape: more than one -1 in [-1, -1]");
  CHECK_ERROR(xg::ShapeError, x.view({7}), "reshape:", "[2, 3]", "[7]");
}

TEST_CASE("expand to an incompatible shape") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::ShapeError, xg::expand(x, {4, 3, 3}), "expand: cannot expand [2, 3] to [4, 3, 3] (axis 1: 2 vs 3)");
  CHECK_ERROR_EQ(xg::ShapeError, xg::expand(x, {3}), "expand: cannot expand [2, 3] to fewer axes [3]");
  CHECK_ERROR(xg::ShapeError, xg::expand(x, {-1, 2, 3}), "expand:", "-1", "[-1, 2, 3]");
  CHECK_ERROR(xg::ShapeError, xg::sum_to(x, {2}), "sum_to:", "[2, 3]", "[2]");
}

TEST_CASE("concat with mismatched shapes") {
  CHECK_ERROR_EQ(xg::ShapeError, xg::concat({xg::zeros({2, 3}), xg::zeros({3, 2})}, 0),
                 "concat: tensor 1 has shape [3, 2], which does not match [2, 3] outside axis 0");
  CHECK_ERROR(xg::ShapeError, xg::concat({xg::zeros({2, 3}), xg::zeros({2, 3, 1})}, 1), "concat:", "[2, 3, 1]", "[2, 3]");
  CHECK_ERROR(xg::ShapeError, xg::cat({xg::zeros({2, 3}), xg::zeros({2, 2}), xg::zeros({1, 3})}, -1), "concat:", "tensor 2",
              "[1, 3]");
  CHECK_ERROR_EQ(xg::ShapeError, xg::concat({xg::scalar_tensor(1), xg::scalar_tensor(2)}), "concat: cannot concatenate 0-d tensors (use stack)");
  CHECK_ERROR_EQ(xg::ValueError, xg::concat({}), "concat: no tensors given");
}

TEST_CASE("stack of different shapes") {
  CHECK_ERROR_EQ(xg::ShapeError, xg::stack({xg::zeros({2, 3}), xg::zeros({3, 2})}),
                 "stack: tensor 1 has shape [3, 2], tensor 0 has [2, 3]");
  CHECK_ERROR(xg::ShapeError, xg::stack({xg::zeros({2}), xg::zeros({2}), xg::zeros({3})}, 1), "stack:", "tensor 2", "[3]", "[2]");
  CHECK_ERROR_EQ(xg::ValueError, xg::stack({}), "stack: no tensors given");
}

TEST_CASE("split and chunk with bad sizes") {
  Tensor x = xg::zeros({5, 2});
  CHECK_ERROR_EQ(xg::ShapeError, xg::split(x, std::vector<int64_t>{2, 2}, 0), "split: sizes add up to 4 but axis 0 of [5, 2] has 5");
  CHECK_ERROR_EQ(xg::ValueError, xg::split(x, 0), "split: size must be positive, got 0");
  CHECK_ERROR_EQ(xg::ValueError, xg::split(x, std::vector<int64_t>{6, -1}), "split: negative size -1");
  CHECK_ERROR_EQ(xg::ValueError, xg::chunk(x, 0), "chunk: number of chunks must be positive, got 0");
}

TEST_CASE("pad with too many values, an odd count or a negative amount") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::ShapeError, xg::pad(x, {1, 1, 1, 1, 1, 1}),
                 "pad: 6 pad values for a tensor of shape [2, 3] (need (before, after) pairs for at most 2 axes)");
  CHECK_ERROR(xg::ShapeError, xg::pad(x, {1, 1, 1}), "pad:", "3 pad values", "[2, 3]");
  CHECK_ERROR_EQ(xg::ValueError, xg::pad(x, {0, 0, -1, 0}), "pad: negative padding for axis 0");
}

TEST_CASE("rank above 8 is a ShapeError") {
  CHECK_ERROR_EQ(xg::ShapeError, (xg::Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), "shape: 9 axes requested; xgrad tensors have at most 8");
  CHECK_ERROR(xg::ShapeError, xg::Shape(std::vector<int64_t>(12, 1)), "12 axes", "at most 8");
  xg::Shape eight{1, 1, 1, 1, 1, 1, 1, 1};
  CHECK(eight.rank() == 8);
  CHECK_ERROR(xg::ShapeError, eight.push_back(1), "9 axes", "at most 8");
  Tensor x = xg::zeros(eight);
  CHECK_ERROR_EQ(xg::ShapeError, xg::unsqueeze(x, 0), "unsqueeze: cannot add an axis to a tensor of rank 8 (at most 8 axes)");
  CHECK_ERROR(xg::ShapeError, xg::stack({x, x}), "stack:", "rank 8");
  CHECK_ERROR(xg::ShapeError, xg::one_hot(xg::zeros(eight, {.dtype = Dtype::int64}), 2), "one_hot:", "rank 8", "exceed 8 axes");
  CHECK_ERROR(xg::ShapeError, (xg::Shape{2, -3}), "shape:", "negative extent -3", "axis 1");
}

TEST_CASE("tensor(values, shape) with a count that does not fill the shape") {
  CHECK_ERROR_EQ(xg::ShapeError, xg::tensor({1, 2, 3}, {2, 2}), "tensor: 3 values do not fill shape [2, 2] (4 elements)");
  CHECK_ERROR(xg::ShapeError, xg::from_vector(std::vector<float>{1, 2, 3}, {4}), "from_vector:", "3 values", "[4]");
  CHECK_ERROR(xg::ShapeError, xg::from_vector(std::vector<int64_t>{1, 2}, {1}), "from_vector:", "2 values", "[1]");
  CHECK_ERROR(xg::ShapeError, xg::zeros({2, -1}), "shape [2, -1] has a negative extent");
}

// ================================================================ indices
TEST_CASE("slice start / stop out of range") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::IndexError, xg::slice(x, 1, 0, 5), "slice: stop 5 is out of range for axis 1 of extent 3 (shape [2, 3])");
  CHECK_ERROR_EQ(xg::IndexError, xg::slice(x, -1, -5), "slice: start -5 is out of range for axis -1 of extent 3 (shape [2, 3])");
  CHECK_ERROR(xg::IndexError, xg::slice(x, 0, 3), "slice:", "start 3", "extent 2");
  CHECK_ERROR(xg::IndexError, xg::slice(x, 2, 0), "slice:", "axis 2", "rank 2");
  CHECK_ERROR_EQ(xg::ValueError, xg::slice(x, 0, 0, 2, 0), "slice: step must be positive, got 0");
  CHECK_ERROR_EQ(xg::IndexError, xg::slice(xg::scalar_tensor(1), 0, 0), "slice: cannot slice a 0-d tensor");
}

TEST_CASE("narrow out of range") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::IndexError, xg::narrow(x, 1, 2, 2), "narrow: range [2, 4) is out of range for axis 1 of extent 3 (shape [2, 3])");
  CHECK_ERROR(xg::IndexError, xg::narrow(x, 0, -3, 1), "narrow:", "axis 0", "extent 2");
  CHECK_ERROR_EQ(xg::ValueError, xg::narrow(x, 0, 0, -1), "narrow: negative length -1");
}

TEST_CASE("index_select / index_add index out of range") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::IndexError, xg::index_select(x, 0, i64({0, 2})),
                 "index_select: index 2 is out of range for axis 0 of extent 2 (shape [2, 3])");
  CHECK_ERROR(xg::IndexError, xg::index_select(x, -1, i64({-1})), "index_select:", "index -1", "axis 1", "extent 3");
  CHECK_ERROR(xg::IndexError, xg::index_add(x, 1, i64({3}), xg::zeros({2, 1})), "index_add:", "index 3", "axis 1", "[2, 3]");
  CHECK_ERROR_EQ(xg::ShapeError, xg::index_add(x, 0, i64({0}), xg::zeros({2, 3})), "index_add: source has shape [2, 3], expected [1, 3]");
  CHECK_ERROR_EQ(xg::ShapeError, xg::index_select(x, 0, i64({0, 1}, {1, 2})), "index_select: index must be 1-D, got shape [1, 2]");
  CHECK_ERROR_EQ(xg::TypeError, xg::index_select(x, 0, xg::tensor({0.0})), "index_select: index must be int64, got float32");
  CHECK_ERROR_EQ(xg::IndexError, xg::index_select(xg::scalar_tensor(1), 0, i64({})), "index_select: cannot index a 0-d tensor along an axis");
}

TEST_CASE("gather / scatter_add index out of range") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::IndexError, xg::gather(x, 1, i64({0, 3}, {2, 1})),
                 "gather: index 3 is out of range for axis 1 of extent 3 (shape [2, 3])");
  CHECK_ERROR(xg::IndexError, xg::gather(x, 0, i64({-1, 0, 0}, {1, 3})), "gather:", "index -1", "axis 0");
  CHECK_ERROR(xg::IndexError, xg::scatter_add(x, 0, i64({2}, {1, 1}), xg::ones({1, 1})), "scatter_add:", "index 2", "axis 0",
              "extent 2");
  CHECK_ERROR(xg::ShapeError, xg::gather(x, 0, i64({0, 1}, {2})), "gather:", "[2]", "rank 2");
  CHECK_ERROR(xg::ShapeError, xg::gather(x, 1, i64({0, 0, 0, 0, 0, 0}, {3, 2})), "gather:", "[3, 2]", "[2, 3]", "axis 0");
  CHECK_ERROR_EQ(xg::ShapeError, xg::scatter_add(x, 1, i64({0, 1}, {2, 1}), xg::ones({2, 2})),
                 "scatter_add: source shape [2, 2] must equal index shape [2, 1]");
  CHECK_ERROR(xg::TypeError, xg::gather(x, 1, xg::zeros({2, 1}, {.dtype = Dtype::float64})), "gather:", "int64", "float64");
}

TEST_CASE("one_hot index out of range") {
  CHECK_ERROR_EQ(xg::IndexError, xg::one_hot(i64({0, 3}), 3), "one_hot: class index 3 is out of range for num_classes 3 (index shape [2])");
  CHECK_ERROR(xg::IndexError, xg::one_hot(i64({-1}), 3), "one_hot:", "class index -1", "num_classes 3");
  CHECK_ERROR_EQ(xg::ValueError, xg::one_hot(i64({0}), 0), "one_hot: num_classes must be positive, got 0");
  CHECK_ERROR_EQ(xg::TypeError, xg::one_hot(xg::tensor({0.0, 1.0}), 2), "one_hot: index must be int64, got float32");
}

TEST_CASE("Tensor::at index out of range or of the wrong count") {
  Tensor x = xg::zeros({2, 3});
  CHECK_ERROR_EQ(xg::IndexError, x.at({1, 3}), "at: index 3 is out of range for axis 1 of extent 3 (shape [2, 3])");
  CHECK_ERROR(xg::IndexError, x.at({-3, 0}), "at:", "index -3", "axis 0", "extent 2");
  CHECK_ERROR_EQ(xg::IndexError, x.at({1}), "at: 1 indices for a tensor of shape [2, 3]");
  CHECK(x.at({-2, -3}) == 0.0);  // the most negative valid indices
}

// ================================================================ dtypes
TEST_CASE("int64 where a float is needed is a TypeError naming the op and the dtype") {
  Tensor n = xg::tensor({1, 2, 3}, {.dtype = Dtype::int64});
  CHECK_ERROR_EQ(xg::TypeError, xg::exp(n), "exp: expected a float32 or float64 tensor, got int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::log(n), "log: expected a float32 or float64 tensor, got int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::div(n, n), "div: expected a float32 or float64 tensor, got int64");
  CHECK_ERROR(xg::TypeError, n / 2.0, "div:", "int64");  // a whole scalar takes the tensor's dtype
  CHECK_ERROR(xg::TypeError, xg::tanh(n), "tanh:", "int64");
  CHECK_ERROR(xg::TypeError, xg::sqrt(n), "sqrt:", "int64");
  CHECK_ERROR(xg::TypeError, xg::pow(n, 2.0), "pow:", "int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::softmax(n), "softmax: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::log_softmax(n, 0), "log_softmax: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::logsumexp(n), "logsumexp: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::mean(n), "mean: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::norm(n), "norm: expected a float tensor, got int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::matmul(xg::zeros({2, 2}, {.dtype = Dtype::int64}), xg::zeros({2, 2})),
                 "matmul: expected float tensors, got int64 and float32");
  CHECK_ERROR(xg::TypeError, xg::matmul(xg::zeros({2, 2}, {.dtype = Dtype::float64}), xg::zeros({2, 2}, {.dtype = Dtype::int64})),
              "matmul:", "float64 and int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::uniform({2}, 0, 1, {.dtype = Dtype::int64}), "uniform: needs a float dtype, got int64");
  CHECK_ERROR_EQ(xg::TypeError, xg::randn({2}, {.dtype = Dtype::int64}), "normal: needs a float dtype, got int64");
  CHECK_ERROR_EQ(xg::TypeError, n.data<float>(), "data: requested float32 from a int64 tensor");
}

TEST_CASE("requires_grad_ on int64 is a TypeError; on a non-leaf a ValueError") {
  Tensor n = xg::tensor({1, 2, 3}, {.dtype = Dtype::int64});
  CHECK_ERROR_EQ(xg::TypeError, n.requires_grad_(), "requires_grad_: only float tensors can require gradients, got int64");
  CHECK_FALSE(n.requires_grad());
  CHECK_NOTHROW(n.requires_grad_(false));
  CHECK_ERROR(xg::TypeError, xg::zeros({2}, {.dtype = Dtype::int64, .requires_grad = true}), "requires_grad_", "int64");
  Tensor x = xg::ones({2}, {.requires_grad = true});
  Tensor y = xg::exp(x);
  CHECK_ERROR(xg::ValueError, y.requires_grad_(false), "requires_grad_:", "only leaves", "'exp'");
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
    Tensor a = xg::tensor({1, 2, 3}, {.requires_grad = true});                          // float32
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
  CHECK_ERROR_EQ(xg::ValueError, y.backward(),
                 "backward: output 0 of shape [] does not require grad (no input of it requires grad, or it was made under "
                 "NoGradGuard)");
  Tensor w = xg::ones({3}, {.requires_grad = true});
  Tensor z;
  {
    xg::NoGradGuard guard;
    z = xg::sum(w * w);
  }
  CHECK_ERROR(xg::ValueError, z.backward(), "backward:", "does not require grad", "NoGradGuard");
}

TEST_CASE("backward on a non-scalar without a gradient") {
  Tensor x = xg::ones({2}, {.requires_grad = true});
  Tensor y = x * 2.0;
  CHECK_ERROR_EQ(xg::ValueError, y.backward(),
                 "backward: output 0 has shape [2]; a gradient can be implied only for a one-element output, pass grad explicitly");
  CHECK_ERROR(xg::ValueError, xg::backward({y}), "backward:", "[2]", "pass grad explicitly");
  // A one-element tensor of any rank is fine.
  Tensor one = xg::reshape(xg::sum(x), {1, 1});
  CHECK_NOTHROW(one.backward());
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1});
}

TEST_CASE("backward(grad) with a wrongly shaped grad") {
  Tensor x = xg::ones({2}, {.requires_grad = true});
  Tensor y = x * 2.0;
  CHECK_ERROR_EQ(xg::ShapeError, y.backward(xg::ones({3})), "backward: gradient of shape [3] for output 0 of shape [2]");
  CHECK_ERROR(xg::ShapeError, y.backward(xg::ones({2, 1})), "backward:", "[2, 1]", "[2]");
  CHECK_ERROR_EQ(xg::ValueError, xg::backward({y, y}, {xg::ones({2})}), "backward: 1 gradients for 2 outputs");
  // the failed calls left the graph usable
  y.backward(xg::tensor({1, 3}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 6});
}

TEST_CASE("a second backward through a freed graph names the op and 'second time'") {
  Tensor x = xg::tensor({0.5, -0.5}, {.requires_grad = true});
  Tensor y = xg::tanh(x);
  y.sum().backward();
  CHECK_ERROR(xg::ValueError, y.sum().backward(), "backward:", "second time", "'tanh'", "retain_graph=true");
  // with retain_graph the second pass works and accumulates
  Tensor a = xg::tensor({2.0}, {.requires_grad = true});
  Tensor b = xg::exp(a);
  b.backward(Tensor(), /*retain_graph=*/true);
  b.backward();
  CHECK(a.grad().item() == doctest::Approx(2 * std::exp(2.0)));
  CHECK_ERROR(xg::ValueError, b.backward(), "second time", "'exp'");
}

TEST_CASE("a tensor saved for backward and modified in place before backward") {
  Tensor x = xg::tensor({1, 2, 3}, {.requires_grad = true});
  Tensor w = xg::tensor({4, 5, 6}, {.requires_grad = true});
  Tensor y = xg::sum(x * w);  // mul saves x and w
  {
    xg::NoGradGuard guard;
    w.add_(xg::ones({3}));
  }
  CHECK_ERROR(xg::ValueError, y.backward(), "backward:", "saved by 'mul'", "modified in place", "version 1, saved at version 0");

  SUBCASE("through an alias: the version counter is shared") {
    // an output saved for backward (exp saves exp(p)) is checked the same way
    Tensor p = xg::tensor({1, 2}, {.requires_grad = true});
    Tensor e = xg::exp(p);
    Tensor q = xg::sum(e);
    {
      xg::NoGradGuard guard;
      e.mul_(2.0);
    }
    CHECK_ERROR(xg::ValueError, q.backward(), "'exp'", "modified in place");
    Tensor a = xg::tensor({1, 2, 3, 4}, {.requires_grad = true});
    Tensor r = xg::sum(xg::sin(a));  // sin saves its input a
    Tensor alias = a.detach().reshape({2, 2});
    alias.fill_(0.0);  // alias does not require grad: allowed, but bumps a's version
    CHECK_ERROR(xg::ValueError, r.backward(), "'sin'", "modified in place");
  }
}

TEST_CASE("in-place update of a tensor requiring grad while grad mode is on") {
  Tensor w = xg::ones({2}, {.requires_grad = true});
  CHECK_ERROR_EQ(xg::ValueError, w.add_(xg::ones({2})),
                 "add_: in-place update of a tensor of shape [2] that requires grad while grad mode is on; wrap the update "
                 "in xg::NoGradGuard");
  w.name("weight");
  CHECK_ERROR_EQ(xg::ValueError, w.sub_(xg::ones({2})),
                 "sub_: in-place update of a tensor of shape [2] that requires grad ('weight') while grad mode is on; wrap "
                 "the update in xg::NoGradGuard");
  CHECK_ERROR(xg::ValueError, w.mul_(2.0), "mul_:", "[2]", "requires grad");
  CHECK_ERROR(xg::ValueError, w.mul_(xg::ones({2})), "mul_:");
  CHECK_ERROR(xg::ValueError, w.copy_(xg::ones({2})), "copy_:");
  CHECK_ERROR(xg::ValueError, w.fill_(3.0), "fill_:");
  CHECK_ERROR(xg::ValueError, w.zero_(), "fill_:");
  CHECK(w.to_vector<double>() == std::vector<double>{1, 1});  // nothing was written
  CHECK(w.version() == 0);
  {
    xg::NoGradGuard guard;
    w.add_(xg::ones({2}), 0.5);
  }
  CHECK(w.to_vector<double>() == std::vector<double>{1.5, 1.5});
  // a non-leaf that requires grad is refused as well
  Tensor y = w * 2.0;
  CHECK_ERROR(xg::ValueError, y.fill_(0.0), "fill_:", "requires grad");
}

TEST_CASE("item() on a multi-element tensor") {
  CHECK_ERROR_EQ(xg::ValueError, xg::zeros({2}).item(), "item: the tensor has 2 elements [2]; item() needs exactly one");
  CHECK_ERROR(xg::ValueError, xg::zeros({2, 3}).item(), "item:", "6 elements", "[2, 3]");
  CHECK_ERROR(xg::ValueError, xg::zeros({0}).item(), "item:", "0 elements", "[0]");
  CHECK(xg::full({1, 1, 1}, 4.0).item() == 4.0);
}

// ================================================================ values
TEST_CASE("clamp with lo > hi") {
  CHECK_ERROR_EQ(xg::ValueError, xg::clamp(xg::zeros({2}), 1.0, 0.0), "clamp: lower bound 1 is above upper bound 0");
  CHECK_ERROR(xg::ValueError, xg::clamp(xg::zeros({2}), 0.5, -0.25), "clamp:", "0.5", "-0.25");
  CHECK_NOTHROW(xg::clamp(xg::zeros({2}), 1.0, 1.0));
}

TEST_CASE("creation functions with bad arguments") {
  CHECK_ERROR_EQ(xg::ValueError, xg::arange(0, 5, 0), "arange: step must be nonzero and bounds finite (start 0, stop 5, step 0)");
  CHECK_ERROR(xg::ValueError, xg::arange(0, INFINITY), "arange:", "inf");
  CHECK_ERROR_EQ(xg::ValueError, xg::linspace(0, 1, -2), "linspace: steps must be non-negative, got -2");
  CHECK_ERROR_EQ(xg::ValueError, xg::eye(-1), "eye: negative size -1");
  CHECK_ERROR_EQ(xg::ValueError, xg::randint(3, 3, {2}), "randint: empty range [3, 3)");
  CHECK_ERROR(xg::ValueError, xg::normal({2}, 0, -1), "normal:", "stddev");
}

TEST_CASE("undefined tensor operands") {
  Tensor u, x = xg::ones({2});
  CHECK_ERROR_EQ(xg::ValueError, xg::add(u, x), "add: an operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, x * u, "mul: an operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, xg::exp(u), "exp: an operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, xg::sum(u), "sum: the operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, xg::softmax(u), "softmax: the operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, xg::matmul(u, x), "matmul: an operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, xg::reshape(u, {2}), "reshape: an operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, xg::concat({x, u}), "concat: an operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, xg::where(u, x, x), "where: an operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, xg::index_select(x, 0, u), "index_select: an operand is undefined");
  CHECK_ERROR_EQ(xg::ValueError, u.shape(), "shape: the tensor is undefined");
  CHECK_ERROR_EQ(xg::ValueError, u.dtype(), "dtype: the tensor is undefined");
  CHECK_ERROR_EQ(xg::ValueError, u.item(), "item: the tensor is undefined");
  CHECK_ERROR_EQ(xg::ValueError, u.to(Dtype::float64), "to: the tensor is undefined");
  CHECK_ERROR_EQ(xg::ValueError, u.backward(), "backward: the tensor is undefined");
  Tensor w = xg::ones({2}, {.requires_grad = true});
  CHECK_ERROR_EQ(xg::ValueError, xg::backward({xg::sum(w), u}), "backward: output 1 is undefined");
  CHECK_ERROR_EQ(xg::ValueError, u.add_(x), "add_: the tensor is undefined");
  CHECK_ERROR_EQ(xg::ValueError, u.sub_(x), "sub_: the tensor is undefined");
  CHECK_ERROR_EQ(xg::ValueError, u.mul_(x), "mul_: the tensor is undefined");
  CHECK_ERROR_EQ(xg::ValueError, u.fill_(1), "fill_: the tensor is undefined");
  CHECK_ERROR_EQ(xg::ValueError, x.add_(u), "add_: the other tensor is undefined");
  CHECK_FALSE(u.requires_grad());
  CHECK_FALSE(u.grad().defined());
  CHECK(xg::to_string(u) == "tensor(undefined)");
}

TEST_CASE("misuse of the autograd API") {
  Tensor x = xg::ones({2}, {.requires_grad = true});
  CHECK_ERROR_EQ(xg::ShapeError, x.set_grad(xg::ones({3})), "set_grad: gradient of shape [3] for a tensor of shape [2]");
  Tensor c = xg::ones({2});
  CHECK_ERROR(xg::ValueError, c.register_hook([](const Tensor& g) { return g; }), "register_hook:", "does not require grad");
  Tensor unused = xg::ones({3}, {.requires_grad = true});
  CHECK_ERROR(xg::ValueError, xg::grad({xg::sum(x * x)}, {unused}), "grad: input 0", "[3]", "allow_unused");
  CHECK_ERROR_EQ(xg::ValueError, xg::grad({xg::sum(x * x)}, {c}), "grad: input 0 does not require grad");
  x.register_hook([](const Tensor&) { return xg::ones({5}); });
  CHECK_ERROR(xg::ShapeError, xg::sum(x * 3.0).backward(), "hook:", "[5]", "[2]");
}

TEST_CASE("linear and the fused LSTM cell ops with mismatched shapes or dtypes") {
  const Tensor x = xg::zeros({3, 4}), w = xg::zeros({2, 4}), b = xg::zeros({2});
  CHECK_ERROR(xg::ShapeError, xg::linear(x, xg::zeros({2, 5}), b), "linear", "[3, 4]", "[2, 5]");
  CHECK_ERROR(xg::ShapeError, xg::linear(x, w, xg::zeros({3})), "linear", "b [3]");
  CHECK_ERROR(xg::ShapeError, xg::linear(xg::zeros({4}), w, b), "linear", "x [4]");
  CHECK_ERROR(xg::TypeError, xg::linear(x, w, i64({1, 2})), "linear", "int64");
  // The result of a valid call: rows of x w^T + b.
  const Tensor y = xg::linear(xg::tensor({1, 2}, {1, 2}), xg::tensor({1, 0, 0, 1, 1, 1}, {3, 2}), xg::tensor({10, 20, 30}));
  CHECK(y.to_vector<float>() == std::vector<float>{11, 22, 33});

  const Tensor gates = xg::zeros({3, 8}), c = xg::zeros({3, 2});
  CHECK_ERROR(xg::ShapeError, xg::lstm_cell_c(gates, xg::zeros({3, 3})), "lstm_cell_c", "[3, 8]", "[3, 3]");
  CHECK_ERROR(xg::ShapeError, xg::lstm_cell_h(gates, xg::zeros({2, 2})), "lstm_cell_h", "[3, 8]", "[2, 2]");
  CHECK_ERROR(xg::TypeError, xg::lstm_cell_c(gates, c.to(Dtype::float64)), "lstm_cell_c", "float32", "float64");
  // sigmoid(0) = 0.5, tanh(0) = 0: c' = 0.5 c, h' = 0.5 tanh(c').
  const Tensor c_next = xg::lstm_cell_c(gates, xg::full({3, 2}, 2.0));
  CHECK(c_next.to_vector<float>() == std::vector<float>(6, 1.0f));
  const Tensor h_next = xg::lstm_cell_h(gates, c_next);
  for (float v : h_next.to_vector<float>()) CHECK(v == doctest::Approx(0.5 * std::tanh(1.0)).epsilon(1e-6));
}
