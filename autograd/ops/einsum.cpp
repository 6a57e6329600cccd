// einsum: a composite of diagonal extraction (reshape + strided slice), sum, permute, expand and
// batched matmul, so its gradients (of every order) come from those ops. Operands are contracted
// pairwise left to right; each pair is one batched gemm.
#include <algorithm>
#include <array>
#include <string>

#include "xgrad/autograd/ops/ops.hpp"
#include "xgrad/autograd/ops/samples.hpp"
#include "xgrad/autograd/tape/op_info.hpp"
#include "xgrad/autograd/tape/scope.hpp"

namespace xg {

using detail::Domain;
using detail::sample_tensor;

namespace {

// Labels 0..51 are the letters (A-Z then a-z, PyTorch's order for the implicit output); ellipsis
// axes get labels 52.. counted so that they align from the right across operands.
constexpr int kEllipsisBase = 52;
constexpr int kNumLetters = 52;

int letter_label(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -1;
}

struct Term {
  std::vector<int> letters;  // labels in order, with -1 marking where the ellipsis sits
  bool ellipsis = false;
};

Term parse_term(const std::string& eq, const std::string& s, const std::string& what) {
  Term t;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (s.compare(i, 3, "...") != 0 || t.ellipsis)
        throw ValueError(
            "einsum: equation '" + eq + "': " + what +
            (t.ellipsis ? " has more than one ellipsis" : " has a '.' that is not part of '...'"));
      t.ellipsis = true;
      t.letters.push_back(-1);
      i += 2;
    } else if (letter_label(c) >= 0) {
      t.letters.push_back(letter_label(c));
    } else {
      throw ValueError("einsum: equation '" + eq + "': invalid subscript '" + std::string(1, c) + "' in " +
                       what + " (subscripts are letters a-z, A-Z)");
    }
  }
  return t;
}

// A tensor with one label per axis (labels unique once diagonals are taken).
struct Labelled {
  Tensor x;
  std::vector<int> labels;
};

// Takes the diagonal over every repeated label: moves the two axes to the end, flattens them and
// keeps every (n + 1)-th element.
Labelled take_diagonals(Labelled op, const std::string& eq, std::size_t index) {
  for (;;) {
    int p = -1, q = -1;
    for (std::size_t i = 0; i < op.labels.size() && p < 0; ++i)
      for (std::size_t j = i + 1; j < op.labels.size(); ++j)
        if (op.labels[i] == op.labels[j]) {
          p = static_cast<int>(i), q = static_cast<int>(j);
          break;
        }
    if (p < 0) return op;
    const int64_t n = op.x.shape()[p];
    if (op.x.shape()[q] != n)
      throw ShapeError("einsum: equation '" + eq + "': operand " + std::to_string(index) + " of shape " +
                       op.x.shape().str() + " repeats a subscript over axes " + std::to_string(p) + " and " +
                       std::to_string(q) + " whose sizes differ (" + std::to_string(n) +
                       " != " + std::to_string(op.x.shape()[q]) + ")");
    Axes order;
    std::vector<int> labels;
    Shape s;
    for (int i = 0; i < op.x.dim(); ++i)
      if (i != p && i != q) {
        order.push_back(i);
        labels.push_back(op.labels[i]);
        s.push_back(op.x.shape()[i]);
      }
    const int label = op.labels[p];
    order.push_back(p);
    order.push_back(q);
    labels.push_back(label);
    s.push_back(n * n);
    Tensor flat = reshape(permute(op.x, order), s);
    op.x = slice(flat, -1, 0, kEnd, n + 1);
    op.labels = labels;
  }
}

// Sums out the axes whose labels `keep` does not hold.
void sum_unkept(Labelled& op, const std::array<bool, 128>& keep) {
  Axes axes;
  std::vector<int> labels;
  for (std::size_t i = 0; i < op.labels.size(); ++i) {
    if (keep[op.labels[i]])
      labels.push_back(op.labels[i]);
    else
      axes.push_back(static_cast<int64_t>(i));
  }
  if (axes.empty()) return;
  op.x = sum(op.x, axes);
  op.labels = labels;
}

int64_t size_of(const Labelled& op, int label) {
  for (std::size_t i = 0; i < op.labels.size(); ++i)
    if (op.labels[i] == label) return op.x.shape()[static_cast<int>(i)];
  return -1;
}

