#include "xgrad/nn/conv.hpp"

#include <cmath>
#include <vector>

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

// The layer's padding string: empty, "same" (stride 1 only) or "valid", as PyTorch checks them.
void check_padding(const char* layer, const std::string& str, bool strided, const std::string& mode) {
  if (!str.empty() && str != "same" && str != "valid")
    throw ValueError(std::string(layer) + ": invalid padding string '" + str +
                     "', should be one of {'valid', 'same'}");
  if (str == "same" && strided)
    throw ValueError(std::string(layer) + ": padding='same' is not supported for strided convolutions");
  if (mode != "zeros" && mode != "reflect" && mode != "replicate" && mode != "circular")
    throw ValueError(std::string(layer) +
                     ": padding_mode must be one of {'zeros', 'circular', 'replicate', " +
                     "'reflect'}, but got padding_mode='" + mode + "'");
}

// One axis' (before, after) padding: "same" pads d (k - 1) in all, the odd one after (PyTorch's
// choice for even kernels), "valid" none, otherwise p on both sides.
std::pair<int64_t, int64_t> axis_pads(const std::string& str, int64_t p, int64_t k, int64_t d) {
  if (str == "valid") return {0, 0};
  if (str == "same") {
    const int64_t total = d * (k - 1);
    return {total / 2, total - total / 2};
  }
  return {p, p};
}

// The input padded by hand when conv2d's own symmetric zero padding cannot do it: a padding_mode
// other than zeros, or the asymmetric "same" of an even kernel. x is batched.
Tensor pad_input(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode) {
  if (mode == "zeros") return pad(x, pads, 0.0);
  const PadMode m = mode == "reflect"     ? PadMode::reflect
                    : mode == "replicate" ? PadMode::replicate
                                          : PadMode::circular;
  return pad(x, pads, m);
}

// The output_padding that gives a transposed convolution the requested output size, as PyTorch's
// forward(input, output_size): each size in [min, min + stride - 1], min its size with none.
std::vector<int64_t> output_padding_for(const char* layer, const Tensor& x, const std::vector<int64_t>& want,
                                        const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                                        const std::vector<int64_t>& p, const std::vector<int64_t>& d) {
  const std::size_t n = k.size();
  // the spatial sizes, or the whole output shape (batched or not, as the input)
  const auto full = static_cast<std::size_t>(x.dim());
  if (want.size() != n && want.size() != full)
    throw ValueError(std::string(layer) + ": output_size must have " + std::to_string(n) + " or " +
                     std::to_string(full) + " elements for an input of shape " + x.shape().str() + ", got " +
                     std::to_string(want.size()));
  auto list = [](const std::vector<int64_t>& v) {
    std::string r = "[";
    for (std::size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + std::to_string(v[i]);
    return r + "]";
  };
  std::vector<int64_t> out(want.end() - static_cast<std::ptrdiff_t>(n), want.end()), lo(n), hi(n), in(n),
      op(n);
  bool ok = true;
  for (std::size_t i = 0; i < n; ++i) {
    in[i] = x.size(static_cast<int64_t>(i) - static_cast<int64_t>(n));
    lo[i] = (in[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + 1;
    hi[i] = lo[i] + s[i] - 1;
    ok = ok && out[i] >= lo[i] && out[i] <= hi[i];
    op[i] = out[i] - lo[i];
  }
  if (!ok)
    throw ValueError(std::string(layer) + ": requested an output size of " + list(out) +
                     ", but valid sizes range from " + list(lo) + " to " + list(hi) + " (for an input of " +
                     list(in) + ")");
  return op;
}

void check_input(const char* layer, const Tensor& x, int spatial, int64_t in_channels,
                 const std::string& repr, const Tensor& weight) {
  if (!x.defined()) return;  // the functional op reports it
  const char* dims = spatial == 2 ? "[N, C, H, W] or [C, H, W]" : "[N, C, L] or [C, L]";
  if (x.dim() != spatial + 1 && x.dim() != spatial + 2)
    throw ShapeError(std::string(layer) + ": expected an input " + dims + ", got " + x.shape().str() + " (" +
                     layer + "(" + repr + "))");
  if (x.size(-spatial - 1) != in_channels)
    throw ShapeError(std::string(layer) + ": input " + x.shape().str() + " has " +
                     std::to_string(x.size(-spatial - 1)) +
                     " channels, expected in_channels = " + std::to_string(in_channels) + " (" + layer + "(" +
                     repr + "), weight " + weight.shape().str() + ")");
}

void check_output_padding(const char* layer, Size2 op, Size2 s, Size2 d) {
  if (op.h < 0 || op.w < 0)
    throw ValueError(std::string(layer) + ": output_padding must be non-negative, got " +
                     detail::repr_tuple(op));
  if ((op.h >= s.h && op.h >= d.h) || (op.w >= s.w && op.w >= d.w))
    throw ValueError(std::string(layer) + ": output_padding " + detail::repr_tuple(op) +
                     " must be smaller than either stride " + detail::repr_tuple(s) + " or dilation " +
                     detail::repr_tuple(d));
}

std::string tuple1(int64_t v) {
  std::string s =
      std::to_string(v);  // appended piece by piece: GCC 12 warns (-Wrestrict) on "(" + to_string(..)
  s.insert(0, 1, '(');
  return s.append(",)");
}
}  // namespace

Conv2d::Conv2d(Conv2dOptions o) : Module("Conv2d"), options_(o) {
  check_conv_options("Conv2d", o.in_channels, o.out_channels, o.groups, o.kernel_size, o.stride,
                     {o.padding.h, o.padding.w}, o.dilation);
  check_padding("Conv2d", o.padding.str, o.stride.h != 1 || o.stride.w != 1, o.padding_mode);
  const auto [hl, hr] = axis_pads(o.padding.str, o.padding.h, o.kernel_size.h, o.dilation.h);
  const auto [wl, wr] = axis_pads(o.padding.str, o.padding.w, o.kernel_size.w, o.dilation.w);
  pads_ = {wl, wr, hl, hr};
  weight = register_parameter(
      "weight", empty({o.out_channels, o.in_channels / o.groups, o.kernel_size.h, o.kernel_size.w}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_channels}));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  reset_conv(weight, bias);
}

Tensor Conv2d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  check_input("Conv2d", x, 2, options_.in_channels, extra_repr(), weight);
  const Conv2dOptions& o = options_;
  const auto& q = pads_;
  if (o.padding_mode == "zeros" && q[0] == q[1] && q[2] == q[3])
    return functional::conv2d(x, weight, bias, o.stride, Size2{q[2], q[0]}, o.dilation, o.groups);
  const bool unbatched = x.dim() == 3;  // pad's modes want the batched form
  const Tensor xp = pad_input(unbatched ? unsqueeze(x, 0) : x, {q.begin(), q.end()}, o.padding_mode);
  const Tensor y = functional::conv2d(xp, weight, bias, o.stride, 0, o.dilation, o.groups);
  return unbatched ? squeeze(y, 0) : y;
}

