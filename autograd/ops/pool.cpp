// Pooling: max_pool2d, adaptive_max_pool2d and the average pools (avg_pool2d, adaptive_avg_pool2d);
// the 1-D pools are composites on the [N, C, 1, L] view. Each op's kernel, backward formula and
// samples sit together. Every backward is written with ops, so create_graph differentiates
// through them:
//   max_pool2d, adaptive_max_pool2d -> max_pool2d_backward (scatter at the argmax) -> gather
//   avg_pool2d / adaptive_avg_pool2d <-> avg_pool2d_backward (the transposed linear map)
#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/ops/window.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::Domain;
using detail::pair_str;
using detail::sample_tensor;
using detail::valid_range;

namespace {

// PyTorch's pooling_output_shape.
int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (out - 1) * s >= in + p)
    --out;  // the last window must start inside the input or left padding
  return out;
}

struct PoolGeom {
  int64_t planes, h, w, ho, wo;
};

// Validates a pool's arguments on a 4-D input and computes its output size.
PoolGeom pool_geom(const Tensor& x, Size2 k, Size2 s, Size2 p, Size2 d, bool ceil_mode, const char* op) {
  const std::string args = " (input " + x.shape().str() + ", kernel_size " + pair_str(k) + ", stride " +
                           pair_str(s) + ", padding " + pair_str(p) +
                           (d.h == 1 && d.w == 1 ? std::string() : ", dilation " + pair_str(d)) + ")";
  if (x.dim() != 4)
    throw ShapeError(std::string(op) + ": expected a 4-D input [N, C, H, W] or 3-D [C, H, W]" + args);
  if (k.h <= 0 || k.w <= 0) throw ValueError(std::string(op) + ": kernel_size must be positive" + args);
  if (s.h <= 0 || s.w <= 0) throw ValueError(std::string(op) + ": stride must be positive" + args);
  if (d.h <= 0 || d.w <= 0) throw ValueError(std::string(op) + ": dilation must be positive" + args);
  if (p.h < 0 || p.w < 0 || 2 * p.h > k.h || 2 * p.w > k.w)
    throw ValueError(std::string(op) + ": padding must be non-negative and at most half the kernel size" +
                     args);
  PoolGeom g{x.shape()[0] * x.shape()[1], x.shape()[2], x.shape()[3], 0, 0};
  g.ho = pool_out(g.h, k.h, s.h, p.h, d.h, ceil_mode);
  g.wo = pool_out(g.w, k.w, s.w, p.w, d.w, ceil_mode);
  if (g.ho <= 0 || g.wo <= 0)
    throw ShapeError(std::string(op) + ": the output would be empty (" + std::to_string(g.ho) + " x " +
                     std::to_string(g.wo) + ")" + args);
  return g;
}

// Planes per parallel_for chunk for a pool doing `work` element steps per plane: at least about
// 16K steps per chunk, so that small pools (the gradcheck samples) run inline.
int64_t plane_grain(int64_t work) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(work, 1));
}

Tensor as_batched(const Tensor& x, const char* op) {
  if (!x.defined()) throw ValueError(std::string(op) + ": the input is undefined");
  return x.dim() == 3 ? unsqueeze(x, 0) : x;
}

}  // namespace

// ---- max_pool2d ----
XG_OP(
    max_pool2d,
    {.formula =
         "d/dx max_pool2d(x) = max_pool2d_backward(grad, argmax indices): grad added at each window's argmax",
     .kind = OpKind::primitive,
     .samples =
         [] {
           auto call = [](Size2 k, std::optional<Size2> s, Size2 p, Size2 d, bool ceil) {
             return [=](std::span<const Tensor> t) { return max_pool2d(t[0], k, s, p, d, ceil); };
           };
           return std::vector<OpSample>{
               {"[2, 2, 4, 4] kernel 2",
                {sample_tensor({2, 2, 4, 4}, Domain::real, 1)},
                call(2, std::nullopt, 0, 1, false),
                0,
                "OP(x0, 2)"},
               {"[1, 2, 4, 11] kernel 2 (the vector path: 5 columns, the last group overlapping)",
                {sample_tensor({1, 2, 4, 11}, Domain::real, 6)},
                call(2, std::nullopt, 0, 1, false),
                0,
                "OP(x0, 2)"},
               {"[2, 3, 5, 5] kernel 3 stride 2 padding 1",
                {sample_tensor({2, 3, 5, 5}, Domain::real, 2)},
                call(3, 2, 1, 1, false),
                0,
                "OP(x0, 3, 2, 1)"},
               {"[1, 2, 6, 5] kernel 2 stride 1 dilation 2 (overlapping)",
                {sample_tensor({1, 2, 6, 5}, Domain::real, 3)},
                call(2, 1, 0, 2, false),
                0,
                "OP(x0, 2, 1, 0, 2)"},
               {"[2, 2, 5, 6] kernel (2, 3) stride (2, 2) ceil_mode",
                {sample_tensor({2, 2, 5, 6}, Domain::real, 4)},
                call({2, 3}, Size2{2, 2}, 0, 1, true),
                0,
                "OP(x0, (2, 3), (2, 2), 0, 1, True)"},
               {"unbatched [2, 4, 4] kernel 3 stride 1 padding 1",
                {sample_tensor({2, 4, 4}, Domain::real, 5)},
                call(3, 1, 1, 1, false),
                0,
                "OP(x0, 3, 1, 1)"},
           };
         },
     .torch = "torch.nn.functional.max_pool2d"});
