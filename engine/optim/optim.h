// Optimizers, learning-rate schedules and gradient clipping.
//
// Both optimizers follow the formulas of torch.optim.SGD / AdamW (single-tensor path):
//   SGD:    g += wd * p;  buf = momentum * buf + g (buf = g on the first step);  p -= lr * buf
//   AdamW:  p *= 1 - lr * wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//           p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// Parameters without a gradient are skipped (as PyTorch does). Updates run under NoGradGuard and bump
// each parameter's version, so a graph that saved the old value refuses to backward through it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/tensor/tensor.h"

namespace qbert::engine {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
public:
    explicit Optimizer(NamedTensors params) : params_(std::move(params)) {}
    virtual ~Optimizer() = default;
    virtual void step() = 0;
    void zero_grad();
    void set_lr(double lr) { lr_ = lr; }
    double lr() const { return lr_; }
    int64_t steps() const { return steps_; }
    // State for checkpoints: "<param>.<slot>" -> tensor, plus the step count.
    virtual NamedTensors state() const = 0;
    virtual void load_state(const NamedTensors& state, int64_t steps) = 0;
    const NamedTensors& params() const { return params_; }

protected:
    NamedTensors params_;
    double lr_ = 1e-3;
    int64_t steps_ = 0;
};

struct SgdOptions {
    double lr = 1e-2, momentum = 0.0, weight_decay = 0.0;
};
class Sgd final : public Optimizer {
public:
    Sgd(NamedTensors params, SgdOptions opt);
    void step() override;
    NamedTensors state() const override;
    void load_state(const NamedTensors& state, int64_t steps) override;

private:
    SgdOptions opt_;
    std::map<std::string, Tensor> momentum_;
};

struct AdamWOptions {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
};
class AdamW final : public Optimizer {
public:
    AdamW(NamedTensors params, AdamWOptions opt);
    void step() override;
    NamedTensors state() const override;
    void load_state(const NamedTensors& state, int64_t steps) override;
    // Parameters whose name matches one of these substrings get no weight decay (e.g. "bias", "LayerNorm").
    void set_no_decay(std::vector<std::string> substrings) { no_decay_ = std::move(substrings); }

private:
    AdamWOptions opt_;
    std::map<std::string, Tensor> exp_avg_, exp_avg_sq_;
    std::vector<std::string> no_decay_;
};

// lr multiplier at `step` (0-based): constant 1, or linear warmup to 1 then linear decay to 0 at `total`
// (Hugging Face get_linear_schedule_with_warmup).
enum class LrSchedule { Constant, LinearWarmupDecay };
double lr_factor(LrSchedule s, int64_t step, int64_t warmup, int64_t total);

// Scales every gradient so their global L2 norm is at most max_norm (PyTorch clip_grad_norm_, with its
// 1e-6 in the denominator). Returns the norm before clipping (summed in double, in parameter order).
double clip_grad_norm(const NamedTensors& params, double max_norm);

}  // namespace qbert::engine
