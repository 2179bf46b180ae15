# METADATA
# title: Who may use OPA's REST API
# description: |
#   OPA runs with --authentication=token --authorization=basic, so it asks this package about
#   every request to its REST API before serving it. The gateway's bearer token may POST the
#   two queries the gateway asks (the decision and the visible tools, README "The policy
#   contract"); anyone may GET /health, for probes. Every other method and path is refused,
#   token or not: policy and data come only from files, never from the REST API.
#   The token is not in here: whoever starts OPA gives it the token's sha256 as
#   data.system.gateway.token_sha256 (`k8s-mcp-gateway opa-token` writes that data file).
package system.authz

import rego.v1

# METADATA
# title: Serve this request?
# description: |
#   OPA's authorizer reads `allowed`; a refusal's `reason` is the message of OPA's 401 answer.
# entrypoint: true
allow := {"allowed": _allowed, "reason": _reason}

default _allowed := false

_allowed if _health_probe

_allowed if {
	_gateway_token
	_gateway_query
}

# The gateway's two queries, as the settings K8S_MCP_OPA_DECISION_PATH and
# K8S_MCP_OPA_VISIBILITY_PATH ship them; a gateway configured with other paths needs them here.
_gateway_paths := {
	["v1", "data", "mcp", "authz", "decision"],
	["v1", "data", "mcp", "authz", "visible_tools"],
}

# Query parameters a gateway query may carry: OPA's timers, which the benchmark reads.
# explain, provenance and instrument would show more than a decision, and are refused.
_gateway_params := {"metrics"}

_health_probe if {
	input.method == "GET"
	input.path == ["health"]
}

_gateway_query if {
	input.method == "POST"
	input.path in _gateway_paths
	every name, _ in input.params {
		name in _gateway_params
	}
}

# The digests are compared, not the tokens: a comparison that stops at the first differing
# byte then tells a caller nothing about the token. Undefined (refused) when OPA was started
# without the token's data file.
_gateway_token if {
	is_string(input.identity)
	crypto.sha256(input.identity) == data.system.gateway.token_sha256 # regal ignore:unresolved-reference
}

default _reason := "the gateway's token may only POST the decision and visible_tools queries"

_reason := "" if _allowed

_reason := "no bearer token: OPA's API serves only the gateway (and GET /health)" if {
	not _allowed
	not input.identity
}

_reason := "the bearer token is not the gateway's" if {
	not _allowed
	input.identity
	not _gateway_token
}
