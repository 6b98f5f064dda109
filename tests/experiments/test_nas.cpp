// The NAS objectives on synthetic data: every sampled size reaches the model, Tutorial 5's linear-or-identity
// choices, a not-divisible configuration is a pruned trial, the compression-aware variant compresses, and a
// model with Identity layers survives a checkpoint round trip.
#include <filesystem>
#include <fstream>

#include "experiments/objectives/nas.h"
#include "engine/core/config.h"
#include "model/compressed_linear.h"
#include "search/samplers.h"
#include "support/helpers.h"
#include "support/synthetic_imdb.h"

using namespace qbert;
using qbert::test::TempDir;
using Catch::Matchers::Contains;
using json = nlohmann::json;
using qbert::test::synthetic_data;

namespace {
experiments::NasOptions small_space() {
    experiments::NasOptions o;
    o.layers = {1, 2};
    o.heads = {2, 4};
    o.hidden = {16, 32};
    o.intermediate = {32, 64};
    o.test = true;
    // the compression configs Lab 2 uses (meson runs the tests in the build directory: absolute paths)
    o.quant_config = std::string(QBERT_SOURCE_ROOT) + "/configs/compress/quant-q8.4.toml";
    o.prune_config = std::string(QBERT_SOURCE_ROOT) + "/configs/compress/prune-l1-0.5.toml";
    return o;
}
}  // namespace

TEST_CASE("NAS: every sampled size reaches the model (unlike Mase's num_layers / num_heads)", "[experiments][nas]") {
    TempDir dir;
    experiments::NasOptions o = small_space();
    o.space = "model";
    experiments::NasObjective nas(synthetic_data(dir), o);
    search::GridSampler::Space g{{"num_layers", {1}}, {"num_heads", {1}}, {"hidden_size", {1}}, {"intermediate_size", {0}}};
    search::Study s(std::make_shared<search::Storage>(":memory:"), "n", search::Direction::Maximize,
                    std::make_shared<search::GridSampler>(g, 0));
    search::Trial t = s.ask();
    auto m = nas.build(t);
    REQUIRE(m->config().num_hidden_layers == 2);
    REQUIRE(m->config().num_attention_heads == 4);
    REQUIRE(m->config().hidden_size == 32);
    REQUIRE(m->config().intermediate_size == 32);
    int layers = 0;
    for (const auto& [name, mod] : m->named_modules()) layers += name.ends_with("attention.self.query");
    REQUIRE(layers == 2);
    REQUIRE(t.frozen().user_attrs.at("architecture").at("num_attention_heads") == 4);
}

TEST_CASE("NAS: Tutorial 5's linear-or-identity choice per square Linear, dynamic with the sizes", "[experiments][nas]") {
    TempDir dir;
    experiments::NasOptions o = small_space();
    o.hidden = {32};
    o.intermediate = {32, 64};
    experiments::NasObjective nas(synthetic_data(dir), o);
    search::Study s(std::make_shared<search::Storage>(":memory:"), "l", search::Direction::Maximize,
                    std::make_shared<search::RandomSampler>(3));
    bool saw_ffn = false, saw_identity = false;
    for (int i = 0; i < 12; ++i) {
        search::Trial t = s.ask();
        auto m = nas.build(t);
        const auto& c = m->config();
        int type_params = 0;
        for (const auto& [name, v] : t.frozen().params) {
            if (!name.ends_with("_type")) continue;
            ++type_params;
            const std::string layer = name.substr(0, name.size() - 5);
            const auto mod = m->named_modules();
            const auto it = std::find_if(mod.begin(), mod.end(), [&](const auto& p) { return p.first == layer; });
            REQUIRE(it != mod.end());
            REQUIRE(it->second->type_name() == (t.frozen().external(name) == "identity" ? "Identity" : "Linear"));
            saw_identity = saw_identity || it->second->type_name() == "Identity";
            saw_ffn = saw_ffn || layer.ends_with("intermediate.dense");
        }
        // query, key, value, attention output per layer, the pooler; FFN layers too when they are square
        const int64_t per_layer = c.intermediate_size == c.hidden_size ? 6 : 4;
        REQUIRE(type_params == c.num_hidden_layers * per_layer + 1);
        REQUIRE_FALSE(t.frozen().params.count("classifier_type"));
        engine::NoGradGuard ng;  // inference: a graph that no backward consumes is never built
        engine::Rng r(0);
        const auto ids = test::ids_tensor({2, 5}, 16, 1);
        const auto mask = engine::Tensor::full({2, 5}, 1.0, engine::DType::I32);
        REQUIRE(m->logits(ids, mask, r).shape() == engine::Shape{2, 2});  // identity layers still run
        s.tell(t, 0.5);
    }
    REQUIRE(saw_ffn);
    REQUIRE(saw_identity);
}

