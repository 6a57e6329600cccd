#pragma once
/// @file ops.hpp
/// @brief Every differentiable op of xgrad. Element-wise binary ops broadcast as NumPy does.
/// Mixed dtypes promote as PyTorch does (int64 < float32 < float64); a C++ scalar takes the
/// tensor's dtype. Float-only ops throw TypeError on int64. Axes may be negative.
/// Each op's forward kernel, backward formula and test samples sit together in one .cpp file:
/// ops/elementwise.cpp, reduction.cpp, linalg.cpp, distance.cpp, shape.cpp, scan_sort.cpp, conv.cpp,
/// pool.cpp, rnn.cpp, linalg_lapack.cpp (torch.linalg, in namespace xg::linalg).
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

using Axes = std::vector<int64_t>;
/// "To the end of the axis" for slice's stop.
inline constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();

// ---- element-wise, two operands (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);      ///< a + b
Tensor sub(const Tensor& a, const Tensor& b);      ///< a - b
Tensor mul(const Tensor& a, const Tensor& b);      ///< a * b
Tensor div(const Tensor& a, const Tensor& b);      ///< a / b (floats)
Tensor pow(const Tensor& a, const Tensor& b);      ///< a^b, d/db = a^b log a (a > 0)
Tensor pow(const Tensor& x, double p);             ///< x^p, d/dx = p x^(p-1)
Tensor maximum(const Tensor& a, const Tensor& b);  ///< ties share the gradient equally
Tensor minimum(const Tensor& a, const Tensor& b);
/// mask ? a : b element-wise (mask nonzero = true); the mask carries no gradient.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& x);

// ---- element-wise, one operand ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor expm1(const Tensor& x);  ///< exp(x) - 1, exact for small |x|
Tensor tan(const Tensor& x);
Tensor asin(const Tensor& x);  ///< NaN outside [-1, 1], as PyTorch
Tensor acos(const Tensor& x);
Tensor atan(const Tensor& x);
Tensor sinh(const Tensor& x);
Tensor cosh(const Tensor& x);
Tensor asinh(const Tensor& x);
Tensor acosh(const Tensor& x);  ///< NaN below 1
Tensor atanh(const Tensor& x);  ///< +-inf at +-1, NaN outside
Tensor log2(const Tensor& x);
Tensor log10(const Tensor& x);
Tensor exp2(const Tensor& x);        ///< 2^x
Tensor reciprocal(const Tensor& x);  ///< 1 / x
Tensor square(const Tensor& x);      ///< x * x
Tensor erfc(const Tensor& x);        ///< 1 - erf(x), accurate for large x
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);  ///< 1 / sqrt(x)
Tensor abs(const Tensor& x);    ///< gradient sign(x) (0 at 0)
Tensor sign(const Tensor& x);   ///< -1, 0 or 1; carries no gradient
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor relu(const Tensor& x);  ///< gradient 0 at 0, as PyTorch
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor gelu(const Tensor& x);  ///< x Φ(x), the erf form
Tensor silu(const Tensor& x);  ///< x σ(x)
/// log(1 + exp(beta x)) / beta, linear above `threshold` (as PyTorch), stable for large |x|.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
/// Limits to [lo, hi]; either bound may be absent. Gradient 1 inside, 0 outside.
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);

