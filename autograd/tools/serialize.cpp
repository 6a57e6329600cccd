#include "xgrad/autograd/tools/serialize.hpp"

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace xg {

namespace {

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

void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  std::size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw ValueError("save_tensors: invalid tensor name '" + name + "'");
    if (!seen.insert(name).second) throw ValueError("save_tensors: duplicate tensor name '" + name + "'");
    if (!t.defined()) throw ValueError("save_tensors: tensor '" + name + "' is undefined");
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", st_dtype(t.dtype())},
                    {"shape", t.shape().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8) h.push_back(' ');  // the format pads the header to 8-byte alignment
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) io_fail(path, "cannot open '" + tmp + "' for writing");
    uint64_t n = h.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& [name, t] : tensors)
      out.write(static_cast<const char*>(t.raw_data()),
                static_cast<std::streamsize>(t.numel() * static_cast<int64_t>(dtype_size(t.dtype()))));
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
  std::string h(n, '\0');
  in.read(h.data(), static_cast<std::streamsize>(n));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(h);
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
    Shape shape;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) io_fail(path, "__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m)
        file.metadata[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
      continue;
    }
    const auto& v = it.value();
    try {
      Entry e{it.key(), 0, 0, v.at("dtype").get<std::string>(), {}};
      std::vector<int64_t> dims = v.at("shape").get<std::vector<int64_t>>();
      for (int64_t d : dims)
        if (d < 0) io_fail(path, "tensor '" + e.name + "' has a negative extent");
      e.shape = Shape(dims);
      auto off = v.at("data_offsets").get<std::vector<uint64_t>>();
      if (off.size() != 2 || off[0] > off[1])
        io_fail(path, "tensor '" + e.name + "' has invalid data_offsets");
      e.begin = off[0];
      e.end = off[1];
      entries.push_back(std::move(e));
    } catch (const nlohmann::json::exception& ex) {
      io_fail(path, "tensor '" + it.key() + "' has a malformed entry: " + ex.what());
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  uint64_t expect = 0;
  for (const Entry& e : entries) {
    if (e.begin != expect)
      io_fail(path, "tensor '" + e.name + "' starts at data offset " + std::to_string(e.begin) +
                        " (file offset " + std::to_string(data_start + e.begin) + "), expected " +
                        std::to_string(expect) + " (gap or overlap)");
    if (e.end > data_size)
      io_fail(path, "truncated: tensor '" + e.name + "' ends at file offset " +
                        std::to_string(data_start + e.end) + " but the file has " + std::to_string(size) +
                        " bytes");
    expect = e.end;
    std::size_t elem = 0;
    if (e.dtype == "F32" || e.dtype == "I32")
      elem = 4;
    else if (e.dtype == "F64" || e.dtype == "I64")
      elem = 8;
    else if (e.dtype == "F16" || e.dtype == "BF16")
      elem = 2;
    else if (e.dtype == "I8" || e.dtype == "U8" || e.dtype == "BOOL")
      elem = 1;
    else
      io_fail(path, "tensor '" + e.name + "' has unsupported dtype " + e.dtype);
    if (static_cast<uint64_t>(e.shape.numel()) * elem != e.end - e.begin)
      io_fail(path, "tensor '" + e.name + "' of shape " + e.shape.str() + " and dtype " + e.dtype +
                        " needs " + std::to_string(e.shape.numel() * static_cast<int64_t>(elem)) +
                        " bytes, its range at file offset " + std::to_string(data_start + e.begin) +
                        " holds " + std::to_string(e.end - e.begin));
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
        }
      }
    }
    file.tensors.emplace_back(e.name, t);
  }
  if (expect != data_size)
    io_fail(path, std::to_string(data_size - expect) + " bytes after the last tensor (file offset " +
                      std::to_string(data_start + expect) + ") belong to no tensor");
  return file;
}

}  // namespace xg
