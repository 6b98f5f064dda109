// Neural-network ops over the last dim (rows of length C) and friends.
//   softmax(x, mask):      y = softmax(x + mask) over the last dim; mask (optional) broadcasts to x,
//                          e.g. (B,1,1,T) additive padding mask on (B,NH,T,T) scores
//   log_softmax(x):        y = x - logsumexp(x) over the last dim
//   cross_entropy(logits, labels, smoothing):  mean over rows of -log p[label] (label smoothing as
//                          PyTorch: (1-s) * nll + s * mean_c(-log p[c])); logits:(N,C) labels:i32 (N)
//   layernorm(x, gamma, beta, eps):  (x - mean) / sqrt(var + eps) * gamma + beta, biased var
//   gelu(x):               0.5 x (1 + erf(x / sqrt 2))   (BERT's erf form, not the tanh approximation)
//   tanh(x)
//   embedding(weight, ids): rows of weight (V,C) picked by i32 ids of any shape -> (..., C)
//   dropout(x, p, rng, training): x * mask / (1 - p), mask ~ Bernoulli(1 - p) drawn from rng in
//                          row-major order (same seed, same mask); identity when !training or p == 0
#pragma once

#include "engine/tensor/tensor.h"

namespace qbert::engine {

class Rng;

[[nodiscard]] Tensor softmax(const Tensor& x, const Tensor& mask = Tensor());
[[nodiscard]] Tensor log_softmax(const Tensor& x);
[[nodiscard]] Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing = 0.0);
[[nodiscard]] Tensor layernorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-12);
[[nodiscard]] Tensor gelu(const Tensor& x);
[[nodiscard]] Tensor tanh(const Tensor& x);
[[nodiscard]] Tensor embedding(const Tensor& weight, const Tensor& ids);
[[nodiscard]] Tensor dropout(const Tensor& x, double p, Rng& rng, bool training);

// Data-parallel training (engine/dist): this process computes rows [before, before + rows) of a global batch
// of before + rows + after rows (dim 0 of every tensor dropout sees). While a DropoutShard lives, dropout()
// draws the mask of the whole global batch from rng, as one process would, and keeps its own rows: N ranks
// get the same masks as one process with the whole batch (and every rank's rng stays in step). It costs the
// draws of the whole batch, as in one process.
class DropoutShard {
public:
    DropoutShard(int64_t before, int64_t after);
    ~DropoutShard();
    DropoutShard(const DropoutShard&) = delete;
    DropoutShard& operator=(const DropoutShard&) = delete;

private:
    int64_t prev_before_, prev_after_;
};

}  // namespace qbert::engine
