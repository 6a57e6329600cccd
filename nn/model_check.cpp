#include "xgrad/nn/model_check.hpp"

#include <string>

#include "xgrad/autograd/ops/ops.hpp"

namespace xg::nn {

namespace {
// Puts the module back in the mode it was in.
struct ModeRestore {
  Module& m;
  bool training;
  ~ModeRestore() { m.train(training); }
};
}  // namespace

GradcheckReport gradcheck(Module& module, const std::vector<Tensor>& inputs, const ModelFunction& loss,
                          const ModelCheckOptions& o) {
  std::vector<Tensor> tensors;
  GradcheckOptions go;
  go.eps = o.eps;
  go.atol = o.atol;
  go.rtol = o.rtol;
  if (o.float32) go = float32_options(go);
  go.fast = o.fast;
  go.localise = o.localise;
  go.max_failures = o.max_failures;
  go.seed = o.seed;
  auto dtype_ok = [&](const Tensor& t) {
    return t.dtype() == Dtype::float64 || (o.float32 && t.dtype() == Dtype::float32);
  };
  const char* fix = o.float32 ? "; a model check needs float64 or float32 tensors"
                              : "; call module.to(xg::Dtype::float64) first, or set float32 mode";
  for (const auto& [name, p] : module.named_parameters()) {
    if (!p.requires_grad()) continue;
    if (!dtype_ok(p))
      throw TypeError("gradcheck: parameter " + name + " of " + module.type_name() + " is " +
                      dtype_name(p.dtype()) + fix);
    tensors.push_back(p);
    go.names.push_back(name);
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) throw ValueError("gradcheck: input " + std::to_string(i) + " is undefined");
    if (inputs[i].requires_grad() && !dtype_ok(inputs[i]))
      throw TypeError("gradcheck: input " + std::to_string(i) + " is " + dtype_name(inputs[i].dtype()) + fix);
    tensors.push_back(inputs[i]);
    std::string n = inputs[i].name();
    if (n.empty()) n = inputs.size() == 1 ? "input" : "input" + std::to_string(i);
    go.names.push_back(n);
  }
  ModeRestore restore{module, module.is_training()};
  if (o.eval) module.eval();
  // The check perturbs the parameters and inputs in place, so f reads them from the module.
  MultiFunction f = [&](const std::vector<Tensor>&) {
    Tensor L = loss(module, inputs);
    if (!L.defined() || L.numel() != 1)
      throw ValueError("gradcheck: the loss must be one number, got " +
                       (L.defined() ? L.shape().str() : std::string("an undefined tensor")));
    return std::vector<Tensor>{L};
  };
  return xg::gradcheck(f, tensors, go);
}

GradcheckReport gradcheck(Module& module, const Tensor& input, const ModelLoss& loss,
                          const ModelCheckOptions& o) {
  return gradcheck(
      module, std::vector<Tensor>{input},
      [&loss](Module& m, const std::vector<Tensor>& in) { return loss(m(in[0])); }, o);
}

}  // namespace xg::nn
