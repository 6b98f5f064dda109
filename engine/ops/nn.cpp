#include "engine/ops/nn.h"

#include <cmath>

#include "engine/autograd/graph.h"
#include "engine/autograd/node.h"
#include "engine/core/rng.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/ref/ref.h"
#include "engine/ops/common.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace qbert::engine {

using detail::contig;

namespace {
int64_t last_dim(const Tensor& t) { return t.dim() == 0 ? 1 : t.size(-1); }
int64_t rows_of(const Tensor& t) {
    const int64_t c = last_dim(t);
    return c == 0 ? 0 : t.numel() / c;
}
bool is_f32(const Tensor& t) { return t.dtype() == DType::F32; }

// Offsets of each row's mask start when `mask` is broadcast to `x` (rows = all dims but the last).
std::vector<int64_t> mask_row_offsets(const Tensor& mask, const Shape& xs, int64_t& col_stride) {
    const Shape bs = detail::broadcast_strides(mask.shape(), mask.strides(), xs);
    const int64_t nd = static_cast<int64_t>(xs.size());
    col_stride = nd ? bs[nd - 1] : 0;
    const int64_t C = nd ? xs[nd - 1] : 1;
    const int64_t N = C ? shape_numel(xs) / C : 0;
    std::vector<int64_t> off(static_cast<size_t>(N));
    std::vector<int64_t> idx(static_cast<size_t>(std::max<int64_t>(nd - 1, 0)), 0);
    int64_t o = 0;
    for (int64_t r = 0; r < N; ++r) {
        off[r] = o;
        for (int64_t d = nd - 2; d >= 0; --d) {
            if (++idx[d] < xs[d]) {
                o += bs[d];
                break;
            }
            o -= bs[d] * (xs[d] - 1);
            idx[d] = 0;
        }
    }
    return off;
}

}  // namespace

Tensor softmax(const Tensor& x_in, const Tensor& mask_in) {
    detail::check_same_floating("softmax", {&x_in, &mask_in});
    ENGINE_CHECK_SHAPE(x_in.dim() >= 1, "softmax: x needs >= 1 dim, but got ", x_in.str());
    Tensor x = contig(x_in);
    Tensor mask = mask_in.defined() ? contig(mask_in) : Tensor();
    if (mask.defined())
        ENGINE_CHECK_SHAPE(broadcast_shapes("softmax (mask)", mask.shape(), x.shape()) == x.shape(),
                           "softmax: the mask must broadcast to x without growing it, but got x=", shape_str(x.shape()),
                           " mask=", shape_str(mask.shape()));
    const int64_t N = rows_of(x), C = last_dim(x);
    int64_t col_stride = 0;
    std::vector<int64_t> offs;
    if (mask.defined()) offs = mask_row_offsets(mask, x.shape(), col_stride);
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    KernelCall k("softmax", "softmax_forward", is_f32(x), Tolerance{1e-6, 1e-4});
    switch (k.mode()) {
        case KernelMode::Ref:
            if (x.dtype() == DType::F64)
                ref::softmax_forward_ref(x.data<double>(), mask.defined() ? mask.data<double>() : nullptr, offs.data(),
                                         col_stride, y.data<double>(), N, C);
            else
                ref::softmax_forward_ref(x.data<float>(), mask.defined() ? mask.data<float>() : nullptr, offs.data(),
                                         col_stride, y.data<float>(), N, C);
            break;
        case KernelMode::Fast:
            fast::softmax_forward_fast(x.data<float>(), mask.defined() ? mask.data<float>() : nullptr, offs.data(),
                                       col_stride, y.data<float>(), N, C);
            break;
        case KernelMode::Check: {
            ref::softmax_forward_ref(x.data<float>(), mask.defined() ? mask.data<float>() : nullptr, offs.data(),
                                     col_stride, y.data<float>(), N, C);
            Tensor y_fast = k.check_output(y);
            fast::softmax_forward_fast(x.data<float>(), mask.defined() ? mask.data<float>() : nullptr, offs.data(),
                                       col_stride, y_fast.data<float>(), N, C);
            break;
        }
    }
    k.finish({y});
    const Shape ms = mask_in.defined() ? mask_in.shape() : Shape{};
    return record(y, "softmax", {x_in, mask_in}, {y}, [N, C, ms](const Tensor& g_in, const BackwardContext& c) {
        Tensor g = contig(g_in);
        const Tensor& yv = c.saved[0];
        Tensor dx = Tensor::empty(yv.shape(), yv.dtype());
        KernelCall k("softmax", "softmax_backward", is_f32(yv), Tolerance{1e-6, 1e-4});
        switch (k.mode()) {
            case KernelMode::Ref:
                if (yv.dtype() == DType::F64)
                    ref::softmax_backward_ref(yv.data<double>(), g.data<double>(), dx.data<double>(), N, C);
                else
                    ref::softmax_backward_ref(yv.data<float>(), g.data<float>(), dx.data<float>(), N, C);
                break;
            case KernelMode::Fast:
                fast::softmax_backward_fast(yv.data<float>(), g.data<float>(), dx.data<float>(), N, C);
                break;
            case KernelMode::Check: {
                ref::softmax_backward_ref(yv.data<float>(), g.data<float>(), dx.data<float>(), N, C);
                Tensor dx_fast = k.check_output(dx);
                fast::softmax_backward_fast(yv.data<float>(), g.data<float>(), dx_fast.data<float>(), N, C);
                break;
            }
        }
        k.finish({dx});
        Tensor dmask;
        if (c.needs(1)) dmask = sum_to(dx, ms);  // d(x + mask)/d mask = identity, reduced to mask's shape
        return std::vector<Tensor>{c.needs(0) ? dx : Tensor(), dmask};
    });
}

