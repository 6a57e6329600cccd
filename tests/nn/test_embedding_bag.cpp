// EmbeddingBag and functional::embedding_bag: sum, mean, max over offsets (empty bags included)
// and 2-D inputs, per_sample_weights, padding_idx, include_last_offset, max_norm, against
// PyTorch 1.13.1 numbers (computed once with the deterministic values below and hard-coded);
// float64 gradchecks w.r.t. the weight and per_sample_weights; errors.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/embedding.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;
using Vec = std::vector<double>;
namespace nn = xg::nn;
namespace F = xg::nn::functional;

using xg_test::check_values;
using xg_test::i64;
using xg_test::names_of;

Tensor det(const xg::Shape& s, double a, double b) {
  Vec v(static_cast<std::size_t>(s.numel()));
  for (std::size_t j = 0; j < v.size(); ++j) v[j] = std::cos(a * double(j) + b);
  return xg::tensor(v, s, {.dtype = Dtype::float64});
}

// PyTorch 1.13.1, float64: weight cos(0.7 j + 0.3) [6, 3], cotangent cos(0.3 j + 0.5).
// clang-format off
const Vec bag_sum{-1.6968361605694242, -1.5303115210081097, -0.644057461339565, 0.0, 0.0, 0.0, -0.20353975952498443, 0.478205905399281, 0.9350438608408765, 1.910672978251212, 1.0806046117362795, -0.2576889885910493};
const Vec bag_sum_gw{-1.9965895515895062, -1.8729133745815927, -1.5819354238288337, 0.8775825618903728, 0.6967067093471654, 0.4535961214255773, 0.21130654061054865, -0.16018204402178193, -0.5173620437240132, -0.6662760212798241, -0.8568887533689473, -0.9709581651495905, 0.21130654061054865, -0.16018204402178193, -0.5173620437240132, -0.6662760212798241, -0.8568887533689473, -0.9709581651495905};
const Vec bag_mean{-0.5656120535231414, -0.5101038403360366, -0.21468582044652165, 0.0, 0.0, 0.0, -0.05088493988124611, 0.11955147634982025, 0.23376096521021913, 0.955336489125606, 0.5403023058681398, -0.12884449429552464};
const Vec bag_mean_gw{-0.9982947757947531, -0.9364566872907963, -0.7909677119144168, 0.2925275206301242, 0.23223556978238846, 0.1511987071418591, 0.1259585153101682, 0.018013381440151632, -0.09154083414553854, -0.16656900531995603, -0.21422218834223683, -0.24273954128739764, 0.1259585153101682, 0.018013381440151632, -0.09154083414553854, -0.16656900531995603, -0.21422218834223683, -0.24273954128739764};
const Vec bag_max{-0.21079579943078058, 0.46851667130037633, 0.9274784307440356, 0.0, 0.0, 0.0, 0.9502325919585296, 0.5260775173811053, 0.9336336440746373, 0.955336489125606, 0.5403023058681398, -0.12884449429552464};
const Vec bag_max_gw{-0.9982947757947531, -0.9364566872907963, -0.7909677119144168, 0.0, 0.0, 0.0, 0.8775825618903728, 0.6967067093471654, 0.4535961214255773, -0.6662760212798241, -0.8568887533689473, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.9709581651495905};
const Vec bag_psw{-1.3011677249524491, -1.1326719282980533, -0.4314628252779951, 0.0, 0.0, 0.0, -0.24152000514598762, -0.4017855909490057, -0.3730851352556692, -1.8693935469548066, -1.0572585214652097, 0.2521217067895762};
const Vec bag_psw_gw{1.953453922332115, 1.8324497265108894, 1.5477582541160653, 0.8600893382050473, 0.682818960388909, 0.44455439844762584, 1.2952245726258924, 1.30927519602093, 1.2063721655058572, 0.39210418292362303, 0.504279988721166, 0.5714099649987346, 0.6255391894575898, 0.5711191612584502, 0.4656827593204275, -0.11324503171987176, -0.14564293319346908, -0.16503098520613607};
const Vec bag_psw_gp{-1.7020079150437717, 0.5621286095271546, -1.7075547899005683, -1.191180265309038, 2.113330080905506, -0.9426326528486558, -1.1615612351869584, -1.3577652988633488, -1.3577652988633488};
const Vec pad_mean{-0.4740947574860128, -0.2653092394864516, 0.06825535941480937, 0.0, 0.0, 0.0, 0.9527845405420678, 0.5331899116246226, -0.13717226405206864};
const Vec pad_mean_gw{-0.33313801063991205, -0.42844437668447366, -0.4854790825747953, 0.4387912809451864, 0.3483533546735827, 0.22679806071278866, 0.4387912809451864, 0.3483533546735827, 0.22679806071278866, -0.33313801063991205, -0.42844437668447366, -0.4854790825747953, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
const Vec pad_max{-0.21079579943078058, 0.46851667130037633, 0.9274784307440356, 0.0, 0.0, 0.0, 0.955336489125606, 0.5403023058681398, -0.12884449429552464};
const Vec pad_max_gw{-0.6662760212798241, -0.8568887533689473, -0.9709581651495905, 0.0, 0.0, 0.0, 0.8775825618903728, 0.6967067093471654, 0.4535961214255773, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
const Vec last_sum{-1.6968361605694242, -1.5303115210081097, -0.644057461339565, -0.20353975952498443, 0.478205905399281, 0.9350438608408765, 0.955336489125606, 0.5403023058681398, -0.12884449429552464};
const Vec maxnorm_out{-0.6039879100020582, -0.45775364540704083, -0.0962306887790801, 0.0, 0.0, 0.0, -0.00816365169658502, 0.2607158720132863, 0.40697664731743477, 1.2967464003313924, 0.7333908818520413, -0.17488982791096236};
const Vec maxnorm_w{1.2967464003313924, 0.7333908818520413, -0.17488982791096236, -0.7512700141333883, -1.0179369075799871, -0.8058521676887823, -0.2982217612544725, 0.6628304134597411, 1.3121430877129328, 1.3006882222692902, 0.7201003592688118, -0.19916195457428104, -0.762471954618314, -1.0181544421008766, -0.7949829863613908, -0.2726491131828437, 0.6780871574254689, 1.309908442492478};
// clang-format on

const Tensor kIndices = i64({1, 2, 4, 5, 4, 3, 2, 0, 0});
const Tensor kOffsets = i64({0, 3, 3, 7});  // bags {1, 2, 4}, {}, {5, 4, 3, 2}, {0, 0}

// Output and weight gradient of embedding_bag with the reference's values.
std::pair<Tensor, Tensor> bag(const Tensor& input, const nn::EmbeddingBagArgs& args) {
  Tensor w = det({6, 3}, 0.7, 0.3).requires_grad_(true);
  Tensor o = F::embedding_bag(input, w, args);
  o.backward(det(o.shape(), 0.3, 0.5));
  return {o, w.grad()};
}

}  // namespace

TEST_CASE("embedding_bag: sum, mean, max over offsets with an empty bag, as PyTorch") {
  using M = nn::EmbeddingBagMode;
  const std::vector<std::pair<M, std::pair<const Vec*, const Vec*>>> modes{
      {M::sum, {&bag_sum, &bag_sum_gw}},
      {M::mean, {&bag_mean, &bag_mean_gw}},
      {M::max, {&bag_max, &bag_max_gw}}};
  for (const auto& m : modes) {
    CAPTURE(static_cast<int>(m.first));
    const std::pair<Tensor, Tensor> r = bag(kIndices, {.offsets = kOffsets, .mode = m.first});
    CHECK(r.first.shape() == xg::Shape{4, 3});
    check_values(r.first, *m.second.first);
    check_values(r.second, *m.second.second);
  }
}

TEST_CASE("embedding_bag: per_sample_weights (sum), padding_idx, 2-D input, include_last_offset, max_norm") {
  using M = nn::EmbeddingBagMode;
  SUBCASE("per_sample_weights: gradient to the weight and to them") {
    Tensor w = det({6, 3}, 0.7, 0.3).requires_grad_(true), p = det({9}, 0.4, 0.2).requires_grad_(true);
    Tensor o = F::embedding_bag(kIndices, w, {.offsets = kOffsets, .mode = M::sum, .per_sample_weights = p});
    o.backward(det(o.shape(), 0.3, 0.5));
    check_values(o, bag_psw);
    check_values(w.grad(), bag_psw_gw);
    check_values(p.grad(), bag_psw_gp);
  }
  SUBCASE("2-D input with padding_idx: left out of the bags and of mean's count") {
    const Tensor in = i64({1, 4, 2, 4, 4, 4, 3, 0, 4}, {3, 3});
    std::pair<Tensor, Tensor> r = bag(in, {.mode = M::mean, .padding_idx = 4});
    check_values(r.first, pad_mean);
    check_values(r.second, pad_mean_gw);
    r = bag(in, {.mode = M::max, .padding_idx = -2});
    check_values(r.first, pad_max);
    check_values(r.second, pad_max_gw);
  }
  SUBCASE("include_last_offset: B + 1 offsets, the last one ends the last bag") {
    check_values(
        bag(kIndices, {.offsets = i64({0, 3, 7, 8}), .mode = M::sum, .include_last_offset = true}).first,
        last_sum);
  }
  SUBCASE("an empty input: every bag empty, zeros (as PyTorch)") {
    for (M mode : {M::sum, M::mean, M::max}) {
      std::pair<Tensor, Tensor> r = bag(i64({}), {.offsets = i64({0, 0}), .mode = mode});
      check_values(r.first, Vec(6, 0.0));
      if (r.second.defined()) check_values(r.second, Vec(18, 0.0));
    }
  }
  SUBCASE("max_norm rescales the rows looked up, in place") {
    Tensor w = det({6, 3}, 0.7, 0.3) * 3.0;
    Tensor o = F::embedding_bag(kIndices, w, {.offsets = kOffsets, .max_norm = 1.5});
    check_values(o, maxnorm_out);
    check_values(w, maxnorm_w);
  }
}

TEST_CASE("EmbeddingBag module: PyTorch's parameter, initialisation, repr") {
  xg::manual_seed(41);
  nn::EmbeddingBag m(
      {.num_embeddings = 500, .embedding_dim = 8, .mode = nn::EmbeddingBagMode::sum, .padding_idx = 3});
  CHECK(names_of(m.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK(m.weight.shape() == xg::Shape{500, 8});
  const Vec w = m.weight.to_vector<double>();
  double mean = 0, var = 0;
  for (double v : w) mean += v / double(w.size());
  for (double v : w) var += (v - mean) * (v - mean) / double(w.size());
  CHECK(std::abs(mean) < 0.05);
  CHECK(std::abs(var - 1.0) < 0.1);                          // N(0, 1)
  for (std::size_t j = 24; j < 32; ++j) CHECK(w[j] == 0.0);  // the padding row
  CHECK(m.repr() == "EmbeddingBag(500, 8, mode=sum, padding_idx=3)");
  CHECK(nn::EmbeddingBag({.num_embeddings = 4, .embedding_dim = 2}).repr() ==
        "EmbeddingBag(4, 2, mode=mean)");
  m.to(Dtype::float64);
  {
    xg::NoGradGuard g;
    m.weight.copy_(xg::zeros({500, 8}, {.dtype = Dtype::float64}) + 1.0);
  }
  Tensor o = m.forward(i64({3, 1, 2, 7, 3}), i64({0, 2}),
                       xg::tensor({1.0, 2.0, 3.0, 4.0, 5.0}, {.dtype = Dtype::float64}));
  check_values(o, {2, 2, 2, 2, 2, 2, 2, 2, 7, 7, 7, 7, 7, 7, 7, 7});  // the padding index counts nothing
  CHECK(m.forward(i64({1, 2, 3, 4}, {2, 2})).shape() == xg::Shape{2, 8});
}

TEST_CASE("embedding_bag: gradcheck in float64 w.r.t. the weight and per_sample_weights") {
  const xg::TensorOptions f64{.dtype = Dtype::float64, .requires_grad = true};
  xg::manual_seed(42);
  const Tensor w = xg::randn({5, 3}, f64), psw = xg::randn({7}, f64);
  const Tensor idx = i64({0, 3, 3, 1, 4, 2, 1}), off = i64({0, 2, 2, 5});
  using M = nn::EmbeddingBagMode;
  for (M mode : {M::sum, M::mean, M::max}) {
    CAPTURE(static_cast<int>(mode));
    xg::GradcheckReport r = xg::gradcheck(
        [&](const std::vector<Tensor>& v) {
          return F::embedding_bag(idx, v[0], {.offsets = off, .mode = mode, .padding_idx = 2});
        },
        {w});
    CHECK_MESSAGE(r.passed, r.str());
  }
  xg::GradcheckReport r = xg::gradcheck(
      [&](const std::vector<Tensor>& v) {
        return F::embedding_bag(idx, v[0], {.offsets = off, .mode = M::sum, .per_sample_weights = v[1]});
      },
      {w, psw});
  CHECK_MESSAGE(r.passed, r.str());
  nn::EmbeddingBag m({.num_embeddings = 4, .embedding_dim = 2, .mode = M::max});
  m.to(Dtype::float64);
  const Tensor idx2 = i64({0, 3, 3, 1, 1, 2}, {2, 3});
  xg::GradcheckReport rm =
      xg::gradcheck([&](const std::vector<Tensor>&) { return m.forward(idx2); }, {m.weight});
  CHECK_MESSAGE(rm.passed, rm.str());
}

TEST_CASE("embedding_bag: bad input names the function and the value") {
  const Tensor w = det({6, 3}, 0.7, 0.3);
  CHECK_ERROR(F::embedding_bag(kIndices, w, {.offsets = i64({1, 3})}), xg::ValueError,
              "embedding_bag: offsets[0] must be 0", "got 1");
  CHECK_ERROR(F::embedding_bag(kIndices, w, {.offsets = i64({0, 5, 3})}), xg::ValueError,
              "embedding_bag: offsets must not decrease", "offsets[1] = 5 > offsets[2] = 3");
  CHECK_ERROR(F::embedding_bag(kIndices, w, {.offsets = i64({0, 10})}), xg::ValueError,
              "embedding_bag: offsets[1] = 10 exceeds the input's length 9");
  CHECK_ERROR(F::embedding_bag(i64({1, 6}), w, {.offsets = i64({0})}), xg::IndexError,
              "embedding_bag: index 6", "position 1", "6 embeddings");
  CHECK_ERROR(F::embedding_bag(i64({1, -1}), w, {.offsets = i64({0})}), xg::IndexError,
              "embedding_bag: index -1");
  CHECK_ERROR(F::embedding_bag(kIndices, w), xg::ValueError, "embedding_bag: a 1-D input [9] needs offsets");
  CHECK_ERROR(F::embedding_bag(i64({1, 2}, {1, 2}), w, {.offsets = i64({0})}), xg::ValueError,
              "embedding_bag: a 2-D input [1, 2]");
  CHECK_ERROR(F::embedding_bag(kIndices, w, {.offsets = kOffsets, .per_sample_weights = det({9}, 1, 1)}),
              xg::ValueError, "embedding_bag: per_sample_weights is for mode sum only, got mode mean");
  CHECK_ERROR(
      F::embedding_bag(
          kIndices, w,
          {.offsets = kOffsets, .mode = nn::EmbeddingBagMode::sum, .per_sample_weights = det({8}, 1, 1)}),
      xg::ShapeError, "embedding_bag: per_sample_weights must be [9]", "[8]");
  CHECK_ERROR(F::embedding_bag(kIndices, w, {.offsets = i64({0}), .include_last_offset = true}),
              xg::ValueError, "embedding_bag: offsets [1] names no bag");
  CHECK_ERROR(F::embedding_bag(kIndices, w, {.offsets = kOffsets, .padding_idx = 6}), xg::IndexError,
              "embedding_bag: padding_idx 6");
  nn::EmbeddingBag m({.num_embeddings = 6, .embedding_dim = 3});
  CHECK_ERROR(m.forward(i64({7}), i64({0})), xg::IndexError, "EmbeddingBag: embedding_bag: index 7");
}
