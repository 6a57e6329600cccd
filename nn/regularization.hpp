#pragma once
/// @file regularization.hpp
/// @brief What fights overfitting in a training loop: L1 and L2 penalties over a module's
/// parameters (added to the loss), and early stopping on a validation metric that keeps the best
/// state dict.
///
/// @code
/// xg::nn::EarlyStopping stopper({.patience = 5});
/// for (int epoch = 1; epoch <= 100; ++epoch) {
///   train_one_epoch(model);  // each batch: loss = criterion(model(x), y) + 1e-4 * l2_penalty(model)
///   if (stopper.step(validation_loss(model), &model)) break;
/// }
/// stopper.restore_best(model);
/// @endcode
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "xgrad/nn/module.hpp"

namespace xg::nn {

/// Which parameters a penalty sums over. By default the weights only: a bias (a parameter named
/// "bias", "bias_*" or "*_bias") only shifts, and the weight and bias of a normalisation layer
/// (a module whose type name holds "Norm": BatchNorm*, LayerNorm, GroupNorm, InstanceNorm*) set
/// a scale that the penalty should not pull to zero.
struct PenaltyOptions {
  bool include_bias = false;
  bool include_norm = false;
};

/// The names (from named_parameters()) of the parameters that l1_penalty/l2_penalty sum over.
std::vector<std::string> penalized_parameters(Module& module, PenaltyOptions options = {});
/// sum |p| over the chosen parameters: a differentiable scalar (of the parameters' dtype) to add to
/// the loss with a coefficient; 0 when no parameter is chosen.
Tensor l1_penalty(Module& module, PenaltyOptions options = {});
/// sum p^2 over the chosen parameters (no factor 1/2: its gradient is 2p, so lambda * l2_penalty
/// in the loss is SGD's weight_decay = 2 * lambda).
Tensor l2_penalty(Module& module, PenaltyOptions options = {});

struct EarlyStoppingOptions {
  int64_t patience = 10;     ///< epochs without improvement tolerated before stopping
  double min_delta = 0;      ///< an improvement must beat the best by more than this
  std::string mode = "min";  ///< "min" (a loss) or "max" (an accuracy)
};

/// Stops training when a validation metric has not improved for `patience` steps, as Keras's
/// EarlyStopping(monitor, min_delta, patience, mode, restore_best_weights): a value improves when
/// it is below best - min_delta ("min") or above best + min_delta ("max"); a NaN never does.
/// Given the model, step() keeps a copy of its state dict at the best value, which
/// restore_best() loads back.
class EarlyStopping {
 public:
  /// ValueError for a mode other than "min"/"max", a negative patience or min_delta.
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  /// Records one value (usually once per epoch); true when training should stop: `patience`
  /// values in a row did not improve. With `model`, a new best copies its state_dict().
  bool step(double metric, const Module* model = nullptr);
  /// Loads the best state kept into `model`; false (and nothing changed) when none was kept.
  bool restore_best(Module& model) const;
  bool should_stop() const { return stop_; }
  bool improved() const { return improved_; }  ///< the last step's value was a new best
  double best() const { return best_; }
  int64_t best_step() const { return best_step_; }  ///< 1-based; 0 before any improvement
  int64_t steps() const { return steps_; }
  int64_t bad_steps() const { return bad_; }  ///< steps since the best
  const NamedTensors& best_state() const { return best_state_; }
  const EarlyStoppingOptions& options() const { return options_; }

 private:
  EarlyStoppingOptions options_;
  double best_;
  int64_t best_step_ = 0, steps_ = 0, bad_ = 0;
  bool stop_ = false, improved_ = false;
  NamedTensors best_state_;
};

}  // namespace xg::nn
