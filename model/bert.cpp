#include "model/bert.h"

#include <cmath>

namespace qbert::model {

using namespace engine;

Embedding::Embedding(int64_t num, int64_t dim, Rng& rng, double std) {
    weight_ = register_parameter("weight", Tensor::randn({num, dim}, rng, 0.0, std));
}

namespace {
// Plain containers: they only hold children, in Hugging Face's nesting, so the names come out right.
class Container : public Module {
public:
    explicit Container(std::string type) : type_(std::move(type)) {}
    std::string type_name() const override { return type_; }
    Module& add(const std::string& name, std::shared_ptr<Module> m) { return register_module(name, std::move(m)); }

private:
    std::string type_;
};

std::shared_ptr<Container> container(const std::string& type) { return std::make_shared<Container>(type); }
std::shared_ptr<Linear> dense(int64_t in, int64_t out, Rng& rng, const BertConfig& c) {
    return std::make_shared<Linear>(in, out, rng, c.initializer_range);
}
std::shared_ptr<LayerNorm> layer_norm(const BertConfig& c) {
    return std::make_shared<LayerNorm>(c.hidden_size, c.layer_norm_eps);
}
// BertSelfOutput / BertOutput: dense (in -> hidden) then LayerNorm, applied as LN(x + dropout(dense(h)))
std::shared_ptr<Container> dense_then_layer_norm(const std::string& type, int64_t in, Rng& rng, const BertConfig& c) {
    auto m = container(type);
    m->add("dense", dense(in, c.hidden_size, rng, c));
    m->add("LayerNorm", layer_norm(c));
    return m;
}

Module& at(const Module& m, const std::string& dotted) {
    const Module* cur = &m;
    size_t pos = 0;
    while (pos <= dotted.size()) {
        size_t dot = dotted.find('.', pos);
        if (dot == std::string::npos) dot = dotted.size();
        cur = &cur->child(dotted.substr(pos, dot - pos));
        pos = dot + 1;
    }
    return const_cast<Module&>(*cur);
}

// x:[B,T,H] -> [B,NH,T,HS] (a view; the matmul makes it contiguous)
Tensor split_heads(const Tensor& x, int64_t NH) {
    const int64_t B = x.size(0), T = x.size(1), H = x.size(2);
    return permute(reshape(x, {B, T, NH, H / NH}), {0, 2, 1, 3});
}
}  // namespace

BertForSequenceClassification::BertForSequenceClassification(const BertConfig& c, Rng& rng) : config_(c) {
    c.validate();
    auto bert = container("BertModel");
    auto emb = container("BertEmbeddings");
    auto word = std::make_shared<Embedding>(c.vocab_size, c.hidden_size, rng, c.initializer_range);
    {
        NoGradGuard ng;  // HF zeroes the padding_idx row (pad_token_id = 0)
        slice(word->weight(), 0, 0, 1).zero_();
    }
    emb->add("word_embeddings", word);
    emb->add("position_embeddings",
             std::make_shared<Embedding>(c.max_position_embeddings, c.hidden_size, rng, c.initializer_range));
    emb->add("token_type_embeddings", std::make_shared<Embedding>(c.type_vocab_size, c.hidden_size, rng, c.initializer_range));
    emb->add("LayerNorm", layer_norm(c));
    bert->add("embeddings", emb);

    auto encoder = container("BertEncoder");
    auto layers = std::make_shared<ModuleList>();
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        auto layer = container("BertLayer");
        auto attention = container("BertAttention");
        auto self = container("BertSelfAttention");
        self->add("query", dense(c.hidden_size, c.hidden_size, rng, c));
        self->add("key", dense(c.hidden_size, c.hidden_size, rng, c));
        self->add("value", dense(c.hidden_size, c.hidden_size, rng, c));
        attention->add("self", self);
        attention->add("output", dense_then_layer_norm("BertSelfOutput", c.hidden_size, rng, c));
        layer->add("attention", attention);
        auto inter = container("BertIntermediate");
        inter->add("dense", dense(c.hidden_size, c.intermediate_size, rng, c));
        layer->add("intermediate", inter);
        layer->add("output", dense_then_layer_norm("BertOutput", c.intermediate_size, rng, c));
        layers->append(layer);
    }
    encoder->add("layer", layers);
    bert->add("encoder", encoder);
    auto pooler = container("BertPooler");
    pooler->add("dense", dense(c.hidden_size, c.hidden_size, rng, c));
    bert->add("pooler", pooler);
    register_module("bert", bert);
    register_module("classifier", dense(c.hidden_size, c.num_labels, rng, c));
}

std::vector<LayerShape> BertForSequenceClassification::layer_shapes() const {
    const BertConfig& c = config_;
    const int64_t hs = c.hidden_size / c.num_attention_heads;
    std::vector<LayerShape> out;
    const Module& layers = at(*this, "bert.encoder.layer");
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        const Module& layer = layers.child(std::to_string(i));
        LayerShape s{c.num_attention_heads, c.intermediate_size};
        if (const auto* q = dynamic_cast<const Linear*>(&at(layer, "attention.self.query"))) s.heads = q->out_features() / hs;
        if (const auto* d = dynamic_cast<const Linear*>(&at(layer, "intermediate.dense"))) s.intermediate = d->out_features();
        out.push_back(s);
    }
    return out;
}

