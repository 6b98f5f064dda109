// engine::Rng: the one random generator (xoshiro256**, seeded through splitmix64).
// Same seed -> same numbers on every platform and compiler: uniform() and normal() are built here from
// raw bits, never from std:: distributions (whose output is implementation-defined).
#pragma once

#include <cstdint>
#include <string_view>

namespace qbert::engine {

class Rng {
public:
    explicit Rng(uint64_t seed = 0);
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

private:
    uint64_t seed_;
    uint64_t s_[4];
    bool has_spare_ = false;
    double spare_ = 0.0;
};

}  // namespace qbert::engine
