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
        // the problems of scripts/compare-tpe-cli.sh (benchmarks/peers/cli_problems.awk, optuna_cli_problems.py),
        // here to run many seeds in-process: a study here takes the same steps as `qbert search --objective exec`
        {"branin", [](Trial& t) {  // minimum 0.397887
             const double x = t.suggest_float("x", -5, 10), y = t.suggest_float("y", 0, 15);
             const double v = y - 5.1 / (4 * M_PI * M_PI) * x * x + 5 / M_PI * x - 6;
             return v * v + 10 * (1 - 1 / (8 * M_PI)) * std::cos(x) + 10;
         }},
        {"himmelblau", [](Trial& t) {
             const double x = t.suggest_float("x", -6, 6), y = t.suggest_float("y", -6, 6);
             return (x * x + y - 11) * (x * x + y - 11) + (x + y * y - 7) * (x + y * y - 7);
         }},
        {"wide2", [](Trial& t) {
             const double x = t.suggest_float("x", -100, 100), y = t.suggest_float("y", -100, 100);
             return (x - 37.3) / 10 * ((x - 37.3) / 10) + 4 * ((y + 61.9) / 10) * ((y + 61.9) / 10);
         }},
        {"grid6", [](Trial& t) {
             const char* names[] = {"a", "b", "c", "d", "e"};
             const double c[] = {7, 23, 12, 3, 18};
             double f = 0, ab = 0;
             for (int i = 0; i < 5; ++i) {
                 const double v = static_cast<double>(t.suggest_int(names[i], 0, 30));
                 f += (v - c[i]) * (v - c[i]);
                 if (i < 2) ab += v;
             }
             const double g = static_cast<double>(t.suggest_int("g", 0, 60, 3));
             return (f + (g - 27) / 3 * ((g - 27) / 3)) / 25 + 0.2 * std::fmod(ab, 2.0);
         }},
        {"nasmix", [](Trial& t) {
             const std::string act = t.suggest_string("act", {"relu", "gelu", "tanh", "silu", "elu"});
             const double layers = static_cast<double>(t.suggest_int("layers", 1, 12));
             const double hidden = static_cast<double>(t.suggest_int("hidden", 64, 1024, 64));
             const double lr = t.suggest_float("lr", 1e-5, 1e-1, true);
             const double batch = static_cast<double>(t.suggest_int("batch", 8, 512, 1, true));
             const double dropout = t.suggest_float("dropout", 0, 0.5);
             const double pen = act == "gelu" ? 0 : act == "relu" ? 0.3 : act == "silu" ? 0.15 : act == "tanh" ? 0.8 : 0.5;
             const double l = std::log10(lr) + 3.5, b = std::log2(batch) - 6;
             return pen + 0.05 * (layers - 6) * (layers - 6) + (hidden - 384) / 256 * ((hidden - 384) / 256) +
                    0.5 * l * l + 0.1 * b * b + 4 * (dropout - 0.1) * (dropout - 0.1);
         }},
        {"hartmann6", [](Trial& t) {  // minimum -3.32237
             static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
             static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14},
                                            {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
             static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886}, {2329, 4135, 8307, 3736, 1004, 9991},
                                            {2348, 1451, 3522, 2883, 3047, 6650}, {4047, 8828, 8732, 5743, 1091, 381}};
             double x[6];
             for (int j = 0; j < 6; ++j) x[j] = t.suggest_float("x" + std::to_string(j + 1), 0, 1);
             double f = 0;
             for (int i = 0; i < 4; ++i) {
                 double s = 0;
                 for (int j = 0; j < 6; ++j) s += A[i][j] * (x[j] - P[i][j] * 1e-4) * (x[j] - P[i][j] * 1e-4);
                 f -= alpha[i] * std::exp(-s);
             }
             return f;
         }},
    };
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench_search: samplers on test problems; prints sampler problem seed trial best_so_far"};
    int trials = 50, seeds = 10, seed0 = 0;
    std::vector<std::string> samplers{"random", "tpe", "tpe-multivariate"}, only;
    app.add_option("--trials", trials)->capture_default_str();
    app.add_option("--seeds", seeds)->capture_default_str();
    app.add_option("--seed0", seed0, "first seed")->capture_default_str();
    app.add_option("--samplers", samplers)->delimiter(',')->capture_default_str();
    app.add_option("--problems", only, "only these problems (default: all)")->delimiter(',');
    CLI11_PARSE(app, argc, argv);
    std::printf("# bench_search trials=%d seeds=%d\n", trials, seeds);
    for (const auto& [pname, f] : problems())
        if (only.empty() || std::find(only.begin(), only.end(), pname) != only.end())
        for (const auto& sname : samplers)
            for (int seed = seed0; seed < seed0 + seeds; ++seed) {
                Study s(std::make_shared<Storage>(":memory:"), pname, Direction::Minimize,
                        make_sampler(sname, static_cast<uint64_t>(seed)));
                OptimizeOptions o;
                o.n_trials = trials;
                o.catch_errors = false;
                double best = INFINITY;
                s.optimize(f, o, [&](const Study&, const FrozenTrial& t) {
                    if (t.value) best = std::min(best, *t.value);
                    std::printf("%s %s %d %ld %.10g\n", sname.c_str(), pname.c_str(), seed, long(t.number + 1), best);
                });
            }
    return 0;
}
