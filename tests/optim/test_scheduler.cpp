// Learning-rate schedulers: lr sequences against values worked out by hand and against
// sequences produced by PyTorch 1.13 (the chainable forms, two schedulers on one optimizer,
// SequentialLR and ChainedScheduler, the momentum of CyclicLR and OneCycleLR), state for resume,
// and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <numbers>
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

TEST_CASE("CosineAnnealingLR: down to eta_min at T_max and back up") {
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

// ---------------------------------------------------------------- against PyTorch 1.13
// Every sequence below was produced by PyTorch 1.13 (float64): the construction named in the
// comment over torch.optim.SGD / Adam with params zeros(2), one optimizer.step() and then each
// scheduler's step() per epoch; lrs[0] is the lr right after construction.

namespace {

// The lr of group g (and option `mom`'s first value when given) after construction and after
// each of n calls of step().
struct Trace {
  std::vector<double> lrs, mom;
};
template <class Step>
Trace trace(optim::Optimizer& opt, Step&& step, std::size_t n, std::size_t g = 0, const char* mom = nullptr) {
  Trace t;
  auto record = [&] {
    t.lrs.push_back(opt.lr(g));
    if (mom) t.mom.push_back(opt.option_values(mom, g).at(0));
  };
  record();
  for (std::size_t i = 0; i < n; ++i) {
    step();
    record();
  }
  return t;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-13));
  }
}

}  // namespace

TEST_CASE("chainable forms of the closed-form schedules over 20+ epochs, as PyTorch") {
  SUBCASE("StepLR(step_size=3, gamma=0.7), lr 1") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::StepLR s(opt, {.step_size = 3, .gamma = 0.7});
    check_close(trace(
                    opt, [&] { s.step(); }, 20)
                    .lrs,
                {1.0,
                 1.0,
                 1.0,
                 0.7,
                 0.7,
                 0.7,
                 0.48999999999999994,
                 0.48999999999999994,
                 0.48999999999999994,
                 0.3429999999999999,
                 0.3429999999999999,
                 0.3429999999999999,
                 0.24009999999999992,
                 0.24009999999999992,
                 0.24009999999999992,
                 0.16806999999999994,
                 0.16806999999999994,
                 0.16806999999999994,
                 0.11764899999999995,
                 0.11764899999999995,
                 0.11764899999999995});
  }
  SUBCASE("MultiStepLR(milestones=[3, 7, 7, 12], gamma=0.5), lr 1") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::MultiStepLR s(opt, {.milestones = {3, 7, 7, 12}, .gamma = 0.5});
    check_close(trace(
                    opt, [&] { s.step(); }, 20)
                    .lrs,
                {1.0,   1.0,    1.0,    0.5,    0.5,    0.5,    0.5,    0.125,  0.125,  0.125, 0.125,
                 0.125, 0.0625, 0.0625, 0.0625, 0.0625, 0.0625, 0.0625, 0.0625, 0.0625, 0.0625});
  }
  SUBCASE("LinearLR(start_factor=0.2, end_factor=0.9, total_iters=8), lr 0.4") {
    optim::SGD opt({param()}, {.lr = 0.4});
    optim::LinearLR s(opt, {.start_factor = 0.2, .end_factor = 0.9, .total_iters = 8});
    check_close(trace(
                    opt, [&] { s.step(); }, 20)
                    .lrs,
                {0.08000000000000002, 0.11500000000000002, 0.15000000000000002, 0.18500000000000003,
                 0.22000000000000003, 0.25500000000000006, 0.29000000000000004, 0.325,
                 0.36000000000000004, 0.36000000000000004, 0.36000000000000004, 0.36000000000000004,
                 0.36000000000000004, 0.36000000000000004, 0.36000000000000004, 0.36000000000000004,
                 0.36000000000000004, 0.36000000000000004, 0.36000000000000004, 0.36000000000000004,
                 0.36000000000000004});
  }
  SUBCASE("CosineAnnealingLR(T_max=7, eta_min=0.1), lr 1.1: past T_max and back up, twice") {
    optim::SGD opt({param()}, {.lr = 1.1});
    optim::CosineAnnealingLR s(opt, {.T_max = 7, .eta_min = 0.1});
    // The recursive form drifts from the closed form (1.1000000000000094 at epoch 28), as PyTorch's.
    check_close(trace(
                    opt, [&] { s.step(); }, 30)
                    .lrs,
                {1.1,
                 1.0504844339512096,
                 0.9117449009293668,
                 0.7112604669781571,
                 0.4887395330218428,
                 0.2882550990706333,
                 0.1495155660487905,
                 0.1,
                 0.14951556604879043,
                 0.2882550990706332,
                 0.4887395330218428,
                 0.7112604669781569,
                 0.9117449009293669,
                 1.05048443395121,
                 1.1000000000000005,
                 1.0504844339512103,
                 0.9117449009293674,
                 0.7112604669781574,
                 0.48873953302184325,
                 0.2882550990706335,
                 0.14951556604879057,
                 0.1,
                 0.14951556604879043,
                 0.2882550990706348,
                 0.48873953302184614,
                 0.7112604669781626,
                 0.9117449009293749,
                 1.0504844339512183,
                 1.1000000000000094,
                 1.0504844339512187,
                 0.9117449009293753});
  }
  SUBCASE("ConstantLR(factor=0.25, total_iters=4), lr 0.3") {
    optim::SGD opt({param()}, {.lr = 0.3});
    optim::ConstantLR s(opt, {.factor = 0.25, .total_iters = 4});
    check_close(trace(
                    opt, [&] { s.step(); }, 20)
                    .lrs,
                {0.075, 0.075, 0.075, 0.075, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
                 0.3,   0.3,   0.3,   0.3,   0.3, 0.3, 0.3, 0.3, 0.3, 0.3});
  }
  SUBCASE("PolynomialLR(total_iters=12, power=2.0), lr 0.3") {
    optim::SGD opt({param()}, {.lr = 0.3});
    optim::PolynomialLR s(opt, {.total_iters = 12, .power = 2.0});
    check_close(trace(
                    opt, [&] { s.step(); }, 20)
                    .lrs,
                {0.3,
                 0.25208333333333327,
                 0.20833333333333331,
                 0.16874999999999996,
                 0.1333333333333333,
                 0.10208333333333326,
                 0.07499999999999997,
                 0.0520833333333333,
                 0.033333333333333326,
                 0.018749999999999992,
                 0.008333333333333326,
                 0.002083333333333334,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0});
  }
  SUBCASE("PolynomialLR(total_iters=10, power=0.5), lr 0.3") {
    optim::SGD opt({param()}, {.lr = 0.3});
    optim::PolynomialLR s(opt, {.total_iters = 10, .power = 0.5});
    check_close(trace(
                    opt, [&] { s.step(); }, 20)
                    .lrs,
                {0.3,
                 0.2846049894151541,
                 0.2683281572999747,
                 0.25099800796022265,
                 0.23237900077244503,
                 0.21213203435596428,
                 0.18973665961010278,
                 0.16431676725154987,
                 0.1341640786499874,
                 0.09486832980505139,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0});
  }
}

