// Edge values that used to be undefined behaviour (found with scripts/sanitize.sh): int64
// arithmetic at its limits wraps around as PyTorch's does, float values that int64 cannot hold
// are a ValueError instead of a garbage conversion, and shapes whose element count overflows are
// a ShapeError instead of a too-small allocation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

namespace {
using xg::Dtype;
using xg::Tensor;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

using xg_test::i64;
std::vector<int64_t> ivec(const Tensor& t) {
  return t.to_vector<int64_t>();
}

}  // namespace

TEST_CASE("int64 add, sub, mul, neg and abs wrap around at the limits") {
  CHECK(ivec(xg::add(i64({kMax, kMin}), i64({1, -1}))) == std::vector<int64_t>{kMin, kMax});
  CHECK(ivec(xg::sub(i64({kMin}), i64({1}))) == std::vector<int64_t>{kMax});
  CHECK(ivec(xg::mul(i64({kMax}), i64({2}))) == std::vector<int64_t>{-2});
  CHECK(ivec(xg::neg(i64({kMin, 5}))) == std::vector<int64_t>{kMin, -5});
  CHECK(ivec(xg::abs(i64({kMin, -5}))) == std::vector<int64_t>{kMin, 5});
  CHECK(ivec(i64({kMax}) + 1.0) == std::vector<int64_t>{kMin});
}

TEST_CASE("int64 sum and prod wrap around") {
  CHECK(xg::sum(i64({kMax, 1})).item<int64_t>() == kMin);
  CHECK(ivec(xg::sum(xg::from_vector(std::vector<int64_t>{kMax, 1, 2, 3}, {2, 2}), {0})) ==
        std::vector<int64_t>{kMin + 1, 4});
  CHECK(xg::prod(i64({kMax, 2})).item<int64_t>() == -2);
}

TEST_CASE("int64 in-place updates wrap around") {
  Tensor a = i64({kMax});
  a.add_(i64({1}));
  CHECK(ivec(a) == std::vector<int64_t>{kMin});
  a.sub_(i64({1}));
  CHECK(ivec(a) == std::vector<int64_t>{kMax});
  a.mul_(i64({2}));
  CHECK(ivec(a) == std::vector<int64_t>{-2});
  a.fill_(static_cast<double>(int64_t{1} << 62));
  a.mul_(4.0);
  CHECK(ivec(a) == std::vector<int64_t>{0});
}

TEST_CASE("item<int64_t> of an int64 tensor is exact beyond 2^53; a value that does not fit throws") {
  const int64_t big = (int64_t{1} << 53) + 1;
  CHECK(i64({big}).item<int64_t>() == big);
  CHECK(i64({kMax}).item<int64_t>() == kMax);
  CHECK(i64({kMin}).item<int64_t>() == kMin);
  CHECK(xg::tensor({-2.75}).item<int64_t>() == -2);
  CHECK(xg::tensor({300.0}).item<int>() == 300);
  CHECK_ERROR(xg::tensor({NAN}).item<int64_t>(), xg::ValueError, "item:", "does not fit the integer type");
  CHECK_ERROR(xg::tensor({INFINITY}).item<int64_t>(), xg::ValueError,
              "item:", "does not fit the integer type");
  CHECK_ERROR(xg::scalar_tensor(1e19, {.dtype = Dtype::float64}).item<int64_t>(), xg::ValueError,
              "item:", "does not fit the integer type");
  CHECK_ERROR(xg::scalar_tensor(3e9, {.dtype = Dtype::float64}).item<int>(), xg::ValueError,
              "item:", "does not fit the integer type");
}

