// Import of Hugging Face BERT weights: DIR/config.json + DIR/model.safetensors -> our model.
//
// safetensors: an 8-byte little-endian header length N, N bytes of JSON ({name: {dtype, shape, data_offsets}},
// plus an optional "__metadata__"), then the raw little-endian tensor bytes. F32 is copied; F16, BF16 and F64
// are converted to f32. Names are Hugging Face's, as ours; a bare BertModel file (no "bert." prefix) is
// prefixed. Buffers and heads we do not have (position_ids, cls.* pretraining heads) are skipped and listed;
// parameters the file lacks (usually the classifier of a BertModel) keep their seeded initialization and
// are listed. A shape mismatch or a malformed file throws naming the file and tensor.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/bert.h"

namespace qbert::model {

struct SafeTensor {
    std::string name;
    engine::Tensor value;  // f32
};
// Reads every tensor of a .safetensors file (converted to f32).
std::vector<SafeTensor> read_safetensors(const std::string& path);
// Writes f32 tensors as a .safetensors file (used by tests and for interop).
void write_safetensors(const std::string& path, const engine::NamedTensors& tensors);

struct HfImport {
    std::unique_ptr<BertForSequenceClassification> model;
    std::vector<std::string> loaded, skipped, kept_init;
};
HfImport import_hf(const std::string& dir, uint64_t seed);

}  // namespace qbert::model
