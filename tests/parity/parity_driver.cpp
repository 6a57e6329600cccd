// The parity driver: evaluates every registered op on its samples, and the layers, losses,
// optimizers and schedulers of cases_nn.cpp / cases_optim.cpp, in float64, and writes what it
// computed into a directory for tests/parity/run_parity.py, which recomputes everything with
// PyTorch and compares. Usage: parity_driver OUTPUT_DIR
//
// Per op sample: the inputs x0, x1, ..., the output, a cotangent g, the VJP (the gradient of
// <out, g> for each input requiring grad), and the double-backward product: for a fixed v_i per
// input, the gradient of sum_i <vjp_i, v_i> with respect to the inputs and g (built with
// create_graph). Non-differentiable ops record their output only. Each sample is recorded a second
// time with NaN in one element of its first floating input (group op_nan: output and VJP).
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "parity.hpp"

namespace parity {

using xg::Tensor;

void Recorder::add(json entry, const xg::NamedTensors& tensors) {
  const std::string file = entry["id"].get<std::string>() + ".safetensors";
  entry["file"] = file;
  xg::NamedTensors plain;  // detached: the files hold values only
  for (const auto& [name, t] : tensors) plain.emplace_back(name, t.detach());
  xg::save_tensors(dir_ + "/" + file, plain);
  cases_.push_back(std::move(entry));
}

void Recorder::finish() const {
  std::ofstream out(dir_ + "/manifest.json");
  out << json{{"format", "xgrad-parity-1"}, {"cases", cases_}}.dump(1) << "\n";
  if (!out) throw xg::IOError("parity: cannot write " + dir_ + "/manifest.json");
}

namespace {
// A private LCG: the values never depend on (or disturb) xgrad's generator.
struct Lcg {
  uint64_t s;
  explicit Lcg(unsigned seed) : s(0x853c49e6748fea9bULL ^ (uint64_t(seed) * 0x9E3779B97F4A7C15ULL)) {}
  double next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(s >> 11) * 0x1.0p-53;
  }
};
}  // namespace

Tensor values(const xg::Shape& shape, unsigned seed, double scale) {
  Lcg g(seed);
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (double& x : v) {
    const double u = g.next(), w = std::max(g.next(), 1e-12);
    x = scale * std::sqrt(-2 * std::log(w)) * std::cos(2 * M_PI * u);
  }
  return xg::tensor(v, shape, {.dtype = xg::Dtype::float64});
}

Tensor input(const xg::Shape& shape, unsigned seed, double scale) {
  return values(shape, seed, scale).requires_grad_(true);
}

Tensor uniform(const xg::Shape& shape, unsigned seed, double lo, double hi) {
  Lcg g(seed);
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (double& x : v) x = lo + (hi - lo) * g.next();
  return xg::tensor(v, shape, {.dtype = xg::Dtype::float64});
}

Tensor indices(const std::vector<int64_t>& v, const xg::Shape& shape) {
  return xg::from_vector(v, shape);
}

Tensor or_zeros(const Tensor& t, const Tensor& like) {
  return t.defined() ? t.detach() : xg::zeros(like.shape(), {.dtype = like.dtype()});
}

