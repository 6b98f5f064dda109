#include "util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace qbert::util {

namespace {
[[noreturn]] void fail(const std::string& what) { throw SubprocessError(what + ": " + std::strerror(errno)); }

int status_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// Our environment with `extra` set on top, as "K=V" strings (built before fork: the child may only make
// async-signal-safe calls until it execs).
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        const std::string kv = *e;
        bool overridden = false;
        for (const auto& [k, v] : extra) overridden = overridden || kv.compare(0, k.size() + 1, k + "=") == 0;
        if (!overridden) env.push_back(kv);
    }
    for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}
}  // namespace

Child Child::spawn(const SpawnOptions& o) {
    if (o.argv.empty()) throw SubprocessError("spawn: empty argv");
    int out[2] = {-1, -1}, in[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0) fail("pipe");
    if (o.pipe_stdin && pipe2(in, O_CLOEXEC) != 0) fail("pipe");
    int err_fd = -1;
    if (o.stderr_to == SpawnOptions::Stderr::File) {
        err_fd = open(o.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (err_fd < 0) fail("cannot open '" + o.stderr_path + "'");
    }
    std::vector<std::string> argv_s = o.argv, env_s = child_environment(o.env);
    std::vector<char*> argv = c_strings(argv_s), envp = c_strings(env_s);
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {  // the child: only async-signal-safe calls until exec
        if (o.own_group) setpgid(0, 0);
        if (o.pipe_stdin) dup2(in[0], 0);
        dup2(out[1], 1);
        if (o.stderr_to == SpawnOptions::Stderr::Merge) dup2(out[1], 2);
        if (err_fd >= 0) dup2(err_fd, 2);
        execve(argv[0], argv.data(), envp.data());  // the pipes are O_CLOEXEC: only 0, 1, 2 stay open
        _exit(127);
    }
    if (o.own_group) setpgid(pid, pid);  // here too: whichever of the two runs first
    Child c;
    c.pid_ = pid;
    c.fd_ = out[0];
    c.own_group_ = o.own_group;
    close(out[1]);
    if (err_fd >= 0) close(err_fd);
    if (o.pipe_stdin) {
        close(in[0]);
        // a child that never reads its stdin must not make us die of SIGPIPE
        struct sigaction ignore {}, old {};
        ignore.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ignore, &old);
        const ssize_t ignored = write(in[1], o.stdin_data.data(), o.stdin_data.size());
        (void)ignored;
        close(in[1]);
        sigaction(SIGPIPE, &old, nullptr);
    }
    return c;
}

Child::Child(Child&& o) noexcept { *this = std::move(o); }

Child& Child::operator=(Child&& o) noexcept {
    std::swap(pid_, o.pid_);
    std::swap(fd_, o.fd_);
    std::swap(own_group_, o.own_group_);
    std::swap(pending_cr_, o.pending_cr_);
    std::swap(line_, o.line_);
    return *this;
}

Child::~Child() {
    if (pid_ > 0) stop(0.0);
    if (fd_ >= 0) close(fd_);
}

void Child::feed(const char* data, size_t n, const std::function<void(const std::string&)>& on_line) {
    for (size_t k = 0; k < n; ++k) {
        const char ch = data[k];
        if (pending_cr_ && ch != '\n') line_.clear();  // "\r" then more text: the line was redrawn
        pending_cr_ = ch == '\r';
        if (ch == '\r') continue;
        if (ch == '\n') {
            on_line(line_);
            line_.clear();
        } else {
            line_ += ch;
        }
    }
}

bool Child::read(int timeout_ms, const std::function<void(const std::string&)>& on_line) {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    for (;;) {
        const int ready = poll(&p, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) fail("poll");
        if (ready == 0) return true;
        break;
    }
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd_, buf, sizeof buf)) < 0 && errno == EINTR) {
    }
    if (n > 0) {
        feed(buf, static_cast<size_t>(n), on_line);
        return true;
    }
    if (!line_.empty()) on_line(line_);  // a last line without '\n'
    line_.clear();
    close(fd_);
    fd_ = -1;
    return false;
}

int Child::wait() {
    if (pid_ <= 0) throw SubprocessError("wait: no child running");
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status_code(status);
}

int Child::stop(double grace_s) {
    if (pid_ <= 0) throw SubprocessError("stop: no child running");
    const pid_t target = own_group_ ? -pid_ : pid_;
    kill(target, SIGTERM);
    int status = 0;
    for (double waited = 0; waited < grace_s; waited += 0.05) {
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return status_code(status);
        }
        usleep(50000);
    }
    kill(target, SIGKILL);
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status_code(status);
}

std::vector<size_t> wait_readable(const std::vector<Child*>& children, int timeout_ms) {
    std::vector<pollfd> fds;
    for (const Child* c : children) fds.push_back({c->stdout_fd(), POLLIN, 0});
    int ready;
    while ((ready = poll(fds.data(), fds.size(), timeout_ms)) < 0 && errno == EINTR) {
    }
    if (ready < 0) fail("poll");
    std::vector<size_t> out;
    for (size_t i = 0; i < fds.size(); ++i)
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) out.push_back(i);
    return out;
}

namespace {
volatile pid_t g_forward_group = 0;
struct sigaction g_old_int, g_old_term, g_old_hup;

extern "C" void forward_and_die(int sig) {
    if (g_forward_group > 0) kill(-g_forward_group, sig);
    signal(sig, SIG_DFL);
    raise(sig);
}
}  // namespace

ForwardSignals::ForwardSignals(pid_t group) {
    g_forward_group = group;
    struct sigaction forward {};
    forward.sa_handler = forward_and_die;
    sigaction(SIGINT, &forward, &g_old_int);
    sigaction(SIGTERM, &forward, &g_old_term);
    sigaction(SIGHUP, &forward, &g_old_hup);
}

ForwardSignals::~ForwardSignals() {
    g_forward_group = 0;
    sigaction(SIGINT, &g_old_int, nullptr);
    sigaction(SIGTERM, &g_old_term, nullptr);
    sigaction(SIGHUP, &g_old_hup, nullptr);
}

std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

}  // namespace qbert::util
