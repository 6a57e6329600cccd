#include "xgrad/nn/embedding.hpp"

#include <algorithm>

#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/init.hpp"

namespace xg::nn {

Embedding::Embedding(EmbeddingOptions o) : Module("Embedding"), options_(o) {
  if (o.num_embeddings <= 0)
    throw ValueError("Embedding: num_embeddings must be positive, got " + std::to_string(o.num_embeddings));
  if (o.embedding_dim <= 0)
    throw ValueError("Embedding: embedding_dim must be positive, got " + std::to_string(o.embedding_dim));
  if (o.padding_idx) {
    if (*o.padding_idx < -o.num_embeddings || *o.padding_idx >= o.num_embeddings)
      throw IndexError("Embedding: padding_idx " + std::to_string(*o.padding_idx) +
                       " must be within num_embeddings = " + std::to_string(o.num_embeddings));
    if (*o.padding_idx < 0) options_.padding_idx = *o.padding_idx + o.num_embeddings;
  }
  weight = register_parameter("weight", empty({o.num_embeddings, o.embedding_dim}));
  reset_parameters();
}

void Embedding::reset_parameters() {
  init::normal_(weight);
  if (options_.padding_idx) {  // the padding row starts at zero (written in place: slice copies)
    const int64_t d = options_.embedding_dim, at = *options_.padding_idx * d;
    if (weight.dtype() == Dtype::float32)
      std::fill_n(weight.data<float>() + at, d, 0.0f);
    else
      std::fill_n(weight.data<double>() + at, d, 0.0);
    ++weight.impl()->storage->version;
  }
}

std::shared_ptr<Embedding> Embedding::from_pretrained(const Tensor& embeddings, bool freeze,
                                                      std::optional<int64_t> padding_idx) {
  if (!embeddings.defined() || embeddings.dim() != 2)
    throw ShapeError(
        "Embedding.from_pretrained: embeddings must be a 2-D [num_embeddings, embedding_dim] tensor, got " +
        (embeddings.defined() ? embeddings.shape().str() : std::string("an undefined tensor")));
  auto e = std::make_shared<Embedding>(EmbeddingOptions{
      .num_embeddings = embeddings.size(0), .embedding_dim = embeddings.size(1), .padding_idx = padding_idx});
  NoGradGuard guard;
  e->to(embeddings.dtype());
  e->weight.copy_(embeddings);
  if (freeze) e->weight.requires_grad_(false);
  return e;
}

Tensor Embedding::forward(const Tensor& indices) {
  const ModuleScope scope(*this);
  return functional::embedding(indices, weight, options_.padding_idx);
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(options_.num_embeddings) + ", " + std::to_string(options_.embedding_dim);
  if (options_.padding_idx) s += ", padding_idx=" + std::to_string(*options_.padding_idx);
  return s;
}

}  // namespace xg::nn
