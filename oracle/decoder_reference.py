#!/usr/bin/python3
"""PyTorch reference for kormed's decoder (package decoder).

Run with Debian's interpreter (torch 1.13, numpy; no transformers):

    OPENBLAS_CORETYPE=Haswell /usr/bin/python3 oracle/decoder_reference.py --model DIR \
        --ids 1,17,300,... --new N --out GOLDEN.safetensors [--threads 1]

It re-implements, op for op in float32, transformers' LlamaForCausalLM
(modeling_llama.py, eager attention) and EXAONE 3.x's ExaoneForCausalLM
(LG AI's modeling_exaone.py: the same computation under other names; checked against LG's file
by oracle/exaone_remote_check.py):

  embedding   h = embed_tokens[ids]                  (EXAONE: transformer.wte)
  rotary      inv_freq = 1 / theta ** (arange(0, d, 2) / d), then for rope_scaling
              llama3 modeling_rope_utils._compute_llama3_parameters (low/high
              frequency wavelengths of original_max_position_embeddings, smooth
              interpolation between), linear: inv_freq / factor;
              freqs = inv_freq ⊗ positions, emb = cat(freqs, freqs), cos/sin
  layer       x = RMSNorm(h) (float32: x · rsqrt(mean(x²) + eps), times weight)
              q, k, v = Linear(x) (biases with attention_bias), heads of head_dim
              q, k = q·cos + rotate_half(q)·sin, rotate_half(x) = cat(-x2, x1)
              k, v = repeat_kv(k, v, heads / kv_heads)
              w = q kᵀ · head_dim^-0.5 + causal mask (finfo.min above the diagonal)
              softmax(w, float32) v → o_proj (EXAONE out_proj); h = h + that
              h = h + down(silu(gate(RMSNorm(h))) · up(RMSNorm(h)))
              (EXAONE: ln_1, attn.attention.*, ln_2, mlp.c_fc_0 gate, c_fc_1 up, c_proj down)
  head        logits = RMSNorm_final(h) · lm_headᵀ (the embedding when tie_word_embeddings)

Weights are read with oracle/reference.py's safetensors parser (model.safetensors or
the shards of model.safetensors.index.json; F16 and BF16 widened to float32, as
from_pretrained loads them by default). The greedy continuation recomputes the
whole sequence for every new token (no KV cache), argmax as torch.argmax.

The output is a safetensors file with
  input_ids           [T] I64 the prompt
  logits              [T,V] F32 every prompt position's logits
  hidden_states.{0..L}[T,C] F32 (0 = embedding output, L = after the final norm)
  generated           [N] I64 the greedy continuation of the prompt
  generated_logits    [N,V] F32 the logits each greedy token was chosen from
and __metadata__ {"model_type", "min_margin": the smallest top-1 minus top-2 logit
over the greedy steps}.
"""

