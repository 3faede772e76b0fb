#!/bin/sh
# Regenerates the tiny test models and their golden fixtures (deterministic):
#   testdata/models/tiny-bert   BertModel, WordPiece tokenizer, CLS pooling, pooler, F32
#   testdata/models/tiny-xlmr   XLMRobertaModel saved as XLMRobertaForMaskedLM would be
#                               ("roberta." prefix, no pooler, LM head), F16, mean + Normalize
# and, for each, fixtures/golden.safetensors (sentence_bert_config max_seq_length 64) and
# fixtures/golden_len16.safetensors (--max-length 16) from oracle/reference.py.
# Run from the repository root: sh oracle/make_fixtures.sh
set -eu
# Debian's OpenBLAS misdetects these CPUs; the checked-in fixtures were made with its SkylakeX
# kernels (AVX-512; some machines here preset another core type, which changes the last bits).
export OPENBLAS_CORETYPE=SkylakeX
go build -o /tmp/kormed-fixtures ./cmd/kormed
K=/tmp/kormed-fixtures
rm -rf testdata/models/tiny-bert testdata/models/tiny-xlmr
$K testmodel --arch bert --shape tiny --seed 1 --std 0.2 --pooling cls --normalize=false --extras --out testdata/models/tiny-bert
$K testmodel --arch xlmr --shape tiny --seed 2 --std 0.2 --dtype F16 --prefix roberta. --no-pooler --extras --out testdata/models/tiny-xlmr
for m in tiny-bert tiny-xlmr; do
  d=testdata/models/$m
  mkdir -p $d/fixtures
  cp oracle/fixture_texts.json $d/fixtures/texts.json
  /usr/bin/python3 oracle/reference.py --model $d --texts $d/fixtures/texts.json --threads 1 --out $d/fixtures/golden.safetensors
  /usr/bin/python3 oracle/reference.py --model $d --texts $d/fixtures/texts.json --max-length 16 --threads 1 --out $d/fixtures/golden_len16.safetensors
done
