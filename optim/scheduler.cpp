#include "xgrad/optim/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace xg::optim {

// ---------------------------------------------------------------- option text
namespace {
// Comma-separated lists of option values: milestones, base_lrs, last_lr.
template <class T>
std::string list_to_string(const std::vector<T>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += option_to_string(v[i]);
  }
  return s;
}
template <class T>
std::vector<T> list_from_string(const std::string& s, const std::string& what) {
  std::vector<T> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    T x = 0;
    option_from_string(s.substr(start, end - start), x, what);
    out.push_back(x);
    start = end + 1;
  }
  return out;
}
}  // namespace

std::string option_to_string(PlateauMode v) {
  return v == PlateauMode::max ? "max" : "min";
}
std::string option_to_string(ThresholdMode v) {
  return v == ThresholdMode::abs ? "abs" : "rel";
}
std::string option_to_string(const std::vector<int64_t>& v) {
  return list_to_string(v);
}
void option_from_string(const std::string& s, PlateauMode& v, const std::string& what) {
  if (s == "min")
    v = PlateauMode::min;
  else if (s == "max")
    v = PlateauMode::max;
  else
    throw ValueError(what + ": cannot read '" + s + "' as a mode (min or max)");
}
void option_from_string(const std::string& s, ThresholdMode& v, const std::string& what) {
  if (s == "rel")
    v = ThresholdMode::rel;
  else if (s == "abs")
    v = ThresholdMode::abs;
  else
    throw ValueError(what + ": cannot read '" + s + "' as a threshold mode (rel or abs)");
}
void option_from_string(const std::string& s, std::vector<int64_t>& v, const std::string& what) {
  v = list_from_string<int64_t>(s, what);
}

const std::string& detail::scheduler_entry(const SchedulerState& state, const std::string& key,
                                           const std::string& who) {
  auto it = state.find(key);
  if (it == state.end()) throw ValueError(who + ": the state has no entry '" + key + "'");
  return it->second;
}

namespace {

constexpr auto& entry = detail::scheduler_entry;

void check_kind(const SchedulerState& state, const std::string& name) {
  const std::string who = name + ".load_state_dict";
  const std::string& kind = entry(state, "scheduler", who);
  if (kind != name) throw ValueError(who + ": the state is of a " + kind + " scheduler, not " + name);
}

std::vector<double> current_lrs(const Optimizer& opt) {
  std::vector<double> lrs;
  for (std::size_t g = 0; g < opt.num_param_groups(); ++g) lrs.push_back(opt.lr(g));
  return lrs;
}

}  // namespace

// ---------------------------------------------------------------- LRScheduler
LRScheduler::LRScheduler(Optimizer& optimizer, std::string name)
    : optimizer_(optimizer), name_(std::move(name)), base_lrs_(current_lrs(optimizer)) {}

void LRScheduler::start() {
  last_epoch_ = 0;
  apply();
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

void LRScheduler::apply() {
  if (optimizer_.num_param_groups() != base_lrs_.size())
    throw ValueError(name_ + ": the optimizer has " + std::to_string(optimizer_.num_param_groups()) +
                     " parameter groups, the scheduler was made for " + std::to_string(base_lrs_.size()));
  std::vector<double> lrs;
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) lrs.push_back(lr_at(base_lrs_[g], last_epoch_));
  for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_.set_lr(lrs[g], g);
  last_lr_ = std::move(lrs);
}

SchedulerState LRScheduler::state_dict() const {
  SchedulerState s;
  s["scheduler"] = name_;
  s["scheduler.last_epoch"] = std::to_string(last_epoch_);
  s["scheduler.base_lrs"] = list_to_string(base_lrs_);
  s["scheduler.last_lr"] = list_to_string(last_lr_);
  save_options(s);
  return s;
}

