#include "xgrad/nn/rnn.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <string>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/nn/init.hpp"

namespace xg::nn {

namespace {

// prefix + n (appended: GCC 12 warns falsely on "lit" + std::to_string, -Wrestrict)
std::string tag_of(const char* prefix, int64_t n) {
  std::string r = prefix;
  r += std::to_string(n);
  return r;
}

// U(-1/sqrt(H), 1/sqrt(H)), PyTorch's initialisation of every recurrent parameter.
Tensor init_uniform(const Shape& shape, int64_t hidden_size) {
  const double k = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  return init::uniform_(empty(shape), -k, k);
}

// x W^T + b for x [B, in], W [out, in]: the transpose is a gemm flag, not a copy.
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& b) {
  return linear(x, w, b);
}

// One step of each kind, from the input projection xw = W_ih x + b_ih [B, G H] and the state.
Tensor rnn_step(const Tensor& xw, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh,
                RNNActivation act) {
  Tensor pre = xw + affine(h, w_hh, b_hh);
  return act == RNNActivation::tanh ? tanh(pre) : relu(pre);
}

LSTMState lstm_step(const Tensor& xw, const Tensor& h, const Tensor& c, const Tensor& w_hh,
                    const Tensor& b_hh) {
  // The gates' element-wise part is two fused ops (autograd/ops/rnn.cpp) instead of a dozen.
  const Tensor gates = xw + affine(h, w_hh, b_hh);  // i, f, g, o
  Tensor c_next = lstm_cell_c(gates, c);
  return {lstm_cell_h(gates, c_next), c_next};
}

Tensor gru_step(const Tensor& xw, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh) {
  std::vector<Tensor> gx = chunk(xw, 3, 1);                     // x parts of r, z, n
  std::vector<Tensor> gh = chunk(affine(h, w_hh, b_hh), 3, 1);  // h parts of r, z, n
  Tensor r = sigmoid(gx[0] + gh[0]);
  Tensor z = sigmoid(gx[1] + gh[1]);
  Tensor n = tanh(gx[2] + r * gh[2]);
  return n + z * (h - n);  // (1 - z) n + z h
}

// x [N, F] cut along axis 0 into pieces of `sizes` rows (the steps of a sequence). When x
// requires grad, each slice's backward is a zero-filled tensor of x's full size, so T direct
// slices would cost O(T^2) in backward; halving recursively costs O(T log T).
void split_into(const Tensor& x, const int64_t* sizes, std::size_t n, Tensor* out) {
  if (n <= 4 || !x.requires_grad() || !GradMode::is_enabled()) {
    int64_t at = 0;
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = slice(x, 0, at, at + sizes[i]);
      at += sizes[i];
    }
    return;
  }
  const std::size_t half = n / 2;
  int64_t rows = 0;
  for (std::size_t i = 0; i < half; ++i) rows += sizes[i];
  split_into(slice(x, 0, 0, rows), sizes, half, out);
  split_into(slice(x, 0, rows, x.size(0)), sizes + half, n - half, out + half);
}
std::vector<Tensor> split_steps(const Tensor& x, const std::vector<int64_t>& sizes) {
  std::vector<Tensor> out(sizes.size());
  split_into(x, sizes.data(), sizes.size(), out.data());
  return out;
}

// Inverted dropout: zeros with probability p, the rest scaled by 1 / (1 - p).
Tensor step_dropout(const Tensor& x, double p, Generator* generator) {
  Tensor keep;
  {
    NoGradGuard guard;
    keep =
        p < 1 ? ge(rand(x.shape(), {.dtype = x.dtype()}, generator), p) * (1.0 / (1.0 - p)) : zeros_like(x);
  }
  return x * keep;
}

void check_sizes(const std::string& name, int64_t input_size, int64_t hidden_size) {
  if (input_size <= 0 || hidden_size <= 0)
    throw ValueError(name + ": input_size and hidden_size must be positive, got " +
                     std::to_string(input_size) + " and " + std::to_string(hidden_size));
}

void check_float(const std::string& name, const Tensor& x, const char* what) {
  if (!x.is_floating_point()) throw TypeError(name + ": expected a float " + what + ", got int64");
}

