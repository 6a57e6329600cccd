// A character-level GPT (models/tiny_gpt.hpp: token + position embeddings, pre-norm causal
// self-attention blocks, GELU MLP, weight tying) trained with AdamW on the GNU GPL version 3, a
// plain text every Debian system has (/usr/share/common-licenses/GPL-3, from base-files); prints
// the loss, ms per step and the validation loss, then samples text with a fixed seed.
// The parity suite checks this very model against its PyTorch twin (tests/parity/models.py).
// Usage: tiny_gpt [--steps N] [--batch B] [--context T] [--embed E] [--heads H] [--layers L]
//                 [--lr LR] [--text PATH] [--chars N] [--save PATH]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "../args.hpp"
#include "models/tiny_gpt.hpp"
#include "xgrad/xgrad.hpp"

int main(int argc, char** argv) {
  int64_t steps = 300, batch = 32, chars = 240;
  models::GptConfig cfg{.context = 64, .embed = 64, .heads = 4, .layers = 2};
  double lr = 3e-3;
  std::string path = "/usr/share/common-licenses/GPL-3", save;
  examples::Args(argc, argv, "tiny_gpt: character-level GPT trained on the GPL-3 text")
      .option("--steps", steps, "training steps")
      .option("--batch", batch, "sequences per step")
      .option("--context", cfg.context, "context length")
      .option("--embed", cfg.embed, "embedding width")
      .option("--heads", cfg.heads, "attention heads")
      .option("--layers", cfg.layers, "transformer blocks")
      .option("--lr", lr, "AdamW learning rate")
      .option("--text", path, "text file to train on")
      .option("--chars", chars, "characters to sample at the end")
      .option("--save", save, "write the trained model to this safetensors file")
      .parse();
  std::ifstream f(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (static_cast<int64_t>(text.size()) < 10 * (cfg.context + 1)) {
    std::fprintf(stderr, "tiny_gpt: cannot read enough text from %s\n", path.c_str());
    return 1;
  }
  // The vocabulary: the text's distinct bytes, in byte order.
  std::vector<int64_t> id(256, -1);
  std::string chars_of;
  for (unsigned char c : text) id[c] = 0;
  for (int c = 0; c < 256; ++c)
    if (id[c] == 0) id[c] = static_cast<int64_t>(chars_of.size()), chars_of.push_back(static_cast<char>(c));
  cfg.vocab = static_cast<int64_t>(chars_of.size());
  std::vector<int64_t> tokens;
  for (unsigned char c : text) tokens.push_back(id[c]);
  const int64_t n_train = static_cast<int64_t>(tokens.size()) * 9 / 10;  // the last tenth validates
  std::printf("%s: %zu characters, vocabulary %lld\n", path.c_str(), text.size(),
              static_cast<long long>(cfg.vocab));

  xg::manual_seed(0);
  std::mt19937_64 rng(0);
  // batch windows of context + 1 tokens starting in [lo, hi - context - 1]: inputs and next tokens.
  const auto windows = [&](int64_t lo, int64_t hi, int64_t n) {
    std::uniform_int_distribution<int64_t> pick(lo, hi - cfg.context - 1);
    std::vector<double> x, y;  // token ids (exact in double)
    for (int64_t b = 0; b < n; ++b) {
      const int64_t s = pick(rng);
      x.insert(x.end(), tokens.begin() + s, tokens.begin() + s + cfg.context);
      y.insert(y.end(), tokens.begin() + s + 1, tokens.begin() + s + cfg.context + 1);
    }
    const xg::TensorOptions i64{.dtype = xg::Dtype::int64};
    return std::pair{xg::tensor(x, i64).reshape({n, cfg.context}),
                     xg::tensor(y, i64).reshape({n * cfg.context})};
  };
  models::TinyGpt model(cfg);
  xg::optim::AdamW opt(model.parameters(), {.lr = lr, .weight_decay = 0.01});
  const auto loss_of = [&](const xg::Tensor& x, const xg::Tensor& y) {
    return xg::nn::functional::cross_entropy(xg::reshape(model.forward(x), {y.size(0), cfg.vocab}), y);
  };
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < steps; ++step) {
    const auto [x, y] = windows(0, n_train, batch);
    opt.zero_grad();
    xg::Tensor loss = loss_of(x, y);
    loss.backward();
    opt.step();
    if (step % std::max<int64_t>(1, steps / 10) == 0 || step == steps - 1)
      std::printf("step %4lld  loss %.4f\n", static_cast<long long>(step), loss.item());
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.1f ms per step (batch %lld x %lld tokens)\n", ms / static_cast<double>(steps),
              static_cast<long long>(batch), static_cast<long long>(cfg.context));
  model.eval();
  xg::NoGradGuard no_grad;
  const auto [vx, vy] = windows(n_train, static_cast<int64_t>(tokens.size()), 64);
  std::printf("validation loss %.4f (%.3f bits per character)\n", loss_of(vx, vy).item(),
              loss_of(vx, vy).item() / std::log(2.0));
  // Sampling from the predicted distribution, seeded: the same text every run.
  std::mt19937_64 sampler(1234);
  std::vector<int64_t> out = {id[static_cast<unsigned char>('\n')]};
  for (int64_t k = 0; k < chars; ++k) {
    const int64_t from = std::max<int64_t>(0, static_cast<int64_t>(out.size()) - cfg.context);
    std::vector<double> ctx(out.begin() + from, out.end());
    const auto n = static_cast<int64_t>(ctx.size());
    xg::Tensor logits = model.forward(xg::tensor(ctx, {.dtype = xg::Dtype::int64}).reshape({1, n}));
    const std::vector<double> p = xg::softmax(xg::reshape(xg::slice(logits, 1, n - 1), {cfg.vocab}), -1)
                                      .to(xg::Dtype::float64)
                                      .to_vector<double>();
    out.push_back(std::discrete_distribution<int64_t>(p.begin(), p.end())(sampler));
  }
  std::string sample;
  for (size_t k = 1; k < out.size(); ++k) sample.push_back(chars_of[static_cast<size_t>(out[k])]);
  std::printf("sample (seed 1234):\n%s\n", sample.c_str());
  if (!save.empty()) model.save(save), std::printf("saved %s\n", save.c_str());
  return 0;
}