void LRScheduler::load_state_dict(const SchedulerState& state) {
  const std::string who = name_ + ".load_state_dict";
  check_kind(state, name_);
  int64_t epoch = 0;
  option_from_string(entry(state, "scheduler.last_epoch", who), epoch, who + ": scheduler.last_epoch");
  std::vector<double> base =
      list_from_string<double>(entry(state, "scheduler.base_lrs", who), who + ": scheduler.base_lrs");
  std::vector<double> last =
      list_from_string<double>(entry(state, "scheduler.last_lr", who), who + ": scheduler.last_lr");
  if (base.size() != optimizer_.num_param_groups() || last.size() != base.size())
    throw ValueError(who + ": the state is for " + std::to_string(base.size()) +
                     " parameter groups, the optimizer has " + std::to_string(optimizer_.num_param_groups()));
  load_options(state);
  last_epoch_ = epoch;
  base_lrs_ = std::move(base);
  last_lr_ = std::move(last);
}

// ---------------------------------------------------------------- StepLR
void StepLROptions::check() const {
  detail::check_option(step_size >= 1, "StepLR", "step_size", static_cast<double>(step_size),
                       "required; must be >= 1");
  detail::check_option(gamma >= 0.0, "StepLR", "gamma", gamma, "must be >= 0");
}
StepLR::StepLR(Optimizer& optimizer, StepLROptions options)
    : ClosedFormScheduler(optimizer, "StepLR", std::move(options)) {
  start();
}
double StepLR::lr_at(double base_lr, int64_t epoch) const {
  return base_lr * std::pow(o_.gamma, static_cast<double>(epoch / o_.step_size));
}

// ---------------------------------------------------------------- MultiStepLR
void MultiStepLROptions::check() const {
  detail::check_option(gamma >= 0.0, "MultiStepLR", "gamma", gamma, "must be >= 0");
}
MultiStepLR::MultiStepLR(Optimizer& optimizer, MultiStepLROptions options)
    : ClosedFormScheduler(optimizer, "MultiStepLR", std::move(options)) {
  std::sort(o_.milestones.begin(), o_.milestones.end());
  start();
}
double MultiStepLR::lr_at(double base_lr, int64_t epoch) const {
  const auto passed =
      std::upper_bound(o_.milestones.begin(), o_.milestones.end(), epoch) - o_.milestones.begin();
  return base_lr * std::pow(o_.gamma, static_cast<double>(passed));
}
void MultiStepLR::load_options(const SchedulerState& state) {
  ClosedFormScheduler::load_options(state);
  std::sort(o_.milestones.begin(), o_.milestones.end());
}

// ---------------------------------------------------------------- ExponentialLR
void ExponentialLROptions::check() const {
  detail::check_option(gamma >= 0.0, "ExponentialLR", "gamma", gamma, "required; must be >= 0");
}
ExponentialLR::ExponentialLR(Optimizer& optimizer, ExponentialLROptions options)
    : ClosedFormScheduler(optimizer, "ExponentialLR", options) {
  start();
}
double ExponentialLR::lr_at(double base_lr, int64_t epoch) const {
  return base_lr * std::pow(o_.gamma, static_cast<double>(epoch));
}

// ---------------------------------------------------------------- CosineAnnealingLR
void CosineAnnealingLROptions::check() const {
  detail::check_option(T_max >= 1, "CosineAnnealingLR", "T_max", static_cast<double>(T_max),
                       "required; must be >= 1");
  detail::check_option(eta_min >= 0.0, "CosineAnnealingLR", "eta_min", eta_min, "must be >= 0");
}
CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options)
    : ClosedFormScheduler(optimizer, "CosineAnnealingLR", options) {
  start();
}
double CosineAnnealingLR::lr_at(double base_lr, int64_t epoch) const {
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(o_.T_max);
  return o_.eta_min + (base_lr - o_.eta_min) * (1.0 + std::cos(phase)) / 2.0;
}