// A cell's input [B, in] or [in] and state [B, H] or [H] (undefined: zeros), brought to [B, ...].
struct CellArgs {
  Tensor x;
  std::vector<Tensor> states;
  bool unbatched = false;
};
CellArgs cell_args(const std::string& name, const Tensor& x, const std::vector<Tensor>& states,
                   int64_t input_size, int64_t hidden_size) {
  if (!x.defined()) throw ValueError(name + ": the input is undefined");
  if (x.dim() != 1 && x.dim() != 2)
    throw ShapeError(name + ": expected an input [B, " + std::to_string(input_size) + "] or [" +
                     std::to_string(input_size) + "], got " + x.shape().str());
  if (x.size(-1) != input_size)
    throw ShapeError(name + ": input has " + std::to_string(x.size(-1)) + " features, expected input_size " +
                     std::to_string(input_size) + ": input " + x.shape().str());
  check_float(name, x, "input");
  CellArgs a;
  a.unbatched = x.dim() == 1;
  a.x = a.unbatched ? unsqueeze(x, 0) : x;
  const int64_t batch = a.x.size(0);
  const Shape want = a.unbatched ? Shape{hidden_size} : Shape{batch, hidden_size};
  for (const Tensor& s : states) {
    if (!s.defined()) {
      a.states.push_back(zeros({batch, hidden_size}, {.dtype = x.dtype()}));
      continue;
    }
    if (!(s.shape() == want))
      throw ShapeError(name + ": hidden state has shape " + s.shape().str() + ", expected " + want.str() +
                       " for input " + x.shape().str());
    check_float(name, s, "hidden state");
    a.states.push_back(a.unbatched ? unsqueeze(s, 0) : s);
  }
  return a;
}

}  // namespace

// ---- cells ----

RNNCellBase::RNNCellBase(std::string type_name, int64_t input_size, int64_t hidden_size,
                         RNNCellOptions options, int64_t gates)
    : Module(std::move(type_name)), input_size_(input_size), hidden_size_(hidden_size), options_(options) {
  check_sizes(this->type_name(), input_size, hidden_size);
  if (gates != 1 && options.nonlinearity != RNNActivation::tanh)
    throw ValueError(this->type_name() + ": the nonlinearity is fixed (tanh); relu is for RNNCell");
  weight_ih = register_parameter("weight_ih", init_uniform({gates * hidden_size, input_size}, hidden_size));
  weight_hh = register_parameter("weight_hh", init_uniform({gates * hidden_size, hidden_size}, hidden_size));
  if (options.bias) {
    bias_ih = register_parameter("bias_ih", init_uniform({gates * hidden_size}, hidden_size));
    bias_hh = register_parameter("bias_hh", init_uniform({gates * hidden_size}, hidden_size));
  }
}

std::string RNNCellBase::extra_repr() const {
  std::ostringstream s;
  s << input_size_ << ", " << hidden_size_;
  if (!options_.bias) s << ", bias=false";
  if (options_.nonlinearity == RNNActivation::relu) s << ", nonlinearity=relu";
  return s.str();
}

RNNCell::RNNCell(int64_t input_size, int64_t hidden_size, RNNCellOptions options)
    : RNNCellBase("RNNCell", input_size, hidden_size, options, 1) {}
Tensor RNNCell::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return forward(x, Tensor());
}
Tensor RNNCell::forward(const Tensor& x, const Tensor& h) {
  const ModuleScope scope(*this);
  CellArgs a = cell_args(type_name(), x, {h}, input_size(), hidden_size());
  Tensor y =
      rnn_step(affine(a.x, weight_ih, bias_ih), a.states[0], weight_hh, bias_hh, options().nonlinearity);
  return a.unbatched ? squeeze(y, 0) : y;
}

LSTMCell::LSTMCell(int64_t input_size, int64_t hidden_size, RNNCellOptions options)
    : RNNCellBase("LSTMCell", input_size, hidden_size, options, 4) {}
Tensor LSTMCell::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return forward(x, LSTMState{}).h;
}
LSTMState LSTMCell::forward(const Tensor& x, const LSTMState& state) {
  const ModuleScope scope(*this);
  CellArgs a = cell_args(type_name(), x, {state.h, state.c}, input_size(), hidden_size());
  LSTMState s = lstm_step(affine(a.x, weight_ih, bias_ih), a.states[0], a.states[1], weight_hh, bias_hh);
  if (a.unbatched) s = {squeeze(s.h, 0), squeeze(s.c, 0)};
  return s;
}

