// Multi-objective studies: Pareto fronts, hypervolume, NSGA-II and MOTPE (Optuna's semantics), storage of values
// and directions (old single-objective files included), the exec objective with several values and
// `qbert search --directions`.
#include <sqlite3.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "experiments/search_run.h"
#include "search/multi_objective.h"
#include "search/samplers.h"
#include "search/space.h"
#include "support/helpers.h"
#include "util/csv.h"

using namespace qbert::search;
using qbert::test::TempDir;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

std::shared_ptr<Storage> mo_memory() { return std::make_shared<Storage>(":memory:"); }

// The definition, written out: i dominated iff some j is no worse everywhere and better somewhere.
std::set<int64_t> brute_force_front(const std::vector<FrozenTrial>& trials, const std::vector<Direction>& dirs) {
    const auto no_worse = [&](double a, double b, Direction d) { return d == Direction::Minimize ? a <= b : a >= b; };
    std::set<int64_t> front;
    for (const auto& a : trials) {
        if (a.state != TrialState::Complete) continue;
        bool dominated = false;
        for (const auto& b : trials) {
            if (b.state != TrialState::Complete || &a == &b) continue;
            bool all_no_worse = true, one_better = false;
            for (size_t k = 0; k < dirs.size(); ++k) {
                all_no_worse = all_no_worse && no_worse(b.values[k], a.values[k], dirs[k]);
                one_better = one_better || b.values[k] != a.values[k];
            }
            dominated = dominated || (all_no_worse && one_better);
        }
        if (!dominated) front.insert(a.number);
    }
    return front;
}

// Volume by inclusion-exclusion over every subset (exact, exponential: small sets only).
double hv_inclusion_exclusion(const std::vector<Point>& pts, const Point& ref) {
    double v = 0.0;
    for (uint32_t mask = 1; mask < (1u << pts.size()); ++mask) {
        Point corner(ref.size(), -1e300);
        int bits = 0;
        for (size_t i = 0; i < pts.size(); ++i)
            if (mask >> i & 1u) {
                ++bits;
                for (size_t k = 0; k < ref.size(); ++k) corner[k] = std::max(corner[k], pts[i][k]);
            }
        double box = 1.0;
        for (size_t k = 0; k < ref.size(); ++k) box *= ref[k] - corner[k];
        v += (bits % 2 ? 1.0 : -1.0) * box;
    }
    return v;
}

FrozenTrial done_trial(int64_t number, std::vector<double> values) {
    FrozenTrial t;
    t.number = number;
    t.state = TrialState::Complete;
    t.values = std::move(values);
    return t;
}

// ZDT1 with n parameters in [0, 1] (both objectives minimised): the front is f2 = 1 - sqrt(f1) at x1.. = 0.
std::vector<double> zdt1(Trial& t, int n) {
    const double x0 = t.suggest_float("x0", 0, 1);
    double s = 0;
    static const char* names[] = {"x1", "x2", "x3", "x4", "x5"};
    for (int i = 1; i < n; ++i) s += t.suggest_float(names[i - 1], 0, 1);
    const double g = 1 + 9 * s / (n - 1);
    return {x0, g * (1 - std::sqrt(x0 / g))};
}

// A mixed problem: maximize an accuracy-like value, minimize a cost (int bits, a categorical format, a float).
std::vector<double> acc_vs_bits(Trial& t) {
    const int64_t bits = t.suggest_int("bits", 2, 16);
    const std::string fmt = t.suggest_string("format", {"fixed", "minifloat", "log"});
    const double sparsity = t.suggest_float("sparsity", 0.0, 0.9);
    const double bonus = fmt == "minifloat" ? 0.02 : fmt == "log" ? -0.03 : 0.0;
    const double acc = 0.9 - 0.5 * std::exp(-0.45 * static_cast<double>(bits - 2)) - 0.3 * sparsity * sparsity + bonus;
    return {acc, static_cast<double>(bits) * (1.0 - sparsity)};
}

// Hypervolume of a finished study's COMPLETE trials (maximised objectives negated, reference likewise), points
// beyond the reference left out.
double study_hv(const Study& s, const Point& ref_values) {
    const auto& dirs = s.directions();
    const Point ref = to_loss(ref_values, dirs);
    std::vector<Point> pts;
    for (const auto& t : s.trials()) {
        if (!t.complete()) continue;
        const Point p = to_loss(t.values, dirs);
        bool inside = true;
        for (size_t k = 0; k < p.size(); ++k) inside = inside && p[k] <= ref[k];
        if (inside) pts.push_back(p);
    }
    return hypervolume(pts, ref);
}

