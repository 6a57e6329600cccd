#include "xgrad/autograd/tools/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <unordered_set>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"
#include "xgrad/autograd/tools/inspect.hpp"
#include "xgrad/autograd/tools/inspect_internal.hpp"

namespace xg {

namespace {

std::vector<int64_t> unravel(int64_t flat, const Shape& s) {
  std::vector<int64_t> idx(s.rank());
  for (int i = s.rank() - 1; i >= 0; --i) {
    idx[i] = s[i] ? flat % s[i] : 0;
    flat = s[i] ? flat / s[i] : 0;
  }
  return idx;
}

std::string index_str(const std::vector<int64_t>& idx) {
  std::string s = "[";
  for (std::size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + "]";
}

std::vector<Tensor> evaluate(const MultiFunction& f, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> outs = f(inputs);
  for (std::size_t i = 0; i < outs.size(); ++i)
    if (!outs[i].defined()) throw ValueError("gradcheck: output " + std::to_string(i) + " is undefined");
  return outs;
}

// Deterministic pseudo-random numbers in [-1, 1) (splitmix64), independent of the user's seed,
// so that a report is reproducible.
struct Random {
  uint64_t s;
  explicit Random(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  double next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0;
  }
  std::vector<double> vec(int64_t n) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (double& x : v) x = next();
    return v;
  }
};

// Element e of a float tensor read and written as a double.
class Elements {
 public:
  explicit Elements(Tensor t) : t_(std::move(t)) {
    if (t_.dtype() == Dtype::float64)
      d_ = t_.data<double>();
    else
      f_ = t_.data<float>();
  }
  double get(int64_t e) const { return d_ ? d_[e] : f_[e]; }
  void set(int64_t e, double v) {
    if (d_)
      d_[e] = v;
    else
      f_[e] = static_cast<float>(v);
  }
  int64_t size() const { return t_.numel(); }
  // The difference between two perturbed values of an element: float32 rounds the step, so it is
  // measured; float64 (and an infinite element, which no step moves) uses the nominal one.
  double step_taken(double hi, double lo, double nominal) const {
    const double d = hi - lo;
    return d_ || !std::isfinite(d) || d == 0 ? nominal : d;
  }

 private:
  Tensor t_;
  double* d_ = nullptr;
  float* f_ = nullptr;
};

// Puts saved values back when it goes, even when f throws at a perturbed point.
struct Restore {
  Elements& x;
  std::vector<double> saved;
  explicit Restore(Elements& xs) : x(xs) {
    saved.resize(static_cast<std::size_t>(x.size()));
    for (int64_t e = 0; e < x.size(); ++e) saved[e] = x.get(e);
  }
  ~Restore() {
    for (int64_t e = 0; e < x.size(); ++e) x.set(e, saved[e]);
  }
};

std::string name_of(const GradcheckOptions& o, const std::vector<Tensor>& in, std::size_t i) {
  if (i < o.names.size() && !o.names[i].empty()) return o.names[i];
  return in[i].defined() ? in[i].name() : std::string();
}

// The inputs checked: those that require grad, float64 (or float32 in float32 mode).
std::vector<int> checked_inputs(const std::vector<Tensor>& inputs, const GradcheckOptions& o,
                                const char* who) {
  std::vector<int> checked;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined())
      throw ValueError(std::string(who) + ": input " + std::to_string(i) + " is undefined");
    if (!inputs[i].requires_grad()) continue;
    const Dtype d = inputs[i].dtype();
    if (d != Dtype::float64 && !(o.float32 && d == Dtype::float32))
      throw TypeError(std::string(who) + ": input " + std::to_string(i) + " is " + dtype_name(d) +
                      (o.float32 ? "; finite differences need float64 or float32 inputs"
                                 : "; finite differences need float64 inputs (or float32_options())"));
    checked.push_back(static_cast<int>(i));
  }
  return checked;
}

bool is_bad(double err, double ref, const GradcheckOptions& o) {
  return !(err <= o.atol + o.rtol * std::fabs(ref));  // NaN counts as bad
}
double rel_of(double err, double ref) {
  return err / std::max(std::fabs(ref), 1e-8);
}
double finite_or_inf(double v) {
  return std::isnan(v) ? INFINITY : v;
}

