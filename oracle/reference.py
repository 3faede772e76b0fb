#!/usr/bin/python3
"""PyTorch reference for kormed's encoder (package model).

Run with Debian's interpreter (torch 1.13, numpy, sentencepiece; no transformers):

    /usr/bin/python3 oracle/reference.py --model DIR --texts TEXTS.json --out FIXTURE.safetensors \
        [--max-length N] [--sp-model sp.model] [--ids IDS.json] [--check-layout]

It re-implements, op for op, transformers' modeling_bert.BertModel and
modeling_xlm_roberta.XLMRobertaModel in eval mode:

  embeddings  word[ids] + token_type[tt] + position[pos], LayerNorm(eps), (dropout off)
              pos = 0..T-1 for BERT; for (XLM-)RoBERTa create_position_ids_from_input_ids:
              cumsum(ids != pad) * (ids != pad) + pad
  layer       self-attention: q,k,v = Linear; scores = q kᵀ / sqrt(head) + ext_mask,
              ext_mask = (1 - mask) * finfo(float32).min; softmax; probs v
              attention.output: LayerNorm(dense(ctx) + x)
              intermediate: gelu(dense(.)) with the exact erf gelu
              output: LayerNorm(dense(.) + attention_output)
  pooler      tanh(dense(h[:, 0]))
and sentence-transformers' Pooling (mean: sum(h·mask)/clamp(sum(mask), 1e-9); cls: h[:, 0])
and Normalize (F.normalize, p=2).

Weights are read from model.safetensors (or the shards of
model.safetensors.index.json) by parsing the format here, without the
safetensors package. Token ids come from the reference tokenizers, not from
kormed: sentencepiece (the --sp-model file, fairseq +1 offset, <s> … </s>)
for a Unigram tokenizer.json, oracle/tokenizers.py's re-implementation of
google-research/bert's BasicTokenizer + WordpieceTokenizer for a WordPiece
one; or they are read from --ids (a JSON list of id lists).

The output is a safetensors file with
  input_ids, attention_mask, token_type_ids   [B,T] I64 (right-padded)
  hidden_states.{0..L}                        [B,T,C] F32 (0 = embedding output)
  pooled_mean, pooled_cls                     [B,C] F32
  pooler_output                               [B,C] F32 (when the checkpoint has a pooler)
  embedding                                   [B,C] F32 (the model's sentence-transformers recipe)
and __metadata__ {"texts": JSON list, "max_length", "pooling", "normalize"}.

--check-layout first checks that --model is a complete sentence-transformers folder as
kormed's model.Save writes it and SentenceTransformer / AutoModel / AutoTokenizer read it
(check_layout: config.json architecture and dtype, the exact BertModel state_dict names and
shapes in F32, tokenizer_config.json class and special tokens against tokenizer.json,
special_tokens_map.json, modules.json, 1_Pooling/config.json keys, sentence_bert_config.json,
config_sentence_transformers.json, README.md) and exits 1 listing the problems.
"""

import argparse
import importlib.util
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ---------------------------------------------------------------- safetensors

_NP = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I8": "i1", "U8": "u1",
       "BOOL": "u1"}