XG_OP(max_pool2d_backward,
      {.formula = "scatter of g to the argmax positions; d/dg = gather(grad, argmax indices)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto make = [](const char* label, Shape xs, Size2 k, Size2 s, Size2 p, unsigned salt) {
               Tensor x = sample_tensor(xs, Domain::real, salt).detach();
               Tensor idx = max_pool2d_with_indices(x, k, s, p).second;
               auto size = [](Size2 v) {
                 std::string out = "[";  // appended: GCC 12 warns on "[" + s
                 out += std::to_string(v.h) + ", " + std::to_string(v.w) + "]";
                 return out;
               };
               std::string zeros = "torch.zeros(";
               for (int i = 0; i < xs.rank(); ++i) zeros += std::to_string(xs[i]) + ", ";
               // the indices are an input (int64, no gradient) for the parity suite to see them
               return OpSample{
                   label,
                   {sample_tensor(idx.shape(), Domain::real, salt + 1), idx},
                   [xs](std::span<const Tensor> t) { return max_pool2d_backward(t[0], t[1], xs); },
                   0,
                   "OP(x0, " + zeros + "dtype=torch.float64), " + size(k) + ", " + size(s) + ", " + size(p) +
                       ", [1, 1], False, x1)"};
             };
             return std::vector<OpSample>{
                 make("[2, 2, 4, 4] kernel 2", {2, 2, 4, 4}, 2, 2, 0, 11),
                 make("[2, 2, 5, 5] kernel 3 stride 1 padding 1 (overlapping)", {2, 2, 5, 5}, 3, 1, 1, 12),
             };
           },
       .torch = "torch.ops.aten.max_pool2d_with_indices_backward"});

namespace {
Tensor max_pool2d_backward_impl(const Tensor& gy, const Tensor& idx, const Shape& xs);

// The extents of a max pool, passed by value: the kernel unpacks them into locals, which the
// int64 index stores cannot alias (fields reached through a pointer, or locals whose address a
// parallel_for closure holds, could be, and would be reloaded after every store).
struct MaxPoolDims {
  int64_t H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Four outputs of a 2x2 / stride 2 max pool: windows at columns c, c + 2, c + 4, c + 6 of the row
// pair r0 (row) and r0 + W (next row); pos is the index of r0[c] in its plane. A tap wins if it is
// greater or NaN, as PyTorch (the later NaN: the window's last).
template <class T>
struct Vec4;  // four T in one vector register (GCC vector extensions do not take a dependent type)
template <>
struct Vec4<float> {
  typedef float type __attribute__((vector_size(16)));
};
template <>
struct Vec4<double> {
  typedef double type __attribute__((vector_size(32)));
};

template <class T>
inline void pool2x2_4(const T* r0, int64_t W, int64_t pos, int64_t c, T* y, int64_t* idx) {
  using V = typename Vec4<T>::type;
  typedef int64_t I __attribute__((vector_size(32)));
  V a0, a1, b0, b1;
  std::memcpy(&a0, r0 + c, sizeof(V));
  std::memcpy(&a1, r0 + c + 4, sizeof(V));
  std::memcpy(&b0, r0 + W + c, sizeof(V));
  std::memcpy(&b1, r0 + W + c + 4, sizeof(V));
  const V tl = __builtin_shufflevector(a0, a1, 0, 2, 4, 6), tr = __builtin_shufflevector(a0, a1, 1, 3, 5, 7);
  const V bl = __builtin_shufflevector(b0, b1, 0, 2, 4, 6), br = __builtin_shufflevector(b0, b1, 1, 3, 5, 7);
  const I base = I{0, 2, 4, 6} + pos;
  V m = tl;
  I at = base;
  auto pick = [&](V v, int64_t off) {
    const I take = __builtin_convertvector((v > m) | (v != v), I);
    m = (v > m) | (v != v) ? v : m;
    at = take ? base + off : at;
  };
  pick(tr, 1);
  pick(bl, W);
  pick(br, W + 1);
  std::memcpy(y, &m, sizeof(V));
  std::memcpy(idx, &at, sizeof(I));
}

// Planes [p0, p1) of a max pool. Per output row: taps outer, output columns inner. The inner loop
// is a branch-free select over a contiguous output row (random data would mispredict a branch per
// tap), and taps are visited in row-major window order, so ties go to the first maximum, as PyTorch.
template <class T>
void max_pool_planes(const T* in, T* out, int64_t* id, int64_t p0, int64_t p1, const MaxPoolDims dims) {
  const int64_t H = dims.H, W = dims.W, Ho = dims.Ho, Wo = dims.Wo, hw = H * W, L = Ho * Wo;
  const int64_t kh = dims.kh, kw = dims.kw, sh = dims.sh, sw = dims.sw, ph = dims.ph, pw = dims.pw,
                dh = dims.dh, dw = dims.dw;
  auto pick = [](T v, T& b, int64_t pos, int64_t& at) {
    const bool take = (v > b) | (v != v);  // NaN wins, as PyTorch
    b = take ? v : b;
    at = take ? pos : at;
  };
  if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 && dh == 1 && dw == 1 && 2 * Ho <= H &&
      2 * Wo <= W) {
    // The common 2x2 / stride 2 pool: four output columns at a time in vector registers (rows of
    // 7 or 14 outputs left the compiler's vector loop idle and its scalar tail branching on random
    // data: 7 ns per output), the last group overlapping the one before when 4 does not divide Wo.
    // Picks are in window order (top pair, then bottom pair, left tap first), as the loop below.
    if (Wo >= 4) {
      for (int64_t pl = p0; pl < p1; ++pl)
        for (int64_t oh = 0; oh < Ho; ++oh) {
          const int64_t q0 = 2 * oh * W;
          const T* r0 = in + pl * hw + q0;
          for (int64_t ow = 0;; ow += 4) {
            ow = std::min(ow, Wo - 4);
            pool2x2_4(r0, W, q0 + 2 * ow, 2 * ow, out + pl * L + oh * Wo + ow, id + pl * L + oh * Wo + ow);
            if (ow == Wo - 4) break;
          }
        }
      return;
    }
    for (int64_t pl = p0; pl < p1; ++pl) {
      const T* xp = in + pl * hw;
      for (int64_t oh = 0; oh < Ho; ++oh) {
        const T* __restrict r0 = xp + 2 * oh * W;
        const T* __restrict r1 = r0 + W;
        T* __restrict yb = out + pl * L + oh * Wo;
        int64_t* __restrict yi = id + pl * L + oh * Wo;
        const int64_t q0 = 2 * oh * W;
        for (int64_t ow = 0; ow < Wo; ++ow) {
          T b = r0[2 * ow];
          int64_t at = q0 + 2 * ow;
          pick(r0[2 * ow + 1], b, q0 + 2 * ow + 1, at);
          pick(r1[2 * ow], b, q0 + W + 2 * ow, at);
          pick(r1[2 * ow + 1], b, q0 + W + 2 * ow + 1, at);
          yb[ow] = b;
          yi[ow] = at;
        }
      }
    }
    return;
  }
  for (int64_t pl = p0; pl < p1; ++pl) {
    const T* xp = in + pl * hw;
    for (int64_t oh = 0; oh < Ho; ++oh) {
      T* __restrict yb = out + pl * L + oh * Wo;
      int64_t* __restrict yi = id + pl * L + oh * Wo;
      const int64_t h0 = oh * sh - ph;
      const int64_t i0 = h0 >= 0 ? 0 : (-h0 + dh - 1) / dh;
      const int64_t i1 = std::max(i0, std::min(kh, h0 <= H - 1 ? (H - 1 - h0) / dh + 1 : 0));
      for (int64_t ow = 0; ow < Wo; ++ow) {  // start at the first tap inside the input
        const int64_t w0 = ow * sw - pw;
        yb[ow] = -std::numeric_limits<T>::infinity();
        yi[ow] = (h0 + i0 * dh) * W + w0 + (w0 >= 0 ? 0 : (-w0 + dw - 1) / dw) * dw;
      }
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t ih = h0 + i * dh;
        for (int64_t j = 0; j < kw; ++j) {
          const int64_t off = j * dw - pw;
          int64_t lo, hi;
          valid_range(off, sw, W, Wo, lo, hi);
          const T* __restrict xr = xp + ih * W + off;
          const int64_t base = ih * W + off;
          for (int64_t ow = lo; ow < hi; ++ow) pick(xr[ow * sw], yb[ow], base + ow * sw, yi[ow]);
        }
      }
    }
  }
}

