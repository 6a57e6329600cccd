// Masks and index writes: masked_fill, scatter, scatter_reduce, index_put, slice_scatter,
// select_scatter, and the in-place members masked_fill_, scatter_ and index_put_.
//
// Every op here is "copy x, then write some positions". One write kernel per op serves both the
// out-of-place op (it writes into a fresh copy) and the in-place member (it writes into the
// tensor's own storage and bumps the version counter). Index values are all checked before the
// first write, so a failing in-place call leaves the tensor as it was.
//
// Duplicate positions in an overwriting write (scatter, index_put without accumulate) resolve
// deterministically: the last write in row-major order of the index wins. The gradient follows
// that choice: only the winning element of src / values receives the gradient of its position.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::Domain;
using detail::sample_tensor;
using detail::visit_dtype;
using detail::wrap_axis;

namespace {
std::string str(int64_t v) {
  return std::to_string(v);
}
void need(const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) throw ValueError(std::string(op) + ": " + what + " is undefined");
}
void need_index(const Tensor& t, const char* op) {
  need(t, op, "the index");
  if (t.dtype() != Dtype::int64)
    throw TypeError(std::string(op) + ": index must be int64, got " + dtype_name(t.dtype()));
}
[[noreturn]] void out_of_range(const char* op, int64_t v, int axis, const Shape& xs) {
  throw IndexError(std::string(op) + ": index " + str(v) + " is out of range for axis " + str(axis) +
                   " of extent " + str(xs[axis]) + " (shape " + xs.str() + ")");
}
int64_t prod_of(const Shape& s, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; ++i) p *= s[i];
  return p;
}
// A fresh tensor holding x's values (the output of an out-of-place write).
Tensor copy_of(const Tensor& x) {
  Tensor y = detail::new_tensor(x.shape(), x.dtype());
  if (x.numel() > 0)
    std::memcpy(y.raw_data(), x.raw_data(), static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype()));
  return y;
}
// t, or a private copy of it when it shares storage with `dst` (an in-place write reading its own
// target would depend on the order of the writes).
Tensor unaliased(const Tensor& t, const Tensor& dst) {
  if (t.defined() && t.impl()->storage == dst.impl()->storage) return copy_of(t);
  return t;
}
void check_inplace(const Tensor& self, const char* op) {
  if (!self.defined()) throw ValueError(std::string(op) + ": the tensor is undefined");
  if (GradMode::is_enabled() && self.requires_grad())
    throw ValueError(
        std::string(op) + ": in-place update of a " + (self.is_leaf() ? "leaf " : "") + "tensor of shape " +
        self.shape().str() + " that requires grad" + (self.name().empty() ? "" : " ('" + self.name() + "')") +
        " while grad mode is on; use the out-of-place op, or wrap the update in xg::NoGradGuard");
}
void check_inplace_operand(const Tensor& t, const char* op, const char* what) {
  if (t.defined() && GradMode::is_enabled() && t.requires_grad())
    throw ValueError(std::string(op) + ": " + what +
                     " requires grad, which an in-place update cannot record; " + "use the out-of-place op");
}
// Pads a gradient of the index's shape with zeros up to the source's shape (scatter reads only
// the leading index-shaped block of a larger source).
Tensor pad_to(const Tensor& g, const Shape& want) {
  if (g.shape() == want) return g;
  std::vector<int64_t> pads;
  for (int d = want.rank() - 1; d >= 0; --d) {
    pads.push_back(0);
    pads.push_back(want[d] - g.shape()[d]);
  }
  return pad(g, pads);
}
// The leading block of `want`'s shape of a source (what a scatter reads of it).
Tensor crop_to(const Tensor& s, const Shape& want) {
  Tensor r = s;
  for (int d = 0; d < want.rank(); ++d)
    if (r.shape()[d] != want[d]) r = narrow(r, d, 0, want[d]);
  return r;
}
// Index tensors kept for backward are saved with their version, so that an in-place write to them
// between forward and backward raises instead of sending gradients to the wrong places.
std::vector<SavedTensor> save_all(const std::vector<Tensor>& ts) {
  std::vector<SavedTensor> out;
  for (const Tensor& t : ts) out.push_back(save_input(t));
  return out;
}
std::vector<Tensor> unpack_all(const std::vector<SavedTensor>& ss, const Node& n) {
  std::vector<Tensor> out;
  for (const SavedTensor& s : ss) out.push_back(s.unpack(n));
  return out;
}
Tensor int64_of(std::initializer_list<double> v, const Shape& s) {
  return tensor(v, s, {.dtype = Dtype::int64});
}
Tensor float64_of(std::initializer_list<double> v, const Shape& s) {
  return tensor(v, s, {.dtype = Dtype::float64});
}
}  // namespace

