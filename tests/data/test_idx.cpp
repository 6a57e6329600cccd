// data/idx.cpp: IDX files (raw and gzip'd) round-trip; corrupted, truncated and missing files give
// one IOError naming the file; gzip is inflated as a stream bounded by the declared size (a bomb
// costs nothing, a valid file costs its tensor); the malformed-file corpus of
// tests/data/idx_corpus (scripts/make_idx_corpus.py) gives each its reason.
#include <doctest/doctest.h>
#include <zlib.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/data/idx.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define XG_TEST_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define XG_TEST_SANITIZER 1
#endif
#endif

namespace {
using xg_test::write_file;
std::string tmp_path(const std::string& name) {
  return xg_test::temp_path("data_" + name);
}

std::string idx_header(const std::vector<uint32_t>& dims) {
  std::string h("\x00\x00\x08", 3);
  h += static_cast<char>(dims.size());
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) h += static_cast<char>((d >> s) & 0xff);
  return h;
}

// A gzip member written as a stream: `head`, then `zeros` zero bytes fed 64 KiB at a time, so that
// making a bomb of many megabytes does not itself hold them in memory.
std::string gzip(const std::string& head, std::size_t zeros = 0) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out;
  std::vector<unsigned char> buf(1 << 16), zero(1 << 16, 0);
  auto feed = [&](const unsigned char* p, std::size_t n, int flush) {
    z.next_in = const_cast<unsigned char*>(p);
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = buf.data();
      z.avail_out = static_cast<uInt>(buf.size());
      deflate(&z, flush);
      out.append(reinterpret_cast<char*>(buf.data()), buf.size() - z.avail_out);
    } while (z.avail_out == 0);
  };
  feed(reinterpret_cast<const unsigned char*>(head.data()), head.size(), Z_NO_FLUSH);
  for (std::size_t left = zeros; left > 0;) {
    const std::size_t n = std::min(left, zero.size());
    feed(zero.data(), n, Z_NO_FLUSH);
    left -= n;
  }
  feed(nullptr, 0, Z_FINISH);
  deflateEnd(&z);
  return out;
}

}  // namespace

// First in the file, while the process's peak RSS is still small: inflating the whole bomb (as
// the reader once did, to 128 MiB and more) would raise it.
TEST_CASE("a gzip bomb is rejected at the first byte past the declared size, without inflating it") {
  const std::string p = tmp_path("bomb.idx.gz");
  const std::size_t inflated = std::size_t{128} << 20;
  write_file(p, gzip(idx_header({16}), inflated));  // 16 values declared, 128 MiB of zeros
  CHECK(std::filesystem::file_size(p) < std::size_t{1} << 20);
  const xg::test::RssGrowth rss;
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "the inflated data goes on past offset 24",
              "more than dimensions [16] declare");
  CHECK(rss.bytes() < (int64_t{16} << 20));
  std::remove(p.c_str());
}

TEST_CASE("a valid file costs its tensor and a small buffer, int64 or float32") {
#ifdef XG_TEST_SANITIZER
  MESSAGE("skipped under a sanitizer (its shadow memory inflates the resident set)");
#else
  // 8 Mi values written in pieces: the file is made without a copy in memory.
  const std::string p = tmp_path("valid8m.idx");
  const int64_t n = int64_t{8} << 20;
  {
    std::ofstream o(p, std::ios::binary);
    o << idx_header({8, 1024, 1024});
    std::string row(1 << 20, '\0');
    for (int k = 0; k < 8; ++k) {
      for (std::size_t i = 0; i < row.size(); ++i) row[i] = static_cast<char>((i + k) % 251);
      o << row;
    }
  }
  {
    const xg::test::RssGrowth rss;
    xg::Tensor t = xg::data::read_idx(p);
    CHECK(t.dtype() == xg::Dtype::int64);
    CHECK(t.data<int64_t>()[n - 1] == ((1 << 20) - 1 + 7) % 251);
    // 64 MiB of int64; the reader used to hold the bytes as well (8 MiB and more)
    CHECK(rss.bytes() < 8 * n + (int64_t{4} << 20));
  }
  {
    const xg::test::RssGrowth rss;
    xg::Tensor f = xg::data::read_idx(p, xg::Dtype::float32);
    CHECK(f.dtype() == xg::Dtype::float32);
    CHECK(f.shape() == xg::Shape{8, 1024, 1024});
    const float* d = f.data<float>();
    CHECK(d[0] == 0.0f);
    CHECK(d[250] == 250.0f);
    CHECK(d[251] == 0.0f);
    CHECK(d[n - 1] == static_cast<float>(((1 << 20) - 1 + 7) % 251));
    // 32 MiB of floats; the reader used to hold the 8 MiB of bytes and a 64 MiB int64 copy too
    CHECK(rss.bytes() < 4 * n + (int64_t{4} << 20));
  }
  std::remove(p.c_str());
#endif
}