GRUCell::GRUCell(int64_t input_size, int64_t hidden_size, RNNCellOptions options)
    : RNNCellBase("GRUCell", input_size, hidden_size, options, 3) {}
Tensor GRUCell::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return forward(x, Tensor());
}
Tensor GRUCell::forward(const Tensor& x, const Tensor& h) {
  const ModuleScope scope(*this);
  CellArgs a = cell_args(type_name(), x, {h}, input_size(), hidden_size());
  Tensor y = gru_step(affine(a.x, weight_ih, bias_ih), a.states[0], weight_hh, bias_hh);
  return a.unbatched ? squeeze(y, 0) : y;
}

// ---- sequence modules ----

RNNBase::RNNBase(std::string type_name, Kind kind, RNNOptions options)
    : Module(std::move(type_name)), kind_(kind), options_(options) {
  const std::string& name = this->type_name();
  check_sizes(name, options.input_size, options.hidden_size);
  if (options.num_layers <= 0)
    throw ValueError(name + ": num_layers must be positive, got " + std::to_string(options.num_layers));
  if (!(options.dropout >= 0 && options.dropout <= 1))
    throw ValueError(name + ": dropout must lie in [0, 1], got " + std::to_string(options.dropout));
  if (kind != Kind::rnn && options.nonlinearity != RNNActivation::tanh)
    throw ValueError(name + ": the nonlinearity is fixed (tanh); relu is for RNN");
  if (options.proj_size < 0)
    throw ValueError(name + ": proj_size must be positive, or 0 for no projection, got " +
                     std::to_string(options.proj_size));
  if (options.proj_size > 0 && kind != Kind::lstm)
    throw ValueError(name + ": proj_size is for LSTM only, got proj_size " +
                     std::to_string(options.proj_size));
  if (options.proj_size >= options.hidden_size)
    throw ValueError(name + ": proj_size " + std::to_string(options.proj_size) +
                     " must be smaller than hidden_size " + std::to_string(options.hidden_size));
  const int64_t gates = kind == Kind::lstm ? 4 : kind == Kind::gru ? 3 : 1;
  const int64_t hidden = options.hidden_size, dirs = options.bidirectional ? 2 : 1;
  const int64_t out_h = options.proj_size > 0 ? options.proj_size : hidden;  // h's features
  for (int64_t l = 0; l < options.num_layers; ++l)
    for (int64_t d = 0; d < dirs; ++d) {
      const std::string suffix = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      const int64_t in = l == 0 ? options.input_size : out_h * dirs;
      std::vector<Tensor> w;
      w.push_back(register_parameter("weight_ih" + suffix, init_uniform({gates * hidden, in}, hidden)));
      w.push_back(register_parameter("weight_hh" + suffix, init_uniform({gates * hidden, out_h}, hidden)));
      if (options.bias) {
        w.push_back(register_parameter("bias_ih" + suffix, init_uniform({gates * hidden}, hidden)));
        w.push_back(register_parameter("bias_hh" + suffix, init_uniform({gates * hidden}, hidden)));
      }
      if (options.proj_size > 0)
        w.push_back(
            register_parameter("weight_hr" + suffix, init_uniform({options.proj_size, hidden}, hidden)));
      weights_.push_back(std::move(w));
    }
}

std::vector<Tensor> RNNBase::layer_parameters(int64_t layer, bool reverse) const {
  if (layer < 0 || layer >= options_.num_layers || (reverse && !options_.bidirectional))
    throw IndexError(type_name() + ": no layer " + std::to_string(layer) + (reverse ? " (reverse)" : "") +
                     " among " + std::to_string(options_.num_layers) +
                     (options_.bidirectional ? " bidirectional" : "") + " layer(s)");
  return weights_[static_cast<std::size_t>(layer * (options_.bidirectional ? 2 : 1) + (reverse ? 1 : 0))];
}

// The steps of a batch (each [batch_sizes[t], features]) through the stack; run_steps replaces
// `in` by the top layer's outputs and sets the final states.
struct RNNBase::Steps {
  std::vector<Tensor> in;
  std::vector<int64_t> sizes;
  Tensor h_n, c_n;  ///< [num_layers D, B, *], the rows in the steps' order
};

