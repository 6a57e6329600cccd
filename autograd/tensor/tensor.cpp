// The Tensor class: element access, autograd state (requires_grad, grad, hooks), in-place
// updates, and the creation functions that are not random.
#include "xgrad/autograd/tensor/tensor.hpp"

#include <atomic>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::generate;

// ---------------------------------------------------------------- dtypes
const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::float32:
      return "float32";
    case Dtype::float64:
      return "float64";
    case Dtype::int64:
      return "int64";
  }
  return "?";
}
std::size_t dtype_size(Dtype d) {
  return d == Dtype::float32 ? 4 : 8;
}

TensorImpl::~TensorImpl() = default;

// ---------------------------------------------------------------- Tensor
void Tensor::throw_undefined(const char* what) {
  throw ValueError(std::string(what) + ": the tensor is undefined");
}
void Tensor::throw_bad_data(Dtype requested) const {
  if (!impl_) throw_undefined("data");
  throw TypeError(std::string("data: requested ") + dtype_name(requested) + " from a " +
                  dtype_name(impl_->dtype) + " tensor");
}
int64_t Tensor::size(int axis) const {
  if (dim() == 0)
    throw IndexError("size: a 0-d tensor has no axes (asked for axis " + std::to_string(axis) + ")");
  return shape()[detail::wrap_axis(axis, dim(), "size")];
}

void* Tensor::raw_data() const {
  check_defined("data");
  return impl_->storage->data;
}

double Tensor::item(CallSite where) const {
  check_defined("item");
  if (capture_detail::recorder) [[unlikely]]
    capture_detail::refuse_read("item()", where.file, where.line, where.function);
  if (numel() != 1)
    throw ValueError("item: the tensor has " + std::to_string(numel()) + " elements " + shape().str() +
                     "; item() needs exactly one");
  return detail::visit_dtype(
      dtype(), [&]<class T>() { return static_cast<double>(*static_cast<const T*>(raw_data())); });
}

