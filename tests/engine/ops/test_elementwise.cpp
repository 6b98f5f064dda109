#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

TEST_CASE("add/sub/mul/div gradcheck with broadcasting", "[ops][elementwise]") {
    auto [sa, sb] = GENERATE(table<Shape, Shape>({
        {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 3, 5}, {1, 3, 1}}, {{1}, {2, 1}}, {{7}, {1}}, {{2, 1, 3}, {4, 1}},
    }));
    CAPTURE(shape_str(sa), shape_str(sb));
    Tensor a = input(sa, 1), b = input(sb, 2, DType::F64, 0.5, 1.5);  // b away from 0 for div
    require_gradcheck([](const std::vector<Tensor>& x) { return add(x[0], x[1]); }, {a, b});
    require_gradcheck([](const std::vector<Tensor>& x) { return sub(x[0], x[1]); }, {a, b});
    require_gradcheck([](const std::vector<Tensor>& x) { return mul(x[0], x[1]); }, {a, b});
    require_gradcheck([](const std::vector<Tensor>& x) { return engine::div(x[0], x[1]); }, {a, b});
    require_gradcheck([](const std::vector<Tensor>& x) { return scale(x[0], -2.5); }, {a});
    require_gradcheck([](const std::vector<Tensor>& x) { return add_scalar(x[0], 3.0); }, {a});
}

TEST_CASE("elementwise fast matches ref", "[ops][elementwise][fast]") {
    auto [sa, sb] = GENERATE(table<Shape, Shape>({{{64, 33}, {64, 33}}, {{17, 129}, {129}}, {{5, 7}, {}},
                                                  {{4, 9, 33}, {9, 33}}, {{4, 9, 33}, {1, 1, 33}}}));
    CAPTURE(shape_str(sa), shape_str(sb));
    Tensor a = input(sa, 3, DType::F32), b = input(sb, 4, DType::F32, 0.5, 1.5);
    using Fn = Tensor (*)(const Tensor&, const Tensor&);
    for (Fn f : {Fn(&engine::add), Fn(&engine::sub), Fn(&engine::mul), Fn(&engine::div)})
        require_fast_matches_ref([f](const std::vector<Tensor>& x) { return f(x[0], x[1]); }, {a, b});
}

TEST_CASE("elementwise values", "[ops][elementwise]") {
    Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = Tensor::from_vector(std::vector<float>{10, 20, 30}, {3});
    REQUIRE(add(a, b).to_vector_f32() == std::vector<float>{11, 22, 33, 14, 25, 36});
    REQUIRE(mul(a, b).to_vector_f32() == std::vector<float>{10, 40, 90, 40, 100, 180});
    REQUIRE(engine::div(b, a).to_vector_f32()[1] == 10.0f);
}

TEST_CASE("elementwise bad shapes name the op and both shapes", "[ops][elementwise][errors]") {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
    REQUIRE_THROWS_AS(add(a, b), ShapeError);
    REQUIRE_THROWS_WITH(add(a, b), Contains("add") && Contains("[2,3]") && Contains("[4]"));
    REQUIRE_THROWS_WITH(mul(a, Tensor::zeros({2, 3}, DType::F64)), Contains("mul") && Contains("dtype"));
}

TEST_CASE("sum/mean gradcheck over dims", "[ops][reduce]") {
    auto [shape, dims, keep] = GENERATE(table<Shape, std::vector<int64_t>, bool>({
        {{3, 4}, {0}, false}, {{3, 4}, {1}, true}, {{2, 3, 5}, {0, 2}, false}, {{2, 3, 5}, {1}, false},
        {{1, 1}, {0, 1}, false}, {{5}, {0}, true},
    }));
    CAPTURE(shape_str(shape), keep);
    Tensor x = input(shape, 5);
    require_gradcheck([dims, keep](const std::vector<Tensor>& v) { return sum(v[0], dims, keep); }, {x});
    require_gradcheck([dims, keep](const std::vector<Tensor>& v) { return mean(v[0], dims, keep); }, {x});
    require_gradcheck([](const std::vector<Tensor>& v) { return sum(v[0]); }, {x});
}

TEST_CASE("sum fast matches ref on leading and trailing reductions", "[ops][reduce][fast]") {
    Tensor x = input({64, 8, 96}, 6, DType::F32);
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return sum(v[0], {0, 1}); }, {x});
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return sum(v[0], {2}); }, {x});
    require_fast_matches_ref([](const std::vector<Tensor>& v) { return sum(v[0], {1, 2}, true); }, {x});
}

TEST_CASE("sum bad dims", "[ops][reduce][errors]") {
    Tensor x = Tensor::zeros({2, 3});
    REQUIRE_THROWS_WITH(sum(x, {2}), Contains("sum") && Contains("[2,3]"));
    REQUIRE_THROWS_WITH(sum(x, {0, 0}), Contains("twice"));
}
