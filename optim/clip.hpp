#pragma once
/// @file clip.hpp
/// @brief Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (here in
/// optim: they act on parameters' gradients, not on modules). Parameters without a gradient are
/// skipped. Both write the gradients in place (bumping their version counters).
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::optim {

/// The norm of all gradients together, as if concatenated into one vector:
///     total = (Σ |g|^p)^(1/p)  (norm_type p > 0),  max |g|  (norm_type = infinity),
/// accumulated in float64 and returned as a double. When max_norm / (total + 1e-6) < 1 every
/// gradient is multiplied by that factor (a NaN total makes it NaN, as in PyTorch; set
/// error_if_nonfinite to get a ValueError instead). Returns 0 when no parameter has a gradient.
/// Throws ValueError for max_norm < 0 or norm_type <= 0.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

/// Clamps every gradient element to [−clip_value, clip_value] (NaN stays NaN). Throws ValueError
/// for clip_value < 0.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace xg::optim
