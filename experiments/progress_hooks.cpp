#include "experiments/progress_hooks.h"

#include <cstdio>
#include <memory>

namespace qbert::experiments {

model::TrainHooks progress_hooks(const std::string& what) {
    auto bar = std::make_shared<std::unique_ptr<Progress>>();
    model::TrainHooks h;
    h.on_step = [bar, what](int64_t step, int64_t total, double loss, double acc) {
        if (!*bar) *bar = std::make_unique<Progress>(what, total, "step");
        char info[80];
        std::snprintf(info, sizeof info, "loss=%.4f acc=%.4f", loss, acc);
        (*bar)->update(step, info);
    };
    h.on_epoch = [bar](const model::EpochMetrics& e) {
        bar->reset();
        std::fprintf(stderr, "\n");
        std::printf("  epoch=%ld train_loss=%.4f val_accuracy=%.4f seconds=%.1f\n", long(e.epoch), e.train_loss,
                    e.val_accuracy, e.seconds);
        std::fflush(stdout);
    };
    return h;
}

}  // namespace qbert::experiments
