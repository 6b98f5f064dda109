#include "model/bert.h"
#include "model/export.h"
#include "model/train.h"
#include "passes/analysis.h"
#include "passes/calibrate.h"
#include "passes/prune.h"
#include "passes/quantize.h"
#include "passes/structured.h"
#include "support/helpers.h"

#include <hdf5.h>

#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

using namespace qbert::test;
namespace engine = qbert::engine;
namespace model = qbert::model;
namespace passes = qbert::passes;
using Catch::Matchers::Contains;
using engine::FixedPoint;

namespace {
std::shared_ptr<model::Linear> make_linear(int64_t in, int64_t out, uint64_t seed) {
    Rng rng(seed);
    return std::make_shared<model::Linear>(in, out, rng, 0.5);
}

// A root module holding named Linear children, for the passes.
class Net : public model::Module {
public:
    std::string type_name() const override { return "Net"; }
    void add(const std::string& n, std::shared_ptr<model::Module> m) { register_module(n, std::move(m)); }
};

Tensor from(const std::vector<float>& v, Shape s) { return Tensor::from_vector(v, std::move(s)); }

// BERT-tiny's shape, smaller: vocab 100, hidden 32, FFN 64, 2 heads.
model::BertConfig small_bert() {
    model::BertConfig c = model::BertConfig::preset("tiny");
    c.vocab_size = 100;
    c.hidden_size = 32, c.intermediate_size = 64, c.num_attention_heads = 2;
    return c;
}

passes::QuantizeConfig qcfg(const std::string& text) {
    return passes::QuantizeConfig::from_toml(passes::parse_toml(text, "test.toml"), "test.toml");
}
passes::PruneConfig pcfg(const std::string& text) {
    return passes::PruneConfig::from_toml(passes::parse_toml(text, "prune.toml"), "prune.toml");
}
}  // namespace

TEST_CASE("quantile_abs interpolates linearly as torch.quantile", "[passes][quantile]") {
    REQUIRE(engine::quantile_abs({from({1, 2, 3, 4, 5}, {5})}, 0.5) == 3.0);
    REQUIRE(engine::quantile_abs({from({-4, 1, 3, 2}, {4})}, 0.5) == 2.5);  // |.| then pos 1.5 between 2 and 3
    REQUIRE(engine::quantile_abs({from({1, 2}, {2}), from({3, 4}, {2})}, 1.0 / 3.0) == 2.0);
    REQUIRE(engine::quantile_abs({from({0, 10}, {2})}, 0.25) == 2.5);
    REQUIRE_THROWS_WITH(engine::quantile_abs({from({1}, {1})}, 1.5), Contains("[0, 1]"));
}

TEST_CASE("quantile_abs: the radix-select fast path equals the reference exactly", "[passes][quantile][fast]") {
    Rng rng(11);
    for (int64_t n : {1, 2, 7, 1000, 100003}) {
        std::vector<float> v(static_cast<size_t>(n));
        for (auto& e : v) e = static_cast<float>(rng.normal());
        for (size_t i = 0; i < v.size(); i += 5) v[i] = 0.0f;             // many ties at zero
        for (size_t i = 1; i < v.size(); i += 7) v[i] = -v[i / 2];         // equal magnitudes, both signs
        const Tensor t = from(v, {n});
        for (double q : {0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 0.999, 1.0}) {
            CAPTURE(n, q);
            double r, f;
            {
                KernelModeGuard g("ref");
                r = engine::quantile_abs({t}, q);
            }
            {
                KernelModeGuard g("fast");
                f = engine::quantile_abs({t}, q);
            }
            REQUIRE(r == f);
        }
    }
}

TEST_CASE("CompressedLinear: nothing set computes Linear; quantized = linear(Q(x), Q(W), Q(b))", "[passes][linear]") {
    auto lin = make_linear(6, 4, 1);
    model::CompressedLinear c(*lin);
    Tensor x = input({3, 6}, 2, DType::F32);
    NoGradGuard ng;
    REQUIRE(c.forward(x).to_vector_f32() == lin->forward(x).to_vector_f32());
    REQUIRE(c.weight().impl_ptr() == lin->weight().impl_ptr());  // the same shadow parameter
    const FixedPoint in{6, 3}, w{4, 2}, b{8, 5}, out{8, 2};
    c.set_quant(model::LinearQuantConfig{in, w, b, out, engine::Ste::Identity});
    Tensor want = engine::fake_quant(
        engine::linear(engine::fake_quant(x, in), engine::fake_quant(lin->weight(), w), engine::fake_quant(lin->bias(), b)), out);
    REQUIRE(c.forward(x).to_vector_f32() == want.to_vector_f32());
}

TEST_CASE("CompressedLinear: masked weights stay exactly zero in effect through AdamW with weight decay; mask then quantize",
          "[passes][linear][mask]") {
    auto lin = make_linear(8, 5, 3);
    auto c = std::make_shared<model::CompressedLinear>(*lin);
    std::vector<uint8_t> m(40);
    for (size_t i = 0; i < m.size(); ++i) m[i] = (i * 7 % 3) != 0;
    c->set_weight_mask(Tensor::from_vector(m, {5, 8}));
    AdamWOptions ao;
    ao.lr = 1e-2;
    ao.weight_decay = 0.01;
    AdamW opt(c->named_parameters(), ao);
    for (int step = 0; step < 5; ++step) {
        opt.zero_grad();
        engine::sum(engine::mul(c->forward(input({4, 8}, 10 + step, DType::F32)), input({4, 5}, 20 + step, DType::F32))).backward();
        const auto g = c->weight().grad().to_vector_f32();
        for (size_t i = 0; i < m.size(); ++i)
            if (!m[i]) REQUIRE(g[i] == 0.0f);
        opt.step();
    }
    const auto eff = c->effective_weight().to_vector_f32();
    for (size_t i = 0; i < m.size(); ++i)
        if (!m[i]) REQUIRE(eff[i] == 0.0f);
    // mask first, then quantize: Q(W*M)
    const FixedPoint q{4, 1};
    c->set_quant(model::LinearQuantConfig{FixedPoint{16, 8}, q, FixedPoint{16, 8}, std::nullopt, engine::Ste::Identity});
    NoGradGuard ng;
    Tensor x = input({2, 8}, 30, DType::F32);
    Tensor want = engine::linear(engine::fake_quant(x, FixedPoint{16, 8}), engine::fake_quant(c->effective_weight(), q),
                                 engine::fake_quant(c->bias(), FixedPoint{16, 8}));
    REQUIRE(c->forward(x).to_vector_f32() == want.to_vector_f32());
    REQUIRE_THROWS_WITH(c->set_weight_mask(Tensor::full({5, 7}, 1.0, DType::U8)), Contains("[5,8]") && Contains("[5,7]"));
}

