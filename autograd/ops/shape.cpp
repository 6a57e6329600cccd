// Shape ops: views, permutations, broadcasting and its inverse, slicing, joining, indexing.
// Each op's kernel, backward formula and samples sit together.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/ops/explain.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::Domain;
using detail::sample_tensor;
using detail::visit_dtype;
using detail::wrap_axis;

namespace {
void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw ValueError(std::string(op) + ": an operand is undefined");
}
// The position of a new axis inserted into a tensor of rank `rank` (unsqueeze, stack): -(rank+1)..rank.
int wrap_new_axis(int64_t axis, int rank, const char* op) {
  if (axis < -(rank + 1) || axis > rank)
    throw IndexError(std::string(op) + ": axis " + std::to_string(axis) +
                     " is out of range for a new axis of a tensor of rank " + std::to_string(rank) +
                     " (valid axes are " + std::to_string(-(rank + 1)) + " to " + std::to_string(rank) + ")");
  if (rank == kMaxRank)
    throw ShapeError(std::string(op) + ": cannot add an axis to a tensor of rank " + std::to_string(rank) +
                     " (at most " + std::to_string(kMaxRank) + " axes)");
  return static_cast<int>(axis < 0 ? axis + rank + 1 : axis);
}
int64_t prod_of(const Shape& s, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; ++i) p *= s[i];
  return p;
}
OpSample sample1(const char* label, Tensor x, std::function<Tensor(const Tensor&)> f,
                 std::string torch = {}) {
  return {label, {std::move(x)}, [f](std::span<const Tensor> in) { return f(in[0]); }, 0, std::move(torch)};
}
// Piece i of a multi-output op in a sample: an IndexError rather than an out-of-bounds read when
// the op gave fewer, as on inputs other than the sample's (the op-graph fuzzer calls samples on
// any shapes).
Tensor piece(const std::vector<Tensor>& pieces, std::size_t i, const char* op) {
  if (i >= pieces.size())
    throw IndexError(std::string(op) + ": the sample takes piece " + std::to_string(i) + " but got " +
                     std::to_string(pieces.size()));
  return pieces[i];
}
}  // namespace

// ---- reshape ----
XG_OP(reshape, {.formula = "d/dx reshape(x, s) = reshape(grad, shape of x)",
                .kind = OpKind::primitive,
                .explain =
                    [](const ChainRuleContext& c) {
                      return c.note(c.up + " reshaped to " + c.input_shape.str(),
                                    reshape(c.grad_output, c.input_shape));
                    },
                .samples =
                    [] {
                      return std::vector<OpSample>{
                          sample1(
                              "[3, 4] -> [2, 6]", sample_tensor({3, 4}, Domain::real, 1),
                              [](auto& x) {
                                return reshape(x, {2, 6});
                              },
                              "OP(x0, (2, 6))"),
                          sample1(
                              "[2, 3, 2] -> [-1]", sample_tensor({2, 3, 2}, Domain::real, 2),
                              [](auto& x) { return reshape(x, {-1}); }, "OP(x0, (-1,))"),
                          sample1(
                              "scalar -> [1, 1]", sample_tensor({}, Domain::real, 3),
                              [](auto& x) {
                                return reshape(x, {1, 1});
                              },
                              "OP(x0, (1, 1))"),
                          sample1(
                              "[0, 3] -> [3, 0]", sample_tensor({0, 3}, Domain::real, 4),
                              [](auto& x) {
                                return reshape(x, {3, 0});
                              },
                              "OP(x0, (3, 0))"),
                      };
                    },
                .torch = "torch.reshape"});
Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined(x, "reshape");
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.rank(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape: more than one -1 in " + shape.str());
      infer = i;
    } else if (__builtin_mul_overflow(known, s[i], &known)) {
      throw ShapeError("reshape: cannot reshape " + x.shape().str() + " (" + std::to_string(x.numel()) +
                       " elements) to " + shape.str() + " (the element count overflows)");
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      throw ShapeError("reshape: cannot reshape " + x.shape().str() + " (" + std::to_string(x.numel()) +
                       " elements) to " + shape.str());
    s[infer] = x.numel() / known;
  }
  if (detail::checked_numel(s, "reshape") != x.numel())
    throw ShapeError("reshape: cannot reshape " + x.shape().str() + " (" + std::to_string(x.numel()) +
                     " elements) to " + s.str() + " (" + std::to_string(s.numel()) + " elements)");
  Tensor y = detail::alias_with_shape(x, s);
  return record(
      opdefs::reshape_op, y, {x},
      [sx = x.shape()](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = reshape(g, sx); },
      [&](std::span<const Tensor> t) {
        return reshape(t[0], s);  // the same view of the tangent
      });
}
Tensor view(const Tensor& x, const Shape& shape) {
  return reshape(x, shape);
}

XG_OP(flatten, {.formula = "flatten is a reshape (composite)",
                .kind = OpKind::composite,
                .samples =
                    [] {
                      return std::vector<OpSample>{
                          sample1(
                              "[2, 3, 2] all", sample_tensor({2, 3, 2}, Domain::real, 1),
                              [](auto& x) { return flatten(x); }, "OP(x0)"),
                          sample1(
                              "[2, 3, 2] axes 1..-1", sample_tensor({2, 3, 2}, Domain::real, 2),
                              [](auto& x) { return flatten(x, 1); }, "OP(x0, 1)"),
                      };
                    },
                .torch = "torch.flatten"});
XG_OP(squeeze, {.formula = "squeeze is a reshape (composite)",
                .kind = OpKind::composite,
                .samples =
                    [] {
                      return std::vector<OpSample>{
                          sample1(
                              "[3, 1, 2, 1] all", sample_tensor({3, 1, 2, 1}, Domain::real, 1),
                              [](auto& x) { return squeeze(x); }, "OP(x0)"),
                          sample1(
                              "[3, 1, 2] axis -2", sample_tensor({3, 1, 2}, Domain::real, 2),
                              [](auto& x) { return squeeze(x, -2); }, "OP(x0, -2)"),
                      };
                    },
                .torch = "torch.squeeze"});
XG_OP(unsqueeze, {.formula = "unsqueeze is a reshape (composite)",
                  .kind = OpKind::composite,
                  .samples =
                      [] {
                        return std::vector<OpSample>{
                            sample1(
                                "[3, 2] axis 0", sample_tensor({3, 2}, Domain::real, 1),
                                [](auto& x) { return unsqueeze(x, 0); }, "OP(x0, 0)"),
                            sample1(
                                "[3, 2] axis -1", sample_tensor({3, 2}, Domain::real, 2),
                                [](auto& x) { return unsqueeze(x, -1); }, "OP(x0, -1)"),
                            sample1(
                                "scalar axis 0", sample_tensor({}, Domain::real, 3),
                                [](auto& x) { return unsqueeze(x, 0); }, "OP(x0, 0)"),
                        };
                      },
                  .torch = "torch.unsqueeze"});
