# Tests of the staged rules of authz.rego (data.mcp.config.rollout): authenticated_writes in
# warn mode (as policies/data.json ships it), enforced, and the strict fallback for a rule the
# data does not name or names with anything but "warn". Fixtures: authz_test.rego and
# approval_test.rego.
package mcp.authz_test

import rego.v1

import data.mcp.authz

import data.mcp.config as policy_data

# alice on stdio: the configured principal, not a verified one
stdio_alice := {"request": {"transport": "stdio"}, "principal": {"authenticated": false}}

unverified_write := `writes need a caller with a verified identity, and "alice" is not authenticated`

warning := concat("", [unverified_write, " (rule authenticated_writes, warn mode: denied once enforced)"])

enforced_reason := concat("", [unverified_write, " (rule authenticated_writes)"])

# readwrite policy data with authenticated_writes rolled out as `mode`
rolled_out(mode) := object.union(readwrite_config, {"rollout": {"authenticated_writes": mode}})

# `decision` with the authenticated_writes warning
warned(decision) := object.union(decision, {"warnings": [warning]})

test_success_shipped_data_warns_about_an_unverified_write if {
	policy_data.rollout == {"authenticated_writes": "warn"}
	authz.decision == warned(needs_approval(default_rule, [default_requirement]))
		with input as call("restart_deployment", stdio_alice)
		with policy_data as readwrite_config
}

test_success_warn_mode_keeps_the_approval_a_write_carries if {
	authz.decision == warned(allowed)
		with input as write_with("default", review, {}) with input.request.transport as "stdio"
		with input.principal.authenticated as false
		with policy_data as rolled_out("warn")
		with time.now_ns as now_ns
}

test_success_a_verified_writer_gets_no_warning if {
	authz.decision == needs_approval(default_rule, [default_requirement])
		with input as call("restart_deployment", {})
		with policy_data as rolled_out("warn")
}

test_success_reads_are_not_staged if {
	every mode in ["warn", "enforce"] {
		authz.decision == allowed with input as call("list_pods", stdio_alice) with policy_data as rolled_out(mode)
	}
}

test_fail_warn_mode_adds_a_warning_to_a_denied_write if {
	without_hints(authz.decision) == warned(denied([`writes are disabled: the policy mode is "readonly"`]))
		with input as call("scale_deployment", object.union(stdio_alice, {"action": {"namespace": "staging"}}))
		with policy_data as object.union(policy_data, {"rollout": {"authenticated_writes": "warn"}})
}

test_fail_enforced_denies_an_unverified_write_without_an_approval_offer if {
	authz.decision == denied([enforced_reason])
		with input as call("restart_deployment", stdio_alice)
		with policy_data as rolled_out("enforce")
}

test_fail_authenticated_must_be_the_boolean_true if {
	every claimed in ["true", 1, null] {
		authz.decision == denied([enforced_reason])
			with input as call("restart_deployment", object.union(stdio_alice, {"principal": {"authenticated": claimed}}))
			with policy_data as rolled_out("enforce")
	}
}

test_fail_a_rule_the_rollout_does_not_warn_about_is_enforced if {
	every config in [
		object.remove(readwrite_config, ["rollout"]),
		set_key(readwrite_config, "rollout", "warn"),
		rolled_out("WARN"),
		rolled_out(true),
		set_key(readwrite_config, "rollout", {"another_rule": "warn"}),
	] {
		authz.decision == denied([enforced_reason])
			with input as call("restart_deployment", stdio_alice)
			with policy_data as config
	}
}
