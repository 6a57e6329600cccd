// Resampling ops: the padding modes (reflect, replicate, circular), interpolate (nearest, linear,
// bilinear), pixel_shuffle / pixel_unshuffle, and unfold / fold (im2col / col2im).
//
// Padding and interpolation are one kernel: a separable resampling of the last 1, 2 or 3 axes, in
// which output position o of an axis reads a few input positions ("taps") with weights (padding and
// nearest: one tap of weight 1; linear: two). Its gradient is the transposed map (a scatter-add of
// the taps), a primitive of its own whose gradient is the forward again, so every order of
// derivative goes through these two kernels:
//   pad_reflect / pad_replicate / pad_circular -> pad_mode_backward -> the same pad op
//   interpolate -> interpolate_backward -> interpolate
//   unfold -> fold -> unfold
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

namespace {

OpSample sample1(std::string label, Tensor x, std::function<Tensor(const Tensor&)> f, std::string torch) {
  return {std::move(label),
          {std::move(x)},
          [f](std::span<const Tensor> in) { return f(in[0]); },
          0,
          std::move(torch)};
}

// A sample of an op reached through another op's backward: grad of f at zeros of shape xs, with
// the sample input as the upstream gradient (create_graph, so the backward op is recorded).
OpSample via_grad(std::string label, Tensor g, Shape xs, std::function<Tensor(const Tensor&)> f) {
  return {std::move(label),
          {std::move(g)},
          [f, xs](std::span<const Tensor> t) {
            Tensor x = zeros(xs, {.dtype = Dtype::float64, .requires_grad = true});
            return xg::grad({f(x)}, {x}, {t[0]}, true, true)[0];
          },
          0,
          ""};
}

std::string ints_str(const std::vector<int64_t>& v) {
  std::string r = "(";
  for (std::size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + std::to_string(v[i]);
  return r + ")";
}

const char* mode_name(PadMode m) {
  switch (m) {
    case PadMode::constant:
      return "constant";
    case PadMode::reflect:
      return "reflect";
    case PadMode::replicate:
      return "replicate";
    case PadMode::circular:
      return "circular";
  }
  return "?";
}

}  // namespace

const char* mode_name(InterpMode m) {
  switch (m) {
    case InterpMode::nearest:
      return "nearest";
    case InterpMode::linear:
      return "linear";
    case InterpMode::bilinear:
      return "bilinear";
  }
  return "?";
}

// ---------------------------------------------------------------- padding modes
namespace {
std::vector<OpSample> pad_samples(PadMode m) {
  const std::string mode = std::string(", mode='") + mode_name(m) + "')";
  auto call = [m](std::vector<int64_t> pads) {
    return [m, pads](const Tensor& x) { return pad(x, pads, m); };
  };
  std::vector<OpSample> s = {
      sample1("[2, 3, 5] last axis (2, 1)", sample_tensor({2, 3, 5}, Domain::real, 1), call({2, 1}),
              "OP(x0, (2, 1)" + mode),
      sample1("[1, 2, 3, 4, 3] last three axes (1, 1, 1, 0, 2, 1)",
              sample_tensor({1, 2, 3, 4, 3}, Domain::real, 3), call({1, 1, 1, 0, 2, 1}),
              "OP(x0, (1, 1, 1, 0, 2, 1)" + mode),
      sample1("[2, 2, 4] cropping (-1, 2)", sample_tensor({2, 2, 4}, Domain::real, 4), call({-1, 2}),
              "OP(x0, (-1, 2)" + mode),
  };
  if (m == PadMode::circular)  // circular padding takes batched inputs only
    s.push_back(sample1("[2, 1, 4, 5] last two axes (1, 2, 2, 1)",
                        sample_tensor({2, 1, 4, 5}, Domain::real, 2), call({1, 2, 2, 1}),
                        "OP(x0, (1, 2, 2, 1)" + mode));
  else
    s.push_back(sample1("unbatched [3, 4, 5] last two axes (1, 2, 2, 1)",
                        sample_tensor({3, 4, 5}, Domain::real, 2), call({1, 2, 2, 1}),
                        "OP(x0, (1, 2, 2, 1)" + mode));
  if (m == PadMode::replicate)  // replicate has no size limit: a pad wider than the axis
    s.push_back(sample1("[1, 2, 2, 2] (3, 0, 0, 3)", sample_tensor({1, 2, 2, 2}, Domain::real, 5),
                        call({3, 0, 0, 3}), "OP(x0, (3, 0, 0, 3)" + mode));
  return s;
}
}  // namespace

XG_OP(pad_reflect,
      {.formula = "y = x mirrored at the edges (the edge itself not repeated): dx = the gradient "
                  "summed back onto the positions each output read (pad_mode_backward)",
       .kind = OpKind::primitive,
       .samples = [] { return pad_samples(PadMode::reflect); },
       .torch = "torch.nn.functional.pad"});
XG_OP(
    pad_replicate,
    {.formula = "y = x with its edge values repeated: dx = the gradient summed back onto the positions each "
                "output read, the edges collecting the padding's (pad_mode_backward)",
     .kind = OpKind::primitive,
     .samples = [] { return pad_samples(PadMode::replicate); },
     .torch = "torch.nn.functional.pad"});
XG_OP(pad_circular, {.formula = "y = x wrapped around: dx = the gradient summed back onto the positions each "
                                "output read (pad_mode_backward)",
                     .kind = OpKind::primitive,
                     .samples = [] { return pad_samples(PadMode::circular); },
                     .torch = "torch.nn.functional.pad"});
XG_OP(pad_mode_backward,
      {.formula =
           "the transposed gather of a reflect / replicate / circular pad (a scatter-add); d/dg = the pad "
           "itself (it is linear)",
       .kind = OpKind::primitive,
       .samples = [] {
         return std::vector<OpSample>{
             via_grad("grad of reflect pad [2, 2, 4] (3, 2)", sample_tensor({2, 2, 9}, Domain::real, 1),
                      {2, 2, 4},
                      [](const Tensor& x) {
                        return pad(x, {3, 2}, PadMode::reflect);
                      }),
             via_grad("grad of replicate pad [1, 2, 3, 2] (1, 3, 2, 0)",
                      sample_tensor({1, 2, 5, 6}, Domain::real, 2), {1, 2, 3, 2},
                      [](const Tensor& x) {
                        return pad(x, {1, 3, 2, 0}, PadMode::replicate);
                      }),
             via_grad("grad of circular pad [2, 3, 3] (3, -1)", sample_tensor({2, 3, 5}, Domain::real, 3),
                      {2, 3, 3},
                      [](const Tensor& x) {
                        return pad(x, {3, -1}, PadMode::circular);
                      }),
         };
       }});

// ---------------------------------------------------------------- interpolate
XG_OP(
    interpolate,
    {.formula = "y[o] = sum over taps w(o, t) x[i(o, t)], per spatial axis (nearest: 1 tap, linear: 2): dx = "
                "the transposed map applied to the gradient (interpolate_backward)",
     .kind = OpKind::primitive,
     .samples =
         [] {
           using M = InterpMode;
           auto call = [](InterpolateOptions o) {
             return [o](const Tensor& x) { return interpolate(x, o); };
           };
           return std::vector<OpSample>{
               sample1("nearest [2, 3, 5] size 7", sample_tensor({2, 3, 5}, Domain::real, 1),
                       call({.size = {7}}), "OP(x0, size=7, mode='nearest')"),
               sample1("nearest [1, 2, 5] scale_factor 1.7", sample_tensor({1, 2, 5}, Domain::real, 2),
                       call({.scale_factor = {1.7}}), "OP(x0, scale_factor=1.7, mode='nearest')"),
               sample1("nearest [2, 2, 3, 4] size (5, 7)", sample_tensor({2, 2, 3, 4}, Domain::real, 3),
                       call({.size = {5, 7}}), "OP(x0, size=(5, 7), mode='nearest')"),
               sample1("nearest [1, 2, 5, 6] scale_factor (0.6, 0.5)",
                       sample_tensor({1, 2, 5, 6}, Domain::real, 4), call({.scale_factor = {0.6, 0.5}}),
                       "OP(x0, scale_factor=(0.6, 0.5), mode='nearest')"),
               sample1("linear [2, 3, 5] size 8", sample_tensor({2, 3, 5}, Domain::real, 5),
                       call({.size = {8}, .mode = M::linear}), "OP(x0, size=8, mode='linear')"),
               sample1("linear [1, 2, 6] size 4 align_corners", sample_tensor({1, 2, 6}, Domain::real, 6),
                       call({.size = {4}, .mode = M::linear, .align_corners = true}),
                       "OP(x0, size=4, mode='linear', align_corners=True)"),
               sample1("linear [1, 2, 5] scale_factor 1.7 recomputed",
                       sample_tensor({1, 2, 5}, Domain::real, 7),
                       call({.scale_factor = {1.7}, .mode = M::linear, .recompute_scale_factor = true}),
                       "OP(x0, scale_factor=1.7, mode='linear', recompute_scale_factor=True)"),
               sample1("bilinear [2, 2, 3, 4] size (5, 7)", sample_tensor({2, 2, 3, 4}, Domain::real, 8),
                       call({.size = {5, 7}, .mode = M::bilinear, .align_corners = false}),
                       "OP(x0, size=(5, 7), mode='bilinear', align_corners=False)"),
               sample1("bilinear [1, 2, 3, 4] size (4, 6) align_corners",
                       sample_tensor({1, 2, 3, 4}, Domain::real, 9),
                       call({.size = {4, 6}, .mode = M::bilinear, .align_corners = true}),
                       "OP(x0, size=(4, 6), mode='bilinear', align_corners=True)"),
               sample1("bilinear [1, 2, 5, 6] scale_factor (0.5, 1.5)",
                       sample_tensor({1, 2, 5, 6}, Domain::real, 10),
                       call({.scale_factor = {0.5, 1.5}, .mode = M::bilinear}),
                       "OP(x0, scale_factor=(0.5, 1.5), mode='bilinear')"),
           };
         },
     .torch = "torch.nn.functional.interpolate"});
XG_OP(interpolate_backward,
      {.formula =
           "the transposed map of interpolate (a weighted scatter-add); d/dg = interpolate itself (it is "
           "linear)",
       .kind = OpKind::primitive,
       .samples = [] {
         return std::vector<OpSample>{
             via_grad("grad of nearest [1, 2, 5] -> 3", sample_tensor({1, 2, 3}, Domain::real, 1), {1, 2, 5},
                      [](const Tensor& x) { return interpolate(x, {.size = {3}}); }),
             via_grad("grad of linear [2, 1, 4] -> 7 align_corners",
                      sample_tensor({2, 1, 7}, Domain::real, 2), {2, 1, 4},
                      [](const Tensor& x) {
                        return interpolate(x,
                                           {.size = {7}, .mode = InterpMode::linear, .align_corners = true});
                      }),
             via_grad("grad of bilinear [1, 2, 3, 3] -> (5, 2)", sample_tensor({1, 2, 5, 2}, Domain::real, 3),
                      {1, 2, 3, 3},
                      [](const Tensor& x) {
                        return interpolate(x, {.size = {5, 2}, .mode = InterpMode::bilinear});
                      }),
         };
       }});

// ---------------------------------------------------------------- the separable resampling kernel
namespace {

// One spatial axis of a separable resampling: output position o reads input positions
// idx[o * taps + t] with weights w[o * taps + t]. The default is the identity on an axis of size 1.
struct ResampleAxis {
  int64_t in = 1, out = 1;
  int taps = 1;
  std::vector<int64_t> idx{0};
  std::vector<double> w{1.0};  // exact copies of the weights computed in the tensor's dtype
};

// The last k axes of the tensor are resampled (axes[3 - k .. 3), the first ones of size 1), the
// axes before them are planes resampled alike.
struct Resampling {
  Shape in_shape, out_shape;
  int k = 0;
  std::array<ResampleAxis, 3> axes;
  const OpInfo* forward_op = nullptr;   // what the forward records
  const OpInfo* backward_op = nullptr;  // what its transpose records
  const char* name = "";                // the forward's name, for errors
};

int64_t planes_of(const Shape& s, int spatial) {
  int64_t p = 1;
  for (int d = 0; d < s.rank() - spatial; ++d) p *= s[d];
  return p;
}

// y[p, o0, o1, o2] = sum_t0 w0 (sum_t1 w1 (sum_t2 w2 x[p, i0, i1, i2])), the innermost axis summed
// first. Each sum starts from its first term, so a copy (one tap of weight 1) keeps x's bits (-0.0).
template <class T>
void resample_kernel(const T* x, T* y, int64_t planes, const Resampling& r) {
  const ResampleAxis &a0 = r.axes[0], &a1 = r.axes[1], &a2 = r.axes[2];
  const int64_t in_plane = a0.in * a1.in * a2.in, out_plane = a0.out * a1.out * a2.out;
  const int64_t s0 = a1.in * a2.in, s1 = a2.in;
  detail::parallel_for(planes, std::max<int64_t>(1, 4096 / std::max<int64_t>(out_plane, 1)),
                       [&](int64_t p0, int64_t p1) {
                         for (int64_t p = p0; p < p1; ++p) {
                           const T* xp = x + p * in_plane;
                           T* yp = y + p * out_plane;
                           for (int64_t o0 = 0; o0 < a0.out; ++o0)
                             for (int64_t o1 = 0; o1 < a1.out; ++o1)
                               for (int64_t o2 = 0; o2 < a2.out; ++o2) {
                                 auto inner = [&](const T* row) {
                                   const int64_t* id = &a2.idx[o2 * a2.taps];
                                   const double* w = &a2.w[o2 * a2.taps];
                                   T acc = row[id[0]] * static_cast<T>(w[0]);
                                   for (int t = 1; t < a2.taps; ++t) acc += row[id[t]] * static_cast<T>(w[t]);
                                   return acc;
                                 };
                                 auto middle = [&](const T* plane) {
                                   const int64_t* id = &a1.idx[o1 * a1.taps];
                                   const double* w = &a1.w[o1 * a1.taps];
                                   T acc = inner(plane + id[0] * s1) * static_cast<T>(w[0]);
                                   for (int t = 1; t < a1.taps; ++t)
                                     acc += inner(plane + id[t] * s1) * static_cast<T>(w[t]);
                                   return acc;
                                 };
                                 const int64_t* id = &a0.idx[o0 * a0.taps];
                                 const double* w = &a0.w[o0 * a0.taps];
                                 T acc = middle(xp + id[0] * s0) * static_cast<T>(w[0]);
                                 for (int t = 1; t < a0.taps; ++t)
                                   acc += middle(xp + id[t] * s0) * static_cast<T>(w[t]);
                                 *yp++ = acc;
                               }
                         }
                       });
}

// The transpose: gx[p, i0, i1, i2] += w0 w1 w2 g[p, o0, o1, o2] over every tap.
template <class T>
void resample_transpose_kernel(const T* g, T* gx, int64_t planes, const Resampling& r) {
  const ResampleAxis &a0 = r.axes[0], &a1 = r.axes[1], &a2 = r.axes[2];
  const int64_t in_plane = a0.in * a1.in * a2.in, out_plane = a0.out * a1.out * a2.out;
  const int64_t s0 = a1.in * a2.in, s1 = a2.in;
  detail::parallel_for(
      planes, std::max<int64_t>(1, 4096 / std::max<int64_t>(out_plane, 1)), [&](int64_t p0, int64_t p1) {
        std::fill(gx + p0 * in_plane, gx + p1 * in_plane, T(0));
        for (int64_t p = p0; p < p1; ++p) {
          T* xp = gx + p * in_plane;
          const T* gp = g + p * out_plane;
          for (int64_t o0 = 0; o0 < a0.out; ++o0)
            for (int64_t o1 = 0; o1 < a1.out; ++o1)
              for (int64_t o2 = 0; o2 < a2.out; ++o2) {
                const T v = *gp++;
                for (int t0 = 0; t0 < a0.taps; ++t0) {
                  const T v0 = v * static_cast<T>(a0.w[o0 * a0.taps + t0]);
                  T* x0 = xp + a0.idx[o0 * a0.taps + t0] * s0;
                  for (int t1 = 0; t1 < a1.taps; ++t1) {
                    const T v1 = v0 * static_cast<T>(a1.w[o1 * a1.taps + t1]);
                    T* x1 = x0 + a1.idx[o1 * a1.taps + t1] * s1;
                    for (int t2 = 0; t2 < a2.taps; ++t2)
                      x1[a2.idx[o2 * a2.taps + t2]] += v1 * static_cast<T>(a2.w[o2 * a2.taps + t2]);
                  }
                }
              }
        }
      });
}

Tensor resample_transpose(const Tensor& g, std::shared_ptr<const Resampling> rs);

Tensor resample(const Tensor& x, std::shared_ptr<const Resampling> rs) {
  const Resampling& r = *rs;
  Tensor y = detail::new_tensor(r.out_shape, x.dtype());
  if (y.numel() > 0)
    detail::visit_dtype(x.dtype(), [&]<class T>() {
      resample_kernel(x.data<T>(), y.data<T>(), planes_of(r.in_shape, r.k), r);
    });
  if (!x.is_floating_point()) return y;  // int64 (circular padding): no gradient
  return record(
      *r.forward_op, y, {x},
      [rs](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = resample_transpose(g, rs); },
      [&](std::span<const Tensor> t) {
        return resample(t[0], rs);  // linear in x
      });
}

Tensor resample_transpose(const Tensor& g, std::shared_ptr<const Resampling> rs) {
  const Resampling& r = *rs;
  if (!(g.shape() == r.out_shape))
    throw ShapeError(std::string(r.backward_op->name) + ": grad_output has shape " + g.shape().str() +
                     ", expected " + r.out_shape.str());
  Tensor gx = detail::new_tensor(r.in_shape, g.dtype());
  if (gx.numel() > 0)
    detail::visit_float(g.dtype(), r.backward_op->name, [&]<class T>() {
      resample_transpose_kernel(g.data<T>(), gx.data<T>(), planes_of(r.in_shape, r.k), r);
    });
  return record(
      *r.backward_op, gx, {g},
      [rs](const Node&, const Tensor& gg, std::span<Tensor> gi) { gi[0] = resample(gg, rs); },
      [&](std::span<const Tensor> t) {
        return resample_transpose(t[0], rs);  // linear in the gradient
      });
}

// The Resampling of the last k <= 3 axes of shape `in` by `spatial` (the axes before them are planes).
std::shared_ptr<Resampling> make_resampling(const Shape& in, std::vector<ResampleAxis> spatial,
                                            const OpInfo& fw, const OpInfo& bw, const char* name) {
  auto r = std::make_shared<Resampling>();
  const int k = static_cast<int>(spatial.size());
  r->k = k;
  r->in_shape = in;
  r->out_shape = in;
  for (int j = 0; j < k; ++j) {
    r->out_shape[in.rank() - k + j] = spatial[j].out;
    r->axes[3 - k + j] = std::move(spatial[j]);
  }
  r->forward_op = &fw;
  r->backward_op = &bw;
  r->name = name;
  return r;
}

// ---------------------------------------------------------------- padding modes
// Output position o of an axis of size n padded by (before, after) reads input position idx[o].
ResampleAxis pad_axis(PadMode m, int64_t n, int64_t before, int64_t after, int64_t out) {
  ResampleAxis a;
  a.in = n;
  a.out = out;
  a.idx.resize(out);
  a.w.assign(out, 1.0);
  // Circular padding wraps within what negative pads leave of the axis: [lo, lo + len).
  const int64_t lo = std::max<int64_t>(-before, 0), len = n - lo - std::max<int64_t>(-after, 0);
  for (int64_t o = 0; o < out; ++o) {
    int64_t i = o - before;
    if (m == PadMode::reflect) {
      if (i < 0) i = -i;
      if (i >= n) i = 2 * (n - 1) - i;
    } else if (m == PadMode::replicate) {
      i = std::clamp<int64_t>(i, 0, n - 1);
    } else {
      const int64_t j = (o - std::max<int64_t>(before, 0)) % len;
      i = lo + (j < 0 ? j + len : j);
    }
    a.idx[o] = i;
  }
  return a;
}

const OpInfo& pad_op_of(PadMode m) {
  return m == PadMode::reflect     ? opdefs::pad_reflect_op
         : m == PadMode::replicate ? opdefs::pad_replicate_op
                                   : opdefs::pad_circular_op;
}

// ---------------------------------------------------------------- interpolation
// The source index of output o for mode nearest: floor(o * scale) with scale = in / out, or
// 1 / scale_factor when one is given, in the tensor's precision; the product is rounded to float
// before the floor (PyTorch 1.13's rule, which decides the ties of fractional scales).
template <class S>
ResampleAxis nearest_axis(int64_t n, int64_t out, std::optional<double> sf) {
  const S scale = sf ? static_cast<S>(1.0 / *sf) : static_cast<S>(n) / static_cast<S>(out);
  ResampleAxis a;
  a.in = n;
  a.out = out;
  a.idx.resize(out);
  a.w.assign(out, 1.0);
  for (int64_t o = 0; o < out; ++o) {
    const auto i = static_cast<int64_t>(std::floor(static_cast<float>(scale * static_cast<S>(o))));
    a.idx[o] = std::clamp<int64_t>(i, 0, n - 1);
  }
  return a;
}

// Two taps per output, x[i0] l0 + x[i1] l1: with align_corners the source of o is o (n - 1) / (out - 1),
// else (o + 0.5) scale - 0.5 clamped at 0 (scale as for nearest). An axis whose size does not
// change is copied (taps (o, o) with weights (1, 0)), whatever the scale_factor, as PyTorch 1.13.
template <class S>
ResampleAxis linear_axis(int64_t n, int64_t out, std::optional<double> sf, bool align_corners) {
  S scale;
  if (align_corners)
    scale = out > 1 ? static_cast<S>(n - 1) / static_cast<S>(out - 1) : S(0);
  else
    scale = sf ? static_cast<S>(1.0 / *sf) : static_cast<S>(n) / static_cast<S>(out);
  ResampleAxis a;
  a.in = n;
  a.out = out;
  a.taps = 2;
  a.idx.resize(2 * out);
  a.w.resize(2 * out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t i0 = o, i1 = o;
    S l0 = 1, l1 = 0;
    if (out != n) {
      S src = align_corners ? scale * static_cast<S>(o) : scale * (static_cast<S>(o) + S(0.5)) - S(0.5);
      if (!align_corners && src < S(0)) src = S(0);
      i0 = std::min(static_cast<int64_t>(src), n - 1);
      i1 = i0 + (i0 < n - 1 ? 1 : 0);
      l1 = std::min(std::max(src - static_cast<S>(i0), S(0)), S(1));
      l0 = S(1) - l1;
    }
    a.idx[2 * o] = i0;
    a.idx[2 * o + 1] = i1;
    a.w[2 * o] = static_cast<double>(l0);
    a.w[2 * o + 1] = static_cast<double>(l1);
  }
  return a;
}

}  // namespace

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  if (mode == PadMode::constant) return pad(x, pads, value);
  const std::string m = mode_name(mode);
  if (!x.defined()) throw ValueError("pad: the input is undefined");
  if (value != 0.0)
    throw ValueError("pad: padding mode " + m + " takes no value (only constant padding does), got " +
                     std::to_string(value));
  const int r = x.dim();
  const int k = static_cast<int>(pads.size() / 2);
  if (pads.size() % 2 != 0 || k < 1 || k > 3 || (r != k + 1 && r != k + 2))
    throw ShapeError("pad: " + m + " padding takes 2, 4 or 6 pad values for the last 1, 2 or 3 axes of a " +
                     "tensor with 1 or 2 more axes (e.g. [N, C, W] or [C, W] for 2 values), got " +
                     std::to_string(pads.size()) + " values for shape " + x.shape().str());
  if (mode == PadMode::circular && r != k + 2)
    throw ShapeError("pad: circular padding of the last " + std::to_string(k) + " axes takes a batched " +
                     std::to_string(k + 2) + "-D input [N, C, ...], got shape " + x.shape().str());
  if (mode != PadMode::circular && !x.is_floating_point())
    throw TypeError("pad: " + m + " padding expects a float tensor, got " + dtype_name(x.dtype()) +
                    " of shape " + x.shape().str());
  if (mode != PadMode::circular)
    for (int d = r == k + 2 ? 1 : 0; d < r; ++d)
      if (x.shape()[d] == 0)
        throw ShapeError("pad: " + m +
                         " padding needs non-empty axes (only a batch axis may be empty), got shape " +
                         x.shape().str());
  std::vector<ResampleAxis> axes(k);
  for (int j = 0; j < k; ++j) {
    const int d = r - 1 - j;  // pads name the last axis first
    const int64_t n = x.shape()[d], before = pads[2 * j], after = pads[2 * j + 1];
    const std::string what = m + " padding (" + std::to_string(before) + ", " + std::to_string(after) +
                             ") of axis " + std::to_string(d) + " of " + x.shape().str();
    if (mode == PadMode::reflect && (before >= n || after >= n))
      throw ShapeError("pad: " + what + ": reflect padding must be less than the axis' size " +
                       std::to_string(n));
    if (mode == PadMode::circular && (before > n || after > n))
      throw ShapeError("pad: " + what + " wraps around more than once (at most the axis' size " +
                       std::to_string(n) + ")");
    int64_t out = 0;
    if (__builtin_add_overflow(n, before, &out) || __builtin_add_overflow(out, after, &out))
      throw ShapeError("pad: " + what + " overflows the axis' extent");
    if (mode != PadMode::circular && out < 1)
      throw ShapeError("pad: " + what + " leaves the axis with size " + std::to_string(out) +
                       " (at least 1)");
    if (mode == PadMode::circular) {
      if (out < 0) throw ShapeError("pad: " + what + " gives a negative size " + std::to_string(out));
      const int64_t kept = n - std::max<int64_t>(-before, 0) - std::max<int64_t>(-after, 0);
      if (kept < 0 || (kept == 0 && out > 0))
        throw ShapeError("pad: " + what + " wraps around more than once (its negative pads leave " +
                         std::to_string(std::max<int64_t>(kept, 0)) + " elements to wrap)");
    }
    axes[k - 1 - j] = pad_axis(mode, n, before, after, out);
  }
  return resample(x, make_resampling(x.shape(), std::move(axes), pad_op_of(mode),
                                     opdefs::pad_mode_backward_op, pad_op_of(mode).name));
}

