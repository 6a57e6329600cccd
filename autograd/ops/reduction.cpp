// Reductions (sum, prod, max, min, norm), the composites built on them (mean, var, std,
// logsumexp) and the fused row kernels softmax and log_softmax.
// Reductions run as [outer, n, inner] loops (kernels/loops.hpp) that stay near memory bandwidth.
#include <cmath>
#include <limits>
#include <string>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/simd_math.hpp"
#include "xgrad/autograd/ops/explain.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::Domain;
using detail::visit_dtype;
using detail::visit_float;

namespace {

// Which axes a reduction covers, and the output shape with and without keepdim.
struct Reduction {
  std::vector<bool> reduced;
  Shape keep_shape;   // reduced axes kept with extent 1
  Shape out_shape;    // as requested (keepdim or not)
  int64_t count = 1;  // elements folded into each output element
};

Reduction plan_reduction(const Tensor& x, const Axes& axes, bool keepdim, const char* op) {
  if (!x.defined()) throw ValueError(std::string(op) + ": the operand is undefined");
  Reduction r;
  const int rank = x.dim();
  r.reduced.assign(rank, axes.empty());
  for (int64_t a : axes) {
    const int w = detail::wrap_axis(a, rank, op);
    if (rank == 0) continue;
    if (r.reduced[w]) throw IndexError(std::string(op) + ": axis " + std::to_string(a) + " is listed twice");
    r.reduced[w] = true;
  }
  for (int i = 0; i < rank; ++i) {
    if (r.reduced[i]) {
      r.count *= x.shape()[i];
      r.keep_shape.push_back(1);
      if (keepdim) r.out_shape.push_back(1);
    } else {
      r.keep_shape.push_back(x.shape()[i]);
      r.out_shape.push_back(x.shape()[i]);
    }
  }
  return r;
}

// Runs the plan's [outer, n, inner] steps with `step(in, out, outer, n, inner)`.
// A captured one-step reduction (capture.hpp): the same step function on the plan's buffers.
template <class T, void (*Fn)(const T*, T*, int64_t, int64_t, int64_t)>
void reduce_replay(const capture_detail::Kernel& k) {
  Fn(static_cast<const T*>(k.buf[0]), static_cast<T*>(k.buf[1]), k.n[0], k.n[1], k.n[2]);
}
template <class T>
void copy_values_replay(const capture_detail::Kernel& k) {
  std::copy(static_cast<const T*>(k.buf[0]), static_cast<const T*>(k.buf[0]) + k.n[0],
            static_cast<T*>(k.buf[1]));
}
template <class T>
struct MultiSum {
  detail::ReducePlan plan;
  std::vector<T> a, b;
};
// run_reduction's steps with the plan's scratch (its values are the same: the same steps in order).
template <class T>
void multi_sum_replay(const capture_detail::Kernel& k) {
  auto& m = *static_cast<MultiSum<T>*>(const_cast<void*>(k.aux));
  const T* src = static_cast<const T*>(k.buf[0]);
  for (std::size_t i = 0; i < m.plan.steps.size(); ++i) {
    const auto& s = m.plan.steps[i];
    T* dst =
        i + 1 == m.plan.steps.size() ? static_cast<T*>(k.buf[1]) : (i % 2 == 0 ? m.a.data() : m.b.data());
    detail::reduce_sum_step(src, dst, s.outer, s.n, s.inner);
    src = dst;
  }
}
// Reductions with a capture form: sum (the others refuse while capturing).
template <class T, class Step>
void capture_reduction(const Tensor& x, const Tensor& y, const detail::ReducePlan& plan, Step) {
  if constexpr (std::is_same_v<Step, void (*)(const T*, T*, int64_t, int64_t, int64_t)>) {
    if (plan.steps.empty()) {
      capture_detail::emit("sum", copy_values_replay<T>, {capture_detail::R(x), capture_detail::W(y)},
                           {x.numel()});
      return;
    }
    if (plan.steps.size() == 1) {
      const auto& s = plan.steps[0];
      capture_detail::emit("sum", reduce_replay<T, detail::reduce_sum_step<T>>,
                           {capture_detail::R(x), capture_detail::W(y)}, {s.outer, s.n, s.inner});
      return;
    }
    // Several runs of axes: the plan keeps the two scratch buffers run_reduction allocates.
    auto aux = std::make_shared<MultiSum<T>>();
    aux->plan = plan;
    std::size_t most = 0;
    for (const auto& s : plan.steps) most = std::max(most, static_cast<std::size_t>(s.outer * s.inner));
    aux->a.resize(most);
    aux->b.resize(most);
    capture_detail::emit_owned("sum", multi_sum_replay<T>, {capture_detail::R(x), capture_detail::W(y)}, aux);
    return;
  }
  capture_detail::refuse("reduction", "only sums over one run of adjacent axes are captured");
}

template <class T, class Step>
Tensor run_reduction(const Tensor& x, const Reduction& r, Step step) {
  Tensor y = detail::new_tensor(r.out_shape, x.dtype());
  const detail::ReducePlan plan = detail::make_reduce_plan(x.shape(), r.reduced);
  if (capture_detail::recorder) [[unlikely]]
    capture_reduction<T>(x, y, plan, step);
  if (plan.steps.empty()) {
    std::copy(x.data<T>(), x.data<T>() + x.numel(), y.data<T>());
    return y;
  }
  const T* src = x.data<T>();
  std::vector<T> tmp_a, tmp_b;
  for (std::size_t k = 0; k < plan.steps.size(); ++k) {
    const auto& s = plan.steps[k];
    T* dst;
    if (k + 1 == plan.steps.size()) {
      dst = y.data<T>();
    } else {
      auto& buf = (k % 2 == 0) ? tmp_a : tmp_b;
      buf.resize(static_cast<std::size_t>(s.outer * s.inner));
      dst = buf.data();
    }
    step(src, dst, s.outer, s.n, s.inner);
    src = dst;
  }
  return y;
}

// The gradient of a reduction, broadcast back to the input's shape.
Tensor expand_back(const Tensor& g, const Shape& keep_shape, const Shape& in_shape) {
  return expand(reshape(g, keep_shape), in_shape);
}

std::vector<OpSample> reduce_samples_of(Tensor (*f)(const Tensor&, const Axes&, bool), Domain d) {
  return detail::reduce_samples([f](const Tensor& x, const Axes& a, bool k) { return f(x, a, k); }, d);
}

}  // namespace

