#include "xgrad/autograd/tensor/tensor.hpp"

#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <mutex>
#include <ostream>
#include <sstream>
#include <unordered_map>

#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/tape/node.hpp"
#include "xgrad/autograd/ops/ops.hpp"

namespace xg {

// ---------------------------------------------------------------- dtypes
const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::float32: return "float32";
    case Dtype::float64: return "float64";
    case Dtype::int64: return "int64";
  }
  return "?";
}
std::size_t dtype_size(Dtype d) { return d == Dtype::float32 ? 4 : 8; }

// ---------------------------------------------------------------- storage
// Buffers of 64 KiB and more are kept in a cache keyed by size after release: a training step
// that allocates the same activations every step then reuses resident memory instead of asking
// the kernel for fresh pages (each fresh page is a fault). Small buffers go to malloc, whose
// thread caches already serve them in nanoseconds.
namespace {
constexpr std::size_t kCacheMin = 64 * 1024;
constexpr std::size_t kCacheLimit = std::size_t(4) << 30;
struct BufferCache {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free;
  std::size_t cached = 0;
};
BufferCache& buffer_cache() {
  static auto* cache = new BufferCache;  // never destroyed: buffers may be released at exit
  return *cache;
}
std::size_t round_up(std::size_t n) { return (n + 63) & ~std::size_t(63); }
}  // namespace

Storage::Storage(std::size_t n) : nbytes(n) {
  if (n <= kInlineBytes) {
    data = inline_bytes;
    return;
  }
  if (n < kCacheMin) {
    data = std::malloc(n ? n : 1);
  } else {
    auto& c = buffer_cache();
    {
      std::lock_guard lock(c.mutex);
      auto it = c.free.find(round_up(n));
      if (it != c.free.end() && !it->second.empty()) {
        data = it->second.back();
        it->second.pop_back();
        c.cached -= round_up(n);
      }
    }
    if (!data) data = std::aligned_alloc(64, round_up(n));
  }
  if (!data) throw Error("out of memory allocating " + std::to_string(n) + " bytes");
}

Storage::~Storage() {
  if (data == inline_bytes) return;
  if (nbytes < kCacheMin) {
    std::free(data);
    return;
  }
  auto& c = buffer_cache();
  std::lock_guard lock(c.mutex);
  if (c.cached + round_up(nbytes) <= kCacheLimit) {
    c.free[round_up(nbytes)].push_back(data);
    c.cached += round_up(nbytes);
  } else {
    std::free(data);
  }
}

TensorImpl::~TensorImpl() = default;

