// Tensors and the forward values of ops: creation, dtypes, random numbers, printing, element
// access, broadcasting, negative axes, in-place updates and aliasing, comparisons, reductions,
// softmax, matmul and the shape / indexing ops. Every check is against hand-computed numbers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

using xg::Dtype;
using xg::Shape;
using xg::Tensor;
using V = std::vector<double>;

namespace {

V vec(const Tensor& t) {
  return t.to_vector<double>();
}

using xg_test::check_values;

std::string str(const Tensor& t) {
  std::ostringstream s;
  s << t;
  return s.str();
}

Tensor f64(std::initializer_list<double> v, const Shape& s) {
  return xg::tensor(v, s, {.dtype = Dtype::float64});
}
using xg_test::i64;

}  // namespace

// ================================================================ creation
TEST_CASE("zeros, ones, full, empty: shape, dtype and values") {
  Tensor z = xg::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.sizes() == std::vector<int64_t>{2, 3});
  CHECK(z.dim() == 2);
  CHECK(z.numel() == 6);
  CHECK(z.size(0) == 2);
  CHECK(z.size(-1) == 3);
  CHECK(z.dtype() == Dtype::float32);
  CHECK(z.is_floating_point());
  CHECK(vec(z) == V(6, 0.0));
  CHECK_FALSE(z.requires_grad());
  CHECK(z.is_leaf());

  Tensor o = xg::ones({4}, {.dtype = Dtype::float64});
  CHECK(o.dtype() == Dtype::float64);
  CHECK(vec(o) == V{1, 1, 1, 1});

  Tensor f = xg::full({2, 2}, 2.5);
  CHECK(vec(f) == V{2.5, 2.5, 2.5, 2.5});
  Tensor fi = xg::full({3}, 7.9, {.dtype = Dtype::int64});
  CHECK(fi.dtype() == Dtype::int64);
  CHECK_FALSE(fi.is_floating_point());
  CHECK(fi.to_vector<int64_t>() == std::vector<int64_t>{7, 7, 7});  // truncated as static_cast does

  Tensor g = xg::ones({2}, {.requires_grad = true});
  CHECK(g.requires_grad());
  CHECK(g.is_leaf());

  CHECK(xg::empty({3, 0}).numel() == 0);
  CHECK(xg::zeros({}).dim() == 0);
  CHECK(xg::zeros({}).numel() == 1);

  Tensor like = xg::full_like(xg::zeros({2}, {.dtype = Dtype::float64}), -3);
  CHECK(like.dtype() == Dtype::float64);
  CHECK(vec(like) == V{-3, -3});
  CHECK(vec(xg::ones_like(fi)) == V{1, 1, 1});
  CHECK(xg::zeros_like(fi).dtype() == Dtype::int64);
}

TEST_CASE("arange, linspace, eye") {
  CHECK(vec(xg::arange(5)) == V{0, 1, 2, 3, 4});
  CHECK(vec(xg::arange(1, 2, 0.25)) == V{1, 1.25, 1.5, 1.75});
  CHECK(vec(xg::arange(5, 0, -2)) == V{5, 3, 1});
  CHECK(xg::arange(3, 3).numel() == 0);
  CHECK(xg::arange(3, 1).numel() == 0);
  CHECK(xg::arange(0, 1, 0.1).numel() == 10);
  Tensor ai = xg::arange(-2, 2, 1, {.dtype = Dtype::int64});
  CHECK(ai.dtype() == Dtype::int64);
  CHECK(ai.to_vector<int64_t>() == std::vector<int64_t>{-2, -1, 0, 1});

  CHECK(vec(xg::linspace(0, 1, 5)) == V{0, 0.25, 0.5, 0.75, 1});
  CHECK(vec(xg::linspace(-1, 1, 2)) == V{-1, 1});
  CHECK(vec(xg::linspace(2, 5, 1)) == V{2});  // as torch.linspace: one step gives start
  CHECK(xg::linspace(0, 1, 0).numel() == 0);
  Tensor l = xg::linspace(0, 1, 7, {.dtype = Dtype::float64});
  CHECK(l.at({6}) == 1.0);  // the stop is exact
  CHECK(l.at({3}) == 0.5);

  CHECK(vec(xg::eye(3)) == V{1, 0, 0, 0, 1, 0, 0, 0, 1});
  Tensor e = xg::eye(2, 3);
  CHECK(e.shape() == Shape{2, 3});
  CHECK(vec(e) == V{1, 0, 0, 0, 1, 0});
  CHECK(vec(xg::eye(3, 2)) == V{1, 0, 0, 1, 0, 0});
  CHECK(xg::eye(2, 2, {.dtype = Dtype::int64}).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 1});
}

TEST_CASE("tensor with a shape, from_vector, scalar_tensor") {
  Tensor t = xg::tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.dtype() == Dtype::float32);
  CHECK(t.at({0, 2}) == 3);
  CHECK(t.at({1, 0}) == 4);
  Tensor flat = xg::tensor({0.5, 1.5});
  CHECK(flat.shape() == Shape{2});
  CHECK(vec(flat) == V{0.5, 1.5});
  Tensor td = xg::tensor(std::vector<double>{1, 2, 3, 4}, Shape{2, 2},
                         {.dtype = Dtype::float64, .requires_grad = true});
  CHECK(td.dtype() == Dtype::float64);
  CHECK(td.requires_grad());

  Tensor ff = xg::from_vector(std::vector<float>{1.5f, 2.5f}, {2, 1}, true);
  CHECK(ff.dtype() == Dtype::float32);
  CHECK(ff.shape() == Shape{2, 1});
  CHECK(ff.requires_grad());
  CHECK(ff.to_vector<float>() == std::vector<float>{1.5f, 2.5f});
  Tensor fd = xg::from_vector(std::vector<double>{0.1, 0.2, 0.3}, {3});
  CHECK(fd.dtype() == Dtype::float64);
  CHECK(fd.data<double>()[0] == 0.1);  // float64 keeps every bit
  Tensor fi = xg::from_vector(std::vector<int64_t>{(int64_t(1) << 53) + 1, -4}, {2});
  CHECK(fi.dtype() == Dtype::int64);
  CHECK(fi.to_vector<int64_t>() == std::vector<int64_t>{(int64_t(1) << 53) + 1, -4});
  CHECK(xg::from_vector(std::vector<float>{}, {0, 3}).numel() == 0);

  Tensor s = xg::scalar_tensor(3.5);
  CHECK(s.dim() == 0);
  CHECK(s.shape() == Shape{});
  CHECK(s.numel() == 1);
  CHECK(s.item() == 3.5);
  CHECK(xg::scalar_tensor(-2, {.dtype = Dtype::int64}).item<int64_t>() == -2);
}

