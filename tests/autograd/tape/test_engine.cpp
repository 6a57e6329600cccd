// The backward engine: backward() and grad() accumulation, grad mode, detach, retain_graph and
// graph release, hooks, retain_grad, xg::grad, higher-order gradients, the tape, dtypes.
// Every expected value is computed by hand (or from a closed form) in the test.
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

Tensor leaf(std::initializer_list<double> v, const xg::Shape& s) {
  return xg::tensor(v, s, f64);
}
Tensor leaf(std::initializer_list<double> v) {
  return xg::tensor(v, f64);
}

using xg_test::check_values;

}  // namespace

// ---------------------------------------------------------------- backward
TEST_CASE("backward from a scalar gives d(sum x^2)/dx = 2x") {
  Tensor x = leaf({1, -2, 3});
  Tensor y = xg::sum(x * x);
  CHECK(y.numel() == 1);
  CHECK(y.item() == doctest::Approx(14.0));
  CHECK_FALSE(x.grad().defined());
  y.backward();
  check_values(x.grad(), {2, -4, 6});
  CHECK(x.grad().shape() == x.shape());
  CHECK(x.grad().dtype() == Dtype::float64);
  CHECK_FALSE(x.grad().requires_grad());
}

TEST_CASE("backward(grad) on a non-scalar output is the vector-Jacobian product") {
  Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  Tensor y = x * x * 3.0;  // dy/dx = 6x element-wise
  Tensor g = xg::tensor({1, 0.5, -1, 2}, {2, 2}, {.dtype = Dtype::float64});
  y.backward(g);
  check_values(x.grad(), {6 * 1 * 1.0, 6 * 2 * 0.5, 6 * 3 * -1.0, 6 * 4 * 2.0});

  SUBCASE("a non-scalar output needs an explicit gradient") {
    Tensor z = x * 2.0;
    CHECK_ERROR(z.backward(), xg::ValueError, "backward:", "[2, 2]", "one-element");
  }
  SUBCASE("a gradient of the wrong shape is a ShapeError") {
    Tensor z = x * 2.0;
    CHECK_ERROR(z.backward(xg::ones({4}, {.dtype = Dtype::float64})), xg::ShapeError,
                "backward: gradient of shape [4] for output 0 of shape [2, 2]");
  }
  SUBCASE("a float32 gradient for a float64 output is converted") {
    Tensor x2 = leaf({1, 2});
    (x2 * 5.0).backward(xg::tensor({1, 2}, {.dtype = Dtype::float32}));
    CHECK(x2.grad().dtype() == Dtype::float64);
    check_values(x2.grad(), {5, 10});
  }
}

TEST_CASE("backward on a tensor that does not require grad is a ValueError") {
  Tensor x = xg::tensor({1, 2}, {.dtype = Dtype::float64});
  Tensor y = xg::sum(x * x);
  CHECK_FALSE(y.requires_grad());
  CHECK_ERROR(y.backward(), xg::ValueError, "backward:", "does not require grad");
}

TEST_CASE("xg::backward with several outputs sums their contributions") {
  Tensor x = leaf({1, 2});
  Tensor a = xg::sum(x * x);    // 2x
  Tensor b = xg::sum(x * 3.0);  // 3
  xg::backward({a, b});
  check_values(x.grad(), {5, 7});
  Tensor c = x * x;  // with explicit gradients: 2 x * g
  Tensor d = x * 10.0;
  x.zero_grad();
  xg::backward({c, d}, {xg::tensor({1, 1}, {.dtype = Dtype::float64}),
                        xg::tensor({0.5, 2}, {.dtype = Dtype::float64})});
  check_values(x.grad(), {2 + 5, 4 + 20});
  CHECK_ERROR(xg::backward({x * 2.0}, {Tensor(), Tensor()}), xg::ValueError,
              "backward: 2 gradients for 1 outputs");
}

// ---------------------------------------------------------------- accumulation, zero_grad
TEST_CASE(".grad() accumulates across backward calls; zero_grad resets") {
  Tensor x = leaf({1, 2, 3});
  xg::sum(x * x).backward();  // 2x
  check_values(x.grad(), {2, 4, 6});
  xg::sum(x * 4.0).backward();  // + 4
  check_values(x.grad(), {6, 8, 10});

  SUBCASE("set to none (the default)") {
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
    xg::sum(x * 4.0).backward();
    check_values(x.grad(), {4, 4, 4});
  }
  SUBCASE("set_to_none=false keeps a zero tensor") {
    Tensor before = x.grad();
    x.zero_grad(false);
    REQUIRE(x.grad().defined());
    check_values(x.grad(), {0, 0, 0});
    CHECK(x.grad().shape() == x.shape());
    CHECK(x.grad().dtype() == Dtype::float64);
    CHECK(x.grad().impl() == before.impl());  // zeroed in place, as PyTorch
    xg::sum(x * 4.0).backward();
    check_values(x.grad(), {4, 4, 4});
  }
  SUBCASE("zero_grad(false) on a tensor without a gradient leaves it undefined") {
    Tensor y = leaf({1});
    y.zero_grad(false);
    CHECK_FALSE(y.grad().defined());
  }
}

