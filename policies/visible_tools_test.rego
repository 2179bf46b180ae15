# Tests of visible_tools (authz.rego): which tools tools/list shows for the listing input of
# the README's policy contract. Fixtures (actions, policy data): authz_test.rego.
package mcp.authz_test

import rego.v1

import data.mcp.authz

import data.mcp.config as policy_data

# the catalog as the gateway sends it: every action with namespace and name null
catalog := [{"tool": {"name": name}, "action": object.union(action, {"namespace": null, "name": null})} |
	some name, action in catalog_actions
]

listing := {
	"version": 1,
	"request": base_input.request,
	"principal": base_input.principal,
	"gateway": base_input.gateway,
	"catalog": catalog,
}

# `listing` with `gateway` merged over its gateway state
listing_with(gateway) := object.union(listing, {"gateway": gateway})

# the approval tools read the gateway's own requests: shown whatever the Kubernetes allowlists say
approval_reads := ["get_approval", "list_my_approvals"]

cluster_reads := sort(array.concat(["get_node_status", "list_namespaces"], approval_reads))

namespaced_reads := array.concat(
	["describe_deployment", "describe_pod", "get_pod_logs", "list_deployments", "list_events", "list_pods"],
	resource_reads,
)

# the reads the shipped policy data shows: persistent volumes are not in its cluster reads
reads := sort(array.concat(cluster_reads, namespaced_reads))

everything := sort(array.concat(reads, ["restart_deployment", "scale_deployment"]))

test_success_readonly_policy_shows_reads_only if {
	authz.visible_tools == reads with input as listing
}

test_success_readwrite_shows_writes_needing_approval if {
	authz.visible_tools == everything with input as listing with policy_data as readwrite_config
}

test_success_readonly_gateway_hides_writes if {
	authz.visible_tools == reads
		with input as listing_with({"mode": "readonly"})
		with policy_data as readwrite_config
}

test_success_gateway_allowlist_overlapping_the_policy if {
	authz.visible_tools == everything
		with input as listing_with({"namespaces": ["prod", "staging"]})
		with policy_data as readwrite_config
}

test_success_gateway_allowlist_disjoint_from_the_policy if {
	every namespaces in [["prod"], [], ["Default"], "default"] {
		authz.visible_tools == cluster_reads
			with input as listing_with({"namespaces": namespaces})
			with policy_data as readwrite_config
	}
}

test_success_empty_policy_allowlist_shows_cluster_reads_only if {
	every config in [object.union(policy_data, {"namespaces": []}), object.remove(policy_data, ["namespaces"])] {
		authz.visible_tools == cluster_reads with input as listing with policy_data as config
	}
}

test_success_policy_allowlist_of_invalid_names_reaches_nothing if {
	config := object.union(policy_data, {"namespaces": ["Prod", "../prod", "", null, 7]})
	authz.visible_tools == cluster_reads with input as listing with policy_data as config
}

test_success_wildcard_policy_allowlist if {
	config := object.union(policy_data, {"namespaces": ["*"]})
	authz.visible_tools == reads with input as listing with policy_data as config
	authz.visible_tools == reads with input as listing_with({"namespaces": ["prod"]}) with policy_data as config
	authz.visible_tools == cluster_reads with input as listing_with({"namespaces": []}) with policy_data as config
}

test_success_cluster_reads_from_data if {
	config := object.union(policy_data, {"cluster_reads": ["nodes"]})
	authz.visible_tools == [name | some name in reads; name != "list_namespaces"]
		with input as listing
		with policy_data as config
}

test_success_cluster_scoped_write_not_listed_is_hidden if {
	cordon_action := object.union(actions.get_node_status, {"verb": "patch", "write": true})
	cordon := {"tool": {"name": "cordon_node"}, "action": cordon_action}
	authz.visible_tools == everything
		with input as object.union(listing, {"catalog": array.concat(catalog, [cordon])})
		with policy_data as object.remove(readwrite_config, ["cluster_writes"])
}

test_success_malformed_catalog_entries_are_hidden if {
	broken := [
		{"tool": {"name": "no_action"}},
		{"tool": {"name": "bad_write"}, "action": object.union(actions.list_pods, {"write": "no"})},
		{"tool": {"name": "bad_scope"}, "action": object.union(actions.list_pods, {"cluster_scoped": null})},
		{"tool": {"name": "no_resource"}, "action": object.remove(actions.list_pods, ["resource"])},
		{"tool": {"name": "read_verb_mismatch"}, "action": object.union(actions.list_pods, {"verb": "delete"})},
		{"tool": {"name": 42}, "action": actions.list_pods},
		"list_pods",
	]
	authz.visible_tools == reads with input as object.union(listing, {"catalog": array.concat(catalog, broken)})
}

test_fail_listing_input_breaking_the_contract if {
	every listing_input in [
		{},
		"garbage",
		object.union(listing, {"version": 2}),
		object.remove(listing, ["version"]),
		object.union(listing, {"principal": {"sub": ""}}),
		object.remove(listing, ["principal"]),
		object.remove(listing, ["catalog"]),
		object.union(listing, {"catalog": {"list_pods": actions.list_pods}}),
	] {
		authz.visible_tools == [] with input as listing_input
	}
}

test_success_persistent_volume_reads_shown_when_listed if {
	config := object.union(policy_data, {"cluster_reads": ["namespaces", "nodes", "persistentvolumes"]})
	authz.visible_tools == sort(array.concat(reads, pv_reads)) with input as listing with policy_data as config
	only_volumes := object.union(policy_data, {"namespaces": [], "cluster_reads": ["persistentvolumes"]})
	authz.visible_tools == sort(array.concat(approval_reads, pv_reads))
		with input as listing
		with policy_data as only_volumes
}

# every visible tool is one that the decision allows, or allows after an approval, somewhere
test_success_visible_tools_agree_with_decision if {
	visible := authz.visible_tools with input as listing with policy_data as readwrite_config

	# get_approval names a request: the caller's own, as the gateway sends it in input.approval
	own := {"approval": {"requested_by": base_input.principal.sub}}
	every name, _ in catalog_actions {
		decision := authz.decision with input as call(name, own) with policy_data as readwrite_config
		shown := name in visible
		runnable := true in {decision.allow, decision.approval.required}
		shown == runnable
	}
}

test_success_unauthenticated_http_caller_sees_nothing if {
	anonymous := object.union(listing, {"principal": {"sub": "system:anonymous", "authenticated": false}})
	authz.visible_tools == [] with input as anonymous
	authz.visible_tools == [] with input as json.remove(listing, ["principal/authenticated"])
}

test_success_unauthenticated_caller_admitted_on_stdio_or_by_the_data if {
	anonymous := object.union(listing, {"principal": {"sub": "system:anonymous", "authenticated": false}})
	authz.visible_tools == reads with input as object.union(anonymous, {"request": {"transport": "stdio"}})
	config := object.union(policy_data, {"allow_unauthenticated_http": true})
	authz.visible_tools == reads with input as anonymous with policy_data as config
}
