// A rank that stops taking part: run on 2 ranks by tests/nn/dist_dead_rank.sh. Mode "stuck": rank 1
// sleeps (a hung or lost rank); "exit": rank 1 leaves without finalizing. Rank 0's allreduce must
// end within the timeout with a dist::Error naming rank 1, which it prints as "caught: ...".
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "xgrad/nn/dist.hpp"
#include "xgrad/xgrad.hpp"

int main(int argc, char** argv) {
  xg::dist::Environment env(&argc, &argv);
  xg::dist::set_timeout(2.0);
  const bool stuck = argc > 1 && std::strcmp(argv[1], "stuck") == 0;
  xg::Tensor t = xg::ones({4}, {.dtype = xg::Dtype::float64});
  xg::dist::all_reduce(t);  // both alive: 2
  std::printf("rank %d: first all_reduce %g\n", xg::dist::rank(), t.at({0}));
  std::fflush(stdout);
  if (xg::dist::rank() == 1) {
    if (stuck) std::this_thread::sleep_for(std::chrono::seconds(30));
    _exit(0);
  }
  try {
    xg::dist::all_reduce(t);
    std::printf("rank 0: second all_reduce returned, which it must not\n");
  } catch (const xg::dist::Error& e) {
    std::printf("caught: %s\n", e.what());
    std::fflush(stdout);
    return 3;  // the Environment aborts the job (a finalize would wait for rank 1)
  }
  return 0;
}
