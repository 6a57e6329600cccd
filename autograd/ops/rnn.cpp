// Fused LSTM cell arithmetic. An LSTM step written with single ops records about a dozen nodes
// (chunk, three sigmoids, two tanhs, products, sums) and each chunk's backward writes a zero-filled
// copy of the gates; these two primitives do the cell's element-wise part in one sweep each and
// write the gate gradient once. Gates are [..., 4H] in PyTorch's order i, f, g, o.
//   lstm_cell_c(gates, c)  = sigmoid(f) * c + sigmoid(i) * tanh(g)      (the next cell state)
//   lstm_cell_h(gates, c') = sigmoid(o) * tanh(c')                       (the next hidden state)
// First derivatives run as fused kernels. Under create_graph the backward is written with
// differentiable ops instead, so second and higher derivatives still work.
#include <algorithm>
#include <string>
#include <vector>

#include "xgrad/autograd/capture/recorder.hpp"
#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/kernels/parallel.hpp"
#include "xgrad/autograd/kernels/simd_math.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/grad_mode.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

using detail::Domain;
using detail::sample_tensor;

namespace {

// H, the hidden size, after checking gates [..., 4H] against state [..., H].
int64_t check_cell(const Tensor& gates, const Tensor& state, const char* op, const char* state_name) {
  if (!gates.defined() || !state.defined()) throw ValueError(std::string(op) + ": an operand is undefined");
  if (!gates.is_floating_point() || gates.dtype() != state.dtype())
    throw TypeError(std::string(op) + ": expected float gates and " + state_name + " of one dtype, got " +
                    dtype_name(gates.dtype()) + " and " + dtype_name(state.dtype()));
  const int r = gates.dim();
  bool ok = r >= 1 && state.dim() == r && gates.size(-1) == 4 * state.size(-1);
  for (int i = 0; ok && i < r - 1; ++i) ok = gates.size(i) == state.size(i);
  if (!ok)
    throw ShapeError(std::string(op) + ": expected gates [..., 4H] and " + state_name +
                     " [..., H] with equal leading axes, got " + gates.shape().str() + " and " +
                     state.shape().str());
  return state.size(-1);
}

// Rows of the cell in chunks over the pool, of at least ~4K gate values (8 rows at H = 128): the
// pool's spinning workers take a chunk over quickly, and the LSTM benchmark (gates [32, 512]) ran
// 5.55 ms per step against 6.6 with the earlier 16K (one chunk, inline). Per row: sigmoid / tanh
// of the gate slices a kernel needs into scratch, then the element-wise formula.
int64_t row_grain(int64_t h) {
  return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, 4 * h));
}

// Per-thread scratch for one row's activations (a: up to 2H values, b: H values), kept between
// calls so that an LSTM step allocates nothing beyond its outputs.
template <class T>
struct RowScratch {
  T *a, *b;
  explicit RowScratch(int64_t h) {
    thread_local std::vector<T> buf;
    const auto need = static_cast<std::size_t>(3 * h);
    if (buf.size() < need) buf.resize(need);
    a = buf.data();
    b = a + 2 * h;
  }
};

Tensor narrow_gate(const Tensor& gates, int64_t k, int64_t h) {
  return narrow(gates, -1, k * h, h);
}

