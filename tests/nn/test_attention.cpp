// scaled_dot_product_attention and MultiheadAttention against naive loops; masks (additive,
// keep, drop, causal, key padding); PyTorch's parameter names and shapes; layouts (seq-first,
// batch_first, unbatched); state_dict round trip; errors; float64 gradchecks w.r.t. query, key,
// value and every parameter.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/attention.hpp"

namespace {

using xg::Dtype;
using xg::Tensor;
using Vec = std::vector<double>;
using Mat = std::vector<Vec>;
using xg::nn::MaskKind;

using xg_test::check_close;
using xg_test::names_of;

Mat to_mat(const Vec& v, std::size_t rows, std::size_t cols, std::size_t offset = 0) {
  Mat m(rows, Vec(cols));
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) m[i][j] = v[offset + i * cols + j];
  return m;
}
Vec flat(const Mat& m) {
  Vec v;
  for (const Vec& r : m) v.insert(v.end(), r.begin(), r.end());
  return v;
}

// Naive attention of one batch element: q [L, E], k [S, E], v [S, Ev], additive mask [L, S].
struct Naive {
  Mat out, weights;
};
Naive naive_attention(const Mat& q, const Mat& k, const Mat& v, const Mat& mask = {}) {
  const std::size_t l = q.size(), s = k.size(), e = q[0].size(), ev = v[0].size();
  Naive r{Mat(l, Vec(ev, 0.0)), Mat(l, Vec(s, 0.0))};
  for (std::size_t i = 0; i < l; ++i) {
    Vec sc(s);
    double mx = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < s; ++j) {
      double d = 0;
      for (std::size_t c = 0; c < e; ++c) d += q[i][c] * k[j][c];
      sc[j] = d / std::sqrt(static_cast<double>(e)) + (mask.empty() ? 0.0 : mask[i][j]);
      mx = std::max(mx, sc[j]);
    }
    double z = 0;
    for (std::size_t j = 0; j < s; ++j) z += std::exp(sc[j] - mx);
    for (std::size_t j = 0; j < s; ++j) {
      r.weights[i][j] = std::exp(sc[j] - mx) / z;
      for (std::size_t c = 0; c < ev; ++c) r.out[i][c] += r.weights[i][j] * v[j][c];
    }
  }
  return r;
}

// x [rows, in] W^T + b for W [out, in] (row-major values).
Mat linear(const Mat& x, const Vec& w, const Vec& b, std::size_t out) {
  const std::size_t in = x[0].size();
  Mat y(x.size(), Vec(out, 0.0));
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t o = 0; o < out; ++o) {
      double s = b.empty() ? 0.0 : b[o];
      for (std::size_t j = 0; j < in; ++j) s += x[i][j] * w[o * in + j];
      y[i][o] = s;
    }
  return y;
}
Mat cols(const Mat& m, std::size_t from, std::size_t n) {
  Mat r(m.size(), Vec(n));
  for (std::size_t i = 0; i < m.size(); ++i)
    for (std::size_t j = 0; j < n; ++j) r[i][j] = m[i][from + j];
  return r;
}

// Naive multi-head attention of one batch element; returns the output [L, E] and weights averaged over heads
// [L, S].
Naive naive_mha(const xg::nn::MultiheadAttention& m, const Mat& query, const Mat& key, const Mat& value,
                const Mat& mask = {}) {
  const std::size_t e = static_cast<std::size_t>(m.embed_dim()), h = static_cast<std::size_t>(m.num_heads()),
                    d = e / h;
  const Vec w = m.in_proj_weight.to_vector<double>(), b = m.in_proj_bias.to_vector<double>();
  auto block = [&](const Vec& v, std::size_t i, std::size_t len) {
    return Vec(v.begin() + static_cast<long>(i * len), v.begin() + static_cast<long>((i + 1) * len));
  };
  const Mat q = linear(query, block(w, 0, e * e), block(b, 0, e), e),
            k = linear(key, block(w, 1, e * e), block(b, 1, e), e),
            v = linear(value, block(w, 2, e * e), block(b, 2, e), e);
  Mat concat(query.size(), Vec(e, 0.0)), avg(query.size(), Vec(key.size(), 0.0));
  for (std::size_t hh = 0; hh < h; ++hh) {
    Naive a = naive_attention(cols(q, hh * d, d), cols(k, hh * d, d), cols(v, hh * d, d), mask);
    for (std::size_t i = 0; i < query.size(); ++i) {
      for (std::size_t c = 0; c < d; ++c) concat[i][hh * d + c] = a.out[i][c];
      for (std::size_t j = 0; j < key.size(); ++j) avg[i][j] += a.weights[i][j] / static_cast<double>(h);
    }
  }
  return {linear(concat, m.out_proj->weight.to_vector<double>(), m.out_proj->bias.to_vector<double>(), e),
          avg};
}

