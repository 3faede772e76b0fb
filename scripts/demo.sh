#!/usr/bin/env bash
# The main job, end to end on this machine (no downloads): build kormed,
# build the Korean drug retrieval benchmark and its training triplets from
# ../shared/data/drugs, evaluate Korean BM25 (each analyzer) and the
# untrained dense encoder, fine-tune the encoder with the three-stage drug
# recipe (recipes/drug.toml: drug types → DUR types → products), evaluate
# the trained encoder, write the leaderboard (markdown, HTML, PNG) with all
# of them and a collapse diagnosis, and embed the drug product names with
# the trained model, then index the drug products (BM25 + the trained
# model's vectors + metadata + the sample DUR flags) for the search
# service, measure hybrid search, and print the command that serves it.
# Output goes to demo-out/ (or the first argument); about 4 minutes on 2
# cores. With --serve it goes on to serve the index in the foreground
# (Ctrl-C stops it); without, it finishes on its own.
#
# No pretrained weights can be downloaded here, so by default the recipe
# trains a small encoder (hidden 128, 2 layers, the drug-text Unigram
# tokenizer) from random initialisation, with the recipe's learning rates
# raised for training from scratch. With a real model in the Hugging Face
# cache (or a folder), MODEL=intfloat/multilingual-e5-small runs the recipe
# exactly as written (fine-tuning).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
SERVE=0
ARGS=()
for a in "$@"; do
	case "$a" in
	--serve) SERVE=1 ;;
	*) ARGS+=("$a") ;;
	esac
done
OUT=${ARGS[0]:-demo-out}
ADDR=${ADDR:-127.0.0.1:8080}
DATA=${DATA:-../shared/data/drugs}
THREADS=${THREADS:-0}
mkdir -p "$OUT"
go build -o "$OUT/kormed" ./cmd/kormed
K="$OUT/kormed"
MODEL=${MODEL:-}
SCRATCH=()
if [ -z "$MODEL" ]; then
	MODEL="$OUT/demo-model"
	$K testmodel --arch xlmr --shape small --seed 1 --out "$MODEL"
	# From random weights: a higher learning rate, every parameter trained
	# (the recipe freezes the word embeddings of a pretrained model), and a
	# second pass over the product triplets.
	SCRATCH=(--set lr=1e-3 --set freeze.embeddings=none --set products.epochs=2)
fi
$K data drug-bench --input "$DATA" --output "$OUT/drug-bench" --train-output "$OUT/drug-train" --seed 42
rm -rf "$OUT/runs"
$K eval --retriever bm25 --analyzer bigram,morph,union --data "$OUT/drug-bench" --split test --output "$OUT/runs"
$K eval --retriever dense --model "$MODEL" --name dense-untrained --data "$OUT/drug-bench" --split test --output "$OUT/runs" --threads "$THREADS"

# Fine-tune: three stages, each saved as a sentence-transformers folder.
rm -rf "$OUT/train"
DRUG_DATA="$(cd "$DATA" && pwd)" DRUG_TRAIN="$(cd "$OUT/drug-train" && pwd)" \
	$K train recipes/drug.toml --model "$MODEL" --output "$OUT/train" --threads "$THREADS" "${SCRATCH[@]}"

$K eval --retriever dense --model "$OUT/train/model" --name dense-trained --data "$OUT/drug-bench" --split test \
	--output "$OUT/runs" --diagnose --threads "$THREADS"
awk -F'","' 'NR > 1 && NR <= 501 { print $5 }' "$DATA/drug_data_20_per_product_type.csv" >"$OUT/drug-names.txt"
$K embed --model "$OUT/train/model" --input "$OUT/drug-names.txt" --as passage --output "$OUT/drug-names.npy" --threads "$THREADS"

# The search service: index the products with the trained model, measure
# hybrid search (the service's fusion) beside BM25 and dense.
$K index --corpus "$DATA" --out "$OUT/index" --model "$OUT/train/model" --dur testdata/dur/dur_sample.json \
	--threads "$THREADS" --quiet
# Hybrid three ways: calibrated without labels on the corpus itself (what
# 'kormed index' stores for the service), tuned on the benchmark's train
# queries (--dev), and the old fixed default (relative 0.4).
$K eval --retriever hybrid --model "$OUT/train/model" --data "$OUT/drug-bench" --split test --output "$OUT/runs" \
	--alpha auto,0.4 --fusion relative --threads "$THREADS" >/dev/null
$K eval --retriever hybrid --model "$OUT/train/model" --data "$OUT/drug-bench" --split test --output "$OUT/runs" \
	--dev train --threads "$THREADS" >/dev/null
echo
cat "$OUT/runs/leaderboard.md"
echo
echo "Leaderboard: $OUT/runs/leaderboard.md, .html, .png"
echo "Trained model: $OUT/train/model (sentence-transformers folder; train log $OUT/train/train.jsonl, loss curve $OUT/train/loss.png)"
echo "Embeddings of 500 drug names: $OUT/drug-names.npy"
echo "Search index: $OUT/index (2,268 products, BM25 + dense + DUR flags from testdata/dur, a hand-written sample)"
echo
echo "Serve it:  $K serve --index $OUT/index --model $OUT/train/model --addr $ADDR"
echo "then open: http://$ADDR/"
if [ "$SERVE" = 1 ]; then
	exec "$K" serve --index "$OUT/index" --model "$OUT/train/model" --addr "$ADDR" --threads "$THREADS"
fi
