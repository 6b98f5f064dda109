// `qbert search` with a pruner, through the real binary: an exec command reports a learning curve with
// `report STEP VALUE` lines, the median pruner stops the poor ones (the command is stopped: it never reaches its
// end), a pruned trial keeps its last reported value, and pruned trials survive kill -9 and --resume as
// finished ones do. Bad pruner names and settings are clear errors.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "support/helpers.h"
#include "util/csv.h"
#include "util/subprocess.h"

using Catch::Matchers::Contains;
using qbert::test::TempDir;

namespace {

struct CliRun {
    int status = 0;
    std::string out;
};

CliRun run_qbert(const std::vector<std::string>& args) {
    qbert::util::SpawnOptions o;
    o.argv = {QBERT_EXE};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.stderr_to = qbert::util::SpawnOptions::Stderr::Merge;
    auto c = qbert::util::Child::spawn(o);
    CliRun r;
    while (c.read(-1, [&](const std::string& l) { r.out += l + "\n"; })) {}
    r.status = c.wait();
    return r;
}

// trials.csv as rows keyed by column name
std::vector<std::map<std::string, std::string>> read_trials(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> header, f;
    std::vector<std::map<std::string, std::string>> rows;
    if (!qbert::util::read_csv_row(in, header)) return rows;
    while (qbert::util::read_csv_row(in, f)) {
        std::map<std::string, std::string> r;
        for (size_t i = 0; i < header.size() && i < f.size(); ++i) r[header[i]] = f[i];
        rows.push_back(r);
    }
    return rows;
}

// A study whose command reports x * (s + 1) / 6 at steps 0..5, then prints x; it marks its end in DIR/done_N.
// With QBERT_TEST_HANG=N, trial N hangs at its start (for kill -9).
struct Setup {
    TempDir dir;
    std::string space = dir.file("space.toml"), script = dir.file("curve.sh"), db = dir.file("s.db"),
                out = dir.file("out");
    Setup() {
        std::ofstream(space) << "[x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n";
        std::ofstream(script) << "x=$1\n"
                                 "if [ \"$QBERT_TRIAL_NUMBER\" = \"${QBERT_TEST_HANG:-none}\" ]; then\n"
                                 "  touch " + dir.file("hanging") + "\n"
                                 "  while kill -0 $PPID 2>/dev/null; do sleep 0.1; done; exit 1\n"  // until qbert is gone
                                 "fi\n"
                                 "for s in 0 1 2 3 4 5; do echo \"report $s $(awk \"BEGIN{print $x * ($s + 1) / 6}\")\"; done\n"
                                 "touch " + dir.file("done_") + "$QBERT_TRIAL_NUMBER\n"
                                 "echo $x\n";
    }
    std::vector<std::string> args(int trials, bool resume = false) const {
        std::vector<std::string> a{"search", "--objective", "exec", "--space", space, "--exec", "sh " + script + " {x}",
                                   "--direction", "maximize", "--sampler", "random", "--seed", "3", "--trials",
                                   std::to_string(trials), "--storage", db, "--out", out, "--pruner", "median",
                                   "--pruner-set", "n_startup_trials=3"};
        if (resume) a.push_back("--resume");
        return a;
    }
};

}  // namespace

