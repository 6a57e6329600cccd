// autograd/tools/serialize.cpp: safetensors files round-trip every dtype with metadata and an
// aligned header; corrupted, truncated and missing files give an IOError naming the file and what
// is wrong.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
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
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "tensor 'b' starts at data offset 4", "overlaps tensor 'a'");

  write_file(p, make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "tensor 'a' of shape [3] and dtype F32 needs 12 bytes");

  write_file(p, make_file(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, "unsupported dtype C64");

  CHECK_ERROR(xg::load_tensors(tmp("missing.safetensors")), xg::IOError, tmp("missing.safetensors"),
              "cannot open");
  std::remove(p.c_str());
}

namespace {
// One F32 tensor "w" whose shape and data_offsets are given as JSON text, over `bytes` zero bytes.
std::string one_tensor(const std::string& shape, const std::string& offsets, std::size_t bytes,
                       const std::string& dtype = "F32") {
  return make_file(
      R"({"w":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}",
      std::string(bytes, '\0'));
}
}  // namespace

TEST_CASE("shapes and offsets must be non-negative integers that fit in int64") {
  // Before: floats were cast to integers (undefined for 1e30) and [3.7] read as [3].
  const std::string p = tmp("ints.safetensors");
  write_file(p, one_tensor("[1e30]", "[0,4]", 4));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "field 'shape'", "1e+30");
  write_file(p, one_tensor("[3.7]", "[0,12]", 12));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "field 'shape'", "3.7", "at axis 0");
  write_file(p, one_tensor("[2,-1]", "[0,8]", 8));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "field 'shape'", "-1", "at axis 1");
  write_file(p, one_tensor("[9223372036854775808]", "[0,4]", 4));  // 2^63
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "field 'shape'", "9223372036854775808");
  write_file(p, one_tensor("[\"2\"]", "[0,8]", 8));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "field 'shape'");
  write_file(p, one_tensor("[1e400]", "[0,4]", 4));  // not a double at all: the JSON is malformed
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "malformed JSON header");
  write_file(p, one_tensor("[2]", "[0,8.5]", 8));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "field 'data_offsets'", "8.5");
  write_file(p, one_tensor("[2]", "[-8,0]", 8));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "field 'data_offsets'", "-8");
  write_file(p, one_tensor("[2]", "[0,1e30]", 8));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "field 'data_offsets'", "1e+30");
  write_file(p, one_tensor("[2]", "[0]", 8));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "not an array of two offsets");
  write_file(p, one_tensor("[2]", "[8,0]", 8));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "ends before it begins");
  // integral values written as floats are exact, so they are read
  write_file(p, one_tensor("[2.0,1e0]", "[0,8.0]", 8));
  CHECK(xg::load_tensors(p).at("w").shape() == xg::Shape{2, 1});
  std::remove(p.c_str());
}

TEST_CASE("overflowing shapes raise an IOError naming the file") {
  // Before: a ShapeError that named no file (too many axes; a product beyond 64 bits).
  const std::string p = tmp("overflow.safetensors");
  write_file(p, one_tensor("[4294967296,4294967296]", "[0,4]", 4));  // 2^64 elements
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "overflows");
  write_file(p, one_tensor("[4611686018427387904]", "[0,4]", 4));  // 2^62 elements, 2^64 bytes
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "overflows");
  write_file(p, one_tensor("[4294967296,4294967296,0]", "[0,0]", 0));  // empty: no bytes, no overflow
  CHECK(xg::load_tensors(p).at("w").numel() == 0);
  write_file(p, one_tensor("[1,1,1,1,1,1,1,1,1]", "[0,4]", 4));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "9 axes");
  write_file(p, one_tensor("[1024]", "[0,4]", 4));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "needs 4096 bytes");
  std::remove(p.c_str());
}

