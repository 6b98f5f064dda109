// Reading pass configs from TOML with errors that name the file and the key. Tables of fixed keys go through
// model/config_fields.h (ConfigFields + model::read_toml); these helpers are for the parts whose keys are not
// fixed (quantize's per-type and per-name entries).
#pragma once

#include <set>
#include <string>

#include "engine/core/error.h"
#include "model/config_toml.h"

namespace qbert::passes {

// Parses a TOML file; a missing file or a syntax error throws naming the file (and line).
using model::load_toml_file;
using model::parse_toml;

// Keys of `t` outside `valid` throw: "<where>: unknown key 'k'; valid keys: a, b, c".
void check_keys(const toml::table& t, const std::set<std::string>& valid, const std::string& where);

// A required string: missing or wrong-typed throws naming `where` and the key.
std::string req_string(const toml::table& t, const std::string& key, const std::string& where);

}  // namespace qbert::passes
