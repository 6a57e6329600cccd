// Fuzz target: Module::load and Optimizer::load on a small model (Linear(3, 2) and Adam over its
// parameters, after one step so that Adam has state). The input is one file, loaded as the
// model's state and as the optimizer's. A load either succeeds or throws an xg::Error and then
// changes nothing: the model's parameters and the optimizer's state dict are bit for bit what
// they were (all-or-nothing). After a successful load one more step must work or throw a typed
// error; then the original state is put back for the next input.
#include <cstring>

#include "fuzz_common.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/optim.hpp"

namespace {

using xg::Tensor;

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  const Tensor da = a.detach().contiguous(), db = b.detach().contiguous();
  const std::size_t n = static_cast<std::size_t>(a.numel());
  switch (a.dtype()) {
    case xg::Dtype::float32:
      return n == 0 || std::memcmp(da.data<float>(), db.data<float>(), n * 4) == 0;
    case xg::Dtype::float64:
      return n == 0 || std::memcmp(da.data<double>(), db.data<double>(), n * 8) == 0;
    case xg::Dtype::int64:
      return n == 0 || std::memcmp(da.data<int64_t>(), db.data<int64_t>(), n * 8) == 0;
  }
  return false;
}

bool same_state(const xg::NamedTensors& a, const xg::NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !same_bits(a[i].second, b[i].second)) return false;
  return true;
}

struct Fixture {
  std::shared_ptr<xg::nn::Linear> model = std::make_shared<xg::nn::Linear>(3, 2);
  std::unique_ptr<xg::optim::Adam> opt;
  xg::NamedTensors model_state;  // copies
  xg::optim::StateDict opt_state;

  Fixture() {
    opt = std::make_unique<xg::optim::Adam>(model->parameters());
    const Tensor x = xg::tensor({0.5, -1.0, 2.0, 1.5, 0.25, -0.75}, {2, 3});
    model->forward(x).pow(2).sum().backward();
    opt->step();
    for (const auto& [name, t] : model->state_dict()) model_state.emplace_back(name, t.detach().clone());
    opt_state = opt->state_dict();
    // The seeds of this target's corpus: XG_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/load replay_load <any file>.
    if (const char* dir = std::getenv("XG_FUZZ_WRITE_SEEDS")) {
      model->save(std::string(dir) + "/seed-linear");
      opt->save(std::string(dir) + "/seed-adam");
    }
  }

  void restore() {
    model->load_state_dict(model_state);
    opt->load_state_dict(opt_state);
  }

  void step() {
    opt->zero_grad();
    const Tensor x = xg::tensor({1.0, 2.0, -0.5}, {1, 3});
    model->forward(x).sum().backward();
    opt->step();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static Fixture f;
  const std::string path = xg::fuzz::write_input(data, size, ".safetensors");

  bool changed = false;
  if (xg::fuzz::only_typed_errors("Module::load", [&] { f.model->load(path); })) {
    changed = true;
  } else if (!same_state(f.model->state_dict(), f.model_state)) {
    xg::fuzz::finding("Module::load failed but changed the model");
  }
  xg::NamedTensors model_now;
  for (const auto& [name, t] : f.model->state_dict()) model_now.emplace_back(name, t.detach().clone());
  if (xg::fuzz::only_typed_errors("Optimizer::load", [&] { f.opt->load(path); })) {
    changed = true;
  } else {
    const xg::optim::StateDict now = f.opt->state_dict();
    if (!same_state(now.tensors, f.opt_state.tensors) || now.metadata != f.opt_state.metadata)
      xg::fuzz::finding("Optimizer::load failed but changed the optimizer's state");
    if (!same_state(f.model->state_dict(), model_now))
      xg::fuzz::finding("Optimizer::load failed but changed the model");
  }
  if (changed) {
    xg::fuzz::only_typed_errors("a step after a load", [&] { f.step(); });
    f.restore();
  }
  return 0;
}
