#pragma once
/// @file tensor.hpp
/// @brief Tensor: a cheap handle (shared pointer) to contiguous row-major values of a runtime
/// dtype, plus what autograd needs: requires_grad, grad, the node that produced it, a version
/// counter and an optional name used by every printout.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor/error.hpp"
#include "xgrad/autograd/tensor/shape.hpp"

namespace xg {

/// Runtime element types. float32 and float64 are differentiable; int64 holds indices and labels.
enum class Dtype : uint8_t { float32, float64, int64 };

const char* dtype_name(Dtype d);
std::size_t dtype_size(Dtype d);
inline bool is_floating(Dtype d) {
  return d != Dtype::int64;
}
template <class T>
constexpr Dtype dtype_of();
template <>
constexpr Dtype dtype_of<float>() {
  return Dtype::float32;
}
template <>
constexpr Dtype dtype_of<double>() {
  return Dtype::float64;
}
template <>
constexpr Dtype dtype_of<int64_t>() {
  return Dtype::int64;
}

/// Raw bytes of a tensor plus the version counter shared by every tensor that aliases them.
/// Buffers come from a caching allocator so that a training loop does not page-fault anew each step.
struct Storage {
  explicit Storage(std::size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  std::size_t nbytes = 0;
  uint64_t version = 0;  ///< bumped by every in-place write; checked by saved tensors
  /// Up to kInlineBytes live inside the Storage itself: small tensors cost no second allocation.
  static constexpr std::size_t kInlineBytes = 64;
  alignas(64) unsigned char inline_bytes[kInlineBytes];
};

/// Where a call was made from, filled in at the call site by a defaulted argument (the compiler
/// builtins that std::source_location wraps: clang 14 with libstdc++ 12 has no usable
/// <source_location>). Named by capture.hpp when it refuses a read on the host.
struct CallSite {
  const char* file;
  unsigned line;
  const char* function;
  constexpr CallSite(const char* f = __builtin_FILE(), unsigned l = __builtin_LINE(),
                     const char* fn = __builtin_FUNCTION())
      : file(f), line(l), function(fn) {}
};

class Node;
class Tensor;
namespace indexing {
class TensorIndex;
}
using TensorHook = std::function<Tensor(const Tensor&)>;
/// A registered hook with the id its RemovableHandle removes it by.
struct TensorHookEntry {
  uint64_t id = 0;
  TensorHook fn;
};

/// What every register_*hook returns: remove() unregisters the hook. Removing twice, or after the
/// tensor or module is gone, does nothing. Dropping the handle keeps the hook registered (as
/// PyTorch's RemovableHandle); a HookGuard removes it when the guard goes out of scope.
class RemovableHandle {
 public:
  RemovableHandle() = default;
  explicit RemovableHandle(std::function<void()> remover) : remover_(std::move(remover)) {}
  void remove() {
    if (!remover_) return;
    auto r = std::move(remover_);
    remover_ = nullptr;
    r();
  }
  /// False once removed (or for a default-constructed handle).
  bool active() const { return static_cast<bool>(remover_); }

 private:
  std::function<void()> remover_;
};

/// Removes a hook at scope exit: `xg::HookGuard g(t.register_hook(...));`.
class HookGuard {
 public:
  explicit HookGuard(RemovableHandle h) : h_(std::move(h)) {}
  ~HookGuard() { h_.remove(); }
  HookGuard(const HookGuard&) = delete;
  HookGuard& operator=(const HookGuard&) = delete;
  HookGuard(HookGuard&&) = default;
  void remove() { h_.remove(); }

