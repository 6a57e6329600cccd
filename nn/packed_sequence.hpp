#pragma once
/// @file packed_sequence.hpp
/// @brief Variable-length sequences for RNN, LSTM and GRU, as torch.nn.utils.rnn: a batch of
/// sequences of different lengths packed step by step, so that a recurrent layer runs each step
/// on the sequences still going only (padded positions neither change the result nor receive
/// gradient).
///
/// The layout is PyTorch's: the sequences sorted by decreasing length (sorted_indices), then step
/// t holds the first batch_sizes[t] of them; data is those rows, step after step.
///
/// @code
/// xg::Tensor x = xg::randn({5, 3, 8});                     // [T, B, features], padded
/// xg::nn::PackedSequence p = xg::nn::pack_padded_sequence(x, {2, 5, 3}, false, false);
/// // p.data [10, 8], p.batch_sizes {3, 3, 2, 1, 1}, p.sorted_indices {1, 2, 0}
/// xg::nn::PaddedSequence back = xg::nn::pad_packed_sequence(p);   // back.output [5, 3, 8]
/// @endcode
#include <cstdint>
#include <optional>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::nn {

/// A packed batch of sequences (PyTorch's PackedSequence).
struct PackedSequence {
  Tensor data;         ///< [sum of lengths, *]: the rows of every step, steps in order
  Tensor batch_sizes;  ///< int64 [T]: how many sequences step t holds (non-increasing)
  /// int64 [B]: sorted position -> original batch index; undefined when the input was sorted
  Tensor sorted_indices;
  Tensor unsorted_indices;  ///< int64 [B]: the inverse permutation; undefined when sorted
  /// batch_sizes as a vector (read from the tensor).
  std::vector<int64_t> batch_size_vector() const;
};

/// What pad_packed_sequence returns: the padded batch and each sequence's length (int64 [B]),
/// both in the original batch order.
struct PaddedSequence {
  Tensor output;
  Tensor lengths;
};

/// Packs input [T, B, *] ([B, T, *] with batch_first) whose sequence b has lengths[b] valid
/// steps. enforce_sorted: lengths must be non-increasing (no permutation recorded); otherwise the
/// batch is sorted by decreasing length (stably) and the permutation kept. Differentiable in
/// input: padded positions get zero gradient. Lengths must lie in [1, T].
PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<int64_t>& lengths,
                                    bool batch_first = false, bool enforce_sorted = true);
/// As above with lengths a 1-D int64 tensor.
PackedSequence pack_padded_sequence(const Tensor& input, const Tensor& lengths, bool batch_first = false,
                                    bool enforce_sorted = true);
/// The inverse of pack_padded_sequence: [T, B, *] ([B, T, *] with batch_first), padded with
/// padding_value, T the longest length or total_length (which must not be shorter).
PaddedSequence pad_packed_sequence(const PackedSequence& sequence, bool batch_first = false,
                                   double padding_value = 0.0, std::optional<int64_t> total_length = {});
/// Stacks sequences [L_i, *] into [max L, B, *] ([B, max L, *] with batch_first), padded with
/// padding_value (sequences may be empty).
Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first = false,
                    double padding_value = 0.0);
/// Packs sequences [L_i, *] (each L_i >= 1): pad_sequence then pack_padded_sequence.
PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted = true);

}  // namespace xg::nn
