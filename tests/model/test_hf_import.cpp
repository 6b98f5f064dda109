#include <filesystem>
#include <fstream>

#include "model/hf_import.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

TEST_CASE("import-hf: config.json + model.safetensors written by the test load by HF names", "[model][hf_import]") {
    const fs::path dir = fs::temp_directory_path() / ("qbert_hf_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    qbert::model::BertConfig c = qbert::model::BertConfig::preset("tiny");
    c.vocab_size = 120;
    Rng rng(9);
    qbert::model::BertForSequenceClassification src(c, rng);
    // a bare BertModel file: no "bert." prefix, no classifier, plus a pretraining-head tensor we do not have
    NamedTensors file;
    for (auto& [name, t] : src.named_parameters())
        if (name.rfind("bert.", 0) == 0) file.emplace_back(name.substr(5), t);
    file.emplace_back("cls.predictions.bias", Tensor::zeros({120}));
    qbert::model::write_safetensors((dir / "model.safetensors").string(), file);
    std::ofstream(dir / "config.json") << R"({"architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "vocab_size": 120, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 512, "max_position_embeddings": 512, "type_vocab_size": 2, "pad_token_id": 0,
        "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02, "position_embedding_type": "absolute", "use_cache": true})";
    const auto r = qbert::model::import_hf(dir.string(), 0);
    REQUIRE(r.loaded.size() == file.size() - 1);
    REQUIRE(r.skipped == std::vector<std::string>{"cls.predictions.bias"});
    REQUIRE(r.kept_init == std::vector<std::string>{"classifier.bias", "classifier.weight"});
    auto got = r.model->named_parameters();
    auto want = src.named_parameters();
    for (size_t i = 0; i < want.size(); ++i) {
        if (want[i].first.rfind("classifier", 0) == 0) continue;
        CAPTURE(want[i].first);
        REQUIRE(got[i].first == want[i].first);
        REQUIRE(got[i].second.to_vector_f32() == want[i].second.to_vector_f32());
    }
    // a truncated file fails naming the file and tensor
    fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 100);
    REQUIRE_THROWS_WITH(qbert::model::import_hf(dir.string(), 0), Contains("model.safetensors") && Contains("tensor"));
    fs::remove(dir / "config.json");
    REQUIRE_THROWS_WITH(qbert::model::import_hf(dir.string(), 0), Contains("config.json") && Contains("missing"));
    fs::remove_all(dir);
}

TEST_CASE("safetensors F16 and BF16 are converted to f32", "[model][hf_import]") {
    const fs::path p = fs::temp_directory_path() / ("qbert_half_" + std::to_string(::getpid()) + ".safetensors");
    std::string header = R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})";
    while ((header.size() + 8) % 8) header += ' ';
    {
        std::ofstream out(p, std::ios::binary);
        const uint64_t n = header.size();
        out.write(reinterpret_cast<const char*>(&n), 8);
        out << header;
        const uint16_t vals[6] = {0x3C00, 0xC000, 0x3800, 0x0001, 0x3F80, 0xC0A0};  // 1, -2, 0.5, 2^-24 | 1, -5
        out.write(reinterpret_cast<const char*>(vals), sizeof vals);
    }
    const auto ts = qbert::model::read_safetensors(p.string());
    REQUIRE(ts.size() == 2);
    const auto& h = ts[0].name == "h" ? ts[0] : ts[1];
    const auto& b = ts[0].name == "b" ? ts[0] : ts[1];
    REQUIRE(h.value.to_vector_f32() == std::vector<float>{1.0f, -2.0f, 0.5f, 0x1.0p-24f});
    REQUIRE(b.value.to_vector_f32() == std::vector<float>{1.0f, -5.0f});
    fs::remove(p);
}