TEST_CASE("CompressedLinear: Q(W) masked inside linear equals Mase's Q(W*M), values and gradients, every format",
          "[passes][linear][mask]") {
    // Q(0) = 0 for every format (0 lies in [qmin, qmax]), so Q(W) * M = Q(W * M), and the straight-through
    // gradient is multiplied by M either way. Compared with == on the fast kernels (a masked entry's zero gradient
    // may be -0 one way and +0 the other, with the clipped STE: equal numbers).
    auto lin = make_linear(8, 5, 3);
    std::vector<uint8_t> m(40);
    for (size_t i = 0; i < m.size(); ++i) m[i] = (i * 7 % 3) != 0;
    const Tensor mask = Tensor::from_vector(m, {5, 8});
    const Tensor mask_f = Tensor::from_vector(mask.to_vector_f32(), {5, 8});
    const FixedPoint in{8, 4};
    for (const FixedPoint& wq : {FixedPoint{4, 1}, FixedPoint{4, 1, true, true}, FixedPoint{5, 3, false},
                                 FixedPoint{5, 3, false, true}, FixedPoint{1, 0}, FixedPoint{1, 2, true, true},
                                 FixedPoint{2, 0, false, true}, FixedPoint{8, 12}})
        for (engine::Ste ste : {engine::Ste::Identity, engine::Ste::Clipped})
            for (const char* mode : {"ref", "fast"}) {
                CAPTURE(wq.str(), ste == engine::Ste::Clipped, mode);
                KernelModeGuard g(mode);
                const model::LinearQuantConfig q{in, wq, FixedPoint{8, 4}, std::nullopt, ste};
                auto c = std::make_shared<model::CompressedLinear>(*lin);
                c->set_weight_mask(mask);
                c->set_quant(q);
                Tensor x = input({3, 8}, 40, DType::F32, -2.0, 2.0), dy = input({3, 5}, 41, DType::F32, -1.0, 1.0, false);
                c->weight().zero_grad();
                c->bias().zero_grad();
                Tensor y = c->forward(x);
                engine::sum(engine::mul(y, dy)).backward();
                // Mase's order on copies of the same leaves: W * M, then quantize, then a plain linear
                Tensor x2 = input({3, 8}, 40, DType::F32, -2.0, 2.0);
                Tensor w2 = lin->weight().detach().clone().set_requires_grad(true);
                Tensor b2 = lin->bias().detach().clone().set_requires_grad(true);
                Tensor y2 = engine::linear(engine::fake_quant(x2, in, ste),
                                           engine::fake_quant(engine::mul(w2, mask_f), wq, ste),
                                           engine::fake_quant(b2, q.bias.fixed_point(), ste));
                engine::sum(engine::mul(y2, dy)).backward();
                if (std::string(mode) == "fast") {  // the kernels that train: the same numbers
                    REQUIRE(y.to_vector_f32() == y2.to_vector_f32());
                    REQUIRE(x.grad().to_vector_f32() == x2.grad().to_vector_f32());
                    REQUIRE(c->weight().grad().to_vector_f32() == w2.grad().to_vector_f32());
                    REQUIRE(c->bias().grad().to_vector_f32() == b2.grad().to_vector_f32());
                } else {  // the reference loops: the compiler may fuse multiply-adds in one loop and not the other
                    const FastRefTol ulps{1e-6, 1e-6};
                    require_close(y2, y, ulps, "y");
                    require_close(x2.grad(), x.grad(), ulps, "dx");
                    require_close(w2.grad(), c->weight().grad(), ulps, "dW");
                    require_close(b2.grad(), c->bias().grad(), ulps, "db");
                    const auto gw = c->weight().grad().to_vector_f32();
                    for (size_t i = 0; i < m.size(); ++i)
                        if (!m[i]) REQUIRE(gw[i] == 0.0f);
                }
            }
}

TEST_CASE("activation pruning asks the root for the full sequence (Module::require_full_sequence)", "[passes][prune]") {
    model::BertConfig cfg = model::BertConfig::preset("tiny");
    cfg.vocab_size = 100;
    cfg.hidden_size = 32, cfg.intermediate_size = 64, cfg.num_attention_heads = 2;
    Rng rng(4);
    {  // a BERT below a plain root: the default hook passes the request down
        auto n = std::make_shared<Net>();
        auto bert = std::make_shared<model::BertForSequenceClassification>(cfg, rng);
        n->add("bert", bert);
        REQUIRE(bert->cls_only_last_layer());
        Rng prng(1);
        passes::prune(*n, pcfg("[weight]\nsparsity = 0.5\n[activation]\nsparsity = 0.0\n"), prng);
        REQUIRE(bert->cls_only_last_layer());  // weight pruning alone keeps the [CLS]-only shortcut
        passes::prune(*n, pcfg("[weight]\nsparsity = 0.0\n[activation]\nsparsity = 0.3\nmethod = \"l1-norm\"\n"), prng);
        REQUIRE_FALSE(bert->cls_only_last_layer());
        // a checkpoint's compression state does the same on a fresh model
        const std::string state = model::compression_state_json(*n);
        auto n2 = std::make_shared<Net>();
        auto bert2 = std::make_shared<model::BertForSequenceClassification>(cfg, rng);
        n2->add("bert", bert2);
        model::apply_compression_state(*n2, state, "test");
        REQUIRE_FALSE(bert2->cls_only_last_layer());
    }
}

TEST_CASE("quantize pass: by type, name and regex; Mase's config shape; errors list the valid keys", "[passes][quantize]") {
    auto make = [] {
        auto n = std::make_shared<Net>();
        n->add("a", make_linear(4, 4, 1));
        n->add("b", make_linear(4, 4, 2));
        n->add("skip", std::make_shared<model::Identity>());
        return n;
    };
    const std::string widths = "data_in_width = 8\ndata_in_frac_width = 4\nweight_width = 6\nweight_frac_width = 3\n"
                               "bias_width = 8\nbias_frac_width = 4\n";
    {
        auto n = make();
        const auto cfg = qcfg("by = \"type\"\n[default.config]\nname = \"none\"\n[linear.config]\nname = \"integer\"\n" + widths);
        const auto done = passes::quantize(*n, cfg);
        REQUIRE(done.size() == 2);
        REQUIRE(n->child("a").type_name() == "CompressedLinear");
        REQUIRE(done[0].config.weight == FixedPoint{6, 3});
        REQUIRE(n->child("skip").type_name() == "Identity");
        // applying the same config again gives the same result (it is never mutated)
        REQUIRE(passes::quantize(*n, cfg).size() == 2);
    }
    {
        auto n = make();
        passes::quantize(*n, qcfg("by = \"name\"\n[default]\nname = \"none\"\n[b]\nname = \"integer\"\n" + widths));
        REQUIRE(n->child("a").type_name() == "Linear");
        REQUIRE(dynamic_cast<model::CompressedLinear&>(n->child("b")).quant()->data_in == FixedPoint{8, 4});
    }
    {
        auto n = make();
        passes::quantize(*n, qcfg("by = \"regex_name\"\n[default]\nname = \"none\"\n['[ab]']\nname = \"integer\"\n" + widths));
        REQUIRE(n->child("a").type_name() == "CompressedLinear");
        REQUIRE(n->child("b").type_name() == "CompressedLinear");
        REQUIRE_THROWS_WITH(passes::quantize(*make(), qcfg("by = \"regex_name\"\n[default]\nname = \"none\"\n['a|b']\nname = \"integer\"\n" +
                                                          widths + "['a']\nname = \"integer\"\n" + widths)),
                            Contains("matches both"));
    }
    REQUIRE_THROWS_WITH(qcfg("by = \"type\"\n[default]\nname = \"none\"\n[linear]\nname = \"integer\"\nweight_widht = 8\n"),
                        Contains("test.toml:6: unknown key 'linear.weight_widht'") && Contains("weight_width"));
    REQUIRE_THROWS_WITH(qcfg("by = \"type\"\n[default]\nname = \"none\"\n[linear]\nname = \"integer\"\ndata_in_width = 8\n"),
                        Contains("data_in_frac_width") && Contains("[linear]"));
    REQUIRE_THROWS_WITH(qcfg("by = \"kind\"\n[default]\nname = \"none\"\n"), Contains("type, name, regex_name"));
    REQUIRE_THROWS_WITH(qcfg("by = \"type\"\n[linear]\nname = \"integer\"\n" + widths), Contains("missing [default]"));
    REQUIRE_THROWS_WITH(qcfg("by = \"type\"\n[default]\nname = \"none\"\n[matmul]\nname = \"integer\"\n" + widths),
                        Contains("quantizable types: linear"));
    REQUIRE_THROWS_WITH(qcfg("by = \"type\"\n[default]\nname = \"none\"\n[linear]\nname = \"integer\"\n" +
                             std::string("data_in_width = 40\ndata_in_frac_width = 4\nweight_width = 6\nweight_frac_width = 3\n"
                                         "bias_width = 8\nbias_frac_width = 4\n")),
                        Contains("width must be in [1, 32]") && Contains("40"));
}

