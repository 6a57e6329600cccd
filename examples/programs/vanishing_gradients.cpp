// Vanishing gradients: five 10-layer MLPs (sigmoid, tanh, ReLU, ReLU + BatchNorm, residual ReLU)
// trained on the same task from the same seed, each followed by an xg::nn::GradientFlow.
// What it teaches: a sigmoid's derivative is at most 1/4, so the gradient reaching the first
// layers shrinks by a factor at each layer and they barely learn; tanh, ReLU, batch norm and skip
// connections keep it flowing. Usage: vanishing_gradients [--steps N] [--plot DIR]
// (--plot: DIR/vanishing_gradients.csv and .svg, through gnuplot).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

namespace nn = xg::nn;
constexpr int kDepth = 10, kWidth = 32;

struct DeepMlp : nn::Module {
  std::string kind;
  std::shared_ptr<nn::ModuleList> fc = std::make_shared<nn::ModuleList>(),
                                  bn = std::make_shared<nn::ModuleList>();
  DeepMlp(std::string k, int64_t in, int64_t out) : Module("DeepMlp"), kind(std::move(k)) {
    register_module("fc", fc);
    register_module("bn", bn);
    for (int i = 0; i < kDepth; ++i) {
      auto layer = std::make_shared<nn::Linear>(i == 0 ? in : kWidth, i == kDepth - 1 ? out : kWidth);
      nn::init::kaiming_normal_(layer->weight);  // He's init for every net: the one that suits ReLU
      nn::init::zeros_(layer->bias);
      fc->push_back(layer);
      if (kind == "relu+batchnorm" && i < kDepth - 1)
        bn->push_back(std::make_shared<nn::BatchNorm1d>(kWidth));
    }
  }
  xg::Tensor forward(const xg::Tensor& x) override {
    xg::Tensor h = x;
    for (int i = 0; i + 1 < kDepth; ++i) {
      xg::Tensor z = (*(*fc)[i])(h);  // operator(): the layer's hooks (GradientFlow's) run
      if (kind == "relu+batchnorm") z = (*(*bn)[i])(z);
      xg::Tensor a = kind == "sigmoid" ? xg::sigmoid(z) : kind == "tanh" ? xg::tanh(z) : xg::relu(z);
      // The skip: an identity path for the gradient (the branch halved so that the sum's scale
      // grows slowly with depth, as residual nets start their branches small).
      h = kind == "residual" && i > 0 ? h + 0.5 * a : a;
    }
    return (*(*fc)[kDepth - 1])(h);
  }
};

int main(int argc, char** argv) {
  int steps = 100;
  std::string plot_dir;
  examples::Args(argc, argv,
                 "vanishing_gradients: gradient norms per layer of 10-layer MLPs: sigmoid, tanh, ReLU, "
                 "BatchNorm, residual")
      .option("--steps", steps, "training steps")
      .option("--plot", plot_dir, "write CSV and plots to this directory")
      .parse();
  // The task: 512 points in 16 dimensions, class 1 when the sum of the first four is positive.
  xg::manual_seed(0);
  xg::Tensor x = xg::randn({512, 16});
  xg::Tensor y = xg::gt(xg::sum(xg::narrow(x, 1, 0, 4), {1}), 0.0).to(xg::Dtype::int64);
  std::printf("10 Linear layers of width %d, %d steps of SGD (lr 0.1) on 512 examples, seed 0\n", kWidth,
              steps);
  std::printf("gradient norm of layer L's parameters at step S: L1@1 (layer 1, step 1) ... L1@%d\n", steps);
  const std::string last_col = "L1@" + std::to_string(steps);
  std::printf("%-15s %10s %10s %10s %10s %10s %10s\n", "net", "start loss", "end loss", "L1@1", "L5@1",
              "L10@1", last_col.c_str());
  std::ofstream csv;
  if (!plot_dir.empty()) {
    csv.open(plot_dir + "/vanishing_gradients.csv");
    csv << "# net,step,layer,param_grad_norm (by net, layer, step)\n";
  }
  double first_layer[5] = {};
  const char* kinds[] = {"sigmoid", "tanh", "relu", "relu+batchnorm", "residual"};
  for (int k = 0; k < 5; ++k) {
    xg::manual_seed(1);  // the same initial draws for every net
    DeepMlp model(kinds[k], 16, 2);
    nn::GradientFlow flow(model, {.types = {"Linear"}});  // fc.0 ... fc.9
    xg::optim::SGD opt(model.parameters(), {.lr = 0.1});
    double start = 0, end = 0;
    for (int step = 1; step <= steps; ++step) {
      opt.zero_grad();
      xg::Tensor loss = nn::functional::cross_entropy(model(x), y);
      loss.backward();
      flow.step();  // after backward: each layer's gradient norms of this step
      opt.step();
      (step == 1 ? start : end) = loss.item();
    }
    std::vector<double> first, last;  // each layer's parameter gradient norm at the first and last step
    for (const nn::LayerFlow& r : flow.records()) {
      if (r.step == 0) first.push_back(r.param_grad_norm);
      if (r.step == steps - 1) last.push_back(r.param_grad_norm);
    }
    for (int layer = 0; layer < kDepth && csv.is_open();
         ++layer)  // a curve's points consecutive, for gnuplot
      for (const nn::LayerFlow& r : flow.layer("fc." + std::to_string(layer)))
        csv << kinds[k] << ',' << r.step + 1 << ',' << layer + 1 << ',' << r.param_grad_norm << '\n';
    first_layer[k] = last[0];
    std::printf("%-15s %10.4f %10.4f %10.3e %10.3e %10.3e %10.3e\n", kinds[k], start, end, first[0], first[4],
                first[9], last[0]);
  }
  std::printf(
      "at step %d, first-layer gradient norm: sigmoid %.3e, relu %.3e (%.0f times smaller with sigmoid)\n",
      steps, first_layer[0], first_layer[2], first_layer[2] / first_layer[0]);
  if (csv.is_open() && nn::gnuplot_available()) {
    csv.close();
    const std::string data = plot_dir + "/vanishing_gradients.csv", gp = plot_dir + "/vanishing_gradients.gp";
    std::ofstream s(gp);
    s << "set terminal svg size 1000,420 noenhanced font 'sans,11' background '#ffffff'\n"
      << "set output '" << plot_dir << "/vanishing_gradients.svg'\nset datafile separator ','\n"
      << "set multiplot layout 1,2\nset logscale y\nset format y '%.0e'\nset key bottom right\n"
      << "set title 'gradient norm of each layer at step 1'\nset xlabel 'layer'\nset xrange [1:10]\n"
      << "plot for [n in 'sigmoid tanh relu relu+batchnorm residual'] '" << data << "' every " << steps
      << " using 3:(strcol(1) eq n ? $4 : NaN) with linespoints lw 2 title n\n"
      << "set title 'first layer gradient norm per step'\nset xlabel 'step'\nset autoscale x\n"
      << "plot for [n in 'sigmoid tanh relu relu+batchnorm residual'] '" << data
      << "' using 2:(strcol(1) eq n && $3 == 1 ? $4 : NaN) with lines lw 2 title n\nunset multiplot\n";
    s.close();
    if (std::system(("gnuplot '" + gp + "'").c_str()) == 0)
      std::printf("plot: %s/vanishing_gradients.svg\n", plot_dir.c_str());
    std::remove(gp.c_str());
  }
  return 0;
}
