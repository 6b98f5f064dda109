// The number formats of ops/formats.h: bit for bit against values computed by Mase's own quantizers
// (tests/golden/formats_golden.json), the worked examples of mase-behaviour.md section 2, fast == ref,
// the straight-through backward, storage bits and the errors.
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using engine::FormatKind;
using engine::NumberFormat;
using Catch::Matchers::Contains;

namespace {
NumberFormat fmt(FormatKind k, int width = 8, int e = 4) {
    NumberFormat f;
    f.kind = k;
    f.width = width;
    f.exponent_width = e;
    return f;
}

std::vector<float> q(const std::vector<float>& x, const NumberFormat& f, engine::Shape shape = {}) {
    if (shape.empty()) shape = {static_cast<int64_t>(x.size())};
    return engine::quantize(Tensor::from_vector(x, shape), f).to_vector_f32();
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// How many elements of Q(x) differ in their bits between the reference and the fast kernel.
int64_t fast_ref_mismatches(const Tensor& x, const NumberFormat& f) {
    std::vector<float> r, fa;
    {
        KernelModeGuard g("ref");
        r = engine::quantize(x, f).to_vector_f32();
    }
    {
        KernelModeGuard g("fast");
        fa = engine::quantize(x, f).to_vector_f32();
    }
    int64_t bad = 0;
    for (size_t i = 0; i < r.size(); ++i) bad += !same_bits(r[i], fa[i]);
    return bad;
}

NumberFormat from_json(const nlohmann::json& c) {
    NumberFormat f;
    f.kind = *engine::parse_format(c.at("format").get<std::string>());
    f.width = c.at("width").get<int>();
    if (c.contains("exponent_width")) f.exponent_width = c["exponent_width"].get<int>();
    if (c.contains("exponent_bias")) f.exponent_bias = c["exponent_bias"].get<int>();
    if (c.contains("exponent_bias_width")) f.exponent_bias_width = c["exponent_bias_width"].get<int>();
    if (c.contains("block_size")) f.block_size = c["block_size"].get<std::vector<int64_t>>();
    if (c.contains("skip_first_dim")) f.skip_first_dim = c["skip_first_dim"].get<bool>();
    return f;
}
}  // namespace

TEST_CASE("every format equals Mase's quantizers bit for bit (golden values from Mase's own code)",
          "[ops][formats][golden]") {
    std::ifstream in(std::string(QBERT_SOURCE_ROOT) + "/tests/golden/formats_golden.json");
    REQUIRE(in.good());
    const nlohmann::json g = nlohmann::json::parse(in);
    const auto& cases = g.at("cases");
    REQUIRE(cases.size() >= 150);
    std::map<std::string, int> per_format;
    for (const char* mode : {"ref", "fast"}) {
        KernelModeGuard guard(mode);
        for (const auto& c : cases) {
            const NumberFormat f = from_json(c);
            const auto xs = c.at("x").get<std::vector<double>>(), ys = c.at("y").get<std::vector<double>>();
            std::vector<float> x(xs.begin(), xs.end());
            const std::vector<float> y = q(x, f, c.at("shape").get<engine::Shape>());
            REQUIRE(y.size() == ys.size());
            int64_t bad = 0, first = -1;
            for (size_t i = 0; i < y.size(); ++i)
                if (!same_bits(y[i], static_cast<float>(ys[i]))) bad += 1, first = first < 0 ? int64_t(i) : first;
            CAPTURE(mode, f.str(), c.at("shape").dump(), bad);
            if (bad) {
                UNSCOPED_INFO("first mismatch at " << first << ": x=" << x[size_t(first)] << " ours="
                                                   << y[size_t(first)] << " mase=" << ys[size_t(first)]);
            }
            REQUIRE(bad == 0);
            per_format[c.at("format").get<std::string>()] += 1;
        }
    }
    for (const char* name : {"minifloat_denorm", "minifloat_ieee", "log", "block_fp", "block_minifloat", "block_log"}) {
        CAPTURE(name);
        REQUIRE(per_format[name] >= 10);
    }
}

TEST_CASE("worked examples of mase-behaviour.md section 2", "[ops][formats]") {
    for (const char* mode : {"ref", "fast"}) {
        CAPTURE(mode);
        KernelModeGuard guard(mode);
        // 2.1 minifloat_denorm w8 E4 B7: the capped mantissa at powers of two, saturation at 224, 1e-4 -> 0
        REQUIRE(q({0.99f, 1.5f, 1.0625f, 0.3f, 0.01f, 300.0f, 1e-4f, 1.0f, 2.0f}, fmt(FormatKind::MinifloatDenorm)) ==
                std::vector<float>{0.875f, 1.5f, 1.0f, 0.3125f, 0.009765625f, 224.0f, 0.0f, 0.875f, 1.75f});
        // 2.2 minifloat_ieee w8 E4 B7: no carry into the next binade, ties to even, subnormals, saturation 480
        REQUIRE(q({0.99f, 1.99f, 1.0625f, 1.09375f, 0.01f, 0.0078125f, 1000.0f}, fmt(FormatKind::MinifloatIeee)) ==
                std::vector<float>{0.9375f, 1.875f, 1.0f, 1.125f, 0.009765625f, 0.0078125f, 480.0f});
        // 2.3 log: rounding in the log domain; zero is not representable (w4: 0 -> 0.125)
        REQUIRE(q({1.5f, 0.3f, 0.99f}, fmt(FormatKind::Log, 8)) == std::vector<float>{2.0f, 0.25f, 1.0f});
        REQUIRE(q({0.0f}, fmt(FormatKind::Log, 4)) == std::vector<float>{0.125f});
        REQUIRE(q({0.0f}, fmt(FormatKind::Log, 8)) == std::vector<float>{std::ldexp(1.0f, -63)});
        // 2.4 block_fp width 4: the block maximum at a power of two is capped
        NumberFormat bfp = fmt(FormatKind::BlockFp, 4, 8);
        REQUIRE(q({0.5f, 0.26f, -0.1f, 0.01f}, bfp) == std::vector<float>{0.4375f, 0.25f, -0.125f, 0.0f});
        // 2.5 block_minifloat w8 E4 Bw4: max < 1 -> bias 0, everything below 1 subnormal with step 2^(1-M)
        NumberFormat bm = fmt(FormatKind::BlockMinifloat, 8, 4);
        REQUIRE(q({0.5f, 0.26f, -0.1f, 0.01f}, bm) == std::vector<float>{0.5f, 0.25f, 0.0f, 0.0f});
        // 2.6 block_log w5 Bw4: zero becomes the smallest magnitude
        NumberFormat bl = fmt(FormatKind::BlockLog, 5);
        REQUIRE(q({0.5f, 0.26f, -0.1f, 0.01f}, bl) == std::vector<float>{0.5f, 0.25f, -0.125f, 0.0078125f});
        REQUIRE(q({3.0f, 0.2f, 0.0f, -1.0f}, bl) == std::vector<float>{4.0f, 0.25f, std::ldexp(1.0f, -13), -1.0f});
    }
}

TEST_CASE("block shapes follow Mase's right-aligned rule; skip_first_dim blocks each sample", "[ops][formats]") {
    NumberFormat f = fmt(FormatKind::BlockFp, 7, 8);
    auto bs = [&](engine::Shape s, std::vector<int64_t> b, bool skip) {
        f.block_size = std::move(b);
        f.skip_first_dim = skip;
        return engine::block_shape(s, f, "test");
    };
    REQUIRE(bs({64, 128}, {16}, false) == engine::Shape{64, 16});      // weight: all rows, 16 columns
    REQUIRE(bs({64, 128}, {1, 16}, false) == engine::Shape{1, 16});    // 16 inputs of one row
    REQUIRE(bs({8, 5}, {4, 100}, false) == engine::Shape{4, 5});       // beyond the dimension: all of it
    REQUIRE(bs({100}, {1, 16}, false) == engine::Shape{16});           // bias: the last entry
    REQUIRE(bs({4, 128}, {16}, true) == engine::Shape{1, 16});         // activation [B, H]
    REQUIRE(bs({4, 32, 128}, {16}, true) == engine::Shape{1, 32, 16}); // [B, T, H]: [16] spans all tokens
    REQUIRE(bs({4, 32, 128}, {1, 16}, true) == engine::Shape{1, 1, 16});
    REQUIRE(bs({4, 32, 128}, {8, 2, 16}, true) == engine::Shape{1, 2, 16});
    // storage: values plus one shared exponent per block (a 5 x 39 weight in [1, 16] blocks: 5 x 3 blocks)
    f.block_size = {1, 16};
    f.skip_first_dim = false;
    REQUIRE(f.storage_bits({5, 39}) == 7.0 * 195 + 8.0 * 15);
    NumberFormat t = fmt(FormatKind::Ternary);
    t.scaling = true;
    REQUIRE(t.storage_bits({10, 10}) == 232.0);
    REQUIRE(fmt(FormatKind::Binary).storage_bits({10, 10}) == 100.0);
    REQUIRE(fmt(FormatKind::MinifloatIeee, 6, 3).storage_bits({3, 3}) == 54.0);
    REQUIRE(NumberFormat::fp32().storage_bits({3, 3}) == 288.0);
}

TEST_CASE("binary and ternary on 2-D Linear weights (where Mase's raise)", "[ops][formats]") {
    for (const char* mode : {"ref", "fast"}) {
        CAPTURE(mode);
        KernelModeGuard guard(mode);
        const std::vector<float> w{0.9f, -0.05f, 0.2f, -0.7f, 0.0f, -0.0f};
        REQUIRE(q(w, fmt(FormatKind::Binary), {3, 2}) == std::vector<float>{1, -1, 1, -1, 1, 1});
        // ternary: t = 0.75 * mean|w| over the whole tensor = 0.75 * 1.85 / 6 = 0.23125
        REQUIRE(q(w, fmt(FormatKind::Ternary), {3, 2}) == std::vector<float>{1, 0, 0, -1, 0, 0});
        NumberFormat ts = fmt(FormatKind::Ternary);
        ts.scaling = true;  // survivors 0.9 and 0.7: scale their mean magnitude
        const float a = static_cast<float>((double(0.9f) + double(0.7f)) / 2.0);
        REQUIRE(q(w, ts, {3, 2}) == std::vector<float>{a, 0.0f, 0.0f, -a, 0.0f, 0.0f});
    }
}

TEST_CASE("stochastic binary draws from the seeded Rng: reproducible, fresh per call, P(+1) = (x+1)/2",
          "[ops][formats]") {
    NumberFormat f = fmt(FormatKind::Binary);
    f.stochastic = true;
    const Tensor x = Tensor::full({20000}, 0.5f);  // P(+1) = 0.75
    engine::Rng a(7), b(7);
    std::vector<float> ya, yb, yf;
    {
        KernelModeGuard g("ref");
        ya = engine::quantize(x, f, engine::Ste::Identity, &a).to_vector_f32();
    }
    {
        KernelModeGuard g("fast");
        yb = engine::quantize(x, f, engine::Ste::Identity, &b).to_vector_f32();
        yf = engine::quantize(x, f, engine::Ste::Identity, &b).to_vector_f32();
    }
    REQUIRE(ya == yb);  // same seed, same draws, ref and fast alike
    REQUIRE(ya != yf);  // the next call draws afresh
    const double plus = std::count(ya.begin(), ya.end(), 1.0f) / 20000.0;
    REQUIRE(plus == Approx(0.75).margin(0.015));
}

TEST_CASE("fast and ref agree bit for bit on random tensors, every format and block layout", "[ops][formats][fast]") {
    Tensor x = input({4, 12, 80}, 11, DType::F32, -3.0, 3.0);
    std::vector<NumberFormat> fs;
    for (FormatKind k : {FormatKind::MinifloatDenorm, FormatKind::MinifloatIeee, FormatKind::Log, FormatKind::BlockFp,
                         FormatKind::BlockMinifloat, FormatKind::BlockLog, FormatKind::Binary, FormatKind::Ternary})
        for (bool skip : {false, true}) {
            NumberFormat f = fmt(k, k == FormatKind::BlockFp ? 6 : 8, 4);
            f.skip_first_dim = skip;
            f.block_size = skip ? std::vector<int64_t>{1, 16} : std::vector<int64_t>{3, 16};
            f.scaling = skip;
            fs.push_back(f);
        }
    for (const NumberFormat& f : fs) {
        CAPTURE(f.str());
        REQUIRE(fast_ref_mismatches(x, f) == 0);
        require_fast_matches_ref([&](const std::vector<Tensor>& v) { return engine::quantize(v[0], f); }, {x},
                                 FastRefTol{0.0, 0.0});
    }
}

TEST_CASE("every format's backward is the identity STE; finite differences see a step function",
          "[ops][formats][gradcheck]") {
    for (FormatKind k : {FormatKind::MinifloatDenorm, FormatKind::MinifloatIeee, FormatKind::Log, FormatKind::BlockFp,
                         FormatKind::BlockMinifloat, FormatKind::BlockLog, FormatKind::Binary, FormatKind::Ternary}) {
        const NumberFormat f = fmt(k, 8, 4);
        CAPTURE(f.str());
        const std::vector<float> xv{0.26f, -0.51f, 1.02f, 0.3f, 9.3f, -0.07f};
        // central differences away from any jump are exactly 0 (the true derivative of a staircase)
        for (size_t i = 0; i < xv.size(); ++i) {
            auto at = [&](float d) {
                std::vector<float> v = xv;
                v[i] += d;
                return q(v, f)[i];
            };
            REQUIRE(at(1e-5f) - at(-1e-5f) == 0.0f);
        }
        // d/dx sum(q(x) * c) with the identity STE = c, clamped entries included
        Tensor x = Tensor::from_vector(xv, {6});
        x.set_requires_grad(true);
        Tensor c = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {6});
        engine::sum(engine::mul(engine::quantize(x, f), c)).backward();
        REQUIRE(x.grad().to_vector_f32() == std::vector<float>{1, 2, 3, 4, 5, 6});
    }
}

