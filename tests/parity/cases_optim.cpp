// Parity cases for optim/: each optimizer takes 5 steps on a fixed least-squares problem
// (loss = mse(linear(X, W, b), Y)) from fixed parameters, recording the parameters and the loss
// after each step; each scheduler drives an SGD of two groups (lr 0.1 and 0.05) for 20 epochs,
// recording every group's lr. run_parity.py repeats both with torch.optim. Adding a case is one
// entry of a table: the xgrad construction and the PyTorch one (Python over `p`, the parameter
// list, or `opt`, the optimizer).
#include <functional>
#include <memory>

#include "parity.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/optim.hpp"

namespace parity {
namespace {

using xg::Tensor;
namespace optim = xg::optim;
using Params = std::vector<Tensor>;

struct OptimCase {
  std::string name;
  std::string torch;  ///< Python over p (the list of parameters): the optimizer
  std::function<std::unique_ptr<optim::Optimizer>(const Params&)> make;
  bool closure = false;  ///< step(closure) (L-BFGS)
  /// Runs after backward, before each step (gradient clipping), with its Python statement over p.
  std::function<void(const Params&)> before_step = {};
  std::string torch_before_step = "";
};

template <class O, class... A>
std::function<std::unique_ptr<optim::Optimizer>(const Params&)> opt(A... a) {
  return [=](const Params& p) { return std::make_unique<O>(p, a...); };
}

std::vector<OptimCase> optim_cases() {
  using optim::SGD;
  return {
      {"SGD", "torch.optim.SGD(p, lr=0.1)", opt<SGD>(optim::SGDOptions{.lr = 0.1})},
      {"SGD momentum dampening weight_decay",
       "torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01)",
       opt<SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.2, .weight_decay = 0.01})},
      {"SGD nesterov maximize", "torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, maximize=True)",
       opt<SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.8, .nesterov = true, .maximize = true})},
      {"SGD two groups",
       "torch.optim.SGD([{'params': [p[0]], 'lr': 0.05}, {'params': [p[1]]}], lr=0.1, momentum=0.5)",
       [](const Params& p) {
         return std::make_unique<SGD>(std::vector<SGD::ParamGroup>{{{p[0]}, {.lr = 0.05}}, {{p[1]}}},
                                      optim::SGDOptions{.lr = 0.1, .momentum = 0.5});
       }},
      {"Adam", "torch.optim.Adam(p, lr=0.05)", opt<optim::Adam>(optim::AdamOptions{.lr = 0.05})},
      {"Adam amsgrad weight_decay betas",
       "torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)",
       opt<optim::Adam>(
           optim::AdamOptions{.lr = 0.05, .betas = {0.8, 0.9}, .weight_decay = 0.1, .amsgrad = true})},
      {"Adam maximize eps", "torch.optim.Adam(p, lr=0.01, eps=1e-3, maximize=True)",
       opt<optim::Adam>(optim::AdamOptions{.lr = 0.01, .eps = 1e-3, .maximize = true})},
      {"AdamW", "torch.optim.AdamW(p, lr=0.05)", opt<optim::AdamW>(optim::AdamWOptions{.lr = 0.05})},
      {"AdamW amsgrad weight_decay 0.3", "torch.optim.AdamW(p, lr=0.05, weight_decay=0.3, amsgrad=True)",
       opt<optim::AdamW>(optim::AdamWOptions{.lr = 0.05, .weight_decay = 0.3, .amsgrad = true})},
      {"Adamax", "torch.optim.Adamax(p, lr=0.05, weight_decay=0.1)",
       opt<optim::Adamax>(optim::AdamaxOptions{.lr = 0.05, .weight_decay = 0.1})},
      {"Adagrad", "torch.optim.Adagrad(p, lr=0.1)", opt<optim::Adagrad>(optim::AdagradOptions{.lr = 0.1})},
      {"Adagrad lr_decay initial_accumulator_value weight_decay",
       "torch.optim.Adagrad(p, lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)",
       opt<optim::Adagrad>(optim::AdagradOptions{
           .lr = 0.1, .lr_decay = 0.05, .weight_decay = 0.1, .initial_accumulator_value = 0.3})},
      {"RMSprop", "torch.optim.RMSprop(p, lr=0.01)", opt<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01})},
      {"RMSprop centered momentum weight_decay",
       "torch.optim.RMSprop(p, lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.5, centered=True)",
       opt<optim::RMSprop>(optim::RMSpropOptions{
           .lr = 0.01, .alpha = 0.9, .weight_decay = 0.1, .momentum = 0.5, .centered = true})},
      {"Adamax maximize betas eps",
       "torch.optim.Adamax(p, lr=0.05, betas=(0.5, 0.8), eps=1e-4, maximize=True)",
       opt<optim::Adamax>(
           optim::AdamaxOptions{.lr = 0.05, .betas = {0.5, 0.8}, .eps = 1e-4, .maximize = true})},
      {"Adagrad maximize eps", "torch.optim.Adagrad(p, lr=0.1, eps=1e-3, maximize=True)",
       opt<optim::Adagrad>(optim::AdagradOptions{.lr = 0.1, .eps = 1e-3, .maximize = true})},
      {"RMSprop momentum maximize", "torch.optim.RMSprop(p, lr=0.01, momentum=0.7, maximize=True)",
       opt<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01, .momentum = 0.7, .maximize = true})},
      {"SGD nesterov weight_decay two groups",
       "torch.optim.SGD([{'params': [p[0]], 'weight_decay': 0.1}, {'params': [p[1]], 'momentum': 0.3}], "
       "lr=0.1, "
       "momentum=0.9, nesterov=True)",
       [](const Params& p) {
         return std::make_unique<SGD>(
             std::vector<SGD::ParamGroup>{{{p[0]}, {.weight_decay = 0.1}}, {{p[1]}, {.momentum = 0.3}}},
             optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
       }},
      {"LBFGS", "torch.optim.LBFGS(p, lr=0.5, max_iter=4, history_size=3)",
       opt<optim::LBFGS>(optim::LBFGSOptions{.lr = 0.5, .max_iter = 4, .history_size = 3}), true},
      {"LBFGS strong_wolfe", "torch.optim.LBFGS(p, max_iter=2, line_search_fn='strong_wolfe')",
       opt<optim::LBFGS>(
           optim::LBFGSOptions{.max_iter = 2, .line_search_fn = optim::LineSearch::strong_wolfe}),
       true},
      // gradient clipping (optim/clip.hpp), then a plain step
      {"SGD after clip_grad_norm_ 0.5", "torch.optim.SGD(p, lr=0.1)", opt<SGD>(optim::SGDOptions{.lr = 0.1}),
       false, [](const Params& p) { optim::clip_grad_norm_(p, 0.5); },
       "torch.nn.utils.clip_grad_norm_(p, 0.5)"},
      {"SGD after clip_grad_norm_ 0.3 norm_type 1", "torch.optim.SGD(p, lr=0.1)",
       opt<SGD>(optim::SGDOptions{.lr = 0.1}), false,
       [](const Params& p) { optim::clip_grad_norm_(p, 0.3, 1.0); },
       "torch.nn.utils.clip_grad_norm_(p, 0.3, norm_type=1.0)"},
      {"SGD after clip_grad_value_ 0.2", "torch.optim.SGD(p, lr=0.1)", opt<SGD>(optim::SGDOptions{.lr = 0.1}),
       false, [](const Params& p) { optim::clip_grad_value_(p, 0.2); },
       "torch.nn.utils.clip_grad_value_(p, 0.2)"},
  };
}

