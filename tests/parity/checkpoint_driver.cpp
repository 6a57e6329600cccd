// Checkpoint interoperability with PyTorch (run by tests/parity/run_checkpoint.py):
// `checkpoint_driver DIR` writes DIR/xgrad.safetensors (mixed dtypes, tricky metadata) and
// DIR/xgrad_f16.safetensors, DIR/xgrad_bf16.safetensors (the same float64 values stored as F16 and
// BF16); when DIR/torch.safetensors exists (written by the script), it reads it and writes back
// DIR/torch_back.safetensors with every tensor as xgrad read it and the same metadata.
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "xgrad/autograd.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: checkpoint_driver DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  try {
    // The script recomputes these values itself: keep them in step with run_checkpoint.py.
    xg::Tensor a = xg::arange(0, 6, 1).reshape({2, 3}) / 7.0;  // float32
    xg::Tensor idx = xg::tensor({3, -1, 4}, {.dtype = xg::Dtype::int64});
    xg::Tensor w = xg::arange(0, 4, 1, {.dtype = xg::Dtype::float64}).reshape({2, 2}) / 3.0 - 0.5;
    xg::Tensor b = xg::tensor({-1.25f});
    xg::Tensor e = xg::zeros({0, 3}, {.dtype = xg::Dtype::float64});
    xg::save_tensors(dir + "/xgrad.safetensors", {{"a", a}, {"idx", idx}, {"b", b}, {"w", w}, {"empty", e}},
                     {{"quote", "say \"hi\""},
                      {"backslash", "C:\\path\\n"},
                      {"unicode", "caf\xc3\xa9 \xe2\x88\x87 \xf0\x9f\x98\x80"},
                      {"empty", ""}});
    const double nan = std::numeric_limits<double>::quiet_NaN(),
                 inf = std::numeric_limits<double>::infinity();
    const std::vector<double> v = {1 + 0x1p-11 + 0x1p-40,
                                   65520.0,
                                   65519.99,
                                   0x1p-25,
                                   0x1p-24 * 1.5,
                                   3e-8,
                                   1e-45,
                                   -1e-40,
                                   3.4e38,
                                   1e39,
                                   -inf,
                                   -0.0,
                                   0.1,
                                   -2.5,
                                   1 + 0x1p-8 + 0x1p-40,
                                   nan};
    xg::Tensor h = xg::tensor(v, {.dtype = xg::Dtype::float64});
    xg::Tensor one = xg::tensor({7}, {.dtype = xg::Dtype::int64});
    xg::save_tensors(dir + "/xgrad_f16.safetensors", {{"h", h}, {"i", one}}, {},
                     {.floats = xg::FloatStorage::float16});
    xg::save_tensors(dir + "/xgrad_bf16.safetensors", {{"h", h}, {"i", one}}, {},
                     {.floats = xg::FloatStorage::bfloat16});
    const std::string theirs = dir + "/torch.safetensors";
    if (std::filesystem::exists(theirs)) {
      xg::TensorFile f = xg::load_tensors(theirs);
      xg::save_tensors(dir + "/torch_back.safetensors", f.tensors, f.metadata);
    }
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "checkpoint_driver: %s\n", ex.what());
    return 1;
  }
  return 0;
}