// ---- sum ----
XG_OP(sum, {.formula = "d/dx sum(x) = 1 (the gradient broadcast back over the reduced axes)",
            .kind = OpKind::primitive,
            .explain = [](const ChainRuleContext& c) -> std::optional<ChainRuleLine> {
              const Tensor& g = c.grad_output;
              if (g.shape() == c.input_shape) return c.note(c.up, g);
              // g broadcast back: the reduced axes (bit i of the attribute: axis i) become size 1.
              const auto mask = static_cast<uint64_t>(c.attr(0));
              Shape kept = c.input_shape;
              for (int i = 0; i < kept.rank(); ++i)
                if (mask >> i & 1) kept[i] = 1;
              return c.note(c.up + " broadcast to " + c.input_shape.str(),
                            expand(reshape(g, kept), c.input_shape));
            },
            .samples =
                [] {
                  auto s = reduce_samples_of(
                      [](const Tensor& x, const Axes& a, bool k) { return sum(x, a, k); }, Domain::real);
                  s.push_back({"empty [0, 3] axis 0",
                               {detail::sample_tensor({0, 3}, Domain::real, 9)},
                               [](std::span<const Tensor> in) { return sum(in[0], {0}); },
                               0,
                               "OP(x0, 0)"});
                  return s;
                },
            .torch = "torch.sum"});
Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  const Reduction r = plan_reduction(x, axes, keepdim, "sum");
  Tensor y =
      visit_dtype(x.dtype(), [&]<class T>() { return run_reduction<T>(x, r, detail::reduce_sum_step<T>); });
  if (!will_record({x})) return y;
  uint64_t reduced = 0;  // for the step-by-step backward: bit i set when axis i is summed
  for (int i = 0; i < x.dim(); ++i)
    if (r.keep_shape[i] != x.shape()[i]) reduced |= uint64_t(1) << i;
  return record(
      opdefs::sum_op, y, {x},
      [ks = r.keep_shape, xs = x.shape()](const Node&, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = expand_back(g, ks, xs);
      },
      [&](std::span<const Tensor> t) { return sum(t[0], axes, keepdim); },
      OpAttrs{{static_cast<double>(reduced), 0}, 1});
}

