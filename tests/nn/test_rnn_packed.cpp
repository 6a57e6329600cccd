// LSTM proj_size and variable-length (packed) sequences for RNN, LSTM and GRU: the packing
// functions' layout, values against PyTorch 1.13.1 (reference numbers computed once with
// deterministic weights, hard-coded below), each packed sequence equal to running it alone,
// padded positions changing nothing and getting zero gradient, float64 gradchecks, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/packed_sequence.hpp"
#include "xgrad/nn/rnn.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;
using Vec = std::vector<double>;
namespace nn = xg::nn;

using xg_test::check_close;
using xg_test::check_values;
using xg_test::i64;
using xg_test::names_of;

// The reference's deterministic values: parameter k (in named order) element j is
// 0.5 sin(0.7 j + 1.3 (k + 1)); inputs cos(a j + b).
void fill(nn::Module& m) {
  m.to(Dtype::float64);
  xg::NoGradGuard g;
  int k = 0;
  for (auto& np : m.named_parameters()) {
    Tensor& p = np.second;
    Vec v(static_cast<std::size_t>(p.numel()));
    for (std::size_t j = 0; j < v.size(); ++j) v[j] = 0.5 * std::sin(0.7 * double(j) + 1.3 * (k + 1));
    p.copy_(xg::tensor(v, p.shape(), {.dtype = Dtype::float64}));
    ++k;
  }
}
Tensor det(const xg::Shape& s, double a = 0.9, double b = 0.4) {
  Vec v(static_cast<std::size_t>(s.numel()));
  for (std::size_t j = 0; j < v.size(); ++j) v[j] = std::cos(a * double(j) + b);
  return xg::tensor(v, s, {.dtype = Dtype::float64});
}

std::vector<int64_t> ints(const Tensor& t) {
  return t.to_vector<int64_t>();
}

