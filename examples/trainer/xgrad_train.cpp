// xgrad-train: trains the Fashion-MNIST MLP or CNN with a progress bar, per-epoch validation
// accuracy (on a split of the training set), the model of the best epoch measured once on the
// test set at the end, curves as CSV and SVG (and PNG when gnuplot is installed), and a checkpoint per
// epoch from which --resume continues exactly where the run stopped. With --distributed, under
// mpirun, data-parallel over the ranks (docs/distributed.md).
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fashion_models.hpp"
#include "xgrad/config.hpp"
#include "xgrad/xgrad.hpp"
#if XGRAD_HAS_MPI
#include "xgrad/nn/dist.hpp"
#endif

namespace {

using Clock = std::chrono::steady_clock;
namespace F = xg::nn::functional;

struct Config {
  std::string model = "mlp";
  int epochs = 0;  // 0: the model's default
  int64_t batch_size = 0;
  double lr = 0;
  std::string optimizer;  // default: adam for mlp, the recipe's for cnn
  int threads = 2;
  uint64_t seed = 0;
  std::string data = xg::data::kFashionMnistDir;
  std::string out = "runs";
  std::string checkpoint;  // default: <out>/<model>/checkpoint.safetensors
  std::string resume;
  int64_t limit = 0;   // 0: all examples
  int stop_after = 0;  // stop after this epoch, as an interruption would (0: run to the end)
  bool quiet = false;
  double target_accuracy = 0;  // > 0: stop when the test accuracy first reaches it, print a JSON line
  int64_t eval_every = 0;      // with a target: also evaluate every N steps (0: after each epoch only)
  bool distributed = false;    // data-parallel over the MPI ranks (xg::dist)
  bool capture = false;        // --capture: the training step captured once (xg::capture), then replayed
  bool sync_bn = false;        // --distributed: BatchNorm statistics over the global batch
  double bucket_mb = 25;       // --distributed: DDP's gradient bucket size
  double val_fraction = 0.1;   // of the training set, held out to choose the epoch (not with a target)
  uint64_t split_seed = 0;     // the validation split's permutation
  // The recipe (each: "" or < 0 until prepare() puts in the model's default).
  std::string schedule;         // cosine (stepped per epoch) or onecycle (per batch)
  std::string augment;          // none, or a comma list of crop (2 px padding) and flip
  double label_smoothing = -1;  // of the training loss (evaluation uses the plain loss)
  double weight_decay = -1;     // of the optimizer (AdamW's is decoupled)
};

// This process's rank and the number of ranks (0 and 1 without --distributed).
int world_rank() {
#if XGRAD_HAS_MPI
  return xg::dist::rank();
#else
  return 0;
#endif
}
int world_size() {
#if XGRAD_HAS_MPI
  return xg::dist::world_size();
#else
  return 1;
#endif
}

// The command line: each option writes its field of c.
void add_options(CLI::App& app, Config& c) {
  app.add_option("--model", c.model, "mlp or cnn")->check(CLI::IsMember({"mlp", "cnn"}));
  app.add_option("--epochs", c.epochs, "epochs (default: 15 for mlp, 11 for cnn)");
  app.add_option("--batch-size", c.batch_size, "examples per step (default: 128)");
  app.add_option("--lr", c.lr,
                 "learning rate, the peak of onecycle (default: 1e-3 for adam/adamw, 0.05 for sgd; "
                 "cnn: 3e-3)");
  app.add_option("--optimizer", c.optimizer,
                 "sgd (momentum 0.9), adam or adamw (default: adam "
                 "for mlp, adamw for cnn)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--schedule", c.schedule,
                 "cosine (lr to 0 over the run, stepped per epoch; mlp's default) or onecycle (warm-up to "
                 "--lr over 30% of the steps, then cosine down; stepped per batch; cnn's default)")
      ->check(CLI::IsMember({"cosine", "onecycle"}));
  app.add_option("--augment", c.augment,
                 "training-set augmentation: none, or a comma list of crop (shift by up to 2 px, black "
                 "border) and flip (left-right, p 0.5), drawn from --seed (default: none for mlp, "
                 "flip for cnn)");
  app.add_option("--label-smoothing", c.label_smoothing,
                 "label smoothing of the training loss (default: 0 for mlp, 0.1 for cnn)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--weight-decay", c.weight_decay,
                 "weight decay (default: 0, or 0.05 for cnn with adamw, 0.01 for mlp)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--threads", c.threads, "BLAS threads")->check(CLI::PositiveNumber);
  app.add_option("--seed", c.seed, "seed for initialisation, shuffling and dropout");
  app.add_option("--data", c.data, "directory with the Fashion-MNIST IDX files");
  app.add_option("--out", c.out, "directory for curves and the default checkpoint");
  app.add_option("--checkpoint", c.checkpoint,
                 "checkpoint written after each epoch (default: <out>/<model>/checkpoint.safetensors)");
  app.add_option("--resume", c.resume, "continue from this checkpoint");
  app.add_option("--limit", c.limit, "use only the first N training (and test) examples, for smoke tests")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stop-after", c.stop_after,
                 "stop after this epoch, as an interruption would (then --resume)");
  app.add_flag("--quiet", c.quiet, "no progress bar");
  app.add_option("--target-accuracy", c.target_accuracy,
                 "time to accuracy: stop when the test accuracy first reaches this and print a JSON line "
                 "with the seconds of training")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--eval-every", c.eval_every,
                 "with --target-accuracy: evaluate every N steps too (default: after each epoch)")
      ->check(CLI::NonNegativeNumber);
  app.add_option(
         "--val-fraction", c.val_fraction,
         "fraction of the training set held out for validation (random_split from --split-seed): "
         "each epoch is evaluated on it, the best epoch's model is kept and measured once on the test "
         "set at the end (0: evaluate on the test set each epoch, as --target-accuracy always does)")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--split-seed", c.split_seed,
                 "seed of the validation split (fixed: the same split for every --seed)");
  app.add_flag("--capture", c.capture,
               "capture the training step once (xg::capture) and replay it for every full batch (the last, "
               "smaller batch runs eagerly); the same results as eager for the same seed");
  app.add_flag("--distributed", c.distributed,
               "data-parallel over MPI (mpirun -np N xgrad-train --distributed): --batch-size is split "
               "across the ranks, --threads is per rank; rank 0 prints, evaluates and writes the checkpoint");
  app.add_flag("--sync-bn", c.sync_bn,
               "with --distributed: BatchNorm takes its training statistics over every rank's batch "
               "(SyncBatchNorm) instead of each rank's own");
  app.add_option("--bucket-mb", c.bucket_mb,
                 "with --distributed: gradient bucket size in MB (smaller buckets start their allreduce "
                 "earlier in backward)")
      ->check(CLI::PositiveNumber);
}