Tensor interpolate(const Tensor& x, const InterpolateOptions& o) {
  const std::string m = mode_name(o.mode);
  if (!x.defined()) throw ValueError("interpolate: the input is undefined");
  if (x.dim() != 3 && x.dim() != 4)
    throw ShapeError("interpolate: expected a 3-D input [N, C, L] or a 4-D input [N, C, H, W], got shape " +
                     x.shape().str());
  if (o.mode == InterpMode::linear && x.dim() != 3)
    throw ShapeError("interpolate: mode linear needs a 3-D input [N, C, L], got shape " + x.shape().str());
  if (o.mode == InterpMode::bilinear && x.dim() != 4)
    throw ShapeError("interpolate: mode bilinear needs a 4-D input [N, C, H, W], got shape " +
                     x.shape().str());
  if (!x.is_floating_point())
    throw TypeError(std::string("interpolate: expected a float tensor, got ") + dtype_name(x.dtype()) +
                    " of shape " + x.shape().str());
  if (o.mode == InterpMode::nearest && o.align_corners)
    throw ValueError(
        "interpolate: align_corners can only be set with the modes linear and bilinear (got mode "
        "nearest)");
  const bool has_size = !o.size.empty(), has_scale = !o.scale_factor.empty();
  if (has_size == has_scale)
    throw ValueError(has_size ? "interpolate: only one of size and scale_factor may be given"
                              : "interpolate: either size or scale_factor must be given");
  if (has_size && o.recompute_scale_factor.value_or(false))
    throw ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size");
  const int k = x.dim() - 2;
  const std::size_t given = has_size ? o.size.size() : o.scale_factor.size();
  if (given != 1 && given != static_cast<std::size_t>(k))
    throw ValueError(std::string("interpolate: ") + (has_size ? "size" : "scale_factor") + " has " +
                     std::to_string(given) + " values for the " + std::to_string(k) +
                     " spatial axes of input " + x.shape().str() + " (give 1 or " + std::to_string(k) + ")");
  if (x.shape()[1] == 0) throw ShapeError("interpolate: the input " + x.shape().str() + " has no channels");
  std::vector<int64_t> out(k);
  std::vector<std::optional<double>> scales(k);
  for (int j = 0; j < k; ++j) {
    const int64_t n = x.shape()[2 + j];
    if (has_size) {
      out[j] = o.size[given == 1 ? 0 : j];
      continue;
    }
    const double sf = o.scale_factor[given == 1 ? 0 : j];
    const double prod = static_cast<double>(n) * sf;
    if (!std::isfinite(sf) || !(std::fabs(prod) < 9.0e15))
      throw ValueError("interpolate: scale_factor " + std::to_string(sf) + " gives no output size for axis " +
                       std::to_string(2 + j) + " of " + x.shape().str());
    // Without recompute_scale_factor the kernel uses 1 / scale_factor, not in / out.
    out[j] = o.recompute_scale_factor.value_or(false) ? static_cast<int64_t>(std::floor(prod))
                                                      : static_cast<int64_t>(prod);
    if (!o.recompute_scale_factor.value_or(false)) scales[j] = sf;
  }
  bool positive = true;
  for (int j = 0; j < k; ++j) positive = positive && out[j] > 0 && x.shape()[2 + j] > 0;
  if (!positive)
    throw ShapeError("interpolate: input and output sizes must be greater than 0, got input " +
                     x.shape().str() + " and output size " + ints_str(out));
  const bool align = o.align_corners.value_or(false);
  std::vector<ResampleAxis> axes(k);
  detail::visit_float(x.dtype(), "interpolate", [&]<class T>() {
    for (int j = 0; j < k; ++j) {
      const int64_t n = x.shape()[2 + j];
      axes[j] = o.mode == InterpMode::nearest ? nearest_axis<T>(n, out[j], scales[j])
                                              : linear_axis<T>(n, out[j], scales[j], align);
    }
  });
  return resample(x, make_resampling(x.shape(), std::move(axes), opdefs::interpolate_op,
                                     opdefs::interpolate_backward_op, "interpolate"));
}

