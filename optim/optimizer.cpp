#include "xgrad/optim/optimizer.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <system_error>

namespace xg::optim {

// ---------------------------------------------------------------- Optimizer
Tensor Optimizer::step(const Closure& closure) {
  Tensor loss;
  if (closure) {
    AutoGradMode on(true);
    loss = closure();
  }
  step();
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (std::size_t g = 0; g < num_param_groups(); ++g)
    for (const Tensor& p : group_params(g)) {
      Tensor q = p;
      q.zero_grad(set_to_none);
    }
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> out;
  for (std::size_t g = 0; g < num_param_groups(); ++g)
    for (const Tensor& p : group_params(g)) out.push_back(p);
  return out;
}

void Optimizer::set_lr(double lr) {
  for (std::size_t g = 0; g < num_param_groups(); ++g) set_lr(lr, g);
}

std::vector<double> Optimizer::option_values(std::string_view, std::size_t) const {
  return {};
}
void Optimizer::set_option_values(std::string_view option, const std::vector<double>&, std::size_t) {
  throw ValueError(name_ + ": no numeric option '" + std::string(option) + "'");
}

std::optional<double> Optimizer::initial_lr(std::size_t group) const {
  return group < initial_lrs_.size() ? initial_lrs_[group] : std::nullopt;
}
void Optimizer::set_initial_lr(double lr, std::size_t group) {
  if (initial_lrs_.size() <= group) initial_lrs_.resize(group + 1);
  initial_lrs_[group] = lr;
}

void Optimizer::save(const std::string& path) const {
  const StateDict sd = state_dict();
  save_tensors(path, sd.tensors, sd.metadata);
}

void Optimizer::load(const std::string& path) {
  TensorFile f = load_tensors(path);
  try {
    load_state_dict({std::move(f.tensors), std::move(f.metadata)});
  } catch (const ValueError& e) {
    throw ValueError("loading '" + path + "': " + e.what());
  } catch (const ShapeError& e) {
    throw ShapeError("loading '" + path + "': " + e.what());
  } catch (const TypeError& e) {
    throw TypeError("loading '" + path + "': " + e.what());
  }
}

// ---------------------------------------------------------------- option text
std::string option_to_string(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
  return std::string(buf, r.ptr);
}
std::string option_to_string(bool v) {
  return v ? "true" : "false";
}
std::string option_to_string(int64_t v) {
  return std::to_string(v);
}
std::string option_to_string(const std::array<double, 2>& v) {
  return option_to_string(v[0]) + "," + option_to_string(v[1]);
}
std::string option_to_string(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : "none";
}

namespace {
[[noreturn]] void bad_value(const std::string& s, const std::string& what, const char* expected) {
  throw ValueError(what + ": cannot read '" + s + "' as " + expected);
}
}  // namespace

void option_from_string(const std::string& s, double& v, const std::string& what) {
  double x = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), x);
  if (s == "inf")
    x = INFINITY;
  else if (s == "-inf")
    x = -INFINITY;
  else if (s == "nan")
    x = NAN;
  else if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    bad_value(s, what, "a number");
  v = x;
}
void option_from_string(const std::string& s, bool& v, const std::string& what) {
  if (s == "true")
    v = true;
  else if (s == "false")
    v = false;
  else
    bad_value(s, what, "true or false");
}
void option_from_string(const std::string& s, int64_t& v, const std::string& what) {
  int64_t x = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), x);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) bad_value(s, what, "an integer");
  v = x;
}
void option_from_string(const std::string& s, std::array<double, 2>& v, const std::string& what) {
  const auto comma = s.find(',');
  if (comma == std::string::npos) bad_value(s, what, "two numbers separated by a comma");
  std::array<double, 2> x{};
  option_from_string(s.substr(0, comma), x[0], what);
  option_from_string(s.substr(comma + 1), x[1], what);
  v = x;
}
void option_from_string(const std::string& s, std::optional<int64_t>& v, const std::string& what) {
  if (s == "none") {
    v.reset();
    return;
  }
  int64_t x = 0;
  option_from_string(s, x, what);
  v = x;
}

