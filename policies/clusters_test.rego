# Tests of clusters.rego: data.mcp.config.clusters, policy data per cluster. A call names its
# cluster in input.gateway.cluster ("kind-dev" in base_input); the listing input names every
# cluster the gateway serves in input.gateway.clusters. Fixtures: authz_test.rego,
# approval_test.rego, grants_test.rego, visible_tools_test.rego.
package mcp.authz_test

import rego.v1

import data.mcp.authz

import data.mcp.config as policy_data

# `tool` called in `namespace` on `cluster`
call_on(cluster, tool, namespace) := call(tool, {"action": {"namespace": namespace}, "gateway": {"cluster": cluster}})

# the shipped data (read-only at the top) with a `west` cluster whose entry is `entry`
with_west(entry) := object.union(policy_data, {"clusters": {"west": entry}})

# west takes the shipped grants' writes; the top level stays read-only
west_writes := with_west({"mode": "readwrite"})

test_success_a_cluster_without_an_entry_is_decided_by_the_top_level_data if {
	authz.decision == allowed with input as call_in("list_pods", "staging") with policy_data as west_writes
	without_hints(authz.decision) == denied([`writes are disabled: the policy mode is "readonly"`])
		with input as call_in("restart_deployment", "staging")
		with policy_data as west_writes
}

test_success_a_cluster_entry_enables_writes_on_its_cluster_only if {
	authz.decision == needs_approval(staging_rule, [staging_requirement])
		with input as call_on("west", "restart_deployment", "staging")
		with policy_data as west_writes
}

test_fail_a_cluster_entry_narrows_its_namespaces if {
	config := with_west({"namespaces": ["default"]})
	authz.decision == allowed with input as call_on("west", "list_pods", "default") with policy_data as config
	authz.decision == with_hints(
		denied([`namespace "staging" is not in the allowlist on cluster "west"`]),
		{"namespaces": ["default"]},
	)
		with input as call_on("west", "list_pods", "staging")
		with policy_data as config

	# the top level still admits staging on every other cluster
	authz.decision == allowed with input as call_in("list_pods", "staging") with policy_data as config
}

test_fail_a_readonly_cluster_names_itself_in_the_reason_and_the_hint if {
	config := object.union(shipped_readwrite, {"clusters": {"prod-eu": {"mode": "readonly"}}})
	authz.decision == needs_approval(staging_rule, [staging_requirement])
		with input as call_in("restart_deployment", "staging")
		with policy_data as config
	authz.decision == with_hints(
		denied([`writes are disabled: the policy mode on cluster "prod-eu" is "readonly"`]),
		{"writes": [
			"group:sre may call restart_deployment in staging",
			`writes need "mode": "readwrite" in the policy data (data.mcp.config.clusters["prod-eu"].mode)`,
		]},
	)
		with input as call_on("prod-eu", "restart_deployment", "staging")
		with policy_data as config
}

test_fail_a_cluster_entry_replaces_grants_and_the_reason_names_them if {
	config := with_west({"mode": "readwrite", "grants": [{"who": "group:oncall", "tools": ["*"], "namespaces": ["*"]}]})
	reason := sprintf(not_granted_text, [
		`data.mcp.config.clusters["west"].grants`,
		`"alice"`, `"restart_deployment"`, `"staging"`,
	])
	without_hints(authz.decision) == denied([reason])
		with input as call_on("west", "restart_deployment", "staging")
		with policy_data as config
}

test_success_a_cluster_entry_merges_objects_key_by_key if {
	# west asks two approvals in staging; the rest of the staging rule is the top level's
	config := with_west({"mode": "readwrite", "approval": {"namespaces": {"staging": {"count": 2}}}})
	two := object.union(staging_rule, {"count": 2})
	authz.decision == needs_approval(two, [
		"approval required: 2 approvals from group:sre (accepted kinds: review, user_confirmation)",
	])
		with input as call_on("west", "restart_deployment", "staging")
		with policy_data as config
}

test_fail_a_malformed_or_nested_cluster_entry_adds_nothing if {
	every entry in [
		"readwrite",
		["mode", "readwrite"],
		{"clusters": {"west": {"mode": "readwrite"}}},
	] {
		without_hints(authz.decision) == denied([`writes are disabled: the policy mode is "readonly"`])
			with input as call_on("west", "restart_deployment", "staging")
			with policy_data as with_west(entry)
	}
	without_hints(authz.decision) == denied([`writes are disabled: the policy mode is "readonly"`])
		with input as call_on("west", "restart_deployment", "staging")
		with policy_data as object.union(policy_data, {"clusters": ["west"]})
}

test_success_the_floor_holds_on_every_cluster if {
	config := with_west({"mode": "readwrite", "grants": [open_grant], "namespaces": ["*"]})

	# a write still needs its approval
	authz.decision == needs_approval(default_rule, [default_requirement])
		with input as call_on("west", "restart_deployment", "prod")
		with policy_data as config

	# no Secrets, and no namespace that is not a name
	secrets := {"action": {"resource": "secrets", "namespace": "prod"}, "gateway": {"cluster": "west"}}
	without_hints(authz.decision) == denied(["secrets are never read through the gateway"])
		with input as call("list_pods", secrets)
		with policy_data as config
	without_hints(authz.decision) == denied([`namespace "../prod" is not a valid namespace name`])
		with input as call_on("west", "list_pods", "../prod")
		with policy_data as config
}

test_success_permissions_follow_the_cluster if {
	readonly := authz.permissions with input as permissions_call with policy_data as west_writes
	readonly.mode == "readonly"
	west := authz.permissions
		with input as object.union(permissions_call, {"gateway": {"cluster": "west"}})
		with policy_data as west_writes
	west.mode == "readwrite"
	[write.tool | some write in west.writes; write.namespace == "staging"] == ["restart_deployment", "scale_deployment"]
}

test_success_listing_shows_a_tool_allowed_on_any_listed_cluster if {
	authz.visible_tools == reads with input as listing with policy_data as west_writes
	authz.visible_tools == everything
		with input as listing_with({"clusters": ["kind-dev", "west"]})
		with policy_data as west_writes
	authz.visible_tools == reads
		with input as listing_with({"clusters": ["kind-dev", 7, {"name": "west"}]})
		with policy_data as west_writes
	authz.visible_tools == reads
		with input as listing_with({"clusters": "west"})
		with policy_data as west_writes
}