Tensor log_softmax(const Tensor& x_in) {
    detail::check_same_floating("log_softmax", {&x_in});
    Tensor x = contig(x_in);
    const int64_t N = rows_of(x), C = last_dim(x);
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    // Reference only: BERT applies it to (B, num_labels) logits, where a fast kernel would not matter.
    if (x.dtype() == DType::F64)
        ref::log_softmax_forward_ref(x.data<double>(), y.data<double>(), N, C);
    else
        ref::log_softmax_forward_ref(x.data<float>(), y.data<float>(), N, C);
    return record(y, "log_softmax", {x_in}, {y}, [N, C](const Tensor& g_in, const BackwardContext& c) {
        Tensor g = contig(g_in);
        const Tensor& yv = c.saved[0];
        Tensor dx = Tensor::empty(yv.shape(), yv.dtype());
        if (yv.dtype() == DType::F64)
            ref::log_softmax_backward_ref(yv.data<double>(), g.data<double>(), dx.data<double>(), N, C);
        else
            ref::log_softmax_backward_ref(yv.data<float>(), g.data<float>(), dx.data<float>(), N, C);
        return std::vector<Tensor>{dx};
    });
}

Tensor cross_entropy(const Tensor& logits_in, const Tensor& labels_in, double smoothing) {
    detail::check_same_floating("cross_entropy", {&logits_in});
    ENGINE_CHECK_SHAPE(logits_in.dim() == 2 && labels_in.dim() == 1 && labels_in.size(0) == logits_in.size(0),
                       "cross_entropy: logits (N,C) and labels (N) must hold, but got logits=", shape_str(logits_in.shape()),
                       " labels=", shape_str(labels_in.shape()));
    ENGINE_CHECK(labels_in.dtype() == DType::I32, "cross_entropy: labels must be i32, but got ", labels_in.str());
    ENGINE_CHECK(smoothing >= 0.0 && smoothing <= 1.0, "cross_entropy: 0 <= label_smoothing <= 1 must hold, but got ",
                 smoothing);
    Tensor logits = contig(logits_in), labels = contig(labels_in);
    const int64_t N = logits.size(0), C = logits.size(1);
    ENGINE_CHECK_SHAPE(N > 0, "cross_entropy: needs at least one row, but got logits=", shape_str(logits.shape()));
    const int32_t* lab = labels.data<int32_t>();
    for (int64_t r = 0; r < N; ++r)
        ENGINE_CHECK(lab[r] >= 0 && lab[r] < C, "cross_entropy: label ", lab[r], " at row ", r,
                     " is out of range [0, ", C, ")");
    Tensor loss = Tensor::empty({}, logits.dtype());
    Tensor probs = Tensor::empty(logits.shape(), logits.dtype());
    if (logits.dtype() == DType::F64)  // reference only: (B, labels) is tiny
        ref::cross_entropy_forward_ref(logits.data<double>(), lab, loss.data<double>(), probs.data<double>(), N, C,
                                       smoothing);
    else
        ref::cross_entropy_forward_ref(logits.data<float>(), lab, loss.data<float>(), probs.data<float>(), N, C,
                                       smoothing);
    return record(loss, "cross_entropy", {logits_in}, {probs, labels},
                  [N, C, smoothing](const Tensor& g, const BackwardContext& c) {
                      const Tensor& p = c.saved[0];
                      Tensor dx = Tensor::empty(p.shape(), p.dtype());
                      const int32_t* labv = c.saved[1].data<int32_t>();
                      if (p.dtype() == DType::F64)
                          ref::cross_entropy_backward_ref(p.data<double>(), labv, g.item(), dx.data<double>(), N, C,
                                                          smoothing);
                      else
                          ref::cross_entropy_backward_ref(p.data<float>(), labv, static_cast<float>(g.item()),
                                                          dx.data<float>(), N, C, smoothing);
                      return std::vector<Tensor>{dx};
                  });
}

