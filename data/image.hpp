#pragma once
/// @file image.hpp
/// @brief Writing images: write_png stores a tensor of pixel values in [0, 1] as an 8-bit PNG
/// (grey or RGB, zlib-compressed, no other dependency), for figures such as reconstructions.
///
/// @code
/// xg::data::write_png("digits.png", images[0]);  // [1, 28, 28] or [28, 28]: grey
/// @endcode
#include <string>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::data {

/// Writes `image` as an 8-bit PNG: [H, W] or [1, H, W] gives a grey image, [3, H, W] an RGB one.
/// Values are clamped to [0, 1] and scaled to 0..255 (rounded to nearest; NaN is written as 0).
/// Any floating or integer dtype is accepted (integers are read as values in [0, 1] too, so 1 is
/// white). Throws ShapeError for other shapes or an empty image, IOError when the file cannot be
/// written.
void write_png(const std::string& path, const Tensor& image);

/// The PNG file's bytes for `image` (as write_png writes them).
std::string encode_png(const Tensor& image);

}  // namespace xg::data
