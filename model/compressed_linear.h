// A Linear layer with compression applied on every forward, as Mase's LinearInteger plus its pruning
// parametrization and activation pre-hook (mase-behaviour.md sections 1.3, 3.4, 3.5):
//
//   x  = x * act_mask(x)                 activation pruning: a mask computed from this very input, each call
//                                        (engine::threshold_keep_mask or random_keep_mask)
//   xq = Q(x; data_in)  Wq = Q(W; weight)  bq = Q(b; bias)     fake quantization, each operand in its own
//                                        number format (engine/ops/formats.h: integer, minifloat, log, block,
//                                        binary, ternary, or fp32 = left alone)
//   y  = xq (Wq ⊙ M)^T + bq              engine::linear with the weight mask M (weight pruning: a fixed 0/1
//                                        mask; masked entries get exactly zero gradient), then y = Q(y; data_out)
//
// Mase masks first and then quantizes, Q(W ⊙ M); we quantize first and let linear apply the mask, Q(W) ⊙ M.
// The two are equal for the element-wise formats with Q(0) = 0 (fixed point, the minifloats), and the
// straight-through gradient is multiplied by M either way. Formats without a zero (log, binary) and those whose
// statistics see the other weights (block maxima, ternary's threshold) differ: Q(W) ⊙ M keeps pruned weights at
// exactly 0, which is what a pruned deployment stores (docs/formats.md).
//
// The fp32 weight stays the trained shadow parameter (the same tensor the wrapped Linear had). The mask is a
// u8 buffer named "weight_mask", saved beside the weight. Every part is optional; a CompressedLinear with none
// computes exactly what Linear does.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/ops/formats.h"
#include "engine/ops/int8.h"
#include "engine/ops/sparse.h"
#include "model/module.h"

namespace qbert::model {

// The quantization of one Linear, as Mase's Linear<Format> configs (passes/quantize.h reads them): a number
// format per operand (fp32 = left alone; binary and ternary layers quantize only the weight, as Mase's
// LinearBinary), an optional fixed-point output, the STE, and the seed of stochastic binarization.
struct LinearQuantConfig {
    engine::NumberFormat data_in, weight, bias;
    std::optional<engine::NumberFormat> data_out;
    engine::Ste ste = engine::Ste::Identity;
    uint64_t seed = 0;
    bool operator==(const LinearQuantConfig&) const = default;
};

enum class PruneMethod { Random, L1Norm };
enum class PruneScope { Local, Global };

struct ActivationPruneConfig {
    double sparsity = 0.0;
    PruneMethod method = PruneMethod::L1Norm;
    PruneScope scope = PruneScope::Local;
    double global_threshold = 0.0;  // scope Global: |x| > this is kept (set by the prune pass)
    uint64_t seed = 0;              // method Random: fresh masks each call from a stream seeded with this
};

class CompressedLinear : public Linear {
public:
    // Wraps `src`: the same weight and bias tensors, no compression yet.
    explicit CompressedLinear(const Linear& src);
    std::string type_name() const override { return "CompressedLinear"; }
    Tensor forward(const Tensor& x) override;

    void set_quant(std::optional<LinearQuantConfig> q);
    const std::optional<LinearQuantConfig>& quant() const { return quant_; }

    // mask: u8 [out, in], 1 = keep. An undefined tensor removes the mask.
    void set_weight_mask(const Tensor& mask);
    const Tensor& weight_mask() const { return mask_u8_; }
    bool has_weight_mask() const { return mask_u8_.defined(); }
    // The weight the layer computes with before quantization: W ⊙ M (or W).
    Tensor effective_weight() const;

    // Integer inference (engine/ops/int8.h): when on and no gradient is being recorded, a layer whose input and
    // weight are fixed-point of at most 8 bits computes its matmul on int8 operands with int32 sums instead of
    // in float on fake-quantized values (the same result, bit for bit, where the float sums are exact). Training
    // and layers that do not qualify keep the fake-quant path.
    void set_integer_inference(bool on) { int8_ = on; }
    bool integer_inference() const { return int8_; }
    // Why this layer cannot run on int8 operands ("" when it can): no quantization, a format other than fixed
    // point, or more than 8 bits.
    std::string int8_unsupported() const;
    // Its weight's int8 grid indices (times the mask), for export and inspection; throws if unsupported. The
    // tensor is the layer's cached copy: read it, do not write it.
    Tensor int8_weight() const;

