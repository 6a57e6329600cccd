#include "xgrad/nn/normalization.hpp"

#include <algorithm>
#include <sstream>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/scope.hpp"
#include "xgrad/config.hpp"
#if XGRAD_HAS_MPI
#include "xgrad/nn/dist.hpp"
#endif

namespace xg::nn {

namespace {
std::string ranks_str(const std::vector<int>& ranks) {
  std::string s;
  for (std::size_t i = 0; i < ranks.size(); ++i) s += (i ? " or " : "") + std::to_string(ranks[i]) + "-D";
  return s;
}
std::string dims_str(const std::vector<int64_t>& d) {
  return Shape(d).str();
}

// Every rank's row of per-rank statistics, [ranks, K] (one rank: this one's alone).
Tensor gather_ranks(const Tensor& row) {
#if XGRAD_HAS_MPI
  if (dist::initialized() && dist::world_size() > 1) return dist::functional::all_gather(row);
#endif
  return unsqueeze(row, 0);
}

// SyncBatchNorm's statistics: the mean and biased variance [C] of every rank's batch together,
// and the number of values per channel they cover. Each rank sends its mean, its sum of squared
// deviations and its count; they combine as a parallel variance (sum of the ranks' squared
// deviations plus count * (rank mean - mean)^2), without the cancellation of a sum of squares.
// With one rank: the mean itself and the sum of squared deviations / n, as BatchNorm's.
struct GlobalStats {
  Tensor mean, var;
  int64_t count;
};
GlobalStats global_batch_stats(const Tensor& x, const Axes& axes, const Shape& channel_shape, int64_t c) {
  const int64_t n = x.numel() / c;
  Tensor m, m2;
  if (n > 0) {
    m = mean(x, axes);
    const Tensor d = x - reshape(m, channel_shape);
    m2 = sum(d * d, axes);
  } else {  // an empty shard on this rank: it adds nothing
    m = zeros({c}, {.dtype = x.dtype()});
    m2 = zeros({c}, {.dtype = x.dtype()});
  }
  const Tensor g = gather_ranks(cat({m, m2, full({1}, static_cast<double>(n), {.dtype = x.dtype()})}));
  const Tensor counts = narrow(g, 1, 2 * c, 1).detach();  // [ranks, 1]
  int64_t total = 0;
  for (double k : counts.to(Dtype::float64).to_vector<double>()) total += static_cast<int64_t>(k);
  if (total == 0) return {zeros({c}, {.dtype = x.dtype()}), zeros({c}, {.dtype = x.dtype()}), 0};
  const Tensor means = narrow(g, 1, 0, c), m2s = narrow(g, 1, c, c);
  const Tensor mu = sum(means * (counts / static_cast<double>(total)), {0});
  const Tensor dev = means - mu;
  const Tensor var = sum(m2s + counts * (dev * dev), {0}) / static_cast<double>(total);
  return {mu, var, total};
}
}  // namespace

RunningStatsNorm::RunningStatsNorm(std::string type_name, int64_t num_features, double eps,
                                   std::optional<double> momentum, bool affine, bool track_running_stats)
    : Module(std::move(type_name)), num_features_(num_features) {
  if (num_features <= 0)
    throw ValueError(this->type_name() + ": num_features must be positive, got " +
                     std::to_string(num_features));
  if (eps < 0) throw ValueError(this->type_name() + ": eps must be non-negative");
  if (momentum && (*momentum < 0 || *momentum > 1))
    throw ValueError(this->type_name() + ": momentum must lie in [0, 1], got " + std::to_string(*momentum));
  if (affine) {
    weight = register_parameter("weight", ones({num_features}));
    bias = register_parameter("bias", zeros({num_features}));
  }
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}), true, BufferValues::finite);
    running_var =
        register_buffer("running_var", ones({num_features}), true, BufferValues::finite_non_negative);
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = Dtype::int64}), true,
                                          BufferValues::finite_non_negative);
  }
}

BatchNormBase::BatchNormBase(std::string type_name, int64_t num_features, BatchNormOptions options,
                             std::vector<int> ranks)
    : RunningStatsNorm(std::move(type_name), num_features, options.eps, options.momentum, options.affine,
                       options.track_running_stats),
      options_(options),
      ranks_(std::move(ranks)) {}

