# Tests of guidance.rego: every hint of the decision, and permissions. Each compares the whole
# decision document or the whole permissions document. Fixtures: authz_test.rego, grants_test.rego.
package mcp.authz_test

import rego.v1

import data.mcp.authz

import data.mcp.config as policy_data

permissions_action := {
	"verb": "get", "group": "k8s-mcp-gateway", "resource": "permissions", "subresource": "",
	"namespace": null, "name": null, "cluster_scoped": true, "write": false,
}

permissions_call := object.union(base_input, {"tool": {"name": "my_permissions"}, "action": permissions_action})

with_hints(decision, hints) := object.union(decision, {"hints": hints})

readonly_hint := `writes need "mode": "readwrite" in the policy data (data.mcp.config.mode)`

gateway_readonly_hint := "writes need the gateway started with K8S_MCP_MODE=readwrite"

staging_approval := {"required": true, "approvers": ["group:sre"], "count": 1, "kinds": ["review", "user_confirmation"]}

leads_approval := {"required": true, "approvers": ["group:sre-leads"], "count": 1, "kinds": ["review"]}

test_success_a_namespace_denial_names_the_usable_namespaces if {
	authz.decision == with_hints(
		denied([`namespace "prod" is not in the allowlist`]),
		{"namespaces": ["default", "staging"]},
	)
		with input as call_in("list_pods", "prod")
	authz.decision == with_hints(
		denied([`namespace "default" is not in the gateway's allowlist`]),
		{"namespaces": ["staging"]},
	)
		with input as call("list_pods", {"gateway": {"namespaces": ["staging", "prod"]}})
}

test_success_a_wildcard_allowlist_hints_any_namespace_and_the_listed_ones if {
	authz.decision == with_hints(
		denied([`namespace "Prod" is not a valid namespace name`]),
		{"namespaces": ["*", "prod", "staging"]},
	)
		with input as call_in("list_pods", "Prod")
		with policy_data as object.union(policy_data, {"namespaces": ["*"]})
}

test_success_list_namespaces_hints_the_usable_namespaces if {
	authz.decision == with_hints(allowed, {"namespaces": ["default", "staging"]})
		with input as call("list_namespaces", {})
	authz.decision == with_hints(allowed, {"namespaces": ["staging"]})
		with input as call("list_namespaces", {"gateway": {"namespaces": ["staging", "kube-system"]}})
}

test_success_a_readonly_write_says_what_writes_need if {
	authz.decision == with_hints(denied([`writes are disabled: the policy mode is "readonly"`]), {"writes": [
		"group:sre may call scale_deployment in staging",
		readonly_hint,
	]})
		with input as call_in("scale_deployment", "staging")
	authz.decision == with_hints(denied([`writes are disabled: the gateway runs in "readonly" mode`]), {"writes": [
		"group:oncall may call restart_deployment in prod",
		"group:sre may call restart_deployment in staging",
		gateway_readonly_hint,
	]})
		with input as call("restart_deployment", {"action": {"namespace": "staging"}, "gateway": {"mode": "readonly"}})
		with policy_data as with_prod
}

test_success_an_ungranted_write_names_who_may_write_where if {
	authz.decision == with_hints(denied([not_granted("dave", "scale_deployment", "staging")]), {
		"namespaces": [],
		"writes": ["group:sre may call scale_deployment in staging"],
	})
		with input as write_by("scale_deployment", dave, "staging")
		with policy_data as shipped_readwrite
	authz.decision == with_hints(denied([not_granted("alice", "restart_deployment", "default")]), {
		"namespaces": ["staging"],
		"writes": ["group:sre may call restart_deployment in staging"],
	})
		with input as call_in("restart_deployment", "default")
		with policy_data as shipped_readwrite
}

test_success_a_write_nobody_may_make_says_so if {
	authz.decision == with_hints(denied([not_granted("alice", "scale_deployment", "staging")]), {
		"namespaces": [],
		"writes": [`no grant in data.mcp.config.grants covers "scale_deployment": nobody may make this write`],
	})
		with input as call_in("scale_deployment", "staging")
		with policy_data as object.remove(shipped_readwrite, ["grants"])
}

test_success_no_hints_for_allowed_calls_and_approval_offers if {
	authz.decision == allowed with input as call_in("list_pods", "staging")
	authz.decision == needs_approval(staging_rule, [staging_requirement])
		with input as call_in("scale_deployment", "staging")
		with policy_data as shipped_readwrite
}

test_fail_no_hints_for_a_caller_the_policy_does_not_admit if {
	authz.decision == denied([
		`namespace "prod" is not in the allowlist`,
		"the caller is not authenticated, and unauthenticated callers are admitted on stdio only",
	])
		with input as call("list_pods", {"action": {"namespace": "prod"}, "principal": {"authenticated": false}})
	not authz.permissions with input as set_key(permissions_call, "principal", {"sub": "", "groups": []})
}

test_success_my_permissions_readonly if {
	expected := {
		"mode": "readonly", "namespaces": ["default", "staging"], "cluster_reads": ["namespaces", "nodes"],
		"writes": [], "truncated": false,
	}
	authz.permissions == expected with input as permissions_call
	authz.decision == with_hints(allowed, {"permissions": expected}) with input as permissions_call
}

test_success_my_permissions_names_each_granted_write_and_its_approval if {
	authz.permissions == {
		"mode": "readwrite", "namespaces": ["default", "staging"], "cluster_reads": ["namespaces", "nodes"],
		"writes": [
			{"tool": "restart_deployment", "namespace": "staging", "approval": staging_approval},
			{"tool": "scale_deployment", "namespace": "staging", "approval": staging_approval},
		],
		"truncated": false,
	}
		with input as permissions_call
		with policy_data as shipped_readwrite
	authz.permissions.writes == [{"tool": "restart_deployment", "namespace": "prod", "approval": leads_approval}]
		with input as set_key(permissions_call, "principal", oscar)
		with policy_data as with_prod
	authz.permissions.writes == [{"tool": "*", "namespace": "*", "approval": leads_approval}]
		with input as permissions_call
		with policy_data as object.union(readwrite_config, {"namespaces": ["*"]})
	authz.permissions.writes == [{"tool": "restart_deployment", "namespace": "default", "approval": {"required": false}}]
		with input as permissions_call
		with policy_data as object.union(shipped_readwrite, {
			"grants": [{"who": "user:alice", "tools": ["restart_deployment"], "namespaces": ["default", "prod"]}],
			"approval": {"default": {"required": false}},
		})
}

test_success_my_permissions_is_capped if {
	many := [sprintf("ns-%d", [i]) | some i in numbers.range(1, 60)]
	permissions := authz.permissions with input as permissions_call
		with policy_data as object.union(readwrite_config, {
			"namespaces": many,
			"grants": [{"who": "*", "tools": ["restart_deployment"], "namespaces": many}],
		})
	count(permissions.namespaces) == 50
	count(permissions.writes) == 50
	permissions.truncated == true
}

contexts_call := object.union(base_input, {
	"tool": {"name": "list_contexts"},
	"action": object.union(permissions_action, {"verb": "list", "resource": "contexts"}),
})

test_success_list_contexts_is_a_read_every_admitted_caller_may_make if {
	authz.decision == allowed with input as contexts_call
	authz.decision == allowed
		with input as contexts_call
		with policy_data as object.union(policy_data, {"cluster_reads": []})
}

test_fail_list_contexts_for_a_caller_the_policy_does_not_admit if {
	not authz.decision.allow with input as set_key(contexts_call, "principal", {"sub": "", "groups": []})
}
