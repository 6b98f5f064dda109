// Lab 3 on synthetic data: the mixed-precision objective's per-layer parameters and bits, and `qbert lab3`
// end to end (three tasks, CSVs whose Pareto flags are the non-dominated set, a rerun that resumes).
#include <filesystem>
#include <fstream>

#include "experiments/lab3.h"
#include "experiments/objectives/mixed_precision.h"
#include "experiments/search_run.h"
#include "search/samplers.h"
#include "support/helpers.h"
#include "support/synthetic_imdb.h"
#include "util/csv.h"

using namespace qbert;
using qbert::test::synthetic_data;
using qbert::test::TempDir;
using Catch::Matchers::Contains;

namespace {
// A tiny base model trained on the synthetic data; returns its options for the lab.
experiments::CompressOptions base_model(const TempDir& dir) {
    model::TrainConfig cfg = synthetic_data(dir);
    cfg.epochs = 2;
    model::train(cfg, dir.file("base"));
    experiments::CompressOptions o;
    o.checkpoint = dir.file("base") + "/model.h5";
    o.data_root = dir.file("");
    o.threads = 2;
    return o;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(in, line)) rows.push_back(util::parse_csv_line(line));
    return rows;
}
}  // namespace

TEST_CASE("mixed precision: every Linear gets its own format parameters, named after the layer; bits follow",
          "[experiments][lab3]") {
    TempDir dir;
    experiments::MixedPrecisionOptions mo;
    mo.base = base_model(dir);
    mo.train_reviews = 16;
    mo.eval_reviews = 20;
    mo.choices = {"fp32"};
    experiments::MixedPrecisionObjective obj(mo);
    REQUIRE(obj.layers().size() == 2 * 6 + 2);  // 2 encoder layers x 6, pooler, classifier
    search::Study s(std::make_shared<search::Storage>(":memory:"), "mp", search::Direction::Maximize,
                    std::make_shared<search::RandomSampler>(3));
    search::Trial t0 = s.ask();
    const std::vector<double> r0 = obj(t0);
    REQUIRE(r0.size() == 1);
    REQUIRE(r0[0] >= 0.0);
    REQUIRE(t0.frozen().user_attrs["weight_bits"].get<double>() == obj.fp32_bits());
    REQUIRE(t0.frozen().params.count("classifier:type") == 1);
    s.tell(t0, r0[0]);
    obj.set_choices({"fp32", "integer"});  // other choices: another study (a name keeps its choices in a study)
    obj.set_bits_objective(true);
    search::Study s2(std::make_shared<search::Storage>(":memory:"), "mp2", search::Direction::Maximize,
                     std::make_shared<search::RandomSampler>(3));
    for (int i = 0; i < 3; ++i) {
        search::Trial t = s2.ask();
        const std::vector<double> r = obj(t);
        REQUIRE(r.size() == 2);
        for (const auto& layer : obj.layers()) {
            const std::string type = t.frozen().external(layer + ":type").get<std::string>();
            if (type == "integer") {
                const int w = t.frozen().external(layer + ":integer_width").get<int>();
                REQUIRE((w == 8 || w == 16 || w == 32));
                const int f = t.frozen().external(layer + ":integer_frac_width").get<int>();
                REQUIRE((f == 2 || f == 4 || f == 8));
            }
        }
        REQUIRE(r[1] <= obj.fp32_bits());
        REQUIRE(r[1] == t.frozen().user_attrs["weight_bits"].get<double>());
        s2.tell(t, r[0]);
    }
    REQUIRE_THROWS_WITH(obj.set_choices({"fp32", "posit"}), Contains("unknown format 'posit'"));
}

