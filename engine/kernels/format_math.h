// The number formats of ops/formats.h, one element (and one block statistic) at a time: Mase's formulas
// (mase-behaviour.md section 2) in float32, step for step in the order Mase's torch code computes them, so
// that the rounding of every intermediate is the same. The reference and the fast kernels both call these
// functions; they differ only in how they walk the tensor.
//
// Quirks kept on purpose (they are Mase's, and `qbert fake-quant` must equal Mase bit for bit):
//   - 1e-9 inside log2 and sign: sign(x + 1e-9) (so 0 has sign +1), log2(|x| + 1e-9) (1 + 1e-9 == 1 in float);
//   - |x| <= 1e-8 (torch.isclose(x, 0)) is passed through unchanged by the minifloats and block_fp;
//   - the mantissa integer is capped at 2^M - 1 and never carries into the next binade: with ceil() the value
//     at a power of two maps just below it (minifloat_denorm, block_fp: 1.0 -> 0.875 at M = 3);
//   - log cannot represent zero: 0 -> +2^e_min.
// Exponents are held as floats (as torch does); 2^e is std::ldexp(1.0f, e): exact, 0 below 2^-149.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace qbert::engine::kernels {

enum class FormatCode { MinifloatDenorm, MinifloatIeee, Log, BlockFp, BlockMinifloat, BlockLog, Binary, Ternary };

// What a format kernel needs, resolved by ops/formats.cpp. The tensor is viewed as dims[0] x dims[1] x dims[2]
// (leading 1s for fewer dimensions) and cut into blocks of block[0] x block[1] x block[2]; the last block along
// a dimension may stick out past the tensor (Mase pads with zeros; the padding never changes a block maximum).
struct FormatArgs {
    FormatCode code = FormatCode::MinifloatDenorm;
    int mantissa_bits = 0;       // M (minifloats, block_fp, block_minifloat)
    float e_min = 0, e_max = 0;  // exponent range of the scalar formats and of block_fp
    float bias = 0;              // minifloat_ieee: the exponent bias (subnormal binade is e == -bias)
    float log_p01 = 0;           // log: 0.1 * 2^e_min, as Mase (a double product rounded to float)
    int exponent_width = 0;      // block_minifloat: E;  block_log: width - 1
    int exponent_bias_width = 0; // block_minifloat, block_log: Bw
    int64_t dims[3] = {1, 1, 1};
    int64_t block[3] = {1, 1, 1};
    bool stochastic = false;     // binary: p = clamp((x+1)/2, 0, 1) against a uniform u
    uint64_t seed = 0;           // binary stochastic: u = hash_uniform(seed, element index)
    bool scaling = false;        // ternary: survivors scaled by their mean magnitude
    // Block formats on [R, C] weights and [B, T, H] activations: Mase puts the blocks back with F.fold, which
    // adds them onto zeros, so a -0 result comes out as +0 (1-D and [B, H] activations are reshaped: -0 stays).
    bool folded = false;
};

// 2^e for an integral e: built from the exponent bits in the normal range (exact, no libm call), std::ldexp
// outside it (subnormal results, 0 below 2^-149, inf above 2^127) -- the same values either way.
inline float pow2(float e) {
    if (e >= -126.0f && e <= 127.0f) return std::bit_cast<float>(static_cast<uint32_t>(static_cast<int>(e) + 127) << 23);
    return std::ldexp(1.0f, static_cast<int>(e));
}
// Round half to even, as torch.round and std::nearbyint in the default rounding mode: for |v| < 2^23, adding and
// subtracting 2^23 rounds to an integer in float32 (exact, no libm call); larger floats are integers already.
inline float round_even(float v) {
    const float a = std::fabs(v);
    return a < 0x1p23f ? std::copysign((a + 0x1p23f) - 0x1p23f, v) : v;
}
inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// How the formulas take log2: the reference calls std::log2 itself (ScalarLog2, the definition); the fast
// kernel reads the same results off tables (kernels/fast/formats.cpp), held to it bit for bit by the tests.
struct ScalarLog2 {
    static float ceil_log2(float u) { return std::ceil(std::log2(u)); }
    static float floor_log2(float u) { return std::floor(std::log2(u)); }
    static float round_log2(float u) { return round_even(std::log2(u)); }
};
inline float signf(float v) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); }  // torch.sign
inline bool close_to_zero(float v) { return std::fabs(v) <= 1e-8f; }                  // torch.isclose(v, 0)