std::string Conv2d::extra_repr() const {
  const Conv2dOptions& o = options_;
  std::string s = std::to_string(o.in_channels) + ", " + std::to_string(o.out_channels) +
                  ", kernel_size=" + detail::repr_tuple(o.kernel_size) +
                  ", stride=" + detail::repr_tuple(o.stride);
  if (!o.padding.str.empty())
    s += ", padding=" + o.padding.str;
  else if (o.padding.h != 0 || o.padding.w != 0)
    s += ", padding=" + detail::repr_tuple({o.padding.h, o.padding.w});
  if (o.dilation.h != 1 || o.dilation.w != 1) s += ", dilation=" + detail::repr_tuple(o.dilation);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!bias.defined()) s += ", bias=false";
  if (o.padding_mode != "zeros") s += ", padding_mode=" + o.padding_mode;
  return s;
}

Conv1d::Conv1d(Conv1dOptions o) : Module("Conv1d"), options_(o) {
  check_conv_options("Conv1d", o.in_channels, o.out_channels, o.groups, o.kernel_size, o.stride,
                     o.padding.value, o.dilation);
  check_padding("Conv1d", o.padding.str, o.stride != 1, o.padding_mode);
  const auto [l, r] = axis_pads(o.padding.str, o.padding.value, o.kernel_size, o.dilation);
  pads_ = {l, r};
  weight = register_parameter("weight", empty({o.out_channels, o.in_channels / o.groups, o.kernel_size}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_channels}));
  reset_parameters();
}

void Conv1d::reset_parameters() {
  reset_conv(weight, bias);
}

Tensor Conv1d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  check_input("Conv1d", x, 1, options_.in_channels, extra_repr(), weight);
  const Conv1dOptions& o = options_;
  if (o.padding_mode == "zeros" && pads_[0] == pads_[1])
    return functional::conv1d(x, weight, bias, o.stride, pads_[0], o.dilation, o.groups);
  const bool unbatched = x.dim() == 2;
  const Tensor xp = pad_input(unbatched ? unsqueeze(x, 0) : x, {pads_[0], pads_[1]}, o.padding_mode);
  const Tensor y = functional::conv1d(xp, weight, bias, o.stride, 0, o.dilation, o.groups);
  return unbatched ? squeeze(y, 0) : y;
}

std::string Conv1d::extra_repr() const {
  const Conv1dOptions& o = options_;
  std::string s = std::to_string(o.in_channels) + ", " + std::to_string(o.out_channels) +
                  ", kernel_size=" + tuple1(o.kernel_size) + ", stride=" + tuple1(o.stride);
  if (!o.padding.str.empty())
    s += ", padding=" + o.padding.str;
  else if (o.padding.value != 0)
    s += ", padding=" + tuple1(o.padding.value);
  if (o.dilation != 1) s += ", dilation=" + tuple1(o.dilation);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!bias.defined()) s += ", bias=false";
  if (o.padding_mode != "zeros") s += ", padding_mode=" + o.padding_mode;
  return s;
}

