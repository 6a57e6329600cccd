// The inspection tools hang off the core's one hook, detail::tape_observer, installed while a
// guard or a trace is on. Here: the per-thread switches, the observer, InspectGuard. The tape
// printer (tape_print.cpp), the step trace (trace.cpp), anomaly mode (anomaly.cpp) and the
// graph (dot.cpp) share tape_view.cpp.
#include "xgrad/autograd/tools/inspect_internal.hpp"

namespace xg {

namespace inspect_detail {

thread_local ThreadState state;

namespace {
class Inspector final : public TapeObserver {
 public:
  void on_record(Node& node, std::span<const Tensor> inputs, const Tensor& output) override;
  void on_backward_node(std::span<Node* const> pass, std::size_t i, const Tensor& grad_output,
                        std::span<const Tensor> grad_inputs) override;
  void on_leaf_grad(const TensorImpl& leaf, const Tensor& grad) override;
};
Inspector inspector;

}  // namespace

void update_observer() {
  detail::tape_observer = state.inspect || state.anomaly || state.trace ? &inspector : nullptr;
}

void Inspector::on_record(Node& node, std::span<const Tensor> inputs, const Tensor& output) {
  if (state.inspect) {
    annotate(node, inputs, output);
  } else if (state.anomaly) {  // just the output (weakly), so that error messages can use names
    auto a = std::make_unique<InspectAnnotation>();
    a->output = output.impl();
    node.annotation() = std::move(a);
  }
  if (state.anomaly)
    if (const int64_t bad = first_non_finite(output); bad >= 0) forward_anomaly(node, inputs, output, bad);
}

void Inspector::on_backward_node(std::span<Node* const> pass, std::size_t i, const Tensor& grad_output,
                                 std::span<const Tensor> grad_inputs) {
  if (state.anomaly)
    for (std::size_t k = 0; k < grad_inputs.size(); ++k)
      if (const int64_t bad = pass[i]->edges()[k].requires_grad() ? first_non_finite(grad_inputs[k]) : -1;
          bad >= 0)
        backward_anomaly(pass, i, grad_output, k, grad_inputs[k], bad);
  if (state.trace) state.trace->on_node(pass, i, grad_output, grad_inputs);
}

void Inspector::on_leaf_grad(const TensorImpl& leaf, const Tensor& grad) {
  if (state.trace) state.trace->on_leaf(leaf, grad);
}

}  // namespace inspect_detail

using namespace inspect_detail;

InspectGuard::InspectGuard(bool on) : prev_(state.inspect) {
  state.inspect = on;
  update_observer();
}
InspectGuard::~InspectGuard() {
  state.inspect = prev_;
  update_observer();
}
bool inspect_enabled() {
  return state.inspect;
}

}  // namespace xg
