// The op sweep: every registered op is exercised on its samples. Differentiable ops pass
// gradcheck and gradgradcheck in float64; non-differentiable ops return tensors that never
// require grad; each op's kind is what its recording shows; the first-order and create_graph
// backward agree; an op's chain-rule explanation reproduces its backward's numbers. An op
// without samples fails here, and so does a public op function without an XG_OP block.
// XG_SHARD / XG_SHARDS split the list.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/autograd/tools/inspect.hpp"

namespace {
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

bool in_shard(std::size_t i) {
  const int shard = env_int("XG_SHARD", 0), shards = env_int("XG_SHARDS", 1);
  return static_cast<int>(i % static_cast<std::size_t>(shards)) == shard;
}

// The nodes y's graph holds (its tape).
std::set<const xg::OpInfo*> ops_recorded(const xg::Tensor& y) {
  std::set<const xg::OpInfo*> ops;
  for (const auto& n : xg::tape_of(y)) ops.insert(&n->info());
  return ops;
}

bool every_op(const xg::OpInfo&) {
  return true;
}

// Calls check(op, sample) for every sample of every op of this shard that `wanted` accepts, with
// the op's name and the sample's label captured for failure messages; returns the ops visited.
// An op registered without samples, or with none, fails here.
template <class Wanted, class Check>
int for_each_sample(Wanted wanted, Check check) {
  const auto& ops = xg::all_ops();
  int visited = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (!in_shard(i) || !wanted(*ops[i])) continue;
    const xg::OpInfo& op = *ops[i];
    const std::string name = op.name;
    CAPTURE(name);
    REQUIRE_MESSAGE(static_cast<bool>(op.samples), "op '", op.name, "' is registered without sample inputs");
    const std::vector<xg::OpSample> samples = op.samples();
    REQUIRE_MESSAGE(!samples.empty(), "op '", op.name, "' has an empty sample list");
    for (const xg::OpSample& s : samples) {
      CAPTURE(s.label);
      check(op, s);
    }
    ++visited;
  }
  return visited;
}

// A gradient for y with values that tell elements apart (all ones would hide a transposition).
xg::Tensor upstream_for(const xg::Tensor& y) {
  std::vector<double> v(static_cast<std::size_t>(y.numel()));
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = 0.5 + 0.25 * static_cast<double>(i % 7) - 0.1 * static_cast<double>(i % 3);
  return xg::tensor(v, y.shape(), {.dtype = y.dtype()});
}

// Public functions that are other names of a registered op, or not ops at all. A new public
// function that is neither registered nor listed here fails "every public op is registered".
const std::map<std::string, std::string> kNotOpsOrAliases = {
    {"view", "reshape"},
    {"cat", "concat"},
    {"t", "transpose"},
    {"max_pool2d_with_indices", "max_pool2d"},
    {"max_pool1d_with_indices", "max_pool1d"},
    {"adaptive_max_pool2d_with_indices", "adaptive_max_pool2d"},
    {"adaptive_max_pool1d_with_indices", "adaptive_max_pool1d"},
};

// Ops whose gradient is a kernel that is not differentiable again, as PyTorch's own: the sweep
// gradchecks them but does not gradgradcheck them, and checks that a second backward through
// them raises instead of returning a derivative with a term missing. Keep this list short.
const std::map<std::string, std::string> kOnceDifferentiable = {
    {"ctc_loss",
     "the alpha-beta gradient is one kernel; PyTorch's ctc_loss backward has no derivative either"},
};
bool once_differentiable(const xg::OpInfo& op) {
  return kOnceDifferentiable.count(op.name) == 1;
}
}  // namespace

