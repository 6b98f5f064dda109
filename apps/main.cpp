// qbert: the command-line front end. Thin: parse arguments, call the libraries, map errors to exit codes
// (1 = a qbert error such as bad input, with a message naming the file/field/shape; 2 = bad command line).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/progress.h"
#include "engine/engine.h"
#include "model/mlp_demo.h"

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

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    try {
        if (*demo) return run_demo(common, demo_opt, demo_out);
        if (*inspect) return run_inspect(inspect_path);
    } catch (const engine::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
