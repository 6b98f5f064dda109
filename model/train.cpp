#include "model/train.h"

#include "model/compressed_linear.h"

#include <toml++/toml.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

namespace qbert::model {

using namespace engine;
using engine::detail::concat;
namespace fs = std::filesystem;

namespace {
void merge(toml::table& dst, const toml::table& src) {
    for (auto&& [k, v] : src) {
        if (v.is_table() && dst.contains(k.str()) && dst[k.str()].is_table()) {
            merge(*dst[k.str()].as_table(), *v.as_table());
        } else {
            dst.insert_or_assign(k.str(), v);
        }
    }
}

toml::table parse_override(const std::string& kv) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error(concat("--set '", kv, "': expected section.key=value (e.g. train.lr=5e-4)"));
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    try {
        const std::string doc = key + " = " + value;
        return toml::parse(std::string_view(doc), std::string_view("--set"));
    } catch (const toml::parse_error&) {
        // not a TOML value: a bare word (model.preset=mini), taken as a string
        toml::table t;
        toml::table* cur = &t;
        std::string part;
        std::stringstream ss(key);
        std::vector<std::string> parts;
        while (std::getline(ss, part, '.')) parts.push_back(part);
        for (size_t i = 0; i + 1 < parts.size(); ++i) {
            cur->insert_or_assign(parts[i], toml::table{});
            cur = (*cur)[parts[i]].as_table();
        }
        cur->insert_or_assign(parts.back(), value);
        return t;
    }
}

struct Reader {
    std::string source;
    template <class T>
    T get(const toml::node& n, const std::string& key) const {
        std::optional<T> v = n.value<T>();
        if (!v) throw Error(concat(source, ": [", key, "] has the wrong type (", n.type(), ")"));
        return *v;
    }
};
}  // namespace

TrainConfig TrainConfig::from_toml(const std::string& path, const std::vector<std::string>& overrides) {
    std::ifstream in(path);
    if (!in) throw Error(concat("config '", path, "': cannot open (missing file?)"));
    std::stringstream ss;
    ss << in.rdbuf();
    return from_toml_string(ss.str(), "config '" + path + "'", overrides);
}