// The replayed max pool and its backward (autograd/capture): the forward runs max_pool_planes on
// the plan's buffers; the backward's per-plane sums run in eager's order (so its values), with
// indices that the captured forward wrote. n[]: planes, grain (backward: planes, hw, L).
template <class T>
void max_pool_replay(const capture_detail::Kernel& k) {
  const T* in = static_cast<const T*>(k.buf[0]);
  T* out = static_cast<T*>(k.buf[1]);
  int64_t* id = static_cast<int64_t*>(k.buf[2]);
  const MaxPoolDims dims = *static_cast<const MaxPoolDims*>(k.aux);
  detail::parallel_for(k.n[0], k.n[1],
                       [&](int64_t p0, int64_t p1) { max_pool_planes(in, out, id, p0, p1, dims); });
}
template <class T>
void max_pool_backward_replay(const capture_detail::Kernel& k) {
  const T* g = static_cast<const T*>(k.buf[0]);
  const int64_t* ip = static_cast<const int64_t*>(k.buf[1]);
  T* out = static_cast<T*>(k.buf[2]);
  const int64_t hw = k.n[1], L = k.n[2];
  detail::parallel_for(k.n[0], plane_grain(hw), [&](int64_t p0, int64_t p1) {
    std::fill(out + p0 * hw, out + p1 * hw, T(0));
    for (int64_t pl = p0; pl < p1; ++pl)
      for (int64_t l = 0; l < L; ++l) out[pl * hw + ip[pl * L + l]] += g[pl * L + l];
  });
}

std::pair<Tensor, Tensor> max_pool2d_impl(const Tensor& x, Size2 k, Size2 s, Size2 p, Size2 d,
                                          bool ceil_mode) {
  const PoolGeom g = pool_geom(x, k, s, p, d, ceil_mode, "max_pool2d");
  if (!x.is_floating_point())
    throw TypeError(std::string("max_pool2d: expected a float tensor, got ") + dtype_name(x.dtype()));
  const Shape os{x.shape()[0], x.shape()[1], g.ho, g.wo};
  Tensor y = detail::new_tensor(os, x.dtype());
  Tensor idx = detail::new_tensor(os, Dtype::int64);
  const MaxPoolDims dims{g.h, g.w, g.ho, g.wo, k.h, k.w, s.h, s.w, p.h, p.w, d.h, d.w};
  detail::visit_float(x.dtype(), "max_pool2d", [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    int64_t* id = idx.data<int64_t>();
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit_with("max_pool2d", max_pool_replay<T>,
                                {capture_detail::R(x), capture_detail::W(y), capture_detail::W(idx)}, dims,
                                {g.planes, plane_grain(g.h * g.w)});
    detail::parallel_for(g.planes, plane_grain(g.h * g.w),
                         [&](int64_t p0, int64_t p1) { max_pool_planes(in, out, id, p0, p1, dims); });
  });
  if (!will_record({x})) return {y, idx};
  Tensor r = record(
      opdefs::max_pool2d_op, y, {x},
      [idx, xs = x.shape()](const Node&, const Tensor& gy, std::span<Tensor> gx) {
        gx[0] = max_pool2d_backward_impl(gy, idx, xs);
      },
      [&](std::span<const Tensor> t) {
        // the tangent at each window's argmax (a gather: linear in the tangent)
        const int64_t pl = x.shape()[0] * x.shape()[1], hw = x.shape()[2] * x.shape()[3];
        return reshape(gather(reshape(t[0], {pl, hw}), 1, reshape(idx, {pl, os[2] * os[3]})), os);
      });
  return {r, idx};
}