TEST_CASE("prune pass: L1 thresholds and ties as Mase, random seeded, global scope, errors", "[passes][prune]") {
    auto with_weights = [](const std::vector<float>& w) {
        auto n = std::make_shared<Net>();
        auto lin = make_linear(static_cast<int64_t>(w.size()), 1, 1);
        {
            NoGradGuard ng;
            std::copy(w.begin(), w.end(), lin->weight().data<float>());
        }
        n->add("l", lin);
        return n;
    };
    Rng rng(0);
    auto kept = [](model::Module& n, const std::string& name) {
        const auto& c = dynamic_cast<const model::CompressedLinear&>(n.child(name));
        std::vector<int> k;
        const uint8_t* m = c.weight_mask().data<uint8_t>();
        for (int64_t i = 0; i < c.weight_mask().numel(); ++i) k.push_back(m[i]);
        return k;
    };
    const std::string act0 = "[activation]\nsparsity = 0.0\n";
    {
        auto n = with_weights({1, -2, 3, 4, 5});  // t = 3: keeps 4, 5 (3 of 5 pruned: ties go)
        passes::prune(*n, pcfg("[weight]\nsparsity = 0.5\nmethod = \"l1-norm\"\n" + act0), rng);
        REQUIRE(kept(*n, "l") == std::vector<int>{0, 0, 0, 1, 1});
    }
    {
        auto n = with_weights({0, 0, 0, 1, 2});  // t = 0: all three zeros pruned (60%)
        passes::prune(*n, pcfg("[weight]\nsparsity = 0.2\nmethod = \"l1-norm\"\n" + act0), rng);
        REQUIRE(kept(*n, "l") == std::vector<int>{0, 0, 0, 1, 1});
    }
    {  // global: one threshold over both layers
        auto n = std::make_shared<Net>();
        auto a = make_linear(2, 1, 1), b = make_linear(2, 1, 2);
        {
            NoGradGuard ng;
            a->weight().data<float>()[0] = 1, a->weight().data<float>()[1] = 2;
            b->weight().data<float>()[0] = 3, b->weight().data<float>()[1] = 4;
        }
        n->add("a", a);
        n->add("b", b);
        passes::prune(*n, pcfg("[weight]\nsparsity = 0.5\nmethod = \"l1-norm\"\nscope = \"global\"\n" + act0), rng);
        REQUIRE(kept(*n, "a") == std::vector<int>{0, 0});  // t = 2.5
        REQUIRE(kept(*n, "b") == std::vector<int>{1, 1});
    }
    {  // random: seeded, near the target
        auto run = [&](uint64_t seed) {
            auto n = std::make_shared<Net>();
            n->add("l", make_linear(100, 100, 1));
            Rng r(seed);
            const auto res = passes::prune(*n, pcfg("[weight]\nsparsity = 0.3\nmethod = \"random\"\n" + act0), r);
            REQUIRE(res[0].weights == 10000);
            REQUIRE(std::abs(1.0 - static_cast<double>(res[0].kept) / 10000.0 - 0.3) < 0.02);
            return kept(*n, "l");
        };
        REQUIRE(run(5) == run(5));
        REQUIRE(run(5) != run(6));
    }
    {  // activation l1 local: |x| > quantile of the whole input, per call
        auto n = std::make_shared<Net>();
        auto lin = make_linear(4, 2, 1);
        n->add("l", lin);
        passes::prune(*n, pcfg("[weight]\nsparsity = 0.0\n[activation]\nsparsity = 0.5\nmethod = \"l1-norm\"\n"), rng);
        NoGradGuard ng;
        Tensor x = from({1, -5, 3, 0.5f, 2, 8, -7, 4}, {2, 4});  // t = quantile(|x|, .5) = 3.5: keeps -5, 8, -7, 4
        Tensor xp = from({0, -5, 0, 0, 0, 8, -7, 4}, {2, 4});
        REQUIRE(n->child("l").forward(x).to_vector_f32() == lin->forward(xp).to_vector_f32());
    }
    {  // activation random: a fresh mask each call, near the target fraction, seeded
        auto n = std::make_shared<Net>();
        auto lin = make_linear(1000, 1, 1);
        n->add("l", lin);
        Rng r(3);
        passes::prune(*n, pcfg("[weight]\nsparsity = 0.0\n[activation]\nsparsity = 0.3\nmethod = \"random\"\n"), r);
        auto& c = dynamic_cast<model::CompressedLinear&>(n->child("l"));
        std::vector<float> seen;
        c.set_observer([&](const model::CompressedLinear&, const Tensor& xin) { seen = xin.to_vector_f32(); });
        NoGradGuard ng;
        const Tensor ones = Tensor::full({4, 1000}, 1.0, DType::F32);
        (void)c.forward(ones);
        const std::vector<float> first = seen;
        (void)c.forward(ones);
        int64_t zeros = 0;
        for (float v : first) zeros += v == 0.0f;
        REQUIRE(std::abs(static_cast<double>(zeros) / 4000.0 - 0.3) < 0.03);
        REQUIRE(first != seen);  // a new mask each call
    }
    REQUIRE_THROWS_WITH(pcfg("[weight]\nsparsity = 1.5\n" + act0), Contains("weight.sparsity must be in [0, 1], but got 1.5"));
    REQUIRE_THROWS_WITH(pcfg("[weight]\nsparsity = 0.5\n"), Contains("missing section [activation]"));
    REQUIRE_THROWS_WITH(pcfg("[weight]\nsparsity = 0.5\nmethod = \"l2\"\n" + act0), Contains("random, l1-norm"));
    REQUIRE_THROWS_WITH(pcfg("[weight]\nsparsity = 0.5\ngranularity = \"channel\"\n" + act0), Contains("elementwise"));
}

