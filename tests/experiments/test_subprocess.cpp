// util::Child, the one place qbert starts processes (lab2 workers, exec trials): lines, '\r' redraws, exit
// statuses, stdin, environment, stderr modes, time-outs and stopping a whole process group.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "support/helpers.h"
#include "util/subprocess.h"

using qbert::util::Child;
using qbert::util::SpawnOptions;

namespace {
Child sh(const std::string& script, SpawnOptions o = {}) {
    o.argv = {"/bin/sh", "-c", script};
    return Child::spawn(o);
}
std::vector<std::string> all_lines(Child& c) {
    std::vector<std::string> lines;
    while (c.read(-1, [&](const std::string& l) { lines.push_back(l); })) {
    }
    return lines;
}
}  // namespace

TEST_CASE("subprocess: lines in order, a redrawn line shows its last state, CRLF and a last line without newline",
          "[experiments][subprocess]") {
    Child c = sh("printf 'one\\ntwo\\r\\nbar 10%%\\rbar 100%%\\nlast'");
    REQUIRE(all_lines(c) == std::vector<std::string>{"one", "two", "bar 100%", "last"});
    REQUIRE(c.wait() == 0);
}

TEST_CASE("subprocess: exit codes, signals, a missing program", "[experiments][subprocess]") {
    Child a = sh("exit 3");
    all_lines(a);
    REQUIRE(a.wait() == 3);
    Child b = sh("kill -9 $$");
    all_lines(b);
    REQUIRE(b.wait() == 128 + 9);
    SpawnOptions o;
    o.argv = {"/nonexistent/program"};
    Child m = Child::spawn(o);
    all_lines(m);
    REQUIRE(m.wait() == 127);
}

TEST_CASE("subprocess: stdin, environment, stderr merged or to a file", "[experiments][subprocess]") {
    qbert::test::TempDir dir;
    SpawnOptions o;
    o.pipe_stdin = true;
    o.stdin_data = "from stdin\n";
    o.env = {{"QBERT_X", "from env"}};
    o.stderr_to = SpawnOptions::Stderr::Merge;
    Child c = sh("cat; echo \"$QBERT_X\"; echo oops >&2", o);
    REQUIRE(all_lines(c) == std::vector<std::string>{"from stdin", "from env", "oops"});
    REQUIRE(c.wait() == 0);
    SpawnOptions f;
    f.stderr_to = SpawnOptions::Stderr::File;
    f.stderr_path = dir.file("err.log");
    Child d = sh("echo out; echo err >&2", f);
    REQUIRE(all_lines(d) == std::vector<std::string>{"out"});
    REQUIRE(d.wait() == 0);
    std::ifstream in(dir.file("err.log"));
    std::string line;
    REQUIRE(std::getline(in, line));
    REQUIRE(line == "err");
}

TEST_CASE("subprocess: a read times out, and stop() ends the whole process group", "[experiments][subprocess]") {
    qbert::test::TempDir dir;
    SpawnOptions o;
    o.own_group = true;
    const std::string pidfile = dir.file("bg.pid");
    Child c = sh("sleep 60 & echo $! > " + pidfile + "; echo ready; sleep 60", o);
    std::vector<std::string> lines;
    REQUIRE(c.read(5000, [&](const std::string& l) { lines.push_back(l); }));
    REQUIRE(lines == std::vector<std::string>{"ready"});
    REQUIRE(c.read(100, [&](const std::string& l) { lines.push_back(l); }));  // nothing more within 0.1 s
    REQUIRE(lines.size() == 1);
    const int status = c.stop(2.0);
    REQUIRE(status == 128 + SIGTERM);
    pid_t bg = 0;
    std::ifstream(pidfile) >> bg;
    REQUIRE(bg > 0);
    bool gone = false;  // the background sleep was in the group: it got the SIGTERM too
    for (int i = 0; i < 100 && !gone; ++i) {
        gone = ::kill(bg, 0) != 0;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(gone);
}
