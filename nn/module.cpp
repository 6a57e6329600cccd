#include "xgrad/nn/module.hpp"

#include <ostream>
#include <set>
#include <sstream>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"

namespace xg::nn {

Tensor Module::forward(const Tensor&) {
  throw ValueError(type_name_ + ": this module has no single-input forward(x)");
}

void Module::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(type_name_ + ": invalid name '" + name + "' (names are non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    for (const auto& [n, v] : list)
      if (n == name) return true;
    return false;
  };
  if (taken(params_) || taken(buffers_) || taken(children_))
    throw ValueError(type_name_ + ": the name '" + name + "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name(name);
  if (!t.defined()) throw ValueError(type_name_ + ": parameter '" + name + "' is undefined");
  if (!t.is_leaf()) t = t.detach();
  if (requires_grad) t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name);
  if (!t.defined()) throw ValueError(type_name_ + ": buffer '" + name + "' is undefined");
  buffers_.emplace_back(name, t.detach());
  return buffers_.back().second;
}

void Module::set_buffer(const std::string& name, const Tensor& value) {
  for (auto& [n, t] : buffers_)
    if (n == name) {
      NoGradGuard guard;
      t.copy_(value);
      return;
    }
  throw ValueError(type_name_ + ": no buffer named '" + name + "'");
}

void Module::add_child(const std::string& name, ModulePtr m) {
  check_new_name(name);
  if (!m) throw ValueError(type_name_ + ": sub-module '" + name + "' is null");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool params, bool recurse, NamedTensors& out) const {
  for (const auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, recurse, out);
  return out;
}
std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}
NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, recurse, out);
  return out;
}
std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules() {
  // shared_from_this() would throw bad_weak_ptr for a module that no shared_ptr owns (one on the
  // stack, or a member held by value): such a root gets a non-owning pointer instead.
  ModulePtr self = weak_from_this().lock();
  if (!self) self = ModulePtr(ModulePtr(), this);
  std::vector<std::pair<std::string, ModulePtr>> out{{"", self}};
  std::set<const Module*> seen{this};
  auto visit = [&](auto& visit_children, const Module& m, const std::string& prefix) -> void {
    for (const auto& [n, c] : m.children_) {
      if (!seen.insert(c.get()).second) continue;
      const std::string name = prefix.empty() ? n : prefix + "." + n;
      out.emplace_back(name, c);
      visit_children(visit_children, *c, name);
    }
  };
  visit(visit, *this, "");
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) p.zero_grad(set_to_none);
}

void Module::to(Dtype dtype) {
  if (!is_floating(dtype)) throw TypeError(type_name_ + ".to: modules convert to float32 or float64 only");
  NoGradGuard guard;
  auto convert = [&](Tensor& t) {
    if (!t.is_floating_point() || t.dtype() == dtype) return;
    Tensor c = t.to(dtype);
    // Swap the values into the existing handle, so that optimizers and user code holding the
    // parameter keep a valid reference.
    t.impl()->storage = c.impl()->storage;
    t.impl()->dtype = dtype;
    t.impl()->grad.reset();
  };
  for (auto& [n, t] : params_) convert(t);
  for (auto& [n, t] : buffers_) convert(t);
  for (auto& [n, c] : children_) c->to(dtype);
}

NamedTensors Module::state_dict() const {
  NamedTensors out = named_parameters();
  for (auto& b : named_buffers()) out.push_back(b);
  return out;
}

LoadResult Module::load_state_dict(const NamedTensors& state, bool strict) {
  NamedTensors mine = state_dict();
  std::set<std::string> used;
  LoadResult r;
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  // Check everything first: a load that fails leaves the model as it was.
  for (auto& [name, t] : mine) {
    const Tensor* src = nullptr;
    for (const auto& [n, v] : state)
      if (n == name) src = &v;
    if (!src) {
      r.missing.push_back(name);
      continue;
    }
    used.insert(name);
    if (!(src->shape() == t.shape()))
      throw ShapeError(type_name_ + ".load_state_dict: '" + name + "' has shape " + src->shape().str() +
                       " in the state, " + t.shape().str() + " in the model");
    if (src->dtype() != t.dtype())
      throw TypeError(type_name_ + ".load_state_dict: '" + name + "' is " + dtype_name(src->dtype()) +
                      " in the state, " + dtype_name(t.dtype()) +
                      " in the model (convert the model with to() first)");
    copies.emplace_back(t, src);
  }
  for (const auto& [n, v] : state)
    if (!used.count(n)) r.unexpected.push_back(n);
  if (strict && (!r.missing.empty() || !r.unexpected.empty())) {
    std::string msg = type_name_ + ".load_state_dict: the state does not match the model;";
    if (!r.missing.empty())
      msg += " missing: " + r.missing.front() +
             (r.missing.size() > 1 ? " (+" + std::to_string(r.missing.size() - 1) + " more)" : "") + ";";
    if (!r.unexpected.empty())
      msg += " unexpected: " + r.unexpected.front() +
             (r.unexpected.size() > 1 ? " (+" + std::to_string(r.unexpected.size() - 1) + " more)" : "") +
             ";";
    throw ValueError(msg);
  }
  NoGradGuard guard;
  for (auto& [t, src] : copies) t.copy_(*src);
  return r;
}

void Module::save(const std::string& path) const {
  save_tensors(path, state_dict(), {{"format", "xgrad-state-dict"}});
}

LoadResult Module::load(const std::string& path, bool strict) {
  TensorFile f = load_tensors(path);
  try {
    return load_state_dict(f.tensors, strict);
  } catch (const Error& e) {
    throw ValueError("loading '" + path + "': " + e.what());
  }
}

std::string Module::repr(int indent) const {
  std::ostringstream s;
  s << type_name_ << '(' << extra_repr();
  if (!children_.empty()) {
    s << '\n';
    for (const auto& [n, c] : children_)
      s << std::string(static_cast<std::size_t>(indent + 2), ' ') << '(' << n << "): " << c->repr(indent + 2)
        << '\n';
    s << std::string(static_cast<std::size_t>(indent), ' ');
  }
  s << ')';
  return s.str();
}

std::ostream& operator<<(std::ostream& os, const Module& m) {
  return os << m.repr();
}

Sequential::Sequential(std::vector<ModulePtr> modules) : Module("Sequential") {
  for (auto& m : modules) push_back(std::move(m));
}
Sequential& Sequential::push_back(ModulePtr m) {
  return push_back(std::to_string(size()), std::move(m));
}
Sequential& Sequential::push_back(const std::string& name, ModulePtr m) {
  register_module(name, std::move(m));
  return *this;
}
Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [n, m] : named_children()) y = m->forward(y);
  return y;
}

ModuleList& ModuleList::push_back(ModulePtr m) {
  register_module(std::to_string(size()), std::move(m));
  return *this;
}

}  // namespace xg::nn
