"""Checks kormed's EXAONE 3.x decoder against LG AI Research's own modeling code.

NOT RUN YET. It needs torch, transformers and safetensors, which the development machine lacks
(its Debian python has torch 1.13 but no transformers), and LG's two remote-code files, which are
not in this repository: the Hub repositories ship them under the EXAONE AI Model License
Agreement, whose terms for the code are unclear, so they are not vendored. Fetch them where there is
internet, e.g.

    huggingface-cli download LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct \
        modeling_exaone.py configuration_exaone.py --local-dir lg-exaone

(or from LGAI-EXAONE/EXAONE-3.0-7.8B-Instruct; both are worth a run), then, from the repository
root, write the models (deterministic in their seeds; no internet needed from here on):

    go build -o /tmp/kormed ./cmd/kormed && K=/tmp/kormed && W=/tmp/exaone-check
    $K testmodel --shape tiny --std 0.1 --arch exaone --seed 2 --dtype BF16 --shards 2 --out $W/tiny-exaone
    $K testmodel --shape tiny --std 0.1 --arch exaone --seed 4 --tie true --layers 3 --out $W/tiny-exaone-tied
    $K testmodel --shape exaone-2.4b --arch exaone --seed 7 --layers 2 --dtype BF16 --out $W/exaone-2.4b-2l  # optional, 1 GB
    python3 oracle/exaone_remote_check.py --code lg-exaone --fixture-model $W/tiny-exaone \
        --extra $W/tiny-exaone-tied $W/exaone-2.4b-2l

What it checks, with LG's ExaoneConfig / ExaoneForCausalLM imported from --code (as a package, the
way trust_remote_code imports them; eager attention, float32):

  1. ExaoneConfig() defaults equal the ones decoder.ParseConfig assumes for a key config.json leaves
     out (hidden_size 2048, num_attention_heads 32, num_key_value_heads = heads, num_layers 32,
     intermediate_size 4·hidden, vocab_size 102400, layer_norm_epsilon 1e-5, rope_theta 10000,
     rope_scaling None, max_position_embeddings 2048, bos 0, eos 2, tie_word_embeddings True,
     activation_function silu) — decoder/exaone_test.go's TestExaoneConfigDefaults.
  2. LG's rotary inv_freq (ExaoneRotaryEmbedding → transformers' ROPE_INIT_FUNCTIONS) for
     EXAONE-3.5-2.4B's config and for each model equals, bit for bit, the float32 values
     decoder/exaone_test.go pins (invFreqExaone35, invFreqTiny) and oracle/decoder_reference.py's.
  3. Every checkpoint tensor name is one of LG's parameters and every LG parameter is in the
     checkpoint (lm_head.weight excepted when tied; the LM head must then share wte's storage).
  4. --fixture-model (tiny-exaone, seed 2): LG's logits and hidden states (output_hidden_states:
     embedding, each block's output, the final-norm output) against decoder/testdata/
     tiny-exaone.safetensors — the fixture kormed's decoder is tested against — within 1e-4 of
     their scale (expected: about 1e-6), and the 10-token greedy continuation (full recompute per
     token, as the fixture was made) identical; model.generate() (LG's KV-cache path) too, when
     this transformers version can still run LG's cache code (reported, not fatal, if it raises).
  5. Each --extra model against oracle/decoder_reference.py run here on the same weights: logits
     within 1e-4 of their scale, identical greedy ids.

LG wrote its files for transformers 4.43–4.4x. Under transformers ≥ 5, whose ROPE_INIT_FUNCTIONS
has no "default" entry, the script adds one (_compute_default_rope_parameters) and says so; other
incompatibilities show as an exception, and the transformers version is printed first.
"""

import argparse
import importlib
import importlib.util
import json
import math
import os
import shutil
import struct
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4