TEST_CASE("format errors name the field: widths too small, block sizes, dimensions, dtype", "[ops][formats][errors]") {
    const Tensor x = Tensor::zeros({4});
    REQUIRE_THROWS_WITH(engine::quantize(x, fmt(FormatKind::MinifloatIeee, 4, 4)),
                        Contains("width 4 is too small for exponent_width 4"));
    REQUIRE_THROWS_WITH(engine::quantize(x, fmt(FormatKind::MinifloatDenorm, 5, 4)), Contains("mantissa bit"));
    REQUIRE_THROWS_WITH(engine::quantize(x, fmt(FormatKind::MinifloatIeee, 8, 0)), Contains("exponent_width"));
    REQUIRE_THROWS_WITH(engine::quantize(x, fmt(FormatKind::Log, 12)), Contains("width must be in [2, 9]"));
    NumberFormat b = fmt(FormatKind::BlockFp, 7, 8);
    b.block_size = {0};
    REQUIRE_THROWS_WITH(engine::quantize(x, b), Contains("block_size") && Contains("got 0"));
    b.block_size = {1, -4};
    REQUIRE_THROWS_WITH(engine::quantize(x, b), Contains("got -4"));
    b.block_size = {16};
    b.skip_first_dim = true;
    REQUIRE_THROWS_WITH(engine::quantize(x, b), Contains("skip_first_dim") && Contains("1-D"));
    REQUIRE_THROWS_WITH(engine::quantize(Tensor::zeros({2, 2, 2, 2}), fmt(FormatKind::BlockLog, 5)),
                        Contains("1-, 2- or 3-D"));
    REQUIRE_THROWS_WITH(engine::quantize(Tensor::zeros({3}, DType::F64), fmt(FormatKind::Log, 5)),
                        Contains("float32"));
    NumberFormat s = fmt(FormatKind::Binary);
    s.stochastic = true;
    REQUIRE_THROWS_WITH(engine::quantize(Tensor::zeros({3}), s), Contains("seeded Rng"));
    REQUIRE_FALSE(engine::parse_format("posit").has_value());
    REQUIRE(engine::parse_format("fixed") == FormatKind::Integer);
    REQUIRE_THAT(engine::format_names(), Contains("block_minifloat") && Contains("ternary"));
}

