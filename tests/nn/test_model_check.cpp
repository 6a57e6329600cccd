// nn/model_check.cpp: the model-scale check names parameters and input elements, finds a wrong
// hand-written layer backward and a gradient scaled by 1.001 inside the trainer's CNN (fast mode,
// float64), names the op on the tape, restores the module's mode, and refuses float32 models
// unless asked for float32 tolerances.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "../../examples/trainer/fashion_models.hpp"
#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn.hpp"

using xg::Dtype;
using xg::Tensor;
namespace nn = xg::nn;
namespace F = xg::nn::functional;
using xg_test::contains;

namespace {

// y = x W^T + b with a hand-written backward; `mean_bias` is the classic slip of averaging the
// bias gradient over the batch instead of summing it.
xg::CustomOp hand_linear(bool mean_bias) {
  return xg::CustomOp{
      "hand_linear", "dx = g W, dW = g^T x, db = sum_rows g",
      [](const std::vector<Tensor>& in) { return F::linear(in[0], in[1], in[2]); },
      [mean_bias](const xg::CustomOpContext& ctx, const Tensor& g) {
        Tensor x = ctx.input(0), W = ctx.input(1);
        Tensor db = xg::sum(g, {0});
        if (mean_bias) db = db / static_cast<double>(g.size(0));
        return std::vector<Tensor>{xg::matmul(g, W), xg::matmul(xg::transpose(g, 0, 1), x), db};
      }};
}

struct HandLinear : nn::Module {
  Tensor weight, bias;
  xg::CustomOp op;
  HandLinear(int64_t in, int64_t out, bool mean_bias) : Module("HandLinear"), op(hand_linear(mean_bias)) {
    weight = register_parameter("weight", xg::randn({out, in}, {.dtype = Dtype::float64}) * 0.5);
    bias = register_parameter("bias", xg::randn({out}, {.dtype = Dtype::float64}) * 0.1);
  }
  Tensor forward(const Tensor& x) override { return op({x, weight, bias}); }
};

struct Tiny : nn::Module {
  std::shared_ptr<HandLinear> fc1;
  std::shared_ptr<nn::Linear> fc2;
  explicit Tiny(bool mean_bias) : Module("Tiny") {
    fc1 = register_module("fc1", std::make_shared<HandLinear>(3, 4, mean_bias));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(4, 2));
    to(Dtype::float64);
  }
  Tensor forward(const Tensor& x) override { return fc2->forward(xg::tanh(fc1->forward(x))); }
};

Tensor mse(const Tensor& y) {
  return xg::mean(y * y);
}

