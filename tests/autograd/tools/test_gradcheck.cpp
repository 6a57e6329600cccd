// gradcheck and gradgradcheck: they pass on correct derivatives, and on a wrong one the report
// names exactly the input, the element and the output element, with both values.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/autograd/tools/inspect.hpp"

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

// ---------------------------------------------------------------- names and localisation

namespace {
// y = 3 x, with a backward that says 2 (the wrong one) or 3.
xg::CustomOp triple(double said) {
  return xg::CustomOp{
      "triple", "d/dx 3x = 3", [](const std::vector<Tensor>& in) { return in[0] * 3.0; },
      [said](const xg::CustomOpContext&, const Tensor& g) { return std::vector<Tensor>{g * said}; }};
}
// L = sum(triple(tanh(x * W))^2): steps 1 mul, 2 tanh, 3 triple, 4 mul, 5 sum.
Tensor larger(const xg::CustomOp& op, const std::vector<Tensor>& in) {
  Tensor h = xg::tanh(in[0] * in[1]);
  Tensor y = op({h});
  return xg::sum(y * y);
}
}  // namespace

TEST_CASE("a failing check of a larger function names the inputs and the recorded op that is wrong") {
  Tensor x = xg::tensor({0.5, -0.3, 0.8}, f64);
  x.name("x");
  Tensor W = xg::tensor({0.2, 0.7, -0.4}, f64);  // unnamed: named by the options
  auto f = [op = triple(2.0)](const std::vector<Tensor>& in) { return larger(op, in); };
  xg::GradcheckOptions o;
  o.names = {"", "W"};
  xg::GradcheckReport r = xg::gradcheck(f, {x, W}, o);
  CHECK_FALSE(r.passed);
  CHECK(r.mismatch_count == 6);  // every element of both inputs: the gradient is 2/3 of the truth
  REQUIRE(!r.mismatches.empty());
  for (const auto& m : r.mismatches) {
    CHECK(m.rel_error == doctest::Approx(1.0 / 3).epsilon(1e-6));
    CHECK(m.input_name == (m.input == 0 ? "x" : "W"));
  }
  const std::string s = r.str();
  CAPTURE(s);
  CHECK((contains(s, "\n  x[") || contains(s, "\n  W[")));
  CHECK_FALSE(contains(s, "input 0"));
  // localised: step 3, the custom op, on the output of tanh (step 2)
  REQUIRE(r.localised);
  CHECK(r.culprit.step == 3);
  CHECK(r.culprit.op == "triple");
  CHECK(r.culprit.inputs == std::vector<std::string>{"t2"});
  CHECK(r.culprit.output == "t3");
  CHECK(r.culprit.analytic == doctest::Approx(2.0 / 3 * r.culprit.numerical).epsilon(1e-6));
  CHECK(r.culprit.rel_error == doctest::Approx(1.0 / 3).epsilon(1e-6));
  REQUIRE(r.nodes.size() == 5);
  CHECK(r.nodes[0].op == "mul");
  CHECK(r.nodes[0].inputs == std::vector<std::string>{"x", "W"});
  CHECK(r.nodes[0].passed);
  CHECK(r.nodes[1].passed);  // tanh
  CHECK_FALSE(r.nodes[2].passed);
  CHECK(r.nodes[3].passed);
  CHECK(r.nodes[4].output == "L");
  CHECK(contains(s,
                 "the first op whose backward disagrees with finite differences of that op alone: step 3 "
                 "'triple'(t2) -> t3"));
  CHECK(W.name().empty());  // the report's names are not left on the tensors

  // and in the step-by-step trace of the same function
  xg::InspectGuard inspect;
  Tensor L = f({x, W});
  xg::BackwardTrace trace = xg::backward_trace(L);
  xg::mark_culprit(trace, r);
  REQUIRE(trace.find(3) != nullptr);
  CHECK(contains(trace.find(3)->note, "<- gradcheck: this op's backward disagrees"));
  CHECK(trace.find(2)->note.empty());
  const std::string t = trace.str();
  CAPTURE(t);
  CHECK(contains(t, "step 3  t3 = triple(t2)"));
  CHECK(contains(t, "<- gradcheck"));
}

