// Training from two threads at once: each thread has its own model, optimizer and data, and
// both share what xgrad shares between threads (the compute pool, grad mode, the tape's
// bookkeeping, OpenBLAS). The results must be bit for bit those of the same runs one after the
// other on one thread. Run under ThreadSanitizer by scripts/tsan.sh, where a data race fails it.
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/optim.hpp"

namespace {

// Deterministic values without the random generator: the models are built and filled here, on
// the calling thread, so that this test is about training, not about the generator.
std::vector<double> values(int64_t n, double salt) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(salt + 0.37 * static_cast<double>(i));
  return v;
}

struct Run {
  std::shared_ptr<xg::nn::Sequential> model;
  std::unique_ptr<xg::optim::Optimizer> opt;
  xg::Tensor x, y;
  std::vector<double> losses;

  Run(double salt, bool adam) {
    model = std::make_shared<xg::nn::Sequential>(std::vector<xg::nn::ModulePtr>{
        std::make_shared<xg::nn::Linear>(32, 64), std::make_shared<xg::nn::Tanh>(),
        std::make_shared<xg::nn::Linear>(64, 1)});
    {
      xg::NoGradGuard g;
      double s = salt;
      for (xg::Tensor& p : model->parameters()) {
        p.copy_(xg::tensor(values(p.numel(), s += 1.0), p.shape()).mul_(0.2));
      }
    }
    const std::vector<xg::Tensor> params = model->parameters();
    if (adam) {
      opt = std::make_unique<xg::optim::Adam>(params, xg::optim::AdamOptions{.lr = 1e-2});
    } else {
      opt = std::make_unique<xg::optim::SGD>(params, xg::optim::SGDOptions{.lr = 5e-2, .momentum = 0.9});
    }
    // 256 rows: the element-wise kernels and reductions split over the pool.
    x = xg::tensor(values(256 * 32, salt + 10.0), {256, 32});
    y = xg::tensor(values(256, salt + 20.0), {256, 1});
  }

  void train(int steps) {
    for (int i = 0; i < steps; ++i) {
      opt->zero_grad();
      xg::Tensor loss = xg::nn::functional::mse_loss(model->forward(x), y);
      loss.backward();
      opt->step();
      losses.push_back(loss.item());
    }
  }

  std::vector<std::vector<double>> params() const {
    std::vector<std::vector<double>> out;
    for (const xg::Tensor& p : model->parameters())
      out.push_back(p.to(xg::Dtype::float64).to_vector<double>());
    return out;
  }
};

}  // namespace

TEST_CASE("two models trained in two threads at once give the single-threaded results") {
  constexpr int steps = 30;
  Run ref_a(0.0, true), ref_b(5.0, false);
  ref_a.train(steps);
  ref_b.train(steps);
  // Training lowers the loss (so the runs compared are real training runs).
  CHECK(ref_a.losses.back() < 0.75 * ref_a.losses.front());
  CHECK(ref_b.losses.back() < 0.75 * ref_b.losses.front());

  for (int round = 0; round < 2; ++round) {
    Run a(0.0, true), b(5.0, false);
    std::thread ta([&] { a.train(steps); });
    std::thread tb([&] { b.train(steps); });
    ta.join();
    tb.join();
    CAPTURE(round);
    CHECK(a.losses == ref_a.losses);
    CHECK(b.losses == ref_b.losses);
    CHECK(a.params() == ref_a.params());
    CHECK(b.params() == ref_b.params());
  }
}

TEST_CASE("backward in one thread while another thread runs under NoGradGuard") {
  // Grad mode is per thread: a no-grad region in one thread must not stop the other's recording.
  xg::Tensor w = xg::tensor(values(64, 1.0), {8, 8}).requires_grad_();
  std::vector<double> grads;
  std::thread t1([&] {
    for (int i = 0; i < 50; ++i) {
      xg::Tensor y = xg::matmul(w, w).tanh().sum();
      const std::vector<xg::Tensor> g = xg::grad({y}, {w});
      grads.push_back(g[0].sum().item());
    }
  });
  std::thread t2([&] {
    for (int i = 0; i < 50; ++i) {
      xg::NoGradGuard guard;
      xg::Tensor z = xg::matmul(w, w).tanh();
      CHECK_FALSE(z.requires_grad());
    }
  });
  t1.join();
  t2.join();
  REQUIRE(grads.size() == 50);
  for (double g : grads) CHECK(g == grads[0]);
  // The same gradient computed alone.
  xg::Tensor y = xg::matmul(w, w).tanh().sum();
  CHECK(xg::grad({y}, {w})[0].sum().item() == grads[0]);
}
