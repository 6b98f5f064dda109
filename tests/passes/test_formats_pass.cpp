// Every number format through the layers that use it: the quantize pass reads Mase's keys per format,
// checkpoints keep the formats, the analysis counts each format's real bits, and every format trains (QAT).
#include "model/bert.h"
#include "passes/analysis.h"
#include "passes/quantize.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
namespace model = qbert::model;
namespace passes = qbert::passes;
using Catch::Matchers::Contains;
using engine::FormatKind;
using engine::NumberFormat;

namespace {
class FormatsNet : public model::Module {
public:
    std::string type_name() const override { return "Net"; }
    void add(const std::string& n, std::shared_ptr<model::Module> m) { register_module(n, std::move(m)); }
    Tensor forward(const Tensor& x) override { return child("b").forward(engine::gelu(child("a").forward(x))); }
};

std::shared_ptr<FormatsNet> make_formats_net(uint64_t seed, int64_t in = 16, int64_t hidden = 32, int64_t out = 2) {
    Rng rng(seed);
    auto n = std::make_shared<FormatsNet>();
    n->add("a", std::make_shared<model::Linear>(in, hidden, rng, 0.5));
    n->add("b", std::make_shared<model::Linear>(hidden, out, rng, 0.5));
    return n;
}

passes::QuantizeConfig formats_qcfg(const std::string& entry) {
    const std::string text = "by = \"type\"\n[default]\nname = \"none\"\n[linear]\n" + entry;
    return passes::QuantizeConfig::from_toml(passes::parse_toml(text, "test.toml"), "test.toml");
}

// One config entry per format, all three operands, Mase's key names.
std::string ops(const std::string& params) {
    std::string s;
    for (const char* op : {"data_in", "weight", "bias"}) {
        std::string p = params;
        for (size_t pos; (pos = p.find("OP_")) != std::string::npos;) p.replace(pos, 3, std::string(op) + "_");
        s += p;
    }
    return s;
}
const std::vector<std::pair<std::string, std::string>> kEntries = {
    {"integer", ops("OP_width = 8\nOP_frac_width = 4\n")},
    {"minifloat_denorm", ops("OP_width = 8\nOP_exponent_width = 4\n")},
    {"minifloat_ieee", ops("OP_width = 8\nOP_exponent_width = 4\nOP_exponent_bias = 7\n")},
    {"log", ops("OP_width = 8\nOP_exponent_bias = 63\n")},
    {"block_fp", ops("OP_width = 7\nOP_exponent_width = 8\nOP_exponent_bias = 127\nOP_block_size = [1, 16]\n")},
    {"block_minifloat", ops("OP_width = 8\nOP_exponent_width = 4\nOP_exponent_bias_width = 4\nOP_block_size = [16]\n")},
    {"block_log", ops("OP_width = 8\nOP_exponent_bias_width = 4\nOP_block_size = [16]\n")},
    {"binary", "weight_width = 1\nweight_stochastic = false\nweight_bipolar = true\n"},
    {"ternary", "weight_scaling_factor = true\n"},
};
std::string entry(const std::string& name) {
    for (const auto& [n, e] : kEntries)
        if (n == name) return "name = \"" + n + "\"\n" + e;
    return "";
}
const model::LinearQuantConfig& quant_of(model::Module& n, const std::string& layer) {
    return *dynamic_cast<model::CompressedLinear&>(n.child(layer)).quant();
}
}  // namespace

