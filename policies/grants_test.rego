# Tests of grants.rego and the shipped grants of policies/data.json: group:sre writes in staging,
# group:oncall restarts in prod, everyone else reads; the three rules stay the floor under every
# grant. Fixtures: authz_test.rego and approval_test.rego.
package mcp.authz_test

import rego.v1

import data.mcp.authz

import data.mcp.config as policy_data

# the shipped data with writes enabled: its grants, not the open grant of readwrite_config
shipped_readwrite := object.union(policy_data, {"mode": "readwrite"})

# ... and prod on the allowlist, which the oncall grant needs
with_prod := object.union(shipped_readwrite, {"namespaces": ["default", "staging", "prod"]})

oscar := {"sub": "oscar", "groups": ["oncall"], "authenticated": true}

dave := {"sub": "dave", "groups": ["dev"], "authenticated": true}

not_granted_text := "no write grant (%s) lets %s call %s in namespace %s"

# a write of `tool` by `who` in `namespace`
write_by(tool, who, namespace) := set_key(call_in(tool, namespace), "principal", who)

not_granted(who, tool, namespace) := sprintf(not_granted_text, [
	"data.mcp.config.grants",
	json.marshal(who), json.marshal(tool), json.marshal(namespace),
])

test_success_sre_writes_in_staging_with_its_approval_rule if {
	every tool in ["restart_deployment", "scale_deployment"] {
		authz.decision == needs_approval(staging_rule, [staging_requirement])
			with input as call_in(tool, "staging")
			with policy_data as shipped_readwrite
	}
}

test_success_oncall_restarts_in_prod_with_a_review_by_sre_leads if {
	authz.decision == needs_approval(default_rule, [default_requirement])
		with input as write_by("restart_deployment", oscar, "prod")
		with policy_data as with_prod
}

test_success_a_user_grant_and_an_open_grant if {
	every grant in [{"who": "user:dave", "tools": ["scale_deployment"], "namespaces": ["default"]}, open_grant] {
		authz.decision == needs_approval(default_rule, [default_requirement])
			with input as write_by("scale_deployment", dave, "default")
			with policy_data as object.union(shipped_readwrite, {"grants": [grant]})
	}
}

test_fail_oncall_may_not_scale_in_prod if {
	without_hints(authz.decision) == denied([not_granted("oscar", "scale_deployment", "prod")])
		with input as write_by("scale_deployment", oscar, "prod")
		with policy_data as with_prod
}

test_fail_sre_may_not_write_in_prod_or_default if {
	every namespace in ["prod", "default"] {
		without_hints(authz.decision) == denied([not_granted("alice", "restart_deployment", namespace)])
			with input as call_in("restart_deployment", namespace)
			with policy_data as with_prod
	}
}

test_fail_everyone_else_is_read_only if {
	without_hints(authz.decision) == denied([not_granted("dave", "restart_deployment", "staging")])
		with input as write_by("restart_deployment", dave, "staging")
		with policy_data as shipped_readwrite
	authz.decision == allowed with input as set_key(call_in("list_pods", "staging"), "principal", dave)
}

test_fail_no_grants_means_nobody_writes if {
	every config in [
		object.remove(shipped_readwrite, ["grants"]),
		object.union(shipped_readwrite, {"grants": "group:sre"}),
		object.union(shipped_readwrite, {"grants": [
			{"who": "sre", "tools": ["*"], "namespaces": ["*"]},
			{"who": "group:sre", "tools": "*", "namespaces": ["*"]},
			{"who": "group:sre", "tools": ["*"], "namespaces": "staging"},
			{"who": 7, "tools": ["*"], "namespaces": ["*"]},
		]}),
	] {
		without_hints(authz.decision) == denied([not_granted("alice", "restart_deployment", "staging")])
			with input as call_in("restart_deployment", "staging")
			with policy_data as config
	}
}

test_fail_groups_must_be_a_list_of_names if {
	every groups in ["sre", null, [["sre"]]] {
		without_hints(authz.decision) == denied([not_granted("alice", "restart_deployment", "staging")])
			with input as call("restart_deployment", {"action": {"namespace": "staging"}, "principal": {"groups": groups}})
			with policy_data as shipped_readwrite
	}
}

test_fail_the_floor_holds_under_every_grant if {
	# read-only by default: the shipped data
	without_hints(authz.decision) == denied([`writes are disabled: the policy mode is "readonly"`])
		with input as write_by("restart_deployment", oscar, "prod")
		with policy_data as object.union(policy_data, {"namespaces": ["default", "staging", "prod"]})

	# the namespace allowlist: prod is not on the shipped one
	without_hints(authz.decision) == denied([`namespace "prod" is not in the allowlist`])
		with input as write_by("restart_deployment", oscar, "prod")
		with policy_data as shipped_readwrite

	# an approval: an open grant still needs one
	authz.decision == needs_approval(default_rule, [default_requirement])
		with input as write_by("restart_deployment", dave, "default")
		with policy_data as readwrite_config

	# no cluster-scoped writes but of the resources cluster_writes lists
	unlisted := `cluster-scoped resource "deployments" is not in the cluster write allowlist`
	without_hints(authz.decision) == denied([unlisted])
		with input as call("restart_deployment", {"action": {"namespace": null, "cluster_scoped": true}})
		with policy_data as readwrite_config
}
