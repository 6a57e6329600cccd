#pragma once
/// @file module.hpp
/// @brief The base of every layer and model. Parameters, buffers and sub-modules are registered
/// by name and in order (as LibTorch's register_parameter/register_module); named_parameters()
/// yields dotted names ("encoder.fc1.weight") that state dicts and files use.
///
/// @code
/// struct Net : xg::nn::Module {
///   std::shared_ptr<xg::nn::Linear> fc1, fc2;
///   Net() {
///     fc1 = register_module("fc1", std::make_shared<xg::nn::Linear>(784, 128));
///     fc2 = register_module("fc2", std::make_shared<xg::nn::Linear>(128, 10));
///   }
///   xg::Tensor forward(const xg::Tensor& x) override { return fc2->forward(xg::relu(fc1->forward(x))); }
/// };
/// @endcode
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"
#include "xgrad/autograd/tools/serialize.hpp"

namespace xg::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;

/// What a load matched: entries of the model absent from the state, and entries of the state
/// the model does not have (both empty after a strict load, which throws otherwise).
struct LoadResult {
  std::vector<std::string> missing, unexpected;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The single-input forward used by Sequential and operator(). Modules with other inputs
  /// (Bilinear, MultiheadAttention, RNNs) add their own overloads; this one throws for them.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  /// Parameters of this module and (recurse) its sub-modules, in registration order.
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, ModulePtr>> named_children() const { return children_; }
  /// This module ("") and every descendant, depth first in registration order, with dotted
  /// names ("layer1", "layer1.0"), as PyTorch's: a module registered twice is listed once, under
  /// its first name. Works on any module, on the heap or not (`Net model; model.named_modules()`):
  /// the root's pointer owns it when a shared_ptr does, and otherwise only points to it (valid
  /// while the module lives); the descendants' are their parents' own shared_ptrs.
  std::vector<std::pair<std::string, ModulePtr>> named_modules();

  /// Training mode (dropout active, batch norm updates its running statistics) or evaluation.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Clears the gradients of every parameter (undefined by default, as PyTorch; or zeros).
  void zero_grad(bool set_to_none = true);
  /// Converts every float parameter and buffer to dtype, in place (the handles stay valid).
  void to(Dtype dtype);

  /// Parameters and buffers by dotted name (buffers such as BatchNorm's running statistics too).
  NamedTensors state_dict() const;
  /// Copies values in by name. Shapes and dtypes must match (ShapeError / TypeError naming the
  /// entry). strict: no entry may be missing or unexpected (ValueError listing them); non-strict:
  /// the result lists them. Everything is checked before anything is copied.
  LoadResult load_state_dict(const NamedTensors& state, bool strict = true);
  /// state_dict() to a safetensors file (atomically: a temporary file renamed into place).
  void save(const std::string& path) const;
  /// load_state_dict() from a safetensors file; a file of another model raises an error naming
  /// the first mismatching entry.
  LoadResult load(const std::string& path, bool strict = true);

  const std::string& type_name() const { return type_name_; }
  /// A readable tree: "Net(\n  (fc1): Linear(in_features=784, out_features=128, bias=true)\n ...)".
  virtual std::string extra_repr() const { return ""; }
  std::string repr(int indent = 0) const;

 protected:
  /// Registers a parameter (a leaf that requires grad) under `name` and returns its handle.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  /// Registers a buffer: state that is saved but not trained (running mean, ...).
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  /// Replaces the value of a registered buffer (e.g. BatchNorm's counter) keeping its handle.
  void set_buffer(const std::string& name, const Tensor& value);

 private:
  void add_child(const std::string& name, ModulePtr m);
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool recurse, NamedTensors& out) const;

  std::string type_name_;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

/// Applies sub-modules in order.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::vector<ModulePtr> modules);
  /// Appends a module, named by its position ("0", "1", ...).
  Sequential& push_back(ModulePtr m);
  Sequential& push_back(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  std::size_t size() const { return named_children().size(); }
  ModulePtr operator[](std::size_t i) const { return named_children().at(i).second; }
};

/// Holds sub-modules in a list (registered "0", "1", ...) without calling them in order.
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  ModuleList& push_back(ModulePtr m);
  std::size_t size() const { return named_children().size(); }
  ModulePtr operator[](std::size_t i) const { return named_children().at(i).second; }
  template <class M>
  std::shared_ptr<M> at(std::size_t i) const {
    return std::dynamic_pointer_cast<M>((*this)[i]);
  }
};

}  // namespace xg::nn
