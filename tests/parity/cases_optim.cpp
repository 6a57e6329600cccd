// Parity cases for optim/: each optimizer takes 5 steps (or its case's count) on a fixed
// least-squares problem (loss = mse(linear(X, W, b), Y)) from fixed parameters, recording the
// parameters and the loss after each step; each scheduler drives an SGD of two groups (lr 0.1
// and 0.05) for 20 epochs, recording every group's lr (and, for the schedules that cycle it, the
// momentum of an SGD with momentum or the beta1 of an Adam). A scheduler's PyTorch form may be a
// list: those schedulers all step one optimizer, each epoch in order. run_parity.py repeats both with
// torch.optim. Adding a case is one entry of a table: the xgrad construction and the PyTorch one (Python over
// `p`, the parameter list, or `opt`, the optimizer).
#include <cmath>
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
  int steps = 5;  ///< RAdam rectifies only from its 6th step (rho > 5)
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
      {"NAdam", "torch.optim.NAdam(p, lr=0.05, foreach=False)",
       opt<optim::NAdam>(optim::NAdamOptions{.lr = 0.05})},
      {"NAdam betas weight_decay momentum_decay",
       "torch.optim.NAdam(p, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, momentum_decay=0.1, foreach=False)",
       opt<optim::NAdam>(
           optim::NAdamOptions{.lr = 0.05, .betas = {0.8, 0.9}, .weight_decay = 0.1, .momentum_decay = 0.1})},
      {.name = "RAdam 8 steps",
       .torch = "torch.optim.RAdam(p, lr=0.05, foreach=False)",
       .make = opt<optim::RAdam>(optim::RAdamOptions{.lr = 0.05}),
       .steps = 8},
      {.name = "RAdam betas eps weight_decay 8 steps",
       .torch = "torch.optim.RAdam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-4, weight_decay=0.1, foreach=False)",
       .make = opt<optim::RAdam>(
           optim::RAdamOptions{.lr = 0.05, .betas = {0.8, 0.99}, .eps = 1e-4, .weight_decay = 0.1}),
       .steps = 8},
      {"Adadelta", "torch.optim.Adadelta(p, foreach=False)", opt<optim::Adadelta>(optim::AdadeltaOptions{})},
      {"Adadelta rho eps weight_decay maximize",
       "torch.optim.Adadelta(p, lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, foreach=False, maximize=True)",
       opt<optim::Adadelta>(optim::AdadeltaOptions{
           .lr = 0.5, .rho = 0.8, .eps = 1e-4, .weight_decay = 0.1, .maximize = true})},
      {"ASGD", "torch.optim.ASGD(p, lr=0.1, foreach=False)", opt<optim::ASGD>(optim::ASGDOptions{.lr = 0.1})},
      {"ASGD lambd alpha t0 weight_decay maximize",
       "torch.optim.ASGD(p, lr=0.1, lambd=0.05, alpha=0.5, t0=2, weight_decay=0.1, foreach=False, "
       "maximize=True)",
       opt<optim::ASGD>(optim::ASGDOptions{
           .lr = 0.1, .lambd = 0.05, .alpha = 0.5, .t0 = 2, .weight_decay = 0.1, .maximize = true})},
  };
}

// Each scheduler case returns the epoch step (the scheduler lives in the closure).
using Step = std::function<void(int64_t epoch)>;
struct SchedCase {
  std::string name;
  std::string torch;  ///< Python over opt: the scheduler
  std::function<Step(optim::Optimizer&)> make;
  std::vector<double> metrics = {};  ///< ReduceLROnPlateau: the metric of each epoch
  /// "momentum": the optimizer is an SGD with momentum 0.9, "betas": an Adam; each group's
  /// momentum (or beta1) is recorded with its lr (the schedules that cycle it).
  std::string momentum = "";
};

template <class S, class O>
std::function<Step(optim::Optimizer&)> sched(O o) {
  return [o](optim::Optimizer& opt) {
    auto s = std::make_shared<S>(opt, o);
    return Step([s](int64_t) { s->step(); });
  };
}

