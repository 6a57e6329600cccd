#include "xgrad/data/dataset.hpp"

#include <sys/stat.h>
#include <algorithm>
#include <cmath>
#include <cstring>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/data/idx.hpp"

namespace xg::data {

TensorDataset::TensorDataset(Tensor data, Tensor target)
    : data_(std::move(data)), target_(std::move(target)) {
  if (!data_.defined() || !target_.defined() || data_.dim() == 0 || target_.dim() == 0 ||
      data_.shape()[0] != target_.shape()[0])
    throw ShapeError("TensorDataset: data " + (data_.defined() ? data_.shape().str() : "undefined") +
                     " and target " + (target_.defined() ? target_.shape().str() : "undefined") +
                     " must have the same first extent");
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  // Rows are contiguous: a batch is one memcpy per example.
  auto gather_rows = [&](const Tensor& src) {
    Shape s = src.shape();
    const int64_t row = s[0] ? src.numel() / s[0] : 0;
    s[0] = static_cast<int64_t>(indices.size());
    Tensor out = empty(s, {.dtype = src.dtype()});
    const std::size_t bytes = static_cast<std::size_t>(row) * dtype_size(src.dtype());
    const char* in = static_cast<const char*>(src.raw_data());
    char* o = static_cast<char*>(out.raw_data());
    for (std::size_t k = 0; k < indices.size(); ++k) {
      const int64_t i = indices[k];
      if (i < 0 || i >= src.shape()[0])
        throw IndexError("TensorDataset: index " + std::to_string(i) + " is out of range for " +
                         std::to_string(src.shape()[0]) + " examples");
      std::memcpy(o + k * bytes, in + static_cast<std::size_t>(i) * bytes, bytes);
    }
    return out;
  };
  return {gather_rows(data_), gather_rows(target_)};
}

std::shared_ptr<TensorDataset> TensorDataset::head(int64_t n) const {
  n = std::max<int64_t>(0, std::min(n, size()));
  NoGradGuard guard;
  return std::make_shared<TensorDataset>(slice(data_, 0, 0, n).clone(), slice(target_, 0, 0, n).clone());
}

std::shared_ptr<TensorDataset> fashion_mnist(const std::string& dir, bool train, bool do_normalize) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw IOError("Fashion-MNIST: directory '" + dir +
                  "' not found; install the Debian package dataset-fashion-mnist (apt-get install "
                  "dataset-fashion-mnist) or pass --data DIR");
  const std::string prefix = dir + "/" + (train ? "train" : "t10k");
  auto pick = [&](const std::string& stem) {
    for (const std::string& p : {prefix + stem + ".gz", prefix + stem})
      if (::stat(p.c_str(), &st) == 0) return p;
    throw IOError("Fashion-MNIST: '" + prefix + stem + "(.gz)' not found in '" + dir +
                  "'; install the Debian package dataset-fashion-mnist or pass --data DIR");
  };
  const std::string img_path = pick("-images-idx3-ubyte"), lbl_path = pick("-labels-idx1-ubyte");
  // Everything that can be checked from the headers and the small label file is checked before
  // the images are read; the images are read as float32 straight away (no int64 copy).
  const Shape img_shape = read_idx_shape(img_path);
  if (img_shape.rank() != 3 || img_shape[1] != 28 || img_shape[2] != 28)
    throw IOError("IDX file '" + img_path + "': expected images [N, 28, 28], got " + img_shape.str());
  const int64_t n = img_shape[0];
  if (n == 0)
    throw IOError("IDX file '" + img_path + "': holds no images (dimensions " + img_shape.str() +
                  "): a dataset needs at least one example");
  Tensor labels = read_idx(lbl_path);
  if (labels.dim() != 1 || labels.shape()[0] != n)
    throw IOError("IDX file '" + lbl_path + "': " + labels.shape().str() + " labels for " +
                  std::to_string(n) + " images in '" + img_path + "'");
  const int64_t* lbl = labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    if (lbl[i] < 0 || lbl[i] >= kFashionMnistClasses)
      throw IOError("IDX file '" + lbl_path + "': label " + std::to_string(lbl[i]) + " at index " +
                    std::to_string(i) + " (offset " + std::to_string(8 + i) + ") is outside 0.." +
                    std::to_string(kFashionMnistClasses - 1));
  Tensor images = read_idx(img_path, Dtype::float32);
  // Scaled in place, then viewed as [N, 1, 28, 28]: the float tensor is the only copy.
  float* px = images.data<float>();
  const float mean = do_normalize ? 0.2860f : 0.0f, inv_std = do_normalize ? 1.0f / 0.3530f : 1.0f;
  for (int64_t i = 0, m = images.numel(); i < m; ++i) px[i] = (px[i] / 255.0f - mean) * inv_std;
  NoGradGuard guard;
  Tensor x = images.reshape({n, 1, 28, 28});
  return std::make_shared<TensorDataset>(x, labels);
}

