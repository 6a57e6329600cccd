#include "xgrad/optim/scheduler.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
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

// Enum option text: the names in declaration order.
template <class E, std::size_t N>
std::string enum_to_string(E v, const std::array<const char*, N>& names) {
  const auto i = static_cast<std::size_t>(v);
  return i < N ? names[i] : "invalid";
}
template <class E, std::size_t N>
void enum_from_string(const std::string& s, E& v, const std::array<const char*, N>& names,
                      const std::string& what, const char* kind) {
  for (std::size_t i = 0; i < N; ++i)
    if (s == names[i]) {
      v = static_cast<E>(i);
      return;
    }
  std::string list;
  for (std::size_t i = 0; i < N; ++i) list += (i ? (i + 1 == N ? " or " : ", ") : "") + std::string(names[i]);
  throw ValueError(what + ": cannot read '" + s + "' as " + kind + " (" + list + ")");
}
constexpr std::array<const char*, 3> cyclic_modes = {"triangular", "triangular2", "exp_range"};
constexpr std::array<const char*, 2> scale_modes = {"cycle", "iterations"};
constexpr std::array<const char*, 2> anneal_strategies = {"cos", "linear"};
}  // namespace

std::string option_to_string(PlateauMode v) {
  return v == PlateauMode::max ? "max" : "min";
}
std::string option_to_string(ThresholdMode v) {
  return v == ThresholdMode::abs ? "abs" : "rel";
}
std::string option_to_string(CyclicMode v) {
  return enum_to_string(v, cyclic_modes);
}
std::string option_to_string(ScaleMode v) {
  return enum_to_string(v, scale_modes);
}
std::string option_to_string(AnnealStrategy v) {
  return enum_to_string(v, anneal_strategies);
}
std::string option_to_string(const std::vector<int64_t>& v) {
  return list_to_string(v);
}
std::string option_to_string(const PerGroup& v) {
  return list_to_string(v.values);
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
void option_from_string(const std::string& s, CyclicMode& v, const std::string& what) {
  enum_from_string(s, v, cyclic_modes, what, "a mode");
}
void option_from_string(const std::string& s, ScaleMode& v, const std::string& what) {
  enum_from_string(s, v, scale_modes, what, "a scale mode");
}
void option_from_string(const std::string& s, AnnealStrategy& v, const std::string& what) {
  enum_from_string(s, v, anneal_strategies, what, "an anneal strategy");
}
void option_from_string(const std::string& s, std::vector<int64_t>& v, const std::string& what) {
  v = list_from_string<int64_t>(s, what);
}
void option_from_string(const std::string& s, PerGroup& v, const std::string& what) {
  v.values = list_from_string<double>(s, what);
}

std::vector<double> PerGroup::for_groups(std::size_t groups, const std::string& who, const char* what) const {
  if (values.size() == 1) return std::vector<double>(groups, values[0]);
  if (values.size() != groups)
    throw ValueError(who + ": expected " + std::to_string(groups) + " values for " + what +
                     " (one per parameter group, or one for all), got " + std::to_string(values.size()));
  return values;
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

std::vector<double> lrs_of(const Optimizer& opt) {
  std::vector<double> lrs;
  for (std::size_t g = 0; g < opt.num_param_groups(); ++g) lrs.push_back(opt.lr(g));
  return lrs;
}

std::vector<double> doubles(const SchedulerState& state, const std::string& key, const std::string& who) {
  return list_from_string<double>(entry(state, key, who), who + ": " + key);
}
template <class T>
T number(const SchedulerState& state, const std::string& key, const std::string& who) {
  T v{};
  option_from_string(entry(state, key, who), v, who + ": " + key);
  return v;
}

// Python's floor division and modulo (the schedules' epochs may be negative after SequentialLR
// undoes the initial steps).
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// a · b rounded on its own. The build lets the compiler fuse a product with an addition
// (-ffp-contract=fast); where a sum decides a branch (OneCycleLR's phase ends, the restart of
// CosineAnnealingWarmRestarts.step(epoch)) it must round as PyTorch's does.
double unfused_mul(double a, double b) {
  volatile double p = a * b;
  return p;
}

[[noreturn]] void bad_entry(const std::string& who, const std::string& key, const std::string& value,
                            const std::string& rule) {
  throw ValueError(who + ": " + key + " = " + value + " (" + rule + ")");
}

// Learning rates read from a state: finite and >= 0, as set_lr wants them.
void check_lrs(const std::vector<double>& lrs, const std::string& key, const std::string& who) {
  for (double lr : lrs)
    if (!(std::isfinite(lr) && lr >= 0.0))
      bad_entry(who, key, list_to_string(lrs), "each must be finite and >= 0");
}

// Loads every scheduler's state, or, when one fails, puts back those already loaded (and the
// optimizer's initial lrs they set), so that a failed load changes nothing.
void load_all(const std::vector<std::shared_ptr<LRScheduler>>& scheds, Optimizer& opt,
              const std::function<SchedulerState(std::size_t)>& child) {
  std::vector<SchedulerState> saved;
  for (const auto& s : scheds) saved.push_back(s->state_dict());
  std::vector<std::optional<double>> initial;
  for (std::size_t g = 0; g < opt.num_param_groups(); ++g) initial.push_back(opt.initial_lr(g));
  std::size_t i = 0;
  try {
    for (; i < scheds.size(); ++i) scheds[i]->load_state_dict(child(i));
  } catch (...) {
    for (std::size_t j = 0; j < i; ++j) scheds[j]->load_state_dict(saved[j]);
    for (std::size_t g = 0; g < initial.size(); ++g)
      if (initial[g]) opt.set_initial_lr(*initial[g], g);
    throw;
  }
}

}  // namespace

// ---------------------------------------------------------------- LRScheduler
void LRScheduler::start() {
  base_lrs_.clear();
  for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
    if (!optimizer_.initial_lr(g)) optimizer_.set_initial_lr(optimizer_.lr(g), g);
    base_lrs_.push_back(*optimizer_.initial_lr(g));
  }
  last_epoch_ = -1;
  initial_step();
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  run(std::nullopt);
}
void LRScheduler::step(double epoch) {
  run(epoch);
}

