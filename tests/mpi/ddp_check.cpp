// Data-parallel training against one process (issue 17's target): the same seed, the same global batch, 50
// steps of a small BERT on a synthetic task. Run once as one process and once under `mpirun -np 2`; each run
// writes every parameter and the validation accuracies to --out; --compare A B then holds them to each other
// (max |a - b| <= 1e-5, identical accuracies). Under MPI the run also checks that the ranks' parameters are
// bit-identical (each rank steps with the same summed gradient). tests/mpi/test_ddp.sh drives it.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "engine/dist/comm.h"
#include "engine/engine.h"
#include "model/train.h"

using namespace qbert;

namespace {

// Sequences of 6..24 ids over a 200-word vocabulary; label 1 when id 7 occurs more often than id 8 (ties: the
// first id's parity), so a model can learn it and accuracies mean something.
model::Encoded synthetic(int64_t n, uint64_t seed) {
    engine::Rng rng(seed);
    model::Encoded e;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t len = 6 + static_cast<int64_t>(rng.below(19));
        int c7 = 0, c8 = 0;
        e.ids.push_back(101);  // [CLS]
        for (int64_t t = 1; t < len; ++t) {
            const auto id = static_cast<int32_t>(rng.below(4) == 0 ? 7 + rng.below(2) : 10 + rng.below(190));
            c7 += id == 7, c8 += id == 8;
            e.ids.push_back(id);
        }
        e.offsets.push_back(static_cast<int64_t>(e.ids.size()));
        e.labels.push_back(c7 != c8 ? (c7 > c8 ? 1 : 0) : (e.ids[e.offsets[i] + 1] & 1));
    }
    return e;
}

int run(const std::string& out, bool overlap) {
    model::BertConfig c = model::BertConfig::preset("tiny");
    c.vocab_size = 200;
    c.max_position_embeddings = 32;
    engine::Rng init = engine::Rng(3).fork("init");
    model::BertForSequenceClassification m(c, init);
    const model::Encoded train = synthetic(400, 1), val = synthetic(96, 2);
    model::FitOptions o;
    o.epochs = 1;
    o.batch_size = 8;  // 400 / 8 = 50 steps
    o.eval_batch_size = 16;
    o.lr = 1e-3;  // the tiny preset's from-scratch rate (configs/base.toml)
    o.warmup = 0.1;
    o.seed = 5;
    o.ddp_overlap = overlap;
    const auto hist = model::fit(m, train, val, o);
    // the ranks must hold the very same parameters
    double local = 0.0;
    std::vector<float> all;
    for (const auto& [name, t] : m.named_parameters()) {
        const auto v = t.to_vector_f32();
        all.insert(all.end(), v.begin(), v.end());
    }
    if (engine::dist::active()) {
        std::vector<float> root = all;
        engine::dist::broadcast(root.data(), static_cast<int64_t>(root.size() * sizeof(float)), 0);
        for (size_t i = 0; i < all.size(); ++i) local = std::max(local, static_cast<double>(std::fabs(all[i] - root[i])));
        engine::dist::allreduce_sum(&local, 1);
        if (local != 0.0) {
            std::fprintf(stderr, "ddp_check: the ranks' parameters differ (sum of max |diff| %g)\n", local);
            return 1;
        }
    }
    if (engine::dist::is_root()) {
        std::ofstream f(out, std::ios::binary | std::ios::trunc);
        const int64_t n = static_cast<int64_t>(all.size());
        f.write(reinterpret_cast<const char*>(&n), sizeof n);
        f.write(reinterpret_cast<const char*>(all.data()), static_cast<std::streamsize>(all.size() * sizeof(float)));
        const double acc = hist.back().val_accuracy, loss = hist.back().train_loss;
        f.write(reinterpret_cast<const char*>(&acc), sizeof acc);
        f.write(reinterpret_cast<const char*>(&loss), sizeof loss);
        std::printf("ddp_check: ranks=%d params=%lld val_accuracy=%.6f train_loss=%.6f\n", engine::dist::size(),
                    static_cast<long long>(n), acc, loss);
    }
    return 0;
}

int compare(const std::string& a, const std::string& b) {
    auto read = [](const std::string& p, std::vector<float>& v, double& acc, double& loss) {
        std::ifstream f(p, std::ios::binary);
        int64_t n = 0;
        if (!f.read(reinterpret_cast<char*>(&n), sizeof n)) return false;
        v.resize(static_cast<size_t>(n));
        f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
        f.read(reinterpret_cast<char*>(&acc), sizeof acc);
        f.read(reinterpret_cast<char*>(&loss), sizeof loss);
        return static_cast<bool>(f);
    };
    std::vector<float> va, vb;
    double acc_a = 0, acc_b = 0, loss_a = 0, loss_b = 0;
    if (!read(a, va, acc_a, loss_a) || !read(b, vb, acc_b, loss_b) || va.size() != vb.size()) {
        std::fprintf(stderr, "ddp_check: cannot read or compare %s and %s\n", a.c_str(), b.c_str());
        return 1;
    }
    double worst = 0.0;
    for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, static_cast<double>(std::fabs(va[i] - vb[i])));
    std::printf("ddp_check: max |param diff| = %.3g over %zu parameters; val_accuracy %.6f vs %.6f; train_loss %.6f vs %.6f\n",
                worst, va.size(), acc_a, acc_b, loss_a, loss_b);
    const bool ok = worst <= 1e-5 && acc_a == acc_b;
    std::printf("ddp_check: %s\n", ok ? "equal within 1e-5, same accuracy" : "DIFFERENT");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    engine::dist::init(&argc, &argv);
    int rc = 2;
    try {
        engine::set_num_threads(1);
        if (argc == 4 && std::strcmp(argv[1], "--compare") == 0) rc = compare(argv[2], argv[3]);
        else if (argc >= 3 && std::strcmp(argv[1], "--out") == 0)
            rc = run(argv[2], !(argc == 4 && std::strcmp(argv[3], "--no-overlap") == 0));
        else std::fprintf(stderr, "usage: ddp_check --out FILE [--no-overlap] | --compare A B\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ddp_check (rank %d): %s\n", engine::dist::rank(), e.what());
        engine::dist::abort_all(1);
    }
    engine::dist::finalize();
    return rc;
}
