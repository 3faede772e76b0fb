"""Checks that folders kormed saved load unchanged in sentence-transformers and transformers.

Usage: put model folders NAME/ and the kormed embeddings NAME.npy of texts.txt
(kormed embed --model NAME --input texts.txt --as passage --output NAME.npy)
in one directory with this script, then run python3 st_load_check.py [NAME ...]
where sentence-transformers is installed (the device machine: torch 2.11,
transformers 5.17, sentence-transformers 6.0.1, tokenizers 0.23). It prints,
per folder, the largest difference between SentenceTransformer(dir).encode and
kormed, and transformers.AutoModel's missing/unexpected weights.
Result of 2026-11-27 (BENCHMARKS.md): max difference 8.9e-8 for the drug
recipe's trained model (XLM-R, Unigram) and a tiny BERT (WordPiece).
"""
import json, sys, os, numpy as np, torch
import sentence_transformers, transformers, tokenizers
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer
print("versions: torch", torch.__version__, "transformers", transformers.__version__, "sentence-transformers", sentence_transformers.__version__, "tokenizers", tokenizers.__version__)
here = os.path.dirname(os.path.abspath(__file__))
texts = [l.rstrip("\n") for l in open(os.path.join(here, "texts.txt"), encoding="utf-8")]
ok = True
names = sys.argv[1:] or ["trained-xlmr", "tiny-bert"]
for name in names:
    d = os.path.join(here, name)
    ref = np.load(os.path.join(here, name + ".npy"))
    st = SentenceTransformer(d, device="cpu")
    emb = st.encode(texts, batch_size=32, convert_to_numpy=True)
    diff = float(np.abs(emb.astype(np.float64) - ref.astype(np.float64)).max())
    cos = float((emb * ref).sum(1).min() / 1.0)
    print(f"{name}: SentenceTransformer loaded, modules {[type(m).__name__ for m in st]}, dim {emb.shape}, max|st - kormed| = {diff:.3e}, min cos {cos:.7f}")
    ok &= diff < 1e-5
    m, info = AutoModel.from_pretrained(d, output_loading_info=True)
    print(f"{name}: AutoModel {type(m).__name__}, missing {info['missing_keys']}, unexpected {info['unexpected_keys']}, mismatched {info['mismatched_keys']}")
    ok &= not info["missing_keys"] and not info["unexpected_keys"]
    tok = AutoTokenizer.from_pretrained(d)
    print(f"{name}: AutoTokenizer {type(tok).__name__}, ids of texts[0]: {tok(texts[0])['input_ids'][:12]}")
print("ALL OK" if ok else "MISMATCH")