double hv_after(const std::shared_ptr<Sampler>& sampler, int n_trials, const std::vector<Direction>& dirs,
                const Study::MultiObjective& f, const Point& ref) {
    Study s(mo_memory(), "mo", dirs, sampler);
    OptimizeOptions o;
    o.n_trials = n_trials;
    o.catch_errors = false;
    s.optimize(f, o);
    return study_hv(s, ref);
}

// Everything written to stdout while `f` runs.
std::string capture_stdout(const std::function<void()>& f, const std::string& file) {
    std::fflush(stdout);
    const int saved = dup(1);
    FILE* out = std::fopen(file.c_str(), "w");
    dup2(fileno(out), 1);
    try {
        f();
    } catch (...) {
        std::fflush(stdout);
        dup2(saved, 1);
        close(saved);
        std::fclose(out);
        throw;
    }
    std::fflush(stdout);
    dup2(saved, 1);
    close(saved);
    std::fclose(out);
    std::ifstream in(file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    while (qbert::util::read_csv_row(in, row)) rows.push_back(row);
    return rows;
}

}  // namespace

TEST_CASE("multi-objective: best_trials is exactly the brute-force Pareto front (ties, duplicates)", "[search][mo]") {
    const std::vector<std::vector<Direction>> cases{
        {Direction::Minimize, Direction::Minimize},
        {Direction::Maximize, Direction::Minimize},
        {Direction::Maximize, Direction::Minimize, Direction::Maximize},
        {Direction::Minimize}};
    for (uint64_t seed = 0; seed < 6; ++seed)
        for (const auto& dirs : cases) {
            Study s(mo_memory(), "p", dirs, std::make_shared<RandomSampler>(seed));
            SamplerRng rng(seed * 31 + dirs.size());
            for (int i = 0; i < 40; ++i) {
                Trial t = s.ask();
                t.suggest_float("x", 0, 1);
                std::vector<double> v;  // few distinct values: many ties and exact duplicates
                for (size_t k = 0; k < dirs.size(); ++k) v.push_back(static_cast<double>(rng.below(4)));
                if (i % 13 == 5) s.tell(t, TrialState::Pruned);
                else if (i % 11 == 7) s.tell(t, std::vector<double>(dirs.size() + 1, 1.0));  // wrong count: FAIL
                else s.tell(t, v);
            }
            const auto trials = s.trials();
            std::set<int64_t> got;
            for (const auto& t : s.best_trials()) got.insert(t.number);
            INFO("seed " << seed << " objectives " << dirs.size());
            REQUIRE(got == brute_force_front(trials, dirs));
            REQUIRE(got.size() >= 1);
            // a duplicate of a front member is on the front too
            for (const auto& a : trials)
                for (const auto& b : trials)
                    if (a.complete() && b.complete() && a.values == b.values) REQUIRE(got.count(a.number) == got.count(b.number));
        }
    // the mask itself: equal points do not dominate each other
    REQUIRE(pareto_mask({{1, 2}, {1, 2}, {2, 2}, {0, 3}}) == std::vector<bool>{true, true, false, true});
    REQUIRE(dominates({1, 2}, {1, 3}));
    REQUIRE_FALSE(dominates({1, 2}, {1, 2}));
    REQUIRE_FALSE(dominates({0, 3}, {1, 2}));
}

