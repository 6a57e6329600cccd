// xgrad's side of the benchmark workloads of WORKLOADS.md (shared with the peer implementations):
// one JSON line per workload on stdout. Workloads that need nn/ and optim/ join as those land.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include "xgrad/autograd.hpp"
#include "xgrad/autograd/capture/capture.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/optim/adam.hpp"
#include "xgrad/optim/sgd.hpp"

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
  bool replay = false;      // --replay: the step captured once (xg::capture), then replayed
  bool print_plan = false;  // --print-plan (with --replay): the plan on stderr
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

// xg_threads: xg::get_num_threads(), the compute threads xgrad uses (its kernel pool, which also
// splits the gemms; OpenBLAS itself runs single-threaded inside each pool thread).
std::string common_fields(const char* workload, const Args& a, int warmup, int steps, const Stats& s) {
  std::ostringstream o;
  o << "{\"impl\":\"xgrad\",\"workload\":\"" << workload << "\",\"threads\":" << a.threads
    << ",\"xg_threads\":" << xg::get_num_threads() << ",\"warmup\":" << warmup << ",\"steps\":" << steps
    << ",\"ms_per_step_median\":" << s.median << ",\"ms_per_step_min\":" << s.min
    << ",\"ms_per_step_mean\":" << s.mean << ",\"ms_per_step_max\":" << s.max;
  if (a.replay) o << ",\"replay\":true";
  return o.str();
}

// --replay: the plan's kernel count and arena size (bytes).
std::string plan_fields(const xg::Plan& plan, const Args& a) {
  if (!plan.defined()) return "";
  if (a.print_plan) xg::print_plan(plan, std::cerr);
  return ",\"plan_kernels\":" + std::to_string(plan.num_kernels()) +
         ",\"arena_bytes\":" + std::to_string(plan.arena_bytes());
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// The peak over the timed steps only: the kernel's high-water mark (VmHWM) is reset to the
// current RSS after the warm-up (writing 5 to /proc/self/clear_refs, Linux >= 4.0) and read at
// the end. With --replay the warm-up holds the capture, which runs one eager step while
// recording; this figure is what the replayed steps themselves hold. -1 when unavailable.
bool reset_peak_rss() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}
long hwm_rss_kb() {
  const int fd = ::open("/proc/self/status", O_RDONLY);
  if (fd < 0) return -1;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  const char* p = std::strstr(buf, "VmHWM:");
  long kb = -1;
  if (!p || std::sscanf(p + 6, "%ld", &kb) != 1) return -1;
  return kb;
}

// A step timed eagerly or, with --replay, captured once and replayed: the first step runs
// eagerly (with --replay it is the capture), the rest of the warm-up follows, then the timed
// steps. `loss` is the tensor the step writes; its value after the first step is `first`.
struct TimedSteps {
  xg::Plan plan;
  double first = 0;
  Stats stats;
  long peak_rss_kb = -1, timed_peak_rss_kb = -1;  // the process's peak; the timed steps' peak
  // The JSON fields: the plan's (with --replay) and both peaks.
  std::string fields(const Args& a) const {
    return plan_fields(plan, a) + ",\"peak_rss_kb\":" + std::to_string(peak_rss_kb) +
           ",\"timed_peak_rss_kb\":" + std::to_string(timed_peak_rss_kb);
  }
};
TimedSteps time_step(const Args& a, int warmup, int steps, const std::function<void()>& eager_step,
                     const xg::Tensor& loss) {
  TimedSteps t;
  std::function<void()> step = eager_step;
  if (a.replay) {
    t.plan = xg::capture([&] {
      eager_step();
      return loss;
    });
    step = [&t] { t.plan.replay(); };
  } else {
    step();
  }
  t.first = loss.item();
  for (int i = 1; i < warmup; ++i) step();
  const long warmup_peak = peak_rss_kb();  // the reset below lowers the process's peak too
  const bool reset = reset_peak_rss();
  t.stats = stats_of(time_steps(0, steps, step));
  t.timed_peak_rss_kb = reset ? hwm_rss_kb() : -1;
  t.peak_rss_kb = std::max(warmup_peak, peak_rss_kb());
  return t;
}

