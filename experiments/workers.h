// Worker processes: run several commands (usually this same binary with other arguments) at once, at most
// `parallel` at a time, echoing each one's output lines prefixed with its label. Used by `qbert lab2 --jobs N`
// to run independent studies side by side: on two cores, two single-threaded trainings of small models get
// 1.3-1.6x the work of one two-threaded training done, large ones hardly more (docs/results.md). The studies
// share one SQLite file, which is built for several writers (search/storage.h). The processes themselves are
// util::Child (util/subprocess.h), as the exec objective's commands are.
#pragma once

#include <string>
#include <vector>

namespace qbert::experiments {

struct WorkerJob {
    std::string label;              // printed before each output line: "[label] ..."
    std::vector<std::string> argv;  // argv[0] is the program (an absolute path, or self_exe())
    std::string stderr_path;        // if set, the job's stderr (progress bars, errors) is appended there instead
};

struct WorkerFailure {
    std::string label;
    int exit_code;  // 128 + signal when killed
};

// Runs every job (at most `parallel` at once; the stdout of each, and its stderr unless stderr_path is set,
// echoed line by line) and waits for all. Returns the jobs that exited non-zero (a failed job with a stderr file
// has the file's last lines echoed); the others are unaffected by a failure.
std::vector<WorkerFailure> run_workers(const std::vector<WorkerJob>& jobs, int parallel);

}  // namespace qbert::experiments
