#!/usr/bin/env bash
# The main job, end to end on this machine (no downloads): build kormed,
# build the Korean drug retrieval benchmark from ../shared/data/drugs,
# evaluate Korean BM25 (each analyzer) and a dense encoder on it, write the
# leaderboard (markdown, HTML, PNG) and a collapse diagnosis, and embed the
# drug product names. Output goes to demo-out/ (or $1).
#
# With a real model in the Hugging Face cache (or a folder), pass it as
# MODEL=intfloat/multilingual-e5-small; by default a tiny random-weight
# XLM-R encoder generated here stands in for it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
OUT=${1:-demo-out}
DATA=${DATA:-../shared/data/drugs}
mkdir -p "$OUT"
go build -o "$OUT/kormed" ./cmd/kormed
K="$OUT/kormed"
MODEL=${MODEL:-}
if [ -z "$MODEL" ]; then
	MODEL="$OUT/tiny-xlmr"
	$K testmodel --arch xlmr --shape tiny --seed 1 --out "$MODEL"
fi
$K data drug-bench --input "$DATA" --output "$OUT/drug-bench" --train-output "$OUT/drug-train" --seed 42
$K eval --retriever bm25,dense --analyzer bigram,morph,union --model "$MODEL" \
	--data "$OUT/drug-bench" --split test --output "$OUT/runs" --diagnose
awk -F'","' 'NR > 1 && NR <= 501 { print $5 }' "$DATA/drug_data_20_per_product_type.csv" >"$OUT/drug-names.txt"
$K embed --model "$MODEL" --input "$OUT/drug-names.txt" --as passage --output "$OUT/drug-names.npy"
echo
echo "Leaderboard: $OUT/runs/leaderboard.md, .html, .png; embeddings: $OUT/drug-names.npy"