// ---------------------------------------------------------------- pixel_shuffle / pixel_unshuffle
XG_OP(pixel_shuffle, {.formula = "pixel_shuffle is a reshape, a permute and a reshape (composite)",
                      .kind = OpKind::composite,
                      .samples =
                          [] {
                            return std::vector<OpSample>{
                                sample1(
                                    "[2, 8, 2, 3] by 2", sample_tensor({2, 8, 2, 3}, Domain::real, 1),
                                    [](const Tensor& x) { return pixel_shuffle(x, 2); }, "OP(x0, 2)"),
                                sample1(
                                    "unbatched [9, 2, 1] by 3", sample_tensor({9, 2, 1}, Domain::real, 2),
                                    [](const Tensor& x) { return pixel_shuffle(x, 3); }, "OP(x0, 3)"),
                                sample1(
                                    "[2, 1, 4, 2, 2] by 2", sample_tensor({2, 1, 4, 2, 2}, Domain::real, 3),
                                    [](const Tensor& x) { return pixel_shuffle(x, 2); }, "OP(x0, 2)"),
                            };
                          },
                      .torch = "torch.nn.functional.pixel_shuffle"});
Tensor pixel_shuffle(const Tensor& x, int64_t r) {
  XG_COMPOSITE_SCOPE(pixel_shuffle);
  if (!x.defined()) throw ValueError("pixel_shuffle: the input is undefined");
  if (x.dim() < 3)
    throw ShapeError("pixel_shuffle: expected an input with at least 3 axes [*, C, H, W], got shape " +
                     x.shape().str());
  if (r <= 0) throw ValueError("pixel_shuffle: upscale_factor must be positive, got " + std::to_string(r));
  const int d = x.dim();
  const int64_t c = x.shape()[d - 3], h = x.shape()[d - 2], w = x.shape()[d - 1];
  if (c % (r * r) != 0)
    throw ShapeError("pixel_shuffle: the channel axis " + std::to_string(c) + " of " + x.shape().str() +
                     " is not divisible by upscale_factor^2 = " + std::to_string(r * r));
  const int64_t b = planes_of(x.shape(), 3);
  Shape out = x.shape();
  out[d - 3] = c / (r * r);
  out[d - 2] = h * r;
  out[d - 1] = w * r;
  // [B, C', r, r, H, W] -> [B, C', H, r, W, r]
  const Tensor y = permute(reshape(x, {b, c / (r * r), r, r, h, w}), {0, 1, 4, 2, 5, 3});
  return reshape(y, out);
}
XG_OP(pixel_unshuffle, {.formula = "pixel_unshuffle is a reshape, a permute and a reshape (composite)",
                        .kind = OpKind::composite,
                        .samples =
                            [] {
                              return std::vector<OpSample>{
                                  sample1(
                                      "[2, 2, 4, 6] by 2", sample_tensor({2, 2, 4, 6}, Domain::real, 1),
                                      [](const Tensor& x) { return pixel_unshuffle(x, 2); }, "OP(x0, 2)"),
                                  sample1(
                                      "unbatched [1, 3, 6] by 3", sample_tensor({1, 3, 6}, Domain::real, 2),
                                      [](const Tensor& x) { return pixel_unshuffle(x, 3); }, "OP(x0, 3)"),
                              };
                            },
                        .torch = "torch.nn.functional.pixel_unshuffle"});