// Batch element n of a seq-first [T, N, E] tensor as a matrix.
Mat batch_of(const Tensor& x, int64_t n) {
  return to_mat(xg::squeeze(xg::slice(x, 1, n, n + 1), 1).to_vector<double>(),
                static_cast<std::size_t>(x.size(0)), static_cast<std::size_t>(x.size(2)));
}

}  // namespace

TEST_CASE("scaled_dot_product_attention against a naive computation") {
  xg::manual_seed(21);
  Tensor q = xg::randn({2, 3, 4}), k = xg::randn({2, 5, 4}), v = xg::randn({2, 5, 3});
  xg::nn::AttentionOutput a = xg::nn::attention(q, k, v);
  CHECK(a.output.shape() == xg::Shape{2, 3, 3});
  CHECK(a.weights.shape() == xg::Shape{2, 3, 5});
  Vec want_out, want_w;
  for (std::size_t b = 0; b < 2; ++b) {
    Naive n = naive_attention(to_mat(q.to_vector<double>(), 3, 4, b * 12),
                              to_mat(k.to_vector<double>(), 5, 4, b * 20),
                              to_mat(v.to_vector<double>(), 5, 3, b * 15));
    for (double x : flat(n.out)) want_out.push_back(x);
    for (double x : flat(n.weights)) want_w.push_back(x);
  }
  check_close(a.output.to_vector<double>(), want_out);
  check_close(a.weights.to_vector<double>(), want_w);
  check_close(xg::nn::scaled_dot_product_attention(q, k, v).to_vector<double>(), a.output.to_vector<double>(),
              0);

  SUBCASE("explicit scale, 2-D and 4-D operands") {
    Tensor o = xg::nn::scaled_dot_product_attention(q, k, v, Tensor(), false, {.scale = 0.5 * 2.0});
    Tensor o2 = xg::nn::scaled_dot_product_attention(q * 2.0, k, v);  // scale 1/2 on doubled q
    check_close(o.to_vector<double>(), o2.to_vector<double>());
    Tensor q2 = xg::squeeze(xg::slice(q, 0, 0, 1), 0), k2 = xg::squeeze(xg::slice(k, 0, 0, 1), 0),
           v2 = xg::squeeze(xg::slice(v, 0, 0, 1), 0);
    check_close(xg::nn::scaled_dot_product_attention(q2, k2, v2).to_vector<double>(),
                Vec(want_out.begin(), want_out.begin() + 9));
    Tensor q4 = xg::reshape(q, {1, 2, 3, 4}), k4 = xg::reshape(k, {1, 2, 5, 4}),
           v4 = xg::reshape(v, {1, 2, 5, 3});
    check_close(xg::nn::scaled_dot_product_attention(q4, k4, v4).to_vector<double>(), want_out);
  }
}

TEST_CASE("attention masks: additive, keep, drop and causal") {
  xg::manual_seed(22);
  Tensor q = xg::randn({1, 3, 2}), k = xg::randn({1, 3, 2}), v = xg::randn({1, 3, 2});
  const double inf = std::numeric_limits<double>::infinity();
  Tensor additive = xg::tensor({0, -inf, 0, 0, 0, -inf, 0.5, 0, 0}, {3, 3});
  Mat madd{{0, -inf, 0}, {0, 0, -inf}, {0.5, 0, 0}};
  Naive n = naive_attention(to_mat(q.to_vector<double>(), 3, 2), to_mat(k.to_vector<double>(), 3, 2),
                            to_mat(v.to_vector<double>(), 3, 2), madd);
  xg::nn::AttentionOutput a = xg::nn::attention(q, k, v, additive);
  check_close(a.output.to_vector<double>(), flat(n.out));
  check_close(a.weights.to_vector<double>(), flat(n.weights));
  CHECK(a.weights.at({0, 0, 1}) == 0.0);

  // the same pattern as 0/1 masks (int64 works too)
  Tensor keep = xg::tensor({1, 0, 1, 1, 1, 0, 1, 1, 1}, {3, 3});
  Tensor drop = xg::tensor({0, 1, 0, 0, 0, 1, 0, 0, 0}, {3, 3});
  Mat mkeep{{0, -inf, 0}, {0, 0, -inf}, {0, 0, 0}};
  Naive nk = naive_attention(to_mat(q.to_vector<double>(), 3, 2), to_mat(k.to_vector<double>(), 3, 2),
                             to_mat(v.to_vector<double>(), 3, 2), mkeep);
  check_close(xg::nn::scaled_dot_product_attention(q, k, v, keep, false, {.mask_kind = MaskKind::keep})
                  .to_vector<double>(),
              flat(nk.out));
  check_close(xg::nn::scaled_dot_product_attention(q, k, v, drop, false, {.mask_kind = MaskKind::drop})
                  .to_vector<double>(),
              flat(nk.out));
  check_close(xg::nn::scaled_dot_product_attention(q, k, v, keep.to(Dtype::int64), false,
                                                   {.mask_kind = MaskKind::keep})
                  .to_vector<double>(),
              flat(nk.out));
  CHECK_ERROR(xg::nn::scaled_dot_product_attention(q, k, v, keep.to(Dtype::int64)), xg::TypeError,
              "scaled_dot_product_attention: attn_mask is int64 but mask_kind is MaskKind::additive",
              "float additive mask", "MaskKind::drop", "MaskKind::keep");

  // causal: query i sees keys 0..i; row 0 is v's row 0
  xg::nn::AttentionOutput c = xg::nn::attention(q, k, v, Tensor(), true);
  Mat mc{{0, -inf, -inf}, {0, 0, -inf}, {0, 0, 0}};
  Naive ncaus = naive_attention(to_mat(q.to_vector<double>(), 3, 2), to_mat(k.to_vector<double>(), 3, 2),
                                to_mat(v.to_vector<double>(), 3, 2), mc);
  check_close(c.output.to_vector<double>(), flat(ncaus.out));
  CHECK(c.weights.at({0, 0, 0}) == doctest::Approx(1.0));
  CHECK(c.weights.at({0, 1, 2}) == 0.0);
  // causal combines with a mask
  Tensor both = xg::nn::scaled_dot_product_attention(q, k, v, keep, true, {.mask_kind = MaskKind::keep});
  Mat mboth{{0, -inf, -inf}, {0, 0, -inf}, {0, 0, 0}};
  check_close(both.to_vector<double>(),
              flat(naive_attention(to_mat(q.to_vector<double>(), 3, 2), to_mat(k.to_vector<double>(), 3, 2),
                                   to_mat(v.to_vector<double>(), 3, 2), mboth)
                       .out));
}

