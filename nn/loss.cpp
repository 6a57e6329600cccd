// Loss functions composed from xg ops (so every gradient is derived by the tape; ctc_loss wraps
// the xg::ctc_loss primitive), with PyTorch's formulas, reductions and validation. See loss.hpp for the
// formulas.
#include "xgrad/nn/loss.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/scope.hpp"

namespace xg::nn {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none:
      return "none";
    case Reduction::mean:
      return "mean";
    case Reduction::sum:
      return "sum";
    case Reduction::batchmean:
      return "batchmean";
  }
  return "?";
}

namespace {

std::string str(const Tensor& t) {
  return t.shape().str();
}

std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void check_defined(const Tensor& t, const char* loss, const char* what) {
  if (!t.defined()) throw ValueError(std::string(loss) + ": " + what + " is undefined");
}

void check_float(const Tensor& t, const char* loss, const char* what) {
  check_defined(t, loss, what);
  if (!t.is_floating_point())
    throw TypeError(std::string(loss) + ": " + what + " must be a float tensor, got int64 of shape " +
                    str(t));
}

void check_reduction(Reduction r, const char* loss, bool batchmean_ok = false) {
  switch (r) {
    case Reduction::none:
    case Reduction::mean:
    case Reduction::sum:
      return;
    case Reduction::batchmean:
      if (batchmean_ok) return;
      throw ValueError(std::string(loss) + ": reduction batchmean is only for kl_div; use none, mean or sum");
  }
  throw ValueError(std::string(loss) + ": unknown reduction " + std::to_string(static_cast<int>(r)));
}

void check_same_shape(const Tensor& input, const Tensor& target, const char* loss,
                      const char* input_name = "input", const char* target_name = "target") {
  if (!(input.shape() == target.shape()))
    throw ShapeError(std::string(loss) + ": " + target_name + " shape " + str(target) + " differs from " +
                     input_name + " shape " + str(input) + "; they must be equal");
}

// The broadcast of two shapes, or nullopt when they do not broadcast.
std::optional<Shape> broadcast(const Shape& a, const Shape& b) {
  const int r = std::max(a.rank(), b.rank());
  std::vector<int64_t> out(static_cast<std::size_t>(r));
  for (int i = 0; i < r; ++i) {
    const int ia = a.rank() - r + i, ib = b.rank() - r + i;
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[static_cast<std::size_t>(i)] = da == 1 ? db : da;
  }
  return Shape(out);
}

// An optional weight that must broadcast to `shape` without growing it.
void check_broadcasts_to(const Tensor& w, const Shape& shape, const char* loss, const char* what) {
  check_float(w, loss, what);
  const auto b = broadcast(w.shape(), shape);
  if (!b || !(*b == shape))
    throw ShapeError(std::string(loss) + ": " + what + " of shape " + str(w) +
                     " does not broadcast to the input shape " + shape.str());
}

// Calls f(value as double) for every element of a float or int64 tensor.
template <class F>
void for_each_value(const Tensor& t, F f) {
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case Dtype::float32: {
      const float* p = t.data<float>();
      for (int64_t i = 0; i < n; ++i) f(static_cast<double>(p[i]));
      break;
    }
    case Dtype::float64: {
      const double* p = t.data<double>();
      for (int64_t i = 0; i < n; ++i) f(p[i]);
      break;
    }
    case Dtype::int64: {
      const int64_t* p = t.data<int64_t>();
      for (int64_t i = 0; i < n; ++i) f(static_cast<double>(p[i]));
      break;
    }
  }
}

// Labels of the embedding and ranking losses: 1 or -1, of any dtype.
void check_plus_minus_one(const Tensor& target, const char* loss) {
  for_each_value(target, [&](double v) {
    if (v != 1.0 && v != -1.0)
      throw ValueError(std::string(loss) + ": target values must be 1 or -1, found " + fmt(v) +
                       " (target shape " + str(target) + ")");
  });
}

Tensor zero_of(Dtype d) {
  return scalar_tensor(0.0, {.dtype = d});
}

Tensor reduce(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::none:
      return l;
    case Reduction::sum:
      return sum(l);
    default:
      return mean(l);
  }
}

// Per-element losses l with per-element weights wt: none -> l, sum -> sum(l), mean -> sum(l) / sum(wt).
Tensor reduce_weighted(const Tensor& l, const Tensor& wt, Reduction r) {
  switch (r) {
    case Reduction::none:
      return l;
    case Reduction::sum:
      return sum(l);
    default:
      return sum(l) / sum(wt);
  }
}

// ---- class-index targets (cross_entropy, nll_loss) ----

// The class axis of an input [C], [N, C] or [N, C, d1, ...].
int class_axis(const Tensor& input, const char* loss) {
  if (input.dim() == 0)
    throw ShapeError(std::string(loss) + ": input must be [C], [N, C] or [N, C, d1, ...], got a 0-D tensor");
  return input.dim() == 1 ? 0 : 1;
}

Shape without_axis(Shape s, int axis) {
  s.erase(axis);
  return s;
}

void check_class_weight(const Tensor& w, int64_t classes, const char* loss) {
  check_float(w, loss, "weight");
  if (w.dim() != 1 || w.numel() != classes)
    throw ShapeError(std::string(loss) + ": weight must have one entry per class, shape [" +
                     std::to_string(classes) + "], got " + str(w));
}

