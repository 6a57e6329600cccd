// Capture and replay (capture.hpp): the recorder that capturable ops report their kernels to,
// the liveness planning of the arena, fusion of element-wise chains, and replay.
#include "xgrad/autograd/capture/capture.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <ostream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"

namespace xg {
namespace capture_detail {

constinit thread_local Recorder* recorder = nullptr;

namespace {
constexpr uint8_t kRead = 1, kWrite = 2;

struct BufInfo {
  std::weak_ptr<Storage> weak;
  std::shared_ptr<Storage> keep;  // external buffers (made before the capture), persistent ones
  std::size_t nbytes = 0;
  Shape shape;
  Dtype dtype = Dtype::float32;
  bool external = false, produced = false, constant = false, written_after_init = false, dead = false;
  bool pinned = false;  // read by a host step: must survive the step
  int first = -1, last = -1;
  int const_rec = -1;  // the record that initialises a constant
  // planning
  bool in_arena = false;
  bool fused = false;  // an intermediate of a fused chain: lives in the fused kernel's block scratch
  int chain = -1;      // written by a fused chain of several blocks: the chain's first rec
  std::size_t offset = 0;
};

struct Rec {
  Kernel k;
  const char* op = "";
  uint32_t ids[6] = {};
  uint8_t modes[6] = {};
  uint8_t nbuf = 0;
  bool dropped = false;
  // element-wise kernels (elementwise()): the range form, the element count, which buffers hold
  // one value per element, the parallel grain
  RangeFn range = nullptr;
  int64_t numel = 0, grain = 0;
  uint8_t per_element = 0, elem_size = 0;
};

std::string describe(const BufInfo& b) {
  return b.shape.str() + " " + dtype_name(b.dtype);
}
}  // namespace

class Recorder {
 public:
  std::unordered_set<const Storage*> allocated;
  std::unordered_map<const Storage*, uint32_t> ids;
  std::vector<BufInfo> bufs;
  std::vector<Rec> recs;
  std::deque<std::vector<Shape>> shapes;
  std::deque<std::function<void()>> hosts;
  std::deque<std::vector<unsigned char>> snapshots;
  std::vector<std::string> host_names;
  std::vector<std::shared_ptr<void>> owned;
  std::vector<std::pair<std::weak_ptr<TensorImpl>, std::shared_ptr<TensorImpl>>> grads;

