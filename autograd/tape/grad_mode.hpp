#pragma once
/// @file grad_mode.hpp
/// @brief Grad mode: a thread-local flag. While it is off, ops record nothing on the tape.

namespace xg {

struct GradMode {
  static bool is_enabled();
  static void set_enabled(bool on);
};

/// @brief RAII guard that turns recording off for its scope (LibTorch's torch::NoGradGuard).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// @brief RAII guard that sets grad mode to a given value for its scope.
class AutoGradMode {
 public:
  explicit AutoGradMode(bool on) : prev_(GradMode::is_enabled()) { GradMode::set_enabled(on); }
  ~AutoGradMode() { GradMode::set_enabled(prev_); }
  AutoGradMode(const AutoGradMode&) = delete;
  AutoGradMode& operator=(const AutoGradMode&) = delete;

 private:
  bool prev_;
};

}  // namespace xg
