#include "xgrad/nn/transformer.hpp"

#include <limits>
#include <vector>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/nn/init.hpp"

namespace xg::nn {

namespace {

std::function<Tensor(const Tensor&)> named_activation(const std::string& name) {
  if (name == "relu") return [](const Tensor& x) { return relu(x); };
  if (name == "gelu") return [](const Tensor& x) { return gelu(x); };
  throw ValueError("Transformer: activation should be relu/gelu (or a function), not \"" + name + "\"");
}

std::string shape_of(const Tensor& t) {
  return t.defined() ? t.shape().str() : std::string("undefined");
}

// src/tgt/memory: rank 3 ([S, N, E] or [N, S, E]) or 2 (unbatched), d_model features.
void check_sequence(const std::string& who, const char* what, const Tensor& x, int64_t d_model,
                    bool batch_first) {
  if (!x.defined() || (x.dim() != 2 && x.dim() != 3) || x.size(-1) != d_model || !x.is_floating_point())
    throw ShapeError(who + ": expected " + what + " " + (batch_first ? "[N, S, " : "[S, N, ") +
                     std::to_string(d_model) + "] (or [S, " + std::to_string(d_model) +
                     "] unbatched) of floats, got " + shape_of(x) +
                     (x.defined() && !x.is_floating_point() ? " int64" : ""));
}

// tgt and memory (or src and tgt) agree on rank and batch size.
void check_pair(const std::string& who, const char* a, const Tensor& x, const char* b, const Tensor& y,
                bool batch_first) {
  if (x.dim() != y.dim())
    throw ShapeError(who + ": " + a + " " + x.shape().str() + " and " + b + " " + y.shape().str() +
                     " must both be batched or both unbatched");
  const int batch_axis = batch_first ? 0 : 1;
  if (x.dim() == 3 && x.size(batch_axis) != y.size(batch_axis))
    throw ShapeError(who + ": the batch number of " + a + " " + x.shape().str() + " and " + b + " " +
                     y.shape().str() + " must be equal (axis " + std::to_string(batch_axis) + ")");
}

MultiheadAttentionOptions attention_options(const TransformerLayerOptions& o) {
  MultiheadAttentionOptions m;
  m.batch_first = o.batch_first;
  m.dropout = o.dropout;
  m.generator = o.generator;
  return m;
}

void check_layer_options(const std::string& who, int64_t d_model, int64_t nhead,
                         const TransformerLayerOptions& o) {
  if (d_model <= 0 || nhead <= 0 || o.dim_feedforward <= 0)
    throw ValueError(who + ": d_model, nhead and dim_feedforward must be positive, got " +
                     std::to_string(d_model) + ", " + std::to_string(nhead) + " and " +
                     std::to_string(o.dim_feedforward));
  if (d_model % nhead != 0)
    throw ValueError(who + ": d_model " + std::to_string(d_model) + " is not divisible by nhead " +
                     std::to_string(nhead));
  if (!(o.dropout >= 0 && o.dropout <= 1))
    throw ValueError(who + ": dropout must lie in [0, 1], got " + std::to_string(o.dropout));
  if (!o.activation.fn) throw ValueError(who + ": the activation function is empty");
}

// One attention block's output (weights not needed, as PyTorch's _sa_block / _mha_block).
Tensor attend(MultiheadAttention& mha, const Tensor& q, const Tensor& kv, const Tensor& attn_mask,
              const Tensor& key_padding_mask, MaskKind kind, std::optional<MaskKind> pad_kind) {
  MultiheadAttentionArgs a;
  a.attn_mask = attn_mask;
  a.key_padding_mask = key_padding_mask;
  a.need_weights = false;
  a.mask_kind = kind;
  a.key_padding_mask_kind = pad_kind;
  return mha.forward(q, kv, kv, a).output;
}

}  // namespace

TransformerActivation::TransformerActivation(const char* n) : TransformerActivation(std::string(n)) {}
TransformerActivation::TransformerActivation(std::string n)
    : name(std::move(n)), fn(named_activation(name)) {}

Tensor generate_square_subsequent_mask(int64_t sz, Dtype dtype) {
  if (sz < 0) throw ValueError("generate_square_subsequent_mask: sz must be >= 0, got " + std::to_string(sz));
  if (dtype == Dtype::int64)
    throw TypeError(
        "generate_square_subsequent_mask: the mask holds -inf, so it needs a float dtype, not int64");
  return triu(full({sz, sz}, -std::numeric_limits<double>::infinity(), {.dtype = dtype}), 1);
}

// ---- TransformerEncoderLayer ----

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions o)
    : Module("TransformerEncoderLayer"), d_model_(d_model), nhead_(nhead), options_(std::move(o)) {
  check_layer_options("TransformerEncoderLayer", d_model, nhead, options_);
  const DropoutOptions drop{.p = options_.dropout, .generator = options_.generator};
  const LayerNormOptions ln{.eps = options_.layer_norm_eps};
  self_attn = register_module(
      "self_attn", std::make_shared<MultiheadAttention>(d_model, nhead, attention_options(options_)));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, options_.dim_feedforward));
  dropout = register_module("dropout", std::make_shared<Dropout>(drop));
  linear2 = register_module("linear2", std::make_shared<Linear>(options_.dim_feedforward, d_model));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d_model, ln));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d_model, ln));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(drop));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(drop));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src) {
  return forward(src, TransformerEncoderArgs{});
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const TransformerEncoderArgs& a) {
  const ModuleScope scope(*this);
  check_sequence("TransformerEncoderLayer", "src", src, d_model_, options_.batch_first);
  auto sa = [&](const Tensor& x) {
    return dropout1->forward(
        attend(*self_attn, x, x, a.src_mask, a.src_key_padding_mask, a.mask_kind, a.key_padding_mask_kind));
  };
  auto ff = [&](const Tensor& x) {
    return dropout2->forward(linear2->forward(dropout->forward(options_.activation.fn(linear1->forward(x)))));
  };
  Tensor x = src;
  if (options_.norm_first) {
    x = x + sa(norm1->forward(x));
    x = x + ff(norm2->forward(x));
  } else {
    x = norm1->forward(x + sa(x));
    x = norm2->forward(x + ff(x));
  }
  return x;
}