// eval_*: on the validation split, or on the test set without one (--val-fraction 0, --target-accuracy).
struct EpochRecord {
  int epoch;
  double train_loss, eval_loss, eval_acc, seconds;
};

std::shared_ptr<xg::nn::Module> make_model(const std::string& name) {
  if (name == "mlp") return std::make_shared<fashion::Mlp>();
  if (name == "cnn") return std::make_shared<fashion::Cnn>();
  throw xg::ValueError("--model must be mlp or cnn, got '" + name + "'");
}

std::unique_ptr<xg::optim::Optimizer> make_optimizer(const Config& c, const std::vector<xg::Tensor>& params) {
  if (c.optimizer == "sgd")
    return std::make_unique<xg::optim::SGD>(
        params, xg::optim::SGDOptions{.lr = c.lr, .momentum = 0.9, .weight_decay = c.weight_decay});
  if (c.optimizer == "adam")
    return std::make_unique<xg::optim::Adam>(
        params, xg::optim::AdamOptions{.lr = c.lr, .weight_decay = c.weight_decay});
  if (c.optimizer == "adamw")
    return std::make_unique<xg::optim::AdamW>(
        params, xg::optim::AdamWOptions{.lr = c.lr, .weight_decay = c.weight_decay});
  throw xg::ValueError("--optimizer must be sgd, adam or adamw, got '" + c.optimizer + "'");
}

std::string fmt_time(double s) {
  char buf[32];
  if (s >= 60)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

// One line redrawn in place on a terminal; nothing at all in a log (no control characters).
class ProgressBar {
 public:
  ProgressBar(int epoch, int epochs, int64_t total, bool enabled)
      : epoch_(epoch), epochs_(epochs), total_(total), on_(enabled) {}
  void update(int64_t done, double running_loss, double seconds) {
    if (!on_) return;
    const int width = 30;
    const int filled = total_ ? static_cast<int>(width * done / total_) : width;
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
    std::fprintf(stderr, "\r  epoch %d/%d [%s%s] %6ld/%ld  %7.0f ex/s  ETA %-7s loss %.4f ", epoch_, epochs_,
                 std::string(static_cast<std::size_t>(filled), '=').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), static_cast<long>(done),
                 static_cast<long>(total_), rate, fmt_time(eta).c_str(), running_loss);
    std::fflush(stderr);
  }
  void finish() {
    if (on_) std::fprintf(stderr, "\r%s\r", std::string(110, ' ').c_str());
  }

 private:
  int epoch_, epochs_;
  int64_t total_;
  bool on_;
};

// Mean loss and accuracy over a dataset, in eval mode, without recording.
std::pair<double, double> evaluate(xg::nn::Module& model, const std::shared_ptr<xg::data::Dataset>& ds) {
  xg::NoGradGuard no_grad;
  model.eval();
  xg::data::DataLoader loader(ds, {.batch_size = 1000, .shuffle = false});
  double loss_sum = 0;
  int64_t correct = 0;
  for (const auto& b : loader) {
    xg::Tensor logits = model.forward(b.data);
    loss_sum += F::cross_entropy(logits, b.target, {.reduction = xg::nn::Reduction::sum}).item();
    correct += static_cast<int64_t>(xg::sum(xg::eq(xg::argmax(logits, 1), b.target)).item());
  }
  model.train();
  const double n = static_cast<double>(ds->size());
  return {loss_sum / n, static_cast<double>(correct) / n};
}

void write_csv(const std::string& path, const std::vector<EpochRecord>& h, const std::string& eval) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream o(tmp);
    o << "epoch,train_loss," << eval << "_loss," << eval << "_acc,seconds\n";
    for (const auto& r : h)
      o << r.epoch << ',' << r.train_loss << ',' << r.eval_loss << ',' << r.eval_acc << ',' << r.seconds
        << '\n';
  }
  std::filesystem::rename(tmp, path);
}