Tensor flatten(const Tensor& x, int64_t start_axis, int64_t end_axis) {
  XG_COMPOSITE_SCOPE(flatten);
  check_defined(x, "flatten");
  if (x.dim() == 0) return reshape(x, {1});
  const int s = wrap_axis(start_axis, x.dim(), "flatten"), e = wrap_axis(end_axis, x.dim(), "flatten");
  if (s > e)
    throw IndexError("flatten: start axis " + std::to_string(start_axis) + " comes after end axis " +
                     std::to_string(end_axis));
  Shape out;
  for (int i = 0; i < s; ++i) out.push_back(x.shape()[i]);
  out.push_back(prod_of(x.shape(), s, e + 1));
  for (int i = e + 1; i < x.dim(); ++i) out.push_back(x.shape()[i]);
  return reshape(x, out);
}
Tensor squeeze(const Tensor& x) {
  XG_COMPOSITE_SCOPE(squeeze);
  check_defined(x, "squeeze");
  Shape out;
  for (int64_t d : x.shape())
    if (d != 1) out.push_back(d);
  return reshape(x, out);
}
Tensor squeeze(const Tensor& x, int64_t axis) {
  XG_COMPOSITE_SCOPE(squeeze);
  check_defined(x, "squeeze");
  const int a = wrap_axis(axis, x.dim(), "squeeze");
  if (x.dim() == 0 || x.shape()[a] != 1) return x;
  Shape out = x.shape();
  out.erase(a);
  return reshape(x, out);
}
Tensor unsqueeze(const Tensor& x, int64_t axis) {
  XG_COMPOSITE_SCOPE(unsqueeze);
  check_defined(x, "unsqueeze");
  const int a = wrap_new_axis(axis, x.dim(), "unsqueeze");
  Shape out = x.shape();
  out.insert(a, 1);
  return reshape(x, out);
}

// ---- permute ----
XG_OP(permute, {.formula = "d/dx permute(x, p) = permute(grad, inverse of p)",
                .kind = OpKind::primitive,
                .samples =
                    [] {
                      return std::vector<OpSample>{
                          sample1(
                              "[2, 3, 4] (2, 0, 1)", sample_tensor({2, 3, 4}, Domain::real, 1),
                              [](auto& x) {
                                return permute(x, {2, 0, 1});
                              },
                              "OP(x0, (2, 0, 1))"),
                          sample1(
                              "[3, 4] (-1, 0)", sample_tensor({3, 4}, Domain::real, 2),
                              [](auto& x) {
                                return permute(x, {-1, 0});
                              },
                              "OP(x0, (-1, 0))"),
                          sample1(
                              "[0, 2] (1, 0)", sample_tensor({0, 2}, Domain::real, 3),
                              [](auto& x) {
                                return permute(x, {1, 0});
                              },
                              "OP(x0, (1, 0))"),
                      };
                    },
                .torch = "torch.permute"});
XG_OP(transpose, {.formula = "transpose is a permute (composite)",
                  .kind = OpKind::composite,
                  .samples =
                      [] {
                        return std::vector<OpSample>{
                            sample1(
                                "[2, 3, 4] axes 0, -1", sample_tensor({2, 3, 4}, Domain::real, 1),
                                [](auto& x) { return transpose(x, 0, -1); }, "OP(x0, 0, -1)"),
                            sample1(
                                "t([3, 4])", sample_tensor({3, 4}, Domain::real, 2),
                                [](auto& x) { return t(x); }, "torch.t(x0)"),
                        };
                      },
                  .torch = "torch.transpose"});
Tensor permute(const Tensor& x, const Axes& order) {
  check_defined(x, "permute");
  const int r = x.dim();
  if (static_cast<int>(order.size()) != r)
    throw ShapeError("permute: " + std::to_string(order.size()) + " axes given for a tensor of rank " +
                     std::to_string(r) + " (shape " + x.shape().str() + ")");
  std::vector<int> p(r);
  std::vector<bool> seen(r, false);
  for (int i = 0; i < r; ++i) {
    p[i] = wrap_axis(order[i], r, "permute");
    if (seen[p[i]]) throw IndexError("permute: axis " + std::to_string(order[i]) + " appears twice");
    seen[p[i]] = true;
  }
  bool identity = true;
  for (int i = 0; i < r; ++i) identity = identity && p[i] == i;
  Shape os;
  for (int i = 0; i < r; ++i) os.push_back(x.shape()[p[i]]);
  Tensor y = detail::new_tensor(os, x.dtype());
  const std::vector<int64_t> xs = contiguous_strides(x.shape());
  const int64_t n = y.numel();
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    if (identity || n == 0) {
      std::copy(in, in + n, out);
      return;
    }
    int64_t st[kMaxRank], idx[kMaxRank] = {};
    for (int i = 0; i < r; ++i) st[i] = xs[p[i]];
    const int64_t inner = os[r - 1], s_in = st[r - 1];
    // x's last axis moved to output axis q: copy [os[q], inner] planes in 32 x 32 tiles, so that
    // reads and writes both stay in cache (t() of 1024 x 1024 float32: 4.8 ms element by element).
    int q = -1;
    for (int i = 0; i < r - 1; ++i)
      if (st[i] == 1 && os[i] > 1) q = i;
    if (s_in != 1 && q >= 0 && inner >= 16 && os[q] >= 16) {
      const std::vector<int64_t> ost = contiguous_strides(os);
      constexpr int64_t kTile = 32;
      const int64_t rows = os[q], plane = n / (rows * inner);
      int64_t c[kMaxRank] = {};
      for (int64_t b = 0; b < plane; ++b) {
        int64_t in_off = 0, out_off = 0;
        for (int d = 0; d < r - 1; ++d)
          if (d != q) in_off += c[d] * st[d], out_off += c[d] * ost[d];
        const T* src = in + in_off;
        T* dst = out + out_off;
        for (int64_t i0 = 0; i0 < rows; i0 += kTile)
          for (int64_t j0 = 0; j0 < inner; j0 += kTile) {
            const int64_t i1 = std::min(rows, i0 + kTile), j1 = std::min(inner, j0 + kTile);
            for (int64_t j = j0; j < j1; ++j)
              for (int64_t i = i0; i < i1; ++i) dst[i * ost[q] + j] = src[i + j * s_in];
          }
        for (int d = r - 2; d >= 0; --d) {
          if (d == q) continue;
          if (++c[d] < os[d]) break;
          c[d] = 0;
        }
      }
      return;
    }
    int64_t off = 0;
    for (int64_t o = 0; o < n; o += inner) {
      for (int64_t i = 0; i < inner; ++i) out[o + i] = in[off + i * s_in];
      for (int d = r - 2; d >= 0; --d) {
        off += st[d];
        if (++idx[d] < os[d]) break;
        off -= st[d] * os[d];
        idx[d] = 0;
      }
    }
  });
  Axes inverse(r);
  for (int i = 0; i < r; ++i) inverse[p[i]] = i;
  return record(
      opdefs::permute_op, y, {x},
      [inverse](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = permute(g, inverse); },
      [&](std::span<const Tensor> t) { return permute(t[0], order); });
}
Tensor transpose(const Tensor& x, int64_t a0, int64_t a1) {
  XG_COMPOSITE_SCOPE(transpose);
  check_defined(x, "transpose");
  if (x.dim() == 0) {  // axes 0 and -1 name the only "axis" of a 0-d tensor, as PyTorch
    wrap_axis(a0, 0, "transpose");
    wrap_axis(a1, 0, "transpose");
    return x;
  }
  Axes order(x.dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_axis(a0, x.dim(), "transpose")], order[wrap_axis(a1, x.dim(), "transpose")]);
  return permute(x, order);
}
Tensor t(const Tensor& x) {
  check_defined(x, "t");
  if (x.dim() < 2) return x;
  if (x.dim() > 2)
    throw ShapeError("t: expects a tensor of at most 2 axes, got shape " + x.shape().str() +
                     " (use transpose)");
  return transpose(x, 0, 1);
}

