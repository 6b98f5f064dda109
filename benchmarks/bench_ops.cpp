// bench_ops: per-op speed of the engine at the shapes BERT uses (B*T = 4096 rows, hidden 128..512,
// intermediate 512..2048, heads 2..8), one machine-readable line per (op, shape, impl):
//   op=<name> shape=<dims> impl=<ref|fast|dnnl_bare> threads=N ms_median=.. ms_min=.. runs=.. gflops=.. | gbps=..
// Before timing, each op's fast kernels are checked against the reference kernels on a smaller slice of the
// same shape (QBERT_KERNELS=check), and "All results match" is printed.
//
// linear_fwdbwd is compared with the same three matmuls run by bare oneDNN (forward with bias, backward data,
// backward weights) on preallocated buffers: overhead_pct is how much slower the engine's linear op
// (autograd, allocation, bias gradient) is than that floor. linear_masked_fwdbwd is the same op with a pruning
// mask (W * M before the forward and dx matmuls, dW * M after): its overhead_pct is against linear_fwdbwd.
#include <CLI/CLI.hpp>
#include <dnnl.hpp>

#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "engine/kernels/fast/fast.h"
#include "engine/tensor/storage.h"
#include "passes/quantize.h"
#include "timing.h"

using namespace qbert::engine;
using qbert::bench::time_it;
using qbert::bench::Timing;

namespace {
struct Opts {
    int threads = 2;
    std::string impl = "fast";  // fast | ref | all
    std::string ops = "all";
    double budget = 1.0;
    int64_t rows = 4096;
    bool no_alloc_cache = false;
};

std::set<std::string> split_csv(const std::string& s) {
    std::set<std::string> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, ',');) out.insert(item);
    return out;
}

void emit(const std::string& op, const std::string& shape, const std::string& impl, int threads, const Timing& t,
          const char* unit, double amount, const std::string& extra = "") {
    // amount: flops for gflops, bytes for gbps
    const double rate = amount / (t.median_ms * 1e-3) / 1e9;
    std::printf("op=%s shape=%s impl=%s threads=%d ms_median=%.4f ms_min=%.4f runs=%d %s=%.2f%s\n", op.c_str(),
                shape.c_str(), impl.c_str(), threads, t.median_ms, t.min_ms, t.runs, unit, rate, extra.c_str());
    std::fflush(stdout);
}

Tensor rand_t(const Shape& s, uint64_t seed, bool grad = false) {
    Rng rng(seed);
    Tensor t = Tensor::uniform(s, rng, -1.0, 1.0);
    if (grad) t.set_requires_grad(true);
    return t;
}

// Runs `body` once with every kernel in check mode: throws KernelMismatch on any difference.
void check_against_ref(const std::function<void()>& body) {
    const std::string prev = kernel_mode_spec();
    set_kernel_mode("check");
    body();
    set_kernel_mode(prev);
}

