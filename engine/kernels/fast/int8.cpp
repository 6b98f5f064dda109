// Fast int8 linear kernels (ops/int8.h): quantization and epilogue as vectorized loops on OpenMP threads, the
// int32 sums by oneDNN's int8 matmul (s8 or u8 activations x s8 weights -> s32; on this CPU the AVX-512 VNNI
// brgemm kernels). Integer arithmetic throughout, so they equal the reference kernels exactly.
#include <dnnl.hpp>

#include <cmath>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "engine/core/config.h"
#include "engine/kernels/fast/blocked.h"
#include "engine/kernels/fast/dnnl_context.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/fast/primitive_cache.h"

namespace qbert::engine::fast {

namespace {
// One block of quantize_int8_fast, specialised so the loop has no branch left: clamp, round (1.5 * 2^23 added and
// subtracted rounds half to even for |v| < 2^22, which the clamp guarantees), convert, mask. A NaN is counted
// and replaced by 0 before the conversion (converting NaN to an integer is undefined).
template <class Q, bool Floor, bool Masked>
int quantize_block(const float* x, const uint8_t* mask, Q* q, int64_t b, int64_t e, float scale, float qmin,
                   float qmax) {
    constexpr float kMagic = 0x1.8p23f;
    int nan = 0;
#pragma omp simd reduction(| : nan)
    for (int64_t i = b; i < e; ++i) {
        float v = x[i] * scale;
        const bool is_nan = v != v;
        nan |= is_nan;
        v = is_nan ? 0.0f : (v < qmin ? qmin : (v > qmax ? qmax : v));
        const float k = Floor ? std::floor(v) : (v + kMagic) - kMagic;
        int32_t ki = static_cast<int32_t>(k);
        if constexpr (Masked) ki *= static_cast<int32_t>(mask[i]);
        q[i] = static_cast<Q>(ki);
    }
    return nan;
}
}  // namespace

template <class Q>
bool quantize_int8_fast(const float* x, const uint8_t* mask, Q* q, int64_t n, float scale, float qmin, float qmax,
                        bool floor) {
    int bad = 0;
    constexpr int64_t kBlock = 16384;
    const int64_t nb = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) reduction(| : bad)
    for (int64_t blk = 0; blk < nb; ++blk) {
        const int64_t b = blk * kBlock, e = std::min(n, b + kBlock);
        if (floor)
            bad |= mask ? quantize_block<Q, true, true>(x, mask, q, b, e, scale, qmin, qmax)
                        : quantize_block<Q, true, false>(x, mask, q, b, e, scale, qmin, qmax);
        else
            bad |= mask ? quantize_block<Q, false, true>(x, mask, q, b, e, scale, qmin, qmax)
                        : quantize_block<Q, false, false>(x, mask, q, b, e, scale, qmin, qmax);
    }
    return !bad;
}

namespace {
using dt = dnnl::memory::data_type;
using Key = std::tuple<int64_t, int64_t, int64_t, bool>;  // rows, in, out, unsigned activations

struct Entry {
    dnnl::matmul prim;
    dnnl::memory::desc x_md, w_md, acc_md;
};

Entry build(int64_t rows, int64_t in, int64_t out, bool u8) {
    // x (rows, in) row-major; W stored (out, in) row-major, read as (in, out) through its strides; acc (rows, out)
    dnnl::memory::desc x_md({rows, in}, u8 ? dt::u8 : dt::s8, dnnl::memory::dims{in, 1});
    dnnl::memory::desc w_md({in, out}, dt::s8, dnnl::memory::dims{1, in});
    dnnl::memory::desc acc_md({rows, out}, dt::s32, dnnl::memory::dims{out, 1});
    dnnl::matmul::desc desc(x_md, w_md, acc_md);
    dnnl::matmul::primitive_desc pd(desc, dnnl::primitive_attr(), dnnl_engine());
    return Entry{dnnl::matmul(pd), x_md, w_md, acc_md};
}
PrimitiveCache<Key, Entry>& int8_cache() {  // bounded: evaluation batches of many lengths would grow it forever
    static PrimitiveCache<Key, Entry> cache;
    return cache;
}
}  // namespace

PrimitiveCacheStats int8_cache_stats() { return int8_cache().stats(); }

bool int8_matmul_exact() {
    // With VNNI (vpdpbusd) oneDNN sums u8 x s8 products straight into int32. Without it, its int8 kernels pair
    // products in 16-bit saturating adds (vpmaddubsw), which can clip: then the fast path is not exact and the
    // op uses the reference kernel (the AVX-512 EPYC of this project has VNNI).
    static const bool ok = [] {
        const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
        return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
               isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
    }();
    return ok;
}

template <class Q>
void linear_int8_forward_fast(const Q* xq, const int8_t* wq, const float* b, float* y, int64_t rows, int64_t in,
                              int64_t out, float out_scale) {
    constexpr bool u8 = std::is_same_v<Q, uint8_t>;
    const std::shared_ptr<const Entry> e = int8_cache().get(Key{rows, in, out, u8}, [&] { return build(rows, in, out, u8); });
    thread_local std::vector<int32_t> acc;  // scratch that only grows
    if (static_cast<int64_t>(acc.size()) < rows * out) acc.resize(static_cast<size_t>(rows * out));
    const dnnl::engine& eng = dnnl_engine();
    dnnl::memory xm(e->x_md, eng, const_cast<Q*>(xq));
    dnnl::memory wm(e->w_md, eng, const_cast<int8_t*>(wq));
    dnnl::memory am(e->acc_md, eng, acc.data());
    dnnl::stream& s = dnnl_stream();
    e->prim.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, am}});
    s.wait();
    const int32_t* a = acc.data();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
#pragma omp simd
        for (int64_t o = 0; o < out; ++o) {
            const float v = static_cast<float>(a[r * out + o]) * out_scale;
            y[r * out + o] = b ? v + b[o] : v;
        }
    }
}

#define QBERT_INSTANTIATE(Q)                                                                                     \
    template bool quantize_int8_fast<Q>(const float*, const uint8_t*, Q*, int64_t, float, float, float, bool); \
    template void linear_int8_forward_fast<Q>(const Q*, const int8_t*, const float*, float*, int64_t, int64_t,   \
                                              int64_t, float);
QBERT_INSTANTIATE(int8_t)
QBERT_INSTANTIATE(uint8_t)
#undef QBERT_INSTANTIATE

}  // namespace qbert::engine::fast
