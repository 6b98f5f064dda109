#include "model/bert.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using qbert::model::BertConfig;
using qbert::model::BertForSequenceClassification;
using Catch::Matchers::Contains;

TEST_CASE("BERT parameter names and counts match Hugging Face's bert-tiny", "[model][bert]") {
    Rng rng(0);
    BertForSequenceClassification m(BertConfig::preset("tiny"), rng);
    const auto params = m.named_parameters();
    int64_t in_bert = 0;
    for (const auto& [name, t] : params)
        if (name.rfind("bert.", 0) == 0) in_bert += t.numel();
    REQUIRE(in_bert == 4385920);  // the table Mase prints for prajjwal1/bert-tiny
    auto find = [&](const std::string& n) {
        for (const auto& [name, t] : params)
            if (name == n) return t.shape();
        FAIL("missing parameter " << n);
        return Shape{};
    };
    REQUIRE(find("bert.embeddings.word_embeddings.weight") == Shape{30522, 128});
    REQUIRE(find("bert.encoder.layer.1.attention.self.query.weight") == Shape{128, 128});
    REQUIRE(find("bert.encoder.layer.0.intermediate.dense.weight") == Shape{512, 128});
    REQUIRE(find("bert.encoder.layer.0.output.LayerNorm.bias") == Shape{128});
    REQUIRE(find("bert.pooler.dense.bias") == Shape{128});
    REQUIRE(find("classifier.weight") == Shape{2, 128});
    REQUIRE(params.size() == 5 + 2 * 16 + 2 + 2);
}

TEST_CASE("BERT init follows Hugging Face: N(0, 0.02), zero bias, LN 1/0, zero padding row", "[model][bert]") {
    Rng rng(1);
    BertForSequenceClassification m(BertConfig::preset("tiny"), rng);
    for (const auto& [name, t] : m.named_parameters()) {
        const auto v = t.to_vector_f64();
        double s = 0, sq = 0;
        for (double x : v) s += x, sq += x * x;
        const double mean = s / v.size(), sd = std::sqrt(sq / v.size() - mean * mean);
        CAPTURE(name);
        if (name.find("LayerNorm.weight") != std::string::npos) REQUIRE((mean == 1.0 && sd == 0.0));
        else if (name.ends_with("bias")) REQUIRE(sq == 0.0);
        else if (v.size() > 1000) REQUIRE(std::fabs(sd - 0.02) < 0.002);
        if (name == "bert.embeddings.word_embeddings.weight")
            for (int c = 0; c < 128; ++c) REQUIRE(v[c] == 0.0);
    }
}

TEST_CASE("BERT: padding does not change the logits; shapes are checked", "[model][bert]") {
    BertConfig c = BertConfig::preset("tiny");
    c.vocab_size = 200;
    Rng rng(2);
    BertForSequenceClassification m(c, rng);
    m.train(false);
    Rng drop(3);
    Tensor ids = Tensor::from_vector(std::vector<int32_t>{101, 7, 8, 102, 0, 0, 101, 9, 102, 0, 0, 0}, {2, 6});
    Tensor am = Tensor::from_vector(std::vector<int32_t>{1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0}, {2, 6});
    Tensor ids2 = Tensor::from_vector(std::vector<int32_t>{101, 7, 8, 102, 55, 66, 101, 9, 102, 77, 1, 2}, {2, 6});
    NoGradGuard ng;
    const auto a = m.logits(ids, am, drop).to_vector_f64();
    const auto b = m.logits(ids2, am, drop).to_vector_f64();
    REQUIRE(a.size() == 4);
    // -10000 in the mask leaves exp(-10000 + s) == 0 in fp32: padded tokens contribute exactly nothing
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).margin(1e-6));
    // the first sequence alone, unpadded, gives the same logits
    Tensor one = Tensor::from_vector(std::vector<int32_t>{101, 7, 8, 102}, {1, 4});
    const auto s = m.logits(one, Tensor::full({1, 4}, 1.0, DType::I32), drop).to_vector_f64();
    REQUIRE(s[0] == Approx(a[0]).margin(1e-5));
    REQUIRE(s[1] == Approx(a[1]).margin(1e-5));
    REQUIRE_THROWS_WITH(m.logits(ids, Tensor::full({2, 5}, 1.0, DType::I32), drop), Contains("[2,6]") && Contains("[2,5]"));
}