struct ClassTargets {
  Tensor index;  ///< int64, the target's shape with the class axis inserted (extent 1); ignored -> 0
  Tensor flat;   ///< int64 [numel], the same safe indices flat (for index_select on the weight)
  Tensor mask;   ///< the input's dtype, the target's shape: 1 where the target counts, 0 where ignored
};

// The replayed class_targets (autograd/capture): the safe indices and the mask of each new target,
// range-checked on each replay as eager checks them.
template <class T>
void class_targets_replay(const capture_detail::Kernel& k) {
  const int64_t* t = static_cast<const int64_t*>(k.buf[0]);
  int64_t* safe = static_cast<int64_t*>(k.buf[1]);
  T* mask = static_cast<T*>(k.buf[2]);
  const int64_t n = k.n[0], classes = k.n[1], ignore = k.n[2];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = t[i];
    if (v == ignore) {
      safe[i] = 0;
      mask[i] = T(0);
      continue;
    }
    if (v < 0 || v >= classes)
      throw IndexError("replay: class target " + std::to_string(v) + " is out of range for " +
                       std::to_string(classes) + " classes");
    safe[i] = v;
    mask[i] = T(1);
  }
}

ClassTargets class_targets(const Tensor& input, const Tensor& target, int64_t ignore_index, int axis,
                           const char* loss) {
  const int64_t classes = input.size(axis);
  const int64_t n = target.numel();
  const int64_t* t = target.data<int64_t>();
  std::vector<int64_t> safe(static_cast<std::size_t>(n));
  std::vector<double> mask(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = t[i];
    const auto k = static_cast<std::size_t>(i);
    if (v == ignore_index) {
      safe[k] = 0;
      mask[k] = 0.0;
      continue;
    }
    if (v < 0 || v >= classes)
      throw IndexError(std::string(loss) + ": target " + std::to_string(v) + " is out of range for " +
                       std::to_string(classes) + " classes (valid: 0 to " + std::to_string(classes - 1) +
                       ", or ignore_index " + std::to_string(ignore_index) + "; input shape " + str(input) +
                       ", target shape " + str(target) + ")");
    safe[k] = v;
    mask[k] = 1.0;
  }
  Shape is = target.shape();
  is.insert(axis, 1);
  ClassTargets ct;
  ct.flat = from_vector(safe, Shape{n});
  ct.index = reshape(ct.flat, is);
  ct.mask = tensor(mask, target.shape(), {.dtype = input.dtype()});
  if (capture_detail::recorder) [[unlikely]] {
    // Not constants: they come from the target's values, which change with each replay.
    xg::detail::visit_float(input.dtype(), loss, [&]<class T>() {
      capture_detail::emit(
          "class_targets", class_targets_replay<T>,
          {capture_detail::R(target), capture_detail::W(ct.flat), capture_detail::W(ct.mask)},
          {n, classes, ignore_index});
    });
  }
  return ct;
}

struct NllParts {
  Tensor loss;    ///< per-target losses -w[y] input[y] (0 where ignored), the target's shape
  Tensor weight;  ///< per-target weights w[y] (0 where ignored): the mean's denominator sums them
  Tensor mask;    ///< 1 where the target counts
};

// input holds log-probabilities; weight (optional) is already checked and converted to input's dtype.
NllParts nll_parts(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                   int axis, const char* loss) {
  const ClassTargets ct = class_targets(input, target, ignore_index, axis, loss);
  const Tensor picked = squeeze(gather(input, axis, ct.index), axis);
  Tensor wt = ct.mask;
  if (weight.defined()) wt = reshape(index_select(weight, 0, ct.flat), target.shape()) * ct.mask;
  // where, not a product with the mask: an ignored row may hold -inf at its placeholder class 0.
  const Tensor l = where(ct.mask, -(picked * wt), zero_of(input.dtype()));
  return {l, wt, ct.mask};
}

// Checks input/target/weight of a class-index loss; returns the class axis.
int check_class_index_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                           const char* loss) {
  check_float(input, loss, "input");
  check_defined(target, loss, "target");
  const int axis = class_axis(input, loss);
  const Shape want = without_axis(input.shape(), axis);
  if (!(target.shape() == want))
    throw ShapeError(std::string(loss) + ": target shape " + str(target) + " does not fit input shape " +
                     str(input) + "; class-index targets have shape " + want.str() +
                     " (the input without its class axis " + std::to_string(axis) + ")");
  if (target.dtype() != Dtype::int64)
    throw TypeError(std::string(loss) + ": class-index targets must be int64, got " +
                    dtype_name(target.dtype()) + " of shape " + str(target));
  if (weight.defined()) check_class_weight(weight, input.size(axis), loss);
  return axis;
}

void check_label_smoothing(double s, const char* loss) {
  if (!(s >= 0.0 && s <= 1.0))
    throw ValueError(std::string(loss) + ": label_smoothing must be in [0, 1], got " + fmt(s));
}

// ---- the checks of the options, shared by each functional form and its module's constructor ----

