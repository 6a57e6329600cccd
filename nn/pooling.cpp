#include "xgrad/nn/pooling.hpp"

#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/repr.hpp"

namespace xg::nn {

namespace {
void check_pool(const char* layer, Size2 k, std::optional<Size2> s, Size2 p) {
  auto fail = [&](const std::string& why) { throw ValueError(std::string(layer) + ": " + why); };
  if (k.h <= 0 || k.w <= 0) fail("kernel_size must be positive, got " + detail::repr_tuple(k));
  if (s && (s->h <= 0 || s->w <= 0)) fail("stride must be positive, got " + detail::repr_tuple(*s));
  if (p.h < 0 || p.w < 0 || 2 * p.h > k.h || 2 * p.w > k.w)
    fail("padding must be non-negative and at most half the kernel size, got padding " +
         detail::repr_tuple(p) + " for kernel_size " + detail::repr_tuple(k));
}
}  // namespace

MaxPool2d::MaxPool2d(MaxPool2dOptions o) : Module("MaxPool2d"), options_(o) {
  check_pool("MaxPool2d", o.kernel_size, o.stride, o.padding);
  if (o.dilation.h <= 0 || o.dilation.w <= 0)
    throw ValueError("MaxPool2d: dilation must be positive, got " + detail::repr_tuple(o.dilation));
}
Tensor MaxPool2d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  const MaxPool2dOptions& o = options_;
  return functional::max_pool2d(x, o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode);
}
std::string MaxPool2d::extra_repr() const {
  const MaxPool2dOptions& o = options_;
  return "kernel_size=" + detail::repr_size(o.kernel_size) +
         ", stride=" + detail::repr_size(o.stride.value_or(o.kernel_size)) +
         ", padding=" + detail::repr_size(o.padding) + ", dilation=" + detail::repr_size(o.dilation) +
         ", ceil_mode=" + detail::repr_bool(o.ceil_mode);
}

AvgPool2d::AvgPool2d(AvgPool2dOptions o) : Module("AvgPool2d"), options_(o) {
  check_pool("AvgPool2d", o.kernel_size, o.stride, o.padding);
  if (o.divisor_override && *o.divisor_override <= 0)
    throw ValueError("AvgPool2d: divisor_override must be positive, got " +
                     std::to_string(*o.divisor_override));
}
Tensor AvgPool2d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  const AvgPool2dOptions& o = options_;
  return functional::avg_pool2d(x, o.kernel_size, o.stride, o.padding, o.ceil_mode, o.count_include_pad,
                                o.divisor_override);
}
std::string AvgPool2d::extra_repr() const {
  const AvgPool2dOptions& o = options_;
  std::string s = "kernel_size=" + detail::repr_size(o.kernel_size) +
                  ", stride=" + detail::repr_size(o.stride.value_or(o.kernel_size)) +
                  ", padding=" + detail::repr_size(o.padding);
  if (o.ceil_mode) s += ", ceil_mode=true";
  if (!o.count_include_pad) s += ", count_include_pad=false";
  if (o.divisor_override) s += ", divisor_override=" + std::to_string(*o.divisor_override);
  return s;
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output_size)
    : Module("AdaptiveAvgPool2d"), output_size_(output_size) {
  if (output_size.h <= 0 || output_size.w <= 0)
    throw ValueError("AdaptiveAvgPool2d: output_size must be positive, got " +
                     detail::repr_tuple(output_size));
}
Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::adaptive_avg_pool2d(x, output_size_);
}
std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + detail::repr_size(output_size_);
}

Flatten::Flatten(int64_t start_dim, int64_t end_dim)
    : Module("Flatten"), start_dim_(start_dim), end_dim_(end_dim) {}
Tensor Flatten::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  if (!x.defined()) throw ValueError("Flatten: the input is undefined");
  return flatten(x, start_dim_, end_dim_);
}
std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim_) + ", end_dim=" + std::to_string(end_dim_);
}

namespace {
void check_pool1d(const char* layer, int64_t k, std::optional<int64_t> s, int64_t p, int64_t d) {
  auto fail = [&](const std::string& why) { throw ValueError(std::string(layer) + ": " + why); };
  if (k <= 0) fail("kernel_size must be positive, got " + std::to_string(k));
  if (s && *s <= 0) fail("stride must be positive, got " + std::to_string(*s));
  if (d <= 0) fail("dilation must be positive, got " + std::to_string(d));
  if (p < 0 || 2 * p > k)
    fail("padding must be non-negative and at most half the kernel size, got padding " + std::to_string(p) +
         " for kernel_size " + std::to_string(k));
}
std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
std::string tuple1(int64_t v) {
  std::string s = "(";  // appended: GCC 12 warns on "(" + s
  s += std::to_string(v);
  return s + ",)";
}
}  // namespace

MaxPool1d::MaxPool1d(MaxPool1dOptions o) : Module("MaxPool1d"), options_(o) {
  check_pool1d("MaxPool1d", o.kernel_size, o.stride, o.padding, o.dilation);
}
Tensor MaxPool1d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  const MaxPool1dOptions& o = options_;
  return functional::max_pool1d(x, o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode);
}
std::pair<Tensor, Tensor> MaxPool1d::forward_with_indices(const Tensor& x) {
  const MaxPool1dOptions& o = options_;
  return functional::max_pool1d_with_indices(x, o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode);
}
std::string MaxPool1d::extra_repr() const {
  const MaxPool1dOptions& o = options_;
  return "kernel_size=" + std::to_string(o.kernel_size) +
         ", stride=" + std::to_string(o.stride.value_or(o.kernel_size)) +
         ", padding=" + std::to_string(o.padding) + ", dilation=" + std::to_string(o.dilation) +
         ", ceil_mode=" + detail::repr_bool(o.ceil_mode);
}

