// HDF5 checkpoints.
//
// Layout (format version 1):
//   /                          attributes: qbert_format = "qbert-checkpoint", format_version = 1,
//                              config = JSON string (model config), meta = JSON string (free-form)
//   /params/<name>             one dataset per named parameter, names as Hugging Face BERT
//                              ("bert.encoder.layer.0.attention.self.query.weight"), shapes as PyTorch
//                              (Linear weights [out, in]); f32, or u8 for masks
//   /optimizer/<name>.<slot>   optional optimizer state (attribute `steps` on the group)
// Writing goes to "<path>.tmp.<pid>" and is renamed over <path> only when complete, so a crash never leaves
// a half-written checkpoint. Reading a missing, truncated, corrupt, wrong-version or wrong-shape file throws
// engine::Error naming the file and the dataset.
#pragma once

#include <map>
#include <string>

#include "engine/optim/optim.h"
#include "engine/tensor/tensor.h"

namespace qbert::engine {

constexpr int kCheckpointVersion = 1;

struct Checkpoint {
    NamedTensors params;
    std::string config_json = "{}";
    std::string meta_json = "{}";
    NamedTensors optimizer;  // empty when absent
    int64_t optimizer_steps = 0;
    // load_checkpoint: the bytes each params dataset takes in the file (H5Dget_storage_size), by name
    std::map<std::string, int64_t> stored_bytes;
};

void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
[[nodiscard]] Checkpoint load_checkpoint(const std::string& path);

// Copies checkpoint params into `params` by name: every name must be present with the same shape
// (extra names in the file are an error too, unless allow_extra).
void load_params_into(const std::string& path, const Checkpoint& ckpt, NamedTensors& params, bool allow_extra = false);

}  // namespace qbert::engine
