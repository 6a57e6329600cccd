// Verifying the gradients of a model. One layer has a hand-written backward (a CustomOp) with a
// classic slip: the bias gradient averaged over the batch instead of summed. The model-scale
// gradcheck finds it in fast mode and names the parameter, its elements and the op on the tape;
// the step-by-step trace marks that op; check_backward compares the hand-written formulas with
// autograd directly. Then a Gaussian log-likelihood through cholesky and slogdet, its derivative
// along a direction by forward mode and by reverse mode. Part 7 of docs/backprop-step-by-step.md.
#include <cmath>
#include <iostream>
#include <numbers>
#include <vector>

#include "xgrad/autograd/tools/inspect.hpp"
#include "xgrad/xgrad.hpp"

namespace {

namespace F = xg::nn::functional;

// dL/dx = g W, dL/dW = g^T x, dL/db = the sum of g's rows (for y = x W^T + b).
std::vector<xg::Tensor> linear_backward(const xg::Tensor& x, const xg::Tensor& W, const xg::Tensor& g,
                                        bool fixed) {
  xg::Tensor db = xg::sum(g, {0});
  if (!fixed) db = db / static_cast<double>(g.size(0));  // the slip: a mean over the batch
  return {xg::matmul(g, W), xg::matmul(xg::transpose(g, 0, 1), x), db};
}

// y = x W^T + b with the backward above.
xg::CustomOp hand_linear(bool fixed) {
  return xg::CustomOp{"hand_linear", "dx = g W, dW = g^T x, db = sum of the rows of g",
                      [](const std::vector<xg::Tensor>& in) { return F::linear(in[0], in[1], in[2]); },
                      [fixed](const xg::CustomOpContext& ctx, const xg::Tensor& g) {
                        return linear_backward(ctx.input(0), ctx.input(1), g, fixed);
                      }};
}

struct HandLinear : xg::nn::Module {
  xg::Tensor weight, bias;
  xg::CustomOp op;
  HandLinear(int64_t in, int64_t out, bool fixed) : Module("HandLinear"), op(hand_linear(fixed)) {
    weight = register_parameter("weight", xg::randn({out, in}, {.dtype = xg::Dtype::float64}) * 0.5);
    bias = register_parameter("bias", xg::randn({out}, {.dtype = xg::Dtype::float64}) * 0.1);
  }
  xg::Tensor forward(const xg::Tensor& x) override { return op({x, weight, bias}); }
};

// 3 -> 4 (hand-written) -> tanh -> 2 (xgrad's Linear).
struct Net : xg::nn::Module {
  std::shared_ptr<HandLinear> fc1;
  std::shared_ptr<xg::nn::Linear> fc2;
  explicit Net(bool fixed) : Module("Net") {
    fc1 = register_module("fc1", std::make_shared<HandLinear>(3, 4, fixed));
    fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(4, 2));
    to(xg::Dtype::float64);  // finite differences need float64
  }
  xg::Tensor forward(const xg::Tensor& x) override { return fc2->forward(xg::tanh(fc1->forward(x))); }
};

}  // namespace

int main() {
  xg::manual_seed(0);
  xg::Tensor x = xg::randn({4, 3}, {.dtype = xg::Dtype::float64});
  xg::Tensor target = xg::randn({4, 2}, {.dtype = xg::Dtype::float64});
  auto loss = [&](const xg::Tensor& y) { return F::mse_loss(y, target); };

  Net net(false);
  xg::GradcheckReport report = xg::nn::gradcheck(net, x, loss);  // fast mode, float64
  std::cout << "model check: " << report.str() << "\n";

  // The same loss, backward step by step, with the culprit marked.
  xg::InspectGuard inspect;
  for (auto& [name, p] : net.named_parameters()) p.name(name);  // labels for the printout
  x.name("x");
  xg::Tensor L = loss(net(x));
  xg::BackwardTrace trace = xg::backward_trace(L);
  xg::mark_culprit(trace, report);
  std::cout << trace.find(report.culprit.step)->str({.values = false});

  // The hand-written formulas alone against autograd, on the layer's own inputs.
  auto layer = [](const std::vector<xg::Tensor>& in) { return F::linear(in[0], in[1], in[2]); };
  auto by_hand = [](const std::vector<xg::Tensor>& in, const std::vector<xg::Tensor>& g) {
    return linear_backward(in[0], in[1], g[0], false);
  };
  xg::Tensor xi = x.detach().clone().requires_grad_(true).name("x");
  xg::GradcheckReport hand = xg::check_backward(layer, by_hand, {xi, net.fc1->weight, net.fc1->bias});
  std::cout << "check_backward: " << hand.str() << "\n";

  Net fixed(true);
  xg::GradcheckReport again = xg::nn::gradcheck(fixed, x, loss);
  std::cout << "fixed model: gradcheck " << (again.passed ? "passed" : "FAILED") << ", "
            << again.projections.size() << " parameters, largest relative error "
            << (again.max_rel_error < 1e-6 ? "below" : "above") << " 1e-6\n";

  // Linear algebra: the log-likelihood of y under N(0, S), S = A A^T + I, through cholesky and
  // slogdet. Forward mode (one pass carrying the direction V) and reverse mode (the gradient
  // dotted with V) give the same directional derivative; gradcheck checks the whole gradient.
  const xg::Tensor y = xg::randn({3}, {.dtype = xg::Dtype::float64});
  const xg::Tensor I = xg::eye(3, -1, {.dtype = xg::Dtype::float64});
  auto log_likelihood = [&](const xg::Tensor& A) {
    const xg::Tensor S = xg::matmul(A, xg::transpose(A, 0, 1)) + I;
    const xg::Tensor z = xg::linalg::solve(xg::linalg::cholesky(S), y);  // L^-1 y: y^T S^-1 y = z^T z
    const xg::Tensor logdet = xg::linalg::slogdet(S).second;
    return -0.5 * (xg::sum(z * z) + logdet + 3.0 * std::log(2.0 * std::numbers::pi));
  };
  xg::Tensor A = xg::randn({3, 3}, {.dtype = xg::Dtype::float64}).requires_grad_(true);
  const xg::Tensor V = xg::randn({3, 3}, {.dtype = xg::Dtype::float64});
  double forward_mode = 0;
  {
    xg::forward_ad::DualLevel level;
    forward_mode =
        xg::forward_ad::unpack_dual(log_likelihood(xg::forward_ad::make_dual(A, V))).tangent.item();
  }
  const xg::Tensor grad_A = xg::grad({log_likelihood(A)}, {A})[0];
  const double reverse_mode = xg::sum(grad_A * V).item();
  const xg::GradcheckReport linalg_check =
      xg::gradcheck([&](const std::vector<xg::Tensor>& in) { return log_likelihood(in[0]); }, {A});
  std::cout << "log-likelihood along V: forward mode " << forward_mode << ", reverse mode " << reverse_mode
            << "; gradcheck " << (linalg_check.passed ? "passed" : "FAILED") << "\n";

  const bool found = !report.passed && report.localised && report.culprit.op == "hand_linear";
  const bool modes_agree = std::abs(forward_mode - reverse_mode) <= 1e-12 * (1 + std::abs(reverse_mode));
  return found && !hand.passed && again.passed && modes_agree && linalg_check.passed ? 0 : 1;
}
