#pragma once
/// @file op_list.hpp
/// @brief The explicit list of every op, in one place (no static-initialisation registration).
/// Each name N has a definition `const OpInfo N_op` next to its kernel in an ops_*.cpp file.
/// To add an op: define it, then add it here; the test sweep picks it up.
#include "xgrad/autograd/tape/op_info.hpp"

#define XG_FOR_EACH_OP(X)                                                                          \
  /* element-wise, two operands */                                                                  \
  X(add) X(sub) X(mul) X(div) X(pow) X(pow_scalar) X(maximum) X(minimum) X(where)                  \
  /* element-wise, one operand */                                                                   \
  X(neg) X(exp) X(log) X(log1p) X(sqrt) X(rsqrt) X(abs) X(sign) X(sin) X(cos) X(tanh) X(sigmoid)   \
  X(erf) X(relu) X(leaky_relu) X(elu) X(gelu) X(silu) X(softplus) X(clamp) X(to) X(clone)          \
  /* comparisons */                                                                                 \
  X(eq) X(ne) X(lt) X(le) X(gt) X(ge)                                                              \
  /* reductions */                                                                                  \
  X(sum) X(mean) X(prod) X(max) X(min) X(var) X(std) X(norm) X(logsumexp) X(softmax)               \
  X(log_softmax) X(argmax) X(argmin)                                                               \
  /* linear algebra */                                                                              \
  X(matmul) X(matmul_t) X(linear) X(outer) X(dot)                                                            \
  /* shape */                                                                                       \
  X(reshape) X(flatten) X(squeeze) X(unsqueeze) X(permute) X(transpose) X(expand) X(sum_to)        \
  X(slice) X(slice_backward) X(narrow) X(concat) X(stack) X(split) X(chunk) X(index_select) X(index_add) X(gather)   \
  X(scatter_add) X(one_hot) X(pad)                                                                 \
  /* neural-network ops */                                                                          \
  X(conv2d) X(conv2d_input_grad) X(conv2d_weight_grad) X(conv1d) X(max_pool2d) X(max_pool2d_backward) \
  X(avg_pool2d) X(adaptive_avg_pool2d) X(avg_pool2d_backward) X(lstm_cell_c) X(lstm_cell_h)

namespace xg::opdefs {
#define XG_DECLARE_OP(n) extern const OpInfo n##_op;
XG_FOR_EACH_OP(XG_DECLARE_OP)
#undef XG_DECLARE_OP
}  // namespace xg::opdefs
