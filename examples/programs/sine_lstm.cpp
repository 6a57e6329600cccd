// An LSTMCell + Linear learning to continue a sine wave: from a window of W past values, predict
// the next one (MSE, Adam). What it teaches: unrolling a recurrent cell by hand over time steps,
// carrying its (h, c) state, reading out the last hidden state, and generating autoregressively
// by feeding predictions back in. Usage: sine_lstm [--steps N]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

constexpr int W = 12;       // window length
constexpr double DT = 0.3;  // sampling step of the sine

struct SineNet : xg::nn::Module {
  std::shared_ptr<xg::nn::LSTMCell> cell;
  std::shared_ptr<xg::nn::Linear> head;
  SineNet() : Module("SineNet") {
    cell = register_module("cell", std::make_shared<xg::nn::LSTMCell>(1, 16));
    head = register_module("head", std::make_shared<xg::nn::Linear>(16, 1));
  }
  // steps: W tensors [B, 1], oldest first. Returns the predicted next value [B, 1].
  xg::Tensor predict(const std::vector<xg::Tensor>& steps) {
    xg::nn::LSTMState s{xg::zeros({steps[0].size(0), 16}), xg::zeros({steps[0].size(0), 16})};
    for (const xg::Tensor& x : steps) s = cell->forward(x, s);  // unroll over time
    return head->forward(s.h);
  }
};

int main(int argc, char** argv) {
  int steps = 300;
  examples::Args(argc, argv, "sine_lstm: an LSTM that learns a sine wave")
      .option("--steps", steps, "training steps")
      .parse();
  xg::manual_seed(0);
  // Training windows starting at B different phases; column t of the batch is time step t.
  const int B = 32;
  std::vector<xg::Tensor> xs;
  std::vector<float> target(B);
  for (int t = 0; t <= W; ++t) {
    std::vector<float> col(B);
    for (int b = 0; b < B; ++b) col[b] = static_cast<float>(std::sin((b * 0.7 + t) * DT));
    if (t < W)
      xs.push_back(xg::from_vector(col, {B, 1}));
    else
      target = col;
  }
  xg::Tensor y = xg::from_vector(target, {B, 1});
  SineNet model;
  xg::optim::Adam opt(model.parameters(), {.lr = 0.01});
  for (int step = 0; step <= steps; ++step) {
    opt.zero_grad();
    xg::Tensor loss = xg::nn::functional::mse_loss(model.predict(xs), y);
    loss.backward();
    opt.step();
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0)
      std::printf("step %4d  loss %.6f\n", step, loss.item());
  }
  // Continue the wave: start from a true window, feed each prediction back as the newest value.
  xg::NoGradGuard no_grad;
  std::vector<xg::Tensor> window;
  for (int t = 0; t < W; ++t)
    window.push_back(xg::from_vector(std::vector<float>{static_cast<float>(std::sin(t * DT))}, {1, 1}));
  double worst = 0;
  for (int t = W; t < W + 8; ++t) {
    const double pred = model.predict(window).item(), truth = std::sin(t * DT);
    worst = std::fmax(worst, std::fabs(pred - truth));
    std::printf("t=%2d  predicted %+.4f  true %+.4f\n", t, pred, truth);
    window.erase(window.begin());
    window.push_back(xg::from_vector(std::vector<float>{static_cast<float>(pred)}, {1, 1}));
  }
  std::printf("continued 8 values, max error %.4f\n", worst);
  return 0;
}
