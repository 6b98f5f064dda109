// A bounded cache of oneDNN primitives, keyed by what the primitive was built for (shapes, layouts, types).
//
// Building a oneDNN primitive JIT-compiles a kernel (tens of microseconds to milliseconds, and memory for the
// code), so the fp32 matmul and the int8 linear keep theirs. The keys hold the row count, and a row count that
// changes from call to call (evaluation batches of other lengths, a last short batch, a server answering
// requests of any length) would add a primitive per shape forever. So the cache holds at most capacity()
// entries and evicts the least recently used one; a caller holds the entry it got through a shared_ptr, so an
// entry evicted while another thread runs it stays alive until that run ends.
//
// Capacity: QBERT_PRIMITIVE_CACHE=N (entries per cache), or set_primitive_cache_capacity() (tests). Default
// 1024: training batches are padded to their longest review, so an epoch meets many lengths, ~40 matmul shapes
// each. Counted on the base config (2,048 reviews, 1 epoch, then evaluation): 1,136 misses unbounded and at
// 1024, 1,189 at 256 (the extra 53 are rebuilds).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace qbert::engine::fast {

size_t primitive_cache_capacity();
void set_primitive_cache_capacity(size_t n);  // >= 1; a smaller one takes effect at each cache's next miss

struct PrimitiveCacheStats {
    size_t size = 0;          // entries held now
    int64_t hits = 0, misses = 0, evictions = 0;
};

template <class Key, class Entry>
class PrimitiveCache {
public:
    // The entry for `key`, made by build() on a miss. build() runs under the cache's lock, so two threads asking
    // for one new shape build it once. `hit` (optional) says which it was.
    std::shared_ptr<const Entry> get(const Key& key, const std::function<Entry()>& build, bool* hit = nullptr) {
        const size_t cap = primitive_cache_capacity();  // first: a bad QBERT_PRIMITIVE_CACHE fails every call alike
        std::lock_guard<std::mutex> lock(mu_);
        if (auto it = index_.find(key); it != index_.end()) {
            lru_.splice(lru_.begin(), lru_, it->second);  // most recent first
            ++stats_.hits;
            if (hit) *hit = true;
            return it->second->second;
        }
        ++stats_.misses;
        if (hit) *hit = false;
        auto entry = std::make_shared<const Entry>(build());
        lru_.emplace_front(key, entry);
        index_[key] = lru_.begin();
        while (lru_.size() > cap) {  // the least recently used go first
            index_.erase(lru_.back().first);
            lru_.pop_back();
            ++stats_.evictions;
        }
        return entry;
    }
    PrimitiveCacheStats stats() const {
        std::lock_guard<std::mutex> lock(mu_);
        PrimitiveCacheStats s = stats_;
        s.size = lru_.size();
        return s;
    }

private:
    mutable std::mutex mu_;
    std::list<std::pair<Key, std::shared_ptr<const Entry>>> lru_;
    std::map<Key, typename std::list<std::pair<Key, std::shared_ptr<const Entry>>>::iterator> index_;
    PrimitiveCacheStats stats_;
};

// The two caches' counters (tests, QBERT_VERBOSE).
PrimitiveCacheStats matmul_cache_stats();
PrimitiveCacheStats int8_cache_stats();

}  // namespace qbert::engine::fast