  uint32_t id_of(const Tensor& t) {
    const std::shared_ptr<Storage>& s = t.impl()->storage;
    auto it = ids.find(s.get());
    if (it != ids.end()) return it->second;
    BufInfo b;
    b.weak = s;
    b.nbytes = s->nbytes;
    b.shape = t.shape();
    b.dtype = t.dtype();
    b.external = !allocated.count(s.get());
    if (b.external) {
      b.keep = s;
      b.produced = true;
    }
    const auto id = static_cast<uint32_t>(bufs.size());
    bufs.push_back(std::move(b));
    ids.emplace(s.get(), id);
    return id;
  }
};

namespace {
[[noreturn]] void throw_unproduced(const char* reader, const BufInfo& b) {
  throw CaptureError(std::string("capture: ") + reader + " reads a " + describe(b) +
                     " buffer made during the step by an op with no capture form (its kernel was not "
                     "recorded, so a replay would read a stale value); run that op outside the captured "
                     "step");
}
}  // namespace

namespace {
void emit_rec(const char* op, KernelFn fn, std::initializer_list<Buf> bufs, std::initializer_list<int64_t> n,
              std::initializer_list<double> s, const void* aux);
}
void emit(const char* op, KernelFn fn, std::initializer_list<Buf> bufs, std::initializer_list<int64_t> n,
          std::initializer_list<double> s, std::initializer_list<Shape> shapes) {
  const void* aux = nullptr;
  if (shapes.size()) {
    recorder->shapes.emplace_back(shapes);
    aux = recorder->shapes.back().data();
  }
  emit_rec(op, fn, bufs, n, s, aux);
}
void emit_owned(const char* op, KernelFn fn, std::initializer_list<Buf> bufs, std::shared_ptr<void> aux,
                std::initializer_list<int64_t> n, std::initializer_list<double> s) {
  recorder->owned.push_back(aux);
  emit_rec(op, fn, bufs, n, s, aux.get());
}
namespace {
void emit_rec(const char* op, KernelFn fn, std::initializer_list<Buf> bufs, std::initializer_list<int64_t> n,
              std::initializer_list<double> s, const void* aux) {
  Recorder& r = *recorder;
  Rec rec;
  rec.op = op;
  rec.k.fn = fn;
  rec.k.aux = aux;
  std::copy(n.begin(), n.end(), rec.k.n);
  std::copy(s.begin(), s.end(), rec.k.s);
  const int index = static_cast<int>(r.recs.size());
  if (bufs.size() > 6) throw Error(std::string("capture: ") + op + " touches more than 6 buffers");
  for (const Buf& b : bufs) {
    const uint32_t id = r.id_of(*b.t);
    BufInfo& info = r.bufs[id];
    const uint8_t mode = b.mode;
    if ((mode & kRead) && !info.produced) throw_unproduced(op, info);
    if (mode & kWrite) {
      if (info.constant) info.written_after_init = true;
      info.produced = true;
    }
    if (info.first < 0) info.first = index;
    info.last = index;
    rec.ids[rec.nbuf] = id;
    rec.modes[rec.nbuf] = mode;
    ++rec.nbuf;
  }
  r.recs.push_back(rec);
}
}  // namespace

void elementwise(RangeFn range, int64_t numel, unsigned per_element, std::size_t elem_size, int64_t grain) {
  Rec& rec = recorder->recs.back();
  rec.range = range;
  rec.elem_size = static_cast<uint8_t>(elem_size);
  rec.numel = numel;
  rec.per_element = static_cast<uint8_t>(per_element);
  rec.grain = grain;
}

namespace {
void copy_snapshot(const Kernel& k) {
  const auto* snap = static_cast<const std::vector<unsigned char>*>(k.aux);
  std::memcpy(k.buf[0], snap->data(), snap->size());
}
void call_host(const Kernel& k) {
  (*static_cast<const std::function<void()>*>(k.aux))();
}
}  // namespace

void constant(const Tensor& t, const char* op) {
  Recorder& r = *recorder;
  const uint32_t id = r.id_of(t);
  BufInfo& b = r.bufs[id];
  if (b.external) return;
  const auto* p = static_cast<const unsigned char*>(t.impl()->storage->data);
  r.snapshots.emplace_back(p, p + b.nbytes);
  Rec rec;
  rec.op = op;
  rec.k.fn = copy_snapshot;
  rec.k.aux = &r.snapshots.back();
  rec.ids[0] = id;
  rec.modes[0] = kWrite;
  rec.nbuf = 1;
  b.constant = true;
  b.produced = true;
  b.const_rec = static_cast<int>(r.recs.size());
  if (b.first < 0) b.first = b.const_rec;
  b.last = b.const_rec;
  r.recs.push_back(rec);
}

void refuse(const char* op, const char* why) {
  if (!recorder) throw CaptureError(std::string("capture: ") + op + " has no capture form");
  recorder = nullptr;  // the capture is over: nothing more is recorded while the error unwinds
  throw CaptureError(std::string("capture: ") + op + " has no capture form" +
                     (why ? std::string(" (") + why + ")" : "") +
                     "; a replay could not redo it. Run it outside the captured step, or capture without it");
}

void refuse_read(const char* what, const char* file, unsigned line, const char* function) {
  recorder = nullptr;
  throw CaptureError(std::string("capture: ") + what + " read a tensor's value on the host at " + file + ":" +
                     std::to_string(line) + " (in " + function +
                     "); a plan replays kernels and cannot branch on values or depend on them. Compute with "
                     "tensor ops instead, or read the value outside the captured step (plan.output() after "
                     "replay)");
}

void check_output(const char* op, const Tensor& out) {
  Recorder& r = *recorder;
  const Storage* s = out.impl()->storage.get();
  if (!r.allocated.count(s)) return;  // made before the capture, or by a paused host step
  auto it = r.ids.find(s);
  if (it == r.ids.end() || !r.bufs[it->second].produced) refuse(op);
}

void on_alloc(const Storage* s) {
  recorder->allocated.insert(s);
}
void on_free(const Storage* s) {
  Recorder& r = *recorder;
  r.allocated.erase(s);
  auto it = r.ids.find(s);
  if (it == r.ids.end()) return;
  r.bufs[it->second].dead = true;
  r.ids.erase(it);
}

HostStep::HostStep(const char* name, std::function<void()> fn) : paused_(recorder) {
  if (!paused_) return;
  Recorder& r = *paused_;
  r.hosts.push_back(std::move(fn));
  r.host_names.emplace_back(name);
  Rec rec;
  rec.op = r.host_names.back().c_str();
  rec.k.fn = call_host;
  rec.k.aux = &r.hosts.back();
  r.recs.push_back(rec);
  recorder = nullptr;
}
HostStep::~HostStep() {
  recorder = paused_;
}

void pin(const Tensor& param, const Tensor& t) {
  if (!recorder || !t.defined()) return;
  Recorder& r = *recorder;
  r.grads.emplace_back(param.impl(), t.impl());
  const uint32_t id = r.id_of(t);
  r.bufs[id].pinned = true;
  if (!r.bufs[id].produced) throw_unproduced("an optimizer step", r.bufs[id]);
  r.bufs[id].last = static_cast<int>(r.recs.size());
}

// ---------------------------------------------------------------- the plan
struct PlanBuf {
  std::string where;  // "arena +offset", "external", "persistent", "constant"
  std::size_t nbytes;
  std::string desc;
};
struct PlanData {
  std::vector<Kernel> kernels;
  std::vector<const char*> names;
  std::vector<std::vector<uint32_t>> kernel_bufs;  // for printing
  std::vector<PlanBuf> bufs;
  std::deque<std::vector<Shape>> shapes;
  std::deque<std::function<void()>> hosts;
  std::deque<std::vector<unsigned char>> snapshots;
  std::vector<std::string> host_names;
  std::deque<std::string> fused_names;
  std::vector<std::shared_ptr<void>> owned;
  // The gradients host steps read, by parameter: a replay re-attaches them if eager code (a step
  // run eagerly between replays) replaced them.
  std::vector<std::pair<std::weak_ptr<TensorImpl>, std::shared_ptr<TensorImpl>>> grads;
  std::vector<std::shared_ptr<Storage>> keep;
  std::vector<Storage*> written_external;
  struct Input {
    std::shared_ptr<Storage> storage;
    Shape shape;
    Dtype dtype;
  };
  std::vector<Input> inputs;
  Tensor output;
  void* arena = nullptr;
  std::size_t arena_bytes = 0, unplanned_bytes = 0;
  ~PlanData() { std::free(arena); }
};

namespace {
std::size_t align64(std::size_t n) {
  return (n + 63) & ~std::size_t(63);
}

// A buffer a fused chain of several blocks writes (chain: its first rec) must not take memory of
// one the chain reads for the last time before (later blocks of that are still to be read), unless
// it takes exactly that one's place: element for element, each block overwrites only what it
// read (capture.cpp, fusion).
bool hazard(const BufInfo& born, const BufInfo& read) {
  return born.chain >= 0 && read.last >= born.chain && read.last < born.first;
}

// Offsets for the arena buffers: the largest first, each at the lowest offset that overlaps no
// placed buffer alive at the same time (a buffer's slot is free again after its last reader) and
// no fusion hazard (see hazard()) but in that one's exact place.
std::size_t plan_offsets(std::vector<BufInfo>& bufs) {
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < bufs.size(); ++i)
    if (bufs[i].in_arena) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return align64(bufs[a].nbytes) > align64(bufs[b].nbytes); });
  std::vector<uint32_t> placed;
  std::size_t total = 0;
  std::vector<std::pair<std::size_t, std::size_t>> busy, avoid;
  std::vector<bool> exact;  // per hazard in avoid: b may take exactly its place
  auto clear_of = [](const std::vector<std::pair<std::size_t, std::size_t>>& v, std::size_t lo,
                     std::size_t hi) {
    for (const auto& iv : v)
      if (iv.first < hi && lo < iv.second) return false;
    return true;
  };
  for (uint32_t i : order) {
    BufInfo& b = bufs[i];
    const std::size_t size = align64(std::max<std::size_t>(b.nbytes, 1));
    busy.clear();
    avoid.clear();
    exact.clear();
    for (uint32_t j : placed) {
      const BufInfo& o = bufs[j];
      const std::pair<std::size_t, std::size_t> iv{o.offset,
                                                   o.offset + align64(std::max<std::size_t>(o.nbytes, 1))};
      if (o.first <= b.last && b.first <= o.last) {
        busy.push_back(iv);
      } else if (hazard(b, o) || hazard(o, b)) {
        avoid.push_back(iv);
        exact.push_back(o.nbytes == b.nbytes && o.dtype == b.dtype);
      }
    }
    const std::size_t nbusy = busy.size();
    busy.insert(busy.end(), avoid.begin(), avoid.end());
    std::sort(busy.begin(), busy.end());
    std::size_t at = 0;
    for (const auto& [lo, hi] : busy) {
      if (at + size <= lo) break;
      at = std::max(at, hi);
    }
    // or exactly in a hazard's place, when that overlaps nothing alive and no other hazard
    busy.resize(nbusy);  // (unsorted: clear_of needs no order)
    for (std::size_t h = 0; h < avoid.size(); ++h) {
      const std::size_t c = avoid[h].first;
      if (!exact[h] || c >= at || !clear_of(busy, c, c + size)) continue;
      bool ok = true;
      for (std::size_t o = 0; o < avoid.size(); ++o)
        if (!(exact[o] && avoid[o].first == c) && avoid[o].first < c + size && c < avoid[o].second)
          ok = false;
      if (ok) at = c;
    }
    b.offset = at;
    total = std::max(total, at + size);
    placed.push_back(i);
  }
  return total;
}
}  // namespace

