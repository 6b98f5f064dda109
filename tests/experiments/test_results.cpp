#include <fstream>

#include "experiments/results.h"
#include "experiments/study_report.h"
#include "search/samplers.h"
#include "util/csv.h"
#include "support/helpers.h"

using namespace qbert::test;
using qbert::experiments::ResultTable;
using Catch::Matchers::Contains;

TEST_CASE("ResultTable: each add is on disk at once; a new table on the same file resumes", "[experiments][results]") {
    TempDir dir;
    const std::string path = dir.file("sweep.csv");
    {
        ResultTable t(path, {"width", "rule", "acc"}, {"width", "rule"});
        REQUIRE_FALSE(t.has({{"width", "8"}, {"rule", "half"}}));
        t.add({{"width", "8"}, {"rule", "half"}, {"acc", "0.8600"}});
        t.add({{"width", "4"}, {"rule", "half"}, {"acc", "0.5000"}});
        t.add({{"width", "8"}, {"rule", "half"}, {"acc", "0.8700"}});  // same key: replaced, not duplicated
    }
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(all == "width,rule,acc\n8,half,0.8700\n4,half,0.5000\n");
    ResultTable again(path, {"width", "rule", "acc"}, {"width", "rule"});
    REQUIRE(again.rows().size() == 2);
    REQUIRE(again.has({{"width", "4"}, {"rule", "half"}}));
    REQUIRE_FALSE(again.has({{"width", "4"}, {"rule", "calibrated"}}));
    REQUIRE(again.find({{"width", "8"}, {"rule", "half"}})->at("acc") == "0.8700");
    REQUIRE_THROWS_WITH(ResultTable(path, {"width", "acc"}, {"width"}), Contains(path) && Contains("header"));
    REQUIRE_THROWS_WITH(again.add({{"width", "2"}}), Contains("lacks column"));
}

TEST_CASE("check_run_settings: a results directory refuses to resume with other settings, naming the field", "[experiments][results]") {
    TempDir dir;
    const std::string out = dir.file("sweep");
    const nlohmann::json first{{"epochs", 1}, {"lr", 1e-4}, {"checkpoint", "a.h5"}};
    qbert::experiments::check_run_settings(out, first);  // creates out/settings.json
    std::ifstream in(out + "/settings.json");
    REQUIRE(nlohmann::json::parse(in) == first);
    REQUIRE_NOTHROW(qbert::experiments::check_run_settings(out, first));  // same settings: resume
    nlohmann::json changed = first;
    changed["lr"] = 1e-3;
    REQUIRE_THROWS_WITH(qbert::experiments::check_run_settings(out, changed),
                        Contains("settings.json") && Contains("lr") && Contains("0.0001") && Contains("another --out"));
    nlohmann::json added = first;
    added["seed"] = 3;
    REQUIRE_THROWS_WITH(qbert::experiments::check_run_settings(out, added), Contains("seed = (none)"));
    std::ofstream(out + "/settings.json") << "{not json";
    REQUIRE_THROWS_WITH(qbert::experiments::check_run_settings(out, first), Contains("is not JSON"));
}

TEST_CASE("result tables and trials.csv quote what needs quoting (categorical strings, reasons)", "[experiments][results]") {
    TempDir dir;
    const std::string path = dir.file("t.csv");
    {
        ResultTable t(path, {"name", "note"}, {"name"});
        t.add({{"name", "a,b"}, {"note", "say \"hi\""}});
    }
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(all == "name,note\n\"a,b\",\"say \"\"hi\"\"\"\n");
    ResultTable back(path, {"name", "note"}, {"name"});
    REQUIRE(back.find({{"name", "a,b"}})->at("note") == "say \"hi\"");

    qbert::search::Study s(std::make_shared<qbert::search::Storage>(":memory:"), "q", qbert::search::Direction::Maximize,
                           std::make_shared<qbert::search::RandomSampler>(0));
    qbert::search::Trial t = s.ask();
    t.suggest_categorical("act", {"relu, clipped"});
    s.tell(t, 0.5);
    const std::string trials = dir.file("trials.csv");
    qbert::experiments::write_trials_csv(trials, s.trials(), s.direction());
    std::ifstream tin(trials);
    std::vector<std::string> header, row;
    REQUIRE(qbert::util::read_csv_row(tin, header));
    REQUIRE(qbert::util::read_csv_row(tin, row));
    REQUIRE(row.size() == header.size());
    const auto col = std::find(header.begin(), header.end(), "act") - header.begin();
    const std::string v = row[static_cast<size_t>(col)];
    REQUIRE(v == "relu, clipped");  // one field, not split at its comma
    REQUIRE(row[3] == "0.5000");  // best_so_far
}