TrainConfig TrainConfig::from_toml_string(const std::string& text, const std::string& source,
                                          const std::vector<std::string>& overrides) {
    toml::table tbl;
    try {
        tbl = toml::parse(std::string_view(text), std::string_view(source));
    } catch (const toml::parse_error& e) {
        throw Error(concat(source, ":", e.source().begin.line, ": ", e.description()));
    }
    for (const std::string& kv : overrides) merge(tbl, parse_override(kv));
    TrainConfig c;
    const Reader r{source};
    // model: a preset first, then field overrides as JSON through BertConfig's own checks
    nlohmann::json model_fields = nlohmann::json::object();
    using Setter = std::function<void(const toml::node&, const std::string&)>;
    std::map<std::string, std::map<std::string, Setter>> sections;
    sections["data"] = {
        {"root", [&](auto& n, auto& k) { c.data_root = r.get<std::string>(n, k); }},
        {"vocab", [&](auto& n, auto& k) { c.vocab = r.get<std::string>(n, k); }},
        {"max_len", [&](auto& n, auto& k) { c.max_len = r.get<int64_t>(n, k); }},
        {"val_fraction", [&](auto& n, auto& k) { c.val_fraction = r.get<double>(n, k); }},
        {"train_limit", [&](auto& n, auto& k) { c.train_limit = r.get<int64_t>(n, k); }},
        {"test_limit", [&](auto& n, auto& k) { c.test_limit = r.get<int64_t>(n, k); }},
        {"cache_dir", [&](auto& n, auto& k) { c.cache_dir = r.get<std::string>(n, k); }},
    };
    sections["train"] = {
        {"batch_size", [&](auto& n, auto& k) { c.batch_size = r.get<int64_t>(n, k); }},
        {"eval_batch_size", [&](auto& n, auto& k) { c.eval_batch_size = r.get<int64_t>(n, k); }},
        {"epochs", [&](auto& n, auto& k) { c.epochs = r.get<int64_t>(n, k); }},
        {"lr", [&](auto& n, auto& k) { c.lr = r.get<double>(n, k); }},
        {"warmup", [&](auto& n, auto& k) { c.warmup = r.get<double>(n, k); }},
        {"weight_decay", [&](auto& n, auto& k) { c.weight_decay = r.get<double>(n, k); }},
        {"grad_clip", [&](auto& n, auto& k) { c.grad_clip = r.get<double>(n, k); }},
        {"seed", [&](auto& n, auto& k) { c.seed = static_cast<uint64_t>(r.get<int64_t>(n, k)); }},
        {"threads", [&](auto& n, auto& k) { c.threads = static_cast<int>(r.get<int64_t>(n, k)); }},
        {"matmul_precision", [&](auto& n, auto& k) { c.matmul_precision = r.get<std::string>(n, k); }},
    };
    for (auto&& [sk, sv] : tbl) {
        const std::string sec = std::string(sk.str());
        if (!sv.is_table())
            throw Error(concat(source, ": '", sec, "' must be a section ([model], [data] or [train])"));
        if (sec == "model") {
            for (auto&& [k, v] : *sv.as_table()) {
                const std::string key = std::string(k.str());
                if (key == "preset") {
                    c.preset = r.get<std::string>(v, "model.preset");
                } else if (v.is_integer()) {
                    model_fields[key] = *v.value<int64_t>();
                } else if (v.is_floating_point()) {
                    model_fields[key] = *v.value<double>();
                } else {
                    throw Error(concat(source, ": [model] ", key, " must be a number"));
                }
            }
            continue;
        }
        auto it = sections.find(sec);
        if (it == sections.end()) throw Error(concat(source, ": unknown section [", sec, "]; valid: [model], [data], [train]"));
        for (auto&& [k, v] : *sv.as_table()) {
            const std::string key = std::string(k.str());
            auto s = it->second.find(key);
            if (s == it->second.end()) {
                std::string valid;
                for (const auto& [name, f] : it->second) valid += (valid.empty() ? "" : ", ") + name;
                throw Error(concat(source, ": unknown key [", sec, "] ", key, "; valid keys: ", valid));
            }
            s->second(v, sec + "." + key);
        }
    }
    // the preset, then its fields overridden, then every check BertConfig has
    nlohmann::json merged = nlohmann::json::parse(BertConfig::preset(c.preset).to_json());
    for (auto it = model_fields.begin(); it != model_fields.end(); ++it) merged[it.key()] = it.value();
    c.model = BertConfig::from_json(merged.dump(), source + " [model]");
    auto check = [&](bool ok, const char* what, auto value) {
        if (!ok) throw Error(concat(source, ": ", what, " must hold, but got ", value));
    };
    check(c.max_len >= 8 && c.max_len <= c.model.max_position_embeddings, "8 <= data.max_len <= max_position_embeddings", c.max_len);
    check(c.val_fraction > 0 && c.val_fraction < 0.5, "0 < data.val_fraction < 0.5", c.val_fraction);
    check(c.train_limit >= 0, "data.train_limit >= 0", c.train_limit);
    check(c.test_limit >= 0, "data.test_limit >= 0", c.test_limit);
    check(c.batch_size >= 1, "train.batch_size >= 1", c.batch_size);
    check(c.eval_batch_size >= 1, "train.eval_batch_size >= 1", c.eval_batch_size);
    check(c.epochs >= 1, "train.epochs >= 1", c.epochs);
    check(c.lr > 0 && c.lr < 1, "0 < train.lr < 1", c.lr);
    check(c.warmup >= 0 && c.warmup < 1, "0 <= train.warmup < 1", c.warmup);
    check(c.weight_decay >= 0, "train.weight_decay >= 0", c.weight_decay);
    check(c.grad_clip > 0, "train.grad_clip > 0", c.grad_clip);
    check(c.threads >= 1, "train.threads >= 1", c.threads);
    check(c.matmul_precision == "f32" || c.matmul_precision == "bf16", "train.matmul_precision in {f32, bf16}",
          "'" + c.matmul_precision + "'");
    return c;
}

std::string TrainConfig::to_json() const {
    nlohmann::ordered_json j;
    j["model"] = nlohmann::json::parse(model.to_json());
    j["preset"] = preset;
    j["data"] = {{"root", data_root}, {"vocab", vocab}, {"max_len", max_len}, {"val_fraction", val_fraction},
                 {"train_limit", train_limit}, {"test_limit", test_limit}};
    j["train"] = {{"batch_size", batch_size}, {"eval_batch_size", eval_batch_size}, {"epochs", epochs}, {"lr", lr}, {"warmup", warmup},
                  {"weight_decay", weight_decay}, {"grad_clip", grad_clip}, {"seed", seed}, {"threads", threads},
                  {"matmul_precision", matmul_precision}};
    return j.dump();
}