// The report of a check that could not run because the function (or its backward) threw.
GradcheckReport failed_to_run(GradcheckReport rep, const std::exception& e) {
  rep.passed = false;
  rep.error = e.what();
  rep.mismatches.clear();
  return rep;
}

void sort_and_trim(GradcheckReport& rep, int max_failures) {
  std::stable_sort(rep.mismatches.begin(), rep.mismatches.end(), [](const auto& a, const auto& b) {
    return finite_or_inf(a.rel_error) > finite_or_inf(b.rel_error);
  });
  if (static_cast<int>(rep.mismatches.size()) > max_failures)
    rep.mismatches.resize(static_cast<std::size_t>(std::max(max_failures, 0)));
}

}  // namespace

GradcheckOptions float32_options(GradcheckOptions o) {
  o.eps = 1e-3;
  o.atol = 1e-3;
  o.rtol = 1e-2;
  o.float32 = true;
  return o;
}

std::string GradcheckMismatch::where() const {
  if (input_name.empty()) return "input " + std::to_string(input) + " element " + index_str(input_index);
  return input_name + index_str(input_index);
}

std::string NodeCheck::str() const {
  std::string s = "step " + std::to_string(step) + " '" + op + "'(";
  for (std::size_t k = 0; k < inputs.size(); ++k) s += (k ? ", " : "") + inputs[k];
  return s + ") -> " + output;
}

std::string GradcheckReport::str() const {
  std::ostringstream s;
  if (!error.empty()) {
    s << check << " could not run: " << error;
    return s.str();
  }
  const bool hand = check == "check_backward";
  if (passed) {
    s << check << " passed: " << inputs_checked << " input(s), ";
    if (!projections.empty()) s << projections.size() << " random projection(s), ";
    s << entries_checked << (hand ? " gradient elements" : " Jacobian entries") << ", max abs error "
      << max_abs_error << ", max rel error " << max_rel_error;
    return s.str();
  }
  s << check << " FAILED:" << (projections.empty() ? " " : "");
  for (const auto& p : projections)
    if (!p.passed)
      s << "\n  " << (p.input_name.empty() ? "input " + std::to_string(p.input) : p.input_name)
        << ": along a random direction v, analytic u.Jv " << p.analytic << ", numerical " << p.numerical
        << " (rel error " << p.rel_error << ")";
  if (!projections.empty()) s << "\n  ";
  s << mismatch_count << " of " << entries_checked << (hand ? " gradient elements" : " Jacobian entries")
    << (projections.empty() ? "" : " checked one by one") << " differ (worst relative error " << max_rel_error
    << ")";
  for (const auto& m : mismatches) {
    s << "\n  " << m.where();
    if (hand)
      s << ": hand-written " << m.analytic << ", autograd " << m.numerical;
    else {
      if (m.output < 0)
        s << ", output u.y (a random projection of the outputs)";
      else if (m.output > 0 || !m.output_index.empty())  // (output 0 of rank 0: a loss, said by nothing)
        s << ", output " << m.output << " element " << index_str(m.output_index);
      s << ": analytic " << m.analytic << ", numerical " << m.numerical;
    }
    s << " (abs error " << m.abs_error << ", rel error " << m.rel_error << ")";
  }
  if (!localisation.empty()) s << "\n  " << localisation;
  return s.str();
}

// ---------------------------------------------------------------- dense and fast checks

