#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "experiments/workers.h"
#include "support/helpers.h"

using namespace qbert::test;
using qbert::experiments::run_workers;
using qbert::experiments::WorkerJob;

namespace {
// Runs run_workers with this process's stdout sent to a file; returns (failures, what was printed).
std::pair<std::vector<qbert::experiments::WorkerFailure>, std::string> capture(const std::vector<WorkerJob>& jobs, int parallel,
                                                                        const std::string& path) {
    std::fflush(stdout);
    const int saved = dup(1);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    close(fd);
    auto failed = run_workers(jobs, parallel);
    std::fflush(stdout);
    dup2(saved, 1);
    close(saved);
    std::ifstream in(path);
    return {failed, std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())};
}
WorkerJob sh(const std::string& label, const std::string& script) { return {label, {"/bin/sh", "-c", script}, ""}; }
}  // namespace

TEST_CASE("run_workers: output prefixed line by line, failures reported with their exit status", "[experiments][workers]") {
    TempDir dir;
    auto [failed, out] = capture({sh("a", "echo one; echo two"), sh("b", "echo oops >&2; exit 3"), sh("c", "kill -9 $$"),
                                  WorkerJob{"d", {dir.file("no-such-program")}, ""}},
                                 2, dir.file("out.txt"));
    // one job's lines stay in order (another job's lines may come between them)
    REQUIRE(out.find("[a] one\n") != std::string::npos);
    REQUIRE(out.find("[a] two\n") != std::string::npos);
    REQUIRE(out.find("[a] one\n") < out.find("[a] two\n"));
    REQUIRE(out.find("[b] oops\n") != std::string::npos);           // stderr is echoed too
    REQUIRE(out.find("[a] finished\n") != std::string::npos);
    REQUIRE(out.find("[b] FAILED with exit status 3\n") != std::string::npos);
    std::sort(failed.begin(), failed.end(), [](const auto& x, const auto& y) { return x.label < y.label; });
    REQUIRE(failed.size() == 3);
    CHECK(failed[0].label == "b");
    CHECK(failed[0].exit_code == 3);
    CHECK(failed[1].label == "c");
    CHECK(failed[1].exit_code == 128 + 9);
    CHECK(failed[2].label == "d");
    CHECK(failed[2].exit_code == 127);  // exec failed
}

TEST_CASE("run_workers: runs `parallel` jobs at once and no more", "[experiments][workers]") {
    TempDir dir;
    const std::string flag = dir.file("flag");
    // x waits (up to 5 s) for y's file: it can only succeed if y runs while x is running
    const WorkerJob x = sh("x", "for i in $(seq 50); do [ -f '" + flag + "' ] && exit 0; sleep 0.1; done; exit 1");
    const WorkerJob y = sh("y", "touch '" + flag + "'");
    SECTION("two at once: x sees y's file") {
        auto [failed, out] = capture({x, y}, 2, dir.file("out.txt"));
        REQUIRE(failed.empty());
    }
    SECTION("one at a time: y only starts after x gave up") {
        auto [failed, out] = capture({x, y}, 1, dir.file("out.txt"));
        REQUIRE(failed.size() == 1);
        REQUIRE(failed[0].label == "x");
        const size_t y_started = out.find("[y] started"), x_failed = out.find("[x] FAILED");
        REQUIRE(y_started != std::string::npos);
        REQUIRE(x_failed != std::string::npos);
        REQUIRE(y_started > x_failed);
    }
    REQUIRE_THROWS(run_workers({y}, 0));
}

TEST_CASE("run_workers: a job's stderr can go to a file; a failure echoes its last lines", "[experiments][workers]") {
    TempDir dir;
    WorkerJob j = sh("e", "echo out; for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 2");
    j.stderr_path = dir.file("e.log");
    auto [failed, out] = capture({j}, 1, dir.file("out.txt"));
    REQUIRE(failed.size() == 1);
    REQUIRE(out.find("[e] out\n") != std::string::npos);
    REQUIRE(out.find("[e] line1\n") == std::string::npos);  // not on stdout...
    REQUIRE(out.find("[e] stderr: line3\n") != std::string::npos);  // ...but the last 5 are echoed on failure
    REQUIRE(out.find("[e] stderr: line2\n") == std::string::npos);
    REQUIRE(out.find("stderr in " + j.stderr_path) != std::string::npos);
    std::ifstream log(j.stderr_path);
    std::string all((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    REQUIRE(all.find("line1\n") != std::string::npos);
}
