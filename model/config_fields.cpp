#include "model/config_fields.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/core/error.h"
#include "model/config_toml.h"

namespace qbert::model {

using engine::Error;
using json = nlohmann::json;
using Field = FieldTable::Field;

bool Range::contains(double v) const {
    if (std::isnan(v)) return false;
    if (lo && (lo_open ? !(v > *lo) : !(v >= *lo))) return false;
    if (hi && (hi_open ? !(v < *hi) : !(v <= *hi))) return false;
    return true;
}

std::string Range::describe() const {
    if (lo && hi) return fmt::format("in {}{}, {}{}", lo_open ? '(' : '[', *lo, *hi, hi_open ? ')' : ']');
    if (lo) return fmt::format("{} {}", lo_open ? ">" : ">=", *lo);
    if (hi) return fmt::format("{} {}", hi_open ? "<" : "<=", *hi);
    return "a number";
}

namespace {

std::string expected(const FieldInfo& f) {
    switch (f.type) {
        case FieldType::Int: return "an integer";
        case FieldType::UInt: return "a non-negative integer";
        case FieldType::Double: return "a number";
        case FieldType::Bool: return "true or false";
        case FieldType::String: return "a string";
        case FieldType::Choice:
            return f.choices.size() == 1 ? f.choices[0] : fmt::format("one of {}", fmt::join(f.choices, ", "));
    }
    return "?";
}

// A value as the user wrote it: strings quoted, doubles as %g would (nan, not JSON's null).
std::string show(const json& v) { return v.is_number_float() ? fmt::format("{}", v.get<double>()) : v.dump(); }

std::vector<std::string> split_path(const std::string& s) {
    std::vector<std::string> out;
    if (s.empty()) return out;
    std::stringstream ss(s);
    for (std::string part; std::getline(ss, part, '.');) out.push_back(part);
    return out;
}

std::string join_path(const std::string& a, const std::string& b) { return a.empty() ? b : b.empty() ? a : a + "." + b; }

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

const std::string& sec_of(const Field& f, bool toml) { return toml ? f.section : f.json_sec(); }
bool visible(const Field& f, bool toml) { return !toml || f.in_toml; }

const Field* find(const FieldTable& t, const std::string& sec, const std::string& key, bool toml) {
    for (const Field& f : t.fields)
        if (visible(f, toml) && sec_of(f, toml) == sec && f.key == key) return &f;
    return nullptr;
}

// `q` is a section some field sits in (or under).
bool is_section(const FieldTable& t, const std::string& q, bool toml) {
    for (const Field& f : t.fields) {
        const std::string& s = sec_of(f, toml);
        if (visible(f, toml) && (s == q || s.rfind(q + ".", 0) == 0)) return true;
    }
    return false;
}

std::string unknown_key(const FieldTable& t, const std::string& where, const std::string& prefix, const std::string& sec,
                        const std::string& key, bool toml) {
    const std::string in = join_path(prefix, sec);
    return fmt::format("{}: unknown key '{}'; valid keys{}: {}", where, join_path(in, key),
                       in.empty() ? "" : " in [" + in + "]", t.valid_keys(sec, toml));
}

std::string toml_type(const toml::node& n) {
    std::ostringstream os;
    os << n.type();
    return os.str();
}

json toml_value(const FieldInfo& f, const toml::node& n, const std::string& where, const std::string& name) {
    if (auto v = n.as_integer()) return v->get();
    if (auto v = n.as_floating_point()) return v->get();
    if (auto v = n.as_boolean()) return v->get();
    if (auto v = n.as_string()) return v->get();
    throw Error(fmt::format("{}: {} must be {}, but got a TOML {}", where, name, expected(f), toml_type(n)));
}

}  // namespace

void check_value(const FieldInfo& f, const json& v, const std::string& where, const std::string& name) {
    if (f.nullable && v.is_null()) return;
    auto fail = [&](const std::string& what) {
        throw Error(fmt::format("{}: {} must be {}, but got {}", where, name, what, show(v)));
    };
    switch (f.type) {
        case FieldType::Int:
            if (!v.is_number_integer()) fail(expected(f));
            if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(f.int_max)
                                       : v.get<int64_t>() < f.int_min || v.get<int64_t>() > f.int_max)
                fail(fmt::format("an integer in [{}, {}]", f.int_min, f.int_max));
            break;
        case FieldType::UInt:
            if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) fail(expected(f));
            break;
        case FieldType::Double:
            if (!v.is_number()) fail(expected(f));
            break;
        case FieldType::Bool:
            if (!v.is_boolean()) fail(expected(f));
            break;
        case FieldType::String:
            if (!v.is_string()) fail(expected(f));
            break;
        case FieldType::Choice:
            if (!v.is_string() || std::find(f.choices.begin(), f.choices.end(), v.get<std::string>()) == f.choices.end())
                fail(expected(f));
            break;
    }
    if (f.range && !f.range->contains(v.get<double>())) fail(f.range->describe());
}

