#include <fstream>

#include "apps/results.h"
#include "support/helpers.h"

using namespace qbert::test;
using qbert::apps::ResultTable;
using Catch::Matchers::Contains;

TEST_CASE("ResultTable: each add is on disk at once; a new table on the same file resumes", "[apps][results]") {
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
