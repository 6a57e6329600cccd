#pragma once
/// @file optim.hpp
/// @brief Everything of xg::optim in one include: the optimizers (SGD, Adam, AdamW, RMSprop,
/// Adagrad, LBFGS), learning-rate schedulers and gradient clipping.
#include "optim/adagrad.hpp"
#include "optim/adam.hpp"
#include "optim/clip.hpp"
#include "optim/lbfgs.hpp"
#include "optim/optimizer.hpp"
#include "optim/rmsprop.hpp"
#include "optim/scheduler.hpp"
#include "optim/sgd.hpp"
