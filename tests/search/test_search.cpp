// search/: distributions, storage, study semantics, the three samplers, TOML spaces and the exec objective.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "experiments/study_ranks.h"
#include "search/samplers.h"
#include "search/space.h"
#include "support/helpers.h"

using namespace qbert::search;
using qbert::test::TempDir;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {
std::shared_ptr<Storage> memory() { return std::make_shared<Storage>(":memory:"); }

// best-so-far of a minimisation after n trials of f(x, y) on [-5, 5]^2 with the given sampler
double best_after(const std::shared_ptr<Sampler>& s, int n, const std::function<double(double, double)>& f) {
    Study study(memory(), "s", Direction::Minimize, s);
    OptimizeOptions o;
    o.n_trials = n;
    o.catch_errors = false;
    study.optimize([&](Trial& t) { return f(t.suggest_float("x", -5, 5), t.suggest_float("y", -5, 5)); }, o);
    return *study.best_trial()->value;
}
}  // namespace

TEST_CASE("distributions: validation, internal form, compatibility", "[search]") {
    REQUIRE_THROWS_WITH(Distribution::int_range(5, 1).validate("n"), Contains("'n'") && Contains("low > high"));
    REQUIRE_THROWS_WITH(Distribution::float_range(0.0, 1.0, true).validate("lr"), Contains("low > 0"));
    REQUIRE_THROWS_WITH(Distribution::categorical({}).validate("act"), Contains("'act'") && Contains("no choices"));
    REQUIRE_THROWS_WITH(Distribution::categorical({"a", "a"}).validate("act"), Contains("twice"));
    REQUIRE_THROWS_WITH(Distribution::int_range(0, 10, 0).validate("k"), Contains("step"));
    const auto c = Distribution::categorical({"relu", "gelu", 3});
    REQUIRE(c.to_internal("gelu", "act") == 1.0);
    REQUIRE(c.to_external(2.0) == json(3));
    REQUIRE_THROWS_WITH(c.to_internal("tanh", "act"), Contains("tanh") && Contains("act"));
    const auto i = Distribution::int_range(0, 10, 2);
    REQUIRE(i.contains(4.0));
    REQUIRE_FALSE(i.contains(5.0));
    REQUIRE(Distribution::from_json(i.to_json()).describe() == i.describe());
    // Optuna's IntDistribution: a range that is not a whole number of steps ends at the last step inside it
    REQUIRE(Distribution::int_range(0, 10, 3).high == 9.0);
    REQUIRE(Distribution::int_range(64, 1000, 64).describe() == "int[64, 960] step 64");
    REQUIRE(Distribution::int_range(1, 7, 2).high == 7.0);
    // Optuna's rule: the range may change, the kind / log flag / choices may not
    REQUIRE_NOTHROW(check_compatible("n", Distribution::int_range(0, 4), Distribution::int_range(0, 8)));
    REQUIRE_THROWS_WITH(check_compatible("n", Distribution::int_range(0, 4), Distribution::float_range(0, 4)),
                        Contains("'n'") && Contains("kind"));
    REQUIRE_THROWS_WITH(check_compatible("a", Distribution::categorical({"x"}), Distribution::categorical({"y"})),
                        Contains("choices"));
}

TEST_CASE("study: ask/tell, states, best = first strictly best, a trial's values persist", "[search]") {
    TempDir dir;
    const std::string db = dir.file("study.db");
    {
        Study s(std::make_shared<Storage>(db), "demo", Direction::Maximize, std::make_shared<RandomSampler>(1));
        for (double v : {0.5, 0.9, 0.9, 0.7}) {
            Trial t = s.ask();
            t.suggest_int("n", 0, 4);
            s.tell(t, v);
        }
        Trial bad = s.ask();
        REQUIRE(s.tell(bad, std::nan("")).state == TrialState::Fail);  // NaN fails the trial, as Optuna
        Trial pr = s.ask();
        pr.report(0.3, 1);
        REQUIRE(s.tell(pr, TrialState::Pruned).state == TrialState::Pruned);
        REQUIRE_THROWS_WITH(s.tell(pr, 1.0), Contains("already finished"));
        // same name, other kind: Optuna's compatibility error
        Trial t = s.ask();
        REQUIRE_THROWS_WITH(t.suggest_float("n", 0, 1), Contains("'n'") && Contains("kind"));
        // asking again returns the cached value
        const int64_t m = t.suggest_int("m", 0, 100);
        REQUIRE(t.suggest_int("m", 0, 100) == m);
        s.tell(t, 0.1);
    }
    Study again(std::make_shared<Storage>(db), "demo", Direction::Maximize, std::make_shared<RandomSampler>(1),
                OpenMode::Load);
    const auto trials = again.trials();
    REQUIRE(trials.size() == 7);
    REQUIRE(trials[1].value == 0.9);
    REQUIRE(trials[5].intermediate.at(1) == 0.3);
    REQUIRE(again.best_trial()->number == 1);  // tie with trial 2: the earlier one stays best
    REQUIRE_THROWS_WITH(Study(std::make_shared<Storage>(db), "demo", Direction::Maximize,
                              std::make_shared<RandomSampler>(1), OpenMode::Create),
                        Contains("already exists") && Contains("--resume"));
    REQUIRE_THROWS_WITH(Study(std::make_shared<Storage>(db), "other", Direction::Maximize,
                              std::make_shared<RandomSampler>(1), OpenMode::Load),
                        Contains("no study 'other'") && Contains("demo"));
    REQUIRE_THROWS_WITH(Study(std::make_shared<Storage>(db), "demo", Direction::Minimize,
                              std::make_shared<RandomSampler>(1)),
                        Contains("maximize"));
    {
        std::ofstream junk(dir.file("junk.db"));
        junk << "this is not sqlite, just text long enough to have a header............................";
    }
    REQUIRE_THROWS_WITH(Storage(dir.file("junk.db")), Contains("junk.db"));
}

