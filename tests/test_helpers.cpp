// The shared test helpers (tests/helpers.hpp) can fail: CHECK_ERROR rejects another xg::Error
// subclass, the base class, a non-xgrad exception, no exception, and a message without the
// fragment. The failing uses are test cases that expect exactly one failed assertion each.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"

namespace {

void throw_shape() {
  throw xg::ShapeError("matmul: inner dimensions differ: [3, 4] @ [5, 2]");
}
void throw_value() {
  throw xg::ValueError("matmul: inner dimensions differ: [3, 4] @ [5, 2]");
}
void throw_base() {
  throw xg::Error("matmul: inner dimensions differ: [3, 4] @ [5, 2]");
}
void throw_nothing() {}

}  // namespace

TEST_CASE("catch_error: the thrown type exactly, its name and what()") {
  const xg_test::Thrown t = xg_test::catch_error<xg::ShapeError>(throw_shape);
  CHECK(t.threw);
  CHECK(t.right_type);
  CHECK(t.type == "xg::ShapeError");
  CHECK(t.what == "matmul: inner dimensions differ: [3, 4] @ [5, 2]");

  const xg_test::Thrown sibling = xg_test::catch_error<xg::ShapeError>(throw_value);
  CHECK(sibling.threw);
  CHECK_FALSE(sibling.right_type);
  CHECK(sibling.type == "xg::ValueError");
  CHECK_FALSE(xg_test::catch_error<xg::ShapeError>(throw_base).right_type);  // the base for a subclass
  CHECK_FALSE(xg_test::catch_error<xg::Error>(throw_shape).right_type);      // a subclass for the base

  const xg_test::Thrown other =
      xg_test::catch_error<xg::ShapeError>([] { throw std::runtime_error("not ours"); });
  CHECK(other.threw);
  CHECK_FALSE(other.right_type);
  CHECK(other.type == "std::runtime_error");
  const xg_test::Thrown odd = xg_test::catch_error<xg::ShapeError>([] { throw 3; });
  CHECK(odd.threw);
  CHECK_FALSE(odd.right_type);
  CHECK(odd.type == "an exception not derived from std::exception");

  const xg_test::Thrown none = xg_test::catch_error<xg::ShapeError>(throw_nothing);
  CHECK_FALSE(none.threw);
  CHECK_FALSE(none.right_type);
  CHECK(xg_test::describe(none) == "nothing was thrown");
}

TEST_CASE("CHECK_ERROR, CHECK_ERROR_EQ and ERROR_MESSAGE pass on the right type and message") {
  CHECK_ERROR(throw_shape(), xg::ShapeError, "matmul:");
  CHECK_ERROR(throw_shape(), xg::ShapeError, "matmul:", "[3, 4]", std::string("[5, 2]"));
  CHECK_ERROR(throw_base(), xg::Error, "inner dimensions");
  CHECK_ERROR_EQ(throw_shape(), xg::ShapeError, "matmul: inner dimensions differ: [3, 4] @ [5, 2]");
  CHECK(ERROR_MESSAGE(throw_value(), xg::ValueError) == "matmul: inner dimensions differ: [3, 4] @ [5, 2]");
  int calls = 0;
  CHECK_ERROR((++calls, throw_shape()), xg::ShapeError, "matmul:");
  CHECK(calls == 1);  // evaluated once
}

TEST_CASE("CHECK_ERROR fails on another xg::Error subclass" * doctest::expected_failures(1)) {
  CHECK_ERROR(throw_value(), xg::ShapeError, "matmul:");
}

TEST_CASE("CHECK_ERROR fails on the base class where a subclass is expected" *
          doctest::expected_failures(1)) {
  CHECK_ERROR(throw_base(), xg::ShapeError, "matmul:");
}

TEST_CASE("CHECK_ERROR fails on a subclass where the base class is expected" *
          doctest::expected_failures(1)) {
  CHECK_ERROR(throw_shape(), xg::Error, "matmul:");
}

TEST_CASE("CHECK_ERROR fails when nothing is thrown" * doctest::expected_failures(1)) {
  CHECK_ERROR(throw_nothing(), xg::ShapeError, "matmul:");
}

TEST_CASE("CHECK_ERROR fails on a message without the fragment" * doctest::expected_failures(1)) {
  CHECK_ERROR(throw_shape(), xg::ShapeError, "matmul:", "[4, 3]");
}

TEST_CASE("CHECK_ERROR_EQ fails on another message" * doctest::expected_failures(1)) {
  CHECK_ERROR_EQ(throw_shape(), xg::ShapeError, "matmul: inner dimensions differ");
}

TEST_CASE("ERROR_MESSAGE fails on another type and still returns the message" *
          doctest::expected_failures(1)) {
  CHECK(ERROR_MESSAGE(throw_value(), xg::ShapeError) == "matmul: inner dimensions differ: [3, 4] @ [5, 2]");
}