// minifloat_denorm: e = clamp(ceil(log2(|x| + 1e-9)), e_min, e_max); k = clamp(round(|x| / 2^e * 2^M), 0, 2^M-1);
// q = sign(x + 1e-9) * 2^e * k / 2^M. No hidden bit.
template <class L = ScalarLog2>
inline float minifloat_denorm_1(float x, int M, float e_min, float e_max) {
    if (close_to_zero(x)) return x + 0.0f;  // (-0 + 0 = +0, as Mase's 1*x + 0*q)
    const float sign = signf(x + 1e-9f), v = std::fabs(x);
    const float e = clampf(L::ceil_log2(v + 1e-9f), e_min, e_max);
    const float shift = pow2(static_cast<float>(M));
    const float k = clampf(round_even(v / pow2(e) * shift), 0.0f, shift - 1.0f);
    return sign * pow2(e) * (k / shift);
}

// minifloat_ieee: e = clamp(floor(log2(|x| + 1e-9)), -B, 2^E-1-B); r = |x| / 2^e;
// normal (e != -B): k = clamp(round(r*2^M - 2^M), 0, 2^M-1), mant = 1 + k/2^M;
// subnormal (e == -B): k = clamp(round(r*2^M / 2), 0, 2^M-1), mant = k/2^M * 2;  q = sign * 2^e * mant.
// `bias` may be a block's own bias (block_minifloat), with e_min = -bias.
template <class L = ScalarLog2>
inline float minifloat_ieee_1(float x, int M, float bias, float e_min, float e_max) {
    if (close_to_zero(x)) return x + 0.0f;
    const float sign = signf(x + 1e-9f), v = std::fabs(x);
    const float e = clampf(L::floor_log2(v + 1e-9f), e_min, e_max);
    const float r = v / pow2(e), shift = pow2(static_cast<float>(M));
    float mant;
    if (e != -bias)
        mant = 1.0f + clampf(round_even(r * shift - shift), 0.0f, shift - 1.0f) / shift;
    else
        mant = clampf(round_even(r * shift / 2.0f), 0.0f, shift - 1.0f) / shift * 2.0f;
    return sign * pow2(e) * mant;
}

// log: q = sign(x + p/10) * 2^clamp(round(log2(|x| + p/10)), e_min, e_max) with p = 2^e_min. No zero: 0 -> 2^e_min.
template <class L = ScalarLog2>
inline float log_1(float x, float p01, float e_min, float e_max) {
    const float sign = signf(x + p01);
    const float e = clampf(L::round_log2(std::fabs(x) + p01), e_min, e_max);
    return sign * pow2(e);
}

// block_fp, one element of a block whose shared exponent is e = clamp(ceil(log2(block max)), e_min, e_max):
// k = clamp(round((|x| + 1e-9) / 2^e * 2^M), 0, 2^M-1); q = sign(x + 1e-9) * 2^e * k / 2^M; |x| <= 1e-8 unchanged.
inline float block_fp_1(float x, int M, float e) {
    if (close_to_zero(x)) return x + 0.0f;
    const float sign = signf(x + 1e-9f), v = std::fabs(x) + 1e-9f;
    const float shift = pow2(static_cast<float>(M));
    const float k = clampf(round_even(v / pow2(e) * shift), 0.0f, shift - 1.0f);
    return sign * pow2(e) * (k / shift);
}

// The per-block quantities, from a block's maximum magnitude (already made non-zero, see FormatArgs users):
// block_fp: the shared exponent;  block_minifloat: the shared bias b = clamp(floor(log2 mx), 0, 2^Bw - 1);
// block_log: the shared bias b = clamp(2^(width-1) - 1 - ceil(log2 mx), 0, 2^Bw - 1).
template <class L = ScalarLog2>
inline float block_fp_exponent(float mx, float e_min, float e_max) {
    return clampf(L::ceil_log2(mx), e_min, e_max);
}
template <class L = ScalarLog2>
inline float block_minifloat_bias(float mx, int Bw) {
    return clampf(L::floor_log2(mx), 0.0f, pow2(static_cast<float>(Bw)) - 1.0f);
}
template <class L = ScalarLog2>
inline float block_log_bias(float mx, int exponent_bits, int Bw) {
    return clampf(pow2(static_cast<float>(exponent_bits)) - 1.0f - L::ceil_log2(mx), 0.0f,
                  pow2(static_cast<float>(Bw)) - 1.0f);
}