 private:
  RemovableHandle h_;
};
/// A process-wide unique id for a new hook (never 0).
uint64_t next_hook_id();

/// What a Tensor points to. Public so that kernels and the engine can reach it; users rarely need it.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Dtype dtype = Dtype::float32;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;       ///< the node that produced this tensor (none for leaves)
  uint32_t output_nr = 0;              ///< which of grad_fn's outputs this is (0 but for multi-output)
  std::shared_ptr<TensorImpl> grad;    ///< accumulated gradient (leaves, or after retain_grad)
  std::vector<TensorHookEntry> hooks;  ///< leaf hooks; a non-leaf's hooks live on its grad_fn
  std::string name;
  /// Forward-mode AD (autograd/tape/forward_ad.hpp): the tangent, valid only at dual level fw_level.
  std::shared_ptr<TensorImpl> fw_tangent;
  uint64_t fw_level = 0;
  ~TensorImpl();
};

/// @brief The tensor handle. Copying a Tensor copies the handle, not the values (like torch::Tensor).
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- shape and type ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const {
    if (!impl_) throw_undefined("shape");
    return impl_->shape;
  }
  std::vector<int64_t> sizes() const { return shape().vec(); }
  int dim() const { return shape().rank(); }
  int64_t size(int axis) const;  ///< negative axes count from the end
  int64_t numel() const { return shape().numel(); }
  Dtype dtype() const {
    if (!impl_) throw_undefined("dtype");
    return impl_->dtype;
  }
  bool is_floating_point() const { return is_floating(dtype()); }

  // ---- values ----
  /// Pointer to the elements; throws TypeError when T does not match the dtype.
  template <class T>
  T* data() {
    if (!impl_ || impl_->dtype != dtype_of<T>()) throw_bad_data(dtype_of<T>());
    return static_cast<T*>(impl_->storage->data);
  }
  template <class T>
  const T* data() const {
    return const_cast<Tensor*>(this)->data<T>();
  }
  void* raw_data() const;
  /// The single value of a one-element tensor, converted to double / T. An int64 tensor's value
  /// comes back exact as item<int64_t>(); a value that does not fit an integer T (NaN, inf, out of
  /// range) raises ValueError.
  /// (`where`: the caller, named when a capture (capture.hpp) refuses the read.)
  double item(CallSite where = {}) const;
  template <class T>
  T item(CallSite where = {}) const {
    const double v = item(where);
    if constexpr (std::is_same_v<T, int64_t>) {
      if (dtype() == Dtype::int64) return *data<int64_t>();  // exact beyond 2^53
    }
    if constexpr (std::is_integral_v<T>) {
      const double lo = static_cast<double>(std::numeric_limits<T>::min());
      const double hi = 2.0 * static_cast<double>(T(1) << (std::numeric_limits<T>::digits - 1));
      if (!(v >= lo && v < hi))
        throw ValueError("item: value " + std::to_string(v) + " does not fit the integer type asked for");
    }
    return static_cast<T>(v);
  }
  /// Element at a multi-index (negative indices allowed), converted to double.
  double at(std::initializer_list<int64_t> index, CallSite where = {}) const;
  /// All elements, converted to T, in row-major order.
  template <class T>
  std::vector<T> to_vector() const;

  // ---- autograd ----
  bool requires_grad() const;
  /// Marks a leaf as needing gradients (float tensors only). Returns *this.
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const;
  /// The accumulated gradient (undefined before the first backward).
  Tensor grad() const;
  void set_grad(const Tensor& g);
  /// Clears the gradient: undefined (set_to_none, the default, as PyTorch's) or filled with zeros.
  void zero_grad(bool set_to_none = true);
  const std::shared_ptr<Node>& grad_fn() const;
  /// Backpropagates from this tensor. grad may be omitted only for a one-element tensor.
  /// With create_graph, a leaf's grad() keeps the graph that produced it, and that graph may hold
  /// the leaf: a reference cycle (as in PyTorch) that zero_grad() or set_grad(Tensor()) breaks.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false, bool create_graph = false) const;
  /// Same values (shared storage and version counter), cut from the graph.
  Tensor detach() const;
  /// Runs hook(grad) when a gradient for this tensor is computed; a defined result replaces it.
  /// The handle's remove() unregisters it.
  RemovableHandle register_hook(TensorHook hook);
  /// Keeps the gradient of a non-leaf in grad() after backward.
  void retain_grad();
  /// Version counter of the storage: bumped by every in-place write.
  uint64_t version() const;

