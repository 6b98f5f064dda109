// Benchmark timing: one warm-up call, then repeat until `budget_s` is spent (at least `min_runs`),
// report median and min in milliseconds (Eigen's BenchTimer keeps the best; the median shows the noise).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace qbert::bench {

struct Timing {
    double median_ms = 0, min_ms = 0;
    int runs = 0;
};

inline Timing time_it(const std::function<void()>& f, double budget_s = 1.0, int min_runs = 5, int max_runs = 1000) {
    f();  // warm-up: primitive creation, page faults, caches
    std::vector<double> ms;
    const auto start = std::chrono::steady_clock::now();
    while (static_cast<int>(ms.size()) < max_runs) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        const auto t1 = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        const double spent = std::chrono::duration<double>(t1 - start).count();
        if (static_cast<int>(ms.size()) >= min_runs && spent >= budget_s) break;
    }
    std::sort(ms.begin(), ms.end());
    return Timing{ms[ms.size() / 2], ms.front(), static_cast<int>(ms.size())};
}

}  // namespace qbert::bench
