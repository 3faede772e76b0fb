"""Checks kormed's decoder oracle against Hugging Face transformers' LlamaForCausalLM.

Usage (where transformers and safetensors are installed; the device machine):
put the tiny Llama folders written by
    kormed testmodel --shape tiny --std 0.1 --arch llama --seed 1 --out tiny-llama
    kormed testmodel --shape tiny --std 0.1 --arch llama --seed 3 --dtype F16 --tie true \
        --attention-bias --head-dim 8 --layers 3 --out tiny-llama-tied
and the golden fixtures decoder/testdata/tiny-llama*.safetensors copied as fx-<name>.safetensors in
one directory with this script and run python3 decoder_hf_check.py. It compares transformers'
logits and greedy continuation with the fixtures (which kormed's decoder matches to 9.3e-7).
Result of 2026-11-27 (transformers 5.17, torch 2.11): logits within 5.9e-7 and 7.6e-7 of the
oracle relative to their scale, greedy ids identical: the llama3 rope scaling, GQA, tied
embeddings and attention biases agree with transformers. EXAONE 3.x needs LG's remote code
(not vendored): oracle/exaone_remote_check.py takes LG's two files and checks the EXAONE fixture.
"""
import os, sys, torch, transformers
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer
here = os.path.dirname(os.path.abspath(__file__))
print("transformers", transformers.__version__, "torch", torch.__version__)
ok = True
for name in ["tiny-llama", "tiny-llama-tied"]:
    fx = load_file(os.path.join(here, "fx-" + name + ".safetensors"))
    ids = fx["input_ids"].long().view(1, -1)
    m = AutoModelForCausalLM.from_pretrained(os.path.join(here, name), dtype=torch.float32)
    m.eval()
    with torch.no_grad():
        out = m(ids).logits[0].float()
    ref = fx["logits"].float().view(out.shape)
    rel = float((out - ref).abs().max() / ref.abs().max())
    gen = m.generate(ids, max_new_tokens=10, min_new_tokens=10, do_sample=False)[0, ids.shape[1]:].tolist()
    want = fx["generated"].long().view(-1).tolist()
    print(f"{name}: logits max|hf - oracle| / max|oracle| = {rel:.2e}; greedy hf {gen} oracle {want} {'same' if gen == want else 'DIFFERENT'}")
    ok &= rel < 1e-4 and gen == want
    try:
        tok = AutoTokenizer.from_pretrained(os.path.join(here, name))
        print(f"{name}: AutoTokenizer {type(tok).__name__} loads; '열을 내리는 약' -> {tok('열을 내리는 약')['input_ids']}")
    except Exception as e:
        print(f"{name}: AutoTokenizer failed: {e}")
print("LLAMA OK" if ok else "LLAMA MISMATCH")
