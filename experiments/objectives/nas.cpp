#include "experiments/objectives/nas.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "experiments/progress_hooks.h"
#include "experiments/workbench.h"

namespace qbert::experiments {

using json = nlohmann::json;

namespace {
std::string fmt_accuracy(double a) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4f", a);
    return b;
}
}  // namespace

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
    if (o_.compress) {  // read before any data: a bad config fails at once, naming its file
        quant_ = passes::QuantizeConfig::from_file(o_.quant_config);
        prune_ = passes::PruneConfig::from_file(o_.prune_config);
    }
    tag_ = o_.tag();
    if (!o_.trained_dir.empty()) cache_ = std::make_unique<TrainedCache>(o_.trained_dir);
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

std::string NasOptions::tag() const {
    std::string t = compress ? "compression-aware-post" + std::to_string(post_train_epochs) : "nas-" + space;
    const NasOptions defaults;
    if (compress && (quant_config != defaults.quant_config || prune_config != defaults.prune_config ||
                     post_train_lr != defaults.post_train_lr)) {
        std::ostringstream all;  // the configs' contents, not their paths: an edited file is another objective
        for (const auto& f : {quant_config, prune_config}) all << std::ifstream(f).rdbuf() << "\n";
        all << post_train_lr;
        char h[24];
        std::snprintf(h, sizeof h, "-%016zx", std::hash<std::string>{}(all.str()));
        t += h;
    }
    return t;
}