XG_OP(mean, {.formula = "mean(x) = sum(x) / n (composite)",
             .kind = OpKind::composite,
             .samples =
                 [] {
                   return reduce_samples_of(
                       [](const Tensor& x, const Axes& a, bool k) { return mean(x, a, k); }, Domain::real);
                 },
             .torch = "torch.mean"});
Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
  XG_COMPOSITE_SCOPE(mean);
  const Reduction r = plan_reduction(x, axes, keepdim, "mean");
  if (!x.is_floating_point()) throw TypeError("mean: expected a float tensor, got int64");
  return sum(x, axes, keepdim) * (1.0 / static_cast<double>(r.count));
}

// ---- prod ----
XG_OP(prod, {.formula = "d/dx_i prod(x) = prod of the other elements = prod(x) / x_i",
             .kind = OpKind::primitive,
             .samples =
                 [] {
                   auto s = reduce_samples_of(
                       [](const Tensor& x, const Axes& a, bool k) { return prod(x, a, k); }, Domain::nonzero);
                   // torch.prod reduces one dim (or all): several axes are nested calls
                   const char* torch[] = {"OP(x0)",
                                          "OP(x0, 0)",
                                          "OP(x0, -1, keepdim=True)",
                                          "OP(OP(x0, 2), 0)",
                                          "OP(x0, 1, keepdim=True)",
                                          "OP(x0)",
                                          "OP(x0, 0)",
                                          "OP(x0, 1)"};
                   for (std::size_t i = 0; i < s.size(); ++i) s[i].torch = torch[i];
                   return s;
                 },
             .torch = "torch.prod"});
namespace {
// For each element of x, the product of the other elements of its reduction group (a constant):
// the derivative of prod where x has zeros and y / x is undefined.
Tensor prod_of_others(const Tensor& x, const Axes& axes) {
  NoGradGuard guard;
  Tensor others = zeros_like(x);
  visit_dtype(x.dtype(), [&]<class T>() {
    T* ov = others.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      Tensor tmp = x.detach().clone();
      tmp.data<T>()[i] = T(1);
      Tensor pe = expand(prod(tmp, axes, true), x.shape());
      ov[i] = pe.data<T>()[i];
    }
  });
  return others;
}
}  // namespace

