#!/usr/bin/env bash
# The test command: installs dependencies, then vets and tests kormed with
# cgo (oneDNN) and without (pure Go). Oracle fixtures are checked in; the
# e5-small-shape oracle comparison runs live when PyTorch is present. A
# Weaviate server (built from the Go module proxy on first use, cached in
# ~/.cache/kormed) runs for the Weaviate backend's tests and is stopped at
# the end; Chromium (from deps.sh) runs the web page's browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
export PATH=$PATH:/usr/local/go/bin
echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$bad" ] || { echo "gofmt needed:"; echo "$bad"; exit 1; }
echo "== go vet"
go vet ./...
echo "== weaviate server (scripts/weaviate.sh; first build ~5-8 min, cached in ~/.cache/kormed)"
KORMED_WEAVIATE_URL=$(bash scripts/weaviate.sh start)
export KORMED_WEAVIATE_URL
trap 'bash scripts/weaviate.sh stop' EXIT
echo "== go test (cgo, oneDNN)"
go test -count=1 ./...
echo "== go test (CGO_ENABLED=0, pure Go)"
CGO_ENABLED=0 go test -count=1 ./...
