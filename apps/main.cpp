// qbert: the command-line front end. Thin: parse arguments, call the libraries, map errors to exit codes
// (1 = a qbert error such as bad input, with a message naming the file/field/shape; 2 = bad command line).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/compress.h"
#include "apps/lab1.h"
#include "apps/search_cmd.h"
#include "apps/progress.h"
#include "engine/engine.h"
#include "model/mlp_demo.h"
#include "model/hf_import.h"
#include "model/train.h"

using namespace qbert;

namespace {
struct Common {
    uint64_t seed = 0;
    int threads = 2;
    std::string kernels = "fast";
};

void add_common(CLI::App* app, Common& c) {
    app->add_option("--seed", c.seed, "seed for every random choice (data, init, dropout)")->capture_default_str();
    app->add_option("--threads", c.threads, "OpenMP threads")->capture_default_str()->check(CLI::Range(1, 256));
    app->add_option("--kernels", c.kernels, "ref | fast | check, with per-op overrides (fast,layernorm=ref)")
        ->capture_default_str();
}

void apply_common(const Common& c) {
    engine::set_num_threads(c.threads);
    engine::set_kernel_mode(c.kernels);
    std::printf("seed=%llu threads=%d kernels=%s\n", static_cast<unsigned long long>(c.seed), c.threads,
                c.kernels.c_str());
}

int run_demo(const Common& c, model::MlpDemoOptions o, const std::string& out) {
    apply_common(c);
    o.seed = c.seed;
    std::printf("demo: MLP %ld-%ld-%ld-2 on a synthetic XOR-like task, %ld train / %ld test points, %ld epochs\n",
                long(o.in), long(o.hidden), long(o.hidden), long(o.train_size), long(o.test_size), long(o.epochs));
    apps::Progress bar("train", (o.train_size / o.batch) * o.epochs, "step");
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
        ck.meta_json = nlohmann::json{{"seed", c.seed}, {"test_accuracy", r.test_accuracy}}.dump();
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
    std::unique_ptr<apps::Progress> bar;
    model::TrainHooks hooks;
    hooks.on_step = [&](int64_t step, int64_t total, double loss, double acc) {
        if (!bar) bar = std::make_unique<apps::Progress>("train", total, "step");
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

std::string meta_string(const std::string& meta, const char* key, const std::string& fallback) {
    auto j = nlohmann::json::parse(meta.empty() ? "{}" : meta, nullptr, false);
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}
int64_t meta_int(const std::string& meta, const char* key, int64_t fallback) {
    auto j = nlohmann::json::parse(meta.empty() ? "{}" : meta, nullptr, false);
    return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : fallback;
}

int run_eval(const std::string& ckpt, const std::string& split, int64_t limit, const std::string& data_root,
             const std::string& vocab_opt, int threads) {
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
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = model::evaluate(*m, enc, model::TrainConfig{}.eval_batch_size, tok.pad_id());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("matmul=%s seconds=%.1f reviews_per_s=%.1f\n", engine::matmul_precision_name(engine::matmul_precision()),
                secs, static_cast<double>(r.n) / std::max(secs, 1e-9));
    std::printf("accuracy=%.4f n=%ld\n", r.accuracy, long(r.n));
    return 0;
}

int run_predict(const std::string& ckpt, const std::string& text, const std::string& vocab_opt, int threads) {
    engine::set_num_threads(threads);
    std::string meta;
    auto m = model::load_bert(ckpt, &meta);
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
        std::printf("  %-60s %s\n", name.c_str(), t.str().c_str());
        total += t.numel();
    }
    std::printf("parameters: %ld tensors, %ld values\n", long(ck.params.size()), long(total));
    if (!ck.optimizer.empty())
        std::printf("optimizer state: %ld tensors, %ld steps\n", long(ck.optimizer.size()), long(ck.optimizer_steps));
    return 0;
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"qbert: quantization-aware training, pruning and architecture search for BERT, in C++"};
    app.require_subcommand(1);
    Common common;

    model::MlpDemoOptions demo_opt;
    std::string demo_out;
    CLI::App* demo = app.add_subcommand("demo", "train a small MLP on a synthetic task (the engine end to end)");
    add_common(demo, common);
    demo->add_option("--epochs", demo_opt.epochs, "epochs")->capture_default_str()->check(CLI::Range(1, 1000));
    demo->add_option("--hidden", demo_opt.hidden, "hidden width")->capture_default_str()->check(CLI::Range(1, 1 << 16));
    demo->add_option("--train-size", demo_opt.train_size, "training points")->capture_default_str()->check(CLI::Range(1, 1 << 24));
    demo->add_option("--batch", demo_opt.batch, "batch size")->capture_default_str()->check(CLI::Range(1, 1 << 16));
    demo->add_option("--lr", demo_opt.lr, "peak learning rate (AdamW)")->capture_default_str()->check(CLI::Range(1e-9, 10.0));
    demo->add_option("--out", demo_out, "write the trained model as an HDF5 checkpoint");

    std::string inspect_path;
    CLI::App* inspect = app.add_subcommand("inspect", "list a checkpoint's tensors, config and optimizer state");
    inspect->add_option("checkpoint", inspect_path, "checkpoint file (.h5)")->required();

    std::string train_config = "configs/base.toml", train_out = "runs/base";
    std::vector<std::string> train_sets;
    CLI::App* train = app.add_subcommand("train", "train BERT on IMDb from scratch; prints test_accuracy=... last");
    train->add_option("--config", train_config, "TOML config ([model], [data], [train])")->capture_default_str();
    train->add_option("--set", train_sets, "override a config key: section.key=value (repeatable)");
    train->add_option("--out", train_out, "output directory: model.h5 (best on validation), metrics.csv")->capture_default_str();

    std::string eval_ckpt, eval_split = "test", data_root = "data", vocab_path, eval_matmul;
    const char* matmul_help = "f32 | bf16: precision of the matmul operands (sums in fp32 either way; bf16 runs "
                              "~1.5x faster here, see docs/benchmarks.md). Default: QBERT_MATMUL, else f32";
    int64_t eval_limit = 0;
    int eval_threads = 2;
    CLI::App* eval = app.add_subcommand("eval", "accuracy of a checkpoint; prints accuracy=... n=...");
    eval->add_option("--checkpoint", eval_ckpt, "checkpoint (.h5)")->required();
    eval->add_option("--split", eval_split, "test | val")->capture_default_str();
    eval->add_option("--limit", eval_limit, "first N rows only (0 = all)")->capture_default_str();
    eval->add_option("--data", data_root, "data root")->capture_default_str();
    eval->add_option("--vocab", vocab_path, "vocab.txt (default: the one recorded in the checkpoint)");
    eval->add_option("--threads", eval_threads)->capture_default_str();
    eval->add_option("--matmul", eval_matmul, matmul_help);

    std::string pred_ckpt, pred_text;
    CLI::App* predict = app.add_subcommand("predict", "classify --text or each stdin line: label<TAB>logit0<TAB>logit1");
    predict->add_option("--checkpoint", pred_ckpt, "checkpoint (.h5)")->required();
    predict->add_option("--text", pred_text, "one text (otherwise each line of stdin)");
    predict->add_option("--vocab", vocab_path, "vocab.txt (default: the one recorded in the checkpoint)");
    predict->add_option("--threads", eval_threads)->capture_default_str();
    predict->add_option("--matmul", eval_matmul, matmul_help);

    std::string tok_vocab = "data/vocab/bert-base-uncased-vocab.txt";
    int64_t tok_max_len = 512;
    CLI::App* tokenize = app.add_subcommand("tokenize", "token ids of each stdin line ([CLS] ... [SEP])");
    tokenize->add_option("--vocab", tok_vocab, "vocab.txt")->capture_default_str();
    tokenize->add_option("--max-len", tok_max_len, "truncate to this many ids")->capture_default_str()->check(CLI::Range(2, 1 << 20));

    std::string init_out;
    CLI::App* init = app.add_subcommand("init", "write a freshly initialized (seeded) BERT checkpoint");
    init->add_option("--config", train_config, "TOML config")->capture_default_str();
    init->add_option("--set", train_sets, "override a config key: section.key=value");
    init->add_option("--out", init_out, "checkpoint to write")->required();

    std::string hf_dir, hf_out;
    uint64_t hf_seed = 0;
    CLI::App* import_hf = app.add_subcommand("import-hf", "convert DIR/config.json + DIR/model.safetensors to a checkpoint");
    import_hf->add_option("dir", hf_dir, "a Hugging Face BERT folder")->required();
    import_hf->add_option("--out", hf_out, "checkpoint to write (.h5)")->required();
    import_hf->add_option("--seed", hf_seed, "seed for parameters the file lacks (e.g. the classifier)")->capture_default_str();

    apps::CompressCommands compress;
    apps::register_compress_commands(app, compress);
    apps::Lab1Commands lab1;
    apps::register_lab1_commands(app, lab1);
    apps::SearchCommands search;
    apps::register_search_commands(app, search);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    try {
        if (*demo) return run_demo(common, demo_opt, demo_out);
        if (*inspect) return run_inspect(inspect_path);
        if (*train) return run_train(train_config, train_sets, train_out);
        if (!eval_matmul.empty()) engine::set_matmul_precision(eval_matmul);  // eval, predict
        if (*eval) return run_eval(eval_ckpt, eval_split, eval_limit, data_root, vocab_path, eval_threads);
        if (*predict) return run_predict(pred_ckpt, pred_text, vocab_path, eval_threads);
        if (*tokenize) return run_tokenize(tok_vocab, tok_max_len);
        if (*init) return run_init(train_config, train_sets, init_out);
        if (*import_hf) return run_import_hf(hf_dir, hf_out, hf_seed);
        if (auto rc = apps::run_compress_commands(compress)) return *rc;
        if (auto rc = apps::run_lab1_commands(lab1)) return *rc;
        if (auto rc = apps::run_search_commands(search)) return *rc;
    } catch (const engine::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