Tensor max_pool2d_backward_impl(const Tensor& gy, const Tensor& idx, const Shape& xs) {
  if (!gy.defined() || !idx.defined()) throw ValueError("max_pool2d_backward: an operand is undefined");
  if (idx.dtype() != Dtype::int64)
    throw TypeError(std::string("max_pool2d_backward: indices must be int64, got ") +
                    dtype_name(idx.dtype()));
  if (xs.rank() != 4 || idx.dim() != 4 || !(gy.shape() == idx.shape()) || idx.shape()[0] != xs[0] ||
      idx.shape()[1] != xs[1])
    throw ShapeError("max_pool2d_backward: grad_output " + gy.shape().str() + " and indices " +
                     idx.shape().str() + " must have equal [N, C, Ho, Wo] shapes matching the input " +
                     xs.str());
  const int64_t planes = xs[0] * xs[1], hw = xs[2] * xs[3], L = idx.shape()[2] * idx.shape()[3];
  Tensor gx = detail::new_tensor(xs, gy.dtype());
  const int64_t* ip = idx.data<int64_t>();
  std::atomic<bool> bad{false};
  detail::visit_float(gy.dtype(), "max_pool2d_backward", [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit("max_pool2d_backward", max_pool_backward_replay<T>,
                           {capture_detail::R(gy), capture_detail::R(idx), capture_detail::W(gx)},
                           {planes, hw, L});
    const T* g = gy.data<T>();
    T* out = gx.data<T>();
    detail::parallel_for(planes, plane_grain(hw), [&](int64_t p0, int64_t p1) {
      std::fill(out + p0 * hw, out + p1 * hw, T(0));
      bool ok = true;
      for (int64_t pl = p0; pl < p1; ++pl) {
        const int64_t* ipl = ip + pl * L;
        const T* gpl = g + pl * L;
        T* opl = out + pl * hw;
        for (int64_t l = 0; l < L; ++l) {
          const int64_t i = ipl[l];
          if (i >= 0 && i < hw)
            opl[i] += gpl[l];
          else
            ok = false;
        }
      }
      if (!ok) bad.store(true, std::memory_order_relaxed);
    });
  });
  if (bad.load())
    for (int64_t i = 0, n = idx.numel(); i < n; ++i)
      if (ip[i] < 0 || ip[i] >= hw)
        throw IndexError("max_pool2d_backward: index " + std::to_string(ip[i]) +
                         " is out of range for planes of " + std::to_string(hw) + " elements (input " +
                         xs.str() + ")");
  return record(
      opdefs::max_pool2d_backward_op, gx, {gy},
      [idx, planes, hw, L](const Node&, const Tensor& gg, std::span<Tensor> gi) {
        gi[0] = reshape(gather(reshape(gg, {planes, hw}), 1, reshape(idx, {planes, L})), idx.shape());
      },
      [&](std::span<const Tensor> t) {
        return max_pool2d_backward_impl(t[0], idx, xs);  // linear in the gradient
      });
}
}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x0, Size2 kernel_size,
                                                  std::optional<Size2> stride, Size2 padding, Size2 dilation,
                                                  bool ceil_mode) {
  const Tensor x = as_batched(x0, "max_pool2d");
  auto [y, idx] = max_pool2d_impl(x, kernel_size, stride.value_or(kernel_size), padding, dilation, ceil_mode);
  if (x0.dim() == 3) return {squeeze(y, 0), squeeze(idx, 0)};
  return {y, idx};
}
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride, Size2 padding,
                  Size2 dilation, bool ceil_mode) {
  return max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode).first;
}
Tensor max_pool2d_backward(const Tensor& grad_output, const Tensor& indices, const Shape& input_shape) {
  return max_pool2d_backward_impl(grad_output, indices, input_shape);
}

// ---- average pools: windows [start, end) per output row and column, and a divisor per window ----
namespace {
struct Windows {
  std::vector<int64_t> r0, r1, c0, c1;  // row / column window bounds (clipped to the input)
  std::vector<int64_t> rn, cn;          // divisor factors per output row / column
  int64_t divisor = 0;                  // when > 0, replaces rn[oh] * cn[ow]
  bool adaptive = false;                // which forward op records the transposed map
  Shape in_shape, out_shape;
};

void avg_windows(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, bool count_pad,
                 std::vector<int64_t>& b0, std::vector<int64_t>& b1, std::vector<int64_t>& n) {
  for (int64_t o = 0; o < out; ++o) {  // PyTorch's avg_pool2d: the padded window is clipped to in + p
    int64_t start = o * s - p, end = std::min(start + k, in + p);
    const int64_t padded = end - start;
    start = std::max<int64_t>(start, 0);
    end = std::min(end, in);
    b0.push_back(start);
    b1.push_back(end);
    n.push_back(count_pad ? padded : end - start);
  }
}
void adaptive_windows(int64_t in, int64_t out, std::vector<int64_t>& b0, std::vector<int64_t>& b1,
                      std::vector<int64_t>& n) {
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = (o * in) / out, end = ((o + 1) * in + out - 1) / out;
    b0.push_back(start);
    b1.push_back(end);
    n.push_back(end - start);
  }
}

// Calls f(xp, e, oh, ow, div) for each output element of planes [p0, p1): xp is the plane's
// [h, w] side in x, e its element (oh, ow) on the [ho, wo] side in y, div that window's divisor.
// The forward sums window (oh, ow) of xp into e; the backward spreads e back over the window.
// Always inlined into the kernels' parallel_for bodies: kept out of line (GCC 12's choice), the
// forward ran 1.5% more instructions.
template <class X, class Y, class F>
[[gnu::always_inline]] inline void for_each_window(const Windows& W, X* x, Y* y, int64_t p0, int64_t p1,
                                                   F&& f) {
  const int64_t hw = W.in_shape[2] * W.in_shape[3], ho = W.out_shape[2], wo = W.out_shape[3];
  for (int64_t pl = p0; pl < p1; ++pl) {
    X* xp = x + pl * hw;
    Y* yp = y + pl * ho * wo;
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int64_t ow = 0; ow < wo; ++ow)
        f(xp, yp[oh * wo + ow], oh, ow, W.divisor > 0 ? W.divisor : W.rn[oh] * W.cn[ow]);
  }
}