// Most losses have only a reduction to check; the overloads below check more.
template <class O>
void check_options(const O& o, const char* loss) {
  check_reduction(o.reduction, loss);
}
void check_options(const SmoothL1LossOptions& o, const char* loss) {
  check_reduction(o.reduction, loss);
  if (!(o.beta >= 0.0)) throw ValueError(std::string(loss) + ": beta must be >= 0, got " + fmt(o.beta));
}
void check_options(const HuberLossOptions& o, const char* loss) {
  check_reduction(o.reduction, loss);
  if (!(o.delta > 0.0)) throw ValueError(std::string(loss) + ": delta must be > 0, got " + fmt(o.delta));
}
void check_options(const CrossEntropyLossOptions& o, const char* loss) {
  check_reduction(o.reduction, loss);
  check_label_smoothing(o.label_smoothing, loss);
}
void check_options(const KLDivLossOptions& o, const char* loss) {
  check_reduction(o.reduction, loss, true);
}
void check_options(const TripletMarginLossOptions& o, const char* loss) {
  check_reduction(o.reduction, loss);
  if (!(o.p > 0.0)) throw ValueError(std::string(loss) + ": p must be > 0, got " + fmt(o.p));
}
void check_options(const MultiMarginLossOptions& o, const char* loss) {
  check_reduction(o.reduction, loss);
  if (o.p != 1 && o.p != 2)
    throw ValueError(std::string(loss) + ": only p = 1 and p = 2 are supported, got " + std::to_string(o.p));
}
void check_options(const GaussianNLLLossOptions& o, const char* loss) {
  check_reduction(o.reduction, loss);
  if (!(o.eps > 0.0)) throw ValueError(std::string(loss) + ": eps must be > 0, got " + fmt(o.eps));
}

// A constant mask (never requiring grad) computed from t.
template <class F>
Tensor mask_of(F f) {
  NoGradGuard guard;
  return f();
}

// The checks of an element-wise loss: its options, then a float input and a float target of one shape.
template <class O>
void check_elementwise(const Tensor& input, const Tensor& target, const O& o, const char* loss) {
  check_options(o, loss);
  check_float(input, loss, "input");
  check_float(target, loss, "target");
  check_same_shape(input, target, loss);
}

// [C] weight viewed so that it broadcasts along the class axis of an input of rank `rank`.
Tensor class_weight_view(const Tensor& w, int rank, int axis) {
  Shape s;
  for (int i = 0; i < rank; ++i) s.push_back(i == axis ? w.numel() : 1);
  return reshape(w, s);
}

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