// ---- expand and its inverse, sum_to ----
XG_OP(expand, {.formula = "d/dx expand(x, s) = sum_to(grad, shape of x)",
               .kind = OpKind::primitive,
               .samples =
                   [] {
                     return std::vector<OpSample>{
                         sample1(
                             "[3, 1] -> [3, 4]", sample_tensor({3, 1}, Domain::real, 1),
                             [](auto& x) {
                               return expand(x, {3, 4});
                             },
                             "OP(x0, 3, 4)"),
                         sample1(
                             "[4] -> [2, 3, 4]", sample_tensor({4}, Domain::real, 2),
                             [](auto& x) {
                               return expand(x, {2, 3, 4});
                             },
                             "OP(x0, 2, 3, 4)"),
                         sample1(
                             "scalar -> [2, 2]", sample_tensor({}, Domain::real, 3),
                             [](auto& x) {
                               return expand(x, {2, 2});
                             },
                             "OP(x0, 2, 2)"),
                         sample1(
                             "[2, 1] -> [-1, 0]", sample_tensor({2, 1}, Domain::real, 4),
                             [](auto& x) {
                               return expand(x, {-1, 0});
                             },
                             "OP(x0, -1, 0)"),
                     };
                   },
               .torch = "torch.Tensor.expand"});
XG_OP(sum_to, {.formula = "sum_to(x, s) = sum over broadcast axes, reshaped to s (composite)",
               .kind = OpKind::composite,
               .samples =
                   [] {
                     return std::vector<OpSample>{
                         sample1(
                             "[3, 4] -> [4]", sample_tensor({3, 4}, Domain::real, 1),
                             [](auto& x) { return sum_to(x, {4}); }, "OP(x0, (4,))"),
                         sample1(
                             "[2, 3, 4] -> [3, 1]", sample_tensor({2, 3, 4}, Domain::real, 2),
                             [](auto& x) {
                               return sum_to(x, {3, 1});
                             },
                             "OP(x0, (3, 1))"),
                         sample1(
                             "[2, 3] -> scalar", sample_tensor({2, 3}, Domain::real, 3),
                             [](auto& x) { return sum_to(x, {}); }, "OP(x0, ())"),
                     };
                   },
               .torch = "torch.Tensor.sum_to_size"});
namespace {
template <class T>
void expand_replay(const capture_detail::Kernel& k) {
  const Shape* s = static_cast<const Shape*>(k.aux);
  detail::broadcast_copy(static_cast<const T*>(k.buf[0]), s[0], static_cast<T*>(k.buf[1]), s[1]);
}
}  // namespace
Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined(x, "expand");
  if (shape.rank() < x.dim())
    throw ShapeError("expand: cannot expand " + x.shape().str() + " to fewer axes " + shape.str());
  Shape os = shape;
  const int off = shape.rank() - x.dim();
  for (int i = 0; i < shape.rank(); ++i) {
    const int64_t xd = i >= off ? x.shape()[i - off] : 1;
    if (os[i] == -1) {
      if (i < off)
        throw ShapeError("expand: -1 is not allowed for the new leading axis " + std::to_string(i) + " in " +
                         shape.str());
      os[i] = xd;
    }
    if (xd != os[i] && xd != 1)
      throw ShapeError("expand: cannot expand " + x.shape().str() + " to " + shape.str() + " (axis " +
                       std::to_string(i) + ": " + std::to_string(xd) + " vs " + std::to_string(os[i]) + ")");
  }
  if (os == x.shape()) return x;
  Tensor y = detail::new_tensor(os, x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit("expand", expand_replay<T>, {capture_detail::R(x), capture_detail::W(y)}, {}, {},
                           {x.shape(), os});
    detail::broadcast_copy(x.data<T>(), x.shape(), y.data<T>(), os);
  });
  return record(
      opdefs::expand_op, y, {x},
      [sx = x.shape()](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = sum_to(g, sx); },
      [&](std::span<const Tensor> t) { return expand(t[0], os); });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  check_defined(x, "sum_to");
  if (x.shape() == shape) return x;  // (every backward of a binary op comes here: no scope to open)
  XG_COMPOSITE_SCOPE(sum_to);
  const int off = x.dim() - shape.rank();
  if (off < 0) throw ShapeError("sum_to: cannot sum " + x.shape().str() + " to more axes " + shape.str());
  Axes axes;
  for (int i = 0; i < x.dim(); ++i) {
    if (i < off) {
      axes.push_back(i);
      continue;
    }
    const int64_t want = shape[i - off];
    if (want == x.shape()[i]) continue;
    if (want != 1)
      throw ShapeError("sum_to: " + x.shape().str() + " cannot be summed to " + shape.str() + " (axis " +
                       std::to_string(i) + ")");
    axes.push_back(i);
  }
  if (axes.empty()) return reshape(x, shape);
  return reshape(sum(x, axes, true), shape);
}

// ---- slice and its backward (embedding into zeros) ----
namespace {
struct SliceSpec {
  int axis;
  int64_t start, step, count;
};
// Copies between a [outer, n_full, inner] tensor and its strided slice [outer, count, inner];
// `to_full` selects the direction (full <- slice when true).
template <class T>
void copy_strided(T* full, T* part, const Shape& full_shape, const SliceSpec& s, bool to_full) {
  const int64_t outer = prod_of(full_shape, 0, s.axis), n = full_shape[s.axis];
  const int64_t inner = prod_of(full_shape, s.axis + 1, full_shape.rank());
  if (s.step == 1) {  // one contiguous run per outer index (a slice of the last axis is no longer
                      // a copy per element: 1024 x 1024 -> 1024 x 512 went from 2.0 ms to 0.2 ms)
    const int64_t run = s.count * inner;
    for (int64_t o = 0; o < outer; ++o) {
      T* f = full + (o * n + s.start) * inner;
      T* p = part + o * run;
      if (to_full)
        std::copy(p, p + run, f);
      else
        std::copy(f, f + run, p);
    }
    return;
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < s.count; ++k) {
      T* f = full + (o * n + s.start + k * s.step) * inner;
      T* p = part + (o * s.count + k) * inner;
      if (to_full)
        std::copy(p, p + inner, f);
      else
        std::copy(f, f + inner, p);
    }
}
Tensor slice_backward(const Tensor& g, const Shape& full, const SliceSpec& s);
}  // namespace