// ================================================================ dtypes
TEST_CASE("dtype names, sizes and to(dtype)") {
  CHECK(std::string(xg::dtype_name(Dtype::float32)) == "float32");
  CHECK(std::string(xg::dtype_name(Dtype::float64)) == "float64");
  CHECK(std::string(xg::dtype_name(Dtype::int64)) == "int64");
  CHECK(xg::dtype_size(Dtype::float32) == 4);
  CHECK(xg::dtype_size(Dtype::float64) == 8);
  CHECK(xg::dtype_size(Dtype::int64) == 8);

  Tensor x = xg::tensor({1.75, -1.75, 2.5, 0.1});
  Tensor d = x.to(Dtype::float64);
  CHECK(d.dtype() == Dtype::float64);
  CHECK(d.shape() == x.shape());
  CHECK(d.at({0}) == 1.75);
  CHECK(d.at({3}) == static_cast<double>(0.1f));  // widening keeps the float32 value exactly
  Tensor n = x.to(Dtype::int64);
  CHECK(n.dtype() == Dtype::int64);
  CHECK(n.to_vector<int64_t>() == std::vector<int64_t>{1, -1, 2, 0});  // truncation toward zero
  CHECK(vec(n.to(Dtype::float32)) == V{1, -1, 2, 0});
  Tensor back = d.to(Dtype::float32);
  CHECK(back.to_vector<float>() == x.to_vector<float>());
  CHECK(x.to(Dtype::float32).get() == x.get());  // same dtype: the same tensor

  // to() is differentiable: the gradient comes back in the source dtype
  Tensor w = xg::tensor({1, 2}, {.requires_grad = true});
  Tensor y = xg::sum(w.to(Dtype::float64) * 3.0);
  CHECK(y.dtype() == Dtype::float64);
  y.backward();
  CHECK(w.grad().dtype() == Dtype::float32);
  CHECK(vec(w.grad()) == V{3, 3});
  // ... but a conversion to int64 is cut from the graph
  CHECK_FALSE(w.to(Dtype::int64).requires_grad());
}

// ================================================================ random numbers
TEST_CASE("random numbers are reproducible after manual_seed") {
  xg::manual_seed(1234);
  Tensor a1 = xg::randn({50}), b1 = xg::rand({7}), c1 = xg::randint(0, 100, {20}), d1 = xg::randperm(10);
  Tensor e1 = xg::uniform({5}, -2, 3, {.dtype = Dtype::float64}), f1 = xg::normal({5}, 10, 0.5);
  xg::manual_seed(1234);
  Tensor a2 = xg::randn({50}), b2 = xg::rand({7}), c2 = xg::randint(0, 100, {20}), d2 = xg::randperm(10);
  Tensor e2 = xg::uniform({5}, -2, 3, {.dtype = Dtype::float64}), f2 = xg::normal({5}, 10, 0.5);
  CHECK(vec(a1) == vec(a2));
  CHECK(vec(b1) == vec(b2));
  CHECK(vec(c1) == vec(c2));
  CHECK(vec(d1) == vec(d2));
  CHECK(vec(e1) == vec(e2));
  CHECK(vec(f1) == vec(f2));

  xg::manual_seed(1235);
  CHECK(vec(xg::randn({50})) != vec(a1));
  CHECK(vec(xg::rand({7})) != vec(b1));
  // the stream moves on without a reseed
  xg::manual_seed(1234);
  Tensor first = xg::randn({8}), second = xg::randn({8});
  CHECK(vec(first) != vec(second));
  // the generator state after an odd count of normals is reset too
  xg::manual_seed(7);
  Tensor odd1 = xg::randn({3});
  Tensor next1 = xg::randn({3});
  xg::manual_seed(7);
  Tensor odd2 = xg::randn({3});
  Tensor next2 = xg::randn({3});
  CHECK(vec(odd1) == vec(odd2));
  CHECK(vec(next1) == vec(next2));
}

TEST_CASE("random numbers: ranges, dtypes and moments") {
  xg::manual_seed(42);
  const int64_t n = 10000;
  Tensor z = xg::randn({n}, {.dtype = Dtype::float64});
  CHECK(z.dtype() == Dtype::float64);
  const double m = xg::mean(z).item(), s = xg::std(z).item();
  CHECK(std::fabs(m) < 0.05);  // standard error 0.01
  CHECK(std::fabs(s - 1.0) < 0.05);
  CHECK(xg::max(xg::abs(z)).item() < 6.0);
  // a third of the mass within +-0.43, as a normal has
  const double inside = xg::sum(xg::lt(xg::abs(z), 0.4307)).item() / static_cast<double>(n);
  CHECK(std::fabs(inside - 1.0 / 3.0) < 0.03);

  Tensor zf = xg::randn({n});
  CHECK(zf.dtype() == Dtype::float32);
  CHECK(std::fabs(xg::mean(zf).item()) < 0.05);

  Tensor nm = xg::normal({n}, 3.0, 2.0, {.dtype = Dtype::float64});
  CHECK(std::fabs(xg::mean(nm).item() - 3.0) < 0.1);
  CHECK(std::fabs(xg::std(nm).item() - 2.0) < 0.1);

  Tensor u = xg::rand({n}, {.dtype = Dtype::float64});
  CHECK(xg::min(u).item() >= 0.0);
  CHECK(xg::max(u).item() < 1.0);
  CHECK(std::fabs(xg::mean(u).item() - 0.5) < 0.02);
  CHECK(std::fabs(xg::var(u).item() - 1.0 / 12.0) < 0.005);

  Tensor un = xg::uniform({1000}, -3.0, -1.0);
  CHECK(xg::min(un).item() >= -3.0);
  CHECK(xg::max(un).item() < -1.0);

  Tensor ri = xg::randint(-2, 3, {2000});
  CHECK(ri.dtype() == Dtype::int64);
  CHECK(ri.shape() == Shape{2000});
  const auto rv = ri.to_vector<int64_t>();
  for (int64_t v = -2; v < 3; ++v) CHECK(std::count(rv.begin(), rv.end(), v) > 300);  // each about 400
  CHECK(*std::min_element(rv.begin(), rv.end()) == -2);
  CHECK(*std::max_element(rv.begin(), rv.end()) == 2);

  Tensor p = xg::randperm(20);
  CHECK(p.dtype() == Dtype::int64);
  auto pv = p.to_vector<int64_t>();
  std::sort(pv.begin(), pv.end());
  for (int64_t i = 0; i < 20; ++i) CHECK(pv[i] == i);
  CHECK(xg::randperm(0).numel() == 0);

  Tensor rg = xg::randn({2, 2}, {.requires_grad = true});
  CHECK(rg.requires_grad());
  CHECK(rg.is_leaf());
}

// ================================================================ printing
TEST_CASE("printing like PyTorch") {
  CHECK(str(xg::tensor({1, 2.5, 3, 4}, {2, 2})) ==
        "tensor([[1.0000, 2.5000],\n"
        "        [3.0000, 4.0000]])");
  CHECK(str(xg::tensor({1, 2, 3, 4, 5, 6}, {2, 3})) ==
        "tensor([[1., 2., 3.],\n"
        "        [4., 5., 6.]])");
  CHECK(str(xg::tensor({0.5, -1.25})) == "tensor([ 0.5000, -1.2500])");
  CHECK(str(xg::tensor({1, 2, 3}, {.dtype = Dtype::float64})) == "tensor([1., 2., 3.], dtype=float64)");
  CHECK(str(xg::tensor({0.125, 2}, {.dtype = Dtype::float64})) == "tensor([0.1250, 2.0000], dtype=float64)");
  CHECK(str(i64({1, -2, 30})) == "tensor([ 1, -2, 30])");
  CHECK(str(i64({1, 2, 3, 4}, {2, 2})) ==
        "tensor([[1, 2],\n"
        "        [3, 4]])");
  CHECK(str(xg::scalar_tensor(3.5)) == "tensor(3.5000)");
  CHECK(str(xg::scalar_tensor(3, {.dtype = Dtype::int64})) == "tensor(3)");
  CHECK(str(xg::tensor({1e-5, 1})) == "tensor([1.0000e-05, 1.0000e+00])");
  CHECK(str(xg::zeros({0})) == "tensor([], shape=[0])");
  CHECK(str(xg::tensor({1.5, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2})) ==
        "tensor([[[1.5000, 2.0000],\n"
        "         [3.0000, 4.0000]],\n"
        "\n"
        "        [[5.0000, 6.0000],\n"
        "         [7.0000, 8.0000]]])");

  Tensor w = xg::tensor({1, 2}, {.requires_grad = true});
  CHECK(str(w) == "tensor([1., 2.], requires_grad=true)");
  CHECK(str(w * 2.0) == "tensor([2., 4.], grad_fn=mul)");
  CHECK(str(xg::exp(xg::zeros({1}, {.dtype = Dtype::float64, .requires_grad = true}))) ==
        "tensor([1.], dtype=float64, grad_fn=exp)");
  CHECK(str(w.detach()) == "tensor([1., 2.])");
  w.name("w");
  CHECK(str(w) == "tensor([1., 2.], requires_grad=true, name=\"w\")");
  CHECK(xg::to_string(xg::tensor({1, 2}, {2})) == str(xg::tensor({1, 2}, {2})));
}

