#include "search/space.h"

#include <toml++/toml.h>

#include <chrono>
#include <sstream>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "util/subprocess.h"

namespace qbert::search {

using json = nlohmann::json;

namespace {

json toml_to_json(const toml::node& n, const std::string& where) {
    if (auto v = n.as_integer()) return v->get();
    if (auto v = n.as_floating_point()) return v->get();
    if (auto v = n.as_string()) return v->get();
    if (auto v = n.as_boolean()) return v->get();
    throw Error(where + ": values must be numbers, strings or booleans");
}

double number(const toml::table& t, const char* key, const std::string& where) {
    const toml::node* n = t.get(key);
    if (!n) throw Error(where + ": missing key '" + key + "'");
    if (auto v = n->as_integer()) return static_cast<double>(v->get());
    if (auto v = n->as_floating_point()) return v->get();
    throw Error(where + ": '" + key + "' must be a number");
}

}  // namespace

SearchSpace SearchSpace::from_toml_file(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw Error("search space '" + path + "': cannot open: " + std::strerror(errno));
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
    return from_toml_string(text, path);
}

SearchSpace SearchSpace::from_toml_string(const std::string& text, const std::string& source) {
    toml::table root;
    try {
        root = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        throw Error("search space '" + source + "': line " + std::to_string(e.source().begin.line) + ": " +
                    std::string(e.description()));
    }
    SearchSpace s;
    for (const auto& [key, node] : root) {
        const std::string name(key.str());
        const std::string where = "search space '" + source + "': parameter [" + name + "]";
        const toml::table* t = node.as_table();
        if (!t) throw Error(where + ": must be a table ([" + name + "] with type = ...)");
        const toml::node* type_node = t->get("type");
        if (!type_node || !type_node->as_string())
            throw Error(where + ": missing key 'type' (\"int\", \"float\" or \"categorical\")");
        const std::string type = type_node->as_string()->get();
        std::set<std::string> valid;
        Distribution d;
        if (type == "int") {
            valid = {"type", "low", "high", "step", "log", "grid"};
            const double lo = number(*t, "low", where), hi = number(*t, "high", where);
            const double step = t->get("step") ? number(*t, "step", where) : 1.0;
            if (lo != std::floor(lo) || hi != std::floor(hi) || step != std::floor(step))
                throw Error(where + ": low, high and step of an int must be integers");
            d = Distribution::int_range(static_cast<int64_t>(lo), static_cast<int64_t>(hi), static_cast<int64_t>(step),
                                        t->get("log") && t->get("log")->value_or(false));
            if (d.high != hi)  // Optuna warns too (IntDistribution: "high ... is replaced with ...")
                std::fprintf(stderr, "warning: %s: the range %g..%g is not a whole number of steps of %g; high is %g\n",
                             where.c_str(), lo, hi, step, d.high);
        } else if (type == "float") {
            valid = {"type", "low", "high", "log", "grid"};
            d = Distribution::float_range(number(*t, "low", where), number(*t, "high", where),
                                          t->get("log") && t->get("log")->value_or(false));
        } else if (type == "categorical") {
            valid = {"type", "choices", "grid"};
            const toml::array* a = t->get("choices") ? t->get("choices")->as_array() : nullptr;
            if (!a) throw Error(where + ": missing key 'choices' (a list)");
            std::vector<json> choices;
            for (const auto& c : *a) choices.push_back(toml_to_json(c, where + " choices"));
            d = Distribution::categorical(std::move(choices));
        } else {
            throw Error(where + ": unknown type '" + type + "'; valid types: int, float, categorical");
        }
        for (const auto& [k, v] : *t)
            if (!valid.count(std::string(k.str()))) {
                std::string list;
                for (const auto& x : valid) list += (list.empty() ? "" : ", ") + x;
                throw Error(where + ": unknown key '" + std::string(k.str()) + "'; valid keys for " + type + ": " + list);
            }
        if (const toml::node* l = t->get("log"); l && !l->as_boolean()) throw Error(where + ": 'log' must be true or false");
        try {
            d.validate(name);
        } catch (const Error& e) {
            throw Error("search space '" + source + "': " + e.what());
        }
        if (const toml::node* g = t->get("grid")) {
            const toml::array* a = g->as_array();
            if (!a || a->empty()) throw Error(where + ": 'grid' must be a non-empty list");
            std::vector<json> values;
            for (const auto& v : *a) values.push_back(toml_to_json(v, where + " grid"));
            s.grid_values[name] = std::move(values);
        }
        s.params.emplace_back(name, d);
    }
    if (s.params.empty()) throw Error("search space '" + source + "': no parameters (one [name] table per parameter)");
    return s;
}

json SearchSpace::suggest_all(Trial& t) const {
    json out = json::object();
    for (const auto& [name, d] : params) out[name] = t.suggest(name, d);
    return out;
}

GridSampler::Space SearchSpace::grid() const {
    GridSampler::Space g;
    for (const auto& [name, d] : params) {
        if (auto it = grid_values.find(name); it != grid_values.end()) {
            g[name] = it->second;
        } else if (d.kind == Distribution::Kind::Categorical) {
            g[name] = d.choices;
        } else if (d.kind == Distribution::Kind::Int) {
            if ((d.high - d.low) / d.step >= 10000)
                throw Error("grid: int parameter '" + name + "' has more than 10,000 values; give it a 'grid' list");
            for (double v = d.low; v <= d.high; v += d.step) g[name].push_back(static_cast<int64_t>(v));
        } else {
            throw Error("grid: float parameter '" + name + "' needs a 'grid' list of the values to try");
        }
    }
    return g;
}

namespace {

std::string as_word(const json& v) {
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        const bool plain = !s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789._-+/=:,@%") == std::string::npos;
        if (plain) return s;
        std::string q = "'";
        for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return q + "'";
    }
    if (v.is_number_float()) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
        return buf;
    }
    return v.dump();  // ints, booleans, null
}

}  // namespace