void LRScheduler::run(std::optional<double> epoch) {
  if (optimizer_.num_param_groups() != base_lrs_.size())
    throw ValueError(name_ + ": the optimizer has " + std::to_string(optimizer_.num_param_groups()) +
                     " parameter groups, the scheduler was made for " + std::to_string(base_lrs_.size()));
  const int64_t epoch0 = last_epoch_, count0 = step_count_;
  try {
    advance(epoch);
  } catch (...) {
    last_epoch_ = epoch0, step_count_ = count0;
    throw;
  }
}

void LRScheduler::advance(std::optional<double> epoch) {
  ++step_count_;
  if (!epoch) {
    ++last_epoch_;
    set_lrs(get_lr());
    return;
  }
  if (!std::isfinite(*epoch) || *epoch != std::floor(*epoch))
    throw ValueError(name_ + ": step(epoch) needs a whole epoch, got " + option_to_string(*epoch));
  last_epoch_ = static_cast<int64_t>(*epoch);
  std::optional<std::vector<double>> closed = closed_form_lr();
  set_lrs(closed ? *closed : get_lr());
}

void LRScheduler::set_lrs(const std::vector<double>& lrs) {
  for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_.set_lr(lrs[g], g);
  last_lr_ = lrs_of(optimizer_);
}

std::vector<double> LRScheduler::current_lrs() const {
  return lrs_of(optimizer_);
}

SchedulerState LRScheduler::state_dict() const {
  SchedulerState s;
  s["scheduler"] = name_;
  s["scheduler.last_epoch"] = std::to_string(last_epoch_);
  s["scheduler.step_count"] = std::to_string(step_count_);
  s["scheduler.base_lrs"] = list_to_string(base_lrs_);
  s["scheduler.last_lr"] = list_to_string(last_lr_);
  // The optimizer's initial lrs (a group property the optimizer's state does not hold), so that
  // schedulers made after a resume find the same base lrs.
  std::vector<double> initial;
  for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g)
    if (auto lr = optimizer_.initial_lr(g)) initial.push_back(*lr);
  if (initial.size() == optimizer_.num_param_groups()) s["scheduler.initial_lrs"] = list_to_string(initial);
  save_options(s);
  return s;
}

void LRScheduler::load_state_dict(const SchedulerState& state) {
  const std::string who = loader();
  check_kind(state, name_);
  const auto epoch = number<int64_t>(state, "scheduler.last_epoch", who);
  // States saved before step_count was kept: as many steps as epochs after the initial one.
  const auto count =
      state.count("scheduler.step_count") ? number<int64_t>(state, "scheduler.step_count", who) : epoch + 1;
  std::vector<double> base = doubles(state, "scheduler.base_lrs", who);
  std::vector<double> last = doubles(state, "scheduler.last_lr", who);
  if (base.size() != optimizer_.num_param_groups() || last.size() != base.size())
    throw ValueError(who + ": the state is for " + std::to_string(base.size()) +
                     " parameter groups, the optimizer has " + std::to_string(optimizer_.num_param_groups()));
  // -1: a scheduler that SequentialLR has not reached yet (its initial step undone).
  if (epoch < -1) bad_entry(who, "scheduler.last_epoch", std::to_string(epoch), "must be >= -1");
  if (count < 0) bad_entry(who, "scheduler.step_count", std::to_string(count), "must be >= 0");
  check_lrs(base, "scheduler.base_lrs", who);
  check_lrs(last, "scheduler.last_lr", who);
  std::vector<double> initial;
  if (state.count("scheduler.initial_lrs")) {
    initial = doubles(state, "scheduler.initial_lrs", who);
    if (initial.size() != base.size())
      throw ValueError(who + ": scheduler.initial_lrs has " + std::to_string(initial.size()) +
                       " values for " + std::to_string(base.size()) + " parameter groups");
    check_lrs(initial, "scheduler.initial_lrs", who);
  }
  load_options(state);
  for (std::size_t g = 0; g < initial.size(); ++g) optimizer_.set_initial_lr(initial[g], g);
  last_epoch_ = epoch;
  step_count_ = count;
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
  return base_lr * std::pow(o_.gamma, static_cast<double>(floor_div(epoch, o_.step_size)));
}
std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0 || last_epoch_ % o_.step_size != 0) return lrs;
  for (double& lr : lrs) lr *= o_.gamma;
  return lrs;
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
std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  const auto count = std::count(o_.milestones.begin(), o_.milestones.end(), last_epoch_);
  if (count == 0) return lrs;
  for (double& lr : lrs) lr *= std::pow(o_.gamma, static_cast<double>(count));
  return lrs;
}
void MultiStepLR::load_options(const SchedulerState& state) {
  ClosedFormScheduler::load_options(state);
  std::sort(o_.milestones.begin(), o_.milestones.end());
}

