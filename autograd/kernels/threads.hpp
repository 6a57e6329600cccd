#pragma once
/// @file threads.hpp
/// @brief How many compute threads xgrad uses: one kernel pool, which also splits the gemms.

namespace xg {

/// Compute threads (n >= 1): the size of xgrad's kernel pool, which runs the element-wise kernels
/// and the blocks of large matrix products (OpenBLAS itself is kept at one thread).
/// Defaults to the machine's hardware threads.
void set_num_threads(int n);
int get_num_threads();

}  // namespace xg