TEST_CASE("pass configs: the shipped files, and every error names the file and section.key", "[passes][config]") {
    const std::string root = std::string(QBERT_SOURCE_ROOT) + "/configs/compress/";
    const auto q = passes::QuantizeConfig::from_file(root + "quant-q8.4.toml");
    REQUIRE(q.by == passes::QuantizeConfig::By::Type);
    REQUIRE_FALSE(q.default_config.has_value());
    REQUIRE(q.entries.size() == 1);
    REQUIRE(q.entries[0].first == "linear");
    REQUIRE(q.entries[0].second->weight == FixedPoint{8, 4});
    REQUIRE(q.entries[0].second->ste == engine::Ste::Identity);
    const auto p = passes::PruneConfig::from_file(root + "prune-l1-0.5.toml");
    REQUIRE(p.weight.sparsity == 0.5);
    REQUIRE(p.weight.method == model::PruneMethod::L1Norm);
    REQUIRE(p.activation.scope == model::PruneScope::Local);
    REQUIRE_THROWS_WITH(passes::QuantizeConfig::from_file(root + "missing.toml"), Contains("missing.toml") && Contains("cannot open"));

    const std::string widths = "data_in_width = 8\ndata_in_frac_width = 4\nweight_width = 6\nweight_frac_width = 3\n"
                               "bias_width = 8\nbias_frac_width = 4\n";
    const std::string head = "by = \"type\"\n[default]\nname = \"none\"\n";
    {
        const auto c = qcfg(head + "[linear]\nname = \"fixed\"\nfloor = true\nste = \"clipped\"\ndata_out_width = 4\n"
                                   "data_out_frac_width = 2\n" + widths);
        const model::LinearQuantConfig& l = *c.entries[0].second;
        REQUIRE(l.weight == FixedPoint{6, 3, true, true});
        REQUIRE(l.data_out == FixedPoint{4, 2, true, true});
        REQUIRE(l.ste == engine::Ste::Clipped);
        REQUIRE_FALSE(qcfg(head + "[linear]\nname = \"integer\"\nbypass = true\n").entries[0].second.has_value());
    }
    REQUIRE_THROWS_WITH(qcfg(head + "[linear]\nname = \"integer\"\nweight_width = \"8\"\n" + widths.substr(0, 40)),
                        Contains("test.toml:6: linear.weight_width must be an integer, but got \"8\""));
    REQUIRE_THROWS_WITH(qcfg(head + "[linear]\nname = \"integer\"\nfloor = 1\n" + widths),
                        Contains("linear.floor must be true or false"));
    REQUIRE_THROWS_WITH(qcfg(head + "[linear]\nname = \"integer\"\nste = \"straight\"\n" + widths),
                        Contains("linear.ste must be one of identity, clipped"));
    REQUIRE_THROWS_WITH(qcfg(head + "[linear]\nname = \"float\"\n"), Contains("linear.name must be one of none, fixed, integer, minifloat_denorm"));
    REQUIRE_THROWS_WITH(qcfg(head + "[linear]\nwidth = 8\n"), Contains("unknown key 'linear.width'"));
    REQUIRE_THROWS_WITH(qcfg(head + "[linear]\nfloor = true\n"), Contains("missing required key 'linear.name'"));
    REQUIRE_THROWS_WITH(qcfg("[passes.quantize]\nby = \"type\"\n[passes.quantize.default.config]\nname = \"integer\"\n"),
                        Contains("[passes.quantize.default.config]") && Contains("needs data_in_width") &&
                            Contains("valid keys: name,") && Contains("data_in_width, data_in_frac_width"));
    REQUIRE_THROWS_WITH(qcfg(head + "[linear.config]\nname = \"integer\"\nextra = 1\n"),
                        Contains("unknown key 'linear.config.extra'"));

    const std::string act0 = "[activation]\nsparsity = 0.0\n";
    REQUIRE(pcfg("[prune.weight]\nsparsity = 0.3\n[prune.activation]\nsparsity = 0.0\n").weight.sparsity == 0.3);
    REQUIRE_THROWS_WITH(pcfg("[weight]\nsparsity = \"half\"\n" + act0),
                        Contains("prune.toml:2: weight.sparsity must be a number, but got \"half\""));
    REQUIRE_THROWS_WITH(pcfg("[weight]\nmethod = \"random\"\n" + act0), Contains("missing required key 'weight.sparsity'"));
    REQUIRE_THROWS_WITH(pcfg("[weight]\nsparsity = 0.5\nsparsty = 0.5\n" + act0),
                        Contains("unknown key 'weight.sparsty'; valid keys in [weight]: sparsity, method, scope, granularity"));
    REQUIRE_THROWS_WITH(pcfg("[passes.prune.weight]\nsparsity = 0.5\nscope = \"all\"\n[passes.prune.activation]\nsparsity = 0.0\n"),
                        Contains("passes.prune.weight.scope must be one of local, global"));
    REQUIRE_THROWS_WITH(pcfg("[weight]\nsparsity = 0.5\n" + act0 + "[bias]\nsparsity = 0.1\n"),
                        Contains("unknown key 'bias'; valid keys: [weight], [activation]"));
}

TEST_CASE("analysis counts parameters, non-zeros and deployed bytes", "[passes][analysis]") {
    auto n = std::make_shared<Net>();
    n->add("l", make_linear(10, 4, 1));  // 40 weights + 4 zero biases
    auto s = passes::analyze(*n);
    REQUIRE(s.total.params == 44);
    REQUIRE(s.total.nonzero == 40);
    REQUIRE(s.total.bytes == 160.0);
    passes::quantize(*n, passes::QuantizeConfig::uniform(FixedPoint{8, 4}));
    Rng rng(0);
    passes::prune(*n, pcfg("[weight]\nsparsity = 0.5\nmethod = \"l1-norm\"\n[activation]\nsparsity = 0.0\n"), rng);
    s = passes::analyze(*n);
    REQUIRE(s.layers[0].format == "Q8.4");
    REQUIRE(s.layers[0].nonzero == 20);
    REQUIRE(s.total.bytes == 20.0);  // 20 weights x 8 bits
    std::ostringstream os;
    passes::print_stats(os, s);
    REQUIRE_THAT(os.str(), Contains("Q8.4") && Contains("0.5455"));
}

