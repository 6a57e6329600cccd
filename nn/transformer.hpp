#pragma once
/// @file transformer.hpp
/// @brief The Transformer of "Attention Is All You Need", as torch.nn.Transformer,
/// TransformerEncoder, TransformerDecoder, TransformerEncoderLayer and TransformerDecoderLayer
/// (PyTorch 1.13): the same sub-module and parameter names (state dicts load both ways), the same
/// defaults and initialisation, post-norm or pre-norm (norm_first), relu, gelu or any unary
/// function in the feed-forward block, seq-first or batch_first layouts, unbatched inputs.
///
///   post-norm (default): x = norm1(x + SA(x));        x = norm2(x + FF(x))
///   pre-norm:            x = x + SA(norm1(x));        x = x + FF(norm2(x))
///   FF(x) = dropout2(linear2(dropout(activation(linear1(x)))))
///   the decoder layer adds cross-attention on the memory between the two (norm2, norm3 after).
///
/// Masks are those of MultiheadAttention: an attention mask [L, S] or [N nhead, L, S] and a key
/// padding mask [N, S], read with a MaskKind (xg has no bool dtype): the defaults are additive
/// masks (0 keeps, -inf removes, as a float mask in PyTorch); PyTorch's boolean masks are
/// MaskKind::drop. `key_padding_mask_kind` reads the padding masks differently from the attention
/// masks, as for a float causal mask with a boolean padding mask:
///
/// @code
/// auto layer = std::make_shared<xg::nn::TransformerEncoderLayer>(
///     8, 2, xg::nn::TransformerLayerOptions{.dim_feedforward = 16, .dropout = 0.0});
/// xg::nn::TransformerEncoder encoder(layer, 3);  // three copies of layer
/// xg::Tensor y = encoder.forward(x, {.src_mask = xg::nn::generate_square_subsequent_mask(5),
///                                    .src_key_padding_mask = pad,   // 1 = padding
///                                    .key_padding_mask_kind = xg::nn::MaskKind::drop});
/// @endcode
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "xgrad/autograd/tensor/generator.hpp"
#include "xgrad/nn/attention.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/normalization.hpp"

namespace xg::nn {

/// The activation of the feed-forward block: "relu" (default), "gelu" (the erf form, as F.gelu) or
/// any unary function (as PyTorch's callable activation).
struct TransformerActivation {
  TransformerActivation(
      const char* name);  // NOLINT: implicit, so that `.activation = "gelu"` reads as PyTorch
  TransformerActivation(std::string name);  // NOLINT
  template <class F>
  requires std::is_invocable_r_v<Tensor, const F&, const Tensor&> &&
      (!std::is_convertible_v<F, std::string>)TransformerActivation(F fn)  // NOLINT
      : name("<function>"), fn(std::move(fn)) {}
  std::string name;                         ///< "relu", "gelu" or "<function>"
  std::function<Tensor(const Tensor&)> fn;  ///< applies it
};

/// Options of TransformerEncoderLayer and TransformerDecoderLayer (PyTorch's names and defaults).
struct TransformerLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout =
      0.1;  ///< after attention, inside and after the feed-forward block, on the attention weights
  TransformerActivation activation = "relu";
  double layer_norm_eps = 1e-5;
  bool batch_first = false;  ///< inputs and output [N, S, E] instead of [S, N, E]
  bool norm_first = false;   ///< pre-norm (LayerNorm before each block) instead of post-norm
  /// The masks of every dropout of the layer (its attention's too); null: the default generator.
  std::shared_ptr<Generator> generator = nullptr;
};
using TransformerEncoderLayerOptions = TransformerLayerOptions;
using TransformerDecoderLayerOptions = TransformerLayerOptions;

/// The masks of an encoder (layer or stack): PyTorch's forward(src, src_mask, src_key_padding_mask);
/// TransformerEncoder.forward calls src_mask `mask`.
struct TransformerEncoderArgs {
  Tensor src_mask = Tensor();               ///< [S, S] or [N nhead, S, S]
  Tensor src_key_padding_mask = Tensor();   ///< [N, S] ([S] unbatched)
  MaskKind mask_kind = MaskKind::additive;  ///< how src_mask is read
  std::optional<MaskKind> key_padding_mask_kind =
      std::nullopt;  ///< how the padding mask is read; default mask_kind
};

/// The masks of a decoder (layer or stack), in PyTorch's order.
struct TransformerDecoderArgs {
  Tensor tgt_mask = Tensor();                 ///< [T, T] or [N nhead, T, T]
  Tensor memory_mask = Tensor();              ///< [T, S] or [N nhead, T, S]
  Tensor tgt_key_padding_mask = Tensor();     ///< [N, T] ([T] unbatched)
  Tensor memory_key_padding_mask = Tensor();  ///< [N, S] ([S] unbatched)
  MaskKind mask_kind = MaskKind::additive;    ///< how tgt_mask and memory_mask are read
  std::optional<MaskKind> key_padding_mask_kind =
      std::nullopt;  ///< how the padding masks are read; default mask_kind
};

/// The masks of Transformer::forward, in PyTorch's order.
struct TransformerArgs {
  Tensor src_mask = Tensor();                 ///< [S, S] or [N nhead, S, S]
  Tensor tgt_mask = Tensor();                 ///< [T, T] or [N nhead, T, T]
  Tensor memory_mask = Tensor();              ///< [T, S] or [N nhead, T, S]
  Tensor src_key_padding_mask = Tensor();     ///< [N, S]
  Tensor tgt_key_padding_mask = Tensor();     ///< [N, T]
  Tensor memory_key_padding_mask = Tensor();  ///< [N, S]
  MaskKind mask_kind = MaskKind::additive;    ///< how the three attention masks are read
  std::optional<MaskKind> key_padding_mask_kind =
      std::nullopt;  ///< how the padding masks are read; default mask_kind
};

