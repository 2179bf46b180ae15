# METADATA
# description: Tests of kube_system.rego, each comparing the whole decision document.
package mcp.examples.kube_system_test

import rego.v1

import data.mcp.config as policy_data
import data.mcp.examples.fixtures_test as f
import data.mcp.examples.kube_system

kube_system_denied := "writes in kube-system are not allowed: the namespace belongs to the cluster's operators"

test_fail_write_in_kube_system_even_when_every_namespace_is_allowed if {
	# the shipped policy alone would only ask for an approval here
	kube_system.decision == f.denied([kube_system_denied])
		with input as f.restart(f.alice, "kube-system")
		with policy_data as f.everywhere
}

test_fail_approved_write_in_kube_system if {
	kube_system.decision == f.denied([kube_system_denied])
		with input as f.reviewed(f.scale(f.alice, "kube-system", 3), [f.lena])
		with policy_data as f.everywhere
		with time.now_ns as f.now_ns
}

test_fail_shipped_reasons_are_kept if {
	f.without_hints(kube_system.decision) == f.denied([
		"namespace \"kube-system\" is not in the allowlist",
		`no write grant (data.mcp.config.grants) lets "alice" call "restart_deployment" in namespace "kube-system"`,
		`writes are disabled: the policy mode is "readonly"`,
		kube_system_denied,
	]) with input as f.restart(f.alice, "kube-system")
}

test_success_read_in_kube_system_is_the_shipped_decision if {
	kube_system.decision == f.allowed
		with input as f.read_pods(f.alice, "kube-system")
		with policy_data as f.everywhere
}

test_success_write_elsewhere_is_the_shipped_decision if {
	kube_system.decision == f.needs(f.leads_review, [f.leads_review_text])
		with input as f.restart(f.alice, "default")
		with policy_data as f.everywhere
	kube_system.decision == f.allowed
		with input as f.reviewed(f.restart(f.alice, "default"), [f.lena])
		with policy_data as f.everywhere
		with time.now_ns as f.now_ns
}
