// Learns XOR with a 2-4-1 network: tanh hidden layer, sigmoid output, binary cross-entropy, SGD.
// What it teaches: XOR is not linearly separable, so a hidden layer with a nonlinearity is needed;
// a Module with two Linear layers, an optimizer over model.parameters(), and the
// zero_grad / backward / step loop. Usage: xor [--steps N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

struct XorNet : xg::nn::Module {
  std::shared_ptr<xg::nn::Linear> hidden, out;
  XorNet() : Module("XorNet") {
    hidden = register_module("hidden", std::make_shared<xg::nn::Linear>(2, 4));
    out = register_module("out", std::make_shared<xg::nn::Linear>(4, 1));
  }
  xg::Tensor forward(const xg::Tensor& x) override {
    return xg::sigmoid(out->forward(xg::tanh(hidden->forward(x))));  // a probability in (0, 1)
  }
};

int main(int argc, char** argv) {
  int steps = 2000;
  examples::Args(argc, argv, "xor: a 2-2-1 network learns XOR")
      .option("--steps", steps, "training steps")
      .parse();
  xg::manual_seed(0);
  // The four XOR cases and their labels.
  xg::Tensor x = xg::tensor({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
  xg::Tensor y = xg::tensor({0, 1, 1, 0}, {4, 1});
  XorNet model;
  xg::optim::SGD opt(model.parameters(), {.lr = 0.5, .momentum = 0.9});
  for (int step = 0; step <= steps; ++step) {
    opt.zero_grad();
    xg::Tensor loss = xg::nn::functional::binary_cross_entropy(model.forward(x), y);
    loss.backward();
    opt.step();
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0)
      std::printf("step %5d  loss %.6f\n", step, loss.item());
  }
  // Predictions: above 0.5 means "1".
  xg::NoGradGuard no_grad;
  xg::Tensor p = model.forward(x);
  int correct = 0;
  for (int i = 0; i < 4; ++i) {
    const double pi = p.at({i, 0}), yi = y.at({i, 0});
    correct += (pi > 0.5) == (yi > 0.5);
    std::printf("xor(%g, %g) = %.4f (target %g)\n", x.at({i, 0}), x.at({i, 1}), pi, yi);
  }
  std::printf("predictions correct: %d/4\n", correct);
  return 0;
}