// A small self-contained SVG: losses on the left axis, accuracy on the right.
void write_svg(const std::string& path, const std::vector<EpochRecord>& h, const std::string& title,
               const std::string& eval) {
  const double W = 640, H = 400, L = 60, R = 60, T = 40, B = 50;
  double max_loss = 0;
  for (const auto& r : h) max_loss = std::max({max_loss, r.train_loss, r.eval_loss});
  max_loss = max_loss > 0 ? max_loss * 1.1 : 1;
  const double n = static_cast<double>(std::max<std::size_t>(h.size(), 2) - 1);
  auto px = [&](double i) { return L + (W - L - R) * (h.size() > 1 ? i / n : 0.5); };
  auto py_loss = [&](double v) { return T + (H - T - B) * (1 - v / max_loss); };
  auto py_acc = [&](double v) { return T + (H - T - B) * (1 - v); };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << title << "</text>\n"
    << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B
    << "\" stroke=\"black\"/>\n"
    << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B
    << "\" stroke=\"black\"/>\n"
    << "<line x1=\"" << W - R << "\" y1=\"" << T << "\" x2=\"" << W - R << "\" y2=\"" << H - B
    << "\" stroke=\"black\"/>\n";
  for (int k = 0; k <= 4; ++k) {
    const double f = k / 4.0;
    s << "<text x=\"" << L - 6 << "\" y=\"" << py_loss(max_loss * f) + 4 << "\" text-anchor=\"end\">"
      << std::round(max_loss * f * 100) / 100 << "</text>\n"
      << "<text x=\"" << W - R + 6 << "\" y=\"" << py_acc(f) + 4 << "\">" << f << "</text>\n";
  }
  for (std::size_t i = 0; i < h.size(); ++i)
    s << "<text x=\"" << px(static_cast<double>(i)) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">"
      << h[i].epoch << "</text>\n";
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 10 << "\" text-anchor=\"middle\">epoch</text>\n";
  auto line = [&](auto value, auto py, const char* color, const char* label, int row) {
    s << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
    for (std::size_t i = 0; i < h.size(); ++i)
      s << px(static_cast<double>(i)) << ',' << py(value(h[i])) << ' ';
    s << "\"/>\n<text x=\"" << L + 10 << "\" y=\"" << T + 14 * row << "\" fill=\"" << color << "\">" << label
      << "</text>\n";
  };
  line([](const EpochRecord& r) { return r.train_loss; }, py_loss, "#1f77b4", "train loss (left)", 1);
  line([](const EpochRecord& r) { return r.eval_loss; }, py_loss, "#ff7f0e", (eval + " loss (left)").c_str(),
       2);
  line([](const EpochRecord& r) { return r.eval_acc; }, py_acc, "#2ca02c",
       (eval + " accuracy (right)").c_str(), 3);
  s << "</svg>\n";
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << s.str();
  std::filesystem::rename(tmp, path);
}

// A PNG of the curves via gnuplot when it is installed; returns the path or "".
std::string write_png(const std::string& csv, const std::string& png, const std::string& title,
                      const std::string& eval) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) return "";
  const std::string script = png + ".gp";
  std::ofstream(script) << "set terminal pngcairo size 800,500\nset output '" << png
                        << "'\nset datafile separator ','\n"
                        << "set title '" << title << "'\nset xlabel 'epoch'\nset ylabel 'loss'\nset y2label '"
                        << eval << " accuracy'\n"
                        << "set ytics nomirror\nset y2tics\nset key center right\n"
                        << "plot '" << csv << "' using 1:2 every ::1 with linespoints title 'train loss', "
                        << "'' using 1:3 every ::1 with linespoints title '" << eval << " loss', "
                        << "'' using 1:4 every ::1 axes x1y2 with linespoints title '" << eval
                        << " accuracy'\n";
  const int rc = std::system(("gnuplot '" + script + "' >/dev/null 2>&1").c_str());
  std::filesystem::remove(script);
  return rc == 0 ? png : "";
}

// The model of the epoch with the best validation accuracy so far (the one the test set measures).
struct Best {
  int epoch = 0;  // 0: none yet
  double acc = -1;
  xg::NamedTensors state;
  void offer(int e, double a, const xg::nn::Module& model) {
    if (a <= acc) return;  // a tie keeps the earlier epoch
    epoch = e;
    acc = a;
    state.clear();
    for (const auto& [n, t] : model.state_dict()) state.emplace_back(n, t.detach().clone());
  }
};

// The validation split a run uses, as the checkpoint records it ("none" without one).
std::string split_text(const Config& c) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g %lu", c.val_fraction, static_cast<unsigned long>(c.split_seed));
  return c.val_fraction > 0 && c.target_accuracy <= 0 ? buf : "none";
}

