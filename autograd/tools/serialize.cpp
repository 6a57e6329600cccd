#include "xgrad/autograd/tools/serialize.hpp"

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

namespace xg {

namespace {

// The format's own limit on the JSON header: a larger length is rejected before allocating, and
// a save that would write one refuses.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const char* st_dtype(Dtype d) {
  switch (d) {
    case Dtype::float32:
      return "F32";
    case Dtype::float64:
      return "F64";
    case Dtype::int64:
      return "I64";
  }
  return "?";
}

[[noreturn]] void io_fail(const std::string& path, const std::string& what) {
  throw IOError("safetensors file '" + path + "': " + what);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0)
    v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

}  // namespace

const Tensor& TensorFile::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw IOError("safetensors file '" + path + "': no tensor named '" + name + "'");
}

namespace {

// float32 -> float16 bits, rounding to nearest even: subnormals kept, overflow to inf, NaN to the
// quiet NaN 0x7e00 with its sign (the bits a float32 tensor's .half() gives).
uint16_t float_to_half(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t a = bits & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00;
  if (a >= 0x477ff000u) return sign | 0x7c00;  // 65520 and above round to inf
  if (a < 0x38800000u) {  // below 2^-14: a subnormal half, exact scaling then round to even
    float m;
    std::memcpy(&m, &a, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(m * 16777216.0f));
  }
  const uint32_t rebased = a - (112u << 23);  // exponent bias 127 -> 15
  return sign | static_cast<uint16_t>((rebased + 0xfffu + ((a >> 13) & 1u)) >> 13);
}

// float32 -> bfloat16 bits, rounding to nearest even (subnormals kept, overflow to inf); NaN
// becomes 0x7fc0.
uint16_t float_to_bfloat16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// A float tensor's values as 16-bit patterns. float64 goes through float32 first, as PyTorch's
// float64 -> half/bfloat16 conversion does (a double rounding, kept for identical bits).
std::vector<uint16_t> to_16bit(const Tensor& t, FloatStorage storage) {
  std::vector<uint16_t> out(static_cast<std::size_t>(t.numel()));
  const auto conv = storage == FloatStorage::float16 ? float_to_half : float_to_bfloat16;
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = conv(t.dtype() == Dtype::float64 ? static_cast<float>(t.data<double>()[i]) : t.data<float>()[i]);
  return out;
}

}  // namespace

void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata, SaveOptions options) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  struct Out {
    const std::string* name;
    const Tensor* t;
    const char* dtype;
    std::size_t elem;
    std::vector<uint16_t> halves;  // the stored bits when written as F16/BF16
  };
  std::vector<Out> outs;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw ValueError("save_tensors: invalid tensor name '" + name + "'");
    if (!seen.insert(name).second) throw ValueError("save_tensors: duplicate tensor name '" + name + "'");
    if (!t.defined()) throw ValueError("save_tensors: tensor '" + name + "' is undefined");
    Out o{&name, &t, st_dtype(t.dtype()), dtype_size(t.dtype()), {}};
    if (options.floats != FloatStorage::as_is && t.dtype() != Dtype::int64) {
      o.dtype = options.floats == FloatStorage::float16 ? "F16" : "BF16";
      o.elem = 2;
      o.halves = to_16bit(t, options.floats);
    }
    outs.push_back(std::move(o));
  }
  // The data is laid out by element size, largest first (stable, so equal sizes keep the caller's
  // order): every tensor then starts at a multiple of its element size with no padding between
  // tensors, which the format forbids (the byte ranges must tile the data area). The header keeps
  // the caller's order, and so does load_tensors.
  std::vector<std::size_t> layout(outs.size());
  for (std::size_t i = 0; i < layout.size(); ++i) layout[i] = i;
  std::stable_sort(layout.begin(), layout.end(),
                   [&](std::size_t a, std::size_t b) { return outs[a].elem > outs[b].elem; });
  std::vector<std::pair<std::size_t, std::size_t>> ranges(outs.size());
  std::size_t offset = 0;
  for (std::size_t i : layout) {
    const std::size_t bytes = static_cast<std::size_t>(outs[i].t->numel()) * outs[i].elem;
    ranges[i] = {offset, offset + bytes};
    offset += bytes;
  }
  for (std::size_t i = 0; i < outs.size(); ++i)
    header[*outs[i].name] = {{"dtype", outs[i].dtype},
                             {"shape", outs[i].t->shape().vec()},
                             {"data_offsets", {ranges[i].first, ranges[i].second}}};
  std::string h;
  try {
    h = header.dump();
  } catch (const nlohmann::json::exception&) {
    throw ValueError(
        "save_tensors: a tensor name or metadata string is not valid UTF-8 (the header is JSON)");
  }
  // Spaces pad the header so that the data starts 8-byte aligned (the format allows trailing
  // whitespace): with the layout above every tensor can be mapped in place.
  while ((8 + h.size()) % 8) h.push_back(' ');
  if (h.size() > kMaxHeaderBytes)
    io_fail(path, "the header would be " + std::to_string(h.size()) + " bytes, above the format's limit of " +
                      std::to_string(kMaxHeaderBytes) + " (too many tensors or too long names)");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) io_fail(path, "cannot open '" + tmp + "' for writing");
    uint64_t n = h.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (std::size_t i : layout) {
      const Out& o = outs[i];
      if (o.elem == 2)
        out.write(reinterpret_cast<const char*>(o.halves.data()),
                  static_cast<std::streamsize>(o.halves.size() * 2));
      else
        out.write(static_cast<const char*>(o.t->raw_data()),
                  static_cast<std::streamsize>(o.t->numel() * static_cast<int64_t>(o.elem)));
    }
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      io_fail(path, "write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    io_fail(path, std::string("cannot rename the temporary file into place: ") + std::strerror(errno));
  }
}

