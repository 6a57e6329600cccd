// A 2-2-1 network (sigmoid hidden layer, sigmoid output, squared error) with every forward and
// backward quantity computed twice: by the formulas a textbook derives by hand (delta of the
// output, delta of the hidden layer, dL/dW = delta a^T, ...), in plain C++ doubles, and by xgrad's
// autograd in float64. They are printed side by side and agree to 1e-12; the program says so and
// exits with status 1 if they do not. Then one gradient-descent step, by hand and by
// xg::optim::SGD. Part 2 of docs/backprop-step-by-step.md.
//
//   backprop_by_hand                 the tape, the step-by-step backward, the comparison
//   backprop_by_hand --graph g.svg   also draws the graph (g.dot always; g.svg when graphviz is installed)
//   backprop_by_hand --html p.html   also writes the backprop explorer page (docs/explorer.md)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "../args.hpp"
#include "xgrad/autograd/tools/inspect.hpp"
#include "xgrad/xgrad.hpp"

namespace {

double sigmoid(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

// One line of the comparison: the quantity, its hand formula, both values, their largest difference.
double worst = 0;
int quantities = 0;
void compare(const char* what, const char* formula, const std::vector<double>& hand,
             const xg::Tensor& autograd) {
  const std::vector<double> ag = autograd.to_vector<double>();
  double diff = ag.size() == hand.size() ? 0.0 : INFINITY;
  std::string h = "[", a = "[";
  for (std::size_t i = 0; i < hand.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.6f", i ? ", " : "", hand[i]);
    h += buf;
    if (i < ag.size()) {
      std::snprintf(buf, sizeof buf, "%s%.6f", i ? ", " : "", ag[i]);
      a += buf;
      diff = std::max(diff, std::fabs(hand[i] - ag[i]));
    }
  }
  std::printf("%-8s %-22s %-42s %-42s %.1e\n", what, formula, (h + "]").c_str(), (a + "]").c_str(), diff);
  worst = std::max(worst, diff);
  ++quantities;
}

}  // namespace

int main(int argc, char** argv) {
  std::string graph_path, html_path;
  examples::Args(argc, argv, "backprop_by_hand: backprop of a 2-2-1 network by hand and by xgrad")
      .option("--graph", graph_path, "write the graph (Graphviz dot) here")
      .option("--html", html_path, "write the backprop explorer page here")
      .parse();

  // ---- one training example and the weights (column vectors: z1 = W1 x + b1)
  const double x[2] = {0.05, 0.10}, t = 0.01;
  double W1[2][2] = {{0.15, 0.20}, {0.25, 0.30}}, b1[2] = {0.35, 0.35};
  double W2[2] = {0.40, 0.45}, b2 = 0.60;  // W2 is 1 x 2

  // ---- by hand: the forward pass
  double z1[2], h[2];
  for (int i = 0; i < 2; ++i) {
    z1[i] = W1[i][0] * x[0] + W1[i][1] * x[1] + b1[i];
    h[i] = sigmoid(z1[i]);
  }
  const double z2 = W2[0] * h[0] + W2[1] * h[1] + b2;
  const double yhat = sigmoid(z2);
  const double L = (yhat - t) * (yhat - t);
  // ---- by hand: the backward pass, the textbook formulas
  const double dL_dyhat = 2.0 * (yhat - t);              // dL/dyhat = 2 (yhat - t)
  const double delta2 = dL_dyhat * yhat * (1.0 - yhat);  // delta2 = dL/dz2 = dL/dyhat sigmoid'(z2)
  double dW2[2], dh[2], delta1[2], dW1[2][2];
  for (int i = 0; i < 2; ++i) {
    dW2[i] = delta2 * h[i];                                    // dL/dW2 = delta2 h^T
    dh[i] = W2[i] * delta2;                                    // dL/dh = W2^T delta2
    delta1[i] = dh[i] * h[i] * (1.0 - h[i]);                   // delta1 = dL/dz1 = dL/dh * sigmoid'(z1)
    for (int j = 0; j < 2; ++j) dW1[i][j] = delta1[i] * x[j];  // dL/dW1 = delta1 x^T
  }
  const double db2 = delta2, db1[2] = {delta1[0], delta1[1]};  // dL/db = delta

  // ---- by autograd: the same network with xgrad tensors
  xg::InspectGuard inspect;  // keep names and values for the printouts
  const xg::TensorOptions data{.dtype = xg::Dtype::float64};
  const xg::TensorOptions param{.dtype = xg::Dtype::float64, .requires_grad = true};
  xg::Tensor X = xg::tensor({x[0], x[1]}, {2, 1}, data).name("x");
  xg::Tensor T = xg::tensor({t}, {1, 1}, data).name("t");
  xg::Tensor tW1 = xg::tensor({W1[0][0], W1[0][1], W1[1][0], W1[1][1]}, {2, 2}, param).name("W1");
  xg::Tensor tb1 = xg::tensor({b1[0], b1[1]}, {2, 1}, param).name("b1");
  xg::Tensor tW2 = xg::tensor({W2[0], W2[1]}, {1, 2}, param).name("W2");
  xg::Tensor tb2 = xg::tensor({b2}, {1, 1}, param).name("b2");

  xg::Tensor tz1 = (xg::matmul(tW1, X) + tb1).name("z1");
  xg::Tensor th = xg::sigmoid(tz1).name("h");
  xg::Tensor tz2 = (xg::matmul(tW2, th) + tb2).name("z2");
  xg::Tensor tyhat = xg::sigmoid(tz2).name("yhat");
  xg::Tensor tL = xg::mean(xg::pow(tyhat - T, 2.0)).name("L");
  for (xg::Tensor* v : {&tz1, &th, &tz2, &tyhat}) v->retain_grad();  // keep dL/dv of these non-leaves

  xg::print_tape(tL, std::cout, {.formulas = false});
  std::cout << "\n";
  xg::BackwardTrace trace = xg::backward_trace(tL);
  trace.print(std::cout, {.formulas = false});

  if (!graph_path.empty()) {
    const xg::RenderResult r = xg::render_graph(
        tL, graph_path,
        {.values = true, .grads = true, .trace = &trace, .title = "2-2-1 network: values and gradients"});
    std::cerr << r.message << "\n";
  }
  if (!html_path.empty()) {  // the same network on copies of the parameters: the page runs its own backward
    auto copy = [](const xg::Tensor& p) { return p.detach().clone().requires_grad_().name(p.name()); };
    const xg::Tensor W1c = copy(tW1), b1c = copy(tb1), W2c = copy(tW2), b2c = copy(tb2);
    xg::Tensor hc = xg::sigmoid((xg::matmul(W1c, X) + b1c).name("z1")).name("h");
    xg::Tensor yc = xg::sigmoid((xg::matmul(W2c, hc) + b2c).name("z2")).name("yhat");
    xg::explain_html(xg::mean(xg::pow(yc - T, 2.0)).name("L"), html_path, {.title = "the 2-2-1 network"});
    std::cerr << "wrote " << html_path << "\n";
  }

  // ---- side by side
  std::printf("\n%-8s %-22s %-42s %-42s %s\n", "quantity", "hand formula", "by hand", "autograd", "|diff|");
  compare("z1", "W1 x + b1", {z1[0], z1[1]}, tz1);
  compare("h", "sigmoid(z1)", {h[0], h[1]}, th);
  compare("z2", "W2 h + b2", {z2}, tz2);
  compare("yhat", "sigmoid(z2)", {yhat}, tyhat);
  compare("L", "(yhat - t)^2", {L}, tL);
  compare("dL/dyhat", "2 (yhat - t)", {dL_dyhat}, tyhat.grad());
  compare("delta2", "dL/dyhat yhat(1-yhat)", {delta2}, tz2.grad());
  compare("dL/dW2", "delta2 h^T", {dW2[0], dW2[1]}, tW2.grad());
  compare("dL/db2", "delta2", {db2}, tb2.grad());
  compare("dL/dh", "W2^T delta2", {dh[0], dh[1]}, th.grad());
  compare("delta1", "dL/dh * h (1 - h)", {delta1[0], delta1[1]}, tz1.grad());
  compare("dL/dW1", "delta1 x^T", {dW1[0][0], dW1[0][1], dW1[1][0], dW1[1][1]}, tW1.grad());
  compare("dL/db1", "delta1", {db1[0], db1[1]}, tb1.grad());
  const bool agree = worst <= 1e-12;
  std::printf("%s: all %d quantities, by hand and by autograd, agree to 1e-12 (largest difference %.1e)\n",
              agree ? "OK" : "FAILED", quantities, worst);

  // ---- one gradient-descent step, by hand and by xg::optim::SGD
  const double lr = 0.5;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) W1[i][j] -= lr * dW1[i][j];
    b1[i] -= lr * db1[i];
    W2[i] -= lr * dW2[i];
  }
  b2 -= lr * db2;
  xg::optim::SGD sgd({tW1, tb1, tW2, tb2}, {.lr = lr});
  sgd.step();  // W <- W - lr dL/dW, in place under no-grad
  std::printf("\none SGD step, lr = %g: W <- W - lr dL/dW\n", lr);
  worst = 0;
  quantities = 0;
  compare("W1", "W1 - lr dL/dW1", {W1[0][0], W1[0][1], W1[1][0], W1[1][1]}, tW1);
  compare("b1", "b1 - lr dL/db1", {b1[0], b1[1]}, tb1);
  compare("W2", "W2 - lr dL/dW2", {W2[0], W2[1]}, tW2);
  compare("b2", "b2 - lr dL/db2", {b2}, tb2);
  // The loss after the step, by hand and by a new forward pass.
  double h_new[2];
  for (int i = 0; i < 2; ++i) h_new[i] = sigmoid(W1[i][0] * x[0] + W1[i][1] * x[1] + b1[i]);
  const double yhat_new = sigmoid(W2[0] * h_new[0] + W2[1] * h_new[1] + b2);
  xg::Tensor L_new =
      xg::mean(xg::pow(xg::sigmoid(xg::matmul(tW2, xg::sigmoid(xg::matmul(tW1, X) + tb1)) + tb2) - T, 2.0));
  compare("L after", "(yhat - t)^2", {(yhat_new - t) * (yhat_new - t)}, L_new);
  const bool step_agrees = worst <= 1e-12;
  std::printf("%s: the step by hand and by xg::optim::SGD agree to 1e-12; the loss went from %.6f to %.6f\n",
              step_agrees ? "OK" : "FAILED", L, (yhat_new - t) * (yhat_new - t));
  return agree && step_agrees ? 0 : 1;
}
