#pragma once
/// @file conv.hpp
/// @brief Convolution layers, as torch.nn.Conv1d / Conv2d / ConvTranspose1d / ConvTranspose2d, with
/// PyTorch's parameter names, layouts ([out, in / groups, k...], transposed [in, out / groups, k...])
/// and default initialisation, so weights port one to one. The work is xg::conv2d and
/// xg::conv_transpose2d (im2col + gemm, autograd/ops/conv.cpp); padding_mode pads with xg::pad.
///
/// @code
/// xg::nn::Conv2d conv1(xg::nn::Conv2dOptions{.in_channels = 1, .out_channels = 32, .kernel_size = 3,
/// .padding = 1}); auto conv2 = std::make_shared<xg::nn::Conv2d>(32, 64, 3);        // weight [64, 32, 3, 3],
/// bias [64] xg::Tensor y = conv1.forward(xg::randn({64, 1, 28, 28}));        // [64, 32, 28, 28]
/// @endcode
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/nn/module.hpp"

namespace xg::nn {

/// A convolution layer's padding, as PyTorch's int, tuple or string argument: `.padding = 1`,
/// `.padding = {1, 2}` (h, w), `.padding = "same"` (the output keeps the input's size; stride 1
/// only; for an even dilated kernel the extra row / column goes after, as PyTorch) or "valid" (none).
struct Conv2dPadding {
  int64_t h = 0, w = 0;
  std::string str;                          ///< "same" or "valid"; empty when h, w are explicit
  Conv2dPadding(int v) : h(v), w(v) {}      // NOLINT: implicit on purpose (an exact match for 0)
  Conv2dPadding(int64_t v) : h(v), w(v) {}  // NOLINT
  Conv2dPadding(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  Conv2dPadding(Size2 s) : h(s.h), w(s.w) {}           // NOLINT
  Conv2dPadding(const char* s) : str(s) {}             // NOLINT
  Conv2dPadding(std::string s) : str(std::move(s)) {}  // NOLINT
};
/// Conv1d's padding: an integer, "same" or "valid", as Conv2dPadding.
struct Conv1dPadding {
  int64_t value = 0;
  std::string str;                                     ///< "same" or "valid"; empty when value is explicit
  Conv1dPadding(int v) : value(v) {}                   // NOLINT: implicit on purpose (an exact match for 0)
  Conv1dPadding(int64_t v) : value(v) {}               // NOLINT
  Conv1dPadding(const char* s) : str(s) {}             // NOLINT
  Conv1dPadding(std::string s) : str(std::move(s)) {}  // NOLINT
};

/// Field order as PyTorch's arguments. padding_mode is "zeros" (conv2d's own padding), "reflect",
/// "replicate" or "circular" (the input padded with xg::pad's mode, then an unpadded conv2d).
struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Size2 kernel_size = 0;  ///< required; an integer gives a square kernel
  Size2 stride = 1;
  Conv2dPadding padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  std::string padding_mode = "zeros";
};

/// @brief 2-D convolution. Parameters: weight [out, in / groups, kh, kw] ~ kaiming_uniform(a = sqrt(5)),
/// i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in / groups * kh * kw; bias [out] ~ the
/// same bound. Input [N, in, H, W] (or [in, H, W]) -> [N, out, Ho, Wo],
/// Ho = (H + 2 padding - dilation (kh - 1) - 1) / stride + 1.
class Conv2d : public Module {
 public:
  explicit Conv2d(Conv2dOptions options);
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size)
      : Conv2d(Conv2dOptions{
            .in_channels = in_channels, .out_channels = out_channels, .kernel_size = kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  /// "1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)" (padding, dilation, groups,
  /// bias and padding_mode shown when not the default, as PyTorch; "padding=same").
  std::string extra_repr() const override;
  void reset_parameters();
  const Conv2dOptions& options() const { return options_; }

  Tensor weight, bias;  ///< bias undefined when options.bias is false

 private:
  Conv2dOptions options_;
  std::array<int64_t, 4> pads_{};  // (before, after) of W then H, as xg::pad's list

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Conv2d>(options_); }
};

struct Conv1dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_size = 0;  ///< required
  int64_t stride = 1;
  Conv1dPadding padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  std::string padding_mode = "zeros";  ///< as Conv2dOptions'
};

