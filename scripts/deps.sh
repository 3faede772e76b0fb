#!/usr/bin/env bash
# Installs what kormed's build, tests and benchmarks need on a fresh Debian
# machine with Go: oneDNN (cgo matrix products), PyTorch and sentencepiece
# (the reference oracle; OpenBLAS so its matrix products are not the
# reference BLAS), numpy, and Chromium with a Korean font for the web
# page's browser test. Idempotent; needs root (or sudo).
set -euo pipefail
pkgs=(libdnnl-dev libopenblas0-pthread python3-torch python3-numpy python3-sentencepiece sentencepiece gcc chromium fonts-nanum)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "deps: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || { echo "deps: Go is not installed (https://go.dev/dl)" >&2; exit 1; }