import argparse
import importlib.util
import json
import math
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def _reference():
    spec = importlib.util.spec_from_file_location("kormed_reference", os.path.join(HERE, "reference.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


REF = _reference()

NAMES = {
    "llama": dict(embed="model.embed_tokens.weight", norm="model.norm.weight", layer="model.layers.{}.",
                  ln1="input_layernorm", ln2="post_attention_layernorm", q="self_attn.q_proj", k="self_attn.k_proj",
                  v="self_attn.v_proj", o="self_attn.o_proj", gate="mlp.gate_proj", up="mlp.up_proj",
                  down="mlp.down_proj"),
    "exaone": dict(embed="transformer.wte.weight", norm="transformer.ln_f.weight", layer="transformer.h.{}.",
                   ln1="ln_1", ln2="ln_2", q="attn.attention.q_proj", k="attn.attention.k_proj",
                   v="attn.attention.v_proj", o="attn.attention.out_proj", gate="mlp.c_fc_0", up="mlp.c_fc_1",
                   down="mlp.c_proj"),
}


class Config:
    def __init__(self, d):
        self.model_type = d["model_type"]
        self.hidden_size = d["hidden_size"]
        self.intermediate_size = d.get("intermediate_size", 11008)
        self.num_attention_heads = d["num_attention_heads"]
        self.num_key_value_heads = d.get("num_key_value_heads") or self.num_attention_heads
        self.head_dim = d.get("head_dim") or self.hidden_size // self.num_attention_heads
        self.vocab_size = d["vocab_size"]
        self.rope_theta = d.get("rope_theta", 10000.0)
        self.rope_scaling = d.get("rope_scaling")
        if self.model_type == "llama":
            self.num_layers = d["num_hidden_layers"]
            self.eps = d.get("rms_norm_eps", 1e-6)
            self.attention_bias = d.get("attention_bias", False)
            self.mlp_bias = d.get("mlp_bias", False)
            self.tie = d.get("tie_word_embeddings", False)
        elif self.model_type == "exaone":
            # LG's ExaoneConfig / modeling_exaone.py: num_hidden_layers aliases num_layers, a falsy
            # intermediate_size is 4·hidden, tie_word_embeddings defaults to True, the head size is
            # hidden_size // num_attention_heads, and no projection has a bias.
            self.num_layers = d.get("num_layers", d.get("num_hidden_layers", 32))
            self.intermediate_size = d.get("intermediate_size") or 4 * self.hidden_size
            self.eps = d.get("layer_norm_epsilon", 1e-5)
            self.attention_bias = self.mlp_bias = False
            self.tie = d.get("tie_word_embeddings", True)
            if self.head_dim * self.num_attention_heads != self.hidden_size:
                raise SystemExit("exaone: head_dim %d × %d heads != hidden_size %d" % (
                    self.head_dim, self.num_attention_heads, self.hidden_size))
        else:
            raise SystemExit("model_type %r: want llama or exaone" % self.model_type)


def inv_freq_of(c):
    """ROPE_INIT_FUNCTIONS: default, linear, llama3 (_compute_llama3_parameters)."""
    dim = c.head_dim
    inv_freq = 1.0 / (c.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = c.rope_scaling
    if not rs:
        return inv_freq
    typ = rs.get("rope_type", rs.get("type"))
    if typ in (None, "default"):
        return inv_freq
    if typ == "linear":
        return inv_freq / rs["factor"]
    if typ != "llama3":
        raise SystemExit("rope_scaling %r unsupported" % typ)
    factor = rs["factor"]
    low_freq_factor = rs["low_freq_factor"]
    high_freq_factor = rs["high_freq_factor"]
    old_context_len = rs["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def rms_norm(x, w, eps):
    x = x.to(torch.float32)
    variance = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(variance + eps)
    return w * x


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, nkv, t, hd = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, nkv, n_rep, t, hd).reshape(b, nkv * n_rep, t, hd)


def linear(x, W, p, bias):
    y = torch.matmul(x, W[p + ".weight"].t())
    if bias:
        y = y + W[p + ".bias"]
    return y


def forward(c, W, ids):
    """Returns the logits [T,V] and the hidden states [L+1][T,C] of one sequence."""
    n = NAMES[c.model_type]
    T = len(ids)
    NH, NKV, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
    h = W[n["embed"]][torch.tensor(ids)][None]  # [1,T,C]
    inv_freq = inv_freq_of(c)
    pos = torch.arange(T)[None]
    freqs = (inv_freq[None, :, None].float() @ pos[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # [1,1,T,hd]
    mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)[None, None]
    hidden = [h[0]]
    for layer in range(c.num_layers):
        p = n["layer"].format(layer)
        res = h
        x = rms_norm(h, W[p + n["ln1"] + ".weight"], c.eps)
        q = linear(x, W, p + n["q"], c.attention_bias).view(1, T, NH, hd).transpose(1, 2)
        k = linear(x, W, p + n["k"], c.attention_bias).view(1, T, NKV, hd).transpose(1, 2)
        v = linear(x, W, p + n["v"], c.attention_bias).view(1, T, NKV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, NH // NKV), repeat_kv(v, NH // NKV)
        w = torch.matmul(q, k.transpose(2, 3)) * hd ** -0.5 + mask
        w = torch.softmax(w, dim=-1, dtype=torch.float32)
        a = torch.matmul(w, v).transpose(1, 2).reshape(1, T, NH * hd)
        h = res + linear(a, W, p + n["o"], c.attention_bias)
        res = h
        x = rms_norm(h, W[p + n["ln2"] + ".weight"], c.eps)
        g = torch.nn.functional.silu(linear(x, W, p + n["gate"], c.mlp_bias))
        h = res + linear(g * linear(x, W, p + n["up"], c.mlp_bias), W, p + n["down"], c.mlp_bias)
        hidden.append(h[0])
    h = rms_norm(h, W[n["norm"]], c.eps)
    hidden[-1] = h[0]
    head = W[n["embed"]] if c.tie else W["lm_head.weight"]
    return torch.matmul(h, head.t())[0], hidden


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, help="comma-separated prompt token ids")
    ap.add_argument("--new", type=int, default=8, help="greedy tokens to generate")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "config.json")) as f:
        c = Config(json.load(f))
    W = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in REF.read_weights(args.model).items()}
    ids = [int(x) for x in args.ids.split(",")]
    with torch.no_grad():
        logits, hidden = forward(c, W, ids)
        seq, gen, gen_logits, margin = list(ids), [], [], float("inf")
        for _ in range(args.new):
            last = forward(c, W, seq)[0][-1]
            top = torch.topk(last, 2).values
            margin = min(margin, float(top[0] - top[1]))
            nxt = int(torch.argmax(last))
            gen.append(nxt)
            gen_logits.append(last.numpy())
            seq.append(nxt)
    tensors = [("input_ids", np.array(ids, dtype=np.int64)), ("logits", logits.numpy()),
               ("generated", np.array(gen, dtype=np.int64))]
    if gen_logits:
        tensors.append(("generated_logits", np.stack(gen_logits)))
    tensors += [("hidden_states.%d" % i, x.numpy()) for i, x in enumerate(hidden)]
    REF.write_safetensors(args.out, tensors, {"model_type": c.model_type, "min_margin": "%.6g" % margin})
    print("%s: T=%d, logits max |x| %.4g, greedy %s (min top-2 margin %.4g)" % (
        args.out, len(ids), float(logits.abs().max()), gen, margin))


if __name__ == "__main__":
    main()
