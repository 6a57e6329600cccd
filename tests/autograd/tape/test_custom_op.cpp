// Custom ops: forward and backward in user code, recorded on the tape under their own name,
// differentiated once and twice, gradchecked, and checked for backward results of the wrong
// count or shape.
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

// ---------------------------------------------------------------- the full form
namespace {

int sincos_backward_calls = 0;

// (sin x, cos x): d/dx = g0 cos x - g1 sin x, read from the op's own outputs, so double backward
// goes through both of them.
const xg::CustomOp& sincos() {
  static const xg::CustomOp op{"sincos", "d/dx (sin x, cos x) = g0 cos x - g1 sin x",
                               [](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                                 Tensor s = xg::sin(in[0]), c = xg::cos(in[0]);
                                 ctx.save_for_backward({s, c});
                                 return std::vector<Tensor>{s, c};
                               },
                               [](const xg::CustomOpContext& ctx, const std::vector<Tensor>& g) {
                                 ++sincos_backward_calls;
                                 return std::vector<Tensor>{g[0] * ctx.saved(1) - g[1] * ctx.saved(0)};
                               }};
  return op;
}

bool top1_saw_index_grad = false;

// top-1 along the last axis: (values, int64 indices marked non-differentiable); the indices are
// saved (an output the backward needs), the input's shape is non-tensor state.
const xg::CustomOp& top1() {
  static const xg::CustomOp op{"top1", "dx = g scattered into the argmax positions",
                               [](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                                 Tensor idx = xg::argmax(in[0], -1, true);
                                 Tensor val = xg::gather(in[0], -1, idx);
                                 ctx.save_for_backward({idx});
                                 ctx.state = in[0].shape();
                                 ctx.mark_non_differentiable(idx);
                                 return std::vector<Tensor>{val, idx};
                               },
                               [](const xg::CustomOpContext& ctx, const std::vector<Tensor>& g) {
                                 top1_saw_index_grad = g[1].defined();
                                 const xg::Shape& shape = ctx.state_as<xg::Shape>();
                                 Tensor z = xg::zeros(shape, {.dtype = g[0].dtype()});
                                 return std::vector<Tensor>{xg::scatter_add(z, -1, ctx.saved(0), g[0])};
                               }};
  return op;
}

// softmax along an axis kept as state, saving the intermediates exp(x) and their sum:
// dx = (g e) / s - e sum(g e) / s^2
const xg::CustomOp& my_softmax(int64_t axis) {
  static const auto forward = [](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
    const int64_t ax = std::any_cast<int64_t>(ctx.state);
    Tensor e = xg::exp(in[0]);
    Tensor s = xg::sum(e, {ax}, true);
    ctx.save_for_backward({e, s});
    return std::vector<Tensor>{e / s};
  };
  static const auto backward = [](const xg::CustomOpContext& ctx, const std::vector<Tensor>& g) {
    const int64_t ax = ctx.state_as<int64_t>();
    Tensor e = ctx.saved(0), s = ctx.saved(1);
    Tensor ge = g[0] * e;
    return std::vector<Tensor>{ge / s - e * xg::sum(ge, {ax}, true) / (s * s)};
  };
  // The axis is per call: each wrapper sets it before running the shared forward.
  static const xg::CustomOp last{"my_softmax", "dx = g e / s - e sum(g e) / s^2, e = exp(x), s = sum(e)",
                                 [](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                                   ctx.state = int64_t{-1};
                                   return forward(ctx, in);
                                 },
                                 backward};
  static const xg::CustomOp first{"my_softmax", "dx = g e / s - e sum(g e) / s^2, e = exp(x), s = sum(e)",
                                  [](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                                    ctx.state = int64_t{0};
                                    return forward(ctx, in);
                                  },
                                  backward};
  return axis == 0 ? first : last;
}

}  // namespace