TEST_CASE("accumulation does not write into a gradient tensor the caller holds") {
  Tensor x = leaf({1, 2});
  Tensor g = xg::tensor({1, 1}, {.dtype = Dtype::float64});
  (x * 1.0).backward(g);
  Tensor first = x.grad();
  check_values(first, {1, 1});
  (x * 1.0).backward(g);
  check_values(x.grad(), {2, 2});
  check_values(g, {1, 1});  // the seed the caller passed is untouched
}

// ---------------------------------------------------------------- grad mode
TEST_CASE("NoGradGuard stops recording and restores the previous mode, nested") {
  Tensor x = leaf({1, 2});
  REQUIRE(xg::GradMode::is_enabled());
  {
    xg::NoGradGuard outer;
    CHECK_FALSE(xg::GradMode::is_enabled());
    Tensor y = x * x;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    CHECK(y.is_leaf());
    check_values(y, {1, 4});
    {
      xg::NoGradGuard inner;
      CHECK_FALSE(xg::GradMode::is_enabled());
      {
        xg::AutoGradMode on(true);  // can switch recording back on inside
        Tensor z = x * 2.0;
        CHECK(z.requires_grad());
        CHECK(z.grad_fn() != nullptr);
      }
      CHECK_FALSE(xg::GradMode::is_enabled());
    }
    CHECK_FALSE(xg::GradMode::is_enabled());  // inner restored "off", not "on"
    CHECK_FALSE((xg::tanh(x)).requires_grad());
  }
  CHECK(xg::GradMode::is_enabled());
  Tensor y = x * x;
  CHECK(y.requires_grad());
  CHECK(y.grad_fn() != nullptr);
  CHECK(std::string(y.grad_fn()->name()) == "mul");
}

TEST_CASE("ops on tensors that do not require grad record nothing") {
  Tensor a = xg::tensor({1, 2}, {.dtype = Dtype::float64});
  Tensor y = xg::tanh(a * 3.0);
  CHECK_FALSE(y.requires_grad());
  CHECK(y.grad_fn() == nullptr);
}

// ---------------------------------------------------------------- detach
TEST_CASE("detach shares values and version but is cut from the graph") {
  Tensor x = leaf({2, 3});
  Tensor h = x * x;
  Tensor d = h.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.grad_fn() == nullptr);
  CHECK(d.is_leaf());
  check_values(d, {4, 9});
  CHECK(d.raw_data() == h.raw_data());  // same storage
  {
    xg::NoGradGuard g;
    d.mul_(2.0);
  }
  check_values(h, {8, 18});  // the write is visible through h
  CHECK(h.version() == d.version());

  // y = x * detach(x): only the first factor carries gradient, so dy/dx = x (not 2x).
  Tensor x2 = leaf({2, 3});
  xg::sum(x2 * x2.detach()).backward();
  check_values(x2.grad(), {2, 3});
}

TEST_CASE("an in-place write to a tensor saved for backward is caught") {
  Tensor x = leaf({1, 2});
  Tensor y = xg::sum(x * x);
  {
    xg::NoGradGuard g;
    x.add_(xg::ones({2}, {.dtype = Dtype::float64}));
  }
  CHECK_ERROR(y.backward(), xg::ValueError, "mul", "modified in place");
}

// ---------------------------------------------------------------- retain_graph and release
TEST_CASE("retain_graph=true allows a second backward that doubles the gradient") {
  Tensor x = leaf({1, 2, 3});
  Tensor y = xg::sum(xg::tanh(x) * x);
  y.backward(Tensor(), /*retain_graph=*/true);
  REQUIRE(xg::tape_of(y).size() == 3);  // tanh, mul, sum
  std::vector<double> once;
  for (double v : {1.0, 2.0, 3.0}) once.push_back(std::tanh(v) + v * (1 - std::tanh(v) * std::tanh(v)));
  check_values(x.grad(), once);
  for (const auto& n : xg::tape_of(y)) CHECK_FALSE(n->released());
  y.backward();
  check_values(x.grad(), {2 * once[0], 2 * once[1], 2 * once[2]});
}

