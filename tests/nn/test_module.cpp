// nn/module.cpp: named_modules() on models on the stack and on the heap (PyTorch's dotted names),
// Sequential's dotted parameter names, state dicts that check names, shapes and dtypes before
// copying, and small user models (a CNN and an LSTM) trained on synthetic tasks, saved, reloaded,
// identical. The containers (ModuleDict, ParameterList, ParameterDict, range-for), apply,
// children, requires_grad_ (freezing), hooks (forward pre-hooks, forward hooks, full backward
// hooks, tensor hooks, all removable), non-persistent buffers and clone() of every built-in module.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/attention.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/normalization.hpp"
#include "xgrad/nn/pooling.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/nn/upsampling.hpp"
#include "xgrad/optim/adam.hpp"
#include "xgrad/optim/sgd.hpp"

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

 protected:
  nn::ModulePtr clone_empty() const override { return std::make_shared<Block>(); }  // for clone()
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

 protected:
  nn::ModulePtr clone_empty() const override { return std::make_shared<Net>(); }
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
  CHECK(seq.size() == 3);  // the children stay as registered (forward calls all three) ...
  // ... but named_children, as PyTorch's, lists each module once: [('0', Linear), ('1', ReLU)]
  CHECK(layout_of(seq.named_children()) == Layout{{"0", "Linear"}, {"1", "ReLU"}});
  // and so do parameters(): an optimizer over them would otherwise refuse the duplicates
  CHECK(xg_test::names_of(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias"});
  // while the state dict, as PyTorch's, has every name: ['0.weight', '0.bias', '2.weight', '2.bias']
  CHECK(xg_test::names_of(seq.state_dict()) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
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

  // Before: of two entries of one name the last was loaded, silently.
  xg::NamedTensors twice = {
      {"weight", xg::ones({2, 3})}, {"bias", xg::ones({2})}, {"weight", xg::zeros({2, 3})}};
  CHECK_ERROR(model->load_state_dict(twice, false), xg::ValueError,
              "Linear.load_state_dict:", "two entries 'weight'");
  CHECK(model->weight.to_vector<float>() == before);

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

// ================================================================ containers, traversal
namespace {
// PyTorch's model of the same structure:
//   class M(nn.Module): heads = nn.ModuleDict({'cls': nn.Linear(3, 2),
//                                              'reg': nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3,
//                                              1))})
//                       scales = nn.ParameterList([nn.Parameter(torch.ones(2)),
//                       nn.Parameter(torch.zeros(3))]) extra = nn.ParameterDict({'alpha':
//                       nn.Parameter(torch.ones(1)), 'beta': ...ones(2)})
struct Heads : nn::Module {
  std::shared_ptr<nn::ModuleDict> heads;
  std::shared_ptr<nn::ParameterList> scales;
  std::shared_ptr<nn::ParameterDict> extra;
  Heads() : Module("M") {
    heads = register_module("heads",
                            std::make_shared<nn::ModuleDict>(nn::NamedModules{
                                {"cls", std::make_shared<nn::Linear>(3, 2)},
                                {"reg", std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
                                            std::make_shared<nn::Linear>(3, 3), std::make_shared<nn::ReLU>(),
                                            std::make_shared<nn::Linear>(3, 1)})}}));
    scales = register_module(
        "scales", std::make_shared<nn::ParameterList>(std::vector<Tensor>{xg::ones({2}), xg::zeros({3})}));
    extra = register_module("extra", std::make_shared<nn::ParameterDict>(xg::NamedTensors{
                                         {"alpha", xg::ones({1})}, {"beta", xg::ones({2})}}));
  }

 protected:
  nn::ModulePtr clone_empty() const override { return std::make_shared<Heads>(); }
};
}  // namespace

TEST_CASE("ModuleDict, ParameterList, ParameterDict: PyTorch's names, apply's order, children") {
  Heads m;
  // [n for n, _ in M().named_modules()]
  CHECK(layout_of(m.named_modules()) == Layout{{"", "M"},
                                               {"heads", "ModuleDict"},
                                               {"heads.cls", "Linear"},
                                               {"heads.reg", "Sequential"},
                                               {"heads.reg.0", "Linear"},
                                               {"heads.reg.1", "ReLU"},
                                               {"heads.reg.2", "Linear"},
                                               {"scales", "ParameterList"},
                                               {"extra", "ParameterDict"}});
  // named_modules(prefix='model')
  const auto prefixed = m.named_modules("model");
  CHECK(prefixed[0].first == "model");
  CHECK(prefixed[6].first == "model.heads.reg.2");
  CHECK(prefixed[8].first == "model.extra");
  // [n for n, _ in M().named_parameters()]
  CHECK(xg_test::names_of(m.named_parameters()) ==
        std::vector<std::string>{"heads.cls.weight", "heads.cls.bias", "heads.reg.0.weight",
                                 "heads.reg.0.bias", "heads.reg.2.weight", "heads.reg.2.bias", "scales.0",
                                 "scales.1", "extra.alpha", "extra.beta"});
  CHECK(layout_of(m.named_children()) ==
        Layout{{"heads", "ModuleDict"}, {"scales", "ParameterList"}, {"extra", "ParameterDict"}});
  REQUIRE(m.children().size() == 3);
  CHECK(m.children()[0] == m.heads);
  CHECK(m.modules().size() == 9);
  // m.apply(lambda mod: order.append(type(mod).__name__)): children first, then the module
  std::vector<std::string> order;
  CHECK(&m.apply([&](nn::Module& mod) { order.push_back(mod.type_name()); }) == &m);
  CHECK(order == std::vector<std::string>{"Linear", "Linear", "ReLU", "Linear", "Sequential", "ModuleDict",
                                          "ParameterList", "ParameterDict", "M"});
  // apply reaches a module shared by two parents once per parent, as PyTorch's (via children())
  auto shared = std::make_shared<nn::Linear>(1, 1);
  nn::Sequential twice(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{shared}), shared, shared});
  int linears = 0;
  twice.apply([&](nn::Module& mod) { linears += mod.type_name() == "Linear"; });
  CHECK(linears == 2);
  // the parameters of the containers are leaves that require grad, the values given
  CHECK(m.scales->size() == 2);
  CHECK((*m.scales)[1].requires_grad());
  CHECK((*m.scales)[1].to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK((*m.extra)["beta"].shape() == Shape{2});
}

