// `qbert export`: the deployable model. A checkpoint keeps every Linear weight as the fp32 shadow parameter QAT and
// pruning train (plus a u8 mask); what a deployed model needs is less:
//
//   int8 layers    (fixed-point input and weight of <= 8 bits)  "<L>.weight_int8"   i8 [out, in], the weight's grid
//                  indices times the mask: 1 byte per weight; the scale 2^-frac_width is in the layer's format
//   sparse layers  (pruned at least --sparse-min)               "<L>.weight_csr_row_ptr" i32 [out + 1],
//                  "<L>.weight_csr_col" i32 [nnz], "<L>.weight_csr_val" f32 [nnz] (the fp32 weight's kept entries)
//                  or i8 [nnz] (their grid indices, when the layer is int8 too): 5 to 8 bytes per kept weight
//   embeddings     (with --int8, unless --fp32-embeddings)       "<E>.int8" i8 [rows, dim] and "<E>.scale" f32 [rows]:
//                  each row scaled by max|row| / 127 and rounded. Unlike the Linear layers this is lossy (the
//                  embeddings are not quantized in training); qbert eval on the export measures what it costs.
//
// Everything else (biases, LayerNorm, the compression state, the config) as in the checkpoint. The file is a
// checkpoint (same HDF5 layout, checksums, temp-file-and-rename) whose meta has an "export" entry; load_bert reads
// either, and an export comes back with its int8 and sparse layers switched to their kernels, its weights the
// exact values the deployed arithmetic uses (fp32 from the grid indices, masks from the stored pattern), so
// eval, predict and bench_bert run it as stored. Corrupt files fail their checksums; exported arrays that do not
// fit the model (shapes, formats, CSR structure, grid indices outside the format) are errors naming the dataset.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/serialization/checkpoint.h"
#include "model/bert.h"

namespace qbert::model {

struct ExportOptions {
    bool int8 = false;             // qualifying Linear layers as int8 grid indices
    bool sparse = false;           // pruned Linear layers as CSR
    double sparse_min = 0.75;      // ... when pruned at least this much (dense is smaller and faster below)
    bool int8_embeddings = true;   // with int8: embedding tables as per-row int8
};

struct ExportedLayer {
    std::string name, kind;  // kind: int8 | sparse | int8_sparse | int8_rows (embeddings)
    int64_t bytes = 0;       // of its exported arrays
};

// Writes `m` (loaded from `source`, with its meta JSON) to `out` as above; returns what was exported. At least one
// layer must qualify for what was asked (an error otherwise, naming a layer and why).
std::vector<ExportedLayer> export_model(BertForSequenceClassification& m, const std::string& meta_json,
                                        const std::string& source, const std::string& out, const ExportOptions& o);

// load_bert's half for exports: fills the exported layers of `m` (built from the config, with the compression state
// applied) from `ck`, returns the names of the datasets it consumed, and switches those layers' kernels on.
std::vector<std::string> restore_exported(BertForSequenceClassification& m, const engine::Checkpoint& ck,
                                          const nlohmann::json& export_meta, const std::string& path);

}  // namespace qbert::model
