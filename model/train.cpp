#include "model/train.h"

#include <set>

#include "model/export.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <fstream>

#include "engine/dist/comm.h"
#include "engine/dist/grad_reducer.h"
#include "model/compressed_linear.h"
#include "model/config_toml.h"
#include "util/csv.h"

namespace qbert::model {

using namespace engine;
using engine::detail::concat;
namespace fs = std::filesystem;

const ConfigFields<TrainConfig>& TrainConfig::fields() {
    using T = TrainConfig;
    static const ConfigFields<T> f = [] {
        ConfigFields<T> f;
        FieldInfo preset;
        preset.section = "model", preset.key = "preset", preset.type = FieldType::Choice;
        preset.choices = {"tiny", "mini", "small"};
        preset.help = "tiny L2 H128 A2 I512, mini L4 H256 A4 I1024, small L4 H512 A8 I2048; model.* override it";
        preset.json_section = "";  // beside "model" in JSON, as checkpoints have it
        f.add_custom(preset, [](const T& c) { return nlohmann::json(c.preset); },
                     [](T& c, const nlohmann::json& v) {  // set first: the model fields after it override it
                         c.preset = v.get<std::string>();
                         c.model = BertConfig::preset(c.preset);
                     });
        f.add_nested("model", &T::model, BertConfig::fields());
        f.add("data", "root", &T::data_root, "IMDb folder (imdb/*.tsv.gz or aclImdb/)");
        f.add("data", "vocab", &T::vocab, "WordPiece vocab, one token a line");
        f.add("data", "max_len", &T::max_len, "tokens per review with [CLS] and [SEP], <= model.max_position_embeddings",
              Range::at_least(8));
        f.add("data", "val_fraction", &T::val_fraction, "validation share of the training reviews (seeded split)",
              Range::open(0, 0.5));
        f.add("data", "train_limit", &T::train_limit, "training reviews used, 0 = all", Range::at_least(0));
        f.add("data", "test_limit", &T::test_limit, "test reviews used, 0 = all", Range::at_least(0));
        f.add("data", "cache_dir", &T::cache_dir, "tokenization cache, \"\" = off");
        f.add("train", "batch_size", &T::batch_size, "reviews per step", Range::at_least(1));
        f.add("train", "eval_batch_size", &T::eval_batch_size, "reviews per evaluation batch", Range::at_least(1));
        f.add("train", "epochs", &T::epochs, "passes over the training reviews", Range::at_least(1));
        f.add("train", "lr", &T::lr, "peak AdamW learning rate", Range::open(0, 1));
        f.add("train", "warmup", &T::warmup, "fraction of all steps with a linear warm-up", Range::closed_open(0, 1));
        f.add("train", "weight_decay", &T::weight_decay, "AdamW decay (not on biases and LayerNorm)", Range::at_least(0));
        f.add("train", "grad_clip", &T::grad_clip, "max global gradient norm", Range::above(0));
        f.add("train", "seed", &T::seed, "data split, order, initialization and dropout");
        f.add("train", "threads", &T::threads, "OpenMP threads", Range::at_least(1));
        f.add_choice("train", "matmul_precision", &T::matmul_precision, {"f32", "bf16"},
                     "bf16: matmul operands rounded to bfloat16, fp32 sums");
        return f;
    }();
    return f;
}

void TrainConfig::validate(const std::string& where) const {
    fields().check(*this, where);
    try {
        model.validate();
    } catch (const Error& e) {
        throw Error(concat(where, " [model]: ", e.what()));
    }
    if (max_len > model.max_position_embeddings)
        throw Error(concat(where, ": data.max_len <= model.max_position_embeddings must hold, but got ", max_len, " > ",
                           model.max_position_embeddings));
}

TrainConfig TrainConfig::from_toml(const std::string& path, const std::vector<std::string>& overrides) {
    const std::string source = "config '" + path + "'";
    TrainConfig c;
    read_toml(fields(), c, load_toml_file(path), source, overrides);
    c.validate(source);
    return c;
}

TrainConfig TrainConfig::from_toml_string(const std::string& text, const std::string& source,
                                          const std::vector<std::string>& overrides) {
    TrainConfig c;
    fields().read_toml_text(c, text, source, overrides);
    c.validate(source);
    return c;
}

std::string TrainConfig::to_json() const { return fields().to_json(*this).dump(); }

TrainConfig TrainConfig::from_json(const std::string& text, const std::string& source) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(concat(source, ": not valid JSON: ", e.what()));
    }
    TrainConfig c;
    fields().read_json(c, j, source);
    c.validate(source);
    return c;
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
    // Data-parallel: rank r takes batches r, r + N, ... (length-sorted, so the work is even), then the counts
    // are summed. Logits are wanted whole, so that path stays on every rank.
    const int64_t ranks = logits_out ? 1 : dist::size(), me = logits_out ? 0 : dist::rank();
    int64_t batch_index = 0;
    for (size_t i = 0; i < order.size(); i += static_cast<size_t>(batch)) {
        if (batch_index++ % ranks != me) continue;
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
    if (ranks > 1) dist::allreduce_sum(&correct, 1);
    m.train(was_training);
    return {data.size() ? static_cast<double>(correct) / static_cast<double>(data.size()) : 0.0, data.size()};
}

