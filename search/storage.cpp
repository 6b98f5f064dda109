#include "search/storage.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <ctime>
#include <thread>

namespace qbert::search {

using json = nlohmann::json;

const char* state_name(TrialState s) {
    switch (s) {
    case TrialState::Running: return "running";
    case TrialState::Complete: return "complete";
    case TrialState::Pruned: return "pruned";
    case TrialState::Fail: return "fail";
    }
    return "?";
}

TrialState parse_state(const std::string& s) {
    if (s == "running") return TrialState::Running;
    if (s == "complete") return TrialState::Complete;
    if (s == "pruned") return TrialState::Pruned;
    if (s == "fail") return TrialState::Fail;
    throw Error("unknown trial state '" + s + "'");
}

const char* direction_name(Direction d) { return d == Direction::Maximize ? "maximize" : "minimize"; }

Direction parse_direction(const std::string& s) {
    if (s == "maximize") return Direction::Maximize;
    if (s == "minimize") return Direction::Minimize;
    throw Error("direction must be maximize or minimize, got '" + s + "'");
}

std::vector<Direction> parse_directions(const std::string& s) {
    std::vector<Direction> out;
    size_t from = 0;
    for (;;) {
        const size_t comma = s.find(',', from);
        std::string item = s.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
        const size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
        item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
        if (item.empty())
            throw Error("directions '" + s + "': an empty entry (give maximize or minimize per objective, comma-separated)");
        out.push_back(parse_direction(item));
        if (comma == std::string::npos) return out;
        from = comma + 1;
    }
}

std::string directions_name(const std::vector<Direction>& d) {
    std::string s;
    for (Direction x : d) s += (s.empty() ? "" : ",") + std::string(direction_name(x));
    return s;
}

json FrozenTrial::external(const std::string& name) const {
    const auto it = params.find(name);
    if (it == params.end()) throw Error("trial " + std::to_string(number) + " has no parameter '" + name + "'");
    return distributions.at(name).to_external(it->second);
}

json FrozenTrial::params_json() const {
    json j = json::object();
    for (const auto& [name, v] : params) j[name] = distributions.at(name).to_external(v);
    return j;
}

json FrozenTrial::shown(const std::string& name) const {
    if (auto it = user_attrs.find("param_values"); it != user_attrs.end() && it->is_object() && it->contains(name))
        return (*it)[name];
    return external(name);
}

json FrozenTrial::shown_params() const {
    json j = json::object();
    for (const auto& [name, v] : params) j[name] = shown(name);
    return j;
}

namespace {

std::string now_iso() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

double seconds_since_epoch() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One prepared statement; binds by position (1-based), steps, finalizes. Errors name the database file.
class Stmt {
public:
    Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
        if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail("prepare");
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
    Stmt& bind(int i, double v) { return check(sqlite3_bind_double(s_, i, v)); }
    Stmt& bind(int i, const std::string& v) { return check(sqlite3_bind_text(s_, i, v.c_str(), -1, SQLITE_TRANSIENT)); }
    Stmt& bind_null(int i) { return check(sqlite3_bind_null(s_, i)); }
    bool step() {  // true while a row is available
        const int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail("step");
        return false;
    }
    int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
    double f64(int c) const { return sqlite3_column_double(s_, c); }
    bool null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
    bool is_text(int c) const { return sqlite3_column_type(s_, c) == SQLITE_TEXT; }
    std::string text(int c) const {
        const auto* p = sqlite3_column_text(s_, c);
        return p ? reinterpret_cast<const char*>(p) : "";
    }

private:
    Stmt& check(int rc) {
        if (rc != SQLITE_OK) fail("bind");
        return *this;
    }
    [[noreturn]] void fail(const char* what) {
        throw Error("study storage '" + path_ + "': " + what + ": " + sqlite3_errmsg(db_));
    }
    sqlite3* db_;
    std::string path_;
    sqlite3_stmt* s_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if anything throws: a writer holds the lock for the whole
// read-modify-write (trial numbers, attribute merges), other processes wait up to the busy timeout.
class Transaction {
public:
    Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) { run("BEGIN IMMEDIATE"); }
    ~Transaction() {
        if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void commit() {
        run("COMMIT");
        done_ = true;
    }

private:
    void run(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            const std::string msg = err ? err : "unknown error";
            sqlite3_free(err);
            throw Error("study storage '" + path_ + "': " + sql + ": " + msg);
        }
    }
    sqlite3* db_;
    std::string path_;
    bool done_ = false;
};

}  // namespace

Storage::Storage(const std::string& path) : path_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error("study storage '" + path + "': cannot open: " + msg);
    }
    sqlite3_busy_timeout(db_, 120000);  // other processes hold the write lock only for one short transaction
    try {
        // Switching a fresh file to WAL needs it to itself, and SQLite answers BUSY at once (without the busy
        // handler) when another process opens the same new file at that moment: retry for a while.
        const auto setup = [&](const char* sql) {
            for (int attempt = 0;; ++attempt) {
                const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
                if (rc == SQLITE_OK) return;
                if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) exec(sql);  // throws with the message
                if (attempt >= 2400) exec(sql);                                           // ~2 minutes: give up
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        };
        if (path != ":memory:") setup("PRAGMA journal_mode=WAL");
        setup("PRAGMA synchronous=FULL");
        setup("PRAGMA foreign_keys=ON");
        setup(R"(CREATE TABLE IF NOT EXISTS studies (
                  study_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, direction TEXT NOT NULL,
                  meta TEXT NOT NULL, created TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS trials (
                  trial_id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(study_id),
                  number INTEGER NOT NULL, state TEXT NOT NULL, value REAL, finish_order INTEGER,
                  user_attrs TEXT NOT NULL, system_attrs TEXT NOT NULL,
                  started TEXT NOT NULL, finished TEXT, started_s REAL NOT NULL, duration_s REAL,
                  UNIQUE(study_id, number));
                CREATE TABLE IF NOT EXISTS params (
                  trial_id INTEGER NOT NULL REFERENCES trials(trial_id), name TEXT NOT NULL,
                  internal REAL NOT NULL, distribution TEXT NOT NULL, PRIMARY KEY(trial_id, name));
                CREATE TABLE IF NOT EXISTS intermediate (
                  trial_id INTEGER NOT NULL REFERENCES trials(trial_id), step INTEGER NOT NULL,
                  value REAL NOT NULL, PRIMARY KEY(trial_id, step));
                CREATE TABLE IF NOT EXISTS trial_values (
                  trial_id INTEGER NOT NULL REFERENCES trials(trial_id), objective INTEGER NOT NULL,
                  value REAL NOT NULL, PRIMARY KEY(trial_id, objective));)");
    } catch (...) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
    }
}

