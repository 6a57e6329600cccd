#include "xgrad/optim/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace xg::optim {

std::string option_to_string(LineSearch v) {
  return v == LineSearch::strong_wolfe ? "strong_wolfe" : "none";
}
void option_from_string(const std::string& s, LineSearch& v, const std::string& what) {
  if (s == "none")
    v = LineSearch::none;
  else if (s == "strong_wolfe")
    v = LineSearch::strong_wolfe;
  else
    throw ValueError(what + ": cannot read '" + s + "' as a line search (none or strong_wolfe)");
}

template <>
void LBFGSOptions::check() const {
  detail::check_option(lr >= 0.0, "LBFGS", "lr", lr, "must be >= 0");
  detail::check_option(max_iter >= 1, "LBFGS", "max_iter", static_cast<double>(max_iter), "must be >= 1");
  if (max_eval)
    detail::check_option(*max_eval >= 1, "LBFGS", "max_eval", static_cast<double>(*max_eval), "must be >= 1");
  detail::check_option(tolerance_grad >= 0.0, "LBFGS", "tolerance_grad", tolerance_grad, "must be >= 0");
  detail::check_option(tolerance_change >= 0.0, "LBFGS", "tolerance_change", tolerance_change,
                       "must be >= 0");
  detail::check_option(history_size >= 1, "LBFGS", "history_size", static_cast<double>(history_size),
                       "must be >= 1");
}

LBFGS::LBFGS(std::vector<Tensor> params, LBFGSOptions options)
    : TypedOptimizer("LBFGS", {{std::move(params)}}, options) {
  for (const Tensor& p : groups_[0].params) numel_ += p.numel();
}

void LBFGS::add_param_group(std::vector<Tensor>, const LBFGSOptions::Group&) {
  throw ValueError(
      "LBFGS: does not support parameter groups (add_param_group); put every parameter in one group");
}

void LBFGS::step() {
  throw ValueError(
      "LBFGS: step() needs a closure that re-evaluates the loss: step([&] { ...; return loss; })");
}

// ---------------------------------------------------------------- flat vectors
namespace {
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
double max_abs(const std::vector<double>& a) {
  double m = 0.0;
  for (double x : a) {
    const double v = std::abs(x);
    if (v > m || std::isnan(v)) m = v;
    if (std::isnan(m)) break;
  }
  return m;
}
double sum_abs(const std::vector<double>& a) {
  double s = 0.0;
  for (double x : a) s += std::abs(x);
  return s;
}
// a += alpha * b
void axpy(std::vector<double>& a, double alpha, const std::vector<double>& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] += alpha * b[i];
}
}  // namespace

std::vector<double> LBFGS::gather_flat_grad() const {
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(numel_));
  for (const Tensor& p : groups_[0].params) {
    const Tensor g = detail::checked_grad(name(), p);
    if (!g.defined()) {
      out.insert(out.end(), static_cast<std::size_t>(p.numel()), 0.0);
      continue;
    }
    detail::visit_float(g, name(), [&]<class T>() {
      const T* v = g.data<T>();
      for (int64_t i = 0, n = g.numel(); i < n; ++i) out.push_back(static_cast<double>(v[i]));
    });
  }
  return out;
}

void LBFGS::add_grad(double t, const std::vector<double>& d) {
  std::size_t k = 0;
  for (const Tensor& p : groups_[0].params) {
    Tensor q = p;
    detail::visit_float(p, name(), [&]<class T>() {
      T* v = q.data<T>();
      for (int64_t i = 0, n = q.numel(); i < n; ++i)
        v[i] = static_cast<T>(static_cast<double>(v[i]) + t * d[k++]);
    });
    detail::bump_version(p);
  }
}

std::vector<double> LBFGS::clone_param() const {
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(numel_));
  for (const Tensor& p : groups_[0].params)
    detail::visit_float(p, name(), [&]<class T>() {
      const T* v = p.data<T>();
      for (int64_t i = 0, n = p.numel(); i < n; ++i) out.push_back(static_cast<double>(v[i]));
    });
  return out;
}

void LBFGS::set_param(const std::vector<double>& x) {
  std::size_t k = 0;
  for (const Tensor& p : groups_[0].params) {
    Tensor q = p;
    detail::visit_float(p, name(), [&]<class T>() {
      T* v = q.data<T>();
      for (int64_t i = 0, n = q.numel(); i < n; ++i) v[i] = static_cast<T>(x[k++]);
    });
    detail::bump_version(p);
  }
}