TEST_CASE("ModuleDict: insertion order, replacing keeps the place, pop, errors naming the key") {
  nn::ModuleDict d;
  auto a = std::make_shared<nn::Linear>(2, 2);
  auto b = std::make_shared<nn::ReLU>();
  auto c = std::make_shared<nn::Tanh>();
  d.insert("z", a).insert("a", b);
  CHECK(d.keys() == std::vector<std::string>{"z", "a"});
  CHECK(d["a"] == b);
  CHECK(d.at<nn::Linear>("z") == a);
  CHECK(d.contains("z"));
  CHECK_FALSE(d.contains("q"));
  d.insert("z", c);  // d['z'] = c: same place, new module
  CHECK(d.keys() == std::vector<std::string>{"z", "a"});
  CHECK(d["z"] == c);
  CHECK(d.parameters().empty());  // the Linear is gone with its parameters
  std::vector<std::string> seen;
  for (const auto& [key, module] : d) seen.push_back(key + "=" + module->type_name());
  CHECK(seen == std::vector<std::string>{"z=Tanh", "a=ReLU"});
  CHECK(d.pop("z") == c);
  CHECK(d.keys() == std::vector<std::string>{"a"});
  CHECK_ERROR(d["nope"], xg::IndexError, "ModuleDict", "'nope'");
  CHECK_ERROR(d.pop("nope"), xg::IndexError, "ModuleDict", "'nope'");
  CHECK_ERROR(d.insert("a.b", a), xg::ValueError, "ModuleDict", "invalid name 'a.b'");
  d.clear();
  CHECK(d.empty());
}

TEST_CASE("Sequential and ModuleList in range-for; ParameterList and ParameterDict too") {
  nn::Sequential seq(
      std::vector<nn::ModulePtr>{std::make_shared<nn::Linear>(2, 3), std::make_shared<nn::ReLU>()});
  std::vector<std::string> types;
  for (const nn::ModulePtr& m : seq) types.push_back(m->type_name());
  CHECK(types == std::vector<std::string>{"Linear", "ReLU"});
  nn::ModuleList list(std::vector<nn::ModulePtr>{std::make_shared<nn::Tanh>()});
  list.extend({std::make_shared<nn::Sigmoid>(), std::make_shared<nn::SiLU>()});
  types.clear();
  for (const auto& m : list) types.push_back(m->type_name());
  CHECK(types == std::vector<std::string>{"Tanh", "Sigmoid", "SiLU"});
  CHECK_ERROR(list[3], xg::IndexError, "ModuleList", "index 3 out of range (size 3)");
  CHECK_ERROR(seq[2], xg::IndexError, "Sequential", "index 2 out of range (size 2)");

  nn::ParameterList pl;
  pl.append(xg::ones({2})).append(xg::full({1}, 3.0));
  double total = 0;
  for (const Tensor& p : pl) total += xg::sum(p).item();
  CHECK(total == 5.0);
  CHECK_ERROR(pl[2], xg::IndexError, "ParameterList", "index 2 out of range (size 2)");
  CHECK(contains(pl.repr(), "(1): Parameter containing: [float32 of size 1]"));

  nn::ParameterDict pd;
  pd.insert("w", xg::ones({2, 2})).insert("b", xg::zeros({2}));
  pd.insert("w", xg::full({3}, 2.0));  // replaced in place
  std::vector<std::string> keys;
  for (const auto& [k, p] : pd) keys.push_back(k + std::to_string(p.numel()));
  CHECK(keys == std::vector<std::string>{"w3", "b2"});
  CHECK(pd["w"].requires_grad());
  CHECK(pd.pop("b").shape() == Shape{2});
  CHECK(pd.keys() == std::vector<std::string>{"w"});
  CHECK_ERROR(pd["b"], xg::IndexError, "ParameterDict", "'b'");
}