# decoder/exaone_test.go's pinned values (transformers' formulas in float32, torch 1.13).
INV_FREQ_EXAONE35 = [
    0x3f800000, 0x3f353bef, 0x3f004dce, 0x3eb5aa1a, 0x3e809bcc, 0x3e361887, 0x3e00e9f9, 0x3db68738,
    0x3d813856, 0x3d36f62d, 0x3d0186e3, 0x3cb76562, 0x3c81d59d, 0x3c37d4e0, 0x3c02248b, 0x3bb8449c,
    0x3b8273a6, 0x3b272ce7, 0x3a9ad7b8, 0x3a092fae, 0x395ffbd9, 0x38b99574, 0x38836219, 0x383a0641,
    0x3803b1f5, 0x37ba7753, 0x37840208, 0x373ae8a9, 0x37045245, 0x36bb5a45, 0x3684a2b2, 0x363bcc30,
    0x3604f351, 0x35bc3e56, 0x35854420, 0x353cb0c1, 0x35059528, 0x34bd2372, 0x3485e65a, 0x343d9668,
]
INV_FREQ_TINY = [0x3f800000, 0x3dc447c0, 0x3c4ccccd, 0x3b8186e3, 0x3aa3d70a, 0x39cf3e38, 0x3903126f, 0x3825cb60]

# EXAONE-3.5-2.4B-Instruct's architecture keys (testmodel's exaone-2.4b shape; decoder_test.go's exaone24B).
EXAONE35_24B = dict(
    activation_function="silu", bos_token_id=1, eos_token_id=361, hidden_size=2560, intermediate_size=7168,
    layer_norm_epsilon=1e-5, max_position_embeddings=32768, num_attention_heads=32, num_key_value_heads=8,
    num_layers=30, pad_token_id=0, rope_theta=1000000.0, tie_word_embeddings=True, vocab_size=102400,
    rope_scaling={"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"})

# What decoder.ParseConfig assumes for keys config.json leaves out (decoder/config.go).
KORMED_DEFAULTS = dict(
    hidden_size=2048, num_attention_heads=32, num_key_value_heads=32, num_layers=32, intermediate_size=8192,
    vocab_size=102400, layer_norm_epsilon=1e-5, rope_theta=10000.0, rope_scaling=None,
    max_position_embeddings=2048, bos_token_id=0, eos_token_id=2, tie_word_embeddings=True,
    activation_function="silu")


def bits(t):
    return [struct.unpack("<I", struct.pack("<f", float(x)))[0] for x in t.float().flatten()]


def rel(a, b):
    """max |a-b| over the scale of b (its largest magnitude, at least 1), as decoder's relDiff."""
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / max(1.0, float(b.abs().max())))


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def import_lg(code_dir):
    """Imports LG's files as the package lg_exaone (modeling_exaone does `from .configuration_exaone import`)."""
    import transformers.modeling_rope_utils as mru
    if "default" not in mru.ROPE_INIT_FUNCTIONS:
        mru.ROPE_INIT_FUNCTIONS["default"] = mru._compute_default_rope_parameters
        print("note: this transformers has no ROPE_INIT_FUNCTIONS['default']; added _compute_default_rope_parameters")
    pkg = tempfile.mkdtemp(prefix="lg-exaone-")
    os.makedirs(os.path.join(pkg, "lg_exaone"))
    open(os.path.join(pkg, "lg_exaone", "__init__.py"), "w").close()
    for f in ("configuration_exaone.py", "modeling_exaone.py"):
        src = os.path.join(code_dir, f)
        if not os.path.exists(src):
            raise SystemExit("%s: missing (LG's %s from the EXAONE Hub repository)" % (src, f))
        shutil.copy(src, os.path.join(pkg, "lg_exaone", f))
    sys.path.insert(0, pkg)
    cfg_mod = importlib.import_module("lg_exaone.configuration_exaone")
    mdl_mod = importlib.import_module("lg_exaone.modeling_exaone")
    return cfg_mod, mdl_mod


def eager(cfg):
    try:
        cfg._attn_implementation = "eager"
    except Exception:
        cfg._attn_implementation_internal = "eager"
    return cfg