double LBFGS::evaluate(const Closure& closure, Tensor* keep) {
  Tensor loss;
  {
    AutoGradMode on(true);
    loss = closure();
  }
  if (!loss.defined() || loss.numel() != 1)
    throw ValueError("LBFGS: the closure must return the loss as a one-element tensor");
  if (keep) *keep = loss;
  return loss.item();
}

// ---------------------------------------------------------------- line search
namespace {

// Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, limited to the bounds
// (default: between the two points); their midpoint when the cubic has no real minimiser.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds = std::nullopt) {
  double lo, hi;
  if (bounds)
    std::tie(lo, hi) = *bounds;
  else if (x1 <= x2)
    lo = x1, hi = x2;
  else
    lo = x2, hi = x1;
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0) {
    const double d2 = std::sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return std::min(std::max(min_pos, lo), hi);
  }
  return (lo + hi) / 2.0;
}

struct LineSearchResult {
  double f;
  std::vector<double> g;
  double t;
  int64_t evals;
};

// Strong-Wolfe line search along d from f, g (gtd = gᵀd): brackets a step satisfying the
// conditions, then zooms in on it by cubic interpolation. obj(t) = (loss, gradient) at x + t d.
template <class Obj>
LineSearchResult strong_wolfe(Obj obj, double t, const std::vector<double>& d, double f,
                              const std::vector<double>& g, double gtd, double tolerance_change,
                              double c1 = 1e-4, double c2 = 0.9, int max_ls = 25) {
  const double d_norm = max_abs(d);
  auto [f_new, g_new] = obj(t);
  int64_t evals = 1;
  double gtd_new = dot(g_new, d);

  double t_prev = 0, f_prev = f, gtd_prev = gtd;
  std::vector<double> g_prev = g;
  bool done = false;
  int ls_iter = 0;
  std::vector<double> bracket, bracket_f, bracket_gtd;
  std::vector<std::vector<double>> bracket_g;
  while (ls_iter < max_ls) {
    if (f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev)) {  // too far: bracketed
      bracket = {t_prev, t}, bracket_f = {f_prev, f_new}, bracket_g = {g_prev, g_new},
      bracket_gtd = {gtd_prev, gtd_new};
      break;
    }
    if (std::abs(gtd_new) <= -c2 * gtd) {  // both conditions hold
      bracket = {t}, bracket_f = {f_new}, bracket_g = {g_new};
      done = true;
      break;
    }
    if (gtd_new >= 0) {  // past a minimum: bracketed
      bracket = {t_prev, t}, bracket_f = {f_prev, f_new}, bracket_g = {g_prev, g_new},
      bracket_gtd = {gtd_prev, gtd_new};
      break;
    }
    // extrapolate
    const double min_step = t + 0.01 * (t - t_prev), max_step = t * 10;
    const double tmp = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, std::make_pair(min_step, max_step));
    t_prev = tmp;
    f_prev = f_new;
    g_prev = g_new;
    gtd_prev = gtd_new;
    std::tie(f_new, g_new) = obj(t);
    ++evals;
    gtd_new = dot(g_new, d);
    ++ls_iter;
  }
  if (ls_iter == max_ls) {
    bracket = {0, t}, bracket_f = {f, f_new}, bracket_g = {g, g_new};
  }

  // zoom: shrink the bracket until a point satisfies the conditions
  bool insuf_progress = false;
  std::size_t low = 0, high = 1;
  if (bracket.size() == 2 && !(bracket_f[0] <= bracket_f[1])) low = 1, high = 0;
  while (!done && ls_iter < max_ls) {
    if (std::abs(bracket[1] - bracket[0]) * d_norm < tolerance_change) break;
    t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]);
    // Too close to an end of the bracket: unless the last step also was, move it 10% inside.
    const double bmax = std::max(bracket[0], bracket[1]), bmin = std::min(bracket[0], bracket[1]);
    const double eps = 0.1 * (bmax - bmin);
    if (std::min(bmax - t, t - bmin) < eps) {
      if (insuf_progress || t >= bmax || t <= bmin) {
        t = std::abs(t - bmax) < std::abs(t - bmin) ? bmax - eps : bmin + eps;
        insuf_progress = false;
      } else {
        insuf_progress = true;
      }
    } else {
      insuf_progress = false;
    }
    std::tie(f_new, g_new) = obj(t);
    ++evals;
    gtd_new = dot(g_new, d);
    ++ls_iter;
    if (f_new > f + c1 * t * gtd || f_new >= bracket_f[low]) {
      // Armijo condition fails, or no lower than the lowest point: the new point is the high end
      bracket[high] = t, bracket_f[high] = f_new, bracket_g[high] = g_new, bracket_gtd[high] = gtd_new;
      if (bracket_f[0] <= bracket_f[1])
        low = 0, high = 1;
      else
        low = 1, high = 0;
    } else {
      if (std::abs(gtd_new) <= -c2 * gtd) {
        done = true;
      } else if (gtd_new * (bracket[high] - bracket[low]) >= 0) {
        // the old low end becomes the high end
        bracket[high] = bracket[low], bracket_f[high] = bracket_f[low];
        bracket_g[high] = bracket_g[low], bracket_gtd[high] = bracket_gtd[low];
      }
      bracket[low] = t, bracket_f[low] = f_new, bracket_g[low] = g_new, bracket_gtd[low] = gtd_new;
    }
  }
  return {bracket_f[low], bracket_g[low], bracket[low], evals};
}

}  // namespace

