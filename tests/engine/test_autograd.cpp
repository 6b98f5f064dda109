#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;

TEST_CASE("gradients accumulate across uses and across backward calls", "[autograd]") {
    Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}).set_requires_grad(true);
    Tensor y = sum(add(mul(x, x), x));  // dy/dx = 2x + 1
    y.backward();
    REQUIRE(x.grad().to_vector_f32() == std::vector<float>{3, 5, 7});
    sum(x).backward();  // accumulates: +1
    REQUIRE(x.grad().to_vector_f32() == std::vector<float>{4, 6, 8});
    x.zero_grad();
    REQUIRE(!x.grad().defined());
}

TEST_CASE("the graph is freed after backward unless retained", "[autograd]") {
    Tensor x = Tensor::ones({2}).set_requires_grad(true);
    Tensor y = sum(mul(x, x));
    y.backward(Tensor(), /*retain_graph=*/true);
    y.backward();
    REQUIRE(x.grad().to_vector_f32() == std::vector<float>{4, 4});
    REQUIRE_THROWS_WITH(y.backward(), Contains("second time") && Contains("retain_graph"));
}

TEST_CASE("a saved tensor modified in place is detected", "[autograd]") {
    Tensor x = Tensor::ones({3}).set_requires_grad(true);
    Tensor h = mul(x, scale(x, 2.0));  // h saves both factors
    Tensor s = scale(x, 2.0);
    Tensor y = mul(h, s);  // saves s and h
    {
        NoGradGuard ng;
        s.fill_(5.0);
    }
    REQUIRE_THROWS_WITH(sum(y).backward(), Contains("mul") && Contains("in-place") && Contains("version 1") &&
                                               Contains("expected version 0"));
}

TEST_CASE("no_grad records nothing; detach cuts history", "[autograd]") {
    Tensor x = Tensor::ones({2}).set_requires_grad(true);
    {
        NoGradGuard ng;
        Tensor y = mul(x, x);
        REQUIRE(!y.requires_grad());
        REQUIRE(y.grad_fn() == nullptr);
    }
    Tensor z = mul(x, x);
    REQUIRE(z.grad_fn() != nullptr);
    REQUIRE(z.grad_fn()->name() == "mul");
    REQUIRE(!z.detach().requires_grad());
    REQUIRE_THROWS_WITH(Tensor::ones({2}).backward(), Contains("does not require grad"));
    REQUIRE_THROWS_WITH(z.backward(), Contains("scalar"));
}

TEST_CASE("only inputs that need a gradient get one", "[autograd]") {
    Tensor x = Tensor::ones({2, 3}).set_requires_grad(true);
    Tensor w = Tensor::ones({4, 3});  // frozen
    sum(linear(x, w)).backward();
    REQUIRE(x.grad().defined());
    REQUIRE(!w.grad().defined());
}

TEST_CASE("gradient flows back only through the slice that is used", "[autograd]") {
    Tensor x = Tensor::ones({2}).set_requires_grad(true);
    auto parts = split(mul(x, x), {1, 1}, 0);
    sum(parts[1]).backward();
    REQUIRE(x.grad().to_vector_f32() == std::vector<float>{0, 2});
}