XG_OP(slice, {.formula = "d/dx slice(x) = the gradient placed back at the sliced positions, zeros elsewhere",
              .kind = OpKind::primitive,
              .samples =
                  [] {
                    return std::vector<OpSample>{
                        sample1(
                            "[5, 3] rows 1:4", sample_tensor({5, 3}, Domain::real, 1),
                            [](auto& x) { return slice(x, 0, 1, 4); }, "x0[1:4]"),
                        sample1(
                            "[2, 7] axis -1, 0:7:3", sample_tensor({2, 7}, Domain::real, 2),
                            [](auto& x) { return slice(x, -1, 0, 7, 3); }, "x0[..., 0:7:3]"),
                        sample1(
                            "[2, 6, 2] axis 1, -4:", sample_tensor({2, 6, 2}, Domain::real, 3),
                            [](auto& x) { return slice(x, 1, -4); }, "x0[:, -4:]"),
                        sample1(
                            "[4] empty 2:2", sample_tensor({4}, Domain::real, 4),
                            [](auto& x) { return slice(x, 0, 2, 2); }, "x0[2:2]"),
                    };
                  },
              .torch = "torch.Tensor.__getitem__"});
XG_OP(slice_backward,
      {.formula = "d/dg slice_backward(g) = slice(grad)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             // reached through slice's backward; sampled directly through a double backward
             return std::vector<OpSample>{
                 sample1(
                     "grad of slice [5, 3] rows 0:5:2", sample_tensor({3, 3}, Domain::real, 1),
                     [](auto& g) {
                       Tensor x = zeros({5, 3}, {.dtype = Dtype::float64, .requires_grad = true});
                       return xg::grad({slice(x, 0, 0, 5, 2)}, {x}, {g}, true, true)[0];
                     },
                     "OP(x0, [5, 3], 0, 0, 5, 2)"),
             };
           },
       .torch = "torch.ops.aten.slice_backward"});
XG_OP(narrow, {.formula = "narrow is a slice (composite)",
               .kind = OpKind::composite,
               .samples =
                   [] {
                     return std::vector<OpSample>{
                         sample1(
                             "[4, 5] axis 1 from 1 length 3", sample_tensor({4, 5}, Domain::real, 1),
                             [](auto& x) { return narrow(x, 1, 1, 3); }, "OP(x0, 1, 1, 3)"),
                     };
                   },
               .torch = "torch.narrow"});

namespace {
Tensor slice_backward(const Tensor& g, const Shape& full, const SliceSpec& s) {
  Tensor y = zeros(full, {.dtype = g.dtype()});
  visit_dtype(g.dtype(),
              [&]<class T>() { copy_strided(y.data<T>(), const_cast<T*>(g.data<T>()), full, s, true); });
  return record(
      opdefs::slice_backward_op, y, {g},
      [s](const Node&, const Tensor& gg, std::span<Tensor> gx) {
        gx[0] = slice(gg, s.axis, s.start, s.start + (s.count - 1) * s.step + 1, s.step);
      },
      [&](std::span<const Tensor> t) { return slice_backward(t[0], full, s); });
}
}  // namespace

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step) {
  check_defined(x, "slice");
  if (x.dim() == 0) throw IndexError("slice: cannot slice a 0-d tensor");
  const int a = wrap_axis(axis, x.dim(), "slice");
  const int64_t n = x.shape()[a];
  if (step <= 0) throw ValueError("slice: step must be positive, got " + std::to_string(step));
  auto fix = [&](int64_t v, const char* what) {
    if (v == kEnd) return n;
    const int64_t w = v < 0 ? v + n : v;
    if (w < 0 || w > n)
      throw IndexError("slice: " + std::string(what) + " " + std::to_string(v) +
                       " is out of range for axis " + std::to_string(axis) + " of extent " +
                       std::to_string(n) + " (shape " + x.shape().str() + ")");
    return w;
  };
  const int64_t b = fix(start, "start"), e = fix(stop, "stop");
  const int64_t count = e > b ? (e - b + step - 1) / step : 0;
  const SliceSpec spec{a, b, step, count};
  Shape os = x.shape();
  os[a] = count;
  Tensor y = detail::new_tensor(os, x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    copy_strided(const_cast<T*>(x.data<T>()), y.data<T>(), x.shape(), spec, false);
  });
  return record(
      opdefs::slice_op, y, {x},
      [spec, sx = x.shape()](const Node&, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = slice_backward(g, sx, spec);
      },
      [&](std::span<const Tensor> t) { return slice(t[0], a, b, e, step); });
}

Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length) {
  XG_COMPOSITE_SCOPE(narrow);
  check_defined(x, "narrow");
  if (length < 0) throw ValueError("narrow: negative length " + std::to_string(length));
  const int a = wrap_axis(axis, x.dim(), "narrow");
  const int64_t b = start < 0 ? start + x.shape()[a] : start;
  if (b < 0 || length > x.shape()[a] - b) {  // (b + length could overflow)
    int64_t stop = 0;
    const std::string stop_str = __builtin_add_overflow(start, length, &stop)
                                     ? std::to_string(start) + " + " + std::to_string(length)
                                     : std::to_string(stop);
    throw IndexError("narrow: range [" + std::to_string(start) + ", " + stop_str +
                     ") is out of range for axis " + std::to_string(axis) + " of extent " +
                     std::to_string(x.shape()[a]) + " (shape " + x.shape().str() + ")");
  }
  return slice(x, a, b, b + length);
}

// ---- concat / stack / split / chunk ----
XG_OP(concat,
      {.formula = "d/dx_i concat(x_1..x_n) = the slice of grad that x_i filled",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto call = [](std::span<const Tensor> in) { return concat({in.begin(), in.end()}, -1); };
             auto call0 = [](std::span<const Tensor> in) { return concat({in.begin(), in.end()}, 0); };
             return std::vector<OpSample>{
                 {"[2, 3] + [2, 1] + [2, 2] axis -1",
                  {sample_tensor({2, 3}, Domain::real, 1), sample_tensor({2, 1}, Domain::real, 2),
                   sample_tensor({2, 2}, Domain::real, 3)},
                  call,
                  0,
                  "OP([x0, x1, x2], -1)"},
                 {"[1, 2, 2] + [2, 2, 2] axis 0",
                  {sample_tensor({1, 2, 2}, Domain::real, 4), sample_tensor({2, 2, 2}, Domain::real, 5)},
                  call0,
                  0,
                  "OP([x0, x1], 0)"},
                 {"[0, 2] + [3, 2] axis 0",
                  {sample_tensor({0, 2}, Domain::real, 6), sample_tensor({3, 2}, Domain::real, 7)},
                  call0,
                  0,
                  "OP([x0, x1], 0)"},
             };
           },
       .torch = "torch.cat"});
XG_OP(stack, {.formula = "stack is unsqueeze + concat (composite)",
              .kind = OpKind::composite,
              .samples =
                  [] {
                    auto call = [](std::span<const Tensor> in) { return stack({in.begin(), in.end()}, 1); };
                    return std::vector<OpSample>{
                        {"3 x [2, 3] axis 1",
                         {sample_tensor({2, 3}, Domain::real, 1), sample_tensor({2, 3}, Domain::real, 2),
                          sample_tensor({2, 3}, Domain::real, 3)},
                         call,
                         0,
                         "OP([x0, x1, x2], 1)"},
                    };
                  },
              .torch = "torch.stack"});
