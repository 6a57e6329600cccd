// Convolution through im2col + gemm: conv2d, its two gradients, and conv1d on top. Each op's
// kernel, backward formula and samples sit together. The backward of every primitive here is
// written with primitives of this file, so create_graph differentiates through them:
//   conv2d             -> conv2d_input_grad (dx), conv2d_weight_grad (dw), sum (db)
//   conv2d_input_grad  -> conv2d (d grad_output), conv2d_weight_grad (d weight)
//   conv2d_weight_grad -> conv2d_input_grad (d x), conv2d (d grad_output)
// conv_transpose2d is conv2d_input_grad with x in the role of grad_output (composite), so its
// input gradient is a conv2d and its weight gradient a conv2d_weight_grad with roles swapped.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/gemm.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/ops/window.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {
using detail::tangent_sum;

using detail::col2im_scratch;
using detail::conv_out;
using detail::ConvGeom;
using detail::ConvParams;
using detail::Domain;
using detail::gemm;
using detail::im2col;
using detail::pair_str;
using detail::sample_tensor;

namespace {

void check_defined(const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) throw ValueError(std::string(op) + ": " + what + " is undefined");
}

Dtype float_dtype_of(std::initializer_list<const Tensor*> ts, const char* op) {
  Dtype d = Dtype::float32;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!t->is_floating_point())
      throw TypeError(std::string(op) + ": expected float tensors, got " + dtype_name(t->dtype()) +
                      " of shape " + t->shape().str());
    if (t->dtype() == Dtype::float64) d = Dtype::float64;
  }
  return d;
}

// ---------------------------------------------------------------- convolution geometry
// Checks the shapes of a convolution and computes its output size; `op` names the caller.
ConvGeom conv_geom(const Shape& xs, const Shape& ws, const ConvParams& p, const char* op) {
  auto fail = [&](const std::string& why) {
    throw ShapeError(std::string(op) + ": " + why + " (input " + xs.str() + ", weight " + ws.str() +
                     ", stride " + pair_str(p.stride) + ", padding " + pair_str(p.padding) + ", dilation " +
                     pair_str(p.dilation) + ", groups " + std::to_string(p.groups) + ")");
  };
  if (xs.rank() != 4) fail("expected a 4-D input [N, C, H, W], got " + std::to_string(xs.rank()) + " axes");
  if (ws.rank() != 4)
    fail("expected a 4-D weight [out_channels, in_channels / groups, kH, kW], got " +
         std::to_string(ws.rank()) + " axes");
  if (p.stride.h <= 0 || p.stride.w <= 0)
    throw ValueError(std::string(op) + ": stride must be positive, got " + pair_str(p.stride));
  if (p.dilation.h <= 0 || p.dilation.w <= 0)
    throw ValueError(std::string(op) + ": dilation must be positive, got " + pair_str(p.dilation));
  if (p.padding.h < 0 || p.padding.w < 0)
    throw ValueError(std::string(op) + ": padding must be non-negative, got " + pair_str(p.padding));
  if (p.groups <= 0)
    throw ValueError(std::string(op) + ": groups must be positive, got " + std::to_string(p.groups));
  ConvGeom g{xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], 0, 0, p};
  if (g.o % p.groups != 0)
    fail("out_channels " + std::to_string(g.o) + " is not divisible by groups " + std::to_string(p.groups));
  if (g.c != ws[1] * p.groups)
    fail("input has " + std::to_string(g.c) + " channels but the weight expects " +
         std::to_string(ws[1] * p.groups) + " (weight.size(1) = " + std::to_string(ws[1]) +
         " times groups = " + std::to_string(p.groups) + ")");
  if (g.kh <= 0 || g.kw <= 0) fail("the kernel must not be empty");
  const int64_t eh = p.dilation.h * (g.kh - 1) + 1, ew = p.dilation.w * (g.kw - 1) + 1;
  if (g.h + 2 * p.padding.h < eh || g.w + 2 * p.padding.w < ew)
    fail("the padded input (" + std::to_string(g.h + 2 * p.padding.h) + " x " +
         std::to_string(g.w + 2 * p.padding.w) + ") is smaller than the dilated kernel (" +
         std::to_string(eh) + " x " + std::to_string(ew) + ")");
  g.ho = conv_out(g.h, g.kh, p.stride.h, p.padding.h, p.dilation.h);
  g.wo = conv_out(g.w, g.kw, p.stride.w, p.padding.w, p.dilation.w);
  return g;
}

// The three convolution kernels work per sample, one gemm per sample and group, in blocks of
// samples that the compute pool's threads take, each running its gemms on its own core
// (gemm_serial): a sample's columns ([K, L], 226 KB for the cnn benchmark's second conv) stay in
// that core's L2 between im2col and the gemm, and no [O, N * L] <-> [N, O, L] transposes are
// needed. Measured against the batched gemm on OpenBLAS's two threads (docs/performance.md,
// issue 16): conv2's three products went from 0.56-0.59 to ~0.7 of the 2-thread gemm rate.
// With one thread, or fewer samples than threads, the samples run in turn and each gemm may use
// OpenBLAS's threads (batch 1 with a large image).

template <class T>
Tensor scratch(int64_t n) {
  return detail::new_tensor(Shape{n}, std::is_same_v<T, double> ? Dtype::float64 : Dtype::float32);
}

