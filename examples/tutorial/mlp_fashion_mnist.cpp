// An MLP on Fashion-MNIST (784 -> 64 -> 10, ReLU, cross-entropy), trained for one epoch with plain
// gradient descent, looked at with the tools of this tutorial: the tape of one batch's loss (shapes;
// tensors over 16 elements do not print their values), gradcheck of the same loss in float64, and
// the accuracy one epoch reaches. Part 3 of docs/backprop-step-by-step.md. Needs Debian's
// dataset-fashion-mnist (scripts/setup.sh installs it).
//
//   mlp_fashion_mnist                    the tape, gradcheck, one epoch
//   mlp_fashion_mnist --html page.html   also writes the backprop explorer page of one batch's
//                                        loss (docs/explorer.md; large tensors as summaries)
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "../args.hpp"
#include "xgrad/autograd/tools/inspect.hpp"
#include "xgrad/xgrad.hpp"

namespace {

// p = {W1 [784, 64], b1 [64], W2 [64, 10], b2 [10]}; images [N, 1, 28, 28] -> logits [N, 10]
xg::Tensor logits_of(const std::vector<xg::Tensor>& p, const xg::Tensor& images) {
  xg::Tensor x = xg::reshape(images, {images.size(0), 784}).name("x");
  xg::Tensor h = xg::relu(xg::matmul(x, p[0]) + p[1]);
  return xg::matmul(h, p[2]) + p[3];
}

// Cross-entropy: minus the mean over the batch of log softmax(logits)[label].
xg::Tensor loss_of(const std::vector<xg::Tensor>& p, const xg::Tensor& images, const xg::Tensor& labels) {
  xg::Tensor log_p = xg::log_softmax(logits_of(p, images), 1);
  return -xg::mean(xg::gather(log_p, 1, xg::unsqueeze(labels, 1)));
}

}  // namespace

int main(int argc, char** argv) {
  std::string html_path;
  examples::Args(argc, argv, "mlp_fashion_mnist: a hand-built Fashion-MNIST MLP, its tape and training")
      .option("--html", html_path, "write the backprop explorer page here")
      .parse();
  xg::manual_seed(0);
  auto train = xg::data::fashion_mnist(xg::data::kFashionMnistDir, true);
  auto test = xg::data::fashion_mnist(xg::data::kFashionMnistDir, false);
  const xg::TensorOptions param{.requires_grad = true};
  std::vector<xg::Tensor> params = {
      xg::normal({784, 64}, 0.0, std::sqrt(2.0 / 784), param).name("W1"), xg::zeros({64}, param).name("b1"),
      xg::normal({64, 10}, 0.0, std::sqrt(1.0 / 64), param).name("W2"), xg::zeros({10}, param).name("b2")};
  xg::data::DataLoader loader(train, {.batch_size = 64, .shuffle = true, .seed = 0});

  // 1. The tape of one batch's loss.
  {
    xg::InspectGuard inspect;
    const xg::data::Batch batch = *loader.begin();
    xg::Tensor loss = loss_of(params, batch.data, batch.target).name("loss");
    xg::print_tape(loss, std::cout, {.formulas = false, .summaries = false});
    if (!html_path.empty()) {  // (its backward leaves .grad on the parameters: section 3 zeroes them)
      xg::explain_html(loss, html_path, {.title = "one batch of the Fashion-MNIST MLP"});
      std::cerr << "wrote " << html_path << "\n";
    }
  }

  // 2. gradcheck of the same loss on 4 images, in float64, for b1, W2 and b2 (714 derivatives;
  //    W1's 50,176 are checked the same way, only more slowly).
  {
    const xg::data::Batch four = train->get_batch({0, 1, 2, 3});
    const xg::Tensor images = four.data.to(xg::Dtype::float64);
    std::vector<xg::Tensor> p64;
    for (const xg::Tensor& p : params) p64.push_back(p.detach().to(xg::Dtype::float64));
    for (std::size_t i = 1; i < p64.size(); ++i) p64[i].requires_grad_();
    const xg::GradcheckReport report =
        xg::gradcheck([&](const std::vector<xg::Tensor>& p) { return loss_of(p, images, four.target); }, p64);
    // (the exact errors depend on the CPU's rounding; the bound does not)
    std::printf("\ngradcheck %s: %ld derivatives of b1, W2 and b2, largest relative error %s 1e-4\n\n",
                report.passed ? "passed" : "FAILED", static_cast<long>(report.entries_checked),
                report.max_rel_error < 1e-4 ? "below" : "above");
  }

  // 3. One epoch of gradient descent: p <- p - lr dloss/dp.
  const double lr = 0.1;
  int64_t step = 0;
  for (const xg::data::Batch& batch : loader) {
    xg::Tensor loss = loss_of(params, batch.data, batch.target);
    for (xg::Tensor& p : params) p.zero_grad();
    loss.backward();
    {
      xg::NoGradGuard no_grad;
      for (xg::Tensor& p : params) p.sub_(p.grad(), lr);
    }
    if (step % 200 == 0) std::printf("step %4ld  loss %.3f\n", static_cast<long>(step), loss.item());
    ++step;
  }
  xg::NoGradGuard no_grad;
  const xg::Tensor predicted = xg::argmax(logits_of(params, test->data()), 1);
  const double correct = xg::sum(xg::eq(predicted, test->target())).item();
  std::printf("after one epoch (%ld steps): test accuracy %.1f%%\n", static_cast<long>(step),
              100.0 * correct / static_cast<double>(test->size()));
  return 0;
}
