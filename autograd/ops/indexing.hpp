#pragma once
/// @file indexing.hpp
/// @brief Indexing as LibTorch users write it (torch::indexing): `x.index({Slice(), 0})`,
/// `x.index({Slice(1, None, 2), Ellipsis})`, `x.index({None, idx})`, `x.index({mask})`, and the
/// writes `x.index_put_({...}, v)`.
///
/// PyTorch's rules: integers and slices are applied first (an integer removes its axis, a slice
/// keeps it); `None` inserts an axis of extent 1; `Ellipsis` stands for as many full slices as
/// needed. Tensor indices are *advanced* indices: int64 tensors pick positions along their axis
/// and broadcast together; their result axes replace the indexed axes where those are adjacent,
/// and go first otherwise. A mask picks the positions of its nonzero elements over as many axes
/// as it has. xgrad has no bool dtype (docs/design.md): a floating tensor index is a mask (the
/// 0/1 tensors comparisons return), an int64 tensor index holds positions; `Mask(t)` makes an
/// int64 0/1 tensor a mask. Reads are differentiable with respect to x (a composite of slice,
/// unsqueeze, permute, reshape and index_select).
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <variant>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::indexing {

/// `None` as an index inserts an axis; as a Slice bound it means "the default".
inline constexpr std::nullopt_t None = std::nullopt;

struct EllipsisIndexType {};
inline constexpr EllipsisIndexType Ellipsis{};

/// start:stop:step; omitted bounds run over the whole axis (negative bounds count from the end,
/// out-of-range bounds are clamped, as in Python). step must be positive, as in PyTorch.
struct Slice {
  std::optional<int64_t> start, stop, step;
  Slice(std::optional<int64_t> start_ = std::nullopt, std::optional<int64_t> stop_ = std::nullopt,
        std::optional<int64_t> step_ = std::nullopt)
      : start(start_), stop(stop_), step(step_) {}
};

/// An int64 tensor of 0/1 (or any nonzero) values used as a mask rather than as positions.
struct Mask {
  Tensor mask;
  explicit Mask(Tensor m) : mask(std::move(m)) {}
};

/// One entry of an index list.
class TensorIndex {
 public:
  TensorIndex(int64_t i) : v_(i) {}                            // NOLINT: implicit, as LibTorch's
  TensorIndex(int i) : v_(static_cast<int64_t>(i)) {}          // NOLINT
  TensorIndex(std::nullopt_t) : v_(NoneTag{}) {}               // NOLINT
  TensorIndex(EllipsisIndexType) : v_(EllipsisIndexType{}) {}  // NOLINT
  TensorIndex(Slice s) : v_(s) {}                              // NOLINT
  TensorIndex(Tensor t) : v_(std::move(t)) {}                  // NOLINT
  TensorIndex(Mask m) : v_(m) {}                               // NOLINT

  struct NoneTag {};
  using Value = std::variant<int64_t, NoneTag, EllipsisIndexType, Slice, Tensor, Mask>;
  const Value& value() const { return v_; }

 private:
  Value v_;
};

}  // namespace xg::indexing

namespace xg {

/// x[indices]: the free form of Tensor::index.
Tensor index(const Tensor& x, const std::vector<indexing::TensorIndex>& indices);

/// The flat positions (int64, into x viewed as 1-D) that x[indices] reads, in the shape of the
/// result: what index_put_ and masked writes are built on.
Tensor index_positions(const Shape& shape, const std::vector<indexing::TensorIndex>& indices);

}  // namespace xg
