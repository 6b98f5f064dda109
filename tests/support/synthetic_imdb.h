// A small learnable "IMDb" for tests of the objectives and labs: a vocab of a few words, positive reviews say
// good things and negative ones bad things, and a TrainConfig for a tiny BERT on it.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "engine/core/rng.h"
#include "model/train.h"
#include "support/helpers.h"

namespace qbert::test {

// A vocab of a few words and a learnable "IMDb": positive reviews say good things, negative ones bad things.
inline qbert::model::TrainConfig synthetic_data(const TempDir& dir) {
    const std::vector<std::string> words{"good", "great", "fine", "bad", "awful", "poor", "the", "movie", "was", "plot"};
    {
        std::ofstream v(dir.file("vocab.txt"));
        for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) v << s << "\n";
        for (const auto& w : words) v << w << "\n";
    }
    qbert::engine::Rng rng(5);
    for (const char* split : {"train", "test"}) {
        std::ofstream f(dir.file(std::string(split) + ".tsv"));
        f << "label\ttext\n";
        for (int i = 0; i < 160; ++i) {
            const int label = i % 2;
            f << label << "\tthe movie was";
            for (int k = 0; k < 6; ++k) f << " " << words[rng.below(3) + (label ? 0 : 3)] << " " << words[6 + rng.below(4)];
            f << "\n";
        }
    }
    return qbert::model::TrainConfig::from_toml_string(
        "[model]\npreset = \"tiny\"\nvocab_size = 16\nmax_position_embeddings = 64\n"
        "[data]\nmax_len = 24\nval_fraction = 0.25\ntest_limit = 40\n"
        "[train]\nbatch_size = 8\nepochs = 1\nlr = 1e-3\nwarmup = 0.0\n",
        "nas test config",
        {"data.root=\"" + dir.file("") + "\"", "data.vocab=\"" + dir.file("vocab.txt") + "\"",
         "data.cache_dir=\"" + dir.file("cache") + "\""});
}

}  // namespace qbert::test