TEST_CASE("every public op is registered: ops.hpp declares no function without an XG_OP block") {
  const std::string path = std::string(XG_SOURCE_ROOT) + "/autograd/ops/ops.hpp";
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot read ", path);
  std::stringstream text;
  text << f.rdbuf();
  const std::string src = text.str();
  // Declarations at the start of a line: `Tensor tanh(`, `std::vector<Tensor> split(`, ...
  const std::regex decl(R"(^(?:inline )?(?:Tensor|std::[\w:<>, ]+|int|void|bool) ([a-z_0-9]+)\()",
                        std::regex::multiline);
  std::set<std::string> declared;
  for (auto it = std::sregex_iterator(src.begin(), src.end(), decl); it != std::sregex_iterator(); ++it)
    declared.insert((*it)[1]);
  CHECK(declared.size() >= 80);
  CHECK(declared.count("tanh") == 1);
  CHECK(declared.count("split") == 1);
  for (const std::string& name : declared) {
    CAPTURE(name);
    auto alias = kNotOpsOrAliases.find(name);
    if (alias != kNotOpsOrAliases.end()) {
      if (alias->second != "(not an op)")
        CHECK_MESSAGE(xg::find_op(alias->second) != nullptr, name, " is listed as another name of ",
                      alias->second);
      continue;
    }
    CHECK_MESSAGE(xg::find_op(name) != nullptr, "ops.hpp declares '", name,
                  "' but no XG_OP block defines it: define the op with XG_OP (autograd/tape/op_info.hpp), "
                  "or list it in kNotOpsOrAliases if it is another name of an op");
  }
}

TEST_CASE("the registry lists each op once, with a formula") {
  std::set<std::string> names;
  for (const xg::OpInfo* op : xg::all_ops()) {
    CHECK_MESSAGE(names.insert(op->name).second, "duplicate op ", op->name);
    CHECK_MESSAGE(std::string(op->formula).size() > 5, op->name, " has no formula text");
  }
  CHECK(xg::all_ops().size() >= 88);
  CHECK(xg::find_op("expm1") != nullptr);
  CHECK(xg::find_op("tanh") != nullptr);
  CHECK(std::string(xg::find_op("tanh")->formula) == "d/dx tanh(x) = 1 - tanh(x)^2");
  CHECK(xg::find_op("no_such_op") == nullptr);
}

TEST_CASE("every registered op passes its checks on its samples") {
  const int checked = for_each_sample(every_op, [](const xg::OpInfo& op, const xg::OpSample& s) {
    std::vector<xg::Tensor> inputs = s.inputs;
    auto f = [&s](const std::vector<xg::Tensor>& in) { return s.call(in); };
    if (op.kind == xg::OpKind::non_differentiable) {
      CHECK_FALSE(f(inputs).requires_grad());
      return;
    }
    bool any = false;
    for (const auto& t : inputs) any = any || t.requires_grad();
    REQUIRE_MESSAGE(any, "a sample of differentiable op '", op.name, "' has no input requiring grad");
    xg::GradcheckOptions opt;
    if (s.eps > 0) opt.eps = s.eps;
    xg::GradcheckReport first = xg::gradcheck(f, inputs, opt);
    CHECK_MESSAGE(first.passed, first.str());
    if (once_differentiable(op)) return;  // see kOnceDifferentiable; its own test case below
    xg::GradcheckReport second = xg::gradgradcheck(f, inputs, opt);
    CHECK_MESSAGE(second.passed, second.str());
  });
  CHECK(checked > 0);
}

TEST_CASE("a once-differentiable op raises on a second backward through its gradient") {
  int raised = 0;
  for (const auto& entry : kOnceDifferentiable) {
    const std::string& name = entry.first;  // not a structured binding: clang 14 cannot capture one
    CAPTURE(name);
    const xg::OpInfo* op = xg::find_op(name);
    REQUIRE_MESSAGE(op != nullptr, "kOnceDifferentiable lists ", name, ", which is not a registered op");
    for (const xg::OpSample& s : op->samples()) {
      CAPTURE(s.label);
      std::vector<xg::Tensor> wrt;
      for (const auto& t : s.inputs)
        if (t.requires_grad()) wrt.push_back(t);
      const xg::Tensor y = s.call(s.inputs);
      const auto g = xg::grad({y}, wrt, {upstream_for(y)}, true, true, true);
      REQUIRE(g[0].requires_grad());
      CHECK_THROWS_AS(xg::grad({xg::sum(g[0] * g[0])}, wrt, {}, false, false, true), xg::ValueError);
      ++raised;
    }
  }
  CHECK(raised > 0);
}