// ---- more element-wise math and activations ----
// (ops/elementwise_more.cpp) Binary ops broadcast and promote as add; all are float-only except
// fmod, remainder and the rounding ops, which also take int64.
Tensor atan2(const Tensor& a, const Tensor& b);      ///< angle of (b, a), in (-pi, pi]
Tensor logaddexp(const Tensor& a, const Tensor& b);  ///< log(e^a + e^b), stable
Tensor hypot(const Tensor& a, const Tensor& b);      ///< sqrt(a^2 + b^2) without overflow
Tensor xlogy(const Tensor& x, const Tensor& y);      ///< x log(y), 0 where x = 0 (NaN if y is NaN)
/// a - trunc(a / b) b: the sign of a (C's fmod). Gradient 1 for a, -trunc(a / b) for b.
Tensor fmod(const Tensor& a, const Tensor& b);
/// a - floor(a / b) b: the sign of b (Python's %). Gradient 1 for a, -floor(a / b) for b.
Tensor remainder(const Tensor& a, const Tensor& b);
/// log(x / (1 - x)); with eps, x is first clamped to [eps, 1 - eps] (gradient 0 outside).
Tensor logit(const Tensor& x, std::optional<double> eps = std::nullopt);
Tensor erfinv(const Tensor& x);   ///< inverse of erf on (-1, 1); +-inf at +-1, NaN outside
Tensor lgamma(const Tensor& x);   ///< log |Gamma(x)|
Tensor digamma(const Tensor& x);  ///< d/dx lgamma(x); -inf at 0, NaN at negative integers
/// The n-th derivative of digamma (n >= 0); its gradient is polygamma(n + 1, x).
Tensor polygamma(int64_t n, const Tensor& x);
Tensor floor(const Tensor& x);  ///< gradient 0, as PyTorch (int64 passes through)
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);  ///< halves to even, as PyTorch
Tensor trunc(const Tensor& x);
Tensor frac(const Tensor& x);  ///< x - trunc(x), gradient 1
/// 1 where any / every element over `axes` (empty: all) is nonzero (NaN counts), else 0; a mask
/// of x's dtype that carries no gradient.
Tensor any(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor all(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mish(const Tensor& x);                      ///< x tanh(softplus(x))
Tensor hardswish(const Tensor& x);                 ///< x relu6(x + 3) / 6
Tensor hardsigmoid(const Tensor& x);               ///< relu6(x + 3) / 6
Tensor selu(const Tensor& x);                      ///< scale elu(x, alpha) with PyTorch's constants
Tensor celu(const Tensor& x, double alpha = 1.0);  ///< max(0, x) + min(0, alpha expm1(x / alpha))
/// where(x > 0, x, w x): weight [C] per channel on axis 1, or one value; gradient to both.
Tensor prelu(const Tensor& x, const Tensor& weight);
/// a sigmoid(b), a and b the first and second halves of x along dim (of even size).
Tensor glu(const Tensor& x, int64_t dim = -1);
Tensor logsigmoid(const Tensor& x);  ///< log(sigmoid(x)), stable for large |x|
Tensor softsign(const Tensor& x);    ///< x / (1 + |x|)
/// Limits to [min_val, max_val]; gradient 1 strictly inside, 0 elsewhere (as PyTorch).
Tensor hardtanh(const Tensor& x, double min_val = -1.0, double max_val = 1.0);
Tensor tanhshrink(const Tensor& x);                 ///< x - tanh(x)
Tensor softmin(const Tensor& x, int64_t dim = -1);  ///< softmax(-x, dim)

// ---- comparisons: masks (1 or 0) of the promoted operand dtype, never requiring grad ----
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);

// ---- reductions: `axes` empty means all axes; keepdim keeps reduced axes with extent 1 ----
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor prod(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
/// Largest value; ties share the gradient equally (as PyTorch's amax).
Tensor max(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor min(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
/// Variance with `correction` subtracted from the count (1 = unbiased, as PyTorch's default).
Tensor var(const Tensor& x, const Axes& axes = {}, int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const Axes& axes = {}, int64_t correction = 1, bool keepdim = false);
/// p-norm (sum |x|^p)^(1/p); for p = 2 the gradient at the zero vector is 0.
Tensor norm(const Tensor& x, double p = 2.0, const Axes& axes = {}, bool keepdim = false);
/// log(sum(exp(x))), computed stably (shifted by the max).
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);
/// Index (int64) of the first largest / smallest value along axis; no gradient.
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim = false);

// ---- linear algebra (BLAS gemm; transposes are gemm flags, never copies) ----
/// As torch.matmul: 1-D·1-D dot, 2-D matrix product, batched over leading axes with broadcasting.
Tensor matmul(const Tensor& a, const Tensor& b);
/// op(a) @ op(b) where op transposes the last two axes when its flag is set; batch axes equal.
Tensor matmul_t(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b);
/// The LSTM cell's element-wise part, fused: gates [..., 4H] (order i, f, g, o), states [..., H].
/// lstm_cell_c(gates, c) = sigmoid(f) c + sigmoid(i) tanh(g), the next cell state c';
/// lstm_cell_h(gates, c') = sigmoid(o) tanh(c'), the next hidden state.
Tensor lstm_cell_c(const Tensor& gates, const Tensor& c);
Tensor lstm_cell_h(const Tensor& gates, const Tensor& c_next);
/// x [n, in] @ w[out, in]^T + b [out] in one gemm (b undefined: no bias). nn::functional::linear
/// takes any leading axes and calls this on the [rows, in] view.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
Tensor outer(const Tensor& a, const Tensor& b);  ///< [n] x [m] -> [n, m]
Tensor dot(const Tensor& a, const Tensor& b);    ///< [n] . [n] -> scalar

// ---- diagonals and distances ----
/// The diagonal at `offset` (> 0 above, < 0 below the main one) of the (dim1, dim2) planes, as
/// torch.diagonal: those two axes are removed and the diagonal becomes the last axis (a copy).
Tensor diagonal(const Tensor& x, int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1);
/// As torch.diag: a 1-D x becomes the square matrix with x on diagonal `diagonal`, zeros elsewhere;
/// a 2-D x gives that diagonal as 1-D.
Tensor diag(const Tensor& x, int64_t diagonal = 0);
/// Sum of the main diagonal of a matrix (any m x n), as torch.trace.
Tensor trace(const Tensor& x);
/// As torch.nn.functional.cosine_similarity: sum((x1 / max(||x1||, eps)) (x2 / max(||x2||, eps)))
/// along dim, the inputs broadcast; each norm is clamped on its own (PyTorch 1.13).
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, int64_t dim = 1, double eps = 1e-8);
/// ||x1 - x2 + eps||_p along the last axis, inputs broadcast, as torch.nn.functional.pairwise_distance
/// (p = 0 counts nonzeros, p = inf is the largest |.|).
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p = 2.0, double eps = 1e-6,
                         bool keepdim = false);
