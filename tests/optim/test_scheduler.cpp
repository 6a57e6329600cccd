// Learning-rate schedulers: each lr sequence against values worked out by hand (written as
// literals), state for resume, and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/optim/optim.hpp"

namespace {

namespace optim = xg::optim;
using xg::Dtype;
using xg::Tensor;

Tensor param() {
  return xg::zeros({2}, {.dtype = Dtype::float64, .requires_grad = true});
}

// lrs[e] is the expected lr at epoch e (index 0: right after construction).
template <class S>
void check_sequence(S& sched, optim::Optimizer& opt, const std::vector<double>& lrs, std::size_t group = 0) {
  for (std::size_t e = 0; e < lrs.size(); ++e) {
    CAPTURE(e);
    if (e > 0) sched.step();
    CHECK(sched.last_epoch() == static_cast<int64_t>(e));
    CHECK(opt.lr(group) == doctest::Approx(lrs[e]).epsilon(1e-14));
    CHECK(sched.get_last_lr()[group] == opt.lr(group));
  }
}

}  // namespace

TEST_CASE("StepLR: gamma every step_size epochs") {
  optim::SGD opt({param()}, {.lr = 1.0});
  optim::StepLR sched(opt, {.step_size = 2, .gamma = 0.5});
  check_sequence(sched, opt, {1, 1, 0.5, 0.5, 0.25, 0.25, 0.125});
  CHECK(sched.base_lrs() == std::vector<double>{1.0});
}

TEST_CASE("StepLR drives every group from its own base lr") {
  optim::SGD opt({{{param()}, {.lr = 1.0}}, {{param()}, {.lr = 0.3}}});
  optim::StepLR sched(opt, {.step_size = 1, .gamma = 0.1});
  sched.step();
  sched.step();
  CHECK(opt.lr(0) == doctest::Approx(0.01).epsilon(1e-14));
  CHECK(opt.lr(1) == doctest::Approx(0.003).epsilon(1e-14));
  CHECK(sched.get_last_lr().size() == 2);
}

TEST_CASE("MultiStepLR: gamma at each milestone, repeated milestones count twice") {
  optim::Adam opt({param()}, {.lr = 1.0});
  optim::MultiStepLR sched(opt, {.milestones = {4, 2, 4}, .gamma = 0.1});
  check_sequence(sched, opt, {1, 1, 0.1, 0.1, 0.001, 0.001, 0.001});
  CHECK(sched.options().milestones == std::vector<int64_t>{2, 4, 4});
}

TEST_CASE("ExponentialLR: gamma every epoch") {
  optim::SGD opt({param()}, {.lr = 2.0});
  optim::ExponentialLR sched(opt, {.gamma = 0.5});
  check_sequence(sched, opt, {2, 1, 0.5, 0.25, 0.125});
}

TEST_CASE("CosineAnnealingLR: the closed form, down to eta_min at T_max and back up") {
  optim::SGD opt({param()}, {.lr = 1.1});
  optim::CosineAnnealingLR sched(opt, {.T_max = 4, .eta_min = 0.1});
  // eta_min + (1.1 - 0.1) (1 + cos(pi e / 4)) / 2; cos(pi/4) = 0.7071067811865476
  check_sequence(sched, opt,
                 {1.1, 0.9535533905932737, 0.6, 0.24644660940672627, 0.1, 0.24644660940672627, 0.6,
                  0.9535533905932737, 1.1});
}

TEST_CASE("LinearLR: warm-up from start_factor to end_factor, then constant") {
  SUBCASE("given factors") {
    optim::SGD opt({param()}, {.lr = 0.4});
    optim::LinearLR sched(opt, {.start_factor = 0.25, .end_factor = 1.0, .total_iters = 4});
    check_sequence(sched, opt, {0.1, 0.175, 0.25, 0.325, 0.4, 0.4, 0.4});
  }
  SUBCASE("defaults: 1/3 to 1 over 5 epochs") {
    optim::SGD opt({param()}, {.lr = 3.0});
    optim::LinearLR sched(opt);
    check_sequence(sched, opt, {1.0, 1.4, 1.8, 2.2, 2.6, 3.0, 3.0});
  }
  SUBCASE("decay") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::LinearLR sched(opt, {.start_factor = 1.0, .end_factor = 0.5, .total_iters = 2});
    check_sequence(sched, opt, {1.0, 0.75, 0.5, 0.5});
  }
}

