// The config layer (model/config_fields.h): TrainConfig read from TOML with --set overrides, written to JSON and
// read back from a checkpoint's meta, every field through the one table; errors name the source and section.key.
#include <filesystem>
#include <fstream>

#include "model/config_fields.h"
#include "model/train.h"
#include "support/helpers.h"
#include "util/csv.h"

using namespace qbert::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using qbert::model::BertConfig;
using qbert::model::ConfigFields;
using qbert::model::Range;
using qbert::model::TrainConfig;
using json = nlohmann::json;

namespace {
TrainConfig parse(const std::string& text, const std::vector<std::string>& sets = {}) {
    return TrainConfig::from_toml_string(text, "t.toml", sets);
}

// A TOML setting every TrainConfig field to something other than its default.
const char* kEveryField = R"([model]
preset = "mini"
vocab_size = 1000
hidden_size = 64
num_hidden_layers = 3
num_attention_heads = 4
intermediate_size = 96
max_position_embeddings = 256
type_vocab_size = 1
hidden_dropout_prob = 0.2
attention_probs_dropout_prob = 0.05
layer_norm_eps = 1e-6
initializer_range = 0.05
num_labels = 3

[data]
root = "imdb, copy"
vocab = "v \"quoted\".txt"
max_len = 128
val_fraction = 0.1
train_limit = 100
test_limit = 50
cache_dir = ""

[train]
batch_size = 8
eval_batch_size = 16
epochs = 3
lr = 5e-4
warmup = 0.2
weight_decay = 0.0
grad_clip = 2.5
seed = 7
threads = 1
matmul_precision = "bf16"
)";

// Every field of a and b, compared through the table (so a field added later is compared too).
void require_equal(const TrainConfig& a, const TrainConfig& b) {
    for (const auto& f : TrainConfig::fields().table().fields) {
        CAPTURE(f.name());
        REQUIRE(f.get(&a) == f.get(&b));
    }
}
}  // namespace

TEST_CASE("config: every shipped TOML config parses", "[model][config]") {
    for (const char* name : {"base.toml", "nas-quick.toml", "nas-full.toml"}) {
        CAPTURE(name);
        const TrainConfig c = TrainConfig::from_toml(std::string(QBERT_SOURCE_ROOT) + "/configs/" + name);
        REQUIRE(c.preset == "tiny");
        REQUIRE(c.model.hidden_size == 128);
    }
    const TrainConfig base = TrainConfig::from_toml(std::string(QBERT_SOURCE_ROOT) + "/configs/base.toml");
    REQUIRE(base.max_len == 512);
    REQUIRE(base.epochs == 2);
    REQUIRE(base.lr == 1e-3);
    REQUIRE(base.matmul_precision == "f32");
}

TEST_CASE("config: every TrainConfig field survives to_json -> from_checkpoint_meta", "[model][config]") {
    const TrainConfig c = parse(kEveryField);
    const TrainConfig defaults;
    for (const auto& f : TrainConfig::fields().table().fields) {  // the test covers every field of the table
        CAPTURE(f.name());
        if (f.in_toml) REQUIRE(f.get(&c) != f.get(&defaults));
    }
    REQUIRE(c.model.hidden_size == 64);  // the preset first, then the fields over it
    REQUIRE(c.data_root == "imdb, copy");

    const TrainConfig r = TrainConfig::from_checkpoint_meta(qbert::model::checkpoint_meta(c), "ckpt");
    require_equal(r, c);
    REQUIRE(r.model.num_labels == 3);
    REQUIRE(r.cache_dir.empty());
    REQUIRE(r.matmul_precision == "bf16");
    REQUIRE(r.to_json() == c.to_json());
    require_equal(TrainConfig::from_json(c.to_json(), "json"), c);
}

