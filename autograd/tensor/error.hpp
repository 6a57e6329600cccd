#pragma once
/// @file error.hpp
/// @brief The one exception family of xgrad. Every message names the op and its operands,
/// e.g. `matmul: inner dimensions differ: [3, 4] @ [5, 2]`.
#include <stdexcept>
#include <string>

namespace xg {

/// @brief Base of every error xgrad throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// @brief Shapes that do not fit: broadcasting, matmul dimensions, reshape element counts.
class ShapeError : public Error {
 public:
  using Error::Error;
};
/// @brief A dtype an op cannot take (int64 where a float is needed, ...).
class TypeError : public Error {
 public:
  using Error::Error;
};
/// @brief An axis, index or slice out of range.
class IndexError : public Error {
 public:
  using Error::Error;
};
/// @brief A value or a state that is not allowed (backward on a freed graph, a modified saved tensor, ...).
class ValueError : public Error {
 public:
  using Error::Error;
};
/// @brief A matrix that a linear-algebra op cannot factor: singular (solve, inv), not positive
/// definite (cholesky), or a decomposition that did not converge. The message names the op and
/// the batch element (as PyTorch's torch.linalg.LinAlgError).
class LinAlgError : public ValueError {
 public:
  using ValueError::ValueError;
};
/// @brief Reading or writing files.
class IOError : public Error {
 public:
  using Error::Error;
};

}  // namespace xg
