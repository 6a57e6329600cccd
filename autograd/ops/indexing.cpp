// Indexing with a list of integers, slices, None, Ellipsis, index tensors and masks, as
// LibTorch's Tensor::index (autograd/ops/indexing.hpp). A composite: basic indices become slice,
// squeeze and unsqueeze; advanced indices one index_select on the indexed axes flattened, so
// every order of gradient comes from those ops.
#include "xgrad/autograd/ops/indexing.hpp"

#include <algorithm>
#include <string>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/op_info.hpp"
#include "xgrad/autograd/tape/scope.hpp"

namespace xg {

using indexing::Mask;
using indexing::Slice;
using indexing::TensorIndex;

namespace {

bool is_mask(const TensorIndex& e) {
  if (std::holds_alternative<Mask>(e.value())) return true;
  const Tensor* t = std::get_if<Tensor>(&e.value());
  return t && t->is_floating_point();
}
const Tensor& mask_of(const TensorIndex& e) {
  if (const Mask* m = std::get_if<Mask>(&e.value())) return m->mask;
  return std::get<Tensor>(e.value());
}

// How many axes of x an entry consumes (Ellipsis: 0 here, it is expanded separately).
int consumed(const TensorIndex& e) {
  const auto& v = e.value();
  if (std::holds_alternative<int64_t>(v) || std::holds_alternative<Slice>(v)) return 1;
  if (is_mask(e)) {
    const Tensor& m = mask_of(e);
    if (!m.defined()) throw ValueError("index: a mask is undefined");
    return m.dim();
  }
  if (const Tensor* t = std::get_if<Tensor>(&v)) {
    if (!t->defined()) throw ValueError("index: an index tensor is undefined");
    return 1;
  }
  return 0;  // None, Ellipsis
}

std::string entry_str(size_t k) {
  return "index " + std::to_string(k);
}

// The coordinates of a mask's nonzero elements (NaN counts as nonzero), one int64 tensor per
// axis of the mask, in row-major order.
std::vector<Tensor> nonzero_coordinates(const Tensor& mask) {
  const int k = mask.dim();
  std::vector<int64_t> flat;
  detail::visit_dtype(mask.dtype(), [&]<class T>() {
    const T* p = mask.data<T>();
    for (int64_t i = 0; i < mask.numel(); ++i)
      if (p[i] != T(0)) flat.push_back(i);
  });
  const int64_t n = static_cast<int64_t>(flat.size());
  std::vector<Tensor> coords;
  for (int d = 0; d < k; ++d) {
    int64_t inner = 1;
    for (int e = d + 1; e < k; ++e) inner *= mask.shape()[e];
    std::vector<int64_t> c(n);
    for (int64_t i = 0; i < n; ++i) c[i] = flat[i] / inner % mask.shape()[d];
    coords.push_back(from_vector(c, {n}));
  }
  return coords;
}

// Positions along an axis of extent n: negatives wrapped, every one checked.
Tensor checked_positions(const Tensor& t, int64_t n, int axis) {
  if (t.dtype() != Dtype::int64)
    throw TypeError("index: tensors used as indices must be int64 (positions) or floating (masks), got " +
                    std::string(dtype_name(t.dtype())));
  std::vector<int64_t> v = t.to_vector<int64_t>();
  for (int64_t& i : v) {
    if (i < -n || i >= n)
      throw IndexError("index: index " + std::to_string(i) + " is out of bounds for dimension " +
                       std::to_string(axis) + " with size " + std::to_string(n));
    if (i < 0) i += n;
  }
  return from_vector(v, t.shape());
}

struct Advanced {
  int axis;      // axis of the partly indexed tensor
  Tensor index;  // int64 positions (wrapped)
};

// Python's clamped slice bounds on an axis of extent n.
std::pair<int64_t, int64_t> slice_bounds(const Slice& s, int64_t n) {
  auto norm = [n](std::optional<int64_t> b, int64_t dflt) {
    if (!b) return dflt;
    int64_t v = *b;
    if (v < 0) v += n;
    return std::clamp<int64_t>(v, 0, n);
  };
  const int64_t start = norm(s.start, 0);
  return {start, std::max(start, norm(s.stop, n))};
}

}  // namespace

XG_OP(index,
      {.formula =
           "x[indices]: slice, squeeze, unsqueeze and index_select on the flattened indexed axes (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             using indexing::Ellipsis;
             using indexing::None;
             using detail::Domain;
             using detail::sample_tensor;
             const Tensor x = sample_tensor({4, 5, 3}, Domain::real, 1);
             auto call = [](std::vector<TensorIndex> ix) {
               return [ix](std::span<const Tensor> in) { return index(in[0], ix); };
             };
             const Tensor pos = from_vector(std::vector<int64_t>{3, -1, 0}, {3});
             const Tensor p5 = from_vector(std::vector<int64_t>{1, 4, 0}, {3});
             const Tensor p3 = from_vector(std::vector<int64_t>{2, 0, -2}, {3});
             const Tensor mask = tensor({1, 0, 1, 1, 0}, {5}, {.dtype = Dtype::float64});
             return std::vector<OpSample>{
                 {"[1:, None, 0]", {x}, call({Slice(1), None, 0}), 0, "x0[1:, None, 0]"},
                 {"[::2, ..., -1]", {x}, call({Slice(None, None, 2), Ellipsis, -1}), 0, "x0[::2, ..., -1]"},
                 {"[positions]",
                  {x, pos},
                  [](std::span<const Tensor> in) { return index(in[0], {in[1]}); },
                  0,
                  "x0[x1]"},
                 {"[:, positions, 1]",
                  {x, p5},
                  [](std::span<const Tensor> in) {
                    return index(in[0], {Slice(), in[1], 1});
                  },
                  0,
                  "x0[:, x1, 1]"},
                 {"[positions, :, positions] (not adjacent: first)",
                  {x, pos, p3},
                  [](std::span<const Tensor> in) {
                    return index(in[0], {in[1], Slice(), in[2]});
                  },
                  0,
                  "x0[x1, :, x2]"},
                 {"[:, positions, positions] (adjacent: in place)",
                  {x, p5, p3},
                  [](std::span<const Tensor> in) {
                    return index(in[0], {Slice(), in[1], in[2]});
                  },
                  0,
                  "x0[:, x1, x2]"},
                 {"[:, mask]",
                  {x, mask},
                  [](std::span<const Tensor> in) {
                    return index(in[0], {Slice(), in[1]});
                  },
                  0,
                  "x0[:, x1 != 0]"},
             };
           },
       .torch = "torch.Tensor.__getitem__"});
