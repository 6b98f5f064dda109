// Child processes, written once for everything in qbert that starts one: `qbert lab2 --jobs N` runs copies of
// itself (experiments/workers.h), and the search's `exec` objective runs a user command per trial
// (search/space.h). POSIX fork/exec, pipes and poll, nothing else.
//
//   Child c = Child::spawn({.argv = {"/bin/sh", "-c", "echo hi"}});
//   std::string line;
//   while (c.read(-1, [&](const std::string& l) { line = l; })) {}   // every output line, until end of output
//   int status = c.wait();                                             // 0, the exit code, or 128 + signal
#pragma once

#include <sys/types.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace qbert::util {

// What went wrong with the operating system (pipe, fork, poll, open): the call and errno's text.
struct SubprocessError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct SpawnOptions {
    std::vector<std::string> argv;                            // argv[0]: the program's path (execv: no PATH search)
    std::vector<std::pair<std::string, std::string>> env;     // set in the child, on top of ours
    bool pipe_stdin = false;                                  // the child reads `stdin_data`, then end of file
    std::string stdin_data;
    enum class Stderr { Inherit, Merge, File } stderr_to = Stderr::Inherit;  // ours | into its stdout | a file
    std::string stderr_path;                                  // Stderr::File: appended to
    bool own_group = false;  // its own process group: stop() then ends it and everything it started
};

class Child {
public:
    // Starts the program with its stdout on a pipe we read. Throws SubprocessError (nothing started).
    static Child spawn(const SpawnOptions& o);
    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    Child(const Child&) = delete;
    ~Child();  // a child still running is stopped and reaped

    pid_t pid() const { return pid_; }
    int stdout_fd() const { return fd_; }

    // Waits up to timeout_ms (< 0: no limit) for output, then hands every complete line to on_line (without its
    // '\n'). A '\r' inside a line starts it over, as a terminal would show it (progress bars redraw with '\r'),
    // and a "\r\n" ending counts as "\n". Returns false once the output has ended (the last partial line, if
    // any, has then been handed over too); true otherwise, also when the time ran out with nothing to read.
    bool read(int timeout_ms, const std::function<void(const std::string&)>& on_line);
    // After read() returned false: waits for the child and returns 0, its exit code, or 128 + its signal.
    int wait();
    // Stops it now: SIGTERM (to its group when own_group), SIGKILL after `grace_s` seconds if still there;
    // reaps it and returns its status as wait() does.
    int stop(double grace_s = 2.0);
    bool running() const { return pid_ > 0; }

private:
    Child() = default;
    void feed(const char* data, size_t n, const std::function<void(const std::string&)>& on_line);
    pid_t pid_ = -1;
    int fd_ = -1;
    bool own_group_ = false, pending_cr_ = false;
    std::string line_;
};

// Waits until one of `children` has output (or ended), at most timeout_ms (< 0: no limit); returns the
// indices of the ready ones (empty on time-out). For running several children at once.
std::vector<size_t> wait_readable(const std::vector<Child*>& children, int timeout_ms);

// While alive, a SIGINT, SIGTERM or SIGHUP sent to this process is first passed on to the process group
// `group` (a Child spawned with own_group), then kills us as it would have: so stopping qbert with Ctrl-C or
// kill never leaves a trial's command running. The previous handlers come back on destruction.
class ForwardSignals {
public:
    explicit ForwardSignals(pid_t group);
    ~ForwardSignals();
    ForwardSignals(const ForwardSignals&) = delete;
    ForwardSignals& operator=(const ForwardSignals&) = delete;
};

// The running program's own path (/proc/self/exe), for starting copies of itself.
std::string self_exe();

}  // namespace qbert::util