// The floor: the three matmuls of linear forward+backward, bare oneDNN, buffers allocated once.
double bare_dnnl_linear_ms(int64_t N, int64_t in, int64_t out, double budget, Timing* timing) {
    using dt = dnnl::memory::data_type;
    using dims = dnnl::memory::dims;
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream s(eng);
    std::vector<float> x(N * in, 0.5f), w(out * in, 0.25f), b(out, 0.1f), y(N * out), dy(N * out, 1.0f),
        dx(N * in), dw(out * in);
    auto md = [](dims d, dims st) { return dnnl::memory::desc(d, dt::f32, st); };
    // fwd: y(N,out) = x(N,in) @ w^T (in,out) + b
    auto x_md = md({N, in}, {in, 1}), wT_md = md({in, out}, {1, in}), b_md = md({1, out}, {out, 1}),
         y_md = md({N, out}, {out, 1});
    dnnl::matmul fwd(dnnl::matmul::primitive_desc(dnnl::matmul::desc(x_md, wT_md, b_md, y_md), eng));
    // dgrad: dx(N,in) = dy(N,out) @ w(out,in)
    auto dy_md = md({N, out}, {out, 1}), w_md = md({out, in}, {in, 1}), dx_md = md({N, in}, {in, 1});
    dnnl::matmul dgrad(dnnl::matmul::primitive_desc(dnnl::matmul::desc(dy_md, w_md, dx_md), eng));
    // wgrad: dw(out,in) = dy^T(out,N) @ x(N,in)
    auto dyT_md = md({out, N}, {1, out}), dw_md = md({out, in}, {in, 1});
    dnnl::matmul wgrad(dnnl::matmul::primitive_desc(dnnl::matmul::desc(dyT_md, x_md, dw_md), eng));
    dnnl::memory xm(x_md, eng, x.data()), wTm(wT_md, eng, w.data()), bm(b_md, eng, b.data()), ym(y_md, eng, y.data()),
        dym(dy_md, eng, dy.data()), wm(w_md, eng, w.data()), dxm(dx_md, eng, dx.data()), dyTm(dyT_md, eng, dy.data()),
        dwm(dw_md, eng, dw.data());
    *timing = time_it(
        [&] {
            fwd.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wTm}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, ym}});
            dgrad.execute(s, {{DNNL_ARG_SRC, dym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dxm}});
            wgrad.execute(s, {{DNNL_ARG_SRC, dyTm}, {DNNL_ARG_WEIGHTS, xm}, {DNNL_ARG_DST, dwm}});
            s.wait();
        },
        budget);
    return timing->median_ms;
}

// A u8 pruning mask keeping every other weight.
Tensor half_mask(int64_t out, int64_t in) {
    std::vector<uint8_t> m(static_cast<size_t>(out * in));
    for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<uint8_t>(i % 2);
    return Tensor::from_vector(m, {out, in});
}
// The shapes linear_masked_fwdbwd runs on: BERT-tiny's feed-forward up (128 -> 512), BERT-small's up and down.
bool masked_shape(int64_t in, int64_t out) {
    return (in == 128 && out == 512) || (in == 512 && out == 2048) || (in == 2048 && out == 512);
}

void bench_linear(const Opts& o, const std::vector<std::string>& impls) {
    // 256 -> 768: query, key and value of the mini model as one GEMM (measured against three 256 -> 256)
    const std::vector<std::pair<int64_t, int64_t>> shapes = {{128, 128},  {128, 512},  {512, 128}, {256, 256},
                                                             {256, 768},  {256, 1024}, {1024, 256}, {512, 512},
                                                             {512, 2048}, {2048, 512}};
    check_against_ref([&] {
        for (auto [in, out] : shapes) {
            Tensor x = rand_t({64, in}, 1, true), w = rand_t({out, in}, 2, true), b = rand_t({out}, 3, true);
            linear(x, w, b).backward(rand_t({64, out}, 4));
            linear(x, w, b, half_mask(out, in)).backward(rand_t({64, out}, 4));
        }
    });
    std::printf("# linear: All results match (fast vs ref, forward and backward, with and without a mask, 64-row slices)\n");
    for (auto [in, out] : shapes) {
        const int64_t N = o.rows;
        const std::string shape = std::to_string(N) + "x" + std::to_string(in) + "x" + std::to_string(out);
        const double flops = 3.0 * 2.0 * static_cast<double>(N) * in * out;
        Timing bare;
        bare_dnnl_linear_ms(N, in, out, o.budget, &bare);
        emit("linear_fwdbwd", shape, "dnnl_bare", o.threads, bare, "gflops", flops);
        for (const std::string& impl : impls) {
            set_kernel_mode(impl);
            Tensor x = rand_t({N, in}, 1, true), w = rand_t({out, in}, 2, true), b = rand_t({out}, 3, true);
            Tensor dy = rand_t({N, out}, 4);
            const double budget = impl == "ref" ? 0.0 : o.budget;
            Timing t = time_it(
                [&] {
                    x.zero_grad();
                    w.zero_grad();
                    b.zero_grad();
                    linear(x, w, b).backward(dy);
                },
                budget, impl == "ref" ? 1 : 5);
            char extra[64] = "";
            if (impl == "fast")
                std::snprintf(extra, sizeof extra, " overhead_pct=%.1f", 100.0 * (t.median_ms / bare.median_ms - 1.0));
            emit("linear_fwdbwd", shape, impl, o.threads, t, "gflops", flops, extra);
            if (!masked_shape(in, out)) continue;
            const Tensor m = half_mask(out, in);
            Timing tm = time_it(
                [&] {
                    x.zero_grad();
                    w.zero_grad();
                    b.zero_grad();
                    linear(x, w, b, m).backward(dy);
                },
                budget, impl == "ref" ? 1 : 5);
            std::snprintf(extra, sizeof extra, " overhead_pct=%.1f", 100.0 * (tm.median_ms / t.median_ms - 1.0));
            emit("linear_masked_fwdbwd", shape, impl, o.threads, tm, "gflops", flops, extra);
        }
    }
}