XG_OP(split, {.formula = "split is a list of slices (composite)",
              .kind = OpKind::composite,
              .samples =
                  [] {
                    return std::vector<OpSample>{
                        sample1(
                            "[5, 2] by 2, last piece", sample_tensor({5, 2}, Domain::real, 1),
                            [](auto& x) { return piece(split(x, 2, 0), 2, "split"); }, "OP(x0, 2, 0)[2]"),
                        sample1(
                            "[2, 6] sizes {1, 5} axis -1, second", sample_tensor({2, 6}, Domain::real, 2),
                            [](auto& x) {
                              return piece(split(x, std::vector<int64_t>{1, 5}, -1), 1, "split");
                            },
                            "OP(x0, [1, 5], -1)[1]"),
                    };
                  },
              .torch = "torch.split"});
XG_OP(chunk, {.formula = "chunk is a list of slices (composite)",
              .kind = OpKind::composite,
              .samples =
                  [] {
                    return std::vector<OpSample>{
                        sample1(
                            "[7, 2] in 3, middle", sample_tensor({7, 2}, Domain::real, 1),
                            [](auto& x) { return piece(chunk(x, 3, 0), 1, "chunk"); }, "OP(x0, 3, 0)[1]"),
                    };
                  },
              .torch = "torch.chunk"});

Tensor concat(const std::vector<Tensor>& xs0, int64_t axis) {
  if (xs0.empty()) throw ValueError("concat: no tensors given");
  for (const Tensor& x : xs0) check_defined(x, "concat");
  // Promote to the widest dtype, as the binary ops do.
  Dtype d = xs0[0].dtype();
  for (const Tensor& x : xs0)
    if (x.dtype() == Dtype::float64 || (x.dtype() == Dtype::float32 && d == Dtype::int64)) d = x.dtype();
  std::vector<Tensor> xs;
  for (const Tensor& x : xs0) xs.push_back(x.to(d));
  const Shape& s0 = xs[0].shape();
  if (s0.rank() == 0) throw ShapeError("concat: cannot concatenate 0-d tensors (use stack)");
  const int a = wrap_axis(axis, s0.rank(), "concat");
  Shape os = s0;
  os[a] = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const Shape& s = xs[k].shape();
    bool ok = s.rank() == s0.rank();
    for (int i = 0; ok && i < s.rank(); ++i) ok = i == a || s[i] == s0[i];
    if (!ok)
      throw ShapeError("concat: tensor " + std::to_string(k) + " has shape " + s.str() +
                       ", which does not match " + s0.str() + " outside axis " + std::to_string(axis));
    os[a] += s[a];
  }
  Tensor y = detail::new_tensor(os, d);
  const int64_t outer = prod_of(os, 0, a), inner = prod_of(os, a + 1, os.rank()), n_out = os[a];
  visit_dtype(d, [&]<class T>() {
    T* out = y.data<T>();
    int64_t at = 0;
    for (const Tensor& x : xs) {
      const int64_t n = x.shape()[a];
      const T* in = x.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        std::copy(in + o * n * inner, in + (o + 1) * n * inner, out + (o * n_out + at) * inner);
      at += n;
    }
  });
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) sizes.push_back(x.shape()[a]);
  return record(
      opdefs::concat_op, y, std::span<const Tensor>(xs),
      [a, sizes](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        int64_t at = 0;
        for (std::size_t k = 0; k < sizes.size(); ++k) {
          if (n.needs_input_grad(k)) gx[k] = slice(g, a, at, at + sizes[k]);
          at += sizes[k];
        }
      },
      [&](std::span<const Tensor> t) {
        std::vector<Tensor> ts;
        for (std::size_t k = 0; k < xs.size(); ++k) ts.push_back(t[k].defined() ? t[k] : zeros_like(xs[k]));
        return concat(ts, a);
      });
}
Tensor cat(const std::vector<Tensor>& xs, int64_t axis) {
  return concat(xs, axis);
}

Tensor stack(const std::vector<Tensor>& xs, int64_t axis) {
  XG_COMPOSITE_SCOPE(stack);
  if (xs.empty()) throw ValueError("stack: no tensors given");
  for (std::size_t k = 0; k < xs.size(); ++k) {
    check_defined(xs[k], "stack");
    if (!(xs[k].shape() == xs[0].shape()))
      throw ShapeError("stack: tensor " + std::to_string(k) + " has shape " + xs[k].shape().str() +
                       ", tensor 0 has " + xs[0].shape().str());
  }
  const int a = wrap_new_axis(axis, xs[0].dim(), "stack");
  std::vector<Tensor> parts;
  for (const Tensor& x : xs) parts.push_back(unsqueeze(x, a));
  return concat(parts, a);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis) {
  XG_COMPOSITE_SCOPE(split);
  check_defined(x, "split");
  const int a = wrap_axis(axis, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw ValueError("split: negative size " + std::to_string(s));
    total += s;
  }
  if (total != x.shape()[a])
    throw ShapeError("split: sizes add up to " + std::to_string(total) + " but axis " + std::to_string(axis) +
                     " of " + x.shape().str() + " has " + std::to_string(x.shape()[a]));
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(slice(x, a, at, at + s));
    at += s;
  }
  return out;
}
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t axis) {
  XG_COMPOSITE_SCOPE(split);
  check_defined(x, "split");
  if (size <= 0) throw ValueError("split: size must be positive, got " + std::to_string(size));
  const int64_t n = x.shape()[wrap_axis(axis, x.dim(), "split")];
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < n; at += size) sizes.push_back(std::min(size, n - at));
  if (sizes.empty()) sizes.push_back(0);
  return split(x, sizes, axis);
}
std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t axis) {
  XG_COMPOSITE_SCOPE(chunk);
  check_defined(x, "chunk");
  if (n <= 0) throw ValueError("chunk: number of chunks must be positive, got " + std::to_string(n));
  const int64_t len = x.shape()[wrap_axis(axis, x.dim(), "chunk")];
  return split(x, std::max<int64_t>(1, len / n + (len % n != 0)), axis);  // ceil(len / n) without overflow
}

// ---- index_select / index_add ----
namespace {
void check_index(const Tensor& index, const char* op) {
  check_defined(index, op);
  if (index.dtype() != Dtype::int64)
    throw TypeError(std::string(op) + ": index must be int64, got " + dtype_name(index.dtype()));
}
void check_range(int64_t v, const Shape& xs, const char* op, int axis) {
  if (v < 0 || v >= xs[axis])
    throw IndexError(std::string(op) + ": index " + std::to_string(v) + " is out of range for axis " +
                     std::to_string(axis) + " of extent " + std::to_string(xs[axis]) + " (shape " + xs.str() +
                     ")");
}
void check_not_0d(const Tensor& x, const char* op) {
  if (x.dim() == 0) throw IndexError(std::string(op) + ": cannot index a 0-d tensor along an axis");
}
Tensor index_1d(std::initializer_list<double> v) {
  return tensor(v, {.dtype = Dtype::int64});
}
}  // namespace

