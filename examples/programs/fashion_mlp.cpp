// The MLP of xgrad-train written out as user code: a Module subclass, a DataLoader, Adam, the
// training loop and test accuracy. What it teaches: the whole supervised-learning recipe in one
// page. Usage: fashion_mlp [--epochs E] [--limit N] (N: train on the first N examples only).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

// 784 -> 256 -> 128 -> 10, ReLU, dropout 0.2 on the hidden layers (active only in train mode).
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
    xg::Tensor h = xg::reshape(x, {x.size(0), 784});  // [N, 1, 28, 28] -> [N, 784]
    h = drop->forward(xg::relu(fc1->forward(h)));
    h = drop->forward(xg::relu(fc2->forward(h)));
    return fc3->forward(h);  // logits: cross_entropy applies log-softmax itself
  }
};

int main(int argc, char** argv) {
  int epochs = 2;
  int64_t limit = 0;
  examples::Args(argc, argv, "fashion_mlp: a Fashion-MNIST MLP")
      .option("--epochs", epochs, "epochs")
      .option("--limit", limit, "use the first N examples only (0: all)")
      .parse();
  xg::manual_seed(0);
  auto train = xg::data::fashion_mnist(xg::data::kFashionMnistDir, true);
  auto test = xg::data::fashion_mnist(xg::data::kFashionMnistDir, false);
  if (limit > 0) train = train->head(limit), test = test->head(limit);
  xg::data::DataLoader loader(train, {.batch_size = 64, .shuffle = true});
  Mlp model;
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
