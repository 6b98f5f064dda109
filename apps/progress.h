// Progress for long work: on a terminal, one redrawn bar with rate and ETA; otherwise (CI, pipes, files)
// a plain line every ~10% so logs stay short and readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "model/train.h"

namespace qbert::apps {

class Progress {
public:
    Progress(std::string label, int64_t total, std::string unit = "it");
    // Advance to `done` (absolute); `info` is shown after the bar (e.g. "loss=0.512").
    void update(int64_t done, const std::string& info = "");
    void finish(const std::string& info = "");

private:
    std::string label_, unit_;
    int64_t total_;
    int64_t last_plain_decile_ = -1;
    bool tty_;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);

// Training hooks for fit(): a progress bar labelled `what` (loss, accuracy, rate, ETA) and one line per epoch.
model::TrainHooks progress_hooks(const std::string& what);

}  // namespace qbert::apps
