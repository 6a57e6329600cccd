// xg::dist over MPI (nn/dist.hpp). Only the thread that made the Environment calls MPI.
#include "xgrad/nn/dist.hpp"

// The C API only: no MPI C++ bindings (deprecated, and they warn under -Wextra).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/custom_op.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"

namespace xg::dist {
namespace {

bool g_initialized = false;       // an Environment is alive
bool g_owns = false;              // it called MPI_Init_thread, so it finalizes
bool g_failed = false;            // a collective failed: finalize would hang, abort instead
MPI_Comm g_comm = MPI_COMM_NULL;  // collectives
MPI_Comm g_ctrl = MPI_COMM_NULL;  // liveness probes after a timeout
int g_rank = 0, g_size = 1;
double g_timeout = 300.0;
std::thread::id g_thread;  // the Environment's: with MPI_THREAD_FUNNELED, the only one calling MPI
constexpr int kPingTag = 1, kPongTag = 2;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void require_init(const char* what) {
  if (!g_initialized)
    throw Error(std::string("dist: ") + what + " needs an xg::dist::Environment (MPI is not initialised)");
  if (std::this_thread::get_id() != g_thread)
    throw Error(
        std::string("dist: ") + what +
        " called from another thread than the Environment's (MPI is initialised MPI_THREAD_FUNNELED)");
}

MPI_Datatype mpi_type(Dtype d, const char* what) {
  switch (d) {
    case Dtype::float32:
      return MPI_FLOAT;
    case Dtype::float64:
      return MPI_DOUBLE;
    case Dtype::int64:
      return MPI_INT64_T;
    default:
      throw TypeError(std::string("dist: ") + what + " supports float32, float64 and int64, got " +
                      dtype_name(d));
  }
}

int mpi_count(int64_t n, const char* what) {
  if (n > INT_MAX)
    throw ValueError(std::string("dist: ") + what + ": " + std::to_string(n) +
                     " elements exceed MPI's count limit");
  return static_cast<int>(n);
}

std::string mpi_error(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, buf, &len);
  return std::string(buf, static_cast<std::size_t>(len));
}

[[noreturn]] void fail(const std::string& msg) {
  g_failed = true;
  std::fprintf(stderr, "xgrad: %s\n", msg.c_str());
  std::fflush(stderr);
  throw Error(msg);
}

void check(int rc, const std::string& what) {
  if (rc != MPI_SUCCESS)
    fail("dist: " + what + " failed on rank " + std::to_string(g_rank) + ": " + mpi_error(rc));
}

// Answers the liveness probes of ranks that timed out while this one waits (so that they name
// only the ranks that are really gone or stuck elsewhere).
void answer_probes() {
  for (;;) {
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kPingTag, g_ctrl, &flag, &st) != MPI_SUCCESS || !flag) return;
    int dummy = 0;
    MPI_Recv(&dummy, 1, MPI_INT, st.MPI_SOURCE, kPingTag, g_ctrl, MPI_STATUS_IGNORE);
    static int pong = 1;
    MPI_Request r;
    if (MPI_Isend(&pong, 1, MPI_INT, st.MPI_SOURCE, kPongTag, g_ctrl, &r) == MPI_SUCCESS)
      MPI_Request_free(&r);
  }
}

// Backs off from spinning after a millisecond: ranks share cores with the compute pool.
void pause(int& spins) {
  if (++spins < 2000)
    std::this_thread::yield();
  else
    std::this_thread::sleep_for(std::chrono::microseconds(50));
}

