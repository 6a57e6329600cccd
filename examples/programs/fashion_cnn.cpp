// The CNN of xgrad-train written out as user code: convolutions, batch norm (whose running
// statistics make train()/eval() matter), pooling, a DataLoader, Adam and test accuracy.
// What it teaches: the same recipe as fashion_mlp.cpp with a model that sees images as images.
// Usage: fashion_cnn [--epochs E] [--limit N] (N: train on the first N examples only).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

// Two conv + batch-norm + ReLU + 2x2 max-pool blocks, then a dropout-regularised classifier.
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
  xg::Tensor forward(const xg::Tensor& x) override {  // x: images [N, 1, 28, 28]
    namespace F = xg::nn::functional;
    xg::Tensor h = F::max_pool2d(xg::relu(bn1->forward(conv1->forward(x))), 2);    // [N, 32, 14, 14]
    h = F::max_pool2d(xg::relu(bn2->forward(conv2->forward(h))), 2);               // [N, 64, 7, 7]
    h = xg::flatten(h, 1);                                                         // [N, 3136]
    return fc2->forward(drop->forward(xg::relu(fc1->forward(drop->forward(h)))));  // logits
  }
};

int main(int argc, char** argv) {
  int epochs = 1;
  int64_t limit = 0;
  examples::Args(argc, argv, "fashion_cnn: a Fashion-MNIST CNN")
      .option("--epochs", epochs, "epochs")
      .option("--limit", limit, "use the first N examples only (0: all)")
      .parse();
  xg::manual_seed(0);
  auto train = xg::data::fashion_mnist(xg::data::kFashionMnistDir, true);
  auto test = xg::data::fashion_mnist(xg::data::kFashionMnistDir, false);
  if (limit > 0) train = train->head(limit), test = test->head(limit);
  xg::data::DataLoader loader(train, {.batch_size = 64, .shuffle = true});
  Cnn model;
  xg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
  const int64_t report = loader.num_batches() / 5 > 0 ? loader.num_batches() / 5 : 1;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);  // a new shuffle each epoch
    int64_t i = 0;
    for (const auto& b : loader) {
      opt.zero_grad();
      xg::Tensor loss = xg::nn::functional::cross_entropy(model.forward(b.data), b.target);
      loss.backward();
      opt.step();
      if (i++ % report == 0)
        std::printf("epoch %d batch %4lld  loss %.4f\n", epoch, static_cast<long long>(i - 1), loss.item());
    }
  }
  // Test accuracy: eval mode (no dropout), no recording.
  model.eval();
  xg::NoGradGuard no_grad;
  int64_t correct = 0;
  for (const auto& b : xg::data::DataLoader(test, {.batch_size = 1000, .shuffle = false}))
    correct += static_cast<int64_t>(xg::sum(xg::eq(xg::argmax(model.forward(b.data), 1), b.target)).item());
  std::printf("test accuracy %.2f%% (%lld examples)\n", 100.0 * correct / test->size(),
              static_cast<long long>(test->size()));
  return 0;
}