TEST_CASE("step(epoch) jumps by the closed form where there is one") {
  optim::SGD opt({param()}, {.lr = 1.0});
  optim::StepLR s(opt, {.step_size = 3, .gamma = 0.7});
  s.step(7.0);  // StepLR(step_size=3, gamma=0.7).step(7): 1 * 0.7 ** (7 // 3)
  CHECK(s.last_epoch() == 7);
  CHECK(opt.lr() == doctest::Approx(0.48999999999999994).epsilon(1e-15));
  CHECK(s.lr_at(1.0, 7) == opt.lr());
  s.step();  // chainable from there: epoch 8 is no multiple of 3
  CHECK(opt.lr() == doctest::Approx(0.48999999999999994).epsilon(1e-15));
  CHECK_ERROR(s.step(1.5), xg::ValueError, "StepLR:", "whole epoch");
  CHECK(s.last_epoch() == 8);
}

TEST_CASE("LambdaLR and MultiplicativeLR, as PyTorch") {
  SUBCASE("LambdaLR([0.95 ** e, 1 / (e + 1)]) over groups of lr 0.1 and 0.5") {
    for (std::size_t g = 0; g < 2; ++g) {
      CAPTURE(g);
      optim::SGD opt({{{param()}, {.lr = 0.1}}, {{param()}, {.lr = 0.5}}});
      optim::LambdaLR s(
          opt, std::vector<optim::LRLambda>{[](int64_t e) { return std::pow(0.95, static_cast<double>(e)); },
                                            [](int64_t e) { return 1.0 / static_cast<double>(e + 1); }});
      check_close(trace(
                      opt, [&] { s.step(); }, 24, g)
                      .lrs,
                  g == 0 ? std::vector<double>{0.1,
                                               0.095,
                                               0.09025,
                                               0.0857375,
                                               0.081450625,
                                               0.07737809374999999,
                                               0.07350918906249998,
                                               0.06983372960937498,
                                               0.06634204312890622,
                                               0.0630249409724609,
                                               0.05987369392383787,
                                               0.05688000922764597,
                                               0.05403600876626367,
                                               0.051334208327950485,
                                               0.04876749791155296,
                                               0.046329123015975304,
                                               0.04401266686517654,
                                               0.04181203352191771,
                                               0.039721431845821824,
                                               0.03773536025353073,
                                               0.03584859224085419,
                                               0.03405616262881148,
                                               0.0323533544973709,
                                               0.03073568677250236,
                                               0.02919890243387724}
                         : std::vector<double>{0.5,
                                               0.25,
                                               0.16666666666666666,
                                               0.125,
                                               0.1,
                                               0.08333333333333333,
                                               0.07142857142857142,
                                               0.0625,
                                               0.05555555555555555,
                                               0.05,
                                               0.045454545454545456,
                                               0.041666666666666664,
                                               0.038461538461538464,
                                               0.03571428571428571,
                                               0.03333333333333333,
                                               0.03125,
                                               0.029411764705882353,
                                               0.027777777777777776,
                                               0.02631578947368421,
                                               0.025,
                                               0.023809523809523808,
                                               0.022727272727272728,
                                               0.021739130434782608,
                                               0.020833333333333332,
                                               0.02});
    }
  }
  SUBCASE("one function for every group") {
    optim::SGD opt({{{param()}, {.lr = 0.1}}, {{param()}, {.lr = 0.5}}});
    optim::LambdaLR s(opt, [](int64_t e) { return 1.0 / static_cast<double>(e + 1); });
    s.step();
    CHECK(s.get_last_lr() == std::vector<double>{0.05, 0.25});
  }
  SUBCASE("MultiplicativeLR(lambda e: 0.9 if e % 3 else 1.05), lr 0.2") {
    optim::SGD opt({param()}, {.lr = 0.2});
    optim::MultiplicativeLR s(opt, [](int64_t e) { return e % 3 ? 0.9 : 1.05; });
    check_close(trace(
                    opt, [&] { s.step(); }, 24)
                    .lrs,
                {0.2,
                 0.18000000000000002,
                 0.16200000000000003,
                 0.17010000000000003,
                 0.15309000000000003,
                 0.13778100000000004,
                 0.14467005000000005,
                 0.13020304500000004,
                 0.11718274050000005,
                 0.12304187752500005,
                 0.11073768977250005,
                 0.09966392079525005,
                 0.10464711683501256,
                 0.0941824051515113,
                 0.08476416463636018,
                 0.08900237286817819,
                 0.08010213558136038,
                 0.07209192202322434,
                 0.07569651812438556,
                 0.068126866311947,
                 0.061314179680752305,
                 0.06437988866478993,
                 0.057941899798310936,
                 0.05214770981847985,
                 0.05475509530940384});
  }
}

