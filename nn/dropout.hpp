#pragma once
/// @file dropout.hpp
/// @brief Dropout, as torch.nn.Dropout: inverted dropout (kept elements scaled by 1 / (1 - p)) in
/// training mode, the identity after eval(). The mask is drawn from xg's seeded generator, so
/// xg::manual_seed makes it reproducible.
///
/// @code
/// xg::nn::Dropout drop(0.2);
/// xg::Tensor y = drop.forward(x);   // training: about 20% zeros, the rest x / 0.8
/// drop.eval();
/// y = drop.forward(x);              // x itself
/// @endcode
#include <string>

#include "xgrad/nn/module.hpp"

namespace xg::nn {

struct DropoutOptions {
  double p = 0.5;  ///< probability of zeroing an element, in [0, 1]
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
