// nn/module.cpp: named_modules() on models on the stack and on the heap (PyTorch's dotted names),
// Sequential's dotted parameter names, state dicts that check names, shapes and dtypes before
// copying, and small user models (a CNN and an LSTM) trained on synthetic tasks, saved, reloaded,
// identical.
#include <doctest/doctest.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/pooling.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/optim/adam.hpp"

using xg::Shape;
using xg::Tensor;
namespace nn = xg::nn;
using xg_test::contains;
using xg_test::param_layout;

namespace {
std::string tmp(const std::string& name) {
  return xg_test::temp_path("module_" + name);
}

// The model of the named_modules() tests, written as user code writes one: sub-modules held by
// shared_ptr members, a Sequential inside a Sequential, a ModuleList of user blocks. The PyTorch
// model of the same structure,
//   class Block(nn.Module): fc = nn.Linear(4, 4); act = nn.ReLU()
//   class Net(nn.Module): layer1 = nn.Sequential(nn.Linear(3, 4), nn.ReLU(),
//                                                nn.Sequential(nn.Linear(4, 4), nn.Tanh()))
//                         blocks = nn.ModuleList([Block(), Block()]); head = nn.Linear(4, 2)
// gives [(name, type(m).__name__) for name, m in Net().named_modules()] == kNetModules.
struct Block : nn::Module {
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::ReLU> act;
  Block() : Module("Block") {
    fc = register_module("fc", std::make_shared<nn::Linear>(4, 4));
    act = register_module("act", std::make_shared<nn::ReLU>());
  }
  Tensor forward(const Tensor& x) override { return act->forward(fc->forward(x)); }
};

struct Net : nn::Module {
  std::shared_ptr<nn::Sequential> layer1;
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::Linear> head;
  Net() : Module("Net") {
    layer1 = register_module("layer1",
                             std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
                                 std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>(),
                                 std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
                                     std::make_shared<nn::Linear>(4, 4), std::make_shared<nn::Tanh>()})}));
    blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
    blocks->push_back(std::make_shared<Block>()).push_back(std::make_shared<Block>());
    head = register_module("head", std::make_shared<nn::Linear>(4, 2));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = layer1->forward(x);
    for (std::size_t i = 0; i < blocks->size(); ++i) h = (*blocks)[i]->forward(h);
    return head->forward(h);
  }
};

using Layout = std::vector<std::pair<std::string, std::string>>;

// (name, type name) of every entry of named_modules(), in order.
Layout layout_of(const std::vector<std::pair<std::string, nn::ModulePtr>>& modules) {
  Layout out;
  for (const auto& [name, m] : modules) out.emplace_back(name, m->type_name());
  return out;
}

const Layout kNetModules = {{"", "Net"},
                            {"layer1", "Sequential"},
                            {"layer1.0", "Linear"},
                            {"layer1.1", "ReLU"},
                            {"layer1.2", "Sequential"},
                            {"layer1.2.0", "Linear"},
                            {"layer1.2.1", "Tanh"},
                            {"blocks", "ModuleList"},
                            {"blocks.0", "Block"},
                            {"blocks.0.fc", "Linear"},
                            {"blocks.0.act", "ReLU"},
                            {"blocks.1", "Block"},
                            {"blocks.1.fc", "Linear"},
                            {"blocks.1.act", "ReLU"},
                            {"head", "Linear"}};
struct SmallCnn : xg::nn::Module {
  std::shared_ptr<xg::nn::Conv2d> conv;
  std::shared_ptr<xg::nn::Linear> fc;
  SmallCnn() : Module("SmallCnn") {
    conv = register_module("conv", std::make_shared<xg::nn::Conv2d>(xg::nn::Conv2dOptions{
                                       .in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}));
    fc = register_module("fc", std::make_shared<xg::nn::Linear>(4 * 4 * 4, 2));
  }
  xg::Tensor forward(const xg::Tensor& x) override {
    xg::Tensor h = xg::nn::functional::max_pool2d(xg::relu(conv->forward(x)), 2);  // [N, 4, 4, 4]
    return fc->forward(xg::flatten(h, 1));
  }
};

