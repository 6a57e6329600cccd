// The gemm wrapper and OpenBLAS's thread count. This is the one file that includes OpenBLAS's
// <cblas.h>, so it must not include xtensor-blas (the two declare the same CBLAS enums).
#include "xgrad/autograd/kernels/gemm.hpp"

#include <cblas.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "xgrad/autograd/kernels/parallel.hpp"

namespace xg::detail {

namespace {
std::atomic<int> blas_threads{0};  // what OpenBLAS was last told (0: not yet)

// Below about 4M multiply-adds (~100 us on one core) a gemm gains little from a second thread on a
// quiet machine and loses badly on a busy one, where the helper thread may not be scheduled for
// milliseconds: the LSTM benchmark's 32x512x128 products ran 4x slower threaded under load.
constexpr double kGemmThreadMin = 4.0 * 1024 * 1024;

// Called before each gemm of m x n x k multiply-adds: OpenBLAS gets the pool's thread count for
// products large enough to repay handing work to another thread, and one thread otherwise.
void prepare_gemm(int64_t m, int64_t n, int64_t k) {
  const int want = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < kGemmThreadMin
                       ? 1
                       : pool_threads();
  if (blas_threads.load(std::memory_order_relaxed) != want) {
    openblas_set_num_threads(want);
    blas_threads.store(want, std::memory_order_relaxed);
  }
}

// gemm always accumulates (beta = 1); to overwrite, c is zeroed with memset first: OpenBLAS's own
// zeroing pass (sgemm_beta) took 7-8% of the MLP benchmark's step and ran slower than memset.
template <class T>
void gemm_t(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c, bool accumulate,
            bool prepare = true) {
  if (prepare) prepare_gemm(m, n, k);
  if (!accumulate) std::memset(c, 0, sizeof(T) * static_cast<std::size_t>(m * n));
  const CBLAS_TRANSPOSE op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  const int lda = ta ? M : K, ldb = tb ? K : N;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, op_a, op_b, M, N, K, 1.0f, a, lda, b, ldb, 1.0f, c, N);
  else
    cblas_dgemm(CblasRowMajor, op_a, op_b, M, N, K, 1.0, a, lda, b, ldb, 1.0, c, N);
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
  if (blas_threads.load(std::memory_order_relaxed) != 1) {
    openblas_set_num_threads(1);
    blas_threads.store(1, std::memory_order_relaxed);
  }
}
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
                 bool accumulate) {
  gemm_t(ta, tb, m, n, k, a, b, c, accumulate, false);
}
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, const double* b,
                 double* c, bool accumulate) {
  gemm_t(ta, tb, m, n, k, a, b, c, accumulate, false);
}

void set_blas_threads(int n) {
  openblas_set_num_threads(n);
  blas_threads.store(n);
}

}  // namespace xg::detail