/// @brief 1-D convolution. Parameters: weight [out, in / groups, k], bias [out], initialised as
/// Conv2d's (fan_in = in / groups * k). Input [N, in, L] (or [in, L]) -> [N, out, Lo].
class Conv1d : public Module {
 public:
  explicit Conv1d(Conv1dOptions options);
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : Conv1d(Conv1dOptions{
            .in_channels = in_channels, .out_channels = out_channels, .kernel_size = kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  /// "16, 33, kernel_size=(3,), stride=(2,)" as PyTorch.
  std::string extra_repr() const override;
  void reset_parameters();
  const Conv1dOptions& options() const { return options_; }

  Tensor weight, bias;

 private:
  Conv1dOptions options_;
  std::array<int64_t, 2> pads_{};  // (before, after)

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Conv1d>(options_); }
};

/// Field order as PyTorch's arguments (note bias before dilation). PyTorch's transposed layers
/// take only padding_mode="zeros", so there is no such field.
struct ConvTranspose2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Size2 kernel_size = 0;  ///< required; an integer gives a square kernel
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;  ///< each < its stride or dilation
  int64_t groups = 1;
  bool bias = true;
  Size2 dilation = 1;
};

/// @brief 2-D transposed convolution. Parameters: weight [in, out / groups, kh, kw] ~
/// kaiming_uniform(a = sqrt(5)) with fan_in = weight.size(1) * kh * kw = out / groups * kh * kw
/// (PyTorch's computation on the transposed layout); bias [out] ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
/// Input [N, in, H, W] (or [in, H, W]) -> [N, out, Ho, Wo],
/// Ho = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1.
class ConvTranspose2d : public Module {
 public:
  explicit ConvTranspose2d(ConvTranspose2dOptions options);
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size)
      : ConvTranspose2d(ConvTranspose2dOptions{
            .in_channels = in_channels, .out_channels = out_channels, .kernel_size = kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  /// As PyTorch's forward(input, output_size): output_size gives the output's last two sizes (or
  /// its whole shape) and picks the output_padding for it (in place of options.output_padding);
  /// each must lie in [min, min + stride - 1], min the size with output_padding 0.
  Tensor forward(const Tensor& x, const std::vector<int64_t>& output_size);
  /// "4, 6, kernel_size=(2, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2),
  /// output_padding=(1, 1), groups=2, bias=false" (non-default ones shown, in PyTorch's order).
  std::string extra_repr() const override;
  void reset_parameters();
  const ConvTranspose2dOptions& options() const { return options_; }

  Tensor weight, bias;  ///< bias undefined when options.bias is false

 private:
  ConvTranspose2dOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<ConvTranspose2d>(options_); }
};

struct ConvTranspose1dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_size = 0;  ///< required
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t output_padding = 0;
  int64_t groups = 1;
  bool bias = true;
  int64_t dilation = 1;
};

/// @brief 1-D transposed convolution: weight [in, out / groups, k], bias [out], initialised as
/// ConvTranspose2d's. Input [N, in, L] (or [in, L]) -> [N, out, Lo].
class ConvTranspose1d : public Module {
 public:
  explicit ConvTranspose1d(ConvTranspose1dOptions options);
  ConvTranspose1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : ConvTranspose1d(ConvTranspose1dOptions{
            .in_channels = in_channels, .out_channels = out_channels, .kernel_size = kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  /// output_size: the output's last size (or its whole shape), as ConvTranspose2d's.
  Tensor forward(const Tensor& x, const std::vector<int64_t>& output_size);
  std::string extra_repr() const override;
  void reset_parameters();
  const ConvTranspose1dOptions& options() const { return options_; }

  Tensor weight, bias;

 private:
  ConvTranspose1dOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<ConvTranspose1d>(options_); }
};

}  // namespace xg::nn
