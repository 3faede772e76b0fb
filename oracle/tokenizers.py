#!/usr/bin/python3
"""Reference tokenizer assets for kormed's tokenizer package.

Run with Debian's interpreter (it has the sentencepiece binding):

    /usr/bin/python3 oracle/tokenizers.py            # everything
    /usr/bin/python3 oracle/tokenizers.py --bench    # also time sentencepiece on the corpus

It writes, deterministically, under testdata/tokenizers/:

  corpus.txt                   parity corpus (drug texts + hand-added edge cases)
  unigram/sp.model             a small sentencepiece Unigram model trained on the drug texts
                               (spm_train, nmt_nfkc, vocab 3000, one thread)
  unigram/tokenizer.json       that model converted as transformers' XLMRobertaConverter does
  unigram.jsonl                reference ids: sentencepiece's own encode + fairseq offset
  wordpiece/vocab.txt          a small WordPiece vocab built from the drug texts
  wordpiece/tokenizer.json     BERT-style, lowercase=false (as klue/bert-base)
  wordpiece_uncased/tokenizer.json   same vocab, lowercase=true (strip_accents follows)
  wordpiece.jsonl, wordpiece_uncased.jsonl
                               reference ids by google-research/bert tokenization.py's algorithm
                               (BasicTokenizer + WordpieceTokenizer), re-implemented below.

Source data: /work/shared/data/drugs (ryukato/fine-tuned-e5-drugmodel, MIT, Yoon Y. Yoo 2025).
"""

import base64
import collections
import csv
import json
import os
import struct
import subprocess
import sys
import time
import unicodedata

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "drugs")
OUT = os.path.join(ROOT, "testdata", "tokenizers")

csv.field_size_limit(1 << 24)


# ---------------------------------------------------------------- source texts