void bench_attention_matmul(const Opts& o, const std::vector<std::string>& impls) {
    // scores = q @ k^T and ctx = p @ v for B=32, T=128 (B*T = 4096 rows), (hidden, heads) as in the presets
    const int64_t B = o.rows / 128, T = 128;
    const std::vector<std::pair<int64_t, int64_t>> cfgs = {{128, 2}, {256, 4}, {512, 8}};
    check_against_ref([&] {
        Tensor q = rand_t({2, 2, 16, 32}, 1, true), k = rand_t({2, 2, 16, 32}, 2, true);
        matmul(q, k, false, true).backward(rand_t({2, 2, 16, 16}, 3));
    });
    std::printf("# attention matmul: All results match\n");
    for (auto [H, NH] : cfgs) {
        const int64_t HS = H / NH;
        const std::string shape = std::to_string(B) + "x" + std::to_string(NH) + "x" + std::to_string(T) + "x" +
                                  std::to_string(HS);
        const double flops = 3.0 * 2.0 * static_cast<double>(B * NH) * T * T * HS;
        for (const std::string& impl : impls) {
            set_kernel_mode(impl);
            Tensor q = rand_t({B, NH, T, HS}, 1, true), k = rand_t({B, NH, T, HS}, 2, true);
            Tensor g = rand_t({B, NH, T, T}, 3);
            Timing t = time_it([&] { q.zero_grad(); k.zero_grad(); matmul(q, k, false, true).backward(g); },
                               impl == "ref" ? 0.0 : o.budget, impl == "ref" ? 1 : 5);
            emit("qkT_fwdbwd", shape, impl, o.threads, t, "gflops", flops);
        }
    }
}