TEST_CASE("multi-objective: tell checks values as Optuna; best_trial/direction/report refuse; single objective unchanged", "[search][mo]") {
    Study s(mo_memory(), "t", {Direction::Maximize, Direction::Minimize}, std::make_shared<RandomSampler>(1));
    REQUIRE(s.multi_objective());
    REQUIRE(s.directions() == std::vector<Direction>{Direction::Maximize, Direction::Minimize});
    Trial a = s.ask();
    FrozenTrial f = s.tell(a, {0.9, 12.0});
    REQUIRE(f.state == TrialState::Complete);
    REQUIRE(f.values == std::vector<double>{0.9, 12.0});
    REQUIRE_FALSE(f.value);  // Optuna's trial.value is for single-objective studies
    Trial b = s.ask();
    f = s.tell(b, {0.9, 12.0, 3.0});
    REQUIRE(f.state == TrialState::Fail);
    REQUIRE_THAT(f.system_attrs.at("reason").get<std::string>(), Contains("3 values") && Contains("2 objectives"));
    Trial c = s.ask();
    f = s.tell(c, 0.5);  // one value for two objectives
    REQUIRE(f.state == TrialState::Fail);
    REQUIRE_THAT(f.system_attrs.at("reason").get<std::string>(), Contains("1 value,"));
    Trial d = s.ask();
    f = s.tell(d, {std::nan(""), 1.0});
    REQUIRE(f.state == TrialState::Fail);
    REQUIRE_THAT(f.system_attrs.at("reason").get<std::string>(), Contains("nan") && Contains("objective 0"));
    Trial e = s.ask();
    REQUIRE_THROWS_WITH(e.report(0.5, 1), Contains("single-objective"));
    REQUIRE_THROWS_WITH(s.tell(e, TrialState::Complete, 1.0), Contains("one value per objective"));
    REQUIRE_THROWS_WITH(s.best_trial(), Contains("best_trials"));
    REQUIRE_THROWS_WITH(s.direction(), Contains("2 objectives"));
    REQUIRE(s.best_trials().size() == 1);
    // single objective: values = {value}; best_trials = every trial with the best value
    Study one(mo_memory(), "one", Direction::Minimize, std::make_shared<RandomSampler>(1));
    for (double v : {3.0, 1.0, 2.0, 1.0}) {
        Trial t = one.ask();
        one.tell(t, std::vector<double>{v});  // a vector of one value is the same as the value
    }
    REQUIRE(one.trials()[1].value == 1.0);
    REQUIRE(one.trials()[1].values == std::vector<double>{1.0});
    REQUIRE(one.best_trial()->number == 1);
    REQUIRE(one.best_trials().size() == 2);
    REQUIRE_FALSE(one.multi_objective());
    Trial bad = one.ask();
    REQUIRE(one.tell(bad, std::vector<double>{1.0, 2.0}).state == TrialState::Fail);
}

