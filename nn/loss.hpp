#pragma once
/// @file loss.hpp
/// @brief Loss functions, each as a function in xg::nn::functional and as a Module, with
/// PyTorch's formulas and reductions. Every loss but ctc_loss is composed from xg ops, so its
/// gradients (and second derivatives) are derived by the tape, for the input and for float targets
/// alike; ctc_loss wraps the primitive xg::ctc_loss, whose alpha-beta gradient is a kernel that
/// is differentiable once (as PyTorch's).
///
/// @code
/// namespace F = xg::nn::functional;
/// xg::Tensor loss = F::cross_entropy(logits, labels, {.reduction = xg::nn::Reduction::sum, .label_smoothing
/// = 0.1});
///
/// xg::nn::CrossEntropyLoss criterion({.weight = class_weights, .ignore_index = 0});
/// xg::Tensor l = criterion(logits, labels);
/// @endcode
///
/// Conventions shared by every loss:
/// - `Reduction::none` returns the per-element (or per-sample) losses, `mean` their mean, `sum`
///   their sum; `batchmean` (kl_div only) the sum divided by the batch size (the first extent).
/// - Inputs must be float tensors. Float targets and weights are converted to the input's dtype
///   (differentiably), so the loss has the input's dtype.
/// - Targets must have the input's shape (ShapeError otherwise; PyTorch only warns and broadcasts
///   for the regression losses, which is rarely what was meant). Class-index targets are int64.
/// - Errors are xg::ShapeError / TypeError / ValueError / IndexError naming the loss and the shapes.
#include <cstdint>
#include <string>
#include <utility>

#include "xgrad/autograd/tensor/tensor.hpp"
#include "xgrad/nn/module.hpp"

namespace xg::nn {

/// How per-element losses are reduced (PyTorch's `reduction=` strings).
enum class Reduction {
  none,       ///< no reduction: the per-element / per-sample losses
  mean,       ///< the mean (weighted mean for cross_entropy / nll_loss with class weights)
  sum,        ///< the sum
  batchmean,  ///< kl_div only: the sum divided by the batch size input.size(0)
};
const char* reduction_name(Reduction r);

// ---- options (plain structs for designated initialisers; field order as PyTorch's arguments) ----

struct MSELossOptions {
  Reduction reduction = Reduction::mean;
};
struct L1LossOptions {
  Reduction reduction = Reduction::mean;
};
/// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0: L1). beta >= 0.
struct SmoothL1LossOptions {
  Reduction reduction = Reduction::mean;
  double beta = 1.0;
};
/// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta). delta > 0.
struct HuberLossOptions {
  Reduction reduction = Reduction::mean;
  double delta = 1.0;
};
struct CrossEntropyLossOptions {
  Tensor weight = {};  ///< [C] rescaling weight per class (optional)
  int64_t ignore_index =
      -100;  ///< class-index targets equal to it add nothing (and do not count in the mean)
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;  ///< in [0, 1]: the target mixes (1 - s) one-hot + s / C uniform
};
struct NLLLossOptions {
  Tensor weight = {};  ///< [C] rescaling weight per class (optional)
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
};
struct BCELossOptions {
  Tensor weight = {};  ///< rescaling weight broadcast to the input's shape (optional)
  Reduction reduction = Reduction::mean;
};
struct BCEWithLogitsLossOptions {
  Tensor weight = {};  ///< rescaling weight broadcast to the input's shape (optional)
  Reduction reduction = Reduction::mean;
  Tensor pos_weight =
      {};  ///< weight of positive examples broadcast to the target's shape, e.g. [C] (optional)
};
struct KLDivLossOptions {
  Reduction reduction = Reduction::mean;  ///< batchmean gives the true KL divergence per sample
  bool log_target = false;                ///< the target holds log-probabilities
};
struct CosineEmbeddingLossOptions {
  double margin = 0.0;  ///< in [-1, 1]; PyTorch suggests 0 to 0.5
  Reduction reduction = Reduction::mean;
};
struct MarginRankingLossOptions {
  double margin = 0.0;
  Reduction reduction = Reduction::mean;
};
/// max(0, margin + d(a, p) - d(a, n)), d(x, y) = ||x - y + eps||_p over the last axis.
struct TripletMarginLossOptions {
  double margin = 1.0;
  double p = 2.0;     ///< the norm's order, > 0
  double eps = 1e-6;  ///< added to the difference before the norm, as PyTorch's pairwise_distance
  bool swap = false;  ///< use min(d(a, n), d(p, n)) as the negative distance
  Reduction reduction = Reduction::mean;
};
struct HingeEmbeddingLossOptions {
  double margin = 1.0;
  Reduction reduction = Reduction::mean;
};
struct MultiMarginLossOptions {
  int64_t p = 1;  ///< 1 or 2: the hinge or its square
  double margin = 1.0;
  Tensor weight = {};  ///< [C] rescaling weight of each target class (optional)
  Reduction reduction = Reduction::mean;
};
struct MultiLabelSoftMarginLossOptions {
  Tensor weight = {};  ///< rescaling weight broadcast to the input's shape, e.g. [C] (optional)
  Reduction reduction = Reduction::mean;
};
struct SoftMarginLossOptions {
  Reduction reduction = Reduction::mean;
};
struct PoissonNLLLossOptions {
  bool log_input = true;  ///< the input is log(rate): exp(x) - t x; else x - t log(x + eps)
  bool full = false;      ///< add the Stirling term t log t - t + 0.5 log(2 pi t) where t > 1
  double eps = 1e-8;      ///< keeps log(x + eps) finite at x = 0 (log_input false)
  Reduction reduction = Reduction::mean;
};
struct GaussianNLLLossOptions {
  bool full = false;  ///< add the constant 0.5 log(2 pi)
  double eps = 1e-6;  ///< var is clamped to >= eps (the gradient passes as if unclamped, as PyTorch)
  Reduction reduction = Reduction::mean;
};
struct CTCLossOptions {
  int64_t blank = 0;                      ///< the blank label, in [0, C)
  Reduction reduction = Reduction::mean;  ///< mean: each loss over its target length (>= 1), then the mean
  bool zero_infinity = false;             ///< impossible alignments (inf) give 0 and a 0 gradient
};

namespace functional {

/// (input - target)^2.
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& o = {});
/// |input - target|.
Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& o = {});
/// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, d = input - target.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& o = {});
/// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).
Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& o = {});