TEST_CASE("IDX files round-trip, raw and gzip'd, as int64, float32 and float64") {
  xg::Tensor v = xg::tensor({0, 1, 2, 255, 7, 9}, {2, 3}, {.dtype = xg::Dtype::int64});
  for (const std::string name : {"a.idx", "a.idx.gz"}) {
    const std::string p = tmp_path(name);
    xg::data::write_idx(p, v);
    xg::Tensor r = xg::data::read_idx(p);
    CHECK(r.shape() == xg::Shape{2, 3});
    CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 255, 7, 9});
    CHECK(xg::data::read_idx_shape(p) == xg::Shape{2, 3});
    for (xg::Dtype d : {xg::Dtype::float32, xg::Dtype::float64}) {
      xg::Tensor f = xg::data::read_idx(p, d);
      CHECK(f.dtype() == d);
      CHECK(f.shape() == xg::Shape{2, 3});
      CHECK(f.to_vector<double>() == std::vector<double>{0, 1, 2, 255, 7, 9});
    }
    std::remove(p.c_str());
  }
}

TEST_CASE("corrupted, truncated and missing IDX files give one clear error naming the file") {
  const std::string p = tmp_path("bad.idx");
  write_file(p, std::string("\x01\x02\x08\x01", 4));
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "bad magic number");
  write_file(p, std::string("\x00\x00\x0B\x01\x00\x00\x00\x01\x01", 9));  // type 0x0B (int16)
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "unsupported element type 0x0B at offset 2");

  write_file(p,
             std::string("\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", 10));  // 5 values announced, 2 present
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, "truncated", "need 5 bytes", "offset 10");

  write_file(p, std::string("\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", 10));  // 1 announced, 2 present
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "1 unexpected bytes after the data");

  // A gzip stream cut in the middle.
  const std::string gz = tmp_path("cut.idx.gz");
  xg::data::write_idx(gz, xg::arange(0, 200, 1, {.dtype = xg::Dtype::int64}).reshape({10, 20}));
  const std::string all = xg_test::read_file(gz);
  write_file(gz, all.substr(0, all.size() / 2));
  const std::string e = ERROR_MESSAGE(xg::data::read_idx(gz), xg::IOError);
  CHECK(e.find(gz) != std::string::npos);
  CHECK((e.find("truncated") != std::string::npos || e.find("corrupted") != std::string::npos));
  CHECK(e.find('\n') == std::string::npos);

  CHECK_ERROR(xg::data::read_idx(tmp_path("does-not-exist.idx")), xg::IOError, tmp_path("does-not-exist.idx"),
              "cannot open");
  // No length to check the header against: a device is refused, not read until it ends.
  CHECK_ERROR(xg::data::read_idx("/dev/zero"), xg::IOError, "'/dev/zero'", "is not a regular file");
  std::remove(p.c_str());
  std::remove(gz.c_str());
}

TEST_CASE("bytes after a gzip stream are rejected, naming their offset, as after a raw file's data") {
  const std::string valid = idx_header({2, 3}) + std::string("\x00\x01\x02\x03\x04\x05", 6);
  const std::string member = gzip(valid);
  const std::string p = tmp_path("trailing.idx.gz");
  const std::string at = "(offset " + std::to_string(member.size()) + " of ";
  write_file(p, member);
  CHECK(xg::data::read_idx(p).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  write_file(p, member + "junk");
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "4 unexpected bytes after the gzip stream", at);
  write_file(p, member + member);  // gunzip would concatenate the two: the data would double
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "unexpected bytes after the gzip stream", at,
              "a second gzip member");
  // The header in one member and the data in another: also refused (one member per file).
  write_file(p, gzip(valid.substr(0, 12)) + gzip(valid.substr(12)));
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "a second gzip member");
  std::remove(p.c_str());
}

