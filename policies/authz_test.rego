# Tests of authz.rego: the decision document for reads, the read-only and namespace rules, the
# cluster-scoped rule, obligations, and inputs that break the contract. The fixtures at the top
# (inputs shaped like the README's policy contract, the expected documents) are shared by every test file of
# this package. Approval tests: approval_test.rego; tools/list: visible_tools_test.rego.
package mcp.authz_test

import rego.v1

import data.mcp.authz

# policies/data.json, overridden per test with `with policy_data as`; Regal does not read data files
import data.mcp.config as policy_data

# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------

# 2026-11-24T21:30:00Z, the clock of every test that reads it
now_ns := 1795555800000000000

# the policy data of policies/data.json, with writes enabled
# the policy data of policies/data.json, with writes enabled and granted to every caller everywhere
# (grants_test.rego tests the shipped grants)
readwrite_config := object.union(policy_data, {"mode": "readwrite", "grants": [open_grant]})

open_grant := {"who": "*", "tools": ["*"], "namespaces": ["*"]}

no_approval := {"required": false, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []}

obligations := {"max_log_lines": 500, "dry_run": false}

allowed := {"allow": true, "reasons": [], "approval": no_approval, "obligations": obligations}

# `decision` without its hints: tests of the other rules leave them out, guidance_test.rego tests them
without_hints(decision) := object.remove(decision, ["hints"])

denied(reasons) := {"allow": false, "reasons": reasons, "approval": no_approval, "obligations": obligations}

