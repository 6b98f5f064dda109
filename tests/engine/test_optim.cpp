#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

TEST_CASE("AdamW matches the PyTorch formula step by step", "[optim][adamw]") {
    Tensor p = Tensor::from_vector(std::vector<float>{0.5f, -1.0f}, {2}).set_requires_grad(true);
    AdamWOptions o;
    o.lr = 0.1;
    o.weight_decay = 0.01;
    AdamW opt({{"p", p}}, o);
    // hand-computed in double, same formula
    double pv[2] = {0.5, -1.0}, m[2] = {0, 0}, v[2] = {0, 0};
    const double gs[3][2] = {{0.2, -0.4}, {0.1, 0.3}, {-0.5, 0.05}};
    for (int t = 1; t <= 3; ++t) {
        p.set_grad(Tensor::from_vector(std::vector<float>{float(gs[t - 1][0]), float(gs[t - 1][1])}, {2}));
        opt.step();
        for (int i = 0; i < 2; ++i) {
            pv[i] *= 1 - 0.1 * 0.01;
            m[i] = 0.9 * m[i] + 0.1 * gs[t - 1][i];
            v[i] = 0.999 * v[i] + 0.001 * gs[t - 1][i] * gs[t - 1][i];
            const double bc1 = 1 - std::pow(0.9, t), bc2 = 1 - std::pow(0.999, t);
            pv[i] -= 0.1 / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + 1e-8);
        }
        const auto got = p.to_vector_f64();
        REQUIRE(got[0] == Approx(pv[0]).epsilon(1e-5));
        REQUIRE(got[1] == Approx(pv[1]).epsilon(1e-5));
    }
    REQUIRE(opt.steps() == 3);
    REQUIRE(opt.state().size() == 2);
}

TEST_CASE("AdamW fast and ref updates are bitwise equal", "[optim][adamw][fast]") {
    auto run = [](const char* mode) {
        KernelModeGuard g(mode);
        Tensor p = input({1000}, 1, DType::F32, -1, 1);
        AdamW opt({{"p", p}}, AdamWOptions{});
        for (int s = 0; s < 3; ++s) {
            p.set_grad(input({1000}, 10 + s, DType::F32, -1, 1, false));
            opt.step();
        }
        return p.to_vector_f32();
    };
    REQUIRE(run("ref") == run("fast"));
}

TEST_CASE("SGD with momentum matches PyTorch", "[optim][sgd]") {
    Tensor p = Tensor::from_vector(std::vector<float>{1.0f}, {1}).set_requires_grad(true);
    Sgd opt({{"p", p}}, SgdOptions{0.1, 0.9, 0.0});
    p.set_grad(Tensor::from_vector(std::vector<float>{1.0f}, {1}));
    opt.step();  // buf = 1, p = 0.9
    REQUIRE(p.item() == Approx(0.9));
    opt.step();  // buf = 0.9 + 1 = 1.9, p = 0.71
    REQUIRE(p.item() == Approx(0.71));
    REQUIRE_THROWS_WITH(Sgd({}, SgdOptions{-1.0, 0, 0}), Contains("lr"));
}

TEST_CASE("learning-rate schedule and gradient clipping", "[optim]") {
    REQUIRE(lr_factor(LrSchedule::LinearWarmupDecay, 0, 10, 110) == 0.0);
    REQUIRE(lr_factor(LrSchedule::LinearWarmupDecay, 5, 10, 110) == Approx(0.5));
    REQUIRE(lr_factor(LrSchedule::LinearWarmupDecay, 10, 10, 110) == Approx(1.0));
    REQUIRE(lr_factor(LrSchedule::LinearWarmupDecay, 60, 10, 110) == Approx(0.5));
    REQUIRE(lr_factor(LrSchedule::LinearWarmupDecay, 200, 10, 110) == 0.0);
    REQUIRE(lr_factor(LrSchedule::Constant, 7, 10, 110) == 1.0);
    Tensor a = Tensor::zeros({2}).set_requires_grad(true), b = Tensor::zeros({1}).set_requires_grad(true);
    a.set_grad(Tensor::from_vector(std::vector<float>{3, 0}, {2}));
    b.set_grad(Tensor::from_vector(std::vector<float>{4}, {1}));
    const double norm = clip_grad_norm({{"a", a}, {"b", b}}, 1.0);
    REQUIRE(norm == Approx(5.0));
    REQUIRE(a.grad().to_vector_f64()[0] == Approx(0.6).epsilon(1e-5));
    REQUIRE(b.grad().to_vector_f64()[0] == Approx(0.8).epsilon(1e-5));
}

TEST_CASE("gradient clipping: the chunked parallel norm matches the serial reference, for any thread count", "[optim]") {
    // 3 tensors, one large enough for many chunks and an odd tail
    const auto make = [](int64_t n, uint64_t seed) {
        Tensor p = Tensor::zeros({n}).set_requires_grad(true);
        p.set_grad(qbert::test::input({n}, seed, DType::F32, -3.0, 3.0));
        return p;
    };
    const NamedTensors ps{{"a", make(1000003, 1)}, {"b", make(7, 2)}, {"c", make(65536, 3)}};
    double ref = 0, fast2 = 0, fast1 = 0;
    {
        qbert::test::KernelModeGuard g("ref");
        ref = clip_grad_norm(ps, 1e30);  // no scaling: just the norm
    }
    {
        qbert::test::KernelModeGuard g("fast");
        fast2 = clip_grad_norm(ps, 1e30);
        const int prev = num_threads();
        set_num_threads(1);
        fast1 = clip_grad_norm(ps, 1e30);
        set_num_threads(prev);
    }
    REQUIRE(fast2 == fast1);  // thread-count independent, bit for bit
    REQUIRE(std::abs(fast2 - ref) <= 1e-12 * ref);
    REQUIRE(ref > 1000.0);
}
