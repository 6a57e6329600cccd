#pragma once
/// @file autograd.hpp
/// @brief xgrad's core in one include (`#include <xgrad/autograd.hpp>`): tensors, ops, backward
/// and grad, custom ops, gradcheck, function transforms, tensor files, the thread count. The
/// inspection tools (`<xgrad/autograd/tools/inspect.hpp>`) and xtensor interop
/// (`<xgrad/autograd/tools/xtensor_interop.hpp>`) are included on their own.
#include "xgrad/autograd/capture/capture.hpp"
#include "xgrad/autograd/kernels/threads.hpp"
#include "xgrad/autograd/ops/indexing.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/custom_op.hpp"
#include "xgrad/autograd/tape/engine.hpp"
#include "xgrad/autograd/tape/forward_ad.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"
#include "xgrad/autograd/tape/op_info.hpp"
#include "xgrad/autograd/tensor/error.hpp"
#include "xgrad/autograd/tensor/generator.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"
#include "xgrad/autograd/tools/functional.hpp"
#include "xgrad/autograd/tools/gradcheck.hpp"
#include "xgrad/autograd/tools/serialize.hpp"