TEST_CASE("config: a checkpoint meta written before the field table still loads, and fully", "[model][config]") {
    // checkpoint_meta() of the code before issue 12 (no data.cache_dir), on a mini model with 3 labels
    const std::string old = R"({"max_len":128,"train_config":{"data":{"max_len":128,"root":"imdb","test_limit":50,)"
        R"("train_limit":100,"val_fraction":0.1,"vocab":"v.txt"},"model":{"attention_probs_dropout_prob":0.1,)"
        R"("hidden_act":"gelu","hidden_dropout_prob":0.2,"hidden_size":256,"initializer_range":0.02,)"
        R"("intermediate_size":1024,"layer_norm_eps":1e-12,"max_position_embeddings":512,"model_type":"bert",)"
        R"("num_attention_heads":4,"num_hidden_layers":4,"num_labels":3,"type_vocab_size":2,"vocab_size":30522},)"
        R"("preset":"mini","train":{"batch_size":8,"epochs":3,"eval_batch_size":16,"grad_clip":2.0,"lr":0.0005,)"
        R"("matmul_precision":"bf16","seed":7,"threads":1,"warmup":0.2,"weight_decay":0.0}},"vocab":"v.txt"})";
    const TrainConfig c = TrainConfig::from_checkpoint_meta(old, "checkpoint 'old.h5'");
    // the seven the reader used to drop: model, train_limit, test_limit, epochs, warmup, matmul_precision
    // (and cache_dir, which was not written: it keeps its default)
    REQUIRE(c.model.num_hidden_layers == 4);
    REQUIRE(c.model.num_labels == 3);
    REQUIRE(c.model.hidden_dropout_prob == 0.2);
    REQUIRE(c.train_limit == 100);
    REQUIRE(c.test_limit == 50);
    REQUIRE(c.epochs == 3);
    REQUIRE(c.warmup == 0.2);
    REQUIRE(c.matmul_precision == "bf16");
    REQUIRE(c.cache_dir == TrainConfig{}.cache_dir);
    // and the ones it kept
    REQUIRE(c.preset == "mini");
    REQUIRE(c.data_root == "imdb");
    REQUIRE(c.vocab == "v.txt");
    REQUIRE(c.max_len == 128);
    REQUIRE(c.val_fraction == 0.1);
    REQUIRE(c.batch_size == 8);
    REQUIRE(c.eval_batch_size == 16);
    REQUIRE(c.lr == 5e-4);
    REQUIRE(c.weight_decay == 0.0);
    REQUIRE(c.grad_clip == 2.0);
    REQUIRE(c.seed == 7);
    REQUIRE(c.threads == 1);
    // the JSON written now is the old one plus data.cache_dir
    json now = json::parse(c.to_json());
    REQUIRE(now["data"]["cache_dir"] == TrainConfig{}.cache_dir);
    now["data"].erase("cache_dir");
    REQUIRE(now == json::parse(old)["train_config"]);
}

TEST_CASE("config: a meta without train_config gives defaults with its max_len and vocab", "[model][config]") {
    const TrainConfig c = TrainConfig::from_checkpoint_meta(R"({"max_len": 64, "vocab": "x.txt", "seed": 3})", "ckpt");
    REQUIRE(c.max_len == 64);
    REQUIRE(c.vocab == "x.txt");
    REQUIRE(c.epochs == TrainConfig{}.epochs);
    REQUIRE(TrainConfig::from_checkpoint_meta("", "ckpt").max_len == TrainConfig{}.max_len);
    REQUIRE_THROWS_WITH(TrainConfig::from_checkpoint_meta("{nope", "checkpoint 'c.h5'"),
                        Contains("checkpoint 'c.h5'") && Contains("JSON"));
    REQUIRE_THROWS_WITH(TrainConfig::from_checkpoint_meta(R"({"train_config": {"train": {"epoch": 2}}})", "checkpoint 'c.h5'"),
                        Contains("checkpoint 'c.h5'") && Contains("unknown key 'train.epoch'") && Contains("epochs"));
    REQUIRE_THROWS_WITH(TrainConfig::from_checkpoint_meta(R"({"train_config": {"train": {"lr": "fast"}}})", "checkpoint 'c.h5'"),
                        Contains("checkpoint 'c.h5'") && Contains("train.lr must be a number") && Contains("\"fast\""));
}

TEST_CASE("config: unknown keys and sections list the valid ones", "[model][config]") {
    REQUIRE_THROWS_WITH(parse("[train]\nepoch = 2\n"),
                        StartsWith("t.toml:2: unknown key 'train.epoch'; valid keys in [train]: batch_size, "
                                   "eval_batch_size, epochs, lr,"));
    REQUIRE_THROWS_WITH(parse("[trian]\nepochs = 2\n"),
                        Contains("unknown key 'trian'") && Contains("valid keys: [model], [data], [train]"));
    REQUIRE_THROWS_WITH(parse("[model]\nhidden_sise = 64\n"),
                        Contains("unknown key 'model.hidden_sise'") && Contains("preset, vocab_size, hidden_size"));
    // JSON-only keys are not TOML keys
    REQUIRE_THROWS_WITH(parse("[model]\nhidden_act = \"gelu\"\n"), Contains("unknown key 'model.hidden_act'"));
    REQUIRE_THROWS_WITH(parse("train = 3\n"), Contains("train must be a table ([train])"));
    REQUIRE_THROWS_WITH(parse("epochs = 3\n"), Contains("unknown key 'epochs'"));
}