Tensor prod(const Tensor& x, const Axes& axes, bool keepdim) {
  const Reduction r = plan_reduction(x, axes, keepdim, "prod");
  Tensor y = visit_dtype(x.dtype(), [&]<class T>() {
    return run_reduction<T>(x, r, [](const T* in, T* out, int64_t o, int64_t n, int64_t i) {
      detail::reduce_fold_step(in, out, o, n, i, T(1), [](T a, T b) { return detail::mul_wrap(a, b); });
    });
  });
  if (!will_record({x})) return y;
  return record(
      opdefs::prod_op, y, {x},
      [sx = save_input(x), sy = save_output(y), ks = r.keep_shape, axes](const Node& n, const Tensor& g,
                                                                         std::span<Tensor> gx) {
        Tensor x = sx.unpack(n), y = sy.unpack(n);
        // A 0-d x: the identity, gradient g also at NaN (as PyTorch; over a size-1 axis of a
        // larger tensor PyTorch takes y / x, NaN at a NaN x, and so does xgrad)
        if (x.dim() == 0) return void(gx[0] = g);
        bool has_zero;
        {
          NoGradGuard guard;
          has_zero = sum(eq(x, 0.0)).item() > 0;
        }
        if (!has_zero) {
          gx[0] = expand_back(g * y, ks, x.shape()) / x;
          return;
        }
        if (GradMode::is_enabled())
          throw ValueError("prod: higher-order gradients at inputs containing zeros are not supported");
        // With zeros, y / x is undefined: take the product of the other elements directly.
        gx[0] = expand_back(g, ks, x.shape()) * prod_of_others(x, axes);
      },
      [&](std::span<const Tensor> t) {
        bool has_zero;
        {
          NoGradGuard guard;
          has_zero = x.numel() > 0 && sum(eq(x, 0.0)).item() > 0;
        }
        if (x.dim() == 0) return t[0];
        // sum_i t_i prod_{j != i} x_j: as sum(t y / x) without zeros, else from the other elements
        // directly (a constant, so not differentiable again, as the backward there)
        if (!has_zero) return sum(t[0] * expand_back(y, r.keep_shape, x.shape()) / x, axes, keepdim);
        if (GradMode::is_enabled() && (x.requires_grad() || t[0].requires_grad()))
          throw ValueError("prod: higher-order gradients at inputs containing zeros are not supported");
        return sum(t[0] * prod_of_others(x, axes), axes, keepdim);
      });
}

// ---- max / min (ties share the gradient, as amax/amin) ----
namespace {
template <bool Larger>
Tensor extreme_reduce(const Tensor& x, const Axes& axes, bool keepdim, const OpInfo& info) {
  const Reduction r = plan_reduction(x, axes, keepdim, info.name);
  for (int i = 0; i < x.dim(); ++i)
    if (r.reduced[i] && x.shape()[i] == 0)
      throw ValueError(std::string(info.name) + ": cannot reduce over empty axis " + std::to_string(i) +
                       " of shape " + x.shape().str());
  Tensor y = visit_dtype(x.dtype(), [&]<class T>() {
    const T init = Larger ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
    return run_reduction<T>(x, r, [init](const T* in, T* out, int64_t o, int64_t n, int64_t i) {
      // NaN propagates, as PyTorch's max does
      detail::reduce_fold_step(in, out, o, n, i, init,
                               [](T a, T b) { return (b != b || (Larger ? b > a : b < a)) ? b : a; });
    });
  });
  if (!will_record({x})) return y;
  return record(
      info, y, {x},
      [sx = save_input(x), sy = save_output(y), ks = r.keep_shape, axes](const Node& n, const Tensor& g,
                                                                         std::span<Tensor> gx) {
        Tensor x = sx.unpack(n);
        Tensor mask, count;
        {
          NoGradGuard guard;
          mask = eq(x, expand_back(sy.unpack(n), ks, x.shape()));
          count = sum(mask, axes, true);
        }
        gx[0] = expand_back(g, ks, x.shape()) / expand(count, x.shape()) * mask;
      },
      [&](std::span<const Tensor> t) {
        // the tangent averaged over the tied extrema, as the backward shares the gradient
        Tensor mask, count;
        {
          NoGradGuard guard;
          mask = eq(x, expand_back(y, r.keep_shape, x.shape()));
          count = sum(mask, axes, true);
        }
        return reshape(sum(t[0] * mask, axes, true) / count, y.shape());
      });
}
}  // namespace
XG_OP(max, {.formula = "d/dx max(x) = [x = max(x)] / (number of maxima)",
            .kind = OpKind::primitive,
            .samples =
                [] {
                  return reduce_samples_of(
                      [](const Tensor& x, const Axes& a, bool k) { return max(x, a, k); }, Domain::real);
                },
            .torch = "torch.amax"});