// The number of sample blocks (1: samples in turn on this thread, threaded gemms). Blocks, not
// threads, fix which samples a weight-gradient partial sums, so results depend on the thread
// count only; 4 per thread so that a thread the OS does not schedule holds up a quarter of its share.
inline int64_t sample_blocks(const ConvGeom& g) {
  const int t = detail::pool_threads();
  if (t == 1 || g.n < t) return 1;
  return std::min<int64_t>(g.n, 4 * int64_t{t});
}

// Runs body(block, s0, s1) over the sample blocks: on the pool with single-threaded gemms, or
// inline for one block.
template <class F>
void for_sample_blocks(const ConvGeom& g, int64_t blocks, F&& body) {
  if (blocks == 1) {
    body(int64_t{0}, int64_t{0}, g.n);
    return;
  }
  detail::prepare_serial_gemm();
  detail::parallel_for(blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) body(b, b * g.n / blocks, (b + 1) * g.n / blocks);
  });
}

// One gemm of the per-sample kernels: on this thread alone inside a block region, else with
// OpenBLAS's threads where the product repays them.
template <class T>
void gemm_for(bool serial, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c,
              bool accumulate) {
  if (serial)
    detail::gemm_serial(ta, tb, m, n, k, a, b, c, accumulate);
  else
    gemm(ta, tb, m, n, k, a, b, c, accumulate);
}

// y [n, o, ho, wo] = conv(x, w) + bias: per sample and group, the bias rows, then y += w @ cols.
template <class T>
void conv_forward(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g) {
  const int64_t K = g.rows(), L = g.cols(), og = g.og(), cg = g.cg(), G = g.p.groups, O = g.o, hw = g.h * g.w;
  if (g.n == 0 || O == 0) return;
  const int64_t blocks = sample_blocks(g);
  const bool direct = g.direct();
  Tensor cols_t = scratch<T>(direct || K == 0 ? 0 : blocks * K * L);
  T* cols_all = cols_t.data<T>();
  for_sample_blocks(g, blocks, [&](int64_t b, int64_t s0, int64_t s1) {
    T* cols = cols_all + b * K * L;
    for (int64_t s = s0; s < s1; ++s) {
      T* ys = y + s * O * L;
      for (int64_t o = 0; o < O; ++o) std::fill(ys + o * L, ys + (o + 1) * L, bias ? bias[o] : T(0));
      if (K == 0) continue;
      for (int64_t gr = 0; gr < G; ++gr) {
        const T* xs = x + (s * g.c + gr * cg) * hw;
        if (!direct) im2col(xs, cols, L, g);
        gemm_for(blocks > 1, false, false, og, L, K, w + gr * og * K, direct ? xs : cols, ys + gr * og * L,
                 true);
      }
    }
  });
}

// dx [n, c, h, w] = col2im(w^T g), per sample and group.
template <class T>
void conv_input_grad(const T* gy, const T* w, T* gx, const ConvGeom& g) {
  const int64_t K = g.rows(), L = g.cols(), og = g.og(), cg = g.cg(), G = g.p.groups, O = g.o, hw = g.h * g.w;
  if (g.n == 0) return;
  if (og == 0 || K == 0) {
    std::fill(gx, gx + g.n * g.c * hw, T(0));
    return;
  }
  const int64_t blocks = sample_blocks(g);
  const bool direct = g.direct();
  Tensor cols_t = scratch<T>(direct ? 0 : blocks * K * L);
  T* cols_all = cols_t.data<T>();
  for_sample_blocks(g, blocks, [&](int64_t b, int64_t s0, int64_t s1) {
    T* cols = cols_all + b * K * L;
    for (int64_t s = s0; s < s1; ++s)
      for (int64_t gr = 0; gr < G; ++gr) {
        T* gxs = gx + (s * g.c + gr * cg) * hw;
        gemm_for(blocks > 1, true, false, K, L, og, w + gr * og * K, gy + (s * O + gr * og) * L,
                 direct ? gxs : cols, false);
        if (!direct) col2im_scratch(cols, L, gxs, g);
      }
  });
}

// dw [o, cg, kh, kw] = sum over samples of g_s [og, L] @ im2col(x_s)^T [L, K], per group. Each
// block sums its samples into its own partial (block 0's is dw itself); the partials are then
// added in block order, so the result does not depend on which thread ran which block.
template <class T>
void conv_weight_grad(const T* x, const T* gy, T* gw, const ConvGeom& g) {
  const int64_t K = g.rows(), L = g.cols(), og = g.og(), cg = g.cg(), G = g.p.groups, O = g.o, hw = g.h * g.w;
  if (g.n == 0 || L == 0 || og == 0 || K == 0) {
    std::fill(gw, gw + O * K, T(0));
    return;
  }
  // Partials cost O * K each: fewer blocks for large weights (at most 32 MiB of partials).
  int64_t blocks = sample_blocks(g);
  const int64_t per = O * K * static_cast<int64_t>(sizeof(T));
  while (blocks > detail::pool_threads() && (blocks - 1) * per > (int64_t{32} << 20)) blocks /= 2;
  const bool direct = g.direct();
  Tensor cols_t = scratch<T>(direct ? 0 : blocks * K * L), part_t = scratch<T>((blocks - 1) * O * K);
  T* cols_all = cols_t.data<T>();
  T* parts = part_t.data<T>();
  for_sample_blocks(g, blocks, [&](int64_t b, int64_t s0, int64_t s1) {
    T* cols = cols_all + b * K * L;
    T* dst = b == 0 ? gw : parts + (b - 1) * O * K;
    if (s0 == s1) std::fill(dst, dst + O * K, T(0));
    for (int64_t s = s0; s < s1; ++s)
      for (int64_t gr = 0; gr < G; ++gr) {
        const T* xs = x + (s * g.c + gr * cg) * hw;
        if (!direct) im2col(xs, cols, L, g);
        gemm_for(blocks > 1, false, true, og, K, L, gy + (s * O + gr * og) * L, direct ? xs : cols,
                 dst + gr * og * K, s > s0);
      }
  });
  for (int64_t b = 1; b < blocks; ++b) {
    const T* __restrict src = parts + (b - 1) * O * K;
    T* __restrict d = gw;
    for (int64_t i = 0; i < O * K; ++i) d[i] += src[i];
  }
}