AvgPool1d::AvgPool1d(AvgPool1dOptions o) : Module("AvgPool1d"), options_(o) {
  check_pool1d("AvgPool1d", o.kernel_size, o.stride, o.padding, 1);
}
Tensor AvgPool1d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  const AvgPool1dOptions& o = options_;
  return functional::avg_pool1d(x, o.kernel_size, o.stride, o.padding, o.ceil_mode, o.count_include_pad);
}
std::string AvgPool1d::extra_repr() const {
  const AvgPool1dOptions& o = options_;
  return "kernel_size=" + tuple1(o.kernel_size) + ", stride=" + tuple1(o.stride.value_or(o.kernel_size)) +
         ", padding=" + tuple1(o.padding);
}

AdaptiveAvgPool1d::AdaptiveAvgPool1d(int64_t output_size)
    : Module("AdaptiveAvgPool1d"), output_size_(output_size) {
  if (output_size <= 0)
    throw ValueError("AdaptiveAvgPool1d: output_size must be positive, got " + std::to_string(output_size));
}
Tensor AdaptiveAvgPool1d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::adaptive_avg_pool1d(x, output_size_);
}
std::string AdaptiveAvgPool1d::extra_repr() const {
  return "output_size=" + std::to_string(output_size_);
}

AdaptiveMaxPool1d::AdaptiveMaxPool1d(int64_t output_size)
    : Module("AdaptiveMaxPool1d"), output_size_(output_size) {
  if (output_size <= 0)
    throw ValueError("AdaptiveMaxPool1d: output_size must be positive, got " + std::to_string(output_size));
}
Tensor AdaptiveMaxPool1d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::adaptive_max_pool1d(x, output_size_);
}
std::pair<Tensor, Tensor> AdaptiveMaxPool1d::forward_with_indices(const Tensor& x) {
  return functional::adaptive_max_pool1d_with_indices(x, output_size_);
}
std::string AdaptiveMaxPool1d::extra_repr() const {
  return "output_size=" + std::to_string(output_size_);
}

AdaptiveMaxPool2d::AdaptiveMaxPool2d(Size2 output_size)
    : Module("AdaptiveMaxPool2d"), output_size_(output_size) {
  if (output_size.h <= 0 || output_size.w <= 0)
    throw ValueError("AdaptiveMaxPool2d: output_size must be positive, got " +
                     detail::repr_tuple(output_size));
}
Tensor AdaptiveMaxPool2d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::adaptive_max_pool2d(x, output_size_);
}
std::pair<Tensor, Tensor> AdaptiveMaxPool2d::forward_with_indices(const Tensor& x) {
  return functional::adaptive_max_pool2d_with_indices(x, output_size_);
}
std::string AdaptiveMaxPool2d::extra_repr() const {
  return "output_size=" + detail::repr_size(output_size_);
}

Unflatten::Unflatten(int64_t dim, std::vector<int64_t> unflattened_size)
    : Module("Unflatten"), dim_(dim), sizes_(std::move(unflattened_size)) {
  if (sizes_.empty()) throw ValueError("Unflatten: unflattened_size is empty");
  int inferred = 0;
  for (int64_t v : sizes_) {
    if (v == -1)
      ++inferred;
    else if (v < 0)
      throw ValueError("Unflatten: unflattened_size entries must be non-negative or -1, got " +
                       ints_str(sizes_));
  }
  if (inferred > 1)
    throw ValueError("Unflatten: at most one unflattened_size entry may be -1, got " + ints_str(sizes_));
}
Tensor Unflatten::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  if (!x.defined()) throw ValueError("Unflatten: the input is undefined");
  if (dim_ < -x.dim() || dim_ >= x.dim())
    throw IndexError("Unflatten: dim " + std::to_string(dim_) + " is out of range for input " +
                     x.shape().str());
  const int64_t d = dim_ < 0 ? dim_ + x.dim() : dim_;
  int64_t known = 1;
  bool infer = false;
  for (int64_t v : sizes_) {
    if (v == -1)
      infer = true;
    else
      known *= v;
  }
  const int64_t n = x.size(static_cast<int>(d));
  if (infer ? (known == 0 || n % known != 0) : known != n)
    throw ShapeError("Unflatten: unflattened_size " + ints_str(sizes_) + " does not fill axis " +
                     std::to_string(d) + " of extent " + std::to_string(n) + " (input " + x.shape().str() +
                     ")");
  Shape out;
  for (int64_t a = 0; a < x.dim(); ++a) {
    if (a != d) {
      out.push_back(x.size(static_cast<int>(a)));
      continue;
    }
    for (int64_t v : sizes_) out.push_back(v == -1 ? n / known : v);
  }
  return reshape(x, out);
}
std::string Unflatten::extra_repr() const {
  std::string s = "dim=" + std::to_string(dim_) + ", unflattened_size=(";
  for (std::size_t i = 0; i < sizes_.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes_[i]);
  return s + (sizes_.size() == 1 ? ",)" : ")");
}

}  // namespace xg::nn
