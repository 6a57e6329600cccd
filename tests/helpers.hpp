#pragma once
// What the doctest files in tests/ share: the error check, value comparisons, module checks,
// builders and paths.
//
//   CHECK_ERROR(expr, xg::ShapeError, "matmul:", "[3, 4]")   expr throws exactly xg::ShapeError
//                                                             and what() contains every fragment
//   CHECK_ERROR_EQ(expr, xg::ShapeError, "whole message")    ... and what() is exactly that text
//   std::string m = ERROR_MESSAGE(expr, xg::IOError);         checks the type, returns what()
//
// The expression is evaluated once. A different exception type (another xg::Error subclass
// included) or no exception fails the check and says what was thrown.
#include <doctest/doctest.h>

#include <cxxabi.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "xgrad/autograd.hpp"
#include "xgrad/nn/module.hpp"

namespace xg_test {

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ------------------------------------------------------------------------------------ errors

// What a call threw: whether it threw, whether the dynamic type is exactly the expected one, the
// dynamic type's name and what().
struct Thrown {
  bool threw = false;
  bool right_type = false;
  std::string type;
  std::string what;
};

inline std::string type_name(const std::type_info& t) {
  int status = 0;
  char* name = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && name ? name : t.name();
  std::free(name);
  return out;
}

template <class E, class F>
Thrown catch_error(F&& f) {
  static_assert(std::is_base_of_v<xg::Error, E>, "CHECK_ERROR takes an xg::Error type");
  Thrown r;
  try {
    std::forward<F>(f)();
  } catch (const std::exception& e) {
    r.threw = true;
    r.right_type = typeid(e) == typeid(E);
    r.type = type_name(typeid(e));
    r.what = e.what();
  } catch (...) {
    r.threw = true;
    r.type = "an exception not derived from std::exception";
  }
  return r;
}

inline std::string describe(const Thrown& t) {
  if (!t.threw) return "nothing was thrown";
  return t.type + " was thrown: \"" + t.what + "\"";
}

inline std::string checked_message(const Thrown& t, const char* expr, const char* type, const char* file,
                                   int line) {
  if (!t.right_type) {
    const std::string msg = std::string(expr) + " should throw " + type + "; " + describe(t);
    ADD_FAIL_CHECK_AT(file, line, msg);
  }
  return t.what;
}

// ------------------------------------------------------------------------------------ values

// Every value of t against expected, relative to the larger magnitude (doctest::Approx with
// epsilon eps and scale 1), with the tensor printed on failure.
inline void check_values(const xg::Tensor& t, const std::vector<double>& expected, double eps = 1e-12) {
  REQUIRE(t.defined());
  const std::vector<double> got = t.to_vector<double>();
  INFO("got " << xg::to_string(t));
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(eps));
  }
}

// Two vectors element by element, within an absolute tolerance.
inline void check_close(const std::vector<double>& a, const std::vector<double>& b, double tol = 1e-5) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK_MESSAGE(std::abs(a[i] - b[i]) <= tol, "element " << i << ": " << a[i] << " vs " << b[i]);
}

// The names of named tensors (parameters, buffers, a state dict), in order.
inline std::vector<std::string> names_of(const xg::NamedTensors& nt) {
  std::vector<std::string> out;
  for (const auto& [n, t] : nt) out.push_back(n);
  return out;
}

// ------------------------------------------------------------------------------------ modules

// Names and shapes of a module's parameters, in registration order.
inline std::vector<std::pair<std::string, xg::Shape>> param_layout(const xg::nn::Module& m) {
  std::vector<std::pair<std::string, xg::Shape>> out;
  for (const auto& [n, t] : m.named_parameters()) out.emplace_back(n, t.shape());
  return out;
}

