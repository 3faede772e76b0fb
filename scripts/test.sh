#!/usr/bin/env bash
# The test command: installs dependencies, then vets and tests kormed with
# cgo (oneDNN) and without (pure Go). Oracle fixtures are checked in; the
# e5-small-shape oracle comparison runs live when PyTorch is present. A
# Weaviate server (built from the Go module proxy on first use, cached in
# ~/.cache/kormed) runs for the Weaviate backend's tests and is stopped at
# the end; Chromium (from deps.sh) runs the web page's browser test. Then a
# three-node Weaviate cluster (scripts/weaviate.sh cluster) runs the
# backend's cluster tests: the conformance suite on 3 shards x 3 replicas
# and the fault tests, which kill and restart its nodes (a few minutes).
#
#   scripts/test.sh            # everything
#   scripts/test.sh --cluster  # only the cluster part
set -euo pipefail
cd "$(dirname "$0")/.."
cluster_only=false
case "${1:-}" in
"") ;;
--cluster) cluster_only=true ;;
*)
	echo "usage: $0 [--cluster]" >&2
	exit 2
	;;
esac
source scripts/deps.sh
export PATH=$PATH:/usr/local/go/bin
# The cluster tests run only in their own part, against the script's cluster.
unset KORMED_WEAVIATE_CLUSTER_URLS
trap 'bash scripts/weaviate.sh cluster stop; bash scripts/weaviate.sh stop' EXIT

cluster_tests() {
	echo "== weaviate cluster (scripts/weaviate.sh cluster start: 3 nodes on REST ports ${KORMED_WEAVIATE_CLUSTER_PORT:-18480}+20i) and its tests"
	KORMED_WEAVIATE_CLUSTER_URLS=$(bash scripts/weaviate.sh cluster start)
	export KORMED_WEAVIATE_CLUSTER_URLS
	# -v: the fault tests log what they measured (errors, catch-up times).
	go test -count=1 -timeout 15m -v -run 'Cluster' ./search/weaviate/ 2>&1 | grep -v '^=== '
	bash scripts/weaviate.sh cluster stop
	unset KORMED_WEAVIATE_CLUSTER_URLS
}
if $cluster_only; then
	bash scripts/weaviate.sh build
	cluster_tests
	exit 0
fi
echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$bad" ] || { echo "gofmt needed:"; echo "$bad"; exit 1; }
echo "== go vet"
go vet ./...
echo "== weaviate server (scripts/weaviate.sh; first build ~5-8 min, cached in ~/.cache/kormed)"
KORMED_WEAVIATE_URL=$(bash scripts/weaviate.sh start)
export KORMED_WEAVIATE_URL
echo "== go test (cgo, oneDNN)"
go test -count=1 ./...
echo "== go test (CGO_ENABLED=0, pure Go)"
CGO_ENABLED=0 go test -count=1 ./...
bash scripts/weaviate.sh stop
unset KORMED_WEAVIATE_URL
cluster_tests
