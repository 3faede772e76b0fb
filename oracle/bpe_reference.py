#!/usr/bin/python3
"""Byte-level BPE reference fixtures for kormed's tokenizer package.

Run with Debian's interpreter (standard library only: no HF tokenizers, no `regex` module):

    /usr/bin/python3 oracle/bpe_reference.py
    /usr/bin/python3 oracle/bpe_reference.py --full /tmp/kormed_bpe_full   # also every drug text

It writes, deterministically, under tokenizer/testdata/bpe/:

  corpus.jsonl                 the parity corpus, one JSON string per line: the lines of
                               testdata/tokenizers/corpus.txt (drug texts + edge cases) and
                               extra lines with newlines, CRLF, whitespace runs, contractions,
                               digit runs, emoji, Jamo, fullwidth forms and added tokens
  gpt2/tokenizer.json          GPT-2 style: ByteLevel(add_prefix_space=false, use_regex=true),
                               ByteLevel post-processor and decoder, merges as "a b" strings,
                               <|endoftext|>, <mask> (lstrip), two non-special added tokens
  llama3/tokenizer.json        Llama-3 style: Sequence[Split(Llama-3 regex, Isolated),
                               ByteLevel(use_regex=false)], ignore_merges, merges as [a, b]
                               pairs, Sequence[ByteLevel, TemplateProcessing(<|begin_of_text|> $A)]
  exaone/tokenizer.json        EXAONE-3.5 style: Sequence[Digits(individual_digits),
                               ByteLevel(use_regex=true)], [PAD] [BOS] [EOS] [UNK] and the role
                               tokens [|system|] ... [|endofturn|] first in the vocabulary,
                               ByteLevel post-processor (no BOS) and decoder
  <name>/expected.jsonl        per corpus line {"ids": [...]} (add_special_tokens=True), plus
                               "decoded" (decode, skip_special_tokens=False) and "decoded_skip"
                               (skip_special_tokens=True) where they differ from the text

The merges are trained here by the published GPT-2 byte-level BPE algorithm (bytes_to_unicode,
GPT-2 regex pre-tokenisation, pair counts, greedy merges of the most frequent pair, ties to the
smaller pair) on the Korean drug texts; the reference encoder applies them with GPT-2's own
bpe() loop (lowest-ranked bigram first, all its occurrences left to right). Regex
pre-tokenisation uses Python's `re` with \\p{L}, \\p{N} and \\s spelled out as explicit
character classes built from unicodedata (\\s = Unicode White_Space, as in Oniguruma).

Source data: /work/shared/data/drugs (ryukato/fine-tuned-e5-drugmodel, MIT, Yoon Y. Yoo 2025);
the trained vocabularies and the corpus are derivatives and keep that attribution.
"""

import collections
import csv
import heapq
import json
import os
import re
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "drugs")
OUT = os.path.join(ROOT, "tokenizer", "testdata", "bpe")
CORPUS = os.path.join(ROOT, "testdata", "tokenizers", "corpus.txt")

csv.field_size_limit(1 << 24)

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# ---------------------------------------------------------------- unicode classes


def _ranges(pred):
    out, start = [], None
    for cp in range(0x110000):
        if pred(cp):
            if start is None:
                start = cp
        elif start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, 0x10FFFF))
    return "".join(
        "\\U%08x" % a if a == b else "\\U%08x-\\U%08x" % (a, b) for a, b in out)


WHITE_SPACE = set([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029,
                   0x202F, 0x205F, 0x3000] + list(range(0x2000, 0x200B)))
CLASS = {
    "L": _ranges(lambda cp: unicodedata.category(chr(cp)).startswith("L")),
    "N": _ranges(lambda cp: unicodedata.category(chr(cp)).startswith("N")),
    "s": _ranges(lambda cp: cp in WHITE_SPACE),
}