// ================================================================ masked_fill
namespace {
// Checks that `mask` broadcasts to `target` (the shape being written).
void check_mask(const Tensor& mask, const Shape& target, const char* op) {
  need(mask, op, "the mask");
  const Shape b = detail::broadcast_shapes(mask.shape(), target, op);
  if (!(b == target))
    throw ShapeError(std::string(op) + ": mask of shape " + mask.shape().str() + " cannot be broadcast to " +
                     target.str());
}
// y[i] = m[i] != 0 ? v : x[i] over a run of n (x may be y itself): a select, which the compiler
// vectorises into a blend (a branch would mispredict on a random mask at every other element).
template <class T, class M>
void fill_run(T* y, const T* x, const M* __restrict m, int64_t n, int64_t mstride, T v) {
  if (mstride == 1)
    for (int64_t i = 0; i < n; ++i) y[i] = m[i] != M(0) ? v : x[i];
  else
    for (int64_t i = 0; i < n; ++i) y[i] = m[i * mstride] != M(0) ? v : x[i];
}
// y = x with v wherever the mask (broadcast to y's shape ys) is nonzero, NaN counting as true; x
// has shape ys and may be y itself (in place). One pass: the copy and the fill are fused. The mask
// never shares y's storage (callers copy it first when it would).
template <class T>
void fill_masked(T* y, const T* x, const Shape& ys, const Tensor& mask, T v) {
  const int64_t n = ys.numel();
  if (n == 0) return;
  visit_dtype(mask.dtype(), [&]<class M>() {
    const M* m = mask.data<M>();
    const Shape& ms = mask.shape();
    if (ms.numel() == n) {  // same layout (ms is ys with leading 1s at most)
      detail::parallel_for(n, 1 << 15,
                           [=](int64_t lo, int64_t hi) { fill_run(y + lo, x + lo, m + lo, hi - lo, 1, v); });
      return;
    }
    if (ms.numel() == 1) {
      if (m[0] != M(0))
        std::fill(y, y + n, v);
      else if (y != x)
        std::copy(x, x + n, y);
      return;
    }
    const int r = ys.rank();
    int64_t st[kMaxRank], c[kMaxRank] = {};
    detail::broadcast_strides(ms, ys, st);
    const int64_t inner = ys[r - 1];
    int64_t mo = 0;
    for (int64_t o = 0; o < n; o += inner) {
      fill_run(y + o, x + o, m + mo, inner, st[r - 1], v);
      for (int d = r - 2; d >= 0; --d) {
        mo += st[d];
        if (++c[d] < ys[d]) break;
        mo -= st[d] * ys[d];
        c[d] = 0;
      }
    }
  });
}
// masked_fill's output: x with v where the mask is nonzero, x broadcast with the mask first when
// the mask is the larger.
template <class T>
Tensor masked_fill_out(const Tensor& x, const Tensor& mask, T v) {
  const Shape os = detail::broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  Tensor y = detail::new_tensor(os, x.dtype());
  if (x.shape() == os) {
    fill_masked(y.data<T>(), x.data<T>(), os, mask, v);
  } else {
    detail::broadcast_copy(x.data<T>(), x.shape(), y.data<T>(), os);
    fill_masked(y.data<T>(), y.data<T>(), os, mask, v);
  }
  return y;
}
Tensor masked_fill_value(const Tensor& value, Dtype d, const char* op) {
  need(value, op, "the value");
  if (value.dim() != 0)
    throw ShapeError(std::string(op) + ": the value must be a 0-d tensor (or a number), got shape " +
                     value.shape().str());
  return value.to(d);
}
}  // namespace

XG_OP(masked_fill,
      {.formula = "d/dx masked_fill(x, m, v) = masked_fill(grad, m, 0), d/dv = sum(where(m, grad, 0))",
       .kind = OpKind::primitive,
       .samples =
           [] {
             Tensor m34 = float64_of({1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1}, {3, 4});
             Tensor m4 = float64_of({0, 1, 1, 0}, {4});
             Tensor m23 = float64_of({1, 0, 0, 0, 1, 1}, {2, 3});
             return std::vector<OpSample>{
                 {"[3, 4] mask [3, 4] value 0.5",
                  {sample_tensor({3, 4}, Domain::real, 1), m34},
                  [](std::span<const Tensor> in) { return masked_fill(in[0], in[1], 0.5); },
                  0,
                  "OP(x0, x1 != 0, 0.5)"},
                 {"[3, 4] mask [4] (broadcast) value -1.5",
                  {sample_tensor({3, 4}, Domain::real, 2), m4},
                  [](std::span<const Tensor> in) { return masked_fill(in[0], in[1], -1.5); },
                  0,
                  "OP(x0, x1 != 0, -1.5)"},
                 {"[3] mask [2, 3] (x broadcast) value 2",
                  {sample_tensor({3}, Domain::real, 3), m23},
                  [](std::span<const Tensor> in) { return masked_fill(in[0], in[1], 2.0); },
                  0,
                  "OP(x0, x1 != 0, 2.0)"},
                 {"[3, 4] mask [3, 4] 0-d tensor value",
                  {sample_tensor({3, 4}, Domain::real, 4), m34, sample_tensor({}, Domain::real, 5)},
                  [](std::span<const Tensor> in) { return masked_fill(in[0], in[1], in[2]); },
                  0,
                  "OP(x0, x1 != 0, x2)"},
             };
           },
       .torch = "torch.masked_fill"});
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  need(x, "masked_fill", "the tensor");
  need(mask, "masked_fill", "the mask");
  Tensor y = visit_dtype(x.dtype(), [&]<class T>() {
    return masked_fill_out(x, mask, detail::checked_cast<T>(value, "masked_fill"));
  });
  return record(
      opdefs::masked_fill_op, y, {x},
      [sm = save_input(mask.detach()), sx = x.shape()](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = sum_to(masked_fill(g, sm.unpack(n), 0.0), sx);
      },
      [&](std::span<const Tensor> t) {
        return masked_fill(t[0], mask, 0.0);  // the filled value is a constant
      });
}
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value0) {
  need(x, "masked_fill", "the tensor");
  need(mask, "masked_fill", "the mask");
  Tensor value = masked_fill_value(value0, x.dtype(), "masked_fill");
  Tensor y = visit_dtype(x.dtype(), [&]<class T>() { return masked_fill_out(x, mask, *value.data<T>()); });
  return record(
      opdefs::masked_fill_op, y, {x, value},
      [sm = save_input(mask.detach()), sx = x.shape()](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor m = sm.unpack(n);
        if (n.needs_input_grad(0)) gx[0] = sum_to(masked_fill(g, m, 0.0), sx);
        if (n.needs_input_grad(1)) gx[1] = sum(where(m, g, scalar_tensor(0.0, {.dtype = g.dtype()})));
      },
      [&](std::span<const Tensor> t) {
        Tensor zero = scalar_tensor(0.0, {.dtype = y.dtype()});
        return where(mask, t[1].defined() ? t[1] : zero, t[0].defined() ? t[0] : zero);
      });
}