// One training workload: step = zero_grad, forward, cross-entropy, backward, optimizer update.
void train_workload(const char* name, const Args& a, int dw, int ds, xg::optim::Optimizer& opt,
                    const std::function<xg::Tensor()>& forward, const xg::Tensor& y) {
  const int warmup = a.warmup >= 0 ? a.warmup : dw, steps = a.steps >= 0 ? a.steps : ds;
  xg::Tensor loss;
  const TimedSteps t = time_step(
      a, warmup, steps,
      [&] {
        opt.zero_grad();
        loss = xg::nn::functional::cross_entropy(forward(), y);
        loss.backward();
        opt.step();
      },
      loss);
  std::printf("%s%s,\"first_loss\":%g,\"final_loss\":%g}\n",
              common_fields(name, a, warmup, steps, t.stats).c_str(), t.fields(a).c_str(), t.first,
              loss.item());
}

// mlp: 784-512-256-10 with ReLU, batch 128, SGD lr 0.01 momentum 0.9.
template <class Act = xg::nn::ReLU>
std::shared_ptr<xg::nn::Sequential> make_mlp() {
  auto net = std::make_shared<xg::nn::Sequential>();
  net->push_back(std::make_shared<xg::nn::Linear>(784, 512));
  net->push_back(std::make_shared<Act>());
  net->push_back(std::make_shared<xg::nn::Linear>(512, 256));
  net->push_back(std::make_shared<Act>());
  net->push_back(std::make_shared<xg::nn::Linear>(256, 10));
  return net;
}

void run_mlp(const Args& a) {
  xg::manual_seed(0);
  auto net = make_mlp();
  xg::optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
  xg::Tensor x = xg::randn({128, 784}), y = xg::randint(0, 10, {128});
  train_workload(
      "mlp", a, 20, 200, opt, [&] { return net->forward(x); }, y);
}

// mlp_gelu (xgrad only): mlp with GELU, a composite of five element-wise ops (x / sqrt 2, erf,
// 1 +, 0.5 x, the product) whose backward is element-wise too: chains a plan fuses (capture.cpp).
void run_mlp_gelu(const Args& a) {
  xg::manual_seed(0);
  auto net = make_mlp<xg::nn::GELU>();
  xg::optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
  xg::Tensor x = xg::randn({128, 784}), y = xg::randint(0, 10, {128});
  train_workload(
      "mlp_gelu", a, 20, 200, opt, [&] { return net->forward(x); }, y);
}

// Resident set size now (not the peak) from /proc/self/statm: all resident pages, and the
// anonymous ones (resident minus file-backed: heap, stacks, buffers), in kB; -1 when unavailable.
// Read with open/read into a stack buffer, without allocating. File-backed pages (library code
// run for the first time, mapped 64 kB around each fault) are not memory the program holds.
struct Rss {
  long kb = -1, anon_kb = -1;
};
Rss current_rss() {
  const int fd = ::open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return {};
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return {};
  buf[n] = 0;
  long size = 0, resident = 0, shared = 0;
  if (std::sscanf(buf, "%ld %ld %ld", &size, &resident, &shared) != 3) return {};
  const long page_kb = sysconf(_SC_PAGESIZE) / 1024;
  return {resident * page_kb, (resident - shared) * page_kb};
}