/// [sz, sz] causal mask: -inf above the diagonal, 0 elsewhere (as
/// nn.Transformer.generate_square_subsequent_mask; float32 like PyTorch's default dtype).
Tensor generate_square_subsequent_mask(int64_t sz, Dtype dtype = Dtype::float32);

/// @brief Self-attention and a feed-forward block (torch.nn.TransformerEncoderLayer). Sub-modules,
/// in PyTorch's order: self_attn (MultiheadAttention(d_model, nhead)), linear1 [dim_feedforward,
/// d_model], dropout, linear2, norm1, norm2, dropout1, dropout2.
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options = {});
  /// src [S, N, E] ([N, S, E] with batch_first, [S, E] unbatched), no mask.
  Tensor forward(const Tensor& src) override;
  Tensor forward(const Tensor& src, const TransformerEncoderArgs& args);
  const TransformerLayerOptions& options() const { return options_; }
  int64_t d_model() const { return d_model_; }
  int64_t nhead() const { return nhead_; }

  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  int64_t d_model_, nhead_;
  TransformerLayerOptions options_;

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<TransformerEncoderLayer>(d_model_, nhead_, options_);
  }
};

/// @brief Self-attention, cross-attention on the encoder's output (memory) and a feed-forward block
/// (torch.nn.TransformerDecoderLayer). Sub-modules, in PyTorch's order: self_attn, multihead_attn,
/// linear1, dropout, linear2, norm1, norm2, norm3, dropout1, dropout2, dropout3.
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options = {});
  /// tgt [T, N, E] and memory [S, N, E] ([N, T, E] and [N, S, E] with batch_first, [T, E] and
  /// [S, E] unbatched).
  using Module::forward;  ///< the single-input form throws: two inputs are needed
  Tensor forward(const Tensor& tgt, const Tensor& memory, const TransformerDecoderArgs& args = {});
  const TransformerLayerOptions& options() const { return options_; }
  int64_t d_model() const { return d_model_; }
  int64_t nhead() const { return nhead_; }

  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;

 private:
  int64_t d_model_, nhead_;
  TransformerLayerOptions options_;

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<TransformerDecoderLayer>(d_model_, nhead_, options_);
  }
};

/// @brief num_layers deep copies of encoder_layer applied in turn (`layers.0`, `layers.1`, ...),
/// then `norm` when given (torch.nn.TransformerEncoder). The given layer itself is not used (its
/// copies are), as PyTorch's deepcopy.
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const std::shared_ptr<TransformerEncoderLayer>& encoder_layer, int64_t num_layers,
                     ModulePtr norm = nullptr);
  Tensor forward(const Tensor& src) override;
  Tensor forward(const Tensor& src, const TransformerEncoderArgs& args);
  int64_t num_layers() const { return num_layers_; }

  std::shared_ptr<ModuleList> layers;  ///< of TransformerEncoderLayer
  ModulePtr norm;                      ///< null without a final norm

 protected:
  ModulePtr clone_empty() const override;

 private:
  int64_t num_layers_;
};

/// @brief num_layers deep copies of decoder_layer applied in turn, each attending to the same
/// memory, then `norm` when given (torch.nn.TransformerDecoder).
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const std::shared_ptr<TransformerDecoderLayer>& decoder_layer, int64_t num_layers,
                     ModulePtr norm = nullptr);
  using Module::forward;  ///< the single-input form throws: two inputs are needed
  Tensor forward(const Tensor& tgt, const Tensor& memory, const TransformerDecoderArgs& args = {});
  int64_t num_layers() const { return num_layers_; }

  std::shared_ptr<ModuleList> layers;  ///< of TransformerDecoderLayer
  ModulePtr norm;                      ///< null without a final norm

 protected:
  ModulePtr clone_empty() const override;

 private:
  int64_t num_layers_;
};

/// Options of Transformer (PyTorch's names and defaults).
struct TransformerOptions {
  int64_t d_model = 512;
  int64_t nhead = 8;
  int64_t num_encoder_layers = 6;
  int64_t num_decoder_layers = 6;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  TransformerActivation activation = "relu";
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;
  std::shared_ptr<Generator> generator = nullptr;  ///< every dropout's masks; null: the default generator
};

/// @brief The encoder-decoder Transformer (torch.nn.Transformer): encoder = TransformerEncoder of
/// num_encoder_layers layers with a final LayerNorm, decoder likewise; every parameter with more
/// than one axis is then drawn again xavier uniform (PyTorch's _reset_parameters).
class Transformer : public Module {
 public:
  explicit Transformer(TransformerOptions options = {});
  /// src [S, N, E], tgt [T, N, E] ([N, S, E], [N, T, E] with batch_first) -> [T, N, E].
  using Module::forward;  ///< the single-input form throws: two inputs are needed
  Tensor forward(const Tensor& src, const Tensor& tgt, const TransformerArgs& args = {});
  /// [sz, sz] with -inf above the diagonal (the free function of the same name).
  static Tensor generate_square_subsequent_mask(int64_t sz, Dtype dtype = Dtype::float32) {
    return nn::generate_square_subsequent_mask(sz, dtype);
  }
  const TransformerOptions& options() const { return options_; }

  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;

 private:
  TransformerOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Transformer>(options_); }
};

}  // namespace xg::nn
