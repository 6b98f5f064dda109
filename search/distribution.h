// Parameter distributions, as Optuna defines them (mase-behaviour.md 6.1): an int range with a step (optionally
// log-scaled), a float range (optionally log-scaled), or a list of categorical choices. A sampled value has two
// forms: the external one the objective sees (a JSON number or string) and the internal one samplers work on
// (a double: the number itself, or the index of the choice for categoricals).
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace qbert::search {

// Every error of the search library: bad spaces, storage problems, sampler misuse. The message names the
// parameter, study or file involved.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Distribution {
    enum class Kind { Int, Float, Categorical };
    Kind kind = Kind::Float;
    double low = 0.0, high = 1.0;
    double step = 0.0;  // Int: >= 1 (default 1); Float: 0 = continuous
    bool log = false;
    std::vector<nlohmann::json> choices;  // Categorical: numbers, strings, booleans or null

    static Distribution int_range(int64_t low, int64_t high, int64_t step = 1, bool log = false);
    static Distribution float_range(double low, double high, bool log = false);
    static Distribution categorical(std::vector<nlohmann::json> choices);

    // Throws naming `name` if the range is empty or inverted, a log range is not positive, a step does not
    // fit, or the choices are empty or repeated.
    void validate(const std::string& name) const;

    // external value -> internal double, and back
    double to_internal(const nlohmann::json& external, const std::string& name) const;
    nlohmann::json to_external(double internal) const;
    // Is an internal value one this distribution can produce?
    bool contains(double internal) const;
    bool single() const;  // only one possible value

    nlohmann::json to_json() const;
    static Distribution from_json(const nlohmann::json& j);
    std::string describe() const;  // e.g. "int[0, 4] step 1", "categorical[linear, identity]"
};

// Optuna's rule for reusing a name within a study: the kind, the log flag and (categorical) the choices must
// match; a changed numeric range is accepted. Throws naming the parameter otherwise.
void check_compatible(const std::string& name, const Distribution& before, const Distribution& now);

}  // namespace qbert::search
