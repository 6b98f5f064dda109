// bench_tokenizer: tokenizes the whole IMDb corpus (train + test, 50,000 reviews) with the cache off and
// prints one machine-readable line:  tokenize reviews=N tokens=N max_len=L threads=T seconds=S reviews_per_s=R
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "engine/engine.h"
#include "model/imdb.h"

using namespace qbert;

int main(int argc, char** argv) {
    CLI::App app{"bench_tokenizer: IMDb tokenization speed (no cache)"};
    std::string data = "data", vocab = "data/vocab/bert-base-uncased-vocab.txt";
    int64_t max_len = 512;
    int threads = 2;
    app.add_option("--data", data)->capture_default_str();
    app.add_option("--vocab", vocab)->capture_default_str();
    app.add_option("--max-len", max_len)->capture_default_str();
    app.add_option("--threads", threads)->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        engine::set_num_threads(threads);
        const model::Tokenizer tok = model::Tokenizer::from_file(vocab);
        std::vector<model::Review> all = model::load_imdb(data, "train");
        std::vector<model::Review> test = model::load_imdb(data, "test");
        all.insert(all.end(), test.begin(), test.end());
        const auto t0 = std::chrono::steady_clock::now();
        const model::Encoded enc = model::encode_reviews(all, tok, max_len, "");
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("tokenize reviews=%ld tokens=%ld max_len=%ld threads=%d seconds=%.2f reviews_per_s=%.0f\n",
                    long(enc.size()), long(enc.ids.size()), long(max_len), threads, s, static_cast<double>(enc.size()) / s);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