std::string FieldTable::valid_keys(const std::string& section, bool toml) const {
    std::vector<std::string> keys;
    auto add = [&](const std::string& k) {
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    };
    const std::string under = section.empty() ? "" : section + ".";
    for (const Field& f : fields) {
        if (!visible(f, toml)) continue;
        const std::string& s = sec_of(f, toml);
        if (s == section) add(f.key);
        else if (s.rfind(under, 0) == 0) add(fmt::format("[{}]", s.substr(0, s.find('.', under.size()))));
    }
    return fmt::format("{}", fmt::join(keys, ", "));
}

nlohmann::ordered_json FieldTable::to_json(const void* obj) const {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (const Field& f : fields) {
        nlohmann::ordered_json* node = &out;
        for (const std::string& part : split_path(f.json_sec())) node = &(*node)[part];
        (*node)[f.key] = nlohmann::ordered_json(f.get(obj));
    }
    return out;
}

void FieldTable::read_json(void* obj, const json& j, const std::string& source, const std::set<std::string>& ignored) const {
    if (!j.is_object()) throw Error(fmt::format("{}: expected a JSON object, but got {}", source, show(j)));
    std::function<void(const json&, const std::string&)> check_keys = [&](const json& o, const std::string& sec) {
        for (const auto& [key, v] : o.items()) {
            const std::string q = join_path(sec, key);
            if (find(*this, sec, key, false)) continue;
            if (is_section(*this, q, false)) {
                if (!v.is_object()) throw Error(fmt::format("{}: {} must be an object, but got {}", source, q, show(v)));
                check_keys(v, q);
            } else if (!(sec.empty() && ignored.count(key))) {
                throw Error(unknown_key(*this, source, "", sec, key, false));
            }
        }
    };
    check_keys(j, "");
    for (const Field& f : fields) {
        const json* node = &j;
        for (const std::string& part : split_path(f.json_sec())) {
            const auto it = node->find(part);
            node = it == node->end() ? nullptr : &*it;
            if (!node) break;
        }
        if (!node) continue;
        const auto it = node->find(f.key);
        if (it == node->end()) continue;  // written before the field existed: keep the value
        check_value(f, *it, source, f.json_name());
        f.set(obj, *it);
    }
}

void FieldTable::read_toml_text(void* obj, const std::string& text, const std::string& source,
                                const std::vector<std::string>& overrides) const {
    read_toml_table(*this, obj, parse_toml(text, source), source, overrides);
}

void FieldTable::check(const void* obj, const std::string& where) const {
    for (const Field& f : fields) check_value(f, f.get(obj), where, f.name());
}

std::string FieldTable::help(const void* defaults) const {
    std::string out;
    for (const Field& f : fields) {
        if (!f.in_toml) continue;
        const std::string type = fmt::format("{} {}{}", expected(f), f.range ? f.range->describe() : "",
                                             f.required ? " (required)" : "");
        out += fmt::format("{:<34} {:<28} {}\n", fmt::format("{} = {}", f.name(), f.get(defaults).dump()), type, f.help);
    }
    return out;
}