nlohmann::json checkpoint_structure_meta(const BertForSequenceClassification& m, const std::string& meta_json) {
    nlohmann::json meta = nlohmann::json::parse(meta_json.empty() ? "{}" : meta_json);
    meta["compression"] = nlohmann::json::parse(compression_state_json(m));
    // layers NAS replaced by Identity: they have no parameters, so only their names can bring them back
    std::vector<std::string> identity;
    for (const auto& [name, mod] : m.named_modules())
        if (mod->type_name() == "Identity") identity.push_back(name);
    meta["identity_layers"] = identity;
    // structured pruning: layers narrower than the config ([heads, neurons] per layer)
    const auto shapes = m.layer_shapes();
    const LayerShape full{m.config().num_attention_heads, m.config().intermediate_size};
    if (std::any_of(shapes.begin(), shapes.end(), [&](const LayerShape& s) { return !(s == full); })) {
        nlohmann::json js = nlohmann::json::array();
        for (const auto& s : shapes) js.push_back({s.heads, s.intermediate});
        meta["layer_shapes"] = js;
    } else {
        meta.erase("layer_shapes");
    }
    return meta;
}

void save_bert(const std::string& path, BertForSequenceClassification& m, const std::string& meta_json) {
    Checkpoint ck;
    ck.params = m.named_parameters();
    for (auto& b : m.named_buffers()) ck.params.push_back(b);  // pruning masks (u8) beside their weights
    ck.config_json = m.config().to_json();
    ck.meta_json = checkpoint_structure_meta(m, meta_json).dump();
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
    if (meta.contains("layer_shapes")) {  // structurally pruned: narrower layers first, then their parameters load
        const auto& js = meta["layer_shapes"];
        if (!js.is_array() || static_cast<int64_t>(js.size()) != cfg.num_hidden_layers)
            throw Error(concat("checkpoint '", path, "': meta.layer_shapes must list [heads, neurons] for each of the ",
                               cfg.num_hidden_layers, " layers"));
        for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
            const auto& e = js[static_cast<size_t>(i)];
            if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_number_integer())
                throw Error(concat("checkpoint '", path, "': meta.layer_shapes[", i, "] must be [heads, neurons], got ",
                                   e.dump()));
            const LayerShape shape{e[0].get<int64_t>(), e[1].get<int64_t>()};
            if (!(shape == LayerShape{cfg.num_attention_heads, cfg.intermediate_size})) {  // full-width layers stay
                try {
                    m->set_layer_shape(i, shape, rng);
                } catch (const Error& e) {
                    throw Error(concat("checkpoint '", path, "': meta.layer_shapes[", i, "]: ", e.what()));
                }
            }
        }
    }
    // layers NAS replaced by Identity, after the widths (set_layer_shape would bring a replaced one back)
    if (meta.contains("identity_layers"))
        for (const auto& name : meta["identity_layers"])
            m->replace_module(name.get<std::string>(), std::make_shared<Identity>());
    if (meta.contains("compression"))  // quantized / pruned layers first, so their masks have a place to load into
        apply_compression_state(*m, meta["compression"].dump(), "checkpoint '" + path + "'");
    std::set<std::string> restored;  // an export's int8 / sparse layers and int8 embeddings (model/export.h)
    if (meta.contains("export")) {
        for (const auto& n : restore_exported(*m, ck, meta["export"], path)) {
            const auto dot = n.rfind(".weight_");  // "<L>.weight_int8", "<L>.weight_csr_*": <L>.weight and its mask
            if (dot != std::string::npos) {
                restored.insert(n.substr(0, dot) + ".weight");
                restored.insert(n.substr(0, dot) + ".weight_mask");
            } else {  // "<E>.int8", "<E>.scale"
                restored.insert(n.substr(0, n.rfind('.')));
            }
            restored.insert(n);
        }
        std::erase_if(ck.params, [&](const auto& p) { return restored.count(p.first) > 0; });
    }
    NamedTensors params = m->named_parameters();
    for (auto& b : m->named_buffers()) params.push_back(b);
    std::erase_if(params, [&](const auto& p) { return restored.count(p.first) > 0; });
    load_params_into(path, ck, params);
    for (const auto& [name, mod] : m->named_modules())  // the f32 copies of the masks just loaded
        if (auto* c = dynamic_cast<CompressedLinear*>(mod.get()); c && c->has_weight_mask() && !restored.count(name + ".weight_mask"))
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
    m.name_parameters();  // messages, QBERT_GRAPH and gdb show parameters by name
    AdamWOptions ao;
    ao.lr = o.lr;
    ao.weight_decay = o.weight_decay;
    AdamW opt(m.named_parameters(), ao);
    opt.set_no_decay({"bias", "LayerNorm"});  // HF's convention: no decay on biases and LayerNorm
    // Data-parallel (engine/dist): every rank sees the same batches (same seed) and computes its share of each;
    // the gradients are summed over the ranks before clipping, so every rank takes the same step.
    const int world = dist::size(), rank = dist::rank();
    std::unique_ptr<dist::GradReducer> reducer;
    if (world > 1) {
        // QBERT_DDP_OVERLAP=0 turns the overlap off for any command (to measure what it buys)
        const char* env = std::getenv("QBERT_DDP_OVERLAP");
        const bool overlap = env != nullptr && *env != '\0' ? std::string(env) != "0" : o.ddp_overlap;
        reducer = std::make_unique<dist::GradReducer>(opt.params(), overlap);
    }
    Tensor word_embeddings;
    for (const auto& [name, t] : opt.params())
        if (name == "bert.embeddings.word_embeddings.weight") word_embeddings = t;
    ENGINE_CHECK(word_embeddings.defined() || world == 1, "fit: no bert.embeddings.word_embeddings.weight parameter");
    double comm_ms = 0.0, sent_floats = 0.0;
    const int64_t steps_per_epoch = (train_set.size() + o.batch_size - 1) / o.batch_size;
    const int64_t total = steps_per_epoch * o.epochs;
    const int64_t warmup = static_cast<int64_t>(o.warmup * static_cast<double>(total));

    ENGINE_CHECK(o.eval_points >= 0, "fit: eval_points must be >= 0, got ", o.eval_points);
    std::set<int64_t> eval_at;  // steps after which a validation check runs (FitOptions::eval_points)
    for (int64_t k = 1; k <= o.eval_points; ++k) eval_at.insert(std::max<int64_t>(1, k * total / o.eval_points));
    std::vector<EpochMetrics> history;
    double best_val = -1.0;
    int64_t step = 0;
    for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
        m.train(true);
        const auto t0 = std::chrono::steady_clock::now();
        double loss_sum = 0.0;
        int64_t correct = 0, seen = 0;
        for (const auto& all_rows : make_batches(train_set, o.batch_size, true, batch_rng)) {
            // this rank's share of the global batch: rows [lo, hi), padded to the whole batch's length. A batch
            // smaller than the number of ranks (an epoch's last, at most) is computed whole by every rank.
            const int64_t B = static_cast<int64_t>(all_rows.size());
            const bool shard = world > 1 && B >= world;
            const int64_t lo = shard ? B * rank / world : 0, hi = shard ? B * (rank + 1) / world : B;
            const std::vector<int64_t> rows(all_rows.begin() + lo, all_rows.begin() + hi);
            int64_t T = 1;
            for (int64_t r : all_rows) T = std::max(T, train_set.length(r));
            opt.zero_grad();
            if (shard) {
                // only the word-embedding rows of tokens in the global batch (and [PAD]) can get a gradient on
                // any rank, and every rank knows them: send those rows, not the whole table (~30k rows)
                std::vector<int64_t> ids{o.pad_id};
                for (int64_t r : all_rows)
                    ids.insert(ids.end(), train_set.ids.begin() + train_set.offsets[r], train_set.ids.begin() + train_set.offsets[r + 1]);
                std::sort(ids.begin(), ids.end());
                ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
                reducer->set_rows(word_embeddings, std::move(ids));
                reducer->begin();
            }
            const Batch b = collate(train_set, rows, o.pad_id, shard ? T : 0);
            Tensor logits, loss;
            {
                const DropoutShard dropout_rows(lo, B - hi);
                logits = m.logits(b.input_ids, b.attention_mask, drop_rng);
                loss = cross_entropy(logits, b.labels);
            }
            double lv = loss.item();  // the mean over this rank's rows
            // each rank's mean weighs its share, so the ranks' gradients add up to the global mean's
            if (shard) loss = scale(loss, static_cast<double>(rows.size()) / static_cast<double>(B));
            loss.backward();
            if (shard) {
                comm_ms += reducer->finish();
                sent_floats += static_cast<double>(reducer->last_floats());
            }
            // the global mean loss and this step's correct count, summed over ranks
            double step_stats[2] = {lv * static_cast<double>(rows.size()), 0.0};
            const float* l = logits.data<float>();
            for (size_t j = 0; j < rows.size(); ++j)
                step_stats[1] += (l[2 * j + 1] > l[2 * j] ? 1 : 0) == b.labels.data<int32_t>()[j];
            if (shard) dist::allreduce_sum(step_stats, 2);
            lv = step_stats[0] / static_cast<double>(B);
            if (!std::isfinite(lv))
                throw Error(concat("training diverged: loss is ", lv, " at epoch ", epoch, " step ", step,
                                   "\nhint: lower the learning rate (now ", o.lr, ") or raise the warm-up"));
            clip_grad_norm(opt.params(), o.grad_clip);
            opt.set_lr(o.lr * lr_factor(LrSchedule::LinearWarmupDecay, step, warmup, total));
            opt.step();
            ++step;
            correct += static_cast<int64_t>(step_stats[1]);
            seen += B;
            loss_sum += lv * static_cast<double>(B);
            if (hooks.on_step) hooks.on_step(step, total, loss_sum / seen, static_cast<double>(correct) / seen);
            if (eval_at.count(step) && step % steps_per_epoch != 0 && hooks.on_eval)  // epoch ends: below
                hooks.on_eval(step, total, evaluate(m, val_set, o.eval_batch_size, o.pad_id).accuracy);
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (reducer && hooks.on_info && dist::is_root())
            hooks.on_info(fmt::format("ddp: {} ranks, {} gradient buckets, overlap {}, waiting on the allreduce {:.1f} ms "
                                      "per step, {:.2f} MB summed per step",
                                      world, reducer->buckets(), reducer->overlap() ? "on" : "off",
                                      comm_ms / static_cast<double>(std::max<int64_t>(1, step)),
                                      4e-6 * sent_floats / static_cast<double>(std::max<int64_t>(1, step))));
        const EvalResult val = evaluate(m, val_set, o.eval_batch_size, o.pad_id);
        EpochMetrics em{epoch, loss_sum / seen, static_cast<double>(correct) / seen, val.accuracy, secs, seen / secs};
        history.push_back(em);
        const bool best = val.accuracy > best_val;
        if (best) best_val = val.accuracy;
        if (on_epoch_end) on_epoch_end(em, best);
        if (hooks.on_epoch) hooks.on_epoch(em);
        if (eval_at.count(step) && hooks.on_eval) hooks.on_eval(step, total, val.accuracy);
    }
    return history;
}