// mlp_rss (xgrad only; issue 6, "memory stays flat"): the mlp workload for --steps steps (default
// 10,000) after --warmup (default 100), reading the current RSS after the warm-up, every 1% of the
// steps and at the end. A tape or buffer leaking per step shows as growth; the step times are
// reported as for mlp.
void run_mlp_rss(const Args& a) {
  const int warmup = a.warmup >= 0 ? a.warmup : 100, steps = a.steps >= 0 ? a.steps : 10000;
  xg::manual_seed(0);
  auto net = make_mlp();
  xg::optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
  xg::Tensor x = xg::randn({128, 784}), y = xg::randint(0, 10, {128});
  xg::Tensor loss;
  auto step = [&] {
    opt.zero_grad();
    loss = xg::nn::functional::cross_entropy(net->forward(x), y);
    loss.backward();
    opt.step();
  };
  // The measurement's own memory and code are in place before the first reading: its buffers
  // zero-filled (touched, not just reserved), the RSS reading and the clock run during the
  // warm-up as in the timed loop (their library code paged in).
  std::vector<double> ms(static_cast<std::size_t>(steps), 0.0);
  std::vector<long> trace(11, 0);  // RSS at 0%, 10%, ..., 100% of the timed steps
  Rss r = current_rss();
  step();
  const double first = loss.item();
  for (int i = 1; i < warmup; ++i) {
    const auto t0 = Clock::now();
    step();
    ms[0] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    r = current_rss();
  }
  const Rss warm = current_rss();
  trace[0] = warm.kb;
  long rss_min = warm.kb, rss_max = warm.kb;
  const int every = std::max(1, steps / 100), tenth = std::max(1, steps / 10);
  for (int i = 0; i < steps; ++i) {
    const auto t0 = Clock::now();
    step();
    ms[static_cast<std::size_t>(i)] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if ((i + 1) % every == 0) {
      r = current_rss();
      rss_min = std::min(rss_min, r.kb);
      rss_max = std::max(rss_max, r.kb);
      if ((i + 1) % tenth == 0 && (i + 1) / tenth <= 10)
        trace[static_cast<std::size_t>((i + 1) / tenth)] = r.kb;
    }
  }
  const Rss end = current_rss();
  const Stats s = stats_of(ms.empty() ? std::vector<double>{0.0} : ms);
  auto growth = [](long from, long to) {
    return from > 0 ? 100.0 * static_cast<double>(to - from) / static_cast<double>(from) : 0.0;
  };
  std::string tr;
  for (long v : trace) tr += (tr.empty() ? "" : ",") + std::to_string(v);
  std::printf(
      "%s,\"first_loss\":%g,\"final_loss\":%g,\"rss_kb_after_warmup\":%ld,\"rss_kb_end\":%ld,\"rss_kb_min\":%"
      "ld,"
      "\"rss_kb_max\":%ld,\"rss_growth_percent\":%.3f,\"anon_rss_kb_after_warmup\":%ld,\"anon_rss_kb_end\":%"
      "ld,"
      "\"anon_rss_growth_percent\":%.3f,\"rss_kb_every_10_percent\":[%s],\"peak_rss_kb\":%ld}\n",
      common_fields("mlp_rss", a, warmup, steps, s).c_str(), first, loss.item(), warm.kb, end.kb, rss_min,
      rss_max, growth(warm.kb, end.kb), warm.anon_kb, end.anon_kb, growth(warm.anon_kb, end.anon_kb),
      tr.c_str(), peak_rss_kb());
}

// cnn: two conv 3x3 + ReLU + max-pool blocks, then 3136-128-10, batch 64, Adam lr 1e-3.
void run_cnn(const Args& a) {
  namespace F = xg::nn::functional;
  xg::manual_seed(0);
  auto c1 = std::make_shared<xg::nn::Conv2d>(
      xg::nn::Conv2dOptions{.in_channels = 1, .out_channels = 32, .kernel_size = 3, .padding = 1});
  auto c2 = std::make_shared<xg::nn::Conv2d>(
      xg::nn::Conv2dOptions{.in_channels = 32, .out_channels = 64, .kernel_size = 3, .padding = 1});
  auto f1 = std::make_shared<xg::nn::Linear>(3136, 128);
  auto f2 = std::make_shared<xg::nn::Linear>(128, 10);
  std::vector<xg::Tensor> params;
  for (auto m : std::vector<xg::nn::ModulePtr>{c1, c2, f1, f2})
    for (auto& p : m->parameters()) params.push_back(p);
  xg::optim::Adam opt(params, {.lr = 1e-3});
  xg::Tensor x = xg::randn({64, 1, 28, 28}), y = xg::randint(0, 10, {64});
  train_workload(
      "cnn", a, 10, 100, opt,
      [&] {
        xg::Tensor h = F::max_pool2d(xg::relu(c1->forward(x)), 2);
        h = F::max_pool2d(xg::relu(c2->forward(h)), 2);
        return f2->forward(xg::relu(f1->forward(xg::flatten(h, 1))));
      },
      y);
}

