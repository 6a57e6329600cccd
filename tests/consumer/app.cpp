// A program that uses xgrad the way a downstream project would: only the installed headers and
// the installed library, found through pkg-config or CMake's find_package(xgrad). It includes the
// umbrella header and uses autograd, nn and optim, so that an umbrella header that misses one of
// its parts fails to compile here. tests/install_consumer.sh builds and runs it, and the CMakeLists.txt
// beside it, with README's install commands.
#include <cmath>
#include <cstdio>
#include <vector>

#include <xgrad/xgrad.hpp>

// Fits y = 2 x - 1 with an nn::Linear(1, 1), mse_loss and 50 SGD steps; returns the first and the
// last loss through the arguments.
static void fit_line(double& first, double& last) {
  xg::manual_seed(0);
  xg::nn::Linear fc(1, 1);
  xg::optim::SGD opt(fc.parameters(), {.lr = 0.1});
  const xg::Tensor x = xg::tensor({-1.0, 0.0, 1.0, 2.0}, {4, 1});
  const xg::Tensor y = xg::tensor({-3.0, -1.0, 1.0, 3.0}, {4, 1});
  for (int step = 0; step < 50; ++step) {
    opt.zero_grad();
    xg::Tensor loss = xg::nn::functional::mse_loss(fc(x), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
}

int main() {
  // loss = sum(tanh(x @ w)) + sum(w * w * w)
  // d loss / d w = x^T (1 - tanh(x @ w)^2) + 3 w^2
  xg::Tensor x = xg::tensor({1.0, 2.0, 3.0, -1.0, 0.5, 0.0}, {2, 3}, {.dtype = xg::Dtype::float64});
  xg::Tensor w = xg::tensor({0.1, -0.2, 0.3}, {3, 1}, {.dtype = xg::Dtype::float64, .requires_grad = true});
  xg::Tensor loss = xg::sum(xg::tanh(xg::matmul(x, w))) + xg::sum(w * w * w);
  loss.backward();

  const double xv[2][3] = {{1.0, 2.0, 3.0}, {-1.0, 0.5, 0.0}};
  const double wv[3] = {0.1, -0.2, 0.3};
  std::vector<double> expected(3, 0.0);
  for (int i = 0; i < 2; ++i) {
    double z = 0;
    for (int k = 0; k < 3; ++k) z += xv[i][k] * wv[k];
    const double dt = 1.0 - std::tanh(z) * std::tanh(z);
    for (int k = 0; k < 3; ++k) expected[k] += xv[i][k] * dt;
  }
  for (int k = 0; k < 3; ++k) expected[k] += 3.0 * wv[k] * wv[k];

  if (!w.grad().defined()) {
    std::printf("consumer: FAIL: w.grad() is undefined after backward()\n");
    return 1;
  }
  const std::vector<double> got = w.grad().to_vector<double>();
  if (got.size() != expected.size()) {
    std::printf("consumer: FAIL: gradient has %zu elements, expected 3\n", got.size());
    return 1;
  }
  for (int k = 0; k < 3; ++k) {
    if (!(std::fabs(got[k] - expected[k]) <= 1e-12 * (1.0 + std::fabs(expected[k])))) {
      std::printf("consumer: FAIL: dloss/dw[%d] = %.17g, expected %.17g\n", k, got[k], expected[k]);
      return 1;
    }
  }

  double first = 0, last = 0;
  fit_line(first, last);
  if (!(last < 1e-3 && last < first)) {
    std::printf("consumer: FAIL: nn::Linear + optim::SGD: mse went from %g to %g in 50 steps\n", first, last);
    return 1;
  }
  std::printf("consumer: OK grad = [%.6f, %.6f, %.6f], Linear + SGD mse %.4f -> %.2g\n", got[0], got[1],
              got[2], first, last);
  return 0;
}
