#pragma once
// Shared by the test files: CHECK_ERROR(Type, expr, "part", ...) checks that expr throws Type and
// that what() contains every part.
#include <doctest/doctest.h>

#include <exception>
#include <string>

namespace xg_test {

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

template <class E, class F>
inline std::string what_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<another exception: ") + e.what() + ">";
  }
  return "<no exception>";
}

}  // namespace xg_test

#define CHECK_ERROR(Type, expr, ...)                                                             \
  do {                                                                                           \
    const std::string xg_msg_ = xg_test::what_of<Type>([&] { (void)(expr); });                            \
    INFO("what(): " << xg_msg_);                                                                 \
    for (const char* xg_part_ : {__VA_ARGS__})                                                   \
      CHECK_MESSAGE(xg_test::contains(xg_msg_, xg_part_), "missing \"" << std::string(xg_part_) << "\""); \
  } while (0)
