// Capture and replay (autograd/capture/capture.cpp): a replayed step equals the eager step bit for
// bit (values, gradients, optimizer state after 10 steps); the guards raise typed errors naming
// what changed; what cannot be captured faithfully is refused during capture, saying where.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/autograd/capture/capture.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/normalization.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/optim/adam.hpp"
#include "xgrad/optim/scheduler.hpp"
#include "xgrad/optim/sgd.hpp"

namespace {

using xg::Tensor;
namespace F = xg::nn::functional;

bool same_bits(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  if (!(a.shape() == b.shape()) || a.dtype() != b.dtype()) return false;
  return std::memcmp(a.raw_data(), b.raw_data(),
                     static_cast<std::size_t>(a.numel()) * xg::dtype_size(a.dtype())) == 0;
}

// The bench's tiny workload: 100 x tanh(y * w + b) on [16], sum, backward, SGD by hand.
struct Tiny {
  Tensor x, w, b;
  explicit Tiny(uint64_t seed) {
    xg::manual_seed(seed);
    x = xg::randn({16}, {.requires_grad = true});
    w = xg::randn({16}, {.requires_grad = true});
    b = xg::randn({16}, {.requires_grad = true});
  }
  Tensor step(const Tensor& in) {
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    Tensor y = in;
    for (int i = 0; i < 100; ++i) y = xg::tanh(y * w + b);
    Tensor loss = xg::sum(y);
    loss.backward();
    xg::NoGradGuard no_grad;
    w.sub_(w.grad(), 0.01);
    b.sub_(b.grad(), 0.01);
    return loss;
  }
};

TEST_CASE("tiny: replay equals eager bit for bit over 10 steps") {
  Tiny eager(0), replayed(0);
  std::vector<Tensor> inputs;
  xg::manual_seed(7);
  for (int i = 0; i < 10; ++i) inputs.push_back(xg::randn({16}));
  // Step 1 is the capture itself (it runs eagerly); steps 2..10 are replays.
  auto plan = xg::capture([&](const Tensor& in) { return replayed.step(in); }, inputs[0]);
  CHECK(plan.num_kernels() > 0);  // (fused: see the fusion tests)
  Tensor le = eager.step(inputs[0]);
  CHECK(same_bits(le, plan.output()));
  for (int i = 1; i < 10; ++i) {
    le = eager.step(inputs[static_cast<std::size_t>(i)]);
    const Tensor& lr = plan.replay(inputs[static_cast<std::size_t>(i)]);
    CHECK(same_bits(le, lr));
  }
  CHECK(same_bits(eager.w, replayed.w));
  CHECK(same_bits(eager.b, replayed.b));
  CHECK(same_bits(eager.w.grad(), replayed.w.grad()));
  CHECK(same_bits(eager.b.grad(), replayed.b.grad()));
  // The arena reuses slots: far smaller than every intermediate on its own.
  CHECK(plan.arena_bytes() * 4 < plan.unplanned_bytes());
}

std::shared_ptr<xg::nn::Sequential> mlp() {
  auto net = std::make_shared<xg::nn::Sequential>();
  net->push_back(std::make_shared<xg::nn::Linear>(20, 16));
  net->push_back(std::make_shared<xg::nn::ReLU>());
  net->push_back(std::make_shared<xg::nn::Linear>(16, 5));
  return net;
}

TEST_CASE("mlp with SGD momentum: replay equals eager (loss, parameters, gradients, momentum)") {
  xg::manual_seed(1);
  auto a = mlp();
  xg::manual_seed(1);
  auto b = mlp();
  xg::optim::SGD oa(a->parameters(), {.lr = 0.05, .momentum = 0.9});
  xg::optim::SGD ob(b->parameters(), {.lr = 0.05, .momentum = 0.9});
  std::vector<Tensor> xs, ys;
  xg::manual_seed(3);
  for (int i = 0; i < 10; ++i) {
    xs.push_back(xg::randn({8, 20}));
    ys.push_back(xg::randint(0, 5, {8}));
  }
  auto step = [](xg::nn::Sequential& net, xg::optim::SGD& opt, const Tensor& x, const Tensor& y) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  auto plan = xg::capture([&](const Tensor& x, const Tensor& y) { return step(*b, ob, x, y); }, xs[0], ys[0]);
  CHECK(same_bits(step(*a, oa, xs[0], ys[0]), plan.output()));
  for (std::size_t i = 1; i < 10; ++i)
    CHECK(same_bits(step(*a, oa, xs[i], ys[i]), plan.replay(xs[i], ys[i])));
  const auto pa = a->parameters(), pb = b->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    CHECK(same_bits(pa[i], pb[i]));
    CHECK(same_bits(pa[i].grad(), pb[i].grad()));
  }
  const auto sa = oa.state_dict(), sb = ob.state_dict();
  REQUIRE(sa.tensors.size() == sb.tensors.size());
  CHECK(sa.tensors.size() >= 4);  // the momentum buffers
  for (std::size_t i = 0; i < sa.tensors.size(); ++i) {
    CHECK(sa.tensors[i].first == sb.tensors[i].first);
    CHECK(same_bits(sa.tensors[i].second, sb.tensors[i].second));
  }
  CHECK(sa.metadata == sb.metadata);
}

