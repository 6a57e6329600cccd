// data/idx.cpp: IDX files (raw and gzip'd) round-trip; corrupted, truncated and missing files give
// one IOError naming the file.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/data/idx.hpp"

namespace {
using xg_test::write_file;
std::string tmp_path(const std::string& name) {
  return xg_test::temp_path("data_" + name);
}
}  // namespace

TEST_CASE("IDX files round-trip, raw and gzip'd") {
  xg::Tensor v = xg::tensor({0, 1, 2, 255, 7, 9}, {2, 3}, {.dtype = xg::Dtype::int64});
  for (const std::string name : {"a.idx", "a.idx.gz"}) {
    const std::string p = tmp_path(name);
    xg::data::write_idx(p, v);
    xg::Tensor r = xg::data::read_idx(p);
    CHECK(r.shape() == xg::Shape{2, 3});
    CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 255, 7, 9});
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
  std::remove(p.c_str());
  std::remove(gz.c_str());
}
