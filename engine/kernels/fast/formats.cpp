// Fast kernels of the number formats (ops/formats.h): the same per-element formulas as the reference
// (kernels/format_math.h), with two changes of how, not what:
//   - log2: the formats only ever need floor, ceil or round (half to even) of std::log2(u), an integer that
//     changes at one float per binade. Those floats are found once, by binary search with std::log2 itself
//     (it is monotonic), and kept per binade: the answer is then the binade's exponent, or one more, from one
//     comparison of bits -- the same number the reference gets, without a libm call per element.
//   - the work is split over OpenMP threads: element-wise formats in fixed chunks, block formats one block per
//     task (the block maxima and the elements of a block are touched by one thread only: no atomics and no
//     order-dependent results).
// Held to the reference bit for bit by tests/engine/ops/test_formats.cpp (also at every binade boundary).
#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

#include "engine/core/rng.h"
#include "engine/kernels/fast/blocked.h"
#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

using kernels::BlockGrid;
using kernels::FormatCode;
using kernels::ScalarLog2;

namespace {
// Per binade of positive normal floats (exponent field f = 1..254, u in [2^(f-127), 2^(f-126))), as bits:
//   ceil_last[f]:   the largest u with ceil(log2 u) == f-127 (log2 rounds to the binade's exponent just above 2^k)
//   floor_first[f]: the smallest u with floor(log2 u) == f-126 (log2 rounds up just below 2^(k+1)); end if none
//   round_first[f]: the smallest u with round(log2 u) == f-126 (near 2^(k+1/2), ties to even)
struct Log2Tables {
    uint32_t ceil_last[256], floor_first[256], round_first[256];
};

// The first bit pattern in [lo, hi) where `up` holds (up is false then true along the binade); hi if none.
template <class F>
uint32_t first_up(uint32_t lo, uint32_t hi, F up) {
    while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (up(std::bit_cast<float>(mid))) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

Log2Tables build_tables() {
    Log2Tables t{};
    for (uint32_t f = 1; f <= 254; ++f) {
        const uint32_t lo = f << 23, hi = (f + 1) << 23;
        const float k = static_cast<float>(static_cast<int>(f) - 127);
        t.ceil_last[f] = first_up(lo, hi, [&](float u) { return ScalarLog2::ceil_log2(u) > k; }) - 1;
        t.floor_first[f] = first_up(lo, hi, [&](float u) { return ScalarLog2::floor_log2(u) > k; });
        t.round_first[f] = first_up(lo, hi, [&](float u) { return ScalarLog2::round_log2(u) > k; });
    }
    return t;
}

const Log2Tables& tables() {
    static const Log2Tables t = build_tables();
    return t;
}

// ScalarLog2's three functions from the tables; zero, subnormals, inf and NaN go to ScalarLog2 itself.
struct TableLog2 {
    static bool normal(uint32_t b) { return b >= 0x00800000u && b < 0x7f800000u; }
    static float k_of(uint32_t b) { return static_cast<float>(static_cast<int>(b >> 23) - 127); }
    static float ceil_log2(float u) {
        const uint32_t b = std::bit_cast<uint32_t>(u);
        if (!normal(b)) return ScalarLog2::ceil_log2(u);
        return b <= tables().ceil_last[b >> 23] ? k_of(b) : k_of(b) + 1.0f;
    }
    static float floor_log2(float u) {
        const uint32_t b = std::bit_cast<uint32_t>(u);
        if (!normal(b)) return ScalarLog2::floor_log2(u);
        return b >= tables().floor_first[b >> 23] ? k_of(b) + 1.0f : k_of(b);
    }
    static float round_log2(float u) {
        const uint32_t b = std::bit_cast<uint32_t>(u);
        if (!normal(b)) return ScalarLog2::round_log2(u);
        return b >= tables().round_first[b >> 23] ? k_of(b) + 1.0f : k_of(b);
    }
};

// Calls f(flat index) for every element of block `b` of grid g.
template <class F>
void for_block(const BlockGrid& g, int64_t b, F f) {
    const int64_t c2 = b % g.n2, c1 = (b / g.n2) % g.n1, c0 = b / (g.n2 * g.n1);
    const int64_t e0 = std::min(g.d0, (c0 + 1) * g.b0), e1 = std::min(g.d1, (c1 + 1) * g.b1),
                  e2 = std::min(g.d2, (c2 + 1) * g.b2);
    for (int64_t i0 = c0 * g.b0; i0 < e0; ++i0)
        for (int64_t i1 = c1 * g.b1; i1 < e1; ++i1) {
            const int64_t row = (i0 * g.d1 + i1) * g.d2;
            for (int64_t i2 = c2 * g.b2; i2 < e2; ++i2) f(row + i2);
        }
}

// Calls f(first flat index, length) for each contiguous run (along the last dimension) of block `b`.
template <class F>
void for_block_rows(const BlockGrid& g, int64_t b, F f) {
    const int64_t c2 = b % g.n2, c1 = (b / g.n2) % g.n1, c0 = b / (g.n2 * g.n1);
    const int64_t e0 = std::min(g.d0, (c0 + 1) * g.b0), e1 = std::min(g.d1, (c1 + 1) * g.b1),
                  s2 = c2 * g.b2, e2 = std::min(g.d2, (c2 + 1) * g.b2);
    for (int64_t i0 = c0 * g.b0; i0 < e0; ++i0)
        for (int64_t i1 = c1 * g.b1; i1 < e1; ++i1) f((i0 * g.d1 + i1) * g.d2 + s2, e2 - s2);
}

// Branch-free row loops (the compiler turns them into AVX-512 with gathers for the tables) for the common case
// where every exponent the row can take lies in float32's normal range, so 2^e is built from bits. Each is
// step for step the formula of kernels/format_math.h (the same operations on the same floats); the callers
// fall back to those functions when the range condition fails.
inline float pow2_normal(float e) { return std::bit_cast<float>(static_cast<uint32_t>(static_cast<int>(e) + 127) << 23); }
// (e_max <= 126 so that 2^-e is normal too: the fast rows multiply by it instead of dividing by 2^e)
inline bool in_normal_range(float e_min, float e_max) { return e_min >= -126.0f && e_max <= 126.0f; }
inline float sign_of(float v) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); }  // kernels::signf, inlined
// The binade exponent of a positive normal u, plus one where `up` (a table comparison on u's bits) holds.
inline float binade(uint32_t b, bool up) { return static_cast<float>(static_cast<int>(b >> 23) - 127) + (up ? 1.0f : 0.0f); }

