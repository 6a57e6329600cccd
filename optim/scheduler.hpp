#pragma once
/// @file scheduler.hpp
/// @brief Learning-rate schedules, as torch.optim.lr_scheduler. Call step() once per epoch,
/// after the epoch's optimizer steps:
///
/// @code
/// xg::optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
/// xg::optim::CosineAnnealingLR sched(opt, {.T_max = 100});
/// for (int epoch = 0; epoch < 100; ++epoch) {
///   train_one_epoch(opt);
///   sched.step();
/// }
/// @endcode
///
/// Schedules compose as PyTorch's chainable form: step() computes each group's new lr from its
/// *current* lr (most schedules multiply it by a factor), so two schedulers stepping one
/// optimizer combine (an ExponentialLR and a StepLR give the product of their decays), as does
/// ChainedScheduler. SequentialLR hands the optimizer from one scheduler to the next at
/// milestones. Construction makes the first step (epoch 0, as PyTorch's), which for most
/// schedules leaves the lr as it is; warm-up schedules (LinearLR, ConstantLR) scale it.
/// LambdaLR, CyclicLR, OneCycleLR and CosineAnnealingWarmRestarts set the lr from their base
/// lrs instead (as PyTorch's), overriding what other schedulers did.
///
/// @code
/// // 5 epochs of linear warm-up from lr / 10, then a cosine down to 1e-4 over 95 epochs
/// auto warm = std::make_shared<xg::optim::LinearLR>(opt, xg::optim::LinearLROptions{.start_factor = 0.1});
/// auto cosine = std::make_shared<xg::optim::CosineAnnealingLR>(opt, xg::optim::CosineAnnealingLROptions{
///     .T_max = 95, .eta_min = 1e-4});
/// xg::optim::SequentialLR sched(opt, {warm, cosine}, {5});
/// @endcode
///
/// The base lr of a group is the optimizer's initial lr of that group (Optimizer::initial_lr),
/// set by the first scheduler attached to it, so later schedulers share it, as PyTorch's
/// group['initial_lr'] (OneCycleLR sets it to max_lr / div_factor).
///
/// State for resume: state_dict() returns metadata entries whose keys all start with
/// "scheduler", so that they can be merged into the optimizer's StateDict and saved in one file
/// (the optimizer's state holds the current lrs the chainable form continues from: load both):
///
/// @code
/// auto sd = opt.state_dict();
/// sd.metadata.merge(sched.state_dict());
/// xg::save_tensors(path, sd.tensors, sd.metadata);
/// // resume:
/// xg::TensorFile f = xg::load_tensors(path);
/// opt.load_state_dict({f.tensors, f.metadata});
/// sched.load_state_dict(f.metadata);
/// @endcode
///
/// Functions (LambdaLR's lambdas, CyclicLR's scale_fn) are not saved: construct the resumed
/// scheduler with the same ones.
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

using SchedulerState = std::map<std::string, std::string>;