TEST_CASE("printing a large tensor summarises it with ...") {
  Tensor big = xg::arange(2000);
  CHECK(big.numel() > 1000);
  CHECK(str(big) == "tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.], shape=[2000])");
  const std::string m = str(xg::arange(2000).reshape({40, 50}));
  CHECK(m ==
        "tensor([[   0.,    1.,    2., ...,   47.,   48.,   49.],\n"
        "        [  50.,   51.,   52., ...,   97.,   98.,   99.],\n"
        "        [ 100.,  101.,  102., ...,  147.,  148.,  149.],\n"
        "        ...,\n"
        "        [1850., 1851., 1852., ..., 1897., 1898., 1899.],\n"
        "        [1900., 1901., 1902., ..., 1947., 1948., 1949.],\n"
        "        [1950., 1951., 1952., ..., 1997., 1998., 1999.]], shape=[40, 50])");
  // exactly 1000 elements are printed in full
  const std::string full = str(xg::zeros({1000}));
  CHECK(full.find("...") == std::string::npos);
  CHECK(full.find("shape=") == std::string::npos);
  const std::string ints = str(xg::arange(1001, {.dtype = Dtype::int64}));
  CHECK(ints == "tensor([   0,    1,    2, ...,  998,  999, 1000], shape=[1001])");
}

