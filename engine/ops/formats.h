// Number formats for fake quantization: every format of Mase's Linear layers (mase-behaviour.md section 2),
// one op `quantize(x, format)` with a reference and a fast kernel each and a straight-through backward.
//
//   fp32              the value itself (an operand left alone)
//   integer           fixed point Q(width, frac_width), ops/quant.h (floor and unsigned variants, clipped STE)
//   minifloat_denorm  sign, E exponent bits, M = width-E-1 mantissa bits, no hidden bit; bias B = 2^(E-1)-1
//   minifloat_ieee    the same with a hidden bit and IEEE-style subnormals (no inf/NaN codes)
//   log               sign and width-1 exponent bits: +-2^e, e rounded in the log domain; zero -> 2^e_min
//   block_fp          a shared exponent (E bits) per block, sign + width-1 mantissa bits per value (MSFP)
//   block_minifloat   minifloat_ieee whose bias (Bw bits) is shared per block
//   block_log         log whose bias (Bw bits) is shared per block
//   binary            +-1 (x >= 0 -> +1); stochastic: +1 with probability clamp((x+1)/2, 0, 1)
//   ternary           {-1, 0, +1} with threshold 0.75 * mean|x| over the tensor; scaling: +-mean|survivors|
//
// The formulas, and the quirks of Mase's that we keep, are in kernels/format_math.h and docs/formats.md.
// Blocks follow Mase's rule: the block_size list is right-aligned to the tensor's shape, missing leading
// entries and entries larger than the dimension take the whole dimension, the tensor is zero-padded to whole
// blocks. skip_first_dim (activations) blocks each sample on its own: [B, H] -> blocks [1, b]; [B, T, H] ->
// [1, bt, bh] ([16] spans all T tokens, [1, 16] does not). Computed in float32, as Mase does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/core/rng.h"
#include "engine/ops/quant.h"
#include "engine/tensor/tensor.h"

namespace qbert::engine {

enum class FormatKind {
    Fp32, Integer, MinifloatDenorm, MinifloatIeee, Log, BlockFp, BlockMinifloat, BlockLog, Binary, Ternary
};
const char* format_name(FormatKind k);  // "integer", "minifloat_ieee", ...
// "fixed" is read as integer (Mase's name for it). nullopt if unknown.
std::optional<FormatKind> parse_format(const std::string& name);
std::string format_names();  // the quantizing formats' names, comma-separated (fp32 is not among them)
bool is_block(FormatKind k);

struct NumberFormat {
    FormatKind kind = FormatKind::Integer;
    int width = 8;                     // every format but fp32, binary, ternary: total bits per value
    int frac_width = 4;                // integer
    bool is_signed = true;             // integer
    bool floor = false;                // integer: floor instead of round half to even
    int exponent_width = 4;            // minifloat_*, block_fp, block_minifloat
    std::optional<int> exponent_bias;  // minifloat_*, log, block_fp; default 2^(E-1)-1 (log: E = width-1)
    int exponent_bias_width = 4;       // block_minifloat, block_log: bits of the shared bias
    std::vector<int64_t> block_size{16};
    bool skip_first_dim = false;       // block formats on activations: block each sample on its own
    bool stochastic = false;           // binary
    bool scaling = false;              // ternary

    NumberFormat() = default;
    NumberFormat(const FixedPoint& q)  // NOLINT: a fixed-point format is a number format
        : kind(FormatKind::Integer), width(q.width), frac_width(q.frac_width), is_signed(q.is_signed),
          floor(q.floor) {}
    static NumberFormat fp32() {
        NumberFormat f;
        f.kind = FormatKind::Fp32;
        return f;
    }
    FixedPoint fixed_point() const { return FixedPoint{width, frac_width, is_signed, floor}; }
    int bias() const;           // the exponent bias in use (the default if none was given)
    int mantissa_bits() const;  // minifloats: width - E - 1; block_fp: width - 1
    // Throws engine::Error naming `what` and the field: width too small for the exponent, block sizes <= 0, ...
    void validate(const std::string& what) const;
    std::string str() const;  // "minifloat_ieee w8 e4 b7", "integer Q8.4", "block_fp w7 e8 b127 [1,16]"
    // Storage cost of a tensor of `shape` in this format, in bits: values plus shared exponents/biases per block
    // (weights: skip_first_dim as set). fp32: 32 per value; ternary: 2 per value (+32 for the scale).
    double storage_bits(const std::vector<int64_t>& shape) const { return value_bits() * static_cast<double>(shape_numel(shape)) + shared_bits(shape); }
    double value_bits() const;                                   // bits stored per value
    double shared_bits(const std::vector<int64_t>& shape) const;  // per-block exponents or biases, ternary's scale
    bool operator==(const NumberFormat&) const = default;
};

// The resolved block shape of a tensor of `shape` (Mase's _infer_block_shape and block(); errors name `what`).
std::vector<int64_t> block_shape(const std::vector<int64_t>& shape, const NumberFormat& f, const std::string& what);

// y = Q(x) in format f (float32 tensors). The backward is the identity STE for every format (Mase), except
// integer with Ste::Clipped. Stochastic binary draws a fresh seed from `rng` per call (required then).
[[nodiscard]] Tensor quantize(const Tensor& x, const NumberFormat& f, Ste ste = Ste::Identity, Rng* rng = nullptr);

// The steps of Q(x) for each element of x, one line each, for learners (`qbert fake-quant --explain`): block
// maximum and shared exponent/bias, exponent, mantissa integer before and after clamping, the value and its
// error. `y` is the op's own output (quantize()), shown as the result. Not for the fixed-point format (its
// explanation lives with the CLI) or fp32.
std::vector<std::string> explain_quantize(const Tensor& x, const Tensor& y, const NumberFormat& f);

}  // namespace qbert::engine
