// gradcheck and gradgradcheck: they pass on correct derivatives, and on a wrong one the report
// names exactly the input, the element and the output element, with both values.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;

constexpr xg::TensorOptions f64{.dtype = Dtype::float64, .requires_grad = true};

using xg_test::contains;

// out = a * b^2 element-wise. d/da = b^2, d/db = 2 a b. `wrong` breaks the backward.
enum class Mistake { none, missing_two_on_b, one_element_of_b, constant_in_backward };

xg::CustomOp mul_sq(Mistake m) {
  return xg::CustomOp{"mul_sq", "d/da a b^2 = b^2, d/db a b^2 = 2 a b",
                      [](const std::vector<Tensor>& in) { return in[0] * in[1] * in[1]; },
                      [m](const xg::CustomOpContext& ctx, const Tensor& g) {
                        Tensor a = ctx.input(0), b = ctx.input(1);
                        Tensor ga = g * b * b;
                        Tensor gb = g * 2.0 * a * b;
                        if (m == Mistake::missing_two_on_b) gb = g * a * b;
                        if (m == Mistake::one_element_of_b) {
                          // right everywhere except element [1, 2] of b, where it is 1.5 times too large
                          Tensor factor = xg::ones(b.shape(), {.dtype = b.dtype()});
                          factor.data<double>()[1 * 3 + 2] = 1.5;
                          gb = gb * factor;
                        }
                        return std::vector<Tensor>{ga, gb};
                      }};
}

// cube with a backward whose first derivative is right, but built from a constant copy of x,
// so that differentiating it again gives 0 instead of 6 x.
const xg::CustomOp& cube_const_backward() {
  static const xg::CustomOp op{"cube_const", "d/dx x^3 = 3 x^2 (x detached: wrong second derivative)",
                               [](const std::vector<Tensor>& in) { return in[0] * in[0] * in[0]; },
                               [](const xg::CustomOpContext& ctx, const Tensor& g) {
                                 Tensor c = ctx.input(0).detach();
                                 return std::vector<Tensor>{g * 3.0 * c * c};
                               }};
  return op;
}

}  // namespace

TEST_CASE("gradcheck passes for a correct function") {
  Tensor x = xg::tensor({0.5, -1, 2}, f64);
  Tensor y = xg::tensor({1, 0.3, -0.7}, f64);
  auto f = [](const std::vector<Tensor>& in) {
    return xg::sum(in[0] * xg::sin(in[1])) + xg::sum(xg::tanh(in[0]));
  };
  xg::GradcheckReport r = xg::gradcheck(f, {x, y});
  CHECK(r.passed);
  CHECK(static_cast<bool>(r));
  CHECK(r.check == "gradcheck");
  CHECK(r.inputs_checked == 2);
  CHECK(r.entries_checked == 6);  // one scalar output, 3 + 3 input elements
  CHECK(r.mismatch_count == 0);
  CHECK(r.mismatches.empty());
  CHECK(r.error.empty());
  CHECK(r.max_abs_error < 1e-7);
  CHECK(contains(r.str(), "gradcheck passed"));
  CHECK(contains(r.str(), "2 input(s)"));
  // the inputs are unchanged afterwards (perturbations restored)
  CHECK(x.to_vector<double>() == std::vector<double>{0.5, -1, 2});
  CHECK(y.to_vector<double>() == std::vector<double>{1, 0.3, -0.7});
  CHECK_FALSE(x.grad().defined());

  xg::GradcheckReport r2 = xg::gradgradcheck(f, {x, y});
  CHECK_MESSAGE(r2.passed, r2.str());
  CHECK(r2.check == "gradgradcheck");
  CHECK(r2.inputs_checked == 3);  // x, y and the cotangent
  CHECK(contains(r2.str(), "gradgradcheck passed"));
}

