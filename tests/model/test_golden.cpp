// Parity with PyTorch: the peer's own model (../shared/peers/torch_bert_bench.py) wrote weights, token ids,
// a padding mask, labels and, in eval mode, its logits, its cross-entropy loss and the gradient of that loss
// for every parameter to tests/golden/bert_tiny_golden.json (tests/golden/make_bert_golden.py). Loading the
// same weights by Hugging Face names, our forward must give the same logits and loss, and our backward the
// same gradients, under the reference and the fast kernels.
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/bert.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;

namespace {
nlohmann::json read_golden() {
    std::ifstream in(std::string(QBERT_SOURCE_ROOT) + "/tests/golden/bert_tiny_golden.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
}

// The golden config with the golden weights, in eval mode (no dropout).
std::unique_ptr<qbert::model::BertForSequenceClassification> golden_model(const nlohmann::json& g) {
    const auto cfg = qbert::model::BertConfig::from_json(g["config"].dump(), "golden config");
    Rng rng(0);
    auto m = std::make_unique<qbert::model::BertForSequenceClassification>(cfg, rng);
    m->train(false);
    int loaded = 0;
    NoGradGuard ng;
    for (auto& [name, t] : m->named_parameters()) {
        CAPTURE(name);
        REQUIRE(g["params"].contains(name));
        const auto& p = g["params"][name];
        REQUIRE(p["shape"].get<std::vector<int64_t>>() == t.shape());
        t.copy_(Tensor::from_vector(p["data"].get<std::vector<float>>(), t.shape()));
        ++loaded;
    }
    REQUIRE(loaded == static_cast<int>(g["params"].size()));
    return m;
}

struct GoldenBatch {
    Tensor ids, am;
    int64_t B = 0;
};
GoldenBatch golden_batch(const nlohmann::json& g) {
    const auto ids2d = g["input_ids"].get<std::vector<std::vector<int32_t>>>();
    const auto am2d = g["attention_mask"].get<std::vector<std::vector<int32_t>>>();
    const int64_t B = static_cast<int64_t>(ids2d.size()), T = static_cast<int64_t>(ids2d[0].size());
    std::vector<int32_t> ids, am;
    for (int64_t b = 0; b < B; ++b) {
        ids.insert(ids.end(), ids2d[b].begin(), ids2d[b].end());
        am.insert(am.end(), am2d[b].begin(), am2d[b].end());
    }
    return {Tensor::from_vector(ids, {B, T}), Tensor::from_vector(am, {B, T}), B};
}
}  // namespace

TEST_CASE("BERT logits match the PyTorch peer's within 1e-4 (golden file)", "[model][bert][golden]") {
    const nlohmann::json g = read_golden();
    auto m = golden_model(g);
    const GoldenBatch in = golden_batch(g);
    const auto want = g["logits"].get<std::vector<std::vector<double>>>();
    Rng rng(0);
    for (const char* mode : {"ref", "fast"}) {
        KernelModeGuard kg(mode);
        CAPTURE(mode);
        NoGradGuard ng;
        const auto got = m->logits(in.ids, in.am, rng).to_vector_f64();
        double maxdiff = 0.0;
        for (int64_t b = 0; b < in.B; ++b)
            for (int64_t c = 0; c < 2; ++c) maxdiff = std::max(maxdiff, std::fabs(got[b * 2 + c] - want[b][c]));
        INFO("maxdiff = " << maxdiff);
        REQUIRE(maxdiff < 1e-4);
    }
}

// The loss within 1e-6, and every gradient element within 1e-6 + 1e-4 |torch's|. The gradients range from
// ~0.7 (pooler) down to ~1e-3 (query, key) and ~1e-10 (key biases, which are 0 in exact arithmetic: a
// constant added to every score of a row does not change its softmax), so the bound is per element.
TEST_CASE("BERT loss and every parameter's gradient match the PyTorch peer's (golden file)", "[model][bert][golden]") {
    const nlohmann::json g = read_golden();
    REQUIRE(g.contains("loss"));
    REQUIRE(g.contains("grads"));
    auto m = golden_model(g);
    const GoldenBatch in = golden_batch(g);
    const auto labels = Tensor::from_vector(g["labels"].get<std::vector<int32_t>>(), {in.B});
    const double want_loss = g["loss"].get<double>();
    Rng rng(0);
    for (const bool cls_only : {true, false}) {
        m->set_cls_only_last_layer(cls_only);
        for (const char* mode : {"ref", "fast"}) {
            KernelModeGuard kg(mode);
            CAPTURE(mode, cls_only);
            auto params = m->named_parameters();
            for (auto& [name, t] : params) t.zero_grad();
            Tensor loss = cross_entropy(m->logits(in.ids, in.am, rng), labels);
            const double got_loss = loss.item();
            INFO("loss: ours " << got_loss << ", torch " << want_loss);
            REQUIRE(std::fabs(got_loss - want_loss) < 1e-6);
            loss.backward();
            int compared = 0;
            double worst = 0.0;  // the largest |diff| / (1e-6 + 1e-4 |torch|) over everything
            std::string worst_name;
            for (auto& [name, t] : params) {
                CAPTURE(name);
                REQUIRE(g["grads"].contains(name));
                const auto want = g["grads"][name].get<std::vector<double>>();
                REQUIRE(t.grad().defined());
                const auto got = t.grad().to_vector_f64();
                REQUIRE(got.size() == want.size());
                for (size_t i = 0; i < got.size(); ++i) {
                    const double d = std::fabs(got[i] - want[i]);
                    const double r = d / (1e-6 + 1e-4 * std::fabs(want[i]));
                    if (r > worst) worst = r, worst_name = name;
                    if (r > 1.0) FAIL(name << "[" << i << "]: ours " << got[i] << ", torch " << want[i]);
                }
                ++compared;
            }
            REQUIRE(compared == static_cast<int>(g["grads"].size()));
            UNSCOPED_INFO("worst gradient element at " << worst << " of the bound, in " << worst_name);
        }
    }
    m->set_cls_only_last_layer(true);
}
