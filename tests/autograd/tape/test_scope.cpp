// Scopes (autograd/tape/scope.cpp) and the inspection tools at model size: the ops of a 2-block
// Transformer-like model carry the path of the module they ran in, its parameters print under
// their named_parameters() names, module calls collapse into one line each, the graph is
// clustered by module, large tensors print summaries and an LSTM's ops carry their time step.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "xgrad/autograd.hpp"
#include "xgrad/autograd/tape/node.hpp"
#include "xgrad/autograd/tools/inspect.hpp"
#include "xgrad/nn/nn.hpp"

namespace {

using xg::Tensor;
namespace nn = xg::nn;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
int count_of(const std::string& s, const std::string& part) {
  int n = 0;
  for (std::size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}
int lines_of(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// A pre-norm Transformer block: x + attn(ln1(x)), then h + ff2(relu(ff1(ln2(h)))).
struct Block : nn::Module {
  std::shared_ptr<nn::LayerNorm> ln1, ln2;
  std::shared_ptr<nn::MultiheadAttention> attn;
  std::shared_ptr<nn::Linear> ff1, ff2;
  Block(int64_t d, int64_t heads) : nn::Module("Block") {
    ln1 = register_module("ln1", std::make_shared<nn::LayerNorm>(d));
    attn = register_module("attn", std::make_shared<nn::MultiheadAttention>(d, heads));
    ln2 = register_module("ln2", std::make_shared<nn::LayerNorm>(d));
    ff1 = register_module("ff1", std::make_shared<nn::Linear>(d, 2 * d));
    ff2 = register_module("ff2", std::make_shared<nn::Linear>(2 * d, d));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = x + attn->forward(ln1->forward(x));
    return h + ff2->forward(xg::relu(ff1->forward(ln2->forward(h))));
  }
};

// Two blocks (called through operator(), so that their own adds carry their scope) and a head.
struct Tiny : nn::Module {
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::Linear> head;
  Tiny() : nn::Module("Tiny") {
    blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
    for (int i = 0; i < 2; ++i) blocks->push_back(std::make_shared<Block>(8, 2));
    head = register_module("head", std::make_shared<nn::Linear>(8, 1));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (const nn::ModulePtr& b : *blocks) h = (*b)(h);
    return head->forward(h);
  }
};

// One training step's loss: the model on x [4, 2, 8] (sequence 4, batch 2), mean of squares.
Tensor tiny_loss(Tiny& model) {
  xg::manual_seed(3);
  const Tensor x = xg::randn({4, 2, 8}).name("x");
  return xg::mean(xg::square(model(x)));
}

}  // namespace

TEST_CASE("scope: the table interns paths, types and depths") {
  const xg::ScopeId root = xg::scope_child(0, "", "ScopeTestRoot");
  const xg::ScopeId a = xg::scope_child(root, "enc", "Encoder");
  const xg::ScopeId b = xg::scope_child(a, "0", "Layer");
  CHECK(xg::scope_child(a, "0") == b);  // interned
  CHECK(xg::scope_info(b).path == "enc.0");
  CHECK(xg::scope_info(b).type == "Layer");
  CHECK(xg::scope_info(b).depth == 2);
  CHECK(xg::scope_info(root).path.empty());
  CHECK(xg::scope_info(root).type == "ScopeTestRoot");
  CHECK(xg::scope_at_depth(b, 1) == a);
  CHECK(xg::scope_within(b, a));
  CHECK_FALSE(xg::scope_within(a, b));
  // Ops record the current scope; NamedScope nests under it.
  const Tensor w = xg::ones({2}, {.requires_grad = true});
  Tensor y;
  {
    const xg::ScopeGuard in_b(b);
    const xg::NamedScope step("t3");
    y = w * 2.0;
  }
  CHECK(xg::scope_info(y.grad_fn()->scope()).path == "enc.0.t3");
  CHECK((w * 3.0).grad_fn()->scope() == 0);  // outside any scope again
}

TEST_CASE("scope: a node keeps its scope in the padding (no bigger than before)") {
  // Node's layout before scopes: the scope id fills 4 of the 6 padding bytes after released_.
  CHECK(sizeof(xg::ScopeId) == 4);
  const Tensor w = xg::ones({2}, {.requires_grad = true});
  CHECK((w * 2.0).grad_fn()->scope() == 0);
}

TEST_CASE("scope: the tape of a 2-block Transformer names modules and parameters") {
  Tiny model;
  xg::InspectGuard inspect;
  const Tensor L = tiny_loss(model);
  const std::string tape = xg::tape_string(L, {.values = false, .formulas = false});
  // every parameter under its named_parameters() name, none as leafN
  for (const auto& entry : model.named_parameters())
    CHECK_MESSAGE(contains(tape, "  " + entry.first + " "), entry.first);
  CHECK_FALSE(contains(tape, "leaf1"));
  CHECK(contains(tape, "  blocks.0.attn.in_proj_weight [24, 8] requires grad\n"));
  CHECK(contains(tape, "  blocks.1.ff2.bias [8] requires grad\n"));
  CHECK(contains(tape, "  head.weight [1, 8] requires grad\n"));
  // every op inside the model tagged with its module
  CHECK(contains(tape, "[blocks.0.ln1] "));
  CHECK(contains(tape, "[blocks.0.attn] "));
  CHECK(contains(tape, "[blocks.0.attn.out_proj] "));
  CHECK(contains(tape, "[blocks.1.ln1/mean] sum("));  // a composite's call, inside its module
  CHECK(contains(tape, "[blocks.0] add("));           // the block's own residual add
  CHECK(contains(tape, "[blocks.1.ff1] "));
  CHECK(contains(tape, "[blocks.1] relu("));
  CHECK(contains(tape, "[head] "));
  const std::vector<xg::TapeEntry> entries = xg::describe_tape(L);
  REQUIRE(entries.size() > 10);
  CHECK(entries.front().scope_path == "blocks.0.ln1");
  CHECK(xg::scope_info(entries.front().scope).type == "LayerNorm");
  CHECK(entries.back().scope_path == "mean");  // the loss: outside the model, in mean's call
  CHECK(xg::scope_info(entries.back().scope).composite);
  CHECK(entries.back().op == std::string("mul"));  // mean: sum, then * 1/n
  int block0 = 0, block1 = 0, head = 0, outside = 0;
  for (const xg::TapeEntry& e : entries) {
    const std::string& p = e.scope_path;
    if (p.rfind("blocks.0", 0) == 0)
      ++block0;
    else if (p.rfind("blocks.1", 0) == 0)
      ++block1;
    else if (p == "head")
      ++head;
    else if (p.empty() || p == "mean")
      ++outside;
  }
  // the same modules in both blocks, but block 0's ln1 normalises x, which needs no gradient: its
  // nine statistics ops (mean, centring, variance, rsqrt, ...) are not recorded, only the affine part
  CHECK(block1 == block0 + 9);
  CHECK(head == 3);     // reshape to [8, 8], linear, reshape back
  CHECK(outside == 3);  // square, and mean as sum and mul
  CHECK(block0 + block1 + head + outside == static_cast<int>(entries.size()));
  // one line per op, after the header and the leaves (26 parameters and the input x)
  CHECK(count_of(tape, " requires grad\n") == 26);
  CHECK(contains(tape, "  x [4, 2, 8] constant\n"));
  CHECK(contains(tape, "  const1 [4, 2, 8] constant\n"));  // ln1's normalised x (x needs no gradient)
  CHECK(count_of(tape, "\nstep ") == static_cast<int>(entries.size()));
  MESSAGE("2-block Transformer step: " << entries.size() << " ops, " << lines_of(tape) << " lines");
}

TEST_CASE("scope: module calls collapse into one line each") {
  Tiny model;
  xg::InspectGuard inspect;
  const Tensor L = tiny_loss(model);
  const std::string full = xg::tape_string(L, {.values = false, .formulas = false});
  const std::string blocks = xg::tape_string(L, {.values = false, .formulas = false, .collapse_depth = 2});
  MESSAGE(blocks);
  // the two blocks and head one line each; the loss's three ops as they are
  CHECK(count_of(blocks, "\nsteps ") == 3);
  CHECK(count_of(blocks, "\nstep  ") == 3);
  CHECK(contains(blocks, " in recording order, module calls at most 2 deep collapsed into 6 lines\n"));
  CHECK(contains(blocks, "  blocks.0 (Block): "));
  // block 0 reads x (the residual) and ln1's normalised x (a constant: x needs no gradient)
  const std::size_t at = blocks.find("  blocks.0 (Block): ");
  REQUIRE(at != std::string::npos);
  const std::string line0 = blocks.substr(at, blocks.find('\n', at) - at);
  CHECK(contains(line0, " ops (const1 [4, 2, 8], x [4, 2, 8]; 12 parameters) -> t"));
  CHECK(contains(line0, " [4, 2, 8]"));
  CHECK(contains(blocks, "  and 26 parameters and buffers of the collapsed modules\n"));
  CHECK_FALSE(contains(blocks, "head.weight"));
  CHECK(contains(blocks, "  head (Linear): 3 ops ("));
  CHECK(contains(blocks, "; 2 parameters) -> t"));
  // header, "leaves and constants:", the constants, "and 26", 6 step lines
  const int leaves = count_of(full, "\n  ");  // the leaves and constants listed in full
  CHECK(lines_of(blocks) == 1 + 1 + (leaves - 26) + 1 + 6);
  const std::string layers = xg::tape_string(L, {.values = false, .formulas = false, .collapse_depth = 3});
  MESSAGE(layers);
  // per block: ln1, attn (with its out_proj), add, ln2, ff1, relu, ff2, add; then head and the loss
  CHECK(contains(layers, "collapsed into 20 lines\n"));
  CHECK(contains(layers, "  blocks.1.attn (MultiheadAttention): "));
  CHECK(contains(layers, "  blocks.0.ln2 (LayerNorm): "));
  MESSAGE("lines: " << lines_of(full) << " in full, " << lines_of(blocks) << " collapsed at depth 2, "
                    << lines_of(layers) << " at depth 3");
  // the backward pass, collapsed the same way
  const xg::BackwardTrace trace = xg::backward_trace(L, Tensor(), true);
  const std::string bw = trace.str({.values = false, .formulas = false, .collapse_depth = 2});
  MESSAGE(bw);
  CHECK(contains(bw, "  blocks.1 (Block): "));
  CHECK(contains(bw, " steps; in: dL/dt"));
  CHECK(contains(bw, " parameter gradients\n"));
  CHECK(contains(bw, "  blocks.0.attn.in_proj_weight.grad = [24, 8] float32 {min "));
}

TEST_CASE("scope: the graph is clustered by module, and collapses") {
  Tiny model;
  xg::InspectGuard inspect;
  const Tensor L = tiny_loss(model);
  const std::string dot = xg::to_dot(L);
  // blocks, then per block: itself, ln1, attn, attn.out_proj, ln2, ff1, ff2; and head
  CHECK(count_of(dot, "subgraph cluster_") == 16);
  CHECK(contains(dot, "label=\"blocks.0.attn (MultiheadAttention)\""));
  CHECK(contains(dot, "label=\"blocks.1 (Block)\""));
  CHECK(contains(dot, "label=\"blocks (ModuleList)\""));
  const std::string flat = xg::to_dot(L, {.clusters = false});
  CHECK(count_of(flat, "subgraph") == 0);
  CHECK(count_of(flat, " -> ") == count_of(dot, " -> "));
  // collapsed at depth 1: "blocks" and "head" one node each
  const std::string small = xg::to_dot(L, {.collapse_depth = 1});
  CHECK(count_of(small, "shape=box3d") == 2);
  CHECK(contains(small, "  v1 -> g1;\n"));  // x into the blocks
  CHECK(count_of(small, " -> ") * 10 < count_of(dot, " -> "));
  MESSAGE("graph: " << count_of(dot, " -> ") << " edges, " << count_of(small, " -> ") << " collapsed");
}

// A user's own composite, recorded outside any module: its ops in one call scope.
Tensor my_layer_norm(const Tensor& x, const Tensor& w) {
  const xg::CompositeScope composite("layer_norm");
  const Tensor d = x - xg::mean(x, {-1}, true);
  return d * xg::rsqrt(xg::mean(d * d, {-1}, true) + 1e-5) * w;
}

TEST_CASE("scope: composite ops record in a call scope of their own, and collapse") {
  xg::InspectGuard inspect;
  xg::manual_seed(4);
  const Tensor x = xg::randn({2, 4}, {.requires_grad = true}).name("x");
  const Tensor w = xg::ones({4}, {.requires_grad = true}).name("w");
  const Tensor h = my_layer_norm(x, w).name("h");
  const Tensor sq = h * h;
  const Tensor m1 = xg::mean(sq), m2 = xg::mean(h);  // two means in a row
  const Tensor L = (m1 + m2).name("L");
  const std::vector<xg::TapeEntry> e = xg::describe_tape(L);
  // layer_norm: mean (sum, mul), sub, mul, mean (sum, mul), add, rsqrt, mul, mul = 10 ops; then
  // mul, mean, mean, add
  REQUIRE(e.size() == 16);
  CHECK(e[0].scope_path == "layer_norm/mean");
  CHECK(e[2].scope_path == "layer_norm");
  CHECK(e[9].scope_path == "layer_norm");
  CHECK(e[10].scope_path.empty());  // h * h
  const xg::ScopeInfo ln = xg::scope_info(e[2].scope);
  CHECK(ln.composite);
  CHECK(ln.type == "composite");
  CHECK(ln.depth == 1);
  CHECK(xg::scope_info(e[0].scope).parent == e[2].scope);
  // the two means in a row: the same path, two calls (ids) so that they stay two steps
  CHECK(e[11].scope_path == "mean");
  CHECK(e[13].scope_path == "mean");
  CHECK(e[11].scope == e[12].scope);
  CHECK(e[12].scope != e[13].scope);
  CHECK(xg::current_scope() == 0);

  const std::string full = xg::tape_string(L, {.values = false, .formulas = false});
  CHECK(contains(full, "step  1  [layer_norm/mean] sum(x [2, 4]) -> t1 [2, 1]\n"));
  const std::string c = xg::tape_string(L, {.values = false, .formulas = false, .collapse_composites = true});
  MESSAGE(c);
  CHECK(contains(c, "composite ops collapsed into 5 lines\n"));
  CHECK(contains(c, "steps  1-10  layer_norm (composite): 10 ops (x [2, 4], w [4]) -> h [2, 4]\n"));
  CHECK(contains(c, "steps 12-13  mean (composite): 2 ops (t11 [2, 4]) -> t13 []\n"));
  CHECK(contains(c, "steps 14-15  mean (composite): 2 ops (h [2, 4]) -> t15 []\n"));
  CHECK(contains(c, "step     11  mul(h [2, 4], h [2, 4]) -> t11 [2, 4]\n"));
  // depth counts modules only: no module here, nothing collapses at depth 1
  CHECK_FALSE(contains(xg::tape_string(L, {.collapse_depth = 1}), "steps "));

  const xg::BackwardTrace trace = xg::backward_trace(L, Tensor(), true);
  const std::string bw = trace.str({.values = false, .formulas = false, .collapse_composites = true});
  MESSAGE(bw);
  CHECK(contains(bw, "steps 10-1  layer_norm (composite): 10 steps; in: dL/dh = "));
  CHECK(contains(bw, "; out: dL/dw = "));  // (x is read by three of its ops: the sum of the three)
  CHECK(contains(bw, ", dL/dx = " + xg::format_values(x.grad()) + "\n"));
  const std::string bw_full = trace.str({.values = false, .formulas = false});
  CHECK(contains(bw_full, "step 1  [layer_norm/mean] t1 = sum(x)"));

  const std::string dot = xg::to_dot(L, {.collapse_composites = true});
  CHECK(count_of(dot, "shape=box3d") == 3);
  CHECK(contains(dot, "label=\"layer_norm\\n(composite)\\nsteps 1-10, 10 ops\"];"));
  CHECK(count_of(xg::to_dot(L), "subgraph") == 0);  // a composite is no box of the graph
}

TEST_CASE("scope: large tensors print summaries") {
  const Tensor t = xg::arange(0, 20, 1, {.dtype = xg::Dtype::float64});
  CHECK(xg::summarize_values(t) == "[20] float64 {min 0, max 19, mean 9.5, std 5.916, norm 49.7}");
  xg::InspectGuard inspect;
  const Tensor w = xg::arange(0, 20, 1, {.dtype = xg::Dtype::float64}).requires_grad_().name("w");
  const Tensor L = xg::sum(w * 2.0).name("L");
  const std::string tape = xg::tape_string(L, {.formulas = false});
  CHECK(contains(tape, "  w [20] requires grad ~ {min 0, max 19, mean 9.5, std 5.916, norm 49.7}\n"));
  CHECK(contains(tape, "-> t1 [20] ~ {min 0, max 38, mean 19, std 11.83, norm 99.4}\n"));
  CHECK_FALSE(contains(xg::tape_string(L, {.formulas = false, .summaries = false}), "~"));
}

TEST_CASE("scope: an LSTM's ops carry their time step; lone layers and dead models name nothing") {
  xg::manual_seed(2);
  auto lstm = std::make_shared<nn::LSTM>(3, 4);
  auto fc = std::make_shared<nn::Linear>(4, 1);
  nn::Sequential model({lstm, fc});
  const Tensor x = xg::randn({4, 2, 3});
  Tensor L = xg::mean(model(x));
  const std::vector<xg::TapeEntry> entries = xg::describe_tape(L);
  std::vector<std::string> scopes;
  for (const xg::TapeEntry& e : entries)
    if (scopes.empty() || scopes.back() != e.scope_path) scopes.push_back(e.scope_path);
  CHECK(std::find(scopes.begin(), scopes.end(), "0.t0") != scopes.end());
  CHECK(std::find(scopes.begin(), scopes.end(), "0.t3") != scopes.end());
  CHECK(std::find(scopes.begin(), scopes.end(), "1") != scopes.end());
  const std::string tape = xg::tape_string(L, {.values = false, .formulas = false});
  CHECK(contains(tape, "  0.weight_ih_l0 [16, 3] requires grad\n"));
  CHECK(contains(tape, "[0.t2] "));
  // a layer on its own: nothing to name it after
  auto lone = std::make_shared<nn::Linear>(3, 2);
  const std::string lone_tape =
      xg::tape_string(xg::sum(lone->forward(xg::ones({1, 3}))), {.formulas = false});
  CHECK(contains(lone_tape, "leaf1 [2, 3] requires grad"));
}
