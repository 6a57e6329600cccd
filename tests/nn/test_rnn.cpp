// RNNCell, LSTMCell, GRUCell against explicit scalar formulas; RNN/LSTM/GRU over sequences against
// the cells step by step (layers, directions, batch_first, unbatched, initial states); PyTorch's
// parameter names, shapes and initialisation range; state_dict round trips; errors; float64
// gradchecks w.r.t. inputs, initial states and every parameter.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/rnn.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;
using Vec = std::vector<double>;

using xg_test::check_close;
using xg_test::names_of;

double sigm(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

// Row r of W [rows, cols] (row-major values) dotted with v.
double row_dot(const Vec& w, std::size_t cols, std::size_t r, const Vec& v) {
  double s = 0;
  for (std::size_t j = 0; j < cols; ++j) s += w[r * cols + j] * v[j];
  return s;
}

// Pre-activation of gate row r: W_ih[r] x + b_ih[r] + W_hh[r] h + b_hh[r].
struct CellValues {
  Vec wih, whh, bih, bhh;
  std::size_t in, hid;
  template <class Cell>
  explicit CellValues(const Cell& c)
      : wih(c.weight_ih.template to_vector<double>()),
        whh(c.weight_hh.template to_vector<double>()),
        bih(c.bias_ih.template to_vector<double>()),
        bhh(c.bias_hh.template to_vector<double>()),
        in(static_cast<std::size_t>(c.input_size())),
        hid(static_cast<std::size_t>(c.hidden_size())) {}
  double xpart(std::size_t r, const Vec& x) const { return row_dot(wih, in, r, x) + bih[r]; }
  double hpart(std::size_t r, const Vec& h) const { return row_dot(whh, hid, r, h) + bhh[r]; }
};

Vec row(const Vec& m, std::size_t cols, std::size_t r) {
  return Vec(m.begin() + static_cast<long>(r * cols), m.begin() + static_cast<long>((r + 1) * cols));
}

// Copies parameters of layer `layer` (direction `reverse`) of a sequence module into a cell.
template <class Cell>
void copy_into(Cell& cell, const xg::nn::RNNBase& m, int64_t layer, bool reverse = false) {
  std::vector<Tensor> p = m.layer_parameters(layer, reverse);
  xg::NoGradGuard g;
  cell.weight_ih.copy_(p[0]);
  cell.weight_hh.copy_(p[1]);
  if (p.size() > 2) {
    cell.bias_ih.copy_(p[2]);
    cell.bias_hh.copy_(p[3]);
  }
}

// The [T, B, F] tensor's step t as [B, F].
Tensor step(const Tensor& seq, int64_t t) {
  return xg::squeeze(xg::slice(seq, 0, t, t + 1), 0);
}

}  // namespace

TEST_CASE("RNNCell: tanh and relu against scalar formulas") {
  xg::manual_seed(11);
  for (auto act : {xg::nn::RNNActivation::tanh, xg::nn::RNNActivation::relu}) {
    xg::nn::RNNCell cell(3, 2, {.nonlinearity = act});
    Tensor x = xg::randn({2, 3}), h = xg::randn({2, 2});
    Tensor y = cell.forward(x, h);
    CHECK(y.shape() == xg::Shape{2, 2});
    CellValues p(cell);
    Vec xs = x.to_vector<double>(), hs = h.to_vector<double>(), want;
    for (std::size_t b = 0; b < 2; ++b)
      for (std::size_t r = 0; r < 2; ++r) {
        const double pre = p.xpart(r, row(xs, 3, b)) + p.hpart(r, row(hs, 2, b));
        want.push_back(act == xg::nn::RNNActivation::tanh ? std::tanh(pre) : std::max(pre, 0.0));
      }
    check_close(y.to_vector<double>(), want);
    // no state: zeros
    Tensor y0 = cell.forward(x);
    check_close(y0.to_vector<double>(), cell.forward(x, xg::zeros({2, 2})).to_vector<double>(), 0);
  }
  CHECK(xg::nn::RNNCell(3, 2, {.nonlinearity = xg::nn::RNNActivation::relu}).repr() ==
        "RNNCell(3, 2, nonlinearity=relu)");
}