// Memory-bound ops: GB/s counts the bytes each forward+backward must read and write at least once.
void bench_rowwise(const Opts& o, const std::vector<std::string>& impls) {
    const int64_t N = o.rows;
    check_against_ref([&] {
        Tensor x = rand_t({64, 256}, 1, true), g = rand_t({256}, 2, true), b = rand_t({256}, 3, true);
        layernorm(x, g, b).backward(rand_t({64, 256}, 4));
        gelu(x).backward(rand_t({64, 256}, 5));
        Tensor s = rand_t({2, 2, 16, 16}, 6, true), m = rand_t({2, 1, 1, 16}, 7);
        softmax(s, m).backward(rand_t({2, 2, 16, 16}, 8));
        Tensor ew = rand_t({100, 64}, 9, true);
        Rng rng(1);
        std::vector<int32_t> ids(256);
        for (auto& id : ids) id = static_cast<int32_t>(rng.below(100));
        embedding(ew, Tensor::from_vector(ids, {256})).backward(rand_t({256, 64}, 10));
        add(x, b).backward(rand_t({64, 256}, 11));
    });
    std::printf("# layernorm, gelu, softmax, embedding, add: All results match\n");
    for (const std::string& impl : impls) {
        set_kernel_mode(impl);
        const double bud = impl == "ref" ? 0.0 : o.budget;
        const int minr = impl == "ref" ? 1 : 5;
        for (int64_t C : {128, 256, 512}) {
            Tensor x = rand_t({N, C}, 1, true), g = rand_t({C}, 2, true), b = rand_t({C}, 3, true), dy = rand_t({N, C}, 4);
            Timing t = time_it([&] { x.zero_grad(); g.zero_grad(); b.zero_grad(); layernorm(x, g, b).backward(dy); }, bud, minr);
            emit("layernorm_fwdbwd", std::to_string(N) + "x" + std::to_string(C), impl, o.threads, t, "gbps",
                 5.0 * N * C * 4);  // fwd: read x, write y; bwd: read x, dy, write dx
            Timing ta = time_it([&] { x.zero_grad(); b.zero_grad(); add(x, b).backward(dy); }, bud, minr);
            emit("add_bias_fwdbwd", std::to_string(N) + "x" + std::to_string(C), impl, o.threads, ta, "gbps",
                 4.0 * N * C * 4);
        }
        for (int64_t I : {512, 1024, 2048}) {
            Tensor x = rand_t({N, I}, 1, true), dy = rand_t({N, I}, 2);
            Timing t = time_it([&] { x.zero_grad(); gelu(x).backward(dy); }, bud, minr);
            emit("gelu_fwdbwd", std::to_string(N) + "x" + std::to_string(I), impl, o.threads, t, "gbps", 5.0 * N * I * 4);
        }
        const int64_t B = N / 128, T = 128;
        for (int64_t NH : {2, 4, 8}) {
            Tensor s = rand_t({B, NH, T, T}, 1, true), m = rand_t({B, 1, 1, T}, 2), dy = rand_t({B, NH, T, T}, 3);
            Timing t = time_it([&] { s.zero_grad(); softmax(s, m).backward(dy); }, bud, minr);
            emit("softmax_mask_fwdbwd", std::to_string(B) + "x" + std::to_string(NH) + "x128x128", impl, o.threads, t,
                 "gbps", 5.0 * B * NH * T * T * 4);
        }
        for (int64_t C : {128, 256, 512}) {
            const int64_t V = 30522;
            Tensor w = rand_t({V, C}, 1, true), dy = rand_t({N, C}, 2);
            Rng rng(3);
            std::vector<int32_t> ids(static_cast<size_t>(N));
            for (auto& id : ids) id = static_cast<int32_t>(rng.below(V));
            Tensor idt = Tensor::from_vector(ids, {N});
            Timing t = time_it([&] { w.zero_grad(); embedding(w, idt).backward(dy); }, bud, minr);
            // backward writes the whole dense (V,C) gradient: that dominates
            emit("embedding_fwdbwd", std::to_string(N) + "x" + std::to_string(V) + "x" + std::to_string(C), impl,
                 o.threads, t, "gbps", (3.0 * N * C + 1.0 * V * C) * 4);
        }
    }
}
// Fixed-point fake quantization (QAT's extra work per Linear): forward, plus the clipped STE backward (the
// identity STE's backward is free: dy passes through). GB/s: fwd reads x, writes y; clipped bwd reads x, dy,
// writes dx.
void bench_quant(const Opts& o, const std::vector<std::string>& impls) {
    const int64_t N = o.rows;
    check_against_ref([&] {
        Tensor x = rand_t({64, 256}, 1, true);
        fake_quant(x, FixedPoint{8, 4}, Ste::Clipped).backward(rand_t({64, 256}, 2));
        fake_quant(x, FixedPoint{6, 2, true, true}).backward(rand_t({64, 256}, 3));
    });
    std::printf("# fake_quant: All results match\n");
    for (const std::string& impl : impls) {
        set_kernel_mode(impl);
        const double bud = impl == "ref" ? 0.0 : o.budget;
        const int minr = impl == "ref" ? 1 : 5;
        for (int64_t C : {128, 512, 2048}) {
            const std::string shape = std::to_string(N) + "x" + std::to_string(C);
            Tensor x = rand_t({N, C}, 1, true), dy = rand_t({N, C}, 2);
            Timing f = time_it([&] { NoGradGuard ng; Tensor y = fake_quant(x, FixedPoint{8, 4}); }, bud, minr);
            emit("fake_quant_fwd", shape, impl, o.threads, f, "gbps", 2.0 * N * C * 4);
            Timing t = time_it([&] { x.zero_grad(); fake_quant(x, FixedPoint{8, 4}, Ste::Clipped).backward(dy); }, bud, minr);
            emit("fake_quant_clipped_fwdbwd", shape, impl, o.threads, t, "gbps", 5.0 * N * C * 4);
        }
    }
}

