#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

namespace {
Shape mm_shape(Shape lead, int64_t r, int64_t c, bool t) {
    lead.push_back(t ? c : r);
    lead.push_back(t ? r : c);
    return lead;
}
}  // namespace

TEST_CASE("matmul gradcheck, all transpose combinations", "[ops][matmul]") {
    auto [lead, M, K, N] = GENERATE(table<Shape, int64_t, int64_t, int64_t>({
        {{}, 3, 4, 5}, {{}, 1, 1, 1}, {{2}, 3, 5, 2}, {{2, 3}, 2, 3, 4}, {{}, 7, 1, 3},
    }));
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            CAPTURE(shape_str(lead), M, K, N, ta, tb);
            Tensor a = input(mm_shape(lead, M, K, ta), 1), b = input(mm_shape(lead, K, N, tb), 2);
            require_gradcheck([ta, tb](const std::vector<Tensor>& x) { return matmul(x[0], x[1], ta, tb); }, {a, b});
        }
}

TEST_CASE("matmul with a shared 2-D b and batched a", "[ops][matmul]") {
    Tensor a = input({2, 3, 4}, 1), b = input({4, 5}, 2);
    require_gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }, {a, b});
    Tensor bt = input({5, 4}, 3);
    require_gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1], false, true); }, {a, bt});
}

TEST_CASE("matmul values", "[ops][matmul]") {
    Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = Tensor::from_vector(std::vector<float>{1, 0, 0, 1, 1, 1}, {3, 2});
    for (const char* mode : {"ref", "fast"}) {
        KernelModeGuard g(mode);
        REQUIRE(matmul(a, b).to_vector_f32() == std::vector<float>{4, 5, 10, 11});
        REQUIRE(matmul(a, a, false, true).to_vector_f32() == std::vector<float>{14, 32, 32, 77});
    }
}

TEST_CASE("matmul and linear fast (oneDNN) match ref", "[ops][matmul][fast]") {
    auto [lead, M, K, N] = GENERATE(table<Shape, int64_t, int64_t, int64_t>({
        {{}, 64, 128, 96}, {{3}, 17, 33, 9}, {{2, 2}, 16, 8, 16}, {{}, 1, 1, 1},
    }));
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            CAPTURE(shape_str(lead), M, K, N, ta, tb);
            Tensor a = input(mm_shape(lead, M, K, ta), 1, DType::F32), b = input(mm_shape(lead, K, N, tb), 2, DType::F32);
            require_fast_matches_ref([ta, tb](const std::vector<Tensor>& x) { return matmul(x[0], x[1], ta, tb); },
                                     {a, b}, FastRefTol{2e-5 * static_cast<double>(std::max(M, K)), 1e-4});
        }
    Tensor x = input({4, 7, 48}, 3, DType::F32), w = input({40, 48}, 4, DType::F32), bias = input({40}, 5, DType::F32);
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); }, {x, w, bias},
                             FastRefTol{1e-3, 1e-4});
}

TEST_CASE("linear gradcheck, with and without bias", "[ops][linear]") {
    auto [xs, in, out] = GENERATE(table<Shape, int64_t, int64_t>({{{3, 4}, 4, 5}, {{2, 3, 4}, 4, 2}, {{1, 1}, 1, 1}, {{5}, 5, 3}}));
    CAPTURE(shape_str(xs), in, out);
    Tensor x = input(xs, 1), w = input({out, in}, 2), b = input({out}, 3);
    require_gradcheck([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); }, {x, w, b});
    require_gradcheck([](const std::vector<Tensor>& v) { return linear(v[0], v[1]); }, {x, w});
}

TEST_CASE("linear through a non-contiguous input", "[ops][linear]") {
    Tensor x = input({4, 3}, 1), w = input({2, 4}, 2);
    require_gradcheck([](const std::vector<Tensor>& v) { return linear(transpose(v[0], 0, 1), v[1]); }, {x, w});
}

TEST_CASE("matmul/linear bad shapes name the op and both shapes", "[ops][matmul][errors]") {
    Tensor a = Tensor::zeros({8, 128, 768}), b = Tensor::zeros({512, 768});
    REQUIRE_THROWS_AS(matmul(a, b), ShapeError);
    REQUIRE_THROWS_WITH(matmul(a, b), Contains("matmul") && Contains("[8,128,768]") && Contains("[512,768]"));
    REQUIRE_THROWS_WITH(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5})), Contains("batch dims"));
    REQUIRE_THROWS_WITH(linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})),
                        Contains("linear") && Contains("[2,3]") && Contains("[4,5]"));
    REQUIRE_THROWS_WITH(linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 3}), Tensor::zeros({3})),
                        Contains("bias") && Contains("[3]"));
}
