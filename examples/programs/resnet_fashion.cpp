// A ResNet (residual blocks with batch norm, adaptive average pooling; models/resnet.hpp) trained
// on Fashion-MNIST with AdamW; prints the loss, the milliseconds per step and the test accuracy.
// The parity suite checks this very model against its PyTorch twin (tests/parity/models.py).
// Usage: resnet_fashion [--epochs E] [--limit N] [--width C] [--blocks B] [--lr LR] [--save PATH]
//   (--limit N: the first N training and test examples only; --save: the model as safetensors)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../args.hpp"
#include "models/resnet.hpp"
#include "xgrad/xgrad.hpp"

int main(int argc, char** argv) {
  int epochs = 1;
  int64_t limit = 10000, width = 16, blocks = 1;
  double lr = 2e-3;
  std::string save;
  examples::Args(argc, argv, "resnet_fashion: a small ResNet on Fashion-MNIST")
      .option("--epochs", epochs, "epochs")
      .option("--limit", limit, "training examples (0: all)")
      .option("--width", width, "channels of the first stage")
      .option("--blocks", blocks, "residual blocks per stage")
      .option("--lr", lr, "learning rate")
      .option("--save", save, "write the trained model to this safetensors file")
      .parse();
  xg::manual_seed(0);
  auto train = xg::data::fashion_mnist(xg::data::kFashionMnistDir, true);
  auto test = xg::data::fashion_mnist(xg::data::kFashionMnistDir, false);
  if (limit > 0) train = train->head(limit), test = test->head(limit);
  xg::data::DataLoader loader(train, {.batch_size = 64, .shuffle = true});
  models::ResNet model(width, blocks);
  xg::optim::AdamW opt(model.parameters(), {.lr = lr, .weight_decay = 1e-4});
  const int64_t report = loader.num_batches() / 5 > 0 ? loader.num_batches() / 5 : 1;
  int64_t steps = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);
    int64_t i = 0;
    for (const auto& b : loader) {
      opt.zero_grad();
      xg::Tensor loss = xg::nn::functional::cross_entropy(model.forward(b.data), b.target);
      loss.backward();
      opt.step();
      ++steps;
      if (i++ % report == 0)
        std::printf("epoch %d batch %4lld  loss %.4f\n", epoch, static_cast<long long>(i - 1), loss.item());
    }
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.1f ms per step (batch 64, %lld steps)\n", ms / static_cast<double>(steps),
              static_cast<long long>(steps));
  model.eval();  // batch norm uses its running statistics
  xg::NoGradGuard no_grad;
  int64_t correct = 0;
  for (const auto& b : xg::data::DataLoader(test, {.batch_size = 500, .shuffle = false}))
    correct += static_cast<int64_t>(xg::sum(xg::eq(xg::argmax(model.forward(b.data), 1), b.target)).item());
  std::printf("test accuracy %.2f%% (%lld examples)\n",
              100.0 * static_cast<double>(correct) / static_cast<double>(test->size()),
              static_cast<long long>(test->size()));
  if (!save.empty()) model.save(save), std::printf("saved %s\n", save.c_str());
  return 0;
}