TEST_CASE("two schedulers stepping one optimizer compose, as PyTorch") {
  SUBCASE("ExponentialLR(gamma=0.9) and StepLR(step_size=3, gamma=0.5), each stepped per epoch") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::ExponentialLR a(opt, {.gamma = 0.9});
    optim::StepLR b(opt, {.step_size = 3, .gamma = 0.5});
    const auto t = trace(
        opt, [&] { a.step(), b.step(); }, 25);
    check_close(t.lrs, {1.0,
                        0.9,
                        0.81,
                        0.36450000000000005,
                        0.32805000000000006,
                        0.2952450000000001,
                        0.13286025000000004,
                        0.11957422500000003,
                        0.10761680250000004,
                        0.04842756112500002,
                        0.04358480501250002,
                        0.03922632451125002,
                        0.01765184603006251,
                        0.015886661427056258,
                        0.014297995284350632,
                        0.006434097877957784,
                        0.005790688090162006,
                        0.005211619281145805,
                        0.0023452286765156126,
                        0.0021107058088640513,
                        0.0018996352279776463,
                        0.0008548358525899409,
                        0.0007693522673309468,
                        0.0006924170405978522,
                        0.0003115876682690335,
                        0.00028042890144213013});
    CHECK(b.base_lrs() == std::vector<double>{1.0});
  }
  SUBCASE("CosineAnnealingLR(T_max=10, eta_min=0.05) and MultiStepLR(milestones=[4, 8], gamma=0.3)") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::CosineAnnealingLR a(opt, {.T_max = 10, .eta_min = 0.05});
    optim::MultiStepLR b(opt, {.milestones = {4, 8}, .gamma = 0.3});
    check_close(trace(
                    opt, [&] { a.step(), b.step(); }, 25)
                    .lrs,
                {1.0,
                 0.976751845240198,
                 0.9092830723281,
                 0.8041979948389247,
                 0.20153492169843,
                 0.1657623792124926,
                 0.12998983672655523,
                 0.09771895994110069,
                 0.021632594136092687,
                 0.042730244965488245,
                 0.05,
                 0.07324815475980208,
                 0.14071692767190033,
                 0.2458020051610761,
                 0.3782169276719014,
                 0.5250000000000021,
                 0.6717830723281029,
                 0.8041979948389282,
                 0.9092830723281041,
                 0.9767518452402023,
                 1.0000000000000044,
                 0.9767518452402023,
                 0.9092830723281043,
                 0.8041979948389284,
                 0.6717830723281031,
                 0.5250000000000024});
  }
  SUBCASE("ChainedScheduler([ConstantLR(factor=0.1, total_iters=2), ExponentialLR(gamma=0.9)])") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::ChainedScheduler c(
        {std::make_shared<optim::ConstantLR>(opt, optim::ConstantLROptions{.factor = 0.1, .total_iters = 2}),
         std::make_shared<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = 0.9})});
    const auto t = trace(
        opt, [&] { c.step(); }, 22);
    check_close(t.lrs, {0.1,
                        0.09000000000000001,
                        0.8100000000000002,
                        0.7290000000000002,
                        0.6561000000000002,
                        0.5904900000000002,
                        0.5314410000000002,
                        0.47829690000000014,
                        0.43046721000000016,
                        0.38742048900000015,
                        0.34867844010000015,
                        0.31381059609000017,
                        0.28242953648100017,
                        0.25418658283290013,
                        0.22876792454961012,
                        0.2058911320946491,
                        0.1853020188851842,
                        0.16677181699666577,
                        0.1500946352969992,
                        0.13508517176729928,
                        0.12157665459056936,
                        0.10941898913151243,
                        0.0984770902183612});
    CHECK(c.get_last_lr()[0] == opt.lr());
    CHECK(c.last_epoch() == 22);
    CHECK(c.schedulers()[1]->last_epoch() == 22);
  }
  SUBCASE(
      "ChainedScheduler([LinearLR(start_factor=0.25, total_iters=4), PolynomialLR(total_iters=15, "
      "power=1.5)])") {
    optim::SGD opt({param()}, {.lr = 0.5});
    optim::ChainedScheduler c({std::make_shared<optim::LinearLR>(
                                   opt, optim::LinearLROptions{.start_factor = 0.25, .total_iters = 4}),
                               std::make_shared<optim::PolynomialLR>(
                                   opt, optim::PolynomialLROptions{.total_iters = 15, .power = 1.5})});
    check_close(trace(
                    opt, [&] { c.step(); }, 22)
                    .lrs,
                {0.125,
                 0.19724373904535625,
                 0.2521321119013837,
                 0.29068883707497273,
                 0.31399457414514775,
                 0.27216552697590884,
                 0.23237900077244514,
                 0.19474579822405919,
                 0.1593970119149272,
                 0.12649110640673528,
                 0.09622504486493771,
                 0.0688530372659097,
                 0.04472135954999581,
                 0.02434322477800739,
                 0.008606629658238708,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0,
                 0.0});
  }
}

TEST_CASE("SequentialLR, as PyTorch 1.13 (milestone steps use step(0))") {
  SUBCASE(
      "warm-up then cosine: [LinearLR(start_factor=0.1, total_iters=5), CosineAnnealingLR(T_max=20, "
      "eta_min=0.001)], milestones=[5]") {
    optim::SGD opt({param()}, {.lr = 0.8});
    auto warm =
        std::make_shared<optim::LinearLR>(opt, optim::LinearLROptions{.start_factor = 0.1, .total_iters = 5});
    auto cosine = std::make_shared<optim::CosineAnnealingLR>(
        opt, optim::CosineAnnealingLROptions{.T_max = 20, .eta_min = 0.001});
    optim::SequentialLR q(opt, {warm, cosine}, {5});
    CHECK(q.last_epoch() == 0);
    const auto t = trace(
        opt, [&] { q.step(); }, 30);
    check_close(t.lrs, {0.08000000000000002,
                        0.22400000000000003,
                        0.36800000000000005,
                        0.512,
                        0.656,
                        0.8,
                        0.7950814920677576,
                        0.7804470782599139,
                        0.7564571064132529,
                        0.7237022892527916,
                        0.6829891590840258,
                        0.6353202082908431,
                        0.581869204645949,
                        0.5239522892527917,
                        0.46299556878357245,
                        0.40050000000000013,
                        0.338004431216428,
                        0.27704771074720863,
                        0.21913079535405114,
                        0.1656797917091571,
                        0.11801084091597433,
                        0.07729771074720856,
                        0.04454289358674708,
                        0.02055292174008617,
                        0.005918507932242507,
                        0.001,
                        0.005918507932242461,
                        0.020552921740086078,
                        0.044542893586747026,
                        0.07729771074720845,
                        0.1180108409159742});
    CHECK(q.last_epoch() == 30);
    CHECK(cosine->last_epoch() == 25);
    CHECK(warm->last_epoch() == 4);
    CHECK(q.get_last_lr()[0] == opt.lr());
  }
  SUBCASE(
      "[ConstantLR(factor=0.5, total_iters=4), ExponentialLR(gamma=0.9), MultiplicativeLR(lambda e: 0.8)], "
      "milestones=[2, 6]") {
    // At 2 the ExponentialLR's closed form at epoch 0 resets the lr to the base lr 1 (the
    // ConstantLR's factor never gets undone); at 6 MultiplicativeLR, without a closed form,
    // leaves it as it is.
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::SequentialLR q(
        opt,
        {std::make_shared<optim::ConstantLR>(opt, optim::ConstantLROptions{.factor = 0.5, .total_iters = 4}),
         std::make_shared<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = 0.9}),
         std::make_shared<optim::MultiplicativeLR>(opt, [](int64_t) { return 0.8; })},
        {2, 6});
    check_close(trace(
                    opt, [&] { q.step(); }, 22)
                    .lrs,
                {0.5,
                 0.5,
                 1.0,
                 0.9,
                 0.81,
                 0.7290000000000001,
                 0.7290000000000001,
                 0.5832,
                 0.4665600000000001,
                 0.3732480000000001,
                 0.2985984000000001,
                 0.2388787200000001,
                 0.1911029760000001,
                 0.15288238080000008,
                 0.12230590464000007,
                 0.09784472371200006,
                 0.07827577896960006,
                 0.06262062317568005,
                 0.05009649854054404,
                 0.04007719883243524,
                 0.032061759065948194,
                 0.025649407252758556,
                 0.020519525802206846});
  }
}