TEST_CASE("config: wrong types name the file, line and section.key", "[model][config]") {
    REQUIRE_THROWS_WITH(parse("[train]\nepochs = \"two\"\n"),
                        Contains("t.toml:2: train.epochs must be an integer, but got \"two\""));
    REQUIRE_THROWS_WITH(parse("[train]\nepochs = true\n"), Contains("train.epochs must be an integer"));
    REQUIRE_THROWS_WITH(parse("[train]\nepochs = 2.0\n"), Contains("train.epochs must be an integer"));
    REQUIRE_THROWS_WITH(parse("[train]\nlr = \"x\"\n"), Contains("train.lr must be a number"));
    REQUIRE_THROWS_WITH(parse("[train]\nseed = -1\n"), Contains("train.seed must be a non-negative integer"));
    REQUIRE_THROWS_WITH(parse("[train]\nthreads = 99999999999\n"), Contains("train.threads must be an integer in ["));
    REQUIRE_THROWS_WITH(parse("[data]\nroot = 3\n"), Contains("data.root must be a string"));
    REQUIRE_THROWS_WITH(parse("[data]\nroot = [1, 2]\n"), Contains("data.root must be a string, but got a TOML array"));
    REQUIRE_THROWS_WITH(parse("[model]\nhidden_size = 1.5\n"), Contains("model.hidden_size must be an integer"));
    REQUIRE(parse("[model]\nlayer_norm_eps = 1\n").model.layer_norm_eps == 1.0);  // an integer where a number goes
    REQUIRE_THROWS_WITH(parse("[train\n"), Contains("t.toml:1"));
}

TEST_CASE("config: out-of-range values say the range", "[model][config]") {
    REQUIRE_THROWS_WITH(parse("[train]\nbatch_size = 4\nlr = 2\n"), Contains("t.toml:3: train.lr must be in (0, 1), but got 2"));
    REQUIRE_THROWS_WITH(parse("[train]\nlr = 1\n"), Contains("train.lr must be in (0, 1)"));
    REQUIRE_THROWS_WITH(parse("[train]\nwarmup = 1.0\n"), Contains("train.warmup must be in [0, 1), but got 1"));
    REQUIRE_THROWS_WITH(parse("[train]\nepochs = 0\n"), Contains("train.epochs must be >= 1, but got 0"));
    REQUIRE_THROWS_WITH(parse("[train]\ngrad_clip = 0\n"), Contains("train.grad_clip must be > 0"));
    REQUIRE_THROWS_WITH(parse("[train]\nlr = nan\n"), Contains("train.lr must be in (0, 1), but got nan"));
    REQUIRE_THROWS_WITH(parse("[data]\nval_fraction = 0.5\n"), Contains("data.val_fraction must be in (0, 0.5)"));
    REQUIRE_THROWS_WITH(parse("[data]\nmax_len = 4\n"), Contains("data.max_len must be >= 8"));
    REQUIRE_THROWS_WITH(parse("[train]\nmatmul_precision = \"fp16\"\n"),
                        Contains("train.matmul_precision must be one of f32, bf16, but got \"fp16\""));
    REQUIRE_THROWS_WITH(parse("[model]\npreset = \"huge\"\n"), Contains("model.preset must be one of tiny, mini, small"));
    REQUIRE_THROWS_WITH(parse("[model]\nhidden_dropout_prob = 1.0\n"), Contains("model.hidden_dropout_prob must be in [0, 1)"));
    // checks across fields, after everything is read
    REQUIRE_THROWS_WITH(parse("[data]\nmax_len = 600\n"),
                        Contains("t.toml") && Contains("data.max_len <= model.max_position_embeddings"));
    REQUIRE_THROWS_WITH(parse("[model]\nhidden_size = 100\nnum_attention_heads = 3\n"),
                        Contains("t.toml [model]") && Contains("num_attention_heads"));
}