namespace {

void compare_jacobians(const MultiFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o,
                       const std::vector<int>& checked, GradcheckReport& rep) {
  std::vector<Tensor> outs = evaluate(f, inputs);

  // numerical[c][out][j][e]: d out_j[e] / d input_c[elem] via central differences
  std::vector<std::vector<std::vector<std::vector<double>>>> numerical(checked.size());
  for (std::size_t c = 0; c < checked.size(); ++c) {
    Elements x(inputs[checked[c]]);
    numerical[c].assign(static_cast<std::size_t>(x.size()), {});
    Restore restore(x);
    for (int64_t e = 0; e < x.size(); ++e) {
      const double orig = restore.saved[e];
      // Values are copied out at once: an output may alias the perturbed input (a view).
      // Grad mode stays as the caller set it: f may itself differentiate (gradgradcheck).
      auto values_at = [&](double v) {
        x.set(e, v);
        std::vector<std::vector<double>> r;
        for (const Tensor& t : evaluate(f, inputs)) r.push_back(t.to_vector<double>());
        return r;
      };
      std::vector<std::vector<double>> plus = values_at(orig + o.eps);
      const double hi = x.get(e);  // the step actually taken (float32 rounds it)
      std::vector<std::vector<double>> minus = values_at(orig - o.eps);
      const double step = x.step_taken(hi, x.get(e), 2 * o.eps);
      x.set(e, orig);
      if (plus.size() != outs.size() || minus.size() != outs.size())
        throw ValueError("gradcheck: the function returned a different number of outputs between calls");
      for (std::size_t j = 0; j < outs.size(); ++j) {
        std::vector<double>& a = plus[j];
        for (std::size_t k = 0; k < a.size(); ++k) a[k] = (a[k] - minus[j][k]) / step;
        numerical[c][e].push_back(std::move(a));
      }
    }
  }

  // Analytic: one vector-Jacobian product per output element, with a one-hot cotangent.
  std::vector<Tensor> checked_in;
  for (int c : checked) checked_in.push_back(inputs[c]);
  for (std::size_t j = 0; j < outs.size(); ++j) {
    const Tensor& y = outs[j];
    for (int64_t k = 0; k < y.numel(); ++k) {
      std::vector<Tensor> g(checked.size());
      if (y.requires_grad() && !checked.empty()) {
        Tensor onehot = zeros(y.shape(), {.dtype = y.dtype()});
        if (y.dtype() == Dtype::float64)
          onehot.data<double>()[k] = 1;
        else
          onehot.data<float>()[k] = 1;
        g = grad({y}, checked_in, {onehot}, true, false, true);
      }
      for (std::size_t c = 0; c < checked.size(); ++c) {
        std::vector<double> row =
            g[c].defined() ? g[c].to_vector<double>() : std::vector<double>(checked_in[c].numel(), 0.0);
        for (int64_t e = 0; e < checked_in[c].numel(); ++e) {
          const double an = row[e], nu = numerical[c][e][j][k];
          const double err = std::fabs(an - nu), rel = rel_of(err, nu);
          ++rep.entries_checked;
          rep.max_abs_error = std::max(rep.max_abs_error, finite_or_inf(err));
          rep.max_rel_error = std::max(rep.max_rel_error, finite_or_inf(rel));
          if (!is_bad(err, nu, o)) continue;
          rep.passed = false;
          ++rep.mismatch_count;
          rep.mismatches.push_back({checked[c], name_of(o, inputs, checked[c]),
                                    unravel(e, checked_in[c].shape()), static_cast<int>(j),
                                    unravel(k, y.shape()), an, nu, err, rel});
        }
      }
    }
  }
  sort_and_trim(rep, o.max_failures);
}

// u . (the outputs' values), the projection fast mode differentiates.
double project(const std::vector<Tensor>& ys, const std::vector<std::vector<double>>& u) {
  if (ys.size() != u.size())
    throw ValueError("gradcheck: the function returned a different number of outputs between calls");
  double s = 0;
  for (std::size_t j = 0; j < ys.size(); ++j) {
    std::vector<double> y = ys[j].to_vector<double>();
    if (y.size() != u[j].size())
      throw ValueError("gradcheck: output " + std::to_string(j) + " changed shape");
    for (std::size_t k = 0; k < y.size(); ++k) s += u[j][k] * y[k];
  }
  return s;
}

void compare_projections(const MultiFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o,
                         const std::vector<int>& checked, GradcheckReport& rep) {
  std::vector<Tensor> outs = evaluate(f, inputs);
  Random rng(o.seed + 17);
  int64_t total = 0;
  for (const Tensor& y : outs) total += y.numel();
  // u: random per output element; a single scalar output gets 1, so the numbers are derivatives.
  std::vector<std::vector<double>> u;
  std::vector<Tensor> ys, us;
  for (const Tensor& y : outs) {
    u.push_back(total == 1 ? std::vector<double>(1, 1.0) : rng.vec(y.numel()));
    if (y.requires_grad()) {
      ys.push_back(y);
      us.push_back(tensor(u.back(), y.shape(), {.dtype = Dtype::float64}).to(y.dtype()));
    }
  }
  std::vector<Tensor> checked_in;
  for (int c : checked) checked_in.push_back(inputs[c]);
  std::vector<Tensor> g(checked.size());
  if (!ys.empty() && !checked.empty()) g = grad(ys, checked_in, us, false, false, true);
  const bool scalar = total == 1;
  int one_output = -1;  // the output of a scalar function
  for (std::size_t j = 0; j < outs.size(); ++j)
    if (outs[j].numel() == 1) one_output = static_cast<int>(j);

  for (std::size_t c = 0; c < checked.size(); ++c) {
    const int i = checked[c];
    Elements x(inputs[i]);
    const std::vector<double> gc = g[c].defined()
                                       ? g[c].to_vector<double>()
                                       : std::vector<double>(static_cast<std::size_t>(x.size()), 0.0);
    GradcheckProjection p{i, name_of(o, inputs, i)};
    {
      Restore restore(x);
      std::vector<double> v = rng.vec(x.size());
      double norm = 0;
      for (double a : v) norm += a * a;
      norm = std::sqrt(norm);
      for (double& a : v) a /= norm > 0 ? norm : 1;
      // The direction actually taken (float32 rounds each element's step).
      std::vector<double> hi(v.size());
      for (int64_t e = 0; e < x.size(); ++e) x.set(e, restore.saved[e] + o.eps * v[e]);
      for (int64_t e = 0; e < x.size(); ++e) hi[e] = x.get(e);
      const double plus = project(evaluate(f, inputs), u);
      for (int64_t e = 0; e < x.size(); ++e) x.set(e, restore.saved[e] - o.eps * v[e]);
      const double minus = project(evaluate(f, inputs), u);
      double an = 0;
      for (int64_t e = 0; e < x.size(); ++e)
        an += gc[e] * x.step_taken(hi[e], x.get(e), 2 * o.eps * v[e]) / (2 * o.eps);
      p.analytic = an;
      p.numerical = (plus - minus) / (2 * o.eps);
    }
    p.abs_error = std::fabs(p.analytic - p.numerical);
    p.rel_error = rel_of(p.abs_error, p.numerical);
    p.passed = !is_bad(p.abs_error, p.numerical, o);
    rep.max_abs_error = std::max(rep.max_abs_error, finite_or_inf(p.abs_error));
    rep.max_rel_error = std::max(rep.max_rel_error, finite_or_inf(p.rel_error));
    rep.projections.push_back(p);
    if (p.passed) continue;
    rep.passed = false;
    // The dense check of this input, element by element, until max_failures wrong ones are named.
    Restore restore(x);
    int found = 0;
    for (int64_t e = 0; e < x.size() && found < std::max(o.max_failures, 1); ++e) {
      const double orig = restore.saved[e];
      x.set(e, orig + o.eps);
      const double hi = x.get(e);
      const double plus = project(evaluate(f, inputs), u);
      x.set(e, orig - o.eps);
      const double minus = project(evaluate(f, inputs), u);
      const double nu = (plus - minus) / x.step_taken(hi, x.get(e), 2 * o.eps);
      x.set(e, orig);
      const double an = gc[e], err = std::fabs(an - nu), rel = rel_of(err, nu);
      ++rep.entries_checked;
      if (!is_bad(err, nu, o)) continue;
      ++found;
      ++rep.mismatch_count;
      rep.mismatches.push_back({i, p.input_name, unravel(e, inputs[i].shape()), scalar ? one_output : -1,
                                scalar ? unravel(0, outs[one_output].shape()) : std::vector<int64_t>{}, an,
                                nu, err, rel});
    }
  }
  // (each failing input's first wrong elements, in element order: at most max_failures per input)
}

void localise(const MultiFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o,
              GradcheckReport& rep) {
  try {
    rep.nodes = check_nodes(f, inputs, o);
  } catch (const std::exception& e) {
    rep.localisation = std::string("could not localise the mistake on the tape: ") + e.what();
    return;
  }
  std::string unchecked;
  int n_unchecked = 0;
  for (const NodeCheck& n : rep.nodes) {
    if (n.checked && !n.passed) {
      rep.localised = true;
      rep.culprit = n;
      std::ostringstream s;
      s << "the first op whose backward disagrees with finite differences of that op alone: " << n.str()
        << " (analytic u.J.dx " << n.analytic << ", numerical u.dy " << n.numerical << ", rel error "
        << n.rel_error << ")";
      rep.localisation = s.str();
      return;
    }
    if (!n.checked) {
      if (n_unchecked++ < 3) unchecked += (unchecked.empty() ? "" : "; ") + n.str() + ": " + n.why_not;
    }
  }
  if (n_unchecked)
    rep.localisation = "no op that could be checked alone disagrees; " + std::to_string(n_unchecked) +
                       " could not be checked alone: " + unchecked + (n_unchecked > 3 ? "; ..." : "");
  else
    rep.localisation = "every recorded op (" + std::to_string(rep.nodes.size()) +
                       ") agrees with finite differences alone: the mistake is not in one op's backward "
                       "(an output computed without recording, or a tolerance too tight?)";
}

}  // namespace