[[noreturn]] void fail_timeout(const std::string& what, double waited) {
  // Probe every other rank; those that do not answer within the grace period are named.
  std::vector<MPI_Request> sends(static_cast<std::size_t>(g_size), MPI_REQUEST_NULL),
      recvs(static_cast<std::size_t>(g_size), MPI_REQUEST_NULL);
  static int ping = 1;
  std::vector<int> pongs(static_cast<std::size_t>(g_size), 0);
  for (int r = 0; r < g_size; ++r) {
    if (r == g_rank) continue;
    MPI_Isend(&ping, 1, MPI_INT, r, kPingTag, g_ctrl, &sends[r]);
    MPI_Irecv(&pongs[r], 1, MPI_INT, r, kPongTag, g_ctrl, &recvs[r]);
  }
  const double grace = std::clamp(g_timeout / 4, 0.2, 2.0);
  const auto t0 = Clock::now();
  std::vector<bool> answered(static_cast<std::size_t>(g_size), false);
  int spins = 0;
  while (seconds_since(t0) < grace) {
    bool all = true;
    for (int r = 0; r < g_size; ++r) {
      if (r == g_rank || answered[r]) continue;
      int flag = 0;
      if (MPI_Test(&recvs[r], &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag)
        answered[r] = true;
      else
        all = false;
    }
    if (all) break;
    answer_probes();
    pause(spins);
  }
  std::string missing;
  int n_missing = 0;
  for (int r = 0; r < g_size; ++r)
    if (r != g_rank && !answered[r]) missing += (n_missing++ ? ", " : "") + std::to_string(r);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", waited);
  std::string msg =
      "dist: " + what + " on rank " + std::to_string(g_rank) + " timed out after " + secs + " s: ";
  if (n_missing)
    msg += std::string(n_missing > 1 ? "ranks " : "rank ") + missing + (n_missing > 1 ? " do" : " does") +
           " not answer (dead, or stuck outside xgrad's collectives)";
  else
    msg += "every rank answers, so the ranks are out of step (waiting on different collectives)";
  fail(msg);
}

// Waits for req, polling with the deadline. Ranks that time out first probe this one, so it
// answers them meanwhile.
void wait(MPI_Request& req, const std::string& what) {
  const auto t0 = Clock::now();
  int spins = 0;
  for (;;) {
    int flag = 0;
    check(MPI_Test(&req, &flag, MPI_STATUS_IGNORE), what);
    if (flag) return;
    answer_probes();
    if (g_timeout > 0) {
      const double waited = seconds_since(t0);
      if (waited > g_timeout) fail_timeout(what, waited);
    }
    pause(spins);
  }
}

void bcast_raw(void* data, int64_t n, Dtype d, int root, const char* what) {
  if (root < 0 || root >= g_size)
    throw ValueError(std::string("dist: ") + what + ": root " + std::to_string(root) + " out of range for " +
                     std::to_string(g_size) + " ranks");
  MPI_Request req;
  check(MPI_Ibcast(data, mpi_count(n, what), mpi_type(d, what), root, g_comm, &req), what);
  wait(req, what);
}

// Broadcasts many tensors as one message per dtype (one latency, not one per tensor).
void broadcast_coalesced(const std::vector<Tensor>& ts, int root, const char* what) {
  for (Dtype d : {Dtype::float32, Dtype::float64, Dtype::int64}) {
    std::size_t esz = d == Dtype::float32 ? 4 : 8;
    int64_t total = 0;
    for (const Tensor& t : ts)
      if (t.dtype() == d) total += t.numel();
    if (total == 0) continue;
    std::vector<char> buf(static_cast<std::size_t>(total) * esz);
    std::size_t off = 0;
    if (g_rank == root)
      for (const Tensor& t : ts)
        if (t.dtype() == d) {
          std::memcpy(buf.data() + off, t.raw_data(), static_cast<std::size_t>(t.numel()) * esz);
          off += static_cast<std::size_t>(t.numel()) * esz;
        }
    bcast_raw(buf.data(), total, d, root, what);
    off = 0;
    for (const Tensor& t : ts)
      if (t.dtype() == d) {
        std::memcpy(t.raw_data(), buf.data() + off, static_cast<std::size_t>(t.numel()) * esz);
        off += static_cast<std::size_t>(t.numel()) * esz;
      }
  }
  for (const Tensor& t : ts) mpi_type(t.dtype(), what);  // other dtypes: TypeError
}

template <class T>
void divide(T* p, int64_t n, int by) {
  for (int64_t i = 0; i < n; ++i) p[i] /= static_cast<T>(by);
}

void divide(void* p, int64_t n, Dtype d, int by) {
  if (d == Dtype::float32)
    divide(static_cast<float*>(p), n, by);
  else
    divide(static_cast<double*>(p), n, by);
}

}  // namespace