std::string substitute(const std::string& command, const json& params) {
    std::string out;
    for (size_t i = 0; i < command.size();) {
        if (command[i] == '{') {
            const size_t close = command.find('}', i + 1);
            if (close != std::string::npos) {
                const std::string name = command.substr(i + 1, close - i - 1);
                if (params.contains(name)) {
                    out += as_word(params[name]);
                    i = close + 1;
                    continue;
                }
            }
        }
        out += command[i++];
    }
    return out;
}

std::vector<double> parse_values(const std::string& line, size_t n_values) {
    std::vector<std::string> fields;
    for (size_t i = 0; i < line.size();) {
        const size_t b = line.find_first_not_of(" \t\r,", i);
        if (b == std::string::npos) break;
        const size_t e = line.find_first_of(" \t\r,", b);
        fields.push_back(line.substr(b, e == std::string::npos ? std::string::npos : e - b));
        i = e == std::string::npos ? line.size() : e;
    }
    if (fields.empty())
        throw Error("command printed nothing (its last line must be the " + std::to_string(n_values) +
                    " objective values, separated by spaces or commas)");
    std::vector<double> values;
    for (const std::string& f : fields) {
        char* end = nullptr;
        const double v = std::strtod(f.c_str(), &end);
        if (end != f.c_str() + f.size())
            throw Error("last line of the command's output is not " + std::to_string(n_values) + " numbers: '" + f +
                        "' in '" + line + "'");
        if (!std::isfinite(v)) throw Error("command printed a non-finite value: '" + f + "' in '" + line + "'");
        values.push_back(v);
    }
    if (values.size() != n_values)
        throw Error("command printed " + std::to_string(values.size()) + " value" + (values.size() == 1 ? "" : "s") +
                    " but the study has " + std::to_string(n_values) + " objectives: '" + line + "'");
    return values;
}

namespace {
// "report STEP VALUE" -> (step, value); nullopt when the line is not a report line at all; throws when it starts
// with the word report but the rest is not an integer step >= 0 and a number.
std::optional<std::pair<int64_t, double>> parse_report(const std::string& line) {
    const size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line.compare(b, 6, "report") != 0 ||
        (b + 6 < line.size() && line[b + 6] != ' ' && line[b + 6] != '\t'))
        return std::nullopt;
    std::istringstream in(line.substr(b + 6));
    std::string step_text, value_text, extra;
    in >> step_text >> value_text >> extra;
    char* end = nullptr;
    const long long step = std::strtoll(step_text.c_str(), &end, 10);
    const bool step_ok = !step_text.empty() && end == step_text.c_str() + step_text.size() && step >= 0;
    const double value = std::strtod(value_text.c_str(), &end);
    const bool value_ok = !value_text.empty() && end == value_text.c_str() + value_text.size();
    if (!step_ok || !value_ok || !extra.empty())
        throw Error("malformed report line '" + line + "': expected 'report STEP VALUE' (STEP an integer >= 0)");
    return std::make_pair(static_cast<int64_t>(step), value);
}
}  // namespace