toml::table parse_toml(const std::string& text, const std::string& source) {
    try {
        return toml::parse(std::string_view(text), std::string_view(source));
    } catch (const toml::parse_error& e) {
        throw Error(fmt::format("{}:{}: {}", source, e.source().begin.line, e.description()));
    }
}

toml::table load_toml_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(fmt::format("config '{}': cannot open (missing file?)", path));
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_toml(ss.str(), "config '" + path + "'");
}

void read_toml_table(const FieldTable& t, void* obj, const toml::table& root, const std::string& source,
                     const std::vector<std::string>& overrides, const std::string& prefix) {
    auto at = [&](const toml::node& n) {
        const auto line = n.source().begin.line;
        return line ? fmt::format("{}:{}", source, line) : source;
    };
    // every key of the file is a field or a section
    std::function<void(const toml::table&, const std::string&)> check_keys = [&](const toml::table& tbl,
                                                                                  const std::string& sec) {
        for (auto&& [k, node] : tbl) {
            const std::string key(k.str()), q = join_path(sec, key);
            if (find(t, sec, key, true)) continue;
            if (!is_section(t, q, true)) throw Error(unknown_key(t, at(node), prefix, sec, key, true));
            if (!node.is_table()) {
                const std::string full = join_path(prefix, q);
                throw Error(fmt::format("{}: {} must be a table ([{}]), but got a TOML {}", at(node), full, full,
                                        toml_type(node)));
            }
            check_keys(*node.as_table(), q);
        }
    };
    check_keys(root, "");
    // --set section.key=value: a TOML value, or else the text itself as a string (model.preset=mini)
    std::map<std::string, json> set_by;
    for (const std::string& kv : overrides) {
        const std::string origin = "--set '" + kv + "'";
        const size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(origin + ": expected section.key=value (e.g. train.lr=5e-4)");
        const std::string name = trim(kv.substr(0, eq)), raw = trim(kv.substr(eq + 1));
        const size_t dot = name.rfind('.');
        const std::string sec = dot == std::string::npos ? "" : name.substr(0, dot);
        const Field* f = find(t, sec, name.substr(dot == std::string::npos ? 0 : dot + 1), true);
        if (!f) {
            const bool known = !sec.empty() && is_section(t, sec, true);
            throw Error(unknown_key(t, origin, prefix, known ? sec : "", known ? name.substr(dot + 1) : name, true));
        }
        std::optional<toml::table> doc;
        try {
            const std::string line = "v = " + raw;
            doc = toml::parse(std::string_view(line), std::string_view("--set"));
        } catch (const toml::parse_error&) {
        }
        const toml::node* n = doc ? doc->get("v") : nullptr;
        const bool text = f->type == FieldType::String || f->type == FieldType::Choice;
        json v = !n || (text && !n->is_string()) ? json(raw) : toml_value(*f, *n, origin, join_path(prefix, name));
        check_value(*f, v, origin, join_path(prefix, name));
        set_by[name] = std::move(v);
    }
    for (const Field& f : t.fields) {
        if (!f.in_toml) continue;
        const std::string name = join_path(prefix, f.name());
        if (auto it = set_by.find(f.name()); it != set_by.end()) {
            f.set(obj, it->second);
            continue;
        }
        const toml::table* tbl = &root;
        for (const std::string& part : split_path(f.section)) {
            tbl = tbl->get_as<toml::table>(part);
            if (!tbl) break;
        }
        const toml::node* n = tbl ? tbl->get(f.key) : nullptr;
        if (!n) {
            if (f.required) throw Error(fmt::format("{}: missing required key '{}'", source, name));
            continue;
        }
        const json v = toml_value(f, *n, at(*n), name);
        check_value(f, v, at(*n), name);
        f.set(obj, v);
    }
}

}  // namespace qbert::model
