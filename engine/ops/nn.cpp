#include "engine/ops/nn.h"

#include <cmath>

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
    run_kernel(
        "softmax", "softmax_forward", {y},
        [&](std::vector<Tensor>& o) {
            dispatch_floating(x.dtype(), "softmax", [&](auto tag) {
                using T = decltype(tag);
                ref::softmax_forward_ref<T>(x.data<T>(), mask.defined() ? mask.data<T>() : nullptr, offs.data(),
                                            col_stride, o[0].data<T>(), N, C);
            });
        },
        [&](std::vector<Tensor>& o) {
            fast::softmax_forward_fast(x.data<float>(), mask.defined() ? mask.data<float>() : nullptr, offs.data(),
                                       col_stride, o[0].data<float>(), N, C);
        },
        is_f32(x), Tolerance{1e-6, 1e-4});
    const Shape ms = mask_in.defined() ? mask_in.shape() : Shape{};
    return record(y, "softmax", {x_in, mask_in}, {y}, [N, C, ms](const Tensor& g_in, const BackwardContext& c) {
        Tensor g = contig(g_in);
        const Tensor& yv = c.saved[0];
        Tensor dx = Tensor::empty(yv.shape(), yv.dtype());
        run_kernel(
            "softmax", "softmax_backward", {dx},
            [&](std::vector<Tensor>& o) {
                dispatch_floating(yv.dtype(), "softmax", [&](auto tag) {
                    using T = decltype(tag);
                    ref::softmax_backward_ref<T>(yv.data<T>(), g.data<T>(), o[0].data<T>(), N, C);
                });
            },
            [&](std::vector<Tensor>& o) {
                fast::softmax_backward_fast(yv.data<float>(), g.data<float>(), o[0].data<float>(), N, C);
            },
            is_f32(yv), Tolerance{1e-6, 1e-4});
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
    dispatch_floating(x.dtype(), "log_softmax", [&](auto tag) {
        using T = decltype(tag);
        ref::log_softmax_forward_ref<T>(x.data<T>(), y.data<T>(), N, C);
    });
    return record(y, "log_softmax", {x_in}, {y}, [N, C](const Tensor& g_in, const BackwardContext& c) {
        Tensor g = contig(g_in);
        const Tensor& yv = c.saved[0];
        Tensor dx = Tensor::empty(yv.shape(), yv.dtype());
        dispatch_floating(yv.dtype(), "log_softmax", [&](auto tag) {
            using T = decltype(tag);
            ref::log_softmax_backward_ref<T>(yv.data<T>(), g.data<T>(), dx.data<T>(), N, C);
        });
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
    dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {  // reference only: (B, labels) is tiny
        using T = decltype(tag);
        ref::cross_entropy_forward_ref<T>(logits.data<T>(), lab, loss.data<T>(), probs.data<T>(), N, C, smoothing);
    });
    return record(loss, "cross_entropy", {logits_in}, {probs, labels},
                  [N, C, smoothing](const Tensor& g, const BackwardContext& c) {
                      const Tensor& p = c.saved[0];
                      Tensor dx = Tensor::empty(p.shape(), p.dtype());
                      dispatch_floating(p.dtype(), "cross_entropy", [&](auto tag) {
                          using T = decltype(tag);
                          ref::cross_entropy_backward_ref<T>(p.data<T>(), c.saved[1].data<int32_t>(),
                                                             static_cast<T>(g.item()), dx.data<T>(), N, C, smoothing);
                      });
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
    run_kernel(
        "layernorm", "layernorm_forward", {y, mean, rstd},
        [&](std::vector<Tensor>& o) {
            dispatch_floating(x.dtype(), "layernorm", [&](auto tag) {
                using T = decltype(tag);
                ref::layernorm_forward_ref<T>(x.data<T>(), gamma.data<T>(), beta.data<T>(), o[0].data<T>(),
                                              o[1].data<T>(), o[2].data<T>(), N, C, eps);
            });
        },
        [&](std::vector<Tensor>& o) {
            fast::layernorm_forward_fast(x.data<float>(), gamma.data<float>(), beta.data<float>(), o[0].data<float>(),
                                         o[1].data<float>(), o[2].data<float>(), N, C, eps);
        },
        is_f32(x), Tolerance{1e-5, 1e-4});
    return record(y, "layernorm", {x_in, gamma_in, beta_in}, {x, gamma, mean, rstd},
                  [N, C](const Tensor& g_in, const BackwardContext& c) {
                      Tensor g = contig(g_in);
                      const Tensor &xv = c.saved[0], &gm = c.saved[1], &mu = c.saved[2], &rs = c.saved[3];
                      Tensor dx = Tensor::empty(xv.shape(), xv.dtype());
                      Tensor dgamma = Tensor::empty({C}, xv.dtype()), dbeta = Tensor::empty({C}, xv.dtype());
                      run_kernel(
                          "layernorm", "layernorm_backward", {dx, dgamma, dbeta},
                          [&](std::vector<Tensor>& o) {
                              dispatch_floating(xv.dtype(), "layernorm", [&](auto tag) {
                                  using T = decltype(tag);
                                  ref::layernorm_backward_ref<T>(xv.data<T>(), gm.data<T>(), mu.data<T>(), rs.data<T>(),
                                                                 g.data<T>(), o[0].data<T>(), o[1].data<T>(),
                                                                 o[2].data<T>(), N, C);
                              });
                          },
                          [&](std::vector<Tensor>& o) {
                              fast::layernorm_backward_fast(xv.data<float>(), gm.data<float>(), mu.data<float>(),
                                                            rs.data<float>(), g.data<float>(), o[0].data<float>(),
                                                            o[1].data<float>(), o[2].data<float>(), N, C);
                          },
                          is_f32(xv), Tolerance{1e-4, 1e-3});
                      return std::vector<Tensor>{c.needs(0) ? dx : Tensor(), c.needs(1) ? dgamma : Tensor(),
                                                 c.needs(2) ? dbeta : Tensor()};
                  });
}

namespace {
// One forward and one backward kernel pair per elementwise activation.
struct ActivationKernels {
    const char* family;
    void (*fwd_ref_f)(const float*, float*, int64_t);
    void (*fwd_ref_d)(const double*, double*, int64_t);
    void (*fwd_fast)(const float*, float*, int64_t);
    void (*bwd_ref_f)(const float*, const float*, float*, int64_t);
    void (*bwd_ref_d)(const double*, const double*, double*, int64_t);
    void (*bwd_fast)(const float*, const float*, float*, int64_t);
    bool save_output;  // tanh's derivative comes from y; GELU's from x
};

Tensor run_unary(const ActivationKernels& k, const Tensor& src, bool forward, const Tensor& dy = Tensor()) {
    Tensor out = Tensor::empty(src.shape(), src.dtype());
    const int64_t n = src.numel();
    const Tolerance tol{2e-6, 1e-5};
    run_kernel(
        k.family, forward ? "forward" : "backward", {out},
        [&](std::vector<Tensor>& o) {
            if (src.dtype() == DType::F32) {
                forward ? k.fwd_ref_f(src.data<float>(), o[0].data<float>(), n)
                        : k.bwd_ref_f(src.data<float>(), dy.data<float>(), o[0].data<float>(), n);
            } else {
                forward ? k.fwd_ref_d(src.data<double>(), o[0].data<double>(), n)
                        : k.bwd_ref_d(src.data<double>(), dy.data<double>(), o[0].data<double>(), n);
            }
        },
        [&](std::vector<Tensor>& o) {
            forward ? k.fwd_fast(src.data<float>(), o[0].data<float>(), n)
                    : k.bwd_fast(src.data<float>(), dy.data<float>(), o[0].data<float>(), n);
        },
        is_f32(src), tol);
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
                              ref::gelu_forward_ref<float>,
                              ref::gelu_forward_ref<double>,
                              fast::gelu_forward_fast,
                              ref::gelu_backward_ref<float>,
                              ref::gelu_backward_ref<double>,
                              fast::gelu_backward_fast,
                              false};
const ActivationKernels kTanh{"tanh",
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
    run_kernel(
        "embedding", "embedding_forward", {out},
        [&](std::vector<Tensor>& o) {
            dispatch_floating(w.dtype(), "embedding", [&](auto tag) {
                using T = decltype(tag);
                ref::embedding_forward_ref<T>(w.data<T>(), id, o[0].data<T>(), n, C);
            });
        },
        [&](std::vector<Tensor>& o) { fast::embedding_forward_fast(w.data<float>(), id, o[0].data<float>(), n, C); },
        is_f32(w), Tolerance{0.0, 0.0});
    return record(out, "embedding", {weight_in}, {ids}, [V, C, n](const Tensor& g_in, const BackwardContext& c) {
        Tensor g = contig(g_in);
        const int32_t* idv = c.saved[0].data<int32_t>();
        Tensor dw = Tensor::empty({V, C}, g.dtype());
        run_kernel(
            "embedding", "embedding_backward", {dw},
            [&](std::vector<Tensor>& o) {
                dispatch_floating(g.dtype(), "embedding", [&](auto tag) {
                    using T = decltype(tag);
                    ref::embedding_backward_ref<T>(g.data<T>(), idv, o[0].data<T>(), n, V, C);
                });
            },
            [&](std::vector<Tensor>& o) {
                fast::embedding_backward_fast(g.data<float>(), idv, o[0].data<float>(), n, V, C);
            },
            is_f32(g), Tolerance{1e-6, 1e-5});
        return std::vector<Tensor>{dw};
    });
}

Tensor dropout(const Tensor& x, double p, Rng& rng, bool training) {
    ENGINE_CHECK(p >= 0.0 && p < 1.0, "dropout: 0 <= p < 1 must hold, but got p=", p);
    if (!training || p == 0.0) return x;
    // The mask is drawn sequentially (not per thread), so it does not depend on the thread count.
    Tensor mask = Tensor::empty(x.shape(), x.dtype());
    const double keep_scale = 1.0 / (1.0 - p);
    dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
        using T = decltype(tag);
        T* m = mask.data<T>();
        for (int64_t i = 0; i < mask.numel(); ++i)
            m[i] = static_cast<double>(rng.uniform()) >= p ? static_cast<T>(keep_scale) : T(0);
    });
    return mul(x, mask);
}

}  // namespace qbert::engine