TEST_CASE("optimize: objective errors fail the trial and the study goes on; limits hold", "[search]") {
    Study s(memory(), "e", Direction::Minimize, std::make_shared<RandomSampler>(3));
    OptimizeOptions o;
    o.n_trials = 6;
    int calls = 0;
    s.optimize([&](Trial& t) -> double {
        const double x = t.suggest_float("x", -1, 1);
        if (++calls % 3 == 0) throw std::runtime_error("boom");
        if (calls == 4) throw TrialPruned("too big");
        return x * x;
    }, o);
    std::map<TrialState, int> count;
    for (const auto& t : s.trials()) count[t.state]++;
    REQUIRE(count[TrialState::Complete] == 3);
    REQUIRE(count[TrialState::Fail] == 2);
    REQUIRE(count[TrialState::Pruned] == 1);
    REQUIRE(s.trials()[2].system_attrs.at("reason") == "boom");
    o.n_trials = 0;
    o.study_trials = 10;  // the study's total, not this call's
    REQUIRE(s.optimize([](Trial& t) { return t.suggest_float("x", -1, 1); }, o) == 4);
}

TEST_CASE("stop() from a callback ends that optimize only; the next one runs, in one process and via StudyRanks",
          "[search]") {
    // Optuna's pattern: a callback calls study.stop(). A StudyRanks session (one rank here: this process) must
    // behave as Study::optimize does; it used to keep the flag, so a second session on the same Study started
    // nothing (lab2's budget loop optimizes one Study repeatedly).
    for (const bool ranks : {false, true}) {
        INFO((ranks ? "StudyRanks" : "Study::optimize"));
        Study s(memory(), "stop", Direction::Minimize, std::make_shared<RandomSampler>(5));
        qbert::experiments::StudyRanks dist_ranks;
        const auto objective = [](Trial& t) { return t.suggest_float("x", -1, 1); };
        const auto run = [&](int64_t n, const Study::Callback& cb) -> int64_t {
            OptimizeOptions o;
            o.n_trials = n;
            o.catch_errors = false;
            if (!ranks) return s.optimize(objective, o, cb);
            return dist_ranks.optimize(
                s, {[&](Trial& t) { return qbert::experiments::StudyRanks::Values{objective(t)}; }, nullptr}, o, cb);
        };
        REQUIRE(run(5, [&](const Study&, const FrozenTrial& t) {
                    if (t.number == 1) s.stop();
                }) == 2);
        REQUIRE(s.stopped());
        REQUIRE(s.trials().size() == 2);
        REQUIRE(run(3, nullptr) == 3);
        REQUIRE_FALSE(s.stopped());
        REQUIRE(s.trials().size() == 5);
    }
}

TEST_CASE("random sampler: seeded, reproducible, uniform over ints and choices, log range", "[search]") {
    const auto run = [](uint64_t seed) {
        Study s(memory(), "r", Direction::Maximize, std::make_shared<RandomSampler>(seed));
        std::vector<json> v;
        for (int i = 0; i < 2000; ++i) {
            Trial t = s.ask();
            v.push_back({t.suggest_int("i", 0, 4), t.suggest_categorical("c", {"a", "b", "c"}),
                         t.suggest_float("lr", 1e-5, 1e-1, true), t.suggest_int("k", 2, 20, 6)});
            s.tell(t, 0.0);
        }
        return v;
    };
    const auto a = run(7), b = run(7), c = run(8);
    REQUIRE(a == b);
    REQUIRE(a != c);
    std::map<int64_t, int> ints, steps;
    std::map<std::string, int> cats;
    int small_lr = 0;
    for (const auto& row : a) {
        ints[row[0].get<int64_t>()]++;
        cats[row[1].get<std::string>()]++;
        const double lr = row[2].get<double>();
        REQUIRE(lr >= 1e-5);
        REQUIRE(lr <= 1e-1);
        small_lr += lr < 1e-3;  // half of the log range
        steps[row[3].get<int64_t>()]++;
    }
    REQUIRE(ints.size() == 5);
    for (const auto& [v, n] : ints) REQUIRE(std::abs(n - 400) < 80);  // ~4.5 sigma
    for (const auto& [v, n] : cats) REQUIRE(std::abs(n - 667) < 100);
    REQUIRE(std::abs(small_lr - 1000) < 120);
    REQUIRE(steps.size() == 4);  // 2, 8, 14, 20
    REQUIRE(steps.count(8));
    REQUIRE(steps.count(20));
}

