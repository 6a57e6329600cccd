#pragma once
/// @file normalization.hpp
/// @brief Batch, layer, group and instance normalisation, as torch.nn.BatchNorm1d/2d/3d,
/// LayerNorm, GroupNorm and InstanceNorm1d/2d, and the functional group_norm / instance_norm.
/// All are composed of xg ops (mean, rsqrt, ...): their gradients are derived by autograd.
///
/// BatchNorm normalises each channel c over the batch and the spatial axes:
///   y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c
/// In training mode mean_c and var_c are the batch statistics (var biased: divided by n) and the
/// running statistics are updated in place, as PyTorch:
///   running_mean = (1 - momentum) running_mean + momentum mean_c
///   running_var  = (1 - momentum) running_var  + momentum var_c n / (n - 1)   (unbiased)
/// (momentum absent: a cumulative average, factor 1 / num_batches_tracked). In evaluation mode
/// the running statistics are used. Without track_running_stats there are no buffers and the
/// batch statistics are used in both modes.
///
/// @code
/// auto bn = std::make_shared<xg::nn::BatchNorm2d>(16);      // weight, bias [16]
/// xg::Tensor y = bn->forward(xg::randn({8, 16, 32, 32}));   // updates running_mean/var
/// bn->eval();                                               // now uses them
/// @endcode
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xgrad/nn/module.hpp"

namespace xg::nn {

/// Options of BatchNorm1d/2d/3d (PyTorch's defaults).
struct BatchNormOptions {
  double eps = 1e-5;
  /// Factor of the running-statistics update; nullopt gives a cumulative moving average.
  std::optional<double> momentum = 0.1;
  bool affine = true;               ///< learnable weight (ones) and bias (zeros) of shape [C]
  bool track_running_stats = true;  ///< buffers running_mean, running_var, num_batches_tracked
};

/// @brief What BatchNorm and InstanceNorm share: the affine weight [C] (ones) and bias [C]
/// (zeros), and the running statistics as buffers under PyTorch's names, checked when a state is
/// loaded (finite means; finite variances and counts >= 0).
class RunningStatsNorm : public Module {
 public:
  int64_t num_features() const { return num_features_; }

  Tensor weight, bias;                                    ///< undefined without affine
  Tensor running_mean, running_var, num_batches_tracked;  ///< undefined without track_running_stats

 protected:
  /// Checks num_features > 0, eps >= 0 and momentum in [0, 1] (nullopt: BatchNorm's cumulative
  /// average), naming the layer, and registers what affine and track_running_stats ask for.
  RunningStatsNorm(std::string type_name, int64_t num_features, double eps, std::optional<double> momentum,
                   bool affine, bool track_running_stats);
  int64_t num_features_;
};

/// @brief What BatchNorm1d/2d/3d and SyncBatchNorm share; they differ in the input ranks they
/// accept and in whether training statistics are those of this process's batch or of every
/// rank's (synchronized()). Parameters: weight [C], bias [C] (affine). Buffers: running_mean [C]
/// (zeros), running_var [C] (ones), num_batches_tracked [] (int64, 0).
class BatchNormBase : public RunningStatsNorm {
 public:
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  const BatchNormOptions& options() const { return options_; }
  /// Sets the running statistics back to mean 0, variance 1 and the counter to 0.
  void reset_running_stats();
  /// True for SyncBatchNorm and for a BatchNorm converted by convert_sync_batchnorm.
  bool synchronized() const { return sync_; }

 protected:
  BatchNormBase(std::string type_name, int64_t num_features, BatchNormOptions options,
                std::vector<int> ranks);
  /// A new M of this configuration, synchronized as this one (for clone_empty).
  template <class M>
  ModulePtr clone_same() const {
    auto m = std::make_shared<M>(num_features(), options());
    static_cast<BatchNormBase&>(*m).sync_ = sync_;
    return m;
  }
  bool sync_ = false;