search::GridSampler::Space nas_grid(const NasOptions& o) {
    const auto idx = [](size_t n) {
        std::vector<json> v;
        for (size_t i = 0; i < n; ++i) v.push_back(static_cast<int64_t>(i));
        return v;
    };
    return {{"num_layers", idx(o.layers.size())},
            {"num_heads", idx(o.heads.size())},
            {"hidden_size", idx(o.hidden.size())},
            {"intermediate_size", idx(o.intermediate.size())}};
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
    // what the indices stand for, for trial lines and tables (FrozenTrial::shown)
    t.set_user_attr("param_values", {{"num_layers", c.num_hidden_layers},
                                     {"num_heads", c.num_attention_heads},
                                     {"hidden_size", c.hidden_size},
                                     {"intermediate_size", c.intermediate_size}});
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

void NasObjective::replay(search::Trial& t, const json& curve, bool complete) const {
    for (size_t i = 0; i < curve.size(); ++i) {
        const int64_t step = curve[i].at(0).get<int64_t>();
        const double acc = curve[i].at(1).get<double>();
        t.report(acc, step);
        if (!(complete && i + 1 == curve.size()) && t.should_prune()) {
            if (curve[i].size() > 2) t.set_user_attr("cost_seconds", curve[i][2]);  // what training to here took
            std::printf("  pruned at step %ld (val_accuracy %.4f), replayed from the kept curve\n", long(step), acc);
            throw search::TrialPruned("pruned at step " + std::to_string(step) + " (replayed curve), val_accuracy " +
                                      fmt_accuracy(acc));
        }
    }
}

double NasObjective::operator()(search::Trial& t) {
    last_.reset();
    auto m = build(t);
    const json arch = t.frozen().user_attrs.at("architecture");
    if (cache_ && o_.eval_points > 0) {  // what training this architecture showed before, to the pruner again
        if (const auto c = cache_->result(arch, curve_tag()))
            replay(t, c->user_attrs.at("val_curve"), c->user_attrs.value("complete", false));
    }
    if (cache_) {
        if (const auto r = cache_->result(arch, tag_)) {  // this objective has seen this architecture
            for (const auto& [k, v] : r->user_attrs.items()) t.set_user_attr(k, v);  // cost_seconds included
            t.set_user_attr("reused_from", r->from);
            std::printf("  trained before (%s): value %.4f reused\n", r->from.c_str(), r->value);
            return r->value;
        }
    }
    const double value = train_and_compress(t, m);
    if (cache_)
        cache_->save_result(arch, tag_,
                            {value, t.frozen().user_attrs, t.study_name() + "#" + std::to_string(t.number())});
    last_ = std::move(m);
    return value;
}

double NasObjective::train_and_compress(search::Trial& t, std::unique_ptr<model::BertForSequenceClassification>& m) {
    const auto t0 = std::chrono::steady_clock::now();
    t.set_user_attr("parameters", m->num_parameters());
    const int32_t pad = tok_->pad_id();
    model::FitOptions f = cfg_.fit_options(pad);  // cfg_.seed: same data order and dropout for every trial
    double value = 0.0;
    const json arch = t.frozen().user_attrs.at("architecture");
    if (cache_ && cache_->has_weights(arch)) {
        const std::string kept = cache_->weights_path(arch);
        m = model::load_bert(kept);  // what fit() below would produce, bit for bit
        value = model::evaluate(*m, sets_.val, cfg_.eval_batch_size, pad).accuracy;
        t.set_user_attr("trained_weights", kept);
    } else {
        model::TrainHooks hooks = progress_hooks("trial " + std::to_string(t.number()));
        json curve = json::array();
        const auto keep_curve = [&](bool complete) {
            if (cache_ && o_.eval_points > 0)
                cache_->save_result(arch, curve_tag(), {curve.empty() ? 0.0 : curve.back()[1].get<double>(),
                                                        {{"val_curve", curve}, {"complete", complete}},
                                                        t.study_name() + "#" + std::to_string(t.number())});
        };
        f.eval_points = o_.eval_points;
        hooks.on_eval = [&](int64_t step, int64_t total, double acc) {
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            curve.push_back({step, acc, secs});
            if (t.frozen().intermediate.count(step)) return;  // replayed already, and not pruned there
            t.report(acc, step);
            if (step < total && t.should_prune()) {
                t.set_user_attr("cost_seconds", secs);
                keep_curve(false);
                throw search::TrialPruned("pruned at step " + std::to_string(step) + " of " + std::to_string(total) +
                                          ", val_accuracy " + fmt_accuracy(acc));
            }
        };
        const auto hist = model::fit(*m, sets_.train, sets_.val, f, hooks);
        value = hist.back().val_accuracy;
        keep_curve(true);
        if (cache_) {  // before compression; temp file then rename: a killed run leaves no half file
            const std::string kept = cache_->weights_path(arch);
            std::filesystem::create_directories(cache_->dir());
            // (unique per process and trial: two ranks of a distributed lab may train the same architecture)
            const std::string tmp = kept + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(t.number());
            model::save_bert(tmp, *m, checkpoint_meta());
            std::filesystem::rename(tmp, kept);
        }
    }
    if (o_.compress) {
        t.set_user_attr("val_accuracy_before_compression", value);
        passes::quantize(*m, quant_);
        engine::Rng prune_rng = engine::Rng(cfg_.seed).fork("prune");
        // (global activation thresholds are taken over the inputs of a few training batches)
        passes::prune(*m, prune_, prune_rng, [&] { run_batches(*m, sets_.train, cfg_.eval_batch_size, 8, cfg_.seed, pad); });
        if (o_.post_train_epochs > 0) {
            model::FitOptions p = f;
            p.epochs = o_.post_train_epochs;
            p.lr = o_.post_train_lr;
            p.warmup = 0.0;
            p.eval_points = 0;  // the pruner watches the architecture's training only
            value = model::fit(*m, sets_.train, sets_.val, p, progress_hooks("post-train")).back().val_accuracy;
        } else {
            value = model::evaluate(*m, sets_.val, cfg_.eval_batch_size, pad).accuracy;
        }
    }
    if (o_.test) t.set_user_attr("test_accuracy", model::evaluate(*m, test_, cfg_.eval_batch_size, pad).accuracy);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t.set_user_attr("train_seconds", secs);
    // what the trial would have cost with nothing kept from earlier trials: a compression-aware trial that
    // loaded kept weights adds the training they took (the kept curve's last time)
    double cost = secs;
    if (cache_ && o_.eval_points > 0 && t.frozen().user_attrs.contains("trained_weights"))
        if (const auto c = cache_->result(arch, curve_tag()); c && !c->user_attrs.at("val_curve").empty() &&
                                                              c->user_attrs["val_curve"].back().size() > 2)
            cost += c->user_attrs["val_curve"].back()[2].get<double>();
    t.set_user_attr("cost_seconds", cost);
    return value;
}

}  // namespace qbert::experiments
