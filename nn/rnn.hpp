#pragma once
/// @file rnn.hpp
/// @brief Recurrent layers as PyTorch's: the cells RNNCell, LSTMCell, GRUCell (one step) and the
/// multi-layer, optionally bidirectional RNN, LSTM, GRU over a whole sequence. Everything is
/// composed of xg ops; gradients through time are derived by autograd.
///
/// Weight layouts and names are PyTorch's, so state dicts port one to one. With G gates
/// (RNN 1, LSTM 4, GRU 3) and hidden size H:
///   weight_ih [G H, in], weight_hh [G H, H], bias_ih [G H], bias_hh [G H]
/// (the sequence modules suffix them _l0, _l1, ... per layer and _reverse for the backward
/// direction). Gates are stacked in PyTorch's order: LSTM (i, f, g, o), GRU (r, z, n).
/// Every parameter starts uniform in [-1/sqrt(H), 1/sqrt(H)], as PyTorch.
///
/// LSTM with proj_size P > 0 (PyTorch's projections): h' = W_hr (o tanh(c')) with weight_hr
/// [P, H] (after the biases in each layer's parameters), so h has P features, c keeps H;
/// weight_hh is [4 H, P] and the layers above the first read P D features.
///
/// Variable-length batches: forward also takes a PackedSequence (nn/packed_sequence.hpp) and
/// returns one; each step runs on the sequences still going, and h_n, c_n hold each sequence's
/// state at its own last step (reverse direction: its first), in the original batch order.
///
/// The formulas, with W x meaning x W^T (computed as matmul_t(x, W, false, true), no copies):
///   RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh or relu
///   LSTM: i = σ(..i), f = σ(..f), g = tanh(..g), o = σ(..o)   (each W_i* x + b_i* + W_h* h + b_h*)
///         c' = f c + i g,   h' = o tanh(c')
///   GRU:  r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
///         n = tanh(W_in x + b_in + r (W_hn h + b_hn)),   h' = (1 - z) n + z h
///
/// @code
/// xg::nn::LSTM lstm({.input_size = 10, .hidden_size = 20, .num_layers = 2});
/// xg::nn::LSTMOutput out = lstm.forward(xg::randn({5, 3, 10}));   // [T, B, in]
/// // out.output [5, 3, 20], out.h_n and out.c_n [2, 3, 20]
/// @endcode
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor/generator.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/packed_sequence.hpp"

namespace xg::nn {

/// The nonlinearity of RNNCell and RNN.
enum class RNNActivation { tanh, relu };

/// Options of the cells.
struct RNNCellOptions {
  bool bias = true;                                  ///< with bias_ih and bias_hh
  RNNActivation nonlinearity = RNNActivation::tanh;  ///< RNNCell only (LSTM/GRU cells: tanh)
};

/// @brief What the cells share: sizes, options, the parameters
/// weight_ih [G H, in], weight_hh [G H, H], bias_ih [G H], bias_hh [G H] (G gates).
class RNNCellBase : public Module {
 public:
  std::string extra_repr() const override;
  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  const RNNCellOptions& options() const { return options_; }
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  ///< bias_* undefined without bias

 protected:
  RNNCellBase(std::string type_name, int64_t input_size, int64_t hidden_size, RNNCellOptions options,
              int64_t gates);

 private:
  int64_t input_size_, hidden_size_;
  RNNCellOptions options_;
};

/// @brief One step of an Elman RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh).
/// x [B, in] or [in] (unbatched), h [B, H] or [H]; undefined h means zeros. Returns h'.
class RNNCell : public RNNCellBase {
 public:
  RNNCell(int64_t input_size, int64_t hidden_size, RNNCellOptions options = {});
  Tensor forward(const Tensor& x) override;  ///< from a zero hidden state
  Tensor forward(const Tensor& x, const Tensor& h);

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<RNNCell>(input_size(), hidden_size(), options());
  }
};

/// The (h, c) state of an LSTM; an undefined tensor means zeros.
struct LSTMState {
  Tensor h, c;
};

/// @brief One LSTM step (gate order i, f, g, o). x [B, in] or [in]; state h, c [B, H] or [H].
/// Parameters [4H, in], [4H, H], [4H], [4H].
class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, RNNCellOptions options = {});
  /// h' from a zero state (for Sequential); forward(x, state) returns both h' and c'.
  Tensor forward(const Tensor& x) override;
  LSTMState forward(const Tensor& x, const LSTMState& state);

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<LSTMCell>(input_size(), hidden_size(), options());
  }
};

/// @brief One GRU step (gate order r, z, n), PyTorch's formula with r applied to W_hn h + b_hn.
/// x [B, in] or [in], h [B, H] or [H]; undefined h means zeros. Returns h'.
/// Parameters [3H, in], [3H, H], [3H], [3H].
class GRUCell : public RNNCellBase {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, RNNCellOptions options = {});
  Tensor forward(const Tensor& x) override;  ///< from a zero hidden state
  Tensor forward(const Tensor& x, const Tensor& h);

 protected:
  ModulePtr clone_empty() const override {
    return std::make_shared<GRUCell>(input_size(), hidden_size(), options());
  }
};