// Checkpoint: model tensors under "model.", optimizer tensors under "optim.", the best epoch's
// model under "best.", and in the metadata the model kind, the epoch reached, the generator
// state, the validation split, the best epoch and the history.
void save_checkpoint(const std::string& path, const Config& c, int epoch, xg::nn::Module& model,
                     const xg::optim::Optimizer& opt, const xg::optim::LRScheduler& sched,
                     const std::vector<EpochRecord>& history, const Best& best) {
  xg::NamedTensors tensors;
  for (auto& [n, t] : model.state_dict()) tensors.emplace_back("model." + n, t);
  for (auto& [n, t] : best.state) tensors.emplace_back("best." + n, t);
  xg::optim::StateDict os = opt.state_dict();
  for (auto& [n, t] : os.tensors) tensors.emplace_back("optim." + n, t);
  std::map<std::string, std::string> meta;
  for (auto& [k, v] : os.metadata) meta["optim." + k] = v;
  for (auto& [k, v] : sched.state_dict()) meta[k] = v;
  meta["xgrad.model"] = c.model;
  meta["xgrad.optimizer"] = c.optimizer;
  meta["xgrad.epoch"] = std::to_string(epoch);
  meta["xgrad.seed"] = std::to_string(c.seed);
  std::ostringstream rng, hist;
  for (uint64_t w : xg::get_rng_state()) rng << w << ' ';
  for (const auto& r : history)
    hist << r.epoch << ' ' << r.train_loss << ' ' << r.eval_loss << ' ' << r.eval_acc << ' ' << r.seconds
         << ';';
  char best_text[64];
  std::snprintf(best_text, sizeof best_text, "%d %.17g", best.epoch, best.acc);
  meta["xgrad.split"] = split_text(c);
  meta["xgrad.best"] = best_text;
  meta["xgrad.rng"] = rng.str();
  meta["xgrad.history"] = hist.str();
  xg::save_tensors(path, tensors, meta);
}

// Restores a checkpoint into model and optimizer; returns the epoch it reached.
int load_checkpoint(const std::string& path, const Config& c, xg::nn::Module& model,
                    xg::optim::Optimizer& opt, xg::optim::LRScheduler& sched,
                    std::vector<EpochRecord>& history, Best& best) {
  xg::TensorFile f = xg::load_tensors(path);
  auto meta = [&](const std::string& k) {
    auto it = f.metadata.find(k);
    if (it == f.metadata.end())
      throw xg::IOError("checkpoint '" + path + "' is not an xgrad-train checkpoint (no " + k + ")");
    return it->second;
  };
  if (meta("xgrad.model") != c.model)
    throw xg::ValueError("checkpoint '" + path + "' holds a '" + meta("xgrad.model") + "' model, not '" +
                         c.model + "' (pass --model " + meta("xgrad.model") + ")");
  if (meta("xgrad.optimizer") != c.optimizer)
    throw xg::ValueError("checkpoint '" + path + "' was trained with --optimizer " + meta("xgrad.optimizer") +
                         ", not " + c.optimizer);
  // A checkpoint of an older xgrad-train has no split: it evaluated on the test set.
  const auto split = f.metadata.find("xgrad.split");
  const std::string saved_split = split == f.metadata.end() ? "none" : split->second;
  if (saved_split != split_text(c))
    throw xg::ValueError("checkpoint '" + path + "' was trained with the validation split '" + saved_split +
                         "' (fraction and seed), not '" + split_text(c) +
                         "' (pass the same --val-fraction and --split-seed)");
  xg::NamedTensors model_state, best_state;
  xg::optim::StateDict os;
  for (auto& [n, t] : f.tensors) {
    if (n.rfind("model.", 0) == 0)
      model_state.emplace_back(n.substr(6), t);
    else if (n.rfind("best.", 0) == 0)
      best_state.emplace_back(n.substr(5), t);
    else if (n.rfind("optim.", 0) == 0)
      os.tensors.emplace_back(n.substr(6), t);
  }
  for (auto& [k, v] : f.metadata)
    if (k.rfind("optim.", 0) == 0) os.metadata[k.substr(6)] = v;
  // What no loader checks is checked first, and a failed load puts back what the loads before it
  // changed: a refused checkpoint leaves the run as it was.
  const std::string epoch_text = meta("xgrad.epoch");
  int epoch = -1;
  const auto [end, ec] = std::from_chars(epoch_text.data(), epoch_text.data() + epoch_text.size(), epoch);
  if (ec != std::errc() || end != epoch_text.data() + epoch_text.size() || epoch < 0)
    throw xg::IOError("checkpoint '" + path + "': xgrad.epoch '" + epoch_text + "' is not an epoch count");
  std::vector<uint64_t> rng;
  std::istringstream rs(meta("xgrad.rng"));
  for (uint64_t w; rs >> w;) rng.push_back(w);
  if (!rs.eof() || rng.size() != xg::get_rng_state().size())
    throw xg::IOError("checkpoint '" + path + "': xgrad.rng is not a generator state");
  xg::NamedTensors model_before;
  for (const auto& [n, t] : model.state_dict()) model_before.emplace_back(n, t.clone());
  const xg::optim::StateDict opt_before = opt.state_dict();
  const xg::optim::SchedulerState sched_before = sched.state_dict();
  try {
    model.load_state_dict(model_state);
    opt.load_state_dict(os);
    sched.load_state_dict(f.metadata);
  } catch (const xg::Error& e) {
    model.load_state_dict(model_before);
    opt.load_state_dict(opt_before);
    sched.load_state_dict(sched_before);
    throw xg::ValueError("checkpoint '" + path + "' does not fit this model: " + e.what());
  }
  xg::set_rng_state(rng);
  history.clear();
  std::istringstream hs(meta("xgrad.history"));
  for (std::string row; std::getline(hs, row, ';');) {
    std::istringstream r(row);
    EpochRecord e{};
    if (r >> e.epoch >> e.train_loss >> e.eval_loss >> e.eval_acc >> e.seconds) history.push_back(e);
  }
  best = Best{};
  if (const auto b = f.metadata.find("xgrad.best"); b != f.metadata.end()) {
    std::istringstream bs(b->second);
    bs >> best.epoch >> best.acc;
    best.state = best_state;
  }
  return epoch;
}

