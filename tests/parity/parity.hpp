#pragma once
// The parity driver's shared parts (tests/parity): the recorder that writes each case's tensors
// (safetensors, xgrad's own writer) and the manifest run_parity.py reads, deterministic values,
// and the three tables of cases: ops (parity_driver.cpp), layers and losses (cases_nn.cpp),
// optimizers and schedulers (cases_optim.cpp).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "xgrad/autograd.hpp"

namespace parity {

using json = nlohmann::json;

/// Collects the cases: each one's tensors go to <dir>/<id>.safetensors, its description to the
/// manifest (<dir>/manifest.json, written by finish()).
class Recorder {
 public:
  explicit Recorder(std::string dir) : dir_(std::move(dir)) {}
  /// Adds a case; entry["id"] names its file. An error while building the case is recorded in
  /// entry["error"] by the caller (run_parity.py reports it as a failure).
  void add(json entry, const xg::NamedTensors& tensors);
  void finish() const;

 private:
  std::string dir_;
  json cases_ = json::array();
};

/// Float64 values from a private generator (N(0, 1) times scale), never requiring grad.
xg::Tensor values(const xg::Shape& shape, unsigned seed, double scale = 1.0);
/// values(...) requiring grad: a differentiable input.
xg::Tensor input(const xg::Shape& shape, unsigned seed, double scale = 1.0);
/// Uniform values in [lo, hi] (float64, no grad).
xg::Tensor uniform(const xg::Shape& shape, unsigned seed, double lo, double hi);
/// An int64 tensor.
xg::Tensor indices(const std::vector<int64_t>& v, const xg::Shape& shape);
/// The prefix and the number: indexed("x", 2) is "x2" (appended: GCC 12 warns on "x" + s).
inline std::string indexed(std::string prefix, std::size_t i) {
  prefix += std::to_string(i);
  return prefix;
}
/// The tensor, or zeros of `like`'s shape and dtype when it is undefined (an unused input).
xg::Tensor or_zeros(const xg::Tensor& t, const xg::Tensor& like);

void add_op_cases(Recorder& r);
void add_nn_cases(Recorder& r);
void add_optim_cases(Recorder& r);

}  // namespace parity
