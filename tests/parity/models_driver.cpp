// The three ported models of examples/programs/models against PyTorch (run by
// tests/parity/run_models.py, whose twins are in tests/parity/models.py). `models_driver DIR`,
// for each model M (resnet, unet, gpt) built small and in float64:
//  - its inputs come from DIR/M.inputs.safetensors when the script wrote them, else are drawn
//    (seeded) and written there;
//  - its weights are its own initialisation, or DIR/M.torch.safetensors when PyTorch wrote it
//    (loaded strictly); either way written to DIR/M.<tag>.init.safetensors (tag xgrad / torch);
//  - in training mode: the output, the loss and every parameter's gradient, the state after the
//    forward (batch norm's running statistics), then five AdamW steps from those gradients (the
//    loss before each and the final state) go to DIR/M.<tag>.results.safetensors.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "models/resnet.hpp"
#include "models/tiny_gpt.hpp"
#include "models/unet.hpp"
#include "xgrad/xgrad.hpp"

namespace {

namespace F = xg::nn::functional;
constexpr int kAdamWSteps = 5;

struct Case {
  std::string name;
  std::function<std::shared_ptr<xg::nn::Module>()> build;
  std::function<xg::NamedTensors()> inputs;  // "x" and "y"
  std::function<xg::Tensor(xg::nn::Module&, const xg::Tensor&, const xg::Tensor&)> loss;
};

void run(const std::string& dir, const Case& c) {
  const std::string inputs_path = dir + "/" + c.name + ".inputs.safetensors";
  if (!std::filesystem::exists(inputs_path)) xg::save_tensors(inputs_path, c.inputs());
  const xg::TensorFile in = xg::load_tensors(inputs_path);
  const xg::Tensor x = in.at("x"), y = in.at("y");
  const std::string theirs = dir + "/" + c.name + ".torch.safetensors";
  const bool from_torch = std::filesystem::exists(theirs);
  const std::string prefix = dir + "/" + c.name + (from_torch ? ".torch" : ".xgrad");
  xg::manual_seed(7);
  std::shared_ptr<xg::nn::Module> model = c.build();
  model->to(xg::Dtype::float64);
  model->train();
  if (from_torch) model->load(theirs, /*strict=*/true);
  model->save(prefix + ".init.safetensors");

  xg::NamedTensors out;
  xg::Tensor loss = c.loss(*model, x, y);
  loss.backward();
  out.emplace_back("loss", loss.detach());
  for (const auto& [n, p] : model->named_parameters()) out.emplace_back("grad." + n, p.grad());
  for (const auto& [n, t] : model->state_dict()) out.emplace_back("after." + n, t.clone());
  xg::optim::AdamW opt(model->parameters(), {.lr = 1e-2, .weight_decay = 0.1});
  for (int s = 0; s < kAdamWSteps; ++s) {
    if (s > 0) {
      opt.zero_grad();
      xg::Tensor l = c.loss(*model, x, y);
      l.backward();
      out.emplace_back("step" + std::to_string(s) + ".loss", l.detach());
    }
    opt.step();
  }
  for (const auto& [n, t] : model->state_dict()) out.emplace_back("final." + n, t.clone());
  xg::save_tensors(prefix + ".results.safetensors", out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: models_driver DIR\n");
    return 2;
  }
  const xg::TensorOptions f64{.dtype = xg::Dtype::float64};
  const Case cases[] = {
      {"resnet", [] { return std::make_shared<models::ResNet>(4, 1, 10); },
       [&] {
         xg::manual_seed(1);
         return xg::NamedTensors{{"x", xg::randn({4, 1, 12, 12}, f64)}, {"y", xg::randint(0, 10, {4})}};
       },
       [](xg::nn::Module& m, const xg::Tensor& x, const xg::Tensor& y) {
         return F::cross_entropy(m.forward(x), y);
       }},
      {"unet", [] { return std::make_shared<models::UNetAutoencoder>(4, 2); },
       [&] {
         xg::manual_seed(2);
         xg::Tensor x = xg::rand({2, 1, 8, 8}, f64);
         return xg::NamedTensors{{"x", x}, {"y", x}};
       },
       [](xg::nn::Module& m, const xg::Tensor& x, const xg::Tensor& y) {
         return F::mse_loss(m.forward(x), y);
       }},
      {"gpt",
       [] {
         return std::make_shared<models::TinyGpt>(
             models::GptConfig{.vocab = 11, .context = 8, .embed = 16, .heads = 2, .layers = 2});
       },
       [&] {
         xg::manual_seed(3);
         return xg::NamedTensors{{"x", xg::randint(0, 11, {2, 8})}, {"y", xg::randint(0, 11, {16})}};
       },
       [](xg::nn::Module& m, const xg::Tensor& x, const xg::Tensor& y) {
         return F::cross_entropy(xg::reshape(m.forward(x), {16, 11}), y);
       }},
  };
  try {
    for (const Case& c : cases) run(argv[1], c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "models_driver: %s\n", e.what());
    return 1;
  }
  return 0;
}
