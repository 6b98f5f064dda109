// Data-parallel gradients: after each rank's backward on its share of the global batch, every parameter's
// gradient is summed over the ranks (PyTorch DDP's allreduce), so each rank steps with the global batch's
// gradient and the parameters stay identical everywhere.
//
// Gradients go in buckets (~bucket_bytes each, parameters in reverse registration order, the order backward
// finishes them), one allreduce per bucket instead of one per tensor. With overlap on, a bucket starts its
// (non-blocking) allreduce as soon as backward has finished every gradient in it and all earlier buckets have
// started (every rank must start collectives in the same order), while backward goes on with the layers below;
// finish() waits for the rest. Off: every bucket is summed after backward (simpler; the reference).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/dist/comm.h"
#include "engine/tensor/tensor.h"

namespace qbert::engine::dist {

class GradReducer {
public:
    GradReducer(const std::vector<std::pair<std::string, Tensor>>& params, bool overlap, int64_t bucket_bytes = 4 << 20);
    ~GradReducer();
    GradReducer(const GradReducer&) = delete;
    GradReducer& operator=(const GradReducer&) = delete;

    // This step, only these rows of `param` (a 2-D parameter, e.g. a word-embedding table) can have a non-zero
    // gradient on any rank: only they are sent. Every rank must pass the same rows (sorted, unique); the others
    // stay as they are (zero). Call before begin(); it holds for one step.
    void set_rows(const Tensor& param, std::vector<int64_t> rows);
    // Call before backward: arms the hook that sees each gradient finish (overlap only).
    void begin();
    // floats sent by the last step (all buckets)
    int64_t last_floats() const { return last_floats_; }
    // Call after backward: sums what is left, writes the sums back into each parameter's .grad (a parameter
    // with no gradient on this rank counts as zeros) and divides nothing: the loss was already scaled by the
    // rank's share of the batch. Returns the milliseconds spent waiting on communication in this step.
    double finish();
    size_t buckets() const { return buckets_.size(); }
    bool overlap() const { return overlap_; }

private:
    struct Bucket {
        std::vector<size_t> params;  // indices into params_
        std::vector<float> flat;
        int64_t numel = 0;
        size_t ready = 0;
        bool started = false;
        PendingSum pending;
    };
    void on_grad_ready(const TensorImpl* leaf);
    int64_t sent_numel(size_t k) const;  // floats parameter k sends this step
    void pack(Bucket& b);
    void start_ready_buckets();

    std::vector<Tensor> params_;
    std::unordered_map<const TensorImpl*, size_t> bucket_of_;
    std::vector<Bucket> buckets_;
    size_t next_to_start_ = 0;
    std::unordered_map<size_t, std::vector<int64_t>> rows_;  // set_rows, this step
    bool overlap_;
    bool armed_ = false;
    int64_t last_floats_ = 0;
};

}  // namespace qbert::engine::dist