Tensor window_avg(const Tensor& x, std::shared_ptr<const Windows> wd);
Tensor window_avg_backward(const Tensor& gy, std::shared_ptr<const Windows> wd);
}  // namespace

XG_OP(avg_pool2d,
      {.formula =
           "linear: d/dx avg_pool2d(x) = avg_pool2d_backward(grad), each window's mean spread back over it",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto call = [](Size2 k, std::optional<Size2> s, Size2 p, bool ceil, bool cip,
                            std::optional<int64_t> div) {
               return [=](std::span<const Tensor> t) { return avg_pool2d(t[0], k, s, p, ceil, cip, div); };
             };
             return std::vector<OpSample>{
                 {"[2, 2, 4, 4] kernel 2",
                  {sample_tensor({2, 2, 4, 4}, Domain::real, 1)},
                  call(2, std::nullopt, 0, false, true, std::nullopt),
                  0,
                  "OP(x0, 2)"},
                 {"[2, 3, 5, 5] kernel 3 stride 2 padding 1",
                  {sample_tensor({2, 3, 5, 5}, Domain::real, 2)},
                  call(3, 2, 1, false, true, std::nullopt),
                  0,
                  "OP(x0, 3, 2, 1)"},
                 {"[2, 3, 5, 5] kernel 3 stride 2 padding 1 count_include_pad=false",
                  {sample_tensor({2, 3, 5, 5}, Domain::real, 3)},
                  call(3, 2, 1, false, false, std::nullopt),
                  0,
                  "OP(x0, 3, 2, 1, False, False)"},
                 {"[1, 2, 5, 6] kernel (2, 3) stride 2 ceil_mode",
                  {sample_tensor({1, 2, 5, 6}, Domain::real, 4)},
                  call({2, 3}, 2, 0, true, true, std::nullopt),
                  0,
                  "OP(x0, (2, 3), 2, 0, True)"},
                 {"[1, 2, 4, 4] kernel 2 stride 1 divisor_override 3",
                  {sample_tensor({1, 2, 4, 4}, Domain::real, 5)},
                  call(2, 1, 0, false, true, 3),
                  0,
                  "OP(x0, 2, 1, 0, False, True, 3)"},
             };
           },
       .torch = "torch.nn.functional.avg_pool2d"});
XG_OP(adaptive_avg_pool2d,
      {.formula = "linear: d/dx adaptive_avg_pool2d(x) = avg_pool2d_backward(grad) over the adaptive windows",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto call = [](Size2 o) {
               return [=](std::span<const Tensor> t) { return adaptive_avg_pool2d(t[0], o); };
             };
             return std::vector<OpSample>{
                 {"[2, 2, 5, 7] -> (3, 4) (overlapping windows)",
                  {sample_tensor({2, 2, 5, 7}, Domain::real, 1)},
                  call({3, 4}),
                  0,
                  "OP(x0, (3, 4))"},
                 {"[2, 3, 4, 4] -> 1 (global)",
                  {sample_tensor({2, 3, 4, 4}, Domain::real, 2)},
                  call(1),
                  0,
                  "OP(x0, 1)"},
                 {"[1, 2, 3, 2] -> (5, 4) (upsampling)",
                  {sample_tensor({1, 2, 3, 2}, Domain::real, 3)},
                  call({5, 4}),
                  0,
                  "OP(x0, (5, 4))"},
             };
           },
       .torch = "torch.nn.functional.adaptive_avg_pool2d"});
XG_OP(avg_pool2d_backward,
      {.formula = "the transposed map of an average pool; d/dg = the average pool itself (it is linear)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto via_grad = [](std::function<Tensor(const Tensor&)> pool, Shape xs) {
               return [pool, xs](std::span<const Tensor> t) {
                 Tensor x = zeros(xs, {.dtype = Dtype::float64, .requires_grad = true});
                 return xg::grad({pool(x)}, {x}, {t[0]}, true, true)[0];
               };
             };
             return std::vector<OpSample>{
                 {"grad of avg_pool2d [2, 2, 5, 5] kernel 3 stride 2 padding 1",
                  {sample_tensor({2, 2, 3, 3}, Domain::real, 1)},
                  via_grad([](const Tensor& x) { return avg_pool2d(x, 3, 2, 1); }, {2, 2, 5, 5}),
                  0,
                  "OP(x0, torch.zeros(2, 2, 5, 5, dtype=torch.float64), [3, 3], [2, 2], [1, 1], False, True, "
                  "None)"},
                 {"grad of adaptive_avg_pool2d [1, 2, 5, 7] -> (3, 4)",
                  {sample_tensor({1, 2, 3, 4}, Domain::real, 2)},
                  via_grad(
                      [](const Tensor& x) {
                        return adaptive_avg_pool2d(x, {3, 4});
                      },
                      {1, 2, 5, 7}),
                  0,
                  "torch.ops.aten._adaptive_avg_pool2d_backward(x0, torch.zeros(1, 2, 5, 7, "
                  "dtype=torch.float64))"},
             };
           },
       .torch = "torch.ops.aten.avg_pool2d_backward"});

