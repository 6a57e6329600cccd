// The gemm wrapper. This is the one file that includes OpenBLAS's <cblas.h>, so it must not include
// xtensor-blas (the two declare the same CBLAS enums).
//
// OpenBLAS always runs single-threaded; a large product is cut into blocks of C that the compute
// pool's threads multiply concurrently, each with one single-threaded sgemm call. So there is one
// set of threads: OpenBLAS's own pool yield-spun next to ours after every threaded gemm (12% of the
// MLP step's cycles in sched_yield at 2 threads) and handed work over more slowly than our
// spinning workers, which kept products below 4M multiply-adds on one core.
#include "xgrad/autograd/kernels/gemm.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <type_traits>

#include "xgrad/autograd/kernels/parallel.hpp"

namespace xg::detail {

namespace {

// Below ~256K multiply-adds (a few microseconds on one core) a product is not split: the hand-off
// and each block's own packing of the shared operand cost more than the second core gains.
constexpr double kSplitMin = 256.0 * 1024;
// Block edges fall on multiples of these (OpenBLAS's micro-tile is 16 wide along our n and 4-8
// along our m), so no block ends on a ragged tile in its middle.
constexpr int64_t kAlignN = 32, kAlignM = 8;
// C with fewer rows than this is split by columns (see gemm_t).
constexpr int64_t kRowSplitMin = 64;

void single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

template <class T>
void blas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
          T* c, int64_t ldc) {
  const CBLAS_TRANSPOSE op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, op_a, op_b, M, N, K, 1.0f, a, static_cast<int>(lda), b, static_cast<int>(ldb),
                1.0f, c, static_cast<int>(ldc));
  else
    cblas_dgemm(CblasRowMajor, op_a, op_b, M, N, K, 1.0, a, static_cast<int>(lda), b, static_cast<int>(ldb),
                1.0, c, static_cast<int>(ldc));
}

// gemm always accumulates (beta = 1); to overwrite, C (or the block's part of it) is zeroed with
// memset first: OpenBLAS's own zeroing pass (sgemm_beta) took 7-8% of the MLP benchmark's step and
// ran slower than memset.
template <class T>
void gemm_t(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c,
            bool accumulate) {
  single_threaded_blas();
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  const int threads = pool_threads();
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  // Blocks of C's rows (each call packs all of op(B) for itself), or of its columns when C has
  // few rows. Column blocks share every row of C between the threads, and on this machine they
  // ran at half speed or worse whenever k was small (C's traffic dominant: 128x512x256 at 130
  // GFLOP/s by columns against 164 by rows, 512x128x32 at 27 against 136); row blocks of fewer
  // than ~32 rows lose to columns (the LSTM's 32x512x128: 49 us by rows, 40 by columns).
  const bool by_cols = m < kRowSplitMin;
  const int64_t len = by_cols ? n : m, align = by_cols ? kAlignN : kAlignM;
  const int64_t parts = threads == 1 || macs < kSplitMin ? 1 : std::min<int64_t>(threads, len / align);
  if (parts <= 1) {
    if (!accumulate) std::memset(c, 0, sizeof(T) * static_cast<std::size_t>(m * n));
    blas(ta, tb, m, n, k, a, lda, b, ldb, c, n);
    return;
  }
  // Block p covers [edge(p), edge(p + 1)): edges depend only on the shape and the thread count,
  // and every block is one call whoever runs it, so results do not depend on the scheduling.
  const int64_t units = (len + align - 1) / align;
  auto edge = [&](int64_t p) { return std::min(len, units * p / parts * align); };
  parallel_for(parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const int64_t s = edge(p), e = edge(p + 1);
      if (e <= s) continue;
      if (by_cols) {
        if (!accumulate)
          for (int64_t r = 0; r < m; ++r)
            std::memset(c + r * n + s, 0, sizeof(T) * static_cast<std::size_t>(e - s));
        blas(ta, tb, m, e - s, k, a, lda, tb ? b + s * ldb : b + s, ldb, c + s, n);
      } else {
        if (!accumulate) std::memset(c + s * n, 0, sizeof(T) * static_cast<std::size_t>((e - s) * n));
        blas(ta, tb, e - s, n, k, ta ? a + s : a + s * lda, lda, b, ldb, c + s * n, n);
      }
    }
  });
}
}  // namespace

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
          bool accumulate) {
  gemm_t(ta, tb, m, n, k, a, b, c, accumulate);
}
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, const double* b, double* c,
          bool accumulate) {
  gemm_t(ta, tb, m, n, k, a, b, c, accumulate);
}

void prepare_serial_gemm() {
  single_threaded_blas();
}
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
                 bool accumulate) {
  if (!accumulate) std::memset(c, 0, sizeof(float) * static_cast<std::size_t>(m * n));
  blas(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, c, n);
}
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, const double* b,
                 double* c, bool accumulate) {
  if (!accumulate) std::memset(c, 0, sizeof(double) * static_cast<std::size_t>(m * n));
  blas(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, c, n);
}

void set_blas_threads(int) {
  single_threaded_blas();
}

}  // namespace xg::detail
