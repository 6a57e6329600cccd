// The inspection tools (autograd/tools/inspect.hpp): the printed tape, the backward pass step by step,
// the DOT graph, anomaly mode, and the 2-2-1 network of examples/tutorial/backprop_by_hand.cpp derived by
// hand. Every test reads the content of what is printed: op order, labels, shapes, formulas and
// numbers, all worked out by hand for the small fixed graphs below.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "xgrad/autograd.hpp"
#include "xgrad/autograd/tape/node.hpp"
#include "xgrad/autograd/tools/inspect.hpp"
#include "xgrad/optim/sgd.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;

constexpr xg::TensorOptions data64{.dtype = Dtype::float64};
constexpr xg::TensorOptions param64{.dtype = Dtype::float64, .requires_grad = true};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

template <class F>
std::string value_error(F f) {
  try {
    f();
  } catch (const xg::ValueError& e) {
    return e.what();
  }
  FAIL("expected a ValueError");
  return {};
}

// The single neuron of examples/tutorial/single_neuron.cpp: L = (sigmoid(w x + b) - t)^2 with w = 0.8,
// x = 1.5, b = -0.5, t = 1, so z = 0.7, y = sigmoid(0.7) = 0.66819, e = -0.33181, L = 0.11010.
struct Neuron {
  Tensor x = xg::tensor({1.5}, data64).name("x");
  Tensor t = xg::tensor({1.0}, data64).name("t");
  Tensor w = xg::tensor({0.8}, param64).name("w");
  Tensor b = xg::tensor({-0.5}, param64).name("b");
  Tensor wx, z, y, e, L;
  Neuron() {
    wx = (w * x).name("wx");
    z = (wx + b).name("z");
    y = xg::sigmoid(z).name("y");
    e = (y - t).name("e");
    L = xg::pow(e, 2.0).name("L");
  }
};

}  // namespace

// ---------------------------------------------------------------- 1. the tape, printed
TEST_CASE("print_tape lists the ops in recording order with names, shapes, values and formulas") {
  xg::InspectGuard inspect;
  Neuron n;
  const std::vector<std::string> lines = lines_of(xg::tape_string(n.L));
  const std::vector<std::string> expected = {
      "tape of L: 5 ops in recording order",
      "leaves and constants:",
      "  w [1] requires grad = [0.8]",
      "  x [1] constant = [1.5]",
      "  b [1] requires grad = [-0.5]",
      "  t [1] constant = [1]",
      "step 1  mul(w [1], x [1]) -> wx [1] = [1.2]",
      "        d/da (a * b) = b, d/db (a * b) = a",
      "step 2  add(wx [1], b [1]) -> z [1] = [0.7]",
      "        d/da (a + b) = 1, d/db (a + b) = 1",
      "step 3  sigmoid(z [1]) -> y [1] = [0.6682]",
      "        d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x))",
      "step 4  sub(y [1], t [1]) -> e [1] = [-0.3318]",
      "        d/da (a - b) = 1, d/db (a - b) = -1",
      "step 5  pow_scalar(e [1]) -> L [1] = [0.1101]",
      "        d/dx x^p = p x^(p-1)",
  };
  CHECK(lines == expected);
}

TEST_CASE("print_tape options: no values, no formulas, more digits") {
  xg::InspectGuard inspect;
  Neuron n;
  const std::string plain = xg::tape_string(n.L, {.values = false, .formulas = false});
  CHECK(contains(plain, "step 3  sigmoid(z [1]) -> y [1]\n"));
  CHECK_FALSE(contains(plain, "d/dx"));
  CHECK_FALSE(contains(plain, "0.6682"));
  const std::string precise = xg::tape_string(n.L, {.precision = 8, .formulas = false});
  CHECK(contains(precise, "step 3  sigmoid(z [1]) -> y [1] = [0.66818777]\n"));
}