// ---- the parts of a run, in order ----

// The CNN's recipe (docs/accuracy.md, "The CNN to 0.93"): chosen by validation accuracy per epoch
// so that the run fits 5 minutes of training on a 2-core machine.
constexpr int kCnnEpochs = 11;
constexpr const char* kCnnOptimizer = "adamw";
constexpr double kCnnLr = 3e-3;
constexpr const char* kCnnSchedule = "onecycle";
constexpr const char* kCnnAugment = "flip";
constexpr double kCnnLabelSmoothing = 0.1;
constexpr double kCnnWeightDecay = 5e-2;  // AdamW's

// What was not given on the command line: the model's defaults.
void apply_defaults(Config& c) {
  const bool cnn = c.model == "cnn";
  if (c.epochs <= 0) c.epochs = cnn ? kCnnEpochs : 15;
  if (c.batch_size <= 0) c.batch_size = 128;
  if (c.optimizer.empty()) c.optimizer = cnn ? kCnnOptimizer : "adam";
  if (c.lr <= 0) c.lr = c.optimizer == "sgd" ? 0.05 : (cnn ? kCnnLr : 1e-3);
  if (c.schedule.empty()) c.schedule = cnn ? kCnnSchedule : "cosine";
  if (c.augment.empty()) c.augment = cnn ? kCnnAugment : "none";
  if (c.label_smoothing < 0) c.label_smoothing = cnn ? kCnnLabelSmoothing : 0.0;
  if (c.weight_decay < 0) c.weight_decay = c.optimizer == "adamw" ? (cnn ? kCnnWeightDecay : 1e-2) : 0.0;
}

// The training set's transforms from --augment, drawing from the default generator (seeded by
// --seed, saved in the checkpoint): a run and its resumption see the same crops and flips.
std::vector<xg::data::Transform> make_transforms(const Config& c) {
  std::vector<xg::data::Transform> out;
  if (c.augment == "none") return out;
  std::istringstream in(c.augment);
  for (std::string item; std::getline(in, item, ',');) {
    if (item == "crop")
      out.push_back(xg::data::random_crop(2, (0.0 - 0.2860) / 0.3530));  // black, in normalised units
    else if (item == "flip")
      out.push_back(xg::data::random_horizontal_flip(0.5));
    else
      throw xg::ValueError("--augment: expected none or a comma list of crop and flip, got '" + c.augment +
                           "'");
  }
  return out;
}

// The model's defaults for what was not given, the thread count and seed, the output directory
// (created) and the default checkpoint path inside it. Returns the output directory.
std::string prepare(Config& c) {
  apply_defaults(c);
  xg::set_num_threads(c.threads);
  xg::manual_seed(c.seed);
  const std::string dir = c.out + "/" + c.model;
  std::filesystem::create_directories(dir);
  if (c.checkpoint.empty()) c.checkpoint = dir + "/checkpoint.safetensors";
  return dir;
}

struct Data {
  std::shared_ptr<xg::data::Dataset> train, val, test;  // val: null without a validation split
  // What each epoch is evaluated on: the validation split, or the test set without one.
  const std::shared_ptr<xg::data::Dataset>& eval() const { return val ? val : test; }
  std::string eval_name() const { return val ? "val" : "test"; }
};

// The training and test sets, or their first --limit examples, and the validation split taken
// from the training set (random_split from --split-seed). Training on nothing would print a NaN
// loss and exit 0: an empty set is an error (the loader already names the empty file).
Data load_data(const Config& c) {
  std::shared_ptr<xg::data::TensorDataset> train = xg::data::fashion_mnist(c.data, true),
                                           test = xg::data::fashion_mnist(c.data, false);
  if (c.limit > 0) {
    train = train->head(c.limit);
    test = test->head(c.limit);
  }
  if (train->size() == 0 || test->size() == 0)
    throw xg::IOError("the " + std::string(train->size() == 0 ? "training" : "test") + " set in '" + c.data +
                      "' has no examples");
  Data d{train, nullptr, test};
  if (split_text(c) != "none") {
    auto parts = xg::data::random_split(train, std::vector<double>{1 - c.val_fraction, c.val_fraction},
                                        std::make_shared<xg::Generator>(c.split_seed));
    if (parts[0]->size() == 0 || parts[1]->size() == 0)
      throw xg::ValueError("--val-fraction " + std::to_string(c.val_fraction) + " of " +
                           std::to_string(train->size()) + " training examples leaves an empty " +
                           (parts[1]->size() == 0 ? "validation" : "training") + " set");
    d.train = parts[0];
    d.val = parts[1];
  }
  return d;
}

// What is trained and how: the model, its optimizer and the learning-rate schedule.
struct Training {
  xg::Plan plan;  // --capture: the step, captured on the first full batch
  std::shared_ptr<xg::nn::Module> model;
  std::unique_ptr<xg::optim::Optimizer> opt;
  std::unique_ptr<xg::optim::LRScheduler> sched;
  bool per_batch_schedule = false;  // onecycle: stepped after each optimizer step, not each epoch
#if XGRAD_HAS_MPI
  std::unique_ptr<xg::dist::DistributedDataParallel> ddp;  // --distributed
#endif
  xg::Tensor forward(const xg::Tensor& x) {
#if XGRAD_HAS_MPI
    if (ddp) return (*ddp)(x);
#endif
    return model->forward(x);
  }
  // After backward: the gradients averaged over the ranks.
  void sync() {
#if XGRAD_HAS_MPI
    if (ddp) ddp->finish();
#endif
  }
};

