// Shared test helpers: seeded inputs, kernel-mode scoping, gradcheck and fast-vs-ref wrappers.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"
#include "support/skip.h"

namespace qbert::test {
namespace engine = qbert::engine;

using namespace qbert::engine;

// Inputs from fixed seeds so a failure replays exactly.
inline Tensor input(const Shape& shape, uint64_t seed, DType dt = DType::F64, double lo = -1.0, double hi = 1.0,
                    bool grad = true) {
    Rng rng(seed);
    Tensor t = Tensor::uniform(shape, rng, lo, hi, dt);
    if (grad) t.set_requires_grad(true);
    return t;
}

inline Tensor ids_tensor(const Shape& shape, int32_t vocab, uint64_t seed) {
    Rng rng(seed);
    std::vector<int32_t> v(static_cast<size_t>(shape_numel(shape)));
    for (auto& x : v) x = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab)));
    return Tensor::from_vector(v, shape);
}

// A file under the shared data folder (<source>/data, linked by setup.sh, or <source>/../shared/data), or ""
// when neither holds it: tests that need real data skip themselves then (QBERT_SKIP), saying so.
inline std::string shared_data_file(const std::string& rel) {
    for (const std::string& root : {std::string(QBERT_SOURCE_ROOT) + "/data", std::string(QBERT_SOURCE_ROOT) + "/../shared/data"}) {
        const std::string p = root + "/" + rel;
        if (std::filesystem::exists(p)) return p;
    }
    return "";
}

class KernelModeGuard {
public:
    explicit KernelModeGuard(const std::string& spec) : prev_(kernel_mode_spec()) { set_kernel_mode(spec); }
    ~KernelModeGuard() { set_kernel_mode(prev_); }

private:
    std::string prev_;
};

// f32 values drawn from N(0, scale^2) with `seed`.
inline Tensor randn_f32(const Shape& s, uint64_t seed, double scale) {
    Rng rng(seed);
    std::vector<float> v(static_cast<size_t>(shape_numel(s)));
    for (auto& x : v) x = static_cast<float>(rng.normal() * scale);
    return Tensor::from_vector(v, s);
}

// OpenMP threads set for a scope, restored after.
class ThreadsGuard {
public:
    explicit ThreadsGuard(int n) : prev_(engine::num_threads()) { engine::set_num_threads(n); }
    ~ThreadsGuard() { engine::set_num_threads(prev_); }

private:
    int prev_;
};

// A fresh directory under the system temp dir, removed with everything in it when the guard goes.
class TempDir {
public:
    TempDir() {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("qbert_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

class MatmulPrecisionGuard {
public:
    explicit MatmulPrecisionGuard(const std::string& p) : prev_(matmul_precision_name(matmul_precision())) {
        set_matmul_precision(p);
    }
    ~MatmulPrecisionGuard() { set_matmul_precision(prev_); }

private:
    std::string prev_;
};

// Named per-op limits for fast vs ref (fp32, different summation orders).
struct FastRefTol {
    double atol = 1e-5;
    double rtol = 1e-4;
};

inline void require_gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions opt = {}) {
    const GradcheckResult r = gradcheck(fn, inputs, opt);
    INFO(r.message);
    REQUIRE(r.ok);
    REQUIRE(r.checked > 0);
}

inline void require_close(const Tensor& ref, const Tensor& fast, FastRefTol tol, const std::string& what) {
    REQUIRE(ref.shape() == fast.shape());
    const auto r = ref.to_vector_f64(), f = fast.to_vector_f64();
    for (size_t i = 0; i < r.size(); ++i) {
        if (!(std::fabs(r[i] - f[i]) <= tol.atol + tol.rtol * std::fabs(r[i]))) {
            FAIL(what << " differs at flat index " << i << ": ref=" << r[i] << " fast=" << f[i]);
        }
    }
}

// Runs fn forward and backward (with a seeded projection) under ref and under fast kernels on the same f32
// inputs, and holds outputs and all input gradients to each other.
inline void require_fast_matches_ref(const GradcheckFn& fn, const std::vector<Tensor>& inputs, FastRefTol tol = {}) {
    auto run = [&](const char* mode) {
        KernelModeGuard g(mode);
        for (const Tensor& t : inputs)
            if (t.defined() && t.requires_grad()) const_cast<Tensor&>(t).zero_grad();
        Tensor out = fn(inputs);
        Rng rng(123);
        Tensor R = Tensor::randn(out.shape(), rng, 0.0, 1.0, out.dtype());
        sum(mul(out, R)).backward();
        std::vector<Tensor> res{out.detach().clone()};
        for (const Tensor& t : inputs)
            if (t.defined() && t.requires_grad()) res.push_back(t.grad().clone());
        return res;
    };
    const auto ref = run("ref");
    const auto fast = run("fast");
    REQUIRE(ref.size() == fast.size());
    for (size_t i = 0; i < ref.size(); ++i)
        require_close(ref[i], fast[i], tol, i == 0 ? "output" : "grad of input " + std::to_string(i - 1));
}

}  // namespace qbert::test
