#!/usr/bin/env python3
"""Independent check of the byte-level BPE fixtures with Hugging Face `tokenizers`.

    python3 oracle/bpe_hf_check.py tokenizer/testdata/bpe

For each folder under the given directory that has tokenizer.json and expected.jsonl (gpt2,
llama3, exaone, written by oracle/bpe_reference.py), it loads tokenizer.json with
tokenizers.Tokenizer.from_file and, for every line of corpus.jsonl, compares
encode(text).ids (add_special_tokens=True) with the expected ids, and decode(ids) with
skip_special_tokens False and True with the expected decodes (the text itself where the row has
no "decoded"/"decoded_skip"). It prints each mismatch and a summary; the last line is
`ALL OK <n> lines` when nothing differs (exit status 0), else `FAILED <k> of <n> lines`
(exit status 1). No network is used.
"""

import json
import os
import sys

# This script's folder holds oracle/tokenizers.py, which would shadow the tokenizers library.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    corpus = read_jsonl(os.path.join(root, "corpus.jsonl"))
    print(f"tokenizers {tokenizers.__version__}; {len(corpus)} corpus lines")
    total = bad_total = 0
    names = sorted(d for d in os.listdir(root)
                   if os.path.exists(os.path.join(root, d, "tokenizer.json"))
                   and os.path.exists(os.path.join(root, d, "expected.jsonl")))
    if not names:
        print(f"no <name>/tokenizer.json + expected.jsonl under {root}")
        return 1
    for name in names:
        tok = Tokenizer.from_file(os.path.join(root, name, "tokenizer.json"))
        rows = read_jsonl(os.path.join(root, name, "expected.jsonl"))
        if len(rows) != len(corpus):
            print(f"{name}: {len(rows)} expected rows but {len(corpus)} corpus lines")
            bad_total += len(corpus)
            total += len(corpus)
            continue
        bad = 0
        for i, (text, row) in enumerate(zip(corpus, rows)):
            problems = []
            ids = tok.encode(text).ids
            if ids != row["ids"]:
                problems.append(f"ids\n    hf   {ids}\n    want {row['ids']}\n"
                                f"    hf tokens {tok.encode(text).tokens}")
            for skip, key in ((False, "decoded"), (True, "decoded_skip")):
                want = row.get(key, text)
                got = tok.decode(row["ids"], skip_special_tokens=skip)
                if got != want:
                    problems.append(f"decode(skip_special_tokens={skip}) = {got!r}, want {want!r}")
            if problems:
                bad += 1
                print(f"{name}:{i + 1} {text!r}: " + "; ".join(problems))
        print(f"{name}: {len(rows) - bad}/{len(rows)} lines identical")
        total += len(rows)
        bad_total += bad
    if bad_total:
        print(f"FAILED {bad_total} of {total} lines")
        return 1
    print(f"ALL OK {total} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
