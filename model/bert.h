// BertForSequenceClassification on the engine, with Hugging Face's module tree and parameter names:
//   bert.embeddings.{word,position,token_type}_embeddings.weight, bert.embeddings.LayerNorm.{weight,bias}
//   bert.encoder.layer.<i>.attention.self.{query,key,value}.{weight,bias}
//   bert.encoder.layer.<i>.attention.output.{dense,LayerNorm}.*
//   bert.encoder.layer.<i>.intermediate.dense.*   bert.encoder.layer.<i>.output.{dense,LayerNorm}.*
//   bert.pooler.dense.*   classifier.*
// Every Linear, LayerNorm or Identity is called through the tree (child("query").forward(x)), so the passes can
// replace it by name. Post-LN as BERT: x = LN(x + dropout(dense(h))). GELU is the erf form.
#pragma once

#include "model/bert_config.h"
#include "model/module.h"

namespace qbert::model {

// A lookup table: weight [num, dim], initialized N(0, std).
class Embedding : public Module {
public:
    Embedding(int64_t num, int64_t dim, engine::Rng& rng, double std);
    std::string type_name() const override { return "Embedding"; }
    Tensor forward(const Tensor& ids) override { return engine::embedding(weight_, ids); }
    Tensor& weight() { return weight_; }

private:
    Tensor weight_;
};

// An ordered list of children named "0", "1", ... (HF's nn.ModuleList).
class ModuleList : public Module {
public:
    std::string type_name() const override { return "ModuleList"; }
    void append(std::shared_ptr<Module> m) { register_module(std::to_string(size_++), std::move(m)); }
    int64_t size() const { return size_; }

private:
    int64_t size_ = 0;
};

// One encoder layer's width: its attention heads and feed-forward neurons (structured pruning makes them differ
// from the config's num_attention_heads and intermediate_size; the head size hidden / num_attention_heads stays).
struct LayerShape {
    int64_t heads = 0, intermediate = 0;
    bool operator==(const LayerShape&) const = default;
};

class BertForSequenceClassification : public Module {
public:
    // Initialized as Hugging Face's BERT: N(0, initializer_range) weights and embeddings (the padding row 0
    // of the word embeddings zeroed), zero biases, LayerNorm weight 1 and bias 0. Seeded by `rng`.
    BertForSequenceClassification(const BertConfig& config, engine::Rng& rng);
    std::string type_name() const override { return "BertForSequenceClassification"; }

    // input_ids, attention_mask: i32 [B, T] (mask 1 = token, 0 = padding). Returns logits [B, num_labels].
    // Dropout draws from `rng` when training().
    Tensor logits(const Tensor& input_ids, const Tensor& attention_mask, engine::Rng& rng);
    const BertConfig& config() const { return config_; }

    // Each encoder layer's heads and neurons, read from its Linear layers (the config's for a layer NAS replaced).
    std::vector<LayerShape> layer_shapes() const;
    // Gives layer i `shape`: its query/key/value, attention output, intermediate and output Linear layers are
    // replaced by plain, freshly initialized (from `rng`) ones of the new sizes; the caller fills them. At least
    // one head and one neuron.
    void set_layer_shape(int64_t i, const LayerShape& shape, engine::Rng& rng);

    // The classifier reads only the [CLS] position of the last layer, so by default that layer computes its
    // query, attention, output dense and feed-forward for position 0 only (keys and values still see every
    // token). The logits and every gradient are the same as computing all positions (tested); the work saved
    // is most of one layer. Turn it off when something must see the last layer's full activations: e.g.
    // range calibration or activation pruning, whose thresholds are taken over the whole input tensor.
    void set_cls_only_last_layer(bool on) { cls_only_last_layer_ = on; }
    bool cls_only_last_layer() const { return cls_only_last_layer_; }
    // Module's hook (activation pruning calls it on the root): turns the [CLS]-only last layer off for good.
    bool set_full_sequence(bool on) override {
        const bool was = !cls_only_last_layer_;
        set_cls_only_last_layer(!on);
        Module::set_full_sequence(on);
        return was;
    }

private:
    BertConfig config_;
    bool cls_only_last_layer_ = true;
};

}  // namespace qbert::model
