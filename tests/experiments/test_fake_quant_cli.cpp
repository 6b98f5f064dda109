// `qbert fake-quant` is the contract for exact-value checks: run the real binary on the golden cases computed
// by Mase's own quantizers (tests/golden/formats_golden.json) and compare its printed values bit for bit.
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <iterator>

#include "support/helpers.h"
#include "util/subprocess.h"

using Catch::Matchers::Contains;

namespace {
struct Run {
    int status = 0;
    std::vector<std::string> lines;
};
// `qbert ARGS...` with `in` on stdin; stdout and stderr lines together.
Run learn_run(const std::vector<std::string>& args, const std::string& in = "") {
    qbert::util::SpawnOptions o;
    o.argv = {QBERT_EXE};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.pipe_stdin = true;  // an empty stdin is an immediate end of file
    o.stdin_data = in;
    o.stderr_to = qbert::util::SpawnOptions::Stderr::Merge;
    auto c = qbert::util::Child::spawn(o);
    Run r;
    while (c.read(-1, [&](const std::string& l) { r.lines.push_back(l); })) {}
    r.status = c.wait();
    return r;
}
Run fake_quant(std::vector<std::string> args, const std::string& in) {
    args.insert(args.begin(), "fake-quant");
    return learn_run(args, in);
}
std::string join(const std::vector<int64_t>& v) {
    std::string s;
    for (int64_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
    return s;
}
}  // namespace

TEST_CASE("qbert fake-quant prints Mase's values bit for bit (golden cases, every float format)", "[experiments][cli][formats]") {
    std::ifstream f(std::string(QBERT_SOURCE_ROOT) + "/tests/golden/formats_golden.json");
    const nlohmann::json g = nlohmann::json::parse(f);
    int checked = 0;
#ifdef NDEBUG
    const size_t every = 1;
#else  // ASan debug build: every 4th case (each start of the instrumented binary costs ~0.5 s); release runs all
    const size_t every = 4;
#endif
    for (size_t ci = 0; ci < g.at("cases").size(); ci += every) {
        const auto& c = g.at("cases")[ci];
        std::vector<std::string> args{"--format", c.at("format").get<std::string>(), "--width",
                                      std::to_string(c.at("width").get<int>())};
        for (const char* k : {"exponent_width", "exponent_bias", "exponent_bias_width"})
            if (c.contains(k)) {
                std::string opt = std::string("--") + k;
                for (char& ch : opt) ch = ch == '_' ? '-' : ch;
                args.insert(args.end(), {opt, std::to_string(c[k].get<int>())});
            }
        if (c.contains("block_size")) {
            args.insert(args.end(), {"--block-size", join(c["block_size"].get<std::vector<int64_t>>())});
            if (c["skip_first_dim"].get<bool>()) args.push_back("--skip-first-dim");
            args.insert(args.end(), {"--shape", join(c["shape"].get<std::vector<int64_t>>())});
        }
        std::string in;
        char buf[64];
        for (double x : c.at("x").get<std::vector<double>>()) {
            std::snprintf(buf, sizeof buf, "%.9g ", x);  // %.9g round-trips every float32
            in += buf;
        }
        const Run r = fake_quant(args, in);
        CAPTURE(args);
        REQUIRE(r.status == 0);
        const auto ys = c.at("y").get<std::vector<double>>();
        REQUIRE(r.lines.size() == ys.size());
        for (size_t i = 0; i < ys.size(); ++i) {
            const float got = std::strtof(r.lines[i].c_str(), nullptr), want = static_cast<float>(ys[i]);
            CAPTURE(i, r.lines[i], ys[i]);
            REQUIRE(std::memcmp(&got, &want, sizeof got) == 0);
        }
        ++checked;
    }
    REQUIRE(checked * every >= 150);
}

TEST_CASE("qbert fake-quant: integer, binary, ternary, explain, and errors exit non-zero naming the option",
          "[experiments][cli][formats]") {
    REQUIRE(fake_quant({"--width", "4", "--frac-width", "2"}, "0.3 0.375\n3.0\t-3.0").lines ==
            std::vector<std::string>{"0.25", "0.5", "1.75", "-2"});
    REQUIRE(fake_quant({"--format", "binary"}, "0.2 -0.1 0").lines == std::vector<std::string>{"1", "-1", "1"});
    REQUIRE(fake_quant({"--format", "ternary", "--shape", "3,2"}, "0.9 -0.05 0.2 -0.7 0 0").lines ==
            std::vector<std::string>{"1", "0", "0", "-1", "0", "0"});
    const Run s1 = fake_quant({"--format", "binary", "--stochastic", "--seed", "5"}, "0 0 0 0 0 0 0 0 0 0 0 0");
    REQUIRE(s1.lines == fake_quant({"--format", "binary", "--stochastic", "--seed", "5"}, "0 0 0 0 0 0 0 0 0 0 0 0").lines);
    const Run ex = fake_quant({"--format", "minifloat_ieee", "--width", "8", "--exponent-width", "4", "--explain"}, "0.99");
    REQUIRE(ex.status == 0);
    REQUIRE_THAT(ex.lines.at(1), Contains("exponent e=floor(log2|x|)=-1") && Contains("-> q=0.9375"));
    const Run bx = fake_quant({"--format", "block_fp", "--width", "4", "--exponent-width", "8", "--block-size", "4", "--explain"},
                              "0.5 0.26 -0.1 0.01");
    REQUIRE_THAT(bx.lines.at(1), Contains("block 0 max|x|=0.5 shared exponent=-1") && Contains("capped to 7"));
    auto fails = [](const std::vector<std::string>& a, const std::string& in, const std::string& msg) {
        const Run r = fake_quant(a, in);
        CAPTURE(a, r.lines);
        REQUIRE(r.status != 0);
        REQUIRE(!r.lines.empty());
        REQUIRE_THAT(r.lines.back(), Contains(msg));
    };
    fails({"--format", "posit"}, "1", "valid: integer, minifloat_denorm");
    fails({"--format", "minifloat_ieee", "--width", "8"}, "1", "needs --exponent-width");
    fails({"--format", "minifloat_ieee", "--width", "4", "--exponent-width", "4"}, "1", "too small for exponent_width 4");
    fails({"--format", "block_fp", "--width", "6", "--exponent-width", "4", "--block-size", "0"}, "1", "got 0");
    fails({"--format", "block_fp", "--width", "6", "--exponent-width", "4", "--block-size", "1,x"}, "1", "'x' is not an integer");
    fails({"--format", "block_log", "--width", "6", "--exponent-bias-width", "4", "--block-size", "4", "--shape", "2,3"},
          "1 2 3 4", "holds 6 values, but stdin gave 4");
    fails({"--format", "log", "--width", "6", "--exponent-width", "3"}, "1", "--exponent-width does not apply");
    fails({}, "1 x 2", "stdin value 2: 'x' is not a number");
}

namespace {
std::string learn_all(const Run& r) {
    std::string s;
    for (const auto& l : r.lines) s += l + "\n";
    return s;
}
}  // namespace

TEST_CASE("qbert prune --explain: the threshold, the mask, and the pass's own mask checked", "[experiments][cli][learn]") {
    // l1-norm on the 4x8 demo layer: 32 weights, sparsity 0.5 -> position 15.5, 16 kept
    const Run l1 = learn_run({"prune", "--explain", "--sparsity", "0.5"});
    INFO(learn_all(l1));
    REQUIRE(l1.status == 0);
    REQUIRE_THAT(learn_all(l1), Contains("position 0.5 x (32 - 1) = 15.5, between #15"));
    REQUIRE_THAT(learn_all(l1), Contains("kept 16 of 32 weights: sparsity 0.5000"));
    REQUIRE_THAT(learn_all(l1), Contains("checked: the prune pass (passes/prune.cpp) made this same mask"));
    // the printed mask has 16 ones
    int ones = 0;
    bool in_mask = false;
    for (const auto& l : l1.lines) {
        if (l.rfind("mask M", 0) == 0) { in_mask = true; continue; }
        if (in_mask && l.rfind("W*M", 0) == 0) break;
        if (in_mask)
            for (char ch : l) ones += ch == '1';
    }
    REQUIRE(ones == 16);
    const Run rnd = learn_run({"prune", "--explain", "--method", "random", "--sparsity", "0.3", "--rows", "3", "--cols", "5", "--seed", "7"});
    INFO(learn_all(rnd));
    REQUIRE(rnd.status == 0);
    REQUIRE_THAT(learn_all(rnd), Contains("Rng(--seed 7).fork(\"prune\").fork(\"layer\")"));  // qbert prune's stream
    REQUIRE_THAT(learn_all(rnd), Contains("checked: the prune pass"));
    // bad input: exit 1 with the reason; prune without --explain still needs its options (exit 2)
    const Run bad = learn_run({"prune", "--explain", "--method", "magnitude"});
    REQUIRE(bad.status == 1);
    REQUIRE_THAT(learn_all(bad), Contains("--method must be l1-norm or random"));
    const Run missing = learn_run({"prune", "--checkpoint", "x.h5"});
    REQUIRE(missing.status == 2);
    REQUIRE_THAT(learn_all(missing), Contains("--config is required"));
    // flags of one mode are refused in the other, not ignored
    const Run stray = learn_run({"prune", "--checkpoint", "x.h5", "--config", "p.toml", "--out", "y.h5", "--sparsity", "0.9"});
    REQUIRE(stray.status == 2);
    REQUIRE_THAT(learn_all(stray), Contains("--sparsity goes with --explain"));
    const Run out_too = learn_run({"prune", "--explain", "--out", "y.h5"});
    REQUIRE(out_too.status == 2);
    REQUIRE_THAT(learn_all(out_too), Contains("--out is not used by --explain"));
}

TEST_CASE("qbert explain-step: one step op by op, its graph written, pruned weights stay pruned", "[experiments][cli][learn]") {
    qbert::test::TempDir dir;
    const std::string dot = dir.file("step.dot"), prune_toml = dir.file("prune.toml");
    {
        std::ofstream f(prune_toml);
        f << "[weight]\nsparsity = 0.5\nmethod = \"l1-norm\"\nscope = \"local\"\n[activation]\nsparsity = 0.0\n";
    }
    const Run r = learn_run({"explain-step", "--set", "model.num_hidden_layers=1", "--set", "model.hidden_size=32",
                             "--set", "model.intermediate_size=64", "--seq-len", "8", "--prune", prune_toml, "--out", dot});
    INFO(learn_all(r));
    REQUIRE(r.status == 0);
    const std::string out = learn_all(r);
    REQUIRE_THAT(out, Contains("linear f32[2,1,32] <- "));  // the last layer computes [CLS] only
    REQUIRE_THAT(out, Contains("linear_forward ("));
    REQUIRE_THAT(out, Contains("bert.encoder.layer.0.attention.self.query.weight"));
    REQUIRE_THAT(out, Contains("largest |gradient| of a pruned weight: 0 "));
    REQUIRE_THAT(out, Contains("largest |W*M| of a pruned weight after the step: 0 "));
    std::ifstream f(dot);
    REQUIRE(f.good());
    const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    REQUIRE_THAT(text, Contains("digraph qbert_step {"));
    REQUIRE_THAT(text, Contains("dropout (mul)"));
    // a checkpoint and a --set together are refused
    const Run bad = learn_run({"explain-step", "--checkpoint", dir.file("none.h5"), "--set", "model.hidden_size=32"});
    REQUIRE(bad.status == 1);
    REQUIRE_THAT(learn_all(bad), Contains("leave out --config and --set"));
}
