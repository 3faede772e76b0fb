#!/usr/bin/python3
"""Times the PyTorch reference encoder (oracle/reference.py) on the same
fixed batch as `kormed bench encode` and bench/ort_encode.js, and exports
it to ONNX for the ONNX Runtime comparison.

    /usr/bin/python3 bench/torch_encode.py --model DIR [--batch 32 --seq 64 --iters 5
        --threads 2] [--bf16 | --int8] [--onnx OUT.onnx]

--int8 is PyTorch's dynamic quantization (torch.ao.quantization.quantize_dynamic
on every nn.Linear, qint8 weights per channel, activations quantized per batch
at run time; the x86/fbgemm engine, or onednn where torch has no fbgemm
as Debian's), the reference kormed's --precision int8 is
measured against.

Prints one JSON line. Set OPENBLAS_CORETYPE to this CPU's core (see
BENCHMARKS.md) or Debian's OpenBLAS runs generic kernels.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "oracle"))
import reference  # noqa: E402


def bench_ids(B, T, vocab):
    ids, s = [], 12345
    for _ in range(B * T):
        s = (s * 1103515245 + 12345) % 2147483648
        ids.append(5 + s % (vocab - 5))
    return torch.tensor(ids, dtype=torch.long).view(B, T)


class Wrapped(torch.nn.Module):
    """The reference forward + mean pooling + normalisation as a module (for ONNX export)."""

    def __init__(self, ref):
        super().__init__()
        self.ref = ref

    def forward(self, input_ids, attention_mask):
        tt = torch.zeros_like(input_ids)
        hidden, _ = self.ref.forward(input_ids, attention_mask, tt)
        m = attention_mask.unsqueeze(-1).to(torch.float32)
        mean = (hidden[-1] * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        return F.normalize(mean, p=2, dim=1)


def quantize_linears(ref):
    """Routes ref.lin through nn.Linear modules quantized dynamically."""
    # Debian's torch 1.13 has no fbgemm; its x86 engine is onednn.
    for e in ("x86", "fbgemm", "onednn", "qnnpack"):
        if e in torch.backends.quantized.supported_engines:
            torch.backends.quantized.engine = e
            break
    lins = torch.nn.ModuleDict()
    for name, w in ref.w.items():
        base = name[: -len(".weight")]
        if name.endswith(".weight") and w.dim() == 2 and base + ".bias" in ref.w:
            m = torch.nn.Linear(w.shape[1], w.shape[0])
            m.weight.data.copy_(w)
            m.bias.data.copy_(ref.w[base + ".bias"])
            lins[base.replace(".", "__")] = m
    q = torch.ao.quantization.quantize_dynamic(lins.eval(), {torch.nn.Linear}, dtype=torch.qint8)
    ref.lin = lambda x, name: q[name.replace(".", "__")](x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="CPU autocast to bfloat16")
    ap.add_argument("--int8", action="store_true", help="dynamic int8 quantization of the linear layers")
    ap.add_argument("--onnx", help="also export the model to this ONNX file (opset 14, dynamic axes)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ref = reference.Reference(args.model)
    if args.int8:
        quantize_linears(ref)
    mod = Wrapped(ref).eval()
    ids = bench_ids(args.batch, args.seq, ref.cfg["vocab_size"])
    mask = torch.ones_like(ids)
    if args.onnx:
        with torch.no_grad():
            torch.onnx.export(mod, (ids, mask), args.onnx, opset_version=14,
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                            "attention_mask": {0: "batch", 1: "seq"},
                                            "embedding": {0: "batch"}})

    def step():
        with torch.no_grad():
            if args.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return mod(ids, mask)
            return mod(ids, mask)

    step()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        step()
    sec = time.perf_counter() - t0
    print(json.dumps({"engine": "pytorch %s%s" % (torch.__version__, " bf16-autocast" if args.bf16 else (" int8-dynamic " + torch.backends.quantized.engine) if args.int8 else " fp32"),
                      "batch": args.batch, "seq": args.seq, "iters": args.iters, "threads": args.threads,
                      "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
                      "seconds": sec, "seq_per_s": args.batch * args.iters / sec}))


if __name__ == "__main__":
    main()