/// @brief Base of the epoch- (or batch-) driven schedules.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one epoch and sets each group's lr by the chainable form (from its current lr).
  void step();
  /// PyTorch's deprecated step(epoch): sets last_epoch = epoch and each group's lr from the
  /// closed form where the schedule has one (else from the chainable form at that epoch).
  /// SequentialLR uses step(0) at its milestones. epoch must be whole, except for
  /// CosineAnnealingWarmRestarts (fractional epochs).
  void step(double epoch);
  /// The lr of each group set by the last step (or by construction).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// The epoch of the last step (0 after construction).
  int64_t last_epoch() const { return last_epoch_; }
  /// Each group's base lr (the optimizer's initial lr, or the schedule's own, see each).
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  const std::string& name() const { return name_; }
  Optimizer& optimizer() const { return optimizer_; }

  /// scheduler = name, scheduler.last_epoch, scheduler.step_count, scheduler.base_lrs,
  /// scheduler.last_lr, scheduler.initial_lrs (the optimizer's, restored on load) and
  /// scheduler.<option> for each option (and the schedule's own state).
  virtual SchedulerState state_dict() const;
  /// Restores the state (and options) of a scheduler of the same kind over as many groups;
  /// keys not starting with "scheduler" are ignored. Everything is checked first (ValueError
  /// naming the entry; a failed load changes nothing): options finite and in range, last_epoch
  /// >= -1, step_count >= 0, lrs finite and >= 0.
  virtual void load_state_dict(const SchedulerState& state);

 protected:
  LRScheduler(Optimizer& optimizer, std::string name) : optimizer_(optimizer), name_(std::move(name)) {}
  /// Called by each constructor once its options are checked: takes the base lrs from the
  /// optimizer's initial lrs (set to the current lrs where absent) and makes the initial step.
  void start();
  /// The initial step: step count 0, then step() (to epoch 0 from -1).
  void initial_step();
  /// The new lr of each group at last_epoch_ (just set), from the optimizer's current lrs. May
  /// set other options (momentum) as a side effect.
  virtual std::vector<double> get_lr() = 0;
  /// The lr of each group at last_epoch_ from the base lrs, for schedules with a closed form.
  virtual std::optional<std::vector<double>> closed_form_lr() const { return std::nullopt; }
  /// What step() (no epoch) and step(epoch) do; the state is restored if it throws.
  virtual void advance(std::optional<double> epoch);
  virtual void save_options(SchedulerState& state) const = 0;
  /// Reads (and checks) every option and extra entry, then assigns them: a failed load changes
  /// nothing.
  virtual void load_options(const SchedulerState& state) = 0;
  /// Sets each group's lr and records them as last lr.
  void set_lrs(const std::vector<double>& lrs);
  /// The optimizer's current lr of each group.
  std::vector<double> current_lrs() const;
  /// "<name>.load_state_dict", the first word of load errors.
  std::string loader() const { return name_ + ".load_state_dict"; }

  Optimizer& optimizer_;
  std::vector<double> base_lrs_, last_lr_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;  ///< steps made, the initial one included (CosineAnnealingLR reads it)

 private:
  void run(std::optional<double> epoch);
  std::string name_;
  friend class SequentialLR;
  friend class ChainedScheduler;
};

/// A value for every parameter group or one for each: `.max_lr = 0.1` or `.max_lr = {0.1, 0.2}`.
struct PerGroup {
  std::vector<double> values;
  PerGroup() = default;
  PerGroup(double v) : values{v} {}
  PerGroup(std::initializer_list<double> v) : values(v) {}
  PerGroup(std::vector<double> v) : values(std::move(v)) {}
  /// One value per group; ValueError "<who>: expected <n> values for <what> ..." otherwise.
  std::vector<double> for_groups(std::size_t groups, const std::string& who, const char* what) const;
};

// ---- option values of the schedulers as state text (see optimizer.hpp for the numbers) ----
enum class PlateauMode { min, max };    ///< whether the metric should go down (loss) or up (accuracy)
enum class ThresholdMode { rel, abs };  ///< improvement measured relative to the best or absolute
/// CyclicLR's amplitude policy: constant, halved each cycle, or gamma^iteration.
enum class CyclicMode { triangular, triangular2, exp_range };
/// Whether CyclicLR's scale_fn takes the cycle number or the iteration count.
enum class ScaleMode { cycle, iterations };
/// OneCycleLR's annealing between the phase ends.
enum class AnnealStrategy { cos, linear };
std::string option_to_string(PlateauMode v);
std::string option_to_string(ThresholdMode v);
std::string option_to_string(CyclicMode v);
std::string option_to_string(ScaleMode v);
std::string option_to_string(AnnealStrategy v);
std::string option_to_string(const std::vector<int64_t>& v);
std::string option_to_string(const PerGroup& v);
void option_from_string(const std::string& s, PlateauMode& v, const std::string& what);
void option_from_string(const std::string& s, ThresholdMode& v, const std::string& what);
void option_from_string(const std::string& s, CyclicMode& v, const std::string& what);
void option_from_string(const std::string& s, ScaleMode& v, const std::string& what);
void option_from_string(const std::string& s, AnnealStrategy& v, const std::string& what);
void option_from_string(const std::string& s, std::vector<int64_t>& v, const std::string& what);
void option_from_string(const std::string& s, PerGroup& v, const std::string& what);

