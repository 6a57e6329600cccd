// BatchNorm1d/2d/3d and LayerNorm: values against naive per-channel loops, PyTorch's running
// statistics (unbiased running_var, momentum, cumulative average), train vs eval, names and
// shapes, state_dict round trips, errors, and float64 gradchecks w.r.t. input and parameters.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/normalization.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;
using xg::nn::BatchNorm1d;
using xg::nn::BatchNorm2d;
using xg::nn::LayerNorm;

using xg_test::check_close;
using xg_test::names_of;

// Per-channel mean and biased variance of x [N, C, rest...] laid out row-major.
struct ChannelStats {
  std::vector<double> mean, var;
  int64_t count = 0;
};
ChannelStats channel_stats(const Tensor& x) {
  const std::vector<double> v = x.to_vector<double>();
  const int64_t n = x.size(0), c = x.size(1), inner = x.numel() / (n * c);
  ChannelStats s;
  s.count = n * inner;
  s.mean.assign(static_cast<std::size_t>(c), 0.0);
  s.var.assign(static_cast<std::size_t>(c), 0.0);
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) sum += v[static_cast<std::size_t>((i * c + ch) * inner + j)];
    const double m = sum / static_cast<double>(s.count);
    double sq = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) {
        const double d = v[static_cast<std::size_t>((i * c + ch) * inner + j)] - m;
        sq += d * d;
      }
    s.mean[static_cast<std::size_t>(ch)] = m;
    s.var[static_cast<std::size_t>(ch)] = sq / static_cast<double>(s.count);
  }
  return s;
}

// y = (x - mean_c) / sqrt(var_c + eps) * w_c + b_c element by element.
std::vector<double> normalise(const Tensor& x, const std::vector<double>& mean,
                              const std::vector<double>& var, const std::vector<double>& w,
                              const std::vector<double>& b, double eps) {
  const std::vector<double> v = x.to_vector<double>();
  const int64_t n = x.size(0), c = x.size(1), inner = x.numel() / (n * c);
  std::vector<double> y(v.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < inner; ++j) {
        const auto k = static_cast<std::size_t>((i * c + ch) * inner + j);
        const auto cc = static_cast<std::size_t>(ch);
        y[k] = (v[k] - mean[cc]) / std::sqrt(var[cc] + eps) * w[cc] + b[cc];
      }
  return y;
}

}  // namespace