void BatchNormBase::reset_running_stats() {
  if (!options_.track_running_stats) return;
  NoGradGuard guard;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

Tensor BatchNormBase::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  const std::string& name = type_name();
  if (!x.defined()) throw ValueError(name + ": the input is undefined");
  if (std::find(ranks_.begin(), ranks_.end(), x.dim()) == ranks_.end())
    throw ShapeError(name + ": expected a " + ranks_str(ranks_) + " input [N, C, ...], got " +
                     x.shape().str());
  if (x.size(1) != num_features_)
    throw ShapeError(name + ": input has " + std::to_string(x.size(1)) +
                     " channels (axis 1), expected num_features " + std::to_string(num_features_) +
                     ": input " + x.shape().str());
  if (!x.is_floating_point()) throw TypeError(name + ": expected a float input, got int64");

  // Statistics over every axis but the channel axis; per-channel tensors are shaped [1, C, 1, ...]
  // so that they broadcast against x.
  Axes axes{0};
  Shape channel_shape{1, num_features_};
  for (int a = 2; a < x.dim(); ++a) {
    axes.push_back(a);
    channel_shape.push_back(1);
  }
  const int64_t n = x.numel() / num_features_;  // values per channel

  const bool use_batch_stats = is_training() || !options_.track_running_stats;
  Tensor y;
  if (use_batch_stats) {
    Tensor mu, d, v;
    int64_t covered = n;           // values per channel the statistics cover
    if (sync_ && is_training()) {  // every rank's batch (each rank reaches this check alike)
      GlobalStats s = global_batch_stats(x, axes, channel_shape, num_features_);
      covered = s.count;
      if (covered <= 1)
        throw ValueError(name + ": expected more than 1 value per channel when training, got " +
                         std::to_string(covered) + " over the ranks' batches (this rank's input " +
                         x.shape().str() + ")");
      mu = reshape(s.mean, channel_shape);
      v = reshape(s.var, channel_shape);
    } else {
      if (is_training() && n <= 1)
        throw ValueError(name + ": expected more than 1 value per channel when training, got input " +
                         x.shape().str());
      mu = mean(x, axes, true);
      d = x - mu;
      v = mean(d * d, axes, true);  // biased variance normalises, as PyTorch
    }
    if (!d.defined()) d = x - mu;
    y = d * rsqrt(v + options_.eps);
    if (is_training() && options_.track_running_stats) {
      NoGradGuard guard;
      auto count_batch = [this] {
        const int64_t c = num_batches_tracked.item<int64_t>() + 1;
        set_buffer("num_batches_tracked", scalar_tensor(static_cast<double>(c), {.dtype = Dtype::int64}));
        return c;
      };
      int64_t count;
      if (capture_detail::recorder) [[unlikely]] {
        // Captured (autograd/capture): the counter is host state, counted again by each replay; the
        // running statistics' update is captured as kernels, so its momentum must not depend on it.
        if (!options_.momentum)
          capture_detail::refuse(name.c_str(),
                                 "momentum = none: a cumulative average changes with the step count");
        const capture_detail::HostStep host((name + ".num_batches_tracked").c_str(),
                                            [count_batch] { count_batch(); });
        count = count_batch();
      } else {
        count = count_batch();
      }
      const double m = options_.momentum ? *options_.momentum : 1.0 / static_cast<double>(count);
      const Tensor batch_mean = reshape(mu, {num_features_}).to(running_mean.dtype());
      const Tensor unbiased =
          (reshape(v, {num_features_}) * (static_cast<double>(covered) / static_cast<double>(covered - 1)))
              .to(running_var.dtype());
      running_mean.mul_(1.0 - m).add_(batch_mean, m);
      running_var.mul_(1.0 - m).add_(unbiased, m);
    }
  } else {
    y = (x - reshape(running_mean, channel_shape)) *
        reshape(rsqrt(running_var + options_.eps), channel_shape);
  }
  if (options_.affine) y = y * reshape(weight, channel_shape) + reshape(bias, channel_shape);
  return y;
}

ModulePtr convert_sync_batchnorm(ModulePtr module) {
  if (!module) throw ValueError("convert_sync_batchnorm: the module is null");
  for (const ModulePtr& m : module->modules())
    if (auto* bn = dynamic_cast<BatchNormBase*>(m.get())) bn->sync_ = true;
  return module;
}

std::string BatchNormBase::extra_repr() const {
  std::ostringstream s;
  s << num_features_ << ", eps=" << options_.eps << ", momentum=";
  if (options_.momentum)
    s << *options_.momentum;
  else
    s << "None";
  s << ", affine=" << (options_.affine ? "true" : "false")
    << ", track_running_stats=" << (options_.track_running_stats ? "true" : "false");
  return s.str();
}

LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape, LayerNormOptions options)
    : Module("LayerNorm"), normalized_shape_(std::move(normalized_shape)), options_(options) {
  if (normalized_shape_.empty()) throw ValueError("LayerNorm: normalized_shape is empty");
  for (int64_t d : normalized_shape_)
    if (d <= 0)
      throw ValueError("LayerNorm: normalized_shape must be positive, got " + dims_str(normalized_shape_));
  if (options.eps < 0) throw ValueError("LayerNorm: eps must be non-negative");
  if (options.elementwise_affine) {
    weight = register_parameter("weight", ones(Shape(normalized_shape_)));
    if (options.bias) bias = register_parameter("bias", zeros(Shape(normalized_shape_)));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  if (!x.defined()) throw ValueError("LayerNorm: the input is undefined");
  const int k = static_cast<int>(normalized_shape_.size());
  bool fits = x.dim() >= k;
  for (int i = 0; fits && i < k; ++i)
    fits = x.size(x.dim() - k + i) == normalized_shape_[static_cast<std::size_t>(i)];
  if (!fits)
    throw ShapeError("LayerNorm: the input's trailing extents must be normalized_shape " +
                     dims_str(normalized_shape_) + ", got input " + x.shape().str());
  if (!x.is_floating_point()) throw TypeError("LayerNorm: expected a float input, got int64");
  Axes axes;
  for (int i = 0; i < k; ++i) axes.push_back(x.dim() - k + i);
  Tensor d = x - mean(x, axes, true);
  Tensor y = d * rsqrt(mean(d * d, axes, true) + options_.eps);
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream s;
  s << "(";
  for (std::size_t i = 0; i < normalized_shape_.size(); ++i) s << (i ? ", " : "") << normalized_shape_[i];
  s << (normalized_shape_.size() == 1 ? ",)" : ")") << ", eps=" << options_.eps
    << ", elementwise_affine=" << (options_.elementwise_affine ? "true" : "false");
  return s.str();
}

namespace {
// [1, C, 1, ...] of rank `rank`: a per-channel vector made to broadcast against [N, C, *].
Tensor per_channel(const Tensor& v, int rank) {
  Shape s{1, v.numel()};
  for (int a = 2; a < rank; ++a) s.push_back(1);
  return reshape(v, s);
}
void check_vector(const char* op, const char* what, const Tensor& v, const Tensor& x) {
  if (v.defined() && (v.dim() != 1 || v.numel() != x.size(1)))
    throw ShapeError(std::string(op) + ": " + what + " must have shape [" + std::to_string(x.size(1)) +
                     "] (the channels of input " + x.shape().str() + "), got " + v.shape().str());
}
Tensor affine(Tensor y, const Tensor& weight, const Tensor& bias) {
  if (weight.defined()) y = y * per_channel(weight, y.dim());
  if (bias.defined()) y = y + per_channel(bias, y.dim());
  return y;
}
}  // namespace

}  // namespace xg::nn

namespace xg::nn::functional {

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const CompositeScope composite("group_norm");
  if (!x.defined()) throw ValueError("group_norm: the input is undefined");
  if (x.dim() < 2)
    throw ShapeError("group_norm: expected an input [N, C, *] of at least 2 axes, got " + x.shape().str());
  if (!x.is_floating_point()) throw TypeError("group_norm: expected a float input, got int64");
  const int64_t n = x.size(0), c = x.size(1);
  if (num_groups <= 0 || c % num_groups != 0)
    throw ShapeError("group_norm: the " + std::to_string(c) + " channels of input " + x.shape().str() +
                     " are not divisible into num_groups " + std::to_string(num_groups));
  check_vector("group_norm", "weight", weight, x);
  check_vector("group_norm", "bias", bias, x);
  if (x.numel() == 0) return affine(x * 1.0, weight, bias);
  // Each group's channels and positions are consecutive in [N, G, C / G * rest].
  const Tensor g = reshape(x, {n, num_groups, -1});
  const Tensor d = g - mean(g, {2}, true);
  const Tensor y = reshape(d * rsqrt(mean(d * d, {2}, true) + eps), x.shape());
  return affine(y, weight, bias);
}

Tensor instance_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                     const Tensor& weight, const Tensor& bias, bool use_input_stats, double momentum,
                     double eps) {
  const CompositeScope composite("instance_norm");
  if (!x.defined()) throw ValueError("instance_norm: the input is undefined");
  if (x.dim() < 3)
    throw ShapeError("instance_norm: expected an input [N, C, *] with at least one spatial axis, got " +
                     x.shape().str());
  if (!x.is_floating_point()) throw TypeError("instance_norm: expected a float input, got int64");
  check_vector("instance_norm", "weight", weight, x);
  check_vector("instance_norm", "bias", bias, x);
  check_vector("instance_norm", "running_mean", running_mean, x);
  check_vector("instance_norm", "running_var", running_var, x);
  const int64_t c = x.size(1), spatial = x.numel() / std::max<int64_t>(1, x.size(0) * c);
  Tensor y;
  if (use_input_stats) {
    if (spatial <= 1)
      throw ValueError("instance_norm: expected more than 1 spatial element when training, got input " +
                       x.shape().str());
    Axes axes;
    for (int a = 2; a < x.dim(); ++a) axes.push_back(a);
    const Tensor mu = mean(x, axes, true);
    const Tensor d = x - mu;
    const Tensor v = mean(d * d, axes, true);
    y = d * rsqrt(v + eps);
    if (running_mean.defined() || running_var.defined()) {
      // The batch averages of the instance means and of the unbiased instance variances.
      NoGradGuard guard;
      const double unbias = static_cast<double>(spatial) / static_cast<double>(spatial - 1);
      Tensor rm = running_mean, rv = running_var;  // handles to the same storage, updated in place
      if (rm.defined()) rm.mul_(1.0 - momentum).add_(reshape(mean(mu, {0}), {c}).to(rm.dtype()), momentum);
      if (rv.defined())
        rv.mul_(1.0 - momentum).add_((reshape(mean(v, {0}), {c}) * unbias).to(rv.dtype()), momentum);
    }
  } else {
    if (!running_mean.defined() || !running_var.defined())
      throw ValueError(
          "instance_norm: running_mean and running_var are needed when use_input_stats is false");
    y = (x - per_channel(running_mean, x.dim())) * per_channel(rsqrt(running_var + eps), x.dim());
  }
  return affine(y, weight, bias);
}

}  // namespace xg::nn::functional

