#pragma once
// What the LibTorch time-to-accuracy peers (libtorch_fashion_mlp.cpp, libtorch_fashion_cnn.cpp)
// share: reading Debian's Fashion-MNIST IDX files with zlib and standardising the pixels as
// xg::data::fashion_mnist does (/ 255, mean 0.2860, std 0.3530). No LibTorch here: each peer
// wraps the values in tensors of its own shape.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace peers {

/// The training set's pixel mean and standard deviation (after / 255).
constexpr float kFashionMean = 0.2860f, kFashionStd = 0.3530f;

// An IDX file of unsigned bytes (gzip'd or raw: gzread reads both), as its dimensions and bytes.
struct Idx {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

inline Idx read_idx(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw std::runtime_error("cannot open '" + path + "' (install dataset-fashion-mnist or pass --data DIR)");
  auto read = [&](void* dst, std::size_t n, const char* what) {
    std::size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
      const int got = gzread(f, static_cast<char*>(dst) + done, chunk);
      if (got <= 0) {
        gzclose(f);
        throw std::runtime_error("IDX file '" + path + "': truncated while reading the " + what);
      }
      done += static_cast<std::size_t>(got);
    }
  };
  unsigned char magic[4];
  read(magic, 4, "magic number");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] < 1 || magic[3] > 4) {
    gzclose(f);
    throw std::runtime_error("IDX file '" + path + "': not an IDX file of unsigned bytes");
  }
  Idx idx;
  std::size_t count = 1;
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char b[4];
    read(b, 4, "dimensions");
    const int64_t n = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    idx.dims.push_back(n);
    count *= static_cast<std::size_t>(n);
  }
  idx.bytes.resize(count);
  read(idx.bytes.data(), count, "values");
  char extra;
  const bool trailing = gzread(f, &extra, 1) > 0;
  gzclose(f);
  if (trailing) throw std::runtime_error("IDX file '" + path + "': trailing bytes after the values");
  return idx;
}

/// The first `limit` (0: all) images of a split as standardised float pixels [n * 784] and their
/// labels [n]; `train` picks train-* or t10k-* files, gzip'd or not.
struct FashionSplit {
  int64_t n = 0;
  std::vector<float> pixels;
  std::vector<int64_t> labels;
};

inline FashionSplit load_fashion(const std::string& dir, bool train, int64_t limit) {
  const std::string prefix = dir + "/" + (train ? "train" : "t10k");
  auto pick = [&](const std::string& stem) {
    const std::string gz = prefix + stem + ".gz";
    if (FILE* f = std::fopen(gz.c_str(), "rb")) {
      std::fclose(f);
      return gz;
    }
    return prefix + stem;
  };
  const Idx images = read_idx(pick("-images-idx3-ubyte")), labels = read_idx(pick("-labels-idx1-ubyte"));
  if (images.dims.size() != 3 || images.dims[1] != 28 || images.dims[2] != 28 || labels.dims.size() != 1 ||
      labels.dims[0] != images.dims[0])
    throw std::runtime_error("Fashion-MNIST in '" + dir + "': unexpected image or label dimensions");
  FashionSplit s;
  s.n = images.dims[0];
  if (limit > 0 && limit < s.n) s.n = limit;
  s.pixels.resize(static_cast<std::size_t>(s.n * 784));
  const float inv_std = 1.0f / kFashionStd;
  for (std::size_t i = 0; i < s.pixels.size(); ++i)
    s.pixels[i] = (static_cast<float>(images.bytes[i]) / 255.0f - kFashionMean) * inv_std;
  s.labels.resize(static_cast<std::size_t>(s.n));
  for (std::size_t i = 0; i < s.labels.size(); ++i) {
    s.labels[i] = labels.bytes[i];
    if (s.labels[i] > 9) throw std::runtime_error("Fashion-MNIST labels: a label outside 0..9");
  }
  return s;
}

}  // namespace peers
