#pragma once
/// @file inspect.hpp
/// @brief Backprop made visible: the tape printed, the backward pass replayed one node at a time
/// with each chain-rule product and its numbers, the graph as Graphviz DOT, and anomaly mode.
///
/// @code
/// xg::InspectGuard inspect;                 // keep names and values of every recorded op
/// xg::Tensor L = ...;                       // forward
/// xg::print_tape(L, std::cout);             // one line per recorded op, in recording order
/// xg::BackwardTrace trace = xg::backward_trace(L);  // L.backward(), recording every step
/// trace.print(std::cout);                   // dL/dz1 = dL/dh1 * (1 - h1^2) = [..] * [..] = [..]
/// xg::render_graph(L, "graph.svg", {.values = true, .grads = true, .trace = &trace});
/// xg::explain_html(L2, "explorer.html");    // (another L2) the same, as a page to step through
/// @endcode
///
/// Everything here is built on the core's TapeObserver hook (autograd/tape/node.hpp): the step trace
/// is the engine's own backward loop reporting each node it runs, not a second engine. The core
/// does not depend on this file; while no guard is alive and no trace runs, an op pays one
/// predictable branch.
///
/// Step numbers: step k is the k-th op of the root's tape in recording order (1-based), the
/// numbering print_tape shows and backward replays from the highest down.
///
/// Labels: a tensor's name (`t.name("W1")`); else the root is "L", the output of step k is "tk",
/// an unnamed leaf that requires grad "leafN", an unnamed one-element constant its value, any
/// other unnamed constant "constN".
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xgrad/autograd/tape/op_info.hpp"
#include "xgrad/autograd/tape/scope.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

// ---------------------------------------------------------------- modes

/// @brief RAII: while alive, every op recorded on this thread keeps its inputs (strongly) and its
/// output (weakly), so that printouts show the names and values of every tensor on the tape,
/// constants and intermediates included, and names given after the op ran (`h.name("h")`).
/// Costs memory (the inputs stay alive as long as the graph), so it is off by default.
class InspectGuard {
 public:
  explicit InspectGuard(bool on = true);
  ~InspectGuard();
  InspectGuard(const InspectGuard&) = delete;
  InspectGuard& operator=(const InspectGuard&) = delete;

 private:
  bool prev_;
};
bool inspect_enabled();

/// @brief RAII anomaly mode (as torch.autograd.detect_anomaly). While on, on this thread, the
/// first recorded op whose forward output contains NaN or Inf, and the first backward step that
/// sends a gradient containing NaN or Inf, raise ValueError naming the op, its tape step, the
/// element, and the ops that created its inputs. Off (the default) it costs nothing measurable.
class AnomalyGuard {
 public:
  explicit AnomalyGuard(bool on = true);
  ~AnomalyGuard();
  AnomalyGuard(const AnomalyGuard&) = delete;
  AnomalyGuard& operator=(const AnomalyGuard&) = delete;

 private:
  bool prev_;
};
bool anomaly_enabled();

/// How the printers show tensors and formulas.
struct InspectOptions {
  bool values = true;  ///< print the values of tensors of at most max_values elements
  int64_t max_values = 16;
  int precision = 4;     ///< significant digits
  bool formulas = true;  ///< print each op's derivative formula (from the op registry)
  /// Tensors of more than max_values elements: their summary (shape, min, max, mean, std, norm).
  bool summaries = true;
  bool scopes = true;  ///< tag each op with the module it ran in, `[blocks.0.attn]` (scope.hpp)
  /// > 0: print each module call at most this deep (in segments of its path: "blocks.0" is 2) as
  /// ONE line, with its inputs and outputs (`steps 5-28  blocks.0 (Block): 24 ops ...`).
  int collapse_depth = 0;
  /// Print each call of a composite op (mean, layer_norm, a loss: scope.hpp's CompositeScope) as
  /// ONE line too (`steps 9-10  mean (composite): 2 ops ...`), wherever it ran.
  bool collapse_composites = false;
};

/// Values as nested brackets, `[[0.1, 0.2], [0.3, 0.4]]` (a 0-d tensor: the bare number), with
/// `precision` significant digits; above max_values elements `<[64, 784] float32>`.
std::string format_values(const Tensor& t, int precision = 4, int64_t max_values = 16);
/// `[64, 784] float32 {min -3.1, max 2.9, mean 0.01, std 1, norm 224}` (NaN and Inf propagate).
std::string summarize_values(const Tensor& t, int precision = 4);

// ---------------------------------------------------------------- the tape

class Node;

