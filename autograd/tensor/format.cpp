// Printing tensors (operator<< and to_string): PyTorch's layout, summarised above 1000 values.
#include "xgrad/autograd/tensor/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "xgrad/autograd/tape/node.hpp"

namespace xg {

namespace {
constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Formatter {
  bool integral = true;  // int64, or floats that are all whole numbers
  bool scientific = false;
  int width = 1;
  std::string format(double v) const {
    std::ostringstream s;
    if (integral && std::fabs(v) < 0x1p63) {
      s << static_cast<long long>(v);
      if (!is_int) s << '.';
    } else if (integral) {  // +-2^63: int64's extremes as doubles, no longer a long long
      s << std::fixed << std::setprecision(0) << v;
      if (!is_int) s << '.';
    } else if (scientific) {
      s << std::scientific << std::setprecision(4) << v;
    } else {
      s << std::fixed << std::setprecision(4) << v;
    }
    return s.str();
  }
  bool is_int = false;
};

void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& s, int axis, int64_t offset,
               const std::vector<int64_t>& strides, const Formatter& f, bool summarise, int indent) {
  const int64_t n = s[axis];
  auto visit = [&](int64_t i) {
    if (axis == s.rank() - 1) {
      std::string txt = f.format(v[static_cast<std::size_t>(offset + i)]);
      os << std::string(static_cast<std::size_t>(std::max<int>(0, f.width - static_cast<int>(txt.size()))),
                        ' ')
         << txt;
    } else {
      print_rec(os, v, s, axis + 1, offset + i * strides[axis], strides, f, summarise, indent + 1);
    }
  };
  os << '[';
  const bool cut = summarise && n > 2 * kEdgeItems;
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      os << (axis == s.rank() - 1 ? "..., "
                                  : "...,\n" + std::string(static_cast<std::size_t>(indent + 1), ' '));
      i = n - kEdgeItems;
    }
    visit(i);
    if (i + 1 < n) {
      if (axis == s.rank() - 1)
        os << ", ";
      else
        os << ',' << std::string(static_cast<std::size_t>(s.rank() - 1 - axis), '\n')
           << std::string(static_cast<std::size_t>(indent + 1), ' ');
    }
  }
  os << ']';
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const bool summarise = t.numel() > kSummariseAbove;
  std::vector<double> v = t.to_vector<double>();
  Formatter f;
  f.is_int = t.dtype() == Dtype::int64;
  double max_abs = 0, min_abs = 0;
  bool any_nonzero = false, nonfinite = false;
  for (double x : v) {
    if (!std::isfinite(x)) {
      nonfinite = true;
      continue;
    }
    if (x != std::floor(x)) f.integral = false;
    const double a = std::fabs(x);
    max_abs = std::max(max_abs, a);
    if (a > 0 && (!any_nonzero || a < min_abs)) min_abs = a;
    if (a > 0) any_nonzero = true;
  }
  if (nonfinite && !f.is_int) f.integral = false;
  if (f.integral && max_abs >= 1e8 && !f.is_int) f.integral = false;
  if (!f.integral) f.scientific = max_abs >= 1e8 || (any_nonzero && min_abs < 1e-4);
  for (double x : v) f.width = std::max<int>(f.width, static_cast<int>(f.format(x).size()));
  os << "tensor(";
  if (t.dim() == 0) {
    os << f.format(v[0]);
  } else {
    print_rec(os, v, t.shape(), 0, 0, contiguous_strides(t.shape()), f, summarise, 7);
  }
  if (summarise || t.numel() == 0) os << ", shape=" << t.shape().str();
  if (t.dtype() == Dtype::float64) os << ", dtype=float64";
  if (t.grad_fn())
    os << ", grad_fn=" << t.grad_fn()->name();
  else if (t.requires_grad())
    os << ", requires_grad=true";
  if (!t.name().empty()) os << ", name=\"" << t.name() << '"';
  return os << ')';
}

std::string to_string(const Tensor& t) {
  std::ostringstream s;
  s << t;
  return s.str();
}

}  // namespace xg
