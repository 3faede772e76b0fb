#!/bin/sh
# Regenerates the decoder golden fixtures in decoder/testdata (deterministic). The models
# themselves are not checked in: the Go tests write them again with testmodel.WriteDecoder
# from the same options (decoder/oracle_test.go's fixtures table, which must match this).
#   tiny-llama        llama, seed 1, std 0.1, F32, untied lm_head
#   tiny-exaone       exaone, seed 2, std 0.1, BF16, two shards with an index
#   tiny-llama-tied   llama, seed 3, std 0.1, F16, tied embeddings, attention biases,
#                     head_dim 8 (q/k/v narrower than hidden), 3 layers
# Run from the repository root: sh oracle/make_decoder_fixtures.sh
set -eu
export OPENBLAS_CORETYPE=Haswell
go build -o /tmp/kormed-decfix ./cmd/kormed
K=/tmp/kormed-decfix
T=$(mktemp -d)
IDS=1,17,300,45,99,7,256,480,33,12,5,400,77,301,2,150
gen() { name=$1; shift
  $K testmodel --shape tiny --std 0.1 --out $T/$name "$@"
  /usr/bin/python3 oracle/decoder_reference.py --model $T/$name --ids $IDS --new 10 --threads 1 \
    --out decoder/testdata/$name.safetensors
}
gen tiny-llama --arch llama --seed 1
gen tiny-exaone --arch exaone --seed 2 --dtype BF16 --shards 2
gen tiny-llama-tied --arch llama --seed 3 --dtype F16 --tie true --attention-bias --head-dim 8 --layers 3
rm -rf $T
