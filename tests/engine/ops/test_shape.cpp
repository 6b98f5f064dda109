#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

TEST_CASE("views share storage and have the right geometry", "[ops][shape]") {
    Tensor x = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
    Tensor t = transpose(x, 0, 1);
    REQUIRE(t.shape() == Shape{3, 2});
    REQUIRE(!t.is_contiguous());
    REQUIRE(t.storage() == x.storage());
    REQUIRE(t.to_vector_f32() == std::vector<float>{0, 3, 1, 4, 2, 5});
    REQUIRE(contiguous(t).is_contiguous());
    Tensor s = slice(x, 1, 1, 3);
    REQUIRE(s.to_vector_f32() == std::vector<float>{1, 2, 4, 5});
    REQUIRE(reshape(x, {3, -1}).shape() == Shape{3, 2});
    REQUIRE(permute(reshape(x, {1, 2, 3}), {2, 0, 1}).shape() == Shape{3, 1, 2});
    // a write through a view bumps the shared version
    const uint64_t v0 = x.version();
    Tensor sv = slice(x, 0, 0, 1);
    sv.fill_(9.0);
    REQUIRE(x.version() == v0 + 1);
    REQUIRE(x.to_vector_f32()[0] == 9.0f);
}

TEST_CASE("shape ops gradcheck", "[ops][shape]") {
    Tensor x = input({2, 3, 4}, 1);
    require_gradcheck([](const std::vector<Tensor>& v) { return reshape(v[0], {6, 4}); }, {x});
    require_gradcheck([](const std::vector<Tensor>& v) { return permute(v[0], {2, 0, 1}); }, {x});
    require_gradcheck([](const std::vector<Tensor>& v) { return transpose(v[0], -1, 0); }, {x});
    require_gradcheck([](const std::vector<Tensor>& v) { return slice(v[0], 1, 1, 3); }, {x});
    require_gradcheck([](const std::vector<Tensor>& v) { return contiguous(transpose(v[0], 0, 2)); }, {x});
    // a view feeding a real op
    require_gradcheck([](const std::vector<Tensor>& v) { return mul(transpose(v[0], 1, 2), transpose(v[0], 1, 2)); },
                      {x});
    Tensor y = input({2, 1, 4}, 2);
    require_gradcheck([](const std::vector<Tensor>& v) { return concat({v[0], v[1], v[0]}, 1); }, {x, y});
    require_gradcheck(
        [](const std::vector<Tensor>& v) {
            auto parts = split(v[0], {1, 2}, 1);
            return add(mul(parts[0], parts[0]), sum(parts[1], {1}, true));
        },
        {x});
}

TEST_CASE("shape op errors name the op and shape", "[ops][shape][errors]") {
    Tensor x = Tensor::zeros({2, 3});
    REQUIRE_THROWS_WITH(reshape(x, {4, 2}), Contains("reshape") && Contains("[2,3]") && Contains("[4,2]"));
    REQUIRE_THROWS_WITH(slice(x, 1, 2, 5), Contains("slice") && Contains("[2,3]"));
    REQUIRE_THROWS_WITH(permute(x, {0, 0}), Contains("permute"));
    REQUIRE_THROWS_WITH(concat({x, Tensor::zeros({2, 4})}, 0), Contains("concat") && Contains("[2,4]"));
    REQUIRE_THROWS_WITH(split(x, {1, 1}, 1), Contains("split") && Contains("add up"));
    REQUIRE_THROWS_WITH(transpose(x, 0, 2), Contains("transpose") && Contains("out of range"));
}
