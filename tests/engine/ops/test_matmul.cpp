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

namespace {
// A fixed 0/1 pattern with both values in every row and column (u8, as CompressedLinear stores it).
Tensor weight_mask(int64_t out, int64_t in) {
    std::vector<uint8_t> m(static_cast<size_t>(out * in));
    for (size_t i = 0; i < m.size(); ++i) m[i] = (i * 7 % 3) != 0;
    return Tensor::from_vector(m, {out, in});
}
}  // namespace

TEST_CASE("linear with a weight mask: gradcheck on the reference kernels", "[ops][linear][mask]") {
    auto [xs, in, out] = GENERATE(table<Shape, int64_t, int64_t>(
        {{{3, 4}, 4, 5}, {{2, 3, 4}, 4, 2}, {{1, 1}, 1, 1}, {{5}, 5, 3}}));
    CAPTURE(shape_str(xs), in, out);
    const Tensor m = weight_mask(out, in);
    Tensor x = input(xs, 1), w = input({out, in}, 2), b = input({out}, 3);
    require_gradcheck([m](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2], m); }, {x, w, b});
    require_gradcheck([m](const std::vector<Tensor>& v) { return linear(v[0], v[1], Tensor(), m); }, {x, w});
}

TEST_CASE("linear with a weight mask computes with W*M; pruned weights get exactly zero gradient",
          "[ops][linear][mask]") {
    const Tensor m = weight_mask(6, 8);
    Tensor mf = Tensor::from_vector(m.to_vector_f32(), {6, 8});
    for (const char* mode : {"ref", "fast"}) {
        CAPTURE(mode);
        KernelModeGuard g(mode);
        Tensor x = input({4, 8}, 1, DType::F32), w = input({6, 8}, 2, DType::F32), b = input({6}, 3, DType::F32);
        Tensor dy = input({4, 6}, 4, DType::F32, -1.0, 1.0, false);
        Tensor y = linear(x, w, b, m);
        sum(mul(y, dy)).backward();
        const auto dw = w.grad().to_vector_f32(), wv = w.to_vector_f32();
        const auto mv = m.to_vector_f32();
        for (size_t i = 0; i < mv.size(); ++i)
            if (mv[i] == 0.0f) REQUIRE(dw[i] == 0.0f);
        REQUIRE(w.to_vector_f32() == wv);  // the weight itself is untouched
        // the numbers of masking the weight first, linear(x, W*M, b): the same ones from the fast kernels; the
        // reference loops may differ in the last bit (the compiler may fuse multiply-adds in one loop, not the other)
        Tensor x2 = input({4, 8}, 1, DType::F32), w2 = input({6, 8}, 2, DType::F32), b2 = input({6}, 3, DType::F32);
        Tensor y2 = linear(x2, mul(w2, mf), b2);
        sum(mul(y2, dy)).backward();
        const FastRefTol tol = std::string(mode) == "fast" ? FastRefTol{0.0, 0.0} : FastRefTol{1e-6, 1e-6};
        require_close(y2, y, tol, "y");
        require_close(x2.grad(), x.grad(), tol, "dx");
        require_close(w2.grad(), w.grad(), tol, "dW");
        require_close(b2.grad(), b.grad(), tol, "db");
    }
}