TEST_CASE("quantize pass: every format from Mase's keys, per operand", "[passes][formats]") {
    for (const auto& [name, e] : kEntries) {
        CAPTURE(name);
        auto n = make_formats_net(1);
        REQUIRE(passes::quantize(*n, formats_qcfg(entry(name))).size() == 2);
        const auto& q = quant_of(*n, "a");
        REQUIRE(engine::format_name(q.weight.kind) == name);
        const bool weight_only = name == "binary" || name == "ternary";
        REQUIRE(q.data_in.kind == (weight_only ? FormatKind::Fp32 : q.weight.kind));
        REQUIRE(q.bias.kind == (weight_only ? FormatKind::Fp32 : q.weight.kind));
        if (!weight_only) {
            REQUIRE(q.data_in.skip_first_dim == engine::is_block(q.weight.kind));  // Mase: data_in skips, by default
            REQUIRE_FALSE(q.weight.skip_first_dim);
        }
    }
    auto n = make_formats_net(1);
    passes::quantize(*n, formats_qcfg(entry("block_fp")));
    const NumberFormat w = quant_of(*n, "a").weight;
    REQUIRE(w.width == 7);
    REQUIRE(w.exponent_width == 8);
    REQUIRE(w.exponent_bias == 127);
    REQUIRE(w.block_size == std::vector<int64_t>{1, 16});
    passes::quantize(*n, formats_qcfg(entry("ternary")));
    REQUIRE(quant_of(*n, "a").weight.scaling);
    passes::quantize(*n, formats_qcfg("name = \"minifloat_ieee\"\n" + ops("OP_width = 6\nOP_exponent_width = 3\n")));
    REQUIRE(quant_of(*n, "a").weight.bias() == 3);  // default 2^(E-1) - 1
}

TEST_CASE("quantize pass: format errors name the key and list the valid ones", "[passes][formats][errors]") {
    REQUIRE_THROWS_WITH(formats_qcfg("name = \"posit\"\n"), Contains("linear.name must be one of") && Contains("block_minifloat") && Contains("\"posit\""));
    REQUIRE_THROWS_WITH(formats_qcfg(entry("minifloat_ieee") + "weight_frac_width = 3\n"),
                        Contains("test.toml:15: unknown key 'linear.weight_frac_width'") && Contains("weight_exponent_width") &&
                            Contains("weight_exponent_bias"));
    REQUIRE_THROWS_WITH(formats_qcfg("name = \"block_log\"\n" + ops("OP_width = 8\nOP_exponent_bias_width = 4\n")),
                        Contains("needs data_in_block_size") && Contains("valid keys"));
    REQUIRE_THROWS_WITH(formats_qcfg("name = \"minifloat_denorm\"\n" + ops("OP_width = 5\nOP_exponent_width = 4\n")),
                        Contains("width 5 is too small for exponent_width 4"));
    REQUIRE_THROWS_WITH(formats_qcfg("name = \"block_fp\"\n" + ops("OP_width = 7\nOP_exponent_width = 8\nOP_block_size = [1, 0]\n")),
                        Contains("block_size") && Contains("got 0"));
    REQUIRE_THROWS_WITH(formats_qcfg("name = \"block_fp\"\n" + ops("OP_width = 7\nOP_exponent_width = 8\nOP_block_size = -2\n")),
                        Contains("got -2"));
    REQUIRE_THROWS_WITH(formats_qcfg("name = \"binary\"\nweight_bipolar = false\n"), Contains("bipolar = true"));
    REQUIRE_THROWS_WITH(formats_qcfg(entry("log") + "data_out_width = 8\ndata_out_frac_width = 4\n"),
                        Contains("data_out_width applies to name = \"integer\" only"));
    REQUIRE_THROWS_WITH(formats_qcfg(entry("log") + "ste = \"clipped\"\n"), Contains("\"integer\" only"));
}

TEST_CASE("checkpoints keep every format: state JSON round trip; old fixed-point JSON still reads", "[passes][formats]") {
    for (const auto& [name, e] : kEntries) {
        CAPTURE(name);
        auto n = make_formats_net(2);
        passes::quantize(*n, formats_qcfg(entry(name)));
        const std::string state = model::compression_state_json(*n);
        auto fresh = make_formats_net(2);
        model::apply_compression_state(*fresh, state, "test");
        REQUIRE(quant_of(*fresh, "a") == quant_of(*n, "a"));
        REQUIRE(quant_of(*fresh, "b") == quant_of(*n, "b"));
    }
    const nlohmann::json old = {{"width", 8}, {"frac_width", 4}, {"is_signed", true}, {"floor", false}};
    REQUIRE(model::number_format_from_json(old) == NumberFormat(engine::FixedPoint{8, 4}));
    auto n = make_formats_net(2);
    REQUIRE_THROWS_WITH(model::apply_compression_state(
                            *n, R"({"layers": {"a": {"quant": {"data_in": {"format": "posit"}}, "weight_mask": false}}})",
                            "ck.h5"),
                        Contains("ck.h5") && Contains("'a'") && Contains("posit"));
}

