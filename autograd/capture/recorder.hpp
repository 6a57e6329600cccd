#pragma once
/// @file recorder.hpp
/// @brief Internal: what a capturable op tells the capture recorder (capture.hpp) at its kernel
/// call. While xg::capture runs a step, `recorder` is set on that thread; each op with a capture
/// form then calls emit() with a function pointer that redoes its kernel from raw buffers, the
/// buffers it reads and writes and its scalar arguments. Ops without one call refuse(). Not
/// installed; one predictable branch per op when no capture is running.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::capture_detail {

/// One kernel of a plan: `fn(k)` redoes it. buf[] are resolved at planning (arena slot, or the
/// buffer of a parameter, input or state); n[], s[] and aux are the op's arguments.
struct Kernel {
  void (*fn)(const Kernel&) = nullptr;
  void* buf[6] = {};
  int64_t n[6] = {};
  double s[2] = {};
  const void* aux = nullptr;  // plan-owned data (shapes, a host callback)
};
using KernelFn = void (*)(const Kernel&);

/// A buffer an op touches: the tensor's storage and how (1 read, 2 written, 3 both).
struct Buf {
  const Tensor* t;
  uint8_t mode;
};
inline Buf R(const Tensor& t) {
  return {&t, 1};
}
inline Buf W(const Tensor& t) {
  return {&t, 2};
}
inline Buf RW(const Tensor& t) {
  return {&t, 3};
}

class Recorder;
// initial-exec: a plain %fs-relative load in the shared library too (as tape_observer).
[[gnu::tls_model("initial-exec")]] extern constinit thread_local Recorder* recorder;

/// Appends a kernel; `op` names it in print_plan and in errors. `shapes`: copied into the plan,
/// reachable in the kernel as static_cast<const Shape*>(k.aux).
void emit(const char* op, KernelFn fn, std::initializer_list<Buf> bufs, std::initializer_list<int64_t> n = {},
          std::initializer_list<double> s = {}, std::initializer_list<Shape> shapes = {});
/// The same with an object the plan owns (geometry, scratch buffers), reachable as k.aux.
void emit_owned(const char* op, KernelFn fn, std::initializer_list<Buf> bufs, std::shared_ptr<void> aux,
                std::initializer_list<int64_t> n = {}, std::initializer_list<double> s = {});
template <class P>
void emit_with(const char* op, KernelFn fn, std::initializer_list<Buf> bufs, const P& aux,
               std::initializer_list<int64_t> n = {}, std::initializer_list<double> s = {}) {
  emit_owned(op, fn, bufs, std::make_shared<P>(aux), n, s);
}
/// An element-wise kernel's range form: `range(k, count)` applies its per-element function to
/// elements [0, count) of k.buf[] (the pointers already offset to the range's first element),
/// giving each element the value the whole kernel gives it. A plan may fuse a chain of these
/// (capture.cpp).
using RangeFn = void (*)(const Kernel&, int64_t count);
/// Marks the kernel just emitted as element-wise over `numel` elements, with range form `range`:
/// bit j of `per_element` is set when buf[j] holds one value per element (else it is a
/// one-element operand, read whole by every range); `elem_size`: the bytes of one element of
/// those; `grain`: the kernel's parallel grain.
void elementwise(RangeFn range, int64_t numel, unsigned per_element, std::size_t elem_size, int64_t grain);
/// `t` (just created by a creation function) holds values that do not depend on the inputs.
void constant(const Tensor& t, const char* op);
/// The op has no capture form: raises CaptureError naming it (while a capture runs).
[[noreturn]] void refuse(const char* op, const char* why = nullptr);
/// A host step (an optimizer's update) replayed by calling `fn` again; the recorder is paused
/// while the eager step runs, so that its own kernels are not recorded twice.
class HostStep {
 public:
  HostStep(const char* name, std::function<void()> fn);
  ~HostStep();
  HostStep(const HostStep&) = delete;
  HostStep& operator=(const HostStep&) = delete;

 private:
  Recorder* paused_;
};
/// A host step reads `grad`, the gradient of `param`: it must outlive the step, and a replay makes
/// it param's gradient again if eager code replaced it in between (zero_grad, backward).
void pin(const Tensor& param, const Tensor& grad);
/// Storage lifetime, for liveness and for telling inputs from intermediates.
void on_alloc(const Storage* s);
void on_free(const Storage* s);
/// Frees the large buffers the storage cache holds (storage.cpp).
void release_buffer_cache();
/// A value was read on the host (item(), at(), to_vector()): refused during capture.
[[noreturn]] void refuse_read(const char* what, const char* file, unsigned line, const char* function);
/// The output of a recorded op must come from a kernel the recorder saw (else the op has no
/// capture form and a replay would see a stale value).
void check_output(const char* op, const Tensor& out);

}  // namespace xg::capture_detail
