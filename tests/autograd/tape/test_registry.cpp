// The op sweep: every registered op is exercised on its samples. Differentiable ops pass
// gradcheck and gradgradcheck in float64; non-differentiable ops return tensors that never
// require grad. An op without samples fails here. XG_SHARD / XG_SHARDS split the list.
#include <doctest/doctest.h>

#include <cstdlib>
#include <set>

#include "xgrad/autograd.hpp"

namespace {
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}
}  // namespace

TEST_CASE("the registry lists each op once, with a formula") {
  std::set<std::string> names;
  for (const xg::OpInfo* op : xg::all_ops()) {
    CHECK_MESSAGE(names.insert(op->name).second, "duplicate op ", op->name);
    CHECK_MESSAGE(std::string(op->formula).size() > 5, op->name, " has no formula text");
  }
  CHECK(xg::all_ops().size() >= 60);
  CHECK(xg::find_op("tanh") != nullptr);
  CHECK(std::string(xg::find_op("tanh")->formula) == "d/dx tanh(x) = 1 - tanh(x)^2");
  CHECK(xg::find_op("no_such_op") == nullptr);
}

TEST_CASE("every registered op passes its checks on its samples") {
  const int shard = env_int("XG_SHARD", 0), shards = env_int("XG_SHARDS", 1);
  const auto& ops = xg::all_ops();
  int checked = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (static_cast<int>(i % static_cast<std::size_t>(shards)) != shard) continue;
    const xg::OpInfo& op = *ops[i];
    const std::string name = op.name;
    CAPTURE(name);
    REQUIRE_MESSAGE(static_cast<bool>(op.samples), "op '", op.name, "' is registered without sample inputs");
    const std::vector<xg::OpSample> samples = op.samples();
    REQUIRE_MESSAGE(!samples.empty(), "op '", op.name, "' has an empty sample list");
    for (const xg::OpSample& s : samples) {
      CAPTURE(s.label);
      std::vector<xg::Tensor> inputs = s.inputs;
      auto f = [&s](const std::vector<xg::Tensor>& in) { return s.call(in); };
      if (op.kind == xg::OpKind::non_differentiable) {
        xg::Tensor y = f(inputs);
        CHECK_FALSE(y.requires_grad());
        continue;
      }
      bool any = false;
      for (const auto& t : inputs) any = any || t.requires_grad();
      REQUIRE_MESSAGE(any, "a sample of differentiable op '", op.name, "' has no input requiring grad");
      xg::GradcheckOptions opt;
      if (s.eps > 0) opt.eps = s.eps;
      xg::GradcheckReport first = xg::gradcheck(f, inputs, opt);
      CHECK_MESSAGE(first.passed, first.str());
      CHECK(first.entries_checked >= 0);
      xg::GradcheckReport second = xg::gradgradcheck(f, inputs, opt);
      CHECK_MESSAGE(second.passed, second.str());
    }
    ++checked;
  }
  CHECK(checked > 0);
}
