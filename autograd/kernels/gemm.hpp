#pragma once
/// @file gemm.hpp
/// @brief Internal: the one wrapper around OpenBLAS's sgemm/dgemm that every op calls (not installed).
///
/// <cblas.h> stays inside gemm.cpp: it and xtensor-blas declare the same CBLAS enums, so no
/// header of xgrad may include it.
#include <cstdint>

namespace xg::detail {

/// c [m, n] = op(a) op(b), or c += op(a) op(b) when accumulating, all row-major and contiguous:
/// a is [m, k] ([k, m] when ta), b is [k, n] ([n, k] when tb). OpenBLAS runs single-threaded; a
/// product of at least ~256K multiply-adds is cut into pool_threads() blocks of C's rows (or of
/// its columns when C has under 64 rows), one OpenBLAS call each, on the compute pool. The blocks
/// depend only on the shape and the thread count, so results are deterministic for a thread
/// count. May be called from inside a parallel_for body: it then runs its blocks one after the
/// other on the calling thread (same blocks, same results).
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
          bool accumulate = false);
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, const double* b, double* c,
          bool accumulate = false);

/// Kept for kernels that split their work over the pool themselves: OpenBLAS is single-threaded
/// already, so this only makes sure of it before the region.
void prepare_serial_gemm();
/// One OpenBLAS call on the calling thread, unsplit, for kernels that split their work over the
/// compute pool themselves (the convolutions, per sample); callable from parallel_for bodies.
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
                 bool accumulate = false);
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, const double* b,
                 double* c, bool accumulate = false);

/// Keeps OpenBLAS at one thread (xg::set_num_threads calls it; the argument is ignored): the
/// compute pool is the only set of threads.
void set_blas_threads(int n);

}  // namespace xg::detail
