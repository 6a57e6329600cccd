#include "xgrad/optim/clip.hpp"

#include <cmath>
#include <string>

#include "xgrad/autograd/tensor/error.hpp"
#include "xgrad/optim/optimizer.hpp"

namespace xg::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  if (!(max_norm >= 0.0))
    throw ValueError("clip_grad_norm_: invalid max_norm = " + option_to_string(max_norm) + " (must be >= 0)");
  if (!(norm_type > 0.0))
    throw ValueError("clip_grad_norm_: invalid norm_type = " + option_to_string(norm_type) +
                     " (must be > 0, or infinity for the max norm)");
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    if (!p.defined()) throw ValueError("clip_grad_norm_: a parameter is undefined");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!g.is_floating_point())
      throw TypeError("clip_grad_norm_: a gradient is " + std::string(dtype_name(g.dtype())));
    grads.push_back(g);
  }
  if (grads.empty()) return 0.0;

  const bool inf_norm = std::isinf(norm_type);
  double acc = 0.0;  // Σ |g|^p, or max |g|
  bool nan = false;
  for (const Tensor& g : grads) {
    detail::visit_float(g, "clip_grad_norm_", [&]<class T>() {
      const T* v = g.data<T>();
      const int64_t n = g.numel();
      if (inf_norm) {
        for (int64_t i = 0; i < n; ++i) {
          const double a = std::abs(static_cast<double>(v[i]));
          if (a > acc) acc = a;
          if (std::isnan(a)) nan = true;
        }
      } else if (norm_type == 2.0) {
        for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(v[i]) * static_cast<double>(v[i]);
      } else if (norm_type == 1.0) {
        for (int64_t i = 0; i < n; ++i) acc += std::abs(static_cast<double>(v[i]));
      } else {
        for (int64_t i = 0; i < n; ++i) acc += std::pow(std::abs(static_cast<double>(v[i])), norm_type);
      }
    });
  }
  double total = inf_norm           ? acc
                 : norm_type == 2.0 ? std::sqrt(acc)
                 : norm_type == 1.0 ? acc
                                    : std::pow(acc, 1.0 / norm_type);
  if (nan) total = NAN;
  if (error_if_nonfinite && !std::isfinite(total))
    throw ValueError("clip_grad_norm_: the total norm of order " + option_to_string(norm_type) +
                     " of the gradients is " + option_to_string(total) +
                     "; clipping would destroy them (error_if_nonfinite = true)");

  const double coef = max_norm / (total + 1e-6);
  if (!(coef >= 1.0)) {  // also when NaN: the gradients become NaN, as PyTorch's
    for (const Tensor& g : grads) {
      Tensor h = g;
      detail::visit_float(g, "clip_grad_norm_", [&]<class T>() {
        T* v = h.data<T>();
        const T c = static_cast<T>(coef);
        for (int64_t i = 0, n = h.numel(); i < n; ++i) v[i] *= c;
      });
      detail::bump_version(g);
    }
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  if (!(clip_value >= 0.0))
    throw ValueError("clip_grad_value_: invalid clip_value = " + option_to_string(clip_value) +
                     " (must be >= 0)");
  for (const Tensor& p : params) {
    if (!p.defined()) throw ValueError("clip_grad_value_: a parameter is undefined");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    detail::visit_float(g, "clip_grad_value_", [&]<class T>() {
      T* v = g.data<T>();
      const T hi = static_cast<T>(clip_value), lo = -hi;
      for (int64_t i = 0, n = g.numel(); i < n; ++i) {
        if (v[i] > hi)
          v[i] = hi;
        else if (v[i] < lo)
          v[i] = lo;
      }
    });
    detail::bump_version(g);
  }
}

}  // namespace xg::optim
