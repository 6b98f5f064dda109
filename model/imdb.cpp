#include "model/imdb.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/core/error.h"

namespace qbert::model {

using engine::Error;
using engine::detail::concat;
namespace fs = std::filesystem;

namespace {
std::string read_gz_or_plain(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");  // zlib reads plain files transparently
    if (!f) throw Error(concat("IMDb data '", path, "': cannot open"));
    std::string out;
    char buf[1 << 16];
    for (;;) {
        const int n = gzread(f, buf, sizeof buf);
        if (n < 0) {
            int err = 0;
            const std::string msg = gzerror(f, &err);
            gzclose(f);
            throw Error(concat("IMDb data '", path, "': read error (", msg, "): truncated or corrupt file?"));
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    gzclose(f);
    return out;
}

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

std::vector<Review> load_acl_dir(const fs::path& dir) {
    std::vector<Review> out;
    for (auto [sub, label] : {std::pair{"neg", 0}, std::pair{"pos", 1}}) {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir / sub))
            if (e.path().extension() == ".txt") files.push_back(e.path());
        std::sort(files.begin(), files.end());  // the archive has no defined order: make ours fixed
        for (const auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            if (!in) throw Error(concat("IMDb data '", f.string(), "': cannot open"));
            std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::replace(text.begin(), text.end(), '\t', ' ');
            out.push_back({label, std::move(text)});
        }
    }
    if (out.empty()) throw Error(concat("IMDb data '", dir.string(), "': no neg/*.txt or pos/*.txt files"));
    return out;
}
}  // namespace

std::vector<Review> load_tsv(const std::string& path) {
    if (!fs::exists(path)) throw Error(concat("IMDb data '", path, "': no such file"));
    const std::string all = read_gz_or_plain(path);
    std::vector<Review> out;
    size_t pos = 0;
    int64_t line = 0;
    while (pos < all.size()) {
        size_t end = all.find('\n', pos);  // \n only: the text holds U+0085, which is not a line break here
        if (end == std::string::npos) end = all.size();
        const std::string_view row(all.data() + pos, end - pos);
        ++line;
        pos = end + 1;
        if (line == 1) {
            if (row != "label\ttext")
                throw Error(concat(path, ":1: expected the header 'label<TAB>text', got '", row.substr(0, 40), "'"));
            continue;
        }
        if (row.empty()) continue;
        const size_t tab = row.find('\t');
        if (tab == std::string_view::npos || row.find('\t', tab + 1) != std::string_view::npos)
            throw Error(concat(path, ":", line, ": expected exactly one TAB (label<TAB>text)"));
        const std::string_view label = row.substr(0, tab);
        if (label != "0" && label != "1")
            throw Error(concat(path, ":", line, ": label must be 0 or 1, got '", label.substr(0, 20), "'"));
        out.push_back({label == "1" ? 1 : 0, std::string(row.substr(tab + 1))});
    }
    if (out.empty()) throw Error(concat("IMDb data '", path, "': no rows"));
    return out;
}

std::vector<Review> load_imdb(const std::string& root, const std::string& split) {
    if (split != "train" && split != "test") throw Error(concat("IMDb split must be train or test, got '", split, "'"));
    const fs::path r(root);
    for (const fs::path& p : {r / "imdb" / (split + ".tsv.gz"), r / (split + ".tsv.gz"), r / (split + ".tsv")})
        if (fs::exists(p)) return load_tsv(p.string());
    for (const fs::path& d : {r / "aclImdb" / split, r / split})
        if (fs::is_directory(d / "pos") && fs::is_directory(d / "neg")) return load_acl_dir(d);
    throw Error(concat("IMDb data: no '", split, "' split under '", root, "' (looked for imdb/", split,
                       ".tsv.gz and aclImdb/", split, "/{pos,neg})\nhint: run scripts/setup.sh, which links ",
                       "../shared/data as data/, or pass --data DIR"));
}

Encoded Encoded::subset(const std::vector<int64_t>& rows) const {
    Encoded e;
    for (int64_t r : rows) {
        e.ids.insert(e.ids.end(), ids.begin() + offsets[r], ids.begin() + offsets[r + 1]);
        e.offsets.push_back(static_cast<int64_t>(e.ids.size()));
        e.labels.push_back(labels[r]);
    }
    return e;
}

Encoded encode_reviews(const std::vector<Review>& reviews, const Tokenizer& tok, int64_t max_len,
                       const std::string& cache_dir) {
    uint64_t key = fnv1a(0xcbf29ce484222325ULL, &max_len, sizeof max_len);
    const uint64_t vfp = tok.fingerprint();
    key = fnv1a(key, &vfp, sizeof vfp);
    for (const Review& r : reviews) {
        key = fnv1a(key, &r.label, sizeof r.label);
        key = fnv1a(key, r.text.data(), r.text.size());
    }
    char name[64];
    std::snprintf(name, sizeof name, "tokens-%016llx.bin", static_cast<unsigned long long>(key));
    const fs::path cache = cache_dir.empty() ? fs::path() : fs::path(cache_dir) / name;
    if (!cache_dir.empty() && fs::exists(cache)) {
        std::ifstream in(cache, std::ios::binary);
        int64_t n = 0, total = 0;
        in.read(reinterpret_cast<char*>(&n), sizeof n);
        in.read(reinterpret_cast<char*>(&total), sizeof total);
        if (in && n == static_cast<int64_t>(reviews.size()) && total >= 0) {
            Encoded e;
            e.labels.resize(static_cast<size_t>(n));
            e.offsets.resize(static_cast<size_t>(n + 1));
            e.ids.resize(static_cast<size_t>(total));
            in.read(reinterpret_cast<char*>(e.labels.data()), static_cast<std::streamsize>(n * sizeof(int32_t)));
            in.read(reinterpret_cast<char*>(e.offsets.data()), static_cast<std::streamsize>((n + 1) * sizeof(int64_t)));
            in.read(reinterpret_cast<char*>(e.ids.data()), static_cast<std::streamsize>(total * sizeof(int32_t)));
            if (in && e.offsets.back() == total) return e;
        }
        // unreadable or stale cache file: fall through and rebuild it
    }
    const int64_t n = static_cast<int64_t>(reviews.size());
    std::vector<std::vector<int32_t>> per(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = 0; i < n; ++i) per[i] = tok.encode(reviews[i].text, max_len);
    Encoded e;
    for (int64_t i = 0; i < n; ++i) {
        e.ids.insert(e.ids.end(), per[i].begin(), per[i].end());
        e.offsets.push_back(static_cast<int64_t>(e.ids.size()));
        e.labels.push_back(reviews[i].label);
    }
    if (!cache_dir.empty()) {
        std::error_code ec;
        fs::create_directories(cache_dir, ec);
        const fs::path tmp = cache.string() + ".tmp." + std::to_string(::getpid());
        std::ofstream out(tmp, std::ios::binary);
        const int64_t total = static_cast<int64_t>(e.ids.size());
        out.write(reinterpret_cast<const char*>(&n), sizeof n);
        out.write(reinterpret_cast<const char*>(&total), sizeof total);
        out.write(reinterpret_cast<const char*>(e.labels.data()), static_cast<std::streamsize>(n * sizeof(int32_t)));
        out.write(reinterpret_cast<const char*>(e.offsets.data()), static_cast<std::streamsize>((n + 1) * sizeof(int64_t)));
        out.write(reinterpret_cast<const char*>(e.ids.data()), static_cast<std::streamsize>(total * sizeof(int32_t)));
        out.close();
        if (out) fs::rename(tmp, cache, ec);
        if (!out || ec) fs::remove(tmp, ec);  // a cache that cannot be written is not an error
    }
    return e;
}

std::vector<std::vector<int64_t>> make_batches(const Encoded& data, int64_t batch, bool bucket, engine::Rng& rng) {
    ENGINE_CHECK(batch > 0, "batch size > 0 must hold, but got ", batch);
    std::vector<int64_t> order(static_cast<size_t>(data.size()));
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    auto shuffle = [&](auto& v) {
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
    };
    std::vector<std::vector<int64_t>> batches;
    if (bucket) {
        shuffle(order);
        const size_t window = static_cast<size_t>(batch) * 50;
        for (size_t w = 0; w < order.size(); w += window) {
            auto b = order.begin() + static_cast<std::ptrdiff_t>(w);
            auto e = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), w + window));
            std::stable_sort(b, e, [&](int64_t x, int64_t y) { return data.length(x) < data.length(y); });
        }
    }
    for (size_t i = 0; i < order.size(); i += static_cast<size_t>(batch))
        batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                             order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), i + static_cast<size_t>(batch))));
    if (bucket) shuffle(batches);
    return batches;
}