// ---------------------------------------------------------------- fusion
// A chain of element-wise kernels (elementwise()) over the same element count, consecutive in the
// plan, whose intermediates die inside the chain, runs as one kernel: blocks of kFuseBlock
// elements go through every member in order, each intermediate in a slot of a per-block scratch
// instead of the arena. Each element gets the same functions of the same values in the same
// order as unfused (the range forms give an element the value whatever range holds it), so the
// results are the same bits; blocks start at multiples of kFuseBlock, a multiple of every SIMD
// width.
namespace {
constexpr int64_t kFuseBlock = 512;
constexpr int kFuseSlots = 8;              // scratch slots per block (of kFuseBlock 8-byte elements)
constexpr std::size_t kNamedMembers = 12;  // print_plan names a fused chain's first members

struct FusedMember {
  Kernel k;  // buffers resolved; those in scratch null
  RangeFn range = nullptr;
  uint8_t nbuf = 0, per_element = 0, elem_size = 0;
  int8_t slot[6] = {-1, -1, -1, -1, -1, -1};
};
struct Fused {
  std::vector<FusedMember> members;
  int64_t numel = 0, grain = 0;
  // A chain of one block runs on the plan's own scratch, its members' buffers resolved once.
  void* scratch = nullptr;
  Fused() = default;
  Fused(const Fused&) = delete;
  Fused& operator=(const Fused&) = delete;
  ~Fused() { std::free(scratch); }
};

void fused_replay(const Kernel& k) {
  const Fused& f = *static_cast<const Fused*>(k.aux);
  if (f.scratch) {
    for (const FusedMember& m : f.members) m.range(m.k, f.numel);
    return;
  }
  const int64_t blocks = (f.numel + kFuseBlock - 1) / kFuseBlock;
  detail::parallel_for(blocks, std::max<int64_t>(1, f.grain / kFuseBlock), [&f](int64_t b0, int64_t b1) {
    alignas(64) unsigned char scratch[kFuseSlots][kFuseBlock * 8];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t lo = b * kFuseBlock, count = std::min(kFuseBlock, f.numel - lo);
      for (const FusedMember& m : f.members) {
        Kernel part = m.k;
        for (int j = 0; j < m.nbuf; ++j) {
          if (m.slot[j] >= 0)
            part.buf[j] = scratch[m.slot[j]];
          else if (m.per_element >> j & 1)
            part.buf[j] = static_cast<unsigned char*>(m.k.buf[j]) + lo * m.elem_size;
        }
        m.range(part, count);
      }
    }
  });
}

