// `qbert fake-quant` is the contract for exact-value checks: run the real binary on the golden cases computed
// by Mase's own quantizers (tests/golden/formats_golden.json) and compare its printed values bit for bit.
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

#include "support/helpers.h"
#include "util/subprocess.h"

using Catch::Matchers::Contains;

namespace {
struct Run {
    int status = 0;
    std::vector<std::string> lines;
};
Run fake_quant(const std::vector<std::string>& args, const std::string& in) {
    qbert::util::SpawnOptions o;
    o.argv = {QBERT_EXE, "fake-quant"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.pipe_stdin = true;
    o.stdin_data = in;
    o.stderr_to = qbert::util::SpawnOptions::Stderr::Merge;
    auto c = qbert::util::Child::spawn(o);
    Run r;
    while (c.read(-1, [&](const std::string& l) { r.lines.push_back(l); })) {}
    r.status = c.wait();
    return r;
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
