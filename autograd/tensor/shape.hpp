#pragma once
/// @file shape.hpp
/// @brief Shape: the extents of a tensor, held inline (no heap allocation) up to kMaxRank axes.
/// An extent of -1 is allowed only as a placeholder (reshape, expand); tensors never have one.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace xg {

/// Tensors have at most this many axes; a larger rank raises ShapeError naming the op.
inline constexpr int kMaxRank = 8;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);
  Shape(const std::vector<int64_t>& dims) : Shape(std::span<const int64_t>(dims)) {}

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  /// Product of the extents. Computed modulo 2^64 (no signed overflow): exact for every shape a
  /// tensor can have (allocation checks the count), and 0 whenever an extent is 0.
  int64_t numel() const {
    uint64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= static_cast<uint64_t>(dims_[i]);
    return static_cast<int64_t>(n);
  }
  const int64_t* begin() const { return dims_; }
  const int64_t* end() const { return dims_ + rank_; }
  int64_t* begin() { return dims_; }
  int64_t* end() { return dims_ + rank_; }
  void push_back(int64_t d);
  void insert(int pos, int64_t d);
  void erase(int pos);
  std::vector<int64_t> vec() const { return {begin(), end()}; }
  std::string str() const;  ///< "[2, 3]"

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }

 private:
  int64_t dims_[kMaxRank] = {};
  int rank_ = 0;
};

/// Row-major strides (in elements) of a contiguous tensor of this shape.
std::vector<int64_t> contiguous_strides(const Shape& s);

}  // namespace xg
