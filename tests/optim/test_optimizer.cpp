// The optimizers: every update rule against a trajectory computed by hand in this file from
// PyTorch's documented formulas (plain doubles), parameter groups, zero_grad, lazy state and
// version counters, state dicts that resume a run exactly, L-BFGS, and the errors.
//
// The problem: f(θ) = Σ a θ² + b θ over seven elements held in two tensors (a 2x2 matrix and a
// 3-vector), so that ∇f = 2 a θ + b. The element-wise optimizers treat every element on its own,
// so the hand-written reference runs each element's scalar recurrence.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/optim/optim.hpp"

namespace {

namespace optim = xg::optim;
using xg::Dtype;
using xg::Tensor;

const std::vector<double> kA = {0.5, 1.0, 1.5, 2.0, 0.25, 3.0, 0.75};
const std::vector<double> kB = {0.1, -0.2, 0.3, -0.4, 0.5, 0.0, -1.0};
const std::vector<double> kX0 = {1.0, -2.0, 0.5, 1.5, -0.5, 0.8, 2.0};

std::vector<double> part(const std::vector<double>& v, std::size_t from, std::size_t to) {
  return {v.begin() + static_cast<std::ptrdiff_t>(from), v.begin() + static_cast<std::ptrdiff_t>(to)};
}

struct Problem {
  Tensor p1, p2;
  explicit Problem(Dtype dtype = Dtype::float64, const std::vector<double>& x0 = kX0) {
    p1 = xg::tensor(part(x0, 0, 4), {2, 2}, {.dtype = dtype, .requires_grad = true});
    p2 = xg::tensor(part(x0, 4, 7), {3}, {.dtype = dtype, .requires_grad = true});
  }
  std::vector<Tensor> params() const { return {p1, p2}; }
  Tensor loss() const {
    const Dtype d = p1.dtype();
    Tensor a1 = xg::tensor(part(kA, 0, 4), {2, 2}, {.dtype = d}),
           b1 = xg::tensor(part(kB, 0, 4), {2, 2}, {.dtype = d});
    Tensor a2 = xg::tensor(part(kA, 4, 7), {3}, {.dtype = d}),
           b2 = xg::tensor(part(kB, 4, 7), {3}, {.dtype = d});
    return xg::sum(a1 * p1 * p1) + xg::sum(b1 * p1) + xg::sum(a2 * p2 * p2) + xg::sum(b2 * p2);
  }
  std::vector<double> values() const {
    std::vector<double> v = p1.to_vector<double>(), w = p2.to_vector<double>();
    v.insert(v.end(), w.begin(), w.end());
    return v;
  }
};

double f_of(const std::vector<double>& x) {
  double f = 0;
  for (std::size_t i = 0; i < x.size(); ++i) f += kA[i] * x[i] * x[i] + kB[i] * x[i];
  return f;
}
std::vector<double> grad_of(const std::vector<double>& x) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) g[i] = 2 * kA[i] * x[i] + kB[i];
  return g;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CAPTURE(got[i]);
    CAPTURE(want[i]);
    CHECK(std::abs(got[i] - want[i]) <= tol * std::max(1.0, std::abs(want[i])));
  }
}

/// Reference: one step of the documented update for every element, on its own θ.
using Reference = std::function<void(std::vector<double>& theta, const std::vector<double>& grad, int t)>;

/// Runs `steps` library steps and the hand reference side by side; compares after each step.
void check_trajectory(optim::Optimizer& opt, const Problem& pb, Reference ref, int steps = 6,
                      double tol = 1e-12) {
  std::vector<double> theta = pb.values();
  for (int t = 1; t <= steps; ++t) {
    CAPTURE(t);
    opt.zero_grad();
    pb.loss().backward();
    opt.step();
    ref(theta, grad_of(theta), t);
    check_close(pb.values(), theta, tol);
  }
}

// ---- the references: PyTorch's documented pseudo-code, element by element ----

Reference sgd_ref(optim::SGDOptions o) {
  auto b = std::make_shared<std::vector<double>>();
  return [o, b](std::vector<double>& th, const std::vector<double>& grad, int t) {
    b->resize(th.size());
    for (std::size_t i = 0; i < th.size(); ++i) {
      double g = o.maximize ? -grad[i] : grad[i];
      if (o.weight_decay != 0) g = g + o.weight_decay * th[i];
      if (o.momentum != 0) {
        (*b)[i] = t > 1 ? o.momentum * (*b)[i] + (1 - o.dampening) * g : g;
        g = o.nesterov ? g + o.momentum * (*b)[i] : (*b)[i];
      }
      th[i] = th[i] - o.lr * g;
    }
  };
}

struct AdamLike {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;
};
Reference adam_ref(AdamLike o) {
  auto m = std::make_shared<std::vector<double>>(), v = std::make_shared<std::vector<double>>(),
       vmax = std::make_shared<std::vector<double>>();
  return [o, m, v, vmax](std::vector<double>& th, const std::vector<double>& grad, int t) {
    m->resize(th.size()), v->resize(th.size()), vmax->resize(th.size());
    for (std::size_t i = 0; i < th.size(); ++i) {
      double g = o.maximize ? -grad[i] : grad[i];
      if (o.decoupled)
        th[i] = th[i] - o.lr * o.weight_decay * th[i];
      else if (o.weight_decay != 0)
        g = g + o.weight_decay * th[i];
      (*m)[i] = o.beta1 * (*m)[i] + (1 - o.beta1) * g;
      (*v)[i] = o.beta2 * (*v)[i] + (1 - o.beta2) * g * g;
      const double m_hat = (*m)[i] / (1 - std::pow(o.beta1, t));
      double v_hat;
      if (o.amsgrad) {
        (*vmax)[i] = std::max((*vmax)[i], (*v)[i]);
        v_hat = (*vmax)[i] / (1 - std::pow(o.beta2, t));
      } else {
        v_hat = (*v)[i] / (1 - std::pow(o.beta2, t));
      }
      th[i] = th[i] - o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
    }
  };
}
Reference adam_ref(optim::AdamOptions o) {
  return adam_ref(
      AdamLike{o.lr, o.betas[0], o.betas[1], o.eps, o.weight_decay, o.amsgrad, o.maximize, false});
}
Reference adamw_ref(optim::AdamWOptions o) {
  return adam_ref(AdamLike{o.lr, o.betas[0], o.betas[1], o.eps, o.weight_decay, o.amsgrad, o.maximize, true});
}

Reference rmsprop_ref(optim::RMSpropOptions o) {
  auto v = std::make_shared<std::vector<double>>(), b = std::make_shared<std::vector<double>>(),
       gave = std::make_shared<std::vector<double>>();
  return [o, v, b, gave](std::vector<double>& th, const std::vector<double>& grad, int) {
    v->resize(th.size()), b->resize(th.size()), gave->resize(th.size());
    for (std::size_t i = 0; i < th.size(); ++i) {
      double g = o.maximize ? -grad[i] : grad[i];
      if (o.weight_decay != 0) g = g + o.weight_decay * th[i];
      (*v)[i] = o.alpha * (*v)[i] + (1 - o.alpha) * g * g;
      double v_tilde = (*v)[i];
      if (o.centered) {
        (*gave)[i] = (*gave)[i] * o.alpha + (1 - o.alpha) * g;
        v_tilde = v_tilde - (*gave)[i] * (*gave)[i];
      }
      if (o.momentum > 0) {
        (*b)[i] = o.momentum * (*b)[i] + g / (std::sqrt(v_tilde) + o.eps);
        th[i] = th[i] - o.lr * (*b)[i];
      } else {
        th[i] = th[i] - o.lr * g / (std::sqrt(v_tilde) + o.eps);
      }
    }
  };
}

Reference adagrad_ref(optim::AdagradOptions o) {
  auto sum = std::make_shared<std::vector<double>>();
  return [o, sum](std::vector<double>& th, const std::vector<double>& grad, int t) {
    if (sum->empty()) sum->assign(th.size(), o.initial_accumulator_value);
    for (std::size_t i = 0; i < th.size(); ++i) {
      double g = o.maximize ? -grad[i] : grad[i];
      const double lr_t = o.lr / (1 + (t - 1) * o.lr_decay);
      if (o.weight_decay != 0) g = g + o.weight_decay * th[i];
      (*sum)[i] = (*sum)[i] + g * g;
      th[i] = th[i] - lr_t * g / (std::sqrt((*sum)[i]) + o.eps);
    }
  };
}

std::string temp_path(const std::string& tag) {
  return xg_test::temp_path("optim_" + tag + ".safetensors");
}

}  // namespace

// ---------------------------------------------------------------- SGD
TEST_CASE("SGD follows the documented update for every option combination") {
  const std::vector<optim::SGDOptions> cases = {
      {.lr = 0.1},
      {.lr = 0.1, .momentum = 0.9},
      {.lr = 0.05, .momentum = 0.9, .dampening = 0.5},
      {.lr = 0.05, .momentum = 0.9, .nesterov = true},
      {.lr = 0.1, .momentum = 0.5, .weight_decay = 0.1},
      {.lr = 0.1, .weight_decay = 0.2},
      {.lr = 0.02, .momentum = 0.9, .weight_decay = 0.1, .maximize = true},
      {.lr = 0.05, .momentum = 0.8, .dampening = 0.1, .weight_decay = 0.05},
  };
  for (std::size_t c = 0; c < cases.size(); ++c) {
    CAPTURE(c);
    Problem pb;
    optim::SGD opt(pb.params(), cases[c]);
    check_trajectory(opt, pb, sgd_ref(cases[c]));
  }
}