TEST_CASE("a two-output custom op: each output usable alone or together, backward runs once") {
  const std::vector<double> xv = {0.3, -1.1, 2.5};
  auto fresh = [&] { return xg::tensor(xv, f64); };
  SUBCASE("values, recording, one node for both outputs") {
    Tensor x = fresh();
    std::vector<Tensor> sc = sincos().apply({x});
    REQUIRE(sc.size() == 2);
    check_values(sc[0], {std::sin(0.3), std::sin(-1.1), std::sin(2.5)});
    check_values(sc[1], {std::cos(0.3), std::cos(-1.1), std::cos(2.5)});
    CHECK(sc[0].grad_fn() == sc[1].grad_fn());
    CHECK(std::string(sc[1].grad_fn()->name()) == "sincos");
    CHECK(sc[0].grad_fn()->num_outputs() == 2);
    CHECK_ERROR(sincos()({x}), xg::ValueError, "custom op 'sincos'", "returned 2 outputs", "apply()");
  }
  SUBCASE("backward from the first output only: the second's gradient is zeros") {
    Tensor x = fresh();
    xg::sum(sincos().apply({x})[0]).backward();
    check_values(x.grad(), {std::cos(0.3), std::cos(-1.1), std::cos(2.5)});
  }
  SUBCASE("backward from the second output only") {
    Tensor x = fresh();
    xg::sum(sincos().apply({x})[1]).backward();
    check_values(x.grad(), {-std::sin(0.3), -std::sin(-1.1), -std::sin(2.5)});
  }
  SUBCASE("backward from a sum of both: one call of the user's backward") {
    Tensor x = fresh();
    std::vector<Tensor> sc = sincos().apply({x});
    sincos_backward_calls = 0;
    xg::sum(sc[0] * 2.0 + sc[1] * 3.0).backward();
    CHECK(sincos_backward_calls == 1);
    // torch: (2 sin(x) + 3 cos(x)).sum().backward(), x = [0.3, -1.1, 2.5]
    check_values(x.grad(), {1.0241123582671934, 3.5808143230354608, -3.3977036634057365});
  }
  SUBCASE("both outputs as roots of one backward, and xg::grad at each output") {
    Tensor x = fresh();
    std::vector<Tensor> sc = sincos().apply({x});
    xg::backward({xg::sum(sc[0] * 2.0), xg::sum(sc[1] * 3.0)}, {}, true);
    check_values(x.grad(), {1.0241123582671934, 3.5808143230354608, -3.3977036634057365});
    Tensor loss = xg::sum(sc[0] * 2.0 + sc[1] * 3.0);
    std::vector<Tensor> gs = xg::grad({loss}, {sc[1], sc[0]});
    check_values(gs[0], {3, 3, 3});
    check_values(gs[1], {2, 2, 2});
  }
  SUBCASE("a hook on the second output sees that output's gradient only") {
    Tensor x = fresh();
    std::vector<Tensor> sc = sincos().apply({x});
    std::vector<double> seen;
    sc[1].register_hook([&](const Tensor& g) {
      seen = g.to_vector<double>();
      return g * 0.0;  // the second output contributes nothing
    });
    xg::sum(sc[0] * 2.0 + sc[1] * 3.0).backward();
    CHECK(seen == std::vector<double>{3, 3, 3});
    check_values(x.grad(), {2 * std::cos(0.3), 2 * std::cos(-1.1), 2 * std::cos(2.5)});
  }
  SUBCASE("the graph is released once, whichever output is used") {
    Tensor x = fresh();
    std::vector<Tensor> sc = sincos().apply({x});
    xg::sum(sc[1]).backward();
    CHECK(sc[0].grad_fn()->released());
    CHECK_ERROR(xg::sum(sc[0]).backward(), xg::ValueError, "'sincos'", "second time");
  }
}

TEST_CASE("two-output custom op: gradcheck and gradgradcheck (float64)") {
  xg::manual_seed(11);
  Tensor x = xg::randn({2, 3}, f64);
  xg::MultiFunction f = [](const std::vector<Tensor>& in) { return sincos().apply(in); };
  xg::GradcheckReport r1 = xg::gradcheck(f, {x});
  CHECK_MESSAGE(r1.passed, r1.str());
  CHECK(r1.entries_checked == 2 * 6 * 6);
  xg::GradcheckReport r2 = xg::gradgradcheck(f, {x});
  CHECK_MESSAGE(r2.passed, r2.str());
  // Each output alone (the other one gets zeros), twice differentiated.
  xg::MultiFunction f1 = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{sincos().apply(in)[1]};
  };
  xg::GradcheckReport r3 = xg::gradgradcheck(f1, {x});
  CHECK_MESSAGE(r3.passed, r3.str());
  // A wrong backward is caught through either output.
  xg::CustomOp wrong{
      "wrong_sincos", "the sign of the second term is wrong",
      [](xg::CustomOpForwardContext&, const std::vector<Tensor>& in) {
        return std::vector<Tensor>{xg::sin(in[0]), xg::cos(in[0])};
      },
      [](const xg::CustomOpContext& ctx, const std::vector<Tensor>& g) {
        return std::vector<Tensor>{g[0] * xg::cos(ctx.input(0)) + g[1] * xg::sin(ctx.input(0))};
      }};
  xg::MultiFunction fw = [&](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{wrong.apply(in)[1]};
  };
  CHECK_FALSE(xg::gradcheck(fw, {x}).passed);
}