TEST_CASE("CyclicLR and its momentum, as PyTorch") {
  SUBCASE(
      "modes: CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=4, step_size_down=2, mode=...) over "
      "SGD(momentum=0.9)") {
    struct Case {
      optim::CyclicMode mode;
      double gamma;
      std::vector<double> lrs, mom;
    };
    const std::vector<Case> cases = {
        {optim::CyclicMode::triangular,
         1.0,
         {0.01,   0.032500000000000015, 0.055,
          0.0775, 0.09999999999999999,  0.054999999999999966,
          0.01,   0.03250000000000004,  0.054999999999999966,
          0.0775, 0.09999999999999992,  0.05500000000000008,
          0.01,   0.03249999999999998,  0.05500000000000003,
          0.0775, 0.09999999999999999,  0.054999999999999966,
          0.01,   0.032499999999999925, 0.05500000000000009,
          0.0775, 0.09999999999999992,  0.05499999999999984,
          0.01,   0.03250000000000004},
         {0.9,
          0.875,
          0.8500000000000001,
          0.8250000000000001,
          0.8,
          0.8500000000000001,
          0.9,
          0.875,
          0.8500000000000001,
          0.8250000000000001,
          0.8000000000000002,
          0.85,
          0.9,
          0.875,
          0.85,
          0.8250000000000001,
          0.8,
          0.8500000000000001,
          0.9,
          0.8750000000000001,
          0.85,
          0.8250000000000001,
          0.8000000000000002,
          0.8500000000000002,
          0.9,
          0.875}},
        {optim::CyclicMode::triangular2,
         1.0,
         {0.01,
          0.032500000000000015,
          0.055,
          0.0775,
          0.09999999999999999,
          0.054999999999999966,
          0.01,
          0.021250000000000022,
          0.03249999999999998,
          0.043750000000000004,
          0.054999999999999966,
          0.032500000000000036,
          0.01,
          0.015624999999999997,
          0.021250000000000005,
          0.026875000000000003,
          0.0325,
          0.02124999999999999,
          0.01,
          0.01281249999999999,
          0.01562500000000001,
          0.018437500000000002,
          0.02124999999999999,
          0.01562499999999998,
          0.01,
          0.011406250000000003},
         {0.9,
          0.875,
          0.8500000000000001,
          0.8250000000000001,
          0.8,
          0.8500000000000001,
          0.9,
          0.8875,
          0.875,
          0.8625,
          0.8500000000000001,
          0.875,
          0.9,
          0.89375,
          0.8875000000000001,
          0.88125,
          0.875,
          0.8875000000000001,
          0.9,
          0.8968750000000001,
          0.89375,
          0.890625,
          0.8875000000000001,
          0.89375,
          0.9,
          0.8984375}},
        // exp_range with gamma=0.9
        {optim::CyclicMode::exp_range,
         0.9,
         {0.01,
          0.030250000000000013,
          0.046450000000000005,
          0.05920750000000001,
          0.069049,
          0.03657204999999998,
          0.01,
          0.020761680250000025,
          0.02937102444999999,
          0.03615088300750001,
          0.04138105960899999,
          0.024121476824050025,
          0.01,
          0.015719198113740247,
          0.02029455660473246,
          0.02389765141638881,
          0.026677181699666576,
          0.017504731764849953,
          0.01,
          0.013039416364764224,
          0.015470949456575633,
          0.01738578176637709,
          0.0188629381196525,
          0.013988322153843614,
          0.01,
          0.011615270472306673},
         {0.9,
          0.8775000000000001,
          0.8595,
          0.845325,
          0.8343900000000001,
          0.8704755000000001,
          0.9,
          0.8880425775,
          0.8784766395,
          0.8709434633250001,
          0.86513215599,
          0.8843094701955,
          0.9,
          0.8936453354291776,
          0.8885616037725195,
          0.8845581650929013,
          0.8814697981114816,
          0.8916614091501668,
          0.9,
          0.8966228707058176,
          0.8939211672704716,
          0.8917935758151366,
          0.890152290978164,
          0.8955685309401737,
          0.9,
          0.8982052550307704}},
    };
    for (const Case& c : cases) {
      CAPTURE(optim::option_to_string(c.mode));
      optim::SGD opt({param()}, {.lr = 1.0, .momentum = 0.9});
      optim::CyclicLR s(opt, {.base_lr = 0.01,
                              .max_lr = 0.1,
                              .step_size_up = 4,
                              .step_size_down = 2,
                              .mode = c.mode,
                              .gamma = c.gamma});
      const auto t = trace(
          opt, [&] { s.step(); }, 25, 0, "momentum");
      check_close(t.lrs, c.lrs);
      check_close(t.mom, c.mom);
    }
  }
  SUBCASE(
      "scale_fn=lambda x: 0.5 * (1 + sin(x * pi / 2)), scale_mode='iterations', step_size_up=3, "
      "base_momentum=0.7, max_momentum=0.95") {
    optim::SGD opt({param()}, {.lr = 1.0, .momentum = 0.9});
    optim::CyclicLR s(
        opt, {.base_lr = 0.01,
              .max_lr = 0.1,
              .step_size_up = 3,
              .scale_fn = [](double x) { return 0.5 * (1.0 + std::sin(x * std::numbers::pi / 2.0)); },
              .scale_mode = optim::ScaleMode::iterations,
              .base_momentum = 0.7,
              .max_momentum = 0.95});
    const auto t = trace(
        opt, [&] { s.step(); }, 25, 0, "momentum");
    check_close(t.lrs, {0.01,
                        0.040000000000000015,
                        0.04,
                        0.01,
                        0.04000000000000001,
                        0.03999999999999998,
                        0.01,
                        0.01,
                        0.039999999999999966,
                        0.1,
                        0.04,
                        0.01,
                        0.01,
                        0.03999999999999998,
                        0.04000000000000004,
                        0.01,
                        0.03999999999999999,
                        0.03999999999999998,
                        0.01,
                        0.01,
                        0.04000000000000002,
                        0.1,
                        0.0400000000000002,
                        0.01,
                        0.01,
                        0.040000000000000056});
    check_close(t.mom, {0.95,
                        0.8666666666666666,
                        0.8666666666666666,
                        0.95,
                        0.8666666666666666,
                        0.8666666666666667,
                        0.95,
                        0.95,
                        0.8666666666666667,
                        0.7,
                        0.8666666666666667,
                        0.95,
                        0.95,
                        0.8666666666666667,
                        0.8666666666666665,
                        0.95,
                        0.8666666666666667,
                        0.8666666666666667,
                        0.95,
                        0.95,
                        0.8666666666666666,
                        0.7,
                        0.866666666666666,
                        0.95,
                        0.95,
                        0.8666666666666665});
  }
  SUBCASE("Adam with cycle_momentum=False: mode='triangular2', step_size_up=5") {
    optim::Adam opt({param()}, {.lr = 1.0});
    optim::CyclicLR s(opt, {.base_lr = 0.01,
                            .max_lr = 0.1,
                            .step_size_up = 5,
                            .mode = optim::CyclicMode::triangular2,
                            .cycle_momentum = false});
    check_close(trace(
                    opt, [&] { s.step(); }, 25)
                    .lrs,
                {0.01,
                 0.028000000000000018,
                 0.046,
                 0.06400000000000002,
                 0.08199999999999999,
                 0.1,
                 0.08199999999999999,
                 0.06400000000000002,
                 0.046,
                 0.028000000000000018,
                 0.01,
                 0.01900000000000001,
                 0.028000000000000018,
                 0.036999999999999984,
                 0.046,
                 0.05500000000000001,
                 0.046,
                 0.036999999999999984,
                 0.028000000000000018,
                 0.01900000000000001,
                 0.01,
                 0.014500000000000006,
                 0.01900000000000001,
                 0.023499999999999993,
                 0.027999999999999997,
                 0.0325});
    CHECK(opt.options().betas[0] == 0.9);
  }
}

