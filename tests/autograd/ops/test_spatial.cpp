// einsum (autograd/ops/einsum.cpp): values against PyTorch 1.13's torch.einsum on seq inputs
// (0, 1, 2, ... reshaped); error messages naming the equation and the operand.
// (Every sample is also gradchecked and gradgradchecked by the registry sweep.)
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <string>
#include <vector>

#include "xgrad/autograd.hpp"

using xg::Shape;
using xg::Tensor;

namespace {
Tensor seq(const Shape& s) {
  return xg::reshape(xg::arange(0, static_cast<double>(s.numel()), 1, {.dtype = xg::Dtype::float64}), s);
}
void check_einsum(const std::string& eq, const std::vector<Shape>& shapes, const Shape& want_shape,
                  const std::vector<double>& want) {
  std::vector<Tensor> ops;
  for (const Shape& s : shapes) ops.push_back(seq(s));
  const Tensor y = xg::einsum(eq, ops);
  INFO(eq);
  CHECK(y.shape() == want_shape);
  CHECK(y.to_vector<double>() == want);
}
}  // namespace

TEST_CASE("einsum matches torch.einsum") {
  check_einsum("ii->i", {{3, 3}}, {3}, {0, 4, 8});
  check_einsum("ii", {{3, 3}}, {}, {12});
  check_einsum("bij,bjk->bik", {{2, 2, 3}, {2, 3, 2}}, {2, 2, 2}, {10, 13, 28, 40, 172, 193, 244, 274});
  check_einsum("...ij,...jk", {{2, 1, 2, 2}, {3, 2, 2}}, {2, 3, 2, 2},
               {2, 3, 6, 11, 6, 7, 26, 31, 10, 11, 46, 51, 10, 19, 14, 27, 46, 55, 66, 79, 82, 91, 118, 131});
  check_einsum("i,j->ij", {{3}, {2}}, {3, 2}, {0, 0, 0, 1, 0, 2});
  check_einsum("ijk->kji", {{2, 3, 2}}, {2, 3, 2}, {0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11});
  check_einsum("ij,jk,kl->il", {{2, 3}, {3, 2}, {2, 2}}, {2, 2}, {26, 49, 80, 148});
  check_einsum("ba,ab", {{2, 3}, {3, 2}}, {}, {50});
  check_einsum("iij->j", {{2, 2, 3}}, {3}, {9, 11, 13});
  check_einsum("i,i", {{4}, {4}}, {}, {14});
  check_einsum("ij->", {{2, 3}}, {}, {15});
  check_einsum("Ab,bA->A", {{2, 3}, {3, 2}}, {2}, {10, 40});
  check_einsum("...ij->ij", {{2, 2, 3}}, {2, 3}, {6, 8, 10, 12, 14, 16});  // unnamed ellipsis axes are summed
}

TEST_CASE("einsum errors name the equation and the operand") {
  CHECK_ERROR(xg::einsum("ij,jk->ik", {seq({2, 3})}), xg::ValueError, "'ij,jk->ik' has 2 operand subscripts");
  CHECK_ERROR(xg::einsum("ij", {seq({2, 3, 4})}), xg::ShapeError, "operand 0 of shape [2, 3, 4] has 3 axes");
  CHECK_ERROR(xg::einsum("ii", {seq({2, 3})}), xg::ShapeError, "sizes differ (2 != 3)");
  CHECK_ERROR(xg::einsum("ij,jk", {seq({2, 3}), seq({4, 2})}), xg::ShapeError, "subscript j has size 4");
  CHECK_ERROR(xg::einsum("ij->k", {seq({2, 3})}), xg::ValueError, "output subscript k does not appear");
  CHECK_ERROR(xg::einsum("i1", {seq({2, 3})}), xg::ValueError, "invalid subscript '1'");
}