namespace {

// Bytes per element of a dtype name, 0 for a name the format does not define; `supported` says
// whether xgrad reads it.
std::size_t st_elem_size(const std::string& dtype, bool& supported) {
  static const std::map<std::string, std::pair<std::size_t, bool>> known = {
      {"F64", {8, true}},  {"F32", {4, true}},      {"F16", {2, true}},      {"BF16", {2, true}},
      {"I64", {8, true}},  {"I32", {4, true}},      {"I8", {1, true}},       {"U8", {1, true}},
      {"BOOL", {1, true}}, {"I16", {2, false}},     {"U16", {2, false}},     {"U32", {4, false}},
      {"U64", {8, false}}, {"F8_E4M3", {1, false}}, {"F8_E5M2", {1, false}}, {"C64", {8, false}},
  };
  auto it = known.find(dtype);
  if (it == known.end()) return 0;
  supported = it->second.second;
  return it->second.first;
}

// A JSON number as an extent or offset: non-negative, integral and representable in int64. An
// integral float (3.0, 1e2) is accepted up to 2^53, where doubles stop being exact.
bool json_index(const nlohmann::ordered_json& v, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return out <= static_cast<uint64_t>(INT64_MAX);
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    out = static_cast<uint64_t>(i);
    return i >= 0;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(d >= 0.0 && d <= 9007199254740992.0) || d != std::floor(d)) return false;
    out = static_cast<uint64_t>(d);
    return true;
  }
  return false;
}

}  // namespace

