#include "xgrad/autograd/tape/forward_ad.hpp"

#include <atomic>
#include <string>
#include <vector>

#include "xgrad/autograd/kernels/loops.hpp"
#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/tape/node.hpp"

namespace xg {

namespace detail {
[[gnu::tls_model("initial-exec")]] constinit thread_local uint64_t fw_level = 0;

namespace {
std::atomic<uint64_t> next_level{1};
// The level of the DualLevel open on this thread (fw_level is 0 inside a JVP rule, this is not).
thread_local uint64_t open_level = 0;
// Nodes holding an output tangent of the open level (see register_tangent_node).
thread_local std::vector<std::weak_ptr<Node>> tangent_nodes;
// Tensors holding a tangent of the open level (see register_tangent_tensor).
thread_local std::vector<std::weak_ptr<TensorImpl>> tangent_tensors;
}  // namespace

void register_tangent_node(Node& node) {
  if (open_level) tangent_nodes.push_back(node.weak_from_this());
}
void register_tangent_tensor(const std::shared_ptr<TensorImpl>& impl) {
  if (open_level && impl) tangent_tensors.push_back(impl);
}

Tensor tangent_of(const Tensor& t) {
  const TensorImpl* impl = t.get();
  if (!impl || !impl->fw_tangent || impl->fw_level != fw_level) return Tensor();
  return Tensor(impl->fw_tangent);
}

bool any_tangent(std::span<const Tensor> inputs) {
  for (const Tensor& t : inputs) {
    const TensorImpl* impl = t.get();
    if (impl && impl->fw_tangent && impl->fw_level == fw_level) return true;
  }
  return false;
}

void set_tangent(const Tensor& out, const Tensor& tangent) {
  TensorImpl& o = *out.impl();
  const uint64_t level = fw_level;
  if (!tangent.defined() || !is_floating(o.dtype) || level == 0) {
    if (o.fw_level == level) o.fw_tangent.reset();
    return;
  }
  Tensor t = tangent;
  {
    JvpRuleGuard off;
    if (!(t.shape() == o.shape)) t = expand(t, o.shape).clone();
    if (t.dtype() != o.dtype) t = t.to(o.dtype);
  }
  o.fw_tangent = t.impl();
  o.fw_level = level;
  register_tangent_tensor(out.impl());
  if (o.grad_fn) o.grad_fn->set_output_tangent(o.output_nr, o.fw_tangent, level);
}

void throw_no_jvp(const char* op) {
  throw ValueError(std::string("forward-mode AD: op '") + op +
                   "' has no JVP rule (its input carries a tangent of a forward_ad::DualLevel)");
}

void check_no_tangent_inplace(const Tensor& self, const Tensor& other, const char* op) {
  if (!fw_level) return;
  if (tangent_of(self).defined() || (other.defined() && tangent_of(other).defined()))
    throw ValueError(std::string("forward-mode AD: in-place ") + op +
                     " on a dual tensor (or with a dual operand) is not supported; use the out-of-place op");
}

Tensor tangent_sum(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a + b;
}
Tensor tmul(const Tensor& t, const Tensor& d) {
  return t.defined() ? t * d : Tensor();
}
}  // namespace detail

namespace forward_ad {

DualLevel::DualLevel() {
  if (detail::open_level != 0)
    throw ValueError("forward_ad::DualLevel: a dual level is already active on this thread (level " +
                     std::to_string(detail::open_level) + "); nested levels are not supported");
  id_ = detail::next_level.fetch_add(1, std::memory_order_relaxed);
  detail::open_level = id_;
  detail::fw_level = id_;
}

DualLevel::~DualLevel() {
  // Tangents made at this level stay on their tensors but no longer match any level: ignored.
  // Nodes drop theirs: a tangent's graph may hold the node that keeps it (a cycle otherwise).
  detail::open_level = 0;
  std::vector<std::weak_ptr<Node>> nodes = std::move(detail::tangent_nodes);
  detail::tangent_nodes.clear();
  for (auto& w : nodes)
    if (auto n = w.lock()) n->clear_output_tangents();
  std::vector<std::weak_ptr<TensorImpl>> tensors = std::move(detail::tangent_tensors);
  detail::tangent_tensors.clear();
  for (auto& w : tensors)
    if (auto t = w.lock())
      if (t->fw_level == id_) t->fw_tangent.reset();
  detail::fw_level = 0;
}

bool is_active() {
  return detail::open_level != 0;
}

namespace {
// Not in the registry: the identity through which a dual (or its primal) shares the graph of the
// tensor it was made from.
constinit const OpInfo make_dual_op =
    detail::OpDefinition::make("make_dual", {.formula = "d/dx make_dual(x, v) = 1"});
constinit const OpInfo unpack_dual_op =
    detail::OpDefinition::make("unpack_dual", {.formula = "d/dx primal(x) = 1"});

Tensor alias_on_graph(const OpInfo& info, const Tensor& x) {
  Tensor y = detail::alias_with_shape(x, x.shape());
  detail::record_node(info, y, std::span<const Tensor>(&x, 1),
                      [](const Node&, const Tensor& g, std::span<Tensor> gx) { gx[0] = g; }, {});
  return y;
}
}  // namespace

Tensor make_dual(const Tensor& primal, const Tensor& tangent) {
  if (!is_active()) throw ValueError("make_dual: no forward_ad::DualLevel is active");
  if (!primal.defined()) throw ValueError("make_dual: the primal is undefined");
  if (!tangent.defined()) throw ValueError("make_dual: the tangent is undefined");
  if (!primal.is_floating_point())
    throw TypeError("make_dual: the primal must be a float tensor, got " +
                    std::string(dtype_name(primal.dtype())));
  if (!tangent.is_floating_point())
    throw TypeError("make_dual: the tangent must be a float tensor, got " +
                    std::string(dtype_name(tangent.dtype())));
  if (!(primal.shape() == tangent.shape()))
    throw ShapeError("make_dual: the tangent's shape " + tangent.shape().str() +
                     " differs from the primal's " + primal.shape().str());
  Tensor y = alias_on_graph(make_dual_op, primal);
  Tensor t = tangent;
  if (t.dtype() != y.dtype()) {
    detail::JvpRuleGuard off;
    t = t.to(y.dtype());
  }
  y.impl()->fw_tangent = t.impl();
  y.impl()->fw_level = detail::open_level;
  detail::register_tangent_tensor(y.impl());
  return y;
}

UnpackedDual unpack_dual(const Tensor& t) {
  if (!t.defined()) throw ValueError("unpack_dual: the tensor is undefined");
  const TensorImpl& impl = *t.impl();
  Tensor tangent;
  if (impl.fw_tangent && detail::open_level != 0 && impl.fw_level == detail::open_level)
    tangent = Tensor(impl.fw_tangent);
  if (!tangent.defined()) return {t, Tensor()};
  return {alias_on_graph(unpack_dual_op, t), tangent};
}

}  // namespace forward_ad
}  // namespace xg