TEST_CASE(
    "unnamed tensors: tk for the output of step k, leafN, constN, a scalar constant's value, L for the "
    "root") {
  xg::InspectGuard inspect;
  Tensor a = xg::tensor({1, 2}, param64);  // leaf1
  Tensor c = xg::tensor({3, 4}, data64);   // const1
  Tensor L = xg::sum(xg::tanh(a * c) * 0.5);
  const std::vector<std::string> lines = lines_of(xg::tape_string(L, {.formulas = false}));
  REQUIRE(lines.size() == 8);
  CHECK(lines[0] == "tape of L: 4 ops in recording order");
  CHECK(lines[2] == "  leaf1 [2] requires grad = [1, 2]");
  CHECK(lines[3] == "  const1 [2] constant = [3, 4]");
  CHECK(lines[4] == "step 1  mul(leaf1 [2], const1 [2]) -> t1 [2] = [3, 8]");
  CHECK(lines[5] == "step 2  tanh(t1 [2]) -> t2 [2] = [0.9951, 1]");
  CHECK(lines[6] == "step 3  mul(t2 [2], 0.5) -> t3 [2] = [0.4975, 0.5]");
  CHECK(lines[7] == "step 4  sum(t3 [2]) -> L [] = 0.9975");
}

TEST_CASE("a name given after the op ran is used, and 2-D values print as nested lists") {
  xg::InspectGuard inspect;
  Tensor W = xg::tensor({1, 2, 3, 4}, {2, 2}, param64).name("W");
  Tensor v = xg::tensor({1, -1}, {2, 1}, data64).name("v");
  Tensor z = xg::matmul(W, v);
  z.name("z");  // named afterwards
  Tensor L = xg::sum(z);
  const std::string s = xg::tape_string(L, {.formulas = false});
  CHECK(contains(s, "  W [2, 2] requires grad = [[1, 2], [3, 4]]\n"));
  CHECK(contains(
      s,
      "step 1  [matmul] matmul_t(W [2, 2], v [2, 1]) -> z [2, 1] = [[-1], [-1]]\n"));  // matmul: a composite
  CHECK(contains(s, "step 2  sum(z [2, 1]) -> L [] = -2\n"));
}

TEST_CASE("without InspectGuard the tape still shows ops, leaves by name and steps, but not constants") {
  REQUIRE_FALSE(xg::inspect_enabled());
  Neuron n;
  CHECK(n.L.grad_fn()->annotation() == nullptr);  // nothing kept per node
  const std::string s = xg::tape_string(n.L, {.formulas = false});
  CHECK(contains(s, "step 1  mul(w [1], ? (a constant)) -> t1 [1]\n"));
  CHECK(contains(s, "step 2  add(t1 [1], b [1]) -> t2 [1]\n"));
  CHECK(contains(s, "step 5  pow_scalar(t4 [1]) -> L [1] = [0.1101]\n"));  // the root's own values are known
}

TEST_CASE("describe_tape gives the same content as data") {
  xg::InspectGuard inspect;
  Neuron n;
  const std::vector<xg::TapeEntry> tape = xg::describe_tape(n.L);
  REQUIRE(tape.size() == 5);
  const char* ops[] = {"mul", "add", "sigmoid", "sub", "pow_scalar"};
  for (int i = 0; i < 5; ++i) {
    CHECK(tape[i].step == i + 1);
    CHECK(tape[i].op == ops[i]);
    CHECK(tape[i].formula == tape[i].node->info().formula);
    if (i) CHECK(tape[i].sequence_nr > tape[i - 1].sequence_nr);
  }
  CHECK(tape[2].output == "y");
  CHECK(tape[2].value.item() == doctest::Approx(1.0 / (1.0 + std::exp(-0.7))).epsilon(1e-15));
  REQUIRE(tape[3].inputs.size() == 2);
  CHECK(tape[3].inputs[0].label == "y");
  CHECK(tape[3].inputs[0].producer_step == 3);
  CHECK(tape[3].inputs[0].producer_op == "sigmoid");
  CHECK(tape[3].inputs[1].label == "t");
  CHECK_FALSE(tape[3].inputs[1].requires_grad);
  CHECK(tape[0].inputs[0].is_leaf);
  CHECK(tape[0].inputs[0].label == "w");
}

TEST_CASE("the tape of a leaf, and of a tensor nothing requires grad for") {
  Tensor w = xg::tensor({1.0}, param64).name("w");
  CHECK(xg::tape_string(w) == "tape of w: empty (a leaf)\n");
  Tensor c = xg::tensor({1.0}, data64) * 2.0;
  CHECK(xg::tape_string(c) == "tape of L: empty (no op was recorded: nothing requires grad)\n");
}

