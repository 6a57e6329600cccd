// Tests of nn/dist.cpp, run on 2 ranks by meson (mpirun -np 2). Every rank runs every case; a
// check that fails on any rank fails the job.
#define DOCTEST_CONFIG_IMPLEMENT
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <thread>

#include "../helpers.hpp"
#include "xgrad/autograd/kernels/threads.hpp"
#include "xgrad/nn/dist.hpp"
#include "xgrad/nn/nn.hpp"
#include "xgrad/optim/optim.hpp"
#include "xgrad/xgrad.hpp"

namespace {

namespace F = xg::nn::functional;
using xg::Dtype;
using xg::Tensor;
namespace dist = xg::dist;

// A small float64 MLP, the same on every rank (seeded), and a fixed batch of 2B examples.
struct Net : xg::nn::Module {
  std::shared_ptr<xg::nn::Linear> fc1, fc2;
  Net() {
    fc1 = register_module("fc1", std::make_shared<xg::nn::Linear>(5, 8));
    fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(8, 3));
  }
  Tensor forward(const Tensor& x) override { return fc2->forward(xg::tanh(fc1->forward(x))); }
};

std::shared_ptr<Net> make_net(uint64_t seed) {
  xg::manual_seed(seed);
  auto m = std::make_shared<Net>();
  m->to(Dtype::float64);
  return m;
}

struct Batch {
  Tensor x, y;
};
Batch full_batch(int64_t n, uint64_t seed) {
  xg::manual_seed(seed);
  Tensor x = xg::randn({n, 5}, {.dtype = Dtype::float64});
  std::vector<int64_t> y(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[i] = (i * 7 + static_cast<int64_t>(seed)) % 3;
  return {x, xg::from_vector(y, {n})};
}
// This rank's equal shard of the rows.
Batch shard(const Batch& b) {
  const int64_t per = b.x.size(0) / dist::world_size(), lo = per * dist::rank();
  return {xg::narrow(b.x, 0, lo, per), xg::narrow(b.y, 0, lo, per)};
}

double max_diff(xg::nn::Module& a, xg::nn::Module& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  double m = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) m = std::max(m, xg::max(xg::abs(pa[i] - pb[i])).item());
  return m;
}

// True when t has the same values on every rank (its sum over the ranks is W times it).
bool same_on_all_ranks(const Tensor& t) {
  Tensor s = t.clone().detach();
  dist::all_reduce(s);
  return xg::max(xg::abs(s - t.detach() * static_cast<double>(dist::world_size()))).item() == 0.0;
}

}  // namespace

TEST_CASE("broadcast copies the root's values exactly, float32, float64 and int64") {
  const int r = dist::rank();
  Tensor d = r == 0 ? xg::tensor({1.5, -2.25, 1e-300, 3.0}, {.dtype = Dtype::float64})
                    : xg::zeros({4}, {.dtype = Dtype::float64});
  dist::broadcast(d);
  CHECK(d.to_vector<double>() == std::vector<double>{1.5, -2.25, 1e-300, 3.0});
  Tensor f = r == 0 ? xg::tensor({0.1, 7.0}) : xg::zeros({2});
  dist::broadcast(f);
  CHECK(f.to_vector<float>() == std::vector<float>{0.1f, 7.0f});
  const int64_t big = (int64_t(1) << 53) + 1;  // not representable as a double
  Tensor i = xg::from_vector(std::vector<int64_t>{r == 0 ? big : 0, r == 0 ? -5 : 0}, {2});
  dist::broadcast(i);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{big, -5});
  // From the last rank.
  Tensor l = xg::full({3}, static_cast<double>(r), {.dtype = Dtype::float64});
  dist::broadcast(l, dist::world_size() - 1);
  CHECK(l.to_vector<double>() == std::vector<double>(3, dist::world_size() - 1));
  CHECK_ERROR(dist::broadcast(l, dist::world_size()), xg::ValueError, "broadcast", "root 2 out of range");
}

