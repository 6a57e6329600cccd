// The tape as a Graphviz graph (to_dot), and rendered with graphviz's `dot` when it is there.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unordered_set>

#include "xgrad/autograd/tools/inspect_internal.hpp"

namespace xg {

using namespace inspect_detail;

namespace {
std::string escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    if (c == '\n') {
      r += "\\n";
      continue;
    }
    r += c;
  }
  return r;
}
}  // namespace

namespace inspect_detail {

std::string dot_graph(const Tensor& root, const DotOptions& o,
                      std::unordered_map<const TensorImpl*, std::string>* tensor_ids) {
  const TapeView view(root);
  std::unordered_map<const Node*, const BackwardStep*>
      grad_of;  // node -> the step that received dL/d(its output)
  if (o.trace)
    for (const BackwardStep& s : o.trace->steps) grad_of[s.node.get()] = &s;
  auto fmt = [&](const Tensor& t) { return format_values(t, o.precision, o.max_values); };
  std::ostringstream d;
  d << "digraph xgrad {\n"
    << "  graph [rankdir=" << (o.rankdir == "LR" ? "LR" : "TB")
    << ", fontname=\"Helvetica\", fontsize=11, nodesep=0.3, ranksep=0.4";
  if (!o.title.empty()) d << ", label=\"" << escape(o.title) << "\", labelloc=t";
  d << "];\n"
    << "  node [fontname=\"Helvetica\", fontsize=10];\n"
    << "  edge [arrowsize=0.7];\n";
  std::unordered_map<const TensorImpl*, std::string> leaf_ids;
  int next_leaf = 0;
  auto tensor_label = [&](const std::string& label, const Shape& s, const Tensor& value, const Tensor& grad) {
    std::string l = label + "\n" + s.str();
    if (o.values && value.defined()) l += "\nvalue " + fmt(value);
    if (o.grads && grad.defined()) l += "\ngrad " + fmt(grad);
    return l;
  };
  // Node declarations go into the box of their module (a cluster per scope, nested as the
  // scopes are); edges stay at the top level, after them.
  std::unordered_map<ScopeId, std::string> declared;
  std::vector<std::string> edges;
  // (a composite op's call is no box: the box of the module it ran in; collapse_composites
  // draws it as one node)
  auto cluster_of = [&](ScopeId s) -> ScopeId {
    if (!o.clusters) return 0;
    while (s && scope_info(s).composite) s = scope_info(s).parent;
    return scope_info(s).depth >= 1 ? s : 0;
  };
  std::vector<TapeEntry> entries;
  for (std::size_t i = 0; i < view.nodes().size(); ++i) entries.push_back(view.entry(i));
  const std::vector<StepGroup> groups = group_steps(entries, o.collapse_depth, o.collapse_composites);
  std::vector<const StepGroup*> group_of(entries.size() + 1, nullptr);
  for (const StepGroup& g : groups)
    if (g.collapsed() && g.last > g.first)
      for (int s = g.first; s <= g.last; ++s) group_of[static_cast<std::size_t>(s)] = &g;
  auto input_id = [&](const Node& n, std::size_t k, const TapeInput& in, ScopeId consumer) {
    if (in.producer_step) return tag("t", static_cast<std::size_t>(in.producer_step));
    const Edge& e = n.edges()[k];
    const auto* a = annotation_of(n);
    const TensorImpl* impl = e.leaf ? e.leaf.get() : a && k < a->inputs.size() ? a->inputs[k].get() : nullptr;
    auto it = impl ? leaf_ids.find(impl) : leaf_ids.end();
    if (it != leaf_ids.end()) return it->second;
    std::string id = tag("v", static_cast<std::size_t>(++next_leaf));
    if (impl) leaf_ids[impl] = id;
    const Tensor grad = in.is_leaf && impl && impl->grad ? Tensor(impl->grad) : Tensor();
    const std::string style = in.is_leaf
                                  ? "shape=box, style=\"filled,bold\", fillcolor=\"#cfe2ff\""
                                  : "shape=box, style=\"dashed\", color=\"#888888\", fontcolor=\"#555555\"";
    const std::string label = in.shape_known ? tensor_label(in.label, in.shape, in.value, grad)
                                             : std::string("constant\n(shape unknown)");
    // a module's own parameter or buffer is drawn in its box; anything else outside
    ScopeId box = 0;
    for (ScopeId s = cluster_of(consumer); s; s = cluster_of(scope_info(s).parent))
      if (in.label.rfind(scope_info(s).path + ".", 0) == 0) {
        box = s;
        break;
      }
    declared[box] += "  " + id + " [" + style + ", label=\"" + escape(label) + "\"];\n";
    return id;
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const TapeEntry& e = entries[i];
    const Node& n = *e.node;
    const std::size_t step = i + 1;
    if (const StepGroup* g = group_of[step]) {  // a collapsed module or composite call: one node
      const std::string gid = tag("g", static_cast<std::size_t>(g->first));
      if (static_cast<int>(step) == g->first) {
        std::string label = g->path + (g->type.empty() ? "" : "\n(" + g->type + ")") + "\nsteps " +
                            std::to_string(g->first) + "-" + std::to_string(g->last) + ", " +
                            std::to_string(g->last - g->first + 1) + " ops";
        if (g->parameters) label += "\n" + std::to_string(g->parameters) + " parameters";
        declared[0] += "  " + gid + " [shape=box3d, style=filled, fillcolor=\"#e2f0d9\", label=\"" +
                       escape(label) + "\"];\n";
        std::vector<std::string> seen;
        for (int s = g->first; s <= g->last; ++s) {
          const TapeEntry& se = entries[static_cast<std::size_t>(s - 1)];
          for (std::size_t k = 0; k < se.inputs.size(); ++k) {
            const TapeInput& in = se.inputs[k];
            if (in.producer_step >= g->first && in.producer_step <= g->last) continue;
            if (!in.producer_step && in.label.rfind(g->path + ".", 0) == 0) continue;  // its parameters
            if (!in.producer_step &&
                std::find_if(g->inputs.begin(), g->inputs.end(),
                             [&](const TapeInput& x) { return x.label == in.label; }) == g->inputs.end())
              continue;
            const std::string id = input_id(*se.node, k, in, 0);
            if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
            seen.push_back(id);
            edges.push_back("  " + id + " -> " + gid + ";\n");
          }
        }
      }
      if (std::find(g->outputs.begin(), g->outputs.end(), i) == g->outputs.end()) continue;
      const bool is_root = root.grad_fn().get() == &n;
      const std::string out_id = tag("t", step);
      auto gr = grad_of.find(&n);
      const Tensor grad = gr != grad_of.end() ? gr->second->grad_output : Tensor();
      declared[0] += "  " + out_id + " [shape=box, " +
                     (is_root ? "style=\"filled,bold\", fillcolor=\"#ffe699\"" : "style=\"rounded\"") +
                     ", label=\"" + escape(tensor_label(e.output, e.shape, e.value, grad)) + "\"];\n";
      edges.push_back("  " + gid + " -> " + out_id + ";\n");
      continue;
    }
    const ScopeId box = cluster_of(n.scope());
    const std::string op_id = tag("op", step);
    declared[box] += "  " + op_id + " [shape=ellipse, style=filled, fillcolor=\"#fff2cc\", label=\"step " +
                     std::to_string(step) + "\\n" + escape(n.name()) + "\"];\n";
    for (std::size_t k = 0; k < n.num_inputs(); ++k) {
      const std::string id = input_id(n, k, e.inputs[k], n.scope());
      edges.push_back("  " + id + " -> " + op_id + ";\n");
    }
    const bool is_root = root.grad_fn().get() == &n;
    const std::string out_id = tag("t", step);
    auto g = grad_of.find(&n);
    const Tensor grad = g != grad_of.end() ? g->second->grad_output : Tensor();
    declared[box] +=
        "  " + out_id + " [shape=box, " +
        (is_root ? "style=\"filled,bold\", fillcolor=\"#ffe699\"" : "style=\"rounded\"") + ", label=\"" +
        escape(tensor_label(view.output_label(n), n.output_shape(), view.output_value(n), grad)) + "\"];\n";
    edges.push_back("  " + op_id + " -> " + out_id + ";\n");
  }
  if (view.nodes().empty())
    declared[0] += "  v0 [shape=box, label=\"" +
                   escape(tensor_label(view.root_label(), root.shape(), root, root.grad())) + "\"];\n";
  // The clusters, nested: each scope under its parent, in order of first appearance.
  std::vector<ScopeId> order;
  std::unordered_map<ScopeId, std::vector<ScopeId>> children;
  std::unordered_set<ScopeId> placed{0};
  std::vector<ScopeId> used;
  for (const auto& [s, text] : declared) used.push_back(s);
  std::sort(used.begin(), used.end());  // ids grow in order of first use
  for (ScopeId s : used) {
    std::vector<ScopeId> chain;
    for (ScopeId a = s; a && !placed.count(a); a = cluster_of(scope_info(a).parent)) chain.push_back(a);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const ScopeId parent = cluster_of(scope_info(*it).parent);
      children[parent].push_back(*it);
      placed.insert(*it);
    }
  }
  d << declared[0];
  auto emit = [&](auto& self, ScopeId s, int indent) -> void {
    const ScopeInfo info = scope_info(s);
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    d << pad << "subgraph cluster_s" << s << " {\n"
      << pad << "  label=\"" << escape(info.path + (info.type.empty() ? "" : " (" + info.type + ")"))
      << "\"; style=\"rounded\"; color=\"#7f7f7f\"; fontsize=10;\n";
    std::istringstream lines(declared[s]);
    for (std::string line; std::getline(lines, line);) d << pad << line << "\n";
    for (ScopeId c : children[s]) self(self, c, indent + 2);
    d << pad << "}\n";
  };
  for (ScopeId c : children[0]) emit(emit, c, 2);
  for (const std::string& e : edges) d << e;
  d << "}\n";
  if (tensor_ids) *tensor_ids = std::move(leaf_ids);
  return d.str();
}