TEST_CASE("OneCycleLR and its momentum or beta1, as PyTorch") {
  SUBCASE("OneCycleLR(max_lr=0.5, total_steps=25) over SGD(momentum=0.9): cos, two phases") {
    optim::SGD opt({param()}, {.lr = 1.0, .momentum = 0.9});
    optim::OneCycleLR s(opt, {.max_lr = 0.5, .total_steps = 25});
    const auto t = trace(
        opt, [&] { s.step(); }, 24, 0, "momentum");
    check_close(t.lrs, {0.020000000000000018,
                        0.047490553843229644,
                        0.12366446078452265,
                        0.2310711967387225,
                        0.3451051728902086,
                        0.4396425795610643,
                        0.4930260361822525,
                        0.4989935775245158,
                        0.49099075121110264,
                        0.47524231600673683,
                        0.4522544395767425,
                        0.4227659711840672,
                        0.3877246944660442,
                        0.34825686488844926,
                        0.30563101096814466,
                        0.26121716272279843,
                        0.21644281777885202,
                        0.17274706042325755,
                        0.13153430825041282,
                        0.09412917302511849,
                        0.06173388657056329,
                        0.03538966004832708,
                        0.015943218574936337,
                        0.004019586779931182,
                        2e-06});
    check_close(t.mom, {0.95,
                        0.9442728012826604,
                        0.9284032373365577,
                        0.9060268340127661,
                        0.8822697556478731,
                        0.8625744625914449,
                        0.8514529091286974,
                        0.850201285300238,
                        0.8518018569652073,
                        0.854951556604879,
                        0.8595491502812526,
                        0.8654468675506567,
                        0.8724551509273948,
                        0.8803487484173038,
                        0.8888739533021842,
                        0.8977567584824742,
                        0.9067116632908827,
                        0.9154508497187474,
                        0.9236934331236499,
                        0.9311744900929366,
                        0.9376535733001805,
                        0.9429224396800933,
                        0.9468117435319868,
                        0.9491964794299315,
                        0.95});
    CHECK(s.base_lrs() == std::vector<double>{0.02});
    CHECK(opt.initial_lr(0) == 0.02);
    // PyTorch allows last_epoch = total_steps (extrapolating the last phase) and refuses the
    // step after: nothing changes then.
    s.step();
    const double lr25 = opt.lr();
    CHECK_ERROR(s.step(), xg::ValueError, "OneCycleLR:", "tried to step 27 times; total_steps is 25");
    CHECK(s.last_epoch() == 25);
    CHECK(opt.lr() == lr25);
  }
  SUBCASE(
      "OneCycleLR(max_lr=0.02, total_steps=30, anneal_strategy='linear', three_phase=True, pct_start=0.25, "
      "div_factor=10, final_div_factor=100) over Adam: beta1 cycles") {
    optim::Adam opt({param()}, {.lr = 1.0, .betas = {0.9, 0.99}});
    optim::OneCycleLR s(opt, {.max_lr = 0.02,
                              .total_steps = 30,
                              .pct_start = 0.25,
                              .anneal_strategy = optim::AnnealStrategy::linear,
                              .div_factor = 10.0,
                              .final_div_factor = 100.0,
                              .three_phase = true});
    const auto t = trace(
        opt, [&] { s.step(); }, 29, 0, "betas");
    check_close(t.lrs, {0.002,
                        0.00476923076923077,
                        0.00753846153846154,
                        0.01030769230769231,
                        0.01307692307692308,
                        0.01584615384615385,
                        0.018615384615384617,
                        0.018615384615384617,
                        0.015846153846153847,
                        0.013076923076923076,
                        0.010307692307692308,
                        0.007538461538461537,
                        0.004769230769230769,
                        0.0019999999999999983,
                        0.00187625,
                        0.0017525000000000002,
                        0.00162875,
                        0.001505,
                        0.00138125,
                        0.0012575,
                        0.00113375,
                        0.00101,
                        0.0008862500000000001,
                        0.0007625000000000002,
                        0.00063875,
                        0.000515,
                        0.0003912500000000001,
                        0.00026749999999999994,
                        0.00014375,
                        2.0000000000000052e-05});
    check_close(t.mom, {0.95,
                        0.9346153846153846,
                        0.9192307692307692,
                        0.9038461538461539,
                        0.8884615384615384,
                        0.8730769230769231,
                        0.8576923076923076,
                        0.8576923076923076,
                        0.8730769230769231,
                        0.8884615384615384,
                        0.9038461538461539,
                        0.9192307692307692,
                        0.9346153846153846,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95,
                        0.95});
    CHECK(opt.options().betas[1] == 0.99);
  }
  SUBCASE("OneCycleLR(max_lr=1.0, epochs=4, steps_per_epoch=6, cycle_momentum=False, pct_start=0.4)") {
    optim::SGD opt({param()}, {.lr = 1.0});
    optim::OneCycleLR s(
        opt, {.max_lr = 1.0, .epochs = 4, .steps_per_epoch = 6, .pct_start = 0.4, .cycle_momentum = false});
    check_close(trace(
                    opt, [&] { s.step(); }, 23)
                    .lrs,
                {0.040000000000000036, 0.07167226780837699, 0.16250935228298458,  0.30052368481377356,
                 0.46750181997862006,  0.6414080235480066,  0.7992922794678172,   0.9203189525871414,
                 0.9885164212268449,   0.9980973566564766,  0.976858567940212,    0.9330129698414118,
                 0.8686391938503885,   0.7867890710226505,  0.6913429508156803,   0.58682574153711,
                 0.47819239355610677,  0.37059299508683,    0.2691286168797096,   0.17860948073194968,
                 0.10332691656106306,  0.04684991909724921, 0.011855949032047558, 4e-06});
    CHECK(opt.options().momentum == 0.0);
  }
}

