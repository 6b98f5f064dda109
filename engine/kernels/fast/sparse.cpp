// Fast sparse linear kernel (ops/sparse.h). The reference kernel walks each output's kept weights once per token,
// loading x[r, col[p]] one float at a time. Here the vector lanes run across tokens instead:
//
//   1. take a tile of kTile tokens and transpose it: xt[k][t] = x[r0 + t, k], so the tile's values of input k are
//      kTile contiguous floats;
//   2. for each output o: acc[0..kTile) = 0; for each kept weight p of row o: acc += val[p] * xt[col[p]][..]
//      (one broadcast, kVecs vector fmas; acc stays in kVecs registers for the whole row);
//   3. the accumulators of 16 outputs go to a small [16][kTile] buffer, transposed into y's rows, plus the bias.
//
// The transposes cost (in + out) * kTile moves per tile against nnz * kTile multiply-adds, a few percent at the
// sparsities where this kernel pays. Every output is summed in the reference kernel's order (p ascending, fma,
// from 0, then + b), so the two agree bit for bit with AVX-512 (explicit fmas). Work is split
// into (tile, block of outputs) items; each output is computed by one thread in a fixed order, so results do not
// depend on the thread count.
#include <omp.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <vector>

#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

namespace {
constexpr int kLanes = 16;               // floats per vector (one AVX-512 register)
constexpr int kVecs = 2;                 // vectors per accumulator row: 32-token tiles keep xt small enough to
                                         // stay near L1 (measured 2, 4, 8, 16: 2 fastest at 90% sparsity)
constexpr int64_t kTile = kLanes * kVecs;  // tokens per tile
constexpr int64_t kOutBlock = 16;        // outputs per transpose back into y

typedef float vec __attribute__((vector_size(kLanes * sizeof(float))));

struct Scratch {
    std::vector<vec> xt;  // [in][kVecs]: the tile's tokens, transposed
    std::vector<vec> yt;  // [kOutBlock][kVecs]
};

// dst[j * ld_dst + i] = src[i * ld_src + j] (+ add[j] when given) for a 16 x 16 block. With AVX-512: 16 row loads,
// four rounds of shuffles (pairs of floats, quads, 128-bit lanes twice), 16 row stores. Otherwise plain loops.
void transpose16(const float* src, int64_t ld_src, float* dst, int64_t ld_dst, const float* add) {
#if defined(__AVX512F__)
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * ld_src);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; ++i) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
        }
    for (int i = 0; i < 8; ++i) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
    const __m512 a = add ? _mm512_loadu_ps(add) : _mm512_setzero_ps();
    for (int j = 0; j < 16; ++j) _mm512_storeu_ps(dst + j * ld_dst, add ? _mm512_add_ps(r[j], a) : r[j]);
#else
    for (int j = 0; j < 16; ++j)
        for (int i = 0; i < 16; ++i) dst[j * ld_dst + i] = add ? src[i * ld_src + j] + add[i] : src[i * ld_src + j];
#endif
}

// xt[k][t] = x[r0 + t, k] for t < n, 0 for the tile's unused tokens.
void transpose_tile(const float* x, int64_t r0, int64_t n, int64_t in, float* xt) {
    for (int64_t t0 = 0; t0 < kTile; t0 += 16) {
        for (int64_t k0 = 0; k0 < in; k0 += 16) {
            if (t0 + 16 <= n && k0 + 16 <= in) {
                transpose16(x + (r0 + t0) * in + k0, in, xt + k0 * kTile + t0, kTile, nullptr);
                continue;
            }
            for (int64_t k = k0; k < std::min(in, k0 + 16); ++k)
                for (int64_t t = t0; t < t0 + 16; ++t) xt[k * kTile + t] = t < n ? x[(r0 + t) * in + k] : 0.0f;
        }
    }
}

// Outputs [o0, o1) of one tile (o1 - o0 <= kOutBlock), written into y's rows r0 .. r0 + n.
void tile_block(const vec* xt, const int32_t* row_ptr, const int32_t* col, const float* val, const float* b, float* y,
                int64_t r0, int64_t n, int64_t out, int64_t o0, int64_t o1, vec* yt) {
    for (int64_t o = o0; o < o1; ++o) {
        vec acc[kVecs] = {};
        for (int32_t p = row_ptr[o]; p < row_ptr[o + 1]; ++p) {
            const float w = val[p];
            const vec* xk = xt + static_cast<int64_t>(col[p]) * kVecs;
#if defined(__AVX512F__)
            const __m512 wv = _mm512_set1_ps(w);  // one fma per vector, whatever the optimization level
            for (int v = 0; v < kVecs; ++v) acc[v] = _mm512_fmadd_ps(wv, xk[v], acc[v]);
#else
            for (int v = 0; v < kVecs; ++v) acc[v] = w * xk[v] + acc[v];  // fused only where the compiler contracts
#endif
        }
        for (int v = 0; v < kVecs; ++v) yt[(o - o0) * kVecs + v] = acc[v];
    }
    // yt[o - o0][t] -> y[r0 + t][o] + b[o]
    const float* ytf = reinterpret_cast<const float*>(yt);
    for (int64_t t0 = 0; t0 < n; t0 += 16) {
        if (t0 + 16 <= n && o1 - o0 == 16 && b) {
            transpose16(ytf + t0, kTile, y + (r0 + t0) * out + o0, out, b + o0);
            continue;
        }
        for (int64_t t = t0; t < std::min(n, t0 + 16); ++t)
            for (int64_t o = o0; o < o1; ++o) {
                const float a = ytf[(o - o0) * kTile + t];
                y[(r0 + t) * out + o] = b ? a + b[o] : a;
            }
    }
}
}  // namespace

void linear_sparse_forward_fast(const float* x, const int32_t* row_ptr, const int32_t* col, const float* val,
                                const float* b, float* y, int64_t rows, int64_t in, int64_t out) {
    if (rows <= 0 || out <= 0) return;
    const int64_t tiles = (rows + kTile - 1) / kTile;
    const int64_t out_blocks = (out + kOutBlock - 1) / kOutBlock;
    // enough items for every thread when there are few tiles (one sequence: 1 tile): split the outputs too
    const int threads = omp_get_max_threads();
    const int64_t chunks = std::min(out_blocks, std::max<int64_t>(1, (4 * threads + tiles - 1) / tiles));
    const int64_t blocks_per_chunk = (out_blocks + chunks - 1) / chunks;
    const int64_t items = tiles * chunks;
#pragma omp parallel
    {
        thread_local Scratch s;
        if (static_cast<int64_t>(s.xt.size()) < in * kVecs) s.xt.resize(static_cast<size_t>(in * kVecs));
        s.yt.resize(kOutBlock * kVecs);
        int64_t have = -1;  // the tile this thread's xt holds
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < items; ++item) {
            const int64_t tile = item / chunks, chunk = item % chunks;
            const int64_t r0 = tile * kTile, n = std::min(kTile, rows - r0);
            if (tile != have) {
                transpose_tile(x, r0, n, in, reinterpret_cast<float*>(s.xt.data()));
                have = tile;
            }
            const int64_t ob0 = chunk * blocks_per_chunk, ob1 = std::min(out_blocks, ob0 + blocks_per_chunk);
            for (int64_t ob = ob0; ob < ob1; ++ob)
                tile_block(s.xt.data(), row_ptr, col, val, b, y, r0, n, out, ob * kOutBlock,
                           std::min(out, (ob + 1) * kOutBlock), s.yt.data());
        }
    }
}

}  // namespace qbert::engine::fast
