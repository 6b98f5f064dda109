// bench_tpe_next: a differential check of our TPE against Optuna's at the level of one sampling step. Given a
// fixed trial history (a file of rows "x0 ... x{d-1} value", every x a float in [-5, 5], minimisation), it asks
// for the next trial with TpeSampler seeds 0..N-1 and prints each suggestion, one line per seed. The peer
// benchmarks/peers/optuna_tpe_next.py does the same with Optuna; scripts/compare-tpe-next.sh compares the two
// distributions (the random streams differ, so single draws cannot be compared, their distributions can).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "search/samplers.h"

using namespace qbert::search;

namespace {

// Replays the history (trial n takes row n), then hands over to TPE.
class Replay : public Sampler {
public:
    Replay(std::vector<std::vector<double>> rows, std::shared_ptr<Sampler> next)
        : rows_(std::move(rows)), next_(std::move(next)) {}
    std::string name() const override { return "replay"; }
    double sample_independent(const Study& s, const FrozenTrial& t, const std::string& name,
                              const Distribution& d) override {
        if (t.number < static_cast<int64_t>(rows_.size()))
            return rows_[static_cast<size_t>(t.number)][std::stoul(name.substr(1))];
        return next_->sample_independent(s, t, name, d);
    }

private:
    std::vector<std::vector<double>> rows_;
    std::shared_ptr<Sampler> next_;
};

std::vector<std::vector<double>> read_history(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open history file " + path);
    std::vector<std::vector<double>> rows;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::vector<double> row;
        for (double v; ls >> v;) row.push_back(v);
        if (row.empty()) continue;
        if (row.size() < 2 || (!rows.empty() && row.size() != rows.front().size()))
            throw std::runtime_error(path + ": line " + std::to_string(rows.size() + 1) +
                                     ": expected x0 ... x{d-1} value with the same d on every line");
        rows.push_back(row);
    }
    if (rows.empty()) throw std::runtime_error(path + ": no trials");
    return rows;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"next TPE suggestion after a fixed history, for seeds 0..N-1"};
    std::string history;
    int seeds = 1000;
    app.add_option("--history", history, "rows: x0 ... x{d-1} value")->required();
    app.add_option("--seeds", seeds, "number of sampler seeds");
    CLI11_PARSE(app, argc, argv);
    try {
        const auto rows = read_history(history);
        const size_t d = rows.front().size() - 1;
        for (int seed = 0; seed < seeds; ++seed) {
            Study s(std::make_shared<Storage>(":memory:"), "next", Direction::Minimize,
                    std::make_shared<Replay>(rows, std::make_shared<TpeSampler>(static_cast<uint64_t>(seed))));
            for (const auto& r : rows) {
                Trial t = s.ask();
                for (size_t i = 0; i < d; ++i) t.suggest_float("x" + std::to_string(i), -5, 5);
                s.tell(t, r[d]);
            }
            Trial t = s.ask();
            for (size_t i = 0; i < d; ++i) std::printf("%s%.9g", i ? " " : "", t.suggest_float("x" + std::to_string(i), -5, 5));
            std::printf("\n");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tpe_next: %s\n", e.what());
        return 1;
    }
    return 0;
}
