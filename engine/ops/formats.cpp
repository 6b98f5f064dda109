#include "engine/ops/formats.h"

#include <cmath>
#include <cstdio>

#include "engine/autograd/node.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/format_math.h"
#include "engine/kernels/ref/ref.h"
#include "engine/ops/common.h"
#include "engine/ops/dispatch.h"

namespace qbert::engine {

using detail::concat;
using detail::contig;

namespace {
struct FormatInfo {
    FormatKind kind;
    const char* name;
    const char* op;  // the autograd node's name
};
constexpr FormatInfo kFormats[] = {
    {FormatKind::Fp32, "fp32", "quantize_fp32"},
    {FormatKind::Integer, "integer", "fake_quant"},
    {FormatKind::MinifloatDenorm, "minifloat_denorm", "quantize_minifloat_denorm"},
    {FormatKind::MinifloatIeee, "minifloat_ieee", "quantize_minifloat_ieee"},
    {FormatKind::Log, "log", "quantize_log"},
    {FormatKind::BlockFp, "block_fp", "quantize_block_fp"},
    {FormatKind::BlockMinifloat, "block_minifloat", "quantize_block_minifloat"},
    {FormatKind::BlockLog, "block_log", "quantize_block_log"},
    {FormatKind::Binary, "binary", "quantize_binary"},
    {FormatKind::Ternary, "ternary", "quantize_ternary"},
};
const FormatInfo& info(FormatKind k) {
    for (const auto& f : kFormats)
        if (f.kind == k) return f;
    throw Error("unknown number format");
}
bool is_minifloat(FormatKind k) { return k == FormatKind::MinifloatDenorm || k == FormatKind::MinifloatIeee; }
bool has_exponent_width(FormatKind k) {
    return is_minifloat(k) || k == FormatKind::BlockFp || k == FormatKind::BlockMinifloat;
}
bool has_exponent_bias(FormatKind k) { return is_minifloat(k) || k == FormatKind::Log || k == FormatKind::BlockFp; }
bool is_logarithmic(FormatKind k) { return k == FormatKind::Log || k == FormatKind::BlockLog; }
}  // namespace

const char* format_name(FormatKind k) { return info(k).name; }

std::optional<FormatKind> parse_format(const std::string& name) {
    if (name == "fixed") return FormatKind::Integer;
    for (const auto& f : kFormats)
        if (name == f.name) return f.kind;
    return std::nullopt;
}

std::string format_names() {
    std::string s;
    for (const auto& f : kFormats)
        if (f.kind != FormatKind::Fp32) s += (s.empty() ? "" : ", ") + std::string(f.name);
    return s;
}

bool is_block(FormatKind k) {
    return k == FormatKind::BlockFp || k == FormatKind::BlockMinifloat || k == FormatKind::BlockLog;
}

int NumberFormat::bias() const {
    if (exponent_bias) return *exponent_bias;
    const int e = is_logarithmic(kind) ? width - 1 : exponent_width;
    return (1 << (e - 1)) - 1;  // Mase: 2^(E-1) - 1
}

int NumberFormat::mantissa_bits() const {
    if (kind == FormatKind::BlockFp) return width - 1;
    return width - exponent_width - 1;
}

void NumberFormat::validate(const std::string& what) const {
    const std::string w = concat(what, " (", format_name(kind), ")");
    switch (kind) {
        case FormatKind::Fp32:
        case FormatKind::Binary:
        case FormatKind::Ternary: return;
        case FormatKind::Integer: fixed_point().validate(what); return;
        default: break;
    }
    if (has_exponent_width(kind))
        ENGINE_CHECK(exponent_width >= 1 && exponent_width <= 8, w, ": exponent_width must be in [1, 8], but got ",
                     exponent_width);
    if (is_minifloat(kind) || kind == FormatKind::BlockMinifloat) {
        const int need = exponent_width + (kind == FormatKind::MinifloatDenorm ? 2 : 1);
        ENGINE_CHECK(width >= need && width <= 32, w, ": width ", width, " is too small for exponent_width ",
                     exponent_width, " (needs at least ", need, ": a sign bit, ", exponent_width, " exponent bits",
                     kind == FormatKind::MinifloatDenorm ? " and a mantissa bit" : "", ") or above 32");
    }
    if (kind == FormatKind::BlockFp)
        ENGINE_CHECK(width >= 2 && width <= 32, w, ": width must be in [2, 32] (a sign bit and at least one mantissa bit), but got ", width);
    if (is_logarithmic(kind))
        ENGINE_CHECK(width >= 2 && width <= 9, w, ": width must be in [2, 9] (a sign bit and 1 to 8 exponent bits), but got ",
                     width);
    if (has_exponent_bias(kind) && exponent_bias)
        ENGINE_CHECK(*exponent_bias >= -256 && *exponent_bias <= 256, w, ": exponent_bias must be in [-256, 256], but got ",
                     *exponent_bias);
    if (kind == FormatKind::BlockMinifloat || kind == FormatKind::BlockLog)
        ENGINE_CHECK(exponent_bias_width >= 1 && exponent_bias_width <= 8, w,
                     ": exponent_bias_width must be in [1, 8], but got ", exponent_bias_width);
    if (is_block(kind)) {
        ENGINE_CHECK(!block_size.empty(), w, ": block_size must list at least one size");
        for (int64_t b : block_size)
            ENGINE_CHECK(b >= 1, w, ": block_size entries must be >= 1 (a size larger than the dimension takes all of it), but got ", b);
    }
}

std::string NumberFormat::str() const {
    std::string blocks;
    for (int64_t b : block_size) blocks += (blocks.empty() ? "" : ",") + std::to_string(b);
    switch (kind) {
        case FormatKind::Fp32: return "fp32";
        case FormatKind::Integer: return fixed_point().str();
        case FormatKind::MinifloatDenorm:
        case FormatKind::MinifloatIeee:
            return concat(format_name(kind), " w", width, " e", exponent_width, " b", bias());
        case FormatKind::Log: return concat("log w", width, " b", bias());
        case FormatKind::BlockFp:
            return concat("block_fp w", width, " e", exponent_width, " b", bias(), " [", blocks, "]",
                          skip_first_dim ? " skip_first_dim" : "");
        case FormatKind::BlockMinifloat:
            return concat("block_minifloat w", width, " e", exponent_width, " bw", exponent_bias_width, " [", blocks,
                          "]", skip_first_dim ? " skip_first_dim" : "");
        case FormatKind::BlockLog:
            return concat("block_log w", width, " bw", exponent_bias_width, " [", blocks, "]",
                          skip_first_dim ? " skip_first_dim" : "");
        case FormatKind::Binary: return stochastic ? "binary stochastic" : "binary";
        case FormatKind::Ternary: return scaling ? "ternary scaled" : "ternary";
    }
    return "?";
}

std::vector<int64_t> block_shape(const std::vector<int64_t>& shape, const NumberFormat& f, const std::string& what) {
    const size_t nd = shape.size();
    ENGINE_CHECK(nd >= 1 && nd <= 3, what, ": block formats take 1-, 2- or 3-D tensors, but got shape ",
                 shape_str(shape));
    ENGINE_CHECK(!(nd == 1 && f.skip_first_dim), what,
                 ": skip_first_dim needs a batch dimension, but the tensor is 1-D (shape ", shape_str(shape), ")");
    // Mase's _infer_block_shape on the shape to block (one sample's shape [1, ...] with skip_first_dim):
    // right-align the list, missing leading entries and entries beyond the dimension take the whole dimension.
    std::vector<int64_t> of = shape;
    if (f.skip_first_dim) of[0] = 1;
    std::vector<int64_t> b(nd);
    const size_t nb = f.block_size.size();
    for (size_t d = 0; d < nd; ++d) {
        const size_t from_right = nd - d;  // 1 for the last dimension
        const int64_t want = from_right <= nb ? f.block_size[nb - from_right] : -1;
        b[d] = (want == -1 || want > of[d]) ? of[d] : want;
    }
    return b;
}

double NumberFormat::value_bits() const {
    switch (kind) {
        case FormatKind::Fp32: return 32.0;
        case FormatKind::Binary: return 1.0;
        case FormatKind::Ternary: return 2.0;  // three levels in two bits
        default: return static_cast<double>(width);
    }
}

double NumberFormat::shared_bits(const std::vector<int64_t>& shape) const {
    if (kind == FormatKind::Ternary) return scaling ? 32.0 : 0.0;  // one fp32 scale per tensor
    if (!is_block(kind)) return 0.0;
    const std::vector<int64_t> b = block_shape(shape, *this, "storage bits");
    double blocks = 1.0;
    for (size_t d = 0; d < shape.size(); ++d) blocks *= static_cast<double>((shape[d] + b[d] - 1) / b[d]);
    return blocks * (kind == FormatKind::BlockFp ? exponent_width : exponent_bias_width);
}

namespace {
kernels::FormatCode code_of(FormatKind k) {
    switch (k) {
        case FormatKind::MinifloatDenorm: return kernels::FormatCode::MinifloatDenorm;
        case FormatKind::MinifloatIeee: return kernels::FormatCode::MinifloatIeee;
        case FormatKind::Log: return kernels::FormatCode::Log;
        case FormatKind::BlockFp: return kernels::FormatCode::BlockFp;
        case FormatKind::BlockMinifloat: return kernels::FormatCode::BlockMinifloat;
        case FormatKind::BlockLog: return kernels::FormatCode::BlockLog;
        case FormatKind::Binary: return kernels::FormatCode::Binary;
        case FormatKind::Ternary: return kernels::FormatCode::Ternary;
        default: throw Error("no format kernel for this format");
    }
}

// The kernel arguments of format f on a tensor of `shape`.
kernels::FormatArgs kernel_args(const NumberFormat& f, const Shape& shape, Rng* rng) {
    kernels::FormatArgs a;
    a.code = code_of(f.kind);
    switch (f.kind) {
        case FormatKind::MinifloatDenorm:
        case FormatKind::MinifloatIeee:
        case FormatKind::BlockFp: {
            const int B = f.bias();
            a.mantissa_bits = f.mantissa_bits();
            a.bias = static_cast<float>(B);
            a.e_min = static_cast<float>(-B);
            a.e_max = static_cast<float>((1 << f.exponent_width) - 1 - B);
            break;
        }
        case FormatKind::Log: {
            const int B = f.bias();
            a.e_min = static_cast<float>(-B);
            a.e_max = static_cast<float>((1 << (f.width - 1)) - 1 - B);
            // Mase: min_pos = 2**e_min (a Python float), x + min_pos * 0.1 (a double scalar, rounded to float)
            a.log_p01 = static_cast<float>(std::ldexp(1.0, -B) * 0.1);
            break;
        }
        case FormatKind::BlockMinifloat:
            a.mantissa_bits = f.mantissa_bits();
            a.exponent_width = f.exponent_width;
            a.exponent_bias_width = f.exponent_bias_width;
            break;
        case FormatKind::BlockLog:
            a.exponent_width = f.width - 1;
            a.exponent_bias_width = f.exponent_bias_width;
            break;
        case FormatKind::Binary:
            a.stochastic = f.stochastic;
            if (f.stochastic) {
                ENGINE_CHECK(rng != nullptr, "quantize (binary): stochastic binarization needs a seeded Rng");
                a.seed = rng->next_u64();  // fresh uniforms on every call, reproducible from the seed
            }
            break;
        case FormatKind::Ternary: a.scaling = f.scaling; break;
        default: break;
    }
    if (is_block(f.kind)) {
        const std::vector<int64_t> b = block_shape(shape, f, concat("quantize (", format_name(f.kind), ")"));
        const size_t off = 3 - shape.size();
        for (size_t d = 0; d < shape.size(); ++d) a.dims[off + d] = shape[d], a.block[off + d] = b[d];
        a.folded = (shape.size() == 2 && !f.skip_first_dim) || (shape.size() == 3 && f.skip_first_dim);
    }
    return a;
}
}  // namespace

Tensor quantize(const Tensor& x_in, const NumberFormat& f, Ste ste, Rng* rng) {
    f.validate("quantize");
    if (f.kind == FormatKind::Fp32) return x_in;
    if (f.kind == FormatKind::Integer) return fake_quant(x_in, f.fixed_point(), ste);
    ENGINE_CHECK(x_in.dtype() == DType::F32, "quantize (", format_name(f.kind),
                 "): float32 tensors only (Mase computes these formats in float32), but got ", dtype_name(x_in.dtype()));
    Tensor x = contig(x_in);
    const kernels::FormatArgs a = kernel_args(f, x.shape(), rng);
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    const int64_t n = x.numel();
    // the same float formulas in the same order: fast and ref agree bit for bit
    KernelCall k("quantize", "format_quant_forward", true, Tolerance{0.0, 0.0});
    switch (k.mode()) {
        case KernelMode::Ref: ref::format_quant_forward_ref(x.data<float>(), y.data<float>(), n, a); break;
        case KernelMode::Fast: fast::format_quant_forward_fast(x.data<float>(), y.data<float>(), n, a); break;
        case KernelMode::Check: {
            ref::format_quant_forward_ref(x.data<float>(), y.data<float>(), n, a);
            Tensor y_fast = k.check_output(y);
            fast::format_quant_forward_fast(x.data<float>(), y_fast.data<float>(), n, a);
            break;
        }
    }
    k.finish({y});
    return record(y, info(f.kind).op, {x_in}, {}, [](const Tensor& g, const BackwardContext&) {
        return std::vector<Tensor>{g};  // the identity STE (Mase): dy passes through unchanged
    });
}

namespace {
std::string g9(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

// One element of a scalar float format: exponent and mantissa integer, as the kernel computes them.
std::string explain_float(float x, FormatKind k, int M, float bias, float e_min, float e_max) {
    using namespace kernels;
    if (close_to_zero(x)) return "|x| <= 1e-8: too small to quantize, passed through (-0 comes out as 0)";
    const float v = std::fabs(x), shift = pow2(static_cast<float>(M));
    if (k == FormatKind::MinifloatDenorm || k == FormatKind::BlockFp) {
        const bool bfp = k == FormatKind::BlockFp;
        const float e = bfp ? bias : clampf(std::ceil(std::log2(v + 1e-9f)), e_min, e_max);
        const float raw = bfp ? e : std::ceil(std::log2(v + 1e-9f));
        const float r = std::nearbyint((bfp ? v + 1e-9f : v) / pow2(e) * shift);
        const float kk = clampf(r, 0.0f, shift - 1.0f);
        // block_fp: the caller has printed the shared exponent e already
        const std::string exponent =
            bfp ? std::string() : concat("exponent e=ceil(log2|x|)=", g9(raw + 0.0f), raw != e ? " clamped to " + g9(e + 0.0f) : "", " ");
        return concat(exponent, "mantissa k=round(|x|/2^e*2^", M, ")=round(", g9((bfp ? v + 1e-9f : v) / pow2(e) * shift),
                      ")=", g9(r), r != kk ? " capped to " + g9(kk) : "", " (no hidden bit: value = 2^e * k/2^M)");
    }
    // minifloat_ieee
    const float raw = std::floor(std::log2(v + 1e-9f)), e = clampf(raw, e_min, e_max);
    const float m = v / pow2(e);
    const bool normal = e != -bias;
    const float r = normal ? std::nearbyint(m * shift - shift) : std::nearbyint(m * shift / 2.0f);
    const float kk = clampf(r, 0.0f, shift - 1.0f);
    // + 0.0f: an exponent of -0 (a shared bias of 0) prints as 0
    return concat("exponent e=floor(log2|x|)=", g9(raw + 0.0f), raw != e ? " clamped to " + g9(e + 0.0f) : "",
                  normal ? " normal: mantissa 1.k with k=round(|x|/2^e*2^M - 2^M)=round(" : " subnormal: k=round(|x|/2^e*2^M/2)=round(",
                  g9(normal ? m * shift - shift : m * shift / 2.0f), ")=", g9(r), r != kk ? " capped to " + g9(kk) : "", " (M=", M, ")");
}

std::string explain_log(float x, float p01, float e_min, float e_max) {
    const float raw = std::nearbyint(std::log2(std::fabs(x) + p01));
    const float e = kernels::clampf(raw, e_min, e_max);
    return concat("exponent e=round(log2(|x| + 2^e_min/10))=", g9(raw + 0.0f), raw != e ? " clamped to " + g9(e + 0.0f) : "",
                  " (range [", g9(e_min), ", ", g9(e_max), "]; zero is not representable)");
}
}  // namespace

std::vector<std::string> explain_quantize(const Tensor& x_in, const Tensor& y_in, const NumberFormat& f) {
    ENGINE_CHECK(f.kind != FormatKind::Integer && f.kind != FormatKind::Fp32,
                 "explain_quantize: not for integer or fp32");
    const Tensor x = contig(x_in);
    const std::vector<float> xv = x.to_vector_f32(), yv = contig(y_in).to_vector_f32();
    Rng unused(0);  // stochastic binary: the explanation shows P(+1), not a draw
    const kernels::FormatArgs a = kernel_args(f, x.shape(), &unused);
    std::vector<std::string> lines(xv.size());
    std::vector<float> shared;  // block formats: each element's block maximum and shared value
    std::vector<int64_t> block_of(xv.size(), 0);
    std::vector<float> mx;
    if (is_block(f.kind)) {
        const kernels::BlockGrid g(a);
        mx.assign(static_cast<size_t>(g.count()), 0.0f);
        for (int64_t i0 = 0; i0 < g.d0; ++i0)
            for (int64_t i1 = 0; i1 < g.d1; ++i1)
                for (int64_t i2 = 0; i2 < g.d2; ++i2) {
                    const int64_t i = (i0 * g.d1 + i1) * g.d2 + i2, b = g.of(i0, i1, i2);
                    block_of[size_t(i)] = b;
                    mx[size_t(b)] = std::max(mx[size_t(b)], std::fabs(xv[size_t(i)]));
                }
        kernels::fix_zero_block_maxima(mx.data(), g.count());
        for (float m : mx) shared.push_back(kernels::block_shared(a, m));
    }
    float t = 0.0f, alpha = 1.0f;
    if (f.kind == FormatKind::Ternary) kernels::ternary_stats(xv.data(), x.numel(), f.scaling, t, alpha);
    for (size_t i = 0; i < xv.size(); ++i) {
        const float xi = xv[i];
        std::string how;
        switch (f.kind) {
            case FormatKind::MinifloatDenorm:
            case FormatKind::MinifloatIeee: how = explain_float(xi, f.kind, a.mantissa_bits, a.bias, a.e_min, a.e_max); break;
            case FormatKind::Log: how = explain_log(xi, a.log_p01, a.e_min, a.e_max); break;
            case FormatKind::BlockFp:
            case FormatKind::BlockMinifloat:
            case FormatKind::BlockLog: {
                const size_t b = size_t(block_of[i]);
                const float s = shared[b];
                how = concat("block ", b, " max|x|=", g9(mx[b]), f.kind == FormatKind::BlockFp ? " shared exponent=" : " shared bias=", g9(s), "; ");
                const float emax_bits = kernels::pow2(static_cast<float>(a.exponent_width)) - 1.0f;
                if (f.kind == FormatKind::BlockFp) how += explain_float(xi, f.kind, a.mantissa_bits, s, a.e_min, a.e_max);
                else if (f.kind == FormatKind::BlockMinifloat)
                    how += explain_float(xi, FormatKind::MinifloatIeee, a.mantissa_bits, s, -s, emax_bits - s);
                else how += explain_log(xi, kernels::pow2(-s) * 0.1f, -s, emax_bits - s);
                break;
            }
            case FormatKind::Binary:
                how = f.stochastic ? concat("P(+1) = clamp((x+1)/2, 0, 1) = ", g9(kernels::clampf((xi + 1.0f) / 2.0f, 0.0f, 1.0f)))
                                   : std::string(xi >= 0.0f ? "x >= 0 -> +1" : "x < 0 -> -1");
                break;
            case FormatKind::Ternary:
                how = concat("threshold t=0.75*mean|x|=", g9(t), xi > t ? " x > t: +1" : (xi < -t ? " x < -t: -1" : " |x| <= t: 0"),
                             f.scaling ? concat(" scale=mean|x| over |x|>t=", g9(alpha)) : "");
                break;
            default: break;
        }
        lines[i] = concat("x=", g9(xi), " ", how, " -> q=", g9(yv[i]), " error=", g9(double(yv[i]) - double(xi)));
    }
    return lines;
}

}  // namespace qbert::engine