namespace functional {

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& o) {
  const CompositeScope composite("mse_loss");
  check_elementwise(input, target, o, "mse_loss");
  const Tensor d = input - target.to(input.dtype());
  return reduce(d * d, o.reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& o) {
  const CompositeScope composite("l1_loss");
  check_elementwise(input, target, o, "l1_loss");
  return reduce(abs(input - target.to(input.dtype())), o.reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& o) {
  const CompositeScope composite("smooth_l1_loss");
  check_elementwise(input, target, o, "smooth_l1_loss");
  const Tensor d = input - target.to(input.dtype());
  const Tensor ad = abs(d);
  if (o.beta == 0.0) return reduce(ad, o.reduction);  // as PyTorch: beta 0 is the L1 loss
  return reduce(where(lt(ad, o.beta), d * d * (0.5 / o.beta), ad - 0.5 * o.beta), o.reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& o) {
  const CompositeScope composite("huber_loss");
  check_elementwise(input, target, o, "huber_loss");
  const Tensor d = input - target.to(input.dtype());
  const Tensor ad = abs(d);
  return reduce(where(lt(ad, o.delta), d * d * 0.5, (ad - 0.5 * o.delta) * o.delta), o.reduction);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& o) {
  const CompositeScope composite("nll_loss");
  constexpr const char* loss = "nll_loss";
  check_options(o, loss);
  const int axis = check_class_index_loss(input, target, o.weight, loss);
  const Tensor w = o.weight.defined() ? o.weight.to(input.dtype()) : Tensor();
  const NllParts p = nll_parts(input, target, w, o.ignore_index, axis, loss);
  return reduce_weighted(p.loss, p.weight, o.reduction);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& o) {
  const CompositeScope composite("cross_entropy");
  constexpr const char* loss = "cross_entropy";
  check_options(o, loss);
  check_float(input, loss, "input");
  check_defined(target, loss, "target");
  const int axis = class_axis(input, loss);
  const int64_t classes = input.size(axis);
  const double s = o.label_smoothing;

  if (target.shape() == input.shape() && input.dim() > 0) {
    // ---- class probabilities ----
    if (!target.is_floating_point())
      throw TypeError(
          std::string(loss) + ": a target of the input's shape " + str(input) +
          " holds class probabilities and must be a float tensor, got int64 (class indices have shape " +
          without_axis(input.shape(), axis).str() + ")");
    if (o.weight.defined()) check_class_weight(o.weight, classes, loss);
    Tensor t = target.to(input.dtype());
    if (s > 0.0) t = t * (1.0 - s) + s / static_cast<double>(classes);
    Tensor prod = log_softmax(input, axis) * t;
    if (o.weight.defined()) prod = prod * class_weight_view(o.weight.to(input.dtype()), input.dim(), axis);
    switch (o.reduction) {
      case Reduction::none:
        return -sum(prod, {axis});
      case Reduction::sum:
        return -sum(prod);
      default: {
        const int64_t samples = classes == 0 ? 0 : input.numel() / classes;
        return -sum(prod) / static_cast<double>(samples);  // 0 / 0 = NaN for no samples, as PyTorch
      }
    }
  }

  // ---- class indices ----
  if (target.is_floating_point() && target.shape() == without_axis(input.shape(), axis))
    throw TypeError(std::string(loss) + ": class-index targets must be int64, got " +
                    dtype_name(target.dtype()) + " of shape " + str(target) +
                    " (float targets must be class probabilities of the input's shape " + str(input) + ")");
  if (!(target.shape() == without_axis(input.shape(), axis)))
    throw ShapeError(std::string(loss) + ": target shape " + str(target) + " does not fit input shape " +
                     str(input) + "; expected int64 class indices of shape " +
                     without_axis(input.shape(), axis).str() + " or float class probabilities of shape " +
                     str(input));
  check_class_index_loss(input, target, o.weight, loss);
  const Tensor w = o.weight.defined() ? o.weight.to(input.dtype()) : Tensor();
  const Tensor logp = log_softmax(input, axis);
  const NllParts p = nll_parts(logp, target, w, o.ignore_index, axis, loss);
  const Tensor nll = reduce_weighted(p.loss, p.weight, o.reduction);
  if (s == 0.0) return nll;
  // PyTorch's smoothing term: -sum_c w[c] logp[c] per target (0 where ignored), reduced as the nll.
  const Tensor wl = w.defined() ? logp * class_weight_view(w, input.dim(), axis) : logp;
  const Tensor smooth = where(p.mask, -sum(wl, {axis}), zero_of(input.dtype()));
  return nll * (1.0 - s) +
         reduce_weighted(smooth, p.weight, o.reduction) * (s / static_cast<double>(classes));
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& o) {
  const CompositeScope composite("binary_cross_entropy");
  constexpr const char* loss = "binary_cross_entropy";
  check_elementwise(input, target, o, loss);
  if (o.weight.defined()) check_broadcasts_to(o.weight, input.shape(), loss, "weight");
  for_each_value(input, [&](double v) {
    if (!(v >= 0.0 && v <= 1.0))
      throw ValueError(std::string(loss) + ": input values must be probabilities in [0, 1], found " + fmt(v) +
                       " (input shape " + str(input) + "); use binary_cross_entropy_with_logits for logits");
  });
  const Dtype dt = input.dtype();
  const Tensor t = target.to(dt);
  // log(x) and log(1 - x) clamped to >= -100 (as PyTorch). At x = 0 (x = 1) the log is replaced
  // by -100 through where, with the log taken of a safe 1 instead, so no 0 * inf appears in the
  // gradient.
  Tensor pos, below_one;
  {
    NoGradGuard guard;
    pos = gt(input, 0.0);
    below_one = lt(input, 1.0);
  }
  const Tensor one = scalar_tensor(1.0, {.dtype = dt}), floor = scalar_tensor(-100.0, {.dtype = dt});
  const Tensor log_x = where(pos, clamp(log(where(pos, input, one)), -100.0, std::nullopt), floor);
  const Tensor log_1mx =
      where(below_one, clamp(log(where(below_one, 1.0 - input, one)), -100.0, std::nullopt), floor);
  Tensor l = -(t * log_x + (1.0 - t) * log_1mx);
  if (o.weight.defined()) l = l * o.weight.to(dt);
  return reduce(l, o.reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& o) {
  const CompositeScope composite("binary_cross_entropy_with_logits");
  constexpr const char* loss = "binary_cross_entropy_with_logits";
  check_elementwise(input, target, o, loss);
  if (o.weight.defined()) check_broadcasts_to(o.weight, input.shape(), loss, "weight");
  if (o.pos_weight.defined()) check_broadcasts_to(o.pos_weight, input.shape(), loss, "pos_weight");
  const Dtype dt = input.dtype();
  const Tensor t = target.to(dt);
  // l = (1 - t) x + w softplus(-x), w = 1 + (pos_weight - 1) t, written per side of 0 so that
  // nothing cancels: for x > 0, (1 - t) x + w log1p(e^-x); for x <= 0, -pos_weight t x +
  // w log1p(e^x). (As one formula, x + softplus(-x) at x = -30, t = 0 is -30 + 30.0000...: the
  // value and the gradient 1 - sigmoid(30), 9.4e-14, are lost to rounding, 0 in float32.) Each
  // side sees a safe 0 where it is not selected, so no inf reaches its gradient.
  Tensor pos;
  {
    NoGradGuard guard;
    pos = gt(input, 0.0);
  }
  const Tensor zero = scalar_tensor(0.0, {.dtype = dt});
  const Tensor xa = where(pos, input, zero), xb = where(pos, zero, input);
  const Tensor w = o.pos_weight.defined() ? (o.pos_weight.to(dt) - 1.0) * t + 1.0 : Tensor();
  const Tensor pt = o.pos_weight.defined() ? o.pos_weight.to(dt) * t : t;
  const Tensor la = log1p(exp(-xa)), lb = log1p(exp(xb));
  Tensor l = where(pos, (1.0 - t) * xa + (w.defined() ? w * la : la), (w.defined() ? w * lb : lb) - pt * xb);
  if (o.weight.defined()) l = l * o.weight.to(dt);
  return reduce(l, o.reduction);
}

Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivLossOptions& o) {
  const CompositeScope composite("kl_div");
  check_elementwise(input, target, o, "kl_div");
  const Dtype dt = input.dtype();
  const Tensor t = target.to(dt);
  Tensor l;
  if (o.log_target) {
    l = exp(t) * (t - input);
  } else {
    // xlogy(t, t) - t x, with xlogy(0, 0) = 0 (and a 0 gradient there).
    Tensor nonzero;
    {
      NoGradGuard guard;
      nonzero = ne(t, 0.0);
    }
    const Tensor xlogy =
        where(nonzero, t * log(where(nonzero, t, scalar_tensor(1.0, {.dtype = dt}))), zero_of(dt));
    l = xlogy - t * input;
  }
  if (o.reduction == Reduction::batchmean) {
    if (input.dim() == 0) return sum(l);
    return sum(l) / static_cast<double>(input.size(0));
  }
  return reduce(l, o.reduction);
}

Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                             const CosineEmbeddingLossOptions& o) {
  const CompositeScope composite("cosine_embedding_loss");
  constexpr const char* loss = "cosine_embedding_loss";
  check_options(o, loss);
  check_float(input1, loss, "input1");
  check_float(input2, loss, "input2");
  check_defined(target, loss, "target");
  check_same_shape(input1, input2, loss, "input1", "input2");
  if (target.dim() == 1) {
    if (input1.dim() != 2 || input1.size(0) != target.size(0))
      throw ShapeError(std::string(loss) + ": a 1-D target [N] expects inputs [N, D]; got inputs " +
                       str(input1) + " and target " + str(target));
  } else if (target.dim() == 0) {
    if (input1.dim() != 1)
      throw ShapeError(std::string(loss) + ": a 0-D target expects 1-D inputs [D]; got inputs " +
                       str(input1));
  } else {
    throw ShapeError(std::string(loss) + ": target must be 0-D or 1-D (one label per pair), got shape " +
                     str(target) + " for inputs " + str(input1));
  }
  check_plus_minus_one(target, loss);
  const Axes ax{target.dim()};
  constexpr double eps = 1e-12;  // as PyTorch's EPSILON
  const Tensor dot = sum(input1 * input2, ax);
  const Tensor m1 = sum(input1 * input1, ax) + eps, m2 = sum(input2 * input2, ax) + eps;
  const Tensor cos = dot / sqrt(m1 * m2);
  const Tensor pos = 1.0 - cos;
  const Tensor neg = clamp(cos - o.margin, 0.0, std::nullopt);
  Tensor is_pos;
  {
    NoGradGuard guard;
    is_pos = eq(target.detach(), 1.0);
  }
  return reduce(where(is_pos, pos, neg), o.reduction);
}

Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                           const MarginRankingLossOptions& o) {
  const CompositeScope composite("margin_ranking_loss");
  constexpr const char* loss = "margin_ranking_loss";
  check_options(o, loss);
  check_float(input1, loss, "input1");
  check_float(input2, loss, "input2");
  check_defined(target, loss, "target");
  if (input1.dim() != input2.dim() || input1.dim() != target.dim())
    throw ShapeError(std::string(loss) + ": input1, input2 and target must have the same rank; got input1 " +
                     str(input1) + ", input2 " + str(input2) + ", target " + str(target));
  const auto b12 = broadcast(input1.shape(), input2.shape());
  const auto b = b12 ? broadcast(*b12, target.shape()) : std::nullopt;
  if (!b)
    throw ShapeError(std::string(loss) + ": shapes do not broadcast: input1 " + str(input1) + ", input2 " +
                     str(input2) + ", target " + str(target));
  check_plus_minus_one(target, loss);
  const Tensor d = input1 - input2;
  const Tensor y = target.to(d.dtype());
  return reduce(clamp(-y * d + o.margin, 0.0, std::nullopt), o.reduction);
}

Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           const TripletMarginLossOptions& o) {
  const CompositeScope composite("triplet_margin_loss");
  constexpr const char* loss = "triplet_margin_loss";
  check_options(o, loss);
  check_float(anchor, loss, "anchor");
  check_float(positive, loss, "positive");
  check_float(negative, loss, "negative");
  if (anchor.dim() != 1 && anchor.dim() != 2)
    throw ShapeError(std::string(loss) + ": anchor must be [N, D] or [D], got " + str(anchor));
  check_same_shape(anchor, positive, loss, "anchor", "positive");
  check_same_shape(anchor, negative, loss, "anchor", "negative");
  const Tensor d_pos = pairwise_distance(anchor, positive, o.p, o.eps);
  Tensor d_neg = pairwise_distance(anchor, negative, o.p, o.eps);
  if (o.swap) d_neg = minimum(d_neg, pairwise_distance(positive, negative, o.p, o.eps));
  return reduce(clamp(d_pos - d_neg + o.margin, 0.0, std::nullopt), o.reduction);
}

Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, const HingeEmbeddingLossOptions& o) {
  const CompositeScope composite("hinge_embedding_loss");
  constexpr const char* loss = "hinge_embedding_loss";
  check_options(o, loss);
  check_float(input, loss, "input");
  check_defined(target, loss, "target");
  check_same_shape(input, target, loss);
  const Tensor t = target.detach().to(input.dtype());
  const Tensor zero = zero_of(input.dtype());
  // PyTorch's two terms: the margin term where y != 1, the input itself where y != -1.
  const Tensor not_pos = mask_of([&] { return ne(t, 1.0); }), not_neg = mask_of([&] { return ne(t, -1.0); });
  return reduce(
      where(not_pos, clamp(o.margin - input, 0.0, std::nullopt), zero) + where(not_neg, input, zero),
      o.reduction);
}