// A scheduler stepped once per epoch, made from the optimizer (children of SequentialLR).
std::function<Step(optim::Optimizer&)> sched_of(
    std::function<std::shared_ptr<optim::LRScheduler>(optim::Optimizer&)> make) {
  return [make](optim::Optimizer& opt) {
    auto s = make(opt);
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
      {"ConstantLR", "torch.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=4)",
       sched<optim::ConstantLR>(optim::ConstantLROptions{.factor = 0.5, .total_iters = 4})},
      {"PolynomialLR power 2", "torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=8, power=2.0)",
       sched<optim::PolynomialLR>(optim::PolynomialLROptions{.total_iters = 8, .power = 2.0})},
      {"LambdaLR", "torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.95 ** e)",
       sched_of([](optim::Optimizer& o) {
         return std::make_shared<optim::LambdaLR>(o, [](int64_t e) { return std::pow(0.95, double(e)); });
       })},
      {"LambdaLR per group",
       "torch.optim.lr_scheduler.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: 1 - 0.04 * e])",
       sched_of([](optim::Optimizer& o) {
         return std::make_shared<optim::LambdaLR>(
             o, std::vector<optim::LRLambda>{[](int64_t e) { return 1 / double(e + 1); },
                                             [](int64_t e) { return 1 - 0.04 * double(e); }});
       })},
      {"MultiplicativeLR", "torch.optim.lr_scheduler.MultiplicativeLR(opt, lambda e: 0.9)",
       sched_of([](optim::Optimizer& o) {
         return std::make_shared<optim::MultiplicativeLR>(o, [](int64_t) { return 0.9; });
       })},
      {"MultiplicativeLR per group",
       "torch.optim.lr_scheduler.MultiplicativeLR(opt, [lambda e: 1 - 0.01 * e, lambda e: 0.95])",
       sched_of([](optim::Optimizer& o) {
         return std::make_shared<optim::MultiplicativeLR>(
             o, std::vector<optim::LRLambda>{[](int64_t e) { return 1 - 0.01 * double(e); },
                                             [](int64_t) { return 0.95; }});
       })},
      {"SequentialLR ConstantLR ExponentialLR",
       "torch.optim.lr_scheduler.SequentialLR(opt, [torch.optim.lr_scheduler.ConstantLR(opt, factor=0.5, "
       "total_iters=3), torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)], milestones=[4])",
       sched_of([](optim::Optimizer& o) {
         auto a = std::make_shared<optim::ConstantLR>(
             o, optim::ConstantLROptions{.factor = 0.5, .total_iters = 3});
         auto b = std::make_shared<optim::ExponentialLR>(o, optim::ExponentialLROptions{.gamma = 0.9});
         return std::make_shared<optim::SequentialLR>(
             o, std::vector<std::shared_ptr<optim::LRScheduler>>{a, b}, std::vector<int64_t>{4});
       })},
      {"SequentialLR LinearLR CosineAnnealingLR StepLR",
       "torch.optim.lr_scheduler.SequentialLR(opt, [torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.2, "
       "total_iters=3), torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.01), "
       "torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)], milestones=[3, 10])",
       sched_of([](optim::Optimizer& o) {
         auto a = std::make_shared<optim::LinearLR>(
             o, optim::LinearLROptions{.start_factor = 0.2, .total_iters = 3});
         auto b = std::make_shared<optim::CosineAnnealingLR>(
             o, optim::CosineAnnealingLROptions{.T_max = 5, .eta_min = 0.01});
         auto c = std::make_shared<optim::StepLR>(o, optim::StepLROptions{.step_size = 2, .gamma = 0.5});
         return std::make_shared<optim::SequentialLR>(
             o, std::vector<std::shared_ptr<optim::LRScheduler>>{a, b, c}, std::vector<int64_t>{3, 10});
       })},
      {"ChainedScheduler ConstantLR ExponentialLR",
       "torch.optim.lr_scheduler.ChainedScheduler([torch.optim.lr_scheduler.ConstantLR(opt, factor=0.5, "
       "total_iters=4), torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)])",
       sched_of([](optim::Optimizer& o) {
         auto a = std::make_shared<optim::ConstantLR>(
             o, optim::ConstantLROptions{.factor = 0.5, .total_iters = 4});
         auto b = std::make_shared<optim::ExponentialLR>(o, optim::ExponentialLROptions{.gamma = 0.9});
         return std::make_shared<optim::ChainedScheduler>(
             std::vector<std::shared_ptr<optim::LRScheduler>>{a, b});
       })},
      // a list: every scheduler is stepped each epoch, in order
      {"ExponentialLR and StepLR on one optimizer",
       "[torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9), torch.optim.lr_scheduler.StepLR(opt, "
       "step_size=3, gamma=0.5)]",
       [](optim::Optimizer& o) {
         auto a = std::make_shared<optim::ExponentialLR>(o, optim::ExponentialLROptions{.gamma = 0.9});
         auto b = std::make_shared<optim::StepLR>(o, optim::StepLROptions{.step_size = 3, .gamma = 0.5});
         return Step([a, b](int64_t) {
           a->step();
           b->step();
         });
       }},
      {"CosineAnnealingWarmRestarts",
       "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, eta_min=0.01)",
       sched<optim::CosineAnnealingWarmRestarts>(
           optim::CosineAnnealingWarmRestartsOptions{.T_0 = 4, .eta_min = 0.01})},
      {"CosineAnnealingWarmRestarts T_mult 2",
       "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)",
       sched<optim::CosineAnnealingWarmRestarts>(
           optim::CosineAnnealingWarmRestartsOptions{.T_0 = 3, .T_mult = 2})},
      {"CyclicLR triangular momentum",
       "torch.optim.lr_scheduler.CyclicLR(opt, base_lr=[0.01, 0.005], max_lr=[0.1, 0.08], step_size_up=3)",
       sched<optim::CyclicLR>(
           optim::CyclicLROptions{.base_lr = {0.01, 0.005}, .max_lr = {0.1, 0.08}, .step_size_up = 3}),
       {},
       "momentum"},
      {"CyclicLR triangular2 step_size_down",
       "torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=2, "
       "mode='triangular2', cycle_momentum=False)",
       sched<optim::CyclicLR>(optim::CyclicLROptions{.base_lr = 0.01,
                                                     .max_lr = 0.1,
                                                     .step_size_up = 3,
                                                     .step_size_down = 2,
                                                     .mode = optim::CyclicMode::triangular2,
                                                     .cycle_momentum = false})},
      {"CyclicLR exp_range momentum",
       "torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=2, "
       "step_size_down=4, mode='exp_range', gamma=0.9, base_momentum=0.7, max_momentum=[0.9, 0.95])",
       sched<optim::CyclicLR>(optim::CyclicLROptions{.base_lr = 0.01,
                                                     .max_lr = {0.1, 0.2},
                                                     .step_size_up = 2,
                                                     .step_size_down = 4,
                                                     .mode = optim::CyclicMode::exp_range,
                                                     .gamma = 0.9,
                                                     .base_momentum = 0.7,
                                                     .max_momentum = {0.9, 0.95}}),
       {},
       "momentum"},
      {"OneCycleLR cos momentum",
       "torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[0.1, 0.2], total_steps=21)",
       sched<optim::OneCycleLR>(optim::OneCycleLROptions{.max_lr = {0.1, 0.2}, .total_steps = 21}),
       {},
       "momentum"},
      {"OneCycleLR linear three_phase Adam betas",
       "torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=7, steps_per_epoch=3, pct_start=0.25, "
       "anneal_strategy='linear', div_factor=10, final_div_factor=100, three_phase=True)",
       sched<optim::OneCycleLR>(optim::OneCycleLROptions{.max_lr = 0.1,
                                                         .epochs = 7,
                                                         .steps_per_epoch = 3,
                                                         .pct_start = 0.25,
                                                         .anneal_strategy = optim::AnnealStrategy::linear,
                                                         .div_factor = 10,
                                                         .final_div_factor = 100,
                                                         .three_phase = true}),
       {},
       "betas"},
      {"OneCycleLR linear no cycle_momentum",
       "torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.3, total_steps=25, pct_start=0.4, "
       "anneal_strategy='linear', cycle_momentum=False)",
       sched<optim::OneCycleLR>(optim::OneCycleLROptions{.max_lr = 0.3,
                                                         .total_steps = 25,
                                                         .pct_start = 0.4,
                                                         .anneal_strategy = optim::AnnealStrategy::linear,
                                                         .cycle_momentum = false})},
  };
}