TEST_CASE("scaled_dot_product_attention errors name the shapes") {
  Tensor q = xg::randn({2, 3, 4}), k = xg::randn({2, 5, 4}), v = xg::randn({2, 5, 3});
  CHECK_ERROR(xg::nn::scaled_dot_product_attention(q, xg::randn({2, 5, 3}), v), xg::ShapeError,
              "scaled_dot_product_attention", "[2, 3, 4]", "[2, 5, 3]");
  CHECK_ERROR(xg::nn::scaled_dot_product_attention(q, k, xg::randn({2, 4, 3})), xg::ShapeError,
              "scaled_dot_product_attention:", "different lengths", "v [2, 4, 3]");
  CHECK_ERROR(xg::nn::scaled_dot_product_attention(q, xg::randn({3, 5, 4}), v), xg::ShapeError,
              "scaled_dot_product_attention:", "batch axes", "k [3, 5, 4]");
  CHECK_ERROR(xg::nn::scaled_dot_product_attention(q, k, v, xg::zeros({3, 4})), xg::ShapeError,
              "scaled_dot_product_attention:", "attn_mask [3, 4]", "[2, 3, 5]");
  CHECK_ERROR(xg::nn::scaled_dot_product_attention(q, k, v, Tensor(), false, {.dropout_p = 2}),
              xg::ValueError, "scaled_dot_product_attention:", "dropout_p", "got 2");
}