// ---------------------------------------------------------------- LinearLR
void LinearLROptions::check() const {
  detail::check_option(start_factor > 0.0 && start_factor <= 1.0, "LinearLR", "start_factor", start_factor,
                       "must be in (0, 1]");
  detail::check_option(end_factor >= 0.0 && end_factor <= 1.0, "LinearLR", "end_factor", end_factor,
                       "must be in [0, 1]");
  detail::check_option(total_iters >= 1, "LinearLR", "total_iters", static_cast<double>(total_iters),
                       "must be >= 1");
}
LinearLR::LinearLR(Optimizer& optimizer, LinearLROptions options)
    : ClosedFormScheduler(optimizer, "LinearLR", options) {
  start();
}
double LinearLR::lr_at(double base_lr, int64_t epoch) const {
  const double done =
      static_cast<double>(std::min(epoch, o_.total_iters)) / static_cast<double>(o_.total_iters);
  return base_lr * (o_.start_factor + (o_.end_factor - o_.start_factor) * done);
}

// ---------------------------------------------------------------- ReduceLROnPlateau
void ReduceLROnPlateauOptions::check() const {
  const char* who = "ReduceLROnPlateau";
  detail::check_option(factor >= 0.0 && factor < 1.0, who, "factor", factor, "must be in [0, 1)");
  detail::check_option(patience >= 0, who, "patience", static_cast<double>(patience), "must be >= 0");
  detail::check_option(threshold >= 0.0, who, "threshold", threshold, "must be >= 0");
  detail::check_option(cooldown >= 0, who, "cooldown", static_cast<double>(cooldown), "must be >= 0");
  detail::check_option(min_lr >= 0.0, who, "min_lr", min_lr, "must be >= 0");
  detail::check_option(eps >= 0.0, who, "eps", eps, "must be >= 0");
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options)
    : optimizer_(optimizer), o_(options), last_lr_(current_lrs(optimizer)) {
  o_.check();
  best_ = o_.mode == PlateauMode::min ? std::numeric_limits<double>::infinity()
                                      : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  if (o_.mode == PlateauMode::min)
    return o_.threshold_mode == ThresholdMode::rel ? a < best * (1.0 - o_.threshold)
                                                   : a < best - o_.threshold;
  return o_.threshold_mode == ThresholdMode::rel ? a > best * (o_.threshold + 1.0) : a > best + o_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (in_cooldown()) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during cooldown do not count
  }
  if (num_bad_epochs_ > o_.patience) {
    for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
      const double old_lr = optimizer_.lr(g), new_lr = std::max(old_lr * o_.factor, o_.min_lr);
      if (old_lr - new_lr > o_.eps) optimizer_.set_lr(new_lr, g);
    }
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_ = current_lrs(optimizer_);
}

SchedulerState ReduceLROnPlateau::state_dict() const {
  SchedulerState s;
  s["scheduler"] = "ReduceLROnPlateau";
  s["scheduler.last_epoch"] = std::to_string(last_epoch_);
  s["scheduler.best"] = option_to_string(best_);
  s["scheduler.num_bad_epochs"] = std::to_string(num_bad_epochs_);
  s["scheduler.cooldown_counter"] = std::to_string(cooldown_counter_);
  s["scheduler.last_lr"] = list_to_string(last_lr_);
  detail::save_scheduler_options(o_, s);
  return s;
}

void ReduceLROnPlateau::load_state_dict(const SchedulerState& state) {
  const std::string who = "ReduceLROnPlateau.load_state_dict";
  check_kind(state, "ReduceLROnPlateau");
  int64_t epoch = 0, bad = 0, cooldown = 0;
  double best = 0;
  option_from_string(entry(state, "scheduler.last_epoch", who), epoch, who + ": scheduler.last_epoch");
  option_from_string(entry(state, "scheduler.best", who), best, who + ": scheduler.best");
  option_from_string(entry(state, "scheduler.num_bad_epochs", who), bad, who + ": scheduler.num_bad_epochs");
  option_from_string(entry(state, "scheduler.cooldown_counter", who), cooldown,
                     who + ": scheduler.cooldown_counter");
  std::vector<double> last =
      list_from_string<double>(entry(state, "scheduler.last_lr", who), who + ": scheduler.last_lr");
  detail::load_scheduler_options(o_, state, who);
  last_epoch_ = epoch, best_ = best, num_bad_epochs_ = bad, cooldown_counter_ = cooldown;
  last_lr_ = std::move(last);
}

}  // namespace xg::optim