Environment::Environment(int* argc, char*** argv) {
  if (g_initialized) throw Error("dist: an Environment already exists (one per process)");
  int flag = 0;
  MPI_Initialized(&flag);
  int provided = MPI_THREAD_SINGLE;
  if (flag) {
    MPI_Query_thread(&provided);
  } else {
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    g_owns = true;
  }
  if (provided < MPI_THREAD_FUNNELED) {
    if (g_owns) MPI_Finalize();
    g_owns = false;
    throw Error(
        "dist: MPI provides thread level " + std::to_string(provided) +
        ", below MPI_THREAD_FUNNELED, which xgrad needs (its compute pool runs beside the MPI thread)");
  }
  int is_main = 0;
  MPI_Is_thread_main(&is_main);
  if (!is_main) throw Error("dist: the Environment must be created on the thread that initialised MPI");
  MPI_Comm_dup(MPI_COMM_WORLD, &g_comm);
  MPI_Comm_dup(MPI_COMM_WORLD, &g_ctrl);
  // Errors come back as codes, so that a failed collective raises dist::Error naming the rank.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(g_comm, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(g_ctrl, MPI_ERRORS_RETURN);
  MPI_Comm_rank(g_comm, &g_rank);
  MPI_Comm_size(g_comm, &g_size);
  if (const char* t = std::getenv("XG_DIST_TIMEOUT")) g_timeout = std::atof(t);
  g_failed = false;
  g_thread = std::this_thread::get_id();
  g_initialized = true;
}

Environment::~Environment() {
  g_initialized = false;
  // After a failure, or while an exception leaves the program, another rank may be waiting in a
  // collective this one will never join: finalizing would wait for it forever, so abort the job.
  if (g_failed || std::uncaught_exceptions() > 0) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Comm_free(&g_ctrl);
  MPI_Comm_free(&g_comm);
  if (g_owns) MPI_Finalize();
  g_owns = false;
  g_rank = 0;
  g_size = 1;
}

int Environment::rank() const {
  return g_rank;
}
int Environment::world_size() const {
  return g_size;
}

bool initialized() {
  return g_initialized;
}
int rank() {
  return g_rank;
}
int world_size() {
  return g_size;
}
double timeout() {
  return g_timeout;
}
void set_timeout(double seconds) {
  g_timeout = seconds;
}

void broadcast(Tensor& t, int root) {
  require_init("broadcast");
  bcast_raw(t.raw_data(), t.numel(), t.dtype(), root, "broadcast");
}

void all_reduce(Tensor& t, ReduceOp op) {
  require_init("all_reduce");
  const MPI_Datatype type = mpi_type(t.dtype(), "all_reduce");
  if (op == ReduceOp::mean && !t.is_floating_point())
    throw TypeError(std::string("dist: all_reduce: mean of an ") + dtype_name(t.dtype()) +
                    " tensor would truncate; use sum");
  MPI_Request req;
  check(MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), mpi_count(t.numel(), "all_reduce"), type, MPI_SUM, g_comm,
                       &req),
        "all_reduce");
  wait(req, "all_reduce");
  if (op == ReduceOp::mean) divide(t.raw_data(), t.numel(), t.dtype(), g_size);
}

Tensor all_gather(const Tensor& t) {
  require_init("all_gather");
  const MPI_Datatype type = mpi_type(t.dtype(), "all_gather");
  Shape shape{static_cast<int64_t>(g_size)};
  for (int a = 0; a < t.dim(); ++a) shape.push_back(t.size(a));
  Tensor out = empty(shape, {.dtype = t.dtype()});
  const int n = mpi_count(t.numel(), "all_gather");
  mpi_count(t.numel() * g_size, "all_gather");
  MPI_Request req;
  check(MPI_Iallgather(t.raw_data(), n, type, out.raw_data(), n, type, g_comm, &req), "all_gather");
  wait(req, "all_gather");
  return out;
}