// PyTorch 1.13.1, float64 (see the file comment).
// clang-format off
const Vec proj_out{-0.4623935136616442, 0.44189907525207683, -0.12279877248909649, 0.08884164074075328, -0.07334071073483196, -0.025323103001050954, -0.36159324520404207, 0.30820088194109585, -0.43466381960346456, 0.3694678819791979, 0.08572238923416013, -0.1044432763448289, -0.27199741394170396, 0.17684825256118522, -0.3667088568973496, 0.32911142261309634, -0.4210826102835161, 0.34627086050312117, 0.38985554602000416, -0.4217785074403302, -0.3317433268639917, 0.2410365037845717, -0.3808650430395311, 0.3880256757860804};
const Vec proj_h{-0.2541714545796853, 0.25080628392465654, -0.3988463900102866, 0.3090443914143797, -0.32800499685317713, 0.28118356419360807, -0.17863905682758588, 0.1451558984734026, -0.4210826102835161, 0.34627086050312117, -0.3317433268639917, 0.2410365037845717, -0.12279877248909649, 0.08884164074075328, -0.36159324520404207, 0.30820088194109585};
const Vec proj_c{-0.1101954914270142, 0.11815453926356728, -0.7019989959333437, -0.18558130400309733, -0.4555079752473222, -1.0766137357868808, -0.09516198698926985, -0.5371844933665586, -0.6389216856027662, -0.1335556226104314, -0.5980059829012461, -0.28464651254103346, 0.18759817098282394, -0.7476786922751442, 0.0910647099187527, -0.04194992022583928, -0.5250466767352547, -0.8444456645272167, -0.4648977426805333, 0.15399101948574945, -0.6463610845192329, -0.7106167866157314, -0.13926019660411126, 0.1737013376903242, -0.20343301042273593, -0.2196769359468575, -0.017227429388738086, 0.16518332372472405, -0.39973251152136174, -0.7967189795365994, -0.245544200978211, 0.22268069246491573};
const Vec pk_batch_sizes{4, 3, 2, 1};
const Vec pk_sorted{1, 3, 0, 2};
const Vec pk_unsorted{2, 0, 3, 1};
const Vec gru_data{-0.06689836463264506, 0.039121995278646404, -0.12958161689519399, -0.2603530921921091, -0.502258428231232, 0.3925544761287035, -0.12696667422373167, 0.1508353596531795, -0.23721823093433725, 0.3048137345371242, -0.6178976745021405, -0.07369532526091949, 0.5070808836444746, -0.22398688709082695, 0.37120623633094657, -0.6268374049530846, -0.31256216240074597, 0.6334325091446266, -0.1363790141784575, -0.029546458033887113, -0.453194615328854, 0.8226085021339786, 0.2844362657705789, -0.3325911277542599, 0.1748549335791638, 0.16272251909268337, 0.2236301683602977, -0.30631904233671914, -0.2151939844048384, 0.31288325651396737, 0.2621455227806369, 0.4602227860340775, -0.3190303158611759, 0.31672766060697155, -0.5723359043175981, -0.014130476016034042, 0.22778926475944875, -0.12140774814882169, 0.5755970652578144, -0.525410562415349, 0.12033041277652118, 0.49449325469906236, 0.31620093024837254, 0.15328804893592904, 0.39411192621123625, -0.24380121771804786, 0.23501277057378891, 0.2091896159002704, 0.4924459317338889, 0.5673144875032087, -0.39570385822453746, 0.38882186984445216, -0.3759072837309455, -0.05054067225786723, 0.3996404263356205, 0.2102080785681111, 0.41949248208527573, 0.1430652522107383, 0.6663431917381254, 0.08137777054627411};
const Vec gru_h{0.5677972661087097, 0.23507324289539733, 0.5518408503118863, 0.41637191691444886, 0.224954156093366, -0.10465241571584066, -0.05548762663094953, -0.29585824659514404, -0.53758118083504, 0.21046480885487096, -0.4279767898503656, -0.46504488154146023, 0.5384066226858741, 0.07247247951035793, -0.08663675623967512, 0.4107122651611594, 0.7199465946618867, 0.6766845950043302, 0.7113918284173764, 0.5766876477874758, 0.852880874741619, 0.8942569287521003, -0.1447815251636542, 0.2870821161667283, 0.22778926475944875, -0.12140774814882169, 0.5755970652578144, 0.3996404263356205, 0.2102080785681111, 0.41949248208527573, -0.1363790141784575, -0.029546458033887113, -0.453194615328854, 0.4924459317338889, 0.5673144875032087, -0.39570385822453746, -0.6268374049530846, -0.31256216240074597, 0.6334325091446266, -0.2603530921921091, -0.502258428231232, 0.3925544761287035, 0.8226085021339786, 0.2844362657705789, -0.3325911277542599, 0.3048137345371242, -0.6178976745021405, -0.07369532526091949};
const Vec lstm_data{-0.06156832043519454, 0.05637639593582864, -0.1689096848411613, 0.14477828426467304, -0.0446596991907548, 0.026245137529582727, -0.0954421291597742, 0.07608277363660405, -0.09416935334448173, 0.07899754790628251, -0.12302889944024846, 0.11755701378983252, -0.12281087245587692, 0.1010281498568337, -0.17835664751020805, 0.13898262744456857, -0.12748117975778173, 0.0934453139135967, -0.12230572626066755, 0.11675371953859648, -0.05982759675046158, 0.06745016460976193, -0.0854064222924003, 0.028953534238541724, -0.09020740961412442, 0.0713655574500909, -0.06137189990081374, 0.024773489579016334};
const Vec lstm_h{-0.12748117975778173, 0.0934453139135967, -0.09020740961412442, 0.0713655574500909, -0.09416935334448173, 0.07899754790628251, -0.0954421291597742, 0.07608277363660405, -0.1689096848411613, 0.14477828426467304, -0.12302889944024846, 0.11755701378983252};
const Vec lstm_c{0.2068168419199878, 0.09023506467391242, -0.4978722650677863, 0.20855295539336688, -0.15567136023191314, -0.5160953731442504, 0.1344284301967602, 0.1873322673830399, -0.4129575722192552, 0.09101020165918991, -0.110303272885421, -0.5471627156753761, 0.2136204665664882, -0.046990793128801216, -0.8048432626827806, 0.13577525888996156, 0.13768652442395404, -0.5208942192639698};
const Vec lstm_padded{-0.0446596991907548, 0.026245137529582727, -0.0954421291597742, 0.07608277363660405, -0.12748117975778173, 0.0934453139135967, -0.12230572626066755, 0.11675371953859648, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.06156832043519454, 0.05637639593582864, -0.1689096848411613, 0.14477828426467304, -0.12281087245587692, 0.1010281498568337, -0.17835664751020805, 0.13898262744456857, -0.05982759675046158, 0.06745016460976193, -0.0854064222924003, 0.028953534238541724, -0.09020740961412442, 0.0713655574500909, -0.06137189990081374, 0.024773489579016334, -1.0, -1.0, -1.0, -1.0, -0.09416935334448173, 0.07899754790628251, -0.12302889944024846, 0.11755701378983252, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0};
const Vec rnn_data{-0.6588874236215079, -0.5468286314945237, -0.3071955041373449, -0.3498517789472596, -0.8249924200588369, -0.17730474430252438, -0.5739712983024908, -0.7540139307125384, -0.08275785564886651, -0.8790177646309533, 0.20479019536254356, -0.5127078447932505, -0.7641431592122182, -0.33851861855128484, -0.35062323263227924, -0.7841079536593122, -0.4544993656852717, -0.1752027648136447, -0.8670411416006698, -0.07568912144323112, -0.31895350472637723};
const Vec rnn_h{0.1600943509646949, -0.6106214967329825, -0.8555644989908009, -0.8602105265624109, 0.08971523975090225, -0.3423779336822589, -0.9315228666264856, -0.15594851586720654, -0.08544564561751826, -0.8670411416006698, -0.07568912144323112, -0.31895350472637723, -0.7641431592122182, -0.33851861855128484, -0.35062323263227924, -0.7841079536593122, -0.4544993656852717, -0.1752027648136447};
// clang-format on

}  // namespace