// Trains two copies of a model from the same seed, one eagerly and one by capture + replay, on the
// same 10 batches, and compares every bit: losses, parameters, gradients, optimizer state, RNG.
template <class Make, class Step>
void check_replay_equals_eager(Make make, Step step, const std::vector<Tensor>& xs,
                               const std::vector<Tensor>& ys) {
  xg::manual_seed(11);
  auto a = make();
  xg::manual_seed(11);
  auto b = make();
  xg::optim::Adam oa(a.params, {.lr = 1e-2});
  xg::optim::Adam ob(b.params, {.lr = 1e-2});
  auto plan = xg::capture([&](const Tensor& x, const Tensor& y) { return step(b, ob, x, y); }, xs[0], ys[0]);
  CHECK(same_bits(step(a, oa, xs[0], ys[0]), plan.output()));
  const auto rng = xg::get_rng_state();
  for (std::size_t i = 1; i < xs.size(); ++i)
    CHECK(same_bits(step(a, oa, xs[i], ys[i]), plan.replay(xs[i], ys[i])));
  CHECK(xg::get_rng_state() == rng);  // neither draws: the generator is where eager leaves it
  for (std::size_t i = 0; i < a.params.size(); ++i) {
    CHECK(same_bits(a.params[i], b.params[i]));
    CHECK(same_bits(a.params[i].grad(), b.params[i].grad()));
  }
  const auto sa = oa.state_dict(), sb = ob.state_dict();
  REQUIRE(sa.tensors.size() == sb.tensors.size());
  for (std::size_t i = 0; i < sa.tensors.size(); ++i)
    CHECK(same_bits(sa.tensors[i].second, sb.tensors[i].second));
  CHECK(sa.metadata == sb.metadata);  // step counts
}

struct ConvNet {
  std::shared_ptr<xg::nn::Conv2d> c1 = std::make_shared<xg::nn::Conv2d>(
      xg::nn::Conv2dOptions{.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1});
  std::shared_ptr<xg::nn::Linear> f = std::make_shared<xg::nn::Linear>(4 * 4 * 4, 3);
  std::vector<Tensor> params;
  ConvNet() {
    params = c1->parameters();
    for (auto& p : f->parameters()) params.push_back(p);
  }
};

TEST_CASE("conv net with Adam: replay equals eager (conv2d, its gradients, max_pool2d, 10 steps)") {
  std::vector<Tensor> xs, ys;
  xg::manual_seed(5);
  for (int i = 0; i < 10; ++i) {
    xs.push_back(xg::randn({2, 1, 8, 8}));
    ys.push_back(xg::randint(0, 3, {2}));
  }
  check_replay_equals_eager([] { return ConvNet(); },
                            [](ConvNet& n, xg::optim::Adam& opt, const Tensor& x, const Tensor& y) {
                              opt.zero_grad();
                              Tensor h = F::max_pool2d(xg::relu(n.c1->forward(x)), 2);
                              Tensor loss = F::cross_entropy(n.f->forward(xg::flatten(h, 1)), y);
                              loss.backward();
                              opt.step();
                              return loss;
                            },
                            xs, ys);
}

struct LstmNet {
  std::shared_ptr<xg::nn::LSTMCell> cell = std::make_shared<xg::nn::LSTMCell>(3, 6);
  std::shared_ptr<xg::nn::Linear> head = std::make_shared<xg::nn::Linear>(6, 2);
  std::vector<Tensor> params;
  LstmNet() {
    params = cell->parameters();
    for (auto& p : head->parameters()) params.push_back(p);
  }
};