TEST_CASE("LSTMCell: one step against scalar formulas (gates i, f, g, o)") {
  xg::manual_seed(12);
  xg::nn::LSTMCell cell(2, 3);
  CHECK(names_of(cell.named_parameters()) ==
        std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"});
  CHECK(cell.weight_ih.shape() == xg::Shape{12, 2});
  CHECK(cell.weight_hh.shape() == xg::Shape{12, 3});
  CHECK(cell.bias_ih.shape() == xg::Shape{12});
  CHECK(cell.bias_hh.shape() == xg::Shape{12});
  Tensor x = xg::randn({2, 2}), h = xg::randn({2, 3}), c = xg::randn({2, 3});
  xg::nn::LSTMState s = cell.forward(x, {h, c});
  CellValues p(cell);
  Vec xs = x.to_vector<double>(), hs = h.to_vector<double>(), cs = c.to_vector<double>(), want_h, want_c;
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t j = 0; j < 3; ++j) {
      auto pre = [&](std::size_t gate) {
        return p.xpart(gate * 3 + j, row(xs, 2, b)) + p.hpart(gate * 3 + j, row(hs, 3, b));
      };
      const double i = sigm(pre(0)), f = sigm(pre(1)), g = std::tanh(pre(2)), o = sigm(pre(3));
      const double cn = f * cs[b * 3 + j] + i * g;
      want_c.push_back(cn);
      want_h.push_back(o * std::tanh(cn));
    }
  check_close(s.h.to_vector<double>(), want_h);
  check_close(s.c.to_vector<double>(), want_c);
  CHECK(cell.forward(x).shape() == xg::Shape{2, 3});

  SUBCASE("unbatched [in] input and [H] states") {
    xg::nn::LSTMState u = cell.forward(step(x, 0), {step(h, 0), step(c, 0)});
    CHECK(u.h.shape() == xg::Shape{3});
    check_close(u.h.to_vector<double>(), Vec(want_h.begin(), want_h.begin() + 3));
    check_close(u.c.to_vector<double>(), Vec(want_c.begin(), want_c.begin() + 3));
  }
}

TEST_CASE("GRUCell: one step against PyTorch's formula (gates r, z, n)") {
  xg::manual_seed(13);
  xg::nn::GRUCell cell(3, 2);
  CHECK(cell.weight_ih.shape() == xg::Shape{6, 3});
  CHECK(cell.weight_hh.shape() == xg::Shape{6, 2});
  Tensor x = xg::randn({2, 3}), h = xg::randn({2, 2});
  Tensor y = cell.forward(x, h);
  CellValues p(cell);
  Vec xs = x.to_vector<double>(), hs = h.to_vector<double>(), want;
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t j = 0; j < 2; ++j) {
      const Vec xb = row(xs, 3, b), hb = row(hs, 2, b);
      const double r = sigm(p.xpart(j, xb) + p.hpart(j, hb));
      const double z = sigm(p.xpart(2 + j, xb) + p.hpart(2 + j, hb));
      const double n = std::tanh(p.xpart(4 + j, xb) + r * p.hpart(4 + j, hb));
      want.push_back((1 - z) * n + z * hb[j]);
    }
  check_close(y.to_vector<double>(), want);
}

TEST_CASE("cells without bias, initialisation range") {
  xg::nn::GRUCell nb(3, 4, {.bias = false});
  CHECK(names_of(nb.named_parameters()) == std::vector<std::string>{"weight_ih", "weight_hh"});
  CHECK(nb.repr() == "GRUCell(3, 4, bias=false)");
  CHECK(nb.forward(xg::randn({2, 3})).shape() == xg::Shape{2, 4});
  xg::nn::LSTM lstm(5, 16, 2);
  REQUIRE(lstm.parameters().size() == 8);  // 2 layers x (weight_ih, weight_hh, bias_ih, bias_hh)
  for (const Tensor& p : lstm.parameters()) {
    const Vec v = p.to_vector<double>();
    double lo = 1, hi = -1;
    for (double e : v) lo = std::min(lo, e), hi = std::max(hi, e);
    CHECK(lo >= -0.25);
    CHECK(hi <= 0.25);
    CHECK(hi - lo > 0.2);  // spread over the range, not constant
  }
}

