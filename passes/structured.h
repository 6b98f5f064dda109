// Structured pruning (issue 15): whole attention heads and feed-forward neurons are removed, and the layers
// that held them become physically smaller, so the pruned model is an ordinary dense model that runs faster on
// the same kernels (no masks, no sparse format).
//
//   head h of layer l       rows [h*HS, (h+1)*HS) of query, key and value (weights and biases) and the same
//                           columns of attention.output.dense       (HS = hidden / num_attention_heads)
//   neuron j of layer l     row j of intermediate.dense (weight, bias) and column j of output.dense
//
// Importance: the L1 norm (sum |w|) or the L2 norm (sqrt sum w^2) of all of a unit's weights listed above, masked
// weights counted as 0 (W ⊙ M: what the layer computes with) (biases
// excluded: a unit with zero weights and a bias is still removable, its bias is a constant the next layer's bias
// could absorb but we do not fold it). Local scope: each layer keeps round((1 - fraction) * units) of its own
// most important units; global: one ranking over every layer's heads (and one over every layer's neurons). Every
// layer keeps at least one head and one neuron. Kept units stay in their original order.
//
// A quantized layer keeps its quantization and a pruned (masked) one its mask, cut to the kept rows and columns.
// The new layer sizes are saved in the checkpoint (meta.layer_shapes) and load_bert rebuilds them.
#pragma once

#include <string>
#include <vector>

#include "model/bert.h"

namespace qbert::passes {

enum class UnitNorm { L1, L2 };

struct StructuredSpec {
    double heads = 0.0;    // fraction of attention heads removed, [0, 1)
    double neurons = 0.0;  // fraction of feed-forward neurons removed, [0, 1)
    UnitNorm norm = UnitNorm::L1;
    bool global = false;
};

struct StructuredLayer {
    int64_t layer = 0;
    std::vector<int64_t> kept_heads, kept_neurons;  // indices into the layer before pruning
    int64_t heads_before = 0, neurons_before = 0;
};

// Prunes `m` in place as above; returns what each layer kept. Errors: fractions outside [0, 1), a model whose
// layers NAS replaced by Identity (their units are gone already).
std::vector<StructuredLayer> prune_structured(model::BertForSequenceClassification& m, const StructuredSpec& spec,
                                              engine::Rng& rng);

UnitNorm parse_unit_norm(const std::string& s);  // "l1" | "l2"

}  // namespace qbert::passes
