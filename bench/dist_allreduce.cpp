// The allreduce cost through xg::dist (docs/performance.md, "Scaling to N machines"): under
// mpirun, times xg::dist::all_reduce of float32 tensors from 4 bytes to 16 MB (the minimum and
// median of repeated calls, after a barrier each) and reads the ring model's two constants,
//   t(bytes) = 2 (N - 1) latency + 2 (N - 1) / N * bytes / bandwidth,
// off the smallest and the largest message. Rank 0 prints one line per size, then the model.
//   mpirun -np 2 build/bench/dist-allreduce [--reps 30]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "xgrad/nn/dist.hpp"
#include "xgrad/xgrad.hpp"

int main(int argc, char** argv) {
  xg::dist::Environment env(&argc, &argv);
  int reps = 30;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(3, std::atoi(argv[i + 1]));
  const int n = xg::dist::world_size();
  const bool root = xg::dist::rank() == 0;
  if (root)
    std::printf(
        "allreduce over %d ranks (xg::dist::all_reduce, float32; %d calls per size, the slowest "
        "rank's)\n%12s %12s %12s %12s\n",
        n, reps, "bytes", "min us", "median us", "MB/s (min)");
  {  // warm up: the first collectives set up the connections
    xg::Tensor w = xg::ones({1 << 18});
    for (int r = 0; r < 5; ++r) xg::dist::all_reduce(w);
  }
  std::vector<double> xs, mins;
  for (int64_t bytes = 4; bytes <= (int64_t(16) << 20); bytes *= 4) {
    xg::Tensor t = xg::ones({bytes / 4});
    std::vector<double> times;
    for (int r = 0; r < reps; ++r) {
      xg::dist::barrier();
      const auto t0 = std::chrono::steady_clock::now();
      xg::dist::all_reduce(t);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    // The collective takes as long as its slowest rank.
    xg::Tensor mine = xg::tensor({times.front(), times[times.size() / 2]}, {.dtype = xg::Dtype::float64});
    xg::Tensor worst = xg::max(xg::dist::all_gather(mine), {0});
    const double lo = worst.at({0}), med = worst.at({1});
    xs.push_back(2.0 * (n - 1) / n * static_cast<double>(bytes));
    mins.push_back(lo);
    if (root)
      std::printf("%12ld %12.1f %12.1f %12.1f\n", static_cast<long>(bytes), 1e6 * lo, 1e6 * med,
                  static_cast<double>(bytes) / lo / 1e6);
  }
  // The ring model's constants from the fastest calls (a shared machine's scheduler only adds):
  // the latency from the smallest messages (t = 2 (N - 1) latency), the bandwidth from the
  // largest (t - 2 (N - 1) latency = 2 (N - 1) / N bytes / bandwidth).
  const double small = *std::min_element(mins.begin(), mins.begin() + 4);
  const double latency = small / (2.0 * (n - 1));
  const double bandwidth = xs.back() / (mins.back() - small);
  if (root)
    std::printf("ring model: latency %.2f us per step, bandwidth %.0f MB/s (from the minima)\n",
                1e6 * latency, bandwidth / 1e6);
  return 0;
}
