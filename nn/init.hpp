#pragma once
/// @file init.hpp
/// @brief Parameter initialisers, as torch.nn.init. Each one fills its tensor in place (under
/// NoGradGuard, so parameters that require grad are fine), bumps the version counter and returns
/// the tensor. The random ones take an optional last argument `generator`, which PyTorch 1.13's
/// init functions lack: nullptr draws from the default generator (xg::manual_seed makes it
/// reproducible).
///
/// Fans (calculate_fan_in_and_fan_out) follow PyTorch's weight layouts: for a weight of shape
/// [out, in, k...] fan_in = in * prod(k), fan_out = out * prod(k).
///
/// @code
/// xg::Tensor w = xg::empty({128, 784});
/// xg::nn::init::kaiming_uniform_(w, std::sqrt(5.0));   // nn::Linear's default
/// xg::nn::init::xavier_normal_(w, xg::nn::init::calculate_gain(xg::nn::init::Nonlinearity::tanh));
/// @endcode
#include <cstdint>
#include <optional>
#include <utility>

#include "xgrad/autograd/tensor/generator.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::nn::init {

/// Which fan kaiming_* normalises by: fan_in keeps the variance of the forward activations,
/// fan_out that of the backward gradients.
enum class FanMode { fan_in, fan_out };

/// The nonlinearities calculate_gain knows (torch.nn.init.calculate_gain's names).
enum class Nonlinearity { linear, conv1d, conv2d, conv3d, sigmoid, tanh, relu, leaky_relu, selu };

/// The recommended gain for a nonlinearity, as PyTorch:
/// linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + param^2)) with
/// param the negative slope (0.01 when absent), selu 3/4.
double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param = std::nullopt);

/// {fan_in, fan_out} of a weight of at least 2 axes: [out, in, k...] gives
/// {in * prod(k), out * prod(k)}. ValueError for fewer than 2 axes.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

/// U(a, b).
Tensor uniform_(const Tensor& tensor, double a = 0.0, double b = 1.0, Generator* generator = nullptr);
/// N(mean, std^2).
Tensor normal_(const Tensor& tensor, double mean = 0.0, double stddev = 1.0, Generator* generator = nullptr);
Tensor constant_(const Tensor& tensor, double value);
Tensor zeros_(const Tensor& tensor);
Tensor ones_(const Tensor& tensor);

/// Glorot: U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1.0, Generator* generator = nullptr);
/// Glorot: N(0, std^2) with std = gain sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& tensor, double gain = 1.0, Generator* generator = nullptr);

/// He: U(-b, b) with b = gain sqrt(3 / fan), gain = calculate_gain(nonlinearity, a), fan chosen
/// by mode. The defaults (a = 0, fan_in, leaky_relu) give gain sqrt(2); nn::Linear and nn::Conv*
/// use a = sqrt(5), which makes b = 1 / sqrt(fan_in).
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::fan_in,
                        Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator* generator = nullptr);
/// He: N(0, std^2) with std = gain / sqrt(fan).
Tensor kaiming_normal_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::fan_in,
                       Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator* generator = nullptr);

/// A (semi-)orthogonal matrix times gain, as PyTorch: the tensor is viewed as
/// [size(0), numel / size(0)], filled with the Q factor of the QR decomposition of a standard
/// normal matrix (signs fixed so that R's diagonal is positive: Haar-distributed). Rows are
/// orthonormal when rows <= cols, columns otherwise. ValueError for fewer than 2 axes.
Tensor orthogonal_(const Tensor& tensor, double gain = 1.0, Generator* generator = nullptr);

}  // namespace xg::nn::init
