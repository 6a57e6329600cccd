// data/dataset.cpp: Fashion-MNIST from the Debian package (and the error naming the package when
// it is missing), the DataLoader's batches, seeded shuffling and drop_last.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/data/dataset.hpp"

TEST_CASE("a missing data directory names the package to install") {
  const std::string e = ERROR_MESSAGE(xg::data::fashion_mnist("/nonexistent/fmnist", true), xg::IOError);
  CHECK(e.find("dataset-fashion-mnist") != std::string::npos);
  CHECK(e.find("/nonexistent/fmnist") != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("DataLoader: batches, shuffling from a seed, drop_last") {
  xg::Tensor x = xg::arange(0, 10, 1).reshape({10, 1});
  xg::Tensor y = xg::arange(0, 10, 1, {.dtype = xg::Dtype::int64});
  auto ds = std::make_shared<xg::data::TensorDataset>(x, y);

  xg::data::DataLoader plain(ds, {.batch_size = 4, .shuffle = false});
  CHECK(plain.num_batches() == 3);
  std::vector<int64_t> sizes, firsts;
  for (const auto& b : plain) {
    sizes.push_back(b.data.shape()[0]);
    firsts.push_back(b.target.to_vector<int64_t>()[0]);
    CHECK(b.data.to_vector<double>()[0] ==
          doctest::Approx(static_cast<double>(b.target.to_vector<int64_t>()[0])));
  }
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  CHECK(firsts == std::vector<int64_t>{0, 4, 8});

  xg::data::DataLoader dropping(ds, {.batch_size = 4, .shuffle = false, .drop_last = true});
  CHECK(dropping.num_batches() == 2);

  xg::data::DataLoader a(ds, {.batch_size = 3, .shuffle = true, .seed = 7});
  xg::data::DataLoader b(ds, {.batch_size = 3, .shuffle = true, .seed = 7});
  CHECK(a.order(0) == b.order(0));
  CHECK(a.order(0) != a.order(1));
  std::vector<int64_t> o = a.order(3);
  CHECK(std::set<int64_t>(o.begin(), o.end()).size() == 10);
  xg::data::DataLoader c(ds, {.batch_size = 3, .shuffle = true, .seed = 8});
  CHECK(c.order(0) != a.order(0));
}

TEST_CASE("Fashion-MNIST loads from the Debian package") {
  auto test = xg::data::fashion_mnist(xg::data::kFashionMnistDir, false);
  CHECK(test->size() == 10000);
  CHECK(test->data().shape() == xg::Shape{10000, 1, 28, 28});
  CHECK(test->target().dtype() == xg::Dtype::int64);
  // standardised with the training set's statistics: the test set's mean is near 0, std near 1
  xg::Tensor m = xg::mean(test->data());
  CHECK(std::abs(m.item()) < 0.05);
  CHECK(xg::std(test->data()).item() == doctest::Approx(1.0).epsilon(0.05));
  std::vector<int64_t> counts(10, 0);
  for (int64_t l : test->target().to_vector<int64_t>()) ++counts[static_cast<std::size_t>(l)];
  for (int64_t c : counts) CHECK(c == 1000);  // Fashion-MNIST's test set is balanced
}

TEST_CASE("DataLoader(generator=): each iteration's order drawn from the generator, as PyTorch's") {
  xg::Tensor x = xg::arange(0, 10, 1).reshape({10, 1});
  xg::Tensor y = xg::arange(0, 10, 1, {.dtype = xg::Dtype::int64});
  auto ds = std::make_shared<xg::data::TensorDataset>(x, y);
  auto gen = std::make_shared<xg::Generator>(5);
  xg::data::DataLoader loader(ds, {.batch_size = 10, .generator = gen});
  auto one_epoch = [&] {
    std::vector<int64_t> seen;
    for (const auto& b : loader)
      for (int64_t v : b.target.to_vector<int64_t>()) seen.push_back(v);
    return seen;
  };
  xg::Generator ref(5);  // the orders are randperm(10) drawn one after another from the generator
  const std::vector<int64_t> e0 = one_epoch(), e1 = one_epoch();
  CHECK(e0 == xg::randperm(10, &ref).to_vector<int64_t>());
  CHECK(e1 == xg::randperm(10, &ref).to_vector<int64_t>());
  CHECK(e0 != e1);
  // saving the generator's state resumes the stream of orders
  const xg::Tensor state = gen->get_state();
  const std::vector<int64_t> e2 = one_epoch();
  gen->set_state(state);
  CHECK(one_epoch() == e2);
  // the default generator is not used
  xg::manual_seed(4);
  const std::vector<double> d = xg::rand({3}, {.dtype = xg::Dtype::float64}).to_vector<double>();
  xg::manual_seed(4);
  (void)one_epoch();
  CHECK(xg::rand({3}, {.dtype = xg::Dtype::float64}).to_vector<double>() == d);
}

TEST_CASE("random_horizontal_flip draws from its generator, as the default generator would") {
  xg::Tensor img = xg::arange(0, 64 * 3, 1).reshape({64, 1, 1, 3});
  auto flipped = [&](const xg::data::Transform& t) {
    std::vector<int> f;
    const std::vector<float> v = t({img, xg::Tensor()}).data.to_vector<float>();
    for (int64_t i = 0; i < 64; ++i)
      f.push_back(v[static_cast<std::size_t>(3 * i)] != static_cast<float>(3 * i));
    return f;
  };
  xg::manual_seed(6);
  const std::vector<int> from_default = flipped(xg::data::random_horizontal_flip(0.5));
  CHECK(std::count(from_default.begin(), from_default.end(), 1) > 10);
  CHECK(std::count(from_default.begin(), from_default.end(), 0) > 10);
  auto gen = std::make_shared<xg::Generator>(6);
  CHECK(flipped(xg::data::random_horizontal_flip(0.5, gen)) == from_default);
  CHECK(flipped(xg::data::random_horizontal_flip(0.5, gen)) != from_default);  // the stream goes on
}
