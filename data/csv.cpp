#include "xgrad/data/csv.hpp"

#include <zlib.h>

#include <sys/stat.h>
#include <cerrno>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string_view>

namespace xg::data {

namespace {

std::string place(const std::string& path, int64_t line, int64_t column) {
  std::string s = "CSV file '" + path + "'";
  if (line > 0) s += ", line " + std::to_string(line);
  if (column > 0) s += ", column " + std::to_string(column);
  return s;
}

// A field's text for a message: printable ASCII as it is, other bytes as \xNN, cut at 40.
std::string shown(std::string_view s) {
  std::string out = "'";
  std::size_t n = 0;
  for (unsigned char c : s) {
    if (++n > 40) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "'";
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

constexpr std::size_t kChunk = std::size_t{1} << 16;

// The file's bytes, inflated when it is gzip'd; the limit is checked before reading (raw) or
// while inflating (gzip: stopped at the first byte past it).
std::string load(const std::string& path, int64_t limit) {
  auto fail = [&](const std::string& what) { throw CsvError(path, 0, 0, what); };
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0) fail(std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail("is a directory, not a file");
  if (!S_ISREG(st.st_mode)) fail("is not a regular file (a device, pipe or socket)");
  const auto size = static_cast<uint64_t>(st.st_size);
  const auto max = static_cast<uint64_t>(limit);
  unsigned char magic[2] = {0, 0};
  const bool gz = std::fread(magic, 1, 2, f.get()) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  std::rewind(f.get());
  if (!gz) {
    if (size > max)
      fail("is " + std::to_string(size) + " bytes, more than max_file_bytes = " + std::to_string(max));
    std::string bytes(size, '\0');
    if (size && std::fread(bytes.data(), 1, size, f.get()) != size)
      fail(std::string("cannot read: ") + std::strerror(errno));
    return bytes;
  }
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) fail("cannot initialise zlib");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  std::string out;
  std::vector<unsigned char> in(kChunk), buf(kChunk);
  uint64_t consumed = 0;
  bool ended = false;
  while (!ended) {
    if (z.avail_in == 0) {
      const std::size_t got = std::fread(in.data(), 1, in.size(), f.get());
      if (got == 0) fail("gzip data ends early, at byte " + std::to_string(consumed) + " of the file");
      z.next_in = in.data();
      z.avail_in = static_cast<uInt>(got);
    }
    z.next_out = buf.data();
    z.avail_out = static_cast<uInt>(buf.size());
    const uInt before = z.avail_in;
    const int rc = inflate(&z, Z_NO_FLUSH);
    consumed += before - z.avail_in;
    if (rc == Z_STREAM_END) {
      ended = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      fail(std::string("corrupt gzip data (zlib: ") + (z.msg ? z.msg : "error " + std::to_string(rc)) +
           ") near byte " + std::to_string(consumed));
    }
    const std::size_t produced = buf.size() - z.avail_out;
    if (out.size() + produced > max)
      fail("inflates to more than max_file_bytes = " + std::to_string(max) + " bytes");
    out.append(reinterpret_cast<const char*>(buf.data()), produced);
  }
  if (z.avail_in > 0 || std::fgetc(f.get()) != EOF)
    fail("bytes after the gzip data, from byte " + std::to_string(consumed));
  return out;
}

struct Field {
  std::string_view text;  // unquoted (for a quoted field with "" inside: a view of `own`)
  int64_t column;         // 1-based byte column of the field's first character
};

bool blank(char c) {
  return c == ' ' || c == '\t';
}

// Splits one line (no newline) into fields; `store` keeps the unescaped text of quoted fields
// with "" in them.
class Splitter {
 public:
  Splitter(const std::string& path, char delim, int64_t max_columns)
      : path_(path), delim_(delim), max_(max_columns) {}

  const std::vector<Field>& split(std::string_view line, int64_t ln) {
    fields_.clear();
    store_.clear();
    std::size_t p = 0;
    const std::size_t n = line.size();
    const bool ws = delim_ == ' ';
    auto is_space = [&](char c) { return c == ' ' || (c == '\t' && delim_ != '\t'); };
    auto col = [](std::size_t at) { return static_cast<int64_t>(at) + 1; };
    if (ws)
      while (p < n && blank(line[p])) ++p;
    if (ws && p == n) return fields_;
    while (true) {
      while (p < n && is_space(line[p])) ++p;
      if (static_cast<int64_t>(fields_.size()) >= max_)
        throw CsvError(path_, ln, col(p), "more than max_columns = " + std::to_string(max_) + " fields");
      const std::size_t start = p;
      std::string_view text;
      if (p < n && line[p] == '"') {
        ++p;
        std::string unescaped;
        bool escaped = false, closed = false;
        const std::size_t body = p;
        while (p < n) {
          if (line[p] == '"') {
            if (p + 1 < n && line[p + 1] == '"') {
              escaped = true;
              unescaped += '"';
              p += 2;
              continue;
            }
            closed = true;
            break;
          }
          unescaped += line[p++];
        }
        if (!closed)
          throw CsvError(path_, ln, col(start),
                         "a quoted field is not closed on its line (fields may not span lines)");
        text = line.substr(body, p - body);
        ++p;  // the closing quote
        if (escaped) {
          store_.push_back(std::move(unescaped));
          text = store_.back();
        }
        while (p < n && is_space(line[p])) ++p;
        if (p < n && line[p] != delim_ && !(ws && blank(line[p])))
          throw CsvError(path_, ln, col(p), "text after the closing quote of a field");
      } else {
        while (p < n && line[p] != delim_ && !(ws && blank(line[p]))) ++p;
        std::size_t e = p;
        while (e > start && is_space(line[e - 1])) --e;
        text = line.substr(start, e - start);
      }
      fields_.push_back({text, col(start)});
      if (ws) {
        while (p < n && blank(line[p])) ++p;
        if (p == n) break;
        continue;
      }
      if (p < n && line[p] == delim_) {
        ++p;
        continue;
      }
      break;
    }
    return fields_;
  }

 private:
  const std::string& path_;
  char delim_;
  int64_t max_;
  std::vector<Field> fields_;
  // A deque: its elements stay where they are as it grows, so the views into them stay valid.
  std::deque<std::string> store_;
};

// Parses a selected value; throws naming the place.
double number(std::string_view s, const std::string& path, int64_t ln, int64_t column,
              const std::string& name, const CsvOptions& o) {
  const std::string where = " in column '" + name + "'";
  if (s.empty()) throw CsvError(path, ln, column, "empty field" + where + " (a missing value?)");
  const char* first = s.data();
  const char* last = s.data() + s.size();
  if (*first == '+' && s.size() > 1 && first[1] != '-' && first[1] != '+') ++first;
  double v = 0;
  auto [ptr, ec] = std::from_chars(first, last, v, std::chars_format::general);
  if (ec == std::errc::invalid_argument || ptr != last)
    throw CsvError(path, ln, column, shown(s) + where + " is not a number");
  if (ec == std::errc::result_out_of_range) {
    // Underflow (a tiny value, 0 or subnormal) is fine; overflow is not.
    const std::string copy(first, last);
    v = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(v)) throw CsvError(path, ln, column, shown(s) + where + " is out of float64's range");
  }
  if (!std::isfinite(v) && !o.allow_non_finite)
    throw CsvError(path, ln, column,
                   shown(s) + where + " is " + (std::isnan(v) ? "NaN" : "infinite") +
                       " (CsvOptions::allow_non_finite accepts it)");
  if (o.dtype == Dtype::float32 && std::isfinite(v) && std::fabs(v) > FLT_MAX)
    throw CsvError(path, ln, column, shown(s) + where + " is out of float32's range");
  return v;
}

void check_options(const CsvOptions& o) {
  auto bad = [](const std::string& what) { throw ValueError("read_csv: " + what); };
  if (o.dtype != Dtype::float64 && o.dtype != Dtype::float32) bad("dtype must be float32 or float64");
  if (o.max_file_bytes < 0 || o.max_line_bytes <= 0 || o.max_columns <= 0 || o.skip_rows < 0)
    bad("limits must be positive and skip_rows non-negative");
  if (o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r' || o.delimiter == '\0')
    bad("the delimiter cannot be a quote, a newline or NUL");
  if (o.comment != '\0' && (o.comment == o.delimiter || o.comment == '"'))
    bad("the comment character cannot be the delimiter or a quote");
  std::map<std::string, int> seen;
  for (const auto& c : o.columns) {
    if (c == o.target && !o.target.empty()) bad("column '" + c + "' is selected and is also the target");
    if (seen[c]++) bad("column '" + c + "' is selected twice");
  }
}

}  // namespace

CsvError::CsvError(const std::string& path, int64_t line, int64_t column, const std::string& what)
    : IOError(place(path, line, column) + ": " + what), path_(path), line_(line), column_(column) {}

CsvTable read_csv(const std::string& path, const CsvOptions& o) {
  check_options(o);
  const std::string bytes = load(path, o.max_file_bytes);
  std::string_view rest(bytes);
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);