TEST_CASE("format_values") {
  CHECK(xg::format_values(xg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, data64)) == "[[1, 2, 3], [4, 5, 6]]");
  CHECK(xg::format_values(xg::scalar_tensor(-0.123456789, data64), 3) == "-0.123");
  CHECK(xg::format_values(xg::zeros({20})) == "<[20] float32>");
  CHECK(xg::format_values(xg::arange(3.0, {.dtype = Dtype::int64})) == "[0, 1, 2]");
  CHECK(xg::format_values(xg::tensor({NAN, INFINITY}, data64)) == "[nan, inf]");
}

// ---------------------------------------------------------------- 2. backward, step by step
TEST_CASE("backward_trace: every step with its upstream gradient, formula, and chain-rule numbers") {
  xg::InspectGuard inspect;
  Neuron n;
  std::vector<int> seen;
  const xg::BackwardTrace trace =
      xg::backward_trace(n.L, Tensor(), false, [&](const xg::BackwardStep& s) { seen.push_back(s.step); });
  CHECK(seen == std::vector<int>{5, 4, 3, 2, 1});  // the callback ran once per step, highest first
  REQUIRE(trace.steps.size() == 5);
  CHECK(trace.root == "L");

  // By hand: dL/de = 2e, dL/dy = dL/de, dL/dz = dL/dy y (1 - y), dL/dw = dL/dz x, dL/db = dL/dz.
  const double y = 1.0 / (1.0 + std::exp(-0.7)), e = y - 1.0;
  const double dz = 2 * e * y * (1 - y);
  const xg::BackwardStep& s3 = trace.steps[2];
  CHECK(s3.step == 3);
  CHECK(s3.op == "sigmoid");
  CHECK(s3.formula == "d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x))");
  CHECK(s3.output == "y");
  CHECK(s3.grad_output.item() == doctest::Approx(2 * e).epsilon(1e-15));
  REQUIRE(s3.grad_inputs.size() == 1);
  CHECK(s3.grad_inputs[0].item() == doctest::Approx(dz).epsilon(1e-15));
  CHECK(s3.chain_rule(0) == "dL/dz = dL/dy * y (1 - y) = [-0.6636] * [0.2217] = [-0.1471]");
  CHECK(s3.str() ==
        "step 3  y = sigmoid(z)          local derivative: d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x))\n"
        "        dL/dz = dL/dy * y (1 - y) = [-0.6636] * [0.2217] = [-0.1471]\n");

  CHECK(trace.steps[0].chain_rule(0) == "dL/de = dL/dL * 2 e = [1] * [-0.6636] = [-0.6636]");
  CHECK(trace.steps[1].chain_rule(0) == "dL/dy = dL/de = [-0.6636]");
  CHECK(trace.steps[1].chain_rule(1) == "");  // t is a constant: no gradient sent
  CHECK_FALSE(trace.steps[1].grad_inputs[1].defined());
  CHECK(trace.steps[3].chain_rule(1) == "dL/db = dL/dz = [-0.1471]");
  CHECK(trace.steps[4].chain_rule(0) == "dL/dw = dL/dwx * x = [-0.1471] * [1.5] = [-0.2207]");
  CHECK(trace.steps[4].grad_inputs[0].item() == doctest::Approx(dz * 1.5).epsilon(1e-15));

  // The leaves got exactly what backward() gives them.
  CHECK(n.w.grad().item() == doctest::Approx(dz * 1.5).epsilon(1e-15));
  CHECK(n.b.grad().item() == doctest::Approx(dz).epsilon(1e-15));
  REQUIRE(trace.leaves.size() == 2);
  CHECK(trace.leaves[0].label == "b");
  CHECK(trace.leaves[1].label == "w");
  CHECK(trace.leaves[1].accumulated.item() == n.w.grad().item());
  CHECK(trace.find(3) == &trace.steps[2]);
  CHECK(trace.find(9) == nullptr);
}

