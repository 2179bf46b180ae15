# METADATA
# description: Tests of prod_two_approvers.rego, each comparing the whole decision document.
package mcp.examples.prod_two_approvers_test

import rego.v1

import data.mcp.config as policy_data
import data.mcp.examples.fixtures_test as f
import data.mcp.examples.prod_two_approvers

two_leads := object.union(f.leads_review, {"count": 2})

two_leads_text := "approval required: 2 approvals from group:sre-leads"

test_fail_prod_write_asks_for_two_approvers if {
	prod_two_approvers.decision == f.needs(two_leads, [two_leads_text])
		with input as f.restart(f.alice, "prod")
		with policy_data as f.with_prod
}

test_fail_prod_write_with_one_approver if {
	prod_two_approvers.decision == f.needs(two_leads, [
		two_leads_text,
		"not enough approvals: 1 of 2 from group:sre-leads",
	])
		with input as f.reviewed(f.restart(f.alice, "prod"), [f.lena])
		with policy_data as f.with_prod
		with time.now_ns as f.now_ns
}

test_success_prod_write_with_two_approvers if {
	prod_two_approvers.decision == f.allowed
		with input as f.reviewed(f.scale(f.alice, "prod", 3), [f.lena, f.mia])
		with policy_data as f.with_prod
		with time.now_ns as f.now_ns
}

test_fail_the_same_approver_twice_counts_once if {
	prod_two_approvers.decision == f.needs(two_leads, [
		two_leads_text,
		"not enough approvals: 1 of 2 from group:sre-leads",
	])
		with input as f.reviewed(f.restart(f.alice, "prod"), [f.lena, f.lena])
		with policy_data as f.with_prod
		with time.now_ns as f.now_ns
}

test_fail_requester_is_not_one_of_the_two if {
	prod_two_approvers.decision == f.needs(two_leads, [
		two_leads_text,
		"not enough approvals: 1 of 2 from group:sre-leads",
		"the requester cannot approve their own request",
	])
		with input as f.reviewed(f.restart(f.lena, "prod"), [f.lena, f.mia])
		with policy_data as f.with_prod
		with time.now_ns as f.now_ns
}

test_fail_data_cannot_lower_the_prod_rule if {
	lowered := object.union(f.with_prod, {"approval": {"namespaces": {"prod": {"required": false, "count": 1}}}})
	prod_two_approvers.decision == f.needs(two_leads, [two_leads_text])
		with input as f.restart(f.alice, "prod")
		with policy_data as lowered
}

test_fail_data_may_raise_the_prod_rule if {
	raised := object.union(f.with_prod, {"approval": {"namespaces": {"prod": {"count": 3}}}})
	prod_two_approvers.decision == f.needs(object.union(f.leads_review, {"count": 3}), [
		"approval required: 3 approvals from group:sre-leads",
		"not enough approvals: 2 of 3 from group:sre-leads",
	])
		with input as f.reviewed(f.restart(f.alice, "prod"), [f.lena, f.mia])
		with policy_data as raised
		with time.now_ns as f.now_ns
}

test_success_other_namespaces_keep_their_rule if {
	prod_two_approvers.decision == f.allowed
		with input as f.reviewed(f.restart(f.alice, "default"), [f.lena])
		with policy_data as f.with_prod
		with time.now_ns as f.now_ns
}

test_fail_prod_outside_the_allowlist_stays_denied if {
	f.without_hints(prod_two_approvers.decision) == f.denied(["namespace \"prod\" is not in the allowlist"])
		with input as f.reviewed(f.restart(f.alice, "prod"), [f.lena, f.mia])
		with policy_data as f.readwrite
		with time.now_ns as f.now_ns
}
