// oneDNN 2.6 matmul with a primitive cache of our own, keyed by (batch, M, N, K, ta, tb, bias, shared b).
//
// Transposes cost nothing: a transposed operand is described to oneDNN by its strides, e.g. a (K,M) buffer
// read as (M,K) has strides {1, M}. oneDNN's own primitive cache is a safety net; this one avoids even
// building the descriptors on a hit. Execution is synchronous (stream.wait()) so kernels compose like calls.
#include <dnnl.hpp>

#include <map>
#include <mutex>
#include <tuple>

#include "engine/core/config.h"
#include "engine/kernels/fast/dnnl_context.h"
#include "engine/kernels/fast/fast.h"

namespace qbert::engine::fast {

namespace {
using dt = dnnl::memory::data_type;
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, bool, bool, bool>;

struct Entry {
    dnnl::matmul prim;
    dnnl::memory::desc a_md, b_md, bias_md, c_md;
};

Entry build(int64_t batch, int64_t M, int64_t N, int64_t K, bool ta, bool tb, bool has_bias, bool shared_b) {
    const dnnl::engine& eng = dnnl_engine();
    const int64_t bb = shared_b ? 1 : batch;
    dnnl::memory::desc a_md({batch, M, K}, dt::f32,
                            ta ? dnnl::memory::dims{M * K, 1, M} : dnnl::memory::dims{M * K, K, 1});
    dnnl::memory::desc b_md({bb, K, N}, dt::f32,
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
}  // namespace

void matmul_forward_fast(const float* a, const float* b, const float* bias, float* c, int64_t batch, int64_t M,
                         int64_t N, int64_t K, bool ta, bool tb, int64_t b_batch_stride) {
    static std::mutex mu;
    static std::map<Key, Entry> cache;
    const bool shared_b = b_batch_stride == 0 && batch > 1;
    const Key key{batch, M, N, K, ta, tb, bias != nullptr, shared_b};
    Entry* e;
    bool hit = true;
    {
        std::lock_guard<std::mutex> lock(mu);
        auto it = cache.find(key);
        if (it == cache.end()) {
            hit = false;
            it = cache.emplace(key, build(batch, M, N, K, ta, tb, bias != nullptr, shared_b)).first;
        }
        e = &it->second;
    }
    if (verbose())
        std::fprintf(stderr, "qbert_verbose,dnnl_matmul,cache_%s,b%ld_m%ld_n%ld_k%ld_ta%d_tb%d\n", hit ? "hit" : "miss",
                     static_cast<long>(batch), static_cast<long>(M), static_cast<long>(N), static_cast<long>(K),
                     ta, tb);
    const dnnl::engine& eng = dnnl_engine();
    dnnl::memory am(e->a_md, eng, const_cast<float*>(a));
    dnnl::memory bm(e->b_md, eng, const_cast<float*>(b));
    dnnl::memory cm(e->c_md, eng, c);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
    if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(e->bias_md, eng, const_cast<float*>(bias)));
    dnnl::stream& s = dnnl_stream();
    e->prim.execute(s, args);
    s.wait();
}

}  // namespace qbert::engine::fast