TrainConfig TrainConfig::from_checkpoint_meta(const std::string& meta_json, const std::string& source) {
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(meta_json.empty() ? "{}" : meta_json);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(concat(source, ": meta is not valid JSON: ", e.what()));
    }
    if (meta.contains("train_config")) return from_json(meta["train_config"].dump(), source + " meta train_config");
    TrainConfig c;  // no training config (qbert import-hf): what the reviews were tokenized with, if it says
    try {
        if (meta.contains("max_len")) c.max_len = meta["max_len"].get<int64_t>();
        if (meta.contains("vocab")) c.vocab = meta["vocab"].get<std::string>();
    } catch (const nlohmann::json::exception& e) {
        throw Error(concat(source, ": meta max_len / vocab is malformed: ", e.what()));
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
        util::write_csv_row(out, {"epoch", "train_loss", "train_accuracy", "val_accuracy", "seconds", "seq_per_s"});
        for (const auto& h : history) {
            const std::vector<std::string> row{fmt::format("{}", h.epoch), fmt::format("{:g}", h.train_loss),
                                               fmt::format("{:g}", h.train_accuracy), fmt::format("{:g}", h.val_accuracy),
                                               fmt::format("{:g}", h.seconds), fmt::format("{:g}", h.seq_per_s)};
            util::write_csv_row(out, row);
        }
        if (!out) throw Error(concat("cannot write '", tmp, "'"));
    }
    fs::rename(tmp, path);
}