TEST_CASE("the printed trace") {
  xg::InspectGuard inspect;
  Neuron n;
  const std::string s = xg::backward_trace(n.L).str({.formulas = false});
  const std::vector<std::string> expected = {
      "backward from L: 5 steps, from the last op recorded to the first; dL/dL = [1]",
      "step 5  L = pow_scalar(e)",
      "        dL/de = dL/dL * 2 e = [1] * [-0.6636] = [-0.6636]",
      "step 4  e = sub(y, t)",
      "        dL/dy = dL/de = [-0.6636]",
      "step 3  y = sigmoid(z)",
      "        dL/dz = dL/dy * y (1 - y) = [-0.6636] * [0.2217] = [-0.1471]",
      "step 2  z = add(wx, b)",
      "        dL/dwx = dL/dz = [-0.1471]",
      "        dL/db = dL/dz = [-0.1471]",
      "step 1  wx = mul(w, x)",
      "        dL/dw = dL/dwx * x = [-0.1471] * [1.5] = [-0.2207]",
      "leaf gradients (.grad after this backward):",
      "  b.grad = [-0.1471]",
      "  w.grad = [-0.2207]",
  };
  CHECK(lines_of(s) == expected);
}

TEST_CASE(
    "chain rules of matmul, tanh, div, relu, exp, log, broadcasting, and a second backward that "
    "accumulates") {
  xg::InspectGuard inspect;
  Tensor W = xg::tensor({0.5, -1, 2, 0.25}, {2, 2}, param64).name("W");
  Tensor x = xg::tensor({1, 2}, {2, 1}, data64).name("x");
  Tensor b = xg::tensor({0.1}, param64).name("b");  // broadcast over [2, 1]
  Tensor z = (xg::matmul(W, x) + b).name("z");      // [[-1.4], [2.6]]
  Tensor h = xg::tanh(z).name("h");
  Tensor r = xg::relu(h).name("r");
  Tensor q = (r / 2.0).name("q");
  Tensor L = xg::sum(xg::log(xg::exp(q) + 1.0)).name("L");
  const xg::BackwardTrace trace = xg::backward_trace(L, Tensor(), true);
  std::vector<std::string> ops;
  for (const auto& s : trace.steps) ops.push_back(s.op);
  CHECK(ops ==
        std::vector<std::string>{"sum", "log", "add", "exp", "div", "relu", "tanh", "add", "matmul_t"});
  const xg::BackwardStep* s = trace.find(1);
  REQUIRE(s);
  CHECK(contains(s->chain_rule(0), "dL/dW = dL/dt1 @ x^T = "));
  CHECK(contains(s->chain_rule(0), " @ [[1], [2]]^T = "));
  CHECK(contains(trace.find(2)->chain_rule(1), "dL/db = sum_to(dL/dz, [1]) = "));
  CHECK(contains(trace.find(3)->chain_rule(0), "dL/dz = dL/dh * (1 - h^2) = "));
  CHECK(trace.find(4)->chain_rule(0) ==
        "dL/dh = dL/dr * [h > 0] = [[0.25], [0.3106]] * [[0], [1]] = [[0], [0.3106]]");
  CHECK(trace.find(7)->chain_rule(1) == "");  // the constant 1 of `exp(q) + 1` gets no gradient
  CHECK_FALSE(trace.find(7)->grad_inputs[1].defined());
  CHECK(contains(trace.find(5)->chain_rule(0), "dL/dr = dL/dq / 2 = "));
  CHECK(contains(trace.find(6)->chain_rule(0), "dL/dq = dL/dt6 * t6 = "));
  CHECK(contains(trace.find(8)->chain_rule(0), "dL/dt7 = dL/dt8 / t7 = "));
  CHECK(trace.find(9)->chain_rule(0) == "dL/dt8 = dL/dL broadcast to [2, 1] = [[1], [1]]");
  // every gradient equals what xg::grad computes for the same graph
  const std::vector<Tensor> g = xg::grad({L}, {W, b}, {}, true);
  CHECK(trace.leaves.size() == 2);
  for (const auto& leaf : trace.leaves) {
    const Tensor& want = leaf.label == "W" ? g[0] : g[1];
    const std::vector<double> a = leaf.grad.to_vector<double>(), w = want.to_vector<double>();
    REQUIRE(a.size() == w.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(w[i]).epsilon(1e-14));
  }
  // a second pass accumulates into .grad, and the trace says so
  const xg::BackwardTrace again = xg::backward_trace(L);
  const std::string printed = again.str();
  CHECK(contains(printed, "  b.grad = "));
  CHECK(contains(printed, "(this pass: "));
  CHECK(b.grad().item() == doctest::Approx(2 * g[1].item()).epsilon(1e-14));
}

