#include "engine/ops/sparse.h"

#include <cmath>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/kernels/fast/fast.h"
#include "engine/kernels/ref/ref.h"
#include "engine/ops/common.h"
#include "engine/ops/dispatch.h"

namespace qbert::engine {

using detail::contig;

int64_t CsrMatrix::bytes() const {
    int64_t n = 0;
    for (const Tensor* t : {&row_ptr, &col, &val})
        if (t->defined()) n += t->numel() * static_cast<int64_t>(dtype_size(t->dtype()));
    return n;
}

void CsrMatrix::validate(const std::string& what) const {
    ENGINE_CHECK_SHAPE(rows >= 0 && cols >= 0 && cols <= INT32_MAX, what, ": a sparse matrix of ", rows, " x ", cols,
                       " is not a valid shape");
    ENGINE_CHECK_SHAPE(row_ptr.defined() && row_ptr.dtype() == DType::I32 && row_ptr.shape() == Shape{rows + 1}, what,
                       ": row_ptr must be i32 [", rows + 1, "], but got ", row_ptr.defined() ? row_ptr.str() : "nothing");
    ENGINE_CHECK_SHAPE(col.defined() && col.dtype() == DType::I32 && col.dim() == 1, what,
                       ": col must be i32 [nnz], but got ", col.defined() ? col.str() : "nothing");
    ENGINE_CHECK_SHAPE(val.defined() && val.dtype() == DType::F32 && val.shape() == col.shape(), what,
                       ": val must be f32 ", shape_str(col.shape()), " like col, but got ",
                       val.defined() ? val.str() : "nothing");
    const Tensor rp_c = contig(row_ptr), col_c = contig(col), val_c = contig(val);
    const int32_t* rp = rp_c.data<int32_t>();
    const int32_t* c = col_c.data<int32_t>();
    const float* v = val_c.data<float>();
    ENGINE_CHECK(rp[0] == 0 && rp[rows] == col.numel(), what, ": row_ptr must run from 0 to nnz = ", col.numel(),
                 ", but runs from ", rp[0], " to ", rp[rows]);
    for (int64_t r = 0; r < rows; ++r)  // every row's range inside [0, nnz] before any column is read
        ENGINE_CHECK(rp[r] <= rp[r + 1] && rp[r + 1] <= col.numel(), what, ": row_ptr decreases at row ", r, " (",
                     rp[r], " then ", rp[r + 1], ") or passes nnz = ", col.numel());
    for (int64_t r = 0; r < rows; ++r) {
        for (int32_t p = rp[r]; p < rp[r + 1]; ++p) {
            ENGINE_CHECK(c[p] >= 0 && c[p] < cols, what, ": row ", r, " has column ", c[p], ", outside [0, ", cols, ")");
            ENGINE_CHECK(p == rp[r] || c[p - 1] < c[p], what, ": row ", r, "'s columns are not increasing (", c[p - 1],
                         " then ", c[p], ")");
            ENGINE_CHECK(std::isfinite(v[p]), what, ": row ", r, " column ", c[p], " holds ", v[p]);
        }
    }
}

CsrMatrix csr_from_dense(const Tensor& w_in, const Tensor& mask_in, const std::string& what) {
    ENGINE_CHECK_SHAPE(w_in.dim() == 2 && w_in.dtype() == DType::F32, what, ": an f32 [out, in] weight expected, but got ",
                       w_in.str());
    ENGINE_CHECK_SHAPE(!mask_in.defined() || (mask_in.dtype() == DType::U8 && mask_in.shape() == w_in.shape()), what,
                       ": the mask must be u8 with the weight's shape ", shape_str(w_in.shape()), ", but got ",
                       mask_in.str());
    const int64_t rows = w_in.size(0), cols = w_in.size(1);
    ENGINE_CHECK_SHAPE(cols <= INT32_MAX && rows * cols <= INT32_MAX, what, ": ", w_in.str(),
                       " is too large for 32-bit sparse indices");
    const Tensor w = contig(w_in.detach()), mask = mask_in.defined() ? contig(mask_in) : Tensor();
    const float* wv = w.data<float>();
    const uint8_t* m = mask.defined() ? mask.data<uint8_t>() : nullptr;
    std::vector<int32_t> rp(static_cast<size_t>(rows + 1), 0), col;
    std::vector<float> val;
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
            const int64_t i = r * cols + c;
            if (m) ENGINE_CHECK(m[i] <= 1, what, ": the mask must hold 0 or 1, but element ", i, " is ", int(m[i]));
            if (m ? m[i] == 0 : wv[i] == 0.0f) continue;
            ENGINE_CHECK(std::isfinite(wv[i]), what, ": element [", r, ", ", c, "] is ", wv[i]);
            col.push_back(static_cast<int32_t>(c));
            val.push_back(wv[i]);
        }
        rp[static_cast<size_t>(r + 1)] = static_cast<int32_t>(col.size());
    }
    CsrMatrix out;
    out.rows = rows;
    out.cols = cols;
    out.row_ptr = Tensor::from_vector(rp, {rows + 1});
    const int64_t nnz = static_cast<int64_t>(col.size());
    out.col = nnz ? Tensor::from_vector(col, {nnz}) : Tensor::empty({0}, DType::I32);
    out.val = nnz ? Tensor::from_vector(val, {nnz}) : Tensor::empty({0}, DType::F32);
    return out;
}

