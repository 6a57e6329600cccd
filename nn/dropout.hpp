#pragma once
/// @file dropout.hpp
/// @brief Dropout, as torch.nn.Dropout: inverted dropout (kept elements scaled by 1 / (1 - p)) in
/// training mode, the identity after eval(). The mask is drawn from options.generator when set
/// (shared with the caller, who may save its state), else from the default generator, so
/// xg::manual_seed makes it reproducible.
///
/// @code
/// xg::nn::Dropout drop(0.2);
/// xg::Tensor y = drop.forward(x);   // training: about 20% zeros, the rest x / 0.8
/// drop.eval();
/// y = drop.forward(x);              // x itself
/// @endcode
#include <memory>
#include <string>

#include "xgrad/autograd/tensor/generator.hpp"
#include "xgrad/nn/module.hpp"

namespace xg::nn {

struct DropoutOptions {
  double p = 0.5;  ///< probability of zeroing an element, in [0, 1]
  /// Where the masks come from; null: the default generator. A clone shares it.
  std::shared_ptr<Generator> generator = nullptr;
};

class Dropout : public Module {
 public:
  explicit Dropout(DropoutOptions options);
  explicit Dropout(double p = 0.5) : Dropout(DropoutOptions{.p = p}) {}
  Tensor forward(const Tensor& x) override;
  /// "p=0.5"
  std::string extra_repr() const override;
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Dropout>(options_); }
};

}  // namespace xg::nn
