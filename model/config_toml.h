// The TOML side of config_fields.h, for code built with toml++ (model/, passes/): reading a parsed table, and
// parsing with errors that name the file and line.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "model/config_fields.h"

namespace qbert::model {

// Parses TOML text or a file; a syntax error throws "<source>:<line>: <what>", a missing file
// "config '<path>': cannot open (missing file?)". Errors in a file's values name it as "config '<path>'".
toml::table parse_toml(const std::string& text, const std::string& source);
toml::table load_toml_file(const std::string& path);

// ConfigFields::read_toml_text on a parsed table. `prefix` is where `t` sits in its file ("passes.prune"), for
// the key names in messages.
void read_toml_table(const FieldTable& fields, void* obj, const toml::table& t, const std::string& source,
                     const std::vector<std::string>& overrides = {}, const std::string& prefix = "");

template <class C>
void read_toml(const ConfigFields<C>& fields, C& c, const toml::table& t, const std::string& source,
               const std::vector<std::string>& overrides = {}, const std::string& prefix = "") {
    read_toml_table(fields.table(), &c, t, source, overrides, prefix);
}

}  // namespace qbert::model
