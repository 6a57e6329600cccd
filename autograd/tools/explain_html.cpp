// The backprop explorer (explain_html): the tape, the graph drawn by graphviz and the engine's own
// backward trace, written into one HTML page that steps through them. The C++ side gathers the
// numbers (every tensor as values or a summary); the page's script only displays them.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tools/inspect_internal.hpp"

namespace xg {

using namespace inspect_detail;
using nlohmann::json;

namespace {

extern const char* const page_style;
extern const char* const page_script;

json number_json(double v) {  // JSON has no NaN or Inf: the page's Number() reads these strings
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

// A tensor for the page: shape, dtype, summary statistics, and the values when small enough.
json tensor_json(const Tensor& t, const HtmlOptions& o) {
  if (!t.defined()) return nullptr;
  json j;
  j["shape"] = t.shape().vec();
  j["dtype"] = dtype_name(t.dtype());
  const int64_t n = t.numel();
  j["numel"] = n;
  if (n == 0) return j;
  const std::vector<double> v = t.to_vector<double>();
  double lo = v[0], hi = v[0], sum = 0, sq = 0;
  for (double x : v) {
    lo = std::fmin(lo, x);
    hi = std::fmax(hi, x);
    sum += x;
    sq += x * x;
  }
  if (std::any_of(v.begin(), v.end(), [](double x) { return std::isnan(x); })) lo = hi = NAN;
  j["min"] = number_json(lo);
  j["max"] = number_json(hi);
  j["mean"] = number_json(sum / static_cast<double>(n));
  j["norm"] = number_json(std::sqrt(sq));
  if (n <= std::max(o.max_table, o.max_heatmap)) {
    json vals = json::array();
    for (double x : v) vals.push_back(number_json(x));
    j["values"] = std::move(vals);
  }
  return j;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string xml_escape(const std::string& s);

// Without graphviz: a layered layout of the same DOT (this file's own, regular text: one node or
// edge per line), each node in the row one below its lowest input, in order of appearance; the
// SVG has graphviz's structure (<g class="node"><title>id</title>), which the page's script reads.
std::string fallback_svg(const std::string& dot, bool left_right) {
  struct N {
    std::string id;
    std::vector<std::string> lines;
    bool op = false, leaf = false, constant = false;
    int rank = 0, col = 0;
  };
  std::vector<N> nodes;
  std::unordered_map<std::string, std::size_t> index;
  std::vector<std::pair<std::string, std::string>> edges;
  std::istringstream in(dot);
  for (std::string line; std::getline(in, line);) {
    const std::size_t arrow = line.find(" -> ");
    if (arrow != std::string::npos) {
      std::string b = line.substr(arrow + 4);
      b = b.substr(0, b.find(';'));
      edges.emplace_back(line.substr(2, arrow - 2), b);
      continue;
    }
    const std::size_t bracket = line.find(" ["), lab = line.find("label=\"");
    if (line.rfind("  ", 0) != 0 || bracket == std::string::npos || lab == std::string::npos) continue;
    const std::size_t first = line.find_first_not_of(' ');  // (nodes in a module's cluster are indented more)
    if (first >= bracket) continue;
    const std::string id = line.substr(first, bracket - first);
    if (id == "graph" || id == "node" || id == "edge") continue;
    N n;
    n.id = id;
    n.op = line.find("shape=ellipse") != std::string::npos;
    n.leaf = line.find("#cfe2ff") != std::string::npos;
    n.constant = line.find("dashed") != std::string::npos;
    std::string text, cur;
    for (std::size_t i = lab + 7; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        if (line[++i] == 'n') {
          n.lines.push_back(cur);
          cur.clear();
        } else {
          cur += line[i];
        }
      } else {
        cur += line[i];
      }
    }
    n.lines.push_back(cur);
    index[id] = nodes.size();
    nodes.push_back(std::move(n));
  }
  // Edges run from earlier lines to later ones, so one pass in order ranks every node.
  for (const auto& [a, b] : edges)
    if (index.count(a) && index.count(b)) {
      N& nb = nodes[index[b]];
      nb.rank = std::max(nb.rank, nodes[index[a]].rank + 1);
    }
  std::vector<int> per_rank;
  for (N& n : nodes) {
    if (static_cast<int>(per_rank.size()) <= n.rank) per_rank.resize(static_cast<std::size_t>(n.rank) + 1, 0);
    n.col = per_rank[static_cast<std::size_t>(n.rank)]++;
  }
  const double cw = 130, rh = 70, w = 110, h = 44;
  auto pos = [&](const N& n) {
    const double a = 20 + n.col * cw + w / 2, b = 20 + n.rank * rh + h / 2;
    return left_right ? std::pair{20 + n.rank * cw + w / 2, 20 + n.col * rh + h / 2} : std::pair{a, b};
  };
  int cols = 0;
  for (int c : per_rank) cols = std::max(cols, c);
  const double width = 40 + (left_right ? per_rank.size() : cols) * cw,
               height = 40 + (left_right ? cols : per_rank.size()) * rh;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "pt\" height=\"" << height
    << "pt\" viewBox=\"0 0 " << width << " " << height << "\" font-family=\"Helvetica\" font-size=\"10\">\n"
    << "<defs><marker id=\"xg-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" "
       "markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>\n";
  for (const auto& [a, b] : edges) {
    if (!index.count(a) || !index.count(b)) continue;
    const auto [x1, y1] = pos(nodes[index[a]]);
    const auto [x2, y2] = pos(nodes[index[b]]);
    // from the bottom (right) of one box to the top (left) of the next
    o << "<g class=\"edge\"><line x1=\"" << x1 + (left_right ? w / 2 : 0) << "\" y1=\""
      << y1 + (left_right ? 0 : h / 2) << "\" x2=\"" << x2 - (left_right ? w / 2 : 0) << "\" y2=\""
      << y2 - (left_right ? 0 : h / 2) << "\" stroke=\"black\" marker-end=\"url(#xg-arrow)\"/></g>\n";
  }
  for (const N& n : nodes) {
    const auto [x, y] = pos(n);
    o << "<g class=\"node\"><title>" << xml_escape(n.id) << "</title>";
    const char* fill = n.op ? "#fff2cc" : n.leaf ? "#cfe2ff" : "white";
    if (n.op)
      o << "<ellipse cx=\"" << x << "\" cy=\"" << y << "\" rx=\"" << w / 2 << "\" ry=\"" << h / 2
        << "\" fill=\"" << fill << "\" stroke=\"black\"/>";
    else
      o << "<polygon points=\"" << x - w / 2 << "," << y - h / 2 << " " << x + w / 2 << "," << y - h / 2
        << " " << x + w / 2 << "," << y + h / 2 << " " << x - w / 2 << "," << y + h / 2 << "\" fill=\""
        << fill << "\" stroke=\"" << (n.constant ? "#888888" : "black") << "\""
        << (n.constant ? " stroke-dasharray=\"4,2\"" : "") << "/>";
    const double top = y - 6.0 * static_cast<double>(n.lines.size() - 1);
    for (std::size_t i = 0; i < n.lines.size(); ++i)
      o << "<text text-anchor=\"middle\" x=\"" << x << "\" y=\"" << top + 12.0 * static_cast<double>(i) + 3.5
        << "\">" << xml_escape(n.lines[i]) << "</text>";
    o << "</g>\n";
  }
  o << "</svg>\n";
  return o.str();
}

// The graph as SVG, drawn by graphviz's dot (the XML prolog dropped: it is inlined in HTML), or
// by fallback_svg when dot is not installed (graphviz false).
std::string graph_svg(const std::string& dot, bool left_right, bool& graphviz) {
  graphviz = find_in_path("dot");
  if (!graphviz) return fallback_svg(dot, left_right);
  char dir_template[] = "/tmp/xgrad-explain-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (!dir) throw IOError("explain_html: cannot create a temporary directory in /tmp");
  const std::string in = std::string(dir) + "/graph.dot", out = std::string(dir) + "/graph.svg";
  {
    std::ofstream f(in);
    f << dot;
  }
  const bool ok = run({"dot", "-Tsvg", in, "-o", out});
  std::string svg = ok ? read_file(out) : "";
  std::remove(in.c_str());
  std::remove(out.c_str());
  ::rmdir(dir);
  const std::size_t start = svg.find("<svg");
  if (!ok || start == std::string::npos) throw IOError("explain_html: `dot -Tsvg` failed on the graph");
  return svg.substr(start);
}

std::string xml_escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '<')
      r += "&lt;";
    else if (c == '>')
      r += "&gt;";
    else if (c == '&')
      r += "&amp;";
    else
      r += c;
  }
  return r;
}

}  // namespace

