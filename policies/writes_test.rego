# Tests of the writes beyond restart and scale (rollout_undo, delete_pod, cordon_node,
# uncordon_node).
# A namespaced write follows the namespace rules; a node write is cluster-scoped, so no
# namespace allowlist can admit it: only data.mcp.config.cluster_writes does, and its approval is
# the default rule's (a review by group:sre-leads), never staging's confirmation by the user.
# Fixtures: authz_test.rego and approval_test.rego.
package mcp.authz_test

import rego.v1

import data.mcp.authz

import data.mcp.config as policy_data

write_actions := {
	"rollout_undo": {
		"verb": "patch", "group": "apps", "resource": "deployments", "subresource": "",
		"namespace": "default", "name": "checkout", "cluster_scoped": false, "write": true,
	},
	"delete_pod": {
		"verb": "delete", "group": "", "resource": "pods", "subresource": "",
		"namespace": "default", "name": "web-1", "cluster_scoped": false, "write": true,
	},
	"cordon_node": {
		"verb": "patch", "group": "", "resource": "nodes", "subresource": "",
		"namespace": null, "name": "node-1", "cluster_scoped": true, "write": true,
	},
	"uncordon_node": {
		"verb": "patch", "group": "", "resource": "nodes", "subresource": "",
		"namespace": null, "name": "node-1", "cluster_scoped": true, "write": true,
	},
}

node_writes := ["cordon_node", "uncordon_node"]

# the input of a call to one of the writes above, with `patch` merged over it
write_call(tool, patch) := object.union_n([base_input, {"tool": {"name": tool}, "action": write_actions[tool]}, patch])

# ---------------------------------------------------------------------------------------------
# Namespaced writes: rollout_undo and delete_pod
# ---------------------------------------------------------------------------------------------

test_fail_namespaced_writes_need_the_namespace_approval if {
	every tool in ["rollout_undo", "delete_pod"] {
		authz.decision == needs_approval(default_rule, [default_requirement])
			with input as write_call(tool, {})
			with policy_data as readwrite_config
		authz.decision == needs_approval(staging_rule, [staging_requirement])
			with input as write_call(tool, {"action": {"namespace": "staging"}})
			with policy_data as readwrite_config
	}
}

test_success_namespaced_writes_with_a_valid_review if {
	every tool in ["rollout_undo", "delete_pod"] {
		authz.decision == allowed
			with input as write_call(tool, {"approval": review})
			with policy_data as readwrite_config
			with time.now_ns as now_ns
	}
}

test_fail_namespaced_writes_outside_the_allowlist if {
	every tool in ["rollout_undo", "delete_pod"] {
		without_hints(authz.decision) == denied([`namespace "prod" is not in the allowlist`])
			with input as write_call(tool, {"action": {"namespace": "prod"}})
			with policy_data as readwrite_config
	}
}

test_fail_writes_under_the_shipped_readonly_mode if {
	every tool, _ in write_actions {
		without_hints(authz.decision) == denied([`writes are disabled: the policy mode is "readonly"`])
			with input as write_call(tool, {})
			with policy_data as object.union(policy_data, {"grants": [open_grant]})
	}
}

# ---------------------------------------------------------------------------------------------
# Node writes: cluster-scoped, listed in cluster_writes, approved by a review only
# ---------------------------------------------------------------------------------------------

test_success_shipped_data_lists_node_writes if {
	policy_data.cluster_writes == ["nodes"]
}

test_fail_node_writes_need_the_default_review if {
	every tool in node_writes {
		authz.decision == needs_approval(default_rule, [default_requirement])
			with input as write_call(tool, {})
			with policy_data as readwrite_config
	}
}

test_fail_node_writes_ignore_namespace_rules if {
	# a staging rule that needs no approval, and an allowlist without any namespace, change nothing
	config := object.union(readwrite_config, {
		"namespaces": [],
		"approval": {"namespaces": {"staging": {"required": false}}},
	})
	authz.decision == needs_approval(default_rule, [default_requirement])
		with input as write_call("cordon_node", {"gateway": {"namespaces": ["staging"]}})
		with policy_data as config
}

test_success_node_write_with_a_review_by_sre_leads if {
	every tool in node_writes {
		authz.decision == allowed
			with input as write_call(tool, {"approval": review})
			with policy_data as readwrite_config
			with time.now_ns as now_ns
	}
}

test_fail_node_write_confirmed_by_the_user if {
	confirmed := object.union(review, {"kind": "user_confirmation", "approved_by": [{"sub": "alice", "groups": []}]})
	decision := authz.decision with input as write_call("cordon_node", {"approval": confirmed})
		with policy_data as readwrite_config
		with time.now_ns as now_ns
	decision.allow == false
	decision.approval == default_rule
}

test_fail_node_write_not_listed if {
	config := object.union(readwrite_config, {"cluster_writes": ["persistentvolumes"]})
	authz.decision == denied([`cluster-scoped resource "nodes" is not in the cluster write allowlist`])
		with input as write_call("uncordon_node", {})
		with policy_data as config
}

test_fail_cluster_writes_malformed_is_empty if {
	config := object.union(readwrite_config, {"cluster_writes": "nodes"})
	authz.decision == denied([`cluster-scoped resource "nodes" is not in the cluster write allowlist`])
		with input as write_call("cordon_node", {})
		with policy_data as config
}

test_success_listed_node_writes_are_shown if {
	node_catalog := [{"tool": {"name": tool}, "action": object.union(write_actions[tool], {"name": null})} |
		some tool in node_writes
	]
	authz.visible_tools == sort(array.concat(everything, node_writes))
		with input as object.union(listing, {"catalog": array.concat(catalog, node_catalog)})
		with policy_data as readwrite_config
	authz.visible_tools == reads
		with input as object.union(listing, {"catalog": array.concat(catalog, node_catalog)})
}
