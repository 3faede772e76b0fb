#!/usr/bin/python3
"""Times the PyTorch reference training step on the batch `kormed bench train`
times: B (query, passage) pairs of T tokens (bench_ids, no padding), the
reference encoder (oracle/reference.py, op for op BertModel, dropout off as
in kormed's default bench), mean pooling + normalisation,
MultipleNegativesRankingLoss (oracle/losses.py), backward,
clip_grad_norm_(1.0) and torch.optim.AdamW (lr 2e-5, weight decay 0.01 off
for biases and LayerNorm), word embeddings frozen.

    /usr/bin/python3 bench/torch_train.py --model DIR [--batch 32 --seq 64 --iters 3 --threads 2] [--bf16]

Prints one JSON line. Set OPENBLAS_CORETYPE to this CPU's core (BENCHMARKS.md).
"""
import argparse
import importlib.util
import json
import os
import resource
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE = os.path.join(os.path.dirname(HERE), "oracle")


def load(name):
    spec = importlib.util.spec_from_file_location("kormed_" + name, os.path.join(ORACLE, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bench_ids(B, T, vocab):
    ids, s = [], 12345
    for _ in range(B * T):
        s = (s * 1103515245 + 12345) % 2147483648
        ids.append(5 + s % (vocab - 5))
    return torch.tensor(ids, dtype=torch.long).view(B, T)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--per-step", action="store_true", help="print each timed step to stderr")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="CPU autocast to bfloat16 (forward and backward)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ref, losses = load("reference"), load("losses")
    model = ref.Reference(args.model)
    params = []
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    decay, nodecay = [], []
    for name, t in list(model.w.items()):
        p = t.clone()
        if name != "embeddings.word_embeddings.weight" and not name.startswith("pooler."):
            p.requires_grad_(True)
            (nodecay if any(k in name for k in no_decay) else decay).append(p)
            params.append(p)
        model.w[name] = p
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}], lr=2e-5)
    loss_fn = losses.build("mnrl", {}, torch.float32)
    forward = ref.Reference.forward.__wrapped__
    ids = bench_ids(2 * args.batch, args.seq, model.cfg["vocab_size"])
    mask = torch.ones_like(ids)
    cols = [(ids[:args.batch], mask[:args.batch]), (ids[args.batch:], mask[args.batch:])]

    def embed(i, m):
        hidden, _ = forward(model, i, m, torch.zeros_like(i))
        mm = m.unsqueeze(-1).to(hidden[-1].dtype)
        mean = (hidden[-1] * mm).sum(1) / torch.clamp(mm.sum(1), min=1e-9)
        return torch.nn.functional.normalize(mean.float(), p=2, dim=1)

    def step():
        opt.zero_grad()
        if args.bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                embs = [embed(i, m) for i, m in cols]
        else:
            embs = [embed(i, m) for i, m in cols]
        loss = loss_fn(embs, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for i in range(args.iters):
        ts = time.perf_counter()
        loss = step()
        if args.per_step:
            print("step %d: %.2f s" % (i, time.perf_counter() - ts), file=sys.stderr)
    sec = time.perf_counter() - t0
    print(json.dumps({"bench": "train", "engine": "pytorch %s %s" % (torch.__version__, "bf16-autocast" if args.bf16 else "fp32"),
                      "batch": args.batch, "seq": args.seq, "iters": args.iters, "threads": args.threads, "loss": loss,
                      "seconds_per_step": sec / args.iters, "pairs_per_s": args.batch * args.iters / sec,
                      "trainable": sum(p.numel() for p in params),
                      "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
