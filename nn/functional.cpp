#include "xgrad/nn/functional.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/scope.hpp"

namespace xg::nn::functional {

namespace {
void check_float_input(const Tensor& t, const char* fn, const char* what) {
  if (!t.defined()) throw ValueError(std::string(fn) + ": " + what + " is undefined");
  if (!t.is_floating_point())
    throw TypeError(std::string(fn) + ": " + what + " must be a float tensor, got " + dtype_name(t.dtype()) +
                    " of shape " + t.shape().str());
}
}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_float_input(x, "linear", "the input");
  check_float_input(weight, "linear", "the weight");
  if (weight.dim() != 2)
    throw ShapeError("linear: the weight must be [out_features, in_features], got " + weight.shape().str());
  const int64_t in = weight.size(1), out = weight.size(0);
  if (x.dim() == 0 || x.size(-1) != in)
    throw ShapeError("linear: input " + x.shape().str() + " does not end in in_features = " +
                     std::to_string(in) + " (weight " + weight.shape().str() + ")");
  if (bias.defined() && !(bias.shape() == Shape{out}))
    throw ShapeError("linear: bias has shape " + bias.shape().str() + ", expected [" + std::to_string(out) +
                     "] for weight " + weight.shape().str());
  // [..., in] -> [rows, in] (a view), one gemm against W^T onto the bias, back to [..., out].
  Tensor y = xg::linear(x.dim() == 2 ? x : reshape(x, {-1, in}), weight, bias);
  if (x.dim() != 2) {
    Shape os = x.shape();
    os[os.rank() - 1] = out;
    y = reshape(y, os);
  }
  return y;
}

Tensor bilinear(const Tensor& x1, const Tensor& x2, const Tensor& weight, const Tensor& bias) {
  const CompositeScope composite("bilinear");
  check_float_input(x1, "bilinear", "input1");
  check_float_input(x2, "bilinear", "input2");
  check_float_input(weight, "bilinear", "the weight");
  if (weight.dim() != 3)
    throw ShapeError("bilinear: the weight must be [out_features, in1_features, in2_features], got " +
                     weight.shape().str());
  const int64_t out = weight.size(0), in1 = weight.size(1), in2 = weight.size(2);
  const std::string shapes = " (input1 " + x1.shape().str() + ", input2 " + x2.shape().str() + ", weight " +
                             weight.shape().str() + ")";
  if (x1.dim() == 0 || x1.size(-1) != in1)
    throw ShapeError("bilinear: input1 does not end in in1_features = " + std::to_string(in1) + shapes);
  if (x2.dim() == 0 || x2.size(-1) != in2)
    throw ShapeError("bilinear: input2 does not end in in2_features = " + std::to_string(in2) + shapes);
  if (x1.dim() != x2.dim())
    throw ShapeError("bilinear: input1 and input2 must have the same leading axes" + shapes);
  for (int i = 0; i + 1 < x1.dim(); ++i)
    if (x1.size(i) != x2.size(i))
      throw ShapeError("bilinear: input1 and input2 must have the same leading axes" + shapes);
  if (bias.defined() && !(bias.shape() == Shape{out}))
    throw ShapeError("bilinear: bias has shape " + bias.shape().str() + ", expected [" + std::to_string(out) +
                     "]" + shapes);
  // t[n, o, j] = sum_i x1[n, i] W[o, i, j]: one gemm of [n, in1] with W as [in1, out * in2];
  // then y[n, o] = sum_j t[n, o, j] x2[n, j] as a batched [out, in2] @ [in2, 1] product.
  const Tensor a = reshape(x1, {-1, in1}), b = reshape(x2, {-1, in2});
  const int64_t n = a.size(0);
  Tensor wt = reshape(permute(weight, {1, 0, 2}), {in1, out * in2});
  Tensor t = reshape(matmul_t(a, wt, false, false), {n, out, in2});
  Tensor y = reshape(matmul_t(t, reshape(b, {n, in2, 1}), false, false), {n, out});
  if (bias.defined()) y = y + bias;
  Shape os = x1.shape();
  os[os.rank() - 1] = out;
  return reshape(y, os);
}