namespace detail {
int64_t checked_numel(const Shape& s, const char* op) {
  int64_t n = 1;
  bool overflow = false;
  for (int64_t d : s) {
    if (d == 0) return 0;
    overflow = overflow || __builtin_mul_overflow(n, d, &n);
  }
  // at most 2^60 elements: the byte count of any dtype (and its rounding up) then fits in size_t.
  if (overflow || n > (int64_t{1} << 60))
    throw ShapeError(std::string(op) + ": shape " + s.str() + " has too many elements (the count overflows)");
  return n;
}
void throw_not_int64(double v, const char* op) {
  std::ostringstream msg;
  msg << op << ": value " << v << " cannot be converted to int64 (not finite or out of range)";
  throw ValueError(msg.str());
}

Tensor new_tensor(const Shape& shape, Dtype dtype) {
  for (int64_t d : shape)
    if (d < 0) throw ShapeError("shape " + shape.str() + " has a negative extent");
  const int64_t n = checked_numel(shape, "shape");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<std::size_t>(n) * dtype_size(dtype));
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor alias_with_shape(const Tensor& t, const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl()->storage;
  impl->shape = shape;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

int wrap_axis(int64_t axis, int rank, const char* op) {
  const int64_t r = rank == 0 ? 1 : rank;  // a 0-d tensor accepts axis 0 and -1, as PyTorch
  if (axis < -r || axis >= r)
    throw IndexError(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for a tensor of rank " +
                     std::to_string(rank) + " (valid axes are " + std::to_string(-r) + " to " + std::to_string(r - 1) + ")");
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

std::string shape_str(const Shape& s) { return s.str(); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  const int r = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank()), ib = i - (r - b.rank());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op) + ": shapes " + a.str() + " and " + b.str() + " cannot be broadcast (axis " +
                       std::to_string(i - r) + ": " + std::to_string(da) + " vs " + std::to_string(db) + ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

void broadcast_strides(const Shape& in, const Shape& out, int64_t* strides) {
  const int r = out.rank(), off = r - in.rank();
  int64_t acc = 1;
  for (int i = r - 1; i >= 0; --i) {
    const int j = i - off;
    if (j >= 0 && in[j] != 1) {
      strides[i] = acc;
      acc *= in[j];
    } else {
      strides[i] = 0;
    }
  }
}

ReducePlan make_reduce_plan(const Shape& in, const std::vector<bool>& reduced) {
  // Merge adjacent axes of the same kind, then emit one [outer, n, inner] step per reduced run,
  // innermost run first so that earlier steps leave the outer layout intact.
  std::vector<std::pair<int64_t, bool>> runs;
  for (int i = 0; i < in.rank(); ++i) {
    if (!runs.empty() && runs.back().second == reduced[i]) runs.back().first *= in[i];
    else runs.push_back({in[i], reduced[i]});
  }
  ReducePlan plan;
  for (int k = static_cast<int>(runs.size()) - 1; k >= 0; --k) {
    if (!runs[k].second) continue;
    int64_t outer = 1, inner = 1;
    for (int j = 0; j < k; ++j) outer *= runs[j].first;
    for (int j = k + 1; j < static_cast<int>(runs.size()); ++j) inner *= runs[j].second ? 1 : runs[j].first;
    plan.steps.push_back({outer, runs[k].first, inner});
  }
  return plan;
}
}  // namespace detail

// ---------------------------------------------------------------- Tensor
void Tensor::throw_undefined(const char* what) { throw ValueError(std::string(what) + ": the tensor is undefined"); }
void Tensor::throw_bad_data(Dtype requested) const {
  if (!impl_) throw_undefined("data");
  throw TypeError(std::string("data: requested ") + dtype_name(requested) + " from a " + dtype_name(impl_->dtype) +
                  " tensor");
}
int64_t Tensor::size(int axis) const {
  if (dim() == 0) throw IndexError("size: a 0-d tensor has no axes (asked for axis " + std::to_string(axis) + ")");
  return shape()[detail::wrap_axis(axis, dim(), "size")];
}

void* Tensor::raw_data() const {
  check_defined("data");
  return impl_->storage->data;
}

double Tensor::item() const {
  check_defined("item");
  if (numel() != 1)
    throw ValueError("item: the tensor has " + std::to_string(numel()) + " elements " + shape().str() +
                     "; item() needs exactly one");
  return detail::visit_dtype(dtype(), [&]<class T>() { return static_cast<double>(*static_cast<const T*>(raw_data())); });
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  check_defined("at");
  const Shape& s = shape();
  if (static_cast<int>(index.size()) != s.rank())
    throw IndexError("at: " + std::to_string(index.size()) + " indices for a tensor of shape " + s.str());
  int64_t flat = 0, axis = 0;
  for (int64_t i : index) {
    const int64_t n = s[axis];
    if (i < -n || i >= n)
      throw IndexError("at: index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) +
                       " of extent " + std::to_string(n) + " (shape " + s.str() + ")");
    flat = flat * n + (i < 0 ? i + n : i);
    ++axis;
  }
  return detail::visit_dtype(dtype(), [&]<class T>() { return static_cast<double>(static_cast<const T*>(raw_data())[flat]); });
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

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

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

bool Tensor::is_leaf() const { return !impl_ || !impl_->grad_fn; }
Tensor Tensor::grad() const { return impl_ ? Tensor(impl_->grad) : Tensor(); }
void Tensor::set_grad(const Tensor& g) {
  check_defined("set_grad");
  if (g.defined() && !(g.shape() == shape()))
    throw ShapeError("set_grad: gradient of shape " + g.shape().str() + " for a tensor of shape " + shape().str());
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

void Tensor::register_hook(TensorHook hook) {
  check_defined("register_hook");
  if (!impl_->requires_grad)
    throw ValueError("register_hook: the tensor does not require grad, so no gradient will reach the hook");
  if (impl_->grad_fn) impl_->grad_fn->pre_hooks().push_back(std::move(hook));
  else impl_->hooks.push_back(std::move(hook));
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

Tensor Tensor::reshape(const Shape& s) const { return xg::reshape(*this, s); }
Tensor Tensor::sum() const { return xg::sum(*this); }
Tensor Tensor::mean() const { return xg::mean(*this); }

// ---- in-place updates ----
namespace {
void check_inplace(const Tensor& t, const char* op) {
  if (!t.defined()) throw ValueError(std::string(op) + ": the tensor is undefined");
  if (GradMode::is_enabled() && t.requires_grad())
    throw ValueError(std::string(op) + ": in-place update of a tensor of shape " + t.shape().str() + " that requires grad" +
                     (t.name().empty() ? "" : " ('" + t.name() + "')") +
                     " while grad mode is on; wrap the update in xg::NoGradGuard");
}

// this = f(this, other) with other broadcast to this shape and converted to this dtype.
template <class F>
void inplace_binary(Tensor& self, const Tensor& other_in, const char* op, F f) {
  check_inplace(self, op);
  if (!other_in.defined()) throw ValueError(std::string(op) + ": the other tensor is undefined");
  if (!(detail::broadcast_shapes(self.shape(), other_in.shape(), op) == self.shape()))
    throw ShapeError(std::string(op) + ": shape " + other_in.shape().str() + " cannot be broadcast to " +
                     self.shape().str());
  NoGradGuard guard;
  Tensor other = other_in.to(self.dtype());
  detail::visit_dtype(self.dtype(), [&]<class T>() {
    T* p = self.data<T>();
    detail::map_binary(p, self.shape(), other.data<T>(), other.shape(), p, self.shape(),
                       [&](T a, T b) { return f(a, b); });
  });
  ++self.impl()->storage->version;
}
}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_defined("add_");
  detail::visit_dtype(dtype(), [&]<class T>() {
    const T a = detail::checked_cast<T>(alpha, "add_");
    inplace_binary(*this, other, "add_", [a](auto x, auto y) {
      using U = decltype(x);
      return detail::add_wrap(x, detail::mul_wrap(static_cast<U>(a), y));
    });
  });
  return *this;
}
Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  check_defined("sub_");
  detail::visit_dtype(dtype(), [&]<class T>() {
    const T a = detail::checked_cast<T>(alpha, "sub_");
    inplace_binary(*this, other, "sub_", [a](auto x, auto y) {
      using U = decltype(x);
      return detail::sub_wrap(x, detail::mul_wrap(static_cast<U>(a), y));
    });
  });
  return *this;
}
Tensor& Tensor::mul_(const Tensor& other) {
  inplace_binary(*this, other, "mul_", [](auto x, auto y) { return detail::mul_wrap(x, y); });
  return *this;
}
Tensor& Tensor::mul_(double s) {
  check_inplace(*this, "mul_");
  detail::visit_dtype(dtype(), [&]<class T>() {
    T* p = data<T>();
    const T v = detail::checked_cast<T>(s, "mul_");
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = detail::mul_wrap(p[i], v);
  });
  ++impl_->storage->version;
  return *this;
}
Tensor& Tensor::copy_(const Tensor& src) {
  inplace_binary(*this, src, "copy_", [](auto, auto y) { return y; });
  return *this;
}
Tensor& Tensor::fill_(double v) {
  check_inplace(*this, "fill_");
  detail::visit_dtype(dtype(), [&]<class T>() {
    T* p = data<T>();
    const T x = detail::checked_cast<T>(v, "fill_");
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = x;
  });
  ++impl_->storage->version;
  return *this;
}

// ---------------------------------------------------------------- printing
namespace {
constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Formatter {
  bool integral = true;  // int64, or floats that are all whole numbers
  bool scientific = false;
  int width = 1;
  std::string format(double v) const {
    std::ostringstream s;
    if (integral && std::fabs(v) < 0x1p63) {
      s << static_cast<long long>(v);
      if (!is_int) s << '.';
    } else if (integral) {  // +-2^63: int64's extremes as doubles, no longer a long long
      s << std::fixed << std::setprecision(0) << v;
      if (!is_int) s << '.';
    } else if (scientific) {
      s << std::scientific << std::setprecision(4) << v;
    } else {
      s << std::fixed << std::setprecision(4) << v;
    }
    return s.str();
  }
  bool is_int = false;
};

void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& s, int axis, int64_t offset,
               const std::vector<int64_t>& strides, const Formatter& f, bool summarise, int indent) {
  const int64_t n = s[axis];
  auto visit = [&](int64_t i) {
    if (axis == s.rank() - 1) {
      std::string txt = f.format(v[static_cast<std::size_t>(offset + i)]);
      os << std::string(static_cast<std::size_t>(std::max<int>(0, f.width - static_cast<int>(txt.size()))), ' ') << txt;
    } else {
      print_rec(os, v, s, axis + 1, offset + i * strides[axis], strides, f, summarise, indent + 1);
    }
  };
  os << '[';
  const bool cut = summarise && n > 2 * kEdgeItems;
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdgeItems) {
      os << (axis == s.rank() - 1 ? "..., " : "...,\n" + std::string(static_cast<std::size_t>(indent + 1), ' '));
      i = n - kEdgeItems;
    }
    visit(i);
    if (i + 1 < n) {
      if (axis == s.rank() - 1) os << ", ";
      else os << ',' << std::string(static_cast<std::size_t>(s.rank() - 1 - axis), '\n')
              << std::string(static_cast<std::size_t>(indent + 1), ' ');
    }
  }
  os << ']';
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const bool summarise = t.numel() > kSummariseAbove;
  std::vector<double> v = t.to_vector<double>();
  Formatter f;
  f.is_int = t.dtype() == Dtype::int64;
  double max_abs = 0, min_abs = 0;
  bool any_nonzero = false, nonfinite = false;
  for (double x : v) {
    if (!std::isfinite(x)) { nonfinite = true; continue; }
    if (x != std::floor(x)) f.integral = false;
    const double a = std::fabs(x);
    max_abs = std::max(max_abs, a);
    if (a > 0 && (!any_nonzero || a < min_abs)) min_abs = a;
    if (a > 0) any_nonzero = true;
  }
  if (nonfinite && !f.is_int) f.integral = false;
  if (f.integral && max_abs >= 1e8 && !f.is_int) f.integral = false;
  if (!f.integral) f.scientific = max_abs >= 1e8 || (any_nonzero && min_abs < 1e-4);
  for (double x : v) f.width = std::max<int>(f.width, static_cast<int>(f.format(x).size()));
  os << "tensor(";
  if (t.dim() == 0) {
    os << f.format(v[0]);
  } else {
    print_rec(os, v, t.shape(), 0, 0, contiguous_strides(t.shape()), f, summarise, 7);
  }
  if (summarise || t.numel() == 0) os << ", shape=" << t.shape().str();
  if (t.dtype() == Dtype::float64) os << ", dtype=float64";
  if (t.grad_fn()) os << ", grad_fn=" << t.grad_fn()->name();
  else if (t.requires_grad()) os << ", requires_grad=true";
  if (!t.name().empty()) os << ", name=\"" << t.name() << '"';
  return os << ')';
}