HtmlResult explain_html(const Tensor& root, const std::string& path, const HtmlOptions& o) {
  if (!root.defined()) throw ValueError("explain_html: the tensor is undefined");
  if (!root.requires_grad())
    throw ValueError("explain_html: the tensor does not require grad, so there is no backward pass to show");
  HtmlResult r;
  r.path = path;
  // The graph and the forward steps before backward: a pass without retain_graph frees saved values.
  std::unordered_map<const TensorImpl*, std::string> ids;
  const std::string svg =
      graph_svg(dot_graph(root, {.rankdir = o.rankdir}, &ids), o.rankdir == "LR", r.graphviz);
  auto id_of = [&](const TapeInput& in) -> std::string {
    if (in.producer_step) return tag("t", static_cast<std::size_t>(in.producer_step));
    auto it = in.value.defined() ? ids.find(in.value.impl().get()) : ids.end();
    return it != ids.end() ? it->second : "";
  };
  std::ofstream f(path);  // (before the backward pass: a path that fails leaves the .grad alone)
  if (!f) throw IOError("explain_html: cannot write " + path);
  const std::vector<TapeEntry> tape = describe_tape(root);
  r.forward_steps = static_cast<int>(tape.size());
  json data;
  json forward = json::array();
  for (const TapeEntry& e : tape) {
    json s;
    s["step"] = e.step;
    s["op"] = e.op;
    s["formula"] = e.formula;
    s["node"] = tag("op", static_cast<std::size_t>(e.step));
    s["scope"] = e.scope_path;
    s["call"] = -1;  // (set below)
    s["output"] = {{"label", e.output},
                   {"id", tag("t", static_cast<std::size_t>(e.step))},
                   {"shape", e.shape.vec()},
                   {"tensor", tensor_json(e.value, o)}};
    json ins = json::array();
    for (const TapeInput& in : e.inputs)
      ins.push_back({{"label", in.label},
                     {"id", id_of(in)},
                     {"from", provenance(in)},
                     {"tensor", tensor_json(in.value, o)}});
    s["inputs"] = std::move(ins);
    forward.push_back(std::move(s));
  }
  // The calls, for the outline and for stepping over a collapsed one: each maximal run of
  // consecutive tape steps recorded inside one scope (a module's call, a time step, a composite
  // op's call), nested as the scopes are; a call is collapsed at first as HtmlOptions say.
  struct Call {
    ScopeId scope;
    int parent, first, last;
  };
  std::vector<Call> calls;
  std::vector<int> call_of(tape.size() + 1, -1);  // per tape step: its innermost call
  {
    std::vector<int> open;  // the calls the previous step was in, outermost first
    for (const TapeEntry& e : tape) {
      std::vector<ScopeId> chain;
      for (ScopeId sc = e.scope; sc && scope_info(sc).depth >= 1; sc = scope_info(sc).parent)
        chain.push_back(sc);
      std::reverse(chain.begin(), chain.end());
      std::size_t common = 0;
      while (common < open.size() && common < chain.size() &&
             calls[static_cast<std::size_t>(open[common])].scope == chain[common])
        ++common;
      open.resize(common);
      for (std::size_t k = common; k < chain.size(); ++k) {
        calls.push_back({chain[k], open.empty() ? -1 : open.back(), e.step, e.step});
        open.push_back(static_cast<int>(calls.size()) - 1);
      }
      for (int c : open) calls[static_cast<std::size_t>(c)].last = e.step;
      call_of[static_cast<std::size_t>(e.step)] = open.empty() ? -1 : open.back();
    }
  }
  // A call's tensors: those entering it from outside (labels deduplicated) and the outputs used
  // after it (or the root).
  std::vector<int> last_use(tape.size() + 1, 0);
  for (const TapeEntry& e : tape)
    for (const TapeInput& in : e.inputs)
      if (in.producer_step) last_use[static_cast<std::size_t>(in.producer_step)] = e.step;
  auto outside = [](const TapeInput& in, const Call& c) {
    return in.producer_step < c.first || in.producer_step > c.last;
  };
  json groups = json::array();
  for (const Call& c : calls) {
    const ScopeInfo info = scope_info(c.scope);
    bool collapsed = false;
    json ins = json::array(), outs = json::array();
    std::vector<std::string> seen;
    for (int st = c.first; st <= c.last; ++st) {
      const TapeEntry& e = tape[static_cast<std::size_t>(st - 1)];
      if (o.collapse_depth > 0 || o.collapse_composites)
        collapsed = collapsed || group_key(e.scope, o.collapse_depth, o.collapse_composites) == c.scope;
      for (const TapeInput& in : e.inputs) {
        if (!outside(in, c)) continue;
        const std::string key = id_of(in).empty() ? in.label : id_of(in);
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
        seen.push_back(key);
        ins.push_back({{"label", in.label},
                       {"id", id_of(in)},
                       {"from", provenance(in)},
                       {"tensor", tensor_json(in.value, o)}});
      }
      if (last_use[static_cast<std::size_t>(st)] > c.last || st == static_cast<int>(tape.size()))
        outs.push_back({{"label", e.output},
                        {"id", tag("t", static_cast<std::size_t>(st))},
                        {"step", st},
                        {"tensor", tensor_json(e.value, o)}});
    }
    const json formula = info.composite && find_op(info.name) && find_op(info.name)->formula
                             ? json(find_op(info.name)->formula)
                             : json("");
    groups.push_back({{"path", info.path},
                      {"name", info.name},
                      {"type", info.type},
                      {"composite", info.composite},
                      {"formula", formula},
                      {"parent", c.parent},
                      {"first", c.first},
                      {"last", c.last},
                      {"collapsed", collapsed},
                      {"inputs", std::move(ins)},
                      {"outputs", std::move(outs)}});
  }

  for (auto& f : forward) f["call"] = call_of[f["step"].get<std::size_t>()];

  // Each leaf's .grad before this pass (a pass adds to it).
  std::unordered_map<const TensorImpl*, Tensor> earlier;
  for (const TapeEntry& e : tape)
    for (const TapeInput& in : e.inputs)
      if (in.is_leaf && in.value.defined() && in.value.impl()->grad)
        earlier[in.value.impl().get()] = Tensor(in.value.impl()->grad).detach().clone();

  r.trace = backward_trace(root, Tensor(), o.retain_graph);
  const BackwardTrace& trace = r.trace;
  const InspectOptions io{.values = true, .max_values = 6, .precision = 4};

  NoGradGuard no_grad;
  // This pass's running total per leaf, summed in the order the engine delivered them.
  std::vector<const TensorImpl*> leaf_order;
  std::unordered_map<const TensorImpl*, std::pair<std::string, Tensor>> totals;
  // Per call: what its steps sent to each tensor from outside it, summed (a collapsed call's
  // gradients out), in order of first gradient.
  struct Sent {
    std::string key, label, id, from;
    Tensor grad;
  };
  std::vector<std::vector<Sent>> sent(calls.size());
  json backward = json::array();
  for (const BackwardStep& st : trace.steps) {
    const int own = st.step >= 1 && st.step <= static_cast<int>(tape.size())
                        ? call_of[static_cast<std::size_t>(st.step)]
                        : -1;
    for (int c = own; c >= 0; c = calls[static_cast<std::size_t>(c)].parent)
      for (std::size_t k = 0; k < st.inputs.size(); ++k) {
        const TapeInput& in = st.inputs[k];
        if (!st.grad_inputs[k].defined() || !outside(in, calls[static_cast<std::size_t>(c)])) continue;
        const std::string key = id_of(in).empty() ? in.label : id_of(in);
        std::vector<Sent>& v = sent[static_cast<std::size_t>(c)];
        auto it = std::find_if(v.begin(), v.end(), [&](const Sent& x) { return x.key == key; });
        if (it == v.end())
          v.push_back({key, in.label, id_of(in), provenance(in), st.grad_inputs[k]});
        else
          it->grad = it->grad + st.grad_inputs[k];
      }
    json s;
    s["step"] = st.step;
    s["call"] = own;
    s["op"] = st.op;
    s["formula"] = st.formula;
    s["node"] = tag("op", static_cast<std::size_t>(st.step));
    s["scope"] = st.scope_path;
    s["output"] = {{"label", st.output}, {"id", tag("t", static_cast<std::size_t>(st.step))}};
    s["upstream"] = {{"name", "d" + st.root + "/d" + st.output}, {"tensor", tensor_json(st.grad_output, o)}};
    s["note"] = st.note;
    json ins = json::array();
    for (std::size_t k = 0; k < st.inputs.size(); ++k) {
      const TapeInput& in = st.inputs[k];
      json j = {{"label", in.label}, {"id", id_of(in)}, {"from", provenance(in)}};
      j["name"] = "d" + st.root + "/d" + in.label;
      const Tensor& g = st.grad_inputs[k];
      j["grad"] = tensor_json(g, o);
      if (g.defined()) {
        const std::optional<ChainRuleLine> line = st.explanation(k, io);
        j["expr"] = line ? line->expr : st.op + "'s backward of d" + st.root + "/d" + st.output;
        j["numbers"] = line ? line->numbers : "";
        j["local"] = line ? tensor_json(line->local, o) : json(nullptr);
        j["line"] = st.chain_rule(k, io);
        if (in.is_leaf && in.value.defined()) {
          const TensorImpl* leaf = in.value.impl().get();
          auto [it, fresh] = totals.try_emplace(leaf, in.label, g.to(in.value.dtype()));
          if (fresh)
            leaf_order.push_back(leaf);
          else
            it->second.second = it->second.second + g.to(in.value.dtype());
        }
      }
      ins.push_back(std::move(j));
    }
    s["inputs"] = std::move(ins);
    json leaves = json::array();
    for (const TensorImpl* leaf : leaf_order) {
      const auto& [label, total] = totals.at(leaf);
      json l = {
          {"label", label}, {"id", ids.count(leaf) ? ids.at(leaf) : ""}, {"total", tensor_json(total, o)}};
      if (auto e = earlier.find(leaf); e != earlier.end()) l["earlier"] = tensor_json(e->second, o);
      leaves.push_back(std::move(l));
    }
    s["leaves"] = std::move(leaves);
    backward.push_back(std::move(s));
  }
  for (std::size_t c = 0; c < calls.size(); ++c) {
    json& g = groups[c];
    json up = json::array(), out = json::array();
    for (const json& x : g["outputs"]) {
      const BackwardStep* b = trace.find(x["step"].get<int>());
      up.push_back({{"name", "d" + trace.root + "/d" + x["label"].get<std::string>()},
                    {"id", x["id"]},
                    {"tensor", b ? tensor_json(b->grad_output, o) : json(nullptr)}});
    }
    for (const Sent& x : sent[c])
      out.push_back({{"name", "d" + trace.root + "/d" + x.label},
                     {"label", x.label},
                     {"id", x.id},
                     {"from", x.from},
                     {"grad", tensor_json(x.grad, o)}});
    g["upstream"] = std::move(up);
    g["sent"] = std::move(out);
  }
  json leaf_grads = json::array();
  for (const LeafGradient& l : trace.leaves)
    leaf_grads.push_back({{"label", l.label},
                          {"grad", tensor_json(l.grad, o)},
                          {"accumulated", tensor_json(l.accumulated, o)},
                          {"onto_earlier", l.accumulated_onto_earlier}});

  const std::string title = o.title.empty() ? "backprop of " + trace.root : o.title;
  data["title"] = title;
  data["root"] = trace.root;
  data["precision"] = o.precision;
  data["max_table"] = o.max_table;
  data["max_heatmap"] = o.max_heatmap;
  data["forward"] = std::move(forward);
  data["backward"] = std::move(backward);
  data["leaf_grads"] = std::move(leaf_grads);
  data["groups"] = std::move(groups);
  std::string js = data.dump();
  // Inside <script>, "</" could close the element early.
  for (std::size_t p = js.find("</"); p != std::string::npos; p = js.find("</", p + 2))
    js.replace(p, 2, "<\\/");

  f << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << xml_escape(title)
    << "</title>\n<style>\n"
    << page_style << "</style>\n</head>\n<body>\n"
    << "<header><h1>" << xml_escape(title) << "</h1>\n"
    << "<nav><button id=\"xg-first\" title=\"Home\">|&#x25C0;</button>"
       "<button id=\"xg-prev\" title=\"Left arrow\">&#x25C0;</button>"
       "<span id=\"xg-where\"></span>"
       "<button id=\"xg-next\" title=\"Right arrow\">&#x25B6;</button>"
       "<button id=\"xg-last\" title=\"End\">&#x25B6;|</button></nav>"
       "<span class=\"muted\">keys: &larr; &rarr; Home End</span></header>\n"
    << "<main><section id=\"xg-graph\">\n"
    << svg
    << (r.graphviz
            ? ""
            : "<div class=\"legend\">(laid out without graphviz: install it for a better picture)</div>")
    << "<div class=\"legend\">red: the step's op; green: where its values (forward) or its gradient "
       "(backward) come from; orange: where they go</div>\n"
    << "</section>\n<section id=\"xg-outline\"></section>\n<section id=\"xg-panel\"></section></main>\n"
    << "<script type=\"application/json\" id=\"xg-data\">" << js << "</script>\n<script>\n"
    << page_script << "</script>\n</body>\n</html>\n";
  if (!f) throw IOError("explain_html: error writing " + path);
  return r;
}