bool find_in_path(const std::string& prog) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream ss(path);
  for (std::string dir; std::getline(ss, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + prog).c_str(), X_OK) == 0) return true;
  return false;
}

// Runs argv without a shell; true when it exits with status 0.
bool run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace inspect_detail

std::string to_dot(const Tensor& root, const DotOptions& o) {
  if (!root.defined()) throw ValueError("to_dot: the tensor is undefined");
  return dot_graph(root, o, nullptr);
}

RenderResult render_graph(const Tensor& root, const std::string& path, const DotOptions& o) {
  RenderResult r;
  const std::size_t dot_pos = path.find_last_of('.');
  const std::size_t slash = path.find_last_of('/');
  const bool has_ext = dot_pos != std::string::npos && (slash == std::string::npos || dot_pos > slash);
  const std::string base = has_ext ? path.substr(0, dot_pos) : path;
  const std::string ext = has_ext ? path.substr(dot_pos + 1) : "";
  r.dot_path = base + ".dot";
  {
    std::ofstream f(r.dot_path);
    if (!f) throw IOError("render_graph: cannot write " + r.dot_path);
    f << to_dot(root, o);
    if (!f) throw IOError("render_graph: error writing " + r.dot_path);
  }
  if (ext.empty() || ext == "dot") {
    r.message = "wrote " + r.dot_path;
    return r;
  }
  const std::string how = "dot -T" + ext + " " + r.dot_path + " -o " + path;
  if (!find_in_path("dot")) {
    r.message = "wrote " + r.dot_path + "; graphviz's `dot` is not installed, so render it with `" + how +
                "` once it is (Debian: apt-get install graphviz)";
    std::cerr << r.message << "\n";
    return r;
  }
  if (!run({"dot", "-T" + ext, r.dot_path, "-o", path})) {
    r.message = "wrote " + r.dot_path + "; `" + how + "` failed";
    std::cerr << r.message << "\n";
    return r;
  }
  r.rendered = true;
  r.image_path = path;
  r.message = "wrote " + r.dot_path + " and rendered " + path;
  return r;
}

}  // namespace xg