 private:
  friend ModulePtr convert_sync_batchnorm(ModulePtr module);
  BatchNormOptions options_;
  std::vector<int> ranks_;  ///< the input ranks accepted, e.g. {2, 3} for BatchNorm1d
};

/// @brief Batch normalisation of [N, C] or [N, C, L] inputs (statistics over N, or N and L).
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {})
      : BatchNormBase("BatchNorm1d", num_features, options, {2, 3}) {}

 protected:
  ModulePtr clone_empty() const override { return clone_same<BatchNorm1d>(); }
};

/// @brief Batch normalisation of [N, C, H, W] inputs (statistics over N, H and W).
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {})
      : BatchNormBase("BatchNorm2d", num_features, options, {4}) {}

 protected:
  ModulePtr clone_empty() const override { return clone_same<BatchNorm2d>(); }
};

/// @brief Batch normalisation of [N, C, D, H, W] inputs (statistics over N, D, H and W).
class BatchNorm3d : public BatchNormBase {
 public:
  explicit BatchNorm3d(int64_t num_features, BatchNormOptions options = {})
      : BatchNormBase("BatchNorm3d", num_features, options, {5}) {}

 protected:
  ModulePtr clone_empty() const override { return clone_same<BatchNorm3d>(); }
};

/// @brief Batch normalisation over the global batch of data-parallel training (as
/// torch.nn.SyncBatchNorm), for inputs [N, C, *] of 2 to 5 axes. In training, the statistics of
/// channel c are those of every rank's batch together (xg::dist, nn/dist.hpp): each rank's mean,
/// sum of squared deviations and count are gathered in one message and combined, so the output
/// equals BatchNorm's over the ranks' concatenated batches; the gather is differentiable, so
/// backward all-reduces the gradients of these statistics and each rank's input gradient is that
/// of the sum of every rank's loss (as PyTorch's). The running statistics are updated with the
/// global mean and unbiased variance, the same on every rank. In evaluation, and without an
/// Environment or with one rank, it is BatchNorm (no communication). Every rank must call it in
/// the same order (a collective).
class SyncBatchNorm : public BatchNormBase {
 public:
  explicit SyncBatchNorm(int64_t num_features, BatchNormOptions options = {})
      : BatchNormBase("SyncBatchNorm", num_features, options, {2, 3, 4, 5}) {
    sync_ = true;
  }

 protected:
  ModulePtr clone_empty() const override { return clone_same<SyncBatchNorm>(); }
};

/// Makes every BatchNorm1d/2d/3d in `module` (itself included) take its training statistics over
/// the global batch, as SyncBatchNorm (PyTorch's SyncBatchNorm.convert_sync_batchnorm). The layers
/// are converted in place, not replaced: a C++ module calls its sub-modules through its own typed
/// members (`bn1->forward(h)`), which a replacement would not reach; so weights, buffers, an
/// optimizer's references and the type name stay, and synchronized() becomes true. Returns module.
ModulePtr convert_sync_batchnorm(ModulePtr module);

/// Options of LayerNorm (PyTorch's defaults).
struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  ///< learnable weight (ones) and bias of normalized_shape
  bool bias = true;                ///< with elementwise_affine: also a bias (zeros)
};

/// @brief Layer normalisation over the last axes (as torch.nn.LayerNorm):
///   y = (x - mean) / sqrt(var + eps) * weight + bias
/// with mean and (biased) var taken over the trailing axes given by normalized_shape, which the
/// input's trailing extents must equal. Parameters weight and bias have shape normalized_shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::vector<int64_t> normalized_shape, LayerNormOptions options = {});
  explicit LayerNorm(int64_t normalized_size, LayerNormOptions options = {})
      : LayerNorm(std::vector<int64_t>{normalized_size}, options) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  const std::vector<int64_t>& normalized_shape() const { return normalized_shape_; }
  const LayerNormOptions& options() const { return options_; }

  Tensor weight, bias;  ///< undefined without elementwise_affine (bias also without bias)

 private:
  std::vector<int64_t> normalized_shape_;
  LayerNormOptions options_;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<LayerNorm>(normalized_shape_, options_); }
};

/// Options of GroupNorm (PyTorch's defaults).
struct GroupNormOptions {
  double eps = 1e-5;
  bool affine = true;  ///< learnable per-channel weight (ones) and bias (zeros) of shape [C]
};

