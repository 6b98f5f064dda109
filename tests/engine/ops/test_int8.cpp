// Integer inference of fixed-point Linear layers (engine/ops/int8.h): exactly the fake-quant layer where its
// float sums are exact, ref and fast kernels equal, clear errors.
#include <cmath>
#include <string>

#include "engine/kernels/fast/fast.h"
#include "engine/kernels/fast/primitive_cache.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using engine::FixedPoint;
using Catch::Matchers::Contains;

namespace {
Tensor half_mask(const engine::Shape& s, uint64_t seed) {
    Rng rng(seed);
    std::vector<uint8_t> m(static_cast<size_t>(engine::shape_numel(s)));
    for (auto& b : m) b = rng.uniform() < 0.5 ? 1 : 0;
    return Tensor::from_vector(m, s);
}

Tensor positive(const Tensor& x) {  // max(x, 0)
    std::vector<float> v = x.to_vector_f32();
    for (auto& e : v) e = std::max(e, 0.0f);
    return Tensor::from_vector(v, x.shape());
}

// What the fake-quant layer computes (model/compressed_linear.cpp's training path).
Tensor fake_quant_linear(const Tensor& x, const FixedPoint& qx, const Tensor& w, const FixedPoint& qw, const Tensor& b,
                         const Tensor& mask) {
    return engine::linear(engine::fake_quant(x, qx), engine::fake_quant(w, qw), b, mask);
}
}  // namespace

TEST_CASE("linear_int8 equals the fake-quant linear bit for bit (fp32 and bf16 matmuls, masks, unsigned, floor)",
          "[ops][int8]") {
    NoGradGuard ng;
    struct Case {
        FixedPoint qx, qw;
        bool positive;  // unsigned inputs: a ReLU-like input
    };
    const std::vector<Case> cases{{{8, 4}, {8, 6}, false},   {{8, 3, false}, {8, 7}, true},
                                  {{6, 2}, {4, 3}, false},   {{8, 5, true, true}, {8, 6, true, true}, false},
                                  {{8, 4}, {7, 7, false}, false}};
    const Tensor x0 = randn_f32({3, 17, 96}, 1, 2.0), w = randn_f32({40, 96}, 2, 0.3), mask = half_mask({40, 96}, 3);
    const Tensor b = engine::fake_quant(randn_f32({40}, 4, 0.5), FixedPoint{8, 4});
    for (const char* prec : {"f32", "bf16"})
        for (const char* mode : {"ref", "fast"})
            for (size_t c = 0; c < cases.size(); ++c) {
                CAPTURE(prec, mode, c);
                MatmulPrecisionGuard pg(prec);
                KernelModeGuard g(mode);
                const Case& k = cases[c];
                const Tensor x = k.positive ? positive(x0) : x0;
                for (const bool masked : {false, true}) {
                    const Tensor m = masked ? mask : Tensor();
                    const Tensor want = fake_quant_linear(x, k.qx, w, k.qw, b, m);
                    const Tensor got = engine::linear_int8(x, k.qx, engine::quantize_weight_int8(w, k.qw, m),
                                                           k.qw.frac_width, b);
                    REQUIRE(got.shape() == want.shape());
                    REQUIRE(got.to_vector_f32() == want.to_vector_f32());
                }
            }
}

TEST_CASE("linear_int8: the int8 weight holds the fake-quant grid indices, masked to 0", "[ops][int8]") {
    const Tensor w = Tensor::from_vector(std::vector<float>{0.3f, -0.3f, 10.0f, -10.0f, 0.03125f, 0.09375f}, {2, 3});
    const Tensor m = Tensor::from_vector(std::vector<uint8_t>{1, 1, 1, 1, 0, 1}, {2, 3});
    for (const char* mode : {"ref", "fast"}) {
        CAPTURE(mode);
        KernelModeGuard g(mode);
        // Q8.4: 0.3*16 = 4.8 -> 5, 160 -> 127 and -160 -> -128 (saturated), 0.5 and 1.5 -> 0 and 2 (ties to even); masked -> 0
        const Tensor q = engine::quantize_weight_int8(w, FixedPoint{8, 4}, m);
        REQUIRE(q.dtype() == engine::DType::I8);
        REQUIRE(q.to_vector_f64() == std::vector<double>{5, -5, 127, -128, 0, 2});
    }
}

