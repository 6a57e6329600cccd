#pragma once
/// @file idx.hpp
/// @brief Reading IDX files (the MNIST / Fashion-MNIST format), gzip'd or raw.
/// Layout: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, each
/// dimension as a big-endian 32-bit integer, then the values in row-major order.
///
/// The reader checks the header before it allocates anything: the dimensions' product must fit
/// in 64 bits (every row-major stride too), the tensor must fit in this machine's memory, a raw
/// file must be exactly as long as the header and the data it declares, and a gzip file must be
/// long enough to inflate to that size (deflate expands at most 1032:1). Gzip data is inflated
/// as a stream straight into the result and stops at the first byte past the declared size, so a
/// small file that inflates to gigabytes costs nothing. One gzip member only: bytes after it
/// (garbage or a second member) are an error, as bytes after a raw file's data are. Peak memory
/// is the result plus a 64 KiB buffer.
#include <string>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::data {

/// Reads an IDX file of unsigned bytes into an int64 tensor of its dimensions (gzip detected
/// from the content). Throws xg::IOError naming the file for a missing file, a directory or
/// other non-regular file, a bad magic number, an unsupported type, dimensions that overflow or
/// exceed memory, a truncated file (naming the offset reached and the size expected), trailing
/// bytes (naming their offset) or corrupt gzip data.
Tensor read_idx(const std::string& path);

/// The same, with the values (0..255) stored as `dtype`: float32 takes half the memory of
/// int64 for images that are turned into floats anyway.
Tensor read_idx(const std::string& path, Dtype dtype);

/// The dimensions an IDX file declares, with every check that can be made without reading the
/// data (raw files: the exact length; gzip: the inflation bound). For checking a pair of files
/// against each other before reading the large one.
Shape read_idx_shape(const std::string& path);

/// Writes an IDX file of unsigned bytes (values must be in 0..255), gzip-compressed when the
/// path ends in ".gz"; written to a temporary name and renamed. Used by tests and tools.
void write_idx(const std::string& path, const Tensor& values);

}  // namespace xg::data