// ================================================================ element access
TEST_CASE("item, at with negative indices, to_vector, data") {
  Tensor x = xg::tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(x.at({0, 0}) == 1);
  CHECK(x.at({-1, -1}) == 6);
  CHECK(x.at({-2, 1}) == 2);
  CHECK(x.at({1, -3}) == 4);
  CHECK(xg::tensor({7.25}).item() == 7.25);
  CHECK(xg::full({1, 1}, -2).item() == -2);
  CHECK(xg::scalar_tensor(2.75).item<int64_t>() == 2);
  CHECK(xg::scalar_tensor(2.75).item<float>() == 2.75f);
  CHECK(x.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(x.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(i64({-3, 9}).to_vector<double>() == V{-3, 9});
  CHECK(i64({4, 5, 6}, {3}).at({-1}) == 6);
  // data<T>() reads and writes the storage in row-major order
  Tensor y = xg::zeros({2, 2}, {.dtype = Dtype::float64});
  y.data<double>()[3] = 9;
  CHECK(y.at({1, 1}) == 9);
  CHECK(x.data<float>()[4] == 5.0f);
}

// ================================================================ broadcasting
TEST_CASE("broadcasting [3, 1] with [1, 4]: add, mul, where, maximum") {
  Tensor a = xg::tensor({1, 2, 3}, {3, 1});
  Tensor b = xg::tensor({10, 20, 30, 40}, {1, 4});
  Tensor s = a + b;
  CHECK(s.shape() == Shape{3, 4});
  CHECK(vec(s) == V{11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  Tensor p = a * b;
  CHECK(p.shape() == Shape{3, 4});
  CHECK(vec(p) == V{10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120});
  CHECK(vec(b - a) == V{9, 19, 29, 39, 8, 18, 28, 38, 7, 17, 27, 37});
  check_values(b / a, {10, 20, 30, 40, 5, 10, 15, 20, 10.0 / 3, 20.0 / 3, 10, 40.0 / 3}, 1e-6);

  Tensor mask = xg::tensor({1, 0, 1}, {3, 1});
  Tensor w = xg::where(mask, b, xg::scalar_tensor(-1));
  CHECK(w.shape() == Shape{3, 4});
  CHECK(vec(w) == V{10, 20, 30, 40, -1, -1, -1, -1, 10, 20, 30, 40});
  Tensor w2 = xg::where(xg::tensor({0, 1, 1, 0}, {1, 4}), a, b);  // mask along the other axis
  CHECK(vec(w2) == V{10, 1, 1, 40, 10, 2, 2, 40, 10, 3, 3, 40});

  Tensor m = xg::maximum(xg::tensor({1, 5, 2}, {3, 1}), xg::tensor({0, 2, 4, 6}, {1, 4}));
  CHECK(m.shape() == Shape{3, 4});
  CHECK(vec(m) == V{1, 2, 4, 6, 5, 5, 5, 6, 2, 2, 4, 6});
  Tensor mn = xg::minimum(xg::tensor({1, 5, 2}, {3, 1}), xg::tensor({0, 2, 4, 6}, {1, 4}));
  CHECK(vec(mn) == V{0, 1, 1, 1, 0, 2, 4, 5, 0, 2, 2, 2});
}

TEST_CASE("broadcasting [4] with [2, 3, 4], and scalars") {
  Tensor x = xg::arange(24).reshape({2, 3, 4});
  Tensor v = xg::tensor({1, 10, 100, 1000});
  Tensor s = x + v;
  CHECK(s.shape() == Shape{2, 3, 4});
  V want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) want.push_back(12 * i + 4 * j + k + V{1, 10, 100, 1000}[k]);
  CHECK(vec(s) == want);
  CHECK(s.at({1, 2, 3}) == 23 + 1000);
  CHECK(s.at({0, 1, 0}) == 4 + 1);
  Tensor p = v * x;  // the other order
  CHECK(p.shape() == Shape{2, 3, 4});
  CHECK(p.at({1, 0, 2}) == 14 * 100);
  CHECK(p.at({0, 2, 1}) == 9 * 10);

  Tensor y = xg::tensor({1, 2, 3});
  CHECK(vec(2.0 * y) == V{2, 4, 6});
  CHECK(vec(y * 2.0) == V{2, 4, 6});
  CHECK(vec(y - 1) == V{0, 1, 2});
  CHECK(vec(1.0 - y) == V{0, -1, -2});
  CHECK(vec(y + 0.5) == V{1.5, 2.5, 3.5});
  CHECK(vec(y / 2.0) == V{0.5, 1, 1.5});
  CHECK(vec(6.0 / y) == V{6, 3, 2});
  CHECK(vec(-y) == V{-1, -2, -3});
  CHECK((2.0 * y).dtype() == Dtype::float32);  // a C++ scalar takes the tensor's dtype
  Tensor n = i64({1, 2, 3});
  CHECK((n * 2.0).dtype() == Dtype::int64);
  CHECK((n * 0.5).dtype() == Dtype::float32);  // a fractional scalar with int64 gives float32
  CHECK(vec(n * 0.5) == V{0.5, 1, 1.5});
  CHECK(vec(n + 1.0) == V{2, 3, 4});
  // a 0-d tensor broadcasts against anything
  CHECK(vec(xg::scalar_tensor(3) * xg::ones({2, 2})) == V{3, 3, 3, 3});
  // empty axes broadcast to empty results
  CHECK((xg::zeros({0, 3}) + xg::ones({3})).shape() == Shape{0, 3});
}

// ================================================================ negative axes
TEST_CASE("negative axes: sum, mean, softmax, concat, slice") {
  Tensor x = xg::tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(vec(xg::sum(x, {-1})) == vec(xg::sum(x, {1})));
  CHECK(vec(xg::sum(x, {-1})) == V{6, 15});
  CHECK(vec(xg::sum(x, {-2})) == V{5, 7, 9});
  CHECK(vec(xg::mean(x, {-2})) == V{2.5, 3.5, 4.5});
  CHECK(vec(xg::mean(x, {-1}, true)) == V{2, 5});
  CHECK(xg::mean(x, {-1}, true).shape() == Shape{2, 1});
  CHECK(vec(xg::softmax(x, -2)) == vec(xg::softmax(x, 0)));
  CHECK(vec(xg::softmax(x, -1)) == vec(xg::softmax(x, 1)));
  Tensor c = xg::concat({x, xg::tensor({7, 8}, {2, 1})}, -1);
  CHECK(c.shape() == Shape{2, 4});
  CHECK(vec(c) == V{1, 2, 3, 7, 4, 5, 6, 8});
  Tensor sl = xg::slice(x, -1, -2);
  CHECK(sl.shape() == Shape{2, 2});
  CHECK(vec(sl) == V{2, 3, 5, 6});
  CHECK(vec(xg::slice(x, -1, 0, -1)) == V{1, 2, 4, 5});
  CHECK(vec(xg::slice(x, -2, -1)) == V{4, 5, 6});
  CHECK(vec(xg::slice(x, 1, 0, xg::kEnd, 2)) == V{1, 3, 4, 6});
  CHECK(xg::unsqueeze(x, -1).shape() == Shape{2, 3, 1});
  CHECK(xg::transpose(x, -1, -2).shape() == Shape{3, 2});
  CHECK(vec(xg::argmax(x, -1)) == V{2, 2});
}

// ================================================================ in-place updates
TEST_CASE("in-place add_, sub_, mul_, copy_, fill_, zero_: values and version bumps") {
  Tensor x = xg::tensor({1, 2, 3});
  uint64_t v = x.version();
  CHECK(v == 0);
  x.add_(xg::ones({3}), 2.0);
  CHECK(vec(x) == V{3, 4, 5});
  CHECK(x.version() == ++v);
  x.add_(xg::tensor({1, 1, 1}));
  CHECK(vec(x) == V{4, 5, 6});
  CHECK(x.version() == ++v);
  x.sub_(xg::tensor({1, 2, 3}));
  CHECK(vec(x) == V{3, 3, 3});
  CHECK(x.version() == ++v);
  x.sub_(xg::scalar_tensor(1), 0.5);  // broadcast, alpha
  CHECK(vec(x) == V{2.5, 2.5, 2.5});
  CHECK(x.version() == ++v);
  x.mul_(xg::tensor({1, 2, 4}));
  CHECK(vec(x) == V{2.5, 5, 10});
  CHECK(x.version() == ++v);
  x.mul_(0.5);
  CHECK(vec(x) == V{1.25, 2.5, 5});
  CHECK(x.version() == ++v);
  x.copy_(xg::tensor({7, 8, 9}, {.dtype = Dtype::float64}));  // converted to float32
  CHECK(x.dtype() == Dtype::float32);
  CHECK(vec(x) == V{7, 8, 9});
  CHECK(x.version() == ++v);
  x.fill_(-1.5);
  CHECK(vec(x) == V{-1.5, -1.5, -1.5});
  CHECK(x.version() == ++v);
  x.zero_();
  CHECK(vec(x) == V{0, 0, 0});
  CHECK(x.version() == ++v);

  Tensor m = xg::zeros({2, 3});
  m.copy_(xg::tensor({1, 2, 3}));  // a row broadcast down
  CHECK(vec(m) == V{1, 2, 3, 1, 2, 3});
  m.add_(xg::tensor({10, 20}, {2, 1}));
  CHECK(vec(m) == V{11, 12, 13, 21, 22, 23});

  Tensor n = i64({1, 2, 3});
  n.add_(i64({1, 1, 1}), 3);
  CHECK(n.to_vector<int64_t>() == std::vector<int64_t>{4, 5, 6});
  n.sub_(i64({4, 4, 4}));
  CHECK(n.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2});

  // the returned reference is the tensor itself (chaining)
  Tensor c = xg::ones({2});
  c.add_(xg::ones({2})).mul_(3.0);
  CHECK(vec(c) == V{6, 6});
  // an optimizer step on a leaf requiring grad, under NoGradGuard
  Tensor w = xg::ones({2}, {.requires_grad = true});
  {
    xg::NoGradGuard guard;
    w.sub_(xg::tensor({0.5, 0.25}), 2.0);
  }
  CHECK(vec(w) == V{0, 0.5});
  CHECK(w.requires_grad());
  CHECK(w.version() == 1);
}

TEST_CASE("reshape is a view: shared storage and version counter") {
  Tensor x = xg::arange(6);
  Tensor y = x.reshape({2, 3});
  CHECK(y.shape() == Shape{2, 3});
  CHECK(y.impl()->storage == x.impl()->storage);
  CHECK(y.raw_data() == x.raw_data());
  y.fill_(7);
  CHECK(vec(x) == V(6, 7.0));
  x.add_(xg::arange(6));
  CHECK(y.at({1, 2}) == 12);
  CHECK(x.version() == y.version());
  CHECK(x.version() == 2);
  Tensor z = xg::view(y, {3, -1});
  CHECK(z.shape() == Shape{3, 2});
  CHECK(z.raw_data() == x.raw_data());
  Tensor f = xg::flatten(xg::unsqueeze(y, 0));
  CHECK(f.shape() == Shape{6});
  CHECK(f.raw_data() == x.raw_data());

  // with a tensor that requires grad: writes under NoGradGuard are seen through the view
  Tensor w = xg::tensor({1, 2, 3, 4}, {.requires_grad = true});
  Tensor wv = w.reshape({2, 2});
  CHECK(wv.requires_grad());
  CHECK_FALSE(wv.is_leaf());
  CHECK(wv.grad_fn()->name() == std::string("reshape"));
  {
    xg::NoGradGuard guard;
    w.mul_(10.0);
  }
  CHECK(vec(wv) == V{10, 20, 30, 40});
  CHECK(wv.version() == w.version());
  {
    xg::NoGradGuard guard;
    wv.fill_(5);
  }
  CHECK(vec(w) == V{5, 5, 5, 5});
  CHECK(w.version() == 2);
}

TEST_CASE("detach shares storage and does not require grad; clone copies") {
  Tensor w = xg::tensor({1, 2, 3}, {.requires_grad = true});
  Tensor d = w.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK_FALSE(d.grad_fn());
  CHECK(d.raw_data() == w.raw_data());
  d.fill_(4);  // allowed: d does not require grad
  CHECK(vec(w) == V{4, 4, 4});
  CHECK(w.version() == d.version());
  CHECK(w.version() == 1);
  Tensor nd = (w * 2.0).detach();
  CHECK_FALSE(nd.requires_grad());
  CHECK(vec(nd) == V{8, 8, 8});

  Tensor x = xg::tensor({1, 2, 3});
  Tensor c = x.clone();
  CHECK(c.raw_data() != x.raw_data());
  CHECK(vec(c) == V{1, 2, 3});
  c.fill_(0);
  CHECK(vec(x) == V{1, 2, 3});
  CHECK(x.version() == 0);
  CHECK(c.dtype() == x.dtype());
  Tensor ci = i64({5, 6}).clone();
  CHECK(ci.dtype() == Dtype::int64);
  CHECK(ci.to_vector<int64_t>() == std::vector<int64_t>{5, 6});
  // clone of a tensor requiring grad is recorded and passes the gradient through
  Tensor wc = w.clone();
  CHECK(wc.grad_fn()->name() == std::string("clone"));
  xg::sum(wc * xg::tensor({1, 2, 3})).backward();
  CHECK(vec(w.grad()) == V{1, 2, 3});
}

// ================================================================ comparisons
TEST_CASE("comparisons return 0/1 masks of the operand dtype") {
  Tensor a = xg::tensor({1, 2, 3});
  Tensor b = xg::tensor({3, 2, 1});
  CHECK(vec(xg::eq(a, b)) == V{0, 1, 0});
  CHECK(vec(xg::ne(a, b)) == V{1, 0, 1});
  CHECK(vec(xg::lt(a, b)) == V{1, 0, 0});
  CHECK(vec(xg::le(a, b)) == V{1, 1, 0});
  CHECK(vec(xg::gt(a, b)) == V{0, 0, 1});
  CHECK(vec(xg::ge(a, b)) == V{0, 1, 1});
  CHECK(xg::eq(a, b).dtype() == Dtype::float32);
  CHECK(vec(xg::gt(a, 1.5)) == V{0, 1, 1});
  CHECK(vec(xg::le(a, 2.0)) == V{1, 1, 0});
  CHECK(vec(xg::eq(a, 3.0)) == V{0, 0, 1});
  CHECK(vec(xg::ne(a, 3.0)) == V{1, 1, 0});
  CHECK(vec(xg::lt(a, 2.0)) == V{1, 0, 0});
  CHECK(vec(xg::ge(a, 2.0)) == V{0, 1, 1});

  Tensor n = i64({1, 5, 3});
  Tensor nm = xg::gt(n, i64({2, 2, 2}));
  CHECK(nm.dtype() == Dtype::int64);
  CHECK(nm.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 1});
  Tensor mixed = xg::lt(n, xg::tensor({2, 2, 4}, {.dtype = Dtype::float64}));
  CHECK(mixed.dtype() == Dtype::float64);
  CHECK(vec(mixed) == V{1, 0, 1});
  CHECK(xg::lt(n, 2.5).dtype() == Dtype::float32);
  CHECK(vec(xg::lt(n, 2.5)) == V{1, 0, 0});

  // broadcasting, and no gradient even when an operand requires grad
  Tensor w = xg::tensor({1, 2, 3, 4}, {2, 2}, {.requires_grad = true});
  Tensor m = xg::ge(w, xg::tensor({2, 3}));
  CHECK(vec(m) == V{0, 0, 1, 1});
  CHECK_FALSE(m.requires_grad());
  CHECK_FALSE(m.grad_fn());
  // a mask multiplies like any tensor
  CHECK(vec(w * m) == V{0, 0, 3, 4});
}

// ================================================================ reductions
TEST_CASE("reductions: sum, mean, prod, max, min with axes and keepdim") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(xg::sum(x).item() == 21);
  CHECK(xg::sum(x).dim() == 0);
  CHECK(x.sum().item() == 21);
  CHECK(vec(xg::sum(x, {0})) == V{5, 7, 9});
  CHECK(vec(xg::sum(x, {1})) == V{6, 15});
  CHECK(xg::sum(x, {1}, true).shape() == Shape{2, 1});
  CHECK(xg::sum(x, {0, 1}).item() == 21);
  CHECK(xg::sum(x, {}, true).shape() == Shape{1, 1});
  CHECK(xg::sum(x).dtype() == Dtype::float64);
  CHECK(xg::sum(i64({1, 2, 3})).dtype() == Dtype::int64);
  CHECK(xg::sum(i64({1, 2, 3})).item() == 6);
  CHECK(xg::sum(xg::zeros({0, 3}), {0}).shape() == Shape{3});
  CHECK(vec(xg::sum(xg::zeros({0, 3}), {0})) == V{0, 0, 0});

  CHECK(xg::mean(x).item() == 3.5);
  CHECK(x.mean().item() == 3.5);
  CHECK(vec(xg::mean(x, {0})) == V{2.5, 3.5, 4.5});
  CHECK(vec(xg::mean(x, {1}, true)) == V{2, 5});

  CHECK(xg::prod(x).item() == 720);
  CHECK(vec(xg::prod(x, {1})) == V{6, 120});
  CHECK(vec(xg::prod(x, {0}, true)) == V{4, 10, 18});
  CHECK(xg::prod(x, {0}, true).shape() == Shape{1, 3});

  CHECK(xg::max(x).item() == 6);
  CHECK(xg::min(x).item() == 1);
  CHECK(vec(xg::max(x, {0})) == V{4, 5, 6});
  CHECK(vec(xg::max(x, {1})) == V{3, 6});
  CHECK(vec(xg::min(x, {1}, true)) == V{1, 4});
  CHECK(xg::min(x, {1}, true).shape() == Shape{2, 1});
  CHECK(xg::max(xg::tensor({-5, -2, -9})).item() == -2);
  CHECK(xg::min(i64({7, -3, 2})).item() == -3);

  // a 3-D tensor over two non-adjacent axes
  Tensor y = xg::arange(24, {.dtype = Dtype::float64}).reshape({2, 3, 4});
  Tensor s02 = xg::sum(y, {0, 2});
  CHECK(s02.shape() == Shape{3});
  // axis 1 = j: sum over i, k of 12 i + 4 j + k = 2 * (6 + 16 j) + 4 * 12 = 60 + 32 j
  CHECK(vec(s02) == V{60, 92, 124});
  CHECK(xg::sum(y, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(vec(xg::max(y, {-1, 0})) == V{15, 19, 23});
}

TEST_CASE("reductions: var, std, norm, logsumexp") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  // mean 3.5, squared deviations add up to 17.5
  CHECK(xg::var(x).item() == doctest::Approx(3.5));
  CHECK(xg::var(x, {}, 0).item() == doctest::Approx(17.5 / 6));
  CHECK(vec(xg::var(x, {1})) == V{1, 1});
  CHECK(vec(xg::var(x, {0})) == V{4.5, 4.5, 4.5});
  CHECK(xg::var(x, {1}, 1, true).shape() == Shape{2, 1});
  CHECK(xg::std(x).item() == doctest::Approx(std::sqrt(3.5)));
  CHECK(vec(xg::std(x, {1})) == V{1, 1});
  check_values(xg::std(x, {0}, 0), {1.5, 1.5, 1.5}, 1e-6);
  CHECK(std::isnan(xg::var(xg::tensor({3.0})).item()));  // n - 1 = 0

  CHECK(xg::norm(x).item() == doctest::Approx(std::sqrt(91.0)));
  CHECK(xg::norm(x, 1.0).item() == doctest::Approx(21));
  CHECK(xg::norm(x, 3.0).item() == doctest::Approx(std::cbrt(441.0)));
  check_values(xg::norm(x, 2.0, {1}), {std::sqrt(14.0), std::sqrt(77.0)}, 1e-6);
  CHECK(xg::norm(x, 2.0, {1}, true).shape() == Shape{2, 1});
  CHECK(xg::norm(xg::tensor({-3, 4})).item() == doctest::Approx(5));
  CHECK(xg::norm(xg::zeros({3})).item() == 0);

  const double l1 = 3 + std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  check_values(xg::logsumexp(x, {1}), {l1, l1 + 3}, 1e-12);
  CHECK(xg::logsumexp(x, {1}, true).shape() == Shape{2, 1});
  CHECK(xg::logsumexp(x).item() ==
        doctest::Approx(6 + std::log(1 + std::exp(-1.0) + std::exp(-2.0) + std::exp(-3.0) + std::exp(-4.0) +
                                     std::exp(-5.0))));
  // stable for large values
  CHECK(xg::logsumexp(xg::tensor({1000, 1000})).item() == doctest::Approx(1000 + std::log(2.0)));
  CHECK(xg::logsumexp(xg::tensor({-1000, -1000})).item() == doctest::Approx(-1000 + std::log(2.0)));
  CHECK(xg::logsumexp(xg::tensor({-INFINITY, 0})).item() == 0);
}

TEST_CASE("reductions: argmax and argmin") {
  Tensor x = xg::tensor({1, 5, 2, 7, 0, 7}, {2, 3});
  Tensor am = xg::argmax(x, 1);
  CHECK(am.dtype() == Dtype::int64);
  CHECK(am.shape() == Shape{2});
  CHECK(am.to_vector<int64_t>() == std::vector<int64_t>{1, 0});  // the first of the tied 7s
  CHECK(xg::argmax(x, 0).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 1});
  CHECK(xg::argmin(x, 0).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0});
  CHECK(xg::argmin(x, 1).to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  CHECK(xg::argmax(x, 1, true).shape() == Shape{2, 1});
  CHECK(xg::argmax(x, 1, true).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
  CHECK(xg::argmax(xg::tensor({3, 9, 9, 1}), 0).item() == 1);
  CHECK(xg::argmax(xg::tensor({3, 9, 9, 1}), 0).dim() == 0);
  CHECK(xg::argmin(i64({4, -2, 8}), 0).item() == 1);
  Tensor y = xg::arange(24).reshape({2, 3, 4});
  CHECK(xg::argmax(y, 1).shape() == Shape{2, 4});
  CHECK(vec(xg::argmax(y, 1)) == V(8, 2.0));
  CHECK_FALSE(xg::argmax(xg::ones({3}, {.requires_grad = true}), 0).requires_grad());
}

// ================================================================ softmax
TEST_CASE("softmax: rows sum to 1, known values, no NaN at +-100") {
  Tensor s = xg::softmax(xg::tensor({1, 2, 3}, {.dtype = Dtype::float64}));
  check_values(s, {0.09003057317038046, 0.24472847105479767, 0.6652409557748219}, 1e-12);

  xg::manual_seed(3);
  Tensor x = xg::randn({4, 5}) * 3.0;
  Tensor p = xg::softmax(x, -1);
  REQUIRE(p.shape() == Shape{4, 5});
  check_values(xg::sum(p, {1}), V(4, 1.0), 1e-6);
  Tensor q = xg::softmax(x, 0);
  check_values(xg::sum(q, {0}), V(5, 1.0), 1e-6);
  for (double v : vec(p)) CHECK((v > 0 && v < 1));

  Tensor big = xg::softmax(xg::tensor({100, -100, 0, 100}, {2, 2}), 1);
  for (double v : vec(big)) CHECK_FALSE(std::isnan(v));
  check_values(big, {1, 0, 0, 1}, 1e-6);
  Tensor huge = xg::softmax(xg::tensor({1000, 1000, -1000}));
  check_values(huge, {0.5, 0.5, 0}, 1e-6);
  Tensor ls = xg::log_softmax(xg::tensor({100, -100}));
  for (double v : vec(ls)) CHECK(std::isfinite(v));
  check_values(ls, {0, -200}, 1e-6);
  check_values(xg::log_softmax(xg::tensor({1, 2, 3}, {.dtype = Dtype::float64})),
               {std::log(0.09003057317038046), std::log(0.24472847105479767), std::log(0.6652409557748219)},
               1e-12);
  // a row of -inf (fully masked) gives NaN-free values in the other rows
  Tensor masked = xg::softmax(xg::tensor({0, -INFINITY, 0, 0}, {2, 2}), 1);
  check_values(xg::slice(masked, 0, 0, 1), {1, 0}, 1e-6);
  check_values(xg::slice(masked, 0, 1, 2), {0.5, 0.5}, 1e-6);
}

// ================================================================ matmul
TEST_CASE("matmul: 1-D, 2-D, batched and broadcast shapes") {
  SUBCASE("1-D . 1-D is a dot product of shape []") {
    Tensor r = xg::matmul(xg::tensor({1, 2, 3}), xg::tensor({4, 5, 6}));
    CHECK(r.shape() == Shape{});
    CHECK(r.item() == 32);
    CHECK(xg::dot(xg::tensor({1, 2, 3}), xg::tensor({4, 5, 6})).item() == 32);
  }
  SUBCASE("2-D @ 2-D") {
    Tensor r = xg::matmul(xg::tensor({1, 2, 3, 4}, {2, 2}), xg::tensor({5, 6, 7, 8}, {2, 2}));
    CHECK(r.shape() == Shape{2, 2});
    CHECK(vec(r) == V{19, 22, 43, 50});
    Tensor r2 = xg::matmul(xg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}), xg::tensor({1, 0, 0, 1, 1, 1}, {3, 2}));
    CHECK(vec(r2) == V{4, 5, 10, 11});
    CHECK(vec(xg::matmul(f64({1, 2, 3, 4}, {2, 2}), xg::eye(2, -1, {.dtype = Dtype::float64}))) ==
          V{1, 2, 3, 4});
  }
  SUBCASE("1-D @ 2-D and 2-D @ 1-D drop the promoted axis") {
    Tensor m = xg::tensor({5, 6, 7, 8}, {2, 2});
    Tensor r = xg::matmul(xg::tensor({1, 2}), m);
    CHECK(r.shape() == Shape{2});
    CHECK(vec(r) == V{19, 22});
    Tensor r2 = xg::matmul(xg::tensor({1, 2, 3, 4}, {2, 2}), xg::tensor({5, 6}));
    CHECK(r2.shape() == Shape{2});
    CHECK(vec(r2) == V{17, 39});
  }
  SUBCASE("batched [2, 2, 2] @ [2, 2, 2]") {
    Tensor a = xg::tensor({1, 2, 3, 4, 1, 0, 0, 1}, {2, 2, 2});
    Tensor b = xg::tensor({5, 6, 7, 8, 2, 0, 0, 2}, {2, 2, 2});
    Tensor r = xg::matmul(a, b);
    CHECK(r.shape() == Shape{2, 2, 2});
    CHECK(vec(r) == V{19, 22, 43, 50, 2, 0, 0, 2});
  }
  SUBCASE("[2, 2, 2] @ [2, 2] and [2, 2] @ [2, 2, 2] broadcast the matrix") {
    Tensor a = xg::tensor({1, 2, 3, 4, 1, 0, 0, 1}, {2, 2, 2});
    Tensor m = xg::tensor({5, 6, 7, 8}, {2, 2});
    Tensor r = xg::matmul(a, m);
    CHECK(r.shape() == Shape{2, 2, 2});
    CHECK(vec(r) == V{19, 22, 43, 50, 5, 6, 7, 8});
    Tensor r2 = xg::matmul(xg::tensor({1, 2, 3, 4}, {2, 2}), xg::tensor({5, 6, 7, 8, 1, 0, 0, 1}, {2, 2, 2}));
    CHECK(r2.shape() == Shape{2, 2, 2});
    CHECK(vec(r2) == V{19, 22, 43, 50, 1, 2, 3, 4});
    Tensor r3 = xg::matmul(xg::tensor({1, 1}), a);  // 1-D @ 3-D
    CHECK(r3.shape() == Shape{2, 2});
    CHECK(vec(r3) == V{4, 6, 1, 1});
    Tensor r4 = xg::matmul(a, xg::tensor({1, -1}));  // 3-D @ 1-D
    CHECK(r4.shape() == Shape{2, 2});
    CHECK(vec(r4) == V{-1, -1, 1, -1});
  }
  SUBCASE("batch broadcasting [2, 1, 2, 2] @ [3, 2, 2]") {
    // a[i] = (i + 1) I, b[j] = [[1, 2], [3, 4]] + j, so out[i][j] = (i + 1) b[j]
    std::vector<double> av, bv;
    for (int i = 0; i < 2; ++i)  // (element by element: GCC 12 warns falsely on insert of a list here)
      for (double v : {i + 1.0, 0.0, 0.0, i + 1.0}) av.push_back(v);
    for (int j = 0; j < 3; ++j) bv.insert(bv.end(), {1.0 + j, 2.0 + j, 3.0 + j, 4.0 + j});
    Tensor a = xg::tensor(av, Shape{2, 1, 2, 2}), b = xg::tensor(bv, Shape{3, 2, 2});
    Tensor r = xg::matmul(a, b);
    CHECK(r.shape() == Shape{2, 3, 2, 2});
    V want;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 1; k <= 4; ++k) want.push_back((i + 1) * (k + j));  // b[j] = [[1, 2], [3, 4]] + j
    CHECK(vec(r) == want);
  }
  SUBCASE("matmul_t, outer, dtypes, empty inner axis") {
    Tensor a = xg::tensor({1, 2, 3, 4, 5, 6}, {3, 2});  // a^T = [[1, 3, 5], [2, 4, 6]]
    Tensor b = xg::tensor({1, 0, 0, 1, 1, 1}, {3, 2});
    CHECK(vec(xg::matmul_t(a, b, true, false)) == V{6, 8, 8, 10});                        // a^T b
    CHECK(vec(xg::matmul_t(a, a, false, true)) == V{5, 11, 17, 11, 25, 39, 17, 39, 61});  // a a^T
    Tensor o = xg::outer(xg::tensor({1, 2}), xg::tensor({3, 4, 5}));
    CHECK(o.shape() == Shape{2, 3});
    CHECK(vec(o) == V{3, 4, 5, 6, 8, 10});
    Tensor mixed = xg::matmul(xg::ones({2, 2}), xg::ones({2, 2}, {.dtype = Dtype::float64}));
    CHECK(mixed.dtype() == Dtype::float64);
    CHECK(vec(mixed) == V{2, 2, 2, 2});
    Tensor e = xg::matmul(xg::ones({2, 0}), xg::ones({0, 3}));
    CHECK(e.shape() == Shape{2, 3});
    CHECK(vec(e) == V(6, 0.0));
  }
}

