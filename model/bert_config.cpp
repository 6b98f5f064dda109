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

namespace {
// Every JSON field of BertConfig, once: to_json, from_json and the "valid fields" list all walk this table.
struct Field {
    const char* name;
    int64_t BertConfig::*i;  // exactly one of i / d is set
    double BertConfig::*d;
};
constexpr Field kFields[] = {
    {"vocab_size", &BertConfig::vocab_size, nullptr},
    {"hidden_size", &BertConfig::hidden_size, nullptr},
    {"num_hidden_layers", &BertConfig::num_hidden_layers, nullptr},
    {"num_attention_heads", &BertConfig::num_attention_heads, nullptr},
    {"intermediate_size", &BertConfig::intermediate_size, nullptr},
    {"max_position_embeddings", &BertConfig::max_position_embeddings, nullptr},
    {"type_vocab_size", &BertConfig::type_vocab_size, nullptr},
    {"hidden_dropout_prob", nullptr, &BertConfig::hidden_dropout_prob},
    {"attention_probs_dropout_prob", nullptr, &BertConfig::attention_probs_dropout_prob},
    {"layer_norm_eps", nullptr, &BertConfig::layer_norm_eps},
    {"initializer_range", nullptr, &BertConfig::initializer_range},
    {"num_labels", &BertConfig::num_labels, nullptr},
};
}  // namespace

std::string BertConfig::to_json() const {
    nlohmann::ordered_json j;
    for (const Field& f : kFields) {
        if (f.i) j[f.name] = this->*f.i;
        else j[f.name] = this->*f.d;
    }
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
    // Hugging Face config.json extras we accept and ignore
    const std::set<std::string> ignored = {"architectures", "model_type", "hidden_act", "pad_token_id",
                                           "position_embedding_type", "use_cache", "classifier_dropout",
                                           "torch_dtype", "transformers_version", "gradient_checkpointing",
                                           "problem_type", "id2label", "label2id"};
    BertConfig c;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const Field* field = nullptr;
        for (const Field& f : kFields)
            if (it.key() == f.name) field = &f;
        if (!field) {
            if (ignored.count(it.key())) continue;
            std::string valid;
            for (const Field& f : kFields) valid += (valid.empty() ? "" : ", ") + std::string(f.name);
            throw Error(concat(source, ": unknown field '", it.key(), "'; valid fields: ", valid));
        }
        const nlohmann::json& v = it.value();
        if (field->i) {
            if (!v.is_number_integer())
                throw Error(concat(source, ": field '", it.key(), "' must be an integer, got ", v.dump()));
            c.*field->i = v.get<int64_t>();
        } else {
            if (!v.is_number()) throw Error(concat(source, ": field '", it.key(), "' must be a number, got ", v.dump()));
            c.*field->d = v.get<double>();
        }
    }
    if (j.contains("hidden_act") && j["hidden_act"] != "gelu")
        throw Error(concat(source, ": hidden_act ", j["hidden_act"].dump(), " is not supported (only \"gelu\", the erf form)"));
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