TEST_CASE("qbert search --pruner median: exec reports, pruned commands stopped, values kept", "[experiments][cli][pruners]") {
    Setup s;
    const CliRun r = run_qbert(s.args(16));
    INFO(r.out);
    REQUIRE(r.status == 0);
    const auto rows = read_trials(s.out + "/trials.csv");
    REQUIRE(rows.size() == 16);
    int pruned = 0, complete = 0;
    for (const auto& row : rows) {
        const double x = std::stod(row.at("x"));
        const bool done = std::filesystem::exists(s.dir.file("done_" + row.at("number")));
        if (row.at("state") == "pruned") {
            ++pruned;
            REQUIRE_FALSE(done);  // stopped before its end
            // its value is its last report: x * (step + 1) / 6 for some step < 5
            const double v = std::stod(row.at("value"));
            bool on_curve = false;
            for (int st = 0; st < 5; ++st) on_curve |= std::abs(v - x * (st + 1) / 6) < 1e-4;  // csv: 4 decimals
            REQUIRE(on_curve);
            REQUIRE(v < x);
        } else {
            REQUIRE(row.at("state") == "complete");
            ++complete;
            REQUIRE(done);
            REQUIRE(std::abs(std::stod(row.at("value")) - x) < 1e-4);
        }
    }
    REQUIRE(pruned >= 3);
    REQUIRE(complete >= 3);
    REQUIRE_THAT(r.out, Contains("pruned=" + std::to_string(pruned)));
}

TEST_CASE("qbert search: pruned trials survive kill -9 and --resume", "[experiments][cli][pruners]") {
    Setup s;
    qbert::util::SpawnOptions o;
    o.argv = {QBERT_EXE};
    const auto a = s.args(20);
    o.argv.insert(o.argv.end(), a.begin(), a.end());
    o.env = {{"QBERT_TEST_HANG", "12"}};
    o.stderr_to = qbert::util::SpawnOptions::Stderr::Merge;
    auto c = qbert::util::Child::spawn(o);
    std::vector<std::map<std::string, std::string>> before;
    for (int i = 0; i < 600 && !std::filesystem::exists(s.dir.file("hanging")); ++i)  // trials 0..11 done, 12 hangs
        c.read(50, [](const std::string&) {});
    before = read_trials(s.out + "/trials.csv");
    REQUIRE(before.size() == 12);
    ::kill(c.pid(), SIGKILL);
    c.stop(0.1);
    int pruned = 0;
    for (const auto& row : before) pruned += row.at("state") == "pruned";
    REQUIRE(pruned >= 2);
    const CliRun r = run_qbert(s.args(20, true));
    INFO(r.out);
    REQUIRE(r.status == 0);
    REQUIRE_THAT(r.out, Contains("trial 12 was running in a process that is gone: marked failed"));
    const auto after = read_trials(s.out + "/trials.csv");
    REQUIRE(after.size() == 21);  // the failed orphan does not count toward --trials
    for (size_t i = 0; i < before.size(); ++i) {
        REQUIRE(after[i].at("state") == before[i].at("state"));
        REQUIRE(after[i].at("value") == before[i].at("value"));
        REQUIRE(after[i].at("x") == before[i].at("x"));
    }
    REQUIRE(after[12].at("state") == "fail");
}

TEST_CASE("qbert search: a bad pruner name or setting is a clear error", "[experiments][cli][pruners]") {
    Setup s;
    auto a = s.args(4);
    a[a.size() - 3] = "medain";
    CliRun r = run_qbert(a);
    REQUIRE(r.status != 0);
    REQUIRE_THAT(r.out, Contains("unknown pruner 'medain'") && Contains("successive-halving"));
    a = s.args(4);
    a.back() = "n_startup=3";
    r = run_qbert(a);
    REQUIRE(r.status != 0);
    REQUIRE_THAT(r.out, Contains("no setting 'n_startup'") && Contains("n_startup_trials"));
    a = s.args(4);
    a.back() = "n_warmup_steps=-2";
    r = run_qbert(a);
    REQUIRE(r.status != 0);
    REQUIRE_THAT(r.out, Contains("n_warmup_steps cannot be negative"));
    a = s.args(4);
    a.erase(std::find(a.begin(), a.end(), "--direction"), std::find(a.begin(), a.end(), "--direction") + 2);
    a.insert(a.end(), {"--directions", "maximize,minimize"});
    r = run_qbert(a);
    REQUIRE(r.status != 0);
    REQUIRE_THAT(r.out, Contains("--pruner needs a single objective"));
    REQUIRE_FALSE(std::filesystem::exists(s.db));  // nothing was started
}