// ================================================================ freezing
TEST_CASE("requires_grad_(false) freezes a sub-module: no gradient, and SGD leaves it bitwise unchanged") {
  // m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1)).double(), weights below; m[0].requires_grad_(False)
  // opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1); (m(x)**2).sum().backward()
  auto first = std::make_shared<nn::Linear>(2, 2), second = std::make_shared<nn::Linear>(2, 1);
  nn::Sequential m(std::vector<nn::ModulePtr>{first, second});
  m.to(xg::Dtype::float64);
  {
    xg::NoGradGuard g;
    first->weight.copy_(xg::tensor({1, 2, 3, 4}, {2, 2}));
    first->bias.copy_(xg::tensor({0.5, -1}));
    second->weight.copy_(xg::tensor({0.25, -0.5}, {1, 2}));
    second->bias.copy_(xg::tensor({2}));
  }
  CHECK(&m[0]->requires_grad_(false) == m[0].get());
  CHECK_FALSE(first->weight.requires_grad());
  CHECK(second->weight.requires_grad());
  xg::optim::SGD opt(m.parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
  const std::vector<double> w0 = first->weight.to_vector<double>(), b0 = first->bias.to_vector<double>();
  Tensor x = xg::tensor({1, -1, 2, 0.5}, {2, 2}, {.dtype = xg::Dtype::float64});
  xg::sum(xg::mul(m(x), m(x))).backward();
  CHECK_FALSE(first->weight.grad().defined());
  CHECK_FALSE(first->bias.grad().defined());
  xg_test::check_values(second->weight.grad(), {-7.25, -20.25});
  xg_test::check_values(second->bias.grad(), {4.5});
  opt.step();
  CHECK(first->weight.to_vector<double>() == w0);
  CHECK(first->bias.to_vector<double>() == b0);
  xg_test::check_values(second->weight, {0.9725, 1.53});  // m[1].weight after opt.step()
  xg_test::check_values(second->bias, {1.53});
  // unfreezing gives gradients again
  m.requires_grad_(true);
  m.zero_grad();
  xg::sum(m(x)).backward();
  CHECK(first->weight.grad().defined());
  // an int64 parameter cannot require grad: refused before anything changes
  struct WithIndex : nn::Module {
    WithIndex() : Module("WithIndex") {
      register_parameter("w", xg::ones({1}));
      register_parameter("idx", xg::zeros({1}, {.dtype = xg::Dtype::int64}), false);
    }
  } wi;
  wi.requires_grad_(false);
  CHECK_ERROR(wi.requires_grad_(true), xg::TypeError, "WithIndex.requires_grad_", "'idx' is int64");
  CHECK_FALSE(wi.parameters()[0].requires_grad());
}

// ================================================================ hooks
namespace {
std::shared_ptr<nn::Linear> fixed_linear() {
  auto lin = std::make_shared<nn::Linear>(2, 2);
  lin->to(xg::Dtype::float64);
  xg::NoGradGuard g;
  lin->weight.copy_(xg::tensor({1, 2, 3, 4}, {2, 2}));
  lin->bias.copy_(xg::tensor({0.5, -1}));
  return lin;
}
Tensor fixed_input(bool requires_grad) {
  return xg::tensor({1, -1, 2, 0.5}, {2, 2}, {.dtype = xg::Dtype::float64, .requires_grad = requires_grad});
}
}  // namespace

TEST_CASE(
    "forward pre-hook, forward hook and full backward hook: order, replaced values, PyTorch's numbers") {
  // lin = nn.Linear(2, 2).double() with the weights of fixed_linear();
  // pre-hook returns (input[0] * 2,), forward hook returns output + 1, the backward hook records
  // grad_input / grad_output and returns (grad_input[0] * 10,); out = lin(x); (out**2).sum().backward()
  auto lin = fixed_linear();
  std::vector<std::string> calls;
  Tensor gi, go;
  lin->register_forward_pre_hook([&](nn::Module& m, const Tensor& in) {
    CHECK(&m == lin.get());
    calls.push_back("pre");
    return in * 2.0;
  });
  lin->register_forward_hook([&](nn::Module&, const Tensor& in, const Tensor& out) {
    calls.push_back("fwd");
    xg_test::check_values(in, {2, -2, 4, 1});  // the input the pre-hook gave
    return out + 1.0;
  });
  lin->register_full_backward_hook([&](nn::Module&, const Tensor& grad_in, const Tensor& grad_out) {
    calls.push_back("bwd");
    gi = grad_in.clone();
    go = grad_out.clone();
    return grad_in * 10.0;
  });
  Tensor x = fixed_input(true);
  Tensor out = (*lin)(x);
  xg_test::check_values(out, {-0.5, -2.0, 7.5, 16.0});
  xg::sum(xg::mul(out, out)).backward();
  CHECK(calls == std::vector<std::string>{"pre", "fwd", "bwd"});
  xg_test::check_values(gi, {-13, -18, 111, 158});
  xg_test::check_values(go, {-1, -4, 15, 32});
  xg_test::check_values(x.grad(), {-260, -360, 2220, 3160});  // 2 (pre-hook) x 10 (backward hook) x gi
  xg_test::check_values(lin->weight.grad(), {58, 17, 120, 40});
  // forward() itself runs no hook, as a PyTorch module's forward
  calls.clear();
  xg_test::check_values(lin->forward(fixed_input(false)), {-0.5, -2, 3.5, 7});
  CHECK(calls.empty());
}

TEST_CASE("a full backward hook on a module whose input needs no gradient gets an undefined grad_input") {
  // got == [((None,), [[-1.0, -4.0], [7.0, 14.0]])] for (lin(x)**2).sum().backward(), x without grad
  auto lin = fixed_linear();
  int calls = 0;
  lin->register_full_backward_hook([&](nn::Module&, const Tensor& grad_in, const Tensor& grad_out) {
    ++calls;
    CHECK_FALSE(grad_in.defined());
    xg_test::check_values(grad_out, {-1, -4, 7, 14});
    return Tensor();
  });
  Tensor y = (*lin)(fixed_input(false));
  xg::sum(xg::mul(y, y)).backward();
  CHECK(calls == 1);
  // under no_grad nothing is recorded, and the hook never runs
  {
    xg::NoGradGuard g;
    (*lin)(fixed_input(true));
  }
  CHECK(calls == 1);
}

TEST_CASE("hooks run in registration order; remove() stops them; HookGuard removes at scope exit") {
  auto lin = fixed_linear();
  std::vector<int> calls;
  xg::RemovableHandle h1 = lin->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor& out) {
    calls.push_back(1);
    return out * 2.0;
  });
  lin->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor& out) {
    calls.push_back(2);
    return out + 1.0;  // sees the first hook's output
  });
  // y = x W^T + b = [[-0.5, -2], [3.5, 7]] for the fixed weights; (y * 2) + 1
  xg_test::check_values((*lin)(fixed_input(false)), {0, -3, 8, 15});
  CHECK(calls == std::vector<int>{1, 2});
  CHECK(h1.active());
  h1.remove();
  CHECK_FALSE(h1.active());
  h1.remove();  // twice: nothing
  calls.clear();
  xg_test::check_values((*lin)(fixed_input(false)), {0.5, -1, 4.5, 8});
  CHECK(calls == std::vector<int>{2});
  {
    xg::HookGuard guard(lin->register_forward_pre_hook([&](nn::Module&, const Tensor&) {
      calls.push_back(3);
      return Tensor();  // undefined: the input is kept
    }));
    calls.clear();
    (*lin)(fixed_input(false));
    CHECK(calls == std::vector<int>{3, 2});
  }
  calls.clear();
  (*lin)(fixed_input(false));
  CHECK(calls == std::vector<int>{2});
  // a hook may remove itself while it runs
  xg::RemovableHandle once;
  once = lin->register_forward_pre_hook([&](nn::Module&, const Tensor&) {
    calls.push_back(4);
    once.remove();
    return Tensor();
  });
  calls.clear();
  (*lin)(fixed_input(false));
  (*lin)(fixed_input(false));
  CHECK(calls == std::vector<int>{4, 2, 2});
  // backward hooks are removable too
  int backward_calls = 0;
  auto hb = lin->register_full_backward_hook([&](nn::Module&, const Tensor&, const Tensor&) {
    ++backward_calls;
    return Tensor();
  });
  xg::sum((*lin)(fixed_input(true))).backward();
  hb.remove();
  xg::sum((*lin)(fixed_input(true))).backward();
  CHECK(backward_calls == 1);
  // a handle outliving its module does nothing
  xg::RemovableHandle orphan = std::make_shared<nn::ReLU>()->register_forward_hook(
      [](nn::Module&, const Tensor&, const Tensor&) { return Tensor(); });
  orphan.remove();
  CHECK_FALSE(orphan.active());
}

