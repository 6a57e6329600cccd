// The tape printed: its leaves and constants, then one line per recorded op in recording order.
#include <algorithm>
#include <iostream>
#include <sstream>

#include "xgrad/autograd/tools/inspect_internal.hpp"

namespace xg {

using namespace inspect_detail;

std::vector<TapeEntry> describe_tape(const Tensor& root) {
  if (!root.defined()) throw ValueError("describe_tape: the tensor is undefined");
  const TapeView view(root);
  std::vector<TapeEntry> out;
  for (std::size_t i = 0; i < view.nodes().size(); ++i) out.push_back(view.entry(i));
  return out;
}

void print_tape(const Tensor& root, std::ostream& os, const InspectOptions& o) {
  if (!root.defined()) throw ValueError("print_tape: the tensor is undefined");
  const TapeView view(root);
  const auto& nodes = view.nodes();
  const std::string name = view.root_label();
  if (nodes.empty()) {
    os << "tape of " << name << ": empty ("
       << (root.requires_grad() ? "a leaf" : "no op was recorded: nothing requires grad") << ")\n";
    return;
  }
  std::vector<TapeEntry> entries;
  for (std::size_t i = 0; i < nodes.size(); ++i) entries.push_back(view.entry(i));
  os << "tape of " << name << ": " << nodes.size() << " op" << (nodes.size() == 1 ? "" : "s")
     << " in recording order\n";
  // The leaves and constants first, once each, in order of first use.
  std::vector<std::string> seen;
  bool header = false;
  for (const TapeEntry& e : entries)
    for (const TapeInput& in : e.inputs) {
      if (in.producer_step || !in.shape_known || with_shape(in) == in.label) continue;
      if (std::find(seen.begin(), seen.end(), in.label) != seen.end()) continue;
      seen.push_back(in.label);
      if (!header) os << "leaves and constants:\n";
      header = true;
      os << "  " << in.label << " " << in.shape.str() << (in.is_leaf ? " requires grad" : " constant");
      if (o.values && in.value.defined() && in.value.numel() <= o.max_values)
        os << " = " << format_values(in.value, o.precision, o.max_values);
      os << "\n";
    }
  const std::size_t width = std::to_string(entries.size()).size();
  for (const TapeEntry& e : entries) {
    const std::string step = std::to_string(e.step);
    os << "step " << std::string(width - step.size(), ' ') << step << "  " << e.op << "(";
    for (std::size_t k = 0; k < e.inputs.size(); ++k) os << (k ? ", " : "") << with_shape(e.inputs[k]);
    os << ") -> " << e.output << " " << e.shape.str();
    if (o.values && e.value.defined() && e.value.numel() <= o.max_values)
      os << " = " << format_values(e.value, o.precision, o.max_values);
    os << "\n";
    if (o.formulas && !e.formula.empty()) os << std::string(width + 7, ' ') << e.formula << "\n";
  }
}

std::string tape_string(const Tensor& root, const InspectOptions& o) {
  std::ostringstream s;
  print_tape(root, s, o);
  return s.str();
}

void dump_tape(const Tensor& root) {
  print_tape(root, std::cerr);
}

}  // namespace xg