TEST_CASE(
    "a chain rule that cannot be spelled out falls back to the op's backward, with the engine's numbers") {
  xg::InspectGuard inspect;
  Tensor a = xg::tensor({1, 2, 3}, param64).name("a");
  Tensor L = xg::sum(xg::softplus(a)).name("L");
  const xg::BackwardTrace trace = xg::backward_trace(L);
  REQUIRE(trace.steps.size() == 2);
  const xg::BackwardStep& s = trace.steps[1];
  CHECK(s.op == "softplus");
  CHECK(s.chain_rule(0) == "dL/da = softplus's backward of dL/dt1 = [0.7311, 0.8808, 0.9526]");
}

TEST_CASE("the trace is the engine's own pass: hooks run, and retain_graph is honoured") {
  xg::InspectGuard inspect;
  Tensor w = xg::tensor({1.0, 2.0}, param64).name("w");
  w.register_hook([](const Tensor& g) { return g * 10.0; });
  Tensor L = xg::sum(w * w).name("L");
  const xg::BackwardTrace trace = xg::backward_trace(L);
  CHECK(w.grad().to_vector<double>() == std::vector<double>{20, 40});  // 2w, times 10 by the hook
  REQUIRE(trace.leaves.size() == 1);
  CHECK(trace.leaves[0].grad.to_vector<double>() == std::vector<double>{2, 4});  // before the hook
  CHECK(trace.leaves[0].accumulated.to_vector<double>() == std::vector<double>{20, 40});
  CHECK_FALSE(trace.leaves[0].accumulated_onto_earlier);
  // without retain_graph the graph was freed, as after backward()
  CHECK(contains(value_error([&] { L.backward(); }), "a second time"));
  // the observer is uninstalled afterwards
  CHECK(xg::detail::tape_observer != nullptr);  // InspectGuard still on
}

TEST_CASE("no observer is installed while no guard or trace is alive") {
  CHECK(xg::detail::tape_observer == nullptr);
  {
    xg::InspectGuard inspect;
    CHECK(xg::detail::tape_observer != nullptr);
    {
      xg::InspectGuard off(false);
      CHECK_FALSE(xg::inspect_enabled());
      CHECK(xg::detail::tape_observer == nullptr);
    }
    CHECK(xg::inspect_enabled());
  }
  CHECK(xg::detail::tape_observer == nullptr);
  Tensor w = xg::tensor({1.0}, param64);
  xg::backward_trace(xg::sum(w * w));
  CHECK(xg::detail::tape_observer == nullptr);
}

TEST_CASE("a long chain recorded under InspectGuard is freed without recursion") {
  xg::InspectGuard inspect;
  Tensor x = xg::tensor({0.5}, param64);
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0;
  CHECK(xg::describe_tape(y).size() == 100000);
  y = Tensor();  // would overflow the stack if annotations freed the chain recursively
  CHECK(x.defined());
}