def translate(pat):
    """An Oniguruma-style pattern in Python re syntax: \\p{L}, \\p{N}, \\s, \\S spelled out."""
    out, i, in_class = [], 0, False
    while i < len(pat):
        c = pat[i]
        if c == "\\":
            nxt = pat[i + 1]
            if nxt == "p" and pat[i + 2] == "{":
                j = pat.index("}", i)
                body = CLASS[pat[i + 3:j]]
                out.append(body if in_class else "[" + body + "]")
                i = j + 1
                continue
            if nxt == "s":
                out.append(CLASS["s"] if in_class else "[" + CLASS["s"] + "]")
            elif nxt == "S":
                assert not in_class
                out.append("[^" + CLASS["s"] + "]")
            else:
                out.append(pat[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return re.compile("".join(out))


# ---------------------------------------------------------------- byte level

def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


B2U = bytes_to_unicode()
U2B = {v: k for k, v in B2U.items()}


def to_byte_chars(s):
    return "".join(B2U[b] for b in s.encode("utf-8"))


def regex_pieces(rx, text):
    """tokenizers' find_matches + Isolated: matches and the gaps between them."""
    out, prev = [], 0
    for m in rx.finditer(text):
        if m.start() == m.end():
            continue
        if m.start() > prev:
            out.append(text[prev:m.start()])
        out.append(m.group())
        prev = m.end()
    if prev < len(text):
        out.append(text[prev:])
    return out


# ---------------------------------------------------------------- training data

SOURCES = [
    ("drug_data_20_per_product_type.csv",
     ["type_name", "type_definition", "item_name", "enterprise_name", "main_ingredient",
      "main_ingredient_eng", "appearance", "storage_method", "valid_term"]),
    ("drug_type_def_list.csv", ["name", "definition", "alias"]),
    ("drug_type_similarity_train.csv", ["query", "context"]),
    ("drug_dur_type_similarity_train.csv", ["dur_type", "description"]),
    ("drug_product_type_ingredients_similarity_train.csv", ["description"]),
    ("drug_summary_100.csv", ["item_name", "item_eng_name", "product_type", "ingredient_name",
                              "enterprise_name"]),
]


def training_texts():
    seen, out = set(), []
    for fname, cols in SOURCES:
        with open(os.path.join(DATA, fname), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for c in cols:
            for r in rows:
                t = (r.get(c) or "").strip()
                if t and t != "NULL" and t not in seen:
                    seen.add(t)
                    out.append(t)
    return out


def train(texts, n_merges):
    """GPT-2 byte-level BPE training: most frequent pair first, ties to the smaller pair."""
    rx = translate(GPT2_PATTERN)
    counts = collections.Counter()
    for t in texts:
        for p in regex_pieces(rx, t):
            counts[to_byte_chars(p)] += 1
    words = [list(w) for w in counts]
    freq = list(counts.values())
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[a, b] += freq[i]
            where[a, b].add(i)
    heap = [(-c, p) for p, c in pairs.items()]
    heapq.heapify(heap)
    merges = []
    while heap and len(merges) < n_merges:
        c, p = heapq.heappop(heap)
        if pairs.get(p, 0) != -c or c == 0:
            continue
        merges.append(p)
        a, b = p
        new = a + b
        changed = set()
        for i in list(where[p]):
            w = words[i]
            for x, y in zip(w, w[1:]):
                pairs[x, y] -= freq[i]
                changed.add((x, y))
            j, nw = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    nw.append(new)
                    j += 2
                else:
                    nw.append(w[j])
                    j += 1
            words[i] = nw
            for x, y in zip(nw, nw[1:]):
                pairs[x, y] += freq[i]
                where[x, y].add(i)
                changed.add((x, y))
        for q in changed:
            if pairs[q] > 0:
                heapq.heappush(heap, (-pairs[q], q))
        del pairs[p]
    return merges


# ---------------------------------------------------------------- reference encoder

class Reference:
    """A straightforward re-implementation of the tokenizers pipeline for these files."""

    def __init__(self, tj):
        self.tj = tj
        m = tj["model"]
        self.vocab = m["vocab"]
        self.inv = {i: t for t, i in self.vocab.items()}
        for a in tj["added_tokens"]:
            self.inv[a["id"]] = a["content"]
        merges = [tuple(x.split(" ", 1)) if isinstance(x, str) else tuple(x) for x in m["merges"]]
        self.ranks = {p: i for i, p in enumerate(merges)}
        self.ignore_merges = m.get("ignore_merges", False)
        self.added = sorted(tj["added_tokens"], key=lambda a: -len(a["content"]))
        self.special = {a["id"] for a in tj["added_tokens"] if a["special"]}
        self.pre = self._pre(tj["pre_tokenizer"])
        self.bos = []
        post = tj["post_processor"]
        procs = post["processors"] if post and post["type"] == "Sequence" else [post]
        for p in procs:
            if p and p["type"] == "TemplateProcessing":
                for it in p["single"]:
                    if "SpecialToken" in it:
                        self.bos += p["special_tokens"][it["SpecialToken"]["id"]]["ids"]
                    else:
                        assert it["Sequence"]["id"] == "A"
                        break

    def _pre(self, p):
        if p["type"] == "Sequence":
            steps = []
            for q in p["pretokenizers"]:
                steps += self._pre(q)
            return steps
        if p["type"] == "ByteLevel":
            return [("bytelevel", p["add_prefix_space"],
                     translate(GPT2_PATTERN) if p["use_regex"] else None)]
        if p["type"] == "Split":
            assert p["behavior"] == "Isolated" and not p["invert"]
            return [("split", translate(p["pattern"]["Regex"]))]
        if p["type"] == "Digits":
            assert p["individual_digits"]
            return [("split", re.compile("[" + CLASS["N"] + "]"))]
        raise ValueError(p["type"])

    def bpe(self, word):
        """GPT-2's bpe(): merge the lowest-ranked bigram everywhere, until none is left."""
        if self.ignore_merges and word in self.vocab:
            return [word]
        w = list(word)
        while len(w) > 1:
            best = min(((self.ranks.get(p, 1 << 30), p) for p in zip(w, w[1:])))
            if best[0] == 1 << 30:
                break
            a, b = best[1]
            nw, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    nw.append(a + b)
                    i += 2
                else:
                    nw.append(w[i])
                    i += 1
            w = nw
        return w

    def split_added(self, text):
        """Leftmost (then longest) added-token matches; lstrip/rstrip take adjacent spaces."""
        out, pos = [], 0
        while pos < len(text):
            best = None
            for a in self.added:
                k = text.find(a["content"], pos)
                if k >= 0 and (best is None or k < best[0]):
                    best = (k, a)
            if best is None:
                out.append(text[pos:])
                break
            k, a = best
            s, e = k, k + len(a["content"])
            if a["lstrip"]:
                while s > pos and ord(text[s - 1]) in WHITE_SPACE:
                    s -= 1
            if a["rstrip"]:
                while e < len(text) and ord(text[e]) in WHITE_SPACE:
                    e += 1
            if s > pos:
                out.append(text[pos:s])
            out.append(a["id"])
            pos = e
        return out

    def encode(self, text):
        ids = list(self.bos)
        for seg in self.split_added(text):
            if isinstance(seg, int):
                ids.append(seg)
                continue
            words = [seg]
            for step in self.pre:
                nxt = []
                for w in words:
                    if step[0] == "split":
                        nxt += regex_pieces(step[1], w)
                        continue
                    _, prefix, rx = step
                    if prefix and not w.startswith(" "):
                        w = " " + w
                    for p in (regex_pieces(rx, w) if rx else [w]):
                        nxt.append(to_byte_chars(p))
                words = [w for w in nxt if w]
            for w in words:
                ids += [self.vocab[t] for t in self.bpe(w)]
        return ids

    def decode(self, ids, skip_special):
        b = bytearray()
        for i in ids:
            if skip_special and i in self.special:
                continue
            t = self.inv[i]
            if all(c in U2B for c in t):
                b += bytes(U2B[c] for c in t)
            else:
                b += t.encode("utf-8")
        return b.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- tokenizer.json files

def added(id_, content, special=True, lstrip=False, rstrip=False, normalized=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip,
            "rstrip": rstrip, "normalized": normalized, "special": special}


def bytelevel(prefix=False, regex=True):
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": True,
            "use_regex": regex}


def model(vocab, merges, pair_form, ignore_merges):
    return {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
            "ignore_merges": ignore_merges, "vocab": vocab,
            "merges": [[a, b] for a, b in merges] if pair_form else [a + " " + b for a, b in merges]}


def base_vocab(merges, first=()):
    vocab = {}
    for t in first:
        vocab[t] = len(vocab)
    for b in range(256):
        vocab[B2U[b]] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    return vocab


def gpt2_json(merges):
    merges = merges[:1500]
    vocab = base_vocab(merges)
    n = len(vocab)
    toks = [added(n, "<|endoftext|>"), added(n + 1, "<mask>", lstrip=True),
            added(n + 2, "mg/kg", special=False, normalized=True),
            added(n + 3, "복용법", special=False, normalized=True)]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": toks,
            "normalizer": None, "pre_tokenizer": bytelevel(False, True),
            "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                               "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": model(vocab, merges, False, False)}


LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                  "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
                  "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]


def llama3_json(merges):
    merges = merges[:2000]
    vocab = base_vocab(merges)
    n = len(vocab)
    toks = [added(n + i, t) for i, t in enumerate(LLAMA3_SPECIAL)]
    bos = {"id": "<|begin_of_text|>", "ids": [n], "tokens": ["<|begin_of_text|>"]}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": toks,
            "normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated",
                 "invert": False},
                bytelevel(False, False)]},
            "post_processor": {"type": "Sequence", "processors": [
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                 "use_regex": True},
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                            {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                          {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                          {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {"<|begin_of_text|>": bos}}]},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": model(vocab, merges, True, True)}


EXAONE_SPECIAL = ["[PAD]", "[BOS]", "[EOS]", "[UNK]", "[|system|]", "[|tool|]", "[|assistant|]",
                  "[|user|]", "[|endofturn|]"]


def exaone_json(merges):
    merges = merges[:1000]
    vocab = base_vocab(merges, EXAONE_SPECIAL)
    toks = [added(i, t) for i, t in enumerate(EXAONE_SPECIAL)]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": toks,
            "normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": True}, bytelevel(False, True)]},
            "post_processor": {"type": "ByteLevel", "add_prefix_space": False,
                               "trim_offsets": False, "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": model(vocab, merges, False, False)}