  // ---- names (used by every printout) ----
  const std::string& name() const;
  Tensor& name(std::string n);

  // ---- conversions and copies ----
  Tensor to(Dtype d) const;  ///< differentiable; returns *this when the dtype already matches
  Tensor clone() const;      ///< differentiable copy with its own storage

  // ---- in-place updates (optimizers; under NoGradGuard or on tensors without grad) ----
  Tensor& add_(const Tensor& other, double alpha = 1.0);  ///< this += alpha * other (broadcast)
  Tensor& sub_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double s);
  Tensor& copy_(const Tensor& src);  ///< src broadcast to this shape, converted to this dtype
  Tensor& fill_(double v);
  Tensor& zero_() { return fill_(0.0); }
  /// In-place forms of masked_fill, scatter and index_put (autograd/ops/scatter.cpp): the mask, index
  /// and values must broadcast to this tensor's shape. Index values are checked before any write.
  Tensor& masked_fill_(const Tensor& mask, double value);
  Tensor& masked_fill_(const Tensor& mask, const Tensor& value);  ///< value: a 0-d tensor
  Tensor& scatter_(int64_t dim, const Tensor& index, const Tensor& src);
  Tensor& scatter_(int64_t dim, const Tensor& index, double value);
  Tensor& index_put_(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false);

  // ---- method forms of common ops (autograd/ops/methods.cpp): each calls the free function of
  // the same name in ops.hpp, as LibTorch's members do; axes may be negative ----
  Tensor reshape(const Shape& s) const;
  Tensor view(const Shape& s) const { return reshape(s); }
  /// Tensors are always contiguous in xgrad: returns *this (for code written for LibTorch).
  Tensor contiguous() const { return *this; }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;
  Tensor expand(const Shape& s) const;
  Tensor sum() const;
  Tensor sum(int64_t dim, bool keepdim = false) const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(int64_t dim, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor prod(int64_t dim, bool keepdim = false) const;
  Tensor amax(int64_t dim, bool keepdim = false) const;  ///< as torch.amax (values only)
  Tensor amin(int64_t dim, bool keepdim = false) const;
  Tensor var(int64_t dim, int64_t correction = 1, bool keepdim = false) const;
  Tensor std(int64_t dim, int64_t correction = 1, bool keepdim = false) const;
  Tensor norm(double p = 2.0) const;
  Tensor logsumexp(int64_t dim, bool keepdim = false) const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor argmin(int64_t dim, bool keepdim = false) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor matmul(const Tensor& other) const;
  Tensor mm(const Tensor& other) const;  ///< 2-D only, as torch.mm
  Tensor pow(double exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor neg() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor clamp(std::optional<double> min, std::optional<double> max) const;
  Tensor index_select(int64_t dim, const Tensor& index) const;
  Tensor gather(int64_t dim, const Tensor& index) const;
  /// x[indices] as LibTorch's `x.index({Slice(), 0})` (autograd/ops/indexing.hpp).
  Tensor index(std::initializer_list<indexing::TensorIndex> indices) const;
  Tensor index(const std::vector<indexing::TensorIndex>& indices) const;
  /// x[indices] = values in place, indices as for index() (values broadcast to what x[indices]
  /// reads; accumulate adds, duplicates summed; without it the last write of a position wins).
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& values,
                     bool accumulate = false);
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, double value);
  Tensor masked_fill(const Tensor& mask, double value) const;
  Tensor masked_fill(const Tensor& mask, const Tensor& value) const;
  Tensor cumsum(int64_t dim) const;
  Tensor flip(const std::vector<int64_t>& dims) const;
  Tensor where(const Tensor& condition, const Tensor& other) const;  ///< condition ? *this : other

  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  TensorImpl* get() const { return impl_.get(); }

 private:
  void check_defined(const char* what) const {
    if (!impl_) throw_undefined(what);
  }
  [[noreturn]] static void throw_undefined(const char* what);
  [[noreturn]] void throw_bad_data(Dtype requested) const;
  std::shared_ptr<TensorImpl> impl_;
};

