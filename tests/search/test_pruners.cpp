// Pruners against Optuna's: every should_prune() answer, the trial's end state and its value, on curves replayed
// from tests/golden/pruner_golden.json (made by Optuna's own pruners: tests/golden/make_pruner_golden.py).
// Also: Hyperband's bracket filter as the sampler sees it, a PRUNED trial's value, the settings' errors, and
// Trial::report's rules.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>

#include "search/pruners.h"
#include "search/samplers.h"
#include "search/space.h"
#include "search/study.h"

using namespace qbert::search;
using json = nlohmann::json;

namespace {

json load_golden() {
    std::ifstream in(std::string(QBERT_SOURCE_ROOT) + "/tests/golden/pruner_golden.json");
    REQUIRE(in.good());
    return json::parse(in);
}

std::map<std::string, std::string> settings_of(const json& s) {
    std::map<std::string, std::string> m;
    for (const auto& [k, v] : s.items()) m[k] = v.is_string() ? v.get<std::string>() : v.dump();
    return m;
}

double num(const json& v) { return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>(); }

}  // namespace

TEST_CASE("pruners decide as Optuna's on the golden curves", "[search][pruners]") {
    const json g = load_golden();
    REQUIRE(g["cases"].size() >= 16);
    size_t checks = 0, prunes = 0;
    for (const json& c : g["cases"]) {
        const std::string label = c["pruner"].get<std::string>() + " " + c["direction"].get<std::string>() + " " +
                                  c["settings"].dump();
        INFO(label);
        auto storage = std::make_shared<Storage>(":memory:");
        Study study(storage, c["study"].get<std::string>(), parse_direction(c["direction"]),
                    std::make_shared<RandomSampler>(0));
        study.set_pruner(make_pruner(c["pruner"], settings_of(c["settings"])));
        const int64_t stride = c.value("stride", 1);
        for (const json& plan : c["trials"]) {
            Trial t = study.ask();
            INFO("trial " << t.number());
            bool pruned = false;
            const json& curve = plan["curve"];
            const json& want = plan["decisions"];
            for (size_t i = 0; i < want.size(); ++i) {
                t.report(num(curve[i]), static_cast<int64_t>(i) * stride);
                const bool d = t.should_prune();
                INFO("step " << i * stride);
                REQUIRE(d == want[i].get<bool>());
                ++checks;
                if (d) pruned = true;
            }
            const FrozenTrial done = pruned ? study.tell(t, TrialState::Pruned) : study.tell(t, plan["value"].get<double>());
            REQUIRE(state_name(done.state) == plan["state"].get<std::string>());
            if (plan["value"].is_null()) {
                REQUIRE_FALSE(done.value.has_value());
            } else {
                REQUIRE(done.value.has_value());
                REQUIRE(*done.value == plan["value"].get<double>());
            }
            prunes += pruned;
        }
    }
    // the golden set exercises both answers many times
    CHECK(checks > 5000);
    CHECK(prunes > 400);
}

TEST_CASE("a pruned trial keeps its last reported value and TPE ranks it", "[search][pruners]") {
    auto storage = std::make_shared<Storage>(":memory:");
    Study study(storage, "s", Direction::Maximize, std::make_shared<RandomSampler>(1));
    Trial a = study.ask();
    a.report(0.5, 0);
    a.report(0.625, 3);
    const FrozenTrial pa = study.tell(a, TrialState::Pruned);
    CHECK(pa.state == TrialState::Pruned);
    REQUIRE(pa.value);
    CHECK(*pa.value == 0.625);
    Trial b = study.ask();
    b.report(std::nan(""), 0);
    const FrozenTrial pb = study.tell(b, TrialState::Pruned);  // non-finite last value: no value, as Optuna
    CHECK_FALSE(pb.value);
    Trial c = study.ask();
    const FrozenTrial pc = study.tell(c, TrialState::Pruned);  // nothing reported
    CHECK_FALSE(pc.value);
    // the best trial is among COMPLETE ones only
    CHECK_FALSE(study.best_trial());
    // and it is all in the storage (a reopened study reads the same)
    CHECK(storage->trial(pa.id).intermediate.size() == 2);
    CHECK(*storage->trial(pa.id).value == 0.625);
}