// The trainer's CNN with fc1's weight passed through an identity whose backward scales the
// gradient by 1.001: a mistake a fast check must find and name.
xg::CustomOp scaled_grad(double factor) {
  return xg::CustomOp{
      "scaled_grad", "d/dx x = 1", [](const std::vector<Tensor>& in) { return in[0] * 1.0; },
      [factor](const xg::CustomOpContext&, const Tensor& g) { return std::vector<Tensor>{g * factor}; }};
}
struct ScaledCnn : fashion::Cnn {
  xg::CustomOp scale = scaled_grad(1.001);
  Tensor forward(const Tensor& x) override {
    Tensor h = F::max_pool2d(xg::relu(bn1->forward(conv1->forward(x))), 2);
    h = F::max_pool2d(xg::relu(bn2->forward(conv2->forward(h))), 2);
    h = xg::flatten(h, 1);
    h = drop->forward(xg::relu(F::linear(drop->forward(h), scale({fc1->weight}), fc1->bias)));
    return fc2->forward(h);
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("model check: a right model passes; a wrong hand-written bias gradient is named") {
  xg::manual_seed(3);
  Tensor x = xg::randn({4, 3}, {.dtype = Dtype::float64});
  Tiny good(false);
  xg::GradcheckReport ok = nn::gradcheck(good, x, mse);
  CHECK_MESSAGE(ok.passed, ok.str());
  REQUIRE(ok.projections.size() == 4);  // fc1.weight, fc1.bias, fc2.weight, fc2.bias
  CHECK(ok.projections[0].input_name == "fc1.weight");
  CHECK(ok.projections[3].input_name == "fc2.bias");
  CHECK(ok.max_rel_error < 1e-6);

  Tiny bad(true);
  xg::GradcheckReport r = nn::gradcheck(bad, x, mse);
  CHECK_FALSE(r.passed);
  REQUIRE(r.projections.size() == 4);
  CHECK(r.projections[0].passed);
  CHECK_FALSE(r.projections[1].passed);  // fc1.bias only
  CHECK(r.projections[2].passed);
  CHECK(r.projections[3].passed);
  // the bias gradient is a quarter (the batch is 4) of the truth, on every element
  CHECK(r.projections[1].analytic == doctest::Approx(0.25 * r.projections[1].numerical).epsilon(1e-6));
  CHECK(r.mismatch_count == 4);
  CHECK(r.entries_checked == 4);
  REQUIRE(r.mismatches.size() == 4);
  for (const auto& m : r.mismatches) {
    CHECK(m.input_name == "fc1.bias");
    CHECK(m.output == 0);
    CHECK(m.rel_error == doctest::Approx(0.75).epsilon(1e-6));
  }
  CHECK(r.mismatches[0].where().rfind("fc1.bias[", 0) == 0);
  const std::string s = r.str();
  CAPTURE(s);
  CHECK(contains(s, "fc1.bias: along a random direction v"));
  // the op on the tape: step 1, the hand-written layer, on the input and fc1's parameters
  REQUIRE(r.localised);
  CHECK(r.culprit.step == 1);
  CHECK(r.culprit.op == "hand_linear");
  CHECK(r.culprit.inputs == std::vector<std::string>{"input", "fc1.weight", "fc1.bias"});
  CHECK(contains(s, "step 1 'hand_linear'(input, fc1.weight, fc1.bias) -> t1"));
  CHECK(bad.fc1->weight.name().empty());
}

TEST_CASE("model check: input elements are named, the module's mode is restored") {
  xg::manual_seed(4);
  Tensor x = xg::randn({4, 3}, {.dtype = Dtype::float64, .requires_grad = true});
  x.name("x");
  Tiny bad(true);
  bad.train();
  xg::GradcheckReport r = nn::gradcheck(bad, x, mse);
  CHECK(bad.is_training());
  CHECK_FALSE(r.passed);
  REQUIRE(r.projections.size() == 5);
  CHECK(r.projections[4].input_name == "x");
  CHECK(r.projections[4].passed);  // dx = g W is right
  // dense mode over everything gives the same verdict, element by element
  nn::ModelCheckOptions dense;
  dense.fast = false;
  xg::GradcheckReport rd = nn::gradcheck(bad, x, mse, dense);
  CHECK(rd.entries_checked == 12 + 4 + 8 + 2 + 12);
  CHECK(rd.mismatch_count == 4);
  for (const auto& m : rd.mismatches) CHECK(m.input_name == "fc1.bias");
  // a wrong input gradient is reported by the input's name
  Tensor x2 = xg::randn({4, 3}, {.dtype = Dtype::float64, .requires_grad = true});
  x2.name("pixels");
  Tiny good(false);
  auto wrong_dx = [](nn::Module& m, const std::vector<Tensor>& in) {
    return mse(m(scaled_grad(2.0)({in[0]})));
  };
  xg::GradcheckReport rx = nn::gradcheck(good, {x2}, wrong_dx);
  CHECK_FALSE(rx.passed);
  REQUIRE(!rx.mismatches.empty());
  CHECK(rx.mismatches[0].where().rfind("pixels[", 0) == 0);
  CHECK(rx.culprit.op == "scaled_grad");
}

TEST_CASE("model check: a float32 model needs float32 mode") {
  xg::manual_seed(5);
  nn::Linear fc(3, 2);
  Tensor x = xg::randn({4, 3});
  CHECK_ERROR(nn::gradcheck(fc, x, mse), xg::TypeError, "parameter weight of Linear is float32",
              "module.to(xg::Dtype::float64)");
  nn::ModelCheckOptions f32;
  f32.float32 = true;
  xg::GradcheckReport r = nn::gradcheck(fc, x, mse, f32);
  CHECK_MESSAGE(r.passed, r.str());
  CHECK(r.projections.size() == 2);
}

TEST_CASE("the trainer's CNN in float64: fast check passes, and names fc1.weight scaled by 1.001") {
  xg::manual_seed(7);
  Tensor images = xg::rand({2, 1, 28, 28}, {.dtype = Dtype::float64});
  Tensor labels = xg::tensor({3, 8}, {.dtype = Dtype::int64});
  auto loss = [&](const Tensor& logits) { return F::cross_entropy(logits, labels); };

  fashion::Cnn cnn;
  cnn.to(Dtype::float64);
  auto t0 = std::chrono::steady_clock::now();
  xg::GradcheckReport ok = nn::gradcheck(cnn, images, loss);
  const double t_ok = seconds_since(t0);
  CHECK_MESSAGE(ok.passed, ok.str());
  CHECK(ok.projections.size() == 12);
  CHECK(t_ok < 30);

  ScaledCnn bad;
  bad.to(Dtype::float64);
  t0 = std::chrono::steady_clock::now();
  xg::GradcheckReport r = nn::gradcheck(bad, images, loss);
  const double t_bad = seconds_since(t0);
  MESSAGE("CNN fast check in float64: " << t_ok << " s passing, " << t_bad << " s with the 1.001 mistake");
  CHECK(t_bad < 30);
  CHECK_FALSE(r.passed);
  REQUIRE(r.projections.size() == 12);
  for (const auto& p : r.projections) CHECK_MESSAGE(p.passed == (p.input_name != "fc1.weight"), p.input_name);
  REQUIRE(!r.mismatches.empty());
  for (const auto& m : r.mismatches) {
    CHECK(m.input_name == "fc1.weight");
    CHECK(m.analytic == doctest::Approx(1.001 * m.numerical).epsilon(1e-6));
  }
  REQUIRE(r.localised);
  CHECK(r.culprit.op == "scaled_grad");
  CHECK(r.culprit.inputs == std::vector<std::string>{"fc1.weight"});
  CHECK(r.culprit.rel_error == doctest::Approx(1e-3).epsilon(1e-3));
  CAPTURE(r.str());
  CHECK(contains(r.str(), "fc1.weight: along a random direction v"));
}