/// Cross entropy of unnormalised logits: input [C], [N, C] or [N, C, d1, ...] (classes on axis 1,
/// or 0 for a 1-D input). target is either int64 class indices of shape [], [N] or [N, d1, ...]
/// (values in [0, C), or ignore_index), or float class probabilities of the input's shape.
/// Class indices: l_n = -w[y_n] log_softmax(x)_n[y_n]; `mean` divides the sum by the sum of
/// w[y_n] over the non-ignored targets (their count without weights); with all targets ignored
/// it is NaN (0 / 0), as PyTorch's. Label smoothing s adds, as PyTorch does,
/// (1 - s) nll + s / C * (-sum_c w[c] log_softmax(x)_n[c]) reduced the same way.
/// Probabilities: l_n = -sum_c w[c] t_n[c] log_softmax(x)_n[c]; `mean` divides by the number of
/// samples N d1 ... (not by the weights); ignore_index does not apply.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& o = {});
/// Negative log-likelihood of log-probabilities: l_n = -w[y_n] input_n[y_n], shapes and the
/// weighted mean as cross_entropy with class indices.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& o = {});
/// Binary cross entropy of probabilities in [0, 1]: -w (t log x + (1 - t) log(1 - x)), each log
/// clamped to >= -100 as PyTorch's (so x = 0 or 1 gives a finite loss). Where a log is clamped its
/// derived gradient is 0 (PyTorch's hand-written backward gives (x - t) / 1e-12 there instead).
/// Input values outside [0, 1] raise ValueError.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& o = {});
/// Binary cross entropy of logits, in the stable form
/// w ((1 - t) x + (1 + (p - 1) t) softplus(-x)), softplus(-x) = max(-x, 0) + log1p(exp(-|x|)),
/// which without pos_weight p is max(x, 0) - x t + log1p(exp(-|x|)).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& o = {});
/// Kullback-Leibler divergence with input as log-probabilities: t (log t - x) (0 where t = 0), or
/// exp(t) (t - x) with log_target. Use Reduction::batchmean for the KL divergence per sample.
Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivLossOptions& o = {});
/// input1, input2 [N, D] with target [N] (or [D] with a 0-D target), target values 1 or -1:
/// 1 - cos(x1, x2) for 1, max(0, cos(x1, x2) - margin) for -1, where
/// cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) as PyTorch's.
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                             const CosineEmbeddingLossOptions& o = {});
/// max(0, -y (x1 - x2) + margin) with y = 1 or -1; the three tensors have the same rank and
/// broadcast together (as PyTorch's).
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                           const MarginRankingLossOptions& o = {});
/// anchor, positive, negative of one shape [N, D] or [D]: max(0, margin + d(a, p) - d(a, n)),
/// d(x, y) = ||x - y + eps||_p along the last axis; swap takes min(d(a, n), d(p, n)).
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           const TripletMarginLossOptions& o = {});
/// x where y = 1, max(0, margin - x) where y = -1 (as PyTorch, another y value adds both terms);
/// target of the input's shape, any dtype.
Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target,
                            const HingeEmbeddingLossOptions& o = {});
