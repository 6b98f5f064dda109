// One description per config struct. A ConfigFields<C> lists each field once (TOML section and key, member,
// type, optional range, help), and every reader and writer walks that list:
//
//   TOML  read_toml (config_toml.h) / read_toml_text: unknown keys and sections throw listing the valid ones,
//         wrong types and out-of-range values throw naming the file and line (or the --set) and section.key;
//         "section.key=value" overrides (--set) apply over the file
//   JSON  to_json / read_json: the same fields; keys absent from the JSON keep the object's values, so JSON
//         written before a field existed still loads
//   also  check (ranges of the values in a struct built in code), valid_keys, help
//
// Fields are set in the order they were added (TrainConfig's model.preset first, then the fields it presets).
// Errors are engine::Error:
//   config 'a.toml':12: train.lr must be in (0, 1), but got 2
//   --set 'train.epochs=two': train.epochs must be an integer, but got "two"
//   config 'a.toml':3: unknown key 'train.epoch'; valid keys in [train]: batch_size, eval_batch_size, epochs, ...
//
// Where it lives: model/ is the lowest layer its users (model/ and passes/) share. engine/ reads no config
// files, and search/ (which may not include model/ or engine/) reads search spaces, whose keys depend on each
// parameter's type, with code of its own. TOML stays out of this header: the system toml++ is a compiled
// library that needs its own defines (model/ and passes/ have them), so reading a parsed table is in
// config_toml.h. The walking code is not a template (config_fields.cpp); only the member access is.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace qbert::model {

enum class FieldType { Int, UInt, Double, Bool, String, Choice };

// Bounds of a numeric field; describe() gives ">= 1", "> 0" or "in [0, 1)".
struct Range {
    std::optional<double> lo, hi;
    bool lo_open = false, hi_open = false;

    static Range at_least(double lo) { return {lo, std::nullopt, false, false}; }
    static Range above(double lo) { return {lo, std::nullopt, true, false}; }
    static Range closed(double lo, double hi) { return {lo, hi, false, false}; }
    static Range closed_open(double lo, double hi) { return {lo, hi, false, true}; }
    static Range open(double lo, double hi) { return {lo, hi, true, true}; }
    bool contains(double v) const;
    std::string describe() const;
};

// What a field is, apart from how it is reached in the struct.
struct FieldInfo {
    std::string section;  // TOML [section] (dotted for a nested table); "" = top level
    std::string key;
    FieldType type = FieldType::Int;
    std::string help;
    std::optional<Range> range;
    std::vector<std::string> choices;  // Choice: the accepted strings
    int64_t int_min = std::numeric_limits<int64_t>::min(), int_max = std::numeric_limits<int64_t>::max();  // Int
    bool nullable = false;  // an std::optional member: JSON null (or absent) is "not set"
    bool required = false;  // absent from TOML is an error (JSON absent keeps the value)
    bool in_toml = true;    // false: JSON only (BertConfig's hidden_act)
    std::optional<std::string> json_section;  // where JSON keeps it, when not under `section`

    std::string name() const { return section.empty() ? key : section + "." + key; }
    const std::string& json_sec() const { return json_section ? *json_section : section; }
    std::string json_name() const { return json_sec().empty() ? key : json_sec() + "." + key; }
};

// Throws "<where>: <name> must be <type / range / choices>, but got <v>" unless `v` suits `f`.
void check_value(const FieldInfo& f, const nlohmann::json& v, const std::string& where, const std::string& name);

// The type-erased table ConfigFields<C> wraps; `obj` is a C*.
struct FieldTable {
    struct Field : FieldInfo {
        std::function<nlohmann::json(const void* obj)> get;
        std::function<void(void* obj, const nlohmann::json& checked)> set;
    };
    std::vector<Field> fields;

    nlohmann::ordered_json to_json(const void* obj) const;
    void read_json(void* obj, const nlohmann::json& j, const std::string& source,
                   const std::set<std::string>& ignored) const;
    void read_toml_text(void* obj, const std::string& text, const std::string& source,
                        const std::vector<std::string>& overrides) const;
    void check(const void* obj, const std::string& where) const;
    // "a, b, [sub]": the keys of `section` (nested sections in brackets), in table order.
    std::string valid_keys(const std::string& section, bool toml = true) const;
    std::string help(const void* defaults) const;
};

namespace config_detail {
template <class T>
struct optional_of {
    using type = T;
    static constexpr bool nullable = false;
};
template <class T>
struct optional_of<std::optional<T>> {
    using type = T;
    static constexpr bool nullable = true;
};
}  // namespace config_detail

template <class C>
class ConfigFields {
public:
    using Field = FieldTable::Field;