TEST_CASE("config: --set overrides the file, and its errors name the --set", "[model][config]") {
    const std::string file = "[model]\npreset = \"tiny\"\nhidden_size = 64\nnum_attention_heads = 4\n[train]\nlr = 1e-3\n";
    const TrainConfig c = parse(file, {"train.lr=5e-4", "model.preset=mini", "data.root=/tmp/my data", "train.seed=9",
                                       "train.lr = 2e-4", "train.matmul_precision=bf16", "data.vocab=\"q.txt\""});
    REQUIRE(c.lr == 2e-4);  // the last --set of a key wins
    REQUIRE(c.preset == "mini");
    REQUIRE(c.model.num_hidden_layers == 4);  // from the preset the --set chose...
    REQUIRE(c.model.hidden_size == 64);       // ...under the file's own model fields
    REQUIRE(c.data_root == "/tmp/my data");   // a bare word is a string
    REQUIRE(c.vocab == "q.txt");
    REQUIRE(c.seed == 9);
    REQUIRE(c.matmul_precision == "bf16");
    REQUIRE(parse("", {"data.root=2024"}).data_root == "2024");  // a string field takes the text as it is

    REQUIRE_THROWS_WITH(parse(file, {"train.epochs=two"}),
                        StartsWith("--set 'train.epochs=two': train.epochs must be an integer, but got \"two\""));
    REQUIRE_THROWS_WITH(parse(file, {"train.lr=2"}), StartsWith("--set 'train.lr=2': train.lr must be in (0, 1)"));
    REQUIRE_THROWS_WITH(parse(file, {"train.epoch=3"}),
                        StartsWith("--set 'train.epoch=3': unknown key 'train.epoch'; valid keys in [train]: batch_size"));
    REQUIRE_THROWS_WITH(parse(file, {"trian.lr=3"}),
                        Contains("unknown key 'trian.lr'") && Contains("valid keys: [model], [data], [train]"));
    REQUIRE_THROWS_WITH(parse(file, {"lr"}), Contains("--set 'lr'") && Contains("section.key=value"));
    REQUIRE_THROWS_WITH(parse(file, {"model.preset=huge"}), Contains("--set 'model.preset=huge'") && Contains("tiny"));
}

TEST_CASE("config: help lists every TOML key with its default", "[model][config]") {
    const std::string h = TrainConfig::fields().help();
    REQUIRE_THAT(h, Contains("train.lr = 0.001") && Contains("in (0, 1)") && Contains("model.preset = \"tiny\""));
    for (const auto& f : TrainConfig::fields().table().fields) {
        CAPTURE(f.name());
        REQUIRE((h.find(f.name() + " = ") != std::string::npos) == f.in_toml);
    }
}

TEST_CASE("config: BertConfig JSON keeps Hugging Face's shape", "[model][config][bert]") {
    const json j = json::parse(BertConfig::preset("small").to_json());
    REQUIRE(j["hidden_act"] == "gelu");
    REQUIRE(j["model_type"] == "bert");
    REQUIRE(j["hidden_size"] == 512);
    REQUIRE(BertConfig::from_json(R"({"hidden_size": 64, "num_attention_heads": 4, "architectures": ["BertModel"],)"
                                  R"( "id2label": {"0": "a", "1": "b", "2": "c"}, "model_type": "bert"})")
                .num_labels == 3);
    REQUIRE_THROWS_WITH(BertConfig::from_json(R"({"hidden_act": "relu"})", "cfg.json"),
                        Contains("cfg.json: hidden_act must be gelu, but got \"relu\""));
    REQUIRE_THROWS_WITH(BertConfig::from_json(R"({"hidden_size": 0})", "cfg.json"),
                        Contains("cfg.json") && Contains("hidden_size must be > 0, but got 0"));
    BertConfig bad;
    bad.intermediate_size = -1;
    REQUIRE_THROWS_WITH(bad.validate(), Contains("BertConfig: intermediate_size must be > 0"));
}

namespace {
enum class Color { Red, Green };
struct Inner {
    double x = 0.5;
    Color color = Color::Red;
};
struct Toy {
    std::optional<int> width;
    bool flag = false;
    uint64_t big = 0;
    Inner inner;
};
const ConfigFields<Toy>& toy_fields() {
    static const ConfigFields<Toy> f = [] {
        ConfigFields<Inner> in;
        in.add("", "x", &Inner::x, "a fraction", Range::closed(0, 1));
        in.add_enum("", "color", &Inner::color, {{"red", Color::Red}, {"green", Color::Green}}, "a color");
        ConfigFields<Toy> f;
        f.add("", "width", &Toy::width, "optional bits").required = true;
        f.add("", "flag", &Toy::flag, "a switch");
        f.add("", "big", &Toy::big, "an unsigned 64-bit value");
        f.add_nested("inner", &Toy::inner, in);
        return f;
    }();
    return f;
}
}  // namespace

