#include "xgrad/data/image.hpp"

#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <vector>

#include "xgrad/autograd/tensor/error.hpp"

namespace xg::data {

namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

// One chunk: length, type, data, CRC-32 of type and data (PNG's layout).
void put_chunk(std::string& out, const char type[5], const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const std::size_t start = out.size();
  out.append(type, 4);
  out += data;
  const auto* p = reinterpret_cast<const Bytef*>(out.data() + start);
  put_u32(out, static_cast<uint32_t>(crc32(0L, p, static_cast<uInt>(out.size() - start))));
}

}  // namespace

std::string encode_png(const Tensor& image) {
  const Shape& s = image.shape();
  const bool chw = s.rank() == 3 && (s[0] == 1 || s[0] == 3);
  if (!(s.rank() == 2 || chw))
    throw ShapeError("write_png: image must be [H, W], [1, H, W] or [3, H, W], got " + s.str());
  const int64_t channels = s.rank() == 2 ? 1 : s[0], h = s[s.rank() - 2], w = s[s.rank() - 1];
  if (h == 0 || w == 0) throw ShapeError("write_png: image " + s.str() + " is empty");
  const std::vector<double> v = image.to(Dtype::float64).to_vector<double>();
  // Scanlines, each with filter type 0 (none), pixels interleaved (RGB) from the planar [C, H, W].
  std::string raw;
  raw.reserve(static_cast<std::size_t>(h * (1 + w * channels)));
  for (int64_t y = 0; y < h; ++y) {
    raw.push_back('\0');
    for (int64_t x = 0; x < w; ++x)
      for (int64_t c = 0; c < channels; ++c) {
        const double p = v[static_cast<std::size_t>((c * h + y) * w + x)];
        const double q = std::isnan(p) ? 0.0 : std::fmin(std::fmax(p, 0.0), 1.0);
        raw.push_back(static_cast<char>(static_cast<uint8_t>(std::lround(q * 255.0))));
      }
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                Z_BEST_COMPRESSION) != Z_OK)
    throw IOError("write_png: zlib could not compress the image");
  packed.resize(packed_size);
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_u32(ihdr, static_cast<uint32_t>(w));
  put_u32(ihdr, static_cast<uint32_t>(h));
  ihdr += std::string{8, static_cast<char>(channels == 1 ? 0 : 2), 0, 0, 0};  // depth, colour type, ...
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", packed);
  put_chunk(out, "IEND", "");
  return out;
}

void write_png(const std::string& path, const Tensor& image) {
  const std::string bytes = encode_png(image);
  std::ofstream f(path, std::ios::binary);
  if (!f || !f.write(bytes.data(), static_cast<std::streamsize>(bytes.size())) || !f.flush())
    throw IOError("write_png: cannot write '" + path + "'");
}

}  // namespace xg::data
