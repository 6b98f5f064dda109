#include "util/progress.h"

#include <unistd.h>

#include <cstdio>

namespace qbert::util {

std::string format_duration(double s) {
    if (s < 0 || s > 1e7) return "?";
    const int64_t t = static_cast<int64_t>(s + 0.5);
    char buf[32];
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", long(t / 3600), long(t / 60 % 60), long(t % 60));
    else std::snprintf(buf, sizeof buf, "%02ld:%02ld", long(t / 60), long(t % 60));
    return buf;
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

namespace {
bool g_quiet = false;
}  // namespace

void Progress::set_quiet(bool quiet) { g_quiet = quiet; }

void Progress::update(int64_t done, const std::string& info) {
    if (g_quiet) return;
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1.0;
    const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
    if (tty_) {
        if (done < total_ && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
        last_draw_ = now;
        constexpr int kWidth = 30;
        const int filled = static_cast<int>(frac * kWidth);
        std::string bar(static_cast<size_t>(filled), '#');
        bar.resize(kWidth, '.');
        std::fprintf(stderr, "\r%s [%s] %3.0f%% %ld/%ld %.1f %s/s ETA %s %s\033[K", label_.c_str(), bar.c_str(),
                     100 * frac, long(done), long(total_), rate, unit_.c_str(), format_duration(eta).c_str(),
                     info.c_str());
    } else {
        const int64_t decile = static_cast<int64_t>(frac * 10);
        if (decile == last_plain_decile_ && done < total_) return;
        last_plain_decile_ = decile;
        std::fprintf(stderr, "%s %3.0f%% %ld/%ld %.1f %s/s elapsed %s ETA %s %s\n", label_.c_str(), 100 * frac,
                     long(done), long(total_), rate, unit_.c_str(), format_duration(elapsed).c_str(),
                     format_duration(eta).c_str(), info.c_str());
    }
    std::fflush(stderr);
}

void Progress::finish(const std::string& info) {
    if (g_quiet) return;
    if (tty_ || last_plain_decile_ < 10) update(total_, info);
    if (tty_) std::fprintf(stderr, "\n");
}

}  // namespace qbert::util
