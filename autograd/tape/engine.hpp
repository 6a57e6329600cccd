#pragma once
/// @file engine.hpp
/// @brief The backward engine: replays the tape of the given outputs in decreasing sequence
/// number (a valid reverse topological order), accumulating gradients into leaves, or returning
/// them (xg::grad). Traversal and graph destruction are iterative, so a 150,000-op chain is fine.
#include <optional>
#include <vector>

#include "xgrad/autograd/tensor/tensor.hpp"

namespace xg {

/// Backpropagates from outputs (grad_outputs may be empty or hold undefined entries for
/// one-element outputs, meaning 1). Gradients accumulate into the .grad() of leaves.
/// Without retain_graph, the saved tensors of the replayed nodes are freed afterwards.
/// With create_graph, the backward pass is itself recorded (higher-order gradients).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

/// Gradients of outputs with respect to inputs (leaves or not), without touching any .grad().
/// retain_graph defaults to create_graph. An input the outputs do not depend on raises
/// ValueError unless allow_unused, in which case its gradient is undefined.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {},
                         std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
                         bool allow_unused = false);

/// The nodes reachable from `root`, in recording order (increasing sequence number). This is the
/// tape of `root`: what backward() will replay, in reverse.
std::vector<std::shared_ptr<Node>> tape_of(const Tensor& root);

}  // namespace xg
