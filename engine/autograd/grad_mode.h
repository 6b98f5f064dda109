// Grad mode: whether ops record a graph. NoGradGuard turns recording off for a scope (evaluation,
// optimizer updates, and the backward pass itself: we do not support higher-order gradients).
#pragma once

namespace qbert::engine {

class GradMode {
public:
    static bool enabled();
    static void set_enabled(bool on);
};

class NoGradGuard {
public:
    NoGradGuard() : prev_(GradMode::enabled()) { GradMode::set_enabled(false); }
    ~NoGradGuard() { GradMode::set_enabled(prev_); }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool prev_;
};

}  // namespace qbert::engine
