#pragma once
/// @file embedding.hpp
/// @brief A lookup table, as torch.nn.Embedding: int64 indices of any shape -> their rows of
/// weight [num_embeddings, embedding_dim], shape [..., embedding_dim].
///
/// @code
/// xg::nn::Embedding emb({.num_embeddings = 1000, .embedding_dim = 64, .padding_idx = 0});
/// xg::Tensor tokens = xg::from_vector(std::vector<int64_t>{5, 0, 17}, {3});
/// xg::Tensor v = emb.forward(tokens);   // [3, 64]; row 0 is zeros and gets no gradient
/// @endcode
#include <cstdint>
#include <optional>
#include <string>

#include "xgrad/nn/module.hpp"

namespace xg::nn {

struct EmbeddingOptions {
  int64_t num_embeddings = 0;
  int64_t embedding_dim = 0;
  /// This row is initialised to zeros and receives no gradient (negative counts from the end).
  std::optional<int64_t> padding_idx = {};
};

/// @brief Parameter: weight [num_embeddings, embedding_dim] ~ N(0, 1) (PyTorch's default), the
/// padding_idx row zero.
class Embedding : public Module {
 public:
  explicit Embedding(EmbeddingOptions options);
  Embedding(int64_t num_embeddings, int64_t embedding_dim)
      : Embedding(EmbeddingOptions{.num_embeddings = num_embeddings, .embedding_dim = embedding_dim}) {}
  /// An Embedding holding a copy of `embeddings` [num, dim]; freeze: the weight does not require grad.
  static std::shared_ptr<Embedding> from_pretrained(const Tensor& embeddings, bool freeze = true,
                                                    std::optional<int64_t> padding_idx = std::nullopt);
  Tensor forward(const Tensor& indices) override;
  /// "10, 3, padding_idx=0"
  std::string extra_repr() const override;
  void reset_parameters();
  const EmbeddingOptions& options() const { return options_; }

  Tensor weight;

 private:
  EmbeddingOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<Embedding>(options_); }
};

}  // namespace xg::nn