TEST_CASE("CosineAnnealingWarmRestarts, as PyTorch") {
  SUBCASE("CosineAnnealingWarmRestarts(T_0=3, T_mult=2, eta_min=0.01), lr 0.5") {
    optim::SGD opt({param()}, {.lr = 0.5});
    optim::CosineAnnealingWarmRestarts s(opt, {.T_0 = 3, .T_mult = 2, .eta_min = 0.01});
    check_close(trace(
                    opt, [&] { s.step(); }, 25)
                    .lrs,
                {0.5,
                 0.3775,
                 0.13250000000000006,
                 0.5,
                 0.4671762239271875,
                 0.3775,
                 0.255,
                 0.13250000000000006,
                 0.04282377607281252,
                 0.5,
                 0.4916518274408217,
                 0.4671762239271875,
                 0.4282411613907041,
                 0.3775,
                 0.3184106660501176,
                 0.255,
                 0.19158933394988245,
                 0.13250000000000006,
                 0.08175883860929586,
                 0.04282377607281252,
                 0.01834817255917829,
                 0.5,
                 0.49790399103658356,
                 0.4916518274408217,
                 0.48135048546526527,
                 0.4671762239271875});
    CHECK(s.T_i() == 24);
  }
  SUBCASE("CosineAnnealingWarmRestarts(T_0=4), lr 0.5") {
    optim::SGD opt({param()}, {.lr = 0.5});
    optim::CosineAnnealingWarmRestarts s(opt, {.T_0 = 4});
    check_close(trace(
                    opt, [&] { s.step(); }, 22)
                    .lrs,
                {0.5,  0.42677669529663687, 0.25, 0.07322330470336313, 0.5,  0.42677669529663687,
                 0.25, 0.07322330470336313, 0.5,  0.42677669529663687, 0.25, 0.07322330470336313,
                 0.5,  0.42677669529663687, 0.25, 0.07322330470336313, 0.5,  0.42677669529663687,
                 0.25, 0.07322330470336313, 0.5,  0.42677669529663687, 0.25});
  }
  SUBCASE(
      "fractional epochs: step(e) for e in [0.5, 1.25, 2.9, 3.0, 4.5, 8.75, 9.0, 10.2, 20.0, 21.5, 2.0]") {
    optim::SGD opt({param()}, {.lr = 0.5});
    optim::CosineAnnealingWarmRestarts s(opt, {.T_0 = 3, .T_mult = 2, .eta_min = 0.01});
    std::vector<double> got;
    for (double e : {0.5, 1.25, 2.9, 3.0, 4.5, 8.75, 9.0, 10.2, 20.0, 21.5, 2.0}) {
      s.step(e);
      got.push_back(opt.lr());
    }
    check_close(got, {0.4671762239271875, 0.3184106660501176, 0.011342135634773045, 0.5, 0.4282411613907041,
                      0.012096008963416456, 0.5, 0.48800884649231263, 0.01834817255917829,
                      0.49947543619345786, 0.13250000000000006});
    // PyTorch: last_epoch 2, T_i 3, T_cur 2.0
    CHECK(s.last_epoch() == 2);
    CHECK(s.T_i() == 3);
    CHECK(s.T_cur() == 2.0);
    CHECK_ERROR(s.step(-1.0), xg::ValueError, "CosineAnnealingWarmRestarts:", "epoch >= 0");
  }
}

namespace {

// Runs `steps` steps straight, and again in two runs: `cut` steps, the optimizer's and the
// scheduler's state through a file, then a fresh optimizer (another lr) and scheduler built by
// make that load both and go on. The lrs (and momentum option `mom`) must agree exactly.
template <class Opt, class Make>
void check_resume(const Opt& make_opt, const Make& make, std::size_t steps, std::size_t cut,
                  const char* mom = nullptr) {
  const std::string path = xg_test::temp_path("scheduler_resume.safetensors");
  auto opt_a = make_opt(1.0);
  auto a = make(*opt_a);
  const Trace want = trace(
      *opt_a, [&] { a->step(); }, steps, 0, mom);

  auto opt_b = make_opt(1.0);
  auto b = make(*opt_b);
  for (std::size_t i = 0; i < cut; ++i) b->step();
  optim::StateDict sd = opt_b->state_dict();
  sd.metadata.merge(b->state_dict());
  xg::save_tensors(path, sd.tensors, sd.metadata);

  auto opt_c = make_opt(7.0);
  auto c = make(*opt_c);
  const xg::TensorFile f = xg::load_tensors(path);
  opt_c->load_state_dict({f.tensors, f.metadata});
  c->load_state_dict(f.metadata);
  CHECK(c->last_epoch() == b->last_epoch());
  CHECK(c->get_last_lr() == b->get_last_lr());
  CHECK(c->base_lrs() == b->base_lrs());
  CHECK(opt_c->initial_lr(0) == opt_b->initial_lr(0));  // 1, not the new run's 7
  const Trace rest = trace(
      *opt_c, [&] { c->step(); }, steps - cut, 0, mom);
  for (std::size_t i = 0; i <= steps - cut; ++i) {
    CAPTURE(i);
    CHECK(rest.lrs[i] == want.lrs[cut + i]);
    if (mom) CHECK(rest.mom[i] == want.mom[cut + i]);
  }
  std::filesystem::remove(path);
}

auto sgd(double momentum = 0.0) {
  return [momentum](double lr) {
    return std::make_unique<optim::SGD>(std::vector<Tensor>{param()},
                                        optim::SGDOptions{.lr = lr, .momentum = momentum});
  };
}

}  // namespace

TEST_CASE("every scheduler resumes exactly from its saved state") {
  using P = std::shared_ptr<optim::LRScheduler>;
  SUBCASE("LambdaLR") {
    check_resume(
        sgd(),
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::LambdaLR>(
              o, [](int64_t e) { return 1.0 / static_cast<double>(e + 1); });
        },
        20, 7);
  }
  SUBCASE("MultiplicativeLR") {
    check_resume(
        sgd(),
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::MultiplicativeLR>(o, [](int64_t e) { return e % 2 ? 0.9 : 1.02; });
        },
        20, 7);
  }
  SUBCASE("ConstantLR") {
    check_resume(
        sgd(),
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::ConstantLR>(
              o, optim::ConstantLROptions{.factor = 0.5, .total_iters = 6});
        },
        20, 3);
  }
  SUBCASE("PolynomialLR") {
    check_resume(
        sgd(),
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::PolynomialLR>(
              o, optim::PolynomialLROptions{.total_iters = 15, .power = 2.0});
        },
        20, 9);
  }
  SUBCASE("CosineAnnealingLR") {
    check_resume(
        sgd(),
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::CosineAnnealingLR>(
              o, optim::CosineAnnealingLROptions{.T_max = 6, .eta_min = 0.01});
        },
        20, 7);
  }
  SUBCASE("CyclicLR with momentum") {
    check_resume(
        sgd(0.9),
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::CyclicLR>(
              o,
              optim::CyclicLROptions{
                  .base_lr = 0.01, .max_lr = 0.1, .step_size_up = 3, .mode = optim::CyclicMode::triangular2});
        },
        22, 8, "momentum");
  }
  SUBCASE("OneCycleLR over Adam's beta1") {
    check_resume(
        [](double lr) {
          return std::make_unique<optim::Adam>(std::vector<Tensor>{param()}, optim::AdamOptions{.lr = lr});
        },
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::OneCycleLR>(
              o, optim::OneCycleLROptions{.max_lr = 0.1, .total_steps = 22, .three_phase = true});
        },
        21, 10, "betas");
  }
  SUBCASE("CosineAnnealingWarmRestarts") {
    check_resume(
        sgd(),
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::CosineAnnealingWarmRestarts>(
              o, optim::CosineAnnealingWarmRestartsOptions{.T_0 = 2, .T_mult = 3});
        },
        22, 5);
  }
  SUBCASE("SequentialLR of LinearLR and CosineAnnealingLR") {
    check_resume(
        sgd(),
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::SequentialLR>(
              o,
              std::vector<P>{std::make_shared<optim::LinearLR>(
                                 o, optim::LinearLROptions{.start_factor = 0.1, .total_iters = 4}),
                             std::make_shared<optim::CosineAnnealingLR>(
                                 o, optim::CosineAnnealingLROptions{.T_max = 12})},
              std::vector<int64_t>{4});
        },
        20, 6);
  }
  SUBCASE("ChainedScheduler of ExponentialLR and StepLR") {
    check_resume(
        sgd(),
        [](optim::Optimizer& o) -> P {
          return std::make_shared<optim::ChainedScheduler>(std::vector<P>{
              std::make_shared<optim::ExponentialLR>(o, optim::ExponentialLROptions{.gamma = 0.9}),
              std::make_shared<optim::StepLR>(o, optim::StepLROptions{.step_size = 3, .gamma = 0.5})});
        },
        20, 5);
  }
}