namespace detail {
/// The value of state[key]; ValueError "<who>: the state has no entry '<key>'" when absent.
const std::string& scheduler_entry(const SchedulerState& state, const std::string& key,
                                   const std::string& who);
/// scheduler.<option> = text, for each field of the options.
template <class O>
void save_scheduler_options(O o, SchedulerState& state) {
  o.fields([&](const char* key, auto& v) { state["scheduler." + std::string(key)] = option_to_string(v); });
}
/// Reads every field of the options from scheduler.<option>, checks them (numbers finite, then
/// the options' own check(), its error prefixed with `who`), then assigns them.
template <class O>
void load_scheduler_options(O& o, const SchedulerState& state, const std::string& who) {
  O loaded = o;
  loaded.fields([&](const char* key, auto& v) {
    using V = std::remove_cvref_t<decltype(v)>;
    const std::string k = "scheduler." + std::string(key);
    option_from_string(scheduler_entry(state, k, who), v, who + ": " + k);
    if constexpr (std::is_same_v<V, double>) {
      check_option(std::isfinite(v), who, k, v, "must be finite");
    } else if constexpr (std::is_same_v<V, PerGroup>) {
      for (double x : v.values) check_option(std::isfinite(x), who, k, x, "must be finite");
    }
  });
  try {
    loaded.check();
  } catch (const ValueError& e) {
    throw ValueError(who + ": " + e.what());
  }
  o = loaded;
}
}  // namespace detail

/// @brief A schedule over its options: they are checked at construction, saved and loaded with
/// the state. Options needs `check()` (throws ValueError naming the scheduler and option) and
/// `fields(f)` (f(name, member) for each option saved; functions are not). A schedule derives
/// from it, defines get_lr and calls start() at the end of its constructor.
template <class Options>
class OptionsScheduler : public LRScheduler {
 public:
  const Options& options() const { return o_; }

 protected:
  OptionsScheduler(Optimizer& optimizer, std::string name, Options options)
      : LRScheduler(optimizer, std::move(name)), o_(std::move(options)) {
    o_.check();
  }
  void save_options(SchedulerState& state) const override { detail::save_scheduler_options(o_, state); }
  void load_options(const SchedulerState& state) override {
    detail::load_scheduler_options(o_, state, loader());
  }

  Options o_;
};

/// @brief A schedule that also has a closed form lr_at(base lr, epoch), used by step(epoch);
/// step() uses the chainable form, equal to it up to rounding while nothing else changes the lr.
template <class Options>
class ClosedFormScheduler : public OptionsScheduler<Options> {
 public:
  /// The closed form: the lr at `epoch` of a group whose base lr is `base_lr`.
  virtual double lr_at(double base_lr, int64_t epoch) const = 0;

 protected:
  using OptionsScheduler<Options>::OptionsScheduler;
  std::optional<std::vector<double>> closed_form_lr() const override {
    std::vector<double> lrs;
    for (double b : this->base_lrs_) lrs.push_back(lr_at(b, this->last_epoch_));
    return lrs;
  }
};

/// Each group's lr times gamma every step_size epochs; closed form
/// lr = base_lr · gamma^⌊epoch / step_size⌋.
struct StepLROptions {
  int64_t step_size = 0;  ///< required, >= 1
  double gamma = 0.1;
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("step_size", step_size);
    f("gamma", gamma);
  }
};
class StepLR : public ClosedFormScheduler<StepLROptions> {
 public:
  StepLR(Optimizer& optimizer, StepLROptions options);
  double lr_at(double base_lr, int64_t epoch) const override;

 protected:
  std::vector<double> get_lr() override;
};