EvalResult evaluate(BertForSequenceClassification& m, const Encoded& data, int64_t batch, int32_t pad_id,
                    std::vector<std::array<float, 2>>* logits_out) {
    const bool was_training = m.training();
    m.train(false);
    NoGradGuard ng;
    std::vector<int64_t> order(static_cast<size_t>(data.size()));
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return data.length(a) < data.length(b); });
    if (logits_out) logits_out->assign(order.size(), {0.0f, 0.0f});
    Rng unused(0);
    int64_t correct = 0;
    for (size_t i = 0; i < order.size(); i += static_cast<size_t>(batch)) {
        std::vector<int64_t> rows(order.begin() + static_cast<std::ptrdiff_t>(i),
                                  order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), i + static_cast<size_t>(batch))));
        Batch b = collate(data, rows, pad_id);
        Tensor logits = m.logits(b.input_ids, b.attention_mask, unused);
        const float* l = logits.data<float>();
        const int64_t C = logits.size(1);
        for (size_t j = 0; j < rows.size(); ++j) {
            int64_t best = 0;
            for (int64_t k = 1; k < C; ++k)
                if (l[j * C + k] > l[j * C + best]) best = k;
            correct += best == data.labels[rows[j]];
            if (logits_out && C >= 2) (*logits_out)[rows[j]] = {l[j * C], l[j * C + 1]};
        }
    }
    m.train(was_training);
    return {data.size() ? static_cast<double>(correct) / static_cast<double>(data.size()) : 0.0, data.size()};
}

void save_bert(const std::string& path, BertForSequenceClassification& m, const std::string& meta_json) {
    Checkpoint ck;
    ck.params = m.named_parameters();
    for (auto& b : m.named_buffers()) ck.params.push_back(b);  // pruning masks (u8) beside their weights
    ck.config_json = m.config().to_json();
    nlohmann::json meta = nlohmann::json::parse(meta_json.empty() ? "{}" : meta_json);
    meta["compression"] = nlohmann::json::parse(compression_state_json(m));
    // layers NAS replaced by Identity: they have no parameters, so only their names can bring them back
    std::vector<std::string> identity;
    for (const auto& [name, mod] : m.named_modules())
        if (mod->type_name() == "Identity") identity.push_back(name);
    meta["identity_layers"] = identity;
    ck.meta_json = meta.dump();
    save_checkpoint(path, ck);
}

std::unique_ptr<BertForSequenceClassification> load_bert(const std::string& path, std::string* meta_json) {
    Checkpoint ck = load_checkpoint(path);
    const BertConfig cfg = BertConfig::from_json(ck.config_json, "checkpoint '" + path + "' config");
    Rng rng(0);
    auto m = std::make_unique<BertForSequenceClassification>(cfg, rng);
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(ck.meta_json);
    } catch (const nlohmann::json::exception& e) {
        throw Error(concat("checkpoint '", path, "': meta attribute is not JSON: ", e.what()));
    }
    if (meta.contains("identity_layers"))
        for (const auto& name : meta["identity_layers"])
            m->replace_module(name.get<std::string>(), std::make_shared<Identity>());
    if (meta.contains("compression"))  // quantized / pruned layers first, so their masks have a place to load into
        apply_compression_state(*m, meta["compression"].dump(), "checkpoint '" + path + "'");
    NamedTensors params = m->named_parameters();
    for (auto& b : m->named_buffers()) params.push_back(b);
    load_params_into(path, ck, params);
    for (const auto& [name, mod] : m->named_modules())  // the f32 copies of the masks just loaded
        if (auto* c = dynamic_cast<CompressedLinear*>(mod.get()); c && c->has_weight_mask())
            c->set_weight_mask(c->weight_mask());
    if (meta_json) *meta_json = ck.meta_json;
    return m;
}