TEST_CASE("Sequential calls its children through their hooks; multi-input calls refuse hooks") {
  auto lin = fixed_linear();
  nn::Sequential seq(std::vector<nn::ModulePtr>{lin, std::make_shared<nn::ReLU>()});
  int calls = 0;
  lin->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor& out) {
    ++calls;
    return xg::neg(out);
  });
  // relu(-(x W^T + b)) for the fixed weights: y = [[-0.5, -2], [3.5, 7]]
  xg_test::check_values(seq(fixed_input(false)), {0.5, 2, 0, 0});
  CHECK(calls == 1);
  nn::Bilinear bil(2, 2, 1);
  bil.register_forward_hook([](nn::Module&, const Tensor&, const Tensor&) { return Tensor(); });
  CHECK_ERROR(bil(xg::ones({1, 2}), xg::ones({1, 2})), xg::ValueError, "Bilinear: Bilinear(x1, x2)",
              "does not run the module's hooks");
  nn::MSELoss mse;
  mse.register_forward_pre_hook([](nn::Module&, const Tensor&) { return Tensor(); });
  CHECK_ERROR(mse(xg::ones({2}), xg::ones({2})), xg::ValueError, "MSELoss: loss(input, target)");
}

TEST_CASE("tensor hooks return a handle: remove() stops them, on leaves and non-leaves") {
  Tensor x = xg::tensor({1, 2}, {.dtype = xg::Dtype::float64, .requires_grad = true});
  int calls = 0;
  xg::RemovableHandle h = x.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 3.0;
  });
  xg::sum(x * x).backward();
  xg_test::check_values(x.grad(), {6, 12});  // 3 * 2x
  h.remove();
  x.zero_grad();
  xg::sum(x * x).backward();
  xg_test::check_values(x.grad(), {2, 4});
  CHECK(calls == 1);

  Tensor y = x * 2.0;  // a non-leaf: its hook lives on its node
  xg::RemovableHandle hy = y.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 0.0;
  });
  hy.remove();
  x.zero_grad();
  xg::sum(y).backward();
  xg_test::check_values(x.grad(), {2, 2});
  CHECK(calls == 1);
}