TEST_CASE("MultiheadAttention: parameters as PyTorch") {
  xg::nn::MultiheadAttention mha(8, 2);
  CHECK(names_of(mha.named_parameters()) ==
        std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  CHECK(mha.in_proj_weight.shape() == xg::Shape{24, 8});
  CHECK(mha.in_proj_bias.shape() == xg::Shape{24});
  CHECK(mha.out_proj->weight.shape() == xg::Shape{8, 8});
  CHECK(mha.out_proj->bias.shape() == xg::Shape{8});
  CHECK(mha.in_proj_bias.to_vector<double>() == Vec(24, 0.0));
  CHECK(mha.out_proj->bias.to_vector<double>() == Vec(8, 0.0));
  const double xb = std::sqrt(6.0 / 32.0), ob = 1.0 / std::sqrt(8.0);
  for (double w : mha.in_proj_weight.to_vector<double>()) CHECK(std::abs(w) <= xb);
  for (double w : mha.out_proj->weight.to_vector<double>()) CHECK(std::abs(w) <= ob);
  CHECK(mha.head_dim() == 4);
  CHECK(mha.repr() ==
        "MultiheadAttention(embed_dim=8, num_heads=2\n  (out_proj): "
        "NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=true)\n)");
  xg::nn::MultiheadAttention nb(4, 1, {.bias = false});
  CHECK(names_of(nb.named_parameters()) == std::vector<std::string>{"in_proj_weight", "out_proj.weight"});
  CHECK_ERROR(xg::nn::MultiheadAttention(6, 4), xg::ValueError, "MultiheadAttention:", "embed_dim 6",
              "num_heads 4");
}

TEST_CASE("MultiheadAttention against a naive per-head computation") {
  xg::manual_seed(23);
  const int64_t E = 4, H = 2, L = 3, S = 2, N = 2;
  xg::nn::MultiheadAttention mha(E, H);
  {
    xg::NoGradGuard g;  // non-zero biases so that they are tested too
    mha.in_proj_bias.copy_(xg::randn({3 * E}));
    mha.out_proj->bias.copy_(xg::randn({E}));
  }
  Tensor query = xg::randn({L, N, E}), key = xg::randn({S, N, E}), value = xg::randn({S, N, E});
  xg::nn::MultiheadAttentionOutput out = mha.forward(query, key, value);
  CHECK(out.output.shape() == xg::Shape{L, N, E});
  CHECK(out.attn_weights.shape() == xg::Shape{N, L, S});
  Vec want_out(static_cast<std::size_t>(L * N * E)), want_w;
  for (int64_t n = 0; n < N; ++n) {
    Naive r = naive_mha(mha, batch_of(query, n), batch_of(key, n), batch_of(value, n));
    for (std::size_t i = 0; i < static_cast<std::size_t>(L); ++i)
      for (std::size_t c = 0; c < static_cast<std::size_t>(E); ++c)
        want_out[(i * static_cast<std::size_t>(N) + static_cast<std::size_t>(n)) *
                     static_cast<std::size_t>(E) +
                 c] = r.out[i][c];
    for (double w : flat(r.weights)) want_w.push_back(w);
  }
  check_close(out.output.to_vector<double>(), want_out);
  check_close(out.attn_weights.to_vector<double>(), want_w);

  SUBCASE("batch_first and unbatched layouts") {
    xg::nn::MultiheadAttention bf(E, H, {.batch_first = true});
    bf.load_state_dict(mha.state_dict());
    xg::nn::MultiheadAttentionOutput o =
        bf.forward(xg::transpose(query, 0, 1), xg::transpose(key, 0, 1), xg::transpose(value, 0, 1));
    CHECK(o.output.shape() == xg::Shape{N, L, E});
    check_close(o.output.to_vector<double>(), xg::transpose(out.output, 0, 1).to_vector<double>());
    check_close(o.attn_weights.to_vector<double>(), want_w);
    auto first = [](const Tensor& t) { return xg::squeeze(xg::slice(t, 1, 0, 1), 1); };
    xg::nn::MultiheadAttentionOutput u = mha.forward(first(query), first(key), first(value));
    CHECK(u.output.shape() == xg::Shape{L, E});
    CHECK(u.attn_weights.shape() == xg::Shape{L, S});
    check_close(u.output.to_vector<double>(), first(out.output).to_vector<double>());
  }
  SUBCASE("per-head weights, no weights") {
    xg::nn::MultiheadAttentionArgs args;
    args.average_attn_weights = false;
    xg::nn::MultiheadAttentionOutput o = mha.forward(query, key, value, args);
    CHECK(o.attn_weights.shape() == xg::Shape{N, H, L, S});
    check_close(xg::mean(o.attn_weights, {1}).to_vector<double>(), want_w);
    args.need_weights = false;
    CHECK_FALSE(mha.forward(query, key, value, args).attn_weights.defined());
  }
}

TEST_CASE("MultiheadAttention self-attention, masks and key padding") {
  xg::manual_seed(24);
  const int64_t E = 6, H = 3, L = 4, N = 2;
  xg::nn::MultiheadAttention mha(E, H);
  Tensor x = xg::randn({L, N, E});
  // the fused self-attention path equals the general one
  xg::nn::MultiheadAttentionOutput self = mha.forward(x, x, x);
  xg::nn::MultiheadAttentionOutput general = mha.forward(x, x.clone(), x.clone());
  check_close(self.output.to_vector<double>(), general.output.to_vector<double>());
  check_close(mha.forward(x).to_vector<double>(), self.output.to_vector<double>(), 0);

  SUBCASE("causal") {
    xg::nn::MultiheadAttentionArgs args;
    args.is_causal = true;
    xg::nn::MultiheadAttentionOutput c = mha.forward(x, x, x, args);
    const double inf = std::numeric_limits<double>::infinity();
    Mat mask(static_cast<std::size_t>(L), Vec(static_cast<std::size_t>(L), 0.0));
    for (std::size_t i = 0; i < mask.size(); ++i)
      for (std::size_t j = i + 1; j < mask.size(); ++j) mask[i][j] = -inf;
    Naive r = naive_mha(mha, batch_of(x, 1), batch_of(x, 1), batch_of(x, 1), mask);
    check_close(xg::squeeze(xg::slice(c.output, 1, 1, 2), 1).to_vector<double>(), flat(r.out));
    check_close(xg::squeeze(xg::slice(c.attn_weights, 0, 1, 2), 0).to_vector<double>(), flat(r.weights));
    // the same as a drop mask [L, S] (PyTorch's boolean attn_mask) and as an additive one
    Tensor drop = xg::zeros({L, L});
    Tensor additive = xg::zeros({L, L});
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = i + 1; j < L; ++j) {
        drop.data<float>()[i * L + j] = 1;
        additive.data<float>()[i * L + j] = -INFINITY;
      }
    xg::nn::MultiheadAttentionArgs a2;
    a2.attn_mask = drop;
    a2.mask_kind = MaskKind::drop;
    check_close(mha.forward(x, x, x, a2).output.to_vector<double>(), c.output.to_vector<double>());
    xg::nn::MultiheadAttentionArgs a3;
    a3.attn_mask = xg::expand(xg::unsqueeze(additive, 0), {N * H, L, L});  // the 3-D form [N h, L, S]
    check_close(mha.forward(x, x, x, a3).output.to_vector<double>(), c.output.to_vector<double>());
  }
  SUBCASE("key_padding_mask: padded keys get no weight") {
    Tensor pad = xg::tensor({0, 0, 1, 1, 0, 0, 0, 1}, {N, L});  // 1 = ignore (PyTorch's boolean)
    xg::nn::MultiheadAttentionArgs args;
    args.key_padding_mask = pad;
    args.mask_kind = MaskKind::drop;
    xg::nn::MultiheadAttentionOutput o = mha.forward(x, x, x, args);
    for (int64_t i = 0; i < L; ++i) {
      CHECK(o.attn_weights.at({0, i, 2}) == 0.0);
      CHECK(o.attn_weights.at({0, i, 3}) == 0.0);
      CHECK(o.attn_weights.at({1, i, 3}) == 0.0);
      CHECK(o.attn_weights.at({1, i, 0}) > 0.0);
    }
    // batch 0 equals attending to its first two keys only
    auto b0 = [](const Tensor& t) { return xg::slice(xg::slice(t, 1, 0, 1), 0, 0, 2); };
    xg::nn::MultiheadAttentionOutput short_kv = mha.forward(xg::slice(x, 1, 0, 1), b0(x), b0(x));
    check_close(xg::slice(o.output, 1, 0, 1).to_vector<double>(), short_kv.output.to_vector<double>());
  }
}

