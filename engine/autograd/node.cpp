#include "engine/autograd/node.h"

#include <exception>
#include <unordered_map>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/graph.h"
#include "engine/ops/elementwise.h"
#include "engine/tensor/storage.h"

namespace qbert::engine {

namespace {
thread_local bool g_grad_enabled = true;
thread_local GradReadyHook t_grad_ready_hook;

class FunctionNode final : public Node {
public:
    FunctionNode(const char* name, std::vector<Tensor> saved, std::vector<bool> needs, BackwardFn fn)
        : name_(name), fn_(std::move(fn)), needs_(std::move(needs)) {
        saved_.reserve(saved.size());
        for (const Tensor& t : saved) saved_.emplace_back(t);
    }
    std::string name() const override { return name_; }
    std::vector<Tensor> apply(const Tensor& grad_out) override {
        BackwardContext ctx;
        ctx.needs_grad = needs_;
        ctx.saved.reserve(saved_.size());
        for (const SavedTensor& s : saved_) ctx.saved.push_back(s.unpack(name_));
        return fn_(grad_out, ctx);
    }
    void release() override {
        saved_.clear();
        fn_ = nullptr;
    }

private:
    std::string name_;
    std::vector<SavedTensor> saved_;
    BackwardFn fn_;
    std::vector<bool> needs_;
};

// Sums incoming gradients into a leaf's .grad.
class AccumulateGrad final : public Node {
public:
    explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
    std::string name() const override {
        return "AccumulateGrad(" + (leaf_ && !leaf_->name.empty() ? leaf_->name : std::string("leaf")) + ")";
    }
    std::vector<Tensor> apply(const Tensor& g) override {
        ENGINE_ASSERT(g.shape() == leaf_->shape, "gradient ", shape_str(g.shape()), " for leaf ",
                      shape_str(leaf_->shape));
        if (!leaf_->grad) {
            // Own the gradient. When nothing else holds g or its buffer (the backward that made it is done
            // with it), take it as it is, as PyTorch's AccumulateGrad steals a uniquely referenced gradient;
            // otherwise own a contiguous copy: g may alias a buffer another node still uses. Taking saves a
            // full copy per parameter per step (the word embeddings' gradient is 31 MB in the mini model).
            // A slice of a bigger buffer (concat's backward hands out views of one) is copied, not kept whole.
            const TensorImpl& gi = *g.impl_ptr();
            const bool sole = g.impl_ptr().use_count() == 1 && gi.storage.use_count() == 1 && !g.requires_grad() &&
                              g.is_contiguous() && g.offset() == 0 &&
                              gi.storage->nbytes() == static_cast<size_t>(g.numel()) * dtype_size(g.dtype());
            leaf_->grad = sole ? g.impl_ptr() : g.clone().impl_ptr();
        } else {
            Tensor acc(leaf_->grad);
            add_(acc, g);
        }
        if (t_grad_ready_hook) t_grad_ready_hook(leaf_.get());
        return {};
    }
    // The leaf stays alive while a graph uses it, as in PyTorch; released with the graph.
    void release() override {}

private:
    std::shared_ptr<TensorImpl> leaf_;
};

std::shared_ptr<Node> edge_of(const Tensor& t) {
    if (!t.defined() || !t.requires_grad()) return nullptr;
    TensorImpl& impl = t.impl();
    if (impl.grad_fn) return impl.grad_fn;
    std::shared_ptr<Node> acc = impl.grad_accumulator.lock();
    if (!acc) {
        acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
        if (graph::capturing()) acc->debug_out = dtype_name(t.dtype()) + shape_str(t.shape());
        impl.grad_accumulator = acc;
    }
    return acc;
}
}  // namespace

bool GradMode::enabled() { return g_grad_enabled; }
void set_grad_ready_hook(GradReadyHook hook) { t_grad_ready_hook = std::move(hook); }
void GradMode::set_enabled(bool on) { g_grad_enabled = on; }

Tensor SavedTensor::unpack(const std::string& node_name) const {
    if (t_.defined() && t_.version() != version_) {
        throw Error(detail::concat(
            "one of the tensors saved by ", node_name, " (", t_.str(),
            ") was modified by an in-place operation: it is at version ", t_.version(), "; expected version ",
            version_, "\nhint: clone() the tensor before writing to it in place, or write after backward()"));
    }
    return t_;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
    if (!GradMode::enabled()) return false;
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

Tensor record(Tensor out, const char* name, const std::vector<Tensor>& inputs,
              const std::vector<Tensor>& saved, BackwardFn fn) {
    if (!any_requires_grad(inputs)) return out;
    std::vector<bool> needs(inputs.size());
    std::vector<std::shared_ptr<Node>> next(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        next[i] = edge_of(inputs[i]);
        needs[i] = next[i] != nullptr;
    }
    // An op that saves its own output (softmax, div, tanh, ...) must not save `out` itself: out owns the node
    // (grad_fn) and the node would own out, a reference cycle that keeps the whole graph alive when no
    // backward runs. It saves a detached alias instead: same storage and version counter, no history (what
    // PyTorch's SavedVariable does for outputs).
    std::vector<Tensor> to_save = saved;
    for (Tensor& t : to_save)
        if (t.defined() && out.defined() && t.impl_ptr() == out.impl_ptr()) t = t.detach();
    auto node = std::make_shared<FunctionNode>(name, std::move(to_save), std::move(needs), std::move(fn));
    node->next = std::move(next);
    if (graph::capturing()) {
        node->debug_out = dtype_name(out.dtype()) + shape_str(out.shape());
        node->debug_forward = graph::take_kernels();
    }
    // `out` may share its impl with nothing else yet; give it the history
    out.impl().requires_grad = true;
    out.impl().grad_fn = std::move(node);
    return out;
}

void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
    ENGINE_CHECK(root.requires_grad(), "backward: ", root.str(),
                 " does not require grad and has no grad_fn\nhint: call set_requires_grad(true) on the leaves");
    Tensor g = grad;
    if (!g.defined()) {
        ENGINE_CHECK_SHAPE(root.numel() == 1, "backward: grad can be implicitly created only for scalar outputs, but got ",
                           root.str());
        g = Tensor::ones(root.shape(), root.dtype());
    }
    ENGINE_CHECK_SHAPE(g.shape() == root.shape(), "backward: grad shape ", shape_str(g.shape()),
                       " must match the output shape ", shape_str(root.shape()));
    NoGradGuard no_grad;  // the backward pass itself is not recorded
    std::shared_ptr<Node> root_node = edge_of(root);

    // Count, for every node, how many edges lead into it (iterative DFS, no recursion depth limit).
    std::unordered_map<Node*, int> deps;
    std::vector<std::shared_ptr<Node>> alive{root_node};  // nodes stay alive until the pass ends
    std::vector<Node*> stack{root_node.get()};
    deps[root_node.get()] = 0;
    while (!stack.empty()) {
        Node* n = stack.back();
        stack.pop_back();
        ENGINE_CHECK(!n->released, "backward: trying to backward through ", n->name(),
                     " a second time: its saved tensors were freed\nhint: pass retain_graph=true to the first backward");
        for (const auto& e : n->next) {
            if (!e) continue;
            auto [it, inserted] = deps.try_emplace(e.get(), 0);
            ++it->second;
            if (inserted) {
                stack.push_back(e.get());
                alive.push_back(e);
            }
        }
    }

    // QBERT_GRAPH: the edges are read now, before the loop below releases them.
    const bool capture = graph::capturing();
    struct EndCaptureOnThrow {  // a backward that throws must not leave the capture for the next one
        bool armed;
        ~EndCaptureOnThrow() {
            if (armed && std::uncaught_exceptions() > 0) graph::capture_to("");
        }
    } end_capture{capture};
    const graph::InBackward in_backward;
    std::vector<std::pair<Node*, std::vector<Node*>>> captured;
    if (capture) {
        graph::take_kernels();  // whatever ran after the last recorded op is not part of any node
        for (const auto& n : alive) {
            std::vector<Node*> inputs;
            for (const auto& e : n->next)
                if (e) inputs.push_back(e.get());
            captured.emplace_back(n.get(), std::move(inputs));
        }
    }

    // Process nodes whose gradient is complete; fixed order, so results are bitwise reproducible.
    std::unordered_map<Node*, Tensor> pending;
    pending[root_node.get()] = g;
    std::vector<Node*> ready{root_node.get()};
    std::vector<Node*> executed;  // QBERT_GRAPH only
    while (!ready.empty()) {
        Node* n = ready.back();
        ready.pop_back();
        if (capture) executed.push_back(n);
        Tensor gin;
        if (auto it = pending.find(n); it != pending.end()) {
            gin = std::move(it->second);
            pending.erase(it);
        }
        // A node that no gradient reached still passes "nothing" down, so its children can complete.
        std::vector<Tensor> grads;
        if (gin.defined()) grads = n->apply(gin);
        for (size_t i = 0; i < n->next.size(); ++i) {
            Node* child = n->next[i].get();
            if (!child) continue;
            if (i < grads.size() && grads[i].defined()) {
                auto it = pending.find(child);
                if (it == pending.end()) {
                    pending.emplace(child, grads[i]);
                } else {
                    it->second = add(it->second, grads[i]);
                }
            }
            if (--deps[child] == 0) ready.push_back(child);
        }
        if (capture) n->debug_backward = graph::take_kernels();
        if (!retain_graph) {
            n->release();
            if (dynamic_cast<AccumulateGrad*>(n) == nullptr) {
                n->released = true;
                n->next.clear();
            }
        }
    }
    if (capture) graph::write_dot(captured, executed);
}

}  // namespace qbert::engine