Tensor& Tensor::masked_fill_(const Tensor& mask, double value) {
  check_inplace(*this, "masked_fill_");
  if (detail::fw_level) [[unlikely]] {
    Tensor t = detail::tangent_of(*this);
    detail::JvpRuleGuard off;
    if (t.defined()) t.masked_fill_(mask, 0.0);  // the filled elements are constants
  }
  check_mask(mask, shape(), "masked_fill_");
  Tensor m = unaliased(mask, *this);
  visit_dtype(dtype(), [&]<class T>() {
    fill_masked(data<T>(), data<T>(), shape(), m, detail::checked_cast<T>(value, "masked_fill_"));
  });
  ++impl_->storage->version;
  return *this;
}
Tensor& Tensor::masked_fill_(const Tensor& mask, const Tensor& value) {
  check_inplace(*this, "masked_fill_");
  detail::check_no_tangent_inplace(*this, value, "masked_fill_");
  check_inplace_operand(value, "masked_fill_", "the value");
  check_mask(mask, shape(), "masked_fill_");
  Tensor v, m = unaliased(mask, *this);
  {
    NoGradGuard guard;
    v = masked_fill_value(value, dtype(), "masked_fill_");
  }
  visit_dtype(dtype(), [&]<class T>() { fill_masked(data<T>(), data<T>(), shape(), m, *v.data<T>()); });
  ++impl_->storage->version;
  return *this;
}

// ================================================================ scatter, scatter_reduce
namespace {
// The geometry of a scatter: x's shape, the index's and the source's (src may be larger than the
// index; only its leading index-shaped block is read), and the axis.
struct ScatterGeom {
  Shape xs, is, ss;
  int axis = 0;
};
ScatterGeom scatter_geom(const char* op, const Tensor& x, int64_t dim, const Tensor& index,
                         const Tensor* src) {
  need(x, op, "the tensor");
  need_index(index, op);
  if (src) need(*src, op, "the source");
  if (x.dim() == 0) throw IndexError(std::string(op) + ": cannot scatter into a 0-d tensor");
  ScatterGeom g;
  g.axis = wrap_axis(dim, x.dim(), op);
  g.xs = x.shape();
  g.is = index.shape();
  g.ss = src ? src->shape() : index.shape();
  if (g.is.rank() != g.xs.rank() || g.ss.rank() != g.xs.rank())
    throw ShapeError(std::string(op) + ": index of shape " + g.is.str() +
                     (src ? " and source of shape " + g.ss.str() : std::string()) +
                     " must have the rank of the tensor " + g.xs.str());
  for (int d = 0; d < g.xs.rank(); ++d)
    if ((d != g.axis && g.is[d] > g.xs[d]) || g.is[d] > g.ss[d])
      throw ShapeError(std::string(op) + ": index shape " + g.is.str() +
                       " must not exceed the tensor's shape " + g.xs.str() + " outside axis " + str(g.axis) +
                       (src ? " nor the source's shape " + g.ss.str() : std::string()) + " (axis " + str(d) +
                       ")");
  const int64_t* idx = index.data<int64_t>();
  for (int64_t k = 0, n = index.numel(); k < n; ++k)
    if (idx[k] < 0 || idx[k] >= g.xs[g.axis]) out_of_range(op, idx[k], g.axis, g.xs);
  return g;
}
// f(x_offset, src_offset, k) for each element k of the index, in row-major order.
template <class F>
void scatter_walk(const ScatterGeom& g, const Tensor& index, F f) {
  const int64_t total = g.is.numel();
  if (total == 0) return;
  const std::vector<int64_t> xst = contiguous_strides(g.xs), sst = contiguous_strides(g.ss);
  const int64_t* idx = index.data<int64_t>();
  const int r = g.xs.rank();
  int64_t c[kMaxRank] = {};
  for (int64_t k = 0; k < total; ++k) {
    int64_t xo = 0, so = 0;
    for (int d = 0; d < r; ++d) {
      xo += (d == g.axis ? idx[k] : c[d]) * xst[d];
      so += c[d] * sst[d];
    }
    f(xo, so, k);
    for (int d = r - 1; d >= 0; --d) {
      if (++c[d] < g.is[d]) break;
      c[d] = 0;
    }
  }
}
// 1 where element k of the index is the last to write its position, else 0 (x's dtype, index
// shape); undefined when no position is written twice.
Tensor scatter_winners(const ScatterGeom& g, const Tensor& index, Dtype d) {
  std::vector<int64_t> last(static_cast<std::size_t>(g.xs.numel()), -1);
  std::vector<int64_t> pos(static_cast<std::size_t>(g.is.numel()));
  bool dup = false;
  scatter_walk(g, index, [&](int64_t xo, int64_t, int64_t k) {
    dup = dup || last[xo] >= 0;
    last[xo] = k;
    pos[k] = xo;
  });
  if (!dup) return Tensor();
  return detail::generate(g.is, {.dtype = d}, [&](int64_t k) { return last[pos[k]] == k ? 1.0 : 0.0; });
}
template <class T>
void scatter_write(T* y, const ScatterGeom& g, const Tensor& index, const T* s) {
  scatter_walk(g, index, [&](int64_t xo, int64_t so, int64_t) { y[xo] = s[so]; });
}
template <class T>
void scatter_fill(T* y, const ScatterGeom& g, const Tensor& index, T v) {
  scatter_walk(g, index, [&](int64_t xo, int64_t, int64_t) { y[xo] = v; });
}
}  // namespace