TEST_CASE("the graph is released after backward; a second backward throws") {
  Tensor x = leaf({1, 2});
  Tensor y = xg::sum(xg::exp(x * x));
  auto tape = xg::tape_of(y);
  REQUIRE(tape.size() == 3);
  for (const auto& n : tape) CHECK_FALSE(n->released());
  y.backward();
  check_values(x.grad(), {2 * std::exp(1.0), 4 * std::exp(4.0)});
  for (const auto& n : tape) CHECK(n->released());
  CHECK_ERROR(y.backward(), xg::ValueError, "second time", "retain_graph");
  // the failed second backward left the gradient as it was
  check_values(x.grad(), {2 * std::exp(1.0), 4 * std::exp(4.0)});
}

TEST_CASE("the nodes of a graph are freed when the last tensor referring to them goes") {
  Tensor x = leaf({1, 2});
  std::weak_ptr<xg::Node> weak;
  {
    Tensor y = xg::sum(xg::sin(x) * x);
    weak = y.grad_fn();
    CHECK_FALSE(weak.expired());
  }
  CHECK(weak.expired());
}

// ---------------------------------------------------------------- several paths
TEST_CASE("gradients through two paths into the same leaf sum") {
  Tensor x = leaf({-1, 0.5, 3});
  Tensor y = xg::sum(x * x + x);  // 2x + 1
  y.backward();
  check_values(x.grad(), {-1, 2, 7});

  // a diamond: h used twice below, x used directly as well
  Tensor x2 = leaf({2});
  Tensor h = x2 * 3.0;                 // 3x
  Tensor z = xg::sum(h * h + h * x2);  // 9x^2 + 3x^2 = 12 x^2 -> 24 x
  z.backward();
  check_values(x2.grad(), {48});
}

TEST_CASE("broadcasting backward sums the gradient back to the operand's shape") {
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({10, 20, 30}, {3});
  Tensor y = xg::sum(a * b);
  y.backward();
  check_values(a.grad(), {10, 20, 30, 10, 20, 30});
  check_values(b.grad(), {1 + 4, 2 + 5, 3 + 6});
}

// ---------------------------------------------------------------- hooks
TEST_CASE("a leaf's hooks run as soon as no node left in the pass reaches it") {
  // Before: every leaf hook waited for the end of the pass, so a data-parallel allreduce started
  // from a parameter's hook could not overlap the rest of backward.
  Tensor w1 = leaf({0.5, -1.0}), w2 = leaf({2.0, 3.0});
  std::vector<std::string> events;
  std::vector<double> w2_seen;
  Tensor h = xg::tanh(w1 * 2.0);
  h.register_hook([&](const Tensor& g) {
    events.push_back("h");
    return g;
  });
  w2.register_hook([&](const Tensor& g) {
    events.push_back("w2");
    w2_seen = g.to_vector<double>();
    return g;
  });
  // w2 feeds the two last ops: its hook runs once, on the total, after both, before h's node
  Tensor y = xg::sum(h * w2) + xg::sum(w2 * w2);
  y.backward(Tensor(), true);  // h kept for the xg::grad below
  CHECK(events == std::vector<std::string>{"w2", "h"});
  const std::vector<double> th = {std::tanh(1.0), std::tanh(-2.0)};
  REQUIRE(w2_seen.size() == 2);
  CHECK(w2_seen[0] == doctest::Approx(th[0] + 4.0));
  CHECK(w2_seen[1] == doctest::Approx(th[1] + 6.0));
  check_values(w2.grad(), w2_seen);
  check_values(w1.grad(), {2 * (1 - th[0] * th[0]) * 2.0, 2 * (1 - th[1] * th[1]) * 3.0});
  // xg::grad finishes it early too, and returns the same
  events.clear();
  Tensor y2 = xg::sum(h * w2) + xg::sum(w2 * w2);
  const std::vector<Tensor> g = xg::grad({y2}, {w1, w2});
  CHECK(events == std::vector<std::string>{"w2", "h"});
  check_values(g[1], w2_seen);
}

