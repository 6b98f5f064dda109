#include "model/mlp_demo.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;

TEST_CASE("same seed and threads: training is bitwise reproducible", "[determinism]") {
    qbert::model::MlpDemoOptions o;
    o.train_size = 512;
    o.test_size = 128;
    o.epochs = 1;
    o.batch = 32;
    o.seed = 11;
    const auto a = qbert::model::run_mlp_demo(o);
    const auto b = qbert::model::run_mlp_demo(o);
    REQUIRE(a.losses.size() == 16);
    REQUIRE(a.losses == b.losses);  // bitwise: std::vector<float> operator==
    for (size_t i = 0; i < a.params.size(); ++i) {
        CAPTURE(a.params[i].first);
        REQUIRE(a.params[i].second.to_vector_f32() == b.params[i].second.to_vector_f32());
    }
    o.seed = 12;
    const auto c = qbert::model::run_mlp_demo(o);
    REQUIRE(c.losses != a.losses);
}

TEST_CASE("the MLP demo learns the synthetic task", "[determinism][train]") {
    qbert::model::MlpDemoOptions o;
    o.train_size = 2048;
    o.epochs = 4;
    const auto r = qbert::model::run_mlp_demo(o);
    REQUIRE(r.losses.back() < r.losses.front());
    REQUIRE(r.test_accuracy > 0.85);
}

TEST_CASE("QBERT_KERNELS=check runs a whole training step without a mismatch", "[determinism][check]") {
    KernelModeGuard g("check");
    qbert::model::MlpDemoOptions o;
    o.train_size = 64;
    o.test_size = 32;
    o.epochs = 1;
    o.batch = 32;
    REQUIRE_NOTHROW(qbert::model::run_mlp_demo(o));
}
