#!/usr/bin/env python3
"""Golden values for the number formats (tests/engine/ops/test_formats.cpp), computed by Mase's own quantizer
functions, not by a re-implementation. Optional interop tooling: not part of the product or of CI.

    /usr/bin/python3 tests/golden/make_formats_golden.py --quantizers DIR > tests/golden/formats_golden.json

DIR holds Mase's src/chop/nn/quantizers/{utils,minifloat,log,block_fp,block_minifloat,block_log}.py (from a
checkout of DeepWok/mase; we used 6ff398cf, whose quantizers equal the course-era cd469696). Needs torch.
"""
import argparse
import importlib.util
import json
import sys
import types

import torch


def load_quantizers(d):
    pkg = types.ModuleType("mq")
    pkg.__path__ = [d]
    sys.modules["mq"] = pkg
    mods = {}
    for name in ["utils", "minifloat", "log", "block_fp", "block_minifloat", "block_log"]:
        spec = importlib.util.spec_from_file_location("mq." + name, f"{d}/{name}.py")
        m = importlib.util.module_from_spec(spec)
        sys.modules["mq." + name] = m
        spec.loader.exec_module(m)
        mods[name] = m
    return mods


def inputs(seed, n, scale):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=g) * scale).float()


SPECIAL = [0.0, -0.0, 1e-9, -1e-9, 1e-8, -1e-8, 2e-8, -3e-8, 1e-6, 1e-4, -1e-4, 0.01, 0.0078125, 0.125, 0.3, -0.3,
           0.375, 0.5, -0.5, 0.625, 0.99, 1.0, -1.0, 1.0625, 1.09375, 1.5, -1.5, 1.875, 1.99, 2.0, 2.5, 3.0, -3.0,
           4.0, 7.9999995, 8.0, 15.0, 100.0, 224.0, 300.0, 480.0, 500.0, -1000.0, 65504.0, 1e10]


def vec():
    return torch.cat([torch.tensor(SPECIAL, dtype=torch.float32), inputs(1, 40, 1.0), inputs(2, 24, 0.05),
                      inputs(3, 16, 50.0)])


def case(fmt, params, x, y):
    return {"format": fmt, **params, "shape": list(x.shape), "x": [float(v) for v in x.flatten().tolist()],
            "y": [float(v) for v in y.flatten().tolist()]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quantizers", required=True)
    q = load_quantizers(ap.parse_args().quantizers)
    out = []
    x = vec()
    for w, e, b in [(8, 4, None), (8, 4, 3), (6, 3, None), (8, 3, 5), (12, 5, None), (4, 2, None), (5, 1, None),
                    (16, 5, 15), (10, 4, 9)]:
        p = {"width": w, "exponent_width": e, **({"exponent_bias": b} if b is not None else {})}
        if w - e - 1 >= 1:
            out.append(case("minifloat_denorm", p, x, q["minifloat"]._minifloat_denorm_quantize(x, w, e, b)))
        out.append(case("minifloat_ieee", p, x, q["minifloat"]._minifloat_ieee_quantize(x, w, e, b)))
    for w, b in [(8, None), (4, None), (5, 3), (8, 128), (6, 10), (3, None), (7, 40)]:
        out.append(case("log", {"width": w, **({"exponent_bias": b} if b is not None else {})}, x,
                        q["log"]._log_quantize(x, w, b)))
    # blocks: a vector (bias path), weights [R, C] (no skip), activations [B, H] and [B, T, H] (skip_first_dim)
    mats = {
        "vec": x,
        "w": torch.cat([inputs(4, 5 * 37, 0.2), torch.zeros(8), inputs(5, 2, 3.0)]).reshape(5, 39),
        "w_zero_blocks": torch.cat([torch.zeros(16), inputs(6, 16, 0.3), torch.zeros(16), inputs(7, 16, 2.0)]).reshape(4, 16),
        "a2": inputs(8, 3 * 40, 1.0).reshape(3, 40),
        "a3": inputs(9, 2 * 5 * 20, 0.7).reshape(2, 5, 20),
    }
    mats["w"][0, :4] = torch.tensor([0.5, 0.26, -0.1, 0.01])
    settings = [
        ("vec", [16], False), ("vec", [5], False), ("w", [16], False), ("w", [1, 16], False), ("w", [2, 3], False),
        ("w", [4, 100], False), ("w_zero_blocks", [1, 16], False), ("w_zero_blocks", [16], False),
        ("a2", [16], True), ("a2", [1, 7], True), ("a3", [16], True), ("a3", [1, 16], True), ("a3", [2, 6], True),
    ]
    for name, bs, skip in settings:
        t = mats[name]
        for w, e, b in [(7, 8, 127), (4, 8, None), (8, 4, None), (5, 3, 2)]:
            p = {"width": w, "exponent_width": e, **({"exponent_bias": b} if b is not None else {}),
                 "block_size": bs, "skip_first_dim": skip}
            out.append(case("block_fp", p, t, q["block_fp"]._block_fp_quantize(t.clone(), w, e, b, bs, skip)))
        for w, e, bw in [(8, 4, 4), (6, 3, 3), (7, 2, 5)]:
            p = {"width": w, "exponent_width": e, "exponent_bias_width": bw, "block_size": bs, "skip_first_dim": skip}
            out.append(case("block_minifloat", p, t,
                            q["block_minifloat"]._block_minifloat_quantize(t.clone(), w, e, bw, bs, skip)))
        for w, bw in [(5, 4), (8, 4), (4, 2), (6, 8)]:
            p = {"width": w, "exponent_bias_width": bw, "block_size": bs, "skip_first_dim": skip}
            out.append(case("block_log", p, t, q["block_log"]._block_log_quantize(t.clone(), w, bw, bs, skip)))
    json.dump({"source": "Mase quantizers (DeepWok/mase 6ff398cf), torch " + torch.__version__, "cases": out},
              sys.stdout, indent=None)
    print()


if __name__ == "__main__":
    main()