GradcheckReport gradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& o) {
  GradcheckReport rep;
  std::vector<int> checked = checked_inputs(inputs, o, "gradcheck");
  rep.inputs_checked = static_cast<int>(checked.size());
  try {
    if (o.fast)
      compare_projections(f, inputs, o, checked, rep);
    else
      compare_jacobians(f, inputs, o, checked, rep);
  } catch (const std::exception& e) {
    return failed_to_run(rep, e);
  }
  if (!rep.passed && o.localise) localise(f, inputs, o, rep);
  return rep;
}

GradcheckReport gradgradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& o, const std::vector<Tensor>& grad_outputs) {
  std::vector<int> diff;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) diff.push_back(static_cast<int>(i));
  std::vector<Tensor> outs;
  try {
    outs = evaluate(f, inputs);
  } catch (const std::exception& e) {
    GradcheckReport rep;
    rep.check = "gradgradcheck";
    return failed_to_run(rep, e);
  }
  // Cotangents: given, or fixed pseudo-random values (deterministic, independent of the user's seed).
  std::vector<Tensor> v;
  for (std::size_t j = 0; j < outs.size(); ++j) {
    Tensor g;
    if (j < grad_outputs.size() && grad_outputs[j].defined()) {
      g = grad_outputs[j].detach().to(Dtype::float64).clone();
    } else {
      std::vector<double> vals(static_cast<std::size_t>(outs[j].numel()));
      for (std::size_t k = 0; k < vals.size(); ++k)
        vals[k] = std::sin(1.7 * static_cast<double>(k + 3 * j) + 0.3);
      g = tensor(vals, outs[j].shape(), {.dtype = Dtype::float64});
    }
    v.push_back(g.requires_grad_(true));
  }
  const std::size_t n_in = inputs.size();
  MultiFunction vjp_fn = [f, diff, n_in](const std::vector<Tensor>& args) {
    std::vector<Tensor> xs(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(n_in));
    std::vector<Tensor> vs(args.begin() + static_cast<std::ptrdiff_t>(n_in), args.end());
    std::vector<Tensor> ys = f(xs);
    std::vector<Tensor> diff_in;
    for (int i : diff) diff_in.push_back(xs[i]);
    std::vector<Tensor> ys_used, vs_used;
    for (std::size_t j = 0; j < ys.size(); ++j)
      if (ys[j].requires_grad()) {
        ys_used.push_back(ys[j]);
        vs_used.push_back(vs[j]);
      }
    std::vector<Tensor> gs;
    if (!ys_used.empty() && !diff_in.empty())
      gs = grad(ys_used, diff_in, vs_used, true, true, true);
    else
      gs.assign(diff_in.size(), Tensor());
    for (std::size_t c = 0; c < gs.size(); ++c)
      if (!gs[c].defined()) gs[c] = zeros_like(diff_in[c]);
    return gs;
  };
  std::vector<Tensor> args = inputs;
  args.insert(args.end(), v.begin(), v.end());
  GradcheckOptions oo = o;
  oo.localise = false;  // the tape of a vjp holds backward ops; localising them says little
  if (!oo.names.empty()) {
    oo.names.resize(n_in);
    for (std::size_t j = 0; j < v.size(); ++j) oo.names.push_back("");
  }
  GradcheckReport rep = gradcheck(vjp_fn, args, oo);
  rep.check = "gradgradcheck";
  return rep;
}

