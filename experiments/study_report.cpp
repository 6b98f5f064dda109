#include "experiments/study_report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/core/error.h"
#include "experiments/results.h"
#include "util/csv.h"
#include "util/progress.h"

namespace qbert::experiments {

namespace fs = std::filesystem;
using json = nlohmann::json;
using search::FrozenTrial;
using search::Study;
using search::TrialState;

namespace {
std::string params_line(const json& params) {
    std::string s;
    for (const auto& [k, v] : params.items()) {
        if (k.size() > 5 && k.compare(k.size() - 5, 5, "_type") == 0 && v == "linear") continue;  // the default
        s += (s.empty() ? "" : " ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    return s;
}

}  // namespace

void write_trials_csv(const std::string& path, const std::vector<FrozenTrial>& trials, search::Direction d) {
    std::set<std::string> names;
    for (const auto& t : trials)
        for (const auto& [n, v] : t.params) names.insert(n);
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        if (!out) throw engine::Error("cannot write '" + tmp + "'");
        std::vector<std::string> header{"number", "state", "value", "best_so_far", "seconds", "test_accuracy", "parameters"};
        header.insert(header.end(), names.begin(), names.end());
        header.push_back("reason");
        util::write_csv_row(out, header);
        const auto best_so_far = Study::best_so_far(trials, d);
        for (size_t i = 0; i < trials.size(); ++i) {
            const FrozenTrial& t = trials[i];
            const std::optional<double>& best = best_so_far[i];
            const auto attr = [&](const char* k) {
                return t.user_attrs.contains(k) ? t.user_attrs[k].dump() : std::string();
            };
            std::vector<std::string> row{std::to_string(t.number), search::state_name(t.state),
                                         t.value ? fmt_num(*t.value) : "", best ? fmt_num(*best) : "",
                                         fmt_num(t.duration_s, 1), attr("test_accuracy"), attr("parameters")};
            for (const auto& n : names) {
                const json v = t.has(n) ? t.external(n) : json();
                row.push_back(v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump());
            }
            row.push_back(t.system_attrs.value("reason", ""));  // quoted when it holds a comma or a quote
            util::write_csv_row(out, row);
        }
    }
    fs::rename(tmp, path);
}

void TrialReporter::operator()(const Study& s, const FrozenTrial& t) {
        ++ran;
        const auto& all = s.trials();
        const auto best = Study::best_of(all, s.direction());
        const double per = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / ran;
        const int64_t left = std::max<int64_t>(0, target - static_cast<int64_t>(all.size()));
        std::printf("[%s %ld] %s value=%s best=%s%s %.1f s, %ld/%ld, ETA %s | %s%s\n", s.name().c_str(), long(t.number),
                    search::state_name(t.state), t.value ? fmt_num(*t.value).c_str() : "-",
                    best ? fmt_num(*best->value).c_str() : "-",
                    best ? (" (trial " + std::to_string(best->number) + ")").c_str() : "", t.duration_s,
                    long(all.size()), long(target), util::format_duration(per * static_cast<double>(left)).c_str(),
                    params_line(t.params_json()).c_str(),
                    t.system_attrs.contains("reason") ? (" | " + t.system_attrs["reason"].get<std::string>()).c_str() : "");
        std::fflush(stdout);
}

void check_study_meta(const Study& s, const json& now) {
    for (const auto& [k, v] : now.items())
        if (!s.meta().contains(k) || s.meta()[k] != v)
            throw engine::Error("study '" + s.name() + "' was started with " + k + " = " +
                                (s.meta().contains(k) ? s.meta()[k].dump() : "(none)") + ", this run has " + v.dump() +
                                "; resume it with the same settings or start another --study");
}

}  // namespace qbert::experiments
