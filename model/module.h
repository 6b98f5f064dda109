// Module tree: named parameters and named submodules, in registration order, with replace-by-name.
//
// Parents call their children through the tree (`child("query").forward(x)`), never through a typed member
// they cached, so a pass can swap a submodule (Linear -> quantized or masked Linear, or Identity for NAS) with
// replace_module("encoder.layer.0.attention.self.query", m) and every later forward uses the new one.
// Parameter names are dotted paths, as Hugging Face's (the checkpoint and the passes key on them).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace qbert::model {

using engine::NamedTensors;
using engine::Tensor;

class Module {
public:
    virtual ~Module() = default;
    virtual std::string type_name() const = 0;
    // Single-input modules (Linear, LayerNorm, Identity, MLP) override this.
    virtual Tensor forward(const Tensor& x);

    NamedTensors named_parameters(const std::string& prefix = "") const;
    // State that is saved with the parameters but not trained (pruning masks, u8), dotted names as parameters.
    NamedTensors named_buffers(const std::string& prefix = "") const;
    // Every module below this one (not itself), depth first, with dotted names.
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules(const std::string& prefix = "") const;
    Module& child(const std::string& name) const;        // direct child; throws naming the known children
    void replace_module(const std::string& dotted_name, std::shared_ptr<Module> m);
    // Replaces every module for which pick(name, module) returns a replacement (non-null); returns how many.
    int replace_modules(const std::function<std::shared_ptr<Module>(const std::string&, const Module&)>& pick);

    void train(bool on = true);
    bool training() const { return training_; }

    // Asks the model to compute every position of its activations from now on. A model may skip work that its
    // output does not need (BertForSequenceClassification computes only the [CLS] row in its last layer, all
    // the classifier reads: same logits and gradients, less work). Anything that looks at whole activation
    // tensors inside the model calls this on the root first: activation pruning takes its thresholds over a
    // layer's whole input, so every position must be there. The default passes the request to every child.
    void require_full_sequence() { set_full_sequence(true); }
    // The same, undoable: on = true computes every position, false allows the shortcut again. Returns whether
    // every position was computed before (for calibration, which looks at whole activations only for a while).
    virtual bool set_full_sequence(bool on);
    int64_t num_parameters() const;
    // Gives every parameter without a name its dotted name (messages, QBERT_GRAPH's leaves and gdb show it).
    void name_parameters() const;

protected:
    Tensor& register_parameter(const std::string& name, Tensor t);
    // Adds the buffer, or replaces the one of the same name.
    void set_buffer(const std::string& name, Tensor t);
    Module& register_module(const std::string& name, std::shared_ptr<Module> m);

private:
    NamedTensors params_, buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

// y = x W^T + b, W:[out,in] (PyTorch layout), initialized N(0, std) with zero bias (Hugging Face BERT init).
class Linear : public Module {
public:
    Linear(int64_t in, int64_t out, engine::Rng& rng, double init_std = 0.02, bool bias = true);
    std::string type_name() const override { return "Linear"; }
    Tensor forward(const Tensor& x) override;
    int64_t in_features() const { return in_; }
    int64_t out_features() const { return out_; }
    Tensor& weight() { return weight_; }
    Tensor& bias() { return bias_; }
    const Tensor& weight() const { return weight_; }
    const Tensor& bias() const { return bias_; }

protected:
    // Shares the given parameters (a subclass wrapping an existing layer keeps the very same tensors).
    Linear(Tensor weight, Tensor bias);

private:
    int64_t in_, out_;
    Tensor weight_, bias_;
};

class Identity : public Module {
public:
    std::string type_name() const override { return "Identity"; }
    Tensor forward(const Tensor& x) override { return x; }
};

class LayerNorm : public Module {
public:
    explicit LayerNorm(int64_t C, double eps = 1e-12);
    std::string type_name() const override { return "LayerNorm"; }
    Tensor forward(const Tensor& x) override;

private:
    double eps_;
    Tensor weight_, bias_;
};

}  // namespace qbert::model