Tensor multi_margin_loss(const Tensor& input, const Tensor& target, const MultiMarginLossOptions& o) {
  const CompositeScope composite("multi_margin_loss");
  constexpr const char* loss = "multi_margin_loss";
  check_options(o, loss);
  check_float(input, loss, "input");
  check_defined(target, loss, "target");
  if (input.dim() != 1 && input.dim() != 2)
    throw ShapeError(std::string(loss) + ": input must be [N, C] or [C], got " + str(input));
  const int64_t classes = input.size(-1);
  const Shape want = input.dim() == 2 ? Shape{input.size(0)} : Shape{};
  if (!(target.shape() == want))
    throw ShapeError(std::string(loss) + ": target shape " + str(target) + " does not fit input shape " +
                     str(input) + "; class-index targets have shape " + want.str());
  if (target.dtype() != Dtype::int64)
    throw TypeError(std::string(loss) + ": class-index targets must be int64, got " +
                    dtype_name(target.dtype()) + " of shape " + str(target));
  if (o.weight.defined()) check_class_weight(o.weight, classes, loss);
  for_each_value(target, [&](double v) {
    if (v < 0 || v >= static_cast<double>(classes))
      throw IndexError(std::string(loss) + ": target " + fmt(v) + " is out of range for " +
                       std::to_string(classes) + " classes (input shape " + str(input) + ")");
  });
  if (classes == 0) throw ShapeError(std::string(loss) + ": input " + str(input) + " has no classes");
  const Tensor x = input.dim() == 1 ? unsqueeze(input, 0) : input;
  const Tensor y = reshape(target, Shape{x.size(0)});
  const Tensor x_y = gather(x, 1, unsqueeze(y, 1));  // [N, 1]
  Tensor h = relu(x - x_y + o.margin);               // 0 gradient at the hinge, as PyTorch (z > 0)
  if (o.p == 2) h = h * h;
  if (o.weight.defined()) h = h * unsqueeze(index_select(o.weight.to(input.dtype()), 0, y), 1);
  const Tensor is_target = one_hot(y, classes, input.dtype());
  Tensor l = sum(where(is_target, zero_of(input.dtype()), h), {1}) / static_cast<double>(classes);
  if (input.dim() == 1) l = reshape(l, Shape{});
  return reduce(l, o.reduction);
}

Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target,
                                   const MultiLabelSoftMarginLossOptions& o) {
  const CompositeScope composite("multilabel_soft_margin_loss");
  constexpr const char* loss = "multilabel_soft_margin_loss";
  check_elementwise(input, target, o, loss);
  if (input.dim() == 0)
    throw ShapeError(std::string(loss) +
                     ": input must be [N, C] or [C] (classes on the last axis), got a 0-D tensor");
  if (o.weight.defined()) check_broadcasts_to(o.weight, input.shape(), loss, "weight");
  const Tensor t = target.to(input.dtype());
  Tensor l = -(t * logsigmoid(input) + (1.0 - t) * logsigmoid(-input));
  if (o.weight.defined()) l = l * o.weight.to(input.dtype());
  const int axis = input.dim() - 1;
  return reduce(sum(l, {axis}) / static_cast<double>(input.size(axis)), o.reduction);
}