// lstm: an LSTMCell (64 -> 128) stepped over 32 time steps of a [32, 32, 64] sequence, then
// Linear(128 -> 10) on the last h; Adam lr 1e-3.
void run_lstm(const Args& a) {
  xg::manual_seed(0);
  const int64_t T = 32, B = 32, I = 64, H = 128;
  auto cell = std::make_shared<xg::nn::LSTMCell>(I, H);
  auto head = std::make_shared<xg::nn::Linear>(H, 10);
  std::vector<xg::Tensor> params = cell->parameters();
  for (auto& p : head->parameters()) params.push_back(p);
  xg::optim::Adam opt(params, {.lr = 1e-3});
  xg::Tensor x = xg::randn({T, B, I}), y = xg::randint(0, 10, {B});
  std::vector<xg::Tensor> xs;
  for (int64_t t = 0; t < T; ++t) xs.push_back(xg::reshape(xg::slice(x, 0, t, t + 1), {B, I}));
  train_workload(
      "lstm", a, 20, 200, opt,
      [&] {
        xg::nn::LSTMState s{xg::zeros({B, H}), xg::zeros({B, H})};
        for (int64_t t = 0; t < T; ++t) s = cell->forward(xs[static_cast<std::size_t>(t)], s);
        return head->forward(s.h);
      },
      y);
}

// ewchain, ewchain_1m (xgrad only): a step that is element-wise end to end on n = 2^16 (the size
// of mlp_gelu's first activation) or 2^20 elements: gelu(x * w + c), sum of squares, backward,
// SGD by hand on w and c; what fusing element-wise chains (capture.cpp) changes without gemms.
void run_ewchain(const Args& a, const char* name, int64_t n) {
  const int warmup = a.warmup >= 0 ? a.warmup : 20, steps = a.steps >= 0 ? a.steps : (n > 65536 ? 50 : 300);
  xg::manual_seed(0);
  xg::Tensor w = xg::randn({n}, {.requires_grad = true}), c = xg::randn({n}, {.requires_grad = true});
  const xg::Tensor x = xg::randn({n});
  xg::Tensor loss;
  auto step = [&] {
    w.zero_grad();
    c.zero_grad();
    const xg::Tensor y = xg::nn::functional::gelu(x * w + c);
    loss = xg::sum(y * y);
    loss.backward();
    xg::NoGradGuard no_grad;
    w.sub_(w.grad(), 1e-3);
    c.sub_(c.grad(), 1e-3);
  };
  const TimedSteps t = time_step(a, warmup, steps, step, loss);
  std::printf("%s%s,\"numel\":%ld,\"first_loss\":%g,\"final_loss\":%g}\n",
              common_fields(name, a, warmup, steps, t.stats).c_str(), t.fields(a).c_str(),
              static_cast<long>(n), t.first, loss.item());
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
  const TimedSteps t = time_step(a, warmup, steps, step, loss);
  std::printf(
      "%s%s,\"first_loss\":%g,\"final_loss\":%g,\"ops_per_step\":300,\"us_per_op\":%g,\"us_per_op_min\":%g}"
      "\n",
      common_fields("tiny", a, warmup, steps, t.stats).c_str(), t.fields(a).c_str(), t.first, loss.item(),
      t.stats.median * 1000 / 300, t.stats.min * 1000 / 300);
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
  // xgrad keeps OpenBLAS single-threaded (its pool splits the gemm): the raw reference gets the
  // thread count itself, and OpenBLAS is put back to one thread afterwards.
  openblas_set_num_threads(a.threads);
  const Stats r = stats_of(time_steps(warmup, steps, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A.data<float>(), n, B.data<float>(),
                n, 0.0f, raw.data(), n);
  }));
  openblas_set_num_threads(1);
  const double flop = 2.0 * n * n * n;
  std::printf(
      "%s,\"n\":%ld,\"gflops_median\":%g,\"gflops_max\":%g,\"raw_sgemm_gflops_median\":%g,\"raw_sgemm_gflops_"
      "max\":%g}\n",
      common_fields("matmul_peak", a, warmup, steps, s).c_str(), static_cast<long>(n),
      flop / (s.median * 1e6), flop / (s.min * 1e6), flop / (r.median * 1e6), flop / (r.min * 1e6));
}