TEST_CASE("MultiheadAttention errors, state_dict round trip, dropout in training only") {
  xg::manual_seed(25);
  xg::nn::MultiheadAttention mha(4, 2);
  CHECK_ERROR(mha.forward(xg::randn({3, 2, 4}), xg::randn({5, 2, 3}), xg::randn({5, 2, 3})), xg::ShapeError,
              "MultiheadAttention", "[5, 2, 3]");
  CHECK_ERROR(mha.forward(xg::randn({3, 2, 4}), xg::randn({5, 3, 4}), xg::randn({5, 3, 4})), xg::ShapeError,
              "MultiheadAttention:", "different batch sizes", "key [5, 3, 4]");
  CHECK_ERROR(mha.forward(xg::randn({3, 2, 4}), xg::randn({5, 2, 4}), xg::randn({4, 2, 4})), xg::ShapeError,
              "MultiheadAttention:", "different lengths", "value [4, 2, 4]");
  xg::nn::MultiheadAttentionArgs bad;
  bad.attn_mask = xg::zeros({3, 4});
  CHECK_ERROR(mha.forward(xg::randn({3, 2, 4}), xg::randn({5, 2, 4}), xg::randn({5, 2, 4}), bad),
              xg::ShapeError, "attn_mask", "[3, 5]", "[3, 4]");
  xg::nn::MultiheadAttentionArgs badpad;
  badpad.key_padding_mask = xg::zeros({2, 4});
  CHECK_ERROR(mha.forward(xg::randn({3, 2, 4}), xg::randn({5, 2, 4}), xg::randn({5, 2, 4}), badpad),
              xg::ShapeError, "MultiheadAttention:", "key_padding_mask must be [2, 5], got [2, 4]");
  // a 0/1 int64 padding mask given without its kind: the error says which mask_kind to set
  xg::nn::MultiheadAttentionArgs intpad;
  intpad.key_padding_mask = xg::zeros({2, 5}, {.dtype = xg::Dtype::int64});
  CHECK_ERROR(mha.forward(xg::randn({3, 2, 4}), xg::randn({5, 2, 4}), xg::randn({5, 2, 4}), intpad),
              xg::TypeError,
              "MultiheadAttention: key_padding_mask is int64 but mask_kind is MaskKind::additive",
              "set mask_kind = MaskKind::drop");
  intpad.mask_kind = xg::nn::MaskKind::drop;  // the fix the message gives works
  CHECK(
      mha.forward(xg::randn({3, 2, 4}), xg::randn({5, 2, 4}), xg::randn({5, 2, 4}), intpad).output.shape() ==
      xg::Shape{3, 2, 4});

  xg::nn::MultiheadAttention other(4, 2);
  Tensor x = xg::randn({3, 2, 4});
  CHECK(other.forward(x).to_vector<double>() != mha.forward(x).to_vector<double>());
  other.load_state_dict(mha.state_dict());
  CHECK(other.forward(x).to_vector<double>() == mha.forward(x).to_vector<double>());

  xg::nn::MultiheadAttention drop(4, 2, {.dropout = 0.5});
  drop.load_state_dict(mha.state_dict());
  CHECK(drop.forward(x).to_vector<double>() != drop.forward(x).to_vector<double>());
  drop.eval();
  CHECK(drop.forward(x).to_vector<double>() == mha.forward(x).to_vector<double>());
}

