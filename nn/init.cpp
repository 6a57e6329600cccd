#include "xgrad/nn/init.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"

namespace xg::nn::init {

namespace {

void check_float(const Tensor& t, const char* fn) {
  if (!t.defined()) throw ValueError(std::string("init.") + fn + ": the tensor is undefined");
  if (!t.is_floating_point())
    throw TypeError(std::string("init.") + fn + ": expects a float32 or float64 tensor, got " +
                    dtype_name(t.dtype()) + " of shape " + t.shape().str());
}

// Writes the values of `src` (same shape) into t without recording and bumps its version.
Tensor fill_from(const Tensor& t, const Tensor& src) {
  NoGradGuard guard;
  Tensor h = t;
  h.copy_(src);
  return t;
}

std::pair<int64_t, int64_t> fans(const Tensor& t, const char* fn) {
  if (t.dim() < 2)
    throw ValueError(std::string("init.") + fn +
                     ": fan in and fan out cannot be computed for a tensor of fewer than 2 axes, got shape " +
                     t.shape().str());
  return calculate_fan_in_and_fan_out(t);
}

const char* gain_name(Nonlinearity n) {
  switch (n) {
    case Nonlinearity::linear:
      return "linear";
    case Nonlinearity::conv1d:
      return "conv1d";
    case Nonlinearity::conv2d:
      return "conv2d";
    case Nonlinearity::conv3d:
      return "conv3d";
    case Nonlinearity::sigmoid:
      return "sigmoid";
    case Nonlinearity::tanh:
      return "tanh";
    case Nonlinearity::relu:
      return "relu";
    case Nonlinearity::leaky_relu:
      return "leaky_relu";
    case Nonlinearity::selu:
      return "selu";
  }
  return "?";
}

double kaiming_std(const Tensor& t, double a, FanMode mode, Nonlinearity nl, const char* fn) {
  const auto [fan_in, fan_out] = fans(t, fn);
  const int64_t fan = mode == FanMode::fan_in ? fan_in : fan_out;
  if (fan == 0)
    throw ValueError(std::string("init.") + fn + ": the fan is 0 for a tensor of shape " + t.shape().str());
  return calculate_gain(nl, a) / std::sqrt(static_cast<double>(fan));
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param) {
  switch (nonlinearity) {
    case Nonlinearity::linear:
    case Nonlinearity::conv1d:
    case Nonlinearity::conv2d:
    case Nonlinearity::conv3d:
    case Nonlinearity::sigmoid:
      return 1.0;
    case Nonlinearity::tanh:
      return 5.0 / 3.0;
    case Nonlinearity::relu:
      return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: {
      const double slope = param.value_or(0.01);
      return std::sqrt(2.0 / (1.0 + slope * slope));
    }
    case Nonlinearity::selu:
      return 3.0 / 4.0;
  }
  throw ValueError(std::string("init.calculate_gain: unsupported nonlinearity ") + gain_name(nonlinearity));
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  if (!t.defined()) throw ValueError("init.calculate_fan_in_and_fan_out: the tensor is undefined");
  if (t.dim() < 2)
    throw ValueError(
        "init.calculate_fan_in_and_fan_out: fan in and fan out cannot be computed for a tensor of fewer than "
        "2 axes, got shape " +
        t.shape().str());
  int64_t receptive = 1;
  for (int i = 2; i < t.dim(); ++i) receptive *= t.shape()[i];
  return {t.shape()[1] * receptive, t.shape()[0] * receptive};
}

Tensor uniform_(const Tensor& t, double a, double b, Generator* generator) {
  check_float(t, "uniform_");
  if (!(a <= b))
    throw ValueError("init.uniform_: expects a <= b, got a = " + std::to_string(a) +
                     ", b = " + std::to_string(b));
  return fill_from(t, xg::uniform(t.shape(), a, b, {.dtype = t.dtype()}, generator));
}

Tensor normal_(const Tensor& t, double mean, double stddev, Generator* generator) {
  check_float(t, "normal_");
  if (!(stddev >= 0))
    throw ValueError("init.normal_: std must be non-negative, got " + std::to_string(stddev));
  return fill_from(t, xg::normal(t.shape(), mean, stddev, {.dtype = t.dtype()}, generator));
}

Tensor constant_(const Tensor& t, double value) {
  check_float(t, "constant_");
  NoGradGuard guard;
  Tensor h = t;
  h.fill_(value);
  return t;
}
Tensor zeros_(const Tensor& t) {
  return constant_(t, 0.0);
}
Tensor ones_(const Tensor& t) {
  return constant_(t, 1.0);
}

Tensor xavier_uniform_(const Tensor& t, double gain, Generator* generator) {
  check_float(t, "xavier_uniform_");
  const auto [fan_in, fan_out] = fans(t, "xavier_uniform_");
  if (fan_in + fan_out == 0) return t;
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return fill_from(t, xg::uniform(t.shape(), -bound, bound, {.dtype = t.dtype()}, generator));
}

Tensor xavier_normal_(const Tensor& t, double gain, Generator* generator) {
  check_float(t, "xavier_normal_");
  const auto [fan_in, fan_out] = fans(t, "xavier_normal_");
  if (fan_in + fan_out == 0) return t;
  const double stddev = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return fill_from(t, xg::normal(t.shape(), 0.0, stddev, {.dtype = t.dtype()}, generator));
}

Tensor kaiming_uniform_(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity,
                        Generator* generator) {
  check_float(t, "kaiming_uniform_");
  if (t.numel() == 0) return t;  // PyTorch: a no-op on zero-element tensors
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity, "kaiming_uniform_");
  return fill_from(t, xg::uniform(t.shape(), -bound, bound, {.dtype = t.dtype()}, generator));
}

Tensor kaiming_normal_(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity,
                       Generator* generator) {
  check_float(t, "kaiming_normal_");
  if (t.numel() == 0) return t;
  const double stddev = kaiming_std(t, a, mode, nonlinearity, "kaiming_normal_");
  return fill_from(t, xg::normal(t.shape(), 0.0, stddev, {.dtype = t.dtype()}, generator));
}

Tensor orthogonal_(const Tensor& t, double gain, Generator* generator) {
  check_float(t, "orthogonal_");
  if (t.dim() < 2)
    throw ValueError("init.orthogonal_: only tensors with 2 or more axes are supported, got shape " +
                     t.shape().str());
  if (t.numel() == 0) return t;
  const int64_t rows = t.shape()[0], cols = t.numel() / rows;
  // Orthonormalise the columns of a tall m x n normal matrix (m >= n): Gram-Schmidt, run twice per
  // column ("twice is enough") for orthogonality to working precision. Its Q equals the QR
  // factor with a positive diagonal of R, i.e. PyTorch's q * sign(diag(r)).
  const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  std::vector<double> a(static_cast<std::size_t>(m * n));  // column-major: column j at a[j * m]
  {
    Tensor g = xg::normal({m, n}, 0.0, 1.0, {.dtype = Dtype::float64}, generator);
    const double* p = g.data<double>();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) a[j * m + i] = p[i * n + j];
  }
  for (int64_t j = 0; j < n; ++j) {
    double* q = &a[j * m];
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t k = 0; k < j; ++k) {
        const double* qk = &a[k * m];
        double d = 0;
        for (int64_t i = 0; i < m; ++i) d += qk[i] * q[i];
        for (int64_t i = 0; i < m; ++i) q[i] -= d * qk[i];
      }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += q[i] * q[i];
    norm = std::sqrt(norm);
    if (norm == 0) throw ValueError("init.orthogonal_: a rank-deficient draw (retry with another seed)");
    for (int64_t i = 0; i < m; ++i) q[i] /= norm;
  }
  // rows >= cols: the tensor is Q [rows, cols]; rows < cols: it is Q^T [rows, cols].
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] = gain * (rows >= cols ? a[c * m + r] : a[r * m + c]);
  return fill_from(t, xg::reshape(from_vector(out, Shape{rows, cols}), t.shape()));
}

}  // namespace xg::nn::init