TEST_CASE("grid sampler: every point once, seeded order, stops when exhausted, refuses unknown names", "[search]") {
    GridSampler::Space g{{"b", {1, 2, 3}}, {"a", {"x", "y"}}};
    const auto visit = [&](uint64_t seed) {
        Study s(memory(), "g", Direction::Maximize, std::make_shared<GridSampler>(g, seed));
        std::vector<std::string> seen;
        OptimizeOptions o;
        o.n_trials = 100;
        o.catch_errors = false;
        const int64_t ran = s.optimize([&](Trial& t) {
            seen.push_back(t.suggest_string("a", {"x", "y"}) + std::to_string(t.suggest_int("b", 1, 3)));
            return 0.0;
        }, o);
        REQUIRE(ran == 6);  // the study stopped itself
        return seen;
    };
    const auto s1 = visit(0), s2 = visit(0), s3 = visit(5);
    REQUIRE(std::set<std::string>(s1.begin(), s1.end()).size() == 6);
    REQUIRE(s1 == s2);
    REQUIRE(s1 != s3);
    Study s(memory(), "g", Direction::Maximize, std::make_shared<GridSampler>(g, 0));
    Trial t = s.ask();
    REQUIRE_THROWS_WITH(t.suggest_int("c", 0, 1), Contains("'c'") && Contains("grid") && Contains("a, b"));
    REQUIRE_THROWS_WITH(GridSampler(GridSampler::Space{{"a", {}}}), Contains("'a'") && Contains("empty"));
    REQUIRE_THROWS_WITH(GridSampler(GridSampler::Space{}), Contains("empty"));
    REQUIRE_THROWS_WITH(make_sampler("bayes", 0), Contains("bayes") && Contains("random, grid, tpe"));
}

TEST_CASE("TPE: gamma, weights, Parzen bandwidths of the hand-worked example, densities sum to one", "[search]") {
    REQUIRE(TpeSampler::gamma(10, TpeOptions::Gamma::Default) == 1);
    REQUIRE(TpeSampler::gamma(11, TpeOptions::Gamma::Default) == 2);
    REQUIRE(TpeSampler::gamma(1000, TpeOptions::Gamma::Default) == 25);
    REQUIRE(TpeSampler::weights(3) == std::vector<double>{1, 1, 1});
    const auto w = TpeSampler::weights(30);
    REQUIRE(w.size() == 30);
    REQUIRE(w[0] == Approx(1.0 / 30));
    REQUIRE(w[4] == Approx(1.0));
    REQUIRE(w[29] == 1.0);
    // mase-behaviour.md 6.5: int [0, 4], observations {1, 1, 3} -> sigmas [1, 1, 1], prior mu 2 sigma 5
    const TpeOptions o;
    const ParzenEstimator pe({{1}, {1}, {3}}, {Distribution::int_range(0, 4)}, o);
    const auto& k = pe.kernels()[0];
    REQUIRE(k.mus == std::vector<double>{1, 1, 3, 2});
    REQUIRE(k.sigmas == std::vector<double>{1, 1, 1, 5});
    for (double x : pe.mixture_weights()) REQUIRE(x == Approx(0.25));
    double total = 0;
    for (int v = 0; v <= 4; ++v) total += std::exp(pe.log_pdf({static_cast<double>(v)}));
    REQUIRE(total == Approx(1.0).epsilon(1e-9));
    // categorical kernel: (1/K + [c == obs]) / (C/K + 1), prior uniform
    const ParzenEstimator cat({{0}, {2}}, {Distribution::categorical({"a", "b", "c"})}, o);
    REQUIRE(cat.kernels()[0].probs[0][0] == Approx((1.0 / 3 + 1) / (3.0 / 3 + 1)));
    REQUIRE(cat.kernels()[0].probs[2][1] == Approx(1.0 / 3));
    // a continuous density integrates to one over its range; a log one over log x (TPE models log x)
    for (bool log : {false, true}) {
        const ParzenEstimator f({{0.2}, {0.25}, {0.9}}, {Distribution::float_range(0.1, 1.0, log)}, o);
        const double lo = log ? std::log(0.1) : 0.1, hi = log ? 0.0 : 1.0;
        double integral = 0;
        const int n = 20000;
        for (int i = 0; i < n; ++i) {
            const double u = lo + (hi - lo) * (i + 0.5) / n;
            integral += std::exp(f.log_pdf({log ? std::exp(u) : u})) * (hi - lo) / n;
        }
        REQUIRE(integral == Approx(1.0).epsilon(1e-3));
    }
}