TEST_CASE("LSTM proj_size: PyTorch's parameters, shapes and numbers") {
  nn::LSTM m({.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true, .proj_size = 2});
  const std::vector<std::string> want{
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",           "bias_hh_l0",
      "weight_hr_l0",         "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
      "bias_hh_l0_reverse",   "weight_hr_l0_reverse", "weight_ih_l1",         "weight_hh_l1",
      "bias_ih_l1",           "bias_hh_l1",           "weight_hr_l1",         "weight_ih_l1_reverse",
      "weight_hh_l1_reverse", "bias_ih_l1_reverse",   "bias_hh_l1_reverse",   "weight_hr_l1_reverse"};
  CHECK(names_of(m.named_parameters()) == want);
  xg::NamedTensors np = m.named_parameters();
  CHECK(np[1].second.shape() == xg::Shape{16, 2});   // weight_hh reads the projected h
  CHECK(np[4].second.shape() == xg::Shape{2, 4});    // weight_hr [proj_size, hidden_size]
  CHECK(np[10].second.shape() == xg::Shape{16, 4});  // layer 1 reads 2 directions x proj_size
  CHECK(m.repr() == "LSTM(3, 4, num_layers=2, bidirectional=true, proj_size=2)");
  for (const auto& p : np) {  // U(-1/sqrt(hidden), 1/sqrt(hidden)), weight_hr included
    const Vec v = p.second.to_vector<double>();
    for (double e : v) CHECK(std::abs(e) <= 0.5);
  }
  fill(m);
  nn::LSTMOutput o = m.forward(det({3, 2, 3}), {det({4, 2, 2}, 0.3, 0.1), det({4, 2, 4}, 0.5, 0.2)});
  CHECK(o.output.shape() == xg::Shape{3, 2, 4});
  CHECK(o.h_n.shape() == xg::Shape{4, 2, 2});
  CHECK(o.c_n.shape() == xg::Shape{4, 2, 4});
  check_values(o.output, proj_out);
  check_values(o.h_n, proj_h);
  check_values(o.c_n, proj_c);
  CHECK_ERROR(m.forward(det({3, 2, 3}), {det({4, 2, 4}), Tensor()}), xg::ShapeError, "LSTM: h0", "[4, 2, 4]",
              "[4, 2, 2]", "proj_size");
}

TEST_CASE("proj_size is for LSTM only and smaller than hidden_size") {
  CHECK_ERROR(nn::GRU({.input_size = 3, .hidden_size = 4, .proj_size = 2}), xg::ValueError,
              "GRU: proj_size is for LSTM only", "2");
  CHECK_ERROR(nn::RNN({.input_size = 3, .hidden_size = 4, .proj_size = 2}), xg::ValueError, "RNN: proj_size");
  CHECK_ERROR(nn::LSTM({.input_size = 3, .hidden_size = 4, .proj_size = 4}), xg::ValueError,
              "LSTM: proj_size 4 must be smaller than hidden_size 4");
  CHECK_ERROR(nn::LSTM({.input_size = 3, .hidden_size = 4, .proj_size = -1}), xg::ValueError,
              "LSTM: proj_size", "-1");
}