TEST_CASE("gradcheck skips inputs that do not require grad") {
  Tensor x = xg::tensor({0.5, -1}, f64);
  Tensor c = xg::tensor({3, 4}, {.dtype = Dtype::float64});
  Tensor idx = xg::from_vector(std::vector<int64_t>{1, 0}, {2});
  auto f = [](const std::vector<Tensor>& in) { return xg::index_select(in[0] * in[1], 0, in[2]); };
  xg::GradcheckReport r = xg::gradcheck(f, {x, c, idx});
  CHECK_MESSAGE(r.passed, r.str());
  CHECK(r.inputs_checked == 1);
  CHECK(r.entries_checked == 4);  // 2 output elements x 2 input elements
}

TEST_CASE("a correct custom op passes; the reference implementation of the broken ones is right") {
  Tensor a = xg::tensor({1, 2, -1, 0.5, 3, -2}, {2, 3}, f64);
  Tensor b = xg::tensor({0.5, -1, 2, 1.5, -0.25, 1}, {2, 3}, f64);
  auto f = [op = mul_sq(Mistake::none)](const std::vector<Tensor>& in) { return op(in); };
  xg::GradcheckReport r = xg::gradcheck(f, {a, b});
  CHECK_MESSAGE(r.passed, r.str());
  CHECK(r.entries_checked == 2 * 36);
  xg::GradcheckReport rr = xg::gradgradcheck(f, {a, b});
  CHECK_MESSAGE(rr.passed, rr.str());
}

TEST_CASE("a missing factor 2 on input 1 only: every mismatch names input 1") {
  const std::vector<double> av{1, 2, -1, 0.5, 3, -2}, bv{0.5, -1, 2, 1.5, -0.25, 1};
  Tensor a = xg::tensor(av, {2, 3}, f64);
  Tensor b = xg::tensor(bv, {2, 3}, f64);
  auto f = [op = mul_sq(Mistake::missing_two_on_b)](const std::vector<Tensor>& in) { return op(in); };
  xg::GradcheckOptions o;
  o.max_failures = 10;
  xg::GradcheckReport r = xg::gradcheck(f, {a, b}, o);
  CHECK_FALSE(r.passed);
  CHECK_FALSE(static_cast<bool>(r));
  CHECK(r.mismatch_count == 6);  // the 6 diagonal entries of d out / d b; off-diagonal ones are 0 = 0
  REQUIRE(r.mismatches.size() == 6);
  for (const auto& m : r.mismatches) {
    CHECK(m.input == 1);
    CHECK(m.output == 0);
    CHECK(m.input_index == m.output_index);
    const int64_t e = m.input_index[0] * 3 + m.input_index[1];
    CHECK(m.analytic == doctest::Approx(av[e] * bv[e]).epsilon(1e-9));
    CHECK(m.numerical == doctest::Approx(2 * av[e] * bv[e]).epsilon(1e-6));
    CHECK(m.abs_error == doctest::Approx(std::fabs(av[e] * bv[e])).epsilon(1e-6));
    CHECK(m.rel_error == doctest::Approx(0.5).epsilon(1e-6));
  }
  CHECK(r.max_rel_error == doctest::Approx(0.5).epsilon(1e-6));
  // the default lists at most 5
  xg::GradcheckReport r5 = xg::gradcheck(f, {a, b});
  CHECK(r5.mismatch_count == 6);
  CHECK(r5.mismatches.size() == 5);
  const std::string s = r5.str();
  CHECK(contains(s, "gradcheck FAILED"));
  CHECK(contains(s, "6 of 72"));
  CHECK(contains(s, "input 1 element ["));
  CHECK_FALSE(contains(s, "input 0 element"));
}

