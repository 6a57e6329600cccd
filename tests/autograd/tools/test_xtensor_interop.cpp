// autograd/tools/xtensor_interop.hpp: to_xarray, from_xexpression, as_xtensor, with values checked
// element by element for float32, float64 and int64, and a gradient through a tensor that came
// from an xtensor expression.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/autograd/tools/xtensor_interop.hpp"

namespace {

template <class A>
std::vector<std::size_t> shape_of(const A& a) {
  return {a.shape().begin(), a.shape().end()};
}

}  // namespace

TEST_CASE("to_xarray copies float64 values and shape") {
  xg::Tensor t = xg::tensor({1.5, -2.0, 3.25, 0.0, 1e300, -1e-300}, {2, 3}, {.dtype = xg::Dtype::float64});
  xt::xarray<double> a = xg::to_xarray<double>(t);
  CHECK(shape_of(a) == std::vector<std::size_t>{2, 3});
  CHECK(a(0, 0) == 1.5);
  CHECK(a(0, 1) == -2.0);
  CHECK(a(0, 2) == 3.25);
  CHECK(a(1, 0) == 0.0);
  CHECK(a(1, 1) == 1e300);
  CHECK(a(1, 2) == -1e-300);

  // A copy: writing to one leaves the other alone.
  a(0, 0) = 42.0;
  CHECK(t.at({0, 0}) == 1.5);
  t.fill_(7.0);
  CHECK(a(1, 0) == 0.0);
}

TEST_CASE("to_xarray copies float32 values") {
  xg::Tensor t = xg::from_vector(std::vector<float>{0.1f, 0.2f, -0.3f, 4.0f}, {4});
  REQUIRE(t.dtype() == xg::Dtype::float32);
  xt::xarray<float> a = xg::to_xarray<float>(t);
  CHECK(shape_of(a) == std::vector<std::size_t>{4});
  CHECK(a(0) == 0.1f);
  CHECK(a(1) == 0.2f);
  CHECK(a(2) == -0.3f);
  CHECK(a(3) == 4.0f);
}

TEST_CASE("to_xarray copies int64 values, including ones a double cannot hold exactly") {
  const int64_t big = (int64_t{1} << 53) + 1;
  xg::Tensor t = xg::from_vector(std::vector<int64_t>{big, -big, 0, -1, 2, 3}, {3, 1, 2});
  xt::xarray<int64_t> a = xg::to_xarray<int64_t>(t);
  CHECK(shape_of(a) == std::vector<std::size_t>{3, 1, 2});
  CHECK(a(0, 0, 0) == big);
  CHECK(a(0, 0, 1) == -big);
  CHECK(a(1, 0, 0) == 0);
  CHECK(a(1, 0, 1) == -1);
  CHECK(a(2, 0, 0) == 2);
  CHECK(a(2, 0, 1) == 3);
}

TEST_CASE("to_xarray of a 0-d tensor and of an empty tensor") {
  xg::Tensor s = xg::scalar_tensor(2.5, {.dtype = xg::Dtype::float64});
  xt::xarray<double> a = xg::to_xarray<double>(s);
  CHECK(a.dimension() == 0);
  CHECK(a.size() == 1);
  CHECK(a() == 2.5);

  xg::Tensor e = xg::zeros({0, 3}, {.dtype = xg::Dtype::float64});
  xt::xarray<double> b = xg::to_xarray<double>(e);
  CHECK(shape_of(b) == std::vector<std::size_t>{0, 3});
  CHECK(b.size() == 0);
}

TEST_CASE("to_xarray with the wrong element type throws TypeError") {
  xg::Tensor f32 = xg::ones({2});
  CHECK_ERROR(xg::to_xarray<double>(f32), xg::TypeError, "data: requested float64 from a float32 tensor");
  CHECK_ERROR(xg::to_xarray<int64_t>(f32), xg::TypeError, "data: requested int64 from a float32 tensor");
  xg::Tensor i64 = xg::from_vector(std::vector<int64_t>{1, 2}, {2});
  CHECK_ERROR(xg::to_xarray<float>(i64), xg::TypeError, "data: requested float32 from a int64 tensor");
}

