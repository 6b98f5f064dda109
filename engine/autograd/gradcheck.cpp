#include "engine/autograd/gradcheck.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/core/rng.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace qbert::engine {

namespace {
double projected(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const Tensor& R) {
    NoGradGuard ng;
    Tensor out = fn(inputs);
    const std::vector<double> o = out.to_vector_f64(), r = R.to_vector_f64();
    double s = 0.0;
    for (size_t i = 0; i < o.size(); ++i) s += o[i] * r[i];
    return s;
}
}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions opt) {
    for (const Tensor& t : inputs)
        ENGINE_CHECK(!t.defined() || !is_floating(t.dtype()) || t.dtype() == DType::F64,
                     "gradcheck: floating inputs must be f64, but got ", t.str());
    Rng rng(opt.seed);
    Tensor out0;
    {
        NoGradGuard ng;
        out0 = fn(inputs);
    }
    const Tensor R = Tensor::randn(out0.shape(), rng, 0.0, 1.0, DType::F64);

    // analytic: one backward of sum(out * R)
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) const_cast<Tensor&>(t).zero_grad();
    Tensor out = fn(inputs);
    Tensor loss = sum(mul(out, R));
    loss.backward();

    GradcheckResult res;
    for (size_t k = 0; k < inputs.size(); ++k) {
        const Tensor& x = inputs[k];
        if (!x.defined() || !x.requires_grad()) continue;
        const Tensor g = x.grad();
        const int64_t n = x.numel();
        ENGINE_CHECK(x.is_contiguous(), "gradcheck: input ", k, " must be contiguous");
        std::vector<int64_t> entries;
        if (n <= opt.max_entries_per_input) {
            for (int64_t j = 0; j < n; ++j) entries.push_back(j);
        } else {
            for (int64_t j = 0; j < opt.max_entries_per_input; ++j) entries.push_back(static_cast<int64_t>(rng.below(n)));
        }
        const std::vector<double> ga = g.defined() ? g.to_vector_f64() : std::vector<double>(static_cast<size_t>(n), 0.0);
        double* xd = const_cast<Tensor&>(x).data<double>();
        for (int64_t j : entries) {
            const double orig = xd[j];
            xd[j] = orig + opt.eps;
            const double lp = projected(fn, inputs, R);
            xd[j] = orig - opt.eps;
            const double lm = projected(fn, inputs, R);
            xd[j] = orig;
            const double num = (lp - lm) / (2.0 * opt.eps);
            ++res.checked;
            if (!(std::fabs(ga[j] - num) <= opt.atol + opt.rtol * std::fabs(num))) {
                res.ok = false;
                res.message = detail::concat("gradcheck failed: input ", k, " ", x.str(), " flat index ", j,
                                             ": analytic=", ga[j], " numeric=", num);
                return res;
            }
        }
    }
    return res;
}

}  // namespace qbert::engine