/// As torch.cdist: the p-norm distance of every row pair, [B.., P, M] x [B.., R, M] -> [B.., P, R]
/// (batch axes broadcast; p >= 0, inf allowed); gradient 0 where a distance is 0.
Tensor cdist(const Tensor& x1, const Tensor& x2, double p = 2.0);
/// x / max(||x||_p along dim, eps), as torch.nn.functional.normalize.
Tensor normalize(const Tensor& x, double p = 2.0, int64_t dim = 1, double eps = 1e-12);

// ---- shape ----
/// Same values, new shape (one extent may be -1). Shares storage: a view.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor view(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_axis = 0, int64_t end_axis = -1);
Tensor squeeze(const Tensor& x);                ///< drops every axis of extent 1
Tensor squeeze(const Tensor& x, int64_t axis);  ///< drops `axis` if its extent is 1
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor permute(const Tensor& x, const Axes& order);
Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1);
Tensor t(const Tensor& x);  ///< transpose of a matrix (a 0-D or 1-D tensor is returned as is)
/// Broadcasts to `shape` (-1 keeps an extent); the gradient is summed back (sum_to).
Tensor expand(const Tensor& x, const Shape& shape);
/// Sums x down to `shape` (the inverse of broadcasting; used by every binary op's backward).
Tensor sum_to(const Tensor& x, const Shape& shape);
/// Elements start, start+step, ... before stop along axis (negative start/stop count from the end).
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop = kEnd, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 0);
Tensor cat(const std::vector<Tensor>& xs, int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t axis = 0);
/// Pieces of `size` along axis (the last may be smaller).
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t axis = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis = 0);
/// n pieces of near-equal size along axis (as torch.chunk).
std::vector<Tensor> chunk(const Tensor& x, int64_t n, int64_t axis = 0);
/// Rows of x along axis picked by a 1-D int64 index.
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index);
/// x with src added at the positions index (1-D int64) names along axis (the backward of index_select).
Tensor index_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);
/// out[i][j] = x[index[i][j]][j] (axis 0), as torch.gather; index is int64 of the output's shape.
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);
/// x with src[i][j] added at x[index[i][j]][j] (axis 0), as torch.scatter_add.
Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);
/// [..] int64 class indices -> [.., num_classes] one-hot of dtype (int64 as PyTorch, or a float).
Tensor one_hot(const Tensor& index, int64_t num_classes, Dtype dtype = Dtype::int64);
/// Constant padding; `pads` lists (before, after) pairs starting from the last axis, as torch F.pad.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);