Training make_training(const Config& c, int64_t steps_per_epoch) {
  Training t;
  t.model = make_model(c.model);
  t.opt = make_optimizer(c, t.model->parameters());
  if (c.schedule == "onecycle") {
    // Warm-up from lr/25 to lr over the first 30% of the steps, cosine down to lr/25e4 (PyTorch's
    // defaults), momentum (Adam's beta1) the other way between 0.85 and 0.95.
    t.sched = std::make_unique<xg::optim::OneCycleLR>(
        *t.opt, xg::optim::OneCycleLROptions{.max_lr = c.lr, .total_steps = c.epochs * steps_per_epoch});
    t.per_batch_schedule = true;
  } else {
    // The learning rate follows a cosine from lr down to 0 over the run (stepped once per epoch).
    t.sched = std::make_unique<xg::optim::CosineAnnealingLR>(
        *t.opt, xg::optim::CosineAnnealingLROptions{.T_max = c.epochs});
  }
  return t;
}

// With --resume: the checkpoint's state and history; returns the epoch it reached (0 without).
int resume(const Config& c, Training& t, std::vector<EpochRecord>& history, Best& best) {
  if (c.resume.empty()) return 0;
  const int start = load_checkpoint(c.resume, c, *t.model, *t.opt, *t.sched, history, best);
  std::printf("resumed from %s after epoch %d\n", c.resume.c_str(), start);
  return start;
}

// Time to accuracy (--target-accuracy): one JSON line, as the bench workloads print, when the
// test accuracy first reaches the target (seconds of training only, evaluations excluded), or
// at the end with "reached":false.
void report_target(const Config& c, bool reached, double seconds, double epochs, int64_t steps, double acc) {
  std::printf(
      "{\"impl\":\"xgrad\",\"workload\":\"fashion_%s_tta\",\"model\":\"%s\",\"target\":%g,\"reached\":%s,"
      "\"seconds\":%.3f,\"epochs\":%g,\"steps\":%ld,\"test_accuracy\":%.4f,\"eval_every\":%ld,\"threads\":%d,"
      "\"xg_threads\":%d}\n",
      c.model.c_str(), c.model.c_str(), c.target_accuracy, reached ? "true" : "false", seconds, epochs,
      static_cast<long>(steps), acc, static_cast<long>(c.eval_every), c.threads, xg::get_num_threads());
  std::fflush(stdout);
}

struct EpochResult {
  bool target_reached = false;  // by an evaluation within the epoch (reported; the run ends)
  double loss_sum = 0;          // the training loss summed over the examples
  int64_t seen = 0;             // examples trained on
  double seconds = 0;           // of training, evaluations within the epoch excluded
  int64_t steps = 0;
  std::string comm;         // --distributed: the epoch's communication timings (DDPStats::str)
  double wait_seconds = 0;  // --distributed: waiting for the gradient allreduce after backward
};

// One pass over the shuffled training set, one optimizer step per batch, with a progress bar.
// With --target-accuracy and --eval-every N, also evaluates every N steps (not after the last)
// and stops at the first evaluation that reaches the target. `trained_before`: seconds of
// training of the earlier epochs.
EpochResult train_one_epoch(const Config& c, Training& t, xg::data::DataLoader& loader, const Data& data,
                            int epoch, double trained_before, bool tty) {
  const int64_t batches_per_epoch = loader.num_batches();
  loader.set_epoch(epoch);
  t.model->train();
  const int64_t ranks = world_size();
  ProgressBar bar(epoch, c.epochs, loader.num_examples() * ranks, tty);
  const auto t0 = Clock::now();
  EpochResult r;
  double paused = 0;  // seconds spent in mid-epoch evaluations
  int64_t step = 0;
  for (const auto& b : loader) {
    auto eager_step = [&](const xg::Tensor& x, const xg::Tensor& y) {
      t.opt->zero_grad();
      xg::Tensor l = F::cross_entropy(t.forward(x), y, {.label_smoothing = c.label_smoothing});
      l.backward();
      t.sync();
      t.opt->step();
      return l;
    };
    xg::Tensor loss;
    const bool full = b.data.size(0) == loader.options().batch_size;
    if (c.capture && full && t.plan.defined())
      loss = t.plan.replay(b.data, b.target);
    else if (c.capture && full)
      loss = (t.plan = xg::capture(eager_step, b.data, b.target)).output();
    else
      loss = eager_step(b.data, b.target);
    if (t.per_batch_schedule) t.sched->step();
    const int64_t n = b.data.size(0);
    r.loss_sum += loss.item() * static_cast<double>(n);
    r.seen += n;
    ++step;
    if (c.target_accuracy > 0 && c.eval_every > 0 && step % c.eval_every == 0 && step < batches_per_epoch) {
      const auto e0 = Clock::now();
      const double trained = trained_before + std::chrono::duration<double>(e0 - t0).count() - paused;
      const double acc = evaluate(*t.model, data.test).second;  // a benchmark: no validation split
      const double epochs = (epoch - 1) + static_cast<double>(step) / static_cast<double>(batches_per_epoch);
      std::printf("  epoch %.2f  test acc %.4f  (%.2f s of training)\n", epochs, acc, trained);
      if (acc >= c.target_accuracy) {
        bar.finish();
        report_target(c, true, trained, epochs, (epoch - 1) * batches_per_epoch + step, acc);
        r.target_reached = true;
        return r;
      }
      paused += std::chrono::duration<double>(Clock::now() - e0).count();
    }
    bar.update(r.seen * ranks, r.loss_sum / static_cast<double>(r.seen),
               std::chrono::duration<double>(Clock::now() - t0).count() - paused);
  }
  bar.finish();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count() - paused;
  r.steps = step;
#if XGRAD_HAS_MPI
  if (t.ddp) {
    r.wait_seconds = t.ddp->stats().total_wait;
    r.comm = t.ddp->stats().str();
    t.ddp->reset_stats();
  }
  if (t.ddp) {  // the epoch's loss over every rank's examples
    xg::Tensor totals = xg::tensor({r.loss_sum, static_cast<double>(r.seen)}, {.dtype = xg::Dtype::float64});
    xg::dist::all_reduce(totals);
    r.loss_sum = totals.at({0});
    r.seen = static_cast<int64_t>(totals.at({1}));
  }
#endif
  return r;
}

