#include "model/tokenizer.h"

#include <utf8proc.h>

#include <fstream>

#include "engine/core/error.h"

namespace qbert::model {

using engine::Error;
using engine::detail::concat;

namespace {
bool is_whitespace(int32_t c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return true;
    return utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

bool is_control(int32_t c) {  // HF: any "C*" category, but \t \n \r count as whitespace
    if (c == '\t' || c == '\n' || c == '\r') return false;
    switch (utf8proc_category(c)) {
        case UTF8PROC_CATEGORY_CC:
        case UTF8PROC_CATEGORY_CF:
        case UTF8PROC_CATEGORY_CS:
        case UTF8PROC_CATEGORY_CO:
        case UTF8PROC_CATEGORY_CN: return true;
        default: return false;
    }
}

bool is_punctuation(int32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
    switch (utf8proc_category(c)) {
        case UTF8PROC_CATEGORY_PC:
        case UTF8PROC_CATEGORY_PD:
        case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PE:
        case UTF8PROC_CATEGORY_PI:
        case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO: return true;
        default: return false;
    }
}

bool is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Decodes UTF-8; an invalid byte becomes U+FFFD (which cleaning then drops, as HF drops it).
std::vector<int32_t> decode(std::string_view s) {
    std::vector<int32_t> out;
    out.reserve(s.size());
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
    while (left > 0) {
        const unsigned char b = *p;
        if (b < 0x80) {  // ASCII fast path
            out.push_back(b);
            ++p, --left;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {
            out.push_back(0xFFFD);
            n = 1;
        } else {
            out.push_back(cp);
        }
        p += n, left -= n;
    }
    return out;
}

void append_utf8(std::string& s, int32_t cp) {
    if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
        return;
    }
    utf8proc_uint8_t buf[4];
    const utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
    s.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

// lowercase, then NFD and drop Mn (accents), appended to `out`
void lower_strip_accents(int32_t c, std::vector<int32_t>& out) {
    if (c < 0x80) {
        out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
        return;
    }
    const int32_t lower = utf8proc_tolower(c);
    utf8proc_int32_t buf[8];
    int last_boundclass = 0;
    const utf8proc_ssize_t n =
        utf8proc_decompose_char(lower, buf, 8, static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE), &last_boundclass);
    if (n <= 0 || n > 8) {
        out.push_back(lower);
        return;
    }
    for (utf8proc_ssize_t i = 0; i < n; ++i)
        if (utf8proc_category(buf[i]) != UTF8PROC_CATEGORY_MN) out.push_back(buf[i]);
}

uint64_t fnv1a(const std::vector<std::string>& v) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const auto& s : v) {
        for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
        h = (h ^ '\n') * 0x100000001b3ULL;
    }
    return h;
}
}  // namespace

Tokenizer Tokenizer::from_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(concat("vocab '", path, "': cannot open (missing file?)"));
    std::vector<std::string> vocab;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        vocab.push_back(line);
    }
    return Tokenizer(vocab, "vocab '" + path + "'");
}

Tokenizer::Tokenizer(const std::vector<std::string>& vocab, std::string source) : vocab_(vocab) {
    if (vocab_.empty()) throw Error(concat(source, ": empty vocabulary"));
    for (size_t i = 0; i < vocab_.size(); ++i) {
        const std::string& t = vocab_[i];
        const int32_t id = static_cast<int32_t>(i);
        if (t.size() > 2 && t[0] == '#' && t[1] == '#') cont_.try_emplace(t.substr(2), id);
        start_.try_emplace(t, id);
    }
    auto need = [&](const char* tok, int32_t& dst) {
        const int32_t id = token_to_id(tok);
        if (id < 0) throw Error(concat(source, ": special token ", tok, " is missing (is this a BERT vocab.txt?)"));
        dst = id;
    };
    need("[PAD]", pad_);
    need("[UNK]", unk_);
    need("[CLS]", cls_);
    need("[SEP]", sep_);
    fingerprint_ = fnv1a(vocab_);
}

int32_t Tokenizer::token_to_id(const std::string& token) const {
    auto it = start_.find(token);
    return it == start_.end() ? -1 : it->second;
}

std::vector<std::string> Tokenizer::basic_tokenize(std::string_view text) const {
    const std::vector<int32_t> cps = decode(text);
    // 1-2: clean, CJK spacing; 3: split on whitespace; per word lowercase + strip accents; 4: punctuation
    std::vector<std::string> tokens;
    std::vector<int32_t> word;
    auto flush_word = [&] {
        // split the word's characters on punctuation
        std::string cur;
        for (int32_t c : word) {
            if (is_punctuation(c)) {
                if (!cur.empty()) tokens.push_back(std::move(cur)), cur.clear();
                std::string p;
                append_utf8(p, c);
                tokens.push_back(std::move(p));
            } else {
                append_utf8(cur, c);
            }
        }
        if (!cur.empty()) tokens.push_back(std::move(cur));
        word.clear();
    };
    for (int32_t c : cps) {
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_whitespace(c)) {
            flush_word();
        } else if (is_cjk(c)) {
            flush_word();
            word.push_back(c);  // CJK chars are not lowercased/stripped by HF either (no case, no Mn)
            flush_word();
        } else {
            lower_strip_accents(c, word);
        }
    }
    flush_word();
    return tokens;
}

std::vector<int32_t> Tokenizer::wordpiece(std::string_view token) const {
    // codepoint boundaries (HF counts characters, not bytes)
    std::vector<size_t> bounds;
    for (size_t i = 0; i < token.size(); ++i)
        if ((static_cast<unsigned char>(token[i]) & 0xC0) != 0x80) bounds.push_back(i);
    bounds.push_back(token.size());
    const size_t nchars = bounds.size() - 1;
    if (nchars > 100) return {unk_};
    std::vector<int32_t> out;
    size_t start = 0;
    while (start < nchars) {
        size_t end = nchars;
        int32_t found = -1;
        const Map& map = start == 0 ? start_ : cont_;
        while (start < end) {
            auto it = map.find(token.substr(bounds[start], bounds[end] - bounds[start]));
            if (it != map.end()) {
                found = it->second;
                break;
            }
            --end;
        }
        if (found < 0) return {unk_};
        out.push_back(found);
        start = end;
    }
    return out;
}

std::vector<int32_t> Tokenizer::tokenize_ids(std::string_view text) const {
    std::vector<int32_t> ids;
    for (const std::string& t : basic_tokenize(text)) {
        const auto w = wordpiece(t);
        ids.insert(ids.end(), w.begin(), w.end());
    }
    return ids;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, int64_t max_len) const {
    if (max_len < 2) throw Error(concat("tokenizer: max_len >= 2 must hold ([CLS] and [SEP]), but got ", max_len));
    std::vector<int32_t> body = tokenize_ids(text);
    if (static_cast<int64_t>(body.size()) > max_len - 2) body.resize(static_cast<size_t>(max_len - 2));
    std::vector<int32_t> ids;
    ids.reserve(body.size() + 2);
    ids.push_back(cls_);
    ids.insert(ids.end(), body.begin(), body.end());
    ids.push_back(sep_);
    return ids;
}

}  // namespace qbert::model