// ---- masks and index writes ----
// (ops/scatter.cpp) A mask is any tensor whose nonzero entries (NaN included) mean true, such as
// the 0/1 result of gt or eq; it carries no gradient. Index tensors are int64. Where an
// overwriting write names one position twice, the last write in row-major order of the index
// wins, and only it receives that position's gradient.
/// x with value where mask (broadcast with x) is nonzero, as torch.masked_fill.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
/// As above with a 0-d tensor value, which receives the sum of the gradient at the filled positions.
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value);
/// x with x[..index[i][j]..][j] = src[i][j] along dim (as torch.scatter); src may be larger than index.
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, double value);
/// As torch.scatter_reduce: src reduced into x at index along dim with "sum", "prod", "mean",
/// "amax" or "amin", starting from x's value (include_self) or from the values written alone.
/// Gradients: mean divides by the count (x included when include_self), ties of amax / amin share
/// equally, positions written with include_self false give x no gradient.
Tensor scatter_reduce(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src,
                      const std::string& reduce, bool include_self = true);
/// x with x[indices] = values (as torch.index_put): indices are int64 tensors, one per leading
/// axis, broadcast together (negative entries count from the end); values broadcast to the indexed
/// shape. accumulate adds instead, duplicates summed.
Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values,
                 bool accumulate = false);
/// x with slice(x, dim, start, stop, step) replaced by src (of exactly that slice's shape).
Tensor slice_scatter(const Tensor& x, const Tensor& src, int64_t dim = 0, int64_t start = 0,
                     int64_t stop = kEnd, int64_t step = 1);
/// x with the slice at `index` of axis dim replaced by src (x's shape without dim).
Tensor select_scatter(const Tensor& x, const Tensor& src, int64_t dim, int64_t index);

// ---- triangles, scans, sorting, repetition ----
/// The lower (tril) / upper (triu) triangle of the last two axes: elements with column - row <=
/// diagonal (tril) or >= diagonal (triu) are kept, the rest are 0. Batched over leading axes.
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);
/// x reversed along each of `dims` (as torch.flip; a copy, not a view).
Tensor flip(const Tensor& x, const Axes& dims);
/// Running sum / product along dim (as torch.cumsum / torch.cumprod; int64 stays int64). cumprod's
/// gradient is exact where x has zeros (no division there), to every order.
Tensor cumsum(const Tensor& x, int64_t dim);
Tensor cumprod(const Tensor& x, int64_t dim);
/// log(cumsum(exp(x))) along dim, computed stably (as torch.logcumsumexp); -inf entries add nothing.
/// Where the running sum is still 0 (leading -inf), the gradient is NaN, as PyTorch's.
Tensor logcumsumexp(const Tensor& x, int64_t dim);
/// x rolled by shifts[i] along dims[i] (as torch.roll; a dim may repeat); with dims empty, the
/// flattened x rolled by the one shift, reshaped back.
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const Axes& dims = {});
/// x tiled repeats[d] times along each dim (as torch.Tensor.repeat); extra leading repeats add dims.
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats);
/// Each element repeated `repeats` times along dim, or in the flattened x when dim is absent (as
/// torch.repeat_interleave).
Tensor repeat_interleave(const Tensor& x, int64_t repeats, std::optional<int64_t> dim = std::nullopt);
/// As above with per-element counts: an int64 tensor of x.size(dim) entries (or one for all).
Tensor repeat_interleave(const Tensor& x, const Tensor& repeats, std::optional<int64_t> dim = std::nullopt);
/// (values, int64 indices) of x sorted along dim (as torch.sort). NaN sorts as the largest value.
/// Ties always keep their input order (a stable sort, whatever `stable` says), so results are
/// deterministic. The values' gradient scatters back through the indices.
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false,
                               bool stable = false);
