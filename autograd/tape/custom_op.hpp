#pragma once
/// @file custom_op.hpp
/// @brief User-defined ops: a forward and a backward written in user code, recorded, replayed
/// and gradchecked like a built-in op, without touching the library.
///
/// The simple form has one output; its backward sees the inputs and the output:
/// @code
/// xg::CustomOp cube{"cube", "d/dx x^3 = 3 x^2",
///     [](const std::vector<xg::Tensor>& in) { return in[0] * in[0] * in[0]; },
///     [](const xg::CustomOpContext& ctx, const xg::Tensor& g) {
///       xg::Tensor x = ctx.input(0);
///       return std::vector<xg::Tensor>{g * 3.0 * x * x};
///     }};
/// xg::Tensor y = cube({x});
/// @endcode
///
/// The full form's forward gets a CustomOpForwardContext and returns several outputs; it can save
/// intermediates, keep non-tensor state and mark outputs non-differentiable. Its backward gets
/// one gradient per output and returns one per input:
/// @code
/// // top-1 along the last axis: (values, int64 indices)
/// xg::CustomOp top1{"top1", "d/dx = scatter of g into the argmax positions",
///     [](xg::CustomOpForwardContext& ctx, const std::vector<xg::Tensor>& in) {
///       xg::Tensor idx = xg::argmax(in[0], -1, true);
///       xg::Tensor val = xg::gather(in[0], -1, idx);
///       ctx.save_for_backward({idx});               // inputs, outputs or intermediates
///       ctx.state = in[0].shape();                  // any copyable value, read back in backward
///       ctx.mark_non_differentiable(idx);           // never requires grad, gets no gradient
///       return std::vector<xg::Tensor>{val, idx};
///     },
///     [](const xg::CustomOpContext& ctx, const std::vector<xg::Tensor>& g) {
///       const auto& shape = ctx.state_as<xg::Shape>();
///       xg::Tensor dx = xg::scatter_add(xg::zeros(shape, {.dtype = g[0].dtype()}), -1, ctx.saved(0), g[0]);
///       return std::vector<xg::Tensor>{dx};         // g[1] (the indices') is undefined
///     }};
/// std::vector<xg::Tensor> vi = top1.apply({x});
/// @endcode
///
/// - The forward runs with recording off; the backward is written with xg ops, so with
///   create_graph it is itself recorded and the op can be differentiated twice. For that, save
///   inputs and outputs themselves (save_for_backward recognises them and keeps them on the graph);
///   a saved intermediate is a constant to double backward.
/// - Each differentiable output is usable on its own: backward from one output, from a sum of
///   several, or through xg::grad of any of them. The backward runs once per pass, on all of them.
/// - Gradients of differentiable outputs that received none are zeros of the output's shape by
///   default (set_materialize_grads(false): undefined Tensors instead); gradients of
///   non-differentiable outputs (marked, or of an integer or bool dtype) are always undefined.
/// - Every saved tensor (inputs, outputs, intermediates) is checked at backward time against
///   in-place modification since the forward.
/// - Forward mode needs a JVP rule: set_jvp (the forward's own ops propagate no tangent).
/// - Errors name the op: a backward returning the wrong number of gradients, or one of the wrong
///   shape for an input (with the input index and both shapes), throws xg::ValueError.
#include <any>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

/// What a custom op's backward can see: its inputs, outputs and saved tensors, checked against
/// in-place modification since the forward, and the state its forward left.
class CustomOpContext {
 public:
  virtual ~CustomOpContext() = default;
  virtual Tensor input(std::size_t i) const = 0;
  virtual std::size_t num_inputs() const = 0;
  /// The first output.
  virtual Tensor output() const = 0;
  virtual bool needs_input_grad(std::size_t i) const = 0;
  /// Output k of the forward.
  virtual Tensor output(std::size_t k) const = 0;
  virtual std::size_t num_outputs() const = 0;
  /// Tensor i given to CustomOpForwardContext::save_for_backward.
  virtual Tensor saved(std::size_t i) const = 0;
  virtual std::size_t num_saved() const = 0;
  /// CustomOpForwardContext::state as the forward left it.
  virtual const std::any& state() const = 0;
  /// The state as a T; throws xg::TypeError naming the op if it holds something else.
  template <class T>
  const T& state_as() const {
    if (const T* p = std::any_cast<T>(&state())) return *p;
    throw_bad_state(typeid(T));
  }