XG_OP(index_select, {.formula = "d/dx index_select(x, i) = index_add(zeros, i, grad)",
                     .kind = OpKind::primitive,
                     .samples =
                         [] {
                           return std::vector<OpSample>{
                               sample1(
                                   "[4, 3] rows {3, 0, 3}", sample_tensor({4, 3}, Domain::real, 1),
                                   [](auto& x) {
                                     return index_select(x, 0, index_1d({3, 0, 3}));
                                   },
                                   "OP(x0, 0, torch.tensor([3, 0, 3]))"),
                               sample1(
                                   "[2, 4] axis -1 {1, 2}", sample_tensor({2, 4}, Domain::real, 2),
                                   [](auto& x) {
                                     return index_select(x, -1, index_1d({1, 2}));
                                   },
                                   "OP(x0, -1, torch.tensor([1, 2]))"),
                           };
                         },
                     .torch = "torch.index_select"});
XG_OP(index_add, {.formula = "d/dx index_add(x, i, s) = grad, d/ds = index_select(grad, i)",
                  .kind = OpKind::primitive,
                  .samples =
                      [] {
                        auto call = [](std::span<const Tensor> in) {
                          return index_add(in[0], 0, index_1d({2, 0, 2}), in[1]);
                        };
                        return std::vector<OpSample>{
                            {"[3, 2] += [3, 2] at rows {2, 0, 2}",
                             {sample_tensor({3, 2}, Domain::real, 1), sample_tensor({3, 2}, Domain::real, 2)},
                             call,
                             0,
                             "OP(x0, 0, torch.tensor([2, 0, 2]), x1)"},
                        };
                      },
                  .torch = "torch.index_add"});

Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index) {
  check_defined(x, "index_select");
  check_index(index, "index_select");
  check_not_0d(x, "index_select");
  if (index.dim() != 1) throw ShapeError("index_select: index must be 1-D, got shape " + index.shape().str());
  const int a = wrap_axis(axis, x.dim(), "index_select");
  const Shape& xs = x.shape();
  const int64_t outer = prod_of(xs, 0, a), n = xs[a], inner = prod_of(xs, a + 1, xs.rank()),
                k = index.numel();
  const int64_t* idx = index.data<int64_t>();
  for (int64_t j = 0; j < k; ++j) check_range(idx[j], xs, "index_select", a);
  Shape os = xs;
  os[a] = k;
  Tensor y = detail::new_tensor(os, x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < k; ++j)
        std::copy(in + (o * n + idx[j]) * inner, in + (o * n + idx[j] + 1) * inner,
                  out + (o * k + j) * inner);
  });
  return record(
      opdefs::index_select_op, y, {x},
      [a, index, sx = xs](const Node&, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = index_add(zeros(sx, {.dtype = g.dtype()}), a, index, g);
      },
      [&](std::span<const Tensor> t) { return index_select(t[0], a, index); });
}

Tensor index_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src0) {
  check_defined(x, "index_add");
  check_defined(src0, "index_add");
  check_index(index, "index_add");
  check_not_0d(x, "index_add");
  if (index.dim() != 1) throw ShapeError("index_add: index must be 1-D, got shape " + index.shape().str());
  const int a = wrap_axis(axis, x.dim(), "index_add");
  const Shape& xs = x.shape();
  Shape want = xs;
  want[a] = index.numel();
  if (!(src0.shape() == want))
    throw ShapeError("index_add: source has shape " + src0.shape().str() + ", expected " + want.str());
  Tensor src = src0.to(x.dtype());
  const int64_t outer = prod_of(xs, 0, a), n = xs[a], inner = prod_of(xs, a + 1, xs.rank()),
                k = index.numel();
  const int64_t* idx = index.data<int64_t>();
  for (int64_t j = 0; j < k; ++j) check_range(idx[j], xs, "index_add", a);
  Tensor y = detail::new_tensor(xs, x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* in = x.data<T>();
    const T* s = src.data<T>();
    T* out = y.data<T>();
    std::copy(in, in + x.numel(), out);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < k; ++j) {
        T* dst = out + (o * n + idx[j]) * inner;
        const T* from = s + (o * k + j) * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] += from[i];
      }
  });
  return record(
      opdefs::index_add_op, y, {x, src},
      [a, index](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g;
        if (nd.needs_input_grad(1)) gx[1] = index_select(g, a, index);
      },
      [&](std::span<const Tensor> t) {
        if (!t[1].defined()) return t[0];
        return index_add(t[0].defined() ? t[0] : zeros_like(y), a, index, t[1]);
      });
}

// ---- gather / scatter_add ----
namespace {
// The walk over an index tensor: f(x_offset, k) for its element k, x_offset being the position in
// x (contiguous, shape xs) with the coordinate along `axis` replaced by the index value; the index
// range is checked as it goes. for_each_indexed runs it after the shape checks; the replayed gather
// and scatter_add (capture.hpp) run it as is (the index values are the new step's).
template <class F>
void indexed_walk(const Shape& xs, const Shape& is, const int64_t* idx, int axis, const char* op, F f) {
  const int r = xs.rank();
  int64_t st[kMaxRank];
  int64_t stride = 1;
  for (int d = r - 1; d >= 0; --d) {
    st[d] = stride;
    stride *= xs[d];
  }
  int64_t c[kMaxRank] = {};
  for (int64_t k = 0, total = is.numel(); k < total; ++k) {
    const int64_t v = idx[k];
    check_range(v, xs, op, axis);
    int64_t off = 0;
    for (int d = 0; d < r; ++d) off += (d == axis ? v : c[d]) * st[d];
    f(off, k);
    for (int d = r - 1; d >= 0; --d) {
      if (++c[d] < is[d]) break;
      c[d] = 0;
    }
  }
}

template <class F>
void for_each_indexed(const Shape& xs, const Tensor& index, int axis, const char* op, F f) {
  const Shape& is = index.shape();
  if (is.rank() != xs.rank())
    throw ShapeError(std::string(op) + ": index has shape " + is.str() + " but the tensor has rank " +
                     std::to_string(xs.rank()) + " (shape " + xs.str() + ")");
  for (int d = 0; d < xs.rank(); ++d)
    if (d != axis && is[d] > xs[d])
      throw ShapeError(std::string(op) + ": index shape " + is.str() + " exceeds " + xs.str() + " in axis " +
                       std::to_string(d));
  const int64_t total = is.numel();
  if (total == 0) return;
  indexed_walk(xs, is, index.data<int64_t>(), axis, op, f);
}
}  // namespace