/// One input of a recorded op, as far as it is known.
struct TapeInput {
  std::string label;  ///< see "Labels" above; "?" for a constant recorded without InspectGuard
  Shape shape;
  bool shape_known = true;  ///< false for a constant recorded without InspectGuard
  int producer_step = 0;    ///< the step whose output this is; 0 for leaves and constants
  std::string producer_op;  ///< that step's op
  bool requires_grad = false;
  bool is_leaf = false;  ///< a leaf that requires grad (a parameter or an input being differentiated)
  Tensor value;          ///< undefined when unknown (recorded without InspectGuard)
};

/// One recorded op of a tape.
struct TapeEntry {
  int step = 0;              ///< 1-based position in recording order
  uint64_t sequence_nr = 0;  ///< the node's global sequence number
  std::string op, formula;
  std::string output;  ///< the output's label
  Shape shape;
  Dtype dtype = Dtype::float32;
  Tensor value;  ///< the output's values; undefined when unknown
  std::vector<TapeInput> inputs;
  std::shared_ptr<Node> node;
  ScopeId scope = 0;       ///< where it was recorded (scope.hpp)
  std::string scope_path;  ///< that scope's path, "blocks.0.attn" ("" outside any module)
};

/// The tape of `root` (usually a loss): its recorded ops in recording order.
std::vector<TapeEntry> describe_tape(const Tensor& root);
/// Prints the tape: the leaves and constants with their shapes (and values), then one line per op:
/// `step 3  sigmoid(z1 [2, 1]) -> h [2, 1] = [[0.5933], [0.5969]]`, each followed by its
/// derivative formula when o.formulas.
void print_tape(const Tensor& root, std::ostream& os, const InspectOptions& o = {});
std::string tape_string(const Tensor& root, const InspectOptions& o = {});

// ---------------------------------------------------------------- backward, step by step

/// What one step of the backward pass did: the node, the gradient that arrived for its output,
/// its derivative formula, and the gradient it sent to each input.
struct BackwardStep {
  int step = 0;  ///< tape step (backward runs them from the highest down)
  std::shared_ptr<Node> node;
  std::string op, formula;
  std::string root;     ///< the label of the tensor being differentiated ("L")
  std::string output;   ///< the label of the node's output y
  Tensor output_value;  ///< y's values (undefined when unknown)
  Tensor grad_output;   ///< dL/dy, the upstream gradient
  std::vector<TapeInput> inputs;
  std::vector<Tensor> grad_inputs;  ///< dL/d(input k) sent by this step; undefined: no gradient
  /// A remark printed under the step's header (mark_culprit in gradcheck.hpp: a wrong backward).
  std::string note;
  std::string scope_path;  ///< the module the op ran in ("" outside any; scope.hpp)
  /// The chain-rule line for input k, e.g. `dL/dz1 = dL/dh * h (1 - h) = [..] * [..] = [..]`;
  /// empty when input k receives no gradient. Numbers are shown only where they were verified
  /// to reproduce grad_inputs[k].
  std::string chain_rule(std::size_t k, const InspectOptions& o = {}) const;
  /// The op's own explanation of input k's line (OpSpec::explain), when it has one, the values
  /// it needs were kept (InspectGuard) and its numbers reproduce grad_inputs[k]; else nullopt.
  std::optional<ChainRuleLine> explanation(std::size_t k, const InspectOptions& o = {}) const;
  /// The step's header line and its chain-rule lines.
  std::string str(const InspectOptions& o = {}) const;
};

/// A leaf's gradient from this pass, and its .grad after accumulation.
struct LeafGradient {
  std::string label;
  Tensor grad;         ///< what this pass computed for the leaf, summed over all paths (before its hooks)
  Tensor accumulated;  ///< a copy of the leaf's .grad() afterwards
  bool accumulated_onto_earlier = false;  ///< the leaf held a .grad before this pass
};

struct BackwardTrace {
  std::string root;
  std::vector<BackwardStep> steps;   ///< in execution order: highest step first
  std::vector<LeafGradient> leaves;  ///< in the order the engine accumulated them
  void print(std::ostream& os, const InspectOptions& o = {}) const;
  std::string str(const InspectOptions& o = {}) const;
  /// The step with that tape step number, or nullptr.
  const BackwardStep* find(int step) const;
};

using BackwardStepCallback = std::function<void(const BackwardStep&)>;

/// Runs root.backward(grad, retain_graph) — the engine's one backward loop — and records each
/// step as the engine runs it; on_step (optional) is called after each step, while the pass is
/// under way (the step-by-step API: print, inspect or stop in a debugger there). Leaves get their
/// .grad exactly as from root.backward().
BackwardTrace backward_trace(const Tensor& root, const Tensor& grad = Tensor(), bool retain_graph = false,
                             const BackwardStepCallback& on_step = {});