// conv_parts (xgrad only; issue 16): the cnn workload's convolution products and pools, each timed
// alone (median of --steps calls after --warmup), against the gemm rate of a 1024^3 matmul timed in
// the same run. One JSON line per part: GFLOP/s (2 * multiply-adds) and its fraction of matmul_peak;
// the pools, which do no multiply-adds, report ms and GB/s of their inputs and outputs.
void run_conv_parts(const Args& a) {
  const int warmup = a.warmup >= 0 ? a.warmup : 5, steps = a.steps >= 0 ? a.steps : 40;
  xg::manual_seed(0);
  xg::NoGradGuard off;
  // The gemm rate first, and again at the end (the mean of both medians is the reference). After a
  // threaded gemm OpenBLAS's idle threads yield-spin for ~0.1 s, slowing what runs next on the
  // pool: the parts start after a pause (the cnn workload itself still pays that spinning).
  xg::Tensor A = xg::randn({1024, 1024}), B = xg::randn({1024, 1024}), C;
  auto gemm_ms = [&] { return stats_of(time_steps(warmup, steps, [&] { C = xg::matmul(A, B); })).median; };
  const double mm_first = gemm_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<std::string> lines;
  std::vector<double> gflops;
  struct Conv {
    const char* name;
    xg::Shape xs, ws;
  };
  double total_ms = 0;
  for (const Conv& c :
       {Conv{"conv1", {64, 1, 28, 28}, {32, 1, 3, 3}}, Conv{"conv2", {64, 32, 14, 14}, {64, 32, 3, 3}}}) {
    xg::Tensor x = xg::randn(c.xs), w = xg::randn(c.ws), b = xg::randn({c.ws[0]});
    xg::Tensor y = xg::conv2d(x, w, b, 1, 1);
    xg::Tensor gy = xg::randn(y.shape()), keep;
    const double flop =
        2.0 * static_cast<double>(y.numel()) * static_cast<double>(c.ws[1] * c.ws[2] * c.ws[3]);
    const std::pair<const char*, std::function<void()>> parts[] = {
        {"forward", [&] { keep = xg::conv2d(x, w, b, 1, 1); }},
        {"input_grad", [&] { keep = xg::conv2d_input_grad(gy, w, c.xs, 1, 1); }},
        {"weight_grad", [&] { keep = xg::conv2d_weight_grad(x, gy, c.ws, 1, 1); }}};
    for (const auto& [part, f] : parts) {
      const Stats s = stats_of(time_steps(warmup, steps, f));
      // conv1's input gradient is not part of the cnn step (its input needs no gradient)
      if (std::strcmp(c.name, "conv2") == 0 || std::strcmp(part, "input_grad") != 0) total_ms += s.median;
      const double gf = flop / (s.median * 1e6);
      char buf[320];
      std::snprintf(buf, sizeof buf,
                    "{\"impl\":\"xgrad\",\"workload\":\"conv_parts\",\"part\":\"%s_%s\",\"threads\":%d,"
                    "\"ms_median\":%g,\"ms_min\":%g,\"gflops\":%g",
                    c.name, part, a.threads, s.median, s.min, gf);
      lines.emplace_back(buf);
      gflops.push_back(gf);
    }
  }
  const double mm = 0.5 * (mm_first + gemm_ms()), peak = 2.0 * 1024 * 1024 * 1024 / (mm * 1e6);
  std::printf(
      "{\"impl\":\"xgrad\",\"workload\":\"conv_parts\",\"part\":\"matmul_1024\",\"threads\":%d,"
      "\"ms_median\":%g,\"gflops\":%g}\n",
      a.threads, mm, peak);
  for (std::size_t i = 0; i < lines.size(); ++i)
    std::printf("%s,\"fraction_of_matmul_peak\":%.3f}\n", lines[i].c_str(), gflops[i] / peak);
  for (const xg::Shape& xs : {xg::Shape{64, 32, 28, 28}, xg::Shape{64, 64, 14, 14}}) {
    xg::Tensor x = xg::randn(xs);
    // Not a structured binding: clang 14 (the sanitizer build) cannot capture one in a lambda.
    const auto pooled = xg::max_pool2d_with_indices(x, 2);
    const xg::Tensor& y = pooled.first;
    const xg::Tensor& idx = pooled.second;
    xg::Tensor gy = xg::randn(y.shape()), keep;
    const double fwd_bytes = 4.0 * static_cast<double>(x.numel() + 3 * y.numel());  // x in; y, int64 idx out
    const double bwd_bytes = 4.0 * static_cast<double>(x.numel() + 3 * y.numel());  // gy, idx in; gx out
    const Stats f =
        stats_of(time_steps(warmup, steps, [&] { keep = xg::max_pool2d_with_indices(x, 2).first; }));
    const Stats bk =
        stats_of(time_steps(warmup, steps, [&] { keep = xg::max_pool2d_backward(gy, idx, xs); }));
    total_ms += f.median + bk.median;
    const std::string at = std::to_string(xs[1]) + "x" + std::to_string(xs[2]);
    std::printf(
        "{\"impl\":\"xgrad\",\"workload\":\"conv_parts\",\"part\":\"max_pool2d_%s\",\"threads\":%d,"
        "\"ms_median\":%g,\"gbytes_per_s\":%g}\n",
        at.c_str(), a.threads, f.median, fwd_bytes / (f.median * 1e6));
    std::printf(
        "{\"impl\":\"xgrad\",\"workload\":\"conv_parts\",\"part\":\"max_pool2d_backward_%s\","
        "\"threads\":%d,\"ms_median\":%g,\"gbytes_per_s\":%g}\n",
        at.c_str(), a.threads, bk.median, bwd_bytes / (bk.median * 1e6));
  }
  std::printf(
      "{\"impl\":\"xgrad\",\"workload\":\"conv_parts\",\"part\":\"total\",\"threads\":%d,"
      "\"ms_median_sum\":%g}\n",
      a.threads, total_ms);
}

