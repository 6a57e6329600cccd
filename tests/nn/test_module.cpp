// Checkpoints: safetensors round trips, corrupted files, state-dict checks, and small user
// models (a CNN and an LSTM) trained on synthetic tasks, saved, reloaded, identical.
#include <doctest/doctest.h>

#include <cstdio>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/optim/adam.hpp"

namespace {
using xg_test::read_file;
using xg_test::write_file;
std::string tmp(const std::string& name) { return xg_test::temp_path("ckpt_" + name); }
// A safetensors file by hand: 8-byte length, header, data.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

struct SmallCnn : xg::nn::Module {
  std::shared_ptr<xg::nn::Conv2d> conv;
  std::shared_ptr<xg::nn::Linear> fc;
  SmallCnn() : Module("SmallCnn") {
    conv = register_module("conv", std::make_shared<xg::nn::Conv2d>(xg::nn::Conv2dOptions{.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}));
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
    for (int64_t t = 0; t < x.size(0); ++t) s = cell->forward(xg::reshape(xg::slice(x, 0, t, t + 1), {x.size(1), 1}), s);
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

void check_identical_after_reload(xg::nn::Module& trained, xg::nn::Module& fresh, const xg::Tensor& x, const std::string& path) {
  trained.save(path);
  xg::NoGradGuard g;
  CHECK(trained.forward(x).to_vector<float>() != fresh.forward(x).to_vector<float>());
  fresh.load(path);
  CHECK(trained.forward(x).to_vector<float>() == fresh.forward(x).to_vector<float>());
  std::remove(path.c_str());
}
}  // namespace

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

TEST_CASE("tensor files round-trip every dtype with metadata") {
  const std::string p = tmp("rt.safetensors");
  xg::Tensor a = xg::arange(0, 6, 1).reshape({2, 3});
  xg::Tensor b = xg::tensor({1.5, -2.25}, {.dtype = xg::Dtype::float64});
  xg::Tensor c = xg::tensor({7, -8, 9}, {.dtype = xg::Dtype::int64});
  xg::Tensor e = xg::zeros({0, 4});
  xg::save_tensors(p, {{"a", a}, {"b", b}, {"c", c}, {"empty", e}}, {{"note", "hello"}});
  xg::TensorFile f = xg::load_tensors(p);
  REQUIRE(f.tensors.size() == 4);
  CHECK(f.tensors[0].first == "a");
  CHECK(f.at("a").shape() == xg::Shape{2, 3});
  CHECK(f.at("a").to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(f.at("b").dtype() == xg::Dtype::float64);
  CHECK(f.at("b").to_vector<double>() == std::vector<double>{1.5, -2.25});
  CHECK(f.at("c").to_vector<int64_t>() == std::vector<int64_t>{7, -8, 9});
  CHECK(f.at("empty").shape() == xg::Shape{0, 4});
  CHECK(f.metadata.at("note") == "hello");
  CHECK_ERROR(f.at("nope"), xg::IOError, "no tensor named 'nope'");
  // the header is 8-byte aligned JSON, as the format wants
  const std::string raw = read_file(p);
  CHECK((8 + static_cast<unsigned char>(raw[0])) % 8 == 0);
  std::remove(p.c_str());
}

TEST_CASE("corrupted tensor files give a clear error naming the file and what is wrong") {
  const std::string p = tmp("bad.safetensors");
  xg::save_tensors(p, {{"w", xg::ones({4, 4})}});
  const std::string good = read_file(p);

  write_file(p, good.substr(0, good.size() - 10));  // truncated data
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "truncated");

  write_file(p, good.substr(0, 5));  // truncated length
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "header length is missing");

  std::string big = good;
  big[6] = '\x7f';  // header length far beyond the file
  write_file(p, big);
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "runs past the end of the file");

  write_file(p, make_file("{not json", ""));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "malformed JSON header at offset 8");

  write_file(p, make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                     std::string(12, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "tensor 'b' starts at data offset 4", "gap or overlap");

  write_file(p, make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "tensor 'a' of shape [3] and dtype F32 needs 12 bytes");

  write_file(p, make_file(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "unsupported dtype C64");

  CHECK_ERROR(xg::load_tensors(tmp("missing.safetensors")), xg::IOError, tmp("missing.safetensors"), "cannot open");
  std::remove(p.c_str());
}

TEST_CASE("loading a state dict checks names, shapes and dtypes before copying anything") {
  xg::manual_seed(3);
  auto model = std::make_shared<xg::nn::Linear>(3, 2);
  const std::vector<float> before = model->weight.to_vector<float>();
  auto state = model->state_dict();

  auto wrong_shape = state;
  wrong_shape[0].second = xg::zeros({2, 4});
  CHECK_ERROR(model->load_state_dict(wrong_shape), xg::ShapeError, "'weight' has shape [2, 4] in the state, [2, 3] in the model");

  auto wrong_dtype = state;
  wrong_dtype[1].second = xg::zeros({2}, {.dtype = xg::Dtype::float64});
  CHECK_ERROR(model->load_state_dict(wrong_dtype), xg::TypeError, "'bias' is float64 in the state, float32 in the model");

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