TEST_CASE("float values int64 cannot hold are a ValueError naming the op") {
  const auto I = Dtype::int64;
  CHECK_ERROR(xg::full({2}, NAN, {.dtype = I}), xg::ValueError,
              "full: value nan cannot be converted to int64");
  CHECK_ERROR(xg::full({2}, INFINITY, {.dtype = I}), xg::ValueError, "full: value inf");
  CHECK_ERROR(xg::full({2}, 1e19, {.dtype = I}), xg::ValueError,
              "full: value 1e+19 cannot be converted to int64");
  CHECK_ERROR(xg::tensor({1.0, NAN}, {.dtype = I}), xg::ValueError, "tensor: value nan");
  CHECK_ERROR(xg::tensor({1.5, NAN}).to(Dtype::int64), xg::ValueError, "to: value nan");
  CHECK_ERROR(xg::tensor({-1e30}, {.dtype = Dtype::float64}).to(Dtype::int64), xg::ValueError,
              "to: value -1e+30 cannot be converted to int64");
  CHECK_ERROR(xg::tensor({INFINITY}).to_vector<int64_t>(), xg::ValueError, "to_vector: value inf");
  CHECK_ERROR(xg::zeros({2}, {.dtype = I}).fill_(-INFINITY), xg::ValueError, "fill_: value -inf");
  CHECK_ERROR(xg::ones({2}, {.dtype = I}).mul_(1e300), xg::ValueError, "mul_: value 1e+300");
  CHECK_ERROR(
      [&] {
        Tensor a = xg::ones({2}, {.dtype = I});
        a.add_(a, NAN);
      }(),
      xg::ValueError, "add_: value nan");
  CHECK_ERROR(xg::zeros({2}, {.dtype = I}).copy_(xg::tensor({0.0, NAN})), xg::ValueError,
              "value nan cannot be converted to int64");
  CHECK_ERROR(xg::clamp(i64({1}), 1e30, std::nullopt), xg::ValueError, "clamp: value 1e+30");
  // in range: truncated toward zero, as a C++ conversion
  CHECK(ivec(xg::tensor({2.9, -2.9, -9.2e18}, {.dtype = Dtype::float64}).to(Dtype::int64)) ==
        std::vector<int64_t>{2, -2, -9200000000000000000});
  CHECK(ivec(xg::full({1}, -0x1p63, {.dtype = I})) == std::vector<int64_t>{kMin});
  CHECK(ivec(xg::clamp(i64({kMin, 0, kMax}), -1.0, 1.0)) == std::vector<int64_t>{-1, 0, 1});
}

TEST_CASE("shapes whose element count overflows are a ShapeError, not a short allocation") {
  const int64_t big = int64_t{1} << 40;
  CHECK_ERROR(xg::zeros({big, big}), xg::ShapeError, "too many elements");
  CHECK_ERROR(xg::linspace(0, 1, kMax), xg::ShapeError, "too many elements");
  CHECK_ERROR(xg::one_hot(i64({0}), kMax), xg::ShapeError, "too many elements");
  CHECK_ERROR(xg::expand(xg::ones({1}), {int64_t{1} << 62, 8}), xg::ShapeError, "too many elements");
  CHECK_ERROR(xg::reshape(xg::zeros({0}), {int64_t{1} << 62, 4}), xg::ShapeError,
              "reshape:", "the element count overflows");
  CHECK_ERROR(xg::reshape(xg::arange(6), {int64_t{1} << 62, 4, -1}), xg::ShapeError,
              "reshape:", "the element count overflows");
  CHECK_ERROR(xg::pad(xg::arange(5), {kMax, kMax}), xg::ShapeError, "pad:", "overflows its extent");
  CHECK_ERROR(xg::arange(0, 1e300), xg::ValueError, "arange:", "are too many");
  // a zero extent makes any shape empty
  CHECK(xg::zeros({big, big, 0}).numel() == 0);
}

