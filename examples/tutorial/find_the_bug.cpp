// Find the bug: backprop for a 3-4-4 sigmoid MLP written by hand, the way course notes write it
// (a forward pass that keeps its intermediates, then the chain rule stage by stage, then the
// gradient-descent update), with three classic mistakes in it: the activation's derivative left
// out, a weight not transposed in the backward product, and the sign of the update. Each is found
// by comparing the hand-written stage with autograd through check_backward, which names the wrong
// tensor and its elements; each is then fixed. Docs: docs/find_the_bug.md.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "xgrad/xgrad.hpp"

namespace {

using xg::Tensor;
using Tensors = std::vector<Tensor>;

struct Bugs {
  bool no_derivative = true;  // bug 1: dz1 = dh, sigmoid's derivative forgotten
  bool transposed = true;     // bug 2: dh = dy W2^T instead of dy W2
  bool wrong_sign = true;     // bug 3: W += lr dW instead of W -= lr dW
};

// The forward pass of the notes: z1 = X W1^T + b1, h = sigmoid(z1), y = h W2^T + b2,
// L = sum((y - Y)^2) / 2N.
struct Forward {
  Tensor z1, h, y, loss;
};
Forward forward(const Tensor& X, const Tensor& Y, const Tensors& p) {
  Forward f;
  f.z1 = xg::matmul(X, xg::transpose(p[0], 0, 1)) + p[1];
  f.h = xg::sigmoid(f.z1);
  f.y = xg::matmul(f.h, xg::transpose(p[2], 0, 1)) + p[3];
  f.loss = xg::sum(xg::pow(f.y - Y, 2.0)) / (2.0 * static_cast<double>(X.size(0)));
  return f;
}

// The backward stages, each as the notes derive it.
// Output layer, from dL/dy: dW2 = dy^T h, db2 = column sums of dy, dh = dy W2.
Tensors layer2_backward(const Tensor& dy, const Tensor& h, const Tensor& W2, const Bugs& bugs) {
  const Tensor dh = bugs.transposed ? xg::matmul(dy, xg::transpose(W2, 0, 1))  // bug 2
                                    : xg::matmul(dy, W2);
  return {dh, xg::matmul(xg::transpose(dy, 0, 1), h), xg::sum(dy, {0})};
}
// Hidden activation: dz1 = dh * sigmoid'(z1) = dh * h (1 - h).
Tensor sigmoid_backward(const Tensor& dh, const Tensor& h, const Bugs& bugs) {
  return bugs.no_derivative ? dh : dh * h * (1.0 - h);  // bug 1
}
// The whole backward: dL/dy = (y - Y) / N, then the stages above, then dW1 = dz1^T X, db1.
Tensors backprop(const Tensor& X, const Tensor& Y, const Tensors& p, const Bugs& bugs) {
  const Forward f = forward(X, Y, p);
  const Tensor dy = (f.y - Y) / static_cast<double>(X.size(0));
  const Tensors l2 = layer2_backward(dy, f.h, p[2], bugs);
  const Tensor dz1 = sigmoid_backward(l2[0], f.h, bugs);
  return {xg::matmul(xg::transpose(dz1, 0, 1), X), xg::sum(dz1, {0}), l2[1], l2[2]};
}
// Gradient descent: p <- p - lr dL/dp.
Tensors sgd_step(const Tensors& p, const Tensors& grads, double lr, const Bugs& bugs) {
  Tensors next;
  for (std::size_t i = 0; i < p.size(); ++i)
    next.push_back(bugs.wrong_sign ? p[i] + lr * grads[i] : p[i] - lr * grads[i]);  // bug 3
  return next;
}

// check_backward hands the hand-written side a gradient g of the scalar loss: the hand
// gradients are scaled by it.
Tensors scaled(Tensors grads, const Tensor& g) {
  for (auto& t : grads) t = t * g;
  return grads;
}

}  // namespace