// kernels (xgrad only): hot kernels against the memory-bandwidth reference of a 4 MiB copy.
void run_kernels(const Args& a) {
  const int warmup = a.warmup >= 0 ? a.warmup : 5, steps = a.steps >= 0 ? a.steps : 50;
  xg::manual_seed(0);
  xg::Tensor m = xg::randn({1024, 1024}), x = xg::randn({1 << 20}), y = xg::randn({1 << 20});
  std::vector<float> src(1 << 20, 1.0f), dst(1 << 20);
  xg::Tensor keep;
  auto us = [&](const std::function<void()>& f) {
    return stats_of(time_steps(warmup, steps, f)).median * 1000;
  };
  const double copy = us([&] { std::memcpy(dst.data(), src.data(), src.size() * sizeof(float)); });
  const double sum0 = us([&] { keep = xg::sum(m, {0}); });
  const double sum1 = us([&] { keep = xg::sum(m, {1}); });
  const double fma = us([&] { keep = x * y + x; });
  const double smax = us([&] { keep = xg::softmax(m, -1); });
  const double tanh = us([&] { keep = xg::tanh(x); });
  const double relu = us([&] { keep = xg::relu(x); });
  std::printf(
      "{\"impl\":\"xgrad\",\"workload\":\"kernels\",\"threads\":%d,\"xg_threads\":%d,\"us_copy_4MiB\":%g,"
      "\"us_sum_axis0_1024x1024\":%g,"
      "\"us_sum_axis1_1024x1024\":%g,\"us_x_mul_y_add_x_1M\":%g,\"us_softmax_rows_1024x1024\":%g,\"us_tanh_"
      "1M\":%g,"
      "\"us_relu_1M\":%g}\n",
      a.threads, xg::get_num_threads(), copy, sum0, sum1, fma, smax, tanh, relu);
}