TEST_CASE("LSTM cell over 5 time steps with Adam: replay equals eager") {
  std::vector<Tensor> xs, ys;
  xg::manual_seed(6);
  for (int i = 0; i < 10; ++i) {
    xs.push_back(xg::randn({4, 3}));
    ys.push_back(xg::randint(0, 2, {4}));
  }
  check_replay_equals_eager([] { return LstmNet(); },
                            [](LstmNet& n, xg::optim::Adam& opt, const Tensor& x, const Tensor& y) {
                              opt.zero_grad();
                              xg::nn::LSTMState s{xg::zeros({4, 6}), xg::zeros({4, 6})};
                              for (int64_t t = 0; t < 5; ++t) s = n.cell->forward(x * (1.0 + 0.1 * t), s);
                              Tensor loss = F::cross_entropy(n.head->forward(s.h), y);
                              loss.backward();
                              opt.step();
                              return loss;
                            },
                            xs, ys);
}

TEST_CASE("an LR schedule stepped between replays is seen by the plan") {
  xg::manual_seed(1);
  auto a = mlp();
  xg::manual_seed(1);
  auto b = mlp();
  xg::optim::SGD oa(a->parameters(), {.lr = 0.1});
  xg::optim::SGD ob(b->parameters(), {.lr = 0.1});
  xg::optim::StepLR la(oa, {.step_size = 2, .gamma = 0.5}), lb(ob, {.step_size = 2, .gamma = 0.5});
  Tensor x = xg::randn({8, 20}), y = xg::randint(0, 5, {8});
  auto step = [&](xg::nn::Sequential& net, xg::optim::SGD& opt) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  auto plan = xg::capture([&] { return step(*b, ob); });
  step(*a, oa);
  for (int i = 0; i < 6; ++i) {
    la.step();
    lb.step();
    CHECK(same_bits(step(*a, oa), plan.replay()));
  }
  CHECK(ob.lr() == doctest::Approx(0.1 * 0.125));
  CHECK(same_bits(a->parameters()[0], b->parameters()[0]));
}

TEST_CASE("dropout: each replay draws a new mask from the generator, exactly as eager") {
  xg::manual_seed(2);
  auto a = mlp();
  xg::manual_seed(2);
  auto b = mlp();
  auto da = std::make_shared<xg::nn::Dropout>(0.5), db = std::make_shared<xg::nn::Dropout>(0.5);
  xg::optim::SGD oa(a->parameters(), {.lr = 0.05}), ob(b->parameters(), {.lr = 0.05});
  xg::Generator ga(123), gb(123);  // one generator each: the two runs draw the same numbers
  Tensor x = xg::randn({8, 20}), y = xg::randint(0, 5, {8});
  auto step = [&](xg::nn::Sequential& net, xg::optim::SGD& opt, xg::Generator& g) {
    opt.zero_grad();
    Tensor h = F::dropout(x, 0.5, true, &g);
    Tensor loss = F::cross_entropy(net.forward(h), y);
    loss.backward();
    opt.step();
    return loss;
  };
  auto plan = xg::capture([&] { return step(*b, ob, gb); });
  Tensor first = step(*a, oa, ga).clone();
  CHECK(same_bits(first, plan.output()));
  bool changed = false;
  for (int i = 1; i < 10; ++i) {
    Tensor le = step(*a, oa, ga);
    CHECK(same_bits(le, plan.replay()));
    changed = changed || !same_bits(le, first);
  }
  CHECK(changed);  // new masks each step (not the capture's mask again)
  CHECK(same_bits(ga.get_state(), gb.get_state()));
  for (std::size_t i = 0; i < a->parameters().size(); ++i)
    CHECK(same_bits(a->parameters()[i], b->parameters()[i]));
}