// ---------------------------------------------------------------- localisation on the tape

namespace {

// Keeps, for every op recorded while it is installed, the values of its differentiable inputs and
// of its output, as the op saw them. Passes every event on to the observer it replaced (the
// inspection tools), so labels and traces keep working.
class Recorder final : public TapeObserver {
 public:
  struct Rec {
    std::shared_ptr<Node> node;  // only in the base run
    std::string op;
    std::vector<std::vector<double>> in;  // empty: an input that gets no gradient
    std::vector<bool> used;
    std::vector<double> out;
    bool float64 = true;
  };
  explicit Recorder(bool keep) : keep_(keep), prev_(detail::tape_observer) { detail::tape_observer = this; }
  ~Recorder() override { detail::tape_observer = prev_; }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void on_record(Node& node, std::span<const Tensor> inputs, const Tensor& output) override {
    if (prev_) prev_->on_record(node, inputs, output);
    if (busy_) return;
    busy_ = true;
    NoGradGuard no_grad;  // reading values must not record
    Rec r;
    r.op = node.name();
    if (keep_) r.node = node.shared_from_this();
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const bool used = node.needs_input_grad(k) && inputs[k].defined();
      r.used.push_back(used);
      r.in.push_back(used ? inputs[k].to_vector<double>() : std::vector<double>{});
      if (used && inputs[k].dtype() != Dtype::float64) r.float64 = false;
    }
    r.out = output.to_vector<double>();
    if (output.dtype() != Dtype::float64) r.float64 = false;
    recs.push_back(std::move(r));
    busy_ = false;
  }
  void on_backward_node(std::span<Node* const> pass, std::size_t i, const Tensor& g,
                        std::span<const Tensor> grads) override {
    if (prev_) prev_->on_backward_node(pass, i, g, grads);
  }
  void on_leaf_grad(const TensorImpl& leaf, const Tensor& g) override {
    if (prev_) prev_->on_leaf_grad(leaf, g);
  }
  std::vector<Rec> recs;