Shape conv_out_shape(const ConvGeom& g) {
  return Shape{g.n, g.o, g.ho, g.wo};
}

void check_grad_shape(const Tensor& gy, const ConvGeom& g, const char* op) {
  const Shape want = conv_out_shape(g);
  if (!(gy.shape() == want))
    throw ShapeError(std::string(op) + ": grad_output has shape " + gy.shape().str() + ", expected " +
                     want.str() + " (the convolution's output for input [" + std::to_string(g.n) + ", " +
                     std::to_string(g.c) + ", " + std::to_string(g.h) + ", " + std::to_string(g.w) + "])");
}

// The convolution's arguments after its tensors, in PyTorch's keywords.
std::string torch_conv_args(const ConvParams& p) {
  auto pair = [](Size2 s) {
    std::string out = "(";  // appended: GCC 12 warns on "(" + s
    out += std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
    return out;
  };
  return "stride=" + pair(p.stride) + ", padding=" + pair(p.padding) + ", dilation=" + pair(p.dilation) +
         ", groups=" + std::to_string(p.groups);
}

// A shape as a Python tuple.
std::string torch_shape(const Shape& s) {
  std::string out = "(";
  for (int i = 0; i < s.rank(); ++i) out += std::to_string(s[i]) + ", ";
  return out + ")";
}

OpSample conv_sample(const char* label, Shape xs, Shape ws, bool bias, ConvParams p, unsigned salt) {
  const Tensor x = sample_tensor(xs, Domain::real, salt), w = sample_tensor(ws, Domain::real, salt + 1);
  const std::vector<Tensor> in =
      bias ? std::vector<Tensor>{x, w, sample_tensor({ws[0]}, Domain::real, salt + 2)}
           : std::vector<Tensor>{x, w};
  return {label, in,
          [p](std::span<const Tensor> t) {
            return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), p.stride, p.padding, p.dilation,
                          p.groups);
          },
          0, std::string("OP(x0, x1, ") + (bias ? "x2" : "None") + ", " + torch_conv_args(p) + ")"};
}

struct ConvCase {
  const char* label;
  Shape xs, ws;
  bool bias;
  ConvParams p;
};
std::vector<ConvCase> conv_cases() {
  return {
      {"[2, 3, 5, 5] * [4, 3, 3, 3] + bias", {2, 3, 5, 5}, {4, 3, 3, 3}, true, {}},
      {"[2, 2, 6, 6] * [3, 2, 3, 3] stride 2 padding 1", {2, 2, 6, 6}, {3, 2, 3, 3}, false, {2, 1, 1, 1}},
      {"[1, 2, 6, 5] * [2, 2, 2, 2] dilation 2 padding 1 + bias",
       {1, 2, 6, 5},
       {2, 2, 2, 2},
       true,
       {1, 1, 2, 1}},
      {"[2, 4, 5, 4] * [6, 2, 3, 3] groups 2, stride (1, 2), padding (1, 0) + bias",
       {2, 4, 5, 4},
       {6, 2, 3, 3},
       true,
       {{1, 2}, {1, 0}, 1, 2}},
      {"[2, 2, 4, 6] * [4, 1, 2, 3] groups 2, stride (2, 1), dilation (1, 2), padding (0, 2)",
       {2, 2, 4, 6},
       {4, 1, 2, 3},
       false,
       {{2, 1}, {0, 2}, {1, 2}, 2}},
      {"[2, 3, 4, 4] * [2, 3, 1, 1] (1x1, no im2col) + bias", {2, 3, 4, 4}, {2, 3, 1, 1}, true, {}},
      {"[2, 3, 5, 4] * [2, 3, 3, 3] padding 1 (same size: im2col's row copies) + bias",
       {2, 3, 5, 4},
       {2, 3, 3, 3},
       true,
       {1, 1, 1, 1}},
      // more samples than the 8 blocks of two threads: blocks of one and two samples
      {"[11, 2, 3, 3] * [3, 2, 2, 2] padding 1 (batch 11)", {11, 2, 3, 3}, {3, 2, 2, 2}, false, {1, 1, 1, 1}},
  };
}

