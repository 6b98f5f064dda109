#include "experiments/results.h"

#include <unistd.h>

#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/dist/comm.h"
#include "util/csv.h"

namespace qbert::experiments {

namespace fs = std::filesystem;
using engine::Error;
using engine::detail::concat;

ResultTable::ResultTable(std::string path, std::vector<std::string> columns, std::vector<std::string> key_columns)
    : path_(std::move(path)), columns_(std::move(columns)), keys_(std::move(key_columns)) {
    std::ifstream in(path_);
    if (!in) return;
    std::vector<std::string> f;
    try {
        if (!util::read_csv_row(in, f)) return;
        if (f != columns_)
            throw Error(concat("results file '", path_, "' has header '", util::csv_row(f), "', expected '",
                               util::csv_row(columns_), "' (written by another version? move it away to start over)"));
    } catch (const util::CsvError& e) {
        throw Error(concat("results file '", path_, "' header: ", e.what()));
    }
    int64_t lineno = 1;
    for (;;) {
        ++lineno;
        try {
            if (!util::read_csv_row(in, f)) break;
        } catch (const util::CsvError& e) {
            throw Error(concat("results file '", path_, "' row ", lineno, ": ", e.what()));
        }
        if (f.size() == 1 && f[0].empty()) continue;
        if (f.size() != columns_.size())
            throw Error(concat("results file '", path_, "' line ", lineno, ": ", f.size(), " fields, expected ", columns_.size()));
        Row r;
        for (size_t i = 0; i < f.size(); ++i) r[columns_[i]] = f[i];
        rows_.push_back(r);
    }
}

bool ResultTable::same_key(const Row& a, const Row& b) const {
    for (const auto& k : keys_) {
        auto ia = a.find(k), ib = b.find(k);
        if (ia == a.end() || ib == b.end() || ia->second != ib->second) return false;
    }
    return true;
}

const ResultTable::Row* ResultTable::find(const Row& key) const {
    for (const auto& r : rows_)
        if (same_key(r, key)) return &r;
    return nullptr;
}
bool ResultTable::has(const Row& key) const { return find(key) != nullptr; }

void ResultTable::add(const Row& row) {
    for (const auto& c : columns_)
        if (!row.count(c)) throw Error(concat("results row for '", path_, "' lacks column '", c, "'"));
    for (auto& r : rows_)
        if (same_key(r, row)) {
            r = row;
            write();
            return;
        }
    rows_.push_back(row);
    write();
}

// Data-parallel runs (several MPI ranks computing one result together, outside a dist::LocalScope): rank 0
// writes the tables, figures and settings; the other ranks keep the same rows in memory. Inside a LocalScope (a
// distributed study's trial, which runs on one rank alone) rank() is 0 on every rank: trials must not write
// these shared files (none does today; their results go to rank 0 through the study).
namespace {
bool writer() { return engine::dist::rank() == 0; }
}  // namespace

void ResultTable::write() const {
    if (!writer()) return;
    const std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp);
        util::write_csv_row(out, columns_);
        for (const auto& r : rows_) {
            std::vector<std::string> fields;
            for (const auto& c : columns_) fields.push_back(r.at(c));
            util::write_csv_row(out, fields);
        }
        if (!out) throw Error(concat("cannot write '", tmp, "'"));
    }
    fs::rename(tmp, path_);
}

void ResultTable::write_wide(const std::string& path, const std::string& x_column, const std::vector<std::string>& xs,
                             const std::vector<Series>& series) const {
    if (!writer()) return;
    std::ofstream out(path);
    std::vector<std::string> header{x_column};
    for (const auto& s : series) header.push_back(s.header);
    util::write_csv_row(out, header);
    for (const auto& x : xs) {
        std::vector<std::string> fields{x};
        for (const auto& s : series) {
            const Row* hit = nullptr;
            for (const auto& r : rows_) {
                bool ok = r.count(x_column) && r.at(x_column) == x;
                for (const auto& [k, v] : s.match) ok = ok && r.count(k) && r.at(k) == v;
                if (ok) hit = &r;
            }
            fields.push_back(hit ? hit->at(s.column) : "NaN");
        }
        util::write_csv_row(out, fields);
    }
    if (!out) throw Error(concat("cannot write '", path, "'"));
}

std::string fmt_num(double v, int digits) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

std::string fmt_num_or_nan(double v, int digits) { return std::isnan(v) ? "NaN" : fmt_num(v, digits); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void write_file_atomic(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        out << text;
        if (!out) throw Error("cannot write '" + tmp + "'");
    }
    fs::rename(tmp, path);
}

