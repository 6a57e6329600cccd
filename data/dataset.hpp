#pragma once
/// @file dataset.hpp
/// @brief Datasets and the DataLoader: batches of xg tensors, shuffled from a seed, so that a
/// run (and a resumed run) sees exactly the same batches.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor/generator.hpp"
#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg::data {

/// One batch: inputs and targets (targets int64 for classification).
struct Batch {
  Tensor data;
  Tensor target;
};

/// A finite, indexable dataset that can gather a batch of examples at once.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  /// The examples at `indices` stacked along a new leading axis.
  virtual Batch get_batch(const std::vector<int64_t>& indices) const = 0;
};

/// A dataset held in two tensors whose first axis indexes the examples.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor data, Tensor target);
  int64_t size() const override { return data_.shape()[0]; }
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const Tensor& data() const { return data_; }
  const Tensor& target() const { return target_; }
  /// The first n examples (all when n exceeds the size), sharing no storage with this one.
  std::shared_ptr<TensorDataset> head(int64_t n) const;

 private:
  Tensor data_, target_;
};

/// The examples of `dataset` at `indices`, in that order (as torch.utils.data.Subset): example i
/// of the subset is example indices[i] of the dataset. An index outside the dataset is an
/// IndexError naming it and the dataset's size.
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<Dataset> dataset, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const std::shared_ptr<Dataset>& dataset() const { return dataset_; }
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<Dataset> dataset_;
  std::vector<int64_t> indices_;
};

/// Splits `dataset` into non-overlapping Subsets of the given lengths, which must add up to its
/// size, as torch.utils.data.random_split: the examples are a permutation of 0..n-1 drawn from
/// `generator` (randperm; null: the default generator), cut in order into pieces of `lengths`.
std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<Dataset> dataset,
                                                  const std::vector<int64_t>& lengths,
                                                  std::shared_ptr<Generator> generator = nullptr);
/// The same with fractions adding up to 1: each length is floor(n * fraction), and the examples
/// left over go one each to the pieces in turn from the first (as PyTorch's).
std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<Dataset> dataset,
                                                  const std::vector<double>& fractions,
                                                  std::shared_ptr<Generator> generator = nullptr);

/// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's number of classes: labels are 0..9.
inline constexpr int64_t kFashionMnistClasses = 10;

/// Fashion-MNIST from the four IDX files in `dir` (gzip'd or not): images as float32
/// [N, 1, 28, 28] scaled to [0, 1] (then standardised when `normalize`, with the training set's
/// mean 0.2860 and std 0.3530), labels as int64 [N]. A missing directory or file raises IOError
/// with one line saying which package or path to provide; so do images that are not [N, 28, 28],
/// no images at all (N = 0), a label count other than N and a label outside 0..9, each naming the
/// file. Peak memory is the float32 images plus the labels (the images are never held as int64).
std::shared_ptr<TensorDataset> fashion_mnist(const std::string& dir, bool train, bool normalize = true);

/// Per-batch transform applied by the DataLoader after gathering (e.g. random flips).
using Transform = std::function<Batch(Batch)>;
/// Standardises the data: (x - mean) / std.
Transform normalize(double mean, double stddev);
/// Flips each image ([N, C, H, W]) left-right with probability p, drawing from `generator`
/// (shared with the caller, who may save its state; null: the default generator).
Transform random_horizontal_flip(double p = 0.5, std::shared_ptr<Generator> generator = nullptr);
/// Shifts each image ([N, C, H, W]) by a random offset, as torchvision's RandomCrop(size=(H, W),
/// padding, fill): the image is padded by `padding` pixels of value `fill` on every side and an
/// H x W window is cut at a position (dy, dx) drawn uniformly from 0..2·padding each, per image
/// (the same for its channels), from `generator` (null: the default generator). `fill` is in
/// the data's units: after normalize, a black border is (0 - mean) / std.
Transform random_crop(int64_t padding, double fill = 0.0, std::shared_ptr<Generator> generator = nullptr);

/// Chooses the examples of each epoch, in order, for a DataLoader (DataLoaderOptions::sampler).
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The number of indices indices() returns (the same for every epoch).
  virtual int64_t size() const = 0;
  virtual std::vector<int64_t> indices(int64_t epoch) const = 0;
};

/// Each of `num_replicas` ranks gets its own shard of a dataset of `dataset_size` examples, as
/// PyTorch's DistributedSampler: the epoch's order (a permutation drawn from (seed, epoch), the
/// same on every rank, as DataLoader's own shuffle; or 0..n-1 without shuffle) is cut to a
/// multiple of num_replicas, by dropping its tail (drop_last) or by repeating its head (padding),
/// and rank r takes the positions r, r + num_replicas, ... So the shards of one epoch are
/// disjoint (but for the padding), equal in size, and cover the dataset (but for the dropped
/// tail). DataLoader::set_epoch reshuffles them.
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(int64_t dataset_size, int num_replicas, int rank, bool shuffle = true, uint64_t seed = 0,
                     bool drop_last = false);
  int64_t size() const override { return per_rank_; }
  std::vector<int64_t> indices(int64_t epoch) const override;

 private:
  int64_t n_, per_rank_;
  int replicas_, rank_;
  bool shuffle_;
  uint64_t seed_;
};

/// The DataLoader's shuffled order of epoch `epoch`: a permutation of 0..n-1 drawn from (seed,
/// epoch) by a private stream, the same on every machine.
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed, int64_t epoch);

struct DataLoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;       ///< the permutation of epoch e is drawn from (seed, e): reproducible and resumable
  bool drop_last = false;  ///< drop the last batch when it is smaller than batch_size
  /// As PyTorch's DataLoader(generator=): when set, each iteration's order is a permutation drawn
  /// from it (seed and epoch are then unused), and the stream goes on from epoch to epoch; save
  /// its state (Generator::get_state) to resume. Shared with the caller. Null: the (seed, epoch)
  /// order above, which draws from no generator.
  std::shared_ptr<Generator> generator = nullptr;
  /// When set, each epoch's examples and order are sampler->indices(epoch) (shuffle, seed and
  /// generator are then unused): a DistributedSampler gives each rank its shard.
  std::shared_ptr<const Sampler> sampler = nullptr;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options,
             std::vector<Transform> transforms = {});
  /// Chooses the epoch whose order the next iteration follows (as PyTorch's sampler.set_epoch).
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t num_batches() const;
  /// The examples of one epoch: the sampler's size when there is one, else the dataset's.
  int64_t num_examples() const { return options_.sampler ? options_.sampler->size() : dataset_->size(); }
  const DataLoaderOptions& options() const { return options_; }

  class Iterator {
   public:
    Iterator(const DataLoader* loader, int64_t batch) : loader_(loader), batch_(batch) {}
    Batch operator*() const { return loader_->batch(order_, batch_); }
    Iterator& operator++() {
      ++batch_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return batch_ != o.batch_; }

   private:
    friend class DataLoader;
    const DataLoader* loader_;
    int64_t batch_;
    std::shared_ptr<const std::vector<int64_t>> order_;
  };
  Iterator begin() const;
  Iterator end() const { return Iterator(this, num_batches()); }
  /// The order of the examples in `epoch`; with options().generator, the next order drawn from
  /// it (the epoch is then unused, and each call advances the generator).
  std::vector<int64_t> order(int64_t epoch) const;

 private:
  Batch batch(const std::shared_ptr<const std::vector<int64_t>>& order, int64_t b) const;
  std::shared_ptr<Dataset> dataset_;
  DataLoaderOptions options_;
  std::vector<Transform> transforms_;
  int64_t epoch_ = 0;
};

}  // namespace xg::data
