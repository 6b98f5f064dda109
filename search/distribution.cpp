#include "search/distribution.h"

#include <cmath>
#include <sstream>

namespace qbert::search {

using json = nlohmann::json;

Distribution Distribution::int_range(int64_t low, int64_t high, int64_t step, bool log) {
    Distribution d;
    d.kind = Kind::Int;
    d.low = static_cast<double>(low);
    // Optuna's IntDistribution (_adjust_int_uniform_high): a range that is not a whole number of steps ends at
    // the last step inside it (low 0, high 10, step 3 is [0, 9]), so no sampler can draw an off-grid high.
    if (step >= 1 && high > low && (high - low) % step != 0) high = low + (high - low) / step * step;
    d.high = static_cast<double>(high);
    d.step = static_cast<double>(step);
    d.log = log;
    return d;
}

Distribution Distribution::float_range(double low, double high, bool log) {
    Distribution d;
    d.kind = Kind::Float;
    d.low = low;
    d.high = high;
    d.log = log;
    return d;
}

Distribution Distribution::categorical(std::vector<json> choices) {
    Distribution d;
    d.kind = Kind::Categorical;
    d.choices = std::move(choices);
    return d;
}

void Distribution::validate(const std::string& name) const {
    const std::string where = "parameter '" + name + "' (" + describe() + ")";
    if (kind == Kind::Categorical) {
        if (choices.empty()) throw Error(where + ": no choices");
        for (size_t i = 0; i < choices.size(); ++i) {
            const json& c = choices[i];
            if (!(c.is_number() || c.is_string() || c.is_boolean() || c.is_null()))
                throw Error(where + ": choice " + std::to_string(i) + " is " + c.dump() +
                            "; choices must be numbers, strings, booleans or null");
            for (size_t k = 0; k < i; ++k)
                if (choices[k] == c) throw Error(where + ": choice " + c.dump() + " appears twice");
        }
        return;
    }
    if (!std::isfinite(low) || !std::isfinite(high)) throw Error(where + ": low and high must be finite");
    if (low > high) throw Error(where + ": low > high");
    if (log && low <= 0.0) throw Error(where + ": a log range needs low > 0");
    if (kind == Kind::Int) {
        if (low != std::floor(low) || high != std::floor(high)) throw Error(where + ": low and high must be integers");
        if (step < 1.0 || step != std::floor(step)) throw Error(where + ": step must be an integer >= 1");
        if (log && step != 1.0) throw Error(where + ": log = true needs step = 1 (as in Optuna)");
    }
}

double Distribution::to_internal(const json& v, const std::string& name) const {
    if (kind == Kind::Categorical) {
        for (size_t i = 0; i < choices.size(); ++i)
            if (choices[i] == v || (choices[i].is_number() && v.is_number() &&
                                    choices[i].get<double>() == v.get<double>()))
                return static_cast<double>(i);
        throw Error("parameter '" + name + "': value " + v.dump() + " is not one of " + describe());
    }
    if (!v.is_number()) throw Error("parameter '" + name + "': value " + v.dump() + " is not a number");
    return v.get<double>();
}

json Distribution::to_external(double internal) const {
    switch (kind) {
    case Kind::Categorical: {
        const auto i = static_cast<size_t>(std::llround(internal));
        if (i >= choices.size()) throw Error("categorical index " + std::to_string(i) + " outside " + describe());
        return choices[i];
    }
    case Kind::Int: return static_cast<int64_t>(std::llround(internal));
    case Kind::Float: return internal;
    }
    return nullptr;
}

bool Distribution::contains(double v) const {
    if (kind == Kind::Categorical) return v >= 0 && v < static_cast<double>(choices.size()) && v == std::floor(v);
    if (v < low || v > high) return false;
    if (kind == Kind::Int) return std::fmod(v - low, step) == 0.0;
    return true;
}

bool Distribution::single() const {
    if (kind == Kind::Categorical) return choices.size() == 1;
    if (kind == Kind::Int) return low == high || low + step > high;
    return low == high;
}

json Distribution::to_json() const {
    switch (kind) {
    case Kind::Int: return {{"type", "int"}, {"low", static_cast<int64_t>(low)}, {"high", static_cast<int64_t>(high)},
                            {"step", static_cast<int64_t>(step)}, {"log", log}};
    case Kind::Float: return {{"type", "float"}, {"low", low}, {"high", high}, {"log", log}};
    case Kind::Categorical: return {{"type", "categorical"}, {"choices", choices}};
    }
    return nullptr;
}

Distribution Distribution::from_json(const json& j) {
    const std::string t = j.at("type").get<std::string>();
    if (t == "int")
        return int_range(j.at("low").get<int64_t>(), j.at("high").get<int64_t>(), j.value("step", int64_t{1}),
                         j.value("log", false));
    if (t == "float") return float_range(j.at("low").get<double>(), j.at("high").get<double>(), j.value("log", false));
    if (t == "categorical") return categorical(j.at("choices").get<std::vector<json>>());
    throw Error("unknown distribution type '" + t + "'");
}

std::string Distribution::describe() const {
    std::ostringstream s;
    switch (kind) {
    case Kind::Int:
        s << "int[" << static_cast<int64_t>(low) << ", " << static_cast<int64_t>(high) << "]";
        if (step != 1.0) s << " step " << static_cast<int64_t>(step);
        break;
    case Kind::Float: s << "float[" << low << ", " << high << "]"; break;
    case Kind::Categorical:
        s << "categorical[";
        for (size_t i = 0; i < choices.size(); ++i)
            s << (i ? ", " : "") << (choices[i].is_string() ? choices[i].get<std::string>() : choices[i].dump());
        s << "]";
        break;
    }
    if (log) s << " log";
    return s.str();
}

void check_compatible(const std::string& name, const Distribution& before, const Distribution& now) {
    const auto fail = [&](const std::string& why) {
        throw Error("parameter '" + name + "' was " + before.describe() + " in an earlier trial and is now " +
                    now.describe() + ": " + why + " (a name must keep its kind, log flag and choices in a study)");
    };
    if (before.kind != now.kind) fail("different kind");
    if (before.log != now.log) fail("different log flag");
    if (before.kind == Distribution::Kind::Categorical && before.choices != now.choices) fail("different choices");
}

}  // namespace qbert::search