// A chain to fuse: its members (indices of recs) and the scratch slot of each intermediate.
struct FuseGroup {
  std::vector<int> members;
  std::unordered_map<uint32_t, int8_t> slot;
  int slots = 0;
};

bool fusion_enabled() {
  const char* e = std::getenv("XG_CAPTURE_FUSE");
  return !(e && e[0] == '0');
}

// The intermediates of run (consecutive element-wise recs over one count) that can live in block
// scratch: written (only) by a member, the whole buffer, not read before it nor after the run.
// Trims the members before the first producer and after the last reader of one; assigns slots.
bool plan_group(const std::vector<Rec>& recs, std::vector<BufInfo>& bufs, std::vector<int> run,
                FuseGroup& g) {
  const int run_last = run.back();
  const int64_t numel = recs[static_cast<std::size_t>(run[0])].numel;
  auto eligible = [&](const Rec& rec, int j, int index) {
    const BufInfo& b = bufs[rec.ids[j]];
    if (rec.modes[j] != kWrite || !(rec.per_element >> j & 1) || !b.in_arena || b.constant) return false;
    if (b.first != index || b.last > run_last) return false;
    if (b.nbytes != static_cast<std::size_t>(numel) * rec.elem_size) return false;
    // every use in the run reads it per element, with the same element size
    for (int m : run) {
      if (m <= index) continue;
      const Rec& o = recs[static_cast<std::size_t>(m)];
      for (int i = 0; i < o.nbuf; ++i)
        if (o.ids[i] == rec.ids[j] &&
            (o.modes[i] != kRead || !(o.per_element >> i & 1) || o.elem_size != rec.elem_size))
          return false;
    }
    return true;
  };
  std::vector<uint32_t> cand;
  for (int index : run) {
    const Rec& rec = recs[static_cast<std::size_t>(index)];
    for (int j = 0; j < rec.nbuf; ++j)
      if (eligible(rec, j, index)) cand.push_back(rec.ids[j]);
  }
  if (cand.empty()) return false;
  // trim: from the first producer of a candidate to its last reader
  const std::unordered_set<uint32_t> is_cand(cand.begin(), cand.end());
  auto touches = [&](int index, bool write) {
    const Rec& rec = recs[static_cast<std::size_t>(index)];
    for (int j = 0; j < rec.nbuf; ++j)
      if (is_cand.count(rec.ids[j]) && ((rec.modes[j] == kWrite) == write)) return true;
    return false;
  };
  std::size_t lo = 0, hi = run.size();
  while (lo < hi && !touches(run[lo], true)) ++lo;
  while (hi > lo && !touches(run[hi - 1], false) && !touches(run[hi - 1], true)) --hi;
  run.assign(run.begin() + static_cast<std::ptrdiff_t>(lo), run.begin() + static_cast<std::ptrdiff_t>(hi));
  if (run.size() < 2) return false;
  // slots, by liveness within the run: a slot is free again after its occupant's last reader
  std::vector<int> busy_until;  // per slot: the rec index of the last reader of its occupant
  for (uint32_t id : cand) {
    const BufInfo& b = bufs[id];
    int8_t s = -1;
    for (std::size_t k = 0; k < busy_until.size(); ++k)
      if (busy_until[k] < b.first) {
        s = static_cast<int8_t>(k);
        break;
      }
    if (s < 0 && busy_until.size() < static_cast<std::size_t>(kFuseSlots)) {
      s = static_cast<int8_t>(busy_until.size());
      busy_until.push_back(0);
    }
    if (s < 0) continue;  // no slot free: stays in the arena
    busy_until[static_cast<std::size_t>(s)] = b.last;
    g.slot.emplace(id, s);
  }
  if (g.slot.empty()) return false;
  g.slots = static_cast<int>(busy_until.size());
  g.members = std::move(run);
  // The other buffers a member touches stay where they are. A chain of one block runs its members
  // one after the other, as unfused; with several, a buffer the chain writes must not take the
  // memory of one it read for the last time (plan_offsets, hazard()).
  const int first = g.members.front();
  const bool blocks = numel > kFuseBlock;
  for (int index : g.members) {
    const Rec& rec = recs[static_cast<std::size_t>(index)];
    for (int j = 0; j < rec.nbuf; ++j) {
      BufInfo& b = bufs[rec.ids[j]];
      if (g.slot.count(rec.ids[j])) {
        b.in_arena = false;
        b.fused = true;
      } else if (blocks && b.in_arena && b.first >= first) {
        b.chain = first;
      }
    }
  }
  return true;
}