// Samples of the two gradient ops over conv_cases(): conv2d_input_grad(g, w) (input_side) or
// conv2d_weight_grad(x, g), with g of the case's output shape.
std::vector<OpSample> conv_grad_samples(bool input_side, unsigned salt) {
  const char* op = input_side ? "conv2d_input_grad" : "conv2d_weight_grad";
  std::vector<OpSample> s;
  for (const ConvCase& c : conv_cases()) {
    const Shape gs = conv_out_shape(conv_geom(c.xs, c.ws, c.p, op));
    const Tensor g = sample_tensor(gs, Domain::real, salt += 2);
    const Tensor other = sample_tensor(input_side ? c.ws : c.xs, Domain::real, salt + 1);
    const ConvParams p = c.p;
    if (input_side) {
      s.push_back({c.label,
                   {g, other},
                   [xs = c.xs, p](std::span<const Tensor> t) {
                     return conv2d_input_grad(t[0], t[1], xs, p.stride, p.padding, p.dilation, p.groups);
                   },
                   0,
                   "OP(" + torch_shape(c.xs) + ", x1, x0, " + torch_conv_args(p) + ")"});
    } else {
      s.push_back({c.label,
                   {other, g},
                   [ws = c.ws, p](std::span<const Tensor> t) {
                     return conv2d_weight_grad(t[0], t[1], ws, p.stride, p.padding, p.dilation, p.groups);
                   },
                   0,
                   "OP(x0, " + torch_shape(c.ws) + ", x1, " + torch_conv_args(p) + ")"});
    }
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------- conv2d and its two gradients
XG_OP(conv2d, {.formula = "y = conv2d(x, w) + b: dx = conv2d_input_grad(g, w), dw = conv2d_weight_grad(x, "
                          "g), db = sum(g, {0, 2, 3})",
               .kind = OpKind::primitive,
               .samples =
                   [] {
                     std::vector<OpSample> s;
                     unsigned salt = 1;
                     for (const ConvCase& c : conv_cases())
                       s.push_back(conv_sample(c.label, c.xs, c.ws, c.bias, c.p, salt += 3));
                     return s;
                   },
               .torch = "torch.nn.functional.conv2d"});
XG_OP(conv2d_input_grad, {.formula = "dx = conv2d_input_grad(g, w) is linear in g and w: d/dg = conv2d(grad, "
                                     "w), d/dw = conv2d_weight_grad(grad, g)",
                          .kind = OpKind::primitive,
                          .samples = [] { return conv_grad_samples(true, 40); },
                          .torch = "torch.nn.grad.conv2d_input"});
XG_OP(conv2d_weight_grad, {.formula = "dw = conv2d_weight_grad(x, g) is linear in x and g: d/dx = "
                                      "conv2d_input_grad(g, grad), d/dg = conv2d(x, grad)",
                           .kind = OpKind::primitive,
                           .samples = [] { return conv_grad_samples(false, 80); },
                           .torch = "torch.nn.grad.conv2d_weight"});
XG_OP(conv1d,
      {.formula = "conv1d(x, w) = conv2d on [N, C, 1, L] (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             auto call = [](int64_t s, int64_t p, int64_t d, int64_t g) {
               return [=](std::span<const Tensor> t) {
                 return conv1d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), s, p, d, g);
               };
             };
             return std::vector<OpSample>{
                 {"[2, 3, 7] * [4, 3, 3] + bias",
                  {sample_tensor({2, 3, 7}, Domain::real, 1), sample_tensor({4, 3, 3}, Domain::real, 2),
                   sample_tensor({4}, Domain::real, 3)},
                  call(1, 0, 1, 1),
                  0,
                  "OP(x0, x1, x2, 1, 0, 1, 1)"},
                 {"[2, 4, 8] * [2, 2, 2] stride 2 padding 1 dilation 2 groups 2",
                  {sample_tensor({2, 4, 8}, Domain::real, 4), sample_tensor({2, 2, 2}, Domain::real, 5)},
                  call(2, 1, 2, 2),
                  0,
                  "OP(x0, x1, None, 2, 1, 2, 2)"},
                 {"unbatched [3, 6] * [2, 3, 2]",
                  {sample_tensor({3, 6}, Domain::real, 6), sample_tensor({2, 3, 2}, Domain::real, 7)},
                  call(1, 1, 1, 1),
                  0,
                  "OP(x0, x1, None, 1, 1, 1, 1)"},
             };
           },
       .torch = "torch.nn.functional.conv1d"});

namespace {
struct ConvTCase {
  const char* label;
  Shape xs, ws;
  bool bias;
  Size2 stride, padding, output_padding;
  int64_t groups;
  Size2 dilation;
};
std::vector<ConvTCase> conv_t_cases() {
  return {
      {"[2, 3, 4, 4] * [3, 2, 3, 3] + bias", {2, 3, 4, 4}, {3, 2, 3, 3}, true, 1, 0, 0, 1, 1},
      {"[2, 2, 3, 4] * [2, 3, 3, 3] stride 2 padding 1 output_padding 1 + bias",
       {2, 2, 3, 4},
       {2, 3, 3, 3},
       true,
       2,
       1,
       1,
       1,
       1},
      {"[1, 4, 3, 3] * [4, 1, 2, 3] groups 2, stride (2, 3), output_padding (1, 2), dilation (2, 1)",
       {1, 4, 3, 3},
       {4, 1, 2, 3},
       false,
       {2, 3},
       {0, 1},
       {1, 2},
       2,
       {2, 1}},
      {"[1, 2, 3, 3] * [2, 2, 2, 2] output_padding 1 < dilation 2 (stride 1) + bias",
       {1, 2, 3, 3},
       {2, 2, 2, 2},
       true,
       1,
       1,
       1,
       1,
       2},
      {"unbatched [2, 3, 3] * [2, 2, 2, 2] stride 2", {2, 3, 3}, {2, 2, 2, 2}, false, 2, 0, 0, 1, 1},
  };
}
std::string torch_tuple(Size2 s) {
  std::string out = "(";  // appended: GCC 12 warns on "(" + s
  out += std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
  return out;
}
}  // namespace

