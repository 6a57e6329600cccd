#include "xgrad/autograd/ops/op_list.hpp"

namespace xg {

const std::vector<const OpInfo*>& all_ops() {
#define XG_OP_ADDRESS(n) &opdefs::n##_op,
  static const std::vector<const OpInfo*> ops = {XG_FOR_EACH_OP(XG_OP_ADDRESS)};
#undef XG_OP_ADDRESS
  return ops;
}

const OpInfo* find_op(std::string_view name) {
  for (const OpInfo* op : all_ops())
    if (name == op->name) return op;
  return nullptr;
}

}  // namespace xg