TEST_CASE("a hook on a leaf sees the gradient and can replace it") {
  Tensor x = leaf({1, 2, 3});
  std::vector<double> seen;
  int calls = 0;
  x.register_hook([&](const Tensor& g) {
    ++calls;
    seen = g.to_vector<double>();
    return g * 2.0;
  });
  xg::sum(x * x).backward();
  CHECK(calls == 1);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == doctest::Approx(2));
  CHECK(seen[1] == doctest::Approx(4));
  CHECK(seen[2] == doctest::Approx(6));
  check_values(x.grad(), {4, 8, 12});

  SUBCASE("a leaf reached through several paths: the hook runs once, on the total") {
    Tensor w = leaf({1, 2});
    std::vector<std::vector<double>> calls_seen;
    w.register_hook([&](const Tensor& g) {
      calls_seen.push_back(g.to_vector<double>());
      return xg::ones_like(g);  // not linear: per-path application would give 3 per element
    });
    xg::sum(w * w + w).backward();
    REQUIRE(calls_seen.size() == 1);
    CHECK(calls_seen[0] == std::vector<double>{3, 5});
    check_values(w.grad(), {1, 1});
    // the same through xg::grad
    calls_seen.clear();
    std::vector<Tensor> g = xg::grad({xg::sum(w * w + w)}, {w});
    REQUIRE(calls_seen.size() == 1);
    CHECK(calls_seen[0] == std::vector<double>{3, 5});
    check_values(g[0], {1, 1});
  }
  SUBCASE("a hook returning an undefined tensor leaves the gradient alone") {
    Tensor w = leaf({5});
    int observed = 0;
    w.register_hook([&](const Tensor&) {
      ++observed;
      return Tensor();
    });
    xg::sum(w * 3.0).backward();
    CHECK(observed == 1);
    check_values(w.grad(), {3});
  }
  SUBCASE("hooks run in registration order, each on the previous result") {
    Tensor w = leaf({1});
    w.register_hook([](const Tensor& g) { return g + 1.0; });
    w.register_hook([](const Tensor& g) { return g * 10.0; });
    xg::sum(w * 2.0).backward();
    check_values(w.grad(), {30});  // (2 + 1) * 10
  }
  SUBCASE("a hook returning a wrongly shaped gradient is a ShapeError") {
    Tensor w = leaf({1, 2});
    w.register_hook([](const Tensor&) { return xg::ones({3}, {.dtype = Dtype::float64}); });
    CHECK_ERROR(xg::sum(w * 2.0).backward(), xg::ShapeError, "hook:", "[3]", "[2]");
  }
  SUBCASE("a hook on a tensor that does not require grad is refused") {
    Tensor c = xg::ones({2});
    CHECK_ERROR(c.register_hook([](const Tensor& g) { return g; }), xg::ValueError,
                "register_hook:", "does not require grad");
  }
}

TEST_CASE("a hook on a non-leaf modifies the gradient flowing further") {
  Tensor x = leaf({1, 2});
  Tensor h = x * x;  // dh/dx = 2x
  std::vector<double> seen;
  h.register_hook([&](const Tensor& g) {
    seen = g.to_vector<double>();
    return g * 10.0;
  });
  Tensor y = xg::sum(h * 3.0);
  y.backward();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == doctest::Approx(3));
  CHECK(seen[1] == doctest::Approx(3));
  check_values(x.grad(), {10 * 3 * 2 * 1, 10 * 3 * 2 * 2});
  CHECK_FALSE(h.grad().defined());  // a non-leaf keeps no gradient unless asked
}

TEST_CASE("retain_grad keeps the gradient of a non-leaf") {
  Tensor x = leaf({1, 2, 3});
  Tensor h = xg::sin(x);
  h.retain_grad();
  Tensor y = xg::sum(h * h);                    // dy/dh = 2 h = 2 sin x
  y.backward(Tensor(), /*retain_graph=*/true);  // h's own node is replayed again below
  check_values(h.grad(), {2 * std::sin(1.0), 2 * std::sin(2.0), 2 * std::sin(3.0)});
  check_values(x.grad(), {2 * std::sin(1.0) * std::cos(1.0), 2 * std::sin(2.0) * std::cos(2.0),
                          2 * std::sin(3.0) * std::cos(3.0)});
  CHECK_FALSE(h.grad().requires_grad());

  // with a second backward through a new graph built on h, h.grad accumulates
  Tensor z = xg::sum(h * 5.0);
  z.backward();
  check_values(h.grad(), {2 * std::sin(1.0) + 5, 2 * std::sin(2.0) + 5, 2 * std::sin(3.0) + 5});

  SUBCASE("retain_grad on a leaf is harmless") {
    Tensor w = leaf({1});
    w.retain_grad();
    xg::sum(w * 2.0).backward();
    check_values(w.grad(), {2});
  }
}

