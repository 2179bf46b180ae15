#!/usr/bin/env bash
# Build the pinned kube-apiserver and etcd from Go modules into .tools/bin.
#
# Why from source: CI and developer machines reach the Go module proxy but not
# release download sites, and a go.sum-verified build pins exactly what the
# end-to-end suite runs against. The pin is cluster/go.mod (k8s.io/kubernetes
# plus the matching k8s.io/* staging replaces; etcd at the version that release
# is tested with).
#
# Why a stamp: a cold build takes minutes, so it runs only when the pin or the
# build recipe changes. The stamp holds a hash of go.mod, go.sum, the main
# packages, this script and the Go version; binaries are written to a scratch
# directory and moved into place before the stamp, so an interrupted build never
# leaves a stamp that lies.
#
# Usage: cluster/build.sh [--force]
# Environment: GO (go binary), TOOLS_BIN (output dir, default <repo>/.tools/bin).
set -euo pipefail

started=$SECONDS
cluster_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$cluster_dir")
bin_dir=${TOOLS_BIN:-$repo_dir/.tools/bin}
stamp=$bin_dir/.cluster.stamp
binaries=(kube-apiserver etcd)

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
  echo "cluster/build.sh: no Go toolchain found (set GO=/path/to/go)" >&2
  exit 1
fi

cd "$cluster_dir"
want=$(
  {
    "$go_bin" env GOVERSION
    sha256sum go.mod go.sum build.sh cmd/*/main.go
  } | sha256sum | cut -d' ' -f1
)

have=$(cat "$stamp" 2>/dev/null || true)
all_present=true
for b in "${binaries[@]}"; do
  [[ -x "$bin_dir/$b" ]] || all_present=false
done
if ! $force && $all_present && [[ "$have" == "$want" ]]; then
  echo "cluster/build.sh: ${binaries[*]} up to date in $bin_dir ($((SECONDS - started))s)" >&2
  exit 0
fi

# Stamp the apiserver's /version like upstream's hack/lib/version.sh does, so
# clients see v1.x.y instead of v0.0.0-master.
k8s_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' go.mod)
if [[ ! "$k8s_version" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+ ]]; then
  echo "cluster/build.sh: cannot read the k8s.io/kubernetes version from go.mod" >&2
  exit 1
fi
pkg=k8s.io/component-base/version
ldflags="-s -w"
ldflags+=" -X $pkg.gitVersion=$k8s_version"
ldflags+=" -X $pkg.gitMajor=${BASH_REMATCH[1]}"
ldflags+=" -X $pkg.gitMinor=${BASH_REMATCH[2]}"
ldflags+=" -X $pkg.gitTreeState=clean"

mkdir -p "$bin_dir"
scratch=$(mktemp -d "$bin_dir/.cluster-build.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

echo "cluster/build.sh: building kube-apiserver $k8s_version and etcd into $bin_dir (cold: several minutes)" >&2
# CGO off: static binaries like upstream's release builds, and no C toolchain needed.
# -buildvcs=false: the version comes from the pin, and a CI checkout owned by another
# user must not fail the build on `git status`.
CGO_ENABLED=0 "$go_bin" build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$scratch/" \
  ./cmd/kube-apiserver ./cmd/etcd

rm -f "$stamp"
for b in "${binaries[@]}"; do
  mv -f "$scratch/$b" "$bin_dir/$b"
done
echo "$want" > "$stamp"
echo "cluster/build.sh: built ${binaries[*]} in $((SECONDS - started))s" >&2