namespace {

const char* kind_name(xg::OpKind k) {
  switch (k) {
    case xg::OpKind::primitive:
      return "primitive";
    case xg::OpKind::composite:
      return "composite";
    case xg::OpKind::non_differentiable:
      return "non_differentiable";
  }
  return "?";
}

// One sample of one op: forward, VJP, double-backward product.
void record_sample(Recorder& r, const xg::OpInfo& op, const xg::OpSample& s, std::size_t k, unsigned seed) {
  json e = {{"group", "op"},
            {"id", "op." + std::string(op.name) + indexed(".", k)},
            {"name", op.name},
            {"label", s.label},
            {"torch", op.torch ? json(op.torch) : json(nullptr)},
            {"expr", s.torch},
            {"kind", kind_name(op.kind)}};
  xg::NamedTensors t;
  std::vector<bool> rg;
  json int64_inputs = json::array();
  for (std::size_t i = 0; i < s.inputs.size(); ++i) {
    const Tensor& x = s.inputs[i];
    t.emplace_back(indexed("x", i), x);
    rg.push_back(x.requires_grad());
    if (x.dtype() == xg::Dtype::int64) int64_inputs.push_back(indexed("x", i));
  }
  e["inputs"] = s.inputs.size();
  e["requires_grad"] = rg;
  e["int64_inputs"] = int64_inputs;
  try {
    const Tensor out = s.call(s.inputs);
    t.emplace_back("out", out);
    const bool diff =
        op.kind != xg::OpKind::non_differentiable && out.is_floating_point() && out.requires_grad();
    e["differentiable"] = diff;
    if (diff) {
      std::vector<Tensor> wrt;
      std::vector<std::size_t> at;
      for (std::size_t i = 0; i < s.inputs.size(); ++i)
        if (rg[i]) wrt.push_back(s.inputs[i]), at.push_back(i);
      const Tensor g = values(out.shape(), seed).to(out.dtype()).requires_grad_(true);
      t.emplace_back("g", g);
      const std::vector<Tensor> vjp = xg::grad({out}, wrt, {g}, true, true, true);
      Tensor dot;  // sum_i <vjp_i, v_i>
      for (std::size_t j = 0; j < wrt.size(); ++j) {
        const std::string n = std::to_string(at[j]);
        t.emplace_back("vjp" + n, or_zeros(vjp[j], wrt[j]));
        const Tensor v = values(wrt[j].shape(), seed + 1000 + unsigned(j)).to(wrt[j].dtype());
        t.emplace_back("v" + n, v);
        if (vjp[j].defined() && vjp[j].requires_grad()) {
          const Tensor term = xg::sum(vjp[j] * v);
          dot = dot.defined() ? dot + term : term;
        }
      }
      std::vector<Tensor> all = wrt;
      all.push_back(g);
      std::vector<Tensor> gg(all.size());
      // An op differentiable once (ctc_loss) raises here; the script accepts that only for the
      // ops PyTorch has no double backward for either, and still compares the forward and VJP.
      bool gg_ok = true;
      try {
        if (dot.defined()) gg = xg::grad({dot}, all, {}, false, false, true);
      } catch (const std::exception& ex) {
        e["double_backward_error"] = ex.what();
        gg_ok = false;
      }
      if (gg_ok) {
        for (std::size_t j = 0; j < wrt.size(); ++j)
          t.emplace_back(indexed("gg", at[j]), or_zeros(gg[j], wrt[j]));
        t.emplace_back("ggg", or_zeros(gg.back(), g));
      }
    }
  } catch (const std::exception& ex) {
    e["error"] = ex.what();
  }
  r.add(e, t);
}

// The sample with NaN in one element (the middle one) of its first floating input: NaN must
// appear where PyTorch's appears, in the output and in the VJP (no double backward).
void record_nan_sample(Recorder& r, const xg::OpInfo& op, const xg::OpSample& s, std::size_t k,
                       unsigned seed) {
  std::size_t at = s.inputs.size();
  for (std::size_t i = 0; i < s.inputs.size() && at == s.inputs.size(); ++i)
    if (s.inputs[i].is_floating_point() && s.inputs[i].numel() > 0) at = i;
  if (at == s.inputs.size()) return;
  json e = {{"group", "op_nan"},
            {"id", "op_nan." + std::string(op.name) + indexed(".", k)},
            {"name", op.name},
            {"label", s.label + " (NaN in x" + std::to_string(at) + ")"},
            {"torch", op.torch ? json(op.torch) : json(nullptr)},
            {"expr", s.torch},
            {"kind", kind_name(op.kind)},
            {"inputs", s.inputs.size()}};
  std::vector<Tensor> in = s.inputs;
  {
    const Tensor& x = s.inputs[at];
    std::vector<double> v = x.detach().to(xg::Dtype::float64).to_vector<double>();
    v[v.size() / 2] = NAN;
    in[at] = xg::tensor(v, x.shape(), {.dtype = x.dtype()}).requires_grad_(x.requires_grad());
  }
  xg::NamedTensors t;
  std::vector<bool> rg;
  for (std::size_t i = 0; i < in.size(); ++i) {
    t.emplace_back(indexed("x", i), in[i]);
    rg.push_back(in[i].requires_grad());
  }
  e["requires_grad"] = rg;
  try {
    const Tensor out = s.call(in);
    t.emplace_back("out", out);
    const bool diff =
        op.kind != xg::OpKind::non_differentiable && out.is_floating_point() && out.requires_grad();
    e["differentiable"] = diff;
    if (diff) {
      std::vector<Tensor> wrt;
      std::vector<std::size_t> idx;
      for (std::size_t i = 0; i < in.size(); ++i)
        if (rg[i]) wrt.push_back(in[i]), idx.push_back(i);
      const Tensor g = values(out.shape(), seed).to(out.dtype());
      t.emplace_back("g", g);
      const std::vector<Tensor> vjp = xg::grad({out}, wrt, {g}, false, false, true);
      for (std::size_t j = 0; j < wrt.size(); ++j)
        t.emplace_back("vjp" + std::to_string(idx[j]), or_zeros(vjp[j], wrt[j]));
    }
  } catch (const std::exception& ex) {
    e["error"] = ex.what();
  }
  r.add(e, t);
}

}  // namespace

void add_op_cases(Recorder& r) {
  unsigned seed = 1;
  for (const xg::OpInfo* op : xg::all_ops()) {
    const std::vector<xg::OpSample> samples = op->samples ? op->samples() : std::vector<xg::OpSample>{};
    for (std::size_t k = 0; k < samples.size(); ++k) {
      record_sample(r, *op, samples[k], k, seed += 7);
      record_nan_sample(r, *op, samples[k], k, seed);
    }
  }
}

}  // namespace parity

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: parity_driver OUTPUT_DIR\n";
    return 2;
  }
  try {
    std::filesystem::create_directories(argv[1]);
    parity::Recorder r(argv[1]);
    parity::add_op_cases(r);
    parity::add_nn_cases(r);
    parity::add_optim_cases(r);
    r.finish();
  } catch (const std::exception& ex) {
    std::cerr << "parity_driver: " << ex.what() << "\n";
    return 1;
  }
  return 0;
}