def read_checkpoint(d):
    from safetensors.torch import load_file
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    sd = {}
    for f in files:
        sd.update({k: v.float() for k, v in load_file(os.path.join(d, f)).items()})
    return sd


def load_lg_model(lg_cfg, lg_mdl, d):
    """LG's ExaoneForCausalLM with d's weights (float32, eager); returns (model, problems)."""
    cfg = eager(lg_cfg.ExaoneConfig.from_pretrained(d))  # what AutoConfig does with auto_map
    torch.manual_seed(0)
    model = lg_mdl.ExaoneForCausalLM(cfg).float().eval()
    sd = read_checkpoint(d)
    res = model.load_state_dict(sd, strict=False)
    missing = [k for k in res.missing_keys if not (k == "lm_head.weight" and cfg.tie_word_embeddings)]
    problems = []
    if missing:
        problems.append("LG parameters not in the checkpoint: %s" % missing)
    if res.unexpected_keys:
        problems.append("checkpoint tensors LG does not have: %s" % res.unexpected_keys)
    if cfg.tie_word_embeddings:
        model.tie_weights()
        if model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr():
            problems.append("tie_word_embeddings but lm_head does not share wte's storage")
    return model, cfg, problems


def inv_freq(module):
    """The inv_freq buffer of the first rotary module under module (LG keeps one per attention too)."""
    return next(m.inv_freq for m in module.modules() if isinstance(getattr(m, "inv_freq", None), torch.Tensor))


def greedy(model, ids, n):
    seq = list(ids)
    for _ in range(n):
        with torch.no_grad():
            last = model(input_ids=torch.tensor([seq]), use_cache=False).logits[0, -1]
        seq.append(int(torch.argmax(last)))
    return seq[len(ids):]


def check_defaults(lg_cfg):
    c = lg_cfg.ExaoneConfig()
    ok = True
    for k, want in KORMED_DEFAULTS.items():
        got = getattr(c, k, "<absent>")
        if k == "eos_token_id" and isinstance(got, list) and len(got) == 1:
            got = got[0]
        same = got == want or (isinstance(want, float) and isinstance(got, (int, float)) and math.isclose(got, want))
        print("  default %-24s LG %-10r kormed %-10r %s" % (k, got, want, "" if same else "DIFFERS"))
        ok &= same
    c3 = lg_cfg.ExaoneConfig(num_hidden_layers=3)
    print("  ExaoneConfig(num_hidden_layers=3).num_layers = %r (kormed reads num_hidden_layers when num_layers is absent)"
          % getattr(c3, "num_layers", None))
    return ok