 private:
  bool keep_;
  bool busy_ = false;
  TapeObserver* prev_;
};

// Gives unnamed inputs their report names for the duration of a call (labels on the tape).
struct TemporaryNames {
  std::vector<Tensor> named;
  TemporaryNames(const std::vector<Tensor>& inputs, const GradcheckOptions& o) {
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined() || !inputs[i].name().empty()) continue;
      std::string n = name_of(o, inputs, i);
      if (n.empty()) n = "input " + std::to_string(i);
      Tensor t = inputs[i];
      t.name(n);
      named.push_back(t);
    }
  }
  ~TemporaryNames() {
    for (Tensor& t : named) t.name("");
  }
};

}  // namespace

std::vector<NodeCheck> check_nodes(const MultiFunction& f, const std::vector<Tensor>& inputs,
                                   const GradcheckOptions& o) {
  std::vector<int> checked = checked_inputs(inputs, o, "check_nodes");
  TemporaryNames names(inputs, o);
  std::vector<Tensor> outs;
  std::vector<Recorder::Rec> base;
  {
    InspectGuard inspect;  // keeps constants and names for the labels
    Recorder rec(true);
    AutoGradMode grad_on(true);
    outs = evaluate(f, inputs);
    base = std::move(rec.recs);
  }
  // Steps and labels as print_tape and backward_trace show them.
  std::vector<Node*> pass;
  {
    std::unordered_set<Node*> seen;
    for (const Tensor& y : outs)
      if (y.grad_fn())
        for (const auto& n : tape_of(y))
          if (seen.insert(n.get()).second) pass.push_back(n.get());
    std::sort(pass.begin(), pass.end(), [](Node* a, Node* b) { return a->sequence_nr() > b->sequence_nr(); });
  }
  std::unique_ptr<inspect_detail::TapeView> view =
      outs.size() == 1 ? std::make_unique<inspect_detail::TapeView>(outs[0])
                       : std::make_unique<inspect_detail::TapeView>(std::span<Node* const>(pass));

  // Which record is which step.
  std::vector<std::pair<int, std::size_t>> order;
  for (std::size_t r = 0; r < base.size(); ++r)
    if (int s = view->step(base[r].node.get())) order.push_back({s, r});
  std::sort(order.begin(), order.end());
  std::vector<NodeCheck> result;
  for (auto [s, r] : order) {
    const Node& n = *base[r].node;
    NodeCheck c;
    c.step = s;
    c.op = n.name();
    c.output = view->output_label(n);
    for (std::size_t k = 0; k < n.num_inputs(); ++k) c.inputs.push_back(view->input(n, k).label);
    if (n.num_outputs() > 1)
      c.why_not =
          "it has " + std::to_string(n.num_outputs()) + " outputs; only single-output ops are checked alone";
    else if (!base[r].float64 && !o.float32)
      c.why_not = "its values are not float64";
    c.checked = c.why_not.empty();
    result.push_back(std::move(c));
  }

  // Two random directions of the inputs; along each, every op's inputs and output move, and each
  // op's backward must map u on its output to the same first-order change as its forward made.
  for (int dir = 0; dir < 2; ++dir) {
    Random rng(o.seed * 31 + 101 + static_cast<uint64_t>(dir));
    std::vector<Recorder::Rec> plus, minus;
    {
      std::vector<std::unique_ptr<Elements>> xs;
      std::vector<std::unique_ptr<Restore>> restores;
      std::vector<std::vector<double>> vs;
      double norm = 0;
      for (int i : checked) {
        xs.push_back(std::make_unique<Elements>(inputs[i]));
        restores.push_back(std::make_unique<Restore>(*xs.back()));
        vs.push_back(rng.vec(xs.back()->size()));
        for (double a : vs.back()) norm += a * a;
      }
      norm = norm > 0 ? std::sqrt(norm) : 1;
      auto run = [&](double sign) {
        for (std::size_t c = 0; c < xs.size(); ++c)
          for (int64_t e = 0; e < xs[c]->size(); ++e)
            xs[c]->set(e, restores[c]->saved[e] + sign * o.eps * vs[c][e] / norm);
        Recorder rec(false);
        AutoGradMode grad_on(true);
        evaluate(f, inputs);
        return std::move(rec.recs);
      };
      plus = run(1);
      minus = run(-1);
    }
    if (plus.size() != base.size() || minus.size() != base.size())
      throw ValueError("check_nodes: the function recorded " + std::to_string(base.size()) + " ops, then " +
                       std::to_string(plus.size()) +
                       " at a perturbed point: its tape changes with the values");
    for (std::size_t q = 0; q < order.size(); ++q) {
      NodeCheck& c = result[q];
      if (!c.checked) continue;
      const std::size_t r = order[q].second;
      const Recorder::Rec &b = base[r], &p = plus[r], &m = minus[r];
      if (p.op != b.op || m.op != b.op || p.out.size() != b.out.size() || m.out.size() != b.out.size())
        throw ValueError("check_nodes: step " + std::to_string(c.step) + " is '" + b.op + "', then '" + p.op +
                         "' at a perturbed point: the function's tape changes with the values");
      Node& n = *b.node;
      Random urng(o.seed * 7919 + static_cast<uint64_t>(c.step) * 2 + static_cast<uint64_t>(dir));
      const std::vector<double> u =
          b.out.size() == 1 ? std::vector<double>{1.0} : urng.vec(static_cast<int64_t>(b.out.size()));
      double numerical = 0;
      for (std::size_t k = 0; k < u.size(); ++k) numerical += u[k] * (p.out[k] - m.out[k]) / (2 * o.eps);
      double analytic = 0;
      try {
        std::vector<Tensor> grads(n.num_inputs());
        {
          NoGradGuard no_grad;
          n.apply(tensor(u, n.output_shape(), {.dtype = Dtype::float64}).to(n.output_dtype()), grads);
        }
        for (std::size_t k = 0; k < n.num_inputs(); ++k) {
          if (!b.used[k] || !grads[k].defined()) continue;
          std::vector<double> gk = grads[k].to_vector<double>();
          if (gk.size() != b.in[k].size())
            throw ValueError("its backward returned " + std::to_string(gk.size()) + " elements for input " +
                             std::to_string(k) + " of " + std::to_string(b.in[k].size()));
          for (std::size_t e = 0; e < gk.size(); ++e)
            analytic += gk[e] * (p.in[k][e] - m.in[k][e]) / (2 * o.eps);
        }
      } catch (const std::exception& e) {
        c.checked = false;
        c.why_not = std::string("its backward threw: ") + e.what();
        continue;
      }
      const double err = std::fabs(analytic - numerical), rel = rel_of(err, numerical);
      const bool bad = is_bad(err, numerical, o);
      if (bad || (c.passed && err >= c.abs_error)) {  // keep the failing (or worst) direction
        if (c.passed || bad) {
          c.analytic = analytic;
          c.numerical = numerical;
          c.abs_error = err;
          c.rel_error = rel;
        }
      }
      if (bad) c.passed = false;
    }
  }
  return result;
}