XG_OP(conv_transpose2d,
      {.formula = "conv_transpose2d(x, w) + b = conv2d_input_grad(x, w) + b (composite): dx = conv2d(g, w), "
                  "dw = conv2d_weight_grad(g, x)",
       .kind = OpKind::composite,
       .samples =
           [] {
             std::vector<OpSample> s;
             unsigned salt = 120;
             for (const ConvTCase& c : conv_t_cases()) {
               std::vector<Tensor> in{sample_tensor(c.xs, Domain::real, salt += 3),
                                      sample_tensor(c.ws, Domain::real, salt + 1)};
               if (c.bias) in.push_back(sample_tensor({c.ws[1] * c.groups}, Domain::real, salt + 2));
               s.push_back({c.label, in,
                            [c](std::span<const Tensor> t) {
                              return conv_transpose2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), c.stride,
                                                      c.padding, c.output_padding, c.groups, c.dilation);
                            },
                            0,
                            std::string("OP(x0, x1, ") + (c.bias ? "x2" : "None") +
                                ", stride=" + torch_tuple(c.stride) + ", padding=" + torch_tuple(c.padding) +
                                ", output_padding=" + torch_tuple(c.output_padding) + ", groups=" +
                                std::to_string(c.groups) + ", dilation=" + torch_tuple(c.dilation) + ")"});
             }
             return s;
           },
       .torch = "torch.nn.functional.conv_transpose2d"});
XG_OP(conv_transpose1d,
      {.formula = "conv_transpose1d(x, w) = conv_transpose2d on [N, C, 1, L] (composite)",
       .kind = OpKind::composite,
       .samples =
           [] {
             auto call = [](int64_t s, int64_t p, int64_t op, int64_t g, int64_t d) {
               return [=](std::span<const Tensor> t) {
                 return conv_transpose1d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), s, p, op, g, d);
               };
             };
             return std::vector<OpSample>{
                 {"[2, 3, 5] * [3, 2, 3] + bias",
                  {sample_tensor({2, 3, 5}, Domain::real, 141), sample_tensor({3, 2, 3}, Domain::real, 142),
                   sample_tensor({2}, Domain::real, 143)},
                  call(1, 0, 0, 1, 1),
                  0,
                  "OP(x0, x1, x2, 1, 0, 0, 1, 1)"},
                 {"[2, 4, 4] * [4, 1, 3] stride 3 padding 1 output_padding 2 groups 2 dilation 2",
                  {sample_tensor({2, 4, 4}, Domain::real, 144), sample_tensor({4, 1, 3}, Domain::real, 145)},
                  call(3, 1, 2, 2, 2),
                  0,
                  "OP(x0, x1, None, 3, 1, 2, 2, 2)"},
                 {"unbatched [2, 4] * [2, 3, 2] stride 2 + bias",
                  {sample_tensor({2, 4}, Domain::real, 146), sample_tensor({2, 3, 2}, Domain::real, 147),
                   sample_tensor({3}, Domain::real, 148)},
                  call(2, 0, 1, 1, 1),
                  0,
                  "OP(x0, x1, x2, 2, 0, 1, 1, 1)"},
             };
           },
       .torch = "torch.nn.functional.conv_transpose1d"});

namespace {
// Checks a transposed convolution's arguments and returns its output shape [N, O, Ho, Wo]; `op`
// names the caller and `show` renders the caller's own shapes (conv_transpose1d's are 3-D).
Shape conv_t_geom(const Shape& xs, const Shape& ws, Size2 s, Size2 p, Size2 op_pad, int64_t groups, Size2 d,
                  const char* op, const std::string& show) {
  auto fail = [&](const std::string& why) {
    throw ShapeError(std::string(op) + ": " + why + " (" + show + ")");
  };
  auto bad = [&](const std::string& why) {
    throw ValueError(std::string(op) + ": " + why + " (" + show + ")");
  };
  if (s.h <= 0 || s.w <= 0) bad("stride must be positive");
  if (d.h <= 0 || d.w <= 0) bad("dilation must be positive");
  if (p.h < 0 || p.w < 0) bad("padding must be non-negative");
  if (op_pad.h < 0 || op_pad.w < 0) bad("output_padding must be non-negative");
  if (groups <= 0) bad("groups must be positive, got " + std::to_string(groups));
  if ((op_pad.h >= s.h && op_pad.h >= d.h) || (op_pad.w >= s.w && op_pad.w >= d.w))
    bad("output_padding must be smaller than either stride or dilation");
  if (ws[0] % groups != 0)
    fail("weight.size(0) = " + std::to_string(ws[0]) + " (in_channels) is not divisible by groups " +
         std::to_string(groups));
  if (xs[1] != ws[0])
    fail("input has " + std::to_string(xs[1]) + " channels but the weight expects " + std::to_string(ws[0]) +
         " (weight.size(0))");
  if (ws[2] <= 0 || ws[3] <= 0) fail("the kernel must not be empty");
  const int64_t ho = (xs[2] - 1) * s.h - 2 * p.h + d.h * (ws[2] - 1) + op_pad.h + 1;
  const int64_t wo = (xs[3] - 1) * s.w - 2 * p.w + d.w * (ws[3] - 1) + op_pad.w + 1;
  if (xs[2] <= 0 || xs[3] <= 0 || ho <= 0 || wo <= 0)
    fail("the output size " + std::to_string(ho) + " x " + std::to_string(wo) + " is not positive");
  return Shape{xs[0], ws[1] * groups, ho, wo};
}
}  // namespace