// minifloat_ieee over n values with bias/e_min/e_max (block_minifloat: a block's own), u = |x| + 1e-9 is normal.
[[gnu::always_inline]] inline void ieee_row(const float* x, float* y, int64_t n, int M, float bias, float e_min, float e_max, bool folded) {
    const Log2Tables& t = tables();
    // divisions by powers of two as multiplications by their inverses: the same exact quotient, rounded the same
    const float shift = pow2_normal(static_cast<float>(M)), inv_shift = pow2_normal(static_cast<float>(-M)),
                kmax = shift - 1.0f;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float xi = x[i], v = std::fabs(xi), sign = sign_of(xi + 1e-9f);
        const uint32_t b = std::bit_cast<uint32_t>(v + 1e-9f);
        const float e = kernels::clampf(binade(b, b >= t.floor_first[b >> 23]), e_min, e_max);
        const float p = pow2_normal(e), r = v * pow2_normal(-e);
        const bool normal = e != -bias;
        const float k = normal ? kernels::clampf(kernels::round_even(r * shift - shift), 0.0f, kmax)
                               : kernels::clampf(kernels::round_even(r * shift * 0.5f), 0.0f, kmax);
        const float mant = normal ? 1.0f + k * inv_shift : k * inv_shift * 2.0f;
        const float q = kernels::close_to_zero(xi) ? xi + 0.0f : sign * p * mant;
        y[i] = folded ? 0.0f + q : q;
    }
}

// minifloat_denorm over n values.
[[gnu::always_inline]] inline void denorm_row(const float* x, float* y, int64_t n, int M, float e_min, float e_max) {
    const Log2Tables& t = tables();
    const float shift = pow2_normal(static_cast<float>(M)), kmax = shift - 1.0f;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float xi = x[i], v = std::fabs(xi), sign = sign_of(xi + 1e-9f);
        const uint32_t b = std::bit_cast<uint32_t>(v + 1e-9f);
        const float e = kernels::clampf(binade(b, b > t.ceil_last[b >> 23]), e_min, e_max), p = pow2_normal(e);
        const float k = kernels::clampf(kernels::round_even(v / p * shift), 0.0f, kmax);
        y[i] = kernels::close_to_zero(xi) ? xi + 0.0f : sign * p * (k / shift);
    }
}

// log over n values with p01 normal (so |x| + p01 is).
[[gnu::always_inline]] inline void log_row(const float* x, float* y, int64_t n, float p01, float e_min, float e_max, bool folded) {
    const Log2Tables& t = tables();
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float xi = x[i], sign = sign_of(xi + p01);
        const uint32_t b = std::bit_cast<uint32_t>(std::fabs(xi) + p01);
        const float q = sign * pow2_normal(kernels::clampf(binade(b, b >= t.round_first[b >> 23]), e_min, e_max));
        y[i] = folded ? 0.0f + q : q;
    }
}