TrainValSets load_train_val(const TrainConfig& cfg, const Tokenizer& tok,
                            const std::function<void(const std::string&)>& on_info) {
    // forks by purpose: the split does not depend on anything else drawn from the seed
    Rng root(cfg.seed);
    Rng split_rng = root.fork("split"), limit_rng = root.fork("limit");
    const auto t_load = std::chrono::steady_clock::now();
    std::vector<Review> reviews = load_imdb(cfg.data_root, "train");
    const auto t_tok = std::chrono::steady_clock::now();
    Encoded all = encode_reviews(reviews, tok, cfg.max_len, cfg.cache_dir);
    const auto t_done = std::chrono::steady_clock::now();
    auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    std::vector<int64_t> tr_rows, val_rows;
    split_train_val(all, cfg.val_fraction, split_rng, tr_rows, val_rows);
    if (cfg.train_limit > 0 && cfg.train_limit < static_cast<int64_t>(tr_rows.size())) {
        for (size_t i = tr_rows.size(); i > 1; --i) std::swap(tr_rows[i - 1], tr_rows[limit_rng.below(i)]);
        tr_rows.resize(static_cast<size_t>(cfg.train_limit));
    }
    TrainValSets sets{all.subset(tr_rows), all.subset(val_rows)};
    if (on_info) {
        on_info(concat("data: ", reviews.size(), " training reviews read in ", secs(t_load, t_tok),
                       " s, tokenized (max_len ", cfg.max_len, ", cache ", cfg.cache_dir.empty() ? "off" : cfg.cache_dir,
                       ") in ", secs(t_tok, t_done), " s, ", all.ids.size(), " tokens"));
        on_info(concat("split: ", sets.train.size(), " train, ", sets.val.size(), " validation (seed ", cfg.seed, ")"));
    }
    return sets;
}

std::string checkpoint_meta(const TrainConfig& cfg) {
    return nlohmann::json{{"max_len", cfg.max_len}, {"vocab", cfg.vocab}, {"train_config", nlohmann::json::parse(cfg.to_json())}}.dump();
}

std::vector<EpochMetrics> fit(BertForSequenceClassification& m, const Encoded& train_set, const Encoded& val_set,
                              const FitOptions& o, const TrainHooks& hooks,
                              const std::function<void(const EpochMetrics&, bool best)>& on_epoch_end) {
    ENGINE_CHECK(o.epochs >= 1 && o.batch_size >= 1 && o.lr > 0, "fit: epochs >= 1, batch_size >= 1 and lr > 0 must hold, "
                 "but got epochs=", o.epochs, " batch_size=", o.batch_size, " lr=", o.lr);
    ENGINE_CHECK(train_set.size() > 0, "fit: the training set is empty");
    Rng root(o.seed);
    Rng drop_rng = root.fork("dropout"), batch_rng = root.fork("batches");
    AdamWOptions ao;
    ao.lr = o.lr;
    ao.weight_decay = o.weight_decay;
    AdamW opt(m.named_parameters(), ao);
    opt.set_no_decay({"bias", "LayerNorm"});  // HF's convention: no decay on biases and LayerNorm
    const int64_t steps_per_epoch = (train_set.size() + o.batch_size - 1) / o.batch_size;
    const int64_t total = steps_per_epoch * o.epochs;
    const int64_t warmup = static_cast<int64_t>(o.warmup * static_cast<double>(total));

    std::vector<EpochMetrics> history;
    double best_val = -1.0;
    int64_t step = 0;
    for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
        m.train(true);
        const auto t0 = std::chrono::steady_clock::now();
        double loss_sum = 0.0;
        int64_t correct = 0, seen = 0;
        for (const auto& rows : make_batches(train_set, o.batch_size, true, batch_rng)) {
            Batch b = collate(train_set, rows, o.pad_id);
            Tensor logits = m.logits(b.input_ids, b.attention_mask, drop_rng);
            Tensor loss = cross_entropy(logits, b.labels);
            const double lv = loss.item();
            if (!std::isfinite(lv))
                throw Error(concat("training diverged: loss is ", lv, " at epoch ", epoch, " step ", step,
                                   "\nhint: lower the learning rate (now ", o.lr, ") or raise the warm-up"));
            opt.zero_grad();
            loss.backward();
            clip_grad_norm(opt.params(), o.grad_clip);
            opt.set_lr(o.lr * lr_factor(LrSchedule::LinearWarmupDecay, step, warmup, total));
            opt.step();
            ++step;
            const float* l = logits.data<float>();
            for (size_t j = 0; j < rows.size(); ++j) correct += (l[2 * j + 1] > l[2 * j] ? 1 : 0) == b.labels.data<int32_t>()[j];
            seen += static_cast<int64_t>(rows.size());
            loss_sum += lv * static_cast<double>(rows.size());
            if (hooks.on_step) hooks.on_step(step, total, loss_sum / seen, static_cast<double>(correct) / seen);
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const EvalResult val = evaluate(m, val_set, o.eval_batch_size, o.pad_id);
        EpochMetrics em{epoch, loss_sum / seen, static_cast<double>(correct) / seen, val.accuracy, secs, seen / secs};
        history.push_back(em);
        const bool best = val.accuracy > best_val;
        if (best) best_val = val.accuracy;
        if (on_epoch_end) on_epoch_end(em, best);
        if (hooks.on_epoch) hooks.on_epoch(em);
    }
    return history;
}

