// Memory stays flat (issue 6): a training step's tape and the tensors it saved are freed by
// backward and by dropping the loss, so nothing accumulates over steps. Checked through weak
// references to the recorded nodes and to an intermediate activation, the tape's size per step,
// and the reference counts of the parameters (every edge to a leaf holds one). bench `mlp_rss`
// measures the same thing as RSS over 10,000 steps.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "xgrad/autograd.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/optim/adam.hpp"

namespace {

using xg::Tensor;
namespace F = xg::nn::functional;

// A small MLP with dropout trained with Adam: the shape of xgrad-train's model, smaller.
struct Net {
  std::shared_ptr<xg::nn::Linear> fc1 = std::make_shared<xg::nn::Linear>(64, 32);
  std::shared_ptr<xg::nn::Linear> fc2 = std::make_shared<xg::nn::Linear>(32, 10);
  std::shared_ptr<xg::nn::Dropout> drop = std::make_shared<xg::nn::Dropout>(0.2);
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> p = fc1->parameters();
    for (auto& t : fc2->parameters()) p.push_back(t);
    return p;
  }
};

struct Forward {
  Tensor hidden;  // the activation fed to fc2 (saved by its matmul for backward)
  Tensor loss;
};

Forward forward(Net& net, const Tensor& x, const Tensor& y) {
  Forward f;
  f.hidden = net.drop->forward(xg::relu(net.fc1->forward(x)));
  f.loss = F::cross_entropy(net.fc2->forward(f.hidden), y);
  return f;
}

std::vector<std::weak_ptr<xg::Node>> weak_tape(const Tensor& loss) {
  std::vector<std::weak_ptr<xg::Node>> w;
  for (const auto& n : xg::tape_of(loss)) w.push_back(n);
  return w;
}

std::size_t alive(const std::vector<std::weak_ptr<xg::Node>>& nodes) {
  std::size_t n = 0;
  for (const auto& w : nodes) n += !w.expired();
  return n;
}

}  // namespace

TEST_CASE("a training step: backward frees the saved tensors, dropping the loss frees the tape") {
  xg::manual_seed(0);
  Net net;
  xg::optim::Adam opt(net.parameters(), {.lr = 1e-3});
  Tensor x = xg::randn({16, 64}), y = xg::randint(0, 10, {16});
  REQUIRE(net.parameters().size() == 4);  // the weights and biases of fc1 and fc2

  opt.zero_grad();
  Forward f = forward(net, x, y);
  const auto nodes = weak_tape(f.loss);
  REQUIRE(nodes.size() >= 6);  // linear, relu, dropout, linear, cross-entropy: each one op or more
  std::weak_ptr<xg::TensorImpl> hidden = f.hidden.impl();
  f.hidden = Tensor();
  // Before backward the loss keeps the whole tape and the saved activation alive.
  CHECK(alive(nodes) == nodes.size());
  CHECK_FALSE(hidden.expired());

  f.loss.backward();
  opt.step();
  // After backward (no retain_graph) every node has released what it saved: the activation,
  // held only by the saved tensors of fc2's matmul, is gone although the loss is still alive.
  CHECK(alive(nodes) == nodes.size());
  for (const auto& w : nodes) {
    auto n = w.lock();
    REQUIRE(n);
    CHECK_MESSAGE(n->released(), "node '" << n->name() << "' kept its saved tensors after backward");
  }
  CHECK(hidden.expired());
  // Dropping the loss frees every node of the tape.
  f.loss = Tensor();
  CHECK(alive(nodes) == 0);
  // The parameters stay leaves and their gradients carry no graph.
  for (const Tensor& p : net.parameters()) {
    CHECK(p.grad_fn() == nullptr);
    REQUIRE(p.grad().defined());
    CHECK(p.grad().grad_fn() == nullptr);
  }
}

TEST_CASE("retain_graph keeps the saved tensors (the check above can fail)") {
  xg::manual_seed(0);
  Net net;
  Tensor x = xg::randn({16, 64}), y = xg::randint(0, 10, {16});
  Forward f = forward(net, x, y);
  std::weak_ptr<xg::TensorImpl> hidden = f.hidden.impl();
  f.hidden = Tensor();
  f.loss.backward(Tensor(), /*retain_graph=*/true);
  CHECK_FALSE(hidden.expired());
  CHECK_FALSE(f.loss.grad_fn()->released());
  f.loss = Tensor();
  CHECK(hidden.expired());
}

TEST_CASE("200 training steps: the same tape every step, each freed by the next, no references pile up") {
  xg::manual_seed(0);
  Net net;
  xg::optim::Adam opt(net.parameters(), {.lr = 1e-3});
  Tensor x = xg::randn({32, 64}), y = xg::randint(0, 10, {32});
  const std::vector<Tensor> params = net.parameters();
  REQUIRE(params.size() == 4);
  std::vector<long> baseline;
  for (const Tensor& p : params) baseline.push_back(p.impl().use_count());

  std::size_t tape_size = 0;
  std::vector<std::weak_ptr<xg::Node>> previous;
  double first_loss = 0, last_loss = 0;
  std::size_t still_alive = 0, size_changed = 0, refs_changed = 0;
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    Tensor loss = forward(net, x, y).loss;
    const auto nodes = weak_tape(loss);
    if (step == 0) tape_size = nodes.size();
    size_changed += nodes.size() != tape_size;
    loss.backward();
    opt.step();
    (step == 0 ? first_loss : last_loss) = loss.item();
    still_alive += alive(previous);  // the previous step's graph must be gone by now
    loss = Tensor();
    still_alive += alive(nodes);
    for (std::size_t i = 0; i < params.size(); ++i)
      refs_changed += params[i].impl().use_count() != baseline[i];
    previous = nodes;
  }
  CHECK(tape_size >= 6);
  CHECK(size_changed == 0);
  CHECK(still_alive == 0);
  CHECK(refs_changed == 0);
  CHECK(last_loss < 0.5 * first_loss);  // it did train

  // The contrast: summing losses as tensors (not with item()) chains the steps' graphs, and
  // the checks above would see it.
  Tensor running = xg::scalar_tensor(0.0);
  std::vector<std::size_t> sizes;
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    running = running + forward(net, x, y).loss;
    sizes.push_back(xg::tape_of(running).size());
  }
  CHECK(sizes[1] > sizes[0] + tape_size / 2);
  CHECK(sizes[2] > sizes[1] + tape_size / 2);
  for (std::size_t i = 0; i < params.size(); ++i) CHECK(params[i].impl().use_count() > baseline[i]);
}
