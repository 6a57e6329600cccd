// Custom ops: forward and backward in user code, recorded on the tape under their own name,
// differentiated once and twice, gradchecked, and checked for backward results of the wrong
// count or shape.
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

using xg_test::check_values;

const xg::CustomOp& cube() {
  static const xg::CustomOp op{"cube", "d/dx x^3 = 3 x^2",
                               [](const std::vector<Tensor>& in) { return in[0] * in[0] * in[0]; },
                               [](const xg::CustomOpContext& ctx, const Tensor& g) {
                                 Tensor x = ctx.input(0);
                                 return std::vector<Tensor>{g * 3.0 * x * x};
                               }};
  return op;
}

// f(a, b) = a * b^2 + sin(a): da = b^2 + cos(a), db = 2 a b
const xg::CustomOp& mul_sq_sin() {
  static const xg::CustomOp op{
      "mul_sq_sin", "d/da = b^2 + cos a, d/db = 2 a b",
      [](const std::vector<Tensor>& in) { return in[0] * in[1] * in[1] + xg::sin(in[0]); },
      [](const xg::CustomOpContext& ctx, const Tensor& g) {
        Tensor a = ctx.input(0), b = ctx.input(1);
        std::vector<Tensor> r(2);
        if (ctx.needs_input_grad(0)) r[0] = g * (b * b + xg::cos(a));
        if (ctx.needs_input_grad(1)) r[1] = g * 2.0 * a * b;
        return r;
      }};
  return op;
}

// exp through its output: d/dx exp(x) = exp(x) = the op's own output
const xg::CustomOp& my_exp() {
  static const xg::CustomOp op{
      "my_exp", "d/dx exp(x) = exp(x) (the output)",
      [](const std::vector<Tensor>& in) { return xg::exp(in[0]); },
      [](const xg::CustomOpContext& ctx, const Tensor& g) { return std::vector<Tensor>{g * ctx.output()}; }};
  return op;
}

}  // namespace

TEST_CASE("a custom op computes its forward and is recorded under its name") {
  Tensor x = xg::tensor({1, -2, 0.5}, f64);
  Tensor y = cube()({x});
  check_values(y, {1, -8, 0.125});
  CHECK(y.requires_grad());
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(std::string(y.grad_fn()->name()) == "cube");
  CHECK(std::string(y.grad_fn()->info().formula) == "d/dx x^3 = 3 x^2");
  CHECK(cube().name() == "cube");
  Tensor loss = xg::sum(xg::tanh(y));
  auto tape = xg::tape_of(loss);
  REQUIRE(tape.size() == 3);  // the forward's own muls run with recording off
  CHECK(std::string(tape[0]->name()) == "cube");
  CHECK(std::string(tape[1]->name()) == "tanh");
  CHECK(std::string(tape[2]->name()) == "sum");
  CHECK(tape[0]->sequence_nr() < tape[1]->sequence_nr());
  CHECK(tape[0]->edges()[0].leaf == x.impl());
}

TEST_CASE("custom op backward values") {
  SUBCASE("cube: 3 x^2") {
    Tensor x = xg::tensor({1, -2, 0.5}, f64);
    xg::sum(cube()({x})).backward();
    check_values(x.grad(), {3, 12, 0.75});
  }
  SUBCASE("cube inside a bigger graph: d/dx sum(cube(x) * x) = 4 x^3") {
    Tensor x = xg::tensor({1, -2, 0.5}, f64);
    xg::sum(cube()({x}) * x).backward();
    check_values(x.grad(), {4, -32, 0.5});
  }
  SUBCASE("two inputs") {
    Tensor a = xg::tensor({0.5, -1}, f64), b = xg::tensor({2, 3}, f64);
    Tensor y = mul_sq_sin()({a, b});
    check_values(y, {0.5 * 4 + std::sin(0.5), -1 * 9 + std::sin(-1.0)});
    xg::sum(y).backward();
    check_values(a.grad(), {4 + std::cos(0.5), 9 + std::cos(-1.0)});
    check_values(b.grad(), {2 * 0.5 * 2, 2 * -1 * 3.0});
  }
  SUBCASE("two inputs, only one requiring grad: needs_input_grad says so") {
    Tensor a = xg::tensor({0.5, -1}, f64);
    Tensor b = xg::tensor({2, 3}, {.dtype = Dtype::float64});
    Tensor y = mul_sq_sin()({a, b});
    CHECK(y.grad_fn()->needs_input_grad(0));
    CHECK_FALSE(y.grad_fn()->needs_input_grad(1));
    xg::sum(y * 2.0).backward();
    check_values(a.grad(), {2 * (4 + std::cos(0.5)), 2 * (9 + std::cos(-1.0))});
    CHECK_FALSE(b.grad().defined());
  }
  SUBCASE("using the saved output") {
    Tensor x = xg::tensor({0, 1, -0.5}, f64);
    xg::sum(my_exp()({x}) * 2.0).backward();
    check_values(x.grad(), {2, 2 * std::exp(1.0), 2 * std::exp(-0.5)});
  }
  SUBCASE("float32") {
    Tensor x = xg::tensor({1, 2}, {.dtype = Dtype::float32, .requires_grad = true});
    xg::sum(cube()({x})).backward();
    CHECK(x.grad().dtype() == Dtype::float32);
    check_values(x.grad(), {3, 12}, 1e-6);
  }
}