namespace {
// The replayed conv2d kernels (autograd/capture): the same functions on the plan's buffers.
template <class T>
void conv_forward_replay(const capture_detail::Kernel& k) {
  const bool bias = k.n[0] != 0;
  conv_forward(static_cast<const T*>(k.buf[0]), static_cast<const T*>(k.buf[1]),
               bias ? static_cast<const T*>(k.buf[2]) : static_cast<const T*>(nullptr),
               static_cast<T*>(k.buf[bias ? 3 : 2]), *static_cast<const ConvGeom*>(k.aux));
}
template <class T>
void conv_input_grad_replay(const capture_detail::Kernel& k) {
  conv_input_grad(static_cast<const T*>(k.buf[0]), static_cast<const T*>(k.buf[1]), static_cast<T*>(k.buf[2]),
                  *static_cast<const ConvGeom*>(k.aux));
}
template <class T>
void conv_weight_grad_replay(const capture_detail::Kernel& k) {
  conv_weight_grad(static_cast<const T*>(k.buf[0]), static_cast<const T*>(k.buf[1]),
                   static_cast<T*>(k.buf[2]), *static_cast<const ConvGeom*>(k.aux));
}

Tensor conv2d_impl(const Tensor& x0, const Tensor& w0, const Tensor& b0, const ConvParams& p);
Tensor conv2d_input_grad_impl(const Tensor& gy0, const Tensor& w0, const Shape& xs, const ConvParams& p);
Tensor conv2d_weight_grad_impl(const Tensor& x0, const Tensor& gy0, const Shape& ws, const ConvParams& p);

Tensor conv2d_impl(const Tensor& x0, const Tensor& w0, const Tensor& b0, const ConvParams& p) {
  const Dtype d = float_dtype_of({&x0, &w0, &b0}, "conv2d");
  const ConvGeom g = conv_geom(x0.shape(), w0.shape(), p, "conv2d");
  const bool has_bias = b0.defined();
  if (has_bias && !(b0.shape() == Shape{g.o}))
    throw ShapeError("conv2d: bias has shape " + b0.shape().str() + ", expected [" + std::to_string(g.o) +
                     "] for weight " + w0.shape().str());
  const Tensor x = x0.to(d), w = w0.to(d), b = has_bias ? b0.to(d) : Tensor();
  Tensor y = detail::new_tensor(conv_out_shape(g), d);
  detail::visit_float(d, "conv2d", [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]] {
      using capture_detail::R, capture_detail::W;
      if (has_bias)
        capture_detail::emit_with("conv2d", conv_forward_replay<T>, {R(x), R(w), R(b), W(y)}, g, {1});
      else
        capture_detail::emit_with("conv2d", conv_forward_replay<T>, {R(x), R(w), W(y)}, g, {0});
    }
    conv_forward(x.data<T>(), w.data<T>(), has_bias ? b.data<T>() : static_cast<const T*>(nullptr),
                 y.data<T>(), g);
  });
  auto backward = [sx = w.requires_grad() ? save_input(x) : SavedTensor(),
                   sw = x.requires_grad() ? save_input(w) : SavedTensor(), xs = x.shape(), ws = w.shape(),
                   p](const Node& nd, const Tensor& gy, std::span<Tensor> gx) {
    if (nd.needs_input_grad(0)) gx[0] = conv2d_input_grad_impl(gy, sw.unpack(nd), xs, p);
    if (nd.needs_input_grad(1)) gx[1] = conv2d_weight_grad_impl(sx.unpack(nd), gy, ws, p);
    if (nd.num_inputs() > 2 && nd.needs_input_grad(2)) gx[2] = sum(gy, {0, 2, 3});
  };
  if (has_bias) {
    if (!will_record({x, w, b})) return y;
    return record(opdefs::conv2d_op, y, {x, w, b}, std::move(backward), [&](std::span<const Tensor> t) {
      // bilinear in (x, w), plus the bias broadcast over [N, ., H, W]
      Tensor r = tangent_sum(t[0].defined() ? conv2d_impl(t[0], w, Tensor(), p) : Tensor(),
                             t[1].defined() ? conv2d_impl(x, t[1], Tensor(), p) : Tensor());
      return t[2].defined() ? tangent_sum(r, reshape(t[2], {1, g.o, 1, 1})) : r;
    });
  }
  if (!will_record({x, w})) return y;
  return record(opdefs::conv2d_op, y, {x, w}, std::move(backward), [&](std::span<const Tensor> t) {
    return tangent_sum(t[0].defined() ? conv2d_impl(t[0], w, Tensor(), p) : Tensor(),
                       t[1].defined() ? conv2d_impl(x, t[1], Tensor(), p) : Tensor());
  });
}

