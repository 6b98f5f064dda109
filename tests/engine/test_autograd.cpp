#include <fstream>
#include <iterator>

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

TEST_CASE("a leaf takes its gradient without a copy only when nothing else holds it", "[autograd]") {
    // add's backward hands the same gradient tensor to both inputs: neither may take it, or accumulating into
    // one .grad would change the other.
    Tensor a = Tensor::from_vector(std::vector<float>{1, 2}, {2}).set_requires_grad(true);
    Tensor b = Tensor::from_vector(std::vector<float>{3, 4}, {2}).set_requires_grad(true);
    sum(add(a, b)).backward();
    REQUIRE(a.grad().data<float>() != b.grad().data<float>());
    sum(mul(a, a)).backward();  // accumulates 2a into a.grad only
    REQUIRE(a.grad().to_vector_f32() == std::vector<float>{3, 5});
    REQUIRE(b.grad().to_vector_f32() == std::vector<float>{1, 1});
    // A gradient nobody else holds (mul's fresh dx) is taken (not visible from here: these check the values),
    // and a second backward accumulates into the taken buffer without touching the tensor it was computed from.
    Tensor c = Tensor::from_vector(std::vector<float>{2, 5}, {2}).set_requires_grad(true);
    Tensor k = Tensor::from_vector(std::vector<float>{7, 11}, {2});
    sum(mul(c, k)).backward();
    REQUIRE(c.grad().to_vector_f32() == std::vector<float>{7, 11});
    sum(mul(c, k)).backward();
    REQUIRE(c.grad().to_vector_f32() == std::vector<float>{14, 22});
    REQUIRE(k.to_vector_f32() == std::vector<float>{7, 11});
    // concat's backward hands each input a slice of one buffer: the slice nobody else holds at the end is
    // copied, so a .grad never keeps the whole buffer alive.
    Tensor d = Tensor::from_vector(std::vector<float>{1, 2}, {2}).set_requires_grad(true);
    Tensor e = Tensor::from_vector(std::vector<float>{3, 4, 5}, {3}).set_requires_grad(true);
    sum(mul(concat({d, e}, 0), Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5}, {5}))).backward();
    REQUIRE(d.grad().to_vector_f32() == std::vector<float>{1, 2});
    REQUIRE(e.grad().to_vector_f32() == std::vector<float>{3, 4, 5});
    REQUIRE(d.grad().storage()->nbytes() == 2 * sizeof(float));
    REQUIRE(e.grad().storage()->nbytes() == 3 * sizeof(float));
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

TEST_CASE("a graph capture writes one backward's graph: ops in forward order, kernels, parameter names", "[autograd][graph]") {
    const TempDir dir;
    const std::string path = dir.file("graph.dot");
    Tensor x = Tensor::from_vector(std::vector<float>{1, -2, 3, 4, 5, -6}, {2, 3});
    Tensor w = Tensor::from_vector(std::vector<float>{0.5f, -1, 2, 1, 0, -0.5f}, {2, 3}).set_requires_grad(true);
    w.set_name("layer.weight");
    Tensor b = Tensor::zeros({2}).set_requires_grad(true);
    b.set_name("layer.bias");
    engine::graph::capture_to(path);
    REQUIRE(engine::graph::capturing());
    Tensor loss = sum(engine::gelu(engine::linear(x, w, b)));
    loss.backward();
    REQUIRE_FALSE(engine::graph::capturing());  // one step only
    REQUIRE(engine::graph::last_written() == path);
    const auto g = engine::graph::last_graph();
    // leaves w, b; linear, gelu, sum: 5 nodes, inputs always before the node that reads them, the loss last
    REQUIRE(g.size() == 5);
    for (size_t i = 0; i < g.size(); ++i)
        for (size_t in : g[i].inputs) REQUIRE(in < i);
    REQUIRE(g.back().op == "sum");
    REQUIRE(g.back().out == "f32[]");
    int leaves = 0;
    for (const auto& n : g) {
        if (n.leaf) {
            ++leaves;
            REQUIRE((n.op == "layer.weight" || n.op == "layer.bias"));
        }
        if (n.op == "linear") {
            REQUIRE(n.out == "f32[2,2]");
            REQUIRE_THAT(n.forward, Contains("linear_forward ("));
            REQUIRE_THAT(n.backward, Contains("linear_backward ("));
            REQUIRE(n.inputs.size() == 2);  // x needs no gradient: no edge
        }
        if (n.op == "gelu") REQUIRE_THAT(n.forward, Contains("gelu_forward ("));
    }
    REQUIRE(leaves == 2);
    std::ifstream f(path);
    const std::string dot((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    REQUIRE_THAT(dot, Contains("digraph qbert_step {"));
    REQUIRE_THAT(dot, Contains("label=\"layer.weight\\nf32[2,3]\""));
    REQUIRE_THAT(dot, Contains("(the loss)"));
    REQUIRE_THAT(dot, Contains(" -> "));
    // a second backward writes nothing and notes nothing on the nodes
    Tensor loss2 = sum(engine::linear(x, w, b));
    REQUIRE(loss2.grad_fn()->debug_forward.empty());
    loss2.backward();
    REQUIRE(engine::graph::last_graph().size() == 5);
}