XG_OP(gather, {.formula = "d/dx gather(x, i) = scatter_add(zeros, i, grad)",
               .kind = OpKind::primitive,
               .samples =
                   [] {
                     Tensor idx = tensor({2, 0, 1, 1, 0, 2}, {2, 3}, {.dtype = Dtype::int64});
                     Tensor idx0 = tensor({1, 0, 1, 2, 0, 1}, {3, 2}, {.dtype = Dtype::int64});
                     return std::vector<OpSample>{
                         sample1(
                             "[2, 3] axis 1", sample_tensor({2, 3}, Domain::real, 1),
                             [idx](auto& x) { return gather(x, 1, idx); },
                             "OP(x0, 1, torch.tensor([[2, 0, 1], [1, 0, 2]]))"),
                         sample1(
                             "[3, 2] axis 0", sample_tensor({3, 2}, Domain::real, 2),
                             [idx0](auto& x) { return gather(x, -2, idx0); },
                             "OP(x0, -2, torch.tensor([[1, 0], [1, 2], [0, 1]]))"),
                     };
                   },
               .torch = "torch.gather"});
XG_OP(scatter_add,
      {.formula = "d/dx scatter_add(x, i, s) = grad, d/ds = gather(grad, i)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             Tensor idx = tensor({2, 0, 1, 1, 0, 2}, {2, 3}, {.dtype = Dtype::int64});
             auto call = [idx](std::span<const Tensor> in) { return scatter_add(in[0], 1, idx, in[1]); };
             return std::vector<OpSample>{
                 {"[2, 3] axis 1",
                  {sample_tensor({2, 3}, Domain::real, 1), sample_tensor({2, 3}, Domain::real, 2)},
                  call,
                  0,
                  "OP(x0, 1, torch.tensor([[2, 0, 1], [1, 0, 2]]), x1)"},
             };
           },
       .torch = "torch.scatter_add"});
XG_OP(one_hot,
      {.formula = "one_hot returns constants: no gradient",
       .kind = OpKind::non_differentiable,
       .samples =
           [] {
             Tensor idx = tensor({0, 2, 1}, {.dtype = Dtype::int64});
             return std::vector<OpSample>{{"[3] into 3 classes",
                                           {idx},
                                           [](std::span<const Tensor> in) { return one_hot(in[0], 3); },
                                           0,
                                           "OP(x0, 3)"}};
           },
       .torch = "torch.nn.functional.one_hot"});

namespace {
template <class T>
void gather_replay(const capture_detail::Kernel& k) {
  const Shape* s = static_cast<const Shape*>(k.aux);
  const T* in = static_cast<const T*>(k.buf[0]);
  T* out = static_cast<T*>(k.buf[2]);
  indexed_walk(s[0], s[1], static_cast<const int64_t*>(k.buf[1]), static_cast<int>(k.n[0]), "gather",
               [&](int64_t xo, int64_t i) { out[i] = in[xo]; });
}
template <class T>
void scatter_add_replay(const capture_detail::Kernel& k) {
  const Shape* s = static_cast<const Shape*>(k.aux);
  const T* in = static_cast<const T*>(k.buf[0]);
  const T* src = static_cast<const T*>(k.buf[2]);
  T* out = static_cast<T*>(k.buf[3]);
  std::copy(in, in + s[0].numel(), out);
  indexed_walk(s[0], s[1], static_cast<const int64_t*>(k.buf[1]), static_cast<int>(k.n[0]), "scatter_add",
               [&](int64_t xo, int64_t i) { out[xo] += src[i]; });
}
}  // namespace

Tensor gather(const Tensor& x, int64_t axis, const Tensor& index) {
  check_defined(x, "gather");
  check_index(index, "gather");
  const int a = wrap_axis(axis, x.dim(), "gather");
  Tensor y = detail::new_tensor(index.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for_each_indexed(x.shape(), index, a, "gather", [&](int64_t xo, int64_t k) { out[k] = in[xo]; });
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit("gather", gather_replay<T>,
                           {capture_detail::R(x), capture_detail::R(index), capture_detail::W(y)}, {a}, {},
                           {x.shape(), index.shape()});
  });
  return record(
      opdefs::gather_op, y, {x},
      [a, index, sx = x.shape()](const Node&, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = scatter_add(zeros(sx, {.dtype = g.dtype()}), a, index, g);
      },
      [&](std::span<const Tensor> t) { return gather(t[0], a, index); });
}

Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src0) {
  check_defined(x, "scatter_add");
  check_defined(src0, "scatter_add");
  check_index(index, "scatter_add");
  if (!(src0.shape() == index.shape()))
    throw ShapeError("scatter_add: source shape " + src0.shape().str() + " must equal index shape " +
                     index.shape().str());
  const int a = wrap_axis(axis, x.dim(), "scatter_add");
  Tensor src = src0.to(x.dtype());
  Tensor y = detail::new_tensor(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* in = x.data<T>();
    const T* s = src.data<T>();
    T* out = y.data<T>();
    std::copy(in, in + x.numel(), out);
    for_each_indexed(x.shape(), index, a, "scatter_add", [&](int64_t xo, int64_t k) { out[xo] += s[k]; });
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit(
          "scatter_add", scatter_add_replay<T>,
          {capture_detail::R(x), capture_detail::R(index), capture_detail::R(src), capture_detail::W(y)}, {a},
          {}, {x.shape(), index.shape()});
  });
  return record(
      opdefs::scatter_add_op, y, {x, src},
      [a, index](const Node& n, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g;
        if (n.needs_input_grad(1)) gx[1] = gather(g, a, index);
      },
      [&](std::span<const Tensor> t) {
        if (!t[1].defined()) return t[0];
        return scatter_add(t[0].defined() ? t[0] : zeros_like(y), a, index, t[1]);
      });
}

Tensor one_hot(const Tensor& index, int64_t num_classes, Dtype dtype) {
  check_index(index, "one_hot");
  if (num_classes <= 0)
    throw ValueError("one_hot: num_classes must be positive, got " + std::to_string(num_classes));
  if (index.dim() == kMaxRank)
    throw ShapeError("one_hot: the index has rank " + std::to_string(kMaxRank) + " (shape " +
                     index.shape().str() + "); adding the class axis would exceed " +
                     std::to_string(kMaxRank) + " axes");
  Shape os = index.shape();
  os.push_back(num_classes);
  Tensor y = zeros(os, {.dtype = dtype});
  const int64_t* idx = index.data<int64_t>();
  visit_dtype(dtype, [&]<class T>() {
    T* out = y.data<T>();
    for (int64_t k = 0; k < index.numel(); ++k) {
      if (idx[k] < 0 || idx[k] >= num_classes)
        throw IndexError("one_hot: class index " + std::to_string(idx[k]) +
                         " is out of range for num_classes " + std::to_string(num_classes) +
                         " (index shape " + index.shape().str() + ")");
      out[k * num_classes + idx[k]] = T(1);
    }
  });
  return y;
}