Tensor RNNBase::check_state(const Tensor& s, const char* what, int64_t batch, int64_t features,
                            bool unbatched, const Shape& input_shape) const {
  if (!s.defined()) return s;
  const int64_t slots = options_.num_layers * (options_.bidirectional ? 2 : 1);
  const Shape want = unbatched ? Shape{slots, features} : Shape{slots, batch, features};
  if (!(s.shape() == want))
    throw ShapeError(type_name() + ": " + what + " has shape " + s.shape().str() + ", expected " +
                     want.str() + " (num_layers * num_directions, batch, " +
                     (features == options_.hidden_size ? "hidden_size" : "proj_size") + ") for input " +
                     input_shape.str());
  check_float(type_name(), s, what);
  return unbatched ? unsqueeze(s, 1) : s;
}

void RNNBase::run_steps(Steps& st, const Tensor& h0, const Tensor& c0) {
  const RNNOptions& o = options_;
  const auto steps = static_cast<int64_t>(st.sizes.size());
  const int64_t batch = st.sizes[0], dirs = o.bidirectional ? 2 : 1, hidden = o.hidden_size;
  const int64_t out_h = o.proj_size > 0 ? o.proj_size : hidden;
  const Dtype dtype = st.in[0].dtype();
  auto state_at = [&](const Tensor& s, int64_t slot, int64_t features) {
    return s.defined() ? reshape(slice(s, 0, slot, slot + 1), {batch, features})
                       : zeros({batch, features}, {.dtype = dtype});
  };
  // Rows [from, to) of a state: the whole tensor when that is all of it (no node on the tape).
  auto rows_of = [](const Tensor& s, int64_t from, int64_t to) {
    return from == 0 && to == s.size(0) ? s : slice(s, 0, from, to);
  };

  std::vector<Tensor> h_last, c_last;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    std::vector<std::vector<Tensor>> dir_out;
    for (int64_t d = 0; d < dirs; ++d) {
      const int64_t slot = l * dirs + d;
      // The scope of each step, "lstm.t3" ("lstm.l1_reverse.t3" for stacked or bidirectional ones,
      // named as the weights are): the inspection tools show which step an op belongs to.
      std::optional<NamedScope> layer_scope;
      if (o.num_layers > 1 || dirs > 1) layer_scope.emplace(tag_of("l", l) + (d ? "_reverse" : ""));
      const std::vector<Tensor>& w = weights_[static_cast<std::size_t>(slot)];
      const Tensor b_ih = o.bias ? w[2] : Tensor(), b_hh = o.bias ? w[3] : Tensor();
      const Tensor w_hr = o.proj_size > 0 ? w.back() : Tensor();
      const Tensor h_init = state_at(h0, slot, out_h);
      const Tensor c_init = kind_ == Kind::lstm ? state_at(c0, slot, hidden) : Tensor();
      // Forward, the batch shrinks as sequences end: their final states are set aside (in
      // `ended`, last rows first). Backward, it grows as sequences start from their initial state.
      Tensor h, c;
      int64_t rows = 0;
      std::vector<Tensor> ended_h, ended_c;
      std::vector<Tensor> outs(static_cast<std::size_t>(steps));
      for (int64_t k = 0; k < steps; ++k) {
        const auto t = static_cast<std::size_t>(d ? steps - 1 - k : k);
        const NamedScope step_scope(tag_of("t", static_cast<int64_t>(t)));
        const int64_t need = st.sizes[t];
        if (rows == 0) {
          h = rows_of(h_init, 0, need);
          if (c_init.defined()) c = rows_of(c_init, 0, need);
        } else if (need < rows) {
          ended_h.push_back(slice(h, 0, need, rows));
          h = slice(h, 0, 0, need);
          if (c.defined()) {
            ended_c.push_back(slice(c, 0, need, rows));
            c = slice(c, 0, 0, need);
          }
        } else if (need > rows) {
          h = cat({h, slice(h_init, 0, rows, need)}, 0);
          if (c.defined()) c = cat({c, slice(c_init, 0, rows, need)}, 0);
        }
        rows = need;
        const Tensor xw = affine(st.in[t], w[0], b_ih);
        switch (kind_) {
          case Kind::rnn:
            h = rnn_step(xw, h, w[1], b_hh, o.nonlinearity);
            break;
          case Kind::gru:
            h = gru_step(xw, h, w[1], b_hh);
            break;
          case Kind::lstm: {
            LSTMState next = lstm_step(xw, h, c, w[1], b_hh);
            h = w_hr.defined() ? linear(next.h, w_hr, Tensor()) : next.h;
            c = next.c;
            break;
          }
        }
        outs[t] = h;
      }
      auto gather_rows = [](const Tensor& last, std::vector<Tensor>& ended) {
        if (ended.empty()) return last;
        ended.push_back(last);
        std::reverse(ended.begin(), ended.end());
        return cat(ended, 0);
      };
      h_last.push_back(gather_rows(h, ended_h));
      if (kind_ == Kind::lstm) c_last.push_back(gather_rows(c, ended_c));
      dir_out.push_back(std::move(outs));
    }
    for (std::size_t t = 0; t < static_cast<std::size_t>(steps); ++t) {
      st.in[t] = dirs == 1 ? dir_out[0][t] : cat({dir_out[0][t], dir_out[1][t]}, 1);
      if (o.dropout > 0 && is_training() && l + 1 < o.num_layers)
        st.in[t] = step_dropout(st.in[t], o.dropout, o.generator.get());
    }
  }
  st.h_n = stack(h_last, 0);
  if (kind_ == Kind::lstm) st.c_n = stack(c_last, 0);
}