// ================================================================ shape ops
TEST_CASE("split and chunk piece shapes and values") {
  Tensor x = xg::arange(14).reshape({7, 2});
  auto p = xg::split(x, 3);
  REQUIRE(p.size() == 3);
  CHECK(p[0].shape() == Shape{3, 2});
  CHECK(p[1].shape() == Shape{3, 2});
  CHECK(p[2].shape() == Shape{1, 2});
  CHECK(vec(p[1]) == V{6, 7, 8, 9, 10, 11});
  CHECK(vec(p[2]) == V{12, 13});
  auto q = xg::split(x, std::vector<int64_t>{2, 5});
  REQUIRE(q.size() == 2);
  CHECK(q[0].shape() == Shape{2, 2});
  CHECK(q[1].shape() == Shape{5, 2});
  auto r = xg::split(xg::arange(12).reshape({2, 6}), std::vector<int64_t>{1, 0, 5}, -1);
  REQUIRE(r.size() == 3);
  CHECK(r[0].shape() == Shape{2, 1});
  CHECK(r[1].shape() == Shape{2, 0});
  CHECK(r[2].shape() == Shape{2, 5});
  CHECK(vec(r[0]) == V{0, 6});
  auto c = xg::chunk(x, 3);
  REQUIRE(c.size() == 3);
  CHECK(c[0].shape() == Shape{3, 2});
  CHECK(c[2].shape() == Shape{1, 2});
  auto c2 = xg::chunk(xg::arange(6), 4);  // as torch.chunk: pieces of ceil(6 / 4) = 2, so 3 pieces
  REQUIRE(c2.size() == 3);
  for (const Tensor& t : c2) CHECK(t.shape() == Shape{2});
  auto c3 = xg::chunk(xg::arange(12).reshape({3, 4}), 2, -1);
  REQUIRE(c3.size() == 2);
  CHECK(c3[1].shape() == Shape{3, 2});
  CHECK(vec(c3[1]) == V{2, 3, 6, 7, 10, 11});
}