Storage::~Storage() { sqlite3_close(db_); }

void Storage::exec(const std::string& sql) const {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string msg = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        throw Error("study storage '" + path_ + "': " + msg + (msg.find("not a database") != std::string::npos
                                                                   ? " (is this a qbert study file?)" : ""));
    }
}

std::optional<StudyRecord> Storage::find_study(const std::string& name) const {
    Stmt s(db_, path_, "SELECT study_id, direction, meta FROM studies WHERE name = ?");
    s.bind(1, name);
    if (!s.step()) return std::nullopt;
    const std::vector<Direction> dirs = parse_directions(s.text(1));
    return StudyRecord{s.i64(0), name, dirs[0], dirs, json::parse(s.text(2))};
}

StudyRecord Storage::create_study(const std::string& name, Direction direction, const json& meta) {
    return create_study(name, std::vector<Direction>{direction}, meta);
}

StudyRecord Storage::create_study(const std::string& name, const std::vector<Direction>& directions, const json& meta) {
    if (directions.empty()) throw Error("study '" + name + "': a study needs at least one direction");
    Transaction tx(db_, path_);
    if (auto existing = find_study(name)) return *existing;  // created by another process meanwhile
    Stmt s(db_, path_, "INSERT INTO studies(name, direction, meta, created) VALUES (?, ?, ?, ?)");
    s.bind(1, name).bind(2, directions_name(directions)).bind(3, meta.dump()).bind(4, now_iso());
    s.step();
    const int64_t id = sqlite3_last_insert_rowid(db_);
    tx.commit();
    return StudyRecord{id, name, directions[0], directions, meta};
}