TEST_CASE("pack_padded_sequence and pad_packed_sequence: PyTorch's layout") {
  const Tensor x = det({4, 4, 2});
  nn::PackedSequence p = nn::pack_padded_sequence(x, i64({2, 4, 1, 3}), false, false);
  CHECK(ints(p.batch_sizes) == std::vector<int64_t>{4, 3, 2, 1});
  CHECK(ints(p.sorted_indices) == std::vector<int64_t>{1, 3, 0, 2});
  CHECK(ints(p.unsorted_indices) == std::vector<int64_t>{2, 0, 3, 1});
  CHECK(p.data.shape() == xg::Shape{10, 2});
  // step 0 holds sequences 1, 3, 0, 2; step 1 sequences 1, 3, 0; step 3 sequence 1
  const Vec xv = x.to_vector<double>(), d = p.data.to_vector<double>();
  auto at = [&](int64_t t, int64_t b, int64_t f) {
    return xv[static_cast<std::size_t>((t * 4 + b) * 2 + f)];
  };
  CHECK(d[0] == at(0, 1, 0));
  CHECK(d[3] == at(0, 3, 1));
  CHECK(d[7] == at(0, 2, 1));
  CHECK(d[8] == at(1, 1, 0));
  CHECK(d[19] == at(3, 1, 1));

  SUBCASE("pad_packed_sequence restores the order, pads, total_length, batch_first") {
    nn::PaddedSequence back = nn::pad_packed_sequence(p, false, -2.0);
    CHECK(ints(back.lengths) == std::vector<int64_t>{2, 4, 1, 3});
    const Vec bv = back.output.to_vector<double>();
    for (int64_t t = 0; t < 4; ++t)
      for (int64_t b = 0; b < 4; ++b) {
        const int64_t len = std::vector<int64_t>{2, 4, 1, 3}[static_cast<std::size_t>(b)];
        for (int64_t f = 0; f < 2; ++f)
          CHECK(bv[static_cast<std::size_t>((t * 4 + b) * 2 + f)] == (t < len ? at(t, b, f) : -2.0));
      }
    nn::PaddedSequence bf = nn::pad_packed_sequence(p, true, 0.0, 6);
    CHECK(bf.output.shape() == xg::Shape{4, 6, 2});
    CHECK(bf.output.to_vector<double>()[static_cast<std::size_t>((1 * 6 + 3) * 2)] == at(3, 1, 0));
    CHECK_ERROR(nn::pad_packed_sequence(p, false, 0.0, 3), xg::ValueError,
                "pad_packed_sequence: total_length 3", "longest sequence, 4");
  }
  SUBCASE("enforce_sorted keeps the order and records no permutation; batch_first") {
    nn::PackedSequence s = nn::pack_padded_sequence(xg::transpose(x, 0, 1), {4, 3, 3, 1}, true, true);
    CHECK(ints(s.batch_sizes) == std::vector<int64_t>{4, 3, 3, 1});
    CHECK_FALSE(s.sorted_indices.defined());
    CHECK(s.data.to_vector<double>()[2] == at(0, 1, 0));
  }
  SUBCASE("pad_sequence and pack_sequence") {
    const Tensor a = det({3, 2}), b = det({1, 2}, 0.5), c = det({2, 2}, 0.2);
    Tensor padded = nn::pad_sequence({a, b, c}, true, 9.0);
    CHECK(padded.shape() == xg::Shape{3, 3, 2});
    const Vec pv = padded.to_vector<double>();
    CHECK(pv[6] == b.to_vector<double>()[0]);
    CHECK(pv[8] == 9.0);
    CHECK(nn::pad_sequence({a, b, c}).shape() == xg::Shape{3, 3, 2});
    nn::PackedSequence ps = nn::pack_sequence({a, b, c}, false);
    CHECK(ints(ps.batch_sizes) == std::vector<int64_t>{3, 2, 1});
    CHECK(ints(ps.sorted_indices) == std::vector<int64_t>{0, 2, 1});
    CHECK_ERROR(nn::pack_sequence({a, b, c}), xg::ValueError, "pack_sequence:", "{3, 1, 2}",
                "enforce_sorted");
    CHECK_ERROR(nn::pack_sequence({a, xg::zeros({0, 2}, {.dtype = Dtype::float64})}, false), xg::ValueError,
                "pack_sequence: sequence 1 is empty");
    CHECK_ERROR(nn::pad_sequence({a, det({2, 3})}), xg::ShapeError, "pad_sequence: sequence 1", "[2, 3]");
  }
  SUBCASE("bad lengths name the function and the value") {
    CHECK_ERROR(nn::pack_padded_sequence(x, {2, 4, 1, 3}), xg::ValueError,
                "pack_padded_sequence:", "enforce_sorted", "lengths[0] = 2 < lengths[1] = 4");
    CHECK_ERROR(nn::pack_padded_sequence(x, {4, 0, 0, 0}), xg::ValueError,
                "pack_padded_sequence:", "lengths[1] = 0");
    CHECK_ERROR(nn::pack_padded_sequence(x, {5, 4, 1, 3}, false, false), xg::ValueError,
                "pack_padded_sequence: lengths[0] = 5 exceeds the input's 4 steps");
    CHECK_ERROR(nn::pack_padded_sequence(x, {4, 3}), xg::ShapeError,
                "pack_padded_sequence: 2 lengths for a batch of 4");
    CHECK_ERROR(nn::pack_padded_sequence(x, det({4})), xg::TypeError,
                "pack_padded_sequence: lengths must be");
  }
}

