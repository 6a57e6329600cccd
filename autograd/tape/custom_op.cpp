#include "xgrad/autograd/tape/custom_op.hpp"

#include <optional>

#include "xgrad/autograd/tape/node.hpp"

namespace xg {

void CustomOpContext::throw_bad_state(const std::type_info& wanted) const {
  throw TypeError("custom op '" + op_name() + "': state_as<" + wanted.name() + "> but the state holds " +
                  (state().has_value() ? state().type().name() : "nothing"));
}

struct CustomOp::Impl {
  std::string name, formula;
  ForwardWithContext forward;
  BackwardMulti backward;
  CustomOp::Jvp jvp;
  bool single_output = false;  // made from the simple form
  std::optional<OpInfo> info;
};

namespace {

// One node for all of the op's differentiable outputs: node output j is op output diff[j]. The
// backward gets a gradient per op output and runs once per pass.
class CustomNode final : public Node, public CustomOpContext {
 public:
  CustomNode(std::shared_ptr<const CustomOp::Impl> def, const std::vector<Tensor>& inputs,
             const std::vector<Tensor>& outputs, std::vector<std::size_t> diff,
             std::vector<SavedTensor> saved, std::any state, bool materialize)
      : Node(*def->info, collect_edges(inputs), outputs[diff[0]]),
        def_(std::move(def)),
        saved_(std::move(saved)),
        state_(std::move(state)),
        diff_(std::move(diff)),
        materialize_(materialize) {
    for (const Tensor& t : inputs) {
      in_.emplace_back(t, false);
      in_shapes_.push_back(t.defined() ? t.shape() : Shape{});
    }
    for (std::size_t j = 1; j < diff_.size(); ++j) add_output(outputs[diff_[j]]);
    // Differentiable outputs are kept without their grad_fn (this node: no cycle); the others
    // never get one.
    std::vector<int> node_nr(outputs.size(), -1);
    for (std::size_t j = 0; j < diff_.size(); ++j) node_nr[diff_[j]] = static_cast<int>(j);
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      out_.push_back(node_nr[k] >= 0 ? SavedTensor(outputs[k], true, static_cast<uint32_t>(node_nr[k]))
                                     : SavedTensor(outputs[k], false));
      out_meta_.emplace_back(outputs[k].shape(), outputs[k].dtype());
    }
  }
  Tensor input(std::size_t i) const override {
    check_index("input", i, in_.size());
    return in_[i].unpack(*this);
  }
  std::size_t num_inputs() const override { return in_.size(); }
  Tensor output() const override { return output(0); }
  Tensor output(std::size_t k) const override {
    check_index("output", k, out_.size());
    return out_[k].unpack(*this);
  }
  std::size_t num_outputs() const override { return out_.size(); }
  Tensor saved(std::size_t i) const override {
    check_index("saved tensor", i, saved_.size());
    return saved_[i].unpack(*this);
  }
  std::size_t num_saved() const override { return saved_.size(); }
  const std::any& state() const override { return state_; }
  bool needs_input_grad(std::size_t i) const override { return Node::needs_input_grad(i); }

 protected:
  void backward(const Tensor& g, std::span<Tensor> grads) override {
    Tensor one[1] = {g};
    backward_outputs(one, grads);
  }
  void backward_outputs(std::span<Tensor> g, std::span<Tensor> grads) override {
    std::vector<Tensor> go(out_meta_.size());
    for (std::size_t j = 0; j < diff_.size(); ++j) {
      const auto& [shape, dtype] = out_meta_[diff_[j]];
      go[diff_[j]] = g[j].defined() || !materialize_ ? g[j] : zeros(shape, {.dtype = dtype});
    }
    std::vector<Tensor> r = def_->backward(*this, go);
    if (r.size() != grads.size())
      throw ValueError("custom op '" + def_->name + "': backward returned " + std::to_string(r.size()) +
                       " gradients for " + std::to_string(grads.size()) + " inputs");
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (!r[i].defined() || !Node::needs_input_grad(i)) continue;
      if (!(r[i].shape() == in_shapes_[i]))
        throw ValueError("custom op '" + def_->name + "': backward returned a gradient of shape " +
                         r[i].shape().str() + " for input " + std::to_string(i) + " of shape " +
                         in_shapes_[i].str());
      grads[i] = std::move(r[i]);
    }
  }
  void release_saved() override {
    in_.clear();
    out_.clear();
    saved_.clear();
    state_.reset();
  }
  const std::string& op_name() const override { return def_->name; }

