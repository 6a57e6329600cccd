// Gradient clipping: the total norm of all gradients (2, 1, 3 and infinity norms), the clipped
// values, what is left alone, and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/optim/clip.hpp"

namespace {

namespace optim = xg::optim;
using xg::Dtype;
using xg::Tensor;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Two parameters with gradients [3, -4] and [12] (float64): 2-norm 13, 1-norm 19, max 12.
struct Grads {
  Tensor a = xg::zeros({2}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor b = xg::zeros({1, 1}, {.dtype = Dtype::float64, .requires_grad = true});
  Grads() {
    a.set_grad(xg::tensor({3.0, -4.0}, {.dtype = Dtype::float64}));
    b.set_grad(xg::tensor({12.0}, {1, 1}, {.dtype = Dtype::float64}));
  }
  std::vector<Tensor> params() const { return {a, b}; }
};

}  // namespace

TEST_CASE("clip_grad_norm_ returns the total 2-norm and scales by max_norm / (total + 1e-6)") {
  Grads g;
  const double total = optim::clip_grad_norm_(g.params(), 6.5);
  CHECK(total == doctest::Approx(13.0).epsilon(1e-15));
  const double c = 6.5 / (13.0 + 1e-6);
  CHECK(g.a.grad().to_vector<double>() == std::vector<double>{3.0 * c, -4.0 * c});
  CHECK(g.b.grad().to_vector<double>() == std::vector<double>{12.0 * c});
  // the new total is just below max_norm
  CHECK(optim::clip_grad_norm_(g.params(), 100.0) == doctest::Approx(6.5).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm_ with other norm types") {
  SUBCASE("infinity: the largest magnitude") {
    Grads g;
    CHECK(optim::clip_grad_norm_(g.params(), 6.0, kInf) == 12.0);
    const double c = 6.0 / (12.0 + 1e-6);
    CHECK(g.a.grad().to_vector<double>() == std::vector<double>{3.0 * c, -4.0 * c});
  }
  SUBCASE("1-norm") {
    Grads g;
    CHECK(optim::clip_grad_norm_(g.params(), 100.0, 1.0) == 19.0);
  }
  SUBCASE("3-norm") {
    Grads g;
    CHECK(optim::clip_grad_norm_(g.params(), 100.0, 3.0) ==
          doctest::Approx(std::cbrt(27.0 + 64.0 + 1728.0)).epsilon(1e-14));
  }
}

TEST_CASE("clip_grad_norm_ leaves gradients below max_norm alone") {
  Grads g;
  const uint64_t v = g.a.grad().version();
  CHECK(optim::clip_grad_norm_(g.params(), 13.5) == doctest::Approx(13.0));
  CHECK(g.a.grad().to_vector<double>() == std::vector<double>{3.0, -4.0});
  CHECK(g.a.grad().version() == v);
}

TEST_CASE("clip_grad_norm_ skips parameters without gradients, mixes dtypes") {
  Tensor none = xg::zeros({3}, {.requires_grad = true});
  Tensor f32 = xg::zeros({2}, {.requires_grad = true});
  f32.set_grad(xg::tensor({6.0, 8.0}));  // float32, norm 10
  CHECK(optim::clip_grad_norm_({none}, 1.0) == 0.0);
  CHECK(optim::clip_grad_norm_({none, f32}, 5.0) == doctest::Approx(10.0).epsilon(1e-15));
  CHECK_FALSE(none.grad().defined());
  CHECK(f32.grad().dtype() == Dtype::float32);
  CHECK(f32.grad().to_vector<double>()[0] == doctest::Approx(3.0).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm_ with a non-finite norm") {
  Grads g;
  g.b.set_grad(xg::tensor({NAN}, {1, 1}, {.dtype = Dtype::float64}));
  SUBCASE("error_if_nonfinite") {
    CHECK_ERROR(optim::clip_grad_norm_(g.params(), 1.0, 2.0, true), xg::ValueError, "clip_grad_norm_", "nan");
    CHECK(g.a.grad().to_vector<double>() == std::vector<double>{3.0, -4.0});
  }
  SUBCASE("otherwise the gradients become NaN, as PyTorch's") {
    CHECK(std::isnan(optim::clip_grad_norm_(g.params(), 1.0)));
    CHECK(std::isnan(g.a.grad().to_vector<double>()[0]));
  }
  SUBCASE("infinity norm sees the NaN too") {
    CHECK(std::isnan(optim::clip_grad_norm_(g.params(), 100.0, kInf)));
  }
}

TEST_CASE("clip_grad_value_ clamps every element") {
  Grads g;
  optim::clip_grad_value_(g.params(), 3.5);
  CHECK(g.a.grad().to_vector<double>() == std::vector<double>{3.0, -3.5});
  CHECK(g.b.grad().to_vector<double>() == std::vector<double>{3.5});
  optim::clip_grad_value_(g.params(), 0.0);
  CHECK(g.a.grad().to_vector<double>() == std::vector<double>{0.0, 0.0});
}

TEST_CASE("clipping errors") {
  Grads g;
  CHECK_ERROR(optim::clip_grad_norm_(g.params(), -1.0), xg::ValueError,
              "clip_grad_norm_: invalid max_norm = -1");
  CHECK_ERROR(optim::clip_grad_norm_(g.params(), 1.0, 0.0), xg::ValueError,
              "clip_grad_norm_: invalid norm_type = 0");
  CHECK_ERROR(optim::clip_grad_norm_(g.params(), 1.0, -kInf), xg::ValueError,
              "clip_grad_norm_: invalid norm_type = -inf");
  CHECK_ERROR(optim::clip_grad_value_(g.params(), -0.5), xg::ValueError,
              "clip_grad_value_: invalid clip_value = -0.5");
  CHECK_ERROR(optim::clip_grad_norm_({Tensor()}, 1.0), xg::ValueError,
              "clip_grad_norm_: a parameter is undefined");
}