LSTMOutput RNNBase::run(const Tensor& x, const Tensor& h0, const Tensor& c0) {
  const std::string& name = type_name();
  const RNNOptions& o = options_;
  if (!x.defined()) throw ValueError(name + ": the input is undefined");
  const std::string layout = o.batch_first ? "[B, T, " : "[T, B, ";
  if (x.dim() != 2 && x.dim() != 3)
    throw ShapeError(name + ": expected an input " + layout + std::to_string(o.input_size) + "] or [T, " +
                     std::to_string(o.input_size) + "], got " + x.shape().str());
  if (x.size(-1) != o.input_size)
    throw ShapeError(name + ": input has " + std::to_string(x.size(-1)) + " features, expected input_size " +
                     std::to_string(o.input_size) + ": input " + x.shape().str());
  check_float(name, x, "input");
  const bool unbatched = x.dim() == 2;
  const Tensor seq = unbatched ? unsqueeze(x, 1) : o.batch_first ? transpose(x, 0, 1) : x;  // [T, B, in]
  const int64_t steps = seq.size(0), batch = seq.size(1);
  if (steps == 0) throw ValueError(name + ": the sequence is empty: input " + x.shape().str());
  const int64_t out_h = o.proj_size > 0 ? o.proj_size : o.hidden_size;
  const Tensor h_init = check_state(h0, "h0", batch, out_h, unbatched, x.shape());
  const Tensor c_init = check_state(c0, "c0", batch, o.hidden_size, unbatched, x.shape());

  // Layers pass per-step lists [B, F] to each other: slicing a sequence tensor that requires grad
  // costs a full-size gradient per step in backward, so it is done once (split_steps), not per layer.
  Steps st;
  st.sizes.assign(static_cast<std::size_t>(steps), batch);
  st.in = split_steps(reshape(seq, {steps * batch, o.input_size}), st.sizes);
  run_steps(st, h_init, c_init);

  LSTMOutput out;
  out.output = reshape(cat(st.in, 0), {steps, batch, -1});  // [T, B, D H]
  out.h_n = st.h_n;
  out.c_n = st.c_n;
  if (unbatched) {
    out.output = squeeze(out.output, 1);
    out.h_n = squeeze(out.h_n, 1);
    if (out.c_n.defined()) out.c_n = squeeze(out.c_n, 1);
  } else if (o.batch_first) {
    out.output = transpose(out.output, 0, 1);
  }
  return out;
}

