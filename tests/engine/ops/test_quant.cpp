#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using engine::FixedPoint;
using engine::Ste;
using Catch::Matchers::Contains;

namespace {
FixedPoint fp(int w, int f, bool is_signed = true, bool floor = false) { return FixedPoint{w, f, is_signed, floor}; }

std::vector<float> quant(const std::vector<float>& x, const FixedPoint& q) {
    return engine::fake_quant(Tensor::from_vector(x, {static_cast<int64_t>(x.size())}), q).to_vector_f32();
}
}  // namespace

TEST_CASE("fake_quant matches Mase's worked table (ties to even, saturation, unsigned, floor)", "[ops][quant]") {
    // mase-behaviour.md 1.1: columns w4 f2 | w4 f2 unsigned | w8 f4 | floor w4 f2
    const std::vector<float> x{0.3f, 0.375f, 0.625f, 0.125f, -0.375f, 3.0f, -3.0f, 1.874f};
    const std::vector<float> w4f2{0.25f, 0.5f, 0.5f, 0.0f, -0.5f, 1.75f, -2.0f, 1.75f};
    const std::vector<float> w4f2u{0.25f, 0.5f, 0.5f, 0.0f, 0.0f, 3.0f, 0.0f, 1.75f};
    const std::vector<float> w8f4{0.3125f, 0.375f, 0.625f, 0.125f, -0.375f, 3.0f, -3.0f, 1.875f};
    const std::vector<float> floor4{0.25f, 0.25f, 0.5f, 0.0f, -0.5f, 1.75f, -2.0f, 1.75f};
    for (const char* mode : {"ref", "fast"}) {
        CAPTURE(mode);
        KernelModeGuard g(mode);
        REQUIRE(quant(x, fp(4, 2)) == w4f2);
        REQUIRE(quant(x, fp(4, 2, false)) == w4f2u);
        REQUIRE(quant(x, fp(8, 4)) == w8f4);
        REQUIRE(quant(x, fp(4, 2, true, true)) == floor4);
        // more ties: 1.5 -> 2, 2.5 -> 2, -1.5 -> -2, -2.5 -> -2 at frac 0
        REQUIRE(quant({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f}, fp(8, 0)) == std::vector<float>{0, 2, 2, -0, -2, -2});
        // frac > width and negative frac: the formula applies as is
        REQUIRE(quant({1.0f, -1.0f, 0.05f}, fp(4, 6)) == std::vector<float>{0.109375f, -0.125f, 0.046875f});
        REQUIRE(quant({5.0f, 100.0f, -100.0f}, fp(4, -2)) == std::vector<float>{4.0f, 28.0f, -32.0f});
    }
}

TEST_CASE("fake_quant endpoints and steps of the Mase table", "[ops][quant]") {
    REQUIRE(fp(4, 2).min_value() == -2.0);
    REQUIRE(fp(4, 2).max_value() == 1.75);
    REQUIRE(fp(8, 4).max_value() == 7.9375);
    REQUIRE(fp(16, 8).max_value() == 127.99609375);
    REQUIRE(fp(8, 3, false).max_value() == 31.875);
    REQUIRE(fp(8, 4).str() == "Q8.4");
    REQUIRE(fp(6, 2, false, true).str() == "UQ6.2 floor");
}

TEST_CASE("fake_quant gradients: identity STE (Mase) and clipped STE (PyTorch)", "[ops][quant]") {
    for (const char* mode : {"ref", "fast"}) {
        CAPTURE(mode);
        KernelModeGuard g(mode);
        Tensor x = Tensor::from_vector(std::vector<float>{0.3f, 5.0f, -5.0f, 1.75f, 1.9f, -2.1f}, {6});
        x.set_requires_grad(true);
        Tensor dy = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {6});
        engine::sum(engine::mul(engine::fake_quant(x, fp(4, 2)), dy)).backward();
        REQUIRE(x.grad().to_vector_f32() == std::vector<float>{1, 2, 3, 4, 5, 6});  // also where clamped
        x.zero_grad();
        engine::sum(engine::mul(engine::fake_quant(x, fp(4, 2), Ste::Clipped), dy)).backward();
        // round(x*4): 1, 20, -20, 7, 8 (> qmax 7), -8 (>= qmin -8: kept)
        REQUIRE(x.grad().to_vector_f32() == std::vector<float>{1, 0, 0, 4, 0, 6});
    }
}

