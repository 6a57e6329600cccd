// Connectionist temporal classification loss: the alpha recursion in log space gives the
// negative log-likelihood of each target sequence, O(T S) per sequence; the gradient with respect
// to log_probs comes from the alpha-beta recursion, as one kernel (it is not differentiable again,
// and a second backward through it raises). Sequences run in parallel over the batch.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

namespace {

constexpr const char* kOp = "ctc_loss";

// What the checks find out about the arguments, in the batched layout.
struct CtcLayout {
  int64_t T = 0, N = 0, C = 0;
  bool batched = true;
  std::vector<int64_t> in_len, tg_len, tg_off;  // per sequence: lengths, offset into the targets
  int64_t max_tg = 0;
};

std::vector<int64_t> lengths_of(const Tensor& t, int64_t n, bool batched, const char* what,
                                const Tensor& log_probs) {
  if (!t.defined()) throw ValueError(std::string(kOp) + ": " + what + " is undefined");
  if (t.dtype() != Dtype::int64)
    throw TypeError(std::string(kOp) + ": " + what + " must be int64, got " + dtype_name(t.dtype()) +
                    " of shape " + t.shape().str());
  const bool ok = batched ? (t.dim() == 1 && t.size(0) == n) : t.dim() == 0;
  if (!ok)
    throw ShapeError(std::string(kOp) + ": " + what + " must have shape " +
                     (batched ? "[" + std::to_string(n) + "]" : std::string("[]")) +
                     " (one length per sequence) for log_probs " + log_probs.shape().str() + ", got " +
                     t.shape().str());
  return t.to_vector<int64_t>();
}

CtcLayout check_ctc(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                    const Tensor& target_lengths, int64_t blank) {
  if (!log_probs.defined() || !targets.defined())
    throw ValueError(std::string(kOp) + ": log_probs or targets is undefined");
  if (!log_probs.is_floating_point())
    throw TypeError(std::string(kOp) + ": log_probs must be a float tensor, got int64 of shape " +
                    log_probs.shape().str());
  if (log_probs.dim() != 2 && log_probs.dim() != 3)
    throw ShapeError(std::string(kOp) + ": log_probs must be [T, N, C] or unbatched [T, C], got " +
                     log_probs.shape().str());
  CtcLayout L;
  L.batched = log_probs.dim() == 3;
  L.T = log_probs.size(0);
  L.N = L.batched ? log_probs.size(1) : 1;
  L.C = log_probs.size(-1);
  if (blank < 0 || blank >= L.C)
    throw IndexError(std::string(kOp) + ": blank " + std::to_string(blank) + " is out of range for " +
                     std::to_string(L.C) + " classes (log_probs " + log_probs.shape().str() + ")");
  if (targets.dtype() != Dtype::int64)
    throw TypeError(std::string(kOp) + ": targets must be int64 class indices, got " +
                    dtype_name(targets.dtype()) + " of shape " + targets.shape().str());
  L.in_len = lengths_of(input_lengths, L.N, L.batched, "input_lengths", log_probs);
  L.tg_len = lengths_of(target_lengths, L.N, L.batched, "target_lengths", log_probs);
  if (L.batched && targets.dim() != 1 && targets.dim() != 2)
    throw ShapeError(std::string(kOp) + ": targets must be padded [N, S] or concatenated 1-D, got " +
                     targets.shape().str() + " for log_probs " + log_probs.shape().str());
  if (!L.batched && targets.dim() != 1)
    throw ShapeError(std::string(kOp) + ": unbatched log_probs " + log_probs.shape().str() +
                     " take 1-D targets [S], got " + targets.shape().str());
  const bool padded = L.batched && targets.dim() == 2;
  if (padded && targets.size(0) != L.N)
    throw ShapeError(std::string(kOp) + ": padded targets " + targets.shape().str() + " must have " +
                     std::to_string(L.N) + " rows, one per sequence of log_probs " + log_probs.shape().str());
  const int64_t width = padded ? targets.size(1) : targets.numel();
  L.tg_off.resize(static_cast<std::size_t>(L.N));
  int64_t off = 0;
  for (int64_t b = 0; b < L.N; ++b) {
    const auto k = static_cast<std::size_t>(b);
    const int64_t il = L.in_len[k], tl = L.tg_len[k];
    if (il < 0 || il > L.T)
      throw ValueError(std::string(kOp) + ": input_lengths[" + std::to_string(b) +
                       "] = " + std::to_string(il) + " is out of range [0, " + std::to_string(L.T) +
                       "] for log_probs " + log_probs.shape().str());
    if (tl < 0 || (padded && tl > width))
      throw ValueError(std::string(kOp) + ": target_lengths[" + std::to_string(b) +
                       "] = " + std::to_string(tl) + " is out of range [0, " + std::to_string(width) +
                       "] for targets " + targets.shape().str());
    L.tg_off[k] = padded ? b * width : off;
    off += tl;
    L.max_tg = std::max(L.max_tg, tl);
  }
  if (!padded && off > targets.numel())
    throw ShapeError(std::string(kOp) + ": concatenated targets " + targets.shape().str() +
                     " hold fewer than the " + std::to_string(off) + " labels target_lengths add up to");
  const int64_t* tg = targets.data<int64_t>();
  for (int64_t b = 0; b < L.N; ++b) {
    const auto k = static_cast<std::size_t>(b);
    for (int64_t i = 0; i < L.tg_len[k]; ++i) {
      const int64_t v = tg[L.tg_off[k] + i];
      if (v < 0 || v >= L.C)
        throw IndexError(std::string(kOp) + ": target " + std::to_string(v) + " of sequence " +
                         std::to_string(b) + " is out of range for " + std::to_string(L.C) +
                         " classes (log_probs " + log_probs.shape().str() + ", targets " +
                         targets.shape().str() + ")");
    }
  }
  return L;
}

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// log(e^a + e^b + e^c), -inf when all are -inf; NaN propagates.
template <class T>
T lse3(T a, T b, T c) {
  const T m = std::max(a, std::max(b, c));
  if (m == kNegInf<T>) return m;
  return m + std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m));
}

