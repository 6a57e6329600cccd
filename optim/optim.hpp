#pragma once
/// @file optim.hpp
/// @brief Everything of xg::optim in one include: the optimizers (SGD, Adam, AdamW, Adamax, RMSprop,
/// Adagrad, LBFGS), learning-rate schedulers and gradient clipping.
#include "xgrad/optim/adagrad.hpp"
#include "xgrad/optim/adam.hpp"
#include "xgrad/optim/adamax.hpp"
#include "xgrad/optim/clip.hpp"
#include "xgrad/optim/lbfgs.hpp"
#include "xgrad/optim/optimizer.hpp"
#include "xgrad/optim/rmsprop.hpp"
#include "xgrad/optim/scheduler.hpp"
#include "xgrad/optim/sgd.hpp"