// ---------------------------------------------------------------- xg::grad
TEST_CASE("xg::grad returns gradients without touching .grad()") {
  Tensor x = leaf({1, 2});
  Tensor w = leaf({3, -1});
  Tensor y = xg::sum(x * w * x);  // dy/dx = 2 w x, dy/dw = x^2
  std::vector<Tensor> g = xg::grad({y}, {x, w});
  REQUIRE(g.size() == 2);
  check_values(g[0], {6, -4});
  check_values(g[1], {1, 4});
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
  CHECK_FALSE(g[0].requires_grad());

  SUBCASE("without retain_graph the graph is freed") {
    CHECK_ERROR(xg::grad({y}, {x}), xg::ValueError, "backward:", "second time");
  }
}

TEST_CASE("xg::grad with retain_graph and with grad_outputs") {
  Tensor x = leaf({1, 2, 3});
  Tensor y = x * x * x;  // dy/dx = 3 x^2
  Tensor v = xg::tensor({1, -1, 0.5}, {.dtype = Dtype::float64});
  std::vector<Tensor> g1 = xg::grad({y}, {x}, {v}, /*retain_graph=*/true);
  check_values(g1[0], {3, -12, 13.5});
  std::vector<Tensor> g2 = xg::grad({y}, {x}, {v * 2.0}, /*retain_graph=*/true);
  check_values(g2[0], {6, -24, 27});
  CHECK_ERROR(xg::grad({y}, {x}), xg::ValueError, "one-element output",
              "[3]");  // non-scalar needs grad_outputs
  CHECK_ERROR(xg::grad({y}, {x}, {v, v}), xg::ValueError, "2 gradients for 1 outputs");  // count mismatch
}

TEST_CASE("xg::grad works for non-leaf inputs") {
  Tensor x = leaf({0.5, 1});
  Tensor h = x * x;
  Tensor y = xg::sum(xg::sin(h));
  std::vector<Tensor> g = xg::grad({y}, {h, x}, {}, /*retain_graph=*/true);
  check_values(g[0], {std::cos(0.25), std::cos(1.0)});
  check_values(g[1], {std::cos(0.25) * 2 * 0.5, std::cos(1.0) * 2 * 1});
  CHECK_FALSE(h.grad().defined());
  CHECK_FALSE(x.grad().defined());
  // the same input twice gets the same gradient twice
  std::vector<Tensor> twice = xg::grad({y}, {x, x}, {}, /*retain_graph=*/true);
  check_values(twice[0], {std::cos(0.25) * 2 * 0.5, std::cos(1.0) * 2 * 1});
  check_values(twice[1], {std::cos(0.25) * 2 * 0.5, std::cos(1.0) * 2 * 1});
  // the output itself as input: d y / d y = 1
  std::vector<Tensor> gy = xg::grad({y}, {y});
  check_values(gy[0], {1});
}

TEST_CASE("xg::grad: an unused input is an error unless allow_unused") {
  Tensor x = leaf({1, 2});
  Tensor unused = leaf({7});
  Tensor y = xg::sum(x * x);
  CHECK_ERROR(xg::grad({y}, {x, unused}, {}, true), xg::ValueError, "input 1", "allow_unused");
  std::vector<Tensor> g = xg::grad({y}, {x, unused}, {}, true, false, /*allow_unused=*/true);
  check_values(g[0], {2, 4});
  CHECK_FALSE(g[1].defined());
  // an input that does not require grad at all
  Tensor c = xg::tensor({1.0}, {.dtype = Dtype::float64});
  CHECK_ERROR(xg::grad({y}, {c}, {}, true, false, true), xg::ValueError,
              "grad: input 0 does not require grad");
}

TEST_CASE("xg::grad runs leaf hooks on the returned gradient, and leaves .grad() alone") {
  Tensor x = leaf({1, 2});
  x.register_hook([](const Tensor& g) { return g * 3.0; });
  std::vector<Tensor> g = xg::grad({xg::sum(x * x)}, {x});
  check_values(g[0], {6, 12});
  CHECK_FALSE(x.grad().defined());
}

