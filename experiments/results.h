// Experiment outputs: a CSV that grows one finished point at a time (so an interrupted sweep resumes where it
// stopped), and gnuplot figures (PNG and SVG) drawn from it.
#pragma once

#include <nlohmann/json.hpp>

#include "model/train.h"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace qbert::experiments {

// A CSV with a fixed header; rows are keyed by the values of `key_columns`. Every add() rewrites the whole
// file through a temp file + rename, so a crash never leaves a half-written table.
class ResultTable {
public:
    using Row = std::map<std::string, std::string>;
    // Loads `path` if it exists (its header must equal `columns`, else an error names the file).
    ResultTable(std::string path, std::vector<std::string> columns, std::vector<std::string> key_columns);
    bool has(const Row& key) const;
    const Row* find(const Row& key) const;
    void add(const Row& row);  // replaces a row with the same key
    const std::vector<Row>& rows() const { return rows_; }

    // A wide view for plotting: one line per x value, one column per series: the `column` of the row that
    // has x_column = x and every (key, value) of `match`; "NaN" (a gap in the figure) where no row is done yet.
    struct Series {
        std::string header, column;
        Row match;
    };
    void write_wide(const std::string& path, const std::string& x_column, const std::vector<std::string>& xs,
                    const std::vector<Series>& series) const;
    const std::string& path() const { return path_; }

private:
    bool same_key(const Row& a, const Row& b) const;
    void write() const;
    std::string path_;
    std::vector<std::string> columns_, keys_;
    std::vector<Row> rows_;
};

std::string fmt_num(double v, int digits = 4);
std::string fmt_num_or_nan(double v, int digits = 4);  // "NaN" (a gap in a figure) for NaN

// Seconds since t0, for the labs' timing lines.
double seconds_since(std::chrono::steady_clock::time_point t0);
// Writes `text` to `path` through a temp file and a rename (a crash leaves the old file or the new one).
void write_file_atomic(const std::string& path, const std::string& text);

// One curve: a title and the data file + columns gnuplot reads (a "using" spec such as "1:3").
struct Curve {
    std::string title, data_file, using_spec, style = "linespoints";
};
struct Figure {
    std::string title, xlabel, ylabel, xtics;  // xtics: e.g. "4,4,32" (empty = automatic)
    double ymin = 0.45, ymax = 0.95;
    std::string key = "bottom right";  // where the legend goes: a corner the curves leave empty
    std::vector<Curve> curves;
    std::vector<std::pair<std::string, double>> hlines;  // labelled horizontal reference lines (e.g. fp32 accuracy)
};
// Writes <stem>.gp and runs gnuplot for <stem>.png and <stem>.svg. Without gnuplot it prints a warning and
// keeps the script (the CSV is the result; the figure is a view of it). Returns true if both images exist.
bool plot(const Figure& f, const std::string& stem);
// A y range that frames the curves' values (NaN ignored) to 0.05, instead of a fixed one that flattens them.
void frame_y(Figure& f, const std::vector<std::vector<double>>& curves);

// A results directory belongs to one set of settings: the first run records them in DIR/settings.json, and a
// later run with different ones (which would mix incomparable points) stops, naming the field.
void check_run_settings(const std::string& dir, const nlohmann::json& settings);

// A training config as a run's settings: its JSON without what cannot change a result (data.cache_dir, where
// tokenized data are cached), so directories and studies started before that key was written still resume.
nlohmann::json settings_json(const model::TrainConfig& cfg);

}  // namespace qbert::experiments