TEST_CASE("argument arithmetic that used to overflow int64") {
  // narrow: start + length beyond int64
  CHECK_ERROR(xg::narrow(xg::arange(5), 0, 2, kMax), xg::IndexError,
              "narrow: range [2, 2 + 9223372036854775807)");
  // chunk into more pieces than elements: one element each
  std::vector<Tensor> parts = xg::chunk(xg::arange(5), kMax);
  CHECK(parts.size() == 5);
  // var with a correction far beyond the count: no int64 overflow in count - correction
  CHECK(std::isfinite(xg::var(xg::tensor({1.0, 2.0}), {}, kMin).item()));
  // randint over the whole int64 range
  xg::manual_seed(3);
  Tensor r = xg::randint(kMin, kMax, {64});
  bool any_big = false;
  for (int64_t v : ivec(r)) any_big = any_big || v > (int64_t{1} << 60) || v < -(int64_t{1} << 60);
  CHECK(any_big);
  CHECK(ivec(xg::randint(kMax - 1, kMax, {3})) == std::vector<int64_t>(3, kMax - 1));
}

TEST_CASE("printing int64 extremes") {
  const std::string s = xg::to_string(i64({kMin, 0}));
  CHECK(s.find("-9223372036854775808") != std::string::npos);
}

TEST_CASE("exp, tanh, sigmoid and erf of infinities and NaN (the vectorised kernels)") {
  for (Dtype d : {Dtype::float32, Dtype::float64}) {
    CAPTURE(xg::dtype_name(d));
    // 19 values: two full SIMD batches and a tail for every vector width
    std::vector<double> v = {-INFINITY, INFINITY, NAN,       -1e300,   1e300, -1e30, 1e30, -1000, 1000,     0,
                             1,         -1,       -INFINITY, INFINITY, NAN,   50,    -50,  NAN,   -INFINITY};
    if (d == Dtype::float32)
      for (double& x : v)
        if (std::isfinite(x) && std::fabs(x) > 1e30) x = x > 0 ? INFINITY : -INFINITY;
    Tensor x = xg::tensor(v, {.dtype = d});
    const std::vector<double> e = xg::exp(x).to_vector<double>(), t = xg::tanh(x).to_vector<double>();
    const std::vector<double> s = xg::sigmoid(x).to_vector<double>(), f = xg::erf(x).to_vector<double>();
    for (std::size_t i = 0; i < v.size(); ++i) {
      CAPTURE(v[i]);
      if (std::isnan(v[i])) {
        CHECK(std::isnan(e[i]));
        CHECK(std::isnan(t[i]));
        CHECK(std::isnan(s[i]));
        CHECK(std::isnan(f[i]));
      } else if (std::fabs(v[i]) >= 1000) {
        CHECK(e[i] == (v[i] > 0 ? INFINITY : 0.0));
        CHECK(t[i] == (v[i] > 0 ? 1.0 : -1.0));
        CHECK(s[i] == (v[i] > 0 ? 1.0 : 0.0));
        CHECK(f[i] == (v[i] > 0 ? 1.0 : -1.0));
      } else {
        const double tol = d == Dtype::float32 ? 1e-6 : 1e-14;
        CHECK(e[i] == doctest::Approx(std::exp(v[i])).epsilon(tol));
        CHECK(t[i] == doctest::Approx(std::tanh(v[i])).epsilon(tol));
        CHECK(s[i] == doctest::Approx(1 / (1 + std::exp(-v[i]))).epsilon(tol));
        CHECK(f[i] == doctest::Approx(std::erf(v[i])).epsilon(tol));
      }
    }
  }
}

TEST_CASE("relu propagates NaN as PyTorch (torch.relu(torch.tensor([nan, -1., 2.])))") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> y =
      xg::relu(xg::tensor({nan, -1, 2}, {.dtype = xg::Dtype::float64})).to_vector<double>();
  CHECK(std::isnan(y[0]));
  CHECK(y[1] == 0);
  CHECK(y[2] == 2);
  const std::vector<float> yf = xg::relu(xg::tensor({nan, -1, 2})).to_vector<float>();
  CHECK(std::isnan(yf[0]));
  CHECK(yf[1] == 0);
}
