#!/usr/bin/python3
"""PyTorch reference for kormed's fine-tuning step (package train).

Run with Debian's interpreter (torch 1.13; no transformers) from the repository root:

    /usr/bin/python3 oracle/train_reference.py     # writes train/testdata/steps/<case>.safetensors

For each case of train/testdata/steps/cases.json it builds the model of a
folder as a PyTorch computation with autograd -- oracle/reference.py's
op-for-op BertModel / XLMRobertaModel forward, in training mode with dropout
off (dropout masks come from a generator no other implementation
reproduces; kormed's dropout is checked by its statistics and by finite
differences), then sentence-transformers' Pooling and Normalize from the
folder's modules -- and runs what a sentence-transformers training loop runs:

    per step: for each micro-batch (gradient accumulation), embed every
              column, loss (oracle/losses.py's re-implementations of the
              published losses) / accumulation steps, backward;
              torch.nn.utils.clip_grad_norm_; torch.optim.AdamW.step();
              LambdaLR.step() with transformers' schedule formulas

on the same batch every step. Frozen parameters have requires_grad False
and no optimiser state, and so have parameters the loss never reaches (the
BERT pooler under mean or CLS pooling: their grad stays None); AdamW's parameter groups put biases and LayerNorm
weights in the no-decay group as the HF Trainer does.

A case: {"name", "model" (folder), "loss", "params", "columns" (list of
columns, each a list of texts, prefixes already applied), "labels" |
"groups" (optional), "max_length", "frozen" (list of Hugging Face parameter
names or prefixes), "accumulate", "optim": {"lr", "beta1", "beta2", "eps",
"weight_decay", "clip", "steps", "warmup", "total", "schedule"}}.

Output, one safetensors per case (float32 unless said):
  ids.<c>, mask.<c>       [B,T] I64 of column c (the reference tokenizers)
  loss, lr, grad_norm     [steps] (grad_norm before clipping)
  grad.<name>             the first step's gradient of each trainable tensor
  param.<name>            every trainable tensor after the last step
Deterministic (one thread, fixed inputs, OpenBLAS's Haswell kernels):
re-running gives identical files. It also writes optim/testdata/adamw.json:
torch.optim.AdamW alone, element by element over three steps.
"""
import importlib.util
import json
import math
import os
import sys

# The checked-in fixtures were made with OpenBLAS's Haswell kernels (AVX2,
# on any x86-64 machine that can regenerate them); OpenBLAS reads this
# before torch loads it.
os.environ["OPENBLAS_CORETYPE"] = "Haswell"

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
torch.set_num_threads(1)


