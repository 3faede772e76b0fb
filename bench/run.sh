#!/usr/bin/env bash
# Runs kormed's speed and memory benchmarks next to the references in the
# same run and writes bench-out/results.jsonl + bench-out/summary.md:
#   - encode throughput at the multilingual-e5-small shape (random weights,
#     batch 32 × 64 tokens): kormed (oneDNN, and pure Go), PyTorch fp32 and
#     bf16-autocast, ONNX Runtime (onnxruntime-node) on the exported model;
#   - mixed-length drug texts with and without length bucketing;
#   - peak memory of `kormed embed` on 1,000 vs 10,000 texts.
#   - micro-benchmarks: sgemm, tokenizers against Debian's sentencepiece,
#     BM25 build/search/load (Go benchmark output in bench-out/micro.txt);
#   - a training step at the e5-small shape (32 pairs × 64 tokens, MNRL,
#     AdamW, word embeddings frozen): kormed (oneDNN, pure Go, with dropout)
#     against PyTorch fp32 and bf16 autocast;
#   - GradCache: peak RSS of a step at batch 32, 256 and 1,024 with
#     mini-batch 32, and without GradCache for contrast;
#   - the drug recipe end to end on the demo's model (trained from random
#     weights): wall time, drug-bench test NDCG@10 per query kind before and after;
#   - dense vector search (bench/vectorcmp, its own module): top-10 over 10,000
#     and 100,000 clustered 384-d vectors, kormed's exact, int8, bf16 and HNSW
#     indexes against chromem-go v0.7.0, one query at a time (~5 minutes).
#   - the search service (search): index build docs/s, heap and disk per
#     document at 10k and 100k; drug-bench quality and one-client latency per
#     mode, kormed's embedded index beside Weaviate 1.35.2 (scripts/weaviate.sh);
#     a 16-client load test per mode with the malformed-request sweep, on the
#     embedded backend and on Weaviate (~12 minutes; runs scripts/demo.sh for its
#     trained model and index).
#   - cluster (not in the default list: ~20 minutes): kormed on one Weaviate node and
#     on a 3-node cluster (scripts/weaviate.sh cluster; 3 shards x 3 replicas,
#     QUORUM): drug-bench quality per mode, a 16-client load test per mode
#     beside the embedded index, a node SIGKILLed and restarted during a load,
#     push rate of synthetic documents with precomputed vectors (bench index
#     --weaviate-url) and CLUSTER_DOCS of them (default 100,000) with each
#     node's memory.
#   - decoder (not in the default list: ~4 minutes; ~15 minutes and ~16 GiB of RAM with
#     DECODER_LAYERS=30): a decoder LM at EXAONE-3.5-2.4B's shape (random
#     weights, DECODER_LAYERS layers, default 8), 512-token prompt then 32
#     greedy tokens with the KV cache: kormed fp32 and --precision bf16, kormed
#     on BF16 weights, and on them quantized at load (--weights int8, int4),
#     PyTorch fp32 (bench/torch_decode.py), and llama.cpp (node-llama-cpp,
#     bench/llama_decode.mjs; skipped unless scripts/node-llama.sh ran) on the
#     BF16 model exported to GGUF at f16, q8_0 and q4_0, one after the
#     other (each holds the whole model); generation against the bandwidth bound.
#   - lmtrain (not in the default list: ~15 minutes and ~16 GiB of RAM at 30 layers): one
#     fine-tuning step of a decoder LM at EXAONE-3.5-2.4B's shape (random weights,
#     LMTRAIN_LAYERS layers, default 30; the decoder section's model folder when it exists):
#     LMTRAIN_SEQ tokens (default 512; the first half a masked prompt, the rest the trained
#     answer), the top LMTRAIN_TOP_N blocks (default 2) + final norm + LM head trainable,
#     causal-LM loss, clipping 1.0, AdamW lr 1e-5; PyTorch fp32 (bench/torch_train_lm.py)
#     then kormed, one after the other: seconds per step and peak RSS.
# Usage: bash bench/run.sh [THREADS] [SECTION...]   THREADS defaults to 2;
# sections: encode mixed memory micro train gradcache recipe vector search (default: all), cluster, decoder, lmtrain.
# ~40 minutes in all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
TH=${1:-2}
shift || true
SECTIONS=${*:-encode mixed memory micro train gradcache recipe vector search}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
OUT=bench-out
mkdir -p "$OUT"
R="$OUT/results.jsonl"
want encode && want mixed && want memory && want train && : >"$R" # a full run starts a fresh results file
# Debian's OpenBLAS misdetects these CPUs: give PyTorch its fastest kernels
# for this CPU (AVX-512: SkylakeX; else Haswell), whatever the environment
# says (some machines here preset Haswell). KORMED_OPENBLAS_CORETYPE overrides.
if grep -qw avx512f /proc/cpuinfo; then core=SkylakeX; else core=Haswell; fi
export OPENBLAS_CORETYPE=${KORMED_OPENBLAS_CORETYPE:-$core}
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
/usr/bin/python3 bench/torch_encode.py --model "$OUT/e5-small" --threads "$TH" --iters 5 --int8 2>/dev/null | tee -a "$R"
NODE_PATH="$OUT/node_modules" node bench/ort_encode.js "$OUT/e5-small.onnx" 32 64 10 "$TH" 250037 | tee -a "$R"
$K bench encode --model "$OUT/e5-small" --threads "$TH" --iters 10 | tee -a "$R"
$K bench encode --model "$OUT/e5-small" --threads "$TH" --iters 10 --precision bf16 | tee -a "$R"
$K bench encode --model "$OUT/e5-small" --threads "$TH" --iters 10 --precision int8 | tee -a "$R" || true # refused on CPUs without VNNI/AMX
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