// The validation (or test) loss and accuracy after an epoch, as a record of the history, printed.
EpochRecord evaluate_epoch(const Config& c, const Training& t, const Data& data, int epoch,
                           const EpochResult& r) {
  if (c.distributed && r.steps > 0)
    std::printf("  %d rank%s: %.2f ms per step, of which %.2f ms waiting for the gradient allreduce%s%s\n",
                world_size(), world_size() > 1 ? "s" : "", 1e3 * r.seconds / static_cast<double>(r.steps),
                1e3 * r.wait_seconds / static_cast<double>(r.steps), world_size() > 1 ? "; " : "",
                world_size() > 1 ? r.comm.c_str() : "");
  // --distributed: rank 0 evaluates (the replicas are equal); the others go on to the next epoch.
  if (world_rank() != 0) return {epoch, r.loss_sum / static_cast<double>(r.seen), 0, 0, r.seconds};
  auto [eval_loss, eval_acc] = evaluate(*t.model, data.eval());
  const EpochRecord rec{epoch, r.loss_sum / static_cast<double>(r.seen), eval_loss, eval_acc, r.seconds};
  const char* e = data.val ? "val" : "test";
  std::printf("epoch %2d/%d  train loss %.4f  %s loss %.4f  %s acc %.4f  (%.1f s of training, %.0f ex/s)\n",
              epoch, c.epochs, rec.train_loss, e, eval_loss, e, eval_acc, r.seconds,
              static_cast<double>(r.seen) / r.seconds);
  std::fflush(stdout);
  return rec;
}

// Where a run writes its curves (the checkpoint goes to c.checkpoint), and their title.
struct Outputs {
  std::string dir, csv, svg, title;
};

Outputs outputs(const Config& c, const std::string& dir) {
  return {dir, dir + "/curves.csv", dir + "/curves.svg", "xgrad-train " + c.model + " on Fashion-MNIST"};
}

// After each epoch: the checkpoint to resume from, and the curves so far.
void write_epoch_outputs(const Config& c, const Outputs& out, int epoch, const Training& t, const Data& data,
                         const std::vector<EpochRecord>& history, const Best& best) {
  save_checkpoint(c.checkpoint, c, epoch, *t.model, *t.opt, *t.sched, history, best);
  write_csv(out.csv, history, data.eval_name());
  write_svg(out.svg, history, out.title, data.eval_name());
}

// At the end of the run: with a validation split, the best epoch's model measured once on the test
// set (and left in the model); the PNG of the curves (with gnuplot) and where everything is.
void write_summary(const Config& c, const Outputs& out, Training& t, const Data& data,
                   const std::vector<EpochRecord>& history, const Best& best, int start,
                   double total_seconds) {
  if (history.empty()) {
    std::printf("nothing to do: the checkpoint already reached epoch %d of %d\n", start, c.epochs);
    return;
  }
  const std::string png = write_png(out.csv, out.dir + "/curves.png", out.title, data.eval_name());
  double test_acc = history.back().eval_acc;
  if (data.val && best.epoch > 0) {
    t.model->load_state_dict(best.state);
    test_acc = evaluate(*t.model, data.test).second;
  }
  std::printf("test accuracy %.4f after %d epochs (%s of training: %.2f minutes, %.1f s per epoch)\n",
              test_acc, history.back().epoch, fmt_time(total_seconds).c_str(), total_seconds / 60,
              total_seconds / static_cast<double>(history.size()));
  if (data.val && best.epoch > 0)
    std::printf(
        "the model of epoch %d, chosen on the validation split (val acc %.4f on %ld examples); the test "
        "set read once\n",
        best.epoch, best.acc, static_cast<long>(data.val->size()));
  std::printf("curves: %s and %s%s%s\ncheckpoint: %s\n", out.csv.c_str(), out.svg.c_str(),
              png.empty() ? "" : " and ", png.c_str(), c.checkpoint.c_str());
}

