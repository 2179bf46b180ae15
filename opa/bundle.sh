#!/usr/bin/env bash
# Build the signed OPA bundle of the shipped policy: `make bundle`, or opa/bundle.sh OUT_DIR.
#
#   OUT_DIR/bundle-service/bundles/mcp.tar.gz
#       policies/*.rego without the tests, policies/data.json and a .manifest with roots ["mcp"],
#       laid out as a bundle service serves it for opa/remote.yaml: that directory can be served
#       as it is (python3 -m http.server --directory OUT_DIR/bundle-service)
#
# The bundle is signed with the RSA private key BUNDLE_SIGNING_KEY (RS256). Without one, a
# development key pair is generated once, outside the served directory:
#   OUT_DIR/signing/dev-signing-key.pem        private, mode 0600, never committed (dist/ is ignored)
#   OUT_DIR/signing/dev-verification-key.pem   the public key OPA verifies with (opa/remote.yaml)
# The revision is BUNDLE_REVISION, or `git describe` of this checkout.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "${1:?usage: opa/bundle.sh OUT_DIR}/bundle-service/bundles"
out=$(cd "$1" && pwd)
opa=${OPA:-$(command -v opa || echo "$root/.tools/bin/opa")}
case $opa in */*) opa=$(realpath "$opa") ;; esac
revision=${BUNDLE_REVISION:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo unversioned)}

key=${BUNDLE_SIGNING_KEY:-}
if [ -z "$key" ]; then
  key=$out/signing/dev-signing-key.pem
  # The project's own Python has `cryptography`, so no other tool is needed for the key pair.
  "$root/.venv/bin/python" - "$key" "$out/signing/dev-verification-key.pem" <<'PY'
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

private_path, public_path = Path(sys.argv[1]), Path(sys.argv[2])
if not private_path.exists():
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = rsa.generate_private_key(public_exponent=65537, key_size=3072).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with os.fdopen(os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(pem)
    print(f"bundle: generated a development signing key in {private_path}", file=sys.stderr)
private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
public_path.write_bytes(
    private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
)
PY
fi

# Only what the sidecar runs: the policy's Rego and data, never its tests or policies/examples/.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
find "$root/policies" -maxdepth 1 -type f \
  \( -name '*.rego' ! -name '*_test.rego' -o -name data.json -o -name data.yaml \) \
  -exec cp {} "$stage/" \;
# The roots claim data.mcp only, so a file-loaded system.authz (OPA's API authorization) or
# another bundle can sit beside it; OPA refuses a bundle whose files stray outside its roots.
printf '{"revision": "%s", "roots": ["mcp"]}\n' "$revision" > "$stage/.manifest"

# Built from inside the staging directory, so the files are named as in policies/.
key=$(realpath "$key")
(cd "$stage" && "$opa" build --bundle . --signing-key "$key" --signing-alg RS256 --output "$out/bundle-service/bundles/mcp.tar.gz")
echo "bundle: $out/bundle-service/bundles/mcp.tar.gz (revision $revision, roots [\"mcp\"], signed with $key)" >&2
