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

#include "search/storage.h"
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

namespace {

// An exec study of one float and one int (minimise (x - 2)^2 + (n - 3)^2) with TPE, seed 7.
struct TpeStudy {
    TempDir dir;
    std::string space = dir.file("space.toml"), db = dir.file("tpe.db"), out = dir.file("out");
    TpeStudy() {
        std::ofstream(space) << "[x]\ntype = \"float\"\nlow = -5.0\nhigh = 10.0\n[n]\ntype = \"int\"\nlow = 1\nhigh = 8\n";
    }
    CliRun search(int trials, bool resume = false) const {
        std::vector<std::string> a{"search", "--objective", "exec", "--space", space, "--exec",
                                   "awk \"BEGIN { print ({x} - 2)^2 + ({n} - 3)^2 }\"", "--direction", "minimize",
                                   "--sampler", "tpe", "--seed", "7", "--trials", std::to_string(trials), "--storage", db,
                                   "--study", "tpe", "--out", out};
        if (resume) a.push_back("--resume");
        return run_qbert(a);
    }
};

}  // namespace

TEST_CASE("qbert tpe-explain: the split, the candidates table, and the value the next trial really gets", "[experiments][cli][tpe-explain]") {
    TpeStudy s;
    REQUIRE(s.search(12).status == 0);
    const std::string csv = s.dir.file("fig/tpe.csv");
    const CliRun r = run_qbert({"tpe-explain", "--storage", s.db, "--csv", csv});
    INFO(r.out);
    REQUIRE(r.status == 0);
    REQUIRE_THAT(r.out, Contains("study 'tpe' in " + s.db + ": minimize, 12 trials (12 complete"));
    REQUIRE_THAT(r.out, Contains("seed 7 (the study's)"));
    REQUIRE_THAT(r.out, Contains("next trial: 12. 12 finished trials >= n_startup_trials = 10"));
    REQUIRE_THAT(r.out, Contains("good = the best gamma(12) = 2 trials"));
    REQUIRE_THAT(r.out, Contains("\nn: int[1, 8]\n") && Contains("\nx: float[-5, 10]\n"));
    REQUIRE_THAT(r.out, Contains("good (below, l(x)): 2 trials") && Contains("bad (above, g(x)): 10 trials"));
    REQUIRE_THAT(r.out, Contains("24 candidates drawn from l(x)") && Contains("log l - log g") &&
                            Contains("<- chosen"));
    // the CSV: l and g over the range, the 12 observations and the 24 candidates of each parameter, one chosen
    std::ifstream in(csv);
    std::vector<std::string> header, f;
    REQUIRE(qbert::util::read_csv_row(in, header));
    REQUIRE(header == std::vector<std::string>{"param", "kind", "x", "label", "l", "g", "log_l", "log_g", "score",
                                               "trial", "value"});
    std::map<std::string, std::map<std::string, int>> kinds;
    std::map<std::string, std::string> chosen;
    while (qbert::util::read_csv_row(in, f)) {
        kinds[f[0]][f[1]]++;
        if (f[1] == "chosen") chosen[f[0]] = f[2];
        REQUIRE(std::stod(f[4]) > 0);
    }
    REQUIRE(kinds["x"]["grid"] == 400);
    REQUIRE(kinds["n"]["grid"] == 8);
    for (const auto* p : {"x", "n"}) {
        REQUIRE(kinds[p]["below"] == 2);
        REQUIRE(kinds[p]["above"] == 10);
        REQUIRE(kinds[p]["candidate"] + kinds[p]["chosen"] == 24);
        REQUIRE(kinds[p]["chosen"] == 1);
    }
    // the printed choice is the one trial 12 gets when the study goes on
    const std::string gets = "trial 12 gets: n=" + chosen["n"] + " x=";
    REQUIRE_THAT(r.out, Contains(gets));
    REQUIRE(s.search(13, true).status == 0);
    qbert::search::Storage storage(s.db);
    const auto trials = storage.trials(storage.find_study("tpe")->id);
    REQUIRE(trials.size() == 13);
    REQUIRE(trials[12].params.at("x") == std::stod(chosen["x"]));  // %.17g: exact
    REQUIRE(trials[12].params.at("n") == std::stod(chosen["n"]));
    // one parameter; every trial and candidate with --all
    const CliRun one = run_qbert({"tpe-explain", "--storage", s.db, "--study", "tpe", "--param", "x", "--all"});
    REQUIRE(one.status == 0);
    REQUIRE_THAT(one.out, Contains("next trial: 13.") && Contains("bad (above, g(x)): 11 trials"));
    REQUIRE_THAT(one.out, !Contains("\nn: int") && !Contains("more (--all lists them)"));
    // another seed is said to differ from the study's
    const CliRun other = run_qbert({"tpe-explain", "--storage", s.db, "--seed", "8", "--param", "n"});
    REQUIRE(other.status == 0);
    REQUIRE_THAT(other.out, Contains("seed 8 (--seed; the study ran with seed 7"));
}

TEST_CASE("qbert tpe-explain: clear errors (file, study, parameter, start-up phase)", "[experiments][cli][tpe-explain]") {
    TpeStudy s;
    CliRun r = run_qbert({"tpe-explain", "--storage", s.dir.file("none.db")});
    REQUIRE(r.status == 1);
    REQUIRE_THAT(r.out, Contains("no study file '" + s.dir.file("none.db") + "'"));
    REQUIRE_FALSE(std::filesystem::exists(s.dir.file("none.db")));
    REQUIRE(s.search(4).status == 0);
    r = run_qbert({"tpe-explain", "--storage", s.db, "--study", "nope"});
    REQUIRE(r.status == 1);
    REQUIRE_THAT(r.out, Contains("no study 'nope' in '" + s.db + "' (studies there: tpe)"));
    r = run_qbert({"tpe-explain", "--storage", s.db, "--param", "zz"});
    REQUIRE(r.status == 1);
    REQUIRE_THAT(r.out, Contains("study 'tpe' has no parameter 'zz' (its parameters: n, x)"));
    // 4 finished trials: TPE still draws at random
    r = run_qbert({"tpe-explain", "--storage", s.db});
    INFO(r.out);
    REQUIRE(r.status == 1);
    REQUIRE_THAT(r.out, Contains("has 4 finished (complete or pruned) trials, fewer than TPE's n_startup_trials = 10") &&
                            Contains("trial 4 is drawn at random") && Contains("run 6 more"));
    r = run_qbert({"tpe-explain"});
    REQUIRE(r.status == 2);
    REQUIRE_THAT(r.out, Contains("--storage"));
}
