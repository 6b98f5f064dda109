#include "engine/core/config.h"

#include <omp.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "engine/core/error.h"

namespace qbert::engine {

namespace {
struct KernelConfig {
    KernelMode global = KernelMode::Fast;
    std::map<std::string, KernelMode, std::less<>> per_op;
    std::string spec = "fast";
};

KernelMode parse_mode(std::string_view s, std::string_view spec) {
    if (s == "ref") return KernelMode::Ref;
    if (s == "fast") return KernelMode::Fast;
    if (s == "check") return KernelMode::Check;
    throw Error(detail::concat("kernel mode '", s, "' in '", spec,
                               "' is not one of ref|fast|check (QBERT_KERNELS or --kernels)"));
}

KernelConfig parse_spec(std::string_view spec) {
    KernelConfig c;
    c.spec = std::string(spec);
    size_t pos = 0;
    while (pos <= spec.size()) {
        size_t end = spec.find(',', pos);
        if (end == std::string_view::npos) end = spec.size();
        std::string_view part = spec.substr(pos, end - pos);
        if (!part.empty()) {
            const size_t eq = part.find('=');
            if (eq == std::string_view::npos) {
                c.global = parse_mode(part, spec);
            } else {
                c.per_op[std::string(part.substr(0, eq))] = parse_mode(part.substr(eq + 1), spec);
            }
        }
        pos = end + 1;
    }
    return c;
}

KernelConfig& config() {
    static KernelConfig c = [] {
        const char* env = std::getenv("QBERT_KERNELS");
        return env ? parse_spec(env) : KernelConfig{};
    }();
    return c;
}

bool& verbose_flag() {
    static bool v = [] {
        const char* env = std::getenv("QBERT_VERBOSE");
        return env && std::string_view(env) != "0";
    }();
    return v;
}
MatmulPrecision parse_precision(std::string_view s) {
    if (s == "f32") return MatmulPrecision::F32;
    if (s == "bf16") return MatmulPrecision::BF16;
    throw Error(detail::concat("matmul precision '", s, "' is not one of f32|bf16 (QBERT_MATMUL or matmul_precision)"));
}

MatmulPrecision& precision_setting() {
    static MatmulPrecision p = [] {
        const char* env = std::getenv("QBERT_MATMUL");
        return env ? parse_precision(env) : MatmulPrecision::F32;
    }();
    return p;
}
}  // namespace

MatmulPrecision matmul_precision() { return precision_setting(); }
void set_matmul_precision(std::string_view name) { precision_setting() = parse_precision(name); }
const char* matmul_precision_name(MatmulPrecision p) { return p == MatmulPrecision::BF16 ? "bf16" : "f32"; }

KernelMode kernel_mode(std::string_view op) {
    const KernelConfig& c = config();
    if (!c.per_op.empty()) {
        auto it = c.per_op.find(op);
        if (it != c.per_op.end()) return it->second;
    }
    return c.global;
}

void set_kernel_mode(std::string_view spec) { config() = parse_spec(spec); }
std::string kernel_mode_spec() { return config().spec; }

const char* kernel_mode_name(KernelMode m) {
    switch (m) {
        case KernelMode::Ref: return "ref";
        case KernelMode::Fast: return "fast";
        case KernelMode::Check: return "check";
    }
    return "?";
}

void set_num_threads(int n) {
    ENGINE_CHECK(n >= 1, "threads >= 1 must hold, but got threads=", n);
    omp_set_num_threads(n);
}
int num_threads() { return omp_get_max_threads(); }

bool verbose() { return verbose_flag(); }
void set_verbose(bool on) { verbose_flag() = on; }

}  // namespace qbert::engine
