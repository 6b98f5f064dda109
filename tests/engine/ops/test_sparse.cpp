// Sparse inference of pruned Linear layers (engine/ops/sparse.h): CSR packing, the sparse matmul against the dense
// masked linear, ref and fast kernels equal, clear errors.
#include <cmath>

#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

namespace {
// A keep mask with about (1 - sparsity) of the entries kept, and row `empty_row` (if >= 0) pruned entirely.
Tensor keep_mask(const engine::Shape& s, uint64_t seed, double sparsity, int64_t empty_row = -1) {
    Rng rng(seed);
    std::vector<uint8_t> m(static_cast<size_t>(engine::shape_numel(s)));
    for (auto& b : m) b = rng.uniform() < sparsity ? 0 : 1;
    if (empty_row >= 0)
        for (int64_t c = 0; c < s[1]; ++c) m[static_cast<size_t>(empty_row * s[1] + c)] = 0;
    return Tensor::from_vector(m, s);
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
    const auto x = a.to_vector_f64(), y = b.to_vector_f64();
    REQUIRE(x.size() == y.size());
    double worst = 0.0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]) / (1.0 + std::abs(x[i])));
    return worst;
}
}  // namespace

TEST_CASE("csr_from_dense keeps exactly the masked-in weights, in row and column order", "[ops][sparse]") {
    const Tensor w = Tensor::from_vector(std::vector<float>{1, 0, 2, 3, 4, 5, 0, 0, 6}, {3, 3});
    const Tensor mask = Tensor::from_vector(std::vector<uint8_t>{1, 1, 0, 0, 0, 0, 1, 1, 1}, {3, 3});
    const engine::CsrMatrix m = engine::csr_from_dense(w, mask);
    // masked in: (0,0)=1 (0,1)=0 -- a kept zero stays an entry -- row 1 empty, (2,0)=0 (2,1)=0 (2,2)=6
    REQUIRE(m.row_ptr.to_vector_f64() == std::vector<double>{0, 2, 2, 5});
    REQUIRE(m.col.to_vector_f64() == std::vector<double>{0, 1, 0, 1, 2});
    REQUIRE(m.val.to_vector_f64() == std::vector<double>{1, 0, 0, 0, 6});
    REQUIRE(m.nnz() == 5);
    REQUIRE(m.bytes() == 4 * 4 + 5 * 4 + 5 * 4);
    REQUIRE(engine::csr_to_dense(m).to_vector_f64() == std::vector<double>{1, 0, 0, 0, 0, 0, 0, 0, 6});
    // without a mask: the nonzero entries
    const engine::CsrMatrix nz = engine::csr_from_dense(w);
    REQUIRE(nz.nnz() == 6);
    REQUIRE(engine::csr_to_dense(nz).to_vector_f64() == w.to_vector_f64());
    m.validate("m");
}

TEST_CASE("linear_sparse equals the dense masked linear to rounding, on odd shapes and sparsities", "[ops][sparse]") {
    NoGradGuard ng;
    struct Case {
        int64_t rows, in, out;
        double sparsity;
    };
    // rows around the 32-token tile (1, 127, 129, 300), outputs not a multiple of 16, one output fully pruned
    for (const Case& c : {Case{1, 1, 1, 0.0}, Case{127, 33, 17, 0.5}, Case{129, 64, 40, 0.9}, Case{300, 96, 70, 0.99},
                          Case{256, 128, 512, 0.8}}) {
        CAPTURE(c.rows, c.in, c.out, c.sparsity);
        const Tensor x = randn_f32({c.rows, c.in}, 1, 1.0), w = randn_f32({c.out, c.in}, 2, 0.5), b = randn_f32({c.out}, 3, 1.0);
        const Tensor mask = keep_mask({c.out, c.in}, 4, c.sparsity, c.out > 1 ? c.out / 2 : -1);
        const Tensor dense = engine::linear(x, w, b, mask);
        const engine::CsrMatrix m = engine::csr_from_dense(w, mask);
        for (const char* mode : {"ref", "fast"}) {
            CAPTURE(mode);
            KernelModeGuard g(mode);
            const Tensor y = engine::linear_sparse(x, m, b);
            REQUIRE(y.shape() == dense.shape());
            REQUIRE(max_rel_diff(dense, y) < 1e-5);
            // no bias: the pruned-out output is exactly 0
            const Tensor y0 = engine::linear_sparse(x, m);
            if (c.out > 1) REQUIRE(y0.to_vector_f64()[static_cast<size_t>(c.out / 2)] == 0.0);
        }
    }
}

