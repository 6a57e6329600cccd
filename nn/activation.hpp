#pragma once
/// @file activation.hpp
/// @brief Activation layers, as torch.nn.ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softmax,
/// LogSoftmax and Softplus: Modules without parameters around the ops of autograd/ops/ops.hpp (the
/// same functions as nn::functional::relu, ...), for use in Sequential.
///
/// @code
/// auto net = std::make_shared<xg::nn::Sequential>(std::vector<xg::nn::ModulePtr>{
///     std::make_shared<xg::nn::Linear>(784, 128), std::make_shared<xg::nn::ReLU>(),
///     std::make_shared<xg::nn::Linear>(128, 10), std::make_shared<xg::nn::LogSoftmax>(1)});
/// @endcode
#include <cstdint>
#include <string>

#include "xgrad/nn/module.hpp"

namespace xg::nn {

/// @brief max(0, x).
class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<ReLU>(); }
};

struct LeakyReLUOptions {
  double negative_slope = 0.01;
};
/// @brief x for x > 0, negative_slope x otherwise.
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(LeakyReLUOptions options) : Module("LeakyReLU"), options_(options) {}
  explicit LeakyReLU(double negative_slope = 0.01)
      : LeakyReLU(LeakyReLUOptions{.negative_slope = negative_slope}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "negative_slope=0.01"
  const LeakyReLUOptions& options() const { return options_; }

 private:
  LeakyReLUOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<LeakyReLU>(options_); }
};

struct ELUOptions {
  double alpha = 1.0;
};
/// @brief x for x > 0, alpha (exp(x) - 1) otherwise.
class ELU : public Module {
 public:
  explicit ELU(ELUOptions options) : Module("ELU"), options_(options) {}
  explicit ELU(double alpha = 1.0) : ELU(ELUOptions{.alpha = alpha}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "alpha=1.0"
  const ELUOptions& options() const { return options_; }

 private:
  ELUOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<ELU>(options_); }
};

struct GELUOptions {
  std::string approximate = "none";  ///< "none": x Phi(x) with erf; "tanh": the tanh approximation
};
/// @brief x Phi(x), Phi the standard normal CDF.
class GELU : public Module {
 public:
  explicit GELU(GELUOptions options);
  GELU() : GELU(GELUOptions{}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "approximate='none'"
  const GELUOptions& options() const { return options_; }

 private:
  GELUOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<GELU>(options_); }
};

/// @brief x sigmoid(x) (swish).
class SiLU : public Module {
 public:
  SiLU() : Module("SiLU") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<SiLU>(); }
};

/// @brief 1 / (1 + exp(-x)).
class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Sigmoid>(); }
};

/// @brief tanh(x).
class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Tanh>(); }
};

struct SoftmaxOptions {
  int64_t dim = -1;
};
/// @brief exp(x) / sum(exp(x)) along dim (PyTorch has no reliable default dim: give one).
class Softmax : public Module {
 public:
  explicit Softmax(SoftmaxOptions options) : Module("Softmax"), options_(options) {}
  explicit Softmax(int64_t dim) : Softmax(SoftmaxOptions{.dim = dim}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "dim=1"
  const SoftmaxOptions& options() const { return options_; }

 private:
  SoftmaxOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Softmax>(options_); }
};

/// @brief log(softmax(x)) along dim, computed stably.
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(SoftmaxOptions options) : Module("LogSoftmax"), options_(options) {}
  explicit LogSoftmax(int64_t dim) : LogSoftmax(SoftmaxOptions{.dim = dim}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "dim=1"
  const SoftmaxOptions& options() const { return options_; }

 private:
  SoftmaxOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<LogSoftmax>(options_); }
};

struct SoftplusOptions {
  double beta = 1.0;
  double threshold = 20.0;  ///< linear above beta x > threshold
};
/// @brief log(1 + exp(beta x)) / beta.
class Softplus : public Module {
 public:
  explicit Softplus(SoftplusOptions options);
  Softplus() : Softplus(SoftplusOptions{}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "beta=1.0, threshold=20.0"
  const SoftplusOptions& options() const { return options_; }

 private:
  SoftplusOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Softplus>(options_); }
};

}  // namespace xg::nn
