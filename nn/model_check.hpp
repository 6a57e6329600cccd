#pragma once
/// @file model_check.hpp
/// @brief gradcheck at model scale: the derivatives of a loss with respect to a module's named
/// parameters (and the inputs that require grad) against finite differences, reported by name
/// (`fc1.weight[3, 2]`, `input[0, 0, 5, 7]`). By default in fast mode (xg::GradcheckOptions::fast:
/// one random projection per tensor, then the element-by-element check of a tensor whose
/// projection disagrees), so that a whole CNN is checked in float64 in seconds.
///
/// @code
/// model->to(xg::Dtype::float64);
/// xg::GradcheckReport r = xg::nn::gradcheck(*model, images, [&](const xg::Tensor& logits) {
///   return xg::nn::functional::cross_entropy(logits, labels);
/// });
/// if (!r) std::cout << r.str() << "\n";  // names the parameter, the element, and the wrong op
/// @endcode
#include <functional>
#include <vector>

#include "xgrad/autograd/tools/gradcheck.hpp"
#include "xgrad/nn/module.hpp"

namespace xg::nn {

struct ModelCheckOptions {
  bool fast = true;      ///< random projections first (false: the whole Jacobian of every tensor)
  bool float32 = false;  ///< a float32 model: float32 tolerances (eps 1e-3, atol 1e-3, rtol 1e-2)
  /// float64 tolerances. Tighter than a single op's: a loss's derivative along a random direction
  /// has a finite-difference error near 1e-9 relative, and a mistake of 1e-3 must show.
  double eps = 1e-6, atol = 1e-9, rtol = 1e-5;
  bool eval = true;      ///< check in evaluation mode (dropout off); the module's mode is restored
  bool localise = true;  ///< on failure, name the first recorded op whose backward is wrong
  int max_failures = 5;
  uint64_t seed = 0;
};

/// The loss of the module's output.
using ModelLoss = std::function<Tensor(const Tensor& output)>;
/// The general form: the loss from the module and the inputs (several inputs, or a forward other
/// than operator()).
using ModelFunction = std::function<Tensor(Module& module, const std::vector<Tensor>& inputs)>;

/// Checks d loss(module(input)) / d (every parameter that requires grad, and input when it does).
/// The input is named by its name, else "input".
GradcheckReport gradcheck(Module& module, const Tensor& input, const ModelLoss& loss,
                          const ModelCheckOptions& o = {});
/// The same for a loss of several inputs; unnamed inputs are "input0", "input1", ...
GradcheckReport gradcheck(Module& module, const std::vector<Tensor>& inputs, const ModelFunction& loss,
                          const ModelCheckOptions& o = {});

}  // namespace xg::nn