// ---------------------------------------------------------------- step
Tensor LBFGS::step(const Closure& closure) {
  if (!closure) step();  // throws
  NoGradGuard no_grad;
  const LBFGSOptions& o = groups_[0].options;
  const int64_t max_eval = o.max_evals();
  History& h = h_;

  Tensor orig_loss;
  double loss = evaluate(closure, &orig_loss);
  int64_t current_evals = 1;
  ++h.func_evals;
  std::vector<double> flat_grad = gather_flat_grad();
  bool opt_cond = max_abs(flat_grad) <= o.tolerance_grad;
  if (opt_cond) return orig_loss;

  int64_t n_iter = 0;
  while (n_iter < o.max_iter) {
    ++n_iter;
    ++h.n_iter;

    // ---- direction
    if (h.n_iter == 1) {
      h.d = flat_grad;
      for (double& x : h.d) x = -x;
      h.old_dirs.clear(), h.old_stps.clear(), h.ro.clear();
      h.H_diag = 1.0;
    } else {
      std::vector<double> y = flat_grad, s = h.d;
      axpy(y, -1.0, h.prev_flat_grad);
      for (double& x : s) x *= h.t;
      const double ys = dot(y, s);
      if (ys > 1e-10) {
        if (static_cast<int64_t>(h.old_dirs.size()) == o.history_size) {
          h.old_dirs.pop_front(), h.old_stps.pop_front(), h.ro.pop_front();
        }
        h.H_diag = ys / dot(y, y);
        h.old_dirs.push_back(std::move(y)), h.old_stps.push_back(std::move(s)), h.ro.push_back(1.0 / ys);
      }
      // two-loop recursion: d = -H g
      const std::size_t num_old = h.old_dirs.size();
      std::vector<double> al(num_old);
      std::vector<double> q = flat_grad;
      for (double& x : q) x = -x;
      for (std::size_t i = num_old; i-- > 0;) {
        al[i] = dot(h.old_stps[i], q) * h.ro[i];
        axpy(q, -al[i], h.old_dirs[i]);
      }
      for (double& x : q) x *= h.H_diag;
      for (std::size_t i = 0; i < num_old; ++i) {
        const double be_i = dot(h.old_dirs[i], q) * h.ro[i];
        axpy(q, al[i] - be_i, h.old_stps[i]);
      }
      h.d = std::move(q);
    }
    h.prev_flat_grad = flat_grad;
    h.prev_loss = loss;

    // ---- step length
    h.t = h.n_iter == 1 ? std::min(1.0, 1.0 / sum_abs(flat_grad)) * o.lr : o.lr;
    const double gtd = dot(flat_grad, h.d);
    if (gtd > -o.tolerance_change) break;  // not a descent direction any more

    int64_t ls_func_evals = 0;
    if (o.line_search_fn == LineSearch::strong_wolfe) {
      const std::vector<double> x_init = clone_param();
      auto obj = [&](double t) {
        add_grad(t, h.d);
        const double f = evaluate(closure);
        std::vector<double> g = gather_flat_grad();
        set_param(x_init);
        return std::make_pair(f, std::move(g));
      };
      LineSearchResult r = strong_wolfe(obj, h.t, h.d, loss, flat_grad, gtd, o.tolerance_change);
      loss = r.f, flat_grad = std::move(r.g), h.t = r.t, ls_func_evals = r.evals;
      add_grad(h.t, h.d);
      opt_cond = max_abs(flat_grad) <= o.tolerance_grad;
    } else {
      add_grad(h.t, h.d);
      if (n_iter != o.max_iter) {  // the last iteration's loss is not needed: save a closure call
        loss = evaluate(closure);
        flat_grad = gather_flat_grad();
        opt_cond = max_abs(flat_grad) <= o.tolerance_grad;
        ls_func_evals = 1;
      }
    }
    current_evals += ls_func_evals;
    h.func_evals += ls_func_evals;

    // ---- stopping conditions
    if (n_iter == o.max_iter) break;
    if (current_evals >= max_eval) break;
    if (opt_cond) break;
    double step_max = 0.0;
    for (double x : h.d) step_max = std::max(step_max, std::abs(x * h.t));
    if (step_max <= o.tolerance_change) break;
    if (std::abs(loss - h.prev_loss) < o.tolerance_change) break;
  }
  return orig_loss;
}

