// Anomaly mode: where does the first NaN come from? With xg::AnomalyGuard on, the first op whose
// output, or whose gradient in backward, holds NaN or Inf raises an error that names the op, its
// tape step and the ops its inputs came from. Part 5 of docs/backprop-step-by-step.md.
#include <iostream>

#include "xgrad/autograd/tools/inspect.hpp"
#include "xgrad/xgrad.hpp"

int main() {
  const xg::TensorOptions param{.dtype = xg::Dtype::float64, .requires_grad = true};
  xg::Tensor w = xg::tensor({0.5, 2.0, 1.5}, param).name("w");
  xg::Tensor x = xg::tensor({2.0, 1.0, -1.0}, {.dtype = xg::Dtype::float64}).name("x");

  // 1. A NaN in the forward pass: log of a negative number.
  {
    xg::AnomalyGuard anomaly;
    try {
      xg::Tensor s = (w * x).name("s");
      xg::Tensor L = xg::sum(xg::log(s));
      std::cout << "no anomaly\n";
    } catch (const xg::ValueError& e) {
      std::cout << "forward: " << e.what() << "\n";
    }
  }

  // 2. Finite forward, infinite gradient: sqrt is not differentiable at 0.
  {
    xg::AnomalyGuard anomaly;
    xg::Tensor d = (w - 0.5).name("d");  // d[0] = 0
    xg::Tensor L = xg::sum(xg::sqrt(d)).name("L");
    std::cout << "forward is fine: L = " << L.item() << "\n";
    try {
      L.backward();
    } catch (const xg::ValueError& e) {
      std::cout << "backward: " << e.what() << "\n";
    }
  }

  // 3. Without the guard, nothing is checked: the Inf flows into w.grad.
  w.zero_grad();
  xg::Tensor L = xg::sum(xg::sqrt(w - 0.5));
  L.backward();
  std::cout << "without anomaly mode: w.grad = " << w.grad() << "\n";
  return 0;
}
