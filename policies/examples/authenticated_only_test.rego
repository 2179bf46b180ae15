# METADATA
# description: Tests of authenticated_only.rego, each comparing the whole decision document.
package mcp.examples.authenticated_only_test

import rego.v1

import data.mcp.config as policy_data
import data.mcp.examples.authenticated_only
import data.mcp.examples.fixtures_test as f

# alice as a stdio caller: the same name, but configured rather than verified
local_alice := object.union(f.alice, {"authenticated": false})

# the shipped policy's own reason for an unauthenticated caller over HTTP (the fixtures' transport)
shipped_reason := "the caller is not authenticated, and unauthenticated callers are admitted on stdio only"

# the decision for an unauthenticated HTTP caller named `sub`: this example's reason and the shipped one
unverified(sub) := f.denied([
	sprintf("caller %s is not authenticated: this gateway serves only verified identities", [json.marshal(sub)]),
	shipped_reason,
])

anonymous := {"sub": "system:anonymous", "groups": [], "authenticated": false, "client": f.alice.client}

test_success_authenticated_read if {
	authenticated_only.decision == f.allowed with input as f.read_pods(f.alice, "staging")
}

test_fail_unauthenticated_read if {
	authenticated_only.decision == unverified("alice")
		with input as f.read_pods(local_alice, "staging")
}

test_fail_anonymous_http_caller if {
	authenticated_only.decision == unverified("system:anonymous")
		with input as f.read_pods(anonymous, "staging")
}

test_fail_authenticated_must_be_the_boolean_true if {
	every claimed in ["true", 1, null] {
		authenticated_only.decision == unverified("alice")
			with input as f.read_pods(object.union(f.alice, {"authenticated": claimed}), "staging")
	}
}

test_fail_no_principal_at_all if {
	authenticated_only.decision == f.denied([
		`caller null is not authenticated: this gateway serves only verified identities`,
		shipped_reason,
		"the input names no caller (input.principal.sub must be a non-empty string)",
	]) with input as object.remove(f.read_pods(f.alice, "staging"), ["principal"])
}

# the shipped policy's warning about a write by an unverified caller (rule authenticated_writes, shipped in warn mode)
unverified_write_warning := concat("", [
	`writes need a caller with a verified identity, and "alice" is not authenticated`,
	" (rule authenticated_writes, warn mode: denied once enforced)",
])

test_fail_unauthenticated_write_gets_no_approval_offer if {
	authenticated_only.decision == f.needs(f.leads_review, [f.leads_review_text])
		with input as f.restart(f.alice, "default")
		with policy_data as f.readwrite
	authenticated_only.decision == object.union(unverified("alice"), {"warnings": [unverified_write_warning]})
		with input as f.restart(local_alice, "default")
		with policy_data as f.readwrite
}