TEST_CASE("calibration picks the largest fraction width that does not saturate", "[passes][calibrate]") {
    REQUIRE(passes::frac_for_range(8, 1.0) == 6);    // 127 / 1 -> 2^6 = 64 <= 127 < 128
    REQUIRE(passes::frac_for_range(8, 127.0) == 0);
    REQUIRE(passes::frac_for_range(8, 128.0) == -1);
    REQUIRE(passes::frac_for_range(4, 0.1) == 6);    // 0.1 * 64 = 6.4 <= 7
    REQUIRE(passes::frac_for_range(4, 0.0) == 3);
    auto n = std::make_shared<Net>();
    n->add("l", make_linear(6, 3, 1));
    passes::quantize(*n, passes::QuantizeConfig::uniform(FixedPoint{6, 3}));
    Tensor x = engine::scale(input({5, 6}, 1, DType::F32), 20.0);
    const auto res = passes::calibrate(*n, [&] { NoGradGuard ng; (void)n->child("l").forward(x); });
    REQUIRE(res.size() == 1);
    double mx = 0;
    for (double v : x.to_vector_f64()) mx = std::max(mx, std::abs(v));
    REQUIRE(res[0].data_in_range == Approx(mx));
    const FixedPoint in = dynamic_cast<model::CompressedLinear&>(n->child("l")).quant()->data_in.fixed_point();
    REQUIRE(in.width == 6);
    REQUIRE(mx <= in.max_value());
    REQUIRE(mx * 2 > in.max_value());  // one more fraction bit would saturate
}

TEST_CASE("calibration observes the float model, not the uncalibrated formats", "[passes][calibrate]") {
    // two layers in a row; Q4.0 on the first would round its small weights to 0 and hide the second's range
    auto a = make_linear(4, 4, 1), b = make_linear(4, 2, 2);
    {
        NoGradGuard ng;
        a->weight() = engine::scale(a->weight(), 0.1).detach();
    }
    auto n = std::make_shared<Net>();
    n->add("a", a);
    n->add("b", b);
    Tensor x = input({3, 4}, 5, DType::F32);
    std::vector<double> hidden;
    {
        NoGradGuard ng;
        hidden = a->forward(x).to_vector_f64();  // what b sees in float
    }
    double mx = 0;
    for (double v : hidden) mx = std::max(mx, std::abs(v));
    passes::quantize(*n, passes::QuantizeConfig::uniform(FixedPoint{4, 0}));
    const auto res = passes::calibrate(*n, [&] {
        NoGradGuard ng;
        (void)n->child("b").forward(n->child("a").forward(x));
    });
    REQUIRE(res[1].name == "b");
    REQUIRE(res[1].data_in_range == Approx(mx));
    REQUIRE(mx > 0);
    REQUIRE(dynamic_cast<model::CompressedLinear&>(n->child("a")).quant()->weight.width == 4);  // formats back on
}

TEST_CASE("calibration sees every position of BERT's last layer, then leaves the [CLS]-only shortcut as it was",
          "[passes][calibrate]") {
    Rng rng(4);
    model::BertForSequenceClassification m(small_bert(), rng);
    m.train(false);
    passes::quantize(m, passes::QuantizeConfig::uniform(FixedPoint{8, 4}));
    const Tensor ids = qbert::test::ids_tensor({2, 6}, 100, 3);
    const Tensor mask = Tensor::full({2, 6}, 1.0, DType::I32);
    for (const bool cls_only : {true, false}) {
        m.set_cls_only_last_layer(cls_only);
        int64_t rows_seen = 0;  // rows of the last layer's FFN output Linear during calibration
        passes::calibrate(m, [&] {
            NoGradGuard ng;
            Rng drop(0);
            for (const auto& [name, mod] : m.named_modules())
                if (name == "bert.encoder.layer.1.output.dense")
                    dynamic_cast<model::CompressedLinear&>(*mod).set_observer(
                        [&](const model::CompressedLinear&, const Tensor& in) { rows_seen = in.numel() / in.size(-1); });
            (void)m.logits(ids, mask, drop);
        });
        CHECK(rows_seen == 12);  // 2 x 6 positions, not the 2 [CLS] rows
        CHECK(m.cls_only_last_layer() == cls_only);
    }
}

TEST_CASE("a quantized and pruned BERT checkpoint round-trips: masks as u8 datasets, same logits", "[passes][checkpoint]") {
    Rng rng(4);
    model::BertForSequenceClassification m(small_bert(), rng);
    m.train(false);
    passes::quantize(m, passes::QuantizeConfig::uniform(FixedPoint{8, 5}));
    Rng prng(1);
    passes::prune(m, pcfg("[weight]\nsparsity = 0.5\nmethod = \"l1-norm\"\n[activation]\nsparsity = 0.3\nmethod = \"l1-norm\"\n"), prng);
    REQUIRE_FALSE(m.cls_only_last_layer());
    TempDir dir;
    const std::string path = dir.file("q.h5");
    model::save_bert(path, m, "{}");
    const engine::Checkpoint ck = engine::load_checkpoint(path);
    bool found = false;
    for (const auto& [name, t] : ck.params)
        if (name == "bert.encoder.layer.0.attention.self.query.weight_mask") found = t.dtype() == DType::U8;
    REQUIRE(found);
    auto loaded = model::load_bert(path);
    loaded->train(false);
    Tensor ids = Tensor::from_vector(std::vector<int32_t>{1, 5, 9, 22, 3, 0, 7, 8, 2, 4, 6, 11}, {2, 6});
    Tensor am = Tensor::full({2, 6}, 1.0, DType::I32);
    NoGradGuard ng;
    Rng d1(0), d2(0);
    REQUIRE(m.logits(ids, am, d1).to_vector_f32() == loaded->logits(ids, am, d2).to_vector_f32());
    REQUIRE(passes::analyze(*loaded).total.nonzero == passes::analyze(m).total.nonzero);
    for (const auto& [name, mod] : m.named_modules()) {
        const auto* a = dynamic_cast<const model::CompressedLinear*>(mod.get());
        if (!a) continue;
        CAPTURE(name);
        const model::CompressedLinear* b = nullptr;
        for (const auto& [n2, m2] : loaded->named_modules())
            if (n2 == name) b = dynamic_cast<const model::CompressedLinear*>(m2.get());
        REQUIRE(b != nullptr);
        REQUIRE(b->quant() == a->quant());
        REQUIRE(b->activation_prune()->sparsity == 0.3);
        REQUIRE(b->weight_mask().to_vector_f64() == a->weight_mask().to_vector_f64());
    }
}

TEST_CASE("integer inference: a quantized, pruned BERT gives the fake-quant logits bit for bit on int8 operands",
          "[passes][int8]") {
    Rng rng(4);
    model::BertForSequenceClassification m(small_bert(), rng);
    m.train(false);
    passes::quantize(m, passes::QuantizeConfig::uniform(FixedPoint{8, 7}));  // step 1/128: BERT init weights (sd 0.02) are not all 0
    Rng prng(1);
    passes::prune(m, pcfg("[weight]\nsparsity = 0.5\nmethod = \"l1-norm\"\n[activation]\nsparsity = 0.3\nmethod = \"l1-norm\"\n"), prng);
    const Tensor ids = qbert::test::ids_tensor({3, 9}, 100, 5);
    const Tensor am = Tensor::full({3, 9}, 1.0, DType::I32);
    for (const char* prec : {"f32", "bf16"})
        for (const char* mode : {"ref", "fast"}) {
            CAPTURE(prec, mode);
            qbert::test::MatmulPrecisionGuard pg(prec);
            qbert::test::KernelModeGuard g(mode);
            NoGradGuard ng;
            Rng d1(0), d2(0);
            model::set_integer_inference(m, false);
            const std::vector<float> fq = m.logits(ids, am, d1).to_vector_f32();
            std::vector<std::string> not_int8;
            const auto layers = model::set_integer_inference(m, true, &not_int8);
            REQUIRE(layers.size() == passes::linear_layers(m).size());  // every Linear, the classifier too
            REQUIRE(not_int8.empty());
            for (const auto& [name, mod] : m.named_modules())  // the weights are not all rounded to 0
                if (const auto* c = dynamic_cast<const model::CompressedLinear*>(mod.get())) {
                    CAPTURE(name);
                    const std::vector<double> wi = c->int8_weight().to_vector_f64();
                    const auto nz = std::count_if(wi.begin(), wi.end(), [](double v) { return v != 0.0; });
                    REQUIRE(nz > static_cast<long>(wi.size()) / 4);  // half are pruned
                }
            const std::vector<float> i8 = m.logits(ids, am, d2).to_vector_f32();
            REQUIRE(i8 == fq);
        }
    model::set_integer_inference(m, false);
}