PackedLSTMOutput RNNBase::run_packed(const PackedSequence& x, const Tensor& h0, const Tensor& c0) {
  const std::string& name = type_name();
  const RNNOptions& o = options_;
  if (!x.data.defined() || x.data.dim() != 2 || x.data.size(1) != o.input_size)
    throw ShapeError(
        name + ": a packed input's data must be [N, input_size = " + std::to_string(o.input_size) +
        "], got " + (x.data.defined() ? x.data.shape().str() : std::string("an undefined tensor")));
  check_float(name, x.data, "input");
  const std::vector<int64_t> sizes = x.batch_size_vector();
  int64_t total = 0;
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    if (sizes[t] <= 0 || (t > 0 && sizes[t] > sizes[t - 1]))
      throw ValueError(name + ": a packed input's batch_sizes must be positive and non-increasing, got " +
                       x.batch_sizes.shape().str() + " batch_sizes");
    total += sizes[t];
  }
  if (sizes.empty() || total != x.data.size(0))
    throw ShapeError(name + ": a packed input's batch_sizes add up to " + std::to_string(total) +
                     ", its data has " + std::to_string(x.data.size(0)) + " rows");
  const int64_t batch = sizes[0];
  const bool permuted = x.sorted_indices.defined();
  if (permuted && (x.sorted_indices.numel() != batch || !x.unsorted_indices.defined() ||
                   x.unsorted_indices.numel() != batch))
    throw ShapeError(name + ": a packed input's sorted_indices and unsorted_indices must both have " +
                     std::to_string(batch) + " entries (the batch)");
  const int64_t out_h = o.proj_size > 0 ? o.proj_size : o.hidden_size;
  const Shape described{total, o.input_size};
  Tensor h_init = check_state(h0, "h0", batch, out_h, false, described);
  Tensor c_init = check_state(c0, "c0", batch, o.hidden_size, false, described);
  if (permuted) {  // the states come in the original order; the steps hold sorted rows
    if (h_init.defined()) h_init = index_select(h_init, 1, x.sorted_indices);
    if (c_init.defined()) c_init = index_select(c_init, 1, x.sorted_indices);
  }
  Steps st;
  st.sizes = sizes;
  st.in = split_steps(x.data, sizes);
  run_steps(st, h_init, c_init);
  PackedLSTMOutput out;
  out.output = {cat(st.in, 0), x.batch_sizes, x.sorted_indices, x.unsorted_indices};
  out.h_n = permuted ? index_select(st.h_n, 1, x.unsorted_indices) : st.h_n;
  if (st.c_n.defined()) out.c_n = permuted ? index_select(st.c_n, 1, x.unsorted_indices) : st.c_n;
  return out;
}

std::string RNNBase::extra_repr() const {
  const RNNOptions& o = options_;
  std::ostringstream s;
  s << o.input_size << ", " << o.hidden_size;
  if (o.num_layers != 1) s << ", num_layers=" << o.num_layers;
  if (kind_ == Kind::rnn && o.nonlinearity == RNNActivation::relu) s << ", nonlinearity=relu";
  if (!o.bias) s << ", bias=false";
  if (o.batch_first) s << ", batch_first=true";
  if (o.dropout != 0) s << ", dropout=" << o.dropout;
  if (o.bidirectional) s << ", bidirectional=true";
  if (o.proj_size > 0) s << ", proj_size=" << o.proj_size;
  return s.str();
}

RNN::RNN(RNNOptions options) : RNNBase("RNN", Kind::rnn, options) {}
Tensor RNN::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return run(x, Tensor(), Tensor()).output;
}
RNNOutput RNN::forward(const Tensor& x, const Tensor& h0) {
  const ModuleScope scope(*this);
  LSTMOutput r = run(x, h0, Tensor());
  return {r.output, r.h_n};
}
PackedRNNOutput RNN::forward(const PackedSequence& x, const Tensor& h0) {
  const ModuleScope scope(*this);
  PackedLSTMOutput r = run_packed(x, h0, Tensor());
  return {r.output, r.h_n};
}

LSTM::LSTM(RNNOptions options) : RNNBase("LSTM", Kind::lstm, options) {}
Tensor LSTM::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return run(x, Tensor(), Tensor()).output;
}
LSTMOutput LSTM::forward(const Tensor& x, const LSTMState& state) {
  const ModuleScope scope(*this);
  return run(x, state.h, state.c);
}
PackedLSTMOutput LSTM::forward(const PackedSequence& x, const LSTMState& state) {
  const ModuleScope scope(*this);
  return run_packed(x, state.h, state.c);
}

GRU::GRU(RNNOptions options) : RNNBase("GRU", Kind::gru, options) {}
Tensor GRU::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return run(x, Tensor(), Tensor()).output;
}
RNNOutput GRU::forward(const Tensor& x, const Tensor& h0) {
  const ModuleScope scope(*this);
  LSTMOutput r = run(x, h0, Tensor());
  return {r.output, r.h_n};
}
PackedRNNOutput GRU::forward(const PackedSequence& x, const Tensor& h0) {
  const ModuleScope scope(*this);
  PackedLSTMOutput r = run_packed(x, h0, Tensor());
  return {r.output, r.h_n};
}

}  // namespace xg::nn