std::vector<std::string> Storage::study_names() const {
    Stmt s(db_, path_, "SELECT name FROM studies ORDER BY study_id");
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
}

FrozenTrial Storage::create_trial(int64_t study_id, const json& system_attrs) {
    Transaction tx(db_, path_);
    Stmt n(db_, path_, "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?");
    n.bind(1, study_id);
    n.step();
    FrozenTrial t;
    t.number = n.i64(0);
    t.system_attrs = system_attrs;
    t.started = now_iso();
    Stmt s(db_, path_, "INSERT INTO trials(study_id, number, state, user_attrs, system_attrs, started, started_s) "
                       "VALUES (?, ?, 'running', '{}', ?, ?, ?)");
    s.bind(1, study_id).bind(2, t.number).bind(3, system_attrs.dump()).bind(4, t.started).bind(5, seconds_since_epoch());
    s.step();
    t.id = sqlite3_last_insert_rowid(db_);
    tx.commit();
    return t;
}

void Storage::set_param(int64_t trial_id, const std::string& name, double internal, const Distribution& d) {
    Stmt s(db_, path_, "INSERT OR REPLACE INTO params(trial_id, name, internal, distribution) VALUES (?, ?, ?, ?)");
    s.bind(1, trial_id).bind(2, name).bind(3, internal).bind(4, d.to_json().dump());
    s.step();
}

namespace {
void merge_attr(sqlite3* db, const std::string& path, int64_t trial_id, const char* column, const std::string& key,
                const json& value) {
    Transaction tx(db, path);
    const std::string get = std::string("SELECT ") + column + " FROM trials WHERE trial_id = ?";
    Stmt r(db, path, get.c_str());
    r.bind(1, trial_id);
    if (!r.step()) throw Error("study storage '" + path + "': no trial with id " + std::to_string(trial_id));
    json attrs = json::parse(r.text(0));
    attrs[key] = value;
    const std::string set = std::string("UPDATE trials SET ") + column + " = ? WHERE trial_id = ?";
    Stmt w(db, path, set.c_str());
    w.bind(1, attrs.dump()).bind(2, trial_id);
    w.step();
    tx.commit();
}
}  // namespace

void Storage::set_user_attr(int64_t trial_id, const std::string& key, const json& value) {
    merge_attr(db_, path_, trial_id, "user_attrs", key, value);
}
void Storage::set_system_attr(int64_t trial_id, const std::string& key, const json& value) {
    merge_attr(db_, path_, trial_id, "system_attrs", key, value);
}

void Storage::report(int64_t trial_id, int64_t step, double value) {
    Stmt s(db_, path_, "INSERT OR REPLACE INTO intermediate(trial_id, step, value) VALUES (?, ?, ?)");
    s.bind(1, trial_id).bind(2, step);
    if (std::isnan(value)) s.bind(3, std::string("nan"));  // SQLite stores a NaN double as NULL; the column is NOT NULL
    else s.bind(3, value);
    s.step();
}

void Storage::finish_trial(int64_t trial_id, TrialState state, std::optional<double> value) {
    finish_trial(trial_id, state, value ? std::vector<double>{*value} : std::vector<double>{});
}

void Storage::finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values) {
    if (state == TrialState::Running) throw Error("finish_trial: the new state must not be running");
    std::optional<double> value;  // the `value` column: a single objective's value
    if (values.size() == 1) value = values[0];
    Transaction tx(db_, path_);
    Stmt r(db_, path_, "SELECT state, study_id, number, started_s FROM trials WHERE trial_id = ?");
    r.bind(1, trial_id);
    if (!r.step()) throw Error("study storage '" + path_ + "': no trial with id " + std::to_string(trial_id));
    if (r.text(0) != "running")
        throw Error("trial " + std::to_string(r.i64(2)) + " already finished (" + r.text(0) + ")");
    const int64_t study_id = r.i64(1);
    const double duration = seconds_since_epoch() - r.f64(3);
    Stmt o(db_, path_, "SELECT COALESCE(MAX(finish_order) + 1, 0) FROM trials WHERE study_id = ?");
    o.bind(1, study_id);
    o.step();
    Stmt w(db_, path_, "UPDATE trials SET state = ?, value = ?, finish_order = ?, finished = ?, duration_s = ? "
                       "WHERE trial_id = ?");
    w.bind(1, std::string(state_name(state)));
    if (value && std::isfinite(*value)) w.bind(2, *value); else w.bind_null(2);
    w.bind(3, o.i64(0)).bind(4, now_iso()).bind(5, duration).bind(6, trial_id);
    w.step();
    if (values.size() > 1)
        for (size_t i = 0; i < values.size(); ++i) {
            Stmt v(db_, path_, "INSERT OR REPLACE INTO trial_values(trial_id, objective, value) VALUES (?, ?, ?)");
            v.bind(1, trial_id).bind(2, static_cast<int64_t>(i)).bind(3, values[i]);
            v.step();
        }
    tx.commit();
}

