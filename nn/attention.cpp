#include "xgrad/nn/attention.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/nn/init.hpp"

namespace xg::nn {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.rank() > to.rank()) return false;
  for (int i = 1; i <= from.rank(); ++i) {
    const int64_t f = from[from.rank() - i], t = to[to.rank() - i];
    if (f != 1 && f != t) return false;
  }
  return true;
}

// [L, S] additive mask: -inf where key j > query i.
Tensor causal_mask(int64_t l, int64_t s, Dtype dtype) {
  std::vector<double> m(static_cast<std::size_t>(l * s), 0.0);
  for (int64_t i = 0; i < l; ++i)
    for (int64_t j = i + 1; j < s; ++j) m[static_cast<std::size_t>(i * s + j)] = -kInf;
  return tensor(m, {l, s}, {.dtype = dtype});
}

Tensor dropout_weights(const Tensor& w, double p, Generator* generator) {
  if (p <= 0) return w;
  Tensor keep;
  {
    NoGradGuard guard;
    keep =
        p < 1 ? ge(rand(w.shape(), {.dtype = w.dtype()}, generator), p) * (1.0 / (1.0 - p)) : zeros_like(w);
  }
  return w * keep;
}

// x W^T + b for x [M, in], W [out, in].
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = matmul_t(x, w, false, true);
  return b.defined() ? y + b : y;
}

}  // namespace

namespace {
// An int64 mask read as additive is almost always a 0/1 padding mask given without its kind: the
// error says which kind to give.
void check_mask_kind(const Tensor& mask, MaskKind kind, const std::string& who, const char* arg) {
  if (kind == MaskKind::additive && mask.defined() && !mask.is_floating_point())
    throw TypeError(who + ": " + arg + " is int64 but mask_kind is MaskKind::additive (the default), which " +
                    "needs a float additive mask (0 keeps, -inf removes); for a 0/1 mask set mask_kind = " +
                    "MaskKind::drop (nonzero = masked out, as PyTorch's boolean key_padding_mask and " +
                    "attn_mask) or MaskKind::keep (nonzero = may attend)");
}
}  // namespace

Tensor additive_mask(const Tensor& mask, MaskKind kind, Dtype dtype) {
  if (!mask.defined()) return mask;
  if (kind == MaskKind::additive) {
    check_mask_kind(mask, kind, "attention", "the mask");
    return mask;
  }
  NoGradGuard guard;
  const Tensor zero = scalar_tensor(0.0, {.dtype = dtype}),
               minus_inf = scalar_tensor(-kInf, {.dtype = dtype});
  const Tensor nonzero = ne(mask, 0.0);
  return kind == MaskKind::keep ? where(nonzero, zero, minus_inf) : where(nonzero, minus_inf, zero);
}

AttentionOutput attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                          bool is_causal, const AttentionOptions& o) {
  const char* name = "scaled_dot_product_attention";
  if (!q.defined() || !k.defined() || !v.defined())
    throw ValueError(std::string(name) + ": q, k or v is undefined");
  const std::string shapes = "q " + q.shape().str() + ", k " + k.shape().str() + ", v " + v.shape().str();
  if (q.dim() < 2 || k.dim() != q.dim() || v.dim() != q.dim())
    throw ShapeError(
        std::string(name) +
        ": q, k and v need the same rank, at least 2 ([..., L, E], [..., S, E], [..., S, Ev]): " + shapes);
  for (int i = 0; i < q.dim() - 2; ++i)
    if (k.shape()[i] != q.shape()[i] || v.shape()[i] != q.shape()[i])
      throw ShapeError(std::string(name) + ": the batch axes of q, k and v differ: " + shapes);
  if (k.size(-1) != q.size(-1))
    throw ShapeError(std::string(name) + ": q and k have different feature sizes E: " + shapes);
  if (v.size(-2) != k.size(-2))
    throw ShapeError(std::string(name) + ": k and v have different lengths S: " + shapes);
  if (!(o.dropout_p >= 0 && o.dropout_p <= 1))
    throw ValueError(std::string(name) + ": dropout_p must lie in [0, 1], got " +
                     std::to_string(o.dropout_p));

  const double scale = o.scale ? *o.scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  Tensor scores = matmul_t(q, k, false, true) * scale;  // [..., L, S]
  if (attn_mask.defined()) {
    if (!broadcasts_to(attn_mask.shape(), scores.shape()))
      throw ShapeError(std::string(name) + ": attn_mask " + attn_mask.shape().str() +
                       " does not broadcast to the scores " + scores.shape().str() + " (" + shapes + ")");
    check_mask_kind(attn_mask, o.mask_kind, name, "attn_mask");
    scores = scores + additive_mask(attn_mask, o.mask_kind, scores.dtype());
  }
  if (is_causal) scores = scores + causal_mask(q.size(-2), k.size(-2), scores.dtype());
  Tensor weights = dropout_weights(softmax(scores, -1), o.dropout_p, o.generator);
  return {matmul_t(weights, v, false, false), weights};
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, bool is_causal,
                                    const AttentionOptions& options) {
  return attention(q, k, v, attn_mask, is_causal, options).output;
}

