// qbert: the command-line front end. Thin: parse arguments, call the libraries, map errors to exit codes
// (1 = a qbert error such as bad input, with a message naming the file/field/shape; 2 = bad command line).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/cli.h"
#include "apps/learn.h"
#include "engine/dist/comm.h"
#include "engine/engine.h"
#include "util/progress.h"
#include "experiments/model_commands.h"

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

}  // namespace

int main(int argc, char** argv) {
    // Under mpirun/srun (a build with MPI): one process per rank. Rank 0 prints; the others keep stderr for errors.
    engine::dist::init(&argc, &argv);
    struct Finalize {
        ~Finalize() { engine::dist::finalize(); }
    } finalize_at_exit;
    if (!engine::dist::is_root()) {
        if (std::freopen("/dev/null", "w", stdout) == nullptr) std::fprintf(stderr, "warning: cannot silence stdout\n");
        util::Progress::set_quiet(true);
    }
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
    bool eval_int8 = false, eval_compare = false, eval_compare_int8 = false, eval_sparse = false;
    double sparse_min = 0.75;
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
    eval->add_flag("--int8", eval_int8, "run fixed-point Linear layers of <= 8 bits on int8 operands (int32 sums)");
    eval->add_flag("--sparse", eval_sparse, "run pruned Linear layers on the sparse (CSR) kernel");
    eval->add_option("--sparse-min", sparse_min, "--sparse: only layers pruned at least this much (below, dense is faster)")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    eval->add_flag("--compare", eval_compare, "evaluate twice, without and with --int8/--sparse, and compare logits and predictions");
    eval->add_flag("--compare-int8", eval_compare_int8, "the same as --int8 --compare");

    std::string pred_ckpt, pred_text;
    CLI::App* predict = app.add_subcommand("predict", "classify --text or each stdin line: label<TAB>logit0<TAB>logit1");
    predict->add_option("--checkpoint", pred_ckpt, "checkpoint (.h5)")->required();
    predict->add_option("--text", pred_text, "one text (otherwise each line of stdin)");
    predict->add_option("--vocab", vocab_path, "vocab.txt (default: the one recorded in the checkpoint)");
    predict->add_option("--threads", eval_threads)->capture_default_str();
    predict->add_option("--matmul", eval_matmul, matmul_help);
    predict->add_flag("--int8", eval_int8, "run fixed-point Linear layers of <= 8 bits on int8 operands (int32 sums)");
    predict->add_flag("--sparse", eval_sparse, "run pruned Linear layers on the sparse (CSR) kernel");
    predict->add_option("--sparse-min", sparse_min, "--sparse: only layers pruned at least this much")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));

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
    apps::Lab3Commands lab3;
    apps::register_lab3_commands(app, lab3);
    apps::SearchCommands search;
    apps::register_search_commands(app, search);
    apps::LearnCommands learn;
    apps::register_learn_commands(app, learn, compress.prune);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    try {
        if (*demo) {
            apply_common(common);
            demo_opt.seed = common.seed;
            return experiments::run_demo(demo_opt, demo_out);
        }
        if (*inspect) return experiments::run_inspect(inspect_path);
        if (*train) return experiments::run_train(train_config, train_sets, train_out);
        if (!eval_matmul.empty()) engine::set_matmul_precision(eval_matmul);  // eval, predict
        const experiments::DeployOptions deploy{eval_int8 || eval_compare_int8, eval_sparse, sparse_min,
                                                eval_compare || eval_compare_int8};
        if (*eval) return experiments::run_eval(eval_ckpt, eval_split, eval_limit, data_root, vocab_path, eval_threads,
                                                   deploy);
        if (*predict) return experiments::run_predict(pred_ckpt, pred_text, vocab_path, eval_threads, deploy);
        if (*tokenize) return experiments::run_tokenize(tok_vocab, tok_max_len);
        if (*init) return experiments::run_init(train_config, train_sets, init_out);
        if (*import_hf) return experiments::run_import_hf(hf_dir, hf_out, hf_seed);
        if (auto rc = apps::run_learn_commands(learn, compress.o)) return *rc;  // before prune: prune --explain
        if (auto rc = apps::run_compress_commands(compress)) return *rc;
        if (auto rc = apps::run_lab1_commands(lab1)) return *rc;
        if (auto rc = apps::run_lab3_commands(lab3)) return *rc;
        if (auto rc = apps::run_search_commands(search)) return *rc;
    } catch (const engine::dist::AgreedError& e) {  // every rank has it: rank 0 says it
        if (engine::dist::is_root()) std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        if (engine::dist::world_size() <= 1) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 1;
        }
        // one rank failed alone: the others may be waiting in a collective, so end the job
        std::fprintf(stderr, "error (rank %d of %d): %s\n", engine::dist::world_rank(), engine::dist::world_size(),
                     e.what());
        std::fflush(stderr);
        engine::dist::abort_all(1);
    }
    return 0;
}
