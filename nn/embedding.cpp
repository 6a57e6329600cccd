#include "xgrad/nn/embedding.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <type_traits>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/init.hpp"

namespace xg::nn {

namespace {
// The checks of Embedding's and EmbeddingBag's options; returns padding_idx made non-negative.
std::optional<int64_t> checked_table(const std::string& module, int64_t num_embeddings, int64_t embedding_dim,
                                     std::optional<int64_t> padding_idx) {
  if (num_embeddings <= 0)
    throw ValueError(module + ": num_embeddings must be positive, got " + std::to_string(num_embeddings));
  if (embedding_dim <= 0)
    throw ValueError(module + ": embedding_dim must be positive, got " + std::to_string(embedding_dim));
  if (!padding_idx) return padding_idx;
  if (*padding_idx < -num_embeddings || *padding_idx >= num_embeddings)
    throw IndexError(module + ": padding_idx " + std::to_string(*padding_idx) +
                     " must be within num_embeddings = " + std::to_string(num_embeddings));
  return *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
}

// N(0, 1) with the padding row at zero (written in place: slice copies).
void init_table(Tensor& weight, std::optional<int64_t> padding_idx) {
  init::normal_(weight);
  if (!padding_idx) return;
  const int64_t d = weight.size(1), at = *padding_idx * d;
  if (weight.dtype() == Dtype::float32)
    std::fill_n(weight.data<float>() + at, d, 0.0f);
  else
    std::fill_n(weight.data<double>() + at, d, 0.0);
  ++weight.impl()->storage->version;
}
}  // namespace

Embedding::Embedding(EmbeddingOptions o) : Module("Embedding"), options_(o) {
  options_.padding_idx = checked_table("Embedding", o.num_embeddings, o.embedding_dim, o.padding_idx);
  weight = register_parameter("weight", empty({o.num_embeddings, o.embedding_dim}));
  reset_parameters();
}

void Embedding::reset_parameters() {
  init_table(weight, options_.padding_idx);
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

namespace xg::nn {

namespace {

const char* mode_str(EmbeddingBagMode m) {
  return m == EmbeddingBagMode::sum ? "sum" : m == EmbeddingBagMode::mean ? "mean" : "max";
}

// PyTorch's embedding_renorm_: each distinct row looked up whose p-norm exceeds max_norm is
// scaled in place to max_norm / (norm + 1e-7) of itself, outside the tape.
void renorm_rows(Tensor weight, const std::vector<int64_t>& ids, double max_norm, double p) {
  std::vector<int64_t> rows(ids);
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  const int64_t d = weight.size(1);
  auto apply = [&](auto* w) {
    for (int64_t r : rows) {
      auto* row = w + r * d;
      double norm = 0;
      for (int64_t j = 0; j < d; ++j) {
        const double a = std::abs(static_cast<double>(row[j]));
        norm = std::isinf(p) ? std::max(norm, a) : norm + std::pow(a, p);
      }
      if (!std::isinf(p)) norm = std::pow(norm, 1.0 / p);
      if (norm > max_norm) {
        const double scale = max_norm / (norm + 1e-7);
        for (int64_t j = 0; j < d; ++j)
          row[j] = static_cast<std::remove_reference_t<decltype(row[j])>>(row[j] * scale);
      }
    }
  };
  if (weight.dtype() == Dtype::float32)
    apply(weight.data<float>());
  else
    apply(weight.data<double>());
  ++weight.impl()->storage->version;
}

}  // namespace

namespace functional {

Tensor embedding_bag(const Tensor& input, const Tensor& weight, const EmbeddingBagArgs& args) {
  const std::string fn = "embedding_bag";
  if (!input.defined() || !weight.defined()) throw ValueError(fn + ": the input or the weight is undefined");
  if (input.dtype() != Dtype::int64)
    throw TypeError(fn + ": the input must hold int64 indices, got " + dtype_name(input.dtype()) +
                    " of shape " + input.shape().str());
  if (weight.dim() != 2 || !weight.is_floating_point())
    throw ShapeError(fn + ": the weight must be a float [num_embeddings, embedding_dim], got " +
                     weight.shape().str() + " " + dtype_name(weight.dtype()));
  const int64_t num = weight.size(0), dim = weight.size(1);
  const int64_t n = input.numel();
  const Tensor flat = reshape(input, {n});
  const std::vector<int64_t> ids = flat.to_vector<int64_t>();

  // bag_start[b], bag_start[b + 1]: the positions of bag b in the flattened input
  std::vector<int64_t> bag_start;
  if (input.dim() == 2) {
    if (args.offsets.defined())
      throw ValueError(fn + ": a 2-D input " + input.shape().str() +
                       " is its own bags; offsets must be undefined");
    for (int64_t b = 0; b <= input.size(0); ++b) bag_start.push_back(b * input.size(1));
  } else if (input.dim() == 1) {
    if (!args.offsets.defined())
      throw ValueError(fn + ": a 1-D input " + input.shape().str() +
                       " needs offsets (the start of each bag)");
    if (args.offsets.dtype() != Dtype::int64 || args.offsets.dim() != 1)
      throw TypeError(fn + ": offsets must be a 1-D int64 tensor, got " + dtype_name(args.offsets.dtype()) +
                      " of shape " + args.offsets.shape().str());
    bag_start = args.offsets.to_vector<int64_t>();
    if (bag_start.empty() || (args.include_last_offset && bag_start.size() < 2))
      throw ValueError(fn + ": offsets " + args.offsets.shape().str() + " names no bag" +
                       (args.include_last_offset ? " (include_last_offset: B + 1 entries)" : ""));
    if (bag_start[0] != 0)
      throw ValueError(fn + ": offsets[0] must be 0 (the first bag starts the input), got " +
                       std::to_string(bag_start[0]));
    for (std::size_t b = 0; b < bag_start.size(); ++b) {
      if (b > 0 && bag_start[b] < bag_start[b - 1])
        throw ValueError(fn + ": offsets must not decrease, got offsets[" + std::to_string(b - 1) +
                         "] = " + std::to_string(bag_start[b - 1]) + " > offsets[" + std::to_string(b) +
                         "] = " + std::to_string(bag_start[b]));
      if (bag_start[b] > n)
        throw ValueError(fn + ": offsets[" + std::to_string(b) + "] = " + std::to_string(bag_start[b]) +
                         " exceeds the input's length " + std::to_string(n));
    }
    if (!args.include_last_offset) bag_start.push_back(n);
  } else {
    throw ShapeError(fn + ": expected an input [B, N], or [N] with offsets, got " + input.shape().str());
  }
  const auto bags = static_cast<int64_t>(bag_start.size()) - 1;

  std::optional<int64_t> pad = args.padding_idx;
  if (pad) {
    if (*pad < -num || *pad >= num)
      throw IndexError(fn + ": padding_idx " + std::to_string(*pad) + " is out of range for " +
                       std::to_string(num) + " embeddings (weight " + weight.shape().str() + ")");
    if (*pad < 0) pad = *pad + num;
  }
  for (int64_t i = 0; i < n; ++i)
    if (ids[static_cast<std::size_t>(i)] < 0 || ids[static_cast<std::size_t>(i)] >= num)
      throw IndexError(fn + ": index " + std::to_string(ids[static_cast<std::size_t>(i)]) + " (position " +
                       std::to_string(i) + ") is out of range for " + std::to_string(num) +
                       " embeddings (weight " + weight.shape().str() + ")");
  const Tensor& psw = args.per_sample_weights;
  if (psw.defined()) {
    if (args.mode != EmbeddingBagMode::sum)
      throw ValueError(fn + ": per_sample_weights is for mode sum only, got mode " + mode_str(args.mode));
    if (!(psw.shape() == input.shape()) || psw.dtype() != weight.dtype())
      throw ShapeError(fn + ": per_sample_weights must be " + input.shape().str() + " " +
                       dtype_name(weight.dtype()) + " (the input's shape, the weight's dtype), got " +
                       psw.shape().str() + " " + dtype_name(psw.dtype()));
  }
  if (args.max_norm) {
    NoGradGuard guard;
    renorm_rows(weight, ids, *args.max_norm, args.norm_type);
  }

  // The positions that count (padding_idx left out) and their bags.
  std::vector<int64_t> pos, row_id, bag_of, count(static_cast<std::size_t>(bags), 0);
  for (int64_t b = 0; b < bags; ++b)
    for (int64_t i = bag_start[static_cast<std::size_t>(b)]; i < bag_start[static_cast<std::size_t>(b) + 1];
         ++i) {
      const int64_t id = ids[static_cast<std::size_t>(i)];
      if (pad && id == *pad) continue;
      pos.push_back(i);
      row_id.push_back(id);
      bag_of.push_back(b);
      ++count[static_cast<std::size_t>(b)];
    }
  const auto k = static_cast<int64_t>(pos.size());
  const TensorOptions wo{.dtype = weight.dtype()};
  const Tensor out0 = zeros({bags, dim}, wo);
  Tensor rows = index_select(weight, 0, from_vector(row_id, {k}));  // [K, dim]
  if (psw.defined()) rows = rows * reshape(index_select(reshape(psw, {n}), 0, from_vector(pos, {k})), {k, 1});
  if (args.mode == EmbeddingBagMode::max) {
    std::vector<int64_t> where(static_cast<std::size_t>(k * dim));
    for (int64_t i = 0; i < k; ++i)
      std::fill_n(where.begin() + i * dim, dim, bag_of[static_cast<std::size_t>(i)]);
    return scatter_reduce(out0, 0, from_vector(where, {k, dim}), rows, "amax", false);
  }
  Tensor out = index_add(out0, 0, from_vector(bag_of, {k}), rows);
  if (args.mode == EmbeddingBagMode::mean) {
    std::vector<double> inv(count.size());
    for (std::size_t b = 0; b < count.size(); ++b)
      inv[b] = count[b] ? 1.0 / static_cast<double>(count[b]) : 0.0;
    out = out * tensor(inv, Shape{bags, 1}, wo);
  }
  return out;
}

}  // namespace functional

EmbeddingBag::EmbeddingBag(EmbeddingBagOptions o) : Module("EmbeddingBag"), options_(o) {
  options_.padding_idx = checked_table("EmbeddingBag", o.num_embeddings, o.embedding_dim, o.padding_idx);
  weight = register_parameter("weight", empty({o.num_embeddings, o.embedding_dim}));
  reset_parameters();
}

void EmbeddingBag::reset_parameters() {
  init_table(weight, options_.padding_idx);
}

Tensor EmbeddingBag::forward(const Tensor& input) {
  return forward(input, Tensor());
}

Tensor EmbeddingBag::forward(const Tensor& input, const Tensor& offsets, const Tensor& per_sample_weights) {
  const ModuleScope scope(*this);
  try {
    return functional::embedding_bag(input, weight,
                                     {.offsets = offsets,
                                      .mode = options_.mode,
                                      .per_sample_weights = per_sample_weights,
                                      .include_last_offset = options_.include_last_offset,
                                      .padding_idx = options_.padding_idx,
                                      .max_norm = options_.max_norm,
                                      .norm_type = options_.norm_type});
  } catch (const IndexError& e) {
    throw IndexError("EmbeddingBag: " + std::string(e.what()));
  } catch (const ShapeError& e) {
    throw ShapeError("EmbeddingBag: " + std::string(e.what()));
  } catch (const TypeError& e) {
    throw TypeError("EmbeddingBag: " + std::string(e.what()));
  } catch (const ValueError& e) {
    throw ValueError("EmbeddingBag: " + std::string(e.what()));
  }
}

std::string EmbeddingBag::extra_repr() const {
  const EmbeddingBagOptions& o = options_;
  std::string s = std::to_string(o.num_embeddings) + ", " + std::to_string(o.embedding_dim);
  if (o.max_norm) s += ", max_norm=" + std::to_string(*o.max_norm);
  if (o.norm_type != 2.0) s += ", norm_type=" + std::to_string(o.norm_type);
  s += std::string(", mode=") + mode_str(o.mode);
  if (o.include_last_offset) s += ", include_last_offset=true";
  if (o.padding_idx) s += ", padding_idx=" + std::to_string(*o.padding_idx);
  return s;
}

}  // namespace xg::nn