TEST_CASE("errors of the new schedulers name the scheduler and the argument") {
  optim::SGD opt({param()}, {.lr = 1.0, .momentum = 0.9});
  CHECK_ERROR(optim::OneCycleLR(opt, {.max_lr = 0.1, .total_steps = 0}), xg::ValueError,
              "OneCycleLR:", "total_steps");
  CHECK_ERROR(optim::OneCycleLR(opt, {.max_lr = 0.1, .total_steps = -3}), xg::ValueError,
              "OneCycleLR:", "total_steps");
  CHECK_ERROR(optim::OneCycleLR(opt, {.max_lr = 0.1}), xg::ValueError, "OneCycleLR:", "total_steps");
  CHECK_ERROR(optim::OneCycleLR(opt, {.max_lr = 0.1, .epochs = 2, .steps_per_epoch = 0}), xg::ValueError,
              "OneCycleLR:", "steps_per_epoch");
  CHECK_ERROR(optim::OneCycleLR(opt, {.total_steps = 10}), xg::ValueError, "OneCycleLR:", "max_lr");
  CHECK_ERROR(optim::OneCycleLR(opt, {.max_lr = 0.1, .total_steps = 10, .pct_start = 1.5}), xg::ValueError,
              "OneCycleLR:", "pct_start");
  CHECK_ERROR(optim::OneCycleLR(opt, {.max_lr = {0.1, 0.2}, .total_steps = 10}), xg::ValueError,
              "OneCycleLR:", "max_lr");
  // pct_start * total_steps = 1: the first phase has no steps (PyTorch divides by zero).
  CHECK_ERROR(optim::OneCycleLR(opt, {.max_lr = 0.1, .total_steps = 10, .pct_start = 0.1}), xg::ValueError,
              "OneCycleLR:", "pct_start");
  {
    xg::Tensor q = param();
    optim::Adagrad ada({q}, {.lr = 1.0});
    CHECK_ERROR(optim::OneCycleLR(ada, {.max_lr = 0.1, .total_steps = 10}), xg::ValueError,
                "OneCycleLR:", "cycle_momentum");
    optim::Adam adam({param()}, {.lr = 1.0});
    CHECK_ERROR(optim::CyclicLR(adam, {.base_lr = 0.01, .max_lr = 0.1}), xg::ValueError,
                "CyclicLR:", "cycle_momentum");
  }
  CHECK_ERROR(
      optim::CyclicLR(opt, {.base_lr = 0.01, .max_lr = 0.1, .mode = static_cast<optim::CyclicMode>(7)}),
      xg::ValueError, "CyclicLR:", "mode");
  optim::CyclicMode mode{};
  CHECK_ERROR(optim::option_from_string("triangle", mode, "CyclicLR: mode"), xg::ValueError, "CyclicLR: mode",
              "triangular, triangular2 or exp_range");
  CHECK_ERROR(optim::CyclicLR(opt, {.max_lr = 0.1}), xg::ValueError, "CyclicLR:", "base_lr");
  CHECK_ERROR(optim::CyclicLR(opt, {.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 0}), xg::ValueError,
              "CyclicLR:", "step_size_up");
  CHECK_ERROR(optim::CyclicLR(opt, {.base_lr = 0.01, .max_lr = 0.1, .step_size_down = -1}), xg::ValueError,
              "CyclicLR:", "step_size_down");
  CHECK_ERROR(optim::CosineAnnealingWarmRestarts(opt, {.T_0 = 0}), xg::ValueError,
              "CosineAnnealingWarmRestarts:", "T_0");
  CHECK_ERROR(optim::CosineAnnealingWarmRestarts(opt, {.T_0 = 2, .T_mult = 0}), xg::ValueError,
              "CosineAnnealingWarmRestarts:", "T_mult");
  CHECK_ERROR(optim::PolynomialLR(opt, {.total_iters = 0}), xg::ValueError, "PolynomialLR:", "total_iters");
  CHECK_ERROR(optim::ConstantLR(opt, {.factor = 1.5}), xg::ValueError, "ConstantLR:", "factor");
  CHECK_ERROR(optim::ConstantLR(opt, {.total_iters = 0}), xg::ValueError, "ConstantLR:", "total_iters");
  CHECK_ERROR(optim::LambdaLR(opt, std::vector<optim::LRLambda>{}), xg::ValueError,
              "LambdaLR:", "lr_lambdas");
  CHECK_ERROR(optim::LambdaLR(opt, optim::LRLambda{}), xg::ValueError, "LambdaLR:", "lr_lambda");
  CHECK_ERROR(optim::MultiplicativeLR(opt, std::vector<optim::LRLambda>(3, [](int64_t) { return 1.0; })),
              xg::ValueError, "MultiplicativeLR:", "lr_lambdas");

  using P = std::shared_ptr<optim::LRScheduler>;
  optim::SGD other({param()}, {.lr = 1.0});
  auto s1 = std::make_shared<optim::StepLR>(opt, optim::StepLROptions{.step_size = 2});
  auto s2 = std::make_shared<optim::StepLR>(other, optim::StepLROptions{.step_size = 2});
  CHECK_ERROR(optim::SequentialLR(opt, std::vector<P>{s1, s1}, {}), xg::ValueError,
              "SequentialLR:", "milestones");
  CHECK_ERROR(optim::SequentialLR(opt, std::vector<P>{s1, s2}, {3}), xg::ValueError,
              "SequentialLR:", "different optimizer");
  CHECK_ERROR(optim::SequentialLR(opt, std::vector<P>{}, {}), xg::ValueError,
              "SequentialLR:", "no schedulers");
  CHECK_ERROR(optim::ChainedScheduler(std::vector<P>{s1, s2}), xg::ValueError,
              "ChainedScheduler:", "different optimizer");
  CHECK_ERROR(optim::ChainedScheduler(std::vector<P>{}), xg::ValueError,
              "ChainedScheduler:", "no schedulers");

  // A state saved with a custom scale_fn needs one to load into.
  optim::CyclicLR with(opt, {.base_lr = 0.01, .max_lr = 0.1, .scale_fn = [](double) { return 1.0; }});
  optim::SGD opt3({param()}, {.lr = 1.0, .momentum = 0.9});
  optim::CyclicLR without(opt3, {.base_lr = 0.01, .max_lr = 0.1});
  CHECK_ERROR(without.load_state_dict(with.state_dict()), xg::ValueError, "CyclicLR.load_state_dict",
              "scale_fn");
}

