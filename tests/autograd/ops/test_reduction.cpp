// Reductions of autograd/ops/reduction.cpp with NaN, as PyTorch 1.13 (values from torch, named in
// each case); every op is also gradchecked by the registry sweep and compared with PyTorch, with
// and without a NaN, by the parity suite.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

TEST_CASE("argmax and argmin pick the first NaN, as PyTorch") {
  // torch.argmax / argmin of [[1, nan, 3], [nan, 2, nan]] along 1: [1, 0]; argmin along 0: [1, 0, 1]
  const xg::Tensor x = xg::tensor({1, NAN, 3, NAN, 2, NAN}, {2, 3}, {.dtype = xg::Dtype::float64});
  CHECK(xg::argmax(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
  CHECK(xg::argmin(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
  CHECK(xg::argmin(x, 0).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 1});
}

TEST_CASE("prod of a 0-d NaN has gradient 1, as PyTorch") {
  // torch.prod(tensor(nan)) backward: 1 (the identity); y / x gave NaN
  xg::Tensor s = xg::scalar_tensor(NAN, {.dtype = xg::Dtype::float64}).requires_grad_();
  CHECK(xg::grad({xg::prod(s)}, {s})[0].item() == 1.0);
}
