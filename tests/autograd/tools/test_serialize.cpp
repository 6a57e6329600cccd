// autograd/tools/serialize.cpp: safetensors files round-trip every dtype with metadata and an
// aligned header; corrupted, truncated and missing files give an IOError naming the file and what
// is wrong.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

namespace {
using xg_test::read_file;
using xg_test::write_file;
std::string tmp(const std::string& name) {
  return xg_test::temp_path("serialize_" + name);
}
// A safetensors file by hand: 8-byte length, header, data.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}
}  // namespace

TEST_CASE("tensor files round-trip every dtype with metadata") {
  const std::string p = tmp("rt.safetensors");
  xg::Tensor a = xg::arange(0, 6, 1).reshape({2, 3});
  xg::Tensor b = xg::tensor({1.5, -2.25}, {.dtype = xg::Dtype::float64});
  xg::Tensor c = xg::tensor({7, -8, 9}, {.dtype = xg::Dtype::int64});
  xg::Tensor e = xg::zeros({0, 4});
  xg::save_tensors(p, {{"a", a}, {"b", b}, {"c", c}, {"empty", e}}, {{"note", "hello"}});
  xg::TensorFile f = xg::load_tensors(p);
  REQUIRE(f.tensors.size() == 4);
  CHECK(f.tensors[0].first == "a");
  CHECK(f.at("a").shape() == xg::Shape{2, 3});
  CHECK(f.at("a").to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(f.at("b").dtype() == xg::Dtype::float64);
  CHECK(f.at("b").to_vector<double>() == std::vector<double>{1.5, -2.25});
  CHECK(f.at("c").to_vector<int64_t>() == std::vector<int64_t>{7, -8, 9});
  CHECK(f.at("empty").shape() == xg::Shape{0, 4});
  CHECK(f.metadata.at("note") == "hello");
  CHECK_ERROR(f.at("nope"), xg::IOError, "no tensor named 'nope'");
  // the header is 8-byte aligned JSON, as the format wants
  const std::string raw = read_file(p);
  CHECK((8 + static_cast<unsigned char>(raw[0])) % 8 == 0);
  std::remove(p.c_str());
}

TEST_CASE("corrupted tensor files give a clear error naming the file and what is wrong") {
  const std::string p = tmp("bad.safetensors");
  xg::save_tensors(p, {{"w", xg::ones({4, 4})}});
  const std::string good = read_file(p);

  write_file(p, good.substr(0, good.size() - 10));  // truncated data
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "truncated");

  write_file(p, good.substr(0, 5));  // truncated length
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "header length is missing");

  std::string big = good;
  big[6] = '\x7f';  // header length far beyond the file
  write_file(p, big);
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "runs past the end of the file");

  write_file(p, make_file("{not json", ""));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "malformed JSON header at offset 8");

  write_file(
      p,
      make_file(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          std::string(12, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "tensor 'b' starts at data offset 4", "gap or overlap");

  write_file(p, make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "tensor 'a' of shape [3] and dtype F32 needs 12 bytes");

  write_file(p, make_file(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "unsupported dtype C64");

  CHECK_ERROR(xg::load_tensors(tmp("missing.safetensors")), xg::IOError, tmp("missing.safetensors"),
              "cannot open");
  std::remove(p.c_str());
}