TensorFile load_tensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) io_fail(path, std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (size < 8)
    io_fail(path, "truncated: " + std::to_string(size) + " bytes, the 8-byte header length is missing");
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(len[i]) << (8 * i);
  if (n > size - 8)
    io_fail(path, "header length " + std::to_string(n) + " at offset 0 runs past the end of the file (" +
                      std::to_string(size) + " bytes)");
  if (n > kMaxHeaderBytes)
    io_fail(path, "header length " + std::to_string(n) + " at offset 0 exceeds the format's limit of " +
                      std::to_string(kMaxHeaderBytes) + " bytes");
  std::string h(n, '\0');
  in.read(h.data(), static_cast<std::streamsize>(n));
  if (!in) io_fail(path, "read failed in the header at offset 8");
  // Ordered, so that the tensors come back in the header's order (the order save_tensors was given).
  nlohmann::ordered_json header;
  // A JSON object keeps the last of duplicate keys: the parser callback rejects them instead.
  std::vector<std::set<std::string>> keys;
  const auto no_duplicates = [&](int depth, nlohmann::ordered_json::parse_event_t event,
                                 nlohmann::ordered_json& parsed) {
    using E = nlohmann::ordered_json::parse_event_t;
    if (event == E::object_start) {
      keys.emplace_back();
    } else if (event == E::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == E::key && !keys.empty()) {
      const std::string k = parsed.get<std::string>();
      if (!keys.back().insert(k).second)
        io_fail(path, depth == 1
                          ? "duplicate tensor name '" + k + "' in the header"
                          : "duplicate key '" + k + "' in the header at depth " + std::to_string(depth));
    }
    return true;
  };
  try {
    header = nlohmann::ordered_json::parse(h, no_duplicates);
  } catch (const nlohmann::json::exception& e) {
    io_fail(path, std::string("malformed JSON header at offset 8: ") + e.what());
  }
  if (!header.is_object()) io_fail(path, "the header at offset 8 is not a JSON object");
  const uint64_t data_start = 8 + n, data_size = size - data_start;
  TensorFile file;
  file.path = path;
  struct Entry {
    std::string name;
    uint64_t begin, end;
    std::string dtype;
    std::size_t elem;
    Shape shape;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) io_fail(path, "__metadata__ is not an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          io_fail(path,
                  "__metadata__ entry '" + m.key() + "' is not a string (" + m.value().type_name() + ")");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string tensor = "tensor '" + name + "'";
    if (name.empty()) io_fail(path, "a tensor has an empty name");
    if (!v.is_object()) io_fail(path, tensor + ": its entry is not an object");
    for (auto f = v.begin(); f != v.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        io_fail(path, tensor + ": unknown field '" + f.key() + "'");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) io_fail(path, tensor + ": field '" + std::string(field) + "' is missing");
    if (!v["dtype"].is_string()) io_fail(path, tensor + ": field 'dtype' is not a string");
    Entry e{name, 0, 0, v["dtype"].get<std::string>(), 0, {}};
    bool supported = false;
    e.elem = st_elem_size(e.dtype, supported);
    if (e.elem == 0) io_fail(path, tensor + ": field 'dtype' has invalid dtype '" + e.dtype + "'");
    if (!supported) io_fail(path, tensor + " has unsupported dtype " + e.dtype);
    const auto& shape = v["shape"];
    if (!shape.is_array()) io_fail(path, tensor + ": field 'shape' is not an array");
    if (shape.size() > static_cast<std::size_t>(kMaxRank))
      io_fail(path, tensor + ": field 'shape' has " + std::to_string(shape.size()) + " axes, at most " +
                        std::to_string(kMaxRank) + " are supported");
    std::vector<int64_t> dims;
    uint64_t numel = 1;
    bool overflow = false;
    for (std::size_t i = 0; i < shape.size(); ++i) {
      uint64_t d = 0;
      if (!json_index(shape[i], d))
        io_fail(path, tensor + ": field 'shape' has extent " + shape[i].dump() + " at axis " +
                          std::to_string(i) + " (extents are non-negative integers)");
      dims.push_back(static_cast<int64_t>(d));
      overflow = overflow || __builtin_mul_overflow(numel, d, &numel);
    }
    // An empty tensor holds no bytes whatever its other extents: only a non-zero product overflows.
    if (std::find(dims.begin(), dims.end(), 0) != dims.end()) numel = 0, overflow = false;
    uint64_t bytes = 0;
    if (overflow || numel > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_mul_overflow(numel, e.elem, &bytes) || bytes > static_cast<uint64_t>(INT64_MAX))
      io_fail(path, tensor + ": field 'shape' " + shape.dump() + " with dtype " + e.dtype +
                        " overflows 63 bits of elements or bytes");
    e.shape = Shape(dims);
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2)
      io_fail(path, tensor + ": field 'data_offsets' is not an array of two offsets");
    for (std::size_t i = 0; i < 2; ++i) {
      uint64_t o = 0;
      if (!json_index(off[i], o))
        io_fail(path, tensor + ": field 'data_offsets' has offset " + off[i].dump() +
                          " (offsets are non-negative integers)");
      (i == 0 ? e.begin : e.end) = o;
    }
    if (e.begin > e.end)
      io_fail(path, tensor + ": field 'data_offsets' [" + std::to_string(e.begin) + ", " +
                        std::to_string(e.end) + "] ends before it begins");
    if (e.end > data_size)
      io_fail(path, "truncated: " + tensor + " ends at file offset " + std::to_string(data_start + e.end) +
                        " but the file has " + std::to_string(size) + " bytes");
    if (bytes != e.end - e.begin)
      io_fail(path, tensor + " of shape " + e.shape.str() + " and dtype " + e.dtype + " needs " +
                        std::to_string(bytes) + " bytes, its range at file offset " +
                        std::to_string(data_start + e.begin) + " holds " + std::to_string(e.end - e.begin));
    entries.push_back(std::move(e));
  }
  // The byte ranges tile the data area: in order, without gaps or overlaps, up to its end.
  // Any tensor order and alignment is accepted; only holes and overlaps are refused.
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expect = 0;
  const Entry* previous = nullptr;
  for (const Entry* ep : by_offset) {
    const Entry& e = *ep;
    if (e.begin < expect)
      io_fail(path, "tensor '" + e.name + "' starts at data offset " + std::to_string(e.begin) +
                        " (file offset " + std::to_string(data_start + e.begin) + ") and overlaps tensor '" +
                        previous->name + "', which ends at data offset " + std::to_string(expect));
    if (e.begin > expect)
      io_fail(path, "tensor '" + e.name + "' starts at data offset " + std::to_string(e.begin) +
                        " (file offset " + std::to_string(data_start + e.begin) + "), expected " +
                        std::to_string(expect) + ": a gap of " + std::to_string(e.begin - expect) +
                        " bytes belongs to no tensor");
    expect = e.end;
    previous = &e;
  }
  if (expect != data_size)
    io_fail(path, std::to_string(data_size - expect) + " bytes after the last tensor (file offset " +
                      std::to_string(data_start + expect) + ") belong to no tensor");
  for (const Entry& e : entries) {
    std::vector<char> raw(e.end - e.begin);
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
    if (!in) io_fail(path, "read failed at file offset " + std::to_string(data_start + e.begin));
    Tensor t;
    const int64_t count = e.shape.numel();
    if (e.dtype == "F32" || e.dtype == "F64" || e.dtype == "I64") {
      t = empty(e.shape, {.dtype = e.dtype == "F32"   ? Dtype::float32
                                   : e.dtype == "F64" ? Dtype::float64
                                                      : Dtype::int64});
      if (!raw.empty()) std::memcpy(t.raw_data(), raw.data(), raw.size());
    } else if (e.dtype == "F16" || e.dtype == "BF16") {
      t = empty(e.shape);
      float* p = t.data<float>();
      for (int64_t i = 0; i < count; ++i) {
        uint16_t v;
        std::memcpy(&v, raw.data() + 2 * i, 2);
        if (e.dtype == "F16") {
          p[i] = half_to_float(v);
        } else {
          uint32_t bits = static_cast<uint32_t>(v) << 16;
          std::memcpy(&p[i], &bits, 4);
        }
      }
    } else {
      t = empty(e.shape, {.dtype = Dtype::int64});
      int64_t* p = t.data<int64_t>();
      for (int64_t i = 0; i < count; ++i) {
        if (e.dtype == "I32") {
          int32_t v;
          std::memcpy(&v, raw.data() + 4 * i, 4);
          p[i] = v;
        } else if (e.dtype == "I8") {
          p[i] = static_cast<int8_t>(raw[static_cast<std::size_t>(i)]);
        } else {
          p[i] = static_cast<unsigned char>(raw[static_cast<std::size_t>(i)]);
          if (e.dtype == "BOOL" && p[i] > 1)
            io_fail(path, "tensor '" + e.name + "' of dtype BOOL holds byte " + std::to_string(p[i]) +
                              " at file offset " +
                              std::to_string(data_start + e.begin + static_cast<uint64_t>(i)) +
                              " (0 or 1 expected)");
        }
      }
    }
    file.tensors.emplace_back(e.name, t);
  }
  return file;
}

}  // namespace xg