TEST_CASE("TPE: first 10 trials random, then beats random search on a smooth problem (mean over seeds)", "[search]") {
    const auto f = [](double x, double y) { return (x - 2.3) * (x - 2.3) + 2 * (y + 1.1) * (y + 1.1); };
    // start-up trials are the random sampler's draws with the same seed
    Study tpe(memory(), "t", Direction::Minimize, std::make_shared<TpeSampler>(11));
    Study rnd(memory(), "r", Direction::Minimize, std::make_shared<RandomSampler>(11));
    for (int i = 0; i < 10; ++i) {
        Trial a = tpe.ask(), b = rnd.ask();
        REQUIRE(a.suggest_float("x", -5, 5) == b.suggest_float("x", -5, 5));
        tpe.tell(a, 1.0);
        rnd.tell(b, 1.0);
    }
    double tpe_sum = 0, rnd_sum = 0, mv_sum = 0;
    for (uint64_t seed = 0; seed < 8; ++seed) {
        tpe_sum += best_after(std::make_shared<TpeSampler>(seed), 60, f);
        rnd_sum += best_after(std::make_shared<RandomSampler>(seed), 60, f);
        TpeOptions mv;
        mv.multivariate = true;
        mv_sum += best_after(std::make_shared<TpeSampler>(seed, mv), 60, f);
    }
    INFO("mean best: tpe " << tpe_sum / 8 << " multivariate " << mv_sum / 8 << " random " << rnd_sum / 8);
    REQUIRE(tpe_sum < 0.5 * rnd_sum);
    REQUIRE(mv_sum < 0.5 * rnd_sum);
    // reproducible
    REQUIRE(best_after(std::make_shared<TpeSampler>(3), 30, f) == best_after(std::make_shared<TpeSampler>(3), 30, f));
}

TEST_CASE("TPE: ints stay on their grid, stepped and log-scaled, start-up and model draws alike", "[search]") {
    Study s(memory(), "g", Direction::Minimize, std::make_shared<TpeSampler>(4));
    OptimizeOptions o;
    o.n_trials = 60;
    o.catch_errors = false;
    std::set<int64_t> stepped;
    s.optimize([&](Trial& t) {
        const int64_t k = t.suggest_int("k", 0, 10, 3), b = t.suggest_int("b", 8, 512, 1, true);
        REQUIRE(b >= 8);
        REQUIRE(b <= 512);
        stepped.insert(k);
        return std::abs(static_cast<double>(k) - 9.5) + std::abs(std::log2(static_cast<double>(b)) - 6);
    }, o);
    for (int64_t k : stepped) REQUIRE(k % 3 == 0);  // 10 (off the grid, the old high) never comes up
    REQUIRE(stepped.count(9));
}

TEST_CASE("TPE: categorical and dynamic parameters; prefers the good choice", "[search]") {
    Study s(memory(), "c", Direction::Maximize, std::make_shared<TpeSampler>(2));
    OptimizeOptions o;
    o.n_trials = 60;
    o.catch_errors = false;
    s.optimize([](Trial& t) {
        const std::string kind = t.suggest_string("kind", {"bad", "good", "ok"});
        double v = kind == "good" ? 1.0 : kind == "ok" ? 0.5 : 0.0;
        if (kind == "good") v += 0.01 * static_cast<double>(t.suggest_int("extra", 0, 10));  // only in some trials
        return v;
    }, o);
    int good_late = 0;
    const auto trials = s.trials();
    for (size_t i = 30; i < trials.size(); ++i) good_late += trials[i].external("kind") == "good";
    REQUIRE(good_late >= 20);  // random would give ~10 of 30
}