// ---------------------------------------------------------------- ConstantLR
void ConstantLROptions::check() const {
  detail::check_option(factor > 0.0 && factor <= 1.0, "ConstantLR", "factor", factor, "must be in (0, 1]");
  detail::check_option(total_iters >= 1, "ConstantLR", "total_iters", static_cast<double>(total_iters),
                       "must be >= 1");
}
ConstantLR::ConstantLR(Optimizer& optimizer, ConstantLROptions options)
    : ClosedFormScheduler(optimizer, "ConstantLR", options) {
  start();
}
double ConstantLR::lr_at(double base_lr, int64_t epoch) const {
  return base_lr * (o_.factor + (epoch >= o_.total_iters ? 1.0 - o_.factor : 0.0));
}
std::vector<double> ConstantLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0)
    for (double& lr : lrs) lr *= o_.factor;
  else if (last_epoch_ == o_.total_iters)
    for (double& lr : lrs) lr *= 1.0 / o_.factor;
  return lrs;
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
std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ != 0)
    for (double& lr : lrs) lr *= o_.gamma;
  return lrs;
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
std::vector<double> CosineAnnealingLR::get_lr() {
  constexpr double pi = std::numbers::pi;
  const double e = static_cast<double>(last_epoch_), T = static_cast<double>(o_.T_max), eta = o_.eta_min;
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0) return lrs;
  for (std::size_t g = 0; g < lrs.size(); ++g) {
    if (step_count_ == 1 && last_epoch_ > 0)  // a first step past epoch 0: the closed form
      lrs[g] = eta + (base_lrs_[g] - eta) * (1.0 + std::cos(e * pi / T)) / 2.0;
    else if ((last_epoch_ - 1 - o_.T_max) % (2 * o_.T_max) == 0)  // just past a minimum: 0/0 below
      lrs[g] = lrs[g] + (base_lrs_[g] - eta) * (1.0 - std::cos(pi / T)) / 2.0;
    else
      lrs[g] = (1.0 + std::cos(pi * e / T)) / (1.0 + std::cos(pi * (e - 1.0) / T)) * (lrs[g] - eta) + eta;
  }
  return lrs;
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
std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  const double s = o_.start_factor, d = o_.end_factor - o_.start_factor;
  if (last_epoch_ == 0)
    for (double& lr : lrs) lr *= s;
  else if (last_epoch_ <= o_.total_iters)
    for (double& lr : lrs)
      lr *= 1.0 + d / (static_cast<double>(o_.total_iters) * s + static_cast<double>(last_epoch_ - 1) * d);
  return lrs;
}

// ---------------------------------------------------------------- PolynomialLR
void PolynomialLROptions::check() const {
  detail::check_option(total_iters >= 1, "PolynomialLR", "total_iters", static_cast<double>(total_iters),
                       "must be >= 1");
  detail::check_option(std::isfinite(power), "PolynomialLR", "power", power, "must be finite");
}
PolynomialLR::PolynomialLR(Optimizer& optimizer, PolynomialLROptions options)
    : ClosedFormScheduler(optimizer, "PolynomialLR", options) {
  start();
}
double PolynomialLR::lr_at(double base_lr, int64_t epoch) const {
  const double T = static_cast<double>(o_.total_iters);
  return base_lr * std::pow(1.0 - static_cast<double>(std::min(o_.total_iters, epoch)) / T, o_.power);
}
std::vector<double> PolynomialLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0 || last_epoch_ > o_.total_iters) return lrs;
  const double T = static_cast<double>(o_.total_iters), e = static_cast<double>(last_epoch_);
  const double decay = std::pow((1.0 - e / T) / (1.0 - (e - 1.0) / T), o_.power);
  for (double& lr : lrs) lr *= decay;
  return lrs;
}

// ---------------------------------------------------------------- LambdaLR, MultiplicativeLR
namespace {
std::vector<LRLambda> checked_lambdas(std::vector<LRLambda> fs, const Optimizer& opt, const char* who) {
  if (fs.size() != opt.num_param_groups())
    throw ValueError(std::string(who) + ": expected " + std::to_string(opt.num_param_groups()) +
                     " lr_lambdas (one per parameter group), got " + std::to_string(fs.size()));
  for (std::size_t g = 0; g < fs.size(); ++g)
    if (!fs[g])
      throw ValueError(std::string(who) + ": lr_lambda of group " + std::to_string(g) + " is empty");
  return fs;
}
}  // namespace

