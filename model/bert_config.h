// BertConfig: Hugging Face's field names, read and written as JSON (a config.json), plus named presets that
// match the PyTorch peer (../shared/peers/torch_bert_bench.py): tiny L2 H128 A2 I512, mini L4 H256 A4 I1024,
// small L4 H512 A8 I2048.
#pragma once

#include <cstdint>
#include <string>

namespace qbert::model {

template <class C>
class ConfigFields;

struct BertConfig {
    int64_t vocab_size = 30522;
    int64_t hidden_size = 128;
    int64_t num_hidden_layers = 2;
    int64_t num_attention_heads = 2;
    int64_t intermediate_size = 512;
    int64_t max_position_embeddings = 512;
    int64_t type_vocab_size = 2;
    double hidden_dropout_prob = 0.1;
    double attention_probs_dropout_prob = 0.1;
    double layer_norm_eps = 1e-12;
    double initializer_range = 0.02;
    int64_t num_labels = 2;

    // Every field once (config_fields.h): JSON here, TOML [model] in TrainConfig, ranges in validate().
    static const ConfigFields<BertConfig>& fields();
    // Throws engine::Error naming the field when a value is out of range (e.g. hidden not divisible by heads).
    void validate() const;
    std::string to_json() const;
    // Unknown keys are errors listing the valid ones; `source` names the file in messages. Missing keys keep
    // their defaults. HF config.json extras (architectures, model_type, ...) are accepted and ignored.
    static BertConfig from_json(const std::string& json, const std::string& source = "config");
    static BertConfig preset(const std::string& name);  // tiny | mini | small
};

}  // namespace qbert::model