// The chains of recs to fuse (see above), in order.
std::vector<FuseGroup> plan_fusion(const std::vector<Rec>& recs, std::vector<BufInfo>& bufs) {
  std::vector<FuseGroup> groups;
  if (!fusion_enabled()) return groups;
  std::vector<int> active;
  for (std::size_t i = 0; i < recs.size(); ++i)
    if (!recs[i].dropped) active.push_back(static_cast<int>(i));
  for (std::size_t a = 0; a < active.size();) {
    const Rec& head = recs[static_cast<std::size_t>(active[a])];
    std::size_t e = a + 1;
    if (head.range)
      while (e < active.size() && recs[static_cast<std::size_t>(active[e])].range &&
             recs[static_cast<std::size_t>(active[e])].numel == head.numel)
        ++e;
    if (e - a >= 2) {
      FuseGroup g;
      if (plan_group(recs, bufs,
                     std::vector<int>(active.begin() + static_cast<std::ptrdiff_t>(a),
                                      active.begin() + static_cast<std::ptrdiff_t>(e)),
                     g))
        groups.push_back(std::move(g));
    }
    a = e;
  }
  return groups;
}
}  // namespace

Plan capture_impl(const std::function<Tensor()>& step, std::span<const Tensor> inputs) {
  if (recorder) throw CaptureError("capture: a capture is already running on this thread (nested capture)");
  auto r = std::make_unique<Recorder>();
  auto d = std::make_shared<PlanData>();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined())
      throw ValueError("capture: example input " + std::to_string(i) + " is undefined");
    r->id_of(inputs[i]);
    d->inputs.push_back({inputs[i].impl()->storage, inputs[i].shape(), inputs[i].dtype()});
  }
  recorder = r.get();
  Tensor out;
  try {
    out = step();
  } catch (...) {
    recorder = nullptr;
    throw;
  }
  recorder = nullptr;
  d->output = out;

  // Where each buffer lives: external and surviving buffers stay where they are (the plan keeps
  // them), constants read-only get their own arena slot filled once, the rest share the arena.
  const int end = static_cast<int>(r->recs.size());
  for (BufInfo& b : r->bufs) {
    if (b.external) continue;
    std::shared_ptr<Storage> alive = b.weak.lock();
    if (alive) {
      if (!b.produced)
        throw CaptureError("capture: a " + describe(b) +
                           " tensor that outlives the step was made by an op with no capture form");
      b.keep = std::move(alive);
      if (b.constant && !b.written_after_init) r->recs[static_cast<std::size_t>(b.const_rec)].dropped = true;
      continue;
    }
    if (b.pinned)
      throw CaptureError("capture: an optimizer step read a " + describe(b) +
                         " gradient that does not outlive the step (zero the gradients at the start of "
                         "the step, not at its end)");
    b.in_arena = true;
    if (b.constant && !b.written_after_init) {
      b.first = 0;  // filled once, at planning, and read-only after
      b.last = end;
      r->recs[static_cast<std::size_t>(b.const_rec)].dropped = true;
    }
  }
  for (BufInfo& b : r->bufs)
    if (b.in_arena) d->unplanned_bytes += align64(b.nbytes);
  const std::vector<FuseGroup> groups = plan_fusion(r->recs, r->bufs);
  d->arena_bytes = plan_offsets(r->bufs);
  release_buffer_cache();
  d->arena = std::aligned_alloc(64, std::max<std::size_t>(d->arena_bytes, 64));
  if (!d->arena) throw Error("capture: out of memory allocating the arena");
  std::memset(d->arena, 0, d->arena_bytes);
  auto ptr = [&](uint32_t id) -> void* {
    BufInfo& b = r->bufs[id];
    if (b.in_arena) return static_cast<unsigned char*>(d->arena) + b.offset;
    return b.keep->data;
  };
  for (uint32_t i = 0; i < r->bufs.size(); ++i) {
    BufInfo& b = r->bufs[i];
    PlanBuf pb{"", b.nbytes, describe(b)};
    if (b.in_arena) {
      pb.where = (b.constant && !b.written_after_init ? "const +" : "arena +") + std::to_string(b.offset);
      if (b.constant && !b.written_after_init) {
        const auto* snap = static_cast<const std::vector<unsigned char>*>(
            r->recs[static_cast<std::size_t>(b.const_rec)].k.aux);
        std::memcpy(ptr(i), snap->data(), snap->size());
      }
    } else if (b.fused) {
      pb.where = "fused";
    } else {
      pb.where = b.external ? "external" : "kept";
      d->keep.push_back(b.keep);
    }
    d->bufs.push_back(pb);
  }
  std::unordered_set<Storage*> written;
  std::vector<int> group_of(r->recs.size(), -1);  // the fused chain a rec belongs to
  for (std::size_t gi = 0; gi < groups.size(); ++gi)
    for (int m : groups[gi].members) group_of[static_cast<std::size_t>(m)] = static_cast<int>(gi);
  for (std::size_t i = 0; i < r->recs.size(); ++i) {
    Rec& rec = r->recs[i];
    if (rec.dropped) continue;
    if (group_of[i] >= 0) {
      const FuseGroup& g = groups[static_cast<std::size_t>(group_of[i])];
      if (g.members.front() != static_cast<int>(i)) continue;  // run by the chain's first member
      auto f = std::make_shared<Fused>();
      f->numel = rec.numel;
      f->grain = rec.grain;
      const std::size_t slot_bytes = align64(static_cast<std::size_t>(std::max<int64_t>(rec.numel, 1)) * 8);
      if (rec.numel <= kFuseBlock) {
        f->scratch = std::aligned_alloc(64, static_cast<std::size_t>(g.slots) * slot_bytes);
        if (!f->scratch) throw Error("capture: out of memory allocating a fused chain's scratch");
      }
      std::string name = "fused[";
      std::vector<uint32_t> ids;
      int scratch_bufs = 0;
      for (int m : g.members) {
        const Rec& mr = r->recs[static_cast<std::size_t>(m)];
        FusedMember fm;
        fm.k = mr.k;
        fm.range = mr.range;
        fm.nbuf = mr.nbuf;
        fm.per_element = mr.per_element;
        fm.elem_size = mr.elem_size;
        for (int j = 0; j < mr.nbuf; ++j) {
          const uint32_t id = mr.ids[j];
          auto s = g.slot.find(id);
          if (s != g.slot.end()) {
            fm.slot[j] = s->second;
            fm.k.buf[j] = f->scratch ? static_cast<unsigned char*>(f->scratch) +
                                           static_cast<std::size_t>(s->second) * slot_bytes
                                     : nullptr;
            if (mr.modes[j] == kWrite) ++scratch_bufs;
            continue;  // (not listed by print_plan: counted)
          }
          fm.k.buf[j] = ptr(id);
          const BufInfo& b = r->bufs[id];
          if ((mr.modes[j] & kWrite) && b.external) written.insert(b.keep.get());
          if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
        }
        f->grain = std::min(f->grain, mr.grain);
        f->members.push_back(fm);
        // the first members by name; a long chain's count after them
        if (f->members.size() <= kNamedMembers)
          name += std::string(f->members.size() == 1 ? "" : ",") + mr.op;
      }
      if (f->members.size() > kNamedMembers) name += ",... " + std::to_string(f->members.size()) + " kernels";
      name += "] (" + std::to_string(scratch_bufs) +
              (scratch_bufs == 1 ? " intermediate" : " intermediates") + " in block scratch)";
      d->fused_names.push_back(name);
      Kernel k;
      k.fn = fused_replay;
      k.aux = f.get();
      d->owned.push_back(std::move(f));
      d->kernels.push_back(k);
      d->names.push_back(d->fused_names.back().c_str());
      d->kernel_bufs.push_back(std::move(ids));
      continue;
    }
    std::vector<uint32_t> ids;
    for (int j = 0; j < rec.nbuf; ++j) {
      rec.k.buf[j] = ptr(rec.ids[j]);
      ids.push_back(rec.ids[j]);
      const BufInfo& b = r->bufs[rec.ids[j]];
      if ((rec.modes[j] & kWrite) && b.external) written.insert(b.keep.get());
    }
    d->kernels.push_back(rec.k);
    d->names.push_back(rec.op);
    d->kernel_bufs.push_back(std::move(ids));
  }
  d->written_external.assign(written.begin(), written.end());
  d->shapes = std::move(r->shapes);
  d->hosts = std::move(r->hosts);
  d->snapshots = std::move(r->snapshots);
  d->host_names = std::move(r->host_names);
  for (auto& o : r->owned) d->owned.push_back(std::move(o));
  d->grads = std::move(r->grads);
  r.reset();  // (recorder is off: the storages it held are freed without a hook)
  return Plan(std::move(d));
}

}  // namespace capture_detail

