#pragma once
/// @file attention.hpp
/// @brief Scaled dot-product attention and multi-head attention, as PyTorch's
/// F.scaled_dot_product_attention and nn.MultiheadAttention, composed of xg ops (matmul_t with
/// gemm transpose flags, softmax, ...), so their gradients are derived.
///
///   attention(Q, K, V) = softmax(Q K^T scale + mask) V,   scale = 1 / sqrt(E) by default
///
/// There is no bool dtype in xg, so a 0/1 mask says how it is meant with a MaskKind:
///  - MaskKind::additive: added to the scores (0 keeps, -inf removes); float masks in PyTorch.
///  - MaskKind::keep: nonzero = may attend, 0 = masked out (PyTorch's boolean mask of
///    F.scaled_dot_product_attention).
///  - MaskKind::drop: nonzero = masked out (PyTorch's boolean attn_mask and key_padding_mask of
///    nn.MultiheadAttention).
/// A query row whose keys are all masked out gives NaN, as in PyTorch.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "xgrad/autograd/tensor/generator.hpp"
#include "xgrad/nn/module.hpp"

namespace xg::nn {

/// How a mask's values are read (see the file comment).
enum class MaskKind { additive, keep, drop };

/// The rarer arguments of scaled_dot_product_attention.
struct AttentionOptions {
  MaskKind mask_kind = MaskKind::additive;     ///< how attn_mask is read
  double dropout_p = 0.0;                      ///< dropout on the attention weights (always applied when > 0)
  std::optional<double> scale = std::nullopt;  ///< default 1 / sqrt(E)
  Generator* generator = nullptr;              ///< the dropout's masks; nullptr: the default generator
};

/// The output and the attention weights (softmax of the scores, after dropout).
struct AttentionOutput {
  Tensor output;   ///< [..., L, Ev]
  Tensor weights;  ///< [..., L, S]
};

/// @brief softmax(q k^T scale + mask) v.
/// q [..., L, E], k [..., S, E], v [..., S, Ev] with equal leading (batch) axes; attn_mask
/// broadcasts to [..., L, S]; is_causal masks out key j > query i (a top-left aligned lower
/// triangle, as PyTorch) and combines with attn_mask. Returns [..., L, Ev].
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask = Tensor(), bool is_causal = false,
                                    const AttentionOptions& options = {});
/// The same, also returning the attention weights [..., L, S].
AttentionOutput attention(const Tensor& q, const Tensor& k, const Tensor& v,
                          const Tensor& attn_mask = Tensor(), bool is_causal = false,
                          const AttentionOptions& options = {});
/// A mask of kind `kind` as an additive mask of dtype (0 where attending, -inf where not).
Tensor additive_mask(const Tensor& mask, MaskKind kind, Dtype dtype);

/// @brief The output projection of MultiheadAttention: y = x W^T + b with weight [E, E] and
/// bias [E] (PyTorch's out_proj, a Linear), so that the names are out_proj.weight and out_proj.bias.
class AttentionOutProj : public Module {
 public:
  AttentionOutProj(int64_t embed_dim, bool bias);
  Tensor forward(const Tensor& x) override;  ///< x [..., E]
  std::string extra_repr() const override;
  Tensor weight, bias;

 private:
  int64_t embed_dim_;

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<AttentionOutProj>(embed_dim_, bias.defined());
  }
};

/// Options of MultiheadAttention (PyTorch's names and defaults).
struct MultiheadAttentionOptions {
  bool bias = true;            ///< in_proj_bias and out_proj.bias
  bool batch_first = false;    ///< inputs and output [N, L, E] instead of [L, N, E]
  double dropout = 0.0;        ///< dropout on the attention weights, in training mode
  bool add_bias_kv = false;    ///< learnable bias_k, bias_v [1, 1, E] appended to the keys and values
  bool add_zero_attn = false;  ///< a zero key and value appended (after bias_k / bias_v)
  std::optional<int64_t> kdim = std::nullopt;      ///< features of key (default embed_dim)
  std::optional<int64_t> vdim = std::nullopt;      ///< features of value (default embed_dim)
  std::shared_ptr<Generator> generator = nullptr;  ///< the dropout's masks; null: the default generator
};