XG_OP(scatter,
      {.formula = "d/dx scatter(x, i, s) = scatter(grad, i, 0), d/ds = gather(grad, i) (the last write wins)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             Tensor idx = int64_of({2, 0, 1, 3, 0, 1}, {3, 2});
             Tensor idx0 =
                 int64_of({1, 0, 2, 2, 1, 0},
                          {2, 3});  // no position written twice: the reference gradient differs there
             return std::vector<OpSample>{
                 {"[3, 4] axis 1 from [3, 2]",
                  {sample_tensor({3, 4}, Domain::real, 1), idx, sample_tensor({3, 2}, Domain::real, 2)},
                  [](std::span<const Tensor> in) { return scatter(in[0], 1, in[1], in[2]); },
                  0,
                  "OP(x0, 1, x1, x2)"},
                 {"[3, 3] axis -2 from [2, 3]",
                  {sample_tensor({3, 3}, Domain::real, 3), idx0, sample_tensor({2, 3}, Domain::real, 4)},
                  [](std::span<const Tensor> in) { return scatter(in[0], -2, in[1], in[2]); },
                  0,
                  "OP(x0, -2, x1, x2)"},
                 {"[3, 4] axis 1 value 2.5",
                  {sample_tensor({3, 4}, Domain::real, 5), idx},
                  [](std::span<const Tensor> in) { return scatter(in[0], 1, in[1], 2.5); },
                  0,
                  "OP(x0, 1, x1, 2.5)"},
             };
           },
       .torch = "torch.scatter"});
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src0) {
  const ScatterGeom g = scatter_geom("scatter", x, dim, index, &src0);
  Tensor src = src0.to(x.dtype());
  Tensor y = copy_of(x);
  visit_dtype(x.dtype(), [&]<class T>() { scatter_write(y.data<T>(), g, index, src.data<T>()); });
  if (!will_record({x, src})) return y;
  Tensor win = src.requires_grad() ? scatter_winners(g, index, x.dtype()) : Tensor();
  return record(
      opdefs::scatter_op, y, {x, src},
      [a = g.axis, si = save_input(index), ss = g.ss, win](const Node& n, const Tensor& gr,
                                                           std::span<Tensor> gx) {
        const Tensor index = si.unpack(n);
        if (n.needs_input_grad(0)) gx[0] = scatter(gr, a, index, 0.0);
        if (n.needs_input_grad(1)) {
          Tensor gs = gather(gr, a, index);
          if (win.defined()) gs = gs * win;
          gx[1] = pad_to(gs, ss);
        }
      },
      [&](std::span<const Tensor> t) {
        // the same writes on the tangents: the same duplicate wins
        Tensor base = t[0].defined() ? t[0] : zeros_like(y);
        return t[1].defined() ? scatter(base, g.axis, index, t[1]) : scatter(base, g.axis, index, 0.0);
      });
}
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, double value) {
  const ScatterGeom g = scatter_geom("scatter", x, dim, index, nullptr);
  Tensor y = copy_of(x);
  visit_dtype(x.dtype(), [&]<class T>() {
    scatter_fill(y.data<T>(), g, index, detail::checked_cast<T>(value, "scatter"));
  });
  return record(
      opdefs::scatter_op, y, {x},
      [a = g.axis, si = save_input(index)](const Node& n, const Tensor& gr, std::span<Tensor> gx) {
        gx[0] = scatter(gr, a, si.unpack(n), 0.0);
      },
      [&](std::span<const Tensor> t) { return scatter(t[0], g.axis, index, 0.0); });
}

Tensor& Tensor::scatter_(int64_t dim, const Tensor& index, const Tensor& src) {
  check_inplace(*this, "scatter_");
  detail::check_no_tangent_inplace(*this, src, "scatter_");
  check_inplace_operand(src, "scatter_", "the source");
  const ScatterGeom g = scatter_geom("scatter_", *this, dim, index, &src);
  Tensor s;
  {
    NoGradGuard guard;
    s = unaliased(src, *this).to(dtype());
  }
  Tensor i = unaliased(index, *this);
  visit_dtype(dtype(), [&]<class T>() { scatter_write(data<T>(), g, i, s.data<T>()); });
  ++impl_->storage->version;
  return *this;
}
Tensor& Tensor::scatter_(int64_t dim, const Tensor& index, double value) {
  check_inplace(*this, "scatter_");
  detail::check_no_tangent_inplace(*this, Tensor(), "scatter_");
  const ScatterGeom g = scatter_geom("scatter_", *this, dim, index, nullptr);
  Tensor i = unaliased(index, *this);
  visit_dtype(dtype(),
              [&]<class T>() { scatter_fill(data<T>(), g, i, detail::checked_cast<T>(value, "scatter_")); });
  ++impl_->storage->version;
  return *this;
}

namespace {
enum class Reduce { sum, prod, mean, amax, amin };
Reduce parse_reduce(const std::string& r) {
  if (r == "sum") return Reduce::sum;
  if (r == "prod") return Reduce::prod;
  if (r == "mean") return Reduce::mean;
  if (r == "amax") return Reduce::amax;
  if (r == "amin") return Reduce::amin;
  throw ValueError(
      "scatter_reduce: reduce must be \"sum\", \"prod\", \"mean\", \"amax\" or \"amin\", got \"" + r + "\"");
}
template <class T>
T floor_div(T a, int64_t c) {
  if constexpr (std::is_integral_v<T>) {
    T q = a / c;
    if (a % c != 0 && (a < 0) != (c < 0)) --q;
    return q;
  } else {
    return a / static_cast<T>(c);
  }
}
// The forward of scatter_reduce into y (a copy of x). count (x's numel, or empty) receives the
// number of values reduced into each position (self included when include_self), touched
// positions only; untouched ones keep 0.
template <class T>
void scatter_reduce_kernel(T* y, const ScatterGeom& g, const Tensor& index, const T* s, Reduce red,
                           bool include_self, std::vector<int64_t>& count) {
  const std::size_t n = static_cast<std::size_t>(g.xs.numel());
  count.assign(n, 0);
  std::vector<char> touched(n, 0);
  scatter_walk(g, index, [&](int64_t xo, int64_t, int64_t) { touched[xo] = 1; });
  if (!include_self) {  // start from the reduction's identity
    T init{};
    if (red == Reduce::prod) init = T(1);
    if (red == Reduce::amax)
      init = std::is_integral_v<T> ? std::numeric_limits<T>::lowest() : -std::numeric_limits<T>::infinity();
    if (red == Reduce::amin)
      init = std::is_integral_v<T> ? std::numeric_limits<T>::max() : std::numeric_limits<T>::infinity();
    for (std::size_t p = 0; p < n; ++p)
      if (touched[p]) y[p] = init;
  } else {
    for (std::size_t p = 0; p < n; ++p) count[p] = touched[p];
  }
  scatter_walk(g, index, [&](int64_t xo, int64_t so, int64_t) {
    const T v = s[so];
    T& o = y[xo];
    ++count[xo];
    switch (red) {
      case Reduce::sum:
      case Reduce::mean:
        o = detail::add_wrap(o, v);
        break;
      case Reduce::prod:
        o = detail::mul_wrap(o, v);
        break;
      case Reduce::amax:  // NaN propagates: once o is NaN, v > o is false
        if (v > o || v != v) o = v;
        break;
      case Reduce::amin:
        if (v < o || v != v) o = v;
        break;
    }
  });
  if (red == Reduce::mean)
    for (std::size_t p = 0; p < n; ++p)
      if (touched[p]) y[p] = floor_div(y[p], count[p]);
}
}  // namespace

