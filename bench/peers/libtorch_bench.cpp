// The peer: the workloads of WORKLOADS.md written with LibTorch (the PyTorch C++ frontend), so that
// xgrad's figures are compared against a peer run on the same machine in the same session.
// Built only when libtorch-dev is installed (bench/meson.build).
#include <cblas.h>
#include <torch/torch.h>

#include <sys/resource.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int threads = 2;
  int intra = -1;  // intra-op threads (default: threads)
  int blas = -1;   // OpenBLAS threads (default: threads)
  int warmup = -1, steps = -1;
};

struct Stats {
  double median, min, mean, max;
};
Stats stats_of(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double v : ms) sum += v;
  const std::size_t n = ms.size();
  return {n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]), ms.front(), sum / static_cast<double>(n),
          ms.back()};
}

std::vector<double> time_steps(int warmup, int steps, const std::function<void()>& step) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> ms;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = Clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return ms;
}

std::string head(const char* w, const Args& a, int warmup, int steps, const Stats& s) {
  std::ostringstream o;
  o << "{\"impl\":\"libtorch\",\"workload\":\"" << w << "\",\"threads\":" << a.threads
    << ",\"torch_threads\":" << torch::get_num_threads()
    << ",\"interop_threads\":" << at::get_num_interop_threads()
    << ",\"blas_threads\":" << openblas_get_num_threads() << ",\"warmup\":" << warmup
    << ",\"steps\":" << steps << ",\"ms_per_step_median\":" << s.median << ",\"ms_per_step_min\":" << s.min
    << ",\"ms_per_step_mean\":" << s.mean << ",\"ms_per_step_max\":" << s.max;
  return o.str();
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// One training workload: model, data, optimizer; step = zero_grad, forward, loss, backward, update.
template <class Model, class Opt>
void train_workload(const char* name, const Args& a, int dw, int ds, Model& model, Opt& opt,
                    const torch::Tensor& x, const torch::Tensor& y,
                    const std::function<torch::Tensor(const torch::Tensor&)>& fwd) {
  const int warmup = a.warmup >= 0 ? a.warmup : dw, steps = a.steps >= 0 ? a.steps : ds;
  torch::Tensor loss;
  auto step = [&] {
    opt.zero_grad();
    loss = torch::nn::functional::cross_entropy(fwd(x), y);
    loss.backward();
    opt.step();
  };
  step();
  const double first = loss.item<double>();
  const Stats s = stats_of(time_steps(std::max(0, warmup - 1), steps, step));
  (void)model;
  std::printf("%s,\"first_loss\":%g,\"final_loss\":%g,\"peak_rss_kb\":%ld}\n",
              head(name, a, warmup, steps, s).c_str(), first, loss.item<double>(), peak_rss_kb());
}

void run_mlp(const Args& a) {
  torch::manual_seed(0);
  torch::nn::Sequential net(torch::nn::Linear(784, 512), torch::nn::ReLU(), torch::nn::Linear(512, 256),
                            torch::nn::ReLU(), torch::nn::Linear(256, 10));
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  torch::Tensor x = torch::randn({128, 784}), y = torch::randint(0, 10, {128});
  train_workload("mlp", a, 20, 200, net, opt, x, y,
                 [&](const torch::Tensor& in) { return net->forward(in); });
}

void run_cnn(const Args& a) {
  torch::manual_seed(0);
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3).padding(1)),
                            torch::nn::ReLU(), torch::nn::MaxPool2d(2),
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).padding(1)),
                            torch::nn::ReLU(), torch::nn::MaxPool2d(2), torch::nn::Flatten(),
                            torch::nn::Linear(3136, 128), torch::nn::ReLU(), torch::nn::Linear(128, 10));
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor x = torch::randn({64, 1, 28, 28}), y = torch::randint(0, 10, {64});
  train_workload("cnn", a, 10, 100, net, opt, x, y,
                 [&](const torch::Tensor& in) { return net->forward(in); });
}