TEST_CASE("an eager step between replays (a smaller last batch) leaves the plan correct") {
  xg::manual_seed(1);
  auto a = mlp();
  xg::manual_seed(1);
  auto b = mlp();
  xg::optim::SGD oa(a->parameters(), {.lr = 0.05, .momentum = 0.9});
  xg::optim::SGD ob(b->parameters(), {.lr = 0.05, .momentum = 0.9});
  auto step = [](xg::nn::Sequential& net, xg::optim::SGD& opt, const Tensor& x, const Tensor& y) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  Tensor x = xg::randn({8, 20}), y = xg::randint(0, 5, {8}), xs = xg::randn({3, 20}),
         ys = xg::randint(0, 5, {3});
  auto plan = xg::capture([&](const Tensor& u, const Tensor& v) { return step(*b, ob, u, v); }, x, y);
  step(*a, oa, x, y);
  for (int i = 0; i < 3; ++i) {
    CHECK(same_bits(step(*a, oa, xs, ys), step(*b, ob, xs, ys)));  // eager on both: new grad tensors
    CHECK(same_bits(step(*a, oa, x, y), plan.replay(x, y)));       // the plan's gradients re-attached
  }
  for (std::size_t i = 0; i < a->parameters().size(); ++i)
    CHECK(same_bits(a->parameters()[i], b->parameters()[i]));
}

TEST_CASE("batch norm in training: replay equals eager, running statistics and counter included") {
  auto make = [] {
    auto net = std::make_shared<xg::nn::Sequential>();
    net->push_back(std::make_shared<xg::nn::Linear>(20, 16));
    net->push_back(std::make_shared<xg::nn::BatchNorm1d>(16));
    net->push_back(std::make_shared<xg::nn::ReLU>());
    net->push_back(std::make_shared<xg::nn::Linear>(16, 5));
    return net;
  };
  xg::manual_seed(4);
  auto a = make();
  xg::manual_seed(4);
  auto b = make();
  xg::optim::Adam oa(a->parameters(), {.lr = 1e-2}), ob(b->parameters(), {.lr = 1e-2});
  auto step = [](xg::nn::Sequential& net, xg::optim::Adam& opt, const Tensor& x, const Tensor& y) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  std::vector<Tensor> xs, ys;
  for (int i = 0; i < 10; ++i) {
    xs.push_back(xg::randn({8, 20}));
    ys.push_back(xg::randint(0, 5, {8}));
  }
  auto plan = xg::capture([&](const Tensor& u, const Tensor& v) { return step(*b, ob, u, v); }, xs[0], ys[0]);
  CHECK(same_bits(step(*a, oa, xs[0], ys[0]), plan.output()));
  for (std::size_t i = 1; i < 10; ++i)
    CHECK(same_bits(step(*a, oa, xs[i], ys[i]), plan.replay(xs[i], ys[i])));
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  REQUIRE(ba.size() == bb.size());
  REQUIRE(ba.size() == 3);  // running_mean, running_var, num_batches_tracked
  for (std::size_t i = 0; i < ba.size(); ++i) CHECK(same_bits(ba[i].second, bb[i].second));
  CHECK(bb[2].second.item<int64_t>() == 10);
}

TEST_CASE("replay guards: other shapes, dtypes or input counts raise typed errors naming them") {
  Tiny t(0);
  auto plan = xg::capture([&](const Tensor& in) { return t.step(in); }, xg::randn({16}));
  CHECK_ERROR(plan.replay(xg::randn({8})), xg::ShapeError, "replay: input 0 has shape [8]",
              "captured with [16]");
  CHECK_ERROR(plan.replay(xg::randn({16}, {.dtype = xg::Dtype::float64})), xg::TypeError,
              "replay: input 0 has dtype float64", "float32");
  CHECK_ERROR(plan.replay(), xg::ValueError, "captured with 1 inputs, got 0");
}

TEST_CASE("capture refuses to read values on the host, saying where") {
  Tensor w = xg::randn({4}, {.requires_grad = true});
  auto branchy = [&](const Tensor& x) {
    Tensor y = x * w;
    if (xg::sum(y).item() > 0) y = y * 2.0;  // a branch on a value: not capturable
    return xg::sum(y);
  };
  CHECK_ERROR(xg::capture(branchy, xg::randn({4})), xg::CaptureError, "item() read a tensor's value",
              "test_capture.cpp:", "cannot branch on values");
}

TEST_CASE("an op without a capture form is refused, named") {
  Tensor w = xg::randn({4}, {.requires_grad = true});
  // clamp's kernel holds its bounds: no capture form yet.
  auto f = [&](const Tensor& x) { return xg::sum(xg::clamp(x * w, -1.0, 1.0)); };
  CHECK_ERROR(xg::capture(f, xg::randn({4})), xg::CaptureError, "capture: clamp");
}

