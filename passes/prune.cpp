#include "passes/prune.h"

#include "passes/quantize.h"

namespace qbert::passes {

using engine::Error;
using engine::Tensor;
using engine::detail::concat;
using model::CompressedLinear;
using model::PruneMethod;
using model::PruneScope;

namespace {
// [weight] and [activation], each a PruneSpec: the keys, types and ranges once.
const model::ConfigFields<PruneConfig>& prune_fields() {
    static const model::ConfigFields<PruneConfig> f = [] {
        model::ConfigFields<PruneSpec> spec;
        spec.add("", "sparsity", &PruneSpec::sparsity, "fraction pruned, 0 turns it off", model::Range::closed(0, 1))
            .required = true;
        spec.add_enum("", "method", &PruneSpec::method, {{"random", PruneMethod::Random}, {"l1-norm", PruneMethod::L1Norm}},
                      "random (seeded) or the smallest |value| first");
        spec.add_enum("", "scope", &PruneSpec::scope, {{"local", PruneScope::Local}, {"global", PruneScope::Global}},
                      "a threshold per layer, or one over all layers");
        spec.add_constant("", "granularity", "elementwise", true, "the only one").in_toml = true;
        model::ConfigFields<PruneConfig> f;
        f.add_nested("weight", &PruneConfig::weight, spec);
        f.add_nested("activation", &PruneConfig::activation, spec);
        return f;
    }();
    return f;
}

engine::Tensor random_mask(const engine::Shape& shape, double sparsity, engine::Rng& rng) {
    Tensor m = Tensor::empty(shape, engine::DType::U8);
    uint8_t* p = m.data<uint8_t>();
    for (int64_t i = 0; i < m.numel(); ++i) p[i] = rng.uniform() < sparsity ? 0 : 1;
    return m;
}

engine::Tensor threshold_mask(const Tensor& w, double t) {
    Tensor m = Tensor::empty(w.shape(), engine::DType::U8);
    const auto v = w.to_vector_f64();
    uint8_t* p = m.data<uint8_t>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = std::abs(v[i]) > t ? 1 : 0;
    return m;
}
}  // namespace

PruneConfig PruneConfig::from_toml(const toml::table& root_in, const std::string& source) {
    const toml::table* root = &root_in;
    std::string prefix;  // where the config sits in the file
    for (const char* p : {"passes.prune", "prune"})
        if (const toml::table* t = root_in.at_path(p).as_table(); t && prefix.empty()) root = t, prefix = p;
    for (const std::string section : {"weight", "activation"})
        if (!root->get_as<toml::table>(section))
            throw Error(concat(source, ": missing section [", prefix.empty() ? section : prefix + "." + section,
                               "] (both [weight] and [activation] are required; sparsity = 0.0 turns one off)"));
    PruneConfig c;
    model::read_toml(prune_fields(), c, *root, source, {}, prefix);
    return c;
}

PruneConfig PruneConfig::from_file(const std::string& path) {
    return from_toml(load_toml_file(path), "config '" + path + "'");
}

std::string prune_method_name(PruneMethod m) { return m == PruneMethod::Random ? "random" : "l1-norm"; }

std::vector<PrunedLayer> prune(model::Module& model, const PruneConfig& cfg, engine::Rng& rng,
                               const std::function<void()>& run_calibration) {
    std::vector<std::string> names;
    for (const auto& [name, mod] : linear_layers(model)) names.push_back(name);
    std::vector<CompressedLinear*> layers;
    for (const auto& n : names) layers.push_back(&model::compress_layer(model, n));

    // weights: masks from the current effective weights (an earlier mask stays applied)
    const PruneSpec& w = cfg.weight;
    double global_t = 0.0;
    if (w.method == PruneMethod::L1Norm && w.scope == PruneScope::Global && w.sparsity > 0.0) {
        std::vector<Tensor> all;
        for (auto* l : layers) all.push_back(l->effective_weight());
        global_t = engine::quantile_abs(all, w.sparsity);
    }
    std::vector<PrunedLayer> out;
    for (size_t i = 0; i < layers.size(); ++i) {
        CompressedLinear& l = *layers[i];
        if (w.sparsity > 0.0) {
            Tensor eff = l.effective_weight();
            Tensor mask;
            if (w.method == PruneMethod::Random) {
                engine::Rng layer_rng = rng.fork(names[i]);
                mask = random_mask(eff.shape(), w.sparsity, layer_rng);
            } else {
                const double t = w.scope == PruneScope::Global ? global_t : engine::quantile_abs({eff}, w.sparsity);
                mask = threshold_mask(eff, t);
            }
            if (l.has_weight_mask()) {  // pruning again never revives a pruned weight
                uint8_t* m = mask.data<uint8_t>();
                const uint8_t* old = l.weight_mask().data<uint8_t>();
                for (int64_t k = 0; k < mask.numel(); ++k) m[k] &= old[k];
            }
            l.set_weight_mask(mask);
        }
        PrunedLayer p{names[i], l.weight().numel(), 0};
        if (l.has_weight_mask()) {
            const uint8_t* m = l.weight_mask().data<uint8_t>();
            for (int64_t k = 0; k < p.weights; ++k) p.kept += m[k];
        } else {
            p.kept = p.weights;
        }
        out.push_back(p);
    }

    // activations
    const PruneSpec& a = cfg.activation;
    if (a.sparsity > 0.0) {
        // Thresholds are over each layer's whole input (Mase), so the model must compute every position (BERT's
        // last layer otherwise computes [CLS] only).
        model.require_full_sequence();
        double act_t = 0.0;
        if (a.method == PruneMethod::L1Norm && a.scope == PruneScope::Global) {
            if (!run_calibration)
                throw Error("prune: global activation pruning needs calibration batches (none were given)");
            std::vector<Tensor> seen;
            for (auto* l : layers) {
                l->set_activation_prune(std::nullopt);
                l->set_observer([&seen](const CompressedLinear&, const Tensor& x) { seen.push_back(x.detach().clone()); });
            }
            run_calibration();
            for (auto* l : layers) l->set_observer(nullptr);
            if (seen.empty()) throw Error("prune: the calibration batches reached no Linear layer");
            act_t = engine::quantile_abs(seen, a.sparsity);
        }
        for (size_t i = 0; i < layers.size(); ++i) {
            model::ActivationPruneConfig ac;
            ac.sparsity = a.sparsity;
            ac.method = a.method;
            ac.scope = a.scope;
            ac.global_threshold = act_t;
            ac.seed = rng.fork("activation." + names[i]).next_u64();
            layers[i]->set_activation_prune(ac);
        }
    }
    return out;
}

}  // namespace qbert::passes