TEST_CASE("hypervolume: hand-computed 2-D and 3-D cases, inclusion-exclusion on random sets, Optuna's errors", "[search][mo]") {
    // 2-D staircase: slabs 3 + 2 + 1; a dominated point and a duplicate change nothing
    REQUIRE(hypervolume({{1, 3}, {2, 2}, {3, 1}}, {4, 4}) == Approx(6.0));
    REQUIRE(hypervolume({{3, 1}, {2.5, 2.5}, {2, 2}, {1, 3}, {2, 2}}, {4, 4}) == Approx(6.0));
    REQUIRE(hypervolume({{1, 4}, {2, 2}, {4, 1}}, {4.4, 4.4}) == Approx(6.56));  // the MOTPE example below
    // 3-D: one box; two boxes 0.5 + 0.25 - 0.125; three unit slabs 3 x 4 - 3 x 2 + 1
    REQUIRE(hypervolume({{0, 0, 0}}, {1, 1, 1}) == Approx(1.0));
    REQUIRE(hypervolume({{0, 0, 0.5}, {0.5, 0.5, 0}}, {1, 1, 1}) == Approx(0.625));
    REQUIRE(hypervolume({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, {2, 2, 2}) == Approx(7.0));
    // a point on the reference plane adds nothing
    REQUIRE(hypervolume({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {2, 0, 0}}, {2, 2, 2}) == Approx(7.0));
    REQUIRE(hypervolume({}, {1, 1}) == 0.0);
    REQUIRE(std::isinf(hypervolume({{0, 0}}, {INFINITY, 1})));
    REQUIRE_THROWS_WITH(hypervolume({{0, 2}}, {1, 1}), Contains("reference point") && Contains("coordinate 1"));
    // random sets in 2-5 dimensions against inclusion-exclusion
    SamplerRng rng(5);
    for (size_t d = 2; d <= 5; ++d)
        for (int rep = 0; rep < 20; ++rep) {
            std::vector<Point> pts(1 + rng.below(9));
            for (auto& p : pts) {
                p.resize(d);
                for (double& x : p) x = std::round(rng.uniform() * 8) / 8;  // coarse: ties and duplicates
            }
            const Point ref(d, 1.0);
            INFO("d=" << d << " n=" << pts.size());
            REQUIRE(hypervolume(pts, ref) == Approx(hv_inclusion_exclusion(pts, ref)).margin(1e-12));
        }
}

TEST_CASE("NSGA-II: non-dominated sort, crowding distance, elite selection", "[search][mo]") {
    // A(1,5) B(2,3) C(4,1) F(2,3) on the front; D(3,4) behind B; E(5,5) behind D
    const std::vector<Point> pts{{1, 5}, {2, 3}, {4, 1}, {3, 4}, {5, 5}, {2, 3}};
    REQUIRE(non_domination_ranks(pts) == std::vector<int>{0, 0, 0, 1, 2, 0});
    // crowding: the extremes infinite, B = (4-1)/3 + (5-1)/4 = 2
    const auto cd = crowding_distance({{1, 5}, {2, 3}, {4, 1}});
    REQUIRE(std::isinf(cd[0]));
    REQUIRE(std::isinf(cd[2]));
    REQUIRE(cd[1] == Approx(2.0));
    REQUIRE(crowding_distance({{1, 1}, {1, 1}}) == std::vector<double>{0, 0});  // all equal: nothing
    // with the duplicate B = F (Optuna's in-place sorts): B = 1/3 + 1/2, F = 2/3 + 1/2
    const auto cd4 = crowding_distance({{1, 5}, {2, 3}, {4, 1}, {2, 3}});
    REQUIRE(cd4[1] == Approx(1.0 / 3 + 0.5));
    REQUIRE(cd4[3] == Approx(2.0 / 3 + 0.5));
    // elite of 3 from the six: rank 0 does not fit whole, so its most crowded-apart three: A, C, F
    std::vector<FrozenTrial> trials;
    for (size_t i = 0; i < pts.size(); ++i) trials.push_back(done_trial(static_cast<int64_t>(i), pts[i]));
    std::vector<const FrozenTrial*> pop;
    for (const auto& t : trials) pop.push_back(&t);
    const std::vector<Direction> minmin{Direction::Minimize, Direction::Minimize};
    auto elite = NsgaIISampler::select_elite(pop, minmin, 3);
    REQUIRE(std::set<size_t>(elite.begin(), elite.end()) == std::set<size_t>{0, 2, 5});
    // elite of 5: all of rank 0, then the best of rank 1
    elite = NsgaIISampler::select_elite(pop, minmin, 5);
    REQUIRE(std::set<size_t>(elite.begin(), elite.end()) == std::set<size_t>{0, 1, 2, 3, 5});
    // maximising the first objective turns the picture around: E(5,5) is then on the front
    elite = NsgaIISampler::select_elite(pop, {Direction::Maximize, Direction::Minimize}, 1);
    REQUIRE(elite.size() == 1);
    REQUIRE(NsgaIISampler::select_elite(pop, minmin, 6).size() == 6);
}

TEST_CASE("NSGA-II: generations in system attrs, first generation random, children from parents", "[search][mo]") {
    NsgaIIOptions o;
    o.population_size = 8;
    o.mutation_prob = 0.0;    // children are pure crossovers / copies of the parents
    o.crossover_prob = 1.0;
    const std::vector<Direction> dirs{Direction::Minimize, Direction::Minimize};
    Study s(mo_memory(), "g", dirs, std::make_shared<NsgaIISampler>(4, o));
    Study r(mo_memory(), "r", dirs, std::make_shared<RandomSampler>(4));
    OptimizeOptions opt;
    opt.n_trials = 30;
    opt.catch_errors = false;
    const auto f = [](Trial& t) { return zdt1(t, 3); };
    s.optimize(Study::MultiObjective(f), opt);
    r.optimize(Study::MultiObjective(f), opt);
    const auto trials = s.trials();
    for (size_t i = 0; i < trials.size(); ++i) {
        REQUIRE(trials[i].system_attrs.at(NsgaIISampler::kGenerationKey).get<int64_t>() == static_cast<int64_t>(i / 8));
        if (i < 8) REQUIRE(trials[i].params == r.trials()[i].params);  // generation 0: RandomSampler's draws
    }
    // every parameter of a generation-1 child comes from some trial of generation 0 (its parents)
    for (size_t i = 8; i < 16; ++i)
        for (const auto& [name, v] : trials[i].params) {
            bool found = false;
            for (size_t j = 0; j < 8; ++j) found = found || trials[j].params.at(name) == v;
            REQUIRE(found);
        }
    // defaults are Optuna's
    REQUIRE(make_sampler("nsga2", 0)->name() == "nsga2");
    NsgaIIOptions tiny;
    tiny.population_size = 1;
    REQUIRE_THROWS_WITH(NsgaIISampler(0, tiny), Contains("population_size"));
}

TEST_CASE("NSGA-II and MOTPE beat random search on ZDT1 and a mixed problem (mean hypervolume over seeds)", "[search][mo]") {
    const std::vector<Direction> minmin{Direction::Minimize, Direction::Minimize};
    const std::vector<Direction> maxmin{Direction::Maximize, Direction::Minimize};
    const Study::MultiObjective z = [](Trial& t) { return zdt1(t, 4); };
    const Study::MultiObjective mixed = acc_vs_bits;
    const Point z_ref{1.1, 11.0}, mixed_ref{0.4, 16.0};  // ZDT1: f2 <= 10; mixed: accuracy >= 0.4, cost <= 16
    NsgaIIOptions small;
    small.population_size = 10;  // 60 trials = 6 generations (the default 50 would leave 10 evolved trials)
    double rnd = 0, nsga = 0, tpe = 0, rnd_m = 0, tpe_m = 0;
    const int seeds = 8;
    for (uint64_t seed = 0; seed < seeds; ++seed) {
        rnd += hv_after(std::make_shared<RandomSampler>(seed), 60, minmin, z, z_ref);
        nsga += hv_after(std::make_shared<NsgaIISampler>(seed, small), 60, minmin, z, z_ref);
        tpe += hv_after(std::make_shared<TpeSampler>(seed), 60, minmin, z, z_ref);
        rnd_m += hv_after(std::make_shared<RandomSampler>(seed), 60, maxmin, mixed, mixed_ref);
        tpe_m += hv_after(std::make_shared<TpeSampler>(seed), 60, maxmin, mixed, mixed_ref);
    }
    INFO("ZDT1 (4 params) mean hv: random " << rnd / seeds << " nsga2 " << nsga / seeds << " tpe " << tpe / seeds);
    INFO("mixed mean hv: random " << rnd_m / seeds << " tpe " << tpe_m / seeds);
    REQUIRE(nsga > rnd);
    REQUIRE(tpe > 1.04 * rnd);  // measured: random 9.93, nsga2 10.13, tpe 10.64 (the true front: 11.77)
    REQUIRE(tpe_m > rnd_m);
    // MOTPE is reproducible from its seed
    REQUIRE(hv_after(std::make_shared<TpeSampler>(3), 25, minmin, z, z_ref) ==
            hv_after(std::make_shared<TpeSampler>(3), 25, minmin, z, z_ref));
}

TEST_CASE("MOTPE: below by rank then HSSP, hypervolume-contribution weights; start-up is random", "[search][mo]") {
    // greedy HSSP: (2,2) adds 9 alone; then (1,4) and (4,1) tie at 1 and the lexicographically first wins
    REQUIRE(hssp_greedy({{1, 4}, {2, 2}, {4, 1}}, 2, {5, 5}) == std::vector<size_t>{1, 0});
    REQUIRE(hssp_greedy({{1, 4}, {2, 2}}, 2, {5, 5}) == std::vector<size_t>{0, 1});
    // duplicates are chosen only after every distinct point (the earliest first), and returned in index order
    REQUIRE(hssp_greedy({{1, 1}, {1, 1}, {2, 0}}, 2, {3, 3}) == std::vector<size_t>{0, 2});
    REQUIRE(hssp_greedy({{1, 1}, {1, 1}, {2, 0}, {2, 0}}, 3, {3, 3}) == std::vector<size_t>{0, 1, 2});
    REQUIRE(tpe_reference_point({{1, -2}, {0, -3}}) == Point{1.1, -1.8});
    REQUIRE(tpe_reference_point({{0, 1}})[0] == 1e-12);

    // rank 0: (1,4) (2,2) (4,1); rank 1: (3,5) (5,3) (4,4). Four below: rank 0 and, by HSSP with the reference
    // 1.1 x (5, 5), (4,4) (2.25 alone against 1.25 for the others)
    const std::vector<Point> vals{{3, 5}, {1, 4}, {5, 3}, {2, 2}, {4, 4}, {4, 1}};
    std::vector<FrozenTrial> trials;
    for (size_t i = 0; i < vals.size(); ++i) trials.push_back(done_trial(static_cast<int64_t>(i), vals[i]));
    std::vector<const FrozenTrial*> ptrs;
    for (const auto& t : trials) ptrs.push_back(&t);
    const std::vector<Direction> minmin{Direction::Minimize, Direction::Minimize};
    REQUIRE(TpeSampler::below_by_rank(ptrs, minmin, 4) == std::vector<bool>{false, true, false, true, true, true});
    REQUIRE(TpeSampler::below_by_rank(ptrs, minmin, 3) == std::vector<bool>{false, true, false, true, false, true});
    REQUIRE(TpeSampler::below_by_rank(ptrs, minmin, 0) == std::vector<bool>(6, false));
    // the same with the first objective maximised and negated values
    std::vector<FrozenTrial> flipped;
    for (size_t i = 0; i < vals.size(); ++i) flipped.push_back(done_trial(static_cast<int64_t>(i), {-vals[i][0], vals[i][1]}));
    std::vector<const FrozenTrial*> fptrs;
    for (const auto& t : flipped) fptrs.push_back(&t);
    REQUIRE(TpeSampler::below_by_rank(fptrs, {Direction::Maximize, Direction::Minimize}, 4) ==
            std::vector<bool>{false, true, false, true, true, true});
    // weights of below (1,4) (2,2) (4,4) (4,1): reference 1.1 x (4, 4), hv 6.56; contributions 0.4, 4.0, 0.4 of
    // the front, (4,4) off the front
    const std::vector<const FrozenTrial*> below{ptrs[1], ptrs[3], ptrs[4], ptrs[5]};
    const auto w = TpeSampler::below_weights(below, minmin);
    REQUIRE(w[0] == Approx(0.1));
    REQUIRE(w[1] == Approx(1.0));
    REQUIRE(w[2] == 1e-12);
    REQUIRE(w[3] == Approx(0.1));
    REQUIRE(TpeSampler::below_weights({ptrs[1]}, minmin) == std::vector<double>{1.0});

    // the first 10 trials are RandomSampler's draws with the same seed, as in single-objective TPE
    Study tpe(mo_memory(), "t", minmin, std::make_shared<TpeSampler>(9));
    Study rnd(mo_memory(), "r", minmin, std::make_shared<RandomSampler>(9));
    for (int i = 0; i < 10; ++i) {
        Trial a = tpe.ask(), b = rnd.ask();
        REQUIRE(a.suggest_float("x", -5, 5) == b.suggest_float("x", -5, 5));
        tpe.tell(a, {1.0, static_cast<double>(i)});
        rnd.tell(b, {1.0, static_cast<double>(i)});
    }
}

TEST_CASE("storage: values and directions round-trip; a different direction list is an error naming both", "[search][mo]") {
    TempDir dir;
    const std::string db = dir.file("mo.db");
    const std::vector<Direction> dirs{Direction::Maximize, Direction::Minimize, Direction::Minimize};
    {
        Study s(std::make_shared<Storage>(db), "m", dirs, std::make_shared<NsgaIISampler>(1));
        for (int i = 0; i < 5; ++i) {
            Trial t = s.ask();
            const double x = t.suggest_float("x", 0, 1);
            s.tell(t, {x, 1.0 - x, 0.25 * i});
        }
        Trial t = s.ask();
        s.tell(t, {1.0, 2.0});  // FAIL: no values kept
    }
    Study again(std::make_shared<Storage>(db), "m", dirs, std::make_shared<RandomSampler>(1), OpenMode::Load);
    REQUIRE(again.directions() == dirs);
    const auto trials = again.trials();
    REQUIRE(trials.size() == 6);
    for (int i = 0; i < 5; ++i) {
        const double x = trials[i].params.at("x");
        REQUIRE(trials[i].values == std::vector<double>{x, 1.0 - x, 0.25 * i});
        REQUIRE_FALSE(trials[i].value);
    }
    REQUIRE(trials[5].state == TrialState::Fail);
    REQUIRE(trials[5].values.empty());
    REQUIRE(Storage(db).find_study("m")->directions == dirs);
    REQUIRE_THROWS_WITH(Study(std::make_shared<Storage>(db), "m", {Direction::Maximize, Direction::Minimize},
                              std::make_shared<RandomSampler>(1)),
                        Contains("[maximize, minimize, minimize]") && Contains("[maximize, minimize]"));
    REQUIRE_THROWS_WITH(Study(std::make_shared<Storage>(db), "m", Direction::Maximize, std::make_shared<RandomSampler>(1)),
                        Contains("[maximize, minimize, minimize]") && Contains("not maximize"));
    // directions as text: errors name the bad entry
    REQUIRE(parse_directions("maximize, minimize") == std::vector<Direction>{Direction::Maximize, Direction::Minimize});
    REQUIRE(directions_name(dirs) == "maximize,minimize,minimize");
    REQUIRE_THROWS_WITH(parse_directions("maximize,minimise"), Contains("'minimise'"));
    REQUIRE_THROWS_WITH(parse_directions("maximize,,minimize"), Contains("empty entry"));
}

TEST_CASE("storage: a study file written before multi-objective studies opens, reads and continues", "[search][mo]") {
    TempDir dir;
    const std::string db = dir.file("old.db");
    {  // the schema and rows exactly as the single-objective storage wrote them
        sqlite3* h = nullptr;
        REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
        const char* sql = R"(
            CREATE TABLE studies (study_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, direction TEXT NOT NULL,
              meta TEXT NOT NULL, created TEXT NOT NULL);
            CREATE TABLE trials (trial_id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(study_id),
              number INTEGER NOT NULL, state TEXT NOT NULL, value REAL, finish_order INTEGER,
              user_attrs TEXT NOT NULL, system_attrs TEXT NOT NULL,
              started TEXT NOT NULL, finished TEXT, started_s REAL NOT NULL, duration_s REAL,
              UNIQUE(study_id, number));
            CREATE TABLE params (trial_id INTEGER NOT NULL REFERENCES trials(trial_id), name TEXT NOT NULL,
              internal REAL NOT NULL, distribution TEXT NOT NULL, PRIMARY KEY(trial_id, name));
            CREATE TABLE intermediate (trial_id INTEGER NOT NULL REFERENCES trials(trial_id), step INTEGER NOT NULL,
              value REAL NOT NULL, PRIMARY KEY(trial_id, step));
            INSERT INTO studies VALUES (1, 'old', 'minimize', '{"sampler":"tpe"}', '2025-01-01T00:00:00.000Z');
            INSERT INTO trials VALUES (1, 1, 0, 'complete', 0.25, 0, '{}', '{}', 't', 't', 1.0, 0.1);
            INSERT INTO trials VALUES (2, 1, 1, 'complete', 0.125, 1, '{}', '{}', 't', 't', 2.0, 0.1);
            INSERT INTO trials VALUES (3, 1, 2, 'fail', NULL, 2, '{}', '{"reason":"boom"}', 't', 't', 3.0, 0.1);
            INSERT INTO params VALUES (1, 'x', 0.5, '{"type":"float","low":0.0,"high":1.0,"log":false}');
            INSERT INTO params VALUES (2, 'x', 0.35355, '{"type":"float","low":0.0,"high":1.0,"log":false}');
        )";
        char* err = nullptr;
        const int rc = sqlite3_exec(h, sql, nullptr, nullptr, &err);
        INFO((err ? err : ""));
        REQUIRE(rc == SQLITE_OK);
        sqlite3_close(h);
    }
    Study s(std::make_shared<Storage>(db), "old", Direction::Minimize, std::make_shared<TpeSampler>(0), OpenMode::Load);
    REQUIRE(s.directions() == std::vector<Direction>{Direction::Minimize});
    REQUIRE(s.direction() == Direction::Minimize);
    auto trials = s.trials();
    REQUIRE(trials.size() == 3);
    REQUIRE(trials[0].value == 0.25);
    REQUIRE(trials[1].values == std::vector<double>{0.125});
    REQUIRE(trials[2].values.empty());
    REQUIRE(s.best_trial()->number == 1);
    Trial t = s.ask();
    t.suggest_float("x", 0, 1);
    s.tell(t, 0.0625);
    REQUIRE(s.best_trial()->number == 3);
    REQUIRE_THROWS_WITH(Study(std::make_shared<Storage>(db), "old", {Direction::Minimize, Direction::Minimize},
                              std::make_shared<RandomSampler>(0), OpenMode::Load),
                        Contains("has directions minimize, not [minimize, minimize]"));
}

