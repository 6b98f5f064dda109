// Seeing the autograd graph: QBERT_GRAPH=FILE.dot writes the graph of the first backward() the process runs
// (one training step) as Graphviz text, each op with its output shape and the kernels that ran for it.
//
//   QBERT_GRAPH=step.dot qbert train ...        # any command that trains; or `qbert explain-step`
//   dot -Tsvg step.dot -o step.svg              # Graphviz draws it (docs/learn/anatomy-of-a-training-step.md)
//
// How the kernels are attributed: while a capture is on, every KernelCall::finish() (ops/dispatch.h) notes
// "kernel (impl)" in a per-thread list. record() hands the list to the node it creates, so a node's forward
// kernels are those that ran since the previous recorded op (the op's own kernel, plus any no-grad work just
// before it, such as a pruning mask). In backward, a node gets the kernels of its apply() and of the
// gradient sums that follow it. Nothing is noted, and nothing is stored on nodes, when no capture is on.
#pragma once

#include <string>
#include <cstddef>
#include <utility>
#include <vector>

namespace qbert::engine {

class Node;

namespace graph {

// True while a capture waits for its backward (QBERT_GRAPH set and not yet written, or capture_to() called).
bool capturing();
// Capture the next backward into `path` (tests, `qbert explain-step`); replaces QBERT_GRAPH's target.
void capture_to(const std::string& path);
// The file the last capture wrote ("" if none yet).
std::string last_written();

// Notes the kernels this thread runs while it lives, capture or not (`qbert explain-step` names the optimizer's).
class KernelLog {
public:
    KernelLog();
    ~KernelLog();
    KernelLog(const KernelLog&) = delete;
    KernelLog& operator=(const KernelLog&) = delete;
    std::string take();  // as take_kernels()
};

// Hooks (engine internals): KernelCall::finish notes each kernel while noting(): a KernelLog lives, or a capture
// is on and the kernel runs where a graph is being built (grad mode on, or inside backward; so evaluation
// before training notes nothing). record() and run_backward take the lists, which keep at most 64 names.
bool noting();
// run_backward marks the backward pass (grad mode is off in it) for noting().
class InBackward {
public:
    InBackward();
    ~InBackward();
    InBackward(const InBackward&) = delete;
    InBackward& operator=(const InBackward&) = delete;
};
void note_kernel(const char* kernel, const char* impl);
std::string take_kernels();  // "a (fast), b (ref)" and clears the list

// One node of the last graph written, in forward order (inputs before the ops that use them; the loss last).
struct NodeSummary {
    std::string op;                 // "linear", "gelu", ...; a parameter's name for a leaf
    std::string out;                // "f32[2,16,128]"
    std::string forward, backward;  // kernels, "linear_forward (fast)"
    bool leaf = false;              // a parameter whose .grad the step fills
    std::vector<size_t> inputs;     // indices into the summary
};
std::vector<NodeSummary> last_graph();

// Called at the end of run_backward: `edges` pairs each node with its inputs' nodes (read before backward
// released them), `executed` lists the nodes in the order backward ran them (the loss first). Writes the .dot
// file and ends the capture. Returns the number of nodes written.
size_t write_dot(const std::vector<std::pair<Node*, std::vector<Node*>>>& edges, const std::vector<Node*>& executed);

}  // namespace graph
}  // namespace qbert::engine