TEST_CASE("fast log2 tables equal std::log2 at every binade boundary (floor, ceil and round of log2)",
          "[ops][formats][fast]") {
    // Values within 64 ulps of 2^k and of 2^(k+1/2), and the same shifted by Mase's 1e-9, for k in [-40, 40]: where
    // floor/ceil/round of log2 change, and where float32 log2 rounds onto an integer.
    std::vector<float> xs;
    for (int k = -40; k <= 40; ++k)
        for (float c : {std::ldexp(1.0f, k), std::ldexp(1.41421356f, k)})
            for (float base : {c, c - 1e-9f}) {
                float v = base;
                for (int i = 0; i < 64; ++i) v = std::nextafter(v, 0.0f);
                for (int i = 0; i < 129; ++i, v = std::nextafter(v, INFINITY)) xs.push_back((i % 2) ? v : -v);
            }
    const Tensor x = Tensor::from_vector(xs, {static_cast<int64_t>(xs.size())});
    std::vector<NumberFormat> fs{fmt(FormatKind::MinifloatDenorm, 8, 4), fmt(FormatKind::MinifloatIeee, 8, 4),
                                 fmt(FormatKind::MinifloatDenorm, 12, 7), fmt(FormatKind::MinifloatIeee, 16, 8),
                                 fmt(FormatKind::Log, 8), fmt(FormatKind::Log, 9), fmt(FormatKind::BlockMinifloat, 8, 4),
                                 fmt(FormatKind::BlockLog, 8), fmt(FormatKind::BlockFp, 8, 8)};
    NumberFormat wide_log = fmt(FormatKind::Log, 8);
    wide_log.exponent_bias = 140;  // 2^e_min below float32's normals: the fast kernel's own fallback path
    fs.push_back(wide_log);
    for (NumberFormat f : fs) {
        f.block_size = {16};
        CAPTURE(f.str());
        REQUIRE(fast_ref_mismatches(x, f) == 0);
    }
}
