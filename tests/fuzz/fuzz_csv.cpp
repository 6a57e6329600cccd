// Fuzz target: data::read_csv on arbitrary bytes (raw or gzip'd CSV). The first byte chooses the
// options (header or not, delimiter, target column, dtype, non-finite values allowed), the rest
// is the file. It must return a [rows, columns] tensor with one target per row and one line
// number per row, increasing, finite values unless allowed, or throw an xg::Error.
#include <cmath>

#include "fuzz_common.hpp"
#include "xgrad/data/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  xg::data::CsvOptions o;
  o.header = (mode & 1) == 0;
  o.delimiter = (mode & 2) ? ' ' : ',';
  // (a std::string built first: assigning the literal directly trips a false -Wrestrict of GCC 12)
  if (mode & 4) o.target = std::string(o.header ? "y" : "0");
  o.dtype = (mode & 8) ? xg::Dtype::float32 : xg::Dtype::float64;
  o.allow_non_finite = (mode & 16) != 0;
  o.skip_blank_lines = (mode & 32) == 0;
  o.skip_rows = (mode & 64) ? 1 : 0;
  o.max_line_bytes = 4096;
  o.max_file_bytes = 1 << 20;
  const std::string path = xg::fuzz::write_input(data + 1, size - 1, ".csv");
  xg::fuzz::only_typed_errors("read_csv", [&] {
    const xg::data::CsvTable t = xg::data::read_csv(path, o);
    const int64_t rows = t.rows(), cols = static_cast<int64_t>(t.columns.size());
    if (rows == 0 || cols == 0) xg::fuzz::finding("read_csv: an empty table was returned");
    if (t.data.shape() != xg::Shape{rows, cols})
      xg::fuzz::finding("read_csv: data's shape is not [rows, columns]");
    if (t.data.dtype() != o.dtype) xg::fuzz::finding("read_csv: data is not of the dtype asked for");
    if (!o.target.empty() && (!t.target.defined() || t.target.shape() != xg::Shape{rows}))
      xg::fuzz::finding("read_csv: the target is not [rows]");
    for (int64_t i = 1; i < rows; ++i)
      if (t.lines[static_cast<std::size_t>(i)] <= t.lines[static_cast<std::size_t>(i - 1)])
        xg::fuzz::finding("read_csv: row lines do not increase");
    const xg::Tensor all = t.data.to(xg::Dtype::float64);
    const double* v = all.data<double>();
    if (!o.allow_non_finite)
      for (int64_t i = 0; i < all.numel(); ++i)
        if (!std::isfinite(v[i])) xg::fuzz::finding("read_csv: a non-finite value was accepted");
  });
  return 0;
}
