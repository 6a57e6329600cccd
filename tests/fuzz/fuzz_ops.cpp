// Fuzz target: random programs of registered ops. The input bytes decode into up to four steps;
// each step picks an op of the registry (all_ops()) and one of its samples, which fixes the
// arity and how the op is called (OpSample::call), and feeds it tensors that are either earlier
// results or new leaves: the sample's own shape, a broadcasting variant of it, or a random shape
// with axes from {0, 1, 2, 3, 16}, in float64, float32 or int64, with values from a palette of
// edge cases (0, -0, ±1, subnormals, ±1e300, ±inf, NaN, ...) or from a tame set. Checked:
// - no crash, no sanitizer report, and only xg::Error escapes (any other exception is a finding);
// - backward through the whole program works (again only typed errors);
// - in a tame program (see tame()) every gradient is finite;
// - a one-step tame program over small float64 leaves with distinct values passes gradcheck.
#include <cmath>
#include <cstring>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "xgrad/autograd.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;

class Bytes {
 public:
  Bytes(const uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
  std::size_t pick(std::size_t n) { return n ? (n <= 256 ? u8() % n : (u8() | (u8() << 8)) % n) : 0; }
  bool empty() const { return i_ >= n_; }

 private:
  const uint8_t* d_;
  std::size_t n_, i_ = 0;
};

constexpr int64_t kMaxNumel = 4096;  // 16^3: keeps one execution in milliseconds
constexpr int kMaxSteps = 4;

// The edge values (wild programs).
double palette(uint8_t b) {
  static const double v[] = {0.0,   -0.0,  1.0,    -1.0,     0.5,    -0.5,     2.0,       -3.0,
                             16.0,  1e-30, -1e-30, 4.9e-324, 1e-310, 1e300,    -1e300,    88.8,
                             -89.0, 710.0, -710.0, 1e20,     -1e20,  INFINITY, -INFINITY, NAN,
                             0.25,  3.5,   -20.0,  20.0,     1.5,    -1.5,     7.0,       1e-5};
  return v[b % (sizeof v / sizeof v[0])];
}

// A tame value is finite, away from the usual singular points (0 and ±1: log, sqrt, acos, atanh,
// abs, sign, relu kinks) and of moderate size, so that a chain of at most four ops on tame
// values has bounded local derivatives. Tame leaves are drawn distinct (see Program::tame_value).
bool tame_value(double x) {
  const double a = std::fabs(x);
  return std::isfinite(x) && a >= 1e-3 && a <= 1e3 && a != 1.0;
}

bool tame(const Tensor& t) {
  if (!t.defined()) return true;
  if (!t.is_floating_point()) return true;  // int64: indices, not differentiated
  const Tensor d = t.detach().to(Dtype::float64);
  const double* v = d.numel() ? d.data<double>() : nullptr;
  for (int64_t i = 0; i < d.numel(); ++i)
    if (!tame_value(v[i])) return false;
  return true;
}

bool all_finite(const Tensor& t) {
  const Tensor d = t.detach().to(Dtype::float64);
  const double* v = d.numel() ? d.data<double>() : nullptr;
  for (int64_t i = 0; i < d.numel(); ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  const std::size_t bytes = static_cast<std::size_t>(a.numel()) * xg::dtype_size(a.dtype());
  if (bytes == 0) return true;
  const void* pa = a.dtype() == Dtype::int64     ? static_cast<const void*>(a.data<int64_t>())
                   : a.dtype() == Dtype::float64 ? static_cast<const void*>(a.data<double>())
                                                 : static_cast<const void*>(a.data<float>());
  const void* pb = b.dtype() == Dtype::int64     ? static_cast<const void*>(b.data<int64_t>())
                   : b.dtype() == Dtype::float64 ? static_cast<const void*>(b.data<double>())
                                                 : static_cast<const void*>(b.data<float>());
  return std::memcmp(pa, pb, bytes) == 0;
}

// Ops whose gradient is legitimately not finite at some tame inputs with a finite, tame output
// (as in PyTorch): excluded from the finite-gradient check only, still fuzzed for crashes.
const std::set<std::string>& nonfinite_gradient_ops() {
  static const std::set<std::string> ops = {
      // d/dy x^y = x^y log x is NaN for a negative base with an integral exponent.
      "pow",
  };
  return ops;
}

struct Sampled {
  const xg::OpInfo* op;
  std::vector<xg::OpSample> samples;
};

const std::vector<Sampled>& registry() {
  static const std::vector<Sampled> r = [] {
    std::vector<Sampled> out;
    for (const xg::OpInfo* op : xg::all_ops())
      if (op->samples) {
        Sampled s{op, op->samples()};
        if (!s.samples.empty()) out.push_back(std::move(s));
      }
    return out;
  }();
  return r;
}

struct Program {
  Program(Bytes& bytes, bool tame) : in(bytes), tame_mode(tame) {}
  Bytes& in;
  bool tame_mode;
  int tame_counter = 0;
  std::vector<Tensor> leaves, pool;

  // Distinct tame values, so that a one-step program has no ties (max, sort) to break gradcheck.
  double tame_leaf_value() {
    const double v = 0.25 + 0.0731 * tame_counter++;
    return (in.u8() & 1) ? -v : v;
  }

  xg::Shape random_shape() {
    static const int64_t axes[] = {0, 1, 2, 3, 16};
    std::vector<int64_t> s(in.pick(4));
    for (auto& a : s) a = axes[in.pick(5)];
    return xg::Shape(s);
  }

  // A broadcasting partner of `s`: leading axes dropped and some axes set to 1.
  xg::Shape broadcast_variant(const xg::Shape& s) {
    std::vector<int64_t> v = s.vec();
    const std::size_t drop = in.pick(v.size() + 1);
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(drop));
    for (auto& a : v)
      if (in.u8() & 1) a = 1;
    return xg::Shape(v);
  }

  Tensor leaf(const xg::Shape& shape, Dtype dtype, const Tensor& like) {
    if (shape.numel() > kMaxNumel) return Tensor();
    const int64_t n = shape.numel();
    if (dtype == Dtype::int64) {
      std::vector<int64_t> v(static_cast<std::size_t>(n));
      for (auto& x : v) x = static_cast<int64_t>(in.u8() % 21) - 3;  // -3..17: in and out of range
      (void)like;
      return xg::from_vector(v, shape);
    }
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = tame_mode ? tame_leaf_value() : palette(in.u8());
    Tensor t = xg::tensor(v, shape, {.dtype = dtype});
    t.requires_grad_(true);
    leaves.push_back(t);
    return t;
  }

  // The tensor for slot `j` of sample `s`.
  Tensor argument(const xg::OpSample& s, std::size_t j) {
    const Tensor& ref = s.inputs[j];
    const Dtype dtype = ref.defined() ? ref.dtype() : Dtype::float64;
    const xg::Shape shape = ref.defined() ? ref.shape() : xg::Shape({});
    switch (in.pick(6)) {
      case 0:  // an earlier result
        if (!pool.empty()) {
          const Tensor& t = pool[in.pick(pool.size())];
          if (t.numel() <= kMaxNumel) return t;
        }
        [[fallthrough]];
      case 1:
      case 2:  // the sample's shape and dtype, new values
        if (dtype == Dtype::int64 || !ref.defined())
          return ref.defined() ? ref.detach() : ref;  // valid indices
        return leaf(shape, dtype, ref);
      case 3:  // broadcasting
        return leaf(broadcast_variant(shape), dtype, ref);
      case 4:  // any shape, maybe empty
        return leaf(random_shape(), dtype, ref);
      default: {  // another dtype
        static const Dtype dtypes[] = {Dtype::float64, Dtype::float32, Dtype::int64};
        return leaf(in.u8() & 1 ? shape : random_shape(), dtypes[in.pick(3)], ref);
      }
    }
  }
};

void check_gradcheck(const xg::OpInfo& op, const xg::OpSample& s, const std::vector<Tensor>& args) {
  // Small float64 leaves only, and a deterministic op (dropout and friends draw each call).
  int64_t total = 0;
  for (const Tensor& a : args) {
    if (!a.defined()) continue;
    if (a.is_floating_point() && (a.dtype() != Dtype::float64 || !a.requires_grad() || !a.is_leaf())) return;
    total += a.numel();
  }
  if (total == 0 || total > 8) return;
  Tensor y1, y2;
  {
    xg::NoGradGuard g;
    y1 = s.call(args);
    y2 = s.call(args);
  }
  if (!y1.defined() || !y1.is_floating_point() || y1.dtype() != Dtype::float64 || !same_bits(y1, y2)) return;
  const auto f = [&](const std::vector<Tensor>& in) { return s.call(in); };
  const xg::GradcheckReport r = xg::gradcheck(f, args, {.eps = s.eps > 0 ? s.eps : 1e-6});
  if (!r.passed && r.error.empty())
    xg::fuzz::finding(std::string("gradcheck failed: op ") + op.name + ", sample '" + s.label +
                      "': " + r.str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto& ops = registry();
  Bytes in(data, size);
  Program p(in, (in.u8() & 3) == 0);
  const int steps = 1 + static_cast<int>(in.pick(kMaxSteps));
  bool program_tame = p.tame_mode, check_finite = p.tame_mode;
  std::vector<Tensor> outputs;
  const xg::OpInfo* single_op = nullptr;
  const xg::OpSample* single_sample = nullptr;
  std::vector<Tensor> single_args;
  for (int k = 0; k < steps && !in.empty(); ++k) {
    const Sampled& op = ops[in.pick(ops.size())];
    const xg::OpSample& s = op.samples[in.pick(op.samples.size())];
    std::vector<Tensor> args;
    for (std::size_t j = 0; j < s.inputs.size(); ++j) args.push_back(p.argument(s, j));
    Tensor y;
    const bool ok = xg::fuzz::only_typed_errors(op.op->name, [&] { y = s.call(args); });
    if (!ok || !y.defined()) continue;
    for (const Tensor& a : args) program_tame = program_tame && tame(a);
    program_tame = program_tame && tame(y);
    if (nonfinite_gradient_ops().count(op.op->name)) check_finite = false;
    if (k == 0) {
      single_op = op.op;
      single_sample = &s;
      single_args = args;
    } else {
      single_op = nullptr;
    }
    p.pool.push_back(y);
    if (y.is_floating_point() && y.requires_grad()) outputs.push_back(y);
  }
  if (outputs.empty()) return 0;

  // Backward through the whole program from the sum of its differentiable results.
  bool backward_ok = xg::fuzz::only_typed_errors("backward", [&] {
    Tensor loss = outputs[0].to(Dtype::float64).sum();
    for (std::size_t i = 1; i < outputs.size(); ++i) loss = loss + outputs[i].to(Dtype::float64).sum();
    loss.backward();
  });
  if (backward_ok && program_tame && check_finite) {
    for (const Tensor& l : p.leaves) {
      const Tensor g = l.grad();
      if (g.defined() && !all_finite(g))
        xg::fuzz::finding("a gradient is not finite in a tame program (first op " +
                          std::string(single_op ? single_op->name : "?") + ")");
    }
  }
  if (single_op && program_tame && p.tame_mode && steps == 1)
    xg::fuzz::only_typed_errors("gradcheck",
                                [&] { check_gradcheck(*single_op, *single_sample, single_args); });
  return 0;
}
