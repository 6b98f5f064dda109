#include <filesystem>
#include <fstream>

#include "model/imdb.h"
#include "model/tokenizer.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using qbert::model::Tokenizer;
using Catch::Matchers::Contains;
using Strings = std::vector<std::string>;

namespace {
Tokenizer small_vocab() {
    return Tokenizer({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "cafe", "naive", "the", "movie", "!",
                      ",", "<", ">", "/", "br", "a", "##b", "中", "文", "good"});
}
std::string real_vocab_path() { return shared_data_file("vocab/bert-base-uncased-vocab.txt"); }
}  // namespace

TEST_CASE("basic tokenizer: lowercase, accents, punctuation, controls, CJK, whitespace", "[model][tokenizer]") {
    const Tokenizer t = small_vocab();
    REQUIRE(t.basic_tokenize("Hello, World!") == Strings{"hello", ",", "world", "!"});
    REQUIRE(t.basic_tokenize("Café NAÏVE") == Strings{"cafe", "naive"});
    REQUIRE(t.basic_tokenize("e\xCC\x81t\xC3\xA9") == Strings{"ete"});  // combining acute, then precomposed
    // C1 controls (U+0085, U+0096, U+0097) are dropped, joining their neighbours, as in HF
    REQUIRE(t.basic_tokenize("a\xC2\x85" "b c\xC2\x96" "d e\xC2\x97" "f") == Strings{"ab", "cd", "ef"});
    REQUIRE(t.basic_tokenize("line1\tline2\nline3\r\xE2\x80\x83x") == Strings{"line1", "line2", "line3", "x"});  // U+2003 is Zs
    REQUIRE(t.basic_tokenize("great<br /><br />movie") == Strings{"great", "<", "br", "/", ">", "<", "br", "/", ">", "movie"});
    REQUIRE(t.basic_tokenize("中文abc") == Strings{"中", "文", "abc"});
    REQUIRE(t.basic_tokenize("\xE2\x80\x9Cquoted\xE2\x80\x9D") == Strings{"\xE2\x80\x9C", "quoted", "\xE2\x80\x9D"});  // Pi/Pf
    REQUIRE(t.basic_tokenize("soft\xC2\xAD" "hyphen") == Strings{"softhyphen"});  // U+00AD is Cf: dropped
    REQUIRE(t.basic_tokenize("bad\xFF" "byte") == Strings{"badbyte"});               // invalid UTF-8 -> U+FFFD -> dropped
    REQUIRE(t.basic_tokenize("   ").empty());
}

TEST_CASE("wordpiece: longest match first, ## continuations, UNK rules", "[model][tokenizer]") {
    const Tokenizer t = small_vocab();
    REQUIRE(t.wordpiece("unaffable") == std::vector<int32_t>{4, 5, 6});
    REQUIRE(t.wordpiece("ab") == std::vector<int32_t>{17, 18});
    REQUIRE(t.wordpiece("abx") == std::vector<int32_t>{t.unk_id()});  // any unmatched part -> the whole word is UNK
    REQUIRE(t.wordpiece(std::string(101, 'a')) == std::vector<int32_t>{t.unk_id()});  // over 100 chars
    REQUIRE(t.encode("The movie, good!", 16) == std::vector<int32_t>{2, 9, 10, 12, 21, 11, 3});
    REQUIRE(t.encode("The movie, good!", 4) == std::vector<int32_t>{2, 9, 10, 3});  // truncation keeps [SEP]
    REQUIRE_THROWS_WITH(t.encode("x", 1), Contains("max_len"));
    REQUIRE_THROWS_WITH(Tokenizer({"a", "b"}), Contains("[PAD]"));
    REQUIRE_THROWS_WITH(Tokenizer::from_file("/nonexistent/vocab.txt"), Contains("/nonexistent/vocab.txt"));
}

