#include <doctest/doctest.h>

#include "autograd/xg.hpp"

TEST_CASE("creation") {
  xg::Tensor z = xg::zeros({2, 3});
  CHECK(z.shape() == xg::Shape{2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.dtype() == xg::Dtype::float32);
}
