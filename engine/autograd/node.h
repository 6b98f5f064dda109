// Reverse-mode autograd: graph nodes, saved tensors, and the backward engine.
//
// Each differentiable op's output holds a Node (grad_fn). A Node has one edge per op input, pointing to the
// Node that produced that input (or to the AccumulateGrad node of a leaf; null when no gradient is needed).
// backward() walks the graph in dependency order, sums the gradients arriving at each Node, calls
// apply(), and hands the results down its edges. Leaves accumulate (+=) into .grad; callers zero them.
//
// After backward, unless retain_graph, every Node drops its saved tensors and edges, so the activations
// are freed; a second backward through the same graph is an error.
//
// NOTE [Saved tensor versions]: a SavedTensor remembers its storage's version when saved. If the tensor is
// written in place before backward (version bumped), unpacking throws, naming the node and both versions.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor/tensor.h"

namespace qbert::engine {

class SavedTensor {
public:
    SavedTensor() = default;
    explicit SavedTensor(const Tensor& t) : t_(t), version_(t.defined() ? t.version() : 0) {}
    Tensor unpack(const std::string& node_name) const;
    void reset() { t_ = Tensor(); }

private:
    Tensor t_;
    uint64_t version_ = 0;
};

class Node {
public:
    Node() = default;
    virtual ~Node() = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    virtual std::string name() const = 0;
    // grad_out: gradient w.r.t. this node's output. Returns one gradient per edge (undefined = none).
    virtual std::vector<Tensor> apply(const Tensor& grad_out) = 0;
    // Drop saved tensors (called after backward unless retain_graph).
    virtual void release() {}

    std::vector<std::shared_ptr<Node>> next;  // one per input; null when that input needs no grad
    bool released = false;
    // Filled only while a graph capture is on (QBERT_GRAPH, autograd/graph.h), for the .dot file: the
    // output ("f32[8,64]") and the kernels that ran for this node in forward and in backward.
    // debug_op, when set, names what the node does better than its op (dropout is a mul by its mask).
    std::string debug_out, debug_forward, debug_backward, debug_op;
};

// Saved tensors, unpacked and version-checked, plus which inputs need a gradient.
struct BackwardContext {
    std::vector<Tensor> saved;
    std::vector<bool> needs_grad;
    bool needs(size_t i) const { return i < needs_grad.size() && needs_grad[i]; }
};
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out, const BackwardContext&)>;

// Builds the graph for an op: if grad mode is on and an input requires grad, gives `out` a Node named
// `name` that saves `saved` and runs `fn` in backward. Returns `out`. The backward lambda must capture
// only plain values (dims, eps, shapes): tensors go through `saved`, so they are version-checked and freed.
Tensor record(Tensor out, const char* name, const std::vector<Tensor>& inputs,
              const std::vector<Tensor>& saved, BackwardFn fn);

// True when the op should record (grad mode on and some input requires grad).
bool any_requires_grad(const std::vector<Tensor>& inputs);

void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

// Called by a leaf's AccumulateGrad after it has added the leaf's gradient for this backward (each leaf once
// per backward): data-parallel training starts summing finished gradients over the ranks while backward goes
// on (engine/dist/grad_reducer.h). One hook per thread; an empty function removes it.
using GradReadyHook = std::function<void(const TensorImpl* leaf)>;
void set_grad_ready_hook(GradReadyHook hook);

}  // namespace qbert::engine
