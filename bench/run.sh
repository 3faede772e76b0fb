#!/usr/bin/env bash
# Runs kormed's speed and memory benchmarks next to the references in the
# same run and writes bench-out/results.jsonl + bench-out/summary.md:
#   - encode throughput at the multilingual-e5-small shape (random weights,
#     batch 32 × 64 tokens): kormed (oneDNN, and pure Go), PyTorch fp32 and
#     bf16-autocast, ONNX Runtime (onnxruntime-node) on the exported model;
#   - mixed-length drug texts with and without length bucketing;
#   - peak memory of `kormed embed` on 1,000 vs 10,000 texts.
# Usage: bash bench/run.sh [THREADS]   (default 2). Takes ~10–15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
TH=${1:-2}
OUT=bench-out
mkdir -p "$OUT"
R="$OUT/results.jsonl"
: >"$R"
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX} # Debian's OpenBLAS misdetects these CPUs
export OMP_NUM_THREADS=$TH
go build -o "$OUT/kormed" ./cmd/kormed
CGO_ENABLED=0 go build -o "$OUT/kormed-purego" ./cmd/kormed
K="$OUT/kormed"
[ -f "$OUT/e5-small/model.safetensors" ] || $K testmodel --arch bert --shape e5-small --seed 1 --out "$OUT/e5-small"
if [ ! -d "$OUT/node_modules/onnxruntime-node" ]; then
	(cd "$OUT" && npm install --ignore-scripts --no-audit --no-fund --no-save onnxruntime-node@1.30.0 >/dev/null)
fi

echo "== encode: batch 32 x 64 tokens, e5-small shape, $TH threads" >&2
/usr/bin/python3 bench/torch_encode.py --model "$OUT/e5-small" --threads "$TH" --iters 5 --onnx "$OUT/e5-small.onnx" 2>/dev/null | tee -a "$R"
/usr/bin/python3 bench/torch_encode.py --model "$OUT/e5-small" --threads "$TH" --iters 5 --bf16 2>/dev/null | tee -a "$R"
NODE_PATH="$OUT/node_modules" node bench/ort_encode.js "$OUT/e5-small.onnx" 32 64 10 "$TH" 250037 | tee -a "$R"
$K bench encode --model "$OUT/e5-small" --threads "$TH" --iters 10 | tee -a "$R"
"$OUT/kormed-purego" bench encode --model "$OUT/e5-small" --threads "$TH" --iters 3 | tee -a "$R"

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
$K bench mixed --model "$OUT/e5-small" --input "$OUT/drug_texts.txt" --threads "$TH" | sed 's/^{/{"bench":"mixed",/' | tee -a "$R"

echo "== peak memory of kormed embed (streaming)" >&2
for n in 1000 10000; do
	/usr/bin/python3 -c "import sys,itertools; L=open('$OUT/drug_texts.txt',encoding='utf-8').read().split('\n'); L=[l for l in L if l]; open('$OUT/embed_$n.txt','w',encoding='utf-8').write('\n'.join(itertools.islice(itertools.cycle(L),$n))+'\n')"
	/usr/bin/time -f '{"bench":"embed-memory","texts":'$n',"max_rss_kb":%M,"seconds":%e}' -o "$OUT/time_$n.json" \
		$K embed --model "$OUT/e5-small" --input "$OUT/embed_$n.txt" --output "$OUT/embed_$n.npy" --threads "$TH"
	cat "$OUT/time_$n.json" | tee -a "$R"
done

/usr/bin/python3 - "$R" "$OUT/summary.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
enc = [r for r in rows if "engine" in r]
ort = next(r for r in enc if r["engine"].startswith("onnxruntime"))
pt = next(r for r in enc if r["engine"].endswith("fp32"))
out = ["| engine | seq/s | × ONNX Runtime | × PyTorch fp32 | GFLOP/s |", "|---|---:|---:|---:|---:|"]
for r in enc:
    out.append("| %s | %.1f | %.2f | %.2f | %s |" % (r["engine"], r["seq_per_s"], r["seq_per_s"] / ort["seq_per_s"],
               r["seq_per_s"] / pt["seq_per_s"], "%.0f" % r["gflop_per_s"] if "gflop_per_s" in r else ""))
for r in rows:
    if r.get("bench") == "mixed":
        out.append("\nMixed-length drug texts (%d texts, mean %.1f tokens): input order %.1f texts/s, length-bucketed %.1f texts/s (×%.2f)"
                   % (r["texts"], r["mean_tokens"], r["input_order_texts_per_s"], r["bucketed_texts_per_s"], r["bucketing_gain"]))
mem = [r for r in rows if r.get("bench") == "embed-memory"]
if mem:
    out.append("\nkormed embed peak RSS: " + ", ".join("%d texts %.0f MiB (%.1fs)" % (r["texts"], r["max_rss_kb"] / 1024, r["seconds"]) for r in mem))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
