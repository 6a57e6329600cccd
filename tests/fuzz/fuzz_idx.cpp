// Fuzz target: data::read_idx on arbitrary bytes (raw or gzip'd IDX). It must return a tensor
// whose shape the header declares, or throw an xg::Error.
#include "fuzz_common.hpp"
#include "xgrad/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = xg::fuzz::write_input(data, size, ".idx");
  xg::fuzz::only_typed_errors("read_idx", [&] {
    const xg::Tensor t = xg::data::read_idx(path);
    const int64_t* v = t.numel() ? t.data<int64_t>() : nullptr;
    for (int64_t i = 0; i < t.numel(); ++i)
      if (v[i] < 0 || v[i] > 255) xg::fuzz::finding("read_idx: a value outside 0..255");
  });
  return 0;
}
