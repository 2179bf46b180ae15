# Tests of approval.rego: which writes need an approval, the approval rule the decision
# announces (the default entry, a namespace's override, strict fallbacks), and every way a
# carried approval can be valid or invalid. Fixtures: authz_test.rego. The clock is fixed at
# now_ns (2026-11-24T21:30:00Z) with `with time.now_ns as now_ns`.
package mcp.authz_test

import rego.v1

import data.mcp.authz

import data.mcp.config as policy_data

# the rule of data.json's default entry, as the decision announces it
default_rule := {
	"required": true, "approvers": ["group:sre-leads"], "count": 1,
	"ttl_seconds": 900, "kinds": ["review"],
}

# the rule of data.json's staging entry
staging_rule := {
	"required": true, "approvers": ["group:sre"], "count": 1,
	"ttl_seconds": 900, "kinds": ["review", "user_confirmation"],
}

default_requirement := "approval required: 1 approval from group:sre-leads"

staging_requirement := "approval required: 1 approval from group:sre (accepted kinds: review, user_confirmation)"

needs_approval(rule, reasons) := {"allow": false, "reasons": reasons, "approval": rule, "obligations": obligations}

# a valid review of restart_deployment in "default", requested by alice and approved by bob
review := {
	"id": "apr-1",
	"kind": "review",
	"state": "approved",
	"requested_by": "alice",
	"approved_by": [{"sub": "bob", "groups": ["sre-leads"]}],
	"created_at": "2026-11-24T21:20:00Z",
	"expires_at": "2026-11-24T21:35:00Z",
	"action_digest": base_input.action_digest,
}

# a write to `namespace` carrying `approval` (with `patch` merged over the approval)
write_with(namespace, approval, patch) := call("restart_deployment", {
	"action": {"namespace": namespace},
	"approval": object.union(approval, patch),
})

# ---------------------------------------------------------------------------------------------
# Which rule applies
# ---------------------------------------------------------------------------------------------

test_fail_write_needs_approval_default_rule if {
	authz.decision == needs_approval(default_rule, [default_requirement])
		with input as call("restart_deployment", {})
		with policy_data as readwrite_config
}

test_fail_write_needs_approval_namespace_override if {
	authz.decision == needs_approval(staging_rule, [staging_requirement])
		with input as call("scale_deployment", {"action": {"namespace": "staging"}})
		with policy_data as readwrite_config
}

test_fail_namespace_override_merges_over_default if {
	config := object.union(readwrite_config, {"approval": {"namespaces": {"staging": {"count": 2}}}})
	rule := object.union(staging_rule, {"count": 2})
	requirement := "approval required: 2 approvals from group:sre (accepted kinds: review, user_confirmation)"
	authz.decision == needs_approval(rule, [requirement])
		with input as call_in("restart_deployment", "staging")
		with policy_data as config
}

test_success_write_without_required_approval if {
	config := object.union(readwrite_config, {"approval": {"default": {"required": false}}})
	authz.decision == allowed with input as call("restart_deployment", {}) with policy_data as config
}

test_fail_approval_data_missing_falls_back_to_strict_rule if {
	strict := {"required": true, "approvers": [], "count": 1, "ttl_seconds": 900, "kinds": ["review"]}
	requirement := "approval required: 1 approval from an approver (none is configured)"
	authz.decision == needs_approval(strict, [requirement])
		with input as call("restart_deployment", {})
		with policy_data as object.remove(readwrite_config, ["approval"])
	not_enough := "not enough approvals: 0 of 1 from an approver (none is configured)"
	authz.decision == needs_approval(strict, [requirement, not_enough])
		with input as call("restart_deployment", {"approval": review})
		with policy_data as object.remove(readwrite_config, ["approval"])
		with time.now_ns as now_ns
}

test_fail_approval_data_malformed_is_sanitised if {
	garbage := {
		"required": "no", "approvers": ["group:sre-leads", 7, "sre", "user:carol"],
		"count": 1.5, "ttl_seconds": -5, "kinds": ["vote"],
	}
	config := object.union(readwrite_config, {"approval": {"default": garbage, "namespaces": ["default"]}})
	rule := {
		"required": true, "approvers": ["group:sre-leads", "user:carol"], "count": 1,
		"ttl_seconds": 900, "kinds": ["review"],
	}
	authz.decision == needs_approval(rule, ["approval required: 1 approval from group:sre-leads or user:carol"])
		with input as call("restart_deployment", {})
		with policy_data as config
}

