#include "passes/quantize.h"

#include <regex>

namespace qbert::passes {

using engine::Error;
using engine::FixedPoint;
using engine::detail::concat;
using model::CompressedLinear;
using model::LinearQuantConfig;

namespace {
const std::set<std::string> kEntryKeys{"name", "data_in_width", "data_in_frac_width", "weight_width",
                                       "weight_frac_width", "bias_width", "bias_frac_width", "data_out_width",
                                       "data_out_frac_width", "floor", "ste", "bypass"};

FixedPoint read_fp(const toml::table& t, const std::string& prefix, bool floor, const std::string& where) {
    const std::string wk = prefix + "_width", fk = prefix + "_frac_width";
    if (!t.get(wk) || !t.get(fk)) {
        throw Error(concat(where, ": name = \"integer\" needs ", wk, " and ", fk,
                           " (required: data_in_width, data_in_frac_width, weight_width, weight_frac_width, "
                           "bias_width, bias_frac_width; optional: data_out_width, data_out_frac_width, floor, ste)"));
    }
    FixedPoint q{static_cast<int>(req_int(t, wk, where)), static_cast<int>(req_int(t, fk, where)), true, floor};
    q.validate(where + " " + prefix);
    return q;
}

std::optional<LinearQuantConfig> read_entry(const toml::node& node, const std::string& where_in) {
    const toml::table* t = node.as_table();
    if (!t) throw Error(concat(where_in, ": must be a table"));
    std::string where = where_in;
    if (const toml::node* c = t->get("config")) {  // Mase's shape: <key>.config = {...}
        check_keys(*t, {"config"}, where);
        t = c->as_table();
        where += ".config";
        if (!t) throw Error(concat(where, ": must be a table"));
    }
    check_keys(*t, kEntryKeys, where);
    const std::string name = req_string(*t, "name", where);
    if (name == "none") return std::nullopt;
    if (name != "integer" && name != "fixed")
        throw Error(concat(where, ": name '", name, "' is not a supported format; valid: integer, fixed, none"));
    if (opt_bool(*t, "bypass", false, where)) return std::nullopt;
    const bool floor = opt_bool(*t, "floor", false, where);
    LinearQuantConfig c;
    c.data_in = read_fp(*t, "data_in", floor, where);
    c.weight = read_fp(*t, "weight", floor, where);
    c.bias = read_fp(*t, "bias", floor, where);
    if (t->get("data_out_width") || t->get("data_out_frac_width")) c.data_out = read_fp(*t, "data_out", floor, where);
    const std::string ste = opt_string(*t, "ste", "identity", where);
    if (ste != "identity" && ste != "clipped")
        throw Error(concat(where, ": ste '", ste, "' is not one of identity, clipped"));
    c.ste = ste == "clipped" ? engine::Ste::Clipped : engine::Ste::Identity;
    return c;
}

bool is_linear(const model::Module& m) { return dynamic_cast<const model::Linear*>(&m) != nullptr; }

std::string underscored(std::string s) {
    for (char& c : s)
        if (c == '.') c = '_';
    return s;
}
}  // namespace

QuantizeConfig QuantizeConfig::from_toml(const toml::table& root_in, const std::string& source) {
    const toml::table* root = &root_in;
    std::string where = source;
    if (const toml::table* p = root->at_path("passes.quantize").as_table()) {
        root = p;
        where += " [passes.quantize]";
    } else if (const toml::table* q = root->at_path("quantize").as_table()) {
        root = q;
        where += " [quantize]";
    }
    QuantizeConfig c;
    const std::string by = req_string(*root, "by", where);
    if (by == "type") c.by = By::Type;
    else if (by == "name") c.by = By::Name;
    else if (by == "regex_name") c.by = By::RegexName;
    else throw Error(concat(where, ": by = '", by, "' is not one of type, name, regex_name"));
    if (!root->get("default"))
        throw Error(concat(where, ": missing [default] (name = \"none\" leaves unlisted layers alone)"));
    for (auto&& [k, v] : *root) {
        const std::string key(k.str());
        if (key == "by") continue;
        const std::string ew = where + " [" + key + "]";
        if (key == "default") {
            c.default_config = read_entry(v, ew);
            continue;
        }
        if (c.by == By::Type && key != "linear")
            throw Error(concat(ew, ": type '", key, "' cannot be quantized here; quantizable types: linear"));
        if (c.by == By::RegexName) {
            try {
                std::regex re(key);
            } catch (const std::regex_error& e) {
                throw Error(concat(ew, ": not a valid regular expression: ", e.what()));
            }
        }
        c.entries.emplace_back(key, read_entry(v, ew));
    }
    return c;
}

QuantizeConfig QuantizeConfig::from_file(const std::string& path) {
    return from_toml(load_toml_file(path), "config '" + path + "'");
}

QuantizeConfig QuantizeConfig::uniform(const FixedPoint& q, engine::Ste ste) {
    QuantizeConfig c;
    LinearQuantConfig l{q, q, q, std::nullopt, ste};
    c.entries.emplace_back("linear", l);
    return c;
}

std::vector<std::pair<std::string, std::shared_ptr<model::Module>>> linear_layers(const model::Module& m) {
    std::vector<std::pair<std::string, std::shared_ptr<model::Module>>> out;
    for (const auto& [name, mod] : m.named_modules())
        if (is_linear(*mod)) out.emplace_back(name, mod);
    return out;
}

std::vector<QuantizedLayer> quantize(model::Module& model, const QuantizeConfig& cfg) {
    std::vector<QuantizedLayer> done;
    for (const auto& [name, mod] : linear_layers(model)) {
        const std::optional<LinearQuantConfig>* chosen = &cfg.default_config;
        std::string matched;
        for (const auto& [key, entry] : cfg.entries) {
            bool hit = false;
            switch (cfg.by) {
                case QuantizeConfig::By::Type: hit = key == "linear"; break;
                case QuantizeConfig::By::Name: hit = key == name || key == underscored(name); break;
                case QuantizeConfig::By::RegexName: hit = std::regex_match(name, std::regex(key)); break;
            }
            if (!hit) continue;
            if (!matched.empty())
                throw Error(concat("quantize: layer '", name, "' matches both '", matched, "' and '", key, "'"));
            matched = key;
            chosen = &entry;
        }
        if (!*chosen) continue;
        model::compress_layer(model, name).set_quant(**chosen);
        done.push_back({name, **chosen});
    }
    return done;
}

}  // namespace qbert::passes