void frame_y(Figure& f, const std::vector<std::vector<double>>& curves) {
    double lo = INFINITY, hi = -INFINITY;
    for (const auto& c : curves)
        for (double v : c)
            if (!std::isnan(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    if (!std::isfinite(lo)) return;
    f.ymin = std::floor((lo - 0.01) * 20.0) / 20.0;
    f.ymax = std::min(1.0, std::ceil((hi + 0.01) * 20.0) / 20.0);
}

bool plot(const Figure& f, const std::string& stem) {
    if (!writer()) return false;
    const std::string gp = stem + ".gp";
    {
        std::ofstream out(gp);
        out << "# drawn by qbert from the CSV beside it; rerun: gnuplot " << fs::path(gp).filename().string() << "\n";
        out << "set datafile separator ','\nset key " << f.key << " box opaque\nset grid\n";
        out << "set title \"" << f.title << "\"\nset xlabel \"" << f.xlabel << "\"\nset ylabel \"" << f.ylabel << "\"\n";
        if (!f.xtics.empty()) out << "set xtics " << f.xtics << "\n";
        out << "set yrange [" << f.ymin << ":" << f.ymax << "]\n";
        for (const auto& [label, y] : f.hlines)
            out << "set arrow from graph 0, first " << y << " to graph 1, first " << y << " nohead dt 2 lc rgb '#555555'\n"
                << "set label \"" << label << "\" at graph 0.02, first " << y + 0.008 << " tc rgb '#555555'\n";
        std::string plot_cmd = "plot ";
        for (size_t i = 0; i < f.curves.size(); ++i) {
            const Curve& c = f.curves[i];
            // past gnuplot's 8 colours, the next curves are dashed with other points
            const std::string look = i < 8 ? " lw 2 pt 7" : " lw 2 dt 2 pt " + std::to_string(5 + 2 * ((i / 8) % 4));
            plot_cmd += (i ? ", \\\n     " : "") + std::string("'") + fs::path(c.data_file).filename().string() +
                        "' every ::1 using " + c.using_spec + " with " + c.style + look + " title \"" + c.title + "\"";
        }
        const std::string name = fs::path(stem).filename().string();
        // noenhanced: titles are plain text (format names have underscores, not subscripts)
        out << "set terminal pngcairo size 900,600 font ',11' noenhanced\nset output '" << name << ".png'\n" << plot_cmd << "\n";
        out << "set terminal svg size 900,600 font ',11' noenhanced\nset output '" << name << ".svg'\n" << plot_cmd << "\n";
    }
    if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
        std::fprintf(stderr, "warning: gnuplot not found: wrote %s but no figure (apt-get install gnuplot-nox)\n", gp.c_str());
        return false;
    }
    const std::string dir = fs::path(stem).parent_path().string();
    const std::string cmd = "cd '" + (dir.empty() ? std::string(".") : dir) + "' && gnuplot '" +
                            fs::path(gp).filename().string() + "' 2> '" + fs::path(stem).filename().string() + ".gp.log'";
    if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "warning: gnuplot failed on %s (see %s.gp.log)\n", gp.c_str(), stem.c_str());
        return false;
    }
    return fs::exists(stem + ".png") && fs::exists(stem + ".svg");
}

void check_run_settings(const std::string& dir, const nlohmann::json& now) {
    const fs::path path = fs::path(dir) / "settings.json";
    if (std::ifstream in(path); in) {
        nlohmann::json before;
        try {
            in >> before;
        } catch (const nlohmann::json::exception& e) {
            throw Error(concat("'", path.string(), "' is not JSON: ", e.what()));
        }
        for (const auto& [key, value] : now.items())
            if (!before.contains(key) || before[key] != value)
                throw Error(concat("'", path.string(), "': this directory was started with ", key, " = ",
                                   before.contains(key) ? before[key].dump() : "(none)", ", now ", value.dump(),
                                   "; use another --out, or the same settings to resume"));
        return;
    }
    fs::create_directories(dir);
    if (writer()) write_file_atomic(path.string(), now.dump(2) + "\n");
}

nlohmann::json settings_json(const model::TrainConfig& cfg) {
    nlohmann::json j = nlohmann::json::parse(cfg.to_json());
    if (j.contains("data")) j["data"].erase("cache_dir");
    return j;
}

}  // namespace qbert::experiments