if want train; then
echo "== train step: e5-small shape, 32 pairs x 64 tokens, MNRL + AdamW, word embeddings frozen, $TH threads" >&2
# PyTorch's first steps run 2-3x slower than its steady state (fresh
# allocations while glibc's malloc thresholds adapt), so both sides warm
# up for 3 steps and time the next 6.
/usr/bin/python3 bench/torch_train.py --model "$OUT/e5-small" --threads "$TH" --warmup 3 --iters 6 2>/dev/null | tee -a "$R"
/usr/bin/python3 bench/torch_train.py --model "$OUT/e5-small" --threads "$TH" --warmup 3 --iters 6 --bf16 2>/dev/null | tee -a "$R"
$K bench train --model "$OUT/e5-small" --threads "$TH" --warmup 3 --iters 6 | tee -a "$R"
$K bench train --model "$OUT/e5-small" --threads "$TH" --warmup 3 --iters 6 --precision bf16 | tee -a "$R"
$K bench train --model "$OUT/e5-small" --threads "$TH" --warmup 3 --iters 6 --dropout | sed 's/"engine":"kormed /"engine":"kormed +dropout /' | tee -a "$R"
"$OUT/kormed-purego" bench train --model "$OUT/e5-small" --threads "$TH" --warmup 1 --iters 2 | tee -a "$R"
fi

if want gradcache; then
echo "== GradCache: peak RSS of one step vs batch size (mini-batch 32), and without GradCache" >&2
# Without GradCache every activation of the batch is held at once: about
# 40 MiB per pair at this shape, so 1,024 pairs (~40 GiB) cannot run on a
# 24 GiB machine; the contrast stops at 256.
for mb in 32 0; do
	sizes="32 256 1024"
	[ $mb = 0 ] && sizes="32 128 256"
	for b in $sizes; do
		/usr/bin/time -f '{"bench":"gradcache-memory","batch":'$b',"mini_batch":'$mb',"max_rss_kb":%M,"seconds":%e}' -o "$OUT/gc.json" \
			$K bench train --model "$OUT/e5-small" --threads "$TH" --batch $b --mini-batch $mb --iters 1 --warmup 0 >/dev/null
		cat "$OUT/gc.json" | tee -a "$R"
	done
done
fi