LambdaLR::LambdaLR(Optimizer& optimizer, LRLambda lr_lambda)
    : LambdaLR(optimizer, std::vector<LRLambda>(optimizer.num_param_groups(), lr_lambda)) {}
LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<LRLambda> lr_lambdas)
    : LRScheduler(optimizer, "LambdaLR"),
      lambdas_(checked_lambdas(std::move(lr_lambdas), optimizer, "LambdaLR")) {
  start();
}
std::vector<double> LambdaLR::get_lr() {
  std::vector<double> lrs;
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) lrs.push_back(base_lrs_[g] * lambdas_[g](last_epoch_));
  return lrs;
}

MultiplicativeLR::MultiplicativeLR(Optimizer& optimizer, LRLambda lr_lambda)
    : MultiplicativeLR(optimizer, std::vector<LRLambda>(optimizer.num_param_groups(), lr_lambda)) {}
MultiplicativeLR::MultiplicativeLR(Optimizer& optimizer, std::vector<LRLambda> lr_lambdas)
    : LRScheduler(optimizer, "MultiplicativeLR"),
      lambdas_(checked_lambdas(std::move(lr_lambdas), optimizer, "MultiplicativeLR")) {
  start();
}
std::vector<double> MultiplicativeLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ > 0)
    for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] *= lambdas_[g](last_epoch_);
  return lrs;
}

// ---------------------------------------------------------------- CyclicLR
void CyclicLROptions::check() const {
  const char* who = "CyclicLR";
  if (base_lr.values.empty()) throw ValueError("CyclicLR: base_lr is required");
  if (max_lr.values.empty()) throw ValueError("CyclicLR: max_lr is required");
  detail::check_option(step_size_up >= 1, who, "step_size_up", static_cast<double>(step_size_up),
                       "must be >= 1");
  if (step_size_down)
    detail::check_option(*step_size_down >= 0, who, "step_size_down", static_cast<double>(*step_size_down),
                         "must be >= 0");
  if (!scale_fn && static_cast<std::size_t>(mode) >= cyclic_modes.size())
    throw ValueError("CyclicLR: invalid mode " + std::to_string(static_cast<int>(mode)) +
                     " (triangular, triangular2 or exp_range) and no scale_fn");
  if (static_cast<std::size_t>(scale_mode) >= scale_modes.size())
    throw ValueError("CyclicLR: invalid scale_mode " + std::to_string(static_cast<int>(scale_mode)) +
                     " (cycle or iterations)");
}

CyclicLR::CyclicLR(Optimizer& optimizer, CyclicLROptions options)
    : OptionsScheduler(optimizer, "CyclicLR", std::move(options)) {
  const std::size_t n = optimizer_.num_param_groups();
  const std::vector<double> base = o_.base_lr.for_groups(n, name(), "base_lr");
  for (std::size_t g = 0; g < n; ++g) optimizer_.set_lr(base[g], g);
  if (o_.cycle_momentum && optimizer_.option_values("momentum", 0).size() != 1)
    throw ValueError("CyclicLR: cycle_momentum needs an optimizer with a momentum option; " +
                     optimizer_.name() + " has none (set cycle_momentum = false)");
  resolve();
  if (o_.cycle_momentum)
    for (std::size_t g = 0; g < n; ++g) optimizer_.set_option_values("momentum", {base_momentums_[g]}, g);
  // The initial step runs with the base lrs start() takes (the group's initial lr), which are
  // the given base lrs unless another scheduler came first; then the given ones take over.
  start();
  base_lrs_ = base;
}

void CyclicLR::resolve() {
  const std::size_t n = optimizer_.num_param_groups();
  max_lrs_ = o_.max_lr.for_groups(n, name(), "max_lr");
  if (o_.cycle_momentum) {
    base_momentums_ = o_.base_momentum.for_groups(n, name(), "base_momentum");
    max_momentums_ = o_.max_momentum.for_groups(n, name(), "max_momentum");
  }
  const double up = static_cast<double>(o_.step_size_up);
  const double down = o_.step_size_down ? static_cast<double>(*o_.step_size_down) : up;
  total_size_ = up + down;
  step_ratio_ = up / total_size_;
  scale_mode_ = o_.scale_fn                        ? o_.scale_mode
                : o_.mode == CyclicMode::exp_range ? ScaleMode::iterations
                                                   : ScaleMode::cycle;
}

double CyclicLR::scale(double x) const {
  if (o_.scale_fn) return o_.scale_fn(x);
  switch (o_.mode) {
    case CyclicMode::triangular:
      return 1.0;
    case CyclicMode::triangular2:
      return 1.0 / std::pow(2.0, x - 1.0);
    case CyclicMode::exp_range:
      return std::pow(o_.gamma, x);
  }
  return 1.0;
}