TEST_CASE("a values-and-indices custom op: the indices are non-differentiable") {
  Tensor x = xg::tensor({0.5, -1.2, 2.0, 3.0, 0.1, -0.4}, {2, 3}, f64);
  std::vector<Tensor> vi = top1().apply({x});
  REQUIRE(vi.size() == 2);
  // torch.max(x, -1, keepdim=True): values [[2], [3]], indices [[2], [0]]
  check_values(vi[0], {2, 3});
  CHECK(vi[0].shape() == xg::Shape{2, 1});
  CHECK(vi[1].dtype() == Dtype::int64);
  CHECK(vi[1].to_vector<double>() == std::vector<double>{2, 0});
  CHECK(vi[0].requires_grad());
  CHECK_FALSE(vi[1].requires_grad());
  CHECK(vi[1].grad_fn() == nullptr);
  CHECK(vi[0].grad_fn()->num_outputs() == 1);
  CHECK_ERROR(xg::sum(vi[1]).backward(), xg::ValueError, "does not require grad");
  top1_saw_index_grad = true;
  xg::sum(vi[0] * xg::tensor({2.0, -3.0}, {2, 1}, {.dtype = Dtype::float64})).backward();
  CHECK_FALSE(top1_saw_index_grad);
  // torch: (v * [[2], [-3]]).sum().backward()
  check_values(x.grad(), {0, 0, 2, -3, 0, 0});

  xg::manual_seed(5);
  Tensor r = xg::randn({3, 4}, f64);
  xg::MultiFunction f = [](const std::vector<Tensor>& in) { return top1().apply(in); };
  xg::GradcheckReport r1 = xg::gradcheck(f, {r});
  CHECK_MESSAGE(r1.passed, r1.str());
  xg::GradcheckReport r2 = xg::gradgradcheck(f, {r});
  CHECK_MESSAGE(r2.passed, r2.str());
}

TEST_CASE("a custom op saving intermediates and non-tensor state: softmax") {
  const std::vector<double> xv = {0.5, -1.2, 2.0, 3.0, 0.1, -0.4};
  const std::vector<double> wv = {1.0, 2.0, -1.0, 0.5, -2.0, 3.0};
  Tensor x = xg::tensor(xv, {2, 3}, f64);
  Tensor w = xg::tensor(wv, {2, 3}, {.dtype = Dtype::float64});
  Tensor y = my_softmax(-1)({x});
  // torch.softmax(x, -1)
  check_values(y, {0.17654205886637114, 0.032251325457234005, 0.7912066156763948, 0.9187828233299665,
                   0.05055438947213187, 0.030662787197901557});
  xg::sum(y * w).backward();
  // torch: (torch.softmax(x, -1) * w).sum().backward()
  check_values(x.grad(), {0.27366877444301924, 0.08224610159567772, -0.355914876038697, 0.0456901562451853,
                          -0.12387195415883923, 0.07818179791365394});
  // the other axis: the state differs per call, the values follow xg::softmax
  Tensor x0 = xg::tensor(xv, {2, 3}, f64);
  Tensor y0 = my_softmax(0)({x0});
  check_values(y0, xg::softmax(x0.detach(), 0).to_vector<double>());
  xg::manual_seed(7);
  Tensor r = xg::randn({2, 4}, f64);
  for (int64_t ax : {0, -1}) {
    xg::GradcheckReport rep =
        xg::gradcheck([ax](const std::vector<Tensor>& in) { return my_softmax(ax)(in); }, {r});
    CHECK_MESSAGE(rep.passed, rep.str());
  }
}