TEST_CASE("check_nodes: every op of a correct function agrees; a multi-output op is said to be unchecked") {
  Tensor x = xg::tensor({0.5, -0.3, 0.8}, f64);
  Tensor W = xg::tensor({0.2, 0.7, -0.4}, f64);
  auto f = [op = triple(3.0)](const std::vector<Tensor>& in) { return larger(op, in); };
  CHECK(xg::gradcheck(f, {x, W}).passed);
  std::vector<xg::NodeCheck> nodes = xg::check_nodes(f, {x, W});
  REQUIRE(nodes.size() == 5);
  for (const auto& n : nodes) {
    CHECK_MESSAGE(n.checked, n.str());
    CHECK_MESSAGE(n.passed, n.str());
    CHECK(n.abs_error < 1e-7);
  }
  CHECK(nodes[0].inputs == std::vector<std::string>{"input 0", "input 1"});
  // two outputs: not checkable alone, and the report says so
  xg::CustomOp split2{"split2", "identity twice",
                      [](xg::CustomOpForwardContext&, const std::vector<Tensor>& in) {
                        return std::vector<Tensor>{in[0] * 1.0, in[0] * 1.0};
                      },
                      [](const xg::CustomOpContext&, const std::vector<Tensor>& g) {
                        return std::vector<Tensor>{g[0] + g[1] * 0.5};  // wrong for output 1
                      }};
  auto g = [split2](const std::vector<Tensor>& in) {
    std::vector<Tensor> ab = split2.apply({in[0]});
    return xg::sum(ab[0] * ab[1]);
  };
  xg::GradcheckReport r = xg::gradcheck(g, {x});
  CHECK_FALSE(r.passed);
  CHECK_FALSE(r.localised);
  REQUIRE(r.nodes.size() == 3);
  CHECK_FALSE(r.nodes[0].checked);
  CHECK(contains(r.nodes[0].why_not, "2 outputs"));
  CHECK(contains(r.localisation,
                 "could not be checked alone: step 1 'split2'(input 0) -> t1: it has 2 outputs"));
}

TEST_CASE("fast mode: random projections pass on a right backward and name the wrong elements") {
  Tensor x = xg::tensor({0.5, -0.3, 0.8}, f64);
  x.name("x");
  Tensor W = xg::tensor({0.2, 0.7, -0.4}, f64);
  W.name("W");
  xg::GradcheckOptions fast;
  fast.fast = true;
  auto good = [op = triple(3.0)](const std::vector<Tensor>& in) { return larger(op, in); };
  xg::GradcheckReport ok = xg::gradcheck(good, {x, W}, fast);
  CHECK_MESSAGE(ok.passed, ok.str());
  REQUIRE(ok.projections.size() == 2);
  CHECK(ok.projections[0].input_name == "x");
  CHECK(ok.projections[0].abs_error < 1e-8);
  CHECK(ok.entries_checked == 0);  // nothing checked densely

  auto bad = [op = triple(2.0)](const std::vector<Tensor>& in) { return larger(op, in); };
  xg::GradcheckReport r = xg::gradcheck(bad, {x, W}, fast);
  CHECK_FALSE(r.passed);
  REQUIRE(r.projections.size() == 2);
  for (const auto& p : r.projections) {
    CHECK_FALSE(p.passed);
    CHECK(p.analytic == doctest::Approx(2.0 / 3 * p.numerical).epsilon(1e-6));
  }
  CHECK(r.entries_checked == 6);  // both inputs densely, all 3 elements wrong in each
  CHECK(r.mismatch_count == 6);
  REQUIRE(!r.mismatches.empty());
  // a scalar output: the element mismatches are true derivatives, output 0 element []
  for (const auto& m : r.mismatches) {
    CHECK(m.output == 0);
    CHECK(m.rel_error == doctest::Approx(1.0 / 3).epsilon(1e-6));
  }
  CHECK(r.localised);
  CHECK(r.culprit.step == 3);
  CHECK(contains(r.str(), "x: along a random direction v"));
}