TEST_CASE("all_reduce sums and averages exactly") {
  const int r = dist::rank(), w = dist::world_size();
  const double tri = w * (w + 1) / 2.0;  // sum of r + 1 over the ranks
  Tensor d = xg::tensor({r + 1.0, 0.5 * (r + 1), -3.0}, {.dtype = Dtype::float64});
  dist::all_reduce(d);
  CHECK(d.to_vector<double>() == std::vector<double>{tri, 0.5 * tri, -3.0 * w});
  Tensor m = xg::tensor({r + 1.0, 4.0}, {.dtype = Dtype::float64});
  dist::all_reduce(m, dist::ReduceOp::mean);
  CHECK(m.to_vector<double>() == std::vector<double>{tri / w, 4.0});
  Tensor f = xg::tensor({0.25f * static_cast<float>(r + 1)});
  dist::all_reduce(f, dist::ReduceOp::mean);
  CHECK(f.to_vector<float>() == std::vector<float>{static_cast<float>(0.25 * tri / w)});
  const int64_t big = int64_t(1) << 60;
  Tensor i = xg::from_vector(std::vector<int64_t>{big + r, -r}, {2});
  dist::all_reduce(i);
  CHECK(i.to_vector<int64_t>() ==
        std::vector<int64_t>{big * w + static_cast<int64_t>(tri) - w, -static_cast<int64_t>(tri) + w});
  CHECK_ERROR(dist::all_reduce(i, dist::ReduceOp::mean), xg::TypeError, "all_reduce", "int64", "truncate");
}

TEST_CASE("MPI is called from the Environment's thread only (MPI_THREAD_FUNNELED)") {
  Tensor t = xg::ones({2}, {.dtype = Dtype::float64});
  std::string message;
  std::thread other([&] { message = ERROR_MESSAGE(dist::all_reduce(t), dist::Error); });
  other.join();
  CHECK(message.find("all_reduce called from another thread than the Environment's") != std::string::npos);
  CHECK(t.to_vector<double>() == std::vector<double>{1.0, 1.0});  // untouched
}

TEST_CASE("broadcast_parameters makes every replica rank 0's") {
  auto m = make_net(100 + static_cast<uint64_t>(dist::rank()));  // different on each rank
  CHECK_FALSE(same_on_all_ranks(m->fc1->weight));
  dist::broadcast_parameters(*m);
  auto ref = make_net(100);
  CHECK(max_diff(*m, *ref) == 0.0);
}