test_fail_approvers_not_a_list_means_no_approver if {
	config := object.union(readwrite_config, {"approval": {"default": {"approvers": "group:sre-leads"}}})
	rule := object.union(default_rule, {"approvers": []})
	authz.decision == needs_approval(rule, ["approval required: 1 approval from an approver (none is configured)"])
		with input as call("restart_deployment", {})
		with policy_data as config
}

test_fail_other_denials_hide_the_approval_requirement if {
	without_hints(authz.decision) == denied([`namespace "prod" is not in the allowlist`])
		with input as call_in("restart_deployment", "prod")
		with policy_data as readwrite_config
}

# ---------------------------------------------------------------------------------------------
# Valid approvals
# ---------------------------------------------------------------------------------------------

test_success_review_by_allowed_group if {
	authz.decision == allowed
		with input as write_with("default", review, {})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_success_review_by_allowed_user if {
	config := object.union(readwrite_config, {"approval": {"default": {"approvers": ["user:bob"]}}})
	authz.decision == allowed
		with input as write_with("default", review, {"approved_by": [{"sub": "bob", "groups": []}]})
		with policy_data as config
		with time.now_ns as now_ns
}

test_success_expiry_in_other_rfc3339_spellings if {
	long_lived := object.union(readwrite_config, {"approval": {"default": {"ttl_seconds": 100000000}}})
	every expires_at in [
		"2026-11-24T21:30:00.000000001Z", "2026-11-24T22:35:00+01:00",
		"2026-12-31T23:59:59Z", "2028-02-29T00:00:00Z",
	] {
		authz.decision == allowed
			with input as write_with("default", review, {"expires_at": expires_at})
			with policy_data as long_lived
			with time.now_ns as now_ns
	}
}

test_fail_approval_expired_on_a_leap_day if {
	expired := "the approval expired at 2000-02-29T12:00:00-05:00"
	authz.decision == needs_approval(default_rule, [default_requirement, expired])
		with input as write_with("default", review, {"expires_at": "2000-02-29T12:00:00-05:00"})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_success_review_with_two_distinct_approvers if {
	config := object.union(readwrite_config, {"approval": {"default": {"count": 2}}})
	approvers := [{"sub": "bob", "groups": ["sre-leads"]}, {"sub": "carol", "groups": ["sre-leads", "sre"]}]
	authz.decision == allowed
		with input as write_with("default", review, {"approved_by": approvers})
		with policy_data as config
		with time.now_ns as now_ns
}

test_success_user_confirmation_accepted_in_staging if {
	confirmation := {"kind": "user_confirmation", "approved_by": [{"sub": "alice", "groups": ["sre"]}]}
	authz.decision == allowed
		with input as write_with("staging", review, confirmation)
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_success_review_accepted_in_staging if {
	authz.decision == allowed
		with input as write_with("staging", review, {"approved_by": [{"sub": "bob", "groups": ["sre"]}]})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

# ---------------------------------------------------------------------------------------------
# Invalid approvals: the requirement stays, with the reason why
# ---------------------------------------------------------------------------------------------

test_fail_approval_expired if {
	authz.decision == needs_approval(default_rule, [
		default_requirement,
		"the approval expired at 2026-11-24T21:29:59Z",
	])
		with input as write_with("default", review, {"expires_at": "2026-11-24T21:29:59Z"})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approval_expires_now if {
	authz.decision == needs_approval(default_rule, [
		default_requirement,
		"the approval expired at 2026-11-24T21:30:00Z",
	])
		with input as write_with("default", review, {"expires_at": "2026-11-24T21:30:00Z"})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approval_without_valid_expiry if {
	expected := needs_approval(default_rule, [
		default_requirement,
		"the approval has no valid expires_at (RFC 3339 time)",
	])
	every expires_at in [
		null, 1795555900, "tomorrow", "2026-11-24 21:35:00", "", "2026-11-24T21:35:00",
		"2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z", "2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2026-11-24T24:00:00Z", "2026-11-24T21:60:00Z", "2026-11-24T21:35:60Z", "2026-11-24T21:35:00+24:00",
		"9999-12-31T23:59:59Z", "2026-11-24T21:35:00.1234567890Z",
	] {
		authz.decision == expected
			with input as write_with("default", review, {"expires_at": expires_at})
			with policy_data as readwrite_config
			with time.now_ns as now_ns
	}
	authz.decision == expected
		with input as write_with("default", object.remove(review, ["expires_at"]), {})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approval_digest_tampered if {
	authz.decision == needs_approval(default_rule, [
		default_requirement,
		"the approval was granted for a different action (action digest mismatch)",
	])
		with input as write_with("default", review, {"action_digest": "sha256:0000"})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approval_digest_missing_on_both_sides if {
	no_digest := json.remove(write_with("default", object.remove(review, ["action_digest"]), {}), ["action_digest"])
	authz.decision == needs_approval(default_rule, [
		default_requirement,
		"the approval was granted for a different action (action digest mismatch)",
	])
		with input as no_digest
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approver_is_the_requester if {
	authz.decision == needs_approval(default_rule, [
		default_requirement,
		"not enough approvals: 0 of 1 from group:sre-leads",
		"the requester cannot approve their own request",
	])
		with input as write_with("default", review, {"approved_by": [{"sub": "alice", "groups": ["sre-leads"]}]})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approver_is_the_requester_beside_a_valid_one if {
	approvers := [{"sub": "bob", "groups": ["sre-leads"]}, {"sub": "alice", "groups": ["sre-leads"]}]
	authz.decision == needs_approval(default_rule, [
		default_requirement,
		"the requester cannot approve their own request",
	])
		with input as write_with("default", review, {"approved_by": approvers})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approver_in_wrong_group if {
	authz.decision == needs_approval(default_rule, [
		default_requirement,
		"not enough approvals: 0 of 1 from group:sre-leads",
	])
		with input as write_with("default", review, {"approved_by": [{"sub": "bob", "groups": ["sre", "dev"]}]})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approvers_malformed if {
	approvers := [{"sub": "bob"}, {"sub": "", "groups": ["sre-leads"]}, "bob", {"sub": "carol", "groups": "sre-leads"}]
	expected := needs_approval(default_rule, [default_requirement, "not enough approvals: 0 of 1 from group:sre-leads"])
	authz.decision == expected
		with input as write_with("default", review, {"approved_by": approvers})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
	authz.decision == expected
		with input as write_with("default", review, {"approved_by": "bob"})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_not_enough_approvers_for_count_two if {
	config := object.union(readwrite_config, {"approval": {"default": {"count": 2}}})
	rule := object.union(default_rule, {"count": 2})
	twice := [{"sub": "bob", "groups": ["sre-leads"]}, {"sub": "bob", "groups": ["sre-leads"]}]
	every approvers in [review.approved_by, twice] {
		authz.decision == needs_approval(rule, [
			"approval required: 2 approvals from group:sre-leads",
			"not enough approvals: 1 of 2 from group:sre-leads",
		])
			with input as write_with("default", review, {"approved_by": approvers})
			with policy_data as config
			with time.now_ns as now_ns
	}
}

test_fail_kind_not_accepted if {
	confirmation := {"kind": "user_confirmation", "approved_by": [{"sub": "alice", "groups": ["sre"]}]}
	authz.decision == needs_approval(default_rule, [
		`approval kind "user_confirmation" is not accepted here (accepted: review)`,
		default_requirement,
	])
		with input as write_with("default", review, confirmation)
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_kind_unknown_or_missing if {
	authz.decision == needs_approval(staging_rule, [
		`approval kind "vote" is not accepted here (accepted: review, user_confirmation)`,
		staging_requirement,
	])
		with input as write_with("staging", review, {"kind": "vote"})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
	authz.decision == needs_approval(default_rule, [
		"approval kind null is not accepted here (accepted: review)",
		default_requirement,
	])
		with input as write_with("default", object.remove(review, ["kind"]), {})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_user_confirmation_by_someone_else if {
	confirmation := {"kind": "user_confirmation", "approved_by": [{"sub": "bob", "groups": ["sre"]}]}
	authz.decision == needs_approval(staging_rule, [
		staging_requirement,
		"the approval was not confirmed by the requester",
	])
		with input as write_with("staging", review, confirmation)
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approval_not_approved if {
	every state in ["pending", "denied", "used", "expired"] {
		authz.decision == needs_approval(default_rule, [
			default_requirement,
			sprintf("the approval is not approved (state %q)", [state]),
		])
			with input as write_with("default", review, {"state": state})
			with policy_data as readwrite_config
			with time.now_ns as now_ns
	}
	authz.decision == needs_approval(default_rule, [
		default_requirement,
		"the approval is not approved (state null)",
	])
		with input as write_with("default", object.remove(review, ["state"]), {})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approval_requested_by_someone_else if {
	authz.decision == needs_approval(default_rule, [
		default_requirement,
		`the approval was requested by "mallory", not by the caller`,
	])
		with input as write_with("default", review, {"requested_by": "mallory"})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approval_malformed if {
	every approval in ["apr-1", 1, true, ["apr-1"]] {
		authz.decision == needs_approval(default_rule, [
			default_requirement,
			"the approval is malformed (input.approval must be an object or null)",
		])
			with input as call("restart_deployment", {"approval": approval})
			with policy_data as readwrite_config
	}
}

test_fail_approval_cannot_unlock_a_denied_write if {
	without_hints(authz.decision) == denied([`writes are disabled: the gateway runs in "readonly" mode`])
		with input as call("restart_deployment", {"approval": review, "gateway": {"mode": "readonly"}})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
}

test_fail_approval_without_valid_created_at if {
	expected := needs_approval(default_rule, [
		default_requirement,
		"the approval has no valid created_at (RFC 3339 time)",
	])
	every created_at in [null, "yesterday", "2026-11-24T21:20:00", "2026-02-30T21:20:00Z"] {
		authz.decision == expected
			with input as write_with("default", review, {"created_at": created_at})
			with policy_data as readwrite_config
			with time.now_ns as now_ns
	}
}

# the review fixture lives exactly 900 s, the shipped ttl (allowed above); a shorter ttl set
# after the approval was given applies to it
test_fail_approval_outlives_a_shortened_ttl if {
	config := object.union(readwrite_config, {"approval": {"default": {"ttl_seconds": 600}}})
	authz.decision == needs_approval(object.union(default_rule, {"ttl_seconds": 600}), [
		default_requirement,
		"the approval lasts longer than the policy's ttl of 600 seconds",
	])
		with input as write_with("default", review, {})
		with policy_data as config
		with time.now_ns as now_ns
}

# ---------------------------------------------------------------------------------------------
# Reading approval requests (get_approval, list_my_approvals)
# ---------------------------------------------------------------------------------------------

only_the_requester := "an approval request can be read only by the principal who requested it"

test_success_requester_reads_own_approval if {
	every approval in [review, object.union(review, {"state": "used"}), object.union(review, {"expires_at": null})] {
		authz.decision == allowed with input as call("get_approval", {"approval": approval})
	}
}

test_fail_reading_someone_elses_approval if {
	authz.decision == denied([only_the_requester])
		with input as call("get_approval", {"approval": object.union(review, {"requested_by": "mallory"})})
	authz.decision == denied([only_the_requester])
		with input as call("get_approval", {"approval": review, "principal": {"sub": "bob"}})
}

test_fail_reading_an_approval_that_was_not_sent if {
	every approval in [null, "apr-1", {}] {
		authz.decision == denied([only_the_requester]) with input as call("get_approval", {"approval": approval})
	}
}

test_success_listing_own_approvals_whatever_the_allowlists if {
	closed := object.union(policy_data, {"namespaces": [], "cluster_reads": []})
	authz.decision == allowed with input as call("list_my_approvals", {}) with policy_data as closed
	authz.decision == allowed
		with input as call("get_approval", {"approval": review, "gateway": {"namespaces": []}})
		with policy_data as closed
}

test_fail_approvals_are_not_writable if {
	approve := object.union(actions.get_approval, {"verb": "update", "write": true})
	authz.decision == denied([`cluster-scoped resource "approvals" is not in the cluster write allowlist`])
		with input as call("get_approval", {"action": approve, "approval": review})
		with policy_data as readwrite_config
}

test_fail_approvals_of_another_api_group_are_kubernetes_objects if {
	foreign := object.union(actions.list_my_approvals, {"group": "example.com"})
	authz.decision == denied([`cluster-scoped resource "approvals" is not in the cluster read allowlist`])
		with input as call("list_my_approvals", {"action": foreign})
}
