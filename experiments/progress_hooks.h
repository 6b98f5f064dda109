// Training shown as it goes: fit()'s hooks drawing a util::Progress bar (loss, accuracy, rate, ETA) and
// printing one line per epoch. Every experiment that trains (QAT, fine-tuning, NAS trials) uses these.
#pragma once

#include <string>

#include "model/train.h"
#include "util/progress.h"

namespace qbert::experiments {

using util::format_duration;
using util::Progress;

// A progress bar labelled `what` (on stderr) and "  epoch=... val_accuracy=..." lines (on stdout).
model::TrainHooks progress_hooks(const std::string& what);

}  // namespace qbert::experiments
