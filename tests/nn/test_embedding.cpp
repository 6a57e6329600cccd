// nn/embedding.cpp: weights N(0, 1), lookups, padding_idx (zero and without gradient),
// from_pretrained, errors, and a float64 gradcheck with respect to the weight.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/nn/embedding.hpp"

using xg::Dtype;
using xg::Shape;
using xg::Tensor;
namespace nn = xg::nn;
using xg_test::max_abs;
using xg_test::param_layout;

TEST_CASE("Embedding: weight N(0, 1), lookups, padding_idx zero and without gradient") {
  xg::manual_seed(10);
  nn::Embedding big(1000, 100);
  CHECK(param_layout(big) == std::vector<std::pair<std::string, Shape>>{{"weight", {1000, 100}}});
  CHECK(std::abs(xg::mean(big.weight).item()) < 0.01);
  CHECK(xg::std(big.weight).item() == doctest::Approx(1.0).epsilon(0.01));
  CHECK(big.extra_repr() == "1000, 100");

  nn::Embedding emb({.num_embeddings = 10, .embedding_dim = 3, .padding_idx = 0});
  CHECK(emb.extra_repr() == "10, 3, padding_idx=0");
  CHECK(xg::slice(emb.weight, 0, 0, 1).to_vector<double>() == std::vector<double>{0, 0, 0});
  CHECK(max_abs(xg::slice(emb.weight, 0, 1, 10)) > 0);
  Tensor idx = xg::from_vector(std::vector<int64_t>{1, 2, 0, 2, 5, 0}, {2, 3});
  Tensor y = emb.forward(idx);
  CHECK(y.shape() == Shape{2, 3, 3});
  for (int64_t k = 0; k < 3; ++k) {
    CHECK(y.at({0, 0, k}) == emb.weight.at({1, k}));
    CHECK(y.at({1, 1, k}) == emb.weight.at({5, k}));
    CHECK(y.at({0, 2, k}) == 0.0);
  }
  // the gradient counts the uses of each row; the padding row gets none
  y.backward(xg::ones_like(y));
  const Tensor g = emb.weight.grad();
  const std::vector<double> counts = {0, 1, 2, 0, 0, 1, 0, 0, 0, 0};
  for (int64_t r = 0; r < 10; ++r)
    for (int64_t k = 0; k < 3; ++k) CHECK(g.at({r, k}) == counts[r]);

  // a padding row set to other values is still returned, and still gets no gradient
  {
    xg::NoGradGuard ng;
    emb.weight.fill_(2.0);
  }
  emb.zero_grad();
  Tensor y2 = emb.forward(xg::from_vector(std::vector<int64_t>{0, 3}, {2}));
  CHECK(y2.to_vector<double>() == std::vector<double>{2, 2, 2, 2, 2, 2});
  xg::sum(y2 * y2).backward();
  CHECK(emb.weight.grad().at({0, 0}) == 0.0);
  CHECK(emb.weight.grad().at({3, 0}) == 4.0);

  // negative padding_idx counts from the end
  nn::Embedding neg({.num_embeddings = 5, .embedding_dim = 2, .padding_idx = -1});
  CHECK(neg.options().padding_idx == 4);
  CHECK(xg::slice(neg.weight, 0, 4, 5).to_vector<double>() == std::vector<double>{0, 0});

  CHECK_ERROR(emb.forward(xg::from_vector(std::vector<int64_t>{3, 10}, {2})), xg::IndexError, "embedding",
              "10", "[10, 3]");
  CHECK_ERROR(emb.forward(xg::zeros({2})), xg::TypeError, "embedding", "int64", "float32");
  CHECK_ERROR(nn::Embedding({.num_embeddings = 5, .embedding_dim = 2, .padding_idx = 5}), xg::IndexError,
              "Embedding: padding_idx 5", "num_embeddings = 5");

  auto pre =
      nn::Embedding::from_pretrained(xg::tensor({1, 2, 3, 4, 5, 6}, {3, 2}, {.dtype = Dtype::float64}));
  CHECK(pre->weight.dtype() == Dtype::float64);
  CHECK_FALSE(pre->weight.requires_grad());
  CHECK(pre->forward(xg::from_vector(std::vector<int64_t>{2, 0}, {2})).to_vector<double>() ==
        std::vector<double>{5, 6, 1, 2});
}

TEST_CASE("Embedding: float64 gradcheck with respect to the weight") {
  xg::manual_seed(11);
  nn::Embedding emb({.num_embeddings = 6, .embedding_dim = 3, .padding_idx = 2});
  emb.to(Dtype::float64);
  // (Not at the padding index: there the output depends on the row but, by design, passes no
  // gradient to it, which the Embedding test above checks.)
  Tensor idx = xg::from_vector(std::vector<int64_t>{1, 3, 4, 1, 5}, {5});
  auto f = [&](const std::vector<Tensor>&) { return emb.forward(idx); };
  const auto r = xg::gradcheck(f, {emb.weight});
  CHECK_MESSAGE(r.passed, r.str());
  const auto r2 = xg::gradgradcheck(f, {emb.weight});
  CHECK_MESSAGE(r2.passed, r2.str());
}
