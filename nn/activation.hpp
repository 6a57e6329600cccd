#pragma once
/// @file activation.hpp
/// @brief Activation layers, as torch.nn.ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softmax,
/// LogSoftmax, Softplus, PReLU, Mish, Hardswish, Hardsigmoid, SELU, CELU, GLU, Softsign,
/// Tanhshrink, Hardtanh, ReLU6, LogSigmoid and Softmin: Modules around the ops of
/// autograd/ops/ops.hpp (the same functions as nn::functional::relu, ...), for use in Sequential.
/// Only PReLU has a parameter.
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

/// @brief x tanh(softplus(x)).
class Mish : public Module {
 public:
  Mish() : Module("Mish") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Mish>(); }
};

/// @brief x relu6(x + 3) / 6.
class Hardswish : public Module {
 public:
  Hardswish() : Module("Hardswish") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Hardswish>(); }
};

/// @brief relu6(x + 3) / 6.
class Hardsigmoid : public Module {
 public:
  Hardsigmoid() : Module("Hardsigmoid") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Hardsigmoid>(); }
};

/// @brief scale (max(0, x) + min(0, alpha (exp(x) - 1))) with PyTorch's scale and alpha.
class SELU : public Module {
 public:
  SELU() : Module("SELU") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<SELU>(); }
};

/// @brief x / (1 + |x|).
class Softsign : public Module {
 public:
  Softsign() : Module("Softsign") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Softsign>(); }
};

/// @brief x - tanh(x).
class Tanhshrink : public Module {
 public:
  Tanhshrink() : Module("Tanhshrink") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Tanhshrink>(); }
};

/// @brief log(sigmoid(x)), stable for large |x|.
class LogSigmoid : public Module {
 public:
  LogSigmoid() : Module("LogSigmoid") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<LogSigmoid>(); }
};

/// @brief min(max(0, x), 6) (hardtanh(x, 0, 6)).
class ReLU6 : public Module {
 public:
  ReLU6() : Module("ReLU6") {}
  Tensor forward(const Tensor& x) override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<ReLU6>(); }
};

struct PReLUOptions {
  int64_t num_parameters = 1;  ///< 1 (one slope for all channels) or the channel count (axis 1)
  double init = 0.25;          ///< the slopes' initial value
};
/// @brief x for x > 0, weight x otherwise, with a learned slope: parameter weight [num_parameters]
/// (filled with init), per channel on axis 1 when num_parameters > 1.
class PReLU : public Module {
 public:
  explicit PReLU(PReLUOptions options);
  explicit PReLU(int64_t num_parameters = 1, double init = 0.25)
      : PReLU(PReLUOptions{.num_parameters = num_parameters, .init = init}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "num_parameters=1"
  const PReLUOptions& options() const { return options_; }

  Tensor weight;

 private:
  PReLUOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<PReLU>(options_); }
};

struct CELUOptions {
  double alpha = 1.0;
};
/// @brief max(0, x) + min(0, alpha (exp(x / alpha) - 1)).
class CELU : public Module {
 public:
  explicit CELU(CELUOptions options);
  explicit CELU(double alpha = 1.0) : CELU(CELUOptions{.alpha = alpha}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "alpha=1.0"
  const CELUOptions& options() const { return options_; }

 private:
  CELUOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<CELU>(options_); }
};

struct GLUOptions {
  int64_t dim = -1;
};
/// @brief a sigmoid(b), a and b the two halves of x along dim (of even size).
class GLU : public Module {
 public:
  explicit GLU(GLUOptions options) : Module("GLU"), options_(options) {}
  explicit GLU(int64_t dim = -1) : GLU(GLUOptions{.dim = dim}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "dim=-1"
  const GLUOptions& options() const { return options_; }

 private:
  GLUOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<GLU>(options_); }
};

struct HardtanhOptions {
  double min_val = -1.0;
  double max_val = 1.0;
};
/// @brief x limited to [min_val, max_val] (min_val < max_val).
class Hardtanh : public Module {
 public:
  explicit Hardtanh(HardtanhOptions options);
  explicit Hardtanh(double min_val = -1.0, double max_val = 1.0)
      : Hardtanh(HardtanhOptions{.min_val = min_val, .max_val = max_val}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "min_val=-1.0, max_val=1.0"
  const HardtanhOptions& options() const { return options_; }

 private:
  HardtanhOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Hardtanh>(options_); }
};

/// @brief softmax(-x) along dim.
class Softmin : public Module {
 public:
  explicit Softmin(SoftmaxOptions options) : Module("Softmin"), options_(options) {}
  explicit Softmin(int64_t dim) : Softmin(SoftmaxOptions{.dim = dim}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "dim=1"
  const SoftmaxOptions& options() const { return options_; }

 private:
  SoftmaxOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Softmin>(options_); }
};

}  // namespace xg::nn
