#include "engine/optim/optim.h"

#include <cmath>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/core/config.h"
#include "engine/ops/dispatch.h"

namespace qbert::engine {

void Optimizer::zero_grad() {
    for (auto& [name, p] : params_) p.zero_grad();
}

namespace {
void check_param(const std::string& name, const Tensor& p, const Tensor& g) {
    ENGINE_CHECK(p.dtype() == DType::F32 && p.is_contiguous(), "optimizer: parameter '", name,
                 "' must be contiguous f32, but got ", p.str());
    ENGINE_CHECK_SHAPE(g.shape() == p.shape(), "optimizer: grad of '", name, "' is ", shape_str(g.shape()),
                       " but the parameter is ", shape_str(p.shape()));
}

// NOTE [AdamW update]: one element at a time, in the order of PyTorch's single-tensor AdamW.
inline void adamw_element(float& p, float g, float& m, float& v, float decay, float b1, float b2, float step_size,
                          float bc2_sqrt, float eps) {
    p *= decay;
    m = b1 * m + (1.0f - b1) * g;
    v = b2 * v + (1.0f - b2) * g * g;
    p -= step_size * m / (std::sqrt(v) / bc2_sqrt + eps);
}

// The per-step constants of one parameter's update (see AdamW::step).
struct AdamWStep {
    float decay, b1, b2, step_size, bc2_sqrt, eps;
};

// One parameter's update, the plain loop. Elementwise and independent, so the parallel loop below gives the
// same bits.
void adamw_step_ref(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
    for (int64_t i = 0; i < n; ++i)
        adamw_element(p[i], g[i], m[i], v[i], s.decay, s.b1, s.b2, s.step_size, s.bc2_sqrt, s.eps);
}
void adamw_step_fast(float* p, const float* g, float* m, float* v, int64_t n, const AdamWStep& s) {
    const float decay = s.decay, b1 = s.b1, b2 = s.b2, step_size = s.step_size, bc2s = s.bc2_sqrt, eps = s.eps;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) adamw_element(p[i], g[i], m[i], v[i], decay, b1, b2, step_size, bc2s, eps);
}
}  // namespace

Sgd::Sgd(NamedTensors params, SgdOptions opt) : Optimizer(std::move(params)), opt_(opt) {
    ENGINE_CHECK(opt.lr >= 0 && opt.momentum >= 0 && opt.weight_decay >= 0,
                 "Sgd: lr, momentum and weight_decay must be >= 0, but got lr=", opt.lr, " momentum=", opt.momentum,
                 " weight_decay=", opt.weight_decay);
    lr_ = opt.lr;
}

void Sgd::step() {
    NoGradGuard ng;
    ++steps_;
    for (auto& [name, p] : params_) {
        Tensor g = p.grad();
        if (!g.defined()) continue;
        check_param(name, p, g);
        float* pd = p.data<float>();
        const float* gd = g.data<float>();
        const int64_t n = p.numel();
        const float wd = static_cast<float>(opt_.weight_decay), lr = static_cast<float>(lr_),
                    mom = static_cast<float>(opt_.momentum);
        if (mom == 0.0f) {
            for (int64_t i = 0; i < n; ++i) pd[i] -= lr * (gd[i] + wd * pd[i]);
        } else {
            auto [it, fresh] = momentum_.try_emplace(name, Tensor());
            if (fresh) it->second = Tensor::zeros(p.shape());
            float* buf = it->second.data<float>();
            for (int64_t i = 0; i < n; ++i) {
                const float gi = gd[i] + wd * pd[i];
                buf[i] = fresh ? gi : mom * buf[i] + gi;
                pd[i] -= lr * buf[i];
            }
        }
        p.bump_version();
    }
}

NamedTensors Sgd::state() const {
    NamedTensors s;
    for (const auto& [name, t] : momentum_) s.emplace_back(name + ".momentum_buffer", t);
    return s;
}

void Sgd::load_state(const NamedTensors& state, int64_t steps) {
    momentum_.clear();
    for (const auto& [key, t] : state) {
        const std::string suffix = ".momentum_buffer";
        ENGINE_CHECK(key.size() > suffix.size() && key.ends_with(suffix), "Sgd: unknown state entry '", key, "'");
        momentum_[key.substr(0, key.size() - suffix.size())] = t.clone();
    }
    steps_ = steps;
}

AdamW::AdamW(NamedTensors params, AdamWOptions opt) : Optimizer(std::move(params)), opt_(opt) {
    ENGINE_CHECK(opt.lr >= 0 && opt.eps >= 0 && opt.weight_decay >= 0, "AdamW: lr, eps, weight_decay must be >= 0, but got lr=",
                 opt.lr, " eps=", opt.eps, " weight_decay=", opt.weight_decay);
    ENGINE_CHECK(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1,
                 "AdamW: 0 <= beta < 1 must hold, but got beta1=", opt.beta1, " beta2=", opt.beta2);
    lr_ = opt.lr;
}