TEST_CASE("storage: kill -9 mid-study loses no finished trial; resume fails the orphan and continues", "[search]") {
    TempDir dir;
    const std::string db = dir.file("k.db");
    const pid_t pid = fork();
    if (pid == 0) {
        try {
            Study s(std::make_shared<Storage>(db), "k", Direction::Minimize, std::make_shared<TpeSampler>(1));
            OptimizeOptions o;
            s.optimize([](Trial& t) {
                const double x = t.suggest_float("x", -1, 1);
                if (t.number() == 4) ::pause();  // the parent kills us here
                return x * x;
            }, o);
        } catch (...) {
        }
        _exit(3);
    }
    // wait until trial 4 is running, then kill -9
    for (int i = 0; i < 400; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        try {
            Storage st(db);
            if (auto rec = st.find_study("k"); rec && st.trials(rec->id).size() == 5) break;
        } catch (const Error&) {
        }
    }
    ::kill(pid, SIGKILL);
    // dead but not reaped: a zombie, as a killed MPI rank can be for a while (kill(pid, 0) still succeeds on it)
    siginfo_t info{};
    REQUIRE(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) == 0);
    REQUIRE(info.si_code == CLD_KILLED);
    Study s(std::make_shared<Storage>(db), "k", Direction::Minimize, std::make_shared<TpeSampler>(1), OpenMode::Load);
    auto trials = s.trials();
    REQUIRE(trials.size() == 5);
    for (int i = 0; i < 4; ++i) {
        REQUIRE(trials[i].state == TrialState::Complete);
        REQUIRE(*trials[i].value == trials[i].params.at("x") * trials[i].params.at("x"));
    }
    REQUIRE(trials[4].state == TrialState::Running);
    REQUIRE(s.fail_stale_trials() == std::vector<int64_t>{4});  // the zombie counts as gone
    waitpid(pid, nullptr, 0);
    REQUIRE(s.counted_trials() == 4);  // what "N of M trials done" reports: the stale one does not count
    OptimizeOptions o;
    o.study_trials = 8;  // the stale trial does not count
    REQUIRE(s.optimize([](Trial& t) { return t.suggest_float("x", -1, 1); }, o) == 4);
    trials = s.trials();
    REQUIRE(trials.size() == 9);
    REQUIRE(trials[4].state == TrialState::Fail);
    REQUIRE(trials[8].state == TrialState::Complete);
    REQUIRE(s.counted_trials() == 8);
}

TEST_CASE("storage: two processes share one study file; numbers are unique, nothing is lost", "[search]") {
    TempDir dir;
    const std::string db = dir.file("p.db");
    std::vector<pid_t> kids;
    for (int k = 0; k < 2; ++k) {
        const pid_t pid = fork();
        if (pid == 0) {
            int rc = 0;
            try {
                Study s(std::make_shared<Storage>(db), "p", Direction::Maximize, std::make_shared<RandomSampler>(k));
                OptimizeOptions o;
                o.study_trials = 30;
                o.catch_errors = false;
                s.optimize([](Trial& t) {  // slow enough that both processes are at work together
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                    return t.suggest_float("x", 0, 1);
                }, o);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "child: %s\n", e.what());
                rc = 1;
            }
            _exit(rc);
        }
        kids.push_back(pid);
    }
    for (pid_t p : kids) {
        int status = 0;
        waitpid(p, &status, 0);
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) == 0);
    }
    Study s(std::make_shared<Storage>(db), "p", Direction::Maximize, std::make_shared<RandomSampler>(0), OpenMode::Load);
    const auto trials = s.trials();
    REQUIRE(trials.size() >= 30);
    REQUIRE(trials.size() <= 31);  // each process checks the count before asking: at most one overshoot
    std::set<int64_t> pids;
    for (size_t i = 0; i < trials.size(); ++i) {
        REQUIRE(trials[i].number == static_cast<int64_t>(i));
        REQUIRE(trials[i].state == TrialState::Complete);
        pids.insert(trials[i].system_attrs.at("pid").get<int64_t>());
    }
    REQUIRE(pids.size() == 2);
}

TEST_CASE("search space TOML: the issue's example, grid lists, clear errors", "[search]") {
    const SearchSpace s = SearchSpace::from_toml_string(R"(
[x]
type = "float"
low = -5.0
high = 10.0
grid = [-5.0, 0.0, 5.0]
[n]
type = "int"
low = 1
high = 8
[act]
type = "categorical"
choices = ["relu", "gelu"]
)", "space.toml");
    REQUIRE(s.params.size() == 3);
    const auto g = s.grid();
    REQUIRE(g.at("n").size() == 8);
    REQUIRE(g.at("x").size() == 3);
    REQUIRE(g.at("act").size() == 2);
    const auto bad = [](const std::string& text) { SearchSpace::from_toml_string(text, "bad.toml"); };
    REQUIRE_THROWS_WITH(bad("[a]\ntype = \"categorical\"\nchoices = []\n"), Contains("bad.toml") && Contains("'a'") && Contains("no choices"));
    REQUIRE_THROWS_WITH(bad("[a]\ntype = \"int\"\nlow = 1\nhigh = 2\nsetp = 1\n"), Contains("'setp'") && Contains("step"));
    REQUIRE_THROWS_WITH(bad("[a]\ntype = \"normal\"\n"), Contains("unknown type 'normal'"));
    REQUIRE_THROWS_WITH(bad("[a]\ntype = \"float\"\nlow = 1\n"), Contains("[a]") && Contains("'high'"));
    REQUIRE_THROWS_WITH(bad(""), Contains("no parameters"));
    REQUIRE_THROWS_WITH(bad("[a]\ntype = \"float\"\nlow = 1\nhigh = 2\nlog = 1\n"), Contains("'log'"));
    REQUIRE_THROWS_WITH(SearchSpace::from_toml_string("[a]\ntype = \"float\"\nlow = 0\nhigh = 1\n", "f.toml").grid(),
                        Contains("'a'") && Contains("grid"));
}

