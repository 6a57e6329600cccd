#include "xgrad/nn/normalization.hpp"

#include <algorithm>
#include <sstream>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"

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
}  // namespace

BatchNormBase::BatchNormBase(std::string type_name, int64_t num_features, BatchNormOptions options,
                             std::vector<int> ranks)
    : Module(std::move(type_name)), num_features_(num_features), options_(options), ranks_(std::move(ranks)) {
  if (num_features <= 0)
    throw ValueError(this->type_name() + ": num_features must be positive, got " +
                     std::to_string(num_features));
  if (options.eps < 0) throw ValueError(this->type_name() + ": eps must be non-negative");
  if (options.momentum && (*options.momentum < 0 || *options.momentum > 1))
    throw ValueError(this->type_name() + ": momentum must lie in [0, 1], got " +
                     std::to_string(*options.momentum));
  if (options.affine) {
    weight = register_parameter("weight", ones({num_features}));
    bias = register_parameter("bias", zeros({num_features}));
  }
  if (options.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}), true, BufferValues::finite);
    running_var =
        register_buffer("running_var", ones({num_features}), true, BufferValues::finite_non_negative);
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = Dtype::int64}), true,
                                          BufferValues::finite_non_negative);
  }
}

void BatchNormBase::reset_running_stats() {
  if (!options_.track_running_stats) return;
  NoGradGuard guard;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

Tensor BatchNormBase::forward(const Tensor& x) {
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
    if (is_training() && n <= 1)
      throw ValueError(name + ": expected more than 1 value per channel when training, got input " +
                       x.shape().str());
    Tensor mu = mean(x, axes, true);
    Tensor d = x - mu;
    Tensor v = mean(d * d, axes, true);  // biased variance normalises, as PyTorch
    y = d * rsqrt(v + options_.eps);
    if (is_training() && options_.track_running_stats) {
      NoGradGuard guard;
      const int64_t count = num_batches_tracked.item<int64_t>() + 1;
      set_buffer("num_batches_tracked", scalar_tensor(static_cast<double>(count), {.dtype = Dtype::int64}));
      const double m = options_.momentum ? *options_.momentum : 1.0 / static_cast<double>(count);
      const Tensor batch_mean = reshape(mu, {num_features_}).to(running_mean.dtype());
      const Tensor unbiased =
          (reshape(v, {num_features_}) * (static_cast<double>(n) / static_cast<double>(n - 1)))
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

}  // namespace xg::nn