// ---------------------------------------------------------------- 3. the graph, drawn
TEST_CASE("to_dot: op and tensor nodes, names, shapes, styles, values and gradients") {
  xg::InspectGuard inspect;
  Neuron n;
  const std::string plain = xg::to_dot(n.L);
  CHECK(plain.rfind("digraph xgrad {\n", 0) == 0);
  CHECK(contains(plain, "rankdir=TB"));
  CHECK(contains(plain,
                 "  op1 [shape=ellipse, style=filled, fillcolor=\"#fff2cc\", label=\"step 1\\nmul\"];\n"));
  CHECK(contains(plain,
                 "  v1 [shape=box, style=\"filled,bold\", fillcolor=\"#cfe2ff\", label=\"w\\n[1]\"];\n"));
  CHECK(contains(
      plain,
      "  v2 [shape=box, style=\"dashed\", color=\"#888888\", fontcolor=\"#555555\", label=\"x\\n[1]\"];\n"));
  CHECK(contains(plain, "  v1 -> op1;\n"));
  CHECK(contains(plain, "  v2 -> op1;\n"));
  CHECK(contains(plain, "  t1 [shape=box, style=\"rounded\", label=\"wx\\n[1]\"];\n"));
  CHECK(contains(plain, "  op1 -> t1;\n"));  // edges follow the nodes (nodes may sit in module clusters)
  CHECK(contains(plain, "  t1 -> op2;\n"));
  CHECK(contains(plain,
                 "  t5 [shape=box, style=\"filled,bold\", fillcolor=\"#ffe699\", label=\"L\\n[1]\"];\n"));
  CHECK_FALSE(contains(plain, "value"));

  const xg::BackwardTrace trace = xg::backward_trace(n.L);
  const std::string full =
      xg::to_dot(n.L, {.values = true, .grads = true, .trace = &trace, .title = "neuron"});
  CHECK(contains(full, "label=\"neuron\""));
  CHECK(contains(full, "label=\"w\\n[1]\\nvalue [0.8]\\ngrad [-0.2207]\""));
  CHECK(contains(full, "label=\"y\\n[1]\\nvalue [0.6682]\\ngrad [-0.6636]\""));
  CHECK(contains(full, "label=\"x\\n[1]\\nvalue [1.5]\""));
  const std::string lr = xg::to_dot(n.L, {.rankdir = "LR"});
  CHECK(contains(lr, "rankdir=LR"));
}

TEST_CASE("render_graph writes the .dot, and renders it when graphviz is there") {
  xg::InspectGuard inspect;
  Neuron n;
  char dir_template[] = "/tmp/xg_inspect_XXXXXX";
  REQUIRE(::mkdtemp(dir_template));
  const std::string dir = dir_template;
  SUBCASE("without dot on the PATH: the .dot and how to render it") {
    const char* old = std::getenv("PATH");
    const std::string saved = old ? old : "";
    ::setenv("PATH", "/nonexistent", 1);
    const xg::RenderResult r = xg::render_graph(n.L, dir + "/g.svg");
    ::setenv("PATH", saved.c_str(), 1);
    CHECK_FALSE(r.rendered);
    CHECK(r.dot_path == dir + "/g.dot");
    CHECK(contains(r.message, "dot -Tsvg " + dir + "/g.dot -o " + dir + "/g.svg"));
    CHECK(contains(r.message, "apt-get install graphviz"));
    std::ifstream f(r.dot_path);
    std::stringstream text;
    text << f.rdbuf();
    CHECK(text.str() == xg::to_dot(n.L));
  }
  SUBCASE("a .dot path only writes the .dot") {
    const xg::RenderResult r = xg::render_graph(n.L, dir + "/only.dot");
    CHECK_FALSE(r.rendered);
    CHECK(std::ifstream(dir + "/only.dot").good());
  }
  SUBCASE("with dot: an SVG") {
    if (std::system("command -v dot > /dev/null 2>&1") != 0) return;  // graphviz not installed here
    const xg::RenderResult r = xg::render_graph(n.L, dir + "/g.svg");
    CHECK(r.rendered);
    std::ifstream f(dir + "/g.svg");
    std::stringstream text;
    text << f.rdbuf();
    CHECK(contains(text.str(), "<svg"));
    CHECK(contains(text.str(), ">sigmoid</text>"));
  }
  std::remove((dir + "/g.dot").c_str());
  std::remove((dir + "/g.svg").c_str());
  std::remove((dir + "/only.dot").c_str());
  ::rmdir(dir.c_str());
}

// ---------------------------------------------------------------- 4. anomaly mode
TEST_CASE("anomaly mode: the first op whose forward output is NaN raises, naming it and its inputs' ops") {
  Tensor w = xg::tensor({0.5, 2.0, 1.5}, param64).name("w");
  Tensor x = xg::tensor({2.0, 1.0, -1.0}, data64).name("x");
  xg::AnomalyGuard anomaly;
  Tensor s = (w * x).name("s");
  const std::string m = value_error([&] { Tensor L = xg::exp(xg::log(s)); });  // log is first, exp never runs
  CHECK(
      m ==
      "anomaly: 'log' (tape step 2) produced nan at element [2] of its output t2 [3]; its inputs: s [3] from "
      "'mul' (step 1) = [1, 2, -1.5]");
}

