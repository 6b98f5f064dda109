#include "apps/workers.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

#include "engine/core/error.h"

namespace qbert::apps {

namespace {
struct Running {
    std::string label;
    pid_t pid;
    int fd;            // read end of the child's stdout + stderr
    std::string line;  // a partial line not yet echoed
    std::string stderr_path;
};

// The last `n` lines of a text file.
std::vector<std::string> tail(const std::string& path, size_t n) {
    std::ifstream in(path);
    std::deque<std::string> last;
    for (std::string l; std::getline(in, l);) {
        if (const auto cr = l.rfind('\r'); cr != std::string::npos) l = l.substr(cr + 1);  // a redrawn bar
        last.push_back(l);
        if (last.size() > n) last.pop_front();
    }
    return {last.begin(), last.end()};
}

void echo(const std::string& label, const std::string& line) {
    std::printf("[%s] %s\n", label.c_str(), line.c_str());
    std::fflush(stdout);
}

Running start(const WorkerJob& job) {
    int fds[2];
    if (pipe(fds) != 0) throw engine::Error(std::string("workers: pipe: ") + std::strerror(errno));
    int err_fd = -1;
    if (!job.stderr_path.empty()) {
        err_fd = open(job.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (err_fd < 0) throw engine::Error("workers: cannot open '" + job.stderr_path + "': " + std::strerror(errno));
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) throw engine::Error(std::string("workers: fork: ") + std::strerror(errno));
    if (pid == 0) {  // child: only async-signal-safe calls until exec
        dup2(fds[1], 1);
        dup2(err_fd >= 0 ? err_fd : fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        std::vector<char*> argv;
        for (const auto& a : job.argv) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(fds[1]);
    if (err_fd >= 0) close(err_fd);
    return Running{job.label, pid, fds[0], {}, job.stderr_path};
}

int wait_exit(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
}  // namespace

std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

std::vector<WorkerFailure> run_workers(const std::vector<WorkerJob>& jobs, int parallel) {
    ENGINE_CHECK(parallel >= 1, "workers: parallel must be >= 1, got ", parallel);
    std::deque<const WorkerJob*> queue;
    for (const auto& j : jobs) queue.push_back(&j);
    std::vector<Running> running;
    std::vector<WorkerFailure> failed;
    while (!queue.empty() || !running.empty()) {
        while (!queue.empty() && static_cast<int>(running.size()) < parallel) {
            running.push_back(start(*queue.front()));
            echo(running.back().label, "started (pid " + std::to_string(running.back().pid) + ")");
            queue.pop_front();
        }
        std::vector<pollfd> fds;
        for (const auto& r : running) fds.push_back({r.fd, POLLIN, 0});
        if (poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            throw engine::Error(std::string("workers: poll: ") + std::strerror(errno));
        }
        for (size_t i = fds.size(); i-- > 0;) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            Running& r = running[i];
            char buf[4096];
            const ssize_t n = read(r.fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n > 0) {
                for (ssize_t k = 0; k < n; ++k) {
                    if (buf[k] == '\n') {
                        echo(r.label, r.line);
                        r.line.clear();
                    } else if (buf[k] != '\r') {  // progress bars redraw with \r: keep only what is printed last
                        r.line += buf[k];
                    } else {
                        r.line.clear();
                    }
                }
                continue;
            }
            // end of output: the child is exiting
            if (!r.line.empty()) echo(r.label, r.line);
            close(r.fd);
            const int code = wait_exit(r.pid);
            if (code != 0 && !r.stderr_path.empty()) {
                for (const auto& l : tail(r.stderr_path, 5)) echo(r.label, "stderr: " + l);
                echo(r.label, "FAILED with exit status " + std::to_string(code) + " (stderr in " + r.stderr_path + ")");
            } else {
                echo(r.label, code == 0 ? "finished" : "FAILED with exit status " + std::to_string(code));
            }
            if (code != 0) failed.push_back({r.label, code});
            running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
    return failed;
}

}  // namespace qbert::apps