namespace functional {
namespace {
Tensor all_reduce_copy(const Tensor& t, ReduceOp op) {
  Tensor out = t.detach().clone();
  dist::all_reduce(out, op);
  return out;
}
const CustomOp& all_reduce_op(ReduceOp op) {
  // The gradient of rank r's input is the sum over the ranks k of d(loss_k)/d(out_k): the
  // gradients all-reduced (their mean for a mean).
  static const CustomOp sum_op{
      "dist_all_reduce_sum", "out = sum_r t_r; d/dt_r = sum_k g_k (all_reduce of the gradient)",
      [](const std::vector<Tensor>& in) { return all_reduce_copy(in[0], ReduceOp::sum); },
      [](const CustomOpContext&, const Tensor& g) {
        return std::vector<Tensor>{functional::all_reduce(g, ReduceOp::sum)};
      }};
  static const CustomOp mean_op{
      "dist_all_reduce_mean", "out = mean_r t_r; d/dt_r = mean_k g_k",
      [](const std::vector<Tensor>& in) { return all_reduce_copy(in[0], ReduceOp::mean); },
      [](const CustomOpContext&, const Tensor& g) {
        return std::vector<Tensor>{functional::all_reduce(g, ReduceOp::mean)};
      }};
  return op == ReduceOp::sum ? sum_op : mean_op;
}
}  // namespace

Tensor all_reduce(const Tensor& t, ReduceOp op) {
  require_init("functional::all_reduce");
  if (!t.defined()) throw ValueError("dist: functional::all_reduce: the input is undefined");
  if (!t.is_floating_point()) return all_reduce_copy(t, op);  // nothing to differentiate
  return all_reduce_op(op)({t});
}

Tensor all_gather(const Tensor& t) {
  require_init("functional::all_gather");
  if (!t.defined()) throw ValueError("dist: functional::all_gather: the input is undefined");
  if (!t.is_floating_point()) return dist::all_gather(t);
  // Rank r's input is row r of every rank's output: its gradient is the sum over the ranks of
  // their gradients' row r.
  static const CustomOp op{"dist_all_gather",
                           "out[r] = t_r; d/dt_r = sum_k g_k[r] (all_reduce of the gradient, row r)",
                           [](const std::vector<Tensor>& in) { return dist::all_gather(in[0]); },
                           [](const CustomOpContext&, const Tensor& g) {
                             const Tensor summed = functional::all_reduce(g, ReduceOp::sum);
                             return std::vector<Tensor>{squeeze(narrow(summed, 0, g_rank, 1), 0)};
                           }};
  return op({t});
}
}  // namespace functional