TEST_CASE("from_xexpression copies an xarray of each dtype") {
  SUBCASE("float64") {
    xt::xarray<double> a = {{1.0, 2.0, 3.0}, {-4.0, 5.5, 6.0}};
    xg::Tensor t = xg::from_xexpression(a);
    CHECK(t.dtype() == xg::Dtype::float64);
    CHECK(t.shape() == xg::Shape{2, 3});
    CHECK(t.to_vector<double>() == std::vector<double>{1.0, 2.0, 3.0, -4.0, 5.5, 6.0});
    CHECK_FALSE(t.requires_grad());
    CHECK(t.is_leaf());
    // A copy: the source may change or die afterwards.
    a(0, 0) = 100.0;
    CHECK(t.at({0, 0}) == 1.0);
  }
  SUBCASE("float32") {
    xt::xtensor<float, 2> a = {{0.5f, -0.25f}, {0.125f, 8.0f}};
    xg::Tensor t = xg::from_xexpression(a);
    CHECK(t.dtype() == xg::Dtype::float32);
    CHECK(t.shape() == xg::Shape{2, 2});
    CHECK(t.to_vector<float>() == std::vector<float>{0.5f, -0.25f, 0.125f, 8.0f});
  }
  SUBCASE("int64") {
    xt::xarray<int64_t> a = xt::arange<int64_t>(-3, 3);
    a.reshape({3, 2});
    xg::Tensor t = xg::from_xexpression(a);
    CHECK(t.dtype() == xg::Dtype::int64);
    CHECK(t.shape() == xg::Shape{3, 2});
    CHECK(t.to_vector<int64_t>() == std::vector<int64_t>{-3, -2, -1, 0, 1, 2});
  }
}

TEST_CASE("from_xexpression evaluates lazy expressions, views and other layouts in row-major order") {
  xt::xarray<double> a = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};

  SUBCASE("a lazy arithmetic expression") {
    xg::Tensor t = xg::from_xexpression(2.0 * a + 1.0);
    CHECK(t.shape() == xg::Shape{2, 3});
    CHECK(t.to_vector<double>() == std::vector<double>{3.0, 5.0, 7.0, 9.0, 11.0, 13.0});
  }
  SUBCASE("a transposed (non-contiguous) view") {
    xg::Tensor t = xg::from_xexpression(xt::transpose(a));
    CHECK(t.shape() == xg::Shape{3, 2});
    CHECK(t.to_vector<double>() == std::vector<double>{1.0, 4.0, 2.0, 5.0, 3.0, 6.0});
  }
  SUBCASE("a strided slice") {
    xg::Tensor t = xg::from_xexpression(xt::view(a, xt::all(), xt::range(0, 3, 2)));
    CHECK(t.shape() == xg::Shape{2, 2});
    CHECK(t.to_vector<double>() == std::vector<double>{1.0, 3.0, 4.0, 6.0});
  }
  SUBCASE("a column-major array") {
    xt::xarray<double, xt::layout_type::column_major> c = a;
    xg::Tensor t = xg::from_xexpression(c);
    CHECK(t.shape() == xg::Shape{2, 3});
    CHECK(t.to_vector<double>() == std::vector<double>{1.0, 2.0, 3.0, 4.0, 5.0, 6.0});
  }
  SUBCASE("a 0-d expression") {
    xt::xarray<double> s = xt::sum(a);
    xg::Tensor t = xg::from_xexpression(s);
    CHECK(t.dim() == 0);
    CHECK(t.item() == 21.0);
  }
  SUBCASE("an empty array") {
    xt::xarray<float> e = xt::zeros<float>({std::size_t{2}, std::size_t{0}});
    xg::Tensor t = xg::from_xexpression(e);
    CHECK(t.dtype() == xg::Dtype::float32);
    CHECK(t.shape() == xg::Shape{2, 0});
    CHECK(t.numel() == 0);
  }
}

