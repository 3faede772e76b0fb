#!/usr/bin/python3
"""Golden fixtures for package nn, computed with PyTorch (float32, CPU).

Run with Debian's interpreter (it has torch 1.13):

    /usr/bin/python3 oracle/kernels.py        # writes nn/testdata/kernels.json

Each case holds its shapes, inputs and PyTorch's outputs as flat row-major
float32 lists. Attention follows HF BERT's self-attention math exactly:
scores = q·kᵀ/sqrt(hs) + (1-mask)·finfo(float32).min, softmax, ·v.
The file is small (tens of KB) and checked in, so the Go tests run without
torch.
"""
import json
import math
import os

import torch

torch.manual_seed(20261121)
torch.set_num_threads(1)


def flat(t):
    # 9 significant digits round-trip a float32 exactly.
    return [float("%.9g" % x) for x in t.detach().to(torch.float32).reshape(-1).tolist()]


def layernorm():
    N, C, eps = 4, 24, 1e-12
    x = torch.randn(N, C) * 3 + 2
    w = torch.randn(C)
    b = torch.randn(C)
    out = torch.nn.functional.layer_norm(x, (C,), w, b, eps)
    mean = x.mean(-1)
    rstd = 1 / torch.sqrt(x.var(-1, unbiased=False) + eps)
    r = torch.randn(N, C)
    out_add = torch.nn.functional.layer_norm(x + r, (C,), w, b, 1e-5)
    return dict(N=N, C=C, eps=eps, x=flat(x), w=flat(w), b=flat(b), out=flat(out),
                mean=flat(mean), rstd=flat(rstd), r=flat(r), eps_add=1e-5, out_add=flat(out_add))


def gelu():
    x = torch.cat([torch.linspace(-8, 8, 161), torch.randn(64) * 2,
                   torch.tensor([0.0, 1e-6, -1e-6, 20.0, -20.0, 3.5, -3.5])])
    return dict(x=flat(x), out=flat(torch.nn.functional.gelu(x)))


def linear():
    N, C, OC = 5, 16, 7
    x = torch.randn(N, C)
    lin = torch.nn.Linear(C, OC)
    out = lin(x)
    return dict(N=N, C=C, OC=OC, x=flat(x), w=flat(lin.weight), b=flat(lin.bias), out=flat(out),
                out_gelu=flat(torch.nn.functional.gelu(out)))


def attention():
    B, T, C, NH = 3, 6, 64, 2  # hs = 32: the vectorised path
    hs = C // NH
    qkv = torch.randn(B, T, 3 * C)
    mask = torch.ones(B, T)
    mask[1, 4:] = 0  # padded tail
    mask[2, :] = 0  # fully padded sequence (HF gives uniform weights)
    q, k, v = qkv.split(C, dim=-1)

    def heads(x):
        return x.view(B, T, NH, hs).permute(0, 2, 1, 3)

    scores = torch.matmul(heads(q), heads(k).transpose(-1, -2)) / math.sqrt(hs)
    ext = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
    probs = torch.softmax(scores + ext, dim=-1)
    ctx = torch.matmul(probs, heads(v)).permute(0, 2, 1, 3).reshape(B, T, C)
    return dict(B=B, T=T, C=C, NH=NH, qkv=flat(qkv), mask=flat(mask), out=flat(ctx), att=flat(probs))


def attention_small_heads():
    B, T, C, NH = 2, 5, 12, 3  # hs = 4: the generic path
    hs = C // NH
    qkv = torch.randn(B, T, 3 * C)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float32)
    q, k, v = qkv.split(C, dim=-1)

    def heads(x):
        return x.view(B, T, NH, hs).permute(0, 2, 1, 3)

    scores = torch.matmul(heads(q), heads(k).transpose(-1, -2)) / math.sqrt(hs)
    ext = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
    probs = torch.softmax(scores + ext, dim=-1)
    ctx = torch.matmul(probs, heads(v)).permute(0, 2, 1, 3).reshape(B, T, C)
    return dict(B=B, T=T, C=C, NH=NH, qkv=flat(qkv), mask=flat(mask), out=flat(ctx), att=flat(probs))


def pooling():
    B, T, C = 3, 4, 6
    x = torch.randn(B, T, C)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.float32)
    m = mask.unsqueeze(-1).expand(x.size())
    # sentence-transformers mean pooling
    mean = (x * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    l2 = torch.nn.functional.normalize(mean, p=2, dim=1)
    return dict(B=B, T=T, C=C, x=flat(x), mask=flat(mask), mean=flat(mean), l2=flat(l2),
                cls=flat(x[:, 0]), tanh=flat(torch.tanh(x)))


def backward():
    """Autograd gradients for the backward kernels, given a random dout."""
    out = {}
    # LayerNorm
    N, C, eps = 4, 24, 1e-12
    x = (torch.randn(N, C) * 2 + 1).requires_grad_()
    w = torch.randn(C).requires_grad_()
    b = torch.randn(C).requires_grad_()
    y = torch.nn.functional.layer_norm(x, (C,), w, b, eps)
    dy = torch.randn(N, C)
    y.backward(dy)
    out["layernorm"] = dict(N=N, C=C, eps=eps, x=flat(x), w=flat(w), b=flat(b), dout=flat(dy),
                            dx=flat(x.grad), dw=flat(w.grad), db=flat(b.grad))
    # GELU
    x = torch.cat([torch.linspace(-6, 6, 49), torch.randn(31) * 2]).requires_grad_()
    y = torch.nn.functional.gelu(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    out["gelu"] = dict(x=flat(x), dout=flat(dy), dx=flat(x.grad))
    # Linear
    N, C, OC = 5, 16, 7
    x = torch.randn(N, C).requires_grad_()
    lin = torch.nn.Linear(C, OC)
    y = lin(x)
    dy = torch.randn(N, OC)
    y.backward(dy)
    out["linear"] = dict(N=N, C=C, OC=OC, x=flat(x), w=flat(lin.weight), b=flat(lin.bias), dout=flat(dy),
                         dx=flat(x.grad), dw=flat(lin.weight.grad), db=flat(lin.bias.grad))
    # Attention (HF BERT math), hs = 32, a padded tail in sequence 1
    B, T, C, NH = 2, 6, 64, 2
    hs = C // NH
    qkv = torch.randn(B, T, 3 * C).requires_grad_()
    mask = torch.ones(B, T)
    mask[1, 4:] = 0
    q, k, v = qkv.split(C, dim=-1)

    def heads(t):
        return t.reshape(B, T, NH, hs).permute(0, 2, 1, 3)

    scores = torch.matmul(heads(q), heads(k).transpose(-1, -2)) / math.sqrt(hs)
    probs = torch.softmax(scores + (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min, dim=-1)
    ctx = torch.matmul(probs, heads(v)).permute(0, 2, 1, 3).reshape(B, T, C)
    dy = torch.randn(B, T, C)
    ctx.backward(dy)
    out["attention"] = dict(B=B, T=T, C=C, NH=NH, qkv=flat(qkv), mask=flat(mask), dout=flat(dy),
                            dqkv=flat(qkv.grad))
    return out


def main():
    cases = dict(layernorm=layernorm(), gelu=gelu(), linear=linear(), attention=attention(),
                 attention_small_heads=attention_small_heads(), pooling=pooling(),
                 backward=backward(), torch_version=torch.__version__)
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "nn", "testdata", "kernels.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cases, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)
    print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