TEST_CASE("dimensions whose product overflows raise an IOError naming the file, not a ShapeError") {
  const std::string p = tmp_path("overflow.idx");
  const std::string pz = tmp_path("overflow.idx.gz");
  const uint32_t big = 0xFFFFFFFFu;
  // Each header with no data: the old reader's count wrapped modulo 2^64 (to 0 for the first
  // four), matched the empty data and left the overflow to the tensor's allocation.
  const std::vector<std::vector<uint32_t>> cases = {
      {65536, 65536, 65536, 65536},  // 2^64: wraps to 0
      {256, 256, 256, 256, 256, 256, 256, 256},
      {0, big, big, big},  // 0 values, but the strides overflow
      {0, 65536, 65536, 65536, 65536},
      {big, big},  // fits 64 unsigned bits, not int64
      {big, big, big},
  };
  for (const auto& dims : cases) {
    const std::string h = idx_header(dims);
    const std::string offsets = "(offsets 4-" + std::to_string(h.size() - 1) + ") overflow";
    write_file(p, h);
    CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, offsets, "does not fit in 64 bits");
    write_file(pz, gzip(h));
    CHECK_ERROR(xg::data::read_idx(pz), xg::IOError, pz, offsets);
    CHECK_ERROR(xg::data::read_idx_shape(pz), xg::IOError, pz, offsets);
  }
  std::remove(p.c_str());
  std::remove(pz.c_str());
}

TEST_CASE("a declared size is checked against the file before anything is allocated") {
  // 2^62 values in a 12-byte raw file, or in a few-byte gzip file: refused from the header.
  const std::string h = idx_header({1u << 31, 1u << 31});
  const std::string p = tmp_path("huge.idx"), pz = tmp_path("huge.idx.gz");
  write_file(p, h);
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "truncated", "need 4611686018427387904 bytes of data");
  write_file(pz, gzip(h));
  CHECK_ERROR(xg::data::read_idx(pz), xg::IOError, pz, "need 4611686018427387916 bytes",
              "can inflate to (at most 1032 times its length)");
  // A raw file of the right length (sparse: no disk used) for 2^40 values: more than memory.
  write_file(p, idx_header({1u << 20, 1u << 20}));
  std::filesystem::resize_file(p, 12 + (uint64_t{1} << 40));
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "hold 1099511627776 values, more than fit",
              "bytes of memory as int64");
  std::remove(p.c_str());
  std::remove(pz.c_str());
}

// Every file of tests/data/idx_corpus against its line in MANIFEST.tsv: "ok" files load with the
// shape given (values 0, 1, 2, ...), "error" files raise exactly xg::IOError, in one line that
// names the file and gives the reason. Also checks that the manifest and the directory agree.
TEST_CASE("the malformed-file corpus: each file gives an IOError naming it and its reason") {
  const std::filesystem::path dir = std::filesystem::path(XG_SOURCE_ROOT) / "tests" / "data" / "idx_corpus";
  std::ifstream manifest(dir / "MANIFEST.tsv");
  REQUIRE_MESSAGE(manifest.good(), "no manifest in ", dir.string());
  struct Entry {
    std::string expect, detail;
  };
  std::map<std::string, Entry> entries;
  for (std::string line; std::getline(manifest, line);) {
    const std::size_t a = line.find('\t'), b = line.find('\t', a + 1);
    REQUIRE_MESSAGE((a != std::string::npos && b != std::string::npos), "bad manifest line: ", line);
    entries[line.substr(0, a)] = {line.substr(a + 1, b - a - 1), line.substr(b + 1)};
  }
  int errors = 0, valid = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (name == "MANIFEST.tsv") continue;
    CAPTURE(name);
    const auto it = entries.find(name);
    REQUIRE_MESSAGE(it != entries.end(), name, " is not in MANIFEST.tsv");
    const std::string path = f.path().string();
    if (it->second.expect == "ok") {
      xg::Tensor t = xg::data::read_idx(path);
      CHECK(t.shape().str() == it->second.detail);
      const std::vector<int64_t> v = t.to_vector<int64_t>();
      for (std::size_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<int64_t>(i % 256));
      CHECK(xg::data::read_idx_shape(path) == t.shape());
      ++valid;
    } else {
      REQUIRE(it->second.expect == "error");
      const std::string e = ERROR_MESSAGE(xg::data::read_idx(path), xg::IOError);
      CHECK(e.rfind("IDX file '" + path + "': ", 0) == 0);
      CHECK_MESSAGE(e.find(it->second.detail) != std::string::npos, "expected '", it->second.detail,
                    "' in: ", e);
      CHECK(e.find('\n') == std::string::npos);
      // the same reason through the float32 reader
      CHECK(ERROR_MESSAGE(xg::data::read_idx(path, xg::Dtype::float32), xg::IOError) == e);
      ++errors;
    }
    entries.erase(it);
  }
  for (const auto& [name, _] : entries) FAIL_CHECK("MANIFEST.tsv lists ", name, " but the file is missing");
  CHECK(errors >= 40);
  CHECK(valid >= 3);
  MESSAGE("IDX corpus: ", errors, " malformed files, ", valid, " valid");
}
