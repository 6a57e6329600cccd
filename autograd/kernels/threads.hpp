#pragma once
/// @file threads.hpp
/// @brief How many compute threads xgrad uses: its kernel pool and OpenBLAS's gemm threads alike.

namespace xg {

/// Compute threads (n >= 1): the size of xgrad's kernel pool and of OpenBLAS's gemm pool alike.
/// Defaults to the machine's hardware threads.
void set_num_threads(int n);
int get_num_threads();

}  // namespace xg