// Trains `steps` steps of opt_kind with DDP on this rank's shard of each batch and, on every rank,
// a single-process copy on the full batch; returns the largest parameter difference.
double ddp_vs_single(const std::string& opt_kind, int steps, double bucket_mb) {
  auto single = make_net(7);
  auto replica = make_net(7 + static_cast<uint64_t>(dist::rank()));  // DDP's broadcast equalises them
  dist::DistributedDataParallel ddp(replica, {.bucket_cap_mb = bucket_mb});
  auto make_opt = [&](xg::nn::Module& m) -> std::unique_ptr<xg::optim::Optimizer> {
    if (opt_kind == "sgd")
      return std::make_unique<xg::optim::SGD>(m.parameters(),
                                              xg::optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
    return std::make_unique<xg::optim::Adam>(m.parameters(), xg::optim::AdamOptions{.lr = 0.01});
  };
  auto o1 = make_opt(*single), o2 = make_opt(*replica);
  for (int s = 0; s < steps; ++s) {
    const Batch b = full_batch(8 * dist::world_size(), 1000 + static_cast<uint64_t>(s));
    o1->zero_grad();
    F::cross_entropy(single->forward(b.x), b.y).backward();
    o1->step();
    const Batch mine = shard(b);
    o2->zero_grad();
    F::cross_entropy(ddp(mine.x), mine.y).backward();
    ddp.finish();  // a no-op here: backward reached every parameter
    o2->step();
  }
  return max_diff(*single, *replica);
}

TEST_CASE("DDP on W ranks with batch B equals one process with batch W*B, SGD and Adam, 20 steps") {
  const double sgd = ddp_vs_single("sgd", 20, 25.0);
  const double adam = ddp_vs_single("adam", 20, 25.0);
  // Buckets of 128 bytes: four buckets, started one by one from the hooks.
  const double small = ddp_vs_single("sgd", 20, 128.0 / (1 << 20));
  if (dist::rank() == 0)
    MESSAGE("max |DDP - single| after 20 steps: SGD " << sgd << ", Adam " << adam << ", small buckets "
                                                      << small);
  CHECK(sgd <= 1e-12);
  CHECK(adam <= 1e-12);
  CHECK(small <= 1e-12);
}

TEST_CASE("buckets follow the reverse parameter order and the size cap") {
  auto m = make_net(1);
  // Parameters: fc1.weight 40, fc1.bias 8, fc2.weight 24, fc2.bias 3 (float64). 256 bytes = 32 values.
  dist::DistributedDataParallel big(m);
  CHECK(big.bucket_sizes() == std::vector<std::size_t>{4});
  dist::DistributedDataParallel small(m, {.bucket_cap_mb = 256.0 / (1 << 20)});
  // fc2.bias + fc2.weight (27), fc1.bias (8: 35 > 32 closes), fc1.weight (40 alone).
  CHECK(small.bucket_sizes() == std::vector<std::size_t>{2, 1, 1});
  CHECK_ERROR(dist::DistributedDataParallel(m, {.bucket_cap_mb = 0}), xg::ValueError, "bucket_cap_mb");
}

TEST_CASE("no_sync accumulates locally; the next backward averages the total") {
  auto single = make_net(3);
  auto replica = make_net(3);
  dist::DistributedDataParallel ddp(replica);
  const Batch b1 = full_batch(4 * dist::world_size(), 11), b2 = full_batch(4 * dist::world_size(), 12);
  F::cross_entropy(single->forward(b1.x), b1.y).backward();
  F::cross_entropy(single->forward(b2.x), b2.y).backward();
  const Batch s1 = shard(b1), s2 = shard(b2);
  {
    auto guard = ddp.no_sync();
    F::cross_entropy(ddp(s1.x), s1.y).backward();
  }
  // Local only: this rank's shard gradient, which differs between the ranks.
  auto local = make_net(3);
  F::cross_entropy(local->forward(s1.x), s1.y).backward();
  CHECK(xg::max(xg::abs(replica->fc1->weight.grad() - local->fc1->weight.grad())).item() == 0.0);
  CHECK_FALSE(same_on_all_ranks(replica->fc1->weight.grad()));
  F::cross_entropy(ddp(s2.x), s2.y).backward();
  const auto ps = single->parameters(), pr = replica->parameters();
  for (std::size_t i = 0; i < ps.size(); ++i) {
    CHECK(xg::max(xg::abs(ps[i].grad() - pr[i].grad())).item() <= 1e-15);
    CHECK(same_on_all_ranks(pr[i].grad()));
  }
}

namespace {
// fc2 is used only when asked: a parameter backward may not reach.
struct Branchy : xg::nn::Module {
  std::shared_ptr<xg::nn::Linear> fc1, fc2;
  bool use_fc2 = true;
  Branchy() {
    fc1 = register_module("fc1", std::make_shared<xg::nn::Linear>(3, 3));
    fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(3, 3));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = fc1->forward(x);
    return use_fc2 ? fc2->forward(h) : h;
  }
};
}  // namespace

TEST_CASE("finish() completes a reduction backward left open, and forward refuses to go on without it") {
  xg::manual_seed(5);
  auto m = std::make_shared<Branchy>();
  m->to(Dtype::float64);
  dist::DistributedDataParallel ddp(m);
  m->use_fc2 = false;
  Tensor x = xg::full({2, 3}, dist::rank() + 1.0, {.dtype = Dtype::float64});
  ddp(x).sum().backward();
  CHECK_ERROR(ddp(x), xg::ValueError, "DistributedDataParallel", "finish()");
  ddp.finish();
  // d(sum(W x + b))/db = 2 per rank; the mean over ranks is 2. fc2 got zeros.
  CHECK(m->fc1->bias.grad().to_vector<double>() == std::vector<double>(3, 2.0));
  // dW[i][j] = sum over rows of x[:, j] = 2 (r + 1): mean (W + 1).
  CHECK(m->fc1->weight.grad().to_vector<double>() == std::vector<double>(9, dist::world_size() + 1.0));
  REQUIRE(m->fc2->weight.grad().defined());
  CHECK(m->fc2->weight.grad().to_vector<double>() == std::vector<double>(9, 0.0));
  ddp.finish();  // nothing pending: a no-op
  CHECK_NOTHROW(ddp(x));
}