/// The indices of sort(x, dim, descending) (as torch.argsort; stable, NaN largest); no gradient.
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false);
/// (values, int64 indices) of the k largest (or smallest) elements along dim (as torch.topk), in
/// sorted order even when `sorted` is false; ties go to the lower index, NaN counts as largest.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true,
                               bool sorted = true);

// ---- neural-network ops (conv.cpp, pool.cpp): images are [N, C, H, W], weights as PyTorch's ----
/// A (height, width) pair; an integer converts to a square one (PyTorch's int-or-tuple arguments):
/// `conv2d(x, w, b, 2, 1)` and `conv2d(x, w, b, {2, 1}, {1, 0})` both work.
struct Size2 {
  int64_t h, w;
  constexpr Size2(int64_t v) : h(v), w(v) {}  // NOLINT: implicit on purpose
  constexpr Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};
/// 2-D convolution (cross-correlation, as torch.nn.functional.conv2d) via im2col + gemm:
/// x [N, C, H, W] (or unbatched [C, H, W]), weight [O, C / groups, kh, kw], optional bias [O]
/// -> [N, O, Ho, Wo] with Ho = (H + 2 ph - dh (kh - 1) - 1) / sh + 1 (same for Wo).
/// Gradients: dx = conv2d_input_grad(g, weight), dweight = conv2d_weight_grad(x, g), dbias = sum of g.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Size2 stride = 1,
              Size2 padding = 0, Size2 dilation = 1, int64_t groups = 1);
/// The gradient of conv2d with respect to its input (a transposed convolution, col2im of w^T g):
/// grad_output [N, O, Ho, Wo], weight [O, C / groups, kh, kw] -> input_shape [N, C, H, W].
Tensor conv2d_input_grad(const Tensor& grad_output, const Tensor& weight, const Shape& input_shape,
                         Size2 stride = 1, Size2 padding = 0, Size2 dilation = 1, int64_t groups = 1);
/// The gradient of conv2d with respect to its weight (g @ im2col(x)^T summed over the batch):
/// x [N, C, H, W], grad_output [N, O, Ho, Wo] -> weight_shape [O, C / groups, kh, kw].
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_output, const Shape& weight_shape,
                          Size2 stride = 1, Size2 padding = 0, Size2 dilation = 1, int64_t groups = 1);
/// 1-D convolution: x [N, C, L] (or [C, L]), weight [O, C / groups, k], bias [O] -> [N, O, Lo];
/// conv2d on [N, C, 1, L] (composite).
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
/// 2-D transposed convolution, as torch.nn.functional.conv_transpose2d (note PyTorch's argument
/// order: output_padding, groups, dilation): x [N, C, H, W] (or [C, H, W]), weight
/// [C, O / groups, kh, kw], optional bias [O] -> [N, O, Ho, Wo] with
/// Ho = (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1; each output_padding < its stride or dilation.
/// It is conv2d_input_grad(x, weight) (composite): dx is a conv2d, dweight a conv2d_weight_grad.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        Size2 stride = 1, Size2 padding = 0, Size2 output_padding = 0, int64_t groups = 1,
                        Size2 dilation = 1);
/// 1-D transposed convolution, as torch.nn.functional.conv_transpose1d: x [N, C, L] (or [C, L]),
/// weight [C, O / groups, k], bias [O] -> [N, O, Lo]; conv_transpose2d on [N, C, 1, L] (composite).
Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        int64_t stride = 1, int64_t padding = 0, int64_t output_padding = 0,
                        int64_t groups = 1, int64_t dilation = 1);
/// Max over each kh x kw window (dilated; padding counts as -inf; NaN propagates), as
/// torch.nn.functional.max_pool2d. stride defaults to the kernel size; padding is at most half the
/// kernel. x [N, C, H, W] or [C, H, W]. The gradient goes to each window's first largest element.
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                  Size2 padding = 0, Size2 dilation = 1, bool ceil_mode = false);
/// max_pool2d and its indices: int64 [N, C, Ho, Wo], each the flat position h * W + w of the
/// maximum in its [H, W] plane (PyTorch's convention).
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel_size,
                                                  std::optional<Size2> stride = std::nullopt,
                                                  Size2 padding = 0, Size2 dilation = 1,
                                                  bool ceil_mode = false);