TEST_CASE("fake_quant fast and ref agree bit for bit on random data, every width", "[ops][quant][fast]") {
    Tensor x = input({3, 1000}, 7, DType::F32);
    {
        engine::NoGradGuard ng;
        x = engine::scale(x, 3.0);  // spread past the small ranges
    }
    x.set_requires_grad(true);
    for (int w : {2, 4, 8, 12, 16, 24, 32})
        for (bool floor : {false, true}) {
            CAPTURE(w, floor);
            const FixedPoint q = fp(w, w / 2, true, floor);
            std::vector<float> r, f;
            {
                KernelModeGuard g("ref");
                r = engine::fake_quant(x, q).to_vector_f32();
            }
            {
                KernelModeGuard g("fast");
                f = engine::fake_quant(x, q).to_vector_f32();
            }
            REQUIRE(r == f);
            for (float v : f) {  // on the grid and in range
                REQUIRE(v * static_cast<float>(q.scale()) == std::nearbyint(v * static_cast<float>(q.scale())));
                REQUIRE(v >= static_cast<float>(q.min_value()));
                REQUIRE(v <= static_cast<float>(q.max_value()));
            }
        }
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return engine::fake_quant(v[0], fp(6, 3), Ste::Clipped); },
                             {x}, FastRefTol{0.0, 0.0});
}

TEST_CASE("fake_quant: finite differences see a step function; the STE is the documented surrogate",
          "[ops][quant][gradcheck]") {
    // The true derivative of q is 0 between grid jumps (and undefined at them): central differences at points
    // away from any jump give exactly 0, which is why QAT needs the straight-through estimator at all.
    const FixedPoint q = fp(8, 4);
    Tensor x = Tensor::from_vector(std::vector<double>{0.26, -0.51, 1.02, 0.0, 9.0}, {5});  // 9.0: saturated
    const double eps = 1e-6;
    const auto xv = x.to_vector_f64();
    for (size_t i = 0; i < xv.size(); ++i) {
        auto at = [&](double d) {
            std::vector<double> v = xv;
            v[i] += d;
            return engine::fake_quant(Tensor::from_vector(v, {5}), q).to_vector_f64()[i];
        };
        REQUIRE((at(eps) - at(-eps)) / (2 * eps) == 0.0);
    }
    // d/dx sum(q(x)^2) with the identity STE = 2 q(x), saturated entry included
    x.set_requires_grad(true);
    Tensor y = engine::fake_quant(x, q);
    REQUIRE(y.to_vector_f64() == std::vector<double>{0.25, -0.5, 1.0, 0.0, 7.9375});
    engine::sum(engine::mul(y, y)).backward();
    REQUIRE(x.grad().to_vector_f64() == std::vector<double>{0.5, -1.0, 2.0, 0.0, 15.875});
}

TEST_CASE("fake_quant rejects out-of-range widths naming the field", "[ops][quant][errors]") {
    Tensor x = Tensor::zeros({2});
    REQUIRE_THROWS_WITH(engine::fake_quant(x, fp(0, 0)), Contains("width must be in [1, 32]") && Contains("got 0"));
    REQUIRE_THROWS_WITH(engine::fake_quant(x, fp(33, 4)), Contains("got 33"));
    REQUIRE_THROWS_WITH(engine::fake_quant(x, fp(8, 80)), Contains("frac_width") && Contains("got 80"));
}