// Each scheduler case returns the epoch step (the scheduler lives in the closure).
using Step = std::function<void(int64_t epoch)>;
struct SchedCase {
  std::string name;
  std::string torch;  ///< Python over opt: the scheduler
  std::function<Step(optim::Optimizer&)> make;
  std::vector<double> metrics = {};  ///< ReduceLROnPlateau: the metric of each epoch
};

template <class S, class O>
std::function<Step(optim::Optimizer&)> sched(O o) {
  return [o](optim::Optimizer& opt) {
    auto s = std::make_shared<S>(opt, o);
    return Step([s](int64_t) { s->step(); });
  };
}

std::vector<SchedCase> sched_cases() {
  const std::vector<double> metrics = {1.0,  0.9,  0.95, 0.95, 0.92, 0.97, 0.99, 0.9,  0.91, 0.91,
                                       0.92, 0.95, 0.8,  0.85, 0.85, 0.85, 0.85, 0.85, 0.9,  0.9};
  return {
      {"StepLR", "torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)",
       sched<optim::StepLR>(optim::StepLROptions{.step_size = 3, .gamma = 0.5})},
      {"MultiStepLR", "torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 5, 5, 11], gamma=0.3)",
       sched<optim::MultiStepLR>(optim::MultiStepLROptions{.milestones = {2, 5, 5, 11}, .gamma = 0.3})},
      {"ExponentialLR", "torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8)",
       sched<optim::ExponentialLR>(optim::ExponentialLROptions{.gamma = 0.8})},
      {"CosineAnnealingLR past T_max",
       "torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.01)",
       sched<optim::CosineAnnealingLR>(optim::CosineAnnealingLROptions{.T_max = 7, .eta_min = 0.01})},
      {"LinearLR", "torch.optim.lr_scheduler.LinearLR(opt)",
       sched<optim::LinearLR>(optim::LinearLROptions{})},
      {"LinearLR decay",
       "torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.2, total_iters=8)",
       sched<optim::LinearLR>(
           optim::LinearLROptions{.start_factor = 1.0, .end_factor = 0.2, .total_iters = 8})},
      {"ReduceLROnPlateau",
       "torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1)",
       [metrics](optim::Optimizer& opt) {
         auto s = std::make_shared<optim::ReduceLROnPlateau>(
             opt, optim::ReduceLROnPlateauOptions{.factor = 0.5, .patience = 2, .cooldown = 1});
         return Step([s, metrics](int64_t e) { s->step(metrics[std::size_t(e)]); });
       },
       metrics},
      {"ReduceLROnPlateau max abs min_lr",
       "torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode='max', patience=1, threshold=0.01, "
       "threshold_mode='abs', min_lr=0.02)",
       [metrics](optim::Optimizer& opt) {
         auto s = std::make_shared<optim::ReduceLROnPlateau>(
             opt, optim::ReduceLROnPlateauOptions{.mode = optim::PlateauMode::max,
                                                  .patience = 1,
                                                  .threshold = 0.01,
                                                  .threshold_mode = optim::ThresholdMode::abs,
                                                  .min_lr = 0.02});
         return Step([s, metrics](int64_t e) { s->step(metrics[std::size_t(e)]); });
       },
       metrics},
  };
}