std::string to_string(const Tensor& t) {
  std::ostringstream s;
  s << t;
  return s.str();
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
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions o) { return full(shape, 0.0, o); }
Tensor ones(const Shape& shape, TensorOptions o) { return full(shape, 1.0, o); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype()}); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, {.dtype = t.dtype()}); }
Tensor scalar_tensor(double value, TensorOptions o) { return full(Shape{}, value, o); }

namespace {
template <class G>
Tensor generate(const Shape& shape, TensorOptions o, G gen) {
  Tensor t = detail::new_tensor(shape, o.dtype);
  detail::visit_dtype(o.dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = detail::checked_cast<T>(gen(i), "tensor");
  });
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor arange(double start, double stop, double step, TensorOptions o) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    std::ostringstream msg;
    msg << "arange: step must be nonzero and bounds finite (start " << start << ", stop " << stop << ", step " << step << ")";
    throw ValueError(msg.str());
  }
  const double count = std::ceil((stop - start) / step);
  if (count >= 0x1p60) {  // also keeps the cast below defined
    std::ostringstream msg;
    msg << "arange: " << count << " values from " << start << " to " << stop << " in steps of " << step << " are too many";
    throw ValueError(msg.str());
  }
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  return generate(Shape{n}, o, [&](int64_t i) { return start + static_cast<double>(i) * step; });
}
Tensor arange(double stop, TensorOptions o) { return arange(0.0, stop, 1.0, o); }