// ================================================================ non-persistent buffers
namespace {
struct WithScratch : nn::Module {
  Tensor w, stats, scratch;
  WithScratch() : Module("WithScratch") {
    w = register_parameter("w", xg::tensor({1, 2}));
    stats = register_buffer("stats", xg::tensor({3}));
    scratch = register_buffer("scratch", xg::tensor({7, 8, 9}), /*persistent=*/false);
  }

 protected:
  nn::ModulePtr clone_empty() const override { return std::make_shared<WithScratch>(); }
};
}  // namespace

TEST_CASE("a non-persistent buffer is in buffers() but not in the state dict, the file, or a load") {
  nn::Sequential model(std::vector<nn::ModulePtr>{std::make_shared<WithScratch>()});
  CHECK(xg_test::names_of(model.named_buffers()) == std::vector<std::string>{"0.stats", "0.scratch"});
  CHECK(model.buffers().size() == 2);
  CHECK(xg_test::names_of(model.state_dict()) == std::vector<std::string>{"0.w", "0.stats"});
  const std::string p = tmp("scratch.safetensors");
  model.save(p);
  std::vector<std::string> in_file = xg_test::names_of(xg::load_tensors(p).tensors);
  std::sort(in_file.begin(), in_file.end());
  CHECK(in_file == std::vector<std::string>{"0.stats", "0.w"});
  nn::Sequential other(std::vector<nn::ModulePtr>{std::make_shared<WithScratch>()});
  auto mine = std::dynamic_pointer_cast<WithScratch>(other[0]);
  {
    xg::NoGradGuard g;
    mine->stats.fill_(0.0);
    mine->scratch.fill_(-1.0);
  }
  const nn::LoadResult r = other.load(p);  // strict: the missing scratch is not an error
  CHECK(r.missing.empty());
  CHECK(mine->stats.to_vector<float>() == std::vector<float>{3});
  CHECK(mine->scratch.to_vector<float>() == std::vector<float>{-1, -1, -1});  // left alone
  // a state naming the non-persistent buffer is unexpected, as in PyTorch
  xg::NamedTensors state = model.state_dict();
  state.emplace_back("0.scratch", xg::zeros({3}));
  CHECK_ERROR(other.load_state_dict(state), xg::ValueError, "unexpected: 0.scratch");
  std::remove(p.c_str());
  // a clone keeps the buffer non-persistent
  CHECK(xg_test::names_of(model.clone()->state_dict()) == std::vector<std::string>{"0.w", "0.stats"});
}

// ================================================================ clone
namespace {
// Every entry of the clone equals the original's and shares nothing with it; the same forward.
void check_clone(nn::Module& m, const Tensor& x) {
  CAPTURE(m.type_name());
  const nn::ModulePtr c = m.clone();
  REQUIRE(c);
  CHECK(typeid(*c) == typeid(m));
  CHECK(c->repr() == m.repr());
  CHECK(c->is_training() == m.is_training());
  auto entries = [](const nn::Module& mod) {
    xg::NamedTensors all = mod.named_parameters();
    for (auto& b : mod.named_buffers()) all.push_back(b);
    return all;
  };
  const xg::NamedTensors a = entries(m), b = entries(*c);
  REQUIRE(xg_test::names_of(a) == xg_test::names_of(b));
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].second.dtype() == b[i].second.dtype());
    CHECK(a[i].second.requires_grad() == b[i].second.requires_grad());
    CHECK(a[i].second.to_vector<double>() == b[i].second.to_vector<double>());
    CHECK(a[i].second.get() != b[i].second.get());
    CHECK(a[i].second.raw_data() != b[i].second.raw_data());
  }
  if (!x.defined()) return;
  xg::NoGradGuard g;
  const std::vector<double> before = (*c)(x).to_vector<double>();
  CHECK(m(x).to_vector<double>() == before);
  // changing the original leaves the clone as it was
  for (Tensor p : m.parameters()) p.add_(xg::ones_like(p));
  for (Tensor buf : m.buffers())
    if (buf.is_floating_point()) buf.add_(xg::ones_like(buf));
  if (!a.empty()) CHECK(m(x).to_vector<double>() != before);
  CHECK((*c)(x).to_vector<double>() == before);
}
}  // namespace

