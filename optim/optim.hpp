#pragma once
/// @file optim.hpp
/// @brief Everything of xg::optim in one include: the optimizers (SGD, Adam, AdamW, Adamax, NAdam, RAdam,
/// RMSprop, Adagrad, Adadelta, ASGD, LBFGS), learning-rate schedulers and gradient clipping.
#include "xgrad/optim/adadelta.hpp"
#include "xgrad/optim/adagrad.hpp"
#include "xgrad/optim/adam.hpp"
#include "xgrad/optim/adamax.hpp"
#include "xgrad/optim/asgd.hpp"
#include "xgrad/optim/clip.hpp"
#include "xgrad/optim/lbfgs.hpp"
#include "xgrad/optim/nadam.hpp"
#include "xgrad/optim/optimizer.hpp"
#include "xgrad/optim/radam.hpp"
#include "xgrad/optim/rmsprop.hpp"
#include "xgrad/optim/scheduler.hpp"
#include "xgrad/optim/sgd.hpp"
