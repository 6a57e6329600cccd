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
/// Each schedule is a closed form lr(base_lr, epoch): construction records each group's
/// current lr as its base lr and sets epoch 0's value; step() advances the epoch and sets every
/// group's lr from the formula. PyTorch's step() evaluates most schedules recursively (from the
/// group's current lr); the values agree up to rounding when one scheduler drives the optimizer.
/// A closed form overwrites whatever else changed the lr, so two of these schedulers on one
/// optimizer do not compose (PyTorch's chaining); ReduceLROnPlateau, which scales the current lr,
/// does.
///
/// State for resume: state_dict() returns metadata entries whose keys all start with
/// "scheduler", so that they can be merged into the optimizer's StateDict and saved in one file:
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
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

using SchedulerState = std::map<std::string, std::string>;

/// @brief Base of the epoch-driven schedules.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one epoch and sets each group's lr to lr_at(base lr, epoch).
  void step();
  /// The lr of each group set by the last step (or by construction).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// Epochs stepped so far (0 after construction).
  int64_t last_epoch() const { return last_epoch_; }
  /// Each group's lr when the scheduler was made.
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  const std::string& name() const { return name_; }
  /// The schedule: the lr at `epoch` of a group whose base lr is `base_lr`.
  virtual double lr_at(double base_lr, int64_t epoch) const = 0;

  /// scheduler = name, scheduler.last_epoch, scheduler.base_lrs, scheduler.last_lr and
  /// scheduler.<option> for each option.
  SchedulerState state_dict() const;
  /// Restores the state (and options) of a scheduler of the same kind over as many groups;
  /// keys not starting with "scheduler" are ignored.
  void load_state_dict(const SchedulerState& state);

 protected:
  LRScheduler(Optimizer& optimizer, std::string name);
  /// Called by each constructor once its options are checked: sets epoch 0's lr.
  void start();
  virtual void save_options(SchedulerState& state) const = 0;
  virtual void load_options(const SchedulerState& state) = 0;

  Optimizer& optimizer_;

 private:
  void apply();
  std::string name_;
  std::vector<double> base_lrs_, last_lr_;
  int64_t last_epoch_ = 0;
};

// ---- option values of the schedulers as state text (see optimizer.hpp for the numbers) ----
enum class PlateauMode { min, max };    ///< whether the metric should go down (loss) or up (accuracy)
enum class ThresholdMode { rel, abs };  ///< improvement measured relative to the best or absolute
std::string option_to_string(PlateauMode v);
std::string option_to_string(ThresholdMode v);
std::string option_to_string(const std::vector<int64_t>& v);
void option_from_string(const std::string& s, PlateauMode& v, const std::string& what);
void option_from_string(const std::string& s, ThresholdMode& v, const std::string& what);
void option_from_string(const std::string& s, std::vector<int64_t>& v, const std::string& what);

namespace detail {
/// The value of state[key]; ValueError "<who>: the state has no entry '<key>'" when absent.
const std::string& scheduler_entry(const SchedulerState& state, const std::string& key,
                                   const std::string& who);
/// scheduler.<option> = text, for each field of the options.
template <class O>
void save_scheduler_options(O o, SchedulerState& state) {
  o.fields([&](const char* key, auto& v) { state["scheduler." + std::string(key)] = option_to_string(v); });
}
/// Reads every field of the options from scheduler.<option>, checks them, then assigns them.
template <class O>
void load_scheduler_options(O& o, const SchedulerState& state, const std::string& who) {
  O loaded = o;
  loaded.fields([&](const char* key, auto& v) {
    const std::string k = "scheduler." + std::string(key);
    option_from_string(scheduler_entry(state, k, who), v, who + ": " + k);
  });
  loaded.check();
  o = loaded;
}
}  // namespace detail

/// @brief A closed-form schedule over its options: they are checked at construction, saved and
/// loaded with the state, and the schedule reads them in lr_at. Options needs `check()` (throws
/// ValueError naming the scheduler and option) and `fields(f)` (f(name, member) for each option).
/// A schedule derives from it, defines lr_at and calls start() at the end of its constructor
/// (lr_at is virtual, so the base's constructor cannot).
template <class Options>
class ClosedFormScheduler : public LRScheduler {
 public:
  const Options& options() const { return o_; }

 protected:
  ClosedFormScheduler(Optimizer& optimizer, std::string name, Options options)
      : LRScheduler(optimizer, std::move(name)), o_(std::move(options)) {
    o_.check();
  }
  void save_options(SchedulerState& state) const override { detail::save_scheduler_options(o_, state); }
  void load_options(const SchedulerState& state) override {
    detail::load_scheduler_options(o_, state, name() + ".load_state_dict");
  }

  Options o_;
};

/// lr = base_lr · gamma^⌊epoch / step_size⌋
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
};

/// lr = base_lr · gamma^(number of milestones <= epoch); milestones may come in any order and
/// repeat (a repeated milestone multiplies by gamma once per occurrence, as PyTorch's Counter).
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
  void load_options(const SchedulerState& state) override;
};

/// lr = base_lr · gamma^epoch
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
};

/// The closed form of PyTorch's CosineAnnealingLR (SGDR without restarts):
///     lr = eta_min + (base_lr − eta_min) · (1 + cos(π · epoch / T_max)) / 2
/// It reaches eta_min at epoch T_max and, stepped further, follows the cosine back up (period
/// 2 T_max), as PyTorch's recursive form does. PyTorch's step() uses that recursive form,
///     lr_e = eta_min + (lr_{e−1} − eta_min) · (1 + cos(π e / T_max)) / (1 + cos(π (e − 1) / T_max)),
/// equal to the closed form up to rounding while nothing else changes the lr.
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
};

/// Linear warm-up (or decay) of a factor over total_iters epochs, then constant:
///     lr = base_lr · (start_factor + (end_factor − start_factor) · min(epoch, total_iters) / total_iters)
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
