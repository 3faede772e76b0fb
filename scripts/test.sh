#!/usr/bin/env bash
# The test command: installs dependencies, then vets and tests kormed with
# cgo (oneDNN) and without (pure Go). Oracle fixtures are checked in; the
# e5-small-shape oracle comparison runs live when PyTorch is present.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
export PATH=$PATH:/usr/local/go/bin
echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$bad" ] || { echo "gofmt needed:"; echo "$bad"; exit 1; }
echo "== go vet"
go vet ./...
echo "== go test (cgo, oneDNN)"
go test -count=1 ./...
echo "== go test (CGO_ENABLED=0, pure Go)"
CGO_ENABLED=0 go test -count=1 ./...