Tensor soft_margin_loss(const Tensor& input, const Tensor& target, const SoftMarginLossOptions& o) {
  const CompositeScope composite("soft_margin_loss");
  constexpr const char* loss = "soft_margin_loss";
  check_elementwise(input, target, o, loss);
  const Dtype dt = input.dtype();
  // log(1 + e^z), z = -y x, per side of 0 so that large |z| neither overflows nor cancels; each
  // side sees a safe 0 where it is not selected.
  const Tensor z = -(target.to(dt) * input);
  const Tensor pos = mask_of([&] { return gt(z, 0.0); });
  const Tensor zero = zero_of(dt);
  const Tensor za = where(pos, z, zero), zb = where(pos, zero, z);
  return reduce(where(pos, za + log1p(exp(-za)), log1p(exp(zb))), o.reduction);
}

Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, const PoissonNLLLossOptions& o) {
  const CompositeScope composite("poisson_nll_loss");
  constexpr const char* loss = "poisson_nll_loss";
  check_elementwise(input, target, o, loss);
  const Dtype dt = input.dtype();
  const Tensor t = target.to(dt);
  Tensor l = o.log_input ? exp(input) - t * input : input - t * log(input + o.eps);
  if (o.full) {
    // Stirling's approximation of log(t!), only where t > 1 (0 elsewhere, with a 0 gradient).
    const Tensor big = mask_of([&] { return gt(t, 1.0); });
    const Tensor ts = where(big, t, scalar_tensor(2.0, {.dtype = dt}));
    const Tensor stirling = ts * log(ts) - ts + 0.5 * log(ts * (2.0 * std::numbers::pi));
    l = l + where(big, stirling, zero_of(dt));
  }
  return reduce(l, o.reduction);
}

Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var,
                         const GaussianNLLLossOptions& o) {
  const CompositeScope composite("gaussian_nll_loss");
  constexpr const char* loss = "gaussian_nll_loss";
  check_elementwise(input, target, o, loss);
  check_float(var, loss, "var");
  Tensor v = var;
  if (!(var.shape() == input.shape())) {
    const Shape lead = input.dim() > 0 ? without_axis(input.shape(), input.dim() - 1) : input.shape();
    if (input.dim() > 0 && var.shape() == lead) {
      v = unsqueeze(var, -1);  // one variance per sample: broadcast over the last axis
    } else if (input.dim() > 0 && var.dim() == input.dim() && var.size(-1) == 1 &&
               without_axis(var.shape(), var.dim() - 1) == lead) {
    } else {
      throw ShapeError(std::string(loss) + ": var of shape " + str(var) + " does not fit input shape " +
                       str(input) + "; var must have the input's shape, that shape without its last axis, " +
                       "or with a last axis of 1");
    }
  }
  for_each_value(var, [&](double x) {
    if (x < 0)
      throw ValueError(std::string(loss) + ": var has a negative entry " + fmt(x) + " (var shape " +
                       str(var) + "); variances must be >= 0");
  });
  const Dtype dt = input.dtype();
  v = v.to(dt);
  // max(v, eps), with the gradient passed on as if unclamped (PyTorch clamps in place without grad).
  v = v + (clamp(v, o.eps, std::nullopt) - v).detach();
  const Tensor d = input - target.to(dt);
  Tensor l = 0.5 * (log(v) + d * d / v);
  if (o.full) l = l + 0.5 * std::log(2.0 * std::numbers::pi);
  return reduce(l, o.reduction);
}

Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, const CTCLossOptions& o) {
  const CompositeScope composite("ctc_loss");
  check_options(o, "ctc_loss");
  const Tensor l = xg::ctc_loss(log_probs, targets, input_lengths, target_lengths, o.blank, o.zero_infinity);
  switch (o.reduction) {
    case Reduction::none:
      return l;
    case Reduction::sum:
      return sum(l);
    default:
      return mean(l / clamp(target_lengths.to(l.dtype()), 1.0, std::nullopt));
  }
}

}  // namespace functional