TEST_CASE("print_plan shows each kernel, its buffers and the arena") {
  Tensor w = xg::randn({4}, {.requires_grad = true});
  auto plan = xg::capture([&](const Tensor& x) { return xg::sum(xg::tanh(x * w)); }, xg::randn({4}));
  const std::string s = xg::plan_string(plan);
  CHECK(s.find("mul") != std::string::npos);
  CHECK(s.find("tanh") != std::string::npos);
  CHECK(s.find("external") != std::string::npos);
  CHECK(s.find("arena: ") != std::string::npos);
}

// Fusion (capture.cpp): consecutive element-wise kernels over one count whose intermediates die
// in the chain run as one kernel, block by block, the intermediates in block scratch.
struct FusionOff {  // XG_CAPTURE_FUSE=0 while alive: plans captured unfused, for comparison
  FusionOff() { setenv("XG_CAPTURE_FUSE", "0", 1); }
  ~FusionOff() { unsetenv("XG_CAPTURE_FUSE"); }
};

// A chain forward and backward over n elements: SIMD kernels (tanh, sigmoid, exp), arithmetic
// with a parameter and with a scalar. n is not a multiple of the block nor of a SIMD width, and
// is large enough for the pool to split the chain.
struct Chain {
  Tensor w, c;
  Chain(int64_t n, uint64_t seed) {
    xg::manual_seed(seed);
    w = xg::randn({n}, {.requires_grad = true});
    c = xg::randn({n}, {.requires_grad = true});
  }
  Tensor step(const Tensor& x) {
    w.zero_grad();
    c.zero_grad();
    const Tensor a = xg::sigmoid(xg::tanh(x * w + c) * 0.5);
    const Tensor e = xg::exp(x * c * 0.1);
    const Tensor y = a - e;
    Tensor loss = xg::sum(y * y);
    loss.backward();
    xg::NoGradGuard no_grad;
    w.sub_(w.grad(), 0.01);
    c.sub_(c.grad(), 0.01);
    return loss;
  }
};

TEST_CASE("fusion: an element-wise chain replays bit for bit, in one kernel, with a smaller arena") {
  for (const int64_t n : {int64_t{5}, int64_t{1000}, int64_t{40013}}) {
    CAPTURE(n);
    Chain eager(n, 1), replayed(n, 1), unfused(n, 1);
    std::vector<Tensor> inputs;
    xg::manual_seed(3);
    for (int i = 0; i < 4; ++i) inputs.push_back(xg::randn({n}));
    auto plan = xg::capture([&](const Tensor& x) { return replayed.step(x); }, inputs[0]);
    xg::Plan off;
    {
      FusionOff guard;
      off = xg::capture([&](const Tensor& x) { return unfused.step(x); }, inputs[0]);
    }
    const std::string s = xg::plan_string(plan);
    INFO(s);
    // forward: the products and sums die in the chain, tanh, sigmoid and exp are saved for backward
    CHECK(s.find("fused[mul,add,tanh,mul,sigmoid,mul,mul,exp] (5 intermediates in block scratch)") !=
          std::string::npos);
    CHECK(s.find("fused[", s.find("fused[") + 1) != std::string::npos);  // and one in backward
    CHECK(xg::plan_string(off).find("fused[") == std::string::npos);
    CHECK(plan.num_kernels() < off.num_kernels());
    CHECK(plan.arena_bytes() < off.arena_bytes());
    CHECK(plan.unplanned_bytes() == off.unplanned_bytes());
    Tensor le = eager.step(inputs[0]);
    CHECK(same_bits(le, plan.output()));
    for (int i = 1; i < 4; ++i) {
      le = eager.step(inputs[static_cast<std::size_t>(i)]);
      CHECK(same_bits(le, plan.replay(inputs[static_cast<std::size_t>(i)])));
      CHECK(same_bits(le, off.replay(inputs[static_cast<std::size_t>(i)])));
    }
    CHECK(same_bits(eager.w, replayed.w));
    CHECK(same_bits(eager.c, replayed.c));
    CHECK(same_bits(eager.w.grad(), replayed.w.grad()));
    CHECK(same_bits(eager.c.grad(), replayed.c.grad()));
  }
}