constexpr int kOptimSteps = 5, kEpochs = 20;

void record_optim(Recorder& r, const OptimCase& c, std::size_t k) {
  json e = {{"group", "optimizer"},
            {"id", indexed("optimizer.", k)},
            {"name", c.name},
            {"label", c.name},
            {"torch", c.torch},
            {"closure", c.closure},
            {"steps", kOptimSteps},
            {"before_step", c.torch_before_step},
            {"expr", "torch.nn.functional.mse_loss(torch.nn.functional.linear(x0, p[0], p[1]), x1)"}};
  xg::NamedTensors t;
  try {
    const Tensor x = values({6, 4}, 11), y = values({6, 3}, 12);
    Params p = {input({3, 4}, 13, 0.5), input({3}, 14, 0.5)};
    t.emplace_back("x0", x);
    t.emplace_back("x1", y);
    for (std::size_t i = 0; i < p.size(); ++i) t.emplace_back(indexed("init.p", i), p[i].clone());
    auto o = c.make(p);
    auto loss = [&] { return xg::nn::functional::mse_loss(xg::nn::functional::linear(x, p[0], p[1]), y); };
    for (int s = 0; s < kOptimSteps; ++s) {
      Tensor l;
      if (c.closure) {
        l = o->step([&] {
          o->zero_grad();
          Tensor v = loss();
          v.backward();
          return v;
        });
      } else {
        o->zero_grad();
        l = loss();
        l.backward();
        if (c.before_step) c.before_step(p);
        o->step();
      }
      const std::string sp = indexed("step", s) + ".";
      t.emplace_back(sp + "loss", l.detach());
      for (std::size_t i = 0; i < p.size(); ++i) t.emplace_back(sp + indexed("p", i), p[i].clone().detach());
    }
  } catch (const std::exception& ex) {
    e["error"] = ex.what();
  }
  r.add(e, t);
}

void record_sched(Recorder& r, const SchedCase& c, std::size_t k) {
  json e = {{"group", "scheduler"}, {"id", indexed("scheduler.", k)},
            {"name", c.name},       {"label", c.name},
            {"torch", c.torch},     {"epochs", kEpochs},
            {"metrics", c.metrics}, {"expr", ""}};
  xg::NamedTensors t;
  try {
    Params p = {input({2}, 1), input({3}, 2)};
    optim::SGD o(std::vector<optim::SGD::ParamGroup>{{{p[0]}, {.lr = 0.1}}, {{p[1]}, {.lr = 0.05}}});
    Step step = c.make(o);
    std::vector<double> lrs = {o.lr(0), o.lr(1)};
    for (int64_t epoch = 0; epoch < kEpochs; ++epoch) {
      o.step();  // no gradients: nothing moves; PyTorch wants an optimizer step before the scheduler's
      step(epoch);
      lrs.push_back(o.lr(0));
      lrs.push_back(o.lr(1));
    }
    t.emplace_back("lrs", xg::tensor(lrs, {kEpochs + 1, 2}, {.dtype = xg::Dtype::float64}));
  } catch (const std::exception& ex) {
    e["error"] = ex.what();
  }
  r.add(e, t);
}

}  // namespace

void add_optim_cases(Recorder& r) {
  const auto oc = optim_cases();
  for (std::size_t k = 0; k < oc.size(); ++k) record_optim(r, oc[k], k);
  const auto sc = sched_cases();
  for (std::size_t k = 0; k < sc.size(); ++k) record_sched(r, sc[k], k);
}

}  // namespace parity