constexpr int kEpochs = 20;

void record_optim(Recorder& r, const OptimCase& c, std::size_t k) {
  json e = {{"group", "optimizer"},
            {"id", indexed("optimizer.", k)},
            {"name", c.name},
            {"label", c.name},
            {"torch", c.torch},
            {"closure", c.closure},
            {"steps", c.steps},
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
    for (int s = 0; s < c.steps; ++s) {
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
  json e = {{"group", "scheduler"},
            {"id", indexed("scheduler.", k)},
            {"name", c.name},
            {"label", c.name},
            {"torch", c.torch},
            {"epochs", kEpochs},
            {"metrics", c.metrics},
            {"momentum", c.momentum},
            {"expr", ""}};
  xg::NamedTensors t;
  try {
    Params p = {input({2}, 1), input({3}, 2)};
    std::unique_ptr<optim::Optimizer> opt;
    if (c.momentum == "betas")
      opt = std::make_unique<optim::Adam>(
          std::vector<optim::Adam::ParamGroup>{{{p[0]}, {.lr = 0.1}}, {{p[1]}, {.lr = 0.05}}});
    else
      opt = std::make_unique<optim::SGD>(
          std::vector<optim::SGD::ParamGroup>{{{p[0]}, {.lr = 0.1}}, {{p[1]}, {.lr = 0.05}}},
          optim::SGDOptions{.momentum = c.momentum.empty() ? 0.0 : 0.9});
    optim::Optimizer& o = *opt;
    Step step = c.make(o);
    std::vector<double> lrs, momenta;
    auto record = [&] {
      for (std::size_t g = 0; g < 2; ++g) {
        lrs.push_back(o.lr(g));
        if (!c.momentum.empty()) momenta.push_back(o.option_values(c.momentum, g).at(0));
      }
    };
    record();
    for (int64_t epoch = 0; epoch < kEpochs; ++epoch) {
      o.step();  // no gradients: nothing moves; PyTorch wants an optimizer step before the scheduler's
      step(epoch);
      record();
    }
    t.emplace_back("lrs", xg::tensor(lrs, {kEpochs + 1, 2}, {.dtype = xg::Dtype::float64}));
    if (!c.momentum.empty())
      t.emplace_back("momenta", xg::tensor(momenta, {kEpochs + 1, 2}, {.dtype = xg::Dtype::float64}));
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
