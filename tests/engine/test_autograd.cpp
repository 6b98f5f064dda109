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

TEST_CASE("a graph nobody runs backward on is freed with its outputs (ops that save their own output)", "[autograd]") {
    // softmax, log_softmax, tanh and div save their output for backward; saving `out` itself made a cycle
    // (out -> grad_fn -> saved out) that leaked the graph of every forward run in grad mode without backward
    Tensor x = Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 2.0f, 0.25f}, {2, 2}).set_requires_grad(true);
    const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops = {
        {"softmax", [](const Tensor& t) { return softmax(t); }},
        {"log_softmax", [](const Tensor& t) { return log_softmax(t); }},
        {"tanh", [](const Tensor& t) { return tanh(t); }},
        {"div", [](const Tensor& t) { return div(t, add_scalar(t, 3.0)); }},
        {"gelu", [](const Tensor& t) { return gelu(t); }},
        {"chain", [](const Tensor& t) { return sum(softmax(tanh(mul(t, t)))); }},
    };
    for (const auto& [name, op] : ops) {
        INFO(name);
        std::weak_ptr<engine::Node> node;
        {
            Tensor y = op(x);
            node = y.grad_fn();
            REQUIRE(!node.expired());
        }
        REQUIRE(node.expired());
    }
    // the saved alias still shares the output's version counter: writing the output in place is caught
    Tensor y = tanh(x);
    {
        NoGradGuard ng;
        y.fill_(0.0);
    }
    REQUIRE_THROWS_WITH(sum(y).backward(), Contains("tanh") && Contains("in-place"));
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