// ---- TransformerDecoderLayer ----

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions o)
    : Module("TransformerDecoderLayer"), d_model_(d_model), nhead_(nhead), options_(std::move(o)) {
  check_layer_options("TransformerDecoderLayer", d_model, nhead, options_);
  const DropoutOptions drop{.p = options_.dropout, .generator = options_.generator};
  const LayerNormOptions ln{.eps = options_.layer_norm_eps};
  self_attn = register_module(
      "self_attn", std::make_shared<MultiheadAttention>(d_model, nhead, attention_options(options_)));
  multihead_attn = register_module(
      "multihead_attn", std::make_shared<MultiheadAttention>(d_model, nhead, attention_options(options_)));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, options_.dim_feedforward));
  dropout = register_module("dropout", std::make_shared<Dropout>(drop));
  linear2 = register_module("linear2", std::make_shared<Linear>(options_.dim_feedforward, d_model));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d_model, ln));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d_model, ln));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(d_model, ln));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(drop));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(drop));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(drop));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory,
                                        const TransformerDecoderArgs& a) {
  const ModuleScope scope(*this);
  const std::string who = "TransformerDecoderLayer";
  check_sequence(who, "tgt", tgt, d_model_, options_.batch_first);
  check_sequence(who, "memory", memory, d_model_, options_.batch_first);
  check_pair(who, "tgt", tgt, "memory", memory, options_.batch_first);
  auto sa = [&](const Tensor& x) {
    return dropout1->forward(
        attend(*self_attn, x, x, a.tgt_mask, a.tgt_key_padding_mask, a.mask_kind, a.key_padding_mask_kind));
  };
  auto mha = [&](const Tensor& x) {
    return dropout2->forward(attend(*multihead_attn, x, memory, a.memory_mask, a.memory_key_padding_mask,
                                    a.mask_kind, a.key_padding_mask_kind));
  };
  auto ff = [&](const Tensor& x) {
    return dropout3->forward(linear2->forward(dropout->forward(options_.activation.fn(linear1->forward(x)))));
  };
  Tensor x = tgt;
  if (options_.norm_first) {
    x = x + sa(norm1->forward(x));
    x = x + mha(norm2->forward(x));
    x = x + ff(norm3->forward(x));
  } else {
    x = norm1->forward(x + sa(x));
    x = norm2->forward(x + mha(x));
    x = norm3->forward(x + ff(x));
  }
  return x;
}

// ---- the stacks ----

namespace {
std::shared_ptr<ModuleList> clones(const Module& layer, int64_t n, const char* who) {
  if (n < 1) throw ValueError(std::string(who) + ": num_layers must be >= 1, got " + std::to_string(n));
  auto list = std::make_shared<ModuleList>();
  for (int64_t i = 0; i < n; ++i) list->push_back(layer.clone());
  return list;
}
// `layers` is public: a module put there by hand must still be a layer of the right kind.
template <class L>
L& layer_as(const ModulePtr& m, const char* who) {
  auto* l = dynamic_cast<L*>(m.get());
  if (!l)
    throw TypeError(
        std::string(who) + ": layers holds a " + (m ? m->type_name() : std::string("null module")) +
        ", not a " +
        (std::is_same_v<L, TransformerEncoderLayer> ? "TransformerEncoderLayer" : "TransformerDecoderLayer"));
  return *l;
}
}  // namespace