TEST_CASE("Trial::report keeps the first value of a step and refuses negative steps", "[search][pruners]") {
    auto storage = std::make_shared<Storage>(":memory:");
    Study study(storage, "s", Direction::Minimize, std::make_shared<RandomSampler>(1));
    Trial t = study.ask();
    t.report(1.0, 2);
    t.report(5.0, 2);
    CHECK(storage->trial(t.id()).intermediate.at(2) == 1.0);
    CHECK_THROWS_WITH(t.report(1.0, -1), Catch::Contains("step must be >= 0"));
    CHECK_FALSE(t.should_prune());  // no pruner: never
}

TEST_CASE("pruner names and settings are checked", "[search][pruners]") {
    CHECK_THROWS_WITH(make_pruner("medain"), Catch::Contains("unknown pruner 'medain'") && Catch::Contains("median"));
    CHECK_THROWS_WITH(make_pruner("median", {{"n_startup", "3"}}),
                      Catch::Contains("no setting 'n_startup'") && Catch::Contains("n_startup_trials"));
    CHECK_THROWS_WITH(make_pruner("median", {{"n_warmup_steps", "two"}}),
                      Catch::Contains("n_warmup_steps must be an integer, got 'two'"));
    CHECK_THROWS_WITH(make_pruner("median", {{"interval_steps", "0"}}), Catch::Contains("interval_steps must be at least 1"));
    CHECK_THROWS_WITH(make_pruner("median", {{"n_startup_trials", "-1"}}), Catch::Contains("cannot be negative"));
    CHECK_THROWS_WITH(make_pruner("percentile"), Catch::Contains("needs percentile=P"));
    CHECK_THROWS_WITH(make_pruner("percentile", {{"percentile", "120"}}), Catch::Contains("between 0 and 100"));
    CHECK_THROWS_WITH(make_pruner("successive-halving", {{"reduction_factor", "1"}}),
                      Catch::Contains("reduction_factor must be >= 2"));
    CHECK_THROWS_WITH(make_pruner("successive-halving", {{"min_resource", "0"}}), Catch::Contains("min_resource must be >= 1"));
    CHECK_THROWS_WITH(make_pruner("successive-halving", {{"bootstrap_count", "2"}}), Catch::Contains("needs an explicit"));
    CHECK_THROWS_WITH(make_pruner("hyperband", {{"max_resource", "x"}}), Catch::Contains("integer or 'auto'"));
    CHECK_THROWS_WITH(make_pruner("hyperband", {{"min_resource", "5"}, {"max_resource", "3"}}),
                      Catch::Contains("must be >= min_resource"));
    CHECK_THROWS_WITH(make_pruner("none", {{"x", "1"}}), Catch::Contains("it has none"));
    CHECK_THROWS_WITH(parse_setting("n_startup_trials"), Catch::Contains("not key=value"));
    CHECK(make_pruner("hyperband", {{"max_resource", "auto"}})->settings()["max_resource"] == "auto");
    CHECK(make_pruner("median")->settings()["n_startup_trials"] == 5);
    // a multi-objective study takes no pruner (Optuna's should_prune raises there)
    auto storage = std::make_shared<Storage>(":memory:");
    Study mo(storage, "mo", std::vector<Direction>{Direction::Maximize, Direction::Minimize},
             std::make_shared<RandomSampler>(1));
    CHECK_THROWS_WITH(mo.set_pruner(make_pruner("median")), Catch::Contains("single objective"));
}

