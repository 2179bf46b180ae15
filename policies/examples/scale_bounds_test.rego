# METADATA
# description: Tests of scale_bounds.rego, each comparing the whole decision document.
package mcp.examples.scale_bounds_test

import rego.v1

import data.mcp.config as policy_data
import data.mcp.examples.fixtures_test as f
import data.mcp.examples.scale_bounds

test_success_within_the_limit_and_double_the_usual_size if {
	# staging/web usually runs 2: 4 is exactly double
	scale_bounds.decision == f.allowed
		with input as f.scale(f.alice, "staging", 4)
		with policy_data as f.no_approvals
}

test_fail_more_than_double_the_usual_size if {
	scale_bounds.decision == f.denied(["scaling staging/web to 5 replicas more than doubles its usual 2"])
		with input as f.scale(f.alice, "staging", 5)
		with policy_data as f.no_approvals
}

test_fail_above_the_limit if {
	scale_bounds.decision == f.denied([
		"scaling default/web to 11 replicas more than doubles its usual 3",
		"scaling to 11 replicas is above the limit of 10",
	]) with input as f.scale(f.alice, "default", 11)
		with policy_data as f.no_approvals
}

test_success_unlisted_deployment_up_to_the_limit if {
	scale_bounds.decision == f.allowed
		with input as f.call(f.alice, "scale_deployment", "staging", {"deployment_name": "api", "replicas": 10})
		with policy_data as f.no_approvals
	scale_bounds.decision == f.denied(["scaling to 11 replicas is above the limit of 10"])
		with input as f.call(f.alice, "scale_deployment", "staging", {"deployment_name": "api", "replicas": 11})
		with policy_data as f.no_approvals
}

test_success_scale_down_to_zero if {
	scale_bounds.decision == f.allowed
		with input as f.scale(f.alice, "staging", 0)
		with policy_data as f.no_approvals
}

test_fail_replicas_not_a_whole_number if {
	every replicas in [2.5, "3", null] {
		scale_bounds.decision == f.denied(["scale_deployment needs replicas as a whole number"])
			with input as f.scale(f.alice, "staging", replicas)
			with policy_data as f.no_approvals
	}
}

test_fail_out_of_bounds_scale_withdraws_the_approval_offer if {
	# with the shipped approvals, an in-bounds scale asks for one; an out-of-bounds one is denied
	scale_bounds.decision == f.needs(f.leads_review, [f.leads_review_text])
		with input as f.scale(f.alice, "default", 6)
		with policy_data as f.readwrite
	scale_bounds.decision == f.denied(["scaling default/web to 7 replicas more than doubles its usual 3"])
		with input as f.scale(f.alice, "default", 7)
		with policy_data as f.readwrite
}

test_success_restart_is_not_a_scale if {
	scale_bounds.decision == f.allowed
		with input as f.restart(f.alice, "staging")
		with policy_data as f.no_approvals
}
