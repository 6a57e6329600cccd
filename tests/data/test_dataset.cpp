// data/dataset.cpp: Fashion-MNIST from the Debian package (and the error naming the package when
// it is missing), files that do not make a dataset (no examples, counts that differ, labels out of
// range) rejected naming the file, the images read as floats only, the DataLoader's batches,
// seeded shuffling, drop_last, an empty dataset, and DistributedSampler.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "xgrad/autograd.hpp"
#include "xgrad/data/dataset.hpp"
#include "xgrad/data/idx.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define XG_TEST_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define XG_TEST_SANITIZER 1
#endif
#endif

namespace {
// A directory holding train-images-idx3-ubyte and train-labels-idx1-ubyte made of these tensors.
struct FakeFashion {
  std::string dir = xg_test::temp_path("fashion");
  std::string images = dir + "/train-images-idx3-ubyte", labels = dir + "/train-labels-idx1-ubyte";
  FakeFashion(const xg::Tensor& x, const xg::Tensor& y) {
    std::filesystem::create_directories(dir);
    xg::data::write_idx(images, x);
    xg::data::write_idx(labels, y);
  }
  FakeFashion(const FakeFashion&) = delete;
  ~FakeFashion() { std::filesystem::remove_all(dir); }
};
xg::Tensor ints(const std::vector<double>& v, const xg::Shape& s) {
  return xg::tensor(v, s, {.dtype = xg::Dtype::int64});
}
}  // namespace

// First in the file, while the process is small.
TEST_CASE("Fashion-MNIST's images cost their float32 tensor only (never an int64 copy)") {
#ifdef XG_TEST_SANITIZER
  MESSAGE("skipped under a sanitizer (its shadow memory inflates the resident set)");
#else
  const std::string dir = xg_test::temp_path("fashion_big");
  std::filesystem::create_directories(dir);
  const int64_t n = 16384;  // 12.25 MiB of bytes, 49 MiB of floats (98 MiB as int64)
  {
    std::ofstream o(dir + "/train-images-idx3-ubyte", std::ios::binary);
    o << std::string("\x00\x00\x08\x03\x00\x00\x40\x00\x00\x00\x00\x1c\x00\x00\x00\x1c", 16);
    std::string image(784, '\0');
    for (int64_t i = 0; i < n; ++i) {
      for (std::size_t k = 0; k < image.size(); ++k) image[k] = static_cast<char>((i + k) % 256);
      o << image;
    }
    std::ofstream l(dir + "/train-labels-idx1-ubyte", std::ios::binary);
    l << std::string("\x00\x00\x08\x01\x00\x00\x40\x00", 8);
    for (int64_t i = 0; i < n; ++i) l << static_cast<char>(i % 10);
  }
  const xg::test::RssGrowth rss;
  auto ds = xg::data::fashion_mnist(dir, true, /*normalize=*/false);
  // the float32 images, the int64 labels and a small buffer; it used to be 3 times as much
  CHECK(rss.bytes() < n * 784 * 4 + n * 8 + (int64_t{4} << 20));
  CHECK(ds->size() == n);
  CHECK(ds->data().dtype() == xg::Dtype::float32);
  const float* px = ds->data().data<float>();
  CHECK(px[784 * 3 + 5] == static_cast<float>(8) / 255.0f);  // image 3, pixel 5: (3 + 5) % 256
  CHECK(ds->target().to_vector<int64_t>()[13] == 3);
  std::filesystem::remove_all(dir);
#endif
}

