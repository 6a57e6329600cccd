#pragma once
/// @file serialize.hpp
/// @brief Tensor files: reading and writing safetensors (an 8-byte little-endian header length,
/// a JSON header naming each tensor's dtype, shape and byte range, then the raw bytes). Used by
/// nn (state dicts) and optim (optimizer state) alike. Writes go to a temporary file that is
/// renamed over the target, so an interrupted save never destroys the previous file.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

/// Named tensors in a fixed order (the order they are written in).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct TensorFile {
  NamedTensors tensors;
  std::map<std::string, std::string> metadata;  ///< the header's "__metadata__" strings
  /// The tensor of that name; throws IOError naming the file when it is missing.
  const Tensor& at(const std::string& name) const;
  std::string path;
};

/// Writes the tensors (any dtype) and string metadata to `path` atomically.
/// Throws IOError naming the file on failure, ValueError on duplicate or empty names.
void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata = {});

/// Reads a safetensors file. F32, F64 and I64 are read as is; F16/BF16/I32/I8/U8/BOOL are
/// converted (to float32 or int64). Every inconsistency (truncation, a header length beyond the
/// file, malformed JSON, byte ranges out of bounds or overlapping, a shape that does not match
/// its byte range) raises IOError naming the file and the byte offset.
TensorFile load_tensors(const std::string& path);

}  // namespace xg