def check_inv_freq(name, got, want_bits, ref):
    g = bits(got)
    ok = True
    if want_bits is not None:
        same = g == want_bits
        print("  %s inv_freq vs decoder/exaone_test.go: %s" % (name, "identical" if same else "DIFFERENT %s" % g))
        ok &= same
    same = g == bits(ref)
    print("  %s inv_freq vs decoder_reference.py: %s" % (name, "identical" if same else "DIFFERENT"))
    return ok and same


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--code", required=True, help="folder with LG's modeling_exaone.py and configuration_exaone.py")
    ap.add_argument("--fixture-model", help="the tiny-exaone folder (testmodel seed 2, BF16, 2 shards)")
    ap.add_argument("--fixture", default=os.path.join(HERE, "..", "decoder", "testdata", "tiny-exaone.safetensors"))
    ap.add_argument("--extra", nargs="*", default=[], help="more exaone folders, compared with decoder_reference.py")
    args = ap.parse_args()

    import transformers
    print("transformers", transformers.__version__, "torch", torch.__version__)
    torch.set_grad_enabled(False)
    dref = load_module(os.path.join(HERE, "decoder_reference.py"), "kormed_decoder_reference")
    lg_cfg, lg_mdl = import_lg(args.code)
    ok = True

    print("1. ExaoneConfig defaults")
    ok &= check_defaults(lg_cfg)

    print("2. rotary inverse frequencies")
    c24 = eager(lg_cfg.ExaoneConfig(**EXAONE35_24B))
    try:
        rot = lg_mdl.ExaoneRotaryEmbedding(c24)
    except TypeError as e:  # EXAONE-3.0's first modeling_exaone.py built it from (dim, base, …)
        print("  EXAONE-3.5-2.4B inv_freq: ExaoneRotaryEmbedding(config) failed (%s); NOT CHECKED" % e)
    else:
        ok &= check_inv_freq("EXAONE-3.5-2.4B", inv_freq(rot), INV_FREQ_EXAONE35,
                             dref.inv_freq_of(dref.Config(dict(EXAONE35_24B, model_type="exaone"))))
        if getattr(rot, "attention_scaling", 1.0) != 1.0:
            print("  attention_scaling %r, kormed assumes 1" % rot.attention_scaling)
            ok = False

    models = ([(args.fixture_model, True)] if args.fixture_model else []) + [(d, False) for d in args.extra]
    for d, is_fixture in models:
        name = os.path.basename(os.path.normpath(d))
        print("%s (%s)" % (name, "vs the checked-in fixture" if is_fixture else "vs decoder_reference.py"))
        model, cfg, problems = load_lg_model(lg_cfg, lg_mdl, d)
        print("3. names:", "; ".join(problems) if problems else "every tensor is an LG parameter and vice versa")
        ok &= not problems
        with open(os.path.join(d, "config.json")) as f:
            kc = dref.Config(json.load(f))
        ok &= check_inv_freq(name, inv_freq(model),
                             INV_FREQ_TINY if kc.head_dim == 16 and kc.rope_theta == 10000.0 else None, dref.inv_freq_of(kc))
        if is_fixture:
            from safetensors.torch import load_file
            fx = load_file(args.fixture)
            ids = [int(x) for x in fx["input_ids"]]
            out = model(input_ids=torch.tensor([ids]), use_cache=False, output_hidden_states=True, return_dict=True)
            logits, hidden = out.logits[0].float(), [h[0].float() for h in out.hidden_states]
            r = rel(logits, fx["logits"].float())
            hs = [rel(h, fx["hidden_states.%d" % i].float()) for i, h in enumerate(hidden)]
            print("4. logits max|LG - fixture| / scale = %.2e; hidden states %s" % (r, " ".join("%.1e" % x for x in hs)))
            ok &= r < TOL and len(hs) == cfg.num_layers + 1 and max(hs) < TOL
            want = [int(x) for x in fx["generated"]]
            gen = greedy(model, ids, len(want))
            print("   greedy (recompute) LG %s fixture %s %s" % (gen, want, "same" if gen == want else "DIFFERENT"))
            ok &= gen == want
            try:
                g2 = model.generate(torch.tensor([ids]), max_new_tokens=len(want), min_new_tokens=len(want),
                                    do_sample=False)[0, len(ids):].tolist()
                print("   generate() (LG's KV cache) %s %s" % (g2, "same" if g2 == want else "DIFFERENT"))
                ok &= g2 == want
            except Exception as e:  # LG's cache code vs this transformers version
                print("   generate() raised %s: %s (not counted)" % (type(e).__name__, e))
        else:
            W = read_checkpoint(d)
            ids = [1, 17, 300, 45, 99, 7, 256, 480, 33, 12, 5, 400, 77, 301, 2, 150]
            ids = [i % kc.vocab_size for i in ids]
            ref_logits, _ = dref.forward(kc, W, ids)
            lg_logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float()
            r = rel(lg_logits, ref_logits)
            print("5. logits max|LG - decoder_reference| / scale = %.2e" % r)
            ok &= r < TOL
            gen = greedy(model, ids, 6)
            seq = list(ids)
            for _ in range(6):
                seq.append(int(torch.argmax(dref.forward(kc, W, seq)[0][-1])))
            print("   greedy LG %s reference %s %s" % (gen, seq[len(ids):], "same" if gen == seq[len(ids):] else "DIFFERENT"))
            ok &= gen == seq[len(ids):]
    print("EXAONE OK" if ok else "EXAONE MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