Transform normalize(double mean, double stddev) {
  if (!(stddev > 0)) throw ValueError("normalize: stddev must be positive, got " + std::to_string(stddev));
  return [mean, stddev](Batch b) {
    NoGradGuard guard;
    b.data = (b.data - mean) / stddev;
    return b;
  };
}

Transform random_horizontal_flip(double p, std::shared_ptr<Generator> generator) {
  return [p, generator](Batch b) {
    if (b.data.dim() != 4)
      throw ShapeError("random_horizontal_flip: expects [N, C, H, W], got " + b.data.shape().str());
    NoGradGuard guard;
    Tensor x = b.data.clone();
    const int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], w = x.shape()[3];
    float* d = x.data<float>();
    std::vector<char> flip(static_cast<std::size_t>(n));
    detail::generator_or_default(generator.get()).draw([&](Generator::Engine& e) {  // one lock per batch
      for (int64_t i = 0; i < n; ++i) flip[static_cast<std::size_t>(i)] = e.uniform01() < p;
    });
    for (int64_t i = 0; i < n; ++i) {
      if (!flip[static_cast<std::size_t>(i)]) continue;
      for (int64_t k = 0; k < c * h; ++k) {
        float* row = d + (i * c * h + k) * w;
        for (int64_t j = 0; j < w / 2; ++j) std::swap(row[j], row[w - 1 - j]);
      }
    }
    b.data = x;
    return b;
  };
}

Transform random_crop(int64_t padding, double fill, std::shared_ptr<Generator> generator) {
  if (padding < 0) throw ValueError("random_crop: padding must be >= 0, got " + std::to_string(padding));
  return [padding, fill, generator](Batch b) {
    if (b.data.dim() != 4) throw ShapeError("random_crop: expects [N, C, H, W], got " + b.data.shape().str());
    if (b.data.dtype() != Dtype::float32)
      throw TypeError(std::string("random_crop: expects float32 images, got ") + dtype_name(b.data.dtype()));
    if (padding == 0) return b;
    NoGradGuard guard;
    const Tensor src = b.data.contiguous();
    const int64_t n = src.shape()[0], c = src.shape()[1], h = src.shape()[2], w = src.shape()[3];
    Tensor out = empty(src.shape(), {.dtype = Dtype::float32});
    const float* in = src.data<float>();
    float* o = out.data<float>();
    const int64_t span = 2 * padding + 1;
    std::vector<int64_t> offsets(static_cast<std::size_t>(2 * n));                  // dy, dx per image
    detail::generator_or_default(generator.get()).draw([&](Generator::Engine& e) {  // one lock per batch
      for (auto& v : offsets)
        v = std::min(span - 1, static_cast<int64_t>(e.uniform01() * static_cast<double>(span)));
    });
    const float f = static_cast<float>(fill);
    for (int64_t i = 0; i < n; ++i) {
      // Output pixel (y, x) is input pixel (y + sy, x + sx), or fill outside the image.
      const int64_t sy = offsets[static_cast<std::size_t>(2 * i)] - padding,
                    sx = offsets[static_cast<std::size_t>(2 * i + 1)] - padding;
      const int64_t x0 = std::max<int64_t>(0, -sx), x1 = std::min(w, w - sx);  // columns taken from the image
      for (int64_t k = 0; k < c; ++k) {
        const float* plane = in + (i * c + k) * h * w;
        float* dst = o + (i * c + k) * h * w;
        for (int64_t y = 0; y < h; ++y, dst += w) {
          const int64_t yy = y + sy;
          if (yy < 0 || yy >= h || x0 >= x1) {
            std::fill(dst, dst + w, f);
            continue;
          }
          std::fill(dst, dst + x0, f);
          std::memcpy(dst + x0, plane + yy * w + x0 + sx, static_cast<std::size_t>(x1 - x0) * sizeof(float));
          std::fill(dst + x1, dst + w, f);
        }
      }
    }
    b.data = out;
    return b;
  };
}

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options,
                       std::vector<Transform> transforms)
    : dataset_(std::move(dataset)), options_(options), transforms_(std::move(transforms)) {
  if (!dataset_) throw ValueError("DataLoader: the dataset is null");
  if (options_.batch_size <= 0)
    throw ValueError("DataLoader: batch_size must be positive, got " + std::to_string(options_.batch_size));
}