inline double max_abs(const xg::Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// Converts the module to float64 and gradchecks forward with respect to x and every parameter
// (the parameters are passed to gradcheck as inputs: it perturbs them in place). `before` runs
// before each evaluation (to re-seed a dropout mask, say).
inline void check_layer_grads(xg::nn::Module& m, const xg::Tensor& x0, bool second_order = true,
                              const std::function<void()>& before = {}) {
  m.to(xg::Dtype::float64);
  xg::Tensor x = x0.to(xg::Dtype::float64).detach().requires_grad_();
  std::vector<xg::Tensor> inputs{x};
  for (const xg::Tensor& p : m.parameters()) {
    REQUIRE(p.dtype() == xg::Dtype::float64);
    REQUIRE(p.requires_grad());
    inputs.push_back(p);
  }
  auto f = [&](const std::vector<xg::Tensor>& in) {
    if (before) before();
    return m.forward(in[0]);
  };
  const xg::GradcheckReport r = xg::gradcheck(f, inputs);
  CHECK_MESSAGE(r.passed, m.type_name(), ": ", r.str());
  CHECK(r.inputs_checked == static_cast<int>(inputs.size()));
  if (second_order) {
    const xg::GradcheckReport r2 = xg::gradgradcheck(f, inputs);
    CHECK_MESSAGE(r2.passed, m.type_name(), ": ", r2.str());
  }
}

// ------------------------------------------------------------------------------------ builders

// An int64 tensor holding exactly these values (1-D, or of the given shape).
inline xg::Tensor i64(const std::vector<int64_t>& v) {
  return xg::from_vector(v, xg::Shape{static_cast<int64_t>(v.size())});
}
inline xg::Tensor i64(const std::vector<int64_t>& v, const xg::Shape& s) {
  return xg::from_vector(v, s);
}

// A path in the temporary directory, unique to this process: xg_test_<pid>_<name>.
inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("xg_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// The bytes of a file ("" when it cannot be read), and a file made of these bytes.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace xg_test

#define CHECK_ERROR(expr, Type, first, ...)                                                               \
  do {                                                                                                    \
    const ::xg_test::Thrown xg_thrown_ = ::xg_test::catch_error<Type>([&] { (void)(expr); });             \
    CHECK_MESSAGE(xg_thrown_.right_type,                                                                  \
                  #expr " should throw " #Type "; " << ::xg_test::describe(xg_thrown_));                  \
    if (xg_thrown_.threw)                                                                                 \
      for (const std::string& xg_part_ :                                                                  \
           std::initializer_list<std::string>{first __VA_OPT__(, ) __VA_ARGS__})                          \
        CHECK_MESSAGE(::xg_test::contains(xg_thrown_.what, xg_part_), "the message of " #expr " lacks \"" \
                                                                          << xg_part_ << "\": \""         \
                                                                          << xg_thrown_.what << "\"");    \
  } while (0)

#define CHECK_ERROR_EQ(expr, Type, text)                                                      \
  do {                                                                                        \
    const ::xg_test::Thrown xg_thrown_ = ::xg_test::catch_error<Type>([&] { (void)(expr); }); \
    CHECK_MESSAGE(xg_thrown_.right_type,                                                      \
                  #expr " should throw " #Type "; " << ::xg_test::describe(xg_thrown_));      \
    if (xg_thrown_.threw) CHECK(xg_thrown_.what == std::string(text));                        \
  } while (0)

#define ERROR_MESSAGE(expr, Type)                                                                         \
  ::xg_test::checked_message(::xg_test::catch_error<Type>([&] { (void)(expr); }), #expr, #Type, __FILE__, \
                             __LINE__)

namespace xg::test {
// Growth of the resident set over a scope, in bytes: the kernel's peak (VmHWM) is reset first
// when /proc/self/clear_refs allows it; otherwise measured from the peak so far (which can only
// under-count, never fail a check that should pass).
inline int64_t status_bytes(const std::string& key) {
  std::ifstream s("/proc/self/status");
  for (std::string line; std::getline(s, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
  return 0;
}
class RssGrowth {
 public:
  RssGrowth() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    base_ = clear.good() ? status_bytes("VmRSS") : status_bytes("VmHWM");
  }
  int64_t bytes() const { return status_bytes("VmHWM") - base_; }

 private:
  int64_t base_;
};
}  // namespace xg::test
