#pragma once
/// @file dist.hpp
/// @brief Data-parallel training over MPI (built when meson finds MPI: `xgrad/config.hpp`
/// defines XGRAD_HAS_MPI to 1 then). Every rank holds the whole model; an Environment starts
/// MPI, broadcast_parameters() makes the replicas equal, and DistributedDataParallel averages
/// the gradients over the ranks after each backward, in buckets of about 25 MB, each started
/// with a non-blocking allreduce as soon as all its gradients are known; stats() times them.
/// SyncBatchNorm (nn/normalization.hpp) is built on the differentiable functional::all_gather.
/// See docs/distributed.md.
///
/// @code
/// xg::dist::Environment env(&argc, &argv);          // MPI_Init_thread ... MPI_Finalize
/// auto model = std::make_shared<Net>();
/// xg::dist::DistributedDataParallel ddp(model);     // broadcasts rank 0's parameters
/// xg::optim::SGD opt(model->parameters(), {.lr = 0.1});
/// for (auto& batch : loader) {                      // DistributedSampler: this rank's shard
///   opt.zero_grad();
///   xg::Tensor loss = xg::nn::functional::cross_entropy(ddp(batch.data), batch.target);
///   loss.backward();                                // gradients averaged over the ranks
///   ddp.finish();                                   // (a no-op when backward completed them)
///   opt.step();
/// }
/// @endcode
///
/// Only the thread that created the Environment calls MPI (MPI_THREAD_FUNNELED): xgrad's
/// compute pool never does. Every wait on a collective polls with a deadline (timeout(),
/// 300 s by default, XG_DIST_TIMEOUT in seconds overrides it): when it passes, the ranks that
/// did not answer a liveness probe are named in a dist::Error, and the Environment's destructor
/// aborts the job instead of finalizing (a finalize would wait for the missing rank forever).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor/error.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"
#include "xgrad/nn/module.hpp"