Batch collate(const Encoded& data, const std::vector<int64_t>& rows, int32_t pad_id, int64_t pad_to) {
    const int64_t B = static_cast<int64_t>(rows.size());
    int64_t T = std::max<int64_t>(1, pad_to);
    for (int64_t r : rows) T = std::max(T, data.length(r));
    Batch b{engine::Tensor::empty({B, T}, engine::DType::I32), engine::Tensor::empty({B, T}, engine::DType::I32),
            engine::Tensor::empty({B}, engine::DType::I32)};
    int32_t* ids = b.input_ids.data<int32_t>();
    int32_t* am = b.attention_mask.data<int32_t>();
    for (int64_t i = 0; i < B; ++i) {
        const int64_t r = rows[i], len = data.length(r);
        for (int64_t t = 0; t < T; ++t) {
            ids[i * T + t] = t < len ? data.ids[data.offsets[r] + t] : pad_id;
            am[i * T + t] = t < len ? 1 : 0;
        }
        b.labels.data<int32_t>()[i] = data.labels[r];
    }
    return b;
}

void split_train_val(const Encoded& data, double val_fraction, engine::Rng& rng, std::vector<int64_t>& train,
                     std::vector<int64_t>& val) {
    ENGINE_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, "val_fraction must be in [0, 1), got ", val_fraction);
    train.clear(), val.clear();
    for (int32_t label : {0, 1}) {
        std::vector<int64_t> rows;
        for (int64_t i = 0; i < data.size(); ++i)
            if (data.labels[i] == label) rows.push_back(i);
        for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[rng.below(i)]);
        const size_t nval = static_cast<size_t>(static_cast<double>(rows.size()) * val_fraction);
        val.insert(val.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(nval));
        train.insert(train.end(), rows.begin() + static_cast<std::ptrdiff_t>(nval), rows.end());
    }
    std::sort(train.begin(), train.end());
    std::sort(val.begin(), val.end());
}

}  // namespace qbert::model