TEST_CASE("exec objective: several values on the last line, spaces or commas; clear errors", "[search][mo]") {
    const json p = {{"x", 1.5}, {"n", 3}};
    auto r = run_exec("echo working; echo {x} $(( {n} * 2 ))", p, 0, "", 0.0, 2);
    REQUIRE(r.values == std::vector<double>{1.5, 6.0});
    REQUIRE(r.error.empty());
    r = run_exec("echo '0.25,-3e2'", p, 0, "", 0.0, 2);
    REQUIRE(r.values == std::vector<double>{0.25, -300.0});
    r = run_exec("echo '0.25, 7 , 1'", p, 0, "", 0.0, 3);
    REQUIRE(r.values == std::vector<double>{0.25, 7.0, 1.0});
    r = run_exec("echo 1 2 3", p, 0, "", 0.0, 2);
    REQUIRE(r.values.empty());
    REQUIRE_THAT(r.error, Contains("3 values") && Contains("2 objectives") && Contains("'1 2 3'"));
    r = run_exec("echo acc=0.9 12", p, 0, "", 0.0, 2);
    REQUIRE_THAT(r.error, Contains("'acc=0.9'"));
    r = run_exec("echo 0.9 nan", p, 0, "", 0.0, 2);
    REQUIRE_THAT(r.error, Contains("non-finite") && Contains("'nan'"));
    r = run_exec("echo 0.9 12; exit 2", p, 0, "", 0.0, 2);
    REQUIRE_THAT(r.error, Contains("status 2"));
    // one objective: as before (a whole line that is one number)
    r = run_exec("echo 0.5", p, 0, "");
    REQUIRE(r.value == 0.5);
    REQUIRE(r.values == std::vector<double>{0.5});
    r = run_exec("echo 0.5 0.7", p, 0, "");
    REQUIRE_THAT(r.error, Contains("not a number"));
}

