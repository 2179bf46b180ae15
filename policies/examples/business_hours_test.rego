# METADATA
# description: |
#   Tests of business_hours.rego, each comparing the whole decision document. The clock is set
#   with `with time.now_ns as ...`; Europe/Berlin is UTC+1 in November.
package mcp.examples.business_hours_test

import rego.v1

import data.mcp.config as policy_data
import data.mcp.examples.business_hours
import data.mcp.examples.fixtures_test as f

# Wednesday 2026-11-25 in Berlin
wednesday_08_59 := 1795593540000000000

wednesday_09_00 := 1795593600000000000

wednesday_16_59 := 1795622340000000000

wednesday_17_00 := 1795622400000000000

# Saturday 2026-11-28 11:00 in Berlin
saturday_11_00 := 1795860000000000000

# the decision for a write at `at` (weekday and time in Berlin)
closed(at) := f.denied([sprintf(
	"writes run only Monday to Friday, 09:00 to 17:00 Europe/Berlin; it is %s there",
	[at],
)])

test_success_write_in_business_hours if {
	every now in [f.now_ns, wednesday_09_00, wednesday_16_59] {
		business_hours.decision == f.allowed
			with input as f.restart(f.alice, "staging")
			with policy_data as f.no_approvals
			with time.now_ns as now
	}
}

test_fail_write_before_opening if {
	business_hours.decision == closed("Wednesday 08:59")
		with input as f.scale(f.alice, "staging", 3)
		with policy_data as f.no_approvals
		with time.now_ns as wednesday_08_59
}

test_fail_write_at_closing if {
	business_hours.decision == closed("Wednesday 17:00")
		with input as f.restart(f.alice, "staging")
		with policy_data as f.no_approvals
		with time.now_ns as wednesday_17_00
}

test_fail_write_on_the_weekend if {
	business_hours.decision == closed("Saturday 11:00")
		with input as f.restart(f.alice, "staging")
		with policy_data as f.no_approvals
		with time.now_ns as saturday_11_00
}

test_fail_request_time_does_not_count if {
	# the caller's side writes request.time; only OPA's clock decides
	in_hours := object.union(f.restart(f.alice, "staging"), {"request": {"time": "2026-11-25T09:30:00Z"}})
	business_hours.decision == closed("Saturday 11:00")
		with input as in_hours
		with policy_data as f.no_approvals
		with time.now_ns as saturday_11_00
}

test_success_reads_at_any_time if {
	business_hours.decision == f.allowed
		with input as f.read_pods(f.alice, "staging")
		with time.now_ns as saturday_11_00
}

test_fail_after_hours_withdraws_the_approval_offer if {
	business_hours.decision == f.needs(f.leads_review, [f.leads_review_text])
		with input as f.restart(f.alice, "default")
		with policy_data as f.readwrite
		with time.now_ns as f.now_ns
	business_hours.decision == closed("Saturday 11:00")
		with input as f.restart(f.alice, "default")
		with policy_data as f.readwrite
		with time.now_ns as saturday_11_00
}