struct SmallLstm : xg::nn::Module {
  std::shared_ptr<xg::nn::LSTMCell> cell;
  std::shared_ptr<xg::nn::Linear> fc;
  SmallLstm() : Module("SmallLstm") {
    cell = register_module("cell", std::make_shared<xg::nn::LSTMCell>(1, 8));
    fc = register_module("fc", std::make_shared<xg::nn::Linear>(8, 2));
  }
  xg::Tensor forward(const xg::Tensor& x) override {  // x [T, B, 1]
    xg::nn::LSTMState s;
    for (int64_t t = 0; t < x.size(0); ++t)
      s = cell->forward(xg::reshape(xg::slice(x, 0, t, t + 1), {x.size(1), 1}), s);
    return fc->forward(s.h);
  }
};

// Trains until the loss is below `bound` (at most max_steps), returns the final loss.
double train(xg::nn::Module& m, const xg::Tensor& x, const xg::Tensor& y, double bound, int max_steps) {
  xg::optim::Adam opt(m.parameters(), {.lr = 0.05});
  double loss = 1e9;
  for (int i = 0; i < max_steps && loss > bound; ++i) {
    opt.zero_grad();
    xg::Tensor l = xg::nn::functional::cross_entropy(m.forward(x), y);
    l.backward();
    opt.step();
    loss = l.item();
  }
  return loss;
}

void check_identical_after_reload(xg::nn::Module& trained, xg::nn::Module& fresh, const xg::Tensor& x,
                                  const std::string& path) {
  trained.save(path);
  xg::NoGradGuard g;
  CHECK(trained.forward(x).to_vector<float>() != fresh.forward(x).to_vector<float>());
  fresh.load(path);
  CHECK(trained.forward(x).to_vector<float>() == fresh.forward(x).to_vector<float>());
  std::remove(path.c_str());
}
}  // namespace

// ================================================================ named_modules
TEST_CASE(
    "named_modules of a model on the stack: PyTorch's dotted names, depth first, the modules themselves") {
  Net model;  // as the examples hold their models (shared_from_this used to throw bad_weak_ptr here)
  const auto modules = model.named_modules();
  REQUIRE(modules.size() == 15);
  CHECK(layout_of(modules) == kNetModules);
  CHECK(modules[0].second.get() == &model);
  CHECK(modules[0].second.use_count() == 0);  // no shared_ptr owns the model: the root is only pointed to
  CHECK(modules[1].second == model.layer1);
  CHECK(modules[4].second == (*model.layer1)[2]);
  CHECK(modules[7].second == model.blocks);
  CHECK(modules[8].second == (*model.blocks)[0]);
  CHECK(modules[9].second == model.blocks->at<Block>(0)->fc);
  CHECK(modules[13].second == model.blocks->at<Block>(1)->act);
  CHECK(modules[14].second == model.head);
  // the pointers are the live modules: every Linear by name, as code that walks a model does
  std::vector<std::string> linears;
  for (const auto& [name, m] : modules)
    if (std::dynamic_pointer_cast<nn::Linear>(m)) linears.push_back(name);
  CHECK(linears == std::vector<std::string>{"layer1.0", "layer1.2.0", "blocks.0.fc", "blocks.1.fc", "head"});
  // a sub-module names its own descendants relative to itself
  CHECK(layout_of(model.layer1->named_modules()) == Layout{{"", "Sequential"},
                                                           {"0", "Linear"},
                                                           {"1", "ReLU"},
                                                           {"2", "Sequential"},
                                                           {"2.0", "Linear"},
                                                           {"2.1", "Tanh"}});
  CHECK(model.forward(xg::randn({2, 3})).shape() == Shape{2, 2});
}

