#include "model/bert_config.h"

#include <nlohmann/json.hpp>

#include <set>

#include "engine/core/error.h"
#include "model/config_fields.h"

namespace qbert::model {

using engine::Error;
using engine::detail::concat;

const ConfigFields<BertConfig>& BertConfig::fields() {
    using B = BertConfig;
    static const ConfigFields<B> f = [] {
        ConfigFields<B> f;
        f.add("", "vocab_size", &B::vocab_size, "token ids are below it", Range::above(0));
        f.add("", "hidden_size", &B::hidden_size, "width of every token vector", Range::above(0));
        f.add("", "num_hidden_layers", &B::num_hidden_layers, "encoder layers", Range::above(0));
        f.add("", "num_attention_heads", &B::num_attention_heads, "heads per layer (divides hidden_size)", Range::above(0));
        f.add("", "intermediate_size", &B::intermediate_size, "feed-forward width", Range::above(0));
        f.add("", "max_position_embeddings", &B::max_position_embeddings, "longest sequence", Range::above(0));
        f.add("", "type_vocab_size", &B::type_vocab_size, "segment ids", Range::above(0));
        f.add("", "hidden_dropout_prob", &B::hidden_dropout_prob, "dropout after embeddings and sublayers",
              Range::closed_open(0, 1));
        f.add("", "attention_probs_dropout_prob", &B::attention_probs_dropout_prob, "dropout on attention weights",
              Range::closed_open(0, 1));
        f.add("", "layer_norm_eps", &B::layer_norm_eps, "LayerNorm epsilon", Range::above(0));
        f.add("", "initializer_range", &B::initializer_range, "std of the initial weights", Range::above(0));
        f.add("", "num_labels", &B::num_labels, "classes of the classifier", Range::above(0));
        f.add_constant("", "hidden_act", "gelu", true, "only gelu, the erf form");
        f.add_constant("", "model_type", "bert", false, "written for Hugging Face; any value is read");
        return f;
    }();
    return f;
}

void BertConfig::validate() const {
    fields().check(*this, "BertConfig");
    ENGINE_CHECK(hidden_size % num_attention_heads == 0, "BertConfig: hidden_size % num_attention_heads == 0 must hold, but got hidden_size=",
                 hidden_size, " num_attention_heads=", num_attention_heads);
}

std::string BertConfig::to_json() const { return fields().to_json(*this).dump(2); }

BertConfig BertConfig::from_json(const std::string& text, const std::string& source) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(concat(source, ": not valid JSON: ", e.what()));
    }
    // Hugging Face config.json extras we accept and ignore
    static const std::set<std::string> ignored = {"architectures", "pad_token_id", "position_embedding_type", "use_cache",
                                                  "classifier_dropout", "torch_dtype", "transformers_version",
                                                  "gradient_checkpointing", "problem_type", "id2label", "label2id"};
    BertConfig c;
    fields().read_json(c, j, source, ignored);
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
