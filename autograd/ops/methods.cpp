// Tensor's method forms of common ops (declared in autograd/tensor/tensor.hpp): each is the free
// function of ops.hpp, so `x.sum(1)` and `xg::sum(x, {1})` record the same op.
#include "xgrad/autograd/ops/ops.hpp"

namespace xg {

Tensor Tensor::reshape(const Shape& s) const {
  return xg::reshape(*this, s);
}
Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  return xg::flatten(*this, start_dim, end_dim);
}
Tensor Tensor::squeeze() const {
  return xg::squeeze(*this);
}
Tensor Tensor::squeeze(int64_t dim) const {
  return xg::squeeze(*this, dim);
}
Tensor Tensor::unsqueeze(int64_t dim) const {
  return xg::unsqueeze(*this, dim);
}
Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  return xg::permute(*this, dims);
}
Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  return xg::transpose(*this, dim0, dim1);
}
Tensor Tensor::t() const {
  return xg::t(*this);
}
Tensor Tensor::expand(const Shape& s) const {
  return xg::expand(*this, s);
}
Tensor Tensor::sum() const {
  return xg::sum(*this);
}
Tensor Tensor::sum(int64_t dim, bool keepdim) const {
  return xg::sum(*this, {dim}, keepdim);
}
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const {
  return xg::sum(*this, dims, keepdim);
}
Tensor Tensor::mean() const {
  return xg::mean(*this);
}
Tensor Tensor::mean(int64_t dim, bool keepdim) const {
  return xg::mean(*this, {dim}, keepdim);
}
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const {
  return xg::mean(*this, dims, keepdim);
}
Tensor Tensor::prod(int64_t dim, bool keepdim) const {
  return xg::prod(*this, {dim}, keepdim);
}
Tensor Tensor::amax(int64_t dim, bool keepdim) const {
  return xg::max(*this, {dim}, keepdim);
}
Tensor Tensor::amin(int64_t dim, bool keepdim) const {
  return xg::min(*this, {dim}, keepdim);
}
Tensor Tensor::var(int64_t dim, int64_t correction, bool keepdim) const {
  return xg::var(*this, {dim}, correction, keepdim);
}
Tensor Tensor::std(int64_t dim, int64_t correction, bool keepdim) const {
  return xg::std(*this, {dim}, correction, keepdim);
}
Tensor Tensor::norm(double p) const {
  return xg::norm(*this, p);
}
Tensor Tensor::logsumexp(int64_t dim, bool keepdim) const {
  return xg::logsumexp(*this, {dim}, keepdim);
}
Tensor Tensor::argmax(int64_t dim, bool keepdim) const {
  return xg::argmax(*this, dim, keepdim);
}
Tensor Tensor::argmin(int64_t dim, bool keepdim) const {
  return xg::argmin(*this, dim, keepdim);
}
Tensor Tensor::softmax(int64_t dim) const {
  return xg::softmax(*this, dim);
}
Tensor Tensor::log_softmax(int64_t dim) const {
  return xg::log_softmax(*this, dim);
}
Tensor Tensor::matmul(const Tensor& other) const {
  return xg::matmul(*this, other);
}
Tensor Tensor::mm(const Tensor& other) const {
  if (dim() != 2 || other.dim() != 2)
    throw ShapeError("mm: both operands must be 2-D, got " + shape().str() + " and " + other.shape().str());
  return xg::matmul(*this, other);
}
Tensor Tensor::pow(double exponent) const {
  return xg::pow(*this, exponent);
}
Tensor Tensor::pow(const Tensor& exponent) const {
  return xg::pow(*this, exponent);
}
Tensor Tensor::exp() const {
  return xg::exp(*this);
}
Tensor Tensor::log() const {
  return xg::log(*this);
}
Tensor Tensor::sqrt() const {
  return xg::sqrt(*this);
}
Tensor Tensor::abs() const {
  return xg::abs(*this);
}
Tensor Tensor::neg() const {
  return xg::neg(*this);
}
Tensor Tensor::relu() const {
  return xg::relu(*this);
}
Tensor Tensor::sigmoid() const {
  return xg::sigmoid(*this);
}
Tensor Tensor::tanh() const {
  return xg::tanh(*this);
}
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const {
  return xg::clamp(*this, min, max);
}
Tensor Tensor::index_select(int64_t dim, const Tensor& index) const {
  return xg::index_select(*this, dim, index);
}
Tensor Tensor::masked_fill(const Tensor& mask, double value) const {
  return xg::masked_fill(*this, mask, value);
}
Tensor Tensor::masked_fill(const Tensor& mask, const Tensor& value) const {
  return xg::masked_fill(*this, mask, value);
}
Tensor Tensor::cumsum(int64_t dim) const {
  return xg::cumsum(*this, dim);
}
Tensor Tensor::flip(const std::vector<int64_t>& dims) const {
  return xg::flip(*this, dims);
}
Tensor Tensor::where(const Tensor& condition, const Tensor& other) const {
  return xg::where(condition, *this, other);
}
Tensor Tensor::gather(int64_t dim, const Tensor& index) const {
  return xg::gather(*this, dim, index);
}

}  // namespace xg
