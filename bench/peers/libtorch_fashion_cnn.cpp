// The peer of `xgrad-train --model cnn --target-accuracy A` (issue 16, time to accuracy): the
// trainer's Fashion-MNIST CNN and its recipe written with LibTorch, trained and timed the same way.
//
//   model      Conv(1->32, 3x3, pad 1) -> BatchNorm -> ReLU -> MaxPool 2, Conv(32->64) -> BatchNorm
//              -> ReLU -> MaxPool 2, flatten, Linear(3136->128), ReLU, Dropout(0.3),
//              Linear(128->10) (PyTorch's default initialisation, as xgrad's layers)
//   data       Debian's dataset-fashion-mnist IDX files, pixels / 255 standardised with the
//              training set's mean 0.2860 and std 0.3530 (as xg::data::fashion_mnist); training
//              batches augmented per image as xgrad-train's --augment: by default a left-right flip
//              with p 0.5; --augment crop,flip also shifts by up to 2 px with a black border first
//              (RandomCrop(28, padding=2))
//   training   cross-entropy with label smoothing, AdamW (decoupled weight decay), OneCycleLR over
//              --epochs x batches (PyTorch's defaults: 30% warm-up from lr/25, cosine down to
//              lr/25e4, beta1 between 0.95 and 0.85), stepped per batch; batch 128, reshuffled
//              every epoch, last batch kept
//   evaluation test accuracy in eval mode after every epoch, or every --eval-every steps; the
//              clock runs only while training (batch gathering and augmentation, step, loss read)
//
// Prints one JSON line on stdout when the test accuracy first reaches --target (and stops), or at
// the end with "reached":false. Progress goes to stderr. Built only when libtorch-dev is
// installed (bench/meson.build).
#include <cblas.h>
#include <torch/torch.h>
#include "fashion_idx.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Defaults: xgrad-train's CNN recipe (examples/trainer/xgrad_train.cpp, kCnn*).
struct Args {
  int threads = 2;
  int intra = -1;  // intra-op threads (default: threads)
  int blas = -1;   // OpenBLAS threads (default: threads)
  double target = 0.93;
  int epochs = 11;
  int64_t batch_size = 128;
  double lr = 3e-3;
  double weight_decay = 5e-2;
  double label_smoothing = 0.1;
  bool crop = false, flip = true;
  uint64_t seed = 0;
  int64_t eval_every = 0;  // steps between evaluations; 0: after each epoch
  int64_t limit = 0;       // first N training and test examples only (smoke tests); 0: all
  std::string data = "/usr/share/datasets/fashion-mnist";
};

struct Split {
  torch::Tensor x;  // float32 [N, 1, 28, 28], standardised
  torch::Tensor y;  // int64 [N]
};

Split load_split(const Args& a, bool train) {
  peers::FashionSplit s = peers::load_fashion(a.data, train, a.limit);
  torch::Tensor x = torch::from_blob(s.pixels.data(), {s.n, 1, 28, 28}).clone();
  torch::Tensor y = torch::from_blob(s.labels.data(), {s.n}, torch::kInt64).clone();
  return {x, y};
}

// The batch augmented in place, per image: shifted by (dy, dx) in -2..2 with a black border
// (RandomCrop(28, padding=2, fill=black)), then flipped left-right with probability 0.5.
void augment(torch::Tensor& x, const Args& a, std::mt19937_64& rng) {
  if (!a.crop && !a.flip) return;
  x = x.contiguous();
  const int64_t n = x.size(0), h = 28, w = 28, pad = 2;
  const float fill = (0.0f - peers::kFashionMean) * (1.0f / peers::kFashionStd);  // a black pixel
  float* d = x.data_ptr<float>();
  std::uniform_int_distribution<int64_t> shift(-pad, pad);
  std::bernoulli_distribution coin(0.5);
  std::vector<float> tmp(static_cast<std::size_t>(h * w));
  for (int64_t i = 0; i < n; ++i) {
    float* img = d + i * h * w;
    if (a.crop) {
      const int64_t sy = shift(rng), sx = shift(rng);
      for (int64_t y = 0; y < h; ++y)
        for (int64_t c = 0; c < w; ++c) {
          const int64_t yy = y + sy, xx = c + sx;
          tmp[static_cast<std::size_t>(y * w + c)] =
              yy < 0 || yy >= h || xx < 0 || xx >= w ? fill : img[yy * w + xx];
        }
      std::memcpy(img, tmp.data(), tmp.size() * sizeof(float));
    }
    if (a.flip && coin(rng))
      for (int64_t y = 0; y < h; ++y) std::reverse(img + y * w, img + (y + 1) * w);
  }
}