TEST_CASE("a missing data directory names the package to install") {
  const std::string e = ERROR_MESSAGE(xg::data::fashion_mnist("/nonexistent/fmnist", true), xg::IOError);
  CHECK(e.find("dataset-fashion-mnist") != std::string::npos);
  CHECK(e.find("/nonexistent/fmnist") != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("Fashion-MNIST from IDX files: values scaled and standardised, [N, 1, 28, 28]") {
  std::vector<double> pixels(2 * 28 * 28);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<double>(i % 256);
  FakeFashion f(ints(pixels, {2, 28, 28}), ints({3, 9}, {2}));
  auto raw = xg::data::fashion_mnist(f.dir, true, false);
  CHECK(raw->data().shape() == xg::Shape{2, 1, 28, 28});
  CHECK(raw->target().to_vector<int64_t>() == std::vector<int64_t>{3, 9});
  const std::vector<double> r = raw->data().to_vector<double>();
  CHECK(r[0] == 0.0);
  CHECK(r[255] == 1.0);
  CHECK(r[784 + 1] == doctest::Approx(static_cast<double>(785 % 256) / 255.0).epsilon(1e-7));
  auto std = xg::data::fashion_mnist(f.dir, true);
  // (v / 255 - 0.2860) / 0.3530 in float32
  CHECK(std->data().to_vector<double>()[255] == doctest::Approx((1.0 - 0.2860) / 0.3530).epsilon(1e-6));
  CHECK(std->data().to_vector<double>()[0] == doctest::Approx(-0.2860 / 0.3530).epsilon(1e-6));
}

TEST_CASE("files that do not make a dataset are rejected, naming the file") {
  const std::vector<double> two(2 * 28 * 28, 7);
  {  // no examples: training on it printed "train loss -nan"
    FakeFashion f(ints({}, {0, 28, 28}), ints({}, {0}));
    CHECK_ERROR(xg::data::fashion_mnist(f.dir, true), xg::IOError, f.images, "holds no images",
                "dimensions [0, 28, 28]");
  }
  {  // as many labels as images, checked before the images are read
    FakeFashion f(ints(two, {2, 28, 28}), ints({1, 2, 3}, {3}));
    CHECK_ERROR(xg::data::fashion_mnist(f.dir, true), xg::IOError, f.labels, "[3] labels for 2 images in '",
                f.images);
    FakeFashion g(ints(two, {2, 28, 28}), ints({1, 2}, {1, 2}));
    CHECK_ERROR(xg::data::fashion_mnist(g.dir, true), xg::IOError, g.labels, "[1, 2] labels for 2 images");
  }
  {  // labels outside the 10 classes
    FakeFashion f(ints(two, {2, 28, 28}), ints({9, 10}, {2}));
    CHECK_ERROR(xg::data::fashion_mnist(f.dir, true), xg::IOError, f.labels,
                "label 10 at index 1 (offset 9) is outside 0..9");
  }
  {  // not 28 x 28 images
    FakeFashion f(ints(std::vector<double>(2 * 27 * 28, 0), {2, 27, 28}), ints({1, 2}, {2}));
    CHECK_ERROR(xg::data::fashion_mnist(f.dir, true), xg::IOError, f.images,
                "expected images [N, 28, 28], got [2, 27, 28]");
  }
  {  // a malformed file: the reader's error, naming it
    FakeFashion f(ints(two, {2, 28, 28}), ints({1, 2}, {2}));
    std::ofstream(f.labels, std::ios::app) << "x";
    CHECK_ERROR(xg::data::fashion_mnist(f.dir, true), xg::IOError, f.labels,
                "1 unexpected bytes after the data");
  }
}

TEST_CASE("a DataLoader over an empty dataset yields no batch") {
  // As PyTorch's DataLoader: zero iterations, not an error (the trainer refuses to train on it).
  auto ds = std::make_shared<xg::data::TensorDataset>(xg::empty({0, 3}),
                                                      xg::empty({0}, {.dtype = xg::Dtype::int64}));
  CHECK(ds->size() == 0);
  for (bool shuffle : {false, true})
    for (bool drop_last : {false, true}) {
      xg::data::DataLoader loader(ds, {.batch_size = 4, .shuffle = shuffle, .drop_last = drop_last});
      CHECK(loader.num_batches() == 0);
      CHECK(loader.order(0).empty());
      int batches = 0;
      for (const auto& b : loader) {
        (void)b;
        ++batches;
      }
      CHECK(batches == 0);
    }
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

TEST_CASE("random_crop: each image shifted by one of the (2p+1)^2 offsets, the border filled") {
  // 300 copies of a 2-channel 3x3 image (channel 1 = channel 0 + 10), padding 1, fill -1.
  const int64_t n = 300;
  std::vector<float> one = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19}, all;
  for (int64_t i = 0; i < n; ++i) all.insert(all.end(), one.begin(), one.end());
  xg::Tensor img = xg::from_vector(all, {n, 2, 3, 3});
  // The nine windows of torchvision's RandomCrop(3, padding=1, fill=-1), channel 0, by offset.
  const std::vector<std::vector<float>> windows = {
      {-1, -1, -1, -1, 1, 2, -1, 4, 5}, {-1, -1, -1, 1, 2, 3, 4, 5, 6}, {-1, -1, -1, 2, 3, -1, 5, 6, -1},
      {-1, 1, 2, -1, 4, 5, -1, 7, 8},   {1, 2, 3, 4, 5, 6, 7, 8, 9},    {2, 3, -1, 5, 6, -1, 8, 9, -1},
      {-1, 4, 5, -1, 7, 8, -1, -1, -1}, {4, 5, 6, 7, 8, 9, -1, -1, -1}, {5, 6, -1, 8, 9, -1, -1, -1, -1}};
  auto gen = std::make_shared<xg::Generator>(3);
  const xg::data::Transform crop = xg::data::random_crop(1, -1.0, gen);
  xg::data::Batch b = crop({img, xg::Tensor()});
  REQUIRE(b.data.shape() == xg::Shape({n, 2, 3, 3}));
  const std::vector<float> v = b.data.to_vector<float>();
  std::vector<int> seen(9, 0);
  for (int64_t i = 0; i < n; ++i) {
    const auto at = v.begin() + 18 * i;
    const std::vector<float> c0(at, at + 9), c1(at + 9, at + 18);
    const auto w = std::find(windows.begin(), windows.end(), c0);
    REQUIRE(w != windows.end());
    ++seen[static_cast<std::size_t>(w - windows.begin())];
    for (int k = 0; k < 9; ++k)  // the second channel: the same offset
      CHECK(c1[static_cast<std::size_t>(k)] ==
            (c0[static_cast<std::size_t>(k)] == -1 ? -1 : c0[static_cast<std::size_t>(k)] + 10));
  }
  for (int s : seen) CHECK(s > 15);  // uniform: about 33 each
  // The input is untouched; the same seed gives the same crops, from the default generator too.
  CHECK(img.to_vector<float>() == all);
  xg::manual_seed(3);
  CHECK(xg::data::random_crop(1, -1.0)({img, xg::Tensor()}).data.to_vector<float>() == v);
  CHECK(crop({img, xg::Tensor()}).data.to_vector<float>() != v);  // the stream goes on
  // Padding 0 is the identity; a border of 3 on a 3x3 image can leave nothing but fill.
  CHECK(xg::data::random_crop(0)({img, xg::Tensor()}).data.to_vector<float>() == all);
  const std::vector<float> far =
      xg::data::random_crop(3, 0.5, gen)({img, xg::Tensor()}).data.to_vector<float>();
  CHECK(std::count(far.begin(), far.end(), 0.5f) > 0);
  CHECK_ERROR(xg::data::random_crop(-1), xg::ValueError, "random_crop", "padding must be >= 0, got -1");
  CHECK_ERROR(xg::data::random_crop(1)({xg::zeros({3, 3}), xg::Tensor()}), xg::ShapeError, "random_crop",
              "expects [N, C, H, W], got [3, 3]");
  CHECK_ERROR(
      xg::data::random_crop(1)({xg::zeros({1, 1, 3, 3}, {.dtype = xg::Dtype::float64}), xg::Tensor()}),
      xg::TypeError, "random_crop", "expects float32 images, got float64");
}

TEST_CASE("DistributedSampler: PyTorch's shards, padded or dropped, without shuffle") {
  using S = xg::data::DistributedSampler;
  auto shards = [](int64_t n, int replicas, bool drop_last) {
    std::vector<std::vector<int64_t>> out;
    for (int r = 0; r < replicas; ++r) out.push_back(S(n, replicas, r, false, 0, drop_last).indices(0));
    return out;
  };
  // [list(DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False, drop_last=d)) for r in
  // range(3)]
  CHECK(shards(10, 3, false) == std::vector<std::vector<int64_t>>{{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}});
  CHECK(shards(10, 3, true) == std::vector<std::vector<int64_t>>{{0, 3, 6}, {1, 4, 7}, {2, 5, 8}});
  // Fewer examples than ranks: the padding repeats the order more than once (range(2), 5 replicas).
  CHECK(shards(2, 5, false) == std::vector<std::vector<int64_t>>{{0}, {1}, {0}, {1}, {0}});
  CHECK(S(10, 3, 1, false, 0, false).size() == 4);
  CHECK(S(10, 3, 1, false, 0, true).size() == 3);
  CHECK(S(0, 2, 0).indices(0).empty());
  CHECK_ERROR(S(10, 2, 2), xg::ValueError, "DistributedSampler", "rank 2 out of range for 2 replicas");
  CHECK_ERROR(S(10, 0, 0), xg::ValueError, "DistributedSampler", "num_replicas must be positive");
}

TEST_CASE("DistributedSampler: shuffled shards are disjoint, equal, covering, and reshuffled per epoch") {
  const int64_t n = 1001;
  for (int replicas : {1, 2, 4}) {
    for (int64_t epoch : {0, 1}) {
      std::vector<int64_t> all;
      for (int r = 0; r < replicas; ++r) {
        xg::data::DistributedSampler s(n, replicas, r, true, 42, true);
        const std::vector<int64_t> mine = s.indices(epoch);
        CHECK(static_cast<int64_t>(mine.size()) == n / replicas);
        // The shared shuffle of (seed, epoch), the DataLoader's, strided by rank.
        const std::vector<int64_t> order = xg::data::seeded_permutation(n, 42, epoch);
        for (std::size_t k = 0; k < mine.size(); ++k) CHECK(mine[k] == order[k * replicas + r]);
        all.insert(all.end(), mine.begin(), mine.end());
      }
      // drop_last: disjoint, and all but the n % replicas dropped examples covered.
      CHECK(std::set<int64_t>(all.begin(), all.end()).size() == all.size());
      CHECK(static_cast<int64_t>(all.size()) == n - n % replicas);
    }
  }
  // Padding: every example covered; a rank's shard changes with the epoch, not with a new sampler.
  std::set<int64_t> covered;
  for (int r = 0; r < 4; ++r)
    for (int64_t i : xg::data::DistributedSampler(n, 4, r, true, 42).indices(3)) covered.insert(i);
  CHECK(static_cast<int64_t>(covered.size()) == n);
  xg::data::DistributedSampler a(n, 2, 0, true, 42), b(n, 2, 0, true, 42), c(n, 2, 0, true, 43);
  CHECK(a.indices(0) == b.indices(0));
  CHECK(a.indices(0) != a.indices(1));
  CHECK(a.indices(0) != c.indices(0));
}

TEST_CASE("DataLoader with a sampler: its indices, in batches, and set_epoch reshuffles them") {
  xg::Tensor x = xg::arange(0, 10, 1).reshape({10, 1});
  xg::Tensor y = xg::arange(0, 10, 1, {.dtype = xg::Dtype::int64});
  auto ds = std::make_shared<xg::data::TensorDataset>(x, y);
  auto sampler = std::make_shared<xg::data::DistributedSampler>(10, 3, 1, false);
  xg::data::DataLoader loader(ds, {.batch_size = 3, .sampler = sampler});
  CHECK(loader.num_batches() == 2);
  CHECK(loader.num_examples() == 4);
  std::vector<int64_t> seen;
  for (const auto& b : loader)
    for (int64_t t : b.target.to_vector<int64_t>()) seen.push_back(t);
  CHECK(seen == std::vector<int64_t>{1, 4, 7, 0});
  auto shuffled = std::make_shared<xg::data::DistributedSampler>(10, 2, 0, true, 5);
  xg::data::DataLoader l2(ds, {.batch_size = 5, .sampler = shuffled});
  l2.set_epoch(2);
  CHECK(l2.order(2) == shuffled->indices(2));
  CHECK((*l2.begin()).target.to_vector<int64_t>() == shuffled->indices(2));
}

TEST_CASE("Subset and random_split: PyTorch's lengths, a permutation from the generator, errors") {
  auto ds = std::make_shared<xg::data::TensorDataset>(xg::arange(0, 20).reshape({10, 2}), xg::arange(0, 10));
  xg::data::Subset sub(ds, {7, 2, 2});
  CHECK(sub.size() == 3);
  const xg::data::Batch b = sub.get_batch({0, 2});
  CHECK(b.data.to_vector<double>() == std::vector<double>{14, 15, 4, 5});
  CHECK(b.target.to_vector<double>() == std::vector<double>{7, 2});
  CHECK_ERROR(sub.get_batch({3}), xg::IndexError, "Subset: index 3", "3 examples");
  CHECK_ERROR(xg::data::Subset(ds, {0, 10}), xg::IndexError, "index 10 (at position 1)", "10 examples");

  // The pieces: consecutive slices of randperm(10) drawn from the generator, as PyTorch's.
  auto gen = std::make_shared<xg::Generator>(42);
  const auto parts = xg::data::random_split(ds, std::vector<int64_t>{5, 3, 2}, gen);
  REQUIRE(parts.size() == 3);
  const std::vector<int64_t> perm =
      xg::randperm(10, std::make_shared<xg::Generator>(42).get()).to_vector<int64_t>();
  std::vector<int64_t> joined;
  for (const auto& p : parts) joined.insert(joined.end(), p->indices().begin(), p->indices().end());
  CHECK(joined == perm);
  CHECK(parts[1]->indices().size() == 3);
  CHECK(parts[0]->dataset() == ds);
  std::set<int64_t> all(joined.begin(), joined.end());
  CHECK(all.size() == 10);
  // The same seed, the same split; a DataLoader reads a Subset.
  const auto again =
      xg::data::random_split(ds, std::vector<double>{0.5, 0.3, 0.2}, std::make_shared<xg::Generator>(42));
  CHECK(again[0]->indices() == parts[0]->indices());
  xg::data::DataLoader loader(parts[2], {.batch_size = 8, .shuffle = false});
  CHECK((*loader.begin()).target.to_vector<int64_t>() == parts[2]->indices());

  // Fractions: floor(n * f), the remainder one each from the first piece (PyTorch: [4, 3, 3], [4, 3]).
  auto sizes = [](const std::vector<std::shared_ptr<xg::data::Subset>>& v) {
    std::vector<int64_t> s;
    for (const auto& p : v) s.push_back(p->size());
    return s;
  };
  CHECK(sizes(xg::data::random_split(ds, std::vector<double>{0.33, 0.33, 0.34})) ==
        std::vector<int64_t>{4, 3, 3});
  auto seven = std::make_shared<xg::data::TensorDataset>(xg::zeros({7, 1}), xg::zeros({7}));
  CHECK(sizes(xg::data::random_split(seven, std::vector<double>{0.5, 0.5})) == std::vector<int64_t>{4, 3});

  CHECK_ERROR(xg::data::random_split(ds, std::vector<int64_t>{5, 4}), xg::ValueError, "add up to 9",
              "size 10");
  CHECK_ERROR(xg::data::random_split(ds, std::vector<int64_t>{11, -1}), xg::ValueError, "-1 is negative");
  CHECK_ERROR(xg::data::random_split(ds, std::vector<double>{0.5, 0.6}), xg::ValueError, "add up to 1.1",
              "not to 1");
  CHECK_ERROR(xg::data::random_split(ds, std::vector<double>{1.5, -0.5}), xg::ValueError,
              "not between 0 and 1");
}
