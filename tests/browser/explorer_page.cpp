// For the browser test (explorer_test.js): writes the explorer page of a small known network into
// DIR/explorer.html, and into DIR/engine.json what the engine computed, for the test to compare
// with what the page shows: each backward step's upstream gradient and the gradient it sent to
// each input (the engine's trace), and each leaf's .grad from a second, plain loss.backward() on
// the same network; and each tape step's scope, and each backward step's inputs (label and
// producing step), for the test's sums over a collapsed call.
//
//   explorer_page DIR NET [--corrupt]
//     NET: mlp (a 3-4-2 MLP in float64, a 10 x 10 parameter too), cnn (conv, relu, max pool,
//          linear, cross-entropy, xg::nn modules in float32) or lstm (an xg::nn::LSTM over 4
//          steps, then a linear layer and an MSE)
//     --corrupt: one number of engine.json off by 1e-5 relative, which the test must catch
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "xgrad/autograd/tools/inspect.hpp"
#include "xgrad/nn/nn.hpp"
#include "xgrad/xgrad.hpp"

namespace {

struct Net {
  xg::Tensor L;
  std::vector<xg::Tensor> leaves;  // named
};

// A 3-4-2 MLP (tanh, sigmoid) on a batch of 4 with a mean squared error, plus a small penalty on
// a 10 x 10 parameter E: its gradient has 100 elements, more than the page shows whole.
Net make_mlp() {
  const xg::TensorOptions data{.dtype = xg::Dtype::float64};
  const xg::TensorOptions param{.dtype = xg::Dtype::float64, .requires_grad = true};
  auto seq = [](int n, double a, double b) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) v.push_back(a * std::sin(1.7 * i + b));
    return v;
  };
  const xg::Tensor x = xg::tensor(seq(12, 1.0, 0.3), {4, 3}, data).name("x");
  const xg::Tensor t = xg::tensor({0, 1, 1, 0, 0, 0, 1, 1}, {4, 2}, data).name("t");
  const xg::Tensor W1 = xg::tensor(seq(12, 0.8, 1.1), {4, 3}, param).name("W1");
  const xg::Tensor b1 = xg::tensor(seq(4, 0.1, 2.0), {4}, param).name("b1");
  const xg::Tensor W2 = xg::tensor(seq(8, 0.9, 0.7), {2, 4}, param).name("W2");
  const xg::Tensor b2 = xg::tensor({0.05, -0.05}, {2}, param).name("b2");
  const xg::Tensor E = xg::tensor(seq(100, 1.0, 0.0), {10, 10}, param).name("E");
  xg::Tensor h = xg::tanh(xg::linear(x, W1, b1).name("z1")).name("h");
  xg::Tensor y = xg::sigmoid(xg::linear(h, W2, b2).name("z2")).name("y");
  xg::Tensor e = (y - t).name("e");
  xg::Tensor mse = xg::mean(e * e).name("mse");
  xg::Tensor penalty = (xg::sum(xg::relu(E)) * 0.001).name("penalty");
  return {(mse + penalty).name("L"), {W1, b1, W2, b2, E}};
}

// The parameters of m, named as named_parameters() says ("0.weight").
std::vector<xg::Tensor> named(const xg::nn::Module& m) {
  std::vector<xg::Tensor> r;
  for (auto [name, p] : m.named_parameters()) r.push_back(p.name(name));
  return r;
}

// A small CNN step: conv 1 -> 2 channels 3 x 3, relu, 2 x 2 max pool, linear 8 -> 3, cross-entropy.
Net make_cnn() {
  xg::manual_seed(1);
  auto conv = std::make_shared<xg::nn::Conv2d>(1, 2, xg::Size2{3, 3});
  auto fc = std::make_shared<xg::nn::Linear>(8, 3);
  xg::nn::Sequential model({conv, fc});
  const xg::Tensor x = xg::randn({2, 1, 6, 6}).name("x");
  const xg::Tensor labels = xg::tensor({2, 0}, {.dtype = xg::Dtype::int64}).name("labels");
  xg::Tensor h = xg::max_pool2d(xg::relu(conv->forward(x)), {2, 2});
  xg::Tensor logits = fc->forward(xg::flatten(h, 1)).name("logits");
  return {xg::nn::functional::cross_entropy(logits, labels).name("L"), named(model)};
}

