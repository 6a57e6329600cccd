#pragma once
/// @file conv.hpp
/// @brief Convolution layers, as torch.nn.Conv1d / Conv2d, with PyTorch's parameter names,
/// layouts ([out, in / groups, k...]) and default initialisation, so weights port one to one.
/// The work is xg::conv2d (im2col + gemm, autograd/ops/conv.cpp).
///
/// @code
/// xg::nn::Conv2d conv1(xg::nn::Conv2dOptions{.in_channels = 1, .out_channels = 32, .kernel_size = 3,
/// .padding = 1}); auto conv2 = std::make_shared<xg::nn::Conv2d>(32, 64, 3);        // weight [64, 32, 3, 3],
/// bias [64] xg::Tensor y = conv1.forward(xg::randn({64, 1, 28, 28}));        // [64, 32, 28, 28]
/// @endcode
#include <cstdint>
#include <string>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/nn/module.hpp"

namespace xg::nn {

/// Field order as PyTorch's arguments. Only zero padding (PyTorch's padding_mode="zeros").
struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Size2 kernel_size = 0;  ///< required; an integer gives a square kernel
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
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
  /// "1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)" (padding, dilation, groups and
  /// bias shown when not the default, as PyTorch).
  std::string extra_repr() const override;
  void reset_parameters();
  const Conv2dOptions& options() const { return options_; }

  Tensor weight, bias;  ///< bias undefined when options.bias is false

 private:
  Conv2dOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Conv2d>(options_); }
};

struct Conv1dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_size = 0;  ///< required
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
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

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Conv1d>(options_); }
};

}  // namespace xg::nn
