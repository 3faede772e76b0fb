#!/bin/sh
# Regenerates the decoder training fixtures decoder/testdata/grad-*.safetensors (deterministic)
# with oracle/decoder_train_reference.py, on two of make_decoder_fixtures.sh's tiny models
# (the same options; decoder/train_test.go writes them again):
#   tiny-llama        llama, seed 1, std 0.1, F32, untied lm_head, 2 layers
#   tiny-llama-tied   llama, seed 3, std 0.1, F16, tied embeddings, attention biases,
#                     head_dim 8, 3 layers; with the AdamW step (adamw.*)
# Run from the repository root: sh oracle/make_decoder_grad_fixtures.sh
set -eu
export OPENBLAS_CORETYPE=Haswell
go build -o /tmp/kormed-gradfix ./cmd/kormed
K=/tmp/kormed-gradfix
T=$(mktemp -d)
IDS=1,17,300,45,99,7,256,480,33,12,5,400,77,301,2,150
gen() { name=$1; shift; opts=$1; shift
  $K testmodel --shape tiny --std 0.1 --out $T/$name $opts
  /usr/bin/python3 oracle/decoder_train_reference.py --model $T/$name --ids $IDS --prompt 6 --threads 1 "$@" \
    --out decoder/testdata/grad-$name.safetensors
}
gen tiny-llama "--arch llama --seed 1"
gen tiny-llama-tied "--arch llama --seed 3 --dtype F16 --tie true --attention-bias --head-dim 8 --layers 3" --adamw
rm -rf $T
