// engine::Rng: the one random generator (xoshiro256**, seeded through splitmix64).
// Same seed -> same numbers on every platform and compiler: uniform() and normal() are built here from
// raw bits, never from std:: distributions (whose output is implementation-defined).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qbert::engine {

// splitmix64 (Vigna, prng.di.unimi.it/splitmix64.c): advances `state` by the golden-ratio increment and
// returns the mixed value. Seeds Rng and drives hash_uniform.
inline uint64_t splitmix64_next(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

class Rng {
public:
    // The state is the first four outputs of splitmix64 started at `seed` (as the authors recommend).
    explicit Rng(uint64_t seed = 0);
    // A generator with the raw xoshiro256** state s[0..3] (not all zero), for checks against the authors'
    // reference outputs. Its seed() is 0, so fork() on it forks as Rng(0) would.
    static Rng from_state(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3);
    uint64_t next_u64();
    // uniform in [0, 1) with 24 random bits (every value is exactly representable in float)
    float uniform();
    // uniform integer in [0, n) without modulo bias
    uint64_t below(uint64_t n);
    // standard normal via Box-Muller in double
    double normal();
    // An independent generator for a named purpose ("init", "dropout", "data"): same seed and name,
    // same stream, whatever else was drawn from this one.
    Rng fork(std::string_view purpose) const;
    uint64_t seed() const { return seed_; }
    // The fork path that made this generator, "init" or "data/epoch" ("" for one made from a seed): for
    // messages and the gdb printer (scripts/gdb/qbert_printers.py). It plays no part in the numbers.
    const std::string& purpose() const { return purpose_; }

private:
    uint64_t seed_;
    std::string purpose_;
    uint64_t s_[4];
    bool has_spare_ = false;
    double spare_ = 0.0;
};

// A uniform float in [0, 1) (24 random bits) that is a pure function of (seed, index): splitmix64 of the
// pair. For masks drawn in parallel loops, where a sequential generator would serialize the work.
// It is the top 24 bits of output number index + 1 of splitmix64 started at `seed`.
inline float hash_uniform(uint64_t seed, uint64_t index) {
    uint64_t x = seed + 0x9e3779b97f4a7c15ull * index;
    return static_cast<float>(splitmix64_next(x) >> 40) * 0x1p-24f;
}

}  // namespace qbert::engine
