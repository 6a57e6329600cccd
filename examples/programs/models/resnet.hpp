#pragma once
// A small ResNet for 1-channel images (Fashion-MNIST), as a PyTorch user would write it with
// torchvision's names: a 3x3 stem, three stages of residual blocks (the second and third halve
// the resolution and double the width, their first block's shortcut a strided 1x1 conv plus
// batch norm named "downsample"), adaptive average pooling to 1x1 and a linear classifier.
// Used by examples/programs/resnet_fashion.cpp and, at a small width, by the parity suite
// (tests/parity/models_driver.cpp, whose PyTorch twin is in tests/parity/models.py).
#include <cstdint>
#include <memory>
#include <string>

#include "xgrad/xgrad.hpp"

namespace models {

// conv3x3 - bn - relu - conv3x3 - bn, plus the shortcut (identity, or 1x1 conv + bn when the
// shape changes), then relu.
struct BasicBlock : xg::nn::Module {
  std::shared_ptr<xg::nn::Conv2d> conv1, conv2;
  std::shared_ptr<xg::nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<xg::nn::Sequential> downsample;  // null: identity shortcut
  BasicBlock(int64_t in, int64_t out, int64_t stride) : Module("BasicBlock") {
    using xg::nn::Conv2dOptions;
    conv1 = register_module("conv1", std::make_shared<xg::nn::Conv2d>(Conv2dOptions{.in_channels = in,
                                                                                    .out_channels = out,
                                                                                    .kernel_size = 3,
                                                                                    .stride = stride,
                                                                                    .padding = 1,
                                                                                    .bias = false}));
    bn1 = register_module("bn1", std::make_shared<xg::nn::BatchNorm2d>(out));
    conv2 = register_module(
        "conv2",
        std::make_shared<xg::nn::Conv2d>(Conv2dOptions{
            .in_channels = out, .out_channels = out, .kernel_size = 3, .padding = 1, .bias = false}));
    bn2 = register_module("bn2", std::make_shared<xg::nn::BatchNorm2d>(out));
    if (stride != 1 || in != out) {
      downsample = register_module("downsample", std::make_shared<xg::nn::Sequential>());
      downsample->push_back(std::make_shared<xg::nn::Conv2d>(Conv2dOptions{
          .in_channels = in, .out_channels = out, .kernel_size = 1, .stride = stride, .bias = false}));
      downsample->push_back(std::make_shared<xg::nn::BatchNorm2d>(out));
    }
  }
  xg::Tensor forward(const xg::Tensor& x) override {
    xg::Tensor h = xg::relu(bn1->forward(conv1->forward(x)));
    h = bn2->forward(conv2->forward(h));
    return xg::relu(h + (downsample ? downsample->forward(x) : x));
  }
};

struct ResNet : xg::nn::Module {
  std::shared_ptr<xg::nn::Conv2d> conv1;
  std::shared_ptr<xg::nn::BatchNorm2d> bn1;
  std::shared_ptr<xg::nn::Sequential> layer1, layer2, layer3;
  std::shared_ptr<xg::nn::AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<xg::nn::Linear> fc;
  // width: channels of the first stage (then 2x, 4x); blocks: residual blocks per stage.
  explicit ResNet(int64_t width = 16, int64_t blocks = 1, int64_t classes = 10) : Module("ResNet") {
    conv1 = register_module(
        "conv1",
        std::make_shared<xg::nn::Conv2d>(xg::nn::Conv2dOptions{
            .in_channels = 1, .out_channels = width, .kernel_size = 3, .padding = 1, .bias = false}));
    bn1 = register_module("bn1", std::make_shared<xg::nn::BatchNorm2d>(width));
    layer1 = register_module("layer1", stage(width, width, blocks, 1));
    layer2 = register_module("layer2", stage(width, 2 * width, blocks, 2));
    layer3 = register_module("layer3", stage(2 * width, 4 * width, blocks, 2));
    avgpool = register_module("avgpool", std::make_shared<xg::nn::AdaptiveAvgPool2d>(1));
    fc = register_module("fc", std::make_shared<xg::nn::Linear>(4 * width, classes));
  }
  xg::Tensor forward(const xg::Tensor& x) override {  // x: images [N, 1, H, W] -> logits [N, classes]
    xg::Tensor h = xg::relu(bn1->forward(conv1->forward(x)));
    h = layer3->forward(layer2->forward(layer1->forward(h)));
    return fc->forward(xg::flatten(avgpool->forward(h), 1));
  }

 private:
  static std::shared_ptr<xg::nn::Sequential> stage(int64_t in, int64_t out, int64_t blocks, int64_t stride) {
    auto s = std::make_shared<xg::nn::Sequential>();
    for (int64_t i = 0; i < blocks; ++i)
      s->push_back(std::make_shared<BasicBlock>(i ? out : in, out, i ? 1 : stride));
    return s;
  }
};

}  // namespace models
