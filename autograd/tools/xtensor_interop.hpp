#pragma once
/// @file xtensor_interop.hpp
/// @brief Moving values between xg::Tensor and xtensor arrays. Kept out of the other headers:
/// xtensor's templates are heavy, include this only where you need it.
#include <cstring>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

/// A copy of the tensor's values as an xt::xarray<T> (T must match the dtype).
template <class T>
xt::xarray<T> to_xarray(const Tensor& t) {
  const T* p = t.data<T>();
  std::vector<std::size_t> shape(t.shape().begin(), t.shape().end());
  xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
  if (t.numel()) std::memcpy(a.data(), p, static_cast<std::size_t>(t.numel()) * sizeof(T));
  return a;
}

/// A new leaf tensor holding a copy of any xtensor expression's values.
template <class E>
Tensor from_xexpression(const xt::xexpression<E>& e, bool requires_grad = false) {
  using T = typename E::value_type;
  xt::xarray<T> a = e.derived_cast();  // evaluates into row-major storage
  Shape s;
  for (auto d : a.shape()) s.push_back(static_cast<int64_t>(d));
  Tensor t = empty(s, {.dtype = dtype_of<T>()});
  if (a.size()) std::memcpy(t.raw_data(), a.data(), a.size() * sizeof(T));
  if (requires_grad) t.requires_grad_(true);
  return t;
}

/// An xtensor view over the tensor's own storage (no copy); valid while the tensor lives.
template <class T>
auto as_xtensor(Tensor& t) {
  std::vector<std::size_t> shape(t.shape().begin(), t.shape().end());
  return xt::adapt(t.data<T>(), static_cast<std::size_t>(t.numel()), xt::no_ownership(), shape);
}

}  // namespace xg