namespace {
Tensor window_avg(const Tensor& x, std::shared_ptr<const Windows> wd) {
  const Windows& W = *wd;
  Tensor y = detail::new_tensor(W.out_shape, x.dtype());
  const int64_t planes = W.in_shape[0] * W.in_shape[1], h = W.in_shape[2], w = W.in_shape[3];
  const int64_t ho = W.out_shape[2], wo = W.out_shape[3];
  const char* op = W.adaptive ? "adaptive_avg_pool2d" : "avg_pool2d";
  detail::visit_float(x.dtype(), op, [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    detail::parallel_for(planes, plane_grain(std::max(h * w, ho * wo)), [&](int64_t p0, int64_t p1) {
      for_each_window(W, in, out, p0, p1, [&](const T* xp, T& y_at, int64_t oh, int64_t ow, int64_t div) {
        T acc = 0;
        for (int64_t i = W.r0[oh]; i < W.r1[oh]; ++i)
          for (int64_t j = W.c0[ow]; j < W.c1[ow]; ++j) acc += xp[i * w + j];
        y_at = acc / static_cast<T>(div);
      });
    });
  });
  return record(
      W.adaptive ? opdefs::adaptive_avg_pool2d_op : opdefs::avg_pool2d_op, y, {x},
      [wd](const Node&, const Tensor& gy, std::span<Tensor> gx) { gx[0] = window_avg_backward(gy, wd); },
      [&](std::span<const Tensor> t) {
        return window_avg(t[0], wd);  // linear
      });
}

Tensor window_avg_backward(const Tensor& gy, std::shared_ptr<const Windows> wd) {
  const Windows& W = *wd;
  if (!(gy.shape() == W.out_shape))
    throw ShapeError("avg_pool2d_backward: grad_output has shape " + gy.shape().str() + ", expected " +
                     W.out_shape.str());
  Tensor gx = detail::new_tensor(W.in_shape, gy.dtype());
  const int64_t planes = W.in_shape[0] * W.in_shape[1], h = W.in_shape[2], w = W.in_shape[3];
  const int64_t ho = W.out_shape[2], wo = W.out_shape[3];
  detail::visit_float(gy.dtype(), "avg_pool2d_backward", [&]<class T>() {
    const T* g = gy.data<T>();
    T* out = gx.data<T>();
    detail::parallel_for(planes, plane_grain(std::max(h * w, ho * wo)), [&](int64_t p0, int64_t p1) {
      std::fill(out + p0 * h * w, out + p1 * h * w, T(0));
      for_each_window(W, out, g, p0, p1, [&](T* xp, const T& g_at, int64_t oh, int64_t ow, int64_t div) {
        const T v = g_at / static_cast<T>(div);
        for (int64_t i = W.r0[oh]; i < W.r1[oh]; ++i)
          for (int64_t j = W.c0[ow]; j < W.c1[ow]; ++j) xp[i * w + j] += v;
      });
    });
  });
  return record(
      opdefs::avg_pool2d_backward_op, gx, {gy},
      [wd](const Node&, const Tensor& gg, std::span<Tensor> gi) { gi[0] = window_avg(gg, wd); },
      [&](std::span<const Tensor> t) {
        return window_avg_backward(t[0], wd);  // linear
      });
}
}  // namespace