void BertForSequenceClassification::set_layer_shape(int64_t i, const LayerShape& s, Rng& rng) {
    const BertConfig& c = config_;
    ENGINE_CHECK(i >= 0 && i < c.num_hidden_layers, "set_layer_shape: layer ", i, " of ", c.num_hidden_layers);
    ENGINE_CHECK(s.heads >= 1 && s.heads <= c.num_attention_heads && s.intermediate >= 1 &&
                     s.intermediate <= c.intermediate_size,
                 "layer ", i, ": ", s.heads, " heads and ", s.intermediate, " neurons; 1..", c.num_attention_heads,
                 " heads and 1..", c.intermediate_size, " neurons expected");
    const int64_t H = c.hidden_size, w = s.heads * (H / c.num_attention_heads);
    const std::string p = "bert.encoder.layer." + std::to_string(i) + ".";
    for (const char* n : {"query", "key", "value"}) replace_module(p + "attention.self." + n, dense(H, w, rng, c));
    replace_module(p + "attention.output.dense", dense(w, H, rng, c));
    replace_module(p + "intermediate.dense", dense(H, s.intermediate, rng, c));
    replace_module(p + "output.dense", dense(s.intermediate, H, rng, c));
}

Tensor BertForSequenceClassification::logits(const Tensor& ids, const Tensor& am, Rng& rng) {
    const BertConfig& c = config_;
    ENGINE_CHECK_SHAPE(ids.dim() == 2 && am.shape() == ids.shape(), "bert: input_ids and attention_mask must both be [B,T], but got ",
                       shape_str(ids.shape()), " and ", shape_str(am.shape()));
    ENGINE_CHECK(ids.dtype() == DType::I32 && am.dtype() == DType::I32, "bert: input_ids and attention_mask must be i32");
    const int64_t B = ids.size(0), T = ids.size(1), H = c.hidden_size, NH = c.num_attention_heads;
    ENGINE_CHECK_SHAPE(T <= c.max_position_embeddings, "bert: sequence length ", T, " exceeds max_position_embeddings=",
                       c.max_position_embeddings);
    const bool train = training();
    const double p_hidden = c.hidden_dropout_prob, p_attn = c.attention_probs_dropout_prob;

    // embeddings: word + position + token type 0, LayerNorm, dropout
    Module& emb = at(*this, "bert.embeddings");
    Tensor pos_w = dynamic_cast<Embedding&>(emb.child("position_embeddings")).weight();
    Tensor type_w = dynamic_cast<Embedding&>(emb.child("token_type_embeddings")).weight();
    Tensor x = emb.child("word_embeddings").forward(ids);                       // [B,T,H]
    x = add(x, add(slice(pos_w, 0, 0, T), slice(type_w, 0, 0, 1)));              // broadcast [T,H] over B
    x = dropout(emb.child("LayerNorm").forward(x), p_hidden, rng, train);

    // additive padding mask [B,1,1,T]: 0 for tokens, -10000 for padding (as the peer and HF BERT)
    Tensor maskadd = Tensor::empty({B, 1, 1, T});
    {
        const int32_t* m = am.data<int32_t>();
        float* d = maskadd.data<float>();
        for (int64_t i = 0; i < B * T; ++i) d[i] = m[i] ? 0.0f : -10000.0f;
    }
    const int64_t HS = H / NH;  // head size; a structurally pruned layer has fewer heads of this size
    const double inv_sqrt_hs = 1.0 / std::sqrt(static_cast<double>(HS));
    Module& layers = at(*this, "bert.encoder.layer");
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        Module& layer = layers.child(std::to_string(i));
        Module& self = at(layer, "attention.self");
        // Queries (and everything after attention) at Tq positions: all T, or only [CLS] in the last layer
        const bool cls_only = cls_only_last_layer_ && i + 1 == c.num_hidden_layers;
        const auto* qlin = dynamic_cast<const Linear*>(&self.child("query"));
        const int64_t nh = qlin ? qlin->out_features() / HS : NH;
        Tensor k = split_heads(self.child("key").forward(x), nh);
        Tensor v = split_heads(self.child("value").forward(x), nh);
        if (cls_only) x = slice(x, 1, 0, 1);  // [B,1,H]
        const int64_t Tq = x.size(1);
        // scores = (q / sqrt(HS)) k^T: scaling q costs B*Tq*H, scaling the scores would cost B*NH*Tq*T
        Tensor q = split_heads(scale(self.child("query").forward(x), inv_sqrt_hs), nh);
        Tensor probs = dropout(softmax(matmul(q, k, false, true), maskadd), p_attn, rng, train);  // [B,NH,Tq,T]
        Tensor ctx = reshape(permute(matmul(probs, v), {0, 2, 1, 3}), {B, Tq, nh * HS});
        Module& so = at(layer, "attention.output");
        x = so.child("LayerNorm").forward(add(x, dropout(so.child("dense").forward(ctx), p_hidden, rng, train)));
        Tensor h = gelu(at(layer, "intermediate.dense").forward(x));
        Module& out = at(layer, "output");
        x = out.child("LayerNorm").forward(add(x, dropout(out.child("dense").forward(h), p_hidden, rng, train)));
    }
    // pooler: dense + tanh on [CLS], then dropout and the classifier
    Tensor cls = reshape(slice(x, 1, 0, 1), {B, H});
    Tensor pooled = engine::tanh(at(*this, "bert.pooler.dense").forward(cls));
    return child("classifier").forward(dropout(pooled, p_hidden, rng, train));
}

}  // namespace qbert::model