// batch_jacobian (xgrad only; issue 13): the per-sample Jacobians [64, 10, 32] of a 2-layer MLP
// (32 -> 64 tanh -> 10, float32, B = 64) by batch_jacobian (reverse: 10 passes; forward: 32),
// against the naive ways: jacobian of the whole batch (640 backward passes, [64, 10, 64, 32], then
// its diagonal blocks) and one jacobian per sample (64 x 10 passes on one row).
void run_batch_jacobian(const Args& a) {
  const int warmup = a.warmup >= 0 ? a.warmup : 2, steps = a.steps >= 0 ? a.steps : 10;
  xg::manual_seed(0);
  auto net = std::make_shared<xg::nn::Sequential>();
  net->push_back(std::make_shared<xg::nn::Linear>(32, 64));
  net->push_back(std::make_shared<xg::nn::Tanh>());
  net->push_back(std::make_shared<xg::nn::Linear>(64, 10));
  const int64_t B = 64;
  xg::Tensor x = xg::randn({B, 32});
  auto f = [&](const xg::Tensor& in) { return net->forward(in); };
  xg::Tensor J, Jf, Jfull, Jloop;
  const Stats rev = stats_of(time_steps(warmup, steps, [&] { J = xg::batch_jacobian(f, x); }));
  const Stats fwd = stats_of(
      time_steps(warmup, steps, [&] { Jf = xg::batch_jacobian(f, x, {.mode = xg::JacobianMode::forward}); }));
  const Stats full = stats_of(time_steps(warmup > 0 ? 1 : 0, std::max(1, steps / 5), [&] {
    const xg::Tensor all = xg::jacobian(f, x);  // [B, 10, B, 32]
    std::vector<xg::Tensor> blocks;
    for (int64_t b = 0; b < B; ++b)
      blocks.push_back(xg::squeeze(xg::narrow(xg::squeeze(xg::narrow(all, 2, b, 1), 2), 0, b, 1), 0));
    Jfull = xg::stack(blocks, 0);
  }));
  const Stats loop = stats_of(time_steps(warmup > 0 ? 1 : 0, std::max(1, steps / 5), [&] {
    std::vector<xg::Tensor> blocks;
    for (int64_t b = 0; b < B; ++b)
      blocks.push_back(xg::reshape(xg::jacobian(f, xg::narrow(x, 0, b, 1)), {10, 32}));
    Jloop = xg::stack(blocks, 0);
  }));
  xg::NoGradGuard off;
  const double diff = std::max({xg::max(xg::abs(J - Jf)).item(), xg::max(xg::abs(J - Jfull)).item(),
                                xg::max(xg::abs(J - Jloop)).item()});
  std::printf(
      "%s,\"ms_forward_mode_median\":%g,\"ms_naive_full_jacobian_median\":%g,"
      "\"ms_naive_per_sample_median\":%g,\"passes\":10,\"passes_forward\":32,\"passes_naive\":640,"
      "\"max_abs_diff\":%g}\n",
      common_fields("batch_jacobian", a, warmup, steps, rev).c_str(), fwd.median, full.median, loop.median,
      diff);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s <workload>[,<workload>...]|all [--threads N] [--warmup W] [--steps S] [--replay "
                 "[--print-plan]]\n"
                 "--replay: capture the step once (xg::capture) and time its replays (tiny, mlp, cnn, lstm); "
                 "--print-plan: print that plan on stderr\n"
                 "workloads: mlp, cnn, tiny, lstm, matmul_peak (all = these five), mlp_gelu, ewchain, "
                 "ewchain_1m, kernels, conv_parts, "
                 "mlp_rss, batch_jacobian\n",
                 argv[0]);
    return 2;
  }
  Args a;
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--replay") {
      a.replay = true;
      continue;
    }
    if (k == "--print-plan") {
      a.print_plan = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", k.c_str());
      return 2;
    }
    const int v = std::atoi(argv[++i]);
    if (k == "--threads")
      a.threads = v;
    else if (k == "--warmup")
      a.warmup = v;
    else if (k == "--steps")
      a.steps = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  xg::set_num_threads(a.threads);
  const std::map<std::string, std::function<void(const Args&)>> workloads = {
      {"mlp", run_mlp},
      {"mlp_gelu", run_mlp_gelu},
      {"ewchain", [](const Args& a) { run_ewchain(a, "ewchain", int64_t{1} << 16); }},
      {"ewchain_1m", [](const Args& a) { run_ewchain(a, "ewchain_1m", int64_t{1} << 20); }},
      {"cnn", run_cnn},
      {"tiny", run_tiny},
      {"lstm", run_lstm},
      {"matmul_peak", run_matmul_peak},
      {"kernels", run_kernels},
      {"conv_parts", run_conv_parts},
      {"mlp_rss", run_mlp_rss},
      {"batch_jacobian", run_batch_jacobian}};
  std::string list = argv[1];
  if (list == "all") list = "mlp,cnn,tiny,lstm,matmul_peak";
  std::stringstream ss(list);
  for (std::string w; std::getline(ss, w, ',');) {
    auto it = workloads.find(w);
    if (it == workloads.end()) {
      std::fprintf(stderr,
                   "unknown workload '%s' (available: mlp, mlp_gelu, ewchain, ewchain_1m, cnn, tiny, lstm, "
                   "matmul_peak, kernels, "
                   "conv_parts, "
                   "mlp_rss, batch_jacobian)\n",
                   w.c_str());
      return 2;
    }
    it->second(a);
  }
  return 0;
}