TEST_CASE("SGD: the first momentum step stores the gradient itself in the buffer") {
  Problem pb;
  optim::SGD opt(pb.params(), {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  pb.loss().backward();
  opt.step();
  const optim::SGDState* s = opt.state(pb.p2);
  REQUIRE(s != nullptr);
  const std::vector<double> g = grad_of(kX0);
  check_close(s->momentum_buffer.to_vector<double>(), part(g, 4, 7), 1e-15);  // not (1 - dampening) g
}

// ---------------------------------------------------------------- Adam, AdamW
TEST_CASE("Adam follows the documented bias-corrected update") {
  const std::vector<optim::AdamOptions> cases = {
      {.lr = 0.1},
      {.lr = 0.05, .betas = {0.8, 0.99}, .eps = 1e-6},
      {.lr = 0.1, .weight_decay = 0.1},
      {.lr = 0.1, .betas = {0.9, 0.5}, .amsgrad = true},
      {.lr = 0.1, .betas = {0.5, 0.6}, .weight_decay = 0.05, .amsgrad = true},
      {.lr = 0.01, .maximize = true},
      {.lr = 0.1, .eps = 0.5},
  };
  for (std::size_t c = 0; c < cases.size(); ++c) {
    CAPTURE(c);
    Problem pb;
    optim::Adam opt(pb.params(), cases[c]);
    check_trajectory(opt, pb, adam_ref(cases[c]), 8);
  }
}

TEST_CASE("Adam: amsgrad changes the trajectory on this problem (the test exercises it)") {
  Problem with, without;
  optim::Adam a(with.params(), {.lr = 0.1, .betas = {0.9, 0.5}, .amsgrad = true});
  optim::Adam b(without.params(), {.lr = 0.1, .betas = {0.9, 0.5}});
  for (int t = 0; t < 8; ++t) {
    a.zero_grad(), b.zero_grad();
    with.loss().backward(), without.loss().backward();
    a.step(), b.step();
  }
  CHECK(with.values() != without.values());
  REQUIRE(a.state(with.p1) != nullptr);
  CHECK(a.state(with.p1)->step == 8);
  CHECK(a.state(with.p1)->max_exp_avg_sq.defined());
  CHECK_FALSE(b.state(without.p1)->max_exp_avg_sq.defined());
}

TEST_CASE("AdamW decays the weights apart from the gradient") {
  const std::vector<optim::AdamWOptions> cases = {
      {.lr = 0.1},  // weight_decay 1e-2 by default
      {.lr = 0.1, .weight_decay = 0.5},
      {.lr = 0.05, .betas = {0.7, 0.8}, .weight_decay = 0.1, .amsgrad = true},
      {.lr = 0.01, .weight_decay = 0.1, .maximize = true},
  };
  CHECK(optim::AdamWOptions{}.weight_decay == 1e-2);
  for (std::size_t c = 0; c < cases.size(); ++c) {
    CAPTURE(c);
    Problem pb;
    optim::AdamW opt(pb.params(), cases[c]);
    check_trajectory(opt, pb, adamw_ref(cases[c]), 8);
  }
}

// ---------------------------------------------------------------- RMSprop
TEST_CASE("RMSprop follows the documented update, centered and with momentum") {
  const std::vector<optim::RMSpropOptions> cases = {
      {.lr = 0.01},
      {.lr = 0.01, .alpha = 0.9, .eps = 1e-6},
      {.lr = 0.01, .centered = true},
      {.lr = 0.01, .momentum = 0.9},
      {.lr = 0.005, .alpha = 0.8, .weight_decay = 0.1, .momentum = 0.5, .centered = true},
      {.lr = 0.01, .maximize = true},
  };
  for (std::size_t c = 0; c < cases.size(); ++c) {
    CAPTURE(c);
    Problem pb;
    optim::RMSprop opt(pb.params(), cases[c]);
    check_trajectory(opt, pb, rmsprop_ref(cases[c]), 8);
  }
}

// ---------------------------------------------------------------- Adagrad
TEST_CASE("Adagrad follows the documented update with lr decay and an initial accumulator") {
  const std::vector<optim::AdagradOptions> cases = {
      {.lr = 0.1},
      {.lr = 0.1, .lr_decay = 0.1},
      {.lr = 0.2, .weight_decay = 0.1, .initial_accumulator_value = 0.5},
      {.lr = 0.1, .lr_decay = 0.05, .eps = 1e-3, .maximize = true},
  };
  for (std::size_t c = 0; c < cases.size(); ++c) {
    CAPTURE(c);
    Problem pb;
    optim::Adagrad opt(pb.params(), cases[c]);
    check_trajectory(opt, pb, adagrad_ref(cases[c]), 8);
  }
}

// ---------------------------------------------------------------- float32
TEST_CASE("float32 parameters follow the float64 trajectory to float precision") {
  SUBCASE("SGD") {
    Problem pb(Dtype::float32);
    optim::SGD opt(pb.params(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
    check_trajectory(opt, pb, sgd_ref({.lr = 0.05, .momentum = 0.9, .nesterov = true}), 6, 1e-5);
    CHECK(opt.state(pb.p1)->momentum_buffer.dtype() == Dtype::float32);
  }
  SUBCASE("Adam") {
    Problem pb(Dtype::float32);
    optim::Adam opt(pb.params(), {.lr = 0.1, .amsgrad = true});
    check_trajectory(opt, pb, adam_ref(optim::AdamOptions{.lr = 0.1, .amsgrad = true}), 6, 1e-5);
  }
  SUBCASE("RMSprop") {
    Problem pb(Dtype::float32);
    optim::RMSprop opt(pb.params(), {.lr = 0.01, .momentum = 0.5, .centered = true});
    check_trajectory(opt, pb, rmsprop_ref({.lr = 0.01, .momentum = 0.5, .centered = true}), 6, 1e-5);
  }
  SUBCASE("Adagrad") {
    Problem pb(Dtype::float32);
    optim::Adagrad opt(pb.params(), {.lr = 0.1, .lr_decay = 0.1});
    check_trajectory(opt, pb, adagrad_ref({.lr = 0.1, .lr_decay = 0.1}), 6, 1e-5);
  }
}

// ---------------------------------------------------------------- groups
TEST_CASE("parameter groups keep their own options") {
  Problem pb;
  optim::SGD opt({{{pb.p1}, {.lr = 0.1}}, {{pb.p2}, {.lr = 0.01, .momentum = 0.9}}});
  REQUIRE(opt.num_param_groups() == 2);
  CHECK(opt.lr(0) == 0.1);
  CHECK(opt.lr(1) == 0.01);
  CHECK(opt.options(1).momentum == 0.9);
  CHECK(opt.parameters().size() == 2);
  Reference r1 = sgd_ref({.lr = 0.1}), r2 = sgd_ref({.lr = 0.01, .momentum = 0.9});
  std::vector<double> th1 = part(kX0, 0, 4), th2 = part(kX0, 4, 7);
  for (int t = 1; t <= 5; ++t) {
    opt.zero_grad();
    pb.loss().backward();
    opt.step();
    // each group's reference on its own elements (the gradient of element i only involves θ_i)
    std::vector<double> g1, g2;
    for (std::size_t i = 0; i < 4; ++i) g1.push_back(2 * kA[i] * th1[i] + kB[i]);
    for (std::size_t i = 0; i < 3; ++i) g2.push_back(2 * kA[4 + i] * th2[i] + kB[4 + i]);
    r1(th1, g1, t), r2(th2, g2, t);
    check_close(pb.p1.to_vector<double>(), th1, 1e-12);
    check_close(pb.p2.to_vector<double>(), th2, 1e-12);
  }
  SUBCASE("set_lr changes one group or all") {
    opt.set_lr(0.5, 1);
    CHECK(opt.lr(0) == 0.1);
    CHECK(opt.lr(1) == 0.5);
    opt.set_lr(0.25);
    CHECK(opt.lr(0) == 0.25);
    CHECK(opt.lr(1) == 0.25);
    CHECK_ERROR(opt.lr(2), xg::IndexError, "SGD: parameter group 2 out of range (2 groups)");
  }
}

TEST_CASE("add_param_group: construction defaults or the group's own options") {
  Problem pb;
  Tensor extra = xg::tensor({1.0, 2.0}, {.dtype = Dtype::float64, .requires_grad = true});
  optim::Adam opt({pb.p1}, {.lr = 0.2, .betas = {0.8, 0.9}});
  opt.add_param_group({pb.p2});
  opt.add_param_group({extra}, {.lr = 0.01});
  REQUIRE(opt.num_param_groups() == 3);
  CHECK(opt.options(1).lr == 0.2);
  CHECK(opt.options(1).betas[0] == 0.8);
  CHECK(opt.options(2).lr == 0.01);
  CHECK(opt.options(2).betas[0] == 0.8);  // not stated by the group: the construction default
  CHECK(opt.options(2).betas[1] == 0.9);
  CHECK_ERROR(opt.add_param_group({pb.p1}), xg::ValueError, "Adam", "more than once");
}

namespace {
// Two groups that state one option each, under defaults that differ from the options' own: each
// group must train exactly as an optimizer of its own built with the resolved options.
template <class Opt, class Options>
void check_group_inheritance(const Options& defaults, const typename Options::Group& stated_a,
                             const Options& resolved_a, const Options& resolved_b) {
  auto make = [](std::vector<double> v) {
    return xg::tensor(v, {.dtype = Dtype::float64, .requires_grad = true});
  };
  Tensor a = make({0.5, -1.0, 2.0}), b = make({1.5, 0.25});
  Tensor a_alone = make({0.5, -1.0, 2.0}), b_alone = make({1.5, 0.25});
  Opt grouped({{{a}, stated_a}, {{b}}}, defaults);
  CHECK(grouped.options(0).lr == resolved_a.lr);
  CHECK(grouped.options(1).lr == resolved_b.lr);
  Opt only_a({a_alone}, resolved_a), only_b({b_alone}, resolved_b);
  auto loss = [](const Tensor& x, const Tensor& y) { return xg::sum(x * x * x) + xg::sum(xg::sin(y) * y); };
  for (int t = 0; t < 4; ++t) {
    grouped.zero_grad();
    only_a.zero_grad();
    only_b.zero_grad();
    loss(a, b).backward();
    loss(a_alone, b_alone).backward();
    grouped.step();
    only_a.step();
    only_b.step();
  }
  CHECK(a.to_vector<double>() == a_alone.to_vector<double>());
  CHECK(b.to_vector<double>() == b_alone.to_vector<double>());
  CHECK(a.to_vector<double>() != std::vector<double>{0.5, -1.0, 2.0});
}
}  // namespace

TEST_CASE("a group's options: what it states, the rest from the optimizer's defaults (as PyTorch)") {
  SUBCASE("AdamW: the issue's example, weight decay 0 stated against a default of 0.05") {
    optim::AdamWOptions d{.lr = 3e-3, .weight_decay = 0.05};
    optim::AdamW opt({{{xg::ones({2}, {.requires_grad = true})}, {.weight_decay = 0.0}},
                      {{xg::ones({2}, {.requires_grad = true})}}},
                     d);
    CHECK(opt.options(0).lr == 3e-3);
    CHECK(opt.options(0).weight_decay == 0.0);
    CHECK(opt.options(1).lr == 3e-3);
    CHECK(opt.options(1).weight_decay == 0.05);
    check_group_inheritance<optim::AdamW>(d, {.weight_decay = 0.0}, {.lr = 3e-3, .weight_decay = 0.0}, d);
  }
  SUBCASE("Adam") {
    optim::AdamOptions d{.lr = 0.05, .betas = {0.8, 0.95}, .amsgrad = true};
    check_group_inheritance<optim::Adam>(d, {.betas = {0.5, 0.9}},
                                         {.lr = 0.05, .betas = {0.5, 0.9}, .amsgrad = true}, d);
  }
  SUBCASE("SGD") {
    optim::SGDOptions d{.lr = 0.05, .momentum = 0.9, .nesterov = true};
    check_group_inheritance<optim::SGD>(
        d, {.weight_decay = 0.1}, {.lr = 0.05, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true}, d);
  }
  SUBCASE("RMSprop") {
    optim::RMSpropOptions d{.lr = 0.02, .alpha = 0.9, .momentum = 0.5, .centered = true};
    check_group_inheritance<optim::RMSprop>(
        d, {.lr = 0.001}, {.lr = 0.001, .alpha = 0.9, .momentum = 0.5, .centered = true}, d);
  }
  SUBCASE("Adagrad") {
    optim::AdagradOptions d{.lr = 0.1, .lr_decay = 0.01, .initial_accumulator_value = 0.5};
    check_group_inheritance<optim::Adagrad>(
        d, {.eps = 1e-6}, {.lr = 0.1, .lr_decay = 0.01, .initial_accumulator_value = 0.5, .eps = 1e-6}, d);
  }
  SUBCASE("a stated option is checked after the merge") {
    CHECK_ERROR(optim::SGD({{{xg::ones({1}, {.requires_grad = true})}, {.dampening = 0.5}}},
                           {.momentum = 0.9, .nesterov = true}),
                xg::ValueError, "SGD", "nesterov");
  }
}

// ---------------------------------------------------------------- zero_grad, state, versions
TEST_CASE("zero_grad clears to undefined by default, or to zeros") {
  Problem pb;
  optim::SGD opt(pb.params(), {.lr = 0.1});
  pb.loss().backward();
  REQUIRE(pb.p1.grad().defined());
  SUBCASE("set_to_none") {
    opt.zero_grad();
    CHECK_FALSE(pb.p1.grad().defined());
    CHECK_FALSE(pb.p2.grad().defined());
  }
  SUBCASE("zeros") {
    opt.zero_grad(false);
    REQUIRE(pb.p1.grad().defined());
    CHECK(pb.p1.grad().to_vector<double>() == std::vector<double>(4, 0.0));
    CHECK(pb.p2.grad().to_vector<double>() == std::vector<double>(3, 0.0));
  }
}

TEST_CASE("state is created lazily, parameters without a gradient are skipped") {
  Problem pb;
  optim::Adam opt(pb.params(), {.lr = 0.1});
  CHECK(opt.state(pb.p1) == nullptr);
  xg::sum(pb.p1 * pb.p1).backward();  // p2 gets no gradient
  const std::vector<double> p2_before = pb.p2.to_vector<double>();
  const uint64_t v2 = pb.p2.version();
  opt.step();
  REQUIRE(opt.state(pb.p1) != nullptr);
  CHECK(opt.state(pb.p1)->step == 1);
  CHECK(opt.state(pb.p1)->exp_avg.shape() == pb.p1.shape());
  CHECK(opt.state(pb.p2) == nullptr);
  CHECK(pb.p2.to_vector<double>() == p2_before);
  CHECK(pb.p2.version() == v2);
}

TEST_CASE("step updates in place, bumps the version, and a graph saved before the step refuses backward") {
  Problem pb;
  optim::SGD opt(pb.params(), {.lr = 0.1});
  Tensor handle = pb.p1;  // same TensorImpl: updated in place
  const uint64_t v = pb.p1.version();
  Tensor y = xg::sum(pb.p1 * pb.p1);  // saves p1
  pb.loss().backward();
  opt.step();
  CHECK(pb.p1.version() > v);
  CHECK(handle.get() == pb.p1.get());
  CHECK(pb.p1.requires_grad());
  CHECK_ERROR(y.backward(), xg::ValueError, "backward:", "saved by 'mul'", "modified in place");
}

TEST_CASE("step(closure) evaluates the loss with grad mode on and returns it") {
  Problem pb;
  optim::Adam opt(pb.params(), {.lr = 0.1});
  int calls = 0;
  auto closure = [&] {
    ++calls;
    CHECK(xg::GradMode::is_enabled());
    opt.zero_grad();
    Tensor l = pb.loss();
    l.backward();
    return l;
  };
  xg::NoGradGuard no_grad;  // step(closure) turns grad mode on for the closure itself
  Tensor loss = opt.step(closure);
  CHECK(calls == 1);
  CHECK(loss.item() == doctest::Approx(f_of(kX0)).epsilon(1e-14));
  CHECK_FALSE(xg::GradMode::is_enabled());
}

TEST_CASE("optimizers are usable through the Optimizer base") {
  Problem pb;
  std::vector<std::unique_ptr<optim::Optimizer>> opts;
  opts.push_back(std::make_unique<optim::SGD>(pb.params(), optim::SGDOptions{.lr = 0.01}));
  opts.push_back(std::make_unique<optim::Adam>(pb.params()));
  opts.push_back(std::make_unique<optim::AdamW>(pb.params()));
  opts.push_back(std::make_unique<optim::RMSprop>(pb.params()));
  opts.push_back(std::make_unique<optim::Adagrad>(pb.params()));
  opts.push_back(std::make_unique<optim::Adamax>(pb.params()));
  opts.push_back(std::make_unique<optim::NAdam>(pb.params()));
  opts.push_back(std::make_unique<optim::RAdam>(pb.params()));
  opts.push_back(std::make_unique<optim::Adadelta>(pb.params()));
  opts.push_back(std::make_unique<optim::ASGD>(pb.params()));
  const std::vector<std::string> names = {"SGD",    "Adam",  "AdamW", "RMSprop",  "Adagrad",
                                          "Adamax", "NAdam", "RAdam", "Adadelta", "ASGD"};
  for (std::size_t i = 0; i < opts.size(); ++i) {
    CHECK(opts[i]->name() == names[i]);
    const double before = f_of(pb.values());
    opts[i]->zero_grad();
    pb.loss().backward();
    opts[i]->step();
    CHECK(f_of(pb.values()) < before);
  }
}

// ---------------------------------------------------------------- state dicts
namespace {

using MakeOpt = std::function<std::unique_ptr<optim::Optimizer>(const Problem&)>;

std::vector<std::vector<double>> run_steps(optim::Optimizer& opt, const Problem& pb, int n) {
  std::vector<std::vector<double>> out;
  for (int i = 0; i < n; ++i) {
    opt.step([&] {
      opt.zero_grad();
      Tensor l = pb.loss();
      l.backward();
      return l;
    });
    out.push_back(pb.values());
  }
  return out;
}

// Uninterrupted 6 steps == 3 steps, save to a file, load into a fresh optimizer (made with other
// options) over fresh parameters holding the same values, 3 steps. Exactly.
void check_resume(const MakeOpt& make, const MakeOpt& make_other, const std::string& tag) {
  Problem a;
  auto opt_a = make(a);
  const auto straight = run_steps(*opt_a, a, 6);

  Problem b;
  auto opt_b = make(b);
  run_steps(*opt_b, b, 3);
  const std::string path = temp_path(tag);
  opt_b->save(path);

  Problem c(Dtype::float64, b.values());
  auto opt_c = make_other(c);
  opt_c->load(path);
  std::filesystem::remove(path);
  const auto resumed = run_steps(*opt_c, c, 3);
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(resumed[static_cast<std::size_t>(i)] == straight[static_cast<std::size_t>(i + 3)]);
  }
  CHECK(opt_c->lr() == opt_b->lr());
}

}  // namespace

TEST_CASE("state_dict save and load resume a run exactly") {
  SUBCASE("SGD") {
    check_resume(
        [](const Problem& p) {
          return std::make_unique<optim::SGD>(
              p.params(), optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
        },
        [](const Problem& p) {
          return std::make_unique<optim::SGD>(p.params(), optim::SGDOptions{.lr = 1.0});
        },
        "sgd");
  }
  SUBCASE("Adam") {
    check_resume(
        [](const Problem& p) {
          return std::make_unique<optim::Adam>(
              p.params(),
              optim::AdamOptions{.lr = 0.1, .betas = {0.8, 0.7}, .weight_decay = 0.01, .amsgrad = true});
        },
        [](const Problem& p) { return std::make_unique<optim::Adam>(p.params()); }, "adam");
  }
  SUBCASE("AdamW") {
    check_resume(
        [](const Problem& p) {
          return std::make_unique<optim::AdamW>(p.params(),
                                                optim::AdamWOptions{.lr = 0.1, .weight_decay = 0.1});
        },
        [](const Problem& p) { return std::make_unique<optim::AdamW>(p.params()); }, "adamw");
  }
  SUBCASE("RMSprop") {
    check_resume(
        [](const Problem& p) {
          return std::make_unique<optim::RMSprop>(
              p.params(), optim::RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true});
        },
        [](const Problem& p) { return std::make_unique<optim::RMSprop>(p.params()); }, "rmsprop");
  }
  SUBCASE("Adagrad") {
    check_resume(
        [](const Problem& p) {
          return std::make_unique<optim::Adagrad>(
              p.params(),
              optim::AdagradOptions{.lr = 0.1, .lr_decay = 0.1, .initial_accumulator_value = 0.1});
        },
        [](const Problem& p) { return std::make_unique<optim::Adagrad>(p.params()); }, "adagrad");
  }
  SUBCASE("LBFGS") {
    check_resume(
        [](const Problem& p) {
          return std::make_unique<optim::LBFGS>(
              p.params(), optim::LBFGSOptions{.lr = 0.5, .max_iter = 2, .history_size = 3});
        },
        [](const Problem& p) { return std::make_unique<optim::LBFGS>(p.params()); }, "lbfgs");
  }
  SUBCASE("LBFGS with line search") {
    check_resume(
        [](const Problem& p) {
          return std::make_unique<optim::LBFGS>(
              p.params(),
              optim::LBFGSOptions{
                  .max_iter = 1, .history_size = 2, .line_search_fn = optim::LineSearch::strong_wolfe});
        },
        [](const Problem& p) { return std::make_unique<optim::LBFGS>(p.params()); }, "lbfgs_wolfe");
  }
}

TEST_CASE("state_dict: contents, options restored, an in-memory round trip") {
  Problem pb;
  optim::Adam opt({{{pb.p1}, {.lr = 0.1}}, {{pb.p2}, {.lr = 0.01, .betas = {0.5, 0.6}, .amsgrad = true}}});
  pb.loss().backward();
  opt.step();
  const optim::StateDict sd = opt.state_dict();
  CHECK(sd.metadata.at("optimizer") == "Adam");
  CHECK(sd.metadata.at("param_groups") == "2");
  CHECK(sd.metadata.at("group.1.lr") == "0.01");
  CHECK(sd.metadata.at("group.1.betas") == "0.5,0.6");
  CHECK(sd.metadata.at("group.1.amsgrad") == "true");
  std::vector<std::string> names;
  for (const auto& [n, t] : sd.tensors) names.push_back(n);
  CHECK(names == std::vector<std::string>{"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
                                          "state.1.step", "state.1.exp_avg", "state.1.exp_avg_sq",
                                          "state.1.max_exp_avg_sq"});
  CHECK(sd.tensors[0].second.dtype() == Dtype::int64);
  CHECK(sd.tensors[0].second.item<int64_t>() == 1);

  Problem other;
  optim::Adam loaded({{{other.p1}, {}}, {{other.p2}, {}}});
  loaded.load_state_dict(sd);
  CHECK(loaded.options(0).lr == 0.1);
  CHECK(loaded.options(1).betas[1] == 0.6);
  CHECK(loaded.options(1).amsgrad);
  REQUIRE(loaded.state(other.p2) != nullptr);
  CHECK(loaded.state(other.p2)->step == 1);
  CHECK(loaded.state(other.p2)->exp_avg.to_vector<double>() == opt.state(pb.p2)->exp_avg.to_vector<double>());
  // the state dict holds copies: later steps do not change it
  const std::vector<double> saved = sd.tensors[1].second.to_vector<double>();
  opt.step();
  CHECK(sd.tensors[1].second.to_vector<double>() == saved);
}

TEST_CASE("load_state_dict refuses a state of another optimizer or other parameters") {
  Problem pb;
  optim::Adam adam(pb.params());
  pb.loss().backward();
  adam.step();
  const optim::StateDict sd = adam.state_dict();

  SUBCASE("another optimizer") {
    optim::SGD sgd(pb.params());
    CHECK_ERROR(sgd.load_state_dict(sd), xg::ValueError, "SGD.load_state_dict", "Adam");
  }
  SUBCASE("another group structure") {
    optim::Adam two({{{pb.p1}, {}}, {{pb.p2}, {}}});
    CHECK_ERROR(two.load_state_dict(sd), xg::ValueError, "Adam.load_state_dict:", "1 parameter groups",
                "has 2");
  }
  SUBCASE("other shapes") {
    Tensor q1 = xg::zeros({4}, {.dtype = Dtype::float64, .requires_grad = true});
    Tensor q2 = xg::zeros({3}, {.dtype = Dtype::float64, .requires_grad = true});
    optim::Adam other({q1, q2});
    CHECK_ERROR(other.load_state_dict(sd), xg::ShapeError,
                "Adam.load_state_dict:", "'state.0.exp_avg' has shape [2, 2]");
    CHECK(other.state(q1) == nullptr);  // a failed load changes nothing
  }
  SUBCASE("a file of another optimizer names the file") {
    const std::string path = temp_path("wrong");
    adam.save(path);
    optim::RMSprop rms(pb.params());
    CHECK_ERROR(rms.load(path), xg::ValueError, path, "RMSprop");
    std::filesystem::remove(path);
  }
}

// ---------------------------------------------------------------- LBFGS
TEST_CASE("LBFGS: two iterations without line search match the two-loop recursion by hand") {
  Problem pb;
  const double lr = 0.5;
  optim::LBFGS opt(pb.params(),
                   {.lr = lr, .max_iter = 2, .max_eval = 10});  // (default max_eval: 2 * 5 / 4 = 2)
  int calls = 0;
  Tensor loss = opt.step([&] {
    ++calls;
    opt.zero_grad();
    Tensor l = pb.loss();
    l.backward();
    return l;
  });
  CHECK(loss.item() == doctest::Approx(f_of(kX0)).epsilon(1e-14));
  CHECK(calls == 2);  // the last iteration's loss is not evaluated
  CHECK(opt.history().func_evals == 2);
  CHECK(opt.history().n_iter == 2);

  auto dot = [](const std::vector<double>& u, const std::vector<double>& v) {
    double s = 0;
    for (std::size_t i = 0; i < u.size(); ++i) s += u[i] * v[i];
    return s;
  };
  const std::size_t n = kX0.size();
  // iteration 1: steepest descent with t = min(1, 1/|g|_1) lr
  std::vector<double> x = kX0, g0 = grad_of(x), d0(n);
  double l1 = 0;
  for (double gi : g0) l1 += std::abs(gi);
  const double t0 = std::min(1.0, 1.0 / l1) * lr;
  for (std::size_t i = 0; i < n; ++i) d0[i] = -g0[i], x[i] += t0 * d0[i];
  // iteration 2: one (s, y) pair
  const std::vector<double> g1 = grad_of(x);
  std::vector<double> s(n), y(n), q(n);
  for (std::size_t i = 0; i < n; ++i) s[i] = t0 * d0[i], y[i] = g1[i] - g0[i], q[i] = -g1[i];
  const double ys = dot(y, s), rho = 1 / ys, h = ys / dot(y, y);
  REQUIRE(ys > 1e-10);
  const double alpha = dot(s, q) * rho;
  for (std::size_t i = 0; i < n; ++i) q[i] = (q[i] - alpha * y[i]) * h;
  const double beta = dot(y, q) * rho;
  for (std::size_t i = 0; i < n; ++i) x[i] += lr * (q[i] + (alpha - beta) * s[i]);
  check_close(pb.values(), x, 1e-12);
}

TEST_CASE("LBFGS converges on the Rosenbrock function") {
  auto rosenbrock = [](const Tensor& p) {
    Tensor x = xg::slice(p, 0, 0, 1), y = xg::slice(p, 0, 1, 2);
    return xg::sum((1.0 - x) * (1.0 - x) + 100.0 * (y - x * x) * (y - x * x));
  };
  SUBCASE("strong Wolfe line search") {
    Tensor p = xg::tensor({-1.5, 2.0}, {.dtype = Dtype::float64, .requires_grad = true});
    optim::LBFGS opt({p}, {.max_iter = 100,
                           .tolerance_grad = 1e-12,
                           .tolerance_change = 1e-15,
                           .line_search_fn = optim::LineSearch::strong_wolfe});
    auto closure = [&] {
      opt.zero_grad();
      Tensor l = rosenbrock(p);
      l.backward();
      return l;
    };
    for (int i = 0; i < 5; ++i) opt.step(closure);
    const std::vector<double> v = p.to_vector<double>();
    CHECK(v[0] == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(v[1] == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(rosenbrock(p).item() < 1e-10);
    CHECK(opt.history().func_evals < 500);
  }
  SUBCASE("fixed step") {
    Tensor p = xg::tensor({-1.5, 2.0}, {.dtype = Dtype::float64, .requires_grad = true});
    optim::LBFGS opt({p}, {.lr = 0.1, .max_iter = 500, .tolerance_grad = 1e-12, .tolerance_change = 1e-14});
    const double start = rosenbrock(p).item();
    opt.step([&] {
      opt.zero_grad();
      Tensor l = rosenbrock(p);
      l.backward();
      return l;
    });
    CHECK(rosenbrock(p).item() < start * 1e-3);
  }
}

TEST_CASE("LBFGS on a quadratic stops at the minimum") {
  Problem pb;
  optim::LBFGS opt(pb.params(), {.tolerance_grad = 1e-12,
                                 .tolerance_change = 1e-15,
                                 .line_search_fn = optim::LineSearch::strong_wolfe});
  opt.step([&] {
    opt.zero_grad();
    Tensor l = pb.loss();
    l.backward();
    return l;
  });
  std::vector<double> want(kX0.size());
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = -kB[i] / (2 * kA[i]);
  // to about √ε: past that, loss differences are below the resolution of a double
  check_close(pb.values(), want, 1e-7);
  CHECK(opt.history().n_iter < 20);
}

// ---------------------------------------------------------------- errors
TEST_CASE("invalid options throw ValueError naming the optimizer and the option") {
  Problem pb;
  CHECK_ERROR(optim::SGD(pb.params(), {.lr = -0.1}), xg::ValueError, "SGD:", "lr");
  CHECK_ERROR(optim::SGD(pb.params(), {.momentum = -1}), xg::ValueError, "SGD:", "momentum");
  CHECK_ERROR(optim::SGD(pb.params(), {.weight_decay = -1}), xg::ValueError, "SGD:", "weight_decay");
  CHECK_ERROR(optim::SGD(pb.params(), {.nesterov = true}), xg::ValueError, "SGD:", "nesterov");
  CHECK_ERROR(optim::SGD(pb.params(), {.momentum = 0.9, .dampening = 0.1, .nesterov = true}), xg::ValueError,
              "SGD:", "dampening");
  CHECK_ERROR(optim::Adam(pb.params(), {.lr = -1e-3}), xg::ValueError, "Adam:", "lr");
  CHECK_ERROR(optim::Adam(pb.params(), {.betas = {1.0, 0.999}}), xg::ValueError, "Adam:", "betas[0]");
  CHECK_ERROR(optim::Adam(pb.params(), {.betas = {0.9, -0.1}}), xg::ValueError, "Adam:", "betas[1]");
  CHECK_ERROR(optim::Adam(pb.params(), {.eps = -1}), xg::ValueError, "Adam:", "eps");
  CHECK_ERROR(optim::Adam(pb.params(), {.lr = NAN}), xg::ValueError, "Adam:", "lr");
  CHECK_ERROR(optim::AdamW(pb.params(), {.betas = {0.9, 1.5}}), xg::ValueError, "AdamW:", "betas[1]");
  CHECK_ERROR(optim::AdamW(pb.params(), {.weight_decay = -0.1}), xg::ValueError, "AdamW:", "weight_decay");
  CHECK_ERROR(optim::RMSprop(pb.params(), {.alpha = -0.5}), xg::ValueError, "RMSprop:", "alpha");
  CHECK_ERROR(optim::RMSprop(pb.params(), {.momentum = -0.5}), xg::ValueError, "RMSprop:", "momentum");
  CHECK_ERROR(optim::Adagrad(pb.params(), {.lr_decay = -1}), xg::ValueError, "Adagrad:", "lr_decay");
  CHECK_ERROR(optim::Adagrad(pb.params(), {.initial_accumulator_value = -1}), xg::ValueError,
              "Adagrad:", "initial_accumulator_value");
  CHECK_ERROR(optim::LBFGS(pb.params(), {.history_size = 0}), xg::ValueError, "LBFGS:", "history_size");
  CHECK_ERROR(optim::LBFGS(pb.params(), {.max_iter = 0}), xg::ValueError, "LBFGS:", "max_iter");
  // later changes are checked too
  optim::Adam adam(pb.params());
  CHECK_ERROR(adam.set_lr(-1.0, 0), xg::ValueError, "Adam:", "lr");
  CHECK_ERROR(adam.set_options({.betas = {0.9, 1.0}}), xg::ValueError, "Adam:", "betas[1]");
  CHECK_ERROR(adam.add_param_group({xg::zeros({1}, {.requires_grad = true})}, {.eps = -1}), xg::ValueError,
              "Adam:", "eps");
}

TEST_CASE("invalid parameters and misuse throw") {
  Problem pb;
  CHECK_ERROR(optim::SGD(std::vector<Tensor>{}), xg::ValueError, "SGD", "empty parameter list");
  CHECK_ERROR(optim::Adam({pb.p1, pb.p1}), xg::ValueError, "Adam:", "parameter 1 appears more than once");
  CHECK_ERROR(optim::Adam({pb.p1 * 2.0}), xg::ValueError, "Adam:", "parameter 0 is not a leaf");
  CHECK_ERROR(optim::Adam({xg::arange(3.0, {.dtype = Dtype::int64})}), xg::TypeError,
              "Adam:", "parameter 0 is int64");
  CHECK_ERROR(optim::Adam({Tensor()}), xg::ValueError, "Adam: parameter 0 is undefined");

  optim::LBFGS lbfgs(pb.params());
  CHECK_ERROR(lbfgs.step(), xg::ValueError, "LBFGS:", "closure");
  CHECK_ERROR(lbfgs.add_param_group({xg::zeros({1}, {.requires_grad = true})}), xg::ValueError,
              "LBFGS:", "parameter groups");
  CHECK_ERROR(lbfgs.step([] { return Tensor(); }), xg::ValueError, "LBFGS:", "one-element");

  SUBCASE("a gradient of another dtype") {
    optim::SGD sgd(pb.params());
    pb.p1.set_grad(xg::zeros({2, 2}));  // float32 for a float64 parameter
    CHECK_ERROR(sgd.step(), xg::TypeError, "SGD", "float32");
  }
}

// ---------------------------------------------------------------- kernels
TEST_CASE("an element's update does not depend on its position (SIMD batches and the tail agree)") {
  // One 37-element tensor (full batches and a tail) against 37 one-element tensors (tails only).
  for (Dtype dtype : {Dtype::float32, Dtype::float64}) {
    CAPTURE(dtype_name(dtype));
    std::vector<double> x(37), g(37);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(1.0 + i), g[i] = std::cos(3.0 * i);
    Tensor big = xg::tensor(x, {37}, {.dtype = dtype, .requires_grad = true});
    std::vector<Tensor> small;
    for (double v : x) small.push_back(xg::tensor({v}, {.dtype = dtype, .requires_grad = true}));
    std::vector<Tensor> all = small;
    auto set_grads = [&] {
      big.set_grad(xg::tensor(g, {37}, {.dtype = dtype}));
      for (std::size_t i = 0; i < small.size(); ++i) small[i].set_grad(xg::tensor({g[i]}, {.dtype = dtype}));
    };
    auto check_same = [&] {
      const std::vector<double> b = big.to_vector<double>();
      for (std::size_t i = 0; i < small.size(); ++i) CHECK(small[i].item() == b[i]);
    };
    std::vector<std::unique_ptr<optim::Optimizer>> a, s;
    a.push_back(std::make_unique<optim::SGD>(
        std::vector<Tensor>{big},
        optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true}));
    s.push_back(std::make_unique<optim::SGD>(
        all, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true}));
    a.push_back(std::make_unique<optim::Adam>(
        std::vector<Tensor>{big}, optim::AdamOptions{.lr = 0.1, .weight_decay = 0.1, .amsgrad = true}));
    s.push_back(std::make_unique<optim::Adam>(
        all, optim::AdamOptions{.lr = 0.1, .weight_decay = 0.1, .amsgrad = true}));
    a.push_back(std::make_unique<optim::AdamW>(std::vector<Tensor>{big}, optim::AdamWOptions{.lr = 0.1}));
    s.push_back(std::make_unique<optim::AdamW>(all, optim::AdamWOptions{.lr = 0.1}));
    a.push_back(std::make_unique<optim::RMSprop>(
        std::vector<Tensor>{big},
        optim::RMSpropOptions{.weight_decay = 0.1, .momentum = 0.5, .centered = true}));
    s.push_back(std::make_unique<optim::RMSprop>(
        all, optim::RMSpropOptions{.weight_decay = 0.1, .momentum = 0.5, .centered = true}));
    a.push_back(std::make_unique<optim::Adagrad>(std::vector<Tensor>{big},
                                                 optim::AdagradOptions{.lr = 0.1, .weight_decay = 0.1}));
    s.push_back(std::make_unique<optim::Adagrad>(all, optim::AdagradOptions{.lr = 0.1, .weight_decay = 0.1}));
    a.push_back(
        std::make_unique<optim::NAdam>(std::vector<Tensor>{big}, optim::NAdamOptions{.weight_decay = 0.1}));
    s.push_back(std::make_unique<optim::NAdam>(all, optim::NAdamOptions{.weight_decay = 0.1}));
    // betas[1] 0.9: rectified from step 6 on, so both branches run in the 6 steps below
    a.push_back(std::make_unique<optim::RAdam>(std::vector<Tensor>{big},
                                               optim::RAdamOptions{.lr = 0.1, .betas = {0.9, 0.9}}));
    s.push_back(std::make_unique<optim::RAdam>(all, optim::RAdamOptions{.lr = 0.1, .betas = {0.9, 0.9}}));
    a.push_back(std::make_unique<optim::Adadelta>(
        std::vector<Tensor>{big}, optim::AdadeltaOptions{.weight_decay = 0.1, .maximize = true}));
    s.push_back(std::make_unique<optim::Adadelta>(
        all, optim::AdadeltaOptions{.weight_decay = 0.1, .maximize = true}));
    a.push_back(std::make_unique<optim::ASGD>(std::vector<Tensor>{big},
                                              optim::ASGDOptions{.lr = 0.1, .t0 = 0.5, .weight_decay = 0.1}));
    s.push_back(
        std::make_unique<optim::ASGD>(all, optim::ASGDOptions{.lr = 0.1, .t0 = 0.5, .weight_decay = 0.1}));
    for (std::size_t k = 0; k < a.size(); ++k) {
      CAPTURE(a[k]->name());
      for (int t = 0; t < 6; ++t) {
        set_grads();
        a[k]->step();
        s[k]->step();
      }
      check_same();
    }
  }
}

TEST_CASE("state follows a parameter converted to another dtype in place (as Module::to does)") {
  Tensor p = xg::tensor({1.0, 2.0}, {.dtype = Dtype::float64, .requires_grad = true});
  optim::Adam opt({p}, {.lr = 0.1});
  p.set_grad(xg::tensor({0.5, -0.5}, {.dtype = Dtype::float64}));
  opt.step();
  // Module::to swaps converted values into the same handle
  Tensor c = p.detach().to(Dtype::float32);
  p.impl()->storage = c.impl()->storage;
  p.impl()->dtype = Dtype::float32;
  p.set_grad(xg::tensor({0.5, -0.5}));
  opt.step();
  REQUIRE(opt.state(p) != nullptr);
  CHECK(opt.state(p)->step == 2);
  CHECK(opt.state(p)->exp_avg.dtype() == Dtype::float32);
  // two Adam steps with a constant gradient move by about lr each
  CHECK(p.to_vector<double>()[0] == doctest::Approx(0.8).epsilon(1e-5));
}

// ---------------------------------------------------------------- Adamax
// Figures: torch.optim.Adamax (PyTorch 1.13, float64) on this file's problem, lr 0.1,
// betas (0.8, 0.9), weight_decay 0.05; θ after each of 5 steps.
TEST_CASE("Adamax matches PyTorch 1.13 step by step") {
  const std::vector<std::vector<double>> want = {
      {0.9000000008695652, -1.900000000232558, 0.4000000005479452, 1.4000000001762114, -0.5999999955555557,
       0.7000000002066116, 1.9000000004761906},
      {0.7955342921831035, -1.797775064929356, 0.299205142257992, 1.296584440606631, -0.696021939832343,
       0.5966049386759004, 1.79645815583966},
      {0.686274699651289, -1.693208118952574, 0.19949221005479983, 1.1892993968397378, -0.7853398730880875,
       0.4910718396452348, 1.6888722615186489},
      {0.5731593142270042, -1.5861507398049655, 0.10310025367457447, 1.077503034863996, -0.8650201635563392,
       0.3850106756680592, 1.5765229089341213},
      {0.4574583530548313, -1.4764105929621916, 0.01259303230255146, 0.960572352634772, -0.9321014951418866,
       0.2804007794518828, 1.4593300979144574},
  };
  Problem pb;
  optim::Adamax opt(pb.params(), {.lr = 0.1, .betas = {0.8, 0.9}, .weight_decay = 0.05});
  CHECK(optim::AdamaxOptions{}.lr == 2e-3);
  for (std::size_t t = 0; t < want.size(); ++t) {
    CAPTURE(t);
    opt.zero_grad();
    pb.loss().backward();
    opt.step();
    check_close(pb.values(), want[t], 1e-12);
  }
  CHECK(opt.state(pb.p1)->step == 5);
}

TEST_CASE("Adamax: groups inherit unstated options; save and load resume exactly") {
  optim::AdamaxOptions d{.lr = 0.05, .betas = {0.8, 0.95}, .weight_decay = 0.01};
  check_group_inheritance<optim::Adamax>(
      d, {.eps = 1e-6}, {.lr = 0.05, .betas = {0.8, 0.95}, .eps = 1e-6, .weight_decay = 0.01}, d);
  check_resume(
      [](const Problem& p) {
        return std::make_unique<optim::Adamax>(
            p.params(), optim::AdamaxOptions{.lr = 0.1, .betas = {0.8, 0.7}, .weight_decay = 0.01});
      },
      [](const Problem& p) { return std::make_unique<optim::Adamax>(p.params()); }, "adamax");
  CHECK_ERROR(optim::Adamax(Problem().params(), {.betas = {1.0, 0.9}}), xg::ValueError, "Adamax:", "betas");
}

// ---------------------------------------------------------------- NAdam, RAdam, Adadelta, ASGD
// Figures: PyTorch 1.13 on this file's problem, after torch.set_default_dtype(torch.float64) (so
// that the scalar state PyTorch keeps in tensors, NAdam's mu_product and ASGD's eta and mu, is
// float64 too): p1 = torch.tensor(kX0[:4]).reshape(2, 2), p2 = torch.tensor(kX0[4:]), each step
// opt.zero_grad(); ((a1*p1*p1 + b1*p1).sum() + (a2*p2*p2 + b2*p2).sum()).backward(); opt.step()
// (a, b = kA, kB split likewise),
// with the optimizer named above each table built as `torch.optim.X([p1, p2], ..., foreach=False)`;
// a row is θ after a step, p1 flattened then p2.
namespace {
using Trajectory = std::vector<std::vector<double>>;

/// Steps opt on pb once per row of want, comparing θ after each step.
void check_steps(optim::Optimizer& opt, const Problem& pb, const Trajectory& want, double tol = 1e-12) {
  for (std::size_t t = 0; t < want.size(); ++t) {
    CAPTURE(t);
    opt.zero_grad();
    pb.loss().backward();
    opt.step();
    check_close(pb.values(), want[t], tol);
  }
}

// torch.optim.NAdam(lr=0.1, betas=(0.8, 0.9), weight_decay=0.05, momentum_decay=0.1)
const Trajectory kNAdam = {
    {0.8913738446781417, -1.8913738439861854, 0.3913738443287783, 1.391373843924978, -0.6086261514386045,
     0.6913738439580007, 1.8913738442508339},
    {0.8088832485697249, -1.8070441382563203, 0.312448740302932, 1.3080245708200087, -0.6833756757934302,
     0.6104073079309951, 1.8081281452312847},
    {0.730975216103242, -1.7261814854315765, 0.24048146117529845, 1.228726508292562, -0.7481413401489181,
     0.5350078824990129, 1.7289967976174703},
    {0.654005265616033, -1.6449820934393313, 0.17235553757952243, 1.1497498177871015, -0.805244088316928,
     0.4617261135641105, 1.650259259285561},
    {0.5775493670117949, -1.5627655697441376, 0.10839606609535592, 1.0705368887474174, -0.8535055734342417,
     0.3904278274120566, 1.5713727740010361},
};
const optim::NAdamOptions kNAdamOptions{
    .lr = 0.1, .betas = {0.8, 0.9}, .weight_decay = 0.05, .momentum_decay = 0.1};

// torch.optim.RAdam(lr=0.1, betas=(0.8, 0.9), weight_decay=0.05); steps 1-5 are unrectified
// (ρ ≤ 5), steps 6-8 rectified.
const Trajectory kRAdam = {
    {0.885, -1.57, 0.3175, 0.9325, -0.5225, 0.31599999999999995, 1.79},
    {0.7767083333333333, -1.188972222222222, 0.1659236111111111, 0.49268749999999983, -0.5443125,
     -0.005322222222222339, 1.5980833333333333},
    {0.675276212431694, -0.8560134904371584, 0.043433159722222184, 0.16774141905737683, -0.5654079149590163,
     -0.19363535974499102, 1.4242870560109289},
    {0.5807980612442523, -0.5696252079222321, -0.052213342590240186, -0.05659124514256819,
     -0.5857604944567312, -0.2784720304085157, 1.2684554750437786},
    {0.4933089494299648, -0.3277440395466648, -0.12359414648454287, -0.19547289837074824, -0.6053487335531981,
     -0.2879540339311918, 1.130240797436744},
    {0.4693712121637661, -0.3073036417119742, -0.13799303123527287, -0.20240268182835117, -0.6302375276771073,
     -0.2833045721238285, 1.1077462043415909},
    {0.4389040853493372, -0.2825682726095257, -0.15216771128754678, -0.20530706513616354, -0.6620725249653816,
     -0.27189371140358537, 1.0796159061879174},
    {0.4032215262507686, -0.2547631913521129, -0.16407047399898508, -0.20281204378111845, -0.699252824342774,
     -0.2536440196577213, 1.0471155939068755},
};
const optim::RAdamOptions kRAdamOptions{.lr = 0.1, .betas = {0.8, 0.9}, .weight_decay = 0.05};

// torch.optim.Adadelta(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.05), then with maximize=True
const Trajectory kAdadelta = {
    {0.9888217729992037, -1.9888198112768216, 0.4888204992253728, 1.4888197469002105, -0.5111255339697683,
     0.7888197794281314, 1.988820293864727},
    {0.977092929964191, -1.9770629090668632, 0.4771357240591618, 1.477076801636664, -0.5227037321714685,
     0.7771088590960008, 1.9770794063772998},
    {0.9650161018339027, -1.9649199929108254, 0.4651697404023622, 1.4649683665875046, -0.5344911240430424,
     0.7650793830254766, 1.9649751904637207},
    {0.9526915120793435, -1.952483992896735, 0.45303569832014945, 1.4525913445877356, -0.5463626452755368,
     0.7528373235887995, 1.9526049498603355},
    {0.9401790138036002, -1.9398096816033423, 0.44080222241707073, 1.4400032830004632, -0.5582417797352814,
     0.7404464676803955, 1.9400265120948377},
};
const Trajectory kAdadeltaMax = {
    {1.0111778055250302, -2.011180173616076, 0.5111794528405372, 1.5111802483234233, -0.4888564376459948,
     0.8111802165276236, 2.0111795657061533},
    {1.0230126304907188, -2.0229928303707614, 0.5230594097310154, 1.523006848608042, -0.47701805811902126,
     0.8230375471645348, 2.0230081902230066},
    {1.0353505382158585, -2.035272783995752, 0.5355051184706264, 1.5353208691051237, -0.4646193176774978,
     0.8354268281079285, 2.03532821704197},
    {1.0481213067090756, -2.047942832186525, 0.5484583843932167, 1.5480489948713998, -0.45171850101937816,
     0.8482833386769765, 2.0480671197061557},
    {1.0612864454617956, -2.0609594127341326, 0.5618896038606264, 1.5611504852065807, -0.43834539040872367,
     0.8615726389218656, 2.0611847298981267},
};
const optim::AdadeltaOptions kAdadeltaOptions{.lr = 0.5, .rho = 0.8, .eps = 1e-4, .weight_decay = 0.05};

// torch.optim.ASGD(lr=0.05, lambd=0.01, alpha=0.75, t0=0.5, weight_decay=0.1): θ, the average
// ax (state 'ax'), and eta, mu after each step (averaging starts at step 3: mu = 1 / (2 - 0.5)).
const Trajectory kASGD = {
    {0.9395, -1.7790000000000001, 0.40725, 1.2117499999999999, -0.50975, 0.5556, 1.889},
    {0.8823791689731444, -1.5813895992697449, 0.3289519849209271, 0.9828212179288758, -0.5191990818157359,
     0.38592782309047763, 1.786973757450214},
    {0.8284475687413266, -1.404685508056087, 0.2628495219184495, 0.8009878156564134, -0.5283566425080005,
     0.2681152215471622, 1.6931926969825093},
    {0.7775260047011684, -1.2466689223043317, 0.20703919611152444, 0.6565472846874624, -0.5372317822502273,
     0.18629804843672082, 1.6069876473836937},
    {0.7294454143106263, -1.1053572655386124, 0.1599152693495625, 0.5417988972704876, -0.5458333138171344,
     0.12946921659399382, 1.5277439775823682},
};
const Trajectory kASGDAverage = {
    {0.9395, -1.7790000000000001, 0.40725, 1.2117499999999999, -0.50975, 0.5556, 1.889},
    {0.8823791689731444, -1.5813895992697449, 0.3289519849209271, 0.9828212179288758, -0.5191990818157359,
     0.38592782309047763, 1.786973757450214},
    {0.8464247688185992, -1.4635868717939728, 0.2848836762526087, 0.8615989497472342, -0.5253041222772457,
     0.30738608872826734, 1.7244530504717441},
    {0.8188652631716269, -1.3768196919981164, 0.253745884196175, 0.7795782837233254, -0.5300751862664383,
     0.25895087261164873, 1.6774668892365239},
    {0.7933167349256267, -1.2992589987239724, 0.22693713709714286, 0.7116413161653717, -0.53457750842378,
     0.22195611374946161, 1.6346889144781938},
};
const std::vector<double> kASGDEta = {0.049981258199366996, 0.04996253278245006, 0.049943823726753885,
                                      0.04992513100982532, 0.049906454609253185};
const std::vector<double> kASGDMu = {1.0, 0.6666666666666666, 0.4, 0.2857142857142857, 0.2222222222222222};
// the same ASGD with maximize=True
const Trajectory kASGDMax = {
    {1.0495, -2.1990000000000003, 0.58725, 1.77175, -0.48475, 1.0356, 2.089},
    {1.1011833699473466, -2.4167238586548447, 0.6870701947660113, 2.0962337012155468, -0.4692084527160523,
     1.3404698809385476, 2.184149821046717},
    {1.1551455633218215, -2.65492563428812, 0.8012662016059873, 2.483660622217368, -0.45336989497807234,
     1.7349424434194916, 2.285871951544069},
    {1.2114861695845223, -2.9155229896390047, 0.9319022297452251, 2.9462123400646414, -0.4372287633006381,
     2.2453089382880096, 2.394617736093004},
    {1.2703090917879627, -3.2006123848865524, 1.081338004273387, 3.4984225318260225, -0.4207793920784543,
     2.905562287978202, 2.5108693349113023},
};
const optim::ASGDOptions kASGDOptions{
    .lr = 0.05, .lambd = 0.01, .alpha = 0.75, .t0 = 0.5, .weight_decay = 0.1};

/// Resume from a file: 3 steps, save, load into a fresh optimizer made with default options
/// over parameters holding the same values, 3 more == 6 straight (check_resume), exactly.
template <class Opt, class Options>
void check_resume_of(const Options& options, const std::string& tag) {
  check_resume([options](const Problem& p) { return std::make_unique<Opt>(p.params(), options); },
               [](const Problem& p) { return std::make_unique<Opt>(p.params()); }, tag);
}
}  // namespace

TEST_CASE("NAdam matches PyTorch 1.13 step by step") {
  CHECK(optim::NAdamOptions{}.lr == 2e-3);
  CHECK(optim::NAdamOptions{}.betas == std::array<double, 2>{0.9, 0.999});
  CHECK(optim::NAdamOptions{}.eps == 1e-8);
  CHECK(optim::NAdamOptions{}.weight_decay == 0.0);
  CHECK(optim::NAdamOptions{}.momentum_decay == 4e-3);
  Problem pb;
  optim::NAdam opt(pb.params(), kNAdamOptions);
  check_steps(opt, pb, kNAdam);
  REQUIRE(opt.state(pb.p1) != nullptr);
  CHECK(opt.state(pb.p1)->step == 5);
  // Π = μ₁ ... μ₅ with μ_t = 0.8 (1 − ½ 0.96^(0.1 t))
  double prod = 1;
  for (int t = 1; t <= 5; ++t) prod *= 0.8 * (1 - 0.5 * std::pow(0.96, 0.1 * t));
  CHECK(opt.state(pb.p1)->mu_product == doctest::Approx(prod).epsilon(1e-15));
  SUBCASE("float32 follows the float64 trajectory") {
    Problem pf(Dtype::float32);
    optim::NAdam o32(pf.params(), kNAdamOptions);
    check_steps(o32, pf, kNAdam, 1e-5);
    CHECK(o32.state(pf.p1)->exp_avg.dtype() == Dtype::float32);
  }
}

TEST_CASE("RAdam matches PyTorch 1.13 step by step, before and after rectification") {
  CHECK(optim::RAdamOptions{}.lr == 1e-3);
  CHECK(optim::RAdamOptions{}.betas == std::array<double, 2>{0.9, 0.999});
  CHECK(optim::RAdamOptions{}.eps == 1e-8);
  Problem pb;
  optim::RAdam opt(pb.params(), kRAdamOptions);
  check_steps(opt, pb, kRAdam);
  CHECK(opt.state(pb.p2)->step == 8);
  SUBCASE("float32 follows the float64 trajectory") {
    Problem pf(Dtype::float32);
    optim::RAdam o32(pf.params(), kRAdamOptions);
    check_steps(o32, pf, kRAdam, 1e-5);
  }
}

TEST_CASE("Adadelta matches PyTorch 1.13 step by step, and with maximize") {
  CHECK(optim::AdadeltaOptions{}.lr == 1.0);
  CHECK(optim::AdadeltaOptions{}.rho == 0.9);
  CHECK(optim::AdadeltaOptions{}.eps == 1e-6);
  CHECK_FALSE(optim::AdadeltaOptions{}.maximize);
  {
    Problem pb;
    optim::Adadelta opt(pb.params(), kAdadeltaOptions);
    check_steps(opt, pb, kAdadelta);
    CHECK(opt.state(pb.p1)->step == 5);
    CHECK(opt.state(pb.p1)->acc_delta.defined());
  }
  {
    Problem pb;
    optim::AdadeltaOptions o = kAdadeltaOptions;
    o.maximize = true;
    optim::Adadelta opt(pb.params(), o);
    check_steps(opt, pb, kAdadeltaMax);
  }
  {
    Problem pf(Dtype::float32);
    optim::Adadelta o32(pf.params(), kAdadeltaOptions);
    check_steps(o32, pf, kAdadelta, 1e-5);
  }
}

TEST_CASE("ASGD matches PyTorch 1.13 step by step: θ, the average ax, eta and mu") {
  CHECK(optim::ASGDOptions{}.lr == 1e-2);
  CHECK(optim::ASGDOptions{}.lambd == 1e-4);
  CHECK(optim::ASGDOptions{}.alpha == 0.75);
  CHECK(optim::ASGDOptions{}.t0 == 1e6);
  CHECK_FALSE(optim::ASGDOptions{}.maximize);
  {
    Problem pb;
    optim::ASGD opt(pb.params(), kASGDOptions);
    for (std::size_t t = 0; t < kASGD.size(); ++t) {
      CAPTURE(t);
      opt.zero_grad();
      pb.loss().backward();
      opt.step();
      check_close(pb.values(), kASGD[t], 1e-12);
      const optim::ASGDState* s1 = opt.state(pb.p1);
      const optim::ASGDState* s2 = opt.state(pb.p2);
      REQUIRE(s1 != nullptr);
      REQUIRE(s2 != nullptr);
      std::vector<double> ax = s1->ax.to_vector<double>(), ax2 = s2->ax.to_vector<double>();
      ax.insert(ax.end(), ax2.begin(), ax2.end());
      check_close(ax, kASGDAverage[t], 1e-12);
      CHECK(s1->eta == doctest::Approx(kASGDEta[t]).epsilon(1e-14));
      CHECK(s1->mu == doctest::Approx(kASGDMu[t]).epsilon(1e-14));
      CHECK(s1->step == static_cast<int64_t>(t + 1));
    }
  }
  {
    Problem pb;
    optim::ASGDOptions o = kASGDOptions;
    o.maximize = true;
    optim::ASGD opt(pb.params(), o);
    check_steps(opt, pb, kASGDMax);
  }
  {
    Problem pf(Dtype::float32);
    optim::ASGD o32(pf.params(), kASGDOptions);
    check_steps(o32, pf, kASGD, 1e-5);
    CHECK(o32.state(pf.p1)->ax.dtype() == Dtype::float32);
  }
}

TEST_CASE("NAdam, RAdam, Adadelta, ASGD: groups inherit unstated options") {
  SUBCASE("NAdam") {
    optim::NAdamOptions d{.lr = 0.05, .betas = {0.8, 0.95}, .momentum_decay = 0.01};
    check_group_inheritance<optim::NAdam>(
        d, {.weight_decay = 0.1},
        {.lr = 0.05, .betas = {0.8, 0.95}, .weight_decay = 0.1, .momentum_decay = 0.01}, d);
  }
  SUBCASE("RAdam") {
    // the group's betas differ from the defaults' from the first step on (through betas[0])
    optim::RAdamOptions d{.lr = 0.05, .betas = {0.8, 0.9}, .weight_decay = 0.01};
    check_group_inheritance<optim::RAdam>(d, {.betas = {0.5, 0.5}},
                                          {.lr = 0.05, .betas = {0.5, 0.5}, .weight_decay = 0.01}, d);
  }
  SUBCASE("Adadelta") {
    optim::AdadeltaOptions d{.lr = 0.5, .rho = 0.8, .maximize = true};
    check_group_inheritance<optim::Adadelta>(d, {.eps = 1e-3},
                                             {.lr = 0.5, .rho = 0.8, .eps = 1e-3, .maximize = true}, d);
  }
  SUBCASE("ASGD") {
    optim::ASGDOptions d{.lr = 0.05, .lambd = 0.01, .t0 = 1.0, .weight_decay = 0.1};
    check_group_inheritance<optim::ASGD>(
        d, {.alpha = 0.5}, {.lr = 0.05, .lambd = 0.01, .alpha = 0.5, .t0 = 1.0, .weight_decay = 0.1}, d);
  }
  SUBCASE("the resolved options") {
    Tensor a = xg::ones({2}, {.requires_grad = true}), b = xg::ones({2}, {.requires_grad = true});
    optim::ASGD opt({{{a}, {.lambd = 0.5}}, {{b}}}, {.lr = 0.2, .t0 = 3});
    CHECK(opt.options(0).lambd == 0.5);
    CHECK(opt.options(0).lr == 0.2);
    CHECK(opt.options(0).t0 == 3);
    CHECK(opt.options(0).alpha == 0.75);
    CHECK(opt.options(1).lambd == 1e-4);
    CHECK(opt.options(1).lr == 0.2);
  }
}

TEST_CASE("NAdam, RAdam, Adadelta, ASGD: save and load resume exactly") {
  SUBCASE("NAdam") {
    check_resume_of<optim::NAdam>(kNAdamOptions, "nadam");
  }
  SUBCASE("RAdam") {
    check_resume_of<optim::RAdam>(kRAdamOptions, "radam");
  }  // step 6 is rectified
  SUBCASE("Adadelta") {
    optim::AdadeltaOptions o = kAdadeltaOptions;
    o.maximize = true;
    check_resume_of<optim::Adadelta>(o, "adadelta");
  }
  SUBCASE("ASGD") {
    check_resume_of<optim::ASGD>(kASGDOptions, "asgd");
  }  // averaging from step 3
  SUBCASE("the state dict holds PyTorch's names") {
    Problem pb;
    optim::NAdam nadam(pb.params());
    optim::ASGD asgd(pb.params());
    optim::Adadelta adadelta(pb.params());
    optim::RAdam radam(pb.params());
    pb.loss().backward();
    nadam.step();
    asgd.step();
    adadelta.step();
    radam.step();
    auto names_of = [](const optim::Optimizer& o) {
      std::vector<std::string> names;
      for (const auto& [n, t] : o.state_dict().tensors)
        if (n.rfind("state.0.", 0) == 0) names.push_back(n.substr(8));
      return names;
    };
    CHECK(names_of(nadam) == std::vector<std::string>{"step", "mu_product", "exp_avg", "exp_avg_sq"});
    CHECK(names_of(radam) == std::vector<std::string>{"step", "exp_avg", "exp_avg_sq"});
    CHECK(names_of(adadelta) == std::vector<std::string>{"step", "square_avg", "acc_delta"});
    CHECK(names_of(asgd) == std::vector<std::string>{"step", "eta", "mu", "ax"});
    const optim::StateDict sd = asgd.state_dict();
    CHECK(sd.metadata.at("group.0.lambd") == "1e-04");
    CHECK(sd.metadata.at("group.0.t0") == "1e+06");
  }
}

TEST_CASE("NAdam, RAdam, Adadelta, ASGD: invalid options throw ValueError naming the optimizer and option") {
  Problem pb;
  CHECK_ERROR(optim::NAdam(pb.params(), {.lr = -0.1}), xg::ValueError, "NAdam:", "invalid lr = -0.1");
  CHECK_ERROR(optim::NAdam(pb.params(), {.betas = {1.0, 0.9}}), xg::ValueError, "NAdam:", "betas[0]",
              "[0, 1)");
  CHECK_ERROR(optim::NAdam(pb.params(), {.betas = {0.9, -0.5}}), xg::ValueError, "NAdam:", "betas[1]");
  CHECK_ERROR(optim::NAdam(pb.params(), {.eps = -1}), xg::ValueError, "NAdam:", "eps");
  CHECK_ERROR(optim::NAdam(pb.params(), {.weight_decay = -1}), xg::ValueError, "NAdam:", "weight_decay");
  CHECK_ERROR(optim::NAdam(pb.params(), {.momentum_decay = -1e-3}), xg::ValueError,
              "NAdam:", "momentum_decay");
  CHECK_ERROR(optim::RAdam(pb.params(), {.lr = -1}), xg::ValueError, "RAdam:", "lr");
  CHECK_ERROR(optim::RAdam(pb.params(), {.betas = {-0.1, 0.9}}), xg::ValueError, "RAdam:", "betas[0]");
  CHECK_ERROR(optim::RAdam(pb.params(), {.betas = {0.9, 1.0}}), xg::ValueError, "RAdam:", "betas[1]");
  CHECK_ERROR(optim::RAdam(pb.params(), {.lr = NAN}), xg::ValueError, "RAdam:", "lr = nan");
  CHECK_ERROR(optim::RAdam(pb.params(), {.weight_decay = -1}), xg::ValueError, "RAdam:", "weight_decay");
  CHECK_ERROR(optim::Adadelta(pb.params(), {.lr = -1}), xg::ValueError, "Adadelta:", "lr");
  CHECK_ERROR(optim::Adadelta(pb.params(), {.rho = 1.5}), xg::ValueError, "Adadelta:", "rho", "[0, 1]");
  CHECK_ERROR(optim::Adadelta(pb.params(), {.rho = -0.1}), xg::ValueError, "Adadelta:", "rho");
  CHECK_ERROR(optim::Adadelta(pb.params(), {.eps = -1}), xg::ValueError, "Adadelta:", "eps");
  CHECK_ERROR(optim::Adadelta(pb.params(), {.weight_decay = -1}), xg::ValueError,
              "Adadelta:", "weight_decay");
  CHECK_NOTHROW(optim::Adadelta(pb.params(), {.rho = 1.0}));  // [0, 1] closed, as PyTorch
  CHECK_ERROR(optim::ASGD(pb.params(), {.lr = -1}), xg::ValueError, "ASGD:", "lr");
  CHECK_ERROR(optim::ASGD(pb.params(), {.weight_decay = -1}), xg::ValueError, "ASGD:", "weight_decay");
  CHECK_ERROR(optim::ASGD(pb.params(), {.lambd = NAN}), xg::ValueError, "ASGD:", "lambd");
  CHECK_ERROR(optim::ASGD(pb.params(), {.alpha = NAN}), xg::ValueError, "ASGD:", "alpha");
  CHECK_ERROR(optim::ASGD(pb.params(), {.t0 = NAN}), xg::ValueError, "ASGD:", "t0");
  // a group's stated option and later changes are checked too
  CHECK_ERROR(optim::NAdam({{{pb.p1}, {.betas = {0.9, 1.0}}}}), xg::ValueError, "NAdam:", "betas[1]");
  optim::ASGD asgd(pb.params());
  CHECK_ERROR(asgd.set_lr(-1.0, 0), xg::ValueError, "ASGD:", "lr");
  optim::RAdam radam(pb.params());
  CHECK_ERROR(radam.set_options({.betas = {0.9, 1.5}}), xg::ValueError, "RAdam:", "betas[1]");
}

TEST_CASE("numeric options by name and the initial lr, for schedulers") {
  Problem pr;
  optim::SGD sgd({pr.p1}, {.lr = 0.1, .momentum = 0.9});
  CHECK(sgd.option_values("momentum", 0) == std::vector<double>{0.9});
  CHECK(sgd.has_option("momentum"));
  CHECK_FALSE(sgd.has_option("betas"));
  CHECK(sgd.option_values("nesterov", 0).empty());  // not numeric
  sgd.set_option_values("momentum", {0.5}, 0);
  CHECK(sgd.options().momentum == 0.5);
  CHECK_ERROR(sgd.set_option_values("momentum", {-1.0}, 0), xg::ValueError, "SGD:", "momentum");
  CHECK_ERROR(sgd.set_option_values("betas", {0.5, 0.9}, 0), xg::ValueError, "SGD:", "betas");
  CHECK(sgd.options().momentum == 0.5);

  optim::Adam adam({pr.p2}, {.lr = 0.1});
  CHECK(adam.option_values("betas", 0) == std::vector<double>{0.9, 0.999});
  adam.set_option_values("betas", {0.8, 0.999}, 0);
  CHECK(adam.options().betas[0] == 0.8);
  CHECK_ERROR(adam.set_option_values("betas", {1.0, 0.999}, 0), xg::ValueError, "Adam:", "betas");
  CHECK_ERROR(adam.set_option_values("betas", {0.9}, 0), xg::ValueError, "Adam:", "betas");

  CHECK_FALSE(adam.initial_lr(0).has_value());
  adam.set_initial_lr(0.25, 0);
  CHECK(adam.initial_lr(0) == 0.25);
  CHECK_FALSE(adam.initial_lr(1).has_value());
}

// ---------------------------------------------------------------- poisoned state
namespace {

// Everything an optimizer holds, as bytes: its state dict's metadata and tensors, and its
// parameters' values. Two snapshots are equal only if not one bit changed.
std::vector<std::string> snapshot(const optim::Optimizer& opt) {
  std::vector<std::string> out;
  const optim::StateDict sd = opt.state_dict();
  for (const auto& [k, v] : sd.metadata) out.push_back(k + "=" + v);
  auto bytes = [](const Tensor& t) {
    const Tensor c = t.contiguous();
    return std::string(static_cast<const char*>(c.raw_data()),
                       static_cast<std::size_t>(c.numel()) * xg::dtype_size(c.dtype()));
  };
  for (const auto& [n, t] : sd.tensors) out.push_back(n + ":" + t.shape().str() + ":" + bytes(t));
  for (const Tensor& p : opt.parameters()) out.push_back(bytes(p));
  return out;
}

// sd with the tensor `key` replaced by f(a copy of it).
optim::StateDict with_tensor(optim::StateDict sd, const std::string& key,
                             const std::function<Tensor(Tensor)>& f) {
  bool found = false;
  for (auto& [n, t] : sd.tensors)
    if (n == key) t = f(t.clone()), found = true;
  REQUIRE_MESSAGE(found, key);
  return sd;
}
Tensor first_to(Tensor t, double v) {
  if (t.dtype() == Dtype::int64)
    t.data<int64_t>()[0] = static_cast<int64_t>(v);
  else
    t.data<double>()[0] = v;
  return t;
}
optim::StateDict without(optim::StateDict sd, const std::string& key) {
  std::erase_if(sd.tensors, [&](const auto& e) { return e.first == key; });
  return sd;
}

// Runs 2 steps of `make` on a problem, then checks that each poisoned variant of its state is
// refused by a third optimizer (stepped once, so it has state of its own) without changing it.
void check_refused(const MakeOpt& make, const std::vector<std::pair<optim::StateDict, std::string>>& cases) {
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i);
    CAPTURE(cases[i].second);
    Problem q;
    auto target = make(q);
    run_steps(*target, q, 1);
    const auto before = snapshot(*target);
    const std::string m = ERROR_MESSAGE(target->load_state_dict(cases[i].first), xg::ValueError);
    CHECK_MESSAGE(m.find(cases[i].second) != std::string::npos, m);
    CHECK_MESSAGE(m.find(target->name() + ".load_state_dict") != std::string::npos, m);
    CHECK(snapshot(*target) == before);
  }
}

optim::StateDict stepped_state(const MakeOpt& make) {
  Problem pb;
  auto opt = make(pb);
  run_steps(*opt, pb, 2);
  return opt->state_dict();
}

}  // namespace

TEST_CASE("load_state_dict refuses poisoned state and changes nothing, bit for bit") {
  // Before: Adam loaded step = -1, a negative exp_avg_sq and NaN in exp_avg, and the parameters
  // were NaN two steps later.
  const auto inf = INFINITY, nan = NAN;
  SUBCASE("Adam") {
    const MakeOpt make = [](const Problem& p) {
      return std::make_unique<optim::Adam>(p.params(), optim::AdamOptions{.lr = 0.1, .amsgrad = true});
    };
    const optim::StateDict sd = stepped_state(make);
    auto meta = [&](const std::string& k, const std::string& v) {
      optim::StateDict s = sd;
      s.metadata[k] = v;
      return s;
    };
    auto set = [&](const std::string& key, double v) {
      return with_tensor(sd, key, [v](Tensor t) { return first_to(t, v); });
    };
    check_refused(make,
                  {
                      {set("state.0.step", -1), "'state.0.step' is -1"},
                      {with_tensor(sd, "state.1.step",
                                   [](Tensor) { return xg::tensor({2.5}, {}, {.dtype = Dtype::float64}); }),
                       "'state.1.step' is 2.5, not a whole number"},
                      {set("state.0.exp_avg", nan), "'state.0.exp_avg' holds nan at element 0"},
                      {set("state.1.exp_avg", -inf), "'state.1.exp_avg' holds -inf"},
                      {set("state.0.exp_avg_sq", -1e-3), "'state.0.exp_avg_sq' holds -0.001 at element 0"},
                      {set("state.1.max_exp_avg_sq", -2), "'state.1.max_exp_avg_sq' holds -2"},
                      {without(sd, "state.0.exp_avg_sq"), "has no entry 'state.0.exp_avg_sq'"},
                      {without(sd, "state.1.step"), "has no entry 'state.1.step'"},
                      {meta("group.0.lr", "inf"), "group.0.lr = inf (must be finite)"},
                      {meta("group.0.lr", "-0.5"), "invalid lr = -0.5"},
                      {meta("group.0.betas", "0.9,1"), "invalid betas[1] = 1"},
                      {meta("group.0.betas", "nan,0.9"), "betas[0] = nan"},
                      {meta("group.0.eps", "-1e-8"), "invalid eps"},
                      {meta("group.0.weight_decay", "-1"), "invalid weight_decay"},
                  });
    // names outside the state's layout
    optim::StateDict extra = sd, junk = sd, index = sd, twice = sd;
    extra.tensors.emplace_back("state.0.bogus", xg::zeros({2, 2}, {.dtype = Dtype::float64}));
    junk.tensors.emplace_back("junk", xg::zeros({1}));
    index.tensors.emplace_back("state.1x.step", xg::zeros({1}));
    twice.tensors.push_back(sd.tensors.front());
    check_refused(make, {{extra, "'state.0.bogus' is not a field of Adam's state"},
                         {junk, "unexpected entry 'junk'"},
                         {index, "'state.1x.step' is not state.<index>.<field>"},
                         {twice, "two entries 'state.0.step'"}});
    // a wrong shape is a ShapeError, and changes nothing either
    Problem q;
    auto target = make(q);
    run_steps(*target, q, 1);
    const auto before = snapshot(*target);
    CHECK_ERROR(
        target->load_state_dict(with_tensor(sd, "state.1.exp_avg", [](Tensor) { return xg::zeros({2}); })),
        xg::ShapeError, "'state.1.exp_avg' has shape [2]");
    CHECK(snapshot(*target) == before);
    // the valid state loads (a float step that is whole is read, as PyTorch writes steps)
    CHECK_NOTHROW(target->load_state_dict(with_tensor(
        sd, "state.0.step", [](Tensor) { return xg::tensor({2.0}, {}, {.dtype = Dtype::float32}); })));
    CHECK(target->state_dict().tensors.front().second.item<int64_t>() == 2);
  }
  SUBCASE("the second moments and running values of every optimizer") {
    struct Case {
      MakeOpt make;
      std::string key;
      double value;
      std::string reason;
    };
    const std::vector<Case> cases = {
        {[](const Problem& p) {
           return std::make_unique<optim::SGD>(p.params(), optim::SGDOptions{.momentum = 0.9});
         },
         "state.0.momentum_buffer", nan, "holds nan"},
        {[](const Problem& p) { return std::make_unique<optim::AdamW>(p.params()); }, "state.0.exp_avg_sq",
         -1, "'state.0.exp_avg_sq' holds -1"},
        {[](const Problem& p) { return std::make_unique<optim::Adamax>(p.params()); }, "state.1.exp_inf", -1,
         "'state.1.exp_inf' holds -1"},
        {[](const Problem& p) { return std::make_unique<optim::Adagrad>(p.params()); }, "state.0.sum", -0.5,
         "'state.0.sum' holds -0.5"},
        {[](const Problem& p) { return std::make_unique<optim::Adagrad>(p.params()); }, "state.0.step", -3,
         "'state.0.step' is -3"},
        {[](const Problem& p) {
           return std::make_unique<optim::RMSprop>(p.params(),
                                                   optim::RMSpropOptions{.momentum = 0.5, .centered = true});
         },
         "state.0.square_avg", -1, "'state.0.square_avg' holds -1"},
        {[](const Problem& p) {
           return std::make_unique<optim::RMSprop>(p.params(),
                                                   optim::RMSpropOptions{.momentum = 0.5, .centered = true});
         },
         "state.1.grad_avg", inf, "'state.1.grad_avg' holds inf"},
        // >= 0 but below grad_avg^2: a negative variance, whose root the next step took as NaN
        {[](const Problem& p) {
           return std::make_unique<optim::RMSprop>(p.params(), optim::RMSpropOptions{.centered = true});
         },
         "state.0.square_avg", 0, "less than the square of state.0.grad_avg"},
        {[](const Problem& p) { return std::make_unique<optim::NAdam>(p.params()); }, "state.0.mu_product",
         1.5, "'state.0.mu_product' is 1.5 (must be in [0, 1])"},
        {[](const Problem& p) { return std::make_unique<optim::NAdam>(p.params()); }, "state.0.mu_product",
         nan, "'state.0.mu_product' is nan"},
        {[](const Problem& p) { return std::make_unique<optim::RAdam>(p.params()); }, "state.1.exp_avg_sq",
         -1, "'state.1.exp_avg_sq' holds -1"},
        {[](const Problem& p) { return std::make_unique<optim::Adadelta>(p.params()); }, "state.0.square_avg",
         -1, "'state.0.square_avg' holds -1"},
        {[](const Problem& p) { return std::make_unique<optim::Adadelta>(p.params()); }, "state.0.acc_delta",
         -1, "'state.0.acc_delta' holds -1"},
        {[](const Problem& p) { return std::make_unique<optim::ASGD>(p.params()); }, "state.0.mu", 2,
         "'state.0.mu' is 2 (must be in [0, 1])"},
        {[](const Problem& p) { return std::make_unique<optim::ASGD>(p.params()); }, "state.0.eta", -0.1,
         "'state.0.eta' is -0.1"},
        {[](const Problem& p) { return std::make_unique<optim::ASGD>(p.params()); }, "state.1.ax", nan,
         "'state.1.ax' holds nan"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.key);
      CAPTURE(c.reason);
      const optim::StateDict sd = stepped_state(c.make);
      const double v = c.value;
      check_refused(c.make, {{with_tensor(sd, c.key, [v](Tensor t) { return first_to(t, v); }), c.reason}});
    }
    // RMSprop's momentum buffer and centered average are made only with those options
    const MakeOpt plain = [](const Problem& p) { return std::make_unique<optim::RMSprop>(p.params()); };
    Problem q;
    auto rms = plain(q);
    CHECK_NOTHROW(rms->load_state_dict(stepped_state(plain)));
  }
  SUBCASE("LBFGS") {
    const MakeOpt make = [](const Problem& p) {
      return std::make_unique<optim::LBFGS>(p.params(),
                                            optim::LBFGSOptions{.max_iter = 3, .history_size = 2});
    };
    const optim::StateDict sd = stepped_state(make);
    REQUIRE(sd.metadata.at("lbfgs.history") == "2");
    auto meta = [&](const std::string& k, const std::string& v) {
      optim::StateDict s = sd;
      s.metadata[k] = v;
      return s;
    };
    optim::StateDict per_param = sd;
    per_param.tensors.emplace_back("state.0.step", xg::zeros({1}));
    // Before: n_iter > 0 without lbfgs.d loaded, and the next step read past an empty vector.
    check_refused(make,
                  {
                      {without(sd, "lbfgs.d"), "no entry 'lbfgs.d'"},
                      {without(sd, "lbfgs.prev_flat_grad"), "no entry 'lbfgs.prev_flat_grad'"},
                      {meta("lbfgs.history", "3"), "'lbfgs.history' is 3 (must be in [0, history_size = 2])"},
                      {meta("lbfgs.history", "-1"), "'lbfgs.history' is -1"},
                      {meta("lbfgs.n_iter", "-4"), "'lbfgs.n_iter' is -4"},
                      {meta("lbfgs.H_diag", "0"), "'lbfgs.H_diag' is 0"},
                      {meta("lbfgs.t", "nan"), "'lbfgs.t' is nan"},
                      {meta("lbfgs.prev_loss", "inf"), "'lbfgs.prev_loss' is inf"},
                      {meta("group.0.tolerance_grad", "inf"), "group.0.tolerance_grad = inf"},
                      {with_tensor(sd, "lbfgs.ro", [](Tensor t) { return first_to(t, -1); }),
                       "'lbfgs.ro' is -1 at element 0"},
                      {with_tensor(sd, "lbfgs.old_dirs", [](Tensor t) { return first_to(t, NAN); }),
                       "'lbfgs.old_dirs' is nan at element 0"},
                      {per_param, "'state.0.step' is not a field of LBFGS's state"},
                      // finite, but no longer the pair its ro was computed from
                      {with_tensor(sd, "lbfgs.old_stps", [](Tensor t) { return first_to(t, 7.6e286); }),
                       "not 1 / yᵀs of its pair"},
                  });
  }
}
