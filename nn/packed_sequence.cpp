#include "xgrad/nn/packed_sequence.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "xgrad/autograd/ops/ops.hpp"

namespace xg::nn {

namespace {

std::string list_str(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

std::vector<int64_t> int64_vector(const char* fn, const Tensor& t, const char* what) {
  if (!t.defined()) throw ValueError(std::string(fn) + ": " + what + " is undefined");
  if (t.dtype() != Dtype::int64 || t.dim() != 1)
    throw TypeError(std::string(fn) + ": " + what + " must be a 1-D int64 tensor, got " +
                    dtype_name(t.dtype()) + " of shape " + t.shape().str());
  return t.to_vector<int64_t>();
}

Tensor index_tensor(const std::vector<int64_t>& v) {
  return from_vector(v, Shape{static_cast<int64_t>(v.size())});
}

}  // namespace

std::vector<int64_t> PackedSequence::batch_size_vector() const {
  return int64_vector("PackedSequence", batch_sizes, "batch_sizes");
}

PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<int64_t>& lengths,
                                    bool batch_first, bool enforce_sorted) {
  const char* fn = "pack_padded_sequence";
  if (!input.defined()) throw ValueError(std::string(fn) + ": the input is undefined");
  if (input.dim() < 2)
    throw ShapeError(std::string(fn) + ": expected an input " + (batch_first ? "[B, T, *]" : "[T, B, *]") +
                     ", got " + input.shape().str());
  const int64_t steps = input.size(batch_first ? 1 : 0), batch = input.size(batch_first ? 0 : 1);
  if (static_cast<int64_t>(lengths.size()) != batch)
    throw ShapeError(std::string(fn) + ": " + std::to_string(lengths.size()) + " lengths for a batch of " +
                     std::to_string(batch) + " (input " + input.shape().str() +
                     (batch_first ? ", batch_first" : "") + ")");
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] <= 0)
      throw ValueError(std::string(fn) + ": every length must be positive, got lengths[" + std::to_string(b) +
                       "] = " + std::to_string(lengths[b]) + " in " + list_str(lengths));
    if (lengths[b] > steps)
      throw ValueError(std::string(fn) + ": lengths[" + std::to_string(b) +
                       "] = " + std::to_string(lengths[b]) + " exceeds the input's " + std::to_string(steps) +
                       " steps (input " + input.shape().str() + ")");
    if (enforce_sorted && b > 0 && lengths[b] > lengths[b - 1])
      throw ValueError(std::string(fn) + ": with enforce_sorted the lengths must not increase, got lengths[" +
                       std::to_string(b - 1) + "] = " + std::to_string(lengths[b - 1]) + " < lengths[" +
                       std::to_string(b) + "] = " + std::to_string(lengths[b]) + " in " + list_str(lengths) +
                       " (pass enforce_sorted = false to sort them)");
  }
  std::vector<int64_t> order(static_cast<std::size_t>(batch));  // sorted position -> batch index
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!enforce_sorted)
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  const int64_t max_len = lengths[static_cast<std::size_t>(order[0])];

  PackedSequence p;
  std::vector<int64_t> sizes, rows;  // rows: positions in the input flattened to [T B, *] or [B T, *]
  for (int64_t t = 0; t < max_len; ++t) {
    int64_t n = 0;
    while (n < batch && lengths[static_cast<std::size_t>(order[static_cast<std::size_t>(n)])] > t) {
      const int64_t b = order[static_cast<std::size_t>(n)];
      rows.push_back(batch_first ? b * steps + t : t * batch + b);
      ++n;
    }
    sizes.push_back(n);
  }
  Shape flat = input.shape();
  flat.erase(0);
  flat[0] = steps * batch;
  // One gather: its gradient is a scatter into the valid positions only (the padding gets zero).
  p.data = index_select(reshape(input, flat), 0, index_tensor(rows));
  p.batch_sizes = index_tensor(sizes);
  if (!enforce_sorted) {
    std::vector<int64_t> inverse(order.size());
    for (std::size_t s = 0; s < order.size(); ++s) inverse[static_cast<std::size_t>(order[s])] = int64_t(s);
    p.sorted_indices = index_tensor(order);
    p.unsorted_indices = index_tensor(inverse);
  }
  return p;
}

PackedSequence pack_padded_sequence(const Tensor& input, const Tensor& lengths, bool batch_first,
                                    bool enforce_sorted) {
  return pack_padded_sequence(input, int64_vector("pack_padded_sequence", lengths, "lengths"), batch_first,
                              enforce_sorted);
}