// ---------------------------------------------------------------- higher order
TEST_CASE("d2/dx2 x^3 = 6x via grad with create_graph") {
  Tensor x = leaf({-1, 0.5, 2});
  SUBCASE("x * x * x") {
    Tensor y = xg::sum(x * x * x);
    Tensor g = xg::grad({y}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
    check_values(g, {3, 0.75, 12});
    CHECK(g.requires_grad());
    Tensor g2 = xg::grad({xg::sum(g)}, {x})[0];
    check_values(g2, {-6, 3, 12});
  }
  SUBCASE("pow(x, 3), third derivative too") {
    Tensor y = xg::sum(xg::pow(x, 3.0));
    Tensor g = xg::grad({y}, {x}, {}, std::nullopt, true)[0];
    Tensor g2 = xg::grad({xg::sum(g)}, {x}, {}, std::nullopt, true)[0];
    check_values(g2, {-6, 3, 12});
    Tensor g3 = xg::grad({xg::sum(g2)}, {x})[0];
    check_values(g3, {6, 6, 6});
  }
  SUBCASE("backward with create_graph leaves a differentiable .grad()") {
    Tensor y = xg::sum(x * x * x);
    y.backward(Tensor(), false, /*create_graph=*/true);
    Tensor g = x.grad();
    check_values(g, {3, 0.75, 12});
    CHECK(g.requires_grad());
    Tensor g2 = xg::grad({xg::sum(g)}, {x})[0];
    check_values(g2, {-6, 3, 12});
    // x.grad() holds a graph that holds x: clearing it breaks the reference cycle (as PyTorch's
    // backward(create_graph=True) warns); otherwise x is never freed (LeakSanitizer reports it).
    x.zero_grad();
  }
}

TEST_CASE("Hessian-vector product of a quadratic form with xg::grad twice") {
  // f(x) = x^T A x: grad = (A + A^T) x, H = A + A^T, H v = (A + A^T) v
  Tensor A = xg::tensor({1, 2, 0, -1, 3, 4, 0.5, 0, 2}, {3, 3}, {.dtype = Dtype::float64});
  Tensor x = leaf({1, -2, 0.5});
  Tensor v = xg::tensor({0.3, 1, -2}, {.dtype = Dtype::float64});
  Tensor f = xg::dot(x, xg::matmul(A, x));
  const std::vector<double> a = A.to_vector<double>(), xv = x.to_vector<double>(), vv = v.to_vector<double>();
  double fx = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) fx += xv[i] * a[i * 3 + j] * xv[j];
  CHECK(f.item() == doctest::Approx(fx));
  Tensor g = xg::grad({f}, {x}, {}, std::nullopt, true)[0];
  std::vector<double> g_expected(3, 0.0), hv_expected(3, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      g_expected[i] += (a[i * 3 + j] + a[j * 3 + i]) * xv[j];
      hv_expected[i] += (a[i * 3 + j] + a[j * 3 + i]) * vv[j];
    }
  check_values(g, g_expected);
  Tensor hv = xg::grad({xg::dot(g, v)}, {x})[0];
  check_values(hv, hv_expected);
  // the same with v as grad_outputs of g
  Tensor f2 = xg::dot(x, xg::matmul(A, x));
  Tensor g2 = xg::grad({f2}, {x}, {}, std::nullopt, true)[0];
  check_values(xg::grad({g2}, {x}, {v})[0], hv_expected);
}

