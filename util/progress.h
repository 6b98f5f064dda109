// Progress for long work: on a terminal, one redrawn bar with rate and ETA; otherwise (CI, pipes, files)
// a plain line every ~10% so logs stay short and readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace qbert::util {

class Progress {
public:
    Progress(std::string label, int64_t total, std::string unit = "it");
    // Advance to `done` (absolute); `info` is shown after the bar (e.g. "loss=0.512").
    void update(int64_t done, const std::string& info = "");
    void finish(const std::string& info = "");
    // Off: no bar and no lines (data-parallel ranks other than 0: one bar per job, not per rank).
    static void set_quiet(bool quiet);

private:
    std::string label_, unit_;
    int64_t total_;
    int64_t last_plain_decile_ = -1;
    bool tty_;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

// "mm:ss", or "h:mm:ss" from an hour up; "?" for a negative or absurd value.
std::string format_duration(double seconds);

}  // namespace qbert::util