/// For a debugger session (`call xg::dump_tape(loss)`, `call xg::dump_backward(loss)`): print to
/// stderr with the default options. dump_backward runs backward with retain_graph = true.
void dump_tape(const Tensor& root);
void dump_backward(const Tensor& root);

// ---------------------------------------------------------------- the graph, drawn

struct DotOptions {
  bool values = false;  ///< show tensor values (up to max_values elements)
  bool grads = false;   ///< show gradients: leaves' .grad, and intermediates' from `trace`
  int64_t max_values = 8;
  int precision = 4;
  const BackwardTrace* trace = nullptr;  ///< gradients of intermediate tensors, from backward_trace
  std::string title = {};                ///< a graph label
  std::string rankdir = "TB";            ///< Graphviz layout direction: "TB" (top to bottom) or "LR"
  bool clusters = true;  ///< draw each module's ops inside a box (a subgraph cluster per scope)
  /// > 0: draw each module call at most this deep as ONE node (see InspectOptions::collapse_depth)
  int collapse_depth = 0;
  bool collapse_composites = false;  ///< draw each composite op's call as ONE node
};

/// The tape of `root` as a Graphviz digraph: an ellipse per op ("step 3\nsigmoid") and a box per
/// tensor (label, shape, optionally values and gradients); parameters (leaves that require grad)
/// filled blue, constants grey and dashed, the root bold and filled yellow. Edges run from
/// inputs to ops to outputs.
std::string to_dot(const Tensor& root, const DotOptions& o = {});

struct RenderResult {
  bool rendered = false;   ///< true when `dot` produced the picture
  std::string dot_path;    ///< the .dot file written (always)
  std::string image_path;  ///< the picture (when rendered)
  std::string message;     ///< what happened; without graphviz, how to render it by hand
};
/// Writes the DOT of `root` next to `path` (path with the extension .dot) and, when graphviz's
/// `dot` is on the PATH, renders it to `path` in the format of its extension (svg, png, pdf).
RenderResult render_graph(const Tensor& root, const std::string& path, const DotOptions& o = {});

// ---------------------------------------------------------------- the explorer, in a browser

struct HtmlOptions {
  std::string title = {};      ///< the page's heading (default: "backprop of L")
  int precision = 7;           ///< significant digits of the numbers shown
  int64_t max_table = 64;      ///< tensors of at most this many elements are shown whole, as tables
  int64_t max_heatmap = 4096;  ///< larger ones as summaries (shape, min, max, mean, norm), and 2-D
                               ///< ones of at most this many elements also as heat maps
  std::string rankdir = "TB";  ///< the graph's layout direction: "TB" or "LR"
  bool retain_graph = false;   ///< passed to the backward pass
  /// The calls shown collapsed when the page opens (as InspectOptions::collapse_depth and
  /// collapse_composites); the learner expands and collapses any call in the page's outline.
  int collapse_depth = 0;
  bool collapse_composites = false;
};

struct HtmlResult {
  std::string path;     ///< the page written
  BackwardTrace trace;  ///< the backward pass the page shows
  int forward_steps = 0;
  bool graphviz = false;  ///< the graph was drawn by graphviz's dot (else by a simple layout of its own)
};

/// @brief Runs root.backward() through backward_trace and writes ONE self-contained HTML page
/// (no network: the graph as inline SVG drawn by graphviz's `dot`, the data as inline JSON,
/// inline script and style) in which a learner steps through the recorded ops forward, then
/// through the engine's backward steps (buttons, or the arrow keys, Home and End): the current
/// node highlighted in the graph, its derivative formula, the upstream gradient, the local
/// derivative and the gradient sent to each input (the chain-rule line of BackwardStep, shown
/// only when its numbers reproduce what ran), and the gradients accumulated so far on the leaves.
/// The outline lists the calls (modules, time steps, composite ops) as nested groups: a collapsed
/// one is ONE step for the buttons and keys, forward (what enters it, what it hands on) and
/// backward (the gradients that enter it, the sums it sends out); expanded, its steps one by one.
/// Record the forward under InspectGuard to see every value. Leaves get their .grad as from
/// root.backward(). Without graphviz's `dot` on the PATH the graph is laid out in plain rows (the
/// page says so; Debian: apt-get install graphviz). Throws IOError when the page cannot be written.
HtmlResult explain_html(const Tensor& root, const std::string& path, const HtmlOptions& o = {});

}  // namespace xg