TEST_CASE("packed GRU, LSTM (proj_size, batch_first) and RNN against PyTorch") {
  SUBCASE("GRU 2 layers bidirectional, unsorted lengths, h0 in the original order") {
    nn::GRU g({.input_size = 2, .hidden_size = 3, .num_layers = 2, .bidirectional = true});
    fill(g);
    nn::PackedSequence p = nn::pack_padded_sequence(det({4, 4, 2}), {2, 4, 1, 3}, false, false);
    nn::PackedRNNOutput o = g.forward(p, det({4, 4, 3}, 0.3, 0.1));
    CHECK(ints(o.output.batch_sizes) == std::vector<int64_t>{4, 3, 2, 1});
    CHECK(ints(o.output.unsorted_indices) == std::vector<int64_t>{2, 0, 3, 1});
    check_values(o.output.data, gru_data);
    check_values(o.h_n, gru_h);
  }
  SUBCASE("LSTM proj_size bidirectional batch_first, zero state; padded back") {
    nn::LSTM l(
        {.input_size = 2, .hidden_size = 3, .batch_first = true, .bidirectional = true, .proj_size = 2});
    fill(l);
    nn::PackedSequence p = nn::pack_padded_sequence(det({3, 4, 2}), {2, 4, 1}, true, false);
    nn::PackedLSTMOutput o = l.forward(p);
    check_values(o.output.data, lstm_data);
    check_values(o.h_n, lstm_h);
    check_values(o.c_n, lstm_c);
    check_values(nn::pad_packed_sequence(o.output, true, -1.0, 5).output, lstm_padded);
  }
  SUBCASE("RNN 2 layers, sorted lengths") {
    nn::RNN r(2, 3, 2);
    fill(r);
    nn::PackedRNNOutput o = r.forward(nn::pack_padded_sequence(det({3, 3, 2}), {3, 2, 2}));
    CHECK_FALSE(o.output.sorted_indices.defined());
    check_values(o.output.data, rnn_data);
    check_values(o.h_n, rnn_h);
  }
}

