#include "experiments/model_commands.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "engine/engine.h"
#include "experiments/compress.h"
#include "model/compressed_linear.h"
#include "model/hf_import.h"
#include "model/train.h"
#include "util/progress.h"

namespace qbert::experiments {

namespace {
std::string meta_string(const std::string& meta, const char* key, const std::string& fallback) {
    auto j = nlohmann::json::parse(meta.empty() ? "{}" : meta, nullptr, false);
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}
int64_t meta_int(const std::string& meta, const char* key, int64_t fallback) {
    auto j = nlohmann::json::parse(meta.empty() ? "{}" : meta, nullptr, false);
    return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : fallback;
}
}  // namespace

int run_demo(model::MlpDemoOptions o, const std::string& out) {
    std::printf("demo: MLP %ld-%ld-%ld-2 on a synthetic XOR-like task, %ld train / %ld test points, %ld epochs\n",
                long(o.in), long(o.hidden), long(o.hidden), long(o.train_size), long(o.test_size), long(o.epochs));
    util::Progress bar("train", (o.train_size / o.batch) * o.epochs, "step");
    float running = 0.0f;
    auto r = model::run_mlp_demo(o, [&](int64_t step, int64_t, float loss) {
        running = step == 1 ? loss : 0.95f * running + 0.05f * loss;
        char info[64];
        std::snprintf(info, sizeof info, "loss=%.4f", running);
        bar.update(step, info);
    });
    bar.finish();
    const int64_t per_epoch = o.train_size / o.batch;
    for (int64_t e = 0; e < o.epochs; ++e) {
        double s = 0;
        for (int64_t i = 0; i < per_epoch; ++i) s += r.losses[static_cast<size_t>(e * per_epoch + i)];
        std::printf("epoch=%ld mean_loss=%.4f\n", long(e + 1), s / static_cast<double>(per_epoch));
    }
    if (!out.empty()) {
        engine::Checkpoint ck;
        ck.params = r.params;
        ck.config_json = nlohmann::json{{"model", "mlp_demo"}, {"in", o.in}, {"hidden", o.hidden}}.dump();
        ck.meta_json = nlohmann::json{{"seed", o.seed}, {"test_accuracy", r.test_accuracy}}.dump();
        engine::save_checkpoint(out, ck);
        std::printf("checkpoint=%s\n", out.c_str());
    }
    std::printf("test_accuracy=%.4f\n", r.test_accuracy);
    return 0;
}

int run_train(const std::string& config, const std::vector<std::string>& sets, const std::string& out) {
    model::TrainConfig cfg = model::TrainConfig::from_toml(config, sets);
    engine::set_num_threads(cfg.threads);
    std::printf("seed=%llu threads=%d kernels=%s\n", static_cast<unsigned long long>(cfg.seed), cfg.threads,
                engine::kernel_mode_spec().c_str());
    std::printf("config: %s\n", cfg.to_json().c_str());
    std::unique_ptr<util::Progress> bar;
    model::TrainHooks hooks;
    hooks.on_step = [&](int64_t step, int64_t total, double loss, double acc) {
        if (!bar) bar = std::make_unique<util::Progress>("train", total, "step");
        char info[80];
        std::snprintf(info, sizeof info, "loss=%.4f acc=%.4f", loss, acc);
        bar->update(step, info);
    };
    hooks.on_epoch = [&](const model::EpochMetrics& m) {
        std::fprintf(stderr, "\n");
        std::printf("epoch=%ld train_loss=%.4f train_accuracy=%.4f val_accuracy=%.4f seconds=%.1f seq_per_s=%.1f\n",
                    long(m.epoch), m.train_loss, m.train_accuracy, m.val_accuracy, m.seconds, m.seq_per_s);
        std::fflush(stdout);
    };
    hooks.on_info = [](const std::string& line) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
    };
    model::train(cfg, out, hooks);
    // report on the test split with the best (validation) checkpoint
    const std::string ckpt = out + "/model.h5";
    auto m = model::load_bert(ckpt);
    const model::Tokenizer tok = model::Tokenizer::from_file(cfg.vocab);
    std::vector<model::Review> test = model::load_imdb(cfg.data_root, "test");
    if (cfg.test_limit > 0 && cfg.test_limit < static_cast<int64_t>(test.size())) {
        // test rows are sorted neg/pos alternating: an even prefix stays balanced
        test.resize(static_cast<size_t>(cfg.test_limit));
    }
    const auto enc = model::encode_reviews(test, tok, cfg.max_len, cfg.cache_dir);
    const auto r = model::evaluate(*m, enc, cfg.eval_batch_size, tok.pad_id());
    std::printf("checkpoint=%s\ntest_n=%ld\n", ckpt.c_str(), long(r.n));
    std::printf("test_accuracy=%.4f\n", r.accuracy);
    return 0;
}