TEST_CASE("linear_int8: ref and fast kernels agree exactly on odd shapes; check mode compares them", "[ops][int8]") {
    NoGradGuard ng;
    for (const auto& [rows, in, out] : {std::tuple{1, 1, 1}, std::tuple{129, 257, 65}, std::tuple{64, 768, 3}}) {
        CAPTURE(rows, in, out);
        const Tensor x = randn_f32({rows, in}, 7, 3.0), w = randn_f32({out, in}, 8, 1.0), b = randn_f32({out}, 9, 1.0);
        for (const FixedPoint& qx : {FixedPoint{8, 4}, FixedPoint{8, 5, false}}) {
            const FixedPoint qw{8, 6};
            Tensor r, f;
            {
                KernelModeGuard g("ref");
                r = engine::linear_int8(x, qx, engine::quantize_weight_int8(w, qw), 6, b);
            }
            {
                KernelModeGuard g("fast");
                f = engine::linear_int8(x, qx, engine::quantize_weight_int8(w, qw), 6, b);
            }
            REQUIRE(r.to_vector_f32() == f.to_vector_f32());
            KernelModeGuard g("check");  // both, compared element by element with zero tolerance
            REQUIRE(engine::linear_int8(x, qx, engine::quantize_weight_int8(w, qw), 6, b).to_vector_f32() ==
                    r.to_vector_f32());
        }
    }
}

TEST_CASE("linear_int8: int32 sums stay exact beyond float's 2^24 (where the fake-quant float sums round)",
          "[ops][int8]") {
    NoGradGuard ng;
    // 2,049 products of 128 * 127 = 16,256: 33,308,544 > 2^24, an integer float32 cannot hold (it is even, but
    // the +1 below makes it odd)
    const int64_t K = 2049;
    std::vector<float> xv(K, -8.0f), wv(K, -127.0f / 64.0f);  // Q8.4: -128; Q8.6: -127
    xv[0] = 1.0f / 16.0f;                                       // grid index 1: one product of 127
    const Tensor x = Tensor::from_vector(xv, {1, K}), w = Tensor::from_vector(wv, {1, K});
    for (const char* mode : {"ref", "fast"}) {
        CAPTURE(mode);
        KernelModeGuard g(mode);
        const int64_t exact = 2048LL * 128 * 127 - 127;
        const Tensor y = engine::linear_int8(x, FixedPoint{8, 4}, engine::quantize_weight_int8(w, FixedPoint{8, 6}), 6);
        REQUIRE(y.to_vector_f64()[0] == static_cast<double>(static_cast<float>(exact)) / 1024.0);
    }
}

