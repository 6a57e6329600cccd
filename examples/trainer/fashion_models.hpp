#pragma once
// The two Fashion-MNIST models of xgrad-train, written as user code: a class deriving from
// xg::nn::Module that registers its layers by name and says what forward does.
#include <memory>

#include "xgrad/xgrad.hpp"

namespace fashion {

/// 784 -> 256 -> 128 -> 10 with ReLU and dropout 0.2 on the hidden layers.
struct Mlp : xg::nn::Module {
  std::shared_ptr<xg::nn::Linear> fc1, fc2, fc3;
  std::shared_ptr<xg::nn::Dropout> drop;
  Mlp() : Module("Mlp") {
    fc1 = register_module("fc1", std::make_shared<xg::nn::Linear>(784, 256));
    fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(256, 128));
    fc3 = register_module("fc3", std::make_shared<xg::nn::Linear>(128, 10));
    drop = register_module("drop", std::make_shared<xg::nn::Dropout>(0.2));
  }
  xg::Tensor forward(const xg::Tensor& x) override {
    xg::Tensor h = xg::reshape(x, {x.size(0), 784});  // images [N, 1, 28, 28] -> rows of 784 pixels
    h = drop->forward(xg::relu(fc1->forward(h)));
    h = drop->forward(xg::relu(fc2->forward(h)));
    return fc3->forward(h);  // logits; the loss applies log-softmax
  }
};

/// Two conv + batch-norm + pool blocks, then a classifier with dropout on its hidden layer.
struct Cnn : xg::nn::Module {
  std::shared_ptr<xg::nn::Conv2d> conv1, conv2;
  std::shared_ptr<xg::nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<xg::nn::Dropout> drop;
  std::shared_ptr<xg::nn::Linear> fc1, fc2;
  Cnn() : Module("Cnn") {
    conv1 =
        register_module("conv1", std::make_shared<xg::nn::Conv2d>(xg::nn::Conv2dOptions{
                                     .in_channels = 1, .out_channels = 32, .kernel_size = 3, .padding = 1}));
    bn1 = register_module("bn1", std::make_shared<xg::nn::BatchNorm2d>(32));
    conv2 =
        register_module("conv2", std::make_shared<xg::nn::Conv2d>(xg::nn::Conv2dOptions{
                                     .in_channels = 32, .out_channels = 64, .kernel_size = 3, .padding = 1}));
    bn2 = register_module("bn2", std::make_shared<xg::nn::BatchNorm2d>(64));
    drop = register_module("drop", std::make_shared<xg::nn::Dropout>(0.3));
    fc1 = register_module("fc1", std::make_shared<xg::nn::Linear>(64 * 7 * 7, 128));
    fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(128, 10));
  }
  xg::Tensor forward(const xg::Tensor& x) override {
    namespace F = xg::nn::functional;
    xg::Tensor h = F::max_pool2d(xg::relu(bn1->forward(conv1->forward(x))), 2);  // [N, 32, 14, 14]
    h = F::max_pool2d(xg::relu(bn2->forward(conv2->forward(h))), 2);             // [N, 64, 7, 7]
    h = xg::flatten(h, 1);                                                       // [N, 3136]
    h = drop->forward(xg::relu(fc1->forward(h)));
    return fc2->forward(h);
  }
};

}  // namespace fashion