TEST_CASE("integer inference: layers that do not qualify stay on the fake-quant path and say why", "[passes][int8]") {
    Rng rng(4);
    model::BertForSequenceClassification m(small_bert(), rng);
    m.train(false);
    passes::quantize(m, passes::QuantizeConfig::uniform(FixedPoint{12, 6}));
    std::vector<std::string> not_int8;
    REQUIRE(model::set_integer_inference(m, true, &not_int8).empty());
    REQUIRE(not_int8.size() == passes::linear_layers(m).size());
    REQUIRE_THAT(not_int8.front(), Catch::Matchers::Contains("width of at most 8"));
    const Tensor ids = qbert::test::ids_tensor({2, 6}, 100, 3);
    const Tensor am = Tensor::full({2, 6}, 1.0, DType::I32);
    NoGradGuard ng;
    Rng d1(0), d2(0);
    const std::vector<float> on = m.logits(ids, am, d1).to_vector_f32();
    model::set_integer_inference(m, false);
    REQUIRE(m.logits(ids, am, d2).to_vector_f32() == on);
}

TEST_CASE("integer inference: the cached int8 weights follow in-place weight updates and new masks", "[passes][int8]") {
    Rng rng(4);
    model::BertForSequenceClassification m(small_bert(), rng);
    m.train(false);
    passes::quantize(m, passes::QuantizeConfig::uniform(FixedPoint{8, 7}));  // step 1/128: BERT init weights (sd 0.02) are not all 0
    const Tensor ids = qbert::test::ids_tensor({2, 7}, 100, 5);
    const Tensor am = Tensor::full({2, 7}, 1.0, DType::I32);
    const auto both = [&] {  // logits with integer inference off, then on
        NoGradGuard ng;
        Rng d1(0), d2(0);
        model::set_integer_inference(m, false);
        std::vector<float> fq = m.logits(ids, am, d1).to_vector_f32();
        model::set_integer_inference(m, true);
        return std::pair{fq, m.logits(ids, am, d2).to_vector_f32()};
    };
    const auto [fq0, i80] = both();
    REQUIRE(i80 == fq0);
    {  // an optimizer-like in-place step on every weight and bias: the int8 copies and quantized biases must not
       // be stale
        NoGradGuard ng;
        for (const auto& [name, p] : m.named_parameters())
            if ((name.ends_with(".weight") && p.dim() == 2) || name.ends_with(".bias")) {
                Tensor t = p;  // weights scaled; biases (0 at init) moved by 1/32, a Q8.7 grid multiple
                t.copy_(p.dim() == 2 ? engine::mul(p, Tensor::full(p.shape(), -0.75))
                                     : engine::add(p, Tensor::full(p.shape(), 1.0 / 32)));
            }
    }
    const auto [fq1, i81] = both();
    REQUIRE(fq1 != fq0);
    REQUIRE(i81 == fq1);
    Rng prng(2);
    passes::prune(m, pcfg("[weight]\nsparsity = 0.6\nmethod = \"l1-norm\"\n[activation]\nsparsity = 0.0\n"), prng);
    const auto [fq2, i82] = both();
    REQUIRE(fq2 != fq1);
    REQUIRE(i82 == fq2);
    model::set_integer_inference(m, false);
}

namespace {
// A small BERT, Q8.7 throughout, 80% of every Linear's weights pruned (L1, local); saved to `path`.
std::unique_ptr<model::BertForSequenceClassification> deployable_bert(const std::string& path, bool quantized) {
    Rng rng(4);
    auto m = std::make_unique<model::BertForSequenceClassification>(small_bert(), rng);
    m->train(false);
    if (quantized) passes::quantize(*m, passes::QuantizeConfig::uniform(FixedPoint{8, 7}));
    Rng prng(1);
    passes::prune(*m, pcfg("[weight]\nsparsity = 0.8\nmethod = \"l1-norm\"\n[activation]\nsparsity = 0.0\n"), prng);
    model::save_bert(path, *m, "{}");
    return m;
}

std::vector<float> logits_of(model::BertForSequenceClassification& m) {
    m.train(false);  // a loaded model starts in training mode (dropout)
    const Tensor ids = qbert::test::ids_tensor({3, 9}, 100, 5);
    const Tensor am = Tensor::full({3, 9}, 1.0, DType::I32);
    NoGradGuard ng;
    Rng d(0);
    return m.logits(ids, am, d).to_vector_f32();
}
}  // namespace

TEST_CASE("sparse inference: a pruned BERT gives the dense masked logits (exactly when fixed point)", "[passes][sparse]") {
    qbert::test::TempDir dir;
    for (const bool quantized : {false, true}) {
        CAPTURE(quantized);
        auto m = deployable_bert(dir.file("m.h5"), quantized);
        const std::vector<float> dense = logits_of(*m);
        std::vector<std::string> not_sparse;
        const auto layers = model::set_sparse_inference(*m, true, 0.75, &not_sparse);
        REQUIRE(layers.size() == passes::linear_layers(*m).size());
        REQUIRE(not_sparse.empty());
        const std::vector<float> sparse = logits_of(*m);
        if (quantized) {
            REQUIRE(sparse == dense);  // products and sums on the fixed-point grid: exact in either order
        } else {
            for (size_t i = 0; i < dense.size(); ++i) REQUIRE(std::abs(sparse[i] - dense[i]) <= 1e-5 * (1 + std::abs(dense[i])));
        }
        // above every layer's sparsity: none qualifies, and each says why
        REQUIRE(model::set_sparse_inference(*m, true, 0.9, &not_sparse).empty());
        REQUIRE_THAT(not_sparse.back(), Catch::Matchers::Contains("< 0.9 (dense is faster)"));
        REQUIRE(logits_of(*m) == dense);
    }
}