void AdamW::step() {
    NoGradGuard ng;
    ++steps_;
    const double bc1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(steps_));
    const double bc2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(steps_));
    for (auto& [name, p] : params_) {
        Tensor g = p.grad();
        if (!g.defined()) continue;
        check_param(name, p, g);
        bool decay = opt_.weight_decay > 0;
        for (const std::string& s : no_decay_)
            if (name.find(s) != std::string::npos) decay = false;
        auto [im, fresh] = exp_avg_.try_emplace(name, Tensor());
        if (fresh) {
            im->second = Tensor::zeros(p.shape());
            exp_avg_sq_[name] = Tensor::zeros(p.shape());
        }
        float* pd = p.data<float>();
        const float* gd = g.data<float>();
        float* m = im->second.data<float>();
        float* v = exp_avg_sq_[name].data<float>();
        const int64_t n = p.numel();
        const AdamWStep st{decay ? static_cast<float>(1.0 - lr_ * opt_.weight_decay) : 1.0f,
                           static_cast<float>(opt_.beta1),
                           static_cast<float>(opt_.beta2),
                           static_cast<float>(lr_ / bc1),
                           static_cast<float>(std::sqrt(bc2)),
                           static_cast<float>(opt_.eps)};
        // In-place update: check mode is not meaningful here, so "check" runs the reference loop.
        KernelCall k("adamw", "adamw_step", kernel_mode("adamw") == KernelMode::Fast);
        if (k.mode() == KernelMode::Fast)
            adamw_step_fast(pd, gd, m, v, n, st);
        else
            adamw_step_ref(pd, gd, m, v, n, st);
        k.finish();
        p.bump_version();
    }
}

NamedTensors AdamW::state() const {
    NamedTensors s;
    for (const auto& [name, t] : exp_avg_) {
        s.emplace_back(name + ".exp_avg", t);
        s.emplace_back(name + ".exp_avg_sq", exp_avg_sq_.at(name));
    }
    return s;
}

void AdamW::load_state(const NamedTensors& state, int64_t steps) {
    exp_avg_.clear();
    exp_avg_sq_.clear();
    for (const auto& [key, t] : state) {
        if (key.ends_with(".exp_avg_sq")) {
            exp_avg_sq_[key.substr(0, key.size() - 11)] = t.clone();
        } else if (key.ends_with(".exp_avg")) {
            exp_avg_[key.substr(0, key.size() - 8)] = t.clone();
        } else {
            throw Error(detail::concat("AdamW: unknown state entry '", key, "' (expected <param>.exp_avg or .exp_avg_sq)"));
        }
    }
    ENGINE_CHECK(exp_avg_.size() == exp_avg_sq_.size(), "AdamW: state has ", exp_avg_.size(), " exp_avg but ",
                 exp_avg_sq_.size(), " exp_avg_sq entries");
    steps_ = steps;
}

double lr_factor(LrSchedule s, int64_t step, int64_t warmup, int64_t total) {
    if (s == LrSchedule::Constant) return 1.0;
    if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
    return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
}

namespace {
// Sum of squares of one gradient in double. The fast path splits it into fixed 16k-element chunks (each summed
// with 8 independent accumulators, so the loop vectorizes) summed in parallel and then added in chunk order:
// the result depends on the chunking only, never on the thread count. The reference is the plain serial loop.
double sum_squares(const float* g, int64_t n, bool fast) {
    if (!fast) {
        double total = 0.0;
        for (int64_t i = 0; i < n; ++i) total += static_cast<double>(g[i]) * g[i];
        return total;
    }
    constexpr int64_t kChunk = 16384;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    std::vector<double> part(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (chunks > 4)
    for (int64_t c = 0; c < chunks; ++c) {
        double acc[8] = {};
        const int64_t lo = c * kChunk, hi = std::min(n, lo + kChunk);
        int64_t i = lo;
        for (; i + 8 <= hi; i += 8)
            for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(g[i + k]) * g[i + k];
        for (; i < hi; ++i) acc[0] += static_cast<double>(g[i]) * g[i];
        part[static_cast<size_t>(c)] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
    double total = 0.0;
    for (double x : part) total += x;
    return total;
}
}  // namespace

double clip_grad_norm(const NamedTensors& params, double max_norm) {
    NoGradGuard ng;
    const bool fast = kernel_mode("clip_grad_norm") == KernelMode::Fast;
    double total = 0.0;
    for (const auto& [name, p] : params) {
        Tensor g = p.grad();
        if (!g.defined()) continue;
        total += sum_squares(g.data<float>(), g.numel(), fast);
    }
    const double norm = std::sqrt(total);
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        for (const auto& [name, p] : params) {
            Tensor g = p.grad();
            if (!g.defined()) continue;
            float* gd = g.data<float>();
            const int64_t n = g.numel();
#pragma omp parallel for simd schedule(static) if (fast && n > 65536)
            for (int64_t i = 0; i < n; ++i) gd[i] = static_cast<float>(gd[i] * coef);  // elementwise: same bits
            g.bump_version();
        }
    }
    return norm;
}

}  // namespace qbert::engine