int run(Config c) {
  const bool tty = ::isatty(2) && !c.quiet;
  const std::string dir = prepare(c);
  const Outputs out = outputs(c, dir);
  const Data data = load_data(c);
  xg::data::DataLoaderOptions lo{.batch_size = c.batch_size, .shuffle = true, .seed = c.seed};
#if XGRAD_HAS_MPI
  if (c.distributed) {
    // Each rank: its shard of every epoch (the same shuffle everywhere, from --seed) in batches of
    // batch_size / ranks.
    const int ranks = world_size();
    lo.batch_size = c.batch_size / ranks;
    lo.sampler =
        std::make_shared<xg::data::DistributedSampler>(data.train->size(), ranks, world_rank(), true, c.seed);
  }
#endif
  xg::data::DataLoader loader(data.train, lo, make_transforms(c));
  Training t = make_training(c, loader.num_batches());
  std::vector<EpochRecord> history;
  Best best;
  const int start = resume(c, t, history, best);
  std::printf(
      "training %s on %ld examples (validation %ld, test %ld), %d epochs, batch %ld, %s lr %g (%s), "
      "weight decay %g, label smoothing %g, augment %s, %d threads, seed %lu\n",
      c.model.c_str(), static_cast<long>(data.train->size()),
      static_cast<long>(data.val ? data.val->size() : 0), static_cast<long>(data.test->size()), c.epochs,
      static_cast<long>(c.batch_size), c.optimizer.c_str(), c.lr, c.schedule.c_str(), c.weight_decay,
      c.label_smoothing, c.augment.c_str(), c.threads, static_cast<unsigned long>(c.seed));
#if XGRAD_HAS_MPI
  if (c.distributed) {
    // The model's replicas start from rank 0's (resumed or fresh) state.
    const int ranks = world_size();
    if (c.sync_bn) xg::nn::convert_sync_batchnorm(t.model);
    t.ddp = std::make_unique<xg::dist::DistributedDataParallel>(
        t.model, xg::dist::DDPOptions{.bucket_cap_mb = c.bucket_mb});
    std::printf("distributed: %d ranks, %ld examples per rank per step, %d threads each%s\n", ranks,
                static_cast<long>(lo.batch_size), c.threads, c.sync_bn ? ", SyncBatchNorm" : "");
  }
#endif
  double total_seconds = 0;
  for (const auto& r : history) total_seconds += r.seconds;
  for (int epoch = start + 1; epoch <= c.epochs; ++epoch) {
    const EpochResult r = train_one_epoch(c, t, loader, data, epoch, total_seconds, tty);
    if (r.target_reached) return 0;
    history.push_back(evaluate_epoch(c, t, data, epoch, r));
    total_seconds += r.seconds;
    if (data.val && world_rank() == 0) best.offer(epoch, history.back().eval_acc, *t.model);
    const double test_acc = history.back().eval_acc;  // with a target, on the test set
    if (c.target_accuracy > 0 && (test_acc >= c.target_accuracy || epoch == c.epochs)) {
      report_target(c, test_acc >= c.target_accuracy, total_seconds, epoch, epoch * loader.num_batches(),
                    test_acc);
      return 0;
    }
    if (!t.per_batch_schedule) t.sched->step();
    if (world_rank() == 0) write_epoch_outputs(c, out, epoch, t, data, history, best);
    if (epoch == c.stop_after && epoch < c.epochs) {
      std::printf("stopped after epoch %d as asked; continue with --resume %s\n", epoch,
                  c.checkpoint.c_str());
      return 0;
    }
  }
  if (world_rank() == 0) write_summary(c, out, t, data, history, best, start, total_seconds);
  return 0;
}

#if XGRAD_HAS_MPI
// --distributed: checks what the ranks must agree on, and leaves printing to rank 0.
void prepare_distributed(const Config& c) {
  if (c.target_accuracy > 0)
    throw xg::ValueError("--target-accuracy is not supported with --distributed (rank 0 alone evaluates)");
  const int ranks = world_size();
  if (c.batch_size > 0 ? c.batch_size % ranks != 0 : (128) % ranks != 0)
    throw xg::ValueError("--batch-size must be a multiple of the " + std::to_string(ranks) + " ranks");
  if (world_rank() != 0 && !std::freopen("/dev/null", "w", stdout))
    throw xg::IOError("cannot silence stdout on rank " + std::to_string(world_rank()));
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xgrad-train: train an MLP or a CNN on Fashion-MNIST with xgrad"};
  Config c;
  add_options(app, c);
  CLI11_PARSE(app, argc, argv);
#if XGRAD_HAS_MPI
  std::optional<xg::dist::Environment> env;
#endif
  try {
    if (c.sync_bn && !c.distributed) throw xg::ValueError("--sync-bn needs --distributed");
    if (c.capture && c.distributed) throw xg::ValueError("--capture is not supported with --distributed");
    if (c.distributed) {
#if XGRAD_HAS_MPI
      env.emplace(&argc, &argv);
      prepare_distributed(c);
#else
      throw xg::ValueError(
          "--distributed: this xgrad-train was built without MPI (install libopenmpi-dev, "
          "then reconfigure: docs/distributed.md)");
#endif
    }
    return run(c);
  } catch (const xg::Error& e) {
    std::fprintf(stderr, "xgrad-train%s: %s\n",
                 world_size() > 1 ? (" (rank " + std::to_string(world_rank()) + ")").c_str() : "", e.what());
#if XGRAD_HAS_MPI
    // The other ranks may be waiting for this one in a collective: end the whole job.
    if (env && world_size() > 1) xg::dist::abort(1);
#endif
    return 1;
  }
}