void abort(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (g_initialized) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

void barrier() {
  require_init("barrier");
  MPI_Request req;
  check(MPI_Ibarrier(g_comm, &req), "barrier");
  wait(req, "barrier");
}

void broadcast_parameters(nn::Module& module, int root) {
  require_init("broadcast_parameters");
  std::vector<Tensor> ts = module.parameters();
  for (const Tensor& b : module.buffers()) ts.push_back(b);
  broadcast_coalesced(ts, root, "broadcast_parameters");
}

// ---- DistributedDataParallel ----

struct DistributedDataParallel::State {
  struct Bucket {
    Dtype dtype = Dtype::float32;
    std::vector<std::size_t> params;  // indices into State::params
    int64_t numel = 0;
    Tensor flat;
    std::size_t pending = 0;  // parameters whose gradient is not in flat yet
    MPI_Request req = MPI_REQUEST_NULL;
    double started = -1, completed = -1;  // seconds since t_ref (-1: not yet)
  };
  std::vector<Tensor> params;
  std::vector<std::size_t> bucket_of;
  std::vector<int64_t> offset_of;
  std::vector<bool> ready;
  std::vector<Bucket> buckets;
  std::size_t next_launch = 0;  // buckets start in order, the same on every rank
  bool active = false;          // a reduction has begun in this backward
  bool no_sync = false;
  std::vector<RemovableHandle> handles;
  double wait_s = 0;
  Clock::time_point t_ref = Clock::now();  // the last forward's return: the origin of the timings
  DDPStats stats;

  double now() const { return seconds_since(t_ref); }

  std::size_t esize(Dtype d) const { return d == Dtype::float32 ? 4 : 8; }

  void reset() {
    for (auto& b : buckets) {
      b.pending = b.params.size();
      b.req = MPI_REQUEST_NULL;
      b.started = b.completed = -1;
    }
    std::fill(ready.begin(), ready.end(), false);
    next_launch = 0;
    active = false;
  }

  // Writes grad_so_far + g (either may be undefined) into parameter i's slot of its bucket.
  void stage(std::size_t i, const Tensor& grad_so_far, const Tensor& g) {
    Bucket& b = buckets[bucket_of[i]];
    const Tensor& p = params[i];
    const std::size_t n = static_cast<std::size_t>(p.numel()), es = esize(b.dtype);
    char* dst = static_cast<char*>(b.flat.raw_data()) + static_cast<std::size_t>(offset_of[i]) * es;
    auto check_grad = [&](const Tensor& t) {
      if (t.dtype() != b.dtype || static_cast<std::size_t>(t.numel()) != n)
        throw ValueError("DistributedDataParallel: the gradient of parameter " + std::to_string(i) + " is " +
                         t.shape().str() + " " + dtype_name(t.dtype()) + ", the parameter " +
                         p.shape().str() + " " + dtype_name(b.dtype));
    };
    if (g.defined()) {
      check_grad(g);
      std::memcpy(dst, g.raw_data(), n * es);
    } else {
      std::memset(dst, 0, n * es);
    }
    if (grad_so_far.defined()) {
      check_grad(grad_so_far);
      if (b.dtype == Dtype::float32) {
        float* d = reinterpret_cast<float*>(dst);
        const float* s = grad_so_far.data<float>();
        for (std::size_t k = 0; k < n; ++k) d[k] = s[k] + d[k];  // grad + g, as the engine's add_
      } else {
        double* d = reinterpret_cast<double*>(dst);
        const double* s = grad_so_far.data<double>();
        for (std::size_t k = 0; k < n; ++k) d[k] = s[k] + d[k];
      }
    }
    ready[i] = true;
    --b.pending;
    active = true;
  }

  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch];
      check(MPI_Iallreduce(MPI_IN_PLACE, b.flat.raw_data(), mpi_count(b.numel, "DistributedDataParallel"),
                           mpi_type(b.dtype, "DistributedDataParallel"), MPI_SUM, g_comm, &b.req),
            "DistributedDataParallel allreduce of bucket " + std::to_string(next_launch));
      b.started = now();
      ++next_launch;
    }
    // Drive the started ones: MPI progresses non-blocking collectives inside its calls.
    for (std::size_t k = 0; k < next_launch; ++k) {
      int flag = 0;
      if (buckets[k].completed >= 0) continue;
      check(MPI_Test(&buckets[k].req, &flag, MPI_STATUS_IGNORE), "DistributedDataParallel allreduce");
      if (flag) buckets[k].completed = now();
    }
  }

  // The timings of the reduction just completed, into stats.
  void record(double wait_began) {
    stats.buckets.clear();
    double first = 0, last = 0;
    for (std::size_t k = 0; k < buckets.size(); ++k) {
      const Bucket& b = buckets[k];
      stats.buckets.push_back(
          {b.params.size(), static_cast<std::size_t>(b.numel) * esize(b.dtype), b.started, b.completed});
      first = k == 0 ? b.started : std::min(first, b.started);
      last = k == 0 ? b.completed : std::max(last, b.completed);
    }
    stats.wait_began = wait_began;
    stats.wait = wait_s;
    ++stats.reductions;
    stats.total_communication += last - first;
    stats.total_overlapped += std::max(0.0, std::min(last, wait_began) - first);
    stats.total_wait += wait_s;
  }

  // Waits for every bucket and writes the means into the parameters' gradients, except for
  // parameter `skip` (whose hook returns its mean instead), which gets it returned.
  Tensor complete(std::size_t skip) {
    const auto t0 = Clock::now();
    const double wait_began = now();
    for (std::size_t k = 0; k < buckets.size(); ++k) {
      if (buckets[k].completed >= 0) continue;
      wait(buckets[k].req, "DistributedDataParallel allreduce of bucket " + std::to_string(k));
      buckets[k].completed = now();
    }
    wait_s = seconds_since(t0);
    record(wait_began);
    Tensor skipped;
    NoGradGuard ng;
    for (auto& b : buckets) {
      divide(b.flat.raw_data(), b.numel, b.dtype, g_size);
      const std::size_t es = esize(b.dtype);
      for (std::size_t i : b.params) {
        const Tensor& p = params[i];
        const char* src =
            static_cast<const char*>(b.flat.raw_data()) + static_cast<std::size_t>(offset_of[i]) * es;
        const std::size_t bytes = static_cast<std::size_t>(p.numel()) * es;
        Tensor g = p.grad();
        if (i == skip || !g.defined()) {
          Tensor fresh = empty(p.shape(), {.dtype = b.dtype});
          std::memcpy(fresh.raw_data(), src, bytes);
          if (i == skip)
            skipped = fresh;
          else
            Tensor(p).set_grad(fresh);
        } else {
          std::memcpy(g.raw_data(), src, bytes);
        }
      }
    }
    reset();
    return skipped;
  }

  Tensor on_grad(std::size_t i, const Tensor& g) {
    if (no_sync) return Tensor();
    require_init("DistributedDataParallel's gradient hook");
    if (ready[i])
      throw ValueError(
          "DistributedDataParallel: parameter " + std::to_string(i) +
          " got a second gradient before the last reduction finished (call finish() after backward)");
    stage(i, params[i].grad(), g);
    if (buckets[bucket_of[i]].pending == 0) launch_ready();
    if (next_launch < buckets.size()) return Tensor();
    // The last gradient of this backward: everything else is accumulated already, so the means
    // go into the other gradients, and this one's is returned for the engine to store.
    Tensor mine = complete(i);
    Tensor(params[i]).set_grad(Tensor());
    return mine;
  }
};

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module, DDPOptions options)
    : module_(std::move(module)), state_(std::make_unique<State>()) {
  require_init("DistributedDataParallel");
  if (!module_) throw ValueError("DistributedDataParallel: the module is null");
  if (!(options.bucket_cap_mb > 0))
    throw ValueError("DistributedDataParallel: bucket_cap_mb must be positive, got " +
                     std::to_string(options.bucket_cap_mb));
  opts_broadcast_buffers_ = options.broadcast_buffers;
  broadcast_parameters(*module_);
  State& st = *state_;
  for (const Tensor& p : module_->parameters())
    if (p.requires_grad()) {
      mpi_type(p.dtype(), "DistributedDataParallel");
      st.params.push_back(p);
    }
  const std::size_t n = st.params.size();
  st.bucket_of.assign(n, 0);
  st.offset_of.assign(n, 0);
  st.ready.assign(n, false);
  // Reverse order of parameters(): backward reaches the last layers first. One open bucket per
  // dtype; a bucket closes when the next parameter would take it past the cap.
  const double cap = options.bucket_cap_mb * 1024 * 1024;
  std::vector<int> open(3, -1);
  auto dtype_slot = [](Dtype d) { return d == Dtype::float32 ? 0 : d == Dtype::float64 ? 1 : 2; };
  for (std::size_t r = n; r-- > 0;) {
    const Tensor& p = st.params[r];
    int& o = open[static_cast<std::size_t>(dtype_slot(p.dtype()))];
    const double bytes = static_cast<double>(p.numel()) * static_cast<double>(st.esize(p.dtype()));
    if (o >= 0) {
      const auto& b = st.buckets[static_cast<std::size_t>(o)];
      if (static_cast<double>(b.numel) * static_cast<double>(st.esize(b.dtype)) + bytes > cap) o = -1;
    }
    if (o < 0) {
      o = static_cast<int>(st.buckets.size());
      st.buckets.emplace_back();
      st.buckets.back().dtype = p.dtype();
    }
    auto& b = st.buckets[static_cast<std::size_t>(o)];
    st.bucket_of[r] = static_cast<std::size_t>(o);
    st.offset_of[r] = b.numel;
    b.numel += p.numel();
    b.params.push_back(r);
  }
  for (auto& b : st.buckets) b.flat = empty({b.numel}, {.dtype = b.dtype});
  st.reset();
  if (g_size == 1) return;  // a mean over one rank is the gradient itself
  for (std::size_t i = 0; i < n; ++i) {
    State* s = state_.get();
    st.handles.push_back(st.params[i].register_hook([s, i](const Tensor& g) { return s->on_grad(i, g); }));
  }
}