  Splitter splitter(path, o.delimiter, o.max_columns);
  CsvTable table;
  std::vector<std::string> names;  // every column of the file
  std::vector<int64_t> selected;   // indices into names, for data
  int64_t target = -1;             // index into names
  int64_t header_line = 0, ln = 0;
  std::vector<double> values, targets;

  auto resolve = [&](int64_t at_line) {
    std::map<std::string, int64_t> index;
    for (std::size_t i = 0; i < names.size(); ++i) index.emplace(names[i], static_cast<int64_t>(i));
    auto find = [&](const std::string& name, const char* role) {
      auto it = index.find(name);
      if (it != index.end()) return it->second;
      std::string list;
      for (std::size_t i = 0; i < names.size() && i < 30; ++i) list += (i ? ", " : "") + shown(names[i]);
      if (names.size() > 30) list += ", ...";
      throw CsvError(path, at_line, 1,
                     std::string("no column '") + name + "' (" + role + ") in the " +
                         (o.header ? "header" : "file (no header: columns are named 0, 1, ...)") +
                         "; its columns: " + list);
    };
    if (!o.target.empty()) target = find(o.target, "the target");
    if (o.columns.empty()) {
      for (int64_t i = 0; i < static_cast<int64_t>(names.size()); ++i)
        if (i != target) selected.push_back(i);
    } else {
      for (const auto& c : o.columns) selected.push_back(find(c, "selected"));
    }
    if (selected.empty()) throw CsvError(path, at_line, 1, "no data columns (only the target)");
    for (int64_t i : selected) table.columns.push_back(names[static_cast<std::size_t>(i)]);
    if (target >= 0) table.target_name = names[static_cast<std::size_t>(target)];
  };

