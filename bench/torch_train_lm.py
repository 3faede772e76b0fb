#!/usr/bin/python3
"""Times the PyTorch fp32 fine-tuning step that `kormed bench train-lm` times: the decoder
of oracle/decoder_reference.py (its ops: rms_norm, linear, rotate_half, repeat_kv, the rotary
frequencies, float32 softmax), the top N blocks, the final norm and the LM head trainable.

    /usr/bin/python3 bench/torch_train_lm.py --model DIR [--seq 512 --top-n 2 --warmup 1 --iters 3 --threads 2]

The example is cmd/kormed's benchLMExample: --seq ids of bench_ids, the first seq//2 the
prompt (labels -100), the rest the answer; the loss is transformers' ForCausalLMLoss (logits
[:-1] against labels[1:], mean cross-entropy over the answer tokens) on the logits of every
position. One step: zero_grad, forward, loss, backward, clip_grad_norm_(1.0),
torch.optim.AdamW (lr 1e-5, betas 0.9/0.999, eps 1e-8, weight decay 0.01 on matrices and
embeddings, none on RMSNorm weights and biases: the HF Trainer's groups, as kormed's lmtrain).

requires_grad is on only for blocks L-N…L-1, the final norm and the LM head. The embedding
lookup and the frozen blocks below run under torch.no_grad(), keeping no activations (as
kormed's TrainForward does). With tie_word_embeddings the LM head is the embedding matrix:
it is trained from the head's use only (the input lookup reads it detached) when blocks stay
frozen, from both uses when every block is trained (--top-n = layers), which is what kormed's
lmtrain does (decoder.NewGrads with embed=false, decoder/backward.go's notes;
oracle/decoder_train_reference.py's top1 training). An untied embedding is never trained. Weights are read one tensor at a time (bench/torch_decode.py's load_weights,
F16/BF16 widened to float32), so the peak RSS is the model's and the training state's.

Prints one JSON line with the fields of `kormed bench train-lm`, plus grad_norm_first_f64: the
first step's gradient norm summed in float64 (outside the timing). clip_grad_norm_ sums in
float32, which at the 2.4B shape (hundreds of millions of gradients) is off by ~1e-3 relative;
kormed's norm (float64 sums) matches grad_norm_first_f64. Set OPENBLAS_CORETYPE to this
CPU's core (see BENCHMARKS.md) or Debian's OpenBLAS runs generic kernels.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_decode as TD  # noqa: E402  (bench_ids, load_weights; it puts oracle/ on the path)

D = TD.D
LR, BETAS, EPS, WD, MAX_NORM = 1e-5, (0.9, 0.999), 1e-8, 0.01, 1.0


def block(c, W, p, h, cos, sin, mask):
    """One decoder block of decoder_reference.forward on h [1,T,C]."""
    n = D.NAMES[c.model_type]
    T = h.shape[1]
    NH, NKV, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
    res = h
    x = D.rms_norm(h, W[p + n["ln1"] + ".weight"], c.eps)
    q = D.linear(x, W, p + n["q"], c.attention_bias).view(1, T, NH, hd).transpose(1, 2)
    k = D.linear(x, W, p + n["k"], c.attention_bias).view(1, T, NKV, hd).transpose(1, 2)
    v = D.linear(x, W, p + n["v"], c.attention_bias).view(1, T, NKV, hd).transpose(1, 2)
    q = q * cos + D.rotate_half(q) * sin
    k = k * cos + D.rotate_half(k) * sin
    k, v = D.repeat_kv(k, NH // NKV), D.repeat_kv(v, NH // NKV)
    w = torch.matmul(q, k.transpose(2, 3)) * hd ** -0.5 + mask
    w = torch.softmax(w, dim=-1, dtype=torch.float32)
    a = torch.matmul(w, v).transpose(1, 2).reshape(1, T, NH * hd)
    h = res + D.linear(a, W, p + n["o"], c.attention_bias)
    res = h
    x = D.rms_norm(h, W[p + n["ln2"] + ".weight"], c.eps)
    g = torch.nn.functional.silu(D.linear(x, W, p + n["gate"], c.mlp_bias))
    return res + D.linear(g * D.linear(x, W, p + n["up"], c.mlp_bias), W, p + n["down"], c.mlp_bias)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--top-n", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--iters", type=int, default=3, help="timed steps")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "config.json")) as f:
        c = D.Config(json.load(f))
    if not 1 <= args.top_n <= c.num_layers:
        raise SystemExit("--top-n %d: the model has %d layers" % (args.top_n, c.num_layers))
    n = D.NAMES[c.model_type]
    t0 = time.perf_counter()
    W = TD.load_weights(args.model)
    load_sec = time.perf_counter() - t0
    L, first = c.num_layers, c.num_layers - args.top_n
    head_name = n["embed"] if c.tie else "lm_head.weight"
    trainable = [n["layer"].format(l) for l in range(first, L)]
    decay, nodecay = [], []
    for k, v in W.items():
        if any(k.startswith(p) for p in trainable) or k in (n["norm"], head_name):
            v.requires_grad_(True)
            (decay if v.dim() == 2 else nodecay).append(v)
    params = decay + nodecay
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)

    T = args.seq
    ids = TD.bench_ids(T, c.vocab_size)
    prompt = T // 2
    labels = torch.tensor([-100] * prompt + ids[prompt:])
    ids_t = torch.tensor(ids)
    inv_freq = D.inv_freq_of(c)
    pos = torch.arange(T)[None]
    freqs = (inv_freq[None, :, None].float() @ pos[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]
    mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)[None, None]

    # kormed's Backward stops at the lowest trainable block: the input lookup's gradient reaches
    # the shared matrix of a tied model only when every block is trained (decoder/backward.go).
    lookup_grad = c.tie and first == 0

    def step(check):
        opt.zero_grad()  # torch 1.13's default set_to_none=False: the gradients stay allocated, as kormed's do
        with torch.set_grad_enabled(lookup_grad):
            h = W[n["embed"]][ids_t][None]
        with torch.no_grad():
            for l in range(first):
                h = block(c, W, n["layer"].format(l), h, cos, sin, mask)
        for l in range(first, L):
            h = block(c, W, n["layer"].format(l), h, cos, sin, mask)
        h = D.rms_norm(h, W[n["norm"]], c.eps)
        logits = torch.matmul(h, W[head_name].t())[0]
        loss = torch.nn.functional.cross_entropy(logits[:-1], labels[1:], ignore_index=-100)
        loss.backward()
        norm64, check_sec = None, 0.0
        if check:  # not timed
            tc = time.perf_counter()
            norm64 = sum(float(p.grad.double().pow(2).sum()) for p in params) ** 0.5
            check_sec = time.perf_counter() - tc
        norm = torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
        opt.step()
        return float(loss), float(norm), norm64, check_sec

    step_sec, loss_first, norm_first, norm64_first, loss_last = [], None, None, None, None
    for i in range(args.warmup + args.iters):
        ts = time.perf_counter()
        loss, norm, norm64, check_sec = step(i == 0)
        if i >= args.warmup:
            step_sec.append(time.perf_counter() - ts - check_sec)
        if i == 0:
            loss_first, norm_first, norm64_first = loss, norm, norm64
        loss_last = loss
    print(json.dumps({
        "bench": "train-lm", "engine": "pytorch %s fp32" % torch.__version__, "precision": "fp32",
        "threads": args.threads, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""), "frozen_weights": "fp32",
        "model_type": c.model_type, "layers": L, "hidden": c.hidden_size, "vocab": c.vocab_size, "tied": c.tie,
        "seq": T, "prompt_tokens": prompt, "answer_tokens": int((labels[1:] != -100).sum()), "top_n": args.top_n,
        "lr": LR, "weight_decay": WD, "max_grad_norm": MAX_NORM,
        "warmup": args.warmup, "iters": args.iters, "load_seconds": load_sec,
        "seconds_per_step": sum(step_sec) / len(step_sec), "min_seconds_per_step": min(step_sec),
        "step_seconds": step_sec, "loss_first": loss_first, "grad_norm_first": norm_first,
        "grad_norm_first_f64": norm64_first, "loss_last": loss_last,
        "trainable_params": sum(p.numel() for p in params), "all_params": sum(t.numel() for t in W.values()),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