Tensor index(const Tensor& x, const std::vector<TensorIndex>& indices) {
  XG_COMPOSITE_SCOPE(index);
  if (!x.defined()) throw ValueError("index: the tensor is undefined");
  // Expand the Ellipsis (at most one) into full slices; missing trailing axes are full too.
  int used = 0, ellipses = 0;
  for (const TensorIndex& e : indices) {
    used += consumed(e);
    ellipses += std::holds_alternative<indexing::EllipsisIndexType>(e.value());
  }
  if (ellipses > 1) throw IndexError("index: an index can only have a single ellipsis ('...')");
  if (used > x.dim())
    throw IndexError("index: too many indices for tensor of dimension " + std::to_string(x.dim()) +
                     " (shape " + x.shape().str() + ")");
  std::vector<TensorIndex> list;
  for (const TensorIndex& e : indices) {
    if (std::holds_alternative<indexing::EllipsisIndexType>(e.value()))
      for (int i = 0; i < x.dim() - used; ++i) list.emplace_back(Slice());
    else
      list.push_back(e);
  }

  Tensor y = x;
  int axis = 0;  // the next axis of y an entry applies to
  std::vector<Advanced> adv;
  for (size_t k = 0; k < list.size(); ++k) {
    const auto& v = list[k].value();
    if (const int64_t* i = std::get_if<int64_t>(&v)) {
      const int64_t n = y.shape()[axis];
      if (*i < -n || *i >= n)
        throw IndexError("index: index " + std::to_string(*i) + " is out of bounds for dimension " +
                         std::to_string(axis) + " with size " + std::to_string(n) + " (" + entry_str(k) +
                         ")");
      const int64_t p = *i < 0 ? *i + n : *i;
      y = squeeze(slice(y, axis, p, p + 1), axis);
    } else if (const Slice* s = std::get_if<Slice>(&v)) {
      const int64_t step = s->step.value_or(1);
      if (step <= 0) throw ValueError("index: slice step must be positive, got " + std::to_string(step));
      auto [start, stop] = slice_bounds(*s, y.shape()[axis]);
      if (start != 0 || stop != y.shape()[axis] || step != 1) y = slice(y, axis, start, stop, step);
      ++axis;
    } else if (std::holds_alternative<TensorIndex::NoneTag>(v)) {
      y = unsqueeze(y, axis);
      ++axis;
    } else if (is_mask(list[k])) {
      const Tensor& m = mask_of(list[k]);
      for (int d = 0; d < m.dim(); ++d)
        if (m.shape()[d] != y.shape()[axis + d])
          throw IndexError("index: the shape of the mask " + m.shape().str() + " at " + entry_str(k) +
                           " does not match the shape of the indexed tensor " + y.shape().str() +
                           " from axis " + std::to_string(axis));
      if (m.dim() == 0) throw IndexError("index: a 0-d mask is not supported (" + entry_str(k) + ")");
      for (Tensor& c : nonzero_coordinates(m)) adv.push_back({axis++, c});
    } else {
      const Tensor& t = std::get<Tensor>(v);
      adv.push_back({axis, checked_positions(t, y.shape()[axis], axis)});
      ++axis;
    }
  }
  if (adv.empty()) return y;

  // Advanced indices: broadcast together, turned into one flat position on the indexed axes
  // (moved to the front and merged), then one index_select.
  Shape b = adv[0].index.shape();
  for (const Advanced& a : adv) b = detail::broadcast_shapes(b, a.index.shape(), "index");
  bool adjacent = true;
  for (size_t j = 1; j < adv.size(); ++j) adjacent = adjacent && adv[j].axis == adv[j - 1].axis + 1;
  std::vector<int64_t> order;
  std::vector<bool> taken(y.dim(), false);
  for (const Advanced& a : adv) {
    order.push_back(a.axis);
    taken[a.axis] = true;
  }
  Shape rest;
  for (int d = 0; d < y.dim(); ++d)
    if (!taken[d]) {
      order.push_back(d);
      rest.push_back(y.shape()[d]);
    }
  Tensor flat;
  int64_t extent = 1;
  {
    NoGradGuard no_grad;  // positions carry no gradient
    for (size_t j = adv.size(); j-- > 0;) {
      const Tensor term = adv[j].index * static_cast<double>(extent);
      flat = flat.defined() ? flat + term : term;
      extent *= y.shape()[adv[j].axis];
    }
    flat = reshape(expand(flat, b), {b.numel()});
  }
  Shape merged{extent};
  for (int64_t r : rest) merged.push_back(r);
  Tensor out = index_select(reshape(permute(y, order), merged), 0, flat);
  Shape os = b;
  for (int64_t r : rest) os.push_back(r);
  out = reshape(out, os);
  const int first = adv[0].axis;
  if (adjacent && first > 0) {
    // The result axes take the place of the indexed ones.
    const int nb = b.rank();
    std::vector<int64_t> back;
    for (int d = 0; d < first; ++d) back.push_back(nb + d);
    for (int d = 0; d < nb; ++d) back.push_back(d);
    for (int d = first; d < static_cast<int>(rest.rank()); ++d) back.push_back(nb + d);
    out = permute(out, back);
  }
  return out;
}

