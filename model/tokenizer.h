// BERT uncased tokenizer: Hugging Face BertTokenizer's rules, in C++.
//
// Basic tokenizer, per review:
//   1. clean: drop U+0000, U+FFFD and every "C*" category character except \t \n \r (so the C1 controls
//      U+0085, U+0096, U+0097 in IMDb vanish, joining their neighbours); whitespace (\t \n \r, Zs) -> ' '
//   2. put spaces around CJK ideographs, so each becomes its own token
//   3. split on whitespace; per word: lowercase, NFD, drop combining marks (Mn): "Café" -> "cafe"
//   4. split punctuation (ASCII 33-47, 58-64, 91-96, 123-126 and Unicode P*) into single-char tokens
// WordPiece, per token: greedy longest match first, continuations prefixed "##"; a token of more than 100
// characters, or one with any part not in the vocab, becomes [UNK].
// encode(): [CLS] tokens... [SEP], truncated to max_len (tokens cut, the two specials kept).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qbert::model {

class Tokenizer {
public:
    // Loads a standard vocab.txt (one token per line, id = 0-based line). Throws naming the file.
    static Tokenizer from_file(const std::string& vocab_path);
    explicit Tokenizer(const std::vector<std::string>& vocab, std::string source = "vocab");

    std::vector<std::string> basic_tokenize(std::string_view text) const;
    std::vector<int32_t> wordpiece(std::string_view token) const;  // ids of one basic token
    std::vector<int32_t> tokenize_ids(std::string_view text) const;  // no specials
    // [CLS] ids [SEP], at most max_len ids in all
    std::vector<int32_t> encode(std::string_view text, int64_t max_len) const;
    std::string id_to_token(int32_t id) const { return vocab_.at(static_cast<size_t>(id)); }
    int32_t token_to_id(const std::string& token) const;  // -1 when absent
    int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
    uint64_t fingerprint() const { return fingerprint_; }  // hash of the vocab, for caches

    int32_t pad_id() const { return pad_; }
    int32_t unk_id() const { return unk_; }
    int32_t cls_id() const { return cls_; }
    int32_t sep_id() const { return sep_; }

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Map = std::unordered_map<std::string, int32_t, Hash, std::equal_to<>>;
    std::vector<std::string> vocab_;
    Map start_;  // pieces that may start a word
    Map cont_;   // "##x" entries, stored without the "##"
    int32_t pad_ = 0, unk_ = 100, cls_ = 101, sep_ = 102;
    uint64_t fingerprint_ = 0;
};

}  // namespace qbert::model