Subset::Subset(std::shared_ptr<Dataset> dataset, std::vector<int64_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  if (!dataset_) throw ValueError("Subset: the dataset is null");
  const int64_t n = dataset_->size();
  for (std::size_t k = 0; k < indices_.size(); ++k)
    if (indices_[k] < 0 || indices_[k] >= n)
      throw IndexError("Subset: index " + std::to_string(indices_[k]) + " (at position " + std::to_string(k) +
                       ") is out of range for a dataset of " + std::to_string(n) + " examples");
}

Batch Subset::get_batch(const std::vector<int64_t>& indices) const {
  std::vector<int64_t> mapped(indices.size());
  const int64_t n = size();
  for (std::size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] < 0 || indices[k] >= n)
      throw IndexError("Subset: index " + std::to_string(indices[k]) + " is out of range for " +
                       std::to_string(n) + " examples");
    mapped[k] = indices_[static_cast<std::size_t>(indices[k])];
  }
  return dataset_->get_batch(mapped);
}

std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<Dataset> dataset,
                                                  const std::vector<int64_t>& lengths,
                                                  std::shared_ptr<Generator> generator) {
  if (!dataset) throw ValueError("random_split: the dataset is null");
  int64_t total = 0;
  for (int64_t l : lengths) {
    if (l < 0) throw ValueError("random_split: length " + std::to_string(l) + " is negative");
    total += l;
  }
  if (total != dataset->size())
    throw ValueError("random_split: the lengths add up to " + std::to_string(total) +
                     ", not to the dataset's size " + std::to_string(dataset->size()));
  const std::vector<int64_t> perm = randperm(total, generator.get()).to_vector<int64_t>();
  std::vector<std::shared_ptr<Subset>> out;
  int64_t offset = 0;
  for (int64_t l : lengths) {
    out.push_back(std::make_shared<Subset>(
        dataset, std::vector<int64_t>(perm.begin() + offset, perm.begin() + offset + l)));
    offset += l;
  }
  return out;
}

