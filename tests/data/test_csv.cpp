// data/csv.cpp: numeric CSV files read into tensors (header, selected and target columns, quotes,
// comments, blank lines, CRLF, a byte-order mark, gzip, float32), and the malformed files: each
// raises a CsvError (an IOError) whose message names the file, the line and the column.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/data/csv.hpp"

namespace {
using xg::data::CsvError;
using xg::data::CsvOptions;
using xg::data::read_csv;

std::string write_csv(const std::string& name, const std::string& text) {
  const std::string p = xg_test::temp_path("csv_" + name);
  xg_test::write_file(p, text);
  return p;
}

std::string gzip(const std::string& text) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(text.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// One malformed file: its text, the options, and where and what the error must say.
struct Bad {
  const char* name;
  std::string text;
  CsvOptions options;
  int64_t line, column;
  std::string says;
};

}  // namespace

TEST_CASE("read_csv: header, target, selected columns in their order, float64 values") {
  const std::string p = write_csv("basic", "a,b,y,c\n1,2,10,3\n-4.5,+5e-1,20,6\n");
  const auto all = read_csv(p);
  CHECK(all.columns == std::vector<std::string>{"a", "b", "y", "c"});
  CHECK(all.data.shape() == xg::Shape{2, 4});
  CHECK(all.data.dtype() == xg::Dtype::float64);
  xg_test::check_values(all.data, {1, 2, 10, 3, -4.5, 0.5, 20, 6});
  CHECK_FALSE(all.target.defined());
  CHECK(all.lines == std::vector<int64_t>{2, 3});

  const auto t = read_csv(p, {.target = "y"});
  CHECK(t.columns == std::vector<std::string>{"a", "b", "c"});
  CHECK(t.target_name == "y");
  xg_test::check_values(t.data, {1, 2, 3, -4.5, 0.5, 6});
  CHECK(t.target.shape() == xg::Shape{2});
  xg_test::check_values(t.target, {10, 20});

  const auto s = read_csv(p, {.columns = {"c", "a"}, .target = "b", .dtype = xg::Dtype::float32});
  CHECK(s.columns == std::vector<std::string>{"c", "a"});
  CHECK(s.data.dtype() == xg::Dtype::float32);
  xg_test::check_values(s.data, {3, 1, 6, -4.5});
  xg_test::check_values(s.target, {2, 0.5});
}

TEST_CASE("read_csv: quotes, comments, blank lines, CRLF, a byte-order mark, spaces around fields") {
  const std::string text =
      "\xEF\xBB\xBF# a comment before the header\r\n"
      "\"x\", \"name, with comma\" ,\"y\"\r\n"
      "\r\n"
      "  # an indented comment\r\n"
      " 1.25 , \"text \"\"quoted\"\" here\", \"7\"\r\n"
      "\t\r\n"
      "2,,8\r\n";
  const auto t = read_csv(write_csv("quotes", text), {.columns = {"x"}, .target = "y"});
  xg_test::check_values(t.data, {1.25, 2});
  xg_test::check_values(t.target, {7, 8});
  CHECK(t.lines == std::vector<int64_t>{5, 7});
  // The text column is not selected, so its text (and its empty field) is fine.
  const auto names = read_csv(write_csv("quotes2", text), {.columns = {"y"}});
  CHECK(names.columns == std::vector<std::string>{"y"});
}

TEST_CASE("read_csv: no header, whitespace delimiter, skip_rows, gzip") {
  // sklearn's diabetes_data_raw.csv.gz is written this way: space separated, no header.
  const std::string text = "59 2  32.1\t101\n48 1 21.6 87\n";
  const auto t =
      read_csv(write_csv("ws.csv.gz", gzip(text)), {.delimiter = ' ', .header = false, .target = "3"});
  CHECK(t.columns == std::vector<std::string>{"0", "1", "2"});
  xg_test::check_values(t.data, {59, 2, 32.1, 48, 1, 21.6});
  xg_test::check_values(t.target, {101, 87});
  // A count line before the header, as sklearn's boston_house_prices.csv has.
  const auto b =
      read_csv(write_csv("skip", "506,13\nCRIM,MEDV\n0.00632,24\n"), {.skip_rows = 1, .target = "MEDV"});
  xg_test::check_values(b.data, {0.00632});
  xg_test::check_values(b.target, {24});
  CHECK(b.lines == std::vector<int64_t>{3});
  // Tab-separated: spaces inside the fields are trimmed, tabs separate.
  const auto tsv = read_csv(write_csv("tsv", "a\tb\n 1 \t2\n"), {.delimiter = '\t'});
  xg_test::check_values(tsv.data, {1, 2});
}

TEST_CASE("read_csv: non-finite values only when allowed; tiny values underflow to zero") {
  const std::string p = write_csv("nan", "a,b\nnan,-inf\nNaN,INF\n");
  const auto t = read_csv(p, {.allow_non_finite = true});
  const double* v = t.data.data<double>();
  CHECK(std::isnan(v[0]));
  CHECK(v[1] == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(v[2]));
  CHECK(v[3] == std::numeric_limits<double>::infinity());
  const auto u = read_csv(write_csv("tiny", "a,b\n1e-400,4.9e-324\n"));
  CHECK(u.data.data<double>()[0] == 0.0);
  CHECK(u.data.data<double>()[1] == std::numeric_limits<double>::denorm_min());
}

TEST_CASE("read_csv: malformed files name the file, the line and the column") {
  std::vector<Bad> cases = {
      {"nonnumeric", "a,b\n1,2\n3,x\n", {}, 3, 3, "'x' in column 'b' is not a number"},
      {"twodots", "a\n1.5.2\n", {}, 2, 1, "'1.5.2' in column 'a' is not a number"},
      {"hex", "a,b\n1,0x10\n", {}, 2, 3, "'0x10' in column 'b' is not a number"},
      {"plusminus", "a\n+-1\n", {}, 2, 1, "'+-1' in column 'a' is not a number"},
      {"innerspace", "a,b\n1,2 3\n", {}, 2, 3, "'2 3' in column 'b' is not a number"},
      {"nul",
       std::string("a\n1\0"
                   "2\n",
                   6),
       {},
       2,
       1,
       "'1\\x002' in column 'a' is not a number"},
      {"ragged_more",
       "a,b\n1,2\n1,2,3\n",
       {},
       3,
       5,
       "3 fields, but the header (line 1) has 2; the first extra"},
      {"ragged_fewer",
       "a,b,c\n1,2\n",
       {},
       2,
       4,
       "2 fields, but the header (line 1) has 3; column 'c' is missing"},
      {"ragged_ws",
       "59 2 3\n48 1\n",
       {.delimiter = ' ', .header = false},
       2,
       5,
       "2 fields, but the first row (line 1) has 3"},
      {"no_target",
       "a,b\n1,2\n",
       {.target = "y"},
       1,
       1,
       "no column 'y' (the target) in the header; its columns: 'a', 'b'"},
      {"no_column",
       "# c\na,b\n1,2\n",
       {.columns = {"a", "B"}},
       2,
       1,
       "no column 'B' (selected) in the header"},
      {"empty", "", {}, 1, 1, "the file is empty"},
      {"only_comments", "# one\n\n  # two\n", {}, 3, 1, "no header: only blank and comment lines"},
      {"header_only", "a,b\n# no rows\n", {}, 2, 1, "no data rows after the header (line 1)"},
      {"skip_past_end", "506,13\n", {.skip_rows = 2}, 1, 1, "the file ends within the 2 skipped rows"},
      {"nan_text", "a,b\n1,2\n3,NaN\n", {}, 3, 3, "'NaN' in column 'b' is NaN (CsvOptions::allow_non_finite"},
      {"inf_text", "a\n-inf\n", {}, 2, 1, "'-inf' in column 'a' is infinite"},
      {"empty_field", "a,b\n1,\n", {}, 2, 3, "empty field in column 'b' (a missing value?)"},
      {"empty_target", "a,y\n1,\"\"\n", {.target = "y"}, 2, 3, "empty field in column 'y'"},
      {"unclosed_quote", "a,b\n1,\"2\n", {}, 2, 3, "a quoted field is not closed on its line"},
      {"after_quote", "a,b\n1,\"2\"x\n", {}, 2, 6, "text after the closing quote"},
      {"empty_name", "a,,c\n1,2,3\n", {}, 1, 3, "header column 2 has no name"},
      {"duplicate_name", "a,b,a\n1,2,3\n", {}, 1, 5, "header name 'a' is already column 1"},
      {"long_line",
       "a\n12345678901234567890\n",
       {.max_line_bytes = 10},
       2,
       11,
       "longer than max_line_bytes = 10"},
      {"too_many_fields", "a,b,c,d\n", {.max_columns = 3}, 1, 7, "more than max_columns = 3 fields"},
      {"overflow", "a\n1e999\n", {}, 2, 1, "'1e999' in column 'a' is out of float64's range"},
      {"float32_range", "a\n1e39\n", {.dtype = xg::Dtype::float32}, 2, 1, "is out of float32's range"},
      {"blank_line", "a\n1\n\n2\n", {.skip_blank_lines = false}, 3, 1, "a blank line"},
      {"crlf_bom",
       "\xEF\xBB\xBF"
       "a,b\r\n1,q\r\n",
       {},
       2,
       3,
       "'q' in column 'b' is not a number"},
      {"comment_mid_row", "a,b\n1,2 # two\n", {}, 2, 3, "'2 # two' in column 'b' is not a number"},
  };
  for (const Bad& c : cases) {
    CAPTURE(c.name);
    const std::string p = write_csv(c.name, c.text);
    const std::string at = "CSV file '" + p + "', line " + std::to_string(c.line) + ", column " +
                           std::to_string(c.column) + ": ";
    CHECK_ERROR(read_csv(p, c.options), CsvError, at, c.says);
    try {
      read_csv(p, c.options);
    } catch (const CsvError& e) {
      CHECK(e.path() == p);
      CHECK(e.line() == c.line);
      CHECK(e.column() == c.column);
    }
    // A CsvError is an IOError, as every file error of xgrad.
    CHECK_THROWS_AS(read_csv(p, c.options), xg::IOError);
  }
}

TEST_CASE("read_csv: file errors name the file; sizes are checked before reading") {
  const std::string missing = xg_test::temp_path("csv_missing.csv");
  std::filesystem::remove(missing);
  CHECK_ERROR(read_csv(missing), CsvError, "CSV file '" + missing + "': cannot open");
  CHECK_ERROR(read_csv(std::filesystem::temp_directory_path().string()), CsvError, "is a directory");
  const std::string big = write_csv("big", "a,b\n1,2\n3,4\n");
  CHECK_ERROR(read_csv(big, {.max_file_bytes = 8}), CsvError,
              "CSV file '" + big + "': is 12 bytes, more than max_file_bytes = 8");
  // gzip: stopped while inflating, before the inflated text is held.
  const std::string text = "a\n" + std::string(1 << 20, '1') + "\n";
  const std::string bomb = write_csv("bomb.gz", gzip(text));
  CHECK(std::filesystem::file_size(bomb) < 4096);
  CHECK_ERROR(read_csv(bomb, {.max_file_bytes = 100000}), CsvError, bomb,
              "inflates to more than max_file_bytes = 100000 bytes");
  const std::string gz = gzip("a\n1\n");
  const std::string trailing = write_csv("trailing.gz", gz + "x");
  CHECK_ERROR(read_csv(trailing), CsvError, trailing, "bytes after the gzip data");
  const std::string cut = write_csv("cut.gz", gz.substr(0, gz.size() - 6));
  CHECK_ERROR(read_csv(cut), CsvError, cut, "gzip data ends early");
  std::string flipped = gz;
  flipped[12] = static_cast<char>(flipped[12] ^ 0x55);
  const std::string corrupt = write_csv("corrupt.gz", flipped);
  CHECK_THROWS_AS(read_csv(corrupt), CsvError);
  CHECK(read_csv(write_csv("ok.gz", gz)).data.item() == 1.0);
}

TEST_CASE("read_csv: options that make no sense are a ValueError") {
  const std::string p = write_csv("opts", "a,b\n1,2\n");
  CHECK_ERROR(read_csv(p, {.dtype = xg::Dtype::int64}), xg::ValueError,
              "read_csv: dtype must be float32 or float64");
  CHECK_ERROR(read_csv(p, {.delimiter = '"'}), xg::ValueError, "the delimiter cannot be a quote");
  CHECK_ERROR(read_csv(p, {.delimiter = '#'}), xg::ValueError,
              "the comment character cannot be the delimiter");
  CHECK_ERROR(read_csv(p, {.columns = {"a", "a"}}), xg::ValueError, "column 'a' is selected twice");
  CHECK_ERROR(read_csv(p, {.columns = {"a"}, .target = "a"}), xg::ValueError,
              "selected and is also the target");
  CHECK_ERROR(read_csv(p, {.max_line_bytes = 0}), xg::ValueError, "limits must be positive");
  CHECK_ERROR(read_csv(write_csv("onlytarget", "y\n1\n"), {.target = "y"}), CsvError,
              "line 1, column 1: no data columns");
}