TEST_CASE("anomaly mode: the first backward step that sends NaN or Inf raises") {
  Tensor w = xg::tensor({0.5, 2.0, 1.5}, param64).name("w");
  xg::AnomalyGuard anomaly;
  Tensor d = (w - 0.5).name("d");
  Tensor L = xg::sum(xg::sqrt(d)).name("L");  // finite forward: sqrt(0) = 0
  const std::string m = value_error([&] { L.backward(); });
  CHECK(m ==
        "anomaly: the backward of 'sqrt' (tape step 2, d/dx sqrt(x) = 1 / (2 sqrt(x))) sent inf at element "
        "[0] of the "
        "gradient for input 0, d [3] from 'sub' (step 1); the gradient of its output t2 was finite");
  CHECK_FALSE(w.grad().defined());  // the pass stopped before reaching the leaf
}

TEST_CASE("anomaly mode: a gradient that arrives already broken is reported where it became so") {
  Tensor a = xg::tensor({0.0, 1.0}, param64).name("a");
  xg::AnomalyGuard anomaly;
  Tensor L = xg::sum(xg::sqrt(a) * 2.0).name("L");
  const std::string m = value_error([&] { L.backward(); });
  CHECK(contains(m, "the backward of 'sqrt' (tape step 1"));
  CHECK(contains(m, "a [2] (a leaf)"));
}

TEST_CASE("anomaly mode off: nothing is checked, Inf flows into .grad") {
  REQUIRE_FALSE(xg::anomaly_enabled());
  Tensor w = xg::tensor({0.5, 2.0}, param64);
  Tensor L = xg::sum(xg::sqrt(w - 0.5));
  L.backward();
  CHECK(std::isinf(w.grad().to_vector<double>()[0]));
  Tensor bad = xg::log(xg::tensor({-1.0}, param64));  // NaN, no error
  CHECK(std::isnan(bad.item()));
  {
    xg::AnomalyGuard on;
    CHECK(xg::anomaly_enabled());
    xg::AnomalyGuard off(false);
    CHECK_FALSE(xg::anomaly_enabled());
    CHECK_NOTHROW(xg::log(xg::tensor({-1.0}, param64)));
  }
  CHECK_FALSE(xg::anomaly_enabled());
}

TEST_CASE("anomaly mode checks custom ops too") {
  const xg::CustomOp inv{"inv", "d/dx 1/x = -1/x^2",
                         [](const std::vector<Tensor>& in) { return 1.0 / in[0]; },
                         [](const xg::CustomOpContext& ctx, const Tensor& g) {
                           Tensor x = ctx.input(0);
                           return std::vector<Tensor>{-g / (x * x)};
                         }};
  xg::AnomalyGuard anomaly;
  const std::string m = value_error([&] { inv({xg::tensor({0.0}, param64).name("x")}); });
  CHECK(contains(m,
                 "anomaly: 'inv' (tape step 1) produced inf at element [0] of its output t1 [1]; its inputs: "
                 "x [1] (a leaf)"));
}

