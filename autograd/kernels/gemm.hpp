#pragma once
/// @file gemm.hpp
/// @brief Internal: the one wrapper around OpenBLAS's sgemm/dgemm that every op calls (not installed).
///
/// <cblas.h> stays inside gemm.cpp: it and xtensor-blas declare the same CBLAS enums, so no
/// header of xgrad may include it.
#include <cstdint>

namespace xg::detail {

/// c [m, n] = op(a) op(b), or c += op(a) op(b) when accumulating, all row-major and contiguous:
/// a is [m, k] ([k, m] when ta), b is [k, n] ([n, k] when tb). OpenBLAS gets the compute pool's
/// threads for products large enough to repay them, and one thread otherwise. Not to be called
/// from inside a parallel_for body.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
          bool accumulate = false);
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, const double* b, double* c,
          bool accumulate = false);

/// Tells OpenBLAS to use one thread, so that gemm_serial may then run from parallel_for bodies.
/// Called outside them, before the region (OpenBLAS's thread count is a global setting).
void prepare_serial_gemm();
/// gemm on the calling thread alone, for kernels that split their work over the compute pool
/// themselves (the convolutions, per sample). prepare_serial_gemm() must have run since the
/// last gemm.
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
                 bool accumulate = false);
void gemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, const double* b,
                 double* c, bool accumulate = false);

/// Tells OpenBLAS to use n threads (xg::set_num_threads); gemm lowers it for small products.
void set_blas_threads(int n);

}  // namespace xg::detail