// ---- pad ----
XG_OP(pad, {.formula = "d/dx pad(x) = grad with the padding sliced off",
            .kind = OpKind::primitive,
            .samples =
                [] {
                  return std::vector<OpSample>{
                      sample1(
                          "[2, 3] last axis (1, 2)", sample_tensor({2, 3}, Domain::real, 1),
                          [](auto& x) {
                            return pad(x, {1, 2});
                          },
                          "OP(x0, (1, 2))"),
                      sample1(
                          "[2, 2, 2] (0, 1, 2, 0) value 3", sample_tensor({2, 2, 2}, Domain::real, 2),
                          [](auto& x) {
                            return pad(x, {0, 1, 2, 0}, 3.0);
                          },
                          "OP(x0, (0, 1, 2, 0), value=3.0)"),
                  };
                },
            .torch = "torch.nn.functional.pad"});
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  check_defined(x, "pad");
  if (pads.size() % 2 != 0 || static_cast<int>(pads.size() / 2) > x.dim())
    throw ShapeError("pad: " + std::to_string(pads.size()) + " pad values for a tensor of shape " +
                     x.shape().str() + " (need (before, after) pairs for at most " + std::to_string(x.dim()) +
                     " axes)");
  Shape os = x.shape();
  std::vector<int64_t> before(x.dim(), 0);
  for (std::size_t k = 0; k < pads.size() / 2; ++k) {
    const int axis = x.dim() - 1 - static_cast<int>(k);
    if (pads[2 * k] < 0 || pads[2 * k + 1] < 0)
      throw ValueError("pad: negative padding for axis " + std::to_string(axis));
    before[axis] = pads[2 * k];
    if (__builtin_add_overflow(os[axis], pads[2 * k], &os[axis]) ||
        __builtin_add_overflow(os[axis], pads[2 * k + 1], &os[axis]))
      throw ShapeError("pad: padding axis " + std::to_string(axis) + " of " + x.shape().str() + " by (" +
                       std::to_string(pads[2 * k]) + ", " + std::to_string(pads[2 * k + 1]) +
                       ") overflows its extent");
  }
  Tensor y = full(os, value, {.dtype = x.dtype()});
  const int r = x.dim();
  const int64_t n = x.numel();
  if (n > 0) {
    visit_dtype(x.dtype(), [&]<class T>() {
      const T* in = x.data<T>();
      T* out = y.data<T>();
      if (r == 0) {
        out[0] = in[0];
        return;
      }
      const std::vector<int64_t> ost = contiguous_strides(os);
      int64_t c[kMaxRank] = {};
      const int64_t inner = x.shape()[r - 1];
      for (int64_t o = 0; o < n; o += inner) {
        int64_t off = 0;
        for (int d = 0; d < r; ++d) off += (c[d] + before[d]) * ost[d];
        std::copy(in + o, in + o + inner, out + off);
        for (int d = r - 2; d >= 0; --d) {
          if (++c[d] < x.shape()[d]) break;
          c[d] = 0;
        }
      }
    });
  }
  return record(
      opdefs::pad_op, y, {x},
      [before, sx = x.shape()](const Node&, const Tensor& g, std::span<Tensor> gx) {
        Tensor r = g;
        for (int d = 0; d < sx.rank(); ++d)
          if (g.shape()[d] != sx[d]) r = slice(r, d, before[d], before[d] + sx[d]);
        gx[0] = r;
      },
      [&](std::span<const Tensor> t) {
        return pad(t[0], pads, 0.0);  // the padding value is a constant
      });
}

// ---- triangles and flips (composites: a constant mask or a reversed index) ----
namespace {
// 1 where column - row <= diagonal (lower) or >= diagonal (upper), over the last two axes of x.
Tensor triangle(const Tensor& x, int64_t diagonal, bool lower, const char* op) {
  check_defined(x, op);
  if (x.dim() < 2)
    throw ShapeError(std::string(op) + ": input tensor must have at least 2 dimensions, got shape " +
                     x.shape().str());
  const int64_t r = x.shape()[x.dim() - 2], c = x.shape()[x.dim() - 1];
  const Tensor rows = reshape(arange(static_cast<double>(r), {x.dtype()}), {r, 1});
  const Tensor cols = reshape(arange(static_cast<double>(c), {x.dtype()}), {1, c});
  const Tensor offset = cols - rows;
  const Tensor mask =
      lower ? le(offset, static_cast<double>(diagonal)) : ge(offset, static_cast<double>(diagonal));
  // where, not a product with the mask: the cut-off part is 0 even where x is inf or NaN (as PyTorch).
  return where(mask, x, zeros_like(x));
}
}  // namespace

XG_OP(tril, {.formula = "tril(x, k) = where(col - row <= k, x, 0) (composite)",
             .kind = OpKind::composite,
             .samples =
                 [] {
                   return std::vector<OpSample>{
                       sample1(
                           "[3, 4]", sample_tensor({3, 4}, Domain::real, 1), [](auto& x) { return tril(x); },
                           "OP(x0)"),
                       sample1(
                           "[2, 3, 3] diagonal -1", sample_tensor({2, 3, 3}, Domain::real, 2),
                           [](auto& x) { return tril(x, -1); }, "OP(x0, -1)"),
                   };
                 },
             .torch = "torch.tril"});
Tensor tril(const Tensor& x, int64_t diagonal) {
  XG_COMPOSITE_SCOPE(tril);
  return triangle(x, diagonal, true, "tril");
}
XG_OP(triu, {.formula = "triu(x, k) = where(col - row >= k, x, 0) (composite)",
             .kind = OpKind::composite,
             .samples =
                 [] {
                   return std::vector<OpSample>{
                       sample1(
                           "[3, 4]", sample_tensor({3, 4}, Domain::real, 1), [](auto& x) { return triu(x); },
                           "OP(x0)"),
                       sample1(
                           "[2, 4, 3] diagonal 1", sample_tensor({2, 4, 3}, Domain::real, 2),
                           [](auto& x) { return triu(x, 1); }, "OP(x0, 1)"),
                   };
                 },
             .torch = "torch.triu"});
Tensor triu(const Tensor& x, int64_t diagonal) {
  XG_COMPOSITE_SCOPE(triu);
  return triangle(x, diagonal, false, "triu");
}

XG_OP(flip, {.formula = "flip(x, dims) = index_select with a reversed index on each dim (composite)",
             .kind = OpKind::composite,
             .samples =
                 [] {
                   return std::vector<OpSample>{
                       sample1(
                           "[3, 4] dims {0, 1}", sample_tensor({3, 4}, Domain::real, 1),
                           [](auto& x) {
                             return flip(x, {0, 1});
                           },
                           "OP(x0, (0, 1))"),
                       sample1(
                           "[2, 3, 2] dims {-2}", sample_tensor({2, 3, 2}, Domain::real, 2),
                           [](auto& x) { return flip(x, {-2}); }, "OP(x0, (-2,))"),
                   };
                 },
             .torch = "torch.flip"});
Tensor flip(const Tensor& x, const Axes& dims) {
  XG_COMPOSITE_SCOPE(flip);
  check_defined(x, "flip");
  std::vector<bool> seen(std::max(x.dim(), 1), false);
  Tensor y = x;
  for (int64_t d : dims) {
    const int a = wrap_axis(d, x.dim(), "flip");
    if (seen[a])
      throw ValueError("flip: dim " + std::to_string(a) + " appears multiple times in the list of dims");
    seen[a] = true;
    const int64_t n = x.shape()[a];
    std::vector<int64_t> rev(n);
    for (int64_t i = 0; i < n; ++i) rev[i] = n - 1 - i;
    y = index_select(y, a, from_vector(rev, {n}));
  }
  return y;
}

}  // namespace xg
