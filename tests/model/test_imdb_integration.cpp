// Integration: train a tiny BERT briefly on a real IMDb subset (data/ or ../shared/data) and require accuracy
// clearly above chance on held-out test reviews (release build). Under -O0 + ASan that would take many minutes,
// so the debug build runs the same pipeline (real files, real vocab, fit, save, load, evaluate) on a few hundred
// short reviews instead and checks only that it runs clean and gives sane numbers.
// Without the data the test skips itself (QBERT_SKIP): counted as skipped, not passed.
#include <cmath>
#include <filesystem>

#include "model/train.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;

TEST_CASE("tiny BERT learns real IMDb reviews (subset)", "[model][integration][data]") {
    const std::string vocab = shared_data_file("vocab/bert-base-uncased-vocab.txt");
    const std::string train_tsv = shared_data_file("imdb/train.tsv.gz");
    if (vocab.empty() || train_tsv.empty())
        QBERT_SKIP("no IMDb data (data/ or ../shared/data with imdb/train.tsv.gz and the vocab)");
    const std::string root = std::filesystem::path(train_tsv).parent_path().parent_path().string();
#ifndef NDEBUG
    {
        // debug build: the same pipeline, small. Rows alternate neg/pos, so prefixes are balanced.
        const auto tok = qbert::model::Tokenizer::from_file(vocab);
        auto reviews = qbert::model::load_imdb(root, "train");
        REQUIRE(reviews.size() == 25000);
        reviews.resize(160);
        const auto all = qbert::model::encode_reviews(reviews, tok, 64);
        std::vector<int64_t> tr(128), va(32);
        for (int64_t i = 0; i < 128; ++i) tr[i] = i;
        for (int64_t i = 0; i < 32; ++i) va[i] = 128 + i;
        auto cfg = qbert::model::BertConfig::preset("tiny");
        cfg.max_position_embeddings = 64;
        Rng rng(0);
        qbert::model::BertForSequenceClassification m(cfg, rng);
        qbert::model::FitOptions fo;
        fo.batch_size = 32;
        fo.lr = 1e-3;
        fo.pad_id = tok.pad_id();
        const auto hist = qbert::model::fit(m, all.subset(tr), all.subset(va), fo);
        REQUIRE(hist.size() == 1);
        CHECK(std::isfinite(hist[0].train_loss));
        CHECK(hist[0].val_accuracy >= 0.0);
        CHECK(hist[0].val_accuracy <= 1.0);
        TempDir dir;
        qbert::model::save_bert(dir.file("model.h5"), m, "{}");
        auto back = qbert::model::load_bert(dir.file("model.h5"));
        auto test = qbert::model::load_imdb(root, "test");
        REQUIRE(test.size() == 25000);
        test.resize(64);
        const auto enc = qbert::model::encode_reviews(test, tok, 64);
        const auto a = qbert::model::evaluate(m, enc, 32, tok.pad_id());
        const auto b = qbert::model::evaluate(*back, enc, 32, tok.pad_id());
        REQUIRE(a.n == 64);
        REQUIRE(a.accuracy == b.accuracy);  // the saved model evaluates identically
        return;
    }
#endif
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