Tensor linspace(double start, double stop, int64_t steps, TensorOptions o) {
  if (steps < 0) throw ValueError("linspace: steps must be non-negative, got " + std::to_string(steps));
  const double h = steps > 1 ? (stop - start) / static_cast<double>(steps - 1) : 0.0;
  return generate(Shape{steps}, o, [&](int64_t i) { return i > 0 && i == steps - 1 ? stop : start + static_cast<double>(i) * h; });
}

Tensor eye(int64_t n, int64_t m, TensorOptions o) {
  if (m < 0) m = n;
  if (n < 0) throw ValueError("eye: negative size " + std::to_string(n));
  return generate(Shape{n, m}, o, [&](int64_t i) { return (i / m) == (i % m) ? 1.0 : 0.0; });
}

Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions o) {
  if (static_cast<int64_t>(values.size()) != shape.numel())
    throw ShapeError("tensor: " + std::to_string(values.size()) + " values do not fill shape " + shape.str() + " (" +
                     std::to_string(shape.numel()) + " elements)");
  return generate(shape, o, [&](int64_t i) { return values[static_cast<std::size_t>(i)]; });
}
Tensor tensor(const std::vector<double>& values, TensorOptions o) {
  return tensor(values, Shape{static_cast<int64_t>(values.size())}, o);
}
Tensor tensor(std::initializer_list<double> values, TensorOptions o) { return tensor(std::vector<double>(values), o); }
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
  if (requires_grad) t.requires_grad_(true);
  return t;
}
}  // namespace
Tensor from_vector(const std::vector<float>& v, const Shape& s, bool rg) { return from_vector_impl(v, s, rg); }
Tensor from_vector(const std::vector<double>& v, const Shape& s, bool rg) { return from_vector_impl(v, s, rg); }
Tensor from_vector(const std::vector<int64_t>& v, const Shape& s) { return from_vector_impl(v, s, false); }