TEST_CASE("custom op: in-place changes of saved intermediates and outputs are caught at backward") {
  SUBCASE("an intermediate the forward saved") {
    Tensor kept;
    xg::CustomOp op{"keeps_exp", "dx = g exp(x), exp(x) saved",
                    [&kept](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                      kept = xg::exp(in[0]);
                      ctx.save_for_backward({kept});
                      return std::vector<Tensor>{kept * 1.0};
                    },
                    [](const xg::CustomOpContext& ctx, const std::vector<Tensor>& g) {
                      return std::vector<Tensor>{g[0] * ctx.saved(0)};
                    }};
    Tensor x = xg::tensor({0.5, 1.0}, f64);
    Tensor loss = xg::sum(op.apply({x})[0]);
    kept.mul_(2.0);
    CHECK_ERROR(loss.backward(), xg::ValueError, "saved by 'keeps_exp'", "modified in place", "version 1");
    CHECK_FALSE(x.grad().defined());
  }
  SUBCASE("the second output, saved") {
    Tensor x = xg::tensor({0.5, 1.0}, f64);
    std::vector<Tensor> sc = sincos().apply({x});
    Tensor loss = xg::sum(sc[0]);
    {
      xg::NoGradGuard g;
      sc[1].mul_(2.0);
    }
    CHECK_ERROR(loss.backward(), xg::ValueError, "saved by 'sincos'", "modified in place");
  }
}

TEST_CASE("custom op state: read back typed, a wrong type names the op") {
  xg::CustomOp op{"scaled", "dx = k g, k a double in the state",
                  [](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                    ctx.state = 2.5;
                    return std::vector<Tensor>{in[0] * 2.5};
                  },
                  [](const xg::CustomOpContext& ctx, const std::vector<Tensor>& g) {
                    CHECK(ctx.state().has_value());
                    return std::vector<Tensor>{g[0] * ctx.state_as<double>()};
                  }};
  Tensor x = xg::tensor({1, 2}, f64);
  xg::sum(op.apply({x})[0]).backward();
  check_values(x.grad(), {2.5, 2.5});
  xg::CustomOp bad{"bad_state", "reads an int from a double",
                   [](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                     ctx.state = 2.5;
                     return std::vector<Tensor>{in[0] * 1.0};
                   },
                   [](const xg::CustomOpContext& ctx, const std::vector<Tensor>& g) {
                     return std::vector<Tensor>{g[0] * static_cast<double>(ctx.state_as<int>())};
                   }};
  Tensor z = xg::tensor({1, 2}, f64);
  CHECK_ERROR(xg::sum(bad.apply({z})[0]).backward(), xg::TypeError, "custom op 'bad_state'", "state_as");
}

TEST_CASE("custom op full form: materialize_grads off, needs_input_grad in forward, misuse") {
  SUBCASE("set_materialize_grads(false): an output without gradient gives undefined") {
    bool second_defined = true;
    xg::CustomOp op{"no_materialize", "dx = g0 + g1 when defined",
                    [](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                      ctx.set_materialize_grads(false);
                      return std::vector<Tensor>{in[0] * 1.0, in[0] * 1.0};
                    },
                    [&](const xg::CustomOpContext&, const std::vector<Tensor>& g) {
                      second_defined = g[1].defined();
                      return std::vector<Tensor>{g[0]};
                    }};
    Tensor x = xg::tensor({1, 2}, f64);
    xg::sum(op.apply({x})[0] * 4.0).backward();
    CHECK_FALSE(second_defined);
    check_values(x.grad(), {4, 4});
  }
  SUBCASE("needs_input_grad in the forward") {
    std::vector<bool> seen;
    xg::CustomOp op{"peek", "dx = g",
                    [&](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                      seen = {ctx.needs_input_grad(0), ctx.needs_input_grad(1), ctx.needs_input_grad(7)};
                      return std::vector<Tensor>{in[0] + in[1]};
                    },
                    [](const xg::CustomOpContext&, const std::vector<Tensor>& g) {
                      return std::vector<Tensor>{g[0], g[0]};
                    }};
    Tensor a = xg::tensor({1.0}, f64), b = xg::tensor({2.0}, {.dtype = Dtype::float64});
    op.apply({a, b});
    CHECK(seen == std::vector<bool>{true, false, false});
    {
      xg::NoGradGuard g;
      op.apply({a, b});
    }
    CHECK(seen == std::vector<bool>{false, false, false});
  }
  SUBCASE("marking a tensor the forward does not return; an undefined output") {
    xg::CustomOp op{"mark_other", "",
                    [](xg::CustomOpForwardContext& ctx, const std::vector<Tensor>& in) {
                      ctx.mark_non_differentiable(in[0] * 2.0);
                      return std::vector<Tensor>{in[0] * 1.0};
                    },
                    [](const xg::CustomOpContext&, const std::vector<Tensor>& g) { return g; }};
    Tensor x = xg::tensor({1.0}, f64);
    CHECK_ERROR(op.apply({x}), xg::ValueError, "custom op 'mark_other'", "does not return");
    xg::CustomOp undef{"undef2", "",
                       [](xg::CustomOpForwardContext&, const std::vector<Tensor>& in) {
                         return std::vector<Tensor>{in[0] * 1.0, Tensor()};
                       },
                       [](const xg::CustomOpContext&, const std::vector<Tensor>& g) { return g; }};
    CHECK_ERROR(undef.apply({x}), xg::ValueError, "custom op 'undef2'", "undefined tensor as output 1");
    xg::CustomOp none{
        "none_out", "",
        [](xg::CustomOpForwardContext&, const std::vector<Tensor>&) { return std::vector<Tensor>{}; },
        [](const xg::CustomOpContext&, const std::vector<Tensor>& g) { return g; }};
    CHECK_ERROR(none.apply({x}), xg::ValueError, "custom op 'none_out'", "no outputs");
  }
  SUBCASE("the same tensor returned twice: two outputs, each with its own gradient") {
    xg::CustomOp twice{"twice", "dx = g0 + 2 g1",
                       [](xg::CustomOpForwardContext&, const std::vector<Tensor>& in) {
                         Tensor y = in[0] * 3.0;
                         return std::vector<Tensor>{y, y};
                       },
                       [](const xg::CustomOpContext&, const std::vector<Tensor>& g) {
                         return std::vector<Tensor>{g[0] + g[1] * 2.0};
                       }};
    Tensor x = xg::tensor({1.0, 2.0}, f64);
    std::vector<Tensor> yy = twice.apply({x});
    CHECK(yy[0].impl() != yy[1].impl());
    xg::sum(yy[0] + yy[1] * 10.0).backward();
    check_values(x.grad(), {21, 21});
  }
}