 private:
  void check_index(const char* what, std::size_t i, std::size_t n) const {
    if (i >= n)
      throw IndexError("custom op '" + def_->name + "': " + what + " " + std::to_string(i) +
                       " requested, the op has " + std::to_string(n));
  }
  std::shared_ptr<const CustomOp::Impl> def_;
  std::vector<SavedTensor> in_, out_, saved_;
  std::vector<Shape> in_shapes_;
  std::vector<std::pair<Shape, Dtype>> out_meta_;
  std::any state_;
  std::vector<std::size_t> diff_;
  bool materialize_;
};

}  // namespace

CustomOp::CustomOp(std::string name, std::string formula, Forward forward, Backward backward)
    : impl_(std::make_shared<Impl>()) {
  if (!forward || !backward)
    throw ValueError("custom op '" + name + "': forward and backward must both be given");
  impl_->name = std::move(name);
  impl_->formula = std::move(formula);
  impl_->forward = [f = std::move(forward)](CustomOpForwardContext&, const std::vector<Tensor>& in) {
    return std::vector<Tensor>{f(in)};
  };
  // One output: the node runs only when it got a gradient, so g[0] is always defined.
  impl_->backward = [b = std::move(backward)](const CustomOpContext& ctx, const std::vector<Tensor>& g) {
    return b(ctx, g[0]);
  };
  impl_->single_output = true;
  impl_->info = detail::OpDefinition::make(impl_->name.c_str(), {.formula = impl_->formula.c_str()});
}

CustomOp::CustomOp(std::string name, std::string formula, ForwardWithContext forward, BackwardMulti backward)
    : impl_(std::make_shared<Impl>()) {
  if (!forward || !backward)
    throw ValueError("custom op '" + name + "': forward and backward must both be given");
  impl_->name = std::move(name);
  impl_->formula = std::move(formula);
  impl_->forward = std::move(forward);
  impl_->backward = std::move(backward);
  impl_->info = detail::OpDefinition::make(impl_->name.c_str(), {.formula = impl_->formula.c_str()});
}

CustomOp::CustomOp(std::string name, std::string, std::nullptr_t, std::nullptr_t) {
  throw ValueError("custom op '" + name + "': forward and backward must both be given");
}

const std::string& CustomOp::name() const {
  return impl_->name;
}
CustomOp& CustomOp::set_jvp(Jvp jvp) {
  impl_->jvp = std::move(jvp);
  return *this;
}

namespace {
// Sets the outputs' tangents from the op's JVP rule, when an input carries a tangent.
void custom_jvp(const CustomOp::Impl& op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& ys) {
  if (!detail::fw_level || !detail::any_tangent(inputs)) return;
  std::vector<Tensor> t(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) t[i] = detail::tangent_of(inputs[i]);
  std::vector<Tensor> r;
  {
    detail::JvpRuleGuard off;
    r = op.jvp(inputs, ys, t);
  }
  if (r.size() != ys.size())
    throw ValueError("custom op '" + op.name + "': the JVP rule returned " + std::to_string(r.size()) +
                     " tangents for " + std::to_string(ys.size()) + " outputs");
  for (std::size_t k = 0; k < ys.size(); ++k) {
    if (r[k].defined() && !(r[k].shape() == ys[k].shape()))
      throw ShapeError("custom op '" + op.name + "': the JVP rule's tangent for output " + std::to_string(k) +
                       " has shape " + r[k].shape().str() + ", the output " + ys[k].shape().str());
    detail::set_tangent(ys[k], r[k]);
  }
}
}  // namespace

Tensor CustomOp::operator()(const std::vector<Tensor>& inputs) const {
  std::vector<Tensor> ys = apply(inputs);
  if (ys.size() != 1)
    throw ValueError("custom op '" + impl_->name + "': the forward returned " + std::to_string(ys.size()) +
                     " outputs; call apply() to get all of them");
  return ys[0];
}