std::vector<double> CyclicLR::get_lr() {
  const double e = static_cast<double>(last_epoch_);
  const double cycle = std::floor(1.0 + e / total_size_);
  const double x = 1.0 + e / total_size_ - cycle;
  const double h = x <= step_ratio_ ? x / step_ratio_ : (x - 1.0) / (step_ratio_ - 1.0);
  const double s = scale(scale_mode_ == ScaleMode::cycle ? cycle : e);
  std::vector<double> lrs;
  for (std::size_t g = 0; g < base_lrs_.size(); ++g)
    lrs.push_back(base_lrs_[g] + (max_lrs_[g] - base_lrs_[g]) * h * s);
  if (o_.cycle_momentum)
    for (std::size_t g = 0; g < base_lrs_.size(); ++g)
      optimizer_.set_option_values("momentum",
                                   {max_momentums_[g] - (max_momentums_[g] - base_momentums_[g]) * h * s}, g);
  return lrs;
}

void CyclicLR::save_options(SchedulerState& state) const {
  OptionsScheduler::save_options(state);
  state["scheduler.scale_fn"] = o_.scale_fn ? "custom" : "none";
}
void CyclicLR::load_options(const SchedulerState& state) {
  const std::string who = loader();
  const bool custom = entry(state, "scheduler.scale_fn", who) == "custom";
  if (custom != static_cast<bool>(o_.scale_fn))
    throw ValueError(who + (custom ? ": the state was saved with a custom scale_fn; this scheduler has none"
                                   : ": the state was saved without scale_fn; this scheduler has one"));
  CyclicLROptions keep = o_;
  OptionsScheduler::load_options(state);
  try {
    resolve();
  } catch (...) {
    o_ = keep;
    resolve();
    throw;
  }
}

// ---------------------------------------------------------------- CosineAnnealingWarmRestarts
void CosineAnnealingWarmRestartsOptions::check() const {
  const char* who = "CosineAnnealingWarmRestarts";
  detail::check_option(T_0 >= 1, who, "T_0", static_cast<double>(T_0), "required; must be >= 1");
  detail::check_option(T_mult >= 1, who, "T_mult", static_cast<double>(T_mult), "must be >= 1");
  detail::check_option(eta_min >= 0.0, who, "eta_min", eta_min, "must be >= 0");
}
CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer,
                                                         CosineAnnealingWarmRestartsOptions options)
    : OptionsScheduler(optimizer, "CosineAnnealingWarmRestarts", options), T_i_(o_.T_0) {
  start();
}
std::vector<double> CosineAnnealingWarmRestarts::get_lr() {
  std::vector<double> lrs;
  const double t = std::numbers::pi * T_cur_ / static_cast<double>(T_i_);
  for (double b : base_lrs_) lrs.push_back(o_.eta_min + (b - o_.eta_min) * (1.0 + std::cos(t)) / 2.0);
  return lrs;
}
void CosineAnnealingWarmRestarts::advance(std::optional<double> epoch) {
  double T_cur = T_cur_;
  int64_t T_i = T_i_;
  if (!epoch && last_epoch_ < 0) epoch = 0.0;
  double at = 0;
  if (!epoch) {
    at = static_cast<double>(last_epoch_ + 1);
    T_cur += 1.0;
    if (T_cur >= static_cast<double>(T_i)) {
      T_cur -= static_cast<double>(T_i);
      T_i *= o_.T_mult;
    }
  } else {
    at = *epoch;
    if (!(at >= 0.0) || !std::isfinite(at))
      throw ValueError(name() + ": step(epoch) needs a finite epoch >= 0, got " + option_to_string(at));
    const double T0 = static_cast<double>(o_.T_0);
    if (at >= T0) {
      if (o_.T_mult == 1) {
        T_cur = std::fmod(at, T0);
      } else {
        // The restart n with T_0 (T_mult^n − 1) / (T_mult − 1) <= epoch.
        const double m = static_cast<double>(o_.T_mult);
        const auto n = static_cast<int64_t>(std::log(unfused_mul(at / T0, m - 1.0) + 1.0) / std::log(m));
        int64_t p = 1;
        for (int64_t k = 0; k < n; ++k) p *= o_.T_mult;
        T_cur = at - static_cast<double>(o_.T_0 * (p - 1)) / static_cast<double>(o_.T_mult - 1);
        T_i = o_.T_0 * p;
      }
    } else {
      T_i = o_.T_0;
      T_cur = at;
    }
  }
  ++step_count_;
  last_epoch_ = static_cast<int64_t>(std::floor(at));
  const double T_cur0 = T_cur_;
  const int64_t T_i0 = T_i_;
  T_cur_ = T_cur, T_i_ = T_i;
  try {
    set_lrs(get_lr());
  } catch (...) {
    T_cur_ = T_cur0, T_i_ = T_i0;
    throw;
  }
}
void CosineAnnealingWarmRestarts::save_options(SchedulerState& state) const {
  OptionsScheduler::save_options(state);
  state["scheduler.T_cur"] = option_to_string(T_cur_);
  state["scheduler.T_i"] = std::to_string(T_i_);
}
void CosineAnnealingWarmRestarts::load_options(const SchedulerState& state) {
  const std::string who = loader();
  const auto T_cur = number<double>(state, "scheduler.T_cur", who);
  const auto T_i = number<int64_t>(state, "scheduler.T_i", who);
  if (T_i < 1) throw ValueError(who + ": scheduler.T_i must be >= 1, got " + std::to_string(T_i));
  if (!(T_cur >= 0.0 && T_cur <= static_cast<double>(T_i)))
    bad_entry(who, "scheduler.T_cur", option_to_string(T_cur), "must be in [0, T_i]");
  OptionsScheduler::load_options(state);
  T_cur_ = T_cur, T_i_ = T_i;
}

