#include "engine/core/rng.h"

#include <cmath>

#include "engine/core/error.h"

namespace qbert::engine {

namespace {
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) : seed_(seed) {
    uint64_t x = seed;
    for (auto& s : s_) s = splitmix64_next(x);
}

Rng Rng::from_state(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3) {
    ENGINE_CHECK((s0 | s1 | s2 | s3) != 0, "Rng::from_state: the xoshiro256** state must not be all zero");
    Rng r(0);
    r.s_[0] = s0;
    r.s_[1] = s1;
    r.s_[2] = s2;
    r.s_[3] = s3;
    return r;
}

uint64_t Rng::next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

float Rng::uniform() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }

uint64_t Rng::below(uint64_t n) {
    // Lemire's rejection: exact, no modulo bias.
    const uint64_t limit = (0 - n) % n;
    for (;;) {
        const uint64_t r = next_u64();
        const unsigned __int128 m = static_cast<unsigned __int128>(r) * n;
        if (static_cast<uint64_t>(m) >= limit) return static_cast<uint64_t>(m >> 64);
    }
}

double Rng::normal() {
    if (has_spare_) {
        has_spare_ = false;
        return spare_;
    }
    // u1 in (0, 1] so log(u1) is finite; 53-bit doubles.
    const double u1 = (static_cast<double>(next_u64() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 6.283185307179586476925 * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
}

Rng Rng::fork(std::string_view purpose) const {
    uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the purpose, mixed with the seed
    for (char c : purpose) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    uint64_t x = seed_ ^ h;
    Rng r(splitmix64_next(x));
    r.purpose_ = purpose_.empty() ? std::string(purpose) : purpose_ + "/" + std::string(purpose);
    return r;
}

}  // namespace qbert::engine
