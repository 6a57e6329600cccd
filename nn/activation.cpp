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
  return functional::relu(defined_input(x, "ReLU"));
}

Tensor LeakyReLU::forward(const Tensor& x) {
  return functional::leaky_relu(defined_input(x, "LeakyReLU"), options_.negative_slope);
}
std::string LeakyReLU::extra_repr() const {
  return "negative_slope=" + detail::repr_double(options_.negative_slope);
}

Tensor ELU::forward(const Tensor& x) {
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
  return functional::gelu(defined_input(x, "GELU"), options_.approximate);
}
std::string GELU::extra_repr() const {
  return "approximate='" + options_.approximate + "'";
}

Tensor SiLU::forward(const Tensor& x) {
  return functional::silu(defined_input(x, "SiLU"));
}
Tensor Sigmoid::forward(const Tensor& x) {
  return functional::sigmoid(defined_input(x, "Sigmoid"));
}
Tensor Tanh::forward(const Tensor& x) {
  return functional::tanh(defined_input(x, "Tanh"));
}

Tensor Softmax::forward(const Tensor& x) {
  return functional::softmax(defined_input(x, "Softmax"), options_.dim);
}
std::string Softmax::extra_repr() const {
  return "dim=" + std::to_string(options_.dim);
}

Tensor LogSoftmax::forward(const Tensor& x) {
  return functional::log_softmax(defined_input(x, "LogSoftmax"), options_.dim);
}
std::string LogSoftmax::extra_repr() const {
  return "dim=" + std::to_string(options_.dim);
}

Softplus::Softplus(SoftplusOptions o) : Module("Softplus"), options_(o) {
  if (o.beta == 0.0) throw ValueError("Softplus: beta must be nonzero");
}
Tensor Softplus::forward(const Tensor& x) {
  return functional::softplus(defined_input(x, "Softplus"), options_.beta, options_.threshold);
}
std::string Softplus::extra_repr() const {
  return "beta=" + detail::repr_double(options_.beta) +
         ", threshold=" + detail::repr_double(options_.threshold);
}

}  // namespace xg::nn