TrainConfig TrainConfig::from_checkpoint_meta(const std::string& meta_json, const std::string& source) {
    TrainConfig c;
    try {
        const nlohmann::json meta = nlohmann::json::parse(meta_json.empty() ? "{}" : meta_json);
        if (meta.contains("max_len")) c.max_len = meta["max_len"].get<int64_t>();
        if (meta.contains("vocab")) c.vocab = meta["vocab"].get<std::string>();
        if (!meta.contains("train_config")) return c;
        const nlohmann::json& t = meta["train_config"];
        c.preset = t.value("preset", c.preset);
        if (t.contains("data")) {
            const auto& d = t["data"];
            c.data_root = d.value("root", c.data_root);
            c.vocab = d.value("vocab", c.vocab);
            c.max_len = d.value("max_len", c.max_len);
            c.val_fraction = d.value("val_fraction", c.val_fraction);
        }
        if (t.contains("train")) {
            const auto& r = t["train"];
            c.batch_size = r.value("batch_size", c.batch_size);
            c.eval_batch_size = r.value("eval_batch_size", c.eval_batch_size);
            c.lr = r.value("lr", c.lr);
            c.weight_decay = r.value("weight_decay", c.weight_decay);
            c.grad_clip = r.value("grad_clip", c.grad_clip);
            c.seed = r.value("seed", c.seed);
            c.threads = r.value("threads", c.threads);
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(concat(source, ": meta/train_config is malformed: ", e.what()));
    }
    return c;
}

FitOptions TrainConfig::fit_options(int32_t pad_id) const {
    FitOptions o;
    o.epochs = epochs;
    o.batch_size = batch_size;
    o.eval_batch_size = eval_batch_size;
    o.lr = lr;
    o.warmup = warmup;
    o.weight_decay = weight_decay;
    o.grad_clip = grad_clip;
    o.seed = seed;
    o.pad_id = pad_id;
    return o;
}

void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& history) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp);
        out << "epoch,train_loss,train_accuracy,val_accuracy,seconds,seq_per_s\n";
        for (const auto& h : history)
            out << h.epoch << "," << h.train_loss << "," << h.train_accuracy << "," << h.val_accuracy << ","
                << h.seconds << "," << h.seq_per_s << "\n";
        if (!out) throw Error(concat("cannot write '", tmp, "'"));
    }
    fs::rename(tmp, path);
}

std::vector<EpochMetrics> train(const TrainConfig& cfg, const std::string& out_dir, const TrainHooks& hooks) {
    set_num_threads(cfg.threads);
    set_matmul_precision(cfg.matmul_precision);
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) throw Error(concat("output directory '", out_dir, "': ", ec.message()));
    const Tokenizer tok = Tokenizer::from_file(cfg.vocab);
    ENGINE_CHECK(tok.vocab_size() <= cfg.model.vocab_size, "vocab '", cfg.vocab, "' has ", tok.vocab_size(),
                 " tokens but model.vocab_size is ", cfg.model.vocab_size);
    Rng root(cfg.seed);
    Rng init_rng = root.fork("init");
    const TrainValSets sets = load_train_val(cfg, tok, hooks.on_info);
    BertForSequenceClassification m(cfg.model, init_rng);
    const std::string meta = checkpoint_meta(cfg);
    std::vector<EpochMetrics> history;
    return fit(m, sets.train, sets.val, cfg.fit_options(tok.pad_id()), hooks, [&](const EpochMetrics& em, bool best) {
        if (best) save_bert((fs::path(out_dir) / "model.h5").string(), m, meta);
        history.push_back(em);
        write_metrics_csv((fs::path(out_dir) / "metrics.csv").string(), history);  // rewritten whole each epoch
    });
}

}  // namespace qbert::model