def read_safetensors(path):
    """Returns {name: np.ndarray} (BF16 widened to float32) and the metadata."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        buf = bytes(data[b:e])
        shape = tuple(h["shape"])
        if h["dtype"] == "BF16":
            u = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=_NP[h["dtype"]])
        out[name] = arr.reshape(shape)
    return out, meta


def read_weights(d):
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)[0]
    with open(os.path.join(d, "model.safetensors.index.json")) as f:
        idx = json.load(f)
    out = {}
    for shard in sorted(set(idx["weight_map"].values())):
        out.update(read_safetensors(os.path.join(d, shard))[0])
    return out


def write_safetensors(path, tensors, meta):
    """tensors: list of (name, np.ndarray); written in name order, 8-byte aligned header."""
    dt = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}
    header, blobs, off = {}, [], 0
    for name, arr in sorted(tensors, key=lambda x: x[0]):
        arr = np.ascontiguousarray(arr)
        b = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt[arr.dtype], "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = meta
    hb = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# ---------------------------------------------------------------- tokenizers

def _load_tokenizer_oracle():
    spec = importlib.util.spec_from_file_location("kormed_oracle_tokenizers", os.path.join(HERE, "tokenizers.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class RefTokenizer:
    def __init__(self, tokenizer_json, sp_model):
        with open(tokenizer_json, encoding="utf-8") as f:
            tj = json.load(f)
        self.kind = tj["model"]["type"]
        if self.kind == "Unigram":
            import sentencepiece as spm
            self.sp = spm.SentencePieceProcessor(model_file=sp_model)
            vocab = tj["model"]["vocab"]
            # The tokenizer.json must be the fairseq conversion of this sp model.
            for i in range(3, min(self.sp.get_piece_size(), 200)):
                assert vocab[i + 1][0] == self.sp.id_to_piece(i), (i, vocab[i + 1][0], self.sp.id_to_piece(i))
            self.cls, self.sep, self.pad, self.unk = 0, 2, 1, 3
        elif self.kind == "WordPiece":
            self.mod = _load_tokenizer_oracle()
            self.vocab = tj["model"]["vocab"]
            norm = tj.get("normalizer") or {}
            self.lower = bool(norm.get("lowercase", False))
            self.cls, self.sep, self.pad = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[PAD]"]
        else:
            raise SystemExit(f"{tokenizer_json}: tokenizer model {self.kind} not handled by the oracle")

    def encode(self, text, max_length):
        if self.kind == "Unigram":
            ids = [self.unk if i == self.sp.unk_id() else i + 1 for i in self.sp.encode(text, out_type=int)]
        else:
            toks = []
            for w in self.mod.basic_tokenize(text, self.lower):
                toks.extend(self.mod.wordpiece(w, self.vocab))
            ids = [self.vocab[t] for t in toks]
        return [self.cls] + ids[:max_length - 2] + [self.sep]


# ---------------------------------------------------------------- model

def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def find_prefix(names):
    key = "embeddings.word_embeddings.weight"
    cands = sorted((n[:-len(key)] for n in names if n.endswith(key)), key=len)
    return cands[0]


class Reference:
    def __init__(self, d):
        self.cfg = read_json(os.path.join(d, "config.json"))
        w = read_weights(d)
        self.prefix = find_prefix(w.keys())
        self.w = {k[len(self.prefix):]: torch.from_numpy(np.array(v, dtype=np.float32))
                  for k, v in w.items() if k.startswith(self.prefix) and v.dtype.kind == "f"}
        c = self.cfg
        self.eps = c.get("layer_norm_eps", 1e-12)
        self.roberta = c["model_type"] in ("xlm-roberta", "roberta")
        self.pad = c.get("pad_token_id", 0)
        assert c.get("hidden_act", "gelu") == "gelu"

    def lin(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def ln(self, x, name):
        w = self.w[name + ".weight"]  # its shape, not x's, so ONNX export sees a constant
        return F.layer_norm(x, w.shape, w, self.w[name + ".bias"], self.eps)

    @torch.no_grad()
    def forward(self, ids, mask, tt):
        c = self.cfg
        B, T = ids.shape
        if self.roberta:
            m = ids.ne(self.pad).int()
            pos = (torch.cumsum(m, dim=1).type_as(m) * m).long() + self.pad
        else:
            pos = torch.arange(T, dtype=torch.long).unsqueeze(0).expand(B, T)
        emb = self.w["embeddings.word_embeddings.weight"][ids]
        emb = emb + self.w["embeddings.token_type_embeddings.weight"][tt]
        emb = emb + self.w["embeddings.position_embeddings.weight"][pos]
        h = self.ln(emb, "embeddings.LayerNorm")
        hidden = [h]
        NH = c["num_attention_heads"]
        hs = c["hidden_size"] // NH
        ext = (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min

        def heads(x):
            return x.view(B, T, NH, hs).permute(0, 2, 1, 3)

        for l in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{l}."
            q = heads(self.lin(h, p + "attention.self.query"))
            k = heads(self.lin(h, p + "attention.self.key"))
            v = heads(self.lin(h, p + "attention.self.value"))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hs)
            scores = scores + ext
            probs = torch.softmax(scores, dim=-1)
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous().view(B, T, NH * hs)
            a = self.ln(self.lin(ctx, p + "attention.output.dense") + h, p + "attention.output.LayerNorm")
            i = F.gelu(self.lin(a, p + "intermediate.dense"))
            h = self.ln(self.lin(i, p + "output.dense") + a, p + "output.LayerNorm")
            hidden.append(h)
        pooler = None
        if "pooler.dense.weight" in self.w:
            pooler = torch.tanh(self.lin(h[:, 0], "pooler.dense"))
        return hidden, pooler


def st_recipe(d):
    """(pooling, normalize) from the sentence-transformers modules; (mean, False) without them."""
    mp = os.path.join(d, "modules.json")
    if not os.path.exists(mp):
        return "mean", False
    pooling, normalize = "mean", False
    for m in read_json(mp):
        t = m["type"].rsplit(".", 1)[-1]
        if t == "Pooling":
            pc = read_json(os.path.join(d, m["path"], "config.json"))
            pooling = "cls" if pc.get("pooling_mode_cls_token") else "mean"
        elif t == "Normalize":
            normalize = True
    return pooling, normalize



# ---------------------------------------------------------------- layout check

# sentence_transformers.models.Pooling.config_keys and the keys
# Transformer.load reads from sentence_bert_config.json.
ST_POOLING_KEYS = ["word_embedding_dimension", "pooling_mode_cls_token", "pooling_mode_mean_tokens",
                   "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                   "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken", "include_prompt"]
ST_TRANSFORMER_KEYS = {"max_seq_length", "do_lower_case", "model_args", "tokenizer_args", "config_args"}
ST_MODULE_TYPES = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                   "sentence_transformers.models.Normalize"}
ARCH = {"bert": "BertModel", "xlm-roberta": "XLMRobertaModel", "roberta": "RobertaModel"}
TOKENIZER_CLASS = {"Unigram": "XLMRobertaTokenizer", "WordPiece": "BertTokenizer"}


def expected_state_dict(c):
    """{name: shape} of the persistent tensors transformers' BertModel /
    XLMRobertaModel.state_dict() holds for config c (position_ids is a
    non-persistent buffer), without the optional pooler."""
    C, F, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    sd = {"embeddings.word_embeddings.weight": (c["vocab_size"], C),
          "embeddings.position_embeddings.weight": (c["max_position_embeddings"], C),
          "embeddings.token_type_embeddings.weight": (c.get("type_vocab_size", 2), C),
          "embeddings.LayerNorm.weight": (C,), "embeddings.LayerNorm.bias": (C,)}
    for l in range(L):
        p = f"encoder.layer.{l}."
        for n in ("query", "key", "value"):
            sd[p + f"attention.self.{n}.weight"] = (C, C)
            sd[p + f"attention.self.{n}.bias"] = (C,)
        sd.update({p + "attention.output.dense.weight": (C, C), p + "attention.output.dense.bias": (C,),
                   p + "attention.output.LayerNorm.weight": (C,), p + "attention.output.LayerNorm.bias": (C,),
                   p + "intermediate.dense.weight": (F, C), p + "intermediate.dense.bias": (F,),
                   p + "output.dense.weight": (C, F), p + "output.dense.bias": (C,),
                   p + "output.LayerNorm.weight": (C,), p + "output.LayerNorm.bias": (C,)})
    return sd


def check_layout(d):
    """Checks that folder d is a sentence-transformers model as
    SentenceTransformer(d) and transformers' AutoModel / AutoTokenizer load
    it: the files, their keys and values, the weight names and shapes.
    Returns the list of problems (empty when the layout is right)."""
    errs = []

    def need(cond, msg):
        if not cond:
            errs.append(msg)

    c = read_json(os.path.join(d, "config.json"))
    mt = c.get("model_type")
    need(mt in ARCH, f"config.json: model_type {mt!r}")
    need(c.get("architectures") == [ARCH.get(mt)], f"config.json: architectures {c.get('architectures')!r} for {mt!r}")
    for k in ("torch_dtype", "dtype"):
        need(c.get(k, "float32") == "float32", f"config.json: {k} {c.get(k)!r}")
    for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
              "max_position_embeddings", "pad_token_id", "layer_norm_eps", "hidden_act"):
        need(k in c, f"config.json: {k} missing")
    if errs:
        return errs

    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    need(header.pop("__metadata__", None) == {"format": "pt"}, "model.safetensors: metadata is not {\"format\": \"pt\"}")
    want = expected_state_dict(c)
    C = c["hidden_size"]
    if "pooler.dense.weight" in header or "pooler.dense.bias" in header:
        want.update({"pooler.dense.weight": (C, C), "pooler.dense.bias": (C,)})
    got = {k: tuple(h["shape"]) for k, h in header.items()}
    need(set(got) == set(want), "model.safetensors: names differ from the state_dict: missing %s, unexpected %s"
         % (sorted(set(want) - set(got))[:5], sorted(set(got) - set(want))[:5]))
    for k in sorted(set(got) & set(want)):
        need(got[k] == want[k], f"model.safetensors: {k} shape {got[k]} want {want[k]}")
        need(header[k]["dtype"] == "F32", f"model.safetensors: {k} dtype {header[k]['dtype']}")

    tj = read_json(os.path.join(d, "tokenizer.json"))
    kind = tj["model"]["type"]
    tc = read_json(os.path.join(d, "tokenizer_config.json"))
    need(tc.get("tokenizer_class") == TOKENIZER_CLASS.get(kind),
         f"tokenizer_config.json: tokenizer_class {tc.get('tokenizer_class')!r} for a {kind} tokenizer.json")
    vocab = {p[0] for p in tj["model"]["vocab"]} if kind == "Unigram" else set(tj["model"]["vocab"])
    vocab |= {a["content"] for a in tj.get("added_tokens", [])}
    roles = ("bos_token", "eos_token", "unk_token", "sep_token", "cls_token", "pad_token", "mask_token")
    for r in roles:
        if r in tc:
            need(tc[r] in vocab, f"tokenizer_config.json: {r} {tc[r]!r} not in the vocabulary")
    for r in ("unk_token", "cls_token", "sep_token", "pad_token"):
        need(r in tc, f"tokenizer_config.json: {r} missing")
    need(isinstance(tc.get("model_max_length"), int), "tokenizer_config.json: model_max_length not an integer")
    dec = {int(k): v for k, v in tc.get("added_tokens_decoder", {}).items()}
    for a in tj.get("added_tokens", []):
        e = dec.get(a["id"])
        need(e is not None and all(e[k] == a[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")),
             f"tokenizer_config.json: added_tokens_decoder[{a['id']}] {e!r} differs from tokenizer.json's {a!r}")
    if kind == "WordPiece":
        norm = tj.get("normalizer") or {}
        norms = norm.get("normalizers", [norm]) if norm.get("type") == "Sequence" else [norm]
        bn = next((x for x in norms if x.get("type") == "BertNormalizer"), {})
        need(tc.get("do_lower_case") == bool(bn.get("lowercase", False)),
             f"tokenizer_config.json: do_lower_case {tc.get('do_lower_case')!r}, normalizer lowercase {bn.get('lowercase')!r}")
        need(tc.get("strip_accents") == bn.get("strip_accents"), "tokenizer_config.json: strip_accents")
    sm = read_json(os.path.join(d, "special_tokens_map.json"))
    for r, v in sm.items():
        need(r in roles, f"special_tokens_map.json: unknown key {r}")
        content = v["content"] if isinstance(v, dict) else v
        need(tc.get(r) == content, f"special_tokens_map.json: {r} {content!r} differs from tokenizer_config.json")

    mods = read_json(os.path.join(d, "modules.json"))
    need([m.get("idx") for m in mods] == list(range(len(mods))), "modules.json: idx not 0..n-1")
    for m in mods:
        need(set(m) == {"idx", "name", "path", "type"}, f"modules.json: keys {sorted(m)}")
        need(m.get("type") in ST_MODULE_TYPES, f"modules.json: type {m.get('type')!r}")
        need(os.path.isdir(os.path.join(d, m.get("path", ""))), f"modules.json: folder {m.get('path')!r} missing")
    types = [m["type"].rsplit(".", 1)[-1] for m in mods]
    need(types[:2] == ["Transformer", "Pooling"] and types[2:] in ([], ["Normalize"]), f"modules.json: modules {types}")
    need(mods[0]["path"] == "", "modules.json: Transformer not in the root")
    pool = read_json(os.path.join(d, mods[1]["path"], "config.json"))
    need(list(pool) == ST_POOLING_KEYS, f"1_Pooling/config.json: keys {list(pool)}")
    need(pool.get("word_embedding_dimension") == C, "1_Pooling/config.json: word_embedding_dimension")
    need(sum(bool(v) for k, v in pool.items() if k.startswith("pooling_mode_")) == 1, "1_Pooling/config.json: not one mode")
    need(pool.get("include_prompt") is True, "1_Pooling/config.json: include_prompt")
    sb = read_json(os.path.join(d, "sentence_bert_config.json"))
    need(set(sb) <= ST_TRANSFORMER_KEYS, f"sentence_bert_config.json: keys {sorted(sb)}")
    maxpos = c["max_position_embeddings"] - (c["pad_token_id"] + 1 if mt in ("xlm-roberta", "roberta") else 0)
    need(isinstance(sb.get("max_seq_length"), int) and 0 < sb["max_seq_length"] <= maxpos,
         f"sentence_bert_config.json: max_seq_length {sb.get('max_seq_length')!r} (positions {maxpos})")
    need(sb.get("do_lower_case") is False, "sentence_bert_config.json: do_lower_case")
    cst = read_json(os.path.join(d, "config_sentence_transformers.json"))
    need(cst.get("model_type") == "SentenceTransformer", "config_sentence_transformers.json: model_type")
    need(isinstance(cst.get("prompts"), dict) and all(isinstance(v, str) for v in cst["prompts"].values()),
         "config_sentence_transformers.json: prompts")
    dp = cst.get("default_prompt_name")
    need(dp is None or dp in cst.get("prompts", {}), "config_sentence_transformers.json: default_prompt_name")
    need(cst.get("similarity_fn_name") in ("cosine", "dot", "euclidean", "manhattan"),
         "config_sentence_transformers.json: similarity_fn_name")
    need("sentence_transformers" not in cst.get("__version__", {}), "config_sentence_transformers.json: a __version__ of sentence_transformers")
    need(os.path.exists(os.path.join(d, "README.md")), "README.md missing")
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--texts", required=True, help="JSON list of strings (prefixes already applied)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-length", type=int, default=0)
    ap.add_argument("--sp-model", default=os.path.join(ROOT, "testdata", "tokenizers", "unigram", "sp.model"))
    ap.add_argument("--ids", help="JSON list of token id lists, instead of tokenizing")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--check-layout", action="store_true",
                    help="first check that --model is a complete sentence-transformers folder (exit 1 if not)")
    args = ap.parse_args()
    if args.check_layout:
        errs = check_layout(args.model)
        for e in errs:
            print(f"{args.model}: {e}", file=sys.stderr)
        if errs:
            raise SystemExit(1)
        print(f"{args.model}: sentence-transformers layout ok", file=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)

    texts = read_json(args.texts)
    ref = Reference(args.model)
    c = ref.cfg
    maxpos = c["max_position_embeddings"] - (ref.pad + 1 if ref.roberta else 0)
    st = os.path.join(args.model, "sentence_bert_config.json")
    max_length = args.max_length or min(maxpos, read_json(st)["max_seq_length"] if os.path.exists(st) else maxpos)

    tok = RefTokenizer(os.path.join(args.model, "tokenizer.json"), args.sp_model)
    if args.ids:
        seqs = read_json(args.ids)
    else:
        seqs = [tok.encode(t, max_length) for t in texts]
    B, T = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((B, T), tok.pad, dtype=torch.long)
    mask = torch.zeros((B, T), dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[b, :len(s)] = 1
    tt = torch.zeros((B, T), dtype=torch.long)

    hidden, pooler = ref.forward(ids, mask, tt)
    last = hidden[-1]
    mf = mask.unsqueeze(-1).to(torch.float32)
    mean = (last * mf).sum(1) / torch.clamp(mf.sum(1), min=1e-9)
    cls = last[:, 0]
    pooling, normalize = st_recipe(args.model)
    emb = mean if pooling == "mean" else cls
    if normalize:
        emb = F.normalize(emb, p=2, dim=1)

    out = [("input_ids", ids.numpy()), ("attention_mask", mask.numpy()), ("token_type_ids", tt.numpy()),
           ("pooled_mean", mean.numpy()), ("pooled_cls", cls.numpy()), ("embedding", emb.numpy())]
    for i, h in enumerate(hidden):
        out.append((f"hidden_states.{i}", h.numpy()))
    if pooler is not None:
        out.append(("pooler_output", pooler.numpy()))
    meta = {"texts": json.dumps(texts, ensure_ascii=False), "max_length": str(max_length),
            "pooling": pooling, "normalize": str(normalize).lower(),
            "generator": "oracle/reference.py (torch %s)" % torch.__version__}
    write_safetensors(args.out, out, meta)
    print(f"{args.out}: B={B} T={T} layers={len(hidden) - 1} pooling={pooling} normalize={normalize}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
