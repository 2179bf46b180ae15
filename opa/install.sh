#!/usr/bin/env bash
# Make the pinned `opa` available: use the one on PATH if it is there, otherwise build it once
# from its Go module into .tools/bin (no release downloads; only the Go module proxy).
set -euo pipefail

version="${OPA_VERSION:?OPA_VERSION is set by the Makefile}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"

if command -v opa >/dev/null 2>&1 && [ "$(command -v opa)" != "$bin/opa" ]; then
  echo "opa: using $(command -v opa) ($(opa version | head -1))" >&2
  exit 0
fi
if [ -x "$bin/opa" ] && "$bin/opa" version | grep -qx "Version: ${version#v}"; then
  exit 0
fi
echo "opa: building github.com/open-policy-agent/opa@$version into $bin (once)" >&2
start=$SECONDS
mkdir -p "$bin"
GOBIN="$bin" GOFLAGS=-trimpath go install "github.com/open-policy-agent/opa@$version"
echo "opa: built in $((SECONDS - start))s" >&2