TEST_CASE("a packed batch equals each sequence run alone; padding changes nothing, gets no gradient") {
  xg::manual_seed(31);
  const std::vector<int64_t> lengths{3, 5, 1, 4};
  const int64_t T = 5, B = 4, in = 2;
  nn::LSTM lstm({.input_size = in, .hidden_size = 4, .num_layers = 2, .bidirectional = true, .proj_size = 3});
  nn::GRU gru({.input_size = in, .hidden_size = 3, .num_layers = 2, .bidirectional = true});
  nn::RNN rnn({.input_size = in, .hidden_size = 3, .num_layers = 2, .bidirectional = true});
  lstm.to(Dtype::float64);
  gru.to(Dtype::float64);
  rnn.to(Dtype::float64);
  const Tensor x = xg::randn({T, B, in}, {.dtype = Dtype::float64});
  // the same valid values, other padding
  Tensor x2 = x.clone();
  {
    Vec v = x2.to_vector<double>();
    for (int64_t t = 0; t < T; ++t)
      for (int64_t b = 0; b < B; ++b)
        if (t >= lengths[static_cast<std::size_t>(b)])
          for (int64_t f = 0; f < in; ++f)
            v[static_cast<std::size_t>((t * B + b) * in + f)] = 100.0 + double(t);
    x2 = xg::tensor(v, x.shape(), {.dtype = Dtype::float64});
  }
  auto run = [&](nn::RNNBase& m, const Tensor& input) -> std::vector<Tensor> {
    nn::PackedSequence p = nn::pack_padded_sequence(input, lengths, false, false);
    if (auto* l = dynamic_cast<nn::LSTM*>(&m)) {
      nn::PackedLSTMOutput o = l->forward(p);
      return {nn::pad_packed_sequence(o.output).output, o.h_n, o.c_n};
    }
    nn::PackedRNNOutput o = dynamic_cast<nn::GRU*>(&m) ? dynamic_cast<nn::GRU&>(m).forward(p)
                                                       : dynamic_cast<nn::RNN&>(m).forward(p);
    return {nn::pad_packed_sequence(o.output).output, o.h_n};
  };
  for (nn::RNNBase* m : std::vector<nn::RNNBase*>{&lstm, &gru, &rnn}) {
    CAPTURE(m->type_name());
    Tensor xr = x.detach().requires_grad_(true);
    const std::vector<Tensor> a = run(*m, xr), b = run(*m, x2);
    for (std::size_t k = 0; k < a.size(); ++k) CHECK(a[k].to_vector<double>() == b[k].to_vector<double>());
    // each sequence alone (unbatched, its valid steps only)
    for (int64_t s = 0; s < B; ++s) {
      const int64_t len = lengths[static_cast<std::size_t>(s)];
      const Tensor xs = xg::squeeze(xg::slice(xg::slice(x, 1, s, s + 1), 0, 0, len), 1);
      Tensor out, h, c;
      if (auto* l = dynamic_cast<nn::LSTM*>(m)) {
        nn::LSTMOutput o = l->forward(xs, {});
        out = o.output, h = o.h_n, c = o.c_n;
      } else {
        nn::RNNOutput o = dynamic_cast<nn::GRU*>(m) ? dynamic_cast<nn::GRU*>(m)->forward(xs, Tensor())
                                                    : dynamic_cast<nn::RNN*>(m)->forward(xs, Tensor());
        out = o.output, h = o.h_n;
      }
      check_close(xg::squeeze(xg::slice(xg::slice(a[0], 1, s, s + 1), 0, 0, len), 1).to_vector<double>(),
                  out.to_vector<double>(), 1e-13);
      check_close(xg::squeeze(xg::slice(a[1], 1, s, s + 1), 1).to_vector<double>(), h.to_vector<double>(),
                  1e-13);
      if (c.defined())
        check_close(xg::squeeze(xg::slice(a[2], 1, s, s + 1), 1).to_vector<double>(), c.to_vector<double>(),
                    1e-13);
      // the padded output rows are the padding value
      if (len < T) CHECK(xg_test::max_abs(xg::slice(xg::slice(a[0], 1, s, s + 1), 0, len, T)) == 0.0);
    }
    // gradient at the padded positions: exactly 0; at the valid ones: not all 0
    Tensor loss = xg::sum(a[0] * a[0]) + xg::sum(a[1]);
    loss.backward();
    const Vec gx = xr.grad().to_vector<double>();
    for (int64_t t = 0; t < T; ++t)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t f = 0; f < in; ++f) {
          const double gv = gx[static_cast<std::size_t>((t * B + b) * in + f)];
          if (t >= lengths[static_cast<std::size_t>(b)])
            CHECK(gv == 0.0);
          else
            CHECK(gv != 0.0);
        }
  }
}