if want recipe; then
echo "== the drug recipe end to end on the demo's model (from random weights)" >&2
RO="$OUT/recipe"
rm -rf "$RO" && mkdir -p "$RO"
$K testmodel --arch xlmr --shape small --seed 1 --out "$RO/demo-model" 2>/dev/null
$K data drug-bench --input ../shared/data/drugs --output "$RO/drug-bench" --train-output "$RO/drug-train" --seed 42 2>/dev/null
kinds() { # model name → one JSON line per query kind
	for split in test test-name test-ingredient test-type test-mixed; do
		$K eval --retriever dense --model "$1" --name "$2-$split" --data "$RO/drug-bench" --split $split --output "$RO/runs" --threads "$TH" >/dev/null 2>&1
		/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({"bench":"recipe","model":sys.argv[2],"split":sys.argv[3],"ndcg@10":r["metrics"]["NDCG@10"],"recall@10":r["metrics"]["Recall@10"]}))' \
			"$RO/runs/results/drug-bench__$2-$split.json" "$2" "$split"
	done
}
kinds "$RO/demo-model" untrained | tee -a "$R"
/usr/bin/time -f '{"bench":"recipe-train","seconds":%e,"max_rss_kb":%M}' -o "$RO/time.json" env DRUG_TRAIN="$(cd "$RO/drug-train" && pwd)" \
	$K train recipes/drug.toml --model "$RO/demo-model" --output "$RO/train" --threads "$TH" --no-progress \
	--set lr=1e-3 --set freeze.embeddings=none --set products.epochs=2 >"$RO/train.log" 2>&1
cat "$RO/time.json" | tee -a "$R"
kinds "$RO/train/model" trained | tee -a "$R"
fi

if want vector; then
echo "== vector: dense top-10, clustered 384-d vectors, kormed flat/int8/bf16/HNSW vs chromem-go, GOMAXPROCS $TH" >&2
RA="$PWD/$R" # the program runs in its own module's folder
for n in 10000 100000; do
	(cd bench/vectorcmp && GOMAXPROCS=$TH go run . -n $n -dim 384 -jsonl "$RA") | tee "$OUT/vector_$n.md"
done
fi

if want search; then
echo "== search service: index build, embedded vs Weaviate on the drug benchmark, load test" >&2
SO="$OUT/search"
mkdir -p "$SO"
# The demo trains the drug recipe and indexes the products with the result.
[ -f "$SO/demo/index/index.json" ] || THREADS=$TH bash scripts/demo.sh "$SO/demo" >"$SO/demo.log" 2>&1
DM="$SO/demo/train/model"
IX="$SO/demo/index"
$K bench index --docs 10000,100000 2>/dev/null | tee "$OUT/search_index.md"
export KORMED_WEAVIATE_PORT=18290 KORMED_WEAVIATE_GRPC_PORT=50291 KORMED_WEAVIATE_STATE="$PWD/$SO/weaviate"
WURL=$(bash scripts/weaviate.sh start)
trap 'bash scripts/weaviate.sh stop >/dev/null 2>&1 || true' EXIT
$K index --corpus ../shared/data/drugs --out "$IX" --model "$DM" --dur testdata/dur/dur_sample.json --quiet \
	--backend weaviate --weaviate-url "$WURL" --class BenchDrugs --threads "$TH"
# No wait after the push: with kormed's terms property, queries sent straight
# after it got the same BM25 top 10 as later ones (up to the order of ties in
# 3 of 861 queries) and bench search run at once the same NDCG@10. The 60 s
# wait here was for the kagome_kr class, whose BM25 answered from an
# incomplete index for tens of seconds after a batch import.
$K bench search --index "$IX" --model "$DM" --data "$SO/demo/drug-bench" --weaviate-url "$WURL" --class BenchDrugs \
	--threads "$TH" | tee "$OUT/search_quality.md"
