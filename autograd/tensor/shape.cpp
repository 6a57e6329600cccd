#include "xgrad/autograd/tensor/shape.hpp"

#include "xgrad/autograd/tensor/error.hpp"

namespace xg {

namespace {
[[noreturn]] void too_many_axes(std::size_t n) {
  throw ShapeError("shape: " + std::to_string(n) + " axes requested; xgrad tensors have at most " +
                   std::to_string(kMaxRank));
}
}  // namespace

Shape::Shape(std::initializer_list<int64_t> dims)
    : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
  if (dims.size() > static_cast<std::size_t>(kMaxRank)) too_many_axes(dims.size());
  rank_ = static_cast<int>(dims.size());
  for (int i = 0; i < rank_; ++i) {
    if (dims[i] < -1)
      throw ShapeError("shape: negative extent " + std::to_string(dims[i]) + " in axis " + std::to_string(i));
    dims_[i] = dims[i];
  }
}

void Shape::push_back(int64_t d) {
  if (rank_ == kMaxRank) too_many_axes(rank_ + 1);
  dims_[rank_++] = d;
}

void Shape::insert(int pos, int64_t d) {
  if (rank_ == kMaxRank) too_many_axes(rank_ + 1);
  for (int i = rank_; i > pos; --i) dims_[i] = dims_[i - 1];
  dims_[pos] = d;
  ++rank_;
}

void Shape::erase(int pos) {
  for (int i = pos; i + 1 < rank_; ++i) dims_[i] = dims_[i + 1];
  --rank_;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.rank());
  int64_t acc = 1;
  for (int i = s.rank() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

}  // namespace xg
