// Parity with PyTorch: the peer's own model (../shared/peers/torch_bert_bench.py) wrote weights, token ids,
// a padding mask and its eval-mode logits to tests/golden/bert_tiny_golden.json (tests/golden/make_bert_golden.py).
// Loading the same weights by Hugging Face names, our forward must give the same logits within 1e-4.
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/bert.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;

TEST_CASE("BERT logits match the PyTorch peer's within 1e-4 (golden file)", "[model][bert][golden]") {
    std::ifstream in(std::string(QBERT_SOURCE_ROOT) + "/tests/golden/bert_tiny_golden.json");
    REQUIRE(in.good());
    const nlohmann::json g = nlohmann::json::parse(in);
    const auto cfg = qbert::model::BertConfig::from_json(g["config"].dump(), "golden config");
    Rng rng(0);
    qbert::model::BertForSequenceClassification m(cfg, rng);
    m.train(false);
    int loaded = 0;
    {
        NoGradGuard ng;
        for (auto& [name, t] : m.named_parameters()) {
            CAPTURE(name);
            REQUIRE(g["params"].contains(name));
            const auto& p = g["params"][name];
            REQUIRE(p["shape"].get<std::vector<int64_t>>() == t.shape());
            t.copy_(Tensor::from_vector(p["data"].get<std::vector<float>>(), t.shape()));
            ++loaded;
        }
    }
    REQUIRE(loaded == static_cast<int>(g["params"].size()));
    const auto ids2d = g["input_ids"].get<std::vector<std::vector<int32_t>>>();
    const auto am2d = g["attention_mask"].get<std::vector<std::vector<int32_t>>>();
    const auto want = g["logits"].get<std::vector<std::vector<double>>>();
    const int64_t B = static_cast<int64_t>(ids2d.size()), T = static_cast<int64_t>(ids2d[0].size());
    std::vector<int32_t> ids, am;
    for (int64_t b = 0; b < B; ++b) {
        ids.insert(ids.end(), ids2d[b].begin(), ids2d[b].end());
        am.insert(am.end(), am2d[b].begin(), am2d[b].end());
    }
    for (const char* mode : {"ref", "fast"}) {
        KernelModeGuard kg(mode);
        CAPTURE(mode);
        NoGradGuard ng;
        const auto got = m.logits(Tensor::from_vector(ids, {B, T}), Tensor::from_vector(am, {B, T}), rng).to_vector_f64();
        double maxdiff = 0.0;
        for (int64_t b = 0; b < B; ++b)
            for (int64_t c = 0; c < 2; ++c) maxdiff = std::max(maxdiff, std::fabs(got[b * 2 + c] - want[b][c]));
        INFO("maxdiff = " << maxdiff);
        REQUIRE(maxdiff < 1e-4);
    }
}
