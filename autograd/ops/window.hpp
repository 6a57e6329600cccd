#pragma once
/// @file window.hpp
/// @brief Internal to ops/conv.cpp, ops/pool.cpp and ops/resample.cpp, whose kernels slide a window
/// over [H, W] planes: the output columns a window tap reaches, Size2 in error messages, and the
/// im2col / col2im copies (conv2d's and unfold / fold's). Not installed.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "xgrad/autograd/ops/ops.hpp"

namespace xg::detail {

/// "(h, w)", for error messages.
inline std::string pair_str(Size2 s) {
  std::string r =
      std::to_string(s.h);  // appended piece by piece: GCC 12 warns (-Wrestrict) on "(" + to_string(..)
  r.insert(0, 1, '(');
  r.append(", ").append(std::to_string(s.w)).append(")");
  return r;
}

/// The range [lo, hi) of output columns whose input column ow * s + off lies in [0, w).
inline void valid_range(int64_t off, int64_t s, int64_t w, int64_t wo, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = off <= w - 1 ? std::min(wo, (w - 1 - off) / s + 1) : 0;
  lo = std::min(lo, wo);
  hi = std::max(hi, lo);
}

// ---------------------------------------------------------------- im2col geometry and copies
struct ConvParams {
  Size2 stride{1}, padding{0}, dilation{1};
  int64_t groups = 1;
};

struct ConvGeom {
  int64_t n, c, h, w;  // input
  int64_t o, kh, kw;   // weight [o, c / groups, kh, kw]
  int64_t ho, wo;      // output
  ConvParams p;
  int64_t cg() const { return c / p.groups; }
  int64_t og() const { return o / p.groups; }
  int64_t rows() const { return cg() * kh * kw; }  // rows of the im2col matrix
  int64_t cols() const { return ho * wo; }
  // A 1x1 kernel without stride or padding reads the input as it is: no im2col copy.
  bool direct() const {
    return kh == 1 && kw == 1 && p.stride.h == 1 && p.stride.w == 1 && p.padding.h == 0 && p.padding.w == 0;
  }
};

inline int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

// d[0, n) = s[0, n) for the short rows of im2col (a row of a 14 x 14 output is 56 bytes): fixed-size
// memcpy compiles to vector moves, where a call to memcpy per row cost more than the copy.
template <class T>
inline void copy_short(T* __restrict d, const T* __restrict s, int64_t n) {
  constexpr int64_t v = 32 / sizeof(T);
  int64_t i = 0;
  for (; i + v <= n; i += v) std::memcpy(d + i, s + i, 32);
  if (n - i >= 16 / static_cast<int64_t>(sizeof(T))) {
    std::memcpy(d + i, s + i, 16);
    i += 16 / sizeof(T);
  }
  if (n - i >= 8 / static_cast<int64_t>(sizeof(T))) {
    std::memcpy(d + i, s + i, 8);
    i += 8 / sizeof(T);
  }
  if (i < n) std::memcpy(d + i, s + i, sizeof(T));  // at most one float left
}

// cols [cg * kh * kw, ho * wo] (rows ld apart) <- the patches of x [cg, h, w] (zeros for the padding).
template <class T>
void im2col(const T* x, T* cols, int64_t ld, const ConvGeom& g) {
  const int64_t sh = g.p.stride.h, sw = g.p.stride.w, ph = g.p.padding.h, pw = g.p.padding.w;
  const int64_t dh = g.p.dilation.h, dw = g.p.dilation.w, L = g.cols();
  if (g.direct()) {  // the rows are the channel planes
    for (int64_t c = 0; c < g.cg(); ++c) std::memcpy(cols + c * ld, x + c * L, sizeof(T) * L);
    return;
  }
  if (sh == 1 && sw == 1 && g.wo == g.w) {
    // Stride 1 with "same" width (3x3 padding 1): a row of cols is the input's rows ki * dh - ph ..
    // shifted by off, back to back as in the input, so one copy per row of cols, then zeros over
    // the padding columns (and the rows outside the input). 288 copies per sample for the cnn
    // benchmark's conv2 instead of 4,032 row pieces of 14 floats.
    const int64_t H = g.h, W = g.w, Ho = g.ho, hw = H * W;
    for (int64_t c = 0; c < g.cg(); ++c) {
      const T* xc = x + c * hw;
      for (int64_t ki = 0; ki < g.kh; ++ki) {
        const int64_t ih0 = ki * dh - ph;
        const int64_t a = std::clamp<int64_t>(-ih0, 0, Ho), b = std::clamp<int64_t>(H - ih0, a, Ho);
        for (int64_t kj = 0; kj < g.kw; ++kj) {
          T* row = cols + ((c * g.kh + ki) * g.kw + kj) * ld;
          const int64_t off = kj * dw - pw;
          int64_t lo, hi;
          valid_range(off, 1, W, W, lo, hi);
          std::fill(row, row + a * W, T(0));
          std::fill(row + b * W, row + Ho * W, T(0));
          if (a == b) continue;
          // Elements [first, last) of the plane; the ends clipped to it hold padding columns.
          const int64_t first = (ih0 + a) * W + off, last = (ih0 + b) * W + off;
          const int64_t f = std::max<int64_t>(first, 0), l = std::min<int64_t>(last, hw);
          if (l > f)
            std::memcpy(row + a * W + (f - first), xc + f, sizeof(T) * static_cast<std::size_t>(l - f));
          for (int64_t oh = a; oh < b; ++oh) {
            T* r = row + oh * W;
            for (int64_t ow = 0; ow < lo; ++ow) r[ow] = T(0);
            for (int64_t ow = hi; ow < W; ++ow) r[ow] = T(0);
          }
        }
      }
    }
    return;
  }
  for (int64_t c = 0; c < g.cg(); ++c) {
    const T* xc = x + c * g.h * g.w;
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = cols + ((c * g.kh + ki) * g.kw + kj) * ld;
        const int64_t off = kj * dw - pw;
        int64_t lo, hi;
        valid_range(off, sw, g.w, g.wo, lo, hi);
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          T* r = row + oh * g.wo;
          const int64_t ih = oh * sh - ph + ki * dh;
          if (ih < 0 || ih >= g.h) {
            std::fill(r, r + g.wo, T(0));
            continue;
          }
          const T* xr = xc + ih * g.w + off;  // xr[ow * sw] is input column ow * sw + off
          for (int64_t ow = 0; ow < lo; ++ow) r[ow] = T(0);
          if (sw == 1)
            copy_short(r + lo, xr + lo, hi - lo);
          else
            for (int64_t ow = lo; ow < hi; ++ow) r[ow] = xr[ow * sw];
          for (int64_t ow = hi; ow < g.wo; ++ow) r[ow] = T(0);
        }
      }
  }
}