TEST_CASE("custom op second derivatives") {
  Tensor x = xg::tensor({1, -2, 0.5}, f64);
  Tensor g = xg::grad({xg::sum(cube()({x}))}, {x}, {}, std::nullopt, true)[0];
  check_values(g, {3, 12, 0.75});
  Tensor g2 = xg::grad({xg::sum(g)}, {x})[0];
  check_values(g2, {6, -12, 3});  // 6x

  Tensor e = xg::tensor({0.5, -1}, f64);
  Tensor ge = xg::grad({xg::sum(my_exp()({e}))}, {e}, {}, std::nullopt, true)[0];
  Tensor ge2 = xg::grad({xg::sum(ge)}, {e})[0];
  check_values(ge2, {std::exp(0.5), std::exp(-1.0)});
}

TEST_CASE("gradcheck and gradgradcheck pass on correct custom ops (float64)") {
  xg::manual_seed(3);
  Tensor x = xg::randn({2, 3}, f64);
  auto f_cube = [](const std::vector<Tensor>& in) { return cube()(in); };
  xg::GradcheckReport r1 = xg::gradcheck(f_cube, {x});
  CHECK_MESSAGE(r1.passed, r1.str());
  CHECK(r1.entries_checked == 36);
  xg::GradcheckReport r2 = xg::gradgradcheck(f_cube, {x});
  CHECK_MESSAGE(r2.passed, r2.str());
  CHECK(r2.check == "gradgradcheck");

  Tensor a = xg::randn({3}, f64), b = xg::randn({3}, f64);
  auto f2 = [](const std::vector<Tensor>& in) { return mul_sq_sin()(in); };
  xg::GradcheckReport r3 = xg::gradcheck(f2, {a, b});
  CHECK_MESSAGE(r3.passed, r3.str());
  CHECK(r3.inputs_checked == 2);
  xg::GradcheckReport r4 = xg::gradgradcheck(f2, {a, b});
  CHECK_MESSAGE(r4.passed, r4.str());

  auto f3 = [](const std::vector<Tensor>& in) { return my_exp()(in); };
  Tensor e = xg::randn({4}, f64);
  xg::GradcheckReport r5 = xg::gradcheck(f3, {e});
  CHECK_MESSAGE(r5.passed, r5.str());
  xg::GradcheckReport r6 = xg::gradgradcheck(f3, {e});
  CHECK_MESSAGE(r6.passed, r6.str());
}

TEST_CASE("a backward returning the wrong number of gradients names the op") {
  xg::CustomOp bad{"bad_count", "returns two gradients for one input",
                   [](const std::vector<Tensor>& in) { return in[0] * 2.0; },
                   [](const xg::CustomOpContext&, const Tensor& g) {
                     return std::vector<Tensor>{g * 2.0, g};
                   }};
  Tensor x = xg::tensor({1, 2}, f64);
  Tensor y = xg::sum(bad({x}));
  CHECK_ERROR(y.backward(), xg::ValueError, "bad_count", "2 gradients for 1 inputs");
  CHECK_FALSE(x.grad().defined());
  xg::CustomOp none{"no_grads", "returns nothing", [](const std::vector<Tensor>& in) { return in[0] * 1.0; },
                    [](const xg::CustomOpContext&, const Tensor&) { return std::vector<Tensor>{}; }};
  Tensor z = xg::tensor({1, 2}, f64);
  CHECK_ERROR(xg::sum(none({z})).backward(), xg::ValueError, "custom op 'no_grads'",
              "0 gradients for 1 inputs");
}