XG_OP(scatter_reduce,
      {.formula = "sum: d/dx = grad, d/ds = gather(grad, i); mean: both divided by the count; amax/amin: "
                  "grad shared equally among the values equal to the result; prod: d/dc = grad * product of "
                  "the others (positions written with include_self false give x no gradient)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             // no ties for amax / amin (their gradient jumps there) and no zeros for prod
             Tensor idx = int64_of({0, 0, 2, 0, 1, 1, 1, 0}, {2, 4});
             auto s = [idx](const char* label, const char* red, bool self, const char* torch, unsigned salt) {
               std::string r = red;
               return OpSample{label,
                               {sample_tensor({2, 3}, Domain::nonzero, salt), idx,
                                sample_tensor({2, 4}, Domain::nonzero, salt + 1)},
                               [r, self](std::span<const Tensor> in) {
                                 return scatter_reduce(in[0], 1, in[1], in[2], r, self);
                               },
                               0,
                               torch};
             };
             return std::vector<OpSample>{
                 s("[2, 3] sum", "sum", true, "OP(x0, 1, x1, x2, 'sum')", 1),
                 s("[2, 3] sum exclude self", "sum", false, "OP(x0, 1, x1, x2, 'sum', include_self=False)",
                   3),
                 s("[2, 3] prod", "prod", true, "OP(x0, 1, x1, x2, 'prod')", 5),
                 s("[2, 3] prod exclude self", "prod", false, "OP(x0, 1, x1, x2, 'prod', include_self=False)",
                   7),
                 s("[2, 3] mean", "mean", true, "OP(x0, 1, x1, x2, 'mean')", 9),
                 s("[2, 3] mean exclude self", "mean", false, "OP(x0, 1, x1, x2, 'mean', include_self=False)",
                   11),
                 s("[2, 3] amax", "amax", true, "OP(x0, 1, x1, x2, 'amax')", 13),
                 s("[2, 3] amax exclude self", "amax", false, "OP(x0, 1, x1, x2, 'amax', include_self=False)",
                   15),
                 s("[2, 3] amin", "amin", true, "OP(x0, 1, x1, x2, 'amin')", 17),
                 s("[2, 3] amin exclude self", "amin", false, "OP(x0, 1, x1, x2, 'amin', include_self=False)",
                   19),
             };
           },
       .torch = "torch.scatter_reduce"});
Tensor scatter_reduce(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src0,
                      const std::string& reduce, bool include_self) {
  const Reduce red = parse_reduce(reduce);
  const ScatterGeom g = scatter_geom("scatter_reduce", x, dim, index, &src0);
  Tensor src = src0.to(x.dtype());
  Tensor y = copy_of(x);
  std::vector<int64_t> count;
  visit_dtype(x.dtype(), [&]<class T>() {
    scatter_reduce_kernel(y.data<T>(), g, index, src.data<T>(), red, include_self, count);
  });
  if (!will_record({x, src})) return y;
  const int a = g.axis;
  const Dtype d = x.dtype();
  // Masks and weights that do not depend differentiably on the inputs, made once here.
  Tensor wx, ws;  // per-position weight for x, per-index-element weight for src
  if (red == Reduce::mean) {
    wx = detail::generate(g.xs, {.dtype = d}, [&](int64_t p) {
      const int64_t c = count[static_cast<std::size_t>(p)];
      return c == 0 ? 1.0 : 1.0 / static_cast<double>(c);
    });
  } else if (red == Reduce::amax || red == Reduce::amin) {
    // Ties share the gradient: each value equal to its result gets grad / (number of them).
    std::vector<double> nx(static_cast<std::size_t>(g.xs.numel()), 0.0), self_is(nx.size(), 0.0);
    std::vector<double> src_is(static_cast<std::size_t>(g.is.numel()), 0.0);
    std::vector<int64_t> pos(src_is.size());
    std::vector<char> touched(nx.size(), 0);
    visit_dtype(d, [&]<class T>() {
      const T *xv = x.data<T>(), *yv = y.data<T>(), *sv = src.data<T>();
      // a NaN result came from the NaN values, which then share its gradient
      auto same = [](T a, T b) { return a == b || (a != a && b != b); };
      scatter_walk(g, index, [&](int64_t xo, int64_t so, int64_t k) {
        touched[xo] = 1;
        pos[k] = xo;
        src_is[k] = same(sv[so], yv[xo]) ? 1.0 : 0.0;
        nx[xo] += src_is[k];
      });
      for (std::size_t p = 0; p < nx.size(); ++p) {
        self_is[p] = !touched[p] || (include_self && same(xv[p], yv[p])) ? 1.0 : 0.0;
        nx[p] += self_is[p];
      }
    });
    wx = detail::generate(g.xs, {.dtype = d},
                          [&](int64_t p) { return self_is[p] / nx[static_cast<std::size_t>(p)]; });
    ws = detail::generate(g.is, {.dtype = d}, [&](int64_t k) { return src_is[k] / nx[pos[k]]; });
  }
  bool many_zeros = false;  // prod: a position with two zero sources has no second derivative here
  if (red == Reduce::prod) {
    std::vector<int> zeros_at(static_cast<std::size_t>(g.xs.numel()), 0);
    visit_dtype(d, [&]<class T>() {
      const T* sv = src.data<T>();
      scatter_walk(g, index, [&](int64_t xo, int64_t so, int64_t) {
        if (sv[so] == T(0)) many_zeros = many_zeros || ++zeros_at[xo] > 1;
      });
    });
  }
  return record(
      opdefs::scatter_reduce_op, y, {x, src},
      [a, si = save_input(index), red, include_self, ss = g.ss, wx, ws, many_zeros, sx = save_input(x),
       ssrc = save_input(src), sy = save_output(y)](const Node& n, const Tensor& gr, std::span<Tensor> gx) {
        const bool need_x = n.needs_input_grad(0), need_s = n.needs_input_grad(1);
        const Tensor index = si.unpack(n);
        Tensor gself, gsrc;
        switch (red) {
          case Reduce::sum:
            gself = gr;
            if (need_s) gsrc = gather(gr, a, index);
            break;
          case Reduce::mean:
            gself = gr * wx;
            if (need_s) gsrc = gather(gself, a, index);
            break;
          case Reduce::amax:
          case Reduce::amin:
            gself = gr * wx;
            if (need_s) gsrc = gather(gr, a, index) * ws;
            break;
          case Reduce::prod: {
            // d/dc of a product = the product of the other values, computed without dividing by a
            // zero: x's zeros are replaced by 1 and the product recomputed, and a source that is the
            // only zero of its position is replaced by 1 likewise.
            if (many_zeros && GradMode::is_enabled())
              throw ValueError(
                  "scatter_reduce: the second derivative of 'prod' is not available where two or more "
                  "source values written to one position are zero");
            Tensor x = sx.unpack(n), s = crop_to(ssrc.unpack(n), index.shape()), y = sy.unpack(n);
            const std::string r = "prod";
            if (need_x) {
              Tensor xz = eq(x, 0.0), xm = masked_fill(x, xz, 1.0);
              gself = gr * scatter_reduce(xm, a, index, s, r, include_self) / xm;
            }
            if (need_s) {
              Tensor sz = eq(s, 0.0);
              Tensor nz = gather(scatter_add(zeros_like(x), a, index, sz), a, index);
              Tensor single = mul(sz, eq(nz, 1.0));
              Tensor with_one = scatter_reduce(x, a, index, masked_fill(s, single, 1.0), r, include_self);
              Tensor gy = gr * y;
              gsrc = where(single, gather(gr * with_one, a, index),
                           gather(gy, a, index) / masked_fill(s, sz, 1.0));
            }
            break;
          }
        }
        if (need_x) gx[0] = include_self ? gself : scatter(gself, a, index, 0.0);
        if (need_s) gx[1] = pad_to(gsrc, ss);
      },
      [&](std::span<const Tensor> t) {
        // The tangents reduced as the values are: dy = sum over the values v reduced into a
        // position of (d y / d v) dv, with the same weights as the backward.
        const Tensor dx = t[0].defined() ? t[0] : zeros_like(y);
        const Tensor ds = t[1].defined() ? crop_to(t[1], g.is) : zeros(g.is, {.dtype = d});
        switch (red) {
          case Reduce::sum:
          case Reduce::mean:  // linear in (x, src), the counts fixed
            return scatter_reduce(dx, a, index, ds, reduce, include_self);
          case Reduce::amax:
          case Reduce::amin:  // the values equal to the result, ties sharing equally
            return dx * wx + scatter_add(zeros_like(y), a, index, ds * ws);
          case Reduce::prod:
            break;
        }
        // prod: x's part (its factor is the product of the sources), and each source times the
        // product of the other values of its position, computed without dividing by a zero.
        const Tensor s = crop_to(src, g.is);
        const Tensor tx =
            include_self ? scatter_reduce(dx, a, index, s, "prod", true) : scatter(dx, a, index, 0.0);
        const Tensor sz = eq(s, 0.0);
        const Tensor nz = gather(scatter_add(zeros_like(x), a, index, sz), a, index);
        const Tensor single = mul(sz, eq(nz, 1.0));
        const Tensor with_one =
            scatter_reduce(x, a, index, masked_fill(s, single, 1.0), "prod", include_self);
        const Tensor others =
            where(single, gather(with_one, a, index), gather(y, a, index) / masked_fill(s, sz, 1.0));
        return tx + scatter_add(zeros_like(y), a, index, others * ds);
      });
}