DistributedDataParallel::~DistributedDataParallel() {
  for (auto& h : state_->handles) h.remove();
}

Tensor DistributedDataParallel::forward(const Tensor& x) {
  if (state_->active)
    throw ValueError(
        "DistributedDataParallel: the last backward's gradient reduction is unfinished (some parameter got "
        "no "
        "gradient): call finish() before the optimizer step");
  if (opts_broadcast_buffers_ && g_size > 1) {
    require_init("DistributedDataParallel::forward");
    std::vector<Tensor> bufs = module_->buffers();
    if (!bufs.empty()) broadcast_coalesced(bufs, 0, "DistributedDataParallel buffer broadcast");
  }
  Tensor y = (*module_)(x);
  state_->t_ref = Clock::now();
  return y;
}

void DistributedDataParallel::finish() {
  State& st = *state_;
  if (!st.active || st.no_sync || g_size == 1) return;
  require_init("DistributedDataParallel::finish");
  // Parameters backward did not reach count as zeros (their gradient so far, if any).
  for (std::size_t i = 0; i < st.params.size(); ++i)
    if (!st.ready[i]) st.stage(i, st.params[i].grad(), Tensor());
  st.launch_ready();
  st.complete(st.params.size());
}

DistributedDataParallel::NoSync::NoSync(DistributedDataParallel& ddp)
    : ddp_(ddp), prev_(ddp.state_->no_sync) {
  ddp_.state_->no_sync = true;
}
DistributedDataParallel::NoSync::~NoSync() {
  ddp_.state_->no_sync = prev_;
}