/// Each group's lr times gamma at each milestone (gamma^k at a milestone listed k times);
/// closed form lr = base_lr · gamma^(number of milestones <= epoch). Milestones may come in any
/// order and repeat.
struct MultiStepLROptions {
  std::vector<int64_t> milestones = {};
  double gamma = 0.1;
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("milestones", milestones);
    f("gamma", gamma);
  }
};
class MultiStepLR : public ClosedFormScheduler<MultiStepLROptions> {
 public:
  MultiStepLR(Optimizer& optimizer, MultiStepLROptions options);
  double lr_at(double base_lr, int64_t epoch) const override;

 protected:
  std::vector<double> get_lr() override;
  void load_options(const SchedulerState& state) override;
};

/// Each group's lr times factor at epoch 0, divided by it again at total_iters; closed form
/// lr = base_lr · (factor if epoch < total_iters else 1).
struct ConstantLROptions {
  double factor = 1.0 / 3.0;  ///< in (0, 1]
  int64_t total_iters = 5;    ///< >= 1
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("factor", factor);
    f("total_iters", total_iters);
  }
};
class ConstantLR : public ClosedFormScheduler<ConstantLROptions> {
 public:
  explicit ConstantLR(Optimizer& optimizer, ConstantLROptions options = {});
  double lr_at(double base_lr, int64_t epoch) const override;

 protected:
  std::vector<double> get_lr() override;
};

/// Each group's lr times gamma every epoch; closed form lr = base_lr · gamma^epoch.
struct ExponentialLROptions {
  double gamma = -1.0;  ///< required, >= 0
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("gamma", gamma);
  }
};
class ExponentialLR : public ClosedFormScheduler<ExponentialLROptions> {
 public:
  ExponentialLR(Optimizer& optimizer, ExponentialLROptions options);
  double lr_at(double base_lr, int64_t epoch) const override;

 protected:
  std::vector<double> get_lr() override;
};

/// Cosine annealing (SGDR without restarts). Closed form
///     lr = eta_min + (base_lr − eta_min) · (1 + cos(π · epoch / T_max)) / 2,
/// reaching eta_min at T_max and, stepped further, following the cosine back up (period
/// 2 T_max). step() uses the recursive form
///     lr_e = eta_min + (lr_{e−1} − eta_min) · (1 + cos(π e / T_max)) / (1 + cos(π (e − 1) / T_max)),
/// and, at the epochs after a minimum (e − 1 − T_max a multiple of 2 T_max), where that ratio
/// is 0/0, lr_e = lr_{e−1} + (base_lr − eta_min) · (1 − cos(π / T_max)) / 2.
struct CosineAnnealingLROptions {
  int64_t T_max = 0;  ///< required, >= 1: epochs of the half period
  double eta_min = 0.0;
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("T_max", T_max);
    f("eta_min", eta_min);
  }
};
class CosineAnnealingLR : public ClosedFormScheduler<CosineAnnealingLROptions> {
 public:
  CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options);
  double lr_at(double base_lr, int64_t epoch) const override;

 protected:
  std::vector<double> get_lr() override;
};

/// Linear warm-up (or decay) of a factor over total_iters epochs, then constant. Closed form
///     lr = base_lr · (start_factor + (end_factor − start_factor) · min(epoch, total_iters) / total_iters);
/// step() multiplies the current lr by the ratio of consecutive factors.
struct LinearLROptions {
  double start_factor = 1.0 / 3.0;  ///< in (0, 1]
  double end_factor = 1.0;          ///< in [0, 1]
  int64_t total_iters = 5;          ///< >= 1
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("start_factor", start_factor);
    f("end_factor", end_factor);
    f("total_iters", total_iters);
  }
};
class LinearLR : public ClosedFormScheduler<LinearLROptions> {
 public:
  LinearLR(Optimizer& optimizer, LinearLROptions options = {});
  double lr_at(double base_lr, int64_t epoch) const override;

 protected:
  std::vector<double> get_lr() override;
};

/// Polynomial decay to 0 over total_iters epochs, then 0. Closed form
///     lr = base_lr · (1 − min(epoch, total_iters) / total_iters)^power;
/// step() multiplies the current lr by ((1 − e/T) / (1 − (e − 1)/T))^power.
struct PolynomialLROptions {
  int64_t total_iters = 5;  ///< >= 1
  double power = 1.0;
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("total_iters", total_iters);
    f("power", power);
  }
};
class PolynomialLR : public ClosedFormScheduler<PolynomialLROptions> {
 public:
  explicit PolynomialLR(Optimizer& optimizer, PolynomialLROptions options = {});
  double lr_at(double base_lr, int64_t epoch) const override;

