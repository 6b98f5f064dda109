#include "passes/quantize.h"

#include <regex>
#include <set>
#include <sstream>

namespace qbert::passes {

using engine::Error;
using engine::FixedPoint;
using engine::detail::concat;
using model::CompressedLinear;
using model::LinearQuantConfig;

namespace {
using engine::FormatKind;
using engine::NumberFormat;

// The parameters of each format, as Mase's QUANT_ARITH_ENTRIES names them per operand (<operand>_<param>).
// Required ones must be given for data_in, weight and bias alike (Mase reads them all, even for a bias-free
// layer); optional ones take Mase's defaults (exponent_bias: 2^(E-1)-1; data_in_skip_first_dim: true).
struct FormatKeys {
    std::vector<std::string> required, optional;
};
FormatKeys keys_of(FormatKind k) {
    switch (k) {
        case FormatKind::Integer: return {{"width", "frac_width"}, {}};
        case FormatKind::MinifloatDenorm:
        case FormatKind::MinifloatIeee: return {{"width", "exponent_width"}, {"exponent_bias"}};
        case FormatKind::Log: return {{"width"}, {"exponent_bias"}};
        case FormatKind::BlockFp: return {{"width", "exponent_width", "block_size"}, {"exponent_bias", "skip_first_dim"}};
        case FormatKind::BlockMinifloat:
            return {{"width", "exponent_width", "exponent_bias_width", "block_size"}, {"skip_first_dim"}};
        case FormatKind::BlockLog: return {{"width", "exponent_bias_width", "block_size"}, {"skip_first_dim"}};
        // only the weight is quantized (Mase's LinearBinary); width/bipolar are accepted as Mase's configs carry them
        case FormatKind::Binary: return {{}, {"width", "stochastic", "bipolar"}};
        case FormatKind::Ternary: return {{}, {"width", "scaling_factor"}};
        case FormatKind::Fp32: return {{}, {}};
    }
    return {};
}
const char* const kOperands[] = {"data_in", "weight", "bias"};
const std::set<std::string> kLayerKeys{"name", "bypass", "floor", "ste", "seed", "data_out_width", "data_out_frac_width"};

// "name, bypass, ..., weight_width, weight_exponent_width, ..." for `kind`
std::string valid_keys(FormatKind kind) {
    std::string s = "name, bypass, ste, seed";
    if (kind == FormatKind::Integer) s += ", floor, data_out_width, data_out_frac_width";
    const FormatKeys k = keys_of(kind);
    for (const char* op : kOperands)
        for (const auto* list : {&k.required, &k.optional})
            for (const auto& p : *list) s += ", " + std::string(op) + "_" + p;
    return s;
}

std::string shown(const toml::node& n) {
    if (auto v = n.value_exact<std::string>()) return "\"" + *v + "\"";
    if (auto v = n.value_exact<bool>()) return *v ? "true" : "false";
    if (auto v = n.value_exact<int64_t>()) return std::to_string(*v);
    if (auto v = n.value_exact<double>()) return concat(*v);
    return n.is_array() ? "an array" : "a table";
}
int int_at(const toml::node& n, const std::string& where) {
    if (auto v = n.value<int64_t>()) {
        if (*v >= -100000 && *v <= 100000) return static_cast<int>(*v);
    }
    throw Error(concat(where, " must be an integer, but got ", shown(n)));
}
bool bool_at(const toml::node& n, const std::string& where) {
    if (auto v = n.value_exact<bool>()) return *v;
    throw Error(concat(where, " must be true or false, but got ", shown(n)));
}
// binary's and ternary's switches: Mase's configs write them as 0 / 1 (binary.toml: stochastic = 0, bipolar = 1)
bool flag_at(const toml::node& n, const std::string& where) {
    if (auto v = n.value_exact<int64_t>(); v && (*v == 0 || *v == 1)) return *v == 1;
    if (auto v = n.value_exact<bool>()) return *v;
    throw Error(concat(where, " must be true or false (or 0 / 1), but got ", shown(n)));
}

// Where a key is in its file: "config 'q.toml':6: linear.weight_width".
std::string locate(const toml::node& n, const std::string& source, const std::string& path, const std::string& key) {
    const auto line = n.source().begin.line;
    return concat(source, line ? ":" + std::to_string(line) : "", ": ", path, ".", key);
}

// Every key's value has the type its parameter takes (before any check that a key is missing).
void check_types(const toml::table& t, const std::string& source, const std::string& path) {
    static const std::set<std::string> ints{"width", "frac_width", "exponent_width", "exponent_bias_width", "seed"};
    static const std::set<std::string> bools{"skip_first_dim", "floor", "bypass"};
    static const std::set<std::string> flags{"stochastic", "bipolar", "scaling_factor"};
    for (auto&& [k, n] : t) {
        const std::string key(k.str()), where = locate(n, source, path, key);
        std::string param = key;
        for (const char* op : {"data_in_", "weight_", "bias_", "data_out_"})
            if (param.rfind(op, 0) == 0) param = param.substr(std::string(op).size());
        if (ints.count(param)) int_at(n, where);
        if (bools.count(param)) bool_at(n, where);
        if (flags.count(param)) flag_at(n, where);
        if (param == "exponent_bias" && !n.value<std::string>()) int_at(n, where);
        if (param == "block_size") {
            if (const toml::array* arr = n.as_array()) {
                for (const toml::node& e : *arr) int_at(e, where + " entries");
            } else {
                int_at(n, where);
            }
        }
        if ((key == "name" || key == "ste") && !n.value<std::string>())
            throw Error(concat(where, " must be a string, but got ", shown(n)));
    }
}

// One operand's format from the entry's <operand>_<param> keys.
NumberFormat read_operand(const toml::table& t, FormatKind kind, const std::string& op, bool floor,
                          const std::string& where, const std::string& format_name) {
    NumberFormat f;
    f.kind = kind;
    f.floor = floor;
    // Mase: data_in_skip_first_dim defaults to true for block formats; weight and bias: false
    f.skip_first_dim = op == "data_in" && engine::is_block(kind);
    const FormatKeys k = keys_of(kind);
    for (const auto& p : k.required)
        if (!t.get(op + "_" + p))
            throw Error(concat(where, ": name = \"", format_name, "\" needs ", op, "_", p, " (valid keys: ",
                               valid_keys(kind), ")"));
    auto at = [&](const std::string& p) { return t.get(op + "_" + p); };
    const std::string w = where + " " + op + "_";
    if (const toml::node* n = at("width")) f.width = int_at(*n, w + "width");
    if (const toml::node* n = at("frac_width")) f.frac_width = int_at(*n, w + "frac_width");
    if (const toml::node* n = at("exponent_width")) f.exponent_width = int_at(*n, w + "exponent_width");
    if (const toml::node* n = at("exponent_bias")) {
        const auto s = n->value<std::string>();
        if (!(s && (*s == "none" || *s == "None"))) f.exponent_bias = int_at(*n, w + "exponent_bias");
    }
    if (const toml::node* n = at("exponent_bias_width")) f.exponent_bias_width = int_at(*n, w + "exponent_bias_width");
    if (const toml::node* n = at("block_size")) {
        f.block_size.clear();
        if (const toml::array* arr = n->as_array()) {
            for (const toml::node& e : *arr) f.block_size.push_back(int_at(e, w + "block_size entries"));
        } else {
            f.block_size.push_back(int_at(*n, w + "block_size"));
        }
    }
    if (const toml::node* n = at("skip_first_dim")) f.skip_first_dim = bool_at(*n, w + "skip_first_dim");
    if (const toml::node* n = at("stochastic")) f.stochastic = flag_at(*n, w + "stochastic");
    if (const toml::node* n = at("bipolar"); n && !flag_at(*n, w + "bipolar"))
        throw Error(concat(w, "bipolar = false: Mase's {0, 1} binarization works only on 4-D tensors; Linear layers "
                              "take bipolar = true (+-1)"));
    if (const toml::node* n = at("scaling_factor")) f.scaling = flag_at(*n, w + "scaling_factor");
    if (kind == FormatKind::Binary || kind == FormatKind::Ternary) f.width = NumberFormat{}.width;  // fixed by the format
    f.validate(where + " " + op);
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
    const std::string where = source + " [" + path + "]";
    check_types(*t, source, path);
    {  // keys no format has, before anything else (the format-specific check follows once name is known)
        std::set<std::string> any = kLayerKeys;
        for (FormatKind k : {FormatKind::Integer, FormatKind::MinifloatIeee, FormatKind::BlockFp,
                             FormatKind::BlockMinifloat, FormatKind::Binary, FormatKind::Ternary})
            for (const char* op : kOperands) {
                const FormatKeys fk = keys_of(k);
                for (const auto* list : {&fk.required, &fk.optional})
                    for (const auto& p : *list) any.insert(std::string(op) + "_" + p);
            }
        for (auto&& [k, v] : *t)
            if (!any.count(std::string(k.str()))) {
                const auto line = v.source().begin.line;
                throw Error(concat(source, line ? ":" + std::to_string(line) : "", ": unknown key '", path, ".",
                                   k.str(), "' (valid keys depend on name; for integer: ", valid_keys(FormatKind::Integer),
                                   ")"));
            }
    }
    if (const toml::node* b = t->get("bypass"); b && bool_at(*b, where + " bypass")) return std::nullopt;
    if (!t->get("name"))
        throw Error(concat(source, ": missing required key '", path, ".name' (none, fixed, ", engine::format_names(), ")"));
    const std::string name = req_string(*t, "name", where);
    if (name == "none") return std::nullopt;
    const auto kind = engine::parse_format(name);
    if (!kind || *kind == FormatKind::Fp32)
        throw Error(concat(locate(*t->get("name"), source, path, "name"), " must be one of none, fixed, ",
                           engine::format_names(), ", but got \"", name, "\""));
    // every key must belong to the layer or to this format
    std::set<std::string> valid = kLayerKeys;
    const FormatKeys fk = keys_of(*kind);
    for (const char* op : kOperands)
        for (const auto* list : {&fk.required, &fk.optional})
            for (const auto& p : *list) valid.insert(std::string(op) + "_" + p);
    for (auto&& [k, v] : *t)
        if (!valid.count(std::string(k.str()))) {
            const auto line = v.source().begin.line;
            throw Error(concat(source, line ? ":" + std::to_string(line) : "", ": unknown key '", path, ".", k.str(),
                               "' for name = \"", name, "\" (valid keys: ", valid_keys(*kind), ")"));
        }
    const bool floor = t->get("floor") && bool_at(*t->get("floor"), where + " floor");
    LinearQuantConfig c;
    const bool weight_only = *kind == FormatKind::Binary || *kind == FormatKind::Ternary;
    c.data_in = weight_only ? NumberFormat::fp32() : read_operand(*t, *kind, "data_in", floor, where, name);
    c.weight = read_operand(*t, *kind, "weight", floor, where, name);
    c.bias = weight_only ? NumberFormat::fp32() : read_operand(*t, *kind, "bias", floor, where, name);
    const toml::node* ow = t->get("data_out_width");
    const toml::node* of = t->get("data_out_frac_width");
    if (ow || of) {
        if (*kind != FormatKind::Integer)
            throw Error(concat(where, ": data_out_width applies to name = \"integer\" only"));
        if (!ow || !of) throw Error(concat(where, ": data_out needs data_out_width and data_out_frac_width"));
        FixedPoint q{int_at(*ow, where + " data_out_width"), int_at(*of, where + " data_out_frac_width"), true, floor};
        q.validate(where + " data_out");
        c.data_out = NumberFormat(q);
    }
    if (const toml::node* s = t->get("ste")) {
        const auto v = s->value<std::string>();
        if (!v || (*v != "identity" && *v != "clipped"))
            throw Error(concat(locate(*s, source, path, "ste"), " must be one of identity, clipped, but got ", shown(*s)));
        if (*v == "clipped" && *kind != FormatKind::Integer)
            throw Error(concat(where, ": ste = \"clipped\" is defined for name = \"integer\" only"));
        c.ste = *v == "clipped" ? engine::Ste::Clipped : engine::Ste::Identity;
    }
    if (const toml::node* s = t->get("seed")) c.seed = static_cast<uint64_t>(int_at(*s, where + " seed"));
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

model::LinearQuantConfig example_quant_config(FormatKind kind) {
    NumberFormat f;
    f.kind = kind;
    f.width = 8;
    f.frac_width = 4;
    f.exponent_width = kind == FormatKind::BlockFp ? 8 : 4;
    f.exponent_bias_width = 4;
    f.block_size = {1, 16};
    f.scaling = true;
    model::LinearQuantConfig c;
    const bool weight_only = kind == FormatKind::Binary || kind == FormatKind::Ternary;
    c.weight = f;
    c.bias = weight_only ? NumberFormat::fp32() : f;
    c.data_in = weight_only ? NumberFormat::fp32() : f;
    c.data_in.skip_first_dim = engine::is_block(kind);
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