Tensor pixel_unshuffle(const Tensor& x, int64_t r) {
  XG_COMPOSITE_SCOPE(pixel_unshuffle);
  if (!x.defined()) throw ValueError("pixel_unshuffle: the input is undefined");
  if (x.dim() < 3)
    throw ShapeError("pixel_unshuffle: expected an input with at least 3 axes [*, C, H, W], got shape " +
                     x.shape().str());
  if (r <= 0)
    throw ValueError("pixel_unshuffle: downscale_factor must be positive, got " + std::to_string(r));
  const int d = x.dim();
  const int64_t c = x.shape()[d - 3], h = x.shape()[d - 2], w = x.shape()[d - 1];
  if (h % r != 0 || w % r != 0)
    throw ShapeError("pixel_unshuffle: the spatial size (" + std::to_string(h) + ", " + std::to_string(w) +
                     ") of " + x.shape().str() + " is not divisible by downscale_factor " +
                     std::to_string(r));
  const int64_t b = planes_of(x.shape(), 3);
  Shape out = x.shape();
  out[d - 3] = c * r * r;
  out[d - 2] = h / r;
  out[d - 1] = w / r;
  // [B, C, H', r, W', r] -> [B, C, r, r, H', W']
  const Tensor y = permute(reshape(x, {b, c, h / r, r, w / r, r}), {0, 1, 3, 5, 2, 4});
  return reshape(y, out);
}