TEST_CASE("crc32 is zlib's", "[search][pruners]") {
    CHECK(crc32("") == 0u);
    CHECK(crc32("123456789") == 0xCBF43926u);  // the CRC-32 check value
    CHECK(crc32("The quick brown fox jumps over the lazy dog") == 0x414FA339u);  // zlib.crc32 of the pangram
}

TEST_CASE("with Hyperband the sampler sees the trial's bracket only", "[search][pruners]") {
    auto storage = std::make_shared<Storage>(":memory:");
    Study study(storage, "hb", Direction::Maximize, std::make_shared<RandomSampler>(3));
    auto hb = std::make_shared<HyperbandPruner>(HyperbandSettings{1, 27, 3, 0});
    study.set_pruner(hb);
    // before the first prune() call there are no brackets: every trial is seen
    for (int i = 0; i < 3; ++i) {
        Trial t = study.ask();
        CHECK(study.history().size() == static_cast<size_t>(i + 1));
        t.report(0.1 * i, 0);
        study.tell(t, 0.1 * i);
    }
    {
        Trial t = study.ask();
        t.report(0.2, 0);
        t.should_prune();  // initializes the brackets (max_resource is explicit)
        study.tell(t, 0.2);
    }
    REQUIRE(hb->n_brackets() == 4);  // floor(log3(27)) + 1
    size_t seen_less = 0;
    for (int i = 0; i < 20; ++i) {
        Trial t = study.ask();
        const int64_t mine = hb->bracket_of("hb", t.number());
        for (const FrozenTrial& h : study.history()) CHECK(hb->bracket_of("hb", h.number) == mine);
        seen_less += study.history().size() < study.trials().size();
        study.tell(t, 0.5);
    }
    CHECK(seen_less > 0);
}

TEST_CASE("exec: 'report STEP VALUE' lines reach the pruner and a pruned command is stopped", "[search][pruners]") {
    const json p = {{"x", 0.5}};
    std::vector<std::pair<int64_t, double>> seen;
    // reports every step, never the last line; the value is the last other line
    auto r = run_exec("for s in 0 1 2; do echo \"report $s 0.$s\"; done; echo 0.75", p, 0, "",
                      0.0, 1, [&](int64_t s, double v) {
                          seen.push_back({s, v});
                          return false;
                      });
    REQUIRE(r.value == 0.75);
    REQUIRE_FALSE(r.pruned);
    REQUIRE(seen == std::vector<std::pair<int64_t, double>>{{0, 0.0}, {1, 0.1}, {2, 0.2}});
    // stopped at step 1: what it would print later (and the sleep) never happens
    const auto t0 = std::chrono::steady_clock::now();
    r = run_exec("echo 'report 0 0.1'; echo 'report 1 0.2'; sleep 30; echo 0.9", p, 0, "", 0.0, 1,
                 [](int64_t s, double) { return s == 1; });
    REQUIRE(r.pruned);
    REQUIRE(r.pruned_step == 1);
    REQUIRE_FALSE(r.value);
    REQUIRE(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 10.0);
    // malformed report lines stop the command and say what is wrong
    for (const char* bad : {"report", "report 1", "report x 0.5", "report -1 0.5", "report 1 0.5 extra", "report 2 abc"}) {
        r = run_exec(std::string("echo '") + bad + "'; echo 1", p, 0, "", 0.0, 1, [](int64_t, double) { return false; });
        INFO(bad);
        REQUIRE_FALSE(r.value);
        REQUIRE_THAT(r.error, Catch::Contains("malformed report line") && Catch::Contains("report STEP VALUE"));
    }
    // a word that only starts with 'report' is an ordinary line; nan is a value
    r = run_exec("echo 'report 3 nan'; echo reporting; echo 2", p, 0, "", 0.0, 1, [&](int64_t s, double v) {
        seen.push_back({s, v});
        return false;
    });
    REQUIRE(r.value == 2.0);
    REQUIRE(std::isnan(seen.back().second));
}