# ---------------------------------------------------------------- corpus

EXTRA = [
    "첫째 줄\n둘째 줄\n\n셋째 줄 뒤 빈 줄\n",
    "CRLF 줄바꿈\r\n다음 줄\r\n",
    "끝에 공백   ",
    "  두 칸 앞   세 칸 사이\t\t탭 두 개",
    "\n\n\n",
    "   ",
    " ",
    "\t",
    "It's the patient's dose; they'll take it, we've seen, I'm sure, he'd know, don't.",
    "IT'S SHE'LL WE'VE I'M HE'D THEY'RE DON'T",
    "12345678901 1,000,000 3.14159 0.5mg 2024-12-09 10:30",
    "１２３４５ ＡＢＣ ａｂｃ （괄호） ！？",
    "ㄱㄴㄷㄹ ㅏㅓㅗㅜ ᄀᄁᄂ ᅡᅢ ᆨᆩ",
    "약 💊💊 병원 🏥 👩‍⚕️ 의사 🇰🇷 국기",
    "e\u0301 a\u0308 한\u0301",
    "<|endoftext|>문서 끝<|endoftext|>",
    "약 <mask> 정 그리고  <mask>",
    "용량 mg/kg 기준, 복용법은 하루 3회",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n타이레놀 복용법은?<|eot_id|>",
    "[|system|]당신은 약사입니다.[|endofturn|]\n[|user|]아스피린 용량은?\n[|assistant|]하루 1정[|endofturn|]",
    "[BOS]시작 [PAD][PAD]",
    "line one\nline two\n  indented\n\ttabbed",
    "a  b   c    d",
    "word\u3000전각공백\u00a0nbsp",
    "숫자123과 한글abc 섞기 ABC가나다123",
    "'s 'S 'll 'LL ''s",
    "!!! ??? ... --- ___ ;;; @@@",
    "x\n \ny",
    "mixed\r\n\r\n  \n",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
]


