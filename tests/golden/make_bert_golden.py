"""Writes tests/golden/bert_tiny_golden.json: weights, token ids, attention mask, labels, and what the PyTorch
peer's own model (../shared/peers/torch_bert_bench.py, class Bert) computes from them in eval mode (the peer's
model has no dropout at all): the logits, the training loss (F.cross_entropy on the labels: mean over the batch,
no label smoothing, as model/train.cpp's cross_entropy(logits, labels)) and the gradient of that loss with
respect to every parameter, under its Hugging Face name. The C++ test (tests/model/test_golden.cpp) loads the
same weights by those names and must reproduce the logits, the loss and every gradient. Interop script only
(not part of the product). The config is tiny so the file stays small (~0.3 MB); floats are written with
Python's repr (17 significant digits: the float32 values exactly). The numbers move by ~1e-7 with the BLAS
torch runs on; this file was written on the peer's documented one (OpenBLAS/OpenMP, scripts/check-peer-blas.sh).

Run from the repo root:  /usr/bin/python3 tests/golden/make_bert_golden.py
"""
import json, os, sys
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "shared", "peers"))
from torch_bert_bench import Bert  # noqa: E402  the peer's architecture, unchanged

V, H, L, A, I, T = 64, 16, 2, 2, 32, 24
torch.set_num_threads(1)
torch.manual_seed(1234)
m = Bert(V, H, L, A, I, T, "fp").eval()
with torch.no_grad():  # non-trivial LayerNorm and bias values, so every parameter matters
    for p in m.parameters():
        p.copy_(torch.randn_like(p) * 0.3)

def lin(prefix, mod):
    return {prefix + ".weight": mod.weight, prefix + ".bias": mod.bias}

names = {
    "bert.embeddings.word_embeddings.weight": m.tok.weight,
    "bert.embeddings.position_embeddings.weight": m.pos.weight,
    "bert.embeddings.token_type_embeddings.weight": m.typ.weight,
    **lin("bert.embeddings.LayerNorm", m.ln),
    **lin("bert.pooler.dense", m.pool),
    **lin("classifier", m.cls),
}
for i, l in enumerate(m.layers):
    p = f"bert.encoder.layer.{i}."
    names.update(lin(p + "attention.self.query", l.q))
    names.update(lin(p + "attention.self.key", l.k))
    names.update(lin(p + "attention.self.value", l.v))
    names.update(lin(p + "attention.output.dense", l.o))
    names.update(lin(p + "attention.output.LayerNorm", l.ln1))
    names.update(lin(p + "intermediate.dense", l.f1))
    names.update(lin(p + "output.dense", l.f2))
    names.update(lin(p + "output.LayerNorm", l.ln2))

ids = torch.randint(0, V, (3, 10))
am = torch.ones(3, 10, dtype=torch.long)
am[1, 7:] = 0
am[2, 4:] = 0
labels = torch.tensor([0, 1, 1])  # fixed, not drawn: the draws above stay those of the logits-only file
logits = m(ids, am)
loss = F.cross_entropy(logits, labels)
loss.backward()
assert all(v.grad is not None for v in names.values())

golden = {
    "config": {"vocab_size": V, "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": A,
               "intermediate_size": I, "max_position_embeddings": T, "type_vocab_size": 2,
               "layer_norm_eps": 1e-5, "num_labels": 2},  # the peer's nn.LayerNorm uses eps 1e-5
    "params": {k: {"shape": list(v.shape), "data": v.detach().flatten().tolist()}
               for k, v in names.items()},
    "input_ids": ids.tolist(),
    "attention_mask": am.tolist(),
    "logits": logits.detach().tolist(),
    "labels": labels.tolist(),
    "loss": loss.item(),
    "grads": {k: v.grad.flatten().tolist() for k, v in names.items()},
    "torch_version": torch.__version__,
}
out = os.path.join(here, "bert_tiny_golden.json")
with open(out, "w") as f:
    json.dump(golden, f)
print(out, sum(v.numel() for v in names.values()), "parameters, logits", logits.detach().tolist(), "loss", loss.item(),
      os.path.getsize(out), "bytes")