// ---------------------------------------------------------------- detail
namespace detail {

namespace {
std::string param_label(const Tensor& p) {
  return p.name().empty() ? "" : " '" + p.name() + "'";
}
}  // namespace

Tensor checked_grad(const std::string& optimizer, const Tensor& p) {
  Tensor g = p.grad();
  if (!g.defined()) return g;
  if (g.dtype() != p.dtype())
    throw TypeError(optimizer + ": the gradient of parameter" + param_label(p) + " is " +
                    dtype_name(g.dtype()) + " but the parameter is " + dtype_name(p.dtype()));
  if (!(g.shape() == p.shape()))
    throw ShapeError(optimizer + ": the gradient of parameter" + param_label(p) + " has shape " +
                     g.shape().str() + ", the parameter " + p.shape().str());
  return g;
}

void ensure_buffer(Tensor& buffer, const Tensor& p, double fill) {
  if (!buffer.defined()) {
    buffer = full(p.shape(), fill, {.dtype = p.dtype()});
  } else if (buffer.dtype() != p.dtype()) {
    NoGradGuard no_grad;
    buffer = buffer.to(p.dtype());
  }
}

void check_option(bool ok, const std::string& optimizer, const std::string& option, double value,
                  const char* rule) {
  if (!ok)
    throw ValueError(optimizer + ": invalid " + option + " = " + option_to_string(value) + " (" + rule + ")");
}

void OptionCheck::at_least_zero(const char* option, double v) const {
  check_option(v >= 0.0, optimizer, option, v, "must be >= 0");
}
void OptionCheck::unit_interval(const char* option, double v, bool closed) const {
  check_option(v >= 0.0 && (closed ? v <= 1.0 : v < 1.0), optimizer, option, v,
               closed ? "must be in [0, 1]" : "must be in [0, 1)");
}
void OptionCheck::betas(const std::array<double, 2>& b) const {
  unit_interval("betas[0]", b[0]);
  unit_interval("betas[1]", b[1]);
}
void OptionCheck::number(const char* option, double v) const {
  check_option(!std::isnan(v), optimizer, option, v, "must be a number");
}

void check_new_params(const std::string& optimizer, const std::vector<Tensor>& params,
                      std::unordered_set<const TensorImpl*>& seen) {
  if (params.empty()) throw ValueError(optimizer + ": got an empty parameter list");
  std::unordered_set<const TensorImpl*> mine;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    const std::string which = "parameter " + std::to_string(i) + param_label(p);
    if (!p.defined()) throw ValueError(optimizer + ": " + which + " is undefined");
    if (!p.is_floating_point())
      throw TypeError(optimizer + ": " + which + " is " + dtype_name(p.dtype()) +
                      "; only float tensors can be optimized");
    if (!p.is_leaf())
      throw ValueError(optimizer + ": " + which +
                       " is not a leaf (it was produced by an op); only leaves can be optimized");
    if (seen.count(p.get()) || !mine.insert(p.get()).second)
      throw ValueError(optimizer + ": " + which + " appears more than once in the parameter groups");
  }
  seen.insert(mine.begin(), mine.end());
}

void put_state(StateDict& sd, const std::string& key, const Tensor& t) {
  if (!t.defined()) return;
  NoGradGuard no_grad;
  sd.tensors.emplace_back(key, t.clone());
}
void put_state(StateDict& sd, const std::string& key, int64_t v) {
  sd.tensors.emplace_back(key, from_vector(std::vector<int64_t>{v}, Shape{}));
}
void put_state(StateDict& sd, const std::string& key, double v) {
  sd.tensors.emplace_back(key, from_vector(std::vector<double>{v}, Shape{}));
}

namespace {
[[noreturn]] void poisoned(const std::string& who, const std::string& key, const std::string& what) {
  throw ValueError(who + ": '" + key + "' " + what);
}
// The first element that is not finite (or, with nonnegative, below 0); -1 when there is none.
int64_t first_bad(const Tensor& t, bool nonnegative) {
  const Tensor c = t.to(Dtype::float64).contiguous();
  const double* x = c.data<double>();
  for (int64_t i = 0; i < c.numel(); ++i)
    if (!std::isfinite(x[i]) || (nonnegative && x[i] < 0.0)) return i;
  return -1;
}
std::string element_text(const Tensor& t, int64_t i) {
  NoGradGuard no_grad;
  return option_to_string(t.to(Dtype::float64).contiguous().data<double>()[i]);
}
}  // namespace

bool get_state(const TensorLookup& in, const std::string& key, const Tensor& p, Tensor& out,
               const std::string& who) {
  auto it = in.find(key);
  if (it == in.end()) return false;
  const Tensor& t = *it->second;
  if (!(t.shape() == p.shape()))
    throw ShapeError(who + ": '" + key + "' has shape " + t.shape().str() + " in the state, the parameter " +
                     p.shape().str());
  if (!t.is_floating_point())
    throw TypeError(who + ": '" + key + "' is " + dtype_name(t.dtype()) + ", expected a float tensor");
  NoGradGuard no_grad;
  if (const int64_t i = first_bad(t, false); i >= 0)
    poisoned(who, key,
             "holds " + element_text(t, i) + " at element " + std::to_string(i) + " (state must be finite)");
  out = t.to(p.dtype()).clone().detach();
  // Finite in float64 may overflow to inf in float32.
  if (const int64_t i = first_bad(out, false); i >= 0)
    poisoned(who, key,
             "holds " + element_text(t, i) + " at element " + std::to_string(i) + ", beyond " +
                 dtype_name(p.dtype()));
  return true;
}
bool get_state(const TensorLookup& in, const std::string& key, const Tensor&, int64_t& out,
               const std::string& who) {
  auto it = in.find(key);
  if (it == in.end()) return false;
  const Tensor& t = *it->second;
  if (t.numel() != 1) throw ShapeError(who + ": '" + key + "' should hold one number");
  if (t.dtype() == Dtype::int64) {
    out = t.item<int64_t>();
  } else {
    // A count written as a float (PyTorch keeps step as a float tensor): only whole values that
    // doubles hold exactly.
    const double v = t.item();
    if (!(std::abs(v) <= 9007199254740992.0) || v != std::floor(v))
      poisoned(who, key, "is " + option_to_string(v) + ", not a whole number");
    out = static_cast<int64_t>(v);
  }
  if (out < 0) poisoned(who, key, "is " + std::to_string(out) + " (a count must be >= 0)");
  return true;
}
bool get_state(const TensorLookup& in, const std::string& key, const Tensor&, double& out,
               const std::string& who) {
  auto it = in.find(key);
  if (it == in.end()) return false;
  if (it->second->numel() != 1) throw ShapeError(who + ": '" + key + "' should hold one number");
  const double v = it->second->item();
  if (!std::isfinite(v)) poisoned(who, key, "is " + option_to_string(v) + " (state must be finite)");
  out = v;
  return true;
}