// A small LSTM step: 4 time steps of batch 2, 3 features -> hidden 4, the last output through a
// linear layer 4 -> 1, MSE against a target.
Net make_lstm() {
  xg::manual_seed(2);
  auto lstm = std::make_shared<xg::nn::LSTM>(3, 4);
  auto fc = std::make_shared<xg::nn::Linear>(4, 1);
  xg::nn::Sequential model({lstm, fc});
  const xg::Tensor x = xg::randn({4, 2, 3}).name("x");
  const xg::Tensor t = xg::tensor({0.5, -0.5}, {2, 1}).name("t");
  xg::Tensor out = lstm->forward(x).name("out");
  xg::Tensor y = fc->forward(xg::squeeze(xg::narrow(out, 0, 3, 1), 0)).name("y");
  return {xg::nn::functional::mse_loss(y, t).name("L"), named(model)};
}

Net make_net(const std::string& which) {
  if (which == "mlp") return make_mlp();
  if (which == "cnn") return make_cnn();
  if (which == "lstm") return make_lstm();
  throw xg::ValueError("explorer_page: unknown network '" + which + "' (mlp, cnn or lstm)");
}

nlohmann::json values(const xg::Tensor& t) {
  if (!t.defined()) return nullptr;
  return {{"shape", t.shape().vec()}, {"values", t.to_vector<double>()}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: explorer_page DIR NET [--corrupt]\n";
    return 2;
  }
  const std::string dir = argv[1], which = argv[2];
  const bool corrupt = argc > 3 && std::string(argv[3]) == "--corrupt";
  try {
    nlohmann::json out;
    {
      xg::InspectGuard inspect;
      Net n = make_net(which);
      const std::vector<xg::TapeEntry> tape_before = xg::describe_tape(n.L);
      const xg::HtmlResult r =
          xg::explain_html(n.L, dir + "/explorer.html", {.title = "explorer test: " + which});
      out["forward_steps"] = r.forward_steps;
      nlohmann::json tape = nlohmann::json::array();  // (before the pass frees nothing it needs)
      for (const xg::TapeEntry& e : tape_before) tape.push_back({{"step", e.step}, {"scope", e.scope_path}});
      out["tape"] = tape;
      nlohmann::json steps = nlohmann::json::array();
      for (const xg::BackwardStep& s : r.trace.steps) {
        nlohmann::json grads = nlohmann::json::array(), inputs = nlohmann::json::array();
        for (const xg::Tensor& g : s.grad_inputs) grads.push_back(values(g));
        for (const xg::TapeInput& in : s.inputs)
          inputs.push_back({{"label", in.label}, {"producer", in.producer_step}});
        steps.push_back({{"step", s.step},
                         {"op", s.op},
                         {"upstream", values(s.grad_output)},
                         {"grads", grads},
                         {"inputs", inputs}});
      }
      out["backward"] = steps;
    }
    // The leaves' .grad from a plain backward, with no tool in the way.
    Net n = make_net(which);
    n.L.backward();
    nlohmann::json leaves;
    for (const xg::Tensor& p : n.leaves) leaves[p.name()] = values(p.grad());
    out["leaf_grads"] = leaves;
    if (corrupt)  // the first element of the first gradient the last step sent
      for (auto& g : out["backward"].back()["grads"])
        if (!g.is_null()) {
          g["values"][0] = g["values"][0].get<double>() * (1 + 1e-5);
          break;
        }
    std::ofstream f(dir + "/engine.json");
    f << out.dump(1) << "\n";
    if (!f) throw xg::IOError("explorer_page: cannot write " + dir + "/engine.json");
  } catch (const std::exception& e) {
    std::cerr << "explorer_page: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
