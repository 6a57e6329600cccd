// The tape printed: its leaves and constants, then one line per recorded op in recording order
// (or per module call, collapsed).
#include <algorithm>
#include <iostream>
#include <sstream>

#include "xgrad/autograd/tools/inspect_internal.hpp"

namespace xg {

using namespace inspect_detail;

namespace inspect_detail {

ScopeId group_key(ScopeId scope, int depth, bool composites) {
  if (!scope) return 0;
  ScopeId key = 0;
  if (depth > 0) {  // (depth counts modules: from the module a composite ran in)
    ScopeId m = scope;
    while (m && scope_info(m).composite) m = scope_info(m).parent;
    if (const ScopeId a = scope_at_depth(m, depth); a && scope_info(a).depth >= 1) key = a;
  }
  if (composites) {
    ScopeId outer = 0;  // the outermost composite call above (or at) scope
    for (ScopeId s = scope; s; s = scope_info(s).parent)
      if (scope_info(s).composite) outer = s;
    if (outer && (!key || scope_within(key, outer))) key = outer;
  }
  return key;
}

std::vector<StepGroup> group_steps(const std::vector<TapeEntry>& entries, int depth, bool composites) {
  std::vector<StepGroup> groups;
  for (const TapeEntry& e : entries) {
    const ScopeId key = group_key(e.scope, depth, composites);
    if (key && !groups.empty() && groups.back().scope == key) {
      groups.back().last = e.step;
      continue;
    }
    StepGroup g;
    g.first = g.last = e.step;
    g.scope = key;
    if (key) {
      const ScopeInfo info = scope_info(key);
      g.path = info.path;
      g.type = info.type;
    }
    groups.push_back(std::move(g));
  }
  // The last step that reads each step's output.
  std::vector<int> last_use(entries.size() + 1, 0);
  for (const TapeEntry& e : entries)
    for (const TapeInput& in : e.inputs)
      if (in.producer_step) last_use[static_cast<std::size_t>(in.producer_step)] = e.step;
  for (StepGroup& g : groups) {
    if (!g.collapsed()) continue;
    const std::string own = g.path + ".";
    std::vector<std::string> seen;
    for (int s = g.first; s <= g.last; ++s)
      for (const TapeInput& in : entries[static_cast<std::size_t>(s - 1)].inputs) {
        if (in.producer_step >= g.first && in.producer_step <= g.last) continue;
        if (std::find(seen.begin(), seen.end(), in.label) != seen.end()) continue;
        seen.push_back(in.label);
        if (!in.producer_step && in.label.rfind(own, 0) == 0) {  // the module's own parameter or buffer
          g.parameters += in.is_leaf ? 1 : 0;
          continue;
        }
        if (!in.producer_step && in.is_leaf &&
            display_name(in.value.defined() ? in.value.impl().get() : nullptr) != "") {
          ++g.parameters;  // another module's parameter (a tied weight)
          continue;
        }
        if (with_shape(in) == in.label || !in.shape_known) continue;  // a scalar constant
        g.inputs.push_back(in);
      }
    for (int s = g.first; s <= g.last; ++s)
      if (last_use[static_cast<std::size_t>(s)] > g.last || s == static_cast<int>(entries.size()))
        g.outputs.push_back(static_cast<std::size_t>(s - 1));
  }
  return groups;
}

}  // namespace inspect_detail

std::vector<TapeEntry> describe_tape(const Tensor& root) {
  if (!root.defined()) throw ValueError("describe_tape: the tensor is undefined");
  const TapeView view(root);
  std::vector<TapeEntry> out;
  for (std::size_t i = 0; i < view.nodes().size(); ++i) out.push_back(view.entry(i));
  return out;
}

namespace {
// " = [..]" for a tensor small enough, " ~ {min .., ..}" for a larger one, "" when unknown.
std::string values_text(const Tensor& t, const InspectOptions& o) {
  if (!o.values || !t.defined()) return "";
  if (t.numel() <= o.max_values) return " = " + format_values(t, o.precision, o.max_values);
  if (o.summaries && t.numel() > 0) return " ~ " + summary_stats(t, o.precision);
  return "";
}
}  // namespace

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
  const std::vector<StepGroup> groups = group_steps(entries, o.collapse_depth, o.collapse_composites);
  const bool collapsing = std::any_of(groups.begin(), groups.end(),
                                      [](const StepGroup& g) { return g.collapsed() && g.last > g.first; });
  os << "tape of " << name << ": " << nodes.size() << " op" << (nodes.size() == 1 ? "" : "s")
     << " in recording order";
  if (collapsing) {
    os << ", ";
    if (o.collapse_depth > 0) os << "module calls at most " << o.collapse_depth << " deep ";
    if (o.collapse_depth > 0 && o.collapse_composites) os << "and ";
    if (o.collapse_composites) os << "composite ops ";
    os << "collapsed into " << groups.size() << " line" << (groups.size() == 1 ? "" : "s");
  }
  os << "\n";
  // The leaves and constants first, once each, in order of first use; collapsed, the parameters
  // of the collapsed modules are only counted.
  std::vector<std::string> seen;
  bool header = false;
  int hidden = 0;
  for (const StepGroup& g : groups)
    for (int s = g.first; s <= g.last; ++s)
      for (const TapeInput& in : entries[static_cast<std::size_t>(s - 1)].inputs) {
        if (in.producer_step || !in.shape_known || with_shape(in) == in.label) continue;
        if (std::find(seen.begin(), seen.end(), in.label) != seen.end()) continue;
        seen.push_back(in.label);
        if (collapsing && g.collapsed() && g.last > g.first && in.label.rfind(g.path + ".", 0) == 0) {
          ++hidden;
          continue;
        }
        if (!header) os << "leaves and constants:\n";
        header = true;
        os << "  " << in.label << " " << in.shape.str() << (in.is_leaf ? " requires grad" : " constant")
           << values_text(in.value, o) << "\n";
      }
  if (hidden) os << "  and " << hidden << " parameters and buffers of the collapsed modules\n";
  const std::size_t width = std::to_string(entries.size()).size();
  auto pad = [](const std::string& s, std::size_t w) {
    return std::string(w > s.size() ? w - s.size() : 0, ' ') + s;
  };
  for (const StepGroup& g : groups) {
    if (g.collapsed() && g.last > g.first) {
      const int n = g.last - g.first + 1;
      os << "steps " << pad(std::to_string(g.first) + "-" + std::to_string(g.last), 2 * width + 1) << "  "
         << g.path << (g.type.empty() ? "" : " (" + g.type + ")") << ": " << n << " ops (";
      for (std::size_t k = 0; k < g.inputs.size(); ++k) os << (k ? ", " : "") << with_shape(g.inputs[k]);
      if (g.parameters)
        os << (g.inputs.empty() ? "" : "; ") << g.parameters << " parameter"
           << (g.parameters == 1 ? "" : "s");
      os << ") -> ";
      for (std::size_t k = 0; k < g.outputs.size(); ++k) {
        const TapeEntry& e = entries[g.outputs[k]];
        os << (k ? ", " : "") << e.output << " " << e.shape.str();
        if (g.outputs.size() == 1) os << values_text(e.value, o);
      }
      os << "\n";
      continue;
    }
    const TapeEntry& e = entries[static_cast<std::size_t>(g.first - 1)];
    const std::string step = std::to_string(e.step);
    os << (collapsing ? "step  " + pad(step, 2 * width + 1) : "step " + pad(step, width)) << "  ";
    if (o.scopes && !e.scope_path.empty()) os << "[" << e.scope_path << "] ";
    os << e.op << "(";
    for (std::size_t k = 0; k < e.inputs.size(); ++k) os << (k ? ", " : "") << with_shape(e.inputs[k]);
    os << ") -> " << e.output << " " << e.shape.str() << values_text(e.value, o) << "\n";
    if (o.formulas && !e.formula.empty() && !collapsing)
      os << std::string(width + 7, ' ') << e.formula << "\n";
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