actions := {
	"list_namespaces": {
		"verb": "list", "group": "", "resource": "namespaces", "subresource": "",
		"namespace": null, "name": null, "cluster_scoped": true, "write": false,
	},
	"get_node_status": {
		"verb": "get", "group": "", "resource": "nodes", "subresource": "",
		"namespace": null, "name": "node-1", "cluster_scoped": true, "write": false,
	},
	"list_pods": {
		"verb": "list", "group": "", "resource": "pods", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"get_pod_logs": {
		"verb": "get", "group": "", "resource": "pods", "subresource": "log",
		"namespace": "staging", "name": "web-1", "cluster_scoped": false, "write": false,
	},
	"describe_pod": {
		"verb": "get", "group": "", "resource": "pods", "subresource": "",
		"namespace": "default", "name": "web-1", "cluster_scoped": false, "write": false,
	},
	"list_deployments": {
		"verb": "list", "group": "apps", "resource": "deployments", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"describe_deployment": {
		"verb": "get", "group": "apps", "resource": "deployments", "subresource": "",
		"namespace": "default", "name": "web", "cluster_scoped": false, "write": false,
	},
	"list_events": {
		"verb": "list", "group": "", "resource": "events", "subresource": "",
		"namespace": "default", "name": null, "cluster_scoped": false, "write": false,
	},
	"restart_deployment": {
		"verb": "patch", "group": "apps", "resource": "deployments", "subresource": "",
		"namespace": "default", "name": "web", "cluster_scoped": false, "write": true,
	},
	"scale_deployment": {
		"verb": "patch", "group": "apps", "resource": "deployments", "subresource": "scale",
		"namespace": "default", "name": "web", "cluster_scoped": false, "write": true,
	},
	"get_approval": {
		"verb": "get", "group": "k8s-mcp-gateway", "resource": "approvals", "subresource": "",
		"namespace": null, "name": "apr-1", "cluster_scoped": true, "write": false,
	},
	"list_my_approvals": {
		"verb": "list", "group": "k8s-mcp-gateway", "resource": "approvals", "subresource": "",
		"namespace": null, "name": null, "cluster_scoped": true, "write": false,
	},
}

base_input := {
	"version": 1,
	"request": {"id": "0b8f4f0e-5a3c-4c1e-9d2a-1f7f5e6a7b8c", "time": "2026-11-24T21:30:00Z", "transport": "http"},
	"principal": {
		"sub": "alice", "groups": ["sre"], "authenticated": true,
		"client": {"name": "claude-ai", "version": "0.1.0"},
	},
	"arguments": {},
	"gateway": {
		"mode": "readwrite", "dry_run": false, "cluster": "kind-dev",
		"clusters": ["kind-dev"], "namespaces": null,
	},
	"action_digest": "sha256:9c1e0000000000000000000000000000000000000000000000000000000000aa",
	"approval": null,
}

# every tool's action: the ones above and those of resources_test.rego
catalog_actions := object.union(actions, resource_actions)

# the input of a call to `tool`, with `patch` merged over it (object.union: nested keys replace)
call(tool, patch) := object.union_n([base_input, {"tool": {"name": tool}, "action": catalog_actions[tool]}, patch])

# `document` with its `key` set to `value` (not merged into the old value)
set_key(document, key, value) := object.union(object.remove(document, [key]), {key: value})

# the input of a call to `tool` on `namespace`
call_in(tool, namespace) := call(tool, {"action": {"namespace": namespace}})

# ---------------------------------------------------------------------------------------------
# Reads: every shape of the catalog's read tools
# ---------------------------------------------------------------------------------------------

test_success_list_pods if {
	authz.decision == allowed with input as call("list_pods", {})
}

test_success_get_pod_logs_subresource if {
	authz.decision == allowed with input as call("get_pod_logs", {})
}

test_success_describe_pod_named_get if {
	authz.decision == allowed with input as call("describe_pod", {})
}

test_success_other_namespaced_reads if {
	every tool in ["list_deployments", "describe_deployment", "list_events"] {
		authz.decision == allowed with input as call(tool, {})
	}
}

test_success_cluster_scoped_list_namespaces if {
	authz.decision == object.union(allowed, {"hints": {"namespaces": ["default", "staging"]}})
		with input as call("list_namespaces", {})
}

test_success_cluster_scoped_get_node if {
	authz.decision == allowed with input as call("get_node_status", {})
}

test_success_read_in_readonly_gateway if {
	authz.decision == allowed with input as call("list_pods", {"gateway": {"mode": "readonly"}})
}

# ---------------------------------------------------------------------------------------------
# Rule 1: read-only by default, the stricter of policy and gateway wins
# ---------------------------------------------------------------------------------------------

test_fail_write_policy_readonly if {
	without_hints(authz.decision) == denied([`writes are disabled: the policy mode is "readonly"`])
		with input as call_in("restart_deployment", "staging")
}

test_fail_write_gateway_readonly if {
	without_hints(authz.decision) == denied([`writes are disabled: the gateway runs in "readonly" mode`])
		with input as call("restart_deployment", {"gateway": {"mode": "readonly"}})
		with policy_data as readwrite_config
}

test_fail_write_both_readonly if {
	without_hints(authz.decision) == denied([
		`writes are disabled: the gateway runs in "readonly" mode`,
		`writes are disabled: the policy mode is "readonly"`,
	]) with input as call("scale_deployment", {"action": {"namespace": "staging"}, "gateway": {"mode": "readonly"}})
}

test_fail_write_gateway_mode_missing_or_unknown if {
	reasons := [`writes are disabled: the gateway runs in "readonly" mode`]
	every gateway in [{}, {"mode": "READWRITE"}, {"mode": true}] {
		without_hints(authz.decision) == denied(reasons)
			with input as set_key(call("restart_deployment", {}), "gateway", gateway)
			with policy_data as readwrite_config
	}
}

test_fail_write_policy_mode_missing_or_unknown if {
	reasons := [`writes are disabled: the policy mode is "readonly"`]
	every config in [object.remove(policy_data, ["mode"]), object.union(policy_data, {"mode": "rw"})] {
		without_hints(authz.decision) == denied(reasons)
			with input as call_in("restart_deployment", "staging")
			with policy_data as config
	}
}

# ---------------------------------------------------------------------------------------------
# Rule 2: namespace allowlist, exact and case-sensitive
# ---------------------------------------------------------------------------------------------

test_fail_namespace_not_in_allowlist if {
	without_hints(authz.decision) == denied([`namespace "prod" is not in the allowlist`])
		with input as call_in("list_pods", "prod")
}

test_fail_namespace_spellings_are_not_normalised if {
	cases := {
		"Prod": [`namespace "Prod" is not a valid namespace name`, `namespace "Prod" is not in the allowlist`],
		"prod ": [`namespace "prod " is not a valid namespace name`, `namespace "prod " is not in the allowlist`],
		"prod\u0000": [
			`namespace "prod\u0000" is not a valid namespace name`,
			`namespace "prod\u0000" is not in the allowlist`,
		],
		"../prod": [`namespace "../prod" is not a valid namespace name`, `namespace "../prod" is not in the allowlist`],
		"Default": [`namespace "Default" is not a valid namespace name`, `namespace "Default" is not in the allowlist`],
		"default\n": [
			`namespace "default\n" is not a valid namespace name`,
			`namespace "default\n" is not in the allowlist`,
		],
	}
	every namespace, reasons in cases {
		without_hints(authz.decision) == denied(reasons) with input as call_in("get_pod_logs", namespace)
	}
}

test_fail_namespaced_action_without_namespace if {
	reasons := ["the action is namespaced but names no namespace"]
	every namespace in ["", null, 7, ["default"]] {
		authz.decision == denied(reasons) with input as call_in("list_pods", namespace)
	}
	missing := json.remove(call("list_pods", {}), ["action/namespace"])
	authz.decision == denied(reasons) with input as missing
}

test_fail_namespace_not_in_gateway_allowlist if {
	without_hints(authz.decision) == denied([`namespace "staging" is not in the gateway's allowlist`])
		with input as call("get_pod_logs", {"gateway": {"namespaces": ["default"]}})
}

test_success_namespace_in_both_allowlists if {
	authz.decision == allowed with input as call("get_pod_logs", {"gateway": {"namespaces": ["default", "staging"]}})
}

test_fail_gateway_allowlist_cannot_widen_the_policy if {
	without_hints(authz.decision) == denied([`namespace "prod" is not in the allowlist`])
		with input as call("list_pods", {"action": {"namespace": "prod"}, "gateway": {"namespaces": ["prod"]}})
}

test_fail_gateway_allowlist_empty_or_malformed if {
	reasons := [`namespace "default" is not in the gateway's allowlist`]
	every namespaces in [[], "default", {"default": true}] {
		without_hints(authz.decision) == denied(reasons)
			with input as call("list_pods", {"gateway": {"namespaces": namespaces}})
	}
}

test_fail_gateway_allowlist_has_no_wildcard if {
	without_hints(authz.decision) == denied([`namespace "default" is not in the gateway's allowlist`])
		with input as call("list_pods", {"gateway": {"namespaces": ["*"]}})
}

test_success_wildcard_in_policy_data if {
	config := object.union(policy_data, {"namespaces": ["*"]})
	every namespace in ["prod", "kube-system", "a"] {
		authz.decision == allowed with input as call_in("list_pods", namespace) with policy_data as config
	}
}

test_fail_wildcard_still_needs_a_valid_name if {
	config := object.union(policy_data, {"namespaces": ["*"]})
	without_hints(authz.decision) == denied([`namespace "../prod" is not a valid namespace name`])
		with input as call_in("list_pods", "../prod")
		with policy_data as config
	too_long := concat("", ["a" | some _ in numbers.range(1, 64)])
	without_hints(authz.decision) == denied([sprintf("namespace %q is not a valid namespace name", [too_long])])
		with input as call_in("list_pods", too_long)
		with policy_data as config
}

test_fail_wildcard_in_policy_with_gateway_allowlist if {
	config := object.union(policy_data, {"namespaces": ["*"]})
	without_hints(authz.decision) == denied([`namespace "prod" is not in the gateway's allowlist`])
		with input as call("list_pods", {"action": {"namespace": "prod"}, "gateway": {"namespaces": ["default"]}})
		with policy_data as config
}

test_fail_empty_or_missing_policy_allowlist if {
	every config in [object.union(policy_data, {"namespaces": []}), object.remove(policy_data, ["namespaces"])] {
		without_hints(authz.decision) == denied([`namespace "default" is not in the allowlist`])
			with input as call("list_pods", {})
			with policy_data as config
	}
}

# ---------------------------------------------------------------------------------------------
# Cluster-scoped actions: reads of listed resources only, never writes
# ---------------------------------------------------------------------------------------------

test_fail_cluster_read_not_listed if {
	storage_classes := {"group": "storage.k8s.io", "resource": "storageclasses", "name": null, "verb": "list"}
	authz.decision == denied([`cluster-scoped resource "storageclasses" is not in the cluster read allowlist`])
		with input as call("get_node_status", {"action": storage_classes})
}

test_fail_cluster_read_without_cluster_reads_data if {
	authz.decision == denied([`cluster-scoped resource "nodes" is not in the cluster read allowlist`])
		with input as call("get_node_status", {})
		with policy_data as object.remove(policy_data, ["cluster_reads"])
}

test_fail_cluster_scoped_write_not_listed if {
	cordon := {"verb": "patch", "write": true}
	unlisted := `cluster-scoped resource "nodes" is not in the cluster write allowlist`
	without_hints(authz.decision) == denied([unlisted])
		with input as call("get_node_status", {"action": cordon})
		with policy_data as object.remove(readwrite_config, ["cluster_writes"])
	without_hints(authz.decision) == denied([unlisted, `writes are disabled: the policy mode is "readonly"`])
		with input as call("get_node_status", {"action": cordon})
		with policy_data as object.remove(policy_data, ["cluster_writes"])
}

# ---------------------------------------------------------------------------------------------
# Obligations
# ---------------------------------------------------------------------------------------------

test_success_obligations_from_data if {
	config := object.union(policy_data, {"dry_run": true, "obligations": {"max_log_lines": 200}})
	authz.decision == object.union(allowed, {"obligations": {"max_log_lines": 200, "dry_run": true}})
		with input as call("get_pod_logs", {})
		with policy_data as config
}

test_success_gateway_dry_run_adds_to_the_policy if {
	authz.decision == object.union(allowed, {"obligations": {"max_log_lines": 500, "dry_run": true}})
		with input as call("get_pod_logs", {"gateway": {"dry_run": true}})
}

test_success_obligations_fall_back_to_defaults if {
	every config in [
		object.remove(policy_data, ["obligations", "dry_run"]),
		object.union(policy_data, {"dry_run": "yes", "obligations": {"max_log_lines": 2.5}}),
		object.union(policy_data, {"obligations": {"max_log_lines": -1}}),
	] {
		authz.decision == allowed with input as call("get_pod_logs", {}) with policy_data as config
	}
}

test_fail_denied_decision_still_carries_obligations if {
	config := object.union(policy_data, {"obligations": {"max_log_lines": 50}})
	expected := object.union(denied([`namespace "prod" is not in the allowlist`]), {"obligations": {"max_log_lines": 50}})
	without_hints(authz.decision) == expected with input as call_in("list_pods", "prod") with policy_data as config
}

# ---------------------------------------------------------------------------------------------
# Who calls: a caller without a verified credential only on stdio, unless the data admits them
# ---------------------------------------------------------------------------------------------

unauthenticated := "the caller is not authenticated, and unauthenticated callers are admitted on stdio only"

# the input of a call to `tool` by `system:anonymous` over `transport`
anonymous_call(tool, transport) := call(tool, {
	"request": {"transport": transport},
	"principal": {"sub": "system:anonymous", "groups": [], "authenticated": false},
})

test_fail_unauthenticated_http_caller if {
	every tool in ["list_pods", "list_namespaces", "get_pod_logs"] {
		authz.decision == denied([unauthenticated]) with input as anonymous_call(tool, "http")
	}
}

test_fail_authenticated_must_be_exactly_true if {
	every flag in ["true", 1, null, {}] {
		authz.decision == denied([unauthenticated]) with input as call("list_pods", {"principal": {"authenticated": flag}})
	}
	authz.decision == denied([unauthenticated])
		with input as json.remove(call("list_pods", {}), ["principal/authenticated"])
}

test_fail_unauthenticated_caller_on_an_unnamed_transport if {
	every transport in ["HTTP", "", null, "sse"] {
		authz.decision == denied([unauthenticated]) with input as anonymous_call("list_pods", transport)
	}
	authz.decision == denied([unauthenticated])
		with input as json.remove(anonymous_call("list_pods", "stdio"), ["request/transport"])
}

test_success_unauthenticated_stdio_caller if {
	local := call("list_pods", {"request": {"transport": "stdio"}, "principal": {"sub": "bob", "authenticated": false}})
	authz.decision == allowed with input as local
}

test_success_unauthenticated_http_caller_admitted_by_the_data if {
	config := object.union(policy_data, {"allow_unauthenticated_http": true})
	authz.decision == allowed with input as anonymous_call("list_pods", "http") with policy_data as config
}

test_fail_unauthenticated_http_admission_must_be_exactly_true if {
	every admitted in ["true", 1, "yes"] {
		config := object.union(policy_data, {"allow_unauthenticated_http": admitted})
		authz.decision == denied([unauthenticated])
			with input as anonymous_call("list_pods", "http")
			with policy_data as config
	}
}

test_fail_admitted_unauthenticated_caller_still_meets_the_rules if {
	config := object.union(policy_data, {"allow_unauthenticated_http": true})
	without_hints(authz.decision) == denied([`namespace "prod" is not in the allowlist`])
		with input as object.union(anonymous_call("list_pods", "http"), {"action": {"namespace": "prod"}})
		with policy_data as config
}

# ---------------------------------------------------------------------------------------------
# Inputs that break the contract: always a fully typed deny
# ---------------------------------------------------------------------------------------------

test_fail_empty_input if {
	authz.decision == denied([
		unauthenticated,
		"the input has no action (input.action must be an object)",
		"the input is not a version 1 policy input (input.version must be 1)",
		"the input names no caller (input.principal.sub must be a non-empty string)",
	]) with input as {}
}

test_fail_input_not_an_object if {
	every value in ["garbage", 1, [], null] {
		authz.decision == denied([
			unauthenticated,
			"the input has no action (input.action must be an object)",
			"the input is not a version 1 policy input (input.version must be 1)",
			"the input names no caller (input.principal.sub must be a non-empty string)",
		]) with input as value
	}
}

test_fail_wrong_or_missing_version if {
	reasons := ["the input is not a version 1 policy input (input.version must be 1)"]
	every version in [2, 0, "1", null] {
		authz.decision == denied(reasons) with input as call("list_pods", {"version": version})
	}
	authz.decision == denied(reasons) with input as object.remove(call("list_pods", {}), ["version"])
}

test_fail_action_missing_or_not_an_object if {
	reasons := ["the input has no action (input.action must be an object)"]
	authz.decision == denied(reasons) with input as object.remove(call("list_pods", {}), ["action"])
	every action in [null, "list pods", ["list", "pods"]] {
		authz.decision == denied(reasons) with input as set_key(call("list_pods", {}), "action", action)
	}
}

test_fail_empty_action if {
	authz.decision == denied([
		"action.cluster_scoped must be true or false",
		"action.resource must be a non-empty string",
		"action.write must be true or false",
	]) with input as set_key(call("list_pods", {}), "action", {})
}

test_fail_action_fields_with_wrong_types if {
	authz.decision == denied([
		"action.cluster_scoped must be true or false",
		"action.resource must be a non-empty string",
		"action.write must be true or false",
	]) with input as call("list_pods", {"action": {"write": "false", "cluster_scoped": 0, "resource": ""}})
}

test_fail_write_verb_on_a_read if {
	authz.decision == denied([`action.verb "delete" is not a read verb, but action.write is false`])
		with input as call("list_pods", {"action": {"verb": "delete"}})
	authz.decision == denied(["action.verb null is not a read verb, but action.write is false"])
		with input as json.remove(call("list_pods", {}), ["action/verb"])
}

test_fail_principal_without_sub if {
	reasons := ["the input names no caller (input.principal.sub must be a non-empty string)"]
	every principal in [{"sub": ""}, {"sub": null}, {"sub": 42}] {
		authz.decision == denied(reasons) with input as call("list_pods", {"principal": principal})
	}
	authz.decision == denied(reasons) with input as json.remove(call("list_pods", {}), ["principal/sub"])
	authz.decision == denied([unauthenticated, reasons[0]])
		with input as object.remove(call("list_pods", {}), ["principal"])
}

test_fail_policy_data_missing_or_malformed if {
	every config in [{}, null, "readwrite", ["default"]] {
		without_hints(authz.decision) == denied([`namespace "default" is not in the allowlist`])
			with input as call("list_pods", {})
			with policy_data as config
	}
}
