// Checkpointing: train a few steps, save model (Module::save) and optimizer (Optimizer::save),
// rebuild both from scratch, load, continue, and compare with a run that was never interrupted.
// What it teaches: Adam's moments and step count are state too; resuming with the model alone
// would change the run, with both it is bit-for-bit identical.
// Usage: save_and_resume [--steps N] [--dir DIR] (--dir: write the two files there and keep them)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

struct Net : xg::nn::Module {
  std::shared_ptr<xg::nn::Linear> fc1, fc2;
  Net() : Module("Net") {
    fc1 = register_module("fc1", std::make_shared<xg::nn::Linear>(3, 8));
    fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(8, 1));
  }
  xg::Tensor forward(const xg::Tensor& x) override { return fc2->forward(xg::tanh(fc1->forward(x))); }
};

// Runs steps [from, to) on the full batch; returns the last loss.
double train(Net& model, xg::optim::Adam& opt, const xg::Tensor& x, const xg::Tensor& y, int from, int to) {
  double last = 0;
  for (int step = from; step < to; ++step) {
    opt.zero_grad();
    xg::Tensor loss = xg::nn::functional::mse_loss(model.forward(x), y);
    loss.backward();
    opt.step();
    last = loss.item();
    std::printf("step %3d  loss %.8f\n", step, last);
  }
  return last;
}

int main(int argc, char** argv) {
  int steps = 40;
  std::string dir;
  examples::Args(argc, argv, "save_and_resume: save a model and its optimizer, resume, get the same result")
      .option("--steps", steps, "training steps")
      .option("--dir", dir, "write the two files there and keep them")
      .parse();
  const std::string model_file = (dir.empty() ? "" : dir + "/") + "save_and_resume_model.safetensors",
                    optim_file = (dir.empty() ? "" : dir + "/") + "save_and_resume_optim.safetensors";
  const int half = steps / 2;
  xg::manual_seed(0);
  xg::Tensor x = xg::randn({64, 3});
  xg::Tensor y = xg::sin(xg::sum(x, {1}, true));

  // Uninterrupted reference run.
  xg::manual_seed(1);
  Net ref;
  xg::optim::Adam ref_opt(ref.parameters(), {.lr = 0.01});
  std::printf("uninterrupted run:\n");
  const double ref_loss = train(ref, ref_opt, x, y, 0, steps);

  // Same start, stop halfway and checkpoint.
  xg::manual_seed(1);
  {
    Net model;
    xg::optim::Adam opt(model.parameters(), {.lr = 0.01});
    std::printf("first half, then save:\n");
    train(model, opt, x, y, 0, half);
    model.save(model_file);
    opt.save(optim_file);
  }
  // A fresh model and optimizer (different random init), loaded from the files.
  xg::manual_seed(42);
  Net model;
  xg::optim::Adam opt(model.parameters(), {.lr = 0.01});
  model.load(model_file);
  opt.load(optim_file);
  std::printf("resumed:\n");
  const double resumed_loss = train(model, opt, x, y, half, steps);

  std::printf("final loss uninterrupted %.10g, resumed %.10g: %s\n", ref_loss, resumed_loss,
              ref_loss == resumed_loss ? "identical" : "DIFFERENT");
  if (dir.empty()) std::remove(model_file.c_str()), std::remove(optim_file.c_str());
  return ref_loss == resumed_loss ? 0 : 1;
}