TEST_CASE("NAS: hidden not divisible by heads is a pruned trial; training returns validation accuracy", "[experiments][nas]") {
    TempDir dir;
    experiments::NasOptions o = small_space();
    o.space = "model";
    o.hidden = {24};
    o.heads = {5, 2};
    o.layers = {1};
    o.intermediate = {32};
    experiments::NasObjective nas(synthetic_data(dir), o);
    search::GridSampler::Space g{{"num_layers", {0}}, {"num_heads", {0, 1}}, {"hidden_size", {0}}, {"intermediate_size", {0}}};
    search::Study s(std::make_shared<search::Storage>(":memory:"), "p", search::Direction::Maximize,
                    std::make_shared<search::GridSampler>(g, 0));
    search::OptimizeOptions opt;
    opt.n_trials = 2;
    s.optimize([&](search::Trial& t) { return nas(t); }, opt);
    const auto& trials = s.trials();
    REQUIRE(trials.size() == 2);
    for (const auto& t : trials) {
        if (t.external("num_heads") == 0) {  // 5 heads
            REQUIRE(t.state == search::TrialState::Pruned);
            REQUIRE_THAT(t.system_attrs.at("reason").get<std::string>(), Contains("not divisible"));
        } else {
            REQUIRE(t.state == search::TrialState::Complete);
            REQUIRE(*t.value >= 0.0);
            REQUIRE(*t.value <= 1.0);
            REQUIRE(t.user_attrs.at("parameters").get<int64_t>() > 0);
            REQUIRE(t.user_attrs.contains("test_accuracy"));
        }
    }
}

TEST_CASE("compression-aware NAS: Q8.4 + 50% L1 pruning inside the trial, with and without post-training", "[experiments][nas]") {
    TempDir dir;
    experiments::NasOptions o = small_space();
    o.space = "model";
    o.compress = true;
    for (int64_t post : {0, 1}) {
        o.post_train_epochs = post;
        experiments::NasObjective nas(synthetic_data(dir), o);
        search::Study s(std::make_shared<search::Storage>(":memory:"), "c", search::Direction::Maximize,
                        std::make_shared<search::RandomSampler>(1));
        search::Trial t = s.ask();
        const double v = nas(t);
        REQUIRE(v >= 0.0);
        REQUIRE(t.frozen().user_attrs.contains("val_accuracy_before_compression"));
        int compressed = 0;
        for (const auto& [name, mod] : nas.last_model()->named_modules())
            if (auto* c = dynamic_cast<model::CompressedLinear*>(mod.get())) {
                ++compressed;
                REQUIRE(c->quant());
                REQUIRE(c->quant()->weight.width == 8);
                REQUIRE(c->quant()->weight.frac_width == 4);
                REQUIRE(c->has_weight_mask());
                REQUIRE(c->activation_prune());
            }
        REQUIRE(compressed > 0);
    }
    o.compress = false;
    o.post_train_epochs = 1;
    REQUIRE_THROWS_WITH(experiments::NasObjective(synthetic_data(dir), o), Contains("compression-aware"));
}

TEST_CASE("a model with Identity layers (NAS) round-trips through a checkpoint", "[experiments][nas]") {
    TempDir dir;
    engine::Rng init(4);
    model::BertConfig c = model::BertConfig::preset("tiny");
    c.vocab_size = 50;
    model::BertForSequenceClassification m(c, init);
    m.replace_module("bert.encoder.layer.0.attention.self.value", std::make_shared<model::Identity>());
    m.replace_module("bert.pooler.dense", std::make_shared<model::Identity>());
    model::save_bert(dir.file("nas.h5"), m, "{}");
    auto back = model::load_bert(dir.file("nas.h5"));
    REQUIRE(back->num_parameters() == m.num_parameters());
    m.train(false);
    back->train(false);
    engine::NoGradGuard ng;
    engine::Rng r(0);
    const auto ids = test::ids_tensor({2, 7}, 50, 2);
    const auto mask = engine::Tensor::full({2, 7}, 1.0, engine::DType::I32);
    const auto a = m.logits(ids, mask, r).to_vector_f64(), b = back->logits(ids, mask, r).to_vector_f64();
    REQUIRE(a == b);
}