TEST_CASE("linear with a weight mask: fast (oneDNN, then dW * M) matches ref", "[ops][linear][mask][fast]") {
    auto [xs, in, out] = GENERATE(table<Shape, int64_t, int64_t>(
        {{{4, 7, 48}, 48, 40}, {{64, 128}, 128, 96}, {{1, 1}, 1, 1}, {{3, 5}, 5, 1}}));
    CAPTURE(shape_str(xs), in, out);
    const Tensor m = weight_mask(out, in);
    Tensor x = input(xs, 3, DType::F32), w = input({out, in}, 4, DType::F32), b = input({out}, 5, DType::F32);
    const FastRefTol tol{2e-5 * static_cast<double>(std::max<int64_t>({in, out, shape_numel(xs) / in})), 1e-4};
    require_fast_matches_ref([m](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2], m); }, {x, w, b}, tol);
    require_fast_matches_ref([m](const std::vector<Tensor>& v) { return linear(v[0], v[1], Tensor(), m); }, {x, w}, tol);
    {
        MatmulPrecisionGuard bf16("bf16");
        require_fast_matches_ref([m](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2], m); }, {x, w, b},
                                 FastRefTol{2e-3, 1e-4});
    }
    KernelModeGuard check("check");  // the dispatcher's own comparison (KernelMismatch) agrees
    Shape ys = xs;
    ys.back() = out;
    linear(x, w, b, m).backward(input(ys, 6, DType::F32, -1.0, 1.0, false));
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
    REQUIRE_THROWS_WITH(linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 3}), Tensor(), Tensor::zeros({4, 3})),
                        Contains("linear") && Contains("mask") && Contains("u8") && Contains("f32[4,3]"));
    REQUIRE_THROWS_WITH(linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 3}), Tensor(), Tensor::zeros({3, 4}, DType::U8)),
                        Contains("mask") && Contains("[4,3]") && Contains("[3,4]"));
}

TEST_CASE("bfloat16 rounding: nearest, ties to even, NaN and infinities kept", "[ops][matmul][bf16]") {
    auto rt = [](float f) { return engine::bf16_to_float(engine::float_to_bf16(f)); };
    REQUIRE(rt(1.0f) == 1.0f);
    REQUIRE(rt(1.0f + 0x1p-8f) == 1.0f);                 // exactly half an ulp (2^-7): tie, 1.0 is even
    REQUIRE(rt(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);   // tie between 1+2^-7 (odd) and 1+2^-6 (even)
    REQUIRE(rt(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);  // just above the tie rounds up
    REQUIRE(rt(-2.5f) == -2.5f);
    REQUIRE(rt(3.14159265f) == 3.140625f);
    REQUIRE(std::isinf(rt(std::numeric_limits<float>::infinity())));
    REQUIRE(std::isnan(rt(std::numeric_limits<float>::quiet_NaN())));
    REQUIRE(rt(std::numeric_limits<float>::max()) == std::numeric_limits<float>::infinity());  // rounds up, as IEEE
}

TEST_CASE("bf16 matmul: fast (oneDNN bf16) matches the reference, and differs from fp32 by bf16 rounding only",
          "[ops][matmul][bf16][fast]") {
    MatmulPrecisionGuard bf16("bf16");
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            CAPTURE(ta, tb);
            Tensor a = input(mm_shape({3}, 17, 64, ta), 1, DType::F32), b = input(mm_shape({3}, 64, 9, tb), 2, DType::F32);
            require_fast_matches_ref([ta, tb](const std::vector<Tensor>& x) { return matmul(x[0], x[1], ta, tb); },
                                     {a, b}, FastRefTol{2e-3, 1e-4});
        }
    Tensor x = input({4, 7, 48}, 3, DType::F32), w = input({40, 48}, 4, DType::F32), bias = input({40}, 5, DType::F32);
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); }, {x, w, bias},
                             FastRefTol{1e-3, 1e-4});
    // against fp32: operands carry 8 significant bits, so each product is off by up to ~2^-8 relative
    NoGradGuard ng;
    const auto lo = linear(x, w, bias).to_vector_f64();
    std::vector<double> hi;
    {
        MatmulPrecisionGuard f32("f32");
        hi = linear(x, w, bias).to_vector_f64();
    }
    double max_diff = 0, max_abs = 0;
    for (size_t i = 0; i < lo.size(); ++i) {
        max_diff = std::max(max_diff, std::abs(lo[i] - hi[i]));
        max_abs = std::max(max_abs, std::abs(hi[i]));
    }
    REQUIRE(max_diff > 1e-6 * max_abs);  // the bf16 path really rounds
    REQUIRE(max_diff < 2e-2 * max_abs);
}

TEST_CASE("matmul precision setting: bad names are errors", "[ops][matmul][bf16][errors]") {
    REQUIRE_THROWS_WITH(engine::set_matmul_precision("fp16"), Contains("fp16") && Contains("f32|bf16"));
}