// block_fp over n values of one block with shared exponent e (normal range).
[[gnu::always_inline]] inline void block_fp_row(const float* x, float* y, int64_t n, int M, float e, bool folded) {
    const float shift = pow2_normal(static_cast<float>(M)), kmax = shift - 1.0f, p = pow2_normal(e);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float xi = x[i], v = std::fabs(xi) + 1e-9f, sign = sign_of(xi + 1e-9f);
        const float k = kernels::clampf(kernels::round_even(v / p * shift), 0.0f, kmax);
        const float q = kernels::close_to_zero(xi) ? xi + 0.0f : sign * p * (k / shift);
        y[i] = folded ? 0.0f + q : q;
    }
}

// The elements [i, i + n) of one block with shared value s, by the row loops when the range allows.
void block_row(const kernels::FormatArgs& a, const float* x, float* y, int64_t n, float s) {
    const float e_top = kernels::pow2(static_cast<float>(a.exponent_width)) - 1.0f - s;
    switch (a.code) {
        case FormatCode::BlockFp:
            if (s >= -126.0f && s <= 127.0f && a.mantissa_bits <= 30) return block_fp_row(x, y, n, a.mantissa_bits, s, a.folded);
            break;
        case FormatCode::BlockMinifloat:
            if (in_normal_range(-s, e_top) && a.mantissa_bits <= 30)
                return ieee_row(x, y, n, a.mantissa_bits, s, -s, e_top, a.folded);
            break;
        case FormatCode::BlockLog: {
            const float p01 = kernels::pow2(-s) * 0.1f;
            if (in_normal_range(-s, e_top) && p01 >= 0x1p-126f) return log_row(x, y, n, p01, -s, e_top, a.folded);
            break;
        }
        default: break;
    }
    for (int64_t i = 0; i < n; ++i) y[i] = kernels::block_element<TableLog2>(a, x[i], s);
}

// Whether a block's shared value keeps block_row on its row loops (then block_runs_row may run).
inline bool run_ok(const kernels::FormatArgs& a, float top, float sh) {
    if (a.code == FormatCode::BlockFp) return sh >= -126.0f && sh <= 127.0f;
    return in_normal_range(-sh, top - sh) && (a.code != FormatCode::BlockLog || pow2_normal(-sh) * 0.1f >= 0x1p-126f);
}

// One block (a run of `len` values) with shared value sh: the row loop when the range allows, else the
// per-element formulas (the same numbers).
template <FormatCode C>
[[gnu::always_inline]] inline void block_run(const kernels::FormatArgs& a, float top, const float* x, float* y, int64_t len, float sh) {
    if (!run_ok(a, top, sh)) {
        for (int64_t i = 0; i < len; ++i) y[i] = kernels::block_element<TableLog2>(a, x[i], sh);
        return;
    }
    // blocks of 16 (Lab 3's): a constant trip count, so each block is one AVX-512 iteration with no loop set-up
    // (measured: block_fp 0.26 -> 0.20 ms; block_minifloat slower, 0.54 -> 0.65, so it keeps the general loop)
    auto run = [&](int64_t n) {
        if constexpr (C == FormatCode::BlockFp) block_fp_row(x, y, n, a.mantissa_bits, sh, a.folded);
        else if constexpr (C == FormatCode::BlockMinifloat) ieee_row(x, y, n, a.mantissa_bits, sh, -sh, top - sh, a.folded);
        else log_row(x, y, n, pow2_normal(-sh) * 0.1f, -sh, top - sh, a.folded);
    };
    if (C != FormatCode::BlockMinifloat && len == 16) run(16);
    else run(len);
}

// The block format on a tensor whose blocks are runs along the last dimension (block [.., 1, b]: Lab 3's [1, 16]
// on weights and activations), in one parallel pass: per row, each block's maximum, shared value and elements
// while the row is in cache. All-zero blocks wait for the end: Mase gives them the smallest non-zero block
// maximum of the whole tensor (kernels::fix_zero_block_maxima; a min-reduction, order-free, the same value).
template <FormatCode C>
void block_runs(const kernels::FormatArgs& a, const BlockGrid& g, const float* x, float* y) {
    const int64_t rows = g.d0 * g.d1, d2 = g.d2, b2 = g.b2, n2 = g.n2;
    const float top = kernels::pow2(static_cast<float>(a.exponent_width)) - 1.0f;
    std::vector<uint8_t> zero(static_cast<size_t>(rows * n2), 0);
    float smallest = INFINITY;
    bool any_zero = false;
#pragma omp parallel for schedule(static) reduction(min : smallest) reduction(|| : any_zero)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < n2; ++j) {
            const int64_t off = r * d2 + j * b2, len = std::min(b2, d2 - j * b2);
            float m = 0.0f;
#pragma omp simd reduction(max : m)
            for (int64_t i = 0; i < len; ++i) m = std::max(m, std::fabs(x[off + i]));
            if (m == 0.0f) {
                zero[size_t(r * n2 + j)] = 1;
                any_zero = true;
                continue;
            }
            smallest = std::min(smallest, m);
            block_run<C>(a, top, x + off, y + off, len, kernels::block_shared<TableLog2>(a, m));
        }
    if (!any_zero) return;
    const float sh = kernels::block_shared<TableLog2>(a, std::isinf(smallest) ? 1.0f : smallest);  // all zero: 1
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < n2; ++j)
            if (zero[size_t(r * n2 + j)]) {
                const int64_t off = r * d2 + j * b2;
                block_run<C>(a, top, x + off, y + off, std::min(b2, d2 - j * b2), sh);
            }
}