def read_csv(name):
    with open(os.path.join(DATA, name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def clean(s):
    if s is None:
        return ""
    s = " ".join(s.split("\n")).strip()
    return "" if s in ("", "NULL") else s


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


def all_texts():
    """Unique texts in first-seen order, per (file, column)."""
    seen = set()
    per_col = collections.OrderedDict()
    for fname, cols in SOURCES:
        rows = read_csv(fname)
        for c in cols:
            lst = per_col.setdefault((fname, c), [])
            for r in rows:
                t = clean(r.get(c))
                if t and t not in seen:
                    seen.add(t)
                    lst.append(t)
    return per_col


EDGE_CASES = [
    "",
    "타이레놀정500밀리그램",
    "500밀리그램",
    "아세트아미노펜  500mg   1일   3회",
    "   앞에 공백이 있는 줄",
    "탭\t문자\t포함",
    "１２３ ＡＢＣ ｆｕｌｌ－ｗｉｄｔｈ　전각 공백",
    "10㎎ 20㎖ 30㎏ 5℃ 37.5°C",
    "① ② ③ ⑴ ⑵ Ⅳ ⅷ",
    "실온(1～30℃)보관, 차광 기밀용기",
    "ﬁ ﬂ ㈜ ㈔ ™ № ½ ¼ x² H₂O",
    "Ibuprofen 200 mg / Caffeine (anhydrous) 50mg",
    "ACETAMINOPHEN; Aspirin, ibuProFen!",
    "Café naïve résumé Ångström Œuvre façade Müller",
    "치료제입니다...!?  (주)한국제약 [M040091] {test} <tag> @#$%^&*_+=|\\/~`",
    "\"따옴표\" '작은따옴표' “둥근” ‘인용’ 「괄호」 『겹괄호』 《책》",
    "이모지 💊 테스트 😀😀 🏥",
    "중국어 漢字 처방 藥局 日本語のテキスト カタカナ",
    "Ελληνικά кириллица עברית العربية ไทย",
    "0.5% 1/2 3-4 5×10⁶ ±2 ≤ ≥ → ·",
    "http://example.com/drug?id=123&x=y test@example.org",
    "Zn²⁺ Fe³⁺ α-토코페롤 β-카로틴 γ-오리자놀 μg",
    "ㄱㄴㄷ ㅏㅑㅓ 한글자모",
    "가나다라마바사아자차카타파하" * 3,
    "supercalifragilisticexpialidocious" * 4,
    "A" * 120,
    "word\u00a0with\u00a0nbsp and\u200bzero width",
    "Dr. Kim's 2nd-line therapy: q.d./b.i.d./t.i.d.",
    "의약품",
    "?",
]


def build_corpus(per_col):
    """A few hundred lines: every k-th text of each column, then the edge cases."""
    lines = []
    want = {
        ("drug_data_20_per_product_type.csv", "type_name"): 10,
        ("drug_data_20_per_product_type.csv", "type_definition"): 30,
        ("drug_data_20_per_product_type.csv", "item_name"): 60,
        ("drug_data_20_per_product_type.csv", "enterprise_name"): 10,
        ("drug_data_20_per_product_type.csv", "main_ingredient"): 30,
        ("drug_data_20_per_product_type.csv", "main_ingredient_eng"): 40,
        ("drug_data_20_per_product_type.csv", "appearance"): 25,
        ("drug_data_20_per_product_type.csv", "storage_method"): 25,
        ("drug_data_20_per_product_type.csv", "valid_term"): 6,
        ("drug_type_def_list.csv", "definition"): 15,
        ("drug_type_similarity_train.csv", "query"): 25,
        ("drug_type_similarity_train.csv", "context"): 15,
        ("drug_dur_type_similarity_train.csv", "description"): 5,
        ("drug_product_type_ingredients_similarity_train.csv", "description"): 10,
        ("drug_summary_100.csv", "item_eng_name"): 20,
        ("drug_summary_100.csv", "ingredient_name"): 15,
    }
    for key, n in want.items():
        lst = per_col[key]
        if not lst:
            continue
        step = max(1, len(lst) // n)
        lines.extend(lst[::step][:n])
    # A few mixed lines built from two columns.
    eng = per_col[("drug_data_20_per_product_type.csv", "main_ingredient_eng")]
    names = per_col[("drug_data_20_per_product_type.csv", "item_name")]
    for i in range(15):
        lines.append(f"{names[i * 37 % len(names)]} ({eng[i * 13 % len(eng)]}) 성분은?")
    lines.extend(EDGE_CASES)
    for l in lines:
        assert "\n" not in l
    return lines


# ---------------------------------------------------------------- minimal protobuf reader

def _varint(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ValueError(f"wire type {wt}")
        yield num, wt, v


def parse_model(path):
    """ModelProto -> (pieces [(piece, score, type)], normalizer_spec dict)."""
    with open(path, "rb") as f:
        b = f.read()
    pieces, norm = [], {}
    for num, _, v in _fields(b):
        if num == 1:
            piece, score, typ = "", 0.0, 1
            for n2, _, v2 in _fields(v):
                if n2 == 1:
                    piece = v2.decode("utf-8")
                elif n2 == 2:
                    score = struct.unpack("<f", v2)[0]
                elif n2 == 3:
                    typ = v2
            pieces.append((piece, score, typ))
        elif num == 3:
            for n2, _, v2 in _fields(v):
                if n2 == 1:
                    norm["name"] = v2.decode()
                elif n2 == 2:
                    norm["precompiled_charsmap"] = bytes(v2)
                elif n2 == 3:
                    norm["add_dummy_prefix"] = bool(v2)
                elif n2 == 4:
                    norm["remove_extra_whitespaces"] = bool(v2)
    return pieces, norm


# ---------------------------------------------------------------- unigram

def train_unigram(per_col, outdir):
    os.makedirs(outdir, exist_ok=True)
    texts = [t for lst in per_col.values() for t in lst]
    # Fixed paths: spm_train records input and model_prefix in the model's trainer_spec.
    td = "/tmp/kormed_spm_train"
    os.makedirs(td, exist_ok=True)
    if True:
        inp = os.path.join(td, "train.txt")
        with open(inp, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(t + "\n")
        prefix = os.path.join(td, "sp")
        subprocess.run([
            "spm_train", f"--input={inp}", f"--model_prefix={prefix}", "--model_type=unigram",
            "--vocab_size=3000", "--normalization_rule_name=nmt_nfkc", "--num_threads=1",
            "--character_coverage=0.9995", "--random_seed=1", "--shuffle_input_sentence=false",
            "--minloglevel=2",
        ], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(prefix + ".model", "rb") as f:
            model = f.read()
    with open(os.path.join(outdir, "sp.model"), "wb") as f:
        f.write(model)


def added(id_, content, lstrip=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip,
            "rstrip": False, "normalized": False, "special": True}


def convert_xlmr(sp_model, out_json):
    """transformers' XLMRobertaConverter: fairseq ids <s>=0 <pad>=1 </s>=2 <unk>=3,
    sp pieces from sp-id 3 onward shifted by +1, <mask> last."""
    pieces, norm = parse_model(sp_model)
    assert pieces[0][2] == 2 and pieces[1][0] == "<s>" and pieces[2][0] == "</s>", pieces[:3]
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]]
    vocab += [[p, s] for p, s, _ in pieces[3:]]
    vocab += [["<mask>", 0.0]]
    mask_id = len(vocab) - 1
    cs = base64.b64encode(norm["precompiled_charsmap"]).decode()

    def st(tok, type_id=0):
        return {"SpecialToken": {"id": tok, "type_id": type_id}}

    def seq(x, type_id=0):
        return {"Sequence": {"id": x, "type_id": type_id}}

    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(0, "<s>"), added(1, "<pad>"), added(2, "</s>"), added(3, "<unk>"),
                         added(mask_id, "<mask>", lstrip=True)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": cs},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                          "split": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [st("<s>"), seq("A"), st("</s>")],
            "pair": [st("<s>"), seq("A"), st("</s>"), st("</s>"), seq("B"), st("</s>")],
            "special_tokens": {
                "<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]},
            },
        },
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                    "split": True},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False},
    }
    write_json(out_json, tok)
    return len(vocab)


