// Range calibration for fixed-point formats (Mase has none: its fraction widths are fixed by hand, so low
// widths saturate). For each quantized layer, picks per tensor (input, weight, bias) the largest frac_width
// whose range still holds the largest |value| seen: f = floor(log2(qmax / max|x|)), i.e. no saturation at all,
// or, with `percentile` < 1, holds that quantile of |x| (clipping the rarest outliers for finer steps).
// Inputs are observed over the forward passes `run_batches` makes, with quantization switched off (the float
// model's ranges); weights and biases are read directly.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/module.h"

namespace qbert::passes {

struct CalibratedLayer {
    std::string name;
    int data_in_frac = 0, weight_frac = 0, bias_frac = 0;
    double data_in_range = 0, weight_range = 0, bias_range = 0;  // the |x| each fraction was chosen to hold
};

// The largest f with range * 2^f <= qmax for this width (signed); range 0 gives width - 1.
int frac_for_range(int width, double range);

// Every quantized CompressedLinear under `model` gets its frac widths replaced (widths unchanged).
std::vector<CalibratedLayer> calibrate(model::Module& model, const std::function<void()>& run_batches,
                                       double percentile = 1.0);

}  // namespace qbert::passes