// One batched gemm: a [batch, a-only, shared] x b [batch, shared, b-only] with the shared labels
// (present in both, not kept) contracted.
Labelled contract(Labelled a, Labelled b, const std::array<bool, 128>& keep, const std::string& eq,
                  std::size_t index_b) {
  std::vector<int> batch, only_a, only_b, shared;
  for (int l : a.labels) {
    const bool in_b = std::find(b.labels.begin(), b.labels.end(), l) != b.labels.end();
    (in_b ? (keep[l] ? batch : shared) : only_a).push_back(l);
  }
  for (int l : b.labels)
    if (std::find(a.labels.begin(), a.labels.end(), l) == a.labels.end()) only_b.push_back(l);
  // Broadcasting: a size-1 axis meets a larger one.
  auto fail = [&](int l, int64_t sa, int64_t sb) {
    const std::string name = l < kNumLetters
                                 ? std::string(1, static_cast<char>(l < 26 ? 'A' + l : 'a' + l - 26))
                                 : std::string("...");
    throw ShapeError("einsum: equation '" + eq + "': subscript " + name + " has size " + std::to_string(sb) +
                     " in operand " + std::to_string(index_b) + " of shape " + b.x.shape().str() +
                     " but size " + std::to_string(sa) + " in the operands before it, shape " +
                     a.x.shape().str() + " (sizes must match or be 1)");
  };
  for (int l : shared) {
    const int64_t sa = size_of(a, l), sb = size_of(b, l);
    if (sa == sb) continue;
    if (sa != 1 && sb != 1) fail(l, sa, sb);
    // sum_k a[k] b[0] = (sum_k a[k]) b[0]: sum the larger side down to size 1.
    Labelled& big = sa == 1 ? b : a;
    const auto pos = std::find(big.labels.begin(), big.labels.end(), l) - big.labels.begin();
    big.x = sum(big.x, {static_cast<int64_t>(pos)}, true);
  }
  Shape batch_shape;
  for (int l : batch) {
    const int64_t sa = size_of(a, l), sb = size_of(b, l);
    if (sa != sb && sa != 1 && sb != 1) fail(l, sa, sb);
    batch_shape.push_back(std::max(sa, sb));
  }
  auto arrange = [&](const Labelled& op, const std::vector<int>& mid, const std::vector<int>& last) {
    Axes order;
    Shape full;
    auto add = [&](const std::vector<int>& ls, bool is_batch) {
      for (std::size_t k = 0; k < ls.size(); ++k) {
        const auto pos = std::find(op.labels.begin(), op.labels.end(), ls[k]) - op.labels.begin();
        order.push_back(static_cast<int64_t>(pos));
        full.push_back(is_batch ? batch_shape[static_cast<int>(k)] : op.x.shape()[static_cast<int>(pos)]);
      }
    };
    add(batch, true);
    add(mid, false);
    add(last, false);
    return expand(permute(op.x, order), full);
  };
  const Tensor pa = arrange(a, only_a, shared), pb = arrange(b, shared, only_b);
  int64_t nb = 1, m = 1, k = 1, n = 1;
  for (int i = 0; i < batch_shape.rank(); ++i) nb *= batch_shape[i];
  Shape out = batch_shape;
  for (int l : only_a) m *= size_of(a, l), out.push_back(size_of(a, l));
  for (int l : only_b) n *= size_of(b, l), out.push_back(size_of(b, l));
  for (int l : shared) k *= size_of(a, l);
  Tensor y = matmul(reshape(pa, {nb, m, k}), reshape(pb, {nb, k, n}));
  Labelled r{reshape(y, out), batch};
  r.labels.insert(r.labels.end(), only_a.begin(), only_a.end());
  r.labels.insert(r.labels.end(), only_b.begin(), only_b.end());
  return r;
}

}  // namespace