// ---------------------------------------------------------------- state
void LBFGS::save_extra(StateDict& sd) const {
  sd.metadata["lbfgs.func_evals"] = option_to_string(h_.func_evals);
  sd.metadata["lbfgs.n_iter"] = option_to_string(h_.n_iter);
  sd.metadata["lbfgs.t"] = option_to_string(h_.t);
  sd.metadata["lbfgs.H_diag"] = option_to_string(h_.H_diag);
  sd.metadata["lbfgs.prev_loss"] = option_to_string(h_.prev_loss);
  sd.metadata["lbfgs.history"] = std::to_string(h_.old_dirs.size());
  const int64_t n = static_cast<int64_t>(numel_);
  if (!h_.d.empty()) sd.tensors.emplace_back("lbfgs.d", from_vector(h_.d, {n}));
  if (!h_.prev_flat_grad.empty())
    sd.tensors.emplace_back("lbfgs.prev_flat_grad", from_vector(h_.prev_flat_grad, {n}));
  if (!h_.old_dirs.empty()) {
    const int64_t m = static_cast<int64_t>(h_.old_dirs.size());
    std::vector<double> dirs, stps;
    for (std::size_t i = 0; i < h_.old_dirs.size(); ++i) {
      dirs.insert(dirs.end(), h_.old_dirs[i].begin(), h_.old_dirs[i].end());
      stps.insert(stps.end(), h_.old_stps[i].begin(), h_.old_stps[i].end());
    }
    sd.tensors.emplace_back("lbfgs.old_dirs", from_vector(dirs, {m, n}));
    sd.tensors.emplace_back("lbfgs.old_stps", from_vector(stps, {m, n}));
    sd.tensors.emplace_back("lbfgs.ro", from_vector(std::vector<double>(h_.ro.begin(), h_.ro.end()), {m}));
  }
}

bool LBFGS::extra_entry(const std::string& name) const {
  return name == "lbfgs.d" || name == "lbfgs.prev_flat_grad" || name == "lbfgs.old_dirs" ||
         name == "lbfgs.old_stps" || name == "lbfgs.ro";
}

