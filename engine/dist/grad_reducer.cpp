#include "engine/dist/grad_reducer.h"

#include <chrono>
#include <cstring>

#include "engine/autograd/node.h"
#include "engine/core/error.h"

namespace qbert::engine::dist {

GradReducer::GradReducer(const std::vector<std::pair<std::string, Tensor>>& params, bool overlap, int64_t bucket_bytes)
    : overlap_(overlap) {
    ENGINE_CHECK(bucket_bytes > 0, "GradReducer: bucket_bytes must be > 0");
    for (const auto& [name, t] : params) {
        ENGINE_CHECK(t.dtype() == DType::F32 && t.is_contiguous(), "GradReducer: parameter ", name, " (", t.str(),
                     ") must be contiguous f32");
        params_.push_back(t);
    }
    // reverse registration order: the classifier's gradients are finished first, the embeddings' last
    for (size_t k = params_.size(); k-- > 0;) {
        const int64_t n = params_[k].numel();
        if (buckets_.empty() || (buckets_.back().numel > 0 && (buckets_.back().numel + n) * 4 > bucket_bytes))
            buckets_.emplace_back();
        buckets_.back().params.push_back(k);
        buckets_.back().numel += n;
        bucket_of_[params_[k].impl_ptr().get()] = buckets_.size() - 1;
    }
    for (Bucket& b : buckets_) b.flat.assign(static_cast<size_t>(b.numel), 0.0f);
    // numel is recomputed by begin() each step (set_rows can shrink a bucket)
}

GradReducer::~GradReducer() {
    if (armed_) set_grad_ready_hook(nullptr);
}

void GradReducer::set_rows(const Tensor& param, std::vector<int64_t> rows) {
    for (size_t k = 0; k < params_.size(); ++k)
        if (params_[k].same(param)) {
            ENGINE_CHECK(param.dim() == 2, "GradReducer::set_rows: ", param.str(), " is not 2-D");
            for (int64_t r : rows)
                ENGINE_CHECK(r >= 0 && r < param.size(0), "GradReducer::set_rows: row ", r, " outside ", param.str());
            rows_[k] = std::move(rows);
            return;
        }
    throw Error(detail::concat("GradReducer::set_rows: ", param.str(), " is not one of the parameters summed"));
}

int64_t GradReducer::sent_numel(size_t k) const {
    const auto it = rows_.find(k);
    return it == rows_.end() ? params_[k].numel() : static_cast<int64_t>(it->second.size()) * params_[k].size(1);
}

void GradReducer::begin() {
    last_floats_ = 0;
    for (Bucket& b : buckets_) {
        b.ready = 0;
        b.started = false;
        b.numel = 0;
        for (size_t k : b.params) b.numel += sent_numel(k);
        if (static_cast<int64_t>(b.flat.size()) < b.numel) b.flat.resize(static_cast<size_t>(b.numel));
        last_floats_ += b.numel;
    }
    next_to_start_ = 0;
    if (overlap_ && active()) {
        set_grad_ready_hook([this](const TensorImpl* leaf) { on_grad_ready(leaf); });
        armed_ = true;
    }
}

void GradReducer::pack(Bucket& b) {
    float* dst = b.flat.data();
    for (size_t k : b.params) {
        const Tensor g = params_[k].grad();
        const int64_t n = sent_numel(k);
        const auto rows = rows_.find(k);
        if (!g.defined()) {
            std::memset(dst, 0, static_cast<size_t>(n) * sizeof(float));
        } else if (rows == rows_.end()) {
            std::memcpy(dst, g.data<float>(), static_cast<size_t>(n) * sizeof(float));
        } else {
            const int64_t width = params_[k].size(1);
            float* out = dst;
            for (int64_t r : rows->second) {
                std::memcpy(out, g.data<float>() + r * width, static_cast<size_t>(width) * sizeof(float));
                out += width;
            }
        }
        dst += n;
    }
}

// Buckets start strictly in index order (MPI: every rank starts its collectives in the same order).
void GradReducer::start_ready_buckets() {
    while (next_to_start_ < buckets_.size()) {
        Bucket& b = buckets_[next_to_start_];
        if (b.ready < b.params.size()) break;
        pack(b);
        b.pending = PendingSum::start(b.flat.data(), b.numel);
        b.started = true;
        ++next_to_start_;
    }
    for (size_t i = 0; i < next_to_start_; ++i) buckets_[i].pending.test();  // let MPI progress
}

void GradReducer::on_grad_ready(const TensorImpl* leaf) {
    const auto it = bucket_of_.find(leaf);
    if (it == bucket_of_.end()) return;  // not a parameter this reducer sums
    ++buckets_[it->second].ready;
    start_ready_buckets();
}

double GradReducer::finish() {
    if (armed_) {
        set_grad_ready_hook(nullptr);
        armed_ = false;
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (Bucket& b : buckets_) {
        if (!active()) break;
        if (b.started) {
            b.pending.wait();
        } else {  // not overlapped, or a gradient never came: sum it now, in index order on every rank
            pack(b);
            allreduce_sum(b.flat.data(), b.numel);
        }
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!active()) return ms;
    for (Bucket& b : buckets_) {
        const float* src = b.flat.data();
        for (size_t k : b.params) {
            Tensor& p = params_[k];
            Tensor g = p.grad();
            if (!g.defined()) {
                g = Tensor::zeros(p.shape());
                p.set_grad(g);
                g = p.grad();
            }
            const auto rows = rows_.find(k);
            if (rows == rows_.end()) {
                std::memcpy(g.data<float>(), src, static_cast<size_t>(p.numel()) * sizeof(float));
            } else {  // the other rows are zero on every rank: their sum is too
                const int64_t width = p.size(1);
                for (int64_t r : rows->second) {
                    std::memcpy(g.data<float>() + r * width, src, static_cast<size_t>(width) * sizeof(float));
                    src += width;
                }
                continue;
            }
            src += p.numel();
        }
    }
    rows_.clear();
    return ms;
}

}  // namespace qbert::engine::dist
