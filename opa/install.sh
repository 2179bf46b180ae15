#!/usr/bin/env bash
# Make the pinned policy tools available in .tools/bin, built from their Go modules (no release
# downloads; only the Go module proxy):
#   opa   - an `opa` on PATH is used as it is; otherwise OPA_VERSION is built once;
#   regal - the linter, pinned by the `tool` line of opa/regal/go.mod, rebuilt when that changes.
set -euo pipefail

version="${OPA_VERSION:?OPA_VERSION is set by the Makefile}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
mkdir -p "$bin"

if command -v opa >/dev/null 2>&1 && [ "$(command -v opa)" != "$bin/opa" ]; then
  echo "opa: using $(command -v opa) ($(opa version | head -1))" >&2
elif ! { [ -x "$bin/opa" ] && "$bin/opa" version | grep -qx "Version: ${version#v}"; }; then
  echo "opa: building github.com/open-policy-agent/opa@$version into $bin (once)" >&2
  start=$SECONDS
  GOBIN="$bin" GOFLAGS=-trimpath go install "github.com/open-policy-agent/opa@$version"
  echo "opa: built in $((SECONDS - start))s" >&2
fi

stamp="$bin/.regal.stamp"
want="$(cat "$root/opa/regal/go.mod" "$root/opa/regal/go.sum" | sha256sum | cut -d' ' -f1)"
if ! { [ -x "$bin/regal" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; }; then
  echo "regal: building $(grep -o 'open-policy-agent/regal v[^ ]*' "$root/opa/regal/go.mod") into $bin (once)" >&2
  start=$SECONDS
  (cd "$root/opa/regal" && go build -trimpath -o "$bin/regal" github.com/open-policy-agent/regal)
  echo "$want" > "$stamp"
  echo "regal: built in $((SECONDS - start))s" >&2
fi