/// Multi-class hinge of input [N, C] (or [C]) and int64 targets [N] (or []):
/// l_n = sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C.
Tensor multi_margin_loss(const Tensor& input, const Tensor& target, const MultiMarginLossOptions& o = {});
/// -(t log sigmoid(x) + (1 - t) log sigmoid(-x)) times the weight, averaged over the last (class)
/// axis: input and float target [N, C] (or [C]) give per-sample losses [N] (or []).
Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target,
                                   const MultiLabelSoftMarginLossOptions& o = {});
/// log(1 + exp(-y x)) with y = 1 or -1 of the input's shape (computed without overflow).
Tensor soft_margin_loss(const Tensor& input, const Tensor& target, const SoftMarginLossOptions& o = {});
/// Poisson negative log-likelihood: exp(x) - t x (log_input), else x - t log(x + eps); full adds
/// the Stirling term t log t - t + 0.5 log(2 pi t) where t > 1 (0 elsewhere), as PyTorch.
Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, const PoissonNLLLossOptions& o = {});
/// Gaussian negative log-likelihood 0.5 (log v + (x - t)^2 / v) (+ 0.5 log(2 pi) with full),
/// v = max(var, eps). var has the input's shape, or that shape without its last axis, or with a
/// last axis of 1 (one variance per sample); a negative var raises ValueError.
Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var,
                         const GaussianNLLLossOptions& o = {});
/// Connectionist temporal classification loss (see xg::ctc_loss for the layouts: log_probs
/// [T, N, C] or [T, C], targets padded [N, S] or concatenated 1-D, int64 lengths). mean divides
/// each sequence's loss by max(its target length, 1), then averages over the batch.
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, const CTCLossOptions& o = {});

}  // namespace functional

// ---- modules: the functional forms with their options held; weights are registered as buffers ----

/// Common part of the two-input losses: forward(input, target) and operator()(input, target).
/// The single-input Module::forward(x) stays reachable and throws.
class Loss : public Module {
 public:
  using Module::forward;
  using Module::Module;
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) {
    check_no_hooks("loss(input, target)");
    return forward(input, target);
  }
};

/// A two-input loss whose forward is its functional form Fn with the options held; Fn checks the
/// inputs, the constructor of each loss checks the options.
template <class Options, Tensor (*Fn)(const Tensor&, const Tensor&, const Options&)>
class FunctionalLoss : public Loss {
 public:
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override { return Fn(input, target, options); }
  Options options;

 protected:
  FunctionalLoss(std::string type_name, Options o) : Loss(std::move(type_name)), options(std::move(o)) {}
};

/// The same for the losses of two inputs and a target: forward(input1, input2, target).
template <class Options, Tensor (*Fn)(const Tensor&, const Tensor&, const Tensor&, const Options&)>
class FunctionalPairLoss : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target) {
    return Fn(input1, input2, target, options);
  }
  Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) {
    check_no_hooks("loss(input1, input2, target)");
    return forward(input1, input2, target);
  }
  Options options;

 protected:
  FunctionalPairLoss(std::string type_name, Options o)
      : Module(std::move(type_name)), options(std::move(o)) {}
};

class MSELoss : public FunctionalLoss<MSELossOptions, functional::mse_loss> {
 public:
  explicit MSELoss(MSELossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<MSELoss>(options); }
};

class L1Loss : public FunctionalLoss<L1LossOptions, functional::l1_loss> {
 public:
  explicit L1Loss(L1LossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<L1Loss>(options); }
};

class SmoothL1Loss : public FunctionalLoss<SmoothL1LossOptions, functional::smooth_l1_loss> {
 public:
  explicit SmoothL1Loss(SmoothL1LossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<SmoothL1Loss>(options); }
};

class HuberLoss : public FunctionalLoss<HuberLossOptions, functional::huber_loss> {
 public:
  explicit HuberLoss(HuberLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<HuberLoss>(options); }
};

