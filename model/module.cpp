#include "model/module.h"

namespace qbert::model {

using engine::Error;

Tensor Module::forward(const Tensor&) {
    throw Error(type_name() + ": this module has no single-input forward");
}

NamedTensors Module::named_parameters(const std::string& prefix) const {
    NamedTensors out;
    for (const auto& [name, t] : params_) out.emplace_back(prefix + name, t);
    for (const auto& [name, m] : children_) {
        NamedTensors sub = m->named_parameters(prefix + name + ".");
        out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
}

NamedTensors Module::named_buffers(const std::string& prefix) const {
    NamedTensors out;
    for (const auto& [name, t] : buffers_) out.emplace_back(prefix + name, t);
    for (const auto& [name, m] : children_) {
        NamedTensors sub = m->named_buffers(prefix + name + ".");
        out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules(const std::string& prefix) const {
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
    for (const auto& [name, m] : children_) {
        out.emplace_back(prefix + name, m);
        auto sub = m->named_modules(prefix + name + ".");
        out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
}

Module& Module::child(const std::string& name) const {
    for (const auto& [n, m] : children_)
        if (n == name) return *m;
    std::string known;
    for (const auto& [n, m] : children_) known += (known.empty() ? "" : ", ") + n;
    throw Error(type_name() + ": no child module '" + name + "' (children: " + known + ")");
}

void Module::replace_module(const std::string& dotted, std::shared_ptr<Module> m) {
    const size_t dot = dotted.find('.');
    if (dot != std::string::npos) {
        child(dotted.substr(0, dot)).replace_module(dotted.substr(dot + 1), std::move(m));
        return;
    }
    for (auto& [n, c] : children_)
        if (n == dotted) {
            m->train(training_);
            c = std::move(m);
            return;
        }
    child(dotted);  // throws with the list of children
}

int Module::replace_modules(const std::function<std::shared_ptr<Module>(const std::string&, const Module&)>& pick) {
    int n = 0;
    for (const auto& [name, m] : named_modules()) {
        if (auto r = pick(name, *m)) {
            replace_module(name, std::move(r));
            ++n;
        }
    }
    return n;
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [n, c] : children_) c->train(on);
}

bool Module::set_full_sequence(bool on) {
    bool was = false;
    for (auto& [n, c] : children_) was = c->set_full_sequence(on) || was;
    return was;
}

int64_t Module::num_parameters() const {
    int64_t n = 0;
    for (const auto& [name, t] : named_parameters()) n += t.numel();
    return n;
}

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
    t.set_requires_grad(true);
    params_.emplace_back(name, t);
    return params_.back().second;
}

void Module::set_buffer(const std::string& name, Tensor t) {
    for (auto& [n, b] : buffers_)
        if (n == name) {
            b = std::move(t);
            return;
        }
    buffers_.emplace_back(name, std::move(t));
}

Module& Module::register_module(const std::string& name, std::shared_ptr<Module> m) {
    children_.emplace_back(name, std::move(m));
    return *children_.back().second;
}

Linear::Linear(int64_t in, int64_t out, engine::Rng& rng, double init_std, bool bias) : in_(in), out_(out) {
    ENGINE_CHECK(in > 0 && out > 0, "Linear: in and out features must be > 0, but got in=", in, " out=", out);
    weight_ = register_parameter("weight", Tensor::randn({out, in}, rng, 0.0, init_std));
    if (bias) bias_ = register_parameter("bias", Tensor::zeros({out}));
}

Linear::Linear(Tensor weight, Tensor bias) : in_(weight.size(1)), out_(weight.size(0)) {
    weight_ = register_parameter("weight", std::move(weight));
    if (bias.defined()) bias_ = register_parameter("bias", std::move(bias));
}

Tensor Linear::forward(const Tensor& x) { return engine::linear(x, weight_, bias_); }

LayerNorm::LayerNorm(int64_t C, double eps) : eps_(eps) {
    weight_ = register_parameter("weight", Tensor::ones({C}));
    bias_ = register_parameter("bias", Tensor::zeros({C}));
}

Tensor LayerNorm::forward(const Tensor& x) { return engine::layernorm(x, weight_, bias_, eps_); }

void Module::name_parameters() const {
    for (auto& [name, t] : named_parameters())
        if (t.name().empty()) t.set_name(name);
}

}  // namespace qbert::model