double Tensor::at(std::initializer_list<int64_t> index, CallSite where) const {
  check_defined("at");
  if (capture_detail::recorder) [[unlikely]]
    capture_detail::refuse_read("at()", where.file, where.line, where.function);
  const Shape& s = shape();
  if (static_cast<int>(index.size()) != s.rank())
    throw IndexError("at: " + std::to_string(index.size()) + " indices for a tensor of shape " + s.str());
  int64_t flat = 0, axis = 0;
  for (int64_t i : index) {
    const int64_t n = s[axis];
    if (i < -n || i >= n)
      throw IndexError("at: index " + std::to_string(i) + " is out of range for axis " +
                       std::to_string(axis) + " of extent " + std::to_string(n) + " (shape " + s.str() + ")");
    flat = flat * n + (i < 0 ? i + n : i);
    ++axis;
  }
  return detail::visit_dtype(
      dtype(), [&]<class T>() { return static_cast<double>(static_cast<const T*>(raw_data())[flat]); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_defined("to_vector");
  std::vector<T> out(static_cast<std::size_t>(numel()));
  detail::visit_dtype(dtype(), [&]<class S>() {
    const S* p = static_cast<const S*>(raw_data());
    detail::check_castable<T>(p, numel(), "to_vector");
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

bool Tensor::requires_grad() const {
  return impl_ && impl_->requires_grad;
}

Tensor& Tensor::requires_grad_(bool on) {
  check_defined("requires_grad_");
  if (!is_leaf())
    throw ValueError("requires_grad_: only leaves can change requires_grad; this tensor was produced by '" +
                     std::string(impl_->grad_fn->name()) + "' (use detach() for a new leaf)");
  if (on && !is_floating(impl_->dtype))
    throw TypeError(std::string("requires_grad_: only float tensors can require gradients, got ") +
                    dtype_name(impl_->dtype));
  impl_->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const {
  return !impl_ || !impl_->grad_fn;
}
Tensor Tensor::grad() const {
  return impl_ ? Tensor(impl_->grad) : Tensor();
}
void Tensor::set_grad(const Tensor& g) {
  check_defined("set_grad");
  if (g.defined() && !(g.shape() == shape()))
    throw ShapeError("set_grad: gradient of shape " + g.shape().str() + " for a tensor of shape " +
                     shape().str());
  impl_->grad = g.impl();
}
void Tensor::zero_grad(bool set_to_none) {
  check_defined("zero_grad");
  if (set_to_none || !impl_->grad) {
    impl_->grad.reset();
    return;
  }
  if (impl_->grad->requires_grad) {  // a gradient with a graph (create_graph): plain zeros, cut from it
    impl_->grad = zeros_like(Tensor(impl_->grad)).impl();
    return;
  }
  NoGradGuard guard;
  Tensor(impl_->grad).zero_();
}
const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return impl_ ? impl_->grad_fn : none;
}

void Tensor::backward(const Tensor& grad, bool retain_graph, bool create_graph) const {
  check_defined("backward");
  xg::backward({*this}, {grad}, retain_graph, create_graph);
}

Tensor Tensor::detach() const {
  check_defined("detach");
  return detail::alias_with_shape(*this, shape());
}

uint64_t next_hook_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

namespace {
void erase_hook(std::vector<TensorHookEntry>& hooks, uint64_t id) {
  std::erase_if(hooks, [id](const TensorHookEntry& e) { return e.id == id; });
}
}  // namespace

RemovableHandle Tensor::register_hook(TensorHook hook) {
  check_defined("register_hook");
  if (!impl_->requires_grad)
    throw ValueError("register_hook: the tensor does not require grad, so no gradient will reach the hook");
  const uint64_t id = next_hook_id();
  // The handle holds weak references: removing after the tensor (or its graph) is gone does nothing.
  if (impl_->grad_fn) {
    const uint32_t k = impl_->output_nr;
    impl_->grad_fn->pre_hooks(k).push_back({id, std::move(hook)});
    return RemovableHandle([node = std::weak_ptr<Node>(impl_->grad_fn), k, id] {
      if (auto n = node.lock()) erase_hook(n->pre_hooks(k), id);
    });
  }
  impl_->hooks.push_back({id, std::move(hook)});
  return RemovableHandle([leaf = std::weak_ptr<TensorImpl>(impl_), id] {
    if (auto t = leaf.lock()) erase_hook(t->hooks, id);
  });
}

void Tensor::retain_grad() {
  check_defined("retain_grad");
  if (is_leaf()) return;  // leaves keep their gradient anyway
  std::weak_ptr<TensorImpl> self = impl_;
  register_hook([self](const Tensor& g) {
    if (auto t = self.lock()) {
      if (t->grad) {
        NoGradGuard guard;
        t->grad = (Tensor(t->grad) + g).impl();
      } else {
        t->grad = g.clone().detach().impl();
      }
    }
    return Tensor();
  });
}

uint64_t Tensor::version() const {
  check_defined("version");
  return impl_->storage->version;
}

const std::string& Tensor::name() const {
  static const std::string none;
  return impl_ ? impl_->name : none;
}
Tensor& Tensor::name(std::string n) {
  check_defined("name");
  impl_->name = std::move(n);
  return *this;
}

// ---- in-place updates ----
namespace {
void check_inplace(const Tensor& t, const char* op) {
  if (!t.defined()) throw ValueError(std::string(op) + ": the tensor is undefined");
  if (GradMode::is_enabled() && t.requires_grad())
    throw ValueError(std::string(op) + ": in-place update of a tensor of shape " + t.shape().str() +
                     " that requires grad" + (t.name().empty() ? "" : " ('" + t.name() + "')") +
                     " while grad mode is on; wrap the update in xg::NoGradGuard");
}

// Forward mode: the tangent of self updated in place (so that a view sharing it sees the update),
// made as zeros when self has none yet. Runs with tangent propagation off.
Tensor own_tangent(const Tensor& self) {
  Tensor t = detail::tangent_of(self);
  if (t.defined()) return t;
  {
    detail::JvpRuleGuard off;
    t = zeros(self.shape(), {.dtype = self.dtype()});
  }
  detail::set_tangent(self, t);
  return t;
}
// The tangent of self after self op= other, for add_ / sub_ (scale = +-alpha) and mul_ (computed
// before the values change, since it reads them).
void tangent_add_(const Tensor& self, const Tensor& other, double scale) {
  if (!detail::fw_level || !self.is_floating_point()) return;
  const Tensor to = detail::tangent_of(other);
  if (!to.defined()) return;
  Tensor ts = own_tangent(self);
  detail::JvpRuleGuard off;
  ts.add_(to, scale);
}

// The in-place updates as stateless-but-for-one-scalar functors: eager runs inplace_exec, and a
// captured plan runs the same function on its buffers (capture.hpp).
enum class InplaceOp { add, sub, mul, copy };
template <class T, InplaceOp Op>
struct InplaceF {
  T a;
  T operator()(T x, T y) const {
    if constexpr (Op == InplaceOp::add)
      return detail::add_wrap(x, detail::mul_wrap(a, y));
    else if constexpr (Op == InplaceOp::sub)
      return detail::sub_wrap(x, detail::mul_wrap(a, y));
    else if constexpr (Op == InplaceOp::mul)
      return detail::mul_wrap(x, y);
    else
      return y;
  }
};
template <class T, InplaceOp Op>
void inplace_exec(T* p, const Shape& ps, const T* o, const Shape& os, T a) {
  detail::map_binary(p, ps, o, os, p, ps, InplaceF<T, Op>{a});
}
template <class T, InplaceOp Op>
void inplace_replay(const capture_detail::Kernel& k) {
  const Shape* s = static_cast<const Shape*>(k.aux);
  inplace_exec<T, Op>(static_cast<T*>(k.buf[0]), s[0], static_cast<const T*>(k.buf[1]), s[1],
                      static_cast<T>(k.s[0]));
}
// this = this op alpha * other, other broadcast to this shape and converted to this dtype.
template <InplaceOp Op>
void inplace_binary(Tensor& self, const Tensor& other_in, const char* op, double alpha) {
  check_inplace(self, op);
  if (!other_in.defined()) throw ValueError(std::string(op) + ": the other tensor is undefined");
  if (!(detail::broadcast_shapes(self.shape(), other_in.shape(), op) == self.shape()))
    throw ShapeError(std::string(op) + ": shape " + other_in.shape().str() + " cannot be broadcast to " +
                     self.shape().str());
  NoGradGuard guard;
  Tensor other = other_in.to(self.dtype());
  detail::visit_dtype(self.dtype(), [&]<class T>() {
    const T a = detail::checked_cast<T>(alpha, op);
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit(op, inplace_replay<T, Op>, {capture_detail::RW(self), capture_detail::R(other)},
                           {}, {static_cast<double>(a)}, {self.shape(), other.shape()});
    inplace_exec<T, Op>(self.data<T>(), self.shape(), other.data<T>(), other.shape(), a);
  });
  ++self.impl()->storage->version;
}
template <class T>
void scale_exec(T* p, int64_t n, T v) {
  for (int64_t i = 0; i < n; ++i) p[i] = detail::mul_wrap(p[i], v);
}
template <class T>
void scale_replay(const capture_detail::Kernel& k) {
  scale_exec(static_cast<T*>(k.buf[0]), k.n[0], static_cast<T>(k.s[0]));
}
template <class T>
void fill_exec(T* p, int64_t n, T v) {
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}
template <class T>
void fill_replay(const capture_detail::Kernel& k) {
  fill_exec(static_cast<T*>(k.buf[0]), k.n[0], static_cast<T>(k.s[0]));
}
}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_defined("add_");
  if (detail::fw_level) [[unlikely]] {
    check_inplace(*this, "add_");
    tangent_add_(*this, other, alpha);
  }
  inplace_binary<InplaceOp::add>(*this, other, "add_", alpha);
  return *this;
}
Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  check_defined("sub_");
  if (detail::fw_level) [[unlikely]] {
    check_inplace(*this, "sub_");
    tangent_add_(*this, other, -alpha);
  }
  inplace_binary<InplaceOp::sub>(*this, other, "sub_", alpha);
  return *this;
}
Tensor& Tensor::mul_(const Tensor& other) {
  if (detail::fw_level && defined() && other.defined() && is_floating_point()) [[unlikely]] {
    // (x y)' = x' y + x y', x' scaled in place, x y' from the values before the update
    check_inplace(*this, "mul_");
    const Tensor ts = detail::tangent_of(*this), to = detail::tangent_of(other);
    if (ts.defined() || to.defined()) {
      Tensor xy;
      if (to.defined()) {
        detail::JvpRuleGuard off;
        xy = *this * to;
      }
      Tensor t = own_tangent(*this);
      detail::JvpRuleGuard off;
      t.mul_(other);
      if (xy.defined()) t.add_(xy);
    }
  }
  inplace_binary<InplaceOp::mul>(*this, other, "mul_", 1.0);
  return *this;
}
Tensor& Tensor::mul_(double s) {
  check_inplace(*this, "mul_");
  if (detail::fw_level) [[unlikely]] {
    Tensor t = detail::tangent_of(*this);
    detail::JvpRuleGuard off;
    if (t.defined()) t.mul_(s);
  }
  detail::visit_dtype(dtype(), [&]<class T>() {
    const T v = detail::checked_cast<T>(s, "mul_");
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit("mul_", scale_replay<T>, {capture_detail::RW(*this)}, {numel()},
                           {static_cast<double>(v)});
    scale_exec(data<T>(), numel(), v);
  });
  ++impl_->storage->version;
  return *this;
}
Tensor& Tensor::copy_(const Tensor& src) {
  if (detail::fw_level && defined() && src.defined() && is_floating_point()) [[unlikely]] {
    check_inplace(*this, "copy_");
    const Tensor ts = detail::tangent_of(*this), tsrc = detail::tangent_of(src);
    if (ts.defined() || tsrc.defined()) {
      Tensor t = own_tangent(*this);
      detail::JvpRuleGuard off;
      if (tsrc.defined())
        t.copy_(tsrc);
      else
        t.zero_();
    }
  }
  inplace_binary<InplaceOp::copy>(*this, src, "copy_", 1.0);
  return *this;
}
Tensor& Tensor::fill_(double v) {
  check_inplace(*this, "fill_");
  if (detail::fw_level) [[unlikely]] {
    Tensor t = detail::tangent_of(*this);
    detail::JvpRuleGuard off;
    if (t.defined()) t.zero_();  // a constant: zero tangent
  }
  detail::visit_dtype(dtype(), [&]<class T>() {
    const T x = detail::checked_cast<T>(v, "fill_");
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit("fill_", fill_replay<T>, {capture_detail::W(*this)}, {numel()},
                           {static_cast<double>(x)});
    fill_exec(data<T>(), numel(), x);
  });
  ++impl_->storage->version;
  return *this;
}

// ---------------------------------------------------------------- creation
Tensor empty(const Shape& shape, TensorOptions o) {
  Tensor t = detail::new_tensor(shape, o.dtype);
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}
Tensor full(const Shape& shape, double value, TensorOptions o) {
  Tensor t = detail::new_tensor(shape, o.dtype);
  detail::visit_dtype(o.dtype, [&]<class T>() {
    T* p = t.data<T>();
    const T v = detail::checked_cast<T>(value, "full");
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = v;
  });
  if (capture_detail::recorder) [[unlikely]]
    capture_detail::constant(t, "full");
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions o) {
  return full(shape, 0.0, o);
}
Tensor ones(const Shape& shape, TensorOptions o) {
  return full(shape, 1.0, o);
}
Tensor zeros_like(const Tensor& t) {
  return zeros(t.shape(), {.dtype = t.dtype()});
}
Tensor ones_like(const Tensor& t) {
  return ones(t.shape(), {.dtype = t.dtype()});
}
Tensor full_like(const Tensor& t, double value) {
  return full(t.shape(), value, {.dtype = t.dtype()});
}
Tensor scalar_tensor(double value, TensorOptions o) {
  return full(Shape{}, value, o);
}

Tensor arange(double start, double stop, double step, TensorOptions o) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    std::ostringstream msg;
    msg << "arange: step must be nonzero and bounds finite (start " << start << ", stop " << stop << ", step "
        << step << ")";
    throw ValueError(msg.str());
  }
  const double count = std::ceil((stop - start) / step);
  if (count >= 0x1p60) {  // also keeps the cast below defined
    std::ostringstream msg;
    msg << "arange: " << count << " values from " << start << " to " << stop << " in steps of " << step
        << " are too many";
    throw ValueError(msg.str());
  }
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  return generate(Shape{n}, o, [&](int64_t i) { return start + static_cast<double>(i) * step; });
}
Tensor arange(double stop, TensorOptions o) {
  return arange(0.0, stop, 1.0, o);
}

Tensor linspace(double start, double stop, int64_t steps, TensorOptions o) {
  if (steps < 0) throw ValueError("linspace: steps must be non-negative, got " + std::to_string(steps));
  const double h = steps > 1 ? (stop - start) / static_cast<double>(steps - 1) : 0.0;
  return generate(Shape{steps}, o, [&](int64_t i) {
    return i > 0 && i == steps - 1 ? stop : start + static_cast<double>(i) * h;
  });
}

Tensor eye(int64_t n, int64_t m, TensorOptions o) {
  if (m < 0) m = n;
  if (n < 0) throw ValueError("eye: negative size " + std::to_string(n));
  return generate(Shape{n, m}, o, [&](int64_t i) { return (i / m) == (i % m) ? 1.0 : 0.0; });
}

Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions o) {
  if (static_cast<int64_t>(values.size()) != shape.numel())
    throw ShapeError("tensor: " + std::to_string(values.size()) + " values do not fill shape " + shape.str() +
                     " (" + std::to_string(shape.numel()) + " elements)");
  return generate(shape, o, [&](int64_t i) { return values[static_cast<std::size_t>(i)]; });
}
Tensor tensor(const std::vector<double>& values, TensorOptions o) {
  return tensor(values, Shape{static_cast<int64_t>(values.size())}, o);
}
Tensor tensor(std::initializer_list<double> values, TensorOptions o) {
  return tensor(std::vector<double>(values), o);
}
Tensor tensor(std::initializer_list<double> values, const Shape& shape, TensorOptions o) {
  return tensor(std::vector<double>(values), shape, o);
}

namespace {
template <class T>
Tensor from_vector_impl(const std::vector<T>& v, const Shape& shape, bool requires_grad) {
  if (static_cast<int64_t>(v.size()) != shape.numel())
    throw ShapeError("from_vector: " + std::to_string(v.size()) + " values do not fill shape " + shape.str());
  Tensor t = detail::new_tensor(shape, dtype_of<T>());
  if (!v.empty()) std::memcpy(t.raw_data(), v.data(), v.size() * sizeof(T));
  if (capture_detail::recorder) [[unlikely]]
    capture_detail::constant(t, "from_vector");
  if (requires_grad) t.requires_grad_(true);
  return t;
}
}  // namespace
Tensor from_vector(const std::vector<float>& v, const Shape& s, bool rg) {
  return from_vector_impl(v, s, rg);
}
Tensor from_vector(const std::vector<double>& v, const Shape& s, bool rg) {
  return from_vector_impl(v, s, rg);
}
Tensor from_vector(const std::vector<int64_t>& v, const Shape& s) {
  return from_vector_impl(v, s, false);
}

}  // namespace xg