/// The gradient of max_pool2d: grad_output [N, C, Ho, Wo] added at `indices` into zeros of
/// input_shape [N, C, H, W]. Its own gradient gathers at the same indices.
Tensor max_pool2d_backward(const Tensor& grad_output, const Tensor& indices, const Shape& input_shape);
/// Mean over each kh x kw window, as torch.nn.functional.avg_pool2d: with count_include_pad the
/// divisor counts the zero padding (PyTorch's default); divisor_override replaces it.
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                  Size2 padding = 0, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);
/// Mean over output_size windows that cover the input: rows floor(i H / Ho) to ceil((i + 1) H / Ho)
/// (same for columns), as torch.nn.functional.adaptive_avg_pool2d.
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);
/// Max over adaptive windows (those of adaptive_avg_pool2d; NaN propagates), as
/// torch.nn.functional.adaptive_max_pool2d. The gradient goes to each window's first largest element.
Tensor adaptive_max_pool2d(const Tensor& x, Size2 output_size);
/// adaptive_max_pool2d and its int64 indices, flat positions h * W + w in each [H, W] plane.
std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x, Size2 output_size);
/// 1-D pools of x [N, C, L] (or [C, L]), as torch.nn.functional.max_pool1d / avg_pool1d /
/// adaptive_avg_pool1d / adaptive_max_pool1d: the 2-D pools on the [N, C, 1, L] view (composites).
Tensor max_pool1d(const Tensor& x, int64_t kernel_size, std::optional<int64_t> stride = std::nullopt,
                  int64_t padding = 0, int64_t dilation = 1, bool ceil_mode = false);
/// max_pool1d and its int64 indices (positions along L), as max_pool1d(..., return_indices=True).
std::pair<Tensor, Tensor> max_pool1d_with_indices(const Tensor& x, int64_t kernel_size,
                                                  std::optional<int64_t> stride = std::nullopt,
                                                  int64_t padding = 0, int64_t dilation = 1,
                                                  bool ceil_mode = false);
Tensor avg_pool1d(const Tensor& x, int64_t kernel_size, std::optional<int64_t> stride = std::nullopt,
                  int64_t padding = 0, bool ceil_mode = false, bool count_include_pad = true);
Tensor adaptive_avg_pool1d(const Tensor& x, int64_t output_size);
Tensor adaptive_max_pool1d(const Tensor& x, int64_t output_size);
/// adaptive_max_pool1d and its int64 indices (positions along L).
std::pair<Tensor, Tensor> adaptive_max_pool1d_with_indices(const Tensor& x, int64_t output_size);

