#include "xgrad/nn/conv.hpp"

#include <cmath>

#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/nn/repr.hpp"

namespace xg::nn {

namespace {
// Checks what PyTorch's _ConvNd checks, naming the layer.
void check_conv_options(const char* layer, int64_t in, int64_t out, int64_t groups, Size2 k, Size2 s, Size2 p,
                        Size2 d) {
  auto fail = [&](const std::string& why) { throw ValueError(std::string(layer) + ": " + why); };
  if (in <= 0) fail("in_channels must be positive, got " + std::to_string(in));
  if (out <= 0) fail("out_channels must be positive, got " + std::to_string(out));
  if (groups <= 0) fail("groups must be positive, got " + std::to_string(groups));
  if (in % groups != 0)
    fail("in_channels " + std::to_string(in) + " must be divisible by groups " + std::to_string(groups));
  if (out % groups != 0)
    fail("out_channels " + std::to_string(out) + " must be divisible by groups " + std::to_string(groups));
  if (k.h <= 0 || k.w <= 0) fail("kernel_size must be positive, got " + detail::repr_tuple(k));
  if (s.h <= 0 || s.w <= 0) fail("stride must be positive, got " + detail::repr_tuple(s));
  if (p.h < 0 || p.w < 0) fail("padding must be non-negative, got " + detail::repr_tuple(p));
  if (d.h <= 0 || d.w <= 0) fail("dilation must be positive, got " + detail::repr_tuple(d));
}

// kaiming_uniform(a = sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias.
void reset_conv(const Tensor& weight, const Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound =
        1.0 / std::sqrt(static_cast<double>(init::calculate_fan_in_and_fan_out(weight).first));
    init::uniform_(bias, -bound, bound);
  }
}

std::string tuple1(int64_t v) {
  std::string s =
      std::to_string(v);  // appended piece by piece: GCC 12 warns (-Wrestrict) on "(" + to_string(..)
  s.insert(0, 1, '(');
  return s.append(",)");
}
}  // namespace

Conv2d::Conv2d(Conv2dOptions o) : Module("Conv2d"), options_(o) {
  check_conv_options("Conv2d", o.in_channels, o.out_channels, o.groups, o.kernel_size, o.stride, o.padding,
                     o.dilation);
  weight = register_parameter(
      "weight", empty({o.out_channels, o.in_channels / o.groups, o.kernel_size.h, o.kernel_size.w}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_channels}));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  reset_conv(weight, bias);
}

Tensor Conv2d::forward(const Tensor& x) {
  if (x.defined() && (x.dim() == 3 || x.dim() == 4) && x.size(-3) != options_.in_channels)
    throw ShapeError("Conv2d: input " + x.shape().str() + " has " + std::to_string(x.size(-3)) +
                     " channels, expected in_channels = " + std::to_string(options_.in_channels) +
                     " (Conv2d(" + extra_repr() + "), weight " + weight.shape().str() + ")");
  if (x.defined() && x.dim() != 3 && x.dim() != 4)
    throw ShapeError("Conv2d: expected an input [N, C, H, W] or [C, H, W], got " + x.shape().str() +
                     " (Conv2d(" + extra_repr() + "))");
  return functional::conv2d(x, weight, bias, options_.stride, options_.padding, options_.dilation,
                            options_.groups);
}

std::string Conv2d::extra_repr() const {
  const Conv2dOptions& o = options_;
  std::string s = std::to_string(o.in_channels) + ", " + std::to_string(o.out_channels) +
                  ", kernel_size=" + detail::repr_tuple(o.kernel_size) +
                  ", stride=" + detail::repr_tuple(o.stride);
  if (o.padding.h != 0 || o.padding.w != 0) s += ", padding=" + detail::repr_tuple(o.padding);
  if (o.dilation.h != 1 || o.dilation.w != 1) s += ", dilation=" + detail::repr_tuple(o.dilation);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!bias.defined()) s += ", bias=false";
  return s;
}

Conv1d::Conv1d(Conv1dOptions o) : Module("Conv1d"), options_(o) {
  check_conv_options("Conv1d", o.in_channels, o.out_channels, o.groups, o.kernel_size, o.stride, o.padding,
                     o.dilation);
  weight = register_parameter("weight", empty({o.out_channels, o.in_channels / o.groups, o.kernel_size}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_channels}));
  reset_parameters();
}

void Conv1d::reset_parameters() {
  reset_conv(weight, bias);
}

Tensor Conv1d::forward(const Tensor& x) {
  if (x.defined() && (x.dim() == 2 || x.dim() == 3) && x.size(-2) != options_.in_channels)
    throw ShapeError("Conv1d: input " + x.shape().str() + " has " + std::to_string(x.size(-2)) +
                     " channels, expected in_channels = " + std::to_string(options_.in_channels) +
                     " (Conv1d(" + extra_repr() + "), weight " + weight.shape().str() + ")");
  if (x.defined() && x.dim() != 2 && x.dim() != 3)
    throw ShapeError("Conv1d: expected an input [N, C, L] or [C, L], got " + x.shape().str() + " (Conv1d(" +
                     extra_repr() + "))");
  return functional::conv1d(x, weight, bias, options_.stride, options_.padding, options_.dilation,
                            options_.groups);
}

std::string Conv1d::extra_repr() const {
  const Conv1dOptions& o = options_;
  std::string s = std::to_string(o.in_channels) + ", " + std::to_string(o.out_channels) +
                  ", kernel_size=" + tuple1(o.kernel_size) + ", stride=" + tuple1(o.stride);
  if (o.padding != 0) s += ", padding=" + tuple1(o.padding);
  if (o.dilation != 1) s += ", dilation=" + tuple1(o.dilation);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!bias.defined()) s += ", bias=false";
  return s;
}

}  // namespace xg::nn