// ---------------------------------------------------------------- unfold / fold (im2col / col2im)
XG_OP(unfold,
      {.formula = "unfold copies each sliding block into a column: dx = fold(grad) (overlaps summed)",
       .kind = OpKind::primitive,
       .samples =
           [] {
             return std::vector<OpSample>{
                 sample1(
                     "[2, 3, 5, 6] kernel (2, 3)", sample_tensor({2, 3, 5, 6}, Domain::real, 1),
                     [](const Tensor& x) {
                       return unfold(x, {2, 3});
                     },
                     "OP(x0, (2, 3))"),
                 sample1(
                     "[2, 2, 5, 5] kernel 3 dilation (1, 2) padding 1 stride 2",
                     sample_tensor({2, 2, 5, 5}, Domain::real, 2),
                     [](const Tensor& x) {
                       return unfold(x, 3, {1, 2}, 1, 2);
                     },
                     "OP(x0, 3, dilation=(1, 2), padding=1, stride=2)"),
                 sample1(
                     "unbatched [2, 4, 4] kernel 2 stride 2", sample_tensor({2, 4, 4}, Domain::real, 3),
                     [](const Tensor& x) { return unfold(x, 2, 1, 0, 2); }, "OP(x0, 2, stride=2)"),
                 sample1(
                     "[1, 3, 3, 4] kernel 1 (a copy)", sample_tensor({1, 3, 3, 4}, Domain::real, 4),
                     [](const Tensor& x) { return unfold(x, 1); }, "OP(x0, 1)"),
             };
           },
       .torch = "torch.nn.functional.unfold"});
