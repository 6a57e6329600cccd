// nn/gradient_flow.cpp: the per-layer statistics and gradient norms of a 2-layer tanh network with
// fixed weights (numbers from PyTorch 1.13.1, and the norms recomputed from the gradients),
// zeros and saturation, evaluations not recorded, the hooks removed, the CSV and the plot.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn.hpp"

namespace {
using xg::Dtype;
namespace nn = xg::nn;

double norm_of(const xg::Tensor& t) {
  double s = 0;
  for (double v : t.to_vector<double>()) s += v * v;
  return std::sqrt(s);
}

// Linear(2, 3) -> Tanh -> Linear(3, 1) in float64 with these weights, and one MSE step on x.
struct TwoLayer {
  std::shared_ptr<nn::Sequential> net = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(2, 3), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(3, 1)});
  xg::Tensor x = xg::tensor({1, 2, -1, 0.5}, {2, 2}, {.dtype = Dtype::float64});
  xg::Tensor t = xg::tensor({0.3, -0.2}, {2, 1}, {.dtype = Dtype::float64});
  TwoLayer() {
    net->to(Dtype::float64);
    const xg::TensorOptions f64{.dtype = Dtype::float64};
    net->load_state_dict({{"0.weight", xg::tensor({0.5, -0.2, 0.1, 0.3, -0.4, 0.6}, {3, 2}, f64)},
                          {"0.bias", xg::tensor({0.1, -0.1, 0.0}, f64)},
                          {"2.weight", xg::tensor({0.7, -0.5, 0.2}, {1, 3}, f64)},
                          {"2.bias", xg::tensor({0.05}, f64)}});
  }
  double train_step() {
    net->zero_grad();
    xg::Tensor loss = nn::functional::mse_loss((*net)(x), t);
    loss.backward();
    return loss.item();
  }
};
}  // namespace

TEST_CASE("GradientFlow: a 2-layer tanh net's statistics and norms") {
  TwoLayer m;
  nn::GradientFlow flow(*m.net);
  CHECK(flow.layers() == std::vector<std::string>{"0", "1", "2"});
  CHECK(m.train_step() == doctest::Approx(0.033260427540).epsilon(1e-10));
  flow.step();
  REQUIRE(flow.records().size() == 3);
  const nn::LayerFlow& z = flow.records()[0];  // Linear(2, 3): pre-activations
  const nn::LayerFlow& h = flow.records()[1];  // Tanh
  const nn::LayerFlow& y = flow.records()[2];  // Linear(3, 1): the output
  CHECK(z.layer == "0");
  CHECK(z.type == "Linear");
  CHECK(h.type == "Tanh");
  CHECK(z.step == 0);
  // PyTorch: z.mean(), z.std(), z.grad.norm(), ...
  CHECK(z.mean == doctest::Approx(0.291666666667).epsilon(1e-10));
  CHECK(z.std == doctest::Approx(0.504397330154).epsilon(1e-10));
  CHECK(h.mean == doctest::Approx(0.248458983732).epsilon(1e-10));
  CHECK(h.std == doctest::Approx(0.442547489748).epsilon(1e-10));
  CHECK(y.mean == doctest::Approx(-0.0375919862338).epsilon(1e-10));
  CHECK(y.std == doctest::Approx(0.127331943833).epsilon(1e-10));
  CHECK(z.zero_fraction == 0);
  CHECK(h.saturated_fraction == 0);
  CHECK(std::isnan(z.saturated_fraction));  // a Linear does not saturate
  CHECK(z.grad_output_norm == doctest::Approx(0.198073343937).epsilon(1e-10));
  CHECK(h.grad_output_norm == doctest::Approx(0.22778557233).epsilon(1e-10));
  CHECK(y.grad_output_norm == doctest::Approx(0.257916372259).epsilon(1e-10));
  // The output's gradient by hand: d mean((y - t)^2) / dy = (y - t) / 1 for 2 examples, y from PyTorch.
  CHECK(y.grad_output_norm ==
        doctest::Approx(std::hypot(0.052445294712 - 0.3, -0.127629267180 + 0.2)).epsilon(1e-10));
  // Parameter norms: PyTorch's, and the norm of the gradients the engine left on the parameters.
  CHECK(z.param_grad_norm == doctest::Approx(0.45178169471988144).epsilon(1e-10));
  CHECK(y.param_grad_norm == doctest::Approx(0.26583662187334567).epsilon(1e-10));
  auto* fc1 = dynamic_cast<nn::Linear*>((*m.net)[0].get());
  CHECK(z.param_grad_norm ==
        doctest::Approx(std::hypot(norm_of(fc1->weight.grad()), norm_of(fc1->bias.grad()))));
  CHECK(h.param_grad_norm == 0);  // Tanh has no parameter
}