PaddedSequence pad_packed_sequence(const PackedSequence& sequence, bool batch_first, double padding_value,
                                   std::optional<int64_t> total_length) {
  const char* fn = "pad_packed_sequence";
  const std::vector<int64_t> sizes = int64_vector(fn, sequence.batch_sizes, "batch_sizes");
  if (!sequence.data.defined() || sequence.data.dim() < 1)
    throw ShapeError(std::string(fn) + ": the data must be a tensor [N, *]");
  if (sizes.empty()) throw ValueError(std::string(fn) + ": batch_sizes is empty");
  const int64_t batch = sizes[0], max_len = static_cast<int64_t>(sizes.size());
  int64_t total = 0;
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    if (sizes[t] <= 0 || (t > 0 && sizes[t] > sizes[t - 1]))
      throw ValueError(std::string(fn) + ": batch_sizes must be positive and non-increasing, got " +
                       list_str(sizes));
    total += sizes[t];
  }
  if (sequence.data.size(0) != total)
    throw ShapeError(std::string(fn) + ": data has " + std::to_string(sequence.data.size(0)) +
                     " rows, batch_sizes " + list_str(sizes) + " add up to " + std::to_string(total));
  std::vector<int64_t> unsorted(static_cast<std::size_t>(batch));  // batch index -> sorted position
  std::iota(unsorted.begin(), unsorted.end(), int64_t{0});
  if (sequence.unsorted_indices.defined()) {
    unsorted = int64_vector(fn, sequence.unsorted_indices, "unsorted_indices");
    if (static_cast<int64_t>(unsorted.size()) != batch)
      throw ShapeError(std::string(fn) + ": unsorted_indices has " + std::to_string(unsorted.size()) +
                       " entries for a batch of " + std::to_string(batch));
  }
  const int64_t steps = total_length.value_or(max_len);
  if (steps < max_len)
    throw ValueError(std::string(fn) + ": total_length " + std::to_string(steps) +
                     " is shorter than the longest sequence, " + std::to_string(max_len));

  std::vector<int64_t> offset(sizes.size() + 1, 0);
  for (std::size_t t = 0; t < sizes.size(); ++t) offset[t + 1] = offset[t] + sizes[t];
  // Row `total` of [data; padding] is the padding value: every output position picks one row.
  std::vector<int64_t> pick(static_cast<std::size_t>(steps * batch), total), lengths(unsorted.size(), 0);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t s = unsorted[static_cast<std::size_t>(b)];
    for (int64_t t = 0; t < max_len && sizes[static_cast<std::size_t>(t)] > s; ++t) {
      pick[static_cast<std::size_t>(batch_first ? b * steps + t : t * batch + b)] =
          offset[static_cast<std::size_t>(t)] + s;
      ++lengths[static_cast<std::size_t>(b)];
    }
  }
  const Tensor& data = sequence.data;
  Shape pad_shape = data.shape();
  pad_shape[0] = 1;
  const Tensor rows = cat({data, full(pad_shape, padding_value, {.dtype = data.dtype()})}, 0);
  Shape out_shape = data.shape();
  out_shape[0] = batch_first ? batch : steps;
  out_shape.insert(1, batch_first ? steps : batch);
  return {reshape(index_select(rows, 0, index_tensor(pick)), out_shape), index_tensor(lengths)};
}

Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first, double padding_value) {
  const char* fn = "pad_sequence";
  if (sequences.empty()) throw ValueError(std::string(fn) + ": no sequences");
  int64_t longest = 0;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const Tensor& s = sequences[i];
    if (!s.defined() || s.dim() < 1)
      throw ShapeError(std::string(fn) + ": sequence " + std::to_string(i) + " must be a tensor [L, *]");
    Shape a = s.shape(), b = sequences[0].shape();
    a.erase(0);
    b.erase(0);
    if (!(a == b) || s.dtype() != sequences[0].dtype())
      throw ShapeError(std::string(fn) + ": sequence " + std::to_string(i) + " is " + s.shape().str() + " " +
                       dtype_name(s.dtype()) + ", sequence 0 " + sequences[0].shape().str() + " " +
                       dtype_name(sequences[0].dtype()) + ": the trailing shapes and dtypes must agree");
    longest = std::max(longest, s.size(0));
  }
  std::vector<Tensor> padded;
  for (const Tensor& s : sequences) {
    Shape rest = s.shape();
    rest[0] = longest - s.size(0);
    padded.push_back(rest[0] == 0 ? s : cat({s, full(rest, padding_value, {.dtype = s.dtype()})}, 0));
  }
  return stack(padded, batch_first ? 0 : 1);
}

PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted) {
  std::vector<int64_t> lengths;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const Tensor& s = sequences[i];
    lengths.push_back(s.defined() && s.dim() >= 1 ? s.size(0) : 0);
    if (s.defined() && s.dim() >= 1 && s.size(0) == 0)
      throw ValueError("pack_sequence: sequence " + std::to_string(i) + " is empty (" + s.shape().str() +
                       "): every length must be positive");
    if (enforce_sorted && i > 0 && lengths[i] > lengths[i - 1])
      throw ValueError("pack_sequence: with enforce_sorted the lengths must not increase, got " +
                       list_str(lengths) + " (pass enforce_sorted = false to sort them)");
  }
  return pack_padded_sequence(pad_sequence(sequences, false, 0.0), lengths, false, enforce_sorted);
}

}  // namespace xg::nn
