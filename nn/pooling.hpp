#pragma once
/// @file pooling.hpp
/// @brief Pooling layers and Flatten, as torch.nn.MaxPool2d / AvgPool2d / AdaptiveAvgPool2d /
/// Flatten. They have no parameters; the work is in autograd/ops/pool.cpp.
///
/// @code
/// xg::nn::MaxPool2d pool(2);                                            // kernel 2, stride 2
/// xg::nn::AvgPool2d avg({.kernel_size = 3, .stride = 2, .padding = 1});
/// xg::nn::AdaptiveAvgPool2d gap(1);                                     // global average
/// xg::nn::Flatten flat;                                                 // [N, C, H, W] -> [N, C H W]
/// @endcode
#include <cstdint>
#include <optional>
#include <string>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/nn/module.hpp"

namespace xg::nn {

struct MaxPool2dOptions {
  Size2 kernel_size = 0;             ///< required
  std::optional<Size2> stride = {};  ///< defaults to kernel_size
  Size2 padding = 0;                 ///< at most half the kernel; pads with -inf
  Size2 dilation = 1;
  bool ceil_mode = false;
};

/// @brief Max over kh x kw windows: [N, C, H, W] (or [C, H, W]) -> [N, C, Ho, Wo].
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(MaxPool2dOptions options);
  explicit MaxPool2d(Size2 kernel_size) : MaxPool2d(MaxPool2dOptions{.kernel_size = kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  /// "kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=false"
  std::string extra_repr() const override;
  const MaxPool2dOptions& options() const { return options_; }

 private:
  MaxPool2dOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<MaxPool2d>(options_); }
};

struct AvgPool2dOptions {
  Size2 kernel_size = 0;             ///< required
  std::optional<Size2> stride = {};  ///< defaults to kernel_size
  Size2 padding = 0;                 ///< zero padding, at most half the kernel
  bool ceil_mode = false;
  bool count_include_pad = true;  ///< the divisor counts the padding (PyTorch's default)
  std::optional<int64_t> divisor_override = {};
};

/// @brief Mean over kh x kw windows: [N, C, H, W] (or [C, H, W]) -> [N, C, Ho, Wo].
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(AvgPool2dOptions options);
  explicit AvgPool2d(Size2 kernel_size) : AvgPool2d(AvgPool2dOptions{.kernel_size = kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  /// "kernel_size=2, stride=2, padding=0"
  std::string extra_repr() const override;
  const AvgPool2dOptions& options() const { return options_; }

 private:
  AvgPool2dOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<AvgPool2d>(options_); }
};

/// @brief Mean over windows that split H and W into output_size parts:
/// [N, C, H, W] (or [C, H, W]) -> [N, C, oh, ow].
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  Tensor forward(const Tensor& x) override;
  /// "output_size=1" or "output_size=(3, 4)"
  std::string extra_repr() const override;
  Size2 output_size() const { return output_size_; }

 private:
  Size2 output_size_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<AdaptiveAvgPool2d>(output_size_); }
};

/// @brief Flattens axes start_dim..end_dim into one (a view): [N, C, H, W] -> [N, C H W] by default.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1);
  Tensor forward(const Tensor& x) override;
  /// "start_dim=1, end_dim=-1"
  std::string extra_repr() const override;

 private:
  int64_t start_dim_, end_dim_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Flatten>(start_dim_, end_dim_); }
};

}  // namespace xg::nn