Tensor conv2d_input_grad_impl(const Tensor& gy0, const Tensor& w0, const Shape& xs, const ConvParams& p) {
  const Dtype d = float_dtype_of({&gy0, &w0}, "conv2d_input_grad");
  const ConvGeom g = conv_geom(xs, w0.shape(), p, "conv2d_input_grad");
  check_grad_shape(gy0, g, "conv2d_input_grad");
  const Tensor gy = gy0.to(d), w = w0.to(d);
  Tensor gx = detail::new_tensor(xs, d);
  detail::visit_float(d, "conv2d_input_grad", [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit_with("conv2d_input_grad", conv_input_grad_replay<T>,
                                {capture_detail::R(gy), capture_detail::R(w), capture_detail::W(gx)}, g);
    conv_input_grad(gy.data<T>(), w.data<T>(), gx.data<T>(), g);
  });
  if (!will_record({gy, w})) return gx;
  return record(
      opdefs::conv2d_input_grad_op, gx, {gy, w},
      [sg = w.requires_grad() ? save_input(gy) : SavedTensor(),
       sw = gy.requires_grad() ? save_input(w) : SavedTensor(), ws = w.shape(),
       p](const Node& nd, const Tensor& gg, std::span<Tensor> gi) {
        if (nd.needs_input_grad(0)) gi[0] = conv2d_impl(gg, sw.unpack(nd), Tensor(), p);
        if (nd.needs_input_grad(1)) gi[1] = conv2d_weight_grad_impl(gg, sg.unpack(nd), ws, p);
      },
      [&](std::span<const Tensor> t) {
        return tangent_sum(t[0].defined() ? conv2d_input_grad_impl(t[0], w, xs, p) : Tensor(),
                           t[1].defined() ? conv2d_input_grad_impl(gy, t[1], xs, p) : Tensor());
      });
}