// ---- spatial: padding modes, resampling, im2col, einsum ----
/// How pad fills the border, as torch.nn.functional.pad's `mode`: constant (the value), reflect
/// (mirrored at the edge, the edge not repeated), replicate (the edge repeated), circular (wrapped).
enum class PadMode : uint8_t { constant, reflect, replicate, circular };
/// As torch.nn.functional.pad with a mode: constant is pad(x, pads, value) above; the other modes
/// pad the last 1, 2 or 3 axes (2, 4 or 6 pads, last axis first) of a tensor with 1 or 2 more axes
/// ([C, W] or [N, C, W] for 1-D ...; circular only the batched form). Pads may be negative (cropping).
/// reflect needs each pad < the axis' size, circular <= it; value is for constant only.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value = 0.0);
/// interpolate's resampling: nearest (1-D or 2-D), linear (1-D only), bilinear (2-D only).
enum class InterpMode : uint8_t { nearest, linear, bilinear };
/// PyTorch's name of the mode: "nearest", "linear", "bilinear".
const char* mode_name(InterpMode m);
/// The keyword arguments of torch.nn.functional.interpolate: exactly one of size and scale_factor,
/// each with one value for every spatial axis or one per axis, e.g.
/// `interpolate(x, {.size = {5, 7}, .mode = InterpMode::bilinear, .align_corners = false})`.
struct InterpolateOptions {
  std::vector<int64_t> size = {};
  std::vector<double> scale_factor = {};
  InterpMode mode = InterpMode::nearest;
  std::optional<bool> align_corners = std::nullopt;  ///< linear modes only; unset = false
  std::optional<bool> recompute_scale_factor =
      std::nullopt;  ///< true: resample with in / out, not 1 / scale_factor
};
/// As torch.nn.functional.interpolate (1.13) on x [N, C, L] or [N, C, H, W]: the output size is
/// size, or floor(in * scale_factor); nearest reads input floor(o * scale) and linear interpolates
/// between the two inputs around (o + 0.5) scale - 0.5 (o scale with align_corners), where scale is
/// 1 / scale_factor when given (and not recomputed), else in / out.
Tensor interpolate(const Tensor& x, const InterpolateOptions& options);
/// [*, C r^2, H, W] -> [*, C, H r, W r], as torch.nn.functional.pixel_shuffle.
Tensor pixel_shuffle(const Tensor& x, int64_t upscale_factor);
/// [*, C, H r, W r] -> [*, C r^2, H, W], the inverse of pixel_shuffle.
Tensor pixel_unshuffle(const Tensor& x, int64_t downscale_factor);
/// im2col, as torch.nn.functional.unfold: x [N, C, H, W] (or [C, H, W]) -> [N, C kh kw, L], column l
/// the l-th sliding block (row-major over the blocks) flattened channel by channel; zeros for padding.
Tensor unfold(const Tensor& x, Size2 kernel_size, Size2 dilation = 1, Size2 padding = 0, Size2 stride = 1);
/// col2im, as torch.nn.functional.fold: [N, C kh kw, L] (or [C kh kw, L]) -> [N, C, output_size],
/// each column summed back onto its block (overlaps add up); the adjoint of unfold.
Tensor fold(const Tensor& x, Size2 output_size, Size2 kernel_size, Size2 dilation = 1, Size2 padding = 0,
            Size2 stride = 1);
/// As torch.einsum: explicit (`->`) or implicit output, repeated subscripts in one operand
/// (diagonals), `...` broadcasting; operands are contracted pairwise left to right, each pair one
/// batched gemm (composite: gradients of every order come from the ops it is made of).
Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands);