// ---------------------------------------------------------------- random numbers
// xoshiro256** seeded by splitmix64: fast, and the same stream on every platform (the standard
// library's distributions are not specified bit for bit).
namespace {
struct Generator {
  uint64_t s[4];
  bool has_spare = false;
  double spare = 0;
  explicit Generator(uint64_t seed) { reseed(seed); }
  void reseed(uint64_t seed) {
    for (auto& w : s) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      w = z ^ (z >> 31);
    }
    has_spare = false;
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal01() {  // Box-Muller; the second value is kept for the next call
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    double u1 = uniform01(), u2 = uniform01();
    if (u1 < 1e-300) u1 = 1e-300;
    const double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * M_PI * u2;
    spare = r * std::sin(th);
    has_spare = true;
    return r * std::cos(th);
  }
};
Generator& generator() {
  static Generator g(0);
  return g;
}
}  // namespace

void manual_seed(uint64_t seed) { generator().reseed(seed); }
double random_uniform01() { return generator().uniform01(); }
uint64_t random_u64() { return generator().next(); }

std::vector<uint64_t> get_rng_state() {
  const Generator& g = generator();
  uint64_t spare_bits;
  std::memcpy(&spare_bits, &g.spare, sizeof spare_bits);
  return {g.s[0], g.s[1], g.s[2], g.s[3], g.has_spare ? 1u : 0u, spare_bits};
}

void set_rng_state(const std::vector<uint64_t>& state) {
  if (state.size() != 6)
    throw ValueError("set_rng_state: expected 6 words (from get_rng_state), got " + std::to_string(state.size()));
  Generator& g = generator();
  for (int i = 0; i < 4; ++i) g.s[i] = state[static_cast<std::size_t>(i)];
  g.has_spare = state[4] != 0;
  std::memcpy(&g.spare, &state[5], sizeof g.spare);
}

Tensor rand(const Shape& shape, TensorOptions o) { return uniform(shape, 0.0, 1.0, o); }
Tensor randn(const Shape& shape, TensorOptions o) { return normal(shape, 0.0, 1.0, o); }
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions o) {
  if (!is_floating(o.dtype)) throw TypeError(std::string("uniform: needs a float dtype, got ") + dtype_name(o.dtype));
  return generate(shape, o, [&](int64_t) { return lo + (hi - lo) * generator().uniform01(); });
}
Tensor normal(const Shape& shape, double mean, double stddev, TensorOptions o) {
  if (!is_floating(o.dtype)) throw TypeError(std::string("normal: needs a float dtype, got ") + dtype_name(o.dtype));
  if (stddev < 0) throw ValueError("normal: stddev must be non-negative, got " + std::to_string(stddev));
  return generate(shape, o, [&](int64_t) { return mean + stddev * generator().normal01(); });
}
Tensor randint(int64_t lo, int64_t hi, const Shape& shape) {
  if (hi <= lo) throw ValueError("randint: empty range [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);  // no int64 overflow
  Tensor t = detail::new_tensor(shape, Dtype::int64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    p[i] = static_cast<int64_t>(static_cast<uint64_t>(lo) + generator().next() % span);
  return t;
}
Tensor randperm(int64_t n) {
  std::vector<int64_t> p(static_cast<std::size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[generator().next() % static_cast<uint64_t>(i + 1)]);
  return from_vector(p, Shape{n});
}

}  // namespace xg
