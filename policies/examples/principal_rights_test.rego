# METADATA
# description: |
#   Tests of principal_rights.rego, each comparing the whole decision document: alice is in
#   group:sre, oscar in group:oncall, dave in group:dev, lena and mia in group:sre-leads.
package mcp.examples.principal_rights_test

import rego.v1

import data.mcp.config as policy_data
import data.mcp.examples.fixtures_test as f
import data.mcp.examples.principal_rights

# policies/data.json's staging rule, as the decision announces it
staging_rule := {
	"required": true, "approvers": ["group:sre"], "count": 1,
	"ttl_seconds": 900, "kinds": ["review", "user_confirmation"],
}

staging_text := "approval required: 1 approval from group:sre (accepted kinds: review, user_confirmation)"

grants := concat(", ", [
	"group:oncall (restart_deployment in prod)",
	"group:sre (restart_deployment in staging)",
	"group:sre (scale_deployment in staging)",
])

# the decision for a write `who` may not make
not_granted(who, tool, namespace) := f.denied([sprintf("%s may not call %s in %s: writes are granted only to %s", [
	json.marshal(who), json.marshal(tool), json.marshal(namespace), grants,
])])

test_success_sre_writes_in_staging_with_a_confirmation if {
	principal_rights.decision == f.needs(staging_rule, [staging_text])
		with input as f.scale(f.alice, "staging", 3)
		with policy_data as f.with_prod
	principal_rights.decision == f.allowed
		with input as f.confirmed(f.scale(f.alice, "staging", 3))
		with policy_data as f.with_prod
		with time.now_ns as f.now_ns
}

test_success_oncall_restarts_in_prod_with_a_review_by_sre_leads if {
	principal_rights.decision == f.needs(f.leads_review, [f.leads_review_text])
		with input as f.restart(f.oscar, "prod")
		with policy_data as f.with_prod
	principal_rights.decision == f.allowed
		with input as f.reviewed(f.restart(f.oscar, "prod"), [f.lena])
		with policy_data as f.with_prod
		with time.now_ns as f.now_ns
}

test_fail_oncall_cannot_confirm_a_prod_restart_alone if {
	principal_rights.decision == f.needs(f.leads_review, [
		`approval kind "user_confirmation" is not accepted here (accepted: review)`,
		"approval required: 1 approval from group:sre-leads",
	])
		with input as f.confirmed(f.restart(f.oscar, "prod"))
		with policy_data as f.with_prod
		with time.now_ns as f.now_ns
}

test_fail_oncall_cannot_scale_in_prod if {
	principal_rights.decision == not_granted("oscar", "scale_deployment", "prod")
		with input as f.reviewed(f.scale(f.oscar, "prod", 3), [f.lena])
		with policy_data as f.with_prod
		with time.now_ns as f.now_ns
}

test_fail_sre_cannot_write_in_prod if {
	principal_rights.decision == not_granted("alice", "restart_deployment", "prod")
		with input as f.restart(f.alice, "prod")
		with policy_data as f.with_prod
}

test_fail_everyone_else_is_read_only if {
	every who in [f.dave, f.lena] {
		principal_rights.decision == not_granted(who.sub, "restart_deployment", "staging")
			with input as f.confirmed(f.restart(who, "staging"))
			with policy_data as f.with_prod
			with time.now_ns as f.now_ns
	}
	principal_rights.decision == f.allowed
		with input as f.read_pods(f.dave, "prod")
		with policy_data as f.with_prod
}

test_fail_groups_must_be_a_list if {
	principal_rights.decision == not_granted("alice", "restart_deployment", "staging")
		with input as f.restart(object.union(f.alice, {"groups": "sre"}), "staging")
		with policy_data as f.with_prod
}

test_fail_the_shipped_rules_stay_the_floor if {
	# policies/data.json as shipped: read-only, and prod is not on the allowlist
	principal_rights.decision == f.denied([
		`namespace "prod" is not in the allowlist`,
		`writes are disabled: the policy mode is "readonly"`,
	])
		with input as f.reviewed(f.restart(f.oscar, "prod"), [f.lena])
		with time.now_ns as f.now_ns
}