TEST_CASE("one_hot values") {
  Tensor h = xg::one_hot(i64({0, 2, 1}), 3);
  CHECK(h.dtype() == Dtype::int64);
  CHECK(h.shape() == Shape{3, 3});
  CHECK(h.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 0, 0, 1, 0, 1, 0});
  Tensor hf = xg::one_hot(i64({3, 0, 1, 1}, {2, 2}), 4, Dtype::float32);
  CHECK(hf.dtype() == Dtype::float32);
  CHECK(hf.shape() == Shape{2, 2, 4});
  CHECK(vec(hf) == V{0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0});
}

TEST_CASE("pad values") {
  Tensor x = xg::tensor({1, 2, 3, 4}, {2, 2});
  Tensor p = xg::pad(x, {1, 2});
  CHECK(p.shape() == Shape{2, 5});
  CHECK(vec(p) == V{0, 1, 2, 0, 0, 0, 3, 4, 0, 0});
  Tensor q = xg::pad(x, {0, 1, 2, 0}, 9);
  CHECK(q.shape() == Shape{4, 3});
  CHECK(vec(q) == V{9, 9, 9, 9, 9, 9, 1, 2, 9, 3, 4, 9});
  CHECK(vec(xg::pad(x, {})) == vec(x));
  Tensor r = xg::pad(xg::tensor({5, 6}), {2, 1}, -1);
  CHECK(vec(r) == V{-1, -1, 5, 6, -1});
  Tensor ip = xg::pad(i64({7}), {1, 1});
  CHECK(ip.dtype() == Dtype::int64);
  CHECK(ip.to_vector<int64_t>() == std::vector<int64_t>{0, 7, 0});
}