  /// The op's name, for messages.
  virtual const std::string& op_name() const = 0;

 private:
  [[noreturn]] void throw_bad_state(const std::type_info& wanted) const;
};

/// What a custom op's full-form forward can record for its backward (PyTorch's ctx in forward).
class CustomOpForwardContext {
 public:
  /// Whether input i requires grad (and the op is being recorded): the forward may skip work.
  bool needs_input_grad(std::size_t i) const { return i < needs_grad_.size() && needs_grad_[i]; }
  /// Tensors the backward reads with CustomOpContext::saved(i), in this order; each may be an
  /// input, an output or an intermediate. Replaces what an earlier call saved.
  void save_for_backward(std::vector<Tensor> tensors) { saved_ = std::move(tensors); }
  /// The given output (the very tensor the forward returns) never requires grad and its
  /// gradient given to backward is undefined.
  void mark_non_differentiable(const Tensor& output) { non_differentiable_.push_back(output); }
  /// true (the default): outputs that receive no gradient get zeros in backward; false: undefined.
  void set_materialize_grads(bool on) { materialize_grads_ = on; }
  /// Non-tensor per-call state for the backward (PyTorch's ctx.foo = ...).
  std::any state;

 private:
  friend class CustomOp;
  std::vector<bool> needs_grad_;
  std::vector<Tensor> saved_, non_differentiable_;
  bool materialize_grads_ = true;
};

class CustomOp {
 public:
  using Forward = std::function<Tensor(const std::vector<Tensor>&)>;
  /// Returns one gradient per input; an undefined Tensor means "no gradient for this input".
  using Backward = std::function<std::vector<Tensor>(const CustomOpContext&, const Tensor& grad_output)>;
  /// Full form: any number of outputs.
  using ForwardWithContext =
      std::function<std::vector<Tensor>(CustomOpForwardContext&, const std::vector<Tensor>& inputs)>;
  /// grad_outputs has one entry per output of the forward; returns one gradient per input.
  using BackwardMulti =
      std::function<std::vector<Tensor>(const CustomOpContext&, const std::vector<Tensor>& grad_outputs)>;

  CustomOp(std::string name, std::string formula, Forward forward, Backward backward);
  CustomOp(std::string name, std::string formula, ForwardWithContext forward, BackwardMulti backward);
  /// (Neither form: throws, without the two forms' ambiguity.)
  CustomOp(std::string name, std::string formula, std::nullptr_t, std::nullptr_t);
  /// Runs the forward and records the op when grad mode is on and an input requires grad.
  /// The op must have exactly one output; see apply for several.
  Tensor operator()(const std::vector<Tensor>& inputs) const;
  /// Runs the forward and returns all its outputs, recorded as operator() does.
  std::vector<Tensor> apply(const std::vector<Tensor>& inputs) const;
  const std::string& name() const;
  /// Forward mode (forward_ad.hpp): the op's JVP rule, given the inputs, the outputs and one
  /// tangent per input (undefined: zero), returning one tangent per output (undefined: zero).
  /// Without one, a dual input throws "forward-mode AD: op 'name' has no JVP rule". It runs with
  /// tangent propagation off and grad mode as it is (so it is recorded: write it with xg ops).
  using Jvp =
      std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                                        const std::vector<Tensor>& tangents)>;
  CustomOp& set_jvp(Jvp jvp);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace xg