TEST_CASE("ReduceLROnPlateau") {
  SUBCASE("reduces after more than patience bad epochs") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::ReduceLROnPlateau sched(opt, {.factor = 0.5, .patience = 2});
    // metric:     10   9    9     9    9     8.9999  8     8    8    8
    // best:       10   9    9     9    9     9       8     8    8    8
    // bad epochs: 0    0    1     2    3->0  1       0     1    2    3->0
    // lr:         1    1    1     1    0.5   0.5     0.5   0.5  0.5  0.25
    // (8.9999 is not below 9 (1 - 1e-4) = 8.9991: no improvement in rel mode)
    const std::vector<double> metrics = {10, 9, 9, 9, 9, 8.9999, 8, 8, 8, 8};
    const std::vector<double> lrs = {1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25};
    const std::vector<int64_t> bad = {0, 0, 1, 2, 0, 1, 0, 1, 2, 0};
    for (std::size_t e = 0; e < metrics.size(); ++e) {
      CAPTURE(e);
      sched.step(metrics[e]);
      CHECK(opt.lr() == lrs[e]);
      CHECK(sched.num_bad_epochs() == bad[e]);
      CHECK(sched.get_last_lr()[0] == lrs[e]);
    }
    CHECK(sched.best() == 8);
    CHECK(sched.last_epoch() == 10);
  }
  SUBCASE("cooldown ignores bad epochs after a reduction") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::ReduceLROnPlateau sched(opt, {.factor = 0.1, .patience = 0, .cooldown = 2});
    // constant metric: e1 best; e2 bad -> reduce, cooldown 2; e3, e4 cooling down; e5 reduce
    const std::vector<double> lrs = {1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001};
    for (std::size_t e = 0; e < lrs.size(); ++e) {
      CAPTURE(e);
      sched.step(5.0);
      CHECK(opt.lr() == doctest::Approx(lrs[e]).epsilon(1e-14));
    }
  }
  SUBCASE("min_lr bounds the lr; reductions below eps are skipped") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::ReduceLROnPlateau sched(opt, {.factor = 0.1, .patience = 0, .min_lr = 0.05});
    sched.step(1.0);
    sched.step(1.0);
    CHECK(opt.lr() == doctest::Approx(0.1).epsilon(1e-14));
    sched.step(1.0);
    CHECK(opt.lr() == 0.05);
    sched.step(1.0);
    CHECK(opt.lr() == 0.05);

    optim::SGD tiny({param()}, {.lr = 1e-8});
    optim::ReduceLROnPlateau s2(tiny, {.factor = 0.1, .patience = 0});
    s2.step(1.0);
    s2.step(1.0);  // 1e-8 - 1e-9 = 9e-9 <= eps = 1e-8: skipped
    CHECK(tiny.lr() == 1e-8);
  }
  SUBCASE("mode max with an absolute threshold") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::ReduceLROnPlateau sched(opt, {.mode = optim::PlateauMode::max,
                                         .factor = 0.5,
                                         .patience = 1,
                                         .threshold = 0.5,
                                         .threshold_mode = optim::ThresholdMode::abs});
    CHECK(sched.is_better(1.6, 1.0));
    CHECK_FALSE(sched.is_better(1.4, 1.0));
    sched.step(1.0);  // best 1
    sched.step(1.4);  // not above 1.5: bad 1
    CHECK(sched.num_bad_epochs() == 1);
    sched.step(1.6);  // best 1.6
    CHECK(sched.num_bad_epochs() == 0);
    CHECK(sched.best() == 1.6);
    sched.step(2.0);  // bad 1
    sched.step(2.0);  // bad 2 > 1: reduce
    CHECK(opt.lr() == 0.5);
  }
  SUBCASE("rel thresholds") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::ReduceLROnPlateau min_rel(opt, {.threshold = 0.1});
    CHECK(min_rel.is_better(8.9, 10.0));
    CHECK_FALSE(min_rel.is_better(9.0, 10.0));
    optim::ReduceLROnPlateau max_rel(opt, {.mode = optim::PlateauMode::max, .threshold = 0.1});
    CHECK(max_rel.is_better(11.1, 10.0));
    CHECK_FALSE(max_rel.is_better(11.0, 10.0));
  }
}

