// The one oneDNN CPU engine and stream the fast kernels share (created on first use).
#pragma once

#include <dnnl.hpp>

namespace qbert::engine::fast {
const dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();
}  // namespace qbert::engine::fast
