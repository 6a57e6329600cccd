#pragma once
/// @file functional.hpp
/// @brief The functional forms of the layers, as torch.nn.functional: the module classes
/// (nn/linear.hpp, nn/conv.hpp, ...) hold parameters and options and call these. Activations and
/// the convolution / pooling ops are re-exported from autograd/ops/ops.hpp, so that
/// `namespace F = xg::nn::functional;` gives one vocabulary: F::conv2d, F::relu, F::dropout, ...
/// (The losses live in the same namespace, in nn/loss.hpp; group_norm and instance_norm in
/// nn/normalization.hpp.)
///
/// @code
/// namespace F = xg::nn::functional;
/// xg::Tensor h = F::relu(F::conv2d(x, w1, b1, 1, 1));              // [N, 32, 28, 28]
/// h = F::max_pool2d(h, 2);                                         // [N, 32, 14, 14]
/// xg::Tensor logits = F::linear(F::dropout(xg::flatten(h, 1), 0.5, training), w2, b2);
/// @endcode
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tensor/generator.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::nn::functional {

/// y = x W^T + b: x [..., in], weight [out, in] (PyTorch's layout), bias [out] -> [..., out].
/// One gemm with W transposed by a flag (no copy), then the bias added.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

/// y[n, o] = sum_ij x1[n, i] W[o, i, j] x2[n, j] + b[o]: x1 [..., in1], x2 [..., in2] (same leading
/// axes), weight [out, in1, in2], bias [out] -> [..., out].
Tensor bilinear(const Tensor& x1, const Tensor& x2, const Tensor& weight, const Tensor& bias = Tensor());

/// Inverted dropout: in training, each element is zeroed with probability p and the others are
/// scaled by 1 / (1 - p), so that the expectation is unchanged; the mask comes from `generator`
/// (nullptr: the default generator, which xg::manual_seed seeds). Outside training, or with
/// p = 0, x itself is returned. p = 1 zeroes everything. ValueError unless 0 <= p <= 1.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* generator = nullptr);

/// Rows of weight [num_embeddings, dim] picked by int64 indices of any shape -> [..., dim]
/// (index_select). With padding_idx, positions holding that index get the row's value but pass
/// no gradient to it, as PyTorch. IndexError for an index outside [0, num_embeddings).
Tensor embedding(const Tensor& indices, const Tensor& weight,
                 std::optional<int64_t> padding_idx = std::nullopt);

/// GELU: "none" is the exact x Phi(x) (xg::gelu); "tanh" the approximation
/// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), as PyTorch's `approximate=`.
Tensor gelu(const Tensor& x, const std::string& approximate);

/// A convolution's padding as PyTorch's string, "same" or "valid": converts from a string literal
/// or a std::string, never from an integer or a braced pair (those stay conv2d's Size2 padding, so
/// `F::conv2d(x, w, b, 1, 0)` and `F::conv2d(x, w, b, 1, {1, 0})` mean what they did).
struct PaddingString {
  std::string value;
  template <std::size_t N>
  PaddingString(const char (&s)[N]) : value(s) {}        // NOLINT: implicit on purpose
  PaddingString(std::string s) : value(std::move(s)) {}  // NOLINT
};
/// conv2d / conv1d with PyTorch's string padding: "valid" (none) or "same" (the output keeps the
/// input's size; stride 1 only, ValueError otherwise; for an even dilated kernel the odd row or
/// column of padding goes after, as PyTorch), e.g. `F::conv2d(x, w, b, 1, "same")`. Zero padding;
/// an asymmetric one pads the input with xg::pad first.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride,
              const PaddingString& padding, Size2 dilation = 1, int64_t groups = 1);
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              const PaddingString& padding, int64_t dilation = 1, int64_t groups = 1);

// ---- re-exported from autograd/ops/ops.hpp ----
using xg::adaptive_avg_pool1d;
using xg::adaptive_avg_pool2d;
using xg::adaptive_max_pool1d;
using xg::adaptive_max_pool1d_with_indices;
using xg::adaptive_max_pool2d;
using xg::adaptive_max_pool2d_with_indices;
using xg::avg_pool1d;
using xg::avg_pool2d;
using xg::conv1d;
using xg::conv2d;
using xg::conv_transpose1d;
using xg::conv_transpose2d;
using xg::elu;
using xg::gelu;
using xg::leaky_relu;
using xg::log_softmax;
using xg::max_pool1d;
using xg::max_pool1d_with_indices;
using xg::max_pool2d;
using xg::max_pool2d_with_indices;
using xg::relu;
using xg::sigmoid;
using xg::silu;
using xg::Size2;
using xg::softmax;
using xg::softplus;
// activations of autograd/ops/elementwise_more.cpp
using xg::celu;
using xg::glu;
using xg::hardsigmoid;
using xg::hardswish;
using xg::hardtanh;
using xg::logsigmoid;
using xg::mish;
using xg::prelu;
using xg::selu;
using xg::softmin;
using xg::softsign;
using xg::tanh;
using xg::tanhshrink;
// padding modes, resampling and im2col of autograd/ops/resample.cpp
using xg::fold;
using xg::InterpMode;
using xg::interpolate;
using xg::InterpolateOptions;
using xg::pad;
using xg::PadMode;
using xg::pixel_shuffle;
using xg::pixel_unshuffle;
using xg::unfold;
// distances of autograd/ops/distance.cpp
using xg::cosine_similarity;
using xg::normalize;
using xg::pairwise_distance;

}  // namespace xg::nn::functional