void enable_deploy(model::Module& m, const std::string& ckpt, const DeployOptions& d, FILE* out) {
    // only what was asked is switched on; nothing is switched off (an export's layers keep their kernels)
    std::vector<std::string> not_int8, not_sparse, int8, sparse;
    if (d.int8) int8 = model::set_integer_inference(m, true, &not_int8);
    if (d.int8 && int8.empty())
        throw engine::Error("--int8: checkpoint '" + ckpt + "' has no Linear layer with fixed-point inputs and weights " +
                            "of at most 8 bits (quantize it first: qbert quantize --config ...)" +
                            (not_int8.empty() ? std::string() : "; e.g. " + not_int8.front()));
    if (d.sparse) sparse = model::set_sparse_inference(m, true, d.sparse_min, &not_sparse);
    if (d.sparse && sparse.empty())
        throw engine::Error("--sparse: checkpoint '" + ckpt + "' has no pruned Linear layer of sparsity >= " +
                            std::to_string(d.sparse_min) + " (prune it first: qbert prune ...)" +
                            (not_sparse.empty() ? std::string() : "; e.g. " + not_sparse.front()));
    if (d.int8) {
        std::fprintf(out, "int8: %zu Linear layers on int8 operands (int32 sums)", int8.size());
        if (!not_int8.empty()) std::fprintf(out, "; %zu stay float (first: %s)", not_int8.size(), not_int8.front().c_str());
        std::fprintf(out, "; embeddings, LayerNorm, GELU, softmax and the attention matmuls stay float\n");
    }
    if (d.sparse) {
        size_t both = 0;  // int8 wins where a layer runs int8 (asked now, or an int8 export's layer)
        for (const auto& [name, mod] : m.named_modules())
            if (const auto* c = dynamic_cast<const model::CompressedLinear*>(mod.get());
                c && c->sparse_inference() && c->integer_inference() && c->int8_unsupported().empty())
                ++both;
        std::fprintf(out, "sparse: %zu pruned Linear layers on the CSR kernel", sparse.size() - both);
        if (both) std::fprintf(out, " (%zu more run int8 instead)", both);
        if (!not_sparse.empty())
            std::fprintf(out, "; %zu stay dense (first: %s)", not_sparse.size(), not_sparse.front().c_str());
        std::fprintf(out, "\n");
    }
}