TEST_CASE("gather, scatter_add, index_select, index_add values") {
  Tensor x = xg::tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor g = xg::gather(x, 1, i64({2, 0, 1, 1}, {2, 2}));
  CHECK(g.shape() == Shape{2, 2});
  CHECK(vec(g) == V{3, 1, 5, 5});
  CHECK(vec(xg::gather(x, 0, i64({1, 0, 1}, {1, 3}))) == V{4, 2, 6});
  CHECK(vec(xg::gather(x, -1, i64({0, 2}, {2, 1}))) == V{1, 6});

  Tensor s = xg::scatter_add(xg::zeros({2, 3}), 1, i64({2, 0, 2, 1, 1, 0}, {2, 3}), x);
  CHECK(vec(s) == V{2, 0, 4, 6, 9, 0});
  Tensor s0 = xg::scatter_add(xg::ones({2, 2}), 0, i64({1, 1}, {1, 2}), xg::tensor({5, 7}, {1, 2}));
  CHECK(vec(s0) == V{1, 1, 6, 8});

  Tensor m = xg::tensor({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3});
  Tensor is = xg::index_select(m, 0, i64({2, 0, 2}));
  CHECK(is.shape() == Shape{3, 3});
  CHECK(vec(is) == V{7, 8, 9, 1, 2, 3, 7, 8, 9});
  Tensor is1 = xg::index_select(m, -1, i64({1}));
  CHECK(is1.shape() == Shape{3, 1});
  CHECK(vec(is1) == V{2, 5, 8});
  CHECK(xg::index_select(m, 0, i64({})).shape() == Shape{0, 3});

  Tensor ia = xg::index_add(xg::zeros({3, 2}), 0, i64({2, 0, 2}), xg::tensor({1, 1, 2, 2, 3, 3}, {3, 2}));
  CHECK(vec(ia) == V{2, 2, 0, 0, 4, 4});
  Tensor ia1 = xg::index_add(xg::ones({2, 3}), 1, i64({1}), xg::tensor({10, 20}, {2, 1}));
  CHECK(vec(ia1) == V{1, 11, 1, 1, 21, 1});
  // the inputs are untouched: these ops return new tensors
  CHECK(vec(x) == V{1, 2, 3, 4, 5, 6});
}