TEST_CASE("analysis counts each format's real bits per weight, shared block exponents included", "[passes][formats]") {
    auto n = make_formats_net(3, 16, 32, 2);  // a: 32 x 16, b: 2 x 32
    passes::quantize(*n, formats_qcfg(entry("block_fp")));
    const passes::ModelStats s = passes::analyze(*n);
    // block_fp width 7, [1, 16] blocks with an 8-bit exponent each: 7 + 8/16 bits per weight
    REQUIRE(s.layers[0].weight_bits == Approx(7.5));
    REQUIRE(s.layers[0].format == "block_fp w7 e8 b127 [1,16]");
    REQUIRE(passes::linear_weight_bits(*n) == Approx(32 * 16 * 7.5 + 2 * 32 * 7.5));
    passes::quantize(*n, formats_qcfg(entry("binary")));
    REQUIRE(passes::analyze(*n).layers[0].weight_bits == 1.0);
    REQUIRE(passes::linear_weight_bits(*n) == 32 * 16 + 2 * 32);
    REQUIRE(passes::linear_weight_bits(*make_formats_net(3)) == 32.0 * (32 * 16 + 2 * 32));
}

TEST_CASE("every format trains: QAT on a small task, the loss falls", "[passes][formats][qat]") {
    // two Gaussian classes in 16-D; the same start, data and steps for each format
    const int64_t N = 256;
    Rng drng(9);
    std::vector<float> xs(static_cast<size_t>(N * 16));
    std::vector<int32_t> ys(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) {
        ys[size_t(i)] = static_cast<int32_t>(i % 2);
        for (int64_t j = 0; j < 16; ++j)
            xs[size_t(i * 16 + j)] = static_cast<float>(drng.normal() * 0.8 + (ys[size_t(i)] ? 0.5 : -0.5) * (j < 8 ? 1 : -1));
    }
    const Tensor x = Tensor::from_vector(xs, {N, 16}), y = Tensor::from_vector(ys, {N});
    for (const auto& [name, e] : kEntries) {
        CAPTURE(name);
        auto n = make_formats_net(4);
        passes::quantize(*n, formats_qcfg(entry(name)));
        engine::AdamWOptions ao;
        ao.lr = 1e-2;
        engine::AdamW opt(n->named_parameters(), ao);
        float first = 0, last = 0;
        for (int step = 0; step < 60; ++step) {
            for (auto& [pn, p] : n->named_parameters()) p.zero_grad();
            Tensor loss = engine::cross_entropy(n->forward(x), y);
            loss.backward();
            opt.step();
            (step == 0 ? first : last) = loss.item();
        }
        CAPTURE(first, last);
        REQUIRE(std::isfinite(last));
        REQUIRE(last < 0.6f * first);
    }
}

TEST_CASE("the shipped configs/compress/quant-<format>.toml files load and quantize a model that runs",
          "[passes][formats][config]") {
    const std::string root = std::string(QBERT_SOURCE_ROOT) + "/configs/compress/";
    for (const std::string name : {"minifloat_denorm", "minifloat_ieee", "log", "block_fp", "block_minifloat",
                                   "block_log", "binary", "ternary"}) {
        CAPTURE(name);
        const auto cfg = passes::QuantizeConfig::from_file(root + "quant-" + name + ".toml");
        auto n = make_formats_net(5);
        REQUIRE(passes::quantize(*n, cfg).size() == 2);
        REQUIRE(engine::format_name(quant_of(*n, "a").weight.kind) == name);
        engine::NoGradGuard ng;
        for (float v : n->forward(input({4, 16}, 3, DType::F32)).to_vector_f32()) REQUIRE(std::isfinite(v));
    }
}