TEST_CASE("named_modules of a model on the heap: the same names, and the root's pointer shares ownership") {
  auto model = std::make_shared<Net>();
  const auto modules = model->named_modules();
  REQUIRE(modules.size() == 15);
  CHECK(layout_of(modules) == kNetModules);
  CHECK(modules[0].second == model);
  CHECK(model.use_count() == 2);  // the caller's pointer and the list's
  CHECK(modules[1].second == model->layer1);
  CHECK(modules[14].second == model->head);
  Net on_stack;
  CHECK(layout_of(on_stack.named_modules()) == layout_of(modules));
}

TEST_CASE("named_modules of a single layer and of containers held by value, nested") {
  nn::Linear fc(2, 3);
  const auto one = fc.named_modules();
  REQUIRE(one.size() == 1);
  CHECK(one[0].first == "");
  CHECK(one[0].second.get() == &fc);

  nn::ModuleList list;
  list.push_back(std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
                     std::make_shared<nn::Linear>(2, 2), std::make_shared<nn::ReLU>()}))
      .push_back(std::make_shared<nn::Linear>(2, 1));
  CHECK(layout_of(list.named_modules()) ==
        Layout{{"", "ModuleList"}, {"0", "Sequential"}, {"0.0", "Linear"}, {"0.1", "ReLU"}, {"1", "Linear"}});

  nn::Sequential seq;
  seq.push_back("encoder", std::make_shared<nn::Sequential>(
                               std::vector<nn::ModulePtr>{std::make_shared<nn::Linear>(3, 2)}))
      .push_back("act", std::make_shared<nn::Tanh>());
  CHECK(layout_of(seq.named_modules()) ==
        Layout{{"", "Sequential"}, {"encoder", "Sequential"}, {"encoder.0", "Linear"}, {"act", "Tanh"}});
}

TEST_CASE("named_modules lists a module registered twice once, under its first name, as PyTorch") {
  auto shared = std::make_shared<nn::Linear>(2, 2);
  nn::Sequential seq(std::vector<nn::ModulePtr>{shared, std::make_shared<nn::ReLU>(), shared});
  const auto modules = seq.named_modules();
  CHECK(layout_of(modules) == Layout{{"", "Sequential"}, {"0", "Linear"}, {"1", "ReLU"}});
  CHECK(modules[1].second == shared);
  CHECK(seq.named_children().size() == 3);  // the children stay as registered
}

// ================================================================ trained models saved and reloaded
TEST_CASE("a small CNN user model learns a synthetic task, saves, reloads with identical outputs") {
  xg::manual_seed(1);
  // class 1: the bright square sits in the left half; class 0: in the right half
  const int64_t n = 32;
  xg::Tensor x = xg::zeros({n, 1, 8, 8}), y = xg::zeros({n}, {.dtype = xg::Dtype::int64});
  for (int64_t i = 0; i < n; ++i) {
    const bool left = i % 2 == 1;
    y.data<int64_t>()[i] = left;
    const int64_t col = (left ? 0 : 4) + i % 3, row = (i / 2) % 6;
    for (int64_t r = row; r < row + 2; ++r)
      for (int64_t c = col; c < col + 2; ++c) x.data<float>()[i * 64 + r * 8 + c] = 1.0f;
  }
  SmallCnn model;
  const double loss = train(model, x, y, 0.05, 300);
  CHECK(loss < 0.05);
  SmallCnn fresh;
  check_identical_after_reload(model, fresh, x, tmp("cnn.safetensors"));
}

TEST_CASE("a small LSTM user model learns a synthetic task, saves, reloads with identical outputs") {
  xg::manual_seed(2);
  // class 1 when the sequence's sum is positive
  const int64_t T = 6, B = 32;
  xg::Tensor x = xg::randn({T, B, 1});
  xg::Tensor y = xg::gt(xg::sum(x, {0, 2}), 0.0).to(xg::Dtype::int64);
  SmallLstm model;
  const double loss = train(model, x, y, 0.1, 400);
  CHECK(loss < 0.1);
  SmallLstm fresh;
  check_identical_after_reload(model, fresh, x, tmp("lstm.safetensors"));
}