std::vector<std::size_t> DistributedDataParallel::bucket_sizes() const {
  std::vector<std::size_t> out;
  for (const auto& b : state_->buckets) out.push_back(b.params.size());
  return out;
}

double DistributedDataParallel::last_wait_seconds() const {
  return state_->wait_s;
}

const DDPStats& DistributedDataParallel::stats() const {
  return state_->stats;
}

void DistributedDataParallel::reset_stats() {
  DDPStats& s = state_->stats;
  s.reductions = 0;
  s.total_communication = s.total_overlapped = s.total_wait = 0;
}

std::string DDPStats::str(bool verbose) const {
  char buf[256];
  if (reductions == 0) return "no gradient reduction yet (one rank, or no backward)";
  const double n = static_cast<double>(reductions);
  const double comm = total_communication / n, over = total_overlapped / n, w = total_wait / n;
  std::snprintf(buf, sizeof buf,
                "communication %.3f ms per step, %.3f ms (%.0f%%) overlapping backward, %.3f ms waited; %zu "
                "bucket%s",
                1e3 * comm, 1e3 * over, comm > 0 ? 100.0 * over / comm : 0.0, 1e3 * w, buckets.size(),
                buckets.size() == 1 ? "" : "s");
  std::string out = buf;
  if (verbose) {
    for (std::size_t k = 0; k < buckets.size(); ++k) {
      std::snprintf(
          buf, sizeof buf, "\n  bucket %zu: %zu parameters, %zu bytes, started %.3f ms, completed %.3f ms", k,
          buckets[k].params, buckets[k].bytes, 1e3 * buckets[k].started, 1e3 * buckets[k].completed);
      out += buf;
    }
    std::snprintf(buf, sizeof buf, "\n  (ms after forward; the wait began at %.3f ms and took %.3f ms)",
                  1e3 * wait_began, 1e3 * wait);
    out += buf;
  }
  return out;
}

}  // namespace xg::dist