 protected:
  std::vector<double> get_lr() override;
};

/// A factor of the epoch: lr = base_lr · lr_lambda(epoch) (LambdaLR) or a factor applied to the
/// current lr at each step after the first (MultiplicativeLR).
using LRLambda = std::function<double(int64_t epoch)>;

/// @brief lr = base_lr · lr_lambda(epoch), one function for every group or one per group.
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, LRLambda lr_lambda);
  /// One function per parameter group (pass a std::vector for a single group).
  LambdaLR(Optimizer& optimizer, std::vector<LRLambda> lr_lambdas);

 protected:
  std::vector<double> get_lr() override;
  void save_options(SchedulerState&) const override {}
  void load_options(const SchedulerState&) override {}

 private:
  std::vector<LRLambda> lambdas_;
};

/// @brief Each step after the first multiplies each group's lr by lr_lambda(epoch).
class MultiplicativeLR : public LRScheduler {
 public:
  MultiplicativeLR(Optimizer& optimizer, LRLambda lr_lambda);
  MultiplicativeLR(Optimizer& optimizer, std::vector<LRLambda> lr_lambdas);

 protected:
  std::vector<double> get_lr() override;
  void save_options(SchedulerState&) const override {}
  void load_options(const SchedulerState&) override {}

 private:
  std::vector<LRLambda> lambdas_;
};

/// Cyclical learning rates, stepped once per batch. With cycle = ⌊1 + e / (up + down)⌋ and
/// x = 1 + e / (up + down) − cycle, the height h = x / r while x <= r = up / (up + down), else
/// (x − 1) / (r − 1), and
///     lr = base_lr + (max_lr − base_lr) · h · scale(cycle or e)
///     momentum = max_momentum − (max_momentum − base_momentum) · h · scale(cycle or e)
/// scale: triangular 1, triangular2 1 / 2^(cycle − 1), exp_range gamma^e, or scale_fn (of the
/// cycle or of e as scale_mode says). Construction sets each group's lr to base_lr (and momentum
/// to base_momentum). Not a factor of the current lr: it overrides other schedulers.
struct CyclicLROptions {
  PerGroup base_lr = {};                                 ///< required: the lower lr of each group
  PerGroup max_lr = {};                                  ///< required: the upper lr of each group
  int64_t step_size_up = 2000;                           ///< >= 1: iterations of the rising half
  std::optional<int64_t> step_size_down = std::nullopt;  ///< >= 0; step_size_up when unset
  CyclicMode mode = CyclicMode::triangular;              ///< ignored when scale_fn is set
  double gamma = 1.0;                                    ///< of exp_range
  std::function<double(double)> scale_fn = nullptr;      ///< custom scale (not saved)
  ScaleMode scale_mode = ScaleMode::cycle;               ///< only with scale_fn
  bool cycle_momentum = true;  ///< needs an optimizer with a momentum option (SGD, RMSprop)
  PerGroup base_momentum = 0.8;
  PerGroup max_momentum = 0.9;
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("base_lr", base_lr);
    f("max_lr", max_lr);
    f("step_size_up", step_size_up);
    f("step_size_down", step_size_down);
    f("mode", mode);
    f("gamma", gamma);
    f("scale_mode", scale_mode);
    f("cycle_momentum", cycle_momentum);
    f("base_momentum", base_momentum);
    f("max_momentum", max_momentum);
  }
};
class CyclicLR : public OptionsScheduler<CyclicLROptions> {
 public:
  CyclicLR(Optimizer& optimizer, CyclicLROptions options);

 protected:
  std::vector<double> get_lr() override;
  void save_options(SchedulerState& state) const override;
  void load_options(const SchedulerState& state) override;

