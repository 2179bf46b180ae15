#!/usr/bin/env bash
# Move the pin: cluster/bump.sh v1.37.3
#
# k8s.io/kubernetes is not meant to be imported, so its go.mod points the k8s.io/*
# staging modules at ./staging; a consumer must replace each of them with the
# published v0.<minor>.<patch>. This script regenerates go.mod from scratch (so no
# indirect version of the old pin survives: MVS never lowers one), with etcd at the
# version that Kubernetes release requires, and lets `go mod tidy` rebuild go.sum.
# Then run cluster/build.sh (the stamp changes, so it rebuilds) and the e2e suite.
set -euo pipefail

version=${1:?usage: cluster/bump.sh v1.X.Y}
if [[ ! "$version" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "cluster/bump.sh: expected a release like v1.37.3, got $version" >&2
  exit 2
fi
staging="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
cd "$(dirname "${BASH_SOURCE[0]}")"

upstream_mod=$("$go_bin" mod download -json "k8s.io/kubernetes@$version" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
go_directive=$(awk '$1 == "go" { print $2; exit }' "$upstream_mod")
etcd=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$upstream_mod")
if [[ -z "$etcd" || -z "$go_directive" ]]; then
  echo "cluster/bump.sh: cannot read the go and etcd versions from k8s.io/kubernetes@$version's go.mod" >&2
  exit 1
fi

{
  echo "module $(awk '$1 == "module" { print $2; exit }' go.mod)"
  echo
  echo "go $go_directive"
  echo
  echo "require ("
  echo "	go.etcd.io/etcd/server/v3 $etcd"
  echo "	k8s.io/component-base $staging"
  echo "	k8s.io/kubernetes $version"
  echo ")"
  echo
  echo "replace ("
  awk -v v="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// { printf "\t%s => %s %s\n", $1, $1, v }' "$upstream_mod"
  echo ")"
} > go.mod.new
mv go.mod.new go.mod
"$go_bin" mod tidy
echo "cluster/bump.sh: pinned k8s.io/kubernetes $version (staging $staging), etcd $etcd; now run cluster/build.sh" >&2