std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<Dataset> dataset,
                                                  const std::vector<double>& fractions,
                                                  std::shared_ptr<Generator> generator) {
  if (!dataset) throw ValueError("random_split: the dataset is null");
  if (fractions.empty()) throw ValueError("random_split: no fractions given");
  double sum = 0;
  for (double f : fractions) {
    if (!(f >= 0 && f <= 1))
      throw ValueError("random_split: fraction " + std::to_string(f) + " is not between 0 and 1");
    sum += f;
  }
  if (std::abs(sum - 1) > 1e-9)
    throw ValueError("random_split: the fractions add up to " + std::to_string(sum) + ", not to 1");
  const int64_t n = dataset->size();
  std::vector<int64_t> lengths;
  int64_t given = 0;
  for (double f : fractions) {
    lengths.push_back(static_cast<int64_t>(std::floor(static_cast<double>(n) * f)));
    given += lengths.back();
  }
  for (int64_t i = 0; i < n - given; ++i) ++lengths[static_cast<std::size_t>(i) % lengths.size()];
  return random_split(std::move(dataset), lengths, std::move(generator));
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> idx(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  // A private splitmix64 stream from (seed, epoch): independent of the global generator, so that
  // model initialisation and shuffling do not disturb each other.
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) * 0xBF58476D1CE4E5B9ULL + 1;
  auto next = [&] {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  for (int64_t i = n - 1; i > 0; --i) std::swap(idx[i], idx[next() % static_cast<uint64_t>(i + 1)]);
  return idx;
}

DistributedSampler::DistributedSampler(int64_t dataset_size, int num_replicas, int rank, bool shuffle,
                                       uint64_t seed, bool drop_last)
    : n_(dataset_size), replicas_(num_replicas), rank_(rank), shuffle_(shuffle), seed_(seed) {
  if (num_replicas <= 0)
    throw ValueError("DistributedSampler: num_replicas must be positive, got " +
                     std::to_string(num_replicas));
  if (rank < 0 || rank >= num_replicas)
    throw ValueError("DistributedSampler: rank " + std::to_string(rank) + " out of range for " +
                     std::to_string(num_replicas) + " replicas");
  if (dataset_size < 0)
    throw ValueError("DistributedSampler: negative dataset size " + std::to_string(dataset_size));
  per_rank_ = drop_last ? n_ / replicas_ : (n_ + replicas_ - 1) / replicas_;
  if (!drop_last && n_ == 0) per_rank_ = 0;
}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  std::vector<int64_t> order;
  if (shuffle_) {
    order = seeded_permutation(n_, seed_, epoch);
  } else {
    order.resize(static_cast<std::size_t>(n_));
    for (int64_t i = 0; i < n_; ++i) order[i] = i;
  }
  const int64_t total = per_rank_ * replicas_;
  // Padding repeats the order's head (more than once when the dataset is smaller than the ranks).
  for (int64_t i = n_; i < total; ++i) order.push_back(order[static_cast<std::size_t>((i - n_) % n_)]);
  std::vector<int64_t> out;
  out.reserve(static_cast<std::size_t>(per_rank_));
  for (int64_t i = rank_; i < total; i += replicas_) out.push_back(order[static_cast<std::size_t>(i)]);
  return out;
}

int64_t DataLoader::num_batches() const {
  const int64_t n = options_.sampler ? options_.sampler->size() : dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  if (options_.sampler) return options_.sampler->indices(epoch);
  const int64_t n = dataset_->size();
  if (options_.shuffle && options_.generator)
    return randperm(n, options_.generator.get()).to_vector<int64_t>();
  if (options_.shuffle) return seeded_permutation(n, options_.seed, epoch);
  std::vector<int64_t> idx(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  return idx;
}

DataLoader::Iterator DataLoader::begin() const {
  Iterator it(this, 0);
  it.order_ = std::make_shared<const std::vector<int64_t>>(order(epoch_));
  return it;
}

Batch DataLoader::batch(const std::shared_ptr<const std::vector<int64_t>>& ord, int64_t b) const {
  const int64_t n = static_cast<int64_t>(ord->size()), bs = options_.batch_size;
  const int64_t lo = b * bs, hi = std::min(n, lo + bs);
  std::vector<int64_t> idx(ord->begin() + lo, ord->begin() + hi);
  Batch out = dataset_->get_batch(idx);
  for (const auto& t : transforms_) out = t(std::move(out));
  return out;
}

}  // namespace xg::data