// ---- the output projection ----

AttentionOutProj::AttentionOutProj(int64_t embed_dim, bool with_bias)
    : Module("NonDynamicallyQuantizableLinear"), embed_dim_(embed_dim) {
  // As Linear: kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(E), 1/sqrt(E)); MultiheadAttention zeroes the
  // bias.
  weight =
      register_parameter("weight", init::kaiming_uniform_(empty({embed_dim, embed_dim}), std::sqrt(5.0)));
  if (with_bias) bias = register_parameter("bias", zeros({embed_dim}));
}

Tensor AttentionOutProj::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  if (!x.defined() || x.dim() < 1 || x.size(-1) != embed_dim_)
    throw ShapeError("MultiheadAttention.out_proj: expected an input [..., " + std::to_string(embed_dim_) +
                     "], got " + (x.defined() ? x.shape().str() : std::string("undefined")));
  Shape out = x.shape();
  Tensor y = affine(reshape(x, {-1, embed_dim_}), weight, bias);
  return reshape(y, out);
}

std::string AttentionOutProj::extra_repr() const {
  std::ostringstream s;
  s << "in_features=" << embed_dim_ << ", out_features=" << embed_dim_
    << ", bias=" << (bias.defined() ? "true" : "false");
  return s.str();
}

// ---- MultiheadAttention ----

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads,
                                       MultiheadAttentionOptions options)
    : Module("MultiheadAttention"),
      embed_dim_(embed_dim),
      num_heads_(num_heads),
      kdim_(options.kdim.value_or(embed_dim)),
      vdim_(options.vdim.value_or(embed_dim)),
      options_(options) {
  if (embed_dim <= 0 || num_heads <= 0)
    throw ValueError("MultiheadAttention: embed_dim and num_heads must be positive, got " +
                     std::to_string(embed_dim) + " and " + std::to_string(num_heads));
  if (embed_dim % num_heads != 0)
    throw ValueError("MultiheadAttention: embed_dim " + std::to_string(embed_dim) +
                     " is not divisible by num_heads " + std::to_string(num_heads));
  if (kdim_ <= 0 || vdim_ <= 0)
    throw ValueError("MultiheadAttention: kdim and vdim must be positive, got " + std::to_string(kdim_) +
                     " and " + std::to_string(vdim_));
  if (!(options.dropout >= 0 && options.dropout <= 1))
    throw ValueError("MultiheadAttention: dropout must lie in [0, 1], got " +
                     std::to_string(options.dropout));
  // PyTorch's registration order (state_dict lists a module's own parameters first, out_proj after).
  if (qkv_same_embed_dim()) {
    in_proj_weight =
        register_parameter("in_proj_weight", init::xavier_uniform_(empty({3 * embed_dim, embed_dim})));
  } else {
    q_proj_weight = register_parameter("q_proj_weight", init::xavier_uniform_(empty({embed_dim, embed_dim})));
    k_proj_weight = register_parameter("k_proj_weight", init::xavier_uniform_(empty({embed_dim, kdim_})));
    v_proj_weight = register_parameter("v_proj_weight", init::xavier_uniform_(empty({embed_dim, vdim_})));
  }
  if (options.bias) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * embed_dim}));
  out_proj = register_module("out_proj", std::make_shared<AttentionOutProj>(embed_dim, options.bias));
  if (options.add_bias_kv) {
    bias_k = register_parameter("bias_k", init::xavier_normal_(empty({1, 1, embed_dim})));
    bias_v = register_parameter("bias_v", init::xavier_normal_(empty({1, 1, embed_dim})));
  }
}