TEST_CASE("real bert-base-uncased vocab: ids of known tokens", "[model][tokenizer][data]") {
    const std::string path = real_vocab_path();
    if (path.empty()) QBERT_SKIP("no data/vocab/bert-base-uncased-vocab.txt (data/ or ../shared/data): the real-vocab checks need it");
    const Tokenizer t = Tokenizer::from_file(path);
    REQUIRE(t.vocab_size() == 30522);
    REQUIRE(t.cls_id() == 101);
    REQUIRE(t.sep_id() == 102);
    REQUIRE(t.unk_id() == 100);
    REQUIRE(t.pad_id() == 0);
    const auto ids = t.encode("Hello, world!", 32);
    REQUIRE(ids.size() == 6);
    REQUIRE(t.id_to_token(ids[1]) == "hello");
    REQUIRE(t.id_to_token(ids[2]) == ",");
    REQUIRE(t.id_to_token(ids[3]) == "world");
    REQUIRE(t.id_to_token(ids[4]) == "!");
    // an emoji is not in the vocab: [UNK]; CJK characters are single tokens
    REQUIRE(t.tokenize_ids("\xF0\x9F\x98\x80") == std::vector<int32_t>{100});
    const auto cjk = t.tokenize_ids("中文");
    REQUIRE(cjk.size() == 2);
    REQUIRE(t.id_to_token(cjk[0]) == "中");
    // a word split into pieces
    const auto pieces = t.tokenize_ids("unaffable");
    REQUIRE(pieces.size() > 1);
    REQUIRE(t.id_to_token(pieces[1]).rfind("##", 0) == 0);
}

TEST_CASE("IMDb TSV errors name the file and line; batching pads and buckets", "[model][imdb]") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("qbert_imdb_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto write = [&](const std::string& name, const std::string& body) {
        std::ofstream(dir / name) << body;
        return (dir / name).string();
    };
    REQUIRE_THROWS_WITH(qbert::model::load_tsv(write("bad_label.tsv", "label\ttext\n1\tok\n7\tbad\n")),
                        Contains("bad_label.tsv:3") && Contains("label must be 0 or 1"));
    REQUIRE_THROWS_WITH(qbert::model::load_tsv(write("no_tab.tsv", "label\ttext\n1 no tab here\n")),
                        Contains("no_tab.tsv:2") && Contains("TAB"));
    REQUIRE_THROWS_WITH(qbert::model::load_tsv(write("no_header.tsv", "1\tok\n")), Contains("no_header.tsv:1") && Contains("header"));
    REQUIRE_THROWS_WITH(qbert::model::load_imdb((dir / "nowhere").string(), "train"), Contains("nowhere") && Contains("--data"));
    // the aclImdb layout
    fs::create_directories(dir / "aclImdb" / "train" / "pos");
    fs::create_directories(dir / "aclImdb" / "train" / "neg");
    std::ofstream(dir / "aclImdb" / "train" / "pos" / "0_9.txt") << "A good movie!";
    std::ofstream(dir / "aclImdb" / "train" / "neg" / "0_2.txt") << "The\tmovie, un good";
    const auto reviews = qbert::model::load_imdb(dir.string(), "train");
    REQUIRE(reviews.size() == 2);
    REQUIRE(reviews[0].label == 0);
    REQUIRE(reviews[0].text == "The movie, un good");
    const Tokenizer t = small_vocab();
    const auto enc = qbert::model::encode_reviews(reviews, t, 16, (dir / "cache").string());
    const auto again = qbert::model::encode_reviews(reviews, t, 16, (dir / "cache").string());  // from the cache
    REQUIRE(enc.ids == again.ids);
    REQUIRE(std::distance(fs::directory_iterator(dir / "cache"), fs::directory_iterator{}) == 1);
    const auto other = qbert::model::encode_reviews(reviews, t, 4, (dir / "cache").string());  // new max_len: new key
    REQUIRE(other.length(0) == 4);
    Rng rng(0);
    const auto batches = qbert::model::make_batches(enc, 2, true, rng);
    REQUIRE(batches.size() == 1);
    const auto b = qbert::model::collate(enc, batches[0], t.pad_id());
    REQUIRE(b.input_ids.shape() == Shape{2, std::max(enc.length(0), enc.length(1))});
    const auto am = b.attention_mask.to_vector_f64();
    REQUIRE(std::count(am.begin(), am.end(), 1.0) == enc.length(0) + enc.length(1));
    fs::remove_all(dir);
}
