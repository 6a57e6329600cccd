#pragma once
/// @file nn.hpp
/// @brief Everything of xg::nn in one include (`#include <xgrad/nn.hpp>`): Module, the layers,
/// losses, the functional forms and the initialisers.
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/attention.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/gradient_flow.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/model_check.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/normalization.hpp"
#include "xgrad/nn/packed_sequence.hpp"
#include "xgrad/nn/pooling.hpp"
#include "xgrad/nn/regularization.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/nn/transformer.hpp"
#include "xgrad/nn/upsampling.hpp"
