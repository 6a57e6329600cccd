#include "xgrad/autograd/tools/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"

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

}  // namespace

std::string GradcheckReport::str() const {
  std::ostringstream s;
  if (!error.empty()) {
    s << check << " could not run: " << error;
    return s.str();
  }
  if (passed) {
    s << check << " passed: " << inputs_checked << " input(s), " << entries_checked
      << " Jacobian entries, max abs error " << max_abs_error << ", max rel error " << max_rel_error;
    return s.str();
  }
  s << check << " FAILED: " << mismatch_count << " of " << entries_checked
    << " Jacobian entries differ (worst relative error " << max_rel_error << ")";
  for (const auto& m : mismatches)
    s << "\n  input " << m.input << " element " << index_str(m.input_index) << ", output " << m.output
      << " element " << index_str(m.output_index) << ": analytic " << m.analytic << ", numerical "
      << m.numerical << " (abs error " << m.abs_error << ", rel error " << m.rel_error << ")";
  return s.str();
}

namespace {
void compare_jacobians(const MultiFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o,
                       const std::vector<int>& checked, GradcheckReport& rep);

// The report of a check that could not run because the function (or its backward) threw.
GradcheckReport failed_to_run(GradcheckReport rep, const std::exception& e) {
  rep.passed = false;
  rep.error = e.what();
  rep.mismatches.clear();
  return rep;
}
}  // namespace

GradcheckReport gradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& o) {
  GradcheckReport rep;
  std::vector<int> checked;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) throw ValueError("gradcheck: input " + std::to_string(i) + " is undefined");
    if (!inputs[i].requires_grad()) continue;
    if (inputs[i].dtype() != Dtype::float64)
      throw TypeError("gradcheck: input " + std::to_string(i) + " is " + dtype_name(inputs[i].dtype()) +
                      "; finite differences need float64 inputs");
    checked.push_back(static_cast<int>(i));
  }
  rep.inputs_checked = static_cast<int>(checked.size());
  try {
    compare_jacobians(f, inputs, o, checked, rep);
  } catch (const std::exception& e) {
    return failed_to_run(rep, e);
  }
  return rep;
}

namespace {
void compare_jacobians(const MultiFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o,
                       const std::vector<int>& checked, GradcheckReport& rep) {
  std::vector<Tensor> outs = evaluate(f, inputs);

  // numerical[c][out][j][e]: d out_j[e] / d input_c[elem] via central differences
  std::vector<std::vector<std::vector<std::vector<double>>>> numerical(checked.size());
  for (std::size_t c = 0; c < checked.size(); ++c) {
    Tensor x = inputs[checked[c]];
    double* p = x.data<double>();
    numerical[c].assign(static_cast<std::size_t>(x.numel()), {});
    for (int64_t e = 0; e < x.numel(); ++e) {
      const double orig = p[e];
      struct Restore {  // puts the element back even when f throws at a perturbed point
        double* q;
        double v;
        ~Restore() { *q = v; }
      } restore{p + e, orig};
      // Values are copied out at once: an output may alias the perturbed input (a view).
      // Grad mode stays as the caller set it: f may itself differentiate (gradgradcheck).
      auto values_at = [&](double v) {
        p[e] = v;
        std::vector<std::vector<double>> r;
        for (const Tensor& t : evaluate(f, inputs)) r.push_back(t.to_vector<double>());
        return r;
      };
      std::vector<std::vector<double>> plus = values_at(orig + o.eps), minus = values_at(orig - o.eps);
      p[e] = orig;
      if (plus.size() != outs.size() || minus.size() != outs.size())
        throw ValueError("gradcheck: the function returned a different number of outputs between calls");
      for (std::size_t j = 0; j < outs.size(); ++j) {
        std::vector<double>& a = plus[j];
        for (std::size_t k = 0; k < a.size(); ++k) a[k] = (a[k] - minus[j][k]) / (2 * o.eps);
        numerical[c][e].push_back(std::move(a));
      }
    }
  }

  // Analytic: one vector-Jacobian product per output element, with a one-hot cotangent.
  std::vector<Tensor> checked_inputs;
  for (int c : checked) checked_inputs.push_back(inputs[c]);
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
        g = grad({y}, checked_inputs, {onehot}, true, false, true);
      }
      for (std::size_t c = 0; c < checked.size(); ++c) {
        std::vector<double> row =
            g[c].defined() ? g[c].to_vector<double>() : std::vector<double>(checked_inputs[c].numel(), 0.0);
        for (int64_t e = 0; e < checked_inputs[c].numel(); ++e) {
          const double an = row[e], nu = numerical[c][e][j][k];
          const double err = std::fabs(an - nu), rel = err / std::max(std::fabs(nu), 1e-8);
          ++rep.entries_checked;
          rep.max_abs_error = std::max(rep.max_abs_error, std::isnan(err) ? INFINITY : err);
          rep.max_rel_error = std::max(rep.max_rel_error, std::isnan(rel) ? INFINITY : rel);
          const bool bad = !(err <= o.atol + o.rtol * std::fabs(nu));  // NaN counts as bad
          if (!bad) continue;
          rep.passed = false;
          ++rep.mismatch_count;
          rep.mismatches.push_back({checked[c], unravel(e, checked_inputs[c].shape()), static_cast<int>(j),
                                    unravel(k, y.shape()), an, nu, err, rel});
        }
      }
    }
  }
  std::sort(rep.mismatches.begin(), rep.mismatches.end(), [](const auto& a, const auto& b) {
    return (std::isnan(a.rel_error) ? INFINITY : a.rel_error) >
           (std::isnan(b.rel_error) ? INFINITY : b.rel_error);
  });
  if (static_cast<int>(rep.mismatches.size()) > o.max_failures)
    rep.mismatches.resize(static_cast<std::size_t>(o.max_failures));
}
}  // namespace

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
  GradcheckReport rep = gradcheck(vjp_fn, args, o);
  rep.check = "gradgradcheck";
  return rep;
}

}  // namespace xg