// ---------------------------------------------------------------- poisoned state
namespace {
// A scheduler's whole state and its optimizer's lrs and initial lrs, as text (exact doubles).
std::vector<std::string> sched_snapshot(const optim::LRScheduler& s, const optim::Optimizer& opt) {
  std::vector<std::string> out;
  for (const auto& [k, v] : s.state_dict()) out.push_back(k + "=" + v);
  for (std::size_t g = 0; g < opt.num_param_groups(); ++g)
    out.push_back(optim::option_to_string(opt.lr(g)) + "/" +
                  (opt.initial_lr(g) ? optim::option_to_string(*opt.initial_lr(g)) : "none"));
  return out;
}
optim::SchedulerState with(optim::SchedulerState s, const std::string& k, const std::string& v) {
  s[k] = v;
  return s;
}
}  // namespace

TEST_CASE("scheduler loads refuse poisoned state and change nothing") {
  SUBCASE("CosineAnnealingWarmRestarts") {
    optim::SGD opt_a({param()}, {.lr = 0.5});
    optim::CosineAnnealingWarmRestarts a(opt_a, {.T_0 = 3, .T_mult = 2, .eta_min = 0.01});
    for (int e = 0; e < 4; ++e) a.step();
    const optim::SchedulerState st = a.state_dict();
    const std::vector<std::pair<optim::SchedulerState, std::string>> cases = {
        {with(st, "scheduler.last_epoch", "-2"), "scheduler.last_epoch = -2 (must be >= -1)"},
        {with(st, "scheduler.step_count", "-1"), "scheduler.step_count = -1"},
        {with(st, "scheduler.base_lrs", "nan"), "scheduler.base_lrs = nan"},
        {with(st, "scheduler.base_lrs", "-0.5"), "scheduler.base_lrs = -0.5"},
        {with(st, "scheduler.last_lr", "inf"), "scheduler.last_lr = inf"},
        {with(st, "scheduler.initial_lrs", "-1"), "scheduler.initial_lrs = -1"},
        {with(st, "scheduler.eta_min", "inf"), "scheduler.eta_min = inf (must be finite)"},
        {with(st, "scheduler.eta_min", "-1"), "invalid eta_min = -1"},
        {with(st, "scheduler.T_cur", "-1"), "scheduler.T_cur = -1 (must be in [0, T_i])"},
        {with(st, "scheduler.T_cur", "nan"), "scheduler.T_cur = nan"},
    };
    for (const auto& c : cases) {
      // Not a structured binding: clang 14 (the sanitizer builds) cannot capture one.
      const auto& state = c.first;
      const auto& reason = c.second;
      CAPTURE(reason);
      optim::SGD opt_b({param()}, {.lr = 0.5});
      optim::CosineAnnealingWarmRestarts b(opt_b, {.T_0 = 5});
      b.step();
      const auto before = sched_snapshot(b, opt_b);
      CHECK_ERROR(b.load_state_dict(state), xg::ValueError, "CosineAnnealingWarmRestarts.load_state_dict",
                  reason);
      CHECK(sched_snapshot(b, opt_b) == before);
    }
  }
  SUBCASE("ReduceLROnPlateau") {
    optim::SGD opt_a({param()}, {.lr = 1.0});
    optim::ReduceLROnPlateau a(opt_a, {.patience = 1});
    for (double m : {3.0, 2.0, 2.0}) a.step(m);
    const optim::SchedulerState st = a.state_dict();
    const std::vector<std::pair<optim::SchedulerState, std::string>> cases = {
        {with(st, "scheduler.best", "nan"), "scheduler.best = nan"},
        {with(st, "scheduler.num_bad_epochs", "-1"), "scheduler.num_bad_epochs = -1"},
        {with(st, "scheduler.cooldown_counter", "-5"), "scheduler.cooldown_counter = -5"},
        {with(st, "scheduler.last_epoch", "-1"), "scheduler.last_epoch = -1"},
        {with(st, "scheduler.last_lr", "1,1"), "the state is for 2 parameter groups"},
        {with(st, "scheduler.factor", "1.5"), "invalid factor = 1.5"},
        {with(st, "scheduler.min_lr", "inf"), "scheduler.min_lr = inf"},
    };
    for (const auto& c : cases) {
      // Not a structured binding: clang 14 (the sanitizer builds) cannot capture one.
      const auto& state = c.first;
      const auto& reason = c.second;
      CAPTURE(reason);
      optim::SGD opt_b({param()}, {.lr = 1.0});
      optim::ReduceLROnPlateau b(opt_b);
      b.step(1.0);
      const auto before = b.state_dict();
      CHECK_ERROR(b.load_state_dict(state), xg::ValueError, "ReduceLROnPlateau.load_state_dict", reason);
      CHECK(b.state_dict() == before);
    }
  }
  SUBCASE("SequentialLR: a failing second scheduler leaves the first as it was") {
    // Before: the first child's state was loaded, then the second's failed.
    auto make = [](optim::SGD& opt) {
      auto warm = std::make_shared<optim::LinearLR>(
          opt, optim::LinearLROptions{.start_factor = 0.1, .total_iters = 5});
      auto cosine =
          std::make_shared<optim::CosineAnnealingLR>(opt, optim::CosineAnnealingLROptions{.T_max = 20});
      return std::make_unique<optim::SequentialLR>(
          opt, std::vector<std::shared_ptr<optim::LRScheduler>>{warm, cosine}, std::vector<int64_t>{5});
    };
    optim::SGD opt_a({param()}, {.lr = 0.8});
    auto a = make(opt_a);
    for (int e = 0; e < 7; ++e) a->step();
    const optim::SchedulerState st = with(a->state_dict(), "scheduler.schedulers.1.T_max", "0");
    optim::SGD opt_b({param()}, {.lr = 0.3});
    auto b = make(opt_b);
    b->step();
    const auto before = sched_snapshot(*b, opt_b);
    CHECK_ERROR(b->load_state_dict(st), xg::ValueError, "CosineAnnealingLR.load_state_dict", "T_max");
    CHECK(sched_snapshot(*b, opt_b) == before);
    // and the same state without the poison loads
    CHECK_NOTHROW(b->load_state_dict(a->state_dict()));
    CHECK(b->last_epoch() == 7);
  }
}