TEST_CASE("NAS trained cache: a result is reused per objective, weights are loaded with exactly the results of training",
          "[experiments][nas]") {
    TempDir dir;
    experiments::NasOptions o = small_space();
    o.space = "model";
    struct Run {
        double value;
        json attrs;
        std::vector<double> weights;  // the whole model the trial ends with (empty when its result was reused)
    };
    const auto run = [&](experiments::NasOptions opts, const std::string& study) {
        experiments::NasObjective nas(synthetic_data(dir), opts);
        search::Study s(std::make_shared<search::Storage>(":memory:"), study, search::Direction::Maximize,
                        std::make_shared<search::RandomSampler>(3));
        search::Trial t = s.ask();
        Run r{nas(t), t.frozen().user_attrs, {}};
        if (nas.last_model())
            for (const auto& [name, p] : nas.last_model()->named_parameters()) {
                const auto x = p.to_vector_f64();
                r.weights.insert(r.weights.end(), x.begin(), x.end());
            }
        return r;
    };
    // Task 1's objective trains and keeps the weights and its result
    o.trained_dir = dir.file("trained");
    const Run first = run(o, "a");
    REQUIRE_FALSE(first.attrs.contains("trained_weights"));
    REQUIRE_FALSE(first.attrs.contains("reused_from"));
    const experiments::TrainedCache cache(o.trained_dir);
    const json arch = first.attrs.at("architecture");
    REQUIRE(cache.has_weights(arch));
    REQUIRE(cache.result(arch, o.tag()));
    // the same objective on the same architecture: the result, without training or evaluating
    const Run again = run(o, "b");
    REQUIRE(again.attrs.at("reused_from") == "a#0");
    REQUIRE(again.value == first.value);
    REQUIRE(again.attrs.at("test_accuracy") == first.attrs.at("test_accuracy"));
    REQUIRE(again.weights.empty());
    // without the result, the weights are loaded: exactly what training gave
    std::filesystem::remove(cache.dir() + "/" + experiments::TrainedCache::key(arch) + "." + o.tag() + ".json");
    const Run loaded = run(o, "c");
    REQUIRE(loaded.attrs.at("trained_weights") == cache.weights_path(arch));
    REQUIRE(loaded.value == first.value);
    REQUIRE(loaded.attrs.at("test_accuracy") == first.attrs.at("test_accuracy"));
    REQUIRE(loaded.weights == first.weights);

    // the compression-aware objective (another tag) starts from those weights: the same as training them
    o.compress = true;
    o.post_train_epochs = 1;
    REQUIRE(o.tag().rfind("compression-aware-post1", 0) == 0);  // + a hash of the configs: not the default paths
    const Run ca_loaded = run(o, "d");
    REQUIRE(ca_loaded.attrs.contains("trained_weights"));
    REQUIRE(ca_loaded.attrs.at("val_accuracy_before_compression").get<double>() == first.value);
    o.trained_dir.clear();
    const Run ca_trained = run(o, "e");
    REQUIRE_FALSE(ca_trained.attrs.contains("trained_weights"));
    REQUIRE(ca_loaded.value == ca_trained.value);
    REQUIRE(ca_loaded.attrs.at("test_accuracy") == ca_trained.attrs.at("test_accuracy"));
    REQUIRE(ca_loaded.weights == ca_trained.weights);
    REQUIRE(ca_loaded.weights != first.weights);  // post-training moved them
    // removing the weights keeps the results
    REQUIRE(cache.remove_weights() > 0);
    REQUIRE_FALSE(cache.has_weights(arch));
    REQUIRE(cache.result(arch, o.tag()));

    o.space = "layers";
    o.trained_dir = dir.file("trained");
    REQUIRE_THROWS_WITH(experiments::NasObjective(synthetic_data(dir), o), Contains("'model' space"));
}