// Every other number format (engine/ops/formats.h), forward only (their backward is the identity STE: free),
// on an activation-shaped [N, C] tensor blocked per row as Lab 3 does (block [1, 16], skip_first_dim), in the
// setting qbert::passes::example_quant_config gives. GB/s: reads x, writes y.
void bench_formats(const Opts& o, const std::vector<std::string>& impls) {
    const int64_t N = o.rows;
    const FormatKind kinds[] = {FormatKind::MinifloatDenorm, FormatKind::MinifloatIeee, FormatKind::Log,
                                FormatKind::BlockFp, FormatKind::BlockMinifloat, FormatKind::BlockLog,
                                FormatKind::Binary, FormatKind::Ternary};
    check_against_ref([&] {
        Tensor x = rand_t({64, 256}, 1, true);
        for (FormatKind k : kinds) quantize(x, qbert::passes::example_quant_config(k).weight).backward(rand_t({64, 256}, 2));
    });
    std::printf("# formats: All results match\n");
    for (const std::string& impl : impls) {
        set_kernel_mode(impl);
        const double bud = impl == "ref" ? 0.0 : o.budget;
        const int minr = impl == "ref" ? 1 : 5;
        for (int64_t C : {128, 512}) {
            const std::string shape = std::to_string(N) + "x" + std::to_string(C);
            Tensor x = rand_t({N, C}, 1, false);
            for (FormatKind k : kinds) {
                const NumberFormat f = qbert::passes::example_quant_config(k).data_in.kind == FormatKind::Fp32
                                           ? qbert::passes::example_quant_config(k).weight
                                           : qbert::passes::example_quant_config(k).data_in;
                Timing t = time_it([&] { NoGradGuard ng; Tensor y = quantize(x, f); }, bud, minr);
                emit(std::string("quantize_") + format_name(k) + "_fwd", shape, impl, o.threads, t, "gbps", 2.0 * N * C * 4);
            }
        }
    }
}

