// Convolution and pooling ops (autograd/ops/conv.cpp, pool.cpp): values against hand-computed examples and
// against naive direct loops over several stride / padding / dilation / groups settings, in
// float32 and float64; gradients against the same loops; error messages naming the op and shapes.
// (Every op here is also gradchecked and gradgradchecked by the registry sweep.)
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "xgrad/autograd.hpp"

using xg::Dtype;
using xg::Shape;
using xg::Size2;
using xg::Tensor;

namespace {

using xg_test::contains;

Tensor seq(const Shape& s, Dtype d = Dtype::float64) {
  return xg::reshape(xg::arange(0, static_cast<double>(s.numel()), 1, {.dtype = d}), s);
}

// Direct 7-loop convolution in double: the reference.
std::vector<double> naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, Size2 s, Size2 p, Size2 d,
                               int64_t groups, Shape& out_shape) {
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), Cg = w.size(1), KH = w.size(2), KW = w.size(3), Og = O / groups;
  const int64_t Ho = (H + 2 * p.h - d.h * (KH - 1) - 1) / s.h + 1,
                Wo = (W + 2 * p.w - d.w * (KW - 1) - 1) / s.w + 1;
  out_shape = Shape{N, O, Ho, Wo};
  std::vector<double> y(static_cast<std::size_t>(N * O * Ho * Wo), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double acc = b.defined() ? b.to_vector<double>()[o] : 0.0;
          const int64_t gr = o / Og;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t ih = oh * s.h - p.h + i * d.h, iw = ow * s.w - p.w + j * d.w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += xv[((n * C + gr * Cg + c) * H + ih) * W + iw] * wv[((o * Cg + c) * KH + i) * KW + j];
              }
          y[((n * O + o) * Ho + oh) * Wo + ow] = acc;
        }
  return y;
}

void check_close(const Tensor& got, const std::vector<double>& want, double tol) {
  const auto g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i)
    worst = std::max(worst, std::abs(g[i] - want[i]) / (1 + std::abs(want[i])));
  CHECK(worst <= tol);
}

struct ConvCase {
  const char* label;
  Shape xs, ws;
  bool bias;
  Size2 stride, padding, dilation;
  int64_t groups;
};
const std::vector<ConvCase> kConvCases = {
    {"plain 3x3", {2, 3, 7, 6}, {4, 3, 3, 3}, true, 1, 0, 1, 1},
    {"stride 2 padding 1", {2, 2, 8, 7}, {3, 2, 3, 3}, false, 2, 1, 1, 1},
    {"dilation 2 padding 2", {1, 3, 9, 9}, {2, 3, 3, 3}, true, 1, 2, 2, 1},
    {"groups 2 rectangular stride/padding", {2, 4, 6, 7}, {6, 2, 3, 2}, true, {2, 1}, {1, 0}, 1, 2},
    {"depthwise groups 3, dilation (2, 1)", {2, 3, 7, 7}, {3, 1, 3, 3}, false, 1, 1, {2, 1}, 3},
    {"1x1 kernel", {2, 5, 4, 3}, {3, 5, 1, 1}, true, 1, 0, 1, 1},
    {"1x1 kernel stride 2 padding 1", {1, 2, 5, 5}, {2, 2, 1, 1}, false, 2, 1, 1, 1},
    {"kernel as large as the padded input", {1, 1, 3, 3}, {1, 1, 5, 5}, false, 1, 1, 1, 1},
    {"mnist-like 1 -> 8 channels pad 1", {4, 1, 28, 28}, {8, 1, 3, 3}, true, 1, 1, 1, 1},
};

}  // namespace

// ================================================================ conv2d
TEST_CASE("conv2d: a hand-computed example") {
  // x = 0..15 as 4x4, w = [[1, 0], [0, -1]]: y[i][j] = x[i][j] - x[i+1][j+1] = -5 everywhere.
  Tensor x = seq({1, 1, 4, 4});
  Tensor w = xg::tensor({1, 0, 0, -1}, {1, 1, 2, 2}, {.dtype = Dtype::float64});
  Tensor y = xg::conv2d(x, w);
  CHECK(y.shape() == Shape{1, 1, 3, 3});
  for (double v : y.to_vector<double>()) CHECK(v == -5.0);
  // A box filter with bias 1, stride 2: sums of the four 2x2 blocks plus 1.
  Tensor y2 = xg::conv2d(x, xg::ones({1, 1, 2, 2}, {.dtype = Dtype::float64}),
                         xg::tensor({1.0}, {.dtype = Dtype::float64}), 2);
  CHECK(y2.shape() == Shape{1, 1, 2, 2});
  CHECK(y2.to_vector<double>() == std::vector<double>{11, 19, 43, 51});
  // Padding 1: the corner output sees only x[0][0] (w's bottom-right tap).
  Tensor y3 = xg::conv2d(x, xg::ones({1, 1, 2, 2}, {.dtype = Dtype::float64}), Tensor(), 1, 1);
  CHECK(y3.shape() == Shape{1, 1, 5, 5});
  CHECK(y3.at({0, 0, 0, 0}) == 0.0);
  CHECK(y3.at({0, 0, 0, 1}) == 0.0 + 1.0);
  CHECK(y3.at({0, 0, 1, 1}) == 0.0 + 1 + 4 + 5);
  CHECK(y3.at({0, 0, 4, 4}) == 15.0);
}