XG_OP(fold, {.formula = "fold sums each column back onto its sliding block: dx = unfold(grad)",
             .kind = OpKind::primitive,
             .samples =
                 [] {
                   return std::vector<OpSample>{
                       sample1(
                           "[2, 12, 9] -> (4, 4) kernel 2", sample_tensor({2, 12, 9}, Domain::real, 1),
                           [](const Tensor& x) {
                             return fold(x, {4, 4}, 2);
                           },
                           "OP(x0, (4, 4), 2)"),
                       sample1(
                           "[1, 8, 15] -> (5, 6) kernel 2 dilation (2, 1) padding (1, 0) stride (2, 1)",
                           sample_tensor({1, 8, 15}, Domain::real, 2),
                           [](const Tensor& x) {
                             return fold(x, {5, 6}, 2, {2, 1}, {1, 0}, {2, 1});
                           },
                           "OP(x0, (5, 6), 2, dilation=(2, 1), padding=(1, 0), stride=(2, 1))"),
                       sample1(
                           "unbatched [4, 9] -> (4, 4) kernel 2", sample_tensor({4, 9}, Domain::real, 3),
                           [](const Tensor& x) {
                             return fold(x, {4, 4}, 2);
                           },
                           "OP(x0, (4, 4), 2)"),
                   };
                 },
             .torch = "torch.nn.functional.fold"});