// Activation-pruning masks (one per Linear input per step): random (a counter-based hash per element) and
// |x| > t. GB/s: random writes the mask; threshold reads x and writes the mask.
void bench_mask(const Opts& o, const std::vector<std::string>& impls) {
    const int64_t N = o.rows;
    check_against_ref([&] {
        (void)random_keep_mask({64, 256}, 7, 0.3);
        (void)threshold_keep_mask(rand_t({64, 256}, 1), 0.5);
    });
    std::printf("# random_keep_mask, threshold_keep_mask: All results match\n");
    for (const std::string& impl : impls) {
        set_kernel_mode(impl);
        const double bud = impl == "ref" ? 0.0 : o.budget;
        const int minr = impl == "ref" ? 1 : 5;
        for (int64_t C : {128, 512, 2048}) {
            const std::string shape = std::to_string(N) + "x" + std::to_string(C);
            uint64_t seed = 0;
            Timing r = time_it([&] { Tensor m = random_keep_mask({N, C}, ++seed, 0.5); }, bud, minr);
            emit("random_keep_mask", shape, impl, o.threads, r, "gbps", 1.0 * N * C * 4);
            Tensor x = rand_t({N, C}, 1);
            Timing t = time_it([&] { Tensor m = threshold_keep_mask(x, 0.5); }, bud, minr);
            emit("threshold_keep_mask", shape, impl, o.threads, t, "gbps", 2.0 * N * C * 4);
        }
    }
}
// The host's bare GEMM rates on one [N, in] x [in, out] shape: oneDNN fp32, bf16 operands (fp32 sums), and s8
// x s8 -> s32 with the int8 layer's epilogue (the float scale and bias). No engine op around them: what the
// machine gives, to print beside every ratio (machines of "the same" kind differ).
void bench_gemm_bare(const Opts& o, int64_t N, int64_t in, int64_t out) {
    const std::string shape = std::to_string(N) + "x" + std::to_string(in) + "x" + std::to_string(out);
    const double flops = 2.0 * static_cast<double>(N) * in * out;
    Tensor x = rand_t({N, in}, 1), w = rand_t({out, in}, 2), b = rand_t({out}, 3);
    set_kernel_mode("fast");
    std::vector<float> y(static_cast<size_t>(N * out));
    for (const bool bf16 : {false, true}) {
        Timing t = time_it([&] {
            fast::matmul_forward_fast(x.data<float>(), w.data<float>(), b.data<float>(), y.data(), 1, N, out, in, false,
                                      true, 0, bf16);
        }, o.budget, 5);
        emit("gemm_bare", shape, bf16 ? "dnnl_bf16" : "dnnl_f32", o.threads, t, "gflops", flops);
    }
    Tensor xi = Tensor::empty({N, in}, DType::I8);
    fast::quantize_int8_fast<int8_t>(x.data<float>(), nullptr, xi.data<int8_t>(), N * in, 16.0f, -128.0f, 127.0f, false);
    const Tensor wi = quantize_weight_int8(w, FixedPoint{8, 4});
    Timing t = time_it([&] {
        fast::linear_int8_forward_fast<int8_t>(xi.data<int8_t>(), wi.data<int8_t>(), b.data<float>(), y.data(), N, in,
                                               out, 1.0f / 256.0f);
    }, o.budget, 5);
    emit("gemm_bare", shape, "dnnl_s8_epilogue", o.threads, t, "gflops", flops);
}