TEST_CASE("full-form backward errors: wrong count and wrong shape name the op, the input and shapes") {
  xg::CustomOp count{
      "split_bad_count", "returns one gradient for two inputs",
      [](xg::CustomOpForwardContext&, const std::vector<Tensor>& in) {
        return std::vector<Tensor>{in[0] * in[1], in[0] + in[1]};
      },
      [](const xg::CustomOpContext&, const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0]}; }};
  Tensor a = xg::tensor({1, 2}, f64), b = xg::tensor({3, 4}, f64);
  CHECK_ERROR(xg::sum(count.apply({a, b})[1]).backward(), xg::ValueError, "custom op 'split_bad_count'",
              "1 gradients for 2 inputs");
  xg::CustomOp shape{"split_bad_shape", "second input's gradient has the wrong shape",
                     [](xg::CustomOpForwardContext&, const std::vector<Tensor>& in) {
                       return std::vector<Tensor>{in[0] * 2.0, xg::sum(in[1])};
                     },
                     [](const xg::CustomOpContext&, const std::vector<Tensor>& g) {
                       return std::vector<Tensor>{g[0] * 2.0, g[1]};
                     }};
  Tensor c = xg::tensor({1, 2}, f64), d = xg::tensor({3, 4, 5}, f64);
  CHECK_ERROR(xg::sum(shape.apply({c, d})[1]).backward(), xg::ValueError, "custom op 'split_bad_shape'",
              "gradient of shape [] for input 1 of shape [3]");
  CHECK_FALSE(c.grad().defined());
}

TEST_CASE("a multi-output custom op in the inspection tools") {
  xg::InspectGuard on;
  Tensor x = xg::tensor({0.3, -1.1}, f64);
  x.name("x");
  std::vector<Tensor> sc = sincos().apply({x});
  Tensor loss = xg::sum(sc[0] * sc[1]);
  const std::string tape = xg::tape_string(loss);
  CHECK_MESSAGE(tape.find("sincos") != std::string::npos, tape);
  std::vector<xg::TapeEntry> entries = xg::describe_tape(loss);
  REQUIRE(entries.size() == 3);  // sincos, mul, sum
  CHECK(entries[0].op == "sincos");
  CHECK(entries[1].inputs.size() == 2);
  CHECK(entries[1].inputs[0].producer_op == "sincos");
  CHECK(entries[1].inputs[1].producer_op == "sincos");
  xg::BackwardTrace trace = xg::backward_trace(loss);
  REQUIRE(trace.steps.size() == 3);
  CHECK(trace.steps[2].op == "sincos");
  REQUIRE(trace.steps[2].grad_inputs.size() == 1);
  // d/dx sum(sin x cos x) = cos(2x)
  check_values(x.grad(), {std::cos(0.6), std::cos(-2.2)});
}
