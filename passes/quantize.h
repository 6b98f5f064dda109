// The quantize pass: swaps Linear layers for CompressedLinear with fixed-point fake quantization, chosen
// per layer as Mase's quantize_transform_pass does (mase-behaviour.md 1.4):
//
//   by = "type"        the entry named by the layer type ("linear"), else [default]
//   by = "name"        the entry named by the layer's dotted name ("bert.encoder.layer.0.attention.self.query";
//                      Mase's node name with '_' for '.' is accepted too), else [default]
//   by = "regex_name"  the entry whose key (a regular expression) matches the whole dotted name, else [default];
//                      a name matched by two keys is an error (TOML tables do not keep Mase's dict order)
//
// Each entry is a table, directly or under `config` as in Mase's files, with Mase's key names per operand
// (<operand>_<param>, operand in data_in, weight, bias; engine/ops/formats.h has the formats):
//   name = "integer" | "fixed"   width, frac_width; floor, data_out_width + data_out_frac_width (optional)
//   name = "minifloat_denorm" | "minifloat_ieee"   width, exponent_width, exponent_bias (optional)
//   name = "log"                 width, exponent_bias (optional)
//   name = "block_fp"            width, exponent_width, block_size, exponent_bias, skip_first_dim (optional)
//   name = "block_minifloat"     width, exponent_width, exponent_bias_width, block_size, skip_first_dim (opt.)
//   name = "block_log"           width, exponent_bias_width, block_size, skip_first_dim (optional)
//   name = "binary"              weight_stochastic, weight_bipolar (only the weight is quantized)
//   name = "ternary"             weight_scaling_factor (only the weight is quantized)
// plus ste = "identity" | "clipped" (integer only), seed (stochastic binary), bypass = false. Required keys
// must be given for all three operands; data_in_skip_first_dim defaults to true (Mase). name = "none" leaves
// the layer alone.
// The root may also be [quantize] or [passes.quantize]. Unknown keys and missing widths throw with the valid
// keys listed. The config is read-only: applying it twice gives the same model.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/compressed_linear.h"
#include "passes/toml_util.h"

namespace qbert::passes {

struct QuantizeConfig {
    enum class By { Type, Name, RegexName };
    By by = By::Type;
    std::optional<model::LinearQuantConfig> default_config;  // nullopt: leave the layer alone
    std::vector<std::pair<std::string, std::optional<model::LinearQuantConfig>>> entries;

    static QuantizeConfig from_toml(const toml::table& root, const std::string& source);
    static QuantizeConfig from_file(const std::string& path);
    // Every Linear on inputs, weights and biases with the same format (Mase's Tutorial 3 config for Q8.4).
    static QuantizeConfig uniform(const engine::FixedPoint& q, engine::Ste ste = engine::Ste::Identity);
};

// One representative setting of each format on all three operands (binary and ternary: the weight), for
// benchmarks and examples: integer Q8.4, minifloat_* w8 E4, log w8, block_fp w8 E8 [1,16], block_minifloat w8
// E4 Bw4 [1,16], block_log w8 Bw4 [1,16], binary, ternary with scaling. Activations blocked per sample.
model::LinearQuantConfig example_quant_config(engine::FormatKind kind);

struct QuantizedLayer {
    std::string name;
    model::LinearQuantConfig config;
};

// Applies `cfg` to every Linear (and CompressedLinear, whose quantization is replaced) under `model`;
// Identity and other modules are skipped. Returns the layers quantized, in module order.
std::vector<QuantizedLayer> quantize(model::Module& model, const QuantizeConfig& cfg);

// The layers quantization and pruning act on: every Linear or CompressedLinear, in module order.
std::vector<std::pair<std::string, std::shared_ptr<model::Module>>> linear_layers(const model::Module& model);

}  // namespace qbert::passes