struct CnnImpl : torch::nn::Module {
  torch::nn::Conv2d conv1{torch::nn::Conv2dOptions(1, 32, 3).padding(1)},
      conv2{torch::nn::Conv2dOptions(32, 64, 3).padding(1)};
  torch::nn::BatchNorm2d bn1{32}, bn2{64};
  torch::nn::Dropout drop{0.3};
  torch::nn::Linear fc1{64 * 7 * 7, 128}, fc2{128, 10};
  CnnImpl() {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
    register_module("drop", drop);
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  torch::Tensor forward(torch::Tensor x) {
    namespace F = torch::nn::functional;
    x = F::max_pool2d(torch::relu(bn1(conv1(x))), F::MaxPool2dFuncOptions(2));
    x = F::max_pool2d(torch::relu(bn2(conv2(x))), F::MaxPool2dFuncOptions(2));
    x = x.flatten(1);
    x = drop(torch::relu(fc1(x)));
    return fc2(x);
  }
};
TORCH_MODULE(Cnn);

double evaluate(Cnn& net, const Split& test) {
  torch::NoGradGuard no_grad;
  net->eval();
  int64_t correct = 0;
  const int64_t n = test.x.size(0);
  for (int64_t lo = 0; lo < n; lo += 1000) {
    const int64_t hi = std::min(n, lo + 1000);
    torch::Tensor logits = net->forward(test.x.slice(0, lo, hi));
    correct += logits.argmax(1).eq(test.y.slice(0, lo, hi)).sum().item<int64_t>();
  }
  net->train();
  return static_cast<double>(correct) / static_cast<double>(n);
}

// PyTorch's OneCycleLR (two phases, cosine, its default factors) at step t of `total`: the lr and
// the momentum (Adam's beta1).
std::pair<double, double> one_cycle(double max_lr, int64_t t, int64_t total) {
  const double initial = max_lr / 25.0, min_lr = initial / 1e4, base_m = 0.85, max_m = 0.95;
  const double end1 = 0.3 * static_cast<double>(total) - 1, end2 = static_cast<double>(total) - 1;
  auto anneal = [](double from, double to, double pct) {
    return to + (from - to) / 2.0 * (std::cos(M_PI * pct) + 1);
  };
  const double s = static_cast<double>(t);
  if (s <= end1) {
    const double pct = s / end1;
    return {anneal(initial, max_lr, pct), anneal(max_m, base_m, pct)};
  }
  const double pct = (s - end1) / (end2 - end1);
  return {anneal(max_lr, min_lr, pct), anneal(base_m, max_m, pct)};
}

int run(const Args& a) {
  at::set_num_interop_threads(1);
  torch::set_num_threads(a.intra > 0 ? a.intra : a.threads);
  openblas_set_num_threads(a.blas > 0 ? a.blas : a.threads);
  torch::manual_seed(static_cast<uint64_t>(a.seed));
  std::mt19937_64 rng(a.seed);

  const Split train = load_split(a, true), test = load_split(a, false);
  Cnn net;
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(a.lr).weight_decay(a.weight_decay));
  const int64_t n = train.x.size(0), batches = (n + a.batch_size - 1) / a.batch_size;
  const int64_t total_steps = a.epochs * batches;
  std::fprintf(
      stderr,
      "libtorch-fashion-cnn: %ld training examples (test %ld), up to %d epochs, batch %ld, AdamW lr %g "
      "wd %g (onecycle), label smoothing %g, augment%s%s, torch threads %d, OpenBLAS threads %d, "
      "target %.4f\n",
      static_cast<long>(n), static_cast<long>(test.x.size(0)), a.epochs, static_cast<long>(a.batch_size),
      a.lr, a.weight_decay, a.label_smoothing, a.crop ? " crop" : "", a.flip ? " flip" : "",
      torch::get_num_threads(), openblas_get_num_threads(), a.target);