load() { # backend flags...
	# 16 clients: let all of them in (the default --max-inflight-search sheds
	# searches past 4 x --max-inflight with 429s, which would be measured instead).
	$K serve "$@" --model "$DM" --addr 127.0.0.1:18299 --threads "$TH" --log-level warn \
		--max-inflight 16 --max-inflight-search 16 >"$SO/serve.log" 2>&1 &
	local pid=$!
	for _ in $(seq 100); do curl -sf http://127.0.0.1:18299/healthz >/dev/null && break; sleep 0.2; done
	$K bench load --url http://127.0.0.1:18299 --queries "$SO/demo/drug-bench/queries.jsonl" --clients 16 --duration 10s || true
	kill -TERM $pid
	wait $pid || true
}
{ echo "embedded:"; load --index "$IX"; echo; echo "Weaviate:"; load --backend weaviate --weaviate-url "$WURL" --class BenchDrugs; } | tee "$OUT/search_load.md"
bash scripts/weaviate.sh stop
trap - EXIT
fi

if want cluster; then
echo "== Weaviate on one node and on a 3-node cluster: quality, load, a node lost under load, push rate, a large corpus" >&2
CO="$OUT/cluster"
SO="$OUT/search"
mkdir -p "$CO"
[ -f "$SO/demo/index/index.json" ] || THREADS=$TH bash scripts/demo.sh "$SO/demo" >"$SO/demo.log" 2>&1
DM="$SO/demo/train/model"
export KORMED_WEAVIATE_PORT=18290 KORMED_WEAVIATE_GRPC_PORT=50291 KORMED_WEAVIATE_STATE="$PWD/$CO/weaviate"
export KORMED_WEAVIATE_CLUSTER_PORT=19280 KORMED_WEAVIATE_CLUSTER_GRPC_PORT=51281 KORMED_WEAVIATE_CLUSTER_STATE="$PWD/$CO/cluster"
trap 'bash scripts/weaviate.sh stop >/dev/null 2>&1 || true; bash scripts/weaviate.sh cluster stop >/dev/null 2>&1 || true' EXIT
W1=$(bash scripts/weaviate.sh start)
W3=$(bash scripts/weaviate.sh cluster start 3)
rss() { # label: each Weaviate process's resident and peak memory
	local pid
	for n in 1 2 3; do
		pid=$(bash scripts/weaviate.sh cluster pid $n 2>/dev/null) || continue
		echo "$1 node$n: $(awk '/VmRSS|VmHWM/ {printf "%s %.0f MB  ", $1, $2/1024}' /proc/$pid/status)"
	done
}
serve() { # port backend flags...: start kormed serve in the background, wait until it answers
	local port=$1
	shift
	$K serve "$@" --model "$DM" --addr 127.0.0.1:$port --threads "$TH" --log-level warn \
		--max-inflight 16 --max-inflight-search 16 >"$CO/serve-$port.log" 2>&1 &
	SPID=$!
	for _ in $(seq 150); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && return; sleep 0.2; done
	echo "kormed serve on $port did not start" >&2
	return 1
}
Q="$SO/demo/drug-bench/queries.jsonl"
{
	for setup in "1 $W1" "3 $W3"; do
		set -- $setup
		rm -rf "$CO/index-$1"
		cp -r "$SO/demo/index" "$CO/index-$1"
		t0=$(date +%s.%N)
		$K index --corpus ../shared/data/drugs --out "$CO/index-$1" --model "$DM" --dur testdata/dur/dur_sample.json --quiet \
			--backend weaviate --weaviate-url "$2" --class BenchDrugs --threads "$TH" >/dev/null
		took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
		echo "kormed index --backend weaviate onto $1 node(s) (2,268 drug products: the folder re-indexed with the model, then pushed; see its 'pushed' line): $took s"
		# On the cluster, BM25 answered from an incomplete index right after the
		# push (measured: NDCG@10 43.0 at once, 89.5 minutes later); wait.
		[ "$1" = 1 ] || sleep 60
		echo
		echo "drug-bench quality, $1 node(s):"
		$K bench search --index "$CO/index-$1" --model "$DM" --data "$SO/demo/drug-bench" --weaviate-url "$2" --class BenchDrugs --threads "$TH"
		echo
	done
} 2>&1 | grep -v "^  \(setting\|BM25 alone\|relative\|dense alone\|rrf\)" | tee "$CO/quality.md"
{
	for setup in "embedded --index $SO/demo/index" "1-node --backend weaviate --weaviate-url $W1 --class BenchDrugs" "3-node --backend weaviate --weaviate-url $W3 --class BenchDrugs"; do
		set -- $setup
		name=$1
		shift
		serve 18299 "$@"
		echo "$name, 16 clients:"
		$K bench load --url http://127.0.0.1:18299 --queries "$Q" --clients 16 --duration 10s --sweep=false || true
		kill -TERM $SPID
		wait $SPID || true
		echo
	done
	# A node lost under load: node 2 is SIGKILLed 8 s into a 30 s hybrid
	# load on the cluster and restarted (with its data) 10 s later.
	serve 18299 --backend weaviate --weaviate-url "$W3" --class BenchDrugs
	rss "before the loss:"
	(sleep 8 && bash scripts/weaviate.sh cluster kill 2 && sleep 10 && bash scripts/weaviate.sh cluster restart 2 >/dev/null) &
	FPID=$!
	echo "3-node, node 2 killed at 8 s and restarted at 18 s, 16 clients, hybrid, 30 s:"
	$K bench load --url http://127.0.0.1:18299 --queries "$Q" --clients 16 --duration 30s --requests 1000000 --modes hybrid --sweep=false || true
	wait $FPID || true
	kill -TERM $SPID
	wait $SPID || true
} 2>&1 | tee "$CO/load.md"
{
	$K bench index --weaviate-url "$W1" --docs 20000 --workers 2
	$K bench index --weaviate-url "$W3" --docs 20000 --workers 2 --shards 3 --replicas 3
	$K bench index --weaviate-url "$W3" --docs 20000 --workers 2 --shards 3 --replicas 1
	# The large corpus: CLUSTER_DOCS documents (default 100,000) on 3 shards
	# without replicas, then each node's memory.
	$K bench index --weaviate-url "$W3" --docs "${CLUSTER_DOCS:-100000}" --workers 2 --shards 3 --replicas 1 --keep
	rss "after ${CLUSTER_DOCS:-100000} documents:"
} 2>&1 | grep -v "pushed in" | tee "$CO/push.md"
bash scripts/weaviate.sh stop
bash scripts/weaviate.sh cluster stop
trap - EXIT
fi