Tensor layernorm(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in, double eps) {
    detail::check_same_floating("layernorm", {&x_in, &gamma_in, &beta_in});
    const int64_t C = last_dim(x_in);
    ENGINE_CHECK_SHAPE(x_in.dim() >= 1 && gamma_in.shape() == Shape{C} && beta_in.shape() == Shape{C},
                       "layernorm: gamma and beta must be [x.size(-1)], but got x=", shape_str(x_in.shape()),
                       " gamma=", shape_str(gamma_in.shape()), " beta=", shape_str(beta_in.shape()));
    ENGINE_CHECK(eps > 0.0, "layernorm: eps > 0 must hold, but got ", eps);
    Tensor x = contig(x_in), gamma = contig(gamma_in), beta = contig(beta_in);
    const int64_t N = rows_of(x);
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    Tensor mean = Tensor::empty({N}, x.dtype()), rstd = Tensor::empty({N}, x.dtype());
    KernelCall k("layernorm", "layernorm_forward", is_f32(x), Tolerance{1e-5, 1e-4});
    switch (k.mode()) {
        case KernelMode::Ref:
            if (x.dtype() == DType::F64)
                ref::layernorm_forward_ref(x.data<double>(), gamma.data<double>(), beta.data<double>(),
                                           y.data<double>(), mean.data<double>(), rstd.data<double>(), N, C, eps);
            else
                ref::layernorm_forward_ref(x.data<float>(), gamma.data<float>(), beta.data<float>(), y.data<float>(),
                                           mean.data<float>(), rstd.data<float>(), N, C, eps);
            break;
        case KernelMode::Fast:
            fast::layernorm_forward_fast(x.data<float>(), gamma.data<float>(), beta.data<float>(), y.data<float>(),
                                         mean.data<float>(), rstd.data<float>(), N, C, eps);
            break;
        case KernelMode::Check: {
            ref::layernorm_forward_ref(x.data<float>(), gamma.data<float>(), beta.data<float>(), y.data<float>(),
                                       mean.data<float>(), rstd.data<float>(), N, C, eps);
            Tensor y_fast = k.check_output(y), mean_fast = k.check_output(mean), rstd_fast = k.check_output(rstd);
            fast::layernorm_forward_fast(x.data<float>(), gamma.data<float>(), beta.data<float>(), y_fast.data<float>(),
                                         mean_fast.data<float>(), rstd_fast.data<float>(), N, C, eps);
            break;
        }
    }
    k.finish({y, mean, rstd});
    return record(y, "layernorm", {x_in, gamma_in, beta_in}, {x, gamma, mean, rstd},
                  [N, C](const Tensor& g_in, const BackwardContext& c) {
                      Tensor g = contig(g_in);
                      const Tensor &xv = c.saved[0], &gm = c.saved[1], &mu = c.saved[2], &rs = c.saved[3];
                      Tensor dx = Tensor::empty(xv.shape(), xv.dtype());
                      Tensor dgamma = Tensor::empty({C}, xv.dtype()), dbeta = Tensor::empty({C}, xv.dtype());
                      KernelCall k("layernorm", "layernorm_backward", is_f32(xv), Tolerance{1e-4, 1e-3});
                      switch (k.mode()) {
                          case KernelMode::Ref:
                              if (xv.dtype() == DType::F64)
                                  ref::layernorm_backward_ref(xv.data<double>(), gm.data<double>(), mu.data<double>(),
                                                              rs.data<double>(), g.data<double>(), dx.data<double>(),
                                                              dgamma.data<double>(), dbeta.data<double>(), N, C);
                              else
                                  ref::layernorm_backward_ref(xv.data<float>(), gm.data<float>(), mu.data<float>(),
                                                              rs.data<float>(), g.data<float>(), dx.data<float>(),
                                                              dgamma.data<float>(), dbeta.data<float>(), N, C);
                              break;
                          case KernelMode::Fast:
                              fast::layernorm_backward_fast(xv.data<float>(), gm.data<float>(), mu.data<float>(),
                                                            rs.data<float>(), g.data<float>(), dx.data<float>(),
                                                            dgamma.data<float>(), dbeta.data<float>(), N, C);
                              break;
                          case KernelMode::Check: {
                              ref::layernorm_backward_ref(xv.data<float>(), gm.data<float>(), mu.data<float>(),
                                                          rs.data<float>(), g.data<float>(), dx.data<float>(),
                                                          dgamma.data<float>(), dbeta.data<float>(), N, C);
                              Tensor dx_fast = k.check_output(dx), dgamma_fast = k.check_output(dgamma),
                                     dbeta_fast = k.check_output(dbeta);
                              fast::layernorm_backward_fast(xv.data<float>(), gm.data<float>(), mu.data<float>(),
                                                            rs.data<float>(), g.data<float>(), dx_fast.data<float>(),
                                                            dgamma_fast.data<float>(), dbeta_fast.data<float>(), N, C);
                              break;
                          }
                      }
                      k.finish({dx, dgamma, dbeta});
                      return std::vector<Tensor>{c.needs(0) ? dx : Tensor(), c.needs(1) ? dgamma : Tensor(),
                                                 c.needs(2) ? dbeta : Tensor()};
                  });
}

