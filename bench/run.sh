#!/usr/bin/env bash
# Runs kormed's speed and memory benchmarks next to the references in the
# same run and writes bench-out/results.jsonl + bench-out/summary.md:
#   - encode throughput at the multilingual-e5-small shape (random weights,
#     batch 32 × 64 tokens): kormed (oneDNN, and pure Go), PyTorch fp32 and
#     bf16-autocast, ONNX Runtime (onnxruntime-node) on the exported model;
#   - mixed-length drug texts with and without length bucketing;
#   - peak memory of `kormed embed` on 1,000 vs 10,000 texts.
#   - micro-benchmarks: sgemm, tokenizers against Debian's sentencepiece,
#     BM25 build/search/load (Go benchmark output in bench-out/micro.txt).
# Usage: bash bench/run.sh [THREADS] [SECTION...]   THREADS defaults to 2;
# sections: encode mixed memory micro (default: all). ~15 minutes in all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
TH=${1:-2}
shift || true
SECTIONS=${*:-encode mixed memory micro}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
OUT=bench-out
mkdir -p "$OUT"
R="$OUT/results.jsonl"
want encode && want mixed && want memory && : >"$R" # a full run starts a fresh results file
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX} # Debian's OpenBLAS misdetects these CPUs
export OMP_NUM_THREADS=$TH
go build -o "$OUT/kormed" ./cmd/kormed
CGO_ENABLED=0 go build -o "$OUT/kormed-purego" ./cmd/kormed
K="$OUT/kormed"
[ -f "$OUT/e5-small/model.safetensors" ] || $K testmodel --arch bert --shape e5-small --seed 1 --out "$OUT/e5-small"
if [ ! -d "$OUT/node_modules/onnxruntime-node" ]; then
	(cd "$OUT" && npm install --ignore-scripts --no-audit --no-fund --no-save onnxruntime-node@1.30.0 >/dev/null)
fi

if want encode; then
echo "== encode: batch 32 x 64 tokens, e5-small shape, $TH threads" >&2
/usr/bin/python3 bench/torch_encode.py --model "$OUT/e5-small" --threads "$TH" --iters 5 --onnx "$OUT/e5-small.onnx" 2>/dev/null | tee -a "$R"
/usr/bin/python3 bench/torch_encode.py --model "$OUT/e5-small" --threads "$TH" --iters 5 --bf16 2>/dev/null | tee -a "$R"
NODE_PATH="$OUT/node_modules" node bench/ort_encode.js "$OUT/e5-small.onnx" 32 64 10 "$TH" 250037 | tee -a "$R"
$K bench encode --model "$OUT/e5-small" --threads "$TH" --iters 10 | tee -a "$R"
"$OUT/kormed-purego" bench encode --model "$OUT/e5-small" --threads "$TH" --iters 3 | tee -a "$R"
fi

echo "== mixed-length drug texts" >&2
/usr/bin/python3 - "$OUT/drug_texts.txt" <<'PY'
import csv, sys
rows = list(csv.DictReader(open("../shared/data/drugs/drug_data_20_per_product_type.csv", encoding="utf-8")))
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for r in rows:
        f.write(r["item_name"].strip() + "\n")
        d = " ".join(x for x in (r["type_definition"], r["main_ingredient"], r["appearance"]) if x and x != "NULL")
        f.write(d.replace("\n", " ").strip() + "\n")
PY
want mixed && $K bench mixed --model "$OUT/e5-small" --input "$OUT/drug_texts.txt" --threads "$TH" | sed 's/^{/{"bench":"mixed",/' | tee -a "$R"

if want memory; then
echo "== peak memory of kormed embed (streaming)" >&2
# Both inputs are drawn (seeded shuffle, cycled) from the same drug texts, so
# their longest batches match: peak memory is the weights plus the largest
# batch's workspace (B·T ≤ 8192 tokens), whatever the number of texts.
for n in 1000 10000; do
	/usr/bin/python3 -c "import random,itertools; L=[l for l in open('$OUT/drug_texts.txt',encoding='utf-8').read().split('\n') if l]; random.Random(7).shuffle(L); open('$OUT/embed_$n.txt','w',encoding='utf-8').write('\n'.join(itertools.islice(itertools.cycle(L),$n))+'\n')"
	/usr/bin/time -f '{"bench":"embed-memory","texts":'$n',"max_rss_kb":%M,"seconds":%e}' -o "$OUT/time_$n.json" \
		$K embed --model "$OUT/e5-small" --input "$OUT/embed_$n.txt" --output "$OUT/embed_$n.npy" --as passage --threads "$TH" --quiet
	cat "$OUT/time_$n.json" | tee -a "$R"
done
fi

if want micro; then
	echo "== micro-benchmarks (bench-out/micro.txt)" >&2
	{
		go test ./blas -run '^$' -bench '^BenchmarkSgemm(NN)?$' -benchtime 40x
		CGO_ENABLED=0 go test ./blas -run '^$' -bench '^BenchmarkSgemm$' -benchtime 10x
		go test ./tokenizer -run '^$' -bench '^Benchmark(Unigram|WordPiece|WordPieceUncased)$' -benchtime 2s
		/usr/bin/python3 oracle/tokenizers.py --bench
		go test ./bm25 -run '^$' -bench '^Benchmark(Build|Load)$' -benchtime 1x
		go test ./bm25 -run '^$' -bench '^BenchmarkSearch$' -benchtime 2s
		go test ./eval -run '^$' -bench . -benchtime 3x
	} 2>&1 | tee "$OUT/micro.txt"
fi

/usr/bin/python3 - "$R" "$OUT/summary.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# A partial run appends to the file: the last record of each kind wins.
enc = list({r["engine"]: r for r in rows if "engine" in r}.values())
out = []
ort = next((r for r in reversed(enc) if r["engine"].startswith("onnxruntime")), None)
pt = next((r for r in reversed(enc) if r["engine"].endswith("fp32")), None)
if ort and pt:
    out += ["| engine | seq/s | × ONNX Runtime | × PyTorch fp32 | GFLOP/s |", "|---|---:|---:|---:|---:|"]
    for r in enc:
        out.append("| %s | %.1f | %.2f | %.2f | %s |" % (r["engine"], r["seq_per_s"], r["seq_per_s"] / ort["seq_per_s"],
                   r["seq_per_s"] / pt["seq_per_s"], "%.0f" % r["gflop_per_s"] if "gflop_per_s" in r else ""))
mixed = [r for r in rows if r.get("bench") == "mixed"]
if mixed:
    r = mixed[-1]
    out.append("\nMixed-length drug texts (%d texts, mean %.1f tokens): input order %.1f texts/s, length-bucketed %.1f texts/s (×%.2f)"
               % (r["texts"], r["mean_tokens"], r["input_order_texts_per_s"], r["bucketed_texts_per_s"], r["bucketing_gain"]))
mem = sorted({r["texts"]: r for r in rows if r.get("bench") == "embed-memory"}.values(), key=lambda r: r["texts"])
if mem:
    out.append("\nkormed embed peak RSS: " + ", ".join("%d texts %.0f MiB (%.1fs)" % (r["texts"], r["max_rss_kb"] / 1024, r["seconds"]) for r in mem))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
