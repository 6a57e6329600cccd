#pragma once
/// @file idx.hpp
/// @brief Reading IDX files (the MNIST / Fashion-MNIST format), gzip'd or raw.
/// Layout: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, each
/// dimension as a big-endian 32-bit integer, then the values in row-major order.
#include <string>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::data {

/// Reads an IDX file of unsigned bytes into an int64 tensor of its dimensions (gzip detected
/// from the content). Throws xg::IOError naming the file for a missing file, a bad magic number,
/// an unsupported type, a truncated file (naming the offset reached and the size expected) or
/// trailing bytes.
Tensor read_idx(const std::string& path);

/// Writes an IDX file of unsigned bytes (values must be in 0..255), gzip-compressed when the
/// path ends in ".gz"; written to a temporary name and renamed. Used by tests and tools.
void write_idx(const std::string& path, const Tensor& values);

}  // namespace xg::data