TEST_CASE("an op's kind is what its recording shows") {
  const int checked = for_each_sample(every_op, [](const xg::OpInfo& op, const xg::OpSample& s) {
    const xg::Tensor y = s.call(s.inputs);
    if (op.kind == xg::OpKind::non_differentiable) {
      CHECK_FALSE(y.requires_grad());
      return;
    }
    REQUIRE(y.requires_grad());
    const bool records_itself = ops_recorded(y).count(&op) == 1;
    if (op.kind == xg::OpKind::primitive)
      CHECK_MESSAGE(records_itself, "primitive '", op.name, "' recorded no node of its own");
    else
      CHECK_MESSAGE(!records_itself, "composite '", op.name,
                    "' recorded a node of its own: it is a primitive");
  });
  CHECK(checked > 0);
}

// A composite's ops are recorded in its call scope (XG_COMPOSITE_SCOPE at the top of its
// function), so that the tools can show them as one step: a composite that forgets it fails here.
TEST_CASE("a composite op records its ops in a scope named after it") {
  const int checked =
      for_each_sample([](const xg::OpInfo& op) { return op.kind == xg::OpKind::composite; },
                      [](const xg::OpInfo& op, const xg::OpSample& s) {
                        std::set<const xg::Node*> before;  // the nodes the inputs already had
                        for (const xg::Tensor& in : s.inputs)
                          if (in.defined())
                            for (const auto& n : xg::tape_of(in)) before.insert(n.get());
                        const xg::Tensor y = s.call(s.inputs);
                        int fresh = 0, inside = 0;
                        for (const auto& n : xg::tape_of(y)) {
                          if (before.count(n.get())) continue;
                          ++fresh;
                          for (xg::ScopeId sc = n->scope(); sc; sc = xg::scope_info(sc).parent) {
                            const xg::ScopeInfo info = xg::scope_info(sc);
                            if (info.composite && info.name == op.name) {
                              ++inside;
                              break;
                            }
                          }
                        }
                        // (a sample may also record ops of its own around the op's call)
                        if (fresh)
                          CHECK_MESSAGE(inside > 0, "composite '", std::string(op.name), "' recorded ", fresh,
                                        " nodes, none in a scope of its name: XG_COMPOSITE_SCOPE missing");
                        CHECK(xg::current_scope() == 0);  // restored
                      });
  CHECK(checked > 0);
}

TEST_CASE("the first-order backward and the create_graph backward agree") {
  // Fused ops have a fast first-order backward and a differentiable one for create_graph:
  // gradcheck tests the first, gradgradcheck the second; here they must give the same numbers.
  int compared = 0;
  auto primitive = [](const xg::OpInfo& op) { return op.kind == xg::OpKind::primitive; };
  for_each_sample(primitive, [&compared](const xg::OpInfo&, const xg::OpSample& s) {
    std::vector<xg::Tensor> wrt;
    for (const auto& t : s.inputs)
      if (t.requires_grad()) wrt.push_back(t);
    const xg::Tensor y1 = s.call(s.inputs), y2 = s.call(s.inputs);
    const auto g1 = xg::grad({y1}, wrt, {upstream_for(y1)}, false, false, true);
    const auto g2 = xg::grad({y2}, wrt, {upstream_for(y2)}, true, true, true);
    REQUIRE(g1.size() == g2.size());
    for (std::size_t k = 0; k < g1.size(); ++k) {
      CAPTURE(k);
      REQUIRE(g1[k].defined() == g2[k].defined());
      if (!g1[k].defined()) continue;
      REQUIRE(g1[k].shape() == g2[k].shape());
      CHECK(xg_test::max_abs(g1[k] - g2[k]) <= 1e-12);
      ++compared;
    }
  });
  CHECK(compared > 0);
}

