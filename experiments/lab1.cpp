#include "experiments/lab1.h"

#include "engine/dist/comm.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "experiments/progress_hooks.h"
#include "experiments/results.h"
#include "experiments/study_ranks.h"
#include "experiments/workbench.h"
#include "passes/calibrate.h"
#include "passes/prune.h"
#include "passes/quantize.h"

namespace qbert::experiments {

namespace fs = std::filesystem;
using engine::Error;
using engine::detail::concat;

namespace {
// "k of n points, ETA" lines for sweeps (each point is minutes of work, so one line per point is enough).
struct PointClock {
    int64_t total, done = 0, timed = 0;
    double spent = 0;
    // secs < 0: the point was done by an earlier run (skipped; not part of the rate)
    void report(const std::string& what, double secs) {
        ++done;
        if (secs >= 0) ++timed, spent += secs;
        const double per = timed ? spent / static_cast<double>(timed) : 0.0;
        const std::string eta = timed ? format_duration(per * static_cast<double>(total - done)) : "?";
        std::printf("[%ld/%ld] %s (%.0f s, ETA %s)\n", long(done), long(total), what.c_str(), secs < 0 ? 0.0 : secs,
                    eta.c_str());
        std::fflush(stdout);
    }
};

// *_accuracy: on the sweep's test reviews (reported); qat_val_accuracy: on the validation split (what lab1 chooses by)
const std::vector<std::string> kQuantColumns{"width",        "frac_rule",    "data_in_frac",     "weight_frac", "ptq_accuracy",
                                             "qat_accuracy", "qat_val_accuracy", "n",           "seconds"};

std::string quant_ckpt(const std::string& out, int width, const std::string& rule) {
    return (fs::path(out) / "checkpoints" / ("q" + std::to_string(width) + "_" + rule + ".h5")).string();
}

// One quantization point: PTQ accuracy, then QAT accuracy after o.base.epochs of fine-tuning.
void quant_point(Workbench& w, const SweepOptions& o, int width, const std::string& rule, ResultTable& t) {
    const auto t0 = std::chrono::steady_clock::now();
    w.reload(o.base.checkpoint);
    const engine::FixedPoint q{width, width / 2};
    passes::quantize(*w.m, passes::QuantizeConfig::uniform(q));
    int in_frac = q.frac_width, w_frac = q.frac_width;
    if (rule == "calibrated") {
        const auto cal = passes::calibrate(*w.m, [&] { w.run_batches(o.base.calib_batches); });
        in_frac = cal.front().data_in_frac;  // the first layer's, for the table; each layer has its own
        w_frac = cal.front().weight_frac;
    }
    const double ptq = w.test_accuracy();
    std::printf("width=%d rule=%s ptq_accuracy=%.4f\n", width, rule.c_str(), ptq);
    std::fflush(stdout);
    double qat = ptq;
    if (o.base.epochs > 0) {
        w.finetune(o.base, "qat");
        qat = w.test_accuracy();
    }
    const double qat_val = w.val_accuracy();
    w.save(quant_ckpt(o.out, width, rule), "quantize",
           nlohmann::json{{"width", width}, {"frac_rule", rule}, {"qat_epochs", o.base.epochs}}.dump());
    t.add({{"width", std::to_string(width)},
           {"frac_rule", rule},
           {"data_in_frac", std::to_string(in_frac)},
           {"weight_frac", std::to_string(w_frac)},
           {"ptq_accuracy", fmt_num(ptq)},
           {"qat_accuracy", fmt_num(qat)},
           {"qat_val_accuracy", fmt_num(qat_val)},
           {"n", std::to_string(w.test.size())},
           {"seconds", fmt_num(seconds_since(t0), 1)}});
}

void plot_quant(const SweepOptions& o, const ResultTable& t, double fp32) {
    std::vector<std::string> rules{"half"};
    if (o.frac_rule == "calibrated") rules.push_back("calibrated");
    // a wide table for gnuplot: width, then ptq and qat per rule
    const std::string wide = (fs::path(o.out) / "quant_sweep_plot.csv").string();
    std::vector<std::string> xs;
    for (int wdt : o.widths) xs.push_back(std::to_string(wdt));
    std::vector<ResultTable::Series> series;
    for (const auto& r : rules) {
        series.push_back({"ptq_" + r, "ptq_accuracy", {{"frac_rule", r}}});
        series.push_back({"qat_" + r, "qat_accuracy", {{"frac_rule", r}}});
    }
    t.write_wide(wide, "width", xs, series);
    Figure f{.title = "Lab 1: fixed-point PTQ vs QAT on IMDb (every Linear: input, weight, bias)",
             .xlabel = "fixed-point width (bits, sign included)", .ylabel = "test accuracy", .xtics = "4,4,32", .curves = {},
             .hlines = {{"fp32 base " + fmt_num(fp32), fp32}}};
    int col = 2;
    for (const auto& r : rules) {
        const std::string suffix = r == "half" ? " (frac = width/2)" : " (calibrated frac)";
        f.curves.push_back({"PTQ" + suffix, wide, "1:" + std::to_string(col)});
        f.curves.push_back({"QAT" + suffix, wide, "1:" + std::to_string(col + 1)});
        col += 2;
    }
    if (plot(f, (fs::path(o.out) / "quant_sweep").string()))
        std::printf("figure=%s/quant_sweep.png\n", o.out.c_str());
}

const std::vector<std::string> kPruneColumns{"method",          "sparsity",           "weight_sparsity",
                                             "pruned_accuracy", "finetuned_accuracy", "finetuned_val_accuracy",
                                             "n",               "seconds"};

void prune_point(Workbench& w, const SweepOptions& o, const std::string& method, double sparsity, ResultTable& t) {
    const auto t0 = std::chrono::steady_clock::now();
    w.reload(o.base.checkpoint);
    passes::PruneConfig pc;
    const model::PruneMethod m = method == "random" ? model::PruneMethod::Random : model::PruneMethod::L1Norm;
    pc.weight = passes::PruneSpec{sparsity, m, model::PruneScope::Local};
    pc.activation = passes::PruneSpec{sparsity, m, model::PruneScope::Local};
    engine::Rng rng = engine::Rng(o.base.seed).fork("prune " + method + " " + fmt_num(sparsity, 2));
    int64_t weights = 0, kept = 0;
    for (const auto& l : passes::prune(*w.m, pc, rng)) weights += l.weights, kept += l.kept;
    const double pruned = w.test_accuracy();
    std::printf("method=%s sparsity=%.2f pruned_accuracy=%.4f\n", method.c_str(), sparsity, pruned);
    std::fflush(stdout);
    double ft = pruned;
    if (o.base.epochs > 0) {
        w.finetune(o.base, "finetune");
        ft = w.test_accuracy();
    }
    const double ft_val = w.val_accuracy();
    t.add({{"method", method},
           {"sparsity", fmt_num(sparsity, 2)},
           {"weight_sparsity", fmt_num(1.0 - static_cast<double>(kept) / static_cast<double>(weights))},
           {"pruned_accuracy", fmt_num(pruned)},
           {"finetuned_accuracy", fmt_num(ft)},
           {"finetuned_val_accuracy", fmt_num(ft_val)},
           {"n", std::to_string(w.test.size())},
           {"seconds", fmt_num(seconds_since(t0), 1)}});
}

void plot_prune(const SweepOptions& o, const ResultTable& t, double unpruned) {
    const std::string wide = (fs::path(o.out) / "prune_sweep_plot.csv").string();
    std::vector<std::string> xs;
    for (double sp : o.sparsities) xs.push_back(fmt_num(sp, 2));
    std::vector<ResultTable::Series> series;
    for (const auto& m : o.methods) {
        series.push_back({m + "_finetuned", "finetuned_accuracy", {{"method", m}}});
        series.push_back({m + "_pruned", "pruned_accuracy", {{"method", m}}});
    }
    t.write_wide(wide, "sparsity", xs, series);
    Figure f{.title = "Lab 1: pruning (weights and activations, local) on the quantized model, IMDb",
             .xlabel = "sparsity", .ylabel = "test accuracy", .xtics = "0.1,0.1,0.9",
             .key = "bottom left",  // random pruning falls to chance on the right
             .curves = {},
             .hlines = {{"unpruned " + fmt_num(unpruned), unpruned}}};
    int col = 2;
    for (const auto& m : o.methods) {
        f.curves.push_back({m + ", fine-tuned", wide, "1:" + std::to_string(col)});
        f.curves.push_back({m + ", before fine-tuning", wide, "1:" + std::to_string(col + 1), "linespoints dt 3"});
        col += 2;
    }
    if (plot(f, (fs::path(o.out) / "prune_sweep").string()))
        std::printf("figure=%s/prune_sweep.png\n", o.out.c_str());
}

void check_settings(const SweepOptions& o) {
    const CompressOptions& b = o.base;
    nlohmann::json s{{"checkpoint", b.checkpoint}, {"data", b.data_root},   {"epochs", b.epochs},
                     {"lr", b.lr},                 {"train_limit", b.train_limit},
                     {"test_limit", b.test_limit}, {"seed", b.seed},        {"calib_batches", b.calib_batches}};
    if (b.warmup != 0.0) s["warmup"] = b.warmup;  // absent when 0, so directories from before the option resume
    check_run_settings(o.out, s);
}

// Runs one sweep point unless the table has it already (a resumed run), and reports it.
void run_point(ResultTable& t, PointClock& clock, const ResultTable::Row& key, const std::string& label,
               const std::function<void()>& compute,
               const std::function<std::string(const ResultTable::Row&)>& summary) {
    if (t.has(key)) {
        clock.report(label + ": done earlier, skipped", -1.0);
        return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    compute();
    clock.report(label + ": " + summary(*t.find(key)), seconds_since(t0));
}

// The checkpoint's own accuracy on the sweep's test set (cached in DIR/reference.csv).
double reference_accuracy(Workbench& w, const SweepOptions& o, const std::string& label) {
    ResultTable t((fs::path(o.out) / "reference.csv").string(), {"model", "checkpoint", "accuracy", "n"}, {"model", "checkpoint"});
    if (const auto* r = t.find({{"model", label}, {"checkpoint", o.base.checkpoint}})) return std::stod(r->at("accuracy"));
    w.reload(o.base.checkpoint);
    const double a = w.test_accuracy();
    t.add({{"model", label}, {"checkpoint", o.base.checkpoint}, {"accuracy", fmt_num(a)}, {"n", std::to_string(w.test.size())}});
    return a;
}

int sweep_quant(const SweepOptions& o, Workbench& w) {
    if (o.frac_rule != "half" && o.frac_rule != "calibrated")
        throw Error("--frac-rule must be half or calibrated, but got '" + o.frac_rule + "'");
    for (int wd : o.widths) engine::FixedPoint{wd, wd / 2}.validate("--widths");
    fs::create_directories(fs::path(o.out) / "checkpoints");
    check_settings(o);
    ResultTable t((fs::path(o.out) / "quant_sweep.csv").string(), kQuantColumns, {"width", "frac_rule"});
    const double fp32 = reference_accuracy(w, o, "fp32");
    std::printf("reference_accuracy=%.4f (fp32, n=%ld)\n", fp32, long(w.test.size()));
    std::vector<std::string> rules{"half"};
    if (o.frac_rule == "calibrated") rules.push_back("calibrated");
    PointClock clock{static_cast<int64_t>(o.widths.size() * rules.size())};
    for (const auto& r : rules)
        for (int wd : o.widths)
            run_point(t, clock, {{"width", std::to_string(wd)}, {"frac_rule", r}}, "width " + std::to_string(wd) + " " + r,
                      [&] { quant_point(w, o, wd, r, t); },
                      [](const ResultTable::Row& row) {
                          return "ptq " + row.at("ptq_accuracy") + " qat " + row.at("qat_accuracy");
                      });
    std::printf("results=%s\n", t.path().c_str());
    plot_quant(o, t, fp32);
    return 0;
}

int sweep_prune(const SweepOptions& o, Workbench& w) {
    for (double s : o.sparsities)
        if (!(s >= 0.0 && s <= 1.0)) throw Error(concat("--sparsities: each must be in [0, 1], but got ", s));
    for (const auto& m : o.methods)
        if (m != "random" && m != "l1-norm") throw Error("--methods: '" + m + "' is not one of random, l1-norm");
    fs::create_directories(o.out);
    check_settings(o);
    ResultTable t((fs::path(o.out) / "prune_sweep.csv").string(), kPruneColumns, {"method", "sparsity"});
    const double unpruned = reference_accuracy(w, o, "unpruned");
    std::printf("reference_accuracy=%.4f (unpruned, n=%ld)\n", unpruned, long(w.test.size()));
    PointClock clock{static_cast<int64_t>(o.methods.size() * o.sparsities.size())};
    for (const auto& m : o.methods)
        for (double s : o.sparsities)
            run_point(t, clock, {{"method", m}, {"sparsity", fmt_num(s, 2)}}, m + " " + fmt_num(s, 2),
                      [&] { prune_point(w, o, m, s, t); },
                      [](const ResultTable::Row& row) {
                          return "pruned " + row.at("pruned_accuracy") + " fine-tuned " + row.at("finetuned_accuracy");
                      });
    std::printf("results=%s\n", t.path().c_str());
    plot_prune(o, t, unpruned);
    return 0;
}

// The narrowest width whose QAT validation accuracy is within 0.5 points of the best point of the sweep. Chosen
// on the validation split only: the test accuracy of the chosen model is then an honest estimate.
struct QuantPick {
    int width = 1000;
    std::string rule;
};
QuantPick pick_quantized(const ResultTable& t) {
    double best = -1;
    for (const auto& r : t.rows()) best = std::max(best, std::stod(r.at("qat_val_accuracy")));
    QuantPick p;
    for (const auto& r : t.rows())
        if (std::stod(r.at("qat_val_accuracy")) >= best - 0.005 && std::stoi(r.at("width")) < p.width)
            p.width = std::stoi(r.at("width")), p.rule = r.at("frac_rule");
    if (p.rule.empty()) throw Error("lab1: the quantization sweep has no results");
    std::printf("best_quantized=width %d (%s frac), within 0.5 points of the best QAT validation accuracy %.4f\n",
                p.width, p.rule.c_str(), best);
    return p;
}

// The chosen model's checkpoint, recomputed when the folder has the sweep's table but not the checkpoint (a fresh
// checkout seeded from the tables committed in docs/figures/lab1-full/ by scripts/lab1-full.sh: checkpoints are not
// in git). The recomputed point must give the table's accuracies, or the pruning points already in the table
// would come from another model than the new ones: then it is removed again and the run stops.
std::string quantized_checkpoint(Workbench& w, const SweepOptions& q, const ResultTable& t, const QuantPick& p) {
    const std::string path = quant_ckpt(q.out, p.width, p.rule);
    int64_t missing = fs::exists(path) ? 0 : 1;  // (MPI ranks) rank 0 decides, as for the base model
    engine::dist::broadcast(&missing, sizeof missing, 0);
    if (!missing) return path;
    std::printf("lab1: %s is missing: recomputing width %d (%s) for the pruning sweep\n", path.c_str(), p.width,
                p.rule.c_str());
    const ResultTable::Row key{{"width", std::to_string(p.width)}, {"frac_rule", p.rule}};
    ResultTable again((fs::path(q.out) / "recomputed.csv").string(), kQuantColumns, {"width", "frac_rule"});
    quant_point(w, q, p.width, p.rule, again);
    const ResultTable::Row &was = *t.find(key), &now = *again.find(key);
    for (const char* col : {"ptq_accuracy", "qat_accuracy", "qat_val_accuracy"})
        if (was.at(col) != now.at(col)) {
            engine::dist::barrier();
            if (engine::dist::world_rank() == 0) fs::remove(path);
            throw Error(concat("lab1: the recomputed width ", p.width, " (", p.rule, ") point differs from ",
                               t.path(), ": ", col, " ", was.at(col), " there, ", now.at(col),
                               " now; its pruning points would not start from the same model (use another --out)"));
        }
    return path;
}

int lab1(const SweepOptions& in) {
    if (in.profile != "quick" && in.profile != "full")
        throw Error("--profile must be quick or full, but got '" + in.profile + "'");
    SweepOptions o = in;
    fs::create_directories(o.out);
    const auto t0 = std::chrono::steady_clock::now();
    o.base.checkpoint = ensure_base_checkpoint(o.base.checkpoint, o.out, o.base.data_root);
    o.base.epochs = 1;
    if (o.profile == "quick") {  // explicit --train-limit / --test-limit win
        if (o.base.train_limit == 0) o.base.train_limit = 2000;
        if (o.base.test_limit == 0) o.base.test_limit = 5000;
    }
    o.frac_rule = "calibrated";
    std::printf("lab1 profile=%s base=%s qat/finetune: 1 epoch on %s training reviews (lr %g / %g, warm-up 0 / %g), "
                "test on %s\n", o.profile.c_str(), o.base.checkpoint.c_str(),
                o.base.train_limit ? std::to_string(o.base.train_limit).c_str() : "all", o.base.lr, o.finetune_lr,
                o.finetune_warmup,
                o.base.test_limit ? std::to_string(o.base.test_limit).c_str() : "all 25,000");
    SweepOptions q = o;
    q.out = o.out + "/quant";
    Workbench w(o.base);
    sweep_quant(q, w);
    SweepOptions p = o;
    p.out = o.out + "/prune";
    p.base.lr = o.finetune_lr;
    p.base.warmup = o.finetune_warmup;
    engine::dist::barrier();  // (MPI ranks) rank 0 has written the table every rank reads next
    const ResultTable qt(q.out + "/quant_sweep.csv", kQuantColumns, {"width", "frac_rule"});
    p.base.checkpoint = quantized_checkpoint(w, q, qt, pick_quantized(qt));
    sweep_prune(p, w);
    std::printf("lab1_seconds=%.0f\n", seconds_since(t0));
    return 0;
}

}  // namespace

namespace {
// Under mpirun every rank runs the sweeps together: each QAT / fine-tuning run is data-parallel (fit()), each
// evaluation is split over the ranks, and rank 0 writes (tables, checkpoints, figures). Every rank reads the
// same files at the same points (the resume state), so they take the same path. The ranks must be started
// with the same options (compared first); then `job` runs on every rank.
int on_every_rank(const char* command, const SweepOptions& o, const std::function<int()>& job) {
    return run_distributed([&](RankSetup* dr) {
        if (dr) {
            const CompressOptions& b = o.base;
            engine::dist::check_same(
                std::string("command line (") + command + " options)",
                nlohmann::json{{"checkpoint", b.checkpoint}, {"data", b.data_root}, {"lr", b.lr}, {"warmup", b.warmup},
                               {"epochs", b.epochs}, {"train_limit", b.train_limit}, {"test_limit", b.test_limit},
                               {"seed", b.seed}, {"threads", b.threads}, {"calibrate", b.calibrate},
                               {"calib_batches", b.calib_batches}, {"out", o.out}, {"profile", o.profile},
                               {"finetune_lr", o.finetune_lr}, {"finetune_warmup", o.finetune_warmup},
                               {"widths", o.widths}, {"frac_rule", o.frac_rule}, {"sparsities", o.sparsities},
                               {"methods", o.methods}}
                    .dump());
            if (o.profile != "quick" && o.profile != "full")  // (lab1 checks it again; here before the agreement)
                throw Error("--profile must be quick or full, but got '" + o.profile + "'");
            dr->agree();
        }
        return job();
    }, /*studies=*/false);
}
}  // namespace

std::string ensure_base_checkpoint(const std::string& checkpoint, const std::string& out, const std::string& data_root) {
    // (MPI ranks) rank 0 decides, so every rank takes the same path even where their views of the file differ
    int64_t missing = fs::exists(checkpoint) ? 0 : 1;
    engine::dist::broadcast(&missing, sizeof missing, 0);
    if (missing) {  // no base model yet: train it with the base recipe
        const std::string dir = out + "/base";
        std::printf("base checkpoint '%s' not found: training the base model (configs/base.toml) into %s\n",
                    checkpoint.c_str(), dir.c_str());
        model::TrainConfig cfg = model::TrainConfig::from_toml("configs/base.toml",
                                                               {"data.root=\"" + data_root + "\""});
        model::TrainHooks h;
        h.on_epoch = [](const model::EpochMetrics& e) {
            std::printf("base epoch=%ld val_accuracy=%.4f seconds=%.1f\n", long(e.epoch), e.val_accuracy, e.seconds);
            std::fflush(stdout);
        };
        int64_t train_it = fs::exists(dir + "/model.h5") ? 0 : 1;
        engine::dist::broadcast(&train_it, sizeof train_it, 0);
        if (train_it) model::train(cfg, dir, h);
        return dir + "/model.h5";
    }
    return checkpoint;
}

int sweep_quant(const SweepOptions& o) {
    return on_every_rank("qbert sweep quant", o, [&] {
        Workbench w(o.base);
        return sweep_quant(o, w);
    });
}
int sweep_prune(const SweepOptions& o) {
    return on_every_rank("qbert sweep prune", o, [&] {
        Workbench w(o.base);
        return sweep_prune(o, w);
    });
}

int run_lab1(const SweepOptions& o) {
    return on_every_rank("qbert lab1", o, [&] { return lab1(o); });
}

}  // namespace qbert::experiments
