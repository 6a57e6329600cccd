#pragma once
/// @file csv.hpp
/// @brief Reading numeric CSV files into tensors: a header row of column names, columns
/// selected by name, an optional target column, quoted fields, comment and blank lines.
///
/// The format read: records separated by newlines (LF or CRLF; a UTF-8 byte-order mark at the
/// start is skipped); fields separated by `delimiter`, or by any run of spaces and tabs when the
/// delimiter is ' '; spaces and tabs around a field ignored; a field may be quoted ("1.5",
/// with "" for a quote inside) but may not span lines. Every selected value must be a number
/// as C++ reads one (from_chars: 3, -2.5, 1e-3, a leading '+' too).
///
/// Every error is a CsvError (an xg::IOError) whose message starts with the file, the line and
/// the column (1-based, in bytes) where the problem is: "CSV file 'x.csv', line 4, column 9:
/// 'abc' in column 'RM' is not a number". The sizes are checked before anything is allocated:
/// the file's length (or a gzip file's inflated length, inflated as a stream and stopped at
/// the limit) against max_file_bytes, each line against max_line_bytes, the field count against
/// max_columns. A file with no data rows is an error, so is a NaN or infinity written as text
/// unless allow_non_finite.
#include <string>
#include <vector>

#include "xgrad/autograd/tensor/error.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::data {

/// A malformed or unreadable CSV file. line() and column() are 1-based (0: not about one place,
/// e.g. a missing file).
class CsvError : public IOError {
 public:
  CsvError(const std::string& path, int64_t line, int64_t column, const std::string& what);
  const std::string& path() const { return path_; }
  int64_t line() const { return line_; }
  int64_t column() const { return column_; }

 private:
  std::string path_;
  int64_t line_, column_;
};

struct CsvOptions {
  char delimiter = ',';  ///< ' ': any run of spaces and tabs
  /// The first record (after skip_rows) holds the column names; without a header the columns
  /// are named "0", "1", ... (as pandas names them with header=None).
  bool header = true;
  int64_t skip_rows = 0;         ///< lines skipped before the header (a banner, a count line)
  char comment = '#';            ///< lines whose first non-blank character is this are skipped; '\0': none
  bool skip_blank_lines = true;  ///< false: an empty or all-blank line is an error
  /// The columns of `data`, in this order; empty: every column but the target, in file order.
  std::vector<std::string> columns = {};
  std::string target = {};       ///< the column of `target`; empty: no target
  Dtype dtype = Dtype::float64;  ///< float64 or float32 (a value outside float32's range is an error)
  /// Accept "nan", "inf", "-inf" (any case) as values. Off by default: a NaN in a data set is
  /// almost always a missing value that would silently poison a model.
  bool allow_non_finite = false;
  int64_t max_file_bytes = int64_t{1} << 30;  ///< the file's (inflated) size limit
  int64_t max_line_bytes = int64_t{1} << 20;  ///< one line's limit
  int64_t max_columns = 1 << 16;              ///< fields per record
};

/// What read_csv returns: the selected columns as a [rows, columns] tensor, and the target
/// column as a [rows] tensor (undefined without a target).
struct CsvTable {
  std::vector<std::string> columns = {};  ///< the names of data's columns, in order
  Tensor data;
  std::string target_name;
  Tensor target;
  /// The line of the file each row came from (for a caller's own messages).
  std::vector<int64_t> lines;
  int64_t rows() const { return static_cast<int64_t>(lines.size()); }
};

/// Reads a CSV file (gzip'd or not, detected from the content) as described above. Throws
/// CsvError naming the file, line and column for: a missing file, a directory or other
/// non-regular file, a file or line over the limits, an empty file, a header with an empty or
/// duplicate name, a selected or target column the header does not have (the message lists the
/// header's names), a row with more or fewer fields than the header, an unterminated quote or
/// text after a closing quote, an empty field, a value that is not a number or out of range, a
/// NaN/infinity (unless allowed), no data rows, corrupt gzip data or bytes after it. Options that
/// make no sense (a negative limit, the delimiter equal to the comment character, a quote as
/// delimiter, a dtype other than float32/float64, a column selected twice or also the target)
/// throw ValueError.
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});

}  // namespace xg::data