std::vector<EpochMetrics> train(const TrainConfig& cfg, const std::string& out_dir, const TrainHooks& hooks) {
    set_num_threads(cfg.threads);
    set_matmul_precision(cfg.matmul_precision);
    // Data-parallel: every rank must train the same config on the same data. What can fail on one rank (the output
    // directory, the vocab, the data) is agreed on (dist::agree): every rank stops with the failing rank's error,
    // printed once by rank 0, instead of the others waiting forever in the first allreduce.
    dist::check_same("config", cfg.to_json());
    std::optional<Tokenizer> tok;
    TrainValSets sets;
    std::string failure;
    try {
        std::error_code ec;
        fs::create_directories(out_dir, ec);
        if (ec) throw Error(concat("output directory '", out_dir, "': ", ec.message()));
        tok.emplace(Tokenizer::from_file(cfg.vocab));
        ENGINE_CHECK(tok->vocab_size() <= cfg.model.vocab_size, "vocab '", cfg.vocab, "' has ", tok->vocab_size(),
                     " tokens but model.vocab_size is ", cfg.model.vocab_size);
        sets = load_train_val(cfg, *tok, dist::is_root() ? hooks.on_info : nullptr);
    } catch (const std::exception& e) {
        failure = e.what();
    }
    dist::agree(failure.empty(), failure);
    Rng root(cfg.seed);
    Rng init_rng = root.fork("init");
    dist::check_same("training data", concat(sets.train.size(), " ", sets.val.size(), " ", sets.train.ids.size()));
    BertForSequenceClassification m(cfg.model, init_rng);
    const std::string meta = checkpoint_meta(cfg);
    std::vector<EpochMetrics> history;
    auto out = fit(m, sets.train, sets.val, cfg.fit_options(tok->pad_id()), hooks, [&](const EpochMetrics& em, bool best) {
        if (!dist::is_root()) return;  // one writer; the others wait at the barrier below
        if (best) save_bert((fs::path(out_dir) / "model.h5").string(), m, meta);
        history.push_back(em);
        write_metrics_csv((fs::path(out_dir) / "metrics.csv").string(), history);  // rewritten whole each epoch
    });
    dist::barrier();  // model.h5 is complete before any rank reads it
    return out;
}

}  // namespace qbert::model