TEST_CASE("GradientFlow: steps, types, evaluations, zeros and saturation") {
  TwoLayer m;
  nn::GradientFlow flow(*m.net, {.types = {"Linear"}});
  CHECK(flow.layers() == std::vector<std::string>{"0", "2"});
  m.train_step();
  flow.step();
  {
    xg::NoGradGuard no_grad;  // an evaluation between steps is not recorded
    (*m.net)(xg::tensor({100, 100}, {1, 2}, {.dtype = Dtype::float64}));
  }
  flow.step();  // a step without forward or backward: NaN statistics, zero norms
  REQUIRE(flow.layer("0").size() == 2);
  CHECK(std::isnan(flow.layer("0")[1].mean));
  CHECK(flow.layer("0")[1].grad_output_norm == 0);
  CHECK(flow.layer("0")[1].step == 1);
  CHECK_ERROR(flow.layer("1"), xg::IndexError, "no layer named '1'");
  CHECK_ERROR(nn::GradientFlow(*m.net, {.types = {"Conv2d"}}), xg::ValueError, "GradientFlow", "Sequential");

  nn::Sequential acts(
      std::vector<nn::ModulePtr>{std::make_shared<nn::ReLU>(), std::make_shared<nn::Sigmoid>()});
  nn::GradientFlow f2(acts);
  xg::Tensor in = xg::tensor({-1, 0, 2, 10}, {4}).requires_grad_();
  xg::sum(acts(in)).backward();
  f2.step();
  CHECK(f2.records()[0].zero_fraction == 0.5);  // relu(-1), relu(0)
  // sigmoid(0) = 0.5 twice, sigmoid(2) = 0.88, sigmoid(10) = 0.99995: one saturated of four.
  CHECK(f2.records()[1].saturated_fraction == 0.25);
  CHECK(std::isnan(f2.records()[0].saturated_fraction));
}

TEST_CASE("GradientFlow: hooks removed, CSV and plot") {
  TwoLayer m;
  {
    nn::GradientFlow flow(*m.net);
    CHECK((*m.net)[0]->has_hooks());
    m.train_step();
    flow.step();
    const std::string csv = xg_test::temp_path("flow.csv");
    flow.write_csv(csv);
    const std::string text = xg_test::read_file(csv);
    CHECK(text.rfind(
              "step,layer,type,mean,std,zero_fraction,saturated_fraction,grad_output_norm,param_grad_norm\n"
              "0,0,Linear,0.2916666667,0.5043973302,0,nan,0.1980733439,0.4517816947\n",
              0) == 0);
    std::filesystem::remove(csv);
    CHECK_ERROR(flow.plot("x.pdf"), xg::ValueError, "x.pdf", ".svg or .png");
    CHECK_ERROR(flow.plot("x.svg", "speed"), xg::ValueError, "unknown column 'speed'");
    if (nn::gnuplot_available()) {
      const std::string svg = xg_test::temp_path("flow.svg");
      CHECK(flow.plot(svg, "grad_output_norm"));
      CHECK(xg_test::read_file(svg).find("<svg") != std::string::npos);
      std::filesystem::remove(svg);
      std::filesystem::remove(svg + ".csv");
    }
  }
  CHECK_FALSE((*m.net)[0]->has_hooks());
  CHECK_FALSE((*m.net)[1]->has_hooks());
}
