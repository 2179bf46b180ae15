#!/usr/bin/env bash
# Build packaging-check (the validator of Dockerfile, docker-compose.yml and deploy/) from
# this Go module into .tools/bin.
#
# Why a Go program: the checks use the libraries Docker Compose (compose-go), BuildKit (its
# Dockerfile parser and linter) and kustomize (krusty) are built on, so they run without a
# Docker engine, a registry or a cluster, pinned by this module's go.mod/go.sum.
#
# Why a stamp: a cold build takes about a minute, so it runs only when the pin, the code,
# this script or the Go version changes. The binary is written to a scratch directory and
# moved into place before the stamp, so an interrupted build never leaves a stamp that lies.
#
# Usage: containers/check/build.sh [--force]
# Environment: GO (go binary), TOOLS_BIN (output dir, default <repo>/.tools/bin).
set -euo pipefail

started=$SECONDS
module_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$module_dir/../.." && pwd)
bin_dir=${TOOLS_BIN:-$repo_dir/.tools/bin}
binary=packaging-check
stamp=$bin_dir/.$binary.stamp

force=false
case "${1:-}" in
  --force) force=true ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

go_bin=${GO:-$(command -v go || true)}
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then
  go_bin=/usr/local/go/bin/go
fi
if [[ -z "$go_bin" ]]; then
  echo "containers/check/build.sh: no Go toolchain found (set GO=/path/to/go)" >&2
  exit 1
fi

cd "$module_dir"
want=$(
  {
    "$go_bin" env GOVERSION
    sha256sum go.mod go.sum build.sh ./*.go
  } | sha256sum | cut -d' ' -f1
)

have=$(cat "$stamp" 2>/dev/null || true)
if ! $force && [[ -x "$bin_dir/$binary" && "$have" == "$want" ]]; then
  echo "containers/check/build.sh: $binary up to date in $bin_dir ($((SECONDS - started))s)" >&2
  exit 0
fi

mkdir -p "$bin_dir"
scratch=$(mktemp -d "$bin_dir/.$binary-build.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

echo "containers/check/build.sh: building $binary into $bin_dir (cold: about a minute)" >&2
# CGO off: a static binary, and no C toolchain needed.
CGO_ENABLED=0 "$go_bin" build -trimpath -ldflags="-s -w" -o "$scratch/$binary" .

rm -f "$stamp"
mv -f "$scratch/$binary" "$bin_dir/$binary"
echo "$want" > "$stamp"
echo "containers/check/build.sh: built $binary in $((SECONDS - started))s" >&2
