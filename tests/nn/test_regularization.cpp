// nn/regularization.cpp: L1/L2 penalties over the weights (biases and normalisation layers
// excluded unless asked) with their values and gradients, and early stopping in both modes, with
// min_delta, NaN, and the best state kept and restored.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn.hpp"

namespace {
using xg::Dtype;
namespace nn = xg::nn;

// Linear(2, 2) -> BatchNorm1d(2) -> Linear(2, 1), float64, with weights set to known values.
std::shared_ptr<nn::Sequential> small_net() {
  auto net = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{std::make_shared<nn::Linear>(2, 2),
                                                                         std::make_shared<nn::BatchNorm1d>(2),
                                                                         std::make_shared<nn::Linear>(2, 1)});
  net->to(Dtype::float64);
  const xg::TensorOptions f64{.dtype = Dtype::float64};
  xg::NamedTensors state = net->state_dict();
  for (auto& [name, t] : state) {
    if (name == "0.weight") t = xg::tensor({1, -2, 3, -4}, {2, 2}, f64);
    if (name == "0.bias") t = xg::tensor({10, 20}, f64);
    if (name == "1.weight") t = xg::tensor({0.5, -1.5}, f64);
    if (name == "1.bias") t = xg::tensor({7, 8}, f64);
    if (name == "2.weight") t = xg::tensor({-0.5, 0.25}, {1, 2}, f64);
    if (name == "2.bias") t = xg::tensor({-3}, f64);
  }
  net->load_state_dict(state);
  return net;
}
}  // namespace

TEST_CASE("l1_penalty, l2_penalty: the weights only by default, values and gradients") {
  auto net = small_net();
  CHECK(nn::penalized_parameters(*net) == std::vector<std::string>{"0.weight", "2.weight"});
  CHECK(nn::penalized_parameters(*net, {.include_bias = true}) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(nn::penalized_parameters(*net, {.include_norm = true}) ==
        std::vector<std::string>{"0.weight", "1.weight", "2.weight"});
  CHECK(nn::penalized_parameters(*net, {.include_bias = true, .include_norm = true}).size() == 6);

  // |1| + |-2| + |3| + |-4| + |-0.5| + |0.25| = 10.75; squares: 1 + 4 + 9 + 16 + 0.25 + 0.0625 = 30.3125.
  CHECK(nn::l1_penalty(*net).item() == 10.75);
  CHECK(nn::l2_penalty(*net).item() == 30.3125);
  CHECK(nn::l1_penalty(*net, {.include_bias = true}).item() == 10.75 + 30 + 3);
  CHECK(nn::l2_penalty(*net, {.include_norm = true}).item() == 30.3125 + 0.25 + 2.25);
  CHECK(nn::l2_penalty(*net).dtype() == Dtype::float64);

  // d/dw sum w^2 = 2w; d/dw sum |w| = sign(w); the biases get no gradient.
  auto* fc1 = dynamic_cast<nn::Linear*>((*net)[0].get());
  nn::l2_penalty(*net).backward();
  CHECK(fc1->weight.grad().to_vector<double>() == std::vector<double>{2, -4, 6, -8});
  CHECK_FALSE(fc1->bias.grad().defined());
  net->zero_grad();
  nn::l1_penalty(*net).backward();
  CHECK(fc1->weight.grad().to_vector<double>() == std::vector<double>{1, -1, 1, -1});
  auto* fc2 = dynamic_cast<nn::Linear*>((*net)[2].get());
  for (bool l1 : {false, true}) {  // weights away from 0, where |w| is smooth
    auto f = [&](const std::vector<xg::Tensor>&) { return l1 ? nn::l1_penalty(*net) : nn::l2_penalty(*net); };
    const auto r = xg::gradcheck(f, {fc1->weight, fc2->weight});
    CHECK_MESSAGE(r.passed, r.str());
  }

  // No parameter chosen: a zero that backward accepts.
  nn::Sequential acts(std::vector<nn::ModulePtr>{std::make_shared<nn::ReLU>()});
  CHECK(nn::l2_penalty(acts).item() == 0);
}

TEST_CASE("EarlyStopping: patience, min_delta, modes, NaN") {
  nn::EarlyStopping s({.patience = 2});
  CHECK_FALSE(s.step(1.0));
  CHECK(s.improved());
  CHECK_FALSE(s.step(0.9));
  CHECK_FALSE(s.step(0.95));  // 1 without improvement
  CHECK(s.bad_steps() == 1);
  CHECK_FALSE(s.step(0.8));                                 // a new best resets the count
  CHECK_FALSE(s.step(0.8));                                 // equal is no improvement
  CHECK(s.step(std::numeric_limits<double>::quiet_NaN()));  // nor is NaN: 2 in a row, stop
  CHECK(s.should_stop());
  CHECK(s.best() == 0.8);
  CHECK(s.best_step() == 4);
  CHECK(s.steps() == 6);

  nn::EarlyStopping d({.patience = 1, .min_delta = 0.05});
  CHECK_FALSE(d.step(1.0));
  CHECK_FALSE(d.step(0.9));  // 0.9 < 1.0 - 0.05
  CHECK(d.step(0.86));       // not below 0.85: stop
  CHECK(d.best() == 0.9);

  nn::EarlyStopping acc({.patience = 0, .mode = "max"});
  CHECK_FALSE(acc.step(0.5));
  CHECK_FALSE(acc.step(0.6));
  CHECK(acc.step(0.6));  // patience 0: the first step without improvement stops
  CHECK(acc.best() == 0.6);

  CHECK_ERROR(nn::EarlyStopping({.mode = "minimum"}), xg::ValueError, "EarlyStopping", "\"minimum\"");
  CHECK_ERROR(nn::EarlyStopping({.patience = -1}), xg::ValueError, "patience", "-1");
  CHECK_ERROR(nn::EarlyStopping({.min_delta = -0.1}), xg::ValueError, "min_delta");
}

TEST_CASE("EarlyStopping: keeps and restores the best state") {
  auto net = small_net();
  auto* fc1 = dynamic_cast<nn::Linear*>((*net)[0].get());
  nn::EarlyStopping s({.patience = 1});
  CHECK_FALSE(s.restore_best(*net));  // nothing kept yet
  CHECK_FALSE(s.step(2.0, net.get()));
  {
    xg::NoGradGuard no_grad;
    fc1->weight.copy_(xg::full({2, 2}, 9.0, {.dtype = Dtype::float64}));
  }
  CHECK_FALSE(s.step(1.0, net.get()));  // the best: weights all 9
  {
    xg::NoGradGuard no_grad;
    fc1->weight.copy_(xg::full({2, 2}, -1.0, {.dtype = Dtype::float64}));
  }
  CHECK(s.step(1.5, net.get()));  // worse: the kept state stays the one of step 2
  CHECK(s.best_state().size() == net->state_dict().size());
  CHECK(s.restore_best(*net));
  CHECK(fc1->weight.to_vector<double>() == std::vector<double>{9, 9, 9, 9});
  CHECK(dynamic_cast<nn::Linear*>((*net)[2].get())->bias.item() == -3);
}