TEST_CASE("float32 mode: float32 inputs are checked with float32 tolerances") {
  Tensor x = xg::tensor({0.5f, -0.3f, 0.8f}, {.dtype = Dtype::float32, .requires_grad = true});
  Tensor W = xg::tensor({0.2f, 0.7f, -0.4f}, {.dtype = Dtype::float32, .requires_grad = true});
  auto good = [op = triple(3.0)](const std::vector<Tensor>& in) { return larger(op, in); };
  xg::GradcheckReport ok = xg::gradcheck(good, {x, W}, xg::float32_options());
  CHECK_MESSAGE(ok.passed, ok.str());
  CHECK(ok.max_rel_error < 1e-2);
  CHECK(ok.max_rel_error > 1e-9);  // float32 finite differences are not exact
  // the default float64 tolerances would flag float32 noise as mistakes; float64-only is the default
  CHECK_ERROR(xg::gradcheck(good, {x, W}), xg::TypeError, "input 0 is float32");
  xg::GradcheckOptions fast = xg::float32_options();
  fast.fast = true;
  CHECK(xg::gradcheck(good, {x, W}, fast).passed);
  auto bad = [op = triple(2.0)](const std::vector<Tensor>& in) { return larger(op, in); };
  xg::GradcheckReport r = xg::gradcheck(bad, {x, W}, xg::float32_options());
  CHECK_FALSE(r.passed);
  CHECK(r.mismatch_count == 6);
}

TEST_CASE("check_backward: a hand-written backward compared with autograd names the first wrong tensor") {
  // y = x * W (element-wise), z = sum(y); hand backward: dx = g W, dW = g x, with one mistake in dW[1]
  Tensor x = xg::tensor({1.0, 2.0, 3.0}, f64);
  x.name("x");
  Tensor W = xg::tensor({0.5, -1.0, 2.0}, f64);
  W.name("W");
  auto f = [](const std::vector<Tensor>& in) { return in[0] * in[1]; };
  auto right = [](const std::vector<Tensor>& in, const std::vector<Tensor>& g) {
    return std::vector<Tensor>{g[0] * in[1], g[0] * in[0]};
  };
  xg::GradcheckReport ok = xg::check_backward(f, right, {x, W});
  CHECK_MESSAGE(ok.passed, ok.str());
  CHECK(ok.entries_checked == 6);
  CHECK(ok.max_abs_error == 0.0);
  auto wrong = [](const std::vector<Tensor>& in, const std::vector<Tensor>& g) {
    Tensor dW = g[0] * in[0];
    dW.data<double>()[1] *= 1.5;
    return std::vector<Tensor>{g[0] * in[1], dW};
  };
  xg::GradcheckReport r = xg::check_backward(f, wrong, {x, W});
  CHECK_FALSE(r.passed);
  CHECK(r.check == "check_backward");
  CHECK(r.mismatch_count == 1);
  REQUIRE(r.mismatches.size() == 1);
  CHECK(r.mismatches[0].where() == "W[1]");
  CHECK(r.mismatches[0].analytic == doctest::Approx(1.5 * r.mismatches[0].numerical));
  CHECK(contains(r.str(), "W[1]: hand-written"));
  // a gradient of the wrong shape is named
  auto shaped = [](const std::vector<Tensor>& in, const std::vector<Tensor>& g) {
    return std::vector<Tensor>{xg::sum(g[0] * in[1]), g[0] * in[0]};
  };
  xg::GradcheckReport rs = xg::check_backward(f, shaped, {x, W});
  CHECK_FALSE(rs.passed);
  CHECK(contains(rs.error, "the gradient for x has shape [] but x has shape [3]"));
}