TEST_CASE("exec objective: substitutions, JSON on stdin, last line is the value, failures are trial failures", "[search]") {
    const json p = {{"x", 1.5}, {"n", 3}, {"act", "gelu"}, {"msg", "two words"}};
    REQUIRE(substitute("f {x} {n} {act} {msg} {other} ${HOME}", p) == "f 1.5 3 gelu 'two words' {other} ${HOME}");
    auto r = run_exec("echo working; echo \"$(( {n} * 2 ))\"", p, 0, "");
    REQUIRE(r.value == 6.0);
    r = run_exec("cat > /dev/null; echo $QBERT_TRIAL_NUMBER", p, 42, "");
    REQUIRE(r.value == 42.0);
    r = run_exec("grep -c gelu", p, 0, "");  // the parameters arrive as JSON on stdin
    REQUIRE(r.value == 1.0);
    r = run_exec("echo 0.5; exit 3", p, 0, "");
    REQUIRE_FALSE(r.value);
    REQUIRE_THAT(r.error, Contains("status 3"));
    r = run_exec("echo accuracy: 0.9", p, 0, "");
    REQUIRE_FALSE(r.value);
    REQUIRE_THAT(r.error, Contains("not a number") && Contains("accuracy: 0.9"));
    r = run_exec("true", p, 0, "");
    REQUIRE_THAT(r.error, Contains("printed nothing"));
}

namespace {
// Whether a process is gone (or a zombie waiting for init): what a stopped process group leaves behind.
bool gone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return true;
    const size_t close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}
}  // namespace