 private:
  void resolve();
  double scale(double x) const;
  std::vector<double> max_lrs_, base_momentums_, max_momentums_;
  double total_size_ = 0, step_ratio_ = 0;
  ScaleMode scale_mode_ = ScaleMode::cycle;  // the one in effect (mode decides without scale_fn)
};

/// SGDR: cosine annealing from base_lr to eta_min over T_i epochs, restarting at base_lr; T_i
/// starts at T_0 and is multiplied by T_mult at each restart:
///     lr = eta_min + (base_lr − eta_min) · (1 + cos(π · T_cur / T_i)) / 2
/// step(epoch) takes fractional epochs (step once per batch with epoch + batch / batches).
struct CosineAnnealingWarmRestartsOptions {
  int64_t T_0 = 0;     ///< required, >= 1
  int64_t T_mult = 1;  ///< >= 1
  double eta_min = 0.0;
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("T_0", T_0);
    f("T_mult", T_mult);
    f("eta_min", eta_min);
  }
};
class CosineAnnealingWarmRestarts : public OptionsScheduler<CosineAnnealingWarmRestartsOptions> {
 public:
  CosineAnnealingWarmRestarts(Optimizer& optimizer, CosineAnnealingWarmRestartsOptions options);
  /// Epochs since the last restart (fractional after step(epoch)) and the current period.
  double T_cur() const { return T_cur_; }
  int64_t T_i() const { return T_i_; }

 protected:
  std::vector<double> get_lr() override;
  void advance(std::optional<double> epoch) override;
  void save_options(SchedulerState& state) const override;
  void load_options(const SchedulerState& state) override;

 private:
  double T_cur_ = -1;
  int64_t T_i_ = 0;
};

/// The 1cycle policy, stepped once per batch, total_steps steps in all: from initial_lr =
/// max_lr / div_factor up to max_lr over the first pct_start of the steps, then down to
/// min_lr = initial_lr / final_div_factor (three_phase: back to initial_lr over as many steps,
/// then to min_lr), annealed by cosine or linearly between the phase ends; the momentum (SGD,
/// RMSprop) or beta1 (Adam, AdamW, Adamax) goes inversely between max_momentum and
/// base_momentum. Phase k ends at step pct_start · total_steps − 1 (2 pct_start · total_steps
/// − 2, total_steps − 1). Not a factor of the current lr: it overrides other schedulers.
struct OneCycleLROptions {
  PerGroup max_lr = {};                                   ///< required
  std::optional<int64_t> total_steps = std::nullopt;      ///< >= 1; or epochs · steps_per_epoch
  std::optional<int64_t> epochs = std::nullopt;           ///< >= 1, with steps_per_epoch
  std::optional<int64_t> steps_per_epoch = std::nullopt;  ///< >= 1, with epochs
  double pct_start = 0.3;                                 ///< in [0, 1]
  AnnealStrategy anneal_strategy = AnnealStrategy::cos;
  bool cycle_momentum = true;  ///< needs an optimizer with momentum or betas
  PerGroup base_momentum = 0.85;
  PerGroup max_momentum = 0.95;
  double div_factor = 25.0;       ///< > 0
  double final_div_factor = 1e4;  ///< > 0
  bool three_phase = false;
  void check() const;
  /// total_steps, or epochs · steps_per_epoch.
  int64_t steps() const;
  template <class F>
  void fields(F&& f) {
    f("max_lr", max_lr);
    f("total_steps", total_steps);
    f("epochs", epochs);
    f("steps_per_epoch", steps_per_epoch);
    f("pct_start", pct_start);
    f("anneal_strategy", anneal_strategy);
    f("cycle_momentum", cycle_momentum);
    f("base_momentum", base_momentum);
    f("max_momentum", max_momentum);
    f("div_factor", div_factor);
    f("final_div_factor", final_div_factor);
    f("three_phase", three_phase);
  }
};
class OneCycleLR : public OptionsScheduler<OneCycleLROptions> {
 public:
  OneCycleLR(Optimizer& optimizer, OneCycleLROptions options);

 protected:
  std::vector<double> get_lr() override;
  void load_options(const SchedulerState& state) override;

