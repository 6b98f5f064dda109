#include "experiments/study_report.h"

#include <algorithm>
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

// every parameter any trial sampled, sorted
std::set<std::string> param_names(const std::vector<FrozenTrial>& trials) {
    std::set<std::string> names;
    for (const auto& t : trials)
        for (const auto& [n, v] : t.params) names.insert(n);
    return names;
}

// a parameter's value as a CSV field (empty when the trial does not have it)
std::string param_cell(const FrozenTrial& t, const std::string& name) {
    const json v = t.has(name) ? t.shown(name) : json();
    return v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump();
}

// an objective value in the multi-objective files and lines: as many digits as it needs
std::string fmt_value(double v, int digits = 10) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*g", digits, v);
    return b;
}

std::string values_text(const FrozenTrial& t, const char* sep, int digits) {
    std::string s;
    for (double v : t.values) s += (s.empty() ? "" : sep) + fmt_value(v, digits);
    return s.empty() ? "-" : s;
}

// Writes through path.tmp and renames, so a reader never sees half a file.
template <class F>
void write_atomically(const std::string& path, const F& write) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        if (!out) throw engine::Error("cannot write '" + tmp + "'");
        write(out);
    }
    fs::rename(tmp, path);
}

std::vector<std::string> value_columns(size_t k) {
    std::vector<std::string> c;
    for (size_t i = 0; i < k; ++i) c.push_back("value_" + std::to_string(i));
    return c;
}

}  // namespace

void write_trials_csv(const std::string& path, const std::vector<FrozenTrial>& trials,
                      const std::vector<search::Direction>& directions) {
    if (directions.size() == 1) return write_trials_csv(path, trials, directions[0]);
    const std::set<std::string> names = param_names(trials);
    std::set<int64_t> front;
    for (const auto& t : Study::pareto_front(trials, directions)) front.insert(t.number);
    write_atomically(path, [&](std::ofstream& out) {
        std::vector<std::string> header{"number", "state"};
        for (const auto& c : value_columns(directions.size())) header.push_back(c);
        for (const char* c : {"pareto", "seconds", "test_accuracy", "parameters"}) header.push_back(c);
        header.insert(header.end(), names.begin(), names.end());
        header.push_back("reason");
        util::write_csv_row(out, header);
        for (const FrozenTrial& t : trials) {
            std::vector<std::string> row{std::to_string(t.number), search::state_name(t.state)};
            for (size_t i = 0; i < directions.size(); ++i)
                row.push_back(i < t.values.size() ? fmt_value(t.values[i]) : "");
            row.push_back(front.count(t.number) ? "1" : "0");
            row.push_back(fmt_num(t.duration_s, 1));
            for (const char* k : {"test_accuracy", "parameters"})
                row.push_back(t.user_attrs.contains(k) ? t.user_attrs[k].dump() : std::string());
            for (const auto& n : names) row.push_back(param_cell(t, n));
            row.push_back(t.system_attrs.value("reason", ""));
            util::write_csv_row(out, row);
        }
    });
}

void write_pareto_csv(const std::string& path, const std::vector<FrozenTrial>& trials,
                      const std::vector<search::Direction>& directions) {
    const std::set<std::string> names = param_names(trials);
    write_atomically(path, [&](std::ofstream& out) {
        std::vector<std::string> header{"number"};
        for (const auto& c : value_columns(directions.size())) header.push_back(c);
        header.insert(header.end(), names.begin(), names.end());
        util::write_csv_row(out, header);
        for (const FrozenTrial& t : Study::pareto_front(trials, directions)) {
            std::vector<std::string> row{std::to_string(t.number)};
            for (double v : t.values) row.push_back(fmt_value(v));
            for (const auto& n : names) row.push_back(param_cell(t, n));
            util::write_csv_row(out, row);
        }
    });
}

void write_trials_csv(const std::string& path, const std::vector<FrozenTrial>& trials, search::Direction d) {
    const std::set<std::string> names = param_names(trials);
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
            for (const auto& n : names) row.push_back(param_cell(t, n));
            row.push_back(t.system_attrs.value("reason", ""));  // quoted when it holds a comma or a quote
            util::write_csv_row(out, row);
        }
    }
    fs::rename(tmp, path);
}

void TrialReporter::operator()(const Study& s, const FrozenTrial& t) {
        ++ran;
        const auto& all = s.trials();
        // finished trials (trials still running on other ranks or processes are not done yet)
        const auto done = static_cast<int64_t>(std::count_if(all.begin(), all.end(), [](const FrozenTrial& x) {
            return x.state != search::TrialState::Running;
        }));
        if (s.multi_objective()) {
            const double per = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / ran;
            const int64_t left = std::max<int64_t>(0, target - done);
            std::printf("[%s %ld] %s values=%s front=%zu %.1f s, %ld/%ld, ETA %s | %s%s\n", s.name().c_str(),
                        long(t.number), search::state_name(t.state), values_text(t, ",", 6).c_str(),
                        Study::pareto_front(all, s.directions()).size(), t.duration_s, long(done), long(target),
                        util::format_duration(per * static_cast<double>(left)).c_str(), params_line(t.shown_params()).c_str(),
                        t.system_attrs.contains("reason") ? (" | " + t.system_attrs["reason"].get<std::string>()).c_str() : "");
            std::fflush(stdout);
            return;
        }
        const auto best = Study::best_of(all, s.direction());
        const double per = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / ran;
        const int64_t left = std::max<int64_t>(0, target - done);
        std::printf("[%s %ld] %s value=%s best=%s%s %.1f s, %ld/%ld, ETA %s | %s%s\n", s.name().c_str(), long(t.number),
                    search::state_name(t.state), t.value ? fmt_num(*t.value).c_str() : "-",
                    best ? fmt_num(*best->value).c_str() : "-",
                    best ? (" (trial " + std::to_string(best->number) + ")").c_str() : "", t.duration_s,
                    long(done), long(target), util::format_duration(per * static_cast<double>(left)).c_str(),
                    params_line(t.shown_params()).c_str(),
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
