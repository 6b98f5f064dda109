#include "passes/structured.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

#include "engine/engine.h"
#include "model/compressed_linear.h"

namespace qbert::passes {

using namespace engine;
using model::CompressedLinear;
using model::Linear;

namespace {
// The weight a layer computes with: W, or W ⊙ M for a masked (pruned) layer.
Tensor effective(Linear& l) {
    if (const auto* c = dynamic_cast<const CompressedLinear*>(&l); c && c->has_weight_mask()) return c->effective_weight();
    return l.weight();
}

Linear& linear_at(model::Module& root, const std::string& name) {
    for (const auto& [n, mod] : root.named_modules())
        if (n == name) {
            auto* l = dynamic_cast<Linear*>(mod.get());
            ENGINE_CHECK(l, "structured pruning: '", name, "' is a ", mod->type_name(),
                         ", not a Linear (a layer NAS replaced has no units to prune)");
            return *l;
        }
    throw Error("structured pruning: the model has no layer '" + name + "'");
}

// Sum of |w| or w^2 over W[r, c] for rows in [r0, r1) (all columns), or columns in [c0, c1) (all rows).
double norm_part(const Tensor& w, int64_t r0, int64_t r1, int64_t c0, int64_t c1, UnitNorm norm) {
    const Tensor wc = w.is_contiguous() ? w : w.clone();
    const float* v = wc.data<float>();
    const int64_t cols = w.size(1);
    double s = 0.0;
    for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) {
            const double x = v[r * cols + c];
            s += norm == UnitNorm::L1 ? std::abs(x) : x * x;
        }
    return s;
}

// rows (dim 0) or columns (dim 1) of a 2-D tensor, or entries of a 1-D one, at `idx`
Tensor gather(const Tensor& t, const std::vector<int64_t>& idx, int dim) {
    const Tensor tc = t.is_contiguous() ? t.detach() : t.detach().clone();
    if (t.dim() == 1) {
        Tensor out = Tensor::empty({static_cast<int64_t>(idx.size())}, t.dtype());
        const size_t es = dtype_size(t.dtype());
        for (size_t i = 0; i < idx.size(); ++i)
            std::memcpy(static_cast<char*>(out.raw_data()) + i * es,
                        static_cast<const char*>(tc.raw_data()) + static_cast<size_t>(idx[i]) * es, es);
        return out;
    }
    const int64_t rows = t.size(0), cols = t.size(1);
    const int64_t n = static_cast<int64_t>(idx.size());
    Tensor out = Tensor::empty(dim == 0 ? Shape{n, cols} : Shape{rows, n}, t.dtype());
    const size_t es = dtype_size(t.dtype());
    const char* src = static_cast<const char*>(tc.raw_data());
    char* dst = static_cast<char*>(out.raw_data());
    if (dim == 0) {
        for (int64_t i = 0; i < n; ++i)
            std::memcpy(dst + static_cast<size_t>(i * cols) * es, src + static_cast<size_t>(idx[i] * cols) * es,
                        static_cast<size_t>(cols) * es);
    } else {
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t i = 0; i < n; ++i)
                std::memcpy(dst + static_cast<size_t>(r * n + i) * es, src + static_cast<size_t>(r * cols + idx[i]) * es, es);
    }
    return out;
}

// Fills the fresh layer at `name` (made by set_layer_shape) from `old` cut to `idx` along `dim` of the weight
// (the bias too when dim is 0), and wraps it as the old one was wrapped (quantization, mask cut the same way).
void fill(model::BertForSequenceClassification& m, const std::string& name, const std::shared_ptr<Linear>& old,
          const std::vector<int64_t>& idx, int dim) {
    Linear& fresh = linear_at(m, name);
    NoGradGuard ng;
    fresh.weight().copy_(gather(old->weight(), idx, dim));
    if (fresh.bias().defined() && old->bias().defined())
        fresh.bias().copy_(dim == 0 ? gather(old->bias(), idx, 0) : old->bias().detach());
    const auto* oc = dynamic_cast<const CompressedLinear*>(old.get());
    if (!oc) return;
    CompressedLinear& c = model::compress_layer(m, name);
    c.set_quant(oc->quant());
    c.set_activation_prune(oc->activation_prune());
    if (oc->has_weight_mask()) c.set_weight_mask(gather(oc->weight_mask(), idx, dim));
}

// The indices of the `keep` largest scores (ties: lower index first), in increasing order.
std::vector<int64_t> top(const std::vector<double>& score, int64_t keep) {
    std::vector<int64_t> order(score.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return score[a] > score[b]; });
    order.resize(static_cast<size_t>(keep));
    std::sort(order.begin(), order.end());
    return order;
}

