#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/data/dataset.hpp"
#include "xgrad/data/idx.hpp"

namespace {
using xg_test::write_file;
std::string tmp_path(const std::string& name) { return xg_test::temp_path("data_" + name); }
}  // namespace

TEST_CASE("IDX files round-trip, raw and gzip'd") {
  xg::Tensor v = xg::tensor({0, 1, 2, 255, 7, 9}, {2, 3}, {.dtype = xg::Dtype::int64});
  for (const std::string name : {"a.idx", "a.idx.gz"}) {
    const std::string p = tmp_path(name);
    xg::data::write_idx(p, v);
    xg::Tensor r = xg::data::read_idx(p);
    CHECK(r.shape() == xg::Shape{2, 3});
    CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 255, 7, 9});
    std::remove(p.c_str());
  }
}

TEST_CASE("corrupted, truncated and missing IDX files give one clear error naming the file") {
  const std::string p = tmp_path("bad.idx");
  write_file(p, std::string("\x01\x02\x08\x01", 4));
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "bad magic number");

  write_file(p, std::string("\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", 10));  // 5 values announced, 2 present
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, "truncated", "need 5 bytes", "offset 10");

  write_file(p, std::string("\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", 10));  // 1 announced, 2 present
  CHECK_ERROR(xg::data::read_idx(p), xg::IOError, p, "1 unexpected bytes after the data");

  // A gzip stream cut in the middle.
  const std::string gz = tmp_path("cut.idx.gz");
  xg::data::write_idx(gz, xg::arange(0, 200, 1, {.dtype = xg::Dtype::int64}).reshape({10, 20}));
  const std::string all = xg_test::read_file(gz);
  write_file(gz, all.substr(0, all.size() / 2));
  const std::string e = ERROR_MESSAGE(xg::data::read_idx(gz), xg::IOError);
  CHECK(e.find(gz) != std::string::npos);
  CHECK((e.find("truncated") != std::string::npos || e.find("corrupted") != std::string::npos));
  CHECK(e.find('\n') == std::string::npos);

  CHECK_ERROR(xg::data::read_idx(tmp_path("does-not-exist.idx")), xg::IOError, tmp_path("does-not-exist.idx"), "cannot open");
  std::remove(p.c_str());
  std::remove(gz.c_str());
}

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
    CHECK(b.data.to_vector<double>()[0] == doctest::Approx(static_cast<double>(b.target.to_vector<int64_t>()[0])));
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