/// The optional arguments of MultiheadAttention::forward (PyTorch's names and defaults).
struct MultiheadAttentionArgs {
  Tensor key_padding_mask = Tensor();  ///< [N, S] ([S] unbatched): keys to ignore (read with mask_kind)
  bool need_weights = true;            ///< return the attention weights
  Tensor attn_mask = Tensor();         ///< [L, S] or [N num_heads, L, S] (read with mask_kind)
  bool average_attn_weights = true;    ///< weights averaged over heads [N, L, S], else [N, num_heads, L, S]
  bool is_causal = false;              ///< also mask out key j > query i (of the given keys)
  MaskKind mask_kind = MaskKind::additive;  ///< MaskKind::drop for PyTorch's boolean masks
  /// How key_padding_mask is read when it differs from attn_mask (a float causal mask with a
  /// boolean padding mask: MaskKind::drop here); default: mask_kind.
  std::optional<MaskKind> key_padding_mask_kind = std::nullopt;
};

/// What MultiheadAttention::forward returns.
struct MultiheadAttentionOutput {
  Tensor output;        ///< [L, N, E] ([N, L, E] with batch_first, [L, E] unbatched)
  Tensor attn_weights;  ///< [N, L, S] (see average_attn_weights; [L, S] unbatched); undefined without
                        ///< need_weights
};

/// @brief Multi-head attention, as torch.nn.MultiheadAttention:
///   Q = query W_q^T + b_q, K = key W_k^T + b_k, V = value W_v^T + b_v   (W_q, W_k, W_v the row
///   blocks of in_proj_weight [3E, E]; b_* of in_proj_bias [3E]), split into num_heads heads of
///   E / num_heads features, head_i = attention(Q_i, K_i, V_i), output = concat(heads) W_o^T + b_o.
/// Parameters, named as PyTorch's: in_proj_weight [3E, E] (xavier uniform), in_proj_bias [3E]
/// (zeros), out_proj.weight [E, E] (U(-1/sqrt(E), 1/sqrt(E))), out_proj.bias [E] (zeros).
/// With kdim or vdim other than embed_dim (key [.., kdim], value [.., vdim]), in_proj_weight is
/// replaced by q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim], each xavier
/// uniform (PyTorch's _qkv_same_embed_dim false). add_bias_kv: bias_k and bias_v [1, 1, E] (xavier
/// normal) appended to K and V as one more key; add_zero_attn: a zero key and value appended per
/// head after them. Masks get a zero (attending) column for each appended key, as PyTorch pads them.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {});
  /// Self-attention (query = key = value = x), the output only.
  Tensor forward(const Tensor& x) override;
  /// query [L, N, E], key [S, N, kdim] and value [S, N, vdim] ([N, L, E], [N, S, kdim] and
  /// [N, S, vdim] with batch_first; [L, E], [S, kdim] and [S, vdim] unbatched).
  MultiheadAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const MultiheadAttentionArgs& args = {});
  std::string extra_repr() const override;

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  int64_t head_dim() const { return embed_dim_ / num_heads_; }
  int64_t kdim() const { return kdim_; }
  int64_t vdim() const { return vdim_; }
  /// kdim == vdim == embed_dim: one packed in_proj_weight (PyTorch's _qkv_same_embed_dim).
  bool qkv_same_embed_dim() const { return kdim_ == embed_dim_ && vdim_ == embed_dim_; }
  const MultiheadAttentionOptions& options() const { return options_; }

  Tensor in_proj_weight,
      in_proj_bias;  ///< [3E, E] (undefined unless qkv_same_embed_dim), [3E] (undefined without bias)
  Tensor q_proj_weight, k_proj_weight, v_proj_weight;  ///< [E, E], [E, kdim], [E, vdim] (else undefined)
  Tensor bias_k, bias_v;                               ///< [1, 1, E] with add_bias_kv (else undefined)
  std::shared_ptr<AttentionOutProj> out_proj;

 private:
  int64_t embed_dim_, num_heads_, kdim_, vdim_;
  MultiheadAttentionOptions options_;

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<MultiheadAttention>(embed_dim_, num_heads_, options_);
  }
};

}  // namespace xg::nn