 private:
  void resolve();
  std::vector<double> max_lrs_, min_lrs_, base_momentums_, max_momentums_;
  bool use_beta1_ = false;
};

/// @brief Hands the optimizer from one scheduler to the next at each milestone:
/// schedulers[i] is stepped in the epochs from milestones[i − 1] on. Construction resets each
/// group's lr to its initial lr and undoes the initial steps the schedulers made, then makes
/// the first scheduler's initial step again. At a milestone the next scheduler is stepped with
/// step(0): its closed form at epoch 0 (the base lr) where it has one, else its chainable form
/// at epoch 0 (most: the current lr unchanged). last_epoch counts this scheduler's steps.
class SequentialLR : public LRScheduler {
 public:
  /// The schedulers must be over `optimizer`; milestones: one fewer, sorted.
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  const std::vector<std::shared_ptr<LRScheduler>>& schedulers() const { return schedulers_; }
  const std::vector<int64_t>& milestones() const { return milestones_; }

  /// scheduler = "SequentialLR", .last_epoch, .milestones, .last_lr, .schedulers (count) and
  /// the state of scheduler i under scheduler.schedulers.<i> (its "scheduler.x" keys as
  /// "scheduler.schedulers.<i>.x").
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override { return current_lrs(); }
  void advance(std::optional<double> epoch) override;
  void save_options(SchedulerState&) const override {}
  void load_options(const SchedulerState&) override {}

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

/// @brief Steps every scheduler, in order, at each step(): their effects on the lr compose.
/// last_epoch counts the steps made (0 after construction).
class ChainedScheduler : public LRScheduler {
 public:
  /// The schedulers must be over one optimizer.
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  const std::vector<std::shared_ptr<LRScheduler>>& schedulers() const { return schedulers_; }

  /// scheduler = "ChainedScheduler", .last_epoch, .last_lr, .schedulers and each scheduler's
  /// state as SequentialLR's.
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override { return current_lrs(); }
  void advance(std::optional<double> epoch) override;
  void save_options(SchedulerState&) const override {}
  void load_options(const SchedulerState&) override {}

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

/// A metric improves on the best when (mode min) it is below best · (1 − threshold) (rel) or
/// best − threshold (abs); (mode max) above best · (1 + threshold) or best + threshold.
struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::min;
  double factor = 0.1;    ///< new lr = max(lr · factor, min_lr); must be < 1
  int64_t patience = 10;  ///< epochs without improvement tolerated before reducing
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::rel;
  int64_t cooldown = 0;  ///< epochs after a reduction during which bad epochs are not counted
  double min_lr = 0.0;
  double eps = 1e-8;  ///< a reduction smaller than this is skipped
  void check() const;
  template <class F>
  void fields(F&& f) {
    f("mode", mode);
    f("factor", factor);
    f("patience", patience);
    f("threshold", threshold);
    f("threshold_mode", threshold_mode);
    f("cooldown", cooldown);
    f("min_lr", min_lr);
    f("eps", eps);
  }
};

/// @brief Multiplies every group's lr by factor when the metric has not improved for more than
/// patience epochs (as torch.optim.lr_scheduler.ReduceLROnPlateau). step(metric) once per epoch:
///     if metric improves on best: best = metric, bad = 0, else bad += 1
///     if cooling down: cooldown_counter −= 1, bad = 0
///     if bad > patience: lr ← max(lr · factor, min_lr) for each group (skipped when the change
///                        is <= eps), cooldown_counter = cooldown, bad = 0
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  void step(double metric);
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  const ReduceLROnPlateauOptions& options() const { return o_; }
  /// Whether `metric` counts as an improvement on `best`.
  bool is_better(double metric, double best) const;

  /// scheduler = "ReduceLROnPlateau", scheduler.last_epoch, .best, .num_bad_epochs,
  /// .cooldown_counter, .last_lr and the options.
  SchedulerState state_dict() const;
  void load_state_dict(const SchedulerState& state);

 private:
  Optimizer& optimizer_;
  ReduceLROnPlateauOptions o_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = 0;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
};

}  // namespace xg::optim
