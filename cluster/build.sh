#!/usr/bin/env bash
# Build the pinned kube-apiserver and etcd from Go modules into .tools/bin.
#
# Why from source: CI and developer machines reach the Go module proxy but not
# release download sites, and a go.sum-verified build pins exactly what the
# end-to-end suite runs against. The pin is cluster/go.mod (k8s.io/kubernetes
# plus the matching k8s.io/* staging replaces; etcd at the version that release
# is tested with). A cold build takes minutes, so it runs only when the pin, the
# main packages, this script or the Go version change (scripts/go-build.sh).
#
# Usage: cluster/build.sh [--force]
# Environment: GO (go binary), TOOLS_BIN (output dir, default <repo>/.tools/bin).
set -euo pipefail

cluster_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/go-build.sh
source "$cluster_dir/../scripts/go-build.sh"
binaries=(kube-apiserver etcd)

go_build_force "$@"

go_bin=$(go_build_go)
cd "$cluster_dir"
want=$(go_build_stamp "$go_bin" go.mod go.sum build.sh ../scripts/go-build.sh cmd/*/main.go)
if ! $go_build_force && go_build_fresh cluster "$want" "${binaries[@]}"; then
  echo "cluster/build.sh: ${binaries[*]} up to date in $go_build_bin" >&2
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

go_build_scratch cluster
echo "cluster/build.sh: building kube-apiserver $k8s_version and etcd into $go_build_bin (cold: several minutes)" >&2
# CGO off: static binaries like upstream's release builds, and no C toolchain needed.
# -buildvcs=false: the version comes from the pin, and a CI checkout owned by another
# user must not fail the build on `git status`.
CGO_ENABLED=0 "$go_bin" build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$go_build_scratch_dir/" \
  ./cmd/kube-apiserver ./cmd/etcd
go_build_install cluster "$want" "${binaries[@]}"
