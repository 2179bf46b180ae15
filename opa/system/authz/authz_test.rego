# Tests of authz.rego: which requests OPA's REST API serves. Each test compares the whole
# answer the authorizer reads, for a request shaped as OPA builds it (method, path segments,
# query parameters, the bearer token as identity).
package system.authz_test

import rego.v1

import data.system.authz

# the token's digest, which the launcher writes into a data file; Regal does not read data files
import data.system.gateway as gateway_data # regal ignore:unresolved-import

token := "gateway-token-0123456789"

with_digest := {"token_sha256": crypto.sha256(token)}

decision_path := ["v1", "data", "mcp", "authz", "decision"]

visibility_path := ["v1", "data", "mcp", "authz", "visible_tools"]

served := {"allowed": true, "reason": ""}

only_queries := {"allowed": false, "reason": "the gateway's token may only POST the decision and visible_tools queries"}

no_token := {"allowed": false, "reason": "no bearer token: OPA's API serves only the gateway (and GET /health)"}

wrong_token := {"allowed": false, "reason": "the bearer token is not the gateway's"}

# a request as OPA's authorizer describes it, without a token
anonymous(method, path, params) := {"method": method, "path": path, "params": params, "headers": {}}

# the same request with a bearer token
bearer(method, path, params, identity) := object.union(anonymous(method, path, params), {"identity": identity})

test_success_the_gateway_token_posts_the_decision_query if {
	authz.allow == served with input as bearer("POST", decision_path, {}, token) with gateway_data as with_digest
}

test_success_the_gateway_token_posts_the_visibility_query if {
	authz.allow == served with input as bearer("POST", visibility_path, {}, token) with gateway_data as with_digest
}

test_success_the_gateway_token_may_ask_for_opa_timers if {
	authz.allow == served with input as bearer("POST", decision_path, {"metrics": ["true"]}, token)
		with gateway_data as with_digest
}

test_success_health_is_open_to_probes if {
	authz.allow == served with input as anonymous("GET", ["health"], {}) with gateway_data as with_digest
	authz.allow == served with input as anonymous("GET", ["health"], {"plugins": [""]}) with gateway_data as with_digest
	authz.allow == served with input as bearer("GET", ["health"], {"bundles": ["true"]}, "anything")
		with gateway_data as with_digest
}

test_fail_a_decision_query_without_a_token if {
	authz.allow == no_token with input as anonymous("POST", decision_path, {}) with gateway_data as with_digest
}

test_fail_a_decision_query_with_another_token if {
	authz.allow == wrong_token with input as bearer("POST", decision_path, {}, "not-the-token")
		with gateway_data as with_digest
	authz.allow == wrong_token with input as bearer("POST", decision_path, {}, concat("", [token, "x"]))
		with gateway_data as with_digest
}

test_fail_any_token_when_opa_has_no_digest if {
	authz.allow == wrong_token with input as bearer("POST", decision_path, {}, token) with gateway_data as {}
}

test_fail_the_gateway_token_writing_policy_or_data if {
	every method_path in [
		["PUT", ["v1", "policies", "x"]],
		["DELETE", ["v1", "policies", "authz.rego"]],
		["PUT", ["v1", "data", "mcp", "config"]],
		["PATCH", ["v1", "data", "mcp", "config"]],
		["DELETE", ["v1", "data", "mcp", "config"]],
		["PUT", ["v1", "data"]],
		["PUT", decision_path],
	] {
		authz.allow == only_queries with input as bearer(method_path[0], method_path[1], {}, token)
			with gateway_data as with_digest
	}
}

test_fail_the_gateway_token_reading_anything_else if {
	every method_path in [
		["GET", ["v1", "data"]],
		["GET", ["v1", "data", "mcp", "config"]],
		["GET", ["v1", "data", "system", "gateway"]],
		["GET", decision_path],
		["GET", ["v1", "policies"]],
		["GET", ["v1", "config"]],
		["GET", ["v1", "status"]],
		["GET", ["metrics"]],
		["GET", ["health", "live"]],
		["POST", ["v1", "query"]],
		["POST", ["v1", "compile"]],
		["POST", ["v1", "data"]],
		["POST", ["v1", "data", "mcp", "config"]],
		["POST", ["v0", "data", "mcp", "authz", "decision"]],
		["POST", [""]],
		["POST", array.concat(decision_path, [""])],
		["POST", ["v1", "data", "mcp", "authz/decision"]],
		["POST", ["health"]],
	] {
		authz.allow == only_queries with input as bearer(method_path[0], method_path[1], {}, token)
			with gateway_data as with_digest
	}
}

test_fail_the_gateway_token_asking_for_more_than_a_decision if {
	every params in [{"explain": ["full"]}, {"provenance": ["true"]}, {"instrument": ["true"]}] {
		authz.allow == only_queries with input as bearer("POST", decision_path, params, token)
			with gateway_data as with_digest
	}
}

test_fail_writes_without_a_token if {
	authz.allow == no_token with input as anonymous("PUT", ["v1", "policies", "x"], {}) with gateway_data as with_digest
	authz.allow == wrong_token with input as bearer("PUT", ["v1", "data", "mcp", "config"], {}, "not-the-token")
		with gateway_data as with_digest
}
