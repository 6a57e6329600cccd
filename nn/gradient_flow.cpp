#include "xgrad/nn/gradient_flow.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "xgrad/autograd/tape/grad_mode.hpp"

namespace xg::nn {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double l2(const Tensor& t) {
  double s = 0;
  for (double v : t.to_vector<double>()) s += v * v;
  return std::sqrt(s);
}

const char* const kColumns[] = {
    "mean", "std", "zero_fraction", "saturated_fraction", "grad_output_norm", "param_grad_norm"};
}  // namespace

// What the hooks of one layer saw in the current step.
struct GradientFlow::Layer {
  std::string name;
  ModulePtr module;
  bool sigmoid = false, tanh = false;
  double mean = kNaN, std = kNaN, zeros = kNaN, saturated = kNaN, grad_out_sq = 0;
  std::vector<RemovableHandle> handles;
  void clear() {
    mean = std = zeros = saturated = kNaN;
    grad_out_sq = 0;
  }
};

GradientFlow::GradientFlow(Module& model, GradientFlowOptions options) : options_(std::move(options)) {
  if (!(options_.saturation > 0.5 && options_.saturation < 1))
    throw ValueError("GradientFlow: saturation must be in (0.5, 1), got " +
                     std::to_string(options_.saturation));
  for (const auto& [name, m] : model.named_modules()) {
    const bool wanted = options_.types.empty() ? m->children().empty()
                                               : std::find(options_.types.begin(), options_.types.end(),
                                                           m->type_name()) != options_.types.end();
    if (!wanted) continue;
    auto layer = std::make_shared<Layer>();
    layer->name = name;
    layer->module = m;
    layer->sigmoid = m->type_name() == "Sigmoid";
    layer->tanh = m->type_name() == "Tanh";
    const double s = options_.saturation;
    layers_.push_back(layer);
    Layer* l = layer.get();
    layer->handles.push_back(m->register_forward_hook([l, s](Module&, const Tensor&, const Tensor& y) {
      if (!GradMode::is_enabled() || !y.defined()) return Tensor();  // evaluations are not steps
      const std::vector<double> v = y.to_vector<double>();
      const double n = static_cast<double>(v.size());
      double sum = 0, zeros = 0, sat = 0;
      for (double x : v) {
        sum += x;
        zeros += x == 0;
        sat += l->sigmoid ? (x <= 1 - s || x >= s) : std::abs(x) >= s;
      }
      l->mean = v.empty() ? kNaN : sum / n;
      double sq = 0;
      for (double x : v) sq += (x - l->mean) * (x - l->mean);
      l->std = v.size() > 1 ? std::sqrt(sq / (n - 1)) : kNaN;
      l->zeros = v.empty() ? kNaN : zeros / n;
      l->saturated = (l->sigmoid || l->tanh) && !v.empty() ? sat / n : kNaN;
      return Tensor();
    }));
    layer->handles.push_back(m->register_full_backward_hook([l](Module&, const Tensor&, const Tensor& g) {
      if (g.defined()) {
        const double norm = l2(g);
        l->grad_out_sq += norm * norm;  // a module called twice in a step: both gradients count
      }
      return Tensor();
    }));
  }
  if (layers_.empty())
    throw ValueError("GradientFlow: no module of " + model.type_name() + " matches the types asked for");
}

GradientFlow::~GradientFlow() {
  detach();
}

void GradientFlow::detach() {
  for (auto& l : layers_)
    for (auto& h : l->handles) h.remove();
}

void GradientFlow::step() {
  for (auto& l : layers_) {
    double sq = 0;
    for (const Tensor& p : l->module->parameters(false))
      if (Tensor g = p.grad(); g.defined()) sq += std::pow(l2(g), 2);
    records_.push_back({steps_, l->name, l->module->type_name(), l->mean, l->std, l->zeros, l->saturated,
                        std::sqrt(l->grad_out_sq), std::sqrt(sq)});
    l->clear();
  }
  ++steps_;
}

std::vector<std::string> GradientFlow::layers() const {
  std::vector<std::string> names;
  for (const auto& l : layers_) names.push_back(l->name);
  return names;
}

std::vector<LayerFlow> GradientFlow::layer(const std::string& name) const {
  bool known = false;
  for (const auto& l : layers_) known = known || l->name == name;
  if (!known) throw IndexError("GradientFlow: no layer named '" + name + "' is followed");
  std::vector<LayerFlow> out;
  for (const auto& r : records_)
    if (r.layer == name) out.push_back(r);
  return out;
}

namespace {
void write_records(const std::string& path, const std::vector<LayerFlow>& records) {
  std::ofstream o(path);
  if (!o) throw IOError("GradientFlow: cannot write '" + path + "'");
  o << "step,layer,type";
  for (const char* c : kColumns) o << ',' << c;
  o << '\n';
  o.precision(10);
  for (const auto& r : records)
    o << r.step << ',' << r.layer << ',' << r.type << ',' << r.mean << ',' << r.std << ',' << r.zero_fraction
      << ',' << r.saturated_fraction << ',' << r.grad_output_norm << ',' << r.param_grad_norm << '\n';
  if (!o) throw IOError("GradientFlow: error writing '" + path + "'");
}
}  // namespace

void GradientFlow::write_csv(const std::string& path) const {
  write_records(path, records_);
}

bool gnuplot_available() {
  return std::system("command -v gnuplot >/dev/null 2>&1") == 0;
}

bool GradientFlow::plot(const std::string& path, const std::string& column, const std::string& title) const {
  int col = -1;
  for (int i = 0; i < 6; ++i)
    if (column == kColumns[i]) col = i + 4;  // 1-based, after step, layer and type
  if (col < 0)
    throw ValueError("GradientFlow::plot: unknown column '" + column +
                     "' (mean, std, zero_fraction, saturated_fraction, grad_output_norm, param_grad_norm)");
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext != ".svg" && ext != ".png")
    throw ValueError("GradientFlow::plot: '" + path + "' must end in .svg or .png");
  if (!gnuplot_available()) return false;
  const std::string csv = path + ".csv", script = path + ".gp";
  // Layer by layer: gnuplot joins only the consecutive points of a curve.
  std::vector<LayerFlow> by_layer;
  for (const auto& l : layers_)
    for (const auto& r : records_)
      if (r.layer == l->name) by_layer.push_back(r);
  write_records(csv, by_layer);
  std::ostringstream g;
  g << (ext == ".svg" ? "set terminal svg size 800,500 noenhanced font 'sans,11' background '#ffffff'\n"
                      : "set terminal pngcairo size 800,500 noenhanced\n")
    << "set output '" << path << "'\nset datafile separator ','\nset key outside right\n"
    << "set title '" << (title.empty() ? column + " per layer" : title)
    << "'\nset xlabel 'step'\nset ylabel '" << column << "'\n";
  if (column.size() > 5 && column.compare(column.size() - 5, 5, "_norm") == 0) g << "set logscale y\n";
  g << "plot";
  for (std::size_t i = 0; i < layers_.size(); ++i)
    g << (i ? ", \\\n  " : " ") << "'" << csv << "' using 1:(strcol(2) eq '" << layers_[i]->name << "' ? $"
      << col << " : NaN) with lines lw 2 title '" << layers_[i]->name << "'";
  g << '\n';
  std::ofstream(script) << g.str();
  const int rc = std::system(("gnuplot '" + script + "' >/dev/null 2>&1").c_str());
  std::filesystem::remove(script);
  if (rc != 0) throw IOError("GradientFlow::plot: gnuplot failed to draw '" + path + "'");
  return true;
}

}  // namespace xg::nn