Tensor conv2d_weight_grad_impl(const Tensor& x0, const Tensor& gy0, const Shape& ws, const ConvParams& p) {
  const Dtype d = float_dtype_of({&x0, &gy0}, "conv2d_weight_grad");
  const ConvGeom g = conv_geom(x0.shape(), ws, p, "conv2d_weight_grad");
  check_grad_shape(gy0, g, "conv2d_weight_grad");
  const Tensor x = x0.to(d), gy = gy0.to(d);
  Tensor gw = detail::new_tensor(ws, d);
  detail::visit_float(d, "conv2d_weight_grad", [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit_with("conv2d_weight_grad", conv_weight_grad_replay<T>,
                                {capture_detail::R(x), capture_detail::R(gy), capture_detail::W(gw)}, g);
    conv_weight_grad(x.data<T>(), gy.data<T>(), gw.data<T>(), g);
  });
  if (!will_record({x, gy})) return gw;
  return record(
      opdefs::conv2d_weight_grad_op, gw, {x, gy},
      [sx = gy.requires_grad() ? save_input(x) : SavedTensor(),
       sg = x.requires_grad() ? save_input(gy) : SavedTensor(), xs = x.shape(),
       p](const Node& nd, const Tensor& gg, std::span<Tensor> gi) {
        if (nd.needs_input_grad(0)) gi[0] = conv2d_input_grad_impl(sg.unpack(nd), gg, xs, p);
        if (nd.needs_input_grad(1)) gi[1] = conv2d_impl(sx.unpack(nd), gg, Tensor(), p);
      },
      [&](std::span<const Tensor> t) {
        return tangent_sum(t[0].defined() ? conv2d_weight_grad_impl(t[0], gy, ws, p) : Tensor(),
                           t[1].defined() ? conv2d_weight_grad_impl(x, t[1], ws, p) : Tensor());
      });
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups) {
  check_defined(x, "conv2d", "the input");
  check_defined(weight, "conv2d", "the weight");
  const ConvParams p{stride, padding, dilation, groups};
  if (x.dim() == 3) return squeeze(conv2d_impl(unsqueeze(x, 0), weight, bias, p), 0);  // unbatched [C, H, W]
  return conv2d_impl(x, weight, bias, p);
}
Tensor conv2d_input_grad(const Tensor& grad_output, const Tensor& weight, const Shape& input_shape,
                         Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  check_defined(grad_output, "conv2d_input_grad", "grad_output");
  check_defined(weight, "conv2d_input_grad", "the weight");
  return conv2d_input_grad_impl(grad_output, weight, input_shape, {stride, padding, dilation, groups});
}
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_output, const Shape& weight_shape, Size2 stride,
                          Size2 padding, Size2 dilation, int64_t groups) {
  check_defined(x, "conv2d_weight_grad", "the input");
  check_defined(grad_output, "conv2d_weight_grad", "grad_output");
  return conv2d_weight_grad_impl(x, grad_output, weight_shape, {stride, padding, dilation, groups});
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  XG_COMPOSITE_SCOPE(conv1d);
  check_defined(x, "conv1d", "the input");
  check_defined(weight, "conv1d", "the weight");
  if (x.dim() == 2)
    return squeeze(conv1d(unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups), 0);
  if (x.dim() != 3 || weight.dim() != 3)
    throw ShapeError(
        "conv1d: expected a 3-D input [N, C, L] (or 2-D [C, L]) and a 3-D weight [out_channels, in_channels "
        "/ groups, k], got input " +
        x.shape().str() + " and weight " + weight.shape().str());
  try {
    return squeeze(conv2d_impl(unsqueeze(x, 2), unsqueeze(weight, 2), bias,
                               {{1, stride}, {0, padding}, {1, dilation}, groups}),
                   2);
  } catch (const ShapeError& e) {
    // Re-phrase in conv1d's own shapes rather than the [N, C, 1, L] it runs on.
    std::string m = e.what();
    const auto paren = m.find(" (input ");
    if (m.rfind("conv2d: ", 0) == 0)
      m = m.substr(8, paren == std::string::npos ? std::string::npos : paren - 8);
    throw ShapeError("conv1d: " + m + " (input " + x.shape().str() + ", weight " + weight.shape().str() +
                     ", stride " + std::to_string(stride) + ", padding " + std::to_string(padding) +
                     ", dilation " + std::to_string(dilation) + ", groups " + std::to_string(groups) + ")");
  }
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride,
                        Size2 padding, Size2 output_padding, int64_t groups, Size2 dilation) {
  XG_COMPOSITE_SCOPE(conv_transpose2d);
  check_defined(x, "conv_transpose2d", "the input");
  check_defined(weight, "conv_transpose2d", "the weight");
  if (x.dim() == 3)  // unbatched [C, H, W]
    return squeeze(
        conv_transpose2d(unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups, dilation),
        0);
  const std::string show = "input " + x.shape().str() + ", weight " + weight.shape().str() + ", stride " +
                           pair_str(stride) + ", padding " + pair_str(padding) + ", output_padding " +
                           pair_str(output_padding) + ", groups " + std::to_string(groups) + ", dilation " +
                           pair_str(dilation);
  if (x.dim() != 4 || weight.dim() != 4)
    throw ShapeError(
        "conv_transpose2d: expected a 4-D input [N, C, H, W] (or 3-D [C, H, W]) and a 4-D weight "
        "[in_channels, out_channels / groups, kH, kW] (" +
        show + ")");
  float_dtype_of({&x, &weight, &bias}, "conv_transpose2d");
  const Shape ys = conv_t_geom(x.shape(), weight.shape(), stride, padding, output_padding, groups, dilation,
                               "conv_transpose2d", show);
  if (bias.defined() && !(bias.shape() == Shape{ys[1]}))
    throw ShapeError("conv_transpose2d: bias has shape " + bias.shape().str() + ", expected [" +
                     std::to_string(ys[1]) + "] (" + show + ")");
  // An output_padding >= stride (allowed when < dilation) leaves conv2d's view of the output with
  // floor(output_padding / stride) more rows than x has: zero rows of x, which add nothing.
  const int64_t eh = output_padding.h / stride.h, ew = output_padding.w / stride.w;
  const Tensor xp = eh > 0 || ew > 0 ? pad(x, {0, ew, 0, eh}) : x;
  Tensor y = conv2d_input_grad(xp, weight, ys, stride, padding, dilation, groups);
  if (bias.defined()) y = y + reshape(bias, {1, ys[1], 1, 1});
  return y;
}

Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
                        int64_t padding, int64_t output_padding, int64_t groups, int64_t dilation) {
  XG_COMPOSITE_SCOPE(conv_transpose1d);
  check_defined(x, "conv_transpose1d", "the input");
  check_defined(weight, "conv_transpose1d", "the weight");
  if (x.dim() == 2)
    return squeeze(
        conv_transpose1d(unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups, dilation),
        0);
  const std::string show = "input " + x.shape().str() + ", weight " + weight.shape().str() + ", stride " +
                           std::to_string(stride) + ", padding " + std::to_string(padding) +
                           ", output_padding " + std::to_string(output_padding) + ", groups " +
                           std::to_string(groups) + ", dilation " + std::to_string(dilation);
  if (x.dim() != 3 || weight.dim() != 3)
    throw ShapeError(
        "conv_transpose1d: expected a 3-D input [N, C, L] (or 2-D [C, L]) and a 3-D weight "
        "[in_channels, out_channels / groups, k] (" +
        show + ")");
  // Checked here so that the errors speak of conv_transpose1d's own 3-D shapes.
  const Shape ys =
      conv_t_geom(unsqueeze(x, 2).shape(), unsqueeze(weight, 2).shape(), {1, stride}, {0, padding},
                  {0, output_padding}, groups, {1, dilation}, "conv_transpose1d", show);
  if (bias.defined() && !(bias.shape() == Shape{ys[1]}))
    throw ShapeError("conv_transpose1d: bias has shape " + bias.shape().str() + ", expected [" +
                     std::to_string(ys[1]) + "] (" + show + ")");
  return squeeze(conv_transpose2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, {1, stride}, {0, padding},
                                  {0, output_padding}, groups, {1, dilation}),
                 2);
}

}  // namespace xg