TEST_CASE("linear_sparse: ref and fast kernels agree bit for bit, at any thread count; check mode compares them",
          "[ops][sparse]") {
    NoGradGuard ng;
    const Tensor x = randn_f32({2, 150, 200}, 5, 1.0), w = randn_f32({130, 200}, 6, 0.3), b = randn_f32({130}, 7, 1.0);
    const engine::CsrMatrix m = engine::csr_from_dense(w, keep_mask({130, 200}, 8, 0.85));
    Tensor r, f1, f2;
    {
        KernelModeGuard g("ref");
        r = engine::linear_sparse(x, m, b);
    }
    {
        KernelModeGuard g("fast");
        ThreadsGuard t1(1);
        f1 = engine::linear_sparse(x, m, b);
    }
    {
        KernelModeGuard g("fast");
        ThreadsGuard t2(2);
        f2 = engine::linear_sparse(x, m, b);
    }
    REQUIRE(r.shape() == engine::Shape{2, 150, 130});
    REQUIRE(f1.to_vector_f32() == f2.to_vector_f32());  // each output summed by one thread in a fixed order
    REQUIRE(max_rel_diff(r, f1) < 1e-6);
#if defined(__AVX512F__)
    REQUIRE(r.to_vector_f32() == f1.to_vector_f32());  // the same fma sums in the same order
#endif
    KernelModeGuard g("check");
    REQUIRE(max_rel_diff(engine::linear_sparse(x, m, b), r) == 0.0);
}

TEST_CASE("linear_sparse: few tokens split the outputs across threads; the result still equals the reference",
          "[ops][sparse]") {
    NoGradGuard ng;
    // 20 tokens: one tile, so with 2 threads the outputs are split into chunks (each thread transposes the tile)
    const Tensor x = randn_f32({20, 70}, 11, 1.0), w = randn_f32({200, 70}, 12, 0.3), b = randn_f32({200}, 13, 1.0);
    const engine::CsrMatrix m = engine::csr_from_dense(w, keep_mask({200, 70}, 14, 0.7));
    Tensor r, f1, f2;
    {
        KernelModeGuard g("ref");
        r = engine::linear_sparse(x, m, b);
    }
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        KernelModeGuard g("fast");
        ThreadsGuard t(threads);
        const Tensor f = engine::linear_sparse(x, m, b);
#if defined(__AVX512F__)
        REQUIRE(f.to_vector_f32() == r.to_vector_f32());
#else
        REQUIRE(max_rel_diff(r, f) < 1e-6);
#endif
    }
    // no input features: y is the bias
    const engine::CsrMatrix empty = engine::csr_from_dense(Tensor::zeros({3, 0}));
    REQUIRE(engine::linear_sparse(Tensor::zeros({2, 0}), empty, Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}))
                .to_vector_f64() == std::vector<double>{1, 2, 3, 1, 2, 3});
}

TEST_CASE("linear_sparse: clear errors for shapes, bad CSR arrays, and gradients", "[ops][sparse]") {
    const Tensor w = randn_f32({4, 8}, 1, 1.0), x = randn_f32({2, 8}, 2, 1.0);
    const engine::CsrMatrix m = engine::csr_from_dense(w);
    {
        NoGradGuard ng;
        REQUIRE_THROWS_WITH(engine::linear_sparse(randn_f32({2, 7}, 3, 1.0), m), Contains("x.size(-1) == w.cols"));
        REQUIRE_THROWS_WITH(engine::linear_sparse(x, m, randn_f32({5}, 4, 1.0)), Contains("bias must be f32 [4]"));
    }
    Tensor xg = x.clone();
    xg.set_requires_grad(true);
    REQUIRE_THROWS_WITH(engine::linear_sparse(xg, m), Contains("inference only"));
    REQUIRE_THROWS_WITH(engine::csr_from_dense(w, Tensor::from_vector(std::vector<uint8_t>(32, 2), {4, 8})),
                        Contains("must hold 0 or 1"));
    REQUIRE_THROWS_WITH(engine::csr_from_dense(randn_f32({8}, 1, 1.0)), Contains("[out, in]"));

    engine::CsrMatrix bad = m;
    std::vector<int32_t> col(static_cast<size_t>(m.nnz()));
    for (size_t i = 0; i < col.size(); ++i) col[i] = static_cast<int32_t>(i % 8);
    col[1] = 9;
    bad.col = Tensor::from_vector(col, {m.nnz()});
    REQUIRE_THROWS_WITH(bad.validate("layer.weight"), Contains("layer.weight: row 0 has column 9, outside [0, 8)"));
    col[1] = 0;
    bad.col = Tensor::from_vector(col, {m.nnz()});
    REQUIRE_THROWS_WITH(bad.validate("w"), Contains("not increasing"));
    bad = m;
    bad.row_ptr = Tensor::from_vector(std::vector<int32_t>{0, 8, 4, 24, 32}, {5});
    REQUIRE_THROWS_WITH(bad.validate("w"), Contains("decreases at row 1"));
    bad.row_ptr = Tensor::from_vector(std::vector<int32_t>{0, 1000, 16, 24, 32}, {5});  // past nnz: caught first
    REQUIRE_THROWS_WITH(bad.validate("w"), Contains("passes nnz = 32"));
    bad.row_ptr = Tensor::from_vector(std::vector<int32_t>{0, 8, 16, 24, 30}, {5});
    REQUIRE_THROWS_WITH(bad.validate("w"), Contains("from 0 to nnz = 32"));
    bad = m;
    bad.val = Tensor::zeros({3});
    REQUIRE_THROWS_WITH(bad.validate("w"), Contains("val must be f32 [32]"));
}