Tensor avg_pool2d(const Tensor& x0, Size2 kernel_size, std::optional<Size2> stride0, Size2 padding,
                  bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override) {
  const Tensor x = as_batched(x0, "avg_pool2d");
  const Size2 stride = stride0.value_or(kernel_size);
  const PoolGeom g = pool_geom(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d");
  if (divisor_override && *divisor_override <= 0)
    throw ValueError("avg_pool2d: divisor_override must be positive, got " +
                     std::to_string(*divisor_override));
  auto wd = std::make_shared<Windows>();
  avg_windows(g.h, g.ho, kernel_size.h, stride.h, padding.h, count_include_pad, wd->r0, wd->r1, wd->rn);
  avg_windows(g.w, g.wo, kernel_size.w, stride.w, padding.w, count_include_pad, wd->c0, wd->c1, wd->cn);
  wd->divisor = divisor_override.value_or(0);
  wd->in_shape = x.shape();
  wd->out_shape = Shape{x.shape()[0], x.shape()[1], g.ho, g.wo};
  Tensor y = window_avg(x, std::move(wd));
  return x0.dim() == 3 ? squeeze(y, 0) : y;
}

Tensor adaptive_avg_pool2d(const Tensor& x0, Size2 output_size) {
  const Tensor x = as_batched(x0, "adaptive_avg_pool2d");
  if (x.dim() != 4)
    throw ShapeError("adaptive_avg_pool2d: expected a 4-D input [N, C, H, W] or 3-D [C, H, W], got " +
                     x0.shape().str());
  if (output_size.h <= 0 || output_size.w <= 0)
    throw ValueError("adaptive_avg_pool2d: output_size must be positive, got " + pair_str(output_size));
  if (x.shape()[2] == 0 || x.shape()[3] == 0)
    throw ShapeError("adaptive_avg_pool2d: the input " + x0.shape().str() + " has an empty spatial axis");
  auto wd = std::make_shared<Windows>();
  adaptive_windows(x.shape()[2], output_size.h, wd->r0, wd->r1, wd->rn);
  adaptive_windows(x.shape()[3], output_size.w, wd->c0, wd->c1, wd->cn);
  wd->adaptive = true;
  wd->in_shape = x.shape();
  wd->out_shape = Shape{x.shape()[0], x.shape()[1], output_size.h, output_size.w};
  Tensor y = window_avg(x, std::move(wd));
  return x0.dim() == 3 ? squeeze(y, 0) : y;
}

// ---- adaptive_max_pool2d: the adaptive windows of adaptive_avg_pool2d, max as max_pool2d ----
XG_OP(adaptive_max_pool2d,
      {.formula = "d/dx adaptive_max_pool2d(x) = max_pool2d_backward(grad, argmax indices): grad added at "
                  "each window's argmax",
       .kind = OpKind::primitive,
       .samples =
           [] {
             auto call = [](Size2 o) {
               return [=](std::span<const Tensor> t) { return adaptive_max_pool2d(t[0], o); };
             };
             return std::vector<OpSample>{
                 {"[2, 2, 5, 7] -> (3, 4) (overlapping windows)",
                  {sample_tensor({2, 2, 5, 7}, Domain::real, 1)},
                  call({3, 4}),
                  0,
                  "OP(x0, (3, 4))"},
                 {"[2, 3, 4, 4] -> 1 (global)",
                  {sample_tensor({2, 3, 4, 4}, Domain::real, 2)},
                  call(1),
                  0,
                  "OP(x0, 1)"},
                 {"unbatched [2, 6, 3] -> (4, 2)",
                  {sample_tensor({2, 6, 3}, Domain::real, 3)},
                  call({4, 2}),
                  0,
                  "OP(x0, (4, 2))"},
             };
           },
       .torch = "torch.nn.functional.adaptive_max_pool2d"});

std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x0, Size2 output_size) {
  const Tensor x = as_batched(x0, "adaptive_max_pool2d");
  if (x.dim() != 4)
    throw ShapeError("adaptive_max_pool2d: expected a 4-D input [N, C, H, W] or 3-D [C, H, W], got " +
                     x0.shape().str());
  if (output_size.h <= 0 || output_size.w <= 0)
    throw ValueError("adaptive_max_pool2d: output_size must be positive, got " + pair_str(output_size));
  if (x.shape()[2] == 0 || x.shape()[3] == 0)
    throw ShapeError("adaptive_max_pool2d: the input " + x0.shape().str() + " has an empty spatial axis");
  if (!x.is_floating_point())
    throw TypeError(std::string("adaptive_max_pool2d: expected a float tensor, got ") +
                    dtype_name(x.dtype()));
  const int64_t H = x.shape()[2], W = x.shape()[3], ho = output_size.h, wo = output_size.w;
  std::vector<int64_t> r0, r1, rn, c0, c1, cn;
  adaptive_windows(H, ho, r0, r1, rn);
  adaptive_windows(W, wo, c0, c1, cn);
  const Shape os{x.shape()[0], x.shape()[1], ho, wo};
  Tensor y = detail::new_tensor(os, x.dtype());
  Tensor idx = detail::new_tensor(os, Dtype::int64);
  const int64_t planes = os[0] * os[1], hw = H * W, L = ho * wo;
  // Each window is scanned once in row-major order: ties go to the first maximum, NaN wins.
  // Adjacent windows of an axis share at most one element, so the work is O(H W + ho wo) per plane.
  detail::visit_float(x.dtype(), "adaptive_max_pool2d", [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    int64_t* id = idx.data<int64_t>();
    detail::parallel_for(planes, plane_grain(std::max(hw, L)), [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* xp = in + pl * hw;
        for (int64_t oh = 0; oh < ho; ++oh)
          for (int64_t ow = 0; ow < wo; ++ow) {
            int64_t at = r0[oh] * W + c0[ow];
            T b = xp[at];
            for (int64_t i = r0[oh]; i < r1[oh]; ++i)
              for (int64_t j = c0[ow]; j < c1[ow]; ++j) {
                const T v = xp[i * W + j];
                if (v > b || v != v) {
                  b = v;
                  at = i * W + j;
                  if (v != v) goto done;  // NaN: nothing beats it
                }
              }
          done:
            out[pl * L + oh * wo + ow] = b;
            id[pl * L + oh * wo + ow] = at;
          }
      }
    });
  });
  if (will_record({x}))
    y = record(
        opdefs::adaptive_max_pool2d_op, y, {x},
        [idx, xs = x.shape()](const Node&, const Tensor& gy, std::span<Tensor> gx) {
          gx[0] = max_pool2d_backward(gy, idx, xs);
        },
        [&](std::span<const Tensor> t) {
          // the tangent at each window's argmax, as max_pool2d's
          const int64_t pl = x.shape()[0] * x.shape()[1];
          return reshape(gather(reshape(t[0], {pl, H * W}), 1, reshape(idx, {pl, ho * wo})), y.shape());
        });
  if (x0.dim() == 3) return {squeeze(y, 0), squeeze(idx, 0)};
  return {y, idx};
}
Tensor adaptive_max_pool2d(const Tensor& x, Size2 output_size) {
  return adaptive_max_pool2d_with_indices(x, output_size).first;
}

// ---- 1-D pools: the 2-D kernels on the [N, C, 1, L] view (exact: a window of height 1) ----
namespace {
// x [N, C, L] or [C, L] viewed as [N, C, 1, L] / [C, 1, L].
Tensor as_plane(const Tensor& x, const char* op) {
  if (!x.defined()) throw ValueError(std::string(op) + ": the input is undefined");
  if (x.dim() != 2 && x.dim() != 3)
    throw ShapeError(std::string(op) + ": expected a 3-D input [N, C, L] or 2-D [C, L], got " +
                     x.shape().str());
  return unsqueeze(x, -2);
}
// The 1-D arguments, checked here so that errors speak of the 1-D op and its 1-D arguments.
void check_pool1d(const char* op, const Tensor& x, int64_t k, int64_t s, int64_t p, int64_t d) {
  const std::string args = " (input " + x.shape().str() + ", kernel_size " + std::to_string(k) + ", stride " +
                           std::to_string(s) + ", padding " + std::to_string(p) + ", dilation " +
                           std::to_string(d) + ")";
  if (k <= 0 || s <= 0 || d <= 0)
    throw ValueError(std::string(op) + ": kernel_size, stride and dilation must be positive" + args);
  if (p < 0 || 2 * p > k)
    throw ValueError(std::string(op) + ": padding must be non-negative and at most half the kernel size" +
                     args);
}
std::vector<OpSample> pool1d_samples(std::function<Tensor(const Tensor&)> f0, const char* torch0,
                                     std::function<Tensor(const Tensor&)> f1, const char* torch1,
                                     std::function<Tensor(const Tensor&)> f2, const char* torch2) {
  auto wrap = [](std::function<Tensor(const Tensor&)> f) {
    return [f](std::span<const Tensor> t) { return f(t[0]); };
  };
  return {
      {"[2, 3, 7]", {sample_tensor({2, 3, 7}, Domain::real, 1)}, wrap(f0), 0, torch0},
      {"[1, 2, 8]", {sample_tensor({1, 2, 8}, Domain::real, 2)}, wrap(f1), 0, torch1},
      {"unbatched [2, 9]", {sample_tensor({2, 9}, Domain::real, 3)}, wrap(f2), 0, torch2},
  };
}
}  // namespace