XG_OP(einsum, {.formula = "einsum = diagonals (strided slice), sums, permutes and batched matmul (composite)",
               .kind = OpKind::composite,
               .samples =
                   [] {
                     auto s = [](const char* eq, std::vector<Shape> shapes, unsigned salt) {
                       std::vector<Tensor> in;
                       for (const Shape& sh : shapes) in.push_back(sample_tensor(sh, Domain::real, salt++));
                       const std::string e = eq;
                       std::string torch = "OP('" + e + "'";
                       for (std::size_t i = 0; i < in.size(); ++i) torch += ", x" + std::to_string(i);
                       return OpSample{eq, in,
                                       [e](std::span<const Tensor> t) {
                                         return einsum(e, std::vector<Tensor>(t.begin(), t.end()));
                                       },
                                       0, torch + ")"};
                     };
                     return std::vector<OpSample>{
                         s("ij,jk->ik", {{2, 3}, {3, 4}}, 1),
                         s("ii->i", {{3, 3}}, 3),
                         s("ii", {{3, 3}}, 4),
                         s("bij,bjk->bik", {{2, 2, 3}, {2, 3, 2}}, 5),
                         s("...ij,...jk", {{2, 1, 2, 3}, {3, 3, 2}}, 7),
                         s("i,j->ij", {{3}, {2}}, 9),
                         s("ijk->kji", {{2, 3, 4}}, 11),
                         s("ij,jk,kl->il", {{2, 3}, {3, 2}, {2, 2}}, 12),
                         s("iij,jk->ik", {{2, 2, 3}, {3, 2}}, 15),
                     };
                   },
               .torch = "torch.einsum"});
Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands) {
  XG_COMPOSITE_SCOPE(einsum);
  std::string eq;
  for (char c : equation)
    if (c != ' ') eq.push_back(c);
  const auto arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<Term> terms;
  for (std::size_t start = 0;;) {
    const auto comma = lhs.find(',', start);
    terms.push_back(
        parse_term(equation, lhs.substr(start, comma - start), "operand " + std::to_string(terms.size())));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != operands.size())
    throw ValueError("einsum: equation '" + equation + "' has " + std::to_string(terms.size()) +
                     " operand subscripts but " + std::to_string(operands.size()) + " operands were given");
  for (std::size_t i = 0; i < operands.size(); ++i)
    if (!operands[i].defined())
      throw ValueError("einsum: equation '" + equation + "': operand " + std::to_string(i) + " is undefined");
  // Expand each term's ellipsis into right-aligned ellipsis labels.
  int ell_rank = 0;
  std::vector<Labelled> ops;
  std::array<int, 128> count{};
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const int named = static_cast<int>(terms[i].letters.size()) - (terms[i].ellipsis ? 1 : 0);
    const int rank = operands[i].dim();
    if (terms[i].ellipsis ? rank < named : rank != named)
      throw ShapeError("einsum: equation '" + equation + "': operand " + std::to_string(i) + " of shape " +
                       operands[i].shape().str() + " has " + std::to_string(rank) +
                       " axes but its subscripts name " + (terms[i].ellipsis ? "at least " : "") +
                       std::to_string(named));
    ell_rank = std::max(ell_rank, rank - named);
  }
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const int e = operands[i].dim() - static_cast<int>(terms[i].letters.size()) + (terms[i].ellipsis ? 1 : 0);
    Labelled op{operands[i], {}};
    for (int l : terms[i].letters) {
      if (l >= 0) {
        op.labels.push_back(l);
        ++count[l];
      } else {
        for (int j = 0; j < e; ++j) op.labels.push_back(kEllipsisBase + ell_rank - e + j);
      }
    }
    ops.push_back(take_diagonals(std::move(op), equation, i));
  }
  std::vector<int> out;
  if (arrow == std::string::npos) {
    // Implicit output: the ellipsis axes, then every letter used once, in PyTorch's order.
    for (int l = 0; l < kNumLetters; ++l)
      if (count[l] == 1) out.push_back(l);
  } else {
    const Term t = parse_term(equation, eq.substr(arrow + 2), "the output");
    for (int l : t.letters) {
      if (l < 0) continue;
      if (std::count(out.begin(), out.end(), l))
        throw ValueError("einsum: equation '" + equation + "': the output repeats subscript " +
                         std::string(1, static_cast<char>(l < 26 ? 'A' + l : 'a' + l - 26)));
      if (count[l] == 0)
        throw ValueError("einsum: equation '" + equation + "': output subscript " +
                         std::string(1, static_cast<char>(l < 26 ? 'A' + l : 'a' + l - 26)) +
                         " does not appear in any operand");
      out.push_back(l);
    }
    if (t.ellipsis) {
      // The ellipsis axes sit where the output's '...' is.
      const auto at = std::find(t.letters.begin(), t.letters.end(), -1) - t.letters.begin();
      std::vector<int> ell;
      for (int j = 0; j < ell_rank; ++j) ell.push_back(kEllipsisBase + j);
      out.insert(out.begin() + at, ell.begin(), ell.end());
    }
  }
  if (arrow == std::string::npos) {
    std::vector<int> ell;
    for (int j = 0; j < ell_rank; ++j) ell.push_back(kEllipsisBase + j);
    out.insert(out.begin(), ell.begin(), ell.end());
  }
  // keep_after[i]: labels needed once operands 0..i are contracted (output or later operands).
  std::array<bool, 128> keep{};
  for (int l : out) keep[l] = true;
  std::vector<std::array<bool, 128>> keep_after(ops.size(), keep);
  for (std::size_t i = ops.size(); i-- > 1;) {
    keep_after[i - 1] = keep_after[i];
    for (int l : ops[i].labels) keep_after[i - 1][l] = true;
  }
  // Sum each operand's private labels first, so the gemms never carry them.
  for (std::size_t i = 0; i < ops.size(); ++i) {
    std::array<bool, 128> k = keep;
    for (std::size_t j = 0; j < ops.size(); ++j)
      if (j != i)
        for (int l : ops[j].labels) k[l] = true;
    sum_unkept(ops[i], k);
  }
  Labelled acc = ops[0];
  for (std::size_t i = 1; i < ops.size(); ++i) acc = contract(acc, ops[i], keep_after[i], equation, i);
  sum_unkept(acc, keep);
  Axes order;
  for (int l : out) {
    const auto pos = std::find(acc.labels.begin(), acc.labels.end(), l) - acc.labels.begin();
    order.push_back(static_cast<int64_t>(pos));
  }
  return order.empty() ? acc.x : permute(acc.x, order);
}

}  // namespace xg