TEST_CASE("conv2d: matches a direct loop for stride, padding, dilation and groups, in float64 and float32") {
  unsigned seed = 1;
  for (const ConvCase& c : kConvCases) {
    CAPTURE(c.label);
    xg::manual_seed(seed++);
    Tensor x = xg::randn(c.xs, {.dtype = Dtype::float64}), w = xg::randn(c.ws, {.dtype = Dtype::float64});
    Tensor b = c.bias ? xg::randn({c.ws[0]}, {.dtype = Dtype::float64}) : Tensor();
    Shape os;
    const std::vector<double> want = naive_conv(x, w, b, c.stride, c.padding, c.dilation, c.groups, os);
    Tensor y = xg::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
    CHECK(y.shape() == os);
    CHECK(y.dtype() == Dtype::float64);
    check_close(y, want, 1e-12);
    Tensor y32 =
        xg::conv2d(x.to(Dtype::float32), w.to(Dtype::float32), c.bias ? b.to(Dtype::float32) : Tensor(),
                   c.stride, c.padding, c.dilation, c.groups);
    CHECK(y32.dtype() == Dtype::float32);
    check_close(y32, want, 1e-4);
  }
}

TEST_CASE("conv2d: gradients equal those of the direct loop written with xg ops") {
  // The reference gradient: the convolution as a sum of shifted slices times weights, through
  // autograd on primitive ops (pad, slice, mul, sum) that the sweep checks independently.
  struct Case {
    Shape xs, ws;
    Size2 s, p, d;
    int64_t g;
  };
  for (const Case& c : std::vector<Case>{{{2, 2, 5, 6}, {4, 1, 3, 2}, {2, 1}, 1, {1, 2}, 2},
                                         {{1, 3, 6, 6}, {2, 3, 3, 3}, 2, 1, 1, 1}}) {
    xg::manual_seed(7);
    Tensor x = xg::randn(c.xs, {.dtype = Dtype::float64, .requires_grad = true});
    Tensor w = xg::randn(c.ws, {.dtype = Dtype::float64, .requires_grad = true});
    Tensor b = xg::randn({c.ws[0]}, {.dtype = Dtype::float64, .requires_grad = true});
    Tensor gy;
    {
      Tensor y = xg::conv2d(x, w, b, c.s, c.p, c.d, c.g);
      gy = xg::randn(y.shape(), {.dtype = Dtype::float64});
      y.backward(gy);
    }
    const Tensor gx = x.grad(), gw = w.grad(), gb = b.grad();
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    // reference: out[n, o] = b[o] + sum_{c,i,j} w[o, c, i, j] * xpad[n, g*Cg + c, oh*s + i*d, ow*s + j*d]
    const int64_t Cg = c.ws[1], Og = c.ws[0] / c.g, Ho = gy.size(2), Wo = gy.size(3);
    Tensor xp = xg::pad(x, {c.p.w, c.p.w, c.p.h, c.p.h});
    std::vector<Tensor> outs;
    for (int64_t o = 0; o < c.ws[0]; ++o) {
      Tensor acc = xg::reshape(xg::slice(b, 0, o, o + 1), {1, 1, 1});
      const int64_t gr = o / Og;
      for (int64_t ch = 0; ch < Cg; ++ch)
        for (int64_t i = 0; i < c.ws[2]; ++i)
          for (int64_t j = 0; j < c.ws[3]; ++j) {
            Tensor plane = xg::slice(xp, 1, gr * Cg + ch, gr * Cg + ch + 1);
            plane = xg::slice(plane, 2, i * c.d.h, i * c.d.h + (Ho - 1) * c.s.h + 1, c.s.h);
            plane = xg::slice(plane, 3, j * c.d.w, j * c.d.w + (Wo - 1) * c.s.w + 1, c.s.w);
            Tensor tap = xg::reshape(
                xg::slice(xg::slice(xg::slice(xg::slice(w, 0, o, o + 1), 1, ch, ch + 1), 2, i, i + 1), 3, j,
                          j + 1),
                {1, 1, 1});
            acc = acc + xg::squeeze(plane, 1) * tap;
          }
      outs.push_back(acc);
    }
    Tensor ref = xg::stack(outs, 1);
    REQUIRE(ref.shape() == gy.shape());
    ref.backward(gy);
    check_close(gx, x.grad().to_vector<double>(), 1e-12);
    check_close(gw, w.grad().to_vector<double>(), 1e-12);
    check_close(gb, b.grad().to_vector<double>(), 1e-12);
  }
}

TEST_CASE("conv2d: float32 gradients agree with float64 on the mnist-sized first layer") {
  xg::manual_seed(3);
  Tensor x64 = xg::randn({8, 1, 28, 28}, {.dtype = Dtype::float64});
  Tensor w64 = xg::randn({32, 1, 3, 3}, {.dtype = Dtype::float64});
  Tensor b64 = xg::randn({32}, {.dtype = Dtype::float64});
  Tensor x32 = x64.to(Dtype::float32).requires_grad_(), w32 = w64.to(Dtype::float32).requires_grad_(),
         b32 = b64.to(Dtype::float32).requires_grad_();
  x64.requires_grad_();
  w64.requires_grad_();
  b64.requires_grad_();
  xg::sum(xg::tanh(xg::conv2d(x64, w64, b64, 1, 1))).backward();
  xg::sum(xg::tanh(xg::conv2d(x32, w32, b32, 1, 1))).backward();
  check_close(x32.grad(), x64.grad().to_vector<double>(), 1e-4);
  check_close(w32.grad(), w64.grad().to_vector<double>(), 1e-3);
  check_close(b32.grad(), b64.grad().to_vector<double>(), 1e-3);
}