int run_eval(const std::string& ckpt, const std::string& split, int64_t limit, const std::string& data_root,
             const std::string& vocab_opt, int threads, const DeployOptions& deploy) {
    engine::set_num_threads(threads);
    std::string meta;
    auto m = model::load_bert(ckpt, &meta);
    const std::string vocab = vocab_opt.empty() ? meta_string(meta, "vocab", "data/vocab/bert-base-uncased-vocab.txt") : vocab_opt;
    const int64_t max_len = meta_int(meta, "max_len", 256);
    const model::Tokenizer tok = model::Tokenizer::from_file(vocab);
    model::Encoded enc;
    if (split == "test") {
        std::vector<model::Review> rows = model::load_imdb(data_root, "test");
        if (limit > 0 && limit < static_cast<int64_t>(rows.size())) rows.resize(static_cast<size_t>(limit));
        enc = model::encode_reviews(rows, tok, max_len, model::TrainConfig{}.cache_dir);
    } else if (split == "val") {
        // the split train() made: same code, with the seed and fraction recorded in the checkpoint
        model::TrainConfig cfg = model::TrainConfig::from_checkpoint_meta(meta, "checkpoint '" + ckpt + "'");
        cfg.data_root = data_root;
        cfg.max_len = max_len;
        enc = model::load_train_val(cfg, tok).val;
        if (limit > 0 && limit < enc.size()) {
            std::vector<int64_t> first(static_cast<size_t>(limit));
            for (int64_t i = 0; i < limit; ++i) first[i] = i;
            enc = enc.subset(first);
        }
    } else {
        throw engine::Error("--split must be test or val, got '" + split + "'");
    }
    // on: switch on what --int8 / --sparse ask for; off: plain fake-quant / dense layers; as loaded (neither asked):
    // what the file says (an export's layers run on their kernels)
    const auto run = [&](bool on, std::vector<std::array<float, 2>>* logits) {
        if (on) {
            enable_deploy(*m, ckpt, deploy);
        } else if (deploy.compare) {
            model::set_integer_inference(*m, false);
            model::set_sparse_inference(*m, false);
        }
        int int8_layers = 0, sparse_layers = 0;
        for (const auto& [name, mod] : m->named_modules())
            if (auto* c = dynamic_cast<model::CompressedLinear*>(mod.get())) {
                const bool i8 = c->integer_inference() && c->int8_unsupported().empty();
                int8_layers += i8;
                sparse_layers += !i8 && c->sparse_inference() && c->sparse_unsupported().empty();
            }
        const auto t0 = std::chrono::steady_clock::now();
        const auto r = model::evaluate(*m, enc, model::TrainConfig{}.eval_batch_size, tok.pad_id(), logits);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("matmul=%s int8_layers=%d sparse_layers=%d seconds=%.1f reviews_per_s=%.1f\n",
                    engine::matmul_precision_name(engine::matmul_precision()), int8_layers, sparse_layers, secs,
                    static_cast<double>(r.n) / std::max(secs, 1e-9));
        std::printf("accuracy=%.4f n=%ld\n", r.accuracy, long(r.n));
        std::fflush(stdout);
    };
    if (!deploy.compare) {
        run(deploy.any(), nullptr);
        return 0;
    }
    ENGINE_CHECK(deploy.any(), "--compare needs --int8 or --sparse (what to compare the plain model with)");
    std::vector<std::array<float, 2>> fq, i8;
    enable_deploy(*m, ckpt, deploy, stderr);  // fails now, before a whole evaluation, if no layer qualifies
    run(false, &fq);
    m = model::load_bert(ckpt, &meta);  // afresh: random activation masks or stochastic formats restart their streams
    run(true, &i8);
    int64_t logits_differ = 0, predictions_differ = 0;
    double max_diff = 0.0;
    for (size_t i = 0; i < fq.size(); ++i) {
        logits_differ += fq[i] != i8[i];
        predictions_differ += (fq[i][1] > fq[i][0]) != (i8[i][1] > i8[i][0]);
        for (int c = 0; c < 2; ++c) max_diff = std::max(max_diff, std::fabs(double(fq[i][c]) - double(i8[i][c])));
    }
    std::printf("compare: n=%zu logits_differ=%ld predictions_differ=%ld max_abs_logit_diff=%.3g\n", fq.size(),
                long(logits_differ), long(predictions_differ), max_diff);
    return 0;
}