// ================================================================ index_put
namespace {
// Advanced indexing of x's leading axes by k int64 tensors broadcast to shape B: element b of B
// names row flat[b] of x viewed as [P, inner] (P the product of the k leading extents).
struct IndexPlan {
  Shape B, target;  // the index shape, and B followed by x's remaining extents
  std::vector<int64_t> flat;
  int64_t P = 1, inner = 1;
};
IndexPlan index_plan(const char* op, const Tensor& x, const std::vector<Tensor>& indices) {
  need(x, op, "the tensor");
  if (indices.empty()) throw ValueError(std::string(op) + ": no index tensors");
  const int k = static_cast<int>(indices.size());
  if (k > x.dim())
    throw IndexError(std::string(op) + ": " + str(k) + " index tensors for a tensor of shape " +
                     x.shape().str() + " (at most " + str(x.dim()) + ")");
  IndexPlan p;
  for (const Tensor& t : indices) need_index(t, op);
  p.B = indices[0].shape();
  for (int j = 1; j < k; ++j) {
    try {
      p.B = detail::broadcast_shapes(p.B, indices[j].shape(), op);
    } catch (const ShapeError&) {
      std::string shapes;
      for (const Tensor& t : indices) shapes += (shapes.empty() ? "" : ", ") + t.shape().str();
      throw ShapeError(std::string(op) + ": index tensors of shapes " + shapes +
                       " cannot be broadcast together");
    }
  }
  const Shape& xs = x.shape();
  if (p.B.rank() + xs.rank() - k > kMaxRank)
    throw ShapeError(std::string(op) + ": indexing " + xs.str() + " with index shape " + p.B.str() +
                     " gives more than " + str(kMaxRank) + " axes");
  p.target = p.B;
  for (int d = k; d < xs.rank(); ++d) p.target.push_back(xs[d]);
  p.P = prod_of(xs, 0, k);
  p.inner = prod_of(xs, k, xs.rank());
  const int64_t nb = p.B.numel();
  p.flat.assign(static_cast<std::size_t>(nb), 0);
  if (nb == 0) return p;
  const int r = p.B.rank();
  int64_t row_stride = 1;
  for (int j = k - 1; j >= 0; --j) {
    const int64_t* v = indices[j].data<int64_t>();
    const int64_t n = xs[j];
    int64_t st[kMaxRank], c[kMaxRank] = {};
    if (r > 0) detail::broadcast_strides(indices[j].shape(), p.B, st);
    int64_t off = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int64_t i = v[off];
      if (i < -n || i >= n) out_of_range(op, i, j, xs);
      if (i < 0) i += n;
      p.flat[static_cast<std::size_t>(b)] += i * row_stride;
      for (int d = r - 1; d >= 0; --d) {
        off += st[d];
        if (++c[d] < p.B[d]) break;
        off -= st[d] * p.B[d];
        c[d] = 0;
      }
    }
    row_stride *= n;
  }
  return p;
}
Tensor index_values(const char* op, const Tensor& values, const IndexPlan& p, Dtype d) {
  need(values, op, "the values");
  const Shape b = detail::broadcast_shapes(values.shape(), p.target, op);
  if (!(b == p.target))
    throw ShapeError(std::string(op) + ": values of shape " + values.shape().str() +
                     " cannot be broadcast to the indexed shape " + p.target.str());
  return values.to(d);
}
template <class T>
void index_put_kernel(T* y, const IndexPlan& p, const Tensor& values, bool accumulate) {
  const int64_t nb = p.B.numel(), inner = p.inner;
  if (nb == 0 || inner == 0) return;
  std::vector<T> vb;
  const T* v = values.data<T>();
  if (!(values.shape() == p.target)) {
    vb.resize(static_cast<std::size_t>(nb * inner));
    detail::broadcast_copy(v, values.shape(), vb.data(), p.target);
    v = vb.data();
  }
  for (int64_t b = 0; b < nb; ++b) {
    T* dst = y + p.flat[static_cast<std::size_t>(b)] * inner;
    const T* s = v + b * inner;
    if (accumulate)
      for (int64_t i = 0; i < inner; ++i) dst[i] = detail::add_wrap(dst[i], s[i]);
    else
      std::copy(s, s + inner, dst);
  }
}
}  // namespace

