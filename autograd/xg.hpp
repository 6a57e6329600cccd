#pragma once
/// @file xg.hpp
/// @brief Everything of xgrad's autograd in one include: tensors, ops, backward and grad,
/// gradcheck, function transforms, custom ops.
#include "autograd/custom_op.hpp"
#include "autograd/engine.hpp"
#include "autograd/error.hpp"
#include "autograd/functional.hpp"
#include "autograd/grad_mode.hpp"
#include "autograd/gradcheck.hpp"
#include "autograd/node.hpp"
#include "autograd/op_info.hpp"
#include "autograd/ops.hpp"
#include "autograd/serialize.hpp"
#include "autograd/tensor.hpp"
