#include "xgrad/nn/dropout.hpp"

#include "xgrad/nn/functional.hpp"
#include "xgrad/nn/repr.hpp"

namespace xg::nn {

Dropout::Dropout(DropoutOptions o) : Module("Dropout"), options_(o) {
  if (!(o.p >= 0.0 && o.p <= 1.0))
    throw ValueError("Dropout: p must be in [0, 1], got " + detail::repr_double(o.p));
}
Tensor Dropout::forward(const Tensor& x) {
  const ModuleScope scope(*this);
  return functional::dropout(x, options_.p, is_training(), options_.generator.get());
}
std::string Dropout::extra_repr() const {
  return "p=" + detail::repr_double(options_.p);
}

}  // namespace xg::nn