def _load(name):
    spec = importlib.util.spec_from_file_location("kormed_oracle_" + name, os.path.join(HERE, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ref = _load("reference")
losses = _load("losses")


def schedule_factor(kind, warmup, total, step):
    """transformers.optimization's lr lambdas (num_cycles 0.5 for cosine)."""
    if kind != "constant" and step < warmup:
        return step / max(1, warmup)
    if kind in ("constant", "constant_with_warmup"):
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if kind == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
    return max(0.0, (total - step) / max(1, total - warmup))


def pool(h, mask, pooling, normalize):
    if pooling == "cls":
        out = h[:, 0]
    else:  # sentence-transformers Pooling, mean mode
        m = mask.unsqueeze(-1).expand(h.size()).to(h.dtype)
        out = torch.sum(h * m, 1) / torch.clamp(m.sum(1), min=1e-9)
    if normalize:
        out = torch.nn.functional.normalize(out, p=2, dim=1)
    return out


def run_case(case, out_dir):
    d = os.path.join(ROOT, case["model"])
    model = ref.Reference(d)
    pooling, normalize = ref.st_recipe(d)
    frozen = case.get("frozen", [])
    params = {}
    for name, t in model.w.items():
        p = t.clone()
        if not any(name == f or name.startswith(f) for f in frozen):
            p.requires_grad_(True)
        model.w[name] = p
        params[name] = p
    trainable = [n for n, p in params.items() if p.requires_grad]
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    o = case["optim"]
    groups = [{"params": [params[n] for n in trainable if not any(k in n for k in no_decay)], "weight_decay": o["weight_decay"]},
              {"params": [params[n] for n in trainable if any(k in n for k in no_decay)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: schedule_factor(o["schedule"], o["warmup"], o["total"], s))

    tok = ref.RefTokenizer(os.path.join(d, "tokenizer.json"),
                           os.path.join(ROOT, "testdata", "tokenizers", "unigram", "sp.model"))
    out = []
    cols = []
    for c, texts in enumerate(case["columns"]):
        seqs = [tok.encode(t, case["max_length"]) for t in texts]
        B, T = len(seqs), max(len(s) for s in seqs)
        ids = torch.full((B, T), tok.pad, dtype=torch.long)
        mask = torch.zeros((B, T), dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[b, :len(s)] = torch.tensor(s)
            mask[b, :len(s)] = 1
        cols.append((ids, mask))
        out += [(f"ids.{c}", ids.numpy().astype(np.int64)), (f"mask.{c}", mask.numpy().astype(np.int64))]
    labels = torch.tensor(case["labels"], dtype=torch.float32) if case.get("labels") is not None else None
    groups_t = torch.tensor(case["groups"], dtype=torch.long) if case.get("groups") is not None else None
    loss_fn = losses.build(case["loss"], case.get("params", {}), torch.float32)
    forward = ref.Reference.forward.__wrapped__  # the op-for-op forward, without its no_grad

    def embed(ids, mask):
        tt = torch.zeros_like(ids)
        hidden, _ = forward(model, ids, mask, tt)
        return pool(hidden[-1], mask, pooling, normalize)

    accum = case.get("accumulate", 1)
    B = cols[0][0].shape[0]
    bounds = [(i * B // accum, (i + 1) * B // accum) for i in range(accum)]
    loss_hist, lr_hist, norm_hist = [], [], []
    first_grads = None
    for step in range(o["steps"]):
        lr_hist.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        total = 0.0
        for lo, hi in bounds:
            embs = []
            for ids, mask in cols:
                # Trim the micro-batch's padding as a collator would.
                m = mask[lo:hi]
                T = int(m.sum(1).max())
                embs.append(embed(ids[lo:hi, :T], m[:, :T]))
            if case["loss"] == "multi-similarity":
                loss = loss_fn(embs, groups_t[lo:hi])
            else:
                loss = loss_fn(embs, None if labels is None else labels[lo:hi])
            (loss / accum).backward()
            total += loss.item() / accum
        loss_hist.append(total)
        if first_grads is None:
            # A parameter the loss does not reach (the BERT pooler under
            # mean or CLS pooling) has grad None: AdamW skips it entirely
            # (no update, no weight decay), so it is not trained.
            trainable = [n for n in trainable if params[n].grad is not None]
            first_grads = {n: params[n].grad.detach().clone() for n in trainable}
        gn = torch.nn.utils.clip_grad_norm_([params[n] for n in trainable], max_norm=o["clip"] if o["clip"] > 0 else float("inf"))
        norm_hist.append(float(gn))
        opt.step()
        sched.step()
    out += [("loss", np.array(loss_hist, dtype=np.float32)), ("lr", np.array(lr_hist, dtype=np.float32)),
            ("grad_norm", np.array(norm_hist, dtype=np.float32))]
    for n in trainable:
        out.append(("grad." + n, first_grads[n].numpy().astype(np.float32)))
        out.append(("param." + n, params[n].detach().numpy().astype(np.float32)))
    path = os.path.join(out_dir, case["name"] + ".safetensors")
    ref.write_safetensors(path, out, {"case": case["name"]})
    print(f"{path}: loss {loss_hist}", file=sys.stderr)


def adamw_golden(path):
    """torch.optim.AdamW alone, element by element: 3 steps on random
    parameters and gradients, one group with weight decay and one without,
    at changing learning rates (float32 throughout)."""
    g = torch.Generator().manual_seed(20261127)
    p_dec = torch.randn(257, generator=g)
    p_nod = torch.randn(33, generator=g)
    a, b = p_dec.clone().requires_grad_(True), p_nod.clone().requires_grad_(True)
    opt = torch.optim.AdamW([{"params": [a], "weight_decay": 0.05}, {"params": [b], "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    steps = []
    for lr in (1e-3, 5e-4, 2e-3):
        for grp in opt.param_groups:
            grp["lr"] = lr
        ga, gb = torch.randn(257, generator=g) * 0.1, torch.randn(33, generator=g)
        a.grad, b.grad = ga.clone(), gb.clone()
        opt.step()
        steps.append({"lr": lr, "grad_decay": losses.flat(ga), "grad_nodecay": losses.flat(gb),
                      "param_decay": losses.flat(a), "param_nodecay": losses.flat(b)})
    out = {"betas": [0.9, 0.98], "eps": 1e-6, "weight_decay": 0.05,
           "init_decay": losses.flat(p_dec), "init_nodecay": losses.flat(p_nod), "steps": steps}
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")


def main():
    adamw_golden(os.path.join(ROOT, "optim", "testdata", "adamw.json"))
    d = os.path.join(ROOT, "train", "testdata", "steps")
    cases = ref.read_json(os.path.join(d, "cases.json"))
    only = sys.argv[1:]
    for case in cases:
        if not only or case["name"] in only:
            run_case(case, d)


if __name__ == "__main__":
    main()
