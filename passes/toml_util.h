// Small helpers for reading pass configs from TOML with errors that name the file and the key.
#pragma once

#include <toml++/toml.h>

#include <set>
#include <string>

#include "engine/core/error.h"

namespace qbert::passes {

// Parses a TOML file; a missing file or a syntax error throws naming the file (and line).
toml::table load_toml_file(const std::string& path);
toml::table parse_toml(const std::string& text, const std::string& source);

// Keys of `t` outside `valid` throw: "<where>: unknown key 'k'; valid keys: a, b, c".
void check_keys(const toml::table& t, const std::set<std::string>& valid, const std::string& where);

// Typed reads: missing (for req_*) or wrong-typed values throw naming `where` and the key.
int64_t req_int(const toml::table& t, const std::string& key, const std::string& where);
double req_number(const toml::table& t, const std::string& key, const std::string& where);  // int or float
std::string req_string(const toml::table& t, const std::string& key, const std::string& where);
bool opt_bool(const toml::table& t, const std::string& key, bool dflt, const std::string& where);
std::string opt_string(const toml::table& t, const std::string& key, const std::string& dflt, const std::string& where);

}  // namespace qbert::passes
