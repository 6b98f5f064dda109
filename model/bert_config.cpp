#include "model/bert_config.h"

#include <nlohmann/json.hpp>

#include <set>

#include "engine/core/error.h"

namespace qbert::model {

using engine::Error;
using engine::detail::concat;

void BertConfig::validate() const {
    auto pos = [](const char* f, int64_t v) { ENGINE_CHECK(v > 0, "BertConfig: ", f, " > 0 must hold, but got ", v); };
    pos("vocab_size", vocab_size);
    pos("hidden_size", hidden_size);
    pos("num_hidden_layers", num_hidden_layers);
    pos("num_attention_heads", num_attention_heads);
    pos("intermediate_size", intermediate_size);
    pos("max_position_embeddings", max_position_embeddings);
    pos("type_vocab_size", type_vocab_size);
    pos("num_labels", num_labels);
    ENGINE_CHECK(hidden_size % num_attention_heads == 0, "BertConfig: hidden_size % num_attention_heads == 0 must hold, but got hidden_size=",
                 hidden_size, " num_attention_heads=", num_attention_heads);
    for (auto [f, v] : {std::pair{"hidden_dropout_prob", hidden_dropout_prob},
                        std::pair{"attention_probs_dropout_prob", attention_probs_dropout_prob}})
        ENGINE_CHECK(v >= 0.0 && v < 1.0, "BertConfig: 0 <= ", f, " < 1 must hold, but got ", v);
    ENGINE_CHECK(layer_norm_eps > 0, "BertConfig: layer_norm_eps > 0 must hold, but got ", layer_norm_eps);
    ENGINE_CHECK(initializer_range > 0, "BertConfig: initializer_range > 0 must hold, but got ", initializer_range);
}

std::string BertConfig::to_json() const {
    nlohmann::ordered_json j;
    j["vocab_size"] = vocab_size;
    j["hidden_size"] = hidden_size;
    j["num_hidden_layers"] = num_hidden_layers;
    j["num_attention_heads"] = num_attention_heads;
    j["intermediate_size"] = intermediate_size;
    j["max_position_embeddings"] = max_position_embeddings;
    j["type_vocab_size"] = type_vocab_size;
    j["hidden_dropout_prob"] = hidden_dropout_prob;
    j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
    j["layer_norm_eps"] = layer_norm_eps;
    j["initializer_range"] = initializer_range;
    j["num_labels"] = num_labels;
    j["hidden_act"] = "gelu";
    j["model_type"] = "bert";
    return j.dump(2);
}

BertConfig BertConfig::from_json(const std::string& text, const std::string& source) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(concat(source, ": not valid JSON: ", e.what()));
    }
    if (!j.is_object()) throw Error(concat(source, ": expected a JSON object"));
    BertConfig c;
    const std::set<std::string> ignored = {"architectures", "model_type", "hidden_act", "pad_token_id",
                                           "position_embedding_type", "use_cache", "classifier_dropout",
                                           "torch_dtype", "transformers_version", "gradient_checkpointing",
                                           "problem_type", "id2label", "label2id"};
    auto get_int = [&](const std::string& k, int64_t& dst) {
        if (!j.contains(k)) return;
        if (!j[k].is_number_integer()) throw Error(concat(source, ": field '", k, "' must be an integer, got ", j[k].dump()));
        dst = j[k].get<int64_t>();
    };
    auto get_num = [&](const std::string& k, double& dst) {
        if (!j.contains(k)) return;
        if (!j[k].is_number()) throw Error(concat(source, ": field '", k, "' must be a number, got ", j[k].dump()));
        dst = j[k].get<double>();
    };
    const std::set<std::string> known = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                         "intermediate_size", "max_position_embeddings", "type_vocab_size",
                                         "hidden_dropout_prob", "attention_probs_dropout_prob", "layer_norm_eps",
                                         "initializer_range", "num_labels"};
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (known.count(it.key()) || ignored.count(it.key())) continue;
        std::string valid;
        for (const auto& k : known) valid += (valid.empty() ? "" : ", ") + k;
        throw Error(concat(source, ": unknown field '", it.key(), "'; valid fields: ", valid));
    }
    if (j.contains("hidden_act") && j["hidden_act"] != "gelu")
        throw Error(concat(source, ": hidden_act ", j["hidden_act"].dump(), " is not supported (only \"gelu\", the erf form)"));
    get_int("vocab_size", c.vocab_size);
    get_int("hidden_size", c.hidden_size);
    get_int("num_hidden_layers", c.num_hidden_layers);
    get_int("num_attention_heads", c.num_attention_heads);
    get_int("intermediate_size", c.intermediate_size);
    get_int("max_position_embeddings", c.max_position_embeddings);
    get_int("type_vocab_size", c.type_vocab_size);
    get_num("hidden_dropout_prob", c.hidden_dropout_prob);
    get_num("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
    get_num("layer_norm_eps", c.layer_norm_eps);
    get_num("initializer_range", c.initializer_range);
    get_int("num_labels", c.num_labels);
    if (j.contains("id2label") && !j.contains("num_labels") && j["id2label"].is_object())
        c.num_labels = static_cast<int64_t>(j["id2label"].size());
    try {
        c.validate();
    } catch (const Error& e) {
        throw Error(concat(source, ": ", e.what()));
    }
    return c;
}

BertConfig BertConfig::preset(const std::string& name) {
    BertConfig c;
    if (name == "tiny") {
        c.num_hidden_layers = 2, c.hidden_size = 128, c.num_attention_heads = 2, c.intermediate_size = 512;
    } else if (name == "mini") {
        c.num_hidden_layers = 4, c.hidden_size = 256, c.num_attention_heads = 4, c.intermediate_size = 1024;
    } else if (name == "small") {
        c.num_hidden_layers = 4, c.hidden_size = 512, c.num_attention_heads = 8, c.intermediate_size = 2048;
    } else {
        throw Error(concat("unknown model preset '", name, "'; valid presets: tiny, mini, small"));
    }
    return c;
}

}  // namespace qbert::model