TEST_CASE("BatchNorm buffers come from rank 0 at each forward") {
  xg::manual_seed(9);
  auto bn = std::make_shared<xg::nn::BatchNorm1d>(4);
  bn->to(Dtype::float64);
  dist::DistributedDataParallel ddp(bn);
  xg::manual_seed(20 + static_cast<uint64_t>(dist::rank()));
  Tensor x = xg::randn({6, 4}, {.dtype = Dtype::float64});
  ddp(x);  // each rank's own batch statistics
  CHECK_FALSE(same_on_all_ranks(bn->running_mean));
  bn->eval();
  ddp(x);  // broadcast first; evaluation does not update them
  CHECK(same_on_all_ranks(bn->running_mean));
  CHECK(same_on_all_ranks(bn->running_var));
}

TEST_CASE("broadcast_buffers = false leaves each rank its own running statistics") {
  xg::manual_seed(9);
  auto bn = std::make_shared<xg::nn::BatchNorm1d>(4);
  bn->to(Dtype::float64);
  dist::DistributedDataParallel ddp(bn, {.broadcast_buffers = false});
  xg::manual_seed(20 + static_cast<uint64_t>(dist::rank()));
  Tensor x = xg::randn({6, 4}, {.dtype = Dtype::float64});
  ddp(x);
  bn->eval();
  ddp(x);
  CHECK_FALSE(same_on_all_ranks(bn->running_mean));
  CHECK_FALSE(same_on_all_ranks(bn->running_var));
}

TEST_CASE("functional::all_reduce and all_gather: values, and backward all-reduces the gradient") {
  const int r = dist::rank(), w = dist::world_size();
  Tensor x = xg::tensor({r + 1.0, 2.0 * r}, {.dtype = Dtype::float64}).requires_grad_();
  Tensor y = dist::functional::all_reduce(x);
  CHECK(y.to_vector<double>() == std::vector<double>{w * (w + 1) / 2.0, w * (w - 1.0)});
  // Rank k's loss: (k + 1) * sum(y). d/dx_r of the sum of every rank's loss = sum_k (k + 1).
  (y.sum() * (r + 1.0)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>(2, w * (w + 1) / 2.0));
  Tensor xm = xg::tensor({4.0 * r}, {.dtype = Dtype::float64}).requires_grad_();
  Tensor m = dist::functional::all_reduce(xm, dist::ReduceOp::mean);
  CHECK(m.item() == 2.0 * (w - 1));
  (m * (r + 1.0)).sum().backward();
  CHECK(xm.grad().item() == (w + 1) / 2.0);  // mean over k of (k + 1)
  Tensor xg_ = xg::full({2, 1}, r + 1.0, {.dtype = Dtype::float64}).requires_grad_();
  Tensor g = dist::functional::all_gather(xg_);
  REQUIRE(g.shape() == xg::Shape{w, 2, 1});
  for (int k = 0; k < w; ++k) CHECK(g.at({k, 1, 0}) == k + 1.0);
  // Rank k's loss: sum over rows j of (j + 1) (k + 1) g[j]: d/dx_r = (r + 1) sum_k (k + 1).
  Tensor weights = xg::arange(1, w + 1, 1, {.dtype = Dtype::float64}).reshape({w, 1, 1}) * (r + 1.0);
  (g * weights).sum().backward();
  CHECK(xg_.grad().to_vector<double>() == std::vector<double>(2, (r + 1.0) * w * (w + 1) / 2.0));
  Tensor ints = dist::all_gather(xg::from_vector(std::vector<int64_t>{r}, {1}));
  CHECK(ints.to_vector<int64_t>() == std::vector<int64_t>{0, 1});
}