TEST_CASE("qbert lab3 end to end on synthetic data: three tasks, Pareto flags, resumes", "[experiments][lab3]") {
    TempDir dir;
    experiments::Lab3Options o;
    o.base = base_model(dir);
    o.out = dir.file("lab3");
    o.trials_a = 3, o.trials_b = 2, o.trials_c = 5, o.train_reviews = 16, o.eval_reviews = 20;
    o.formats = {"integer", "block_fp", "binary"};
    o.sampler = "random";
    o.pareto_sampler = "random";
    REQUIRE(experiments::run_lab3(o) == 0);
    for (const char* f : {"lab3_a.csv", "lab3_b.csv", "lab3_c.csv", "lab3_c_front.csv", "c-pareto_pareto.csv",
                          "fp32.json", "lab3.db", "settings.json"})
        REQUIRE(std::filesystem::exists(o.out + "/" + f));
    const auto a = read_csv(o.out + "/lab3_a.csv");
    REQUIRE(a.size() == 1 + 3);
    const auto b = read_csv(o.out + "/lab3_b.csv");
    REQUIRE(b.at(0) == std::vector<std::string>{"trial", "integer", "block_fp", "binary"});
    REQUIRE(b.size() == 1 + 2);
    // the Pareto flags are exactly the non-dominated set (accuracy up, bits down)
    const auto c = read_csv(o.out + "/lab3_c.csv");
    REQUIRE(c.size() == 1 + 5);
    for (size_t i = 1; i < c.size(); ++i) {
        const double ai = std::stod(c[i][1]), bi = std::stod(c[i][2]);
        bool dominated = false;
        for (size_t j = 1; j < c.size(); ++j) {
            const double aj = std::stod(c[j][1]), bj = std::stod(c[j][2]);
            dominated = dominated || (aj >= ai && bj <= bi && (aj > ai || bj < bi));
        }
        CAPTURE(i, c[i]);
        REQUIRE((c[i][3] == "1") == !dominated);
    }
    // a rerun finds every study complete: nothing is trained again, the tables stay
    const std::string before = read_file(o.out + "/lab3_c.csv");
    REQUIRE(experiments::run_lab3(o) == 0);
    REQUIRE(read_file(o.out + "/lab3_c.csv") == before);
    search::Storage st(o.out + "/lab3.db");
    int64_t trials = 0;
    for (const char* name : {"a-integer", "b-integer", "b-block_fp", "b-binary", "c-pareto"})
        trials += static_cast<int64_t>(st.trials(st.find_study(name)->id).size());
    REQUIRE(trials == 3 + 3 * 2 + 5);
    // a different budget in the same directory is refused (it would mix incomparable trials)
    o.train_reviews = 32;
    REQUIRE_THROWS_WITH(experiments::run_lab3(o), Contains("train_reviews"));
}

TEST_CASE("qbert search --objective mixed-precision: one or two objectives, pareto.csv; errors before any trial",
          "[experiments][lab3][search]") {
    TempDir dir;
    const experiments::CompressOptions base = base_model(dir);
    experiments::SearchOptions o;
    o.objective = "mixed-precision";
    o.checkpoint = base.checkpoint;
    o.data_root = base.data_root;
    o.formats = {"fp32", "integer", "log"};
    o.train_reviews = 16, o.eval_reviews = 20;
    o.sampler = "tpe";
    o.trials = 4;
    o.directions = "maximize,minimize";
    o.storage = dir.file("s.db");
    o.out = dir.file("out");
    REQUIRE(experiments::run_search(o) == 0);
    const auto pareto = read_csv(o.out + "/pareto.csv");
    REQUIRE(pareto.size() >= 2);
    REQUIRE(pareto.at(0).at(1) == "value_0");
    o.directions = "minimize";
    o.study = "other";
    REQUIRE_THROWS_WITH(experiments::run_search(o), Contains("maximize or maximize,minimize"));
    o.directions = "";
    o.sampler = "grid";
    REQUIRE_THROWS_WITH(experiments::run_search(o), Contains("grid sampler"));
    o.sampler = "random";
    o.formats = {"fp32", "posit"};
    REQUIRE_THROWS_WITH(experiments::run_search(o), Contains("posit"));
}
