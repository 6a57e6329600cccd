// tril, triu and flip (autograd/ops/shape.cpp): values against PyTorch 1.13 on 0, 1, 2, ...
// reshaped; cut-off inf becomes 0 as in PyTorch; errors naming the op and the shape.
// (Every sample is also gradchecked and gradgradchecked by the registry sweep.)
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <limits>
#include <vector>

#include "xgrad/autograd.hpp"

using xg::Tensor;

namespace {
Tensor seq34() {
  return xg::reshape(xg::arange(0, 12, 1, {.dtype = xg::Dtype::float64}), {3, 4});
}
}  // namespace

TEST_CASE("tril and triu keep the triangles torch.tril and torch.triu keep") {
  // torch.tril(x, -1) and torch.triu(x, 1) on arange(12.).reshape(3, 4)
  CHECK(xg::tril(seq34(), -1).to_vector<double>() == std::vector<double>{0, 0, 0, 0, 4, 0, 0, 0, 8, 9, 0, 0});
  CHECK(xg::triu(seq34(), 1).to_vector<double>() == std::vector<double>{0, 1, 2, 3, 0, 0, 6, 7, 0, 0, 0, 11});
  CHECK(xg::tril(seq34()).to_vector<double>() == std::vector<double>{0, 0, 0, 0, 4, 5, 0, 0, 8, 9, 10, 0});
  // Batched over leading axes.
  const Tensor b = xg::stack({seq34(), seq34()});
  CHECK(xg::triu(b, 1).shape() == xg::Shape{2, 3, 4});
  CHECK(xg::slice(xg::triu(b, 1), 0, 1, 2).to_vector<double>() == xg::triu(seq34(), 1).to_vector<double>());
  // A cut-off inf is 0, not NaN (a causal mask built from -inf relies on it).
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor m = xg::full({2, 2}, -inf, {.dtype = xg::Dtype::float64});
  CHECK(xg::triu(m, 1).to_vector<double>() == std::vector<double>{0, -inf, 0, 0});
  CHECK_ERROR(xg::tril(xg::zeros({3})), xg::ShapeError, "tril", "[3]");
}

TEST_CASE("flip reverses the listed axes as torch.flip") {
  CHECK(xg::flip(seq34(), {0, 1}).to_vector<double>() ==
        std::vector<double>{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  CHECK(xg::flip(seq34(), {-1}).to_vector<double>() ==
        std::vector<double>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8});
  CHECK_ERROR(xg::flip(seq34(), {0, 0}), xg::ValueError, "flip");
}