// One format's element loop over [b, b + len), the format chosen once outside the loop.
template <FormatCode C>
void element_range(const kernels::FormatArgs& a, const float* x, float* y, int64_t b, int64_t len) {
    for (int64_t i = b; i < b + len; ++i) {
        if constexpr (C == FormatCode::MinifloatDenorm)
            y[i] = kernels::minifloat_denorm_1<TableLog2>(x[i], a.mantissa_bits, a.e_min, a.e_max);
        else if constexpr (C == FormatCode::MinifloatIeee)
            y[i] = kernels::minifloat_ieee_1<TableLog2>(x[i], a.mantissa_bits, a.bias, a.e_min, a.e_max);
        else if constexpr (C == FormatCode::Log)
            y[i] = kernels::log_1<TableLog2>(x[i], a.log_p01, a.e_min, a.e_max);
        else
            y[i] = kernels::element_1<TableLog2>(a, x[i], a.stochastic ? hash_uniform(a.seed, static_cast<uint64_t>(i)) : 0.0f);
    }
}
}  // namespace

void format_quant_forward_fast(const float* x, float* y, int64_t n, const kernels::FormatArgs& a) {
    (void)tables();  // built once, before the threads start
    if (kernels::is_block_format(a.code)) {
        const BlockGrid g(a);
        if (g.b0 == 1 && g.b1 == 1 && a.mantissa_bits <= 30) {
            switch (a.code) {
                case FormatCode::BlockFp: block_runs<FormatCode::BlockFp>(a, g, x, y); return;
                case FormatCode::BlockMinifloat: block_runs<FormatCode::BlockMinifloat>(a, g, x, y); return;
                default: block_runs<FormatCode::BlockLog>(a, g, x, y); return;
            }
        }
        const int64_t nb = g.count();
        std::vector<float> mx(static_cast<size_t>(nb));
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < nb; ++b) {
            float m = 0.0f;
            for_block(g, b, [&](int64_t i) { m = std::max(m, std::fabs(x[i])); });
            mx[static_cast<size_t>(b)] = m;
        }
        kernels::fix_zero_block_maxima(mx.data(), nb);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < nb; ++b) {
            const float s = kernels::block_shared<TableLog2>(a, mx[static_cast<size_t>(b)]);
            for_block_rows(g, b, [&](int64_t i, int64_t len) { block_row(a, x + i, y + i, len, s); });
        }
        return;
    }
    if (a.code == FormatCode::Ternary) {
        float t = 0.0f, alpha = 1.0f;
        kernels::ternary_stats(x, n, a.scaling, t, alpha);  // serial: the same sums as the reference
        blocked(n, [&](int64_t b, int64_t len) {
            for (int64_t i = b; i < b + len; ++i) y[i] = kernels::ternary_1(x[i], t, alpha);
        });
        return;
    }
    const bool rows_ok = in_normal_range(a.e_min, a.e_max) && a.mantissa_bits <= 30;
    blocked(n, [&](int64_t b, int64_t len) {
        switch (a.code) {
            case FormatCode::MinifloatDenorm:
                if (rows_ok) denorm_row(x + b, y + b, len, a.mantissa_bits, a.e_min, a.e_max);
                else element_range<FormatCode::MinifloatDenorm>(a, x, y, b, len);
                break;
            case FormatCode::MinifloatIeee:
                if (rows_ok) ieee_row(x + b, y + b, len, a.mantissa_bits, a.bias, a.e_min, a.e_max, false);
                else element_range<FormatCode::MinifloatIeee>(a, x, y, b, len);
                break;
            case FormatCode::Log:
                if (rows_ok && a.log_p01 >= 0x1p-126f) log_row(x + b, y + b, len, a.log_p01, a.e_min, a.e_max, false);
                else element_range<FormatCode::Log>(a, x, y, b, len);
                break;
            default: element_range<FormatCode::Binary>(a, x, y, b, len); break;
        }
    });
}

}  // namespace qbert::engine::fast