TEST_CASE("RNN/LSTM/GRU parameter names and shapes as PyTorch") {
  xg::nn::LSTM lstm({.input_size = 10, .hidden_size = 20, .num_layers = 2, .bidirectional = true});
  const std::vector<std::string> want{
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",         "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
  CHECK(names_of(lstm.named_parameters()) == want);
  xg::NamedTensors np = lstm.named_parameters();
  CHECK(np[0].second.shape() == xg::Shape{80, 10});
  CHECK(np[1].second.shape() == xg::Shape{80, 20});
  CHECK(np[2].second.shape() == xg::Shape{80});
  CHECK(np[8].second.shape() == xg::Shape{80, 40});  // layer 1 reads both directions
  CHECK(lstm.repr() == "LSTM(10, 20, num_layers=2, bidirectional=true)");

  xg::nn::GRU gru(4, 3);
  CHECK(names_of(gru.named_parameters()) ==
        std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"});
  CHECK(gru.named_parameters()[0].second.shape() == xg::Shape{9, 4});
  xg::nn::RNN rnn({.input_size = 4, .hidden_size = 3, .num_layers = 3, .bias = false});
  CHECK(names_of(rnn.named_parameters()) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0",
                                                                     "weight_ih_l1", "weight_hh_l1",
                                                                     "weight_ih_l2", "weight_hh_l2"});
  CHECK(rnn.named_parameters()[2].second.shape() == xg::Shape{3, 3});
  CHECK(rnn.repr() == "RNN(4, 3, num_layers=3, bias=false)");
}

TEST_CASE("LSTM over a sequence equals the cell applied step by step, layer by layer") {
  xg::manual_seed(14);
  const int64_t T = 4, B = 2, in = 3, H = 5;
  xg::nn::LSTM lstm(in, H, 2);
  Tensor x = xg::randn({T, B, in}), h0 = xg::randn({2, B, H}), c0 = xg::randn({2, B, H});
  xg::nn::LSTMOutput out = lstm.forward(x, {h0, c0});
  CHECK(out.output.shape() == xg::Shape{T, B, H});
  CHECK(out.h_n.shape() == xg::Shape{2, B, H});
  CHECK(out.c_n.shape() == xg::Shape{2, B, H});

  xg::nn::LSTMCell c0cell(in, H), c1cell(H, H);
  copy_into(c0cell, lstm, 0);
  copy_into(c1cell, lstm, 1);
  xg::nn::LSTMState s0{step(h0, 0), step(c0, 0)}, s1{step(h0, 1), step(c0, 1)};
  std::vector<Tensor> top;
  for (int64_t t = 0; t < T; ++t) {
    s0 = c0cell.forward(step(x, t), s0);
    s1 = c1cell.forward(s0.h, s1);
    top.push_back(s1.h);
  }
  check_close(out.output.to_vector<double>(), xg::stack(top, 0).to_vector<double>());
  check_close(out.h_n.to_vector<double>(), xg::stack({s0.h, s1.h}, 0).to_vector<double>());
  check_close(out.c_n.to_vector<double>(), xg::stack({s0.c, s1.c}, 0).to_vector<double>());

  SUBCASE("no initial state means zeros; forward(x) is the output") {
    xg::nn::LSTMOutput z = lstm.forward(x, {});
    xg::nn::LSTMOutput zz = lstm.forward(x, {xg::zeros({2, B, H}), xg::zeros({2, B, H})});
    check_close(z.output.to_vector<double>(), zz.output.to_vector<double>(), 0);
    check_close(lstm.forward(x).to_vector<double>(), zz.output.to_vector<double>(), 0);
  }
  SUBCASE("batch_first gives the transposed layout") {
    xg::nn::LSTM bf({.input_size = in, .hidden_size = H, .num_layers = 2, .batch_first = true});
    bf.load_state_dict(lstm.state_dict());
    xg::nn::LSTMOutput o = bf.forward(xg::transpose(x, 0, 1), {h0, c0});
    CHECK(o.output.shape() == xg::Shape{B, T, H});
    check_close(o.output.to_vector<double>(), xg::transpose(out.output, 0, 1).to_vector<double>());
    check_close(o.h_n.to_vector<double>(), out.h_n.to_vector<double>());
  }
  SUBCASE("unbatched [T, in]") {
    xg::nn::LSTMOutput u =
        lstm.forward(xg::squeeze(xg::slice(x, 1, 1, 2), 1),
                     {xg::squeeze(xg::slice(h0, 1, 1, 2), 1), xg::squeeze(xg::slice(c0, 1, 1, 2), 1)});
    CHECK(u.output.shape() == xg::Shape{T, H});
    CHECK(u.h_n.shape() == xg::Shape{2, H});
    check_close(u.output.to_vector<double>(),
                xg::squeeze(xg::slice(out.output, 1, 1, 2), 1).to_vector<double>());
    check_close(u.c_n.to_vector<double>(), xg::squeeze(xg::slice(out.c_n, 1, 1, 2), 1).to_vector<double>());
  }
}

TEST_CASE("bidirectional GRU: the reverse direction reads the sequence from the end") {
  xg::manual_seed(15);
  const int64_t T = 3, B = 2, in = 2, H = 3;
  xg::nn::GRU gru({.input_size = in, .hidden_size = H, .bidirectional = true});
  Tensor x = xg::randn({T, B, in});
  xg::nn::RNNOutput out = gru.forward(x, Tensor());
  CHECK(out.output.shape() == xg::Shape{T, B, 2 * H});
  CHECK(out.h_n.shape() == xg::Shape{2, B, H});
  xg::nn::GRUCell fw(in, H), bw(in, H);
  copy_into(fw, gru, 0, false);
  copy_into(bw, gru, 0, true);
  std::vector<Tensor> f(T), b(T);
  Tensor hf, hb;
  for (int64_t t = 0; t < T; ++t) {
    hf = fw.forward(step(x, t), hf);
    f[static_cast<std::size_t>(t)] = hf;
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    hb = bw.forward(step(x, t), hb);
    b[static_cast<std::size_t>(t)] = hb;
  }
  check_close(out.output.to_vector<double>(),
              xg::concat({xg::stack(f, 0), xg::stack(b, 0)}, 2).to_vector<double>());
  check_close(out.h_n.to_vector<double>(), xg::stack({hf, hb}, 0).to_vector<double>());
}

TEST_CASE("RNN (relu) over a sequence equals RNNCell step by step") {
  xg::manual_seed(16);
  xg::nn::RNN rnn({.input_size = 2, .hidden_size = 4, .nonlinearity = xg::nn::RNNActivation::relu});
  xg::nn::RNNCell cell(2, 4, {.nonlinearity = xg::nn::RNNActivation::relu});
  copy_into(cell, rnn, 0);
  // 11 steps of an input that requires grad: the steps are cut by recursive halving
  Tensor x = xg::randn({11, 3, 2}, {.requires_grad = true}), h0 = xg::randn({1, 3, 4});
  xg::nn::RNNOutput out = rnn.forward(x, h0);
  Tensor h = step(h0, 0);
  std::vector<Tensor> hs;
  for (int64_t t = 0; t < 11; ++t) hs.push_back(h = cell.forward(step(x, t), h));
  check_close(out.output.to_vector<double>(), xg::stack(hs, 0).to_vector<double>());
  check_close(out.h_n.to_vector<double>(), xg::unsqueeze(h, 0).to_vector<double>());
  // and the gradient w.r.t. x equals the one through explicit steps
  xg::sum(out.output * out.output).backward();
  Tensor g1 = x.grad();
  x.zero_grad();
  xg::sum(xg::stack(hs, 0) * xg::stack(hs, 0)).backward();
  check_close(g1.to_vector<double>(), x.grad().to_vector<double>());
}

TEST_CASE("dropout between layers acts in training only") {
  xg::manual_seed(17);
  xg::nn::GRU gru({.input_size = 3, .hidden_size = 8, .num_layers = 2, .dropout = 0.5});
  Tensor x = xg::randn({4, 2, 3});
  Tensor a = gru.forward(x), b = gru.forward(x);
  CHECK(a.to_vector<double>() != b.to_vector<double>());
  gru.eval();
  CHECK(gru.forward(x).to_vector<double>() == gru.forward(x).to_vector<double>());
}

TEST_CASE("state_dict round trip, to(float64)") {
  xg::manual_seed(18);
  xg::nn::LSTM a({.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
  xg::nn::LSTM b({.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
  Tensor x = xg::randn({3, 2, 3});
  CHECK(a.forward(x).to_vector<double>() != b.forward(x).to_vector<double>());
  b.load_state_dict(a.state_dict());
  CHECK(a.forward(x).to_vector<double>() == b.forward(x).to_vector<double>());
  b.to(Dtype::float64);
  Tensor y = b.forward(x.to(Dtype::float64));
  CHECK(y.dtype() == Dtype::float64);
  check_close(y.to_vector<double>(), a.forward(x).to_vector<double>());
  xg::nn::LSTM other(3, 5);
  CHECK_ERROR(other.load_state_dict(a.state_dict()), xg::ShapeError,
              "LSTM.load_state_dict:", "'weight_ih_l0' has shape [16, 3] in the state, [20, 3] in the model");
}

TEST_CASE("errors name the layer and the shapes") {
  xg::nn::LSTM lstm(3, 4, 2);
  CHECK_ERROR(lstm.forward(xg::randn({5, 2, 7})), xg::ShapeError, "LSTM", "[5, 2, 7]", "input_size 3");
  CHECK_ERROR(lstm.forward(xg::randn({5, 2, 3}), {xg::zeros({1, 2, 4}), Tensor()}), xg::ShapeError, "LSTM",
              "h0", "[1, 2, 4]", "[2, 2, 4]");
  CHECK_ERROR(lstm.forward(xg::randn({2, 3, 4, 3})), xg::ShapeError, "LSTM:", "[2, 3, 4, 3]");
  CHECK_ERROR(lstm.forward(xg::zeros({0, 2, 3})), xg::ValueError, "LSTM: the sequence is empty");
  xg::nn::GRUCell cell(3, 4);
  CHECK_ERROR(cell.forward(xg::randn({2, 3}), xg::randn({3, 4})), xg::ShapeError, "GRUCell", "[3, 4]",
              "[2, 4]");
  CHECK_ERROR(cell.forward(xg::randn({2, 5})), xg::ShapeError, "GRUCell:", "5 features", "input_size 3");
  CHECK_ERROR(xg::nn::LSTM({.input_size = 3, .hidden_size = 4, .nonlinearity = xg::nn::RNNActivation::relu}),
              xg::ValueError, "LSTM: the nonlinearity is fixed");
  CHECK_ERROR(xg::nn::GRU(3, 0), xg::ValueError, "GRU:", "got 3 and 0");
  CHECK_ERROR(lstm.layer_parameters(2), xg::IndexError, "LSTM: no layer 2 among 2 layer(s)");
  CHECK_ERROR(lstm.layer_parameters(0, true), xg::IndexError, "LSTM: no layer 0 (reverse)");
}

TEST_CASE("gradcheck in float64 w.r.t. inputs, states and every parameter") {
  xg::manual_seed(19);
  const xg::TensorOptions f64{.dtype = Dtype::float64, .requires_grad = true};
  SUBCASE("cells") {
    xg::nn::RNNCell rnn(2, 3);
    xg::nn::LSTMCell lstm(2, 3);
    xg::nn::GRUCell gru(2, 3);
    rnn.to(Dtype::float64);
    lstm.to(Dtype::float64);
    gru.to(Dtype::float64);
    Tensor x = xg::randn({2, 2}, f64), h = xg::randn({2, 3}, f64), c = xg::randn({2, 3}, f64);
    auto with_params = [](std::vector<Tensor> in, const xg::nn::Module& m) {
      for (const Tensor& p : m.parameters()) in.push_back(p);
      return in;
    };
    xg::GradcheckReport r1 = xg::gradcheck(
        [&](const std::vector<Tensor>& in) { return rnn.forward(in[0], in[1]); }, with_params({x, h}, rnn));
    CHECK_MESSAGE(r1.passed, r1.str());
    CHECK(r1.inputs_checked == 6);
    xg::GradcheckReport r2 = xg::gradcheck(xg::MultiFunction([&](const std::vector<Tensor>& in) {
                                             xg::nn::LSTMState s = lstm.forward(in[0], {in[1], in[2]});
                                             return std::vector<Tensor>{s.h, s.c};
                                           }),
                                           with_params({x, h, c}, lstm));
    CHECK_MESSAGE(r2.passed, r2.str());
    CHECK(r2.inputs_checked == 7);
    xg::GradcheckReport r3 = xg::gradcheck(
        [&](const std::vector<Tensor>& in) { return gru.forward(in[0], in[1]); }, with_params({x, h}, gru));
    CHECK_MESSAGE(r3.passed, r3.str());
  }
  SUBCASE("two-layer bidirectional LSTM over a sequence") {
    xg::nn::LSTM lstm({.input_size = 2, .hidden_size = 2, .num_layers = 2, .bidirectional = true});
    lstm.to(Dtype::float64);
    Tensor x = xg::randn({3, 2, 2}, f64), h0 = xg::randn({4, 2, 2}, f64), c0 = xg::randn({4, 2, 2}, f64);
    std::vector<Tensor> in{x, h0, c0};
    for (const Tensor& p : lstm.parameters()) in.push_back(p);
    xg::GradcheckReport r = xg::gradcheck(xg::MultiFunction([&](const std::vector<Tensor>& v) {
                                            xg::nn::LSTMOutput o = lstm.forward(v[0], {v[1], v[2]});
                                            return std::vector<Tensor>{o.output, o.h_n, o.c_n};
                                          }),
                                          in);
    CHECK_MESSAGE(r.passed, r.str());
    CHECK(r.inputs_checked == 3 + 16);
  }
  SUBCASE("GRU and RNN with batch_first") {
    xg::nn::GRU gru({.input_size = 2, .hidden_size = 3, .num_layers = 2, .batch_first = true});
    xg::nn::RNN rnn({.input_size = 2, .hidden_size = 3, .batch_first = true});
    gru.to(Dtype::float64);
    rnn.to(Dtype::float64);
    Tensor x = xg::randn({2, 3, 2}, f64), h0 = xg::randn({2, 2, 3}, f64), r0 = xg::randn({1, 2, 3}, f64);
    std::vector<Tensor> in{x, h0};
    for (const Tensor& p : gru.parameters()) in.push_back(p);
    xg::GradcheckReport r = xg::gradcheck(xg::MultiFunction([&](const std::vector<Tensor>& v) {
                                            xg::nn::RNNOutput o = gru.forward(v[0], v[1]);
                                            return std::vector<Tensor>{o.output, o.h_n};
                                          }),
                                          in);
    CHECK_MESSAGE(r.passed, r.str());
    std::vector<Tensor> rin{x, r0};
    for (const Tensor& p : rnn.parameters()) rin.push_back(p);
    xg::GradcheckReport rr =
        xg::gradcheck([&](const std::vector<Tensor>& v) { return rnn.forward(v[0], v[1]).output; }, rin);
    CHECK_MESSAGE(rr.passed, rr.str());
  }
  SUBCASE("a longer sequence (recursive halving of the steps), w.r.t. the input") {
    xg::nn::GRU gru({.input_size = 2, .hidden_size = 2, .bidirectional = true});
    gru.to(Dtype::float64);
    Tensor x = xg::randn({13, 1, 2}, f64);
    xg::GradcheckReport r =
        xg::gradcheck([&](const std::vector<Tensor>& v) { return gru.forward(v[0]); }, {x});
    CHECK_MESSAGE(r.passed, r.str());
  }
}

TEST_CASE("second derivatives: gradgradcheck of an LSTMCell and a GRUCell step") {
  xg::manual_seed(20);
  const xg::TensorOptions f64{.dtype = Dtype::float64, .requires_grad = true};
  xg::nn::LSTMCell lstm(2, 2);
  xg::nn::GRUCell gru(2, 2);
  lstm.to(Dtype::float64);
  gru.to(Dtype::float64);
  Tensor x = xg::randn({1, 2}, f64), h = xg::randn({1, 2}, f64), c = xg::randn({1, 2}, f64);
  xg::GradcheckReport r = xg::gradgradcheck(xg::MultiFunction([&](const std::vector<Tensor>& in) {
                                              xg::nn::LSTMState s = lstm.forward(in[0], {in[1], in[2]});
                                              return std::vector<Tensor>{s.h, s.c};
                                            }),
                                            {x, h, c, lstm.weight_hh});
  CHECK_MESSAGE(r.passed, r.str());
  xg::GradcheckReport r2 = xg::gradgradcheck(
      [&](const std::vector<Tensor>& in) { return gru.forward(in[0], in[1]); }, {x, h, gru.weight_ih});
  CHECK_MESSAGE(r2.passed, r2.str());
}

TEST_CASE("RNN dropout draws from options.generator: the default generator's masks, left untouched") {
  const xg::nn::RNNOptions o{.input_size = 3, .hidden_size = 4, .num_layers = 3, .dropout = 0.5};
  xg::nn::RNNOptions og = o;
  og.generator = std::make_shared<xg::Generator>(9);
  xg::manual_seed(1);
  xg::nn::RNN a(o);
  xg::manual_seed(1);
  xg::nn::RNN b(og);  // the same initial weights
  const Tensor x = xg::randn({5, 2, 3});
  xg::manual_seed(9);
  const std::vector<float> ya = a.forward(x).to_vector<float>();
  xg::manual_seed(2);
  const std::vector<float> next_default = xg::rand({3}).to_vector<float>();
  xg::manual_seed(2);
  CHECK(b.forward(x).to_vector<float>() == ya);
  CHECK(xg::rand({3}).to_vector<float>() == next_default);
  CHECK(b.forward(x).to_vector<float>() != ya);  // the generator's stream goes on
}