namespace {
// Conv2d -> BatchNorm2d -> relu -> Linear -> BatchNorm1d -> tanh -> Linear: both BatchNorm kinds
// convert_sync_batchnorm turns into SyncBatchNorm (the trainer's CNN has BatchNorm2d).
struct BnNet : xg::nn::Module {
  std::shared_ptr<xg::nn::Conv2d> conv;
  std::shared_ptr<xg::nn::BatchNorm2d> bn2;
  std::shared_ptr<xg::nn::Linear> fc1, fc2;
  std::shared_ptr<xg::nn::BatchNorm1d> bn1;
  BnNet() {
    conv = register_module("conv", std::make_shared<xg::nn::Conv2d>(xg::nn::Conv2dOptions{
                                       .in_channels = 1, .out_channels = 2, .kernel_size = 3, .padding = 1}));
    bn2 = register_module(
        "bn2", std::make_shared<xg::nn::BatchNorm2d>(2, xg::nn::BatchNormOptions{.momentum = 0.3}));
    fc1 = register_module("fc1", std::make_shared<xg::nn::Linear>(2 * 3 * 3, 5));
    bn1 = register_module("bn1", std::make_shared<xg::nn::BatchNorm1d>(5));
    fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(5, 3));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = xg::relu(bn2->forward(conv->forward(x)));
    h = xg::tanh(bn1->forward(fc1->forward(xg::flatten(h, 1))));
    return fc2->forward(h);
  }
};

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return xg::max(xg::abs(a - b)).item();
}
}  // namespace

TEST_CASE("SyncBatchNorm on W ranks with batch B equals BatchNorm on one process with batch W*B") {
  const int w = dist::world_size();
  const int64_t per = 4, lo = per * dist::rank();
  xg::manual_seed(77);
  auto single = std::make_shared<BnNet>();
  single->to(Dtype::float64);
  xg::manual_seed(77);
  auto replica = std::make_shared<BnNet>();
  replica->to(Dtype::float64);
  xg::nn::convert_sync_batchnorm(replica);
  dist::DistributedDataParallel ddp(replica);
  xg::optim::SGD o1(single->parameters(), {.lr = 0.2, .momentum = 0.9});
  xg::optim::SGD o2(replica->parameters(), {.lr = 0.2, .momentum = 0.9});
  double out = 0, in_grad = 0, p_grad = 0, stats = 0;
  for (int step = 0; step < 4; ++step) {
    xg::manual_seed(500 + static_cast<uint64_t>(step));
    Tensor x = xg::randn({per * w, 1, 3, 3}, {.dtype = Dtype::float64}) * 1.5 + 0.25;
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < per * w; ++i) labels.push_back((i * 5 + step) % 3);
    Tensor y = xg::from_vector(labels, {per * w});
    Tensor xs = x.clone().requires_grad_();
    o1.zero_grad();
    Tensor ys = single->forward(xs);
    F::cross_entropy(ys, y).backward();
    Tensor xr = xg::narrow(x, 0, lo, per).clone().requires_grad_();
    o2.zero_grad();
    Tensor yr = ddp(xr);
    F::cross_entropy(yr, xg::narrow(y, 0, lo, per)).backward();
    ddp.finish();
    out = std::max(out, max_abs_diff(yr, xg::narrow(ys, 0, lo, per)));
    // Each rank's input gradient is that of the sum of the ranks' mean losses: W times the
    // gradient of the mean over W*B (an exact factor).
    in_grad = std::max(in_grad,
                       max_abs_diff(xr.grad(), xg::narrow(xs.grad(), 0, lo, per) * static_cast<double>(w)));
    const auto ps = single->parameters(), pr = replica->parameters();
    for (std::size_t i = 0; i < ps.size(); ++i)
      p_grad = std::max(p_grad, max_abs_diff(ps[i].grad(), pr[i].grad()));
    o1.step();
    o2.step();
    stats = std::max({stats, max_abs_diff(single->bn1->running_mean, replica->bn1->running_mean),
                      max_abs_diff(single->bn1->running_var, replica->bn1->running_var),
                      max_abs_diff(single->bn2->running_mean, replica->bn2->running_mean),
                      max_abs_diff(single->bn2->running_var, replica->bn2->running_var)});
  }
  const double params = max_diff(*single, *replica);
  if (dist::rank() == 0)
    MESSAGE("max |SyncBatchNorm on " << w << " ranks - BatchNorm on 1| after 4 SGD steps: outputs " << out
                                     << ", input grads " << in_grad << ", parameter grads " << p_grad
                                     << ", running stats " << stats << ", parameters " << params);
  CHECK(out <= 1e-12);
  CHECK(in_grad <= 1e-12);
  CHECK(p_grad <= 1e-12);
  CHECK(stats <= 1e-12);
  CHECK(params <= 1e-12);
  CHECK(replica->bn1->num_batches_tracked.item<int64_t>() == 4);
  CHECK(same_on_all_ranks(replica->bn2->running_var));
  // Evaluation uses the running statistics: no communication, the same on every rank.
  replica->eval();
  single->eval();
  Tensor probe = xg::ones({1, 1, 3, 3}, {.dtype = Dtype::float64});
  CHECK(max_abs_diff(replica->forward(probe), single->forward(probe)) <= 1e-12);
}