// Integer inference of a fixed-point Linear (ops/int8.h), forward only, at BERT mini/small shapes: the float
// layer (f32 and bf16 matmuls), the fake-quant layer it replaces (Q8.4 input and weight, float matmul), and the
// int8 layer as the model runs it (weight and input quantized per call) and with the weight quantized once; plus
// the host's bare GEMM rates (fp32, bf16, int8 with its epilogue) for the same shape. gflops = 2*N*in*out / time.
void bench_int8(const Opts& o, const std::vector<std::string>& impls) {
    const int64_t N = o.rows;
    check_against_ref([&] {
        NoGradGuard ng;
        Tensor x = rand_t({64, 256}, 1), w = rand_t({128, 256}, 2), b = rand_t({128}, 3);
        Tensor y = linear_int8(x, FixedPoint{8, 4}, quantize_weight_int8(w, FixedPoint{8, 6}), 6, b);
        Tensor yu = linear_int8(x, FixedPoint{8, 4, false}, quantize_weight_int8(w, FixedPoint{8, 6}), 6, b);
    });
    std::printf("# int8_linear: All results match\n");
    const FixedPoint qx{8, 4}, qw{8, 4};
    for (auto [in, out] : std::vector<std::pair<int64_t, int64_t>>{{256, 256}, {256, 1024}, {1024, 256}, {512, 512},
                                                                   {512, 2048}, {2048, 512}}) {
        const std::string shape = std::to_string(N) + "x" + std::to_string(in) + "x" + std::to_string(out);
        const double flops = 2.0 * static_cast<double>(N) * in * out;
        Tensor x = rand_t({N, in}, 1), w = rand_t({out, in}, 2), b = rand_t({out}, 3);
        bench_gemm_bare(o, N, in, out);
        for (const std::string& impl : impls) {
            set_kernel_mode(impl);
            const double bud = impl == "ref" ? 0.0 : o.budget;
            const int minr = impl == "ref" ? 1 : 5;
            NoGradGuard ng;
            for (const char* prec : {"f32", "bf16"}) {
                set_matmul_precision(prec);
                Timing t = time_it([&] { Tensor y = linear(x, w, b); }, bud, minr);
                emit("linear_fwd", shape, impl + "_" + prec, o.threads, t, "gflops", flops);
            }
            set_matmul_precision("f32");
            Timing fq = time_it([&] { Tensor y = linear(fake_quant(x, qx), fake_quant(w, qw), b); }, bud, minr);
            emit("linear_fq_fwd", shape, impl, o.threads, fq, "gflops", flops);
            // x.bump_version(): a new input every call, as in a model (the op quantizes an input it has just seen
            // only once, for query, key and value; without this the timing would skip the input's quantization)
            Timing i8 = time_it([&] {
                x.bump_version();
                Tensor y = linear_int8(x, qx, quantize_weight_int8(w, qw), qw.frac_width, b);
            }, bud, minr);
            emit("linear_int8_fwd", shape, impl, o.threads, i8, "gflops", flops,
                 " speedup_vs_fq=" + std::to_string(fq.median_ms / i8.median_ms));
            const Tensor wi = quantize_weight_int8(w, qw);
            Timing i8w = time_it([&] {
                x.bump_version();
                Tensor y = linear_int8(x, qx, wi, qw.frac_width, b);
            }, bud, minr);
            emit("linear_int8_prequant_fwd", shape, impl, o.threads, i8w, "gflops", flops);
        }
    }
}

