#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

TEST_CASE("softmax gradcheck with and without an additive mask", "[ops][softmax]") {
    auto [xs, ms] = GENERATE(table<Shape, Shape>({
        {{3, 5}, {}}, {{1, 1}, {}}, {{2, 3, 4, 4}, {2, 1, 1, 4}}, {{2, 7}, {7}}, {{4, 3}, {4, 1}},
    }));
    CAPTURE(shape_str(xs), shape_str(ms));
    Tensor x = input(xs, 1, DType::F64, -2, 2);
    if (ms.empty()) {
        require_gradcheck([](const std::vector<Tensor>& v) { return softmax(v[0]); }, {x});
    } else {
        Tensor m = input(ms, 2, DType::F64, -3, 0);
        require_gradcheck([](const std::vector<Tensor>& v) { return softmax(v[0], v[1]); }, {x, m});
    }
}

TEST_CASE("softmax mask of -10000 zeroes padded positions", "[ops][softmax]") {
    Tensor x = Tensor::zeros({1, 1, 2, 4});
    Tensor m = Tensor::from_vector(std::vector<float>{0, 0, -10000, -10000}, {1, 1, 1, 4});
    for (const char* mode : {"ref", "fast"}) {
        KernelModeGuard g(mode);
        auto y = softmax(x, m).to_vector_f32();
        REQUIRE(y[0] == Approx(0.5));
        REQUIRE(y[2] == 0.0f);
        REQUIRE(y[7] == 0.0f);
    }
}

TEST_CASE("softmax fast matches ref (BERT attention shapes)", "[ops][softmax][fast]") {
    Tensor x = input({2, 2, 33, 33}, 1, DType::F32, -4, 4);
    Tensor m = input({2, 1, 1, 33}, 2, DType::F32, -1, 0, false);
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return softmax(v[0], v[1]); }, {x, m});
    Tensor m2 = input({2, 1, 33, 1}, 3, DType::F32, -1, 0, false);  // column-broadcast mask
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return softmax(v[0], v[1]); }, {x, m2});
}

TEST_CASE("log_softmax and cross_entropy gradcheck", "[ops][cross_entropy]") {
    auto [N, C] = GENERATE(table<int64_t, int64_t>({{4, 2}, {1, 1}, {3, 7}}));
    CAPTURE(N, C);
    Tensor x = input({N, C}, 1, DType::F64, -3, 3);
    require_gradcheck([](const std::vector<Tensor>& v) { return log_softmax(v[0]); }, {x});
    Tensor labels = ids_tensor({N}, static_cast<int32_t>(C), 7);
    for (double s : {0.0, 0.1}) {
        CAPTURE(s);
        require_gradcheck([labels, s](const std::vector<Tensor>& v) { return cross_entropy(v[0], labels, s); }, {x});
    }
}

TEST_CASE("cross_entropy value matches the formula", "[ops][cross_entropy]") {
    Tensor x = Tensor::from_vector(std::vector<float>{1.0f, 2.0f, 0.5f, -0.5f}, {2, 2});
    Tensor y = Tensor::from_vector(std::vector<int32_t>{1, 0}, {2});
    const double l0 = -std::log(std::exp(2.0) / (std::exp(1.0) + std::exp(2.0)));
    const double l1 = -std::log(std::exp(0.5) / (std::exp(0.5) + std::exp(-0.5)));
    REQUIRE(cross_entropy(x, y).item() == Approx((l0 + l1) / 2).epsilon(1e-6));
    REQUIRE_THROWS_WITH(cross_entropy(x, Tensor::from_vector(std::vector<int32_t>{2, 0}, {2})),
                        Contains("label 2") && Contains("out of range"));
    REQUIRE_THROWS_WITH(cross_entropy(x, Tensor::from_vector(std::vector<int32_t>{0}, {1})),
                        Contains("cross_entropy") && Contains("[2,2]") && Contains("[1]"));
}