TEST_CASE("a mistake in one element only: the report names input 1 element [1, 2] and nothing else") {
  const std::vector<double> av{1, 2, -1, 0.5, 3, -2}, bv{0.5, -1, 2, 1.5, -0.25, 1};
  Tensor a = xg::tensor(av, {2, 3}, f64);
  Tensor b = xg::tensor(bv, {2, 3}, f64);
  auto f = [op = mul_sq(Mistake::one_element_of_b)](const std::vector<Tensor>& in) { return op(in); };
  xg::GradcheckReport r = xg::gradcheck(f, {a, b});
  CHECK_FALSE(r.passed);
  CHECK(r.error.empty());
  CHECK(r.inputs_checked == 2);
  CHECK(r.entries_checked == 72);
  CHECK(r.mismatch_count == 1);
  REQUIRE(r.mismatches.size() == 1);
  const xg::GradcheckMismatch& m = r.mismatches[0];
  CHECK(m.input == 1);
  CHECK(m.input_index == std::vector<int64_t>{1, 2});
  CHECK(m.output == 0);
  CHECK(m.output_index == std::vector<int64_t>{1, 2});
  const double right = 2 * av[5] * bv[5];  // 2 * -2 * 1 = -4
  CHECK(m.analytic == doctest::Approx(1.5 * right).epsilon(1e-9));
  CHECK(m.numerical == doctest::Approx(right).epsilon(1e-6));
  CHECK(m.abs_error == doctest::Approx(0.5 * std::fabs(right)).epsilon(1e-6));
  CHECK(m.rel_error == doctest::Approx(0.5).epsilon(1e-6));
  const std::string s = r.str();
  CAPTURE(s);
  CHECK(contains(s, "1 of 72"));
  CHECK(contains(s, "input 1 element [1, 2], output 0 element [1, 2]: analytic -6, numerical -4"));
}

TEST_CASE("tolerances: a small error passes or fails depending on atol and rtol") {
  // backward off by 1e-4 relative on every element
  xg::CustomOp slightly{
      "slightly", "d/dx 2x = 2 (1 + 1e-4)", [](const std::vector<Tensor>& in) { return in[0] * 2.0; },
      [](const xg::CustomOpContext&, const Tensor& g) { return std::vector<Tensor>{g * 2.0002}; }};
  auto f = [slightly](const std::vector<Tensor>& in) { return slightly(in); };
  Tensor x = xg::tensor({1, 2}, f64);
  CHECK(xg::gradcheck(f, {x}).passed);  // default rtol 1e-3
  xg::GradcheckOptions strict;
  strict.atol = 1e-9;
  strict.rtol = 1e-6;
  xg::GradcheckReport r = xg::gradcheck(f, {x}, strict);
  CHECK_FALSE(r.passed);
  CHECK(r.mismatch_count == 2);
  CHECK(r.max_abs_error == doctest::Approx(2e-4).epsilon(1e-3));
}

TEST_CASE("gradgradcheck catches a wrong second derivative when the first is right") {
  const std::vector<double> xv{1, -2, 0.5};
  Tensor x = xg::tensor(xv, f64);
  auto f = [](const std::vector<Tensor>& in) { return cube_const_backward()(in); };
  xg::GradcheckReport first = xg::gradcheck(f, {x});
  CHECK_MESSAGE(first.passed, first.str());

  SUBCASE("with the default cotangents sin(1.7 k + 0.3)") {
    xg::GradcheckReport r = xg::gradgradcheck(f, {x});
    CHECK_FALSE(r.passed);
    CHECK(r.check == "gradgradcheck");
    CHECK(r.inputs_checked == 2);  // x and the cotangent v
    CHECK(r.mismatch_count == 3);  // d vjp_k / d x_k = 6 x_k v_k is reported as 0; d/dv is right
    REQUIRE(r.mismatches.size() == 3);
    for (const auto& m : r.mismatches) {
      CHECK(m.input == 0);
      CHECK(m.input_index == m.output_index);
      const int64_t k = m.input_index[0];
      const double v = std::sin(1.7 * static_cast<double>(k) + 0.3);
      CHECK(m.analytic == doctest::Approx(0.0));
      CHECK(m.numerical == doctest::Approx(6 * xv[k] * v).epsilon(1e-6));
    }
    CHECK(contains(r.str(), "gradgradcheck FAILED"));
    CHECK(contains(r.str(), "input 0 element"));
    CHECK_FALSE(contains(r.str(), "input 1 element"));
  }
  SUBCASE("with given cotangents") {
    Tensor v = xg::tensor({1, 1, 1}, {.dtype = Dtype::float64});
    xg::GradcheckReport r = xg::gradgradcheck(
        xg::MultiFunction([f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in)}; }), {x}, {},
        {v});
    CHECK_FALSE(r.passed);
    REQUIRE(r.mismatch_count == 3);
    REQUIRE(r.mismatches.size() == 3);
    for (const auto& m : r.mismatches) {
      CHECK(m.input == 0);
      CHECK(m.analytic == doctest::Approx(0.0));
      CHECK(m.numerical == doctest::Approx(6 * xv[m.input_index[0]]).epsilon(1e-6));
    }
    // worst first: all relative errors are 1, so check the listing is sorted
    for (std::size_t i = 1; i < r.mismatches.size(); ++i)
      CHECK(r.mismatches[i - 1].rel_error >= r.mismatches[i].rel_error);
  }
}

