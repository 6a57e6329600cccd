// Anomaly mode: the first non-finite forward output or backward gradient raises ValueError
// naming the op, its tape step, the element and where its inputs came from.
#include <sstream>

#include "xgrad/autograd/tools/inspect_internal.hpp"

namespace xg {

namespace inspect_detail {

[[noreturn]] void forward_anomaly(Node& node, std::span<const Tensor> inputs, const Tensor& output,
                                  int64_t bad) {
  annotate(node, inputs, output);  // for the labels below
  const TapeView view(output, false);
  const int step = view.step(&node);
  std::ostringstream m;
  m << "anomaly: '" << node.name() << "' (tape step " << step << ") produced "
    << number(element(output, bad), 4) << " at element " << unravel(bad, output.shape()) << " of its output "
    << view.output_label(node) << " " << output.shape().str() << "; its inputs:";
  for (std::size_t k = 0; k < node.num_inputs(); ++k) {
    const TapeInput in = view.input(node, k);
    m << (k ? "," : "") << " " << provenance(in);
    if (in.value.defined() && in.value.numel() <= 16) m << " = " << format_values(in.value, 4, 16);
  }
  throw ValueError(m.str());
}

[[noreturn]] void backward_anomaly(std::span<Node* const> pass, std::size_t i, const Tensor& grad_output,
                                   std::size_t k, const Tensor& gk, int64_t bad) {
  const Node& node = *pass[i];
  const TapeView view(pass);
  const TapeInput in = view.input(node, k);
  std::ostringstream m;
  m << "anomaly: the backward of '" << node.name() << "' (tape step " << pass.size() - i << ", "
    << (node.info().formula ? node.info().formula : "") << ") sent " << number(element(gk, bad), 4)
    << " at element " << unravel(bad, gk.shape()) << " of the gradient for input " << k << ", "
    << provenance(in) << "; the gradient of its output " << view.output_label(node) << " was "
    << (first_non_finite(grad_output) >= 0 ? "already non-finite" : "finite");
  throw ValueError(m.str());
}

}  // namespace inspect_detail

using namespace inspect_detail;

AnomalyGuard::AnomalyGuard(bool on) : prev_(state.anomaly) {
  state.anomaly = on;
  update_observer();
}
AnomalyGuard::~AnomalyGuard() {
  state.anomaly = prev_;
  update_observer();
}
bool anomaly_enabled() {
  return state.anomaly;
}

}  // namespace xg