  bool any_line = false;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++ln;
    any_line = true;
    if (static_cast<int64_t>(line.size()) > o.max_line_bytes)
      throw CsvError(path, ln, o.max_line_bytes + 1,
                     "the line is longer than max_line_bytes = " + std::to_string(o.max_line_bytes));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (ln <= o.skip_rows) continue;
    std::size_t first = 0;
    while (first < line.size() && blank(line[first])) ++first;
    if (first == line.size()) {
      if (o.skip_blank_lines) continue;
      throw CsvError(path, ln, 1, "a blank line (CsvOptions::skip_blank_lines skips them)");
    }
    if (o.comment != '\0' && line[first] == o.comment) continue;
    const std::vector<Field>& fields = splitter.split(line, ln);
    const auto count = static_cast<int64_t>(fields.size());

    if (names.empty()) {
      if (o.header) {
        header_line = ln;
        std::map<std::string_view, int64_t> seen;
        for (int64_t i = 0; i < count; ++i) {
          const Field& f = fields[static_cast<std::size_t>(i)];
          if (f.text.empty())
            throw CsvError(path, ln, f.column, "header column " + std::to_string(i + 1) + " has no name");
          auto [it, fresh] = seen.emplace(f.text, i);
          if (!fresh)
            throw CsvError(
                path, ln, f.column,
                "header name " + shown(f.text) + " is already column " + std::to_string(it->second + 1));
          names.emplace_back(f.text);
        }
        resolve(ln);
        continue;
      }
      for (int64_t i = 0; i < count; ++i) names.push_back(std::to_string(i));
      header_line = ln;
      resolve(ln);
    }

    const auto width = static_cast<int64_t>(names.size());
    if (count != width) {
      const std::string what = std::to_string(count) + " fields, but the " +
                               (o.header ? "header (line " + std::to_string(header_line) + ")"
                                         : "first row (line " + std::to_string(header_line) + ")") +
                               " has " + std::to_string(width);
      if (count > width)
        throw CsvError(path, ln, fields[static_cast<std::size_t>(width)].column,
                       what + "; the first extra field is here");
      throw CsvError(path, ln, static_cast<int64_t>(line.size()) + 1,
                     what + "; column '" + names[static_cast<std::size_t>(count)] + "' is missing");
    }
    for (int64_t i : selected) {
      const Field& f = fields[static_cast<std::size_t>(i)];
      values.push_back(number(f.text, path, ln, f.column, names[static_cast<std::size_t>(i)], o));
    }
    if (target >= 0) {
      const Field& f = fields[static_cast<std::size_t>(target)];
      targets.push_back(number(f.text, path, ln, f.column, names[static_cast<std::size_t>(target)], o));
    }
    table.lines.push_back(ln);
  }

  if (!any_line) throw CsvError(path, 1, 1, "the file is empty");
  if (names.empty())
    throw CsvError(path, ln, 1,
                   ln <= o.skip_rows
                       ? "the file ends within the " + std::to_string(o.skip_rows) + " skipped rows"
                       : std::string("no header: only blank and comment lines"));
  if (table.lines.empty())
    throw CsvError(path, ln, 1, "no data rows after the header (line " + std::to_string(header_line) + ")");

  const int64_t rows = table.rows();
  const auto cols = static_cast<int64_t>(selected.size());
  if (o.dtype == Dtype::float32) {
    table.data = from_vector(std::vector<float>(values.begin(), values.end()), {rows, cols});
    if (target >= 0) table.target = from_vector(std::vector<float>(targets.begin(), targets.end()), {rows});
  } else {
    table.data = from_vector(values, {rows, cols});
    if (target >= 0) table.target = from_vector(targets, {rows});
  }
  return table;
}

}  // namespace xg::data
