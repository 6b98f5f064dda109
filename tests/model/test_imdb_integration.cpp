// Integration: train a tiny BERT briefly on a real IMDb subset (when ../shared/data is present) and require
// accuracy clearly above chance on held-out test reviews. Release builds only: under -O0 + ASan it would take
// many minutes, and the sanitized run already covers the same code on the unit tests.
#include <filesystem>

#include "model/train.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;

TEST_CASE("tiny BERT learns real IMDb reviews (subset)", "[model][integration][data]") {
#ifndef NDEBUG
    WARN("debug build: the IMDb integration test runs in the release build only");
    return;
#endif
    const std::string vocab = shared_data_file("vocab/bert-base-uncased-vocab.txt");
    const std::string train_tsv = shared_data_file("imdb/train.tsv.gz");
    if (vocab.empty() || train_tsv.empty()) {
        WARN("../shared/data is not present: skipping the IMDb integration test");
        return;
    }
    const std::string root = std::filesystem::path(train_tsv).parent_path().parent_path().string();
    const std::string out = (std::filesystem::temp_directory_path() / ("qbert_integ_" + std::to_string(::getpid()))).string();
    auto cfg = qbert::model::TrainConfig::from_toml_string(
        "[model]\npreset = \"tiny\"\n[data]\nmax_len = 128\ntrain_limit = 4000\n[train]\nepochs = 2\nlr = 1e-3\n",
        "integration config",
        {"data.root=\"" + root + "\"", "data.vocab=\"" + vocab + "\"",
         "data.cache_dir=\"" + out + "/cache\""});
    const auto hist = qbert::model::train(cfg, out);
    REQUIRE(hist.size() == 2);
    auto m = qbert::model::load_bert(out + "/model.h5");
    const auto tok = qbert::model::Tokenizer::from_file(vocab);
    auto test = qbert::model::load_imdb(root, "test");
    test.resize(2000);  // an even prefix: balanced (rows alternate neg/pos)
    const auto enc = qbert::model::encode_reviews(test, tok, 128);
    const auto r = qbert::model::evaluate(*m, enc, 128, tok.pad_id());
    INFO("validation accuracy per epoch: " << hist[0].val_accuracy << ", " << hist[1].val_accuracy
                                           << "; test accuracy on 2000: " << r.accuracy);
    CHECK(r.accuracy > 0.65);
    REQUIRE(hist[1].train_loss < hist[0].train_loss);
    std::filesystem::remove_all(out);
}