std::vector<Tensor> CustomOp::apply(const std::vector<Tensor>& inputs) const {
  const bool recording = GradMode::is_enabled() && any_requires_grad(std::span<const Tensor>(inputs));
  CustomOpForwardContext ctx;
  for (const Tensor& t : inputs) ctx.needs_grad_.push_back(recording && t.defined() && t.requires_grad());
  if (detail::fw_level && !impl_->jvp && detail::any_tangent(inputs))
    detail::throw_no_jvp(impl_->name.c_str());
  std::vector<Tensor> ys;
  {
    NoGradGuard guard;
    detail::JvpRuleGuard no_tangents;  // the op's tangents come from its JVP rule alone
    ys = impl_->forward(ctx, inputs);
  }
  const std::string& name = impl_->name;
  if (ys.empty()) throw ValueError("custom op '" + name + "': forward returned no outputs");
  for (std::size_t k = 0; k < ys.size(); ++k)
    if (!ys[k].defined())
      throw ValueError("custom op '" + name + "': forward returned an undefined tensor" +
                       (impl_->single_output ? std::string() : " as output " + std::to_string(k)));

  // Marked outputs are found by identity, before any output is replaced by a detached alias.
  std::vector<bool> differentiable(ys.size());
  for (std::size_t k = 0; k < ys.size(); ++k) differentiable[k] = is_floating(ys[k].dtype());
  for (const Tensor& m : ctx.non_differentiable_) {
    bool found = false;
    for (std::size_t k = 0; k < ys.size(); ++k)
      if (m.defined() && m.impl() == ys[k].impl()) {
        differentiable[k] = false;
        found = true;
      }
    if (!found)
      throw ValueError("custom op '" + name +
                       "': mark_non_differentiable was given a tensor that the forward does not return");
  }
  std::vector<std::size_t> diff;
  for (std::size_t k = 0; k < ys.size(); ++k)
    if (differentiable[k]) diff.push_back(k);
  if (!recording || diff.empty()) {
    custom_jvp(*impl_, inputs, ys);
    return ys;
  }

  // What each saved tensor is: an output (kept on the graph through this node), an input, or an
  // intermediate; decided by identity before outputs are re-wrapped below.
  struct Role {
    int output = -1, input = -1;
  };
  std::vector<Role> roles(ctx.saved_.size());
  for (std::size_t s = 0; s < ctx.saved_.size(); ++s) {
    const auto& impl = ctx.saved_[s].impl();
    if (!impl) continue;
    for (std::size_t k = 0; k < ys.size() && roles[s].output < 0; ++k)
      if (ys[k].impl() == impl) roles[s].output = static_cast<int>(k);
    for (std::size_t i = 0; i < inputs.size() && roles[s].output < 0 && roles[s].input < 0; ++i)
      if (inputs[i].impl() == impl) roles[s].input = static_cast<int>(i);
  }

  // The forward may have returned an alias of an input, or one tensor twice: record on tensors of
  // their own.
  for (std::size_t k = 0; k < ys.size(); ++k) {
    bool alias = ys[k].grad_fn() || ys[k].requires_grad();
    for (const Tensor& in : inputs) alias = alias || in.impl() == ys[k].impl();
    for (std::size_t l = 0; l < k; ++l) alias = alias || ys[l].impl() == ys[k].impl();
    if (alias) ys[k] = ys[k].detach();
  }

  std::vector<int> node_nr(ys.size(), -1);
  for (std::size_t j = 0; j < diff.size(); ++j) node_nr[diff[j]] = static_cast<int>(j);
  std::vector<SavedTensor> saved;
  for (std::size_t s = 0; s < ctx.saved_.size(); ++s) {
    const Role r = roles[s];
    if (r.output >= 0 && node_nr[r.output] >= 0)
      saved.emplace_back(ys[r.output], true, static_cast<uint32_t>(node_nr[r.output]));
    else if (r.output >= 0)
      saved.emplace_back(ys[r.output], false);
    else if (r.input >= 0)
      saved.emplace_back(inputs[r.input], false);
    else
      saved.emplace_back(ctx.saved_[s], false);
  }

  auto node = std::make_shared<CustomNode>(impl_, inputs, ys, diff, std::move(saved), std::move(ctx.state),
                                           ctx.materialize_grads_);
  for (std::size_t j = 0; j < diff.size(); ++j) {
    TensorImpl& y = *ys[diff[j]].impl();
    y.grad_fn = node;
    y.output_nr = static_cast<uint32_t>(j);
    y.requires_grad = true;
  }
  if (detail::tape_observer) [[unlikely]]
    detail::tape_observer->on_record(*node, inputs, ys[diff[0]]);
  custom_jvp(*impl_, inputs, ys);
  return ys;
}

}  // namespace xg
