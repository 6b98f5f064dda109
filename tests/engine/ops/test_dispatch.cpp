// The kernel dispatcher (engine/ops/dispatch.h): mode choice, per-op overrides, check mode's comparison.
#include "engine/ops/dispatch.h"
#include "support/helpers.h"

using namespace qbert::test;
namespace engine = qbert::engine;
using Catch::Matchers::Contains;
using engine::KernelCall;
using engine::KernelMode;

TEST_CASE("KernelCall: QBERT_KERNELS mode, per-op overrides, and fast_ok forcing ref", "[ops][dispatch]") {
    {
        KernelModeGuard g("fast,layernorm=ref,linear=check");
        REQUIRE(KernelCall("layernorm", "layernorm_forward", true).mode() == KernelMode::Ref);
        REQUIRE(KernelCall("linear", "linear_forward", true).mode() == KernelMode::Check);
        REQUIRE(KernelCall("softmax", "softmax_forward", true).mode() == KernelMode::Fast);
        REQUIRE(KernelCall("linear", "linear_forward", false).mode() == KernelMode::Ref);  // e.g. f64
    }
    {
        KernelModeGuard g("ref,gelu=fast");
        REQUIRE(KernelCall("gelu", "gelu_forward", true).mode() == KernelMode::Fast);
        REQUIRE(KernelCall("tanh", "tanh_forward", true).mode() == KernelMode::Ref);
    }
    REQUIRE_THROWS_WITH(engine::set_kernel_mode("fast,linear=quick"), Contains("quick") && Contains("ref|fast|check"));
}

TEST_CASE("KernelCall in check mode compares each output with its fast twin", "[ops][dispatch]") {
    KernelModeGuard g("check");
    Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
    Tensor b = Tensor::from_vector(std::vector<float>{4, 5}, {2});
    {
        KernelCall k("test", "test_kernel", true, engine::Tolerance{0.0, 0.0});
        REQUIRE(k.mode() == KernelMode::Check);
        Tensor a_fast = k.check_output(a), b_fast = k.check_output(b);
        a_fast.copy_(a);
        b_fast.copy_(b);
        REQUIRE_NOTHROW(k.finish({a, b}));
    }
    {
        KernelCall k("test", "test_kernel", true, engine::Tolerance{0.0, 0.0});
        Tensor a_fast = k.check_output(a), b_fast = k.check_output(b);
        a_fast.copy_(a);
        b_fast.copy_(Tensor::from_vector(std::vector<float>{4, 5.5f}, {2}));
        // output 1 (b), flat index 1, both values, and the hint
        REQUIRE_THROWS_AS(k.finish({a, b}), engine::KernelMismatch);
    }
    {
        KernelCall k("test", "test_kernel", true, engine::Tolerance{0.0, 0.0});
        Tensor b_fast = k.check_output(b, engine::Tolerance{0.6, 0.0});  // a per-output tolerance
        b_fast.copy_(Tensor::from_vector(std::vector<float>{4, 5.5f}, {2}));
        REQUIRE_NOTHROW(k.finish({a, b}));
    }
    KernelCall k("test", "test_kernel", true);
    Tensor b_fast = k.check_output(b);
    b_fast.copy_(Tensor::from_vector(std::vector<float>{4, 6}, {2}));
    REQUIRE_THROWS_WITH(k.finish({a, b}), Contains("test_kernel output 1") && Contains("flat index 1") &&
                                              Contains("ref=5") && Contains("fast=6") && Contains("QBERT_KERNELS=ref"));
}