XG_OP(min, {.formula = "d/dx min(x) = [x = min(x)] / (number of minima)",
            .kind = OpKind::primitive,
            .samples =
                [] {
                  return reduce_samples_of(
                      [](const Tensor& x, const Axes& a, bool k) { return min(x, a, k); }, Domain::real);
                },
            .torch = "torch.amin"});
Tensor max(const Tensor& x, const Axes& axes, bool keepdim) {
  return extreme_reduce<true>(x, axes, keepdim, opdefs::max_op);
}
Tensor min(const Tensor& x, const Axes& axes, bool keepdim) {
  return extreme_reduce<false>(x, axes, keepdim, opdefs::min_op);
}

// ---- var / std (composites) ----
XG_OP(var, {.formula = "var(x) = sum((x - mean(x))^2) / (n - correction) (composite)",
            .kind = OpKind::composite,
            .samples =
                [] {
                  auto s = reduce_samples_of(
                      [](const Tensor& x, const Axes& a, bool k) { return var(x, a, 1, k); }, Domain::real);
                  for (OpSample& x : s)  // torch.var takes correction= only with a dim (None: all)
                    if (x.torch == "OP(x0)") x.torch = "OP(x0, dim=None)";
                  s = detail::with_torch_kwargs(std::move(s), "correction=1");
                  s.erase(s.begin() + 5);  // the scalar: n - 1 = 0
                  s.erase(s.begin() + 6);  // size-1 axis: n - 1 = 0
                  return s;
                },
            .torch = "torch.var"});
XG_OP(std, {.formula = "std(x) = sqrt(var(x)) (composite)",
            .kind = OpKind::composite,
            .samples =
                [] {
                  auto s = reduce_samples_of(
                      [](const Tensor& x, const Axes& a, bool k) { return std(x, a, 0, k); }, Domain::real);
                  for (OpSample& x : s)  // torch.std takes correction= only with a dim (None: all)
                    if (x.torch == "OP(x0)") x.torch = "OP(x0, dim=None)";
                  s = detail::with_torch_kwargs(std::move(s), "correction=0");
                  s.erase(s.begin() + 5);  // the scalar: std 0, not differentiable
                  s.erase(s.begin() + 6);
                  return s;
                },
            .torch = "torch.std"});
Tensor var(const Tensor& x, const Axes& axes, int64_t correction, bool keepdim) {
  XG_COMPOSITE_SCOPE(var);
  const Reduction r = plan_reduction(x, axes, keepdim, "var");
  Tensor d = x - mean(x, axes, true);
  const double denom = static_cast<double>(r.count) - static_cast<double>(correction);  // no int64 overflow
  return sum(d * d, axes, keepdim) * (denom > 0 ? 1.0 / denom : std::numeric_limits<double>::quiet_NaN());
}
Tensor std(const Tensor& x, const Axes& axes, int64_t correction, bool keepdim) {
  XG_COMPOSITE_SCOPE(std);
  return sqrt(var(x, axes, correction, keepdim));
}

// ---- norm ----
// norm is two ops on the tape: the 2-norm is a primitive; any other p composes abs, pow and sum
// (registered as norm_p, so that the sweep can tell the two kinds apart).
XG_OP(norm, {.formula = "d/dx ||x||_2 = x / ||x||_2 (0 at 0)",
             .kind = OpKind::primitive,
             .samples =
                 [] {
                   return reduce_samples_of(
                       [](const Tensor& x, const Axes& a, bool k) { return norm(x, 2.0, a, k); },
                       Domain::real);
                 },
             .torch = "torch.linalg.vector_norm"});
XG_OP(norm_p,
      {.formula = "||x||_p = (sum |x|^p)^(1/p) for p != 2 (composite: abs, pow, sum)",
       .kind = OpKind::composite,
       .samples =
           [] {
             auto s3 = detail::with_torch_kwargs(
                 reduce_samples_of([](const Tensor& x, const Axes& a, bool k) { return norm(x, 3.0, a, k); },
                                   Domain::nonzero),
                 "ord=3");
             auto s1 = detail::with_torch_kwargs(
                 reduce_samples_of([](const Tensor& x, const Axes& a, bool k) { return norm(x, 1.0, a, k); },
                                   Domain::nonzero),
                 "ord=1");
             return std::vector<OpSample>{s3[1], s3[3], s1[1]};
           },
       .torch = "torch.linalg.vector_norm"});
