// data/dataset.cpp: Fashion-MNIST from the Debian package (and the error naming the package when
// it is missing), the DataLoader's batches, seeded shuffling and drop_last.
#include <doctest/doctest.h>

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