TEST_CASE("gradcheck in float64: attention and MultiheadAttention w.r.t. inputs and parameters") {
  xg::manual_seed(26);
  const xg::TensorOptions f64{.dtype = Dtype::float64, .requires_grad = true};
  SUBCASE("scaled_dot_product_attention with an additive mask and causal") {
    Tensor q = xg::randn({2, 3, 2}, f64), k = xg::randn({2, 3, 2}, f64), v = xg::randn({2, 3, 2}, f64);
    Tensor mask = xg::randn({3, 3}, f64);
    xg::GradcheckReport r = xg::gradcheck(xg::MultiFunction([](const std::vector<Tensor>& in) {
                                            xg::nn::AttentionOutput a =
                                                xg::nn::attention(in[0], in[1], in[2], in[3], true);
                                            return std::vector<Tensor>{a.output, a.weights};
                                          }),
                                          {q, k, v, mask});
    CHECK_MESSAGE(r.passed, r.str());
    CHECK(r.inputs_checked == 4);
  }
  SUBCASE("MultiheadAttention, cross-attention with key padding") {
    xg::nn::MultiheadAttention mha(4, 2);
    mha.to(Dtype::float64);
    {
      xg::NoGradGuard g;
      mha.in_proj_bias.copy_(xg::randn({12}));
      mha.out_proj->bias.copy_(xg::randn({4}));
    }
    Tensor query = xg::randn({2, 2, 4}, f64), key = xg::randn({3, 2, 4}, f64),
           value = xg::randn({3, 2, 4}, f64);
    xg::nn::MultiheadAttentionArgs args;
    args.key_padding_mask = xg::tensor({0, 0, 1, 0, 0, 0}, {2, 3});
    args.mask_kind = MaskKind::drop;
    std::vector<Tensor> in{query, key, value};
    for (const Tensor& p : mha.parameters()) in.push_back(p);
    xg::GradcheckReport r = xg::gradcheck(xg::MultiFunction([&](const std::vector<Tensor>& v) {
                                            xg::nn::MultiheadAttentionOutput o =
                                                mha.forward(v[0], v[1], v[2], args);
                                            return std::vector<Tensor>{o.output, o.attn_weights};
                                          }),
                                          in);
    CHECK_MESSAGE(r.passed, r.str());
    CHECK(r.inputs_checked == 7);
  }
  SUBCASE("MultiheadAttention self-attention, batch_first") {
    xg::nn::MultiheadAttention mha(4, 2, {.batch_first = true});
    mha.to(Dtype::float64);
    Tensor x = xg::randn({2, 3, 4}, f64);
    std::vector<Tensor> in{x};
    for (const Tensor& p : mha.parameters()) in.push_back(p);
    xg::GradcheckReport r =
        xg::gradcheck([&](const std::vector<Tensor>& v) { return mha.forward(v[0]); }, in);
    CHECK_MESSAGE(r.passed, r.str());
  }
}

TEST_CASE("second derivatives: gradgradcheck of scaled_dot_product_attention") {
  xg::manual_seed(27);
  const xg::TensorOptions f64{.dtype = Dtype::float64, .requires_grad = true};
  Tensor q = xg::randn({2, 2}, f64), k = xg::randn({3, 2}, f64), v = xg::randn({3, 2}, f64);
  xg::GradcheckReport r = xg::gradgradcheck(
      [](const std::vector<Tensor>& in) {
        return xg::nn::scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), true);
      },
      {q, k, v});
  CHECK_MESSAGE(r.passed, r.str());
}

TEST_CASE("attention dropout draws from the generator of its options") {
  const Tensor q = xg::randn({2, 4, 8}), k = xg::randn({2, 5, 8}), v = xg::randn({2, 5, 8});
  xg::manual_seed(4);
  const std::vector<float> from_default =
      xg::nn::attention(q, k, v, Tensor(), false, {.dropout_p = 0.5}).weights.to_vector<float>();
  xg::Generator g(4);
  xg::manual_seed(0);
  const std::vector<float> next_default = xg::rand({3}).to_vector<float>();
  xg::manual_seed(0);
  CHECK(xg::nn::attention(q, k, v, Tensor(), false, {.dropout_p = 0.5, .generator = &g})
            .weights.to_vector<float>() == from_default);
  CHECK(xg::rand({3}).to_vector<float>() == next_default);
  // the module shares its generator with the caller
  auto shared = std::make_shared<xg::Generator>(4);
  xg::nn::MultiheadAttention m1(8, 2, {.dropout = 0.5, .generator = shared});
  const Tensor x = xg::randn({4, 1, 8});
  const xg::Tensor state = shared->get_state();
  const std::vector<float> y = m1.forward(x, x, x).attn_weights.to_vector<float>();
  shared->set_state(state);
  CHECK(m1.forward(x, x, x).attn_weights.to_vector<float>() == y);
}