ExecResult run_exec(const std::string& command, const json& params, int64_t trial_number,
                    const std::string& echo_prefix, double timeout_s, size_t n_values, const ReportFn& on_report) {
    if (n_values < 1) throw Error("exec: a study has at least one objective");
    if (!(timeout_s >= 0)) throw Error("exec: timeout must be >= 0 seconds (0 = none)");
    const std::string cmd = substitute(command, params);
    util::SpawnOptions so;
    so.argv = {"/bin/sh", "-c", cmd};
    so.env = {{"QBERT_TRIAL_NUMBER", std::to_string(trial_number)}, {"QBERT_TRIAL_PARAMS", params.dump()}};
    so.pipe_stdin = true;
    so.stdin_data = params.dump() + "\n";
    so.own_group = true;  // a time-out stops the whole of it, pipelines and grandchildren included
    util::Child child = [&] {
        try {
            return util::Child::spawn(so);
        } catch (const util::SubprocessError& e) {
            throw Error(std::string("exec: ") + e.what());
        }
    }();
    const util::ForwardSignals forward(child.pid());  // Ctrl-C / kill of qbert reach the command too

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    bool timed_out = false, stop = false;
    std::string last, report_error;
    ExecResult r;
    const auto on_line = [&](const std::string& line) {
        if (!echo_prefix.empty()) std::printf("%s%s\n", echo_prefix.c_str(), line.c_str());
        if (stop) return;  // stopping: what it prints meanwhile is shown, not used
        std::optional<std::pair<int64_t, double>> rep;
        try {
            rep = parse_report(line);
        } catch (const Error& e) {
            report_error = e.what();
            stop = true;
            return;
        }
        if (rep) {
            if (on_report && on_report(rep->first, rep->second)) {
                r.pruned = true;
                r.pruned_step = rep->first;
                stop = true;
            }
            return;
        }
        if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
    };
    for (;;) {
        if (stop) break;
        int wait_ms = -1;
        if (timeout_s > 0) {
            const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
            if (left <= 0) {
                timed_out = true;
                break;
            }
            wait_ms = static_cast<int>(std::ceil(left * 1000.0));
        }
        if (!child.read(wait_ms, on_line)) break;
    }
    std::fflush(stdout);
    const int code = timed_out || stop ? child.stop(2.0) : child.wait();
    if (!report_error.empty()) {
        r.exit_code = code;
        r.error = report_error + " (command stopped): " + cmd;
        return r;
    }
    if (r.pruned) {
        r.exit_code = code;
        r.error = "pruned at step " + std::to_string(r.pruned_step);
        return r;
    }
    if (timed_out) {
        r.exit_code = 124;  // as timeout(1)
        char secs[32];
        std::snprintf(secs, sizeof secs, "%g", timeout_s);
        r.error = std::string("command timed out after ") + secs + " s and was stopped: " + cmd;
        return r;
    }
    r.exit_code = code;
    const size_t b = last.find_first_not_of(" \t\r"), e = last.find_last_not_of(" \t\r");
    r.last_line = b == std::string::npos ? "" : last.substr(b, e - b + 1);
    if (r.exit_code != 0) {
        r.error = "command exited with status " + std::to_string(r.exit_code) + ": " + cmd;
        return r;
    }
    if (n_values > 1) {
        try {
            r.values = parse_values(r.last_line, n_values);
        } catch (const Error& e) {
            r.error = e.what();
        }
        return r;
    }
    char* end = nullptr;
    const double v = std::strtod(r.last_line.c_str(), &end);
    if (r.last_line.empty() || end != r.last_line.c_str() + r.last_line.size()) {
        r.error = r.last_line.empty() ? "command printed nothing (its last line must be the objective value)"
                                      : "last line of the command's output is not a number: '" + r.last_line + "'";
        return r;
    }
    if (!std::isfinite(v)) {
        r.error = "command printed a non-finite value: '" + r.last_line + "'";
        return r;
    }
    r.value = v;
    r.values = {v};
    return r;
}

}  // namespace qbert::search