TEST_CASE("BatchNorm1d: parameters, buffers and names as PyTorch") {
  BatchNorm1d bn(3);
  CHECK(names_of(bn.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(names_of(bn.named_buffers()) ==
        std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"});
  CHECK(names_of(bn.state_dict()) ==
        std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  CHECK(bn.weight.to_vector<double>() == std::vector<double>{1, 1, 1});
  CHECK(bn.bias.to_vector<double>() == std::vector<double>{0, 0, 0});
  CHECK(bn.running_mean.to_vector<double>() == std::vector<double>{0, 0, 0});
  CHECK(bn.running_var.to_vector<double>() == std::vector<double>{1, 1, 1});
  CHECK(bn.num_batches_tracked.dtype() == Dtype::int64);
  CHECK(bn.num_batches_tracked.dim() == 0);
  CHECK(bn.weight.requires_grad());
  CHECK_FALSE(bn.running_mean.requires_grad());
  CHECK(bn.repr() == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");

  BatchNorm1d plain(4, {.affine = false, .track_running_stats = false});
  CHECK(plain.parameters().empty());
  CHECK(plain.buffers().empty());
  CHECK_FALSE(plain.running_mean.defined());
}

TEST_CASE("BatchNorm1d [N, C]: normalises each channel with the biased batch variance") {
  xg::manual_seed(1);
  BatchNorm1d bn(3);
  {
    xg::NoGradGuard g;
    bn.weight.copy_(xg::tensor({0.5, 2.0, -1.0}));
    bn.bias.copy_(xg::tensor({0.1, -0.2, 0.3}));
  }
  Tensor x = xg::randn({5, 3}) * 2.0 + 1.0;
  Tensor y = bn.forward(x);
  ChannelStats s = channel_stats(x);
  check_close(y.to_vector<double>(), normalise(x, s.mean, s.var, {0.5, 2.0, -1.0}, {0.1, -0.2, 0.3}, 1e-5),
              1e-5);

  // without affine: mean 0, biased variance ~1 per channel
  BatchNorm1d raw(3, {.affine = false});
  ChannelStats ys = channel_stats(raw.forward(x));
  for (int c = 0; c < 3; ++c) {
    CHECK(std::abs(ys.mean[static_cast<std::size_t>(c)]) < 1e-6);
    CHECK(std::abs(ys.var[static_cast<std::size_t>(c)] -
                   s.var[static_cast<std::size_t>(c)] / (s.var[static_cast<std::size_t>(c)] + 1e-5)) < 1e-5);
  }
}

TEST_CASE("BatchNorm running statistics after two batches, then eval uses them") {
  xg::manual_seed(2);
  BatchNorm1d bn(2, {.momentum = 0.1});
  Tensor x1 = xg::randn({4, 2}) + 3.0, x2 = xg::randn({6, 2}) * 0.5 - 1.0;
  bn.forward(x1);
  bn.forward(x2);
  ChannelStats s1 = channel_stats(x1), s2 = channel_stats(x2);
  std::vector<double> rm(2), rv(2);
  for (std::size_t c = 0; c < 2; ++c) {
    const double uv1 = s1.var[c] * 4 / 3, uv2 = s2.var[c] * 6 / 5;  // unbiased
    rm[c] = 0.9 * (0.9 * 0.0 + 0.1 * s1.mean[c]) + 0.1 * s2.mean[c];
    rv[c] = 0.9 * (0.9 * 1.0 + 0.1 * uv1) + 0.1 * uv2;
  }
  check_close(bn.running_mean.to_vector<double>(), rm, 1e-6);
  check_close(bn.running_var.to_vector<double>(), rv, 1e-6);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 2);

  bn.eval();
  CHECK_FALSE(bn.is_training());
  Tensor x3 = xg::randn({3, 2});
  Tensor y = bn.forward(x3);
  check_close(y.to_vector<double>(), normalise(x3, rm, rv, {1, 1}, {0, 0}, 1e-5), 1e-5);
  // eval leaves the statistics alone
  bn.forward(x3);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 2);
  check_close(bn.running_mean.to_vector<double>(), rm, 1e-6);

  SUBCASE("reset_running_stats") {
    bn.reset_running_stats();
    CHECK(bn.running_mean.to_vector<double>() == std::vector<double>{0, 0});
    CHECK(bn.running_var.to_vector<double>() == std::vector<double>{1, 1});
    CHECK(bn.num_batches_tracked.item<int64_t>() == 0);
  }
}

TEST_CASE("BatchNorm with momentum nullopt keeps a cumulative average") {
  xg::manual_seed(3);
  BatchNorm1d bn(2, {.momentum = std::nullopt});
  Tensor x1 = xg::randn({4, 2}), x2 = xg::randn({4, 2}) + 2.0, x3 = xg::randn({4, 2}) - 1.0;
  for (const Tensor& x : {x1, x2, x3}) bn.forward(x);
  ChannelStats s1 = channel_stats(x1), s2 = channel_stats(x2), s3 = channel_stats(x3);
  std::vector<double> rm(2), rv(2);
  for (std::size_t c = 0; c < 2; ++c) {
    rm[c] = (s1.mean[c] + s2.mean[c] + s3.mean[c]) / 3;
    rv[c] = (s1.var[c] + s2.var[c] + s3.var[c]) * 4.0 / 3.0 / 3.0;
  }
  check_close(bn.running_mean.to_vector<double>(), rm, 1e-6);
  check_close(bn.running_var.to_vector<double>(), rv, 1e-6);
  CHECK(bn.repr() == "BatchNorm1d(2, eps=1e-05, momentum=None, affine=true, track_running_stats=true)");
}

TEST_CASE("BatchNorm without running statistics uses batch statistics in eval too") {
  xg::manual_seed(4);
  BatchNorm1d bn(3, {.track_running_stats = false});
  Tensor x = xg::randn({4, 3});
  Tensor y_train = bn.forward(x);
  bn.eval();
  Tensor y_eval = bn.forward(x);
  check_close(y_eval.to_vector<double>(), y_train.to_vector<double>(), 1e-7);
}

TEST_CASE("BatchNorm1d [N, C, L] and BatchNorm2d [N, C, H, W] reduce over batch and space") {
  xg::manual_seed(5);
  SUBCASE("1d with length") {
    BatchNorm1d bn(3);
    Tensor x = xg::randn({2, 3, 4}) * 3.0 + 0.5;
    Tensor y = bn.forward(x);
    CHECK(y.shape() == x.shape());
    ChannelStats s = channel_stats(x);
    CHECK(s.count == 8);
    check_close(y.to_vector<double>(), normalise(x, s.mean, s.var, {1, 1, 1}, {0, 0, 0}, 1e-5), 1e-5);
    std::vector<double> rm(3);
    for (std::size_t c = 0; c < 3; ++c) rm[c] = 0.1 * s.mean[c];
    check_close(bn.running_mean.to_vector<double>(), rm, 1e-6);
    std::vector<double> rv(3);
    for (std::size_t c = 0; c < 3; ++c) rv[c] = 0.9 + 0.1 * s.var[c] * 8 / 7;
    check_close(bn.running_var.to_vector<double>(), rv, 1e-6);
  }
  SUBCASE("2d") {
    BatchNorm2d bn(2);
    {
      xg::NoGradGuard g;
      bn.weight.copy_(xg::tensor({1.5, -0.5}));
      bn.bias.copy_(xg::tensor({0.2, 0.0}));
    }
    Tensor x = xg::randn({3, 2, 2, 3}) - 2.0;
    Tensor y = bn.forward(x);
    ChannelStats s = channel_stats(x);
    CHECK(s.count == 18);
    check_close(y.to_vector<double>(), normalise(x, s.mean, s.var, {1.5, -0.5}, {0.2, 0.0}, 1e-5), 1e-5);
    bn.eval();
    Tensor ye = bn.forward(x);
    std::vector<double> rm{0.1 * s.mean[0], 0.1 * s.mean[1]};
    std::vector<double> rv{0.9 + 0.1 * s.var[0] * 18 / 17, 0.9 + 0.1 * s.var[1] * 18 / 17};
    check_close(ye.to_vector<double>(), normalise(x, rm, rv, {1.5, -0.5}, {0.2, 0.0}, 1e-5), 1e-5);
  }
  SUBCASE("3d") {
    xg::nn::BatchNorm3d bn(2, {.affine = false});
    Tensor x = xg::randn({2, 2, 2, 2, 2});
    ChannelStats s = channel_stats(x);
    check_close(bn.forward(x).to_vector<double>(), normalise(x, s.mean, s.var, {1, 1}, {0, 0}, 1e-5), 1e-5);
  }
}

TEST_CASE("BatchNorm errors name the layer and the shapes") {
  BatchNorm1d bn(3);
  CHECK_ERROR(bn.forward(xg::randn({4, 5})), xg::ShapeError, "BatchNorm1d", "[4, 5]", "3");
  CHECK_ERROR(bn.forward(xg::randn({2, 3, 4, 5})), xg::ShapeError, "BatchNorm1d", "[2, 3, 4, 5]");
  BatchNorm2d bn2(3);
  CHECK_ERROR(bn2.forward(xg::randn({4, 3})), xg::ShapeError, "BatchNorm2d:", "4-D", "[4, 3]");
  // one value per channel cannot give a batch variance in training
  CHECK_ERROR(bn.forward(xg::randn({1, 3})), xg::ValueError, "BatchNorm1d:", "more than 1 value per channel",
              "[1, 3]");
  bn.eval();
  CHECK(bn.forward(xg::randn({1, 3})).shape() == xg::Shape{1, 3});
  CHECK_ERROR(BatchNorm1d(0), xg::ValueError, "BatchNorm1d: num_features must be positive, got 0");
  CHECK_ERROR(BatchNorm1d(2, {.momentum = 1.5}), xg::ValueError, "BatchNorm1d: momentum", "1.5");
}

TEST_CASE("BatchNorm state_dict round trip, to(float64)") {
  xg::manual_seed(6);
  BatchNorm2d a(2), b(2);
  {
    xg::NoGradGuard g;
    a.weight.copy_(xg::tensor({0.7, 1.3}));
    a.bias.copy_(xg::tensor({-0.1, 0.4}));
  }
  a.forward(xg::randn({2, 2, 3, 3}) + 1.0);
  a.forward(xg::randn({2, 2, 3, 3}) * 2.0);
  b.load_state_dict(a.state_dict());
  CHECK(b.num_batches_tracked.item<int64_t>() == 2);
  CHECK(b.running_var.to_vector<double>() == a.running_var.to_vector<double>());
  a.eval();
  b.eval();
  Tensor x = xg::randn({1, 2, 2, 2});
  CHECK(a.forward(x).to_vector<double>() == b.forward(x).to_vector<double>());

  b.to(Dtype::float64);
  CHECK(b.weight.dtype() == Dtype::float64);
  CHECK(b.running_mean.dtype() == Dtype::float64);
  CHECK(b.num_batches_tracked.dtype() == Dtype::int64);
  Tensor y64 = b.forward(x.to(Dtype::float64));
  CHECK(y64.dtype() == Dtype::float64);
  check_close(y64.to_vector<double>(), a.forward(x).to_vector<double>(), 1e-5);
}

TEST_CASE("BatchNorm load refuses running statistics that make no sense, and changes nothing") {
  // Before: a negative running_var (or a NaN mean, a negative count) loaded, and eval gave NaN.
  xg::manual_seed(7);
  auto make = [] {
    auto net = std::make_shared<xg::nn::Sequential>();
    net->push_back("conv_bn", std::make_shared<BatchNorm2d>(3));
    return net;
  };
  auto trained = make();
  trained->forward(xg::randn({4, 3, 2, 2}));
  const xg::NamedTensors good = trained->state_dict();
  auto with = [&](const std::string& key, double v) {
    xg::NamedTensors s = good;
    for (auto& [n, t] : s)
      if (n == key) {
        std::vector<double> values = t.to_vector<double>();
        values[1] = v;
        t = xg::tensor(values, t.shape());
      }
    return s;
  };
  auto target = make();
  const xg::NamedTensors before = target->state_dict();
  auto unchanged = [&] {
    const xg::NamedTensors now = target->state_dict();
    for (std::size_t i = 0; i < now.size(); ++i)
      if (now[i].second.to_vector<double>() != before[i].second.to_vector<double>()) return false;
    return true;
  };
  CHECK_ERROR(target->load_state_dict(with("conv_bn.running_var", -0.5)), xg::ValueError,
              "'conv_bn.running_var' holds -0.5 at element 1 (must be finite and >= 0)");
  CHECK(unchanged());
  CHECK_ERROR(target->load_state_dict(with("conv_bn.running_var", INFINITY)), xg::ValueError,
              "'conv_bn.running_var' holds inf");
  CHECK_ERROR(target->load_state_dict(with("conv_bn.running_mean", NAN)), xg::ValueError,
              "'conv_bn.running_mean' holds nan at element 1 (must be finite)");
  xg::NamedTensors count = good;
  for (auto& [n, t] : count)
    if (n == "conv_bn.num_batches_tracked") t = xg::tensor({-3.0}, {}, {.dtype = Dtype::int64}).reshape({});
  CHECK_ERROR(target->load_state_dict(count), xg::ValueError, "'conv_bn.num_batches_tracked' holds -3");
  CHECK(unchanged());
  // a negative running mean and a zero variance make sense
  CHECK_NOTHROW(target->load_state_dict(with("conv_bn.running_mean", -2.0)));
  CHECK_NOTHROW(target->load_state_dict(with("conv_bn.running_var", 0.0)));
  // the clone keeps the checks
  auto copy = target->clone();
  CHECK_ERROR(copy->load_state_dict(with("conv_bn.running_var", -1.0)), xg::ValueError,
              "'conv_bn.running_var'");
}

TEST_CASE("BatchNorm gradcheck in float64, train and eval, w.r.t. input, weight and bias") {
  xg::manual_seed(7);
  SUBCASE("BatchNorm1d [N, C] train") {
    BatchNorm1d bn(3);
    bn.to(Dtype::float64);
    {
      xg::NoGradGuard g;
      bn.weight.copy_(xg::tensor({0.5, 2.0, -1.0}));
      bn.bias.copy_(xg::tensor({0.1, -0.2, 0.3}));
    }
    Tensor x = xg::randn({4, 3}, {.dtype = Dtype::float64, .requires_grad = true});
    auto f = [&](const std::vector<Tensor>& in) { return bn.forward(in[0]); };
    xg::GradcheckReport r = xg::gradcheck(f, {x, bn.weight, bn.bias});
    CHECK_MESSAGE(r.passed, r.str());
    CHECK(r.inputs_checked == 3);
  }
  SUBCASE("BatchNorm1d [N, C, L] train") {
    BatchNorm1d bn(2);
    bn.to(Dtype::float64);
    Tensor x = xg::randn({3, 2, 3}, {.dtype = Dtype::float64, .requires_grad = true});
    auto f = [&](const std::vector<Tensor>& in) { return bn.forward(in[0]); };
    xg::GradcheckReport r = xg::gradcheck(f, {x, bn.weight, bn.bias});
    CHECK_MESSAGE(r.passed, r.str());
  }
  SUBCASE("BatchNorm2d train and eval") {
    BatchNorm2d bn(2);
    bn.to(Dtype::float64);
    {
      xg::NoGradGuard g;
      bn.weight.copy_(xg::tensor({1.5, -0.7}));
    }
    Tensor x = xg::randn({2, 2, 2, 3}, {.dtype = Dtype::float64, .requires_grad = true});
    auto f = [&](const std::vector<Tensor>& in) { return bn.forward(in[0]); };
    xg::GradcheckReport r = xg::gradcheck(f, {x, bn.weight, bn.bias});
    CHECK_MESSAGE(r.passed, r.str());
    bn.eval();
    xg::GradcheckReport re = xg::gradcheck(f, {x, bn.weight, bn.bias});
    CHECK_MESSAGE(re.passed, re.str());
  }
}

TEST_CASE("LayerNorm: names, shapes, mean 0 and variance 1 over the last axes") {
  LayerNorm ln({3, 4});
  CHECK(names_of(ln.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(ln.weight.shape() == xg::Shape{3, 4});
  CHECK(ln.bias.shape() == xg::Shape{3, 4});
  CHECK(ln.buffers().empty());
  CHECK(ln.repr() == "LayerNorm((3, 4), eps=1e-05, elementwise_affine=true)");
  CHECK(LayerNorm(5).repr() == "LayerNorm((5,), eps=1e-05, elementwise_affine=true)");
  CHECK(LayerNorm(5, {.elementwise_affine = false}).parameters().empty());
  CHECK(names_of(LayerNorm(5, {.bias = false}).named_parameters()) == std::vector<std::string>{"weight"});

  xg::manual_seed(8);
  Tensor x = xg::randn({2, 3, 4}, {.dtype = Dtype::float64}) * 3.0 + 2.0;
  Tensor y = ln.forward(x);
  CHECK(y.shape() == x.shape());
  const std::vector<double> v = y.to_vector<double>(), xv = x.to_vector<double>();
  for (int b = 0; b < 2; ++b) {
    double m = 0, xm = 0;
    for (int i = 0; i < 12; ++i)
      m += v[static_cast<std::size_t>(b * 12 + i)], xm += xv[static_cast<std::size_t>(b * 12 + i)];
    m /= 12, xm /= 12;
    double var = 0, xvar = 0;
    for (int i = 0; i < 12; ++i) {
      var += std::pow(v[static_cast<std::size_t>(b * 12 + i)] - m, 2);
      xvar += std::pow(xv[static_cast<std::size_t>(b * 12 + i)] - xm, 2);
    }
    var /= 12, xvar /= 12;
    CHECK(std::abs(m) < 1e-6);
    CHECK(std::abs(var - xvar / (xvar + 1e-5)) < 1e-6);
  }

  SUBCASE("affine over the last axis, against a naive row computation") {
    LayerNorm l1(4, {.eps = 1e-3});
    {
      xg::NoGradGuard g;
      l1.weight.copy_(xg::tensor({1, 2, 3, 4}));
      l1.bias.copy_(xg::tensor({0.5, 0, -0.5, 1}));
    }
    Tensor x2 = xg::tensor({1, 2, 4, 8, -1, 0, 1, 3}, {2, 4});
    const std::vector<double> w{1, 2, 3, 4}, bb{0.5, 0, -0.5, 1}, xs = x2.to_vector<double>();
    std::vector<double> want(8);
    for (int r = 0; r < 2; ++r) {
      double m = 0, q = 0;
      for (int i = 0; i < 4; ++i) m += xs[static_cast<std::size_t>(r * 4 + i)] / 4;
      for (int i = 0; i < 4; ++i) q += std::pow(xs[static_cast<std::size_t>(r * 4 + i)] - m, 2) / 4;
      for (int i = 0; i < 4; ++i) {
        const auto k = static_cast<std::size_t>(r * 4 + i);
        want[k] = (xs[k] - m) / std::sqrt(q + 1e-3) * w[static_cast<std::size_t>(i)] +
                  bb[static_cast<std::size_t>(i)];
      }
    }
    check_close(l1.forward(x2).to_vector<double>(), want, 1e-5);
  }
}

TEST_CASE("LayerNorm errors, state_dict round trip and gradcheck") {
  LayerNorm ln({3, 4});
  CHECK_ERROR(ln.forward(xg::randn({2, 4, 3})), xg::ShapeError, "LayerNorm", "[3, 4]", "[2, 4, 3]");
  CHECK_ERROR(ln.forward(xg::randn({4})), xg::ShapeError, "LayerNorm:", "normalized_shape [3, 4]",
              "input [4]");
  CHECK_ERROR(LayerNorm(std::vector<int64_t>{}), xg::ValueError, "LayerNorm: normalized_shape is empty");

  xg::manual_seed(9);
  LayerNorm a(4), b(4);
  {
    xg::NoGradGuard g;
    a.weight.copy_(xg::randn({4}));
    a.bias.copy_(xg::randn({4}));
  }
  b.load_state_dict(a.state_dict());
  Tensor x = xg::randn({3, 4});
  CHECK(a.forward(x).to_vector<double>() == b.forward(x).to_vector<double>());

  a.to(Dtype::float64);
  Tensor x64 = xg::randn({2, 3, 4}, {.dtype = Dtype::float64, .requires_grad = true});
  auto f = [&](const std::vector<Tensor>& in) { return a.forward(in[0]); };
  xg::GradcheckReport r = xg::gradcheck(f, {x64, a.weight, a.bias});
  CHECK_MESSAGE(r.passed, r.str());
  CHECK(r.inputs_checked == 3);
}

TEST_CASE("second derivatives: gradgradcheck of BatchNorm (train) and LayerNorm") {
  xg::manual_seed(10);
  BatchNorm1d bn(2);
  LayerNorm ln(3);
  bn.to(Dtype::float64);
  ln.to(Dtype::float64);
  Tensor x = xg::randn({3, 2}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor z = xg::randn({2, 3}, {.dtype = Dtype::float64, .requires_grad = true});
  xg::GradcheckReport r =
      xg::gradgradcheck([&](const std::vector<Tensor>& in) { return bn.forward(in[0]); }, {x, bn.weight});
  CHECK_MESSAGE(r.passed, r.str());
  xg::GradcheckReport r2 =
      xg::gradgradcheck([&](const std::vector<Tensor>& in) { return ln.forward(in[0]); }, {z, ln.weight});
  CHECK_MESSAGE(r2.passed, r2.str());
}

// ---- GroupNorm and InstanceNorm1d/2d ----
namespace {
// sin(0.7 i + 0.3) * 2 over i = 0, 1, ... reshaped: the same input on both sides of the
// PyTorch numbers below.
Tensor wave(const xg::Shape& s, double a = 0.7, double b = 0.3) {
  return xg::reshape(
      xg::sin(xg::arange(0, static_cast<double>(s.numel()), 1, {.dtype = Dtype::float64}) * a + b) * 2.0, s);
}
std::vector<double> at(const Tensor& y, const std::vector<int64_t>& flat) {
  const std::vector<double> v = y.contiguous().to_vector<double>();
  std::vector<double> out;
  for (int64_t i : flat) out.push_back(v[static_cast<std::size_t>(i)]);
  return out;
}
}  // namespace

TEST_CASE("GroupNorm: PyTorch's parameters, values and gradients") {
  xg::nn::GroupNorm gn(2, 6);
  CHECK(names_of(gn.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(gn.named_buffers().empty());
  CHECK(gn.repr() == "GroupNorm(2, 6, eps=1e-05, affine=true)");
  CHECK(gn.weight.to_vector<double>() == std::vector<double>(6, 1.0));
  CHECK(gn.bias.to_vector<double>() == std::vector<double>(6, 0.0));
  gn.to(Dtype::float64);
  {
    xg::NoGradGuard g;
    gn.weight.copy_(xg::arange(0, 6, 1, {.dtype = Dtype::float64}) * 0.1 + 0.5);
    gn.bias.copy_(xg::arange(0, 6, 1, {.dtype = Dtype::float64}) * 0.05 - 0.2);
  }
  Tensor x = wave({2, 6, 3}).requires_grad_();
  Tensor y = gn.forward(x);
  CHECK(y.shape() == xg::Shape{2, 6, 3});
  // torch.nn.GroupNorm(2, 6) with weight 0.5 + 0.1 arange(6), bias -0.2 + 0.05 arange(6)
  check_close(at(y, {0, 7, 20, 35}),
              {0.009346637499381851, -0.9757274862391352, 0.49878056587796454, -0.4126359651434297}, 1e-12);
  xg::sum(y * xg::reshape(xg::arange(0, 36, 1, {.dtype = Dtype::float64}), {2, 6, 3})).backward();
  check_close(at(x.grad(), {0, 7, 20, 35}),
              {-1.3916899545530876, 0.28577123323781395, 0.3128855369663057, 3.581333952247327}, 1e-11);
  check_close(gn.weight.grad().to_vector<double>(),
              {63.42092873502679, -2.42039796782573, -98.05992186464057, 119.3740891971818,
               -3.477487665096046, -152.96625552967214},
              1e-10);
  // the same in eval mode: no running statistics
  gn.eval();
  check_close(at(gn.forward(x), {0, 7}), {0.009346637499381851, -0.9757274862391352}, 1e-12);
}

TEST_CASE("functional group_norm: one group per channel and a single group") {
  namespace F = xg::nn::functional;
  // torch.nn.functional.group_norm(x, 4) on [2, 4, 2, 2] (InstanceNorm-like)
  check_close(at(F::group_norm(wave({2, 4, 2, 2}), 4), {0, 5, 13, 31}),
              {-1.562851414598536, -0.010150421627387059, 0.4043914316854806, -1.6381308674432418}, 1e-12);
  // torch.nn.functional.group_norm(x, 1) on [3, 4] (LayerNorm-like)
  check_close(at(F::group_norm(wave({3, 4}), 1), {0, 6, 11}),
              {-1.562851414598536, -0.9283514977175297, 1.0168231815252575}, 1e-12);
  CHECK_ERROR(F::group_norm(wave({2, 6, 3}), 4), xg::ShapeError, "group_norm:", "6 channels", "[2, 6, 3]",
              "num_groups 4");
  CHECK_ERROR(F::group_norm(wave({2, 6}), 2, xg::ones({4}, {.dtype = Dtype::float64})), xg::ShapeError,
              "group_norm: weight", "[6]", "[4]");
  CHECK_ERROR(F::group_norm(wave({6}), 2), xg::ShapeError, "group_norm:", "[6]");
}

TEST_CASE("GroupNorm errors name the layer and the shapes") {
  CHECK_ERROR(xg::nn::GroupNorm(4, 6), xg::ValueError, "GroupNorm:", "num_channels 6", "num_groups 4");
  CHECK_ERROR(xg::nn::GroupNorm(0, 6), xg::ValueError, "GroupNorm:", "positive");
  xg::nn::GroupNorm gn(2, 6);
  CHECK_ERROR(gn.forward(xg::zeros({2, 4, 3})), xg::ShapeError, "GroupNorm:", "4 channels", "[2, 4, 3]");
  CHECK_ERROR(gn.forward(xg::zeros({6})), xg::ShapeError, "GroupNorm:", "[6]");
  xg::nn::GroupNorm plain(3, 6, {.affine = false});
  CHECK(plain.parameters().empty());
  CHECK(plain.repr() == "GroupNorm(3, 6, eps=1e-05, affine=false)");
}

TEST_CASE("InstanceNorm1d: running statistics as PyTorch, eval uses them, unbatched input") {
  xg::nn::InstanceNorm1d in(3, {.affine = true, .track_running_stats = true});
  CHECK(names_of(in.state_dict()) ==
        std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  CHECK(in.repr() == "InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
  in.to(Dtype::float64);
  {
    xg::NoGradGuard g;
    in.weight.copy_(xg::tensor({0.5, 1.5, -1.0}, {.dtype = Dtype::float64}));
    in.bias.copy_(xg::tensor({0.1, 0.0, 0.2}, {.dtype = Dtype::float64}));
  }
  const Tensor x = wave({2, 3, 5});
  // torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True), training
  check_close(at(in.forward(x), {0, 4, 17, 29}),
              {-0.28939575889989105, -0.6507840617804737, -0.008121700453260614, -0.9097057782575456}, 1e-12);
  check_close(in.running_mean.to_vector<double>(),
              {0.03635436823817176, -0.05024653329713503, 0.05775303600039182}, 1e-14);
  check_close(in.running_var.to_vector<double>(), {1.0554106314385772, 1.091697994463773, 1.1161504642240128},
              1e-14);
  in.forward(wave({2, 3, 5}, 0.3));
  check_close(in.running_mean.to_vector<double>(),
              {0.03368250826913485, 0.0691677787402132, 0.06719736425897567}, 1e-14);
  check_close(in.running_var.to_vector<double>(),
              {0.9835301155337892, 1.0326872089027082, 1.0384868792067945}, 1e-14);
  CHECK(in.num_batches_tracked.item<int64_t>() == 0);  // PyTorch's InstanceNorm never counts
  in.eval();
  check_close(at(in.forward(x), {0, 4, 17, 29}),
              {0.3810011714481027, 0.12494556065265235, -0.2781959819369761, -1.6650556236785856}, 1e-12);
  const Tensor u = in.forward(wave({3, 5}));
  CHECK(u.shape() == xg::Shape{3, 5});
  check_close(at(u, {0, 7, 14}), {0.3810011714481027, -2.7101646054193607, 1.492691341989433}, 1e-12);
  // in eval a single position is fine (the running statistics normalise)
  CHECK(in.forward(xg::zeros({2, 3, 1}, {.dtype = Dtype::float64})).shape() == xg::Shape{2, 3, 1});
}

TEST_CASE("InstanceNorm2d: PyTorch's defaults and values; errors") {
  xg::nn::InstanceNorm2d in(2);
  CHECK(in.state_dict().empty());
  CHECK(in.repr() == "InstanceNorm2d(2, eps=1e-05, momentum=0.1, affine=false, track_running_stats=false)");
  // torch.nn.InstanceNorm2d(2)
  check_close(at(in.forward(wave({2, 2, 3, 3})), {0, 4, 17, 35}),
              {0.41869327499876363, 0.059049372497165575, -0.5072511262014491, -0.46263596514342975}, 1e-12);
  in.eval();  // without running statistics eval normalises with the input's statistics too
  check_close(at(in.forward(wave({2, 2, 3, 3})), {0, 4}), {0.41869327499876363, 0.059049372497165575}, 1e-12);
  CHECK_ERROR(in.forward(xg::zeros({2, 1, 1})), xg::ValueError, "InstanceNorm2d:", "spatial",
              "(input [2, 1, 1])");
  CHECK_ERROR(in.forward(xg::zeros({1, 2, 2, 3, 3})), xg::ShapeError, "InstanceNorm2d:", "[1, 2, 2, 3, 3]");
  CHECK_ERROR(xg::nn::InstanceNorm1d(3).forward(xg::zeros({2, 3, 1})), xg::ValueError,
              "InstanceNorm1d:", "more than 1 spatial element", "[2, 3, 1]");
  CHECK_ERROR(xg::nn::InstanceNorm1d(3, {.affine = true}).forward(xg::zeros({2, 4, 5})), xg::ShapeError,
              "InstanceNorm1d:", "4 channels", "[2, 4, 5]");
  // without affine or running statistics the channel count is free, as PyTorch (which warns)
  CHECK(xg::nn::InstanceNorm1d(3).forward(xg::randn({2, 5, 4})).shape() == xg::Shape{2, 5, 4});
  CHECK_ERROR(xg::nn::InstanceNorm1d(3, {.momentum = 1.5}), xg::ValueError, "InstanceNorm1d:", "momentum");
  CHECK_ERROR(xg::nn::functional::instance_norm(xg::zeros({2, 3})), xg::ShapeError,
              "instance_norm:", "[2, 3]");
}

TEST_CASE("GroupNorm and InstanceNorm gradcheck in float64 w.r.t. input and parameters") {
  xg::manual_seed(31);
  xg::nn::GroupNorm gn(2, 4);
  {
    xg::NoGradGuard g;
    gn.weight.copy_(xg::randn({4}));
    gn.bias.copy_(xg::randn({4}));
  }
  xg_test::check_layer_grads(gn, xg::randn({2, 4, 3}));
  xg::nn::GroupNorm gn1(1, 3, {.affine = false});
  xg_test::check_layer_grads(gn1, xg::randn({2, 3, 2, 2}));
  xg::nn::InstanceNorm1d in1(3, {.affine = true});
  xg_test::check_layer_grads(in1, xg::randn({2, 3, 4}));
  xg::nn::InstanceNorm2d in2(2, {.affine = true, .track_running_stats = true});
  in2.eval();  // the running statistics normalise
  xg_test::check_layer_grads(in2, xg::randn({2, 2, 3, 3}));
  xg::nn::InstanceNorm2d in3(2);
  xg_test::check_layer_grads(in3, xg::randn({1, 2, 3, 2}));
}

// ---- SyncBatchNorm and convert_sync_batchnorm in one process (tests/nn/test_dist.cpp: 2 ranks) ----

using xg_test::max_abs;

TEST_CASE("SyncBatchNorm in one process is BatchNorm: outputs, gradients and running statistics") {
  for (const std::vector<int64_t>& dims :
       {std::vector<int64_t>{6, 3}, std::vector<int64_t>{4, 3, 5}, std::vector<int64_t>{2, 3, 2, 3}}) {
    CAPTURE(xg::Shape(dims).str());
    xg::manual_seed(41);
    Tensor x0 = xg::randn(xg::Shape(dims), {.dtype = Dtype::float64}) * 2.0 + 0.5;
    xg::nn::SyncBatchNorm sync(3, {.momentum = 0.3});
    BatchNorm1d plain1(3, {.momentum = 0.3});
    BatchNorm2d plain2(3, {.momentum = 0.3});
    xg::nn::BatchNormBase& plain = dims.size() == 4 ? static_cast<xg::nn::BatchNormBase&>(plain2) : plain1;
    for (xg::nn::BatchNormBase* bn : {static_cast<xg::nn::BatchNormBase*>(&sync), &plain}) {
      bn->to(Dtype::float64);
      xg::NoGradGuard g;
      bn->weight.copy_(xg::tensor({1.5, -0.5, 2.0}, {.dtype = Dtype::float64}));
      bn->bias.copy_(xg::tensor({0.1, 0.2, -0.3}, {.dtype = Dtype::float64}));
    }
    Tensor xs = x0.clone().requires_grad_(), xp = x0.clone().requires_grad_();
    Tensor c = xg::randn(xg::Shape(dims), {.dtype = Dtype::float64});
    Tensor ys = sync.forward(xs), yp = plain.forward(xp);
    (ys * c).sum().backward();
    (yp * c).sum().backward();
    CHECK(max_abs(ys - yp) <= 1e-15);
    CHECK(max_abs(xs.grad() - xp.grad()) <= 1e-14);
    CHECK(max_abs(sync.weight.grad() - plain.weight.grad()) <= 1e-14);
    CHECK(max_abs(sync.bias.grad() - plain.bias.grad()) <= 1e-14);
    CHECK(max_abs(sync.running_mean - plain.running_mean) <= 1e-16);
    CHECK(max_abs(sync.running_var - plain.running_var) <= 1e-15);
    CHECK(sync.num_batches_tracked.item<int64_t>() == 1);
  }
}

TEST_CASE("SyncBatchNorm: names, ranks accepted, errors, gradcheck") {
  xg::nn::SyncBatchNorm bn(3);
  CHECK(bn.synchronized());
  CHECK(bn.repr() == "SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
  CHECK(names_of(bn.named_buffers()) ==
        std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"});
  CHECK_ERROR(bn.forward(xg::randn({3})), xg::ShapeError, "SyncBatchNorm", "2-D or 3-D or 4-D or 5-D", "[3]");
  CHECK_ERROR(bn.forward(xg::randn({1, 3})), xg::ValueError, "SyncBatchNorm",
              "more than 1 value per channel");
  CHECK_NOTHROW(bn.forward(xg::randn({2, 3, 2, 2, 2})));
  auto clone = bn.clone_as<xg::nn::SyncBatchNorm>();
  REQUIRE(clone);
  CHECK(clone->synchronized());
  // Training (the gather, then the parallel-variance combination) and evaluation.
  xg::manual_seed(3);
  xg::nn::SyncBatchNorm g(2);
  xg_test::check_layer_grads(g, xg::randn({3, 2, 2}));
  g.eval();
  xg_test::check_layer_grads(g, xg::randn({3, 2, 2}));
}

namespace {
struct TwoNorms : xg::nn::Module {
  std::shared_ptr<BatchNorm2d> bn;
  std::shared_ptr<xg::nn::Sequential> seq;
  std::shared_ptr<xg::nn::InstanceNorm1d> inorm;
  TwoNorms() : Module("TwoNorms") {
    bn = register_module("bn", std::make_shared<BatchNorm2d>(2));
    seq = register_module("seq", std::make_shared<xg::nn::Sequential>(
                                     std::vector<xg::nn::ModulePtr>{std::make_shared<BatchNorm1d>(4)}));
    inorm = register_module("inorm", std::make_shared<xg::nn::InstanceNorm1d>(4));
  }
};
}  // namespace

TEST_CASE("convert_sync_batchnorm converts every BatchNorm in place, keeping weights and buffers") {
  auto m = std::make_shared<TwoNorms>();
  const Tensor w = m->bn->weight, rm = m->bn->running_mean;
  const auto params_before = m->parameters();
  CHECK_FALSE(m->bn->synchronized());
  CHECK(xg::nn::convert_sync_batchnorm(m).get() == m.get());
  CHECK(m->bn->synchronized());  // the typed member forward() calls is the converted layer
  auto* inner = dynamic_cast<BatchNorm1d*>(m->seq->children()[0].get());
  REQUIRE(inner != nullptr);
  CHECK(inner->synchronized());
  CHECK(m->bn->weight.get() == w.get());  // the same tensors: an optimizer built before still holds them
  CHECK(m->bn->running_mean.get() == rm.get());
  const auto params_after = m->parameters();
  REQUIRE(params_after.size() == params_before.size());
  for (std::size_t i = 0; i < params_after.size(); ++i)
    CHECK(params_after[i].get() == params_before[i].get());
  CHECK(m->bn->repr() == "BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
  auto copy = m->bn->clone_as<BatchNorm2d>();  // (a module that builds its layers clones fresh ones)
  REQUIRE(copy);
  CHECK(copy->synchronized());
  // A BatchNorm as the root is converted too.
  auto bn = std::make_shared<BatchNorm1d>(3);
  xg::nn::convert_sync_batchnorm(bn);
  CHECK(bn->synchronized());
  CHECK_ERROR(xg::nn::convert_sync_batchnorm(nullptr), xg::ValueError, "convert_sync_batchnorm", "null");
}
