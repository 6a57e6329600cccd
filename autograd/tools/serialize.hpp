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

/// How save_tensors stores float32 and float64 tensors (int64 ones are always stored as I64).
enum class FloatStorage {
  as_is,     ///< F32 / F64, exact
  float16,   ///< F16, rounded to nearest even as PyTorch's .half() (float64 goes through float32)
  bfloat16,  ///< BF16, rounded to nearest even as PyTorch's .bfloat16() (float64 through float32)
};

struct SaveOptions {
  FloatStorage floats = FloatStorage::as_is;
};

/// Writes the tensors (any dtype) and string metadata to `path` atomically. The header lists the
/// tensors in the given order; the data is laid out by element size, largest first, after a
/// header padded with spaces to end at a multiple of 8, so every tensor's data starts at a file
/// offset that is a multiple of its element size (a zero-copy reader can map each one).
/// Throws IOError naming the file on failure or when the header would exceed the format's limit
/// of 100,000,000 bytes (checked before the file is opened), ValueError on duplicate or empty
/// names and on names or metadata that are not valid UTF-8.
void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata = {}, SaveOptions options = {});

/// Reads a safetensors file, its tensors in the header's order, whatever their layout or alignment
/// in the data area. F32, F64 and I64 are read as is; F16/BF16/I32/I8/U8/BOOL are
/// converted (to float32 or int64). Every inconsistency raises IOError naming the file and the
/// byte offset, tensor name or field: truncation, a header length beyond the file or above the
/// format's limit of 100,000,000 bytes (checked before allocating), malformed JSON, a header that
/// is not an object, duplicate names or keys, an entry with fields missing or unknown, a dtype
/// the format does not define or xgrad does not read, extents and offsets that are not
/// non-negative integers representable in int64 (integral floats such as 2.0 are accepted up
/// to 2^53), more than kMaxRank axes, element or byte counts beyond 63 bits, a shape that does
/// not match its byte range, byte ranges out of the file, overlapping or leaving gaps (they must
/// tile the data area), a BOOL byte other than 0 or 1, and a __metadata__ that is not an object
/// of strings. Nothing is allocated for the data before the whole header is checked.
TensorFile load_tensors(const std::string& path);

}  // namespace xg
