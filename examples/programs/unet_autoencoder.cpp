// A convolutional autoencoder with U-Net skips (strided convs, GroupNorm, ConvTranspose2d, skip
// concatenation; models/unet.hpp) trained on Fashion-MNIST with an MSE loss and AdamW; prints the
// test reconstruction MSE and writes a PNG of 8 test originals above their reconstructions.
// The parity suite checks this very model against its PyTorch twin (tests/parity/models.py).
// Usage: unet_autoencoder [--epochs E] [--limit N] [--width C] [--lr LR] [--png PATH] [--save PATH]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../args.hpp"
#include "models/unet.hpp"
#include "xgrad/xgrad.hpp"

int main(int argc, char** argv) {
  int epochs = 1;
  int64_t limit = 5000, width = 8;
  double lr = 3e-3;
  std::string png = "unet_reconstructions.png", save;
  examples::Args(argc, argv, "unet_autoencoder: a small U-Net autoencoder on Fashion-MNIST")
      .option("--epochs", epochs, "epochs")
      .option("--limit", limit, "training examples (0: all)")
      .option("--width", width, "channels of the first level")
      .option("--lr", lr, "learning rate")
      .option("--png", png, "reconstructions image")
      .option("--save", save, "write the trained model to this safetensors file")
      .parse();
  xg::manual_seed(0);
  // Pixels in [0, 1] (normalize = false): the targets of the sigmoid output.
  auto train = xg::data::fashion_mnist(xg::data::kFashionMnistDir, true, false);
  auto test = xg::data::fashion_mnist(xg::data::kFashionMnistDir, false, false);
  if (limit > 0) train = train->head(limit), test = test->head(limit);
  xg::data::DataLoader loader(train, {.batch_size = 64, .shuffle = true});
  models::UNetAutoencoder model(width, 4);
  xg::optim::AdamW opt(model.parameters(), {.lr = lr});
  const int64_t report = loader.num_batches() / 5 > 0 ? loader.num_batches() / 5 : 1;
  int64_t steps = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);
    int64_t i = 0;
    for (const auto& b : loader) {
      opt.zero_grad();
      xg::Tensor loss = xg::nn::functional::mse_loss(model.forward(b.data), b.data);
      loss.backward();
      opt.step();
      ++steps;
      if (i++ % report == 0)
        std::printf("epoch %d batch %4lld  loss %.5f\n", epoch, static_cast<long long>(i - 1), loss.item());
    }
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.1f ms per step (batch 64, %lld steps)\n", ms / static_cast<double>(steps),
              static_cast<long long>(steps));
  model.eval();
  xg::NoGradGuard no_grad;
  double sum = 0;
  for (const auto& b : xg::data::DataLoader(test, {.batch_size = 500, .shuffle = false}))
    sum += xg::nn::functional::mse_loss(model.forward(b.data), b.data).item() *
           static_cast<double>(b.data.size(0));
  std::printf("test reconstruction MSE %.5f (%lld examples)\n", sum / static_cast<double>(test->size()),
              static_cast<long long>(test->size()));
  // 8 originals [8, 1, 28, 28] side by side in the top row, their reconstructions below.
  const xg::Tensor x = xg::slice(test->data(), 0, 0, 8);
  const auto row = [](const xg::Tensor& imgs) {  // [8, 1, 28, 28] -> [1, 28, 8 * 28]
    return xg::reshape(xg::permute(imgs, {1, 2, 0, 3}), {1, 28, 8 * 28});
  };
  xg::data::write_png(png, xg::cat({row(x), row(model.forward(x))}, 1));
  std::printf("wrote %s (originals above reconstructions)\n", png.c_str());
  if (!save.empty()) model.save(save), std::printf("saved %s\n", save.c_str());
  return 0;
}