TEST_CASE("DDP stats: every bucket started and completed, the wait within the communication") {
  auto m = make_net(4);
  dist::DistributedDataParallel ddp(m, {.bucket_cap_mb = 256.0 / (1 << 20)});
  const Batch b = full_batch(8 * dist::world_size(), 3);
  const Batch mine = shard(b);
  for (int i = 0; i < 3; ++i) {
    F::cross_entropy(ddp(mine.x), mine.y).backward();
    ddp.finish();
  }
  const dist::DDPStats& s = ddp.stats();
  CHECK(s.reductions == 3);
  REQUIRE(s.buckets.size() == 3);
  std::size_t params = 0, bytes = 0;
  for (const auto& bk : s.buckets) {
    CHECK(bk.started >= 0);
    CHECK(bk.completed >= bk.started);
    params += bk.params;
    bytes += bk.bytes;
  }
  CHECK(params == 4);
  CHECK(bytes == 75 * 8);
  CHECK(s.wait >= 0);
  CHECK(s.total_overlapped <= s.total_communication + 1e-12);
  CHECK(s.str().find("communication ") == 0);
  CHECK(s.str(true).find("bucket 2: 1 parameters, 320 bytes") != std::string::npos);
  ddp.reset_stats();
  CHECK(ddp.stats().reductions == 0);
}

// Run on 1 rank (meson's nn/dist_single, -ts=single): the differentiable collectives gradchecked.
TEST_CASE("functional::all_reduce and all_gather on one rank: gradcheck and gradgradcheck" *
          doctest::test_suite("single")) {
  REQUIRE(dist::world_size() == 1);
  xg::manual_seed(2);
  const Tensor x = xg::randn({2, 3}, {.dtype = Dtype::float64}).requires_grad_();
  auto sum = [](const std::vector<Tensor>& in) { return dist::functional::all_reduce(in[0] * in[0]); };
  auto mean = [](const std::vector<Tensor>& in) {
    return dist::functional::all_reduce(xg::sin(in[0]), dist::ReduceOp::mean);
  };
  auto gather = [](const std::vector<Tensor>& in) { return dist::functional::all_gather(in[0] * in[0]); };
  for (const auto& f : {std::function<Tensor(const std::vector<Tensor>&)>(sum),
                        std::function<Tensor(const std::vector<Tensor>&)>(mean),
                        std::function<Tensor(const std::vector<Tensor>&)>(gather)}) {
    const xg::GradcheckReport r = xg::gradcheck(f, {x});
    CHECK_MESSAGE(r.passed, r.str());
    const xg::GradcheckReport r2 = xg::gradgradcheck(f, {x});
    CHECK_MESSAGE(r2.passed, r2.str());
  }
  CHECK(dist::functional::all_gather(x).shape() == xg::Shape{1, 2, 3});
  CHECK(max_abs_diff(dist::functional::all_reduce(x), x) == 0.0);
  CHECK_ERROR(dist::functional::all_reduce(Tensor()), xg::ValueError, "functional::all_reduce", "undefined");
}

int main(int argc, char** argv) {
  dist::Environment env(&argc, &argv);
  dist::set_timeout(30);  // a case that fails on one rank must not hang the other
  xg::set_num_threads(1);
  doctest::Context ctx(argc, argv);
  const int rc = ctx.run();
  // Every rank's verdict: one failing rank fails all (and they leave together).
  Tensor failed = xg::from_vector(std::vector<int64_t>{rc != 0 ? 1 : 0}, {1});
  dist::all_reduce(failed);
  return failed.item<int64_t>() != 0 ? 1 : 0;
}