TEST_CASE("gradcheck rejects float32 inputs with a TypeError naming the input") {
  Tensor x = xg::tensor({1, 2}, f64);
  Tensor y = xg::tensor({1, 2}, {.dtype = Dtype::float32, .requires_grad = true});
  auto f = [](const std::vector<Tensor>& in) { return xg::sum(in[0] * in[1]); };
  CHECK_ERROR(xg::gradcheck(f, {x, y}), xg::TypeError, "gradcheck:", "input 1 is float32");
  CHECK_ERROR(xg::gradgradcheck(f, {x, y}), xg::TypeError, "input 1 is float32");
  // float32 that does not require grad is fine (not checked)
  Tensor c = xg::tensor({3, 4}, {.dtype = Dtype::float32});
  xg::GradcheckReport r = xg::gradcheck(
      [](const std::vector<Tensor>& in) { return xg::sum(in[0] * in[1].to(Dtype::float64)); }, {x, c});
  CHECK_MESSAGE(r.passed, r.str());
  CHECK(r.inputs_checked == 1);
  CHECK_ERROR(xg::gradcheck(f, {x, Tensor()}), xg::ValueError, "gradcheck: input 1 is undefined");
}

TEST_CASE("multi-output functions are checked output by output") {
  Tensor x = xg::tensor({0.5, -1, 2}, f64);
  Tensor y = xg::tensor({1, 0.3}, f64);
  xg::MultiFunction good = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{xg::sin(in[0]), xg::outer(in[0], in[1]), xg::sum(in[1] * in[1])};
  };
  xg::GradcheckReport r = xg::gradcheck(good, {x, y});
  CHECK_MESSAGE(r.passed, r.str());
  // output elements 3 + 6 + 1 = 10, input elements 3 + 2 = 5
  CHECK(r.entries_checked == 50);
  xg::GradcheckReport rr = xg::gradgradcheck(good, {x, y});
  CHECK_MESSAGE(rr.passed, rr.str());

  // output 1 comes from a broken custom op: only output 1 and input 1 are named
  const std::vector<double> av{1, 2, -1, 0.5, 3, -2}, bv{0.5, -1, 2, 1.5, -0.25, 1};
  Tensor a = xg::tensor(av, {2, 3}, f64);
  Tensor b = xg::tensor(bv, {2, 3}, f64);
  xg::MultiFunction bad = [op = mul_sq(Mistake::one_element_of_b)](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] * in[1], op(in)};
  };
  xg::GradcheckReport rb = xg::gradcheck(bad, {a, b});
  CHECK_FALSE(rb.passed);
  REQUIRE(rb.mismatch_count == 1);
  REQUIRE(rb.mismatches.size() == 1);
  CHECK(rb.mismatches[0].input == 1);
  CHECK(rb.mismatches[0].output == 1);
  CHECK(rb.mismatches[0].input_index == std::vector<int64_t>{1, 2});
  CHECK(rb.mismatches[0].output_index == std::vector<int64_t>{1, 2});
  CHECK(contains(rb.str(), "input 1 element [1, 2], output 1 element [1, 2]"));

  // an output that does not depend on the inputs: its analytic row is 0 and matches
  xg::MultiFunction with_const = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] * 2.0, xg::ones({2}, {.dtype = Dtype::float64})};
  };
  xg::GradcheckReport rc = xg::gradcheck(with_const, {x});
  CHECK_MESSAGE(rc.passed, rc.str());
  CHECK(rc.entries_checked == 15);
}