namespace {
struct BlockParams {
  Size2 kernel, dilation, padding, stride;
  std::string str() const {
    return "kernel_size " + pair_str(kernel) + ", dilation " + pair_str(dilation) + ", padding " +
           pair_str(padding) + ", stride " + pair_str(stride);
  }
};

void check_block_params(const BlockParams& p, const char* op) {
  auto bad = [&](const char* what, Size2 v, const char* rule) {
    throw ValueError(std::string(op) + ": " + what + " must be " + rule + ", got " + pair_str(v));
  };
  if (p.kernel.h <= 0 || p.kernel.w <= 0) bad("kernel_size", p.kernel, "positive");
  if (p.dilation.h <= 0 || p.dilation.w <= 0) bad("dilation", p.dilation, "positive");
  if (p.padding.h < 0 || p.padding.w < 0) bad("padding", p.padding, "non-negative");
  if (p.stride.h <= 0 || p.stride.w <= 0) bad("stride", p.stride, "positive");
}

// The number of sliding blocks along an axis of size n (may be < 1: the caller rejects it).
int64_t blocks(int64_t n, int64_t k, int64_t d, int64_t p, int64_t s) {
  const int64_t span = d * (k - 1) + 1;
  return n + 2 * p < span ? 0 : (n + 2 * p - span) / s + 1;
}

// The im2col geometry of x [n, c, h, w] under p: one group, output (ho, wo) = the blocks.
detail::ConvGeom block_geom(int64_t n, int64_t c, int64_t h, int64_t w, const BlockParams& p) {
  const int64_t ho = blocks(h, p.kernel.h, p.dilation.h, p.padding.h, p.stride.h);
  const int64_t wo = blocks(w, p.kernel.w, p.dilation.w, p.padding.w, p.stride.w);
  return {n,          c,          h,  w,  0,
          p.kernel.h, p.kernel.w, ho, wo, detail::ConvParams{p.stride, p.padding, p.dilation, 1}};
}

Tensor fold_impl(const Tensor& cols, Size2 out, const BlockParams& p);

// x [N, C, H, W] (checked) -> [N, C kh kw, L].
Tensor unfold_impl(const Tensor& x, const BlockParams& p) {
  const Shape& s = x.shape();
  const detail::ConvGeom g = block_geom(s[0], s[1], s[2], s[3], p);
  Tensor y = detail::new_tensor({g.n, g.rows(), g.cols()}, x.dtype());
  const int64_t K = g.rows(), L = g.cols(), chw = g.c * g.h * g.w;
  if (y.numel() > 0)
    detail::visit_float(x.dtype(), "unfold", [&]<class T>() {
      const T* in = x.data<T>();
      T* out = y.data<T>();
      detail::parallel_for(g.n, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t n = lo; n < hi; ++n) detail::im2col(in + n * chw, out + n * K * L, L, g);
      });
    });
  return record(
      opdefs::unfold_op, y, {x},
      [p, hw = Size2{s[2], s[3]}](const Node&, const Tensor& gy, std::span<Tensor> gx) {
        gx[0] = fold_impl(gy, hw, p);
      },
      [&](std::span<const Tensor> t) {
        return unfold_impl(t[0], p);  // linear
      });
}