TEST_CASE("scheduler state resumes the schedule exactly, in one file with the optimizer") {
  const std::string path = xg_test::temp_path("scheduler.safetensors");
  SUBCASE("CosineAnnealingLR") {
    Tensor p = param();
    optim::SGD straight_opt({p}, {.lr = 0.5, .momentum = 0.9});
    optim::CosineAnnealingLR straight(straight_opt, {.T_max = 7, .eta_min = 0.01});
    std::vector<double> want;
    for (int e = 0; e < 6; ++e) {
      straight.step();
      want.push_back(straight_opt.lr());
    }

    optim::SGD opt_a({param()}, {.lr = 0.5, .momentum = 0.9});
    optim::CosineAnnealingLR a(opt_a, {.T_max = 7, .eta_min = 0.01});
    for (int e = 0; e < 3; ++e) a.step();
    optim::StateDict sd = opt_a.state_dict();
    sd.metadata.merge(a.state_dict());
    xg::save_tensors(path, sd.tensors, sd.metadata);

    // A new run: a different initial lr and T_max, both replaced by the file.
    optim::SGD opt_b({param()}, {.lr = 3.0});
    optim::CosineAnnealingLR b(opt_b, {.T_max = 2});
    const xg::TensorFile f = xg::load_tensors(path);
    opt_b.load_state_dict({f.tensors, f.metadata});
    b.load_state_dict(f.metadata);
    CHECK(b.last_epoch() == 3);
    CHECK(b.options().T_max == 7);
    CHECK(b.base_lrs() == std::vector<double>{0.5});
    CHECK(opt_b.lr() == want[2]);
    CHECK(b.get_last_lr()[0] == want[2]);
    for (int e = 3; e < 6; ++e) {
      b.step();
      CHECK(opt_b.lr() == want[static_cast<std::size_t>(e)]);
    }
  }
  SUBCASE("ReduceLROnPlateau") {
    optim::SGD opt_a({param()}, {.lr = 1.0});
    optim::ReduceLROnPlateau a(opt_a, {.patience = 1, .cooldown = 3});
    for (double m : {3.0, 2.0, 2.0, 2.0, 2.5}) a.step(m);
    const optim::SchedulerState st = a.state_dict();
    CHECK(st.at("scheduler") == "ReduceLROnPlateau");
    optim::SGD opt_b({param()}, {.lr = 1.0});
    opt_b.load_state_dict(opt_a.state_dict());
    optim::ReduceLROnPlateau b(opt_b);
    b.load_state_dict(st);
    CHECK(b.best() == 2.0);
    CHECK(b.cooldown_counter() == a.cooldown_counter());
    CHECK(b.options().cooldown == 3);
    for (double m : {2.0, 2.0, 2.0, 2.0, 1.0, 1.5, 1.5, 1.5}) {
      a.step(m), b.step(m);
      CHECK(opt_a.lr() == opt_b.lr());
      CHECK(b.num_bad_epochs() == a.num_bad_epochs());
    }
  }
  std::filesystem::remove(path);
}

TEST_CASE("scheduler errors name the scheduler and the option") {
  optim::SGD opt({param()}, {.lr = 1.0});
  CHECK_ERROR(optim::StepLR(opt, {}), xg::ValueError, "StepLR:", "step_size");
  CHECK_ERROR(optim::StepLR(opt, {.step_size = 1, .gamma = -1}), xg::ValueError, "StepLR:", "gamma");
  CHECK_ERROR(optim::ExponentialLR(opt, {}), xg::ValueError, "ExponentialLR:", "gamma");
  CHECK_ERROR(optim::CosineAnnealingLR(opt, {.T_max = 0}), xg::ValueError, "CosineAnnealingLR:", "T_max");
  CHECK_ERROR(optim::LinearLR(opt, {.start_factor = 0.0}), xg::ValueError, "LinearLR:", "start_factor");
  CHECK_ERROR(optim::LinearLR(opt, {.end_factor = 1.5}), xg::ValueError, "LinearLR:", "end_factor");
  CHECK_ERROR(optim::LinearLR(opt, {.total_iters = 0}), xg::ValueError, "LinearLR:", "total_iters");
  CHECK_ERROR(optim::ReduceLROnPlateau(opt, {.factor = 1.0}), xg::ValueError, "ReduceLROnPlateau:", "factor");
  CHECK_ERROR(optim::ReduceLROnPlateau(opt, {.patience = -1}), xg::ValueError,
              "ReduceLROnPlateau:", "patience");

  optim::StepLR step(opt, {.step_size = 3});
  optim::SGD opt2({param()}, {.lr = 1.0});
  optim::CosineAnnealingLR cos(opt2, {.T_max = 3});
  CHECK_ERROR(cos.load_state_dict(step.state_dict()), xg::ValueError, "CosineAnnealingLR.load_state_dict",
              "StepLR");

  opt.add_param_group({param()});
  CHECK_ERROR(step.step(), xg::ValueError, "StepLR:", "2 parameter groups");
}