    // Sparse inference (engine/ops/sparse.h): when on and no gradient is being recorded, a layer with a weight mask
    // computes y = Q(x) CSR(Q(W) ⊙ M)^T + Q(b) from its kept weights only (the same products as the dense masked
    // matmul, summed in another order: equal to float rounding). Integer inference, where on and supported, wins.
    void set_sparse_inference(bool on) { sparse_ = on; }
    bool sparse_inference() const { return sparse_; }
    // Why this layer cannot run sparse ("" when it can): no weight mask, or a stochastic weight format (a fresh
    // draw each call cannot be packed once).
    std::string sparse_unsupported() const;
    // Its masked (and quantized) weight in CSR, cached like int8_weight(); throws if unsupported.
    const engine::CsrMatrix& sparse_weight() const;
    // The fraction of the weight the mask prunes (0 without a mask).
    double weight_sparsity() const;

    void set_activation_prune(std::optional<ActivationPruneConfig> a);
    const std::optional<ActivationPruneConfig>& activation_prune() const { return act_; }

    // Called on every forward with the layer's input after activation pruning and before quantization
    // (range calibration and global activation thresholds read it). Empty = none.
    using Observer = std::function<void(const CompressedLinear&, const Tensor& input)>;
    void set_observer(Observer f) { observer_ = std::move(f); }

private:
    Tensor prune_activation(const Tensor& x);

    std::optional<LinearQuantConfig> quant_;
    Tensor mask_u8_;  // the saved u8 mask, read by linear()
    std::optional<ActivationPruneConfig> act_;
    engine::Rng act_rng_{0};
    engine::Rng quant_rng_{0};  // stochastic binarization
    Observer observer_;
    bool int8_ = false;
    // int8_weight()'s last result and what it was computed from: the weight and mask tensors (held, so their
    // storage cannot be freed and reused at the same address), their versions (an optimizer step or a checkpoint
    // load bumps them) and the format. Integer inference quantizes the weight once instead of on every forward.
    struct Int8WeightCache {
        Tensor wi, w, mask;
        uint64_t w_version = 0, mask_version = 0;
        engine::FixedPoint q;
    };
    mutable Int8WeightCache int8_cache_;
    // Q(b) for the int8 and sparse inference paths (no gradient there), recomputed when the bias or its format
    // changes: quantizing a few hundred biases per layer per call cost more than 10% of an int8 forward.
    struct BiasCache {
        Tensor b, bq;
        uint64_t version = 0;
        std::optional<engine::NumberFormat> q;
    };
    mutable BiasCache bias_cache_;
    Tensor inference_bias(const Tensor& b);
    bool sparse_ = false;
    struct SparseWeightCache {
        engine::CsrMatrix m;
        Tensor w, mask;
        uint64_t w_version = 0, mask_version = 0;
        std::optional<engine::NumberFormat> q;
        bool valid = false;
    };
    mutable SparseWeightCache sparse_cache_;
};

// Sparse inference on or off for every CompressedLinear under `root` whose mask prunes at least `min_sparsity` of
// its weight (below the measured crossover the dense matmul is faster: docs/deploy.md); returns the names of the
// layers that will run sparse (on), and fills `not_sparse` (if given) with "<name>: <reason>" for the others.
std::vector<std::string> set_sparse_inference(Module& root, bool on, double min_sparsity = 0.75,
                                              std::vector<std::string>* not_sparse = nullptr);

// Integer inference on or off for every CompressedLinear under `root`; returns the names of the layers that will
// run on int8 operands (on), and fills `not_int8` (if given) with "<name>: <reason>" for those that will not.
std::vector<std::string> set_integer_inference(Module& root, bool on, std::vector<std::string>* not_int8 = nullptr);

// The layer `name` under `root` as a CompressedLinear, wrapping (and replacing) a plain Linear first.
CompressedLinear& compress_layer(Module& root, const std::string& name);

// The compression of every CompressedLinear under `root` as JSON (checkpoint meta "compression"):
//   {"layers": {"<name>": {"quant": {...} | null, "weight_mask": true|false, "activation": {...} | null}}}
// Masks themselves are tensors: the "<name>.weight_mask" buffers.
std::string compression_state_json(const Module& root);
// A number format as JSON ({"format": "minifloat_ieee", "width": 8, ...}: only the fields the format uses) and
// back; JSON without "format" is a fixed-point format (checkpoints written before the other formats existed).
nlohmann::json number_format_json(const engine::NumberFormat& f);
engine::NumberFormat number_format_from_json(const nlohmann::json& j);
// Rebuilds that state on a fresh model: wraps the named layers, sets quantization and activation pruning,
// and installs all-ones masks where masks exist (to be overwritten by the checkpoint's buffers). Errors name
// `source` and the layer.
void apply_compression_state(Module& root, const std::string& json, const std::string& source);

}  // namespace qbert::model