/// Prints like PyTorch: `tensor([[1.0000, 2.0000]], dtype=float64, requires_grad=true)`;
/// tensors over 1000 elements are summarised with `...`.
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);

// ---- creation ----
/// Options shared by the creation functions.
struct TensorOptions {
  Dtype dtype = Dtype::float32;
  bool requires_grad = false;
};
Tensor empty(const Shape& shape, TensorOptions o = {});
Tensor zeros(const Shape& shape, TensorOptions o = {});
Tensor ones(const Shape& shape, TensorOptions o = {});
Tensor full(const Shape& shape, double value, TensorOptions o = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
/// 0-d tensor holding one value.
Tensor scalar_tensor(double value, TensorOptions o = {});
/// Values in [start, stop) with the given step.
Tensor arange(double start, double stop, double step = 1.0, TensorOptions o = {});
Tensor arange(double stop, TensorOptions o = {});
/// `steps` evenly spaced values from start to stop inclusive.
Tensor linspace(double start, double stop, int64_t steps, TensorOptions o = {});
/// n×m identity (m = n when omitted).
Tensor eye(int64_t n, int64_t m = -1, TensorOptions o = {});
/// A tensor from values in row-major order; shape defaults to 1-D. Throws ShapeError when the
/// count differs from the shape's number of elements.
Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions o = {});
Tensor tensor(const std::vector<double>& values, TensorOptions o = {});
Tensor tensor(std::initializer_list<double> values, TensorOptions o = {});
Tensor tensor(std::initializer_list<double> values, const Shape& shape, TensorOptions o = {});
Tensor from_vector(const std::vector<float>& values, const Shape& shape, bool requires_grad = false);
Tensor from_vector(const std::vector<double>& values, const Shape& shape, bool requires_grad = false);
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);

// ---- random numbers ----
// Each takes an optional generator (xg::Generator, autograd/tensor/generator.hpp), as PyTorch's
// `generator=`; nullptr means the default generator, which xg::manual_seed seeds.
class Generator;
/// Seeds the default generator (torch.manual_seed).
void manual_seed(uint64_t seed);
/// Reseeds the default generator non-deterministically and returns the seed (torch.seed).
uint64_t seed();
/// The seed the default generator's stream started from (torch.initial_seed).
uint64_t initial_seed();
Tensor rand(const Shape& shape, TensorOptions o = {}, Generator* generator = nullptr);   ///< U[0, 1)
Tensor randn(const Shape& shape, TensorOptions o = {}, Generator* generator = nullptr);  ///< N(0, 1)
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions o = {},
               Generator* generator = nullptr);
Tensor normal(const Shape& shape, double mean, double stddev, TensorOptions o = {},
              Generator* generator = nullptr);
/// Integers uniform in [lo, hi) as int64.
Tensor randint(int64_t lo, int64_t hi, const Shape& shape, Generator* generator = nullptr);
/// A random permutation of 0..n-1 as int64.
Tensor randperm(int64_t n, Generator* generator = nullptr);
/// One number from the default generator (uniform in [0,1), or 64 random bits), one lock each;
/// to draw many, use Generator::draw.
double random_uniform01();
uint64_t random_u64();
/// The default generator's state (its first 6 words of Generator::get_state, without the
/// initial seed), to save in a checkpoint so that a resumed run draws exactly the numbers an
/// uninterrupted run would (dropout masks, shuffles, ...).
std::vector<uint64_t> get_rng_state();
/// Restores a state from get_rng_state(); throws ValueError, changing nothing, on a state of the
/// wrong size or one get_rng_state cannot produce (see Generator::set_state).
void set_rng_state(const std::vector<uint64_t>& state);

}  // namespace xg
