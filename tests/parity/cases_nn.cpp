// Parity cases for the layers and losses of nn/: each builds an xgrad module, sets its parameters
// to fixed values, runs forward on fixed float64 inputs and backward with a fixed cotangent, and
// records the outputs, the gradients of the inputs and of every parameter (under PyTorch's
// names), and the buffers after the forward (BatchNorm's running statistics). run_parity.py
// builds the PyTorch module from `torch`, loads the same parameters and buffers (strictly: the
// names must agree), evaluates `call` and compares. Adding a case is one entry of the table.
#include <cmath>
#include <functional>
#include <memory>
#include <type_traits>

#include "parity.hpp"
#include "xgrad/nn.hpp"

namespace parity {
namespace {

using xg::Tensor;
namespace nn = xg::nn;
using Inputs = std::vector<Tensor>;
using Run = std::function<std::vector<Tensor>(nn::Module&, const Inputs&)>;

struct ModuleCase {
  const char* group;  ///< "layer", "loss" or "function"
  std::string name;
  std::string torch;  ///< Python: builds the PyTorch module
  Inputs inputs;
  std::function<nn::ModulePtr()> make;
  Run run = {};                  ///< the outputs; default {m.forward(x0)}
  std::string call = "m(x0)";    ///< Python: the output(s) over m and x0, x1, ... (tuples flattened)
  bool eval = false;             ///< run in evaluation mode
  bool keep_parameters = false;  ///< keep the initial values (loss weights are given, not drawn)
};

template <class M, class... A>
nn::ModulePtr mk(A&&... a) {
  return std::make_shared<M>(std::forward<A>(a)...);
}
template <class M>
Run two() {
  return [](nn::Module& m, const Inputs& in) {
    return std::vector<Tensor>{dynamic_cast<M&>(m).forward(in[0], in[1])};
  };
}
template <class M>
Run three() {
  return [](nn::Module& m, const Inputs& in) {
    return std::vector<Tensor>{dynamic_cast<M&>(m).forward(in[0], in[1], in[2])};
  };
}
Run loss() {
  return two<nn::Loss>();
}
template <class M>
Run rnn_run() {
  return [](nn::Module& m, const Inputs& in) {
    nn::RNNOutput o = dynamic_cast<M&>(m).forward(in[0], in[1]);
    return std::vector<Tensor>{o.output, o.h_n};
  };
}
Run lstm_run() {
  return [](nn::Module& m, const Inputs& in) {
    nn::LSTMOutput o = dynamic_cast<nn::LSTM&>(m).forward(in[0], {in[1], in[2]});
    return std::vector<Tensor>{o.output, o.h_n, o.c_n};
  };
}
// A packed run: x0 [T, B, in] packed with the lengths x<last> (enforce_sorted false), the
// initial state from x1 (and x2 for the LSTM); outputs the packed data (or, with padded, the
// output padded back batch_first with 0.5) and the final states.
template <class M>
Run packed_run(bool padded = false) {
  return [padded](nn::Module& m, const Inputs& in) {
    const bool lstm = std::is_same_v<M, nn::LSTM>;
    const Tensor& lengths = in.back();
    nn::PackedSequence p = nn::pack_padded_sequence(in[0], lengths, false, false);
    auto out = [&](const nn::PackedSequence& o) {
      return padded ? nn::pad_packed_sequence(o, true, 0.5).output : o.data;
    };
    if constexpr (lstm) {
      nn::PackedLSTMOutput o = dynamic_cast<nn::LSTM&>(m).forward(p, {in[1], in[2]});
      return std::vector<Tensor>{out(o.output), o.h_n, o.c_n};
    } else {
      nn::PackedRNNOutput o = dynamic_cast<M&>(m).forward(p, in[1]);
      return std::vector<Tensor>{out(o.output), o.h_n};
    }
  };
}
const char* const kPackedCall =
    "(lambda o: (o[0].data, o[1]))(m(torch.nn.utils.rnn.pack_padded_sequence(x0, x2, enforce_sorted=False), "
    "x1))";
const char* const kPackedLstmCall =
    "(lambda o: (o[0].data, o[1]))(m(torch.nn.utils.rnn.pack_padded_sequence(x0, x3, enforce_sorted=False), "
    "(x1, x2)))";
Run mha_run(nn::MultiheadAttentionArgs args) {
  return [args](nn::Module& m, const Inputs& in) {
    nn::MultiheadAttentionArgs a = args;
    if (in.size() > 3) a.attn_mask = in[3];
    if (in.size() > 4) a.key_padding_mask = in[4];
    auto o = dynamic_cast<nn::MultiheadAttention&>(m).forward(in[0], in[1], in[2], a);
    return std::vector<Tensor>{o.output, o.attn_weights};
  };
}
// Transformer layers and stacks: in[0] the sequence (src or tgt), then (decoder) in[1] the memory,
// then the masks of the case's argument struct, taken from the inputs named in `slots`.
Run encoder_run(nn::TransformerEncoderArgs args,
                std::vector<Tensor nn::TransformerEncoderArgs::*> slots = {}) {
  return [args, slots](nn::Module& m, const Inputs& in) {
    nn::TransformerEncoderArgs a = args;
    for (std::size_t i = 0; i < slots.size(); ++i) a.*slots[i] = in[1 + i];
    if (auto* layer = dynamic_cast<nn::TransformerEncoderLayer*>(&m))
      return std::vector<Tensor>{layer->forward(in[0], a)};
    return std::vector<Tensor>{dynamic_cast<nn::TransformerEncoder&>(m).forward(in[0], a)};
  };
}
Run decoder_run(nn::TransformerDecoderArgs args,
                std::vector<Tensor nn::TransformerDecoderArgs::*> slots = {}) {
  return [args, slots](nn::Module& m, const Inputs& in) {
    nn::TransformerDecoderArgs a = args;
    for (std::size_t i = 0; i < slots.size(); ++i) a.*slots[i] = in[2 + i];
    if (auto* layer = dynamic_cast<nn::TransformerDecoderLayer*>(&m))
      return std::vector<Tensor>{layer->forward(in[0], in[1], a)};
    return std::vector<Tensor>{dynamic_cast<nn::TransformerDecoder&>(m).forward(in[0], in[1], a)};
  };
}
Run transformer_run(nn::TransformerArgs args, std::vector<Tensor nn::TransformerArgs::*> slots = {}) {
  return [args, slots](nn::Module& m, const Inputs& in) {
    nn::TransformerArgs a = args;
    for (std::size_t i = 0; i < slots.size(); ++i) a.*slots[i] = in[2 + i];
    return std::vector<Tensor>{dynamic_cast<nn::Transformer&>(m).forward(in[0], in[1], a)};
  };
}
Run ctc_run() {
  return [](nn::Module& m, const Inputs& in) {
    return std::vector<Tensor>{dynamic_cast<nn::CTCLoss&>(m).forward(in[0], in[1], in[2], in[3])};
  };
}
// log-probabilities [T, N, C] (or [T, C]) requiring grad: PyTorch's gradient for them is compared
// as it is (its exp(log_probs) term included).
Tensor LP(const xg::Shape& s, unsigned seed) {
  return xg::log_softmax(values(s, seed), s.rank() - 1).detach().requires_grad_(true);
}
template <class M>
Run with_indices() {
  return [](nn::Module& m, const Inputs& in) {
    auto [v, i] = dynamic_cast<M&>(m).forward_with_indices(in[0]);
    return std::vector<Tensor>{v, i};
  };
}
// A function case: the module is an empty Sequential (no parameters), the run calls the function.
nn::ModulePtr none() {
  return std::make_shared<nn::Sequential>();
}

Tensor X(const xg::Shape& s, unsigned seed, double scale = 1.0) {
  return input(s, seed, scale);
}
Tensor P(const xg::Shape& s, unsigned seed) {  // probabilities in (0, 1), requiring grad
  return uniform(s, seed, 0.05, 0.95).requires_grad_(true);
}
Tensor C(std::vector<double> v, const xg::Shape& s) {  // a constant
  return xg::tensor(v, s, {.dtype = xg::Dtype::float64});
}

std::vector<ModuleCase> cases() {
  using R = nn::Reduction;
  const Tensor ce_probs = xg::softmax(values({5, 4}, 91), 1).requires_grad_(true);
  return {
      // ---- linear and convolution layers
      {"layer", "Linear", "torch.nn.Linear(4, 3)", {X({5, 4}, 1)}, [] { return mk<nn::Linear>(4, 3); }},
      {"layer",
       "Linear no bias, [2, 5, 4]",
       "torch.nn.Linear(4, 3, bias=False)",
       {X({2, 5, 4}, 2)},
       [] { return mk<nn::Linear>(4, 3, false); }},
      {"layer",
       "Linear unbatched [4]",
       "torch.nn.Linear(4, 3)",
       {X({4}, 120)},
       [] { return mk<nn::Linear>(4, 3); }},
      {"layer",
       "Bilinear",
       "torch.nn.Bilinear(3, 2, 4)",
       {X({5, 3}, 3), X({5, 2}, 4)},
       [] { return mk<nn::Bilinear>(3, 2, 4); },
       two<nn::Bilinear>(),
       "m(x0, x1)"},
      {"layer",
       "Conv2d stride 2 padding 1",
       "torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)",
       {X({2, 3, 7, 6}, 5)},
       [] {
         return mk<nn::Conv2d>(nn::Conv2dOptions{
             .in_channels = 3, .out_channels = 4, .kernel_size = 3, .stride = 2, .padding = 1});
       }},
      {"layer",
       "Conv2d (2, 3) dilation (2, 1) groups 2 no bias",
       "torch.nn.Conv2d(4, 6, (2, 3), dilation=(2, 1), groups=2, bias=False)",
       {X({1, 4, 6, 6}, 6)},
       [] {
         return mk<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 4,
                                                 .out_channels = 6,
                                                 .kernel_size = {2, 3},
                                                 .dilation = {2, 1},
                                                 .groups = 2,
                                                 .bias = false});
       }},
      {"layer",
       "Conv2d unbatched [3, 5, 5]",
       "torch.nn.Conv2d(3, 2, 2)",
       {X({3, 5, 5}, 121)},
       [] { return mk<nn::Conv2d>(3, 2, 2); }},
      {"layer",
       "Conv1d stride 2 padding 1",
       "torch.nn.Conv1d(3, 4, 3, stride=2, padding=1)",
       {X({2, 3, 9}, 7)},
       [] {
         return mk<nn::Conv1d>(nn::Conv1dOptions{
             .in_channels = 3, .out_channels = 4, .kernel_size = 3, .stride = 2, .padding = 1});
       }},
      {"layer",
       "Conv1d padding same, dilation 2, even kernel",
       "torch.nn.Conv1d(3, 2, 4, padding='same', dilation=2)",
       {X({2, 3, 9}, 301)},
       [] {
         return mk<nn::Conv1d>(nn::Conv1dOptions{
             .in_channels = 3, .out_channels = 2, .kernel_size = 4, .padding = "same", .dilation = 2});
       }},
      {"layer",
       "Conv1d padding 2 reflect",
       "torch.nn.Conv1d(2, 3, 3, padding=2, padding_mode='reflect')",
       {X({2, 2, 6}, 302)},
       [] {
         return mk<nn::Conv1d>(nn::Conv1dOptions{
             .in_channels = 2, .out_channels = 3, .kernel_size = 3, .padding = 2, .padding_mode = "reflect"});
       }},
      {"layer",
       "Conv2d padding same, kernel (2, 3)",
       "torch.nn.Conv2d(3, 4, (2, 3), padding='same')",
       {X({2, 3, 5, 6}, 303)},
       [] {
         return mk<nn::Conv2d>(nn::Conv2dOptions{
             .in_channels = 3, .out_channels = 4, .kernel_size = {2, 3}, .padding = "same"});
       }},
      {"layer",
       "Conv2d padding same, kernel 4 dilation (1, 2) groups 2",
       "torch.nn.Conv2d(4, 2, 4, padding='same', dilation=(1, 2), groups=2)",
       {X({1, 4, 7, 8}, 304)},
       [] {
         return mk<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 4,
                                                 .out_channels = 2,
                                                 .kernel_size = 4,
                                                 .padding = "same",
                                                 .dilation = {1, 2},
                                                 .groups = 2});
       }},
      {"layer",
       "Conv2d padding valid stride 2",
       "torch.nn.Conv2d(2, 3, 3, stride=2, padding='valid')",
       {X({2, 2, 7, 6}, 305)},
       [] {
         return mk<nn::Conv2d>(nn::Conv2dOptions{
             .in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = 2, .padding = "valid"});
       }},
      {"layer",
       "Conv2d padding (1, 2) reflect",
       "torch.nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode='reflect')",
       {X({2, 2, 5, 6}, 306)},
       [] {
         return mk<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 2,
                                                 .out_channels = 3,
                                                 .kernel_size = 3,
                                                 .padding = {1, 2},
                                                 .padding_mode = "reflect"});
       }},
      {"layer",
       "Conv2d padding 2 replicate stride 2",
       "torch.nn.Conv2d(2, 3, 3, stride=2, padding=2, padding_mode='replicate')",
       {X({2, 2, 5, 5}, 307)},
       [] {
         return mk<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 2,
                                                 .out_channels = 3,
                                                 .kernel_size = 3,
                                                 .stride = 2,
                                                 .padding = 2,
                                                 .padding_mode = "replicate"});
       }},
      {"layer",
       "Conv2d padding 1 circular, no bias",
       "torch.nn.Conv2d(3, 2, 3, padding=1, padding_mode='circular', bias=False)",
       {X({2, 3, 4, 5}, 308)},
       [] {
         return mk<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 3,
                                                 .out_channels = 2,
                                                 .kernel_size = 3,
                                                 .padding = 1,
                                                 .bias = false,
                                                 .padding_mode = "circular"});
       }},
      {"layer",
       "Conv2d padding same circular, kernel 4",
       "torch.nn.Conv2d(2, 2, 4, padding='same', padding_mode='circular')",
       {X({1, 2, 5, 6}, 309)},
       [] {
         return mk<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 2,
                                                 .out_channels = 2,
                                                 .kernel_size = 4,
                                                 .padding = "same",
                                                 .padding_mode = "circular"});
       }},
      {"layer",
       "ConvTranspose2d",
       "torch.nn.ConvTranspose2d(3, 4, 3)",
       {X({2, 3, 4, 5}, 310)},
       [] { return mk<nn::ConvTranspose2d>(3, 4, 3); }},
      {"layer",
       "ConvTranspose2d stride 2 padding 1 output_padding 1",
       "torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)",
       {X({2, 4, 4, 3}, 311)},
       [] {
         return mk<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{.in_channels = 4,
                                                                   .out_channels = 2,
                                                                   .kernel_size = 3,
                                                                   .stride = 2,
                                                                   .padding = 1,
                                                                   .output_padding = 1});
       }},
      {"layer",
       "ConvTranspose2d (2, 3) stride (2, 3) output_padding (1, 2) groups 2 dilation (2, 1) no bias",
       "torch.nn.ConvTranspose2d(4, 6, (2, 3), stride=(2, 3), padding=(0, 1), output_padding=(1, 2), "
       "groups=2, bias=False, dilation=(2, 1))",
       {X({1, 4, 3, 3}, 312)},
       [] {
         return mk<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{.in_channels = 4,
                                                                   .out_channels = 6,
                                                                   .kernel_size = {2, 3},
                                                                   .stride = {2, 3},
                                                                   .padding = {0, 1},
                                                                   .output_padding = {1, 2},
                                                                   .groups = 2,
                                                                   .bias = false,
                                                                   .dilation = {2, 1}});
       }},
      {"layer",
       "ConvTranspose2d output_padding 1 < dilation 2, unbatched",
       "torch.nn.ConvTranspose2d(2, 3, 2, padding=1, output_padding=1, dilation=2)",
       {X({2, 3, 4}, 313)},
       [] {
         return mk<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{.in_channels = 2,
                                                                   .out_channels = 3,
                                                                   .kernel_size = 2,
                                                                   .padding = 1,
                                                                   .output_padding = 1,
                                                                   .dilation = 2});
       }},
      {"layer",
       "ConvTranspose2d stride 2, output_size [9, 8]",
       "torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)",
       {X({2, 2, 5, 4}, 314)},
       [] {
         return mk<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{
             .in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = 2, .padding = 1});
       },
       [](nn::Module& m, const Inputs& in) {
         return std::vector<Tensor>{dynamic_cast<nn::ConvTranspose2d&>(m).forward(in[0], {9, 8})};
       },
       "m(x0, output_size=[9, 8])"},
      {"layer",
       "ConvTranspose1d stride 3 padding 1 output_padding 2 groups 2 dilation 2",
       "torch.nn.ConvTranspose1d(4, 2, 3, stride=3, padding=1, output_padding=2, groups=2, dilation=2)",
       {X({2, 4, 5}, 315)},
       [] {
         return mk<nn::ConvTranspose1d>(nn::ConvTranspose1dOptions{.in_channels = 4,
                                                                   .out_channels = 2,
                                                                   .kernel_size = 3,
                                                                   .stride = 3,
                                                                   .padding = 1,
                                                                   .output_padding = 2,
                                                                   .groups = 2,
                                                                   .dilation = 2});
       }},
      {"layer",
       "ConvTranspose1d, output_size [2, 3, 13]",
       "torch.nn.ConvTranspose1d(2, 3, 4, stride=2)",
       {X({2, 2, 5}, 316)},
       [] {
         return mk<nn::ConvTranspose1d>(
             nn::ConvTranspose1dOptions{.in_channels = 2, .out_channels = 3, .kernel_size = 4, .stride = 2});
       },
       [](nn::Module& m, const Inputs& in) {
         return std::vector<Tensor>{dynamic_cast<nn::ConvTranspose1d&>(m).forward(in[0], {2, 3, 13})};
       },
       "m(x0, output_size=[2, 3, 13])"},
      // ---- activations
      {"layer", "ReLU", "torch.nn.ReLU()", {X({3, 5}, 8)}, [] { return mk<nn::ReLU>(); }},
      {"layer",
       "LeakyReLU 0.2",
       "torch.nn.LeakyReLU(0.2)",
       {X({3, 5}, 9)},
       [] { return mk<nn::LeakyReLU>(0.2); }},
      {"layer", "ELU 0.5", "torch.nn.ELU(0.5)", {X({3, 5}, 10)}, [] { return mk<nn::ELU>(0.5); }},
      {"layer", "GELU", "torch.nn.GELU()", {X({3, 5}, 11)}, [] { return mk<nn::GELU>(); }},
      {"layer",
       "GELU tanh",
       "torch.nn.GELU(approximate='tanh')",
       {X({3, 5}, 12)},
       [] { return mk<nn::GELU>(nn::GELUOptions{.approximate = "tanh"}); }},
      {"layer", "SiLU", "torch.nn.SiLU()", {X({3, 5}, 13)}, [] { return mk<nn::SiLU>(); }},
      {"layer", "Sigmoid", "torch.nn.Sigmoid()", {X({3, 5}, 14)}, [] { return mk<nn::Sigmoid>(); }},
      {"layer", "Tanh", "torch.nn.Tanh()", {X({3, 5}, 15)}, [] { return mk<nn::Tanh>(); }},
      {"layer", "Softmax dim 1", "torch.nn.Softmax(1)", {X({3, 5}, 16)}, [] { return mk<nn::Softmax>(1); }},
      {"layer",
       "LogSoftmax dim 0",
       "torch.nn.LogSoftmax(0)",
       {X({3, 5}, 17)},
       [] { return mk<nn::LogSoftmax>(0); }},
      {"layer",
       "Softplus beta 2 threshold 5",
       "torch.nn.Softplus(beta=2.0, threshold=5.0)",
       {X({3, 5}, 18, 3.0)},
       [] { return mk<nn::Softplus>(nn::SoftplusOptions{.beta = 2.0, .threshold = 5.0}); }},
      {"layer", "PReLU", "torch.nn.PReLU()", {X({3, 5}, 400)}, [] { return mk<nn::PReLU>(); }},
      {"layer",
       "PReLU 3 channels [2, 3, 4]",
       "torch.nn.PReLU(3)",
       {X({2, 3, 4}, 401)},
       [] { return mk<nn::PReLU>(3); }},
      {"layer", "Mish", "torch.nn.Mish()", {X({3, 5}, 402, 3.0)}, [] { return mk<nn::Mish>(); }},
      {"layer",
       "Hardswish",
       "torch.nn.Hardswish()",
       {X({3, 5}, 403, 4.0)},
       [] { return mk<nn::Hardswish>(); }},
      {"layer",
       "Hardsigmoid",
       "torch.nn.Hardsigmoid()",
       {X({3, 5}, 404, 4.0)},
       [] { return mk<nn::Hardsigmoid>(); }},
      {"layer", "SELU", "torch.nn.SELU()", {X({3, 5}, 405, 2.0)}, [] { return mk<nn::SELU>(); }},
      {"layer", "CELU 0.5", "torch.nn.CELU(0.5)", {X({3, 5}, 406, 2.0)}, [] { return mk<nn::CELU>(0.5); }},
      {"layer", "GLU dim 1", "torch.nn.GLU(1)", {X({3, 4}, 407)}, [] { return mk<nn::GLU>(1); }},
      {"layer", "Softsign", "torch.nn.Softsign()", {X({3, 5}, 408, 2.0)}, [] { return mk<nn::Softsign>(); }},
      {"layer",
       "Tanhshrink",
       "torch.nn.Tanhshrink()",
       {X({3, 5}, 409, 2.0)},
       [] { return mk<nn::Tanhshrink>(); }},
      {"layer",
       "Hardtanh -0.5 2",
       "torch.nn.Hardtanh(-0.5, 2.0)",
       {X({3, 5}, 410, 3.0)},
       [] { return mk<nn::Hardtanh>(-0.5, 2.0); }},
      {"layer", "ReLU6", "torch.nn.ReLU6()", {X({3, 5}, 411, 8.0)}, [] { return mk<nn::ReLU6>(); }},
      {"layer",
       "LogSigmoid",
       "torch.nn.LogSigmoid()",
       {X({3, 5}, 412, 3.0)},
       [] { return mk<nn::LogSigmoid>(); }},
      {"layer", "Softmin dim 1", "torch.nn.Softmin(1)", {X({3, 5}, 413)}, [] { return mk<nn::Softmin>(1); }},
      // ---- dropout, embedding, containers
      {"layer",
       "Dropout eval",
       "torch.nn.Dropout(0.3)",
       {X({3, 5}, 19)},
       [] { return mk<nn::Dropout>(0.3); },
       {},
       "m(x0)",
       true},
      {"layer", "Dropout p=0", "torch.nn.Dropout(0.0)", {X({3, 5}, 20)}, [] { return mk<nn::Dropout>(0.0); }},
      {"layer",
       "Embedding padding_idx 1",
       "torch.nn.Embedding(6, 3, padding_idx=1)",
       {indices({0, 1, 5, 1, 3, 2}, {2, 3})},
       [] {
         return mk<nn::Embedding>(
             nn::EmbeddingOptions{.num_embeddings = 6, .embedding_dim = 3, .padding_idx = 1});
       }},
      {"layer",
       "Sequential Linear Tanh Linear",
       "torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))",
       {X({3, 4}, 21)},
       [] {
         return mk<nn::Sequential>(
             std::vector<nn::ModulePtr>{mk<nn::Linear>(4, 5), mk<nn::Tanh>(), mk<nn::Linear>(5, 2)});
       }},
      // ---- normalisation
      {"layer",
       "BatchNorm1d [N, C]",
       "torch.nn.BatchNorm1d(3)",
       {X({4, 3}, 22)},
       [] { return mk<nn::BatchNorm1d>(3); }},
      {"layer",
       "BatchNorm1d [N, C, L]",
       "torch.nn.BatchNorm1d(3)",
       {X({4, 3, 5}, 23)},
       [] { return mk<nn::BatchNorm1d>(3); }},
      {"layer",
       "BatchNorm2d",
       "torch.nn.BatchNorm2d(3)",
       {X({2, 3, 4, 4}, 24)},
       [] { return mk<nn::BatchNorm2d>(3); }},
      {"layer",
       "BatchNorm2d eval",
       "torch.nn.BatchNorm2d(3)",
       {X({2, 3, 4, 4}, 25)},
       [] { return mk<nn::BatchNorm2d>(3); },
       {},
       "m(x0)",
       true},
      {"layer",
       "BatchNorm2d momentum None",
       "torch.nn.BatchNorm2d(3, momentum=None)",
       {X({2, 3, 3, 3}, 26)},
       [] { return mk<nn::BatchNorm2d>(3, nn::BatchNormOptions{.momentum = std::nullopt}); }},
      {"layer",
       "BatchNorm2d affine=False eps 1e-3",
       "torch.nn.BatchNorm2d(3, eps=1e-3, affine=False)",
       {X({2, 3, 3, 3}, 27)},
       [] { return mk<nn::BatchNorm2d>(3, nn::BatchNormOptions{.eps = 1e-3, .affine = false}); }},
      {"layer",
       "BatchNorm1d track_running_stats=False eval",
       "torch.nn.BatchNorm1d(3, track_running_stats=False)",
       {X({5, 3}, 28)},
       [] { return mk<nn::BatchNorm1d>(3, nn::BatchNormOptions{.track_running_stats = false}); },
       {},
       "m(x0)",
       true},
      {"layer",
       "BatchNorm3d",
       "torch.nn.BatchNorm3d(2)",
       {X({2, 2, 3, 2, 2}, 29)},
       [] { return mk<nn::BatchNorm3d>(2); }},
      {"layer",
       "LayerNorm 4",
       "torch.nn.LayerNorm(4)",
       {X({2, 3, 4}, 30)},
       [] { return mk<nn::LayerNorm>(4); }},
      {"layer",
       "LayerNorm [3, 4] eps 1e-3",
       "torch.nn.LayerNorm([3, 4], eps=1e-3)",
       {X({2, 3, 4}, 31)},
       [] {
         return mk<nn::LayerNorm>(std::vector<int64_t>{3, 4}, nn::LayerNormOptions{.eps = 1e-3});
       }},
      {"layer",
       "LayerNorm no affine",
       "torch.nn.LayerNorm(4, elementwise_affine=False)",
       {X({3, 4}, 32)},
       [] { return mk<nn::LayerNorm>(4, nn::LayerNormOptions{.elementwise_affine = false}); }},
      // PyTorch 1.13's LayerNorm has no bias= argument: its bias is removed instead
      {"layer",
       "LayerNorm bias=False",
       "(lambda m: (setattr(m, 'bias', None), m)[1])(torch.nn.LayerNorm(4))",
       {X({3, 4}, 33)},
       [] { return mk<nn::LayerNorm>(4, nn::LayerNormOptions{.bias = false}); }},
      {"layer",
       "GroupNorm 2 groups of 6",
       "torch.nn.GroupNorm(2, 6)",
       {X({2, 6, 3}, 420)},
       [] { return mk<nn::GroupNorm>(2, 6); }},
      {"layer",
       "GroupNorm 1 group [N, C, H, W] eps 1e-3",
       "torch.nn.GroupNorm(1, 4, eps=1e-3)",
       {X({2, 4, 3, 2}, 421)},
       [] { return mk<nn::GroupNorm>(1, 4, nn::GroupNormOptions{.eps = 1e-3}); }},
      {"layer",
       "GroupNorm 4 groups of 4 (one channel each) no affine",
       "torch.nn.GroupNorm(4, 4, affine=False)",
       {X({3, 4, 5}, 422)},
       [] { return mk<nn::GroupNorm>(4, 4, nn::GroupNormOptions{.affine = false}); }},
      {"layer",
       "GroupNorm 3 groups [N, C]",
       "torch.nn.GroupNorm(3, 6)",
       {X({4, 6}, 423)},
       [] { return mk<nn::GroupNorm>(3, 6); }},
      {"layer",
       "InstanceNorm1d",
       "torch.nn.InstanceNorm1d(3)",
       {X({2, 3, 5}, 424)},
       [] { return mk<nn::InstanceNorm1d>(3); }},
      {"layer",
       "InstanceNorm1d affine track_running_stats momentum 0.3",
       "torch.nn.InstanceNorm1d(3, momentum=0.3, affine=True, track_running_stats=True)",
       {X({2, 3, 5}, 425)},
       [] {
         return mk<nn::InstanceNorm1d>(
             3, nn::InstanceNormOptions{.momentum = 0.3, .affine = true, .track_running_stats = true});
       }},
      {"layer",
       "InstanceNorm1d affine track_running_stats eval",
       "torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True)",
       {X({2, 3, 4}, 426)},
       [] {
         return mk<nn::InstanceNorm1d>(3,
                                       nn::InstanceNormOptions{.affine = true, .track_running_stats = true});
       },
       {},
       "m(x0)",
       true},
      {"layer",
       "InstanceNorm1d unbatched [C, L] affine",
       "torch.nn.InstanceNorm1d(3, affine=True)",
       {X({3, 6}, 427)},
       [] { return mk<nn::InstanceNorm1d>(3, nn::InstanceNormOptions{.affine = true}); }},
      {"layer",
       "InstanceNorm2d affine eps 1e-3",
       "torch.nn.InstanceNorm2d(2, eps=1e-3, affine=True)",
       {X({2, 2, 3, 4}, 428)},
       [] { return mk<nn::InstanceNorm2d>(2, nn::InstanceNormOptions{.eps = 1e-3, .affine = true}); }},
      {"layer",
       "InstanceNorm2d track_running_stats",
       "torch.nn.InstanceNorm2d(2, track_running_stats=True)",
       {X({2, 2, 3, 3}, 429)},
       [] { return mk<nn::InstanceNorm2d>(2, nn::InstanceNormOptions{.track_running_stats = true}); }},
      // ---- pooling
      {"layer",
       "MaxPool2d 2",
       "torch.nn.MaxPool2d(2)",
       {X({2, 2, 5, 5}, 34)},
       [] { return mk<nn::MaxPool2d>(2); }},
      {"layer",
       "MaxPool2d 3 stride 2 padding 1 ceil_mode",
       "torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)",
       {X({1, 2, 6, 5}, 35)},
       [] {
         return mk<nn::MaxPool2d>(
             nn::MaxPool2dOptions{.kernel_size = 3, .stride = xg::Size2{2}, .padding = 1, .ceil_mode = true});
       }},
      {"layer",
       "AvgPool2d 3 stride 2 padding 1 count_include_pad=False",
       "torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)",
       {X({2, 2, 5, 6}, 36)},
       [] {
         return mk<nn::AvgPool2d>(nn::AvgPool2dOptions{
             .kernel_size = 3, .stride = xg::Size2{2}, .padding = 1, .count_include_pad = false});
       }},
      {"layer",
       "MaxPool2d 2 stride 1 dilation 2",
       "torch.nn.MaxPool2d(2, stride=1, dilation=2)",
       {X({1, 2, 5, 6}, 122)},
       [] {
         return mk<nn::MaxPool2d>(
             nn::MaxPool2dOptions{.kernel_size = 2, .stride = xg::Size2{1}, .dilation = 2});
       }},
      {"layer",
       "AvgPool2d 2 ceil_mode divisor_override 3",
       "torch.nn.AvgPool2d(2, ceil_mode=True, divisor_override=3)",
       {X({2, 1, 5, 5}, 123)},
       [] {
         return mk<nn::AvgPool2d>(
             nn::AvgPool2dOptions{.kernel_size = 2, .ceil_mode = true, .divisor_override = 3});
       }},
      {"layer",
       "AdaptiveAvgPool2d (2, 3)",
       "torch.nn.AdaptiveAvgPool2d((2, 3))",
       {X({2, 2, 5, 7}, 37)},
       [] {
         return mk<nn::AdaptiveAvgPool2d>(xg::Size2{2, 3});
       }},
      {"layer", "Flatten", "torch.nn.Flatten()", {X({2, 3, 2, 2}, 38)}, [] { return mk<nn::Flatten>(); }},
      {"layer",
       "MaxPool1d 3 stride 2 padding 1 ceil_mode, indices",
       "torch.nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True, return_indices=True)",
       {X({2, 2, 8}, 430)},
       [] {
         return mk<nn::MaxPool1d>(
             nn::MaxPool1dOptions{.kernel_size = 3, .stride = 2, .padding = 1, .ceil_mode = true});
       },
       with_indices<nn::MaxPool1d>()},
      {"layer",
       "MaxPool1d 2 stride 1 dilation 3 unbatched",
       "torch.nn.MaxPool1d(2, stride=1, dilation=3)",
       {X({3, 9}, 431)},
       [] { return mk<nn::MaxPool1d>(nn::MaxPool1dOptions{.kernel_size = 2, .stride = 1, .dilation = 3}); }},
      {"layer",
       "MaxPool1d 2",
       "torch.nn.MaxPool1d(2)",
       {X({2, 3, 7}, 432)},
       [] { return mk<nn::MaxPool1d>(2); }},
      {"layer",
       "AvgPool1d 3 stride 2 padding 1",
       "torch.nn.AvgPool1d(3, stride=2, padding=1)",
       {X({2, 2, 8}, 433)},
       [] { return mk<nn::AvgPool1d>(nn::AvgPool1dOptions{.kernel_size = 3, .stride = 2, .padding = 1}); }},
      {"layer",
       "AvgPool1d 3 stride 2 padding 1 ceil_mode count_include_pad=False",
       "torch.nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)",
       {X({2, 2, 8}, 434)},
       [] {
         return mk<nn::AvgPool1d>(nn::AvgPool1dOptions{
             .kernel_size = 3, .stride = 2, .padding = 1, .ceil_mode = true, .count_include_pad = false});
       }},
      {"layer",
       "AvgPool1d 2 ceil_mode unbatched",
       "torch.nn.AvgPool1d(2, ceil_mode=True)",
       {X({3, 7}, 435)},
       [] { return mk<nn::AvgPool1d>(nn::AvgPool1dOptions{.kernel_size = 2, .ceil_mode = true}); }},
      {"layer",
       "AdaptiveAvgPool1d 3",
       "torch.nn.AdaptiveAvgPool1d(3)",
       {X({2, 2, 7}, 436)},
       [] { return mk<nn::AdaptiveAvgPool1d>(3); }},
      {"layer",
       "AdaptiveAvgPool1d 5 (upsampling)",
       "torch.nn.AdaptiveAvgPool1d(5)",
       {X({2, 3}, 437)},
       [] { return mk<nn::AdaptiveAvgPool1d>(5); }},
      {"layer",
       "AdaptiveMaxPool1d 3, indices",
       "torch.nn.AdaptiveMaxPool1d(3, return_indices=True)",
       {X({2, 2, 7}, 438)},
       [] { return mk<nn::AdaptiveMaxPool1d>(3); },
       with_indices<nn::AdaptiveMaxPool1d>()},
      {"layer",
       "AdaptiveMaxPool2d (2, 3)",
       "torch.nn.AdaptiveMaxPool2d((2, 3))",
       {X({2, 2, 5, 7}, 439)},
       [] {
         return mk<nn::AdaptiveMaxPool2d>(xg::Size2{2, 3});
       }},
      {"layer",
       "AdaptiveMaxPool2d 1, indices",
       "torch.nn.AdaptiveMaxPool2d(1, return_indices=True)",
       {X({2, 3, 4, 4}, 440)},
       [] { return mk<nn::AdaptiveMaxPool2d>(1); },
       with_indices<nn::AdaptiveMaxPool2d>()},
      {"layer",
       "AdaptiveMaxPool2d (4, 3) unbatched",
       "torch.nn.AdaptiveMaxPool2d((4, 3))",
       {X({2, 3, 5}, 441)},
       [] {
         return mk<nn::AdaptiveMaxPool2d>(xg::Size2{4, 3});
       }},
      {"layer",
       "Unflatten 1 (2, 3)",
       "torch.nn.Unflatten(1, (2, 3))",
       {X({2, 6, 2}, 442)},
       [] {
         return mk<nn::Unflatten>(1, std::vector<int64_t>{2, 3});
       }},
      {"layer", "Identity", "torch.nn.Identity()", {X({2, 3}, 443)}, [] { return mk<nn::Identity>(); }},
      // ---- upsampling
      {"layer",
       "Upsample nearest scale 2",
       "torch.nn.Upsample(scale_factor=2)",
       {X({1, 2, 3, 4}, 444)},
       [] { return mk<nn::Upsample>(nn::UpsampleOptions{.scale_factor = {2.0}}); }},
      {"layer",
       "Upsample nearest size (5, 7)",
       "torch.nn.Upsample(size=(5, 7))",
       {X({2, 1, 3, 4}, 445)},
       [] {
         return mk<nn::Upsample>(nn::UpsampleOptions{.size = {5, 7}});
       }},
      {"layer",
       "Upsample bilinear scale 2 align_corners",
       "torch.nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)",
       {X({1, 2, 3, 3}, 446)},
       [] {
         return mk<nn::Upsample>(nn::UpsampleOptions{
             .scale_factor = {2.0}, .mode = xg::InterpMode::bilinear, .align_corners = true});
       }},
      {"layer",
       "Upsample bilinear size (5, 6)",
       "torch.nn.Upsample(size=(5, 6), mode='bilinear')",
       {X({2, 1, 3, 4}, 447)},
       [] {
         return mk<nn::Upsample>(nn::UpsampleOptions{.size = {5, 6}, .mode = xg::InterpMode::bilinear});
       }},
      {"layer",
       "Upsample linear scale 1.5",
       "torch.nn.Upsample(scale_factor=1.5, mode='linear')",
       {X({2, 2, 4}, 448)},
       [] {
         return mk<nn::Upsample>(nn::UpsampleOptions{.scale_factor = {1.5}, .mode = xg::InterpMode::linear});
       }},
      {"layer",
       "UpsamplingBilinear2d scale 2",
       "torch.nn.UpsamplingBilinear2d(scale_factor=2)",
       {X({1, 2, 2, 3}, 449)},
       [] { return mk<nn::UpsamplingBilinear2d>(std::vector<int64_t>{}, std::vector<double>{2.0}); }},
      {"layer",
       "PixelShuffle 2",
       "torch.nn.PixelShuffle(2)",
       {X({2, 8, 2, 3}, 450)},
       [] { return mk<nn::PixelShuffle>(2); }},
      {"layer",
       "PixelUnshuffle 3",
       "torch.nn.PixelUnshuffle(3)",
       {X({1, 2, 3, 6}, 451)},
       [] { return mk<nn::PixelUnshuffle>(3); }},
      // ---- recurrent
      {"layer",
       "RNNCell tanh",
       "torch.nn.RNNCell(3, 4)",
       {X({5, 3}, 39), X({5, 4}, 40)},
       [] { return mk<nn::RNNCell>(3, 4); },
       two<nn::RNNCell>(),
       "m(x0, x1)"},
      {"layer",
       "RNNCell relu",
       "torch.nn.RNNCell(3, 4, nonlinearity='relu')",
       {X({5, 3}, 41), X({5, 4}, 42)},
       [] { return mk<nn::RNNCell>(3, 4, nn::RNNCellOptions{.nonlinearity = nn::RNNActivation::relu}); },
       two<nn::RNNCell>(),
       "m(x0, x1)"},
      {"layer",
       "LSTMCell",
       "torch.nn.LSTMCell(3, 4)",
       {X({5, 3}, 43), X({5, 4}, 44), X({5, 4}, 45)},
       [] { return mk<nn::LSTMCell>(3, 4); },
       [](nn::Module& m, const Inputs& in) {
         nn::LSTMState s = dynamic_cast<nn::LSTMCell&>(m).forward(in[0], {in[1], in[2]});
         return std::vector<Tensor>{s.h, s.c};
       },
       "m(x0, (x1, x2))"},
      {"layer",
       "GRUCell",
       "torch.nn.GRUCell(3, 4)",
       {X({5, 3}, 46), X({5, 4}, 47)},
       [] { return mk<nn::GRUCell>(3, 4); },
       two<nn::GRUCell>(),
       "m(x0, x1)"},
      {"layer",
       "RNN 2 layers",
       "torch.nn.RNN(3, 4, num_layers=2)",
       {X({5, 2, 3}, 48), X({2, 2, 4}, 49)},
       [] { return mk<nn::RNN>(3, 4, 2); },
       rnn_run<nn::RNN>(),
       "m(x0, x1)"},
      {"layer",
       "RNN relu bidirectional batch_first",
       "torch.nn.RNN(3, 4, nonlinearity='relu', bidirectional=True, batch_first=True)",
       {X({2, 5, 3}, 50), X({2, 2, 4}, 51)},
       [] {
         return mk<nn::RNN>(nn::RNNOptions{.input_size = 3,
                                           .hidden_size = 4,
                                           .nonlinearity = nn::RNNActivation::relu,
                                           .batch_first = true,
                                           .bidirectional = true});
       },
       rnn_run<nn::RNN>(),
       "m(x0, x1)"},
      {"layer",
       "LSTM 2 layers bidirectional",
       "torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)",
       {X({5, 2, 3}, 52), X({4, 2, 4}, 53), X({4, 2, 4}, 54)},
       [] {
         return mk<nn::LSTM>(
             nn::RNNOptions{.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
       },
       lstm_run(),
       "m(x0, (x1, x2))"},
      {"layer",
       "LSTM unbatched",
       "torch.nn.LSTM(3, 4)",
       {X({5, 3}, 124), X({1, 4}, 125), X({1, 4}, 126)},
       [] { return mk<nn::LSTM>(3, 4); },
       lstm_run(),
       "m(x0, (x1, x2))"},
      {"layer",
       "RNN no bias",
       "torch.nn.RNN(3, 4, bias=False)",
       {X({5, 2, 3}, 127), X({1, 2, 4}, 128)},
       [] { return mk<nn::RNN>(nn::RNNOptions{.input_size = 3, .hidden_size = 4, .bias = false}); },
       rnn_run<nn::RNN>(),
       "m(x0, x1)"},
      {"layer",
       "GRUCell unbatched",
       "torch.nn.GRUCell(3, 4)",
       {X({3}, 129), X({4}, 130)},
       [] { return mk<nn::GRUCell>(3, 4); },
       two<nn::GRUCell>(),
       "m(x0, x1)"},
      {"layer",
       "GRU batch_first",
       "torch.nn.GRU(3, 4, batch_first=True)",
       {X({2, 5, 3}, 55), X({1, 2, 4}, 56)},
       [] { return mk<nn::GRU>(nn::RNNOptions{.input_size = 3, .hidden_size = 4, .batch_first = true}); },
       rnn_run<nn::GRU>(),
       "m(x0, x1)"},
      {"layer",
       "GRU unbatched 2 layers",
       "torch.nn.GRU(3, 4, num_layers=2)",
       {X({5, 3}, 57), X({2, 4}, 58)},
       [] { return mk<nn::GRU>(3, 4, 2); },
       rnn_run<nn::GRU>(),
       "m(x0, x1)"},
      // ---- LSTM projections, packed (variable-length) sequences
      {"layer",
       "LSTM proj_size 2 layers bidirectional",
       "torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)",
       {X({5, 2, 3}, 200), X({4, 2, 2}, 201), X({4, 2, 4}, 202)},
       [] {
         return mk<nn::LSTM>(nn::RNNOptions{
             .input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true, .proj_size = 2});
       },
       lstm_run(),
       "m(x0, (x1, x2))"},
      {"layer",
       "LSTM proj_size batch_first no bias",
       "torch.nn.LSTM(3, 5, bias=False, batch_first=True, proj_size=3)",
       {X({2, 4, 3}, 203), X({1, 2, 3}, 204), X({1, 2, 5}, 205)},
       [] {
         return mk<nn::LSTM>(nn::RNNOptions{
             .input_size = 3, .hidden_size = 5, .bias = false, .batch_first = true, .proj_size = 3});
       },
       lstm_run(),
       "m(x0, (x1, x2))"},
      {"layer",
       "packed RNN 2 layers bidirectional, unsorted lengths",
       "torch.nn.RNN(3, 4, num_layers=2, bidirectional=True)",
       {X({5, 4, 3}, 206), X({4, 4, 4}, 207), indices({3, 5, 1, 4}, {4})},
       [] {
         return mk<nn::RNN>(
             nn::RNNOptions{.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
       },
       packed_run<nn::RNN>(),
       kPackedCall},
      {"layer",
       "packed GRU 2 layers bidirectional, unsorted lengths with ties",
       "torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)",
       {X({4, 5, 3}, 208), X({4, 5, 4}, 209), indices({2, 4, 2, 1, 4}, {5})},
       [] {
         return mk<nn::GRU>(
             nn::RNNOptions{.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
       },
       packed_run<nn::GRU>(),
       kPackedCall},
      {"layer",
       "packed LSTM 2 layers bidirectional, unsorted lengths",
       "torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)",
       {X({5, 3, 3}, 210), X({4, 3, 4}, 211), X({4, 3, 4}, 212), indices({2, 5, 3}, {3})},
       [] {
         return mk<nn::LSTM>(
             nn::RNNOptions{.input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
       },
       packed_run<nn::LSTM>(),
       kPackedLstmCall},
      {"layer",
       "packed LSTM proj_size 2 layers bidirectional, padded back",
       "torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)",
       {X({4, 3, 3}, 213), X({4, 3, 2}, 214), X({4, 3, 4}, 215), indices({1, 4, 3}, {3})},
       [] {
         return mk<nn::LSTM>(nn::RNNOptions{
             .input_size = 3, .hidden_size = 4, .num_layers = 2, .bidirectional = true, .proj_size = 2});
       },
       packed_run<nn::LSTM>(true),
       "(lambda o: (torch.nn.utils.rnn.pad_packed_sequence(o[0], batch_first=True, padding_value=0.5)[0], "
       "o[1]))"
       "(m(torch.nn.utils.rnn.pack_padded_sequence(x0, x3, enforce_sorted=False), (x1, x2)))"},
      // ---- EmbeddingBag
      {"layer",
       "EmbeddingBag sum, offsets with an empty bag",
       "torch.nn.EmbeddingBag(6, 3, mode='sum')",
       {indices({1, 2, 4, 5, 4, 3, 2, 0, 0}, {9}), indices({0, 3, 3, 7}, {4})},
       [] {
         return mk<nn::EmbeddingBag>(nn::EmbeddingBagOptions{
             .num_embeddings = 6, .embedding_dim = 3, .mode = nn::EmbeddingBagMode::sum});
       },
       two<nn::EmbeddingBag>(),
       "m(x0, x1)"},
      {"layer",
       "EmbeddingBag mean, offsets with an empty bag",
       "torch.nn.EmbeddingBag(6, 3)",
       {indices({1, 2, 4, 5, 4, 3, 2, 0, 0}, {9}), indices({0, 3, 3, 7}, {4})},
       [] { return mk<nn::EmbeddingBag>(nn::EmbeddingBagOptions{.num_embeddings = 6, .embedding_dim = 3}); },
       two<nn::EmbeddingBag>(),
       "m(x0, x1)"},
      {"layer",
       "EmbeddingBag max, offsets with an empty bag",
       "torch.nn.EmbeddingBag(6, 3, mode='max')",
       {indices({1, 2, 4, 5, 4, 3, 2, 0, 0}, {9}), indices({0, 3, 3, 7}, {4})},
       [] {
         return mk<nn::EmbeddingBag>(nn::EmbeddingBagOptions{
             .num_embeddings = 6, .embedding_dim = 3, .mode = nn::EmbeddingBagMode::max});
       },
       two<nn::EmbeddingBag>(),
       "m(x0, x1)"},
      {"layer",
       "EmbeddingBag sum per_sample_weights include_last_offset",
       "torch.nn.EmbeddingBag(6, 3, mode='sum', include_last_offset=True)",
       {indices({1, 2, 4, 5, 4, 3, 2, 0, 0}, {9}), indices({0, 3, 7, 9}, {4}), X({9}, 216)},
       [] {
         return mk<nn::EmbeddingBag>(nn::EmbeddingBagOptions{.num_embeddings = 6,
                                                             .embedding_dim = 3,
                                                             .mode = nn::EmbeddingBagMode::sum,
                                                             .include_last_offset = true});
       },
       three<nn::EmbeddingBag>(),
       "m(x0, x1, x2)"},
      {"layer",
       "EmbeddingBag mean 2-D padding_idx 4",
       "torch.nn.EmbeddingBag(6, 3, padding_idx=4)",
       {indices({1, 4, 2, 4, 4, 4, 3, 0, 4}, {3, 3})},
       [] {
         return mk<nn::EmbeddingBag>(
             nn::EmbeddingBagOptions{.num_embeddings = 6, .embedding_dim = 3, .padding_idx = 4});
       }},
      {"layer",
       "EmbeddingBag max 2-D padding_idx 0",
       "torch.nn.EmbeddingBag(6, 3, mode='max', padding_idx=0)",
       {indices({1, 0, 2, 5, 3, 3, 0, 0, 0}, {3, 3})},
       [] {
         return mk<nn::EmbeddingBag>(nn::EmbeddingBagOptions{
             .num_embeddings = 6, .embedding_dim = 3, .mode = nn::EmbeddingBagMode::max, .padding_idx = 0});
       }},
      // ---- attention
      {"layer",
       "MultiheadAttention 2 heads",
       "torch.nn.MultiheadAttention(4, 2)",
       {X({3, 2, 4}, 59), X({5, 2, 4}, 60), X({5, 2, 4}, 61)},
       [] { return mk<nn::MultiheadAttention>(4, 2); },
       mha_run({}),
       "m(x0, x1, x2)"},
      {"layer",
       "MultiheadAttention batch_first, float attn_mask, per-head weights",
       "torch.nn.MultiheadAttention(4, 2, batch_first=True)",
       {X({2, 3, 4}, 62), X({2, 5, 4}, 63), X({2, 5, 4}, 64), values({3, 5}, 65)},
       [] { return mk<nn::MultiheadAttention>(4, 2, nn::MultiheadAttentionOptions{.batch_first = true}); },
       mha_run({.average_attn_weights = false}),
       "m(x0, x1, x2, attn_mask=x3, average_attn_weights=False)"},
      {"layer",
       "MultiheadAttention key_padding_mask (bool in PyTorch)",
       "torch.nn.MultiheadAttention(4, 1)",
       {X({3, 2, 4}, 66), X({4, 2, 4}, 67), X({4, 2, 4}, 68), C({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {3, 4}),
        C({0, 1, 0, 0, 0, 0, 1, 1}, {2, 4})},
       [] { return mk<nn::MultiheadAttention>(4, 1); },
       mha_run({.mask_kind = nn::MaskKind::drop}),
       "m(x0, x1, x2, attn_mask=x3.bool(), key_padding_mask=x4.bool())"},
      {"layer",
       "MultiheadAttention unbatched",
       "torch.nn.MultiheadAttention(4, 2)",
       {X({3, 4}, 131), X({5, 4}, 132), X({5, 4}, 133)},
       [] { return mk<nn::MultiheadAttention>(4, 2); },
       mha_run({}),
       "m(x0, x1, x2)"},
      {"layer",
       "MultiheadAttention no bias",
       "torch.nn.MultiheadAttention(4, 2, bias=False)",
       {X({3, 2, 4}, 134), X({5, 2, 4}, 135), X({5, 2, 4}, 136)},
       [] { return mk<nn::MultiheadAttention>(4, 2, nn::MultiheadAttentionOptions{.bias = false}); },
       mha_run({}),
       "m(x0, x1, x2)"},
      {"layer",
       "MultiheadAttention kdim 3 vdim 5, float attn_mask, bool key_padding_mask",
       "torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=5)",
       {X({3, 2, 4}, 401), X({5, 2, 3}, 402), X({5, 2, 5}, 403), values({3, 5}, 404),
        C({0, 0, 1, 0, 1, 0, 0, 0, 0, 0}, {2, 5})},
       [] { return mk<nn::MultiheadAttention>(4, 2, nn::MultiheadAttentionOptions{.kdim = 3, .vdim = 5}); },
       mha_run({.key_padding_mask_kind = nn::MaskKind::drop}),
       "m(x0, x1, x2, attn_mask=x3, key_padding_mask=x4.bool())"},
      {"layer",
       "MultiheadAttention kdim vdim batch_first, add_bias_kv, add_zero_attn, 3-D bool attn_mask, per-head",
       "torch.nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True, kdim=3, vdim=2, "
       "batch_first=True)",
       {X({2, 3, 4}, 405), X({2, 4, 3}, 406), X({2, 4, 2}, 407),
        C({0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0,
           0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1},
          {4, 3, 4}),
        C({0, 0, 0, 1, 1, 0, 0, 0}, {2, 4})},
       [] {
         return mk<nn::MultiheadAttention>(
             4, 2,
             nn::MultiheadAttentionOptions{
                 .batch_first = true, .add_bias_kv = true, .add_zero_attn = true, .kdim = 3, .vdim = 2});
       },
       mha_run({.average_attn_weights = false, .mask_kind = nn::MaskKind::drop}),
       "m(x0, x1, x2, attn_mask=x3.bool(), key_padding_mask=x4.bool(), average_attn_weights=False)"},
      {"layer",
       "MultiheadAttention add_bias_kv unbatched, key_padding_mask",
       "torch.nn.MultiheadAttention(4, 2, add_bias_kv=True)",
       {X({3, 4}, 408), X({5, 4}, 409), X({5, 4}, 410),
        C({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {3, 5}), C({1, 0, 0, 1, 0}, {5})},
       [] { return mk<nn::MultiheadAttention>(4, 2, nn::MultiheadAttentionOptions{.add_bias_kv = true}); },
       mha_run({.key_padding_mask_kind = nn::MaskKind::drop}),
       "m(x0, x1, x2, attn_mask=x3, key_padding_mask=x4.bool())"},
      // ---- Transformer (dropout 0: the same numbers in training mode)
      {"layer",
       "TransformerEncoderLayer post-norm relu",
       "torch.nn.TransformerEncoderLayer(4, 2, 6, 0.0)",
       {X({3, 2, 4}, 411)},
       [] {
         return mk<nn::TransformerEncoderLayer>(
             4, 2, nn::TransformerLayerOptions{.dim_feedforward = 6, .dropout = 0});
       }},
      {"layer",
       "TransformerEncoderLayer norm_first gelu batch_first, float src_mask, bool padding",
       "torch.nn.TransformerEncoderLayer(4, 2, 6, 0.0, 'gelu', 1e-5, batch_first=True, norm_first=True)",
       {X({2, 3, 4}, 412), values({3, 3}, 413), C({0, 0, 1, 0, 0, 0}, {2, 3})},
       [] {
         return mk<nn::TransformerEncoderLayer>(4, 2,
                                                nn::TransformerLayerOptions{.dim_feedforward = 6,
                                                                            .dropout = 0,
                                                                            .activation = "gelu",
                                                                            .batch_first = true,
                                                                            .norm_first = true});
       },
       encoder_run(
           {.key_padding_mask_kind = nn::MaskKind::drop},
           {&nn::TransformerEncoderArgs::src_mask, &nn::TransformerEncoderArgs::src_key_padding_mask}),
       "m(x0, src_mask=x1, src_key_padding_mask=x2.bool())"},
      {"layer",
       "TransformerEncoderLayer callable activation (tanh), 3-D bool src_mask",
       "torch.nn.TransformerEncoderLayer(4, 2, 5, 0.0, torch.tanh)",
       {X({3, 1, 4}, 414), C({0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0}, {2, 3, 3})},
       [] {
         return mk<nn::TransformerEncoderLayer>(
             4, 2,
             nn::TransformerLayerOptions{.dim_feedforward = 5,
                                         .dropout = 0,
                                         .activation = [](const Tensor& x) { return xg::tanh(x); }});
       },
       encoder_run({.mask_kind = nn::MaskKind::drop}, {&nn::TransformerEncoderArgs::src_mask}),
       "m(x0, src_mask=x1.bool())"},
      {"layer",
       "TransformerDecoderLayer post-norm relu, causal tgt_mask, bool memory padding",
       "torch.nn.TransformerDecoderLayer(4, 2, 6, 0.0)",
       {X({3, 2, 4}, 415), X({4, 2, 4}, 416), C({0, -INFINITY, -INFINITY, 0, 0, -INFINITY, 0, 0, 0}, {3, 3}),
        C({0, 0, 0, 1, 0, 1, 0, 0}, {2, 4})},
       [] {
         return mk<nn::TransformerDecoderLayer>(
             4, 2, nn::TransformerLayerOptions{.dim_feedforward = 6, .dropout = 0});
       },
       decoder_run(
           {.key_padding_mask_kind = nn::MaskKind::drop},
           {&nn::TransformerDecoderArgs::tgt_mask, &nn::TransformerDecoderArgs::memory_key_padding_mask}),
       "m(x0, x1, tgt_mask=x2, memory_key_padding_mask=x3.bool())"},
      {"layer",
       "TransformerDecoderLayer norm_first gelu batch_first eps 1e-3, memory_mask, bool tgt padding",
       "torch.nn.TransformerDecoderLayer(4, 2, 5, 0.0, 'gelu', 1e-3, batch_first=True, norm_first=True)",
       {X({2, 3, 4}, 417), X({2, 2, 4}, 418), values({3, 2}, 419), C({0, 0, 1, 0, 1, 0}, {2, 3})},
       [] {
         return mk<nn::TransformerDecoderLayer>(4, 2,
                                                nn::TransformerLayerOptions{.dim_feedforward = 5,
                                                                            .dropout = 0,
                                                                            .activation = "gelu",
                                                                            .layer_norm_eps = 1e-3,
                                                                            .batch_first = true,
                                                                            .norm_first = true});
       },
       decoder_run(
           {.key_padding_mask_kind = nn::MaskKind::drop},
           {&nn::TransformerDecoderArgs::memory_mask, &nn::TransformerDecoderArgs::tgt_key_padding_mask}),
       "m(x0, x1, memory_mask=x2, tgt_key_padding_mask=x3.bool())"},
      {"layer",
       "TransformerEncoder 2 layers, final LayerNorm, unbatched",
       "torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(4, 2, 6, 0.0), 2, "
       "torch.nn.LayerNorm(4))",
       {X({3, 4}, 420)},
       [] {
         return mk<nn::TransformerEncoder>(
             std::make_shared<nn::TransformerEncoderLayer>(
                 4, 2, nn::TransformerLayerOptions{.dim_feedforward = 6, .dropout = 0}),
             2, std::make_shared<nn::LayerNorm>(4));
       }},
      {"layer",
       "TransformerDecoder 2 norm_first layers, no final norm, causal tgt_mask",
       "torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(4, 2, 6, 0.0, norm_first=True), 2)",
       {X({3, 2, 4}, 421), X({2, 2, 4}, 422), C({0, -INFINITY, -INFINITY, 0, 0, -INFINITY, 0, 0, 0}, {3, 3})},
       [] {
         return mk<nn::TransformerDecoder>(
             std::make_shared<nn::TransformerDecoderLayer>(
                 4, 2, nn::TransformerLayerOptions{.dim_feedforward = 6, .dropout = 0, .norm_first = true}),
             2);
       },
       decoder_run({}, {&nn::TransformerDecoderArgs::tgt_mask}),
       "m(x0, x1, tgt_mask=x2)"},
      {"layer",
       "Transformer 1+1 layers, causal tgt_mask, bool src and memory padding",
       "torch.nn.Transformer(4, 2, 1, 1, 6, 0.0)",
       {X({3, 2, 4}, 423), X({2, 2, 4}, 424), C({0, -INFINITY, 0, 0}, {2, 2}), C({0, 0, 1, 0, 0, 0}, {2, 3}),
        C({0, 0, 1, 0, 0, 0}, {2, 3})},
       [] {
         return mk<nn::Transformer>(nn::TransformerOptions{.d_model = 4,
                                                           .nhead = 2,
                                                           .num_encoder_layers = 1,
                                                           .num_decoder_layers = 1,
                                                           .dim_feedforward = 6,
                                                           .dropout = 0});
       },
       transformer_run({.key_padding_mask_kind = nn::MaskKind::drop},
                       {&nn::TransformerArgs::tgt_mask, &nn::TransformerArgs::src_key_padding_mask,
                        &nn::TransformerArgs::memory_key_padding_mask}),
       "m(x0, x1, tgt_mask=x2, src_key_padding_mask=x3.bool(), memory_key_padding_mask=x4.bool())"},
      {"layer",
       "Transformer 2+1 layers batch_first norm_first gelu, src_mask, memory_mask",
       "torch.nn.Transformer(4, 2, 2, 1, 5, 0.0, 'gelu', batch_first=True, norm_first=True)",
       {X({2, 3, 4}, 425), X({2, 2, 4}, 426), values({3, 3}, 427), values({2, 3}, 428)},
       [] {
         return mk<nn::Transformer>(nn::TransformerOptions{.d_model = 4,
                                                           .nhead = 2,
                                                           .num_encoder_layers = 2,
                                                           .num_decoder_layers = 1,
                                                           .dim_feedforward = 5,
                                                           .dropout = 0,
                                                           .activation = "gelu",
                                                           .batch_first = true,
                                                           .norm_first = true});
       },
       transformer_run({}, {&nn::TransformerArgs::src_mask, &nn::TransformerArgs::memory_mask}),
       "m(x0, x1, src_mask=x2, memory_mask=x3)"},
      // PyTorch 1.13 has no F.scaled_dot_product_attention: the reference is its formula in torch ops
      {"function",
       "conv2d padding same, kernel (2, 4), dilation (2, 1)",
       "torch.nn.Sequential()",
       {X({2, 3, 5, 6}, 317), X({2, 3, 2, 4}, 318), X({2}, 319)},
       none,
       [](nn::Module&, const Inputs& in) {
         return std::vector<Tensor>{nn::functional::conv2d(in[0], in[1], in[2], 1, "same", {2, 1})};
       },
       "torch.nn.functional.conv2d(x0, x1, x2, 1, 'same', (2, 1))"},
      {"function",
       "conv1d padding valid, groups 2",
       "torch.nn.Sequential()",
       {X({2, 4, 7}, 320), X({2, 2, 3}, 321)},
       none,
       [](nn::Module&, const Inputs& in) {
         return std::vector<Tensor>{nn::functional::conv1d(in[0], in[1], Tensor(), 1, "valid", 1, 2)};
       },
       "torch.nn.functional.conv1d(x0, x1, None, 1, 'valid', 1, 2)"},
      {"function",
       "scaled_dot_product_attention additive mask",
       "torch.nn.Sequential()",
       {X({2, 3, 4}, 69), X({2, 5, 4}, 70), X({2, 5, 2}, 71), values({3, 5}, 72)},
       none,
       [](nn::Module&, const Inputs& in) {
         return std::vector<Tensor>{nn::scaled_dot_product_attention(in[0], in[1], in[2], in[3])};
       },
       "torch.softmax(x0 @ x1.transpose(-2, -1) / math.sqrt(4) + x3, -1) @ x2"},
      {"function",
       "scaled_dot_product_attention causal scale 0.3",
       "torch.nn.Sequential()",
       {X({2, 4, 3}, 73), X({2, 4, 3}, 74), X({2, 4, 3}, 75)},
       none,
       [](nn::Module&, const Inputs& in) {
         return std::vector<Tensor>{
             nn::scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), true, {.scale = 0.3})};
       },
       "torch.softmax((x0 @ x1.transpose(-2, -1) * 0.3).masked_fill(torch.ones(4, 4, "
       "dtype=torch.bool).triu(1), "
       "float('-inf')), -1) @ x2"},
      // ---- losses (float targets require grad: their gradients are compared too)
      {"loss",
       "MSELoss",
       "torch.nn.MSELoss()",
       {X({4, 3}, 80), X({4, 3}, 81)},
       [] { return mk<nn::MSELoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "MSELoss sum",
       "torch.nn.MSELoss(reduction='sum')",
       {X({4, 3}, 82), X({4, 3}, 83)},
       [] { return mk<nn::MSELoss>(nn::MSELossOptions{.reduction = R::sum}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "L1Loss none",
       "torch.nn.L1Loss(reduction='none')",
       {X({4, 3}, 84), X({4, 3}, 85)},
       [] { return mk<nn::L1Loss>(nn::L1LossOptions{.reduction = R::none}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "L1Loss",
       "torch.nn.L1Loss()",
       {X({4, 3}, 86), X({4, 3}, 87)},
       [] { return mk<nn::L1Loss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "SmoothL1Loss beta 0.5",
       "torch.nn.SmoothL1Loss(beta=0.5)",
       {X({4, 3}, 88), X({4, 3}, 89)},
       [] { return mk<nn::SmoothL1Loss>(nn::SmoothL1LossOptions{.beta = 0.5}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "SmoothL1Loss beta 0 sum",
       "torch.nn.SmoothL1Loss(reduction='sum', beta=0.0)",
       {X({4, 3}, 90), X({4, 3}, 91)},
       [] { return mk<nn::SmoothL1Loss>(nn::SmoothL1LossOptions{.reduction = R::sum, .beta = 0.0}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "HuberLoss delta 0.7 none",
       "torch.nn.HuberLoss(reduction='none', delta=0.7)",
       {X({4, 3}, 92), X({4, 3}, 93)},
       [] { return mk<nn::HuberLoss>(nn::HuberLossOptions{.reduction = R::none, .delta = 0.7}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "CrossEntropyLoss",
       "torch.nn.CrossEntropyLoss()",
       {X({5, 4}, 94), indices({0, 3, 1, 1, 2}, {5})},
       [] { return mk<nn::CrossEntropyLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "CrossEntropyLoss weight, ignore_index 2, label_smoothing 0.1",
       "torch.nn.CrossEntropyLoss(weight=torch.ones(4), ignore_index=2, label_smoothing=0.1)",
       {X({5, 4}, 95), indices({0, 3, 2, 1, 2}, {5})},
       [] {
         return mk<nn::CrossEntropyLoss>(nn::CrossEntropyLossOptions{
             .weight = C({0.5, 2.0, 1.5, 0.7}, {4}), .ignore_index = 2, .label_smoothing = 0.1});
       },
       loss(),
       "m(x0, x1)",
       false,
       true},
      {"loss",
       "CrossEntropyLoss probabilities sum",
       "torch.nn.CrossEntropyLoss(reduction='sum')",
       {X({5, 4}, 96), ce_probs},
       [] { return mk<nn::CrossEntropyLoss>(nn::CrossEntropyLossOptions{.reduction = R::sum}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "CrossEntropyLoss [N, C, d] none",
       "torch.nn.CrossEntropyLoss(reduction='none')",
       {X({2, 3, 4}, 97), indices({0, 2, 1, 1, 2, 2, 0, 1}, {2, 4})},
       [] { return mk<nn::CrossEntropyLoss>(nn::CrossEntropyLossOptions{.reduction = R::none}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "CrossEntropyLoss unbatched [C]",
       "torch.nn.CrossEntropyLoss()",
       {X({4}, 98), indices({2}, {})},
       [] { return mk<nn::CrossEntropyLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "CrossEntropyLoss probabilities, weight, label_smoothing 0.2",
       "torch.nn.CrossEntropyLoss(weight=torch.ones(4), label_smoothing=0.2)",
       {X({5, 4}, 137), ce_probs},
       [] {
         return mk<nn::CrossEntropyLoss>(
             nn::CrossEntropyLossOptions{.weight = C({0.5, 2.0, 1.5, 0.7}, {4}), .label_smoothing = 0.2});
       },
       loss(),
       "m(x0, x1)",
       false,
       true},
      {"loss",
       "NLLLoss weight sum",
       "torch.nn.NLLLoss(weight=torch.ones(4), reduction='sum')",
       {X({5, 4}, 99), indices({0, 3, 1, 1, 2}, {5})},
       [] {
         return mk<nn::NLLLoss>(
             nn::NLLLossOptions{.weight = C({0.5, 2.0, 1.5, 0.7}, {4}), .reduction = R::sum});
       },
       loss(),
       "m(x0, x1)",
       false,
       true},
      {"loss",
       "NLLLoss",
       "torch.nn.NLLLoss()",
       {X({5, 4}, 100), indices({0, 3, 1, 1, 2}, {5})},
       [] { return mk<nn::NLLLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "NLLLoss [N, C, d] ignore_index 1",
       "torch.nn.NLLLoss(ignore_index=1)",
       {X({2, 3, 4}, 138), indices({0, 2, 1, 1, 2, 2, 0, 1}, {2, 4})},
       [] { return mk<nn::NLLLoss>(nn::NLLLossOptions{.ignore_index = 1}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "BCELoss",
       "torch.nn.BCELoss()",
       {P({4, 3}, 101), uniform({4, 3}, 102, 0, 1)},
       [] { return mk<nn::BCELoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "BCELoss weight sum",
       "torch.nn.BCELoss(weight=torch.ones(3), reduction='sum')",
       {P({4, 3}, 103), uniform({4, 3}, 104, 0, 1)},
       [] {
         return mk<nn::BCELoss>(nn::BCELossOptions{.weight = C({0.5, 1.0, 2.0}, {3}), .reduction = R::sum});
       },
       loss(),
       "m(x0, x1)",
       false,
       true},
      {"loss",
       "BCEWithLogitsLoss",
       "torch.nn.BCEWithLogitsLoss()",
       {X({4, 3}, 105, 2.0), P({4, 3}, 106)},
       [] { return mk<nn::BCEWithLogitsLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "BCEWithLogitsLoss weight pos_weight",
       "torch.nn.BCEWithLogitsLoss(weight=torch.ones(3), pos_weight=torch.ones(3))",
       {X({4, 3}, 107, 2.0), P({4, 3}, 108)},
       [] {
         return mk<nn::BCEWithLogitsLoss>(nn::BCEWithLogitsLossOptions{
             .weight = C({0.5, 1.0, 2.0}, {3}), .pos_weight = C({3.0, 0.5, 1.0}, {3})});
       },
       loss(),
       "m(x0, x1)",
       false,
       true},
      {"loss",
       "BCEWithLogitsLoss none",
       "torch.nn.BCEWithLogitsLoss(reduction='none')",
       {X({4, 3}, 139, 2.0), P({4, 3}, 140)},
       [] { return mk<nn::BCEWithLogitsLoss>(nn::BCEWithLogitsLossOptions{.reduction = R::none}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "KLDivLoss mean",
       "torch.nn.KLDivLoss()",
       {X({4, 3}, 141), P({4, 3}, 142)},
       [] { return mk<nn::KLDivLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "KLDivLoss batchmean",
       "torch.nn.KLDivLoss(reduction='batchmean')",
       {X({4, 3}, 109), P({4, 3}, 110)},
       [] { return mk<nn::KLDivLoss>(nn::KLDivLossOptions{.reduction = R::batchmean}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "KLDivLoss log_target sum",
       "torch.nn.KLDivLoss(reduction='sum', log_target=True)",
       {X({4, 3}, 111), X({4, 3}, 112)},
       [] { return mk<nn::KLDivLoss>(nn::KLDivLossOptions{.reduction = R::sum, .log_target = true}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "CosineEmbeddingLoss margin 0.2",
       "torch.nn.CosineEmbeddingLoss(margin=0.2)",
       {X({4, 5}, 113), X({4, 5}, 114), C({1, -1, -1, 1}, {4})},
       [] { return mk<nn::CosineEmbeddingLoss>(nn::CosineEmbeddingLossOptions{.margin = 0.2}); },
       three<nn::CosineEmbeddingLoss>(),
       "m(x0, x1, x2)"},
      {"loss",
       "CosineEmbeddingLoss unbatched, target -1, none",
       "torch.nn.CosineEmbeddingLoss(margin=-0.3, reduction='none')",
       {X({5}, 143), X({5}, 144), C({-1}, {})},
       [] {
         return mk<nn::CosineEmbeddingLoss>(
             nn::CosineEmbeddingLossOptions{.margin = -0.3, .reduction = R::none});
       },
       three<nn::CosineEmbeddingLoss>(),
       "m(x0, x1, x2)"},
      {"loss",
       "MarginRankingLoss margin 0.1 sum",
       "torch.nn.MarginRankingLoss(margin=0.1, reduction='sum')",
       {X({5}, 115), X({5}, 116), C({1, -1, 1, -1, 1}, {5})},
       [] {
         return mk<nn::MarginRankingLoss>(nn::MarginRankingLossOptions{.margin = 0.1, .reduction = R::sum});
       },
       three<nn::MarginRankingLoss>(),
       "m(x0, x1, x2)"},
      {"loss",
       "TripletMarginLoss",
       "torch.nn.TripletMarginLoss()",
       {X({4, 5}, 150), X({4, 5}, 151), X({4, 5}, 152)},
       [] { return mk<nn::TripletMarginLoss>(); },
       three<nn::TripletMarginLoss>(),
       "m(x0, x1, x2)"},
      {"loss",
       "TripletMarginLoss p 1 margin 2 swap none",
       "torch.nn.TripletMarginLoss(margin=2.0, p=1, swap=True, reduction='none')",
       {X({4, 5}, 153), X({4, 5}, 154), X({4, 5}, 155)},
       [] {
         return mk<nn::TripletMarginLoss>(
             nn::TripletMarginLossOptions{.margin = 2.0, .p = 1, .swap = true, .reduction = R::none});
       },
       three<nn::TripletMarginLoss>(),
       "m(x0, x1, x2)"},
      {"loss",
       "TripletMarginLoss unbatched p 3 eps 0.1 sum",
       "torch.nn.TripletMarginLoss(margin=3.0, p=3, eps=0.1, reduction='sum')",
       {X({5}, 156), X({5}, 157), X({5}, 158)},
       [] {
         return mk<nn::TripletMarginLoss>(
             nn::TripletMarginLossOptions{.margin = 3.0, .p = 3, .eps = 0.1, .reduction = R::sum});
       },
       three<nn::TripletMarginLoss>(),
       "m(x0, x1, x2)"},
      {"loss",
       "HingeEmbeddingLoss",
       "torch.nn.HingeEmbeddingLoss()",
       {X({2, 3}, 159), C({1, -1, -1, 1, -1, 1}, {2, 3})},
       [] { return mk<nn::HingeEmbeddingLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "HingeEmbeddingLoss margin 0.5 none",
       "torch.nn.HingeEmbeddingLoss(margin=0.5, reduction='none')",
       {X({2, 3}, 160), C({-1, -1, 1, 1, -1, -1}, {2, 3})},
       [] {
         return mk<nn::HingeEmbeddingLoss>(
             nn::HingeEmbeddingLossOptions{.margin = 0.5, .reduction = R::none});
       },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "MultiMarginLoss",
       "torch.nn.MultiMarginLoss()",
       {X({5, 4}, 161, 0.5), indices({0, 3, 1, 1, 2}, {5})},
       [] { return mk<nn::MultiMarginLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "MultiMarginLoss p 2 margin 0.7 weight none",
       "torch.nn.MultiMarginLoss(p=2, margin=0.7, weight=torch.ones(4), reduction='none')",
       {X({5, 4}, 162, 0.5), indices({2, 3, 0, 1, 2}, {5})},
       [] {
         return mk<nn::MultiMarginLoss>(nn::MultiMarginLossOptions{
             .p = 2, .margin = 0.7, .weight = C({0.5, 2.0, 1.5, 0.7}, {4}), .reduction = R::none});
       },
       loss(),
       "m(x0, x1)",
       false,
       true},
      {"loss",
       "MultiMarginLoss unbatched sum",
       "torch.nn.MultiMarginLoss(reduction='sum')",
       {X({4}, 163, 0.5), indices({1}, {})},
       [] { return mk<nn::MultiMarginLoss>(nn::MultiMarginLossOptions{.reduction = R::sum}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "MultiLabelSoftMarginLoss",
       "torch.nn.MultiLabelSoftMarginLoss()",
       {X({4, 3}, 164, 2.0), P({4, 3}, 165)},
       [] { return mk<nn::MultiLabelSoftMarginLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "MultiLabelSoftMarginLoss weight none",
       "torch.nn.MultiLabelSoftMarginLoss(weight=torch.ones(3), reduction='none')",
       {X({4, 3}, 166, 2.0), P({4, 3}, 167)},
       [] {
         return mk<nn::MultiLabelSoftMarginLoss>(
             nn::MultiLabelSoftMarginLossOptions{.weight = C({0.5, 1.0, 2.0}, {3}), .reduction = R::none});
       },
       loss(),
       "m(x0, x1)",
       false,
       true},
      {"loss",
       "SoftMarginLoss",
       "torch.nn.SoftMarginLoss()",
       {X({2, 3}, 168, 2.0), C({1, -1, -1, 1, -1, 1}, {2, 3})},
       [] { return mk<nn::SoftMarginLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "SoftMarginLoss none",
       "torch.nn.SoftMarginLoss(reduction='none')",
       {X({2, 3}, 169, 2.0), C({-1, 1, -1, 1, 1, -1}, {2, 3})},
       [] { return mk<nn::SoftMarginLoss>(nn::SoftMarginLossOptions{.reduction = R::none}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "PoissonNLLLoss",
       "torch.nn.PoissonNLLLoss()",
       {X({4, 3}, 170), uniform({4, 3}, 171, 0.0, 4.0).requires_grad_(true)},
       [] { return mk<nn::PoissonNLLLoss>(); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "PoissonNLLLoss full none",
       "torch.nn.PoissonNLLLoss(full=True, reduction='none')",
       {X({4, 3}, 172), uniform({4, 3}, 173, 0.0, 4.0).requires_grad_(true)},
       [] { return mk<nn::PoissonNLLLoss>(nn::PoissonNLLLossOptions{.full = true, .reduction = R::none}); },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "PoissonNLLLoss rates, full, eps 0.01 sum",
       "torch.nn.PoissonNLLLoss(log_input=False, full=True, eps=0.01, reduction='sum')",
       {uniform({4, 3}, 174, 0.1, 3.0).requires_grad_(true),
        uniform({4, 3}, 175, 0.0, 4.0).requires_grad_(true)},
       [] {
         return mk<nn::PoissonNLLLoss>(
             nn::PoissonNLLLossOptions{.log_input = false, .full = true, .eps = 0.01, .reduction = R::sum});
       },
       loss(),
       "m(x0, x1)"},
      {"loss",
       "GaussianNLLLoss",
       "torch.nn.GaussianNLLLoss()",
       {X({4, 3}, 176), X({4, 3}, 177), uniform({4, 3}, 178, 0.1, 2.0).requires_grad_(true)},
       [] { return mk<nn::GaussianNLLLoss>(); },
       three<nn::GaussianNLLLoss>(),
       "m(x0, x1, x2)"},
      {"loss",
       "GaussianNLLLoss var [N] full sum",
       "torch.nn.GaussianNLLLoss(full=True, reduction='sum')",
       {X({4, 3}, 179), X({4, 3}, 180), uniform({4}, 181, 0.1, 2.0).requires_grad_(true)},
       [] { return mk<nn::GaussianNLLLoss>(nn::GaussianNLLLossOptions{.full = true, .reduction = R::sum}); },
       three<nn::GaussianNLLLoss>(),
       "m(x0, x1, x2)"},
      {"loss",
       "GaussianNLLLoss var [N, 1] clamped at eps 0.1 none",
       "torch.nn.GaussianNLLLoss(eps=0.1, reduction='none')",
       {X({4, 3}, 182), X({4, 3}, 183), uniform({4, 1}, 184, 0.01, 0.5).requires_grad_(true)},
       [] { return mk<nn::GaussianNLLLoss>(nn::GaussianNLLLossOptions{.eps = 0.1, .reduction = R::none}); },
       three<nn::GaussianNLLLoss>(),
       "m(x0, x1, x2)"},
      {"loss",
       "CTCLoss padded targets",
       "torch.nn.CTCLoss()",
       {LP({8, 3, 5}, 185), indices({1, 2, 2, 4, 3, 1, 0, 0, 4, 4, 2, 1}, {3, 4}), indices({8, 7, 8}, {3}),
        indices({4, 2, 3}, {3})},
       [] { return mk<nn::CTCLoss>(); },
       ctc_run(),
       "m(x0, x1, x2, x3)"},
      {"loss",
       "CTCLoss concatenated targets, blank 2, sum",
       "torch.nn.CTCLoss(blank=2, reduction='sum')",
       {LP({8, 3, 5}, 186), indices({1, 0, 0, 4, 3, 1, 4, 4, 1}, {9}), indices({8, 6, 7}, {3}),
        indices({4, 2, 3}, {3})},
       [] { return mk<nn::CTCLoss>(nn::CTCLossOptions{.blank = 2, .reduction = R::sum}); },
       ctc_run(),
       "m(x0, x1, x2, x3)"},
      {"loss",
       "CTCLoss impossible alignment none (inf, NaN gradient)",
       "torch.nn.CTCLoss(reduction='none')",
       {LP({5, 3, 4}, 187), indices({1, 1, 2, 3, 3, 3, 1, 2, 3}, {3, 3}), indices({5, 4, 5}, {3}),
        indices({3, 3, 3}, {3})},
       [] { return mk<nn::CTCLoss>(nn::CTCLossOptions{.reduction = R::none}); },
       ctc_run(),
       "m(x0, x1, x2, x3)"},
      {"loss",
       "CTCLoss impossible alignment zero_infinity, empty target",
       "torch.nn.CTCLoss(zero_infinity=True)",
       {LP({5, 3, 4}, 188), indices({1, 1, 2, 3, 3, 3, 1, 2, 3}, {3, 3}), indices({5, 4, 5}, {3}),
        indices({3, 3, 0}, {3})},
       [] { return mk<nn::CTCLoss>(nn::CTCLossOptions{.zero_infinity = true}); },
       ctc_run(),
       "m(x0, x1, x2, x3)"},
      {"loss",
       "CTCLoss unbatched, blank 3",
       "torch.nn.CTCLoss(blank=3)",
       {LP({6, 4}, 189), indices({0, 1, 1}, {3}), indices({6}, {}), indices({3}, {})},
       [] { return mk<nn::CTCLoss>(nn::CTCLossOptions{.blank = 3}); },
       ctc_run(),
       "m(x0, x1, x2, x3)"},
  };
}

void record(Recorder& r, const ModuleCase& c, std::size_t k) {
  json e = {{"group", c.group}, {"id", std::string(c.group) + indexed(".", k)},
            {"name", c.name},   {"label", c.name},
            {"torch", c.torch}, {"expr", c.call},
            {"eval", c.eval}};
  xg::NamedTensors t;
  std::vector<bool> rg;
  json int64_inputs = json::array();
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    t.emplace_back(indexed("x", i), c.inputs[i]);
    rg.push_back(c.inputs[i].requires_grad());
    if (c.inputs[i].dtype() == xg::Dtype::int64) int64_inputs.push_back(indexed("x", i));
  }
  e["inputs"] = c.inputs.size();
  e["requires_grad"] = rg;
  e["int64_inputs"] = int64_inputs;
  try {
    nn::ModulePtr m = c.make();
    m->to(xg::Dtype::float64);
    m->train(!c.eval);
    unsigned seed = 7919 * unsigned(k + 1);
    {
      xg::NoGradGuard no_grad;
      for (auto& [name, p] : m->named_parameters())
        if (!c.keep_parameters) p.copy_(values(p.shape(), ++seed, 0.5));
      for (auto& [name, b] : m->named_buffers()) {
        if (c.keep_parameters || !b.is_floating_point()) continue;
        if (name.ends_with("running_var"))
          b.copy_(uniform(b.shape(), ++seed, 0.5, 2.0));
        else
          b.copy_(values(b.shape(), ++seed, 0.5));
      }
    }
    json params = json::array(), buffers = json::array();
    for (auto& [name, p] : m->named_parameters()) params.push_back(name), t.emplace_back("param." + name, p);
    for (auto& [name, b] : m->named_buffers())
      buffers.push_back(name), t.emplace_back("buffer." + name, b.clone());
    e["params"] = params;
    e["buffers"] = buffers;
    const std::vector<Tensor> outs =
        c.run ? c.run(*m, c.inputs) : std::vector<Tensor>{m->forward(c.inputs[0])};
    std::vector<Tensor> gs, wrt;
    std::vector<std::string> wrt_names;
    for (std::size_t j = 0; j < outs.size(); ++j) {
      t.emplace_back(indexed("out", j), outs[j]);
      gs.push_back(values(outs[j].shape(), ++seed));
      t.emplace_back(indexed("g", j), gs.back());
    }
    e["outputs"] = outs.size();
    for (std::size_t i = 0; i < c.inputs.size(); ++i)
      if (rg[i]) wrt.push_back(c.inputs[i]), wrt_names.push_back(indexed("grad.x", i));
    for (auto& [name, p] : m->named_parameters())
      if (p.requires_grad()) wrt.push_back(p), wrt_names.push_back("grad." + name);
    std::vector<Tensor> diff_outs, diff_gs;
    for (std::size_t j = 0; j < outs.size(); ++j)
      if (outs[j].requires_grad()) diff_outs.push_back(outs[j]), diff_gs.push_back(gs[j]);
    std::vector<Tensor> grads(wrt.size());
    if (!diff_outs.empty() && !wrt.empty()) grads = xg::grad(diff_outs, wrt, diff_gs, false, false, true);
    for (std::size_t j = 0; j < wrt.size(); ++j) t.emplace_back(wrt_names[j], or_zeros(grads[j], wrt[j]));
    for (auto& [name, b] : m->named_buffers()) t.emplace_back("after." + name, b);
  } catch (const std::exception& ex) {
    e["error"] = ex.what();
  }
  r.add(e, t);
}

}  // namespace

void add_nn_cases(Recorder& r) {
  const std::vector<ModuleCase> all = cases();
  for (std::size_t k = 0; k < all.size(); ++k) record(r, all[k], k);
}

}  // namespace parity