int main() {
  xg::manual_seed(0);
  const xg::TensorOptions f64{.dtype = xg::Dtype::float64};
  const Tensor X = xg::randn({8, 3}, f64), Y = xg::randn({8, 4}, f64);
  Tensors params = {xg::randn({4, 3}, f64).name("W1"), (0.1 * xg::randn({4}, f64)).name("b1"),
                    xg::randn({4, 4}, f64).name("W2"), (0.1 * xg::randn({4}, f64)).name("b2")};
  for (auto& p : params) p.requires_grad_(true);
  const double lr = 0.5;
  xg::GradcheckOptions opts;
  opts.max_failures = 3;
  Bugs bugs;  // all three bugs in

  auto loss = [&](const Tensors& p) { return forward(X, Y, p).loss; };
  auto whole = [&] {
    return xg::check_backward(
        loss, [&](const Tensors& p, const Tensors& g) { return scaled(backprop(X, Y, p, bugs), g[0]); },
        params, opts);
  };
  // check_backward lists the first wrong tensor; which parameters are wrong, one at a time.
  auto per_parameter = [&] {
    std::string out;
    for (std::size_t i = 0; i < params.size(); ++i) {
      auto with = [&](const Tensor& pi) {
        Tensors p = params;
        p[i] = pi;
        return p;
      };
      const xg::GradcheckReport r =
          xg::check_backward([&](const Tensors& in) { return loss(with(in[0])); },
                             [&](const Tensors& in, const Tensors& g) {
                               return Tensors{backprop(X, Y, with(in[0]), bugs)[i] * g[0]};
                             },
                             {params[i]}, opts);
      out += params[i].name() + (r.passed ? " right" : " WRONG") + (i + 1 < params.size() ? ", " : "");
    }
    return out;
  };
  // The stages alone, on the network's own intermediates.
  const Forward f0 = forward(X, Y, params);
  const Tensor z1 = f0.z1.detach().clone().requires_grad_(true).name("z1");
  const Tensor h = f0.h.detach().clone().requires_grad_(true).name("h");
  auto activation = [&] {
    return xg::check_backward([](const Tensors& in) { return xg::sigmoid(in[0]); },
                              [&](const Tensors& in, const Tensors& g) {
                                return Tensors{sigmoid_backward(g[0], xg::sigmoid(in[0]), bugs)};
                              },
                              {z1}, opts);
  };
  auto output_layer = [&] {
    return xg::check_backward(
        [&](const Tensors& in) { return xg::matmul(in[0], xg::transpose(in[1], 0, 1)) + in[2]; },
        [&](const Tensors& in, const Tensors& g) { return layer2_backward(g[0], in[0], in[1], bugs); },
        {h, params[2], params[3]}, opts);
  };
  // The update read as a gradient: (p - step(p)) / lr must be dL/dp.
  auto update = [&] {
    return xg::check_backward(
        loss,
        [&](const Tensors& p, const Tensors& g) {
          const Tensors next = sgd_step(p, backprop(X, Y, p, bugs), lr, bugs);
          Tensors implied;
          for (std::size_t i = 0; i < p.size(); ++i) implied.push_back((p[i] - next[i]) / lr);
          return scaled(implied, g[0]);
        },
        params, opts);
  };

  std::printf("1. The whole backward against autograd:\n%s\n", whole().str().c_str());
  std::printf("Each parameter alone: %s\n", per_parameter().c_str());
  const xg::GradcheckReport a1 = activation();
  std::printf("The activation's backward alone:\n%s\n", a1.str().c_str());
  bugs.no_derivative = false;
  std::printf("Bug 1, sigmoid's derivative h (1 - h) left out: fixed.\n\n");

  const xg::GradcheckReport w2 = whole();
  std::printf("2. The whole backward again:\n%s\n", w2.str().c_str());
  const xg::GradcheckReport l2 = output_layer();
  std::printf("The output layer's backward alone:\n%s\n", l2.str().c_str());
  bugs.transposed = false;
  std::printf("Bug 2, dh = dy W2^T where dh = dy W2 (W2 is square, so the shapes fit): fixed.\n\n");

  const xg::GradcheckReport w3 = whole();
  std::printf("3. The whole backward: %s\n", w3.str().c_str());
  const xg::GradcheckReport u3 = update();
  std::printf("The update read as a gradient, (p - step(p)) / lr:\n%s\n", u3.str().c_str());
  bugs.wrong_sign = false;
  std::printf("Bug 3, p + lr dp where p - lr dp: fixed.\n\n");

  const xg::GradcheckReport a4 = activation(), l4 = output_layer(), w4 = whole(), u4 = update();
  std::printf("4. All fixed: activation %s, output layer %s, whole backward %s, update %s.\n",
              a4.passed ? "passed" : "FAILED", l4.passed ? "passed" : "FAILED",
              w4.passed ? "passed" : "FAILED", u4.passed ? "passed" : "FAILED");

  // Train with the hand-written code, and with autograd and the same update; they must agree.
  Tensors hand = params, autograd;
  for (const auto& p : params) autograd.push_back(p.detach().clone().requires_grad_(true));
  double first = 0, last = 0;
  for (int step = 0; step < 100; ++step) {
    const Tensor L = loss(autograd);
    const Tensors g = xg::grad({L}, autograd);
    {
      xg::NoGradGuard no_grad;
      for (std::size_t i = 0; i < autograd.size(); ++i) autograd[i].sub_(g[i], lr);
      hand = sgd_step(hand, backprop(X, Y, hand, bugs), lr, bugs);
    }
    if (step == 0) first = L.item();
    last = L.item();
  }
  double diff = 0;
  for (std::size_t i = 0; i < hand.size(); ++i)
    diff = std::max(diff, xg::max(xg::abs(hand[i] - autograd[i])).item());
  std::printf("100 steps of the fixed code: loss %.6f -> %.6f; largest difference from autograd's %s 1e-12\n",
              first, last, diff < 1e-12 ? "below" : "ABOVE");

  const bool caught = !a1.passed && !w2.passed && !l2.passed && w3.passed && !u3.passed;
  return caught && a4.passed && l4.passed && w4.passed && u4.passed && last < first && diff < 1e-12 ? 0 : 1;
}