ConvTranspose2d::ConvTranspose2d(ConvTranspose2dOptions o) : Module("ConvTranspose2d"), options_(o) {
  check_conv_options("ConvTranspose2d", o.in_channels, o.out_channels, o.groups, o.kernel_size, o.stride,
                     o.padding, o.dilation);
  check_output_padding("ConvTranspose2d", o.output_padding, o.stride, o.dilation);
  weight = register_parameter(
      "weight", empty({o.in_channels, o.out_channels / o.groups, o.kernel_size.h, o.kernel_size.w}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_channels}));
  reset_parameters();
}

void ConvTranspose2d::reset_parameters() {
  reset_conv(weight, bias);  // fan_in = weight.size(1) * kh * kw, as PyTorch computes it
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  check_input("ConvTranspose2d", x, 2, options_.in_channels, extra_repr(), weight);
  const ConvTranspose2dOptions& o = options_;
  return functional::conv_transpose2d(x, weight, bias, o.stride, o.padding, o.output_padding, o.groups,
                                      o.dilation);
}

Tensor ConvTranspose2d::forward(const Tensor& x, const std::vector<int64_t>& output_size) {
  const ModuleScope scope(*this);
  check_input("ConvTranspose2d", x, 2, options_.in_channels, extra_repr(), weight);
  const ConvTranspose2dOptions& o = options_;
  const auto op =
      output_padding_for("ConvTranspose2d", x, output_size, {o.kernel_size.h, o.kernel_size.w},
                         {o.stride.h, o.stride.w}, {o.padding.h, o.padding.w}, {o.dilation.h, o.dilation.w});
  return functional::conv_transpose2d(x, weight, bias, o.stride, o.padding, {op[0], op[1]}, o.groups,
                                      o.dilation);
}

std::string ConvTranspose2d::extra_repr() const {
  const ConvTranspose2dOptions& o = options_;
  std::string s = std::to_string(o.in_channels) + ", " + std::to_string(o.out_channels) +
                  ", kernel_size=" + detail::repr_tuple(o.kernel_size) +
                  ", stride=" + detail::repr_tuple(o.stride);
  if (o.padding.h != 0 || o.padding.w != 0) s += ", padding=" + detail::repr_tuple(o.padding);
  if (o.dilation.h != 1 || o.dilation.w != 1) s += ", dilation=" + detail::repr_tuple(o.dilation);
  if (o.output_padding.h != 0 || o.output_padding.w != 0)
    s += ", output_padding=" + detail::repr_tuple(o.output_padding);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!bias.defined()) s += ", bias=false";
  return s;
}

ConvTranspose1d::ConvTranspose1d(ConvTranspose1dOptions o) : Module("ConvTranspose1d"), options_(o) {
  check_conv_options("ConvTranspose1d", o.in_channels, o.out_channels, o.groups, o.kernel_size, o.stride,
                     o.padding, o.dilation);
  if (o.output_padding < 0 || (o.output_padding >= o.stride && o.output_padding >= o.dilation))
    throw ValueError("ConvTranspose1d: output_padding " + tuple1(o.output_padding) +
                     " must be non-negative and smaller than either stride " + tuple1(o.stride) +
                     " or dilation " + tuple1(o.dilation));
  weight = register_parameter("weight", empty({o.in_channels, o.out_channels / o.groups, o.kernel_size}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_channels}));
  reset_parameters();
}

void ConvTranspose1d::reset_parameters() {
  reset_conv(weight, bias);
}

Tensor ConvTranspose1d::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  check_input("ConvTranspose1d", x, 1, options_.in_channels, extra_repr(), weight);
  const ConvTranspose1dOptions& o = options_;
  return functional::conv_transpose1d(x, weight, bias, o.stride, o.padding, o.output_padding, o.groups,
                                      o.dilation);
}

Tensor ConvTranspose1d::forward(const Tensor& x, const std::vector<int64_t>& output_size) {
  const ModuleScope scope(*this);
  check_input("ConvTranspose1d", x, 1, options_.in_channels, extra_repr(), weight);
  const ConvTranspose1dOptions& o = options_;
  const auto op = output_padding_for("ConvTranspose1d", x, output_size, {o.kernel_size}, {o.stride},
                                     {o.padding}, {o.dilation});
  return functional::conv_transpose1d(x, weight, bias, o.stride, o.padding, op[0], o.groups, o.dilation);
}

std::string ConvTranspose1d::extra_repr() const {
  const ConvTranspose1dOptions& o = options_;
  std::string s = std::to_string(o.in_channels) + ", " + std::to_string(o.out_channels) +
                  ", kernel_size=" + tuple1(o.kernel_size) + ", stride=" + tuple1(o.stride);
  if (o.padding != 0) s += ", padding=" + tuple1(o.padding);
  if (o.dilation != 1) s += ", dilation=" + tuple1(o.dilation);
  if (o.output_padding != 0) s += ", output_padding=" + tuple1(o.output_padding);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!bias.defined()) s += ", bias=false";
  return s;
}

}  // namespace xg::nn