XG_OP(
    index_put,
    {.formula = "d/dx index_put(x, i, v) = grad (accumulate) or grad zeroed at the written positions; d/dv = "
                "grad[i] summed to v's shape (the last write wins without accumulate)",
     .kind = OpKind::primitive,
     .samples =
         [] {
           Tensor r = int64_of({0, 3, -2}, {3}), c = int64_of({2, 0, 1}, {3});
           Tensor rr = int64_of({1, 0, 1, 3}, {4});
           Tensor r2 = int64_of({0, 2}, {2, 1}), c2 = int64_of({1, 0, 2}, {3});
           return std::vector<OpSample>{
               {"[4, 3] at (rows, cols) from [3]",
                {sample_tensor({4, 3}, Domain::real, 1), r, c, sample_tensor({3}, Domain::real, 2)},
                [](std::span<const Tensor> in) {
                  return index_put(in[0], {in[1], in[2]}, in[3]);
                },
                0,
                "OP(x0, (x1, x2), x3)"},
               {"[4, 3] rows with duplicates, accumulate, values [3] broadcast",
                {sample_tensor({4, 3}, Domain::real, 3), rr, sample_tensor({3}, Domain::real, 4)},
                [](std::span<const Tensor> in) { return index_put(in[0], {in[1]}, in[2], true); },
                0,
                "OP(x0, (x1,), x2, accumulate=True)"},
               {"[3, 3, 2] at broadcast [2, 1] x [3] from [2, 3, 2]",
                {sample_tensor({3, 3, 2}, Domain::real, 5), r2, c2,
                 sample_tensor({2, 3, 2}, Domain::real, 6)},
                [](std::span<const Tensor> in) {
                  return index_put(in[0], {in[1], in[2]}, in[3]);
                },
                0,
                "OP(x0, (x1, x2), x3)"},
           };
         },
     .torch = "torch.index_put"});
Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values0,
                 bool accumulate) {
  const IndexPlan p = index_plan("index_put", x, indices);
  Tensor values = index_values("index_put", values0, p, x.dtype());
  Tensor y = copy_of(x);
  visit_dtype(x.dtype(), [&]<class T>() { index_put_kernel(y.data<T>(), p, values, accumulate); });
  if (!will_record({x, values})) return y;
  Tensor rows, win;  // the flat rows (for the values' gradient), and who won each duplicate
  if (values.requires_grad()) {
    rows = from_vector(p.flat, Shape{static_cast<int64_t>(p.flat.size())});
    if (!accumulate) {
      std::vector<int64_t> last(static_cast<std::size_t>(p.P), -1);
      bool dup = false;
      for (std::size_t b = 0; b < p.flat.size(); ++b) {
        dup = dup || last[p.flat[b]] >= 0;
        last[p.flat[b]] = static_cast<int64_t>(b);
      }
      if (dup) {
        Shape ws = p.B;
        while (ws.rank() < p.target.rank()) ws.push_back(1);
        win = detail::generate(ws, {.dtype = x.dtype()}, [&](int64_t b) {
          return last[p.flat[static_cast<std::size_t>(b)]] == b ? 1.0 : 0.0;
        });
      }
    }
  }
  Shape rows_shape{p.P};
  for (int d = static_cast<int>(indices.size()); d < x.dim(); ++d) rows_shape.push_back(x.shape()[d]);
  return record(
      opdefs::index_put_op, y, {x, values},
      [saved = save_all(indices), accumulate, rows, win, rows_shape, target = p.target, sv = values.shape()](
          const Node& n, const Tensor& g, std::span<Tensor> gx) {
        if (n.needs_input_grad(0))
          gx[0] =
              accumulate ? g : index_put(g, unpack_all(saved, n), scalar_tensor(0.0, {.dtype = g.dtype()}));
        if (n.needs_input_grad(1)) {
          Tensor gv = reshape(index_select(reshape(g, rows_shape), 0, rows), target);
          if (win.defined()) gv = gv * win;
          gx[1] = sum_to(gv, sv);
        }
      },
      [&](std::span<const Tensor> t) {
        return index_put(t[0].defined() ? t[0] : zeros_like(y), indices,
                         t[1].defined() ? t[1] : zeros_like(values), accumulate);
      });
}

Tensor& Tensor::index_put_(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  check_inplace(*this, "index_put_");
  detail::check_no_tangent_inplace(*this, values, "index_put_");
  check_inplace_operand(values, "index_put_", "the values");
  const IndexPlan p = index_plan("index_put_", *this, indices);
  Tensor v;
  {
    NoGradGuard guard;
    v = index_values("index_put_", unaliased(values, *this), p, dtype());
  }
  visit_dtype(dtype(), [&]<class T>() { index_put_kernel(data<T>(), p, v, accumulate); });
  ++impl_->storage->version;
  return *this;
}