// The cell kernels as functions of raw buffers: eager calls them, and a captured plan
// (autograd/capture) replays the same functions on its buffers. d* may be null (not wanted).
template <class T>
void cell_c_exec(const T* gp, const T* cp, T* yp, int64_t rows, int64_t h) {
  detail::parallel_for(rows, row_grain(h), [&](int64_t lo, int64_t hi) {
    RowScratch<T> s(h);  // a: sigmoid(i), sigmoid(f); b: tanh(g)
    for (int64_t r = lo; r < hi; ++r) {
      const T* g = gp + r * 4 * h;
      simd::sigmoid(g, s.a, 2 * h);
      simd::tanh(g + 2 * h, s.b, h);
      const T *cr = cp + r * h, *si = s.a, *sf = si + h, *tg = s.b;
      T* out = yp + r * h;
      for (int64_t j = 0; j < h; ++j) out[j] = sf[j] * cr[j] + si[j] * tg[j];
    }
  });
}
template <class T>
void cell_h_exec(const T* gp, const T* cp, T* yp, int64_t rows, int64_t h) {
  detail::parallel_for(rows, row_grain(h), [&](int64_t lo, int64_t hi) {
    RowScratch<T> s(h);  // a: sigmoid(o); b: tanh(c')
    for (int64_t r = lo; r < hi; ++r) {
      simd::sigmoid(gp + r * 4 * h + 3 * h, s.a, h);
      simd::tanh(cp + r * h, s.b, h);
      T* out = yp + r * h;
      for (int64_t j = 0; j < h; ++j) out[j] = s.a[j] * s.b[j];
    }
  });
}
template <class T>
void cell_c_backward_exec(const T* gp, const T* cp, const T* gcp, T* dgp, T* dcp, int64_t rows, int64_t h) {
  detail::parallel_for(rows, row_grain(h), [&](int64_t lo, int64_t hi) {
    RowScratch<T> s(h);
    for (int64_t r = lo; r < hi; ++r) {
      const T* g = gp + r * 4 * h;
      simd::sigmoid(g, s.a, 2 * h);
      const T *si = s.a, *sf = si + h, *cr = cp + r * h, *gr = gcp + r * h;
      if (dcp)
        for (int64_t j = 0; j < h; ++j) dcp[r * h + j] = gr[j] * sf[j];
      if (!dgp) continue;
      simd::tanh(g + 2 * h, s.b, h);
      const T* tg = s.b;
      T* d = dgp + r * 4 * h;
      for (int64_t j = 0; j < h; ++j) {
        d[j] = gr[j] * tg[j] * si[j] * (T(1) - si[j]);
        d[h + j] = gr[j] * cr[j] * sf[j] * (T(1) - sf[j]);
        d[2 * h + j] = gr[j] * si[j] * (T(1) - tg[j] * tg[j]);
        d[3 * h + j] = T(0);
      }
    }
  });
}
template <class T>
void cell_h_backward_exec(const T* gp, const T* cp, const T* ghp, T* dgp, T* dcp, int64_t rows, int64_t h) {
  detail::parallel_for(rows, row_grain(h), [&](int64_t lo, int64_t hi) {
    RowScratch<T> s(h);
    for (int64_t r = lo; r < hi; ++r) {
      simd::sigmoid(gp + r * 4 * h + 3 * h, s.a, h);
      simd::tanh(cp + r * h, s.b, h);
      const T *so = s.a, *tc = s.b, *gr = ghp + r * h;
      if (dcp)
        for (int64_t j = 0; j < h; ++j) dcp[r * h + j] = gr[j] * so[j] * (T(1) - tc[j] * tc[j]);
      if (!dgp) continue;
      T* d = dgp + r * 4 * h;
      std::fill(d, d + 3 * h, T(0));
      for (int64_t j = 0; j < h; ++j) d[3 * h + j] = gr[j] * tc[j] * so[j] * (T(1) - so[j]);
    }
  });
}
template <class T>
void cell_c_replay(const capture_detail::Kernel& k) {
  cell_c_exec(static_cast<const T*>(k.buf[0]), static_cast<const T*>(k.buf[1]), static_cast<T*>(k.buf[2]),
              k.n[0], k.n[1]);
}
template <class T>
void cell_h_replay(const capture_detail::Kernel& k) {
  cell_h_exec(static_cast<const T*>(k.buf[0]), static_cast<const T*>(k.buf[1]), static_cast<T*>(k.buf[2]),
              k.n[0], k.n[1]);
}
// Backward buffers: gates, c, grad, then the wanted outputs (n[2], n[3]: dg, dc wanted).
template <class T, void (*Exec)(const T*, const T*, const T*, T*, T*, int64_t, int64_t)>
void cell_backward_replay(const capture_detail::Kernel& k) {
  T* dg = k.n[2] ? static_cast<T*>(k.buf[3]) : nullptr;
  T* dc = k.n[3] ? static_cast<T*>(k.buf[k.n[2] ? 4 : 3]) : nullptr;
  Exec(static_cast<const T*>(k.buf[0]), static_cast<const T*>(k.buf[1]), static_cast<const T*>(k.buf[2]), dg,
       dc, k.n[0], k.n[1]);
}
template <class T>
void cell_c_backward_replay(const capture_detail::Kernel& k) {
  cell_backward_replay<T, cell_c_backward_exec<T>>(k);
}
template <class T>
void cell_h_backward_replay(const capture_detail::Kernel& k) {
  cell_backward_replay<T, cell_h_backward_exec<T>>(k);
}
void emit_cell_backward(const char* op, capture_detail::KernelFn fn, const Tensor& gates, const Tensor& c,
                        const Tensor& g, const Tensor& dg, const Tensor& dc, int64_t rows, int64_t h) {
  using capture_detail::R, capture_detail::W;
  const int64_t want_g = dg.defined(), want_c = dc.defined();
  if (want_g && want_c)
    capture_detail::emit(op, fn, {R(gates), R(c), R(g), W(dg), W(dc)}, {rows, h, want_g, want_c});
  else if (want_g)
    capture_detail::emit(op, fn, {R(gates), R(c), R(g), W(dg)}, {rows, h, want_g, want_c});
  else if (want_c)
    capture_detail::emit(op, fn, {R(gates), R(c), R(g), W(dc)}, {rows, h, want_g, want_c});
}
}  // namespace

