// data/image.cpp: write_png's bytes decoded by hand (signature, IHDR, CRCs, the inflated
// scanlines with their filter bytes) for grey and RGB images, value clamping and rounding, and the
// errors for shapes that are not images and for a path that cannot be written.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/data/image.hpp"

namespace {

uint32_t be32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

struct Png {
  uint32_t width = 0, height = 0;
  int depth = 0, colour = 0;
  std::vector<std::string> chunk_types;
  std::string pixels;  // the inflated IDAT
};

// Walks the chunks, checking each CRC; inflates the IDAT data.
Png decode(const std::string& f) {
  Png p;
  REQUIRE(f.size() > 8);
  CHECK(f.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  std::string idat;
  for (size_t at = 8; at + 12 <= f.size();) {
    const uint32_t n = be32(f, at);
    const std::string type = f.substr(at + 4, 4), data = f.substr(at + 8, n);
    const uint32_t crc = be32(f, at + 8 + n);
    CHECK(crc == static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(f.data() + at + 4), n + 4)));
    p.chunk_types.push_back(type);
    if (type == "IHDR") {
      p.width = be32(data, 0), p.height = be32(data, 4);
      p.depth = static_cast<uint8_t>(data[8]), p.colour = static_cast<uint8_t>(data[9]);
      CHECK(data.substr(10) == std::string(3, '\0'));  // deflate, adaptive filtering, no interlace
    }
    if (type == "IDAT") idat += data;
    at += 12 + n;
  }
  uLongf size = 1 << 16;
  p.pixels.assign(size, '\0');
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(p.pixels.data()), &size,
                     reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) == Z_OK);
  p.pixels.resize(size);
  return p;
}

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

}  // namespace

TEST_CASE("write_png: grey [H, W] and [1, H, W], values clamped to [0, 1] and rounded to 0..255") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // 2 rows of 3: 0.5 * 255 = 127.5 rounds to 128; 1 / 255 is 1; -1 and NaN are 0; 2 is 255
  const xg::Tensor img =
      xg::tensor({0.0, 0.5, 1.0, -1.0, 2.0, 1.0 / 255, nan}, {.dtype = xg::Dtype::float64});
  const xg::Tensor g = xg::slice(img, 0, 0, 6).reshape({2, 3});
  const Png p = decode(xg::data::encode_png(g));
  CHECK(p.width == 3);
  CHECK(p.height == 2);
  CHECK(p.depth == 8);
  CHECK(p.colour == 0);
  CHECK(p.chunk_types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  CHECK(p.pixels == bytes({0, 0, 128, 255, 0, 0, 255, 1}));  // each row: filter 0, then its pixels
  CHECK(xg::data::encode_png(g.reshape({1, 2, 3})) == xg::data::encode_png(g));
  const xg::Tensor n = xg::tensor({nan}, {.dtype = xg::Dtype::float64}).reshape({1, 1});
  CHECK(decode(xg::data::encode_png(n)).pixels == bytes({0, 0}));
  // float32 and int64 images: 1 is white
  CHECK(decode(xg::data::encode_png(xg::tensor({0.25f, 1.0f}).reshape({1, 2}))).pixels ==
        bytes({0, 64, 255}));
  CHECK(
      decode(xg::data::encode_png(xg::tensor({0, 1}, {.dtype = xg::Dtype::int64}).reshape({2, 1}))).pixels ==
      bytes({0, 0, 0, 255}));
}

TEST_CASE("write_png: [3, H, W] is RGB, interleaved from the planar channels; the file is the encoding") {
  // R = (1, 0), G = (0, 0.2), B = (0.6, 1) for the 2 pixels of a 1 x 2 image
  const xg::Tensor rgb = xg::tensor({1.0, 0.0, 0.0, 0.2, 0.6, 1.0}).reshape({3, 1, 2});
  const Png p = decode(xg::data::encode_png(rgb));
  CHECK(p.width == 2);
  CHECK(p.height == 1);
  CHECK(p.colour == 2);
  CHECK(p.pixels == bytes({0, 255, 0, 153, 0, 51, 255}));
  const std::string path = (std::filesystem::temp_directory_path() / "xgrad_test_image.png").string();
  xg::data::write_png(path, rgb);
  std::ifstream f(path, std::ios::binary);
  CHECK(std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>()) ==
        xg::data::encode_png(rgb));
  std::filesystem::remove(path);
}

TEST_CASE("write_png: shapes that are not images, an empty image, an unwritable path") {
  CHECK_ERROR(xg::data::encode_png(xg::zeros({4})), xg::ShapeError,
              "write_png: image must be [H, W], [1, H, W] or [3, H, W], got [4]");
  CHECK_ERROR(xg::data::encode_png(xg::zeros({2, 3, 3})), xg::ShapeError, "got [2, 3, 3]");
  CHECK_ERROR(xg::data::encode_png(xg::zeros({1, 1, 3, 3})), xg::ShapeError, "got [1, 1, 3, 3]");
  CHECK_ERROR(xg::data::encode_png(xg::zeros({0, 3})), xg::ShapeError, "write_png: image [0, 3] is empty");
  CHECK_ERROR(xg::data::write_png("/nonexistent-dir/x.png", xg::zeros({2, 2})), xg::IOError,
              "write_png: cannot write '/nonexistent-dir/x.png'");
}