TEST_CASE("a backward returning a wrongly shaped gradient names the op") {
  xg::CustomOp bad{"bad_shape", "returns a gradient of the wrong shape",
                   [](const std::vector<Tensor>& in) { return in[0] * 2.0; },
                   [](const xg::CustomOpContext&, const Tensor& g) {
                     return std::vector<Tensor>{xg::ones({5}, {.dtype = g.dtype()})};
                   }};
  Tensor x = xg::tensor({1, 2, 3}, f64);
  CHECK_ERROR(xg::sum(bad({x})).backward(), xg::ValueError, "bad_shape", "[5]", "[3]");
  // the same through xg::grad, and for the second input of a two-input op
  xg::CustomOp bad2{"bad_second", "second gradient has the wrong shape",
                    [](const std::vector<Tensor>& in) { return in[0] * in[1]; },
                    [](const xg::CustomOpContext& ctx, const Tensor& g) {
                      return std::vector<Tensor>{g * ctx.input(1), xg::sum(g * ctx.input(0))};
                    }};
  Tensor a = xg::tensor({1, 2}, f64), b = xg::tensor({3, 4}, f64);
  CHECK_ERROR(xg::grad({xg::sum(bad2({a, b}))}, {a, b}), xg::ValueError, "'bad_second'",
              "gradient of shape [] for input 1 of shape [2]");
}

TEST_CASE("custom op: no recording under NoGradGuard or without inputs requiring grad") {
  Tensor x = xg::tensor({2}, f64);
  {
    xg::NoGradGuard g;
    Tensor y = cube()({x});
    check_values(y, {8});
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  Tensor c = xg::tensor({2}, {.dtype = Dtype::float64});
  Tensor y = cube()({c});
  CHECK_FALSE(y.requires_grad());
  check_values(y, {8});
}

TEST_CASE("custom op whose forward returns its input: the input stays a leaf") {
  xg::CustomOp ident{
      "ident", "d/dx x = 1", [](const std::vector<Tensor>& in) { return in[0]; },
      [](const xg::CustomOpContext&, const Tensor& g) { return std::vector<Tensor>{g * 5.0}; }};
  Tensor x = xg::tensor({1, 2}, f64);
  Tensor y = ident({x});
  CHECK(x.is_leaf());
  CHECK(x.grad_fn() == nullptr);
  CHECK(std::string(y.grad_fn()->name()) == "ident");
  xg::sum(y).backward();
  check_values(x.grad(), {5, 5});  // its (deliberately scaled) backward was used
}

TEST_CASE("custom op context: in-place changes of inputs and out-of-range inputs are caught") {
  Tensor x = xg::tensor({1, 2}, f64);
  Tensor y = xg::sum(cube()({x}));
  {
    xg::NoGradGuard g;
    x.mul_(2.0);
  }
  CHECK_ERROR(y.backward(), xg::ValueError, "saved by 'cube'", "modified in place");

  xg::CustomOp oob{
      "oob", "asks for an input that is not there", [](const std::vector<Tensor>& in) { return in[0] * 1.0; },
      [](const xg::CustomOpContext& ctx, const Tensor& g) { return std::vector<Tensor>{g * ctx.input(3)}; }};
  Tensor z = xg::tensor({1}, f64);
  CHECK_ERROR(xg::sum(oob({z})).backward(), xg::IndexError, "custom op 'oob'",
              "input 3 requested, the op has 1");

  CHECK_ERROR(xg::CustomOp("nothing", "", nullptr, nullptr), xg::ValueError, "custom op 'nothing'",
              "forward and backward must both be given");
  xg::CustomOp undef{"undef", "forward returns nothing", [](const std::vector<Tensor>&) { return Tensor(); },
                     [](const xg::CustomOpContext&, const Tensor& g) { return std::vector<Tensor>{g}; }};
  CHECK_ERROR(undef({z}), xg::ValueError, "custom op 'undef'", "undefined tensor");
}

TEST_CASE("the graph of a custom op is released after backward") {
  Tensor x = xg::tensor({1, 2}, f64);
  Tensor y = xg::sum(cube()({x}));
  auto tape = xg::tape_of(y);
  REQUIRE(tape.size() == 2);  // cube, sum
  y.backward();
  for (const auto& n : tape) CHECK(n->released());
  CHECK_ERROR(y.backward(), xg::ValueError, "backward:", "second time");
}
