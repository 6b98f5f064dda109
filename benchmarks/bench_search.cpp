// bench_search: the samplers on small test problems with known optima, so our TPE can be held against
// Optuna's on the same problems (benchmarks/peers/optuna_samplers.py prints the same columns):
//   sampler problem seed trial best_so_far          (minimisation; one line per trial)
// The problems are defined identically in both files.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>

#include "search/samplers.h"

using namespace qbert::search;

namespace {
using Problem = std::function<double(Trial&)>;

std::map<std::string, Problem> problems() {
    return {
        {"sphere2", [](Trial& t) {
             const double x = t.suggest_float("x", -5, 5), y = t.suggest_float("y", -5, 5);
             return (x - 1.3) * (x - 1.3) + (y + 0.7) * (y + 0.7);
         }},
        {"rosenbrock2", [](Trial& t) {
             const double x = t.suggest_float("x", -2, 2), y = t.suggest_float("y", -1, 3);
             return 100 * (y - x * x) * (y - x * x) + (1 - x) * (1 - x);
         }},
        {"sphere5", [](Trial& t) {
             double s = 0;
             for (int i = 0; i < 5; ++i) {
                 const double v = t.suggest_float("x" + std::to_string(i), -5, 5) - 0.5 * i;
                 s += v * v;
             }
             return s;
         }},
        {"mixed", [](Trial& t) {  // int, categorical, log-float, float
             const int64_t n = t.suggest_int("n", 1, 16);
             const std::string act = t.suggest_string("act", {"relu", "gelu", "tanh", "silu"});
             const double lr = t.suggest_float("lr", 1e-5, 1e-1, true);
             const double x = t.suggest_float("x", -3, 3);
             const double a = act == "gelu" ? 0.0 : act == "silu" ? 0.3 : 1.0;
             const double l = std::log10(lr) + 3.2;
             return std::abs(static_cast<double>(n) - 11) * 0.2 + a + l * l + (x - 0.4) * (x - 0.4);
         }},
        {"nas_like", [](Trial& t) {  // four index parameters, as Tutorial 5 samples them
             const int64_t L = t.suggest_int("num_layers", 0, 2), A = t.suggest_int("num_heads", 0, 3);
             const int64_t H = t.suggest_int("hidden_size", 0, 4), I = t.suggest_int("intermediate_size", 0, 4);
             return 0.3 * std::abs(static_cast<double>(L - 1)) + 0.1 * std::abs(static_cast<double>(A - 2)) +
                    0.25 * std::abs(static_cast<double>(H - 3)) + 0.15 * std::abs(static_cast<double>(I - 1)) +
                    0.05 * static_cast<double>((H * I) % 3);
         }},
    };
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench_search: samplers on test problems; prints sampler problem seed trial best_so_far"};
    int trials = 50, seeds = 10;
    std::vector<std::string> samplers{"random", "tpe", "tpe-multivariate"}, only;
    app.add_option("--trials", trials)->capture_default_str();
    app.add_option("--seeds", seeds)->capture_default_str();
    app.add_option("--samplers", samplers)->delimiter(',')->capture_default_str();
    app.add_option("--problems", only, "only these problems (default: all)")->delimiter(',');
    CLI11_PARSE(app, argc, argv);
    std::printf("# bench_search trials=%d seeds=%d\n", trials, seeds);
    for (const auto& [pname, f] : problems())
        if (only.empty() || std::find(only.begin(), only.end(), pname) != only.end())
        for (const auto& sname : samplers)
            for (int seed = 0; seed < seeds; ++seed) {
                Study s(std::make_shared<Storage>(":memory:"), pname, Direction::Minimize,
                        make_sampler(sname, static_cast<uint64_t>(seed)));
                OptimizeOptions o;
                o.n_trials = trials;
                o.catch_errors = false;
                double best = INFINITY;
                s.optimize(f, o, [&](const Study&, const FrozenTrial& t) {
                    if (t.value) best = std::min(best, *t.value);
                    std::printf("%s %s %d %ld %.6g\n", sname.c_str(), pname.c_str(), seed, long(t.number + 1), best);
                });
            }
    return 0;
}