def corpus_lines():
    with open(CORPUS, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines + EXTRA


# ---------------------------------------------------------------- main

def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def write_set(out, lines, merges):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for l in lines:
            f.write(json.dumps(l, ensure_ascii=False) + "\n")
    total = 0
    for name, build in (("gpt2", gpt2_json), ("llama3", llama3_json), ("exaone", exaone_json)):
        tj = build(merges)
        write_json(os.path.join(out, name, "tokenizer.json"), tj)
        ref = Reference(tj)
        with open(os.path.join(out, name, "expected.jsonl"), "w", encoding="utf-8") as f:
            for l in lines:
                ids = ref.encode(l)
                row = {"ids": ids}
                d, ds = ref.decode(ids, False), ref.decode(ids, True)
                if d != l:
                    row["decoded"] = d
                if ds != l:
                    row["decoded_skip"] = ds
                total += len(ids)
                f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"{os.path.relpath(out)}/{name}: vocab {len(tj['model']['vocab'])}, merges {len(tj['model']['merges'])}, "
              f"added {len(tj['added_tokens'])}")
    return total


def main():
    texts = training_texts()
    merges = train(texts, 2000)
    lines = corpus_lines()
    total = write_set(OUT, lines, merges)
    print(f"{len(texts)} training texts, {len(merges)} merges trained; corpus {len(lines)} lines; "
          f"{total} ids in all")
    if len(sys.argv) == 3 and sys.argv[1] == "--full":
        total = write_set(sys.argv[2], texts, merges)
        print(f"full: {len(texts)} lines, {total} ids in {sys.argv[2]}")


if __name__ == "__main__":
    sys.exit(main())