TEST_CASE("the header is limited to the format's 100 MB and holds each name once") {
  const std::string p = tmp("header.safetensors");
  {
    // 150 MB declared and present (a sparse file): rejected before the header is read.
    std::string len(8, '\0');
    const uint64_t n = 150'000'000;
    for (int i = 0; i < 8; ++i) len[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    write_file(p, len);
    std::filesystem::resize_file(p, 8 + n);
    CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "header length 150000000", "limit of 100000000 bytes");
  }
  {
    // a save that would write a header the reader refuses refuses too (a 100 MB metadata value)
    std::filesystem::remove(p);
    CHECK_ERROR(xg::save_tensors(p, {{"w", xg::ones({1})}}, {{"note", std::string(100'000'000, 'x')}}),
                xg::IOError, p, "above the format's limit of 100000000");
    CHECK(!std::filesystem::exists(p));
  }
  write_file(p, make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          std::string(8, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "duplicate tensor name 'a'");
  write_file(p, make_file(R"({"a":{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,4]}})",
                          std::string(4, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "duplicate key 'shape'");
  write_file(p, make_file(R"({"__metadata__":{"k":"x","k":"y"}})", ""));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "duplicate key 'k'");
  write_file(p, make_file(R"({"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "empty name");
  std::remove(p.c_str());
}

TEST_CASE("byte ranges tile the data area; entries, dtypes and metadata are checked") {
  const std::string p = tmp("ranges.safetensors");
  write_file(p, make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                          std::string(12, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'b' starts at data offset 8", "a gap of 4 bytes");
  write_file(p, one_tensor("[1]", "[0,4]", 8));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "4 bytes after the last tensor");
  write_file(p, one_tensor("[2]", "[0,8]", 8, "F33"));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "invalid dtype 'F33'");
  write_file(p, one_tensor("[2]", "[0,8]", 8, "I32\",\"x\":\"1"));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "unknown field 'x'");
  write_file(p, one_tensor("[4]", "[0,8]", 8, "I16"));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "unsupported dtype I16");
  write_file(p, make_file(R"({"w":{"dtype":"F32","data_offsets":[0,0]}})", ""));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "field 'shape' is missing");
  write_file(p, make_file(R"({"w":{"dtype":7,"shape":[],"data_offsets":[0,4]}})", std::string(4, '\0')));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "'dtype' is not a string");
  write_file(p, make_file(R"({"w":[1,2]})", ""));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w'", "not an object");
  write_file(p, make_file(R"({"__metadata__":{"k":3}})", ""));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "__metadata__ entry 'k' is not a string");
  write_file(p, make_file(R"({"__metadata__":["k"]})", ""));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "__metadata__ is not an object");
  write_file(
      p, make_file(R"({"w":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x01\x02", 2)));
  CHECK_ERROR(xg::load_tensors(p), xg::IOError, p, "tensor 'w' of dtype BOOL holds byte 2", "0 or 1");
  std::remove(p.c_str());
}

namespace {
// The 16-bit patterns of a tensor stored as F16/BF16: the raw bytes of its data range.
std::vector<uint16_t> stored_bits(const std::string& raw, std::size_t begin, std::size_t count) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(raw[i])) << (8 * i);
  std::vector<uint16_t> out(count);
  for (std::size_t i = 0; i < count; ++i)
    out[i] = static_cast<uint16_t>(static_cast<unsigned char>(raw[8 + n + begin + 2 * i]) |
                                   static_cast<unsigned char>(raw[8 + n + begin + 2 * i + 1]) << 8);
  return out;
}
}  // namespace

TEST_CASE("tensors are laid out largest element first, every one aligned; the header keeps the order") {
  const std::string p = tmp("aligned.safetensors");
  xg::Tensor a = xg::tensor({1.f, 2.f, 3.f});
  xg::Tensor c = xg::tensor({5}, {.dtype = xg::Dtype::int64});
  xg::Tensor b = xg::tensor({1.5, -2.5}, {.dtype = xg::Dtype::float64});
  xg::Tensor d = xg::tensor({4.f});
  xg::save_tensors(p, {{"a", a}, {"c", c}, {"b", b}, {"d", d}});
  const std::string raw = read_file(p);
  const std::size_t n = static_cast<unsigned char>(raw[0]) | static_cast<std::size_t>(raw[1]) << 8;
  CHECK((8 + n) % 8 == 0);
  const std::string header = raw.substr(8, n);
  // 8-byte tensors first in the caller's order (c, b), then the 4-byte ones (a, d)
  CHECK(header.find(R"("a":{"dtype":"F32","shape":[3],"data_offsets":[24,36]})") != std::string::npos);
  CHECK(header.find(R"("c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]})") != std::string::npos);
  CHECK(header.find(R"("b":{"dtype":"F64","shape":[2],"data_offsets":[8,24]})") != std::string::npos);
  CHECK(header.find(R"("d":{"dtype":"F32","shape":[1],"data_offsets":[36,40]})") != std::string::npos);
  CHECK(header.find('a') < header.find("\"c\""));
  CHECK(header.back() == ' ');  // padded with spaces (the JSON alone is not a multiple of 8 here)
  xg::TensorFile f = xg::load_tensors(p);
  REQUIRE(f.tensors.size() == 4);
  CHECK(f.tensors[0].first == "a");
  CHECK(f.tensors[1].first == "c");
  CHECK(f.tensors[2].first == "b");
  CHECK(f.tensors[3].first == "d");
  CHECK(f.at("b").to_vector<double>() == std::vector<double>{1.5, -2.5});
  CHECK(f.at("a").to_vector<float>() == std::vector<float>{1, 2, 3});
  // an unaligned file (as older xgrad wrote: caller's order, no padding) is still read, in header order
  std::string old(8, '\0');
  const std::string h = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("y":{"dtype":"F64","shape":[1],"data_offsets":[4,12]}})";
  old[0] = static_cast<char>(h.size());
  const float x = 0.25f;
  const double y = -3.0;
  old += h + std::string(reinterpret_cast<const char*>(&x), 4) +
         std::string(reinterpret_cast<const char*>(&y), 8);
  write_file(p, old);
  f = xg::load_tensors(p);
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].first == "x");
  CHECK(f.at("x").to_vector<float>() == std::vector<float>{0.25f});
  CHECK(f.at("y").to_vector<double>() == std::vector<double>{-3.0});
  std::remove(p.c_str());
}

