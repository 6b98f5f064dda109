// What the NAS objectives already know about an architecture, in one directory shared by every study and
// process of a lab: its trained weights (<arch>.h5, what training from the fixed init seed on the fixed data
// order produces) and, per objective, the result a trial got from them (<arch>.<tag>.json: value and user
// attributes; the tag names the objective and its settings). The objectives are functions of the architecture alone, so:
//   - a trial whose objective already has a result for its architecture takes that result (reused_from);
//   - otherwise a trial whose architecture has weights loads them instead of training (compression-aware
//     trials start from the weights a NAS trial trained);
//   - otherwise it trains, and saves the weights.
// Every file is written to a temp file and renamed, so several processes (lab2 --jobs) can share the directory
// and a killed run leaves no half file. A miss rereads the disk, so a process sees what another has finished.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace qbert::experiments {

class TrainedCache {
public:
    explicit TrainedCache(std::string dir) : dir_(std::move(dir)) {}

    // {num_hidden_layers, num_attention_heads, hidden_size, intermediate_size} -> "L2_H128_A2_I512"
    static std::string key(const nlohmann::json& architecture);
    std::string weights_path(const nlohmann::json& architecture) const;
    bool has_weights(const nlohmann::json& architecture) const;

    struct Result {
        double value;
        nlohmann::json user_attrs;
        std::string from;  // "study#trial" of the trial that computed it
    };
    std::optional<Result> result(const nlohmann::json& architecture, const std::string& tag) const;
    void save_result(const nlohmann::json& architecture, const std::string& tag, const Result& r) const;

    // Removes the weights (large) and keeps the results (small); returns the bytes freed.
    uint64_t remove_weights() const;
    const std::string& dir() const { return dir_; }

private:
    std::string result_path(const nlohmann::json& architecture, const std::string& tag) const;
    std::string dir_;
};

}  // namespace qbert::experiments