def unigram_reference(sp_model, lines, out_jsonl):
    sp = spm.SentencePieceProcessor(model_file=sp_model)
    unk = sp.unk_id()
    rows = []
    for line in lines:
        ids = sp.encode(line, out_type=int)
        pieces = sp.encode(line, out_type=str)
        hf = [0] + [3 if i == unk else i + 1 for i in ids] + [2]
        rows.append({"text": line, "ids": hf, "tokens": pieces})
    write_jsonl(out_jsonl, rows)
    return sp


# ---------------------------------------------------------------- wordpiece (google-research/bert)

def _is_whitespace(c):
    if c in " \t\n\r":
        return True
    return unicodedata.category(c) == "Zs"


def _is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c).startswith("C")


def _is_punctuation(c):
    cp = ord(c)
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(c).startswith("P")


def _is_chinese(cp):
    return ((0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF) or (0x20000 <= cp <= 0x2A6DF)
            or (0x2A700 <= cp <= 0x2B73F) or (0x2B740 <= cp <= 0x2B81F)
            or (0x2B820 <= cp <= 0x2CEAF) or (0xF900 <= cp <= 0xFAFF)
            or (0x2F800 <= cp <= 0x2FA1F))


def basic_tokenize(text, lower):
    out = []
    for c in text:
        cp = ord(c)
        if cp == 0 or cp == 0xFFFD or _is_control(c):
            continue
        out.append(" " if _is_whitespace(c) else c)
    text = "".join(out)
    out = []
    for c in text:
        if _is_chinese(ord(c)):
            out.extend([" ", c, " "])
        else:
            out.append(c)
    text = "".join(out)
    split = []
    for tok in text.strip().split():
        if lower:
            tok = tok.lower()
            tok = "".join(c for c in unicodedata.normalize("NFD", tok)
                          if unicodedata.category(c) != "Mn")
        cur = []
        for c in tok:
            if _is_punctuation(c):
                if cur:
                    split.append("".join(cur))
                    cur = []
                split.append(c)
            else:
                cur.append(c)
        if cur:
            split.append("".join(cur))
    return " ".join(split).strip().split()


def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    if len(word) > max_chars:
        return [unk]
    out, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return [unk]
        out.append(cur)
        start = end
    return out


def build_wordpiece_vocab(per_col):
    texts = [t for lst in per_col.values() for t in lst]
    chars, words = collections.Counter(), collections.Counter()
    for t in texts:
        for lower in (False, True):
            for w in basic_tokenize(t, lower):
                words[w] += 1
                chars.update(w)

    def top(counter, n, minc):
        items = sorted((kv for kv in counter.items() if kv[1] >= minc), key=lambda kv: (-kv[1], kv[0]))
        return [k for k, _ in items[:n]]

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    cs = top(chars, 100000, 3)  # rarer characters stay unknown
    vocab += cs
    vocab += ["##" + c for c in cs]
    vocab += top(words, 2500, 3)
    pre, suf = collections.Counter(), collections.Counter()
    for w, n in words.items():
        for k in (2, 3):
            if len(w) > k:
                pre[w[:k]] += n
                suf["##" + w[-k:]] += n
    vocab += top(pre, 600, 5)
    vocab += top(suf, 600, 5)
    seen, out = set(), []
    for v in vocab:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def wordpiece_json(vocab, lower, processor):
    ids = {v: i for i, v in enumerate(vocab)}
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    if processor == "template":
        def st(t, ty):
            return {"SpecialToken": {"id": t, "type_id": ty}}

        def seq(x, ty):
            return {"Sequence": {"id": x, "type_id": ty}}
        post = {
            "type": "TemplateProcessing",
            "single": [st("[CLS]", 0), seq("A", 0), st("[SEP]", 0)],
            "pair": [st("[CLS]", 0), seq("A", 0), st("[SEP]", 0), seq("B", 1), st("[SEP]", 1)],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [ids["[CLS]"]], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [ids["[SEP]"]], "tokens": ["[SEP]"]},
            },
        }
    else:
        post = {"type": "BertProcessing", "sep": ["[SEP]", ids["[SEP]"]],
                "cls": ["[CLS]", ids["[CLS]"]]}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(ids[s], s) for s in specials],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": lower},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": post,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