TEST_CASE("layernorm gradcheck", "[ops][layernorm]") {
    auto xs = GENERATE(Shape{3, 5}, Shape{2, 3, 8}, Shape{1, 1}, Shape{4, 2}, Shape{7});
    CAPTURE(shape_str(xs));
    const int64_t C = xs.back();
    Tensor x = input(xs, 1, DType::F64, -2, 2), g = input({C}, 2, DType::F64, 0.5, 1.5), b = input({C}, 3);
    // C == 1 included: the output is beta whatever x is, so the x-gradient must come out exactly zero
    require_gradcheck([](const std::vector<Tensor>& v) { return layernorm(v[0], v[1], v[2], 1e-5); }, {x, g, b});
}

TEST_CASE("layernorm fast matches ref", "[ops][layernorm][fast]") {
    Tensor x = input({37, 128}, 1, DType::F32, -2, 2), g = input({128}, 2, DType::F32), b = input({128}, 3, DType::F32);
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return layernorm(v[0], v[1], v[2], 1e-12); }, {x, g, b},
                             FastRefTol{1e-4, 1e-3});
    REQUIRE_THROWS_WITH(layernorm(x, Tensor::ones({64}), Tensor::zeros({128})), Contains("layernorm") && Contains("[64]"));
}

TEST_CASE("gelu and tanh gradcheck and fast vs ref", "[ops][activation]") {
    auto xs = GENERATE(Shape{5}, Shape{3, 4}, Shape{1});
    CAPTURE(shape_str(xs));
    Tensor x = input(xs, 1, DType::F64, -4, 4);
    require_gradcheck([](const std::vector<Tensor>& v) { return gelu(v[0]); }, {x});
    require_gradcheck([](const std::vector<Tensor>& v) { return engine::tanh(v[0]); }, {x});
    Tensor xf = input({9001}, 2, DType::F32, -6, 6);
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return gelu(v[0]); }, {xf}, FastRefTol{2e-6, 1e-5});
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return engine::tanh(v[0]); }, {xf}, FastRefTol{2e-6, 1e-5});
}

TEST_CASE("gelu is the erf form", "[ops][activation]") {
    Tensor x = Tensor::from_vector(std::vector<float>{1.0f}, {1});
    for (const char* mode : {"ref", "fast"}) {
        KernelModeGuard g(mode);
        REQUIRE(gelu(x).item() == Approx(0.8413447460685429).epsilon(1e-6));  // 1 * Phi(1)
    }
}

TEST_CASE("embedding gradcheck with repeated ids, fast vs ref", "[ops][embedding]") {
    Tensor w = input({6, 3}, 1);
    Tensor ids = Tensor::from_vector(std::vector<int32_t>{0, 5, 5, 2, 0, 1}, {2, 3});
    require_gradcheck([ids](const std::vector<Tensor>& v) { return embedding(v[0], ids); }, {w});
    Tensor wf = input({100, 64}, 2, DType::F32);
    Tensor idf = ids_tensor({8, 50}, 100, 3);
    require_fast_matches_ref([idf](const std::vector<Tensor>& v) { return embedding(v[0], idf); }, {wf});
    REQUIRE_THROWS_WITH(embedding(w, Tensor::from_vector(std::vector<int32_t>{6}, {1})),
                        Contains("id 6") && Contains("[0, 6)"));
}

TEST_CASE("dropout: seeded mask, scaled, gradient through the same mask", "[ops][dropout]") {
    Tensor x = input({4, 50}, 1);
    Rng r1(42), r2(42);
    Tensor y1 = dropout(x, 0.25, r1, true), y2 = dropout(x, 0.25, r2, true);
    REQUIRE(y1.to_vector_f64() == y2.to_vector_f64());
    const auto xv = x.to_vector_f64(), yv = y1.to_vector_f64();
    int zeros = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
        if (yv[i] == 0.0) ++zeros;
        else REQUIRE(yv[i] == Approx(xv[i] / 0.75));
    }
    REQUIRE(zeros > 20);
    REQUIRE(zeros < 80);
    // gradcheck with a fresh generator per call, so every evaluation draws the same mask
    require_gradcheck([](const std::vector<Tensor>& v) { Rng r(7); return dropout(v[0], 0.3, r, true); }, {x});
    Rng r3(1);
    REQUIRE(dropout(x, 0.5, r3, false).same(x));
    REQUIRE_THROWS_WITH(dropout(x, 1.0, r3, true), Contains("dropout") && Contains("p=1"));
}