// ---- Linear algebra (torch.linalg) ----
// (ops/linalg_lapack.cpp) LAPACK through xtensor-blas. Matrices are the last two axes, batched over
// the leading ones (PyTorch's (*, m, n)); float32 and float64 (mixed operands promote). A matrix
// LAPACK cannot factor raises LinAlgError naming the op and the batch element; a non-square
// matrix where a square one is needed raises ShapeError. Gradients follow PyTorch's definitions.
namespace linalg {
/// X with A X = B (torch.linalg.solve): A (*, n, n), B (*, n, k) or a vector (*, n); batch axes
/// broadcast. Singular A: LinAlgError.
Tensor solve(const Tensor& A, const Tensor& B);
/// A^-1 of (*, n, n) (torch.linalg.inv); singular A: LinAlgError.
Tensor inv(const Tensor& A);
/// Determinant of (*, n, n) through LU (torch.linalg.det): 0 for a singular matrix, where the
/// gradient is the adjugate's transpose (from the SVD; PyTorch 1.13 gives 0 there).
Tensor det(const Tensor& A);
/// (sign, log |det A|) (torch.linalg.slogdet); a singular matrix gives (0, -inf). The sign carries
/// no gradient.
std::pair<Tensor, Tensor> slogdet(const Tensor& A);
/// The lower factor L of a symmetric positive-definite A = L L^T (torch.linalg.cholesky, which
/// reads the lower triangle only); upper: L^T. Not positive definite: LinAlgError.
Tensor cholesky(const Tensor& A, bool upper = false);
/// Reduced QR (torch.linalg.qr, mode "reduced"): (Q (*, m, k), R (*, k, n)), k = min(m, n), as
/// LAPACK's Householder QR gives them (R's diagonal may be negative).
std::pair<Tensor, Tensor> qr(const Tensor& A);
/// (eigenvalues ascending (*, n), eigenvectors as columns (*, n, n)) of a symmetric A, read from
/// its lower triangle (torch.linalg.eigh, UPLO "L"). The gradient is defined for functions of the
/// outputs that do not depend on each eigenvector's sign, with distinct eigenvalues. NaN or inf
/// entries: LinAlgError (LAPACK's iteration would not converge).
std::pair<Tensor, Tensor> eigh(const Tensor& A);
/// Reduced SVD A = U diag(S) Vh (torch.linalg.svd, full_matrices=false): U (*, m, k), S (*, k)
/// descending, Vh (*, k, n). Gradients: for functions invariant under (u_i, v_i) -> (-u_i, -v_i),
/// with distinct (and, for non-square A, nonzero) singular values when U or Vh is used. NaN or inf
/// entries: LinAlgError.
std::tuple<Tensor, Tensor, Tensor> svd(const Tensor& A);
/// The singular values (*, k), descending (torch.linalg.svdvals).
Tensor svdvals(const Tensor& A);
/// Moore-Penrose pseudo-inverse through the SVD (torch.linalg.pinv): singular values at most
/// rtol max(S) are dropped, rtol = eps(dtype) max(m, n) unless given.
Tensor pinv(const Tensor& A, std::optional<double> rtol = std::nullopt);
/// The least-squares solution X of min ||A X - B|| (torch.linalg.lstsq(A, B).solution) for a
/// full-rank A (*, m, n), B (*, m, k): the minimum-norm solution when m < n. Through QR; a rank
/// deficient A (a |R_ii| at most eps max(m, n) max |R_jj|) raises LinAlgError.
Tensor lstsq(const Tensor& A, const Tensor& B);
/// Matrix norm over the two axes `dim` (torch.linalg.matrix_norm): ord "fro" or "nuc".
Tensor matrix_norm(const Tensor& A, const std::string& ord = "fro", const Axes& dim = {-2, -1},
                   bool keepdim = false);
/// As above with a numeric ord: 2 / -2 (largest / smallest singular value), 1 / -1 (max / min
/// column sum of |a|), inf / -inf (max / min row sum of |a|).
Tensor matrix_norm(const Tensor& A, double ord, const Axes& dim = {-2, -1}, bool keepdim = false);
/// (sum |x|^ord)^(1/ord) over `dim` (empty: all elements), as torch.linalg.vector_norm: ord inf /
/// -inf is max / min |x|, ord 0 counts the nonzeros (no gradient).
Tensor vector_norm(const Tensor& x, double ord = 2.0, const Axes& dim = {}, bool keepdim = false);
/// e^A of (*, n, n) (torch.linalg.matrix_exp), by scaling and squaring of the Taylor series.
Tensor matrix_exp(const Tensor& A);
/// A^n for an integer n (torch.linalg.matrix_power): n = 0 gives the identity, n < 0 powers of inv(A).
Tensor matrix_power(const Tensor& A, int64_t n);
/// The cross product of 3-vectors along dim (torch.linalg.cross); operands broadcast (an operand of
/// lower rank gains leading axes of 1, which PyTorch 1.13 refuses).
Tensor cross(const Tensor& a, const Tensor& b, int64_t dim = -1);
}  // namespace linalg
// ---- losses with a kernel of their own (ctc.cpp); the others are composed in nn/loss.cpp ----
/// Connectionist temporal classification loss per sequence, -log p(target | log_probs)
/// (torch.nn.functional.ctc_loss with reduction='none'): log_probs [T, N, C] (or unbatched
/// [T, C]), int64 targets padded [N, S] or concatenated 1-D (unbatched: [S]), int64
/// input_lengths and target_lengths [N] ([] unbatched). Returns [N] ([] unbatched); an impossible
/// alignment gives inf, or 0 with zero_infinity (and then a 0 gradient). Differentiable once.
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank = 0, bool zero_infinity = false);
/// X with (L L^T) X = B for a Cholesky factor L (torch.cholesky_solve(B, L, upper)): B (*, n, k),
/// L (*, n, n) lower (upper: L is the upper factor U, A = U^T U); batch axes broadcast.
Tensor cholesky_solve(const Tensor& B, const Tensor& L, bool upper = false);

}  // namespace xg
