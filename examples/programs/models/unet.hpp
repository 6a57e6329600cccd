#pragma once
// A convolutional autoencoder with U-Net skips for 1-channel images (Fashion-MNIST):
//   enc   conv3x3            1 -> c     28x28 ----------------------------.
//   down1 conv3x3 stride 2   c -> 2c    14x14 ------------.               |
//   down2 conv3x3 stride 2  2c -> 4c     7x7              |               |
//   up2   convT4x4 stride 2 4c -> 2c    14x14, cat down1 -'-> dec2 4c->2c |
//   up1   convT4x4 stride 2 2c -> c     28x28, cat enc  ------------------'-> dec1 2c->c
//   head  conv1x1            c -> 1,    sigmoid: pixels in [0, 1]
// each conv followed by GroupNorm and ReLU (a "ConvNorm" block: names conv.*, norm.*).
// Used by examples/programs/unet_autoencoder.cpp and, small, by the parity suite
// (tests/parity/models_driver.cpp; the PyTorch twin is in tests/parity/models.py).
#include <cstdint>
#include <memory>

#include "xgrad/xgrad.hpp"

namespace models {

// conv (3x3, padding 1, or a 4x4 transposed conv of stride 2 that doubles the size), GroupNorm, ReLU.
struct ConvNorm : xg::nn::Module {
  std::shared_ptr<xg::nn::Module> conv;
  std::shared_ptr<xg::nn::GroupNorm> norm;
  ConvNorm(int64_t in, int64_t out, int64_t stride, bool transposed, int64_t groups) : Module("ConvNorm") {
    if (transposed)
      conv = register_module(
          "conv", std::make_shared<xg::nn::ConvTranspose2d>(xg::nn::ConvTranspose2dOptions{
                      .in_channels = in, .out_channels = out, .kernel_size = 4, .stride = 2, .padding = 1}));
    else
      conv = register_module(
          "conv",
          std::make_shared<xg::nn::Conv2d>(xg::nn::Conv2dOptions{
              .in_channels = in, .out_channels = out, .kernel_size = 3, .stride = stride, .padding = 1}));
    norm = register_module("norm", std::make_shared<xg::nn::GroupNorm>(groups, out));
  }
  xg::Tensor forward(const xg::Tensor& x) override { return xg::relu(norm->forward(conv->forward(x))); }
};

struct UNetAutoencoder : xg::nn::Module {
  std::shared_ptr<ConvNorm> enc, down1, down2, up2, dec2, up1, dec1;
  std::shared_ptr<xg::nn::Conv2d> head;
  // width: channels at full resolution (2x, 4x below); groups: GroupNorm's groups (divides width).
  explicit UNetAutoencoder(int64_t width = 16, int64_t groups = 4) : Module("UNetAutoencoder") {
    const int64_t c = width;
    enc = register_module("enc", std::make_shared<ConvNorm>(1, c, 1, false, groups));
    down1 = register_module("down1", std::make_shared<ConvNorm>(c, 2 * c, 2, false, groups));
    down2 = register_module("down2", std::make_shared<ConvNorm>(2 * c, 4 * c, 2, false, groups));
    up2 = register_module("up2", std::make_shared<ConvNorm>(4 * c, 2 * c, 2, true, groups));
    dec2 = register_module("dec2", std::make_shared<ConvNorm>(4 * c, 2 * c, 1, false, groups));
    up1 = register_module("up1", std::make_shared<ConvNorm>(2 * c, c, 2, true, groups));
    dec1 = register_module("dec1", std::make_shared<ConvNorm>(2 * c, c, 1, false, groups));
    head = register_module("head", std::make_shared<xg::nn::Conv2d>(c, 1, 1));
  }
  // x: images [N, 1, H, W] in [0, 1], H and W multiples of 4 -> reconstructions of the same shape.
  xg::Tensor forward(const xg::Tensor& x) override {
    xg::Tensor e = enc->forward(x);                                     // [N, c, H, W]
    xg::Tensor d1 = down1->forward(e);                                  // [N, 2c, H/2, W/2]
    xg::Tensor d2 = down2->forward(d1);                                 // [N, 4c, H/4, W/4]
    xg::Tensor u2 = dec2->forward(xg::cat({up2->forward(d2), d1}, 1));  // skip: [N, 4c, H/2, W/2] -> 2c
    xg::Tensor u1 = dec1->forward(xg::cat({up1->forward(u2), e}, 1));   // skip: [N, 2c, H, W] -> c
    return xg::sigmoid(head->forward(u1));
  }
};

}  // namespace models