if want decoder; then
DL=${DECODER_LAYERS:-8}
echo "== decoder: EXAONE-3.5-2.4B shape, $DL layers, 512-token prompt + 32 greedy tokens, $TH threads" >&2
DM="$OUT/exaone-2.4b-l$DL"
[ -f "$DM/model.safetensors" ] || $K testmodel --arch exaone --shape exaone-2.4b --layers "$DL" --seed 1 --out "$DM" 2>/dev/null
[ -f "$DM-bf16/model.safetensors" ] || $K testmodel --arch exaone --shape exaone-2.4b --layers "$DL" --seed 1 --dtype BF16 --out "$DM-bf16" 2>/dev/null
/usr/bin/python3 bench/torch_decode.py --model "$DM" --prompt 512 --new 32 --threads "$TH" 2>/dev/null | tee -a "$R"
$K bench decode --model "$DM" --prompt 512 --new 32 --threads "$TH" | tee -a "$R"
$K bench decode --model "$DM" --prompt 512 --new 32 --threads "$TH" --precision bf16 | tee -a "$R"
$K bench decode --model "$DM-bf16" --prompt 512 --new 32 --threads "$TH" | sed 's/"engine":"kormed /"engine":"kormed BF16-weights /' | tee -a "$R"
$K bench decode --model "$DM-bf16" --prompt 512 --new 32 --threads "$TH" --precision bf16 | sed 's/"engine":"kormed /"engine":"kormed BF16-weights /' | tee -a "$R"
$K bench decode --model "$DM-bf16" --prompt 512 --new 32 --threads "$TH" --weights int8 | sed 's/"engine":"kormed /"engine":"kormed int8-weights /' | tee -a "$R"
$K bench decode --model "$DM-bf16" --prompt 512 --new 32 --threads "$TH" --weights int4 | sed 's/"engine":"kormed /"engine":"kormed int4-weights /' | tee -a "$R"
$K bench decode --model "$DM-bf16" --prompt 512 --new 32 --threads "$TH" --weights int8 --precision bf16 | sed 's/"engine":"kormed /"engine":"kormed int8-weights /' | tee -a "$R"
$K bench decode --model "$DM-bf16" --prompt 512 --new 32 --threads "$TH" --weights int4 --precision bf16 | sed 's/"engine":"kormed /"engine":"kormed int4-weights /' | tee -a "$R"
# llama.cpp on the same BF16-weight model exported to GGUF at the types that
# match kormed's --weights bf16, int8 and int4 (scripts/node-llama.sh installs it).
NL=${KORMED_NODE_LLAMA:-$HOME/.cache/kormed/node-llama-cpp}
if [ -d "$NL/node_modules/node-llama-cpp" ]; then
	for t in f16 q8_0 q4_0; do
		[ -f "$DM-$t.gguf" ] || $K export gguf "$DM-bf16" "$DM-$t.gguf" --type "$t" >&2
		KORMED_NODE_LLAMA="$NL" node bench/llama_decode.mjs "$DM-$t.gguf" --type "$t" --prompt 512 --new 32 --threads "$TH" | tee -a "$R"
	done
