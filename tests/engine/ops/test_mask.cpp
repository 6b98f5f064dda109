#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

namespace {
std::vector<float> random_mask_under(const char* mode, const Shape& shape, uint64_t seed, double sparsity) {
    KernelModeGuard g(mode);
    return engine::random_keep_mask(shape, seed, sparsity).to_vector_f32();
}
std::vector<float> threshold_mask_under(const char* mode, const Tensor& x, double t) {
    KernelModeGuard g(mode);
    return engine::threshold_keep_mask(x, t).to_vector_f32();
}

}  // namespace

TEST_CASE("random_keep_mask: fast equals ref bit for bit, for any thread count", "[ops][mask][fast]") {
    auto [n, seed, sparsity] = GENERATE(table<int64_t, uint64_t, double>(
        {{1, 0, 0.5}, {7, 1, 0.3}, {4096, 2, 0.9}, {100003, 3, 0.25}, {5000, 4, 0.0}, {5000, 5, 1.0}}));
    CAPTURE(n, seed, sparsity);
    const std::vector<float> ref = random_mask_under("ref", {n}, seed, sparsity);
    REQUIRE(random_mask_under("fast", {n}, seed, sparsity) == ref);
    {
        ThreadsGuard one(1);
        REQUIRE(random_mask_under("fast", {n}, seed, sparsity) == ref);
    }
    REQUIRE_NOTHROW(random_mask_under("check", {n}, seed, sparsity));
    // the definition: element i is dropped when hash_uniform(seed, i) < sparsity
    for (int64_t i = 0; i < n; i += std::max<int64_t>(1, n / 97))
        REQUIRE(ref[static_cast<size_t>(i)] ==
                (engine::hash_uniform(seed, static_cast<uint64_t>(i)) < static_cast<float>(sparsity) ? 0.0f : 1.0f));
    int64_t zeros = 0;
    for (float v : ref) zeros += v == 0.0f;
    if (n >= 4096) REQUIRE(std::abs(static_cast<double>(zeros) / static_cast<double>(n) - sparsity) < 0.02);
    if (sparsity == 0.0) REQUIRE(zeros == 0);
    if (sparsity == 1.0) REQUIRE(zeros == n);
}

TEST_CASE("random_keep_mask: shape, dtype, a new seed gives a new mask; bad sparsity is an error", "[ops][mask]") {
    Tensor m = engine::random_keep_mask({3, 4, 5}, 9, 0.5);
    REQUIRE(m.shape() == Shape{3, 4, 5});
    REQUIRE(m.dtype() == DType::F32);
    REQUIRE_FALSE(m.requires_grad());
    REQUIRE(engine::random_keep_mask({3, 4, 5}, 9, 0.5).to_vector_f32() == m.to_vector_f32());
    REQUIRE(engine::random_keep_mask({3, 4, 5}, 10, 0.5).to_vector_f32() != m.to_vector_f32());
    // f64 (reference kernel): the same 0/1 pattern
    const std::vector<double> d = engine::random_keep_mask({3, 4, 5}, 9, 0.5, DType::F64).to_vector_f64();
    REQUIRE(d == m.to_vector_f64());
    REQUIRE_THROWS_WITH(engine::random_keep_mask({4}, 0, 1.5), Contains("random_keep_mask") && Contains("[0, 1]"));
    REQUIRE_THROWS_WITH(engine::random_keep_mask({4}, 0, 0.5, DType::I32), Contains("random_keep_mask"));
}

TEST_CASE("threshold_keep_mask: |x| > t keeps, ties pruned; fast equals ref bit for bit", "[ops][mask][fast]") {
    const Tensor x = Tensor::from_vector(std::vector<float>{1, -5, 3, 0.5f, 2, 8, -7, 4, -3.5f, 3.5f}, {2, 5});
    REQUIRE(threshold_mask_under("ref", x, 3.5) == std::vector<float>{0, 1, 0, 0, 0, 1, 1, 1, 0, 0});
    REQUIRE(threshold_mask_under("fast", x, 3.5) == threshold_mask_under("ref", x, 3.5));
    // compared in double, as the activation pruning always did: a threshold just below 0.1f (which rounds to
    // 0.1f in float) keeps 0.1f
    const double t = static_cast<double>(0.1f) - 1e-12;
    const Tensor y = Tensor::from_vector(std::vector<float>{0.1f, -0.1f, 0.05f}, {3});
    REQUIRE(threshold_mask_under("ref", y, t) == std::vector<float>{1, 1, 0});
    REQUIRE(threshold_mask_under("fast", y, t) == std::vector<float>{1, 1, 0});
    for (int64_t n : {1, 4097, 100003}) {
        CAPTURE(n);
        const Tensor big = input({n}, 7, DType::F32, -3.0, 3.0, false);
        for (double tt : {0.0, 0.5, 2.9}) {
            const std::vector<float> ref = threshold_mask_under("ref", big, tt);
            REQUIRE(threshold_mask_under("fast", big, tt) == ref);
            ThreadsGuard one(1);
            REQUIRE(threshold_mask_under("fast", big, tt) == ref);
        }
        REQUIRE_NOTHROW(threshold_mask_under("check", big, 0.5));
    }
}

TEST_CASE("threshold_keep_mask: non-contiguous and f64 inputs; integer inputs are an error", "[ops][mask]") {
    const Tensor x = input({4, 3}, 8, DType::F32, -1.0, 1.0, false);
    const Tensor xt = engine::transpose(x, 0, 1);  // (3,4), a strided view
    REQUIRE(engine::threshold_keep_mask(xt, 0.3).to_vector_f32() ==
            engine::threshold_keep_mask(engine::contiguous(xt), 0.3).to_vector_f32());
    const Tensor xd = input({4, 3}, 8, DType::F64, -1.0, 1.0, false);
    REQUIRE(engine::threshold_keep_mask(xd, 0.3).dtype() == DType::F64);
    REQUIRE(engine::threshold_keep_mask(xd, 0.3).to_vector_f64() == engine::threshold_keep_mask(x, 0.3).to_vector_f64());
    REQUIRE_THROWS_WITH(engine::threshold_keep_mask(Tensor::zeros({3}, DType::I32), 0.5),
                        Contains("threshold_keep_mask") && Contains("floating"));
}
