# METADATA
# title: "Example: deny unauthenticated callers"
# description: |
#   Every call, read or write, needs a caller whose identity the gateway verified
#   (input.principal.authenticated is true: an HTTP caller with a valid token). A stdio caller
#   is never authenticated (its principal is configured, not verified), so this also turns
#   stdio off, as does an HTTP gateway without an auth provider (system:anonymous).
#   decision is the shipped data.mcp.authz.decision with this file's deny reasons added
#   (layer.rego): any reason here denies the call and withdraws an approval offer.
package mcp.examples.authenticated_only

import rego.v1

import data.mcp.authz
import data.mcp.examples.layer

# METADATA
# description: The decision document for one tool call, the shipped one with deny added.
# entrypoint: true
decision := layer.with_denials(authz.decision, deny)

# METADATA
# description: Why this example denies the call (empty when it does not).
deny contains sprintf("caller %s is not authenticated: this gateway serves only verified identities", [caller]) if {
	not _authenticated
	caller := json.marshal(object.get(input, ["principal", "sub"], null))
}

default _authenticated := false

# true only, never "true" or 1
_authenticated if input.principal.authenticated == true
