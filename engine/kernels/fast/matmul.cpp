// oneDNN 2.6 matmul with a primitive cache of our own, keyed by (batch, M, N, K, ta, tb, bias, shared b), bounded
// (least recently used shapes evicted: primitive_cache.h).
//
// Transposes cost nothing: a transposed operand is described to oneDNN by its strides, e.g. a (K,M) buffer
// read as (M,K) has strides {1, M}. oneDNN's own primitive cache is a safety net; this one avoids even
// building the descriptors on a hit. Execution is synchronous (stream.wait()) so kernels compose like calls.
//
// bf16 operands (QBERT_MATMUL=bf16): a and b are rounded into bfloat16 scratch buffers with the same layout,
// and a bf16 x bf16 -> f32 primitive runs (oneDNN's avx512_core_bf16 kernels: products exact, fp32 sums).
// The bias stays fp32.
#include <dnnl.hpp>

#include <tuple>
#include <vector>

#include "engine/core/dtype.h"

#include "engine/core/config.h"
#include "engine/kernels/fast/dnnl_context.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/fast/primitive_cache.h"

namespace qbert::engine::fast {

namespace {
using dt = dnnl::memory::data_type;
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, bool, bool, bool, bool>;

struct Entry {
    dnnl::matmul prim;
    dnnl::memory::desc a_md, b_md, bias_md, c_md;
};

Entry build(int64_t batch, int64_t M, int64_t N, int64_t K, bool ta, bool tb, bool has_bias, bool shared_b,
            bool bf16) {
    const dnnl::engine& eng = dnnl_engine();
    const int64_t bb = shared_b ? 1 : batch;
    const dt in_t = bf16 ? dt::bf16 : dt::f32;
    dnnl::memory::desc a_md({batch, M, K}, in_t,
                            ta ? dnnl::memory::dims{M * K, 1, M} : dnnl::memory::dims{M * K, K, 1});
    dnnl::memory::desc b_md({bb, K, N}, in_t,
                            tb ? dnnl::memory::dims{K * N, 1, K} : dnnl::memory::dims{K * N, N, 1});
    dnnl::memory::desc c_md({batch, M, N}, dt::f32, dnnl::memory::dims{M * N, N, 1});
    dnnl::memory::desc bias_md;
    if (has_bias) bias_md = dnnl::memory::desc({1, 1, N}, dt::f32, dnnl::memory::dims{N, N, 1});
    dnnl::matmul::desc desc = has_bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                                       : dnnl::matmul::desc(a_md, b_md, c_md);
    dnnl::primitive_attr attr;
    dnnl::matmul::primitive_desc pd(desc, attr, eng);
    return Entry{dnnl::matmul(pd), a_md, b_md, bias_md, c_md};
}

PrimitiveCache<Key, Entry>& matmul_cache() {
    static PrimitiveCache<Key, Entry> cache;
    return cache;
}

// n floats -> bf16 (round to nearest even) into a per-thread scratch buffer that only grows.
uint16_t* to_bf16_scratch(const float* x, int64_t n, std::vector<uint16_t>& buf) {
    if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
    uint16_t* out = buf.data();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = float_to_bf16(x[i]);
    return out;
}
}  // namespace

PrimitiveCacheStats matmul_cache_stats() { return matmul_cache().stats(); }

void matmul_forward_fast(const float* a, const float* b, const float* bias, float* c, int64_t batch, int64_t M,
                         int64_t N, int64_t K, bool ta, bool tb, int64_t b_batch_stride, bool bf16) {
    const bool shared_b = b_batch_stride == 0 && batch > 1;
    const Key key{batch, M, N, K, ta, tb, bias != nullptr, shared_b, bf16};
    bool hit = true;
    const std::shared_ptr<const Entry> e =
        matmul_cache().get(key, [&] { return build(batch, M, N, K, ta, tb, bias != nullptr, shared_b, bf16); }, &hit);
    if (verbose())
        std::fprintf(stderr, "qbert_verbose,dnnl_matmul,cache_%s,b%ld_m%ld_n%ld_k%ld_ta%d_tb%d_%s\n",
                     hit ? "hit" : "miss", static_cast<long>(batch), static_cast<long>(M), static_cast<long>(N),
                     static_cast<long>(K), ta, tb, bf16 ? "bf16" : "f32");
    const dnnl::engine& eng = dnnl_engine();
    void* a_data = const_cast<float*>(a);
    void* b_data = const_cast<float*>(b);
    if (bf16) {
        thread_local std::vector<uint16_t> a_buf, b_buf;
        a_data = to_bf16_scratch(a, batch * M * K, a_buf);
        b_data = to_bf16_scratch(b, (shared_b ? 1 : batch) * K * N, b_buf);
    }
    dnnl::memory am(e->a_md, eng, a_data);
    dnnl::memory bm(e->b_md, eng, b_data);
    dnnl::memory cm(e->c_md, eng, c);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
    if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(e->bias_md, eng, const_cast<float*>(bias)));
    dnnl::stream& s = dnnl_stream();
    e->prim.execute(s, args);
    s.wait();
}

}  // namespace qbert::engine::fast
