#pragma once
/// @file custom_op.hpp
/// @brief User-defined ops: a forward and a backward written in user code, recorded, replayed
/// and gradchecked like a built-in op, without touching the library.
///
/// @code
/// xg::CustomOp cube{"cube", "d/dx x^3 = 3 x^2",
///     [](const std::vector<xg::Tensor>& in) { return in[0] * in[0] * in[0]; },
///     [](const xg::CustomOpContext& ctx, const xg::Tensor& g) {
///       xg::Tensor x = ctx.input(0);
///       return std::vector<xg::Tensor>{g * 3.0 * x * x};
///     }};
/// xg::Tensor y = cube({x});
/// @endcode
/// The forward runs with recording off; the backward is written with xg ops, so with
/// create_graph it is itself recorded and the op can be differentiated twice.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

/// What a custom op's backward can see: its inputs and its output, checked against in-place
/// modification since the forward.
class CustomOpContext {
 public:
  virtual ~CustomOpContext() = default;
  virtual Tensor input(std::size_t i) const = 0;
  virtual std::size_t num_inputs() const = 0;
  virtual Tensor output() const = 0;
  virtual bool needs_input_grad(std::size_t i) const = 0;
};

class CustomOp {
 public:
  using Forward = std::function<Tensor(const std::vector<Tensor>&)>;
  /// Returns one gradient per input; an undefined Tensor means "no gradient for this input".
  using Backward = std::function<std::vector<Tensor>(const CustomOpContext&, const Tensor& grad_output)>;

  CustomOp(std::string name, std::string formula, Forward forward, Backward backward);
  /// Runs the forward and records the op when grad mode is on and an input requires grad.
  Tensor operator()(const std::vector<Tensor>& inputs) const;
  const std::string& name() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace xg
