#include "engine/tensor/storage.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include <sys/mman.h>

namespace qbert::engine {

namespace {
constexpr size_t kAlign = 64;
// Blocks kept for reuse, at most this many bytes in all; above it, frees go to the system.
constexpr size_t kMaxCachedBytes = size_t(2) << 30;

struct Cache {
    std::mutex mu;
    std::unordered_map<size_t, std::vector<std::byte*>> free_lists;  // by rounded size
    AllocatorStats stats;
#ifdef __SANITIZE_ADDRESS__
    bool caching = false;  // let ASan see every use-after-free
#else
    bool caching = true;
#endif
};
Cache& cache() {
    static Cache* c = new Cache();  // never destroyed: Storages may die during static destruction
    return *c;
}
// Size classes: exact (64-byte multiples) up to 64 KiB, then eighths of the next power of two, so tensors
// whose shapes vary a little (length-bucketed batches) still reuse each other's blocks (<= 12.5% waste).
size_t round_up(size_t n) {
    n = ((n ? n : 1) + kAlign - 1) / kAlign * kAlign;
    if (n <= (size_t(64) << 10)) return n;
    size_t p = 1;
    while (p < n) p <<= 1;
    const size_t step = p / 8;
    return (n + step - 1) / step * step;
}

// Blocks of 2 MiB and more are 2 MiB-aligned and marked for transparent huge pages (this machine's THP mode is
// `madvise`: without the hint every block is 4 KiB pages). Activations of a batch are megabytes, and a matmul
// streaming them through 4 KiB pages pays TLB misses: bf16 inference of the mini model went from ~575 to
// ~640 seq/s with the hint (docs/benchmarks.md). Memory: at most one partly used 2 MiB page per block.
std::byte* system_alloc(size_t n) {
    constexpr size_t kHuge = size_t(2) << 20;
    if (n >= kHuge) {
        const size_t whole = (n + kHuge - 1) / kHuge * kHuge;  // aligned_alloc wants a multiple of the alignment
        void* p = std::aligned_alloc(kHuge, whole);
        if (!p) throw std::bad_alloc();
        madvise(p, whole, MADV_HUGEPAGE);  // a hint: if the kernel declines, the block still works
        return static_cast<std::byte*>(p);
    }
    void* p = std::aligned_alloc(kAlign, n);
    if (!p) throw std::bad_alloc();
    return static_cast<std::byte*>(p);
}
}  // namespace

Storage::Storage(size_t nbytes) : nbytes_(nbytes) {
    const size_t n = round_up(nbytes);
    Cache& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mu);
        auto it = c.free_lists.find(n);
        if (it != c.free_lists.end() && !it->second.empty()) {
            data_ = it->second.back();
            it->second.pop_back();
            c.stats.cached_bytes -= n;
            ++c.stats.reuses;
        }
        c.stats.live_bytes += n;
    }
    if (!data_) {
        data_ = system_alloc(n);
        std::lock_guard<std::mutex> lock(c.mu);
        ++c.stats.allocations;
    }
#ifdef QBERT_NAN_FILL
    float* f = reinterpret_cast<float*>(data_);
    for (size_t i = 0; i < n / sizeof(float); ++i) f[i] = std::numeric_limits<float>::quiet_NaN();
#endif
}

Storage::~Storage() {
    const size_t n = round_up(nbytes_);
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.live_bytes -= n;
    if (c.caching && c.stats.cached_bytes + n <= kMaxCachedBytes) {
        c.free_lists[n].push_back(data_);
        c.stats.cached_bytes += n;
    } else {
        std::free(data_);
    }
}

AllocatorStats allocator_stats() {
    std::lock_guard<std::mutex> lock(cache().mu);
    AllocatorStats s = cache().stats;
    s.caching = cache().caching;
    return s;
}

void allocator_release_cache() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& [size, list] : c.free_lists)
        for (std::byte* p : list) std::free(p);
    c.free_lists.clear();
    c.stats.cached_bytes = 0;
}

void allocator_set_caching(bool on) {
    {
        std::lock_guard<std::mutex> lock(cache().mu);
        cache().caching = on;
    }
    if (!on) allocator_release_cache();
}

}  // namespace qbert::engine