TEST_CASE("exec objective: a command over its timeout is stopped with everything it started, and the trial fails", "[search]") {
    TempDir dir;
    const std::string pidfile = dir.file("bg.pid");
    const json p = {{"x", 1.5}};
    // a background child that would outlive the shell, and a foreground sleep far beyond the timeout
    auto r = run_exec("sleep 60 & echo $! > " + pidfile + "; sleep 60; echo 1", p, 0, "", 0.5);
    REQUIRE_FALSE(r.value);
    REQUIRE(r.exit_code == 124);
    REQUIRE_THAT(r.error, Contains("timed out after 0.5 s"));
    std::ifstream in(pidfile);
    pid_t bg = 0;
    REQUIRE(in >> bg);
    bool stopped = false;
    for (int i = 0; i < 100 && !stopped; ++i) {  // reparented to init, which reaps it when it gets to it
        stopped = gone(bg);
        if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(stopped);
    // within its time a command behaves as without a timeout
    r = run_exec("echo 2", p, 0, "", 30.0);
    REQUIRE(r.value == 2.0);
    REQUIRE_THROWS_WITH(run_exec("echo 2", p, 0, "", -1.0), Contains("timeout"));
}

// TpeSampler::explain (qbert tpe-explain) is the sampler's own computation: what it reports as chosen is what
// the next trial gets, for every kind of distribution, in the start-up phase and after it.
TEST_CASE("TPE explain: the chosen value is what sample_independent returns, for every kind of parameter", "[search][tpe-explain]") {
    for (const int n_trials : {4, 14, 31}) {
        DYNAMIC_SECTION(n_trials << " finished trials") {
            auto sampler = std::make_shared<TpeSampler>(11);
            Study study(memory(), "explain", Direction::Minimize, sampler);
            OptimizeOptions o;
            o.n_trials = n_trials;
            o.catch_errors = false;
            study.optimize(
                [](Trial& t) {
                    const double x = t.suggest_float("x", -5, 10);
                    const double lr = t.suggest_float("lr", 1e-4, 1e-1, true);
                    const auto n = t.suggest_int("n", 1, 8);
                    const auto s = t.suggest_int("s", 0, 10, 2);
                    const auto w = t.suggest_int("w", 4, 256, 1, true);
                    const auto act = t.suggest_string("act", {"relu", "gelu", "tanh"});
                    if (t.number() % 7 == 3) {  // a few PRUNED trials, as TPE counts them too
                        t.report(100.0 + x, 0);
                        throw TrialPruned("pruned");
                    }
                    return (x - 2) * (x - 2) + std::pow(std::log10(lr) + 2.5, 2) + double((n - 3) * (n - 3)) +
                           std::abs(s - 4) + std::abs(std::log2(double(w)) - 5) + (act == "gelu" ? 0.0 : 1.0);
                },
                o);
            const auto dists = study.trials().back().distributions;
            REQUIRE(dists.size() == 6);
            const int64_t next = static_cast<int64_t>(study.trials().size());
            std::map<std::string, TpeExplanation> whys;
            for (const auto& [name, d] : dists) whys.emplace(name, sampler->explain(study, next, name, d));
            Trial t = study.ask();
            REQUIRE(t.number() == next);
            for (const auto& [name, d] : dists) {
                INFO(name << " " << d.describe());
                const TpeExplanation& why = whys.at(name);
                REQUIRE(why.trial_number == next);
                REQUIRE(why.n_finished == n_trials);
                REQUIRE(why.startup == (n_trials < 10));
                // the same value as the sampler gives this trial, bit for bit, and as the trial got
                REQUIRE(why.chosen == sampler->sample_independent(study, t.frozen(), name, d));
                REQUIRE(why.chosen == d.to_internal(t.suggest(name, d), name));
                REQUIRE(d.contains(why.chosen));
                if (why.startup) {
                    REQUIRE(why.candidates.empty());
                    REQUIRE_FALSE(why.l);
                    REQUIRE(std::isnan(why.log_l(why.chosen)));
                    continue;
                }
                // the winner is the first candidate with the highest log l - log g, each scored by l and g
                REQUIRE(why.candidates.size() == 24);
                REQUIRE(why.chosen == why.candidates[why.chosen_index].x);
                for (size_t i = 0; i < why.candidates.size(); ++i) {
                    const auto& c = why.candidates[i];
                    REQUIRE(d.contains(c.x));
                    REQUIRE(c.log_l == why.log_l(c.x));
                    REQUIRE(c.log_g == why.log_g(c.x));
                    REQUIRE(c.score() <= why.candidates[why.chosen_index].score());
                    if (i < why.chosen_index) REQUIRE(c.score() < why.candidates[why.chosen_index].score());
                }
            }
        }
    }
}

TEST_CASE("TPE explain: below holds the best gamma(n) trials, above the rest; l and g on a grid", "[search][tpe-explain]") {
    for (const int n_trials : {10, 15, 31}) {
        DYNAMIC_SECTION(n_trials << " trials") {
            auto sampler = std::make_shared<TpeSampler>(5);
            Study study(memory(), "split", Direction::Maximize, sampler);
            OptimizeOptions o;
            o.n_trials = n_trials;
            o.catch_errors = false;
            study.optimize([](Trial& t) { return -std::abs(t.suggest_float("x", 0, 1) - 0.3); }, o);
            const auto d = Distribution::float_range(0, 1);
            const TpeExplanation why = sampler->explain(study, n_trials, "x", d);
            REQUIRE_FALSE(why.startup);
            REQUIRE(why.n_finished == n_trials);
            REQUIRE(why.n_below == TpeSampler::gamma(n_trials, TpeOptions::Gamma::Default));
            REQUIRE(why.n_below == static_cast<int>(std::ceil(0.1 * n_trials)));
            REQUIRE(why.below.size() == static_cast<size_t>(why.n_below));
            REQUIRE(why.above.size() == static_cast<size_t>(n_trials - why.n_below));
            // below = the best trials by value (maximize); the rest above; both in trial-number order
            std::vector<FrozenTrial> by_value = study.trials();
            std::stable_sort(by_value.begin(), by_value.end(), [](auto& a, auto& b) { return *a.value > *b.value; });
            std::set<int64_t> best;
            for (int i = 0; i < why.n_below; ++i) best.insert(by_value[static_cast<size_t>(i)].number);
            std::set<int64_t> below, above;
            for (const auto& ob : why.below) {
                below.insert(ob.number);
                REQUIRE(ob.param == study.trials()[static_cast<size_t>(ob.number)].params.at("x"));
                REQUIRE(ob.values == study.trials()[static_cast<size_t>(ob.number)].values);
            }
            for (const auto& ob : why.above) above.insert(ob.number);
            REQUIRE(below == best);
            REQUIRE(below.size() + above.size() == static_cast<size_t>(n_trials));
            for (int64_t a : above) REQUIRE_FALSE(below.count(a));
            for (size_t i = 1; i < why.above.size(); ++i) REQUIRE(why.above[i - 1].number < why.above[i].number);
            for (const auto& good : why.below)
                for (const auto& bad : why.above) REQUIRE(good.values[0] >= bad.values[0]);
            // l and g over the range for a figure: finite, and each integrates to ~1 (truncated to [0, 1])
            const auto xs = why.grid(401);
            REQUIRE(xs.size() == 401);
            REQUIRE(xs.front() == 0.0);
            REQUIRE(xs.back() == 1.0);
            double area_l = 0, area_g = 0;
            for (size_t i = 1; i < xs.size(); ++i) {
                const double h = xs[i] - xs[i - 1];
                area_l += h * (std::exp(why.log_l(xs[i])) + std::exp(why.log_l(xs[i - 1]))) / 2;
                area_g += h * (std::exp(why.log_g(xs[i])) + std::exp(why.log_g(xs[i - 1]))) / 2;
            }
            REQUIRE(area_l == Approx(1.0).epsilon(1e-3));
            REQUIRE(area_g == Approx(1.0).epsilon(1e-3));
        }
    }
    // grids of the other kinds: every int step (or n of them), log-spaced floats, every choice
    TpeExplanation why;
    why.distribution = Distribution::int_range(0, 10, 2);
    REQUIRE(why.grid() == std::vector<double>{0, 2, 4, 6, 8, 10});
    why.distribution = Distribution::int_range(1, 1000);
    const auto ints = why.grid(100);
    REQUIRE(ints.size() == 100);
    REQUIRE(ints.front() == 1.0);
    REQUIRE(ints.back() == 1000.0);
    why.distribution = Distribution::float_range(1e-4, 1e-1, true);
    const auto logs = why.grid(4);
    REQUIRE(logs.size() == 4);
    REQUIRE(logs[1] == Approx(1e-3));
    REQUIRE(logs[2] == Approx(1e-2));
    why.distribution = Distribution::categorical({"a", "b", "c"});
    REQUIRE(why.grid() == std::vector<double>{0, 1, 2});
}

// Optuna's constant_liar (a distributed study's owner samples while other trials run): RUNNING trials that have
// drawn the parameter join "above"; they never count in n. Expected groups generated by Optuna 3.1 itself:
// tests/golden/make_constant_liar_golden.py prints
// {"no_liar": {"n": 11, "below": [1, 3], "above": [0, 2, 4, 5, 6, 7, 8, 9, 10]},
//  "liar":    {"n": 11, "below": [1, 3], "above": [0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]}}
TEST_CASE("TPE constant liar: running trials join the bad group as Optuna's do", "[search][tpe]") {
    auto storage = std::make_shared<Storage>(":memory:");
    Study s(storage, "liar", Direction::Minimize, std::make_shared<RandomSampler>(0));
    const Distribution d = Distribution::float_range(-1.0, 1.0);
    const std::vector<double> values{5.0, 1.0, 7.0, 0.5, 3.0, 9.0, 2.0, 8.0, 4.0, 6.0};
    const std::vector<double> xs{0.1, 0.9, -0.3, 0.4, 0.7, -0.8, 0.2, -0.5, 0.6, -0.1};
    const int64_t sid = storage->find_study("liar")->id;
    for (size_t i = 0; i < values.size(); ++i) {
        const FrozenTrial t = storage->create_trial(sid, json::object());
        storage->set_param(t.id, "x", xs[i], d);
        storage->finish_trial(t.id, TrialState::Complete, values[i]);
    }
    const FrozenTrial pruned = storage->create_trial(sid, json::object());
    storage->set_param(pruned.id, "x", 0.33, d);
    storage->report(pruned.id, 3, 2.5);
    storage->finish_trial(pruned.id, TrialState::Pruned, 2.5);
    for (double x : {0.05, -0.95}) storage->set_param(storage->create_trial(sid, json::object()).id, "x", x, d);
    storage->create_trial(sid, json::object());  // trial 13: running, x not drawn yet (the one being sampled)
    const auto groups = [&](bool liar) {
        TpeOptions o;
        o.constant_liar = liar;
        const TpeExplanation why = TpeSampler(7, o).explain(s, 13, "x", d);
        std::vector<int64_t> below, above;
        for (const auto& ob : why.below)
            if (ob.param) below.push_back(ob.number);
        for (const auto& ob : why.above)
            if (ob.param) above.push_back(ob.number);
        return std::make_pair(below, above);
    };
    const auto [b0, a0] = groups(false);
    REQUIRE(b0 == std::vector<int64_t>{1, 3});
    REQUIRE(a0 == std::vector<int64_t>{0, 2, 4, 5, 6, 7, 8, 9, 10});
    const auto [b1, a1] = groups(true);
    REQUIRE(b1 == std::vector<int64_t>{1, 3});
    REQUIRE(a1 == std::vector<int64_t>{0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    // and the liar changes what g(x) is: the two running trials' x values now weigh in it
    TpeOptions liar;
    liar.constant_liar = true;
    const TpeExplanation w0 = TpeSampler(7).explain(s, 13, "x", d), w1 = TpeSampler(7, liar).explain(s, 13, "x", d);
    REQUIRE(w0.g->log_pdf({-0.95}) < w1.g->log_pdf({-0.95}));
}