// ---------------------------------------------------------------- OneCycleLR
void OneCycleLROptions::check() const {
  const char* who = "OneCycleLR";
  if (max_lr.values.empty()) throw ValueError("OneCycleLR: max_lr is required");
  if (total_steps) {
    detail::check_option(*total_steps >= 1, who, "total_steps", static_cast<double>(*total_steps),
                         "must be >= 1");
  } else {
    if (!epochs || !steps_per_epoch)
      throw ValueError("OneCycleLR: total_steps is required, or epochs and steps_per_epoch");
    detail::check_option(*epochs >= 1, who, "epochs", static_cast<double>(*epochs), "must be >= 1");
    detail::check_option(*steps_per_epoch >= 1, who, "steps_per_epoch", static_cast<double>(*steps_per_epoch),
                         "must be >= 1");
  }
  detail::check_option(pct_start >= 0.0 && pct_start <= 1.0, who, "pct_start", pct_start,
                       "must be in [0, 1]");
  if (static_cast<std::size_t>(anneal_strategy) >= anneal_strategies.size())
    throw ValueError("OneCycleLR: invalid anneal_strategy " +
                     std::to_string(static_cast<int>(anneal_strategy)) + " (cos or linear)");
  detail::check_option(div_factor > 0.0, who, "div_factor", div_factor, "must be > 0");
  detail::check_option(final_div_factor > 0.0, who, "final_div_factor", final_div_factor, "must be > 0");
}
int64_t OneCycleLROptions::steps() const {
  return total_steps ? *total_steps : *epochs * *steps_per_epoch;
}

OneCycleLR::OneCycleLR(Optimizer& optimizer, OneCycleLROptions options)
    : OptionsScheduler(optimizer, "OneCycleLR", std::move(options)) {
  if (o_.cycle_momentum && optimizer_.option_values("momentum", 0).size() != 1 &&
      optimizer_.option_values("betas", 0).size() != 2)
    throw ValueError("OneCycleLR: cycle_momentum needs an optimizer with momentum or betas; " +
                     optimizer_.name() + " has neither (set cycle_momentum = false)");
  resolve();
  const std::size_t n = optimizer_.num_param_groups();
  for (std::size_t g = 0; g < n; ++g) optimizer_.set_initial_lr(max_lrs_[g] / o_.div_factor, g);
  if (o_.cycle_momentum)
    for (std::size_t g = 0; g < n; ++g) {
      if (use_beta1_)
        optimizer_.set_option_values("betas", {max_momentums_[g], optimizer_.option_values("betas", g)[1]},
                                     g);
      else
        optimizer_.set_option_values("momentum", {max_momentums_[g]}, g);
    }
  start();
}

void OneCycleLR::resolve() {
  const std::size_t n = optimizer_.num_param_groups();
  max_lrs_ = o_.max_lr.for_groups(n, name(), "max_lr");
  min_lrs_.clear();
  for (double m : max_lrs_) min_lrs_.push_back(m / o_.div_factor / o_.final_div_factor);
  if (o_.cycle_momentum) {
    base_momentums_ = o_.base_momentum.for_groups(n, name(), "base_momentum");
    max_momentums_ = o_.max_momentum.for_groups(n, name(), "max_momentum");
    use_beta1_ = optimizer_.option_values("betas", 0).size() == 2;
  }
}