// cols [N, C kh kw, L] (checked) -> [N, C, H, W], overlapping blocks summed.
Tensor fold_impl(const Tensor& cols, Size2 out, const BlockParams& p) {
  const Shape& s = cols.shape();
  const int64_t c = s[1] / (p.kernel.h * p.kernel.w);
  const detail::ConvGeom g = block_geom(s[0], c, out.h, out.w, p);
  Tensor x = detail::new_tensor({g.n, c, out.h, out.w}, cols.dtype());
  const int64_t K = g.rows(), L = g.cols(), chw = g.c * g.h * g.w;
  if (x.numel() > 0)
    detail::visit_float(cols.dtype(), "fold", [&]<class T>() {
      const T* in = cols.data<T>();
      T* o = x.data<T>();
      detail::parallel_for(g.n, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t n = lo; n < hi; ++n) detail::col2im(in + n * K * L, L, o + n * chw, g);
      });
    });
  return record(
      opdefs::fold_op, x, {cols},
      [p](const Node&, const Tensor& gy, std::span<Tensor> gx) { gx[0] = unfold_impl(gy, p); },
      [&](std::span<const Tensor> t) {
        return fold_impl(t[0], out, p);  // linear
      });
}
}  // namespace

Tensor unfold(const Tensor& x, Size2 kernel_size, Size2 dilation, Size2 padding, Size2 stride) {
  if (!x.defined()) throw ValueError("unfold: the input is undefined");
  const BlockParams p{kernel_size, dilation, padding, stride};
  if (x.dim() != 3 && x.dim() != 4)
    throw ShapeError("unfold: expected a 3-D input [C, H, W] or a 4-D input [N, C, H, W], got shape " +
                     x.shape().str());
  if (!x.is_floating_point())
    throw TypeError(std::string("unfold: expected a float tensor, got ") + dtype_name(x.dtype()) +
                    " of shape " + x.shape().str());
  check_block_params(p, "unfold");
  const Tensor x4 = x.dim() == 3 ? unsqueeze(x, 0) : x;
  const Shape& s = x4.shape();
  if (s[1] == 0 || s[2] == 0 || s[3] == 0)
    throw ShapeError(
        "unfold: expected non-empty channel and spatial axes (only the batch may be empty), got " +
        x.shape().str());
  const int64_t bh = blocks(s[2], p.kernel.h, p.dilation.h, p.padding.h, p.stride.h);
  const int64_t bw = blocks(s[3], p.kernel.w, p.dilation.w, p.padding.w, p.stride.w);
  if (bh < 1 || bw < 1)
    throw ShapeError("unfold: the input " + x.shape().str() + " (spatial size (" + std::to_string(s[2]) +
                     ", " + std::to_string(s[3]) + ")) has no sliding block of " + p.str() +
                     " (the padded input is smaller than the dilated kernel)");
  const Tensor y = unfold_impl(x4, p);
  return x.dim() == 3 ? squeeze(y, 0) : y;
}

Tensor fold(const Tensor& x, Size2 output_size, Size2 kernel_size, Size2 dilation, Size2 padding,
            Size2 stride) {
  if (!x.defined()) throw ValueError("fold: the input is undefined");
  const BlockParams p{kernel_size, dilation, padding, stride};
  if (x.dim() != 2 && x.dim() != 3)
    throw ShapeError(
        "fold: expected a 2-D input [C * kh * kw, L] or a 3-D input [N, C * kh * kw, L], got shape " +
        x.shape().str());
  if (!x.is_floating_point())
    throw TypeError(std::string("fold: expected a float tensor, got ") + dtype_name(x.dtype()) +
                    " of shape " + x.shape().str());
  check_block_params(p, "fold");
  if (output_size.h <= 0 || output_size.w <= 0)
    throw ValueError("fold: output_size must be positive, got " + pair_str(output_size));
  const Tensor x3 = x.dim() == 2 ? unsqueeze(x, 0) : x;
  const Shape& s = x3.shape();
  if (s[1] == 0 || s[2] == 0)
    throw ShapeError("fold: expected non-empty column axes (only the batch may be empty), got " +
                     x.shape().str());
  const int64_t kk = p.kernel.h * p.kernel.w;
  if (s[1] % kk != 0)
    throw ShapeError("fold: the input " + x.shape().str() + " has " + std::to_string(s[1]) +
                     " rows, not divisible by kh * kw = " + std::to_string(kk) + " of kernel_size " +
                     pair_str(kernel_size));
  const int64_t bh = blocks(output_size.h, p.kernel.h, p.dilation.h, p.padding.h, p.stride.h);
  const int64_t bw = blocks(output_size.w, p.kernel.w, p.dilation.w, p.padding.w, p.stride.w);
  if (bh < 1 || bw < 1 || bh * bw != s[2])
    throw ShapeError("fold: the input " + x.shape().str() + " has " + std::to_string(s[2]) +
                     " blocks, but output_size " + pair_str(output_size) + " with " + p.str() + " has " +
                     std::to_string(bh) + " * " + std::to_string(bw) + " = " + std::to_string(bh * bw));
  const Tensor y = fold_impl(x3, output_size, p);
  return x.dim() == 2 ? squeeze(y, 0) : y;
}

}  // namespace xg
