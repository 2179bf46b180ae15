#!/usr/bin/env bash
# Make the pinned policy tools available in .tools/bin, built from their Go modules (no release
# downloads; only the Go module proxy):
#   opa   - an `opa` on PATH is used as it is; otherwise OPA_VERSION is built once;
#   regal - the linter, pinned by the `tool` line of opa/regal/go.mod, rebuilt when that changes.
set -euo pipefail

version="${OPA_VERSION:?OPA_VERSION is set by the Makefile}"
opa_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/go-build.sh
source "$opa_dir/../scripts/go-build.sh"
go_bin=$(go_build_go)
bin=$go_build_bin

if command -v opa >/dev/null 2>&1 && [ "$(command -v opa)" != "$bin/opa" ]; then
  echo "opa: using $(command -v opa) ($(opa version | head -1))" >&2
elif ! { [ -x "$bin/opa" ] && "$bin/opa" version | grep -qx "Version: ${version#v}"; }; then
  echo "opa: building github.com/open-policy-agent/opa@$version into $bin (once)" >&2
  start=$SECONDS
  mkdir -p "$bin"
  GOBIN="$bin" GOFLAGS=-trimpath "$go_bin" install "github.com/open-policy-agent/opa@$version"
  echo "opa: built in $((SECONDS - start))s" >&2
fi

cd "$opa_dir/regal"
want=$(go_build_stamp "$go_bin" go.mod go.sum)
if ! go_build_fresh regal "$want" regal; then
  echo "regal: building $(grep -o 'open-policy-agent/regal v[^ ]*' go.mod) into $bin (once)" >&2
  go_build_scratch regal
  "$go_bin" build -trimpath -o "$go_build_scratch_dir/regal" github.com/open-policy-agent/regal
  go_build_install regal "$want" regal
fi
