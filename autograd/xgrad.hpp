#pragma once
/// @file xgrad.hpp
/// @brief All of xgrad in one include (`#include <xgrad/xgrad.hpp>`): the core (tensors, ops,
/// the tape and its tools), nn, optim and data. Each layer also has its own umbrella:
/// `<xgrad/autograd.hpp>`, `<xgrad/nn.hpp>`, `<xgrad/optim.hpp>`, `<xgrad/data.hpp>`.
/// This index is the one file under autograd/ that names the layers above it; no code here
/// depends on them (tests/check_layering.py checks both).
#include "xgrad/autograd.hpp"
#include "xgrad/data.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/optim.hpp"
