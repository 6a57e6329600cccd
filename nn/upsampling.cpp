#include "xgrad/nn/upsampling.hpp"

#include <utility>

#include "xgrad/nn/repr.hpp"

namespace xg::nn {

namespace {
// PyTorch's repr of an int-or-tuple / float-or-tuple argument.
template <class T, class F>
std::string one_or_tuple(const std::vector<T>& v, F&& str) {
  if (v.size() == 1) return str(v[0]);
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + str(v[i]);
  return s + ")";
}
}  // namespace

Upsample::Upsample(std::string type_name, UpsampleOptions o)
    : Module(std::move(type_name)), options_(std::move(o)) {
  const bool has_size = !options_.size.empty(), has_scale = !options_.scale_factor.empty();
  if (has_size == has_scale)
    throw ValueError(this->type_name() + (has_size ? ": only one of size and scale_factor may be given"
                                                   : ": either size or scale_factor must be given"));
  for (int64_t v : options_.size)
    if (v <= 0) throw ValueError(this->type_name() + ": size must be positive, got " + std::to_string(v));
  for (double v : options_.scale_factor)
    if (!(v > 0))
      throw ValueError(this->type_name() + ": scale_factor must be positive, got " + detail::repr_double(v));
  if (options_.mode == InterpMode::nearest && options_.align_corners)
    throw ValueError(this->type_name() +
                     ": align_corners can only be set with the modes linear and bilinear");
}
Upsample::Upsample(UpsampleOptions o) : Upsample("Upsample", std::move(o)) {}

Tensor Upsample::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  if (!x.defined()) throw ValueError(type_name() + ": the input is undefined");
  return interpolate(x, options_);
}
std::string Upsample::extra_repr() const {
  std::string s = options_.scale_factor.empty()
                      ? "size=" + one_or_tuple(options_.size, [](int64_t v) { return std::to_string(v); })
                      : "scale_factor=" + one_or_tuple(options_.scale_factor, detail::repr_double);
  return s + ", mode=" + mode_name(options_.mode);
}

UpsamplingNearest2d::UpsamplingNearest2d(std::vector<int64_t> size, std::vector<double> scale_factor)
    : Upsample(
          "UpsamplingNearest2d",
          {.size = std::move(size), .scale_factor = std::move(scale_factor), .mode = InterpMode::nearest}) {}

UpsamplingBilinear2d::UpsamplingBilinear2d(std::vector<int64_t> size, std::vector<double> scale_factor)
    : Upsample("UpsamplingBilinear2d", {.size = std::move(size),
                                        .scale_factor = std::move(scale_factor),
                                        .mode = InterpMode::bilinear,
                                        .align_corners = true}) {}

PixelShuffle::PixelShuffle(int64_t upscale_factor) : Module("PixelShuffle"), r_(upscale_factor) {
  if (r_ <= 0) throw ValueError("PixelShuffle: upscale_factor must be positive, got " + std::to_string(r_));
}
Tensor PixelShuffle::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return pixel_shuffle(x, r_);
}
std::string PixelShuffle::extra_repr() const {
  return "upscale_factor=" + std::to_string(r_);
}

PixelUnshuffle::PixelUnshuffle(int64_t downscale_factor) : Module("PixelUnshuffle"), r_(downscale_factor) {
  if (r_ <= 0)
    throw ValueError("PixelUnshuffle: downscale_factor must be positive, got " + std::to_string(r_));
}
Tensor PixelUnshuffle::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return pixel_unshuffle(x, r_);
}
std::string PixelUnshuffle::extra_repr() const {
  return "downscale_factor=" + std::to_string(r_);
}

}  // namespace xg::nn