std::vector<OpSample> cell_samples(Tensor (*f)(const Tensor&, const Tensor&)) {
  auto call = [f](std::span<const Tensor> in) { return f(in[0], in[1]); };
  return {
      {"gates [3, 8], state [3, 2]",
       {sample_tensor({3, 8}, Domain::real, 1), sample_tensor({3, 2}, Domain::real, 2)},
       call},
      {"unbatched gates [12], state [3]",
       {sample_tensor({12}, Domain::real, 3), sample_tensor({3}, Domain::real, 4)},
       call},
      {"gates [2, 1, 4], state [2, 1, 1]",
       {sample_tensor({2, 1, 4}, Domain::real, 5), sample_tensor({2, 1, 1}, Domain::real, 6)},
       call},
      {"no rows: gates [0, 8], state [0, 2]",
       {sample_tensor({0, 8}, Domain::real, 7), sample_tensor({0, 2}, Domain::real, 8)},
       call},
  };
}
XG_OP(lstm_cell_c,
      {.formula = "c' = s(f) c + s(i) tanh(g): di = gc tanh(g) s(i)(1 - s(i)), df = gc c s(f)(1 - s(f)), "
                  "dg = gc s(i)(1 - tanh(g)^2), do = 0, dc = gc s(f)",
       .kind = OpKind::primitive,
       .samples = [] { return cell_samples(lstm_cell_c); },
       .torch = "lambda gates, c: torch.sigmoid(gates.chunk(4, -1)[1]) * c + torch.sigmoid(gates.chunk(4, "
                "-1)[0]) * torch.tanh(gates.chunk(4, -1)[2])"});
XG_OP(lstm_cell_h, {.formula = "h' = s(o) tanh(c'): do = gh tanh(c') s(o)(1 - s(o)), di = df = dg = 0, dc' = "
                               "gh s(o)(1 - tanh(c')^2)",
                    .kind = OpKind::primitive,
                    .samples = [] { return cell_samples(lstm_cell_h); },
                    .torch = "lambda gates, c: torch.sigmoid(gates.chunk(4, -1)[3]) * torch.tanh(c)"});

Tensor lstm_cell_c(const Tensor& gates, const Tensor& c) {
  const int64_t h = check_cell(gates, c, "lstm_cell_c", "the cell state");
  const int64_t rows = h == 0 ? 0 : c.numel() / h;
  Tensor y = detail::new_tensor(c.shape(), c.dtype());
  detail::visit_float(c.dtype(), "lstm_cell_c", [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit("lstm_cell_c", cell_c_replay<T>,
                           {capture_detail::R(gates), capture_detail::R(c), capture_detail::W(y)}, {rows, h});
    cell_c_exec(gates.data<T>(), c.data<T>(), y.data<T>(), rows, h);
  });
  return record(
      opdefs::lstm_cell_c_op, y, {gates, c},
      [sg = save_input(gates), sc = save_input(c), h](const Node& nd, const Tensor& gc,
                                                      std::span<Tensor> gx) {
        const Tensor gates = sg.unpack(nd), c = sc.unpack(nd);
        if (GradMode::is_enabled()) {  // create_graph: the same formulas, as differentiable ops
          const Tensor si = sigmoid(narrow_gate(gates, 0, h)), sf = sigmoid(narrow_gate(gates, 1, h));
          const Tensor tg = tanh(narrow_gate(gates, 2, h));
          if (nd.needs_input_grad(0))
            gx[0] = concat({gc * tg * si * (1.0 - si), gc * c * sf * (1.0 - sf), gc * si * (1.0 - tg * tg),
                            zeros_like(c)},
                           -1);
          if (nd.needs_input_grad(1)) gx[1] = gc * sf;
          return;
        }
        const bool want_gates = nd.needs_input_grad(0), want_c = nd.needs_input_grad(1);
        Tensor dg = want_gates ? detail::new_tensor(gates.shape(), gates.dtype()) : Tensor();
        Tensor dc = want_c ? detail::new_tensor(c.shape(), c.dtype()) : Tensor();
        const int64_t rows = h == 0 ? 0 : c.numel() / h;
        detail::visit_float(c.dtype(), "lstm_cell_c", [&]<class T>() {
          if (capture_detail::recorder) [[unlikely]]
            emit_cell_backward("lstm_cell_c_backward", cell_c_backward_replay<T>, gates, c, gc, dg, dc, rows,
                               h);
          cell_c_backward_exec(gates.data<T>(), c.data<T>(), gc.data<T>(),
                               want_gates ? dg.data<T>() : nullptr, want_c ? dc.data<T>() : nullptr, rows, h);
        });
        gx[0] = dg;
        gx[1] = dc;
      },
      [&](std::span<const Tensor> t) {
        const Tensor si = sigmoid(narrow_gate(gates, 0, h)), sf = sigmoid(narrow_gate(gates, 1, h));
        const Tensor tg = tanh(narrow_gate(gates, 2, h));
        Tensor r;
        if (t[0].defined())
          r = narrow_gate(t[0], 0, h) * tg * si * (1.0 - si) + narrow_gate(t[0], 1, h) * c * sf * (1.0 - sf) +
              narrow_gate(t[0], 2, h) * si * (1.0 - tg * tg);
        return detail::tangent_sum(r, detail::tmul(t[1], sf));
      });
}

