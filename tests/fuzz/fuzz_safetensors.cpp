// Fuzz target: xg::load_tensors (the safetensors reader) on arbitrary bytes. It must return
// tensors whose element count fits what was read, or throw an xg::Error.
#include "fuzz_common.hpp"
#include "xgrad/autograd/tools/serialize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = xg::fuzz::write_input(data, size, ".safetensors");
  xg::fuzz::only_typed_errors("load_tensors", [&] {
    const xg::TensorFile f = xg::load_tensors(path);
    std::size_t bytes = 0;
    for (const auto& [name, t] : f.tensors) {
      if (!t.defined()) xg::fuzz::finding("load_tensors: an undefined tensor '" + name + "'");
      bytes += static_cast<std::size_t>(t.numel());  // at least one byte per element in the file
      // Reading every element: ASan catches a tensor whose storage is smaller than its shape.
      if (t.is_floating_point()) (void)t.to(xg::Dtype::float64).sum().item();
    }
    if (bytes > size) xg::fuzz::finding("load_tensors: more elements than bytes in the file");
  });
  return 0;
}