int run_predict(const std::string& ckpt, const std::string& text, const std::string& vocab_opt, int threads,
                const DeployOptions& deploy) {
    engine::set_num_threads(threads);
    std::string meta;
    auto m = model::load_bert(ckpt, &meta);
    if (deploy.any()) enable_deploy(*m, ckpt, deploy, stderr);  // stdout is the predictions
    const std::string vocab = vocab_opt.empty() ? meta_string(meta, "vocab", "data/vocab/bert-base-uncased-vocab.txt") : vocab_opt;
    const model::Tokenizer tok = model::Tokenizer::from_file(vocab);
    const int64_t max_len = meta_int(meta, "max_len", 256);
    std::vector<model::Review> inputs;
    if (!text.empty()) {
        inputs.push_back({0, text});
    } else {
        for (std::string line; std::getline(std::cin, line);) inputs.push_back({0, line});
    }
    const auto enc = model::encode_reviews(inputs, tok, max_len);
    std::vector<std::array<float, 2>> logits;
    model::evaluate(*m, enc, 64, tok.pad_id(), &logits);
    for (const auto& l : logits) std::printf("%s\t%.6f\t%.6f\n", l[1] > l[0] ? "positive" : "negative", l[0], l[1]);
    return 0;
}

int run_tokenize(const std::string& vocab, int64_t max_len) {
    const model::Tokenizer tok = model::Tokenizer::from_file(vocab);
    for (std::string line; std::getline(std::cin, line);) {
        const auto ids = tok.encode(line, max_len);
        for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
        std::printf("\n");
    }
    return 0;
}

int run_init(const std::string& config, const std::vector<std::string>& sets, const std::string& out) {
    const model::TrainConfig cfg = model::TrainConfig::from_toml(config, sets);
    engine::Rng init = engine::Rng(cfg.seed).fork("init");
    model::BertForSequenceClassification m(cfg.model, init);
    model::save_bert(out, m, model::checkpoint_meta(cfg));
    std::printf("seed=%llu\ncheckpoint=%s parameters=%ld\n", static_cast<unsigned long long>(cfg.seed), out.c_str(),
                long(m.num_parameters()));
    return 0;
}

int run_import_hf(const std::string& dir, const std::string& out, uint64_t seed) {
    model::HfImport r = model::import_hf(dir, seed);
    for (const auto& n : r.skipped) std::printf("skipped (not in the model): %s\n", n.c_str());
    for (const auto& n : r.kept_init) std::printf("not in the file, initialized with seed %llu: %s\n",
                                                  static_cast<unsigned long long>(seed), n.c_str());
    model::save_bert(out, *r.model, nlohmann::json{{"imported_from", dir}, {"max_len", 512}}.dump());
    std::printf("loaded=%ld skipped=%ld initialized=%ld\ncheckpoint=%s\n", long(r.loaded.size()), long(r.skipped.size()),
                long(r.kept_init.size()), out.c_str());
    return 0;
}

int run_inspect(const std::string& path) {
    const engine::Checkpoint ck = engine::load_checkpoint(path);
    std::printf("file: %s\nconfig: %s\nmeta: %s\n", path.c_str(), ck.config_json.c_str(), ck.meta_json.c_str());
    int64_t total = 0;
    for (const auto& [name, t] : ck.params) {
        const auto b = ck.stored_bytes.find(name);
        std::printf("  %-60s %-24s %ld bytes\n", name.c_str(), t.str().c_str(),
                    long(b == ck.stored_bytes.end() ? 0 : b->second));
        total += t.numel();
    }
    std::printf("parameters: %ld tensors, %ld values\n", long(ck.params.size()), long(total));
    if (!ck.optimizer.empty())
        std::printf("optimizer state: %ld tensors, %ld steps\n", long(ck.optimizer.size()), long(ck.optimizer_steps));
    std::cout.flush();
    std::fflush(stdout);
    print_file_bytes(ck, path, std::cout);  // the checkpoint already read, not a second read of the file
    return 0;
}

}  // namespace qbert::experiments