/// Options of RNN, LSTM and GRU (PyTorch's names and defaults).
struct RNNOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  RNNActivation nonlinearity = RNNActivation::tanh;  ///< RNN only; LSTM and GRU refuse relu
  bool bias = true;
  bool batch_first = false;    ///< input and output [B, T, features] instead of [T, B, features]
  double dropout = 0.0;        ///< dropout on the outputs of every layer but the last, in training
  bool bidirectional = false;  ///< a second pass from the end; outputs concatenated: 2 H features
  int64_t proj_size = 0;       ///< LSTM only: h projected to proj_size < hidden_size features
  /// The dropout's masks; null: the default generator. A clone shares it.
  std::shared_ptr<Generator> generator = nullptr;
};

/// What RNN and GRU return.
struct RNNOutput {
  Tensor output;  ///< [T, B, D H] ([B, T, D H] with batch_first; [T, D H] unbatched), D = 2 if bidirectional
  Tensor
      h_n;  ///< [num_layers D, B, H] ([num_layers D, H] unbatched): the last step of each layer and direction
};
/// What LSTM returns.
struct LSTMOutput {
  Tensor output, h_n, c_n;  ///< as RNNOutput; c_n is the final cell state [num_layers D, B, H]
};
/// What RNN and GRU return for a packed input: the packed output (same batch_sizes and indices
/// as the input) and h_n [num_layers D, B, H] in the original batch order.
struct PackedRNNOutput {
  PackedSequence output;
  Tensor h_n;
};
/// What LSTM returns for a packed input.
struct PackedLSTMOutput {
  PackedSequence output;
  Tensor h_n, c_n;
};

/// @brief What RNN, LSTM and GRU share: the parameters of every layer and direction and the loop
/// over layers, directions and time.
class RNNBase : public Module {
 public:
  std::string extra_repr() const override;
  const RNNOptions& options() const { return options_; }
  /// The parameters of one layer and direction, in PyTorch's order: w_ih, w_hh[, b_ih, b_hh][, w_hr].
  std::vector<Tensor> layer_parameters(int64_t layer, bool reverse = false) const;

 protected:
  enum class Kind { rnn, lstm, gru };
  RNNBase(std::string type_name, Kind kind, RNNOptions options);
  /// Runs the stack over x. h0, c0 may be undefined (zeros). c_n is set for the LSTM only.
  LSTMOutput run(const Tensor& x, const Tensor& h0, const Tensor& c0);
  /// As run over a packed batch; h0, c0 in the original batch order.
  PackedLSTMOutput run_packed(const PackedSequence& x, const Tensor& h0, const Tensor& c0);

 private:
  struct Steps;
  /// The loop over layers, directions and time: step t holds batch_sizes[t] rows (the first
  /// ones of the previous step); h0, c0 [num_layers D, B, *] or undefined.
  void run_steps(Steps& s, const Tensor& h0, const Tensor& c0);
  /// Checks an initial state against [num_layers D, batch, features].
  Tensor check_state(const Tensor& s, const char* what, int64_t batch, int64_t features, bool unbatched,
                     const Shape& input_shape) const;
  Kind kind_;
  RNNOptions options_;
  std::vector<std::vector<Tensor>> weights_;  ///< per layer and direction (layer * D + direction)
};

/// @brief Elman RNN (tanh or relu) over a sequence: x [T, B, in] ([B, T, in] with batch_first,
/// [T, in] unbatched); h0 [num_layers D, B, H] or undefined (zeros).
class RNN : public RNNBase {
 public:
  explicit RNN(RNNOptions options);
  RNN(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1)
      : RNN(RNNOptions{.input_size = input_size, .hidden_size = hidden_size, .num_layers = num_layers}) {}
  Tensor forward(const Tensor& x) override;  ///< the output sequence only
  RNNOutput forward(const Tensor& x, const Tensor& h0);
  /// A packed batch; h0 [num_layers D, B, H] in the original batch order, or undefined.
  PackedRNNOutput forward(const PackedSequence& x, const Tensor& h0 = Tensor());

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<RNN>(options()); }
};

/// @brief LSTM over a sequence; as RNN with a cell state: h0 [num_layers D, B, P or H], c0
/// [num_layers D, B, H] or undefined. The output has D P features with proj_size P > 0.
class LSTM : public RNNBase {
 public:
  explicit LSTM(RNNOptions options);
  LSTM(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1)
      : LSTM(RNNOptions{.input_size = input_size, .hidden_size = hidden_size, .num_layers = num_layers}) {}
  Tensor forward(const Tensor& x) override;  ///< the output sequence only
  LSTMOutput forward(const Tensor& x, const LSTMState& state);
  /// A packed batch; the state [num_layers D, B, P or H] and [num_layers D, B, H] in the
  /// original batch order, or undefined.
  PackedLSTMOutput forward(const PackedSequence& x, const LSTMState& state = {});

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<LSTM>(options()); }
};

/// @brief GRU over a sequence; as RNN.
class GRU : public RNNBase {
 public:
  explicit GRU(RNNOptions options);
  GRU(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1)
      : GRU(RNNOptions{.input_size = input_size, .hidden_size = hidden_size, .num_layers = num_layers}) {}
  Tensor forward(const Tensor& x) override;  ///< the output sequence only
  RNNOutput forward(const Tensor& x, const Tensor& h0);
  PackedRNNOutput forward(const PackedSequence& x, const Tensor& h0 = Tensor());  ///< as RNN's

 protected:
  ModulePtr clone_empty() const override { return std::make_shared<GRU>(options()); }
};

}  // namespace xg::nn
