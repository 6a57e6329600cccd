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
  return functional::adaptive_avg_pool2d(x, output_size_);
}
std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + detail::repr_size(output_size_);
}

Flatten::Flatten(int64_t start_dim, int64_t end_dim)
    : Module("Flatten"), start_dim_(start_dim), end_dim_(end_dim) {}
Tensor Flatten::forward(const Tensor& x) {
  if (!x.defined()) throw ValueError("Flatten: the input is undefined");
  return flatten(x, start_dim_, end_dim_);
}
std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim_) + ", end_dim=" + std::to_string(end_dim_);
}

}  // namespace xg::nn
