#!/usr/bin/env bash
# Release build: static classboard binaries for linux/amd64 and
# linux/arm64 in dist/, with their SHA-256 sums.
#
#   scripts/release.sh [VERSION]     # VERSION defaults to `git describe`
#
# Built with the approved toolchain go1.27.3 (taken from the Go module
# proxy on first use), which has the net/http and HTTP/2 fixes that the
# development toolchain go1.26.8 lacks; CI checks this toolchain's build
# with govulncheck (docs/operations.md, "Supply chain").
set -euo pipefail
cd "$(dirname "$0")/.."

export GOTOOLCHAIN=go1.27.3 CGO_ENABLED=0
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi

rm -rf dist && mkdir -p dist
for arch in amd64 arm64; do
  out="dist/classboard-$version-linux-$arch"
  GOOS=linux GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
    -o "$out" ./cmd/classboard
  echo "built $out ($(du -h "$out" | cut -f1))"
done
# The host's own binary says what went in.
if [ "$(go env GOHOSTARCH)" = amd64 ] || [ "$(go env GOHOSTARCH)" = arm64 ]; then
  "dist/classboard-$version-linux-$(go env GOHOSTARCH)" version
fi
(cd dist && sha256sum classboard-* > SHA256SUMS)
cat dist/SHA256SUMS
