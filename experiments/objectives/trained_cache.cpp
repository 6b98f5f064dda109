#include "experiments/objectives/trained_cache.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/core/error.h"

namespace qbert::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string TrainedCache::key(const json& a) {
    const auto n = [&](const char* k) { return std::to_string(a.at(k).get<int64_t>()); };
    return "L" + n("num_hidden_layers") + "_H" + n("hidden_size") + "_A" + n("num_attention_heads") + "_I" +
           n("intermediate_size");
}

std::string TrainedCache::weights_path(const json& a) const { return (fs::path(dir_) / (key(a) + ".h5")).string(); }

bool TrainedCache::has_weights(const json& a) const { return fs::exists(weights_path(a)); }

std::string TrainedCache::result_path(const json& a, const std::string& tag) const {
    return (fs::path(dir_) / (key(a) + "." + tag + ".json")).string();
}

std::optional<TrainedCache::Result> TrainedCache::result(const json& a, const std::string& tag) const {
    const std::string path = result_path(a, tag);
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
        const json r = json::parse(in);
        return Result{r.at("value").get<double>(), r.at("user_attrs"), r.at("from").get<std::string>()};
    } catch (const json::exception& e) {
        throw engine::Error("'" + path + "' is not a trial result (" + e.what() + "); remove it to recompute");
    }
}

void TrainedCache::save_result(const json& a, const std::string& tag, const Result& r) const {
    fs::create_directories(dir_);
    const std::string path = result_path(a, tag), tmp = path + ".tmp." + std::to_string(::getpid());
    std::ofstream(tmp) << json{{"value", r.value}, {"user_attrs", r.user_attrs}, {"from", r.from}}.dump(1) << "\n";
    fs::rename(tmp, path);
}

uint64_t TrainedCache::remove_weights() const {
    uint64_t bytes = 0;
    if (!fs::exists(dir_)) return 0;
    for (const auto& e : fs::directory_iterator(dir_))
        if (e.path().extension() == ".h5") {
            bytes += e.file_size();
            fs::remove(e.path());
        }
    return bytes;
}

}  // namespace qbert::experiments
