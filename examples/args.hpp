#pragma once
// The command line of the example programs: each option is declared with its variable and a line
// of help; --help prints them with their defaults, and an unknown option, a missing value or a
// value that is not a number stops the program with a message naming it (exit status 2) instead
// of being ignored: a mistyped `--step 10` must not train for the default budget.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace examples {

class Args {
 public:
  /// `about`: one line saying what the program does, printed first by --help.
  Args(int argc, char** argv, std::string about) : argc_(argc), argv_(argv), about_(std::move(about)) {}

  /// `--name VALUE` sets `value` (an integer, a floating-point number or a string).
  template <class T>
  Args& option(const char* name, T& value, const char* help) {
    std::ostringstream def;
    def << value;
    options_.push_back(
        {name, help, def.str(), true, [&value, name](const char* text) { set(value, name, text); }});
    return *this;
  }
  /// `--name` alone sets `value` to true.
  Args& flag(const char* name, bool& value, const char* help) {
    options_.push_back({name, help, "", false, [&value](const char*) { value = true; }});
    return *this;
  }

  /// Reads argv; exits after printing the help (status 0) or an error (status 2).
  void parse() {
    for (int i = 1; i < argc_; ++i) {
      const std::string_view a = argv_[i];
      if (a == "--help" || a == "-h") {
        usage(stdout);
        std::exit(0);
      }
      const Option* o = find(a);
      if (!o) fail("unknown option '" + std::string(a) + "'");
      if (o->takes_value && i + 1 >= argc_) fail(std::string(o->name) + " needs a value");
      o->set(o->takes_value ? argv_[++i] : nullptr);
    }
  }

 private:
  struct Option {
    const char* name;
    const char* help;
    std::string default_text;
    bool takes_value;
    std::function<void(const char*)> set;
  };

  const Option* find(std::string_view a) const {
    for (const Option& o : options_)
      if (a == o.name) return &o;
    return nullptr;
  }

  [[noreturn]] void fail(const std::string& why) const {
    std::fprintf(stderr, "%s: %s (--help lists the options)\n", argv_[0], why.c_str());
    std::exit(2);
  }
  [[noreturn]] static void bad_value(const char* name, const char* text, const char* what) {
    std::fprintf(stderr, "%s: '%s' is not %s\n", name, text, what);
    std::exit(2);
  }

  template <class T>
  static void set(T& value, const char* name, const char* text) {
    if constexpr (std::is_same_v<T, std::string>) {
      value = text;
    } else if constexpr (std::is_integral_v<T>) {
      const char* end = text + std::strlen(text);
      const auto r = std::from_chars(text, end, value);
      if (r.ec != std::errc() || r.ptr != end) bad_value(name, text, "an integer in range");
    } else {
      static_assert(std::is_floating_point_v<T>, "option(): integer, floating-point or string values");
      char* end = nullptr;
      const double v = std::strtod(text, &end);
      if (*text == '\0' || *end != '\0') bad_value(name, text, "a number");
      value = static_cast<T>(v);
    }
  }

  void usage(std::FILE* out) const {
    std::fprintf(out, "%s\n\nusage: %s [options]\n  %-22s %s\n", about_.c_str(), argv_[0], "--help",
                 "this text");
    for (const Option& o : options_) {
      std::string lhs = std::string(o.name) + (o.takes_value ? " VALUE" : "");
      std::fprintf(out, "  %-22s %s", lhs.c_str(), o.help);
      if (o.takes_value && !o.default_text.empty())
        std::fprintf(out, " (default: %s)", o.default_text.c_str());
      std::fprintf(out, "\n");
    }
  }

  int argc_;
  char** argv_;
  std::string about_;
  std::vector<Option> options_;
};

}  // namespace examples
