#include "passes/calibrate.h"

#include <cmath>
#include <map>

#include "model/compressed_linear.h"
#include "passes/quantize.h"

namespace qbert::passes {

using engine::Tensor;
using model::CompressedLinear;

int frac_for_range(int width, double range) {
    if (!(range > 0.0)) return width - 1;
    const double qmax = std::ldexp(1.0, width - 1) - 1.0;
    int f = static_cast<int>(std::floor(std::log2(qmax / range)));
    while (range * std::ldexp(1.0, f) > qmax) --f;  // guard the log2 rounding
    while (range * std::ldexp(1.0, f + 1) <= qmax) ++f;
    return std::clamp(f, -64, 64);
}

namespace {
bool all_fixed_point(const model::LinearQuantConfig& q) {
    using engine::FormatKind;
    return q.data_in.kind == FormatKind::Integer && q.weight.kind == FormatKind::Integer &&
           q.bias.kind == FormatKind::Integer;
}
}  // namespace

std::vector<CalibratedLayer> calibrate(model::Module& model, const std::function<void()>& run_batches,
                                       double percentile) {
    ENGINE_CHECK(percentile > 0.0 && percentile <= 1.0, "calibrate: percentile must be in (0, 1], but got ", percentile);
    std::vector<std::pair<std::string, CompressedLinear*>> layers;
    for (const auto& [name, mod] : linear_layers(model))
        if (auto* c = dynamic_cast<CompressedLinear*>(mod.get()); c && c->quant() && all_fixed_point(*c->quant()))
            layers.emplace_back(name, c);  // frac widths exist only in fixed point; other formats scale themselves
    std::map<const CompressedLinear*, std::vector<Tensor>> seen;
    std::map<const CompressedLinear*, double> max_in;
    for (auto& [name, c] : layers)
        c->set_observer([&, percentile](const CompressedLinear& l, const Tensor& x) {
            if (percentile < 1.0) {
                seen[&l].push_back(x.detach().clone());
            } else {
                double m = max_in[&l];
                for (double v : x.to_vector_f64()) m = std::max(m, std::abs(v));
                max_in[&l] = m;
            }
        });
    // The ranges are those of the float model: with the uncalibrated formats on, an early layer's saturated
    // (or zeroed) outputs would hide the real ranges of every later layer. They are over every position, so
    // BERT's last layer must compute them all while we look.
    std::vector<model::LinearQuantConfig> formats;
    for (auto& [name, c] : layers) {
        formats.push_back(*c->quant());
        c->set_quant(std::nullopt);
    }
    const bool was_full = model.set_full_sequence(true);
    run_batches();
    model.set_full_sequence(was_full);
    for (size_t i = 0; i < layers.size(); ++i) {
        layers[i].second->set_observer(nullptr);
        layers[i].second->set_quant(formats[i]);
    }

    std::vector<CalibratedLayer> out;
    for (auto& [name, c] : layers) {
        model::LinearQuantConfig q = *c->quant();
        CalibratedLayer r;
        r.name = name;
        r.data_in_range = percentile < 1.0 ? (seen[c].empty() ? 0.0 : engine::quantile_abs(seen[c], percentile)) : max_in[c];
        const Tensor w = c->effective_weight();
        r.weight_range = engine::quantile_abs({w}, percentile);
        r.bias_range = c->bias().defined() ? engine::quantile_abs({c->bias()}, percentile) : 0.0;
        q.data_in.frac_width = r.data_in_frac = frac_for_range(q.data_in.width, r.data_in_range);
        q.weight.frac_width = r.weight_frac = frac_for_range(q.weight.width, r.weight_range);
        q.bias.frac_width = r.bias_frac = frac_for_range(q.bias.width, r.bias_range);
        c->set_quant(q);
        out.push_back(r);
    }
    return out;
}

}  // namespace qbert::passes
