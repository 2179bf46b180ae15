#!/usr/bin/env bash
# Build packaging-check (the validator of Dockerfile, docker-compose.yml and deploy/) from
# this Go module into .tools/bin.
#
# Why a Go program: the checks use the libraries Docker Compose (compose-go), BuildKit (its
# Dockerfile parser and linter) and kustomize (krusty) are built on, so they run without a
# Docker engine, a registry or a cluster, pinned by this module's go.mod/go.sum. A cold build
# takes about a minute, so it runs only when its inputs change (scripts/go-build.sh).
#
# Usage: containers/check/build.sh [--force]
# Environment: GO (go binary), TOOLS_BIN (output dir, default <repo>/.tools/bin).
set -euo pipefail

module_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/go-build.sh
source "$module_dir/../../scripts/go-build.sh"
binary=packaging-check

go_build_force "$@"

go_bin=$(go_build_go)
cd "$module_dir"
want=$(go_build_stamp "$go_bin" go.mod go.sum build.sh ../../scripts/go-build.sh ./*.go)
if ! $go_build_force && go_build_fresh "$binary" "$want" "$binary"; then
  echo "containers/check/build.sh: $binary up to date in $go_build_bin" >&2
  exit 0
fi

go_build_scratch "$binary"
echo "containers/check/build.sh: building $binary into $go_build_bin (cold: about a minute)" >&2
# CGO off: a static binary, and no C toolchain needed.
CGO_ENABLED=0 "$go_bin" build -trimpath -buildvcs=false -ldflags="-s -w" -o "$go_build_scratch_dir/$binary" .
go_build_install "$binary" "$want" "$binary"