std::vector<FrozenTrial> Storage::trials(int64_t study_id, int64_t from_number) const {
    // one read transaction, so the trials, params and values are one consistent snapshot
    exec("BEGIN");
    std::vector<FrozenTrial> out;
    try {
        std::map<int64_t, size_t> by_id;
        Stmt s(db_, path_, "SELECT trial_id, number, state, value, finish_order, user_attrs, system_attrs, started, "
                           "finished, duration_s FROM trials WHERE study_id = ? AND number >= ? ORDER BY number");
        s.bind(1, study_id).bind(2, from_number);
        while (s.step()) {
            FrozenTrial t;
            t.id = s.i64(0);
            t.number = s.i64(1);
            t.state = parse_state(s.text(2));
            if (!s.null(3)) t.value = s.f64(3);
            t.finish_order = s.null(4) ? -1 : s.i64(4);
            t.user_attrs = json::parse(s.text(5));
            t.system_attrs = json::parse(s.text(6));
            t.started = s.text(7);
            t.finished = s.text(8);
            t.duration_s = s.null(9) ? 0.0 : s.f64(9);
            by_id[t.id] = out.size();
            out.push_back(std::move(t));
        }
        Stmt p(db_, path_, "SELECT p.trial_id, p.name, p.internal, p.distribution FROM params p "
                           "JOIN trials t ON t.trial_id = p.trial_id WHERE t.study_id = ? AND t.number >= ?");
        p.bind(1, study_id).bind(2, from_number);
        while (p.step()) {
            FrozenTrial& t = out[by_id.at(p.i64(0))];
            t.params[p.text(1)] = p.f64(2);
            t.distributions[p.text(1)] = Distribution::from_json(json::parse(p.text(3)));
        }
        Stmt iv(db_, path_, "SELECT i.trial_id, i.step, i.value FROM intermediate i "
                            "JOIN trials t ON t.trial_id = i.trial_id WHERE t.study_id = ? AND t.number >= ?");
        iv.bind(1, study_id).bind(2, from_number);
        while (iv.step())  // a NaN value is stored as the text 'nan' (see report())
            out[by_id.at(iv.i64(0))].intermediate[iv.i64(1)] =
                iv.is_text(2) ? std::numeric_limits<double>::quiet_NaN() : iv.f64(2);
        Stmt tv(db_, path_, "SELECT v.trial_id, v.objective, v.value FROM trial_values v "
                            "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = ? AND t.number >= ? "
                            "ORDER BY v.trial_id, v.objective");
        tv.bind(1, study_id).bind(2, from_number);
        while (tv.step()) out[by_id.at(tv.i64(0))].values.push_back(tv.f64(2));
        for (FrozenTrial& t : out)  // a single objective's value lives in trials.value
            if (t.values.empty() && t.value) t.values = {*t.value};
    } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    exec("COMMIT");
    return out;
}

FrozenTrial Storage::trial(int64_t trial_id) const {
    Stmt s(db_, path_, "SELECT study_id, number FROM trials WHERE trial_id = ?");
    s.bind(1, trial_id);
    if (!s.step()) throw Error("study storage '" + path_ + "': no trial with id " + std::to_string(trial_id));
    for (auto& t : trials(s.i64(0), s.i64(1)))
        if (t.id == trial_id) return t;
    throw Error("study storage '" + path_ + "': trial vanished");
}

}  // namespace qbert::search
