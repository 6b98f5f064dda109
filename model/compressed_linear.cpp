#include "model/compressed_linear.h"

#include <nlohmann/json.hpp>

namespace qbert::model {

using namespace engine;

CompressedLinear::CompressedLinear(const Linear& src) : Linear(src.weight(), src.bias()) { train(src.training()); }

void CompressedLinear::set_quant(std::optional<LinearQuantConfig> q) {
    if (q) {
        q->data_in.validate("data_in");
        q->weight.validate("weight");
        q->bias.validate("bias");
        if (q->data_out) q->data_out->validate("data_out");
        quant_rng_ = Rng(q->seed).fork("binarize");
    }
    quant_ = std::move(q);
}

void CompressedLinear::set_weight_mask(const Tensor& mask) {
    if (!mask.defined()) {
        mask_u8_ = Tensor();
        return;
    }
    ENGINE_CHECK_SHAPE(mask.shape() == weight().shape() && mask.dtype() == DType::U8,
                       "weight_mask must be u8 with the weight's shape ", shape_str(weight().shape()), ", but got ",
                       mask.str());
    Tensor m = mask.detach().clone();
    const uint8_t* mv = m.data<uint8_t>();
    for (int64_t i = 0; i < m.numel(); ++i)
        ENGINE_CHECK(mv[i] <= 1, "weight_mask must hold 0 or 1, but element ", i, " is ", int(mv[i]));
    mask_u8_ = m;
    set_buffer("weight_mask", mask_u8_);
}

Tensor CompressedLinear::effective_weight() const {
    NoGradGuard ng;
    Tensor w = weight().detach().clone();
    if (mask_u8_.defined()) {  // W * M, the product linear() computes with
        float* wv = w.data<float>();
        const uint8_t* m = mask_u8_.data<uint8_t>();
        for (int64_t i = 0; i < w.numel(); ++i) wv[i] = wv[i] * static_cast<float>(m[i]);
    }
    return w;
}

void CompressedLinear::set_activation_prune(std::optional<ActivationPruneConfig> a) {
    if (a) {
        ENGINE_CHECK(a->sparsity >= 0.0 && a->sparsity <= 1.0, "activation sparsity must be in [0, 1], but got ",
                     a->sparsity);
        act_rng_ = Rng(a->seed);
    }
    act_ = a;
}

Tensor CompressedLinear::prune_activation(const Tensor& x) {
    const ActivationPruneConfig& a = *act_;
    Tensor mask;
    {
        NoGradGuard ng;
        if (a.method == PruneMethod::Random) {
            // a fresh mask per call: a new seed from this layer's stream, then element i is dropped when
            // hash_uniform(seed, i) < sparsity (independent of the thread count)
            mask = random_keep_mask(x.shape(), act_rng_.next_u64(), a.sparsity, x.dtype());
        } else {
            const double t = a.scope == PruneScope::Local ? quantile_abs({x}, a.sparsity) : a.global_threshold;
            mask = threshold_keep_mask(x, t);
        }
    }
    return mul(x, mask);  // gradients flow through kept entries only
}

std::string CompressedLinear::int8_unsupported() const {
    if (!quant_) return "not quantized";
    for (const auto& [what, f] : {std::pair{"input", &quant_->data_in}, std::pair{"weight", &quant_->weight}})
        if (f->kind != FormatKind::Integer)
            return detail::concat("its ", what, " is ", f->str(), ", not fixed point");
    return engine::int8_unsupported(quant_->data_in.fixed_point(), quant_->weight.fixed_point());
}

Tensor CompressedLinear::int8_weight() const {
    const std::string why = int8_unsupported();
    ENGINE_CHECK(why.empty(), "no int8 weight: ", why);
    const FixedPoint q = quant_->weight.fixed_point();
    const Tensor& w = weight();
    Int8WeightCache& c = int8_cache_;
    const auto same = [](const Tensor& a, const Tensor& b) {
        return a.defined() == b.defined() && (!a.defined() || a.raw_data() == b.raw_data());
    };
    const uint64_t mask_version = mask_u8_.defined() ? mask_u8_.version() : 0;
    if (!c.wi.defined() || !same(c.w, w) || c.w_version != w.version() || !same(c.mask, mask_u8_) ||
        c.mask_version != mask_version || !(c.q == q))
        c = Int8WeightCache{quantize_weight_int8(w, q, mask_u8_), w, mask_u8_, w.version(), mask_version, q};
    return c.wi;
}

std::string CompressedLinear::sparse_unsupported() const {
    if (!mask_u8_.defined()) return "no weight mask (not pruned)";
    if (quant_ && quant_->weight.stochastic) return "its weight format is stochastic (" + quant_->weight.str() + ")";
    return "";
}

double CompressedLinear::weight_sparsity() const {
    if (!mask_u8_.defined() || mask_u8_.numel() == 0) return 0.0;
    const uint8_t* m = mask_u8_.data<uint8_t>();
    int64_t kept = 0;
    for (int64_t i = 0; i < mask_u8_.numel(); ++i) kept += m[i];
    return 1.0 - static_cast<double>(kept) / static_cast<double>(mask_u8_.numel());
}

const CsrMatrix& CompressedLinear::sparse_weight() const {
    const std::string why = sparse_unsupported();
    ENGINE_CHECK(why.empty(), "no sparse weight: ", why);
    const Tensor& w = weight();
    SparseWeightCache& c = sparse_cache_;
    const std::optional<NumberFormat> q = quant_ ? std::optional<NumberFormat>(quant_->weight) : std::nullopt;
    if (!c.valid || c.w.raw_data() != w.raw_data() || c.w_version != w.version() ||
        c.mask.raw_data() != mask_u8_.raw_data() || c.mask_version != mask_u8_.version() || !(c.q == q)) {
        NoGradGuard ng;
        Rng unused(0);  // deterministic formats only (sparse_unsupported)
        const Tensor wq = q ? quantize(w.detach(), *q, Ste::Identity, &unused) : w.detach();
        c = SparseWeightCache{csr_from_dense(wq, mask_u8_, "weight"), w, mask_u8_, w.version(), mask_u8_.version(), q,
                              true};
    }
    return c.m;
}

Tensor CompressedLinear::inference_bias(const Tensor& b) {
    if (!b.defined() || !quant_) return b;
    if (quant_->bias.stochastic) return quantize(b, quant_->bias, quant_->ste, &quant_rng_);  // a fresh draw each call
    BiasCache& c = bias_cache_;
    if (!c.bq.defined() || c.b.raw_data() != b.raw_data() || c.version != b.version() || !(c.q == quant_->bias))
        c = BiasCache{b, quantize(b.detach(), quant_->bias, quant_->ste, &quant_rng_), b.version(), quant_->bias};
    return c.bq;
}

Tensor CompressedLinear::forward(const Tensor& x_in) {
    ENGINE_CHECK(x_in.dtype() == DType::F32, type_name(), ": f32 input expected, but got ", x_in.str());
    Tensor x = act_ && act_->sparsity > 0.0 ? prune_activation(x_in) : x_in;
    if (observer_) observer_(*this, x);
    Tensor w = weight();
    Tensor b = bias();
    if (int8_ && !GradMode::enabled() && int8_unsupported().empty()) {
        // the deployed arithmetic: int8 operands, int32 sums, one power-of-two scale, the (quantized) bias in float
        b = inference_bias(b);
        Tensor y = linear_int8(x, quant_->data_in.fixed_point(), int8_weight(), quant_->weight.frac_width, b);
        if (quant_->data_out) y = quantize(y, *quant_->data_out, quant_->ste, &quant_rng_);
        return y;
    }
    if (sparse_ && !GradMode::enabled() && sparse_unsupported().empty()) {
        // the kept weights only: the same products as the dense masked matmul below
        if (quant_) x = quantize(x, quant_->data_in, quant_->ste, &quant_rng_);
        Tensor y = linear_sparse(x, sparse_weight(), inference_bias(b));
        if (quant_ && quant_->data_out) y = quantize(y, *quant_->data_out, quant_->ste, &quant_rng_);
        return y;
    }
    if (quant_) {
        x = quantize(x, quant_->data_in, quant_->ste, &quant_rng_);
        // Q(W), masked inside linear (Q(W) ⊙ M; see the header), and the STE's gradient is multiplied by M there
        w = quantize(w, quant_->weight, quant_->ste, &quant_rng_);
        if (b.defined()) b = quantize(b, quant_->bias, quant_->ste, &quant_rng_);
    }
    Tensor y = linear(x, w, b, mask_u8_);  // y = x (w ⊙ M)^T + b; dW = M ⊙ (dy^T x)
    if (quant_ && quant_->data_out) y = quantize(y, *quant_->data_out, quant_->ste, &quant_rng_);
    return y;
}

std::vector<std::string> set_integer_inference(Module& root, bool on, std::vector<std::string>* not_int8) {
    std::vector<std::string> yes;
    for (const auto& [name, mod] : root.named_modules()) {
        auto* c = dynamic_cast<CompressedLinear*>(mod.get());
        if (!c) continue;
        c->set_integer_inference(on);
        const std::string why = c->int8_unsupported();
        if (why.empty())
            yes.push_back(name);
        else if (not_int8)
            not_int8->push_back(name + ": " + why);
    }
    return on ? yes : std::vector<std::string>{};
}

std::vector<std::string> set_sparse_inference(Module& root, bool on, double min_sparsity,
                                              std::vector<std::string>* not_sparse) {
    ENGINE_CHECK(min_sparsity >= 0.0 && min_sparsity <= 1.0, "the minimum sparsity for sparse inference must be in ",
                 "[0, 1], but got ", min_sparsity);
    std::vector<std::string> yes;
    for (const auto& [name, mod] : root.named_modules()) {
        auto* c = dynamic_cast<CompressedLinear*>(mod.get());
        if (!c) continue;
        std::string why = c->sparse_unsupported();
        if (why.empty() && c->weight_sparsity() < min_sparsity)
            why = detail::concat("sparsity ", c->weight_sparsity(), " < ", min_sparsity, " (dense is faster)");
        c->set_sparse_inference(on && why.empty());
        if (why.empty())
            yes.push_back(name);
        else if (not_sparse)
            not_sparse->push_back(name + ": " + why);
    }
    return on ? yes : std::vector<std::string>{};
}

CompressedLinear& compress_layer(Module& root, const std::string& name) {
    for (const auto& [n, mod] : root.named_modules()) {
        if (n != name) continue;
        if (auto* c = dynamic_cast<CompressedLinear*>(mod.get())) return *c;
        auto* lin = dynamic_cast<Linear*>(mod.get());
        if (!lin) throw Error(detail::concat("layer '", name, "' is a ", mod->type_name(), ", not a Linear"));
        auto c = std::make_shared<CompressedLinear>(*lin);
        root.replace_module(name, c);
        return *c;
    }
    throw Error(detail::concat("no layer named '", name, "'"));
}

using nlohmann::json;

json number_format_json(const NumberFormat& f) {
    json j{{"format", format_name(f.kind)}};
    switch (f.kind) {
        case FormatKind::Fp32: break;
        case FormatKind::Integer:
            j.update({{"width", f.width}, {"frac_width", f.frac_width}, {"is_signed", f.is_signed}, {"floor", f.floor}});
            break;
        case FormatKind::Binary: j["stochastic"] = f.stochastic; break;
        case FormatKind::Ternary: j["scaling"] = f.scaling; break;
        default:
            j["width"] = f.width;
            if (f.kind != FormatKind::Log && f.kind != FormatKind::BlockLog) j["exponent_width"] = f.exponent_width;
            if (f.kind == FormatKind::BlockMinifloat || f.kind == FormatKind::BlockLog)
                j["exponent_bias_width"] = f.exponent_bias_width;
            else
                j["exponent_bias"] = f.exponent_bias ? json(*f.exponent_bias) : json();
            if (is_block(f.kind)) j.update({{"block_size", f.block_size}, {"skip_first_dim", f.skip_first_dim}});
    }
    return j;
}

NumberFormat number_format_from_json(const json& j) {
    NumberFormat f;
    const std::string name = j.value("format", std::string("integer"));
    const auto kind = parse_format(name);
    if (!kind) throw Error("unknown number format '" + name + "' (valid: " + format_names() + ")");
    f.kind = *kind;
    if (j.contains("width")) f.width = j.at("width").get<int>();
    if (j.contains("frac_width")) f.frac_width = j.at("frac_width").get<int>();
    if (j.contains("is_signed")) f.is_signed = j.at("is_signed").get<bool>();
    if (j.contains("floor")) f.floor = j.at("floor").get<bool>();
    if (j.contains("exponent_width")) f.exponent_width = j.at("exponent_width").get<int>();
    if (j.contains("exponent_bias") && !j.at("exponent_bias").is_null()) f.exponent_bias = j.at("exponent_bias").get<int>();
    if (j.contains("exponent_bias_width")) f.exponent_bias_width = j.at("exponent_bias_width").get<int>();
    if (j.contains("block_size")) f.block_size = j.at("block_size").get<std::vector<int64_t>>();
    if (j.contains("skip_first_dim")) f.skip_first_dim = j.at("skip_first_dim").get<bool>();
    if (j.contains("stochastic")) f.stochastic = j.at("stochastic").get<bool>();
    if (j.contains("scaling")) f.scaling = j.at("scaling").get<bool>();
    return f;
}

std::string compression_state_json(const Module& root) {
    json layers = json::object();
    for (const auto& [name, mod] : root.named_modules()) {
        const auto* c = dynamic_cast<const CompressedLinear*>(mod.get());
        if (!c) continue;
        json l;
        if (c->quant()) {
            const LinearQuantConfig& q = *c->quant();
            l["quant"] = {{"data_in", number_format_json(q.data_in)},
                          {"weight", number_format_json(q.weight)},
                          {"bias", number_format_json(q.bias)},
                          {"data_out", q.data_out ? number_format_json(*q.data_out) : json()},
                          {"ste", q.ste == Ste::Clipped ? "clipped" : "identity"},
                          {"seed", q.seed}};
        } else {
            l["quant"] = nullptr;
        }
        l["weight_mask"] = c->has_weight_mask();
        if (c->activation_prune()) {
            const ActivationPruneConfig& a = *c->activation_prune();
            l["activation"] = {{"sparsity", a.sparsity},
                               {"method", a.method == PruneMethod::Random ? "random" : "l1-norm"},
                               {"scope", a.scope == PruneScope::Local ? "local" : "global"},
                               {"global_threshold", a.global_threshold},
                               {"seed", a.seed}};
        } else {
            l["activation"] = nullptr;
        }
        layers[name] = l;
    }
    return json{{"layers", layers}}.dump();
}

void apply_compression_state(Module& root, const std::string& text, const std::string& source) {
    std::string layer;
    try {
        const json j = json::parse(text);
        bool act_pruned = false;
        for (const auto& [name, l] : j.at("layers").items()) {
            layer = name;
            CompressedLinear& c = compress_layer(root, name);
            if (!l.at("quant").is_null()) {
                const json& q = l.at("quant");
                LinearQuantConfig cfg{number_format_from_json(q.at("data_in")), number_format_from_json(q.at("weight")),
                                      number_format_from_json(q.at("bias")), std::nullopt,
                                      q.at("ste").get<std::string>() == "clipped" ? Ste::Clipped : Ste::Identity,
                                      q.value("seed", uint64_t{0})};
                if (!q.at("data_out").is_null()) cfg.data_out = number_format_from_json(q.at("data_out"));
                c.set_quant(cfg);
            }
            if (l.at("weight_mask").get<bool>()) c.set_weight_mask(Tensor::full(c.weight().shape(), 1.0, DType::U8));
            if (!l.at("activation").is_null()) {
                const json& a = l.at("activation");
                ActivationPruneConfig ac;
                ac.sparsity = a.at("sparsity").get<double>();
                ac.method = a.at("method").get<std::string>() == "random" ? PruneMethod::Random : PruneMethod::L1Norm;
                ac.scope = a.at("scope").get<std::string>() == "local" ? PruneScope::Local : PruneScope::Global;
                ac.global_threshold = a.at("global_threshold").get<double>();
                ac.seed = a.at("seed").get<uint64_t>();
                c.set_activation_prune(ac);
                act_pruned = act_pruned || ac.sparsity > 0.0;
            }
        }
        if (act_pruned) root.require_full_sequence();  // as the prune pass does
    } catch (const json::exception& e) {
        throw Error(detail::concat(source, ": compression state", layer.empty() ? "" : " of layer '" + layer + "'",
                                   " is malformed: ", e.what()));
    } catch (const Error& e) {
        throw Error(detail::concat(source, ": compression state of layer '", layer, "': ", e.what()));
    }
}

}  // namespace qbert::model