void run_lstm(const Args& a) {
  torch::manual_seed(0);
  const int64_t T = 32, B = 32, I = 64, H = 128;
  torch::nn::LSTMCell cell(I, H);
  torch::nn::Linear head_layer(H, 10);
  std::vector<torch::Tensor> params = cell->parameters();
  for (auto& p : head_layer->parameters()) params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(1e-3));
  torch::Tensor x = torch::randn({T, B, I}), y = torch::randint(0, 10, {B});
  train_workload("lstm", a, 20, 200, cell, opt, x, y, [&](const torch::Tensor& in) {
    torch::Tensor h = torch::zeros({B, H}), c = torch::zeros({B, H});
    for (int64_t t = 0; t < T; ++t) std::tie(h, c) = cell->forward(in[t], std::make_tuple(h, c));
    return head_layer->forward(h);
  });
}

void run_tiny(const Args& a) {
  const int warmup = a.warmup >= 0 ? a.warmup : 20, steps = a.steps >= 0 ? a.steps : 200;
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({16}, torch::requires_grad()),
                w = torch::randn({16}, torch::requires_grad()),
                b = torch::randn({16}, torch::requires_grad());
  torch::Tensor loss;
  auto step = [&] {
    for (auto* t : {&x, &w, &b})
      if (t->grad().defined()) t->mutable_grad().reset();
    torch::Tensor y = x;
    for (int i = 0; i < 100; ++i) y = torch::tanh(y * w + b);
    loss = y.sum();
    loss.backward();
    torch::NoGradGuard g;
    w.sub_(0.01 * w.grad());
    b.sub_(0.01 * b.grad());
  };
  step();
  const double first = loss.item<double>();
  const Stats s = stats_of(time_steps(std::max(0, warmup - 1), steps, step));
  std::printf(
      "%s,\"first_loss\":%g,\"final_loss\":%g,\"ops_per_step\":300,\"us_per_op\":%g,\"us_per_op_min\":%g,"
      "\"peak_rss_kb\":%ld}\n",
      head("tiny", a, warmup, steps, s).c_str(), first, loss.item<double>(), s.median * 1000 / 300,
      s.min * 1000 / 300, peak_rss_kb());
}

void run_matmul_peak(const Args& a) {
  const int warmup = a.warmup >= 0 ? a.warmup : 3, steps = a.steps >= 0 ? a.steps : 30;
  torch::manual_seed(0);
  torch::Tensor A = torch::randn({1024, 1024}), B = torch::randn({1024, 1024}),
                C = torch::empty({1024, 1024});
  torch::NoGradGuard g;
  const Stats s = stats_of(time_steps(warmup, steps, [&] { torch::mm_out(C, A, B); }));
  const double flop = 2.0 * 1024 * 1024 * 1024;
  std::printf("%s,\"n\":1024,\"gflops_median\":%g,\"gflops_max\":%g}\n",
              head("matmul_peak", a, warmup, steps, s).c_str(), flop / (s.median * 1e6),
              flop / (s.min * 1e6));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s <workload>[,...]|all [--threads N] [--intra M] [--blas-threads M] [--warmup W] "
                 "[--steps S]\n",
                 argv[0]);
    return 2;
  }
  Args a;
  for (int i = 2; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", k.c_str());
      return 2;
    }
    const int v = std::atoi(argv[i + 1]);
    if (k == "--threads")
      a.threads = v;
    else if (k == "--intra")
      a.intra = v;
    else if (k == "--blas-threads")
      a.blas = v;
    else if (k == "--warmup")
      a.warmup = v;
    else if (k == "--steps")
      a.steps = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  at::set_num_interop_threads(1);
  at::set_num_threads(a.intra > 0 ? a.intra : a.threads);
  openblas_set_num_threads(a.blas > 0 ? a.blas : a.threads);
  const std::map<std::string, std::function<void(const Args&)>> w = {{"mlp", run_mlp},
                                                                     {"cnn", run_cnn},
                                                                     {"tiny", run_tiny},
                                                                     {"lstm", run_lstm},
                                                                     {"matmul_peak", run_matmul_peak}};
  std::string list = argv[1];
  if (list == "all") list = "mlp,cnn,tiny,lstm,matmul_peak";
  std::stringstream ss(list);
  for (std::string name; std::getline(ss, name, ',');) {
    auto it = w.find(name);
    if (it == w.end()) {
      std::fprintf(stderr, "unknown workload '%s'\n", name.c_str());
      return 2;
    }
    it->second(a);
  }
  return 0;
}
