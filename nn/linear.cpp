#include "xgrad/nn/linear.hpp"

#include <cmath>

#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/init.hpp"

namespace xg::nn {

namespace {
void check_positive(int64_t v, const char* layer, const char* what) {
  if (v <= 0)
    throw ValueError(std::string(layer) + ": " + what + " must be positive, got " + std::to_string(v));
}
}  // namespace

Linear::Linear(LinearOptions o) : Module("Linear"), options_(o) {
  check_positive(o.in_features, "Linear", "in_features");
  check_positive(o.out_features, "Linear", "out_features");
  weight = register_parameter("weight", empty({o.out_features, o.in_features}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_features}));
  reset_parameters();
}

void Linear::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound =
        1.0 / std::sqrt(static_cast<double>(init::calculate_fan_in_and_fan_out(weight).first));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  if (x.defined() && (x.dim() == 0 || x.size(-1) != options_.in_features))
    throw ShapeError("Linear: input " + x.shape().str() + " does not end in in_features = " +
                     std::to_string(options_.in_features) + " (" + extra_repr() + ")");
  return functional::linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(options_.in_features) +
         ", out_features=" + std::to_string(options_.out_features) +
         ", bias=" + (bias.defined() ? "true" : "false");
}

Bilinear::Bilinear(BilinearOptions o) : Module("Bilinear"), options_(o) {
  check_positive(o.in1_features, "Bilinear", "in1_features");
  check_positive(o.in2_features, "Bilinear", "in2_features");
  check_positive(o.out_features, "Bilinear", "out_features");
  weight = register_parameter("weight", empty({o.out_features, o.in1_features, o.in2_features}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_features}));
  reset_parameters();
}

void Bilinear::reset_parameters() {
  const double bound = 1.0 / std::sqrt(static_cast<double>(options_.in1_features));
  init::uniform_(weight, -bound, bound);
  if (bias.defined()) init::uniform_(bias, -bound, bound);
}

Tensor Bilinear::forward(const Tensor& x1, const Tensor& x2) {
  const ModuleScope scope(*this);
  return functional::bilinear(x1, x2, weight, bias);
}

std::string Bilinear::extra_repr() const {
  return "in1_features=" + std::to_string(options_.in1_features) +
         ", in2_features=" + std::to_string(options_.in2_features) +
         ", out_features=" + std::to_string(options_.out_features) +
         ", bias=" + (bias.defined() ? "true" : "false");
}

}  // namespace xg::nn