TEST_CASE("conv2d: unbatched input, dtype promotion, second derivatives") {
  xg::manual_seed(4);
  Tensor x = xg::randn({2, 5, 5}, {.dtype = Dtype::float64});
  Tensor w = xg::randn({3, 2, 3, 3}, {.dtype = Dtype::float64});
  Tensor y = xg::conv2d(x, w, Tensor(), 1, 1);
  CHECK(y.shape() == Shape{3, 5, 5});
  check_close(y, xg::conv2d(xg::unsqueeze(x, 0), w, Tensor(), 1, 1).to_vector<double>(), 0);
  // float32 input with a float64 weight computes in float64, as PyTorch's promotion would.
  CHECK(xg::conv2d(x.to(Dtype::float32), w).dtype() == Dtype::float64);
  // d/dw of sum(conv(x, w)^2) is linear in w: its derivative along w is a constant Hessian, so
  // the create_graph gradient of <grad_w, v> w.r.t. w equals the finite difference.
  Tensor xr = xg::randn({1, 2, 4, 4}, {.dtype = Dtype::float64}),
         wr = xg::randn({2, 2, 3, 3}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor gw = xg::grad({xg::sum(xg::pow(xg::conv2d(xr, wr, Tensor(), 1, 1), 2.0))}, {wr}, {}, true, true)[0];
  Tensor v = xg::randn(wr.shape(), {.dtype = Dtype::float64});
  Tensor hv = xg::grad({xg::sum(gw * v)}, {wr})[0];
  // H v = 2 J^T J v, J the linear map w -> conv(x, w): compare with grad of ||J v||^2 = 2 J^T J v.
  Tensor vr = v.detach().requires_grad_();
  Tensor hv_ref = xg::grad({xg::sum(xg::pow(xg::conv2d(xr, vr, Tensor(), 1, 1), 2.0))}, {vr})[0];
  check_close(hv, hv_ref.to_vector<double>(), 1e-12);
}

TEST_CASE("conv2d_input_grad and conv2d_weight_grad are the adjoints of conv2d") {
  // <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>
  xg::manual_seed(5);
  for (const ConvCase& c : kConvCases) {
    CAPTURE(c.label);
    Tensor x = xg::randn(c.xs, {.dtype = Dtype::float64}), w = xg::randn(c.ws, {.dtype = Dtype::float64});
    Tensor y = xg::conv2d(x, w, Tensor(), c.stride, c.padding, c.dilation, c.groups);
    Tensor g = xg::randn(y.shape(), {.dtype = Dtype::float64});
    const double lhs = xg::sum(y * g).item();
    const double via_x =
        xg::sum(x * xg::conv2d_input_grad(g, w, x.shape(), c.stride, c.padding, c.dilation, c.groups)).item();
    const double via_w =
        xg::sum(w * xg::conv2d_weight_grad(x, g, w.shape(), c.stride, c.padding, c.dilation, c.groups))
            .item();
    CHECK(via_x == doctest::Approx(lhs).epsilon(1e-10));
    CHECK(via_w == doctest::Approx(lhs).epsilon(1e-10));
  }
}

TEST_CASE("conv1d: matches conv2d on [N, C, 1, L] and a direct loop") {
  Tensor x = seq({1, 2, 5});  // channel 0: 0..4, channel 1: 5..9
  Tensor w = xg::tensor({1, -1, 2, 0}, {1, 2, 2}, {.dtype = Dtype::float64});
  // y[l] = x0[l] - x0[l+1] + 2 x1[l] = -1 + 2 (5 + l)
  Tensor y = xg::conv1d(x, w, xg::tensor({0.5}, {.dtype = Dtype::float64}));
  CHECK(y.shape() == Shape{1, 1, 4});
  CHECK(y.to_vector<double>() == std::vector<double>{9.5, 11.5, 13.5, 15.5});
  xg::manual_seed(6);
  Tensor x2 = xg::randn({2, 4, 9}, {.dtype = Dtype::float64}),
         w2 = xg::randn({6, 2, 3}, {.dtype = Dtype::float64});
  Tensor y2 = xg::conv1d(x2, w2, Tensor(), 2, 1, 2, 2);
  Shape os;
  const auto want =
      naive_conv(xg::unsqueeze(x2, 2), xg::unsqueeze(w2, 2), Tensor(), {1, 2}, {0, 1}, {1, 2}, 2, os);
  CHECK(y2.shape() == Shape{2, 6, os[3]});
  check_close(y2, want, 1e-12);
  CHECK(xg::conv1d(xg::squeeze(xg::slice(x2, 0, 0, 1), 0), w2, Tensor(), 2, 1, 2, 2).shape() ==
        Shape{6, os[3]});
}

TEST_CASE("conv2d / conv1d errors name the op and the shapes") {
  Tensor x = xg::zeros({2, 3, 5, 5}), w = xg::zeros({4, 2, 3, 3});
  CHECK_ERROR(xg::conv2d(x, w), xg::ShapeError, "conv2d:", "3 channels", "expects 2", "[2, 3, 5, 5]",
              "[4, 2, 3, 3]");
  CHECK_ERROR(xg::conv2d(x, xg::zeros({4, 3, 3, 3}), xg::zeros({3})), xg::ShapeError, "conv2d:", "bias",
              "[3]", "[4]");
  CHECK_ERROR(xg::conv2d(xg::zeros({2, 3, 5}), xg::zeros({4, 3, 3, 3}).reshape({4, 3, 9})), xg::ShapeError,
              "conv2d:", "4-D");
  CHECK_ERROR(xg::conv2d(xg::zeros({3, 5}), w), xg::ShapeError, "conv2d:", "4-D input", "[3, 5]");
  CHECK_ERROR(xg::conv2d(x, xg::zeros({4, 3, 6, 6})), xg::ShapeError,
              "conv2d:", "smaller than the dilated kernel", "[4, 3, 6, 6]");
  CHECK_ERROR(xg::conv2d(xg::zeros({2, 4, 5, 5}), xg::zeros({3, 2, 3, 3}), Tensor(), 1, 0, 1, 2),
              xg::ShapeError, "conv2d:", "out_channels 3 is not divisible by groups 2");
  CHECK_ERROR(xg::conv2d(x, xg::zeros({4, 3, 3, 3}), Tensor(), 0), xg::ValueError,
              "conv2d:", "stride must be positive");
  CHECK_ERROR(xg::conv2d(x, xg::zeros({4, 3, 3, 3}), Tensor(), 1, -1), xg::ValueError, "conv2d:", "padding");
  CHECK_ERROR(xg::conv2d(xg::zeros({2, 3, 5, 5}, {.dtype = Dtype::int64}), xg::zeros({4, 3, 3, 3})),
              xg::TypeError, "conv2d:", "int64");
  CHECK_ERROR(xg::conv2d_input_grad(xg::zeros({2, 4, 2, 2}), xg::zeros({4, 3, 3, 3}), {2, 3, 5, 5}),
              xg::ShapeError, "conv2d_input_grad:", "[2, 4, 2, 2]", "[2, 4, 3, 3]");
  CHECK_ERROR(xg::conv1d(xg::zeros({2, 3, 8}), xg::zeros({4, 2, 3})), xg::ShapeError, "conv1d:", "[2, 3, 8]",
              "[4, 2, 3]", "3 channels");
  CHECK_ERROR(xg::conv1d(xg::zeros({2, 3, 8}), xg::zeros({4, 3, 3, 3})), xg::ShapeError, "conv1d:", "3-D");
}

// ================================================================ transposed convolutions
TEST_CASE("conv_transpose2d: values and gradients as PyTorch's, stride 2 padding 1 output_padding 1") {
  Tensor x = (seq({1, 2, 2, 3}) * 0.1).requires_grad_();
  Tensor w = ((seq({2, 2, 2, 2}) - 7.0) * 0.05).requires_grad_();
  Tensor b = xg::tensor({0.5, -0.5}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor y = xg::conv_transpose2d(x, w, b, 2, 1, 1);
  REQUIRE(y.shape() == Shape{1, 2, 3, 5});
  // torch.nn.functional.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)
  check_close(y, {0.62,  0.58,  0.62,  0.57, 0.62,  0.5,   0.41,  0.48,  0.38,  0.46,
                  0.62,  0.55,  0.62,  0.54, 0.62,  -0.26, -0.26, -0.22, -0.23, -0.18,
                  -0.26, -0.31, -0.24, -0.3, -0.22, -0.14, -0.17, -0.1,  -0.14, -0.06},
              1e-14);
  // (y * y).sum().backward() in PyTorch
  xg::sum(y * y).backward();
  check_close(x.grad(),
              {-0.248, -0.512, -0.51, -0.496, -0.94, -0.912, 0.04, 0.064, 0.114, 0.08, 0.052, 0.112}, 1e-14);
  check_close(w.grad(),
              {0.708, 1.144, 1.324, 1.86, -0.548, -0.568, -0.42, -0.34, 1.656, 2.872, 4.012, 6.324, -1.28,
               -1.432, -1.38, -1.492},
              1e-14);
  check_close(b.grad(), {16.38, -6.18}, 1e-14);
}

TEST_CASE("conv_transpose1d: groups 2, dilation 2, output_padding 1 >= stride 1, as PyTorch's") {
  Tensor x = (seq({1, 4, 3}) * 0.1).requires_grad_();
  Tensor w = ((seq({4, 1, 2}) - 3.0) * 0.25).requires_grad_();
  Tensor y = xg::conv_transpose1d(x, w, Tensor(), 1, 0, 1, 2, 2);
  REQUIRE(y.shape() == Shape{1, 2, 6});
  // torch.nn.functional.conv_transpose1d(x, w, None, 1, 0, 1, 2, 2): the last column is padding
  check_close(y, {-0.075, -0.175, -0.275, -0.05, -0.1, 0.0, 0.825, 0.925, 2.225, 1.35, 1.5, 0.0}, 1e-14);
  xg::sum(y * y).backward();
  check_close(
      x.grad(),
      {0.3875, 0.3125, 0.5125, 0.0375, 0.0875, 0.1375, 2.6375, 1.8125, 2.6125, 5.6875, 4.0875, 6.3375},
      1e-14);
  check_close(w.grad(), {-0.145, -0.05, -0.46, -0.305, 5.845, 6.96, 8.23, 10.005}, 1e-14);
  // unbatched [C, L] is the batch of one
  check_close(xg::conv_transpose1d(xg::squeeze(x.detach(), 0), w.detach(), Tensor(), 1, 0, 1, 2, 2),
              y.to_vector<double>(), 0);
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d for every conv case") {
  // <conv2d(z, w), x> = <z, conv_transpose2d(x, w)> when the transposed output has z's shape
  xg::manual_seed(9);
  for (const ConvCase& c : kConvCases) {
    CAPTURE(c.label);
    Tensor z = xg::randn(c.xs, {.dtype = Dtype::float64}), w = xg::randn(c.ws, {.dtype = Dtype::float64});
    Tensor y = xg::conv2d(z, w, Tensor(), c.stride, c.padding, c.dilation, c.groups);
    Tensor x = xg::randn(y.shape(), {.dtype = Dtype::float64});
    // output_padding makes up the rows conv2d's floor division dropped
    const Size2 op{(c.xs[2] + 2 * c.padding.h - c.dilation.h * (c.ws[2] - 1) - 1) % c.stride.h,
                   (c.xs[3] + 2 * c.padding.w - c.dilation.w * (c.ws[3] - 1) - 1) % c.stride.w};
    Tensor t = xg::conv_transpose2d(x, w, Tensor(), c.stride, c.padding, op, c.groups, c.dilation);
    REQUIRE(t.shape() == z.shape());
    CHECK(xg::sum(z * t).item() == doctest::Approx(xg::sum(y * x).item()).epsilon(1e-10));
  }
}

TEST_CASE("conv_transpose2d / conv_transpose1d errors name the op and the shapes") {
  // PyTorch: "output padding must be smaller than either stride or dilation"
  CHECK_ERROR(xg::conv_transpose2d(xg::zeros({1, 2, 3, 3}), xg::zeros({2, 2, 2, 2}), Tensor(), 2, 0, 2),
              xg::ValueError,
              "conv_transpose2d:", "output_padding must be smaller than either stride or dilation",
              "[1, 2, 3, 3]", "output_padding (2, 2)");
  CHECK_ERROR(xg::conv_transpose2d(xg::zeros({1, 3, 3, 3}), xg::zeros({2, 2, 2, 2})), xg::ShapeError,
              "conv_transpose2d:", "3 channels", "expects 2", "[1, 3, 3, 3]", "[2, 2, 2, 2]");
  CHECK_ERROR(xg::conv_transpose2d(xg::zeros({1, 3, 3, 3}), xg::zeros({3, 2, 2, 2}), Tensor(), 1, 0, 0, 2),
              xg::ShapeError, "conv_transpose2d:", "not divisible by groups 2", "[3, 2, 2, 2]");
  CHECK_ERROR(xg::conv_transpose2d(xg::zeros({1, 2, 3, 3}), xg::zeros({2, 3, 2, 2}), xg::zeros({2})),
              xg::ShapeError, "conv_transpose2d:", "bias", "[2]", "[3]");
  CHECK_ERROR(xg::conv_transpose2d(xg::zeros({1, 2, 1, 1}), xg::zeros({2, 3, 1, 1}), Tensor(), 1, 1),
              xg::ShapeError, "conv_transpose2d:", "output size -1 x -1");
  CHECK_ERROR(xg::conv_transpose2d(xg::zeros({2, 3}), xg::zeros({2, 3, 1, 1})), xg::ShapeError,
              "conv_transpose2d:", "4-D", "[2, 3]");
  CHECK_ERROR(xg::conv_transpose2d(xg::zeros({1, 2, 3, 3}), xg::zeros({2, 3, 2, 2}), Tensor(), 0),
              xg::ValueError, "conv_transpose2d:", "stride must be positive");
  CHECK_ERROR(xg::conv_transpose2d(xg::zeros({1, 2, 3, 3}, {.dtype = Dtype::int64}), xg::zeros({2, 3, 2, 2})),
              xg::TypeError, "conv_transpose2d:", "int64");
  CHECK_ERROR(xg::conv_transpose1d(xg::zeros({2, 3, 8}), xg::zeros({4, 2, 3})), xg::ShapeError,
              "conv_transpose1d:", "[2, 3, 8]", "[4, 2, 3]", "3 channels");
  CHECK_ERROR(xg::conv_transpose1d(xg::zeros({2, 4, 8}), xg::zeros({4, 2, 3}), Tensor(), 2, 0, 2),
              xg::ValueError, "conv_transpose1d:", "output_padding must be smaller", "output_padding 2");
  CHECK_ERROR(xg::conv_transpose1d(xg::zeros({2, 4, 8}), xg::zeros({4, 2, 3, 1})), xg::ShapeError,
              "conv_transpose1d:", "3-D");
}

// ================================================================ pools
namespace {
// Direct max / average pools in double (avg: PyTorch's count_include_pad divisor rule).
std::vector<double> naive_pool(const Tensor& x, Size2 k, Size2 s, Size2 p, Size2 d, bool is_max,
                               bool count_pad, Shape& os, std::vector<int64_t>* arg = nullptr) {
  const auto xv = x.to_vector<double>();
  const int64_t P = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Ho = (H + 2 * p.h - d.h * (k.h - 1) - 1) / s.h + 1,
                Wo = (W + 2 * p.w - d.w * (k.w - 1) - 1) / s.w + 1;
  os = Shape{x.size(0), x.size(1), Ho, Wo};
  std::vector<double> y;
  for (int64_t pl = 0; pl < P; ++pl)
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        double best = -std::numeric_limits<double>::infinity(), acc = 0;
        int64_t where = -1, count = 0, padded = 0;
        for (int64_t i = 0; i < k.h; ++i)
          for (int64_t j = 0; j < k.w; ++j) {
            const int64_t ih = oh * s.h - p.h + i * d.h, iw = ow * s.w - p.w + j * d.w;
            if (ih < H + p.h && iw < W + p.w) ++padded;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const double v = xv[(pl * H + ih) * W + iw];
            if (v > best) best = v, where = ih * W + iw;
            acc += v;
            ++count;
          }
        y.push_back(is_max ? best : acc / static_cast<double>(count_pad ? padded : count));
        if (arg) arg->push_back(where);
      }
  return y;
}
}  // namespace

TEST_CASE("max_pool2d: hand-computed values and indices") {
  Tensor x = seq({1, 1, 4, 4});
  auto [y, idx] = xg::max_pool2d_with_indices(x, 2);
  CHECK(y.to_vector<double>() == std::vector<double>{5, 7, 13, 15});
  CHECK(idx.dtype() == Dtype::int64);
  CHECK(idx.to_vector<int64_t>() == std::vector<int64_t>{5, 7, 13, 15});
  // padding 1 stride 2 kernel 3 on 4x4: windows rows {-1..1}, {1..3}
  Tensor y2 = xg::max_pool2d(x, 3, 2, 1);
  CHECK(y2.shape() == Shape{1, 1, 2, 2});
  CHECK(y2.to_vector<double>() == std::vector<double>{5, 7, 13, 15});
  // ceil_mode keeps a last partial window: 5x5 kernel 2 -> 3x3
  Tensor x5 = seq({1, 1, 5, 5});
  CHECK(xg::max_pool2d(x5, 2).shape() == Shape{1, 1, 2, 2});
  Tensor yc = xg::max_pool2d(x5, 2, std::nullopt, 0, 1, true);
  CHECK(yc.shape() == Shape{1, 1, 3, 3});
  CHECK(yc.to_vector<double>() == std::vector<double>{6, 8, 9, 16, 18, 19, 21, 23, 24});
  // the gradient goes to the argmax; overlapping windows add up
  Tensor xv =
      xg::tensor({1, 9, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 3, 3}, {.dtype = Dtype::float64, .requires_grad = true});
  xg::sum(xg::max_pool2d(xv, 2, 1)).backward();  // all four 2x2 windows: maxima 9, 9, 7, 8
  CHECK(xv.grad().to_vector<double>() == std::vector<double>{0, 2, 0, 0, 0, 0, 0, 1, 1});
  // NaN propagates, as PyTorch
  Tensor xn = xg::tensor({1, std::nan(""), 2, 3}, {1, 1, 2, 2});
  CHECK(std::isnan(xg::max_pool2d(xn, 2).item()));
}

TEST_CASE("max_pool2d: matches a direct loop for stride, padding and dilation") {
  struct Case {
    Shape xs;
    Size2 k, s, p, d;
  };
  xg::manual_seed(11);
  for (const Case& c : std::vector<Case>{{{2, 3, 6, 6}, 2, 2, 0, 1},
                                         {{2, 2, 7, 5}, 3, 2, 1, 1},
                                         {{1, 2, 8, 8}, 3, 1, 1, 2},
                                         {{2, 1, 6, 7}, {2, 3}, {1, 2}, {1, 1}, {2, 1}}}) {
    for (Dtype dt : {Dtype::float64, Dtype::float32}) {
      Tensor x = xg::randn(c.xs, {.dtype = dt});
      Shape os;
      std::vector<int64_t> arg;
      const auto want = naive_pool(x, c.k, c.s, c.p, c.d, true, false, os, &arg);
      auto [y, idx] = xg::max_pool2d_with_indices(x, c.k, c.s, c.p, c.d);
      CHECK(y.shape() == os);
      CHECK(y.dtype() == dt);
      check_close(y, want, 0);
      CHECK(idx.to_vector<int64_t>() == arg);
    }
  }
}

TEST_CASE("max_pool2d_backward scatters and its gradient gathers") {
  Tensor x = seq({1, 1, 4, 4});
  Tensor idx = xg::max_pool2d_with_indices(x, 2).second;
  Tensor g = xg::tensor({1, 2, 3, 4}, {1, 1, 2, 2}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor gx = xg::max_pool2d_backward(g, idx, {1, 1, 4, 4});
  CHECK(gx.to_vector<double>() == std::vector<double>{0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4});
  Tensor gg = xg::grad({xg::sum(gx * seq({1, 1, 4, 4}))}, {g})[0];
  CHECK(gg.to_vector<double>() == std::vector<double>{5, 7, 13, 15});
}

TEST_CASE("avg_pool2d: hand-computed values, padding divisors and ceil_mode") {
  Tensor x = seq({1, 1, 4, 4});
  CHECK(xg::avg_pool2d(x, 2).to_vector<double>() == std::vector<double>{2.5, 4.5, 10.5, 12.5});
  // kernel 2 stride 2 padding 1: corners see one real element; the divisor counts the padding
  Tensor yi = xg::avg_pool2d(x, 2, 2, 1);
  CHECK(yi.shape() == Shape{1, 1, 3, 3});
  CHECK(yi.at({0, 0, 0, 0}) == doctest::Approx(0.0 / 4));
  CHECK(yi.at({0, 0, 0, 1}) == doctest::Approx((1 + 2) / 4.0));
  CHECK(yi.at({0, 0, 2, 2}) == doctest::Approx(15 / 4.0));
  Tensor ye = xg::avg_pool2d(x, 2, 2, 1, false, false);
  CHECK(ye.at({0, 0, 0, 1}) == doctest::Approx((1 + 2) / 2.0));
  CHECK(ye.at({0, 0, 2, 2}) == doctest::Approx(15.0));
  CHECK(ye.at({0, 0, 1, 1}) == doctest::Approx((5 + 6 + 9 + 10) / 4.0));
  // ceil_mode: the last window hangs over the edge and divides by its clipped size
  Tensor x5 = seq({1, 1, 5, 5});
  Tensor yc = xg::avg_pool2d(x5, 2, std::nullopt, 0, true);
  CHECK(yc.shape() == Shape{1, 1, 3, 3});
  CHECK(yc.at({0, 0, 0, 2}) == doctest::Approx((4 + 9) / 2.0));
  CHECK(yc.at({0, 0, 2, 2}) == doctest::Approx(24.0));
  CHECK(xg::avg_pool2d(x, 2, 1, 0, false, true, 3).at({0, 0, 0, 0}) ==
        doctest::Approx((0 + 1 + 4 + 5) / 3.0));
  // direct loop, several settings
  xg::manual_seed(12);
  for (bool cip : {true, false}) {
    Tensor xr = xg::randn({2, 3, 7, 6}, {.dtype = Dtype::float64});
    Shape os;
    const auto want = naive_pool(xr, 3, 2, 1, 1, false, cip, os);
    Tensor y = xg::avg_pool2d(xr, 3, 2, 1, false, cip);
    CHECK(y.shape() == os);
    check_close(y, want, 1e-14);
  }
  // the gradient spreads each output over its window
  Tensor xg2 = xg::zeros({1, 1, 4, 4}, {.dtype = Dtype::float64, .requires_grad = true});
  xg::sum(xg::avg_pool2d(xg2, 2, 1)).backward();  // 3x3 windows of 2x2 overlap: counts 1 2 2 1 / 2 4 4 2 ...
  CHECK(xg2.grad().to_vector<double>() ==
        std::vector<double>{0.25, 0.5, 0.5, 0.25, 0.5, 1, 1, 0.5, 0.5, 1, 1, 0.5, 0.25, 0.5, 0.5, 0.25});
}

TEST_CASE("adaptive_avg_pool2d: windows floor(i H / Ho) to ceil((i + 1) H / Ho)") {
  Tensor x = seq({1, 1, 4, 4});
  CHECK(xg::adaptive_avg_pool2d(x, 2).to_vector<double>() == std::vector<double>{2.5, 4.5, 10.5, 12.5});
  CHECK(xg::adaptive_avg_pool2d(x, 1).item() == doctest::Approx(7.5));
  // 5 -> 3: rows {0,1}, {1,2,3}, {3,4}; 4 -> 3 columns: {0,1}, {1,2}, {2,3}
  Tensor x5 = seq({1, 1, 5, 4});
  Tensor y = xg::adaptive_avg_pool2d(x5, {3, 3});
  CHECK(y.shape() == Shape{1, 1, 3, 3});
  CHECK(y.at({0, 0, 0, 0}) == doctest::Approx((0 + 1 + 4 + 5) / 4.0));
  CHECK(y.at({0, 0, 1, 1}) == doctest::Approx((5 + 6 + 9 + 10 + 13 + 14) / 6.0));
  CHECK(y.at({0, 0, 2, 2}) == doctest::Approx((14 + 15 + 18 + 19) / 4.0));
  // upsampling repeats: 2 -> 4 columns
  Tensor x2 = seq({1, 1, 1, 2});
  CHECK(xg::adaptive_avg_pool2d(x2, {1, 4}).to_vector<double>() == std::vector<double>{0, 0, 1, 1});
  // unbatched
  CHECK(xg::adaptive_avg_pool2d(seq({3, 6, 6}), {2, 3}).shape() == Shape{3, 2, 3});
  // gradient of the global pool: 1 / (H W) everywhere
  Tensor xr = xg::zeros({1, 2, 3, 5}, {.dtype = Dtype::float64, .requires_grad = true});
  xg::sum(xg::adaptive_avg_pool2d(xr, 1)).backward();
  REQUIRE(xr.grad().shape() == xr.shape());
  for (double v : xr.grad().to_vector<double>()) CHECK(v == doctest::Approx(1.0 / 15));
}

TEST_CASE("pool errors name the op and the shapes") {
  CHECK_ERROR(xg::max_pool2d(xg::zeros({4, 4}), 2), xg::ShapeError, "max_pool2d:", "4-D", "[4, 4]");
  CHECK_ERROR(xg::max_pool2d(xg::zeros({1, 1, 4, 4}), 2, 2, 2), xg::ValueError,
              "max_pool2d:", "half the kernel", "[1, 1, 4, 4]");
  CHECK_ERROR(xg::max_pool2d(xg::zeros({1, 1, 2, 2}), 3), xg::ShapeError, "max_pool2d:", "empty",
              "[1, 1, 2, 2]");
  CHECK_ERROR(xg::avg_pool2d(xg::zeros({1, 1, 4, 4}), 0), xg::ValueError, "avg_pool2d:", "kernel_size");
  CHECK_ERROR(xg::avg_pool2d(xg::zeros({1, 1, 4, 4}, {.dtype = Dtype::int64}), 2), xg::TypeError,
              "avg_pool2d:", "int64");
  CHECK_ERROR(xg::adaptive_avg_pool2d(xg::zeros({1, 1, 4, 4}), {0, 2}), xg::ValueError,
              "adaptive_avg_pool2d:", "output_size");
  CHECK_ERROR(xg::max_pool2d_backward(xg::zeros({1, 1, 2, 2}),
                                      xg::zeros({1, 1, 3, 3}, {.dtype = Dtype::int64}), {1, 1, 4, 4}),
              xg::ShapeError, "max_pool2d_backward:", "[1, 1, 2, 2]", "[1, 1, 3, 3]");
}

TEST_CASE("adaptive_max_pool2d: matches a direct loop over the adaptive windows, ties to the first") {
  xg::manual_seed(21);
  // a plain pair, not a structured binding: clang 14 cannot capture one in CAPTURE's lambda
  for (const std::pair<Shape, Size2>& c : std::vector<std::pair<Shape, Size2>>{
           {{2, 3, 7, 5}, {3, 2}}, {{1, 2, 4, 4}, {4, 4}}, {{1, 1, 3, 5}, {5, 7}}, {{2, 1, 6, 6}, 1}}) {
    const Shape& shape = c.first;
    const Size2 out = c.second;
    CAPTURE(shape.str());
    const Tensor x = xg::round(xg::randn(shape, {.dtype = Dtype::float64}) * 2.0);  // many ties
    auto [y, idx] = xg::adaptive_max_pool2d_with_indices(x, out);
    const std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
    const std::vector<int64_t> iv = idx.to_vector<int64_t>();
    const int64_t H = shape[2], W = shape[3], planes = shape[0] * shape[1];
    std::size_t k = 0;
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t oh = 0; oh < out.h; ++oh)
        for (int64_t ow = 0; ow < out.w; ++ow, ++k) {
          const int64_t h0 = oh * H / out.h, h1 = ((oh + 1) * H + out.h - 1) / out.h;
          const int64_t w0 = ow * W / out.w, w1 = ((ow + 1) * W + out.w - 1) / out.w;
          double best = -1e300;
          int64_t at = -1;
          for (int64_t i = h0; i < h1; ++i)
            for (int64_t j = w0; j < w1; ++j)
              if (xv[static_cast<std::size_t>(p * H * W + i * W + j)] > best)
                best = xv[static_cast<std::size_t>(p * H * W + i * W + j)], at = i * W + j;
          CHECK(yv[k] == best);
          CHECK(iv[k] == at);
        }
  }
}

TEST_CASE("1-D pools equal the 2-D pools on [N, C, 1, L]") {
  xg::manual_seed(22);
  const Tensor x = xg::randn({2, 3, 11}, {.dtype = Dtype::float64});
  const Tensor x2 = xg::unsqueeze(x, 2);
  auto same = [](const Tensor& a, const Tensor& b) { return xg::max(xg::abs(a - b)).item() == 0.0; };
  CHECK(same(xg::max_pool1d(x, 3, 2, 1, 2, true),
             xg::squeeze(xg::max_pool2d(x2, {1, 3}, Size2{1, 2}, {0, 1}, {1, 2}, true), 2)));
  CHECK(same(xg::avg_pool1d(x, 4, 3, 2, true, false),
             xg::squeeze(xg::avg_pool2d(x2, {1, 4}, Size2{1, 3}, {0, 2}, true, false), 2)));
  CHECK(same(xg::adaptive_avg_pool1d(x, 4), xg::squeeze(xg::adaptive_avg_pool2d(x2, {1, 4}), 2)));
  CHECK(same(xg::adaptive_max_pool1d(x, 4), xg::squeeze(xg::adaptive_max_pool2d(x2, {1, 4}), 2)));
  // the indices of max_pool1d are positions along L
  auto [v, i] = xg::max_pool1d_with_indices(x, 2);
  CHECK(same(xg::gather(x, 2, i), v));
}