namespace xg::nn {

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, GroupNormOptions options)
    : Module("GroupNorm"), num_groups_(num_groups), num_channels_(num_channels), options_(options) {
  if (num_groups <= 0 || num_channels <= 0)
    throw ValueError("GroupNorm: num_groups and num_channels must be positive, got " +
                     std::to_string(num_groups) + " and " + std::to_string(num_channels));
  if (num_channels % num_groups != 0)
    throw ValueError("GroupNorm: num_channels " + std::to_string(num_channels) +
                     " must be divisible by num_groups " + std::to_string(num_groups));
  if (options.eps < 0) throw ValueError("GroupNorm: eps must be non-negative");
  if (options.affine) {
    weight = register_parameter("weight", ones({num_channels}));
    bias = register_parameter("bias", zeros({num_channels}));
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  if (!x.defined()) throw ValueError("GroupNorm: the input is undefined");
  if (x.dim() < 2)
    throw ShapeError("GroupNorm: expected an input [N, C, *] of at least 2 axes, got " + x.shape().str());
  if (x.size(1) != num_channels_)
    throw ShapeError("GroupNorm: input has " + std::to_string(x.size(1)) +
                     " channels (axis 1), expected num_channels " + std::to_string(num_channels_) +
                     ": input " + x.shape().str());
  return functional::group_norm(x, num_groups_, weight, bias, options_.eps);
}

std::string GroupNorm::extra_repr() const {
  std::ostringstream s;
  s << num_groups_ << ", " << num_channels_ << ", eps=" << options_.eps
    << ", affine=" << (options_.affine ? "true" : "false");
  return s.str();
}

InstanceNormBase::InstanceNormBase(std::string type_name, int64_t num_features, InstanceNormOptions options,
                                   int rank)
    : RunningStatsNorm(std::move(type_name), num_features, options.eps, options.momentum, options.affine,
                       options.track_running_stats),
      options_(options),
      rank_(rank) {}

Tensor InstanceNormBase::forward(const Tensor& x0) {
  const ModuleScope scope(*this);
  const std::string& name = type_name();
  if (!x0.defined()) throw ValueError(name + ": the input is undefined");
  if (x0.dim() != rank_ && x0.dim() != rank_ - 1)
    throw ShapeError(name + ": expected a " + std::to_string(rank_ - 1) + "-D or " + std::to_string(rank_) +
                     "-D input, got " + x0.shape().str());
  const Tensor x = x0.dim() == rank_ ? x0 : unsqueeze(x0, 0);
  if ((options_.affine || options_.track_running_stats) && x.size(1) != num_features_)
    throw ShapeError(name + ": input has " + std::to_string(x.size(1)) + " channels, expected num_features " +
                     std::to_string(num_features_) + ": input " + x0.shape().str());
  try {
    const Tensor y = functional::instance_norm(x, running_mean, running_var, weight, bias,
                                               is_training() || !options_.track_running_stats,
                                               options_.momentum, options_.eps);
    return x0.dim() == rank_ ? y : squeeze(y, 0);
  } catch (const ValueError& e) {
    // name the layer; an unbatched input was given a batch axis: name the input as given
    throw ValueError(name + ": " + e.what() + (x0.dim() == rank_ ? "" : " (input " + x0.shape().str() + ")"));
  }
}

std::string InstanceNormBase::extra_repr() const {
  std::ostringstream s;
  s << num_features_ << ", eps=" << options_.eps << ", momentum=" << options_.momentum
    << ", affine=" << (options_.affine ? "true" : "false")
    << ", track_running_stats=" << (options_.track_running_stats ? "true" : "false");
  return s.str();
}

}  // namespace xg::nn