TEST_CASE("config fields: optional, bool, uint64, enum and nested members", "[model][config]") {
    Toy t;
    toy_fields().read_toml_text(t, "width = 6\nflag = true\n[inner]\nx = 1\ncolor = \"green\"\n", "toy.toml",
                                {"big=9223372036854775807"});
    REQUIRE(t.width == 6);
    REQUIRE(t.flag);
    REQUIRE(t.big == 9223372036854775807ull);  // TOML stops at 2^63 - 1; JSON goes on (below)
    t.big = 18446744073709551615ull;
    REQUIRE(t.inner.x == 1.0);
    REQUIRE(t.inner.color == Color::Green);

    const nlohmann::ordered_json j = toy_fields().to_json(t);
    REQUIRE(j.dump() == R"({"width":6,"flag":true,"big":18446744073709551615,"inner":{"x":1.0,"color":"green"}})");
    Toy back;
    toy_fields().read_json(back, json::parse(j.dump()), "toy.json");
    REQUIRE(back.width == 6);
    REQUIRE(back.big == t.big);
    REQUIRE(back.inner.color == Color::Green);
    toy_fields().read_json(back, json::parse(R"({"width": null})"), "toy.json");  // null unsets an optional
    REQUIRE_FALSE(back.width.has_value());
    REQUIRE(back.flag);  // absent keys keep the value

    Toy u;
    REQUIRE_THROWS_WITH(toy_fields().read_toml_text(u, "flag = 1\n", "toy.toml"), Contains("missing required key 'width'"));
    REQUIRE_THROWS_WITH(toy_fields().read_toml_text(u, "width = 1\nflag = 1\n", "toy.toml"),
                        Contains("toy.toml:2: flag must be true or false, but got 1"));
    REQUIRE_THROWS_WITH(toy_fields().read_toml_text(u, "width = 1\n[inner]\ncolor = \"blue\"\n", "toy.toml"),
                        Contains("inner.color must be one of red, green"));
    REQUIRE_THROWS_WITH(toy_fields().read_toml_text(u, "width = 1\n[inner]\nx = 2\n", "toy.toml"),
                        Contains("inner.x must be in [0, 1], but got 2"));
    REQUIRE_THROWS_WITH(toy_fields().read_json(u, json::parse(R"({"inner": {"y": 1}})"), "toy.json"),
                        Contains("toy.json: unknown key 'inner.y'; valid keys in [inner]: x, color"));
    REQUIRE_THROWS_WITH(toy_fields().read_json(u, json::parse(R"({"big": -1})"), "toy.json"),
                        Contains("big must be a non-negative integer"));
    REQUIRE(toy_fields().valid_keys("") == "width, flag, big, [inner]");
    REQUIRE(Range::at_least(1).describe() == ">= 1");
    REQUIRE(Range::closed_open(0, 0.5).describe() == "in [0, 0.5)");
}

TEST_CASE("metrics.csv is RFC 4180 CSV with a header", "[model][config][csv]") {
    TempDir dir;
    const std::string path = dir.file("metrics.csv");
    qbert::model::write_metrics_csv(path, {{1, 0.693147, 0.5, 0.52, 10.5, 123.4}, {2, 0.5, 0.75, 0.8, 9.0, 140.0}});
    std::ifstream in(path);
    std::vector<std::string> row;
    REQUIRE(qbert::util::read_csv_row(in, row));
    REQUIRE(row == std::vector<std::string>{"epoch", "train_loss", "train_accuracy", "val_accuracy", "seconds", "seq_per_s"});
    REQUIRE(qbert::util::read_csv_row(in, row));
    REQUIRE(row == std::vector<std::string>{"1", "0.693147", "0.5", "0.52", "10.5", "123.4"});
    REQUIRE(qbert::util::read_csv_row(in, row));
    REQUIRE(row[0] == "2");
    REQUIRE_FALSE(qbert::util::read_csv_row(in, row));
}
