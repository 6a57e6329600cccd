#pragma once
/// @file upsampling.hpp
/// @brief Resampling layers, as torch.nn.Upsample, UpsamplingNearest2d, UpsamplingBilinear2d,
/// PixelShuffle and PixelUnshuffle: Modules without parameters around xg::interpolate,
/// xg::pixel_shuffle and xg::pixel_unshuffle (autograd/ops/resample.cpp).
///
/// @code
/// xg::nn::Upsample up({.scale_factor = {2.0}});                           // nearest, [N, C, 2H, 2W]
/// xg::nn::Upsample bi({.size = {32, 32}, .mode = xg::InterpMode::bilinear, .align_corners = false});
/// xg::nn::PixelShuffle ps(2);                                             // [N, 4C, H, W] -> [N, C, 2H, 2W]
/// @endcode
#include <cstdint>
#include <string>
#include <vector>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/nn/module.hpp"

namespace xg::nn {

/// Upsample's arguments are interpolate's: exactly one of size and scale_factor (one value, or
/// one per spatial axis), mode nearest (the default), linear or bilinear, align_corners for the
/// linear modes.
using UpsampleOptions = InterpolateOptions;

/// @brief interpolate(x, options) of [N, C, L] or [N, C, H, W] inputs.
class Upsample : public Module {
 public:
  explicit Upsample(UpsampleOptions options);
  Tensor forward(const Tensor& x) override;
  /// "scale_factor=2.0, mode='nearest'" or "size=(5, 7), mode='bilinear'"
  std::string extra_repr() const override;
  const UpsampleOptions& options() const { return options_; }

 protected:
  Upsample(std::string type_name, UpsampleOptions options);
  ModulePtr clone_empty() const override { return std::make_shared<Upsample>(options_); }

 private:
  UpsampleOptions options_;
};

/// @brief Upsample with mode nearest on [N, C, H, W] (PyTorch's older name): one of size and
/// scale_factor.
class UpsamplingNearest2d : public Upsample {
 public:
  explicit UpsamplingNearest2d(std::vector<int64_t> size, std::vector<double> scale_factor = {});

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<UpsamplingNearest2d>(options().size, options().scale_factor);
  }
};

/// @brief Upsample with mode bilinear and align_corners=true on [N, C, H, W] (PyTorch's older
/// name): one of size and scale_factor.
class UpsamplingBilinear2d : public Upsample {
 public:
  explicit UpsamplingBilinear2d(std::vector<int64_t> size, std::vector<double> scale_factor = {});

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<UpsamplingBilinear2d>(options().size, options().scale_factor);
  }
};

/// @brief [*, C r^2, H, W] -> [*, C, H r, W r] (pixel_shuffle with upscale_factor r).
class PixelShuffle : public Module {
 public:
  explicit PixelShuffle(int64_t upscale_factor);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "upscale_factor=2"
  int64_t upscale_factor() const { return r_; }

 private:
  int64_t r_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<PixelShuffle>(r_); }
};

/// @brief [*, C, H r, W r] -> [*, C r^2, H, W] (pixel_unshuffle with downscale_factor r).
class PixelUnshuffle : public Module {
 public:
  explicit PixelUnshuffle(int64_t downscale_factor);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "downscale_factor=2"
  int64_t downscale_factor() const { return r_; }

 private:
  int64_t r_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<PixelUnshuffle>(r_); }
};

}  // namespace xg::nn