TEST_CASE("linear_int8: clear errors for wide formats, NaN, shapes and gradients", "[ops][int8]") {
    const Tensor w = randn_f32({4, 8}, 1, 1.0), x = randn_f32({2, 8}, 2, 1.0);
    REQUIRE_THROWS_WITH(engine::quantize_weight_int8(w, FixedPoint{9, 4}), Contains("signed width of at most 8"));
    REQUIRE_THROWS_WITH(engine::quantize_weight_int8(w, FixedPoint{8, 4, false}), Contains("unsigned one of at most 7"));
    const Tensor wi = engine::quantize_weight_int8(w, FixedPoint{8, 4});
    NoGradGuard ng;
    REQUIRE_THROWS_WITH(engine::linear_int8(x, FixedPoint{12, 4}, wi, 4), Contains("width of at most 8"));
    REQUIRE_THROWS_WITH(engine::linear_int8(randn_f32({2, 7}, 3, 1.0), FixedPoint{8, 4}, wi, 4), Contains("x.size(-1)"));
    REQUIRE_THROWS_WITH(engine::linear_int8(x, FixedPoint{8, 4}, wi, 4, randn_f32({5}, 4, 1.0)), Contains("bias"));
    const Tensor two = Tensor::from_vector(std::vector<uint8_t>(32, 2), {4, 8});
    REQUIRE_THROWS_WITH(engine::quantize_weight_int8(w, FixedPoint{8, 4}, two), Contains("must hold 0 or 1"));
    REQUIRE_THROWS_WITH(engine::quantize_weight_int8(w, FixedPoint{0, 4}), Contains("width must be in [1, 32]"));
    REQUIRE_THROWS_WITH(engine::linear_int8(x, FixedPoint{8, 60}, wi, 60), Contains("|fx + fw| must be <= 100"));
    std::vector<float> nan = x.to_vector_f32();
    nan[3] = std::nanf("");
    for (const char* mode : {"ref", "fast"}) {
        KernelModeGuard g(mode);
        REQUIRE_THROWS_WITH(engine::linear_int8(Tensor::from_vector(nan, {2, 8}), FixedPoint{8, 4}, wi, 4),
                            Contains("holds a NaN"));
    }
}

TEST_CASE("linear_int8 is inference only: an input that records gradients is refused", "[ops][int8]") {
    Tensor x = randn_f32({2, 8}, 2, 1.0);
    x.set_requires_grad(true);
    const Tensor wi = engine::quantize_weight_int8(randn_f32({4, 8}, 1, 1.0), FixedPoint{8, 4});
    REQUIRE_THROWS_WITH(engine::linear_int8(x, FixedPoint{8, 4}, wi, 4), Contains("inference only"));
    NoGradGuard ng;
    REQUIRE(engine::linear_int8(x, FixedPoint{8, 4}, wi, 4).shape() == engine::Shape{2, 4});
}

TEST_CASE("linear_int8: an input read by several layers is quantized once, and again after an in-place write",
          "[ops][int8]") {
    NoGradGuard ng;
    Tensor x = randn_f32({5, 16}, 1, 2.0);
    const Tensor w1 = randn_f32({3, 16}, 2, 0.5), w2 = randn_f32({4, 16}, 3, 0.5);
    const FixedPoint q{8, 4}, qw{8, 6};
    const auto fq = [&](const Tensor& in, const Tensor& w) { return fake_quant_linear(in, q, w, qw, Tensor(), Tensor()); };
    const auto i8 = [&](const Tensor& in, const Tensor& w, const FixedPoint& qx) {
        return engine::linear_int8(in, qx, engine::quantize_weight_int8(w, qw), qw.frac_width).to_vector_f32();
    };
    REQUIRE(i8(x, w1, q) == fq(x, w1).to_vector_f32());
    REQUIRE(i8(x, w2, q) == fq(x, w2).to_vector_f32());  // the same x, another layer (as key after query)
    // another format of the same input is quantized anew
    REQUIRE(i8(x, w2, FixedPoint{8, 2}) == fake_quant_linear(x, FixedPoint{8, 2}, w2, qw, Tensor(), Tensor()).to_vector_f32());
    x.copy_(randn_f32({5, 16}, 9, 2.0));  // new values in the same storage: the version moves on
    REQUIRE(i8(x, w1, q) == fq(x, w1).to_vector_f32());
}

