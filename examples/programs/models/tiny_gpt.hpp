#pragma once
// A small decoder-only Transformer language model (GPT-style): token and learned position
// embeddings, blocks of pre-norm causal self-attention and a GELU MLP, a final LayerNorm, and an
// output layer whose weight is the token embedding's (weight tying: lm_head.weight and
// tok_emb.weight are one tensor, listed once by parameters() and under both names in the state
// dict, as PyTorch's `model.lm_head.weight = model.tok_emb.weight`).
// Used by examples/programs/tiny_gpt.cpp and, small, by the parity suite
// (tests/parity/models_driver.cpp; the PyTorch twin is in tests/parity/models.py).
#include <cstdint>
#include <memory>

#include "xgrad/xgrad.hpp"

namespace models {

struct GptConfig {
  int64_t vocab = 0;     ///< tokens (characters)
  int64_t context = 64;  ///< longest sequence (positions)
  int64_t embed = 64;
  int64_t heads = 4;
  int64_t layers = 2;
};

// fc (E -> 4E), GELU, proj (4E -> E).
struct Mlp : xg::nn::Module {
  std::shared_ptr<xg::nn::Linear> fc, proj;
  std::shared_ptr<xg::nn::GELU> act;
  explicit Mlp(int64_t e) : Module("Mlp") {
    fc = register_module("fc", std::make_shared<xg::nn::Linear>(e, 4 * e));
    act = register_module("act", std::make_shared<xg::nn::GELU>());
    proj = register_module("proj", std::make_shared<xg::nn::Linear>(4 * e, e));
  }
  xg::Tensor forward(const xg::Tensor& x) override { return proj->forward(act->forward(fc->forward(x))); }
};

// x + attn(ln1(x)) with a causal mask, then x + mlp(ln2(x)); x [N, T, E].
struct Block : xg::nn::Module {
  std::shared_ptr<xg::nn::LayerNorm> ln1, ln2;
  std::shared_ptr<xg::nn::MultiheadAttention> attn;
  std::shared_ptr<Mlp> mlp;
  Block(int64_t e, int64_t heads) : Module("Block") {
    ln1 = register_module("ln1", std::make_shared<xg::nn::LayerNorm>(e));
    attn = register_module("attn", std::make_shared<xg::nn::MultiheadAttention>(
                                       e, heads, xg::nn::MultiheadAttentionOptions{.batch_first = true}));
    ln2 = register_module("ln2", std::make_shared<xg::nn::LayerNorm>(e));
    mlp = register_module("mlp", std::make_shared<Mlp>(e));
  }
  xg::Tensor forward(const xg::Tensor& x) override {
    const xg::Tensor h = ln1->forward(x);
    xg::Tensor y = x + attn->forward(h, h, h, {.need_weights = false, .is_causal = true}).output;
    return y + mlp->forward(ln2->forward(y));
  }
};

// The output layer: logits = x W^T with W the token embedding (no bias).
struct TiedHead : xg::nn::Module {
  xg::Tensor weight;
  explicit TiedHead(const xg::Tensor& embedding) : Module("TiedHead") {
    weight = register_parameter("weight", embedding);
  }
  xg::Tensor forward(const xg::Tensor& x) override { return xg::nn::functional::linear(x, weight); }
};

struct TinyGpt : xg::nn::Module {
  GptConfig config;
  std::shared_ptr<xg::nn::Embedding> tok_emb, pos_emb;
  std::shared_ptr<xg::nn::ModuleList> blocks;
  std::shared_ptr<xg::nn::LayerNorm> ln_f;
  std::shared_ptr<TiedHead> lm_head;
  explicit TinyGpt(GptConfig c) : Module("TinyGpt"), config(c) {
    tok_emb = register_module("tok_emb", std::make_shared<xg::nn::Embedding>(c.vocab, c.embed));
    pos_emb = register_module("pos_emb", std::make_shared<xg::nn::Embedding>(c.context, c.embed));
    blocks = register_module("blocks", std::make_shared<xg::nn::ModuleList>());
    for (int64_t i = 0; i < c.layers; ++i) blocks->push_back(std::make_shared<Block>(c.embed, c.heads));
    ln_f = register_module("ln_f", std::make_shared<xg::nn::LayerNorm>(c.embed));
    lm_head = register_module("lm_head", std::make_shared<TiedHead>(tok_emb->weight));
    // Small embeddings (GPT-2's N(0, 0.02)): with N(0, 1), the tied output layer starts with
    // logits of standard deviation sqrt(embed).
    xg::nn::init::normal_(tok_emb->weight, 0.0, 0.02);
    xg::nn::init::normal_(pos_emb->weight, 0.0, 0.02);
  }
  // tokens: int64 [N, T] with T <= context -> logits [N, T, vocab].
  xg::Tensor forward(const xg::Tensor& tokens) override {
    const int64_t t = tokens.size(1);
    xg::Tensor pos = xg::arange(0, static_cast<double>(t), 1, {.dtype = xg::Dtype::int64});
    xg::Tensor h = tok_emb->forward(tokens) + pos_emb->forward(pos);  // [N, T, E] + [T, E]
    for (const auto& b : *blocks) h = b->forward(h);
    return lm_head->forward(ln_f->forward(h));
  }
};

}  // namespace models
