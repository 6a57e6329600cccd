#include "xgrad/data/idx.hpp"

#include <zlib.h>

#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace xg::data {

namespace {

constexpr std::size_t kChunk = std::size_t{1} << 16;
// Deflate's maximum expansion (zlib's documentation: 1032:1). A gzip file cannot inflate to more
// than this many times its own length, so a header promising more is rejected before allocating.
constexpr uint64_t kMaxInflation = 1032;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw IOError("IDX file '" + path + "': " + what);
}

std::string num(uint64_t v) {
  return std::to_string(v);
}

uint64_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return UINT64_MAX;  // unknown: no limit of our own
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

// The bytes of the file, inflated when it is gzip'd (detected from its first two bytes), handed
// out in pieces so that nothing larger than one chunk is ever buffered. Offsets in messages are of
// the file for raw files and of the inflated data (with the compressed offset) for gzip.
class ByteSource {
 public:
  explicit ByteSource(const std::string& path) : path_(path) {
    f_.reset(std::fopen(path.c_str(), "rb"));
    if (!f_) fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(::fileno(f_.get()), &st) != 0)
      fail(path, std::string("cannot stat: ") + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail(path, "is a directory, not a file");
    // A length is needed to check the header against: no pipes or devices.
    if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file (a device, pipe or socket)");
    size_ = static_cast<uint64_t>(st.st_size);
    unsigned char m[2] = {0, 0};
    gz_ = std::fread(m, 1, 2, f_.get()) == 2 && m[0] == 0x1f && m[1] == 0x8b;
    if (std::fseek(f_.get(), 0, SEEK_SET) != 0)
      fail(path, std::string("cannot seek: ") + std::strerror(errno));
    if (gz_) {
      if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) fail(path, "cannot initialise zlib");
      z_ready_ = true;
      in_.resize(kChunk);
    }
  }
  ~ByteSource() {
    if (z_ready_) inflateEnd(&z_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool gzip() const { return gz_; }
  uint64_t file_size() const { return size_; }
  /// Bytes handed out so far (the offset reached in the raw or inflated data).
  uint64_t produced() const { return produced_; }

  /// Up to n bytes into dst; fewer only at the end of the data. At the end of a gzip stream,
  /// anything after it in the file is an error.
  std::size_t pull(unsigned char* dst, std::size_t n) {
    const std::size_t got = gz_ ? inflate_into(dst, n) : read_into(dst, n);
    produced_ += got;
    return got;
  }

 private:
  std::size_t read_into(unsigned char* dst, std::size_t n) {
    const std::size_t got = std::fread(dst, 1, n, f_.get());
    if (got < n && std::ferror(f_.get()))
      fail(path_, "read error at offset " + num(produced_ + got) + ": " + std::strerror(errno));
    return got;
  }

  std::size_t inflate_into(unsigned char* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n && !ended_) {
      if (z_.avail_in == 0) {
        const std::size_t r = read_into(in_.data(), in_.size());
        if (r == 0)
          fail(path_, "truncated gzip stream: the file ends at offset " + num(in_pos_) + " after " +
                          num(produced_ + got) + " bytes of inflated data");
        in_pos_ += r;
        z_.next_in = in_.data();
        z_.avail_in = static_cast<uInt>(r);
      }
      z_.next_out = dst + got;
      z_.avail_out = static_cast<uInt>(n - got);
      const int rc = inflate(&z_, Z_NO_FLUSH);
      got = n - z_.avail_out;
      if (rc == Z_STREAM_END) {
        ended_ = true;
        check_nothing_follows();
      } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) {
        fail(path_, "corrupted gzip data near offset " + num(in_pos_ - z_.avail_in) + " (after " +
                        num(produced_ + got) + " bytes of inflated data): " + (z_.msg ? z_.msg : "invalid"));
      } else if (rc == Z_MEM_ERROR) {
        fail(path_, "out of memory while inflating");
      }
      // Z_OK, or Z_BUF_ERROR (no progress without more input): loop, refilling when empty.
    }
    return got;
  }

  // After the gzip trailer (CRC and length checked by zlib) the file must end: a second member
  // or garbage would otherwise be ignored or, for a member, silently appended.
  void check_nothing_follows() {
    const uint64_t end = in_pos_ - z_.avail_in;
    unsigned char next[2] = {0, 0};
    std::size_t have = std::min<std::size_t>(z_.avail_in, 2);
    std::memcpy(next, z_.next_in, have);
    if (have < 2) have += read_into(next + have, 2 - have);
    if (have == 0 && end >= size_) return;
    const uint64_t extra = size_ > end ? size_ - end : have;
    const bool member = have == 2 && next[0] == 0x1f && next[1] == 0x8b;
    fail(path_, num(extra) + " unexpected bytes after the gzip stream (offset " + num(end) + " of " +
                    num(size_) + ")" + (member ? ": a second gzip member, which is not accepted" : ""));
  }

  std::string path_;
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> f_;  // closed on a throw from the constructor too
  uint64_t size_ = 0, produced_ = 0, in_pos_ = 0;
  bool gz_ = false, z_ready_ = false, ended_ = false;
  z_stream z_{};
  std::vector<unsigned char> in_;
};

struct Header {
  Shape shape;
  uint64_t count = 0;  // values declared
  uint64_t bytes = 0;  // header length
};

