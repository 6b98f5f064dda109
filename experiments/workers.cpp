#include "experiments/workers.h"

#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>

#include "engine/core/error.h"
#include "util/subprocess.h"

namespace qbert::experiments {

namespace {
struct Running {
    const WorkerJob* job;
    util::Child child;
};

// The last `n` lines of a text file, each as a terminal would show it (a redrawn bar: its last state).
std::vector<std::string> tail(const std::string& path, size_t n) {
    std::ifstream in(path);
    std::deque<std::string> last;
    for (std::string l; std::getline(in, l);) {
        if (const auto cr = l.rfind('\r'); cr != std::string::npos) l = l.substr(cr + 1);
        last.push_back(l);
        if (last.size() > n) last.pop_front();
    }
    return {last.begin(), last.end()};
}

void echo(const std::string& label, const std::string& line) {
    std::printf("[%s] %s\n", label.c_str(), line.c_str());
    std::fflush(stdout);
}

util::Child start(const WorkerJob& job) {
    util::SpawnOptions o;
    o.argv = job.argv;
    o.stderr_to = job.stderr_path.empty() ? util::SpawnOptions::Stderr::Merge : util::SpawnOptions::Stderr::File;
    o.stderr_path = job.stderr_path;
    try {
        return util::Child::spawn(o);
    } catch (const util::SubprocessError& e) {
        throw engine::Error("workers: " + job.label + ": " + e.what());
    }
}
}  // namespace

std::vector<WorkerFailure> run_workers(const std::vector<WorkerJob>& jobs, int parallel) {
    ENGINE_CHECK(parallel >= 1, "workers: parallel must be >= 1, got ", parallel);
    std::deque<const WorkerJob*> queue;
    for (const auto& j : jobs) queue.push_back(&j);
    std::vector<std::unique_ptr<Running>> running;
    std::vector<WorkerFailure> failed;
    while (!queue.empty() || !running.empty()) {
        while (!queue.empty() && static_cast<int>(running.size()) < parallel) {
            running.push_back(std::make_unique<Running>(Running{queue.front(), start(*queue.front())}));
            echo(queue.front()->label, "started (pid " + std::to_string(running.back()->child.pid()) + ")");
            queue.pop_front();
        }
        std::vector<util::Child*> children;
        for (auto& r : running) children.push_back(&r->child);
        const std::vector<size_t> ready = util::wait_readable(children, -1);
        for (size_t k = ready.size(); k-- > 0;) {  // from the back: erasing keeps the smaller indices valid
            Running& r = *running[ready[k]];
            const std::string& label = r.job->label;
            if (r.child.read(0, [&](const std::string& line) { echo(label, line); })) continue;
            // end of output: the child is exiting
            const int code = r.child.wait();
            const std::string& err = r.job->stderr_path;
            if (code != 0 && !err.empty()) {
                for (const auto& l : tail(err, 5)) echo(label, "stderr: " + l);
                echo(label, "FAILED with exit status " + std::to_string(code) + " (stderr in " + err + ")");
            } else {
                echo(label, code == 0 ? "finished" : "FAILED with exit status " + std::to_string(code));
            }
            if (code != 0) failed.push_back({label, code});
            running.erase(running.begin() + static_cast<std::ptrdiff_t>(ready[k]));
        }
    }
    return failed;
}

}  // namespace qbert::experiments