Tensor norm(const Tensor& x, double p, const Axes& axes, bool keepdim) {
  const Reduction r = plan_reduction(x, axes, keepdim, "norm");
  if (!(p > 0) || !std::isfinite(p))
    throw ValueError("norm: p must be positive and finite, got " + std::to_string(p));
  if (!x.is_floating_point()) throw TypeError("norm: expected a float tensor, got int64");
  if (p != 2.0) {
    XG_COMPOSITE_SCOPE(norm_p);
    if (p == 1.0) return sum(abs(x), axes, keepdim);
    return pow(sum(pow(abs(x), p), axes, keepdim), 1.0 / p);
  }
  Tensor y;
  {
    NoGradGuard guard;  // the forward value only; the node below carries the gradient
    y = sqrt(sum(x * x, axes, keepdim));
  }
  if (!will_record({x})) return y;
  return record(
      opdefs::norm_op, y, {x},
      [sx = save_input(x), sy = save_output(y), ks = r.keep_shape](const Node& n, const Tensor& g,
                                                                   std::span<Tensor> gx) {
        Tensor x = sx.unpack(n), y = sy.unpack(n);
        // x / y with y replaced by 1 where it is 0 (x is 0 there too): gradient 0, no NaN
        Tensor safe = where(eq(y, 0.0), ones_like(y), y);
        gx[0] = expand_back(g / safe, ks, x.shape()) * x;
      },
      [&](std::span<const Tensor> t) {
        Tensor safe = where(eq(y, 0.0), ones_like(y), y);
        return sum(t[0] * x, axes, keepdim) / safe;
      });
}

// ---- logsumexp, softmax, log_softmax (composites, shifted by the max for stability) ----
namespace {
// The max over axes (keepdim), cut from the graph: shifting by it changes no value or gradient.
Tensor stable_shift(const Tensor& x, const Axes& axes) {
  NoGradGuard guard;
  Tensor m = max(x, axes, true);
  return where(eq(abs(m), INFINITY), zeros_like(m), m);  // all -inf (or inf) rows: shift by 0
}
std::vector<OpSample> axis_samples(Tensor (*f)(const Tensor&, int64_t)) {
  auto make = [f](const char* label, Shape s, int64_t axis, unsigned salt) {
    return OpSample{label,
                    {detail::sample_tensor(s, Domain::real, salt)},
                    [f, axis](std::span<const Tensor> in) { return f(in[0], axis); },
                    0,
                    "OP(x0, " + std::to_string(axis) + ")"};
  };
  return {make("[3, 4] axis -1", {3, 4}, -1, 1), make("[3, 4] axis 0", {3, 4}, 0, 2),
          make("[2, 3, 2] axis 1", {2, 3, 2}, 1, 3), make("[5] axis 0", {5}, 0, 4)};
}
}  // namespace
XG_OP(logsumexp, {.formula = "logsumexp(x) = m + log(sum(exp(x - m))), m = max(x) (composite)",
                  .kind = OpKind::composite,
                  .samples =
                      [] {
                        auto s = reduce_samples_of(
                            [](const Tensor& x, const Axes& a, bool k) { return logsumexp(x, a, k); },
                            Domain::real);
                        // torch.logsumexp needs a dim: all axes are one of the flattened input
                        for (OpSample& x : s)
                          if (x.torch == "OP(x0)") x.torch = "OP(x0.reshape(-1), 0)";
                        return s;
                      },
                  .torch = "torch.logsumexp"});
XG_OP(softmax, {.formula = "d/dx softmax(x) = y * (grad - sum(grad * y)), y = softmax(x)",
                .kind = OpKind::primitive,
                .samples = [] { return axis_samples(softmax); },
                .torch = "torch.softmax"});