/// options.weight, when given, is registered as the buffer "weight" (saved, converted by to()).
class CrossEntropyLoss : public FunctionalLoss<CrossEntropyLossOptions, functional::cross_entropy> {
 public:
  explicit CrossEntropyLoss(CrossEntropyLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<CrossEntropyLoss>(options); }
};

/// options.weight, when given, is registered as the buffer "weight".
class NLLLoss : public FunctionalLoss<NLLLossOptions, functional::nll_loss> {
 public:
  explicit NLLLoss(NLLLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<NLLLoss>(options); }
};

/// options.weight, when given, is registered as the buffer "weight".
class BCELoss : public FunctionalLoss<BCELossOptions, functional::binary_cross_entropy> {
 public:
  explicit BCELoss(BCELossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<BCELoss>(options); }
};

/// options.weight and options.pos_weight, when given, are registered as buffers "weight" and "pos_weight".
class BCEWithLogitsLoss
    : public FunctionalLoss<BCEWithLogitsLossOptions, functional::binary_cross_entropy_with_logits> {
 public:
  explicit BCEWithLogitsLoss(BCEWithLogitsLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<BCEWithLogitsLoss>(options); }
};

class KLDivLoss : public FunctionalLoss<KLDivLossOptions, functional::kl_div> {
 public:
  explicit KLDivLoss(KLDivLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<KLDivLoss>(options); }
};

class CosineEmbeddingLoss
    : public FunctionalPairLoss<CosineEmbeddingLossOptions, functional::cosine_embedding_loss> {
 public:
  explicit CosineEmbeddingLoss(CosineEmbeddingLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<CosineEmbeddingLoss>(options); }
};

class MarginRankingLoss
    : public FunctionalPairLoss<MarginRankingLossOptions, functional::margin_ranking_loss> {
 public:
  explicit MarginRankingLoss(MarginRankingLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<MarginRankingLoss>(options); }
};

/// forward(anchor, positive, negative).
class TripletMarginLoss
    : public FunctionalPairLoss<TripletMarginLossOptions, functional::triplet_margin_loss> {
 public:
  explicit TripletMarginLoss(TripletMarginLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<TripletMarginLoss>(options); }
};

class HingeEmbeddingLoss
    : public FunctionalLoss<HingeEmbeddingLossOptions, functional::hinge_embedding_loss> {
 public:
  explicit HingeEmbeddingLoss(HingeEmbeddingLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<HingeEmbeddingLoss>(options); }
};

/// options.weight, when given, is registered as the buffer "weight".
class MultiMarginLoss : public FunctionalLoss<MultiMarginLossOptions, functional::multi_margin_loss> {
 public:
  explicit MultiMarginLoss(MultiMarginLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<MultiMarginLoss>(options); }
};

/// options.weight, when given, is registered as the buffer "weight".
class MultiLabelSoftMarginLoss
    : public FunctionalLoss<MultiLabelSoftMarginLossOptions, functional::multilabel_soft_margin_loss> {
 public:
  explicit MultiLabelSoftMarginLoss(MultiLabelSoftMarginLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<MultiLabelSoftMarginLoss>(options); }
};

class SoftMarginLoss : public FunctionalLoss<SoftMarginLossOptions, functional::soft_margin_loss> {
 public:
  explicit SoftMarginLoss(SoftMarginLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<SoftMarginLoss>(options); }
};

class PoissonNLLLoss : public FunctionalLoss<PoissonNLLLossOptions, functional::poisson_nll_loss> {
 public:
  explicit PoissonNLLLoss(PoissonNLLLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<PoissonNLLLoss>(options); }
};

/// forward(input, target, var).
class GaussianNLLLoss : public FunctionalPairLoss<GaussianNLLLossOptions, functional::gaussian_nll_loss> {
 public:
  explicit GaussianNLLLoss(GaussianNLLLossOptions o = {});
  std::string extra_repr() const override;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<GaussianNLLLoss>(options); }
};

/// forward(log_probs, targets, input_lengths, target_lengths).
class CTCLoss : public Module {
 public:
  using Module::forward;
  explicit CTCLoss(CTCLossOptions o = {});
  Tensor forward(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                 const Tensor& target_lengths);
  Tensor operator()(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                    const Tensor& target_lengths) {
    check_no_hooks("loss(log_probs, targets, input_lengths, target_lengths)");
    return forward(log_probs, targets, input_lengths, target_lengths);
  }
  std::string extra_repr() const override;
  CTCLossOptions options;

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<CTCLoss>(options); }
};

}  // namespace xg::nn