// Sparse inference of a pruned Linear (ops/sparse.h), forward only, at each preset's Linear shapes (tiny 128/512,
// mini 256/1024, small 512/2048: attention (h x h), feed-forward up (h -> 4h) and down (4h -> h)) over a sweep of
// sparsities (random masks): the dense fp32 layer (what an unpruned or mask-only model runs), and the CSR kernel.
// gflops counts the dense layer's 2*N*in*out for both, so it reads as an effective rate; speedup = dense / sparse.
// A "crossover" line per shape gives the lowest swept sparsity at which the sparse kernel is faster.
void bench_sparse(const Opts& o, const std::vector<std::string>& impls) {
    const int64_t N = o.rows;
    check_against_ref([&] {
        NoGradGuard ng;
        Tensor x = rand_t({300, 96}, 1), w = rand_t({70, 96}, 2), b = rand_t({70}, 3);
        Tensor y = linear_sparse(x, csr_from_dense(w, half_mask(70, 96)), b);
    });
    std::printf("# sparse_linear: All results match\n");
    const std::vector<double> sparsities{0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95};
    for (auto [preset, in, out] : std::vector<std::tuple<std::string, int64_t, int64_t>>{
             {"tiny", 128, 128}, {"tiny", 128, 512}, {"tiny", 512, 128}, {"mini", 256, 256}, {"mini", 256, 1024},
             {"mini", 1024, 256}, {"small", 512, 512}, {"small", 512, 2048}, {"small", 2048, 512}}) {
        const std::string shape = std::to_string(N) + "x" + std::to_string(in) + "x" + std::to_string(out);
        const double flops = 2.0 * static_cast<double>(N) * in * out;
        Tensor x = rand_t({N, in}, 1), w = rand_t({out, in}, 2), b = rand_t({out}, 3);
        for (const std::string& impl : impls) {
            set_kernel_mode(impl);
            const double bud = impl == "ref" ? 0.0 : o.budget;
            const int minr = impl == "ref" ? 1 : 5;
            NoGradGuard ng;
            Timing dense = time_it([&] { Tensor y = linear(x, w, b); }, bud, minr);
            emit("linear_dense_fwd", shape, impl, o.threads, dense, "gflops", flops, " preset=" + preset);
            double crossover = -1.0;
            for (const double sp : sparsities) {
                Rng rng(7);
                std::vector<uint8_t> keep(static_cast<size_t>(out * in));
                for (auto& k : keep) k = rng.uniform() < sp ? 0 : 1;
                const CsrMatrix m = csr_from_dense(w, Tensor::from_vector(keep, {out, in}));
                Timing t = time_it([&] { Tensor y = linear_sparse(x, m, b); }, bud, minr);
                const double speedup = dense.median_ms / t.median_ms;
                if (crossover < 0.0 && speedup > 1.0) crossover = sp;
                char extra[160];
                std::snprintf(extra, sizeof extra, " preset=%s sparsity=%.2f density=%.4f speedup_vs_dense=%.2f",
                              preset.c_str(), sp, m.density(), speedup);
                emit("linear_sparse_fwd", shape, impl, o.threads, t, "gflops", flops, extra);
            }
            std::printf("op=sparse_crossover shape=%s impl=%s threads=%d preset=%s crossover_sparsity=%s\n",
                        shape.c_str(), impl.c_str(), o.threads, preset.c_str(),
                        crossover < 0.0 ? "none" : std::to_string(crossover).substr(0, 4).c_str());
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench_ops: per-op speed at BERT shapes"};
    Opts o;
    app.add_option("--threads", o.threads, "OpenMP threads")->capture_default_str();
    app.add_option("--impl", o.impl, "fast | ref | all (ref runs each shape once: slow)")->capture_default_str();
    app.add_option("--ops", o.ops, "comma list of linear,attention,rowwise,quant,mask,formats,int8,sparse, or all; gemm: the host's bare GEMM rates only")->capture_default_str();
    app.add_option("--budget", o.budget, "seconds of timing per line")->capture_default_str();
    app.add_option("--rows", o.rows, "B*T rows")->capture_default_str();
    app.add_flag("--no-alloc-cache", o.no_alloc_cache, "every tensor buffer from the system allocator (to measure the cache)");
    CLI11_PARSE(app, argc, argv);
    try {
        set_num_threads(o.threads);
        if (o.no_alloc_cache) allocator_set_caching(false);
        std::vector<std::string> impls;
        if (o.impl == "all") impls = {"fast", "ref"};
        else if (o.impl == "fast" || o.impl == "ref") impls = {o.impl};
        else throw Error("--impl must be fast, ref or all, but got '" + o.impl + "'");
        const std::time_t now = std::time(nullptr);
        char date[32];
        std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
#ifdef NDEBUG
        const char* build = "release";
#else
        const char* build = "debug";
#endif
        std::printf("# bench_ops build=%s threads=%d impl=%s rows=%ld alloc_cache=%d date=%s dnnl=%d.%d.%d\n", build,
                    o.threads, o.impl.c_str(), long(o.rows), int(!o.no_alloc_cache), date, dnnl_version()->major, dnnl_version()->minor,
                    dnnl_version()->patch);
        const auto ops = split_csv(o.ops);
        const bool all = ops.count("all") > 0;
        if (all || ops.count("linear")) bench_linear(o, impls);
        if (all || ops.count("attention")) bench_attention_matmul(o, impls);
        if (all || ops.count("rowwise")) bench_rowwise(o, impls);
        if (all || ops.count("quant")) bench_quant(o, impls);
        if (all || ops.count("mask")) bench_mask(o, impls);
        if (all || ops.count("formats")) bench_formats(o, impls);
        if (all || ops.count("int8")) bench_int8(o, impls);
        if (all || ops.count("sparse")) bench_sparse(o, impls);
        if (ops.count("gemm"))  // the host's bare GEMM rates alone, at BERT-mini's FFN shape (compare-peer.sh)
            bench_gemm_bare(o, o.rows, 256, 1024);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