TEST_CASE("an op's chain-rule explanation reproduces the gradient its backward sent") {
  int lines = 0, locals = 0;
  auto explained = [](const xg::OpInfo& op) { return op.explain != nullptr; };
  const int explained_ops = for_each_sample(explained, [&lines, &locals](const xg::OpInfo& op,
                                                                         const xg::OpSample& s) {
    REQUIRE_MESSAGE(op.kind == xg::OpKind::primitive,
                    "only a primitive's node is on the tape to be explained");
    xg::InspectGuard keep_values;
    const xg::Tensor y = s.call(s.inputs);
    const xg::BackwardTrace trace = xg::backward_trace(y, upstream_for(y));
    int steps_of_op = 0;
    for (const xg::BackwardStep& step : trace.steps) {
      if (&step.node->info() != &op) continue;
      ++steps_of_op;
      for (std::size_t k = 0; k < step.grad_inputs.size(); ++k) {
        if (!step.grad_inputs[k].defined()) continue;
        CAPTURE(k);
        const auto line = step.explanation(k);
        CHECK_MESSAGE(line.has_value(), "not reproduced: ", step.chain_rule(k));
        if (line) {
          CHECK(line->expr.find("d" + trace.root + "/d") != std::string::npos);
          if (line->local.defined()) {  // the local derivative the explorer shows: up * local is the gradient
            xg::NoGradGuard no_grad;
            const xg::Tensor product =
                xg::sum_to(step.grad_output * line->local, step.grad_inputs[k].shape());
            xg_test::check_close(product.to_vector<double>(), step.grad_inputs[k].to_vector<double>(), 1e-9);
            ++locals;
          }
          ++lines;
        }
      }
    }
    CHECK(steps_of_op >= 1);
  });
  if (explained_ops) CHECK(lines > 0);
  if (explained_ops) CHECK(locals > 0);
}

TEST_CASE("a chain-rule line shows the op's own numbers") {
  xg::InspectGuard keep_values;
  xg::Tensor x = xg::tensor({0.5, -1.0}, {2}, {.dtype = xg::Dtype::float64, .requires_grad = true}).name("x");
  xg::Tensor y = xg::pow(x, 3.0).name("y");
  xg::Tensor L = xg::sum(y);
  const xg::BackwardTrace trace = xg::backward_trace(L);
  const xg::BackwardStep* pow_step = trace.find(1);
  REQUIRE(pow_step != nullptr);
  CHECK(pow_step->op == "pow_scalar");
  // d/dx x^3 = 3 x^2: [0.75, 3]; the exponent comes from the node, not from the values.
  CHECK(pow_step->chain_rule(0) == "dL/dx = dL/dy * (3 x^2) = [1, 1] * [0.75, 3] = [0.75, 3]");
  xg::Tensor z = xg::expm1(x).name("z");
  const xg::BackwardTrace t2 = xg::backward_trace(xg::sum(z));
  CHECK(t2.find(1)->chain_rule(0) == "dL/dx = dL/dz * (z + 1) = [1, 1] * [1.649, 0.3679] = [1.649, 0.3679]");
}

// ---------------------------------------------------------------- forward mode
namespace {
// Ops that have no JVP rule yet (their own, or, for a composite, that of a primitive it calls):
// a dual input throws "has no JVP rule". The sweep checks every other op's JVP, and fails when
// an op listed here has gained one (so that the list only shrinks).
const std::set<std::string> kMissingJvp = {};  // every op has one now: keep it empty

// A deterministic random direction for input i of a sample.
xg::Tensor direction(const xg::Tensor& like, uint64_t seed) {
  xg::Generator gen(seed);
  return xg::randn(like.shape(), {.dtype = like.dtype()}, &gen);
}
double inner(const xg::Tensor& a, const xg::Tensor& b) {
  xg::NoGradGuard off;
  return a.numel() ? xg::sum(a.to(xg::Dtype::float64) * b.to(xg::Dtype::float64)).item() : 0.0;
}
// "op 'X' has no JVP rule", or another forward-mode refusal (an in-place update of a dual).
bool is_missing_rule(const xg::Error& e) {
  return std::string(e.what()).find("forward-mode AD") != std::string::npos;
}
}  // namespace