  double seconds = 0, acc = 0;
  int64_t steps = 0;
  bool reached = false;
  auto report = [&](double epochs) {
    std::printf(
        "{\"impl\":\"libtorch\",\"workload\":\"fashion_cnn_tta\",\"target\":%g,\"reached\":%s,\"seconds\":%."
        "3f,"
        "\"epochs\":%g,\"steps\":%ld,\"test_accuracy\":%.4f,\"eval_every\":%ld,\"threads\":%d,\"torch_"
        "threads\":%d,"
        "\"interop_threads\":%d,\"blas_threads\":%d,\"impl_version\":\"%s\"}\n",
        a.target, reached ? "true" : "false", seconds, epochs, static_cast<long>(steps), acc,
        static_cast<long>(a.eval_every), a.threads, torch::get_num_threads(), at::get_num_interop_threads(),
        openblas_get_num_threads(), TORCH_VERSION);
    std::fflush(stdout);
  };
  auto check = [&](double epochs) {
    acc = evaluate(net, test);
    std::fprintf(stderr, "  epoch %.2f  step %ld  %.2f s of training  test acc %.4f\n", epochs,
                 static_cast<long>(steps), seconds, acc);
    return acc >= a.target;
  };
  auto set_schedule = [&](int64_t t) {
    const auto [lr, beta1] = one_cycle(a.lr, t, total_steps);
    for (auto& group : opt.param_groups()) {
      auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
      o.lr(lr);
      o.betas(std::make_tuple(beta1, std::get<1>(o.betas())));
    }
  };
  const auto loss_options =
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(a.label_smoothing);

  set_schedule(0);
  for (int epoch = 0; epoch < a.epochs; ++epoch) {
    torch::Tensor order = torch::randperm(n, torch::kInt64);
    auto t0 = Clock::now();
    for (int64_t b = 0; b < batches; ++b) {
      torch::Tensor idx = order.slice(0, b * a.batch_size, std::min(n, (b + 1) * a.batch_size));
      torch::Tensor x = train.x.index_select(0, idx), y = train.y.index_select(0, idx);
      augment(x, a, rng);
      opt.zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), y, loss_options);
      loss.backward();
      opt.step();
      ++steps;
      if (steps < total_steps) set_schedule(steps);  // OneCycleLR.step() after each batch
      volatile double l = loss.item<double>();       // read back every step, as xgrad-train does
      (void)l;
      if (a.eval_every > 0 && steps % a.eval_every == 0 && b + 1 < batches) {
        seconds += std::chrono::duration<double>(Clock::now() - t0).count();
        const double epochs = epoch + static_cast<double>(b + 1) / static_cast<double>(batches);
        if (check(epochs)) {
          reached = true;
          report(epochs);
          return 0;
        }
        t0 = Clock::now();
      }
    }
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    if (check(epoch + 1)) {
      reached = true;
      report(epoch + 1);
      return 0;
    }
  }
  report(a.epochs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(
          stderr,
          "%s needs a value\nusage: %s [--threads N] [--intra M] [--blas-threads M] [--target A] "
          "[--epochs E] [--batch-size B] [--lr LR] [--weight-decay WD] [--label-smoothing S] "
          "[--augment none|crop|flip|crop,flip] [--seed S] [--eval-every STEPS] [--limit N] [--data DIR]\n",
          k.c_str(), argv[0]);
      return 2;
    }
    const char* v = argv[i + 1];
    if (k == "--threads")
      a.threads = std::atoi(v);
    else if (k == "--intra")
      a.intra = std::atoi(v);
    else if (k == "--blas-threads")
      a.blas = std::atoi(v);
    else if (k == "--target")
      a.target = std::atof(v);
    else if (k == "--epochs")
      a.epochs = std::atoi(v);
    else if (k == "--batch-size")
      a.batch_size = std::atoll(v);
    else if (k == "--lr")
      a.lr = std::atof(v);
    else if (k == "--weight-decay")
      a.weight_decay = std::atof(v);
    else if (k == "--label-smoothing")
      a.label_smoothing = std::atof(v);
    else if (k == "--augment") {
      const std::string s = v;
      if (s != "none" && s != "crop" && s != "flip" && s != "crop,flip" && s != "flip,crop") {
        std::fprintf(stderr, "--augment: expected none, crop, flip or crop,flip, got %s\n", v);
        return 2;
      }
      a.crop = s.find("crop") != std::string::npos;
      a.flip = s.find("flip") != std::string::npos;
    } else if (k == "--seed")
      a.seed = std::strtoull(v, nullptr, 10);
    else if (k == "--eval-every")
      a.eval_every = std::atoll(v);
    else if (k == "--limit")
      a.limit = std::atoll(v);
    else if (k == "--data")
      a.data = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (a.threads < 1 || a.epochs < 1 || a.batch_size < 1 || !(a.lr > 0) || a.weight_decay < 0 ||
      a.label_smoothing < 0 || a.label_smoothing > 1) {
    std::fprintf(stderr,
                 "--threads, --epochs, --batch-size and --lr must be positive, --weight-decay >= 0, "
                 "--label-smoothing in [0, 1]\n");
    return 2;
  }
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "libtorch-fashion-cnn: %s\n", e.what());
    return 1;
  }
}