// The gradchecks' common values: float64 leaves and lengths out of order.
const xg::TensorOptions kF64{.dtype = Dtype::float64, .requires_grad = true};
const std::vector<int64_t> kLengths{2, 3, 1};

TEST_CASE("packed LSTM proj_size, 2 layers, bidirectional: gradcheck w.r.t. input, states, parameters") {
  xg::manual_seed(32);
  const xg::TensorOptions& f64 = kF64;
  const std::vector<int64_t>& lengths = kLengths;
  {
    nn::LSTM m({.input_size = 2, .hidden_size = 3, .num_layers = 2, .bidirectional = true, .proj_size = 2});
    m.to(Dtype::float64);
    std::vector<Tensor> in{xg::randn({3, 3, 2}, f64), xg::randn({4, 3, 2}, f64), xg::randn({4, 3, 3}, f64)};
    for (const Tensor& p : m.parameters()) in.push_back(p);
    xg::GradcheckReport r =
        xg::gradcheck(xg::MultiFunction([&](const std::vector<Tensor>& v) {
                        nn::PackedLSTMOutput o =
                            m.forward(nn::pack_padded_sequence(v[0], lengths, false, false), {v[1], v[2]});
                        return std::vector<Tensor>{o.output.data, o.h_n, o.c_n};
                      }),
                      in);
    CHECK_MESSAGE(r.passed, r.str());
    CHECK(r.inputs_checked == 3 + 20);
  }
}

TEST_CASE("packed GRU and RNN, 2 layers, bidirectional, padded back: gradcheck") {
  xg::manual_seed(33);
  const xg::TensorOptions& f64 = kF64;
  const std::vector<int64_t>& lengths = kLengths;
  {
    nn::GRU g({.input_size = 2, .hidden_size = 2, .num_layers = 2, .bidirectional = true});
    nn::RNN r({.input_size = 2, .hidden_size = 2, .num_layers = 2, .bidirectional = true});
    for (nn::RNNBase* m : std::vector<nn::RNNBase*>{&g, &r}) {
      m->to(Dtype::float64);
      std::vector<Tensor> in{xg::randn({3, 3, 2}, f64), xg::randn({4, 3, 2}, f64)};
      for (const Tensor& p : m->parameters()) in.push_back(p);
      xg::GradcheckReport rep = xg::gradcheck(
          xg::MultiFunction([&](const std::vector<Tensor>& v) {
            nn::PackedSequence p = nn::pack_padded_sequence(v[0], lengths, false, false);
            nn::PackedRNNOutput o = m == &g ? g.forward(p, v[1]) : r.forward(p, v[1]);
            return std::vector<Tensor>{nn::pad_packed_sequence(o.output, true, 0.5).output, o.h_n};
          }),
          in);
      CHECK_MESSAGE(rep.passed, m->type_name(), ": ", rep.str());
    }
  }
}

TEST_CASE("pack_sequence, pad_packed_sequence, pad_sequence: gradcheck") {
  xg::manual_seed(34);
  const xg::TensorOptions& f64 = kF64;
  {
    std::vector<Tensor> in{xg::randn({2, 2}, f64), xg::randn({3, 2}, f64)};
    xg::GradcheckReport rep =
        xg::gradcheck(xg::MultiFunction([&](const std::vector<Tensor>& v) {
                        return std::vector<Tensor>{
                            nn::pad_packed_sequence(nn::pack_sequence(v, false), false, 0.0, 4).output,
                            nn::pad_sequence(v, true, 1.0)};
                      }),
                      in);
    CHECK_MESSAGE(rep.passed, rep.str());
  }
}

TEST_CASE("packed input errors name the layer") {
  nn::GRU g(2, 3);
  nn::PackedSequence p = nn::pack_padded_sequence(det({3, 2, 2}), {3, 2});
  CHECK_ERROR(g.forward(p, det({1, 3, 3})), xg::ShapeError, "GRU: h0", "[1, 3, 3]", "[1, 2, 3]");
  nn::PackedSequence bad = p;
  bad.data = det({5, 4});
  CHECK_ERROR(g.forward(bad), xg::ShapeError, "GRU: a packed input's data", "input_size = 2", "[5, 4]");
  bad = p;
  bad.data = det({4, 2});
  CHECK_ERROR(g.forward(bad), xg::ShapeError, "GRU: a packed input's batch_sizes add up to 5", "4 rows");
}
