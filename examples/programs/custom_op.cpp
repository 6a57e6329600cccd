// A user-defined op with its own backward: smooth_abs(x) = sqrt(x^2 + eps), a differentiable |x|.
// What it teaches: xg::CustomOp takes a forward and a backward written with xg ops (so the backward
// is itself differentiable); gradcheck / gradgradcheck in float64 verify both against finite
// differences before the op is trusted; then it is used like any op, here to find the median of
// some data (minimising the sum of absolute deviations). Usage: custom_op [--steps N]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../args.hpp"
#include "xgrad/xgrad.hpp"

int main(int argc, char** argv) {
  int steps = 300;
  examples::Args(argc, argv, "custom_op: a custom op with its own backward, gradchecked and trained")
      .option("--steps", steps, "training steps")
      .parse();
  const double eps = 1e-3;
  // d/dx sqrt(x^2 + eps) = x / sqrt(x^2 + eps) = x / output: the backward reuses the forward's result.
  xg::CustomOp smooth_abs{"smooth_abs", "d/dx sqrt(x^2 + eps) = x / sqrt(x^2 + eps)",
                          [eps](const std::vector<xg::Tensor>& in) { return xg::sqrt(in[0] * in[0] + eps); },
                          [](const xg::CustomOpContext& ctx, const xg::Tensor& g) {
                            return std::vector<xg::Tensor>{g * ctx.input(0) / ctx.output()};
                          }};

  // Check first, in float64 (finite differences need the precision).
  xg::manual_seed(0);
  xg::Tensor x = xg::randn({5}, {.dtype = xg::Dtype::float64, .requires_grad = true});
  auto f = [&](const std::vector<xg::Tensor>& in) { return smooth_abs({in[0]}); };
  xg::GradcheckReport r1 = xg::gradcheck(f, {x});
  xg::GradcheckReport r2 = xg::gradgradcheck(f, {x});
  std::printf("%s\n%s\n", r1.str().c_str(), r2.str().c_str());
  if (!r1 || !r2) return 1;

  // Use it: the a minimising sum |a - d_i| is the median of d (here 3, despite the outlier 100).
  xg::Tensor data = xg::tensor({1, 2, 3, 4, 100}, {.dtype = xg::Dtype::float64});
  xg::Tensor a = xg::zeros({1}, {.dtype = xg::Dtype::float64, .requires_grad = true});
  xg::optim::Adam opt({a}, {.lr = 0.05});
  for (int step = 0; step <= steps; ++step) {
    opt.zero_grad();
    xg::Tensor loss = xg::sum(smooth_abs({a - data}));
    loss.backward();
    opt.step();
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0)
      std::printf("step %4d  loss %.6f  a %.4f\n", step, loss.item(), a.item());
  }
  std::printf("gradcheck passed; a = %.4f (median 3, mean %.1f)\n", a.item(), xg::mean(data).item());
  return 0;
}