void mark_culprit(BackwardTrace& trace, const GradcheckReport& report) {
  if (!report.localised) return;
  for (BackwardStep& s : trace.steps)
    if (s.step == report.culprit.step && s.op == report.culprit.op) {
      std::ostringstream m;
      m << "<- gradcheck: this op's backward disagrees with finite differences of the op alone (analytic "
        << report.culprit.analytic << ", numerical " << report.culprit.numerical << ")";
      s.note = m.str();
    }
}

// ---------------------------------------------------------------- hand-written backward

GradcheckReport check_backward(const MultiFunction& f, const HandBackward& backward,
                               const std::vector<Tensor>& inputs, const GradcheckOptions& o) {
  GradcheckReport rep;
  rep.check = "check_backward";
  std::vector<int> checked = checked_inputs(inputs, o, "check_backward");
  rep.inputs_checked = static_cast<int>(checked.size());
  try {
    std::vector<Tensor> outs = evaluate(f, inputs);
    Random rng(o.seed + 5);
    std::vector<Tensor> us, ys, us_used;
    for (const Tensor& y : outs) {
      Tensor u = tensor(rng.vec(y.numel()), y.shape(), {.dtype = Dtype::float64}).to(y.dtype());
      us.push_back(u);
      if (y.requires_grad()) {
        ys.push_back(y);
        us_used.push_back(u);
      }
    }
    std::vector<Tensor> checked_in;
    for (int c : checked) checked_in.push_back(inputs[c]);
    std::vector<Tensor> autograd_g(checked.size());
    if (!ys.empty() && !checked.empty()) autograd_g = grad(ys, checked_in, us_used, false, false, true);
    std::vector<Tensor> hand;
    {
      NoGradGuard no_grad;
      hand = backward(inputs, us);
    }
    if (hand.size() != inputs.size())
      throw ValueError("check_backward: the backward returned " + std::to_string(hand.size()) +
                       " gradient(s) for " + std::to_string(inputs.size()) + " input(s)");
    bool named_one = false;
    for (std::size_t c = 0; c < checked.size(); ++c) {
      const int i = checked[c];
      std::string nm = name_of(o, inputs, i);
      const std::string who = nm.empty() ? "input " + std::to_string(i) : nm;
      const Tensor& h = hand[i];
      if (h.defined() && h.shape() != inputs[i].shape())
        throw ValueError("check_backward: the gradient for " + who + " has shape " + h.shape().str() +
                         " but " + who + " has shape " + inputs[i].shape().str());
      const int64_t n = inputs[i].numel();
      std::vector<double> hv = h.defined() ? h.to_vector<double>() : std::vector<double>(n, 0.0);
      std::vector<double> av =
          autograd_g[c].defined() ? autograd_g[c].to_vector<double>() : std::vector<double>(n, 0.0);
      int listed = 0;
      for (int64_t e = 0; e < n; ++e) {
        const double err = std::fabs(hv[e] - av[e]), rel = rel_of(err, av[e]);
        ++rep.entries_checked;
        rep.max_abs_error = std::max(rep.max_abs_error, finite_or_inf(err));
        rep.max_rel_error = std::max(rep.max_rel_error, finite_or_inf(rel));
        if (!is_bad(err, av[e], o)) continue;
        rep.passed = false;
        ++rep.mismatch_count;
        // The first wrong tensor, its wrong elements in order.
        if (!named_one && listed < o.max_failures) {
          rep.mismatches.push_back({i, nm, unravel(e, inputs[i].shape()), -1, {}, hv[e], av[e], err, rel});
          ++listed;
        }
      }
      if (listed) named_one = true;
    }
  } catch (const std::exception& e) {
    return failed_to_run(rep, e);
  }
  return rep;
}

}  // namespace xg