Tensor csr_to_dense(const CsrMatrix& m) {
    m.validate("csr_to_dense");
    Tensor out = Tensor::zeros({m.rows, m.cols}, DType::F32);
    const Tensor rp_c = contig(m.row_ptr), col_c = contig(m.col), val_c = contig(m.val);
    const int32_t* rp = rp_c.data<int32_t>();
    const int32_t* c = col_c.data<int32_t>();
    const float* v = val_c.data<float>();
    float* o = out.data<float>();
    for (int64_t r = 0; r < m.rows; ++r)
        for (int32_t p = rp[r]; p < rp[r + 1]; ++p) o[r * m.cols + c[p]] = v[p];
    return out;
}

Tensor linear_sparse(const Tensor& x_in, const CsrMatrix& w, const Tensor& bias_in) {
    ENGINE_CHECK(!(GradMode::enabled() && x_in.requires_grad()),
                 "linear_sparse is inference only: run it under NoGradGuard (training uses the dense masked linear)");
    ENGINE_CHECK_SHAPE(x_in.dtype() == DType::F32 && x_in.dim() >= 1, "linear_sparse: an f32 input expected, but got ",
                       x_in.str());
    ENGINE_CHECK_SHAPE(w.row_ptr.defined() && w.row_ptr.dtype() == DType::I32 && w.row_ptr.shape() == Shape{w.rows + 1} &&
                           w.col.defined() && w.col.dtype() == DType::I32 && w.val.defined() &&
                           w.val.dtype() == DType::F32 && w.val.shape() == w.col.shape(),
                       "linear_sparse: the weight is not a CSR matrix of ", w.rows, " x ", w.cols,
                       " (CsrMatrix::validate says why)");
    ENGINE_CHECK_SHAPE(x_in.size(-1) == w.cols, "linear_sparse: x.size(-1) == w.cols must hold, but got x=", x_in.str(),
                       " and a ", w.rows, " x ", w.cols, " weight");
    ENGINE_CHECK_SHAPE(!bias_in.defined() || (bias_in.dtype() == DType::F32 && bias_in.shape() == Shape{w.rows}),
                       "linear_sparse: the bias must be f32 [", w.rows, "], but got ", bias_in.str());
    const Tensor x = contig(x_in.detach()), bias = bias_in.defined() ? contig(bias_in.detach()) : Tensor();
    const Tensor rp = contig(w.row_ptr), col = contig(w.col), val = contig(w.val);
    const int64_t in = w.cols, out = w.rows;
    int64_t rows = 1;  // every dimension but the last (also when in == 0: then y is the bias, or 0)
    for (int64_t d = 0; d + 1 < x.dim(); ++d) rows *= x.size(d);
    Shape out_shape = x.shape();
    out_shape.back() = out;
    Tensor y = Tensor::empty(out_shape, DType::F32);
    const float* b = bias.defined() ? bias.data<float>() : nullptr;
    KernelCall k("sparse_linear", "linear_sparse_forward", true, Tolerance{1e-6, 1e-6});
    const auto run = [&](bool fast, float* dst) {
        if (fast)
            fast::linear_sparse_forward_fast(x.data<float>(), rp.data<int32_t>(), col.data<int32_t>(), val.data<float>(),
                                             b, dst, rows, in, out);
        else
            ref::linear_sparse_forward_ref(x.data<float>(), rp.data<int32_t>(), col.data<int32_t>(), val.data<float>(), b,
                                           dst, rows, in, out);
    };
    switch (k.mode()) {
        case KernelMode::Ref: run(false, y.data<float>()); break;
        case KernelMode::Fast: run(true, y.data<float>()); break;
        case KernelMode::Check: {
            run(false, y.data<float>());
            Tensor twin = k.check_output(y);
            run(true, twin.data<float>());
            break;
        }
    }
    k.finish({y});
    return y;
}

}  // namespace qbert::engine