std::vector<double> OneCycleLR::get_lr() {
  const int64_t total = o_.steps();
  if (last_epoch_ > total)
    throw ValueError("OneCycleLR: tried to step " + std::to_string(last_epoch_ + 1) +
                     " times; total_steps is " + std::to_string(total));
  const double T = static_cast<double>(total), p = o_.pct_start, e = static_cast<double>(last_epoch_);
  // Each phase: its last step and which lr / momentum it goes from and to (0 initial, 1 max,
  // 2 min; momentum 0 max, 1 base).
  struct Phase {
    double end;
    int lr_from, lr_to, m_from, m_to;
  };
  std::vector<Phase> phases;
  if (o_.three_phase)
    phases = {{unfused_mul(p, T) - 1.0, 0, 1, 0, 1},
              {unfused_mul(2.0 * p, T) - 2.0, 1, 0, 1, 0},
              {T - 1.0, 0, 2, 0, 0}};
  else
    phases = {{unfused_mul(p, T) - 1.0, 0, 1, 0, 1}, {T - 1.0, 1, 2, 1, 0}};
  auto anneal = [&](double from, double to, double pct) {
    if (o_.anneal_strategy == AnnealStrategy::cos)
      return to + (from - to) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
    return (to - from) * pct + from;
  };
  std::vector<double> lrs, momenta;
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) {
    const double lr_of[3] = {base_lrs_[g], max_lrs_[g], min_lrs_[g]};
    const double m_of[2] = {o_.cycle_momentum ? max_momentums_[g] : 0.0,
                            o_.cycle_momentum ? base_momentums_[g] : 0.0};
    double start_step = 0;
    for (std::size_t i = 0; i < phases.size(); ++i) {
      const Phase& ph = phases[i];
      if (e <= ph.end || i + 1 == phases.size()) {
        if (ph.end == start_step)
          throw ValueError("OneCycleLR: phase " + std::to_string(i + 1) + " has no steps (pct_start = " +
                           option_to_string(p) + ", total_steps = " + std::to_string(total) + ")");
        const double pct = (e - start_step) / (ph.end - start_step);
        lrs.push_back(anneal(lr_of[ph.lr_from], lr_of[ph.lr_to], pct));
        momenta.push_back(anneal(m_of[ph.m_from], m_of[ph.m_to], pct));
        break;
      }
      start_step = ph.end;
    }
  }
  if (o_.cycle_momentum)
    for (std::size_t g = 0; g < momenta.size(); ++g) {
      if (use_beta1_)
        optimizer_.set_option_values("betas", {momenta[g], optimizer_.option_values("betas", g)[1]}, g);
      else
        optimizer_.set_option_values("momentum", {momenta[g]}, g);
    }
  return lrs;
}

void OneCycleLR::load_options(const SchedulerState& state) {
  OneCycleLROptions keep = o_;
  OptionsScheduler::load_options(state);
  try {
    resolve();
  } catch (...) {
    o_ = keep;
    resolve();
    throw;
  }
}

// ---------------------------------------------------------------- SequentialLR, ChainedScheduler
namespace {
void check_same_optimizer(const std::vector<std::shared_ptr<LRScheduler>>& scheds, const Optimizer& opt,
                          const char* who) {
  if (scheds.empty()) throw ValueError(std::string(who) + ": got no schedulers");
  for (std::size_t i = 0; i < scheds.size(); ++i) {
    if (!scheds[i]) throw ValueError(std::string(who) + ": scheduler " + std::to_string(i) + " is null");
    if (&scheds[i]->optimizer() != &opt)
      throw ValueError(std::string(who) + ": scheduler " + std::to_string(i) + " (" + scheds[i]->name() +
                       ") is over a different optimizer than the others");
  }
}

// A nested scheduler's state under scheduler.schedulers.<i>: its key "scheduler" becomes the
// prefix, "scheduler.x" becomes "<prefix>.x".
void put_child(SchedulerState& s, std::size_t i, const SchedulerState& child) {
  const std::string prefix = "scheduler.schedulers." + std::to_string(i);
  for (const auto& [k, v] : child) s[prefix + k.substr(std::string("scheduler").size())] = v;
}
SchedulerState get_child(const SchedulerState& s, std::size_t i) {
  const std::string prefix = "scheduler.schedulers." + std::to_string(i);
  SchedulerState child;
  for (const auto& [k, v] : s)
    if (k == prefix || k.rfind(prefix + ".", 0) == 0) child["scheduler" + k.substr(prefix.size())] = v;
  return child;
}
void check_children(const SchedulerState& state, const std::vector<std::shared_ptr<LRScheduler>>& scheds,
                    const std::string& who) {
  const auto n = number<int64_t>(state, "scheduler.schedulers", who);
  if (n != static_cast<int64_t>(scheds.size()))
    throw ValueError(who + ": the state has " + std::to_string(n) + " schedulers, this one " +
                     std::to_string(scheds.size()));
  for (std::size_t i = 0; i < scheds.size(); ++i) {
    const SchedulerState child = get_child(state, i);
    const std::string& kind = entry(child, "scheduler", who + ": scheduler " + std::to_string(i));
    if (kind != scheds[i]->name())
      throw ValueError(who + ": scheduler " + std::to_string(i) + " of the state is a " + kind + ", not " +
                       scheds[i]->name());
  }
}
}  // namespace

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(optimizer, "SequentialLR"),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  check_same_optimizer(schedulers_, optimizer_, "SequentialLR");
  if (milestones_.size() + 1 != schedulers_.size())
    throw ValueError("SequentialLR: expected " + std::to_string(schedulers_.size() - 1) +
                     " milestones (one fewer than schedulers), got " + std::to_string(milestones_.size()));
  if (!std::is_sorted(milestones_.begin(), milestones_.end()))
    throw ValueError("SequentialLR: milestones must be sorted, got " + option_to_string(milestones_));
  base_lrs_ = schedulers_[0]->base_lrs();
  last_epoch_ = 0;
  for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g)
    optimizer_.set_lr(optimizer_.initial_lr(g).value_or(optimizer_.lr(g)), g);
  for (auto& s : schedulers_) --s->last_epoch_;  // undo the initial steps
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::advance(std::optional<double> epoch) {
  if (epoch) throw ValueError("SequentialLR: step(epoch) is not supported; call step()");
  ++last_epoch_;
  const auto idx = static_cast<std::size_t>(
      std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin());
  LRScheduler& s = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_)
    s.step(0.0);
  else
    s.step();
  last_lr_ = s.get_last_lr();
}