// x [cg, h, w] = the sum of the patches in cols (rows ld apart): the adjoint of im2col.
template <class T>
void col2im(const T* cols, int64_t ld, T* x, const ConvGeom& g) {
  const int64_t sh = g.p.stride.h, sw = g.p.stride.w, ph = g.p.padding.h, pw = g.p.padding.w;
  const int64_t dh = g.p.dilation.h, dw = g.p.dilation.w, L = g.cols();
  if (g.direct()) {
    for (int64_t c = 0; c < g.cg(); ++c) std::memcpy(x + c * L, cols + c * ld, sizeof(T) * L);
    return;
  }
  std::fill(x, x + g.cg() * g.h * g.w, T(0));
  for (int64_t c = 0; c < g.cg(); ++c) {
    T* xc = x + c * g.h * g.w;
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const T* row = cols + ((c * g.kh + ki) * g.kw + kj) * ld;
        const int64_t off = kj * dw - pw;
        int64_t lo, hi;
        valid_range(off, sw, g.w, g.wo, lo, hi);
        for (int64_t oh = 0; oh < g.ho; ++oh) {
          const int64_t ih = oh * sh - ph + ki * dh;
          if (ih < 0 || ih >= g.h) continue;
          const T* __restrict r = row + oh * g.wo;
          T* __restrict xr = xc + ih * g.w + off;
          if (sw == 1)
            for (int64_t ow = lo; ow < hi; ++ow) xr[ow] += r[ow];
          else
            for (int64_t ow = lo; ow < hi; ++ow) xr[ow * sw] += r[ow];
        }
      }
  }
}

// col2im for a column matrix the caller no longer needs (conv2d_input_grad's scratch): for stride
// 1 with Wo == W, as im2col's row copies, one contiguous add per row of cols, after zeroing the
// row's padding columns in cols (they would land on the neighbouring input row's edge).
template <class T>
void col2im_scratch(T* cols, int64_t ld, T* x, const ConvGeom& g) {
  const int64_t sh = g.p.stride.h, sw = g.p.stride.w, ph = g.p.padding.h, pw = g.p.padding.w;
  const int64_t dh = g.p.dilation.h, dw = g.p.dilation.w;
  if (g.direct() || !(sh == 1 && sw == 1 && g.wo == g.w)) {
    col2im(cols, ld, x, g);
    return;
  }
  std::fill(x, x + g.cg() * g.h * g.w, T(0));
  const int64_t H = g.h, W = g.w, Ho = g.ho, hw = H * W;
  for (int64_t c = 0; c < g.cg(); ++c) {
    T* __restrict xc = x + c * hw;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      const int64_t ih0 = ki * dh - ph;
      const int64_t a = std::clamp<int64_t>(-ih0, 0, Ho), b = std::clamp<int64_t>(H - ih0, a, Ho);
      if (a == b) continue;
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* __restrict row = cols + ((c * g.kh + ki) * g.kw + kj) * ld;
        const int64_t off = kj * dw - pw;
        int64_t lo, hi;
        valid_range(off, 1, W, W, lo, hi);
        for (int64_t oh = a; oh < b; ++oh) {
          T* r = row + oh * W;
          for (int64_t ow = 0; ow < lo; ++ow) r[ow] = T(0);
          for (int64_t ow = hi; ow < W; ++ow) r[ow] = T(0);
        }
        const int64_t first = (ih0 + a) * W + off, last = (ih0 + b) * W + off;
        const int64_t f = std::max<int64_t>(first, 0), l = std::min<int64_t>(last, hw);
        const T* __restrict rr = row + a * W;  // rr[i] goes to plane element first + i
        for (int64_t i = f - first; i < l - first; ++i) xc[first + i] += rr[i];
      }
    }
  }
}

}  // namespace xg::detail
