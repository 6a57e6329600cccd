// Deep graphs: 150,000-op chains are replayed and destroyed without recursion (no stack
// overflow), and give the right gradients.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "xgrad/autograd.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;

constexpr int kDepth = 150000;
constexpr xg::TensorOptions f64{.dtype = Dtype::float64, .requires_grad = true};

}  // namespace

TEST_CASE("a 150,000-op chain y = y * c: backward gives c^n") {
  Tensor x = xg::tensor({1.5}, f64);
  const double c = 1.0000001;
  Tensor y = x;
  for (int i = 0; i < kDepth; ++i) y = y * c;
  const double cn = std::pow(c, kDepth);  // about exp(0.015)
  CHECK(y.item() == doctest::Approx(1.5 * cn).epsilon(1e-10));
  CHECK(xg::tape_of(y).size() == static_cast<std::size_t>(kDepth));
  y.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().item() == doctest::Approx(cn).epsilon(1e-10));
  CHECK(y.grad_fn()->released());
}

TEST_CASE("a 150,000-op chain y = y + x: one leaf reached 150,001 times") {
  Tensor x = xg::tensor({0.5, -2}, f64);
  Tensor y = x;
  for (int i = 0; i < kDepth; ++i) y = y + x;
  CHECK(y.at({0}) == doctest::Approx(0.5 * (kDepth + 1)));
  xg::sum(y).backward();
  // every path adds exactly 1: the sum is exact in float64
  CHECK(x.grad().at({0}) == static_cast<double>(kDepth + 1));
  CHECK(x.grad().at({1}) == static_cast<double>(kDepth + 1));
  // and a leaf hook on x runs once, on the total
  Tensor w = xg::tensor({1}, f64);
  int calls = 0;
  w.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 2.0;
  });
  Tensor z = w;
  for (int i = 0; i < 1000; ++i) z = z + w;
  z.backward();
  CHECK(calls == 1);
  CHECK(w.grad().item() == 2 * 1001.0);
}

TEST_CASE("destroying a 150,000-op chain without backward does not overflow the stack") {
  Tensor x = xg::tensor({0.25, 0.5}, f64);
  std::weak_ptr<xg::Node> head, tail;
  {
    Tensor y = x;
    for (int i = 0; i < kDepth; ++i) {
      y = xg::tanh(y);
      if (i == 0) head = y.grad_fn();
    }
    tail = y.grad_fn();
    CHECK_FALSE(head.expired());
  }  // y goes: the whole chain is freed here, iteratively
  CHECK(head.expired());
  CHECK(tail.expired());
  CHECK(x.is_leaf());
  CHECK_FALSE(x.grad().defined());

  SUBCASE("a chain of two-input ops sharing saved tensors, held by the middle") {
    Tensor mid;
    {
      Tensor y = x;
      for (int i = 0; i < kDepth; ++i) {
        y = y * x + 0.5;
        if (i == kDepth / 2) mid = y;
      }
    }
    CHECK(mid.grad_fn() != nullptr);
    CHECK(xg::tape_of(mid).size() == static_cast<std::size_t>(2 * (kDepth / 2 + 1)));
    mid = Tensor();  // the rest goes here
  }
}