// ---- modules: the constructor checks the options (as the functional form will on each call) ----

namespace {
std::string reduction_repr(Reduction r) {
  return std::string("reduction=") + reduction_name(r);
}

// A module's weight option before it becomes a buffer: a float tensor, 1-D [C] for a class weight.
const Tensor& checked_weight(const Tensor& w, const char* loss, const char* what, bool per_class) {
  check_float(w, loss, what);
  if (per_class && w.dim() != 1)
    throw ShapeError(std::string(loss) + ": weight must be 1-D [C], got " + str(w));
  return w;
}
}  // namespace

MSELoss::MSELoss(MSELossOptions o) : FunctionalLoss("MSELoss", o) {
  check_options(options, "MSELoss");
}
std::string MSELoss::extra_repr() const {
  return reduction_repr(options.reduction);
}

L1Loss::L1Loss(L1LossOptions o) : FunctionalLoss("L1Loss", o) {
  check_options(options, "L1Loss");
}
std::string L1Loss::extra_repr() const {
  return reduction_repr(options.reduction);
}

SmoothL1Loss::SmoothL1Loss(SmoothL1LossOptions o) : FunctionalLoss("SmoothL1Loss", o) {
  check_options(options, "SmoothL1Loss");
}
std::string SmoothL1Loss::extra_repr() const {
  return reduction_repr(options.reduction) + ", beta=" + fmt(options.beta);
}

HuberLoss::HuberLoss(HuberLossOptions o) : FunctionalLoss("HuberLoss", o) {
  check_options(options, "HuberLoss");
}
std::string HuberLoss::extra_repr() const {
  return reduction_repr(options.reduction) + ", delta=" + fmt(options.delta);
}

CrossEntropyLoss::CrossEntropyLoss(CrossEntropyLossOptions o)
    : FunctionalLoss("CrossEntropyLoss", std::move(o)) {
  check_options(options, "CrossEntropyLoss");
  if (options.weight.defined())
    options.weight =
        register_buffer("weight", checked_weight(options.weight, "CrossEntropyLoss", "weight", true));
}
std::string CrossEntropyLoss::extra_repr() const {
  std::string s = reduction_repr(options.reduction);
  if (options.ignore_index != -100) s += ", ignore_index=" + std::to_string(options.ignore_index);
  if (options.label_smoothing != 0.0) s += ", label_smoothing=" + fmt(options.label_smoothing);
  return s;
}

NLLLoss::NLLLoss(NLLLossOptions o) : FunctionalLoss("NLLLoss", std::move(o)) {
  check_options(options, "NLLLoss");
  if (options.weight.defined())
    options.weight = register_buffer("weight", checked_weight(options.weight, "NLLLoss", "weight", true));
}
std::string NLLLoss::extra_repr() const {
  std::string s = reduction_repr(options.reduction);
  if (options.ignore_index != -100) s += ", ignore_index=" + std::to_string(options.ignore_index);
  return s;
}

BCELoss::BCELoss(BCELossOptions o) : FunctionalLoss("BCELoss", std::move(o)) {
  check_options(options, "BCELoss");
  if (options.weight.defined())
    options.weight = register_buffer("weight", checked_weight(options.weight, "BCELoss", "weight", false));
}
std::string BCELoss::extra_repr() const {
  return reduction_repr(options.reduction);
}

