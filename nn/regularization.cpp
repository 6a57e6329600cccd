#include "xgrad/nn/regularization.hpp"

#include <cmath>
#include <map>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"

namespace xg::nn {

namespace {
bool is_bias(const std::string& leaf) {
  return leaf == "bias" || leaf.rfind("bias_", 0) == 0 ||
         (leaf.size() > 5 && leaf.compare(leaf.size() - 5, 5, "_bias") == 0);
}

// The chosen parameters with their names, each once (as named_parameters() lists them).
NamedTensors chosen(Module& module, const PenaltyOptions& o) {
  std::map<std::string, bool> norm_module;  // module name -> is a normalisation layer
  for (const auto& [name, m] : module.named_modules())
    norm_module[name] = m->type_name().find("Norm") != std::string::npos;
  NamedTensors out;
  for (const auto& [name, p] : module.named_parameters()) {
    const std::size_t dot = name.rfind('.');
    const std::string owner = dot == std::string::npos ? "" : name.substr(0, dot);
    const std::string leaf = dot == std::string::npos ? name : name.substr(dot + 1);
    const auto it = norm_module.find(owner);
    if (!o.include_norm && it != norm_module.end() && it->second) continue;
    if (!o.include_bias && is_bias(leaf)) continue;
    out.emplace_back(name, p);
  }
  return out;
}

template <class Term>
Tensor penalty(Module& module, const PenaltyOptions& o, Term term) {
  Tensor total;
  for (const auto& [name, p] : chosen(module, o)) {
    Tensor t = sum(term(p));
    total = total.defined() ? add(total, t) : t;
  }
  if (total.defined()) return total;
  const auto params = module.parameters();
  return scalar_tensor(0.0, {.dtype = params.empty() ? Dtype::float32 : params.front().dtype()});
}
}  // namespace

std::vector<std::string> penalized_parameters(Module& module, PenaltyOptions options) {
  std::vector<std::string> names;
  for (const auto& [name, p] : chosen(module, options)) names.push_back(name);
  return names;
}

Tensor l1_penalty(Module& module, PenaltyOptions options) {
  return penalty(module, options, [](const Tensor& p) { return abs(p); });
}

Tensor l2_penalty(Module& module, PenaltyOptions options) {
  return penalty(module, options, [](const Tensor& p) { return square(p); });
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  if (options_.mode != "min" && options_.mode != "max")
    throw ValueError("EarlyStopping: mode must be \"min\" or \"max\", got \"" + options_.mode + "\"");
  if (options_.patience < 0)
    throw ValueError("EarlyStopping: patience must be >= 0, got " + std::to_string(options_.patience));
  if (!(options_.min_delta >= 0))
    throw ValueError("EarlyStopping: min_delta must be >= 0, got " + std::to_string(options_.min_delta));
  best_ = options_.mode == "min" ? std::numeric_limits<double>::infinity()
                                 : -std::numeric_limits<double>::infinity();
}

bool EarlyStopping::step(double metric, const Module* model) {
  ++steps_;
  improved_ =
      options_.mode == "min" ? metric < best_ - options_.min_delta : metric > best_ + options_.min_delta;
  if (improved_) {
    best_ = metric;
    best_step_ = steps_;
    bad_ = 0;
    if (model) {
      NoGradGuard no_grad;
      best_state_.clear();
      for (const auto& [name, t] : model->state_dict()) best_state_.emplace_back(name, t.detach().clone());
    }
  } else {
    ++bad_;
  }
  stop_ = !improved_ && bad_ >= options_.patience;
  return stop_;
}

bool EarlyStopping::restore_best(Module& model) const {
  if (best_state_.empty()) return false;
  model.load_state_dict(best_state_);
  return true;
}

}  // namespace xg::nn