TEST_CASE("clone() of every built-in module: equal values, nothing shared, the same forward") {
  xg::manual_seed(21);
  const Tensor x23 = xg::randn({2, 3}), img = xg::randn({1, 2, 4, 4});
  check_clone(*std::make_shared<nn::Linear>(3, 2), x23);
  check_clone(
      *std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 3, .out_features = 2, .bias = false}),
      x23);
  check_clone(*std::make_shared<nn::Bilinear>(3, 2, 4), Tensor());
  check_clone(*std::make_shared<nn::Conv2d>(2, 3, 3), img);
  check_clone(*std::make_shared<nn::Conv1d>(2, 3, 2), xg::randn({1, 2, 6}));
  check_clone(*std::make_shared<nn::ConvTranspose2d>(2, 3, 3), img);
  check_clone(*std::make_shared<nn::ConvTranspose1d>(2, 3, 2), xg::randn({1, 2, 6}));
  check_clone(*std::make_shared<nn::MaxPool2d>(2), img);
  check_clone(*std::make_shared<nn::AvgPool2d>(2), img);
  check_clone(*std::make_shared<nn::AdaptiveAvgPool2d>(xg::Size2{2, 1}), img);
  check_clone(*std::make_shared<nn::Flatten>(2), img);
  auto drop = std::make_shared<nn::Dropout>(0.3);
  drop->eval();
  check_clone(*drop, x23);
  check_clone(*std::make_shared<nn::Embedding>(nn::EmbeddingOptions{5, 3, 1}), xg_test::i64({0, 1, 4}));
  check_clone(*nn::Embedding::from_pretrained(xg::randn({4, 2}, {.dtype = xg::Dtype::float64})),
              xg_test::i64({3, 0}));
  for (nn::ModulePtr bn : {nn::ModulePtr(std::make_shared<nn::BatchNorm1d>(3)),
                           nn::ModulePtr(std::make_shared<nn::BatchNorm2d>(2)),
                           nn::ModulePtr(std::make_shared<nn::BatchNorm3d>(2))}) {
    const Tensor in = bn->type_name() == "BatchNorm1d"   ? xg::randn({4, 3})
                      : bn->type_name() == "BatchNorm2d" ? xg::randn({2, 2, 3, 3})
                                                         : xg::randn({2, 2, 2, 2, 2});
    (*bn)(in);  // running statistics and the counter move away from their initial values
    bn->eval();
    check_clone(*bn, in);
  }
  check_clone(*std::make_shared<nn::LayerNorm>(3), x23);
  check_clone(*std::make_shared<nn::GroupNorm>(1, 3), x23);
  {
    auto in = std::make_shared<nn::InstanceNorm2d>(
        2, nn::InstanceNormOptions{.affine = true, .track_running_stats = true});
    (*in)(img);  // running statistics move
    in->eval();
    check_clone(*in, img);
  }
  check_clone(*std::make_shared<nn::InstanceNorm1d>(3), xg::randn({2, 3, 4}));
  check_clone(*std::make_shared<nn::PReLU>(3), x23);
  const Tensor seq1 = xg::randn({1, 2, 7});
  check_clone(*std::make_shared<nn::MaxPool1d>(2), seq1);
  check_clone(*std::make_shared<nn::AvgPool1d>(3), seq1);
  check_clone(*std::make_shared<nn::AdaptiveAvgPool1d>(3), seq1);
  check_clone(*std::make_shared<nn::AdaptiveMaxPool1d>(3), seq1);
  check_clone(*std::make_shared<nn::AdaptiveMaxPool2d>(xg::Size2{2, 3}), img);
  check_clone(*std::make_shared<nn::Unflatten>(1, std::vector<int64_t>{3, 1}), x23);
  check_clone(*std::make_shared<nn::Identity>(), x23);
  check_clone(*std::make_shared<nn::Upsample>(nn::UpsampleOptions{.scale_factor = {2.0}}), img);
  check_clone(*std::make_shared<nn::UpsamplingBilinear2d>(std::vector<int64_t>{5, 3}), img);
  check_clone(*std::make_shared<nn::PixelShuffle>(2), xg::randn({1, 4, 2, 2}));
  check_clone(*std::make_shared<nn::PixelUnshuffle>(2), img);
  for (nn::ModulePtr act :
       {nn::ModulePtr(std::make_shared<nn::Mish>()), nn::ModulePtr(std::make_shared<nn::Hardswish>()),
        nn::ModulePtr(std::make_shared<nn::CELU>(0.5)), nn::ModulePtr(std::make_shared<nn::GLU>(0)),
        nn::ModulePtr(std::make_shared<nn::Hardtanh>(-2.0, 0.5)),
        nn::ModulePtr(std::make_shared<nn::ReLU6>()), nn::ModulePtr(std::make_shared<nn::Softmin>(1))})
    check_clone(*act, xg::randn({2, 4}));
  for (nn::ModulePtr act :
       {nn::ModulePtr(std::make_shared<nn::ReLU>()), nn::ModulePtr(std::make_shared<nn::LeakyReLU>(0.2)),
        nn::ModulePtr(std::make_shared<nn::ELU>(0.5)),
        nn::ModulePtr(std::make_shared<nn::GELU>(nn::GELUOptions{"tanh"})),
        nn::ModulePtr(std::make_shared<nn::SiLU>()), nn::ModulePtr(std::make_shared<nn::Sigmoid>()),
        nn::ModulePtr(std::make_shared<nn::Tanh>()), nn::ModulePtr(std::make_shared<nn::Softmax>(0)),
        nn::ModulePtr(std::make_shared<nn::LogSoftmax>(1)),
        nn::ModulePtr(std::make_shared<nn::Softplus>(nn::SoftplusOptions{2.0, 10.0}))})
    check_clone(*act, x23);
  check_clone(*std::make_shared<nn::MultiheadAttention>(4, 2), xg::randn({3, 1, 4}));
  check_clone(*std::make_shared<nn::RNNCell>(3, 4), x23);
  check_clone(*std::make_shared<nn::LSTMCell>(3, 4), x23);
  check_clone(*std::make_shared<nn::GRUCell>(3, 4, nn::RNNCellOptions{.bias = false}), x23);
  const Tensor seq3 = xg::randn({5, 2, 3});
  check_clone(
      *std::make_shared<nn::RNN>(nn::RNNOptions{
          .input_size = 3, .hidden_size = 4, .num_layers = 2, .nonlinearity = nn::RNNActivation::relu}),
      seq3);
  check_clone(
      *std::make_shared<nn::LSTM>(nn::RNNOptions{.input_size = 3, .hidden_size = 4, .bidirectional = true}),
      seq3);
  check_clone(*std::make_shared<nn::GRU>(3, 4, 2), seq3);
  Heads heads;
  check_clone(heads, Tensor());
  nn::Sequential seq(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(3, 3), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(3, 1)});
  check_clone(seq, x23);
  nn::ModuleList list(std::vector<nn::ModulePtr>{std::make_shared<nn::Linear>(3, 3)});
  check_clone(list, Tensor());
  // losses: their weights are buffers, and the clone's forward uses its own
  auto ce =
      std::make_shared<nn::CrossEntropyLoss>(nn::CrossEntropyLossOptions{.weight = xg::tensor({1, 2, 3})});
  check_clone(*ce, Tensor());
  auto ce2 = ce->clone_as<nn::CrossEntropyLoss>();
  REQUIRE(ce2);
  const Tensor logits = xg::randn({2, 3}), target = xg_test::i64({0, 2});
  const double loss = (*ce2)(logits, target).item();
  {
    xg::NoGradGuard g;
    ce->options.weight.fill_(5.0);
  }
  CHECK((*ce2)(logits, target).item() == loss);
  CHECK((*ce)(logits, target).item() != loss);
  for (nn::ModulePtr l :
       {nn::ModulePtr(std::make_shared<nn::MSELoss>()), nn::ModulePtr(std::make_shared<nn::L1Loss>()),
        nn::ModulePtr(std::make_shared<nn::SmoothL1Loss>()), nn::ModulePtr(std::make_shared<nn::HuberLoss>()),
        nn::ModulePtr(std::make_shared<nn::NLLLoss>()), nn::ModulePtr(std::make_shared<nn::BCELoss>()),
        nn::ModulePtr(std::make_shared<nn::BCEWithLogitsLoss>(
            nn::BCEWithLogitsLossOptions{.pos_weight = xg::tensor({2.0, 1.0})})),
        nn::ModulePtr(std::make_shared<nn::KLDivLoss>()),
        nn::ModulePtr(std::make_shared<nn::CosineEmbeddingLoss>()),
        nn::ModulePtr(std::make_shared<nn::MarginRankingLoss>())})
    check_clone(*l, Tensor());
}

