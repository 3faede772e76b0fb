#!/usr/bin/python3
"""Times the PyTorch reference decoder (oracle/decoder_reference.py) on the
same prompt as `kormed bench decode`: one forward over the prompt, then
greedy generation with a KV cache.

    /usr/bin/python3 bench/torch_decode.py --model DIR [--prompt 512 --new 32 --threads 2]

The oracle recomputes the whole sequence for every new token; this script
runs the oracle's ops (rms_norm, linear, rotate_half, repeat_kv, its rotary
frequencies and float32 softmax) in a cached form instead: the prompt pass
stores every layer's rotated keys and values, and each generated token runs
alone against them, as kormed's decoder.Forward does. Like kormed, the prompt
pass computes the LM head for the last position only. Weights are read one
tensor at a time (F16/BF16 widened to float32) so that the peak RSS is the
model's, not the reader's.

Prints one JSON line. Set OPENBLAS_CORETYPE to this CPU's core (see
BENCHMARKS.md) or Debian's OpenBLAS runs generic kernels.
"""
import argparse
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "oracle"))
import decoder_reference as D  # noqa: E402


def bench_ids(T, vocab):
    """cmd/kormed benchIDs with B = 1."""
    ids, s = [], 12345
    for _ in range(T):
        s = (s * 1103515245 + 12345) % 2147483648
        ids.append(5 + s % (vocab - 5))
    return ids


def load_weights(d):
    files = ["model.safetensors"]
    if not os.path.exists(os.path.join(d, files[0])):
        with open(os.path.join(d, "model.safetensors.index.json")) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    W = {}
    for name in files:
        with open(os.path.join(d, name), "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            header.pop("__metadata__", None)
            base = 8 + n
            for k, h in header.items():
                b, e = h["data_offsets"]
                f.seek(base + b)
                buf = bytearray(e - b)
                f.readinto(buf)
                if h["dtype"] == "BF16":
                    arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
                elif h["dtype"] == "F16":
                    arr = np.frombuffer(buf, dtype="<f2").astype(np.float32)
                else:
                    arr = np.frombuffer(buf, dtype="<f4")
                W[k] = torch.from_numpy(arr.reshape(h["shape"]))
                del buf
    return W


def forward_cached(c, W, inv_freq, ids, cache):
    """decoder_reference.forward over positions P…P+T-1 against cache
    (per layer [1,NKV,P,hd] rotated keys and values, extended in place);
    returns the last position's logits [V]."""
    n = D.NAMES[c.model_type]
    T = len(ids)
    P = cache[0][0].shape[2] if cache else 0
    NH, NKV, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
    h = W[n["embed"]][torch.tensor(ids)][None]
    pos = torch.arange(P, P + T)[None]
    freqs = (inv_freq[None, :, None].float() @ pos[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]
    mask = None
    if T > 1:  # query t sees keys 0…P+t
        mask = torch.full((T, P + T), torch.finfo(torch.float32).min).triu(P + 1)[None, None]
    for layer in range(c.num_layers):
        p = n["layer"].format(layer)
        res = h
        x = D.rms_norm(h, W[p + n["ln1"] + ".weight"], c.eps)
        q = D.linear(x, W, p + n["q"], c.attention_bias).view(1, T, NH, hd).transpose(1, 2)
        k = D.linear(x, W, p + n["k"], c.attention_bias).view(1, T, NKV, hd).transpose(1, 2)
        v = D.linear(x, W, p + n["v"], c.attention_bias).view(1, T, NKV, hd).transpose(1, 2)
        q = q * cos + D.rotate_half(q) * sin
        k = k * cos + D.rotate_half(k) * sin
        if len(cache) <= layer:
            cache.append((k, v))
        else:
            pk, pv = cache[layer]
            k, v = torch.cat((pk, k), dim=2), torch.cat((pv, v), dim=2)
            cache[layer] = (k, v)
        k, v = D.repeat_kv(k, NH // NKV), D.repeat_kv(v, NH // NKV)
        w = torch.matmul(q, k.transpose(2, 3)) * hd ** -0.5
        if mask is not None:
            w = w + mask
        w = torch.softmax(w, dim=-1, dtype=torch.float32)
        a = torch.matmul(w, v).transpose(1, 2).reshape(1, T, NH * hd)
        h = res + D.linear(a, W, p + n["o"], c.attention_bias)
        res = h
        x = D.rms_norm(h, W[p + n["ln2"] + ".weight"], c.eps)
        g = torch.nn.functional.silu(D.linear(x, W, p + n["gate"], c.mlp_bias))
        h = res + D.linear(g * D.linear(x, W, p + n["up"], c.mlp_bias), W, p + n["down"], c.mlp_bias)
    h = D.rms_norm(h[:, -1:], W[n["norm"]], c.eps)
    head = W[n["embed"]] if c.tie else W["lm_head.weight"]
    return torch.matmul(h, head.t())[0, 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1, help="untimed prompt passes first")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "config.json")) as f:
        c = D.Config(json.load(f))
    t0 = time.perf_counter()
    W = load_weights(args.model)
    load_sec = time.perf_counter() - t0
    inv_freq = D.inv_freq_of(c)
    ids = bench_ids(args.prompt, c.vocab_size)
    with torch.no_grad():
        for _ in range(args.warmup):
            forward_cached(c, W, inv_freq, ids, [])
        cache = []
        t0 = time.perf_counter()
        logits = forward_cached(c, W, inv_freq, ids, cache)
        prompt_sec = time.perf_counter() - t0
        nxt = int(torch.argmax(logits))
        gen = [nxt]
        t0 = time.perf_counter()
        while len(gen) < args.new:
            nxt = int(torch.argmax(forward_cached(c, W, inv_freq, [nxt], cache)))
            gen.append(nxt)
        gen_sec = time.perf_counter() - t0
    steps = args.new - 1
    print(json.dumps({
        "bench": "decode", "engine": "pytorch %s fp32" % torch.__version__, "precision": "fp32",
        "threads": args.threads, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "model_type": c.model_type, "layers": c.num_layers, "hidden": c.hidden_size, "vocab": c.vocab_size,
        "prompt": args.prompt, "new": args.new, "load_seconds": load_sec,
        "prompt_seconds": prompt_sec, "prompt_tokens_per_s": args.prompt / prompt_sec,
        "gen_steps": steps, "gen_seconds": gen_sec, "gen_tokens_per_s": steps / gen_sec,
        "ms_per_token": 1000 * gen_sec / steps,
        "weight_bytes": sum(4 * t.numel() for t in W.values()),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "generated": gen,
    }))


if __name__ == "__main__":
    main()