namespace {
// Parameter k (in named_parameters order), element j: 0.5 sin(1 + 0.37 j + 0.71 k); input t,
// element j: scale sin(0.3 + 0.9 j + 1.7 t). The PyTorch 1.13 reference numbers below were computed
// in float64 on a torch module and inputs filled by the same formulas.
void fill_parameters(xg::nn::Module& m) {
  m.to(Dtype::float64);
  xg::NoGradGuard g;
  int k = 0;
  for (auto& [name, p] : m.named_parameters()) {
    Vec v(static_cast<std::size_t>(p.numel()));
    for (std::size_t j = 0; j < v.size(); ++j) v[j] = 0.5 * std::sin(1.0 + 0.37 * double(j) + 0.71 * k);
    p.copy_(xg::tensor(v, p.shape(), {.dtype = Dtype::float64}));
    ++k;
  }
}
Tensor formula_input(const xg::Shape& s, int t, double scale = 1.0) {
  Vec v(static_cast<std::size_t>(s.numel()));
  for (std::size_t j = 0; j < v.size(); ++j) v[j] = scale * std::sin(0.3 + 0.9 * double(j) + 1.7 * t);
  return xg::tensor(v, s, {.dtype = Dtype::float64, .requires_grad = true});
}
}  // namespace

TEST_CASE("MultiheadAttention kdim/vdim, add_bias_kv, add_zero_attn: PyTorch's parameters and numbers") {
  xg::nn::MultiheadAttention m(4, 2, {.add_bias_kv = true, .add_zero_attn = true, .kdim = 3, .vdim = 5});
  CHECK_FALSE(m.qkv_same_embed_dim());
  CHECK(m.kdim() == 3);
  CHECK(m.vdim() == 5);
  CHECK(names_of(m.named_parameters()) ==
        std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k",
                                 "bias_v", "out_proj.weight", "out_proj.bias"});
  CHECK_FALSE(m.in_proj_weight.defined());
  CHECK(m.q_proj_weight.shape() == xg::Shape{4, 4});
  CHECK(m.k_proj_weight.shape() == xg::Shape{4, 3});
  CHECK(m.v_proj_weight.shape() == xg::Shape{4, 5});
  CHECK(m.bias_k.shape() == xg::Shape{1, 1, 4});
  for (double w : m.k_proj_weight.to_vector<double>()) CHECK(std::abs(w) <= std::sqrt(6.0 / 7.0));  // xavier
  for (double w : m.v_proj_weight.to_vector<double>()) CHECK(std::abs(w) <= std::sqrt(6.0 / 9.0));
  CHECK(m.repr() ==
        "MultiheadAttention(embed_dim=4, num_heads=2, add_bias_kv=true, add_zero_attn=true, kdim=3, vdim=5\n"
        "  (out_proj): NonDynamicallyQuantizableLinear(in_features=4, out_features=4, bias=true)\n)");
  // kdim == vdim == embed_dim given explicitly: the packed weight, as PyTorch
  xg::nn::MultiheadAttention same(4, 2, {.kdim = 4, .vdim = 4});
  CHECK(same.qkv_same_embed_dim());
  CHECK(names_of(same.named_parameters())[0] == "in_proj_weight");

  fill_parameters(m);
  Tensor q = formula_input({2, 2, 4}, 0), k = formula_input({3, 2, 3}, 1), v = formula_input({3, 2, 5}, 2);
  xg::nn::MultiheadAttentionArgs args;
  args.attn_mask = formula_input({2, 3}, 3, 0.5).detach();
  args.key_padding_mask = xg::tensor({0, 0, 1, 0, 0, 0}, {2, 3});
  args.key_padding_mask_kind = MaskKind::drop;
  xg::nn::MultiheadAttentionOutput o = m.forward(q, k, v, args);
  CHECK(o.attn_weights.shape() == xg::Shape{2, 2, 5});  // S + bias_k + the zero key
  xg_test::check_values(
      o.output,
      Vec{-0.02440104705854404, 0.28903746558081217, 0.12460872995538305, 0.081982530989232472,
          -0.11869696321836259, 0.19248043806985052, 0.20139468103947389, 0.19246417234185714,
          -0.055498034952499845, 0.27261404213613011, 0.15272744088334977, 0.10350509282927656,
          -0.14609114011206914, 0.12876330281977721, 0.217234185614508, 0.25905369481298679},
      1e-12);
  xg_test::check_values(o.attn_weights,
                        Vec{0.15509938860707245,
                            0.46648662636874827,
                            0,
                            0.20076365150000697,
                            0.17765033352417237,
                            0.30568481543130255,
                            0.37906293489578796,
                            0,
                            0.1642405697778222,
                            0.15101167989508729,
                            0.15817910822598374,
                            0.26187350412792437,
                            0.29918116452501342,
                            0.14275846202373133,
                            0.13800776109734719,
                            0.31626958685990048,
                            0.21658129112124472,
                            0.13115176552610483,
                            0.18080255762179881,
                            0.15519479887095108},
                        1e-12);
  xg::sum(o.output).backward();
  xg_test::check_values(
      k.grad(),
      Vec{-0.0081230143731831506, -0.010542318318085733, -0.011534768934886339, -0.014224560973715418,
          -0.0069993545455870757, 0.0011731816848299626, 0.05169261563269506, 0.05517467879948644,
          0.0511891080268864, 0.010291063773331693, 0.0050847230763195342, -0.00080981103555821297, 0, 0, 0,
          -0.0083884431366770956, -0.0062036891642554444, -0.0031792949662732958},
      1e-10);  // zero for the padded key of batch 0
}

