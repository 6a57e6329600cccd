#include "xgrad/nn/activation.hpp"

#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/repr.hpp"

namespace xg::nn {

namespace {
const Tensor& defined_input(const Tensor& x, const char* layer) {
  if (!x.defined()) throw ValueError(std::string(layer) + ": the input is undefined");
  return x;
}
}  // namespace

Tensor ReLU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::relu(defined_input(x, "ReLU"));
}

Tensor LeakyReLU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::leaky_relu(defined_input(x, "LeakyReLU"), options_.negative_slope);
}
std::string LeakyReLU::extra_repr() const {
  return "negative_slope=" + detail::repr_double(options_.negative_slope);
}

Tensor ELU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::elu(defined_input(x, "ELU"), options_.alpha);
}
std::string ELU::extra_repr() const {
  return "alpha=" + detail::repr_double(options_.alpha);
}

GELU::GELU(GELUOptions o) : Module("GELU"), options_(std::move(o)) {
  if (options_.approximate != "none" && options_.approximate != "tanh")
    throw ValueError("GELU: approximate must be \"none\" or \"tanh\", got \"" + options_.approximate + "\"");
}
Tensor GELU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::gelu(defined_input(x, "GELU"), options_.approximate);
}
std::string GELU::extra_repr() const {
  return "approximate='" + options_.approximate + "'";
}

Tensor SiLU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::silu(defined_input(x, "SiLU"));
}
Tensor Sigmoid::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::sigmoid(defined_input(x, "Sigmoid"));
}
Tensor Tanh::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::tanh(defined_input(x, "Tanh"));
}

Tensor Softmax::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::softmax(defined_input(x, "Softmax"), options_.dim);
}
std::string Softmax::extra_repr() const {
  return "dim=" + std::to_string(options_.dim);
}

Tensor LogSoftmax::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::log_softmax(defined_input(x, "LogSoftmax"), options_.dim);
}
std::string LogSoftmax::extra_repr() const {
  return "dim=" + std::to_string(options_.dim);
}

Softplus::Softplus(SoftplusOptions o) : Module("Softplus"), options_(o) {
  if (o.beta == 0.0) throw ValueError("Softplus: beta must be nonzero");
}
Tensor Softplus::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::softplus(defined_input(x, "Softplus"), options_.beta, options_.threshold);
}
std::string Softplus::extra_repr() const {
  return "beta=" + detail::repr_double(options_.beta) +
         ", threshold=" + detail::repr_double(options_.threshold);
}

Tensor Mish::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::mish(defined_input(x, "Mish"));
}
Tensor Hardswish::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::hardswish(defined_input(x, "Hardswish"));
}
Tensor Hardsigmoid::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::hardsigmoid(defined_input(x, "Hardsigmoid"));
}
Tensor SELU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::selu(defined_input(x, "SELU"));
}
Tensor Softsign::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::softsign(defined_input(x, "Softsign"));
}
Tensor Tanhshrink::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::tanhshrink(defined_input(x, "Tanhshrink"));
}
Tensor LogSigmoid::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::logsigmoid(defined_input(x, "LogSigmoid"));
}
Tensor ReLU6::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::hardtanh(defined_input(x, "ReLU6"), 0.0, 6.0);
}

PReLU::PReLU(PReLUOptions o) : Module("PReLU"), options_(o) {
  if (o.num_parameters <= 0)
    throw ValueError("PReLU: num_parameters must be positive, got " + std::to_string(o.num_parameters));
  weight = register_parameter("weight", full({o.num_parameters}, o.init));
}
Tensor PReLU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::prelu(defined_input(x, "PReLU"), weight);
}
std::string PReLU::extra_repr() const {
  return "num_parameters=" + std::to_string(options_.num_parameters);
}

CELU::CELU(CELUOptions o) : Module("CELU"), options_(o) {
  if (o.alpha == 0.0) throw ValueError("CELU: alpha must be nonzero");
}
Tensor CELU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::celu(defined_input(x, "CELU"), options_.alpha);
}
std::string CELU::extra_repr() const {
  return "alpha=" + detail::repr_double(options_.alpha);
}

Tensor GLU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::glu(defined_input(x, "GLU"), options_.dim);
}
std::string GLU::extra_repr() const {
  return "dim=" + std::to_string(options_.dim);
}

Hardtanh::Hardtanh(HardtanhOptions o) : Module("Hardtanh"), options_(o) {
  if (!(o.max_val > o.min_val))
    throw ValueError("Hardtanh: max_val must be greater than min_val, got min_val " +
                     detail::repr_double(o.min_val) + " and max_val " + detail::repr_double(o.max_val));
}
Tensor Hardtanh::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::hardtanh(defined_input(x, "Hardtanh"), options_.min_val, options_.max_val);
}
std::string Hardtanh::extra_repr() const {
  return "min_val=" + detail::repr_double(options_.min_val) +
         ", max_val=" + detail::repr_double(options_.max_val);
}

Tensor Softmin::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return xg::softmin(defined_input(x, "Softmin"), options_.dim);
}
std::string Softmin::extra_repr() const {
  return "dim=" + std::to_string(options_.dim);
}

}  // namespace xg::nn