TEST_CASE("a 150,000-op tanh chain on a tiny tensor: the chain rule product, via xg::grad") {
  Tensor x = xg::tensor({0.8, -0.3}, f64);
  Tensor y = x;
  for (int i = 0; i < kDepth; ++i) y = xg::tanh(y);
  // expected: v_{i+1} = tanh(v_i), dy/dx = prod (1 - v_{i+1}^2), computed in double
  std::vector<double> value, deriv;
  for (double v : {0.8, -0.3}) {
    double d = 1;
    for (int i = 0; i < kDepth; ++i) {
      v = std::tanh(v);
      d *= 1 - v * v;
    }
    value.push_back(v);
    deriv.push_back(d);
  }
  CHECK(y.at({0}) == doctest::Approx(value[0]).epsilon(1e-9));
  CHECK(y.at({1}) == doctest::Approx(value[1]).epsilon(1e-9));
  std::vector<Tensor> g = xg::grad({xg::sum(y)}, {x});
  REQUIRE(g[0].defined());
  CHECK(g[0].at({0}) == doctest::Approx(deriv[0]).epsilon(1e-8));
  CHECK(g[0].at({1}) == doctest::Approx(deriv[1]).epsilon(1e-8));
  CHECK(deriv[0] > 0.0);
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("xg::grad on a deep chain with a non-leaf input in the middle") {
  Tensor x = xg::tensor({2}, f64);
  Tensor y = x;
  Tensor mid;
  for (int i = 0; i < kDepth; ++i) {
    y = y * 1.0000001;
    if (i == kDepth / 2 - 1) mid = y;  // kDepth / 2 multiplications before mid
  }
  std::vector<Tensor> g = xg::grad({y}, {mid, x}, {}, /*retain_graph=*/true);
  const double c = 1.0000001;
  CHECK(g[0].item() == doctest::Approx(std::pow(c, kDepth - kDepth / 2)).epsilon(1e-10));
  CHECK(g[1].item() == doctest::Approx(std::pow(c, kDepth)).epsilon(1e-10));
  // retained: a second backward works and accumulates into x.grad
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(std::pow(c, kDepth)).epsilon(1e-10));
}

TEST_CASE("create_graph through a deep chain, then destroying the gradient's graph") {
  constexpr int depth = 50000;
  Tensor x = xg::tensor({0.5}, f64);
  Tensor y = x;
  for (int i = 0; i < depth; ++i) y = y * 1.00001;
  Tensor z = y * y;  // z = c^(2n) x^2, dz/dx = 2 c^(2n) x, d2z/dx2 = 2 c^(2n)
  const double c2n = std::pow(1.00001, 2 * depth);
  Tensor g = xg::grad({z}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  CHECK(g.item() == doctest::Approx(2 * c2n * 0.5).epsilon(1e-9));
  CHECK(g.requires_grad());
  Tensor g2 = xg::grad({g}, {x})[0];
  CHECK(g2.item() == doctest::Approx(2 * c2n).epsilon(1e-9));
  // backward with create_graph leaves a deep graph in the leaf's .grad(); that graph refers back
  // to the leaf (a cycle, as in PyTorch), which zero_grad() breaks: then it is all freed
  std::weak_ptr<xg::Node> grad_graph, forward_graph;
  {
    Tensor w = xg::tensor({1}, f64);
    Tensor u = w;
    for (int i = 0; i < depth; ++i) u = u * 1.0;
    forward_graph = u.grad_fn();
    (u * u).backward(Tensor(), false, /*create_graph=*/true);
    CHECK(w.grad().requires_grad());
    CHECK(w.grad().item() == doctest::Approx(2.0));
    grad_graph = w.grad().grad_fn();
    CHECK_FALSE(grad_graph.expired());
    w.zero_grad();
  }
  CHECK(grad_graph.expired());
  CHECK(forward_graph.expired());
}

TEST_CASE("a 150,000-op chain of custom ops: backward, then destruction of a second chain") {
  static const xg::CustomOp scale{"scale", "d/dx (c x) = c",
                                  [](const std::vector<Tensor>& in) { return in[0] * 1.0000001; },
                                  [](const xg::CustomOpContext& ctx, const Tensor& g) {
                                    (void)ctx.input(0);  // exercises the saved-input check on every node
                                    return std::vector<Tensor>{g * 1.0000001};
                                  }};
  Tensor x = xg::tensor({3}, f64);
  Tensor y = x;
  for (int i = 0; i < kDepth; ++i) y = scale({y});
  CHECK(std::string(y.grad_fn()->name()) == "scale");
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(std::pow(1.0000001, kDepth)).epsilon(1e-10));
  std::weak_ptr<xg::Node> first;
  {
    Tensor z = x;
    for (int i = 0; i < kDepth; ++i) {
      z = scale({z});
      if (i == 0) first = z.grad_fn();
    }
  }
  CHECK(first.expired());
}