namespace {
// Dropout's mask, drawn from a generator: eager calls it, and a captured plan (autograd/capture)
// calls it again on each replay, so that the masks and the generator advance exactly as eager's.
template <class T>
void dropout_mask_exec(Generator& g, T* m, int64_t n, double keep, double scale) {
  g.draw([&](Generator::Engine& e) {  // one lock for the mask
    const T s = static_cast<T>(scale);
    for (int64_t i = 0; i < n; ++i) m[i] = e.uniform01() < keep ? s : T(0);
  });
}
template <class T>
void dropout_mask_replay(const capture_detail::Kernel& k) {
  dropout_mask_exec(*static_cast<Generator*>(const_cast<void*>(k.aux)), static_cast<T*>(k.buf[0]), k.n[0],
                    k.s[0], k.s[1]);
}
void no_delete(void*) {}
}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  check_float_input(x, "dropout", "the input");
  if (!(p >= 0.0 && p <= 1.0)) throw ValueError("dropout: p must be in [0, 1], got " + std::to_string(p));
  if (!training || p == 0.0) return x;
  if (p == 1.0) return x * zeros_like(x);  // everything dropped (keeps the graph: gradient 0)
  // The mask holds 0 or 1 / (1 - p) directly: one pass to draw it, one multiply.
  Tensor mask = empty(x.shape(), {.dtype = x.dtype()});
  const double keep = 1.0 - p, scale = 1.0 / keep;
  Generator& g = detail::generator_or_default(generator);
  xg::detail::visit_float(x.dtype(), "dropout", [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]]  // the plan refers to the generator, not owning it
      capture_detail::emit_owned("dropout_mask", dropout_mask_replay<T>, {capture_detail::W(mask)},
                                 std::shared_ptr<void>(&g, no_delete), {mask.numel()}, {keep, scale});
    dropout_mask_exec(g, mask.data<T>(), mask.numel(), keep, scale);
  });
  return x * mask;
}

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  if (!indices.defined() || !weight.defined())
    throw ValueError("embedding: the indices or the weight is undefined");
  if (indices.dtype() != Dtype::int64)
    throw TypeError(std::string("embedding: indices must be int64, got ") + dtype_name(indices.dtype()) +
                    " of shape " + indices.shape().str());
  if (weight.dim() != 2)
    throw ShapeError("embedding: the weight must be [num_embeddings, embedding_dim], got " +
                     weight.shape().str());
  const int64_t num = weight.size(0), dim = weight.size(1);
  if (padding_idx) {  // negative counts from the end, as PyTorch
    if (*padding_idx < -num || *padding_idx >= num)
      throw IndexError("embedding: padding_idx " + std::to_string(*padding_idx) + " is out of range for " +
                       std::to_string(num) + " embeddings (weight " + weight.shape().str() + ")");
    if (*padding_idx < 0) padding_idx = *padding_idx + num;
  }
  const Tensor flat = reshape(indices, {-1});
  const int64_t* ip = flat.data<int64_t>();
  bool has_pad = false;
  for (int64_t i = 0, n = flat.numel(); i < n; ++i) {
    if (ip[i] < 0 || ip[i] >= num)
      throw IndexError("embedding: index " + std::to_string(ip[i]) + " is out of range for " +
                       std::to_string(num) + " embeddings (weight " + weight.shape().str() + ", indices " +
                       indices.shape().str() + ")");
    has_pad = has_pad || (padding_idx && ip[i] == *padding_idx);
  }
  Tensor rows = index_select(weight, 0, flat);
  if (has_pad && weight.requires_grad() && GradMode::is_enabled()) {
    // The padding row's value, but no gradient to it: rows at padding positions come from a
    // detached copy of that row.
    std::vector<double> keep(static_cast<std::size_t>(flat.numel()));
    for (int64_t i = 0, n = flat.numel(); i < n; ++i) keep[i] = ip[i] == *padding_idx ? 0.0 : 1.0;
    const Tensor mask = tensor(keep, Shape{flat.numel(), 1}, {.dtype = weight.dtype()});
    const Tensor pad_row = slice(weight.detach(), 0, *padding_idx, *padding_idx + 1);
    rows = where(mask, rows, pad_row);
  }
  Shape os = indices.shape();
  os.push_back(dim);
  return reshape(rows, os);
}

Tensor gelu(const Tensor& x, const std::string& approximate) {
  if (approximate == "none") return xg::gelu(x);
  if (approximate != "tanh")
    throw ValueError("gelu: approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
  const CompositeScope composite("gelu");
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + xg::tanh(k * (x + 0.044715 * x * x * x)));
}

namespace {
// (before, after) zero padding of one axis for PyTorch's padding string; `op` names the caller.
std::pair<int64_t, int64_t> string_pads(const char* op, const std::string& padding, bool strided, int64_t k,
                                        int64_t d) {
  if (padding == "valid") return {0, 0};
  if (padding != "same")
    throw ValueError(std::string(op) + ": invalid padding string '" + padding +
                     "', should be one of {'valid', 'same'}");
  if (strided)
    throw ValueError(std::string(op) + ": padding='same' is not supported for strided convolutions");
  const int64_t total = d * (k - 1);
  return {total / 2, total - total / 2};
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, const PaddingString& p,
              Size2 dilation, int64_t groups) {
  const std::string& padding = p.value;
  if (!weight.defined() || weight.dim() != 4) return xg::conv2d(x, weight, bias, stride, 0, dilation, groups);
  const bool strided = stride.h != 1 || stride.w != 1;
  const auto [hl, hr] = string_pads("conv2d", padding, strided, weight.size(2), dilation.h);
  const auto [wl, wr] = string_pads("conv2d", padding, strided, weight.size(3), dilation.w);
  if (hl == hr && wl == wr) return xg::conv2d(x, weight, bias, stride, {hl, wl}, dilation, groups);
  return xg::conv2d(pad(x, {wl, wr, hl, hr}), weight, bias, stride, 0, dilation, groups);
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              const PaddingString& p, int64_t dilation, int64_t groups) {
  const std::string& padding = p.value;
  if (!weight.defined() || weight.dim() != 3) return xg::conv1d(x, weight, bias, stride, 0, dilation, groups);
  const auto [l, r] = string_pads("conv1d", padding, stride != 1, weight.size(2), dilation);
  if (l == r) return xg::conv1d(x, weight, bias, stride, l, dilation, groups);
  return xg::conv1d(pad(x, {l, r}), weight, bias, stride, 0, dilation, groups);
}

}  // namespace xg::nn::functional