TEST_CASE("from_xexpression with requires_grad makes a float leaf; int64 cannot require grad") {
  xt::xarray<float> a = {1.0f, 2.0f};
  xg::Tensor t = xg::from_xexpression(a, true);
  CHECK(t.requires_grad());
  CHECK(t.is_leaf());
  CHECK_FALSE(t.grad_fn());

  xt::xarray<int64_t> i = {1, 2};
  CHECK_ERROR(xg::from_xexpression(i, true), xg::TypeError, "requires_grad_:", "int64");
}

TEST_CASE("round trip xarray -> tensor -> xarray is exact") {
  xt::xarray<double> a = {{{0.1, 0.2}, {0.3, 0.4}}, {{-1e-20, 1e20}, {3.141592653589793, -0.0}}};
  xt::xarray<double> b = xg::to_xarray<double>(xg::from_xexpression(a));
  CHECK(shape_of(b) == shape_of(a));
  CHECK(b == a);

  xt::xarray<float> af = {0.1f, 1e-30f, 3e30f};
  CHECK(xg::to_xarray<float>(xg::from_xexpression(af)) == af);

  xt::xarray<int64_t> ai = {INT64_MIN, INT64_MAX, 0};
  CHECK(xg::to_xarray<int64_t>(xg::from_xexpression(ai)) == ai);
}

TEST_CASE("as_xtensor is a view over the tensor's own storage") {
  xg::Tensor t = xg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {3, 2}, {.dtype = xg::Dtype::float64});
  auto v = xg::as_xtensor<double>(t);
  CHECK(shape_of(v) == std::vector<std::size_t>{3, 2});
  CHECK(v.size() == 6);
  CHECK(v(0, 1) == 2.0);
  CHECK(v(2, 0) == 5.0);
  CHECK(xt::sum(v)() == 21.0);

  // No copy: a write through the view shows in the tensor and the reverse.
  CHECK(v.data() == t.data<double>());
  v(1, 1) = -8.0;
  CHECK(t.at({1, 1}) == -8.0);
  t.fill_(0.5);
  CHECK(v(2, 1) == 0.5);

  // xtensor algorithms can write into it in place.
  v = xt::ones<double>({3, 2}) * 3.0;
  CHECK(t.to_vector<double>() == std::vector<double>(6, 3.0));
}

TEST_CASE("as_xtensor for float32 and int64, and a wrong element type") {
  xg::Tensor f = xg::from_vector(std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f}, {2, 2});
  auto vf = xg::as_xtensor<float>(f);
  CHECK(vf(1, 0) == 3.0f);
  vf(1, 0) = 9.0f;
  CHECK(f.at({1, 0}) == 9.0);

  xg::Tensor i = xg::arange(6.0, {.dtype = xg::Dtype::int64});
  auto vi = xg::as_xtensor<int64_t>(i);
  CHECK(shape_of(vi) == std::vector<std::size_t>{6});
  CHECK(xt::sum(vi)() == 15);
  vi(5) = int64_t{1} << 60;
  CHECK(i.to_vector<int64_t>()[5] == int64_t{1} << 60);

  CHECK_ERROR(xg::as_xtensor<double>(f), xg::TypeError, "data: requested float64 from a float32 tensor");
  CHECK_ERROR(xg::as_xtensor<float>(i), xg::TypeError, "data: requested float32 from a int64 tensor");
}

namespace {

// d/dw of sum(tanh(x @ w)) + 0.5 * sum(w^2) = x^T (1 - tanh(x @ w)^2) + w, with xtensor only.
xt::xarray<double> expected_grad(const xt::xarray<double>& x, const xt::xarray<double>& w) {
  xt::xarray<double> z = xt::sum(
      xt::view(x, xt::all(), xt::all(), xt::newaxis()) * xt::view(w, xt::newaxis(), xt::all(), xt::all()),
      {1});  // [n, k] @ [k, m]
  xt::xarray<double> dt = 1.0 - xt::square(xt::tanh(z));
  xt::xarray<double> g = xt::sum(
      xt::view(x, xt::all(), xt::all(), xt::newaxis()) * xt::view(dt, xt::all(), xt::newaxis(), xt::all()),
      {0});  // x^T dt
  return g + w;
}

}  // namespace

