#include "passes/toml_util.h"

#include <fstream>
#include <sstream>

namespace qbert::passes {

using engine::Error;
using engine::detail::concat;

toml::table parse_toml(const std::string& text, const std::string& source) {
    try {
        return toml::parse(std::string_view(text), std::string_view(source));
    } catch (const toml::parse_error& e) {
        throw Error(concat(source, ":", e.source().begin.line, ": ", e.description()));
    }
}

toml::table load_toml_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(concat("config '", path, "': cannot open (missing file?)"));
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_toml(ss.str(), "config '" + path + "'");
}

void check_keys(const toml::table& t, const std::set<std::string>& valid, const std::string& where) {
    for (auto&& [k, v] : t) {
        if (valid.count(std::string(k.str()))) continue;
        std::string list;
        for (const auto& s : valid) list += (list.empty() ? "" : ", ") + s;
        throw Error(concat(where, ": unknown key '", k.str(), "'; valid keys: ", list));
    }
}

namespace {
const toml::node& required(const toml::table& t, const std::string& key, const std::string& where) {
    const toml::node* n = t.get(key);
    if (!n) throw Error(concat(where, ": missing required key '", key, "'"));
    return *n;
}
}  // namespace

int64_t req_int(const toml::table& t, const std::string& key, const std::string& where) {
    const toml::node& n = required(t, key, where);
    if (!n.is_integer()) throw Error(concat(where, ": '", key, "' must be an integer, but is a ", n.type()));
    return *n.value<int64_t>();
}

double req_number(const toml::table& t, const std::string& key, const std::string& where) {
    const toml::node& n = required(t, key, where);
    if (!n.is_number()) throw Error(concat(where, ": '", key, "' must be a number, but is a ", n.type()));
    return *n.value<double>();
}

std::string req_string(const toml::table& t, const std::string& key, const std::string& where) {
    const toml::node& n = required(t, key, where);
    if (!n.is_string()) throw Error(concat(where, ": '", key, "' must be a string, but is a ", n.type()));
    return *n.value<std::string>();
}

bool opt_bool(const toml::table& t, const std::string& key, bool dflt, const std::string& where) {
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    if (!n->is_boolean()) throw Error(concat(where, ": '", key, "' must be true or false, but is a ", n->type()));
    return *n->value<bool>();
}

std::string opt_string(const toml::table& t, const std::string& key, const std::string& dflt, const std::string& where) {
    return t.get(key) ? req_string(t, key, where) : dflt;
}

}  // namespace qbert::passes
