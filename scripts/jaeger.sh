#!/usr/bin/env bash
# Builds Jaeger (the version pinned in tools/jaeger/go.mod, from the Go
# module proxy) into target/tools/jaeger, for the Jaeger test
# (tests/jaeger.rs). Skips the build when that binary was built from the
# same go.sum. Needs Go 1.26 or later; an older `go` fetches 1.26 from the
# module proxy itself (GOTOOLCHAIN=auto, Go's default).
#
#   bash scripts/jaeger.sh         # then:
#   cargo test -p end-to-end --test jaeger -- --ignored
set -euo pipefail
cd "$(dirname "$0")/.."

out="${JAEGER_BIN:-$PWD/target/tools/jaeger}"
stamp="$out.go.sum"
if [[ -x $out && -f $stamp ]] && cmp -s "$stamp" tools/jaeger/go.sum; then
  echo "jaeger: up to date at $out"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "jaeger: needs Go (https://go.dev/dl/); any recent go fetches 1.26 itself" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
echo "jaeger: building $(grep -m1 'jaegertracing/jaeger ' tools/jaeger/go.mod | xargs) with $(go version)"
start=$SECONDS
(cd tools/jaeger && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$out" github.com/jaegertracing/jaeger/cmd/jaeger)
cp tools/jaeger/go.sum "$stamp"
echo "jaeger: built $out in $((SECONDS - start)) s"