TEST_CASE("float tensors can be stored as F16 or BF16 with PyTorch's rounding") {
  const std::string p = tmp("half.safetensors");
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  // ties and double rounding, overflow, the largest half, subnormals, underflow, signed zero
  const std::vector<double> v = {1 + 0x1p-11 + 0x1p-40,
                                 65520.0,
                                 65519.99,
                                 0x1p-25,
                                 0x1p-24 * 1.5,
                                 3e-8,
                                 1e-45,
                                 -1e-40,
                                 3.4e38,
                                 1e39,
                                 -inf,
                                 -0.0,
                                 0.1,
                                 -2.5,
                                 1 + 0x1p-8 + 0x1p-40,
                                 nan,
                                 -nan};
  // torch.tensor(v, dtype=torch.float64).half().view(torch.int16) (as unsigned), and the same
  // from .float(): identical
  const std::vector<uint16_t> f16 = {15360, 31744, 31743, 0,     2,     1,     0,     32768, 31744,
                                     31744, 64512, 32768, 11878, 49408, 15364, 32256, 65024};
  // torch.tensor(v, dtype=torch.float64).bfloat16().view(torch.int16); NaN is 0x7fc0 whatever
  // its sign
  const std::vector<uint16_t> bf16 = {16256, 18304, 18304, 13056, 13248, 13057, 0,     32769, 32640,
                                      32640, 65408, 32768, 15821, 49184, 16256, 32704, 32704};
  xg::Tensor d = xg::tensor(v, {.dtype = xg::Dtype::float64});
  xg::Tensor s = d.to(xg::Dtype::float32);
  xg::Tensor i = xg::tensor({3, -4}, {.dtype = xg::Dtype::int64});
  const std::size_t count = v.size();
  for (auto storage : {xg::FloatStorage::float16, xg::FloatStorage::bfloat16}) {
    const auto& want = storage == xg::FloatStorage::float16 ? f16 : bf16;
    CAPTURE(storage == xg::FloatStorage::float16);
    xg::save_tensors(p, {{"d", d}, {"s", s}, {"i", i}}, {}, {.floats = storage});
    const std::string raw = read_file(p);
    // i (8 bytes) first, then d and s (2 bytes each)
    CHECK(stored_bits(raw, 16, count) == want);
    CHECK(stored_bits(raw, 16 + 2 * count, count) == want);
    xg::TensorFile f = xg::load_tensors(p);
    CHECK(f.at("i").dtype() == xg::Dtype::int64);
    CHECK(f.at("i").to_vector<int64_t>() == std::vector<int64_t>{3, -4});
    REQUIRE(f.at("d").dtype() == xg::Dtype::float32);
    const std::vector<float> back = f.at("d").to_vector<float>();
    // read back as float32: exact 16-bit values
    CHECK(back[0] == 1.0f);
    CHECK(back[1] ==
          (storage == xg::FloatStorage::float16 ? std::numeric_limits<float>::infinity() : 65536.0f));
    CHECK(back[9] == std::numeric_limits<float>::infinity());
    CHECK(back[2] == (storage == xg::FloatStorage::float16 ? 65504.0f : 65536.0f));
    CHECK(back[4] == (storage == xg::FloatStorage::float16 ? 0x1p-23f : 0x1p-24f * 1.5f));
    CHECK(std::isnan(back[15]));
    CHECK(std::signbit(back[11]));
    CHECK(f.at("s").to_vector<float>()[13] == -2.5f);
  }
  std::remove(p.c_str());
}

TEST_CASE("__metadata__ round-trips exactly") {
  const std::string p = tmp("meta.safetensors");
  const std::map<std::string, std::string> meta = {
      {"quote", "say \"hi\""},
      {"backslash", R"(C:\path\n not a newline \u0041)"},
      {"unicode", "caf\xc3\xa9 \xe2\x88\x87 \xf0\x9f\x98\x80"},
      {"empty", ""},
      {"", "empty key"},
      {"control", std::string("tab\tnewline\nnul\0end\x01", 20)},
      {"json", R"({"nested": [1, 2]})"},
  };
  xg::save_tensors(p, {{"w", xg::ones({2})}}, meta);
  CHECK(xg::load_tensors(p).metadata == meta);
  // no metadata: none written, none read
  xg::save_tensors(p, {{"w", xg::ones({2})}});
  CHECK(read_file(p).find("__metadata__") == std::string::npos);
  CHECK(xg::load_tensors(p).metadata.empty());
  // names survive too
  xg::save_tensors(p, {{"layer.\"0\"\\w\xc3\xa9", xg::ones({1})}});
  CHECK(xg::load_tensors(p).tensors.at(0).first == "layer.\"0\"\\w\xc3\xa9");
  CHECK_ERROR(xg::save_tensors(p, {{"w", xg::ones({1})}}, {{"bad", "\xff\xfe"}}), xg::ValueError,
              "save_tensors", "not valid UTF-8");
  CHECK_ERROR(xg::save_tensors(p, {{"w\xc3", xg::ones({1})}}), xg::ValueError, "save_tensors",
              "not valid UTF-8");
  std::remove(p.c_str());
}
