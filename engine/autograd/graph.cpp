#include "engine/autograd/graph.h"

#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <unordered_map>

#include <unistd.h>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/core/error.h"

namespace qbert::engine::graph {

namespace {
std::mutex g_mutex;             // guards g_path and g_written
std::string g_path;             // where the next capture goes ("" = none)
std::string g_written;          // the last file written
std::vector<NodeSummary> g_summary;  // and its nodes
std::atomic<bool> g_on{false};  // read on every record() and kernel call: a single relaxed load when off
thread_local std::vector<std::string> t_kernels;
thread_local int t_logs = 0;  // live KernelLogs on this thread
thread_local int t_backward = 0;  // inside run_backward
thread_local int64_t t_dropped = 0;  // names past the cap since the last take
constexpr size_t kMaxNotes = 64;

// QBERT_GRAPH is read once, before main() runs any op.
const bool g_env_read = [] {
    if (const char* env = std::getenv("QBERT_GRAPH"); env != nullptr && *env != '\0') {
        g_path = env;
        g_on.store(true, std::memory_order_relaxed);
    }
    return true;
}();

std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}
}  // namespace

bool capturing() { return g_on.load(std::memory_order_relaxed); }

void capture_to(const std::string& path) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_path = path;
    t_kernels.clear();
    g_on.store(!path.empty(), std::memory_order_relaxed);
}

std::vector<NodeSummary> last_graph() {
    std::lock_guard<std::mutex> lock(g_mutex);
    return g_summary;
}

std::string last_written() {
    std::lock_guard<std::mutex> lock(g_mutex);
    return g_written;
}

KernelLog::KernelLog() {
    ++t_logs;
    t_kernels.clear();
}
KernelLog::~KernelLog() { --t_logs; }
std::string KernelLog::take() { return take_kernels(); }

InBackward::InBackward() { ++t_backward; }
InBackward::~InBackward() { --t_backward; }

bool noting() { return t_logs > 0 || (capturing() && (t_backward > 0 || GradMode::enabled())); }

void note_kernel(const char* kernel, const char* impl) {
    if (t_kernels.size() >= kMaxNotes) {
        ++t_dropped;
        return;
    }
    t_kernels.push_back(std::string(kernel) + " (" + impl + ")");
}

std::string take_kernels() {
    std::string out;
    for (const std::string& k : t_kernels) out += (out.empty() ? "" : ", ") + k;
    if (t_dropped > 0) out += detail::concat(" (+", t_dropped, " more)");
    t_kernels.clear();
    t_dropped = 0;
    return out;
}

size_t write_dot(const std::vector<std::pair<Node*, std::vector<Node*>>>& edges, const std::vector<Node*>& executed) {
    std::string path;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        if (!g_on.load(std::memory_order_relaxed)) return 0;
        path = g_path;
        g_on.store(false, std::memory_order_relaxed);  // one step only
    }
    // Backward ran the nodes in a topological order from the loss down; reversed, it is a forward order.
    std::unordered_map<Node*, size_t> id;
    for (auto it = executed.rbegin(); it != executed.rend(); ++it) id.emplace(*it, id.size());
    std::vector<NodeSummary> summary(id.size());
    for (const auto& [n, inputs] : edges) {
        const auto found = id.find(n);
        if (found == id.end()) continue;  // not reached (cannot happen: backward runs every node it counted)
        NodeSummary& s = summary[found->second];
        s.op = n->debug_op.empty() ? n->name() : n->debug_op;
        s.leaf = inputs.empty() && s.op.rfind("AccumulateGrad(", 0) == 0;
        if (s.leaf) s.op = s.op.substr(15, s.op.size() - 16);  // the parameter's name
        s.out = n->debug_out;
        s.forward = n->debug_forward;
        s.backward = n->debug_backward;
        for (Node* in : inputs) s.inputs.push_back(id.at(in));
    }

    std::string dot =
        "// The autograd graph of one training step, written by qbert (QBERT_GRAPH; engine/autograd/graph.h).\n"
        "// Boxes are ops (output shape, forward and backward kernels); ellipses are the parameters whose\n"
        "// .grad the step fills. Arrows run the way the forward computes; backward walks them in reverse.\n"
        "// Draw it with: dot -Tsvg FILE.dot -o FILE.svg\n"
        "digraph qbert_step {\n"
        "  rankdir=TB;\n"
        "  node [shape=box, fontname=\"monospace\", fontsize=9];\n"
        "  edge [arrowsize=0.6];\n";
    for (size_t i = 0; i < summary.size(); ++i) {
        const NodeSummary& s = summary[i];
        std::string label = s.op + "\n" + s.out;
        if (!s.leaf) {
            if (i + 1 == summary.size()) label += "  (the loss)";
            if (!s.forward.empty()) label += "\nforward: " + s.forward;
            if (!s.backward.empty()) label += "\nbackward: " + s.backward;
        }
        dot += "  n" + std::to_string(i) + " [";
        if (s.leaf) dot += "shape=ellipse, style=filled, fillcolor=\"#fff3c4\", ";
        dot += "label=\"" + escape(label) + "\"];\n";
    }
    for (size_t i = 0; i < summary.size(); ++i)
        for (size_t in : summary[i].inputs) dot += "  n" + std::to_string(in) + " -> n" + std::to_string(i) + ";\n";
    dot += "}\n";
    // Written beside, then renamed (a reader never sees half a graph); the temp name carries the pid, so processes
    // sharing QBERT_GRAPH do not trip over each other. A graph that cannot be written is a warning: the training
    // it watches goes on.
    std::error_code ec;
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    const std::string tmp = detail::concat(path, ".tmp", ::getpid());
    bool ok = false;
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << dot;
        f.close();
        ok = f.good();
    }
    if (ok) {
        std::filesystem::rename(tmp, path, ec);
        ok = !ec;
    }
    if (!ok) {
        std::filesystem::remove(tmp, ec);
        std::fprintf(stderr, "warning: QBERT_GRAPH: cannot write %s; the graph is not saved\n", path.c_str());
        return 0;
    }
    std::lock_guard<std::mutex> lock(g_mutex);
    g_written = path;
    g_summary = std::move(summary);
    return g_summary.size();
}

}  // namespace qbert::engine::graph
