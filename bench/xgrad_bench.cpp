// xgrad's side of the benchmark workloads of WORKLOADS.md (shared with the peer implementations):
// one JSON line per workload on stdout. Workloads that need nn/ and optim/ join as those land.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/xg.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double median, min, mean, max;
};
Stats stats_of(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double v : ms) sum += v;
  const std::size_t n = ms.size();
  const double med = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  return {med, ms.front(), sum / static_cast<double>(n), ms.back()};
}

struct Args {
  int threads = 2;
  int warmup = -1, steps = -1;
};

// Times `step` after warm-up; each timed step measured on its own.
std::vector<double> time_steps(int warmup, int steps, const std::function<void()>& step) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(steps));
  for (int i = 0; i < steps; ++i) {
    const auto t0 = Clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return ms;
}

std::string common_fields(const char* workload, const Args& a, int warmup, int steps, const Stats& s) {
  std::ostringstream o;
  o << "{\"impl\":\"xgrad\",\"workload\":\"" << workload << "\",\"threads\":" << a.threads << ",\"warmup\":" << warmup
    << ",\"steps\":" << steps << ",\"ms_per_step_median\":" << s.median << ",\"ms_per_step_min\":" << s.min
    << ",\"ms_per_step_mean\":" << s.mean << ",\"ms_per_step_max\":" << s.max;
  return o.str();
}

// tiny: 100 x (y = tanh(y * w + b)) on [16], sum, backward, SGD on w and b: per-op overhead.
void run_tiny(const Args& a) {
  const int warmup = a.warmup >= 0 ? a.warmup : 20, steps = a.steps >= 0 ? a.steps : 200;
  xg::manual_seed(0);
  xg::Tensor x = xg::randn({16}, {.requires_grad = true});
  xg::Tensor w = xg::randn({16}, {.requires_grad = true});
  xg::Tensor b = xg::randn({16}, {.requires_grad = true});
  const double lr = 0.01;
  xg::Tensor loss;
  auto step = [&] {
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    xg::Tensor y = x;
    for (int i = 0; i < 100; ++i) y = xg::tanh(y * w + b);
    loss = xg::sum(y);
    loss.backward();
    xg::NoGradGuard no_grad;
    w.sub_(w.grad(), lr);
    b.sub_(b.grad(), lr);
  };
  step();
  const double first = loss.item();
  const Stats s = stats_of(time_steps(warmup - 1 > 0 ? warmup - 1 : 0, steps, step));
  std::printf("%s,\"first_loss\":%g,\"final_loss\":%g,\"ops_per_step\":300,\"us_per_op\":%g,\"us_per_op_min\":%g}\n",
              common_fields("tiny", a, warmup, steps, s).c_str(), first, loss.item(), s.median * 1000 / 300,
              s.min * 1000 / 300);
}

// matmul_peak: C = A B for 1024^2 float32 through xg::matmul, and the raw sgemm for reference.
void run_matmul_peak(const Args& a) {
  const int warmup = a.warmup >= 0 ? a.warmup : 3, steps = a.steps >= 0 ? a.steps : 30;
  const int64_t n = 1024;
  xg::manual_seed(0);
  xg::Tensor A = xg::randn({n, n}), B = xg::randn({n, n});
  xg::Tensor C;
  const Stats s = stats_of(time_steps(warmup, steps, [&] { C = xg::matmul(A, B); }));
  std::vector<float> raw(static_cast<std::size_t>(n * n));
  const Stats r = stats_of(time_steps(warmup, steps, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A.data<float>(), n, B.data<float>(), n, 0.0f,
                raw.data(), n);
  }));
  const double flop = 2.0 * n * n * n;
  std::printf("%s,\"n\":%ld,\"gflops_median\":%g,\"gflops_max\":%g,\"raw_sgemm_gflops_median\":%g,\"raw_sgemm_gflops_max\":%g}\n",
              common_fields("matmul_peak", a, warmup, steps, s).c_str(), static_cast<long>(n), flop / (s.median * 1e6),
              flop / (s.min * 1e6), flop / (r.median * 1e6), flop / (r.min * 1e6));
}

// kernels (xgrad only): hot kernels against the memory-bandwidth reference of a 4 MiB copy.
void run_kernels(const Args& a) {
  const int warmup = a.warmup >= 0 ? a.warmup : 5, steps = a.steps >= 0 ? a.steps : 50;
  xg::manual_seed(0);
  xg::Tensor m = xg::randn({1024, 1024}), x = xg::randn({1 << 20}), y = xg::randn({1 << 20});
  std::vector<float> src(1 << 20, 1.0f), dst(1 << 20);
  xg::Tensor keep;
  auto us = [&](const std::function<void()>& f) { return stats_of(time_steps(warmup, steps, f)).median * 1000; };
  const double copy = us([&] { std::memcpy(dst.data(), src.data(), src.size() * sizeof(float)); });
  const double sum0 = us([&] { keep = xg::sum(m, {0}); });
  const double sum1 = us([&] { keep = xg::sum(m, {1}); });
  const double fma = us([&] { keep = x * y + x; });
  const double smax = us([&] { keep = xg::softmax(m, -1); });
  const double tanh = us([&] { keep = xg::tanh(x); });
  const double relu = us([&] { keep = xg::relu(x); });
  std::printf("{\"impl\":\"xgrad\",\"workload\":\"kernels\",\"threads\":%d,\"us_copy_4MiB\":%g,\"us_sum_axis0_1024x1024\":%g,"
              "\"us_sum_axis1_1024x1024\":%g,\"us_x_mul_y_add_x_1M\":%g,\"us_softmax_rows_1024x1024\":%g,\"us_tanh_1M\":%g,"
              "\"us_relu_1M\":%g}\n",
              a.threads, copy, sum0, sum1, fma, smax, tanh, relu);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <workload>[,<workload>...]|all [--threads N] [--warmup W] [--steps S]\n", argv[0]);
    return 2;
  }
  Args a;
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", k.c_str());
      return 2;
    }
    const int v = std::atoi(argv[++i]);
    if (k == "--threads") a.threads = v;
    else if (k == "--warmup") a.warmup = v;
    else if (k == "--steps") a.steps = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  openblas_set_num_threads(a.threads);
  const std::map<std::string, std::function<void(const Args&)>> workloads = {{"tiny", run_tiny}, {"matmul_peak", run_matmul_peak}, {"kernels", run_kernels}};
  std::string list = argv[1];
  if (list == "all") list = "tiny,matmul_peak";
  std::stringstream ss(list);
  for (std::string w; std::getline(ss, w, ',');) {
    auto it = workloads.find(w);
    if (it == workloads.end()) {
      std::fprintf(stderr, "unknown workload '%s' (available: tiny, matmul_peak; mlp, cnn, lstm need nn/ and optim/)\n", w.c_str());
      return 2;
    }
    it->second(a);
  }
  return 0;
}