TEST_CASE("fusion: the tiny chain (100 layers) runs forward and backward as two kernels, bit for bit") {
  Tiny eager(0), replayed(0), unfused(0);
  xg::manual_seed(5);
  const Tensor in0 = xg::randn({16});
  auto plan = xg::capture([&](const Tensor& in) { return replayed.step(in); }, in0);
  xg::Plan off;
  {
    FusionOff guard;
    off = xg::capture([&](const Tensor& in) { return unfused.step(in); }, in0);
  }
  const std::string s = xg::plan_string(plan);
  CHECK(s.find("fused[mul,add,tanh,mul,add,tanh,") != std::string::npos);
  CHECK(s.find(",... 300 kernels] (200 intermediates in block scratch)") != std::string::npos);
  CHECK(off.num_kernels() > 600);
  CHECK(plan.num_kernels() < 10);
  CHECK(plan.arena_bytes() < off.arena_bytes());
  CHECK(same_bits(eager.step(in0), plan.output()));
  for (int i = 0; i < 5; ++i) {
    const Tensor in = xg::randn({16});
    const Tensor le = eager.step(in);
    CHECK(same_bits(le, plan.replay(in)));
    CHECK(same_bits(le, off.replay(in)));
  }
  CHECK(same_bits(eager.w, replayed.w));
  CHECK(same_bits(eager.b.grad(), replayed.b.grad()));
}

TEST_CASE("fusion: a chain of several blocks writes no buffer over one it still has to read") {
  // X (float32) dies in the chain at its first member; Y (float64, twice X's bytes) is written by
  // its last member and read after it. Unfused, Y may take X's memory; fused, block 0 of Y would
  // overwrite elements of X that block 1 has still to read: the planner must keep them apart.
  const int64_t n = 4096;  // 8 blocks
  const Tensor w = xg::randn({n}), w64 = xg::randn({n}).to(xg::Dtype::float64);
  auto step = [&](const Tensor& x) {
    const Tensor X = xg::relu(x);
    const Tensor x64 = x.to(xg::Dtype::float64);  // (not element-wise: X's chain starts after it)
    const Tensor b = xg::tanh(X * w);
    const Tensor Y = x64 * w64 + 1.0;
    return xg::sum(b).to(xg::Dtype::float64) + xg::sum(Y) + xg::sum(x64);
  };
  xg::manual_seed(11);
  const Tensor x0 = xg::randn({n}), x1 = xg::randn({n});
  auto plan = xg::capture(step, x0);
  INFO(xg::plan_string(plan));
  CHECK(xg::plan_string(plan).find("fused[mul,tanh,mul,add]") != std::string::npos);
  CHECK(same_bits(plan.replay(x1), step(x1)));
  CHECK(same_bits(plan.replay(x0), step(x0)));
}

TEST_CASE("fusion: an intermediate read after the chain, or kept, is not fused") {
  Tensor w = xg::randn({64});
  const Tensor x0 = xg::randn({64}), x1 = xg::randn({64});
  // read later: x * w is read by the second sum, after the chain mul, tanh
  auto later = [&](const Tensor& x) {
    const Tensor a = x * w;
    return xg::sum(xg::tanh(a)) + xg::sum(a);
  };
  auto p1 = xg::capture(later, x0);
  CHECK(xg::plan_string(p1).find("fused[") == std::string::npos);
  CHECK(same_bits(p1.replay(x1), later(x1)));
  // kept: the step stores x * w where it outlives the step
  Tensor kept;
  auto keep = [&](const Tensor& x) {
    kept = x * w;
    return xg::sum(xg::tanh(kept));
  };
  auto p2 = xg::capture(keep, x0);
  const std::string s2 = xg::plan_string(p2);
  CHECK(s2.find("fused[") == std::string::npos);
  CHECK(s2.find("kept") != std::string::npos);
  const Tensor r = p2.replay(x1);
  CHECK(same_bits(r, keep(x1)));
  // a chain whose intermediate dies in it fuses; the buffer it skips is shown as fused
  auto dies = [&](const Tensor& x) { return xg::sum(xg::tanh(x * w)); };
  const std::string s3 = xg::plan_string(xg::capture(dies, x0));
  CHECK(s3.find("fused[mul,tanh] (1 intermediate in block scratch)") != std::string::npos);
  // and one of no elements
  const Tensor w0 = xg::randn({0});
  auto empty = [&](const Tensor& x) { return xg::sum(xg::tanh(x * w0)); };
  auto p4 = xg::capture(empty, xg::randn({0}));
  CHECK(xg::plan_string(p4).find("fused[mul,tanh]") != std::string::npos);
  CHECK(p4.replay(xg::randn({0})).item<float>() == 0.0f);
}

}  // namespace