const Tensor& Plan::replay(std::span<const Tensor> inputs) {
  if (!d_) throw ValueError("replay: the plan is empty (default-constructed)");
  if (capture_detail::recorder) throw CaptureError("replay: cannot replay a plan while capturing");
  capture_detail::PlanData& d = *d_;
  if (inputs.size() != d.inputs.size())
    throw ValueError("replay: the plan was captured with " + std::to_string(d.inputs.size()) +
                     " inputs, got " + std::to_string(inputs.size()));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    const auto& in = d.inputs[i];
    if (!t.defined()) throw ValueError("replay: input " + std::to_string(i) + " is undefined");
    if (t.dtype() != in.dtype)
      throw TypeError("replay: input " + std::to_string(i) + " has dtype " + dtype_name(t.dtype()) +
                      ", the plan was captured with " + dtype_name(in.dtype) + " (capture again for it)");
    if (!(t.shape() == in.shape))
      throw ShapeError("replay: input " + std::to_string(i) + " has shape " + t.shape().str() +
                       ", the plan was captured with " + in.shape.str() + " (capture again for it)");
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Storage* s = inputs[i].impl()->storage.get();
    if (s != d.inputs[i].storage.get()) {
      std::memcpy(d.inputs[i].storage->data, s->data, d.inputs[i].storage->nbytes);
      ++d.inputs[i].storage->version;
    }
  }
  for (auto& [param, grad] : d.grads)
    if (auto p = param.lock(); p && p->grad != grad) p->grad = grad;
  for (const capture_detail::Kernel& k : d.kernels) k.fn(k);
  for (Storage* s : d.written_external) ++s->version;
  return d.output;
}
const Tensor& Plan::output() const {
  static const Tensor none;
  return d_ ? d_->output : none;
}
std::size_t Plan::num_kernels() const {
  return d_ ? d_->kernels.size() : 0;
}
std::size_t Plan::arena_bytes() const {
  return d_ ? d_->arena_bytes : 0;
}
std::size_t Plan::unplanned_bytes() const {
  return d_ ? d_->unplanned_bytes : 0;
}

void print_plan(const Plan& plan, std::ostream& os) {
  if (!plan.d_) {
    os << "(empty plan)\n";
    return;
  }
  const capture_detail::PlanData& d = *plan.d_;
  os << "plan: " << d.kernels.size() << " kernels";
  os << ", " << d.inputs.size() << " inputs\n";
  for (std::size_t i = 0; i < d.kernels.size(); ++i) {
    os << "  #" << i << " " << d.names[i];
    for (uint32_t id : d.kernel_bufs[i]) {
      const auto& b = d.bufs[id];
      os << "  b" << id << "[" << b.desc << " " << b.where << "]";
    }
    os << "\n";
  }
  os << "arena: " << d.arena_bytes << " bytes (" << d.unplanned_bytes
     << " bytes for the same intermediates without reuse)\n";
}
std::string plan_string(const Plan& plan) {
  std::ostringstream s;
  print_plan(plan, s);
  return s.str();
}

}  // namespace xg