TEST_CASE("MultiheadAttention kdim/vdim errors and padded keys' zero gradient") {
  xg::manual_seed(28);
  xg::nn::MultiheadAttention m(4, 2, {.kdim = 3, .vdim = 2});
  CHECK_ERROR(m.forward(xg::randn({2, 1, 4}), xg::randn({3, 1, 4}), xg::randn({3, 1, 2})), xg::ShapeError,
              "MultiheadAttention:", "3 key features (kdim)", "key [3, 1, 4]");
  CHECK_ERROR(xg::nn::MultiheadAttention(4, 2, {.kdim = 0}), xg::ValueError, "MultiheadAttention:", "kdim");
  xg::nn::MultiheadAttentionArgs bad;
  bad.attn_mask = xg::zeros({3, 2, 3});
  CHECK_ERROR(m.forward(xg::randn({2, 1, 4}), xg::randn({3, 1, 3}), xg::randn({3, 1, 2}), bad),
              xg::ShapeError, "attn_mask must be [2, 3] or [2, 2, 3]", "got [3, 2, 3]");
  // 2-D and 3-D masks, drop kind: keys masked for every query get no gradient
  m.to(Dtype::float64);
  const xg::TensorOptions f64{.dtype = Dtype::float64, .requires_grad = true};
  Tensor q = xg::randn({2, 2, 4}, f64), k = xg::randn({3, 2, 3}, f64), v = xg::randn({3, 2, 2}, f64);
  xg::nn::MultiheadAttentionArgs args;
  args.mask_kind = MaskKind::drop;
  args.attn_mask = xg::tensor({0, 0, 1, 0, 0, 1}, {2, 3});  // key 2 masked for both queries
  xg::sum(m.forward(q, k, v, args).output).backward();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t c = 0; c < 3; ++c) CHECK(k.grad().at({2, b, c}) == 0.0);
  CHECK(xg_test::max_abs(k.grad()) > 0);
  CHECK(v.grad().at({2, 0, 0}) == 0.0);
  // the same pattern per (batch, head) as a 3-D mask [N h, L, S] gives the same numbers
  xg::nn::MultiheadAttentionArgs a3 = args;
  a3.attn_mask = xg::expand(xg::unsqueeze(args.attn_mask, 0), {4, 2, 3});
  xg_test::check_close(m.forward(q, k, v, a3).output.to_vector<double>(),
                       m.forward(q, k, v, args).output.to_vector<double>(), 0);
}

TEST_CASE("gradcheck in float64: MultiheadAttention kdim/vdim, bias_kv, zero_attn, both masks") {
  xg::manual_seed(29);
  const xg::TensorOptions f64{.dtype = Dtype::float64, .requires_grad = true};
  xg::nn::MultiheadAttention m(
      4, 2, {.batch_first = true, .add_bias_kv = true, .add_zero_attn = true, .kdim = 3, .vdim = 5});
  fill_parameters(m);
  Tensor q = xg::randn({2, 2, 4}, f64), k = xg::randn({2, 3, 3}, f64), v = xg::randn({2, 3, 5}, f64);
  xg::nn::MultiheadAttentionArgs args;
  args.attn_mask = xg::randn({2, 3}, {.dtype = Dtype::float64});
  args.key_padding_mask = xg::tensor({0, 1, 0, 0, 0, 1}, {2, 3});
  args.key_padding_mask_kind = MaskKind::drop;
  args.average_attn_weights = false;
  std::vector<Tensor> in{q, k, v};
  for (const Tensor& p : m.parameters()) in.push_back(p);
  xg::GradcheckReport r = xg::gradcheck(xg::MultiFunction([&](const std::vector<Tensor>& x) {
                                          xg::nn::MultiheadAttentionOutput o =
                                              m.forward(x[0], x[1], x[2], args);
                                          return std::vector<Tensor>{o.output, o.attn_weights};
                                        }),
                                        in);
  CHECK_MESSAGE(r.passed, r.str());
  CHECK(r.inputs_checked == 3 + 8);
}
