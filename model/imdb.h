// IMDb sentiment data: loading, tokenizing (with an on-disk cache), splitting and length-bucketed batches.
//
// Sources, tried in this order under a data root (default "data", which scripts/setup.sh links to
// ../shared/data): <root>/imdb/<split>.tsv.gz (label<TAB>text, a header line, split on \n only) and the
// official archive layout <root>/aclImdb/<split>/{neg,pos}/*.txt (or <root>/<split>/{neg,pos}). A malformed
// row throws naming the file and line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/rng.h"
#include "engine/tensor/tensor.h"
#include "model/tokenizer.h"

namespace qbert::model {

struct Review {
    int32_t label;  // 0 negative, 1 positive
    std::string text;
};

// Reads one split ("train" or "test") from `root`; throws naming what it looked for when nothing is there.
std::vector<Review> load_imdb(const std::string& root, const std::string& split);
// Reads a label<TAB>text file (.tsv or .tsv.gz) with a header line.
std::vector<Review> load_tsv(const std::string& path);

// Token ids of many reviews: ids[offsets[i] .. offsets[i+1]) is review i ([CLS] ... [SEP]).
struct Encoded {
    std::vector<int32_t> ids;
    std::vector<int64_t> offsets{0};
    std::vector<int32_t> labels;
    int64_t size() const { return static_cast<int64_t>(labels.size()); }
    int64_t length(int64_t i) const { return offsets[i + 1] - offsets[i]; }
    Encoded subset(const std::vector<int64_t>& rows) const;
};

// Tokenizes in parallel. With a non-empty cache_dir, the result is stored there under a key made of the
// vocab, the texts and max_len (any change misses the cache), written to a temp file and renamed.
Encoded encode_reviews(const std::vector<Review>& reviews, const Tokenizer& tok, int64_t max_len,
                       const std::string& cache_dir = "");

struct Batch {
    engine::Tensor input_ids;       // i32 [B, T], padded with [PAD]
    engine::Tensor attention_mask;  // i32 [B, T]
    engine::Tensor labels;          // i32 [B]
};

// Batches of `batch` rows. With bucketing, rows are shuffled (seeded), sorted by length inside windows of
// 50 batches, cut, and the batch order shuffled again: little padding, still random. Without: in order.
std::vector<std::vector<int64_t>> make_batches(const Encoded& data, int64_t batch, bool shuffle_and_bucket,
                                               engine::Rng& rng);
// pad_to > 0: pad to at least that many tokens (data-parallel ranks pad their share of a batch to the whole
// batch's length, so each rank computes what one process would for those rows).
Batch collate(const Encoded& data, const std::vector<int64_t>& rows, int32_t pad_id, int64_t pad_to = 0);

// Seeded split of row indices: (train, validation) with `val_fraction` in validation, class-balanced.
void split_train_val(const Encoded& data, double val_fraction, engine::Rng& rng, std::vector<int64_t>& train,
                     std::vector<int64_t>& val);

}  // namespace qbert::model