namespace {
// One forward and one backward kernel pair per elementwise activation.
struct ActivationKernels {
    const char* family;
    const char* fwd_name;
    const char* bwd_name;
    void (*fwd_ref_f)(const float*, float*, int64_t);
    void (*fwd_ref_d)(const double*, double*, int64_t);
    void (*fwd_fast)(const float*, float*, int64_t);
    void (*bwd_ref_f)(const float*, const float*, float*, int64_t);
    void (*bwd_ref_d)(const double*, const double*, double*, int64_t);
    void (*bwd_fast)(const float*, const float*, float*, int64_t);
    bool save_output;  // tanh's derivative comes from y; GELU's from x
};

Tensor run_unary(const ActivationKernels& kt, const Tensor& src, bool forward, const Tensor& dy = Tensor()) {
    Tensor out = Tensor::empty(src.shape(), src.dtype());
    const int64_t n = src.numel();
    // The kernels come from the table `kt`: a call through a plain function pointer, not a lambda.
    KernelCall k(kt.family, forward ? kt.fwd_name : kt.bwd_name, is_f32(src), Tolerance{2e-6, 1e-5});
    const bool f64 = src.dtype() == DType::F64;
    switch (k.mode()) {
        case KernelMode::Ref:
            if (forward) {
                if (f64) kt.fwd_ref_d(src.data<double>(), out.data<double>(), n);
                else kt.fwd_ref_f(src.data<float>(), out.data<float>(), n);
            } else {
                if (f64) kt.bwd_ref_d(src.data<double>(), dy.data<double>(), out.data<double>(), n);
                else kt.bwd_ref_f(src.data<float>(), dy.data<float>(), out.data<float>(), n);
            }
            break;
        case KernelMode::Fast:
            if (forward) kt.fwd_fast(src.data<float>(), out.data<float>(), n);
            else kt.bwd_fast(src.data<float>(), dy.data<float>(), out.data<float>(), n);
            break;
        case KernelMode::Check: {
            Tensor out_fast = k.check_output(out);
            if (forward) {
                kt.fwd_ref_f(src.data<float>(), out.data<float>(), n);
                kt.fwd_fast(src.data<float>(), out_fast.data<float>(), n);
            } else {
                kt.bwd_ref_f(src.data<float>(), dy.data<float>(), out.data<float>(), n);
                kt.bwd_fast(src.data<float>(), dy.data<float>(), out_fast.data<float>(), n);
            }
            break;
        }
    }
    k.finish({out});
    return out;
}

Tensor activation(const ActivationKernels& k, const Tensor& x_in) {
    detail::check_same_floating(k.family, {&x_in});
    Tensor x = contig(x_in);
    Tensor y = run_unary(k, x, true);
    const ActivationKernels* kp = &k;
    return record(y, k.family, {x_in}, {k.save_output ? y : x}, [kp](const Tensor& g, const BackwardContext& c) {
        return std::vector<Tensor>{run_unary(*kp, c.saved[0], false, contig(g))};
    });
}

const ActivationKernels kGelu{"gelu",
                              "gelu_forward",
                              "gelu_backward",
                              ref::gelu_forward_ref<float>,
                              ref::gelu_forward_ref<double>,
                              fast::gelu_forward_fast,
                              ref::gelu_backward_ref<float>,
                              ref::gelu_backward_ref<double>,
                              fast::gelu_backward_fast,
                              false};
const ActivationKernels kTanh{"tanh",
                              "tanh_forward",
                              "tanh_backward",
                              ref::tanh_forward_ref<float>,
                              ref::tanh_forward_ref<double>,
                              fast::tanh_forward_fast,
                              ref::tanh_backward_ref<float>,
                              ref::tanh_backward_ref<double>,
                              fast::tanh_backward_fast,
                              true};
}  // namespace