Tensor MultiheadAttention::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  MultiheadAttentionArgs args;
  args.need_weights = false;
  return forward(x, x, x, args).output;
}

MultiheadAttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                                     const Tensor& value,
                                                     const MultiheadAttentionArgs& args) {
  const ModuleScope scope(*this);
  const std::string name = "MultiheadAttention";
  if (!query.defined() || !key.defined() || !value.defined())
    throw ValueError(name + ": query, key or value is undefined");
  const std::string shapes =
      "query " + query.shape().str() + ", key " + key.shape().str() + ", value " + value.shape().str();
  const bool bf = options_.batch_first;
  if ((query.dim() != 2 && query.dim() != 3) || key.dim() != query.dim() || value.dim() != query.dim())
    throw ShapeError(name + ": expected query, key and value all " + (bf ? "[N, L, E]" : "[L, N, E]") +
                     " or all [L, E], got " + shapes);
  if (query.size(-1) != embed_dim_ || key.size(-1) != kdim_ || value.size(-1) != vdim_)
    throw ShapeError(name + ": expected " + std::to_string(embed_dim_) + " query features (embed_dim), " +
                     std::to_string(kdim_) + " key features (kdim) and " + std::to_string(vdim_) +
                     " value features (vdim), got " + shapes);
  const bool unbatched = query.dim() == 2;
  const int seq_axis = unbatched ? 0 : (bf ? 1 : 0), batch_axis = bf ? 0 : 1;
  if (!unbatched &&
      (key.size(batch_axis) != query.size(batch_axis) || value.size(batch_axis) != query.size(batch_axis)))
    throw ShapeError(name + ": query, key and value have different batch sizes: " + shapes);
  if (key.size(seq_axis) != value.size(seq_axis))
    throw ShapeError(name + ": key and value have different lengths: " + shapes);
  for (const Tensor* t : {&query, &key, &value})
    if (!t->is_floating_point())
      throw TypeError(name + ": expected float inputs, got int64 (" + shapes + ")");

  // Everything runs in [N, L, E].
  auto to_nle = [&](const Tensor& t) { return unbatched ? unsqueeze(t, 0) : bf ? t : transpose(t, 0, 1); };
  const int64_t n = unbatched ? 1 : query.size(batch_axis), l = query.size(seq_axis), s = key.size(seq_axis);
  const int64_t e = embed_dim_, h = num_heads_, d = head_dim();

  // Projections [N len, E]: one gemm for self-attention, else one per block of the weights.
  Tensor q, k, v;
  auto bias_block = [&](int64_t i) {
    return in_proj_bias.defined() ? slice(in_proj_bias, 0, i * e, (i + 1) * e) : Tensor();
  };
  if (qkv_same_embed_dim() && query.get() == key.get() && key.get() == value.get()) {
    std::vector<Tensor> qkv =
        chunk(affine(reshape(to_nle(query), {n * l, e}), in_proj_weight, in_proj_bias), 3, 1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    auto block = [&](const Tensor& x, int64_t i, int64_t len, int64_t features) {
      const Tensor w = qkv_same_embed_dim() ? slice(in_proj_weight, 0, i * e, (i + 1) * e)
                       : i == 0             ? q_proj_weight
                       : i == 1             ? k_proj_weight
                                            : v_proj_weight;
      return affine(reshape(to_nle(x), {n * len, features}), w, bias_block(i));
    };
    q = block(query, 0, l, e), k = block(key, 1, s, kdim_), v = block(value, 2, s, vdim_);
  }
  // [N len, E] -> [N, len, E]; bias_k and bias_v as one more key and value of every batch element.
  k = reshape(k, {n, s, e}), v = reshape(v, {n, s, e});
  int64_t extra = 0;  // keys appended after the given S
  if (bias_k.defined()) {
    k = concat({k, expand(bias_k, {n, 1, e})}, 1);
    v = concat({v, expand(bias_v, {n, 1, e})}, 1);
    ++extra;
  }
  // [N, len, E] -> [N, h, len, d]
  auto heads = [&](const Tensor& x, int64_t len) {
    return permute(reshape(x, {n, len, h, d}), {0, 2, 1, 3});
  };
  Tensor qh = heads(q, l), kh = heads(k, s + extra), vh = heads(v, s + extra);
  if (options_.add_zero_attn) {
    const Tensor zero = zeros({n, h, 1, d}, {.dtype = kh.dtype()});
    kh = concat({kh, zero}, 2);
    vh = concat({vh, zero}, 2);
    ++extra;
  }

  // Masks, as additive masks broadcasting to the scores [N, h, L, S]; the appended keys are never
  // masked (PyTorch pads its masks with zeros for them).
  Tensor mask;
  const Dtype dt = q.dtype();
  const MaskKind pad_kind = args.key_padding_mask_kind.value_or(args.mask_kind);
  check_mask_kind(args.attn_mask, args.mask_kind, name, "attn_mask");
  check_mask_kind(args.key_padding_mask, pad_kind, name, "key_padding_mask");
  if (args.attn_mask.defined()) {
    const Tensor& m = args.attn_mask;
    if (m.dim() == 2 && m.size(0) == l && m.size(1) == s)
      mask = additive_mask(m, args.mask_kind, dt);
    else if (m.dim() == 3 && m.size(0) == n * h && m.size(1) == l && m.size(2) == s)
      mask = reshape(additive_mask(m, args.mask_kind, dt), {n, h, l, s});
    else
      throw ShapeError(name + ": attn_mask must be " + Shape{l, s}.str() + " or " + Shape{n * h, l, s}.str() +
                       " ([L, S] or [N num_heads, L, S]), got " + m.shape().str() + " for " + shapes);
  }
  if (args.key_padding_mask.defined()) {
    const Tensor& m = args.key_padding_mask;
    const Shape want = unbatched ? Shape{s} : Shape{n, s};
    if (!(m.shape() == want))
      throw ShapeError(name + ": key_padding_mask must be " + want.str() + ", got " + m.shape().str() +
                       " ([N, S]; [S] unbatched) for " + shapes);
    Tensor pad = reshape(additive_mask(m, pad_kind, dt), {n, 1, 1, s});
    mask = mask.defined() ? mask + pad : pad;
  }
  if (args.is_causal) {
    const Tensor c = causal_mask(l, s, dt);
    mask = mask.defined() ? mask + c : c;
  }
  if (mask.defined() && extra > 0) mask = pad(mask, {0, extra});

  AttentionOptions ao;
  ao.dropout_p = is_training() ? options_.dropout : 0.0;
  ao.generator = options_.generator.get();
  AttentionOutput att = attention(qh, kh, vh, mask, false, ao);

  // [N, h, L, d] -> [N, L, h, d] -> [N L, E] -> out_proj -> back to the input layout.
  Tensor out = out_proj->forward(reshape(permute(att.output, {0, 2, 1, 3}), {n * l, e}));
  out = reshape(out, {n, l, e});
  out = unbatched ? squeeze(out, 0) : bf ? out : transpose(out, 0, 1);

  MultiheadAttentionOutput result{out, Tensor()};
  if (args.need_weights) {
    Tensor w = args.average_attn_weights ? mean(att.weights, {1}) : att.weights;
    result.attn_weights = unbatched ? squeeze(w, 0) : w;
  }
  return result;
}

std::string MultiheadAttention::extra_repr() const {
  std::ostringstream s;
  s << "embed_dim=" << embed_dim_ << ", num_heads=" << num_heads_;
  if (!options_.bias) s << ", bias=false";
  if (options_.batch_first) s << ", batch_first=true";
  if (options_.dropout != 0) s << ", dropout=" << options_.dropout;
  if (options_.add_bias_kv) s << ", add_bias_kv=true";
  if (options_.add_zero_attn) s << ", add_zero_attn=true";
  if (!qkv_same_embed_dim()) s << ", kdim=" << kdim_ << ", vdim=" << vdim_;
  return s.str();
}

}  // namespace xg::nn