// The extended label sequence l' = blank, y1, blank, y2, ..., yL, blank: entry s.
struct Labels {
  const int64_t* y;
  int64_t blank;
  int64_t operator()(int64_t s) const { return (s & 1) ? y[s >> 1] : blank; }
  // The skip transition s - 2 -> s (from the previous label over a blank) is allowed.
  bool skip(int64_t s) const { return (s & 1) && s >= 2 && y[s >> 1] != y[(s >> 1) - 1]; }
};

// Alphas: [N, T, 2 max_tg + 1] (log space, -inf where unreachable); nll: [N].
template <class T>
void ctc_forward(const T* lp, const int64_t* tg, const CtcLayout& L, int64_t blank, T* alpha, T* nll) {
  const int64_t W = 2 * L.max_tg + 1, stride_t = L.N * L.C;
  detail::parallel_for(L.N, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const auto k = static_cast<std::size_t>(b);
      const int64_t Tb = L.in_len[k], Sb = 2 * L.tg_len[k] + 1;
      const Labels lab{tg + L.tg_off[k], blank};
      T* a = alpha + b * L.T * W;
      std::fill(a, a + L.T * W, kNegInf<T>);
      const T* p = lp + b * L.C;
      if (Tb == 0) {  // the empty alignment produces only the empty target
        nll[b] = Sb == 1 ? T(0) : std::numeric_limits<T>::infinity();
        continue;
      }
      a[0] = p[blank];
      if (Sb > 1) a[1] = p[lab(1)];
      for (int64_t t = 1; t < Tb; ++t) {
        const T* prev = a + (t - 1) * W;
        T* cur = a + t * W;
        const T* pt = p + t * stride_t;
        for (int64_t s = 0; s < Sb; ++s) {
          const T x1 = s >= 1 ? prev[s - 1] : kNegInf<T>;
          const T x2 = lab.skip(s) ? prev[s - 2] : kNegInf<T>;
          cur[s] = lse3(prev[s], x1, x2) + pt[lab(s)];
        }
      }
      const T* last = a + (Tb - 1) * W;
      nll[b] = -lse3(last[Sb - 1], Sb > 1 ? last[Sb - 2] : kNegInf<T>, kNegInf<T>);
    }
  });
}

