// The out-of-line part of kernels/loops.hpp: output allocation, axis and broadcast checks, and
// the plans of the reduction loops.
#include "xgrad/autograd/kernels/loops.hpp"

#include <algorithm>
#include <sstream>
#include <utility>

#include "xgrad/autograd/tensor/object_pool.hpp"

namespace xg::detail {

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
  auto impl = make_pooled<TensorImpl>();
  impl->storage = make_pooled<Storage>(static_cast<std::size_t>(n) * dtype_size(dtype));
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor alias_with_shape(const Tensor& t, const Shape& shape) {
  auto impl = make_pooled<TensorImpl>();
  impl->storage = t.impl()->storage;
  impl->shape = shape;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

int wrap_axis(int64_t axis, int rank, const char* op) {
  const int64_t r = rank == 0 ? 1 : rank;  // a 0-d tensor accepts axis 0 and -1, as PyTorch
  if (axis < -r || axis >= r)
    throw IndexError(std::string(op) + ": axis " + std::to_string(axis) +
                     " is out of range for a tensor of rank " + std::to_string(rank) + " (valid axes are " +
                     std::to_string(-r) + " to " + std::to_string(r - 1) + ")");
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

std::string shape_str(const Shape& s) {
  return s.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  const int r = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank()), ib = i - (r - b.rank());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op) + ": shapes " + a.str() + " and " + b.str() +
                       " cannot be broadcast (axis " + std::to_string(i - r) + ": " + std::to_string(da) +
                       " vs " + std::to_string(db) + ")");
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
    if (!runs.empty() && runs.back().second == reduced[i])
      runs.back().first *= in[i];
    else
      runs.push_back({in[i], reduced[i]});
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

}  // namespace xg::detail