// One element of a block with its shared value `s` (exponent or bias, above).
template <class L = ScalarLog2>
inline float block_element_1(const FormatArgs& a, float x, float s) {
    switch (a.code) {
        case FormatCode::BlockFp: return block_fp_1(x, a.mantissa_bits, s);
        case FormatCode::BlockMinifloat:
            return minifloat_ieee_1<L>(x, a.mantissa_bits, s, -s, pow2(static_cast<float>(a.exponent_width)) - 1.0f - s);
        case FormatCode::BlockLog: {
            const float e_min = -s;  // Mase: min_pos = 2^-b as a float tensor, times 0.1 in float
            return log_1<L>(x, pow2(e_min) * 0.1f, e_min, pow2(static_cast<float>(a.exponent_width)) - 1.0f - s);
        }
        default: return x;
    }
}
template <class L = ScalarLog2>
inline float block_element(const FormatArgs& a, float x, float s) {
    const float y = block_element_1<L>(a, x, s);
    return a.folded ? 0.0f + y : y;
}
template <class L = ScalarLog2>
inline float block_shared(const FormatArgs& a, float mx) {
    switch (a.code) {
        case FormatCode::BlockFp: return block_fp_exponent<L>(mx, a.e_min, a.e_max);
        case FormatCode::BlockMinifloat: return block_minifloat_bias<L>(mx, a.exponent_bias_width);
        case FormatCode::BlockLog: return block_log_bias<L>(mx, a.exponent_width, a.exponent_bias_width);
        default: return 0.0f;
    }
}
inline bool is_block_format(FormatCode c) {
    return c == FormatCode::BlockFp || c == FormatCode::BlockMinifloat || c == FormatCode::BlockLog;
}

// One element of an element-wise format (not block, not ternary). `u`: binary stochastic's uniform.
template <class L = ScalarLog2>
inline float element_1(const FormatArgs& a, float x, float u) {
    switch (a.code) {
        case FormatCode::MinifloatDenorm: return minifloat_denorm_1<L>(x, a.mantissa_bits, a.e_min, a.e_max);
        case FormatCode::MinifloatIeee: return minifloat_ieee_1<L>(x, a.mantissa_bits, a.bias, a.e_min, a.e_max);
        case FormatCode::Log: return log_1<L>(x, a.log_p01, a.e_min, a.e_max);
        case FormatCode::Binary:
            if (a.stochastic) return clampf((x + 1.0f) / 2.0f, 0.0f, 1.0f) >= u ? 1.0f : -1.0f;
            return x >= 0.0f ? 1.0f : -1.0f;
        default: return x;
    }
}

// Ternary, one element, given the threshold t = 0.75 * mean|x| and the scale alpha (1 without scaling).
inline float ternary_1(float x, float t, float alpha) { return x > t ? alpha : (x < -t ? -alpha : 0.0f); }

// The block of element (i0, i1, i2) as a flat index over the grid of blocks.
struct BlockGrid {
    int64_t d0, d1, d2, b0, b1, b2, n0, n1, n2;
    explicit BlockGrid(const FormatArgs& a)
        : d0(a.dims[0]), d1(a.dims[1]), d2(a.dims[2]), b0(a.block[0]), b1(a.block[1]), b2(a.block[2]),
          n0((d0 + b0 - 1) / b0), n1((d1 + b1 - 1) / b1), n2((d2 + b2 - 1) / b2) {}
    int64_t count() const { return n0 * n1 * n2; }
    int64_t of(int64_t i0, int64_t i1, int64_t i2) const { return ((i0 / b0) * n1 + i1 / b1) * n2 + i2 / b2; }
};

// Mase's fix-up of block maxima: all-zero blocks take the smallest non-zero block maximum of the tensor (every
// block 1 if the whole tensor is zero). Serial and exact (min is order-free), shared by ref and fast.
inline void fix_zero_block_maxima(float* mx, int64_t nblocks) {
    float smallest = 0.0f;
    for (int64_t b = 0; b < nblocks; ++b)
        if (mx[b] != 0.0f && (smallest == 0.0f || mx[b] < smallest)) smallest = mx[b];
    for (int64_t b = 0; b < nblocks; ++b)
        if (mx[b] == 0.0f) mx[b] = smallest == 0.0f ? 1.0f : smallest;
}

// Ternary statistics over the whole tensor, serial in element order (shared by ref and fast, so both give the
// same threshold bit for bit): t = 0.75 * sum|x| / n; alpha = mean |x| over |x| > t (or 1 without scaling).
inline void ternary_stats(const float* x, int64_t n, bool scaling, float& t, float& alpha) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += std::fabs(x[i]);
    t = 0.75f * static_cast<float>(s) / static_cast<float>(n);
    alpha = 1.0f;
    if (!scaling) return;
    double kept = 0.0;
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i)
        if (std::fabs(x[i]) > t) kept += std::fabs(x[i]), ++count;
    alpha = count ? static_cast<float>(kept) / static_cast<float>(count) : 0.0f;
}

}  // namespace qbert::engine::kernels