TEST_CASE("other shape ops: permute, transpose, squeeze, expand, stack, narrow, t") {
  Tensor x = xg::arange(24).reshape({2, 3, 4});
  Tensor p = xg::permute(x, {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == x.at({1, 2, 3}));
  CHECK(p.at({1, 0, 2}) == x.at({0, 2, 1}));
  Tensor tr = xg::transpose(x, 0, 2);
  CHECK(tr.shape() == Shape{4, 3, 2});
  CHECK(tr.at({3, 1, 0}) == x.at({0, 1, 3}));
  Tensor m = xg::tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(vec(xg::t(m)) == V{1, 4, 2, 5, 3, 6});
  CHECK(xg::t(xg::tensor({1, 2})).shape() == Shape{2});
  CHECK(xg::transpose(xg::scalar_tensor(4), 0, -1).item() == 4);

  CHECK(xg::squeeze(xg::zeros({1, 3, 1, 2})).shape() == Shape{3, 2});
  CHECK(xg::squeeze(xg::zeros({3, 1, 2}), 1).shape() == Shape{3, 2});
  CHECK(xg::squeeze(xg::zeros({3, 2}), 0).shape() == Shape{3, 2});  // extent 3: unchanged
  CHECK(xg::squeeze(xg::zeros({1, 1})).shape() == Shape{});

  Tensor e = xg::expand(xg::tensor({1, 2, 3}, {3, 1}), {2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.at({1, 2, 3}) == 3);
  CHECK(e.at({0, 1, 0}) == 2);
  CHECK(xg::expand(xg::tensor({1, 2}, {2, 1}), {-1, 3}).shape() == Shape{2, 3});
  CHECK(vec(xg::sum_to(xg::ones({2, 3, 4}), {3, 1})) == V{8, 8, 8});

  Tensor st = xg::stack({xg::tensor({1, 2}), xg::tensor({3, 4}), xg::tensor({5, 6})}, 1);
  CHECK(st.shape() == Shape{2, 3});
  CHECK(vec(st) == V{1, 3, 5, 2, 4, 6});
  CHECK(xg::stack({xg::tensor({1, 2}), xg::tensor({3, 4})}, -1).shape() == Shape{2, 2});
  CHECK(vec(xg::stack({xg::scalar_tensor(1), xg::scalar_tensor(2)})) == V{1, 2});

  Tensor n = xg::narrow(m, 1, 1, 2);
  CHECK(n.shape() == Shape{2, 2});
  CHECK(vec(n) == V{2, 3, 5, 6});
  CHECK(vec(xg::narrow(m, 1, -1, 1)) == V{3, 6});
  CHECK(xg::flatten(x, 1).shape() == Shape{2, 12});
  CHECK(xg::flatten(x, 0, 1).shape() == Shape{6, 4});
  CHECK(xg::flatten(xg::scalar_tensor(2)).shape() == Shape{1});
}

TEST_CASE("element-wise math values") {
  Tensor x = xg::tensor({-2, -0.5, 0, 0.5, 2}, {.dtype = Dtype::float64});
  check_values(xg::exp(x), {std::exp(-2.0), std::exp(-0.5), 1, std::exp(0.5), std::exp(2.0)}, 1e-12);
  check_values(xg::tanh(x), {std::tanh(-2.0), std::tanh(-0.5), 0, std::tanh(0.5), std::tanh(2.0)}, 1e-12);
  check_values(xg::sigmoid(x),
               {1 / (1 + std::exp(2.0)), 1 / (1 + std::exp(0.5)), 0.5, 1 / (1 + std::exp(-0.5)),
                1 / (1 + std::exp(-2.0))},
               1e-12);
  CHECK(vec(xg::relu(x)) == V{0, 0, 0, 0.5, 2});
  CHECK(vec(xg::abs(x)) == V{2, 0.5, 0, 0.5, 2});
  CHECK(vec(xg::sign(x)) == V{-1, -1, 0, 1, 1});
  CHECK(vec(xg::clamp(x, -1.0, 1.0)) == V{-1, -0.5, 0, 0.5, 1});
  CHECK(vec(xg::clamp(x, std::nullopt, 0.0)) == V{-2, -0.5, 0, 0, 0});
  CHECK(vec(xg::clamp(i64({-5, 3, 9}), 0.0, 4.0)) == V{0, 3, 4});
  check_values(xg::leaky_relu(x, 0.1), {-0.2, -0.05, 0, 0.5, 2}, 1e-12);
  check_values(xg::pow(x, 2.0), {4, 0.25, 0, 0.25, 4}, 1e-12);
  check_values(xg::sqrt(xg::tensor({4, 9, 0.25})), {2, 3, 0.5}, 1e-6);
  check_values(xg::log(xg::tensor({1, std::exp(1.0)}, {.dtype = Dtype::float64})), {0, 1}, 1e-12);
  check_values(xg::softplus(xg::tensor({0, 100, -100}, {.dtype = Dtype::float64})), {std::log(2.0), 100, 0},
               1e-12);
  CHECK(vec(xg::pow(xg::tensor({2, 3}), xg::tensor({3, 2}))) == V{8, 9});
}
