#!/usr/bin/env bash
# Installs llama.cpp for gguf's comparison test (TestLlamaCppGreedy): the
# npm package node-llama-cpp, with its prebuilt CPU binaries, outside the
# repository in ~/.cache/kormed/node-llama-cpp (or $KORMED_NODE_LLAMA).
# Needs node ≥ 20 and the npm registry; about 0.7 GB (npm also fetches the
# package's optional GPU builds). Not part of deps.sh: the test skips,
# saying so, where this has not run.
set -euo pipefail
version=3.22.1 # llama.cpp as node-llama-cpp 3.22.1 bundles it; tested
dir=${KORMED_NODE_LLAMA:-$HOME/.cache/kormed/node-llama-cpp}
command -v npm >/dev/null || { echo "node-llama: npm is not installed" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"kormed-node-llama","private":true,"type":"module"}' >package.json
npm install --no-audit --no-fund "node-llama-cpp@$version" >&2
echo "node-llama: installed in $dir; run: go test ./gguf -run LlamaCpp -v" >&2
