// `qbert search` (one study: NAS, compression-aware NAS or any command via exec) and `qbert lab2` (Lab 2 end
// to end: samplers compared over seeds, then compression-aware search, with figures). apps/search_cmd.cpp
// registers their command lines.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qbert::search {
class Pruner;
}

namespace qbert::experiments {

struct SearchOptions {
    std::string objective;            // nas | compression-aware | exec | mixed-precision
    std::string sampler = "tpe";      // random | grid | tpe | tpe-multivariate | nsga2
    int64_t trials = 20;              // the study's total (a resumed study runs only the missing ones)
    double timeout = 0.0;             // seconds; 0 = none
    uint64_t seed = 0;
    std::string storage = "runs/search/study.db", study, out;
    bool resume = false;
    int64_t post_train_epochs = 0;
    double post_train_lr = 1e-4;
    std::string direction = "maximize";  // exec
    std::string directions;              // exec: one per objective, comma-separated (empty: `direction`)
    std::string space_file, exec_cmd;    // exec
    double exec_timeout = 0.0;           // exec: seconds per trial; 0 = none
    std::string nas_space = "layers";    // nas: model | layers
    // none | median | percentile | successive-halving | hyperband (search/pruners.h) and its settings by
    // Optuna's names, "key=value" each
    std::string pruner = "none";
    std::vector<std::string> pruner_sets;
    int64_t eval_points = 0;             // nas: validation checks during training, reported to the pruner (0 = the config's)
    std::string config = "configs/nas-quick.toml";
    std::vector<std::string> sets;
    // mixed-precision (Lab 3's objective over a trained checkpoint; objectives/mixed_precision.h)
    std::string checkpoint = "runs/base/model.h5", data_root = "data";
    std::vector<std::string> formats{"fp32", "integer"};  // the per-layer choices
    int64_t train_reviews = 256, eval_reviews = 500;
    double lr = 1e-4;
    int threads = 2;
};

struct Lab2Options {
    std::string out = "runs/lab2", profile = "quick";
    int64_t seeds = 0, trials = 0, ca_trials = 0;  // 0 = the profile's
    std::vector<std::string> samplers{"random", "grid", "tpe"};
    std::vector<std::string> sets;
    int threads = 2;
    int jobs = 1;            // studies run at once, each in its own process (apps/workers.h)
    std::string only_study;  // set in those worker processes: run this one study and stop
    bool keep_trained = false;  // keep DIR/trained (one checkpoint per trained architecture) after the lab
    std::string pruner;         // empty = the profile's
    std::vector<std::string> pruner_sets;
};

// `qbert tpe-explain`: how TPE would choose the next trial of an existing study (TpeSampler::explain per
// parameter): the good / bad split, the candidates drawn from l(x) with log l, log g and their difference, the
// winner. csv: l(x) and g(x) over each parameter's range, the observations and the candidates, for a figure.
struct TpeExplainOptions {
    std::string storage, study;  // study: the file's only one when empty
    std::string param;           // one parameter (empty: each)
    std::string csv;
    uint64_t seed = 0;
    bool has_seed = false;       // --seed given (otherwise the seed the study records)
    bool all = false;            // every bad trial and candidate, not only the first ones
};

// --pruner NAME with its --pruner-set key=value settings (search::make_pruner); errors name the pruner.
std::shared_ptr<search::Pruner> make_pruner_from(const std::string& name, const std::vector<std::string>& sets);

// Each returns the exit code (1 when no trial completed).
int run_search(const SearchOptions& o);
int run_tpe_explain(const TpeExplainOptions& o);
int run_lab2(const Lab2Options& o);  // experiments/lab2.cpp

}  // namespace qbert::experiments
