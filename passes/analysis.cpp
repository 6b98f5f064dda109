#include "passes/analysis.h"

#include <fmt/format.h>

#include <ostream>
#include <set>

#include "model/compressed_linear.h"
#include "passes/quantize.h"

namespace qbert::passes {

using engine::Tensor;

namespace {
int64_t count_nonzero(const Tensor& t) {
    int64_t n = 0;
    for (double v : t.to_vector_f64()) n += v != 0.0;
    return n;
}
}  // namespace

ModelStats analyze(const model::Module& m) {
    ModelStats s;
    std::set<std::string> covered;
    for (const auto& [name, mod] : linear_layers(m)) {
        const auto* lin = dynamic_cast<const model::Linear*>(mod.get());
        const auto* c = dynamic_cast<const model::CompressedLinear*>(mod.get());
        LayerStats l;
        l.name = name;
        l.type = mod->type_name();
        const Tensor w = c ? c->effective_weight() : lin->weight();
        const int64_t wn = count_nonzero(w);
        const int64_t bn = lin->bias().defined() ? count_nonzero(lin->bias()) : 0;
        const int64_t bp = lin->bias().defined() ? lin->bias().numel() : 0;
        l.params = w.numel() + bp;
        l.nonzero = wn + bn;
        // Each stored non-zero costs its format's bits per value; block formats add their shared exponents or
        // biases per block, a scaled ternary its one scale (engine::NumberFormat::storage_bits).
        const engine::NumberFormat wf = c && c->quant() ? c->quant()->weight : engine::NumberFormat::fp32();
        const engine::NumberFormat bf = c && c->quant() ? c->quant()->bias : engine::NumberFormat::fp32();
        l.format = wf.str();
        l.weight_bits = wf.storage_bits(w.shape()) / static_cast<double>(w.numel());
        double bits = static_cast<double>(wn) * wf.value_bits() + wf.shared_bits(w.shape());
        if (lin->bias().defined()) bits += static_cast<double>(bn) * bf.value_bits() + bf.shared_bits(lin->bias().shape());
        l.bytes = bits / 8.0;
        covered.insert(name + ".weight");
        covered.insert(name + ".bias");
        s.layers.push_back(l);
    }
    // everything else (embeddings, LayerNorms): fp32, grouped by module
    for (const auto& [pname, t] : m.named_parameters()) {
        if (covered.count(pname)) continue;
        const std::string owner = pname.substr(0, pname.rfind('.'));
        if (s.layers.empty() || s.layers.back().name != owner || s.layers.back().type != "other") {
            LayerStats l;
            l.name = owner;
            l.type = "other";
            l.format = "fp32";
            s.layers.push_back(l);
        }
        LayerStats& l = s.layers.back();
        const int64_t nz = count_nonzero(t);
        l.params += t.numel();
        l.nonzero += nz;
        l.bytes += static_cast<double>(nz) * 4.0;
    }
    s.total.name = "total";
    s.total.format = "";
    for (const auto& l : s.layers) {
        s.total.params += l.params;
        s.total.nonzero += l.nonzero;
        s.total.bytes += l.bytes;
    }
    s.total.weight_bits = s.total.nonzero ? s.total.bytes * 8.0 / static_cast<double>(s.total.nonzero) : 0.0;
    return s;
}

double linear_weight_bits(const model::Module& m) {
    double bits = 0.0;
    for (const auto& [name, mod] : linear_layers(m)) {
        const auto* lin = dynamic_cast<const model::Linear*>(mod.get());
        const auto* c = dynamic_cast<const model::CompressedLinear*>(mod.get());
        const engine::NumberFormat wf = c && c->quant() ? c->quant()->weight : engine::NumberFormat::fp32();
        bits += wf.storage_bits(lin->weight().shape());
    }
    return bits;
}

void print_stats(std::ostream& os, const ModelStats& s) {
    os << fmt::format("{:<48} {:<24} {:>10} {:>10} {:>8} {:>11} {:>12}\n", "layer", "format", "params", "nonzero",
                      "sparsity", "bits/weight", "bytes");
    auto row = [&](const LayerStats& l) {
        os << fmt::format("{:<48} {:<24} {:>10} {:>10} {:>8.4f} {:>11.2f} {:>12.0f}\n", l.name, l.format, l.params,
                          l.nonzero, l.sparsity(), l.weight_bits, l.bytes);
    };
    for (const auto& l : s.layers) row(l);
    row(s.total);
    const double fp32_bytes = static_cast<double>(s.total.params) * 4.0;
    os << fmt::format("size as deployed: {:.3f} MB (fp32 dense: {:.3f} MB, {:.2f}x smaller); non-zeros x width, no "
                      "sparse-index overhead\n",
                      s.total.bytes / 1e6, fp32_bytes / 1e6, s.total.bytes > 0 ? fp32_bytes / s.total.bytes : 0.0);
}

}  // namespace qbert::passes
