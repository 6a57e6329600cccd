// The malformed-file corpus of the safetensors loaders (tests/data/safetensors_corpus, made by
// scripts/make_safetensors_corpus.py, listed in its MANIFEST.tsv): every file is refused by its
// loader (load_tensors, Module::load into an nn::Linear(3, 2), or Optimizer::load into an
// optimizer over that Linear) with the typed error its manifest line names, a message naming
// the file and the expected reason, and the model and optimizer it was loaded into unchanged bit
// for bit. The valid files the others are made from must load.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/nn.hpp"
#include "xgrad/optim/optim.hpp"

#ifndef XG_ST_CORPUS
#error "XG_ST_CORPUS (the corpus directory) is set by tests/meson.build"
#endif

namespace {

namespace optim = xg::optim;
using xg::Tensor;

struct Entry {
  std::string file, loader, error, reason;
};

std::vector<Entry> manifest() {
  std::ifstream in(std::string(XG_ST_CORPUS) + "/MANIFEST.tsv");
  REQUIRE_MESSAGE(in, "cannot read " << XG_ST_CORPUS << "/MANIFEST.tsv");
  std::vector<Entry> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, '\t');) cols.push_back(c);
    if (cols.size() == 3) cols.emplace_back();  // a valid file: no reason
    REQUIRE_MESSAGE(cols.size() == 4, line);
    out.push_back({cols[0], cols[1], cols[2], cols[3]});
  }
  return out;
}

std::string bytes(const Tensor& t) {
  const Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.raw_data()),
                     static_cast<std::size_t>(c.numel()) * xg::dtype_size(c.dtype()));
}

// The optimizer of a manifest's loader name, with default options, over params.
std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, const std::vector<Tensor>& params) {
  if (name == "sgd") return std::make_unique<optim::SGD>(params);
  if (name == "adam") return std::make_unique<optim::Adam>(params);
  if (name == "adamw") return std::make_unique<optim::AdamW>(params);
  if (name == "adamax") return std::make_unique<optim::Adamax>(params);
  if (name == "adagrad") return std::make_unique<optim::Adagrad>(params);
  if (name == "rmsprop") return std::make_unique<optim::RMSprop>(params);
  if (name == "nadam") return std::make_unique<optim::NAdam>(params);
  if (name == "radam") return std::make_unique<optim::RAdam>(params);
  if (name == "adadelta") return std::make_unique<optim::Adadelta>(params);
  if (name == "asgd") return std::make_unique<optim::ASGD>(params);
  if (name == "lbfgs") return std::make_unique<optim::LBFGS>(params);
  return nullptr;
}

// Everything the model and optimizer hold, as bytes.
std::vector<std::string> snapshot(xg::nn::Module& model, const optim::Optimizer& opt) {
  std::vector<std::string> out;
  for (const auto& [n, t] : model.state_dict()) out.push_back(n + ":" + t.shape().str() + ":" + bytes(t));
  const optim::StateDict sd = opt.state_dict();
  for (const auto& [k, v] : sd.metadata) out.push_back(k + "=" + v);
  for (const auto& [n, t] : sd.tensors) out.push_back(n + ":" + t.shape().str() + ":" + bytes(t));
  return out;
}

// The error a call threw: its type's name ("none" when it returned) and message.
std::pair<std::string, std::string> outcome(const std::function<void()>& f) {
  try {
    f();
  } catch (const xg::IOError& e) {
    return {"IOError", e.what()};
  } catch (const xg::ShapeError& e) {
    return {"ShapeError", e.what()};
  } catch (const xg::TypeError& e) {
    return {"TypeError", e.what()};
  } catch (const xg::IndexError& e) {
    return {"IndexError", e.what()};
  } catch (const xg::ValueError& e) {
    return {"ValueError", e.what()};
  } catch (const std::exception& e) {
    return {"std::exception", e.what()};
  }
  return {"none", ""};
}

}  // namespace

TEST_CASE("every file of the safetensors corpus is refused with its typed error, and nothing changes") {
  const std::vector<Entry> entries = manifest();
  // every file of the directory is listed, and the corpus is as large as issue 12 asks
  std::size_t files = 0, refused = 0;
  for (const auto& f : std::filesystem::directory_iterator(XG_ST_CORPUS))
    if (f.path().extension() == ".safetensors") ++files;
  CHECK(files == entries.size());
  for (const Entry& e : entries) {
    CAPTURE(e.file);
    CAPTURE(e.reason);
    const std::string path = std::string(XG_ST_CORPUS) + "/" + e.file;
    REQUIRE(std::filesystem::exists(path));
    xg::manual_seed(0);
    auto model = std::make_shared<xg::nn::Linear>(3, 2);
    std::unique_ptr<optim::Optimizer> opt = make_optimizer(
        e.loader == "module" || e.loader == "tensors" ? "adam" : e.loader, model->parameters());
    REQUIRE_MESSAGE(opt, "unknown loader " << e.loader);
    // one step first, so that the optimizer has state of its own that a load could damage
    const Tensor x = xg::tensor({1.0, -2.0, 0.5, 0.25, 1.5, -1.0}, {2, 3});
    opt->step([&] {
      opt->zero_grad();
      Tensor l = xg::sum(model->forward(x) * model->forward(x));
      l.backward();
      return l;
    });
    const auto before = snapshot(*model, *opt);
    // Not a structured binding: clang 14 (the sanitizer builds) cannot capture one.
    const auto result = outcome([&] {
      if (e.loader == "tensors")
        xg::load_tensors(path);
      else if (e.loader == "module")
        model->load(path);
      else
        opt->load(path);
    });
    const auto& type = result.first;
    const auto& what = result.second;
    CHECK_MESSAGE(type == e.error, "threw " << type << ": " << what);
    if (e.error == "none") continue;
    ++refused;
    CHECK_MESSAGE(what.find(path) != std::string::npos, "the message does not name the file: " << what);
    CHECK_MESSAGE(what.find(e.reason) != std::string::npos, "the message lacks the reason: " << what);
    CHECK(snapshot(*model, *opt) == before);
    // A form error is the reader's own, whichever loader met it.
    if (e.error == "IOError") {
      const auto direct = outcome([&] { xg::load_tensors(path); });
      CHECK(direct.first == "IOError");
      CHECK(direct.second == what);
    }
  }
  CHECK(refused >= 80);
}