TEST_CASE("forward mode: every op's JVP agrees with finite differences and with its VJP") {
  auto differentiable = [](const xg::OpInfo& op) { return op.kind != xg::OpKind::non_differentiable; };
  std::map<std::string, bool> listed_seen_missing;
  int compared = 0;
  uint64_t seed = 1;
  for_each_sample(differentiable, [&](const xg::OpInfo& op, const xg::OpSample& s) {
    const std::string name = op.name;
    const bool listed = kMissingJvp.count(name) == 1;
    for (std::size_t i = 0; i < s.inputs.size(); ++i) {
      if (!s.inputs[i].requires_grad()) continue;
      CAPTURE(i);
      const xg::Tensor v = direction(s.inputs[i], seed++);
      // J_i v by one forward pass with input i dual
      xg::Tensor y, jv;
      bool missing = false;
      try {
        // (inputs detached: the rule runs in grad mode but records nothing, as for a dual not requiring grad)
        xg::forward_ad::DualLevel level;
        std::vector<xg::Tensor> in;
        for (const xg::Tensor& t : s.inputs) in.push_back(t.defined() ? t.detach() : t);
        in[i] = xg::forward_ad::make_dual(in[i], v);
        y = s.call(in);
        jv = xg::forward_ad::unpack_dual(y).tangent;
      } catch (const xg::Error& e) {
        if (!is_missing_rule(e)) {
          FAIL_CHECK("op '", name, "' sample '", s.label, "' input ", i,
                     ": the dual pass threw: ", std::string(e.what()));
          continue;
        }
        missing = true;
        if (!listed)
          FAIL_CHECK("op '", name, "' sample '", s.label, "' input ", i, ": ", std::string(e.what()),
                     " (write its rule, or list it in kMissingJvp)");
      }
      if (listed) {
        listed_seen_missing[name] = listed_seen_missing[name] || missing;
        continue;
      }
      if (missing) continue;
      if (!jv.defined()) jv = xg::zeros_like(y);
      REQUIRE(jv.shape() == y.shape());
      try {
        // (a) central finite differences along v
        const double eps = s.eps > 0 ? s.eps : 1e-6;
        xg::Tensor fd;
        {  // (grad mode stays on: some samples call xg::grad themselves)
          std::vector<xg::Tensor> plus = s.inputs, minus = s.inputs;
          plus[i] = s.inputs[i].detach() + eps * v;
          minus[i] = s.inputs[i].detach() - eps * v;
          fd = (s.call(plus).to(xg::Dtype::float64) - s.call(minus).to(xg::Dtype::float64)) / (2 * eps);
        }
        const double scale = y.numel() ? xg_test::max_abs(fd) : 0.0;
        CHECK_MESSAGE(xg_test::max_abs(fd - jv.to(xg::Dtype::float64)) <= 1e-5 + 1e-3 * scale, "op '", name,
                      "' sample '", s.label, "' input ", i, ": JVP ", jv, " vs finite differences ", fd);
        // (b) <u, J v> = <J^T u, v> with the engine's VJP
        const xg::Tensor u = direction(y, seed++);
        const xg::Tensor y2 = s.call(s.inputs);
        const xg::Tensor gi = xg::grad({y2}, {s.inputs[i]}, {u}, false, false, true)[0];
        const double lhs = inner(u, jv), rhs = gi.defined() ? inner(gi, v) : 0.0;
        // (samples with their own step round through float32: a float32 tolerance)
        const double tol = s.eps > 0 ? 1e-5 : 1e-9;
        CHECK_MESSAGE(std::abs(lhs - rhs) <= tol * (1 + std::abs(lhs)), "op '", name, "' sample '", s.label,
                      "' input ", i, ": <u, J v> = ", lhs, " but <J^T u, v> = ", rhs);
        ++compared;
      } catch (const xg::Error& e) {
        FAIL_CHECK("op '", name, "' sample '", s.label, "' input ", i,
                   ": the check threw: ", std::string(e.what()));
      }
    }
  });
  for (const auto& entry : listed_seen_missing)  // no structured binding: clang 14's CHECK_MESSAGE
    CHECK_MESSAGE(entry.second, "op '", entry.first,
                  "' is in kMissingJvp but has a JVP rule now: remove it from the list");
  for (const std::string& name : kMissingJvp)
    CHECK_MESSAGE(xg::find_op(name) != nullptr, "kMissingJvp lists '", name, "', which is not an op");
  MESSAGE("forward mode: ", compared, " JVPs compared; ", kMissingJvp.size(), " ops without a JVP rule");
  CHECK(compared > 0);
}