void LBFGS::load_extra(const StateDict& sd, const detail::TensorLookup& lookup) {
  const std::string who = name() + ".load_state_dict";
  History h;
  auto meta = [&](const char* key, auto& v) {
    option_from_string(detail::get_meta(sd, key, who), v, who + ": " + key);
  };
  auto bad = [&](const char* key, const std::string& value, const char* rule) {
    throw ValueError(who + ": '" + std::string(key) + "' is " + value + " (" + rule + ")");
  };
  meta("lbfgs.func_evals", h.func_evals);
  meta("lbfgs.n_iter", h.n_iter);
  meta("lbfgs.t", h.t);
  meta("lbfgs.H_diag", h.H_diag);
  meta("lbfgs.prev_loss", h.prev_loss);
  int64_t m = 0;
  meta("lbfgs.history", m);
  if (h.func_evals < 0) bad("lbfgs.func_evals", std::to_string(h.func_evals), "a count must be >= 0");
  if (h.n_iter < 0) bad("lbfgs.n_iter", std::to_string(h.n_iter), "a count must be >= 0");
  if (!std::isfinite(h.t)) bad("lbfgs.t", option_to_string(h.t), "must be finite");
  // H_diag = yᵀs / yᵀy with yᵀs > 1e-10: a negative or zero one turns the direction uphill.
  if (!(std::isfinite(h.H_diag) && h.H_diag > 0.0))
    bad("lbfgs.H_diag", option_to_string(h.H_diag), "must be finite and > 0");
  if (!std::isfinite(h.prev_loss)) bad("lbfgs.prev_loss", option_to_string(h.prev_loss), "must be finite");
  // The loaded options, not yet assigned, bound the history.
  int64_t history_size = 0;
  option_from_string(detail::get_meta(sd, "group.0.history_size", who), history_size,
                     who + ": group.0.history_size");
  if (m < 0 || m > history_size)
    bad("lbfgs.history", std::to_string(m),
        ("must be in [0, history_size = " + std::to_string(history_size) + "]").c_str());
  const int64_t n = numel_;
  auto values = [&](const char* key, const Shape& shape, bool required) -> std::vector<double> {
    auto it = lookup.find(key);
    if (it == lookup.end()) {
      if (required) throw ValueError(who + ": the state has no entry '" + std::string(key) + "'");
      return {};
    }
    if (!(it->second->shape() == shape))
      throw ShapeError(who + ": '" + std::string(key) + "' has shape " + it->second->shape().str() +
                       ", expected " + shape.str() + " (the parameters have " + std::to_string(n) +
                       " elements)");
    if (!it->second->is_floating_point())
      throw TypeError(who + ": '" + std::string(key) + "' is " + dtype_name(it->second->dtype()) +
                      ", expected a float tensor");
    std::vector<double> v = it->second->to(Dtype::float64).to_vector<double>();
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        bad(key, option_to_string(v[i]) + " at element " + std::to_string(i), "state must be finite");
    return v;
  };
  // After the first iteration the next one starts from the last direction and gradient.
  h.d = values("lbfgs.d", {n}, h.n_iter > 0);
  h.prev_flat_grad = values("lbfgs.prev_flat_grad", {n}, h.n_iter > 0);
  if (m > 0) {
    const std::vector<double> dirs = values("lbfgs.old_dirs", {m, n}, true),
                              stps = values("lbfgs.old_stps", {m, n}, true);
    const std::vector<double> ro = values("lbfgs.ro", {m}, true);
    for (int64_t i = 0; i < m; ++i) {
      if (!(ro[static_cast<std::size_t>(i)] > 0.0))
        bad("lbfgs.ro",
            option_to_string(ro[static_cast<std::size_t>(i)]) + " at element " + std::to_string(i),
            "1 / yᵀs of a kept pair must be > 0");
      h.old_dirs.emplace_back(dirs.begin() + i * n, dirs.begin() + (i + 1) * n);
      h.old_stps.emplace_back(stps.begin() + i * n, stps.begin() + (i + 1) * n);
      // ro is 1 / yᵀs of its pair, kept only when yᵀs > 1e-10: a pair that does not agree with
      // its ro was changed (finite nonsense in a pair makes the next direction overflow).
      const double ys = dot(h.old_dirs.back(), h.old_stps.back()), r = ro[static_cast<std::size_t>(i)];
      if (!(ys > 1e-10) || !(std::abs(r * ys - 1.0) <= 1e-8))
        bad("lbfgs.ro", option_to_string(r) + " at element " + std::to_string(i),
            ("not 1 / yᵀs of its pair in lbfgs.old_dirs and lbfgs.old_stps, yᵀs = " + option_to_string(ys))
                .c_str());
      h.ro.push_back(r);
    }
  } else {
    for (const char* key : {"lbfgs.old_dirs", "lbfgs.old_stps", "lbfgs.ro"})
      if (lookup.count(key))
        throw ValueError(who + ": the state has an entry '" + std::string(key) + "' but lbfgs.history is 0");
  }
  h_ = std::move(h);
}

}  // namespace xg::optim