Tensor gelu(const Tensor& x) { return activation(kGelu, x); }
Tensor tanh(const Tensor& x) { return activation(kTanh, x); }

Tensor embedding(const Tensor& weight_in, const Tensor& ids_in) {
    detail::check_same_floating("embedding", {&weight_in});
    ENGINE_CHECK_SHAPE(weight_in.dim() == 2, "embedding: weight must be (V,C), but got ", weight_in.str());
    ENGINE_CHECK(ids_in.dtype() == DType::I32, "embedding: ids must be i32, but got ", ids_in.str());
    Tensor w = contig(weight_in), ids = contig(ids_in);
    const int64_t V = w.size(0), C = w.size(1), n = ids.numel();
    const int32_t* id = ids.data<int32_t>();
    for (int64_t i = 0; i < n; ++i)
        ENGINE_CHECK(id[i] >= 0 && id[i] < V, "embedding: id ", id[i], " at flat index ", i,
                     " is out of range [0, ", V, ") for weight ", shape_str(w.shape()));
    Shape out_shape = ids.shape();
    out_shape.push_back(C);
    Tensor out = Tensor::empty(out_shape, w.dtype());
    KernelCall k("embedding", "embedding_forward", is_f32(w), Tolerance{0.0, 0.0});
    switch (k.mode()) {
        case KernelMode::Ref:
            if (w.dtype() == DType::F64)
                ref::embedding_forward_ref(w.data<double>(), id, out.data<double>(), n, C);
            else
                ref::embedding_forward_ref(w.data<float>(), id, out.data<float>(), n, C);
            break;
        case KernelMode::Fast:
            fast::embedding_forward_fast(w.data<float>(), id, out.data<float>(), n, C);
            break;
        case KernelMode::Check: {
            ref::embedding_forward_ref(w.data<float>(), id, out.data<float>(), n, C);
            Tensor out_fast = k.check_output(out);
            fast::embedding_forward_fast(w.data<float>(), id, out_fast.data<float>(), n, C);
            break;
        }
    }
    k.finish({out});
    return record(out, "embedding", {weight_in}, {ids}, [V, C, n](const Tensor& g_in, const BackwardContext& c) {
        Tensor g = contig(g_in);
        const int32_t* idv = c.saved[0].data<int32_t>();
        Tensor dw = Tensor::empty({V, C}, g.dtype());
        KernelCall k("embedding", "embedding_backward", is_f32(g), Tolerance{1e-6, 1e-5});
        switch (k.mode()) {
            case KernelMode::Ref:
                if (g.dtype() == DType::F64)
                    ref::embedding_backward_ref(g.data<double>(), idv, dw.data<double>(), n, V, C);
                else
                    ref::embedding_backward_ref(g.data<float>(), idv, dw.data<float>(), n, V, C);
                break;
            case KernelMode::Fast:
                fast::embedding_backward_fast(g.data<float>(), idv, dw.data<float>(), n, V, C);
                break;
            case KernelMode::Check: {
                ref::embedding_backward_ref(g.data<float>(), idv, dw.data<float>(), n, V, C);
                Tensor dw_fast = k.check_output(dw);
                fast::embedding_backward_fast(g.data<float>(), idv, dw_fast.data<float>(), n, V, C);
                break;
            }
        }
        k.finish({dw});
        return std::vector<Tensor>{dw};
    });
}

