#pragma once
/// @file gradient_flow.hpp
/// @brief Gradient flow made visible: a recorder attached to a model's layers through module
/// hooks that keeps, per layer and per training step, the statistics of its output (mean, std,
/// fraction of zeros, fraction saturated) and the norms of the gradients of its output and of its
/// parameters; written as CSV and drawn through gnuplot (SVG or PNG).
///
/// @code
/// xg::nn::GradientFlow flow(model, {.types = {"Linear"}});
/// for (int step = 0; step < 100; ++step) {
///   opt.zero_grad();
///   loss_fn(model(x), y).backward();  // model(x), not model.forward(x): hooks run through operator()
///   flow.step();                      // after backward, before zero_grad: one row per layer
///   opt.step();
/// }
/// flow.write_csv("flow.csv");
/// flow.plot("flow.svg");
/// @endcode
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/nn/module.hpp"

namespace xg::nn {

/// One layer at one step.
struct LayerFlow {
  int64_t step = 0;   ///< 0-based: the number of step() calls before this one
  std::string layer;  ///< its name in named_modules() ("net.0")
  std::string type;   ///< its type name ("Linear")
  /// Of the layer's output in the step's last forward under grad mode (NaN when none ran):
  double mean = 0, std = 0;  ///< std unbiased, as Tensor.std()
  double zero_fraction = 0;  ///< elements exactly 0 (dead ReLUs)
  /// Elements where the activation is flat: Sigmoid outputs below 0.01 or above 0.99, Tanh's
  /// beyond +-0.99 (as configured); NaN for a layer of another type.
  double saturated_fraction = 0;
  /// L2 norm of the gradient of the loss with respect to the layer's output (0 when none reached it).
  double grad_output_norm = 0;
  /// L2 norm of the gradients of the layer's own parameters, all together (0 when none has a gradient).
  double param_grad_norm = 0;
};

struct GradientFlowOptions {
  /// The type names of the modules followed (e.g. {"Linear"}); empty: every module without children.
  std::vector<std::string> types;
  double saturation = 0.99;  ///< Sigmoid: y <= 1 - s or y >= s; Tanh: |y| >= s
};

/// Attaches a forward and a full backward hook to each chosen module of `model`; the destructor
/// (or detach()) removes them. The model must outlive the recorder and be called through
/// operator() (Sequential does so for its layers).
class GradientFlow {
 public:
  explicit GradientFlow(Module& model, GradientFlowOptions options = {});
  ~GradientFlow();
  GradientFlow(const GradientFlow&) = delete;
  GradientFlow& operator=(const GradientFlow&) = delete;

  /// Closes one training step: appends one LayerFlow per followed layer, with the parameters'
  /// gradient norms as they are now (call it after backward and before zero_grad), and clears
  /// what the hooks saw for the next step.
  void step();
  /// Removes the hooks (the records stay).
  void detach();

  const std::vector<LayerFlow>& records() const { return records_; }
  /// The followed layers' names, in named_modules() order.
  std::vector<std::string> layers() const;
  /// The records of one layer, in step order (IndexError for a name not followed).
  std::vector<LayerFlow> layer(const std::string& name) const;

  /// step,layer,type,mean,std,zero_fraction,saturated_fraction,grad_output_norm,param_grad_norm
  void write_csv(const std::string& path) const;
  /// Draws `column` (a numeric column of write_csv's) against the step, one line per layer, on a
  /// log scale for norms, with gnuplot: an SVG or PNG chosen by the extension of `path`. Writes the
  /// CSV next to it (path + ".csv", layer by layer). Returns false when gnuplot is not installed (nothing
  /// drawn); IOError when gnuplot fails; ValueError for an unknown column or extension.
  bool plot(const std::string& path, const std::string& column = "param_grad_norm",
            const std::string& title = "") const;

 private:
  struct Layer;
  std::vector<std::shared_ptr<Layer>> layers_;  // shared with the hooks
  std::vector<LayerFlow> records_;
  GradientFlowOptions options_;
  int64_t steps_ = 0;
};

/// True when gnuplot can be run (GradientFlow::plot and the examples draw through it).
bool gnuplot_available();

}  // namespace xg::nn
