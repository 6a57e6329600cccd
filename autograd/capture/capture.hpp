#pragma once
/// @file capture.hpp
/// @brief Record once, replay many. `xg::capture(step, inputs...)` runs `step(inputs...)` once,
/// eagerly, and records every kernel it runs (forward, loss, backward, the optimizer update) into
/// a Plan: the kernels in order, each intermediate buffer given a slot of one arena planned by
/// liveness, parameters, gradients and optimizer state updated in place. `plan.replay(new
/// inputs...)` copies the new values into the captured inputs and runs the kernels: no
/// allocation, no node, no reference count, no per-op checks; the values are the eager step's
/// bit for bit (the same kernels run in the same order; a chain of element-wise kernels whose
/// intermediates die in it runs fused, block by block, the same functions in the same order on
/// each element: docs/design.md; XG_CAPTURE_FUSE=0 at capture turns that off).
///
///     auto plan = xg::capture([&](const xg::Tensor& x, const xg::Tensor& y) {
///       opt.zero_grad();
///       xg::Tensor loss = F::cross_entropy(net->forward(x), y);
///       loss.backward();
///       opt.step();
///       return loss;
///     }, x0, y0);                    // this call is the first training step
///     for (...) plan.replay(x, y);   // later steps; plan.output() is the loss
///
/// What cannot be captured faithfully is refused during capture with xg::CaptureError: an op with
/// no capture form (named), reading a value on the host (item(), at(), to_vector(): the message
/// says where), a host step that is not an optimizer's. Replaying with inputs of another shape
/// or dtype raises ShapeError / TypeError naming the input and both shapes (capture again for
/// another shape). The plan refers to the parameters, optimizer and modules of the capture: it
/// must not outlive them. A learning-rate schedule stepped between replays is seen by the plan
/// (the optimizer's update reads its group's lr when it runs).
#include <array>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

/// Something in a step cannot be captured faithfully (see capture.hpp).
class CaptureError : public Error {
 public:
  using Error::Error;
};

namespace capture_detail {
struct PlanData;
}

/// A captured step (see capture.hpp).
class Plan {
 public:
  Plan() = default;
  explicit Plan(std::shared_ptr<capture_detail::PlanData> d) : d_(std::move(d)) {}
  /// Runs the plan on new input values (same shapes and dtypes as the captured ones); returns the
  /// step's result (the same tensor as output(), its values updated).
  const Tensor& replay(std::span<const Tensor> inputs);
  template <class... T>
  requires(std::is_convertible_v<const T&, const Tensor&>&&...) const Tensor& replay(const T&... inputs) {
    const std::array<Tensor, sizeof...(T)> in{inputs...};
    return replay(std::span<const Tensor>(in.data(), in.size()));
  }
  /// The step's result (undefined when the step returned nothing).
  const Tensor& output() const;
  std::size_t num_kernels() const;
  /// Bytes of the arena holding every intermediate (planned by liveness).
  std::size_t arena_bytes() const;
  /// Bytes the intermediates would take without reuse (each its own buffer).
  std::size_t unplanned_bytes() const;
  bool defined() const { return d_ != nullptr; }

 private:
  friend void print_plan(const Plan& plan, std::ostream& os);
  std::shared_ptr<capture_detail::PlanData> d_;
};

namespace capture_detail {
Plan capture_impl(const std::function<Tensor()>& step, std::span<const Tensor> inputs);
}

/// Runs `step(inputs...)` once while recording it; returns the plan (see capture.hpp).
template <class F, class... T>
Plan capture(F&& step, const T&... inputs) {
  const std::array<Tensor, sizeof...(T)> in{inputs...};
  return capture_detail::capture_impl(
      [&]() -> Tensor {
        if constexpr (std::is_void_v<std::invoke_result_t<F&, const T&...>>) {
          step(inputs...);
          return Tensor();
        } else {
          return Tensor(step(inputs...));
        }
      },
      std::span<const Tensor>(in.data(), in.size()));
}
/// Prints each kernel with its buffers (arena slot and offset, or the external buffer it
/// updates), then the arena's size against the unplanned total.
void print_plan(const Plan& plan, std::ostream& os);
std::string plan_string(const Plan& plan);

}  // namespace xg
