#include "engine/tensor/storage.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

TEST_CASE("factories, clone, conversions", "[tensor]") {
    Tensor z = Tensor::zeros({2, 3});
    REQUIRE(z.numel() == 6);
    REQUIRE(z.to_vector_f32() == std::vector<float>(6, 0.0f));
    Tensor f = Tensor::full({2}, 2.5, DType::F64);
    REQUIRE(f.to_vector_f64() == std::vector<double>{2.5, 2.5});
    Tensor c = f.clone();
    REQUIRE(c.storage() != f.storage());
    Tensor i = f.to(DType::I32);
    REQUIRE(i.dtype() == DType::I32);
    REQUIRE(i.to_vector_f64() == std::vector<double>{2.0, 2.0});
    REQUIRE(Tensor::zeros({}).numel() == 1);
    REQUIRE(Tensor::zeros({0, 3}).numel() == 0);
    REQUIRE_THROWS_AS(z.data<double>(), DTypeError);
    REQUIRE_THROWS_WITH(Tensor::from_vector(std::vector<float>{1, 2}, {3}), Contains("from_vector") && Contains("[3]"));
    REQUIRE_THROWS_WITH(Tensor::empty({2, -1}), Contains("[2,-1]"));
}

TEST_CASE("Rng: same seed same numbers, fork streams independent, known values", "[tensor][rng]") {
    Rng a(7), b(7), c(8);
    for (int i = 0; i < 100; ++i) REQUIRE(a.next_u64() == b.next_u64());
    Rng d(7);
    REQUIRE(d.next_u64() != c.next_u64());
    // Seed 0's first outputs, pinned from this implementation: any change to the generator (and so to every
    // seeded result the project has reported) makes this fail.
    Rng z(0);
    REQUIRE(z.next_u64() == 11091344671253066420ULL);
    REQUIRE(z.next_u64() == 13793997310169335082ULL);
    REQUIRE(Rng(0).uniform() == 0x1.33d8bep-1f);
    Rng e(7);
    REQUIRE(e.fork("init").next_u64() == Rng(7).fork("init").next_u64());
    REQUIRE(e.fork("init").next_u64() != e.fork("dropout").next_u64());
    Rng u(3);
    double sum = 0, sq = 0;
    for (int i = 0; i < 20000; ++i) {
        const double n = u.normal();
        sum += n;
        sq += n * n;
    }
    REQUIRE(std::fabs(sum / 20000) < 0.03);
    REQUIRE(std::fabs(sq / 20000 - 1.0) < 0.05);
    for (int i = 0; i < 1000; ++i) {
        const float x = u.uniform();
        REQUIRE(x >= 0.0f);
        REQUIRE(x < 1.0f);
        REQUIRE(u.below(10) < 10);
    }
}

TEST_CASE("in-place writes bump the version and are refused on grad leaves", "[tensor]") {
    Tensor w = Tensor::zeros({3}).set_requires_grad(true);
    REQUIRE_THROWS_WITH(w.fill_(1.0), Contains("in-place") && Contains("NoGradGuard"));
    NoGradGuard ng;
    const uint64_t v = w.version();
    w.fill_(1.0);
    REQUIRE(w.version() == v + 1);
}

TEST_CASE("allocator reuses freed buffers", "[tensor][storage]") {
    if (!allocator_stats().caching) SUCCEED("caching is off in this build (sanitizer)");
    else {
        { Tensor a = Tensor::empty({1234, 7}); }
        const auto before = allocator_stats();
        { Tensor b = Tensor::empty({1234, 7}); }
        const auto after = allocator_stats();
        REQUIRE(after.reuses == before.reuses + 1);
        REQUIRE(after.allocations == before.allocations);
    }
}
