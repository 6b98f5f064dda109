#include "model/mlp_demo.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

TEST_CASE("module tree: named parameters, named modules, replace by name and by type", "[model][module]") {
    Rng rng(0);
    qbert::model::Mlp m(4, 8, 2, rng, 0.0);
    const auto names = m.named_parameters();
    REQUIRE(names.size() == 10);
    REQUIRE(names[0].first == "fc1.weight");
    REQUIRE(names[0].second.shape() == Shape{8, 4});
    REQUIRE(names.back().first == "head.bias");
    REQUIRE(m.named_modules().size() == 5);
    // swap the square layer for Identity: its parameters disappear, forward still works
    m.replace_module("fc2", std::make_shared<qbert::model::Identity>());
    REQUIRE(m.named_parameters().size() == 8);
    Tensor x = Tensor::ones({3, 4});
    Rng r2(1);
    REQUIRE(m.forward_logits(x, r2).shape() == Shape{3, 2});
    const int n = m.replace_modules([](const std::string&, const qbert::model::Module& mod) -> std::shared_ptr<qbert::model::Module> {
        return mod.type_name() == "LayerNorm" ? std::make_shared<qbert::model::Identity>() : nullptr;
    });
    REQUIRE(n == 2);
    REQUIRE_THROWS_WITH(m.replace_module("fc9", nullptr), Contains("fc9") && Contains("fc1"));
}