TEST_CASE("sparse inference: the cached CSR weight follows in-place weight updates and new masks", "[passes][sparse]") {
    qbert::test::TempDir dir;
    auto m = deployable_bert(dir.file("m.h5"), false);
    const auto both = [&] {  // dense, then sparse
        model::set_sparse_inference(*m, false);
        std::vector<float> d = logits_of(*m);
        model::set_sparse_inference(*m, true, 0.0);
        return std::pair{d, logits_of(*m)};
    };
    const auto close = [](const std::vector<float>& a, const std::vector<float>& b) {
        for (size_t i = 0; i < a.size(); ++i)
            if (std::abs(a[i] - b[i]) > 1e-5 * (1 + std::abs(a[i]))) return false;
        return true;
    };
    const auto [d0, s0] = both();
    REQUIRE(close(d0, s0));
    {
        NoGradGuard ng;
        for (const auto& [name, p] : m->named_parameters())
            if (name.ends_with(".weight") && p.dim() == 2) {
                Tensor t = p;
                t.copy_(engine::mul(p, Tensor::full(p.shape(), -0.75)));
            }
    }
    const auto [d1, s1] = both();
    REQUIRE(d1 != d0);
    REQUIRE(close(d1, s1));
    Rng prng(3);  // new masks (90%)
    passes::prune(*m, pcfg("[weight]\nsparsity = 0.9\nmethod = \"l1-norm\"\n[activation]\nsparsity = 0.0\n"), prng);
    const auto [d2, s2] = both();
    REQUIRE(d2 != d1);
    REQUIRE(close(d2, s2));
}

TEST_CASE("export: int8 and sparse exports load back with their kernels on and give the checkpoint's logits",
          "[passes][export]") {
    qbert::test::TempDir dir;
    const std::string ckpt = dir.file("m.h5");
    auto m = deployable_bert(ckpt, true);
    const std::vector<float> want = logits_of(*m);
    std::string meta;
    auto loaded = model::load_bert(ckpt, &meta);
    REQUIRE(logits_of(*loaded) == want);
    struct Case {
        bool int8, sparse, embeddings;
        const char* kind;
    };
    for (const Case& c : {Case{true, false, false, "int8"}, Case{false, true, false, "sparse"},
                          Case{true, true, false, "int8_sparse"}, Case{true, false, true, "int8"}}) {
        CAPTURE(c.int8, c.sparse, c.embeddings);
        model::ExportOptions o;
        o.int8 = c.int8;
        o.sparse = c.sparse;
        o.int8_embeddings = c.embeddings;
        const std::string out = dir.file("e.h5");
        const auto done = model::export_model(*loaded, meta, ckpt, out, o);
        const size_t linears = passes::linear_layers(*m).size();
        REQUIRE(done.size() == linears + (c.embeddings ? 3 : 0));  // word, position, token type tables
        REQUIRE(done.front().kind == std::string(c.kind));
        // the int8 weights take a byte each, CSR 8 (fp32 value + column) or 5 (int8 value) per kept weight
        const auto* first = dynamic_cast<const model::CompressedLinear*>(passes::linear_layers(*m).front().second.get());
        const int64_t n = first->weight().numel(), out_f = first->weight().size(0);
        const int64_t kept = static_cast<int64_t>(std::llround((1.0 - first->weight_sparsity()) * static_cast<double>(n)));
        REQUIRE(done.front().bytes == (c.sparse ? 4 * (out_f + 1) + (c.int8 ? 5 : 8) * kept : n));
        auto e = model::load_bert(out);
        bool all_on = true;
        for (const auto& [name, mod] : passes::linear_layers(*e)) {
            const auto* cl = dynamic_cast<const model::CompressedLinear*>(mod.get());
            all_on = all_on && (c.int8 ? cl->integer_inference() : cl->sparse_inference());
        }
        REQUIRE(all_on);
        if (c.sparse) {  // the CSR pattern is the mask: it comes back exactly
            std::map<std::string, std::vector<double>> masks;
            for (const auto& [name, t] : m->named_buffers()) masks[name] = t.to_vector_f64();
            for (const auto& [name, t] : e->named_buffers()) {
                CAPTURE(name);
                REQUIRE(masks.count(name));
                REQUIRE(t.to_vector_f64() == masks[name]);
            }
        }
        const std::vector<float> got = logits_of(*e);
        if (!c.embeddings) {
            REQUIRE(got == want);  // exact: the stored grid indices and kept weights are what the layers computed with
        } else {  // per-row int8 embeddings round the inputs: close, not equal
            REQUIRE(got != want);
            for (size_t i = 0; i < want.size(); ++i) REQUIRE(std::abs(got[i] - want[i]) < 0.05);
        }
        // and back off, the exported model is an ordinary quantized, pruned model with the same logits
        model::set_integer_inference(*e, false);
        model::set_sparse_inference(*e, false);
        REQUIRE(logits_of(*e) == got);
    }
}