TEST_CASE(
    "clone(): a deep copy of a user model; training flag, requires_grad, dtype, sharing, the generator") {
  xg::manual_seed(5);
  auto model = std::make_shared<Net>();
  model->to(xg::Dtype::float64);
  model->blocks->at<Block>(1)->requires_grad_(false);
  model->layer1->eval();
  const Tensor x = xg::randn({2, 3}, {.dtype = xg::Dtype::float64});
  xg::sum(model->forward(x)).backward();

  // cloning draws no random number
  const std::vector<uint64_t> rng = xg::get_rng_state();
  auto copy = model->clone_as<Net>();
  CHECK(xg::get_rng_state() == rng);
  REQUIRE(copy);
  check_clone(*model, Tensor());
  CHECK(layout_of(copy->named_modules()) == kNetModules);
  // the clone's members are its own modules and tensors
  CHECK(copy->head != model->head);
  CHECK(copy->head.get() == (*copy).named_modules()[14].second.get());
  const xg::NamedTensors cp = copy->named_parameters();
  REQUIRE(cp[cp.size() - 2].first == "head.weight");
  CHECK(copy->head->weight.get() == cp[cp.size() - 2].second.get());
  CHECK(copy->head->weight.dtype() == xg::Dtype::float64);
  CHECK_FALSE(copy->layer1->is_training());
  CHECK(copy->is_training());
  CHECK_FALSE(copy->blocks->at<Block>(1)->fc->weight.requires_grad());
  CHECK_FALSE(copy->head->weight.grad().defined());  // gradients are not copied
  CHECK(model->head->weight.grad().defined());
  const std::vector<double> out = copy->forward(x).to_vector<double>();
  CHECK(model->forward(x).to_vector<double>() == out);
  {
    xg::NoGradGuard g;
    model->head->weight.fill_(0.0);
  }
  CHECK(copy->forward(x).to_vector<double>() == out);
  // training the clone leaves the original alone
  const std::vector<double> w = model->layer1->named_parameters()[0].second.to_vector<double>();
  xg::optim::SGD opt(copy->parameters(), {.lr = 0.5});
  xg::sum(copy->forward(x)).backward();
  opt.step();
  CHECK(model->layer1->named_parameters()[0].second.to_vector<double>() == w);
  CHECK(copy->layer1->named_parameters()[0].second.to_vector<double>() != w);

  // a module shared inside the original is shared inside the clone
  auto shared = std::make_shared<nn::Linear>(2, 2);
  nn::Sequential twice(std::vector<nn::ModulePtr>{shared, std::make_shared<nn::ReLU>(), shared});
  auto t2 = twice.clone_as<nn::Sequential>();
  CHECK((*t2)[0] == (*t2)[2]);
  CHECK((*t2)[0] != shared);
  // a hook stays with the original
  int calls = 0;
  shared->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) {
    ++calls;
    return Tensor();
  });
  auto s2 = shared->clone();
  (*s2)(xg::ones({1, 2}));
  CHECK(calls == 0);
  CHECK_FALSE(s2->has_hooks());
}

