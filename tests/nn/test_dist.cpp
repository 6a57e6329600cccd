// Tests of nn/dist.cpp, run on 2 ranks by meson (mpirun -np 2). Every rank runs every case; a
// check that fails on any rank fails the job.
#define DOCTEST_CONFIG_IMPLEMENT
#include <algorithm>
#include <cmath>
#include <cstdio>
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
