// detail::gemm: products split into blocks over the compute pool give the reference values for
// every transpose and both split directions, overwrite or accumulate as asked, and are bit for
// bit the same whether the blocks run on the pool or one after the other inside a parallel_for
// body (a nested call), so results depend only on the thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "xgrad/autograd.hpp"
#include "xgrad/autograd/kernels/gemm.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"

namespace {

struct ThreadsRestore {
  int saved = xg::get_num_threads();
  ~ThreadsRestore() { xg::set_num_threads(saved); }
};

std::vector<float> values(int64_t n, float salt) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(salt + 0.61f * static_cast<float>(i));
  return v;
}

// c = op(a) op(b) in double, a [m, k] ([k, m] when ta), b [k, n] ([n, k] when tb).
std::vector<double> reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const std::vector<float>& a,
                              const std::vector<float>& b) {
  std::vector<double> c(static_cast<std::size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p)
        s += static_cast<double>(a[static_cast<std::size_t>(ta ? p * m + i : i * k + p)]) *
             b[static_cast<std::size_t>(tb ? j * k + p : p * n + j)];
      c[static_cast<std::size_t>(i * n + j)] = s;
    }
  return c;
}

struct Shape3 {
  int64_t m, n, k;
};

}  // namespace

TEST_CASE("gemm split over the pool: reference values, overwrite and accumulate, all transposes") {
  ThreadsRestore restore;
  // Row blocks (m >= 64), column blocks (m < 64), one block (small), ragged edges.
  const std::vector<Shape3> shapes = {{128, 96, 40}, {200, 72, 33}, {32, 512, 24}, {17, 300, 64}, {8, 8, 8}};
  for (int threads : {1, 2, 3}) {
    xg::set_num_threads(threads);
    for (const Shape3& s : shapes)
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        CAPTURE(threads);
        CAPTURE(s.m);
        CAPTURE(s.n);
        CAPTURE(s.k);
        CAPTURE(t);
        const std::vector<float> a = values(s.m * s.k, 1.0f), b = values(s.k * s.n, 2.0f);
        const std::vector<double> ref = reference(ta, tb, s.m, s.n, s.k, a, b);
        std::vector<float> c(static_cast<std::size_t>(s.m * s.n), 123.0f);  // overwritten
        xg::detail::gemm(ta, tb, s.m, s.n, s.k, a.data(), b.data(), c.data());
        double worst = 0;
        for (std::size_t i = 0; i < c.size(); ++i) worst = std::max(worst, std::abs(c[i] - ref[i]));
        CHECK(worst < 1e-4 * static_cast<double>(s.k));
        std::vector<float> acc(c.size(), 0.5f);  // accumulated onto
        xg::detail::gemm(ta, tb, s.m, s.n, s.k, a.data(), b.data(), acc.data(), true);
        worst = 0;
        for (std::size_t i = 0; i < c.size(); ++i) worst = std::max(worst, std::abs(acc[i] - 0.5 - ref[i]));
        CHECK(worst < 1e-4 * static_cast<double>(s.k));
      }
  }
}

TEST_CASE("gemm: the same bits on the pool and nested inside a parallel_for body") {
  ThreadsRestore restore;
  xg::set_num_threads(2);
  for (const Shape3& s : std::vector<Shape3>{{256, 200, 96}, {48, 640, 80}}) {
    CAPTURE(s.m);
    const std::vector<float> a = values(s.m * s.k, 3.0f), b = values(s.k * s.n, 4.0f);
    std::vector<float> top(static_cast<std::size_t>(s.m * s.n)), nested(top.size()), again(top.size());
    xg::detail::gemm(false, true, s.m, s.n, s.k, a.data(), b.data(), top.data());
    xg::detail::gemm(false, true, s.m, s.n, s.k, a.data(), b.data(), again.data());
    // A region of two chunks; only the first one multiplies, inline (nested regions do not split).
    xg::detail::parallel_for(2, 1, [&](int64_t lo, int64_t) {
      if (lo == 0) xg::detail::gemm(false, true, s.m, s.n, s.k, a.data(), b.data(), nested.data());
    });
    CHECK(top == again);
    CHECK(top == nested);
  }
}