    // A member of type int, int64_t, uint64_t, double, bool or std::string, or an std::optional of one.
    template <class T>
    Field& add(std::string section, std::string key, T C::*member, std::string help,
               std::optional<Range> range = std::nullopt) {
        using V = typename config_detail::optional_of<T>::type;
        Field f;
        f.section = std::move(section), f.key = std::move(key), f.help = std::move(help), f.range = range;
        f.nullable = config_detail::optional_of<T>::nullable;
        if constexpr (std::is_same_v<V, bool>) {
            f.type = FieldType::Bool;
        } else if constexpr (std::is_same_v<V, std::string>) {
            f.type = FieldType::String;
        } else if constexpr (std::is_floating_point_v<V>) {
            f.type = FieldType::Double;
        } else if constexpr (std::is_same_v<V, uint64_t>) {
            f.type = FieldType::UInt;
        } else {
            static_assert(std::is_integral_v<V> && std::is_signed_v<V>, "unsupported field type");
            f.type = FieldType::Int;
            f.int_min = std::numeric_limits<V>::min(), f.int_max = std::numeric_limits<V>::max();
        }
        f.get = [member](const void* o) -> nlohmann::json {
            const T& v = static_cast<const C*>(o)->*member;
            if constexpr (config_detail::optional_of<T>::nullable) {
                if (!v) return nullptr;
                return *v;
            } else {
                return v;
            }
        };
        f.set = [member](void* o, const nlohmann::json& v) {
            T& dst = static_cast<C*>(o)->*member;
            if constexpr (config_detail::optional_of<T>::nullable) {
                if (v.is_null()) return void(dst = std::nullopt);
            }
            dst = v.get<V>();
        };
        return push(std::move(f));
    }

    // A string member that must be one of `choices`.
    Field& add_choice(std::string section, std::string key, std::string C::*member, std::vector<std::string> choices,
                      std::string help) {
        Field& f = add(std::move(section), std::move(key), member, std::move(help));
        f.type = FieldType::Choice;
        f.choices = std::move(choices);
        return f;
    }

    // An enum member, written as its name.
    template <class E>
    Field& add_enum(std::string section, std::string key, E C::*member, std::vector<std::pair<std::string, E>> names,
                    std::string help) {
        Field f;
        f.section = std::move(section), f.key = std::move(key), f.help = std::move(help), f.type = FieldType::Choice;
        for (const auto& [n, e] : names) f.choices.push_back(n);
        f.get = [member, names](const void* o) -> nlohmann::json {
            for (const auto& [n, e] : names)
                if (e == static_cast<const C*>(o)->*member) return n;
            return nullptr;  // a value with no name: check() reports it
        };
        f.set = [member, names](void* o, const nlohmann::json& v) {
            for (const auto& [n, e] : names)
                if (n == v.get<std::string>()) static_cast<C*>(o)->*member = e;
        };
        return push(std::move(f));
    }

    // A JSON-only key with a fixed value (BertConfig's "hidden_act": "gelu"): written as `value`; when read, it
    // must equal `value` if `checked`, else any string is accepted. It changes nothing in the struct.
    Field& add_constant(std::string section, std::string key, std::string value, bool checked, std::string help) {
        Field f;
        f.section = std::move(section), f.key = std::move(key), f.help = std::move(help), f.in_toml = false;
        f.type = checked ? FieldType::Choice : FieldType::String;
        if (checked) f.choices = {value};
        f.get = [value](const void*) -> nlohmann::json { return value; };
        f.set = [](void*, const nlohmann::json&) {};
        return push(std::move(f));
    }

    // Anything else: `set` gets a value already checked against `info`.
    Field& add_custom(FieldInfo info, std::function<nlohmann::json(const C&)> get,
                      std::function<void(C&, const nlohmann::json&)> set) {
        Field f;
        static_cast<FieldInfo&>(f) = std::move(info);
        f.get = [get](const void* o) { return get(*static_cast<const C*>(o)); };
        f.set = [set](void* o, const nlohmann::json& v) { set(*static_cast<C*>(o), v); };
        return push(std::move(f));
    }

    // Every field of `inner`, reached through `member` and placed under `section` (inner section "x" becomes
    // "section.x"), in JSON too.
    template <class S>
    void add_nested(const std::string& section, S C::*member, const ConfigFields<S>& inner) {
        for (const Field& in : inner.table().fields) {
            Field f = in;
            auto under = [&](const std::string& s) { return s.empty() ? section : section + "." + s; };
            f.section = under(in.section);
            if (in.json_section) f.json_section = under(*in.json_section);
            f.get = [member, g = in.get](const void* o) { return g(&(static_cast<const C*>(o)->*member)); };
            f.set = [member, s = in.set](void* o, const nlohmann::json& v) { s(&(static_cast<C*>(o)->*member), v); };
            push(std::move(f));
        }
    }

    // Parses `text` (a TOML document; `source` names it in errors, e.g. "config 'a.toml'"), applies the
    // "section.key=value" overrides over it, and sets the fields present. Unknown keys, wrong types,
    // out-of-range values and missing required keys throw.
    void read_toml_text(C& c, const std::string& text, const std::string& source,
                        const std::vector<std::string>& overrides = {}) const {
        t_.read_toml_text(&c, text, source, overrides);
    }
    nlohmann::ordered_json to_json(const C& c) const { return t_.to_json(&c); }
    // Sets the fields `j` has; unknown keys throw unless top-level keys listed in `ignored`.
    void read_json(C& c, const nlohmann::json& j, const std::string& source,
                   const std::set<std::string>& ignored = {}) const {
        t_.read_json(&c, j, source, ignored);
    }
    // Checks every value of `c` against its range and choices (for structs built in code).
    void check(const C& c, const std::string& where) const { t_.check(&c, where); }
    std::string valid_keys(const std::string& section, bool toml = true) const { return t_.valid_keys(section, toml); }
    // One line per TOML key: name = default, type and range, help.
    std::string help(const C& defaults = C{}) const { return t_.help(&defaults); }
    const FieldTable& table() const { return t_; }

private:
    Field& push(Field f) {
        t_.fields.push_back(std::move(f));
        return t_.fields.back();
    }
    FieldTable t_;
};

}  // namespace qbert::model