TEST_CASE("clone() of a module type that does not say how to build one: an error with the fix") {
  struct Plain : nn::Module {
    Plain() : Module("Plain") { register_parameter("w", xg::ones({1})); }
  };
  Plain p;
  CHECK_ERROR(p.clone(), xg::ValueError, "Plain.clone:", "override", "clone_empty()",
              "std::make_shared<Plain>");
  struct MyLinear : nn::Linear {
    MyLinear() : Linear(2, 2) {}
  };
  MyLinear ml;
  CHECK_ERROR(ml.clone(), xg::ValueError, "Linear.clone:", "not a module of this one's own type",
              "overrides clone_empty() too");
  const std::vector<uint64_t> rng = xg::get_rng_state();
  CHECK_THROWS(ml.clone());
  CHECK(xg::get_rng_state() == rng);  // a failed clone leaves the generator as it was too
}

TEST_CASE("a module hook that calls its own module is an error, not a stack overflow") {
  // Calling module(x) inside its own hook runs the hook again at every call: this recursed until
  // the stack overflowed. forward(x) runs no hook, and a bounded re-entry is fine.
  auto lin = fixed_linear();
  SUBCASE("a forward hook") {
    int calls = 0;
    xg::RemovableHandle h = lin->register_forward_hook([&](nn::Module& m, const Tensor& in, const Tensor&) {
      ++calls;
      return m(in);
    });
    CHECK_ERROR((*lin)(fixed_input(false)), xg::ValueError,
                "Linear: 64 module calls nested inside module hooks", "a forward hook of Linear");
    CHECK(calls == 64);
    h.remove();
    xg_test::check_values((*lin)(fixed_input(false)), {-0.5, -2, 3.5, 7});  // usable afterwards
  }
  SUBCASE("a forward pre-hook") {
    lin->register_forward_pre_hook([&](nn::Module& m, const Tensor& in) { return m(in); });
    CHECK_ERROR((*lin)(fixed_input(false)), xg::ValueError, "64 module calls",
                "a forward pre-hook of Linear");
  }
  SUBCASE("a hook calling forward, or its module once, works") {
    bool inside = false;
    lin->register_forward_hook([&](nn::Module& m, const Tensor& in, const Tensor& out) {
      if (inside) return Tensor();
      inside = true;
      Tensor twice = m(in) + m.forward(in);
      inside = false;
      return out + twice;
    });
    xg_test::check_values((*lin)(fixed_input(false)), {-1.5, -6, 10.5, 21});  // 3 times the output
  }
}

TEST_CASE("clone draws from no shared generator: another thread's draws are undisturbed") {
  // clone used to save the default generator's state and put it back afterwards: a thread drawing
  // meanwhile had its numbers drawn again (and the two threads raced on the state).
  auto lin = std::make_shared<nn::Linear>(64, 64);
  xg::manual_seed(3);
  std::vector<float> want;
  for (int i = 0; i < 200; ++i)
    for (float v : xg::rand({16}).to_vector<float>()) want.push_back(v);
  xg::manual_seed(3);
  std::vector<float> got;
  std::thread cloner([&] {
    for (int i = 0; i < 50; ++i) (void)lin->clone();
  });
  for (int i = 0; i < 200; ++i)
    for (float v : xg::rand({16}).to_vector<float>()) got.push_back(v);
  cloner.join();
  CHECK(got == want);
  xg::manual_seed(0);
}