TEST_CASE("gradcheck flags a kink, where the one-sided analytic value differs from central differences") {
  // relu(x - 0.5) at x = 0.5: analytic 0 (relu's gradient at 0), numerical (1 - 0) / 2 = 0.5.
  Tensor x = xg::tensor({0.5, 2}, f64);
  auto f = [](const std::vector<Tensor>& in) { return xg::relu(in[0] - 0.5); };
  xg::GradcheckReport r = xg::gradcheck(f, {x});
  CHECK_FALSE(r.passed);
  REQUIRE(r.mismatch_count == 1);
  REQUIRE(r.mismatches.size() == 1);
  CHECK(r.mismatches[0].input_index == std::vector<int64_t>{0});
  CHECK(r.mismatches[0].analytic == doctest::Approx(0.0));
  CHECK(r.mismatches[0].numerical == doctest::Approx(0.5).epsilon(1e-6));
}

TEST_CASE("a NaN derivative fails the check") {
  xg::CustomOp nan_grad{
      "nan_grad", "returns NaN", [](const std::vector<Tensor>& in) { return in[0] * 1.0; },
      [](const xg::CustomOpContext&, const Tensor& g) { return std::vector<Tensor>{g * NAN}; }};
  auto f = [nan_grad](const std::vector<Tensor>& in) { return nan_grad(in); };
  Tensor x = xg::tensor({1}, f64);
  xg::GradcheckReport r = xg::gradcheck(f, {x});
  CHECK_FALSE(r.passed);
  CHECK(r.mismatch_count == 1);
  CHECK(std::isinf(r.max_abs_error));
}

TEST_CASE("a function that throws gives a failed report with the error, and the inputs restored") {
  Tensor x = xg::tensor({1, 2}, f64);
  // throws only at the perturbed point x[1] = 2 + eps
  auto f = [](const std::vector<Tensor>& in) {
    if (in[0].to_vector<double>()[1] > 2.0) throw xg::ValueError("f: out of its domain");
    return in[0] * 2.0;
  };
  xg::GradcheckReport r = xg::gradcheck(f, {x});
  CHECK_FALSE(r.passed);
  CHECK(r.error == "f: out of its domain");
  CHECK(r.mismatches.empty());
  CHECK(contains(r.str(), "gradcheck could not run: f: out of its domain"));
  CHECK(x.to_vector<double>() == std::vector<double>{1, 2});  // the perturbed element was put back

  // a custom op whose backward returns the wrong number of gradients: the error names the op
  xg::CustomOp bad{"bad_count", "two gradients for one input",
                   [](const std::vector<Tensor>& in) { return in[0] * 2.0; },
                   [](const xg::CustomOpContext&, const Tensor& g) {
                     return std::vector<Tensor>{g, g};
                   }};
  xg::GradcheckReport rb = xg::gradcheck([bad](const std::vector<Tensor>& in) { return bad(in); }, {x});
  CHECK_FALSE(rb.passed);
  CHECK(contains(rb.error, "bad_count"));
  xg::GradcheckReport rg = xg::gradgradcheck([bad](const std::vector<Tensor>& in) { return bad(in); }, {x});
  CHECK_FALSE(rg.passed);
  CHECK(rg.check == "gradgradcheck");
  CHECK(contains(rg.error, "bad_count"));
  CHECK(contains(rg.str(), "gradgradcheck could not run"));
}
