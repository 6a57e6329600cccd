#include "optim/rmsprop.hpp"

#include <cmath>

namespace xg::optim {

void RMSpropOptions::check() const {
  detail::check_option(lr >= 0.0, "RMSprop", "lr", lr, "must be >= 0");
  detail::check_option(alpha >= 0.0, "RMSprop", "alpha", alpha, "must be >= 0");
  detail::check_option(eps >= 0.0, "RMSprop", "eps", eps, "must be >= 0");
  detail::check_option(weight_decay >= 0.0, "RMSprop", "weight_decay", weight_decay, "must be >= 0");
  detail::check_option(momentum >= 0.0, "RMSprop", "momentum", momentum, "must be >= 0");
}

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : TypedOptimizer("RMSprop", {{std::move(params), options}}, options) {}
RMSprop::RMSprop(std::vector<ParamGroup> groups, RMSpropOptions defaults)
    : TypedOptimizer("RMSprop", std::move(groups), defaults) {}

namespace {
template <class T>
void rmsprop_kernel(T* __restrict p, const T* __restrict grad, T* __restrict v, T* __restrict buf, T* __restrict gave,
                    int64_t n, const RMSpropOptions& o) {
  const T lr = static_cast<T>(o.lr), a = static_cast<T>(o.alpha), c = static_cast<T>(1.0 - o.alpha);
  const T eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay), mu = static_cast<T>(o.momentum);
  const T sign = o.maximize ? T(-1) : T(1);
  const bool decay = o.weight_decay != 0.0;
  for (int64_t i = 0; i < n; ++i) {
    T g = sign * grad[i];
    if (decay) g += wd * p[i];
    v[i] = a * v[i] + c * g * g;
    T var = v[i];
    if (gave) {
      gave[i] = a * gave[i] + c * g;
      var -= gave[i] * gave[i];
    }
    const T avg = std::sqrt(var) + eps;
    if (buf) {
      buf[i] = mu * buf[i] + g / avg;
      p[i] -= lr * buf[i];
    } else {
      p[i] -= lr * (g / avg);
    }
  }
}
}  // namespace

void RMSprop::step() {
  NoGradGuard no_grad;
  for (ParamGroup& group : groups_) {
    const RMSpropOptions& o = group.options;
    for (const Tensor& p : group.params) {
      const Tensor g = detail::checked_grad(name(), p);
      if (!g.defined()) continue;
      RMSpropState& s = state_of(p);
      detail::ensure_buffer(s.square_avg, p);
      if (o.momentum > 0.0) detail::ensure_buffer(s.momentum_buffer, p);
      if (o.centered) detail::ensure_buffer(s.grad_avg, p);
      ++s.step;
      Tensor param = p;
      detail::visit_float(p, name(), [&]<class T>() {
        rmsprop_kernel<T>(param.data<T>(), g.data<T>(), s.square_avg.data<T>(),
                          o.momentum > 0.0 ? s.momentum_buffer.data<T>() : nullptr,
                          o.centered ? s.grad_avg.data<T>() : nullptr, p.numel(), o);
      });
      detail::bump_version(p);
      detail::bump_version(s.square_avg);
      if (o.momentum > 0.0) detail::bump_version(s.momentum_buffer);
      if (o.centered) detail::bump_version(s.grad_avg);
    }
  }
}

}  // namespace xg::optim
