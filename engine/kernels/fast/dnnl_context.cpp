#include "engine/kernels/fast/dnnl_context.h"

namespace qbert::engine::fast {

const dnnl::engine& dnnl_engine() {
    static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    return eng;
}

dnnl::stream& dnnl_stream() {
    // one stream per thread: oneDNN streams are not meant to be shared across threads
    thread_local dnnl::stream s(dnnl_engine());
    return s;
}

}  // namespace qbert::engine::fast