// d nll_b / d log_probs (for a unit upstream gradient) as PyTorch defines it:
// exp(lp[t, c]) - exp(log sum_{s: l'(s) = c} alpha_t(s) beta_t(s) + nll - lp[t, c]) for t below
// the input length, 0 after it (and everywhere with zero_infinity when nll is inf).
template <class T>
void ctc_backward(const T* lp, const int64_t* tg, const CtcLayout& L, int64_t blank, const T* alpha,
                  const T* nll, bool zero_infinity, T* grad) {
  const int64_t W = 2 * L.max_tg + 1, stride_t = L.N * L.C;
  std::fill(grad, grad + L.T * stride_t, T(0));
  detail::parallel_for(L.N, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> beta(static_cast<std::size_t>(2 * W)), lcab(static_cast<std::size_t>(L.C));
    for (int64_t b = lo; b < hi; ++b) {
      const auto k = static_cast<std::size_t>(b);
      const int64_t Tb = L.in_len[k], Sb = 2 * L.tg_len[k] + 1;
      if (Tb == 0 || (zero_infinity && nll[b] == std::numeric_limits<T>::infinity())) continue;
      const Labels lab{tg + L.tg_off[k], blank};
      const T* a = alpha + b * L.T * W;
      const T* p = lp + b * L.C;
      T* g = grad + b * L.C;
      const T nl = nll[b];
      // two rows of beta, t + 1 and t
      T* next = beta.data();
      T* cur = beta.data() + W;
      for (int64_t t = Tb - 1; t >= 0; --t) {
        const T* pt = p + t * stride_t;
        if (t == Tb - 1) {
          std::fill(cur, cur + W, kNegInf<T>);
          cur[Sb - 1] = pt[blank];
          if (Sb > 1) cur[Sb - 2] = pt[lab(Sb - 2)];
        } else {
          for (int64_t s = 0; s < Sb; ++s) {
            const T x1 = s + 1 < Sb ? next[s + 1] : kNegInf<T>;
            const T x2 = s + 2 < Sb && lab.skip(s + 2) ? next[s + 2] : kNegInf<T>;
            cur[s] = lse3(next[s], x1, x2) + pt[lab(s)];
          }
        }
        std::fill(lcab.begin(), lcab.end(), kNegInf<T>);
        const T* at = a + t * W;
        for (int64_t s = 0; s < Sb; ++s) {
          T& v = lcab[static_cast<std::size_t>(lab(s))];
          v = lse3(v, at[s] + cur[s], kNegInf<T>);
        }
        T* gt = g + t * stride_t;
        for (int64_t c = 0; c < L.C; ++c)
          gt[c] = std::exp(pt[c]) - std::exp(lcab[static_cast<std::size_t>(c)] + nl - pt[c]);
        std::swap(next, cur);
      }
    }
  });
}

// The node that stands for the gradient kernel under create_graph: its own backward raises, so a
// second derivative through ctc_loss fails loudly instead of silently missing a term. Not in the
// registry: it is not an op one calls.
constinit const OpInfo ctc_loss_backward_info = detail::OpDefinition::make(
    "ctc_loss_backward",
    {.formula = "the alpha-beta gradient of ctc_loss (not differentiable)", .kind = OpKind::primitive});

std::vector<OpSample> ctc_samples() {
  auto ctc = [](int64_t blank, bool zi, int axis) {
    return [blank, zi, axis](std::span<const Tensor> in) {
      return ctc_loss(log_softmax(in[0], axis), in[1], in[2], in[3], blank, zi);
    };
  };
  const auto i64 = [](std::vector<int64_t> v, Shape s) { return from_vector(v, s); };
  std::vector<OpSample> s;
  s.push_back({"padded targets",
               {detail::sample_tensor({6, 2, 4}, detail::Domain::real, 1), i64({1, 2, 2, 3, 1, 0}, {2, 3}),
                i64({6, 5}, {2}), i64({3, 2}, {2})},
               ctc(0, false, 2),
               0,
               "OP(x0.log_softmax(2), x1, x2, x3, reduction='none')"});
  s.push_back({"concatenated targets, blank 3",
               {detail::sample_tensor({5, 3, 4}, detail::Domain::real, 2), i64({0, 1, 1, 2, 0, 2}, {6}),
                i64({5, 4, 5}, {3}), i64({3, 1, 2}, {3})},
               ctc(3, false, 2),
               0,
               "OP(x0.log_softmax(2), x1, x2, x3, blank=3, reduction='none')"});
  s.push_back({"unbatched, empty target",
               {detail::sample_tensor({4, 3}, detail::Domain::real, 3), i64({}, {0}),
                from_vector(std::vector<int64_t>{4}, Shape{}), from_vector(std::vector<int64_t>{0}, Shape{})},
               ctc(0, false, 1),
               0,
               "OP(x0.log_softmax(1), x1, x2, x3, reduction='none')"});
  s.push_back({"zero_infinity, one impossible alignment",
               {detail::sample_tensor({4, 2, 3}, detail::Domain::real, 4), i64({1, 2, 1, 1, 1, 0}, {2, 3}),
                i64({4, 2}, {2}), i64({3, 2}, {2})},
               ctc(0, true, 2),
               0,
               "OP(x0.log_softmax(2), x1, x2, x3, reduction='none', zero_infinity=True)"});
  return s;
}

}  // namespace