namespace {

const char* const page_style = R"css(
body { font-family: Helvetica, Arial, sans-serif; margin: 0; color: #222; }
header { display: flex; align-items: center; gap: 2em; padding: 0.4em 1em; background: #f4f4f4;
         border-bottom: 1px solid #ccc; position: sticky; top: 0; z-index: 1; }
h1 { font-size: 1.15em; margin: 0; }
nav button { font-size: 1em; margin: 0 0.15em; }
#xg-where { display: inline-block; min-width: 15em; text-align: center; font-weight: bold; }
main { display: flex; gap: 1em; padding: 0.5em 1em; align-items: flex-start; }
#xg-graph { flex: 0 1 45%; overflow: auto; max-height: 90vh; position: sticky; top: 3em; }
#xg-graph svg { max-width: 100%; height: auto; }
#xg-panel { flex: 1 1 45%; }
#xg-outline { flex: 0 0 14em; font-size: 0.85em; max-height: 90vh; overflow: auto; position: sticky; top: 3em; }
#xg-outline:empty { display: none; }
#xg-outline details { margin-left: 0.8em; }
#xg-outline summary { cursor: pointer; white-space: nowrap; }
#xg-outline details.xg-composite > summary { font-style: italic; }
#xg-outline details:not([open]) > summary { color: #555; }
#xg-outline a { display: block; margin-left: 1.6em; font-family: monospace; color: #224; text-decoration: none; white-space: nowrap; }
#xg-outline a.xg-current, #xg-outline summary.xg-current { background: #fde2e2; font-weight: bold; }
.scope { font-family: monospace; color: #555; }
.node.xg-current :is(polygon, ellipse, path) { stroke: #d00; stroke-width: 4px; }
.node.xg-in :is(polygon, ellipse, path) { stroke: #1a7f37; stroke-width: 4px; }
.node.xg-out :is(polygon, ellipse, path) { stroke: #e67e00; stroke-width: 4px; }
.phase { font-size: 0.85em; text-transform: uppercase; letter-spacing: 0.05em; color: #666; }
.formula, .line { font-family: monospace; background: #f7f7f7; padding: 0.2em 0.4em; display: inline-block; }
.box { border: 1px solid #ddd; border-radius: 4px; padding: 0.4em 0.6em; margin: 0.4em 0; }
.box h3 { font-size: 1em; margin: 0.1em 0 0.3em 0; }
.name { font-family: monospace; font-weight: bold; }
table.xg-tensor { border-collapse: collapse; font-family: monospace; font-size: 0.85em; margin: 0.2em 0; }
table.xg-tensor td { border: 1px solid #ccc; padding: 0.1em 0.35em; text-align: right; }
table.xg-summary { font-size: 0.85em; border-collapse: collapse; margin: 0.2em 0; }
table.xg-summary th, table.xg-summary td { padding: 0.1em 0.5em; text-align: right; }
.shape { color: #666; font-size: 0.85em; }
.op { font-family: monospace; font-weight: bold; }
canvas.heat { image-rendering: pixelated; border: 1px solid #ccc; display: block; margin: 0.2em 0; }
.muted { color: #777; font-size: 0.9em; }
.legend { font-size: 0.8em; color: #555; margin-top: 0.5em; }
)css";

const char* const page_script = R"js(
'use strict';
const D = JSON.parse(document.getElementById('xg-data').textContent);
const P = D.precision;
// Every step of the page: the forward steps in recording order, then the engine's backward steps
// in the order it ran them, then the leaves' .grad after the pass.
const steps = [];
D.forward.forEach((s, i) => steps.push({phase: 'forward', i, s}));
D.backward.forEach((s, i) => steps.push({phase: 'backward', i, s}));
steps.push({phase: 'done', i: 0, s: null});
let cur = 0;

const num = v => {
  const x = Number(v);
  if (!isFinite(x)) return String(x);
  if (x === 0) return '0';
  let t = x.toPrecision(P);
  if (t.includes('e')) {
    const [m, e] = t.split('e');
    return (m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m) + 'e' + e;
  }
  return t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t;
};
const esc = s => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const shapeStr = sh => '[' + sh.join(', ') + ']';

// A diverging colour for v in [-m, m]: blue below zero, red above.
function colour(v, m) {
  const x = Number(v);
  if (!isFinite(x)) return 'rgb(255,230,0)';
  const a = m > 0 ? Math.min(1, Math.abs(x) / m) : 0;
  const w = Math.round(255 * (1 - 0.6 * a));  // pastel at most: the number on it stays readable
  return x < 0 ? `rgb(${w},${w},255)` : `rgb(255,${w},${w})`;
}

// A tensor: whole as a table (cells tinted as a heat map) when small; else its summary, and a
// heat map of a 2-D one.
function tensorHtml(t, role, k) {
  const attrs = `data-role="${role}"` + (k === undefined ? '' : ` data-k="${k}"`);
  if (t === null || t === undefined) return `<div class="muted" ${attrs} data-unknown="1">unknown (record the forward under xg::InspectGuard to keep it)</div>`;
  const sh = t.shape, n = t.numel;
  const head = `<span class="shape">${shapeStr(sh)} ${t.dtype}</span>`;
  if (n === 0) return `<div ${attrs}>${head} (empty)</div>`;
  const m = Math.max(Math.abs(Number(t.min)), Math.abs(Number(t.max)));
  if (n <= D.max_table && t.values) {
    const rows = sh.length <= 1 ? 1 : n / sh[sh.length - 1];
    const cols = sh.length === 0 ? 1 : sh[sh.length - 1];
    let h = `<div>${head}</div><table class="xg-tensor" ${attrs} data-shape="${sh.join(',')}">`;
    for (let r = 0; r < rows; ++r) {
      h += '<tr>';
      for (let c = 0; c < cols; ++c) {
        const v = t.values[r * cols + c];
        h += `<td style="background:${colour(v, m)}">${num(v)}</td>`;
      }
      h += '</tr>';
    }
    return h + '</table>';
  }
  let h = `<div>${head}</div><table class="xg-summary" ${attrs} data-shape="${sh.join(',')}"><tr>` +
          ['min', 'max', 'mean', 'norm'].map(s => `<th>${s}</th>`).join('') + '</tr><tr>' +
          ['min', 'max', 'mean', 'norm'].map(s => `<td data-stat="${s}">${num(t[s])}</td>`).join('') + '</tr></table>';
  if (t.values && sh.length === 2) {
    h += `<canvas class="heat" data-heat="${heat.length}" width="${sh[1]}" height="${sh[0]}" ` +
         `style="width:${Math.min(360, Math.max(60, sh[1] * 6))}px"></canvas>`;
    heat.push([t, m]);
  }
  return h;
}
let heat = [];
function drawHeat() {
  document.querySelectorAll('canvas.heat').forEach(c => {
    const [t, m] = heat[Number(c.dataset.heat)];
    const ctx = c.getContext('2d'), w = t.shape[1];
    for (let i = 0; i < t.numel; ++i) {
      ctx.fillStyle = colour(t.values[i], m);
      ctx.fillRect(i % w, Math.floor(i / w), 1, 1);
    }
  });
}

// The graph: graphviz gives every node a <title> with its DOT id (op3, t3, v1).
const nodes = {};
document.querySelectorAll('#xg-graph g.node').forEach(g => {
  const t = g.querySelector('title');
  if (t) nodes[t.textContent] = g;
});
function highlight(current, ins, outs) {
  Object.values(nodes).forEach(g => g.classList.remove('xg-current', 'xg-in', 'xg-out'));
  ins.forEach(id => nodes[id] && nodes[id].classList.add('xg-in'));
  outs.forEach(id => nodes[id] && nodes[id].classList.add('xg-out'));
  const cs = (Array.isArray(current) ? current : [current]).filter(id => id && nodes[id]);
  cs.forEach(id => nodes[id].classList.add('xg-current'));
  if (cs.length) nodes[cs[0]].scrollIntoView({block: 'center', inline: 'center'});
}

const scopeHtml = s => s.scope ? ` <span class="scope">in ${esc(s.scope)}</span>` : '';

// The calls (D.groups): each run of steps recorded inside one module call, time step or composite
// op's call, nested. The outline shows them as HTML details: open, a call's steps are stepped
// through one by one; closed, the call is ONE step (forward and backward).
const G = D.groups;
const outline = document.getElementById('xg-outline');
const groupEl = [];
const isCollapsed = c => (groupEl[c] ? !groupEl[c].open : !!G[c].collapsed);
function within(call, c) {
  for (let x = call; x >= 0; x = G[x].parent) if (x === c) return true;
  return false;
}
// The outermost collapsed call that `call` lies in, or -1.
function collapsedCall(call) {
  let found = -1;
  for (let c = call; c >= 0; c = G[c].parent) if (isCollapsed(c)) found = c;
  return found;
}
// The unit that steps[k] belongs to: itself, or the run of its phase's steps inside its
// outermost collapsed call ([a, b], indices into steps).
function unitOf(k) {
  const st = steps[k];
  const c = st.s && st.s.call >= 0 ? collapsedCall(st.s.call) : -1;
  if (c < 0) return {a: k, b: k, call: -1};
  const inside = j => steps[j].phase === st.phase && steps[j].s && within(steps[j].s.call, c);
  let a = k, b = k;
  while (a > 0 && inside(a - 1)) --a;
  while (b < steps.length - 1 && inside(b + 1)) ++b;
  return {a, b, call: c};
}
const opsOf = g => Array.from({length: g.last - g.first + 1}, (_, i) => `op${g.first + i}`);
const callName = g => (g.composite ? `${g.name}()` : g.path.split('.').pop() || g.path);

function buildOutline() {
  if (!G.length) return;
  outline.innerHTML = '<div class="phase">calls</div><div class="muted">close one to step over it</div><div id="xg-groups"></div>';
  const top = document.getElementById('xg-groups');
  // Groups are made when their first step comes, so that groups and steps keep the tape's order.
  const group = c => {
    if (groupEl[c]) return groupEl[c];
    const g = G[c];
    const parent = g.parent >= 0 ? group(g.parent) : top;
    const d = document.createElement('details');
    d.className = 'xg-group' + (g.composite ? ' xg-composite' : '');
    d.dataset.scope = g.path;
    d.dataset.call = c;
    d.dataset.composite = g.composite ? '1' : '';
    d.open = !g.collapsed;
    d.title = `${g.path}: steps ${g.first}-${g.last} (${g.last - g.first + 1} ops)`;
    d.innerHTML = `<summary>${esc(callName(g))}${g.type && !g.composite ? ' <span class="muted">' + esc(g.type) + '</span>' : ''}` +
                  ` <span class="muted">${g.first}&ndash;${g.last}</span></summary>`;
    d.addEventListener('toggle', () => go(cur));  // (stays on the step, or on the call it folds into)
    parent.appendChild(d);
    groupEl[c] = d;
    return d;
  };
  D.forward.forEach((s, i) => {
    const a = document.createElement('a');
    a.href = '#';
    a.dataset.step = s.step;
    a.textContent = `${s.step} ${s.op}`;
    a.onclick = e => { e.preventDefault(); go(i); };
    (s.call >= 0 ? group(s.call) : top).appendChild(a);
  });
}
function outlineShow(u, step) {
  if (!G.length) return;
  outline.querySelectorAll('.xg-current').forEach(e => e.classList.remove('xg-current'));
  const el = u.call >= 0 ? groupEl[u.call].querySelector('summary') : step ? outline.querySelector(`a[data-step="${step}"]`) : null;
  if (el) {
    el.classList.add('xg-current');
    el.scrollIntoView({block: 'nearest'});
  }
}
buildOutline();

function groupHead(g) {
  let h = `<h2><span class="name">${esc(g.path)}</span> <span class="muted">${g.composite ? 'a composite op' : esc(g.type)}, ` +
          `${g.last - g.first + 1} ops collapsed (expand it in the outline to step through them)</span></h2>`;
  if (g.formula) h += `<div>its formula: <span class="formula">${esc(g.formula)}</span></div>`;
  return h;
}
function groupForwardHtml(g) {
  let h = `<div class="phase">forward, steps ${g.first}&ndash;${g.last} of ${D.forward.length}</div>` + groupHead(g);
  g.inputs.forEach((x, k) => {
    h += `<div class="box"><h3>in ${k}: <span class="name">${esc(x.label)}</span> <span class="muted">${esc(x.from)}</span></h3>` +
         tensorHtml(x.tensor, 'input', k) + '</div>';
  });
  g.outputs.forEach((x, k) => {
    h += `<div class="box"><h3>out ${k}: <span class="name">${esc(x.label)}</span> <span class="muted">(step ${x.step})</span></h3>` +
         tensorHtml(x.tensor, 'output', k) + '</div>';
  });
  return h;
}
function leavesHtml(s) {
  let h = '<div class="box"><h3>accumulated so far on the leaves (this pass)</h3>';
  if (s.leaves.length === 0) h += '<div class="muted">no leaf has received a gradient yet</div>';
  s.leaves.forEach(l => {
    h += `<div data-leaf="${esc(l.label)}"><span class="name">${esc(l.label)}</span>` + tensorHtml(l.total, 'leaf') + '</div>';
    if (l.earlier) h += '<div class="muted">added to the earlier .grad:</div>' + tensorHtml(l.earlier, 'earlier');
  });
  return h + '</div>';
}
function groupBackwardHtml(g, u) {
  const nf = D.forward.length;
  let h = `<div class="phase">backward, steps ${u.a - nf + 1}&ndash;${u.b - nf + 1} of ${D.backward.length} ` +
          `(tape steps ${g.last}&ndash;${g.first})</div>` + groupHead(g);
  g.upstream.forEach((x, k) => {
    h += `<div class="box"><h3>gradient in ${k}: <span class="name">${esc(x.name)}</span></h3>` + tensorHtml(x.tensor, 'upstream', k) + '</div>';
  });
  g.sent.forEach((x, k) => {
    h += `<div class="box" data-input="${k}"><h3>gradient out ${k}: <span class="name">${esc(x.name)}</span> <span class="muted">${esc(x.from)}</span></h3>` +
         '<div>sent by the call\'s steps, summed:</div>' + tensorHtml(x.grad, 'grad', k) + '</div>';
  });
  return h + leavesHtml(steps[u.b].s);
}

function forwardHtml(s) {
  let h = `<div class="phase">forward, step ${s.step} of ${D.forward.length}${scopeHtml(s)}</div>` +
          `<h2><span class="name">${esc(s.output.label)}</span> = <span class="op">${esc(s.op)}</span>(` +
          s.inputs.map(x => esc(x.label)).join(', ') + ')</h2>';
  if (s.formula) h += `<div>derivative: <span class="formula">${esc(s.formula)}</span></div>`;
  s.inputs.forEach((x, k) => {
    h += `<div class="box"><h3>input ${k}: <span class="name">${esc(x.label)}</span> <span class="muted">${esc(x.from)}</span></h3>` +
         tensorHtml(x.tensor, 'input', k) + '</div>';
  });
  h += `<div class="box"><h3>output <span class="name">${esc(s.output.label)}</span></h3>` + tensorHtml(s.output.tensor, 'output') + '</div>';
  return h;
}

function backwardHtml(s, i) {
  let h = `<div class="phase">backward, step ${i + 1} of ${D.backward.length} (tape step ${s.step})${scopeHtml(s)}</div>` +
          `<h2><span class="name">${esc(s.output.label)}</span> = <span class="op">${esc(s.op)}</span>(` +
          s.inputs.map(x => esc(x.label)).join(', ') + ')</h2>';
  if (s.formula) h += `<div>derivative: <span class="formula">${esc(s.formula)}</span></div>`;
  if (s.note) h += `<div class="muted">${esc(s.note)}</div>`;
  h += `<div class="box"><h3>upstream gradient <span class="name">${esc(s.upstream.name)}</span></h3>` +
       tensorHtml(s.upstream.tensor, 'upstream') + '</div>';
  s.inputs.forEach((x, k) => {
    h += `<div class="box" data-input="${k}"><h3>to input ${k}: <span class="name">${esc(x.name)}</span> <span class="muted">${esc(x.from)}</span></h3>`;
    if (!x.grad) {
      h += '<div class="muted">no gradient (this input does not require grad)</div></div>';
      return;
    }
    h += `<div>chain rule: <span class="formula">${esc(x.name)} = ${esc(x.expr)}</span></div>`;
    // (a line of shapes only, "<[4, 2] float64> * <[4, 2] float64>", says nothing the tables below do not)
    if (/\d/.test(x.numbers.replace(/<\[[^\]]*\] \w+>/g, '')))
      h += `<div>with numbers: <span class="line">${esc(x.numbers)}</span></div>`;
    if (x.local) h += '<div>local derivative:</div>' + tensorHtml(x.local, 'local', k);
    h += `<div>gradient sent${x.local ? ' (upstream &times; local)' : ''}:</div>` + tensorHtml(x.grad, 'grad', k) + '</div>';
  });
  return h + leavesHtml(s);
}

function doneHtml() {
  let h = `<div class="phase">after the backward pass</div><h2>the leaves' .grad</h2>`;
  D.leaf_grads.forEach(l => {
    h += `<div class="box" data-leaf="${esc(l.label)}"><h3><span class="name">${esc(l.label)}.grad</span></h3>` +
         tensorHtml(l.accumulated || l.grad, 'final') + '</div>';
  });
  return h;
}

function show() {
  const st = steps[cur], panel = document.getElementById('xg-panel');
  const u = unitOf(cur), g = u.call >= 0 ? G[u.call] : null;
  heat = [];
  panel.dataset.phase = st.phase;
  panel.dataset.index = st.i;
  let where;
  const n = u.b - u.a + 1;
  if (st.phase === 'forward') {
    if (g) {
      panel.innerHTML = groupForwardHtml(g);
      highlight(opsOf(g), g.inputs.map(x => x.id), g.outputs.map(x => x.id));
    } else {
      panel.innerHTML = forwardHtml(st.s);
      highlight(st.s.node, st.s.inputs.map(x => x.id), [st.s.output.id]);
    }
    where = `forward ${st.i + 1}${n > 1 ? '–' + (st.i + n) : ''} / ${D.forward.length}`;
  } else if (st.phase === 'backward') {
    if (g) {
      panel.innerHTML = groupBackwardHtml(g, u);
      highlight(opsOf(g), g.upstream.map(x => x.id), g.sent.map(x => x.id));
    } else {
      panel.innerHTML = backwardHtml(st.s, st.i);
      highlight(st.s.node, [st.s.output.id], st.s.inputs.filter(x => x.grad).map(x => x.id));
    }
    where = `backward ${st.i + 1}${n > 1 ? '–' + (st.i + n) : ''} / ${D.backward.length}`;
  } else {
    panel.innerHTML = doneHtml();
    highlight(null, [], []);
    where = 'done: the leaves\' .grad';
  }
  panel.dataset.node = g ? '' : st.s ? st.s.node : '';
  panel.dataset.group = g ? String(u.call) : '';
  panel.dataset.count = n;
  panel.dataset.scope = g ? g.path : st.s && st.s.scope ? st.s.scope : '';
  outlineShow(u, st.s ? st.s.step : 0);
  document.getElementById('xg-where').textContent = where;
  drawHeat();
}
// Every move lands on the first step of a unit: a step, or a collapsed call as a whole.
function go(i) { cur = unitOf(Math.max(0, Math.min(steps.length - 1, i))).a; show(); }
const next = () => go(unitOf(cur).b + 1);
const prev = () => go(cur - 1);
document.getElementById('xg-first').onclick = () => go(0);
document.getElementById('xg-prev').onclick = prev;
document.getElementById('xg-next').onclick = next;
document.getElementById('xg-last').onclick = () => go(steps.length - 1);
document.addEventListener('keydown', e => {
  const to = {ArrowRight: next, ArrowLeft: prev, Home: () => go(0), End: () => go(steps.length - 1)}[e.key];
  if (to !== undefined) { e.preventDefault(); to(); }
});
show();
)js";

}  // namespace

}  // namespace xg
