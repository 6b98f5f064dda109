#include "passes/quantize.h"

#include <regex>

namespace qbert::passes {

using engine::Error;
using engine::FixedPoint;
using engine::detail::concat;
using model::CompressedLinear;
using model::LinearQuantConfig;

namespace {
// One entry as written, with Mase's keys; read_entry turns it into the layer's LinearQuantConfig.
struct Entry {
    std::string name;
    std::optional<int> data_in_width, data_in_frac_width, weight_width, weight_frac_width, bias_width, bias_frac_width,
        data_out_width, data_out_frac_width;
    bool floor = false, bypass = false;
    engine::Ste ste = engine::Ste::Identity;
};

const model::ConfigFields<Entry>& entry_fields() {
    static const model::ConfigFields<Entry> f = [] {
        model::ConfigFields<Entry> f;
        f.add_choice("", "name", &Entry::name, {"integer", "fixed", "none"},
                     "fixed point (integer and fixed are the same), or none: the layer stays as it is")
            .required = true;
        f.add("", "data_in_width", &Entry::data_in_width, "bits of the layer's input (required)");
        f.add("", "data_in_frac_width", &Entry::data_in_frac_width, "bits after the binary point (required)");
        f.add("", "weight_width", &Entry::weight_width, "bits of the weights (required)");
        f.add("", "weight_frac_width", &Entry::weight_frac_width, "bits after the binary point (required)");
        f.add("", "bias_width", &Entry::bias_width, "bits of the bias (required)");
        f.add("", "bias_frac_width", &Entry::bias_frac_width, "bits after the binary point (required)");
        f.add("", "data_out_width", &Entry::data_out_width, "bits of the output (optional)");
        f.add("", "data_out_frac_width", &Entry::data_out_frac_width, "bits after the binary point (optional)");
        f.add("", "floor", &Entry::floor, "round toward -inf instead of half to even");
        f.add_enum("", "ste", &Entry::ste, {{"identity", engine::Ste::Identity}, {"clipped", engine::Ste::Clipped}},
                   "straight-through estimator of the backward pass");
        f.add("", "bypass", &Entry::bypass, "true: the layer stays as it is");
        return f;
    }();
    return f;
}

// The entry at `path` ("linear", "passes.quantize.default"); nullopt leaves the layer alone.
std::optional<LinearQuantConfig> read_entry(const toml::node& node, const std::string& source, std::string path) {
    const toml::table* t = node.as_table();
    if (!t) throw Error(concat(source, " [", path, "]: must be a table"));
    if (const toml::node* c = t->get("config")) {  // Mase's shape: <key>.config = {...}
        check_keys(*t, {"config"}, source + " [" + path + "]");
        t = c->as_table();
        path += ".config";
        if (!t) throw Error(concat(source, " [", path, "]: must be a table"));
    }
    Entry e;
    model::read_toml(entry_fields(), e, *t, source, {}, path);
    if (e.name == "none" || e.bypass) return std::nullopt;
    const std::string where = source + " [" + path + "]";
    auto fp = [&](const std::optional<int>& width, const std::optional<int>& frac, const std::string& prefix) {
        if (!width || !frac)
            throw Error(concat(where, ": name = \"", e.name, "\" needs ", prefix, "_width and ", prefix,
                               "_frac_width (valid keys: ", entry_fields().valid_keys(""), ")"));
        FixedPoint q{*width, *frac, true, e.floor};
        q.validate(where + " " + prefix);
        return q;
    };
    LinearQuantConfig c;
    c.data_in = fp(e.data_in_width, e.data_in_frac_width, "data_in");
    c.weight = fp(e.weight_width, e.weight_frac_width, "weight");
    c.bias = fp(e.bias_width, e.bias_frac_width, "bias");
    if (e.data_out_width || e.data_out_frac_width) c.data_out = fp(e.data_out_width, e.data_out_frac_width, "data_out");
    c.ste = e.ste;
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
    std::string prefix;  // where the config sits in the file
    for (const char* p : {"passes.quantize", "quantize"})
        if (const toml::table* t = root_in.at_path(p).as_table(); t && prefix.empty()) root = t, prefix = p;
    const std::string where = prefix.empty() ? source : source + " [" + prefix + "]";
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
        const std::string path = prefix.empty() ? key : prefix + "." + key;
        if (key == "default") {
            c.default_config = read_entry(v, source, path);
            continue;
        }
        const std::string ew = source + " [" + path + "]";
        if (c.by == By::Type && key != "linear")
            throw Error(concat(ew, ": type '", key, "' cannot be quantized here; quantizable types: linear"));
        if (c.by == By::RegexName) {
            try {
                std::regex re(key);
            } catch (const std::regex_error& e) {
                throw Error(concat(ew, ": not a valid regular expression: ", e.what()));
            }
        }
        c.entries.emplace_back(key, read_entry(v, source, path));
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