TEST_CASE("gradient penalty: norm of d out/d x, backpropagated into the weights") {
  // out = sum(w * x^2): d out/dx = 2 w x; P = (||2 w x|| - 1)^2 with S = sum w^2 x^2, n = 2 sqrt(S)
  // dP/dw_i = 2 (n - 1) * 2 w_i x_i^2 / sqrt(S), dP/dx_i = 2 (n - 1) * 2 w_i^2 x_i / sqrt(S)
  Tensor w = leaf({0.5, -1, 2});
  Tensor x = leaf({1, 2, -0.5});
  Tensor out = xg::sum(w * x * x);
  Tensor gx = xg::grad({out}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  check_values(gx, {2 * 0.5 * 1, 2 * -1 * 2.0, 2 * 2 * -0.5});
  Tensor n = xg::norm(gx);
  Tensor penalty = (n - 1.0) * (n - 1.0);
  penalty.backward();
  const std::vector<double> wv{0.5, -1, 2}, xv{1, 2, -0.5};
  double S = 0;
  for (int i = 0; i < 3; ++i) S += wv[i] * wv[i] * xv[i] * xv[i];
  const double nn = 2 * std::sqrt(S);
  CHECK(n.item() == doctest::Approx(nn));
  CHECK(penalty.item() == doctest::Approx((nn - 1) * (nn - 1)));
  std::vector<double> dw, dx;
  for (int i = 0; i < 3; ++i) {
    dw.push_back(2 * (nn - 1) * 2 * wv[i] * xv[i] * xv[i] / std::sqrt(S));
    dx.push_back(2 * (nn - 1) * 2 * wv[i] * wv[i] * xv[i] / std::sqrt(S));
  }
  check_values(w.grad(), dw, 1e-10);
  check_values(x.grad(), dx, 1e-10);
}

TEST_CASE("grad of tanh twice: -2 tanh (1 - tanh^2)") {
  Tensor x = leaf({-1.5, 0, 0.3, 2});
  Tensor g1 = xg::grad({xg::sum(xg::tanh(x))}, {x}, {}, std::nullopt, true)[0];
  Tensor g2 = xg::grad({xg::sum(g1)}, {x})[0];
  std::vector<double> e1, e2;
  for (double v : {-1.5, 0.0, 0.3, 2.0}) {
    const double t = std::tanh(v);
    e1.push_back(1 - t * t);
    e2.push_back(-2 * t * (1 - t * t));
  }
  check_values(g1, e1);
  check_values(g2, e2);
}

// ---------------------------------------------------------------- the tape
TEST_CASE("tape_of lists the nodes in recording order with their op names") {
  Tensor x = leaf({1, 2});
  Tensor w = leaf({3, 4});
  Tensor a = x * w;
  Tensor b = a + x;
  Tensor c = xg::tanh(b);
  Tensor d = xg::sum(c);
  auto tape = xg::tape_of(d);
  REQUIRE(tape.size() == 4);
  const std::vector<std::string> names{"mul", "add", "tanh", "sum"};
  for (std::size_t i = 0; i < tape.size(); ++i) {
    CAPTURE(i);
    CHECK(std::string(tape[i]->name()) == names[i]);
    if (i > 0) CHECK(tape[i]->sequence_nr() > tape[i - 1]->sequence_nr());
  }
  CHECK(tape[0] == a.grad_fn());
  CHECK(tape[3] == d.grad_fn());
  // the add node: one edge to the mul node, one straight to the leaf x
  REQUIRE(tape[1]->num_inputs() == 2);
  CHECK(tape[1]->edges()[0].fn == a.grad_fn());
  CHECK(tape[1]->edges()[1].leaf == x.impl());
  CHECK(tape[3]->output_shape() == xg::Shape{});
  CHECK(tape[0]->output_shape() == xg::Shape{2});
  // a leaf has an empty tape
  CHECK(xg::tape_of(x).empty());
  // only what is reachable: the tape of b stops at add
  CHECK(xg::tape_of(b).size() == 2);
}

TEST_CASE("edges: an input that does not require grad has an empty edge") {
  Tensor x = leaf({1, 2});
  Tensor c = xg::tensor({3, 4}, {.dtype = Dtype::float64});
  Tensor y = x * c;
  REQUIRE(y.grad_fn()->num_inputs() == 2);
  CHECK(y.grad_fn()->needs_input_grad(0));
  CHECK_FALSE(y.grad_fn()->needs_input_grad(1));
  xg::sum(y).backward();
  check_values(x.grad(), {3, 4});
  CHECK_FALSE(c.grad().defined());
}

// ---------------------------------------------------------------- dtypes
TEST_CASE("gradients of float32 inputs are float32") {
  Tensor x = xg::tensor({0.5, -1, 2}, {.dtype = Dtype::float32, .requires_grad = true});
  Tensor y = xg::sum(xg::tanh(x) * 2.0);
  CHECK(y.dtype() == Dtype::float32);
  y.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == Dtype::float32);
  std::vector<double> e;
  for (double v : {0.5, -1.0, 2.0}) e.push_back(2 * (1 - std::tanh(v) * std::tanh(v)));
  check_values(x.grad(), e, 1e-5);
  std::vector<Tensor> g = xg::grad({xg::sum(x * x)}, {x});
  CHECK(g[0].dtype() == Dtype::float32);
  check_values(g[0], {1, -2, 4}, 1e-6);
}