TEST_CASE("export: clear errors for nothing to export, corrupt files and arrays that do not fit", "[passes][export]") {
    qbert::test::TempDir dir;
    {  // fp32, unpruned: nothing qualifies
        Rng rng(4);
        model::BertForSequenceClassification plain(small_bert(), rng);
        passes::quantize(plain, passes::QuantizeConfig::uniform(FixedPoint{12, 6}));
        model::ExportOptions o;
        o.int8 = true;
        REQUIRE_THROWS_WITH(model::export_model(plain, "{}", "p.h5", dir.file("x.h5"), o),
                            Catch::Matchers::Contains("no Linear layer to export as asked") &&
                                Catch::Matchers::Contains("width of at most 8"));
        REQUIRE_THROWS_WITH(model::export_model(plain, "{}", "p.h5", dir.file("x.h5"), model::ExportOptions{}),
                            Catch::Matchers::Contains("nothing to export"));
        REQUIRE(!std::filesystem::exists(dir.file("x.h5")));
    }
    {  // a block format quantizes from the whole tensor: its kept weights alone cannot be exported sparse
        Rng rng(4);
        model::BertForSequenceClassification b(small_bert(), rng);
        passes::quantize(b, passes::QuantizeConfig::from_file(std::string(QBERT_SOURCE_ROOT) +
                                                               "/configs/compress/quant-block_fp.toml"));
        Rng prng(1);
        passes::prune(b, pcfg("[weight]\nsparsity = 0.9\nmethod = \"l1-norm\"\n[activation]\nsparsity = 0.0\n"), prng);
        model::ExportOptions so;
        so.sparse = true;
        REQUIRE_THROWS_WITH(model::export_model(b, "{}", "b.h5", dir.file("b.h5"), so),
                            Catch::Matchers::Contains("quantizes from the whole tensor"));
    }
    const std::string ckpt = dir.file("m.h5");
    auto m = deployable_bert(ckpt, true);
    model::ExportOptions o;
    o.int8 = o.sparse = true;
    model::export_model(*m, "{}", ckpt, dir.file("e.h5"), o);
    // a corrupt copy: one byte of an exported array flipped -> its checksum fails, naming the file and dataset
    const std::string csr = "params/bert.encoder.layer.0.attention.self.query.weight_csr_val";
    std::filesystem::copy_file(dir.file("e.h5"), dir.file("bad.h5"));
    haddr_t off;
    {
        hid_t f = H5Fopen(dir.file("bad.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = H5Dopen2(f, csr.c_str(), H5P_DEFAULT);
        off = H5Dget_offset(d);
        H5Dclose(d);
        H5Fclose(f);
    }
    REQUIRE(off != HADDR_UNDEF);
    {
        std::fstream f(dir.file("bad.h5"), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(off) + 3);
        f.put('\x5A');
    }
    REQUIRE_THROWS_WITH(model::load_bert(dir.file("bad.h5")),
                        Catch::Matchers::Contains("bad.h5") && Catch::Matchers::Contains("weight_csr_val") &&
                            Catch::Matchers::Contains("checksum"));
    // arrays that do not fit the model: a CSR column outside the layer's inputs
    engine::Checkpoint ck = engine::load_checkpoint(dir.file("e.h5"));
    for (auto& [name, t] : ck.params)
        if (name.ends_with(".weight_csr_col")) {
            Tensor bad = t.clone();
            bad.data<int32_t>()[0] = 1000;  // outside [0, in)
            t = bad;
            break;
        }
    engine::save_checkpoint(dir.file("cols.h5"), ck);
    REQUIRE_THROWS_WITH(model::load_bert(dir.file("cols.h5")),
                        Catch::Matchers::Contains("cols.h5") && Catch::Matchers::Contains("has column 1000, outside [0, 32)"));
    ck = engine::load_checkpoint(dir.file("e.h5"));
    nlohmann::json meta = nlohmann::json::parse(ck.meta_json);
    meta["export"]["layers"]["bert.encoder.layer.0.nosuch"] = "int8";
    ck.meta_json = meta.dump();
    engine::save_checkpoint(dir.file("meta.h5"), ck);
    REQUIRE_THROWS_WITH(model::load_bert(dir.file("meta.h5")),
                        Catch::Matchers::Contains("layer 'bert.encoder.layer.0.nosuch' is exported as int8 but is not"));
}

TEST_CASE("structured pruning removes heads and neurons: the same logits as zeroing what they feed, smaller layers",
          "[passes][structured]") {
    qbert::test::TempDir dir;
    for (const bool global : {false, true}) {
        CAPTURE(global);
        Rng rng(4);
        model::BertForSequenceClassification m(small_bert(), rng);  // 2 layers, 2 heads of 16, 64 neurons
        m.train(false);
        model::save_bert(dir.file("full.h5"), m, "{}");
        passes::StructuredSpec spec;
        spec.heads = 0.5;
        spec.neurons = 0.25;
        spec.global = global;
        spec.norm = global ? passes::UnitNorm::L2 : passes::UnitNorm::L1;
        Rng prng(1);
        const auto report = passes::prune_structured(m, spec, prng);
        REQUIRE(report.size() == 2);
        int64_t heads = 0, neurons = 0;
        for (const auto& l : report) {
            heads += static_cast<int64_t>(l.kept_heads.size());
            neurons += static_cast<int64_t>(l.kept_neurons.size());
            REQUIRE(!l.kept_heads.empty());
            REQUIRE(std::is_sorted(l.kept_neurons.begin(), l.kept_neurons.end()));
        }
        REQUIRE(heads == 2);     // half of 4
        REQUIRE(neurons == 96);  // three quarters of 128
        if (!global)
            for (const auto& s : m.layer_shapes()) REQUIRE(s == model::LayerShape{1, 48});
        // the reference: the full model with the removed units' outgoing columns zeroed contributes nothing
        // through them, which is exactly what removing them computes
        auto ref = model::load_bert(dir.file("full.h5"));
        {
            NoGradGuard ng;
            for (const auto& l : report) {
                const std::string p = "bert.encoder.layer." + std::to_string(l.layer) + ".";
                for (auto& [name, t] : ref->named_parameters()) {
                    if (name == p + "attention.output.dense.weight") {
                        float* w = t.data<float>();
                        for (int64_t h = 0; h < l.heads_before; ++h)
                            if (std::find(l.kept_heads.begin(), l.kept_heads.end(), h) == l.kept_heads.end())
                                for (int64_t r = 0; r < 32; ++r)
                                    for (int64_t c = h * 16; c < (h + 1) * 16; ++c) w[r * 32 + c] = 0.0f;
                    }
                    if (name == p + "output.dense.weight") {
                        float* w = t.data<float>();
                        for (int64_t j = 0; j < l.neurons_before; ++j)
                            if (std::find(l.kept_neurons.begin(), l.kept_neurons.end(), j) == l.kept_neurons.end())
                                for (int64_t r = 0; r < 32; ++r) w[r * 64 + j] = 0.0f;
                    }
                }
            }
        }
        const std::vector<float> want = logits_of(*ref), got = logits_of(m);
        for (size_t i = 0; i < want.size(); ++i) REQUIRE(std::abs(got[i] - want[i]) <= 1e-5 * (1 + std::abs(want[i])));
        REQUIRE(m.num_parameters() < ref->num_parameters());
        // saved and loaded: the narrower layers come back, with the same logits
        model::save_bert(dir.file("small.h5"), m, "{}");
        auto back = model::load_bert(dir.file("small.h5"));
        REQUIRE(back->layer_shapes() == m.layer_shapes());
        REQUIRE(logits_of(*back) == got);
    }
}

TEST_CASE("structured pruning keeps the most important units, and a layer's quantization and mask", "[passes][structured]") {
    Rng rng(4);
    model::BertForSequenceClassification m(small_bert(), rng);
    m.train(false);
    {  // make head 1 of layer 0 and neurons 60..63 of layer 0 the largest
        NoGradGuard ng;
        for (auto& [name, t] : m.named_parameters()) {
            if (name == "bert.encoder.layer.0.attention.self.query.weight")
                for (int64_t i = 16 * 32; i < 32 * 32; ++i) t.data<float>()[i] *= 10.0f;
            if (name == "bert.encoder.layer.0.intermediate.dense.weight")
                for (int64_t i = 60 * 32; i < 64 * 32; ++i) t.data<float>()[i] *= 100.0f;
        }
    }
    passes::quantize(m, passes::QuantizeConfig::uniform(FixedPoint{8, 7}));
    Rng p1(1);
    passes::prune(m, pcfg("[weight]\nsparsity = 0.5\nmethod = \"l1-norm\"\n[activation]\nsparsity = 0.0\n"), p1);
    passes::StructuredSpec spec;
    spec.heads = 0.5;
    spec.neurons = 0.9375;  // keep 4 of 64
    Rng p2(2);
    const auto report = passes::prune_structured(m, spec, p2);
    REQUIRE(report[0].kept_heads == std::vector<int64_t>{1});
    REQUIRE(report[0].kept_neurons == std::vector<int64_t>{60, 61, 62, 63});
    for (const auto& [name, mod] : passes::linear_layers(m)) {
        CAPTURE(name);
        const auto* c = dynamic_cast<const model::CompressedLinear*>(mod.get());
        REQUIRE(c);
        REQUIRE(c->quant().has_value());
        REQUIRE(c->has_weight_mask());
        REQUIRE(c->weight_mask().shape() == c->weight().shape());
    }
    passes::StructuredSpec bad;
    bad.heads = 1.0;
    REQUIRE_THROWS_WITH(passes::prune_structured(m, bad, p2), Catch::Matchers::Contains("must be in [0, 1)"));
}