// ================================================================ Sequential, state dicts
TEST_CASE("a small CNN in Sequential: dotted parameter names, shapes, backward, state dict round trip") {
  xg::manual_seed(13);
  auto net = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Conv2d>(
          nn::Conv2dOptions{.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Dropout>(0.25),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4 * 7 * 7, 10),
      std::make_shared<nn::LogSoftmax>(1)});
  std::vector<std::pair<std::string, Shape>> want = {
      {"0.weight", {4, 1, 3, 3}}, {"0.bias", {4}}, {"5.weight", {10, 196}}, {"5.bias", {10}}};
  CHECK(param_layout(*net) == want);
  Tensor x = xg::randn({8, 1, 14, 14});
  Tensor y = net->forward(x);
  CHECK(y.shape() == Shape{8, 10});
  xg::mean(y).backward();
  for (const Tensor& p : net->parameters()) CHECK(p.grad().defined());
  std::ostringstream s;
  s << *net;
  CHECK(contains(s.str(), "(0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"));
  CHECK(contains(s.str(), "(3): Dropout(p=0.25)"));
  CHECK(contains(s.str(), "(5): Linear(in_features=196, out_features=10, bias=true)"));
  // eval() reaches the Dropout: two evaluations agree
  net->eval();
  CHECK(xg::max(xg::abs(net->forward(x) - net->forward(x))).item() == 0.0);
  // weights move to another instance by name
  xg::manual_seed(14);
  auto other = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Conv2d>(
          nn::Conv2dOptions{.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Dropout>(0.25),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4 * 7 * 7, 10),
      std::make_shared<nn::LogSoftmax>(1)});
  other->eval();
  CHECK(xg::max(xg::abs(other->forward(x) - net->forward(x))).item() > 0.0);
  other->load_state_dict(net->state_dict());
  CHECK(xg::max(xg::abs(other->forward(x) - net->forward(x))).item() == 0.0);
}

TEST_CASE("loading a state dict checks names, shapes and dtypes before copying anything") {
  xg::manual_seed(3);
  auto model = std::make_shared<xg::nn::Linear>(3, 2);
  const std::vector<float> before = model->weight.to_vector<float>();
  auto state = model->state_dict();

  auto wrong_shape = state;
  wrong_shape[0].second = xg::zeros({2, 4});
  CHECK_ERROR(model->load_state_dict(wrong_shape), xg::ShapeError,
              "'weight' has shape [2, 4] in the state, [2, 3] in the model");

  auto wrong_dtype = state;
  wrong_dtype[1].second = xg::zeros({2}, {.dtype = xg::Dtype::float64});
  CHECK_ERROR(model->load_state_dict(wrong_dtype), xg::TypeError,
              "'bias' is float64 in the state, float32 in the model");

  xg::NamedTensors missing = {{"weight", xg::ones({2, 3})}};
  CHECK_ERROR(model->load_state_dict(missing), xg::ValueError, "Linear.load_state_dict:", "missing: bias");
  CHECK(model->weight.to_vector<float>() == before);  // the failed load changed nothing

  xg::NamedTensors extra = {{"weight", xg::ones({2, 3})}, {"bias", xg::ones({2})}, {"scale", xg::ones({1})}};
  CHECK_ERROR(model->load_state_dict(extra), xg::ValueError, "Linear.load_state_dict:", "unexpected: scale");

  // non-strict: loads what matches and reports the rest
  xg::nn::LoadResult r = model->load_state_dict(missing, false);
  CHECK(r.missing == std::vector<std::string>{"bias"});
  CHECK(r.unexpected.empty());
  CHECK(model->weight.to_vector<float>() == std::vector<float>(6, 1.0f));

  // a file of another model names the file and the first mismatch
  const std::string p = tmp("other.safetensors");
  xg::nn::Linear(5, 2).save(p);
  CHECK_ERROR(model->load(p), xg::ValueError, p, "'weight' has shape [2, 5]");
  std::remove(p.c_str());
}