else
	echo "decoder: llama.cpp skipped: node-llama-cpp is not installed in $NL (run scripts/node-llama.sh)" >&2
fi
fi

if want lmtrain; then
LL=${LMTRAIN_LAYERS:-30}
LS=${LMTRAIN_SEQ:-512}
LN=${LMTRAIN_TOP_N:-2}
echo "== lmtrain: EXAONE-3.5-2.4B shape, $LL layers, top $LN + final norm + LM head trainable, $LS tokens (half prompt, half answer), $TH threads" >&2
LM="$OUT/exaone-2.4b-l$LL" # the decoder section's folder
[ -f "$LM/model.safetensors" ] || $K testmodel --arch exaone --shape exaone-2.4b --layers "$LL" --seed 1 --out "$LM" 2>/dev/null
# Two untimed steps first (PyTorch's first steps allocate afresh), then three timed.
/usr/bin/python3 bench/torch_train_lm.py --model "$LM" --seq "$LS" --top-n "$LN" --warmup 2 --iters 3 --threads "$TH" 2>/dev/null | tee -a "$R"
$K bench train-lm --model "$LM" --seq "$LS" --top-n "$LN" --warmup 2 --iters 3 --threads "$TH" | tee -a "$R"
$K bench train-lm --model "$LM" --seq "$LS" --top-n "$LN" --warmup 2 --iters 3 --threads "$TH" --frozen-weights bf16 | tee -a "$R"
$K bench train-lm --model "$LM" --seq "$LS" --top-n "$LN" --warmup 2 --iters 3 --threads "$TH" --frozen-weights bf16 --precision bf16 | tee -a "$R"
fi

/usr/bin/python3 - "$R" "$OUT/summary.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# A partial run appends to the file: the last record of each kind wins.
enc = list({r["engine"]: r for r in rows if "engine" in r and "seq_per_s" in r}.values())
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
tr = list({r["engine"]: r for r in rows if r.get("bench") == "train" and "engine" in r}.values())
ptt = next((r for r in reversed(tr) if r["engine"].endswith("fp32")), None)
if ptt:
    out += ["\nTraining step (e5-small shape, %d pairs × %d tokens, MNRL + AdamW, word embeddings frozen, %d threads):\n" % (ptt["batch"], ptt["seq"], ptt["threads"]),
            "| engine | s/step | pairs/s | × PyTorch fp32 |", "|---|---:|---:|---:|"]
    for r in tr:
        out.append("| %s | %.2f | %.1f | %.2f |" % (r["engine"], r["seconds_per_step"], r["pairs_per_s"], ptt["seconds_per_step"] / r["seconds_per_step"]))