TransformerEncoder::TransformerEncoder(const std::shared_ptr<TransformerEncoderLayer>& encoder_layer,
                                       int64_t num_layers, ModulePtr final_norm)
    : Module("TransformerEncoder"), num_layers_(num_layers) {
  if (!encoder_layer) throw ValueError("TransformerEncoder: encoder_layer is null");
  layers = register_module("layers", clones(*encoder_layer, num_layers, "TransformerEncoder"));
  if (final_norm) norm = register_module("norm", std::move(final_norm));
}

Tensor TransformerEncoder::forward(const Tensor& src) {
  return forward(src, TransformerEncoderArgs{});
}

Tensor TransformerEncoder::forward(const Tensor& src, const TransformerEncoderArgs& args) {
  const ModuleScope scope(*this);
  Tensor x = src;
  for (const ModulePtr& layer : *layers)
    x = layer_as<TransformerEncoderLayer>(layer, "TransformerEncoder").forward(x, args);
  return norm ? (*norm)(x) : x;
}

ModulePtr TransformerEncoder::clone_empty() const {
  return std::make_shared<TransformerEncoder>(layers->at<TransformerEncoderLayer>(0), num_layers_,
                                              norm ? norm->clone() : nullptr);
}

TransformerDecoder::TransformerDecoder(const std::shared_ptr<TransformerDecoderLayer>& decoder_layer,
                                       int64_t num_layers, ModulePtr final_norm)
    : Module("TransformerDecoder"), num_layers_(num_layers) {
  if (!decoder_layer) throw ValueError("TransformerDecoder: decoder_layer is null");
  layers = register_module("layers", clones(*decoder_layer, num_layers, "TransformerDecoder"));
  if (final_norm) norm = register_module("norm", std::move(final_norm));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory,
                                   const TransformerDecoderArgs& args) {
  const ModuleScope scope(*this);
  Tensor x = tgt;
  for (const ModulePtr& layer : *layers)
    x = layer_as<TransformerDecoderLayer>(layer, "TransformerDecoder").forward(x, memory, args);
  return norm ? (*norm)(x) : x;
}

ModulePtr TransformerDecoder::clone_empty() const {
  return std::make_shared<TransformerDecoder>(layers->at<TransformerDecoderLayer>(0), num_layers_,
                                              norm ? norm->clone() : nullptr);
}

// ---- Transformer ----

Transformer::Transformer(TransformerOptions o) : Module("Transformer"), options_(std::move(o)) {
  const TransformerLayerOptions lo{.dim_feedforward = options_.dim_feedforward,
                                   .dropout = options_.dropout,
                                   .activation = options_.activation,
                                   .layer_norm_eps = options_.layer_norm_eps,
                                   .batch_first = options_.batch_first,
                                   .norm_first = options_.norm_first,
                                   .generator = options_.generator};
  const LayerNormOptions ln{.eps = options_.layer_norm_eps};
  encoder = register_module(
      "encoder", std::make_shared<TransformerEncoder>(
                     std::make_shared<TransformerEncoderLayer>(options_.d_model, options_.nhead, lo),
                     options_.num_encoder_layers, std::make_shared<LayerNorm>(options_.d_model, ln)));
  decoder = register_module(
      "decoder", std::make_shared<TransformerDecoder>(
                     std::make_shared<TransformerDecoderLayer>(options_.d_model, options_.nhead, lo),
                     options_.num_decoder_layers, std::make_shared<LayerNorm>(options_.d_model, ln)));
  // PyTorch's _reset_parameters: every matrix drawn again, xavier uniform, in parameter order.
  NoGradGuard guard;
  for (Tensor& p : parameters())
    if (p.dim() > 1) init::xavier_uniform_(p);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const TransformerArgs& a) {
  const ModuleScope scope(*this);
  const std::string who = "Transformer";
  check_sequence(who, "src", src, options_.d_model, options_.batch_first);
  check_sequence(who, "tgt", tgt, options_.d_model, options_.batch_first);
  check_pair(who, "src", src, "tgt", tgt, options_.batch_first);
  const Tensor memory = encoder->forward(src, {.src_mask = a.src_mask,
                                               .src_key_padding_mask = a.src_key_padding_mask,
                                               .mask_kind = a.mask_kind,
                                               .key_padding_mask_kind = a.key_padding_mask_kind});
  return decoder->forward(tgt, memory,
                          {.tgt_mask = a.tgt_mask,
                           .memory_mask = a.memory_mask,
                           .tgt_key_padding_mask = a.tgt_key_padding_mask,
                           .memory_key_padding_mask = a.memory_key_padding_mask,
                           .mask_kind = a.mask_kind,
                           .key_padding_mask_kind = a.key_padding_mask_kind});
}

}  // namespace xg::nn