XG_OP(log_softmax, {.formula = "d/dx log_softmax(x) = grad - exp(y) * sum(grad), y = log_softmax(x)",
                    .kind = OpKind::primitive,
                    .samples = [] { return axis_samples(log_softmax); },
                    .torch = "torch.log_softmax"});
Tensor logsumexp(const Tensor& x, const Axes& axes, bool keepdim) {
  XG_COMPOSITE_SCOPE(logsumexp);
  const Reduction r = plan_reduction(x, axes, keepdim, "logsumexp");
  if (!x.is_floating_point()) throw TypeError("logsumexp: expected a float tensor, got int64");
  Tensor m = stable_shift(x, axes);
  Tensor y = log(sum(exp(x - m), axes, true)) + m;
  return keepdim ? y : reshape(y, r.out_shape);
}
// Fused row kernels: one pass for the max, one for exp (vectorised) and the sum, one to scale.
// (The composite max/sub/exp/sum/div chain made five passes and four temporaries.)
namespace {
template <bool Log, class T>
void softmax_exec(const T* in, T* out, int64_t outer, int64_t n, int64_t inner);
template <bool Log, class T>
void softmax_replay(const capture_detail::Kernel& k) {
  softmax_exec<Log>(static_cast<const T*>(k.buf[0]), static_cast<T*>(k.buf[1]), k.n[0], k.n[1], k.n[2]);
}
template <bool Log>
Tensor softmax_forward(const Tensor& x, int axis, const char* op) {
  Tensor y = detail::new_tensor(x.shape(), x.dtype());
  if (x.numel() == 0) return y;
  int64_t outer = 1, inner = 1;
  const int64_t n = x.dim() ? x.shape()[axis] : 1;
  for (int i = 0; i < axis; ++i) outer *= x.shape()[i];
  for (int i = axis + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  visit_float(x.dtype(), op, [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]] {
      if (inner != 1) capture_detail::refuse(op, "only over the last axis");
      capture_detail::emit(op, softmax_replay<Log, T>, {capture_detail::R(x), capture_detail::W(y)},
                           {outer, n, inner});
    }
    softmax_exec<Log>(x.data<T>(), y.data<T>(), outer, n, inner);
  });
  return y;
}
template <bool Log, class T>
void softmax_exec(const T* in, T* out, int64_t outer, int64_t n, int64_t inner) {
  {
    std::vector<T> col;
    if (inner != 1) col.resize(static_cast<std::size_t>(2 * n));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        // gather the row (strided when inner > 1) into contiguous memory
        const T* src = in + o * n * inner + i;
        T* row = inner == 1 ? out + o * n : col.data();
        T* tmp = inner == 1 ? out + o * n : col.data() + n;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t k = 0; k < n; ++k) m = std::max(m, src[k * inner]);
        if (!std::isfinite(m)) m = 0;  // all -inf (or inf/NaN present): no shift, the result says so
        for (int64_t k = 0; k < n; ++k) row[k] = src[k * inner] - m;
        if (Log) {
          simd::exp(row, tmp == row ? row : tmp, n);
          T s = 0;
          for (int64_t k = 0; k < n; ++k) s += tmp[k];
          const T ls = std::log(s);
          // tmp may alias row (inner == 1): recompute x - m - log(sum)
          for (int64_t k = 0; k < n; ++k) tmp[k] = src[k * inner] - m - ls;
        } else {
          simd::exp(row, tmp, n);
          T s = 0;
          for (int64_t k = 0; k < n; ++k) s += tmp[k];
          const T inv = T(1) / s;
          for (int64_t k = 0; k < n; ++k) tmp[k] *= inv;
        }
        if (inner != 1)
          for (int64_t k = 0; k < n; ++k) out[o * n * inner + i + k * inner] = tmp[k];
      }
  }
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  if (!x.defined()) throw ValueError("softmax: the operand is undefined");
  const int a = detail::wrap_axis(axis, x.dim(), "softmax");
  if (!x.is_floating_point()) throw TypeError("softmax: expected a float tensor, got int64");
  Tensor y = softmax_forward<false>(x, a, "softmax");
  if (!will_record({x})) return y;
  return record(
      opdefs::softmax_op, y, {x},
      [sy = save_output(y), a](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
        Tensor y = sy.unpack(nd);
        gx[0] = y * (g - sum(g * y, {a}, true));
      },
      [&](std::span<const Tensor> t) { return y * (t[0] - sum(t[0] * y, {a}, true)); });
}
Tensor log_softmax(const Tensor& x, int64_t axis) {
  if (!x.defined()) throw ValueError("log_softmax: the operand is undefined");
  const int a = detail::wrap_axis(axis, x.dim(), "log_softmax");
  if (!x.is_floating_point()) throw TypeError("log_softmax: expected a float tensor, got int64");
  Tensor y = softmax_forward<true>(x, a, "log_softmax");
  if (!will_record({x})) return y;
  return record(
      opdefs::log_softmax_op, y, {x},
      [sy = save_output(y), a](const Node& nd, const Tensor& g, std::span<Tensor> gx) {
        gx[0] = g - exp(sy.unpack(nd)) * sum(g, {a}, true);
      },
      [&](std::span<const Tensor> t) { return t[0] - sum(t[0] * exp(y), {a}, true); });
}

