// Commands for learners that show what a pass or a training step does, step by step, on real code paths:
//
//   qbert prune --explain        one layer pruned: its weights, the quantile and threshold (or the random
//                                draws), the mask, what survives; the real prune pass runs alongside and the
//                                explanation is checked against the mask it made
//   qbert explain-step           one training step of a small model: every op of the forward with its
//                                output shape and kernels, the backward, the optimizer; writes the autograd
//                                graph as Graphviz (engine/autograd/graph.h)
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace qbert::experiments {

struct PruneExplainOptions {
    std::string checkpoint;         // "" = a small demo layer of seeded weights
    std::string layer;              // with --checkpoint: the Linear to explain (dotted name)
    std::string config;             // optional: a prune TOML; its [weight] section gives sparsity and method
    double sparsity = 0.5;
    std::string method = "l1-norm";  // l1-norm | random
    int64_t rows = 4, cols = 8;      // the demo layer's shape [out, in]
    uint64_t seed = 0;
    std::string csv;                 // optional: every weight, |w| and whether it is kept (for figures)
};
// Prints the explanation; returns the exit code (throws engine::Error on bad input).
int run_prune_explain(const PruneExplainOptions& o, std::ostream& os);

struct ExplainStepOptions {
    std::string checkpoint;  // "" = a fresh model from --config / --set
    std::string config;      // TOML with [model] (default: preset tiny)
    std::vector<std::string> sets;
    std::string quantize;    // a quantize TOML applied before the step ("" = none)
    std::string prune;       // a prune TOML applied before the step ("" = none)
    std::string out = "runs/learn/step.dot";
    int64_t batch = 2, seq_len = 16;
    uint64_t seed = 0;
    bool ops = true;         // list every op
};
int run_explain_step(const ExplainStepOptions& o, std::ostream& os);

}  // namespace qbert::experiments
