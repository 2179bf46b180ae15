# Shared by the scripts that build pinned Go binaries into .tools/bin (source it, don't run it):
# cluster/build.sh, containers/check/build.sh and opa/install.sh.
#
# A build runs only when its stamp (a hash of its inputs and the Go version) changes. Binaries are
# written to a scratch directory and moved into place before the stamp is written, so an
# interrupted build never leaves a stamp that lies.

go_build_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go_build_bin=${TOOLS_BIN:-$go_build_repo/.tools/bin}
go_build_started=$SECONDS

# go_build_force "$@": the scripts' one option; sets go_build_force=true for --force.
go_build_force() {
  go_build_force=false
  case "${1:-}" in
    --force) go_build_force=true ;;
    "") ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
  esac
}

# The Go toolchain: $GO, then PATH, then the usual install location.
go_build_go() {
  local go_bin=${GO:-$(command -v go || true)}
  if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then
    go_bin=/usr/local/go/bin/go
  fi
  if [[ -z "$go_bin" ]]; then
    echo "$0: no Go toolchain found (set GO=/path/to/go)" >&2
    return 1
  fi
  echo "$go_bin"
}

# go_build_stamp GO FILE...: the hash of the Go version and the files that pin a build.
go_build_stamp() {
  local go_bin=$1
  shift
  { "$go_bin" env GOVERSION; sha256sum "$@"; } | sha256sum | cut -d' ' -f1
}

# go_build_fresh NAME WANT BINARY...: true when every binary exists and NAME's stamp is WANT.
go_build_fresh() {
  local name=$1 want=$2 binary
  shift 2
  for binary in "$@"; do
    [[ -x "$go_build_bin/$binary" ]] || return 1
  done
  [[ "$(cat "$go_build_bin/.$name.stamp" 2>/dev/null || true)" == "$want" ]]
}

# go_build_scratch NAME: a scratch directory inside .tools/bin, removed on exit.
go_build_scratch() {
  mkdir -p "$go_build_bin"
  go_build_scratch_dir=$(mktemp -d "$go_build_bin/.$1-build.XXXXXX")
  trap 'rm -rf "$go_build_scratch_dir"' EXIT
}

# go_build_install NAME WANT BINARY...: move the built binaries from the scratch directory into
# .tools/bin, then write NAME's stamp.
go_build_install() {
  local name=$1 want=$2 binary
  shift 2
  rm -f "$go_build_bin/.$name.stamp"
  for binary in "$@"; do
    mv -f "$go_build_scratch_dir/$binary" "$go_build_bin/$binary"
  done
  echo "$want" > "$go_build_bin/.$name.stamp"
  echo "$0: built $* in $((SECONDS - go_build_started))s" >&2
}