TEST_CASE("BERT trains: loss falls on a learnable toy task, bitwise reproducible", "[model][bert][train]") {
    auto run = [] {
        BertConfig c = BertConfig::preset("tiny");
        c.vocab_size = 50;
        c.hidden_size = 32, c.intermediate_size = 64, c.num_attention_heads = 2;
        Rng root(5);
        Rng init = root.fork("init"), data = root.fork("data"), drop = root.fork("dropout");
        BertForSequenceClassification m(c, init);
        AdamWOptions ao;
        ao.lr = 3e-3;
        AdamW opt(m.named_parameters(), ao);
        std::vector<float> losses;
        for (int step = 0; step < 30; ++step) {
            // label = whether token 7 occurs in the sequence
            std::vector<int32_t> ids(16 * 8), y(16);
            for (int b = 0; b < 16; ++b) {
                y[b] = static_cast<int32_t>(data.below(2));
                for (int t = 0; t < 8; ++t) ids[b * 8 + t] = 10 + static_cast<int32_t>(data.below(40));
                if (y[b]) ids[b * 8 + 1 + static_cast<int>(data.below(7))] = 7;
            }
            Tensor loss = cross_entropy(m.logits(Tensor::from_vector(ids, {16, 8}), Tensor::full({16, 8}, 1.0, DType::I32), drop),
                                        Tensor::from_vector(y, {16}));
            losses.push_back(static_cast<float>(loss.item()));
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
        return losses;
    };
    const auto a = run(), b = run();
    REQUIRE(a == b);
    double first = 0, last = 0;
    for (int i = 0; i < 5; ++i) first += a[i], last += a[a.size() - 1 - i];
    REQUIRE(last < 0.7 * first);
}

TEST_CASE("BertConfig JSON round trip and errors name the field", "[model][bert][config]") {
    const BertConfig c = BertConfig::preset("mini");
    const BertConfig r = BertConfig::from_json(c.to_json());
    REQUIRE(r.hidden_size == 256);
    REQUIRE(r.num_hidden_layers == 4);
    REQUIRE_THROWS_WITH(BertConfig::from_json(R"({"hidden_sise": 3})", "cfg.json"),
                        Contains("cfg.json") && Contains("hidden_sise") && Contains("hidden_size"));
    REQUIRE_THROWS_WITH(BertConfig::from_json(R"({"hidden_size": 100, "num_attention_heads": 3})", "cfg.json"),
                        Contains("cfg.json") && Contains("num_attention_heads"));
    REQUIRE_THROWS_WITH(BertConfig::from_json("{not json", "cfg.json"), Contains("cfg.json") && Contains("JSON"));
    REQUIRE_THROWS_WITH(BertConfig::preset("huge"), Contains("huge") && Contains("tiny"));
}

TEST_CASE("BERT: computing only [CLS] in the last layer gives the same logits and gradients", "[model][bert]") {
    BertConfig c = BertConfig::preset("tiny");
    c.vocab_size = 120;
    c.num_hidden_layers = 3;
    c.hidden_dropout_prob = c.attention_probs_dropout_prob = 0.0;  // dropout draws would differ in count
    Rng rng(7);
    BertForSequenceClassification m(c, rng);
    Rng data(8);
    std::vector<int32_t> ids(4 * 9), mask(4 * 9, 1);
    for (auto& t : ids) t = static_cast<int32_t>(data.below(120));
    mask[9 + 7] = mask[9 + 8] = mask[3 * 9 + 8] = 0;  // some padding
    const Tensor tid = Tensor::from_vector(ids, {4, 9}), tam = Tensor::from_vector(mask, {4, 9});
    const Tensor y = Tensor::from_vector(std::vector<int32_t>{0, 1, 1, 0}, {4});
    auto run = [&](bool cls_only) {
        m.set_cls_only_last_layer(cls_only);
        for (auto& [name, p] : m.named_parameters()) p.zero_grad();
        Rng drop(9);
        Tensor logits = m.logits(tid, tam, drop);
        cross_entropy(logits, y).backward();
        std::vector<std::vector<double>> out{logits.to_vector_f64()};
        for (auto& [name, p] : m.named_parameters()) out.push_back(p.grad().to_vector_f64());
        return out;
    };
    const auto full = run(false), cls = run(true);
    REQUIRE(m.cls_only_last_layer());
    REQUIRE(full.size() == cls.size());
    double max_diff = 0, max_abs = 0;
    for (size_t i = 0; i < full.size(); ++i) {
        REQUIRE(full[i].size() == cls[i].size());
        for (size_t j = 0; j < full[i].size(); ++j) {
            max_diff = std::max(max_diff, std::abs(full[i][j] - cls[i][j]));
            max_abs = std::max(max_abs, std::abs(full[i][j]));
        }
    }
    REQUIRE(max_abs > 1e-3);  // the gradients are not all zero
    REQUIRE(max_diff < 1e-6);
}
