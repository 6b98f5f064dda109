#include "passes/toml_util.h"

namespace qbert::passes {

using engine::Error;
using engine::detail::concat;

void check_keys(const toml::table& t, const std::set<std::string>& valid, const std::string& where) {
    for (auto&& [k, v] : t) {
        if (valid.count(std::string(k.str()))) continue;
        std::string list;
        for (const auto& s : valid) list += (list.empty() ? "" : ", ") + s;
        throw Error(concat(where, ": unknown key '", k.str(), "'; valid keys: ", list));
    }
}

std::string req_string(const toml::table& t, const std::string& key, const std::string& where) {
    const toml::node* n = t.get(key);
    if (!n) throw Error(concat(where, ": missing required key '", key, "'"));
    if (!n->is_string()) throw Error(concat(where, ": '", key, "' must be a string, but is a ", n->type()));
    return *n->value<std::string>();
}

}  // namespace qbert::passes
