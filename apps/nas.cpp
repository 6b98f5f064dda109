#include "apps/nas.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/progress.h"
#include "passes/prune.h"
#include "passes/quantize.h"

namespace qbert::apps {

using json = nlohmann::json;

NasObjective::NasObjective(model::TrainConfig cfg, NasOptions o, const std::function<void(const std::string&)>& info)
    : cfg_(std::move(cfg)), o_(std::move(o)) {
    if (o_.space != "model" && o_.space != "layers")
        throw engine::Error("NAS space must be 'model' or 'layers', got '" + o_.space + "'");
    if (o_.post_train_epochs < 0) throw engine::Error("--post-train-epochs must be >= 0");
    for (const auto* l : {&o_.layers, &o_.heads, &o_.hidden, &o_.intermediate})
        if (l->empty()) throw engine::Error("NAS space: every size needs at least one choice");
    if (o_.post_train_epochs > 0 && !o_.compress)
        throw engine::Error("--post-train-epochs applies to the compression-aware objective only");
    if (!o_.trained_dir.empty() && o_.space != "model")
        throw engine::Error("a directory of trained models needs the 'model' space (the 'layers' space's identity "
                            "choices are not part of its file names)");
    engine::set_num_threads(cfg_.threads);
    engine::set_matmul_precision(cfg_.matmul_precision);  // train.matmul_precision, as train() applies it
    tok_ = std::make_unique<model::Tokenizer>(model::Tokenizer::from_file(cfg_.vocab));
    sets_ = model::load_train_val(cfg_, *tok_, info);
    if (o_.test) {
        std::vector<model::Review> rows = model::load_imdb(cfg_.data_root, "test");
        if (cfg_.test_limit > 0 && cfg_.test_limit < static_cast<int64_t>(rows.size()))
            rows.resize(static_cast<size_t>(cfg_.test_limit));  // sorted neg/pos alternating: a prefix is balanced
        test_ = model::encode_reviews(rows, *tok_, cfg_.max_len, cfg_.cache_dir);
    }
}

json NasObjective::suggest_sizes(search::Trial& t) const {
    const auto index = [&](const char* name, const std::vector<int64_t>& choices) {
        return t.suggest_int(name, 0, static_cast<int64_t>(choices.size()) - 1);
    };
    return {{"num_layers", index("num_layers", o_.layers)},
            {"num_heads", index("num_heads", o_.heads)},
            {"hidden_size", index("hidden_size", o_.hidden)},
            {"intermediate_size", index("intermediate_size", o_.intermediate)}};
}

std::unique_ptr<model::BertForSequenceClassification> NasObjective::build(search::Trial& t) const {
    model::BertConfig c = cfg_.model;
    // indices, as Tutorial 5 samples them; unlike Mase, all four reach the model
    const json idx = suggest_sizes(t);
    const auto pick = [&](const char* name, const std::vector<int64_t>& choices) {
        return choices.at(idx.at(name).get<size_t>());
    };
    c.num_hidden_layers = pick("num_layers", o_.layers);
    c.num_attention_heads = pick("num_heads", o_.heads);
    c.hidden_size = pick("hidden_size", o_.hidden);
    c.intermediate_size = pick("intermediate_size", o_.intermediate);
    if (c.hidden_size % c.num_attention_heads != 0)
        throw search::TrialPruned("hidden " + std::to_string(c.hidden_size) + " is not divisible by " +
                                  std::to_string(c.num_attention_heads) + " heads");
    t.set_user_attr("architecture", {{"num_hidden_layers", c.num_hidden_layers},
                                     {"num_attention_heads", c.num_attention_heads},
                                     {"hidden_size", c.hidden_size},
                                     {"intermediate_size", c.intermediate_size}});
    // the same init seed for every trial: the objective is a function of the architecture alone
    engine::Rng init = engine::Rng(cfg_.seed).fork("init");
    auto m = std::make_unique<model::BertForSequenceClassification>(c, init);
    if (o_.space == "layers") {
        // every square Linear (query, key, value, attention output, pooler; FFN too when hidden = intermediate),
        // in named_modules order as Mase walks them; the classifier (hidden -> 2) never is
        std::vector<std::string> square;
        for (const auto& [name, mod] : m->named_modules())
            if (const auto* l = dynamic_cast<const model::Linear*>(mod.get()); l && l->in_features() == l->out_features())
                square.push_back(name);
        for (const auto& name : square)
            if (t.suggest_string(name + "_type", {"linear", "identity"}) == "identity")
                m->replace_module(name, std::make_shared<model::Identity>());
    }
    return m;
}

std::string NasObjective::checkpoint_meta() const { return model::checkpoint_meta(cfg_); }

std::string NasObjective::trained_path(const json& a) const {
    const auto n = [&](const char* k) { return std::to_string(a.at(k).get<int64_t>()); };
    return (std::filesystem::path(o_.trained_dir) / ("L" + n("num_hidden_layers") + "_H" + n("hidden_size") + "_A" +
                                                     n("num_attention_heads") + "_I" + n("intermediate_size") + ".h5"))
        .string();
}

double NasObjective::operator()(search::Trial& t) {
    const auto t0 = std::chrono::steady_clock::now();
    last_.reset();
    auto m = build(t);
    t.set_user_attr("parameters", m->num_parameters());
    const int32_t pad = tok_->pad_id();
    const model::FitOptions f = cfg_.fit_options(pad);  // cfg_.seed: same data order and dropout for every trial
    double value = 0.0;
    const std::string kept = o_.trained_dir.empty() ? "" : trained_path(t.frozen().user_attrs.at("architecture"));
    if (!kept.empty() && std::filesystem::exists(kept)) {
        m = model::load_bert(kept);  // what fit() below would produce, bit for bit
        value = model::evaluate(*m, sets_.val, cfg_.eval_batch_size, pad).accuracy;
        t.set_user_attr("trained_weights", kept);
    } else {
        const auto hist = model::fit(*m, sets_.train, sets_.val, f, progress_hooks("trial " + std::to_string(t.number())));
        value = hist.back().val_accuracy;
        if (!kept.empty()) {  // before compression; temp file then rename: a killed run leaves no half file
            std::filesystem::create_directories(o_.trained_dir);
            model::save_bert(kept + ".tmp", *m, checkpoint_meta());
            std::filesystem::rename(kept + ".tmp", kept);
        }
    }
    if (o_.compress) {
        t.set_user_attr("val_accuracy_before_compression", value);
        passes::quantize(*m, passes::QuantizeConfig::uniform(engine::FixedPoint{8, 4}));
        passes::PruneConfig pc;
        pc.weight = {0.5, model::PruneMethod::L1Norm, model::PruneScope::Local};
        pc.activation = pc.weight;
        engine::Rng prune_rng = engine::Rng(cfg_.seed).fork("prune");
        passes::prune(*m, pc, prune_rng);
        if (o_.post_train_epochs > 0) {
            model::FitOptions p = f;
            p.epochs = o_.post_train_epochs;
            p.lr = o_.post_train_lr;
            p.warmup = 0.0;
            value = model::fit(*m, sets_.train, sets_.val, p, progress_hooks("post-train")).back().val_accuracy;
        } else {
            value = model::evaluate(*m, sets_.val, cfg_.eval_batch_size, pad).accuracy;
        }
    }
    if (o_.test) t.set_user_attr("test_accuracy", model::evaluate(*m, test_, cfg_.eval_batch_size, pad).accuracy);
    t.set_user_attr("train_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    last_ = std::move(m);
    return value;
}

}  // namespace qbert::apps