BCEWithLogitsLoss::BCEWithLogitsLoss(BCEWithLogitsLossOptions o)
    : FunctionalLoss("BCEWithLogitsLoss", std::move(o)) {
  constexpr const char* loss = "BCEWithLogitsLoss";
  check_options(options, loss);
  if (options.weight.defined())
    options.weight = register_buffer("weight", checked_weight(options.weight, loss, "weight", false));
  if (options.pos_weight.defined())
    options.pos_weight =
        register_buffer("pos_weight", checked_weight(options.pos_weight, loss, "pos_weight", false));
}
std::string BCEWithLogitsLoss::extra_repr() const {
  return reduction_repr(options.reduction);
}

KLDivLoss::KLDivLoss(KLDivLossOptions o) : FunctionalLoss("KLDivLoss", o) {
  check_options(options, "KLDivLoss");
}
std::string KLDivLoss::extra_repr() const {
  return reduction_repr(options.reduction) + ", log_target=" + (options.log_target ? "true" : "false");
}

CosineEmbeddingLoss::CosineEmbeddingLoss(CosineEmbeddingLossOptions o)
    : FunctionalPairLoss("CosineEmbeddingLoss", o) {
  check_options(options, "CosineEmbeddingLoss");
}
std::string CosineEmbeddingLoss::extra_repr() const {
  return "margin=" + fmt(options.margin) + ", " + reduction_repr(options.reduction);
}

MarginRankingLoss::MarginRankingLoss(MarginRankingLossOptions o)
    : FunctionalPairLoss("MarginRankingLoss", o) {
  check_options(options, "MarginRankingLoss");
}
std::string MarginRankingLoss::extra_repr() const {
  return "margin=" + fmt(options.margin) + ", " + reduction_repr(options.reduction);
}

TripletMarginLoss::TripletMarginLoss(TripletMarginLossOptions o)
    : FunctionalPairLoss("TripletMarginLoss", o) {
  check_options(options, "TripletMarginLoss");
}
std::string TripletMarginLoss::extra_repr() const {
  return "margin=" + fmt(options.margin) + ", p=" + fmt(options.p) + ", eps=" + fmt(options.eps) +
         ", swap=" + (options.swap ? "true" : "false") + ", " + reduction_repr(options.reduction);
}

HingeEmbeddingLoss::HingeEmbeddingLoss(HingeEmbeddingLossOptions o)
    : FunctionalLoss("HingeEmbeddingLoss", o) {
  check_options(options, "HingeEmbeddingLoss");
}
std::string HingeEmbeddingLoss::extra_repr() const {
  return "margin=" + fmt(options.margin) + ", " + reduction_repr(options.reduction);
}

MultiMarginLoss::MultiMarginLoss(MultiMarginLossOptions o) : FunctionalLoss("MultiMarginLoss", std::move(o)) {
  check_options(options, "MultiMarginLoss");
  if (options.weight.defined())
    options.weight =
        register_buffer("weight", checked_weight(options.weight, "MultiMarginLoss", "weight", true));
}
std::string MultiMarginLoss::extra_repr() const {
  return "p=" + std::to_string(options.p) + ", margin=" + fmt(options.margin) + ", " +
         reduction_repr(options.reduction);
}

MultiLabelSoftMarginLoss::MultiLabelSoftMarginLoss(MultiLabelSoftMarginLossOptions o)
    : FunctionalLoss("MultiLabelSoftMarginLoss", std::move(o)) {
  check_options(options, "MultiLabelSoftMarginLoss");
  if (options.weight.defined())
    options.weight = register_buffer(
        "weight", checked_weight(options.weight, "MultiLabelSoftMarginLoss", "weight", false));
}
std::string MultiLabelSoftMarginLoss::extra_repr() const {
  return reduction_repr(options.reduction);
}

SoftMarginLoss::SoftMarginLoss(SoftMarginLossOptions o) : FunctionalLoss("SoftMarginLoss", o) {
  check_options(options, "SoftMarginLoss");
}
std::string SoftMarginLoss::extra_repr() const {
  return reduction_repr(options.reduction);
}

PoissonNLLLoss::PoissonNLLLoss(PoissonNLLLossOptions o) : FunctionalLoss("PoissonNLLLoss", o) {
  check_options(options, "PoissonNLLLoss");
}
std::string PoissonNLLLoss::extra_repr() const {
  return std::string("log_input=") + (options.log_input ? "true" : "false") +
         ", full=" + (options.full ? "true" : "false") + ", eps=" + fmt(options.eps) + ", " +
         reduction_repr(options.reduction);
}

GaussianNLLLoss::GaussianNLLLoss(GaussianNLLLossOptions o) : FunctionalPairLoss("GaussianNLLLoss", o) {
  check_options(options, "GaussianNLLLoss");
}
std::string GaussianNLLLoss::extra_repr() const {
  return std::string("full=") + (options.full ? "true" : "false") + ", eps=" + fmt(options.eps) + ", " +
         reduction_repr(options.reduction);
}

CTCLoss::CTCLoss(CTCLossOptions o) : Module("CTCLoss"), options(o) {
  check_options(options, "CTCLoss");
}
Tensor CTCLoss::forward(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                        const Tensor& target_lengths) {
  return functional::ctc_loss(log_probs, targets, input_lengths, target_lengths, options);
}
std::string CTCLoss::extra_repr() const {
  return "blank=" + std::to_string(options.blank) + ", " + reduction_repr(options.reduction) +
         ", zero_infinity=" + (options.zero_infinity ? "true" : "false");
}

}  // namespace xg::nn
