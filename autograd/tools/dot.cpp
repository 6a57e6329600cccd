// The tape as a Graphviz graph (to_dot), and rendered with graphviz's `dot` when it is there.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

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
  for (std::size_t i = 0; i < view.nodes().size(); ++i) {
    const Node& n = *view.nodes()[i];
    const std::string op_id = tag("op", static_cast<std::size_t>(i + 1));
    d << "  " << op_id << " [shape=ellipse, style=filled, fillcolor=\"#fff2cc\", label=\"step " << i + 1
      << "\\n"
      << escape(n.name()) << "\"];\n";
    for (std::size_t k = 0; k < n.num_inputs(); ++k) {
      const TapeInput in = view.input(n, k);
      std::string id;
      if (in.producer_step) {
        id = tag("t", static_cast<std::size_t>(in.producer_step));
      } else {
        const Edge& e = n.edges()[k];
        const auto* a = annotation_of(n);
        const TensorImpl* impl = e.leaf                      ? e.leaf.get()
                                 : a && k < a->inputs.size() ? a->inputs[k].get()
                                                             : nullptr;
        auto it = impl ? leaf_ids.find(impl) : leaf_ids.end();
        if (it != leaf_ids.end()) {
          id = it->second;
        } else {
          id = tag("v", static_cast<std::size_t>(++next_leaf));
          if (impl) leaf_ids[impl] = id;
          const Tensor grad = in.is_leaf && impl && impl->grad ? Tensor(impl->grad) : Tensor();
          const std::string style =
              in.is_leaf ? "shape=box, style=\"filled,bold\", fillcolor=\"#cfe2ff\""
                         : "shape=box, style=\"dashed\", color=\"#888888\", fontcolor=\"#555555\"";
          const std::string label =
              in.shape_known ? tensor_label(in.label, in.shape, in.is_leaf ? in.value : in.value, grad)
                             : std::string("constant\n(shape unknown)");
          d << "  " << id << " [" << style << ", label=\"" << escape(label) << "\"];\n";
        }
      }
      d << "  " << id << " -> " << op_id << ";\n";
    }
    const bool is_root = root.grad_fn().get() == &n;
    const std::string out_id = tag("t", static_cast<std::size_t>(i + 1));
    auto g = grad_of.find(&n);
    const Tensor grad = g != grad_of.end() ? g->second->grad_output : Tensor();
    d << "  " << out_id << " [shape=box, "
      << (is_root ? "style=\"filled,bold\", fillcolor=\"#ffe699\"" : "style=\"rounded\"") << ", label=\""
      << escape(tensor_label(view.output_label(n), n.output_shape(), view.output_value(n), grad)) << "\"];\n";
    d << "  " << op_id << " -> " << out_id << ";\n";
  }
  if (view.nodes().empty())
    d << "  v0 [shape=box, label=\""
      << escape(tensor_label(view.root_label(), root.shape(), root, root.grad())) << "\"];\n";
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