/// @brief Group normalisation (as torch.nn.GroupNorm): the C channels of x [N, C, *] are split
/// into num_groups groups of C / num_groups consecutive channels, and each (sample, group) is
/// normalised over its channels and spatial positions with the biased variance:
///   y = (x - mean_ng) / sqrt(var_ng + eps) * weight_c + bias_c
/// The same in training and evaluation (no running statistics).
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, GroupNormOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "2, 6, eps=1e-05, affine=true"

  int64_t num_groups() const { return num_groups_; }
  int64_t num_channels() const { return num_channels_; }
  const GroupNormOptions& options() const { return options_; }

  Tensor weight, bias;  ///< undefined without affine

 private:
  int64_t num_groups_, num_channels_;
  GroupNormOptions options_;

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<GroupNorm>(num_groups_, num_channels_, options_);
  }
};

/// Options of InstanceNorm1d/2d (PyTorch's defaults: no affine, no running statistics).
struct InstanceNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;  ///< factor of the running-statistics update
  bool affine = false;    ///< learnable weight (ones) and bias (zeros) of shape [C]
  /// buffers running_mean [C] (zeros), running_var [C] (ones) and num_batches_tracked (int64 0,
  /// never incremented, as PyTorch), used in evaluation mode
  bool track_running_stats = false;
};

/// @brief What InstanceNorm1d/2d share: each (sample, channel) of x [N, C, *] is normalised over
/// its spatial positions (biased variance), then scaled by weight_c and shifted by bias_c (affine).
/// With track_running_stats, training updates, per channel, running_mean with the batch average
/// of the instance means and running_var with that of the unbiased instance variances
/// (running = (1 - momentum) running + momentum batch_average), and evaluation normalises with
/// them. Unbatched inputs ([C, L] / [C, H, W]) are accepted. Without affine and running
/// statistics the channel count is not checked (PyTorch only warns).
class InstanceNormBase : public RunningStatsNorm {
 public:
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  ///< "3, eps=1e-05, momentum=0.1, affine=false, ..."

  const InstanceNormOptions& options() const { return options_; }

 protected:
  InstanceNormBase(std::string type_name, int64_t num_features, InstanceNormOptions options, int rank);

 private:
  InstanceNormOptions options_;
  int rank_;  ///< the batched input rank: 3 for InstanceNorm1d, 4 for InstanceNorm2d
};

/// @brief Instance normalisation of [N, C, L] (or unbatched [C, L]) inputs, over L.
class InstanceNorm1d : public InstanceNormBase {
 public:
  explicit InstanceNorm1d(int64_t num_features, InstanceNormOptions options = {})
      : InstanceNormBase("InstanceNorm1d", num_features, options, 3) {}

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<InstanceNorm1d>(num_features(), options());
  }
};

/// @brief Instance normalisation of [N, C, H, W] (or unbatched [C, H, W]) inputs, over H and W.
class InstanceNorm2d : public InstanceNormBase {
 public:
  explicit InstanceNorm2d(int64_t num_features, InstanceNormOptions options = {})
      : InstanceNormBase("InstanceNorm2d", num_features, options, 4) {}

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<InstanceNorm2d>(num_features(), options());
  }
};

}  // namespace xg::nn

namespace xg::nn::functional {

/// As torch.nn.functional.group_norm: x [N, C, *] normalised per sample over each of num_groups
/// groups of consecutive channels; weight and bias [C] (either may be undefined).
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

/// As torch.nn.functional.instance_norm: x [N, C, *] (at least one spatial axis). With
/// use_input_stats each (sample, channel) is normalised over its spatial positions, and defined
/// running_mean / running_var [C] are updated in place (see InstanceNormBase); otherwise the
/// running statistics normalise. weight and bias [C] (either may be undefined).
Tensor instance_norm(const Tensor& x, const Tensor& running_mean = Tensor(),
                     const Tensor& running_var = Tensor(), const Tensor& weight = Tensor(),
                     const Tensor& bias = Tensor(), bool use_input_stats = true, double momentum = 0.1,
                     double eps = 1e-5);

}  // namespace xg::nn::functional