SchedulerState SequentialLR::state_dict() const {
  SchedulerState s;
  s["scheduler"] = name();
  s["scheduler.last_epoch"] = std::to_string(last_epoch_);
  s["scheduler.milestones"] = option_to_string(milestones_);
  s["scheduler.last_lr"] = list_to_string(last_lr_);
  s["scheduler.schedulers"] = std::to_string(schedulers_.size());
  for (std::size_t i = 0; i < schedulers_.size(); ++i) put_child(s, i, schedulers_[i]->state_dict());
  return s;
}

void SequentialLR::load_state_dict(const SchedulerState& state) {
  const std::string who = loader();
  check_kind(state, name());
  const auto epoch = number<int64_t>(state, "scheduler.last_epoch", who);
  const auto milestones = number<std::vector<int64_t>>(state, "scheduler.milestones", who);
  std::vector<double> last = doubles(state, "scheduler.last_lr", who);
  if (milestones.size() + 1 != schedulers_.size() || !std::is_sorted(milestones.begin(), milestones.end()))
    throw ValueError(who + ": the state's milestones (" + option_to_string(milestones) + ") do not fit " +
                     std::to_string(schedulers_.size()) + " schedulers");
  check_children(state, schedulers_, who);
  load_all(schedulers_, optimizer_, [&](std::size_t i) { return get_child(state, i); });
  last_epoch_ = epoch;
  milestones_ = milestones;
  last_lr_ = std::move(last);
  base_lrs_ = schedulers_[0]->base_lrs();
}

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers)
    : LRScheduler(schedulers.empty() || !schedulers[0]
                      ? throw ValueError("ChainedScheduler: got no schedulers")
                      : schedulers[0]->optimizer(),
                  "ChainedScheduler"),
      schedulers_(std::move(schedulers)) {
  check_same_optimizer(schedulers_, optimizer_, "ChainedScheduler");
  base_lrs_ = schedulers_[0]->base_lrs();
  last_epoch_ = 0;
  last_lr_ = current_lrs();
}

void ChainedScheduler::advance(std::optional<double> epoch) {
  if (epoch) throw ValueError("ChainedScheduler: step(epoch) is not supported; call step()");
  for (auto& s : schedulers_) s->step();
  ++last_epoch_;
  last_lr_ = current_lrs();
}

SchedulerState ChainedScheduler::state_dict() const {
  SchedulerState s;
  s["scheduler"] = name();
  s["scheduler.last_epoch"] = std::to_string(last_epoch_);
  s["scheduler.last_lr"] = list_to_string(last_lr_);
  s["scheduler.schedulers"] = std::to_string(schedulers_.size());
  for (std::size_t i = 0; i < schedulers_.size(); ++i) put_child(s, i, schedulers_[i]->state_dict());
  return s;
}

void ChainedScheduler::load_state_dict(const SchedulerState& state) {
  const std::string who = loader();
  check_kind(state, name());
  const auto epoch = number<int64_t>(state, "scheduler.last_epoch", who);
  std::vector<double> last = doubles(state, "scheduler.last_lr", who);
  check_children(state, schedulers_, who);
  load_all(schedulers_, optimizer_, [&](std::size_t i) { return get_child(state, i); });
  last_epoch_ = epoch;
  last_lr_ = std::move(last);
  base_lrs_ = schedulers_[0]->base_lrs();
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
    : optimizer_(optimizer), o_(options), last_lr_(lrs_of(optimizer)) {
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
  last_lr_ = lrs_of(optimizer_);
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
  if (epoch < 0) bad_entry(who, "scheduler.last_epoch", std::to_string(epoch), "must be >= 0");
  if (std::isnan(best)) bad_entry(who, "scheduler.best", "nan", "must be a number");
  if (bad < 0) bad_entry(who, "scheduler.num_bad_epochs", std::to_string(bad), "must be >= 0");
  if (cooldown < 0) bad_entry(who, "scheduler.cooldown_counter", std::to_string(cooldown), "must be >= 0");
  if (last.size() != optimizer_.num_param_groups())
    throw ValueError(who + ": the state is for " + std::to_string(last.size()) +
                     " parameter groups, the optimizer has " + std::to_string(optimizer_.num_param_groups()));
  check_lrs(last, "scheduler.last_lr", who);
  detail::load_scheduler_options(o_, state, who);
  last_epoch_ = epoch, best_ = best, num_bad_epochs_ = bad, cooldown_counter_ = cooldown;
  last_lr_ = std::move(last);
}

}  // namespace xg::optim
