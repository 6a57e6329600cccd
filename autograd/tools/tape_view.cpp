// The pieces every printer shares: values as text, labels of tape inputs, annotations.
#include <cmath>
#include <cstdio>
#include <vector>

#include "xgrad/autograd/tools/inspect_internal.hpp"

namespace xg {

namespace inspect_detail {

void annotate(Node& node, std::span<const Tensor> inputs, const Tensor& output) {
  auto a = std::make_unique<InspectAnnotation>();
  a->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) a->inputs.push_back(t.impl());
  a->output = output.impl();
  node.annotation() = std::move(a);
}

std::string number(double v, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v == 0 ? 0.0 : v);  // no "-0"
  return buf;
}

void nested(std::string& out, const std::vector<double>& v, const Shape& s, int axis, int64_t& pos,
            int precision, bool integral) {
  if (axis == s.rank()) {
    const double x = v[static_cast<std::size_t>(pos++)];
    out += integral ? std::to_string(static_cast<int64_t>(x)) : number(x, precision);
    return;
  }
  out += '[';
  for (int64_t i = 0; i < s[axis]; ++i) {
    if (i) out += ", ";
    nested(out, v, s, axis + 1, pos, precision, integral);
  }
  out += ']';
}

// prefix + n, written so that GCC 12 does not warn (-Wrestrict false positive on "lit" + string).
std::string tag(const char* prefix, std::size_t n) {
  std::string r = prefix;
  r += std::to_string(n);
  return r;
}

static std::string shape_dtype(const Tensor& t) {  // (format_values above max_values)
  std::string r = "<";                             // (appended, as tag above)
  r += t.shape().str();
  r += ' ';
  r += dtype_name(t.dtype());
  return r + '>';
}

std::string summary_stats(const Tensor& t, int precision) {
  const std::vector<double> v = t.to_vector<double>();
  if (v.empty()) return "{empty}";
  double lo = v[0], hi = v[0], sum = 0, sq = 0;
  for (double x : v) {
    lo = std::fmin(lo, x);
    hi = std::fmax(hi, x);
    sum += x;
    sq += x * x;
  }
  for (double x : v)
    if (std::isnan(x)) lo = hi = x;  // (fmin and fmax would skip it)
  const auto n = static_cast<double>(v.size());
  const double mean = sum / n;
  double dev = 0;
  for (double x : v) dev += (x - mean) * (x - mean);
  const double sd = v.size() > 1 ? std::sqrt(dev / (n - 1)) : NAN;
  std::string r = "{min ";
  r += number(lo, precision);
  r += ", max " + number(hi, precision);
  r += ", mean " + number(mean, precision);
  r += ", std " + number(sd, precision);
  r += ", norm " + number(std::sqrt(sq), precision);
  return r + "}";
}

// Index of the first NaN or Inf element, or -1.
int64_t first_non_finite(const Tensor& t) {
  if (!t.defined() || !t.is_floating_point()) return -1;
  const int64_t n = t.numel();
  auto scan = [n](const auto* p) -> int64_t {
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) return i;
    return -1;
  };
  return t.dtype() == Dtype::float32 ? scan(t.data<float>()) : scan(t.data<double>());
}

std::string unravel(int64_t flat, const Shape& s) {
  std::vector<int64_t> idx(static_cast<std::size_t>(s.rank()));
  for (int i = s.rank() - 1; i >= 0; --i) {
    idx[static_cast<std::size_t>(i)] = s[i] ? flat % s[i] : 0;
    flat = s[i] ? flat / s[i] : 0;
  }
  std::string r = "[";
  for (std::size_t i = 0; i < idx.size(); ++i) r += (i ? ", " : "") + std::to_string(idx[i]);
  return r + "]";
}

double element(const Tensor& t, int64_t i) {
  return t.dtype() == Dtype::float32 ? static_cast<double>(t.data<float>()[i]) : t.data<double>()[i];
}

std::string with_shape(const TapeInput& in) {
  if (!in.shape_known) return "? (a constant)";
  if (!in.requires_grad && in.value.defined() && in.value.numel() == 1 &&
      in.label == format_values(in.value, 4, 1))
    return in.label;  // a scalar constant: its value says it all
  return in.label + " " + in.shape.str();
}

// "t2 [2] from 'sub' (step 2)", "W1 [2, 2] (a leaf)", "0.5 (a constant)"
std::string provenance(const TapeInput& in) {
  if (in.producer_step)
    return with_shape(in) + " from '" + in.producer_op + "' (step " + std::to_string(in.producer_step) + ")";
  if (in.is_leaf) return with_shape(in) + " (a leaf)";
  return with_shape(in) + " (a constant)";
}

bool close_to(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || !(a.shape() == b.shape())) return false;
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  const double rtol = a.dtype() == Dtype::float64 && b.dtype() == Dtype::float64 ? 1e-9 : 1e-4;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::fabs(x[i] - y[i]) <= rtol * (1.0 + std::fabs(y[i])))) return false;
  return true;
}

TapeInput TapeView::input(const Node& n, std::size_t k) const {
  TapeInput in;
  const Edge& e = n.edges()[k];
  const auto* a = annotation_of(n);
  const std::shared_ptr<TensorImpl>* impl = a && k < a->inputs.size() ? &a->inputs[k] : nullptr;
  if (e.fn) {
    in.producer_step = step(e.fn.get());
    in.producer_op = e.fn->name();
    in.label = impl && !(*impl)->name.empty() ? (*impl)->name : output_label(*e.fn);
    in.shape = e.fn->output_shape(e.output_nr);
    in.requires_grad = true;
    in.value = impl ? Tensor(*impl) : output_value(*e.fn);
  } else if (e.leaf) {
    in.label = leaf_label(e.leaf.get());
    in.shape = e.leaf->shape;
    in.requires_grad = true;
    in.is_leaf = true;
    in.value = Tensor(e.leaf);
  } else if (impl) {
    in.label = leaf_label(impl->get());
    in.shape = (*impl)->shape;
    in.value = Tensor(*impl);
  } else {
    in.label.assign(1, '?');  // (not = "?": GCC 12 warns falsely here, -Wrestrict)
    in.shape_known = false;
  }
  return in;
}

}  // namespace inspect_detail

using namespace inspect_detail;

std::string summarize_values(const Tensor& t, int precision) {
  if (!t.defined()) return "<undefined>";
  std::string r = t.shape().str();
  r += ' ';
  r += dtype_name(t.dtype());
  r += ' ';
  return r + summary_stats(t, precision);
}

std::string format_values(const Tensor& t, int precision, int64_t max_values) {
  if (!t.defined()) return "<undefined>";
  if (t.numel() > max_values) return shape_dtype(t);
  const std::vector<double> v = t.to_vector<double>();
  std::string out;
  int64_t pos = 0;
  nested(out, v, t.shape(), 0, pos, precision, t.dtype() == Dtype::int64);
  return out;
}

}  // namespace xg