namespace xg::dist {

/// A failed or timed-out collective (the message names the operation, this rank and, after a
/// timeout, the ranks that did not answer).
class Error : public xg::Error {
 public:
  using xg::Error::Error;
};

/// Starts MPI (MPI_Init_thread asking for MPI_THREAD_FUNNELED; an MPI that provides less raises
/// dist::Error) and finalizes it when destroyed; one per process, on the main thread. When MPI
/// was already initialised by the program, it is used as it is and not finalized here.
class Environment {
 public:
  explicit Environment(int* argc = nullptr, char*** argv = nullptr);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  int rank() const;
  int world_size() const;
};

/// True between an Environment's construction and its destruction.
bool initialized();
/// This process's rank in MPI_COMM_WORLD, 0 .. world_size() - 1 (0 when MPI is not initialised).
int rank();
/// The number of ranks (1 when MPI is not initialised).
int world_size();
/// The deadline of every wait on a collective, in seconds (<= 0: wait forever).
double timeout();
void set_timeout(double seconds);

enum class ReduceOp { sum, mean };

/// Replaces t's values, on every rank, with those of `root` (in place; the same shape and dtype
/// on every rank, float32, float64 or int64).
void broadcast(Tensor& t, int root = 0);
/// Replaces t's values, on every rank, with their sum or mean over the ranks (in place). mean is
/// for float tensors (an int64 mean would truncate: TypeError).
void all_reduce(Tensor& t, ReduceOp op = ReduceOp::sum);
/// Every rank's t, stacked: [world_size(), *t.shape()], row r holding rank r's values (the same
/// shape and dtype on every rank, float32, float64 or int64). Not recorded: see functional.
Tensor all_gather(const Tensor& t);
/// Ends every rank of the job (MPI_Abort) with this exit code: for an error one rank cannot
/// recover from while the others may be waiting for it in a collective.
[[noreturn]] void abort(int code = 1);
/// Waits until every rank has called it.
void barrier();
/// Copies rank `root`'s parameters and buffers into every other rank's module (in the order of
/// parameters() and buffers(), which is the same for the same model).
void broadcast_parameters(nn::Module& module, int root = 0);

/// Differentiable collectives (as torch.distributed.nn.functional): they return new tensors and
/// are recorded, so that backward communicates too. The gradient of a rank's input is that of
/// the sum of every rank's loss: all_reduce's backward all-reduces the gradient (sum; mean: its
/// mean), all_gather's all-reduces the gradient of the stacked result and keeps this rank's row.
/// Every rank must run the same backward (as any collective). SyncBatchNorm is built on
/// all_gather. With one rank they are a copy and a stack of one.
namespace functional {
Tensor all_reduce(const Tensor& t, ReduceOp op = ReduceOp::sum);
Tensor all_gather(const Tensor& t);
}  // namespace functional

/// Timings of DistributedDataParallel's gradient reductions (DistributedDataParallel::stats()).
/// Times are seconds since the wrapper's forward returned. A bucket's completion is seen when MPI
/// reports it (MPI_Test in a later gradient hook, or in the final wait), so `completed` is an
/// upper bound. Communication of a reduction: from its first bucket's start to its last bucket's
/// completion; the part before the wait began overlapped backward, the wait did not.
struct DDPStats {
  struct Bucket {
    std::size_t params = 0;  ///< parameters in the bucket
    std::size_t bytes = 0;
    double started = 0;    ///< its MPI_Iallreduce was started
    double completed = 0;  ///< MPI reported it complete
  };
  /// The last reduction's buckets, first started first.
  std::vector<Bucket> buckets;
  double wait_began = 0;  ///< the last gradient hook (or finish()) began waiting for the buckets
  double wait = 0;        ///< seconds it waited (communication not overlapped)
  /// Totals over the reductions since construction or reset_stats().
  int64_t reductions = 0;
  double total_communication = 0;  ///< seconds, first start to last completion, summed
  double total_overlapped = 0;     ///< of which before the wait began
  double total_wait = 0;
  /// Mean per reduction, e.g. "communication 1.20 ms per step, 0.85 ms (71%) overlapping
  /// backward, 0.35 ms waited; 1 bucket" (and each bucket's times of the last reduction, verbose).
  std::string str(bool verbose = false) const;
};

struct DDPOptions {
  /// The size of a gradient bucket, in MB (1 MB = 2^20 bytes): a bucket's allreduce starts when
  /// its last gradient is known; smaller buckets start earlier but cost one latency each.
  double bucket_cap_mb = 25.0;
  /// Copy rank 0's buffers (BatchNorm's running statistics) to every rank before each forward,
  /// so that the replicas evaluate alike (PyTorch's default); false leaves each rank its own.
  /// BatchNorm's batch statistics are each rank's own batch's, unless the model's BatchNorm
  /// layers are SyncBatchNorm (nn::convert_sync_batchnorm): then they are the global batch's and
  /// the running statistics agree on every rank without a broadcast.
  bool broadcast_buffers = true;
};

/// Wraps a module for data-parallel training. The constructor broadcasts rank 0's parameters and
/// buffers. Each parameter that requires grad gets a gradient hook; parameters are grouped in
/// buckets in reverse order of parameters() (the order backward reaches them), each bucket of one
/// dtype. After backward, each parameter's grad() is the mean over the ranks of the gradient
/// accumulated on each rank since the last zero_grad().
///
/// When backward gives every parameter a gradient, the last hook waits for all buckets, so
/// grad() is averaged when backward() returns. When some parameter got none (a branch not taken),
/// finish() reduces what is left (a parameter without a gradient counts as zeros and gets one);
/// calling finish() after every backward is always safe and cheap, and the next forward raises
/// ValueError when a reduction was left unfinished. Every rank must run the same sequence of
/// forwards and backwards (the same parameters used), as with any collective. The hooks serve
/// backward() (not create_graph: the averaged gradients carry no graph); run xg::grad() on the
/// parameters under no_sync(), or its leaf hooks would start a reduction too.
class DistributedDataParallel {
 public:
  explicit DistributedDataParallel(std::shared_ptr<nn::Module> module, DDPOptions options = {});
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  /// Broadcasts the buffers (broadcast_buffers) and calls the module (with its hooks).
  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  /// Completes this backward's reduction (see above); does nothing when none is pending.
  void finish();

  /// While alive, backward accumulates gradients locally without communicating (gradient
  /// accumulation); the first backward after it averages everything accumulated since the last
  /// zero_grad().
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& ddp);
    ~NoSync();
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool prev_;
  };
  /// `{ auto guard = ddp.no_sync(); loss.backward(); }`
  [[nodiscard]] NoSync no_sync() { return NoSync(*this); }

  nn::Module& module() { return *module_; }
  const std::shared_ptr<nn::Module>& module_ptr() const { return module_; }
  /// The buckets' sizes in parameters, first reduced first (for tests and tuning).
  std::vector<std::size_t> bucket_sizes() const;
  /// Seconds spent waiting for allreduces in the last reduction (communication not overlapped).
  double last_wait_seconds() const;
  /// The timings of the reductions (see DDPStats); reset_stats() zeroes the totals.
  const DDPStats& stats() const;
  void reset_stats();

  struct State;

 private:
  std::shared_ptr<nn::Module> module_;
  std::unique_ptr<State> state_;
  bool opts_broadcast_buffers_ = true;
};

}  // namespace xg::dist
