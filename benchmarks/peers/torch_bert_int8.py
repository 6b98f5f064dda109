#!/usr/bin/env python3
"""The PyTorch peer (../shared/peers/torch_bert_bench.py, read-only) plus its int8 inference: mode infer-int8 is
the peer's fp model with every Linear quantized by PyTorch's dynamic int8 quantization
(torch.ao.quantization.quantize_dynamic: int8 weights, activations quantized per call, int32 sums), run under
no_grad like its infer mode. Every other mode is the peer's own run(). Same command line and output columns:
  mode config batch seq seq_per_s
Peer only (not part of the product). Debian's torch 1.13 has the onednn and qnnpack quantized engines (no fbgemm);
onednn, the x86 one, is used."""
import argparse
import importlib.util
import os
import time

import torch
import torch.nn as nn

PEER = os.environ.get("PEER_BASE", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                                 "shared", "peers", "torch_bert_bench.py"))
spec = importlib.util.spec_from_file_location("torch_bert_bench", PEER)
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)


def plain_linears(m):
    """The peer's FQLinear (an nn.Linear subclass; quantize_dynamic only converts nn.Linear itself) swapped for
    nn.Linear with the same weights: in fp mode both compute F.linear(x, W, b)."""
    for name, child in list(m.named_children()):
        if isinstance(child, peer.FQLinear):
            lin = nn.Linear(child.in_features, child.out_features)
            lin.weight, lin.bias = child.weight, child.bias
            setattr(m, name, lin)
        else:
            plain_linears(child)
    return m


def run_int8(cfg, B, T, iters, V=30522):
    L, h, a, i = peer.CONFIGS[cfg]
    torch.manual_seed(0)
    m = plain_linears(peer.Bert(V, h, L, a, i, 512, "fp")).eval()
    q = torch.ao.quantization.quantize_dynamic(m, {nn.Linear}, dtype=torch.qint8)
    ids = torch.randint(0, V, (B, T)); am = torch.ones(B, T, dtype=torch.long)
    def step():
        with torch.no_grad():
            q(ids, am)
    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    dt = (time.perf_counter() - t) / iters
    print(f"infer-int8 {cfg} {B} {T} {B / dt:.1f}", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--modes", default="train,qat,sparse,infer")
    p.add_argument("--configs", default="tiny,mini")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--iters", type=int, default=10)
    A = p.parse_args()
    torch.set_num_threads(A.threads)
    torch.backends.quantized.engine = "onednn" if "onednn" in torch.backends.quantized.supported_engines else \
        torch.backends.quantized.engine
    for c in A.configs.split(","):
        for mo in A.modes.split(","):
            if mo == "infer-int8":
                run_int8(c, A.batch, A.seq, A.iters)
            else:
                peer.run(mo, c, A.batch, A.seq, A.iters)
