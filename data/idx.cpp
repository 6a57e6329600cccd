#include "xgrad/data/idx.hpp"

#include <zlib.h>

#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace xg::data {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw IOError("IDX file '" + path + "': " + what);
}

// Reads all bytes (decompressing gzip transparently; zlib passes plain files through).
std::vector<unsigned char> read_all(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<unsigned char> bytes;
  unsigned char buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      gzclose(f);
      fail(path, "corrupted compressed data after " + std::to_string(bytes.size()) + " bytes: " + msg);
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
  }
  int code = 0;
  const char* msg = gzerror(f, &code);
  if (code != Z_OK && code != Z_STREAM_END) {
    std::string m = msg ? msg : "?";
    gzclose(f);
    fail(path, "corrupted compressed data after " + std::to_string(bytes.size()) + " bytes: " + m);
  }
  if (gzclose(f) == Z_BUF_ERROR)
    fail(path, "truncated gzip stream after " + std::to_string(bytes.size()) + " bytes");
  return bytes;
}

}  // namespace

Tensor read_idx(const std::string& path) {
  const std::vector<unsigned char> b = read_all(path);
  if (b.size() < 4)
    fail(path, "truncated: " + std::to_string(b.size()) + " bytes, the 4-byte magic number is incomplete");
  if (b[0] != 0 || b[1] != 0)
    fail(path, "bad magic number (bytes 0-1 are " + std::to_string(b[0]) + ", " + std::to_string(b[1]) +
                   ", expected 0, 0): not an IDX file");
  if (b[2] != 0x08) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02X", static_cast<unsigned>(b[2]));
    fail(path, "unsupported element type " + std::string(type) + " at offset 2 (only unsigned bytes, 0x08)");
  }
  const int rank = b[3];
  if (rank < 1 || rank > kMaxRank)
    fail(path, "unsupported number of dimensions " + std::to_string(rank) + " at offset 3");
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (b.size() < header)
    fail(path, "truncated in the header: " + std::to_string(b.size()) + " bytes, the dimensions need " +
                   std::to_string(header));
  Shape shape;
  uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    const unsigned char* p = &b[4 + 4 * static_cast<std::size_t>(i)];
    const uint32_t d =
        (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
    shape.push_back(static_cast<int64_t>(d));
    count *= d;
  }
  const uint64_t have = b.size() - header;
  if (have < count)
    fail(path, "truncated: dimensions " + shape.str() + " need " + std::to_string(count) +
                   " bytes of data after the " + std::to_string(header) +
                   "-byte header, the file ends at offset " + std::to_string(b.size()));
  if (have > count)
    fail(path, std::to_string(have - count) + " unexpected bytes after the data (offset " +
                   std::to_string(header + count) + "); dimensions " + shape.str() +
                   " do not match the file size");
  Tensor t = empty(shape, {.dtype = Dtype::int64});
  int64_t* out = t.data<int64_t>();
  for (uint64_t i = 0; i < count; ++i) out[i] = b[header + i];
  return t;
}

void write_idx(const std::string& path, const Tensor& values) {
  if (!values.defined() || values.dim() < 1)
    throw ValueError("write_idx: needs a tensor of at least one axis");
  std::vector<unsigned char> b = {0, 0, 0x08, static_cast<unsigned char>(values.dim())};
  for (int64_t d : values.shape())
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>((d >> s) & 0xff));
  for (double v : values.to_vector<double>()) {
    if (v < 0 || v > 255) throw ValueError("write_idx: value " + std::to_string(v) + " is outside 0..255");
    b.push_back(static_cast<unsigned char>(v));
  }
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  bool ok;
  if (gz) {
    gzFile f = gzopen(tmp.c_str(), "wb");
    ok = f && gzwrite(f, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size());
    ok = (f && gzclose(f) == Z_OK) && ok;
  } else {
    FILE* f = std::fopen(tmp.c_str(), "wb");
    ok = f && std::fwrite(b.data(), 1, b.size(), f) == b.size();
    ok = (f && std::fclose(f) == 0) && ok;
  }
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IOError("IDX file '" + path + "': write failed");
  }
}

}  // namespace xg::data