// Reads and checks the header, then checks the declared size against the file before anything is
// allocated: the product (and every row-major stride) fits in int64, a raw file is exactly that
// long, a gzip file can inflate that far.
Header read_header(ByteSource& src, const std::string& path) {
  unsigned char b[4 + 4 * kMaxRank];
  const std::size_t n = src.pull(b, 4);
  if (n == 0 && src.file_size() == 0) fail(path, "empty file (0 bytes): not an IDX file");
  const std::string inflated = src.gzip() ? " bytes of inflated data" : " bytes";
  if (n < 4) fail(path, "truncated: " + num(n) + inflated + ", the 4-byte magic number is incomplete");
  if (b[0] != 0 || b[1] != 0)
    fail(path, "bad magic number (bytes 0-1 are " + num(b[0]) + ", " + num(b[1]) +
                   ", expected 0, 0): not an IDX file");
  if (b[2] != 0x08) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02X", static_cast<unsigned>(b[2]));
    fail(path, "unsupported element type " + std::string(type) + " at offset 2 (only unsigned bytes, 0x08)");
  }
  const int rank = b[3];
  if (rank < 1 || rank > kMaxRank)
    fail(path, "unsupported number of dimensions " + num(static_cast<uint64_t>(rank)) +
                   " at offset 3 (1 to " + num(kMaxRank) + ")");
  Header h;
  h.bytes = 4 + 4 * static_cast<uint64_t>(rank);
  const std::size_t d = src.pull(b + 4, 4 * static_cast<std::size_t>(rank));
  if (d < 4 * static_cast<std::size_t>(rank))
    fail(path, "truncated in the header: " + num(4 + d) + inflated + ", the " +
                   num(static_cast<uint64_t>(rank)) + " dimensions need " + num(h.bytes));
  std::vector<int64_t> dims(static_cast<std::size_t>(rank));
  for (int i = 0; i < rank; ++i) {
    const unsigned char* p = b + 4 + 4 * i;
    dims[static_cast<std::size_t>(i)] =
        (int64_t(p[0]) << 24) | (int64_t(p[1]) << 16) | (int64_t(p[2]) << 8) | int64_t(p[3]);
  }
  h.shape = Shape(dims);
  // Row-major strides are suffix products: each must fit, not only the total (which a zero
  // extent would make 0).
  int64_t count = 1;
  for (int i = rank - 1; i >= 0; --i)
    if (__builtin_mul_overflow(count, dims[static_cast<std::size_t>(i)], &count))
      fail(path, "dimensions " + h.shape.str() + " (offsets 4-" + num(h.bytes - 1) +
                     ") overflow: their product does not fit in 64 bits");
  h.count = static_cast<uint64_t>(count);
  const uint64_t need = h.bytes + h.count;  // < 2^63 + 36: no overflow
  if (!src.gzip()) {
    if (src.file_size() < need)
      fail(path, "truncated: dimensions " + h.shape.str() + " need " + num(h.count) +
                     " bytes of data after the " + num(h.bytes) + "-byte header, the file ends at offset " +
                     num(src.file_size()));
    if (src.file_size() > need)
      fail(path, num(src.file_size() - need) + " unexpected bytes after the data (offset " + num(need) +
                     "); dimensions " + h.shape.str() + " do not match the file size");
  } else if (need / kMaxInflation > src.file_size()) {
    fail(path, "dimensions " + h.shape.str() + " need " + num(need) + " bytes, more than a " +
                   num(src.file_size()) + "-byte gzip file can inflate to (at most " + num(kMaxInflation) +
                   " times its length)");
  }
  return h;
}

template <class T>
void decode(ByteSource& src, const std::string& path, const Header& h, T* out) {
  std::vector<unsigned char> buf(static_cast<std::size_t>(std::min<uint64_t>(kChunk, h.count)) + 1);
  for (uint64_t done = 0; done < h.count;) {
    const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(kChunk, h.count - done));
    const std::size_t got = src.pull(buf.data(), want);
    for (std::size_t i = 0; i < got; ++i) out[done + i] = static_cast<T>(buf[i]);
    done += got;
    if (got < want)
      fail(path, "truncated: dimensions " + h.shape.str() + " need " + num(h.count) +
                     " bytes of data after the " + num(h.bytes) + "-byte header, the " +
                     (src.gzip() ? "inflated data" : "file") + " ends at offset " + num(src.produced()));
  }
  // One byte more must not exist: for gzip this also reads the trailer (CRC, length) and checks
  // that the file ends there.
  if (src.pull(buf.data(), 1) != 0)
    fail(path, std::string(src.gzip() ? "the inflated data" : "the file") + " goes on past offset " +
                   num(h.bytes + h.count) + ", more than dimensions " + h.shape.str() + " declare");
}

}  // namespace

Tensor read_idx(const std::string& path) {
  return read_idx(path, Dtype::int64);
}

Tensor read_idx(const std::string& path, Dtype dtype) {
  ByteSource src(path);
  const Header h = read_header(src, path);
  const uint64_t size = dtype_size(dtype), mem = physical_memory();
  if (h.count > mem / size)
    fail(path, "dimensions " + h.shape.str() + " hold " + num(h.count) +
                   " values, more than fit in this machine's " + num(mem) + " bytes of memory as " +
                   dtype_name(dtype));
  Tensor t = empty(h.shape, {.dtype = dtype});
  switch (dtype) {
    case Dtype::float32:
      decode(src, path, h, t.data<float>());
      break;
    case Dtype::float64:
      decode(src, path, h, t.data<double>());
      break;
    case Dtype::int64:
      decode(src, path, h, t.data<int64_t>());
      break;
  }
  return t;
}

Shape read_idx_shape(const std::string& path) {
  ByteSource src(path);
  return read_header(src, path).shape;
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
