// A user-defined op whose backward forgets a factor of the chain rule, and how gradcheck finds it:
// the report names the input, the elements and the size of the error. Then the fixed op passes.
// Part 4 of docs/backprop-step-by-step.md.
#include <iostream>
#include <vector>

#include "xgrad/xgrad.hpp"

namespace {

// y = sin(w * x), element-wise. The chain rule gives dy/dx = w cos(w x) and dy/dw = x cos(w x).
xg::CustomOp sin_of_product(bool fixed) {
  return xg::CustomOp{"sin_of_product", "d/dx sin(w x) = w cos(w x), d/dw sin(w x) = x cos(w x)",
                      [](const std::vector<xg::Tensor>& in) { return xg::sin(in[1] * in[0]); },
                      [fixed](const xg::CustomOpContext& ctx, const xg::Tensor& g) {
                        xg::Tensor x = ctx.input(0), w = ctx.input(1);
                        xg::Tensor c = xg::cos(w * x);
                        xg::Tensor dx = fixed ? g * w * c  // right: the inner derivative w is there
                                              : g * c;     // the mistake: the factor w is missing
                        return std::vector<xg::Tensor>{dx, g * x * c};
                      }};
}

}  // namespace

int main() {
  const xg::TensorOptions f64{.dtype = xg::Dtype::float64, .requires_grad = true};
  xg::Tensor x = xg::tensor({0.3, -1.2, 0.7}, f64);
  xg::Tensor w = xg::tensor({1.0, 2.0, -0.5}, f64);  // w[0] = 1 hides the mistake at element 0
  x.name("x");                                       // the report names the inputs by their names
  w.name("w");

  const xg::CustomOp buggy = sin_of_product(false);
  const xg::GradcheckReport report =
      xg::gradcheck([&](const std::vector<xg::Tensor>& in) { return buggy(in); }, {x, w});
  std::cout << "buggy backward: " << report.str() << "\n";

  const xg::CustomOp fixed = sin_of_product(true);
  const xg::GradcheckReport again =
      xg::gradcheck([&](const std::vector<xg::Tensor>& in) { return fixed(in); }, {x, w});
  // (the size of the remaining finite-difference error depends on the CPU's rounding; the bound does not)
  std::cout << "fixed backward: gradcheck " << (again.passed ? "passed" : "FAILED") << ", "
            << again.entries_checked << " Jacobian entries, largest relative error "
            << (again.max_rel_error < 1e-6 ? "below" : "above") << " 1e-6\n";
  return report.passed || !again.passed ? 1 : 0;
}
