#include "xgrad/autograd/tape/custom_op.hpp"

#include <optional>

#include "xgrad/autograd/tape/node.hpp"

namespace xg {

struct CustomOp::Impl {
  std::string name, formula;
  Forward forward;
  Backward backward;
  std::optional<OpInfo> info;
};

namespace {

class CustomNode final : public Node, public CustomOpContext {
 public:
  CustomNode(std::shared_ptr<const CustomOp::Impl> def, const std::vector<Tensor>& inputs,
             const Tensor& output)
      : Node(*def->info, collect_edges(inputs), output), def_(std::move(def)), out_(output, true) {
    for (const Tensor& t : inputs) in_.emplace_back(t, false);
  }
  Tensor input(std::size_t i) const override {
    if (i >= in_.size())
      throw IndexError("custom op '" + def_->name + "': input " + std::to_string(i) +
                       " requested, the op has " + std::to_string(in_.size()));
    return in_[i].unpack(*this);
  }
  std::size_t num_inputs() const override { return in_.size(); }
  Tensor output() const override { return out_.unpack(*this); }
  bool needs_input_grad(std::size_t i) const override { return Node::needs_input_grad(i); }

 protected:
  void backward(const Tensor& g, std::span<Tensor> grads) override {
    std::vector<Tensor> r = def_->backward(*this, g);
    if (r.size() != grads.size())
      throw ValueError("custom op '" + def_->name + "': backward returned " + std::to_string(r.size()) +
                       " gradients for " + std::to_string(grads.size()) + " inputs");
    for (std::size_t i = 0; i < r.size(); ++i) grads[i] = r[i];
  }
  void release_saved() override {
    in_.clear();
    out_ = SavedTensor();
  }

 private:
  std::shared_ptr<const CustomOp::Impl> def_;
  std::vector<SavedTensor> in_;
  SavedTensor out_;
};

}  // namespace

CustomOp::CustomOp(std::string name, std::string formula, Forward forward, Backward backward)
    : impl_(std::make_shared<Impl>()) {
  if (!forward || !backward)
    throw ValueError("custom op '" + name + "': forward and backward must both be given");
  impl_->name = std::move(name);
  impl_->formula = std::move(formula);
  impl_->forward = std::move(forward);
  impl_->backward = std::move(backward);
  impl_->info = detail::OpDefinition::make(impl_->name.c_str(), {.formula = impl_->formula.c_str()});
}

const std::string& CustomOp::name() const {
  return impl_->name;
}

Tensor CustomOp::operator()(const std::vector<Tensor>& inputs) const {
  Tensor y;
  {
    NoGradGuard guard;
    y = impl_->forward(inputs);
  }
  if (!y.defined()) throw ValueError("custom op '" + impl_->name + "': forward returned an undefined tensor");
  if (!GradMode::is_enabled() || !any_requires_grad(std::span<const Tensor>(inputs))) return y;
  // The forward may have returned an alias of an input: record on a tensor of its own.
  bool alias = y.grad_fn() || y.requires_grad();
  for (const Tensor& in : inputs) alias = alias || in.impl() == y.impl();
  if (alias) y = y.detach();
  y.impl()->grad_fn = std::make_shared<CustomNode>(impl_, inputs, y);
  y.impl()->requires_grad = true;
  if (detail::tape_observer) [[unlikely]]
    detail::tape_observer->on_record(*y.impl()->grad_fn, inputs, y);
  return y;
}

}  // namespace xg
