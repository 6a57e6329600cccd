#pragma once
/// @file linear.hpp
/// @brief Fully connected layers, as torch.nn.Linear / Bilinear, with PyTorch's parameter names,
/// layouts and default initialisation, so weights port one to one; and Identity.
///
/// @code
/// auto fc = std::make_shared<xg::nn::Linear>(784, 128);                  // weight [128, 784], bias [128]
/// xg::nn::Linear head({.in_features = 128, .out_features = 10, .bias = false});
/// xg::Tensor y = fc->forward(xg::randn({64, 784}));                      // [64, 128]
/// @endcode
#include <cstdint>
#include <string>

#include "xgrad/nn/module.hpp"

namespace xg::nn {

struct LinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
};

/// @brief y = x W^T + b. Parameters: weight [out_features, in_features] ~ kaiming_uniform(a = sqrt(5)),
/// i.e. U(-1/sqrt(in), 1/sqrt(in)); bias [out_features] ~ U(-1/sqrt(in), 1/sqrt(in)).
/// Input [..., in_features] -> [..., out_features]. The product is one gemm with W transposed
/// by a flag (matmul_t), never a transposed copy.
class Linear : public Module {
 public:
  explicit Linear(LinearOptions options);
  Linear(int64_t in_features, int64_t out_features, bool bias = true)
      : Linear(LinearOptions{.in_features = in_features, .out_features = out_features, .bias = bias}) {}
  Tensor forward(const Tensor& x) override;
  /// "in_features=784, out_features=128, bias=true"
  std::string extra_repr() const override;
  /// Draws the parameters again (PyTorch's reset_parameters).
  void reset_parameters();
  const LinearOptions& options() const { return options_; }

  Tensor weight, bias;  ///< bias undefined when options.bias is false

 private:
  LinearOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Linear>(options_); }
};

struct BilinearOptions {
  int64_t in1_features = 0;
  int64_t in2_features = 0;
  int64_t out_features = 0;
  bool bias = true;
};

/// @brief y[n, o] = x1[n] W[o] x2[n]^T + b[o]. Parameters: weight [out, in1, in2] and bias [out],
/// both ~ U(-1/sqrt(in1), 1/sqrt(in1)) as PyTorch. Inputs [..., in1] and [..., in2] with the same
/// leading axes -> [..., out]. Takes two inputs: forward(x1, x2).
class Bilinear : public Module {
 public:
  explicit Bilinear(BilinearOptions options);
  Bilinear(int64_t in1_features, int64_t in2_features, int64_t out_features, bool bias = true)
      : Bilinear(BilinearOptions{.in1_features = in1_features,
                                 .in2_features = in2_features,
                                 .out_features = out_features,
                                 .bias = bias}) {}
  using Module::forward;
  Tensor forward(const Tensor& x1, const Tensor& x2);
  using Module::operator();
  Tensor operator()(const Tensor& x1, const Tensor& x2) {
    check_no_hooks("Bilinear(x1, x2)");
    return forward(x1, x2);
  }
  /// "in1_features=5, in2_features=3, out_features=4, bias=true"
  std::string extra_repr() const override;
  void reset_parameters();
  const BilinearOptions& options() const { return options_; }

  Tensor weight, bias;

 private:
  BilinearOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Bilinear>(options_); }
};

/// @brief Returns its input unchanged (the same tensor): a placeholder, e.g. for a removed head.
class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Identity>(); }
};

}  // namespace xg::nn
