// qbert lab2 end to end on synthetic data (small budget): the pruner and its comparison studies, bands over
// seeds in both tasks' CSVs, readable architectures in the trial tables, and a rerun that finds every study
// done and writes the same results.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "experiments/search_run.h"
#include "search/storage.h"
#include "support/helpers.h"
#include "support/synthetic_imdb.h"
#include "util/csv.h"

using namespace qbert;
using qbert::test::TempDir;
using Catch::Matchers::Contains;

namespace {

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> f;
    while (util::read_csv_row(in, f)) rows.push_back(f);
    return rows;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The process's working directory for a scope (lab2 reads its profile's config relative to the source root).
struct InDir {
    std::filesystem::path old = std::filesystem::current_path();
    explicit InDir(const std::string& d) { std::filesystem::current_path(d); }
    ~InDir() { std::filesystem::current_path(old); }
};

}  // namespace

TEST_CASE("lab2: pruned studies, TPE with and without the pruner, bands over seeds, resumable", "[experiments][lab2][pruners]") {
    TempDir dir;
    test::synthetic_data(dir);  // writes train.tsv, test.tsv, vocab.txt
    experiments::Lab2Options o;
    o.out = dir.file("lab2");
    o.seeds = 2;
#ifdef NDEBUG
    o.trials = 3;
    o.ca_trials = 2;
#else  // ASan debug build: the same path, fewer trials
    o.trials = 2;
    o.ca_trials = 1;
#endif
    o.samplers = {"tpe"};
    o.pruner = "median";
    o.pruner_sets = {"n_startup_trials=1"};
    o.threads = 1;
    o.sets = {"data.root=\"" + dir.file("") + "\"", "data.vocab=\"" + dir.file("vocab.txt") + "\"",
              "data.cache_dir=\"" + dir.file("cache") + "\"", "data.max_len=16", "data.val_fraction=0.25",
              "data.train_limit=0", "data.test_limit=40", "model.vocab_size=16", "model.max_position_embeddings=32",
              "train.batch_size=64", "train.matmul_precision=\"f32\""};
    InDir in(QBERT_SOURCE_ROOT);
    REQUIRE(experiments::run_lab2(o) == 0);
    const auto t1 = read_csv(o.out + "/task1_best_so_far.csv");
    const size_t n = static_cast<size_t>(o.trials);
    REQUIRE(t1.size() == n + 1);  // header + one row per trial
    REQUIRE(t1[0] == std::vector<std::string>{"trial", "tpe_mean", "tpe_min", "tpe_max", "tpe_seeds"});
    REQUIRE(t1[n][4] == "2");
    REQUIRE(std::stod(t1[n][2]) <= std::stod(t1[n][1]));
    REQUIRE(std::stod(t1[n][1]) <= std::stod(t1[n][3]));
    const auto time = read_csv(o.out + "/task1_pruner_time.csv");
    REQUIRE(time.size() == 61);
    REQUIRE_THAT(time[0][1], Contains("median pruner_mean"));
    REQUIRE_THAT(time[0][5], Contains("no pruner_mean"));
    const auto t2 = read_csv(o.out + "/task2_best_so_far.csv");
    REQUIRE(t2.size() == static_cast<size_t>(o.ca_trials) + 1);
    REQUIRE(t2[0].size() == 1 + 3 * 4);  // NAS only, without and with post-training, each mean/min/max/seeds
    for (size_t c = 4; c < t2[0].size(); c += 4) REQUIRE(t2.back()[c] == "2");
    // the trial tables show what the indices stand for
    const auto trials = read_csv(o.out + "/task1-tpe-seed0.csv");
    const auto col = std::find(trials[0].begin(), trials[0].end(), "hidden_size") - trials[0].begin();
    REQUIRE(col < static_cast<long>(trials[0].size()));
    for (size_t r = 1; r < trials.size(); ++r)
        REQUIRE(std::set<std::string>{"64", "128"}.count(trials[r][static_cast<size_t>(col)]) == 1);  // the quick space
    // the seeds' studies without the pruner exist and never prune
    for (const auto& row : read_csv(o.out + "/task1-tpe-nopruner-seed1.csv")) REQUIRE(row[1] != "pruned");
    // TPE with the pruner went on until its trials cost what TPE without it cost (the equal-time comparison),
    // and its first trials are the sampler comparison's
    {
        search::Storage st(o.out + "/lab2.db");
        const auto cost = [&](const std::string& name, size_t* count) {
            double sum = 0;
            const auto trials = st.trials(st.find_study(name)->id);
            *count = trials.size();
            for (const auto& t : trials) sum += t.user_attrs.at("cost_seconds").get<double>();
            return sum;
        };
        for (const std::string seed : {"0", "1"}) {
            size_t with_n = 0, without_n = 0;
            const double with = cost("task1-tpe-seed" + seed, &with_n), without = cost("task1-tpe-nopruner-seed" + seed, &without_n);
            REQUIRE(without_n == n);
            REQUIRE(with_n >= n);
            REQUIRE((with >= without || with_n == 5 * n));
        }
    }
    // a rerun finds everything done: no training, same results
    const std::string before = slurp(o.out + "/task1_best_so_far.csv") + slurp(o.out + "/task2_best_so_far.csv");
    REQUIRE(experiments::run_lab2(o) == 0);
    REQUIRE(slurp(o.out + "/task1_best_so_far.csv") + slurp(o.out + "/task2_best_so_far.csv") == before);
    // a bad pruner setting is refused before anything runs
    experiments::Lab2Options bad = o;
    bad.out = dir.file("bad");
    bad.pruner_sets = {"n_startup_trial=1"};
    REQUIRE_THROWS_WITH(experiments::run_lab2(bad), Contains("no setting 'n_startup_trial'"));
    REQUIRE_FALSE(std::filesystem::exists(bad.out + "/lab2.db"));
}
