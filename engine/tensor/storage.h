// Storage: an owned, 64-byte-aligned byte buffer plus a version counter.
//
// Tensors are handles that share a Storage (views share it too). The version counter is bumped by every
// in-place write; autograd's SavedTensor compares it to catch "saved tensor modified in place" bugs.
//
// Buffers come from a small caching allocator: freed blocks are kept per size class (exact up to 64 KiB,
// then eighths of a power of two) and reused, so a training step that allocates similar activations every
// step does not pay mmap + page faults each time (measured in docs/benchmarks.md). Debug builds fill fresh
// buffers with NaN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace qbert::engine {

class Storage {
public:
    explicit Storage(size_t nbytes);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    std::byte* data() { return data_; }
    const std::byte* data() const { return data_; }
    size_t nbytes() const { return nbytes_; }

    uint64_t version() const { return version_; }
    void bump_version() { ++version_; }

private:
    std::byte* data_ = nullptr;
    size_t nbytes_ = 0;
    uint64_t version_ = 0;
};

// Allocator statistics and control (for tests and benchmarks).
struct AllocatorStats {
    size_t cached_bytes = 0;   // held in free lists
    size_t live_bytes = 0;     // owned by live Storages
    uint64_t allocations = 0;  // calls to the system allocator
    uint64_t reuses = 0;       // served from a free list
    bool caching = true;       // off in ASan builds and after allocator_set_caching(false)
};
AllocatorStats allocator_stats();
void allocator_release_cache();
// Off: every Storage goes straight to the system allocator (to measure the cache's effect).
void allocator_set_caching(bool on);

}  // namespace qbert::engine