// Per layer, how many units to keep: local = round((1 - f) n) each; global = the best round((1 - f) total) over
// all layers together, then at least one per layer.
std::vector<std::vector<int64_t>> choose(const std::vector<std::vector<double>>& scores, double fraction, bool global) {
    std::vector<std::vector<int64_t>> kept(scores.size());
    if (!global) {
        for (size_t l = 0; l < scores.size(); ++l) {
            const auto n = static_cast<double>(scores[l].size());
            kept[l] = top(scores[l], std::max<int64_t>(1, std::llround((1.0 - fraction) * n)));
        }
        return kept;
    }
    std::vector<std::pair<double, std::pair<size_t, int64_t>>> all;
    for (size_t l = 0; l < scores.size(); ++l)
        for (size_t j = 0; j < scores[l].size(); ++j) all.push_back({scores[l][j], {l, static_cast<int64_t>(j)}});
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const auto keep = static_cast<size_t>(std::max<int64_t>(1, std::llround((1.0 - fraction) * static_cast<double>(all.size()))));
    for (size_t i = 0; i < keep && i < all.size(); ++i) kept[all[i].second.first].push_back(all[i].second.second);
    for (size_t l = 0; l < scores.size(); ++l) {
        if (kept[l].empty()) kept[l] = top(scores[l], 1);  // every layer keeps one unit
        std::sort(kept[l].begin(), kept[l].end());
    }
    return kept;
}
}  // namespace

UnitNorm parse_unit_norm(const std::string& s) {
    if (s == "l1") return UnitNorm::L1;
    if (s == "l2") return UnitNorm::L2;
    throw Error("structured pruning: importance '" + s + "' is not l1 or l2");
}

std::vector<StructuredLayer> prune_structured(model::BertForSequenceClassification& m, const StructuredSpec& spec,
                                              Rng& rng) {
    ENGINE_CHECK(spec.heads >= 0.0 && spec.heads < 1.0, "structured pruning: the fraction of heads removed must be in ",
                 "[0, 1), but got ", spec.heads);
    ENGINE_CHECK(spec.neurons >= 0.0 && spec.neurons < 1.0, "structured pruning: the fraction of neurons removed must ",
                 "be in [0, 1), but got ", spec.neurons);
    const model::BertConfig& c = m.config();
    const int64_t HS = c.hidden_size / c.num_attention_heads;
    const auto shapes = m.layer_shapes();
    const auto finish = [&](double s) { return spec.norm == UnitNorm::L1 ? s : std::sqrt(s); };
    std::vector<std::vector<double>> head_scores, neuron_scores;
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
        const std::string p = "bert.encoder.layer." + std::to_string(l) + ".";
        std::vector<double> hs(static_cast<size_t>(shapes[l].heads)), ns(static_cast<size_t>(shapes[l].intermediate));
        for (int64_t h = 0; h < shapes[l].heads; ++h) {
            double s = 0.0;
            for (const char* n : {"query", "key", "value"})
                s += norm_part(effective(linear_at(m, p + "attention.self." + n)), h * HS, (h + 1) * HS, 0,
                               c.hidden_size, spec.norm);
            s += norm_part(effective(linear_at(m, p + "attention.output.dense")), 0, c.hidden_size, h * HS,
                           (h + 1) * HS, spec.norm);
            hs[static_cast<size_t>(h)] = finish(s);
        }
        const Tensor up = effective(linear_at(m, p + "intermediate.dense"));
        const Tensor down = effective(linear_at(m, p + "output.dense"));
        for (int64_t j = 0; j < shapes[l].intermediate; ++j)
            ns[static_cast<size_t>(j)] = finish(norm_part(up, j, j + 1, 0, c.hidden_size, spec.norm) +
                                                norm_part(down, 0, c.hidden_size, j, j + 1, spec.norm));
        head_scores.push_back(hs);
        neuron_scores.push_back(ns);
    }
    const auto kept_heads = choose(head_scores, spec.heads, spec.global);
    const auto kept_neurons = choose(neuron_scores, spec.neurons, spec.global);
    std::vector<StructuredLayer> report;
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
        const std::string p = "bert.encoder.layer." + std::to_string(l) + ".";
        std::map<std::string, std::shared_ptr<Linear>> old;
        for (const auto& [n, mod] : m.named_modules())
            if (n.rfind(p, 0) == 0)
                if (auto lin = std::dynamic_pointer_cast<Linear>(mod)) old[n.substr(p.size())] = lin;
        std::vector<int64_t> rows;  // the kept heads' rows of q, k, v
        for (int64_t h : kept_heads[l])
            for (int64_t r = h * HS; r < (h + 1) * HS; ++r) rows.push_back(r);
        m.set_layer_shape(l, model::LayerShape{static_cast<int64_t>(kept_heads[l].size()),
                                               static_cast<int64_t>(kept_neurons[l].size())},
                          rng);
        for (const char* n : {"query", "key", "value"})
            fill(m, p + "attention.self." + n, old.at(std::string("attention.self.") + n), rows, 0);
        fill(m, p + "attention.output.dense", old.at("attention.output.dense"), rows, 1);
        fill(m, p + "intermediate.dense", old.at("intermediate.dense"), kept_neurons[l], 0);
        fill(m, p + "output.dense", old.at("output.dense"), kept_neurons[l], 1);
        report.push_back(StructuredLayer{l, kept_heads[l], kept_neurons[l], shapes[l].heads, shapes[l].intermediate});
    }
    return report;
}

}  // namespace qbert::passes
