// The op registry: every XG_OP block puts the address of its OpInfo into the linker section
// xg_op_registry; the linker brackets the section with __start_/__stop_ symbols. Constant data
// only, so nothing depends on the order of static initialisation.
#include <algorithm>

#include "xgrad/autograd/tape/op_info.hpp"

extern "C" {
// Defined by the linker for every section whose name is a C identifier.
extern const xg::OpInfo* const __start_xg_op_registry[];  // NOLINT(bugprone-reserved-identifier)
extern const xg::OpInfo* const __stop_xg_op_registry[];   // NOLINT(bugprone-reserved-identifier)
}

namespace xg {

const std::vector<const OpInfo*>& all_ops() {
  static const std::vector<const OpInfo*> ops(__start_xg_op_registry, __stop_xg_op_registry);
  return ops;
}

const OpInfo* find_op(std::string_view name) {
  const auto& ops = all_ops();
  auto it = std::find_if(ops.begin(), ops.end(), [&](const OpInfo* op) { return name == op->name; });
  return it == ops.end() ? nullptr : *it;
}

}  // namespace xg