namespace {
thread_local int64_t t_shard_before = 0, t_shard_after = 0;  // DropoutShard: rows of the global batch around ours
}  // namespace

DropoutShard::DropoutShard(int64_t before, int64_t after) : prev_before_(t_shard_before), prev_after_(t_shard_after) {
    ENGINE_CHECK(before >= 0 && after >= 0, "DropoutShard: rows before and after must be >= 0, got ", before, " and ", after);
    t_shard_before = before;
    t_shard_after = after;
}
DropoutShard::~DropoutShard() {
    t_shard_before = prev_before_;
    t_shard_after = prev_after_;
}

Tensor dropout(const Tensor& x, double p, Rng& rng, bool training) {
    ENGINE_CHECK(p >= 0.0 && p < 1.0, "dropout: 0 <= p < 1 must hold, but got p=", p);
    if (!training || p == 0.0) return x;
    // The mask is drawn sequentially (not per thread), so it does not depend on the thread count. Under a
    // DropoutShard the draws of the other ranks' rows are made and dropped, so every rank's stream stays where
    // one process's would be.
    Tensor mask = Tensor::empty(x.shape(), x.dtype());
    const double keep_scale = 1.0 / (1.0 - p);
    const int64_t per_row = x.dim() > 0 && x.size(0) > 0 ? x.numel() / x.size(0) : 0;
    for (int64_t i = 0; i < t_shard_before * per_row; ++i) (void)rng.uniform();
    dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
        using T = decltype(tag);
        T* m = mask.data<T>();
        for (int64_t i = 0; i < mask.numel(); ++i)
            m[i] = static_cast<double>(rng.uniform()) >= p ? static_cast<T>(keep_scale) : T(0);
    });
    for (int64_t i = 0; i < t_shard_after * per_row; ++i) (void)rng.uniform();
    Tensor y = mul(x, mask);
    if (graph::capturing() && y.grad_fn()) y.grad_fn()->debug_op = "dropout (mul)";  // QBERT_GRAPH's label
    return y;
}

}  // namespace qbert::engine