Tensor index_positions(const Shape& shape, const std::vector<TensorIndex>& indices) {
  const Tensor all = reshape(arange(static_cast<double>(shape.numel()), {.dtype = Dtype::int64}), shape);
  return index(all, indices);
}

Tensor Tensor::index(std::initializer_list<TensorIndex> indices) const {
  return xg::index(*this, std::vector<TensorIndex>(indices));
}
Tensor Tensor::index(const std::vector<TensorIndex>& indices) const {
  return xg::index(*this, indices);
}
Tensor& Tensor::index_put_(std::initializer_list<TensorIndex> indices, const Tensor& values,
                           bool accumulate) {
  if (!values.defined()) throw ValueError("index_put_: the values are undefined");
  // The flat positions x[indices] reads, then one flat index_put_ (which checks, bumps the
  // version counter and writes) on a view of the same storage.
  const Tensor pos = index_positions(shape(), std::vector<TensorIndex>(indices));
  const Shape bs = detail::broadcast_shapes(values.shape(), pos.shape(), "index_put_");
  if (bs != pos.shape())
    throw ShapeError("index_put_: values of shape " + values.shape().str() +
                     " cannot be broadcast to the indexed shape " + pos.shape().str());
  Tensor flat = xg::reshape(*this, {numel()});
  Tensor vals;
  {
    NoGradGuard no_grad;
    vals = xg::reshape(xg::expand(values.to(dtype()), pos.shape()), {pos.numel()});
  }
  flat.index_put_(std::vector<Tensor>{xg::reshape(pos, {pos.numel()})}, vals, accumulate);
  return *this;
}
Tensor& Tensor::index_put_(std::initializer_list<TensorIndex> indices, double value) {
  return index_put_(indices, scalar_tensor(value, {.dtype = dtype()}));
}

}  // namespace xg