TEST_CASE("NAS objectives learn: a trained architecture beats chance; post-training after compression does not lose",
          "[experiments][nas]") {
    TempDir dir;
    model::TrainConfig cfg = synthetic_data(dir);
    cfg.epochs = 3;
    experiments::NasOptions o = small_space();
    o.space = "model";
    const auto one = [&](experiments::NasOptions opts) {
        experiments::NasObjective nas(cfg, opts);
        search::GridSampler::Space g{{"num_layers", {0}}, {"num_heads", {0}}, {"hidden_size", {1}}, {"intermediate_size", {0}}};
        search::Study s(std::make_shared<search::Storage>(":memory:"), "learn", search::Direction::Maximize,
                        std::make_shared<search::GridSampler>(g, 0));
        search::Trial t = s.ask();
        const double v = nas(t);
        return std::make_pair(v, t.frozen().user_attrs);
    };
    const auto [nas_val, nas_attrs] = one(o);
    // 40 validation reviews whose words give the label away: chance is 0.5
    CHECK(nas_val >= 0.9);
    CHECK(nas_attrs.at("test_accuracy").get<double>() >= 0.9);
    // Q8.4 rounds this tiny model's weights (|w| mostly < 1/32) to zero: a finer fixed point, 50% L1 as in Lab 2
    o.compress = true;
    o.quant_config = dir.file("q16.toml");
    std::ofstream(o.quant_config) << "by = \"type\"\n[default]\nname = \"none\"\n[linear]\nname = \"integer\"\ndata_in_width = 16\n"
                                     "data_in_frac_width = 10\nweight_width = 16\nweight_frac_width = 10\n"
                                     "bias_width = 16\nbias_frac_width = 10\n";
    o.post_train_lr = 1e-3;
    o.post_train_epochs = 0;
    const auto [ca0, ca0_attrs] = one(o);
    o.post_train_epochs = 2;
    const auto [ca1, ca1_attrs] = one(o);
    INFO("nas " << nas_val << " compressed " << ca0 << " compressed + post-trained " << ca1);
    CHECK(ca0_attrs.at("val_accuracy_before_compression").get<double>() == nas_val);  // same architecture and seed
    CHECK(ca1_attrs.at("val_accuracy_before_compression").get<double>() == nas_val);
    CHECK(ca0 <= ca1);
    CHECK(ca1 >= 0.9);
}

TEST_CASE("compression-aware NAS reads its configs from configs/compress/ (and names a bad one)", "[experiments][nas]") {
    TempDir dir;
    experiments::NasOptions o = small_space();
    o.space = "model";
    o.compress = true;
    o.quant_config = std::string(QBERT_SOURCE_ROOT) + "/configs/compress/quant-q8.4.toml";
    o.prune_config = dir.file("prune.toml");
    std::ofstream(o.prune_config) << "[weight]\nsparsity = 0.25\nmethod = \"l1-norm\"\nscope = \"local\"\n"
                                     "[activation]\nsparsity = 0.0\nmethod = \"l1-norm\"\nscope = \"local\"\n";
    REQUIRE(o.tag().rfind("compression-aware-post0-", 0) == 0);  // not the default configs: another objective
    experiments::NasObjective nas(synthetic_data(dir), o);
    search::Study s(std::make_shared<search::Storage>(":memory:"), "cfg", search::Direction::Maximize,
                    std::make_shared<search::RandomSampler>(2));
    search::Trial t = s.ask();
    nas(t);
    int64_t weights = 0, kept = 0;
    for (const auto& [name, mod] : nas.last_model()->named_modules())
        if (auto* c = dynamic_cast<model::CompressedLinear*>(mod.get())) {
            REQUIRE(c->quant()->weight.frac_width == 4);
            const auto m = c->weight_mask().to_vector_f64();
            weights += static_cast<int64_t>(m.size());
            for (double x : m) kept += x != 0.0;
        }
    REQUIRE(weights > 0);
    CHECK(static_cast<double>(kept) / static_cast<double>(weights) == Approx(0.75).margin(0.01));
    std::ofstream(o.prune_config) << "[weight]\nsparsity = 1.5\nmethod = \"l1-norm\"\nscope = \"local\"\n";
    REQUIRE_THROWS_WITH(experiments::NasObjective(synthetic_data(dir), o), Contains("prune.toml"));
}

