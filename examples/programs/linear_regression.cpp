// Fits y = 3x + 2 + noise with plain tensors, autograd and a hand-written gradient-descent update.
// What it teaches: requires_grad on parameters, backward() on a scalar loss, reading .grad(),
// updating in place under NoGradGuard, and clearing gradients between steps.
#include <cstdio>

#include "xgrad/xgrad.hpp"

int main() {
  xg::manual_seed(0);
  const int64_t n = 200;
  // Data: x uniform in [-1, 1], y = 3x + 2 plus a little Gaussian noise.
  xg::Tensor x = xg::uniform({n, 1}, -1.0, 1.0);
  xg::Tensor y = 3.0 * x + 2.0 + xg::normal({n, 1}, 0.0, 0.1);

  // Parameters: leaves that require gradients.
  xg::Tensor w = xg::zeros({1}, {.requires_grad = true}).name("w");
  xg::Tensor b = xg::zeros({1}, {.requires_grad = true}).name("b");
  const double lr = 0.1;

  for (int step = 0; step <= 200; ++step) {
    xg::Tensor pred = x * w + b;                         // broadcasting [n, 1] * [1]
    xg::Tensor loss = xg::mean(xg::pow(pred - y, 2.0));  // mean squared error
    loss.backward();                                     // d loss / d w and d loss / d b
    {
      xg::NoGradGuard no_grad;  // the update itself is not recorded
      w.sub_(w.grad(), lr);
      b.sub_(b.grad(), lr);
    }
    w.zero_grad();
    b.zero_grad();
    if (step % 25 == 0)
      std::printf("step %3d  loss %.5f  w %.4f  b %.4f\n", step, loss.item(), w.item(), b.item());
  }
  std::printf("learned y = %.3f x + %.3f (true: y = 3x + 2)\n", w.item(), b.item());
  return 0;
}