TEST_CASE("qbert search --directions: exec with two values, trials.csv columns, pareto.csv, pareto_front last", "[search][mo]") {
    TempDir dir;
    {
        std::ofstream space(dir.file("space.toml"));
        space << "[x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n[n]\ntype = \"int\"\nlow = 1\nhigh = 4\n"
                 "[act]\ntype = \"categorical\"\nchoices = [\"relu\", \"gelu\"]\n";
    }
    qbert::experiments::SearchOptions o;
    o.objective = "exec";
    o.sampler = "nsga2";
    o.trials = 14;
    o.seed = 2;
    o.space_file = dir.file("space.toml");
    o.exec_cmd = "awk 'BEGIN { print {x} + {n}, ({x} - 1) * ({x} - 1) }'";
    o.directions = "maximize,minimize";
    o.storage = dir.file("s.db");
    o.out = dir.file("out");
    const std::string log = capture_stdout([&] { REQUIRE(qbert::experiments::run_search(o) == 0); }, dir.file("log.txt"));
    std::vector<std::string> lines;
    std::istringstream in(log);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    REQUIRE_THAT(lines.back(), Contains("pareto_front="));
    const auto trials = read_csv(dir.file("out/trials.csv"));
    const auto pareto = read_csv(dir.file("out/pareto.csv"));
    REQUIRE(trials[0] == std::vector<std::string>{"number", "state", "value_0", "value_1", "pareto", "seconds",
                                                  "test_accuracy", "parameters", "act", "n", "x", "reason"});
    REQUIRE(pareto[0] == std::vector<std::string>{"number", "value_0", "value_1", "act", "n", "x"});
    REQUIRE(trials.size() == 15);
    const size_t k = pareto.size() - 1;
    REQUIRE(lines.back() == "pareto_front=" + std::to_string(k));
    // pareto.csv = the rows of trials.csv marked pareto = the brute-force front of the study
    Study s(std::make_shared<Storage>(o.storage), "exec", {Direction::Maximize, Direction::Minimize},
            std::make_shared<RandomSampler>(0), OpenMode::Load);
    const auto front = brute_force_front(s.trials(), s.directions());
    std::set<int64_t> in_csv, marked;
    for (size_t i = 1; i < pareto.size(); ++i) in_csv.insert(std::stoll(pareto[i][0]));
    for (size_t i = 1; i < trials.size(); ++i) {
        if (trials[i][4] == "1") marked.insert(std::stoll(trials[i][0]));
        const double x = std::stod(trials[i][10]), n = std::stod(trials[i][9]);
        REQUIRE(std::stod(trials[i][2]) == Approx(x + n));  // the values, in order
        REQUIRE(std::stod(trials[i][3]) == Approx((x - 1) * (x - 1)));
    }
    REQUIRE(in_csv == front);
    REQUIRE(marked == front);
    // progress lines show every value
    REQUIRE(log.find("[exec 0] complete values=") != std::string::npos);

    // a command printing the wrong count fails its trials, with the reason in trials.csv
    o.exec_cmd = "echo 1 2 3";
    o.study = "three";
    o.trials = 2;
    capture_stdout([&] { REQUIRE(qbert::experiments::run_search(o) == 1); }, dir.file("log2.txt"));
    const auto failed = read_csv(dir.file("out/trials.csv"));
    REQUIRE(failed[1][1] == "fail");
    REQUIRE_THAT(failed[1].back(), Contains("3 values") && Contains("2 objectives"));
    // a bad direction is named; --directions is for exec only
    o.directions = "maximize,minimise";
    o.study = "bad";
    REQUIRE_THROWS_WITH(qbert::experiments::run_search(o), Contains("'minimise'") && Contains("--directions"));
    o.objective = "nas";
    o.directions = "maximize,minimize";
    o.space_file.clear();
    o.exec_cmd.clear();
    REQUIRE_THROWS_WITH(qbert::experiments::run_search(o), Contains("--directions belongs to --objective exec"));
}
