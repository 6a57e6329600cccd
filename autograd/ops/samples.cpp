#include "xgrad/autograd/ops/samples.hpp"

#include <cmath>

#include "xgrad/autograd/ops/ops.hpp"

namespace xg::detail {

Tensor sample_tensor(const Shape& shape, Domain d, unsigned salt) {
  // A private LCG so that samples never depend on (or disturb) the user's generator state.
  uint64_t state = 0x2545F4914F6CDD1DULL ^ (static_cast<uint64_t>(salt) * 0x9E3779B97F4A7C15ULL) ^
                   static_cast<uint64_t>(shape.numel() * 7919 + shape.rank());
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (double& x : v) {
    const double u = next();
    switch (d) {
      case Domain::real:
        x = std::sqrt(-2 * std::log(std::max(next(), 1e-12))) * std::cos(2 * M_PI * u);
        break;
      case Domain::positive:
        x = 0.5 + 1.5 * u;
        break;
      case Domain::nonzero:
        x = (next() < 0.5 ? -1 : 1) * (0.2 + 1.8 * u);
        break;
      case Domain::unit:
        x = -0.9 + 1.8 * u;
        break;
    }
  }
  return tensor(v, shape, {.dtype = Dtype::float64, .requires_grad = true});
}

std::vector<OpSample> unary_samples(std::function<Tensor(const Tensor&)> f, Domain d, bool with_empty) {
  auto call = [f](std::span<const Tensor> in) { return f(in[0]); };
  std::vector<OpSample> s = {
      {"scalar", {sample_tensor(Shape{}, d, 1)}, call},
      {"vector [5]", {sample_tensor(Shape{5}, d, 2)}, call},
      {"matrix [3, 4]", {sample_tensor(Shape{3, 4}, d, 3)}, call},
      {"3-D [2, 3, 2]", {sample_tensor(Shape{2, 3, 2}, d, 4)}, call},
  };
  if (with_empty) s.push_back({"empty [0, 3]", {sample_tensor(Shape{0, 3}, d, 5)}, call});
  return s;
}

std::vector<OpSample> binary_samples(std::function<Tensor(const Tensor&, const Tensor&)> f, Domain da,
                                     Domain db) {
  auto call = [f](std::span<const Tensor> in) { return f(in[0], in[1]); };
  auto pair = [&](const char* label, Shape a, Shape b, unsigned salt) {
    return OpSample{label, {sample_tensor(a, da, salt), sample_tensor(b, db, salt + 100)}, call};
  };
  return {
      pair("equal shapes [3, 4]", {3, 4}, {3, 4}, 1),
      pair("broadcast [3, 1] with [1, 4]", {3, 1}, {1, 4}, 2),
      pair("broadcast [4] with [2, 3, 4]", {4}, {2, 3, 4}, 3),
      pair("scalar with [3, 2]", {}, {3, 2}, 4),
      pair("[2, 3] with scalar", {2, 3}, {}, 5),
      pair("size-1 axes [2, 1, 3] with [2, 4, 1]", {2, 1, 3}, {2, 4, 1}, 6),
      pair("empty [0, 3] with [3]", {0, 3}, {3}, 7),
  };
}

std::vector<OpSample> reduce_samples(std::function<Tensor(const Tensor&, const Axes&, bool)> f, Domain d) {
  auto make = [&](const char* label, Shape s, Axes axes, bool keepdim, unsigned salt) {
    // PyTorch reduces every axis when no dim is given.
    std::string torch = "OP(x0)";
    if (!axes.empty()) {
      torch = "OP(x0, dim=(";
      for (int64_t a : axes) torch += std::to_string(a) + ",";
      torch += std::string("), keepdim=") + (keepdim ? "True" : "False") + ")";
    }
    return OpSample{label,
                    {sample_tensor(s, d, salt)},
                    [f, axes, keepdim](std::span<const Tensor> in) { return f(in[0], axes, keepdim); },
                    0,
                    torch};
  };
  return {
      make("all of [3, 4]", {3, 4}, {}, false, 1),
      make("axis 0 of [3, 4]", {3, 4}, {0}, false, 2),
      make("axis -1 of [3, 4], keepdim", {3, 4}, {-1}, true, 3),
      make("axes {0, 2} of [2, 3, 4]", {2, 3, 4}, {0, 2}, false, 4),
      make("axis 1 of [2, 3, 2], keepdim", {2, 3, 2}, {1}, true, 5),
      make("scalar", {}, {}, false, 6),
      make("vector [5]", {5}, {0}, false, 7),
      make("size-1 axis of [3, 1]", {3, 1}, {1}, false, 8),
  };
}

std::vector<OpSample> with_torch(std::vector<OpSample> s, const std::string& expr) {
  for (OpSample& x : s) x.torch = expr;
  return s;
}

std::vector<OpSample> with_torch_kwargs(std::vector<OpSample> s, const std::string& kwargs) {
  for (OpSample& x : s) {
    if (x.torch.empty()) {
      x.torch = "OP(";
      for (std::size_t i = 0; i < x.inputs.size(); ++i) x.torch += (i ? ", x" : "x") + std::to_string(i);
      x.torch += ")";
    }
    // the call's closing parenthesis is the expression's last character
    x.torch.insert(x.torch.size() - 1, (x.torch.ends_with("()") ? "" : ", ") + kwargs);
  }
  return s;
}

}  // namespace xg::detail