XG_OP(ctc_loss, {.formula = "d nll / d lp[t, c] = exp(lp[t, c]) - sum_{s: l'(s) = c} alpha_t(s) beta_t(s) / "
                            "(p(l | x) exp(lp[t, c])) (as PyTorch: the exp(lp) term vanishes through a "
                            "log_softmax)",
                 .kind = OpKind::primitive,
                 .samples = ctc_samples,
                 .torch = "torch.nn.functional.ctc_loss"});
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank, bool zero_infinity) {
  const CtcLayout L = check_ctc(log_probs, targets, input_lengths, target_lengths, blank);
  const Dtype dt = log_probs.dtype();
  const int64_t W = 2 * L.max_tg + 1;
  Tensor alpha = detail::new_tensor(Shape{L.N, L.T, W}, dt);
  Tensor nll = detail::new_tensor(Shape{L.N}, dt);
  detail::visit_float(dt, kOp, [&]<class T>() {
    ctc_forward<T>(log_probs.data<T>(), targets.data<int64_t>(), L, blank, alpha.data<T>(), nll.data<T>());
  });
  // zero_infinity: an impossible alignment costs 0 (and passes no gradient, see ctc_backward).
  Tensor out = detail::new_tensor(L.batched ? Shape{L.N} : Shape{}, dt);
  detail::visit_float(dt, kOp, [&]<class T>() {
    const T* s = nll.data<T>();
    T* o = out.data<T>();
    for (int64_t b = 0; b < L.N; ++b)
      o[b] = zero_infinity && s[b] == std::numeric_limits<T>::infinity() ? T(0) : s[b];
  });
  if (!will_record({log_probs})) return out;
  return record(
      opdefs::ctc_loss_op, out, {log_probs},
      [slp = save_input(log_probs), tg = targets.detach(), L, blank, zero_infinity, alpha, nll](
          const Node& n, const Tensor& g, std::span<Tensor> gx) {
        const Tensor lp = slp.unpack(n);
        Tensor raw = detail::new_tensor(lp.shape(), lp.dtype());
        {
          NoGradGuard guard;
          const Tensor lpd = lp.detach();
          detail::visit_float(lp.dtype(), kOp, [&]<class T>() {
            ctc_backward<T>(lpd.data<T>(), tg.data<int64_t>(), L, blank, alpha.data<T>(), nll.data<T>(),
                            zero_infinity, raw.data<T>());
          });
        }
        if (GradMode::is_enabled())  // create_graph: a node whose own backward raises
          raw = record(ctc_loss_backward_info, raw, {lp}, [](const Node&, const Tensor&, std::span<Tensor>) {
            throw ValueError(
                "ctc_loss: its gradient is not differentiable again (the "
                "alpha-beta kernel has no derivative, as in PyTorch)");
          });
        const Shape gs = L.batched ? Shape{1, L.N, 1} : Shape{1, 1};
        gx[0] = raw * reshape(g, gs);
      },
      [&](std::span<const Tensor> t) {
        // d nll_b = sum_{t, c} (d nll_b / d lp[t, b, c]) dlp[t, b, c], the same kernel's
        // gradient (not differentiable again, as the backward's)
        Tensor raw = detail::new_tensor(log_probs.shape(), dt);
        {
          NoGradGuard guard;
          const Tensor lpd = log_probs.detach().contiguous();
          detail::visit_float(dt, kOp, [&]<class T>() {
            ctc_backward<T>(lpd.data<T>(), targets.data<int64_t>(), L, blank, alpha.data<T>(), nll.data<T>(),
                            zero_infinity, raw.data<T>());
          });
        }
        return L.batched ? sum(raw * t[0], {0, 2}) : sum(raw * t[0]);
      });
}

}  // namespace xg