TEST_CASE("NAS objective applies the config's train.matmul_precision (it did not: lab2 trained in fp32)", "[experiments][nas]") {
    TempDir dir;
    model::TrainConfig cfg = synthetic_data(dir);
    cfg.matmul_precision = "bf16";
    {
        experiments::NasObjective nas(cfg, small_space());
        REQUIRE(engine::matmul_precision() == engine::MatmulPrecision::BF16);
    }
    cfg.matmul_precision = "f32";
    experiments::NasObjective back(cfg, small_space());
    REQUIRE(engine::matmul_precision() == engine::MatmulPrecision::F32);
}

TEST_CASE("NAS with eval points: validation reported during training, same result, pruned trials replayed from the cache",
          "[experiments][nas][pruners]") {
    TempDir dir;
    experiments::NasOptions o = small_space();
    o.space = "model";
    o.layers = {1};
    o.heads = {2};
    o.hidden = {16, 32};
    o.intermediate = {32};
    o.test = false;
    const model::TrainConfig cfg = synthetic_data(dir);
    // one grid point: the same architecture with and without checks
    search::GridSampler::Space g{{"num_layers", {0}}, {"num_heads", {0}}, {"hidden_size", {0}}, {"intermediate_size", {0}}};
    const auto one = [&](int64_t points) {
        experiments::NasOptions p = o;
        p.eval_points = points;
        experiments::NasObjective nas(cfg, p);
        search::Study s(std::make_shared<search::Storage>(":memory:"), "e", search::Direction::Maximize,
                        std::make_shared<search::GridSampler>(g, 0));
        search::Trial t = s.ask();
        const double v = nas(t);
        return std::make_pair(v, t.frozen().intermediate);
    };
    const auto [plain, none] = one(0);
    const auto [checked, curve] = one(4);
    REQUIRE(none.empty());
    REQUIRE(checked == plain);  // evaluating draws no random numbers: training is the same
    REQUIRE(curve.size() == 4);
    REQUIRE(curve.rbegin()->second == checked);  // the last check is the end of training
    int64_t last = 0;
    for (const auto& [step, acc] : curve) {
        REQUIRE(step > last);
        last = step;
        REQUIRE(acc >= 0.0);
        REQUIRE(acc <= 1.0);
    }
    // A pruner that prunes everything at its first check: the trial ends PRUNED there; a later trial of the same
    // architecture is pruned from the kept curve without training.
    struct PruneAll : search::Pruner {
        std::string name() const override { return "all"; }
        nlohmann::json settings() const override { return nlohmann::json::object(); }
        bool prune(search::Study&, const std::vector<search::FrozenTrial>&, const search::FrozenTrial&) override {
            return true;
        }
    };
    experiments::NasOptions p = o;
    p.eval_points = 4;
    p.trained_dir = dir.file("trained");
    experiments::NasObjective nas(cfg, p);
    search::Study s(std::make_shared<search::Storage>(":memory:"), "pr", search::Direction::Maximize,
                    std::make_shared<search::GridSampler>(g, 0));
    s.set_pruner(std::make_shared<PruneAll>());
    search::OptimizeOptions opt;
    opt.n_trials = 1;
    s.optimize([&](search::Trial& t) { return nas(t); }, opt);
    search::Study s2(std::make_shared<search::Storage>(":memory:"), "pr2", search::Direction::Maximize,
                     std::make_shared<search::GridSampler>(g, 0));
    s2.set_pruner(std::make_shared<PruneAll>());
    s2.optimize([&](search::Trial& t) { return nas(t); }, opt);
    for (const auto* st : {&s, &s2}) {
        const auto& t = st->trials().at(0);
        REQUIRE(t.state == search::TrialState::Pruned);
        REQUIRE(t.intermediate.size() == 1);
        REQUIRE(*t.value == curve.begin()->second);  // the first check's accuracy, trained or replayed
    }
    REQUIRE_THAT(s2.trials().at(0).system_attrs.at("reason").get<std::string>(), Contains("replayed"));
}