TEST_CASE("gradient through a tensor created from an xtensor expression") {
  const xt::xarray<double> xv = {{1.0, -2.0, 0.5}, {0.0, 3.0, -1.0}, {2.0, 1.0, 1.0}, {-0.5, 0.25, 2.0}};
  xt::xarray<double> w0 = 0.1 * xt::arange<double>(6) - 0.25;
  w0.reshape({3, 2});
  const xt::xarray<double> want = expected_grad(xv, w0);
  REQUIRE(shape_of(want) == std::vector<std::size_t>{3, 2});

  SUBCASE("float64 leaf made from a lazy expression") {
    xg::Tensor w = xg::from_xexpression(xt::reshape_view(0.1 * xt::arange<double>(6) - 0.25, {3, 2}), true);
    REQUIRE(w.shape() == xg::Shape{3, 2});
    xg::Tensor x = xg::from_xexpression(xv);
    xg::Tensor loss = xg::sum(xg::tanh(xg::matmul(x, w))) + 0.5 * xg::sum(w * w);
    loss.backward();
    REQUIRE(w.grad().defined());
    xt::xarray<double> got = xg::to_xarray<double>(w.grad());
    CHECK(shape_of(got) == shape_of(want));
    CHECK(xt::allclose(got, want, 1e-12, 1e-14));
    CHECK_FALSE(x.grad().defined());
  }

  SUBCASE("1-d leaf reshaped inside the graph: the gradient comes back in the leaf's shape") {
    xg::Tensor w = xg::from_xexpression(0.1 * xt::arange<double>(6) - 0.25, true);
    xg::Tensor x = xg::from_xexpression(xv);
    xg::Tensor wm = w.reshape({3, 2});
    xg::Tensor loss = xg::sum(xg::tanh(xg::matmul(x, wm))) + 0.5 * xg::sum(wm * wm);
    loss.backward();
    xt::xarray<double> got = xg::to_xarray<double>(w.grad());
    CHECK(shape_of(got) == std::vector<std::size_t>{6});
    CHECK(xt::allclose(got, xt::flatten(want), 1e-12, 1e-14));
  }

  SUBCASE("float32 leaf") {
    xt::xarray<float> w0f = xt::cast<float>(w0);
    xg::Tensor w = xg::from_xexpression(w0f, true);
    xg::Tensor x = xg::from_xexpression(xt::xarray<float>(xt::cast<float>(xv)));
    xg::Tensor loss = xg::sum(xg::tanh(xg::matmul(x, w))) + 0.5 * xg::sum(w * w);
    loss.backward();
    REQUIRE(w.grad().dtype() == xg::Dtype::float32);
    xt::xarray<float> got = xg::to_xarray<float>(w.grad());
    // Compare with the float64 result computed from the float32-rounded inputs.
    xt::xarray<double> want32 = expected_grad(xt::cast<double>(xt::cast<float>(xv)), xt::cast<double>(w0f));
    CHECK(xt::allclose(xt::cast<double>(got), want32, 1e-5, 1e-6));
  }

  SUBCASE("a gradient read through as_xtensor, and an SGD step written through it") {
    xg::Tensor w = xg::from_xexpression(w0, true);
    xg::Tensor x = xg::from_xexpression(xv);
    xg::Tensor loss = xg::sum(xg::tanh(xg::matmul(x, w))) + 0.5 * xg::sum(w * w);
    loss.backward();
    xg::Tensor g = w.grad();
    auto gv = xg::as_xtensor<double>(g);
    CHECK(xt::allclose(gv, want, 1e-12, 1e-14));
    {
      xg::NoGradGuard no_grad;
      auto wv = xg::as_xtensor<double>(w);
      wv -= 0.1 * gv;
    }
    CHECK(xt::allclose(xg::to_xarray<double>(w), w0 - 0.1 * want, 1e-12, 1e-14));
  }
}