XG_OP(max_pool1d, {.formula = "max_pool1d(x) = max_pool2d on the [N, C, 1, L] view (composite)",
                   .kind = OpKind::composite,
                   .samples =
                       [] {
                         return pool1d_samples(
                             [](const Tensor& x) { return max_pool1d(x, 3, 2, 1); }, "OP(x0, 3, 2, 1)",
                             [](const Tensor& x) { return max_pool1d(x, 2, 1, 0, 2, false); },
                             "OP(x0, 2, 1, 0, 2)",
                             [](const Tensor& x) { return max_pool1d(x, 2, std::nullopt, 1, 1, true); },
                             "OP(x0, 2, None, 1, 1, True)");
                       },
                   .torch = "torch.nn.functional.max_pool1d"});
std::pair<Tensor, Tensor> max_pool1d_with_indices(const Tensor& x, int64_t kernel_size,
                                                  std::optional<int64_t> stride, int64_t padding,
                                                  int64_t dilation, bool ceil_mode) {
  const Tensor x2 = as_plane(x, "max_pool1d");
  const int64_t s = stride.value_or(kernel_size);
  check_pool1d("max_pool1d", x, kernel_size, s, padding, dilation);
  // In a plane of height 1 the flat index h * L + w is the position along L.
  auto [y, idx] =
      max_pool2d_with_indices(x2, {1, kernel_size}, Size2{1, s}, {0, padding}, {1, dilation}, ceil_mode);
  return {squeeze(y, -2), squeeze(idx, -2)};
}
Tensor max_pool1d(const Tensor& x, int64_t kernel_size, std::optional<int64_t> stride, int64_t padding,
                  int64_t dilation, bool ceil_mode) {
  XG_COMPOSITE_SCOPE(max_pool1d);
  return max_pool1d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode).first;
}

XG_OP(avg_pool1d, {.formula = "avg_pool1d(x) = avg_pool2d on the [N, C, 1, L] view (composite)",
                   .kind = OpKind::composite,
                   .samples =
                       [] {
                         return pool1d_samples(
                             [](const Tensor& x) { return avg_pool1d(x, 3, 2, 1); }, "OP(x0, 3, 2, 1)",
                             [](const Tensor& x) { return avg_pool1d(x, 3, 2, 1, true, false); },
                             "OP(x0, 3, 2, 1, True, False)",
                             [](const Tensor& x) { return avg_pool1d(x, 2, std::nullopt, 1, true, true); },
                             "OP(x0, 2, None, 1, True, True)");
                       },
                   .torch = "torch.nn.functional.avg_pool1d"});
Tensor avg_pool1d(const Tensor& x, int64_t kernel_size, std::optional<int64_t> stride, int64_t padding,
                  bool ceil_mode, bool count_include_pad) {
  XG_COMPOSITE_SCOPE(avg_pool1d);
  const Tensor x2 = as_plane(x, "avg_pool1d");
  const int64_t s = stride.value_or(kernel_size);
  check_pool1d("avg_pool1d", x, kernel_size, s, padding, 1);
  return squeeze(avg_pool2d(x2, {1, kernel_size}, Size2{1, s}, {0, padding}, ceil_mode, count_include_pad),
                 -2);
}

XG_OP(adaptive_avg_pool1d,
      {.formula = "adaptive_avg_pool1d(x) = adaptive_avg_pool2d on the [N, C, 1, L] view (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return pool1d_samples([](const Tensor& x) { return adaptive_avg_pool1d(x, 3); }, "OP(x0, 3)",
                                   [](const Tensor& x) { return adaptive_avg_pool1d(x, 11); }, "OP(x0, 11)",
                                   [](const Tensor& x) { return adaptive_avg_pool1d(x, 1); }, "OP(x0, 1)");
           },
       .torch = "torch.nn.functional.adaptive_avg_pool1d"});
Tensor adaptive_avg_pool1d(const Tensor& x, int64_t output_size) {
  XG_COMPOSITE_SCOPE(adaptive_avg_pool1d);
  const Tensor x2 = as_plane(x, "adaptive_avg_pool1d");
  if (output_size <= 0)
    throw ValueError("adaptive_avg_pool1d: output_size must be positive, got " + std::to_string(output_size));
  return squeeze(adaptive_avg_pool2d(x2, {1, output_size}), -2);
}

XG_OP(adaptive_max_pool1d,
      {.formula = "adaptive_max_pool1d(x) = adaptive_max_pool2d on the [N, C, 1, L] view (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             return pool1d_samples([](const Tensor& x) { return adaptive_max_pool1d(x, 3); }, "OP(x0, 3)",
                                   [](const Tensor& x) { return adaptive_max_pool1d(x, 5); }, "OP(x0, 5)",
                                   [](const Tensor& x) { return adaptive_max_pool1d(x, 1); }, "OP(x0, 1)");
           },
       .torch = "torch.nn.functional.adaptive_max_pool1d"});
std::pair<Tensor, Tensor> adaptive_max_pool1d_with_indices(const Tensor& x, int64_t output_size) {
  const Tensor x2 = as_plane(x, "adaptive_max_pool1d");
  if (output_size <= 0)
    throw ValueError("adaptive_max_pool1d: output_size must be positive, got " + std::to_string(output_size));
  auto [y, idx] = adaptive_max_pool2d_with_indices(x2, {1, output_size});
  return {squeeze(y, -2), squeeze(idx, -2)};
}
Tensor adaptive_max_pool1d(const Tensor& x, int64_t output_size) {
  XG_COMPOSITE_SCOPE(adaptive_max_pool1d);
  return adaptive_max_pool1d_with_indices(x, output_size).first;
}

}  // namespace xg
