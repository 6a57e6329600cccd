#pragma once
/// @file embedding.hpp
/// @brief A lookup table, as torch.nn.Embedding: int64 indices of any shape -> their rows of
/// weight [num_embeddings, embedding_dim], shape [..., embedding_dim]. And EmbeddingBag (with
/// functional::embedding_bag), as torch.nn.EmbeddingBag: the rows of each bag of indices reduced
/// by sum, mean or max to one row, without materialising the looked-up rows per bag.
///
/// @code
/// xg::nn::Embedding emb({.num_embeddings = 1000, .embedding_dim = 64, .padding_idx = 0});
/// xg::Tensor tokens = xg::from_vector(std::vector<int64_t>{5, 0, 17}, {3});
/// xg::Tensor v = emb.forward(tokens);   // [3, 64]; row 0 is zeros and gets no gradient
/// @endcode
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

/// How EmbeddingBag reduces a bag's rows.
enum class EmbeddingBagMode { sum, mean, max };

/// What embedding_bag takes besides the indices and the weight (PyTorch's names and defaults).
struct EmbeddingBagArgs {
  /// 1-D int64 start of each bag in a 1-D input (the first 0, non-decreasing, at most the input's
  /// length); undefined for a 2-D input [B, N], whose rows are the bags.
  Tensor offsets = {};
  EmbeddingBagMode mode = EmbeddingBagMode::mean;
  /// A weight per index, the input's shape, multiplying its row (mode sum only).
  Tensor per_sample_weights = {};
  /// offsets has B + 1 entries, the last the end of the last bag (CSR layout).
  bool include_last_offset = false;
  /// Indices equal to it are left out of their bag (not counted by mean; negative from the end).
  std::optional<int64_t> padding_idx = {};
  /// Rows looked up whose norm_type-norm exceeds it are rescaled in place to max_norm first.
  std::optional<double> max_norm = {};
  double norm_type = 2.0;
};

namespace functional {
/// EmbeddingBag's functional form: input [B, N] or [N] with args.offsets -> [B, embedding_dim].
/// An empty bag (or one holding only padding_idx) gives zeros. Gradients reach weight (and
/// per_sample_weights); mode max gives each output element's gradient to the row it came from
/// (rows tied for the maximum share it, where PyTorch picks one).
Tensor embedding_bag(const Tensor& input, const Tensor& weight, const EmbeddingBagArgs& args = {});
}  // namespace functional

struct EmbeddingBagOptions {
  int64_t num_embeddings = 0;
  int64_t embedding_dim = 0;
  std::optional<double> max_norm = {};
  double norm_type = 2.0;
  EmbeddingBagMode mode = EmbeddingBagMode::mean;
  bool include_last_offset = false;
  std::optional<int64_t> padding_idx = {};  ///< its row starts at zero and is left out of the bags
};

/// @brief Parameter: weight [num_embeddings, embedding_dim] ~ N(0, 1), the padding_idx row zero.
/// forward(input [B, N]) or forward(input [N], offsets [B], per_sample_weights) -> [B, dim].
///
/// @code
/// xg::nn::EmbeddingBag bag({.num_embeddings = 10, .embedding_dim = 3, .mode =
/// xg::nn::EmbeddingBagMode::sum}); xg::Tensor ids = xg::from_vector(std::vector<int64_t>{1, 2, 4, 5, 4, 3,
/// 2, 9}, {8}); xg::Tensor offsets = xg::from_vector(std::vector<int64_t>{0, 4}, {2}); xg::Tensor v =
/// bag.forward(ids, offsets);   // [2, 3]: rows 1+2+4+5 and 4+3+2+9
/// @endcode
class EmbeddingBag : public Module {
 public:
  explicit EmbeddingBag(EmbeddingBagOptions options);
  Tensor forward(const Tensor& input) override;  ///< a 2-D input [B, N]
  Tensor forward(const Tensor& input, const Tensor& offsets, const Tensor& per_sample_weights = Tensor());
  /// "10, 3, mode=sum"
  std::string extra_repr() const override;
  void reset_parameters();
  const EmbeddingBagOptions& options() const { return options_; }

  Tensor weight;

 private:
  EmbeddingBagOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<EmbeddingBag>(options_); }
};

}  // namespace xg::nn
