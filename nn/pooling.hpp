#pragma once
/// @file pooling.hpp
/// @brief Pooling layers, Flatten and Unflatten, as torch.nn.MaxPool1d/2d, AvgPool1d/2d,
/// AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d, Flatten and Unflatten. They have no parameters;
/// the work is in autograd/ops/pool.cpp. PyTorch's return_indices=True is forward_with_indices.
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
#include <utility>
#include <vector>

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

struct MaxPool1dOptions {
  int64_t kernel_size = 0;             ///< required
  std::optional<int64_t> stride = {};  ///< defaults to kernel_size
  int64_t padding = 0;                 ///< at most half the kernel; pads with -inf
  int64_t dilation = 1;
  bool ceil_mode = false;
};

/// @brief Max over windows of L: [N, C, L] (or [C, L]) -> [N, C, Lo].
class MaxPool1d : public Module {
 public:
  explicit MaxPool1d(MaxPool1dOptions options);
  explicit MaxPool1d(int64_t kernel_size) : MaxPool1d(MaxPool1dOptions{.kernel_size = kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  /// (values, int64 indices along L): PyTorch's forward with return_indices=True.
  std::pair<Tensor, Tensor> forward_with_indices(const Tensor& x);
  /// "kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=false"
  std::string extra_repr() const override;
  const MaxPool1dOptions& options() const { return options_; }

 private:
  MaxPool1dOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<MaxPool1d>(options_); }
};

struct AvgPool1dOptions {
  int64_t kernel_size = 0;             ///< required
  std::optional<int64_t> stride = {};  ///< defaults to kernel_size
  int64_t padding = 0;                 ///< zero padding, at most half the kernel
  bool ceil_mode = false;
  bool count_include_pad = true;  ///< the divisor counts the padding (PyTorch's default)
};

/// @brief Mean over windows of L: [N, C, L] (or [C, L]) -> [N, C, Lo].
class AvgPool1d : public Module {
 public:
  explicit AvgPool1d(AvgPool1dOptions options);
  explicit AvgPool1d(int64_t kernel_size) : AvgPool1d(AvgPool1dOptions{.kernel_size = kernel_size}) {}
  Tensor forward(const Tensor& x) override;
  /// "kernel_size=(3,), stride=(2,), padding=(1,)", as PyTorch
  std::string extra_repr() const override;
  const AvgPool1dOptions& options() const { return options_; }

 private:
  AvgPool1dOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<AvgPool1d>(options_); }
};

/// @brief Mean over windows that split L into output_size parts: [N, C, L] (or [C, L]) -> [N, C, o].
class AdaptiveAvgPool1d : public Module {
 public:
  explicit AdaptiveAvgPool1d(int64_t output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "output_size=3"
  int64_t output_size() const { return output_size_; }

 private:
  int64_t output_size_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<AdaptiveAvgPool1d>(output_size_); }
};

/// @brief Max over windows that split L into output_size parts: [N, C, L] (or [C, L]) -> [N, C, o].
class AdaptiveMaxPool1d : public Module {
 public:
  explicit AdaptiveMaxPool1d(int64_t output_size);
  Tensor forward(const Tensor& x) override;
  /// (values, int64 indices along L): PyTorch's forward with return_indices=True.
  std::pair<Tensor, Tensor> forward_with_indices(const Tensor& x);
  std::string extra_repr() const override;  ///< "output_size=3"
  int64_t output_size() const { return output_size_; }

 private:
  int64_t output_size_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<AdaptiveMaxPool1d>(output_size_); }
};

/// @brief Max over windows that split H and W into output_size parts:
/// [N, C, H, W] (or [C, H, W]) -> [N, C, oh, ow].
class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(Size2 output_size);
  Tensor forward(const Tensor& x) override;
  /// (values, int64 indices h * W + w in each plane): PyTorch's forward with return_indices=True.
  std::pair<Tensor, Tensor> forward_with_indices(const Tensor& x);
  std::string extra_repr() const override;  ///< "output_size=1" or "output_size=(3, 4)"
  Size2 output_size() const { return output_size_; }

 private:
  Size2 output_size_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<AdaptiveMaxPool2d>(output_size_); }
};

/// @brief Splits axis dim into unflattened_size (whose product must be its extent; one entry may
/// be -1), a view: Unflatten(1, {2, 3}) maps [N, 6, L] to [N, 2, 3, L].
class Unflatten : public Module {
 public:
  Unflatten(int64_t dim, std::vector<int64_t> unflattened_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "dim=1, unflattened_size=(2, 3)"

 private:
  int64_t dim_;
  std::vector<int64_t> sizes_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Unflatten>(dim_, sizes_); }
};

}  // namespace xg::nn
