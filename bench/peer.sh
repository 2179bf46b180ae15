#!/usr/bin/env bash
# The peer the benchmark measures the gateway against: containers/kubernetes-mcp-server, the Go
# binary its npm package ships, at a pinned version whose tarball must match a pinned sha512.
#
# Installed once into .tools/peer/ (ignored); a stamp (version + digest) says the binary there is
# the pinned one, so a second run does nothing. Prints the binary's path on stdout. PEER_DIR
# installs it elsewhere.
set -euo pipefail

version=0.0.67
package=kubernetes-mcp-server-linux-amd64
# sha512 of $package-$version.tgz (the registry's "integrity" field is its base64 form).
sha512=556e7045d7ad6c999f08790210103cd3c6e024944bd4609f912675ec9f92249b8d88a72f8e26dc191df6dbbd962adc1ddd3778655ace3e8984c4a802344d7a8c

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${PEER_DIR:-$repo/.tools/peer}
binary=$dir/kubernetes-mcp-server
want="$package@$version sha512:$sha512"

if [[ -x "$binary" && "$(cat "$dir/.stamp" 2>/dev/null || true)" == "$want" ]]; then
  echo "$binary"
  exit 0
fi

case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "peer: $package runs on Linux x86_64 only, not $(uname -sm)" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "peer: npm is needed to fetch $package@$version" >&2; exit 1; }

mkdir -p "$dir"
scratch=$(mktemp -d "$dir/.install.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
echo "peer: fetching $package@$version into $dir (once)" >&2
(cd "$scratch" && npm pack --silent "$package@$version" >/dev/null)
tarball=$scratch/$package-$version.tgz
if ! echo "$sha512  $tarball" | sha512sum --check --status; then
  echo "peer: $tarball does not match the pinned sha512; refusing it" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$scratch" package/bin/$package
rm -f "$dir/.stamp"
mv -f "$scratch/package/bin/$package" "$binary"
chmod 0755 "$binary"
echo "$want" > "$dir/.stamp"
echo "peer: $("$binary" --version) installed" >&2
echo "$binary"