TEST_CASE("promotion float32 x float64: each input gets a gradient of its own dtype") {
  Tensor a = xg::tensor({1.5, -2}, {.dtype = Dtype::float32, .requires_grad = true});
  Tensor b = xg::tensor({3, 0.25}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor y = a * b;
  CHECK(y.dtype() == Dtype::float64);
  bool has_to = false;
  for (const auto& n : xg::tape_of(y)) has_to = has_to || std::string(n->name()) == "to";
  CHECK(has_to);
  xg::sum(y * y).backward();  // d/da = 2 a b^2, d/db = 2 a^2 b
  REQUIRE(a.grad().defined());
  REQUIRE(b.grad().defined());
  CHECK(a.grad().dtype() == Dtype::float32);
  CHECK(b.grad().dtype() == Dtype::float64);
  check_values(a.grad(), {2 * 1.5 * 9, 2 * -2 * 0.0625}, 1e-6);
  check_values(b.grad(), {2 * 2.25 * 3, 2 * 4 * 0.25});
}

TEST_CASE("to(dtype) is differentiable and returns the gradient in the source dtype") {
  Tensor x = xg::tensor({1, 2}, {.dtype = Dtype::float32, .requires_grad = true});
  Tensor y = x.to(Dtype::float64);
  CHECK(y.dtype() == Dtype::float64);
  xg::sum(y * y * 0.5).backward();
  CHECK(x.grad().dtype() == Dtype::float32);
  check_values(x.grad(), {1, 2});
  // same dtype: the same tensor
  CHECK(x.to(Dtype::float32).impl() == x.impl());
}

TEST_CASE("requires_grad_ rules") {
  Tensor i = xg::arange(3.0, {.dtype = Dtype::int64});
  CHECK_ERROR(i.requires_grad_(), xg::TypeError, "requires_grad_:", "int64");
  Tensor x = leaf({1});
  Tensor y = x * 2.0;
  CHECK_ERROR(y.requires_grad_(false), xg::ValueError, "requires_grad_:", "only leaves", "'mul'");
  CHECK_FALSE(y.is_leaf());
  CHECK(x.is_leaf());
}

TEST_CASE("a later backward never writes into the caller's gradient tensor (create_graph first)") {
  Tensor x = leaf({1, 2});
  Tensor g = xg::tensor({1, 1}, {.dtype = Dtype::float64});
  (x + 1.0).backward(g, false, /*create_graph=*/true);  // x.grad = g (sum_to is the identity here)
  check_values(x.grad(), {1, 1});
  (x + 1.0).backward(g);
  check_values(x.grad(), {2, 2});
  check_values(g, {1, 1});  // the caller's seed is untouched
}

TEST_CASE("zero_grad(false) on a gradient that carries a graph (after create_graph)") {
  Tensor x = leaf({1, 2});
  xg::sum(x * x * x).backward(Tensor(), false, /*create_graph=*/true);
  REQUIRE(x.grad().requires_grad());
  check_values(x.grad(), {3, 12});
  x.zero_grad(false);
  check_values(x.grad(), {0, 0});
  CHECK_FALSE(x.grad().requires_grad());  // as PyTorch: the zeroed gradient is cut from its graph
  xg::sum(x * 2.0).backward();
  check_values(x.grad(), {2, 2});
}

TEST_CASE("a hook that runs backward on its own graph every time is an error, not a stack overflow") {
  // Each backward runs the hook, which starts another backward of the same graph: without a limit
  // on nested passes this recursed until the stack overflowed.
  SUBCASE("a leaf's hook") {
    Tensor w = leaf({1, 2, 3}).name("w");
    Tensor loss = xg::sum(w * w);
    int calls = 0;
    xg::RemovableHandle h = w.register_hook([&](const Tensor&) {
      ++calls;
      loss.backward(Tensor(), true);
      return Tensor();
    });
    CHECK_ERROR(loss.backward(Tensor(), true), xg::ValueError, "backward:", "64 backward passes nested",
                "a hook on the leaf tensor 'w' of shape [3]");
    CHECK(calls == 64);
    // The engine is usable afterwards: the graph was retained, a plain backward works.
    h.remove();
    w.zero_grad();
    loss.backward();
    check_values(w.grad(), {2, 4, 6});
  }
  SUBCASE("a hook on a non-leaf, through xg::grad") {
    Tensor x = leaf({1, 2});
    Tensor y = x * 3.0;
    Tensor loss = xg::sum(y * y);
    xg::RemovableHandle h = y.register_hook([&](const Tensor&) {
      (void)xg::grad({loss}, {x}, {}, true);
      return Tensor();
    });
    CHECK_ERROR(loss.backward(Tensor(), true), xg::ValueError, "64 backward passes nested",
                "a hook on the result of 'mul'", "of shape [2]");
    h.remove();
    std::vector<Tensor> g = xg::grad({loss}, {x});
    check_values(g[0], {18, 36});  // d/dx sum (3x)^2 = 18 x
  }
  SUBCASE("a hook that re-enters once still works") {
    Tensor w = leaf({1, 2});
    Tensor loss = xg::sum(w * w);
    bool inside = false;
    w.register_hook([&](const Tensor&) {
      if (!inside) {
        inside = true;
        loss.backward(Tensor(), true);  // the inner pass accumulates 2 w first
        inside = false;
      }
      return Tensor();
    });
    loss.backward();
    check_values(w.grad(), {4, 8});  // 2 w twice
  }
}
