// The program the gdb pretty-printers are tested on (tests/gdb/test_printers.sh) and the one the page
// docs/learn/qat-from-the-inside.md steps through. It is not a Catch2 test: gdb drives it.
//
// main() builds one value of every type scripts/gdb/qbert_printers.py prints and calls qbert_gdb_stop(), where
// the test breaks and prints them from main's frame (`up`). The values are fixed, so the printed text is too.
// Then qat_step() runs one fake-quantized CompressedLinear forward and backward, for the page's session.
#include <cstdio>
#include <vector>

#include "engine/engine.h"
#include "model/compressed_linear.h"

using namespace qbert;
using namespace qbert::engine;

// The breakpoint. extern "C" for a plain name to break on; noinline and the empty asm so it stays a real call.
extern "C" __attribute__((noinline)) void qbert_gdb_stop() { asm volatile(""); }

namespace {

// One training step of one fake-quantized linear layer (3 inputs, 2 outputs): y = Q(x) Q(W)^T + Q(b), then
// loss = sum(y) and loss.backward(). Fixed numbers, so a gdb session prints the same values every run.
__attribute__((noinline)) void qat_step(const model::LinearQuantConfig& cfg) {
    Rng rng(0);
    model::Linear plain(3, 2, rng);
    {
        NoGradGuard ng;  // overwrite the random init with round numbers
        plain.weight().copy_(Tensor::from_vector(std::vector<float>{0.3f, -0.7f, 1.1f, 0.9f, 0.2f, -0.4f}, {2, 3}));
        plain.bias().copy_(Tensor::from_vector(std::vector<float>{0.05f, -0.1f}, {2}));
    }
    plain.weight().set_name("fc.weight");
    plain.bias().set_name("fc.bias");
    model::CompressedLinear fc(plain);
    fc.set_quant(cfg);
    // 5.0 is beyond Q4.1's range [-4, 3.5]: clamped in forward, and (clipped STE) no gradient in backward
    Tensor x = Tensor::from_vector(std::vector<float>{0.3f, -1.2f, 5.0f}, {1, 3}).set_name("x");
    x.set_requires_grad(true);
    Tensor y = fc.forward(x);
    Tensor loss = sum(y);
    loss.backward();
    std::printf("y = %g %g, dx = %g %g %g\n", y.to_vector_f32()[0], y.to_vector_f32()[1], x.grad().to_vector_f32()[0],
                x.grad().to_vector_f32()[1], x.grad().to_vector_f32()[2]);
}

}  // namespace

int main() {
    // a named f32[2,3] leaf that requires grad
    Tensor t = Tensor::from_vector(std::vector<float>{0.5f, -1.25f, 2.0f, 3.75f, -4.5f, 6.0f}, {2, 3}).set_name("w");
    t.set_requires_grad(true);
    // an op result: grad_fn "mul", edges to w's AccumulateGrad and to nothing (c needs no gradient)
    Tensor c = Tensor::full({2, 3}, 2.0);
    Tensor y = mul(t, c);
    // views: a transpose (strides [1, 3]) and a slice of it (offset 1): values in logical order
    Tensor tt = transpose(t, 0, 1);
    Tensor cols = slice(tt, 0, 1, 3);
    // more than 6 elements: the first 3 and the last 3 are shown
    std::vector<float> v(20);
    for (int i = 0; i < 20; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i) * 0.5f;
    Tensor big = Tensor::from_vector(v, {4, 5});
    Tensor ids = Tensor::from_vector(std::vector<int32_t>{101, 2023, 102}, {3});
    Tensor none;
    Shape shape = t.shape();
    Rng root(42);
    Rng epoch = root.fork("data").fork("epoch");
    FixedPoint q41{4, 1};
    FixedPoint uq{8, 0, false, true};
    NumberFormat mf;
    mf.kind = FormatKind::MinifloatIeee;
    mf.width = 8;
    mf.exponent_width = 4;
    NumberFormat bfp;
    bfp.kind = FormatKind::BlockFp;
    bfp.width = 7;
    bfp.exponent_width = 8;
    bfp.block_size = {1, 16};
    model::LinearQuantConfig cfg;
    cfg.data_in = FixedPoint{4, 1};
    cfg.weight = FixedPoint{8, 4};
    cfg.bias = FixedPoint{8, 4};
    cfg.ste = Ste::Clipped;

    qbert_gdb_stop();

    qat_step(cfg);
    // keep every value alive (and used) up to here
    std::printf("%s %s %s %s %s %d %zu %llu %s %s %s %s\n", t.str().c_str(), y.str().c_str(), cols.str().c_str(),
                big.str().c_str(), ids.str().c_str(), int(none.defined()), shape.size(),
                static_cast<unsigned long long>(epoch.seed()), q41.str().c_str(), uq.str().c_str(), mf.str().c_str(),
                bfp.str().c_str());
    return 0;
}