// ---------------------------------------------------------------- 5. the 2-2-1 network by hand
TEST_CASE(
    "backprop by hand: a 2-2-1 sigmoid network, hand formulas and autograd agree to 1e-12; SGD step too") {
  const double x[2] = {0.05, 0.10}, t = 0.01;
  double W1[2][2] = {{0.15, 0.20}, {0.25, 0.30}}, b1[2] = {0.35, 0.35}, W2[2] = {0.40, 0.45}, b2 = 0.60;
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  double h[2];
  for (int i = 0; i < 2; ++i) h[i] = sig(W1[i][0] * x[0] + W1[i][1] * x[1] + b1[i]);
  const double yhat = sig(W2[0] * h[0] + W2[1] * h[1] + b2);
  const double L = (yhat - t) * (yhat - t);
  const double delta2 = 2 * (yhat - t) * yhat * (1 - yhat);
  double delta1[2];
  for (int i = 0; i < 2; ++i) delta1[i] = W2[i] * delta2 * h[i] * (1 - h[i]);

  Tensor X = xg::tensor({x[0], x[1]}, {2, 1}, data64);
  Tensor tW1 = xg::tensor({0.15, 0.20, 0.25, 0.30}, {2, 2}, param64);
  Tensor tb1 = xg::tensor({0.35, 0.35}, {2, 1}, param64);
  Tensor tW2 = xg::tensor({0.40, 0.45}, {1, 2}, param64);
  Tensor tb2 = xg::tensor({0.60}, {1, 1}, param64);
  Tensor tL =
      xg::mean(xg::pow(xg::sigmoid(xg::matmul(tW2, xg::sigmoid(xg::matmul(tW1, X) + tb1)) + tb2) - t, 2.0));
  tL.backward();
  double worst = std::fabs(tL.item() - L);
  const std::vector<double> gW1 = tW1.grad().to_vector<double>(), gb1 = tb1.grad().to_vector<double>();
  const std::vector<double> gW2 = tW2.grad().to_vector<double>();
  for (int i = 0; i < 2; ++i) {
    worst = std::max(worst, std::fabs(gW2[i] - delta2 * h[i]));
    worst = std::max(worst, std::fabs(gb1[i] - delta1[i]));
    for (int j = 0; j < 2; ++j) worst = std::max(worst, std::fabs(gW1[2 * i + j] - delta1[i] * x[j]));
  }
  worst = std::max(worst, std::fabs(tb2.grad().item() - delta2));
  CHECK(worst <= 1e-12);
  CHECK(L == doctest::Approx(0.549622).epsilon(1e-6));  // the number the tutorial prints

  xg::optim::SGD sgd({tW1, tb1, tW2, tb2}, {.lr = 0.5});
  sgd.step();
  const std::vector<double> W1_after = tW1.to_vector<double>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      CHECK(std::fabs(W1_after[2 * i + j] - (W1[i][j] - 0.5 * delta1[i] * x[j])) <= 1e-12);
  CHECK(std::fabs(tb2.item() - (b2 - 0.5 * delta2)) <= 1e-12);
}

// ---------------------------------------------------------------- 6. gradcheck names the wrong input and
// element
TEST_CASE("gradcheck_demo: a missing chain-rule factor is reported at input 0, elements [1] and [2] only") {
  auto make = [](bool fixed) {
    return xg::CustomOp{"sin_of_product", "d/dx sin(w x) = w cos(w x)",
                        [](const std::vector<Tensor>& in) { return xg::sin(in[1] * in[0]); },
                        [fixed](const xg::CustomOpContext& ctx, const Tensor& g) {
                          Tensor x = ctx.input(0), w = ctx.input(1), c = xg::cos(w * x);
                          return std::vector<Tensor>{fixed ? g * w * c : g * c, g * x * c};
                        }};
  };
  Tensor x = xg::tensor({0.3, -1.2, 0.7}, param64), w = xg::tensor({1.0, 2.0, -0.5}, param64);
  const xg::CustomOp buggy = make(false), fixed = make(true);
  const xg::GradcheckReport bad =
      xg::gradcheck([&](const std::vector<Tensor>& in) { return buggy(in); }, {x, w});
  CHECK_FALSE(bad.passed);
  CHECK(bad.mismatch_count == 2);
  REQUIRE(bad.mismatches.size() == 2);
  for (const auto& m : bad.mismatches) {
    CHECK(m.input == 0);
    const int64_t i = m.input_index.at(0);
    CHECK((i == 1 || i == 2));
    const double wi = i == 1 ? 2.0 : -0.5, xi = i == 1 ? -1.2 : 0.7;
    CHECK(m.analytic == doctest::Approx(std::cos(wi * xi)).epsilon(1e-9));        // the factor w is missing
    CHECK(m.numerical == doctest::Approx(wi * std::cos(wi * xi)).epsilon(1e-6));  // the truth
  }
  CHECK(contains(bad.str(),
                 "input 0 element [2], output 0 element [2]: analytic 0.939373, numerical -0.469686"));
  CHECK(xg::gradcheck([&](const std::vector<Tensor>& in) { return fixed(in); }, {x, w}).passed);
}