def wordpiece_reference(vocab, lines, lower, out_jsonl):
    ids = {v: i for i, v in enumerate(vocab)}
    rows = []
    for line in lines:
        toks = []
        for w in basic_tokenize(line, lower):
            toks.extend(wordpiece(w, ids))
        rows.append({"text": line, "ids": [ids["[CLS]"]] + [ids[t] for t in toks] + [ids["[SEP]"]],
                     "tokens": toks})
    write_jsonl(out_jsonl, rows)


# ---------------------------------------------------------------- io

def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def write_jsonl(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def write_lines(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for l in lines:
            f.write(l + "\n")
    os.replace(tmp, path)


def bench_sentencepiece(sp, lines, secs=3.0):
    """Tokens/s of sentencepiece's python binding, encode(str) -> ids, one line per call, then
    one encode(list) call per pass. Wall and process-CPU rates (the machine may be shared)."""
    n_tok = sum(len(sp.encode(l)) for l in lines)
    for name, fn in (("encode per line", lambda: [sp.encode(l) for l in lines]),
                     ("encode(list)   ", lambda: sp.encode(lines))):
        reps, t0, c0 = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < secs:
            fn()
            reps += 1
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        print(f"sentencepiece {spm.__version__} python {name}: {reps * n_tok / dt:,.0f} tokens/s, "
              f"{reps * n_tok / dc:,.0f} tokens/cpu-s ({n_tok} tokens/pass, {reps} passes)")


def main():
    per_col = all_texts()
    lines = build_corpus(per_col)
    os.makedirs(OUT, exist_ok=True)
    write_lines(os.path.join(OUT, "corpus.txt"), lines)

    udir = os.path.join(OUT, "unigram")
    if not os.path.exists(os.path.join(udir, "sp.model")) or "--retrain" in sys.argv:
        train_unigram(per_col, udir)
    sp_model = os.path.join(udir, "sp.model")
    n = convert_xlmr(sp_model, os.path.join(udir, "tokenizer.json"))
    sp = unigram_reference(sp_model, lines, os.path.join(OUT, "unigram.jsonl"))

    vocab = build_wordpiece_vocab(per_col)
    wdir = os.path.join(OUT, "wordpiece")
    write_lines(os.path.join(wdir if os.makedirs(wdir, exist_ok=True) is None else wdir, "vocab.txt"), vocab)
    write_json(os.path.join(wdir, "tokenizer.json"), wordpiece_json(vocab, False, "template"))
    write_json(os.path.join(OUT, "wordpiece_uncased", "tokenizer.json"),
               wordpiece_json(vocab, True, "bert"))
    wordpiece_reference(vocab, lines, False, os.path.join(OUT, "wordpiece.jsonl"))
    wordpiece_reference(vocab, lines, True, os.path.join(OUT, "wordpiece_uncased.jsonl"))
    print(f"corpus {len(lines)} lines; unigram vocab {n}; wordpiece vocab {len(vocab)}")
    if "--full" in sys.argv:
        # Every unique drug text (not checked in): for KORMED_TOKENIZER_FULL=/tmp/kormed_tok_full
        # go test ./tokenizer -run Full
        full = [t for lst in per_col.values() for t in lst] + EDGE_CASES
        fd = "/tmp/kormed_tok_full"
        os.makedirs(fd, exist_ok=True)
        write_lines(os.path.join(fd, "corpus.txt"), full)
        unigram_reference(sp_model, full, os.path.join(fd, "unigram.jsonl"))
        wordpiece_reference(vocab, full, False, os.path.join(fd, "wordpiece.jsonl"))
        wordpiece_reference(vocab, full, True, os.path.join(fd, "wordpiece_uncased.jsonl"))
        print(f"full: {len(full)} lines in {fd}")
    if "--bench" in sys.argv:
        bench_sentencepiece(sp, lines)


if __name__ == "__main__":
    main()