// The primitive caches are bounded (engine/kernels/fast/primitive_cache.h): evaluation batches of many lengths
// no longer add a JIT-compiled primitive each forever. The policy first, then both kernels under a tiny capacity.
TEST_CASE("primitive cache: least recently used evicted, held entries survive eviction", "[ops][int8][cache]") {
    struct CapacityGuard {
        size_t old = engine::fast::primitive_cache_capacity();
        ~CapacityGuard() { engine::fast::set_primitive_cache_capacity(old); }
    } guard;
    engine::fast::set_primitive_cache_capacity(2);
    engine::fast::PrimitiveCache<int, std::string> c;
    int built = 0;
    const auto make = [&](int k) { return [&built, k] { ++built; return "entry " + std::to_string(k); }; };
    bool hit = true;
    const auto one = c.get(1, make(1), &hit);
    REQUIRE(!hit);
    c.get(2, make(2));
    REQUIRE(*c.get(1, make(1), &hit) == "entry 1");  // a hit: 1 is now the most recent, 2 the least
    REQUIRE(hit);
    c.get(3, make(3));  // evicts 2
    REQUIRE(c.stats().size == 2);
    REQUIRE(c.stats().evictions == 1);
    c.get(1, make(1), &hit);
    REQUIRE(hit);
    c.get(2, make(2), &hit);  // built again: it was evicted; now 3 goes
    REQUIRE(!hit);
    REQUIRE(built == 4);
    c.get(4, make(4));  // evicts 1, which `one` still holds
    REQUIRE(c.stats().evictions == 3);
    REQUIRE(*one == "entry 1");
    REQUIRE(c.stats().hits == 2);
    REQUIRE(c.stats().misses == 5);
    REQUIRE_THROWS_WITH(engine::fast::set_primitive_cache_capacity(0), Contains(">= 1"));
}

TEST_CASE("primitive caches stay within their capacity over many row counts; results unchanged",
          "[ops][int8][matmul][cache]") {
    NoGradGuard ng;
    struct CapacityGuard {
        size_t old = engine::fast::primitive_cache_capacity();
        ~CapacityGuard() { engine::fast::set_primitive_cache_capacity(old); }
    } guard;
    engine::fast::set_primitive_cache_capacity(3);
    const FixedPoint qx{8, 4}, qw{8, 6};
    const Tensor w = randn_f32({24, 40}, 8, 1.0), b = randn_f32({24}, 9, 1.0);
    const Tensor wq = engine::quantize_weight_int8(w, qw);
    // the int8 fast kernel runs only where oneDNN sums int8 exactly (VNNI); elsewhere the op uses the reference
    const bool int8_fast = engine::fast::int8_matmul_exact();
    const auto run = [&](int64_t rows, const char* mode) {
        KernelModeGuard g(mode);
        const Tensor x = randn_f32({rows, 40}, 7 + static_cast<uint64_t>(rows), 3.0);
        return std::make_pair(engine::linear_int8(x, qx, wq, 6, b).to_vector_f32(), engine::linear(x, w, b).to_vector_f32());
    };
    run(100, "fast");  // trims what earlier tests left down to the capacity
    const auto i0 = engine::fast::int8_cache_stats(), m0 = engine::fast::matmul_cache_stats();
    for (int64_t rows = 1; rows <= 9; ++rows) {  // 9 shapes through caches of 3: a miss, then a hit, each
        CAPTURE(rows);
        const auto ref = run(rows, "ref");
        for (int round = 0; round < 2; ++round) {
            const auto fast = run(rows, "fast");
            REQUIRE(fast.first == ref.first);  // int8: exact
            for (size_t i = 0; i < ref.second.size(); ++i)
                REQUIRE(std::abs(ref.second[i] - fast.second[i]) <= 1e-4 * (1.0 + std::abs(ref.second[i])));
        }
        REQUIRE(engine::fast::int8_cache_stats().size <= 3);
        REQUIRE(engine::fast::matmul_cache_stats().size <= 3);
    }
    const auto i1 = engine::fast::int8_cache_stats(), m1 = engine::fast::matmul_cache_stats();
    REQUIRE(m1.misses - m0.misses == 9);  // each new row count built once...
    REQUIRE(m1.hits - m0.hits == 9);      // ...and found again right after
    REQUIRE(m1.evictions - m0.evictions == static_cast<int64_t>(9 - (3 - m0.size)));  // once the 3 places are full
    if (int8_fast) {
        REQUIRE(i1.misses - i0.misses == 9);
        REQUIRE(i1.hits - i0.hits == 9);
        REQUIRE(i1.evictions - i0.evictions == static_cast<int64_t>(9 - (3 - i0.size)));
    }
}