Tensor lstm_cell_h(const Tensor& gates, const Tensor& c) {
  const int64_t h = check_cell(gates, c, "lstm_cell_h", "the new cell state");
  const int64_t rows = h == 0 ? 0 : c.numel() / h;
  Tensor y = detail::new_tensor(c.shape(), c.dtype());
  detail::visit_float(c.dtype(), "lstm_cell_h", [&]<class T>() {
    if (capture_detail::recorder) [[unlikely]]
      capture_detail::emit("lstm_cell_h", cell_h_replay<T>,
                           {capture_detail::R(gates), capture_detail::R(c), capture_detail::W(y)}, {rows, h});
    cell_h_exec(gates.data<T>(), c.data<T>(), y.data<T>(), rows, h);
  });
  return record(
      opdefs::lstm_cell_h_op, y, {gates, c},
      [sg = save_input(gates), sc = save_input(c), h](const Node& nd, const Tensor& gh,
                                                      std::span<Tensor> gx) {
        const Tensor gates = sg.unpack(nd), c = sc.unpack(nd);
        if (GradMode::is_enabled()) {  // create_graph: the same formulas, as differentiable ops
          const Tensor so = sigmoid(narrow_gate(gates, 3, h)), tc = tanh(c);
          if (nd.needs_input_grad(0)) {
            const Tensor z = zeros_like(c);
            gx[0] = concat({z, z, z, gh * tc * so * (1.0 - so)}, -1);
          }
          if (nd.needs_input_grad(1)) gx[1] = gh * so * (1.0 - tc * tc);
          return;
        }
        const bool want_gates = nd.needs_input_grad(0), want_c = nd.needs_input_grad(1);
        Tensor dg = want_gates ? detail::new_tensor(gates.shape(), gates.dtype()) : Tensor();
        Tensor dc = want_c ? detail::new_tensor(c.shape(), c.dtype()) : Tensor();
        const int64_t rows = h == 0 ? 0 : c.numel() / h;
        detail::visit_float(c.dtype(), "lstm_cell_h", [&]<class T>() {
          if (capture_detail::recorder) [[unlikely]]
            emit_cell_backward("lstm_cell_h_backward", cell_h_backward_replay<T>, gates, c, gh, dg, dc, rows,
                               h);
          cell_h_backward_exec(gates.data<T>(), c.data<T>(), gh.data<T>(),
                               want_gates ? dg.data<T>() : nullptr, want_c ? dc.data<T>() : nullptr, rows, h);
        });
        gx[0] = dg;
        gx[1] = dc;
      },
      [&](std::span<const Tensor> t) {
        const Tensor so = sigmoid(narrow_gate(gates, 3, h)), tc = tanh(c);
        Tensor r = t[0].defined() ? narrow_gate(t[0], 3, h) * tc * so * (1.0 - so) : Tensor();
        return detail::tangent_sum(r, detail::tmul(t[1], so * (1.0 - tc * tc)));
      });
}

}  // namespace xg
