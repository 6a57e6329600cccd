// One neuron, y = sigmoid(w x + b), and a squared error L = (y - t)^2: the tape its forward pass
// records, then its backward pass, printed one step at a time as the engine runs it (each
// chain-rule product with its numbers), and the same gradients derived by hand. Part 1 of
// docs/backprop-step-by-step.md.
//
//   single_neuron                    the tape, the step-by-step backward, the gradients by hand
//   single_neuron --html page.html   also writes the backprop explorer page (docs/explorer.md)
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include "../args.hpp"
#include "xgrad/autograd/tools/inspect.hpp"
#include "xgrad/xgrad.hpp"

int main(int argc, char** argv) {
  std::string html_path;
  examples::Args(argc, argv, "single_neuron: one neuron, its tape and its backward step by step")
      .option("--html", html_path, "write the backprop explorer page here")
      .parse();
  xg::InspectGuard inspect;  // keep every op's inputs and output, so that printouts show their values
  const xg::TensorOptions data{.dtype = xg::Dtype::float64};
  const xg::TensorOptions param{.dtype = xg::Dtype::float64, .requires_grad = true};

  xg::Tensor x = xg::tensor({1.5}, data).name("x");   // the input
  xg::Tensor t = xg::tensor({1.0}, data).name("t");   // the target
  xg::Tensor w = xg::tensor({0.8}, param).name("w");  // the parameters
  xg::Tensor b = xg::tensor({-0.5}, param).name("b");

  xg::Tensor wx = (w * x).name("wx");
  xg::Tensor z = (wx + b).name("z");
  xg::Tensor y = xg::sigmoid(z).name("y");
  xg::Tensor e = (y - t).name("e");
  xg::Tensor L = xg::pow(e, 2.0).name("L");

  xg::print_tape(L, std::cout);

  // L.backward(), with a look at each step as the engine runs it.
  std::cout << "\nbackward:\n";
  xg::backward_trace(L, xg::Tensor(), false, [](const xg::BackwardStep& step) { std::cout << step.str(); });
  std::cout << "w.grad = " << xg::format_values(w.grad()) << ", b.grad = " << xg::format_values(b.grad())
            << "\n";

  // The same two gradients by hand: dL/dw = 2 (y - t) y (1 - y) x, dL/db = 2 (y - t) y (1 - y).
  const double yv = 1.0 / (1.0 + std::exp(-(0.8 * 1.5 - 0.5)));
  const double delta = 2.0 * (yv - 1.0) * yv * (1.0 - yv);
  std::printf("\nby hand: dL/dw = 2 (y - t) y (1 - y) x = %.6f, autograd %.6f\n", delta * 1.5,
              w.grad().item());
  std::printf("by hand: dL/db = 2 (y - t) y (1 - y)   = %.6f, autograd %.6f\n", delta, b.grad().item());
  if (!html_path.empty()) {  // the same neuron again: the page runs a backward pass of its own
    xg::Tensor w2 = xg::tensor({0.8}, param).name("w"), b2 = xg::tensor({-0.5}, param).name("b");
    xg::Tensor y2 = xg::sigmoid(((w2 * x).name("wx") + b2).name("z")).name("y");
    xg::explain_html(xg::pow((y2 - t).name("e"), 2.0).name("L"), html_path, {.title = "one neuron"});
    std::cerr << "wrote " << html_path << "\n";
  }
  return std::fabs(delta * 1.5 - w.grad().item()) < 1e-12 && std::fabs(delta - b.grad().item()) < 1e-12 ? 0
                                                                                                        : 1;
}