// ---- argmax / argmin ----
namespace {
template <bool Larger>
Tensor arg_extreme(const Tensor& x, int64_t axis, bool keepdim, const char* op) {
  if (!x.defined()) throw ValueError(std::string(op) + ": the operand is undefined");
  const int a = detail::wrap_axis(axis, x.dim(), op);
  const int64_t n = x.dim() ? x.shape()[a] : 1;
  if (n == 0)
    throw ValueError(std::string(op) + ": cannot reduce over empty axis " + std::to_string(axis) +
                     " of shape " + x.shape().str());
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < a && x.dim(); ++i) outer *= x.shape()[i];
  for (int i = a + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  Shape os;
  for (int i = 0; i < x.dim(); ++i) {
    if (i != a)
      os.push_back(x.shape()[i]);
    else if (keepdim)
      os.push_back(1);
  }
  Tensor y = detail::new_tensor(os, Dtype::int64);
  int64_t* out = y.data<int64_t>();
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* in = x.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* p = in + o * n * inner + i;
        // The first NaN wins, as PyTorch (a NaN compares false both ways).
        int64_t best = 0;
        for (int64_t k = 1; k < n && p[best * inner] == p[best * inner]; ++k)
          if (Larger ? p[k * inner] > p[best * inner] : p[k * inner] < p[best * inner])
            best = k;
          else if (p[k * inner] != p[k * inner])
            best = k;
        out[o * inner + i] = best;
      }
  });
  return y;
}
}  // namespace
XG_OP(argmax,
      {.formula = "indices carry no gradient",
       .kind = OpKind::non_differentiable,
       .samples =
           [] {
             return std::vector<OpSample>{{"[2, 3] axis 1",
                                           {tensor({1, 5, 2, 7, 0, 7}, {2, 3})},
                                           [](std::span<const Tensor> in) { return argmax(in[0], 1); },
                                           0,
                                           "OP(x0, 1)"}};
           },
       .torch = "torch.argmax"});
XG_OP(argmin,
      {.formula = "indices carry no gradient",
       .kind = OpKind::non_differentiable,
       .samples =
           [] {
             return std::vector<OpSample>{{"[2, 3] axis 0",
                                           {tensor({1, 5, 2, 7, 0, 7}, {2, 3})},
                                           [](std::span<const Tensor> in) { return argmin(in[0], 0); },
                                           0,
                                           "OP(x0, 0)"}};
           },
       .torch = "torch.argmin"});
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
  return arg_extreme<true>(x, axis, keepdim, "argmax");
}
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim) {
  return arg_extreme<false>(x, axis, keepdim, "argmin");
}

}  // namespace xg
