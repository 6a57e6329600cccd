// Optimizers side by side: GD, SGD, momentum, Nesterov, RMSprop, Adagrad and Adam, first on
// Rosenbrock's function f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2) (minimum 0 at (1, 1),
// at the end of a long curved valley), then training the same small network (a 1-32-32-1 tanh MLP
// fitting sin(3x)). What it teaches: plain gradient descent crawls along the valley floor;
// momentum builds up speed along it; RMSprop, Adagrad and Adam scale each coordinate's step by
// the size of its past gradients; SGD's noise (here: Gaussian noise added to the gradient, as a
// minibatch's would be) shakes the path. Usage: optimizers [--steps N] [--plot DIR]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

namespace optim = xg::optim;
using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<xg::Tensor>)>;
struct Entry {
  const char* name;
  MakeOptimizer on_rosenbrock, on_network;
  bool noisy;  // SGD: a noisy gradient on Rosenbrock, minibatches on the network (GD: the full batch)
};

template <class O, class Opts>
MakeOptimizer make(Opts o) {
  return [o](std::vector<xg::Tensor> p) { return std::make_unique<O>(std::move(p), o); };
}

double rosenbrock(double x, double y) {
  return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

int main(int argc, char** argv) {
  int steps = 1000;
  std::string plot_dir;
  examples::Args(argc, argv, "optimizers: GD, SGD, momentum, Nesterov, RMSprop, Adagrad, Adam side by side")
      .option("--steps", steps, "steps per optimizer")
      .option("--plot", plot_dir, "write CSV and plots to this directory")
      .parse();
  const std::vector<Entry> entries{
      {"GD", make<optim::SGD>(optim::SGDOptions{.lr = 1e-3}), make<optim::SGD>(optim::SGDOptions{.lr = 0.1}),
       false},
      {"SGD", make<optim::SGD>(optim::SGDOptions{.lr = 1e-3}), make<optim::SGD>(optim::SGDOptions{.lr = 0.1}),
       true},
      {"momentum", make<optim::SGD>(optim::SGDOptions{.lr = 1e-3, .momentum = 0.9}),
       make<optim::SGD>(optim::SGDOptions{.lr = 0.02, .momentum = 0.9}), true},
      {"Nesterov", make<optim::SGD>(optim::SGDOptions{.lr = 1e-3, .momentum = 0.9, .nesterov = true}),
       make<optim::SGD>(optim::SGDOptions{.lr = 0.02, .momentum = 0.9, .nesterov = true}), true},
      {"RMSprop", make<optim::RMSprop>(optim::RMSpropOptions{.lr = 1e-2}),
       make<optim::RMSprop>(optim::RMSpropOptions{.lr = 1e-3}), true},
      {"Adagrad", make<optim::Adagrad>(optim::AdagradOptions{.lr = 0.5}),
       make<optim::Adagrad>(optim::AdagradOptions{.lr = 0.05}), true},
      {"Adam", make<optim::Adam>(optim::AdamOptions{.lr = 0.1}),
       make<optim::Adam>(optim::AdamOptions{.lr = 0.01}), true},
  };
  std::ofstream paths, curves;
  if (!plot_dir.empty()) {
    paths.open(plot_dir + "/optimizers_paths.dat");
    curves.open(plot_dir + "/optimizers_loss.dat");
  }
  // 1. Rosenbrock's function: a point (x, y) as a parameter, f as the loss.
  std::printf("Rosenbrock from (-1.5, 2), %d steps:\n", steps);
  for (const Entry& e : entries) {
    xg::Tensor p = xg::tensor({-1.5, 2.0}, {.dtype = xg::Dtype::float64}).requires_grad_();
    auto opt = e.on_rosenbrock({p});
    xg::Generator noise(0);
    for (int step = 0; step <= steps; ++step) {
      if (paths.is_open() && step % 5 == 0) paths << e.name << ' ' << p.at({0}) << ' ' << p.at({1}) << '\n';
      if (step == steps) break;
      opt->zero_grad();
      xg::Tensor x = xg::narrow(p, 0, 0, 1), y = xg::narrow(p, 0, 1, 1);
      xg::Tensor f = xg::sum(xg::square(1.0 - x) + 100.0 * xg::square(y - xg::square(x)));
      f.backward();
      if (e.noisy && !std::strcmp(e.name, "SGD")) {
        xg::NoGradGuard no_grad;
        p.grad().copy_(p.grad() + 10.0 * xg::randn({2}, {.dtype = xg::Dtype::float64}, &noise));
      }
      opt->step();
    }
    std::printf("  %-9s ends at (%8.5f, %8.5f)  f = %.3e\n", e.name, p.at({0}), p.at({1}),
                rosenbrock(p.at({0}), p.at({1})));
  }
  // 2. A small network: the same initial weights and minibatches for each optimizer.
  xg::manual_seed(0);
  xg::Tensor xs = xg::linspace(-1, 1, 256).reshape({256, 1});
  xg::Tensor ys = xg::sin(3.0 * xs);
  auto data = std::make_shared<xg::data::TensorDataset>(xs, ys);
  const int net_steps = steps / 2;
  std::printf(
      "1-32-32-1 tanh MLP fitting sin(3x) on 256 points, %d steps (minibatches of 32; GD: all 256):\n",
      net_steps);
  for (const Entry& e : entries) {
    xg::manual_seed(1);
    xg::nn::Sequential net(std::vector<xg::nn::ModulePtr>{
        std::make_shared<xg::nn::Linear>(1, 32), std::make_shared<xg::nn::Tanh>(),
        std::make_shared<xg::nn::Linear>(32, 32), std::make_shared<xg::nn::Tanh>(),
        std::make_shared<xg::nn::Linear>(32, 1)});
    auto opt = e.on_network(net.parameters());
    xg::data::DataLoader loader(data, {.batch_size = e.noisy ? 32 : 256, .seed = 0});
    double first = 0, last = 0;
    for (int step = 0, epoch = 0; step < net_steps; ++epoch) {
      loader.set_epoch(epoch);
      for (auto it = loader.begin(); it != loader.end() && step < net_steps; ++it, ++step) {
        const xg::data::Batch b = *it;
        opt->zero_grad();
        xg::nn::functional::mse_loss(net(b.data), b.target).backward();
        opt->step();
        if (step % 10 == 0 || step == net_steps - 1) {
          xg::NoGradGuard no_grad;
          last = xg::nn::functional::mse_loss(net(xs), ys).item();  // on all 256 points
          if (step == 0) first = last;
          if (curves.is_open()) curves << e.name << ' ' << step + 1 << ' ' << last << '\n';
        }
      }
    }
    std::printf("  %-9s loss %.5f after 1 step, loss %.5f after %d\n", e.name, first, last, net_steps);
  }
  if (paths.is_open() && xg::nn::gnuplot_available()) {
    paths.close();
    curves.close();
    const std::string gp = plot_dir + "/optimizers.gp";
    std::ofstream s(gp);
    // The contour lines first (into a table, before the terminal is set), then the two panels.
    s << "set table '" << plot_dir
      << "/rosenbrock_contours.dat'\nset contour base\nunset surface\nset view map\n"
      << "set isosamples 120,120\nset cntrparam levels discrete 0.1,0.5,2,5,20,50,150,400,1000\n"
      << "splot [-2:2] [-1:3] (1-x)**2 + 100*(y-x**2)**2\nunset table\nunset contour\n"
      << "set terminal svg size 1100,460 noenhanced font 'sans,11' background '#ffffff'\n"
      << "set output '" << plot_dir << "/optimizers.svg'\n"
      << "names = 'GD SGD momentum Nesterov RMSprop Adagrad Adam'\n"
      << "set multiplot layout 1,2\nset title \"Rosenbrock's function: paths from (-1.5, 2)\"\n"
      << "set xrange [-2:2]\nset yrange [-1:3]\nset key top right\n"
      << "plot '" << plot_dir
      << "/rosenbrock_contours.dat' using 1:2 with lines lc rgb '#cccccc' notitle, \\\n"
      << "  for [i=1:7] '" << plot_dir
      << "/optimizers_paths.dat' using 2:(strcol(1) eq word(names,i) ? $3 : NaN)"
      << " with lines lw 2 lc i title word(names,i), \\\n"
      << "  '-' using 1:2 with points pt 7 ps 1.5 lc rgb 'black' title 'minimum'\n1 1\ne\n"
      << "set title 'MLP on sin(3x): loss on all points'\nset autoscale\nset logscale y\nset xlabel 'step'\n"
      << "plot for [i=1:7] '" << plot_dir
      << "/optimizers_loss.dat' using 2:(strcol(1) eq word(names,i) ? $3 : NaN)"
      << " with lines lw 2 lc i title word(names,i)\nunset multiplot\n";
    s.close();
    if (std::system(("gnuplot '" + gp + "'").c_str()) == 0)
      std::printf("plot: %s/optimizers.svg\n", plot_dir.c_str());
    std::remove(gp.c_str());
    for (const char* f : {"/rosenbrock_contours.dat", "/optimizers_paths.dat", "/optimizers_loss.dat"})
      std::remove((plot_dir + f).c_str());
  }
  return 0;
}