gc = [r for r in rows if r.get("bench") == "gradcache-memory"]
if gc:
    out += ["\nPeak RSS of one training step (MiB; seconds in brackets):\n", "| batch | GradCache (mini-batch 32) | no GradCache |", "|---:|---:|---:|"]
    for b in sorted({r["batch"] for r in gc}):
        cell = lambda mb: next(("%.0f (%.0fs)" % (r["max_rss_kb"] / 1024, r["seconds"]) for r in reversed(gc) if r["batch"] == b and r["mini_batch"] == mb), "")
        out.append("| %d | %s | %s |" % (b, cell(32), cell(0) or "not run (needs ~40 GiB)"))
rc = [r for r in rows if r.get("bench") == "recipe"]
if rc:
    out += ["\nDrug recipe on the demo model (NDCG@10 ×100 on drug-bench):\n", "| split | untrained | trained |", "|---|---:|---:|"]
    for sp in ["test", "test-name", "test-ingredient", "test-type", "test-mixed"]:
        get = lambda m: next(("%.2f" % (100 * r["ndcg@10"]) for r in reversed(rc) if r["model"] == m and r["split"] == sp), "")
        out.append("| %s | %s | %s |" % (sp, get("untrained"), get("trained")))
    t = next((r for r in reversed(rows) if r.get("bench") == "recipe-train"), None)
    if t:
        out.append("\nThree stages trained in %.0f s (peak RSS %.0f MiB)." % (t["seconds"], t["max_rss_kb"] / 1024))
vec = list({(r["n"], r["engine"]): r for r in rows if r.get("bench") == "vector"}.values())
if vec:
    out += ["\nDense top-10 search, clustered 384-d vectors, one query at a time (bench/vectorcmp; bytes/vector: the Flat's for flat, what int8, bf16 and HNSW add to it, chromem-go's without the vectors it keeps by reference):\n",
            "| rows | engine | p50 ms | p99 ms | recall@10 | build docs/s | index bytes/vector |", "|---:|---|---:|---:|---:|---:|---:|"]
    for r in vec:
        out.append("| %d | %s | %.3f | %.3f | %.4f | %.0f | %.0f |" % (r["n"], r["engine"], r["p50_ms"], r["p99_ms"], r["recall_at_10"],
                   r["build_docs_per_s"], r["index_bytes"] / r["n"]))
lm = [r for r in rows if r.get("bench") == "train-lm"]
if lm:
    out += ["\nDecoder LM fine-tuning step (EXAONE-3.5-2.4B shape, random weights; top N blocks + final norm + LM head, AdamW; "
            "× PyTorch: its s/step over the engine's, RSS: the engine's peak over PyTorch's):\n",
            "| layers | seq | top N | engine | s/step | min s/step | × PyTorch | peak RSS GiB | RSS × PyTorch | first loss | trained/all params |",
            "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for shape in sorted({(r["layers"], r["seq"], r["top_n"]) for r in lm}):
        group = list({(r["engine"], r.get("frozen_weights", "fp32")): r for r in lm if (r["layers"], r["seq"], r["top_n"]) == shape}.values())
        ref = next((r for r in reversed(group) if r["engine"].startswith("pytorch")), None)
        for r in group:
            eng = r["engine"] + ("" if r.get("frozen_weights", "fp32") == "fp32" else ", frozen weights " + r["frozen_weights"])
            out.append("| %d | %d | %d | %s | %.2f | %.2f | %s | %.2f | %s | %.6f | %.0fM / %.0fM |" % (
                shape[0], shape[1], shape[2], eng, r["seconds_per_step"], r["min_seconds_per_step"],
                "%.2f" % (ref["seconds_per_step"] / r["seconds_per_step"]) if ref else "",
                r["peak_rss_mib"] / 1024, "%.2f" % (r["peak_rss_mib"] / ref["peak_rss_mib"]) if ref else "",
                r["loss_first"], r["trainable_params"] / 1e6, r["all_params"] / 1e6))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