// ================================================================ slice_scatter, select_scatter
namespace {
struct SliceGeom {
  int axis = 0;
  int64_t start = 0, stop = 0, step = 1, count = 0, outer = 1, n = 0, inner = 1;
};
SliceGeom slice_geom(const Tensor& x, const Tensor& src, int64_t dim, int64_t start, int64_t stop,
                     int64_t step) {
  const char* op = "slice_scatter";
  need(x, op, "the tensor");
  need(src, op, "the source");
  if (x.dim() == 0) throw IndexError("slice_scatter: cannot slice a 0-d tensor");
  SliceGeom s;
  s.axis = wrap_axis(dim, x.dim(), op);
  s.n = x.shape()[s.axis];
  if (step <= 0) throw ValueError("slice_scatter: step must be positive, got " + str(step));
  auto fix = [&](int64_t v, const char* what) {
    if (v == kEnd) return s.n;
    const int64_t w = v < 0 ? v + s.n : v;
    if (w < 0 || w > s.n)
      throw IndexError("slice_scatter: " + std::string(what) + " " + str(v) + " is out of range for axis " +
                       str(s.axis) + " of extent " + str(s.n) + " (shape " + x.shape().str() + ")");
    return w;
  };
  s.start = fix(start, "start");
  s.stop = std::max(s.start, fix(stop, "stop"));
  s.step = step;
  s.count = (s.stop - s.start + step - 1) / step;
  Shape want = x.shape();
  want[s.axis] = s.count;
  if (!(src.shape() == want))
    throw ShapeError("slice_scatter: source of shape " + src.shape().str() + " does not match the slice " +
                     str(s.start) + ":" + str(s.stop) + ":" + str(step) + " of axis " + str(s.axis) + " of " +
                     x.shape().str() + ", of shape " + want.str());
  s.outer = prod_of(x.shape(), 0, s.axis);
  s.inner = prod_of(x.shape(), s.axis + 1, x.dim());
  return s;
}
}  // namespace

XG_OP(slice_scatter,
      {.formula = "d/dx slice_scatter(x, s) = slice_scatter(grad, 0), d/ds = slice(grad)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             // The torch forms spell out the step: torch 1.13's slice_scatter takes a wrong
             // default step when it is omitted (it wants src [1, 2] for rows 1:3 of [4, 2]).
             return std::vector<OpSample>{
                 {"[3, 5] axis 1, 0:5:2",
                  {sample_tensor({3, 5}, Domain::real, 1), sample_tensor({3, 3}, Domain::real, 2)},
                  [](std::span<const Tensor> in) { return slice_scatter(in[0], in[1], 1, 0, 5, 2); },
                  0,
                  "OP(x0, x1, 1, 0, 5, 2)"},
                 {"[4, 2] rows 1:3",
                  {sample_tensor({4, 2}, Domain::real, 3), sample_tensor({2, 2}, Domain::real, 4)},
                  [](std::span<const Tensor> in) { return slice_scatter(in[0], in[1], 0, 1, 3); },
                  0,
                  "OP(x0, x1, 0, 1, 3, 1)"},
             };
           },
       .torch = "torch.slice_scatter"});
Tensor slice_scatter(const Tensor& x, const Tensor& src0, int64_t dim, int64_t start, int64_t stop,
                     int64_t step) {
  const SliceGeom s = slice_geom(x, src0, dim, start, stop, step);
  Tensor src = src0.to(x.dtype());
  Tensor y = copy_of(x);
  visit_dtype(x.dtype(), [&]<class T>() {
    T* out = y.data<T>();
    const T* in = src.data<T>();
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t j = 0; j < s.count; ++j)
        std::copy(in + (o * s.count + j) * s.inner, in + (o * s.count + j + 1) * s.inner,
                  out + (o * s.n + s.start + j * s.step) * s.inner);
  });
  return record(
      opdefs::slice_scatter_op, y, {x, src},
      [s, ss = src.shape()](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        if (n.needs_input_grad(0))
          gx[0] = slice_scatter(g, zeros(ss, {.dtype = g.dtype()}), s.axis, s.start, s.stop, s.step);
        if (n.needs_input_grad(1)) gx[1] = slice(g, s.axis, s.start, s.stop, s.step);
      },
      [&](std::span<const Tensor> t) {
        return slice_scatter(t[0].defined() ? t[0] : zeros_like(y), t[1].defined() ? t[1] : zeros_like(src),
                             s.axis, s.start, s.stop, s.step);
      });
}

XG_OP(select_scatter,
      {.formula = "select_scatter is a slice_scatter of unsqueeze(src) (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return std::vector<OpSample>{
                 {"[3, 4] row -1",
                  {sample_tensor({3, 4}, Domain::real, 1), sample_tensor({4}, Domain::real, 2)},
                  [](std::span<const Tensor> in) { return select_scatter(in[0], in[1], 0, -1); },
                  0,
                  "OP(x0, x1, 0, -1)"},
                 {"[2, 3, 2] axis 1 index 1",
                  {sample_tensor({2, 3, 2}, Domain::real, 3), sample_tensor({2, 2}, Domain::real, 4)},
                  [](std::span<const Tensor> in) { return select_scatter(in[0], in[1], 1, 1); },
                  0,
                  "OP(x0, x1, 1, 1)"},
             };
           },
       .torch = "torch.select_scatter"});
Tensor select_scatter(const Tensor& x, const Tensor& src, int64_t dim, int64_t index) {
  XG_COMPOSITE_SCOPE(select_scatter);
  need(x, "select_scatter", "the tensor");
  need(src, "select_scatter", "the source");
  if (x.dim() == 0) throw IndexError("select_scatter: cannot select from a 0-d tensor");
  const int a = wrap_axis(dim, x.dim(), "select_scatter");
  const int64_t n = x.shape()[a];
  if (index < -n || index >= n) out_of_range("select_scatter", index, a, x.shape());
  const int64_t i = index < 0 ? index + n : index;
  Shape want = x.shape();
  want.erase(a);
  if (!(src.shape() == want))
    throw ShapeError("select_scatter: source of shape " + src.shape().str() + " does not match index " +
                     str(index) + " of axis " + str(a) + " of " + x.shape().str() + ", of shape " +
                     want.str());
  return slice_scatter(x, unsqueeze(src, a), a, i, i + 1);
}

}  // namespace xg