void StateCheck::at_least_zero(const char* field, const Tensor& t) const {
  if (!t.defined()) return;
  NoGradGuard no_grad;
  if (const int64_t i = first_bad(t, true); i >= 0)
    poisoned(who, prefix + field,
             "holds " + element_text(t, i) + " at element " + std::to_string(i) + " (must be >= 0)");
}
void StateCheck::at_least_square_of(const char* sq_field, const Tensor& sq, const char* avg_field,
                                    const Tensor& avg) const {
  if (!sq.defined() || !avg.defined() || !(sq.shape() == avg.shape())) return;
  NoGradGuard no_grad;
  const Tensor s = sq.to(Dtype::float64).contiguous(), a = avg.to(Dtype::float64).contiguous();
  const double* sv = s.data<double>();
  const double* av = a.data<double>();
  // E[g^2] >= E[g]^2 holds exactly for the running averages; rounding in the optimizer's dtype
  // may cross it by a few ulps, which a resumed run must accept.
  const double slack = 8.0 * (sq.dtype() == Dtype::float32 ? 0x1p-23 : 0x1p-52);
  for (int64_t i = 0; i < s.numel(); ++i) {
    const double a2 = av[i] * av[i];
    if (sv[i] < a2 - slack * a2)
      poisoned(who, prefix + sq_field,
               "holds " + option_to_string(sv[i]) + " at element " + std::to_string(i) +
                   ", less than the square of " + prefix + avg_field + " (" + option_to_string(av[i]) +
                   "): a negative variance");
  }
}
void StateCheck::in_range(const char* field, double v, double lo, double hi) const {
  if (!(v >= lo && v <= hi))
    poisoned(who, prefix + field,
             "is " + option_to_string(v) + " (must be in [" + option_to_string(lo) + ", " +
                 option_to_string(hi) + "])");
}

const std::string& get_meta(const StateDict& sd, const std::string& key, const std::string& who) {
  auto it = sd.metadata.find(key);
  if (it == sd.metadata.end()) throw ValueError(who + ": the state has no entry '" + key + "'");
  return it->second;
}

TensorLookup begin_load(const StateDict& sd, const std::string& optimizer) {
  const std::string who = optimizer + ".load_state_dict";
  if (get_meta(sd, "format", who) != "xgrad-optimizer")
    throw ValueError(who + ": not an optimizer state (format '" + sd.metadata.at("format") + "')");
  const std::string& of = get_meta(sd, "optimizer", who);
  if (of != optimizer) throw ValueError(who + ": the state is of a " + of + " optimizer, not " + optimizer);
  TensorLookup lookup;
  for (const auto& [n, t] : sd.tensors)
    if (!lookup.emplace(n, &t).second) throw ValueError(who + ": the state has two entries '" + n + "'");
  return lookup;
}

void check_state_names(const StateDict& sd, std::size_t count,
                       const std::function<bool(const std::string&)>& known,
                       const std::function<bool(const std::string&)>& extra, const std::string& who) {
  for (const auto& [n, t] : sd.tensors) {
    if (extra(n)) continue;
    if (n.rfind("state.", 0) != 0) throw ValueError(who + ": the state has an unexpected entry '" + n + "'");
    std::size_t k = 0;
    const char* end = n.data() + n.size();
    auto r = std::from_chars(n.data() + 6, end, k);
    if (r.ec != std::errc() || r.ptr == end || *r.ptr != '.' || r.ptr == n.data() + 6 ||
        (n[6] == '0' && r.ptr != n.data() + 7))
      throw ValueError(who + ": the state entry '" + n + "' is not state.<index>.<field>");
    if (k >= count)
      throw ValueError(who + ": the state entry '" + n + "' names no parameter (the optimizer has " +
                       std::to_string(count) + ")");
    if (!known(std::string(r.ptr + 1, end)))
      throw ValueError(who + ": the state entry '" + n + "' is not a field of " +
                       who.substr(0, who.find('.')) + "'s state");
  }
}

}  // namespace detail
}  // namespace xg::optim
