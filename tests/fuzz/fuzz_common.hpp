#pragma once
// What the fuzz targets share. Each target is one LLVMFuzzerTestOneInput over bytes: built with
// libFuzzer (clang, -Dfuzz=true, scripts/fuzz.sh) it is fuzzed, and linked with replay_main.cpp
// (any compiler, every build) it replays its corpus tests/fuzz/corpus/<target>/ as a test.
// A target returns normally when xgrad accepts the input or rejects it with an xg::Error; any
// other exception, a crash or a sanitizer report is a finding (abort(), so libFuzzer saves it).
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include "xgrad/autograd/tensor/error.hpp"

namespace xg::fuzz {

// The loaders read paths: each process writes its input to its own temporary file, overwritten
// for each input (in $TMPDIR, /tmp by default; named after the process so that libFuzzer's
// parallel workers do not share one).
inline std::string write_input(const uint8_t* data, std::size_t size, const char* suffix = "") {
  const char* dir = std::getenv("TMPDIR");
  const std::string path =
      std::string(dir && *dir ? dir : "/tmp") + "/xgrad-fuzz-" + std::to_string(getpid()) + suffix;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs f; an xg::Error is an accepted outcome, anything else thrown is a finding.
template <class F>
bool only_typed_errors(const char* what, F&& f) {
  try {
    f();
    return true;
  } catch (const xg::Error&) {
    return false;
  } catch (const std::exception& e) {
    finding(std::string(what) + " threw a non-xgrad exception: " + e.what());
  } catch (...) {
    finding(std::string(what) + " threw something that is not an exception");
  }
}

}  // namespace xg::fuzz
